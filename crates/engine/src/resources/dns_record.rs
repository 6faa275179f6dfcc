//! Route 53 alias records of `domain:` (with `domain.zone`): A and AAAA for
//! the website's name, pointing at the CloudFront distribution, and for the
//! WebSocket's name, pointing at the API Gateway domain's regional target (a
//! dualstack domain, `api_domain.rs`: the AAAA record has IPv6 behind it).
//!
//! Records carry no tags: the stack's are the alias A and AAAA records, in
//! the zone of the stack's certificates (their `wschat:zone` tag), of the
//! names those certificates cover. So removing `domain:` still finds them.
//!
//! Also the Route 53 chores the validation records share: listing a zone's
//! records, and a change of one record, where deleting one that is not
//! there counts as done.

use anyhow::{Context, Result};
use aws_sdk_route53::types::{
    AliasTarget as R53Alias, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::{Clients, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Want};
use crate::aws::{AwsContext, Sent};
use crate::diff::FieldChange;

/// The hosted zone id of every CloudFront alias target ("Z2FDTNDATAQYW2",
/// Route 53 API reference, `AliasTarget.HostedZoneId`).
pub const CLOUDFRONT_ZONE: &str = "Z2FDTNDATAQYW2";
/// The record types of each name: IPv4 and IPv6 (the distribution has IPv6 on).
pub const KINDS: [&str; 2] = ["A", "AAAA"];

/// Where an alias record points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AliasTarget {
    /// Lowercase, without the trailing dot.
    pub dns_name: String,
    pub zone_id: String,
}

/// A DNS name as people write it: lowercase, no trailing dot.
pub fn plain(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The public hosted zone `name` of the account (`domain.zone`).
pub async fn find_zone(route53: &aws_sdk_route53::Client, name: &str) -> Result<super::Zone> {
    // Zones come in name order from `name` on: the ones of that name first
    // (a public one, and private ones of the same name), so a page of ten
    // holds them however many zones the account has.
    let listed = route53
        .list_hosted_zones_by_name()
        .dns_name(name)
        .max_items(10)
        .send()
        .done(|| format!("looking up Route 53 hosted zone `{name}`"))
        .await?;
    let zone = listed
        .hosted_zones
        .into_iter()
        .find(|z| plain(&z.name) == name && !z.config.as_ref().is_some_and(|c| c.private_zone))
        .with_context(|| {
            format!("no public Route 53 hosted zone `{name}` in this account; create it, or leave out domain.zone and create the DNS records yourself")
        })?;
    Ok(super::Zone { id: zone.id.trim_start_matches("/hostedzone/").to_string(), name: name.to_string() })
}

/// Every record set of a hosted zone.
pub async fn list_records(clients: &Clients, zone_id: &str) -> Result<Vec<ResourceRecordSet>> {
    let mut all = Vec::new();
    let (mut name, mut kind, mut identifier) = (None, None, None);
    loop {
        let page = clients
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .set_start_record_name(name.take())
            .set_start_record_type(kind.take())
            .set_start_record_identifier(identifier.take())
            .send()
            .done(|| format!("listing the records of Route 53 hosted zone `{zone_id}`"))
            .await?;
        all.extend(page.resource_record_sets);
        if !page.is_truncated {
            return Ok(all);
        }
        (name, kind, identifier) = (page.next_record_name, page.next_record_type, page.next_record_identifier);
        if name.is_none() {
            return Ok(all);
        }
    }
}

/// The zones the stack's records may be in: `domain.zone`'s, and those its
/// certificates and API Gateway domains remember (of the two, only the
/// domain is the stack's when the certificate is the user's).
pub fn zones(env: &Env, found: &[FoundItem]) -> Vec<String> {
    let mut zones: Vec<String> = env.zone.iter().map(|z| z.id.clone()).collect();
    for item in found {
        let certificate = super::certificate::Certificate::of(&item.found).map(|c| &c.tags);
        let Some(tags) = certificate.or_else(|| super::api_domain::ApiDomain::of(&item.found).map(|d| &d.tags)) else {
            continue;
        };
        if let Some(zone) = tags.get(super::certificate::TAG_ZONE)
            && !zones.contains(zone)
        {
            zones.push(zone.clone());
        }
    }
    zones
}

/// Sends one change of one record. `PriorRequestNotComplete` (Route 53 still
/// busy with an earlier change) is on the SDK's list of throttling errors,
/// so its standard retry backs off and sends it again. Deleting one that is gone is done:
/// Route 53 answers `InvalidChangeBatch` "Tried to delete resource record set
/// ... but it was not found" (ChangeResourceRecordSets API reference;
/// terraform-provider-aws's `aws_route53_record` delete treats that as
/// success), and moto `InvalidInput`.
pub async fn change(clients: &Clients, zone_id: &str, action: ChangeAction, set: ResourceRecordSet) -> Result<()> {
    let what = format!("{} {}", set.name, set.r#type.as_str());
    let deleting = action == ChangeAction::Delete;
    let doing =
        || format!("{} Route 53 record {what} in zone `{zone_id}`", if deleting { "deleting" } else { "writing" });
    let batch =
        ChangeBatch::builder().changes(Change::builder().action(action).resource_record_set(set).build()?).build()?;
    let sent = clients.route53.change_resource_record_sets().hosted_zone_id(zone_id).change_batch(batch).send().await;
    match sent {
        Err(e) if deleting && missing_record(&e) => Ok(()),
        other => other.aws_context(doing).map(drop),
    }
}

fn missing_record<E: aws_smithy_types::error::metadata::ProvideErrorMetadata, R>(
    e: &aws_sdk_route53::error::SdkError<E, R>,
) -> bool {
    let Some(service) = e.as_service_error() else { return false };
    let message = service.message().unwrap_or_default();
    match service.code() {
        Some("InvalidChangeBatch") => message.contains("not found"),
        // moto: "Invalid request: Expected exactly one of [AliasTarget, ...] but found none".
        Some("InvalidInput") => message.contains("found none"),
        _ => false,
    }
}

/// A CNAME record set (validation records).
pub fn cname(name: &str, value: &str) -> Result<ResourceRecordSet> {
    Ok(ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value(value).build()?)
        .build()?)
}

fn alias(name: &str, kind: &str, target: &AliasTarget) -> Result<ResourceRecordSet> {
    Ok(ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(kind))
        .alias_target(
            R53Alias::builder()
                .dns_name(&target.dns_name)
                .hosted_zone_id(&target.zone_id)
                .evaluate_target_health(false)
                .build()?,
        )
        .build()?)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub zone_id: String,
    pub name: String,
    /// A or AAAA.
    pub kind: String,
    /// The distribution's id or the API Gateway domain's name.
    pub of: Ref<String>,
    /// Where it points, when discovery read the target.
    pub target: Option<AliasTarget>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub zone_id: String,
    pub name: String,
    pub kind: String,
    pub target: AliasTarget,
}

/// The alias records of the stack's names in its zones: the names of
/// stack.yaml, of the stack's certificates, API Gateway domains and
/// distribution aliases (`found`, everything else discovery found).
///
/// Records carry no tags, so a record is the stack's when it is an alias to
/// one of the stack's targets: its distribution or its API Gateway domain.
/// Anything else at a name deploy would write (an alias elsewhere, a plain
/// A or AAAA, a CNAME) was not made by this stack: it is never adopted, so
/// never overwritten by an UPSERT nor deleted by destroy, and plan and deploy
/// stop before any change, saying what is there and what to do. (A CNAME
/// would fail the alias's write anyway: Route 53 refuses a name with a CNAME
/// and another record, RFC 1034 section 3.6.2.)
pub async fn find_dns_records(clients: &Clients, env: &Env, found: &[FoundItem]) -> Result<Vec<FoundItem>> {
    let wanted: Vec<String> =
        env.stack.domain.iter().filter(|_| !env.destroying).flat_map(|d| d.names().map(str::to_string)).collect();
    let mut names = wanted.clone();
    let mut targets: Vec<AliasTarget> = Vec::new();
    for item in found {
        if let Some(c) = super::certificate::Certificate::of(&item.found) {
            names.extend(c.domains.iter().cloned());
        }
        if let Some(d) = super::api_domain::ApiDomain::of(&item.found) {
            names.push(d.name.clone());
            targets.extend(d.target.clone());
        }
        if let Some(d) = super::distribution::Distribution::of(&item.found) {
            names.extend(d.aliases.iter().cloned());
            targets.push(AliasTarget { dns_name: plain(&d.domain_name), zone_id: CLOUDFRONT_ZONE.into() });
        }
    }
    let mut items = Vec::new();
    let mut theirs = Vec::new();
    for zone in zones(env, found) {
        for set in list_records(clients, &zone).await? {
            let name = plain(&set.name);
            let kind = set.r#type.as_str().to_string();
            if !names.contains(&name) || !(KINDS.contains(&kind.as_str()) || kind == "CNAME") {
                continue;
            }
            let target = set
                .alias_target
                .as_ref()
                .map(|t| AliasTarget { dns_name: plain(&t.dns_name), zone_id: t.hosted_zone_id.clone() });
            match target {
                Some(target) if kind != "CNAME" && targets.contains(&target) => {
                    let address = format!("{name} {kind}");
                    let found = Found { zone_id: zone.clone(), name, kind, target };
                    items.push(FoundItem::new(address.clone(), address, None, super::Found::DnsRecord(found)));
                }
                _ if wanted.contains(&name) => theirs.push(format!("`{name}` {kind} ({})", holds(&set))),
                _ => {}
            }
        }
    }
    if !theirs.is_empty() {
        let zone = env.zone.as_ref().map_or(String::new(), |z| format!(" `{}`", z.name));
        anyhow::bail!(
            "Route 53 zone{zone} already has {} at the stack's names, which this stack did not make. wschat does not \
             replace DNS records it did not make: delete {} (or choose other names under `domain:` in stack.yaml), \
             then deploy again. (A record of this stack whose distribution or API Gateway domain was deleted \
             points nowhere now: delete it too.)",
            theirs.join(", "),
            if theirs.len() == 1 { "it" } else { "them" }
        );
    }
    Ok(items)
}

/// What a record set holds, for people: its alias target or its values.
fn holds(set: &ResourceRecordSet) -> String {
    match &set.alias_target {
        Some(t) => format!("alias to {}", plain(&t.dns_name)),
        None => set.resource_records().iter().map(|r| r.value.as_str()).collect::<Vec<_>>().join(", "),
    }
}

/// The target of the WebSocket name: the API Gateway domain's regional name.
pub async fn api_domain_target(clients: &Clients, name: &str) -> Result<AliasTarget> {
    let got = clients
        .apigw
        .get_domain_name()
        .domain_name(name)
        .send()
        .done(|| format!("reading API Gateway domain `{name}`"))
        .await?;
    let config = got.domain_name_configurations().first().context("the API Gateway domain has no configuration")?;
    Ok(AliasTarget {
        dns_name: plain(config.api_gateway_domain_name().context("API Gateway gave the domain no target name")?),
        zone_id: config.hosted_zone_id().context("API Gateway gave the domain no hosted zone")?.to_string(),
    })
}

/// Where a record should point, read now when discovery did not know it.
async fn target(op: &Op<'_>, spec: &Spec) -> Result<AliasTarget> {
    if let Some(target) = &spec.target {
        return Ok(target.clone());
    }
    match spec.of.to.kind {
        Kind::Distribution => {
            let (domain, _) = super::distribution::read(op.clients, spec.of.get()?).await?;
            Ok(AliasTarget { dns_name: plain(&domain), zone_id: CLOUDFRONT_ZONE.into() })
        }
        _ => api_domain_target(op.clients, spec.of.get()?).await,
    }
}

/// The alias records.
pub struct DnsRecord;

impl Resource for DnsRecord {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_dns_records(reads.clients, reads.env, &reads.found).await?.into())
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let (Some(domain), Some(zone)) = (&env.stack.domain, &env.zone) else { return Vec::new() };
        let mut wants = Vec::new();
        let site = ids.distribution();
        let api = ids.of(Kind::ApiDomain, domain.websocket_name());
        for (name, of) in [(domain.name.as_str(), site), (domain.websocket_name(), api)] {
            let target = ids.aliases.get(&of.to).cloned();
            for kind in KINDS {
                let address = format!("{name} {kind}");
                let spec = Spec {
                    zone_id: zone.id.clone(),
                    name: name.to_string(),
                    kind: kind.to_string(),
                    of: of.clone(),
                    target: target.clone(),
                };
                wants.push(Want::new(&address, address.clone(), spec));
            }
        }
        wants
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.of.reference()]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.zone_id != spec.zone_id {
            fields.push(FieldChange::new("zone", &found.zone_id, &spec.zone_id));
        }
        if let Some(target) = &spec.target
            && *target != found.target
        {
            fields.push(FieldChange::new("alias target", &found.target.dns_name, &target.dns_name));
        }
        fields
    }

    fn replaces(spec: &Spec, found: &Found) -> bool {
        found.zone_id != spec.zone_id
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let target = target(op, spec).await?;
        let set = alias(&spec.name, &spec.kind, &target)?;
        change(op.clients, &spec.zone_id, ChangeAction::Upsert, set).await?;
        Ok(format!("{} {}", spec.name, spec.kind))
    }

    async fn update(op: &Op<'_>, spec: &Spec, _found: &Found) -> Result<()> {
        Self::create(op, spec).await.map(drop)
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let set = alias(&found.name, &found.kind, &found.target)?;
        change(op.clients, &found.zone_id, ChangeAction::Delete, set).await
    }

    fn describe(found: &Found) -> Option<String> {
        Some(format!("alias to {}", found.target.dns_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Address;

    #[test]
    fn each_name_gets_a_and_aaaa_pointing_at_its_target() {
        let env = crate::resources::tests::shipped_with_domain(Some("example.com"));
        let mut ids = Ids::default();
        ids.record(&Address::new(Kind::Distribution, "site"), "D1");
        let site = AliasTarget { dns_name: "d1.cloudfront.net".into(), zone_id: CLOUDFRONT_ZONE.into() };
        ids.aliases.insert(Address::new(Kind::Distribution, "site"), site.clone());
        let wants = DnsRecord::desired(&env, &ids);
        let names: Vec<&str> = wants.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            ["chat.example.com A", "chat.example.com AAAA", "ws.chat.example.com A", "ws.chat.example.com AAAA"]
        );
        assert_eq!(wants[0].spec.target, Some(site.clone()));
        assert_eq!(wants[2].spec.target, None, "the API domain does not exist yet");
        assert!(!wants[2].spec.of.reference().known);
        let found = Found { zone_id: "Z1".into(), name: "chat.example.com".into(), kind: "A".into(), target: site };
        assert!(DnsRecord::diff(&wants[0].spec, &found).is_empty());
        let moved =
            Found { target: AliasTarget { dns_name: "d2.cloudfront.net".into(), ..found.target.clone() }, ..found };
        assert_eq!(DnsRecord::diff(&wants[0].spec, &moved)[0].field, "alias target");
    }

    #[test]
    fn without_a_zone_there_are_no_records() {
        let env = crate::resources::tests::shipped_with_domain(None);
        assert!(DnsRecord::desired(&env, &Ids::default()).is_empty());
    }
}
