//! The web page: the `website.source` files, and a generated `config.json`
//! (`{"websocketUrl":"ws://HOST:PORT/{stage}"}`, and `auth` with sign-in)
//! that takes the place of any `config.json` in the folder, as `wschat
//! deploy` does on S3.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tracing::debug;

use wschat_stack::website::{PageConfig, config_json, content_type, pin_connect_src};

/// The site's folder and its config.json.
pub struct Site {
    root: PathBuf,
    page: PageConfig,
    config: String,
}

impl Site {
    /// The files under `root`, and a config.json from `page`.
    pub fn new(root: PathBuf, page: PageConfig) -> Site {
        let config = config_json(&page);
        Site { root, page, config }
    }

    /// The site's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file a URL path names, if it stays inside the folder and no part
    /// of it starts with `.`: `wschat deploy` uploads no dot file, and one
    /// such as `.env` or `.git/config` is no business of a browser's, least
    /// of all with `--host 0.0.0.0`.
    fn file_for(&self, path: &str) -> Option<PathBuf> {
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
        let relative = Path::new(decoded.trim_start_matches('/'));
        let plain = |c: Component<'_>| matches!(c, Component::Normal(name) if !name.to_string_lossy().starts_with('.'));
        if !relative.components().all(plain) {
            return None;
        }
        let file = self.root.join(relative);
        Some(if decoded.ends_with('/') || file.is_dir() { file.join("index.html") } else { file })
    }
}

/// `GET /config.json`.
pub async fn config(State(site): State<Arc<Site>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache")], site.config.clone())
        .into_response()
}

/// Any other path: a file of the site, or 404.
pub async fn file(State(site): State<Arc<Site>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Some(path) = site.file_for(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            debug!("site {} ({} bytes)", uri.path(), bytes.len());
            // The same Content-Type, and for pages the same pinned CSP, as deploy gives them on S3.
            let content_type = content_type(&path.to_string_lossy());
            let pinned = std::str::from_utf8(&bytes)
                .ok()
                .filter(|_| content_type.starts_with("text/html"))
                .and_then(|page| pin_connect_src(page, &site.page));
            let bytes = pinned.map_or(bytes, String::into_bytes);
            ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], bytes).into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_folder() {
        let site = Site::new(PathBuf::from("/nonexistent/www"), PageConfig::open("ws://x/dev"));
        assert_eq!(site.file_for("/app.js"), Some(PathBuf::from("/nonexistent/www/app.js")));
        assert_eq!(site.file_for("/"), Some(PathBuf::from("/nonexistent/www/index.html")));
        assert_eq!(site.file_for("/a/"), Some(PathBuf::from("/nonexistent/www/a/index.html")));
        assert_eq!(site.file_for("/a%20b.css"), Some(PathBuf::from("/nonexistent/www/a b.css")));
        assert_eq!(site.file_for("/../etc/passwd"), None);
        assert_eq!(site.file_for("/a/%2e%2e/%2e%2e/etc/passwd"), None);
        for dotted in ["/.env", "/.git/config", "/a/.secret/b.js", "/%2egit/HEAD", "/.well-known/x"] {
            assert_eq!(site.file_for(dotted), None, "{dotted}");
        }
        let config: serde_json::Value = serde_json::from_str(&site.config).unwrap();
        assert_eq!(config, serde_json::json!({ "websocketUrl": "ws://x/dev", "server": "ws://x/dev" }));
    }
}
