//! `wschat dev`: the whole chat on this machine, with API Gateway WebSocket
//! semantics and no AWS account.
//!
//! One HTTP listener serves:
//! - `ws://HOST:PORT/{stage}`: the WebSocket endpoint ([`gateway`]), which
//!   selects routes like API Gateway and runs chat-core's `handle_websocket`
//!   in-process, as the `chat` Lambda would, after checking frames against
//!   their route's model ([`models`]) as API Gateway does;
//! - `POST|GET|DELETE /@connections/{id}`: the Management API ([`management`]),
//!   wire-compatible with the SDK's ApiGatewayManagement client; off the
//!   loopback, for clients on this machine only unless `--open-management`;
//! - `/config.json` and the `website.source` files ([`site`]);
//! - with `--issuer local`, an OpenID Connect issuer under `/issuer` ([`issuer`]).
//!
//! With sign-in (`--issuer local`, or a stack with `api.auth.jwt`), the
//! gateway runs the authorizer before `$connect`, as API Gateway does, and
//! config.json tells the page how to sign in.
//!
//! Notifications go through a queue ([`queue`]): in-process by default, with
//! SQS's delays, batches and retries, or SQS itself with `--aws-store`
//! ([`backend`]). Its consumer runs chat-core's `handle_sqs`, as the `notify`
//! Lambda would.

mod args;
mod backend;
pub mod functions;
mod gateway;
mod issuer;
mod management;
mod models;
mod ports;
mod queue;
mod site;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use chat_core::auth::{FixedKeys, JwtConfig, Verifier};
use chat_core::oidc::OidcKeys;
use serde::Serialize;
use tokio::sync::watch;
use tracing::{info, warn};

use wschat_engine::aws::AwsTarget;
use wschat_stack::website::{PageAuth, PageConfig};
use wschat_stack::{Auth, Stack};

pub use args::{DevArgs, DevIssuer};
pub use gateway::{Limits, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};

/// The URLs `wschat dev` prints: the page, the chat and, with sign-in, the issuer.
#[derive(Debug, Clone, Serialize)]
pub struct Urls {
    pub website: String,
    pub websocket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// Runs `wschat dev` until SIGINT or SIGTERM, then closes every connection
/// (so that each gets its `$disconnect`) and returns. `aws` is where
/// `--aws-store` keeps connections and notifications (and names the region);
/// with `json`, the URLs are printed as JSON on stdout.
pub async fn run(stack: &Stack, aws: &AwsTarget, dev: &DevArgs, json: bool) -> Result<()> {
    if stack.api.auth == Auth::Iam {
        warn!("api.auth is iam: wschat dev does not check SigV4 on $connect and lets every connection in");
    }
    let listener = tokio::net::TcpListener::bind((dev.host.as_str(), dev.port))
        .await
        .with_context(|| format!("listening on {}:{} (pass --port 0 for a free port)", dev.host, dev.port))?;
    let port = listener.local_addr().context("reading the listener's address")?.port();
    let authority = authority(&dev.host, port);
    let (verifier, page_auth, local_issuer) = match sign_in(stack, dev, &format!("http://{authority}")).await? {
        Some(SignIn { verifier, page, local }) => (Some(verifier), Some(page), local),
        None => (None, None, None),
    };
    let urls = Urls {
        website: format!("http://{authority}/"),
        websocket: format!("ws://{authority}/{}", stack.api_stage()),
        issuer: page_auth.as_ref().map(|auth| auth.issuer.clone()),
    };

    let (shutdown, shutdown_rx) = watch::channel(false);
    let management = format!("http://{authority}/{}", stack.api_stage());
    let backend = backend::open(aws, dev, stack).await?;
    // The shipped handlers reach dev's tables and queue, whichever they are, through dev.
    let secret = ports::secret();
    let reach = functions::Reach {
        management,
        ports: format!("http://{authority}{}/{secret}", ports::PATH),
        queue_url: backend.queue_url.clone(),
    };
    let functions = Arc::new(functions::Functions::start(stack, &reach, aws, dev).await?);
    let any_process = !functions.is_empty();
    let limits = Limits {
        idle: Duration::from_secs(dev.idle_timeout),
        lifetime: Duration::from_secs(dev.max_lifetime),
        integration: Duration::from_secs(dev.integration_timeout),
    };
    let throttles = (!dev.no_throttle).then(|| gateway::Throttles::new(&stack.api));
    let gateway = Arc::new(gateway::Gateway::new(gateway::Setup {
        stack,
        domain: authority.clone(),
        region: aws.region.clone().unwrap_or_else(|| "us-east-1".into()),
        sign_in: verifier,
        limits,
        throttles,
        store: backend.store,
        notifier: backend.notifier,
        messages: backend.messages,
        presence: backend.presence,
        metrics: dev.metrics.then(|| stack.metrics_namespace()),
        shutdown: shutdown_rx.clone(),
        functions,
    })?);
    tokio::spawn(backend.consumer.run(gateway.clone()));

    let page = PageConfig { websocket_url: urls.websocket.clone(), auth: page_auth };
    let site = Arc::new(site::Site::new(stack.dir.join(&stack.website.source), page));
    if !site.root().is_dir() {
        warn!("website.source `{}` is not a folder; only config.json is served", site.root().display());
    }
    let management = management_access(dev);
    let mut app = router(State { gateway: gateway.clone(), site, management }, stack.api_stage());
    if any_process {
        let state = ports::Ports { gateway: gateway.clone(), secret: secret.into() };
        app =
            app.merge(Router::new().route(&format!("{}/{{secret}}", ports::PATH), post(ports::call)).with_state(state));
    }
    if let Some(local) = local_issuer {
        app = app.nest(issuer::PATH, issuer::routes(local));
    }
    if is_loopback(&dev.host) {
        app = app.layer(axum::middleware::from_fn(loopback_host));
    }

    let stopped = stop_signal();
    eprintln!("website:   {}", urls.website);
    eprintln!("websocket: {}", urls.websocket);
    if let Some(issuer) = &urls.issuer {
        eprintln!("issuer:    {issuer}");
    }
    if json {
        println!("{}", serde_json::to_string(&urls).expect("URLs serialize"));
    }

    // The listener stops after the connections have closed, not with them:
    // a function's process reaches dev's tables and Management API through
    // it to run `$disconnect`.
    let (stop_listening, mut server_stopped) = watch::channel(false);
    let server = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = server_stopped.wait_for(|stop| *stop).await;
            })
            .await
    });

    stopped.await;
    info!("shutting down: closing {} connections", gateway.open_connections());
    let _ = shutdown.send(true);
    if tokio::time::timeout(Duration::from_secs(10), gateway.closed()).await.is_err() {
        warn!("some connections did not finish closing within 10 s");
    }
    let _ = stop_listening.send(true);
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Err(e))) => Err(e).context("serving HTTP"),
        _ => Ok(()),
    }
}

/// Sign-in in dev: the authorizer's verifier, config.json's `auth`, and the
/// local issuer when it is the one.
struct SignIn {
    verifier: Verifier<gateway::Keys>,
    page: PageAuth,
    local: Option<Arc<issuer::Issuer>>,
}

/// Whether sign-in is on, and with which issuer: `--issuer local` (for the
/// stack's first audience, or [`issuer::DEV_CLIENT_ID`]), else the stack's
/// `api.auth.jwt` issuer, else none.
async fn sign_in(stack: &Stack, dev: &DevArgs, origin: &str) -> Result<Option<SignIn>> {
    let jwt = match &stack.api.auth {
        Auth::Jwt(jwt) => Some(jwt),
        Auth::None | Auth::Iam => None,
    };
    match (dev.issuer, jwt) {
        (Some(DevIssuer::Local), jwt) => {
            if !is_loopback(&dev.host) {
                warn!("--issuer local on {}: anyone who can reach it can sign in under any name", dev.host);
            }
            let client_id = jwt.and_then(|jwt| jwt.audience.first()).map_or(issuer::DEV_CLIENT_ID, String::as_str);
            let local = Arc::new(issuer::Issuer::new(origin, client_id, dev.token_lifetime)?);
            let config = JwtConfig {
                issuer: local.url().to_string(),
                audience: vec![client_id.to_string()],
                name_claim: jwt.and_then(|jwt| jwt.name_claim.clone()),
            };
            let verifier = Verifier::new(config, gateway::Keys::Local(FixedKeys(local.keys())));
            Ok(Some(SignIn { verifier, page: local.page_auth(), local: Some(local) }))
        }
        (None, Some(jwt)) => {
            let issuer = &jwt.issuer;
            let discovery = chat_core::oidc::discover(issuer)
                .await
                .map_err(|e| anyhow!("reading the discovery document of api.auth.jwt.issuer `{issuer}`: {e}"))?;
            let page = PageAuth::from_discovery(jwt, discovery).map_err(|why| {
                anyhow!("api.auth.jwt.issuer `{issuer}`: {why} (pass --issuer local to sign in without it)")
            })?;
            let keys = OidcKeys::new(issuer).map_err(|e| anyhow!("reading the keys of api.auth.jwt.issuer: {e}"))?;
            Ok(Some(SignIn {
                verifier: Verifier::new(jwt.config(), gateway::Keys::Issuer(Box::new(keys))),
                page,
                local: None,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// Who may call `@connections`, said on stderr when `--host` lets others
/// reach it: on AWS it takes a SigV4 signature, which dev does not check.
fn management_access(dev: &DevArgs) -> management::Access {
    match (is_loopback(&dev.host), dev.open_management) {
        (true, _) => management::Access::Open,
        (false, true) => {
            warn!(
                "--open-management on {}: anyone who can reach it can post to and close every connection \
                 (@connections); on AWS only signed callers can",
                dev.host
            );
            management::Access::Open
        }
        (false, false) => {
            info!(
                "the Management API (@connections) answers clients on this machine only, as on AWS it answers \
                 signed callers only; --open-management opens it to every address {} reaches",
                dev.host
            );
            management::Access::ThisMachine
        }
    }
}

/// On a loopback address, answers only requests whose `Host` is a loopback
/// name: a site whose name resolves to 127.0.0.1 (DNS rebinding) could
/// otherwise read and post here from the developer's browser. Vite answers
/// the same way since CVE-2025-24010.
async fn loopback_host(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = request.headers().get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if is_loopback_name(host) {
        return next.run(request).await;
    }
    info!("refused a request for Host `{host}`: on the loopback, wschat dev answers localhost only");
    let body = format!(
        "wschat dev answers requests for localhost, 127.0.0.1 and [::1] only, not `{host}`;          use --host to serve other names\n"
    );
    (axum::http::StatusCode::FORBIDDEN, body).into_response()
}

/// Whether a `Host` header (with or without a port) names this machine's loopback.
fn is_loopback_name(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]:8080`, `127.0.0.1:8080`, `localhost:8080`; a bare `::1` is no Host.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || is_loopback(&name)
}

/// Whether `host` is reachable from this machine only.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host:port` for URLs, with IPv6 addresses in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// What every request handler can reach.
#[derive(Clone)]
struct State {
    gateway: Arc<gateway::Gateway>,
    site: Arc<site::Site>,
    management: management::Access,
}

impl FromRef<State> for Arc<gateway::Gateway> {
    fn from_ref(state: &State) -> Self {
        state.gateway.clone()
    }
}

impl FromRef<State> for Arc<site::Site> {
    fn from_ref(state: &State) -> Self {
        state.site.clone()
    }
}

fn router(state: State, stage: &str) -> Router {
    let access = state.management;
    let connections = || {
        get(management::get_connection)
            .post(management::post_to_connection)
            .delete(management::delete_connection)
            .route_layer(axum::middleware::from_fn_with_state(access, management::guard))
    };
    Router::new()
        .route(&format!("/{stage}"), get(gateway::upgrade))
        .route(&format!("/{stage}/"), get(gateway::upgrade))
        // The SDK posts to `{endpoint}/@connections/{id}`: the endpoint may be
        // the server root or, as on AWS, the stage's URL.
        .route("/@connections/{id}", connections())
        .route(&format!("/{stage}/@connections/{{id}}"), connections())
        .route("/config.json", get(site::config))
        .fallback(site::file)
        .with_state(state)
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM after it was called:
/// the handlers are in place when it returns, before the future is polled.
/// dev calls it before it prints its URLs, so that whoever stops it as soon
/// as they appear is heard (a SIGTERM before then ended the process with the
/// signal's default action, and no `$disconnect`).
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| {
            signal(kind).inspect_err(move |e| warn!("listening for {name}: {e}")).ok()
        };
        let (mut interrupt, mut terminate) =
            (listen(SignalKind::interrupt(), "Ctrl-C"), listen(SignalKind::terminate(), "SIGTERM"));
        async fn next(signal: Option<&mut tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => _ = signal.recv().await,
                None => std::future::pending().await,
            }
        }
        async move {
            tokio::select! {
                () = next(interrupt.as_mut()) => {}
                () = next(terminate.as_mut()) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!("listening for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    }
}

/// An id in API Gateway's shape (`CT0wvdWqoAMCLVg=`): 15 letters and digits
/// and a `=`. Connection ids, request ids and message ids look alike.
fn new_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id: String = (0..15).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect();
    id.push('=');
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateway_ids() {
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
        assert!(id[..15].chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn only_loopback_hosts_count_as_this_machine() {
        assert!(is_loopback("127.0.0.1") && is_loopback("::1") && is_loopback("[::1]") && is_loopback("localhost"));
        assert!(!is_loopback("0.0.0.0") && !is_loopback("192.168.1.5") && !is_loopback("chat.example"));
        for host in
            ["localhost", "localhost:8080", "127.0.0.1:1", "127.9.9.9", "[::1]:80", "[::1]", "app.localhost:3000"]
        {
            assert!(is_loopback_name(host), "{host}");
        }
        for host in
            ["evil.example", "evil.example:8080", "127.0.0.1.nip.io", "localhost.evil.example", "0.0.0.0:80", ""]
        {
            assert!(!is_loopback_name(host), "{host}");
        }
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(authority("127.0.0.1", 8080), "127.0.0.1:8080");
        assert_eq!(authority("::1", 80), "[::1]:80");
        assert_eq!(authority("localhost", 1), "localhost:1");
    }
}
