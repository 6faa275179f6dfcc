//! The issuer's HTML: the sign-in form, and the small script-free page every answer in HTML takes.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::PATH;
use super::codes::Authorization;
use super::parameters::origin_of;

/// The form: a name, and the request in hidden fields.
pub(super) fn sign_in_page(request: &Authorization, name: &str, error: Option<&str>, status: StatusCode) -> Response {
    let hidden = [
        ("response_type", Some("code")),
        ("client_id", Some(request.client_id.as_str())),
        ("redirect_uri", Some(request.redirect_uri.as_str())),
        ("state", request.state.as_deref()),
        ("code_challenge", Some(request.challenge.as_str())),
        ("code_challenge_method", Some("S256")),
        ("nonce", request.nonce.as_deref()),
        ("scope", Some(request.scope.as_str())),
    ];
    let fields: String = hidden
        .iter()
        .filter_map(|(key, value)| {
            Some(format!("<input type=\"hidden\" name=\"{key}\" value=\"{}\">", escape_html((*value)?)))
        })
        .collect();
    let body = format!(
        "<p>wschat dev's local issuer signs in any name, without a password, for <b>{client}</b>.</p>\
         <form method=\"post\" action=\"{PATH}/authorize\">\
         <label for=\"name\">Your name</label>\
         <input id=\"name\" name=\"name\" required maxlength=\"{max}\" autocomplete=\"nickname\" autofocus value=\"{name}\">\
         <p class=\"error\" role=\"alert\">{error}</p>{fields}\
         <button type=\"submit\">Sign in</button></form>",
        client = escape_html(&request.client_id),
        max = chat_core::protocol::MAX_NAME_CHARS,
        name = escape_html(name),
        error = escape_html(error.unwrap_or_default()),
    );
    (status, page("Sign in", &body, origin_of(&request.redirect_uri))).into_response()
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;\
background:#f4f5f7;color:#1d2330}main{background:#fff;padding:2rem;border-radius:12px;max-width:24rem;\
box-shadow:0 2px 12px #0002}h1{margin-top:0}label{display:block;font-weight:600}input{font:inherit;width:100%;\
box-sizing:border-box;padding:.5rem;margin:.25rem 0;border:1px solid #6b7280;border-radius:6px}button{font:inherit;\
padding:.5rem 1.25rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}\
.error{color:#b91c1c;min-height:1.5em;margin:.25rem 0}";

/// A small page with its own strict policy: no script at all, this style
/// only, and forms that post here (and, after the redirect, land on the
/// client's origin: Chromium applies form-action to the redirect too).
pub(super) fn page(title: &str, body: &str, form_target: Option<String>) -> impl IntoResponse + use<> {
    let style_hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{style_hash}'; form-action 'self'{}; frame-ancestors 'self'; base-uri 'none'",
        form_target.map(|o| format!(" {o}")).unwrap_or_default()
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} · wschat dev issuer</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape_html(title),
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        html,
    )
}

/// Text for HTML, in element content and in quoted attributes.
pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
