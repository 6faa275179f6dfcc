//! The API Gateway custom domain of the WebSocket endpoint
//! (`domain.websocket`): REGIONAL, TLS 1.2, with the certificate in the
//! stack's region. The instance is named by the domain name, so a new name
//! is a new domain and the old one is deleted (its API mappings with it).
//!
//! Dualstack: API Gateway answers it over IPv4 and IPv6, so the AAAA alias
//! record of the name (`dns_record.rs`) has addresses behind it. API
//! Gateway's default for a custom domain is IPv4 only; its Developer Guide
//! recommends dualstack ("IP address types for custom domain names for
//! WebSocket APIs"), and `DomainNameConfiguration.IpAddressType` sets it (API
//! Gateway V2 API Reference, DomainNames). A domain an earlier wschat made
//! IPv4-only is updated in place.
//!
//! API Gateway takes one CreateDomainName, UpdateDomainName or
//! DeleteDomainName every 30 seconds per account, a quota that cannot be
//! raised ("Amazon API Gateway quotas", the table for creating, deploying
//! and managing an API); a call sooner is 429 `TooManyRequestsException`,
//! and AWS's advice is to back off and retry (Knowledge Center, "Why do I get
//! an error when I delete a custom domain name"). The SDK's ten attempts
//! (jittered, at most 20 s apart) usually outlast the window, not always:
//! another deploy of the account, or the console, takes turns too. So these
//! three calls are sent once each and retried here ([`turn`]) for up to
//! [`DOMAIN_WRITE_LIMIT`], with a progress line that says why.
//!
//! It is created only once the certificate is ISSUED: API Gateway refuses a
//! certificate that is not. Its regional target (`d-….execute-api…`) is
//! what the DNS records point at.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::error::SdkError;
use aws_sdk_apigatewayv2::types::{DomainNameConfiguration, EndpointType, IpAddressType, SecurityPolicy};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::certificate::Served;
use super::dns_record::{AliasTarget, plain};
use super::{Clients, Env, FoundItem, Ids, Kind, Op, Reference, Resource, Tags, Want, tags_field};
use crate::aws::{Sent, Tagged, paginate, retag};
use crate::diff::FieldChange;

pub const ENDPOINT_TYPE: &str = "REGIONAL";
pub const SECURITY_POLICY: &str = "TLS_1_2";
pub const IP_ADDRESS_TYPE: &str = "dualstack";
/// What API Gateway reports for a domain made without an IP address type.
const DEFAULT_IP_ADDRESS_TYPE: &str = "ipv4";
/// How long a domain name change waits for its turn (one per 30 s per account).
pub const DOMAIN_WRITE_LIMIT: Duration = Duration::from_secs(5 * 60);

/// Sends a domain name change (built by `call` with [`once`]) until API
/// Gateway takes it: a 429 (the account's turn is taken) or a 5xx is tried
/// again, backing off from 1 s to 8 s, for at most [`DOMAIN_WRITE_LIMIT`].
async fn turn<T, E, F, Fut>(op: &Op<'_>, call: F) -> Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let why = "API Gateway takes one custom domain change every 30 s per account; waiting for the next turn";
    let held = |e: &SdkError<E, HttpResponse>| {
        e.raw_response().is_some_and(|r| r.status().as_u16() == 429 || r.status().is_server_error())
    };
    crate::aws::retry_while(op.task, why, DOMAIN_WRITE_LIMIT, call, held).await
}

/// One attempt, no SDK retries: [`turn`] does the waiting.
fn once() -> aws_sdk_apigatewayv2::config::Builder {
    aws_sdk_apigatewayv2::config::Builder::default()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub certificate: Served,
    pub certificate_region: String,
    /// With a zone: its validation records, which must be there first.
    pub validation: Option<Reference>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub arn: String,
    pub certificate_arn: String,
    pub endpoint_type: String,
    pub security_policy: String,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: String,
    /// `AVAILABLE`, `UPDATING`...
    pub status: String,
    pub target: Option<AliasTarget>,
    pub tags: Tags,
}

fn found(d: &aws_sdk_apigatewayv2::types::DomainName, arn: String) -> Option<Found> {
    let name = d.domain_name.clone()?;
    let config = d.domain_name_configurations().first();
    let target = config.and_then(|c| {
        Some(AliasTarget { dns_name: plain(c.api_gateway_domain_name()?), zone_id: c.hosted_zone_id()?.to_string() })
    });
    Some(Found {
        name,
        arn,
        certificate_arn: config.and_then(|c| c.certificate_arn()).unwrap_or_default().to_string(),
        endpoint_type: config.and_then(|c| c.endpoint_type()).map(|e| e.as_str().to_string()).unwrap_or_default(),
        security_policy: config.and_then(|c| c.security_policy()).map(|p| p.as_str().to_string()).unwrap_or_default(),
        ip_address_type: config
            .and_then(|c| c.ip_address_type())
            .map_or(DEFAULT_IP_ADDRESS_TYPE, |t| t.as_str())
            .to_string(),
        status: config.and_then(|c| c.domain_name_status()).map(|s| s.as_str().to_string()).unwrap_or_default(),
        target,
        tags: d.tags().cloned().unwrap_or_default().into_iter().collect(),
    })
}

/// The stack's API Gateway domains, by their tags.
pub async fn find_api_domains(clients: &Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let all = paginate(|token| async {
        let page = clients
            .apigw
            .get_domain_names()
            .set_next_token(token)
            .send()
            .done(|| "listing API Gateway domain names".to_string())
            .await?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await?;
    Ok(all
        .iter()
        .filter(|d| d.tags().is_some_and(|t| env.owns(&t.clone().into_iter().collect())))
        .filter_map(|d| {
            let arn = d.domain_name_arn.clone().unwrap_or_else(|| {
                format!(
                    "arn:{}:apigateway:{}::/domainnames/{}",
                    env.account.partition,
                    env.region,
                    d.domain_name.as_deref().unwrap_or_default()
                )
            });
            found(d, arn)
        })
        .map(|f| FoundItem::new(f.name.clone(), f.name.clone(), None, super::Found::ApiDomain(f)))
        .collect())
}

/// The stack's tags, and with a zone [`TAG_ZONE`](super::certificate::TAG_ZONE):
/// the domain remembers the zone of the alias records, as the stack's
/// certificate does, so that removing `domain:` still finds them when the
/// certificate is the user's.
fn tags(env: &Env) -> Tags {
    let mut tags = env.tags();
    if let Some(zone) = &env.zone {
        tags.insert(super::certificate::TAG_ZONE.to_string(), zone.id.clone());
    }
    tags
}

fn configuration(spec: &Spec) -> Result<DomainNameConfiguration> {
    Ok(DomainNameConfiguration::builder()
        .certificate_arn(spec.certificate.arn.get()?)
        .endpoint_type(EndpointType::from(ENDPOINT_TYPE))
        .security_policy(SecurityPolicy::from(SECURITY_POLICY))
        .ip_address_type(IpAddressType::from(IP_ADDRESS_TYPE))
        .build())
}

/// The WebSocket's custom domain.
pub struct ApiDomain;

impl Resource for ApiDomain {
    type Spec = Spec;
    type Found = Found;

    fn learn(address: &super::Address, found: &Found, ids: &mut Ids) {
        if let Some(target) = &found.target {
            ids.aliases.insert(address.clone(), target.clone());
        }
    }

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_api_domains(reads.clients, reads.env).await?.into())
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let (Some(domain), Some((certificate, region))) = (&env.stack.domain, super::certificate::for_api(env)) else {
            return Vec::new();
        };
        let name = domain.websocket_name().to_string();
        let served = super::certificate::served(env, ids, &certificate);
        let validation = env.zone.as_ref().filter(|_| !served.yours);
        let spec = Spec {
            name: name.clone(),
            certificate: served,
            certificate_region: region,
            validation: validation.map(|_| Reference::exists(Kind::ValidationRecord, &certificate)),
            tags: tags(env),
        };
        vec![Want::new(&name, name.clone(), spec)]
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        let mut references: Vec<Reference> = spec.certificate.reference().into_iter().collect();
        references.extend(spec.validation.clone());
        references
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if let Some(arn) = spec.certificate.arn.known()
            && *arn != found.certificate_arn
        {
            fields.push(FieldChange::new("certificate", &found.certificate_arn, arn));
        }
        for (field, have, want) in [
            ("endpoint type", &found.endpoint_type, ENDPOINT_TYPE),
            ("security policy", &found.security_policy, SECURITY_POLICY),
            ("IP address type", &found.ip_address_type, IP_ADDRESS_TYPE),
        ] {
            if have != want {
                fields.push(FieldChange::new(field, have, want));
            }
        }
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        super::certificate::wait_issued(op, &spec.certificate_region, spec.certificate.arn.get()?).await?;
        let configuration = configuration(spec)?;
        let create = || {
            op.clients
                .apigw
                .create_domain_name()
                .domain_name(&spec.name)
                .domain_name_configurations(configuration.clone())
                .set_tags(Some(super::tags_to_map(&spec.tags)))
                .customize()
                .config_override(once())
                .send()
        };
        turn(op, create).done(|| format!("creating API Gateway domain `{}`", spec.name)).await?;
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let config_differs = spec.certificate.arn.known() != Some(&found.certificate_arn)
            || found.endpoint_type != ENDPOINT_TYPE
            || found.security_policy != SECURITY_POLICY
            || found.ip_address_type != IP_ADDRESS_TYPE;
        if config_differs {
            super::certificate::wait_issued(op, &spec.certificate_region, spec.certificate.arn.get()?).await?;
            let configuration = configuration(spec)?;
            let update = || {
                op.clients
                    .apigw
                    .update_domain_name()
                    .domain_name(&spec.name)
                    .domain_name_configurations(configuration.clone())
                    .customize()
                    .config_override(once())
                    .send()
            };
            turn(op, update).done(|| format!("updating API Gateway domain `{}`", spec.name)).await?;
        }
        let what = format!("API Gateway domain `{}`", found.name);
        retag(Tagged::ApiGateway(&op.clients.apigw, &found.arn), &what, &spec.tags, &found.tags).await
    }

    /// Its API mappings go with it.
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting API Gateway domain `{}`", found.name);
        let delete = || {
            op.clients.apigw.delete_domain_name().domain_name(&found.name).customize().config_override(once()).send()
        };
        turn(op, delete).gone(doing).await
    }

    fn describe(found: &Found) -> Option<String> {
        let target = found.target.as_ref().map_or("(no target yet)".to_string(), |t| t.dns_name.clone());
        Some(format!(
            "{} {} {} {}, target {target}",
            found.endpoint_type, found.security_policy, found.ip_address_type, found.status
        ))
    }
}

/// The domain's regional target, for the alias records and for people.
pub fn target_of(found: &Found) -> Result<&AliasTarget> {
    found.target.as_ref().with_context(|| format!("API Gateway domain `{}` has no regional target", found.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Address;

    #[test]
    fn the_domain_is_regional_tls_1_2_with_the_regional_certificate() {
        let env = crate::resources::tests::shipped_with_domain(Some("example.com"));
        let mut ids = Ids::default();
        let certificate = super::super::certificate::for_api(&env).unwrap().0;
        ids.record(&Address::new(Kind::Certificate, &certificate), "arn:aws:acm:us-east-1:1:certificate/c1");
        let want = ApiDomain::desired(&env, &ids).remove(0);
        assert_eq!(want.name, "ws.chat.example.com");
        let config = configuration(&want.spec).unwrap();
        assert_eq!(config.endpoint_type().map(|e| e.as_str()), Some("REGIONAL"));
        assert_eq!(config.security_policy().map(|p| p.as_str()), Some("TLS_1_2"));
        assert_eq!(config.ip_address_type().map(|t| t.as_str()), Some("dualstack"));
        let refs = ApiDomain::references(&want.spec);
        assert!(refs.iter().any(|r| r.to.kind == Kind::ValidationRecord), "{refs:?}");
        let found = Found {
            name: want.name.clone(),
            arn: "arn".into(),
            certificate_arn: "arn:aws:acm:us-east-1:1:certificate/c1".into(),
            endpoint_type: "REGIONAL".into(),
            security_policy: "TLS_1_0".into(),
            ip_address_type: "ipv4".into(),
            status: "AVAILABLE".into(),
            target: None,
            tags: want.spec.tags.clone(),
        };
        let fields = ApiDomain::diff(&want.spec, &found);
        assert_eq!(fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["security policy", "IP address type"]);
    }
}
