//! The stack's routes, and the way a client's frame takes one to its handler.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value;
use tracing::{info, warn};

use super::connections::Link;
use super::responses::{ENDPOINT_TIMED_OUT, INTERNAL_SERVER_ERROR, TOO_MANY_REQUESTS, gateway_frame};
use super::{Gateway, Unanswered};
use crate::models::{self, Model};
use wschat_stack::Stack;

/// The stack's route keys, its route selection expression, its route models
/// and its mock routes.
pub(super) struct Routes {
    keys: BTreeSet<String>,
    /// The path into the body that selects the route: `["action"]` for `$request.body.action`.
    selection: Vec<String>,
    /// Route key -> the model its frames must match.
    models: BTreeMap<String, Model>,
    /// Route key -> the body the gateway answers a mock route's frames with.
    mocks: BTreeMap<String, String>,
}

impl Routes {
    pub(super) fn new(stack: &Stack) -> Result<Routes> {
        let Some(path) = stack.api.route_selection.strip_prefix("$request.body.") else {
            anyhow::bail!("api.route_selection `{}` is not `$request.body.<field>`", stack.api.route_selection);
        };
        let loaded = models::load(stack)?;
        for skipped in &loaded.skipped {
            warn!(
                "schema `{}` of route `{}`: {}; wschat dev does not validate `{}` (API Gateway will)",
                skipped.file.display(),
                skipped.route,
                skipped.error,
                skipped.route
            );
        }
        Ok(Routes {
            keys: stack.api.routes.keys().cloned().collect(),
            selection: path.split('.').map(str::to_string).collect(),
            models: loaded.models,
            mocks: stack.api.routes.iter().filter_map(|(k, r)| Some((k.clone(), r.mock()?.to_string()))).collect(),
        })
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// The route of a frame: the selected key when the stack has it, else
    /// `$default` when the stack has that, else none.
    fn select(&self, data: &[u8], binary: bool) -> Option<String> {
        let selected = (!binary)
            .then(|| serde_json::from_slice::<Value>(data).ok())
            .flatten()
            .and_then(|body| self.selection.iter().try_fold(body, |v, key| v.get(key).cloned()))
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|key| !key.starts_with('$') && self.has(key));
        selected.or_else(|| self.has("$default").then(|| "$default".to_string()))
    }
}

impl Gateway {
    /// One frame from a client: route it, throttle it on its route's
    /// bucket, check its model and run the route's handler.
    pub(super) async fn message(self: &Arc<Self>, id: &str, link: &Link, data: &[u8], binary: bool) {
        let Some(route) = self.routes.select(data, binary) else {
            // No route and no `$default`: API Gateway answers the client itself.
            info!("route      {id} (no route, no $default) -> Forbidden");
            let _ = self.connections.deliver(id, gateway_frame("Forbidden", id).as_bytes());
            return;
        };
        if let Some(throttles) = &self.throttles
            && !throttles.admit(&route)
        {
            // API Gateway refuses the frame itself: the function never runs.
            info!("throttle   {id} {route} -> {TOO_MANY_REQUESTS}");
            let _ = self.connections.deliver(id, gateway_frame(TOO_MANY_REQUESTS, id).as_bytes());
            return;
        }
        if let Some(body) = self.routes.mocks.get(&route) {
            // API Gateway answers itself: the MOCK integration's `$default`
            // integration response, sent back by the route's route response.
            info!("route      {id} {route} -> MOCK");
            let _ = self.connections.deliver(id, body.as_bytes());
            return;
        }
        if let Some(model) = self.routes.models.get(&route)
            && let Err(refusal) = model.check_body(data)
        {
            // API Gateway refuses the frame itself: the function never runs.
            info!("model      {id} {route} -> Invalid request body: {refusal}");
            let _ = self.connections.deliver(id, gateway_frame("Invalid request body", id).as_bytes());
            return;
        }
        let event = self.message_event(link, id, &route, data, binary);
        let message = match self.invoke(event).await {
            Ok(response) => {
                info!("route      {id} {route} -> {}", response.status_code);
                return;
            }
            Err(Unanswered::Failed) => INTERNAL_SERVER_ERROR,
            Err(Unanswered::TimedOut) => ENDPOINT_TIMED_OUT,
        };
        info!("route      {id} {route} -> {message}");
        let _ = self.connections.deliver(id, gateway_frame(message, id).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(keys: &[&str]) -> Routes {
        Routes {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            selection: vec!["action".into()],
            models: BTreeMap::new(),
            mocks: BTreeMap::new(),
        }
    }

    #[test]
    fn frames_route_by_their_action_else_default() {
        let r = routes(&["$connect", "$default", "send"]);
        assert_eq!(r.select(br#"{"action":"send","text":"hi"}"#, false).as_deref(), Some("send"));
        assert_eq!(r.select(br#"{"action":"list"}"#, false).as_deref(), Some("$default"));
        assert_eq!(r.select(br#"{"action":"$connect"}"#, false).as_deref(), Some("$default"));
        assert_eq!(r.select(br#"{"action":7}"#, false).as_deref(), Some("$default"));
        assert_eq!(r.select(b"hello", false).as_deref(), Some("$default"));
        assert_eq!(r.select(br#"{"action":"send"}"#, true).as_deref(), Some("$default"));
        assert_eq!(routes(&["send"]).select(b"hello", false), None);
        let nested = Routes {
            keys: ["go".to_string()].into(),
            selection: vec!["a".into(), "b".into()],
            models: BTreeMap::new(),
            mocks: BTreeMap::new(),
        };
        assert_eq!(nested.select(br#"{"a":{"b":"go"}}"#, false).as_deref(), Some("go"));
    }
}
