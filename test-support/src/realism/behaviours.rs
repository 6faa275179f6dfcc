//! Which of AWS's rules the proxy applies: one switch (or window) each.

use serde::{Deserialize, Serialize};

/// What the proxy does besides forwarding. Durations are in milliseconds;
/// `None` turns a behaviour off. [`Behaviours::default`] only forwards and
/// counts; [`Behaviours::aws`] turns everything on with windows short enough
/// for tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviours {
    /// Added to every call before it is forwarded (a network round trip).
    pub latency_ms: u64,
    /// A write to an API Gateway v2 API while another write to the same API
    /// is in flight gets 409 `ConflictException`.
    pub one_writer_per_api: bool,
    /// How long API Gateway works on each write to an API (the window in
    /// which a second write conflicts), on top of `latency_ms`.
    pub api_write_ms: u64,
    /// The fraction of API writes refused with 409 as if another writer (a
    /// second deploy, the console) held the API at that moment.
    pub foreign_writer_fraction: f64,
    /// With AutoDeploy, a stage's new deployment becomes live this long after
    /// the last change to its API.
    pub auto_deploy_ms: Option<u64>,
    /// How long a new IAM role, or a role's new policy, takes to reach Lambda.
    pub iam_propagation_ms: Option<u64>,
    /// How long SQS refuses to re-create a queue of a deleted one's name (60 s on AWS).
    pub queue_name_reuse_ms: Option<u64>,
    /// How long S3 refuses to re-create a bucket of a deleted one's name.
    pub bucket_name_reuse_ms: Option<u64>,
    /// How long a new DynamoDB table stays `CREATING`.
    pub table_creating_ms: Option<u64>,
    /// The interval in which a table's TTL may change once (an hour on AWS).
    pub ttl_change_interval_ms: Option<u64>,
    /// How long a new Lambda function stays `Pending`.
    pub function_pending_ms: Option<u64>,
    /// How long a Lambda update stays `InProgress`.
    pub function_updating_ms: Option<u64>,
    /// How long a deleted queue mapping stays `Deleting`: listed and read,
    /// and a new mapping of the same queue and function is 409
    /// `ResourceConflictException`.
    pub mapping_deleting_ms: Option<u64>,
    /// Lambda functions whose next update ends `LastUpdateStatus: Failed`.
    pub failing_updates: Vec<String>,
    /// The fraction of calls refused with the service's throttling error.
    pub throttle_fraction: f64,
    /// The first call of each operation is refused with the service's
    /// throttling error (every call site must ride out a throttle).
    pub throttle_first_calls: bool,
    /// Seeds the choice of throttled calls, so that a run can be repeated.
    pub seed: u64,
    /// How long a new resource may be missing from its `List*` and `Get*`.
    pub consistency_ms: Option<u64>,
    /// ACM refuses to delete a certificate CloudFront or API Gateway uses.
    pub certificate_in_use: bool,
    /// How long a certificate still counts as in use after its last user let go.
    pub certificate_release_ms: Option<u64>,
    /// How long ACM answers a RequestCertificate whose idempotency token it
    /// saw with that request's certificate, deleted or not (an hour on AWS).
    pub certificate_token_ms: Option<u64>,
    /// ACM's request rates per region (ACM User Guide, "Quotas", "API rate
    /// quotas"): ListCertificates 1 a second, DescribeCertificate and
    /// ListTagsForCertificate 10; a call beyond them is `ThrottlingException`.
    pub acm_rates: bool,
    /// How long the Resource Groups Tagging API's GetResources leaves out an
    /// ACM certificate just requested (its index follows the services; AWS
    /// states no bound). Needs `consistency_ms` on, which records creations.
    pub tagging_index_ms: Option<u64>,
    /// API Gateway lets one CreateDomainName, UpdateDomainName or
    /// DeleteDomainName through in this window (30 s per account on AWS);
    /// another is 429 `TooManyRequestsException`.
    pub domain_write_ms: Option<u64>,
    /// CloudFront refuses an alias another distribution has.
    pub unique_aliases: bool,
    /// Route 53 deletes a record set only as the zone has it (TTL and values):
    /// another is 400 `InvalidChangeBatch`.
    pub exact_record_deletes: bool,
    /// A WebSocket route takes one route response, `$default`: another key
    /// is 400 `BadRequestException`, a second one 409 `ConflictException`.
    pub one_route_response: bool,
    /// A stage's `RouteSettings` may name only route keys of its API: another
    /// is 404 `NotFoundException` in CreateStage and UpdateStage.
    pub route_settings_name_routes: bool,
    /// DynamoDB writes to one table reach moto one at a time. On AWS a
    /// single-item write is atomic, its condition checked and its update made
    /// at once (Developer Guide, "Condition expressions" and "Atomic
    /// counters"); moto's server runs requests on threads and can pass the
    /// same condition twice.
    pub atomic_items: bool,
    /// Route 53 change batches to one hosted zone reach moto one at a time.
    /// On AWS a batch is atomic ("the request is atomic": API Reference,
    /// ChangeResourceRecordSets) and batches apply one after another; moto's
    /// threaded server rewrites a zone's record list in each request, so of
    /// two deletes at once (a name's A and AAAA alias), one record came back.
    pub atomic_record_changes: bool,
    /// CloudWatch's rules for alarms and dashboards (`cloudwatch.rs`), and SNS's
    /// pending e-mail subscriptions and topic tags (`sns.rs`).
    pub cloudwatch_rules: bool,
    pub sns_rules: bool,
}

impl Default for Behaviours {
    fn default() -> Behaviours {
        Behaviours {
            latency_ms: 0,
            one_writer_per_api: false,
            api_write_ms: 0,
            foreign_writer_fraction: 0.0,
            auto_deploy_ms: None,
            iam_propagation_ms: None,
            queue_name_reuse_ms: None,
            bucket_name_reuse_ms: None,
            table_creating_ms: None,
            ttl_change_interval_ms: None,
            function_pending_ms: None,
            function_updating_ms: None,
            mapping_deleting_ms: None,
            failing_updates: Vec::new(),
            throttle_fraction: 0.0,
            throttle_first_calls: false,
            seed: 1,
            consistency_ms: None,
            certificate_in_use: false,
            certificate_release_ms: None,
            certificate_token_ms: None,
            acm_rates: false,
            tagging_index_ms: None,
            domain_write_ms: None,
            unique_aliases: false,
            exact_record_deletes: false,
            one_route_response: false,
            route_settings_name_routes: false,
            atomic_items: false,
            atomic_record_changes: false,
            cloudwatch_rules: false,
            sns_rules: false,
        }
    }
}

impl Behaviours {
    /// Every behaviour on, with windows a test can wait out: seconds where
    /// AWS takes seconds to minutes, an hour where AWS says an hour.
    pub fn aws() -> Behaviours {
        Behaviours {
            latency_ms: 0,
            one_writer_per_api: true,
            api_write_ms: 15,
            foreign_writer_fraction: 0.05,
            auto_deploy_ms: Some(300),
            iam_propagation_ms: Some(1_500),
            queue_name_reuse_ms: Some(60_000),
            bucket_name_reuse_ms: Some(2_000),
            table_creating_ms: Some(500),
            ttl_change_interval_ms: Some(3_600_000),
            function_pending_ms: Some(400),
            function_updating_ms: Some(300),
            mapping_deleting_ms: Some(500),
            failing_updates: Vec::new(),
            throttle_fraction: 0.03,
            throttle_first_calls: false,
            seed: 1,
            consistency_ms: Some(150),
            certificate_in_use: true,
            certificate_release_ms: Some(1_500),
            certificate_token_ms: Some(3_600_000),
            acm_rates: true,
            tagging_index_ms: Some(3_000),
            domain_write_ms: Some(1_000),
            unique_aliases: true,
            exact_record_deletes: true,
            one_route_response: true,
            route_settings_name_routes: true,
            atomic_items: true,
            atomic_record_changes: true,
            cloudwatch_rules: true,
            sns_rules: true,
        }
    }
}
