//! The connections table: on-demand, `connectionId` hash key, the
//! `room-index` GSI (`room`, `connectionId`, all attributes), TTL on the
//! stack's TTL attribute.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, Tag, TimeToLiveSpecification,
};

use super::{Address, Env, FoundItem, Kind, Op, Tags, poll, tag_changes, tags_field};
use crate::aws::AwsContext;
use crate::plan::FieldChange;

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
    let described = match ddb.describe_table().table_name(&name).send().await {
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => return Ok(None),
        other => other.aws_context(|| format!("reading DynamoDB table `{name}`"))?,
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
                .await
                .aws_context(|| format!("reading the TTL of DynamoDB table `{name}`"))
        },
        async {
            ddb.list_tags_of_resource()
                .resource_arn(&arn)
                .send()
                .await
                .aws_context(|| format!("reading the tags of DynamoDB table `{name}`"))
        },
    )?;
    let ttl_attribute = ttl.time_to_live_description().and_then(|d| {
        let on = matches!(d.time_to_live_status().map(|s| s.as_str()), Some("ENABLED" | "ENABLING"));
        on.then(|| d.attribute_name().unwrap_or_default().to_string())
    });
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
        tags: tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
    };
    Ok(Some(FoundItem {
        address: Address::new(Kind::Table, "connections"),
        id: name,
        owner: None,
        found: super::Found::Table(found),
    }))
}

pub fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
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
        fields.push(FieldChange::new("ttl", found.ttl_attribute.as_deref().unwrap_or("(off)"), &spec.ttl_attribute));
    }
    fields.extend(tags_field(&spec.tags, &found.tags));
    fields
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

pub async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
    let (index_keys, projection) = room_index()?;
    let tags: Vec<Tag> =
        spec.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<_, _>>()?;
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
        .await
        .aws_context(|| format!("creating DynamoDB table `{}`", spec.name))?;
    wait_table_active(op, &spec.name).await?;
    set_ttl(op, spec, None).await?;
    Ok(spec.name.clone())
}

pub async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
    let ddb = &op.clients.dynamodb;
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
            .await
            .aws_context(|| format!("switching DynamoDB table `{}` to on-demand", spec.name))?;
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
                .await
                .aws_context(|| format!("adding index `{}` to DynamoDB table `{}`", spec.index, spec.name))?;
            wait_table_active(op, &spec.name).await?;
        }
    }
    if found.ttl_attribute.as_deref() != Some(spec.ttl_attribute.as_str()) {
        set_ttl(op, spec, found.ttl_attribute.as_deref()).await?;
    }
    let tags = tag_changes(&spec.tags, &found.tags);
    if !tags.set.is_empty() {
        let set: Vec<Tag> =
            tags.set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<_, _>>()?;
        ddb.tag_resource()
            .resource_arn(&found.arn)
            .set_tags(Some(set))
            .send()
            .await
            .aws_context(|| format!("tagging DynamoDB table `{}`", spec.name))?;
    }
    if !tags.remove.is_empty() {
        ddb.untag_resource()
            .resource_arn(&found.arn)
            .set_tag_keys(Some(tags.remove))
            .send()
            .await
            .aws_context(|| format!("untagging DynamoDB table `{}`", spec.name))?;
    }
    Ok(())
}

/// Turns TTL on for the spec's attribute, first off for another one.
async fn set_ttl(op: &Op<'_>, spec: &Spec, current: Option<&str>) -> Result<()> {
    let ddb = &op.clients.dynamodb;
    if let Some(old) = current {
        ddb.update_time_to_live()
            .table_name(&spec.name)
            .time_to_live_specification(TimeToLiveSpecification::builder().enabled(false).attribute_name(old).build()?)
            .send()
            .await
            .aws_context(|| {
                format!(
                    "turning off TTL on `{old}` of DynamoDB table `{}` (AWS allows one TTL change per hour)",
                    spec.name
                )
            })?;
    }
    ddb.update_time_to_live()
        .table_name(&spec.name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().enabled(true).attribute_name(&spec.ttl_attribute).build()?,
        )
        .send()
        .await
        .aws_context(|| format!("turning on TTL on `{}` of DynamoDB table `{}`", spec.ttl_attribute, spec.name))?;
    Ok(())
}

pub async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
    let result = op.clients.dynamodb.delete_table().table_name(&found.name).send().await;
    match result {
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => return Ok(()),
        other => other.map(drop).aws_context(|| format!("deleting DynamoDB table `{}`", found.name))?,
    }
    wait_table_deleted(op, &found.name).await
}

/// Waits until the table and its indexes are ACTIVE (creating an index on a
/// full table backfills it, which can take minutes).
pub async fn wait_table_active(op: &Op<'_>, name: &str) -> Result<()> {
    let what = format!("waiting for DynamoDB table `{name}` to become ACTIVE");
    poll(op.task, &what, Duration::from_secs(600), || async {
        let described = op
            .clients
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .aws_context(|| format!("reading DynamoDB table `{name}`"))?;
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
        match op.clients.dynamodb.describe_table().table_name(name).send().await {
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(Some(())),
            other => other.aws_context(|| format!("reading DynamoDB table `{name}`")).map(|_| None),
        }
    })
    .await
}
