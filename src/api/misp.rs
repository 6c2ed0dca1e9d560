//! The MISP feed export over HTTP (role `feed`): `GET /v1/feeds/misp/`
//! `manifest.json`, `hashes.csv` and `{event-uuid}.json`, each the reader's
//! own egress view. The format and the event layout are described in
//! [`crate::feeds::misp`]; a MISP instance adds the base URL as a feed of
//! type "MISP Feed" with the participant's client certificate.

use std::sync::Arc;

use warp::http::HeaderValue;
use warp::{Filter, Rejection, Reply};

use super::handlers::with_audit_head;
use super::{ApiError, require, with_state};
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::feeds::egress::views_for;
use crate::feeds::misp::MispIndex;
use crate::identity::{Participant, Role};

/// `GET /v1/feeds/misp/{file}` (HEAD is answered by the server as GET without the body).
pub fn routes(state: Arc<AppState>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let index = Arc::new(MispIndex::default());
    warp::path!("v1" / "feeds" / "misp" / String)
        .and(warp::get())
        .and(require(state.clone(), &[Role::Feed]))
        .and(with_state(state))
        .and(warp::any().map(move || index.clone()))
        .and_then(file)
}

async fn file(
    name: String,
    p: Arc<Participant>,
    state: Arc<AppState>,
    index: Arc<MispIndex>,
) -> Result<warp::reply::Response, Rejection> {
    let views = views_for(&p, &state.policies.load());
    let failed = |e| Rejection::from(ApiError::from_store(e, "MISP feed read failed"));
    let store = state.store.as_ref();
    let (body, media, count) = match name.as_str() {
        "manifest.json" => {
            let m = index.manifest(store, views).await.map_err(failed)?;
            (m.body.clone(), "application/json", m.events)
        }
        "hashes.csv" => {
            let (body, lines) = index.hashes(store, views).await.map_err(failed)?;
            (body, "text/csv; charset=utf-8", lines)
        }
        other => {
            let event = match other.strip_suffix(".json") {
                Some(uuid) => index.event(store, views, uuid).await.map_err(failed)?,
                None => None,
            };
            match event {
                Some(event) => (event, "application/json", 1),
                None => {
                    return Err(ApiError::NotFound(
                        "no such file in the MISP feed: manifest.json, hashes.csv or an event UUID from the manifest, + .json"
                            .into(),
                    )
                    .into());
                }
            }
        }
    };
    let _ = state
        .store
        .audit(AuditEvent::Pull {
            participant: p.id.clone(),
            endpoint: "/v1/feeds/misp/".into(),
            range: name.clone(),
            count,
        })
        .await;
    let mut resp = warp::reply::Response::new(body.into());
    resp.headers_mut().insert("content-type", HeaderValue::from_static(media));
    Ok(with_audit_head(resp, &state))
}
