//! Discovery: reads every resource of the stack from AWS, each kind with its
//! own [`Resource::find`], in the order the table of kinds gives: a kind is
//! read as soon as the kinds it `reads` have been, so independent reads run
//! at once (the API's routes beside the functions, the bucket's policy as
//! soon as the bucket is known to exist).

use std::collections::BTreeSet;
use std::future::Future;
use std::rc::Rc;

use anyhow::Result;
use aws_sdk_apigatewayv2::types::Integration as ApiIntegration;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::OnceCell;

use super::{Clients, Env, FoundItem, FoundSet, Kind, find, integration, route};

/// What one kind's `find` reads with.
pub struct Reads<'a> {
    pub clients: &'a Clients,
    pub env: &'a Env,
    /// What the kinds this one reads (its `reads` in the table) found.
    pub found: Rc<Vec<FoundItem>>,
    shared: &'a Shared,
}

/// Listings that several kinds read, made once per discovery: the API's
/// routes (routes, and the integrations and models they reference) and its
/// integrations (function and MOCK integrations are kinds of their own).
#[derive(Default)]
struct Shared {
    routes: OnceCell<Vec<FoundItem>>,
    integrations: OnceCell<Vec<ApiIntegration>>,
}

impl Reads<'_> {
    /// The id of the WebSocket API found, the one serving the stage first.
    pub fn api_id(&self) -> Option<String> {
        self.found.iter().find(|i| i.address.kind == Kind::Api).map(|i| i.id.clone())
    }

    /// The routes of API `api_id`, read once.
    pub async fn routes(&self, api_id: &str) -> Result<Vec<FoundItem>> {
        let routes = self.shared.routes.get_or_try_init(|| route::find_routes(self.clients, self.env, api_id)).await?;
        Ok(routes.clone())
    }

    /// The integrations of API `api_id` as API Gateway lists them, read once.
    pub async fn integrations(&self, api_id: &str) -> Result<Vec<ApiIntegration>> {
        let listed =
            self.shared.integrations.get_or_try_init(|| integration::list_integrations(self.clients, api_id)).await?;
        Ok(listed.clone())
    }

    /// `read` for each function of stack.yaml, at once, in stack.yaml's order.
    pub async fn each_function<'f, T, F, Fut>(&'f self, read: F) -> Result<Vec<T>>
    where
        F: Fn(&'f str) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        futures::future::try_join_all(self.env.stack.functions.keys().map(|f| read(f.as_str()))).await
    }
}

/// Reads every resource of the stack. The items come in the table's order
/// of kinds, each kind's in the order its `find` gave (the first of
/// duplicates is the one kept).
pub async fn discover(clients: &Clients, env: &Env) -> Result<FoundSet> {
    let shared = Shared::default();
    let mut found = FoundSet::default();
    let mut read: BTreeSet<Kind> = BTreeSet::new();
    let mut started: BTreeSet<Kind> = BTreeSet::new();
    let mut running = FuturesUnordered::new();
    loop {
        for &kind in Kind::ALL {
            if started.contains(&kind) || !kind.reads().iter().all(|k| read.contains(k)) {
                continue;
            }
            started.insert(kind);
            let items = found.items.iter().filter(|i| kind.reads().contains(&i.address.kind)).cloned().collect();
            let reads = Reads { clients, env, found: Rc::new(items), shared: &shared };
            running.push(async move { (kind, find(kind, reads).await) });
        }
        let Some((kind, result)) = running.next().await else { break };
        let part = result?;
        found.items.extend(part.items);
        found.notes.extend(part.notes);
        read.insert(kind);
    }
    // The table lists what a kind reads before it (a unit test checks), so every kind was read.
    debug_assert_eq!(read.len(), Kind::ALL.len());
    found.items.sort_by_key(|i| i.address.kind);
    Ok(found)
}
