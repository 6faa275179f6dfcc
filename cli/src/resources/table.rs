//! The connections table: on-demand, `connectionId` hash key, the
//! `room-index` GSI (`room`, `connectionId`, all attributes), TTL on the
//! stack's TTL attribute.

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

/// The hash key of the table, and the range key of the room index.
pub const CONNECTION_ID: &str = "connectionId";
/// The hash key of the room index.
pub const ROOM: &str = "room";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub index: String,
    pub ttl_attribute: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub arn: String,
    pub billing_mode: String,
    /// `connectionId HASH`, as written by [`keys`].
    pub key_schema: String,
    /// The room index's keys and projection, if the index exists.
    pub index: Option<String>,
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

pub fn spec(env: &Env) -> Spec {
    Spec {
        name: env.stack.table_name(),
        index: env.stack.room_index_name().to_string(),
        ttl_attribute: env.stack.table.ttl_attribute.clone(),
        tags: env.tags(),
    }
}

fn want_key_schema() -> String {
    format!("{CONNECTION_ID} HASH")
}

fn want_index() -> String {
    format!("{ROOM} HASH, {CONNECTION_ID} RANGE, projection ALL")
}

fn keys(schema: &[KeySchemaElement]) -> String {
    schema.iter().map(|k| format!("{} {}", k.attribute_name(), k.key_type().as_str())).collect::<Vec<_>>().join(", ")
}

pub async fn find_table(clients: &super::Clients, env: &Env) -> Result<Option<FoundItem>> {
    let name = env.stack.table_name();
    let ddb = &clients.dynamodb;
    let Some(described) =
        ddb.describe_table().table_name(&name).send().found(|| format!("reading DynamoDB table `{name}`")).await?
    else {
        return Ok(None);
    };
    let Some(table) = described.table else { return Ok(None) };
    if table.table_status() == Some(&TableStatus::Deleting) {
        return Ok(None);
    }
    let arn = table.table_arn().map(str::to_string).unwrap_or_else(|| env.arns().table());
    let (ttl, tags) = tokio::try_join!(
        async {
            ddb.describe_time_to_live()
                .table_name(&name)
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
    let index = env.stack.room_index_name();
    let found = Found {
        name: name.clone(),
        arn,
        billing_mode: table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map_or("PROVISIONED".to_string(), |b| b.as_str().to_string()),
        key_schema: keys(table.key_schema()),
        index: table.global_secondary_indexes().iter().find(|i| i.index_name() == Some(index)).map(|i| {
            let projection = i.projection().and_then(|p| p.projection_type()).map_or("?", |p| p.as_str()).to_string();
            format!("{}, projection {projection}", keys(i.key_schema()))
        }),
        ttl_attribute,
        ttl_status,
        ttl_named,
        status: table.table_status().map_or("ACTIVE", |s| s.as_str()).to_string(),
        tags: tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
    };
    Ok(Some(FoundItem::new("connections", name, None, super::Found::Table(found))))
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

fn attribute(name: &str) -> Result<AttributeDefinition> {
    Ok(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()?)
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement> {
    Ok(KeySchemaElement::builder().attribute_name(name).key_type(key_type).build()?)
}

/// The room index's keys and projection.
fn room_index() -> Result<(Vec<KeySchemaElement>, Projection)> {
    Ok((
        vec![key(ROOM, KeyType::Hash)?, key(CONNECTION_ID, KeyType::Range)?],
        Projection::builder().projection_type(ProjectionType::All).build(),
    ))
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

/// The connections table.
pub struct Table;

impl Resource for Table {
    type Spec = Spec;
    type Found = Found;

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        vec![Want::new("connections", env.stack.table_name(), spec(env))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.billing_mode != "PAY_PER_REQUEST" {
            fields.push(FieldChange::new("billing mode", &found.billing_mode, "PAY_PER_REQUEST"));
        }
        if found.key_schema != want_key_schema() {
            fields.push(FieldChange::new("key schema", &found.key_schema, want_key_schema()));
        }
        if found.index.as_deref() != Some(want_index().as_str()) {
            fields.push(FieldChange::new(
                format!("index {}", spec.index),
                found.index.as_deref().unwrap_or("(none)"),
                want_index(),
            ));
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
        let (index_keys, projection) = room_index()?;
        let tags = crate::aws::dynamodb_tags(&spec.tags)?;
        op.clients
            .dynamodb
            .create_table()
            .table_name(&spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(CONNECTION_ID)?)
            .attribute_definitions(attribute(ROOM)?)
            .key_schema(key(CONNECTION_ID, KeyType::Hash)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&spec.index)
                    .set_key_schema(Some(index_keys))
                    .projection(projection)
                    .build()?,
            )
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
        if found.key_schema != want_key_schema() {
            anyhow::bail!(
                "DynamoDB table `{}` has key schema `{}`, but wschat needs `{}`; a key schema cannot change in place: \
                 move the table's data aside and delete it, then deploy again",
                spec.name,
                found.key_schema,
                want_key_schema()
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
        match &found.index {
            Some(index) if *index != want_index() => anyhow::bail!(
                "index `{}` of DynamoDB table `{}` is `{index}`, but wschat needs `{}`; delete the index \
                 (aws dynamodb update-table --table-name {} --global-secondary-index-updates '[{{\"Delete\":{{\"IndexName\":\"{}\"}}}}]') and deploy again",
                spec.index,
                spec.name,
                want_index(),
                spec.name,
                spec.index
            ),
            Some(_) => {}
            None => {
                let (index_keys, projection) = room_index()?;
                ddb.update_table()
                    .table_name(&spec.name)
                    .attribute_definitions(attribute(CONNECTION_ID)?)
                    .attribute_definitions(attribute(ROOM)?)
                    .global_secondary_index_updates(
                        GlobalSecondaryIndexUpdate::builder()
                            .create(
                                CreateGlobalSecondaryIndexAction::builder()
                                    .index_name(&spec.index)
                                    .set_key_schema(Some(index_keys))
                                    .projection(projection)
                                    .build()?,
                            )
                            .build(),
                    )
                    .send()
                    .done(|| format!("adding index `{}` to DynamoDB table `{}`", spec.index, spec.name))
                    .await?;
                wait_table_active(op, &spec.name).await?;
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
