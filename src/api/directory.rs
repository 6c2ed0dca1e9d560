//! The 24/7 contact-point directory (issue 13, item 4):
//! `PUT /v1/directory/self` replaces the caller's own contact points,
//! `GET /v1/directory` lists every registered participant with its kind and
//! contacts. Any registered participant may do both, for itself only: the
//! certificate decides whose entry a PUT changes. The contents are
//! validated by [`crate::directory`] (not the privacy filter: these are
//! business contacts published on purpose); the change is audited (who, how
//! many contact points), not the contents.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use warp::{Rejection, Reply};

use super::{ApiError, AppState};
use crate::identity::Participant;

/// `PUT /v1/directory/self`.
pub async fn put_self(
    p: Arc<Participant>,
    content_type: Option<String>,
    body: Bytes,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    super::require_json(content_type.as_deref(), "the directory takes `application/json`")?;
    let contacts = crate::directory::parse_contacts(&body).map_err(ApiError::BadRequest)?;
    let entry = state
        .store
        .put_directory(&p.id, contacts)
        .await
        .map_err(|e| Rejection::from(ApiError::from_store(e, "directory update not committed")))?;
    tracing::info!(participant = %p.id, contacts = entry.contacts.len(), "directory entry updated");
    let body = json!({
        "participant": entry.participant,
        "kind": p.kind.as_str(),
        "contacts": entry.contacts,
        "updated": rfc3339(entry.updated),
    });
    Ok(warp::reply::json(&body).into_response())
}

/// `GET /v1/directory`: every registered (not revoked) participant, by
/// name, with the contact points it published (none yet: an empty list).
pub async fn list(_p: Arc<Participant>, state: Arc<AppState>) -> Result<warp::reply::Response, Rejection> {
    let entries =
        state.store.directory().await.map_err(|e| Rejection::from(ApiError::from_store(e, "directory read failed")))?;
    let registry = state.registry.load();
    let mut list: Vec<serde_json::Value> = registry
        .all()
        .filter(|r| !r.revoked)
        .map(|r| {
            let entry = entries.iter().find(|e| e.participant == r.id);
            json!({
                "participant": r.id,
                "kind": r.kind.as_str(),
                "contacts": entry.map(|e| e.contacts.clone()).unwrap_or_default(),
                "updated": entry.map(|e| rfc3339(e.updated)),
            })
        })
        .collect();
    list.sort_by(|a, b| a["participant"].as_str().cmp(&b["participant"].as_str()));
    Ok(warp::reply::json(&json!({ "participants": list, "roles": crate::directory::ROLES })).into_response())
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
