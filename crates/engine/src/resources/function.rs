//! A Lambda function on `provided.al2023`: its configuration, environment,
//! tags and code. Code is uploaded only when the zip's SHA-256 differs from
//! the function's `CodeSha256`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, LastUpdateStatus, Runtime, State};

use super::{
    Env, FoundItem, IAM_PROPAGATION_LIMIT, Ids, Kind, Op, Ref, Reference, Resource, Tags, Unresolved, Want, poll,
    retry_while_iam_propagates, tags_field, tags_from_map,
};
use crate::aws::{AwsContext, Sent, Tagged, is_not_found, retag};
use crate::diff::FieldChange;
use wschat_stack::Auth;

pub const RUNTIME: &str = "provided.al2023";
/// The executable a custom runtime zip holds.
pub const HANDLER: &str = "bootstrap";

/// The variables the handlers read: chat-core owns the names.
pub use chat_core::config::vars;

/// Pending -> Active, and InProgress -> Successful, take seconds on AWS.
const STATE_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub role_arn: String,
    pub architecture: String,
    pub memory: i32,
    pub timeout: i32,
    /// The variables stack.yaml and wschat set.
    pub environment: BTreeMap<String, String>,
    /// The variables whose values AWS assigns to other resources (the queue
    /// URL, the Management API endpoint).
    pub assigned: BTreeMap<String, Ref<String>>,
    pub tags: Tags,
    /// The zip to deploy; `None` when nothing is built (plan, status).
    pub code: Option<Code>,
    /// The function's name in stack.yaml.
    pub function: String,
}

impl Spec {
    /// Every variable, to send to Lambda.
    pub fn variables(&self) -> Result<BTreeMap<String, String>, Unresolved> {
        let mut all = self.environment.clone();
        for (key, value) in &self.assigned {
            all.insert(key.clone(), value.get()?.clone());
        }
        Ok(all)
    }

    /// Every variable for people, `(known after apply)` where AWS has not
    /// assigned it yet.
    fn shown_variables(&self) -> BTreeMap<String, String> {
        let mut all = self.environment.clone();
        all.extend(self.assigned.iter().map(|(k, v)| (k.clone(), v.shown())));
        all
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub zip: PathBuf,
    /// Base64 SHA-256, Lambda's `CodeSha256`.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub arn: String,
    pub runtime: String,
    pub handler: String,
    pub role_arn: String,
    pub architecture: String,
    pub memory: i32,
    pub timeout: i32,
    pub environment: BTreeMap<String, String>,
    pub code_sha256: String,
    pub tags: Tags,
    /// `Pending`, `Active`, `Inactive` or `Failed`.
    pub state: String,
    pub state_reason: String,
    /// `Successful`, `InProgress` or `Failed`.
    pub last_update_status: String,
    pub last_update_reason: String,
}

impl Found {
    /// Why the function is broken, when Lambda says it is: it failed to
    /// become active, or its last update failed (Lambda then keeps serving
    /// what it had, and takes a new update).
    pub fn problem(&self) -> Option<String> {
        let reason = |r: &str| if r.is_empty() { "no reason given".to_string() } else { r.to_string() };
        if self.state == State::Failed.as_str() {
            Some(format!("state Failed: {}", reason(&self.state_reason)))
        } else if self.last_update_status == LastUpdateStatus::Failed.as_str() {
            Some(format!("last update Failed: {}", reason(&self.last_update_reason)))
        } else {
            None
        }
    }
}

pub fn spec(env: &Env, function: &str, ids: &Ids) -> Spec {
    let stack = &env.stack;
    let f = &stack.functions[function];
    let (environment, assigned) = match &stack.api.auth {
        Auth::Jwt(jwt) if stack.authorizer_function() == Some(function) => {
            (authorizer_environment(stack, f, jwt), BTreeMap::new())
        }
        _ => chat_environment(env, function, ids),
    };
    Spec {
        name: stack.function_name(function),
        role_arn: env.arns().role(function),
        architecture: f.architecture.as_str().to_string(),
        memory: f.memory,
        timeout: f.timeout,
        environment,
        assigned,
        tags: env.tags(),
        code: env.artifacts.get(function).map(|a| Code { zip: a.zip.clone(), sha256: a.sha256.clone() }),
        function: function.to_string(),
    }
}

fn set(environment: &mut BTreeMap<String, String>, key: &str, value: String) {
    environment.insert(key.to_string(), value);
}

/// The authorizer knows the issuer, and of the chat only the presence
/// table, where it reads whether a person is closed for flooding (a ban).
fn authorizer_environment(
    stack: &wschat_stack::Stack,
    f: &wschat_stack::Function,
    jwt: &wschat_stack::Jwt,
) -> BTreeMap<String, String> {
    let mut environment = f.environment.clone();
    set(&mut environment, vars::JWT_ISSUER, jwt.issuer.clone());
    set(&mut environment, vars::JWT_AUDIENCE, jwt.audience.join(","));
    if let Some(claim) = &jwt.name_claim {
        set(&mut environment, vars::JWT_NAME_CLAIM, claim.clone());
    }
    set(&mut environment, vars::PRESENCE_TABLE, stack.presence_table_name());
    environment
}

/// A chat handler's variables, and those AWS assigns (the queue's URL, the
/// Management API's endpoint).
fn chat_environment(env: &Env, function: &str, ids: &Ids) -> (BTreeMap<String, String>, BTreeMap<String, Ref<String>>) {
    let stack = &env.stack;
    let f = &stack.functions[function];
    let mut environment = f.environment.clone();
    set(&mut environment, vars::TABLE, stack.table_name());
    set(&mut environment, vars::FANOUT_CONCURRENCY, stack.chat.fanout_concurrency.to_string());
    set(&mut environment, vars::WELCOME_DELAY, stack.chat.welcome_delay.to_string());
    set(&mut environment, vars::TTL_ATTRIBUTE, stack.table.ttl_attribute.clone());
    set(&mut environment, vars::METRICS_NAMESPACE, stack.metrics_namespace());
    let serves_routes = stack.api.routes.values().any(|r| r.function() == Some(function));
    if serves_routes {
        // Flood control (`chat.limits`): the route handler admits each
        // frame against the caller's limits.
        let limits = stack.chat.limits();
        set(&mut environment, vars::MESSAGE_RATE, limits.messages.per_second.to_string());
        set(&mut environment, vars::MESSAGE_BURST, limits.messages.burst.to_string());
        set(&mut environment, vars::FRAME_RATE, limits.frames.per_second.to_string());
        set(&mut environment, vars::FRAME_BURST, limits.frames.burst.to_string());
        set(&mut environment, vars::CLOSE_AFTER, limits.close_after.to_string());
        set(&mut environment, vars::COOLDOWN, limits.cooldown_seconds.to_string());
    }
    if let (Some(history), true) = (&stack.chat.history, serves_routes) {
        set(&mut environment, vars::MESSAGES_TABLE, stack.messages_table_name());
        set(&mut environment, vars::HISTORY_MESSAGES, history.messages.to_string());
        set(&mut environment, vars::HISTORY_DAYS, history.days.to_string());
    }
    // Presence (docs/presence.md): the route handler counts joins and
    // leaves and gathers digests; the consumer renders and fans them out.
    if serves_routes || f.queue.is_some() {
        set(&mut environment, vars::PRESENCE_TABLE, stack.presence_table_name());
        set(&mut environment, vars::PRESENCE, stack.chat.presence.to_string());
    }
    if f.queue.is_some() {
        // Only the queue's consumer fans out: it shards, paces, takes batches
        // and keeps the delivery ledger.
        set(&mut environment, vars::SHARD_SIZE, stack.chat.shard_size.to_string());
        set(&mut environment, vars::POST_RATE, stack.post_rate(&env.region).to_string());
        set(&mut environment, vars::MAX_CONCURRENCY, stack.chat.max_concurrency.to_string());
        set(&mut environment, vars::BATCH_SIZE, f.batch.to_string());
        set(&mut environment, vars::DELIVERIES_TABLE, stack.deliveries_table_name());
    }
    let mut assigned = BTreeMap::from([(vars::QUEUE_URL.to_string(), ids.queue_url(env))]);
    if f.queue.is_some() {
        let endpoint = ids.api().map(|id| stack.management_endpoint(id, &env.region));
        assigned.insert(vars::MANAGEMENT_ENDPOINT.to_string(), endpoint);
    }
    (environment, assigned)
}

/// Functions named like the stack's and tagged as its own, whose name left stack.yaml.
pub async fn find_orphan_functions(clients: &super::Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let functions = crate::aws::every(clients.lambda.list_functions().into_paginator().items().send())
        .await
        .aws_context(|| "listing Lambda functions".to_string())?;
    let prefix = env.stack.function_name("");
    let mut items = Vec::new();
    for config in functions {
        let (Some(name), Some(arn)) = (config.function_name(), config.function_arn()) else { continue };
        let (name, arn) = (name.to_string(), arn.to_string());
        let Some(function) = name.strip_prefix(&prefix).map(str::to_string) else { continue };
        if env.stack.functions.contains_key(&function) {
            continue;
        }
        let doing = || format!("reading the tags of Lambda function `{name}`");
        let tags = clients.lambda.list_tags().resource(&arn).send().done(doing).await?;
        let tags = tags_from_map(tags.tags.as_ref());
        if !env.owns(&tags) {
            continue;
        }
        items.push(FoundItem::new(function, name, None, super::Found::Function(found(config, arn, tags))));
    }
    Ok(items)
}

fn found(config: aws_sdk_lambda::types::FunctionConfiguration, arn: String, tags: Tags) -> Found {
    Found {
        name: config.function_name().unwrap_or_default().to_string(),
        arn,
        runtime: config.runtime().map_or("", |r| r.as_str()).to_string(),
        handler: config.handler().unwrap_or_default().to_string(),
        role_arn: config.role().unwrap_or_default().to_string(),
        architecture: config.architectures().first().map_or("x86_64", |a| a.as_str()).to_string(),
        memory: config.memory_size().unwrap_or_default(),
        timeout: config.timeout().unwrap_or_default(),
        environment: config
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        code_sha256: config.code_sha256().unwrap_or_default().to_string(),
        tags,
        state: config.state().map_or("", |s| s.as_str()).to_string(),
        state_reason: config.state_reason().unwrap_or_default().to_string(),
        last_update_status: config.last_update_status().map_or("", |s| s.as_str()).to_string(),
        last_update_reason: config.last_update_status_reason().unwrap_or_default().to_string(),
    }
}

pub async fn find_function(clients: &super::Clients, env: &Env, function: &str) -> Result<Option<FoundItem>> {
    let name = env.stack.function_name(function);
    let doing = || format!("reading Lambda function `{name}`");
    let Some(got) = clients.lambda.get_function().function_name(&name).send().found(doing).await? else {
        return Ok(None);
    };
    let Some(config) = got.configuration else { return Ok(None) };
    let arn = config.function_arn().map_or_else(|| env.arns().function(function), str::to_string);
    let found = found(config, arn, tags_from_map(got.tags.as_ref()));
    Ok(Some(FoundItem::new(function, name, None, super::Found::Function(found))))
}

/// What differs in the configuration (everything but code, architecture and tags).
fn config_fields(spec: &Spec, found: &Found) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    let mut check = |field: &str, from: String, to: String| {
        if from != to {
            fields.push(FieldChange::new(field, from, to));
        }
    };
    check("runtime", found.runtime.clone(), RUNTIME.to_string());
    check("handler", found.handler.clone(), HANDLER.to_string());
    check("role", found.role_arn.clone(), spec.role_arn.clone());
    check("memory", found.memory.to_string(), spec.memory.to_string());
    check("timeout", found.timeout.to_string(), spec.timeout.to_string());
    let want = spec.shown_variables();
    if want != found.environment {
        let keys: std::collections::BTreeSet<&String> = want.keys().chain(found.environment.keys()).collect();
        let show = |map: &BTreeMap<String, String>, k: &String| {
            format!("{k}={}", map.get(k).map_or("(unset)", String::as_str))
        };
        let changed: Vec<&String> = keys.into_iter().filter(|k| want.get(*k) != found.environment.get(*k)).collect();
        fields.push(FieldChange::new(
            "environment",
            changed.iter().map(|k| show(&found.environment, k)).collect::<Vec<_>>().join(", "),
            changed.iter().map(|k| show(&want, k)).collect::<Vec<_>>().join(", "),
        ));
    }
    fields
}

/// What needs a code upload: the zip, or the architecture (set with the code).
fn code_fields(spec: &Spec, found: &Found) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    if spec.architecture != found.architecture {
        fields.push(FieldChange::new("architecture", &found.architecture, &spec.architecture));
    }
    if let Some(code) = &spec.code
        && code.sha256 != found.code_sha256
    {
        fields.push(FieldChange::new("code", &found.code_sha256, &code.sha256));
    }
    fields
}

fn architecture(spec: &Spec) -> Architecture {
    Architecture::from(spec.architecture.as_str())
}

fn read_zip(spec: &Spec) -> Result<Vec<u8>> {
    let code = spec.code.as_ref().with_context(|| {
        format!("no zip for Lambda function `{}`; run `wschat build` or deploy without --no-build", spec.name)
    })?;
    std::fs::read(&code.zip).with_context(|| format!("reading `{}`", code.zip.display()))
}

/// The messages of Lambda's `InvalidParameterValueException` for a role that
/// IAM has not propagated to Lambda yet. They are the ones terraform-provider-aws
/// retries on create and on a role change (`internal/service/lambda/function.go`,
/// `retryFunctionOp`); the error code alone cannot tell them from a truly bad
/// parameter, so the message is matched (a last resort).
const ROLE_NOT_READY: [&str; 2] = [
    "The role defined for the function cannot be assumed by Lambda",
    "Lambda was unable to configure access to your environment variables because the KMS key is invalid for CreateGrant",
];

/// Whether a failed call means the function's role has not reached Lambda yet.
fn role_not_ready<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().is_some_and(|e| {
        e.code() == Some("InvalidParameterValueException")
            && e.message().is_some_and(|m| ROLE_NOT_READY.iter().any(|r| m.contains(r)))
    })
}

/// Whether Lambda refused a change because another change to the function is
/// still in progress (or it is still `Pending`): 409 `ResourceConflictException`.
fn update_in_progress<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().is_some_and(|e| e.code() == Some("ResourceConflictException"))
}

fn role_wait(spec: &Spec) -> String {
    format!(
        "waiting for IAM role `{}` to become assumable by Lambda (new roles take 5-15 s to propagate)",
        spec.role_arn
    )
}

fn role_still_not_ready(doing: &str, spec: &Spec) -> anyhow::Error {
    anyhow::anyhow!(
        "{doing} Lambda function `{}`: IAM role `{}` is still not assumable after {} s; check that it trusts lambda.amazonaws.com, then deploy again",
        spec.name,
        spec.role_arn,
        IAM_PROPAGATION_LIMIT.as_secs()
    )
}

/// Sends one update once the function takes updates, and again if another
/// update got in first (409 `ResourceConflictException`), a few times.
async fn send_update<T, E, R, F, Fut>(
    op: &Op<'_>,
    name: &str,
    mut call: F,
) -> Result<std::result::Result<T, SdkError<E, R>>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, R>>>,
{
    let mut tries = 0;
    loop {
        wait_function_ready(op, name, Readiness::BeforeChange).await?;
        match call().await {
            Err(e) if update_in_progress(&e) && tries < 5 => tries += 1,
            other => return Ok(other),
        }
    }
}

/// What a wait for a function follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Before a change: the function must take updates. A failed earlier
    /// update does not stop the next one.
    BeforeChange,
    /// After this deploy's own create or update: it must have worked.
    AfterChange,
}

/// How long a function just created may be missing from `GetFunction`
/// (eventual consistency) before that counts as an error.
const VISIBLE_LIMIT: Duration = Duration::from_secs(30);

/// Waits until the function is `Active` and no update is `InProgress`: Lambda
/// refuses the next change until then (Lambda Developer Guide, "Lambda
/// function states"; terraform-provider-aws waits the same way in
/// `waitFunctionCreated` and `waitFunctionUpdated`).
pub async fn wait_function_ready(op: &Op<'_>, name: &str, readiness: Readiness) -> Result<()> {
    let what = format!("waiting for Lambda function `{name}` to be ready");
    let started = std::time::Instant::now();
    poll(op.task, &what, STATE_LIMIT, || async {
        let config = match op.clients.lambda.get_function_configuration().function_name(name).send().await {
            Err(e) if is_not_found(&e) && started.elapsed() < VISIBLE_LIMIT => {
                op.task.waiting(&format!("waiting for Lambda to list function `{name}` (just created)"));
                return Ok(None);
            }
            other => other.aws_context(|| format!("reading Lambda function `{name}`"))?,
        };
        match config.state() {
            Some(State::Failed) => anyhow::bail!(
                "Lambda function `{name}` failed to become active: {}",
                config.state_reason().unwrap_or("no reason given")
            ),
            Some(State::Pending) => {
                op.task.waiting(&format!("waiting for Lambda function `{name}` to leave Pending"));
                return Ok(None);
            }
            _ => {}
        }
        match config.last_update_status() {
            Some(LastUpdateStatus::Failed) if readiness == Readiness::AfterChange => anyhow::bail!(
                "the update of Lambda function `{name}` failed: {}; fix the cause and deploy again",
                config.last_update_status_reason().unwrap_or("no reason given")
            ),
            Some(LastUpdateStatus::InProgress) => {
                op.task.waiting(&format!("waiting for Lambda function `{name}`: LastUpdateStatus InProgress"));
                Ok(None)
            }
            _ => Ok(Some(())),
        }
    })
    .await
}

/// The stack's Lambda functions.
pub struct Function;

impl Resource for Function {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let (mine, orphans) = tokio::try_join!(
            reads.each_function(|f| find_function(reads.clients, reads.env, f)),
            find_orphan_functions(reads.clients, reads.env),
        )?;
        Ok(mine.into_iter().flatten().chain(orphans).collect())
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        let mut refs =
            vec![Reference::exists(Kind::LogGroup, &spec.function), Reference::exists(Kind::Role, &spec.function)];
        refs.extend(spec.assigned.values().map(Ref::reference));
        refs
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        env.stack.functions.keys().map(|f| Want::new(f, env.stack.function_name(f), spec(env, f, ids))).collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = config_fields(spec, found);
        fields.extend(code_fields(spec, found));
        fields.extend(tags_field(&spec.tags, &found.tags));
        // A failed function is brought back by sending its configuration and code again.
        if let Some(problem) = found.problem() {
            fields.push(FieldChange::new("health", problem, "Active, last update Successful"));
        }
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let zip = read_zip(spec)?;
        let variables = spec.variables()?;
        let create = || {
            op.clients
                .lambda
                .create_function()
                .function_name(&spec.name)
                .runtime(Runtime::from(RUNTIME))
                .handler(HANDLER)
                .role(&spec.role_arn)
                .architectures(architecture(spec))
                .memory_size(spec.memory)
                .timeout(spec.timeout)
                .environment(
                    Environment::builder().set_variables(Some(variables.clone().into_iter().collect())).build(),
                )
                .code(FunctionCode::builder().zip_file(Blob::new(zip.clone())).build())
                .set_tags(Some(super::tags_to_map(&spec.tags)))
                .send()
        };
        let created = match retry_while_iam_propagates(op.task, &role_wait(spec), create, role_not_ready).await {
            Err(e) if role_not_ready(&e) => return Err(role_still_not_ready("creating", spec)),
            other => other.aws_context(|| format!("creating Lambda function `{}`", spec.name))?,
        };
        wait_function_ready(op, &spec.name, Readiness::AfterChange).await?;
        Ok(created.function_arn.unwrap_or_else(|| spec.name.clone()))
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let lambda = &op.clients.lambda;
        // Lambda takes a new update after a failed one: send everything again.
        let failed = found.problem().is_some();
        if failed || !config_fields(spec, found).is_empty() {
            let variables = spec.variables()?;
            let configure = || {
                lambda
                    .update_function_configuration()
                    .function_name(&spec.name)
                    .runtime(Runtime::from(RUNTIME))
                    .handler(HANDLER)
                    .role(&spec.role_arn)
                    .memory_size(spec.memory)
                    .timeout(spec.timeout)
                    .environment(
                        Environment::builder().set_variables(Some(variables.clone().into_iter().collect())).build(),
                    )
                    .send()
            };
            // A new role is subject to IAM propagation here as on create.
            let why = role_wait(spec);
            let updated =
                send_update(op, &spec.name, || retry_while_iam_propagates(op.task, &why, configure, role_not_ready))
                    .await?;
            match updated {
                Err(e) if role_not_ready(&e) => return Err(role_still_not_ready("updating", spec)),
                other => {
                    other.aws_context(|| format!("updating the configuration of Lambda function `{}`", spec.name))?
                }
            };
            wait_function_ready(op, &spec.name, Readiness::AfterChange).await?;
        }
        if failed || !code_fields(spec, found).is_empty() {
            let zip = read_zip(spec)?;
            send_update(op, &spec.name, || {
                lambda
                    .update_function_code()
                    .function_name(&spec.name)
                    .architectures(architecture(spec))
                    .zip_file(Blob::new(zip.clone()))
                    .send()
            })
            .await?
            .aws_context(|| format!("uploading the code of Lambda function `{}`", spec.name))?;
            wait_function_ready(op, &spec.name, Readiness::AfterChange).await?;
        }
        let what = format!("Lambda function `{}`", spec.name);
        retag(Tagged::Function(lambda, &found.arn), &what, &spec.tags, &found.tags).await
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting Lambda function `{}`", found.name);
        op.clients.lambda.delete_function().function_name(&found.name).send().gone(doing).await
    }

    fn problem(found: &Found) -> Option<String> {
        found.problem()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            name: "s-dev-chat".into(),
            role_arn: "arn:aws:iam::1:role/wschat/s/dev/s-dev-chat".into(),
            architecture: "x86_64".into(),
            memory: 256,
            timeout: 10,
            environment: [("A".to_string(), "1".to_string()), ("B".to_string(), "2".to_string())].into(),
            assigned: BTreeMap::new(),
            tags: Tags::new(),
            code: Some(Code { zip: "chat.zip".into(), sha256: "new".into() }),
            function: "chat".into(),
        }
    }

    fn found() -> Found {
        let s = spec();
        Found {
            name: s.name,
            arn: "arn:aws:lambda:us-east-1:1:function:s-dev-chat".into(),
            runtime: RUNTIME.into(),
            handler: HANDLER.into(),
            role_arn: s.role_arn,
            architecture: s.architecture,
            memory: s.memory,
            timeout: s.timeout,
            environment: s.environment,
            code_sha256: "new".into(),
            tags: Tags::new(),
            state: "Active".into(),
            state_reason: String::new(),
            last_update_status: "Successful".into(),
            last_update_reason: String::new(),
        }
    }

    #[test]
    fn the_same_function_has_no_diff() {
        assert_eq!(Function::diff(&spec(), &found()), Vec::new());
    }

    #[test]
    fn environment_changes_name_only_the_changed_variables() {
        let mut f = found();
        f.environment.insert("B".into(), "3".into());
        f.environment.insert("C".into(), "4".into());
        assert_eq!(Function::diff(&spec(), &f), [FieldChange::new("environment", "B=3, C=4", "B=2, C=(unset)")]);
    }

    #[test]
    fn a_failed_last_update_is_a_difference_that_deploy_repairs() {
        let mut f = found();
        f.last_update_status = "Failed".into();
        f.last_update_reason = "out of ENIs".into();
        assert_eq!(f.problem().as_deref(), Some("last update Failed: out of ENIs"));
        assert_eq!(
            Function::diff(&spec(), &f),
            [FieldChange::new("health", "last update Failed: out of ENIs", "Active, last update Successful")]
        );
        assert_eq!(found().problem(), None);
    }

    #[test]
    fn the_queue_consumer_alone_gets_the_fanout_settings_its_batch_and_the_ledger() {
        let env = crate::resources::tests::shipped();
        let chat = super::spec(&env, "chat", &Ids::default()).environment;
        let notify = super::spec(&env, "notify", &Ids::default()).environment;
        assert_eq!(notify[vars::SHARD_SIZE], chat_core::config::DEFAULT_SHARD_SIZE.to_string());
        assert_eq!(notify[vars::POST_RATE], "9000");
        assert_eq!(notify[vars::MAX_CONCURRENCY], "10");
        assert_eq!(notify[vars::BATCH_SIZE], "10");
        assert_eq!(notify[vars::DELIVERIES_TABLE], "wschat-dev-deliveries");
        for environment in [&chat, &notify] {
            assert_eq!(environment[vars::FANOUT_CONCURRENCY], "32");
        }
        for var in [vars::SHARD_SIZE, vars::POST_RATE, vars::MAX_CONCURRENCY, vars::BATCH_SIZE, vars::DELIVERIES_TABLE]
        {
            assert!(!chat.contains_key(var), "the chat function never fans out: {var} in {chat:?}");
        }
    }

    #[test]
    fn the_route_handler_alone_gets_the_history_settings_and_none_while_history_is_off() {
        let mut env = crate::resources::tests::shipped();
        let history = [vars::MESSAGES_TABLE, vars::HISTORY_MESSAGES, vars::HISTORY_DAYS];
        let chat = super::spec(&env, "chat", &Ids::default()).environment;
        assert_eq!(chat[vars::MESSAGES_TABLE], "wschat-dev-messages");
        assert_eq!(chat[vars::HISTORY_MESSAGES], "50");
        assert_eq!(chat[vars::HISTORY_DAYS], "7");
        let notify = super::spec(&env, "notify", &Ids::default()).environment;
        assert!(history.iter().all(|var| !notify.contains_key(*var)), "{notify:?}");
        env.stack.chat.history = Some(wschat_stack::History { messages: 20, days: 30 });
        let chat = super::spec(&env, "chat", &Ids::default()).environment;
        assert_eq!((chat[vars::HISTORY_MESSAGES].as_str(), chat[vars::HISTORY_DAYS].as_str()), ("20", "30"));
        env.stack.chat.history = None;
        let chat = super::spec(&env, "chat", &Ids::default()).environment;
        assert!(history.iter().all(|var| !chat.contains_key(*var)), "{chat:?}");
    }

    #[test]
    fn both_chat_handlers_get_the_presence_table_and_threshold_and_the_authorizer_does_not() {
        let mut env = crate::resources::tests::shipped();
        for function in ["chat", "notify"] {
            let environment = super::spec(&env, function, &Ids::default()).environment;
            assert_eq!(environment[vars::PRESENCE_TABLE], "wschat-dev-presence", "{function}");
            assert_eq!(environment[vars::METRICS_NAMESPACE], "wschat/wschat-dev", "{function}");
            assert_eq!(environment[vars::PRESENCE], "100", "{function}: chat.presence's default");
        }
        env.stack.chat.presence = 0;
        assert_eq!(super::spec(&env, "notify", &Ids::default()).environment[vars::PRESENCE], "0");
        let env = crate::resources::tests::shipped_with_sign_in();
        let authorizer = super::spec(&env, "authorizer", &Ids::default()).environment;
        // The authorizer reads bans in the presence table, and nothing else of it.
        assert_eq!(authorizer[vars::PRESENCE_TABLE], "wschat-dev-presence");
        assert!(!authorizer.contains_key(vars::PRESENCE));
    }

    #[test]
    fn the_route_handler_alone_gets_chat_limits_with_chat_cores_defaults() {
        let limits = [
            vars::MESSAGE_RATE,
            vars::MESSAGE_BURST,
            vars::FRAME_RATE,
            vars::FRAME_BURST,
            vars::CLOSE_AFTER,
            vars::COOLDOWN,
        ];
        let mut env = crate::resources::tests::shipped();
        let chat = super::spec(&env, "chat", &Ids::default()).environment;
        let got: Vec<&str> = limits.iter().map(|var| chat[*var].as_str()).collect();
        let d = chat_core::limits::DEFAULT_LIMITS;
        let want = [
            d.messages.per_second.to_string(),
            d.messages.burst.to_string(),
            d.frames.per_second.to_string(),
            d.frames.burst.to_string(),
            d.close_after.to_string(),
            d.cooldown_seconds.to_string(),
        ];
        assert_eq!(got, want);
        // chat-core reads them back as they were.
        let read = chat_core::config::Config::from_vars(|name| chat.get(name).cloned()).unwrap();
        assert_eq!(read.settings.limits, d);
        let notify = super::spec(&env, "notify", &Ids::default()).environment;
        assert!(limits.iter().all(|var| !notify.contains_key(*var)), "{notify:?}");

        env.stack.chat.limits.messages.rate = Some(0.5);
        env.stack.chat.limits.cooldown = Some(600);
        let chat = super::spec(&env, "chat", &Ids::default()).environment;
        assert_eq!((chat[vars::MESSAGE_RATE].as_str(), chat[vars::COOLDOWN].as_str()), ("0.5", "600"));
        assert_eq!(chat[vars::MESSAGE_BURST], d.messages.burst.to_string(), "unset values stay chat-core's");
    }

    #[test]
    fn code_is_compared_only_when_there_is_a_zip() {
        let mut f = found();
        f.code_sha256 = "old".into();
        assert_eq!(Function::diff(&spec(), &f), [FieldChange::new("code", "old", "new")]);
        let unbuilt = Spec { code: None, ..spec() };
        assert_eq!(Function::diff(&unbuilt, &f), Vec::new());
    }
}
