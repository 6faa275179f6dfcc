//! For tests and benchmarks that talk to moto with SDK clients of their own:
//! the SDK configuration, the connections table as `wschat deploy` creates
//! it, and a queue's attributes.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};

/// An SDK configuration for `endpoint` (a moto server, or a realism proxy in
/// front of one) with moto's test credentials and region.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials =
        aws_credential_types::Credentials::new(crate::ACCESS_KEY_ID, crate::SECRET_ACCESS_KEY, None, None, "moto");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(crate::REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .load()
        .await
}

/// The connections table `wschat deploy` creates: `connectionId` hash key,
/// and the `room_index` GSI (chat-core's `ROOM_INDEX`: hash `room`, range
/// `connectionId`, projection ALL).
pub async fn create_connections_table(client: &aws_sdk_dynamodb::Client, name: &str, room_index: &str) {
    let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
    let attribute = |name: &str| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(room_index)
        .key_schema(key("room", KeyType::Hash))
        .key_schema(key("connectionId", KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .unwrap();
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("connectionId"))
        .attribute_definitions(attribute("room"))
        .key_schema(key("connectionId", KeyType::Hash))
        .global_secondary_indexes(index)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating table {name}: {e:?}"));
}

/// Every attribute of the queue at `url` (`GetQueueAttributes` with `All`),
/// by name; panics, naming the queue, when SQS refuses.
pub async fn queue_attributes(sqs: &aws_sdk_sqs::Client, url: &str) -> std::collections::BTreeMap<String, String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap_or_else(|e| panic!("reading the attributes of {url}: {e:?}"));
    out.attributes.unwrap_or_default().into_iter().map(|(name, value)| (name.as_str().to_string(), value)).collect()
}
