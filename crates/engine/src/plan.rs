//! A plan: what deploy (or destroy) would change, computed without any I/O
//! from the desired resources and the ones found. It is printed by `plan`,
//! serialized by `plan --json`, and carried out by [`crate::apply`].

use std::fmt::Write as _;

use crate::resources::{self, Address, Desired, FoundSet, Kind};

pub use crate::diff::FieldChange;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Create,
    Update,
    /// Delete, then create: the change cannot be made in place.
    Replace,
    Delete,
    Unchanged,
}

impl Action {
    /// The past tense, for progress lines.
    pub fn done(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Replace => "replaced",
            Action::Delete => "deleted",
            Action::Unchanged => "unchanged",
        }
    }

    /// The imperative, for plans.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Unchanged => "keep",
        }
    }

    /// The present participle, for spinners.
    pub fn doing(self) -> &'static str {
        match self {
            Action::Create => "creating",
            Action::Update => "updating",
            Action::Replace => "replacing",
            Action::Delete => "deleting",
            Action::Unchanged => "checking",
        }
    }

    fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::Unchanged => " ",
        }
    }
}

/// One resource's part of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: Kind,
    /// The resource's name within its kind (function name, route key...).
    pub name: String,
    /// Its physical id: found in AWS, or the name it will have.
    pub id: Option<String>,
    pub action: Action,
    pub fields: Vec<FieldChange>,
    /// Why a resource is deleted.
    pub reason: Option<String>,
}

impl Change {
    pub fn address(&self) -> Address {
        Address::new(self.kind, &self.name)
    }

    /// What names the resource for people: its physical name, or for kinds
    /// with AWS-assigned ids, the stack's name for it and the id.
    pub fn display_id(&self) -> String {
        self.kind.display(&self.name, self.id.as_deref())
    }

    /// `Lambda function wschat-dev-chat`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.display_id())
    }
}

/// Every resource of the stack with what would happen to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
}

/// How many resources each action touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Counts {
    pub fn add(&mut self, action: Action) {
        *match action {
            Action::Create => &mut self.create,
            Action::Update => &mut self.update,
            Action::Replace => &mut self.replace,
            Action::Delete => &mut self.delete,
            Action::Unchanged => &mut self.unchanged,
        } += 1;
    }
}

impl Plan {
    /// The changes that do something.
    pub fn actions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action != Action::Unchanged)
    }

    pub fn is_empty(&self) -> bool {
        self.actions().next().is_none()
    }

    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for change in &self.changes {
            counts.add(change.action);
        }
        counts
    }

    /// The plan for people: one line per change with its fields, then a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for change in self.actions() {
            let _ = write!(out, "  {} {:<9} {}", change.action.sign(), change.action.verb(), change.label());
            if let Some(reason) = &change.reason {
                let _ = write!(out, " ({reason})");
            }
            out.push('\n');
            for field in &change.fields {
                let _ = writeln!(
                    out,
                    "        {}: {} → {}",
                    field.field,
                    crate::diff::short(&field.from, 70),
                    crate::diff::short(&field.to, 70)
                );
                if let Some(note) = &field.note {
                    let _ = writeln!(out, "          note: {note}");
                }
            }
        }
        let c = self.counts();
        if self.is_empty() {
            let _ = writeln!(out, "No changes: {} resources match stack.yaml.", c.unchanged);
        } else {
            let _ = writeln!(
                out,
                "{} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
                c.create, c.update, c.replace, c.delete, c.unchanged
            );
        }
        out
    }
}

impl Plan {
    /// The plan as a Graphviz DOT graph: a node per resource, labelled and
    /// coloured by its action, and an edge from each resource to each one
    /// its spec references (what it needs first), as the specs declare them.
    pub fn graph(&self, desired: &[Desired]) -> String {
        let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let quote = |s: &str| format!("\"{}\"", escape(s));
        let mut out = String::from("digraph plan {\n  rankdir=\"LR\";\n  node [shape=\"box\", style=\"rounded\"];\n");
        let mut nodes = std::collections::BTreeSet::new();
        for change in &self.changes {
            let address = change.address().to_string();
            if !nodes.insert(address.clone()) {
                continue; // a duplicate found with the same address
            }
            let color = match change.action {
                Action::Create => "darkgreen",
                Action::Update => "darkorange",
                Action::Replace => "purple",
                Action::Delete => "red",
                Action::Unchanged => "gray",
            };
            // `\n` is DOT's line break inside a label.
            let label = format!("\"{} {}\\n{}\"", change.action.sign(), change.action.verb(), escape(&change.label()));
            let _ = writeln!(out, "  {} [label={label}, color=\"{color}\"];", quote(&address));
        }
        let mut edges = std::collections::BTreeSet::new();
        for want in desired {
            for reference in resources::references(&want.spec) {
                let (from, to) = (want.address.to_string(), reference.to.to_string());
                if nodes.contains(&from) && nodes.contains(&to) {
                    edges.insert((from, to));
                }
            }
        }
        for (from, to) in edges {
            let _ = writeln!(out, "  {} -> {};", quote(&from), quote(&to));
        }
        out.push_str("}\n");
        out
    }
}

/// Compares the desired resources with the found ones. Each desired resource
/// matches the first found one at its address; later ones at that address
/// are duplicates, and found resources at addresses nothing desires are
/// left over from an earlier stack.yaml. Both are deleted.
pub fn plan(desired: &[Desired], found: &FoundSet) -> anyhow::Result<Plan> {
    let mut changes = Vec::new();
    for want in desired {
        let mut matches = found.items.iter().filter(|f| f.address == want.address);
        match matches.next() {
            None => changes.push(Change {
                kind: want.address.kind,
                name: want.address.name.clone(),
                id: want.id.clone(),
                action: Action::Create,
                fields: Vec::new(),
                reason: None,
            }),
            Some(have) => {
                let diff = resources::diff(&want.spec, &have.found)?;
                let action = if diff.replace {
                    Action::Replace
                } else if diff.fields.is_empty() {
                    Action::Unchanged
                } else {
                    Action::Update
                };
                changes.push(Change {
                    kind: want.address.kind,
                    name: want.address.name.clone(),
                    id: Some(have.id.clone()),
                    action,
                    fields: diff.fields,
                    reason: None,
                });
            }
        }
        for duplicate in matches {
            changes.push(delete(duplicate, "duplicate"));
        }
    }
    for extra in found.items.iter().filter(|f| !desired.iter().any(|d| d.address == f.address)) {
        changes.push(delete(extra, "not in stack.yaml"));
    }
    Ok(Plan { changes })
}

/// Deletes everything found, except what goes with a resource that is
/// deleted itself (an API's routes, a role's inline policy).
pub fn plan_destroy(found: &FoundSet) -> Plan {
    let deleted = |address: &Address| found.items.iter().any(|i| &i.address == address);
    let changes = found
        .items
        .iter()
        .filter(|item| !item.owner.as_ref().is_some_and(deleted))
        .map(|item| Change { reason: None, ..delete(item, "") })
        .collect();
    Plan { changes }
}

fn delete(item: &resources::FoundItem, reason: &str) -> Change {
    Change {
        kind: item.address.kind,
        name: item.address.name.clone(),
        id: Some(item.id.clone()),
        action: Action::Delete,
        fields: Vec::new(),
        reason: Some(reason.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Found, FoundItem, Ref, Spec, route};

    fn want(key: &str, target: &str, model: Option<&str>) -> Desired {
        Desired {
            address: Address::new(Kind::Route, key),
            id: None,
            spec: Spec::Route(route::Spec {
                api_id: Ref::new(Address::new(Kind::Api, "api"), Some("a1".into())),
                key: key.into(),
                target: Ref::new(Address::new(Kind::Integration, "chat"), Some(target.into())),
                authorization: "NONE".into(),
                authorizer: None,
                model: model.map(str::to_string),
                model_selection: model.map(|_| "$request.body.action".to_string()),
                mock: None,
                response_selection: None,
                invokes: vec!["chat".into()],
            }),
        }
    }

    fn have(id: &str, key: &str, target: &str, model: Option<&str>) -> FoundItem {
        FoundItem {
            address: Address::new(Kind::Route, key),
            id: id.into(),
            owner: Some(Address::new(Kind::Api, "api")),
            found: Found::Route(route::Found {
                api_id: "a1".into(),
                id: id.into(),
                key: key.into(),
                target: target.into(),
                authorization: "NONE".into(),
                authorizer_id: None,
                model: model.map(str::to_string),
                model_selection: model.map(|_| "$request.body.action".to_string()),
                response_selection: None,
            }),
        }
    }

    fn summary(plan: &Plan) -> Vec<String> {
        plan.changes
            .iter()
            .map(|c| format!("{:?} {} {} {:?}", c.action, c.name, c.id.as_deref().unwrap_or("-"), c.reason))
            .collect()
    }

    #[test]
    fn plan_creates_updates_keeps_and_deletes_duplicates_and_leftovers() {
        let desired = [
            want("send", "integrations/a", Some("sendabc")),
            want("list", "integrations/a", None),
            want("ping", "integrations/a", None),
            want("chat", "integrations/a", None),
        ];
        let found = FoundSet {
            items: vec![
                have("r1", "send", "integrations/a", Some("sendabc")),
                have("r2", "send", "integrations/a", Some("sendabc")),
                have("r3", "list", "integrations/old", None),
                have("r4", "gone", "integrations/a", None),
                have("r5", "chat", "integrations/a", Some("chatold")),
            ],
            notes: Vec::new(),
        };
        let plan = plan(&desired, &found).unwrap();
        assert_eq!(
            summary(&plan),
            [
                "Unchanged send r1 None",
                "Delete send r2 Some(\"duplicate\")",
                "Update list r3 None",
                "Create ping - None",
                "Replace chat r5 None",
                "Delete gone r4 Some(\"not in stack.yaml\")",
            ]
        );
        let list = &plan.changes[2];
        assert_eq!(list.fields, [FieldChange::new("target", "integrations/old", "integrations/a")]);
        assert_eq!(plan.counts(), Counts { create: 1, update: 1, replace: 1, delete: 2, unchanged: 1 });
        assert!(plan.render().contains("- delete    route gone (r4) (not in stack.yaml)"), "{}", plan.render());
    }

    #[test]
    fn destroy_skips_what_goes_with_its_owner() {
        let api = FoundItem {
            address: Address::new(Kind::Api, "api"),
            id: "abc".into(),
            owner: None,
            found: Found::Api(crate::resources::api::Found {
                id: "abc".into(),
                name: "x-dev".into(),
                route_selection: "$request.body.action".into(),
                tags: Default::default(),
                created: 0,
                arn: "arn".into(),
            }),
        };
        let with_api = FoundSet { items: vec![api.clone(), have("r1", "send", "t", None)], notes: Vec::new() };
        assert_eq!(summary(&plan_destroy(&with_api)), ["Delete api abc None"]);
        let orphan_route = FoundSet { items: vec![have("r1", "send", "t", None)], notes: Vec::new() };
        assert_eq!(summary(&plan_destroy(&orphan_route)), ["Delete send r1 None"]);
    }

    #[test]
    fn an_empty_plan_says_so() {
        let plan = Plan { changes: Vec::new() };
        assert!(plan.is_empty());
        assert_eq!(plan.render(), "No changes: 0 resources match stack.yaml.\n");
    }
}
