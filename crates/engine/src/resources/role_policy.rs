//! The inline, least-privilege policy of a function's role.
//!
//! Every statement names exact ARNs: the connections table and its room
//! index, the delivery ledger, the messages, the presence table, the queue,
//! the stage's `@connections`, and the function's own log group. What a function gets depends on what it
//! does: route handlers send to the queue; the queue's consumer receives
//! from it, sends shards of big broadcasts back to it, sizes its parallel
//! scans by the connections table's item count, and keeps the delivery
//! ledger. No function touches the dead-letter queue (SQS moves messages
//! there itself), so none may.

use anyhow::Result;

use super::{Address, Env, FoundItem, Ids, KNOWN_AFTER_APPLY, Kind, Op, Ref, Reference, Resource, Want, json_equal};
use crate::aws::Sent;
use crate::diff::FieldChange;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The function whose role it is.
    pub function: String,
    pub role: String,
    pub name: String,
    /// It names the API's `@connections`.
    pub document: Ref<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub role: String,
    pub name: String,
    pub document: serde_json::Value,
}

/// The policy of `function`'s role.
pub fn spec(env: &Env, function: &str, api_id: &Ref<String>) -> Spec {
    let stack = &env.stack;
    Spec {
        function: function.to_string(),
        role: stack.role_name(function),
        name: stack.role_policy_name(function),
        document: api_id.map(|id| document(env, function, id)),
    }
}

/// The policy document of `function`'s role in the stack whose API is `api_id`.
fn document(env: &Env, function: &str, api_id: &str) -> serde_json::Value {
    let stack = &env.stack;
    let arns = env.arns();
    let logs = serde_json::json!({
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [format!("{}:*", arns.log_group(function))],
    });
    if stack.authorizer_function() == Some(function) {
        // The authorizer reads the issuer's keys over the internet, and of
        // the stack only whether a person is closed for flooding: one ban
        // item of the presence table, by its key (GetItem).
        let bans = serde_json::json!({
            "Sid": "Bans",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": [arns.presence_table()],
        });
        return serde_json::json!({ "Version": "2012-10-17", "Statement": [bans, logs] });
    }
    let serves_routes = stack.api.routes.values().any(|r| r.function() == Some(function));
    let consumes = stack.functions.get(function).is_some_and(|f| f.queue.is_some());
    // Route handlers write a connection's row ($connect, a rename, a room
    // join); the queue's consumer only reads rows and deletes stale ones,
    // and reads the table's ItemCount (DescribeTable) to size its parallel scans.
    let mut table_actions = vec!["dynamodb:DeleteItem"];
    if consumes {
        table_actions.push("dynamodb:DescribeTable");
    }
    table_actions.push("dynamodb:GetItem");
    if serves_routes {
        table_actions.push("dynamodb:PutItem");
    }
    table_actions.push("dynamodb:Scan");
    // `typing` marks the caller's row (a conditional UpdateItem of
    // `typingAt`), so that one every 3 seconds goes out across invocations.
    if serves_routes {
        table_actions.push("dynamodb:UpdateItem");
    }
    let mut statements = vec![
        serde_json::json!({
            "Sid": "Connections",
            "Effect": "Allow",
            "Action": table_actions,
            "Resource": [arns.table()],
        }),
        serde_json::json!({
            "Sid": "Rooms",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": [arns.room_index()],
        }),
    ];
    // The history: route handlers store each message (PutItem, which a
    // TransactWriteItems is authorized as, with its de-duplication record)
    // and read a conversation's latest page (Query). Nothing else touches it.
    if serves_routes && env.stack.chat.history.is_some() {
        statements.push(serde_json::json!({
            "Sid": "Messages",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Resource": [arns.messages_table()],
        }));
    }
    // Presence (docs/presence.md): both chat handlers read and add to the
    // count buckets and digests (GetItem, UpdateItem's `ADD`) and sum the
    // buckets (Query). The route handler also keeps flood control's
    // buckets there (conditional UpdateItems) and bans a flooder it closes
    // (PutItem), which it and the authorizer read at `$connect` (GetItem).
    if serves_routes || consumes {
        let mut actions = vec!["dynamodb:GetItem"];
        if serves_routes {
            actions.push("dynamodb:PutItem");
        }
        actions.extend(["dynamodb:Query", "dynamodb:UpdateItem"]);
        statements.push(serde_json::json!({
            "Sid": "Presence",
            "Effect": "Allow",
            "Action": actions,
            "Resource": [arns.presence_table()],
        }));
    }
    // Route handlers enqueue notifications; the consumer enqueues the shards
    // of a big one. SendMessageBatch is authorized as sqs:SendMessage.
    if serves_routes || consumes {
        statements.push(serde_json::json!({
            "Sid": "SendNotifications",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [arns.queue()],
        }));
    }
    if consumes {
        statements.push(serde_json::json!({
            "Sid": "ConsumeNotifications",
            "Effect": "Allow",
            "Action": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            "Resource": [arns.queue()],
        }));
        // The ledger: what was posted for a shard part (Query), and a new
        // entry once it is (PutItem). Nothing else reads or writes it.
        statements.push(serde_json::json!({
            "Sid": "Deliveries",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:Query"],
            "Resource": [arns.deliveries_table()],
        }));
    }
    statements.push(serde_json::json!({
        "Sid": "PostToConnections",
        "Effect": "Allow",
        "Action": ["execute-api:ManageConnections"],
        "Resource": [arns.connections(api_id, "POST")],
    }));
    // The route handler closes a flooder (`DeleteConnection`, `chat.limits`);
    // the consumer only posts, and never closes anyone.
    if serves_routes {
        statements.push(serde_json::json!({
            "Sid": "CloseConnections",
            "Effect": "Allow",
            "Action": ["execute-api:ManageConnections"],
            "Resource": [arns.connections(api_id, "DELETE")],
        }));
    }
    statements.push(logs);
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}

pub async fn find_role_policy(clients: &super::Clients, env: &Env, function: &str) -> Result<Option<FoundItem>> {
    let role = env.stack.role_name(function);
    let name = env.stack.role_policy_name(function);
    let doing = || format!("reading policy `{name}` of IAM role `{role}`");
    let Some(policy) = clients.iam.get_role_policy().role_name(&role).policy_name(&name).send().found(doing).await?
    else {
        return Ok(None);
    };
    let found =
        Found { role: role.clone(), name: name.clone(), document: super::decode_policy(&policy.policy_document) };
    Ok(Some(FoundItem::new(function, name, Some(Address::new(Kind::Role, function)), super::Found::RolePolicy(found))))
}

/// Each function role's inline policy.
pub struct RolePolicy;

impl Resource for RolePolicy {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let found = reads.each_function(|f| find_role_policy(reads.clients, reads.env, f)).await?;
        Ok(found.into_iter().flatten().collect())
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![Reference::exists(Kind::Role, &spec.function), spec.document.reference()]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let stack = &env.stack;
        let api = ids.api();
        stack.functions.keys().map(|f| Want::new(f, stack.role_policy_name(f), spec(env, f, &api))).collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let Some(document) = spec.document.known() else {
            return vec![FieldChange::new("statements", "(as they are)", KNOWN_AFTER_APPLY)];
        };
        if json_equal(document, &found.document) {
            return Vec::new();
        }
        // Name the statements that differ rather than printing two documents.
        let statements = |doc: &serde_json::Value| -> Vec<serde_json::Value> {
            doc.get("Statement").and_then(|s| s.as_array()).cloned().unwrap_or_default()
        };
        let (want, have) = (statements(document), statements(&found.document));
        let missing: Vec<&serde_json::Value> = want.iter().filter(|w| !have.iter().any(|h| json_equal(w, h))).collect();
        let extra: Vec<&serde_json::Value> = have.iter().filter(|h| !want.iter().any(|w| json_equal(w, h))).collect();
        let sids = |list: &[&serde_json::Value]| -> String {
            list.iter()
                .map(|s| s.get("Sid").and_then(|v| v.as_str()).unwrap_or("?").to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        vec![FieldChange::new(
            "statements",
            if extra.is_empty() { "(as before)".to_string() } else { sids(&extra) },
            if missing.is_empty() { "(removed)".to_string() } else { sids(&missing) },
        )]
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        op.clients
            .iam
            .put_role_policy()
            .role_name(&spec.role)
            .policy_name(&spec.name)
            .policy_document(spec.document.get()?.to_string())
            .send()
            .done(|| format!("putting policy `{}` on IAM role `{}`", spec.name, spec.role))
            .await?;
        Ok(spec.name.clone())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting policy `{}` of IAM role `{}`", found.name, found.role);
        op.clients.iam.delete_role_policy().role_name(&found.role).policy_name(&found.name).send().gone(doing).await
    }

    /// `PutRolePolicy` creates or replaces, so it serves for updates too.
    async fn update(op: &Op<'_>, spec: &Spec, _found: &Found) -> Result<()> {
        Self::create(op, spec).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table";

    fn statement<'a>(doc: &'a Value, sid: &str) -> Option<&'a Value> {
        doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid)
    }

    fn sids(doc: &Value) -> Vec<&str> {
        doc["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect()
    }

    #[test]
    fn the_consumer_may_enqueue_shards_count_connections_and_keep_the_ledger() {
        let env = crate::resources::tests::shipped();
        let doc = document(&env, "notify", "a1");
        assert_eq!(
            sids(&doc),
            [
                "Connections",
                "Rooms",
                "Presence",
                "SendNotifications",
                "ConsumeNotifications",
                "Deliveries",
                "PostToConnections",
                "Logs"
            ]
        );
        assert_eq!(
            statement(&doc, "Connections").unwrap(),
            &json!({
                "Sid": "Connections",
                "Effect": "Allow",
                "Action": ["dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Scan"],
                "Resource": [format!("{ARN}/wschat-dev-connections")],
            })
        );
        assert_eq!(
            statement(&doc, "SendNotifications").unwrap()["Resource"],
            json!(["arn:aws:sqs:us-east-1:123456789012:wschat-dev-notifications"])
        );
        assert_eq!(
            statement(&doc, "Deliveries").unwrap(),
            &json!({
                "Sid": "Deliveries",
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:Query"],
                "Resource": [format!("{ARN}/wschat-dev-deliveries")],
            })
        );
    }

    #[test]
    fn the_route_handler_gets_nothing_on_the_ledger_and_does_not_describe_the_table() {
        let env = crate::resources::tests::shipped();
        let doc = document(&env, "chat", "a1");
        assert_eq!(
            sids(&doc),
            [
                "Connections",
                "Rooms",
                "Messages",
                "Presence",
                "SendNotifications",
                "PostToConnections",
                "CloseConnections",
                "Logs"
            ]
        );
        assert_eq!(
            statement(&doc, "Connections").unwrap()["Action"],
            json!([
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:UpdateItem"
            ])
        );
        assert!(!doc.to_string().contains("deliveries"), "{doc:#}");
    }

    #[test]
    fn only_the_route_handler_reaches_the_messages_and_only_while_history_is_on() {
        let mut env = crate::resources::tests::shipped();
        assert_eq!(
            statement(&document(&env, "chat", "a1"), "Messages").unwrap(),
            &json!({
                "Sid": "Messages",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                "Resource": [format!("{ARN}/wschat-dev-messages")],
            })
        );
        assert!(!document(&env, "notify", "a1").to_string().contains("messages"));
        env.stack.chat.history = None;
        for function in ["chat", "notify"] {
            assert!(!document(&env, function, "a1").to_string().contains("messages"), "{function}");
        }
    }

    #[test]
    fn both_chat_handlers_may_read_and_update_presence_and_only_the_route_handler_bans() {
        let env = crate::resources::tests::shipped();
        let presence = format!("{ARN}/wschat-dev-presence");
        for function in ["chat", "notify"] {
            let doc = document(&env, function, "a1");
            let actions: &[&str] = if function == "chat" {
                &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
            } else {
                &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
            };
            assert_eq!(
                statement(&doc, "Presence").unwrap(),
                &json!({
                    "Sid": "Presence",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [presence],
                }),
                "{function}"
            );
            // No other statement names the table.
            let naming: Vec<&str> = doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["Resource"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("presence")))
                .map(|s| s["Sid"].as_str().unwrap())
                .collect();
            assert_eq!(naming, ["Presence"], "{function}");
        }
    }

    #[test]
    fn the_authorizer_may_read_bans_and_write_its_log_and_nothing_else() {
        let env = crate::resources::tests::shipped_with_sign_in();
        let doc = document(&env, "authorizer", "a1");
        assert_eq!(sids(&doc), ["Bans", "Logs"]);
        assert_eq!(
            statement(&doc, "Bans").unwrap(),
            &json!({
                "Sid": "Bans",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem"],
                "Resource": [format!("{ARN}/wschat-dev-presence")],
            })
        );
    }

    #[test]
    fn only_the_route_handler_may_close_connections() {
        let env = crate::resources::tests::shipped();
        let connections =
            |method: &str| format!("arn:aws:execute-api:us-east-1:123456789012:a1/dev/{method}/@connections/*");
        let chat = document(&env, "chat", "a1");
        assert_eq!(
            statement(&chat, "CloseConnections").unwrap(),
            &json!({
                "Sid": "CloseConnections",
                "Effect": "Allow",
                "Action": ["execute-api:ManageConnections"],
                "Resource": [connections("DELETE")],
            })
        );
        for function in ["chat", "notify"] {
            let doc = document(&env, function, "a1");
            assert_eq!(statement(&doc, "PostToConnections").unwrap()["Resource"], json!([connections("POST")]));
        }
        let notify = document(&env, "notify", "a1");
        assert!(
            statement(&notify, "CloseConnections").is_none() && !notify.to_string().contains("DELETE"),
            "{notify:#}"
        );
    }

    #[test]
    fn every_statement_names_exact_arns_and_actions() {
        let env = crate::resources::tests::shipped();
        for function in ["chat", "notify"] {
            let doc = document(&env, function, "a1");
            for statement in doc["Statement"].as_array().unwrap() {
                for action in statement["Action"].as_array().unwrap() {
                    assert!(!action.as_str().unwrap().contains('*'), "{function}: {statement}");
                }
                for resource in statement["Resource"].as_array().unwrap() {
                    let resource = resource.as_str().unwrap();
                    // Only the log streams and the stage's connections are patterns, by design.
                    let pattern = resource.ends_with(":*") || resource.ends_with("/@connections/*");
                    assert!(!resource.contains('*') || pattern, "{function}: {resource}");
                }
            }
        }
    }
}
