//! Request handlers. Each takes what its filters extracted and returns a
//! reply or an [`ApiError`] rejection.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use warp::http::StatusCode;
use warp::{Rejection, Reply};

use super::{ApiError, AppState, VolumeQuota, parse_u64_param, query_params};
use crate::audit::AuditEvent;
use crate::identity::{Participant, Peer};
use crate::pipeline::ingest::Format;
use crate::pipeline::{self, Input, Mode, Receipt, Submission};
use crate::store::{FeedEntry, Op};

/// `GET /v1/whoami`: answers any certificate that chains to the CA.
pub fn whoami(peer: Arc<Peer>) -> warp::reply::Response {
    let body = match &peer.participant {
        Some(p) => serde_json::json!({
            "registered": true,
            "id": p.id,
            "kind": p.kind.as_str(),
            "roles": p.roles,
            "sector": p.sector(),
            "audiences": p.audiences(),
            "fingerprint": peer.cert.fingerprint,
        }),
        None => serde_json::json!({
            "registered": false,
            "fingerprint": peer.cert.fingerprint,
            "message": "this certificate chains to the exchange CA but is not registered; it can only call /v1/whoami",
        }),
    };
    warp::reply::json(&body).into_response()
}

/// `POST /v1/submissions`: HTTP around [`pipeline::process`] and
/// [`pipeline::commit`] (quotas, the idempotency key, status and headers).
pub async fn submit(
    p: Arc<Participant>,
    content_type: Option<String>,
    idempotency_key: Option<String>,
    body: Bytes,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let format = Format::from_content_type(content_type.as_deref()).map_err(ApiError::from)?;
    if let Some(k) = &idempotency_key
        && (k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()).into());
    }
    state.charge(&p.id, VolumeQuota::BodyBytes, body.len() as u64)?;
    let Some(sanitiser) = state.policies.load().for_participant(&p).cloned() else {
        tracing::error!(participant = %p.id, "no ingest policy loaded for participant");
        return Err(ApiError::Unavailable.into());
    };
    let received_at = pipeline::now_ms();
    // CPU work, off the async workers; parsing stops at max_indicators + 1
    // whatever the size of the body, and the indicator quota is charged
    // before anything is sanitised.
    let processed = {
        let (state, p, body) = (state.clone(), p.clone(), body.clone());
        tokio::task::spawn_blocking(move || {
            let input = Input { format, body: &body, max_indicators: state.limits.max_indicators };
            let lookup = state.lookup.get().map(|l| &l.key);
            let mode = Mode::Submit { now: received_at, expiry: &state.expiry, lookup };
            pipeline::process(input, &sanitiser, &mode, |n| state.charge(&p.id, VolumeQuota::Indicators, n as u64))
        })
        .await
        .map_err(|_| ApiError::Internal)??
    };
    state.metrics.indicators_rejected.inc_by(processed.rejected.len() as u64);
    state.metrics.removals.inc_by(processed.removed.total());
    let personal = processed.removed.0.iter().filter(|(c, _)| crate::report::stats::is_personal_data(c));
    state.metrics.personal_data_removals.inc_by(personal.flat_map(|(_, a)| a.values()).sum());
    let sub = Submission { participant: &p, format, body: &body, idempotency_key, received_at };
    let t0 = std::time::Instant::now();
    let receipt = pipeline::commit(state.store.as_ref(), sub, processed)
        .await
        .map_err(|e| ApiError::from_store(e, "submission not committed"))?;
    state.metrics.commit_duration.observe(t0.elapsed().as_secs_f64());
    submission_reply(receipt, &state)
}

/// The HTTP answer to a committed (or refused) submission.
fn submission_reply(receipt: Receipt, state: &AppState) -> Result<warp::reply::Response, Rejection> {
    let (body, replayed) = match receipt {
        Receipt::NothingAccepted { submission, rejected } => {
            let body = serde_json::json!({
                "error": {"code": "nothing_accepted", "message": ApiError::NothingAccepted.to_string()},
                "submission": submission,
                "rejected": rejected,
            });
            let status = ApiError::NothingAccepted.status();
            return Ok(warp::reply::with_status(warp::reply::json(&body), status).into_response());
        }
        Receipt::Committed { response, accepted } => {
            state.metrics.submissions.inc();
            state.metrics.indicators_accepted.inc_by(accepted);
            (response, false)
        }
        Receipt::Replayed { response } => (response, true),
    };
    let mut resp = warp::http::Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(body.into())
        .expect("valid response");
    if replayed {
        resp.headers_mut().insert("idempotent-replayed", "true".parse().expect("header"));
    }
    Ok(resp)
}

/// Adds `X-Tamis-Audit-Head: SEQ:HASH` (the latest audit record, after this
/// request's own), so consumers can compare heads and notice a rollback.
pub fn with_audit_head(mut resp: warp::reply::Response, state: &AppState) -> warp::reply::Response {
    if let Ok(v) = crate::store::audit_head_header(state.store.as_ref()).parse() {
        resp.headers_mut().insert("x-tamis-audit-head", v);
    }
    resp
}

/// `DELETE /v1/indicators/{id}`: the submitter withdraws its contribution.
pub async fn retract(
    id: String,
    p: Arc<Participant>,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    if id == "stream" {
        // `/v1/indicators/stream` is the live stream: GET only.
        return Err(ApiError::MethodNotAllowed { allow: Some("GET") }.into());
    }
    let valid = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !valid {
        return Err(ApiError::NotFound("no such indicator".into()).into());
    }
    // A participant that never submitted it gets 404, not revealing whether others did.
    let retracted = state
        .store
        .retract(&p.id, &id.to_ascii_lowercase())
        .await
        .map_err(|e| Rejection::from(ApiError::from_store(e, "retraction not committed")))?;
    let removed = retracted.removed;
    tracing::info!(participant = %p.id, removed, "retraction committed");
    let body = serde_json::json!({"id": id, "retracted": true, "removed": removed});
    Ok(warp::reply::json(&body).into_response())
}

/// One item of the feed: the indicator after a change, as the reader's
/// egress view shows it; a change that takes an indicator out of the
/// reader's view is a `remove` carrying only the id.
fn feed_item(e: &FeedEntry, views: &[crate::policy::EgressView]) -> Option<Value> {
    let projected = crate::feeds::egress::project(views, &e.indicator);
    let (op, reason, body) = match (e.op, projected) {
        (Op::Add, None) => return None,
        (op, Some(ind)) => (op, e.reason.clone(), serde_json::to_value(ind).expect("serialise")),
        (Op::Update | Op::Remove, None) => (
            Op::Remove,
            Some(e.reason.clone().unwrap_or_else(|| "withheld".into())),
            serde_json::json!({"id": e.indicator.id}),
        ),
    };
    let Value::Object(mut map) = body else {
        return None;
    };
    map.insert("op".into(), serde_json::to_value(op).expect("serialise"));
    map.insert("cursor".into(), Value::String(e.seq.to_string()));
    map.insert(
        "changed_at".into(),
        Value::String(e.at.format(&time::format_description::well_known::Rfc3339).expect("format")),
    );
    if let Some(r) = reason {
        map.insert("reason".into(), Value::String(r));
    }
    if e.withdrawn && op != Op::Remove {
        map.insert("withdrawn".into(), Value::Bool(true));
    }
    Some(Value::Object(map))
}

/// A page of the feed as `p` may see it: the items of the entries after
/// `since` (at most `limit` entries read; each item carries its `cursor`)
/// and the cursor after them. The feed and the live stream both read
/// through here, so they apply the same egress views.
pub(crate) async fn feed_page(
    p: &Participant,
    since: u64,
    limit: usize,
    state: &AppState,
) -> Result<(Vec<Value>, u64), ApiError> {
    let entries: Vec<FeedEntry> =
        state.store.feed(since, limit).await.map_err(|e| ApiError::from_store(e, "feed read failed"))?;
    let next = entries.last().map(|e| e.seq).unwrap_or(since);
    let views = crate::feeds::egress::views_for(p, &state.policies.load());
    Ok((entries.iter().filter_map(|e| feed_item(e, &views)).collect(), next))
}

/// `GET /v1/indicators?since=CURSOR&limit=N`.
pub async fn feed(
    p: Arc<Participant>,
    query: String,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let mut since = 0u64;
    let mut limit = 1000usize;
    for (k, v) in query_params(&query, &["since", "limit"])? {
        if k == "since" {
            since = if v.is_empty() {
                0
            } else {
                v.parse()
                    .map_err(|_| ApiError::BadRequest("`since` must be a cursor returned as `next` (or 0)".into()))?
            };
            continue;
        }
        let n = parse_u64_param("limit", &v)?;
        if n == 0 || n as usize > state.limits.max_page {
            return Err(ApiError::BadRequest(format!("`limit` must be between 1 and {}", state.limits.max_page)).into());
        }
        limit = n as usize;
    }
    let (items, next) = feed_page(&p, since, limit, &state).await?;
    let body = serde_json::json!({ "indicators": items, "next": next.to_string() });
    let _ = state
        .store
        .audit(AuditEvent::Pull {
            participant: p.id.clone(),
            endpoint: "/v1/indicators".into(),
            range: format!("{since}..{next}"),
            count: items.len(),
        })
        .await;
    Ok(with_audit_head(warp::reply::json(&body).into_response(), &state))
}

/// The conditional-request headers of a download.
pub struct Conditions {
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
}

/// True when the client's copy is current (RFC 9110 §13.2.2): by
/// `If-None-Match` when it is sent, otherwise by `If-Modified-Since` (an
/// HTTP-date not before the content's `Last-Modified`; an invalid date is
/// ignored).
fn not_modified(c: &Conditions, etags: [&str; 2], modified: time::OffsetDateTime) -> bool {
    if let Some(inm) = &c.if_none_match {
        return inm.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || etags.contains(&t));
    }
    let Some(since) = c.if_modified_since.as_deref().and_then(|d| httpdate::parse_http_date(d.trim()).ok()) else {
        return false;
    };
    let since = since.duration_since(std::time::UNIX_EPOCH).map_or(i64::MIN, |d| d.as_secs() as i64);
    modified.unix_timestamp() <= since
}

/// `Last-Modified` as an HTTP-date.
fn http_date(t: time::OffsetDateTime) -> String {
    let secs = t.unix_timestamp().max(0) as u64;
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// `GET /v1/blocklists/{name}`: a pre-built snapshot for the participant's
/// audiences, with ETag or Last-Modified and 304, gzip, and what the
/// allow-lists withheld (`X-Tamis-Withheld`).
pub async fn blocklist(
    name: String,
    p: Arc<Participant>,
    conditions: Conditions,
    accept_encoding: Option<String>,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    use crate::feeds::blocklist::{NAMES, audience_key};
    use crate::metrics::ListLabels;
    if !NAMES.contains(&name.as_str()) {
        return Err(ApiError::NotFound(format!("no such blocklist; available: {}", NAMES.join(", "))).into());
    }
    let key = audience_key(&p.audiences());
    let Some(snap) = state.blocklists.get(&key, &name) else {
        return Err(Rejection::from(if state.blocklists.ready() {
            ApiError::NotFound("no blocklist is built for your audiences".into())
        } else {
            ApiError::Unavailable
        }));
    };
    let gz_etag = snap.gzip_etag();
    let gzip = accept_encoding.as_deref().is_some_and(accepts_gzip);
    let etag = if gzip { gz_etag.clone() } else { snap.etag.clone() };
    let last_modified = http_date(snap.modified);
    let list = NAMES.iter().find(|n| **n == name).copied().unwrap_or("other");
    if not_modified(&conditions, [&snap.etag, &gz_etag], snap.modified) {
        state.metrics.blocklist_downloads.get_or_create(&ListLabels { list, status: 304 }).inc();
        return Ok(warp::http::Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header("etag", etag)
            .header("last-modified", last_modified)
            .header("vary", "accept-encoding")
            .body(Default::default())
            .expect("valid response"));
    }
    let body = if gzip {
        match snap.gzip_ready() {
            Some(g) => g,
            // Not made yet, or in its file: compressed or read for this request.
            None => {
                let s = snap.clone();
                tokio::task::spawn_blocking(move || s.gzip_bytes())
                    .await
                    .map_err(|_| ApiError::Internal)?
                    .map_err(|_| ApiError::Internal)?
            }
        }
    } else {
        match snap.plain() {
            Some(b) => b,
            // Only the gzip encoding is kept: decompressed for this request.
            None => {
                let s = snap.clone();
                tokio::task::spawn_blocking(move || s.body())
                    .await
                    .map_err(|_| ApiError::Internal)?
                    .map_err(|_| ApiError::Internal)?
            }
        }
    };
    let mut resp = warp::http::Response::builder()
        .status(StatusCode::OK)
        .header("content-type", snap.content_type)
        .header("etag", etag)
        .header("last-modified", last_modified)
        .header("vary", "accept-encoding")
        .header("x-tamis-entries", snap.count)
        .header("x-tamis-version", snap.version)
        .header("x-tamis-withheld", &snap.withheld);
    if gzip {
        resp = resp.header("content-encoding", "gzip");
    }
    let resp = resp.body(body.into()).expect("valid response");
    state.metrics.blocklist_downloads.get_or_create(&ListLabels { list, status: 200 }).inc();
    let _ = state
        .store
        .audit(AuditEvent::Pull {
            participant: p.id.clone(),
            endpoint: format!("/v1/blocklists/{name}"),
            range: format!("snapshot {}", snap.etag.trim_matches('"')),
            count: snap.count,
        })
        .await;
    Ok(with_audit_head(resp, &state))
}

/// True when an `Accept-Encoding` value accepts gzip (q > 0).
fn accepts_gzip(v: &str) -> bool {
    v.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
    })
}
