//! Request handlers. Each takes what its filters extracted and returns a
//! reply or an [`ApiError`] rejection.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use warp::http::StatusCode;
use warp::{Rejection, Reply};

use super::ingest;
use super::{ApiError, AppState, VolumeQuota};
use crate::audit::AuditEvent;
use crate::identity::{Participant, Peer};
use crate::model::{self, IndicatorRejection, Removals, SanitisedIndicator};
use crate::privacy::Sanitiser;
use crate::store::{Contributor, FeedEntry, Op, SubmitBatch, SubmitOutcome, indicator_id, random_uuid};

pub(crate) fn reject(e: ApiError) -> Rejection {
    warp::reject::custom(e)
}

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

/// The answer to a submission.
#[derive(Serialize)]
struct SubmissionResponse<'a> {
    submission: &'a str,
    policy: &'a str,
    received: usize,
    accepted: usize,
    /// `index` in the submission → `id` of the stored indicator.
    indicators: Vec<AcceptedRef>,
    rejected: &'a [IndicatorRejection],
    /// Counts of what the policy removed, by data category and action.
    removed: &'a Removals,
}

#[derive(Serialize)]
struct AcceptedRef {
    index: usize,
    id: String,
}

/// Result of sanitising a whole submission: pure CPU work.
pub(crate) struct Sanitised {
    pub accepted: Vec<Accepted>,
    pub rejected: Vec<IndicatorRejection>,
    pub removed: Removals,
}

/// One indicator that passed.
pub(crate) struct Accepted {
    /// Its position in the submission.
    pub index: usize,
    pub indicator: SanitisedIndicator,
    /// What the policy removed from it.
    pub removed: Removals,
    /// Which rule did what (dry-runs with explanations only).
    pub explain: Option<Vec<crate::privacy::Explanation>>,
}

/// What the sanitising is for.
pub(crate) enum Mode<'a> {
    /// A real submission: refuse a past `valid_until`, fill in the default one.
    Submit { now: OffsetDateTime, expiry: &'a crate::config::Expiry },
    /// A dry-run: nothing is stored; optionally explain.
    DryRun { explain: bool },
}

/// Validates and sanitises every item; items already refused by the body
/// parser (`parsed.rejected`) are skipped. Rejections carry the input line
/// when the body has lines (CSV).
pub(crate) fn sanitise_parsed(sanitiser: &Sanitiser, parsed: &ingest::Parsed, mode: Mode<'_>) -> Sanitised {
    let items = &parsed.items;
    let mut out = Sanitised {
        accepted: Vec::with_capacity(items.len()),
        rejected: parsed.rejected.clone(),
        removed: Removals::default(),
    };
    let pre: std::collections::HashSet<usize> = parsed.rejected.iter().map(|r| r.index).collect();
    for (i, v) in items.iter().enumerate() {
        if pre.contains(&i) {
            continue;
        }
        let line = parsed.lines.as_ref().and_then(|l| l.get(i).copied());
        let mut refuse = |mut r: IndicatorRejection| {
            r.line = line;
            out.rejected.push(r);
        };
        let raw = match model::parse_indicator(i, v) {
            Ok(raw) => raw,
            Err(r) => {
                refuse(r);
                continue;
            }
        };
        if let Mode::Submit { now, .. } = mode
            && raw.valid_until.is_some_and(|t| t <= now)
        {
            refuse(IndicatorRejection::new(i, "valid_until", "already in the past"));
            continue;
        }
        let mut removed = Removals::default();
        let result = match mode {
            Mode::DryRun { explain: true } => {
                sanitiser.sanitise_explained(raw, &mut removed).map(|(s, ex)| (s, Some(ex)))
            }
            _ => sanitiser.sanitise(raw, &mut removed).map(|s| (s, None)),
        };
        match result {
            Ok((mut s, explain)) => {
                if let Mode::Submit { now, expiry } = mode
                    && s.valid_until.is_none()
                {
                    s.valid_until = Some(now + time::Duration::days(expiry.days_for(s.kind) as i64));
                }
                out.removed.merge(&removed);
                out.accepted.push(Accepted { index: i, indicator: s, removed, explain });
            }
            Err(refusal) => refuse(IndicatorRejection::new(i, refusal.field, refusal.reason)),
        }
    }
    out.rejected.sort_by_key(|r| r.index);
    out
}

/// `POST /v1/submissions`.
pub async fn submit(
    p: Arc<Participant>,
    content_type: Option<String>,
    idempotency_key: Option<String>,
    body: Bytes,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let format = ingest::Format::from_content_type(content_type.as_deref()).map_err(reject)?;
    if let Some(k) = &idempotency_key
        && (k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(reject(ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into())));
    }
    state.charge(&p.id, VolumeQuota::BodyBytes, body.len() as u64).map_err(reject)?;
    // Parsing is CPU work: off the async workers, and it stops at
    // max_indicators + 1 whatever the size of the body.
    let max = state.limits.max_indicators;
    let raw = body.clone();
    let parsed = tokio::task::spawn_blocking(move || ingest::parse_limited(format, &raw, max))
        .await
        .map_err(|_| reject(ApiError::Internal))?
        .map_err(reject)?;
    if parsed.items.is_empty() {
        return Err(reject(ApiError::BadRequest("the submission holds no indicators".into())));
    }
    state.charge(&p.id, VolumeQuota::Indicators, parsed.items.len() as u64).map_err(reject)?;
    let policies = state.policies.load();
    let Some(sanitiser) = policies.for_participant(&p).cloned() else {
        tracing::error!(participant = %p.id, "no ingest policy loaded for participant");
        return Err(reject(ApiError::Unavailable));
    };
    let received = parsed.items.len();
    let now = now_ms();
    let result = if received > 64 {
        let s = sanitiser.clone();
        let expiry = state.expiry.clone();
        tokio::task::spawn_blocking(move || sanitise_parsed(&s, &parsed, Mode::Submit { now, expiry: &expiry }))
            .await
            .map_err(|_| reject(ApiError::Internal))?
    } else {
        sanitise_parsed(&sanitiser, &parsed, Mode::Submit { now, expiry: &state.expiry })
    };
    let policy = sanitiser.policy().version();
    let submission = random_uuid();
    state.metrics.indicators_rejected.fetch_add(result.rejected.len() as u64, Ordering::Relaxed);
    state.metrics.removals.fetch_add(result.removed.total(), Ordering::Relaxed);

    let audit = AuditEvent::Submission {
        participant: p.id.clone(),
        submission: submission.clone(),
        policy: policy.clone(),
        format: format.as_str().to_owned(),
        received,
        accepted: result.accepted.len(),
        rejected: result.rejected.len(),
        removed: result.removed.clone(),
    };

    if result.accepted.is_empty() {
        // Nothing changes but the attempt is on record.
        let _ = state.store.audit(audit).await;
        let body = serde_json::json!({
            "error": {"code": "nothing_accepted", "message": ApiError::NothingAccepted.to_string()},
            "submission": submission,
            "rejected": result.rejected,
        });
        return Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::UNPROCESSABLE_ENTITY).into_response());
    }

    let response = SubmissionResponse {
        submission: &submission,
        policy: &policy,
        received,
        accepted: result.accepted.len(),
        indicators: result
            .accepted
            .iter()
            .map(|a| AcceptedRef { index: a.index, id: indicator_id(a.indicator.kind, &a.indicator.value) })
            .collect(),
        rejected: &result.rejected,
        removed: &result.removed,
    };
    let response = serde_json::to_vec(&response).expect("serialise");
    let batch = SubmitBatch {
        contributor: Contributor {
            participant: p.id.clone(),
            sector: p.sector().to_owned(),
            disclose_name: p.disclose_name,
        },
        policy,
        received_at: now,
        indicators: result.accepted.into_iter().map(|a| a.indicator).collect(),
        idempotency: idempotency_key.map(|k| (p.id.clone(), k)),
        request_hash: crate::store::request_hash(format.as_str(), &body),
        response: response.clone(),
        audit,
    };
    let accepted = batch.indicators.len() as u64;
    let outcome =
        state.store.submit(batch).await.map_err(|e| reject(ApiError::from_store(e, "submission not committed")))?;
    let (body, replayed) = match outcome {
        SubmitOutcome::Committed { .. } => {
            state.metrics.submissions.fetch_add(1, Ordering::Relaxed);
            state.metrics.indicators_accepted.fetch_add(accepted, Ordering::Relaxed);
            tracing::info!(participant = %p.id, accepted, "submission committed");
            (response, false)
        }
        SubmitOutcome::Replayed { response } => (response, true),
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

/// The current time truncated to milliseconds (STIX and TAXII timestamps).
pub fn now_ms() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).expect("valid nanosecond")
}

/// `DELETE /v1/indicators/{id}`: the submitter withdraws its contribution.
pub async fn retract(
    id: String,
    p: Arc<Participant>,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let valid = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !valid {
        return Err(reject(ApiError::NotFound("no such indicator".into())));
    }
    // A participant that never submitted it gets 404, not revealing whether others did.
    let retracted = state
        .store
        .retract(&p.id, &id.to_ascii_lowercase())
        .await
        .map_err(|e| reject(ApiError::from_store(e, "retraction not committed")))?;
    let removed = retracted.removed;
    tracing::info!(participant = %p.id, removed, "retraction committed");
    let body = serde_json::json!({"id": id, "retracted": true, "removed": removed});
    Ok(warp::reply::json(&body).into_response())
}

/// Query parameters as decoded `(name, value)` pairs, in order; never fails
/// (the callers check the names and values they know).
fn query_params(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    url::form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| Ok((k.into_owned(), v.into_owned()))).collect()
}

fn parse_u64_param(name: &str, v: &str) -> Result<u64, ApiError> {
    v.parse().map_err(|_| ApiError::BadRequest(format!("`{name}` must be a non-negative integer")))
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
    Some(Value::Object(map))
}

/// `GET /v1/indicators?since=CURSOR&limit=N`.
pub async fn feed(
    p: Arc<Participant>,
    query: String,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let mut since = 0u64;
    let mut limit = 1000usize;
    for (k, v) in query_params(&query).map_err(reject)? {
        match k.as_str() {
            "since" => {
                since = if v.is_empty() {
                    0
                } else {
                    v.parse().map_err(|_| {
                        reject(ApiError::BadRequest("`since` must be a cursor returned as `next` (or 0)".into()))
                    })?
                }
            }
            "limit" => {
                let n = parse_u64_param("limit", &v).map_err(reject)?;
                if n == 0 || n as usize > state.limits.max_page {
                    return Err(reject(ApiError::BadRequest(format!(
                        "`limit` must be between 1 and {}",
                        state.limits.max_page
                    ))));
                }
                limit = n as usize;
            }
            other => {
                return Err(reject(ApiError::BadRequest(format!(
                    "unknown parameter `{}` (expected since, limit)",
                    other.chars().take(32).collect::<String>()
                ))));
            }
        }
    }
    let entries: Vec<FeedEntry> =
        state.store.feed(since, limit).await.map_err(|e| reject(ApiError::from_store(e, "feed read failed")))?;
    let next = entries.last().map(|e| e.seq).unwrap_or(since);
    let views = crate::feeds::egress::views_for(&p, &state.policies.load());
    let items: Vec<Value> = entries.iter().filter_map(|e| feed_item(e, &views)).collect();
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

/// `GET /v1/blocklists/{name}`: a pre-built snapshot for the participant's
/// audiences, with ETag/304 and gzip.
pub async fn blocklist(
    name: String,
    p: Arc<Participant>,
    if_none_match: Option<String>,
    accept_encoding: Option<String>,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    use crate::feeds::blocklist::{NAMES, audience_key};
    if !NAMES.contains(&name.as_str()) {
        return Err(reject(ApiError::NotFound(format!("no such blocklist; available: {}", NAMES.join(", ")))));
    }
    let key = audience_key(&p.audiences());
    let Some(snap) = state.blocklists.get(&key, &name) else {
        return Err(reject(if state.blocklists.ready() {
            ApiError::NotFound("no blocklist is built for your audiences".into())
        } else {
            ApiError::Unavailable
        }));
    };
    let gz_etag = snap.gzip_etag();
    let gzip = accept_encoding.as_deref().is_some_and(accepts_gzip);
    let etag = if gzip { gz_etag.clone() } else { snap.etag.clone() };
    if let Some(inm) = if_none_match
        && inm.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == snap.etag || t == gz_etag)
    {
        return Ok(warp::http::Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header("etag", etag)
            .header("vary", "accept-encoding")
            .body(Default::default())
            .expect("valid response"));
    }
    let body = if gzip {
        match snap.gzip.get() {
            Some(g) => g.clone(),
            None => {
                let s = snap.clone();
                tokio::task::spawn_blocking(move || s.gzip_bytes().clone())
                    .await
                    .map_err(|_| reject(ApiError::Internal))?
            }
        }
    } else {
        snap.body.clone()
    };
    let mut resp = warp::http::Response::builder()
        .status(StatusCode::OK)
        .header("content-type", snap.content_type)
        .header("etag", etag)
        .header("vary", "accept-encoding")
        .header("x-tamis-entries", snap.count)
        .header("x-tamis-version", snap.version);
    if gzip {
        resp = resp.header("content-encoding", "gzip");
    }
    let resp = resp.body(body.into()).expect("valid response");
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
