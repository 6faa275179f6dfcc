//! The route response of each mock route: what makes the route two-way, so
//! that API Gateway sends its MOCK integration's answer back to the caller.
//!
//! "API Gateway will not pass the backend response through to the route
//! response, unless you set up a route response", and "you can only define
//! the $default route response for WebSocket APIs" (API Gateway developer
//! guide, "Set up route responses for WebSocket APIs"). The route selects it
//! with its `RouteResponseSelectionExpression` `$default` ([`super::route`]).
//! (CreateRouteResponse, GetRouteResponses, GetRouteResponse,
//! UpdateRouteResponse and DeleteRouteResponse in the API Gateway v2 API
//! reference: `/v2/apis/{apiId}/routes/{routeId}/routeresponses`.)
//!
//! Found by listing the route responses of each two-way route discovery
//! found (a route with a selection expression: a route stops being two-way
//! only by being re-created, which takes its route responses with it), and
//! named after the route's key. A route response cannot move to another
//! route: one on another route (a duplicate's) is replaced.
//! terraform-provider-aws (`internal/service/apigatewayv2/route_response.go`)
//! reads one by its three-part key, updates its key in place, and takes
//! `NotFoundException` on delete as gone, as [`Resource::delete`] does here.
//!
//! moto has no GetRouteResponses (it answers 500); wschat's test proxy
//! answers it as AWS does. Where an endpoint cannot list them, the route
//! response of each two-way route is taken as there (as route models are,
//! [`super::model`]), so that it is not made again on every deploy.

use anyhow::{Context, Result};

use super::{Address, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Want};
use crate::aws::{Sent, not_implemented_unretried, paginate_if_implemented};
use crate::diff::FieldChange;

/// The one route response key a WebSocket route may have.
pub const KEY: &str = "$default";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    /// The route it answers for.
    pub route_id: Ref<String>,
    pub route_key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    pub route_id: String,
    /// Unknown when the endpoint cannot list route responses.
    pub id: Option<String>,
    pub key: String,
}

fn item(route_key: &str, found: Found) -> FoundItem {
    FoundItem::new(
        route_key,
        found.id.clone().unwrap_or_else(|| format!("{} on route {}", KEY, found.route_id)),
        Some(Address::new(Kind::Api, "api")),
        super::Found::RouteResponse(found),
    )
}

/// The route responses of every two-way route of `routes` (as discovery
/// found them, in their order), named after the route's key; and notes when
/// they cannot be listed.
pub async fn find_route_responses(
    clients: &super::Clients,
    routes: &[FoundItem],
) -> Result<(Vec<FoundItem>, Vec<String>)> {
    let two_way: Vec<&super::route::Found> = routes
        .iter()
        .filter_map(|r| super::route::Route::of(&r.found))
        .filter(|route| route.response_selection.is_some())
        .collect();
    let listed = futures::future::try_join_all(two_way.iter().map(|route| list(clients, route))).await?;
    let mut items = Vec::new();
    let mut notes = Vec::new();
    for (route, listed) in two_way.into_iter().zip(listed) {
        match listed {
            Some(found) => items.extend(found.into_iter().map(|f| item(&route.key, f))),
            None => {
                let found =
                    Found { api_id: route.api_id.clone(), route_id: route.id.clone(), id: None, key: KEY.into() };
                items.push(item(&route.key, found));
                if notes.is_empty() {
                    notes.push(
                        "this endpoint cannot list API Gateway route responses (GetRouteResponses fails, as on moto): \
                         each two-way route's `$default` route response is taken as there"
                            .to_string(),
                    );
                }
            }
        }
    }
    Ok((items, notes))
}

/// The route responses of one route; `None` when the endpoint cannot list them.
async fn list(clients: &super::Clients, route: &super::route::Found) -> Result<Option<Vec<Found>>> {
    let (api_id, route_id) = (route.api_id.as_str(), route.id.as_str());
    let doing = || format!("listing the route responses of route `{}` of WebSocket API `{api_id}`", route.key);
    let listed = paginate_if_implemented(doing, |token| async move {
        let call =
            clients.apigw.get_route_responses().api_id(api_id).route_id(route_id).set_next_token(token).customize();
        let page = not_implemented_unretried(call).send().await?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await?;
    Ok(listed.map(|responses| {
        responses
            .into_iter()
            .map(|r| Found {
                api_id: api_id.to_string(),
                route_id: route_id.to_string(),
                id: r.route_response_id().map(str::to_string),
                key: r.route_response_key().unwrap_or_default().to_string(),
            })
            .collect()
    }))
}

/// The route response of each mock route.
pub struct RouteResponse;

impl Resource for RouteResponse {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let (items, notes) = find_route_responses(reads.clients, &reads.found).await?;
        Ok(super::FoundSet { items, notes })
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.api_id.reference(), spec.route_id.reference()]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        env.stack
            .api
            .routes
            .iter()
            .filter(|(_, route)| route.mock().is_some())
            .map(|(key, _)| {
                let spec = Spec { api_id: ids.api(), route_id: ids.of(Kind::Route, key), route_key: key.clone() };
                Want::new(key, None, spec)
            })
            .collect()
    }

    fn diff(_spec: &Spec, found: &Found) -> Vec<FieldChange> {
        if found.key == KEY { Vec::new() } else { vec![FieldChange::new("key", &found.key, KEY)] }
    }

    /// A route response of another route (a duplicate's, or the old one of
    /// a route that was re-created) cannot move: it is made again on the
    /// route.
    fn replaces(spec: &Spec, found: &Found) -> bool {
        spec.route_id.known().is_some_and(|id| *id != found.route_id)
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let (api_id, route_id) = (spec.api_id.get()?.as_str(), spec.route_id.get()?.as_str());
        let created = op
            .clients
            .apigw
            .create_route_response()
            .api_id(api_id)
            .route_id(route_id)
            .route_response_key(KEY)
            .send()
            .done(|| format!("creating the route response of route `{}` in WebSocket API `{api_id}`", spec.route_key))
            .await?;
        created.route_response_id.context("API Gateway returned no route response id")
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        let Some(id) = &found.id else { return Ok(()) };
        op.clients
            .apigw
            .update_route_response()
            .api_id(api_id)
            .route_id(&found.route_id)
            .route_response_id(id)
            .route_response_key(KEY)
            .send()
            .done(|| format!("updating the route response of route `{}` of WebSocket API `{api_id}`", spec.route_key))
            .await?;
        Ok(())
    }

    /// Deletes the route response when its id is known; otherwise it goes
    /// with its route.
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let api_id = found.api_id.as_str();
        let Some(id) = &found.id else { return Ok(()) };
        let doing =
            || format!("deleting route response `{id}` of route `{}` of WebSocket API `{api_id}`", found.route_id);
        op.clients
            .apigw
            .delete_route_response()
            .api_id(api_id)
            .route_id(&found.route_id)
            .route_response_id(id)
            .send()
            .gone(doing)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_default_key_and_only_on_its_route() {
        let spec = |route: &str| Spec {
            api_id: Ref::new(Address::new(Kind::Api, "api"), Some("a1".into())),
            route_id: Ref::new(Address::new(Kind::Route, "ping"), Some(route.into())),
            route_key: "ping".into(),
        };
        let found = Found { api_id: "a1".into(), route_id: "r1".into(), id: Some("rr1".into()), key: KEY.into() };
        assert_eq!(RouteResponse::diff(&spec("r1"), &found), Vec::new());
        assert!(!RouteResponse::replaces(&spec("r1"), &found));
        assert!(RouteResponse::replaces(&spec("r2"), &found), "a duplicate route's route response");
        let other = Found { key: "other".into(), ..found };
        assert_eq!(RouteResponse::diff(&spec("r1"), &other), [FieldChange::new("key", "other", "$default")]);
    }
}
