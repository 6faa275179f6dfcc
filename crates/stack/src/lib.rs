//! The stack.yaml model: parsing, validation with file:line:column errors,
//! defaults, and the one place where every physical AWS name is derived.
//!
//! Parsing is two passes. serde (through serde_norway) turns the text into the
//! model and reports syntax errors, unknown keys and wrong types with their
//! position. Semantic checks (ranges, names AWS would reject, references
//! between sections, files that must exist) run on the model afterwards; they
//! find the position of the offending field in a [`SourceMap`] built from the
//! YAML event stream, because serde keeps no spans for values.

mod api;
mod check;
mod defaults;
mod model;
mod names;
mod source_map;
pub mod website;

pub use api::*;
pub use check::{check_dns_name, check_stage, in_zone, is_region};
pub use model::*;
pub use names::*;
pub use source_map::SourceMap;

use check::Checks;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// An error the user caused with the command line or with stack.yaml: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The tag keys every resource of a stack carries; `destroy` and discovery
/// trust only resources that carry both with this stack's values.
pub const TAG_STACK: &str = "wschat:stack";
pub const TAG_STAGE: &str = "wschat:stage";
/// On the CloudFront distribution: a hash of its configuration.
pub const TAG_CONFIG: &str = "wschat:config";
/// Every tag wschat itself puts on one resource, at most.
pub const OWN_TAGS: [&str; 3] = [TAG_STACK, TAG_STAGE, TAG_CONFIG];
/// Tags one resource may have (CloudFront, IAM, Lambda, DynamoDB, API Gateway, S3, SQS: 50).
pub const MAX_TAGS: usize = 50;

/// The partitions by their regions' prefix, as the AWS SDKs' partition
/// table has them (`partitions.json`, embedded in each `aws-sdk-*` crate's
/// `endpoint_lib.rs`): the partition's name and its DNS suffix. Any other
/// region is in `aws`, under `amazonaws.com`.
const PARTITIONS: [(&str, &str, &str); 7] = [
    ("cn-", "aws-cn", "amazonaws.com.cn"),
    ("us-gov-", "aws-us-gov", "amazonaws.com"),
    ("us-isob-", "aws-iso-b", "sc2s.sgov.gov"),
    ("us-isof-", "aws-iso-f", "csp.hci.ic.gov"),
    ("us-iso-", "aws-iso", "c2s.ic.gov"),
    ("eu-isoe-", "aws-iso-e", "cloud.adc-e.uk"),
    ("eusc-", "aws-eusc", "amazonaws.eu"),
];

fn partition_of(region: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    PARTITIONS.iter().find(|(prefix, _, _)| region.starts_with(prefix))
}

/// The DNS suffix of a region's partition: `amazonaws.com` for `aws` and
/// `aws-us-gov`, `amazonaws.com.cn` for `aws-cn`, and the isolated
/// partitions' own.
pub fn dns_suffix(region: &str) -> &'static str {
    partition_of(region).map_or("amazonaws.com", |(_, _, suffix)| suffix)
}

/// The partition a region is in (`aws`, `aws-cn`, `aws-us-gov`...): what an
/// ARN in it starts with.
pub fn partition(region: &str) -> &'static str {
    partition_of(region).map_or("aws", |(_, partition, _)| partition)
}

/// A character every service's tags allow.
fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " +-=._:/".contains(c)
}

/// The file as written, before defaults that depend on other sections.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StackFile {
    name: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    functions: BTreeMap<String, Function>,
    #[serde(default)]
    table: Table,
    #[serde(default)]
    queue: Queue,
    #[serde(default)]
    api: Api,
    #[serde(default)]
    website: Website,
    #[serde(default)]
    chat: Chat,
    #[serde(default)]
    domain: Option<Domain>,
    #[serde(default, deserialize_with = "model::observability")]
    observability: Observability,
}

/// One problem in stack.yaml, at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackError {
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field, e.g. `functions.chat.memory`; empty for the whole file.
    pub field: String,
    pub message: String,
}

/// Every problem found in one stack.yaml (exit code 2).
#[derive(Debug)]
pub struct StackErrors {
    pub file: PathBuf,
    pub errors: Vec<StackError>,
}

impl fmt::Display for StackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}:{}: ", self.file.display(), e.line, e.column)?;
            if !e.field.is_empty() {
                write!(f, "{}: ", e.field)?;
            }
            f.write_str(&e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for StackErrors {}

/// Reads, parses and validates `file` for `stage`.
pub fn load(file: &Path, stage: &str) -> anyhow::Result<Stack> {
    check_stage(stage)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("reading {}: {e}; pass the stack file with -f/--file", file.display())))?;
    Ok(parse(&text, file, stage)?)
}

/// Parses and validates stack.yaml text. `file` names it in errors and gives
/// the folder that relative paths start from.
pub fn parse(text: &str, file: &Path, stage: &str) -> Result<Stack, StackErrors> {
    let fail = |errors| StackErrors { file: file.to_path_buf(), errors };
    let map = SourceMap::new(text);
    if map.is_empty() {
        return Err(fail(vec![StackError {
            line: 1,
            column: 1,
            field: String::new(),
            message: "the file is empty; a stack needs at least `name` and `functions`".into(),
        }]));
    }
    let raw: StackFile = serde_norway::from_str(text).map_err(|e| fail(vec![serde_error(&e)]))?;
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let mut stack = Stack {
        name: raw.name,
        stage: stage.to_string(),
        region: raw.region,
        tags: raw.tags,
        functions: raw.functions,
        table: raw.table,
        queue: raw.queue,
        api: raw.api,
        website: raw.website,
        chat: raw.chat,
        domain: raw.domain,
        observability: raw.observability,
        file: file.to_path_buf(),
        dir,
    };
    if stack.api.routes.is_empty() && stack.functions.contains_key("chat") && map.find(&["api", "routes"]).is_none() {
        stack.api.routes = default_routes("chat");
    }
    if stack.api.stage.is_none() {
        stack.api.stage = Some(stage.to_string());
    }
    if matches!(stack.api.auth, Auth::Jwt(_)) {
        stack.functions.entry(AUTHORIZER_FUNCTION.to_string()).or_insert_with(Function::authorizer);
    }
    if let Some(domain) = &mut stack.domain
        && domain.websocket.is_none()
    {
        domain.websocket = Some(format!("ws.{}", domain.name));
    }
    let mut checks = Checks { map: &map, errors: Vec::new() };
    checks.stack(&stack);
    if checks.errors.is_empty() { Ok(stack) } else { Err(fail(checks.errors)) }
}

impl Stack {
    /// What depends on the region the stack deploys to, for a stack.yaml
    /// without `region` (which [`load`] checked already): known once the AWS
    /// configuration is read, before any call. The positions come from the
    /// file read again.
    pub fn check_region(&self, region: &str) -> Result<(), StackErrors> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        let map = SourceMap::new(&text);
        let mut checks = Checks { map: &map, errors: Vec::new() };
        if let Some(domain) = &self.domain {
            checks.first_names(domain, region);
        }
        if checks.errors.is_empty() {
            Ok(())
        } else {
            Err(StackErrors { file: self.file.clone(), errors: checks.errors })
        }
    }
}

/// Every protocol route on one function, and the keepalive `ping` answered
/// by API Gateway itself: the default when stack.yaml has no `api.routes`.
pub fn default_routes(function: &str) -> BTreeMap<String, Route> {
    let mut routes: BTreeMap<String, Route> = chat_core::SPECIAL_ROUTES
        .iter()
        .chain(chat_core::ACTIONS)
        .map(|key| (key.to_string(), Route::on(function)))
        .collect();
    routes
        .insert(PING_ROUTE.to_string(), Route { target: Target::Mock(PONG.to_string()), schema: None, throttle: None });
    for (key, throttle) in SHIPPED_THROTTLES {
        if let Some(route) = routes.get_mut(key) {
            route.throttle = Some(throttle);
        }
    }
    routes
}

/// Turns a serde error into a positioned one. serde_norway puts the dotted
/// path before the message and " at line L column C" after it; we keep the
/// path and the message and move the position to the front.
fn serde_error(e: &serde_norway::Error) -> StackError {
    let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text).to_string();
    let (field, message) = match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (path.to_string(), rest.to_string()),
        _ => (String::new(), text.clone()),
    };
    let message = match message.strip_prefix("missing field ") {
        Some(name) => format!("missing required field {name}"),
        None => message,
    };
    StackError { line, column, field, message }
}

#[cfg(test)]
mod tests;
