//! TAXII 2.1 read side over HTTP (SPEC §4, §7), for participants with the
//! `feed` role: the warp routes. Their errors are
//! [`ApiError`]s, written in TAXII's format by the API's one recover function. The index and
//! query logic are in [`crate::feeds::taxii`].
//!
//! Routes, all under `/taxii2/`: discovery `GET /taxii2/`, the one API root
//! `GET /taxii2/api/` (a fixed, short name: the exchange has one root, and
//! keeping it under `/taxii2/` lets every TAXII path share the TAXII error
//! rendering), `collections/`, `collections/{id}/`, `…/objects/`,
//! `…/manifest/`, `…/objects/{object-id}/`, `…/objects/{object-id}/versions/`.
//!
//! What the collections hold, and the index behind the pages, are described
//! in [`crate::feeds::taxii`].

use std::sync::Arc;

use serde_json::{Value, json};
use warp::filters::path::FullPath;
use warp::http::{HeaderValue, Method, StatusCode};
use warp::{Filter, Rejection, Reply};

use super::errors::TaxiiRoute;
use super::{ApiError, require};
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::feeds::egress::views_for;
use crate::feeds::taxii::{
    API_ROOT, Index, PageKind, Query, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE, collection_id, current_egress, render_page,
};
use crate::identity::{Participant, Role};
use crate::policy::EgressView;

/// The TAXII routes, to be combined with the rest of the API.
pub fn routes(state: Arc<AppState>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let index = Arc::new(Index::default());
    {
        // Warm the index so the first request does not pay for the whole log.
        let (index, store, egress) = (index.clone(), state.store.clone(), current_egress(&state.policies.load()));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = index.refresh(store.as_ref(), &egress).await {
                    tracing::debug!(error = %e, "TAXII index warm-up failed; the next request retries");
                }
            });
        }
    }
    let with_index = warp::any().map(move || index.clone());
    let inner = warp::method()
        .and(require(state.clone(), &[Role::Feed]))
        .and(warp::header::optional::<String>("accept"))
        .and(warp::path::full())
        .and(super::raw_query())
        .and(warp::any().map(move || state.clone()))
        .and(with_index)
        .and_then(handle);
    // Every rejection below `/taxii2/` is written in TAXII's format by the
    // API's one recover function.
    warp::path("taxii2").and(inner.or_else(|r: Rejection| async move {
        Err::<(warp::reply::Response,), _>(warp::reject::custom(TaxiiRoute(ApiError::from_rejection(&r))))
    }))
}

/// A TAXII response: the TAXII media type on every one.
fn taxii_reply(status: StatusCode, body: &Value) -> warp::reply::Response {
    let mut resp = warp::http::Response::new(serde_json::to_vec(body).expect("serialise").into());
    *resp.status_mut() = status;
    resp.headers_mut().insert("content-type", HeaderValue::from_static(TAXII_MEDIA_TYPE));
    resp
}

/// True when the `Accept` header admits TAXII 2.1 JSON (absent: yes).
fn acceptable(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut version = None;
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "q" if v.parse::<f32>().map(|q| q <= 0.0).unwrap_or(false) => return false,
                "version" => version = Some(v.to_owned()),
                _ => {}
            }
        }
        match media.as_str() {
            "*/*" | "application/*" => true,
            "application/taxii+json" => version.is_none_or(|v| v == "2.1"),
            _ => false,
        }
    })
}

/// One request's route under `/taxii2/`.
enum Route<'a> {
    Discovery,
    ApiRoot,
    Collections,
    Collection(&'a str),
    Objects(&'a str),
    Manifest(&'a str),
    Object(&'a str, &'a str),
    Versions(&'a str, &'a str),
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/taxii2")?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
    Some(match segs.as_slice() {
        [] => Route::Discovery,
        ["api"] => Route::ApiRoot,
        ["api", "collections"] => Route::Collections,
        ["api", "collections", c] => Route::Collection(c),
        ["api", "collections", c, "objects"] => Route::Objects(c),
        ["api", "collections", c, "manifest"] => Route::Manifest(c),
        ["api", "collections", c, "objects", o] => Route::Object(c, o),
        ["api", "collections", c, "objects", o, "versions"] => Route::Versions(c, o),
        _ => return None,
    })
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    method: Method,
    p: Arc<Participant>,
    accept: Option<String>,
    path: FullPath,
    query: String,
    state: Arc<AppState>,
    index: Arc<Index>,
) -> Result<warp::reply::Response, Rejection> {
    let route = route(path.as_str()).ok_or_else(|| ApiError::NotFound("no such TAXII endpoint".into()))?;
    if method != Method::GET {
        if method == Method::POST && matches!(route, Route::Objects(_)) {
            return Err(ApiError::Refused("this collection is read-only (can_write is false)".into()).into());
        }
        return Err(ApiError::MethodNotAllowed { allow: Some("GET") }.into());
    }
    if !acceptable(accept.as_deref()) {
        return Err(ApiError::NotAcceptable(
            "this server answers only `Accept: application/taxii+json;version=2.1`".into(),
        )
        .into());
    }
    let views = views_for(&p, &state.policies.load());
    let collection = |id: &str| -> Result<EgressView, Rejection> {
        views
            .iter()
            .find(|v| collection_id(&v.audience) == id)
            .cloned()
            .ok_or_else(|| ApiError::NotFound("no such collection".into()).into())
    };
    let body = match route {
        Route::Discovery => {
            // Relative (TAXII 2.1 §4.1.1 allows it; clients resolve it
            // against the discovery URL): never the client's Host header.
            let root = API_ROOT.to_owned();
            json!({
                "title": "tamis TAXII 2.1",
                "description": "Sanitised threat indicators shared by banks and ISPs (read-only).",
                "default": root,
                "api_roots": [root],
            })
        }
        Route::ApiRoot => json!({
            "title": "tamis",
            "description": "One collection per audience you belong to.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": state.limits.max_body_bytes,
        }),
        Route::Collections => {
            let list: Vec<Value> = views.iter().map(|v| collection_resource(&v.audience)).collect();
            if list.is_empty() { json!({}) } else { json!({ "collections": list }) }
        }
        Route::Collection(c) => collection_resource(&collection(c)?.audience),
        Route::Objects(c) | Route::Manifest(c) | Route::Object(c, _) | Route::Versions(c, _) => {
            let view = collection(c)?;
            let q = Query::parse(&query, state.limits.max_page).map_err(ApiError::from)?;
            let (kind, object) = match route {
                Route::Objects(_) => (PageKind::Objects, None),
                Route::Manifest(_) => (PageKind::Manifest, None),
                Route::Object(_, o) => (PageKind::Object, Some(o.to_owned())),
                Route::Versions(_, o) => (PageKind::Versions, Some(o.to_owned())),
                _ => unreachable!("matched above"),
            };
            return page(p, state, index, view, q, kind, object).await;
        }
    };
    Ok(taxii_reply(StatusCode::OK, &body))
}

fn collection_resource(audience: &str) -> Value {
    json!({
        "id": collection_id(audience),
        // No colon or space: OpenCTI's TAXII connector names a collection
        // `ROOT.TITLE` in its configuration.
        "title": format!("tamis-{audience}"),
        "description": format!("Sanitised indicators the `{audience}` audience may receive, as STIX 2.1."),
        "alias": audience,
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    })
}

/// Answers a paged endpoint: selects (off the async threads), renders, and
/// records objects pages in the audit trail.
#[allow(clippy::too_many_arguments)]
async fn page(
    p: Arc<Participant>,
    state: Arc<AppState>,
    index: Arc<Index>,
    view: EgressView,
    q: Query,
    kind: PageKind,
    object: Option<String>,
) -> Result<warp::reply::Response, Rejection> {
    let egress = current_egress(&state.policies.load());
    let store = state.store.clone();
    let audience = view.audience.clone();
    let sel = index
        .select_page(store.as_ref(), &egress, &audience, &q, kind, object.as_deref())
        .await
        .map_err(ApiError::from)?;
    let page = render_page(&sel, &view, kind);
    if matches!(kind, PageKind::Objects | PageKind::Object) {
        let _ = state
            .store
            .audit(AuditEvent::Pull {
                participant: p.id.clone(),
                endpoint: format!("/taxii2/api/collections/{}/objects/", view.audience),
                range: sel.range(),
                count: sel.len(),
            })
            .await;
    }
    let mut resp = taxii_reply(StatusCode::OK, &page.body);
    if let Some((first, last)) = page.added {
        let h = resp.headers_mut();
        h.insert("x-taxii-date-added-first", HeaderValue::from_str(&first).expect("timestamp is a header value"));
        h.insert("x-taxii-date-added-last", HeaderValue::from_str(&last).expect("timestamp is a header value"));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_rules() {
        assert!(acceptable(None));
        assert!(acceptable(Some("application/taxii+json;version=2.1")));
        assert!(acceptable(Some("application/taxii+json")));
        assert!(acceptable(Some("*/*")));
        assert!(acceptable(Some("application/json, application/taxii+json; version=2.1; q=0.5")));
        assert!(!acceptable(Some("application/json")));
        assert!(!acceptable(Some("application/taxii+json;version=2.0")));
        assert!(!acceptable(Some("application/taxii+json;version=2.1;q=0")));
    }

    #[test]
    fn routes_parse() {
        assert!(matches!(route("/taxii2/"), Some(Route::Discovery)));
        assert!(matches!(route("/taxii2/api/"), Some(Route::ApiRoot)));
        assert!(matches!(route("/taxii2/api/collections/c/objects/o/versions/"), Some(Route::Versions("c", "o"))));
        assert!(route("/taxii2/api/collections/c/x/").is_none());
    }
}
