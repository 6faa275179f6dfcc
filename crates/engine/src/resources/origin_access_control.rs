//! The Origin Access Control through which CloudFront signs its requests to
//! the private bucket (SigV4, always).
//!
//! OACs carry no tags, but their names are unique in an account, so the
//! stack's is found by [`wschat_stack::Stack::oac_name`]. moto accepts the
//! same name twice; the copies after the first are deleted as duplicates.
//! Updates and deletes need the OAC's current ETag, read right before.

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};

use super::{Env, FoundItem, Ids, Op, Resource, Want};
use crate::aws::{AwsContext, Missing, Sent};
use crate::diff::FieldChange;

pub const ORIGIN_TYPE: &str = "s3";
pub const SIGNING_BEHAVIOR: &str = "always";
pub const SIGNING_PROTOCOL: &str = "sigv4";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: String,
    pub name: String,
    pub description: String,
    pub origin_type: String,
    pub signing_behavior: String,
    pub signing_protocol: String,
    /// Its ETag when it was found, for a delete with no read first.
    pub etag: Option<String>,
}

pub fn spec(env: &Env) -> Spec {
    Spec {
        name: env.stack.oac_name(),
        description: format!(
            "wschat stack {}, stage {}: CloudFront reads the website bucket",
            env.stack.name, env.stack.stage
        ),
    }
}

/// Every OAC named like the stack's, in listing order.
pub async fn find_origin_access_controls(clients: &super::Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let name = env.stack.oac_name();
    let pages = crate::aws::every(clients.cloudfront.list_origin_access_controls().into_paginator().send())
        .await
        .aws_context(|| "listing CloudFront origin access controls".to_string())?;
    let ours = pages
        .into_iter()
        .filter_map(|page| page.origin_access_control_list)
        .flat_map(|list| list.items.unwrap_or_default())
        .filter(|o| o.name == name);
    // Each one's ETag now, beside the other reads, so that a delete needs no
    // read of its own (CloudFront deletes only with the current ETag).
    let read = ours.map(|o| async move {
        let got = clients.cloudfront.get_origin_access_control().id(&o.id).send().await;
        let got = got.or_missing().aws_context(|| format!("reading CloudFront origin access control `{}`", o.id))?;
        let found = Found {
            id: o.id.clone(),
            name: o.name,
            description: o.description,
            origin_type: o.origin_access_control_origin_type.as_str().to_string(),
            signing_behavior: o.signing_behavior.as_str().to_string(),
            signing_protocol: o.signing_protocol.as_str().to_string(),
            etag: got.and_then(|g| g.e_tag),
        };
        Ok::<_, anyhow::Error>(FoundItem::new("site", o.id, None, super::Found::OriginAccessControl(found)))
    });
    futures::future::try_join_all(read).await
}

fn config(spec: &Spec) -> Result<OriginAccessControlConfig> {
    Ok(OriginAccessControlConfig::builder()
        .name(&spec.name)
        .description(&spec.description)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::from(ORIGIN_TYPE))
        .signing_behavior(OriginAccessControlSigningBehaviors::from(SIGNING_BEHAVIOR))
        .signing_protocol(OriginAccessControlSigningProtocols::from(SIGNING_PROTOCOL))
        .build()?)
}

/// The OAC's current ETag, or `None` when it is gone.
async fn etag(op: &Op<'_>, found: &Found) -> Result<Option<String>> {
    let read = op.clients.cloudfront.get_origin_access_control().id(&found.id).send().await;
    let got = read
        .or_missing()
        .aws_context(|| format!("reading CloudFront origin access control `{}` ({})", found.name, found.id))?;
    Ok(got.and_then(|o| o.e_tag))
}

/// The website's origin access control, with CloudFront.
pub struct OriginAccessControl;

impl Resource for OriginAccessControl {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_origin_access_controls(reads.clients, reads.env).await?.into())
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        if !env.stack.website.cdn {
            return Vec::new();
        }
        vec![Want::new("site", env.stack.oac_name(), spec(env))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        let mut check = |field: &str, have: &str, want: &str| {
            if have != want {
                fields.push(FieldChange::new(field, have, want));
            }
        };
        check("origin type", &found.origin_type, ORIGIN_TYPE);
        check("signing behavior", &found.signing_behavior, SIGNING_BEHAVIOR);
        check("signing protocol", &found.signing_protocol, SIGNING_PROTOCOL);
        check("description", &found.description, &spec.description);
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let created = op
            .clients
            .cloudfront
            .create_origin_access_control()
            .origin_access_control_config(config(spec)?)
            .send()
            .done(|| format!("creating CloudFront origin access control `{}`", spec.name))
            .await?;
        created.origin_access_control.map(|o| o.id).with_context(|| {
            format!("creating CloudFront origin access control `{}`: CloudFront returned no id", spec.name)
        })
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let etag = etag(op, found).await?.with_context(|| {
            format!("CloudFront origin access control `{}` ({}) disappeared; run deploy again", found.name, found.id)
        })?;
        op.clients
            .cloudfront
            .update_origin_access_control()
            .id(&found.id)
            .if_match(etag)
            .origin_access_control_config(config(spec)?)
            .send()
            .done(|| format!("updating CloudFront origin access control `{}` ({})", found.name, found.id))
            .await?;
        Ok(())
    }

    /// Deletes the OAC with its current ETag. It runs after the distribution's
    /// delete (a later wave), since CloudFront refuses to delete an OAC in use.
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let delete =
            |etag: String| op.clients.cloudfront.delete_origin_access_control().id(&found.id).if_match(etag).send();
        let deleted = match &found.etag {
            Some(etag) => match delete(etag.clone()).await {
                // Changed since it was found: once more with the ETag of now.
                Err(e) if e.as_service_error().is_some_and(|e| e.is_precondition_failed()) => None,
                other => Some(other),
            },
            None => None,
        };
        let deleted = match deleted {
            Some(deleted) => deleted,
            None => {
                let Some(etag) = etag(op, found).await? else { return Ok(()) };
                delete(etag).await
            }
        };
        match deleted.or_gone() {
            Err(e) if e.as_service_error().is_some_and(|e| e.is_origin_access_control_in_use()) => anyhow::bail!(
                "deleting CloudFront origin access control `{}` ({}): a distribution still uses it; \
                 if it is not this stack's, detach it there first",
                found.name,
                found.id
            ),
            other => other
                .map(drop)
                .aws_context(|| format!("deleting CloudFront origin access control `{}` ({})", found.name, found.id)),
        }
    }
}
