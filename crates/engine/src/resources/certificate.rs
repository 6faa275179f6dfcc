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
//! deploy killed right after the request does not make a second one. ACM
//! answers so even once that certificate is deleted: a token that names a
//! deleted certificate is followed by one made from that certificate's ARN
//! ([`next_token`]), so that a deploy right after destroy gets a new one.
//!
//! A certificate the user already has is used instead of requesting one:
//! before planning, [`find_user_certificates`] looks in ACM for an ISSUED,
//! unexpired certificate that no wschat stack tagged and whose names cover
//! every name a wanted certificate needs ([`covers`]). The plan reads the
//! result from `Env::user_certificates`, like `Env::zone`: such a
//! certificate is no instance of this kind (never requested, validated,
//! tagged or deleted); the API domain and the distribution reference its
//! ARN ([`served`]). The stack's own certificate, once it has one, is kept.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_acm::error::SdkError;
use aws_sdk_acm::operation::delete_certificate::DeleteCertificateError;
use aws_sdk_acm::types::{CertificateStatus, ValidationMethod};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use sha2::{Digest, Sha256};

use super::{
    Address, Clients, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Tags, Want, tags_field,
};
use crate::aws::{AwsContext, Missing, Sent, Tagged, retag};
use crate::diff::FieldChange;

pub use super::certificate_reads::{
    Listing, UserCertificate, covers, covers_all, find_user_certificates, list_certificates,
};
use super::certificate_reads::{certificate_tags, describe_certificate, names};
pub use wschat_stack::CLOUDFRONT_REGION;
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

/// The user's certificate that serves wanted certificate `name`: none once
/// discovery found the stack's own (it is kept, so nothing churns).
pub fn user_certificate<'a>(env: &'a Env, ids: &Ids, name: &str) -> Option<&'a UserCertificate> {
    if ids.of(Kind::Certificate, name).value.is_some() {
        return None;
    }
    env.user_certificates.get(name)
}

/// The certificate a custom domain or the distribution serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// Its ARN: the stack's certificate's (known once it exists), or the user's.
    pub arn: Ref<String>,
    /// The user's: nothing of the stack has to exist first.
    pub yours: bool,
}

impl Served {
    /// What a spec serving it references: the stack's certificate, or nothing.
    pub fn reference(&self) -> Option<Reference> {
        (!self.yours).then(|| self.arn.reference())
    }
}

/// The certificate that serves wanted certificate `name`.
pub fn served(env: &Env, ids: &Ids, name: &str) -> Served {
    match user_certificate(env, ids, name) {
        Some(user) => {
            Served { arn: Ref::new(Address::new(Kind::Certificate, name), Some(user.arn.clone())), yours: true }
        }
        None => Served { arn: ids.of(Kind::Certificate, name), yours: false },
    }
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

impl Found {
    /// Whether ACM has assigned the validation record of every name.
    fn has_records(&self) -> bool {
        self.records.len() >= self.domains.len()
    }
}

pub fn spec(env: &Env, wanted: &Wanted) -> Spec {
    let mut tags = env.tags();
    if let Some(zone) = &env.zone {
        tags.insert(TAG_ZONE.to_string(), zone.id.clone());
    }
    let seed = format!("{}\n{}\n{}", env.stack.prefix(), wanted.region, wanted.domains.join(","));
    let idempotency_token = token_of(&seed);
    Spec { domains: wanted.domains.clone(), region: wanted.region.clone(), tags, idempotency_token }
}

/// ACM's token after `token`, which ACM answered with `stale`, a certificate
/// since deleted.
///
/// ACM API Reference, RequestCertificate, `IdempotencyToken`: "Idempotency
/// tokens time out after one hour. Therefore, if you call RequestCertificate
/// multiple times with the same idempotency token within one hour, ACM
/// recognizes that you are requesting only one certificate and will issue only
/// one." It answers with that certificate's ARN after DeleteCertificate too
/// (moto does the same, `_get_arn_from_idempotency_token` in moto/acm/models.py),
/// so a deploy within the hour after destroy got the deleted ARN back, every
/// time. terraform-provider-aws takes a new token for every request
/// (`id.PrefixedUniqueId`), which a deploy killed before it tagged anything
/// could afford; wschat's certificates are found by their tags only, so the
/// next token is made from what ACM answered: the same for every run, and so
/// still idempotent for a deploy killed right after it.
pub fn next_token(token: &str, stale: &str) -> String {
    token_of(&format!("{token}\n{stale}"))
}

/// ACM's token for `seed`: `\w+`, at most 32 characters.
fn token_of(seed: &str) -> String {
    format!("wschat{}", &hex::encode(Sha256::digest(seed.as_bytes()))[..24])
}

/// How many deleted certificates of the same names [`next_token`] follows
/// (one for each destroy and deploy again within an hour) before deploy stops.
const STALE_TOKENS_LIMIT: usize = 20;

/// The regions the stack's certificates may be in.
pub(super) fn regions(env: &Env) -> Vec<String> {
    let mut regions = vec![CLOUDFRONT_REGION.to_string()];
    if env.region != CLOUDFRONT_REGION {
        regions.push(env.region.clone());
    }
    regions
}

/// Reads one certificate: names, status, validation records, users.
pub async fn describe(clients: &Clients, region: &str, arn: &str) -> Result<Option<Found>> {
    let Some(c) = describe_certificate(clients, region, arn).await? else { return Ok(None) };
    let domains = names(c.domain_name.as_deref(), c.subject_alternative_names());
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

/// The ARNs of the certificates of `region` tagged as this stack's, from
/// the Resource Groups Tagging API: one call (a page of 100), however many
/// certificates the account has. "Tagged or previously tagged" (API
/// Reference, GetResources): a certificate deleted a moment ago may still
/// be listed, so each is read again.
async fn tagged_certificates(clients: &Clients, env: &Env, region: &str) -> Result<Vec<String>> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let tags = env.tags();
    let filter = |key: &str| TagFilter::builder().key(key).values(tags.get(key).cloned().unwrap_or_default()).build();
    let mappings = crate::aws::every(
        clients
            .tagging(region)
            .get_resources()
            .resource_type_filters("acm:certificate")
            .tag_filters(filter(wschat_stack::TAG_STACK))
            .tag_filters(filter(wschat_stack::TAG_STAGE))
            .into_paginator()
            .items()
            .send(),
    )
    .await
    .aws_context(|| format!("finding the stack's ACM certificates in {region} by their tags (tag:GetResources)"))?;
    Ok(mappings.into_iter().filter_map(|m| m.resource_arn).collect())
}

/// The stack's certificates, in us-east-1 and the stack's region: those the
/// Tagging API finds by the stack's tags, and, since its index may lag a
/// certificate requested moments ago, those [`list_certificates`] found
/// with exactly the names of a wanted one. Each is read (its tags, to be
/// sure, and the certificate) at ACM's rates: a few calls, however many
/// certificates the account has.
pub async fn find_certificates(clients: &Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let wanted = wanted(env);
    let mut items = Vec::new();
    for region in regions(env) {
        let mut arns = tagged_certificates(clients, env, &region).await?;
        let named = env
            .certificate_listing
            .get(&region)
            .into_iter()
            .flatten()
            .filter(|l| wanted.iter().any(|w| w.region == region && l.named(&w.domains)));
        arns.extend(named.map(|l| l.arn.clone()));
        arns.sort();
        arns.dedup();
        let read = arns.into_iter().map(|arn| {
            let region = region.clone();
            async move {
                let Some(tags) = certificate_tags(clients, &region, &arn).await? else {
                    return Ok::<_, anyhow::Error>(None);
                };
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
    items.sort_by_key(|i| (i.address.name.clone(), Certificate::of(&i.found).map_or(9, |c| rank(&c.status))));
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
        Ok(found.has_records().then_some(found))
    })
    .await
}

/// The stack's ACM certificates.
pub struct Certificate;

impl Resource for Certificate {
    type Spec = Spec;
    type Found = Found;

    fn learn(address: &super::Address, found: &Found, ids: &mut Ids) {
        ids.validation.insert(address.clone(), found.records.clone());
    }

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_certificates(reads.clients, reads.env).await?.into())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        match id {
            Some(arn) => format!("{name} ({})", arn.rsplit('/').next().unwrap_or(arn)),
            None => name.to_string(),
        }
    }

    /// What the user's certificates cover is not the stack's to request.
    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        wanted(env)
            .iter()
            .filter(|w| user_certificate(env, ids, &w.name).is_none())
            .map(|w| Want::new(&w.name, None, spec(env, w)))
            .collect()
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
        let names = spec.domains.join(", ");
        let mut token = spec.idempotency_token.clone();
        for _ in 0..STALE_TOKENS_LIMIT {
            let requested = op
                .clients
                .acm(&spec.region)
                .request_certificate()
                .domain_name(primary)
                .set_subject_alternative_names((!others.is_empty()).then(|| spec.domains.clone()))
                .validation_method(ValidationMethod::Dns)
                .idempotency_token(&token)
                .set_tags(Some(crate::aws::acm_tags(&spec.tags)?))
                .send()
                .done(|| format!("requesting an ACM certificate for {names}"))
                .await?;
            let arn = requested.certificate_arn.context("ACM returned no certificate ARN")?;
            let Some(found) = describe(op.clients, &spec.region, &arn).await? else {
                token = next_token(&token, &arn);
                continue;
            };
            let found = if found.has_records() { found } else { wait_records(op, &spec.region, &arn).await? };
            if op.env.zone.is_none() {
                tell_records(op, &found);
            }
            return Ok(arn);
        }
        anyhow::bail!(
            "ACM answered {STALE_TOKENS_LIMIT} requests for a certificate for {names} with certificates since \
             deleted (a token is kept an hour); run deploy again an hour after the last destroy"
        )
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
    fn a_token_that_named_a_deleted_certificate_is_followed_by_one_of_its_own() {
        let env = crate::resources::tests::shipped_with_domain(Some("example.com"));
        let first = spec(&env, &wanted(&env)[0]).idempotency_token;
        let stale = "arn:aws:acm:us-east-1:123456789012:certificate/1";
        let second = next_token(&first, stale);
        assert!(second.len() <= 32 && second.chars().all(|c| c.is_ascii_alphanumeric()), "{second}");
        // The same for every run (a deploy killed after the request finds it
        // again), and another for another deleted certificate or link.
        assert_eq!(next_token(&first, stale), second);
        assert_ne!(second, first);
        assert_ne!(next_token(&first, "arn:aws:acm:us-east-1:123456789012:certificate/2"), second);
        assert_ne!(next_token(&second, stale), second);
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

    fn user(arn: &str, domains: &[&str]) -> UserCertificate {
        UserCertificate {
            arn: arn.into(),
            region: CLOUDFRONT_REGION.into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            not_after: 2_000_000_000,
            candidates: 1,
        }
    }

    #[test]
    fn a_user_certificate_is_served_and_not_requested_validated_or_referenced() {
        use crate::resources::{Spec as AnySpec, desired, references};
        let mut env = crate::resources::tests::shipped_with_domain(Some("example.com"));
        let name = wanted(&env)[0].name.clone();
        let arn = "arn:aws:acm:us-east-1:123456789012:certificate/yours";
        env.user_certificates.insert(name.clone(), user(arn, &["*.example.com", "*.chat.example.com"]));
        let wants = desired(&env, &Ids::default());
        let count = |kind: Kind| wants.iter().filter(|w| w.address.kind == kind).count();
        assert_eq!([Kind::Certificate, Kind::ValidationRecord].map(count), [0, 0]);
        for want in &wants {
            let refs = references(&want.spec);
            assert!(
                refs.iter().all(|r| !matches!(r.to.kind, Kind::Certificate | Kind::ValidationRecord)),
                "{}: {refs:?}",
                want.address
            );
            match &want.spec {
                AnySpec::ApiDomain(d) => assert_eq!(
                    (d.certificate.arn.known().map(String::as_str), d.validation.is_none()),
                    (Some(arn), true)
                ),
                AnySpec::Distribution(d) => {
                    let served = d.certificate.as_ref().unwrap();
                    assert_eq!((served.arn.known().map(String::as_str), d.validation.is_none()), (Some(arn), true));
                }
                _ => {}
            }
        }
        assert!(
            user_certificate(&env, &Ids::default(), &name)
                .unwrap()
                .note(&name)
                .contains("yours, not managed by wschat")
        );

        // The stack's own certificate, once found, is kept: no churn.
        let mut ids = Ids::default();
        ids.record(&Address::new(Kind::Certificate, &name), "arn:aws:acm:us-east-1:1:certificate/own");
        assert!(user_certificate(&env, &ids, &name).is_none());
        let wants = desired(&env, &ids);
        assert_eq!(wants.iter().filter(|w| w.address.kind == Kind::Certificate).count(), 1);
        let served = served(&env, &ids, &name);
        assert_eq!(
            (served.arn.known().map(String::as_str), served.yours),
            (Some("arn:aws:acm:us-east-1:1:certificate/own"), false)
        );
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
