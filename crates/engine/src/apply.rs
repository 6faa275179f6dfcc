//! Carries out a plan. Each change starts as soon as the changes it depends
//! on are done, up to [`CONCURRENCY`] at once: a create or update waits for
//! the changes to the resources its spec references ([`resources::references`]);
//! deletes run after every create and update, each after the deletes of
//! the kinds that come after its kind in the table (the distribution before
//! the OAC it uses, the bucket after everything). A failure lets the changes
//! in flight finish and starts no new one: the next deploy discovers what
//! exists and continues from there.
//!
//! Each change's spec is rendered just before it is applied, with the values
//! AWS assigned to the changes before it; a value still unknown is an
//! [`resources::Unresolved`] error that names the resource it needs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::plan::{Action, Change, Plan};
use crate::progress::{Progress, Task};
use crate::resources::{self, Address, Clients, Desired, Env, FoundSet, Ids, Op};

/// Changes in flight at once. API Gateway's control plane throttles bursts
/// (the SDK retries those with backoff); eight keeps under its limits.
pub const CONCURRENCY: usize = 8;

/// One change that was carried out.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The change, with the id of what it created and the action it took
    /// (`Unchanged` when the fresh comparison found nothing left to do).
    pub change: Change,
    pub elapsed: Duration,
}

/// What an apply did.
#[derive(Debug)]
pub struct Outcome {
    pub applied: Vec<Applied>,
    /// The longest chain of changes that had to run one after another.
    pub waves: usize,
    /// Every id known at the end (the API id for the URL, ...).
    pub ids: Ids,
    /// Failures, each naming its resource; no change started after the first.
    pub errors: Vec<anyhow::Error>,
}

/// For each change, the changes that must be done before it starts.
fn blockers(changes: &[&Change], desired: &[Desired]) -> Vec<Vec<usize>> {
    let references: HashMap<&Address, Vec<Address>> = desired
        .iter()
        .map(|d| (&d.address, resources::references(&d.spec).into_iter().map(|r| r.to).collect()))
        .collect();
    let deleting = |c: &Change| c.action == Action::Delete;
    changes
        .iter()
        .map(|c| {
            let address = c.address();
            (0..changes.len())
                .filter(|&j| {
                    let other = changes[j];
                    match (deleting(c), deleting(other)) {
                        (false, false) => references.get(&address).is_some_and(|r| r.contains(&other.address())),
                        (true, false) => true,
                        (true, true) => other.kind.after().contains(&c.kind),
                        (false, true) => false,
                    }
                })
                .collect()
        })
        .collect()
}

/// How many changes of `plan` have to run one after another, at the most.
pub fn waves_needed(plan: &Plan, desired: &[Desired]) -> usize {
    let changes: Vec<&Change> = plan.actions().collect();
    depth(&blockers(&changes, desired))
}

/// The longest chain in `blockers` (which has no cycle: references follow
/// the table of kinds, and deletes its reverse).
fn depth(blockers: &[Vec<usize>]) -> usize {
    let mut level: Vec<Option<usize>> = vec![None; blockers.len()];
    fn of(i: usize, blockers: &[Vec<usize>], level: &mut Vec<Option<usize>>) -> usize {
        if let Some(l) = level[i] {
            return l;
        }
        let l = 1 + blockers[i].iter().map(|&j| of(j, blockers, level)).max().unwrap_or(0);
        level[i] = Some(l);
        l
    }
    (0..blockers.len()).map(|i| of(i, blockers, &mut level)).max().unwrap_or(0)
}

/// What an apply works with.
pub struct Apply<'a> {
    pub clients: &'a Clients,
    pub env: &'a Env,
    pub found: &'a FoundSet,
    pub progress: &'a Progress,
}

impl Apply<'_> {
    pub async fn run(&self, plan: &Plan, ids: Ids) -> Outcome {
        let changes: Vec<&Change> = plan.actions().collect();
        let blockers = blockers(&changes, &resources::desired(self.env, &ids));
        let ids = Mutex::new(ids);
        let mut outcome =
            Outcome { applied: Vec::new(), waves: depth(&blockers), ids: Ids::default(), errors: Vec::new() };
        let mut started = vec![false; changes.len()];
        let mut done = vec![false; changes.len()];
        let mut running = FuturesUnordered::new();
        loop {
            if outcome.errors.is_empty() {
                for i in 0..changes.len() {
                    if running.len() >= CONCURRENCY {
                        break;
                    }
                    if !started[i] && blockers[i].iter().all(|&j| done[j]) {
                        started[i] = true;
                        let change = changes[i];
                        let ids = &ids;
                        running.push(async move { (i, self.one(change, ids).await) });
                    }
                }
            }
            let Some((i, result)) = running.next().await else { break };
            done[i] = true;
            match result {
                Ok(applied) => outcome.applied.push(applied),
                Err(err) => outcome.errors.push(err),
            }
        }
        drop(running);
        outcome.ids = ids.into_inner().expect("ids lock poisoned");
        outcome
    }

    async fn one(&self, change: &Change, ids: &Mutex<Ids>) -> Result<Applied> {
        let task = self.progress.task(change.action.doing(), &change.label());
        let result = self.carry_out(change, ids, &task).await;
        match &result {
            Ok(applied) if applied.change.action == Action::Unchanged => task.clear(),
            Ok(applied) => task.finish(applied.change.action.done()),
            Err(_) => task.fail(),
        }
        result
    }

    async fn carry_out(&self, change: &Change, ids: &Mutex<Ids>, task: &Task) -> Result<Applied> {
        let address = change.address();
        let known = ids.lock().expect("ids lock poisoned").clone();
        let op = Op { clients: self.clients, env: self.env, task };
        let found = || {
            let id = change.id.as_deref().unwrap_or_default();
            self.found.get(&address, id).with_context(|| format!("{address} `{id}` was planned but not found"))
        };
        // This change's spec alone, with every value AWS has assigned so far.
        let desired = || -> Result<resources::Spec> {
            let want = resources::desired_one(self.env, &known, &address)
                .with_context(|| format!("{address} was planned but is not in stack.yaml"))?;
            if let Some(missing) = resources::references(&want).into_iter().find(|r| !r.known) {
                return Err(resources::Unresolved { needs: missing.to }).with_context(|| address.to_string());
            }
            Ok(want)
        };
        let mut done = change.clone();
        match change.action {
            Action::Create => {
                let id = resources::create(&op, &desired()?).await?;
                ids.lock().expect("ids lock poisoned").record(&address, &id);
                done.id = Some(id);
            }
            Action::Update | Action::Replace => {
                let spec = desired()?;
                let item = found()?;
                let diff = resources::diff(&spec, &item.found)?;
                if diff.replace {
                    resources::delete(&op, &item.found).await?;
                    let id = resources::create(&op, &spec).await?;
                    ids.lock().expect("ids lock poisoned").record(&address, &id);
                    done.id = Some(id);
                    done.action = Action::Replace;
                } else if diff.fields.is_empty() {
                    done.action = Action::Unchanged;
                } else {
                    resources::update(&op, &spec, &item.found).await?;
                    done.action = Action::Update;
                }
                done.fields = diff.fields;
            }
            Action::Delete => resources::delete(&op, &found()?.found).await?,
            Action::Unchanged => {}
        }
        Ok(Applied { change: done, elapsed: task.elapsed() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Kind;

    fn change(kind: Kind, action: Action) -> Change {
        Change { kind, name: "x".into(), id: None, action, fields: Vec::new(), reason: None }
    }

    #[test]
    fn deletes_run_after_creates_and_before_what_they_depend_on() {
        let changes = [
            change(Kind::Table, Action::Create),
            change(Kind::Route, Action::Delete),
            change(Kind::Integration, Action::Delete),
            change(Kind::Api, Action::Delete),
        ];
        let refs: Vec<&Change> = changes.iter().collect();
        let blockers = blockers(&refs, &[]);
        assert_eq!(blockers[0], Vec::<usize>::new());
        // The route goes after every create, the integration after the route,
        // the API after both.
        assert_eq!(blockers[1], [0]);
        assert_eq!(blockers[2], [0, 1]);
        assert_eq!(blockers[3], [0, 1, 2]);
        assert_eq!(depth(&blockers), 4);
    }
}
