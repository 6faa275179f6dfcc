//! The ACM certificates of `domain:`, validated by DNS.
//!
//! CloudFront takes certificates from us-east-1 only; an API Gateway
//! regional domain takes one from its own region. In us-east-1 one
//! certificate covers both names; elsewhere there are two. An instance is
//! named by the names it covers (`chat.example.com,ws.chat.example.com`),
//! so a change of names is a new certificate, and the old one is deleted
//! once nothing uses it.
//!
//! A certificate is the stack's by its `wschat:stack` and `wschat:stage`
//! tags; `wschat:zone` remembers the hosted zone of its validation and
//! alias records, so that removing `domain:` from stack.yaml still finds them.
//! A certificate of the stack that is ISSUED or PENDING_VALIDATION is reused:
//! discovery finds it, and RequestCertificate carries an idempotency token
//! (ACM answers a repeated request within an hour with the same ARN), so a
//! deploy killed right after the request does not make a second one.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_acm::error::SdkError;
use aws_sdk_acm::operation::delete_certificate::DeleteCertificateError;
use aws_sdk_acm::types::{CertificateStatus, ValidationMethod};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use sha2::{Digest, Sha256};

use super::{Clients, Env, FoundItem, Ids, Op, Resource, Tags, Want, tags_field};
use crate::aws::{AwsContext, Missing, Sent, Tagged, retag};
use crate::diff::FieldChange;

/// The region of CloudFront's certificates.
pub const CLOUDFRONT_REGION: &str = "us-east-1";
/// On a certificate: the hosted zone id of its records (with `domain.zone`).
pub const TAG_ZONE: &str = "wschat:zone";
/// How long ACM may take to put the validation records in DescribeCertificate
/// (terraform-provider-aws waits 5 minutes: `certificateDNSValidationAssignmentTimeout`
/// in `internal/service/acm/certificate.go`).
pub const RECORDS_LIMIT: Duration = Duration::from_secs(5 * 60);
/// How long deploy waits for ISSUED. ACM usually validates within minutes
/// of the records resolving and keeps trying for 72 hours (the
/// `CertificateDetail.Status` reference); terraform-provider-aws's
/// `aws_acm_certificate_validation` waits 75 minutes by default.
pub const ISSUE_LIMIT: Duration = Duration::from_secs(75 * 60);
/// How long DeleteCertificate is retried while CloudFront or API Gateway
/// still uses the certificate: "Removal of ACM Certificates from API Gateway
/// Custom Domains can take >15 minutes" (terraform-provider-aws,
/// `certificateCrossServicePropagationTimeout` = 20 minutes, for which its
/// delete retries `ResourceInUseException`).
pub const IN_USE_LIMIT: Duration = Duration::from_secs(20 * 60);

/// One DNS record ACM asks for (a CNAME), or one the stack writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    /// With the trailing dot, as ACM gives it.
    pub name: String,
    pub kind: String,
    pub value: String,
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.name, self.kind, self.value)
    }
}

/// One certificate the stack wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// Its instance name: the names it covers, joined by commas.
    pub name: String,
    pub region: String,
    pub domains: Vec<String>,
}

/// The certificates `domain:` needs: one in us-east-1 for both names, or
/// one there for the website and one in the stack's region for the API.
pub fn wanted(env: &Env) -> Vec<Wanted> {
    let Some(domain) = &env.stack.domain else { return Vec::new() };
    let [site, websocket] = domain.names().map(str::to_string);
    let one = |region: &str, domains: Vec<String>| Wanted { name: domains.join(","), region: region.into(), domains };
    if env.region == CLOUDFRONT_REGION {
        vec![one(CLOUDFRONT_REGION, vec![site, websocket])]
    } else {
        vec![one(CLOUDFRONT_REGION, vec![site]), one(&env.region, vec![websocket])]
    }
}

/// The instance name of the certificate CloudFront uses.
pub fn for_site(env: &Env) -> Option<String> {
    wanted(env).into_iter().find(|w| w.region == CLOUDFRONT_REGION).map(|w| w.name)
}

/// The instance name of the certificate the API Gateway domain uses.
pub fn for_api(env: &Env) -> Option<(String, String)> {
    wanted(env).into_iter().find(|w| w.region == env.region).map(|w| (w.name, w.region))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub domains: Vec<String>,
    pub region: String,
    /// The stack's tags, and [`TAG_ZONE`] with a zone.
    pub tags: Tags,
    pub idempotency_token: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub arn: String,
    pub region: String,
    /// The primary name first, then the other names.
    pub domains: Vec<String>,
    /// ISSUED, PENDING_VALIDATION, FAILED, VALIDATION_TIMED_OUT, EXPIRED...
    pub status: String,
    /// The CNAME records ACM asks for, once it has assigned them.
    pub records: Vec<Record>,
    pub in_use_by: Vec<String>,
    pub tags: Tags,
}

pub fn spec(env: &Env, wanted: &Wanted) -> Spec {
    let mut tags = env.tags();
    if let Some(zone) = &env.zone {
        tags.insert(TAG_ZONE.to_string(), zone.id.clone());
    }
    // ACM's token: `\w+`, at most 32 characters.
    let seed = format!("{}\n{}\n{}", env.stack.prefix(), wanted.region, wanted.domains.join(","));
    let idempotency_token = format!("wschat{}", &hex::encode(Sha256::digest(seed.as_bytes()))[..24]);
    Spec { domains: wanted.domains.clone(), region: wanted.region.clone(), tags, idempotency_token }
}

/// The regions the stack's certificates may be in.
fn regions(env: &Env) -> Vec<String> {
    let mut regions = vec![CLOUDFRONT_REGION.to_string()];
    if env.region != CLOUDFRONT_REGION {
        regions.push(env.region.clone());
    }
    regions
}

/// Reads one certificate: names, status, validation records, users.
pub async fn describe(clients: &Clients, region: &str, arn: &str) -> Result<Option<Found>> {
    let doing = || format!("reading ACM certificate `{arn}`");
    let Some(got) = clients.acm(region).describe_certificate().certificate_arn(arn).send().found(doing).await? else {
        return Ok(None);
    };
    let Some(c) = got.certificate else { return Ok(None) };
    let primary = c.domain_name.clone().unwrap_or_default();
    let mut domains = vec![primary.clone()];
    domains.extend(c.subject_alternative_names().iter().filter(|n| **n != primary).cloned());
    let mut records: Vec<Record> = c
        .domain_validation_options()
        .iter()
        .filter_map(|o| o.resource_record.as_ref())
        .map(|r| Record { name: r.name.clone(), kind: r.r#type.as_str().to_string(), value: r.value.clone() })
        .collect();
    records.sort();
    records.dedup();
    Ok(Some(Found {
        arn: arn.to_string(),
        region: region.to_string(),
        domains,
        status: c.status.as_ref().map(|s| s.as_str().to_string()).unwrap_or_default(),
        records,
        in_use_by: c.in_use_by.clone().unwrap_or_default(),
        tags: Tags::new(),
    }))
}

/// The stack's certificates (by their tags), in us-east-1 and the stack's region.
pub async fn find_certificates(clients: &Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let mut items = Vec::new();
    for region in regions(env) {
        let acm = clients.acm(&region);
        let summaries = acm
            .list_certificates()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .aws_context(|| format!("listing ACM certificates in {region}"))?;
        let read = summaries.into_iter().filter_map(|s| s.certificate_arn).map(|arn| {
            let region = region.clone();
            async move {
                let doing = || format!("reading the tags of ACM certificate `{arn}`");
                let tags = clients.acm(&region).list_tags_for_certificate().certificate_arn(&arn).send().found(doing);
                let Some(tags) = tags.await? else { return Ok::<_, anyhow::Error>(None) };
                let tags: Tags =
                    tags.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value.unwrap_or_default())).collect();
                if !env.owns(&tags) {
                    return Ok(None);
                }
                let Some(mut found) = describe(clients, &region, &arn).await? else { return Ok(None) };
                found.tags = tags;
                Ok(Some(found))
            }
        });
        for found in futures::future::try_join_all(read).await?.into_iter().flatten() {
            let name = found.domains.join(",");
            items.push(FoundItem::new(name, found.arn.clone(), None, super::Found::Certificate(found)));
        }
    }
    // Of two for the same names, the one further along is kept.
    items.sort_by_key(|i| match &i.found {
        super::Found::Certificate(c) => (i.address.name.clone(), rank(&c.status)),
        _ => (i.address.name.clone(), 9),
    });
    Ok(items)
}

fn rank(status: &str) -> u8 {
    match status {
        "ISSUED" => 0,
        "PENDING_VALIDATION" => 1,
        _ => 2,
    }
}

/// How `status` shows the records to create by hand.
pub fn records_text(records: &[Record]) -> String {
    records.iter().map(Record::to_string).collect::<Vec<_>>().join("; ")
}

/// Says (once a run: the certificate, the API domain and the distribution
/// may each get here) which records to create for the certificate.
fn tell_records(op: &Op<'_>, found: &Found) {
    static TOLD: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut told = TOLD.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for record in &found.records {
        if told.insert(format!("{} {record}", found.arn)) {
            op.task.note(&format!("create this DNS record to validate {}: {record}", found.domains.join(", ")));
        }
    }
}

/// Waits until the certificate is ISSUED, for at most [`ISSUE_LIMIT`].
/// Without a hosted zone, first says which CNAME records to create (exactly
/// as ACM asks for them); a deploy stopped here resumes on the next run.
pub async fn wait_issued(op: &Op<'_>, region: &str, arn: &str) -> Result<()> {
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    let mut told = false;
    loop {
        let found =
            describe(op.clients, region, arn).await?.with_context(|| format!("ACM certificate `{arn}` is gone"))?;
        match found.status.as_str() {
            "ISSUED" => return Ok(()),
            "PENDING_VALIDATION" => {}
            other => anyhow::bail!(
                "ACM certificate `{arn}` is {other}; delete it (or remove `domain:`, deploy, and add it again) so that deploy requests a new one"
            ),
        }
        if op.env.zone.is_none() && !told && !found.records.is_empty() {
            tell_records(op, &found);
            told = true;
        }
        let minutes = started.elapsed().as_secs() / 60;
        let how =
            if op.env.zone.is_some() { "its validation records are in Route 53" } else { "create the records above" };
        op.task.waiting(&format!(
            "waiting for ACM to issue the certificate ({minutes} min; {how}; usually a few minutes)"
        ));
        if started.elapsed() > ISSUE_LIMIT {
            anyhow::bail!(
                "ACM certificate `{arn}` is still PENDING_VALIDATION after {} minutes; check the records ({}) and run deploy again",
                ISSUE_LIMIT.as_secs() / 60,
                records_text(&found.records)
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

/// Waits until ACM has assigned the validation records of every name.
pub async fn wait_records(op: &Op<'_>, region: &str, arn: &str) -> Result<Found> {
    let clients = op.clients;
    let what = "waiting for ACM to assign the DNS validation records";
    crate::aws::poll(op.task, what, RECORDS_LIMIT, || async {
        let found =
            describe(clients, region, arn).await?.with_context(|| format!("ACM certificate `{arn}` is gone"))?;
        Ok((found.records.len() >= found.domains.len()).then_some(found))
    })
    .await
}

/// The stack's ACM certificates.
pub struct Certificate;

impl Resource for Certificate {
    type Spec = Spec;
    type Found = Found;

    fn display(name: &str, id: Option<&str>) -> String {
        match id {
            Some(arn) => format!("{name} ({})", arn.rsplit('/').next().unwrap_or(arn)),
            None => name.to_string(),
        }
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        wanted(env).iter().map(|w| Want::new(&w.name, None, spec(env, w))).collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.region != spec.region {
            fields.push(FieldChange::new("region", &found.region, &spec.region));
        }
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    /// A certificate in another region, or one ACM gave up on, is requested anew.
    fn replaces(spec: &Spec, found: &Found) -> bool {
        found.region != spec.region
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let (primary, others) = spec.domains.split_first().context("a certificate needs a name")?;
        let requested = op
            .clients
            .acm(&spec.region)
            .request_certificate()
            .domain_name(primary)
            .set_subject_alternative_names((!others.is_empty()).then(|| spec.domains.clone()))
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(&spec.idempotency_token)
            .set_tags(Some(crate::aws::acm_tags(&spec.tags)?))
            .send()
            .done(|| format!("requesting an ACM certificate for {}", spec.domains.join(", ")))
            .await?;
        let arn = requested.certificate_arn.context("ACM returned no certificate ARN")?;
        let found = wait_records(op, &spec.region, &arn).await?;
        if op.env.zone.is_none() {
            tell_records(op, &found);
        }
        Ok(arn)
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let what = format!("ACM certificate `{}`", found.arn);
        retag(Tagged::Certificate(op.clients.acm(&found.region), &found.arn), &what, &spec.tags, &found.tags).await
    }

    /// Retries while CloudFront or API Gateway still holds the certificate:
    /// they let go of it minutes after the alias or the domain is gone.
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let acm = op.clients.acm(&found.region);
        let in_use = |e: &SdkError<DeleteCertificateError, HttpResponse>| {
            e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception())
        };
        let why = "waiting for CloudFront and API Gateway to let go of the certificate (up to 20 min on AWS)";
        let delete = || acm.delete_certificate().certificate_arn(&found.arn).send();
        crate::aws::retry_while(op.task, why, IN_USE_LIMIT, delete, in_use)
            .await
            .or_gone()
            .aws_context(|| format!("deleting ACM certificate `{}`", found.arn))
    }

    fn describe(found: &Found) -> Option<String> {
        Some(match found.status.as_str() {
            "PENDING_VALIDATION" if !found.records.is_empty() => {
                format!("PENDING_VALIDATION; validation records: {}", records_text(&found.records))
            }
            status => status.to_string(),
        })
    }

    fn problem(found: &Found) -> Option<String> {
        let bad = [
            CertificateStatus::Failed,
            CertificateStatus::ValidationTimedOut,
            CertificateStatus::Expired,
            CertificateStatus::Revoked,
        ];
        bad.iter().any(|s| s.as_str() == found.status).then(|| format!("ACM says the certificate is {}", found.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_what_acm_takes_and_depends_on_the_names() {
        let env = crate::resources::tests::shipped_with_domain(Some("example.com"));
        let w = &wanted(&env)[0];
        let s = spec(&env, w);
        assert!(s.idempotency_token.len() <= 32 && s.idempotency_token.chars().all(|c| c.is_ascii_alphanumeric()));
        let mut other = w.clone();
        other.domains.pop();
        assert_ne!(spec(&env, &other).idempotency_token, s.idempotency_token);
        assert!(s.tags.contains_key(TAG_ZONE));
    }

    #[test]
    fn us_east_1_has_one_certificate_and_other_regions_two() {
        let mut env = crate::resources::tests::shipped_with_domain(None);
        let one = wanted(&env);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].domains, ["chat.example.com", "ws.chat.example.com"]);
        assert_eq!(for_site(&env), for_api(&env).map(|(n, _)| n));
        env.region = "eu-west-1".into();
        let two = wanted(&env);
        assert_eq!(
            two.iter().map(|w| (w.region.as_str(), w.domains.join(","))).collect::<Vec<_>>(),
            [("us-east-1", "chat.example.com".to_string()), ("eu-west-1", "ws.chat.example.com".to_string())]
        );
        assert_eq!(for_api(&env), Some(("ws.chat.example.com".to_string(), "eu-west-1".to_string())));
    }

    #[test]
    fn only_tags_and_the_region_differ_in_place() {
        let env = crate::resources::tests::shipped_with_domain(None);
        let s = spec(&env, &wanted(&env)[0]);
        let found = Found {
            arn: "arn:aws:acm:us-east-1:1:certificate/c1".into(),
            region: "us-east-1".into(),
            domains: s.domains.clone(),
            status: "PENDING_VALIDATION".into(),
            records: vec![],
            in_use_by: vec![],
            tags: s.tags.clone(),
        };
        assert!(Certificate::diff(&s, &found).is_empty());
        let elsewhere = Found { region: "eu-west-1".into(), ..found.clone() };
        assert!(Certificate::replaces(&s, &elsewhere));
        assert!(Certificate::problem(&Found { status: "FAILED".into(), ..found }).is_some());
    }
}
