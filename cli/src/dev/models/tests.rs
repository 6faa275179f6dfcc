use std::path::Path;

use serde_json::{Value, json};

use super::*;

fn keyword_of(error: &SchemaError) -> &str {
    match error {
        SchemaError::Unsupported { keyword, .. } | SchemaError::Invalid { keyword, .. } => keyword,
    }
}

fn model(schema: Value) -> Model {
    compile(&schema).unwrap_or_else(|e| panic!("{schema}: {e}"))
}

/// Asserts `schema` accepts every value of `good` and refuses every one of
/// `bad`, and returns the refusals' texts.
fn sorts(schema: Value, good: &[Value], bad: &[Value]) -> Vec<String> {
    let m = model(schema.clone());
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

#[test]
fn type_one_or_several_with_integers_apart_from_numbers() {
    let refusals = sorts(json!({"type":"string"}), &[json!("x"), json!("")], &[json!(1), json!(null), json!({})]);
    assert_eq!(
        refusals[0],
        r#"instance type (integer) does not match any allowed primitive type (allowed: ["string"])"#
    );
    sorts(json!({"type":"integer"}), &[json!(1), json!(-7), json!(u64::MAX)], &[json!(1.5), json!(1.0), json!("1")]);
    sorts(json!({"type":"number"}), &[json!(1), json!(1.5), json!(-0.0)], &[json!("1"), json!(true)]);
    sorts(json!({"type":["string","null"]}), &[json!("a"), json!(null)], &[json!(0), json!([])]);
    sorts(json!({"type":"boolean"}), &[json!(true), json!(false)], &[json!(0), json!("true")]);
    sorts(json!({"type":"object"}), &[json!({})], &[json!([])]);
    sorts(json!({"type":"array"}), &[json!([])], &[json!({})]);
    sorts(json!({"type":"null"}), &[json!(null)], &[json!(0)]);
    // No `type`: anything.
    sorts(json!({}), &[json!(1), json!("x"), json!(null), json!({"a":[1]})], &[]);
}

#[test]
fn required_names_every_missing_property() {
    let refusals = sorts(
        json!({"required":["b","a"]}),
        &[json!({"a":1,"b":null}), json!({"a":1,"b":2,"c":3}), json!("not an object")],
        &[json!({}), json!({"a":1})],
    );
    assert_eq!(
        refusals,
        [r#"object has missing required properties (["a","b"])"#, r#"object has missing required properties (["b"])"#]
    );
}

#[test]
fn properties_check_only_the_properties_present() {
    let refusals = sorts(
        json!({"properties":{"n":{"type":"integer"},"s":{"type":"string"}}}),
        &[json!({}), json!({"n":1}), json!({"n":1,"s":"x","other":[]})],
        &[json!({"n":"1"}), json!({"s":2})],
    );
    assert_eq!(
        refusals[0],
        r#"/n: instance type (string) does not match any allowed primitive type (allowed: ["integer"])"#
    );
}

#[test]
fn additional_properties_false_or_a_schema() {
    let refusals = sorts(
        json!({"properties":{"a":{}},"additionalProperties":false}),
        &[json!({}), json!({"a":1})],
        &[json!({"a":1,"z":2,"b":3})],
    );
    assert_eq!(refusals[0], r#"object instance has properties which are not allowed by the schema: ["b","z"]"#);
    let refusals = sorts(
        json!({"properties":{"a":{}},"additionalProperties":{"type":"string"}}),
        &[json!({"a":1,"b":"x"}), json!({"a":1})],
        &[json!({"a":1,"b":2})],
    );
    assert_eq!(
        refusals[0],
        r#"/b: instance type (integer) does not match any allowed primitive type (allowed: ["string"])"#
    );
    sorts(json!({"additionalProperties":true}), &[json!({"any":1})], &[]);
}

#[test]
fn string_lengths_count_characters_not_bytes() {
    let refusals = sorts(
        json!({"minLength":2,"maxLength":3}),
        &[json!("ab"), json!("abc"), json!("日本語"), json!("é😀"), json!(5)],
        &[json!("a"), json!("abcd"), json!("日本語!")],
    );
    assert_eq!(refusals[0], "string is too short (length: 1, minimum allowed: 2)");
    assert_eq!(refusals[2], "string is too long (length: 4, maximum allowed: 3)");
}

#[test]
fn minimum_and_maximum_inclusive_or_exclusive() {
    let refusals = sorts(
        json!({"minimum":1,"maximum":5}),
        &[json!(1), json!(5), json!(2.5), json!("100")],
        &[json!(0), json!(0.99), json!(5.01), json!(6)],
    );
    assert_eq!(refusals[0], "numeric instance is lower than the required minimum (minimum: 1, found: 0)");
    assert_eq!(refusals[3], "numeric instance is greater than the required maximum (maximum: 5, found: 6)");
    let refusals = sorts(
        json!({"minimum":1,"exclusiveMinimum":true,"maximum":5,"exclusiveMaximum":true}),
        &[json!(1.01), json!(4)],
        &[json!(1), json!(5)],
    );
    assert_eq!(refusals[0], "numeric instance is not strictly greater than the required minimum 1");
    assert_eq!(refusals[1], "numeric instance is not strictly lower than the required maximum 5");
    sorts(json!({"minimum":1,"exclusiveMinimum":false}), &[json!(1)], &[json!(0)]);
}

#[test]
fn enum_compares_json_values() {
    let refusals = sorts(
        json!({"enum":["a", 1, null, {"k":[1]}]}),
        &[json!("a"), json!(1), json!(1.0), json!(null), json!({"k":[1.0]})],
        &[json!("b"), json!(2), json!({"k":[2]}), json!([])],
    );
    assert_eq!(refusals[0], r#"instance value ("b") not found in enum (possible values: ["a",1,null,{"k":[1]}])"#);
}

#[test]
fn items_one_schema_or_one_per_position() {
    let refusals =
        sorts(json!({"items":{"type":"string"}}), &[json!([]), json!(["a", "b"]), json!("x")], &[json!(["a", 1])]);
    assert_eq!(
        refusals[0],
        r#"/1: instance type (integer) does not match any allowed primitive type (allowed: ["string"])"#
    );
    sorts(
        json!({"items":[{"type":"string"},{"type":"integer"}]}),
        &[json!([]), json!(["a"]), json!(["a", 1]), json!(["a", 1, {}])],
        &[json!([1]), json!(["a", "b"])],
    );
}

#[test]
fn min_and_max_items() {
    let refusals = sorts(
        json!({"minItems":1,"maxItems":2}),
        &[json!([1]), json!([1, 2]), json!({})],
        &[json!([]), json!([1, 2, 3])],
    );
    assert_eq!(refusals[0], "array is too short: must have at least 1 elements but instance has 0 elements");
    assert_eq!(refusals[1], "array is too long: must have at most 2 elements but instance has 3 elements");
}

#[test]
fn pattern_searches_anywhere_in_the_string() {
    let refusals = sorts(
        json!({"pattern":"^[0-9a-f]{8}$"}),
        &[json!("deadbeef"), json!(12)],
        &[json!("DEADBEEF"), json!("deadbeef0")],
    );
    assert_eq!(refusals[0], r#"ECMA 262 regex "^[0-9a-f]{8}$" does not match input string "DEADBEEF""#);
    sorts(json!({"pattern":"b"}), &[json!("abc")], &[json!("ac")]);
}

#[test]
fn refusals_point_into_nested_values() {
    let m = model(json!({
        "properties": {"a/b": {"properties": {"list": {"items": {"required": ["x"]}}}}}
    }));
    let refusal = m.check(&json!({"a/b": {"list": [{"x": 1}, {}]}})).unwrap_err();
    assert_eq!(refusal.pointer, "/a~1b/list/1");
    assert_eq!(refusal.to_string(), r#"/a~1b/list/1: object has missing required properties (["x"])"#);
}

#[test]
fn bodies_that_are_not_json_are_refused() {
    let m = model(json!({}));
    assert_eq!(m.check_body(b"hello").unwrap_err().to_string(), "the body is not JSON");
    assert_eq!(m.check_body(br#"{"action":"x"}"#), Ok(()));
}

#[test]
fn annotations_are_ignored_and_other_keywords_are_refused_by_name() {
    model(json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "id": "x", "title": "t", "description": "d", "default": {},
        "definitions": {"anything": {"oneOf": []}}
    }));
    for (schema, keyword, at) in [
        (json!({"oneOf":[{}]}), "oneOf", "#"),
        (json!({"$ref":"#/definitions/x"}), "$ref", "#"),
        (json!({"properties":{"email":{"type":"string","format":"email"}}}), "format", "#/properties/email"),
        (json!({"patternProperties":{}}), "patternProperties", "#"),
        (json!({"items":{"uniqueItems":true}}), "uniqueItems", "#/items"),
        (json!({"multipleOf":2}), "multipleOf", "#"),
    ] {
        let error = compile(&schema).unwrap_err();
        assert_eq!(error, SchemaError::Unsupported { keyword: keyword.into(), at: at.into() }, "{schema}");
        assert_eq!(keyword_of(&error), keyword);
    }
    for (schema, keyword) in [
        (json!({"required":true}), "required"),
        (json!({"minLength":"3"}), "minLength"),
        (json!({"maxItems":-1}), "maxItems"),
        (json!({"type":"text"}), "type"),
        (json!({"type":[]}), "type"),
        (json!({"enum":[]}), "enum"),
        (json!({"exclusiveMinimum":true}), "exclusiveMinimum"),
        (json!({"minimum":1,"exclusiveMinimum":1}), "exclusiveMinimum"),
        (json!({"additionalProperties":"no"}), "additionalProperties"),
        (json!({"pattern":"(?<=a)b"}), "pattern"),
        (json!({"properties":{"a":true}}), "(schema)"),
    ] {
        let error = compile(&schema).unwrap_err();
        assert!(matches!(error, SchemaError::Invalid { .. }), "{schema}: {error:?}");
        assert_eq!(keyword_of(&error), keyword, "{schema}");
    }
}

/// Frames of protocol.md each shipped schema must accept, and frames it must refuse.
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
        "sendmessage.json" | "post.json" => {
            let action = if file == "post.json" { "post" } else { "sendmessage" };
            (
                vec![json!({"action":action,"data":"raw data"})],
                vec![
                    json!({"action":action}),
                    json!({"action":action,"data":""}),
                    json!({"action":action,"data":{"x":1}}),
                    json!({"action":action,"data":"x","text":"y"}),
                ],
            )
        }
        "broadcast.json" | "room-message.json" => {
            let action = if file == "broadcast.json" { "broadcast" } else { "sendMessage" };
            (
                vec![json!({"action":action,"message":"Anybody home?"})],
                vec![
                    json!({"action":action}),
                    json!({"action":action,"message":""}),
                    json!({"action":action,"message":long}),
                    json!({"action":action,"message":"x","room":"deadbeef"}),
                ],
            )
        }
        "chat.json" => (
            vec![json!({"action":"chat","connection":"CT0wvdWqoAMCLVg=","message":"Yo!"})],
            vec![
                json!({"action":"chat","message":"Yo!"}),
                json!({"action":"chat","connection":"CT0wvdWqoAMCLVg="}),
                json!({"action":"chat","connection":"","message":"Yo!"}),
                json!({"action":"chat","connection":"c".repeat(129),"message":"Yo!"}),
            ],
        ),
        "createRoom.json" | "rename.json" => {
            let action = if file == "rename.json" { "rename" } else { "createRoom" };
            (
                vec![json!({"action":action,"name":"Alice"}), json!({"action":action,"name":"n".repeat(32)})],
                vec![
                    json!({"action":action}),
                    json!({"action":action,"name":""}),
                    json!({"action":action,"name":"n".repeat(33)}),
                    json!({"action":action,"name":["Alice"]}),
                ],
            )
        }
        "joinRoom.json" => (
            vec![json!({"action":"joinRoom","name":"Bob","roomCode":"deadbeef"})],
            vec![
                json!({"action":"joinRoom","name":"Bob"}),
                json!({"action":"joinRoom","roomCode":"deadbeef"}),
                json!({"action":"joinRoom","name":"Bob","roomCode":"deadbeef0"}),
                json!({"action":"joinRoom","name":"Bob","roomCode":12345678}),
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (good, bad) = shipped_cases(&file);
        sorts(schema, &good, &bad);
        seen += 1;
    }
    assert_eq!(seen, 9, "every file in {}", dir.display());
}

#[test]
fn the_shipped_stack_has_a_model_for_every_route_with_a_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let stack = crate::stack::load(&root.join("stack.yaml"), "dev").unwrap();
    let loaded = load(&stack).unwrap();
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    let routes: Vec<&str> = loaded.models.keys().map(String::as_str).collect();
    assert_eq!(
        routes,
        ["broadcast", "chat", "createRoom", "joinRoom", "post", "rename", "send", "sendMessage", "sendmessage"]
    );
    let refusal = loaded.models["createRoom"].check_body(br#"{"action":"createRoom"}"#).unwrap_err();
    assert_eq!(refusal.to_string(), r#"object has missing required properties (["name"])"#);
}
