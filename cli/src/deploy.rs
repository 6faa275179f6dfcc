//! `wschat plan`, `deploy`, `status` and `destroy`: load the stack, read what
//! AWS has, compare, and (for deploy and destroy) apply.
//!
//! Results go to stdout (one JSON document with `--json`); progress, notes
//! and errors go to stderr.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::build::{self, Artifact};
use crate::cli::{Args, DeployArgs, DestroyArgs, PlanArgs};
use crate::cost;
use wschat_engine::apply::{self, Apply};
use wschat_engine::aws::Aws;
use wschat_engine::plan::{self, Action, Change, Counts, Plan};
use wschat_engine::progress::Progress;
use wschat_engine::report::{self, ChangeReport, CountsReport, FieldReport};
use wschat_engine::resources::{self, Clients, Env, FoundSet, Ids, Kind, distribution, site, stage};
use wschat_stack::website::PageAuth;
use wschat_stack::{self as stack, Auth, Jwt, Stack};

/// A stack with its AWS connection and what exists.
struct Session {
    aws: Aws,
    clients: Clients,
    env: Env,
    found: FoundSet,
    started: Instant,
}

/// Which zips a command works with.
enum Zips {
    /// Build them first (deploy).
    Build,
    /// Those of the last build; all required (deploy --no-build).
    Required,
    /// Those of the last build, where they exist (plan and status compare code when they can).
    IfPresent,
    /// None (destroy).
    None,
}

fn artifacts(stack: &Stack, zips: Zips) -> Result<BTreeMap<String, Artifact>> {
    let read = |f: &String| build::read_artifact(stack, f).map(|a| (f.clone(), a));
    Ok(match zips {
        Zips::Build => build::build(stack)?.into_iter().map(|a| (a.function.clone(), a)).collect(),
        Zips::Required => stack.functions.keys().map(read).collect::<Result<_>>()?,
        Zips::IfPresent => {
            stack.functions.keys().filter(|f| build::zip_path(stack, f).is_file()).map(read).collect::<Result<_>>()?
        }
        Zips::None => BTreeMap::new(),
    })
}

/// Loads stack.yaml, connects to AWS and reads what the stack has there.
/// What config.json tells the page about `jwt`'s issuer, from its discovery document.
async fn page_auth(jwt: &Jwt) -> Result<PageAuth> {
    let fail = |why: String| {
        anyhow::anyhow!(
            "api.auth.jwt.issuer `{}`: {why}; check that it is the issuer exactly as tokens carry it in `iss`, \
             and that this machine can reach it",
            jwt.issuer
        )
    };
    let found = chat_core::oidc::discover(&jwt.issuer)
        .await
        .map_err(|e| fail(format!("reading its discovery document: {e}")))?;
    PageAuth::from_discovery(jwt, found).map_err(fail)
}

async fn open(args: &Args, zips: Zips, progress: &Progress) -> Result<Session> {
    let started = Instant::now();
    let stack = stack::load(&args.file, &args.stage)?;
    let destroying = matches!(zips, Zips::None);
    let artifacts = artifacts(&stack, zips)?;
    let target = args.aws.for_stack(&stack);
    let aws = Aws::load(&target).await?;
    if !destroying {
        stack.check_region(aws.region())?;
    }
    let account = aws.account().await?;
    let mut env = Env::new(stack, aws.region().to_string(), account, artifacts)?;
    env.destroying = destroying;
    // What config.json tells the page of the issuer; destroy needs none of it.
    if let (Auth::Jwt(jwt), false) = (&env.stack.api.auth, destroying) {
        env.page_auth = Some(page_auth(jwt).await?);
    }
    if let Some(zone) = env.stack.domain.as_ref().and_then(|d| d.zone.clone()) {
        match resources::dns_record::find_zone(&aws.route53(), &zone).await {
            Ok(found) => env.zone = Some(found),
            // Destroy finds the records through the certificates' tags.
            Err(_) if destroying => {}
            Err(err) => return Err(err),
        }
    }
    let clients = Clients::new(&aws);
    if env.stack.domain.is_some() {
        // Once a run: what discovery and the user's certificates read from.
        env.certificate_listing = resources::certificate::list_certificates(&clients, &env).await?;
        // The user's certificates that cover the names; destroy uses none.
        if !destroying {
            env.user_certificates = resources::certificate::find_user_certificates(&clients, &env).await?;
        }
    }
    let task = progress.task(
        "reading",
        &format!(
            "stack `{}`, stage `{}` in {} (account {})",
            env.stack.name, env.stack.stage, env.region, env.account.id
        ),
    );
    let found = match resources::discover(&clients, &env).await {
        Ok(found) => found,
        Err(err) => {
            task.fail();
            return Err(err);
        }
    };
    task.finish("read");
    let ids = found.ids();
    for wanted in resources::certificate::wanted(&env) {
        if let Some(user) = resources::certificate::user_certificate(&env, &ids, &wanted.name) {
            progress.println(&user.note(&wanted.name));
        }
    }
    for note in &found.notes {
        tracing::debug!("{note}");
    }
    Ok(Session { aws, clients, env, found, started })
}

impl Session {
    fn plan(&self) -> Result<Plan> {
        let desired = resources::desired(&self.env, &self.found.ids());
        plan::plan(&desired, &self.found)
    }

    fn calls(&self) -> Calls {
        let log = self.aws.calls();
        Calls { total: log.total(), mutating: log.mutating().len(), operations: log.mutating_by_operation() }
    }

    fn urls(&self, ids: &Ids, stage_exists: bool, website: &Website) -> Urls {
        let websocket = match (ids.api().value, stage_exists) {
            (Some(id), true) => Some(self.env.stack.websocket_url(&id, &self.env.region)),
            _ => None,
        };
        let host = |d: &DistributionReport| match &self.env.stack.domain {
            Some(domain) => domain.name.clone(),
            None => d.domain.clone(),
        };
        Urls { website: website.distribution.as_ref().map(|d| format!("https://{}", host(d))), websocket }
    }

    /// With `domain:`, each name, where it should point, and whether DNS
    /// says it does (names that are not registered do not resolve; that is
    /// a finding, not a failure).
    async fn check_dns(&self, ids: &Ids) -> Vec<DnsCheck> {
        let Some(domain) = &self.env.stack.domain else { return Vec::new() };
        let site = ids.aliases.get(&resources::Address::new(Kind::Distribution, "site"));
        let api = ids.aliases.get(&resources::Address::new(Kind::ApiDomain, domain.websocket_name()));
        let mut checks = Vec::new();
        for (name, target) in [(domain.name.as_str(), site), (domain.websocket_name(), api)] {
            let target = target.map(|t| t.dns_name.clone());
            let resolves = match (resolve(name).await, &target) {
                (None, _) => "does not resolve",
                (Some(_), None) => "resolves (its target does not exist yet)",
                (Some(have), Some(target)) => match resolve(target).await {
                    Some(want) if have.iter().any(|a| want.contains(a)) => "resolves to the target",
                    Some(_) => "resolves elsewhere",
                    None => "resolves (the target does not)",
                },
            };
            checks.push(DnsCheck { name: name.to_string(), target, resolves });
        }
        checks
    }

    /// With `domain:` and no zone, the records the user must create: each
    /// name a CNAME of its target (or, in Route 53, an alias A/AAAA).
    async fn print_alias_records(&self, website: &Website, progress: &Progress) -> Result<()> {
        let (Some(domain), None) = (&self.env.stack.domain, &self.env.zone) else { return Ok(()) };
        let api = resources::dns_record::api_domain_target(&self.clients, domain.websocket_name()).await?;
        let mut records = vec![format!("{}. CNAME {}.", domain.websocket_name(), api.dns_name)];
        if let Some(d) = &website.distribution {
            records.insert(0, format!("{}. CNAME {}.", domain.name, resources::dns_record::plain(&d.domain)));
        }
        for record in records {
            progress.println(&format!("create this DNS record (domain has no zone): {record}"));
        }
        Ok(())
    }

    /// The website as discovery found it, with the distribution `ids` names.
    fn website(&self, ids: &Ids) -> Website {
        let env = &self.env;
        let objects = self.found.of::<site::Site>().next().map(|(_, site)| site.objects.len());
        let distribution = ids.distribution().value.and_then(|id| {
            let (_, d) = self.found.of::<distribution::Distribution>().find(|(_, d)| d.id == id)?;
            Some(DistributionReport { id: d.id.clone(), domain: d.domain_name.clone(), status: d.status.clone() })
        });
        Website {
            bucket: env.stack.bucket_name(&env.account.id, &env.region),
            cdn: env.stack.website.cdn,
            objects,
            distribution,
        }
    }

    /// The website after a deploy: the files just synced, and the
    /// distribution read again when the deploy created or changed it (its
    /// status is then InProgress on AWS). With `wait`, waits until it is Deployed.
    async fn deployed_website(&self, outcome: &apply::Outcome, wait: bool, progress: &Progress) -> Result<Website> {
        let mut website = self.website(&outcome.ids);
        website.objects = site::spec(&self.env, &outcome.ids).files.known().map(BTreeMap::len);
        let Some(id) = outcome.ids.distribution().value.filter(|_| website.cdn) else { return Ok(website) };
        let id = id.as_str();
        let touched =
            outcome.applied.iter().any(|a| a.change.kind == Kind::Distribution && a.change.action != Action::Unchanged);
        if touched || website.distribution.is_none() {
            let (domain, status) = distribution::read(&self.clients, id).await?;
            website.distribution = Some(DistributionReport { id: id.to_string(), domain, status });
        }
        let Some(report) = website.distribution.as_mut() else { return Ok(website) };
        if report.status == distribution::DEPLOYED {
            return Ok(website);
        }
        if wait {
            let task = progress.task("waiting for", &format!("CloudFront distribution {id}"));
            match distribution::wait_deployed(&self.clients, &task, id, "deploying to every edge location").await {
                Ok(_) => {
                    task.finish("deployed");
                    report.status = distribution::DEPLOYED.to_string();
                }
                Err(err) => {
                    task.fail();
                    return Err(err);
                }
            }
        } else {
            progress.println(&format!(
                "note: CloudFront is deploying distribution {id} ({}); the website URL answers in 5–15 minutes. \
                 `wschat status` shows when it is Deployed; `wschat deploy --wait` waits for it.",
                report.status
            ));
        }
        Ok(website)
    }

    /// Waits until the stage serves this deploy's changes to the API, so that
    /// the printed URL answers with them.
    async fn confirm_stage(&self, ids: &Ids, progress: &Progress) -> Result<StageReport> {
        let name = self.env.stack.api_stage().to_string();
        let Some(api) = ids.api().value else { return Ok(StageReport { name, deployment: None }) };
        let task = progress.task("deploying", &format!("API stage {name} (AutoDeploy)"));
        match stage::wait_deployed(&self.clients, &task, &api, &name).await {
            Ok(stage::Deployed::Live(id)) => {
                task.finish("deployed");
                Ok(StageReport { name, deployment: Some(id) })
            }
            Ok(_) => {
                task.clear();
                Ok(StageReport { name, deployment: None })
            }
            Err(err) => {
                task.fail();
                Err(err)
            }
        }
    }

    /// How the change moves the monthly estimate (`wschat cost`'s model, at
    /// its usage for plans); `None` for a stack the model does not price.
    fn cost(&self) -> Option<cost::deployed::Moved> {
        let stack = &self.env.stack;
        let priced = || -> Result<cost::deployed::Moved> {
            // The folder as Env read it: no second walk.
            let page = cost::page_of(&self.env.site);
            let wanted = cost::settings(stack, &self.env.region, stack.website.cdn.then_some(page))?;
            let deployed = cost::deployed::settings(stack, &wanted, &self.found, page);
            let (prices, _) = cost::prices::for_region(&self.env.region);
            Ok(cost::deployed::moved(deployed.as_ref(), &wanted, prices))
        };
        priced().inspect_err(|e| tracing::debug!("no cost estimate for the plan: {e:#}")).ok()
    }

    fn header(&self) -> Header {
        Header {
            stack: self.env.stack.name.clone(),
            stage: self.env.stack.stage.clone(),
            region: self.env.region.clone(),
            account: self.env.account.id.clone(),
        }
    }
}

/// Where a stack lives.
#[derive(Debug, Serialize)]
struct Header {
    stack: String,
    stage: String,
    region: String,
    account: String,
}

/// The stack's endpoints, where they exist.
#[derive(Debug, Default, Serialize)]
pub struct Urls {
    /// `https://{distribution domain}`; none without CloudFront.
    pub website: Option<String>,
    /// `wss://{api_id}.execute-api.{region}.amazonaws.com/{stage}`.
    pub websocket: Option<String>,
}

impl Urls {
    fn render(&self, website: &Website) -> String {
        let mut out = String::new();
        match &self.website {
            Some(url) => out.push_str(&format!("website:   {url}\n")),
            None if !website.cdn => out.push_str(&format!(
                "website:   s3://{} (private: website.cdn is false, so nothing serves it)\n",
                website.bucket
            )),
            None => {}
        }
        if let Some(url) = &self.websocket {
            out.push_str(&format!("websocket: {url}\n"));
        }
        out
    }
}

/// One name of `domain:` in `status`.
#[derive(Debug, Serialize)]
struct DnsCheck {
    name: String,
    /// The distribution's or the API Gateway domain's DNS name.
    target: Option<String>,
    resolves: &'static str,
}

/// The addresses `name` resolves to, within a few seconds; `None` when it does not.
async fn resolve(name: &str) -> Option<Vec<std::net::IpAddr>> {
    let lookup = tokio::net::lookup_host((name.to_string(), 443));
    let found = tokio::time::timeout(std::time::Duration::from_secs(3), lookup).await.ok()?.ok()?;
    let addresses: Vec<std::net::IpAddr> = found.map(|a| a.ip()).collect();
    (!addresses.is_empty()).then_some(addresses)
}

/// The API's stage after a deploy.
#[derive(Debug, Serialize)]
struct StageReport {
    name: String,
    /// The deployment the stage serves, when this deploy changed the API and
    /// waited for API Gateway to deploy it.
    deployment: Option<String>,
}

/// The website's bucket and distribution.
#[derive(Debug, Serialize)]
struct Website {
    bucket: String,
    /// Whether CloudFront serves the bucket (`website.cdn`).
    cdn: bool,
    /// Objects in the bucket; none when the bucket does not exist.
    objects: Option<usize>,
    distribution: Option<DistributionReport>,
}

#[derive(Debug, Serialize)]
struct DistributionReport {
    id: String,
    domain: String,
    /// `InProgress` or `Deployed`.
    status: String,
}

/// AWS API calls the command made.
#[derive(Debug, Clone, Serialize)]
struct Calls {
    total: usize,
    mutating: usize,
    /// Mutating calls by operation (`PutObject`, `CreateInvalidation`...).
    operations: BTreeMap<String, usize>,
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// `wschat plan`: what deploy would change. Reads only.
pub async fn plan(args: &Args, plan_args: &PlanArgs) -> Result<()> {
    let progress = Progress::stderr();
    let session = open(args, Zips::IfPresent, &progress).await?;
    let plan = session.plan()?;
    if plan_args.graph {
        let desired = resources::desired(&session.env, &session.found.ids());
        print!("{}", plan.graph(&desired));
        return Ok(());
    }
    if session.env.artifacts.len() < session.env.stack.functions.len() {
        progress.println(
            "note: functions without a zip in target/wschat are compared without their code (run `wschat build`)",
        );
    }
    let changes = plan.actions().next().is_some();
    let shown = if args.json {
        #[derive(Serialize)]
        struct PlanReport {
            #[serde(flatten)]
            header: Header,
            changes: Vec<ChangeReport>,
            counts: CountsReport,
            waves: usize,
            calls: Calls,
            /// The monthly estimate before and after, at `cost`'s plan usage.
            cost: Option<cost::deployed::Moved>,
        }
        print_json(&PlanReport {
            header: session.header(),
            changes: plan.actions().map(ChangeReport::from).collect(),
            counts: plan.counts().into(),
            waves: apply::waves_needed(&plan, &resources::desired(&session.env, &session.found.ids())),
            calls: session.calls(),
            cost: session.cost(),
        })
    } else {
        print!("{}", plan.render());
        if let Some(moved) = session.cost().filter(|m| m.moves()) {
            print!("\n{}", moved.line());
        }
        Ok(())
    };
    shown?;
    if plan_args.detailed_exitcode && changes {
        return Err(crate::PlanHasChanges.into());
    }
    Ok(())
}

/// Fails an apply that stopped on errors, with each of them: `stopped` says
/// how far it got (from the changes applied and planned), `again` which
/// command to run again once the cause is fixed.
fn fail_if_stopped(
    outcome: &apply::Outcome,
    plan: &Plan,
    stopped: impl FnOnce(usize, usize) -> String,
    again: &str,
) -> Result<()> {
    if outcome.errors.is_empty() {
        return Ok(());
    }
    let messages: Vec<String> = outcome.errors.iter().map(wschat_engine::aws::report).collect();
    anyhow::bail!(
        "{}:\n  {}\nFix the cause and run {again}.",
        stopped(outcome.applied.len(), plan.actions().count()),
        messages.join("\n  ")
    )
}

/// `wschat deploy`: converge AWS to stack.yaml.
pub async fn deploy(args: &Args, deploy: &DeployArgs) -> Result<()> {
    let progress = Progress::stderr();
    let zips = if deploy.no_build { Zips::Required } else { Zips::Build };
    let session = open(args, zips, &progress).await?;
    let plan = session.plan()?;
    let apply = Apply { clients: &session.clients, env: &session.env, found: &session.found, progress: &progress };
    let outcome = apply.run(&plan, session.found.ids()).await;

    let mut counts = Counts { unchanged: plan.counts().unchanged, ..Counts::default() };
    for applied in &outcome.applied {
        counts.add(applied.change.action);
    }
    fail_if_stopped(
        &outcome,
        &plan,
        |done, all| format!("deploy stopped after {done} of {all} changes"),
        "`wschat deploy` again: it continues from what exists",
    )?;
    let deployment = session.confirm_stage(&outcome.ids, &progress).await?;
    let website = session.deployed_website(&outcome, deploy.wait, &progress).await?;
    session.print_alias_records(&website, &progress).await?;
    // A deploy that finished has its stage.
    let urls = session.urls(&outcome.ids, true, &website);
    let calls = session.calls();
    let elapsed = session.started.elapsed();
    if args.json {
        #[derive(Serialize)]
        struct Done {
            #[serde(flatten)]
            change: ChangeReport,
            seconds: f64,
        }
        #[derive(Serialize)]
        struct DeployReport {
            #[serde(flatten)]
            header: Header,
            urls: Urls,
            #[serde(rename = "api_stage")]
            deployment: StageReport,
            website: Website,
            counts: CountsReport,
            changes: Vec<Done>,
            waves: usize,
            calls: Calls,
            seconds: f64,
        }
        print_json(&DeployReport {
            header: session.header(),
            urls,
            deployment,
            website,
            counts: counts.into(),
            changes: outcome
                .applied
                .iter()
                .filter(|a| a.change.action != Action::Unchanged)
                .map(|a| Done { change: ChangeReport::from(&a.change), seconds: a.elapsed.as_secs_f64() })
                .collect(),
            waves: outcome.waves,
            calls,
            seconds: elapsed.as_secs_f64(),
        })
    } else {
        println!(
            "{} created, {} updated, {} replaced, {} deleted, {} unchanged; {} waves, {} AWS calls ({} mutating), {:.1} s",
            counts.create,
            counts.update,
            counts.replace,
            counts.delete,
            counts.unchanged,
            outcome.waves,
            calls.total,
            calls.mutating,
            elapsed.as_secs_f64()
        );
        print!("{}", urls.render(&website));
        Ok(())
    }
}

/// One row of `wschat status`.
#[derive(Debug, Serialize)]
struct Row {
    /// The kind's name in the table of kinds.
    kind: &'static str,
    #[serde(skip)]
    label: &'static str,
    name: String,
    id: Option<String>,
    /// What the table shows in its ID column.
    #[serde(skip)]
    display: String,
    /// ok, missing, drifted or failed (AWS says the resource is broken:
    /// a Lambda function whose last update failed).
    state: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

fn row(change: &Change, found: &FoundSet) -> Row {
    let item = || found.get(&change.address(), change.id.as_deref()?);
    let described = || resources::describe(&item()?.found);
    let problem = item().and_then(|i| resources::problem(&i.found));
    let (state, detail) = match change.action {
        Action::Unchanged => ("ok", described()),
        Action::Create => ("missing", None),
        Action::Update | Action::Replace if problem.is_some() => ("failed", described()),
        Action::Update | Action::Replace => ("drifted", described()),
        Action::Delete => {
            ("drifted", Some(format!("{}; deploy deletes it", change.reason.as_deref().unwrap_or("extra"))))
        }
    };
    Row {
        kind: change.kind.name(),
        label: change.kind.label(),
        name: change.name.clone(),
        id: change.id.clone(),
        display: change.display_id(),
        state,
        fields: report::fields(&change.fields),
        detail,
    }
}

/// `wschat status`: every resource, ok / missing / drifted, and the URLs. Reads only.
pub async fn status(args: &Args) -> Result<()> {
    let progress = Progress::stderr();
    let session = open(args, Zips::IfPresent, &progress).await?;
    let plan = session.plan()?;
    let rows: Vec<Row> = plan.changes.iter().map(|c| row(c, &session.found)).collect();
    let stage_exists = plan.changes.iter().any(|c| c.kind == Kind::Stage && c.action != Action::Create);
    let ids = session.found.ids();
    let website = session.website(&ids);
    let urls = session.urls(&ids, stage_exists, &website);
    let dns = session.check_dns(&ids).await;
    if args.json {
        #[derive(Serialize)]
        struct StatusReport {
            #[serde(flatten)]
            header: Header,
            resources: Vec<Row>,
            urls: Urls,
            website: Website,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            dns: Vec<DnsCheck>,
            calls: Calls,
        }
        return print_json(&StatusReport {
            header: session.header(),
            resources: rows,
            urls,
            website,
            dns,
            calls: session.calls(),
        });
    }
    let kind_width = rows.iter().map(|r| r.label.len()).max().unwrap_or(4).max(4);
    let id_width = rows.iter().map(|r| r.display.chars().count().min(60)).max().unwrap_or(2).max(2);
    println!("{:<kind_width$}  {:<id_width$}  STATE", "KIND", "ID");
    for r in &rows {
        let id = resources::short(&r.display, 60);
        let mut detail: Vec<String> = r
            .fields
            .iter()
            .map(|f| format!("{}: {} → {}", f.field, resources::short(&f.from, 40), resources::short(&f.to, 40)))
            .collect();
        detail.extend(r.detail.clone());
        let line = format!("{:<kind_width$}  {id:<id_width$}  {}  {}", r.label, r.state, detail.join("; "));
        println!("{}", line.trim_end());
    }
    let count = |state: &str| rows.iter().filter(|r| r.state == state).count();
    let (missing, drifted, failed) = (count("missing"), count("drifted"), count("failed"));
    let mut summary = format!("{} ok, {missing} missing, {drifted} drifted", count("ok"));
    if failed > 0 {
        summary.push_str(&format!(", {failed} failed"));
    }
    println!("{summary}");
    for check in &dns {
        let target = check.target.as_deref().map_or(String::new(), |t| format!(" (should point at {t})"));
        println!("dns:       {} {}{target}", check.name, check.resolves);
    }
    print!("{}", urls.render(&website));
    Ok(())
}

/// `wschat destroy`: delete everything the stack owns, and nothing else.
pub async fn destroy(args: &Args, destroy: &DestroyArgs) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    if !destroy.yes && !interactive {
        return Err(crate::UsageError(
            "refusing to destroy without --yes: stdin is not a terminal, so there is no one to confirm".into(),
        )
        .into());
    }
    let progress = Progress::stderr();
    let session = open(args, Zips::None, &progress).await?;
    let plan = plan::plan_destroy(&session.found);
    let header = session.header();
    if plan.is_empty() {
        if args.json {
            return print_json(&DestroyReport {
                header,
                deleted: Vec::new(),
                waves: 0,
                calls: session.calls(),
                seconds: 0.0,
            });
        }
        println!(
            "Nothing to destroy: stack `{}`, stage `{}` has no resources in {}.",
            header.stack, header.stage, header.region
        );
        return Ok(());
    }
    if !destroy.yes {
        eprintln!("This deletes, in {} (account {}):", header.region, header.account);
        for change in plan.actions() {
            eprintln!("  - {}", change.label());
        }
        eprint!("Destroy stack `{}`, stage `{}`? Type `yes` to confirm: ", header.stack, header.stage);
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            anyhow::bail!("destroy cancelled; nothing was deleted");
        }
    }
    let apply = Apply { clients: &session.clients, env: &session.env, found: &session.found, progress: &progress };
    let outcome = apply.run(&plan, session.found.ids()).await;
    fail_if_stopped(
        &outcome,
        &plan,
        |done, all| format!("destroy stopped after deleting {done} of {all} resources"),
        "`wschat destroy` again: it finishes the job",
    )?;
    let elapsed = session.started.elapsed();
    let report = DestroyReport {
        header,
        deleted: outcome.applied.iter().map(|a| ChangeReport::from(&a.change)).collect(),
        waves: outcome.waves,
        calls: session.calls(),
        seconds: elapsed.as_secs_f64(),
    };
    if args.json {
        return print_json(&report);
    }
    println!(
        "Destroyed {} resources of stack `{}`, stage `{}`; {} waves, {} AWS calls, {:.1} s",
        report.deleted.len(),
        report.header.stack,
        report.header.stage,
        report.waves,
        report.calls.total,
        elapsed.as_secs_f64()
    );
    Ok(())
}

#[derive(Serialize)]
struct DestroyReport {
    #[serde(flatten)]
    header: Header,
    deleted: Vec<ChangeReport>,
    waves: usize,
    calls: Calls,
    seconds: f64,
}
