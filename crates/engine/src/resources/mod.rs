//! The AWS resources of a stack: one file per kind, and the table of kinds.
//!
//! Each kind implements [`Resource`] in its own file, with the whole of its
//! lifecycle: its spec (what stack.yaml wants) and found (what AWS has)
//! types, the instances a stack wants, `diff` (pure), and `create`, `update`
//! and `delete` (a delete treats "not found" as success). How a kind is read
//! from AWS lives in its file too; [`discover`] runs the reads together.
//!
//! The table of kinds ([`kinds!`] below) is the one place that lists them:
//! with each kind's label and the kinds that must exist before it. From it
//! come [`Kind`], the [`Spec`] and [`Found`] enums and the dispatch from a
//! planned change to its kind. Adding a kind is a file with its `Resource`
//! impl and one line in the table; the compiler checks the rest.
//!
//! Values that AWS assigns (the API id, the queue URL, integration ids) are
//! not known before the resources exist. A spec holds each as a [`Ref`]: the
//! resource that has it, and the value once it is known. [`Ids`] holds the
//! values known so far; the desired state is rendered from it to plan, and
//! each change's spec again before it is applied, when a value still
//! unknown is an error that names the resource it needs ([`Unresolved`]).

pub mod alarm;
pub mod alarm_rules;
pub mod alarm_subscription;
pub mod alarm_topic;
pub mod api;
pub mod api_domain;
pub mod api_mapping;
pub mod authorizer;
pub mod bucket;
pub mod bucket_policy;
pub mod certificate;
pub mod certificate_reads;
pub mod dashboard;
mod discover;
pub mod distribution;
pub mod dns_record;
pub mod function;
pub mod integration;
pub mod integration_response;
pub mod log_group;
pub mod mapping;
pub mod mock_integration;
pub mod model;
pub mod origin_access_control;
pub mod permission;
pub mod queue;
pub mod role;
pub mod role_policy;
pub mod route;
pub mod route_response;
pub mod site;
pub mod stage;
pub mod table;
pub mod validation_record;

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Result;

use crate::Artifact;
use crate::aws::{Account, Aws};
pub use crate::aws::{IAM_PROPAGATION_LIMIT, poll, retry_while, retry_while_iam_propagates};
pub use crate::diff::{
    Diff, FieldChange, Tags, decode_policy, json_equal, short, tag_changes, tags_field, tags_from_map, tags_to_map,
};
use crate::progress::Task;
pub use discover::{Reads, discover};
use wschat_stack::{Arns, Stack};

/// How a value is shown until AWS assigns it.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// A value another resource has, that AWS assigns (an API id, a queue URL):
/// the resource it comes from, and the value once that resource exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref<T> {
    pub to: Address,
    pub value: Option<T>,
}

impl<T> Ref<T> {
    pub fn new(to: Address, value: Option<T>) -> Ref<T> {
        Ref { to, value }
    }

    pub fn known(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The value, to send to AWS; unknown, an [`Unresolved`] error.
    pub fn get(&self) -> Result<&T, Unresolved> {
        self.value.as_ref().ok_or_else(|| Unresolved { needs: self.to.clone() })
    }

    /// A value made from this one (an ARN from an id), from the same resource.
    pub fn map<U>(&self, make: impl FnOnce(&T) -> U) -> Ref<U> {
        Ref { to: self.to.clone(), value: self.value.as_ref().map(make) }
    }

    /// What the spec says it references.
    pub fn reference(&self) -> Reference {
        Reference { to: self.to.clone(), known: self.value.is_some() }
    }
}

impl<T: fmt::Display> Ref<T> {
    /// The value for people: itself, or `(known after apply)`.
    pub fn shown(&self) -> String {
        self.value.as_ref().map_or_else(|| KNOWN_AFTER_APPLY.to_string(), T::to_string)
    }
}

/// A resource a spec names: one that must exist first, or whose value it holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub to: Address,
    /// False while the value the spec needs from it is unknown.
    pub known: bool,
}

impl Reference {
    /// A resource that must exist first, whose name the spec derives itself.
    pub fn exists(kind: Kind, name: impl Into<String>) -> Reference {
        Reference { to: Address::new(kind, name), known: true }
    }
}

/// A change that needs a value of a resource that does not exist yet: a bug
/// in the ordering, or what follows when that resource's change failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("needs {needs}, which does not exist yet (its change failed or did not run)")]
pub struct Unresolved {
    pub needs: Address,
}

/// One kind of AWS resource, its whole lifecycle. Dispatch is static: the
/// table of kinds generates the enums and the matches over them, and no
/// future of these methods is spawned, so none needs to be `Send`.
#[allow(async_fn_in_trait)]
pub trait Resource {
    /// What stack.yaml wants of one instance.
    type Spec: fmt::Debug + Clone + PartialEq;
    /// What AWS has for one instance.
    type Found: fmt::Debug + Clone + PartialEq;

    /// The instances stack.yaml wants, with what `ids` knows so far.
    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Self::Spec>>;

    /// Reads what AWS has of this kind: every instance of the stack's,
    /// those stack.yaml no longer wants included (they are left over, and
    /// deleted). Discovery calls it once the kinds it `reads` in the table
    /// have been read; [`Reads::found`] holds what they found.
    async fn find(reads: &Reads<'_>) -> Result<FoundSet>;

    /// What a found instance tells other kinds' specs besides its id (the
    /// name an alias record points at, the records a certificate asks for).
    fn learn(_address: &Address, _found: &Self::Found, _ids: &mut Ids) {}

    /// The resources `spec` names: those that must exist before it, and
    /// those it holds a value of. Each is of a kind the table lists it after.
    fn references(_spec: &Self::Spec) -> Vec<Reference> {
        Vec::new()
    }

    /// How `found` differs from `spec`, field by field. Pure.
    fn diff(spec: &Self::Spec, found: &Self::Found) -> Vec<FieldChange>;

    /// Whether the difference cannot be made in place: delete, then create.
    fn replaces(_spec: &Self::Spec, _found: &Self::Found) -> bool {
        false
    }

    /// Creates the resource and returns its physical id.
    async fn create(op: &Op<'_>, spec: &Self::Spec) -> Result<String>;

    /// Brings the resource to `spec` in place.
    async fn update(op: &Op<'_>, spec: &Self::Spec, found: &Self::Found) -> Result<()>;

    /// Deletes the resource; gone already is success.
    async fn delete(op: &Op<'_>, found: &Self::Found) -> Result<()>;

    /// What names one instance for people, from its name in the stack and
    /// its physical id when there is one: the id, by default.
    fn display(name: &str, id: Option<&str>) -> String {
        id.unwrap_or(name).to_string()
    }

    /// What `status` says about it beside its state (an object count, a
    /// deployment status).
    fn describe(_found: &Self::Found) -> Option<String> {
        None
    }

    /// Why it is broken, when AWS says it is (a Lambda function whose last
    /// update failed): `status` shows it as failed, not drifted.
    fn problem(_found: &Self::Found) -> Option<String> {
        None
    }
}

/// One instance a kind wants: its name within the kind, and its physical
/// name when that is known before it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Want<S> {
    pub name: String,
    pub id: Option<String>,
    pub spec: S,
}

impl<S> Want<S> {
    pub fn new(name: impl Into<String>, id: impl Into<Option<String>>, spec: S) -> Want<S> {
        Want { name: name.into(), id: id.into(), spec }
    }
}

/// The table of kinds: each kind, the type that implements it, its name in
/// `--json` documents, what people call it, the kinds that must exist
/// before it is created (its specs reference them; deletes go the other way
/// round), and the kinds whose found instances reading it needs (discovery
/// reads it once they are read). The order is the order of plans and of
/// `status`.
macro_rules! kinds {
    ($($kind:ident: $imp:ty, $name:literal, $label:literal, after [$($after:ident),*], reads [$($reads:ident),*];)*) => {
        /// Every kind of resource a stack owns.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($kind),*
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),*];

            /// Its name in `--json` documents: part of their contract.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$kind => $name),*
                }
            }

            /// What people call it.
            pub fn label(self) -> &'static str {
                match self {
                    $(Kind::$kind => $label),*
                }
            }

            /// What names one instance of the kind for people.
            pub fn display(self, name: &str, id: Option<&str>) -> String {
                match self {
                    $(Kind::$kind => <$imp as Resource>::display(name, id)),*
                }
            }

            /// The kinds that must exist before this one is created.
            pub fn after(self) -> &'static [Kind] {
                match self {
                    $(Kind::$kind => &[$(Kind::$after),*]),*
                }
            }

            /// The kinds whose found instances reading this one needs.
            pub fn reads(self) -> &'static [Kind] {
                match self {
                    $(Kind::$kind => &[$(Kind::$reads),*]),*
                }
            }
        }

        $(
            impl OfKind for $imp {
                const KIND: Kind = Kind::$kind;

                fn of(found: &Found) -> Option<&<$imp as Resource>::Found> {
                    match found {
                        Found::$kind(f) => Some(f),
                        _ => None,
                    }
                }
            }
        )*

        /// Reads every instance of `kind` ([`Resource::find`]).
        fn find<'a>(kind: Kind, reads: Reads<'a>) -> futures::future::LocalBoxFuture<'a, Result<FoundSet>> {
            match kind {
                $(Kind::$kind => Box::pin(async move { <$imp as Resource>::find(&reads).await })),*
            }
        }

        /// Learns what a found resource tells other specs ([`Resource::learn`]).
        fn learn(item: &FoundItem, ids: &mut Ids) {
            match &item.found {
                $(Found::$kind(f) => <$imp as Resource>::learn(&item.address, f, ids)),*
            }
        }

        /// What one resource should look like.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Spec {
            $($kind(<$imp as Resource>::Spec)),*
        }

        /// What AWS has for one resource.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Found {
            $($kind(<$imp as Resource>::Found)),*
        }

        impl Spec {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Spec::$kind(_) => Kind::$kind),*
                }
            }
        }

        impl Found {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Found::$kind(_) => Kind::$kind),*
                }
            }
        }

        /// The stack's resources as stack.yaml wants them, with what `ids` knows.
        pub fn desired(env: &Env, ids: &Ids) -> Vec<Desired> {
            let mut out = Vec::new();
            $(
                out.extend(<$imp as Resource>::desired(env, ids).into_iter().map(|w| Desired {
                    address: Address::new(Kind::$kind, w.name),
                    id: w.id,
                    spec: Spec::$kind(w.spec),
                }));
            )*
            out
        }

        /// The spec of one resource, rendered alone, with what `ids` knows.
        pub fn desired_one(env: &Env, ids: &Ids, address: &Address) -> Option<Spec> {
            match address.kind {
                $(Kind::$kind => <$imp as Resource>::desired(env, ids)
                    .into_iter()
                    .find(|w| w.name == address.name)
                    .map(|w| Spec::$kind(w.spec)),)*
            }
        }

        /// Compares a desired resource with what was found. Pure.
        pub fn diff(spec: &Spec, found: &Found) -> Result<Diff> {
            match (spec, found) {
                $((Spec::$kind(s), Found::$kind(f)) => Ok(Diff {
                    fields: <$imp as Resource>::diff(s, f),
                    replace: <$imp as Resource>::replaces(s, f),
                }),)*
                _ => Err(mismatch(spec.kind(), found.kind())),
            }
        }

        /// Creates one resource and returns its physical id.
        pub async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
            match spec {
                $(Spec::$kind(s) => <$imp as Resource>::create(op, s).await),*
            }
        }

        /// Brings one found resource to its desired state.
        pub async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
            match (spec, found) {
                $((Spec::$kind(s), Found::$kind(f)) => <$imp as Resource>::update(op, s, f).await,)*
                _ => Err(mismatch(spec.kind(), found.kind())),
            }
        }

        /// Deletes one found resource; gone already is success.
        pub async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
            match found {
                $(Found::$kind(f) => <$imp as Resource>::delete(op, f).await),*
            }
        }

        /// What `status` says about a resource beside its state.
        pub fn describe(found: &Found) -> Option<String> {
            match found {
                $(Found::$kind(f) => <$imp as Resource>::describe(f)),*
            }
        }

        /// The resources a spec names.
        pub fn references(spec: &Spec) -> Vec<Reference> {
            match spec {
                $(Spec::$kind(s) => <$imp as Resource>::references(s)),*
            }
        }

        /// Why a found resource is broken, when AWS says it is.
        pub fn problem(found: &Found) -> Option<String> {
            match found {
                $(Found::$kind(f) => <$imp as Resource>::problem(f)),*
            }
        }
    };
}

kinds! {
    LogGroup: log_group::LogGroup, "log_group", "log group", after [], reads [];
    Role: role::Role, "role", "IAM role", after [], reads [];
    Table: table::Table, "table", "DynamoDB table", after [], reads [];
    DeadLetterQueue: queue::DeadLetterQueue, "dead_letter_queue", "dead-letter queue", after [], reads [];
    Api: api::Api, "api", "WebSocket API", after [], reads [];
    Bucket: bucket::Bucket, "bucket", "S3 bucket", after [], reads [];
    OriginAccessControl: origin_access_control::OriginAccessControl, "origin_access_control", "origin access control", after [], reads [];
    Certificate: certificate::Certificate, "certificate", "ACM certificate", after [], reads [];
    ValidationRecord: validation_record::ValidationRecord, "validation_record", "validation records", after [Certificate], reads [Certificate];
    RolePolicy: role_policy::RolePolicy, "role_policy", "role policy", after [Role, Api], reads [];
    Queue: queue::Queue, "queue", "SQS queue", after [DeadLetterQueue], reads [];
    Model: model::Model, "model", "route model", after [Api], reads [Api];
    ApiDomain: api_domain::ApiDomain, "api_domain", "API Gateway domain", after [Certificate, ValidationRecord], reads [];
    Distribution: distribution::Distribution, "distribution", "CloudFront distribution", after [OriginAccessControl, Certificate, ValidationRecord], reads [];
    Function: function::Function, "function", "Lambda function", after [LogGroup, Role, Queue, Api], reads [];
    BucketPolicy: bucket_policy::BucketPolicy, "bucket_policy", "bucket policy", after [Bucket, Distribution], reads [Bucket];
    Integration: integration::Integration, "integration", "integration", after [Api, Function], reads [Api];
    MockIntegration: mock_integration::MockIntegration, "mock_integration", "MOCK integration", after [Api], reads [Api];
    IntegrationResponse: integration_response::IntegrationResponse, "integration_response", "integration response", after [Api, MockIntegration], reads [MockIntegration];
    Authorizer: authorizer::Authorizer, "authorizer", "authorizer", after [Api, Function], reads [Api];
    Permission: permission::Permission, "permission", "invoke permission", after [Api, Function, Authorizer], reads [];
    Mapping: mapping::Mapping, "mapping", "queue mapping", after [Function, Queue, RolePolicy], reads [Function];
    Route: route::Route, "route", "route", after [Api, Integration, MockIntegration, IntegrationResponse, Model, Authorizer, Permission], reads [Api];
    RouteResponse: route_response::RouteResponse, "route_response", "route response", after [Api, Route], reads [Route];
    Stage: stage::Stage, "stage", "API stage", after [Api, Route], reads [Api];
    ApiMapping: api_mapping::ApiMapping, "api_mapping", "API mapping", after [ApiDomain, Api, Stage], reads [ApiDomain];
    DnsRecord: dns_record::DnsRecord, "dns_record", "DNS record", after [ApiDomain, Distribution], reads [Certificate, ApiDomain, Distribution];
    Site: site::Site, "site", "site files", after [Bucket, Api, ApiMapping], reads [Bucket];
    AlarmTopic: alarm_topic::AlarmTopic, "alarm_topic", "alarm topic", after [], reads [];
    AlarmSubscription: alarm_subscription::AlarmSubscription, "alarm_subscription", "alarm e-mail subscription", after [AlarmTopic], reads [AlarmTopic];
    Alarm: alarm::Alarm, "alarm", "CloudWatch alarm", after [AlarmTopic], reads [];
    Dashboard: dashboard::Dashboard, "dashboard", "CloudWatch dashboard", after [Api], reads [];
}

/// A kind mismatch between a spec and what was found at its address cannot
/// happen (an address holds its kind); if it does, it is a bug, never a
/// reason to delete what exists.
fn mismatch(spec: Kind, found: Kind) -> anyhow::Error {
    anyhow::anyhow!("internal error: a {spec} spec was compared with a found {found}")
}

impl Kind {
    /// The dependency wave this kind is created and updated in: one after
    /// the last wave of the kinds it comes after. Deletes run in the reverse
    /// order, after every create and update.
    pub fn wave(self) -> usize {
        1 + self.after().iter().map(|k| k.wave()).max().unwrap_or(0)
    }

    /// The last create wave.
    pub fn last_wave() -> usize {
        Kind::ALL.iter().map(|k| k.wave()).max().unwrap_or(1)
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
    /// With `auth: jwt`, what config.json tells the page about the issuer
    /// (read from its discovery document before planning).
    pub page_auth: Option<wschat_stack::website::PageAuth>,
    /// With `domain.zone`, the Route 53 hosted zone (looked up before planning).
    pub zone: Option<Zone>,
    /// With `domain:`, the user's ACM certificates that cover the names of
    /// the certificates the stack wants, by their instance name (looked up
    /// before planning; [`certificate::find_user_certificates`]).
    pub user_certificates: BTreeMap<String, certificate::UserCertificate>,
    /// With `domain:`, the ACM certificates of the regions the stack's may be
    /// in, as ListCertificates summarizes them: listed once a run, before
    /// planning ([`certificate::list_certificates`]).
    pub certificate_listing: certificate::Listing,
    /// `destroy`: nothing of stack.yaml is wanted any more.
    pub destroying: bool,
}

/// A Route 53 hosted zone of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Without the trailing dot.
    pub name: String,
}

impl Env {
    pub fn new(stack: Stack, region: String, account: Account, artifacts: BTreeMap<String, Artifact>) -> Result<Env> {
        let schemas = model::read_schemas(&stack)?;
        let site = site::read_source(&stack.dir.join(&stack.website.source))?;
        Ok(Env { schemas, site, ..Env::without_sources(stack, region, account, artifacts) })
    }

    /// An Env that has read neither the routes' schemas nor the website
    /// folder: enough for what does not deploy them (the functions'
    /// specifications, which `wschat dev` gives its processes).
    pub fn without_sources(
        stack: Stack,
        region: String,
        account: Account,
        artifacts: BTreeMap<String, Artifact>,
    ) -> Env {
        Env {
            stack,
            region,
            account,
            artifacts,
            schemas: BTreeMap::new(),
            site: Vec::new(),
            page_auth: None,
            zone: None,
            user_certificates: BTreeMap::new(),
            certificate_listing: certificate::Listing::default(),
            destroying: false,
        }
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
        [wschat_stack::TAG_STACK, wschat_stack::TAG_STAGE].iter().all(|k| tags.get(*k) == want.get(*k))
    }

    /// The functions that serve routes (and so have an integration and an
    /// invoke permission).
    pub fn route_functions(&self) -> impl Iterator<Item = &String> {
        self.stack.functions.keys().filter(|f| self.stack.api.routes.values().any(|r| r.function() == Some(f.as_str())))
    }
}

/// What names a resource whose id AWS makes up (a route, an integration):
/// the stack's name for it, and the id beside it.
pub fn named_with_id(name: &str, id: Option<&str>) -> String {
    match id {
        Some(id) if id != name => format!("{name} ({id})"),
        _ => name.to_string(),
    }
}

/// Values AWS assigns (an API id, a queue URL), by the resource they belong
/// to, as far as they are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    assigned: BTreeMap<Address, String>,
    /// The distribution as discovery found it, before this run: only its
    /// caches hold old copies of the site (a new one has nothing to invalidate).
    pub found_distribution_id: Option<String>,
    /// Where alias records point, of the distribution and the API Gateway
    /// domain as discovery found them (their DNS names are not their ids).
    pub aliases: BTreeMap<Address, dns_record::AliasTarget>,
    /// The validation records each certificate asks for, as discovery read them.
    pub validation: BTreeMap<Address, Vec<certificate::Record>>,
}

impl Ids {
    /// Learns the id of something just created (or kept).
    pub fn record(&mut self, address: &Address, id: &str) {
        self.assigned.insert(address.clone(), id.to_string());
    }

    /// A reference to the id of `kind` `name`, with the id when it is known.
    pub fn of(&self, kind: Kind, name: &str) -> Ref<String> {
        let to = Address::new(kind, name);
        let id = self.assigned.get(&to).cloned();
        Ref::new(to, id)
    }

    pub fn api(&self) -> Ref<String> {
        self.of(Kind::Api, "api")
    }

    pub fn queue_url(&self, env: &Env) -> Ref<String> {
        self.of(Kind::Queue, &env.stack.queue.name)
    }

    /// The id of `function`'s integration.
    pub fn integration(&self, function: &str) -> Ref<String> {
        self.of(Kind::Integration, function)
    }

    pub fn oac(&self) -> Ref<String> {
        self.of(Kind::OriginAccessControl, "site")
    }

    pub fn distribution(&self) -> Ref<String> {
        self.of(Kind::Distribution, "site")
    }
}

/// One resource the stack wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub address: Address,
    /// Its physical name when that is known before it exists.
    pub id: Option<String>,
    pub spec: Spec,
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

impl FoundItem {
    /// What was found under `name`: its address has the kind of `found`.
    pub fn new(name: impl Into<String>, id: impl Into<String>, owner: Option<Address>, found: Found) -> FoundItem {
        FoundItem { address: Address::new(found.kind(), name), id: id.into(), owner, found }
    }
}

/// Everything found, plus notes for people about what could not be read.
#[derive(Debug, Clone, Default)]
pub struct FoundSet {
    pub items: Vec<FoundItem>,
    pub notes: Vec<String>,
}

impl From<Vec<FoundItem>> for FoundSet {
    fn from(items: Vec<FoundItem>) -> FoundSet {
        FoundSet { items, notes: Vec::new() }
    }
}

impl FromIterator<FoundItem> for FoundSet {
    fn from_iter<I: IntoIterator<Item = FoundItem>>(items: I) -> FoundSet {
        items.into_iter().collect::<Vec<_>>().into()
    }
}

/// A kind's type, as the table names it: its [`Kind`], and its found
/// instances picked out of [`Found`] (`found.of::<site::Site>()`).
pub trait OfKind: Resource {
    const KIND: Kind;
    fn of(found: &Found) -> Option<&Self::Found>;
}

impl FoundSet {
    /// The ids of the resources that already exist (the first of duplicates),
    /// and what they tell other specs ([`Resource::learn`]).
    pub fn ids(&self) -> Ids {
        let mut ids = Ids::default();
        for item in self.items.iter().rev() {
            ids.record(&item.address, &item.id);
        }
        ids.found_distribution_id = ids.distribution().value;
        for item in self.items.iter().rev() {
            learn(item, &mut ids);
        }
        ids
    }

    /// The instances of kind `R` found, with what was found of each.
    pub fn of<'a, R: OfKind>(&'a self) -> impl Iterator<Item = (&'a FoundItem, &'a R::Found)>
    where
        R::Found: 'a,
    {
        self.items.iter().filter_map(|item| R::of(&item.found).map(|found| (item, found)))
    }

    pub fn get(&self, address: &Address, id: &str) -> Option<&FoundItem> {
        self.items.iter().find(|i| &i.address == address && i.id == id)
    }
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
    /// ACM in the stack's region, and in us-east-1 (CloudFront's certificates).
    pub acm: aws_sdk_acm::Client,
    pub acm_us_east_1: aws_sdk_acm::Client,
    /// The Resource Groups Tagging API, in the same two regions.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub tagging_us_east_1: aws_sdk_resourcegroupstagging::Client,
    pub route53: aws_sdk_route53::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    /// When the API Gateway client last wrote to each API.
    pub api_writes: crate::aws::ApiWrites,
}

impl Clients {
    /// ACM in `region` (the stack's, or CloudFront's us-east-1).
    pub fn acm(&self, region: &str) -> &aws_sdk_acm::Client {
        if region == certificate::CLOUDFRONT_REGION { &self.acm_us_east_1 } else { &self.acm }
    }

    /// The Resource Groups Tagging API in `region` (the stack's, or us-east-1).
    pub fn tagging(&self, region: &str) -> &aws_sdk_resourcegroupstagging::Client {
        if region == certificate::CLOUDFRONT_REGION { &self.tagging_us_east_1 } else { &self.tagging }
    }

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
            acm: aws.acm(),
            acm_us_east_1: aws.acm_in(certificate::CLOUDFRONT_REGION),
            tagging: aws.tagging_in(aws.region()),
            tagging_us_east_1: aws.tagging_in(certificate::CLOUDFRONT_REGION),
            route53: aws.route53(),
            cloudwatch: aws.cloudwatch(),
            sns: aws.sns(),
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

#[cfg(test)]
pub(crate) mod tests;
