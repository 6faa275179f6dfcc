use std::path::Path;

use serde_json::{Value, json};

use super::*;

fn model(schema: &Value) -> Model {
    compile(schema).unwrap_or_else(|e| panic!("{schema}: {e}"))
}

/// Asserts `schema` accepts every value of `good` and refuses every one of
/// `bad`, and returns the refusals as `pointer: reason` texts.
fn sorts(schema: Value, good: &[Value], bad: &[Value]) -> Vec<String> {
    let m = model(&schema);
    for value in good {
        if let Err(refusal) = m.check(value) {
            panic!("{schema} refused {value}: {refusal}");
        }
    }
    bad.iter()
        .map(|value| match m.check(value) {
            Ok(()) => panic!("{schema} accepted {value}"),
            Err(refusal) => refusal.to_string(),
        })
        .collect()
}

/// The pointers of the refusals `schema` gives `bad`, in order.
fn pointers(schema: Value, bad: &[Value]) -> Vec<String> {
    let m = model(&schema);
    bad.iter().map(|value| m.check(value).expect_err(&value.to_string()).pointer).collect()
}

#[test]
fn type_one_or_several_with_integers_apart_from_numbers() {
    let refusals = sorts(json!({"type":"string"}), &[json!("x"), json!("")], &[json!(1), json!(null), json!({})]);
    assert_eq!(refusals[0], r#"value is not of type "string""#);
    sorts(json!({"type":"integer"}), &[json!(1), json!(-7), json!(u64::MAX)], &[json!(1.5), json!(1.0), json!("1")]);
    sorts(json!({"type":"number"}), &[json!(1), json!(1.5), json!(-0.0)], &[json!("1"), json!(true)]);
    let refusals = sorts(json!({"type":["string","null"]}), &[json!("a"), json!(null)], &[json!(0), json!([])]);
    assert_eq!(refusals[0], r#"value is not of types "null", "string""#);
    sorts(json!({"type":"boolean"}), &[json!(true), json!(false)], &[json!(0), json!("true")]);
    sorts(json!({"type":"object"}), &[json!({})], &[json!([])]);
    sorts(json!({"type":"array"}), &[json!([])], &[json!({})]);
    sorts(json!({"type":"null"}), &[json!(null)], &[json!(0)]);
    // No `type`: anything.
    sorts(json!({}), &[json!(1), json!("x"), json!(null), json!({"a":[1]})], &[]);
}

#[test]
fn required_and_dependencies_name_the_missing_property() {
    let refusals = sorts(
        json!({"required":["a","b"]}),
        &[json!({"a":1,"b":null}), json!({"a":1,"b":2,"c":3}), json!("not an object")],
        &[json!({"a":1}), json!({"b":1})],
    );
    assert_eq!(refusals, [r#""b" is a required property"#, r#""a" is a required property"#]);
    // A property that needs others, and one that needs the object to match a schema.
    let refusals = sorts(
        json!({"dependencies":{"card":["expiry"],"room":{"required":["name"]}}}),
        &[json!({}), json!({"card":1,"expiry":2}), json!({"expiry":2}), json!({"room":"r","name":"n"})],
        &[json!({"card":1}), json!({"room":"r"})],
    );
    assert_eq!(refusals, [r#""expiry" is a required property"#, r#""name" is a required property"#]);
}

#[test]
fn properties_check_only_the_properties_present() {
    let schema = json!({"properties":{"n":{"type":"integer"},"s":{"type":"string"}}});
    let refusals = sorts(
        schema.clone(),
        &[json!({}), json!({"n":1}), json!({"n":1,"s":"x","other":[]})],
        &[json!({"n":"1"}), json!({"s":2})],
    );
    assert_eq!(refusals[0], r#"/n: value is not of type "integer""#);
    assert_eq!(pointers(schema, &[json!({"n":1,"s":2})]), ["/s"]);
}

#[test]
fn additional_and_pattern_properties() {
    let refusals = sorts(
        json!({"properties":{"a":{}},"additionalProperties":false}),
        &[json!({}), json!({"a":1})],
        &[json!({"a":1,"z":2})],
    );
    assert_eq!(refusals[0], "Additional properties are not allowed ('z' was unexpected)");
    let refusals = sorts(
        json!({"properties":{"a":{}},"additionalProperties":{"type":"string"}}),
        &[json!({"a":1,"b":"x"}), json!({"a":1})],
        &[json!({"a":1,"b":2})],
    );
    assert_eq!(refusals[0], r#"/b: value is not of type "string""#);
    sorts(json!({"additionalProperties":true}), &[json!({"any":1})], &[]);
    // `patternProperties` checks the properties whose names match, and those
    // are not additional.
    let schema = json!({
        "properties": {"action": {}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": false
    });
    let refusals = sorts(
        schema.clone(),
        &[json!({"action":"send"}), json!({"action":"send","x-trace":"t"})],
        &[json!({"x-trace":1}), json!({"trace":"t"})],
    );
    assert_eq!(
        refusals,
        [
            r#"/x-trace: value is not of type "string""#,
            "Additional properties are not allowed ('trace' was unexpected)"
        ]
    );
    assert_eq!(pointers(schema, &[json!({"x-trace":1})]), ["/x-trace"]);
}

#[test]
fn min_and_max_properties() {
    let refusals = sorts(
        json!({"minProperties":1,"maxProperties":2}),
        &[json!({"a":1}), json!({"a":1,"b":2}), json!([])],
        &[json!({}), json!({"a":1,"b":2,"c":3})],
    );
    assert_eq!(refusals, ["value has less than 1 property", "value has more than 2 properties"]);
}

#[test]
fn string_lengths_count_characters_not_bytes() {
    let refusals = sorts(
        json!({"minLength":2,"maxLength":3}),
        &[json!("ab"), json!("abc"), json!("日本語"), json!("é😀"), json!(5)],
        &[json!("a"), json!("abcd"), json!("日本語!")],
    );
    assert_eq!(refusals[0], "value is shorter than 2 characters");
    assert_eq!(refusals[2], "value is longer than 3 characters");
}

#[test]
fn pattern_searches_anywhere_in_the_string_with_ecma_262_syntax() {
    let refusals = sorts(
        json!({"pattern":"^[0-9a-f]{8}$"}),
        &[json!("deadbeef"), json!(12)],
        &[json!("DEADBEEF"), json!("deadbeef0")],
    );
    assert_eq!(refusals[0], r#"value does not match "^[0-9a-f]{8}$""#);
    sorts(json!({"pattern":"b"}), &[json!("abc")], &[json!("ac")]);
    // Lookbehind is ECMA 262 too (the old validator could not run it).
    sorts(json!({"pattern":"(?<!@)example"}), &[json!("an example")], &[json!("me@example")]);
}

#[test]
fn formats_are_asserted_as_api_gateway_does() {
    let refusals = sorts(
        json!({"format":"email"}),
        &[json!("alice@example.com"), json!("a.b+chat@mail.example.org"), json!(42)],
        &[json!("alice"), json!("alice@"), json!("@example.com"), json!("a b@example.com")],
    );
    assert_eq!(refusals[0], r#"value is not a "email""#);
    let refusals = sorts(
        json!({"format":"date-time"}),
        &[json!("2024-02-29T12:00:00Z"), json!("2024-02-29T12:00:00.125+01:00"), json!(null)],
        &[json!("2024-02-29"), json!("2023-02-29T12:00:00Z"), json!("2024-02-29T25:00:00Z"), json!("yesterday")],
    );
    assert_eq!(refusals[0], r#"value is not a "date-time""#);
    // Draft 4's other formats.
    sorts(json!({"format":"hostname"}), &[json!("chat.example.com")], &[json!("-chat.example.com"), json!("a_b")]);
    sorts(json!({"format":"ipv4"}), &[json!("127.0.0.1")], &[json!("127.0.0.256"), json!("::1")]);
    sorts(json!({"format":"ipv6"}), &[json!("::1"), json!("fe80::1")], &[json!("127.0.0.1"), json!(":::")]);
    sorts(json!({"format":"uri"}), &[json!("https://example.com/a?b#c")], &[json!("/relative"), json!("not a uri")]);
    // Where the value is: the refusal points at it.
    let schema = json!({"properties":{"from":{"format":"email"}}});
    assert_eq!(pointers(schema, &[json!({"from":"alice"})]), ["/from"]);
}

#[test]
fn minimum_and_maximum_inclusive_or_exclusive_and_multiple_of() {
    let refusals = sorts(
        json!({"minimum":1,"maximum":5}),
        &[json!(1), json!(5), json!(2.5), json!("100")],
        &[json!(0), json!(0.99), json!(5.01), json!(6)],
    );
    assert_eq!(refusals[0], "value is less than the minimum of 1");
    assert_eq!(refusals[3], "value is greater than the maximum of 5");
    // Draft 4's boolean `exclusiveMinimum`/`exclusiveMaximum`.
    let refusals = sorts(
        json!({"minimum":1,"exclusiveMinimum":true,"maximum":5,"exclusiveMaximum":true}),
        &[json!(1.01), json!(4)],
        &[json!(1), json!(5)],
    );
    assert_eq!(refusals[0], "value is less than or equal to the minimum of 1");
    assert_eq!(refusals[1], "value is greater than or equal to the maximum of 5");
    sorts(json!({"minimum":1,"exclusiveMinimum":false}), &[json!(1)], &[json!(0)]);
    let refusals =
        sorts(json!({"multipleOf":0.5}), &[json!(0), json!(1), json!(2.5), json!(-3)], &[json!(1.25), json!(0.1)]);
    assert_eq!(refusals[0], "value is not a multiple of 0.5");
    sorts(json!({"multipleOf":3}), &[json!(9), json!(-3)], &[json!(10), json!(4.5)]);
}

#[test]
fn enum_compares_json_values() {
    let refusals = sorts(
        json!({"enum":["a", 1, null, {"k":[1]}]}),
        &[json!("a"), json!(1), json!(1.0), json!(null), json!({"k":[1.0]})],
        &[json!("b"), json!(2), json!({"k":[2]}), json!([])],
    );
    assert_eq!(refusals[0], r#"value is not one of "a", 1 or 2 other candidates"#);
}

#[test]
fn items_one_schema_one_per_position_or_no_more() {
    let refusals =
        sorts(json!({"items":{"type":"string"}}), &[json!([]), json!(["a", "b"]), json!("x")], &[json!(["a", 1])]);
    assert_eq!(refusals[0], r#"/1: value is not of type "string""#);
    let refusals = sorts(
        json!({"items":[{"type":"string"},{"type":"integer"}]}),
        &[json!([]), json!(["a"]), json!(["a", 1]), json!(["a", 1, {}])],
        &[json!([1]), json!(["a", "b"])],
    );
    assert_eq!(refusals, [r#"/0: value is not of type "string""#, r#"/1: value is not of type "integer""#]);
    let refusals = sorts(
        json!({"items":[{"type":"string"}],"additionalItems":false}),
        &[json!([]), json!(["a"])],
        &[json!(["a", 1])],
    );
    assert_eq!(refusals[0], "Additional items are not allowed (1 item)");
    sorts(json!({"items":[{}],"additionalItems":{"type":"integer"}}), &[json!(["a", 1, 2])], &[json!(["a", 1, "b"])]);
}

#[test]
fn min_max_and_unique_items() {
    let refusals = sorts(
        json!({"minItems":1,"maxItems":2}),
        &[json!([1]), json!([1, 2]), json!({})],
        &[json!([]), json!([1, 2, 3])],
    );
    assert_eq!(refusals, ["value has less than 1 item", "value has more than 2 items"]);
    let refusals = sorts(
        json!({"uniqueItems":true}),
        &[json!([]), json!([1, "1", [1], {"a":1}, {"a":2}])],
        &[json!([1, 1.0]), json!([{"a":[1]}, {"a":[1]}])],
    );
    assert_eq!(refusals[0], "value has non-unique elements");
}

#[test]
fn all_of_any_of_one_of_and_not() {
    let refusals =
        sorts(json!({"allOf":[{"type":"string"},{"maxLength":3}]}), &[json!("abc")], &[json!("abcd"), json!(1)]);
    assert_eq!(refusals, ["value is longer than 3 characters", r#"value is not of type "string""#]);
    let refusals = sorts(json!({"anyOf":[{"type":"string"},{"type":"null"}]}), &[json!("a"), json!(null)], &[json!(1)]);
    assert_eq!(refusals[0], "value is not valid under any of the schemas listed in the 'anyOf' keyword");
    // One exactly: a room code of 8 hex digits, or a name of up to 32 characters
    // that does not look like one.
    let schema = json!({"oneOf":[
        {"type":"string","pattern":"^[0-9a-f]{8}$"},
        {"type":"string","maxLength":32,"not":{"pattern":"^[0-9a-f]{8}$"}},
        {"type":"integer"}
    ]});
    let refusals =
        sorts(schema, &[json!("deadbeef"), json!("Ann's room"), json!(7)], &[json!("n".repeat(33)), json!(1.5)]);
    assert_eq!(refusals[0], "value is not valid under any of the schemas listed in the 'oneOf' keyword");
    let refusals = sorts(json!({"oneOf":[{"type":"integer"},{"minimum":0}]}), &[json!(-1), json!(0.5)], &[json!(1)]);
    assert_eq!(refusals[0], "value is valid under more than one of the schemas listed in the 'oneOf' keyword");
    let refusals = sorts(json!({"not":{"type":"string"}}), &[json!(1), json!(null)], &[json!("a")]);
    assert_eq!(refusals[0], r#"{"type":"string"} is not allowed for value"#);
    // A combinator inside a property points at that property.
    let schema = json!({"properties":{"to":{"anyOf":[{"format":"email"},{"format":"hostname"}]}}});
    assert_eq!(pointers(schema, &[json!({"to":"not an address"})]), ["/to"]);
}

#[test]
fn refs_within_the_schema_are_followed() {
    let schema = json!({
        "definitions": {
            "name": {"type": "string", "minLength": 1, "maxLength": 32},
            "member": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"$ref": "#/definitions/name"}, "guests": {"items": {"$ref": "#/definitions/member"}}}
            }
        },
        "properties": {"host": {"$ref": "#/definitions/member"}}
    });
    let refusals = sorts(
        schema.clone(),
        &[
            json!({}),
            json!({"host":{"name":"Ann"}}),
            json!({"host":{"name":"Ann","guests":[{"name":"Ben","guests":[]}]}}),
        ],
        &[json!({"host":{"name":""}}), json!({"host":{"name":"Ann","guests":[{"name":"Ben"},{}]}})],
    );
    assert_eq!(
        refusals,
        ["/host/name: value is shorter than 1 character", r#"/host/guests/1: "name" is a required property"#]
    );
    // A whole-schema `$ref`, as `$ref` replaces its siblings in draft 4.
    sorts(
        json!({"$ref":"#/definitions/n","definitions":{"n":{"type":"integer"}},"type":"string"}),
        &[json!(1)],
        &[json!("1")],
    );
}

#[test]
fn refusals_point_into_nested_values() {
    let m = model(&json!({
        "properties": {"a/b": {"properties": {"list": {"items": {"required": ["x"]}}}}, "c~d": {"type": "string"}}
    }));
    let refusal = m.check(&json!({"a/b": {"list": [{"x": 1}, {}]}})).unwrap_err();
    assert_eq!(refusal.pointer, "/a~1b/list/1");
    assert_eq!(refusal.to_string(), r#"/a~1b/list/1: "x" is a required property"#);
    assert_eq!(m.check(&json!({"c~d": 1})).unwrap_err().pointer, "/c~0d");
}

#[test]
fn refusals_leave_the_value_out() {
    let m = model(&json!({"properties":{"text":{"maxLength":4096}},"not":{"required":["secret"]}}));
    let long = "x".repeat(5000);
    let refusal = m.check(&json!({"text": long})).unwrap_err();
    assert_eq!(refusal.to_string(), "/text: value is longer than 4096 characters");
    let refusal = m.check(&json!({"secret": "hunter2"})).unwrap_err();
    assert!(!refusal.reason.contains("hunter2"), "{refusal}");
}

#[test]
fn bodies_that_are_not_json_are_refused() {
    let m = model(&json!({}));
    assert_eq!(m.check_body(b"hello").unwrap_err().to_string(), "the body is not JSON");
    assert_eq!(m.check_body(br#"{"action":"x"}"#), Ok(()));
}

#[test]
fn every_schema_is_draft_4_whatever_its_schema_keyword_says() {
    let draft7 = "http://json-schema.org/draft-07/schema#";
    // Draft 4's boolean `exclusiveMinimum`, which draft 7 would refuse.
    sorts(json!({"$schema":draft7,"minimum":1,"exclusiveMinimum":true}), &[json!(2)], &[json!(1)]);
    // Draft 7's numeric one is not a schema draft 4 compiles.
    let error = compile(&json!({"$schema":draft7,"exclusiveMinimum":3})).unwrap_err();
    assert_eq!(error.at, "/exclusiveMinimum");
    // `const` is not draft 4: an unknown keyword, ignored as draft 4 says.
    sorts(json!({"const":"a"}), &[json!("b")], &[]);
    // Annotations check nothing.
    model(&json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "id": "x", "title": "t", "description": "d", "default": {},
        "definitions": {"unused": {"type": "integer"}}
    }));
}

#[test]
fn schemas_the_crate_cannot_compile_are_refused_with_where_and_why() {
    for (schema, at, reason) in [
        // Nothing is fetched: not from the network, not from the disk.
        (json!({"$ref":"https://models.example.com/send.json"}), "", "https://models.example.com/send.json"),
        (json!({"properties":{"a":{"$ref":"other.json#/a"}}}), "", "other.json"),
        (json!({"$ref":"#/definitions/missing"}), "", "/definitions/missing"),
        // A format dev cannot check is not skipped quietly.
        (json!({"properties":{"a":{"format":"color"}}}), "/properties/a/format", "Unknown format: 'color'"),
        // Draft 4's meta-schema.
        (json!({"properties":{"a":{"minLength":"3"}}}), "/properties/a/minLength", r#""3" is not of type "integer""#),
        (json!({"required":true}), "/required", "true is not of type \"array\""),
        (json!({"type":"text"}), "/type", "\"text\" is not valid under any of the schemas"),
        (json!({"exclusiveMinimum":true}), "", r#""minimum" is a required property"#),
        (json!({"properties":{"a":true}}), "/properties/a", "true is not of type \"object\""),
        (json!({"definitions":{"a":{"oneOf":[]}}}), "/definitions/a/oneOf", "[] has less than 1 item"),
        (json!({"pattern":"("}), "/pattern", r#""(" is not a "regex""#),
    ] {
        let error = compile(&schema).expect_err(&schema.to_string());
        assert_eq!(error.at, at, "{schema}: {error}");
        assert!(error.reason.contains(reason), "{schema}: {error}");
        let shown = error.to_string();
        if at.is_empty() {
            assert_eq!(shown, error.reason)
        } else {
            assert!(shown.ends_with(&format!(" at #{at}")), "{shown}")
        }
    }
}

/// Frames of docs/protocol.md each shipped schema must accept, and frames it must refuse.
fn shipped_cases(file: &str) -> (Vec<Value>, Vec<Value>) {
    let long = "x".repeat(4097);
    let longest = "é".repeat(4096);
    let (good, bad) = match file {
        "send.json" => (
            vec![json!({"action":"send","text":"hi"}), json!({"action":"send","text":longest})],
            vec![
                json!({"action":"send"}),
                json!({"action":"send","text":""}),
                json!({"action":"send","text":long}),
                json!({"action":"send","text":5}),
                json!({"action":"send","text":"hi","extra":1}),
            ],
        ),
        other => panic!("schemas/{other} has no cases here: add its frames"),
    };
    // No shipped model takes a body that is not an object.
    let mut bad = bad;
    bad.extend([json!("text"), json!([]), json!(null)]);
    (good, bad)
}

#[test]
fn every_shipped_schema_takes_its_protocol_frames_and_refuses_bad_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (good, bad) = shipped_cases(&file);
        sorts(schema, &good, &bad);
        seen.push(file);
    }
    assert!(seen.contains(&"send.json".to_string()), "{seen:?} in {}", dir.display());
}

#[test]
fn the_shipped_stack_has_a_model_for_every_route_with_a_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let stack = wschat_stack::load(&root.join("stack.yaml"), "dev").unwrap();
    let loaded = load(&stack).unwrap();
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    let with_schema: Vec<&str> =
        stack.api.routes.iter().filter(|(_, spec)| spec.schema.is_some()).map(|(key, _)| key.as_str()).collect();
    let routes: Vec<&str> = loaded.models.keys().map(String::as_str).collect();
    assert_eq!(routes, with_schema);
    assert!(routes.contains(&"send"), "{routes:?}");
    let refusal = loaded.models["send"].check_body(br#"{"action":"send","text":""}"#).unwrap_err();
    assert_eq!(refusal.to_string(), "/text: value is shorter than 1 character");
}
