//! ACM: a certificate that CloudFront or API Gateway uses cannot be deleted.
//! `DeleteCertificate` answers `ResourceInUseException` while a distribution
//! or a custom domain holds it (ACM API Reference, `DeleteCertificate`:
//! "You cannot delete an ACM certificate that is being used by another AWS
//! service"), and for a while after they let go of it: terraform-provider-aws
//! retries the delete for 20 minutes ("Removal of ACM Certificates from API
//! Gateway Custom Domains can take >15 minutes",
//! `certificateCrossServicePropagationTimeout`, `internal/service/acm/certificate.go`).
//! moto deletes it at once.
//!
//! ACM's request rates, per account and region (ACM User Guide, "Quotas",
//! "API rate quotas"): ListCertificates 1 a second, DescribeCertificate and
//! ListTagsForCertificate 10 each; a call beyond them is answered
//! `ThrottlingException`. A token bucket per region and operation, as full as
//! one second's calls. moto has no rates.
//!
//! RequestCertificate with an idempotency token ACM saw within the hour is
//! answered with that request's certificate, even once it is deleted (ACM API
//! Reference, RequestCertificate, `IdempotencyToken`: "if you call
//! RequestCertificate multiple times with the same idempotency token within
//! one hour, ACM recognizes that you are requesting only one certificate and
//! will issue only one"). moto keeps the token too, but answers 500 for a
//! deleted certificate (it looks the ARN up in `request_certificate`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::call::{Call, Request};
use super::wire::{self, Reply};
use super::{World, within};

#[derive(Debug, Default)]
pub struct State {
    /// Certificate ARN -> what uses it (`cloudfront:{id}`, `apigateway:{domain}`).
    users: BTreeMap<String, BTreeSet<String>>,
    /// When each certificate's last user let go of it.
    released: BTreeMap<String, Instant>,
    /// (region, idempotency token) -> the certificate ACM answered, and when.
    tokens: BTreeMap<(String, String), (String, Instant)>,
    /// (region, operation) -> the calls left in its bucket, and when it was last filled.
    buckets: BTreeMap<(String, String), (f64, Instant)>,
}

/// The rated operations and their calls a second.
const RATES: [(&str, f64); 3] =
    [("ListCertificates", 1.0), ("DescribeCertificate", 10.0), ("ListTagsForCertificate", 10.0)];

/// Whether a call of a rated operation finds its bucket empty (and if not, takes one call from it).
fn over_rate(world: &mut World, call: &Call, request: &Request, now: Instant) -> bool {
    if !world.behaviours.acm_rates || call.service != "acm" {
        return false;
    }
    let Some(&(_, rate)) = RATES.iter().find(|(op, _)| *op == call.operation) else { return false };
    let (left, filled) = world.acm.buckets.entry((request.region(), call.operation.clone())).or_insert((rate, now));
    *left = (*left + now.saturating_duration_since(*filled).as_secs_f64() * rate).min(rate);
    *filled = now;
    if *left >= 1.0 {
        *left -= 1.0;
        false
    } else {
        true
    }
}

impl State {
    /// `user` now uses `arn` (or nothing, with `None`), instead of what it used before.
    pub fn use_certificate(&mut self, user: &str, arn: Option<&str>, now: Instant) {
        for (certificate, users) in self.users.iter_mut() {
            if users.remove(user) && users.is_empty() {
                self.released.insert(certificate.clone(), now);
            }
        }
        self.users.retain(|_, users| !users.is_empty());
        if let Some(arn) = arn {
            self.users.entry(arn.to_string()).or_default().insert(user.to_string());
        }
    }
}

/// The text between `<tag>` and `</tag>`, the first time.
pub fn xml_field(body: &str, tag: &str) -> Option<String> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].to_string())
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    if over_rate(world, call, request, now) {
        return Some(wire::throttled("acm"));
    }
    if call.service == "acm" && call.operation == "RequestCertificate" {
        let token = request.json_str("IdempotencyToken")?;
        let (arn, at) = world.acm.tokens.get(&(request.region(), token))?;
        let window = world.window(world.behaviours.certificate_token_ms);
        return within(Some(at), window, now).then(|| Reply::ok_json(&serde_json::json!({ "CertificateArn": arn })));
    }
    if !world.behaviours.certificate_in_use || call.service != "acm" || call.operation != "DeleteCertificate" {
        return None;
    }
    let arn = request.json_str("CertificateArn")?;
    let state = &world.acm;
    let used = state.users.get(&arn).is_some_and(|u| !u.is_empty());
    let lingering = within(state.released.get(&arn), world.window(world.behaviours.certificate_release_ms), now);
    (used || lingering).then(|| {
        wire::aws_json_error(400, "ResourceInUseException", &format!("Certificate {arn} in account is in use."))
    })
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if !reply.is_success() {
        return;
    }
    let segments = request.segments();
    match (call.service.as_str(), call.operation.as_str()) {
        ("acm", "RequestCertificate") => {
            let (Some(token), Some(json)) = (request.json_str("IdempotencyToken"), reply.json()) else { return };
            let Some(arn) = json["CertificateArn"].as_str() else { return };
            if world.behaviours.certificate_token_ms.is_some() {
                world.acm.tokens.insert((request.region(), token), (arn.to_string(), now));
            }
        }
        ("cloudfront", "CreateDistribution" | "CreateDistributionWithTags") => {
            let reply_body = String::from_utf8_lossy(&reply.body);
            let Some(id) = xml_field(&reply_body, "Id") else { return };
            let body = String::from_utf8_lossy(&request.body);
            let arn = xml_field(&body, "ACMCertificateArn");
            world.acm.use_certificate(&format!("cloudfront:{id}"), arn.as_deref(), now);
        }
        ("cloudfront", "UpdateDistribution") => {
            let Some(id) = segments.get(2) else { return };
            let body = String::from_utf8_lossy(&request.body);
            let arn = xml_field(&body, "ACMCertificateArn");
            world.acm.use_certificate(&format!("cloudfront:{id}"), arn.as_deref(), now);
        }
        ("cloudfront", "DeleteDistribution") => {
            let Some(id) = segments.get(2) else { return };
            world.acm.use_certificate(&format!("cloudfront:{id}"), None, now);
        }
        ("apigateway", "CreateDomainName" | "UpdateDomainName") => {
            let json = request.json();
            let name = json.as_ref().and_then(|j| j["domainName"].as_str().map(str::to_string));
            let Some(name) = name.or_else(|| segments.get(2).cloned()) else { return };
            let arn = json.as_ref().and_then(|j| j["domainNameConfigurations"][0]["certificateArn"].as_str());
            world.acm.use_certificate(&format!("apigateway:{name}"), arn, now);
        }
        ("apigateway", "DeleteDomainName") => {
            let Some(name) = segments.get(2) else { return };
            world.acm.use_certificate(&format!("apigateway:{name}"), None, now);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_in_use_until_its_last_user_lets_go() {
        let mut state = State::default();
        let now = Instant::now();
        state.use_certificate("cloudfront:E1", Some("arn:c1"), now);
        state.use_certificate("apigateway:ws.example.com", Some("arn:c1"), now);
        state.use_certificate("cloudfront:E1", None, now);
        assert!(state.users["arn:c1"].contains("apigateway:ws.example.com"));
        assert!(!state.released.contains_key("arn:c1"));
        state.use_certificate("apigateway:ws.example.com", Some("arn:c2"), now);
        assert!(!state.users.contains_key("arn:c1"));
        assert!(state.released.contains_key("arn:c1"));
        assert_eq!(xml_field("<a><Id>E1</Id></a>", "Id").as_deref(), Some("E1"));
    }
}
