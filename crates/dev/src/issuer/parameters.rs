//! Parameters in URLs and form bodies: percent-encoded, decoded, and the origin of a URL.

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters is percent-encoded.
pub(super) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `scheme://host[:port]` of an absolute URL.
pub(super) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

/// `uri` with `pairs` added to its query.
pub(super) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    for (i, (key, value)) in pairs.iter().enumerate() {
        let joiner = if i == 0 && !uri.contains('?') { '?' } else { '&' };
        out.push(joiner);
        out.extend(utf8_percent_encode(key, COMPONENT));
        out.push('=');
        out.extend(utf8_percent_encode(value, COMPONENT));
    }
    out
}

/// `application/x-www-form-urlencoded` pairs. A parameter given twice is
/// refused (RFC 6749 3.1: "Request and response parameters MUST NOT be
/// included more than once").
pub(super) fn parameters(pairs: impl IntoIterator<Item = (String, String)>) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (key, value) in pairs {
        if params.contains_key(&key) {
            return Err(format!("the parameter `{key}` is given more than once"));
        }
        params.insert(key, value);
    }
    Ok(params)
}

/// The pairs of a form body.
pub(super) fn form_pairs(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}
