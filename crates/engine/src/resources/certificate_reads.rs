//! What deploy reads of ACM besides the stack's own certificates: every
//! certificate of a region once a run, as ListCertificates summarizes them
//! ([`list_certificates`]), and the user's certificates that cover the names
//! ([`find_user_certificates`]), at ACM's documented request rates. The
//! summaries let a run read only the few certificates whose names fit, so
//! that what it reads grows with the stack, not with the account (us-east-1
//! holds every CloudFront certificate of an account).

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_acm::types::{CertificateStatus, CertificateSummary, CertificateType, Filters, KeyAlgorithm};

use super::certificate::{Wanted, regions, wanted};
use super::{Clients, Env, Tags};
use crate::aws::{AwsContext, Pace, Sent};

/// Whether certificate name `pattern` (a SAN or the domain name) covers the
/// host `name`: equal, or a wildcard `*.rest` standing for exactly one
/// label before `rest`. Case-insensitive, a trailing dot ignored.
///
/// RFC 6125 §6.4.3: the wildcard is the whole left-most label and matches
/// one label only; ACM's User Guide ("ACM certificate characteristics",
/// Wildcard names): `*.example.com` protects `login.example.com` but not
/// `test.login.example.com`, nor the bare `example.com`.
pub fn covers(pattern: &str, name: &str) -> bool {
    let normal = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let (pattern, name) = (normal(pattern), normal(name));
    if pattern == name {
        return true;
    }
    match (pattern.strip_prefix("*."), name.split_once('.')) {
        (Some(rest), Some((label, parent))) => !rest.is_empty() && !label.is_empty() && rest == parent,
        _ => false,
    }
}

/// Whether a certificate with `names` (its domain name and SANs) covers every one of `wanted`.
pub fn covers_all(names: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| names.iter().any(|n| covers(n, w)))
}

/// A certificate of the user's (no wschat stack tagged it) that covers the
/// names of a wanted certificate: used, never owned.
#[derive(Debug, Clone, PartialEq)]
pub struct UserCertificate {
    pub arn: String,
    pub region: String,
    /// Its domain name first, then its other names.
    pub domains: Vec<String>,
    /// When it expires, seconds since the epoch.
    pub not_after: i64,
    /// How many of the user's certificates covered the names (the one that expires last is used).
    pub candidates: usize,
}

impl UserCertificate {
    /// What plan, deploy and status say about it.
    pub fn note(&self, names: &str) -> String {
        let expires = aws_smithy_types::DateTime::from_secs(self.not_after)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        let which = if self.candidates > 1 {
            format!("; of {} that cover them, the one that expires last", self.candidates)
        } else {
            String::new()
        };
        format!(
            "certificate: using {} for {} (yours, not managed by wschat; expires {expires}{which})",
            self.arn,
            names.replace(',', ", ")
        )
    }
}

/// The key types asked for. ListCertificates "returns only RSA_2048
/// certificates" unless `Includes.keyTypes` says otherwise (ACM API
/// Reference, ListCertificates; terraform-provider-aws's `aws_acm_certificate`
/// data source has a `key_types` argument for the same reason). These are the
/// RSA sizes and the ECDSA P-256 curve that CloudFront and API Gateway serve.
const KEY_TYPES: [KeyAlgorithm; 4] =
    [KeyAlgorithm::Rsa2048, KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096, KeyAlgorithm::EcPrime256v1];

/// ACM's request rates, per account and region (ACM User Guide, "Quotas",
/// "API rate quotas"): ListCertificates 1 a second, DescribeCertificate and
/// ListTagsForCertificate 10 each. Beyond them ACM answers
/// `ThrottlingException`; reading every certificate of us-east-1 at once
/// failed there with 60 others in the account.
static LIST_PACE: Pace = Pace::per_second(1);
static DESCRIBE_PACE: Pace = Pace::per_second(10);
static TAGS_PACE: Pace = Pace::per_second(10);

/// One certificate as ListCertificates summarizes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub arn: String,
    /// ISSUED, PENDING_VALIDATION...
    pub status: String,
    /// Its domain name first, then the other names the summary lists.
    pub names: Vec<String>,
    /// Whether `names` are all of its names: a summary lists at most 100
    /// (`HasAdditionalSubjectAlternativeNames`).
    pub complete: bool,
    /// When it expires, seconds since the epoch, if the summary says.
    pub not_after: Option<i64>,
    /// From AWS Private CA: trusted by no browser.
    pub private: bool,
}

impl Listed {
    /// Whether its names are exactly `names` (as a wanted certificate of the stack has them).
    pub fn named(&self, names: &[String]) -> bool {
        let set = |n: &[String]| n.iter().map(|n| n.to_ascii_lowercase()).collect::<std::collections::BTreeSet<_>>();
        self.complete && set(&self.names) == set(names)
    }
}

/// The certificates of each region the stack's may be in, by region.
pub type Listing = BTreeMap<String, Vec<Listed>>;

/// Before planning, with `domain:`: every certificate of us-east-1 and the
/// stack's region, as ListCertificates summarizes them (a page of up to
/// 1,000 a second). The only read that grows with the account's
/// certificates; what follows reads only the few the summaries leave.
pub async fn list_certificates(clients: &Clients, env: &Env) -> Result<Listing> {
    let mut listing = Listing::new();
    for region in regions(env) {
        let acm = clients.acm(&region);
        let region_ = region.as_str();
        let listed = crate::aws::paginate(|token| async move {
            LIST_PACE.turn(region_).await;
            let page = acm
                .list_certificates()
                .includes(Filters::builder().set_key_types(Some(KEY_TYPES.to_vec())).build())
                .max_items(1000)
                .set_next_token(token)
                .send()
                .await
                .aws_context(|| format!("listing the ACM certificates in {region_}"))?;
            let items = page.certificate_summary_list.unwrap_or_default().into_iter().filter_map(listed).collect();
            Ok((items, page.next_token))
        })
        .await?;
        listing.insert(region, listed);
    }
    Ok(listing)
}

fn listed(s: CertificateSummary) -> Option<Listed> {
    let arn = s.certificate_arn?;
    let complete = s.has_additional_subject_alternative_names == Some(false)
        && s.subject_alternative_name_summaries.as_ref().is_some_and(|n| !n.is_empty());
    let names = names(s.domain_name.as_deref(), s.subject_alternative_name_summaries.as_deref().unwrap_or_default());
    Some(Listed {
        arn,
        status: s.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        names,
        complete,
        not_after: s.not_after.map(|t| t.secs()),
        private: s.r#type == Some(CertificateType::Private),
    })
}

/// A certificate's names, each once: its domain name first, then the
/// others (ACM lists the domain name among the alternative names too).
pub(super) fn names(domain_name: Option<&str>, alternatives: &[String]) -> Vec<String> {
    let mut names: Vec<String> = domain_name.map(str::to_string).into_iter().collect();
    for name in alternatives {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// DescribeCertificate, at ACM's rate.
pub(super) async fn describe_certificate(
    clients: &Clients,
    region: &str,
    arn: &str,
) -> Result<Option<aws_sdk_acm::types::CertificateDetail>> {
    DESCRIBE_PACE.turn(region).await;
    let doing = || format!("reading ACM certificate `{arn}`");
    let got = clients.acm(region).describe_certificate().certificate_arn(arn).send().found(doing).await?;
    Ok(got.and_then(|g| g.certificate))
}

/// ListTagsForCertificate, at ACM's rate; `None` once the certificate is gone.
pub(super) async fn certificate_tags(clients: &Clients, region: &str, arn: &str) -> Result<Option<Tags>> {
    TAGS_PACE.turn(region).await;
    let doing = || format!("reading the tags of ACM certificate `{arn}`");
    let got = clients.acm(region).list_tags_for_certificate().certificate_arn(arn).send().found(doing).await?;
    Ok(got.map(|t| t.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value.unwrap_or_default())).collect()))
}

/// Before planning: for each certificate the stack wants (by its instance
/// name), the user's certificate that covers its names, if any. Reads only
/// what [`list_certificates`] left: DescribeCertificate for an ISSUED one
/// whose summary does not list all its names (at most 100), and
/// ListTagsForCertificate for those that cover (a wschat stack's is not the
/// user's). A PRIVATE one (from AWS Private CA) is trusted by no browser. Of several, the one that
/// expires last, as terraform-provider-aws's `aws_acm_certificate` data
/// source picks with `most_recent` among the ISSUED ones that match its
/// `domain`.
pub async fn find_user_certificates(clients: &Clients, env: &Env) -> Result<BTreeMap<String, UserCertificate>> {
    let wanted = wanted(env);
    let mut out = BTreeMap::new();
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
    for (region, listed) in &env.certificate_listing {
        let here: Vec<&Wanted> = wanted.iter().filter(|w| &w.region == region).collect();
        let candidates = listed.iter().filter(|l| {
            l.status == CertificateStatus::Issued.as_str()
                && (!l.complete || here.iter().any(|w| covers_all(&l.names, &w.domains)))
        });
        let read = candidates.map(|l| {
            let here = &here;
            async move {
                let arn = l.arn.clone();
                // What the summary says when it lists every name; else the certificate.
                let (domains, not_after, private) = match (l.complete, l.not_after) {
                    (true, Some(not_after)) => (l.names.clone(), not_after, l.private),
                    _ => {
                        let Some(c) = describe_certificate(clients, region, &arn).await? else {
                            return Ok::<_, anyhow::Error>(None);
                        };
                        if c.status != Some(CertificateStatus::Issued) {
                            return Ok(None);
                        }
                        let domains = names(c.domain_name.as_deref(), c.subject_alternative_names());
                        let not_after = c.not_after.map(|t| t.secs()).unwrap_or(0);
                        (domains, not_after, c.r#type == Some(CertificateType::Private))
                    }
                };
                if not_after <= now || private || !here.iter().any(|w| covers_all(&domains, &w.domains)) {
                    return Ok(None);
                }
                let Some(tags) = certificate_tags(clients, region, &arn).await? else { return Ok(None) };
                if tags.contains_key(wschat_stack::TAG_STACK) {
                    return Ok(None);
                }
                Ok(Some(UserCertificate { arn, region: region.clone(), domains, not_after, candidates: 0 }))
            }
        });
        let covering: Vec<UserCertificate> = futures::future::try_join_all(read).await?.into_iter().flatten().collect();
        for w in here {
            let fits: Vec<&UserCertificate> = covering.iter().filter(|c| covers_all(&c.domains, &w.domains)).collect();
            // The one that expires last; of equals, the first ARN, so that runs agree.
            let best = fits.iter().max_by(|a, b| a.not_after.cmp(&b.not_after).then(b.arn.cmp(&a.arn)));
            if let Some(best) = best {
                out.insert(w.name.clone(), UserCertificate { candidates: fits.len(), ..(*best).clone() });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_names_the_certificate_only_when_it_lists_every_name() {
        let summary = |sans: Option<&[&str]>, more: Option<bool>| {
            CertificateSummary::builder()
                .certificate_arn("arn:aws:acm:us-east-1:1:certificate/c1")
                .domain_name("chat.example.com")
                .set_subject_alternative_name_summaries(sans.map(|n| n.iter().map(|n| n.to_string()).collect()))
                .set_has_additional_subject_alternative_names(more)
                .build()
        };
        let full = listed(summary(Some(&["chat.example.com", "ws.chat.example.com"]), Some(false))).unwrap();
        assert!(full.complete);
        assert_eq!(full.names, ["chat.example.com", "ws.chat.example.com"]);
        assert!(full.named(&["WS.chat.example.com".into(), "chat.example.com".into()]), "in any order, any case");
        assert!(!full.named(&["chat.example.com".into()]));
        let more = listed(summary(Some(&["chat.example.com", "ws.chat.example.com"]), Some(true))).unwrap();
        assert!(!more.complete && !more.named(&full.names), "over 100 names: the summary lists some");
        let bare = listed(summary(None, None)).unwrap();
        assert!(!bare.complete, "no names listed: not known from the summary");
    }

    #[test]
    fn a_name_is_covered_exactly_or_by_a_wildcard_of_one_label() {
        assert!(covers("chat.example.com", "chat.example.com"));
        assert!(covers("*.example.com", "chat.example.com"));
        assert!(!covers("*.example.com", "ws.chat.example.com"), "a wildcard stands for one label only");
        assert!(!covers("*.example.com", "example.com"), "nor for none");
        assert!(!covers("*.chat.example.com", "chat.example.com"));
        assert!(covers("*.chat.example.com", "ws.chat.example.com"));
        assert!(covers("CHAT.Example.COM", "chat.example.com"), "DNS names are case-insensitive");
        assert!(covers("*.EXAMPLE.com", "Chat.example.com"));
        assert!(covers("chat.example.com.", "chat.example.com"), "a trailing dot is the same name");
        assert!(covers("*.example.com", "chat.example.com."));
        assert!(!covers("chat.example.com", "chatXexample.com"));
        assert!(!covers("*example.com", "chat.example.com"), "a partial wildcard is not one");
        assert!(!covers("ws.*.example.com", "ws.chat.example.com"), "only the left-most label");
        assert!(!covers("*.", "com"));
        let names = ["*.example.com".to_string(), "example.com".to_string()];
        assert!(covers_all(&names, &["chat.example.com".into(), "example.com".into()]));
        assert!(!covers_all(&names, &["chat.example.com".into(), "ws.chat.example.com".into()]));
    }
}
