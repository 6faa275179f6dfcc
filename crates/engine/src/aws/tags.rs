//! Tags, as each service takes them, and bringing a resource's tags to what they should be.

use super::*;

/// A taggable resource, as its service's tagging calls name it.
#[derive(Debug, Clone, Copy)]
pub enum Tagged<'a> {
    /// A Lambda function, by ARN.
    Function(&'a aws_sdk_lambda::Client, &'a str),
    /// An SQS queue, by URL.
    Queue(&'a aws_sdk_sqs::Client, &'a str),
    /// An IAM role, by name.
    Role(&'a aws_sdk_iam::Client, &'a str),
    /// A DynamoDB table, by ARN.
    Table(&'a aws_sdk_dynamodb::Client, &'a str),
    /// A CloudWatch Logs log group, by ARN.
    LogGroup(&'a aws_sdk_cloudwatchlogs::Client, &'a str),
    /// An API Gateway API or stage, by ARN.
    ApiGateway(&'a aws_sdk_apigatewayv2::Client, &'a str),
    /// A CloudFront distribution, by ARN.
    Distribution(&'a aws_sdk_cloudfront::Client, &'a str),
    /// An ACM certificate, by ARN.
    Certificate(&'a aws_sdk_acm::Client, &'a str),
    /// An SNS topic, by ARN.
    Topic(&'a aws_sdk_sns::Client, &'a str),
    /// A CloudWatch alarm, by ARN.
    Alarm(&'a aws_sdk_cloudwatch::Client, &'a str),
}

/// Brings a resource's tags from `found` to `desired`: one call that sets
/// what differs and one that removes what should not be there, each made
/// only when needed. `what` names the resource in errors.
pub async fn retag(resource: Tagged<'_>, what: &str, desired: &Tags, found: &Tags) -> Result<()> {
    let changes = tag_changes(desired, found);
    let (tagging, untagging) = (|| format!("tagging {what}"), || format!("untagging {what}"));
    if !changes.set.is_empty() {
        let set = &changes.set;
        let map = || Some(tags_to_map(set));
        match resource {
            Tagged::Function(c, arn) => {
                c.tag_resource().resource(arn).set_tags(map()).send().done(tagging).await.map(drop)
            }
            Tagged::Queue(c, url) => c.tag_queue().queue_url(url).set_tags(map()).send().done(tagging).await.map(drop),
            Tagged::Role(c, name) => {
                c.tag_role().role_name(name).set_tags(Some(iam_tags(set)?)).send().done(tagging).await.map(drop)
            }
            Tagged::Table(c, arn) => c
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(dynamodb_tags(set)?))
                .send()
                .done(tagging)
                .await
                .map(drop),
            Tagged::LogGroup(c, arn) => {
                c.tag_resource().resource_arn(arn).set_tags(map()).send().done(tagging).await.map(drop)
            }
            Tagged::ApiGateway(c, arn) => {
                c.tag_resource().resource_arn(arn).set_tags(map()).send().done(tagging).await.map(drop)
            }
            Tagged::Distribution(c, arn) => {
                c.tag_resource().resource(arn).tags(cloudfront_tags(set)?).send().done(tagging).await.map(drop)
            }
            Tagged::Certificate(c, arn) => c
                .add_tags_to_certificate()
                .certificate_arn(arn)
                .set_tags(Some(acm_tags(set)?))
                .send()
                .done(tagging)
                .await
                .map(drop),
            Tagged::Topic(c, arn) => {
                c.tag_resource().resource_arn(arn).set_tags(Some(sns_tags(set)?)).send().done(tagging).await.map(drop)
            }
            Tagged::Alarm(c, arn) => c
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(cloudwatch_tags(set)?))
                .send()
                .done(tagging)
                .await
                .map(drop),
        }?;
    }
    if !changes.remove.is_empty() {
        let keys = Some(changes.remove);
        match resource {
            Tagged::Function(c, arn) => {
                c.untag_resource().resource(arn).set_tag_keys(keys).send().done(untagging).await.map(drop)
            }
            Tagged::Queue(c, url) => {
                c.untag_queue().queue_url(url).set_tag_keys(keys).send().done(untagging).await.map(drop)
            }
            Tagged::Role(c, name) => {
                c.untag_role().role_name(name).set_tag_keys(keys).send().done(untagging).await.map(drop)
            }
            Tagged::Table(c, arn) => {
                c.untag_resource().resource_arn(arn).set_tag_keys(keys).send().done(untagging).await.map(drop)
            }
            Tagged::LogGroup(c, arn) => {
                c.untag_resource().resource_arn(arn).set_tag_keys(keys).send().done(untagging).await.map(drop)
            }
            Tagged::ApiGateway(c, arn) => {
                c.untag_resource().resource_arn(arn).set_tag_keys(keys).send().done(untagging).await.map(drop)
            }
            Tagged::Distribution(c, arn) => {
                let keys = aws_sdk_cloudfront::types::TagKeys::builder().set_items(keys).build();
                c.untag_resource().resource(arn).tag_keys(keys).send().done(untagging).await.map(drop)
            }
            Tagged::Certificate(c, arn) => {
                let tags = keys
                    .into_iter()
                    .flatten()
                    .map(|k| aws_sdk_acm::types::Tag::builder().key(k).build().map_err(anyhow::Error::from))
                    .collect::<Result<Vec<_>>>()?;
                c.remove_tags_from_certificate()
                    .certificate_arn(arn)
                    .set_tags(Some(tags))
                    .send()
                    .done(untagging)
                    .await
                    .map(drop)
            }
            Tagged::Topic(c, arn) => {
                c.untag_resource().resource_arn(arn).set_tag_keys(keys).send().done(untagging).await.map(drop)
            }
            Tagged::Alarm(c, arn) => {
                c.untag_resource().resource_arn(arn).set_tag_keys(keys).send().done(untagging).await.map(drop)
            }
        }?;
    }
    Ok(())
}

/// Tags as SNS takes them.
pub fn sns_tags(tags: &Tags) -> Result<Vec<aws_sdk_sns::types::Tag>> {
    tags.iter()
        .map(|(k, v)| aws_sdk_sns::types::Tag::builder().key(k).value(v).build().map_err(anyhow::Error::from))
        .collect()
}

/// Tags as CloudWatch takes them.
pub fn cloudwatch_tags(tags: &Tags) -> Result<Vec<aws_sdk_cloudwatch::types::Tag>> {
    tags.iter().map(|(k, v)| Ok(aws_sdk_cloudwatch::types::Tag::builder().key(k).value(v).build())).collect()
}

/// Tags as IAM takes them.
pub fn iam_tags(tags: &Tags) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(anyhow::Error::from))
        .collect()
}

/// Tags as DynamoDB takes them.
pub fn dynamodb_tags(tags: &Tags) -> Result<Vec<aws_sdk_dynamodb::types::Tag>> {
    tags.iter()
        .map(|(k, v)| aws_sdk_dynamodb::types::Tag::builder().key(k).value(v).build().map_err(anyhow::Error::from))
        .collect()
}

/// Tags as ACM takes them.
pub fn acm_tags(tags: &Tags) -> Result<Vec<aws_sdk_acm::types::Tag>> {
    tags.iter()
        .map(|(k, v)| aws_sdk_acm::types::Tag::builder().key(k).value(v).build().map_err(anyhow::Error::from))
        .collect()
}

/// CloudFront's tags of a resource (`ListTagsForResource`), as a map.
pub fn from_cloudfront(tags: Option<aws_sdk_cloudfront::types::Tags>) -> Tags {
    tags.and_then(|t| t.items).unwrap_or_default().into_iter().map(|t| (t.key, t.value.unwrap_or_default())).collect()
}

/// Tags as CloudFront takes them.
pub fn cloudfront_tags(tags: &Tags) -> Result<aws_sdk_cloudfront::types::Tags> {
    let items = tags
        .iter()
        .map(|(k, v)| aws_sdk_cloudfront::types::Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(aws_sdk_cloudfront::types::Tags::builder().set_items(Some(items)).build())
}
