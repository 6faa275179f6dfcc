//! The browser's session: the name it signed in with, in a cookie on `/issuer`.

use axum::http::{HeaderMap, header};
use percent_encoding::{percent_decode_str, utf8_percent_encode};

use super::PATH;
use super::parameters::COMPONENT;

/// The session cookie: the name the browser signed in with, on `/issuer` only.
pub(super) const SESSION_COOKIE: &str = "wschat_issuer_session";

/// The name of the browser's session, from its cookie.
pub(super) fn session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .and_then(|(_, value)| percent_decode_str(value).decode_utf8().ok().map(|v| v.into_owned()))
        .and_then(|name| chat_core::protocol::check_name(&name).ok())
}

pub(super) fn session_cookie(name: &str) -> String {
    let value: String = utf8_percent_encode(name, COMPONENT).collect();
    format!("{SESSION_COOKIE}={value}; Path={PATH}; HttpOnly; SameSite=Lax")
}

pub(super) fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path={PATH}; HttpOnly; SameSite=Lax; Max-Age=0")
}
