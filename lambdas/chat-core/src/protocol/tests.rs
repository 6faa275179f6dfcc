use serde_json::json;

use super::*;

fn refused(route: &str, body: &str) -> String {
    match read_frame(route, body) {
        Frame::Action(_, Err(reason)) => reason,
        other => panic!("{body} on {route}: expected a refusal, got {other:?}"),
    }
}

fn request(route: &str, body: &str) -> Request {
    match read_frame(route, body) {
        Frame::Action(_, Ok(request)) => request,
        other => panic!("{body} on {route}: expected a request, got {other:?}"),
    }
}

/// A count read at 9 ms.
fn c(online: u64) -> Option<Count> {
    Some(Count { online, at_us: 9_000 })
}

fn alice() -> Connection {
    Connection {
        connection_id: "L0SM9cOFvHcCIhw=".into(),
        name: "alice".into(),
        sub: None,
        format: Format::Compat,
        room: None,
        connected_at: 1,
        expires_at: 2,
    }
}

#[test]
fn actions_and_route_keys_agree() {
    let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(names, crate::ACTIONS);
    for action in Action::ALL {
        assert_eq!(Action::from_name(action.name()), Some(action));
    }
    assert_eq!(Action::from_name("SEND"), None, "route keys are case-sensitive");
}

#[test]
fn routed_frames_are_read_by_their_route() {
    let cases = [
        ("send", r#"{"action":"send","text":"hi"}"#, Request::Broadcast { action: Action::Send, text: "hi".into() }),
        ("sendMessage", r#"{"action":"sendMessage","message":"hi"}"#, Request::RoomMessage { message: "hi".into() }),
        (
            "sendmessage",
            r#"{"action":"sendmessage","data":"hi"}"#,
            Request::Broadcast { action: Action::SendData, text: "hi".into() },
        ),
        (
            "joinRoom",
            r#"{"action":"joinRoom","name":" bob ","roomCode":"0a1b2c3d"}"#,
            Request::JoinRoom { name: "bob".into(), room_code: "0a1b2c3d".into() },
        ),
    ];
    for (route, body, wanted) in cases {
        assert_eq!(request(route, body), wanted, "{body}");
    }
    assert_eq!(request("list", r#"{"action":"list"}"#), Request::List { cursor: None });
    assert_eq!(request("list", r#"{"action":"list","cursor":"b="}"#), Request::List { cursor: Some("b=".into()) });
    assert_eq!(
        refused("list", &json!({"action": "list", "cursor": "x".repeat(257)}).to_string()),
        "`cursor` must be the `more` of a list reply"
    );
    assert_eq!(refused("list", r#"{"action":"list","cursor":7}"#), "`cursor` on list must be a string, not a number");
}

#[test]
fn default_dispatches_known_actions_spelled_either_way() {
    assert_eq!(
        request("$default", r#"{"Action":"send","text":"hi"}"#),
        Request::Broadcast { action: Action::Send, text: "hi".into() }
    );
    // A stack without a `post` route: the frame lands on $default.
    assert_eq!(
        request("$default", r#"{"action":"post","data":"x"}"#),
        Request::Broadcast { action: Action::Post, text: "x".into() }
    );
    for body in ["hello", "", "[1,2]", "42", r#"{"action":"dance"}"#, r#"{"text":"no action"}"#, r#"{"action":7}"#] {
        assert_eq!(read_frame("$default", body), Frame::Echo, "{body}");
    }
}

#[test]
fn a_routed_frame_that_is_not_an_object_is_refused() {
    assert_eq!(refused("send", "hi"), r#"send needs a JSON object such as {"action":"send","text":"..."}"#);
}

#[test]
fn missing_fields_get_the_samples_reasons() {
    for (route, body, reason) in [
        ("send", r#"{"action":"send"}"#, "send needs a text"),
        ("send", r#"{"action":"send","text":"   "}"#, "send needs a text"),
        ("sendmessage", r#"{"action":"sendmessage","data":null}"#, "sendmessage needs data"),
        ("post", r#"{"action":"post"}"#, "post needs data"),
        ("broadcast", r#"{"action":"broadcast"}"#, "broadcast needs a message"),
        ("chat", r#"{"action":"chat","message":"Yo!"}"#, "chat needs a target connection"),
        ("chat", r#"{"action":"chat","connection":"abc="}"#, "chat needs a message"),
        ("createRoom", r#"{"action":"createRoom"}"#, "You need a name on createRoom"),
        ("joinRoom", r#"{"action":"joinRoom","roomCode":"0a1b2c3d"}"#, "You need a name on joinRoom"),
        ("joinRoom", r#"{"action":"joinRoom","name":"bob"}"#, "You need a roomCode on joinRoom"),
        ("sendMessage", r#"{"action":"sendMessage"}"#, "You need to add a message on sendMessage action"),
        ("rename", r#"{"action":"rename","name":""}"#, "rename needs a name"),
    ] {
        assert_eq!(refused(route, body), reason, "{body}");
    }
}

#[test]
fn fields_outside_the_schema_are_refused() {
    assert_eq!(refused("send", r#"{"action":"send","text":"hi","to":"bob"}"#), "unknown field `to`: send takes `text`");
    assert_eq!(refused("list", r#"{"action":"list","all":true}"#), "unknown field `all`: list takes `cursor`");
    assert_eq!(
        refused("chat", r#"{"action":"chat","connectionId":"x","message":"m"}"#),
        "unknown field `connectionId`: chat takes `connection` and `message`"
    );
    assert_eq!(refused("send", r#"{"action":"send","text":5}"#), "`text` on send must be a string, not a number");
    assert_eq!(
        refused("rename", r#"{"action":"rename","name":["x"]}"#),
        "`name` on rename must be a string, not an array"
    );
}

#[test]
fn text_is_limited_to_4_kib_of_utf8() {
    let at_limit = "a".repeat(MAX_TEXT_BYTES);
    let body = json!({"action": "broadcast", "message": at_limit}).to_string();
    assert_eq!(request("broadcast", &body), Request::Broadcast { action: Action::Broadcast, text: at_limit });

    let over = "a".repeat(MAX_TEXT_BYTES + 1);
    let body = json!({"action": "broadcast", "message": over}).to_string();
    assert_eq!(refused("broadcast", &body), "message is too long: 4097 bytes; the limit is 4096");

    // 2000 characters, but 6000 bytes: the limit is on the decoded UTF-8, not on characters.
    let wide = "€".repeat(2000);
    let body = json!({"action": "send", "text": wide}).to_string();
    assert_eq!(refused("send", &body), "text is too long: 6000 bytes; the limit is 4096");

    // JSON escapes count after decoding: 4096 escaped `\u0061` are 4096 bytes.
    let escaped = format!(r#"{{"action":"send","text":"{}"}}"#, r"\u0061".repeat(MAX_TEXT_BYTES));
    assert!(matches!(request("send", &escaped), Request::Broadcast { .. }));
}

#[test]
fn names_are_checked() {
    assert_eq!(check_name("  alice "), Ok("alice".to_string()));
    assert_eq!(check_name(&"é".repeat(32)), Ok("é".repeat(32)), "32 characters, 64 bytes");
    assert_eq!(check_name(&"x".repeat(33)).unwrap_err(), "name is too long: 33 characters; the limit is 32");
    assert_eq!(check_name("al\u{7}ice").unwrap_err(), "a name cannot contain control characters");
    assert_eq!(check_name("a\nb").unwrap_err(), "a name cannot contain control characters");
    assert!(check_name("#host").unwrap_err().contains("reserved"));
    assert_eq!(
        refused("createRoom", &json!({"action":"createRoom","name":"x".repeat(40)}).to_string()),
        "name is too long: 40 characters; the limit is 32"
    );
}

#[test]
fn generated_names_and_codes_have_their_shape() {
    for _ in 0..100 {
        let name = anonymous_name();
        let suffix = name.strip_prefix("Anonymous-").expect(&name);
        assert_eq!(suffix.len(), 6, "{name}");
        assert!(suffix.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{name}");
        let code = new_room_code();
        assert!(is_room_code(&code), "{code}");
    }
    assert!(!is_room_code("0A1B2C3D"));
    assert!(!is_room_code("0a1b2c3"));
    assert!(!is_room_code("0a1b2c3g"));
}

#[test]
fn compat_frames_are_the_samples_exact_shapes() {
    let a = alice();
    assert_eq!(
        broadcast(Action::Send, &a, "hi \"there\"", 0).compat,
        r#"{"action":"message","from":"alice","text":"hi \"there\""}"#
    );
    for action in [Action::SendData, Action::Post, Action::Broadcast] {
        assert_eq!(broadcast(action, &a, "raw {text}", 0).compat, "raw {text}");
    }
    assert_eq!(direct(&a, "psst", 0).compat, "psst");
    assert_eq!(room_message(&a, "0a1b2c3d", "hi", 0).compat, r#"{"message":"hi","from":"alice"}"#);
    assert_eq!(
        room_joined(Action::JoinRoom, &a, "0a1b2c3d", 0).compat,
        r#"{"message":"You are now connected to room 0a1b2c3d","type":"info"}"#
    );
    // The count changes no compat frame.
    assert_eq!(welcome(&a, c(3), 0).compat, "Welcome! - connected on L0SM9cOFvHcCIhw=");
    assert_eq!(joined(&a, c(3), 0).compat, r##"{"action":"message","from":"#host","text":"alice joined"}"##);
    assert_eq!(left(&a, c(3), 0).compat, r##"{"action":"message","from":"#host","text":"alice left"}"##);
    assert_eq!(renamed("al", &a, c(3), 0).compat, r##"{"action":"message","from":"#host","text":"al is now alice"}"##);
    assert_eq!(compat_list(&["L0SM9cOFvHcCIhw=", "b="], None), "connections: L0SM9cOFvHcCIhw= b=");
    assert_eq!(compat_list(&["a=", "b="], Some(40)), "connections: a= b= ... and 40 more");
    assert_eq!(compat_list(&["a="], Some(0)), "connections: a= ... and more");
    assert_eq!(echo("anything").compat, "anything");
    assert_eq!(error(Some(Action::CreateRoom), "nope").compat, r#"{"message":"nope","type":"err"}"#);
}

#[test]
fn json_frames_are_envelopes_without_unused_fields() {
    let a = alice();
    assert_eq!(
        broadcast(Action::Send, &a, "hi", 1732262400000).json,
        r#"{"type":"message","action":"send","from":"alice","text":"hi","room":null,"connectionId":"L0SM9cOFvHcCIhw=","timestamp":1732262400000}"#
    );
    assert_eq!(
        room_message(&a, "0a1b2c3d", "hi", 5).json,
        r#"{"type":"message","action":"sendMessage","from":"alice","text":"hi","room":"0a1b2c3d","connectionId":"L0SM9cOFvHcCIhw=","timestamp":5}"#
    );
    assert_eq!(
        direct(&a, "psst", 5).json,
        r#"{"type":"direct","action":"chat","from":"alice","text":"psst","connectionId":"L0SM9cOFvHcCIhw=","timestamp":5}"#
    );
    assert_eq!(
        room_joined(Action::CreateRoom, &a, "0a1b2c3d", 5).json,
        r#"{"type":"info","action":"createRoom","text":"You are now connected to room 0a1b2c3d","room":"0a1b2c3d","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5}"#
    );
    assert_eq!(
        welcome(&a, c(7), 5).json,
        r#"{"type":"welcome","text":"Welcome! - connected on L0SM9cOFvHcCIhw=","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5,"count":7,"countedAt":9.0}"#
    );
    assert_eq!(
        joined(&a, c(7), 5).json,
        r##"{"type":"joined","from":"#host","text":"alice joined","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5,"count":7,"countedAt":9.0}"##
    );
    assert_eq!(
        left(&a, c(6), 5).json,
        r##"{"type":"left","from":"#host","text":"alice left","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5,"count":6,"countedAt":9.0}"##
    );
    assert_eq!(
        renamed("al", &a, c(6), 5).json,
        r##"{"type":"renamed","action":"rename","from":"#host","text":"al is now alice","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5,"count":6,"countedAt":9.0}"##
    );
    assert_eq!(
        joined(&a, None, 5).json,
        r##"{"type":"joined","from":"#host","text":"alice joined","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5}"##,
        "no count without the presence table"
    );
    assert_eq!(
        list_page(std::slice::from_ref(&a), c(1), None),
        r#"{"type":"list","action":"list","connections":[{"connectionId":"L0SM9cOFvHcCIhw=","name":"alice"}],"count":1,"countedAt":9.0}"#
    );
    assert_eq!(
        list_page(std::slice::from_ref(&a), c(900), Some("L0SM9cOFvHcCIhw=")),
        r#"{"type":"list","action":"list","connections":[{"connectionId":"L0SM9cOFvHcCIhw=","name":"alice"}],"more":"L0SM9cOFvHcCIhw=","count":900,"countedAt":9.0}"#
    );
    assert_eq!(echo("x\"y").json, r#"{"type":"echo","text":"x\"y"}"#);
    assert_eq!(
        error(Some(Action::Chat), "no connection x").json,
        r#"{"type":"error","action":"chat","error":"no connection x"}"#
    );
    assert_eq!(Payload { compat: "c".into(), json: "j".into() }.render(Format::Json), "j");
}

#[test]
fn a_list_page_is_cut_under_the_frame_limit_and_says_where_to_go_on() {
    // 32 four-byte characters: the longest name, in bytes.
    let name: String = "😀".repeat(32);
    let rows: Vec<Connection> = (0..1000)
        .map(|i| Connection { connection_id: format!("conn{i:012}="), name: name.clone(), ..alice() })
        .collect();
    let page = list_page(&rows, c(1000), None);
    assert!(page.len() < 128 * 1024, "{} bytes", page.len());
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    let kept = page["connections"].as_array().unwrap();
    assert!(kept.len() > 100 && kept.len() < 1000, "{}", kept.len());
    assert_eq!(page["more"], kept.last().unwrap()["connectionId"], "the next page starts after the last kept");
}

#[test]
fn digests_name_a_few_and_count_the_rest() {
    use crate::ports::{Digest, Member};
    let member = |n: &str| Member { connection_id: format!("{n}="), name: n.to_string() };
    let digest = |joined: &[&str], joined_count, left: &[&str], left_count| Digest {
        joined: joined.iter().map(|n| member(n)).collect(),
        left: left.iter().map(|n| member(n)).collect(),
        joined_count,
        left_count,
    };
    let text = |d: Digest| {
        let payload = crate::protocol::digest(&d, c(10), 5);
        let json: serde_json::Value = serde_json::from_str(&payload.json).unwrap();
        assert_eq!(payload.compat, host_said(json["text"].as_str().unwrap()), "compat: the seeds' #host shape");
        json["text"].as_str().unwrap().to_string()
    };
    assert_eq!(text(digest(&["Grace"], 1, &[], 0)), "Grace joined");
    assert_eq!(text(digest(&["Grace", "Ada"], 2, &[], 0)), "Grace and Ada joined");
    assert_eq!(text(digest(&["Grace", "Ada", "Bob"], 3, &[], 0)), "Grace, Ada and Bob joined");
    assert_eq!(text(digest(&["Grace", "Ada", "Bob"], 42, &["Eve"], 1)), "Grace, Ada and 40 others joined; Eve left");
    assert_eq!(text(digest(&["Grace", "Ada"], 3, &["Eve"], 2)), "Grace, Ada and 1 other joined; Eve and 1 other left");
    assert_eq!(text(digest(&[], 0, &[], 5)), "5 people left", "names that could not be noted");
    let payload = crate::protocol::digest(&digest(&["Grace"], 2, &["Eve"], 1), c(1234), 5);
    assert_eq!(
        payload.json,
        r##"{"type":"presence","from":"#host","text":"Grace and 1 other joined; Eve left","timestamp":5,"joined":[{"connectionId":"Grace=","name":"Grace"}],"left":[{"connectionId":"Eve=","name":"Eve"}],"joinedCount":2,"leftCount":1,"count":1234,"countedAt":9.0}"##
    );
}

fn host_said(text: &str) -> String {
    serde_json::json!({"action": "message", "from": "#host", "text": text}).to_string()
}

#[test]
fn names_are_nfkc_and_cannot_hide_or_pass_for_the_chat() {
    // Normalized as RFC 8266 says.
    assert_eq!(check_name(" ﬁona\u{00A0}Ｋ ").unwrap(), "fiona K");
    assert_eq!(check_name("👩\u{200D}💻 Grace").unwrap(), "👩\u{200D}💻 Grace", "an emoji's joiner is kept");
    assert_eq!(check_name("❤\u{FE0F}").unwrap(), "❤\u{FE0F}");
    assert_eq!(check_name("Zoë").unwrap(), "Zoë");
    // What passed for the chat itself before.
    let reserved = "names starting with `#` are reserved for the chat itself (#host)";
    assert_eq!(check_name("＃host").unwrap_err(), reserved, "fullwidth");
    assert_eq!(check_name("﹟host").unwrap_err(), reserved, "small");
    for (name, code) in [
        ("\u{200B}#host", "U+200B"),
        ("\u{202E}tsoh#", "U+202E"),
        ("ho\u{2066}st", "U+2066"),
        ("a\u{200D}b", "U+200D"),
        ("\u{FEFF}bob", "U+FEFF"),
        ("bob\u{E0001}", "U+E0001"),
        ("\u{3164}", "U+1160"), // NFKC makes the Hangul filler another filler
        ("x\u{FE0F}", "U+FE0F"),
        ("line\u{2028}break", "U+2028"),
        ("\u{E000}", "U+E000"),
    ] {
        let refused = check_name(name).unwrap_err();
        assert!(refused.starts_with(&format!("a name cannot contain {code}")), "{name:?}: {refused}");
    }
    // The length is counted after normalizing.
    assert!(check_name(&"ﬁ".repeat(17)).unwrap_err().starts_with("name is too long: 34 characters"));
}
