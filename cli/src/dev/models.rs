//! Route request models: the JSON schemas (draft 4) API Gateway checks a
//! route's message bodies against before it invokes the route's function.
//!
//! This is a small validator for the keywords such models use in practice:
//! `type` (one or several; `integer` is a number without a fraction or an
//! exponent, as draft 4 says), `required`, `properties`, `additionalProperties`
//! (a boolean or a schema), `minLength`/`maxLength` (in characters),
//! `minimum`/`maximum` (with draft 4's boolean `exclusiveMinimum`/`exclusiveMaximum`),
//! `enum`, `items` (a schema, or one per position), `minItems`/`maxItems` and
//! `pattern` (searched, not anchored, as ECMA 262's `test`).
//! Annotations (`$schema`, `id`, `title`, `description`, `default`,
//! `definitions`) are ignored. Any other keyword makes [`compile`] fail rather
//! than be skipped: a model this validator would half apply would let frames
//! through locally that API Gateway refuses.
//!
//! Refusals read like the lines API Gateway's validator logs, such as
//! `object has missing required properties (["name"])`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::stack::Stack;

/// A compiled model: checks one message body.
#[derive(Debug)]
pub struct Model {
    root: Node,
}

/// Why a schema cannot be applied by this validator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A keyword this validator does not implement.
    #[error("keyword `{keyword}` at {at} is not supported")]
    Unsupported { keyword: String, at: String },
    /// A keyword with a value draft 4 does not allow (or a `pattern` this
    /// validator cannot run).
    #[error("keyword `{keyword}` at {at} {why}")]
    Invalid { keyword: String, at: String, why: String },
}

/// Why a body does not match its model: the first failure found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// JSON pointer to the failing value in the body; empty for the body itself.
    pub pointer: String,
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() { f.write_str(&self.reason) } else { write!(f, "{}: {}", self.pointer, self.reason) }
    }
}

/// Compiles a draft 4 schema.
pub fn compile(schema: &Value) -> Result<Model, SchemaError> {
    Ok(Model { root: Node::compile(schema, "#")? })
}

impl Model {
    /// Checks a message body: it must be JSON and match the schema.
    pub fn check_body(&self, body: &[u8]) -> Result<(), Refusal> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| Refusal { pointer: String::new(), reason: "the body is not JSON".into() })?;
        self.check(&value)
    }

    /// Checks a JSON value against the schema.
    pub fn check(&self, value: &Value) -> Result<(), Refusal> {
        self.root.check(value, &mut String::new())
    }
}

/// The route models of a stack.
#[derive(Debug, Default)]
pub struct RouteModels {
    /// Route key -> its model.
    pub models: BTreeMap<String, Model>,
    /// Routes whose schema this validator cannot apply: they are not validated.
    pub skipped: Vec<Skipped>,
}

/// A route whose schema [`compile`] refused.
#[derive(Debug)]
pub struct Skipped {
    pub route: String,
    /// The schema file, as stack.yaml names it.
    pub file: PathBuf,
    pub error: SchemaError,
}

/// Reads and compiles the schema of every route that has one.
pub fn load(stack: &Stack) -> Result<RouteModels> {
    let mut loaded = RouteModels::default();
    for (route, spec) in &stack.api.routes {
        let Some(file) = &spec.schema else { continue };
        let full = stack.dir.join(file);
        let text = std::fs::read_to_string(&full).with_context(|| format!("reading schema `{}`", full.display()))?;
        let schema: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing schema `{}`", full.display()))?;
        match compile(&schema) {
            Ok(model) => {
                loaded.models.insert(route.clone(), model);
            }
            Err(error) => loaded.skipped.push(Skipped { route: route.clone(), file: file.clone(), error }),
        }
    }
    Ok(loaded)
}

/// One compiled (sub)schema.
#[derive(Debug, Default)]
struct Node {
    types: Option<Vec<Type>>,
    required: Vec<String>,
    properties: BTreeMap<String, Node>,
    additional: Additional,
    min_length: Option<u64>,
    max_length: Option<u64>,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    one_of_values: Option<Vec<Value>>,
    items: Items,
    min_items: Option<u64>,
    max_items: Option<u64>,
    pattern: Option<(String, regex_lite::Regex)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Object,
    Array,
    String,
    Number,
    Integer,
    Boolean,
    Null,
}

impl Type {
    fn parse(name: &str) -> Option<Type> {
        Some(match name {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "number" => Type::Number,
            "integer" => Type::Integer,
            "boolean" => Type::Boolean,
            "null" => Type::Null,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Number => "number",
            Type::Integer => "integer",
            Type::Boolean => "boolean",
            Type::Null => "null",
        }
    }

    /// A value's own type; numbers are `integer` only without a fraction or exponent.
    fn of(value: &Value) -> Type {
        match value {
            Value::Object(_) => Type::Object,
            Value::Array(_) => Type::Array,
            Value::String(_) => Type::String,
            Value::Number(n) if n.is_i64() || n.is_u64() => Type::Integer,
            Value::Number(_) => Type::Number,
            Value::Bool(_) => Type::Boolean,
            Value::Null => Type::Null,
        }
    }

    fn admits(self, actual: Type) -> bool {
        self == actual || (self == Type::Number && actual == Type::Integer)
    }
}

#[derive(Debug, Default)]
enum Additional {
    #[default]
    Any,
    Forbidden,
    Schema(Box<Node>),
}

#[derive(Debug, Default)]
enum Items {
    #[default]
    Any,
    Each(Box<Node>),
    Tuple(Vec<Node>),
}

#[derive(Debug, Clone, Copy)]
struct Bound {
    limit: f64,
    exclusive: bool,
}

/// Keywords that say something about a schema but check nothing.
const ANNOTATIONS: [&str; 6] = ["$schema", "id", "title", "description", "default", "definitions"];

impl Node {
    fn compile(schema: &Value, at: &str) -> Result<Node, SchemaError> {
        let Value::Object(map) = schema else {
            return Err(invalid("(schema)", at, "must be a JSON object"));
        };
        let mut node = Node::default();
        for (keyword, value) in map {
            let k = keyword.as_str();
            match k {
                _ if ANNOTATIONS.contains(&k) => {}
                "type" => {
                    let names = match value {
                        Value::String(name) => vec![name.as_str()],
                        Value::Array(names) if !names.is_empty() => names
                            .iter()
                            .map(|n| n.as_str().ok_or_else(|| invalid(k, at, "must name types")))
                            .collect::<Result<_, _>>()?,
                        _ => return Err(invalid(k, at, "must be a type name or a non-empty array of them")),
                    };
                    let types = names
                        .into_iter()
                        .map(|n| Type::parse(n).ok_or_else(|| invalid(k, at, format!("names no type: `{n}`"))))
                        .collect::<Result<_, _>>()?;
                    node.types = Some(types);
                }
                "required" => {
                    let names = value.as_array().ok_or_else(|| invalid(k, at, "must be an array of names"))?;
                    node.required = names
                        .iter()
                        .map(|n| {
                            n.as_str().map(str::to_string).ok_or_else(|| invalid(k, at, "must be an array of names"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "properties" => {
                    let properties = value.as_object().ok_or_else(|| invalid(k, at, "must be an object"))?;
                    for (name, schema) in properties {
                        let inner = format!("{at}/properties/{}", escape(name));
                        node.properties.insert(name.clone(), Node::compile(schema, &inner)?);
                    }
                }
                "additionalProperties" => {
                    node.additional = match value {
                        Value::Bool(true) => Additional::Any,
                        Value::Bool(false) => Additional::Forbidden,
                        Value::Object(_) => {
                            Additional::Schema(Box::new(Node::compile(value, &format!("{at}/additionalProperties"))?))
                        }
                        _ => return Err(invalid(k, at, "must be a boolean or a schema")),
                    };
                }
                "minLength" => node.min_length = Some(count(k, value, at)?),
                "maxLength" => node.max_length = Some(count(k, value, at)?),
                "minItems" => node.min_items = Some(count(k, value, at)?),
                "maxItems" => node.max_items = Some(count(k, value, at)?),
                "minimum" | "maximum" => {
                    let limit = value.as_f64().ok_or_else(|| invalid(k, at, "must be a number"))?;
                    let flag = if k == "minimum" { "exclusiveMinimum" } else { "exclusiveMaximum" };
                    let exclusive = match map.get(flag) {
                        None => false,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => return Err(invalid(flag, at, "must be a boolean")),
                    };
                    let bound = Some(Bound { limit, exclusive });
                    if k == "minimum" { node.minimum = bound } else { node.maximum = bound }
                }
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    let base = if k == "exclusiveMinimum" { "minimum" } else { "maximum" };
                    if !value.is_boolean() {
                        return Err(invalid(k, at, "must be a boolean (draft 4)"));
                    }
                    if !map.contains_key(base) {
                        return Err(invalid(k, at, format!("needs `{base}`")));
                    }
                }
                "enum" => {
                    let values = value.as_array().filter(|v| !v.is_empty());
                    let values = values.ok_or_else(|| invalid(k, at, "must be a non-empty array"))?;
                    node.one_of_values = Some(values.clone());
                }
                "items" => {
                    node.items = match value {
                        Value::Object(_) => Items::Each(Box::new(Node::compile(value, &format!("{at}/items"))?)),
                        Value::Array(schemas) => Items::Tuple(
                            schemas
                                .iter()
                                .enumerate()
                                .map(|(i, s)| Node::compile(s, &format!("{at}/items/{i}")))
                                .collect::<Result<_, _>>()?,
                        ),
                        _ => return Err(invalid(k, at, "must be a schema or an array of schemas")),
                    };
                }
                "pattern" => {
                    let source = value.as_str().ok_or_else(|| invalid(k, at, "must be a string"))?;
                    let regex = regex_lite::Regex::new(source)
                        .map_err(|e| invalid(k, at, format!("is a regex wschat dev cannot run: {e}")))?;
                    node.pattern = Some((source.to_string(), regex));
                }
                _ => return Err(SchemaError::Unsupported { keyword: keyword.clone(), at: at.to_string() }),
            }
        }
        Ok(node)
    }

    fn check(&self, value: &Value, pointer: &mut String) -> Result<(), Refusal> {
        let refuse = |pointer: &str, reason: String| Err(Refusal { pointer: pointer.to_string(), reason });
        let actual = Type::of(value);
        if let Some(types) = &self.types
            && !types.iter().any(|t| t.admits(actual))
        {
            let allowed: Vec<&str> = types.iter().map(|t| t.name()).collect();
            return refuse(
                pointer,
                format!(
                    "instance type ({}) does not match any allowed primitive type (allowed: {})",
                    actual.name(),
                    Value::from(allowed)
                ),
            );
        }
        if let Some(values) = &self.one_of_values
            && !values.iter().any(|v| same(v, value))
        {
            return refuse(
                pointer,
                format!(
                    "instance value ({}) not found in enum (possible values: {})",
                    shorten(value),
                    Value::from(values.clone())
                ),
            );
        }
        match value {
            Value::Object(object) => self.check_object(object, pointer),
            Value::Array(array) => self.check_array(array, pointer),
            Value::String(text) => self.check_string(text, pointer),
            Value::Number(number) => self.check_number(number.as_f64().unwrap_or(f64::NAN), pointer),
            Value::Bool(_) | Value::Null => Ok(()),
        }
    }

    fn check_object(&self, object: &Map<String, Value>, pointer: &mut String) -> Result<(), Refusal> {
        let missing: Vec<&str> =
            self.required.iter().filter(|name| !object.contains_key(*name)).map(String::as_str).collect();
        if !missing.is_empty() {
            let mut missing = missing;
            missing.sort_unstable();
            let reason = format!("object has missing required properties ({})", Value::from(missing));
            return Err(Refusal { pointer: pointer.clone(), reason });
        }
        if matches!(self.additional, Additional::Forbidden) {
            let mut extra: Vec<&str> =
                object.keys().filter(|k| !self.properties.contains_key(*k)).map(String::as_str).collect();
            if !extra.is_empty() {
                extra.sort_unstable();
                let reason = format!(
                    "object instance has properties which are not allowed by the schema: {}",
                    Value::from(extra)
                );
                return Err(Refusal { pointer: pointer.clone(), reason });
            }
        }
        for (name, value) in object {
            let node = match (self.properties.get(name), &self.additional) {
                (Some(node), _) => node,
                (None, Additional::Schema(node)) => node,
                (None, _) => continue,
            };
            let depth = pointer.len();
            pointer.push('/');
            pointer.push_str(&escape(name));
            node.check(value, pointer)?;
            pointer.truncate(depth);
        }
        Ok(())
    }

    fn check_array(&self, array: &[Value], pointer: &mut String) -> Result<(), Refusal> {
        let refuse = |reason: String| Err(Refusal { pointer: pointer.clone(), reason });
        if let Some(min) = self.min_items
            && (array.len() as u64) < min
        {
            return refuse(format!(
                "array is too short: must have at least {min} elements but instance has {} elements",
                array.len()
            ));
        }
        if let Some(max) = self.max_items
            && (array.len() as u64) > max
        {
            return refuse(format!(
                "array is too long: must have at most {max} elements but instance has {} elements",
                array.len()
            ));
        }
        for (i, item) in array.iter().enumerate() {
            let node = match &self.items {
                Items::Any => break,
                Items::Each(node) => node.as_ref(),
                Items::Tuple(nodes) => match nodes.get(i) {
                    Some(node) => node,
                    None => break,
                },
            };
            let depth = pointer.len();
            pointer.push_str(&format!("/{i}"));
            node.check(item, pointer)?;
            pointer.truncate(depth);
        }
        Ok(())
    }

    fn check_string(&self, text: &str, pointer: &str) -> Result<(), Refusal> {
        let refuse = |reason: String| Err(Refusal { pointer: pointer.to_string(), reason });
        let length = text.chars().count() as u64;
        if let Some(min) = self.min_length
            && length < min
        {
            return refuse(format!("string is too short (length: {length}, minimum allowed: {min})"));
        }
        if let Some(max) = self.max_length
            && length > max
        {
            return refuse(format!("string is too long (length: {length}, maximum allowed: {max})"));
        }
        if let Some((source, regex)) = &self.pattern
            && !regex.is_match(text)
        {
            return refuse(format!(
                "ECMA 262 regex {} does not match input string {}",
                Value::from(source.as_str()),
                shorten(&Value::from(text))
            ));
        }
        Ok(())
    }

    fn check_number(&self, number: f64, pointer: &str) -> Result<(), Refusal> {
        let refuse = |reason: String| Err(Refusal { pointer: pointer.to_string(), reason });
        if let Some(Bound { limit, exclusive }) = self.minimum {
            if exclusive && number <= limit {
                return refuse(format!("numeric instance is not strictly greater than the required minimum {limit}"));
            }
            if number < limit {
                return refuse(format!(
                    "numeric instance is lower than the required minimum (minimum: {limit}, found: {number})"
                ));
            }
        }
        if let Some(Bound { limit, exclusive }) = self.maximum {
            if exclusive && number >= limit {
                return refuse(format!("numeric instance is not strictly lower than the required maximum {limit}"));
            }
            if number > limit {
                return refuse(format!(
                    "numeric instance is greater than the required maximum (maximum: {limit}, found: {number})"
                ));
            }
        }
        Ok(())
    }
}

fn invalid(keyword: &str, at: &str, why: impl Into<String>) -> SchemaError {
    SchemaError::Invalid { keyword: keyword.to_string(), at: at.to_string(), why: why.into() }
}

/// A non-negative integer keyword (`minLength` and the like).
fn count(keyword: &str, value: &Value, at: &str) -> Result<u64, SchemaError> {
    value.as_u64().ok_or_else(|| invalid(keyword, at, "must be a non-negative integer"))
}

/// JSON equality, with numbers equal when their values are (`1` and `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// A value for a log line: at most 64 characters of its JSON.
fn shorten(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// A JSON pointer token: `~` and `/` escaped.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests;
