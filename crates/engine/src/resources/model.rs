//! Route models: the JSON schemas API Gateway validates message bodies against.
//!
//! A model is named after its route and a hash of its schema
//! ([`wschat_stack::Stack::model_name`]), so a route's reference says which
//! schema it validates against and a changed schema is a new model. That
//! keeps plans exact where models cannot be listed: moto answers GetModels
//! with a 500, and then the models in use are known from the routes' references
//! alone (and unused ones stay until destroy deletes the API with them).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::{Address, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Want, json_equal};
use crate::aws::{Sent, not_implemented_unretried, paginate_if_implemented};
use crate::diff::FieldChange;
use wschat_stack::Stack;

pub const CONTENT_TYPE: &str = "application/json";

/// One route's schema, as sent to API Gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Compact JSON, keys sorted: the same file always gives the same text.
    pub canonical: String,
    /// The first 8 hex digits of its SHA-256.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    pub route_key: String,
    pub name: String,
    pub schema: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    /// Unknown when the model was inferred from a route's reference.
    pub id: Option<String>,
    pub name: String,
    pub schema: Option<String>,
}

/// Reads the schema of every route that has one.
pub fn read_schemas(stack: &Stack) -> Result<BTreeMap<String, Schema>> {
    let mut schemas = BTreeMap::new();
    for (key, route) in &stack.api.routes {
        let Some(path) = &route.schema else { continue };
        let full = stack.dir.join(path);
        let text = std::fs::read_to_string(&full).with_context(|| format!("reading schema `{}`", full.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing schema `{}`", full.display()))?;
        let canonical = value.to_string();
        let digest = hex::encode(Sha256::digest(canonical.as_bytes()))[..8].to_string();
        schemas.insert(key.clone(), Schema { canonical, digest });
    }
    Ok(schemas)
}

pub fn spec(env: &Env, route_key: &str, schema: &Schema, api_id: Ref<String>) -> Spec {
    Spec {
        api_id,
        route_key: route_key.to_string(),
        name: env.stack.model_name(route_key, &schema.digest),
        schema: schema.canonical.clone(),
    }
}

/// The model name `route_key` should reference, if it has a schema.
pub fn name_for(env: &Env, route_key: &str) -> Option<String> {
    env.schemas.get(route_key).map(|s| env.stack.model_name(route_key, &s.digest))
}

fn item(found: Found) -> FoundItem {
    FoundItem::new(
        found.name.clone(),
        found.id.clone().unwrap_or_else(|| found.name.clone()),
        Some(Address::new(Kind::Api, "api")),
        super::Found::Model(found),
    )
}

/// The API's models, and notes when they cannot be listed.
pub async fn find_models(clients: &super::Clients, _env: &Env, api_id: &str) -> Result<(Vec<FoundItem>, Vec<String>)> {
    let doing = || format!("listing the models of WebSocket API `{api_id}`");
    let listed = paginate_if_implemented(doing, |token| async move {
        let call = clients.apigw.get_models().api_id(api_id).set_next_token(token).customize();
        let page = not_implemented_unretried(call).send().await?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await?;
    let Some(models) = listed else {
        let note = "this endpoint cannot list API Gateway models (GetModels fails, as on moto): \
                    models no longer used stay until `wschat destroy`"
            .to_string();
        return Ok((Vec::new(), vec![note]));
    };
    let items = models
        .into_iter()
        .map(|m| {
            item(Found {
                api_id: api_id.to_string(),
                id: m.model_id().map(str::to_string),
                name: m.name().unwrap_or_default().to_string(),
                schema: m.schema().map(str::to_string),
            })
        })
        .collect();
    Ok((items, Vec::new()))
}

/// Adds the models routes reference that the listing did not show (because
/// there was no listing), so that they are not created twice.
pub fn with_referenced(env: &Env, mut models: Vec<FoundItem>, routes: &[FoundItem]) -> Vec<FoundItem> {
    let wanted: Vec<String> = env.stack.api.routes.keys().filter_map(|k| name_for(env, k)).collect();
    for route in routes {
        let Some(route) = super::route::Route::of(&route.found) else { continue };
        let Some(name) = &route.model else { continue };
        let known = models.iter().any(|m| m.address.name == *name);
        if !known && wanted.contains(name) {
            models.push(item(Found { api_id: route.api_id.clone(), id: None, name: name.clone(), schema: None }));
        }
    }
    models
}

/// The route models: one per route with a schema.
pub struct Model;

impl Resource for Model {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let Some(api_id) = reads.api_id() else { return Ok(super::FoundSet::default()) };
        let ((models, notes), routes) =
            tokio::try_join!(find_models(reads.clients, reads.env, &api_id), reads.routes(&api_id))?;
        Ok(super::FoundSet { items: with_referenced(reads.env, models, &routes), notes })
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.api_id.reference()]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        env.schemas
            .iter()
            .map(|(key, schema)| {
                let spec = spec(env, key, schema, ids.api());
                Want::new(spec.name.clone(), spec.name.clone(), spec)
            })
            .collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let Some(schema) = &found.schema else { return Vec::new() };
        let same = match (serde_json::from_str(schema), serde_json::from_str(&spec.schema)) {
            (Ok(a), Ok(b)) => json_equal(&a, &b),
            _ => *schema == spec.schema,
        };
        if same { Vec::new() } else { vec![FieldChange::new("schema", schema, &spec.schema)] }
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let api_id = spec.api_id.get()?.as_str();
        let created = op
            .clients
            .apigw
            .create_model()
            .api_id(api_id)
            .name(&spec.name)
            .content_type(CONTENT_TYPE)
            .schema(&spec.schema)
            .send()
            .done(|| format!("creating model `{}` (route `{}`) in WebSocket API `{api_id}`", spec.name, spec.route_key))
            .await?;
        created.model_id.with_context(|| format!("API Gateway returned no model id for `{}`", spec.name))
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        let Some(id) = &found.id else { return Ok(()) };
        let doing = || format!("updating model `{}` of WebSocket API `{api_id}`", spec.name);
        op.clients.apigw.update_model().api_id(api_id).model_id(id).schema(&spec.schema).send().done(doing).await?;
        Ok(())
    }

    /// Deletes the model when its id is known; otherwise it goes with the API.
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let api_id = found.api_id.as_str();
        let Some(id) = &found.id else { return Ok(()) };
        let doing = || format!("deleting model `{}` of WebSocket API `{api_id}`", found.name);
        op.clients.apigw.delete_model().api_id(api_id).model_id(id).send().gone(doing).await
    }
}
