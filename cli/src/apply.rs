//! Carries out a plan in dependency waves ([`Kind::wave`]): creates and
//! updates in wave order, then deletes in the reverse order. Within a wave
//! every change runs at once (up to [`CONCURRENCY`]). A wave with a failure
//! lets its other changes finish, and then the apply stops: the next deploy
//! discovers what exists and continues from there.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;

use crate::plan::{Action, Change, Plan};
use crate::progress::{Progress, Task};
use crate::resources::{self, Clients, Env, FoundSet, Ids, Kind, Op, PENDING};

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
    /// Sequential waves that ran (waves with nothing to do are skipped).
    pub waves: usize,
    /// Every id known at the end (the API id for the URL, ...).
    pub ids: Ids,
    /// Failures, each naming its resource; the apply stopped after their wave.
    pub errors: Vec<anyhow::Error>,
}

/// The wave a change runs in: its kind's wave for creates and updates, and
/// after every one of those, in reverse order, for deletes.
pub fn wave_of(change: &Change) -> usize {
    let wave = change.kind.wave();
    match change.action {
        Action::Delete => 2 * Kind::last_wave() + 1 - wave,
        _ => wave,
    }
}

/// How many sequential waves the plan needs.
pub fn waves_needed(plan: &Plan) -> usize {
    let mut waves: Vec<usize> = plan.actions().map(wave_of).collect();
    waves.sort_unstable();
    waves.dedup();
    waves.len()
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
        let mut waves: BTreeMap<usize, Vec<&Change>> = BTreeMap::new();
        for change in plan.actions() {
            waves.entry(wave_of(change)).or_default().push(change);
        }
        let ids = Mutex::new(ids);
        let mut outcome = Outcome { applied: Vec::new(), waves: 0, ids: Ids::default(), errors: Vec::new() };
        for changes in waves.values() {
            outcome.waves += 1;
            let results: Vec<Result<Applied>> = futures::stream::iter(changes.iter().copied())
                .map(|change| self.one(change, &ids))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for result in results {
                match result {
                    Ok(applied) => outcome.applied.push(applied),
                    Err(err) => outcome.errors.push(err),
                }
            }
            if !outcome.errors.is_empty() {
                break;
            }
        }
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
        let desired = || -> Result<resources::Spec> {
            let want = resources::desired(self.env, &known)
                .into_iter()
                .find(|d| d.address == address)
                .with_context(|| format!("{address} was planned but is not in stack.yaml"))?;
            // Every value an earlier wave assigns is known by now; sending a
            // placeholder to AWS would be a bug in the waves.
            anyhow::ensure!(
                !format!("{:?}", want.spec).contains(PENDING),
                "{address} depends on a resource that does not exist yet (internal error in the dependency waves)"
            );
            Ok(want.spec)
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

    fn change(kind: Kind, action: Action) -> Change {
        Change { kind, name: "x".into(), id: None, action, fields: Vec::new(), reason: None }
    }

    #[test]
    fn deletes_run_after_creates_in_reverse_order() {
        let route_delete = wave_of(&change(Kind::Route, Action::Delete));
        let api_delete = wave_of(&change(Kind::Api, Action::Delete));
        let route_create = wave_of(&change(Kind::Route, Action::Create));
        assert!(route_create < route_delete);
        assert!(route_delete < api_delete);
        let plan = Plan {
            changes: vec![
                change(Kind::Table, Action::Create),
                change(Kind::Api, Action::Create),
                change(Kind::Route, Action::Create),
                change(Kind::Route, Action::Delete),
                change(Kind::Function, Action::Unchanged),
            ],
        };
        assert_eq!(waves_needed(&plan), 3);
    }
}
