//! The website bucket's policy: CloudFront, and only this stack's
//! distribution (`AWS:SourceArn`), may read objects. Nothing else is
//! granted, so the bucket stays private.
//!
//! The document is built with serde_json: an invalid policy breaks a moto
//! bucket, and string formatting is how invalid policies are made.

use anyhow::Result;

use super::{Address, Env, FoundItem, Ids, Kind, Op, Ref, Reference, Resource, Want, json_equal};
use crate::aws::Sent;
use crate::diff::FieldChange;

/// The principal the policy grants to.
pub const PRINCIPAL: &str = "cloudfront.amazonaws.com";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub bucket: String,
    /// It names the distribution.
    pub document: Ref<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub bucket: String,
    pub document: serde_json::Value,
}

pub fn spec(env: &Env, distribution_id: &Ref<String>) -> Spec {
    let arns = env.arns();
    Spec {
        bucket: env.stack.bucket_name(&env.account.id, &env.region),
        document: distribution_id.map(|distribution_id| {
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "CloudFrontReadsTheSite",
                    "Effect": "Allow",
                    "Principal": { "Service": PRINCIPAL },
                    "Action": "s3:GetObject",
                    "Resource": format!("{}/*", arns.bucket()),
                    "Condition": { "StringEquals": { "AWS:SourceArn": arns.distribution(distribution_id) } },
                }],
            })
        }),
    }
}

/// The policy of the stack's bucket, when the bucket has one.
pub async fn find_bucket_policy(clients: &super::Clients, env: &Env) -> Result<Option<FoundItem>> {
    let bucket = env.stack.bucket_name(&env.account.id, &env.region);
    let doing = || format!("reading the policy of S3 bucket `{bucket}`");
    let Some(policy) = clients.s3.get_bucket_policy().bucket(&bucket).send().found(doing).await? else {
        return Ok(None);
    };
    let text = policy.policy.unwrap_or_default();
    let document = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Ok(Some(FoundItem::new(
        "site",
        bucket.clone(),
        Some(Address::new(Kind::Bucket, "site")),
        super::Found::BucketPolicy(Found { bucket, document }),
    )))
}

/// The website bucket's policy: only the distribution reads it.
pub struct BucketPolicy;

impl Resource for BucketPolicy {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        if reads.found.is_empty() {
            return Ok(super::FoundSet::default());
        }
        Ok(find_bucket_policy(reads.clients, reads.env).await?.into_iter().collect())
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![Reference::exists(Kind::Bucket, "site"), spec.document.reference()]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        if !env.stack.website.cdn {
            return Vec::new();
        }
        let bucket = env.stack.bucket_name(&env.account.id, &env.region);
        vec![Want::new("site", bucket, spec(env, &ids.distribution()))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        match spec.document.known() {
            Some(document) if json_equal(document, &found.document) => Vec::new(),
            _ => vec![FieldChange::new("policy", found.document.to_string(), spec.document.shown())],
        }
    }

    /// Creates or replaces the policy (S3 has one per bucket).
    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        op.clients
            .s3
            .put_bucket_policy()
            .bucket(&spec.bucket)
            .policy(spec.document.get()?.to_string())
            .send()
            .done(|| format!("setting the policy of S3 bucket `{}`", spec.bucket))
            .await?;
        Ok(spec.bucket.clone())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting the policy of S3 bucket `{}`", found.bucket);
        op.clients.s3.delete_bucket_policy().bucket(&found.bucket).send().gone(doing).await
    }

    async fn update(op: &Op<'_>, spec: &Spec, _found: &Found) -> Result<()> {
        Self::create(op, spec).await.map(drop)
    }
}
