//! Route 53: a DELETE in `ChangeResourceRecordSets` must name the record set
//! exactly as the zone has it, TTL and values included; otherwise the whole
//! batch fails with 400 `InvalidChangeBatch`, "Tried to delete resource
//! record set [name='…', type='…'] but the values provided do not match the
//! current values" (Route 53 API Reference, ChangeResourceRecordSets:
//! "DELETE: Deletes an existing resource record set that has the specified
//! values"; terraform-provider-aws's `aws_route53_record` reads the record
//! before deleting it for that reason). moto deletes by name and type.
//!
//! The proxy knows the record sets written through it (as AWS knows every
//! write), and checks a DELETE of one of those.

use std::collections::BTreeMap;
use std::time::Instant;

use super::World;
use super::acm::xml_field;
use super::call::{Call, Request};
use super::wire::{self, Reply};

#[derive(Debug, Default)]
pub struct State {
    /// (zone, name, type) -> what the set holds: its TTL, values and alias target.
    sets: BTreeMap<(String, String, String), String>,
}

/// One change of a batch.
#[derive(Debug, PartialEq)]
struct Change {
    action: String,
    name: String,
    kind: String,
    /// The TTL, the values in order and the alias target, as one string.
    holds: String,
}

/// The changes of a `ChangeResourceRecordSets` body.
fn changes(body: &str) -> Vec<Change> {
    body.split("<Change>")
        .skip(1)
        .filter_map(|block| {
            let block = block.split("</Change>").next()?;
            let set = xml_field(block, "ResourceRecordSet")?;
            let mut name = xml_field(&set, "Name")?.to_ascii_lowercase();
            if !name.ends_with('.') {
                name.push('.');
            }
            let mut values: Vec<String> =
                set.split("<Value>").skip(1).filter_map(|v| v.split("</Value>").next()).map(str::to_string).collect();
            values.sort();
            let holds = format!(
                "ttl={:?} values={values:?} alias={:?}",
                xml_field(&set, "TTL"),
                xml_field(&set, "AliasTarget")
            );
            Some(Change { action: xml_field(block, "Action")?, name, kind: xml_field(&set, "Type")?, holds })
        })
        .collect()
}

fn zone(request: &Request) -> Option<String> {
    request.segments().get(2).cloned()
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, _now: Instant) -> Option<Reply> {
    if !world.behaviours.exact_record_deletes || call.operation != "ChangeResourceRecordSets" {
        return None;
    }
    let zone = zone(request)?;
    let body = String::from_utf8_lossy(&request.body);
    changes(&body).into_iter().filter(|c| c.action == "DELETE").find_map(|c| {
        let current = world.route53.sets.get(&(zone.clone(), c.name.clone(), c.kind.clone()))?;
        (*current != c.holds).then(|| {
            let message = format!(
                "[Tried to delete resource record set [name='{}', type='{}'] but the values provided do not match the current values]",
                c.name, c.kind
            );
            wire::xml_error(400, "InvalidChangeBatch", &message)
        })
    })
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, _now: Instant) {
    if call.operation != "ChangeResourceRecordSets" || !reply.is_success() {
        return;
    }
    let Some(zone) = zone(request) else { return };
    for c in changes(&String::from_utf8_lossy(&request.body)) {
        let key = (zone.clone(), c.name, c.kind);
        if c.action == "DELETE" {
            world.route53.sets.remove(&key);
        } else {
            world.route53.sets.insert(key, c.holds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_change_of_a_batch() {
        let body = "<ChangeResourceRecordSetsRequest><ChangeBatch><Changes>\
            <Change><Action>DELETE</Action><ResourceRecordSet><Name>_x.Chat.example.com</Name><Type>CNAME</Type>\
            <TTL>300</TTL><ResourceRecords><ResourceRecord><Value>_y.acm-validations.aws.</Value></ResourceRecord>\
            </ResourceRecords></ResourceRecordSet></Change>\
            <Change><Action>UPSERT</Action><ResourceRecordSet><Name>chat.example.com.</Name><Type>A</Type>\
            <AliasTarget><HostedZoneId>Z2FDTNDATAQYW2</HostedZoneId><DNSName>d1.cloudfront.net</DNSName>\
            </AliasTarget></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>";
        let read = changes(body);
        assert_eq!(read.len(), 2);
        assert_eq!(
            (read[0].action.as_str(), read[0].name.as_str(), read[0].kind.as_str()),
            ("DELETE", "_x.chat.example.com.", "CNAME")
        );
        assert!(read[0].holds.contains("Some(\"300\")") && read[0].holds.contains("_y.acm-validations.aws."));
        assert_eq!((read[1].action.as_str(), read[1].name.as_str()), ("UPSERT", "chat.example.com."));
        assert!(read[1].holds.contains("d1.cloudfront.net"), "{:?}", read[1]);
        let ttl_60 = body.replace("<TTL>300</TTL>", "<TTL>60</TTL>");
        assert_ne!(changes(&ttl_60)[0].holds, read[0].holds);
    }
}
