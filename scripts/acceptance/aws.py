"""The AWS side of scripts/acceptance-aws, with boto3 and the standard credential chain.

    .venv/bin/python scripts/acceptance/aws.py region
    .venv/bin/python scripts/acceptance/aws.py identity
    .venv/bin/python scripts/acceptance/aws.py leftovers --name NAME --stage STAGE --region REGION [--wait SECONDS]

`region` prints the region the AWS config names (no AWS call); `identity`
prints `ACCOUNT ARN REGION` from STS, or says why there are no usable
credentials; `leftovers` lists whatever of stack NAME, stage STAGE still
exists and exits 1 if anything does.

`leftovers` asks the Resource Groups Tagging API for everything tagged
wschat:stack=NAME and wschat:stage=STAGE (in the region, and in us-east-1,
where CloudFront's tags live), and confirms each hit with the resource's own
service, because that API also returns resources deleted a while ago
("previously tagged"). It also looks by name where tags do not reach: IAM
roles (on the path /wschat/NAME/STAGE/), the origin access control (which
CloudFront cannot tag), and API Gateway APIs, log groups, functions, event
source mappings, tables, queues, buckets and distributions, by the names
crates/stack/src/names.rs gives them. Deletes take a while to show everywhere (SQS
takes up to 60 s, IAM is eventually consistent), so it looks again until
--wait runs out.
"""

import argparse
import os
import sys
import time

import boto3
import botocore.exceptions

# Error codes that mean "no such resource" across the services involved.
GONE = {
    "ResourceNotFoundException",
    "NotFoundException",
    "NoSuchEntity",
    "NoSuchBucket",
    "NoSuchDistribution",
    "NoSuchOriginAccessControl",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "404",
}


def exists(call, **kwargs):
    try:
        call(**kwargs)
        return True
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in GONE:
            return False
        raise


def pages(client, operation, key, **kwargs):
    """Every item under `key` (dotted for nested lists) of every page of a listing."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        for part in key.split("."):
            page = page.get(part, {})
        yield from page or []


class Account:
    def __init__(self, session, name, stage, region):
        self.session, self.name, self.stage, self.region = session, name, stage, region
        self.prefix = f"{name}-{stage}"
        self.clients = {}

    def client(self, service, region=None):
        key = (service, region or self.region)
        if key not in self.clients:
            self.clients[key] = self.session.client(service, region_name=key[1])
        return self.clients[key]

    def tagged(self):
        """ARNs the tagging API lists for the stack's two tags, in the region and in us-east-1 (CloudFront)."""
        filters = [{"Key": "wschat:stack", "Values": [self.name]}, {"Key": "wschat:stage", "Values": [self.stage]}]
        arns = set()
        for region in sorted({self.region, "us-east-1"}):
            tagging = self.client("resourcegroupstaggingapi", region)
            for item in pages(tagging, "get_resources", "ResourceTagMappingList", TagFilters=filters):
                arns.add(item["ResourceARN"])
        return arns

    def still_there(self, arn):
        """Whether the resource an ARN names exists, asked of its own service. Unknown kinds count as there."""
        parts = arn.split(":", 5)
        service, region, resource = parts[2], parts[3] or self.region, parts[5]
        kind, _, rest = resource.partition("/" if service in ("dynamodb", "cloudfront", "iam") else ":")

        def c(name):
            return self.client(name, region)

        if service == "dynamodb" and kind == "table":
            return exists(c("dynamodb").describe_table, TableName=rest.split("/")[0])
        if service == "sqs":
            return exists(c("sqs").get_queue_url, QueueName=resource)
        if service == "lambda" and kind == "function":
            return exists(c("lambda").get_function, FunctionName=rest.split(":")[0])
        if service == "lambda" and kind == "event-source-mapping":
            return exists(c("lambda").get_event_source_mapping, UUID=rest)
        if service == "logs" and kind == "log-group":
            group = rest.removesuffix(":*")
            found = c("logs").describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
            return any(g["logGroupName"] == group for g in found)
        if service == "apigateway" and resource.startswith("/apis/"):
            return exists(c("apigatewayv2").get_api, ApiId=resource.split("/")[2])
        if service == "s3" and ":" not in resource and "/" not in resource:
            return exists(c("s3").head_bucket, Bucket=resource)
        if service == "cloudfront" and kind == "distribution":
            return exists(self.client("cloudfront", "us-east-1").get_distribution, Id=rest)
        if service == "iam" and kind == "role":
            return exists(self.client("iam").get_role, RoleName=rest.split("/")[-1])
        return True

    def by_name(self):
        """What the stack's names and tags find, service by service."""
        p, name, stage = self.prefix, self.name, self.stage
        found = []
        iam = self.client("iam")
        found += [f"IAM role {r['Arn']}" for r in pages(iam, "list_roles", "Roles", PathPrefix=f"/wschat/{name}/{stage}/")]
        for api in pages(self.client("apigatewayv2"), "get_apis", "Items"):
            tags = api.get("Tags", {})
            if (tags.get("wschat:stack"), tags.get("wschat:stage")) == (name, stage) or api["Name"] == p:
                found.append(f"WebSocket API {api['ApiId']} ({api['Name']})")
        logs = self.client("logs")
        for group in pages(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=f"/aws/lambda/{p}-"):
            found.append(f"log group {group['logGroupName']}")
        lam = self.client("lambda")
        found += [f"Lambda function {f['FunctionName']}" for f in pages(lam, "list_functions", "Functions") if f["FunctionName"].startswith(f"{p}-")]
        # A mapping can outlive its function; it names the function and the queue by ARN.
        for m in pages(lam, "list_event_source_mappings", "EventSourceMappings"):
            if f":function:{p}-" in m.get("FunctionArn", "") or f":{p}-" in m.get("EventSourceArn", ""):
                found.append(f"event source mapping {m['UUID']} ({m.get('EventSourceArn')} -> {m.get('FunctionArn')})")
        ddb = self.client("dynamodb")
        found += [f"DynamoDB table {t}" for t in pages(ddb, "list_tables", "TableNames") if t.startswith(f"{p}-")]
        sqs = self.client("sqs")
        found += [f"SQS queue {u}" for u in pages(sqs, "list_queues", "QueueUrls", QueueNamePrefix=f"{p}-")]
        s3 = self.client("s3")
        found += [f"S3 bucket {b['Name']}" for b in pages(s3, "list_buckets", "Buckets", Prefix=f"{p}-") if b["Name"].startswith(f"{p}-")]
        cloudfront = self.client("cloudfront", "us-east-1")
        comment = f"wschat stack {name}, stage {stage}: website"
        for d in pages(cloudfront, "list_distributions", "DistributionList.Items"):
            if d.get("Comment") == comment:
                found.append(f"CloudFront distribution {d['Id']} ({d['Status']})")
        for o in pages(cloudfront, "list_origin_access_controls", "OriginAccessControlList.Items"):
            if o["Name"] == f"{p}-site":
                found.append(f"origin access control {o['Id']} ({o['Name']})")
        return found

    def leftovers(self):
        left = self.by_name()
        for arn in sorted(self.tagged()):
            if self.still_there(arn):
                left.append(f"tagged {arn}")
        return left


def session():
    return boto3.session.Session()


def region_of(s):
    """The region wschat would pick: the Rust SDK reads AWS_REGION first, botocore only AWS_DEFAULT_REGION and the profile."""
    return os.environ.get("AWS_REGION") or s.region_name


def identity():
    try:
        s = session()
        region = region_of(s)
        if not region:
            sys.exit("no AWS region: set AWS_REGION (or the profile's `region`)")
        who = s.client("sts", region_name=region).get_caller_identity()
    except botocore.exceptions.NoCredentialsError:
        sys.exit(
            "no AWS credentials: the standard chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "~/.aws/config, SSO) found none; run `aws configure` or `aws sso login`, or export them"
        )
    except botocore.exceptions.EndpointConnectionError as err:
        sys.exit(f"cannot reach AWS: {err}")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        sys.exit(f"AWS credentials do not work: sts:GetCallerIdentity failed: {err}")
    print(who["Account"], who["Arn"], region)


def leftovers(args):
    account = Account(session(), args.name, args.stage, args.region)
    deadline = time.monotonic() + args.wait
    while True:
        left = account.leftovers()
        if not left or time.monotonic() >= deadline:
            break
        print(f"  … {len(left)} resources of stage {args.stage} still listed; looking again in 15 s", file=sys.stderr)
        time.sleep(15)
    if left:
        print(f"FAILED: stack {args.name}, stage {args.stage} left {len(left)} resources:", file=sys.stderr)
        for line in left:
            print(f"  {line}", file=sys.stderr)
        sys.exit(1)
    print(f"ok  nothing of stack {args.name}, stage {args.stage} is left in {args.region} (tags, IAM, CloudFront, names)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("region")
    sub.add_parser("identity")
    left = sub.add_parser("leftovers")
    left.add_argument("--name", required=True)
    left.add_argument("--stage", required=True)
    left.add_argument("--region", required=True)
    left.add_argument("--wait", type=int, default=180, help="seconds to keep looking while something is left (default 180)")
    args = parser.parse_args()
    if args.command == "region":
        try:
            print(region_of(session()) or "")
        except botocore.exceptions.BotoCoreError:
            print("")
    elif args.command == "identity":
        identity()
    else:
        leftovers(args)


if __name__ == "__main__":
    main()
