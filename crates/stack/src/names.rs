//! Physical names and ARNs: everything AWS sees is derived here.

use std::collections::BTreeMap;

use crate::*;

/// Physical names. Everything AWS sees is derived here, from `name` and the
/// stage, so that discovery needs no state file and stages never collide.
impl Stack {
    /// `{name}-{stage}`: at most 24 + 1 + 16 = 41 characters.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.name, self.stage)
    }

    /// The tags every resource carries: the user's plus `wschat:stack` and `wschat:stage`.
    pub fn resource_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert(TAG_STACK.into(), self.name.clone());
        tags.insert(TAG_STAGE.into(), self.stage.clone());
        tags
    }

    /// `chat.post_rate`, or 90% of API Gateway's default account throttle in
    /// `region`: 9,000 posts a second, or 2,250 where the throttle is 2,500.
    pub fn post_rate(&self, region: &str) -> i32 {
        self.chat.post_rate.unwrap_or_else(|| defaults::post_rate(region))
    }

    /// API Gateway's default account throttle in `region` (10,000 requests a
    /// second, 2,500 in some regions), which every `@connections` call shares.
    pub fn account_throttle(region: &str) -> i32 {
        defaults::account_throttle(region)
    }

    pub fn table_name(&self) -> String {
        format!("{}-connections", self.prefix())
    }

    /// The delivery ledger: which shard parts of a notice the queue's
    /// consumer has posted, so that a redelivered record is not posted twice.
    pub fn deliveries_table_name(&self) -> String {
        format!("{}-deliveries", self.prefix())
    }

    /// The chat's history, when `chat.history` is on.
    pub fn messages_table_name(&self) -> String {
        format!("{}-messages", self.prefix())
    }

    /// Presence at scale (docs/presence.md): count buckets of the people
    /// online, and the digests of joins and leaves.
    pub fn presence_table_name(&self) -> String {
        format!("{}-presence", self.prefix())
    }

    /// The CloudWatch namespace of the handlers' metrics (embedded in their
    /// logs): one per stack and stage.
    pub fn metrics_namespace(&self) -> String {
        format!("wschat/{}", self.prefix())
    }

    /// The SNS topic the alarms notify (topic names allow 256 characters).
    pub fn alarm_topic_name(&self) -> String {
        format!("{}-alarms", self.prefix())
    }

    /// One CloudWatch alarm (`{name}-{stage}-{key}`; names allow 255 characters).
    pub fn alarm_name(&self, key: &str) -> String {
        format!("{}-{key}", self.prefix())
    }

    /// The CloudWatch dashboard: `{name}-{stage}` (letters, digits and `-`,
    /// which dashboard names allow).
    pub fn dashboard_name(&self) -> String {
        self.prefix()
    }

    /// The GSI the room fan-out queries.
    pub fn room_index_name(&self) -> &'static str {
        chat_core::ROOM_INDEX
    }

    /// Queue names allow 80 characters: 41 + 1 + 30 + 4 fits.
    pub fn queue_name(&self) -> String {
        format!("{}-{}", self.prefix(), self.queue.name)
    }

    pub fn dlq_name(&self) -> String {
        format!("{}-dlq", self.queue_name())
    }

    /// Function names allow 64 characters: 41 + 1 + 20 fits.
    /// The function that runs the authorizer, with `auth: jwt`.
    pub fn authorizer_function(&self) -> Option<&'static str> {
        matches!(self.api.auth, Auth::Jwt(_)).then_some(AUTHORIZER_FUNCTION)
    }

    /// The name of the API's authorizer.
    pub fn authorizer_name(&self) -> String {
        format!("{}-jwt", self.prefix())
    }

    pub fn function_name(&self, function: &str) -> String {
        format!("{}-{function}", self.prefix())
    }

    /// Role names allow 64 characters, like functions.
    pub fn role_name(&self, function: &str) -> String {
        self.function_name(function)
    }

    /// The IAM path of the stack's roles: `/wschat/{name}/{stage}/`. IAM
    /// lists roles by path, so the roles of functions that left stack.yaml
    /// are found too.
    pub fn role_path(&self) -> String {
        format!("/wschat/{}/{}/", self.name, self.stage)
    }

    pub fn log_group_name(&self, function: &str) -> String {
        format!("/aws/lambda/{}", self.function_name(function))
    }

    /// The API's name; APIs are found by their tags, the name is for people.
    pub fn api_name(&self) -> String {
        self.prefix()
    }

    pub fn api_stage(&self) -> &str {
        self.api.stage_name()
    }

    /// `wss://{api_id}.execute-api.{region}.{dns suffix}/{stage}`
    /// (`amazonaws.com`, or `amazonaws.com.cn` in China: [`dns_suffix`]).
    /// With `domain`, `wss://{domain.websocket}` (its API mapping has no path).
    pub fn websocket_url(&self, api_id: &str, region: &str) -> String {
        if let Some(domain) = &self.domain {
            return format!("wss://{}", domain.websocket_name());
        }
        format!("wss://{api_id}.execute-api.{region}.{}/{}", dns_suffix(region), self.api_stage())
    }

    /// S3 names are global and at most 63 characters: `{prefix}-{account}-{region}`,
    /// with the prefix shortened and made unique by a hash when it does not fit.
    pub fn bucket_name(&self, account: &str, region: &str) -> String {
        let suffix = format!("-{account}-{region}");
        fit(&self.prefix(), &suffix, 63)
    }

    /// Origin Access Control names allow 64 characters.
    pub fn oac_name(&self) -> String {
        format!("{}-site", self.prefix())
    }

    /// The bucket's regional REST endpoint, CloudFront's origin:
    /// `{bucket}.s3.{region}.{dns suffix}`.
    pub fn bucket_domain(&self, account: &str, region: &str) -> String {
        format!("{}.s3.{region}.{}", self.bucket_name(account, region), dns_suffix(region))
    }

    /// The distribution's comment (at most 128 characters): says whose it is in the console.
    pub fn distribution_comment(&self) -> String {
        format!("wschat stack {}, stage {}: website", self.name, self.stage)
    }

    /// The inline policy of a function's role (one per role, so the role's name serves).
    pub fn role_policy_name(&self, function: &str) -> String {
        self.role_name(function)
    }

    /// The statement id of the permission that lets API Gateway invoke a function.
    pub fn permission_statement_id(&self) -> String {
        format!("{}-apigateway", self.prefix())
    }

    /// An API Gateway model name (`[a-zA-Z0-9]+`): the route key's letters and
    /// digits, then `digest` (a short hash of the schema). Naming models by
    /// their content lets a route's reference alone tell whether the schema
    /// changed, which matters where models cannot be listed (moto has no GetModels).
    pub fn model_name(&self, route_key: &str, digest: &str) -> String {
        let key: String = route_key.chars().filter(char::is_ascii_alphanumeric).take(100).collect();
        format!("{key}{digest}")
    }

    /// `https://{api_id}.execute-api.{region}.{dns suffix}/{stage}`: where the
    /// handlers post to connections (the Management API).
    pub fn management_endpoint(&self, api_id: &str, region: &str) -> String {
        format!("https://{api_id}.execute-api.{region}.{}/{}", dns_suffix(region), self.api_stage())
    }

    /// The ARNs of this stack's resources in one account, partition and region.
    pub fn arns<'a>(&'a self, partition: &'a str, region: &'a str, account: &'a str) -> Arns<'a> {
        Arns { stack: self, partition, region, account }
    }
}

/// ARNs of a stack's resources, derived from their names like everything else.
#[derive(Debug, Clone, Copy)]
pub struct Arns<'a> {
    stack: &'a Stack,
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl Arns<'_> {
    pub fn table(&self) -> String {
        format!("arn:{}:dynamodb:{}:{}:table/{}", self.partition, self.region, self.account, self.stack.table_name())
    }

    pub fn deliveries_table(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition,
            self.region,
            self.account,
            self.stack.deliveries_table_name()
        )
    }

    pub fn messages_table(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition,
            self.region,
            self.account,
            self.stack.messages_table_name()
        )
    }

    pub fn presence_table(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition,
            self.region,
            self.account,
            self.stack.presence_table_name()
        )
    }

    pub fn room_index(&self) -> String {
        format!("{}/index/{}", self.table(), self.stack.room_index_name())
    }

    pub fn queue(&self) -> String {
        format!("arn:{}:sqs:{}:{}:{}", self.partition, self.region, self.account, self.stack.queue_name())
    }

    pub fn alarm_topic(&self) -> String {
        format!("arn:{}:sns:{}:{}:{}", self.partition, self.region, self.account, self.stack.alarm_topic_name())
    }

    pub fn alarm(&self, key: &str) -> String {
        format!(
            "arn:{}:cloudwatch:{}:{}:alarm:{}",
            self.partition,
            self.region,
            self.account,
            self.stack.alarm_name(key)
        )
    }

    pub fn dlq(&self) -> String {
        format!("arn:{}:sqs:{}:{}:{}", self.partition, self.region, self.account, self.stack.dlq_name())
    }

    pub fn function(&self, function: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition,
            self.region,
            self.account,
            self.stack.function_name(function)
        )
    }

    pub fn role(&self, function: &str) -> String {
        format!(
            "arn:{}:iam::{}:role{}{}",
            self.partition,
            self.account,
            self.stack.role_path(),
            self.stack.role_name(function)
        )
    }

    /// The log group itself (tagging); its streams are `{this}:*`.
    pub fn log_group(&self, function: &str) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            self.partition,
            self.region,
            self.account,
            self.stack.log_group_name(function)
        )
    }

    /// What `execute-api:ManageConnections` is granted on: `method` (`POST`
    /// posts to a connection, `DELETE` closes it, `GET` reads it) on this
    /// stage's connections (API Gateway developer guide, "Use @connections
    /// commands in your backend service").
    pub fn connections(&self, api_id: &str, method: &str) -> String {
        format!(
            "arn:{}:execute-api:{}:{}:{api_id}/{}/{method}/@connections/*",
            self.partition,
            self.region,
            self.account,
            self.stack.api_stage()
        )
    }

    /// The `SourceArn` of the invoke permission: any route of this stage.
    pub fn api_invoke(&self, api_id: &str) -> String {
        format!(
            "arn:{}:execute-api:{}:{}:{api_id}/{}/*",
            self.partition,
            self.region,
            self.account,
            self.stack.api_stage()
        )
    }

    /// What invokes an authorizer's function: the `SourceArn` of its
    /// permission ("arn:aws:execute-api:region:account-id:api-id/authorizers/authorizer-id",
    /// API Gateway developer guide, "Configure a Lambda authorizer", and
    /// terraform-provider-aws's aws_apigatewayv2_authorizer example).
    pub fn authorizer_invoke(&self, api_id: &str, authorizer_id: &str) -> String {
        format!(
            "arn:{}:execute-api:{}:{}:{api_id}/authorizers/{authorizer_id}",
            self.partition, self.region, self.account
        )
    }

    /// The WebSocket API, for tagging.
    pub fn api(&self, api_id: &str) -> String {
        format!("arn:{}:apigateway:{}::/apis/{api_id}", self.partition, self.region)
    }

    /// A stage of the WebSocket API, for tagging.
    pub fn stage(&self, api_id: &str, stage: &str) -> String {
        format!("{}/stages/{stage}", self.api(api_id))
    }

    /// The website bucket.
    pub fn bucket(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.stack.bucket_name(self.account, self.region))
    }

    /// A CloudFront distribution (global: no region in the ARN).
    pub fn distribution(&self, id: &str) -> String {
        format!("arn:{}:cloudfront::{}:distribution/{id}", self.partition, self.account)
    }

    /// An AWS_PROXY integration's URI for a function.
    pub fn integration_uri(&self, function: &str) -> String {
        format!(
            "arn:{}:apigateway:{}:lambda:path/2015-03-31/functions/{}/invocations",
            self.partition,
            self.region,
            self.function(function)
        )
    }
}

/// `base + suffix` when it fits in `limit`; otherwise the base cut short plus
/// 8 hex digits of its FNV-1a hash, so that distinct bases stay distinct.
fn fit(base: &str, suffix: &str, limit: usize) -> String {
    if base.len() + suffix.len() <= limit {
        return format!("{base}{suffix}");
    }
    let hash = base.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let keep = limit.saturating_sub(suffix.len() + 9);
    let cut = base[..keep.min(base.len())].trim_end_matches('-');
    format!("{cut}-{hash:08x}{suffix}")
}
