//! The API mapping of the WebSocket's custom domain: its root (an empty
//! mapping key) to the stack's API and stage, so that the endpoint is
//! `wss://{domain.websocket}` with no path. The Management API endpoint the
//! notify function posts to stays on the execute-api host
//! ([`wschat_stack::Stack::management_endpoint`]): the custom domain serves
//! the WebSocket, not `@connections` at the stage path.

use anyhow::{Context, Result};

use super::{Clients, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Want};
use crate::aws::Sent;
use crate::diff::FieldChange;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub domain: String,
    pub api_id: Ref<String>,
    pub stage: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: String,
    pub domain: String,
    pub api_id: String,
    pub stage: String,
    pub key: String,
}

/// The root mapping of each of the stack's API Gateway domains.
pub async fn find_api_mappings(clients: &Clients, domains: &[FoundItem]) -> Result<Vec<FoundItem>> {
    let mut items = Vec::new();
    for item in domains {
        let Some(domain) = super::api_domain::ApiDomain::of(&item.found) else { continue };
        let doing = || format!("reading the API mappings of API Gateway domain `{}`", domain.name);
        let Some(got) = clients.apigw.get_api_mappings().domain_name(&domain.name).send().found(doing).await? else {
            continue;
        };
        for m in got.items.unwrap_or_default() {
            let found = Found {
                id: m.api_mapping_id.clone().unwrap_or_default(),
                domain: domain.name.clone(),
                api_id: m.api_id.clone().unwrap_or_default(),
                stage: m.stage.clone().unwrap_or_default(),
                key: m.api_mapping_key.clone().unwrap_or_default(),
            };
            // Only the root mapping is the stack's; another key is the user's.
            if !found.key.is_empty() {
                continue;
            }
            let owner = Some(item.address.clone());
            items.push(FoundItem::new(&domain.name, found.id.clone(), owner, super::Found::ApiMapping(found)));
        }
    }
    Ok(items)
}

/// The WebSocket domain's API mapping.
pub struct ApiMapping;

impl Resource for ApiMapping {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_api_mappings(reads.clients, &reads.found).await?.into())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let Some(domain) = &env.stack.domain else { return Vec::new() };
        let spec = Spec {
            domain: domain.websocket_name().to_string(),
            api_id: ids.api(),
            stage: env.stack.api_stage().to_string(),
        };
        vec![Want::new(domain.websocket_name(), None, spec)]
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![
            Reference::exists(Kind::ApiDomain, &spec.domain),
            spec.api_id.reference(),
            Reference::exists(Kind::Stage, &spec.stage),
        ]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if let Some(api) = spec.api_id.known()
            && *api != found.api_id
        {
            fields.push(FieldChange::new("api", &found.api_id, api));
        }
        if found.stage != spec.stage {
            fields.push(FieldChange::new("stage", &found.stage, &spec.stage));
        }
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let created = op
            .clients
            .apigw
            .create_api_mapping()
            .domain_name(&spec.domain)
            .api_id(spec.api_id.get()?)
            .stage(&spec.stage)
            .api_mapping_key("")
            .send()
            .done(|| format!("mapping API Gateway domain `{}` to stage `{}`", spec.domain, spec.stage))
            .await?;
        created.api_mapping_id.context("API Gateway returned no API mapping id")
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        op.clients
            .apigw
            .update_api_mapping()
            .domain_name(&spec.domain)
            .api_mapping_id(&found.id)
            .api_id(spec.api_id.get()?)
            .stage(&spec.stage)
            .send()
            .done(|| format!("updating the API mapping of API Gateway domain `{}`", spec.domain))
            .await
            .map(drop)
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting the API mapping of API Gateway domain `{}`", found.domain);
        op.clients
            .apigw
            .delete_api_mapping()
            .domain_name(&found.domain)
            .api_mapping_id(&found.id)
            .send()
            .gone(doing)
            .await
    }

    fn describe(found: &Found) -> Option<String> {
        Some(format!("wss://{} → API {} stage {}", found.domain, found.api_id, found.stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Address;

    #[test]
    fn the_root_of_the_domain_maps_to_the_stage() {
        let env = crate::resources::tests::shipped_with_domain(None);
        let mut ids = Ids::default();
        ids.record(&Address::new(Kind::Api, "api"), "a1");
        let want = ApiMapping::desired(&env, &ids).remove(0);
        assert_eq!((want.spec.domain.as_str(), want.spec.stage.as_str()), ("ws.chat.example.com", "dev"));
        let found = Found {
            id: "m1".into(),
            domain: "ws.chat.example.com".into(),
            api_id: "a0".into(),
            stage: "dev".into(),
            key: String::new(),
        };
        let fields = ApiMapping::diff(&want.spec, &found);
        assert_eq!(fields.len(), 1);
        assert_eq!((fields[0].field.as_str(), fields[0].to.as_str()), ("api", "a1"));
    }
}
