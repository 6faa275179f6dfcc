//! What a served copy of the web page needs, wherever it is served: in the
//! bucket behind CloudFront (deploy) or from disk (`wschat dev`). Each file's
//! Content-Type and Cache-Control, `config.json`, and each page's
//! Content-Security-Policy pinned to the chat's WebSocket origin.

/// The generated file that holds the `wss://` URL.
pub const CONFIG_KEY: &str = "config.json";

pub const NO_CACHE: &str = "no-cache";
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub const SHORT: &str = "public, max-age=300";

/// What the page is told in `config.json`: where the chat is and, for a
/// stack with sign-in, how to sign people in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageConfig {
    pub websocket_url: String,
    pub auth: Option<PageAuth>,
}

/// `{"websocketUrl": .., "server": .., "auth"?: ..}`. `server` is the same
/// URL under the key LambdaSharp's own front-end reads, so that its page
/// works when it is dropped into `website.source`.
impl serde::Serialize for PageConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("websocketUrl", &self.websocket_url)?;
        map.serialize_entry("server", &self.websocket_url)?;
        if let Some(auth) = &self.auth {
            map.serialize_entry("auth", auth)?;
        }
        map.end()
    }
}

/// config.json's `auth`: an OpenID Connect issuer's endpoints (from its
/// discovery document) and the client the page signs in as, with the
/// authorization code flow and PKCE.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageAuth {
    pub issuer: String,
    pub client_id: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// The scopes the page asks for.
    pub scope: String,
}

/// The scopes the page asks an issuer for: enough for a name claim.
pub const SIGN_IN_SCOPE: &str = "openid profile email";

impl PageConfig {
    /// A page without sign-in.
    pub fn open(websocket_url: impl Into<String>) -> PageConfig {
        PageConfig { websocket_url: websocket_url.into(), auth: None }
    }

    /// The origins the page may connect to beside its own: the chat's
    /// WebSocket and, with sign-in, the issuer's token endpoint. (It reaches
    /// the authorization endpoint by navigating, which connect-src does not cover.)
    pub fn connect_origins(&self) -> Vec<String> {
        let mut origins = vec![origin(&self.websocket_url)];
        if let Some(auth) = &self.auth {
            let token = origin(&auth.token_endpoint);
            if !origins.contains(&token) {
                origins.push(token);
            }
        }
        origins
    }
}

impl PageAuth {
    /// The page's sign-in with `jwt`'s issuer, from its discovery document
    /// (the caller reads it: this module does no I/O); the page signs in as
    /// the first accepted audience (the app client id). Without an endpoint
    /// the page needs, the error says which.
    pub fn from_discovery(jwt: &crate::Jwt, found: chat_core::auth::Discovery) -> Result<PageAuth, String> {
        let required = |value: Option<String>, name: &str| {
            value.ok_or_else(|| {
                format!("its discovery document has no `{name}`, which the page needs to sign people in")
            })
        };
        Ok(PageAuth {
            issuer: found.issuer,
            client_id: jwt.audience.first().cloned().unwrap_or_default(),
            authorization_endpoint: required(found.authorization_endpoint, "authorization_endpoint")?,
            token_endpoint: required(found.token_endpoint, "token_endpoint")?,
            end_session_endpoint: found.end_session_endpoint,
            scope: SIGN_IN_SCOPE.to_string(),
        })
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split(['/', '?', '#']).next().unwrap_or(rest)),
        None => url.to_string(),
    }
}

/// `config.json`'s text: what the page reads to find the chat.
pub fn config_json(config: &PageConfig) -> String {
    let mut text = serde_json::to_string_pretty(config).expect("a JSON object serializes");
    text.push('\n');
    text
}

/// Pins the `connect-src` of a page's Content-Security-Policy meta tag to
/// `'self'` and the origins `config` names (the chat's WebSocket, the
/// issuer's token endpoint), so that the page as served may connect nowhere
/// else. `None` when the page has no such directive.
pub fn pin_connect_src(html: &str, config: &PageConfig) -> Option<String> {
    // ASCII lowercasing keeps byte offsets, so they index `html` too.
    let lower = html.to_ascii_lowercase();
    let policy = lower.find("content-security-policy")?;
    let start = policy + lower[policy..].find("connect-src")?;
    if lower[policy..start].contains('>') {
        return None; // past the end of the meta tag
    }
    let end = start + lower[start..].find([';', '"'])?;
    let origins = config.connect_origins().join(" ");
    Some(format!("{}connect-src 'self' {origins}{}", &html[..start], &html[end..]))
}

/// The Content-Type of a key, by its extension (case-insensitive).
pub fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// The Cache-Control of a key: pages and `config.json` revalidate on every
/// load; hashed names never change content, so they keep for a year; the
/// rest keeps five minutes in browsers (CloudFront's copy is invalidated).
pub fn cache_control(key: &str) -> &'static str {
    let name = key.rsplit('/').next().unwrap_or(key);
    let lower = name.to_ascii_lowercase();
    if name == CONFIG_KEY || lower.ends_with(".html") || lower.ends_with(".htm") {
        NO_CACHE
    } else if is_hashed(name) {
        IMMUTABLE
    } else {
        SHORT
    }
}

/// Whether a file name holds a content hash, as bundlers write them:
/// `app.3f9a8c1b.js`, `index-DiwrgTda.js`, `chunk_5e2d9a71c3.css`. A hash is
/// a part after the first of at least 8 letters and digits that has a digit,
/// or both upper and lower case (a plain word has neither).
pub fn is_hashed(name: &str) -> bool {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    stem.split(['.', '-', '_']).skip(1).any(|part| {
        part.len() >= 8
            && part.chars().all(|c| c.is_ascii_alphanumeric())
            && (part.chars().any(|c| c.is_ascii_digit())
                || (part.chars().any(|c| c.is_ascii_uppercase()) && part.chars().any(|c| c.is_ascii_lowercase())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/app.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("config.json"), "application/json");
        assert_eq!(content_type("logo.svg"), "image/svg+xml");
        assert_eq!(content_type("fonts/a.woff2"), "font/woff2");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    #[test]
    fn pages_and_config_revalidate_hashed_assets_keep_and_the_rest_is_short() {
        assert_eq!(cache_control("index.html"), NO_CACHE);
        assert_eq!(cache_control("docs/about.html"), NO_CACHE);
        assert_eq!(cache_control("config.json"), NO_CACHE);
        assert_eq!(cache_control("assets/app.3f9a8c1b.js"), IMMUTABLE);
        assert_eq!(cache_control("assets/index-DiwrgTda.js"), IMMUTABLE);
        assert_eq!(cache_control("app.js"), SHORT);
        assert_eq!(cache_control("settings-overview.css"), SHORT);
        assert_eq!(cache_control("jquery-3.7.1.min.js"), SHORT);
        assert_eq!(cache_control("data.json"), SHORT);
    }

    #[test]
    fn a_pages_connect_src_is_pinned_to_the_chat_origin() {
        let page = r#"<head><meta http-equiv="Content-Security-Policy" content="default-src 'self'; connect-src 'self' wss: ws://127.0.0.1:*; object-src 'none'"><title>x</title></head>"#;
        let pinned =
            pin_connect_src(page, &PageConfig::open("wss://abc.execute-api.us-east-1.amazonaws.com/dev")).unwrap();
        assert_eq!(
            pinned,
            r#"<head><meta http-equiv="Content-Security-Policy" content="default-src 'self'; connect-src 'self' wss://abc.execute-api.us-east-1.amazonaws.com; object-src 'none'"><title>x</title></head>"#
        );
        // The last directive ends at the attribute's quote.
        let last = r#"<meta http-equiv="content-security-policy" content="connect-src *">"#;
        assert_eq!(
            pin_connect_src(last, &PageConfig::open("ws://127.0.0.1:8080/dev")).unwrap(),
            r#"<meta http-equiv="content-security-policy" content="connect-src 'self' ws://127.0.0.1:8080">"#
        );
        // No policy, or a policy without connect-src: the page is left as it is.
        assert_eq!(pin_connect_src("<p>connect-src</p>", &PageConfig::open("wss://x/dev")), None);
        assert_eq!(
            pin_connect_src(
                r#"<meta http-equiv="Content-Security-Policy" content="default-src 'self'"><p>connect-src</p>"#,
                &PageConfig::open("wss://x/dev")
            ),
            None
        );
    }

    #[test]
    fn config_json_holds_the_websocket_url() {
        let text = config_json(&PageConfig::open("wss://abc.execute-api.us-east-1.amazonaws.com/dev"));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let url = "wss://abc.execute-api.us-east-1.amazonaws.com/dev";
        assert_eq!(value, serde_json::json!({"websocketUrl": url, "server": url}));
        // Keys in this order, for people reading the file.
        assert!(text.find("websocketUrl").unwrap() < text.find("server").unwrap(), "{text}");
    }

    #[test]
    fn sign_in_adds_the_token_endpoint_to_config_json_and_connect_src() {
        let config = PageConfig {
            websocket_url: "wss://abc.execute-api.us-east-1.amazonaws.com/dev".into(),
            auth: Some(PageAuth {
                issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x".into(),
                client_id: "client".into(),
                authorization_endpoint: "https://chat.auth.us-east-1.amazoncognito.com/oauth2/authorize".into(),
                token_endpoint: "https://chat.auth.us-east-1.amazoncognito.com/oauth2/token".into(),
                end_session_endpoint: None,
                scope: SIGN_IN_SCOPE.into(),
            }),
        };
        let value: serde_json::Value = serde_json::from_str(&config_json(&config)).unwrap();
        assert_eq!(value["auth"]["clientId"], "client");
        assert_eq!(value["auth"]["tokenEndpoint"], "https://chat.auth.us-east-1.amazoncognito.com/oauth2/token");
        assert!(value["auth"].get("endSessionEndpoint").is_none());
        let page = r#"<meta http-equiv="Content-Security-Policy" content="connect-src 'self'">"#;
        assert_eq!(
            pin_connect_src(page, &config).unwrap(),
            r#"<meta http-equiv="Content-Security-Policy" content="connect-src 'self' wss://abc.execute-api.us-east-1.amazonaws.com https://chat.auth.us-east-1.amazoncognito.com">"#
        );
    }
}
