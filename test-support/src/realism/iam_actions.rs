//! The IAM action each call the proxy logs needs: what a deployer's policy
//! must allow for it (Service Authorization Reference, "Actions, resources,
//! and condition keys for ..."; each service's API reference names the
//! permission where it differs from the operation).

/// The IAM actions `operation` of `service` (as [`super::Record`] names
/// them) is authorized against; none for the calls that need no permission.
pub fn iam_actions(service: &str, operation: &str) -> Vec<String> {
    let one = |prefix: &str, action: &str| vec![format!("{prefix}:{action}")];
    match (service, operation) {
        // STS API Reference, GetCallerIdentity: "No permissions are required
        // to perform this operation."
        ("sts", "GetCallerIdentity") => Vec::new(),
        // API Gateway's IAM actions are its HTTP methods (Service
        // Authorization Reference, "Amazon API Gateway Management V2").
        ("apigateway", op) => one("apigateway", apigateway_method(op)),
        // Amazon S3 User Guide, "Required permissions for Amazon S3 API operations".
        ("s3", "HeadBucket" | "ListObjectsV2" | "ListObjects") => one("s3", "ListBucket"),
        ("s3", "ListObjectVersions") => one("s3", "ListBucketVersions"),
        ("s3", "PutBucketEncryption") => one("s3", "PutEncryptionConfiguration"),
        ("s3", "GetBucketEncryption") => one("s3", "GetEncryptionConfiguration"),
        ("s3", "DeleteObjects") => one("s3", "DeleteObject"),
        ("s3", "HeadObject") => one("s3", "GetObject"),
        ("s3", "GetPublicAccessBlock") => one("s3", "GetBucketPublicAccessBlock"),
        ("s3", "PutPublicAccessBlock") => one("s3", "PutBucketPublicAccessBlock"),
        // CloudFront API Reference, CreateDistributionWithTags: both.
        ("cloudfront", "CreateDistributionWithTags") => {
            vec!["cloudfront:CreateDistribution".into(), "cloudfront:TagResource".into()]
        }
        // A function is created (and may be updated) with its role: Lambda
        // Developer Guide, "Lambda execution role": the caller needs
        // iam:PassRole on it.
        ("lambda", "CreateFunction") => {
            vec!["lambda:CreateFunction".into(), "lambda:TagResource".into(), "iam:PassRole".into()]
        }
        ("lambda", "UpdateFunctionConfiguration") => {
            vec!["lambda:UpdateFunctionConfiguration".into(), "iam:PassRole".into()]
        }
        // Tags given on create need the tagging action too (IAM User Guide,
        // "Permissions to tag on create"; each service's create page says so).
        ("dynamodb", "CreateTable") => vec!["dynamodb:CreateTable".into(), "dynamodb:TagResource".into()],
        ("sqs", "CreateQueue") => vec!["sqs:CreateQueue".into(), "sqs:TagQueue".into()],
        ("iam", "CreateRole") => vec!["iam:CreateRole".into(), "iam:TagRole".into()],
        ("logs", "CreateLogGroup") => vec!["logs:CreateLogGroup".into(), "logs:TagResource".into()],
        ("sns", "CreateTopic") => vec!["sns:CreateTopic".into(), "sns:TagResource".into()],
        ("acm", "RequestCertificate") => vec!["acm:RequestCertificate".into(), "acm:AddTagsToCertificate".into()],
        ("monitoring", "PutMetricAlarm") => vec!["cloudwatch:PutMetricAlarm".into(), "cloudwatch:TagResource".into()],
        ("monitoring", op) => one("cloudwatch", op),
        ("tagging", op) => one("tag", op),
        (service, op) => one(service, op),
    }
}

/// The HTTP method of an API Gateway V2 operation: GET reads, POST creates
/// (and tags), PATCH updates, DELETE deletes (and untags), PUT reimports.
fn apigateway_method(operation: &str) -> &'static str {
    match operation {
        "TagResource" => "POST",
        "UntagResource" => "DELETE",
        op if op.starts_with("Get") => "GET",
        op if op.starts_with("Create") => "POST",
        op if op.starts_with("Update") => "PATCH",
        op if op.starts_with("Delete") => "DELETE",
        _ => "PUT",
    }
}

#[cfg(test)]
mod tests {
    use super::iam_actions;

    #[test]
    fn calls_map_to_the_actions_iam_checks() {
        assert_eq!(iam_actions("lambda", "GetFunction"), ["lambda:GetFunction"]);
        assert!(iam_actions("lambda", "CreateFunction").contains(&"iam:PassRole".to_string()));
        assert_eq!(iam_actions("monitoring", "DescribeAlarms"), ["cloudwatch:DescribeAlarms"]);
        assert_eq!(
            iam_actions("monitoring", "PutMetricAlarm"),
            ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"]
        );
        assert_eq!(iam_actions("apigateway", "UpdateRoute"), ["apigateway:PATCH"]);
        assert_eq!(iam_actions("apigateway", "GetApis"), ["apigateway:GET"]);
        assert_eq!(iam_actions("s3", "HeadBucket"), ["s3:ListBucket"]);
        assert_eq!(iam_actions("tagging", "GetResources"), ["tag:GetResources"]);
        assert!(iam_actions("sts", "GetCallerIdentity").is_empty());
    }
}
