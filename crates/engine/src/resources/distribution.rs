//! The CloudFront distribution in front of the private bucket: an S3 REST
//! origin signed through the stack's Origin Access Control, `index.html` at
//! the root, HTTP redirected to HTTPS, HTTP/2 and HTTP/3, compression, the
//! managed CachingOptimized cache policy, the stack's price class.
//!
//! Distributions have no unique name, so the stack's is the one carrying its
//! `wschat:stack` and `wschat:stage` tags. Only candidates are asked for
//! their tags: those whose comment names the stack or whose origin is the
//! stack's bucket.
//!
//! Some of what is sent cannot be read back everywhere (moto drops the
//! origin's OAC id), so the desired configuration's hash travels in the
//! `wschat:config` tag; a different hash means the distribution needs an
//! update. Readable fields are compared as well, so changes made in the
//! console show up as drift.
//!
//! Deleting is the long sequence AWS insists on (moto does not): disable,
//! wait until CloudFront reports `Deployed` (minutes), then delete with the
//! current ETag. Each step starts from what CloudFront says now, so a
//! destroy that was interrupted anywhere continues where it stopped.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CachedMethods, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
    HttpVersion, Method, MinimumProtocolVersion, Origin, Origins, PriceClass, S3OriginConfig, SslSupportMethod,
    ViewerCertificate, ViewerProtocolPolicy,
};
use sha2::{Digest, Sha256};

use aws_sdk_cloudfront::error::SdkError;
use aws_sdk_cloudfront::operation::get_distribution::GetDistributionError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::{Clients, Env, FoundItem, Ids, Op, Ref, Reference, Resource, Tags, Want, retry_while, tags_field};
use crate::aws::{AwsContext, Sent, Tagged, retag};
use crate::diff::FieldChange;
use crate::progress::Task;

/// CloudFront's managed cache policy `Managed-CachingOptimized`: no cookies,
/// headers or query strings in the key, gzip and brotli, TTLs from the origin's
/// Cache-Control within 1 s..1 year (default 1 day).
pub const CACHE_POLICY: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// CloudFront's managed response headers policy `Managed-SecurityHeadersPolicy`:
/// HSTS, `X-Content-Type-Options: nosniff`, `X-Frame-Options: SAMEORIGIN`,
/// `Referrer-Policy` and `X-XSS-Protection` on every response. The page's CSP is
/// a meta tag, which cannot forbid framing; this header does. moto does not
/// return the field, so the configuration hash carries it.
pub const RESPONSE_HEADERS_POLICY: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";
pub const ORIGIN_ID: &str = "site-bucket";
pub const ROOT_OBJECT: &str = "index.html";
pub const VIEWER_PROTOCOL: &str = "redirect-to-https";
pub const HTTP_VERSION: &str = "http2and3";
/// With `domain:`: the alias's certificate is served by SNI (a dedicated IP
/// costs $600 a month) with CloudFront's recommended policy.
pub const SSL_SUPPORT: &str = "sni-only";
pub const MINIMUM_PROTOCOL: &str = "TLSv1.2_2021";
/// The tag holding the hash of the configuration last applied.
pub use wschat_stack::TAG_CONFIG;
/// A distribution's status when every edge location has its configuration.
pub const DEPLOYED: &str = "Deployed";
/// Polls of the status are at most this far apart.
pub const POLL_MAX: Duration = Duration::from_secs(10);
/// CloudFront takes 5–15 minutes to deploy or disable a distribution; this is far beyond.
pub const DEPLOY_LIMIT: Duration = Duration::from_secs(45 * 60);

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub comment: String,
    /// The bucket's regional REST endpoint.
    pub origin_domain: String,
    pub oac_id: Ref<String>,
    pub price_class: String,
    /// With `domain:`, the website's name.
    pub aliases: Vec<String>,
    /// With `domain:`, the us-east-1 certificate of the alias.
    pub certificate: Option<crate::resources::certificate::Served>,
    /// With `domain.zone`: the certificate's validation records, which must be there first.
    pub validation: Option<Reference>,
    /// The stack's tags, without [`TAG_CONFIG`].
    pub tags: Tags,
    /// The hash of everything above that CloudFront is sent (known with the OAC's id).
    pub hash: Ref<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    /// `InProgress` or `Deployed`.
    pub status: String,
    pub enabled: bool,
    pub comment: String,
    pub origin_domain: String,
    pub price_class: String,
    pub http_version: String,
    pub viewer_protocol: String,
    pub compress: bool,
    pub cache_policy: String,
    pub aliases: Vec<String>,
    /// The ACM certificate of the aliases, if any.
    pub certificate_arn: Option<String>,
    pub minimum_protocol: String,
    /// Without [`TAG_CONFIG`].
    pub tags: Tags,
    /// The [`TAG_CONFIG`] tag.
    pub hash: Option<String>,
    /// Epoch seconds: of duplicates, the oldest is kept.
    pub modified: i64,
}

pub fn spec(env: &Env, ids: &Ids) -> Spec {
    let stack = &env.stack;
    let comment = stack.distribution_comment();
    let origin_domain = stack.bucket_domain(&env.account.id, &env.region);
    let oac_id = ids.oac();
    let price_class = stack.website.price_class.as_str().to_string();
    let aliases: Vec<String> = stack.domain.iter().map(|d| d.name.clone()).collect();
    let site_certificate = crate::resources::certificate::for_site(env);
    let certificate = site_certificate.as_ref().map(|name| crate::resources::certificate::served(env, ids, name));
    let validation = site_certificate
        .filter(|_| env.zone.is_some() && !certificate.as_ref().is_some_and(|c| c.yours))
        .map(|name| Reference::exists(crate::resources::Kind::ValidationRecord, name));
    let certificate_arn = certificate.as_ref().map(|c| c.arn.value.clone().unwrap_or_default()).unwrap_or_default();
    let alias_list = aliases.join(",");
    let hash = oac_id.map(|oac_id| {
        let mut settings: Vec<(&str, &str)> = vec![
            ("comment", &comment),
            ("origin", &origin_domain),
            ("origin access control", oac_id),
            ("root object", ROOT_OBJECT),
            ("viewer protocol", VIEWER_PROTOCOL),
            ("http version", HTTP_VERSION),
            ("compress", "true"),
            ("ipv6", "true"),
            ("methods", "GET,HEAD"),
            ("cache policy", CACHE_POLICY),
            ("response headers policy", RESPONSE_HEADERS_POLICY),
            ("price class", &price_class),
            ("enabled", "true"),
        ];
        // Only with `domain:`, so that the hash of a stack without one is what it was.
        if !alias_list.is_empty() {
            settings.extend([("aliases", alias_list.as_str()), ("certificate", certificate_arn.as_str())]);
        }
        config_hash(&settings)
    });
    Spec { comment, origin_domain, oac_id, price_class, aliases, certificate, validation, tags: env.tags(), hash }
}

/// 16 hex digits of the SHA-256 of the settings, one `name=value` a line.
fn config_hash(settings: &[(&str, &str)]) -> String {
    let text: String = settings.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_string()
}

/// The distributions tagged with this stack and stage, oldest first.
pub async fn find_distributions(clients: &Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let comment = env.stack.distribution_comment();
    let origin = env.stack.bucket_domain(&env.account.id, &env.region);
    let summaries = crate::aws::every(clients.cloudfront.list_distributions().into_paginator().items().send())
        .await
        .aws_context(|| "listing CloudFront distributions".to_string())?;
    let candidates = summaries.into_iter().filter(|d| {
        d.comment == comment || d.origins.as_ref().is_some_and(|o| o.items.iter().any(|o| o.domain_name == origin))
    });
    let read = candidates.map(|d| async move {
        let doing = || format!("reading the tags of CloudFront distribution `{}`", d.id);
        let tags = clients.cloudfront.list_tags_for_resource().resource(&d.arn).send().done(doing).await?;
        let mut tags = crate::aws::from_cloudfront(tags.tags);
        if !env.owns(&tags) {
            return Ok::<_, anyhow::Error>(None);
        }
        let hash = tags.remove(TAG_CONFIG);
        let behavior = d.default_cache_behavior.as_ref();
        Ok(Some(Found {
            domain_name: d.domain_name.clone(),
            status: d.status.clone(),
            enabled: d.enabled,
            comment: d.comment.clone(),
            origin_domain: d
                .origins
                .as_ref()
                .and_then(|o| o.items.first())
                .map(|o| o.domain_name.clone())
                .unwrap_or_default(),
            price_class: d.price_class.as_str().to_string(),
            http_version: d.http_version.as_str().to_string(),
            viewer_protocol: behavior.map(|b| b.viewer_protocol_policy.as_str().to_string()).unwrap_or_default(),
            compress: behavior.and_then(|b| b.compress).unwrap_or(false),
            cache_policy: behavior.and_then(|b| b.cache_policy_id.clone()).unwrap_or_default(),
            aliases: d.aliases.as_ref().map(|a| a.items().to_vec()).unwrap_or_default(),
            certificate_arn: d
                .viewer_certificate
                .as_ref()
                .and_then(|v| v.acm_certificate_arn.clone())
                .filter(|arn| !arn.is_empty()),
            minimum_protocol: d
                .viewer_certificate
                .as_ref()
                .and_then(|v| v.minimum_protocol_version.as_ref())
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            tags,
            hash,
            modified: d.last_modified_time.secs(),
            id: d.id.clone(),
            arn: d.arn.clone(),
        }))
    });
    let mut found: Vec<Found> = futures::future::try_join_all(read).await?.into_iter().flatten().collect();
    found.sort_by(|a, b| (a.modified, &a.id).cmp(&(b.modified, &b.id)));
    Ok(found.into_iter().map(|f| FoundItem::new("site", f.id.clone(), None, super::Found::Distribution(f))).collect())
}

/// What differs in the configuration: the readable fields, and the hash for
/// what cannot be read back (when no readable field explains it).
fn config_fields(spec: &Spec, found: &Found) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    let mut check = |field: &str, have: &str, want: &str| {
        if have != want {
            fields.push(FieldChange::new(field, have, want));
        }
    };
    check("enabled", &found.enabled.to_string(), "true");
    check("comment", &found.comment, &spec.comment);
    check("origin", &found.origin_domain, &spec.origin_domain);
    check("price class", &found.price_class, &spec.price_class);
    check("http version", &found.http_version, HTTP_VERSION);
    check("viewer protocol", &found.viewer_protocol, VIEWER_PROTOCOL);
    check("compress", &found.compress.to_string(), "true");
    check("cache policy", &found.cache_policy, CACHE_POLICY);
    check("aliases", &found.aliases.join(","), &spec.aliases.join(","));
    if let Some(arn) = spec.certificate.as_ref().and_then(|c| c.arn.known()) {
        check("certificate", found.certificate_arn.as_deref().unwrap_or("(CloudFront's)"), arn);
        check("minimum TLS", &found.minimum_protocol, MINIMUM_PROTOCOL);
    } else if spec.certificate.is_none() && found.certificate_arn.is_some() {
        check("certificate", found.certificate_arn.as_deref().unwrap_or_default(), "(CloudFront's)");
    }
    if fields.is_empty() && found.hash.as_ref() != spec.hash.known() {
        fields.push(FieldChange::new(
            "configuration hash",
            found.hash.as_deref().unwrap_or("(none)"),
            spec.hash.shown(),
        ));
    }
    fields
}

fn distribution_config(spec: &Spec, caller_reference: &str) -> Result<DistributionConfig> {
    let origin = Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(&spec.origin_domain)
        // With an OAC, the legacy origin access identity must be empty.
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .origin_access_control_id(spec.oac_id.get()?)
        .build()?;
    let get_head = || [Method::Get, Method::Head];
    let methods = AllowedMethods::builder()
        .quantity(2)
        .set_items(Some(get_head().to_vec()))
        .cached_methods(CachedMethods::builder().quantity(2).set_items(Some(get_head().to_vec())).build()?)
        .build()?;
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id(ORIGIN_ID)
        .viewer_protocol_policy(ViewerProtocolPolicy::from(VIEWER_PROTOCOL))
        .allowed_methods(methods)
        .compress(true)
        .cache_policy_id(CACHE_POLICY)
        .response_headers_policy_id(RESPONSE_HEADERS_POLICY)
        .build()?;
    let aliases = Aliases::builder()
        .quantity(spec.aliases.len() as i32)
        .set_items((!spec.aliases.is_empty()).then(|| spec.aliases.clone()))
        .build()?;
    let viewer_certificate = match &spec.certificate {
        Some(served) => ViewerCertificate::builder()
            .acm_certificate_arn(served.arn.get()?)
            .ssl_support_method(SslSupportMethod::from(SSL_SUPPORT))
            .minimum_protocol_version(MinimumProtocolVersion::from(MINIMUM_PROTOCOL))
            .build(),
        None => ViewerCertificate::builder().cloud_front_default_certificate(true).build(),
    };
    Ok(DistributionConfig::builder()
        .caller_reference(caller_reference)
        .aliases(aliases)
        .viewer_certificate(viewer_certificate)
        .comment(&spec.comment)
        .enabled(true)
        .default_root_object(ROOT_OBJECT)
        .origins(Origins::builder().quantity(1).items(origin).build()?)
        .default_cache_behavior(behavior)
        .price_class(PriceClass::from(spec.price_class.as_str()))
        .http_version(HttpVersion::from(HTTP_VERSION))
        .is_ipv6_enabled(true)
        .build()?)
}

/// The stack's tags plus the configuration hash, as CloudFront takes them.
fn all_tags(spec: &Spec) -> Result<Tags> {
    let mut tags = spec.tags.clone();
    tags.insert(TAG_CONFIG.to_string(), spec.hash.get()?.clone());
    Ok(tags)
}

/// A distribution at rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployed {
    pub domain_name: String,
    pub etag: Option<String>,
}

/// Polls the distribution (at most [`POLL_MAX`] apart, for at most
/// [`DEPLOY_LIMIT`]) until its status is `Deployed`; `task` shows `why`,
/// the status and the minutes so far. `None` when the distribution is gone.
pub async fn wait_deployed(clients: &Clients, task: &Task, id: &str, why: &str) -> Result<Option<Deployed>> {
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let doing = || format!("reading CloudFront distribution `{id}`");
        let Some(got) = clients.cloudfront.get_distribution().id(id).send().found(doing).await? else {
            return Ok(None);
        };
        let distribution = got.distribution.with_context(|| format!("CloudFront returned no distribution `{id}`"))?;
        if distribution.status == DEPLOYED {
            return Ok(Some(Deployed { domain_name: distribution.domain_name, etag: got.e_tag }));
        }
        let minutes = started.elapsed().as_secs() / 60;
        task.waiting(&format!("{why}: {} for {minutes} min (CloudFront usually takes 5–15)", distribution.status));
        if started.elapsed() > DEPLOY_LIMIT {
            anyhow::bail!(
                "CloudFront distribution `{id}` is still {} after {} minutes; run the command again to keep waiting",
                distribution.status,
                DEPLOY_LIMIT.as_secs() / 60
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(POLL_MAX);
    }
}

/// The distribution's domain and status, read now.
pub async fn read(clients: &Clients, id: &str) -> Result<(String, String)> {
    // Just created, a distribution may be missing from reads for a moment.
    let missing = |e: &SdkError<GetDistributionError, HttpResponse>| {
        e.as_service_error().is_some_and(|e| e.is_no_such_distribution())
    };
    let read = || clients.cloudfront.get_distribution().id(id).send();
    let got = retry_while(&Task::hidden(), "", Duration::from_secs(30), read, missing)
        .await
        .aws_context(|| format!("reading CloudFront distribution `{id}`"))?;
    let d = got.distribution.with_context(|| format!("CloudFront returned no distribution `{id}`"))?;
    Ok((d.domain_name, d.status))
}

/// CloudFront takes only an ISSUED certificate (`InvalidViewerCertificate`).
async fn wait_certificate(op: &Op<'_>, spec: &Spec) -> Result<()> {
    match &spec.certificate {
        Some(served) => {
            let region = crate::resources::certificate::CLOUDFRONT_REGION;
            crate::resources::certificate::wait_issued(op, region, served.arn.get()?).await
        }
        None => Ok(()),
    }
}

/// The website's CloudFront distribution.
pub struct Distribution;

impl Resource for Distribution {
    type Spec = Spec;
    type Found = Found;

    fn learn(address: &super::Address, found: &Found, ids: &mut Ids) {
        ids.aliases.insert(
            address.clone(),
            super::dns_record::AliasTarget {
                dns_name: super::dns_record::plain(&found.domain_name),
                zone_id: super::dns_record::CLOUDFRONT_ZONE.into(),
            },
        );
    }

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_distributions(reads.clients, reads.env).await?.into())
    }

    /// Its id, which CloudFront makes up; there is one distribution.
    fn display(_name: &str, id: Option<&str>) -> String {
        id.unwrap_or("of the website").to_string()
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        let mut references = vec![spec.oac_id.reference()];
        references.extend(spec.certificate.as_ref().and_then(|c| c.reference()));
        references.extend(spec.validation.clone());
        references
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        if !env.stack.website.cdn {
            return Vec::new();
        }
        vec![Want::new("site", None, spec(env, ids))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = config_fields(spec, found);
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        // Unique per request; the SDK's retries resend the same one, which
        // CloudFront answers with the distribution it already made.
        wait_certificate(op, spec).await?;
        let millis = chat_core::now_millis();
        let caller_reference = format!("{}-{millis}", op.env.stack.prefix());
        let created = op
            .clients
            .cloudfront
            .create_distribution_with_tags()
            .distribution_config_with_tags(
                DistributionConfigWithTags::builder()
                    .distribution_config(distribution_config(spec, &caller_reference)?)
                    .tags(crate::aws::cloudfront_tags(&all_tags(spec)?)?)
                    .build(),
            )
            .send()
            .done(|| format!("creating the CloudFront distribution of S3 bucket `{}`", spec.origin_domain))
            .await?;
        let distribution = created.distribution.context("CloudFront returned no distribution")?;
        Ok(distribution.id)
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let cf = &op.clients.cloudfront;
        if !config_fields(spec, found).is_empty() {
            wait_certificate(op, spec).await?;
            let doing = || format!("reading CloudFront distribution `{}`", found.id);
            let current = cf.get_distribution_config().id(&found.id).send().done(doing).await?;
            let caller_reference =
                current.distribution_config.as_ref().map(|c| c.caller_reference.clone()).unwrap_or_default();
            cf.update_distribution()
                .id(&found.id)
                .set_if_match(current.e_tag)
                .distribution_config(distribution_config(spec, &caller_reference)?)
                .send()
                .done(|| format!("updating CloudFront distribution `{}`", found.id))
                .await?;
        }
        let mut have = found.tags.clone();
        if let Some(hash) = &found.hash {
            have.insert(TAG_CONFIG.to_string(), hash.clone());
        }
        let what = format!("CloudFront distribution `{}`", found.id);
        retag(Tagged::Distribution(cf, &found.arn), &what, &all_tags(spec)?, &have).await
    }

    /// Disables the distribution, waits until CloudFront has disabled it
    /// everywhere, then deletes it with the ETag of that moment.
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let cf = &op.clients.cloudfront;
        let id = &found.id;
        let doing = || format!("reading CloudFront distribution `{id}`");
        let Some(current) = cf.get_distribution_config().id(id).send().found(doing).await? else {
            return Ok(());
        };
        let mut config = current
            .distribution_config
            .with_context(|| format!("CloudFront distribution `{id}` has no configuration"))?;
        // UpdateDistribution answers with the distribution and its new ETag:
        // when that already says `Deployed`, there is nothing to wait for.
        let mut disabled_etag = None;
        if config.enabled {
            op.task.waiting("disabling it (CloudFront deletes only disabled distributions)");
            config.enabled = false;
            let updated = cf
                .update_distribution()
                .id(id)
                .set_if_match(current.e_tag)
                .distribution_config(config)
                .send()
                .done(|| format!("disabling CloudFront distribution `{id}`"))
                .await?;
            if updated.distribution.is_some_and(|d| d.status == DEPLOYED) {
                disabled_etag = Some(updated.e_tag);
            }
        }
        let etag = match disabled_etag {
            Some(etag) => etag,
            None => {
                let why = "waiting for CloudFront to disable it at every edge location";
                let Some(deployed) = wait_deployed(op.clients, op.task, id, why).await? else { return Ok(()) };
                deployed.etag
            }
        };
        op.task.waiting("deleting it");
        cf.delete_distribution()
            .id(id)
            .set_if_match(etag)
            .send()
            .gone(|| format!("deleting CloudFront distribution `{id}`"))
            .await
    }

    /// What `status` says about the distribution beside its state.
    fn describe(found: &Found) -> Option<String> {
        let state = if found.enabled { found.status.clone() } else { format!("{}, disabled", found.status) };
        Some(if found.aliases.is_empty() {
            state
        } else {
            format!("{state}; alias {} with {}", found.aliases.join(", "), found.minimum_protocol)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_changes_with_any_setting() {
        let a = config_hash(&[("origin access control", "E1"), ("price class", "PriceClass_100")]);
        assert_eq!(a.len(), 16);
        assert_eq!(a, config_hash(&[("origin access control", "E1"), ("price class", "PriceClass_100")]));
        assert_ne!(a, config_hash(&[("origin access control", "E2"), ("price class", "PriceClass_100")]));
        assert_ne!(a, config_hash(&[("origin access control", "E1"), ("price class", "PriceClass_All")]));
    }

    #[test]
    fn the_config_serves_https_only_with_security_headers() {
        let spec = Spec {
            comment: "wschat stack `chat`, stage `dev`".into(),
            origin_domain: "b.s3.us-east-1.amazonaws.com".into(),
            oac_id: Ref::new(
                crate::resources::Address::new(crate::resources::Kind::OriginAccessControl, "site"),
                Some("E1".into()),
            ),
            price_class: "PriceClass_100".into(),
            aliases: vec![],
            certificate: None,
            validation: None,
            tags: Tags::new(),
            hash: Ref::new(
                crate::resources::Address::new(crate::resources::Kind::OriginAccessControl, "site"),
                Some("h".into()),
            ),
        };
        let config = distribution_config(&spec, "ref").unwrap();
        let behavior = config.default_cache_behavior().unwrap();
        assert_eq!(behavior.viewer_protocol_policy().as_str(), "redirect-to-https");
        assert_eq!(behavior.response_headers_policy_id(), Some(RESPONSE_HEADERS_POLICY));
        assert_eq!(behavior.cache_policy_id(), Some(CACHE_POLICY));
        let origin = &config.origins().unwrap().items()[0];
        assert_eq!(origin.origin_access_control_id(), Some("E1"));
        assert_eq!(config.default_root_object(), Some(ROOT_OBJECT));
    }
}
