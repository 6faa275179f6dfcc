//! CloudFront: an alternate domain name (CNAME) belongs to one distribution.
//! `CreateDistribution` or `UpdateDistribution` with an alias another
//! distribution has answers 409 `CNAMEAlreadyExists`, "One or more of the
//! CNAMEs you provided are already associated with a different resource."
//! (CloudFront API Reference, CreateDistribution and UpdateDistribution
//! errors). moto accepts it.

use std::collections::BTreeMap;
use std::time::Instant;

use super::World;
use super::acm::xml_field;
use super::call::{Call, Request};
use super::wire::{self, Reply};

pub const CNAME_TAKEN: &str =
    "One or more of the CNAMEs you provided are already associated with a different resource.";

#[derive(Debug, Default)]
pub struct State {
    /// Alias -> the distribution that has it.
    aliases: BTreeMap<String, String>,
}

/// The aliases of a distribution configuration: each `<CNAME>` in `<Aliases>`.
fn aliases(body: &str) -> Vec<String> {
    let Some(block) = xml_field(body, "Aliases") else { return Vec::new() };
    block.split("<CNAME>").skip(1).filter_map(|c| c.split("</CNAME>").next()).map(str::to_string).collect()
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, _now: Instant) -> Option<Reply> {
    if !world.behaviours.unique_aliases || call.service != "cloudfront" {
        return None;
    }
    let me = match call.operation.as_str() {
        "CreateDistribution" | "CreateDistributionWithTags" => None,
        "UpdateDistribution" => request.segments().get(2).cloned(),
        _ => return None,
    };
    let body = String::from_utf8_lossy(&request.body);
    let taken =
        aliases(&body).iter().any(|a| world.cloudfront.aliases.get(a).is_some_and(|owner| Some(owner) != me.as_ref()));
    taken.then(|| wire::xml_error(409, "CNAMEAlreadyExists", CNAME_TAKEN))
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, _now: Instant) {
    if call.service != "cloudfront" || !reply.is_success() {
        return;
    }
    let id = match call.operation.as_str() {
        "CreateDistribution" | "CreateDistributionWithTags" => xml_field(&String::from_utf8_lossy(&reply.body), "Id"),
        "UpdateDistribution" | "DeleteDistribution" => request.segments().get(2).cloned(),
        _ => return,
    };
    let Some(id) = id else { return };
    let state = &mut world.cloudfront;
    state.aliases.retain(|_, owner| *owner != id);
    if call.operation != "DeleteDistribution" {
        for alias in aliases(&String::from_utf8_lossy(&request.body)) {
            state.aliases.insert(alias, id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_aliases_of_a_configuration() {
        let body = "<DistributionConfig><Aliases><Quantity>2</Quantity><Items><CNAME>a.example.com</CNAME>\
                    <CNAME>b.example.com</CNAME></Items></Aliases></DistributionConfig>";
        assert_eq!(aliases(body), ["a.example.com", "b.example.com"]);
        assert!(aliases("<DistributionConfig/>").is_empty());
    }
}
