//! The website's files in the bucket: every file of `website.source`, plus
//! a generated `config.json` that tells the page the `wss://` URL (it
//! replaces a `config.json` the folder may have).
//!
//! A file is uploaded only when its MD5 differs from the object's ETag (S3's
//! ETag of a single-part upload is the MD5 of its bytes); objects with no
//! file are deleted. Uploads run concurrently. After a sync that changed
//! anything, one CloudFront invalidation covers the changed paths, so that
//! edge caches drop their copies.
//!
//! Each file gets a Content-Type from its extension and a Cache-Control:
//! pages and `config.json` are revalidated on every load, files whose name
//! holds a content hash are cached for a year, everything else for five minutes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectIdentifier;
use base64::Engine as _;
use futures::StreamExt;
use md5::{Digest, Md5};

use super::{Address, Env, FoundItem, Ids, KNOWN_AFTER_APPLY, Kind, Op, Ref, Reference, Resource, Want};
use crate::aws::{AwsContext, Missing, Sent};
use crate::diff::FieldChange;
use wschat_stack::website::{CONFIG_KEY, PageConfig, cache_control, config_json, content_type, pin_connect_src};

/// Uploads in flight at once.
pub const CONCURRENCY: usize = 16;
/// Past this many changed paths, one `/*` invalidation is cheaper (AWS
/// charges per path beyond 1000 a month; a wildcard counts as one).
pub const MAX_INVALIDATION_PATHS: usize = 15;

/// One object the bucket should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub key: String,
    pub source: Source,
    /// Hex MD5 of the bytes: S3's ETag of a single-part upload.
    pub md5: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file of `website.source`, read when uploaded.
    Path(PathBuf),
    /// Made by wschat (`config.json`, or a page with its CSP pinned).
    Generated(String),
    /// A page of `website.source`, kept to pin its CSP once the URL is known.
    Page(String),
}

impl File {
    fn generated(key: &str, text: String) -> File {
        File {
            key: key.to_string(),
            md5: hex::encode(Md5::digest(text.as_bytes())),
            size: text.len() as u64,
            content_type: content_type(key).to_string(),
            cache_control: cache_control(key).to_string(),
            source: Source::Generated(text),
        }
    }

    async fn bytes(&self) -> Result<Vec<u8>> {
        match &self.source {
            Source::Path(path) => tokio::fs::read(path).await.with_context(|| format!("reading {}", path.display())),
            Source::Generated(text) | Source::Page(text) => Ok(text.as_bytes().to_vec()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub bucket: String,
    /// By key. `config.json` and the pages name the API's URL.
    pub files: Ref<BTreeMap<String, File>>,
    /// The distribution to invalidate after a change, when it already existed.
    pub distribution_id: Option<String>,
    /// With `domain:`, the API mapping of the WebSocket's name that
    /// config.json points at: the page moves to it once it serves.
    pub mapping: Option<Reference>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub bucket: String,
    /// Key -> ETag without its quotes.
    pub objects: BTreeMap<String, String>,
}

/// Reads and hashes every file under `dir` (once per command), skipping
/// dot files and dot folders (`.DS_Store`, `.git`).
pub fn read_source(dir: &Path) -> Result<Vec<File>> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).with_context(|| format!("reading folder {}", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading folder {}", folder.display()))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // Follows symlinks: a linked file is served like any other.
            let meta = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if meta.is_dir() {
                folders.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).expect("walked from dir");
            let key = relative
                .components()
                .map(|c| c.as_os_str().to_str().with_context(|| format!("{} is not UTF-8", path.display())))
                .collect::<Result<Vec<_>>>()?
                .join("/");
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let is_page = content_type(&key).starts_with("text/html");
            let md5 = hex::encode(Md5::digest(&bytes));
            let size = bytes.len() as u64;
            let source = match String::from_utf8(bytes) {
                Ok(text) if is_page => Source::Page(text),
                _ => Source::Path(path),
            };
            files.push(File {
                md5,
                size,
                content_type: content_type(&key).to_string(),
                cache_control: cache_control(&key).to_string(),
                source,
                key,
            });
        }
    }
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

pub fn spec(env: &Env, ids: &Ids) -> Spec {
    Spec {
        bucket: env.stack.bucket_name(&env.account.id, &env.region),
        files: ids.api().map(|id| files(env, &env.stack.websocket_url(id, &env.region))),
        distribution_id: if env.stack.website.cdn { ids.found_distribution_id.clone() } else { None },
        mapping: env.stack.domain.as_ref().map(|d| Reference::exists(Kind::ApiMapping, d.websocket_name())),
    }
}

/// The objects the bucket should hold when the chat is at `url`.
fn files(env: &Env, url: &str) -> BTreeMap<String, File> {
    let config = PageConfig { websocket_url: url.to_string(), auth: env.page_auth.clone() };
    let mut files: BTreeMap<String, File> = env
        .site
        .iter()
        .map(|f| {
            let file = match &f.source {
                Source::Page(text) => match pin_connect_src(text, &config) {
                    Some(pinned) => File::generated(&f.key, pinned),
                    None => f.clone(),
                },
                _ => f.clone(),
            };
            (f.key.clone(), file)
        })
        .collect();
    // The generated config.json wins over one in the folder.
    files.insert(CONFIG_KEY.to_string(), File::generated(CONFIG_KEY, config_json(&config)));
    files
}

/// The bucket's objects (called only when the bucket exists).
pub async fn find_site(clients: &super::Clients, env: &Env) -> Result<Option<FoundItem>> {
    let bucket = env.stack.bucket_name(&env.account.id, &env.region);
    let listed = clients.s3.list_objects_v2().bucket(&bucket).into_paginator().send().collect::<Vec<_>>().await;
    let mut objects = BTreeMap::new();
    for page in listed {
        let Some(page) = page.or_missing().aws_context(|| format!("listing the objects of S3 bucket `{bucket}`"))?
        else {
            return Ok(None);
        };
        for object in page.contents() {
            if let Some(key) = object.key() {
                objects.insert(key.to_string(), object.e_tag().unwrap_or_default().trim_matches('"').to_string());
            }
        }
    }
    Ok(Some(FoundItem::new(
        "site",
        bucket.clone(),
        Some(Address::new(Kind::Bucket, "site")),
        super::Found::Site(Found { bucket, objects }),
    )))
}

/// What a sync does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sync {
    /// Keys with no object yet.
    pub new: Vec<String>,
    /// Keys whose object differs.
    pub changed: Vec<String>,
    /// Objects with no file.
    pub deleted: Vec<String>,
}

impl Sync {
    pub fn plan(files: &BTreeMap<String, File>, found: &BTreeMap<String, String>) -> Sync {
        let mut sync = Sync::default();
        for (key, file) in files {
            match found.get(key) {
                None => sync.new.push(key.clone()),
                Some(etag) if *etag != file.md5 => sync.changed.push(key.clone()),
                Some(_) => {}
            }
        }
        sync.deleted = found.keys().filter(|k| !files.contains_key(*k)).cloned().collect();
        sync
    }

    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.changed.is_empty() && self.deleted.is_empty()
    }

    /// The URL paths whose cached copies are stale: every key touched, and
    /// `/` for the root object. One wildcard when there are many.
    pub fn invalidation_paths(&self) -> Vec<String> {
        let keys: Vec<&String> = self.new.iter().chain(&self.changed).chain(&self.deleted).collect();
        let mut paths: Vec<String> = keys.iter().map(|k| format!("/{}", encode_path(k))).collect();
        if keys.iter().any(|k| k.as_str() == super::distribution::ROOT_OBJECT) {
            paths.push("/".to_string());
        }
        if paths.len() > MAX_INVALIDATION_PATHS {
            return vec!["/*".to_string()];
        }
        paths.sort();
        paths
    }
}

/// CloudFront wants the characters RFC 1738 calls unsafe, and non-ASCII
/// ones, URL-encoded in invalidation paths; `/` stays a separator.
fn encode_path(key: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const UNSAFE: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'[')
        .add(b']')
        .add(b'\\')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}')
        .add(b'~')
        .add(b'*');
    utf8_percent_encode(key, UNSAFE).to_string()
}

fn list(keys: &[String]) -> String {
    super::short(&keys.join(", "), 200)
}

/// Uploads what differs, deletes what has no file, then invalidates the changed paths.
async fn sync(op: &Op<'_>, spec: &Spec, found: &BTreeMap<String, String>) -> Result<()> {
    let files = spec.files.get()?;
    let plan = Sync::plan(files, found);
    let uploads: Vec<&File> = plan.new.iter().chain(&plan.changed).map(|k| &files[k]).collect();
    let total = uploads.len();
    if total > 0 {
        let bytes: u64 = uploads.iter().map(|f| f.size).sum();
        op.task.waiting(&format!("uploading {total} files ({bytes} bytes)"));
    }
    let results: Vec<Result<()>> = futures::stream::iter(uploads)
        .map(|file| upload(op, &spec.bucket, file))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    if !plan.deleted.is_empty() {
        op.task.waiting(&format!("deleting {} objects that have no file", plan.deleted.len()));
        for batch in plan.deleted.chunks(super::bucket::DELETE_BATCH) {
            let ids =
                batch.iter().map(|k| ObjectIdentifier::builder().key(k).build()).collect::<Result<Vec<_>, _>>()?;
            super::bucket::delete_objects(op, &spec.bucket, ids).await?;
        }
    }
    if let Some(distribution) = &spec.distribution_id
        && !plan.is_empty()
    {
        invalidate(op, distribution, &plan.invalidation_paths()).await?;
    }
    Ok(())
}

async fn upload(op: &Op<'_>, bucket: &str, file: &File) -> Result<()> {
    let bytes = file.bytes().await?;
    let md5 = hex::decode(&file.md5).context("a hex MD5")?;
    op.clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(&file.key)
        .content_type(&file.content_type)
        .cache_control(&file.cache_control)
        // S3 checks the bytes against it, so a file changed since it was
        // hashed fails here instead of leaving an ETag that never matches.
        .content_md5(base64::engine::general_purpose::STANDARD.encode(md5))
        .body(ByteStream::from(bytes))
        .send()
        .done(|| format!("uploading `{}` to S3 bucket `{bucket}`", file.key))
        .await?;
    Ok(())
}

async fn invalidate(op: &Op<'_>, distribution: &str, paths: &[String]) -> Result<()> {
    op.task.waiting(&format!("invalidating {} paths in CloudFront", paths.len()));
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let batch = InvalidationBatch::builder()
        .caller_reference(format!("wschat-{millis}"))
        .paths(Paths::builder().quantity(paths.len() as i32).set_items(Some(paths.to_vec())).build()?)
        .build()?;
    op.clients
        .cloudfront
        .create_invalidation()
        .distribution_id(distribution)
        .invalidation_batch(batch)
        .send()
        .done(|| format!("invalidating {} paths of CloudFront distribution `{distribution}`", paths.len()))
        .await?;
    Ok(())
}

/// The website's files in the bucket.
pub struct Site;

impl Resource for Site {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        if reads.found.is_empty() {
            return Ok(super::FoundSet::default());
        }
        Ok(find_site(reads.clients, reads.env).await?.into_iter().collect())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        format!("s3://{}", id.unwrap_or(name))
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        let mut references = vec![Reference::exists(Kind::Bucket, "site"), spec.files.reference()];
        references.extend(spec.mapping.clone());
        references
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        vec![Want::new("site", env.stack.bucket_name(&env.account.id, &env.region), spec(env, ids))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let Some(files) = spec.files.known() else {
            return vec![FieldChange::new("upload", format!("{} objects", found.objects.len()), KNOWN_AFTER_APPLY)];
        };
        let sync = Sync::plan(files, &found.objects);
        let mut fields = Vec::new();
        let upload: Vec<String> = sync.new.iter().chain(&sync.changed).cloned().collect();
        if !upload.is_empty() {
            fields.push(FieldChange::new(
                "upload",
                format!("{} new, {} changed", sync.new.len(), sync.changed.len()),
                list(&upload),
            ));
        }
        if !sync.deleted.is_empty() {
            fields.push(FieldChange::new("delete", list(&sync.deleted), "(gone)"));
        }
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        sync(op, spec, &BTreeMap::new()).await?;
        Ok(spec.bucket.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        sync(op, spec, &found.objects).await
    }

    /// Deletes every object listed (the bucket's delete empties it anyway).
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let keys: Vec<&String> = found.objects.keys().collect();
        for batch in keys.chunks(super::bucket::DELETE_BATCH) {
            let ids =
                batch.iter().map(|k| ObjectIdentifier::builder().key(*k).build()).collect::<Result<Vec<_>, _>>()?;
            super::bucket::delete_objects(op, &found.bucket, ids).await?;
        }
        Ok(())
    }

    /// What `status` says about the files beside their state.
    fn describe(found: &Found) -> Option<String> {
        Some(format!("{} objects", found.objects.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(files: &[(&str, &str)]) -> Spec {
        let files = files.iter().map(|(k, text)| (k.to_string(), File::generated(k, text.to_string()))).collect();
        Spec {
            bucket: "b".into(),
            files: Ref::new(Address::new(Kind::Api, "api"), Some(files)),
            distribution_id: None,
            mapping: None,
        }
    }

    #[test]
    fn a_sync_uploads_what_differs_and_deletes_what_has_no_file() {
        let spec = spec(&[("index.html", "<p>hi</p>"), ("app.js", "go()"), ("new.css", "p{}")]);
        let found: BTreeMap<String, String> = [
            ("index.html".to_string(), spec.files.get().unwrap()["index.html"].md5.clone()),
            ("app.js".to_string(), "0000".to_string()),
            ("old.css".to_string(), "1111".to_string()),
        ]
        .into();
        let sync = Sync::plan(spec.files.get().unwrap(), &found);
        assert_eq!(sync.new, ["new.css"]);
        assert_eq!(sync.changed, ["app.js"]);
        assert_eq!(sync.deleted, ["old.css"]);
        assert_eq!(sync.invalidation_paths(), ["/app.js", "/new.css", "/old.css"]);
        let same: BTreeMap<String, String> =
            spec.files.get().unwrap().iter().map(|(k, f)| (k.clone(), f.md5.clone())).collect();
        assert!(Sync::plan(spec.files.get().unwrap(), &same).is_empty());
    }

    #[test]
    fn the_root_page_is_invalidated_at_slash_too_and_many_paths_become_one_wildcard() {
        let sync = Sync { changed: vec!["index.html".into()], ..Sync::default() };
        assert_eq!(sync.invalidation_paths(), ["/", "/index.html"]);
        let many = Sync { new: (0..20).map(|i| format!("f{i}.js")).collect(), ..Sync::default() };
        assert_eq!(many.invalidation_paths(), ["/*"]);
        let odd = Sync { changed: vec!["img/a b#1*.png".into(), "café.txt".into()], ..Sync::default() };
        assert_eq!(odd.invalidation_paths(), ["/caf%C3%A9.txt", "/img/a%20b%231%2A.png"]);
    }

    #[test]
    fn the_source_folder_is_read_recursively_without_dot_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.path().join("assets/app.js"), "go()").unwrap();
        std::fs::write(dir.path().join(".DS_Store"), "x").unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        let files = read_source(dir.path()).unwrap();
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["assets/app.js", "index.html"]);
        assert_eq!(files[1].md5, hex::encode(Md5::digest(b"<p>hi</p>")));
        assert_eq!(files[1].size, 9);
    }
}
