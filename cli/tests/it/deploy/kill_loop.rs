//! The kill loops of `faults`, `domain` and `domain_reuse`: a deploy killed
//! (SIGKILL, where the realism proxy froze it) after each of a full deploy's
//! mutating calls in turn, each kill point on a stack and a proxy of its own,
//! then run again until it converges, then destroyed.
//!
//! Each step of a kill point mostly waits on the proxy's simulated AWS (IAM
//! propagation, Lambda states, API Gateway's one writer, the consistency
//! window), so [`AT_ONCE`] kill points run at a time, more than there are cores.

use std::future::Future;

use futures::StreamExt;
use serde_json::Value;
use test_support::realism::Freeze;

use test_support::Moto;
use wschat_engine::aws::Aws;

use super::{Cloud, Ended, Project, behaviours, cli, kill_at, mutating, sdk, settle};

/// How many kill points run at once: on 2 cores, the domain's loop took 205 s
/// at 4, 133 s at 8 and 151 s at 16 (its moto server busy).
pub const AT_ONCE: usize = 8;

/// The mutating calls of `cloud`'s log that reached AWS, as (service,
/// operation), in order: the kill points of a loop (the proxy's refusals,
/// throttling and the rest, changed nothing).
pub fn forwarded_mutating(cloud: &Cloud) -> Vec<(String, String)> {
    cloud
        .realism
        .log()
        .into_iter()
        .filter(|r| r.mutating && r.refused.is_none())
        .map(|r| (r.service, r.operation))
        .collect()
}

/// Runs `each` for every kill point in `points`, [`AT_ONCE`] at a time, and
/// checks that every one ran to its end.
pub async fn kill_loop<F, Fut>(points: &[usize], each: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let done = futures::stream::iter(points.iter().copied()).map(each).buffer_unordered(AT_ONCE).count().await;
    assert_eq!(done, points.len());
}

/// One kill point: a stack whose deploy was killed after its `k`th mutating
/// call, behind a proxy of its own with every behaviour on.
pub struct KillPoint {
    pub k: usize,
    pub project: Project,
    pub cloud: Cloud,
}

impl KillPoint {
    /// A kill point's cloud, with an SDK straight to its moto: a proxy of its
    /// own with every behaviour on, in front of the next of the shared moto
    /// servers ([`Moto::shared`] takes turns). A test's clouds share one
    /// server, and one server's Python holds one core: spread over all of
    /// them, a loop's kill points use every core.
    pub async fn cloud() -> (Cloud, Aws) {
        let cloud = Cloud::own(Moto::shared(), behaviours());
        let aws = sdk(&cloud).await;
        (cloud, aws)
    }

    /// Deploys `project` (`--no-build`) in `cloud` (from [`KillPoint::cloud`])
    /// and kills wschat after its `k`th mutating call that reached AWS. A
    /// deploy may finish before that only when `may_finish` (the last few
    /// calls do not come in every run), and then it must have succeeded.
    /// Waits out the consistency window after.
    pub async fn kill(cloud: Cloud, project: Project, k: usize, may_finish: bool) -> KillPoint {
        match kill_at(&cloud, &project, &["deploy", "--no-build"], Freeze::AfterMutations(k)).await {
            Ended::Killed => {}
            Ended::Finished(status, stderr) => assert!(may_finish && status.success(), "k={k}: {stderr}"),
        }
        settle().await;
        KillPoint { k, project, cloud }
    }

    /// `wschat ARGS` on this kill point's stack, run to its end.
    pub async fn wschat(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::from(cli(&self.cloud, &self.project, args)).output().await.expect("running wschat")
    }

    /// The deploy run again after the kill: it succeeds; its `--json` report.
    pub async fn resume(&self) -> Value {
        let resumed = self.wschat(&["--json", "deploy", "--no-build"]).await;
        assert!(resumed.status.success(), "k={}: {}", self.k, String::from_utf8_lossy(&resumed.stderr));
        serde_json::from_slice(&resumed.stdout).unwrap()
    }

    /// Once the consistency window is over, one more deploy changes nothing.
    pub async fn assert_converged(&self) {
        settle().await;
        let again = self.wschat(&["--json", "deploy", "--no-build"]).await;
        let again: Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(mutating(&again), 0, "k={}: not converged: {again:#}", self.k);
    }

    /// Once the consistency window is over, destroy succeeds.
    pub async fn destroy(&self) {
        settle().await;
        let destroyed = self.wschat(&["destroy", "--yes"]).await;
        assert!(destroyed.status.success(), "k={}: {}", self.k, String::from_utf8_lossy(&destroyed.stderr));
    }
}
