//! The stack's DynamoDB tables, each on-demand, with its own key schema,
//! an optional global secondary index and TTL:
//!
//! - `connections`: `connectionId` (S) hash key, the `room-index` GSI (`room`,
//!   `connectionId`, all attributes), TTL on the stack's TTL attribute;
//! - `deliveries`, the delivery ledger of the queue's consumer: `shard` (S)
//!   hash key, `part` (N) range key, no index, TTL on `expiresAt`;
//! - `messages`, the chat's history while `chat.history` is on:
//!   `conversation` (S) hash key, `id` (S) range key (the time, then a
//!   random part), no index, TTL on `expiresAt`;
//! - `presence`, the count of people online and the digests of joins and
//!   leaves (docs/presence.md): `key` (S) hash key, `part` (N) range key, no
//!   index, TTL on `expiresAt`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use super::{Env, FoundItem, Ids, Op, Resource, Tags, Want, poll, tags_field};
use crate::aws::{AwsContext, Missing, Sent, Tagged, is_not_found, retag};
use crate::diff::FieldChange;

/// The hash key of the connections table, and the range key of the room index.
pub const CONNECTION_ID: &str = "connectionId";
/// The hash key of the room index.
pub const ROOM: &str = "room";
/// The delivery ledger's hash key (S): the shard of a notice.
pub const SHARD: &str = "shard";
/// The delivery ledger's range key (N): a part of that shard.
pub const PART: &str = "part";
/// The delivery ledger's TTL attribute (epoch seconds), so that old entries go.
pub const DELIVERIES_TTL: &str = "expiresAt";
/// The messages table's hash key (S): everyone, a room or a pair.
pub const CONVERSATION: &str = "conversation";
/// The messages table's range key (S): a message id, which sorts by time.
pub const MESSAGE_ID: &str = "id";
/// The messages table's TTL attribute (epoch seconds): `chat.history.days` on.
pub const MESSAGES_TTL: &str = "expiresAt";
/// The presence table's hash key (S): `online` (the count buckets) or
/// `digest#<window>`.
pub const PRESENCE_KEY: &str = "key";
/// The presence table's range key (N): a count bucket's minute, a digest's window.
pub const PRESENCE_PART: &str = "part";
/// The presence table's TTL attribute (epoch seconds).
pub const PRESENCE_TTL: &str = "expiresAt";

/// One key attribute: its name, its role in the key and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub attribute: String,
    pub key_type: KeyType,
    pub attribute_type: ScalarAttributeType,
}

impl Key {
    pub fn hash(attribute: &str, attribute_type: ScalarAttributeType) -> Key {
        Key { attribute: attribute.to_string(), key_type: KeyType::Hash, attribute_type }
    }

    pub fn range(attribute: &str, attribute_type: ScalarAttributeType) -> Key {
        Key { attribute: attribute.to_string(), key_type: KeyType::Range, attribute_type }
    }

    fn element(&self) -> Result<KeySchemaElement> {
        Ok(KeySchemaElement::builder().attribute_name(&self.attribute).key_type(self.key_type.clone()).build()?)
    }

    fn definition(&self) -> Result<AttributeDefinition> {
        Ok(AttributeDefinition::builder()
            .attribute_name(&self.attribute)
            .attribute_type(self.attribute_type.clone())
            .build()?)
    }
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    pub name: String,
    pub keys: Vec<Key>,
    pub projection: ProjectionType,
}

impl Index {
    /// Its keys and projection, as [`Found::indexes`] has them.
    fn shown(&self) -> String {
        format!("{}, projection {}", shown_keys(&self.keys), self.projection.as_str())
    }

    fn key_schema(&self) -> Result<Vec<KeySchemaElement>> {
        self.keys.iter().map(Key::element).collect()
    }

    fn projection(&self) -> Projection {
        Projection::builder().projection_type(self.projection.clone()).build()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub arn: String,
    /// The hash key, then the range key if there is one.
    pub keys: Vec<Key>,
    pub index: Option<Index>,
    pub ttl_attribute: String,
    pub tags: Tags,
}

impl Spec {
    /// The key schema, as [`Found::key_schema`] has it.
    fn key_schema(&self) -> String {
        shown_keys(&self.keys)
    }

    /// The definitions of every key attribute, of the table and of its index, once each.
    fn attribute_definitions(&self) -> Result<Vec<AttributeDefinition>> {
        let mut keys: Vec<&Key> = Vec::new();
        for key in self.keys.iter().chain(self.index.iter().flat_map(|i| &i.keys)) {
            if !keys.iter().any(|k| k.attribute == key.attribute) {
                keys.push(key);
            }
        }
        keys.into_iter().map(Key::definition).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub arn: String,
    pub billing_mode: String,
    /// `connectionId HASH (S)`, as written by [`shown_keys`].
    pub key_schema: String,
    /// Each global secondary index, by name: its keys and projection.
    pub indexes: BTreeMap<String, String>,
    /// The TTL attribute when TTL is enabled (or being enabled).
    pub ttl_attribute: Option<String>,
    /// What `DescribeTimeToLive` says: `ENABLED`, `ENABLING`, `DISABLED` or `DISABLING`.
    pub ttl_status: String,
    /// The attribute TTL is (or was last) set on, whatever its status.
    pub ttl_named: Option<String>,
    /// `CREATING`, `UPDATING`, `ACTIVE`...
    pub status: String,
    pub tags: Tags,
}

/// The connections table.
pub fn spec(env: &Env) -> Spec {
    use ScalarAttributeType::S;
    Spec {
        name: env.stack.table_name(),
        arn: env.arns().table(),
        keys: vec![Key::hash(CONNECTION_ID, S)],
        index: Some(Index {
            name: env.stack.room_index_name().to_string(),
            keys: vec![Key::hash(ROOM, S), Key::range(CONNECTION_ID, S)],
            projection: ProjectionType::All,
        }),
        ttl_attribute: env.stack.table.ttl_attribute.clone(),
        tags: env.tags(),
    }
}

/// The delivery ledger: one item per part of a shard that the consumer
/// has posted, kept until its TTL.
pub fn deliveries_spec(env: &Env) -> Spec {
    Spec {
        name: env.stack.deliveries_table_name(),
        arn: env.arns().deliveries_table(),
        keys: vec![Key::hash(SHARD, ScalarAttributeType::S), Key::range(PART, ScalarAttributeType::N)],
        index: None,
        ttl_attribute: DELIVERIES_TTL.to_string(),
        tags: env.tags(),
    }
}

/// The chat's history. Only the chat function's role reads and writes it.
pub fn messages_spec(env: &Env) -> Spec {
    use ScalarAttributeType::S;
    Spec {
        name: env.stack.messages_table_name(),
        arn: env.arns().messages_table(),
        keys: vec![Key::hash(CONVERSATION, S), Key::range(MESSAGE_ID, S)],
        index: None,
        ttl_attribute: MESSAGES_TTL.to_string(),
        tags: env.tags(),
    }
}

/// Presence at scale: the count buckets and the digests. Both chat handlers'
/// roles read and update it, and nothing else.
pub fn presence_spec(env: &Env) -> Spec {
    use ScalarAttributeType::{N, S};
    Spec {
        name: env.stack.presence_table_name(),
        arn: env.arns().presence_table(),
        keys: vec![Key::hash(PRESENCE_KEY, S), Key::range(PRESENCE_PART, N)],
        index: None,
        ttl_attribute: PRESENCE_TTL.to_string(),
        tags: env.tags(),
    }
}

/// Every table a stack may have, each with its name within the kind: the
/// ones it wants, and the messages table also when `chat.history` is off, so
/// that discovery finds it and the plan deletes it.
fn tables(env: &Env) -> [(&'static str, Spec); 4] {
    [
        ("connections", spec(env)),
        ("deliveries", deliveries_spec(env)),
        (MESSAGES, messages_spec(env)),
        (PRESENCE, presence_spec(env)),
    ]
}

/// The presence table's name within the kind.
const PRESENCE: &str = "presence";

/// The presence table, as AWS has it (`wschat dev --aws-store` creates it when missing).
pub async fn find_presence_table(clients: &super::Clients, env: &Env) -> Result<Option<FoundItem>> {
    find(clients, PRESENCE, &presence_spec(env)).await
}

/// The messages table's name within the kind.
const MESSAGES: &str = "messages";

/// The messages table, as AWS has it (`wschat dev --aws-store` creates it when missing).
pub async fn find_messages_table(clients: &super::Clients, env: &Env) -> Result<Option<FoundItem>> {
    find(clients, MESSAGES, &messages_spec(env)).await
}

/// Keys as people read them: `shard HASH (S), part RANGE (N)`.
fn shown_keys(keys: &[Key]) -> String {
    let keys: Vec<(&str, &str, &str)> =
        keys.iter().map(|k| (k.attribute.as_str(), k.key_type.as_str(), k.attribute_type.as_str())).collect();
    joined(&keys)
}

/// A found key schema, with each attribute's type from the table's definitions.
fn found_keys(schema: &[KeySchemaElement], definitions: &[AttributeDefinition]) -> String {
    let keys: Vec<(&str, &str, &str)> = schema
        .iter()
        .map(|k| {
            let defined = definitions.iter().find(|d| d.attribute_name() == k.attribute_name());
            (k.attribute_name(), k.key_type().as_str(), defined.map_or("?", |d| d.attribute_type().as_str()))
        })
        .collect();
    joined(&keys)
}

fn joined(keys: &[(&str, &str, &str)]) -> String {
    keys.iter().map(|(name, role, ty)| format!("{name} {role} ({ty})")).collect::<Vec<_>>().join(", ")
}

/// The connections table, as AWS has it (`wschat dev --aws-store` creates it when missing).
pub async fn find_table(clients: &super::Clients, env: &Env) -> Result<Option<FoundItem>> {
    find(clients, "connections", &spec(env)).await
}

/// Every table of the stack that exists.
pub async fn find_tables(clients: &super::Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let tables = tables(env);
    let found =
        futures::future::try_join_all(tables.iter().map(|(address, spec)| find(clients, address, spec))).await?;
    Ok(found.into_iter().flatten().collect())
}

/// The table `spec` names, found at `address`.
async fn find(clients: &super::Clients, address: &str, spec: &Spec) -> Result<Option<FoundItem>> {
    let name = &spec.name;
    let ddb = &clients.dynamodb;
    let Some(described) =
        ddb.describe_table().table_name(name).send().found(|| format!("reading DynamoDB table `{name}`")).await?
    else {
        return Ok(None);
    };
    let Some(table) = described.table else { return Ok(None) };
    if table.table_status() == Some(&TableStatus::Deleting) {
        return Ok(None);
    }
    let arn = table.table_arn().map_or_else(|| spec.arn.clone(), str::to_string);
    let (ttl, tags) = tokio::try_join!(
        async {
            ddb.describe_time_to_live()
                .table_name(name)
                .send()
                .done(|| format!("reading the TTL of DynamoDB table `{name}`"))
                .await
        },
        async {
            ddb.list_tags_of_resource()
                .resource_arn(&arn)
                .send()
                .done(|| format!("reading the tags of DynamoDB table `{name}`"))
                .await
        },
    )?;
    let ttl = ttl.time_to_live_description();
    let ttl_status = ttl.and_then(|d| d.time_to_live_status()).map_or("DISABLED", |s| s.as_str()).to_string();
    let ttl_named = ttl.and_then(|d| d.attribute_name()).map(str::to_string);
    let on = matches!(ttl_status.as_str(), "ENABLED" | "ENABLING");
    let ttl_attribute = if on { ttl_named.clone() } else { None };
    let definitions = table.attribute_definitions();
    let found = Found {
        name: name.clone(),
        arn,
        billing_mode: table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map_or("PROVISIONED".to_string(), |b| b.as_str().to_string()),
        key_schema: found_keys(table.key_schema(), definitions),
        indexes: table
            .global_secondary_indexes()
            .iter()
            .filter_map(|i| {
                let projection = i.projection().and_then(|p| p.projection_type()).map_or("?", |p| p.as_str());
                let shown = format!("{}, projection {projection}", found_keys(i.key_schema(), definitions));
                Some((i.index_name()?.to_string(), shown))
            })
            .collect(),
        ttl_attribute,
        ttl_status,
        ttl_named,
        status: table.table_status().map_or("ACTIVE", |s| s.as_str()).to_string(),
        tags: tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
    };
    Ok(Some(FoundItem::new(address, name.clone(), None, super::Found::Table(found))))
}

/// How a TTL attribute change goes, said before any call (plan, and the
/// deploy's progress line): AWS allows one TTL change per table per hour.
const TWO_STEPS: &str = "AWS allows one TTL change per table per hour: a deploy turns TTL off on the old \
    attribute, and a deploy an hour or more after that turns it on for the new one";

fn ttl_shown(found: &Found) -> String {
    match (&found.ttl_named, found.ttl_status.as_str()) {
        (Some(name), "ENABLED") => name.clone(),
        (Some(name), status) if status != "DISABLED" => format!("{name} ({status})"),
        _ => "(off)".to_string(),
    }
}

/// The next TTL change a deploy can make.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TtlStep {
    /// TTL is off: turn it on for the spec's attribute.
    Enable,
    /// TTL is on for another attribute: turn it off first.
    Disable(String),
    /// AWS is still enabling or disabling TTL on this attribute (it takes up
    /// to an hour); no change is possible until it is done.
    Busy(String, String),
}

fn ttl_step(spec: &Spec, found: &Found) -> TtlStep {
    let name = found.ttl_named.clone().unwrap_or_default();
    match found.ttl_status.as_str() {
        "ENABLED" if name != spec.ttl_attribute => TtlStep::Disable(name),
        status @ ("ENABLING" | "DISABLING") => TtlStep::Busy(name, status.to_string()),
        _ => TtlStep::Enable,
    }
}

/// Takes the next step towards TTL on the spec's attribute. AWS allows one
/// TTL change per table per hour ("Any additional UpdateTimeToLive calls for
/// the same table during this one hour duration result in a
/// ValidationException", DynamoDB API Reference, `UpdateTimeToLive`), so moving
/// TTL to another attribute takes two deploys an hour apart. A step AWS
/// refuses for that reason is left for a later deploy, with a note that says
/// when, and the deploy goes on: it is not an error.
async fn set_ttl(op: &Op<'_>, spec: &Spec, found: Option<&Found>) -> Result<()> {
    let step = found.map_or(TtlStep::Enable, |f| ttl_step(spec, f));
    let (attribute, enabled, doing) = match &step {
        TtlStep::Enable => (spec.ttl_attribute.clone(), true, format!("turning on TTL on `{}`", spec.ttl_attribute)),
        TtlStep::Disable(old) => {
            op.task.note(&format!(
                "DynamoDB table `{}`: moving TTL from `{old}` to `{}` takes two deploys: this one turns TTL off on `{old}`; \
                 AWS allows one TTL change per table per hour, so deploy again an hour or more from now to turn it on for `{}`",
                spec.name, spec.ttl_attribute, spec.ttl_attribute
            ));
            (old.clone(), false, format!("turning off TTL on `{old}`"))
        }
        TtlStep::Busy(name, status) => {
            op.task.note(&format!(
                "DynamoDB table `{}`: TTL on `{name}` is still {status} (AWS takes up to an hour); deploy again once it is done to set TTL on `{}`",
                spec.name, spec.ttl_attribute
            ));
            return Ok(());
        }
    };
    let sent = op
        .clients
        .dynamodb
        .update_time_to_live()
        .table_name(&spec.name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().enabled(enabled).attribute_name(&attribute).build()?,
        )
        .send()
        .await;
    match sent {
        // The only ValidationException of this call for a valid attribute
        // name is the hourly limit (its message says "modified multiple
        // times within a fixed interval").
        Err(e) if e.code() == Some("ValidationException") => {
            op.task.note(&format!(
                "DynamoDB table `{}`: AWS refused {doing} now: it allows one TTL change per table per hour, and the last \
                 one was less than an hour ago; everything else is deployed; deploy again within the hour to finish the TTL change",
                spec.name
            ));
            Ok(())
        }
        other => other.map(drop).aws_context(|| format!("{doing} of DynamoDB table `{}`", spec.name)),
    }
}

/// Waits until the table and its indexes are ACTIVE (creating an index on a
/// full table backfills it, which can take minutes).
pub async fn wait_table_active(op: &Op<'_>, name: &str) -> Result<()> {
    let what = format!("waiting for DynamoDB table `{name}` to become ACTIVE");
    let started = std::time::Instant::now();
    poll(op.task, &what, Duration::from_secs(600), || async {
        let described = match op.clients.dynamodb.describe_table().table_name(name).send().await {
            // Just created: DescribeTable is eventually consistent.
            Err(e) if is_not_found(&e) && started.elapsed() < Duration::from_secs(30) => {
                return Ok(None);
            }
            other => other.aws_context(|| format!("reading DynamoDB table `{name}`"))?,
        };
        let Some(table) = described.table else { return Ok(None) };
        let indexes_active =
            table.global_secondary_indexes().iter().all(|i| i.index_status() == Some(&IndexStatus::Active));
        Ok((table.table_status() == Some(&TableStatus::Active) && indexes_active).then_some(()))
    })
    .await
}

/// Waits until the table is gone, so that a deploy right after a destroy can create it again.
pub async fn wait_table_deleted(op: &Op<'_>, name: &str) -> Result<()> {
    let what = format!("waiting for DynamoDB to finish deleting table `{name}`");
    poll(op.task, &what, Duration::from_secs(300), || async {
        let described = op.clients.dynamodb.describe_table().table_name(name).send().await;
        let table = described.or_missing().aws_context(|| format!("reading DynamoDB table `{name}`"))?;
        Ok(table.is_none().then_some(()))
    })
    .await
}

/// The stack's DynamoDB tables: the connections table, the delivery ledger,
/// the messages (with `chat.history`) and presence.
pub struct Table;

impl Resource for Table {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_tables(reads.clients, reads.env).await?.into())
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        tables(env)
            .into_iter()
            .filter(|(address, _)| *address != MESSAGES || env.stack.chat.history.is_some())
            .map(|(address, spec)| Want::new(address, spec.name.clone(), spec))
            .collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.billing_mode != "PAY_PER_REQUEST" {
            fields.push(FieldChange::new("billing mode", &found.billing_mode, "PAY_PER_REQUEST"));
        }
        if found.key_schema != spec.key_schema() {
            fields.push(FieldChange::new("key schema", &found.key_schema, spec.key_schema()));
        }
        // Only the index the spec names is compared: one someone added by
        // hand costs nothing and is left alone.
        if let Some(index) = &spec.index {
            let found_index = found.indexes.get(&index.name);
            if found_index != Some(&index.shown()) {
                fields.push(FieldChange::new(
                    format!("index {}", index.name),
                    found_index.map_or("(none)", String::as_str),
                    index.shown(),
                ));
            }
        }
        if found.ttl_attribute.as_deref() != Some(spec.ttl_attribute.as_str()) {
            let field = FieldChange::new("ttl", ttl_shown(found), &spec.ttl_attribute);
            fields.push(match ttl_step(spec, found) {
                TtlStep::Enable => field,
                _ => field.with_note(TWO_STEPS),
            });
        }
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let tags = crate::aws::dynamodb_tags(&spec.tags)?;
        let key_schema: Vec<KeySchemaElement> = spec.keys.iter().map(Key::element).collect::<Result<_>>()?;
        let index = match &spec.index {
            Some(index) => Some(vec![
                GlobalSecondaryIndex::builder()
                    .index_name(&index.name)
                    .set_key_schema(Some(index.key_schema()?))
                    .projection(index.projection())
                    .build()?,
            ]),
            None => None,
        };
        op.clients
            .dynamodb
            .create_table()
            .table_name(&spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(spec.attribute_definitions()?))
            .set_key_schema(Some(key_schema))
            .set_global_secondary_indexes(index)
            .set_tags(Some(tags))
            .send()
            .done(|| format!("creating DynamoDB table `{}`", spec.name))
            .await?;
        wait_table_active(op, &spec.name).await?;
        set_ttl(op, spec, None).await?;
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let ddb = &op.clients.dynamodb;
        // A table a killed deploy left CREATING (or one AWS is still updating)
        // takes no change until it is ACTIVE: DynamoDB answers ResourceInUseException.
        if found.status != "ACTIVE" {
            wait_table_active(op, &spec.name).await?;
        }
        if found.key_schema != spec.key_schema() {
            anyhow::bail!(
                "DynamoDB table `{}` has key schema `{}`, but wschat needs `{}`; a key schema cannot change in place: \
                 move the table's data aside and delete it, then deploy again",
                spec.name,
                found.key_schema,
                spec.key_schema()
            );
        }
        if found.billing_mode != "PAY_PER_REQUEST" {
            ddb.update_table()
                .table_name(&spec.name)
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .done(|| format!("switching DynamoDB table `{}` to on-demand", spec.name))
                .await?;
            wait_table_active(op, &spec.name).await?;
        }
        if let Some(index) = &spec.index {
            match found.indexes.get(&index.name) {
                Some(have) if *have != index.shown() => anyhow::bail!(
                    "index `{}` of DynamoDB table `{}` is `{have}`, but wschat needs `{}`; delete the index \
                     (aws dynamodb update-table --table-name {} --global-secondary-index-updates '[{{\"Delete\":{{\"IndexName\":\"{}\"}}}}]') and deploy again",
                    index.name,
                    spec.name,
                    index.shown(),
                    spec.name,
                    index.name
                ),
                Some(_) => {}
                None => {
                    let definitions = index.keys.iter().map(Key::definition).collect::<Result<Vec<_>>>()?;
                    ddb.update_table()
                        .table_name(&spec.name)
                        .set_attribute_definitions(Some(definitions))
                        .global_secondary_index_updates(
                            GlobalSecondaryIndexUpdate::builder()
                                .create(
                                    CreateGlobalSecondaryIndexAction::builder()
                                        .index_name(&index.name)
                                        .set_key_schema(Some(index.key_schema()?))
                                        .projection(index.projection())
                                        .build()?,
                                )
                                .build(),
                        )
                        .send()
                        .done(|| format!("adding index `{}` to DynamoDB table `{}`", index.name, spec.name))
                        .await?;
                    wait_table_active(op, &spec.name).await?;
                }
            }
        }
        if found.ttl_attribute.as_deref() != Some(spec.ttl_attribute.as_str()) {
            set_ttl(op, spec, Some(found)).await?;
        }
        let what = format!("DynamoDB table `{}`", spec.name);
        retag(Tagged::Table(ddb, &found.arn), &what, &spec.tags, &found.tags).await
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        if matches!(found.status.as_str(), "CREATING" | "UPDATING") {
            wait_table_active(op, &found.name).await?;
        }
        let result = op.clients.dynamodb.delete_table().table_name(&found.name).send().await;
        if result.or_missing().aws_context(|| format!("deleting DynamoDB table `{}`", found.name))?.is_none() {
            return Ok(());
        }
        wait_table_deleted(op, &found.name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What AWS has for `spec` right after a deploy created it.
    fn found(spec: &Spec) -> Found {
        Found {
            name: spec.name.clone(),
            arn: spec.arn.clone(),
            billing_mode: "PAY_PER_REQUEST".into(),
            key_schema: spec.key_schema(),
            indexes: spec.index.iter().map(|i| (i.name.clone(), i.shown())).collect(),
            ttl_attribute: Some(spec.ttl_attribute.clone()),
            ttl_status: "ENABLED".into(),
            ttl_named: Some(spec.ttl_attribute.clone()),
            status: "ACTIVE".into(),
            tags: spec.tags.clone(),
        }
    }

    #[test]
    fn the_presence_table_is_keyed_by_key_and_part_and_expires() {
        let env = crate::resources::tests::shipped();
        let wants = Table::desired(&env, &Ids::default());
        let presence = wants.iter().find(|w| w.name == "presence").expect("always wanted");
        assert_eq!(presence.id.as_deref(), Some("wschat-dev-presence"));
        let spec = &presence.spec;
        assert_eq!(spec.key_schema(), "key HASH (S), part RANGE (N)");
        assert_eq!(spec.index, None);
        assert_eq!(spec.ttl_attribute, "expiresAt");
        assert_eq!(spec.arn, "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-dev-presence");
        assert_eq!(spec.tags, env.tags());
        let mut off = crate::resources::tests::shipped();
        off.stack.chat.history = None;
        assert!(Table::desired(&off, &Ids::default()).iter().any(|w| w.name == "presence"), "whatever history says");
    }

    #[test]
    fn the_stack_has_the_connections_table_the_delivery_ledger_and_the_messages() {
        let env = crate::resources::tests::shipped();
        let wants = Table::desired(&env, &Ids::default());
        let names: Vec<(&str, Option<&str>)> = wants.iter().map(|w| (w.name.as_str(), w.id.as_deref())).collect();
        assert_eq!(
            names,
            [
                ("connections", Some("wschat-dev-connections")),
                ("deliveries", Some("wschat-dev-deliveries")),
                ("messages", Some("wschat-dev-messages")),
                ("presence", Some("wschat-dev-presence"))
            ]
        );
        let connections = &wants[0].spec;
        assert_eq!(connections.key_schema(), "connectionId HASH (S)");
        assert_eq!(
            connections.index.as_ref().map(Index::shown).as_deref(),
            Some("room HASH (S), connectionId RANGE (S), projection ALL")
        );
        assert_eq!(connections.ttl_attribute, "expiresAt");
        assert_eq!(connections.arn, "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-dev-connections");
        let ledger = &wants[1].spec;
        assert_eq!(ledger.key_schema(), "shard HASH (S), part RANGE (N)");
        assert_eq!(ledger.index, None);
        assert_eq!(ledger.ttl_attribute, "expiresAt");
        assert_eq!(ledger.arn, "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-dev-deliveries");
        assert_eq!(ledger.tags, connections.tags);
        assert_eq!(ledger.tags, env.tags());
        let messages = &wants[2].spec;
        assert_eq!(messages.key_schema(), "conversation HASH (S), id RANGE (S)");
        assert_eq!(messages.index, None);
        assert_eq!(messages.ttl_attribute, "expiresAt");
        assert_eq!(messages.arn, "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-dev-messages");
        assert_eq!(messages.tags, env.tags());
    }

    #[test]
    fn history_off_wants_no_messages_table_but_discovery_still_looks_for_it() {
        let mut env = crate::resources::tests::shipped();
        env.stack.chat.history = None;
        let wants: Vec<String> = Table::desired(&env, &Ids::default()).into_iter().map(|w| w.name).collect();
        assert_eq!(wants, ["connections", "deliveries", "presence"]);
        // So that a table left from when it was on is found, and deleted.
        let looked_for: Vec<&str> = tables(&env).iter().map(|(name, _)| *name).collect();
        assert_eq!(looked_for, ["connections", "deliveries", "messages", "presence"]);
    }

    #[test]
    fn each_key_attribute_is_defined_once() {
        let env = crate::resources::tests::shipped();
        let defined = |spec: &Spec| -> Vec<(String, String)> {
            spec.attribute_definitions()
                .unwrap()
                .iter()
                .map(|d| (d.attribute_name().to_string(), d.attribute_type().as_str().to_string()))
                .collect()
        };
        let pair = |n: &str, t: &str| (n.to_string(), t.to_string());
        assert_eq!(defined(&spec(&env)), [pair("connectionId", "S"), pair("room", "S")]);
        assert_eq!(defined(&deliveries_spec(&env)), [pair("shard", "S"), pair("part", "N")]);
        assert_eq!(defined(&messages_spec(&env)), [pair("conversation", "S"), pair("id", "S")]);
        assert_eq!(defined(&presence_spec(&env)), [pair("key", "S"), pair("part", "N")]);
    }

    #[test]
    fn a_table_as_deployed_has_no_diff() {
        let env = crate::resources::tests::shipped();
        for spec in [spec(&env), deliveries_spec(&env), messages_spec(&env), presence_spec(&env)] {
            assert_eq!(Table::diff(&spec, &found(&spec)), Vec::new(), "{}", spec.name);
        }
    }

    #[test]
    fn the_ledger_wants_no_index_and_leaves_one_alone() {
        let env = crate::resources::tests::shipped();
        let ledger = deliveries_spec(&env);
        let mut extra = found(&ledger);
        extra.indexes.insert("by-hand".into(), "x HASH (S), projection ALL".into());
        assert_eq!(Table::diff(&ledger, &extra), Vec::new());
    }

    #[test]
    fn a_key_of_another_type_or_a_missing_index_is_a_difference() {
        let env = crate::resources::tests::shipped();
        let ledger = deliveries_spec(&env);
        let wrong = Found { key_schema: "shard HASH (S), part RANGE (S)".into(), ..found(&ledger) };
        assert_eq!(
            Table::diff(&ledger, &wrong),
            [FieldChange::new("key schema", "shard HASH (S), part RANGE (S)", "shard HASH (S), part RANGE (N)")]
        );
        let connections = spec(&env);
        let no_index = Found { indexes: BTreeMap::new(), ..found(&connections) };
        assert_eq!(
            Table::diff(&connections, &no_index),
            [FieldChange::new("index room-index", "(none)", "room HASH (S), connectionId RANGE (S), projection ALL")]
        );
    }

    #[test]
    fn found_keys_take_their_types_from_the_definitions() {
        let env = crate::resources::tests::shipped();
        let ledger = deliveries_spec(&env);
        let schema: Vec<KeySchemaElement> = ledger.keys.iter().map(|k| k.element().unwrap()).collect();
        let definitions = ledger.attribute_definitions().unwrap();
        assert_eq!(found_keys(&schema, &definitions), ledger.key_schema());
        assert_eq!(found_keys(&schema, &[]), "shard HASH (?), part RANGE (?)");
    }
}
