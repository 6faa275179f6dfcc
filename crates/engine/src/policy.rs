//! The IAM policy a deployer (a CI role) needs to run `plan`, `deploy`,
//! `status`, `logs` and `destroy` for one stack and stage, and nothing more:
//! `wschat policy` prints it.
//!
//! Every action is one wschat calls (the deploy tests' completeness test
//! runs a stack's whole life through the realism proxy, maps each call to
//! its IAM action and checks this policy allows it). Resources are the
//! stack's own ARNs, from the same names the resources are made with.
//! Where AWS cannot scope an action to a resource, or wschat cannot know a
//! resource's id before AWS assigns it, the statement says why ([`WHY`]).
//!
//! The actions, their resource types and condition keys are those of the
//! Service Authorization Reference ("Actions, resources, and condition keys
//! for ..."), service by service:
//! <https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html>.

use serde_json::{Value, json};
use wschat_stack::Stack;

/// Whether an action only reads (`--read-only` keeps these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}
use Access::{Read, Write};

/// One statement of the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Alphanumeric, as IAM requires of a `Sid`.
    pub sid: &'static str,
    pub actions: Vec<&'static str>,
    pub resources: Vec<String>,
    pub condition: Option<Value>,
    /// Why the statement's resources are broader than the stack's own
    /// names; `None` when they are exactly those.
    pub why: Option<&'static str>,
}

/// The statements whose resources are not the stack's own names, and why:
/// the documented list `wschat policy` prints on stderr and the guide repeats.
pub const WHY: &[(&str, &str)] = &[
    (
        "Unscoped",
        "these actions take no resource (the Service Authorization Reference lists no resource type for them): \
         the lists wschat reads to find the stack's resources, ACM's RequestCertificate and CloudWatch's GetMetricData",
    ),
    (
        "CreateQueueMappings",
        "CreateEventSourceMapping takes no resource; the condition on lambda:FunctionArn keeps it to the stack's functions",
    ),
    (
        "LogGroupListing",
        "logs:DescribeLogGroups is granted on the account's log groups in the region (log-group:*), \
         the form CloudWatch Logs requires for a listing",
    ),
    ("QueueMappings", "a queue mapping's id is a UUID Lambda assigns: its ARN is not known before it exists"),
    ("ApiGateway", "API Gateway assigns the API's id: the APIs and their tags in the region, by API Gateway's paths"),
    ("CloudFront", "CloudFront assigns the ids of distributions and origin access controls"),
    ("Certificates", "ACM assigns the ids of certificates, in the stack's region and us-east-1 (CloudFront's)"),
];

/// Where the stack is: its partition, region and account, and the hosted
/// zone's id with `domain.zone`.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub stack: &'a Stack,
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub zone_id: Option<&'a str>,
}

/// A statement before `--read-only` picks its actions.
struct Grant {
    sid: &'static str,
    actions: Vec<(&'static str, Access)>,
    resources: Vec<String>,
    condition: Option<Value>,
}

fn grant(sid: &'static str, actions: &[(&'static str, Access)], resources: Vec<String>) -> Grant {
    Grant { sid, actions: actions.to_vec(), resources, condition: None }
}

/// The policy's statements for `target`; with `read_only`, only what `plan`,
/// `status` (and `status --metrics`) and `logs` read.
pub fn statements(target: &Target, read_only: bool) -> Vec<Statement> {
    let Target { stack, partition: p, region: r, account: a, zone_id } = *target;
    let arns = stack.arns(p, r, a);
    let prefix = stack.prefix();
    let mut grants = vec![
        // IAM: the functions' roles, under the stack's own path.
        grant(
            "Roles",
            &[
                ("iam:GetRole", Read),
                ("iam:GetRolePolicy", Read),
                ("iam:ListRolePolicies", Read),
                ("iam:ListAttachedRolePolicies", Read),
                ("iam:CreateRole", Write),
                ("iam:DeleteRole", Write),
                ("iam:TagRole", Write),
                ("iam:UntagRole", Write),
                ("iam:UpdateAssumeRolePolicy", Write),
                ("iam:PutRolePolicy", Write),
                ("iam:DeleteRolePolicy", Write),
                ("iam:DetachRolePolicy", Write),
            ],
            vec![format!("arn:{p}:iam::{a}:role{}*", stack.role_path())],
        ),
        Grant {
            condition: Some(json!({ "StringEquals": { "iam:PassedToService": "lambda.amazonaws.com" } })),
            ..grant(
                "PassRolesToLambda",
                &[("iam:PassRole", Write)],
                vec![format!("arn:{p}:iam::{a}:role{}*", stack.role_path())],
            )
        },
        grant(
            "Functions",
            &[
                ("lambda:GetFunction", Read),
                ("lambda:GetFunctionConfiguration", Read),
                ("lambda:GetPolicy", Read),
                ("lambda:ListTags", Read),
                ("lambda:CreateFunction", Write),
                ("lambda:DeleteFunction", Write),
                ("lambda:UpdateFunctionCode", Write),
                ("lambda:UpdateFunctionConfiguration", Write),
                ("lambda:AddPermission", Write),
                ("lambda:RemovePermission", Write),
                ("lambda:TagResource", Write),
                ("lambda:UntagResource", Write),
            ],
            vec![format!("arn:{p}:lambda:{r}:{a}:function:{prefix}-*")],
        ),
        grant(
            "QueueMappings",
            &[
                ("lambda:GetEventSourceMapping", Read),
                ("lambda:UpdateEventSourceMapping", Write),
                ("lambda:DeleteEventSourceMapping", Write),
            ],
            vec![format!("arn:{p}:lambda:{r}:{a}:event-source-mapping:*")],
        ),
        Grant {
            condition: Some(
                json!({ "ArnLike": { "lambda:FunctionArn": format!("arn:{p}:lambda:{r}:{a}:function:{prefix}-*") } }),
            ),
            ..grant("CreateQueueMappings", &[("lambda:CreateEventSourceMapping", Write)], vec!["*".into()])
        },
        grant(
            "Tables",
            &[
                ("dynamodb:DescribeTable", Read),
                ("dynamodb:DescribeTimeToLive", Read),
                ("dynamodb:ListTagsOfResource", Read),
                ("dynamodb:Query", Read),
                ("dynamodb:CreateTable", Write),
                ("dynamodb:DeleteTable", Write),
                ("dynamodb:UpdateTable", Write),
                ("dynamodb:UpdateTimeToLive", Write),
                ("dynamodb:TagResource", Write),
                ("dynamodb:UntagResource", Write),
            ],
            [arns.table(), arns.deliveries_table(), arns.messages_table(), arns.presence_table()]
                .into_iter()
                .flat_map(|t| [format!("{t}/index/*"), t])
                .collect(),
        ),
        grant(
            "Queues",
            &[
                ("sqs:GetQueueAttributes", Read),
                ("sqs:GetQueueUrl", Read),
                ("sqs:ListQueueTags", Read),
                ("sqs:CreateQueue", Write),
                ("sqs:DeleteQueue", Write),
                ("sqs:SetQueueAttributes", Write),
                ("sqs:TagQueue", Write),
                ("sqs:UntagQueue", Write),
            ],
            vec![arns.queue(), arns.dlq()],
        ),
        grant(
            "LogGroups",
            &[
                ("logs:ListTagsForResource", Read),
                ("logs:FilterLogEvents", Read),
                ("logs:StartLiveTail", Read),
                ("logs:CreateLogGroup", Write),
                ("logs:DeleteLogGroup", Write),
                ("logs:PutRetentionPolicy", Write),
                ("logs:TagResource", Write),
                ("logs:UntagResource", Write),
            ],
            vec![format!("arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{prefix}-*")],
        ),
        grant(
            "LogGroupListing",
            &[("logs:DescribeLogGroups", Read)],
            vec![format!("arn:{p}:logs:{r}:{a}:log-group:*")],
        ),
        grant(
            "Bucket",
            &[
                ("s3:ListBucket", Read),
                ("s3:ListBucketVersions", Read),
                ("s3:GetBucketTagging", Read),
                ("s3:GetEncryptionConfiguration", Read),
                ("s3:GetBucketPolicy", Read),
                ("s3:GetBucketPublicAccessBlock", Read),
                ("s3:GetBucketOwnershipControls", Read),
                ("s3:CreateBucket", Write),
                ("s3:DeleteBucket", Write),
                ("s3:PutBucketTagging", Write),
                ("s3:PutEncryptionConfiguration", Write),
                ("s3:PutBucketPolicy", Write),
                ("s3:DeleteBucketPolicy", Write),
                ("s3:PutBucketPublicAccessBlock", Write),
                ("s3:PutBucketOwnershipControls", Write),
            ],
            vec![format!("arn:{p}:s3:::{}", stack.bucket_name(a, r))],
        ),
        grant(
            "SiteFiles",
            &[("s3:PutObject", Write), ("s3:DeleteObject", Write), ("s3:DeleteObjectVersion", Write)],
            vec![format!("arn:{p}:s3:::{}/*", stack.bucket_name(a, r))],
        ),
        // API Gateway's actions are its HTTP methods on its paths
        // ("Actions defined by Amazon API Gateway Management V2").
        grant(
            "ApiGateway",
            &[
                ("apigateway:GET", Read),
                ("apigateway:POST", Write),
                ("apigateway:PUT", Write),
                ("apigateway:PATCH", Write),
                ("apigateway:DELETE", Write),
            ],
            ["/apis", "/apis/*", "/tags/*"].iter().map(|path| format!("arn:{p}:apigateway:{r}::{path}")).collect(),
        ),
        grant(
            "CloudFront",
            &[
                ("cloudfront:GetDistribution", Read),
                ("cloudfront:GetDistributionConfig", Read),
                ("cloudfront:ListTagsForResource", Read),
                ("cloudfront:GetOriginAccessControl", Read),
                ("cloudfront:CreateDistribution", Write),
                ("cloudfront:UpdateDistribution", Write),
                ("cloudfront:DeleteDistribution", Write),
                ("cloudfront:TagResource", Write),
                ("cloudfront:UntagResource", Write),
                ("cloudfront:CreateInvalidation", Write),
                ("cloudfront:CreateOriginAccessControl", Write),
                ("cloudfront:UpdateOriginAccessControl", Write),
                ("cloudfront:DeleteOriginAccessControl", Write),
            ],
            vec![
                format!("arn:{p}:cloudfront::{a}:distribution/*"),
                format!("arn:{p}:cloudfront::{a}:origin-access-control/*"),
            ],
        ),
        grant(
            "Alarms",
            &[
                ("cloudwatch:DescribeAlarms", Read),
                ("cloudwatch:ListTagsForResource", Read),
                ("cloudwatch:PutMetricAlarm", Write),
                ("cloudwatch:DeleteAlarms", Write),
                ("cloudwatch:TagResource", Write),
                ("cloudwatch:UntagResource", Write),
            ],
            vec![format!("arn:{p}:cloudwatch:{r}:{a}:alarm:{}*", stack.alarm_name(""))],
        ),
        grant(
            "Dashboard",
            &[
                ("cloudwatch:GetDashboard", Read),
                ("cloudwatch:PutDashboard", Write),
                ("cloudwatch:DeleteDashboards", Write),
            ],
            vec![format!("arn:{p}:cloudwatch::{a}:dashboard/{}", stack.dashboard_name())],
        ),
        grant(
            "AlarmTopic",
            &[
                ("sns:GetTopicAttributes", Read),
                ("sns:ListSubscriptionsByTopic", Read),
                ("sns:ListTagsForResource", Read),
                ("sns:CreateTopic", Write),
                ("sns:DeleteTopic", Write),
                ("sns:Subscribe", Write),
                ("sns:Unsubscribe", Write),
                ("sns:TagResource", Write),
                ("sns:UntagResource", Write),
            ],
            vec![arns.alarm_topic()],
        ),
    ];
    let mut unscoped = vec![
        ("iam:ListRoles", Read),
        ("lambda:ListFunctions", Read),
        ("lambda:ListEventSourceMappings", Read),
        ("sqs:ListQueues", Read),
        ("cloudfront:ListDistributions", Read),
        ("cloudfront:ListOriginAccessControls", Read),
        ("cloudwatch:GetMetricData", Read),
        ("tag:GetResources", Read),
    ];
    if let Some(domain) = &stack.domain {
        let ws = domain.websocket_name();
        grants.push(grant(
            "ApiGatewayDomain",
            &[
                ("apigateway:GET", Read),
                ("apigateway:POST", Write),
                ("apigateway:PATCH", Write),
                ("apigateway:DELETE", Write),
            ],
            ["/domainnames".to_string(), format!("/domainnames/{ws}"), format!("/domainnames/{ws}/*")]
                .iter()
                .map(|path| format!("arn:{p}:apigateway:{r}::{path}"))
                .collect(),
        ));
        let mut regions = vec![r.to_string(), crate::resources::certificate::CLOUDFRONT_REGION.to_string()];
        regions.dedup();
        grants.push(grant(
            "Certificates",
            &[
                ("acm:DescribeCertificate", Read),
                ("acm:ListTagsForCertificate", Read),
                ("acm:DeleteCertificate", Write),
                ("acm:AddTagsToCertificate", Write),
                ("acm:RemoveTagsFromCertificate", Write),
            ],
            regions.iter().map(|region| format!("arn:{p}:acm:{region}:{a}:certificate/*")).collect(),
        ));
        unscoped.extend([("acm:ListCertificates", Read), ("acm:RequestCertificate", Write)]);
        if let Some(zone) = zone_id {
            unscoped.push(("route53:ListHostedZonesByName", Read));
            grants.push(grant(
                "DnsRecords",
                &[("route53:ListResourceRecordSets", Read), ("route53:ChangeResourceRecordSets", Write)],
                vec![format!("arn:{p}:route53:::hostedzone/{zone}")],
            ));
        }
    }
    grants.insert(0, grant("Unscoped", &unscoped, vec!["*".to_string()]));
    grants
        .into_iter()
        .filter_map(|g| {
            let actions: Vec<&'static str> =
                g.actions.iter().filter(|(_, access)| !read_only || *access == Read).map(|(a, _)| *a).collect();
            (!actions.is_empty()).then(|| Statement {
                sid: g.sid,
                actions,
                resources: g.resources,
                condition: g.condition,
                why: WHY.iter().find(|(sid, _)| *sid == g.sid).map(|(_, why)| *why),
            })
        })
        .collect()
}

/// The policy document: IAM's JSON, as `aws iam put-role-policy` takes it.
pub fn document(statements: &[Statement]) -> Value {
    let statements: Vec<Value> = statements
        .iter()
        .map(|s| {
            let mut statement = json!({
                "Sid": s.sid,
                "Effect": "Allow",
                "Action": s.actions,
                "Resource": if s.resources.len() == 1 { json!(s.resources[0]) } else { json!(s.resources) },
            });
            if let Some(condition) = &s.condition {
                statement["Condition"] = condition.clone();
            }
            statement
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_unique_and_alphanumeric_and_read_only_keeps_only_reads() {
        let env = crate::resources::tests::shipped();
        let target =
            Target { stack: &env.stack, partition: "aws", region: "eu-west-1", account: "123456789012", zone_id: None };
        let all = statements(&target, false);
        let sids: std::collections::BTreeSet<&str> = all.iter().map(|s| s.sid).collect();
        assert_eq!(sids.len(), all.len(), "a Sid twice");
        assert!(sids.iter().all(|s| s.chars().all(|c| c.is_ascii_alphanumeric())), "{sids:?}");
        let read = statements(&target, true);
        let reads: Vec<&str> = read.iter().flat_map(|s| s.actions.clone()).collect();
        assert!(reads.contains(&"lambda:GetFunction") && reads.contains(&"logs:FilterLogEvents"));
        assert!(!reads.iter().any(|a| a.contains("Create") || a.contains("Delete") || a.contains("Put")), "{reads:?}");
        assert!(read.iter().all(|s| s.sid != "PassRolesToLambda"));
        let doc = document(&all);
        let roles = doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "Roles").unwrap();
        assert_eq!(roles["Resource"], "arn:aws:iam::123456789012:role/wschat/wschat/dev/*");
        // Only `Unscoped` and the mapping's create are granted on "*".
        let star: Vec<&str> = all.iter().filter(|s| s.resources.iter().any(|r| r == "*")).map(|s| s.sid).collect();
        assert_eq!(star, ["Unscoped", "CreateQueueMappings"]);
    }
}
