//! Differences between what stack.yaml wants and what AWS has, as people
//! read them: pure comparisons and the types `plan`, `status` and the
//! resources share. A leaf: it depends on nothing else of wschat.

use std::collections::{BTreeMap, HashMap};

/// A resource's tags, sorted.
pub type Tags = BTreeMap<String, String>;

/// One field that differs: what AWS has and what stack.yaml wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub from: String,
    pub to: String,
    /// How the change will go, when that is not plain (AWS allows it only
    /// in steps, say).
    pub note: Option<String>,
}

impl FieldChange {
    pub fn new(field: impl Into<String>, from: impl Into<String>, to: impl Into<String>) -> FieldChange {
        FieldChange { field: field.into(), from: from.into(), to: to.into(), note: None }
    }

    pub fn with_note(self, note: impl Into<String>) -> FieldChange {
        FieldChange { note: Some(note.into()), ..self }
    }
}

/// The difference between one desired resource and what was found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    pub fields: Vec<FieldChange>,
    /// The change cannot be made in place: delete, then create.
    pub replace: bool,
}

impl Diff {
    pub fn fields(fields: Vec<FieldChange>) -> Diff {
        Diff { fields, replace: false }
    }
}

/// A field change for tags, when they differ. `aws:` tags are AWS's own and ignored.
pub fn tags_field(desired: &Tags, found: &Tags) -> Option<FieldChange> {
    let changes = tag_changes(desired, found);
    if changes.set.is_empty() && changes.remove.is_empty() {
        return None;
    }
    let show = |tags: &Tags| tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
    let old: Tags = found
        .iter()
        .filter(|(k, _)| changes.set.contains_key(*k) || changes.remove.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(FieldChange::new("tags", show(&old), show(&changes.set)))
}

/// The tags to set and the keys to remove so that `found` becomes `desired`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TagChanges {
    pub set: Tags,
    pub remove: Vec<String>,
}

pub fn tag_changes(desired: &Tags, found: &Tags) -> TagChanges {
    TagChanges {
        set: desired.iter().filter(|(k, v)| found.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        remove: found.keys().filter(|k| !desired.contains_key(*k) && !k.starts_with("aws:")).cloned().collect(),
    }
}

/// Tags as the SDKs that use maps hand them out.
pub fn tags_from_map(map: Option<&HashMap<String, String>>) -> Tags {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

pub fn tags_to_map(tags: &Tags) -> HashMap<String, String> {
    tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Compares two JSON documents by value (key order and spacing do not
/// matter); numbers written as strings compare equal to numbers.
pub fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_equal(v, w)),
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => n.to_string() == *s,
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Decodes a URL-encoded IAM policy document (IAM returns them that way).
pub fn decode_policy(text: &str) -> serde_json::Value {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or(serde_json::Value::String(decoded.into_owned()))
}

/// Shortens a value for one line of human output.
pub fn short(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        value.to_string()
    } else {
        let cut: String = value.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tag_changes_set_and_remove_but_leave_aws_tags() {
        let want = tags(&[("a", "1"), ("b", "2")]);
        let have = tags(&[("a", "1"), ("b", "3"), ("c", "4"), ("aws:cloudformation:stack", "x")]);
        let changes = tag_changes(&want, &have);
        assert_eq!(changes.set, tags(&[("b", "2")]));
        assert_eq!(changes.remove, vec!["c".to_string()]);
        assert!(tags_field(&want, &want).is_none());
        let field = tags_field(&want, &have).unwrap();
        assert_eq!(field.from, "b=3, c=4");
        assert_eq!(field.to, "b=2");
    }

    #[test]
    fn json_equal_ignores_order_and_number_quoting() {
        let a = serde_json::json!({"deadLetterTargetArn": "x", "maxReceiveCount": 5});
        let b = serde_json::json!({"maxReceiveCount": "5", "deadLetterTargetArn": "x"});
        assert!(json_equal(&a, &b));
        assert!(!json_equal(&a, &serde_json::json!({"deadLetterTargetArn": "x", "maxReceiveCount": 6})));
    }

    #[test]
    fn policies_are_percent_decoded() {
        let doc = decode_policy("%7B%22Version%22%3A%20%222012-10-17%22%7D");
        assert_eq!(doc, serde_json::json!({"Version": "2012-10-17"}));
    }
}
