//! The issuer's HTTP routes: discovery, keys, login, authorize, token and logout.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tracing::info;

use super::Issuer;
use super::codes::{Refused, TokenError};
use super::pages::{escape_html, page, sign_in_page};
use super::parameters::{form_pairs, origin_of, parameters, with_query};
use super::session::{cleared_cookie, session, session_cookie};
use wschat_stack::website::SIGN_IN_SCOPE;

/// The issuer's routes, to mount at [`PATH`](super::PATH).
pub fn routes<S: Clone + Send + Sync + 'static>(issuer: Arc<Issuer>) -> Router<S> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks.json", get(jwks))
        .route("/login", get(login))
        .route("/authorize", get(authorize_page).post(authorize_form))
        .route("/token", axum::routing::post(token))
        .route("/logout", get(logout))
        .with_state(issuer)
}

async fn discovery(State(issuer): State<Arc<Issuer>>) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(issuer.discovery())).into_response()
}

async fn jwks(State(issuer): State<Arc<Issuer>>) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(json!({ "keys": [issuer.jwk] }))).into_response()
}

/// `GET /login?name=NAME[&client_id=ID][&nonce=N]`: tokens at once.
async fn login(State(issuer): State<Arc<Issuer>>, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let params = match parameters(pairs) {
        Ok(params) => params,
        Err(e) => return token_error(TokenError::new("invalid_request", e)),
    };
    let name = params.get("name").map(String::as_str).unwrap_or_default();
    let name = match chat_core::protocol::check_name(name) {
        Ok(name) => name,
        Err(e) => return token_error(TokenError::new("invalid_request", format!("name: {e}"))),
    };
    let client_id = params.get("client_id").filter(|c| !c.is_empty()).unwrap_or(&issuer.client_id);
    info!("issuer     login {name:?} (client {client_id})");
    let tokens = issuer.sign(&name, client_id, params.get("nonce").map(String::as_str), SIGN_IN_SCOPE);
    no_store(Json(tokens).into_response())
}

/// `GET /authorize`: straight back with a code for a browser with a session,
/// else the form.
async fn authorize_page(
    State(issuer): State<Arc<Issuer>>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let request = match parameters(pairs).map_err(Refused::Here).and_then(|params| issuer.check(&params)) {
        Ok(request) => request,
        Err(refused) => return refusal(refused),
    };
    let prompts: Vec<&str> = request.prompt.as_deref().unwrap_or_default().split(' ').collect();
    match session(&headers) {
        Some(name) if !prompts.contains(&"login") => {
            no_store((StatusCode::FOUND, [(header::LOCATION, issuer.grant(&request, &name))]).into_response())
        }
        // OpenID Connect Core 3.1.2.6: no session and no page to show.
        _ if prompts.contains(&"none") => refusal(Refused::Back {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: "login_required",
            description: "nobody is signed in to the local issuer in this browser".into(),
        }),
        _ => sign_in_page(&request, "", None, StatusCode::OK),
    }
}

/// `POST /authorize`: the form's name signs in.
async fn authorize_form(State(issuer): State<Arc<Issuer>>, headers: HeaderMap, body: String) -> Response {
    // A form on another site may not sign this browser in (login CSRF).
    if let Err(reason) = same_origin(&headers, &issuer.origin) {
        return refusal(Refused::Here(reason));
    }
    let params = match parameters(form_pairs(&body)) {
        Ok(params) => params,
        Err(e) => return refusal(Refused::Here(e)),
    };
    let request = match issuer.check(&params) {
        Ok(request) => request,
        Err(refused) => return refusal(refused),
    };
    let typed = params.get("name").map(String::as_str).unwrap_or_default();
    let name = match chat_core::protocol::check_name(typed) {
        Ok(name) => name,
        Err(e) => return sign_in_page(&request, typed, Some(&e), StatusCode::BAD_REQUEST),
    };
    let location = issuer.grant(&request, &name);
    no_store(
        (StatusCode::SEE_OTHER, [(header::LOCATION, location), (header::SET_COOKIE, session_cookie(&name))])
            .into_response(),
    )
}

/// Whether a form post comes from this issuer's own page. Browsers say so in
/// `Sec-Fetch-Site` (`same-origin`); this page's `no-referrer` policy makes
/// them send `Origin: null`, which a cross-site form can send too, so `null`
/// alone proves nothing. A request with neither header is no browser's.
fn same_origin(headers: &HeaderMap, own: &str) -> Result<(), String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return match site {
            "same-origin" => Ok(()),
            other => Err(format!("A form from another site ({other}) may not sign in here.")),
        };
    }
    match header("origin") {
        None => Ok(()),
        Some(origin) if origin == own => Ok(()),
        Some(origin) => Err(format!("A form on {origin} may not sign in here.")),
    }
}

/// `POST /token`.
async fn token(State(issuer): State<Arc<Issuer>>, body: String) -> Response {
    let result = parameters(form_pairs(&body))
        .map_err(|e| TokenError::new("invalid_request", e))
        .and_then(|params| issuer.redeem(&params));
    match result {
        Ok(tokens) => no_store(Json(tokens).into_response()),
        Err(e) => {
            info!("issuer     token refused: {} ({})", e.error, e.description);
            token_error(e)
        }
    }
}

/// `GET /logout`: the session cookie goes, and the browser back to
/// `post_logout_redirect_uri` when that is on this origin.
async fn logout(State(issuer): State<Arc<Issuer>>, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let params: HashMap<String, String> = pairs.into_iter().collect();
    let back = params
        .get("post_logout_redirect_uri")
        .filter(|uri| origin_of(uri).as_deref() == Some(issuer.origin.as_str()) && !uri.contains('#'));
    let cookie = [(header::SET_COOKIE, cleared_cookie())];
    info!("issuer     logout");
    match back {
        Some(uri) => {
            let state = params.get("state").map(|s| vec![("state", s.as_str())]).unwrap_or_default();
            no_store((StatusCode::FOUND, cookie, [(header::LOCATION, with_query(uri, &state))]).into_response())
        }
        None => no_store(
            (cookie, page("Signed out", "<p>You are signed out of wschat dev's local issuer.</p>", None))
                .into_response(),
        ),
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    response
}

/// RFC 6749 5.2: 400 with `{"error","error_description"}`.
fn token_error(e: TokenError) -> Response {
    let body = json!({ "error": e.error, "error_description": e.description });
    no_store((StatusCode::BAD_REQUEST, Json(body)).into_response())
}

fn refusal(refused: Refused) -> Response {
    match refused {
        Refused::Here(why) => {
            info!("issuer     authorize refused: {why}");
            (
                StatusCode::BAD_REQUEST,
                page("Cannot sign in", &format!("<p class=\"error\">{}</p>", escape_html(&why)), None),
            )
                .into_response()
        }
        Refused::Back { redirect_uri, state, error, description } => {
            info!("issuer     authorize refused: {error} ({description})");
            let mut pairs = vec![("error", error), ("error_description", description.as_str())];
            if let Some(state) = &state {
                pairs.push(("state", state));
            }
            no_store((StatusCode::FOUND, [(header::LOCATION, with_query(&redirect_uri, &pairs))]).into_response())
        }
    }
}
