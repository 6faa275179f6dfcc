//! The DNS validation records of a certificate, in the hosted zone of
//! `domain.zone`: the CNAMEs ACM asks for, written with UPSERT, and then
//! the wait until ACM says ISSUED (bounded, with a progress line).
//!
//! One instance per certificate, named like it. What is found is the
//! records of the certificate's validation names that the zone has.

use anyhow::Result;
use aws_sdk_route53::types::{ChangeAction, ResourceRecordSet};

use super::certificate::{self, Record};
use super::dns_record::{self, change, cname, plain};
use super::{Clients, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Want};
use crate::diff::FieldChange;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub zone_id: String,
    pub certificate: Ref<String>,
    pub region: String,
    /// What ACM asks for, when discovery read the certificate.
    pub records: Option<Vec<Record>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub zone_id: String,
    /// The certificate's validation records that the zone has, as it has them.
    pub records: Vec<Record>,
    /// Their record sets, exactly as the zone has them (TTL included): what
    /// a DELETE must name.
    pub sets: Vec<ResourceRecordSet>,
}

/// The validation records of the stack's certificates that their zone has.
pub async fn find_validation_records(
    clients: &Clients,
    env: &Env,
    certificates: &[FoundItem],
) -> Result<Vec<FoundItem>> {
    let mut items = Vec::new();
    for zone in dns_record::zones(env, certificates) {
        let sets = dns_record::list_records(clients, &zone).await?;
        for item in certificates {
            let Some(c) = certificate::Certificate::of(&item.found) else { continue };
            let remembered = c.tags.get(certificate::TAG_ZONE);
            if remembered.is_some_and(|z| *z != zone)
                || (remembered.is_none() && env.zone.as_ref().is_none_or(|z| z.id != zone))
            {
                continue;
            }
            let wanted: Vec<String> = c.records.iter().map(|r| plain(&r.name)).collect();
            let mine: Vec<ResourceRecordSet> = sets
                .iter()
                .filter(|s| s.r#type.as_str() == "CNAME" && wanted.contains(&plain(&s.name)))
                .cloned()
                .collect();
            let mut present: Vec<Record> = mine
                .iter()
                .flat_map(|s| {
                    s.resource_records().iter().map(|r| Record {
                        name: s.name.clone(),
                        kind: "CNAME".into(),
                        value: r.value.clone(),
                    })
                })
                .collect();
            if present.is_empty() {
                continue;
            }
            present.sort();
            let found = Found { zone_id: zone.clone(), records: present, sets: mine };
            let id = format!("{} in {zone}", item.address.name);
            items.push(FoundItem::new(&item.address.name, id, None, super::Found::ValidationRecord(found)));
        }
    }
    Ok(items)
}

/// Records as compared: name and value, the name without its trailing dot.
fn normal(records: &[Record]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = records.iter().map(|r| (plain(&r.name), plain(&r.value))).collect();
    out.sort();
    out.dedup();
    out
}

/// The validation records.
pub struct ValidationRecord;

impl Resource for ValidationRecord {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_validation_records(reads.clients, reads.env, &reads.found).await?.into())
    }

    fn display(name: &str, _id: Option<&str>) -> String {
        format!("of certificate {name}")
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let Some(zone) = &env.zone else { return Vec::new() };
        certificate::wanted(env)
            .into_iter()
            .filter(|w| certificate::user_certificate(env, ids, &w.name).is_none())
            .map(|w| {
                let certificate = ids.of(Kind::Certificate, &w.name);
                let records = ids.validation.get(&certificate.to).cloned().filter(|r| !r.is_empty());
                let spec = Spec { zone_id: zone.id.clone(), certificate, region: w.region, records };
                Want::new(&w.name, None, spec)
            })
            .collect()
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.certificate.reference()]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.zone_id != spec.zone_id {
            fields.push(FieldChange::new("zone", &found.zone_id, &spec.zone_id));
        }
        if let Some(records) = &spec.records
            && normal(records) != normal(&found.records)
        {
            fields.push(FieldChange::new(
                "records",
                certificate::records_text(&found.records),
                certificate::records_text(records),
            ));
        }
        fields
    }

    fn replaces(spec: &Spec, found: &Found) -> bool {
        found.zone_id != spec.zone_id
    }

    /// UPSERTs the records, then waits until ACM has issued the certificate.
    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let arn = spec.certificate.get()?;
        let records = match &spec.records {
            Some(records) => records.clone(),
            None => certificate::wait_records(op, &spec.region, arn).await?.records,
        };
        for record in &records {
            change(op.clients, &spec.zone_id, ChangeAction::Upsert, cname(&record.name, &record.value)?).await?;
        }
        certificate::wait_issued(op, &spec.region, arn).await?;
        Ok(format!("{arn} in {}", spec.zone_id))
    }

    async fn update(op: &Op<'_>, spec: &Spec, _found: &Found) -> Result<()> {
        Self::create(op, spec).await.map(drop)
    }

    /// Deletes the records, but (unless destroying) not those of names the
    /// stack still has: ACM asks for the same record for a name in every
    /// certificate of the account, so the certificate that replaces this one
    /// needs it. Each is deleted as the zone has it: Route 53's DELETE must
    /// name the record set exactly, TTL and values included, or it fails
    /// with `InvalidChangeBatch` "... the values provided do not match the
    /// current values" (ChangeResourceRecordSets API reference: "DELETE:
    /// Deletes an existing resource record set that has the specified
    /// values"), and the user, ACM's console or another tool may have
    /// written it with another TTL than wschat's.
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let kept: Vec<&str> =
            op.env.stack.domain.iter().filter(|_| !op.env.destroying).flat_map(|d| d.names()).collect();
        for set in &found.sets {
            let validated = plain(&set.name).split_once('.').map(|(_, rest)| rest.to_string()).unwrap_or_default();
            if kept.contains(&validated.as_str()) {
                continue;
            }
            change(op.clients, &found.zone_id, ChangeAction::Delete, set.clone()).await?;
        }
        Ok(())
    }

    fn describe(found: &Found) -> Option<String> {
        Some(certificate::records_text(&found.records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Address;

    fn record(name: &str) -> Record {
        Record { name: format!("_x.{name}."), kind: "CNAME".into(), value: "_y.acm-validations.aws.".into() }
    }

    #[test]
    fn records_are_compared_once_the_certificate_is_known() {
        let env = crate::resources::tests::shipped_with_domain(Some("example.com"));
        let name = certificate::wanted(&env)[0].name.clone();
        let unknown = ValidationRecord::desired(&env, &Ids::default());
        assert_eq!(unknown.len(), 1);
        assert!(!unknown[0].spec.certificate.reference().known);
        let found = Found { zone_id: "Z1".into(), records: vec![record("chat.example.com")], sets: Vec::new() };
        assert!(ValidationRecord::diff(&unknown[0].spec, &found).is_empty());

        let mut ids = Ids::default();
        let address = Address::new(Kind::Certificate, &name);
        ids.record(&address, "arn:c");
        ids.validation.insert(address, vec![record("chat.example.com"), record("ws.chat.example.com")]);
        let known = &ValidationRecord::desired(&env, &ids)[0].spec;
        let fields = ValidationRecord::diff(known, &found);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].field, "records");
        let all = Found {
            zone_id: "Z1".into(),
            records: vec![record("ws.chat.example.com"), record("chat.example.com")],
            sets: Vec::new(),
        };
        assert!(ValidationRecord::diff(known, &all).is_empty());
    }
}
