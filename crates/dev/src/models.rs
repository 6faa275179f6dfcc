//! Route request models: the JSON schemas API Gateway checks a route's message
//! bodies against before it invokes the route's function.
//!
//! API Gateway's models are JSON Schema draft 4 ("A model is expressed as a JSON
//! schema", linked to draft-zyp-json-schema-04, in the developer guide's
//! [Request validation for WebSocket APIs], and "models are defined using the JSON
//! schema draft 4" in its [Data models]). So each schema is compiled as draft 4,
//! whatever its `$schema` says, by the `jsonschema` crate, which implements every
//! draft 4 keyword: `$ref` within the schema, `allOf`/`anyOf`/`oneOf`/`not`,
//! `dependencies`, `patternProperties`, `uniqueItems`, `multipleOf` and the rest.
//!
//! `format` is checked too: draft 4 leaves that to the validator, and API Gateway
//! does not ignore it (a model with `"format": "date"`, a format draft 4 does not
//! define, made it refuse bodies: dod-ccpo/atat-web-api#315). A format the crate
//! does not know is therefore a compile error rather than a keyword silently
//! skipped, as is a `$ref` outside the schema (nothing is fetched from the network
//! or the disk) or a schema that breaks draft 4's meta-schema: a model dev would
//! half apply would let frames through locally that API Gateway refuses. Such a
//! route is [`Skipped`], and dev warns about it at startup.
//!
//! A [`Refusal`] names the failing value by its JSON pointer and says why, in the
//! crate's words with the value itself left out (`value is longer than 4096
//! characters`): it is for dev's log line, and the body may be long or private.
//! What the client gets is API Gateway's own frame, built in `gateway/responses.rs`.
//!
//! [Request validation for WebSocket APIs]: https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-request-validation.html
//! [Data models]: https://docs.aws.amazon.com/apigateway/latest/developerguide/models-mappings-models.html

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::Value;

use wschat_stack::Stack;

/// A compiled model: checks one message body.
#[derive(Debug)]
pub struct Model {
    validator: Validator,
}

/// Why a schema cannot be applied: the crate's reason, and where in the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON pointer into the schema; empty for the schema itself.
    pub at: String,
    pub reason: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() { f.write_str(&self.reason) } else { write!(f, "{} at #{}", self.reason, self.at) }
    }
}

impl std::error::Error for SchemaError {}

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

/// Compiles a schema as draft 4, formats asserted, nothing fetched.
pub fn compile(schema: &Value) -> Result<Model, SchemaError> {
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .offline()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(schema)
        .map(|validator| Model { validator })
        .map_err(|error| SchemaError { at: error.instance_path().to_string(), reason: error.to_string() })
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
        self.validator.validate(value).map_err(|error: ValidationError<'_>| Refusal {
            pointer: error.instance_path().to_string(),
            reason: error.masked().to_string(),
        })
    }
}

/// The route models of a stack.
#[derive(Debug, Default)]
pub struct RouteModels {
    /// Route key -> its model.
    pub models: BTreeMap<String, Model>,
    /// Routes whose schema cannot be compiled: they are not validated.
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

#[cfg(test)]
mod tests;
