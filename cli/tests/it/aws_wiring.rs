//! `aws.rs` against a real moto server: the endpoint override reaches the
//! clients, and the call log counts what went over the wire.

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use test_support::Moto;
use wschat_engine::aws::{Aws, AwsTarget};

/// An `Aws` pointed at `moto` with its test credentials.
pub async fn aws_for(moto: &Moto) -> Aws {
    aws_at(&moto.endpoint()).await
}

/// An `Aws` pointed at `endpoint` (moto, or the realism proxy in front of it)
/// with moto's test credentials.
pub async fn aws_at(endpoint: &str) -> Aws {
    let target = AwsTarget {
        region: Some(test_support::REGION.into()),
        profile: None,
        endpoint_url: Some(endpoint.to_string()),
        credentials: Some(aws_credential_types::Credentials::from_keys(
            test_support::ACCESS_KEY_ID,
            test_support::SECRET_ACCESS_KEY,
            None,
        )),
    };
    Aws::load(&target).await.expect("loading AWS config for moto")
}

#[tokio::test]
async fn creates_and_reads_back_a_dynamodb_table_on_moto() {
    let moto = Moto::shared();
    let aws = aws_for(&moto).await;
    let ddb = aws.dynamodb();
    let name = "aws-wiring-connections";
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("connectionId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("connectionId").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .expect("creating the table on moto");
    let table = ddb.describe_table().table_name(name).send().await.unwrap().table.unwrap();
    assert_eq!(table.table_name(), Some(name));
    assert_eq!(table.billing_mode_summary().and_then(|b| b.billing_mode()), Some(&BillingMode::PayPerRequest));
    assert_eq!(table.key_schema()[0].attribute_name(), "connectionId");

    assert_eq!(aws.account_id().await.unwrap(), test_support::ACCOUNT_ID);
    let ops: Vec<String> = aws.calls().all().into_iter().map(|c| c.operation).collect();
    assert_eq!(ops, ["CreateTable", "DescribeTable", "GetCallerIdentity"]);
    assert_eq!(aws.calls().mutating().len(), 1);
}

#[tokio::test]
async fn s3_uses_path_style_against_an_endpoint_override() {
    let moto = Moto::shared();
    let aws = aws_for(&moto).await;
    // Virtual-hosted style would resolve `aws-wiring-bucket.127.0.0.1`, which does not exist.
    aws.s3().create_bucket().bucket("aws-wiring-bucket").send().await.expect("creating a bucket on moto");
    let buckets = aws.s3().list_buckets().send().await.unwrap();
    assert!(buckets.buckets().iter().any(|b| b.name() == Some("aws-wiring-bucket")));
}

/// Without credentials, and with an endpoint nobody listens on, `wschat plan`
/// fails fast with exit 1 and says which of the two it is and what to do.
#[test]
fn missing_credentials_and_an_unreachable_endpoint_get_different_advice() {
    let root = crate::support::root();
    let no_credentials = crate::support::wschat(&root)
        .args(["plan", "--region", "us-east-1"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&no_credentials.stderr);
    assert_eq!(no_credentials.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("check your AWS credentials"), "{stderr}");
    assert!(stderr.contains("no credentials found"), "{stderr}");

    // A port that was free a moment ago: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = crate::support::wschat(&root)
        .args(["plan", "--region", "us-east-1", "--endpoint-url", &format!("http://127.0.0.1:{port}")])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert_eq!(unreachable.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("AWS could not be reached; check the network, --region and --endpoint-url"), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("WARN"), "aws-config's chain warnings stay out of the default output: {stderr}");
}
