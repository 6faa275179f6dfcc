//! The website bucket: private (all four public-access-block settings on),
//! ACLs off (`BucketOwnerEnforced`), encrypted by default, tagged.
//!
//! Its name is globally unique because it holds the account and region
//! ([`wschat_stack::Stack::bucket_name`]), so it is found by name. Deleting
//! it first empties it of every object and every version: S3 refuses to
//! delete a bucket that holds anything.

use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, ObjectOwnership,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::{Env, FoundItem, Ids, Op, Resource, Tags, Want, retry_while, tags_field};
use crate::aws::{AwsContext, Sent};
use crate::diff::FieldChange;

/// The ownership setting that turns ACLs off: the bucket owner owns every object.
pub const OWNERSHIP: &str = "BucketOwnerEnforced";
/// S3-managed keys (SSE-S3).
pub const ENCRYPTION: &str = "AES256";
/// What `DeleteObjects` takes at once.
pub const DELETE_BATCH: usize = 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub region: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    /// BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets;
    /// `None` when the bucket has no public-access block.
    pub public_access_block: Option<[bool; 4]>,
    pub ownership: Option<String>,
    /// The default encryption algorithm, when there is one.
    pub encryption: Option<String>,
    pub tags: Tags,
}

pub fn spec(env: &Env) -> Spec {
    Spec { name: env.stack.bucket_name(&env.account.id, &env.region), region: env.region.clone(), tags: env.tags() }
}

/// The S3 error code of a failed call, for errors the SDK does not model
/// (S3 answers "not configured" with codes of its own per setting).
fn code<E: ProvideErrorMetadata, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> Option<&str> {
    e.code()
}

/// Whether the bucket exists. S3 names are global: one that exists in
/// another account is an error that says so.
pub async fn exists(clients: &super::Clients, env: &Env) -> Result<bool> {
    let name = env.stack.bucket_name(&env.account.id, &env.region);
    match clients.s3.head_bucket().bucket(&name).send().await {
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => anyhow::bail!(
            "S3 bucket `{name}` exists but this account cannot read it: S3 names are global, and another account \
             owns it. Deploy under another stack `name` or --stage"
        ),
        other => other.aws_context(|| format!("reading S3 bucket `{name}`")).map(|_| true),
    }
}

/// The settings of the bucket, which [`exists`].
pub async fn find_bucket(clients: &super::Clients, env: &Env) -> Result<FoundItem> {
    let name = env.stack.bucket_name(&env.account.id, &env.region);
    let s3 = &clients.s3;
    let (block, ownership, encryption, tags) = tokio::try_join!(
        async {
            match s3.get_public_access_block().bucket(&name).send().await {
                Err(e) if code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
                other => other
                    .map(|o| {
                        o.public_access_block_configuration.map(|c| {
                            [
                                c.block_public_acls.unwrap_or(false),
                                c.ignore_public_acls.unwrap_or(false),
                                c.block_public_policy.unwrap_or(false),
                                c.restrict_public_buckets.unwrap_or(false),
                            ]
                        })
                    })
                    .aws_context(|| format!("reading the public access block of S3 bucket `{name}`")),
            }
        },
        async {
            match s3.get_bucket_ownership_controls().bucket(&name).send().await {
                Err(e) if code(&e) == Some("OwnershipControlsNotFoundError") => Ok(None),
                other => other
                    .map(|o| {
                        o.ownership_controls
                            .and_then(|c| c.rules.into_iter().next())
                            .map(|r| r.object_ownership.as_str().to_string())
                    })
                    .aws_context(|| format!("reading the ownership controls of S3 bucket `{name}`")),
            }
        },
        async {
            match s3.get_bucket_encryption().bucket(&name).send().await {
                Err(e) if code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => Ok(None),
                other => other
                    .map(|o| {
                        o.server_side_encryption_configuration.and_then(|c| {
                            c.rules
                                .into_iter()
                                .find_map(|r| r.apply_server_side_encryption_by_default)
                                .map(|d| d.sse_algorithm.as_str().to_string())
                        })
                    })
                    .aws_context(|| format!("reading the default encryption of S3 bucket `{name}`")),
            }
        },
        async {
            match s3.get_bucket_tagging().bucket(&name).send().await {
                Err(e) if code(&e) == Some("NoSuchTagSet") => Ok(Tags::new()),
                other => other
                    .map(|o| o.tag_set.into_iter().map(|t| (t.key, t.value)).collect())
                    .aws_context(|| format!("reading the tags of S3 bucket `{name}`")),
            }
        },
    )?;
    let found = Found { name: name.clone(), public_access_block: block, ownership, encryption, tags };
    Ok(FoundItem::new("site", name, None, super::Found::Bucket(found)))
}

fn show_block(block: Option<[bool; 4]>) -> String {
    match block {
        None => "(none)".to_string(),
        Some(b) if b == [true; 4] => "all blocked".to_string(),
        Some(b) => {
            let names = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"];
            let off: Vec<&str> = names.iter().zip(b).filter(|(_, on)| !on).map(|(n, _)| *n).collect();
            format!("{} off", off.join(", "))
        }
    }
}

/// SSE-S3 exactly: with a KMS key, S3's ETags stop being MD5s (so the
/// site sync would upload every file every time), and CloudFront would need
/// a grant on the key to read through the OAC.
fn encrypted(found: &Found) -> bool {
    found.encryption.as_deref() == Some(ENCRYPTION)
}

/// The settings that differ, each named as the user would look for it.
fn settings_fields(found: &Found) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    if found.public_access_block != Some([true; 4]) {
        fields.push(FieldChange::new("public access block", show_block(found.public_access_block), "all blocked"));
    }
    if found.ownership.as_deref() != Some(OWNERSHIP) {
        fields.push(FieldChange::new("object ownership", found.ownership.as_deref().unwrap_or("(none)"), OWNERSHIP));
    }
    if !encrypted(found) {
        fields.push(FieldChange::new(
            "default encryption",
            found.encryption.as_deref().unwrap_or("(none)"),
            ENCRYPTION,
        ));
    }
    fields
}

/// How long S3 may refuse a just-deleted bucket's name.
const NAME_REUSE_LIMIT: Duration = Duration::from_secs(120);

async fn put_public_access_block(op: &Op<'_>, spec: &Spec) -> Result<()> {
    op.clients
        .s3
        .put_public_access_block()
        .bucket(&spec.name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .done(|| format!("blocking public access to S3 bucket `{}`", spec.name))
        .await?;
    Ok(())
}

async fn put_encryption(op: &Op<'_>, spec: &Spec) -> Result<()> {
    let by_default = ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build()?;
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build();
    op.clients
        .s3
        .put_bucket_encryption()
        .bucket(&spec.name)
        .server_side_encryption_configuration(ServerSideEncryptionConfiguration::builder().rules(rule).build()?)
        .send()
        .done(|| format!("setting the default encryption of S3 bucket `{}`", spec.name))
        .await?;
    Ok(())
}

/// S3 replaces the whole tag set at once.
async fn put_tags(op: &Op<'_>, spec: &Spec) -> Result<()> {
    let tags: Vec<Tag> =
        spec.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<_, _>>()?;
    op.clients
        .s3
        .put_bucket_tagging()
        .bucket(&spec.name)
        .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
        .send()
        .done(|| format!("tagging S3 bucket `{}`", spec.name))
        .await?;
    Ok(())
}

/// Deletes every object version and delete marker (which covers every
/// object of an unversioned bucket too), a page of at most 1000 at a time,
/// saying how far it got. Each listing starts from the beginning: what the
/// last page held is gone by then, so no marker can skip anything.
pub async fn empty(op: &Op<'_>, bucket: &str) -> Result<usize> {
    let s3 = &op.clients.s3;
    let mut deleted = 0;
    loop {
        let doing = || format!("listing the objects of S3 bucket `{bucket}`");
        let Some(page) = s3.list_object_versions().bucket(bucket).send().found(doing).await? else {
            return Ok(deleted);
        };
        let mut ids = Vec::new();
        for v in page.versions() {
            ids.push(object_id(v.key(), v.version_id())?);
        }
        for m in page.delete_markers() {
            ids.push(object_id(m.key(), m.version_id())?);
        }
        for batch in ids.chunks(DELETE_BATCH) {
            delete_objects(op, bucket, batch.to_vec()).await?;
            deleted += batch.len();
            op.task.waiting(&format!("emptying the bucket: {deleted} objects and versions deleted"));
        }
        if ids.is_empty() || page.is_truncated() != Some(true) {
            return Ok(deleted);
        }
    }
}

fn object_id(key: Option<&str>, version: Option<&str>) -> Result<ObjectIdentifier> {
    let key = key.context("S3 listed an object version without a key")?;
    Ok(ObjectIdentifier::builder().key(key).set_version_id(version.map(str::to_string)).build()?)
}

/// One `DeleteObjects` call (at most [`DELETE_BATCH`] objects); fails when any object could not be deleted.
pub async fn delete_objects(op: &Op<'_>, bucket: &str, objects: Vec<ObjectIdentifier>) -> Result<()> {
    let count = objects.len();
    let done = op
        .clients
        .s3
        .delete_objects()
        .bucket(bucket)
        .delete(Delete::builder().set_objects(Some(objects)).quiet(true).build()?)
        .send()
        .done(|| format!("deleting {count} objects from S3 bucket `{bucket}`"))
        .await?;
    if let Some(first) = done.errors().first() {
        anyhow::bail!(
            "deleting {count} objects from S3 bucket `{bucket}`: {} of them failed, the first `{}`: {} {}",
            done.errors().len(),
            first.key().unwrap_or_default(),
            first.code().unwrap_or_default(),
            first.message().unwrap_or_default()
        );
    }
    Ok(())
}

/// The website bucket.
pub struct Bucket;

impl Resource for Bucket {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        if !exists(reads.clients, reads.env).await? {
            return Ok(super::FoundSet::default());
        }
        Ok(vec![find_bucket(reads.clients, reads.env).await?].into())
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        vec![Want::new("site", env.stack.bucket_name(&env.account.id, &env.region), spec(env))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = settings_fields(found);
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let mut create =
            op.clients.s3.create_bucket().bucket(&spec.name).object_ownership(ObjectOwnership::BucketOwnerEnforced);
        // us-east-1 is the one region that takes no location constraint.
        if spec.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(spec.region.as_str()))
                    .build(),
            );
        }
        // Right after a bucket of this name was deleted (destroy, then deploy),
        // S3 answers 409 OperationAborted "A conflicting conditional operation is
        // currently in progress against this resource. Please try again." for a
        // while; terraform-provider-aws retries CreateBucket on it
        // (`internal/service/s3/bucket.go`, `errCodeOperationAborted`).
        let why = format!(
            "waiting for S3 to finish with the name `{}`: a bucket of that name was deleted moments ago",
            spec.name
        );
        let aborted = |e: &SdkError<CreateBucketError, HttpResponse>| e.code() == Some("OperationAborted");
        let created = retry_while(op.task, &why, NAME_REUSE_LIMIT, || create.clone().send(), aborted).await;
        match created {
            // A deploy killed after CreateBucket: the bucket is ours already.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_exists()) => anyhow::bail!(
                "creating S3 bucket `{}`: the name is taken by another account (S3 names are global); \
                 deploy under another stack `name` or --stage",
                spec.name
            ),
            other => {
                other.aws_context(|| format!("creating S3 bucket `{}`", spec.name))?;
            }
        }
        put_public_access_block(op, spec).await?;
        put_encryption(op, spec).await?;
        put_tags(op, spec).await?;
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        if found.public_access_block != Some([true; 4]) {
            put_public_access_block(op, spec).await?;
        }
        if found.ownership.as_deref() != Some(OWNERSHIP) {
            let rule = aws_sdk_s3::types::OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build()?;
            op.clients
                .s3
                .put_bucket_ownership_controls()
                .bucket(&spec.name)
                .ownership_controls(aws_sdk_s3::types::OwnershipControls::builder().rules(rule).build()?)
                .send()
                .done(|| format!("turning off ACLs of S3 bucket `{}`", spec.name))
                .await?;
        }
        if !encrypted(found) {
            put_encryption(op, spec).await?;
        }
        if tags_field(&spec.tags, &found.tags).is_some() {
            put_tags(op, spec).await?;
        }
        Ok(())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        empty(op, &found.name).await?;
        let doing = || format!("deleting S3 bucket `{}`", found.name);
        op.clients.s3.delete_bucket().bucket(&found.name).send().gone(doing).await
    }
}
