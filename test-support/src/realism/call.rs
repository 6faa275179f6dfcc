//! What an SDK request is: the service (from the SigV4 credential scope), the
//! operation, and the parts of it the behaviours key on.
//!
//! Every client talks to one endpoint here, as it does to moto, so the service
//! comes from the `Authorization` header, the way moto tells them apart. The
//! operation comes from `X-Amz-Target` (the JSON protocols), the `Action` form
//! field (the query protocols) or the method and path (the REST protocols).

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;

/// One request, read whole, as it came from the SDK.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The path, still percent-encoded.
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    /// The SigV4 signing name: `apigateway`, `lambda`, `dynamodb`, `sqs`, `iam`,
    /// `sts`, `s3`, `cloudfront`, `logs`, `execute-api`...
    pub fn service(&self) -> String {
        self.scope(3)
    }

    /// The SigV4 signing region: `us-east-1`, `eu-west-1`...
    pub fn region(&self) -> String {
        self.scope(2)
    }

    /// The `part`th field of the SigV4 credential scope.
    fn scope(&self, part: usize) -> String {
        // Credential=AKID/20261201/us-east-1/apigateway/aws4_request
        let auth = self.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        auth.split("Credential=")
            .nth(1)
            .and_then(|c| c.split([',', ' ']).next())
            .and_then(|scope| scope.split('/').nth(part))
            .unwrap_or("unknown")
            .to_string()
    }

    /// The path's segments, percent-decoded.
    pub fn segments(&self) -> Vec<String> {
        self.path.split('/').filter(|s| !s.is_empty()).map(decode).collect()
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A string field of the JSON body.
    pub fn json_str(&self, field: &str) -> Option<String> {
        self.json()?.get(field)?.as_str().map(str::to_string)
    }

    /// A field of the form body (the query protocols: IAM, STS).
    pub fn form(&self, field: &str) -> Option<String> {
        let body = std::str::from_utf8(&self.body).ok()?;
        body.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (decode_form(k) == field).then(|| decode_form(v))
        })
    }

    fn has_query(&self, key: &str) -> bool {
        self.query.split('&').any(|p| p == key || p.starts_with(&format!("{key}=")))
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn decode_form(s: &str) -> String {
    decode(&s.replace('+', " "))
}

/// What the request is, for counting and for the behaviours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
}

impl Call {
    pub fn of(request: &Request) -> Call {
        let service = request.service();
        let operation = operation(&service, request);
        Call { service, operation }
    }

    /// Whether the call can change something: the same rule as wschat's own
    /// call log (anything but Get*, List*, Describe*, Head* and a few reads).
    pub fn is_mutating(&self) -> bool {
        let op = self.operation.as_str();
        !["Get", "List", "Describe", "Head"].iter().any(|p| op.starts_with(p))
            && !matches!(op, "Query" | "Scan" | "BatchGetItem" | "ReceiveMessage")
    }
}

fn operation(service: &str, r: &Request) -> String {
    if let Some(target) = r.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        // DynamoDB_20120810.CreateTable, AmazonSQS.CreateQueue, Logs_20140328.CreateLogGroup
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    if let Some(action) = r.form("Action") {
        return action;
    }
    let segments = r.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let m = &r.method;
    let named = match service {
        "apigateway" => apigateway(m, &s),
        "lambda" => lambda(m, &s),
        "cloudfront" => cloudfront(m, &s, r),
        "route53" => route53(m, &s),
        "s3" => Some(s3(m, &s, r)),
        _ => None,
    };
    named.unwrap_or_else(|| format!("{m} /{}", s.join("/")))
}

/// `Get`, `Update` or `Delete` for one resource, by method.
fn verb(m: &Method) -> &'static str {
    match *m {
        Method::GET => "Get",
        Method::PATCH | Method::PUT => "Update",
        Method::DELETE => "Delete",
        _ => "Create",
    }
}

/// API Gateway v2: `/v2/apis/{id}/routes/{routeId}` and its kin.
fn apigateway(m: &Method, s: &[&str]) -> Option<String> {
    let kind = |plural: &str| -> &'static str {
        match plural {
            "apis" => "Api",
            "routes" => "Route",
            "integrations" => "Integration",
            "models" => "Model",
            "stages" => "Stage",
            "deployments" => "Deployment",
            "authorizers" => "Authorizer",
            "routeresponses" => "RouteResponse",
            "integrationresponses" => "IntegrationResponse",
            "domainnames" => "DomainName",
            "apimappings" => "ApiMapping",
            "routesettings" => "RouteSettings",
            _ => "Resource",
        }
    };
    let op = match s {
        ["v2", "tags", ..] => match *m {
            Method::GET => "GetTags".to_string(),
            Method::DELETE => "UntagResource".to_string(),
            _ => "TagResource".to_string(),
        },
        ["v2", "apis"] => if *m == Method::GET { "GetApis" } else { "CreateApi" }.to_string(),
        ["v2", "apis", _] => format!("{}Api", verb(m)),
        [.., collection] if s.len().is_multiple_of(2) => match *m {
            Method::GET => format!("Get{}s", kind(collection)),
            _ => format!("Create{}", kind(collection)),
        },
        [.., collection, _] => format!("{}{}", verb(m), kind(collection)),
        _ => return None,
    };
    Some(op)
}

/// Lambda: `/2015-03-31/functions/{name}/configuration` and its kin.
fn lambda(m: &Method, s: &[&str]) -> Option<String> {
    let op = match (m.clone(), s.get(1..).unwrap_or_default()) {
        (Method::GET, ["functions"]) => "ListFunctions",
        (Method::POST, ["functions"]) => "CreateFunction",
        (_, ["functions", _]) => return Some(format!("{}Function", verb(m))),
        (Method::GET, ["functions", _, "configuration"]) => "GetFunctionConfiguration",
        (Method::PUT, ["functions", _, "configuration"]) => "UpdateFunctionConfiguration",
        (Method::PUT, ["functions", _, "code"]) => "UpdateFunctionCode",
        (Method::GET, ["functions", _, "policy"]) => "GetPolicy",
        (Method::POST, ["functions", _, "policy"]) => "AddPermission",
        (Method::DELETE, ["functions", _, "policy", _]) => "RemovePermission",
        (Method::GET, ["event-source-mappings"]) => "ListEventSourceMappings",
        (Method::POST, ["event-source-mappings"]) => "CreateEventSourceMapping",
        (_, ["event-source-mappings", _]) => return Some(format!("{}EventSourceMapping", verb(m))),
        (Method::GET, ["tags", ..]) => "ListTags",
        (Method::POST, ["tags", ..]) => "TagResource",
        (Method::DELETE, ["tags", ..]) => "UntagResource",
        _ => return None,
    };
    Some(op.to_string())
}

/// CloudFront: `/2020-05-31/distribution/{id}/config` and its kin.
fn cloudfront(m: &Method, s: &[&str], r: &Request) -> Option<String> {
    let op = match (m.clone(), s.get(1..).unwrap_or_default()) {
        (Method::POST, ["distribution"]) if r.has_query("WithTags") => "CreateDistributionWithTags",
        (Method::POST, ["distribution"]) => "CreateDistribution",
        (Method::GET, ["distribution"]) => "ListDistributions",
        (Method::GET, ["distribution", _]) => "GetDistribution",
        (Method::DELETE, ["distribution", _]) => "DeleteDistribution",
        (Method::GET, ["distribution", _, "config"]) => "GetDistributionConfig",
        (Method::PUT, ["distribution", _, "config"]) => "UpdateDistribution",
        (Method::POST, ["distribution", _, "invalidation"]) => "CreateInvalidation",
        (Method::GET, ["distribution", _, "invalidation", ..]) => "ListInvalidations",
        (Method::POST, ["origin-access-control"]) => "CreateOriginAccessControl",
        (Method::GET, ["origin-access-control"]) => "ListOriginAccessControls",
        (Method::GET, ["origin-access-control", _]) => "GetOriginAccessControl",
        (Method::DELETE, ["origin-access-control", _]) => "DeleteOriginAccessControl",
        (Method::GET, ["origin-access-control", _, "config"]) => "GetOriginAccessControlConfig",
        (Method::PUT, ["origin-access-control", _, "config"]) => "UpdateOriginAccessControl",
        (Method::GET, ["tagging"]) => "ListTagsForResource",
        (Method::POST, ["tagging"]) if r.query.contains("Operation=Untag") => "UntagResource",
        (Method::POST, ["tagging"]) => "TagResource",
        _ => return None,
    };
    Some(op.to_string())
}

/// Route 53: `/2013-04-01/hostedzone/{id}/rrset` and its kin.
fn route53(m: &Method, s: &[&str]) -> Option<String> {
    let op = match (m.clone(), s.get(1..).unwrap_or_default()) {
        (Method::POST, ["hostedzone"]) => "CreateHostedZone",
        (Method::GET, ["hostedzone"]) => "ListHostedZones",
        (Method::GET, ["hostedzonesbyname"]) => "ListHostedZonesByName",
        (Method::GET, ["hostedzone", _]) => "GetHostedZone",
        (Method::DELETE, ["hostedzone", _]) => "DeleteHostedZone",
        (Method::POST, ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        (Method::GET, ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        (Method::GET, ["change", _]) => "GetChange",
        (Method::GET, ["tags", ..]) => "ListTagsForResource",
        (Method::POST, ["tags", ..]) => "ChangeTagsForResource",
        _ => return None,
    };
    Some(op.to_string())
}

/// S3, path-style (`/{bucket}/{key}`): the operations wschat uses, by method
/// and sub-resource.
fn s3(m: &Method, s: &[&str], r: &Request) -> String {
    let object = s.len() > 1;
    let sub = ["policy", "tagging", "publicAccessBlock", "ownershipControls", "encryption", "versioning", "delete"]
        .into_iter()
        .find(|k| r.has_query(k));
    let title = |k: &str| {
        let mut c = k.chars();
        c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
    };
    match (m.clone(), object, sub) {
        (Method::POST, false, Some("delete")) => "DeleteObjects".into(),
        (Method::GET, false, Some(k)) => format!("GetBucket{}", title(k)),
        (Method::PUT, false, Some(k)) => format!("PutBucket{}", title(k)),
        (Method::DELETE, false, Some(k)) => format!("DeleteBucket{}", title(k)),
        (Method::GET, false, None) if r.has_query("versions") => "ListObjectVersions".into(),
        (Method::GET, false, None) if s.is_empty() => "ListBuckets".into(),
        (Method::GET, false, None) => "ListObjectsV2".into(),
        (Method::HEAD, false, _) => "HeadBucket".into(),
        (Method::PUT, false, None) => "CreateBucket".into(),
        (Method::DELETE, false, None) => "DeleteBucket".into(),
        (Method::HEAD, true, _) => "HeadObject".into(),
        (Method::GET, true, _) => "GetObject".into(),
        (Method::PUT, true, _) => "PutObject".into(),
        (Method::DELETE, true, _) => "DeleteObject".into(),
        _ => format!("S3 {m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, query: &str) -> Request {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/apigateway/aws4_request, SignedHeaders=host"
                .parse()
                .unwrap(),
        );
        Request { method, path: path.into(), query: query.into(), headers, body: Bytes::new() }
    }

    #[test]
    fn api_gateway_operations_come_from_the_path() {
        let op = |m, p| Call::of(&request(m, p, "")).operation;
        assert_eq!(op(Method::POST, "/v2/apis"), "CreateApi");
        assert_eq!(op(Method::GET, "/v2/apis"), "GetApis");
        assert_eq!(op(Method::PATCH, "/v2/apis/abc"), "UpdateApi");
        assert_eq!(op(Method::POST, "/v2/apis/abc/routes"), "CreateRoute");
        assert_eq!(op(Method::GET, "/v2/apis/abc/routes"), "GetRoutes");
        assert_eq!(op(Method::DELETE, "/v2/apis/abc/routes/r1"), "DeleteRoute");
        assert_eq!(op(Method::GET, "/v2/apis/abc/stages/dev"), "GetStage");
        assert_eq!(op(Method::PATCH, "/v2/apis/abc/stages/dev"), "UpdateStage");
        assert_eq!(op(Method::DELETE, "/v2/apis/abc/stages/dev/routesettings/%24connect"), "DeleteRouteSettings");
        assert_eq!(op(Method::POST, "/v2/tags/arn%3Aaws%3Aapigateway"), "TagResource");
        assert_eq!(op(Method::POST, "/v2/domainnames"), "CreateDomainName");
        assert_eq!(op(Method::GET, "/v2/domainnames"), "GetDomainNames");
        assert_eq!(op(Method::DELETE, "/v2/domainnames/ws.example.com"), "DeleteDomainName");
        assert_eq!(op(Method::POST, "/v2/domainnames/ws.example.com/apimappings"), "CreateApiMapping");
        assert_eq!(op(Method::GET, "/v2/domainnames/ws.example.com/apimappings"), "GetApiMappings");
        assert_eq!(op(Method::GET, "/v2/apis/abc/routes/r1/routeresponses"), "GetRouteResponses");
        assert_eq!(op(Method::POST, "/v2/apis/abc/routes/r1/routeresponses"), "CreateRouteResponse");
        assert_eq!(op(Method::DELETE, "/v2/apis/abc/routes/r1/routeresponses/rr1"), "DeleteRouteResponse");
        assert_eq!(op(Method::GET, "/v2/apis/abc/integrations/i1/integrationresponses"), "GetIntegrationResponses");
        assert_eq!(
            op(Method::PATCH, "/v2/apis/abc/integrations/i1/integrationresponses/ir1"),
            "UpdateIntegrationResponse"
        );
        let call = Call::of(&request(Method::POST, "/v2/apis/abc/models", ""));
        assert_eq!(call.service, "apigateway");
        assert!(call.is_mutating());
    }

    #[test]
    fn json_and_query_protocols_name_their_operation() {
        let mut r = request(Method::POST, "/", "");
        r.headers.insert("x-amz-target", "DynamoDB_20120810.UpdateTimeToLive".parse().unwrap());
        assert_eq!(Call::of(&r).operation, "UpdateTimeToLive");
        let mut r = request(Method::POST, "/", "");
        r.body = Bytes::from_static(b"Action=CreateRole&RoleName=a%2Bb&Version=2010-05-08");
        assert_eq!(Call::of(&r).operation, "CreateRole");
        assert_eq!(r.form("RoleName").as_deref(), Some("a+b"));
    }
}
