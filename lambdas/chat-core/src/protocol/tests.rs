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
    assert_eq!(
        request("send", r#"{"action":"send","text":"hi"}"#),
        Request::Broadcast { action: Action::Send, text: "hi".into() }
    );
    assert_eq!(
        request("sendMessage", r#"{"action":"sendMessage","message":"hi"}"#),
        Request::RoomMessage { message: "hi".into() }
    );
    assert_eq!(
        request("sendmessage", r#"{"action":"sendmessage","data":"hi"}"#),
        Request::Broadcast { action: Action::SendData, text: "hi".into() }
    );
    assert_eq!(
        request("joinRoom", r#"{"action":"joinRoom","name":" bob ","roomCode":"0a1b2c3d"}"#),
        Request::JoinRoom { name: "bob".into(), room_code: "0a1b2c3d".into() }
    );
    assert_eq!(request("list", r#"{"action":"list"}"#), Request::List);
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
    assert_eq!(refused("list", r#"{"action":"list","all":true}"#), "unknown field `all`: list takes no fields");
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
    assert_eq!(welcome(&a, 0).compat, "Welcome! - connected on L0SM9cOFvHcCIhw=");
    assert_eq!(joined(&a, 0).compat, r##"{"action":"message","from":"#host","text":"alice joined"}"##);
    assert_eq!(left(&a, 0).compat, r##"{"action":"message","from":"#host","text":"alice left"}"##);
    assert_eq!(renamed("al", &a, 0).compat, r##"{"action":"message","from":"#host","text":"al is now alice"}"##);
    let bob = Connection { connection_id: "b=".into(), name: "bob".into(), ..a.clone() };
    assert_eq!(list(&[a.clone(), bob]).compat, "connections: L0SM9cOFvHcCIhw= b=");
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
        welcome(&a, 5).json,
        r#"{"type":"welcome","text":"Welcome! - connected on L0SM9cOFvHcCIhw=","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5}"#
    );
    assert_eq!(
        joined(&a, 5).json,
        r##"{"type":"joined","from":"#host","text":"alice joined","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5}"##
    );
    assert_eq!(
        left(&a, 5).json,
        r##"{"type":"left","from":"#host","text":"alice left","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5}"##
    );
    assert_eq!(
        renamed("al", &a, 5).json,
        r##"{"type":"renamed","action":"rename","from":"#host","text":"al is now alice","connectionId":"L0SM9cOFvHcCIhw=","name":"alice","timestamp":5}"##
    );
    assert_eq!(
        list(std::slice::from_ref(&a)).json,
        r#"{"type":"list","action":"list","connections":[{"connectionId":"L0SM9cOFvHcCIhw=","name":"alice"}]}"#
    );
    assert_eq!(echo("x\"y").json, r#"{"type":"echo","text":"x\"y"}"#);
    assert_eq!(
        error(Some(Action::Chat), "no connection x").json,
        r#"{"type":"error","action":"chat","error":"no connection x"}"#
    );
    assert_eq!(Payload { compat: "c".into(), json: "j".into() }.render(Format::Json), "j");
}
