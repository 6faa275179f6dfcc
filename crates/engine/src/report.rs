//! The parts of the `--json` documents that come from the engine: a change,
//! a field that differs, the counts. They are types of their own, built from
//! the engine's, so that renaming an internal type or variant cannot change
//! what a script reads: each name here is spelled out once.

use serde::Serialize;

use crate::diff::FieldChange;
use crate::plan::{Action, Change, Counts};

/// One change: what happens to which resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeReport {
    /// `create`, `update`, `replace`, `delete` or `unchanged`.
    pub action: &'static str,
    /// The kind's name in the table of kinds (`log_group`, `route`...).
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldReport {
    pub field: String,
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How many resources each action touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CountsReport {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

pub fn action(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Unchanged => "unchanged",
    }
}

impl From<&FieldChange> for FieldReport {
    fn from(f: &FieldChange) -> FieldReport {
        FieldReport { field: f.field.clone(), from: f.from.clone(), to: f.to.clone(), note: f.note.clone() }
    }
}

/// The fields of a change, as reported.
pub fn fields(fields: &[FieldChange]) -> Vec<FieldReport> {
    fields.iter().map(FieldReport::from).collect()
}

impl From<&Change> for ChangeReport {
    fn from(c: &Change) -> ChangeReport {
        ChangeReport {
            action: action(c.action),
            kind: c.kind.name(),
            name: c.name.clone(),
            id: c.id.clone(),
            fields: fields(&c.fields),
            reason: c.reason.clone(),
        }
    }
}

impl From<Counts> for CountsReport {
    fn from(c: Counts) -> CountsReport {
        CountsReport {
            create: c.create,
            update: c.update,
            replace: c.replace,
            delete: c.delete,
            unchanged: c.unchanged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Kind;

    /// The names scripts read, as docs/guide/deploy.md documents them (`--json`).
    #[test]
    fn a_change_reads_as_it_always_has() {
        let change = Change {
            kind: Kind::LogGroup,
            name: "chat".into(),
            id: Some("/aws/lambda/x".into()),
            action: Action::Update,
            fields: vec![FieldChange::new("retention", "never expire", "30 days")],
            reason: None,
        };
        assert_eq!(
            serde_json::to_value(ChangeReport::from(&change)).unwrap(),
            serde_json::json!({
                "action": "update",
                "kind": "log_group",
                "name": "chat",
                "id": "/aws/lambda/x",
                "fields": [{ "field": "retention", "from": "never expire", "to": "30 days" }],
            })
        );
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert!(names.contains(&"origin_access_control") && names.contains(&"dead_letter_queue"), "{names:?}");
    }
}
