//! Eventual consistency: a resource just created may be missing from its
//! `Get*` and `List*` for a short while. IAM documents it ("Changes that I make
//! are not always immediately visible", IAM User Guide, troubleshooting), so
//! does SQS ("a queue you create can take up to one minute to appear in the
//! `ListQueues` results", API Reference), and every AWS SDK waiter starts by
//! tolerating "not found" for that reason.
//!
//! Reads within `consistency_ms` of a create answer the service's own
//! "not found" (or leave the resource out of a listing). Listings in XML
//! (IAM `ListRoles`, CloudFront `ListDistributions`) are passed through.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;

use super::call::{Call, Request};
use super::iam::function_name;
use super::wire::{self, Reply};
use super::{World, within};

#[derive(Debug, Default)]
pub struct State {
    /// When each resource was created, by (kind, id).
    created: HashMap<(&'static str, String), Instant>,
}

impl State {
    fn young(&self, kind: &'static str, id: &str, world: &World, now: Instant) -> bool {
        self.younger(kind, id, world.window(world.behaviours.consistency_ms), now)
    }

    /// Whether the resource was created within `window`.
    fn younger(&self, kind: &'static str, id: &str, window: Option<std::time::Duration>, now: Instant) -> bool {
        within(self.created.get(&(kind, id.to_string())), window, now)
    }
}

/// A `Get*` of a resource created moments ago: not found yet.
pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    world.behaviours.consistency_ms?;
    let segments = request.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let seen = &world.seen;
    let young = |kind, id: &str| seen.young(kind, id, world, now);
    match (call.service.as_str(), call.operation.as_str()) {
        ("apigateway", "GetApi") => {
            let id = s.get(2)?;
            young("api", id).then(|| {
                wire::rest_json_error(404, "NotFoundException", &format!("Invalid API identifier specified {id}"))
            })
        }
        ("apigateway", "GetStage") => {
            let (api, stage) = (s.get(2)?, s.get(4)?);
            young("stage", &format!("{api}/{stage}")).then(|| {
                wire::rest_json_error(404, "NotFoundException", &format!("Invalid stage identifier specified {stage}"))
            })
        }
        ("lambda", "GetFunction" | "GetFunctionConfiguration") => {
            let name = function_name(s.get(2)?);
            young("function", &name).then(|| {
                let arn = format!("arn:aws:lambda:{}:{}:function:{name}", crate::REGION, crate::ACCOUNT_ID);
                wire::rest_json_error(404, "ResourceNotFoundException", &format!("Function not found: {arn}"))
            })
        }
        ("lambda", "GetEventSourceMapping") => {
            let uuid = s.get(2)?;
            young("mapping", uuid).then(|| {
                wire::rest_json_error(
                    404,
                    "ResourceNotFoundException",
                    &format!("The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"),
                )
            })
        }
        ("iam", "GetRole") => {
            let role = request.form("RoleName")?;
            young("role", &role)
                .then(|| wire::xml_error(404, "NoSuchEntity", &format!("The role with name {role} cannot be found.")))
        }
        ("dynamodb", "DescribeTable") => {
            let table = request.json_str("TableName")?;
            young("table", &table).then(|| {
                wire::aws_json_error(
                    400,
                    "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                    &format!("Requested resource not found: Table: {table} not found"),
                )
            })
        }
        ("sqs", "GetQueueUrl") => {
            let queue = request.json_str("QueueName")?;
            young("queue", &queue).then(|| {
                wire::sqs_error(
                    400,
                    "QueueDoesNotExist",
                    "AWS.SimpleQueueService.NonExistentQueue",
                    "The specified queue does not exist.",
                )
            })
        }
        ("cloudfront", "GetDistribution" | "GetDistributionConfig") => {
            let id = s.get(2)?;
            young("distribution", id)
                .then(|| wire::xml_error(404, "NoSuchDistribution", "The specified distribution does not exist."))
        }
        _ => None,
    }
}

/// Records creations, and leaves young resources out of JSON listings.
pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if world.behaviours.consistency_ms.is_none() || !reply.is_success() {
        return;
    }
    let segments = request.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let created = |kind: &'static str, id: Option<String>| id.map(|id| ((kind, id), now));
    let new = match (call.service.as_str(), call.operation.as_str()) {
        ("apigateway", "CreateApi") => created("api", reply.json_str("apiId")),
        ("apigateway", "CreateRoute") => created("route", reply.json_str("routeId")),
        ("apigateway", "CreateIntegration") => created("integration", reply.json_str("integrationId")),
        ("apigateway", "CreateStage") => {
            created("stage", reply.json_str("stageName").and_then(|n| s.get(2).map(|api| format!("{api}/{n}"))))
        }
        ("lambda", "CreateFunction") => {
            created("function", request.json_str("FunctionName").map(|n| function_name(&n)))
        }
        ("lambda", "CreateEventSourceMapping") => created("mapping", reply.json_str("UUID")),
        ("iam", "CreateRole") => created("role", request.form("RoleName")),
        ("dynamodb", "CreateTable") => created("table", request.json_str("TableName")),
        ("sqs", "CreateQueue") => created("queue", request.json_str("QueueName")),
        ("acm", "RequestCertificate") => created("certificate", reply.json_str("CertificateArn")),
        ("cloudfront", "CreateDistribution" | "CreateDistributionWithTags") => {
            let text = String::from_utf8_lossy(&reply.body);
            created("distribution", text.split("<Id>").nth(1).and_then(|t| t.split('<').next()).map(str::to_string))
        }
        _ => None,
    };
    if let Some((key, at)) = new {
        world.seen.created.insert(key, at);
        return;
    }
    // Listings: (the array, the field that identifies an entry, its kind, a prefix of the key).
    let api = s.get(2).map(|a| format!("{a}/")).unwrap_or_default();
    let listing: Option<(&str, &str, &'static str, String)> = match (call.service.as_str(), call.operation.as_str()) {
        ("apigateway", "GetApis") => Some(("items", "apiId", "api", String::new())),
        ("apigateway", "GetRoutes") => Some(("items", "routeId", "route", String::new())),
        ("apigateway", "GetIntegrations") => Some(("items", "integrationId", "integration", String::new())),
        ("apigateway", "GetStages") => Some(("items", "stageName", "stage", api)),
        ("lambda", "ListFunctions") => Some(("Functions", "FunctionName", "function", String::new())),
        ("lambda", "ListEventSourceMappings") => Some(("EventSourceMappings", "UUID", "mapping", String::new())),
        ("sqs", "ListQueues") => Some(("QueueUrls", "", "queue", String::new())),
        // The Resource Groups Tagging API answers from an index that
        // follows the services: GetResources leaves out an ACM certificate
        // requested within `tagging_index_ms` (and, "tagged or previously
        // tagged", may list one deleted; API Reference, GetResources).
        ("tagging", "GetResources") => Some(("ResourceTagMappingList", "ResourceARN", "certificate", String::new())),
        _ => None,
    };
    let Some((array, field, kind, prefix)) = listing else { return };
    let window = match kind {
        "certificate" => world.window(world.behaviours.tagging_index_ms),
        _ => world.window(world.behaviours.consistency_ms),
    };
    let Some(mut body) = reply.json() else { return };
    let Some(items) = body.get_mut(array).and_then(Value::as_array_mut) else { return };
    let before = items.len();
    items.retain(|item| {
        let id = if field.is_empty() {
            // A queue URL: its last segment is the name.
            item.as_str().and_then(|u| u.rsplit('/').next()).unwrap_or_default().to_string()
        } else {
            item.get(field).and_then(Value::as_str).unwrap_or_default().to_string()
        };
        !world.seen.younger(kind, &format!("{prefix}{id}"), window, now)
    });
    if items.len() != before {
        reply.set_json(&body);
    }
}
