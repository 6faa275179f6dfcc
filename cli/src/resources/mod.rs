//! The AWS resources of a stack, one module per kind.
//!
//! Each module follows the same shape (after terraform-provider-aws):
//! `find_*` reads what AWS has and returns nothing when it is absent, `diff`
//! compares a desired `Spec` with a `Found` without any I/O, and `create`,
//! `update` and `delete` change AWS (a delete treats "not found" as success).
//!
//! This file holds what the kinds share: the [`Kind`] list with its waves,
//! the desired state of a stack ([`desired`]), discovery of what exists
//! ([`discover`]), and dispatch from a planned change to the module that
//! carries it out. Adding a kind means a module, a [`Kind`] variant with its
//! wave, a line in [`desired`] and [`discover`], and an arm in each dispatch `match`.
//!
//! Values that AWS assigns (the API id, the queue URL, integration ids) are
//! not known before the resources exist. [`Ids`] holds the ones known so far;
//! the desired state is rendered from it, with [`PENDING`] in place of what
//! is not known yet, once to plan and again before each change is applied.

pub mod api;
pub mod bucket;
pub mod bucket_policy;
pub mod distribution;
pub mod function;
pub mod integration;
pub mod log_group;
pub mod mapping;
pub mod model;
pub mod origin_access_control;
pub mod permission;
pub mod queue;
pub mod role;
pub mod role_policy;
pub mod route;
pub mod site;
pub mod stage;
pub mod table;

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::aws::{Account, Aws};
pub use crate::aws::{IAM_PROPAGATION_LIMIT, poll, retry_while, retry_while_iam_propagates};
use crate::build::Artifact;
pub use crate::diff::{
    Diff, FieldChange, Tags, decode_policy, json_equal, short, tag_changes, tags_field, tags_from_map, tags_to_map,
};
use crate::progress::Task;
use crate::stack::{Arns, Stack};

/// Placeholder for a value AWS assigns when an earlier wave creates something.
pub const PENDING: &str = "(known after apply)";

/// Every kind of resource a stack owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    LogGroup,
    Role,
    Table,
    DeadLetterQueue,
    Api,
    Bucket,
    OriginAccessControl,
    RolePolicy,
    Queue,
    Model,
    Stage,
    Distribution,
    Site,
    Function,
    BucketPolicy,
    Integration,
    Permission,
    Mapping,
    Route,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::LogGroup,
        Kind::Role,
        Kind::Table,
        Kind::DeadLetterQueue,
        Kind::Api,
        Kind::Bucket,
        Kind::OriginAccessControl,
        Kind::RolePolicy,
        Kind::Queue,
        Kind::Model,
        Kind::Stage,
        Kind::Distribution,
        Kind::Site,
        Kind::Function,
        Kind::BucketPolicy,
        Kind::Integration,
        Kind::Permission,
        Kind::Mapping,
        Kind::Route,
    ];

    /// The dependency wave this kind is created and updated in; deletes run
    /// in the reverse order, after every create and update.
    ///
    /// 1. nothing needed first: log groups, roles, the table, the DLQ, the
    ///    API, the bucket and the origin access control;
    /// 2. the queue (its redrive policy names the DLQ), role policies (they
    ///    name the API), models and the stage (inside the API), the
    ///    distribution (it names the OAC) and the site files (`config.json`
    ///    holds the API's URL);
    /// 3. functions (their role, and the queue URL and API id in their
    ///    environment) and the bucket policy (it names the distribution);
    /// 4. integrations, invoke permissions and the queue mapping (they name functions);
    /// 5. routes (they name integrations and models).
    ///
    /// Deletes run the other way round: the distribution goes before the OAC
    /// it uses, and the bucket (emptied first) after everything.
    pub fn wave(self) -> usize {
        match self {
            Kind::LogGroup
            | Kind::Role
            | Kind::Table
            | Kind::DeadLetterQueue
            | Kind::Api
            | Kind::Bucket
            | Kind::OriginAccessControl => 1,
            Kind::RolePolicy | Kind::Queue | Kind::Model | Kind::Stage | Kind::Distribution | Kind::Site => 2,
            Kind::Function | Kind::BucketPolicy => 3,
            Kind::Integration | Kind::Permission | Kind::Mapping => 4,
            Kind::Route => 5,
        }
    }

    /// The last create wave.
    pub fn last_wave() -> usize {
        Kind::ALL.iter().map(|k| k.wave()).max().unwrap_or(1)
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::LogGroup => "log group",
            Kind::Role => "IAM role",
            Kind::RolePolicy => "role policy",
            Kind::Table => "DynamoDB table",
            Kind::DeadLetterQueue => "dead-letter queue",
            Kind::Queue => "SQS queue",
            Kind::Function => "Lambda function",
            Kind::Mapping => "queue mapping",
            Kind::Api => "WebSocket API",
            Kind::Model => "route model",
            Kind::Integration => "integration",
            Kind::Route => "route",
            Kind::Stage => "API stage",
            Kind::Permission => "invoke permission",
            Kind::Bucket => "S3 bucket",
            Kind::BucketPolicy => "bucket policy",
            Kind::Site => "site files",
            Kind::OriginAccessControl => "origin access control",
            Kind::Distribution => "CloudFront distribution",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One resource of the stack: its kind and a name unique within the kind
/// (the function's name in stack.yaml, the route key, the stage name...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub name: String,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Address {
        Address { kind, name: name.into() }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// Everything the desired state is derived from: the stack, where it goes,
/// the function zips, the route schemas and the website's files.
#[derive(Debug)]
pub struct Env {
    pub stack: Stack,
    pub region: String,
    pub account: Account,
    /// Zips by function name. `plan` and `status` may have none (nothing built yet).
    pub artifacts: BTreeMap<String, Artifact>,
    /// Schemas by route key, canonical JSON.
    pub schemas: BTreeMap<String, model::Schema>,
    /// The files of `website.source`, hashed (without the generated `config.json`).
    pub site: Vec<site::File>,
}

impl Env {
    pub fn new(stack: Stack, region: String, account: Account, artifacts: BTreeMap<String, Artifact>) -> Result<Env> {
        let schemas = model::read_schemas(&stack)?;
        let site = site::read_source(&stack.dir.join(&stack.website.source))?;
        Ok(Env { stack, region, account, artifacts, schemas, site })
    }

    pub fn arns(&self) -> Arns<'_> {
        self.stack.arns(&self.account.partition, &self.region, &self.account.id)
    }

    /// The tags every resource carries.
    pub fn tags(&self) -> Tags {
        self.stack.resource_tags()
    }

    /// Whether tags found on a resource say it belongs to this stack and stage.
    pub fn owns(&self, tags: &Tags) -> bool {
        let want = self.tags();
        [crate::stack::TAG_STACK, crate::stack::TAG_STAGE].iter().all(|k| tags.get(*k) == want.get(*k))
    }
}

/// Values AWS assigns, as far as they are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    pub api_id: Option<String>,
    pub queue_url: Option<String>,
    /// Integration id by function name.
    pub integrations: BTreeMap<String, String>,
    pub oac_id: Option<String>,
    pub distribution_id: Option<String>,
}

impl Ids {
    /// Learns the id of something just created (or kept).
    pub fn record(&mut self, address: &Address, id: &str) {
        match address.kind {
            Kind::Api => self.api_id = Some(id.to_string()),
            Kind::Queue => self.queue_url = Some(id.to_string()),
            Kind::Integration => {
                self.integrations.insert(address.name.clone(), id.to_string());
            }
            Kind::OriginAccessControl => self.oac_id = Some(id.to_string()),
            Kind::Distribution => self.distribution_id = Some(id.to_string()),
            _ => {}
        }
    }

    fn api(&self) -> &str {
        self.api_id.as_deref().unwrap_or(PENDING)
    }
}

/// What one resource should look like.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    LogGroup(log_group::Spec),
    Role(role::Spec),
    RolePolicy(role_policy::Spec),
    Table(table::Spec),
    Queue(queue::Spec),
    Function(function::Spec),
    Mapping(mapping::Spec),
    Api(api::Spec),
    Model(model::Spec),
    Integration(integration::Spec),
    Route(route::Spec),
    Stage(stage::Spec),
    Permission(permission::Spec),
    Bucket(bucket::Spec),
    BucketPolicy(bucket_policy::Spec),
    Site(site::Spec),
    OriginAccessControl(origin_access_control::Spec),
    Distribution(distribution::Spec),
}

/// One resource the stack wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub address: Address,
    /// Its physical name when that is known before it exists.
    pub id: Option<String>,
    pub spec: Spec,
}

/// What AWS has for one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    LogGroup(log_group::Found),
    Role(role::Found),
    RolePolicy(role_policy::Found),
    Table(table::Found),
    Queue(queue::Found),
    Function(function::Found),
    Mapping(mapping::Found),
    Api(api::Found),
    Model(model::Found),
    Integration(integration::Found),
    Route(route::Found),
    Stage(stage::Found),
    Permission(permission::Found),
    Bucket(bucket::Found),
    BucketPolicy(bucket_policy::Found),
    Site(site::Found),
    OriginAccessControl(origin_access_control::Found),
    Distribution(distribution::Found),
}

/// One resource found in AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundItem {
    /// The address it answers to; a resource the stack no longer wants keeps
    /// an address that nothing desired has, and is deleted.
    pub address: Address,
    /// Its physical id (name, ARN, URL or AWS-assigned id).
    pub id: String,
    /// The resource whose deletion takes this one with it (an API its
    /// routes, a role its inline policy), so destroy skips this one.
    pub owner: Option<Address>,
    pub found: Found,
}

/// Everything found, plus notes for people about what could not be read.
#[derive(Debug, Clone, Default)]
pub struct FoundSet {
    pub items: Vec<FoundItem>,
    pub notes: Vec<String>,
}

impl FoundSet {
    /// The ids of the resources that already exist (the first of duplicates).
    pub fn ids(&self) -> Ids {
        let mut ids = Ids::default();
        for item in self.items.iter().rev() {
            ids.record(&item.address, &item.id);
        }
        ids
    }

    pub fn get(&self, address: &Address, id: &str) -> Option<&FoundItem> {
        self.items.iter().find(|i| &i.address == address && i.id == id)
    }
}

/// The stack's resources as stack.yaml wants them, with what `ids` knows.
pub fn desired(env: &Env, ids: &Ids) -> Vec<Desired> {
    let stack = &env.stack;
    let mut out = Vec::new();
    let mut push = |kind, name: &str, id: Option<String>, spec| {
        out.push(Desired { address: Address::new(kind, name), id, spec });
    };
    push(Kind::Table, "connections", Some(stack.table_name()), Spec::Table(table::spec(env)));
    push(Kind::DeadLetterQueue, "dlq", Some(stack.dlq_name()), Spec::Queue(queue::dlq_spec(env)));
    push(Kind::Queue, &stack.queue.name, Some(stack.queue_name()), Spec::Queue(queue::spec(env)));
    push(Kind::Api, "api", Some(stack.api_name()), Spec::Api(api::spec(env)));
    push(Kind::Stage, stack.api_stage(), Some(stack.api_stage().to_string()), Spec::Stage(stage::spec(env)));
    for name in stack.functions.keys() {
        push(Kind::LogGroup, name, Some(stack.log_group_name(name)), Spec::LogGroup(log_group::spec(env, name)));
        push(Kind::Role, name, Some(stack.role_name(name)), Spec::Role(role::spec(env, name)));
        push(
            Kind::RolePolicy,
            name,
            Some(stack.role_policy_name(name)),
            Spec::RolePolicy(role_policy::spec(env, name, ids.api())),
        );
        push(Kind::Function, name, Some(stack.function_name(name)), Spec::Function(function::spec(env, name, ids)));
        if let Some(spec) = mapping::spec(env, name) {
            push(Kind::Mapping, name, None, Spec::Mapping(spec));
        }
        if stack.api.routes.values().any(|r| &r.function == name) {
            push(Kind::Integration, name, None, Spec::Integration(integration::spec(env, name)));
            push(
                Kind::Permission,
                name,
                Some(stack.function_name(name)),
                Spec::Permission(permission::spec(env, name, ids.api())),
            );
        }
    }
    for (key, schema) in &env.schemas {
        let spec = model::spec(env, key, schema);
        push(Kind::Model, &spec.name.clone(), Some(spec.name.clone()), Spec::Model(spec));
    }
    for key in stack.api.routes.keys() {
        push(Kind::Route, key, None, Spec::Route(route::spec(env, key, ids)));
    }
    let bucket = stack.bucket_name(&env.account.id, &env.region);
    push(Kind::Bucket, "site", Some(bucket.clone()), Spec::Bucket(bucket::spec(env)));
    push(Kind::Site, "site", Some(bucket.clone()), Spec::Site(site::spec(env, ids)));
    if stack.website.cdn {
        push(
            Kind::OriginAccessControl,
            "site",
            Some(stack.oac_name()),
            Spec::OriginAccessControl(origin_access_control::spec(env)),
        );
        push(Kind::Distribution, "site", None, Spec::Distribution(distribution::spec(env, ids)));
        let distribution = ids.distribution_id.as_deref().unwrap_or(PENDING);
        push(Kind::BucketPolicy, "site", Some(bucket), Spec::BucketPolicy(bucket_policy::spec(env, distribution)));
    }
    out
}

/// Clients for every service the resources use, built once per command.
#[derive(Debug, Clone)]
pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigw: aws_sdk_apigatewayv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// When the API Gateway client last wrote to each API.
    pub api_writes: crate::aws::ApiWrites,
}

impl Clients {
    pub fn new(aws: &Aws) -> Clients {
        Clients {
            iam: aws.iam(),
            dynamodb: aws.dynamodb(),
            sqs: aws.sqs(),
            lambda: aws.lambda(),
            apigw: aws.apigatewayv2(),
            logs: aws.logs(),
            s3: aws.s3(),
            cloudfront: aws.cloudfront(),
            api_writes: aws.api_writes().clone(),
        }
    }
}

/// What a create, update or delete works with.
pub struct Op<'a> {
    pub clients: &'a Clients,
    pub env: &'a Env,
    /// The progress line of this change: waits say here why they wait.
    pub task: &'a Task,
}

/// Reads every resource of the stack. Independent reads run at once; the
/// API's routes, integrations, models and stages follow as soon as the API
/// is found.
pub async fn discover(clients: &Clients, env: &Env) -> Result<FoundSet> {
    let functions: Vec<&String> = env.stack.functions.keys().collect();
    let api_part = async {
        let apis = api::serving_first(clients, env, api::find_apis(clients, env).await?).await?;
        let Some(api) = apis.first() else { return Ok::<_, anyhow::Error>((apis, Vec::new(), Vec::new())) };
        let api_id = api.id.clone();
        let (routes, integrations, models, stages) = tokio::try_join!(
            route::find_routes(clients, env, &api_id),
            integration::find_integrations(clients, env, &api_id),
            model::find_models(clients, env, &api_id),
            stage::find_stages(clients, env, &api_id),
        )?;
        let (models, notes) = models;
        let mut children = Vec::new();
        children.extend(integration::referenced_first(integrations, &routes));
        children.extend(model::with_referenced(env, models, &routes));
        children.extend(routes);
        children.extend(stages);
        Ok((apis, children, notes))
    };
    let per_function = futures::future::try_join_all(functions.iter().map(|name| async move {
        let (role, policy, function, mappings, permissions) = tokio::try_join!(
            role::find_role(clients, env, name),
            role_policy::find_role_policy(clients, env, name),
            function::find_function(clients, env, name),
            mapping::find_mappings(clients, env, name),
            permission::find_permissions(clients, env, name),
        )?;
        let mut items: Vec<FoundItem> = [role, policy, function].into_iter().flatten().collect();
        items.extend(mappings);
        items.extend(permissions);
        Ok::<_, anyhow::Error>(items)
    }));
    // What the stack had under names stack.yaml no longer has.
    let orphans = async {
        let (functions, roles, queues) = tokio::try_join!(
            function::find_orphan_functions(clients, env),
            role::find_orphan_roles(clients, env),
            queue::find_orphan_queues(clients, env),
        )?;
        let mappings = futures::future::try_join_all(
            functions.iter().map(|f| mapping::find_mappings(clients, env, &f.address.name)),
        )
        .await?;
        let mut items = functions;
        items.extend(mappings.into_iter().flatten());
        items.extend(roles);
        items.extend(queues);
        Ok::<_, anyhow::Error>(items)
    };
    // The bucket's policy and objects are read once the bucket is found.
    let website_part = async {
        let (bucket, oacs, distributions) = tokio::try_join!(
            bucket::find_bucket(clients, env),
            origin_access_control::find_origin_access_controls(clients, env),
            distribution::find_distributions(clients, env),
        )?;
        let mut items: Vec<FoundItem> = oacs;
        items.extend(distributions);
        if let Some(bucket) = bucket {
            let (policy, site) =
                tokio::try_join!(bucket_policy::find_bucket_policy(clients, env), site::find_site(clients, env),)?;
            items.push(bucket);
            items.extend(policy);
            items.extend(site);
        }
        Ok::<_, anyhow::Error>(items)
    };
    let (api_part, per_function, orphans, website, table, dlq, queue, log_groups) = tokio::try_join!(
        api_part,
        per_function,
        orphans,
        website_part,
        table::find_table(clients, env),
        queue::find_queue(clients, env, Kind::DeadLetterQueue),
        queue::find_queue(clients, env, Kind::Queue),
        log_group::find_log_groups(clients, env),
    )?;
    let (apis, children, notes) = api_part;
    let mut items = Vec::new();
    items.extend(log_groups);
    items.extend(table);
    items.extend(dlq);
    items.extend(queue);
    items.extend(per_function.into_iter().flatten());
    items.extend(orphans);
    items.extend(apis.into_iter().map(api::Found::into_item));
    items.extend(children);
    items.extend(website);
    Ok(FoundSet { items, notes })
}

/// Compares a desired resource with what was found. Pure.
pub fn diff(spec: &Spec, found: &Found) -> Diff {
    match (spec, found) {
        (Spec::LogGroup(s), Found::LogGroup(f)) => Diff::fields(log_group::diff(s, f)),
        (Spec::Role(s), Found::Role(f)) => Diff::fields(role::diff(s, f)),
        (Spec::RolePolicy(s), Found::RolePolicy(f)) => Diff::fields(role_policy::diff(s, f)),
        (Spec::Table(s), Found::Table(f)) => Diff::fields(table::diff(s, f)),
        (Spec::Queue(s), Found::Queue(f)) => Diff::fields(queue::diff(s, f)),
        (Spec::Function(s), Found::Function(f)) => Diff::fields(function::diff(s, f)),
        (Spec::Mapping(s), Found::Mapping(f)) => Diff::fields(mapping::diff(s, f)),
        (Spec::Api(s), Found::Api(f)) => Diff::fields(api::diff(s, f)),
        (Spec::Model(s), Found::Model(f)) => Diff::fields(model::diff(s, f)),
        (Spec::Integration(s), Found::Integration(f)) => Diff::fields(integration::diff(s, f)),
        (Spec::Route(s), Found::Route(f)) => route::diff(s, f),
        (Spec::Stage(s), Found::Stage(f)) => Diff::fields(stage::diff(s, f)),
        (Spec::Permission(s), Found::Permission(f)) => permission::diff(s, f),
        (Spec::Bucket(s), Found::Bucket(f)) => Diff::fields(bucket::diff(s, f)),
        (Spec::BucketPolicy(s), Found::BucketPolicy(f)) => Diff::fields(bucket_policy::diff(s, f)),
        (Spec::Site(s), Found::Site(f)) => Diff::fields(site::diff(s, f)),
        (Spec::OriginAccessControl(s), Found::OriginAccessControl(f)) => {
            Diff::fields(origin_access_control::diff(s, f))
        }
        (Spec::Distribution(s), Found::Distribution(f)) => Diff::fields(distribution::diff(s, f)),
        _ => Diff { fields: vec![FieldChange::new("kind", "another kind", "this kind")], replace: true },
    }
}

/// Creates one resource and returns its physical id.
pub async fn create(op: &Op<'_>, address: &Address, spec: &Spec, ids: &Ids) -> Result<String> {
    match spec {
        Spec::LogGroup(s) => log_group::create(op, s).await,
        Spec::Role(s) => role::create(op, s).await,
        Spec::RolePolicy(s) => role_policy::create(op, s).await,
        Spec::Table(s) => table::create(op, s).await,
        Spec::Queue(s) => queue::create(op, s).await,
        Spec::Function(s) => function::create(op, s).await,
        Spec::Mapping(s) => mapping::create(op, s).await,
        Spec::Api(s) => api::create(op, s).await,
        Spec::Model(s) => model::create(op, s, need_api(ids, address)?).await,
        Spec::Integration(s) => integration::create(op, s, need_api(ids, address)?).await,
        Spec::Route(s) => route::create(op, s, need_api(ids, address)?).await,
        Spec::Stage(s) => stage::create(op, s, need_api(ids, address)?).await,
        Spec::Permission(s) => permission::create(op, s).await,
        Spec::Bucket(s) => bucket::create(op, s).await,
        Spec::BucketPolicy(s) => bucket_policy::put(op, s).await,
        Spec::Site(s) => site::create(op, s).await,
        Spec::OriginAccessControl(s) => origin_access_control::create(op, s).await,
        Spec::Distribution(s) => distribution::create(op, s).await,
    }
}

/// Brings one found resource to its desired state.
pub async fn update(op: &Op<'_>, spec: &Spec, item: &FoundItem, ids: &Ids) -> Result<()> {
    match (spec, &item.found) {
        (Spec::LogGroup(s), Found::LogGroup(f)) => log_group::update(op, s, f).await,
        (Spec::Role(s), Found::Role(f)) => role::update(op, s, f).await,
        (Spec::RolePolicy(s), Found::RolePolicy(_)) => role_policy::create(op, s).await.map(drop),
        (Spec::Table(s), Found::Table(f)) => table::update(op, s, f).await,
        (Spec::Queue(s), Found::Queue(f)) => queue::update(op, s, f).await,
        (Spec::Function(s), Found::Function(f)) => function::update(op, s, f).await,
        (Spec::Mapping(s), Found::Mapping(f)) => mapping::update(op, s, f).await,
        (Spec::Api(s), Found::Api(f)) => api::update(op, s, f).await,
        (Spec::Model(s), Found::Model(f)) => model::update(op, s, f, need_api(ids, &item.address)?).await,
        (Spec::Integration(s), Found::Integration(f)) => {
            integration::update(op, s, f, need_api(ids, &item.address)?).await
        }
        (Spec::Route(s), Found::Route(f)) => route::update(op, s, f, need_api(ids, &item.address)?).await,
        (Spec::Stage(s), Found::Stage(f)) => stage::update(op, s, f, need_api(ids, &item.address)?).await,
        (Spec::Permission(s), Found::Permission(f)) => {
            permission::delete(op, f).await?;
            permission::create(op, s).await.map(drop)
        }
        (Spec::Bucket(s), Found::Bucket(f)) => bucket::update(op, s, f).await,
        (Spec::BucketPolicy(s), Found::BucketPolicy(_)) => bucket_policy::put(op, s).await.map(drop),
        (Spec::Site(s), Found::Site(f)) => site::update(op, s, f).await,
        (Spec::OriginAccessControl(s), Found::OriginAccessControl(f)) => origin_access_control::update(op, s, f).await,
        (Spec::Distribution(s), Found::Distribution(f)) => distribution::update(op, s, f).await,
        _ => {
            anyhow::bail!("{} cannot be updated in place (internal error: spec and found differ in kind)", item.address)
        }
    }
}

/// Deletes one found resource; gone already is success.
pub async fn delete(op: &Op<'_>, item: &FoundItem, ids: &Ids) -> Result<()> {
    let api = || need_api(ids, &item.address);
    match &item.found {
        Found::LogGroup(f) => log_group::delete(op, f).await,
        Found::Role(f) => role::delete(op, f).await,
        Found::RolePolicy(f) => role_policy::delete(op, f).await,
        Found::Table(f) => table::delete(op, f).await,
        Found::Queue(f) => queue::delete(op, f).await,
        Found::Function(f) => function::delete(op, f).await,
        Found::Mapping(f) => mapping::delete(op, f).await,
        Found::Api(f) => api::delete(op, f).await,
        Found::Model(f) => model::delete(op, f, api()?).await,
        Found::Integration(f) => integration::delete(op, f, api()?).await,
        Found::Route(f) => route::delete(op, f, api()?).await,
        Found::Stage(f) => stage::delete(op, f, api()?).await,
        Found::Permission(f) => permission::delete(op, f).await,
        Found::Bucket(f) => bucket::delete(op, f).await,
        Found::BucketPolicy(f) => bucket_policy::delete(op, f).await,
        Found::Site(f) => site::delete(op, f).await,
        Found::OriginAccessControl(f) => origin_access_control::delete(op, f).await,
        Found::Distribution(f) => distribution::delete(op, f).await,
    }
}

/// What `status` says about a resource beside its state (the site's object
/// count, the distribution's deployment status).
pub fn describe(found: &Found) -> Option<String> {
    match found {
        Found::Site(f) => Some(site::describe(f)),
        Found::Distribution(f) => Some(distribution::describe(f)),
        _ => None,
    }
}

/// Why a found resource is broken, when AWS says it is (a Lambda function
/// whose last update failed): `status` shows it as failed, not drifted.
pub fn problem(found: &Found) -> Option<String> {
    match found {
        Found::Function(f) => f.problem(),
        _ => None,
    }
}

fn need_api<'a>(ids: &'a Ids, address: &Address) -> Result<&'a str> {
    ids.api_id.as_deref().with_context(|| format!("{address}: the WebSocket API does not exist (its creation failed)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_put_dependencies_first() {
        assert!(Kind::Role.wave() < Kind::Function.wave());
        assert!(Kind::DeadLetterQueue.wave() < Kind::Queue.wave());
        assert!(Kind::Api.wave() < Kind::RolePolicy.wave());
        assert!(Kind::Function.wave() < Kind::Integration.wave());
        assert!(Kind::Integration.wave() < Kind::Route.wave());
        assert!(Kind::Model.wave() < Kind::Route.wave());
        assert!(Kind::OriginAccessControl.wave() < Kind::Distribution.wave());
        assert!(Kind::Distribution.wave() < Kind::BucketPolicy.wave());
        assert!(Kind::Bucket.wave() < Kind::Site.wave());
        assert!(Kind::Api.wave() < Kind::Site.wave());
        assert_eq!(Kind::last_wave(), 5);
    }
}
