//! Sightings and false positives (issue 13, item 3).
//!
//! - `POST /v1/sightings` (roles `blocklist` or `feed`: ISPs and police):
//!   `{"sightings":[{"id":…,"kind":"seen","count":N}` or
//!   `{"id":…,"kind":"false-positive","reason":"…"}]}`; `type` + `value`
//!   (as the feed or the blocklist shows them) may replace `id`. A `seen`
//!   carries only a count (the reporter and the time are recorded). A
//!   `false-positive` reason is free text from a participant, so it goes
//!   through the reporter's ingest policy like a description: personal data
//!   in it is removed before anything is stored, and the answer counts what
//!   was removed; a reason the filter refuses is a 400 (fail closed).
//!   False positives from `[sightings] false_positive_threshold` distinct
//!   participants, or one from a participant of a `decisive_audiences`
//!   audience, withdraw the indicator from every blocklist at once: the
//!   store writes a feed entry marked `withdrawn` in the same commit and the
//!   blocklist builder drops it on its next round. The feed keeps the
//!   indicator, marked `"withdrawn": true`, `"reason": "false-positive"`.
//! - `GET /v1/sightings` (role `submit`): the reports on the caller's own
//!   indicators (reporters by sector, reasons as filtered).
//! - `POST /v1/indicators/{id}/confirm` (role `submit`, a contributor):
//!   the submitter stands by its indicator: the false-positive reports are
//!   cleared and a withdrawn indicator goes back on the blocklists. To agree
//!   with the reports it retracts instead (`DELETE /v1/indicators/{id}`).
//!
//! Everything is audited (`sightings`, `review`, `retraction`) and counted
//! in `/v1/stats`.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use warp::{Rejection, Reply};

use super::{ApiError, AppState};
use crate::identity::Participant;
use crate::model::{IndicatorType, Removals};
use crate::privacy::Sanitiser;
use crate::store::{Report, SightingBatch, SightingStatus, indicator_id};

/// Most sightings in one request.
pub const MAX_SIGHTINGS: usize = 1_000;
/// Longest false-positive reason, in characters.
pub const MAX_REASON: usize = 500;
/// Largest `count` of one `seen` sighting.
pub const MAX_COUNT: u64 = 1_000_000_000;
/// Largest body of `POST /v1/sightings`.
pub const MAX_BODY: u64 = 1024 * 1024;

/// `POST /v1/sightings`.
pub async fn post(
    p: Arc<Participant>,
    content_type: Option<String>,
    body: Bytes,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    super::require_json(content_type.as_deref(), "sightings are `application/json`")?;
    let Some(sanitiser) = state.policies.load().for_participant(&p).cloned() else {
        tracing::error!(participant = %p.id, "no ingest policy loaded for participant");
        return Err(ApiError::Unavailable.into());
    };
    // Reasons go through the privacy filter: CPU work, off the async workers.
    let (reports, removed) = tokio::task::spawn_blocking(move || parse(&body, &sanitiser))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(ApiError::BadRequest)?;
    let decisive = p.audiences().iter().any(|a| state.sightings.decisive_audiences.contains(a));
    let batch = SightingBatch {
        reporter: p.id.clone(),
        sector: p.sector().to_owned(),
        decisive,
        threshold: state.sightings.false_positive_threshold,
        reports,
    };
    let ids: Vec<String> = batch.reports.iter().map(|(id, _)| id.clone()).collect();
    let statuses = state
        .store
        .sightings(batch)
        .await
        .map_err(|e| Rejection::from(ApiError::from_store(e, "sightings not committed")))?;
    let count = |want: &[SightingStatus]| statuses.iter().filter(|s| want.contains(s)).count();
    let results: Vec<Value> = ids
        .iter()
        .zip(&statuses)
        .enumerate()
        .map(|(index, (id, status))| json!({"index": index, "id": id, "status": status}))
        .collect();
    let body = json!({
        "recorded": count(&[SightingStatus::Recorded, SightingStatus::Withdrawn]),
        "withdrawn": count(&[SightingStatus::Withdrawn]),
        "results": results,
        "removed": removed,
    });
    tracing::info!(participant = %p.id, recorded = body["recorded"].as_u64(), withdrawn = body["withdrawn"].as_u64(), "sightings committed");
    Ok(warp::reply::json(&body).into_response())
}

/// Parses the body into `(indicator id, report)` pairs, filtering reasons
/// with `sanitiser`; the error names the item and field, never the value.
fn parse(body: &[u8], sanitiser: &Sanitiser) -> Result<(Vec<(String, Report)>, Removals), String> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("malformed JSON at line {} column {}", e.line(), e.column()))?;
    let Value::Object(top) = doc else { return Err("the body must be an object {\"sightings\":[...]}".into()) };
    if top.keys().any(|k| k != "sightings") {
        return Err("unknown member (expected only `sightings`)".into());
    }
    let Some(Value::Array(list)) = top.get("sightings") else {
        return Err("`sightings` must be an array".into());
    };
    if list.is_empty() || list.len() > MAX_SIGHTINGS {
        return Err(format!("`sightings` must hold 1 to {MAX_SIGHTINGS} items"));
    }
    let mut removed = Removals::default();
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let Value::Object(m) = item else { return Err(format!("sightings[{i}]: must be an object")) };
        out.push(sighting(m, sanitiser, &mut removed).map_err(|e| format!("sightings[{i}]{e}"))?);
    }
    Ok((out, removed))
}

/// One item; the error starts with `.field` or `:`.
fn sighting(m: &Map<String, Value>, sanitiser: &Sanitiser, removed: &mut Removals) -> Result<(String, Report), String> {
    const FIELDS: &[&str] = &["id", "type", "value", "kind", "count", "reason"];
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        let k: String = k.chars().take(32).collect();
        return Err(format!(": unknown field `{k}` (expected {})", FIELDS.join(", ")));
    }
    let id = target(m)?;
    let report = match m.get("kind").and_then(Value::as_str) {
        Some("seen") => {
            if m.contains_key("reason") {
                return Err(".reason: only a false-positive has a reason".into());
            }
            let count = match m.get("count") {
                None => 1,
                Some(v) => v
                    .as_u64()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or(format!(".count: must be an integer from 1 to {MAX_COUNT}"))?,
            };
            Report::Seen { count }
        }
        Some("false-positive") => {
            if m.contains_key("count") {
                return Err(".count: only a `seen` sighting has a count".into());
            }
            let reason = match m.get("reason") {
                Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= MAX_REASON => s.trim(),
                Some(Value::String(_)) => return Err(format!(".reason: 1 to {MAX_REASON} characters")),
                Some(_) => return Err(".reason: must be a string".into()),
                None => return Err(".reason: is required for a false-positive".into()),
            };
            Report::FalsePositive { reason: filter_reason(reason, sanitiser, removed)? }
        }
        Some(_) | None => return Err(".kind: must be `seen` or `false-positive`".into()),
    };
    Ok((id, report))
}

/// The indicator an item names: `id`, or `type` + `value` as published.
fn target(m: &Map<String, Value>) -> Result<String, String> {
    match (m.get("id"), m.get("type"), m.get("value")) {
        (Some(Value::String(id)), None, None) => {
            let ok = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
            ok.then(|| id.to_ascii_lowercase()).ok_or_else(|| ".id: must be an indicator id (a UUID)".into())
        }
        (Some(_), None, None) => Err(".id: must be a string".into()),
        (None, Some(t), Some(v)) => {
            let kind: IndicatorType =
                t.as_str().and_then(|t| t.parse().ok()).ok_or(".type: must be an indicator type such as `domain`")?;
            if matches!(kind, IndicatorType::Email | IndicatorType::Iban | IndicatorType::Phone | IndicatorType::Btc) {
                return Err(".type: values of this type may be pseudonymised: name the indicator by `id`".into());
            }
            let v = v.as_str().ok_or(".value: must be a string")?;
            let value = crate::model::normalise_value(kind, v).map_err(|e| format!(".value: {e}"))?;
            Ok(indicator_id(kind, &value))
        }
        _ => Err(": name the indicator by `id`, or by `type` and `value`".into()),
    }
}

/// A reason through the privacy filter, as a description would go.
fn filter_reason(reason: &str, sanitiser: &Sanitiser, removed: &mut Removals) -> Result<String, String> {
    let raw = crate::model::RawIndicator {
        kind: IndicatorType::Sha256,
        value: "0".repeat(64),
        category: crate::model::Category::Other,
        confidence: 0,
        tlp: crate::model::Tlp::Amber,
        first_seen: None,
        valid_until: None,
        description: Some(reason.to_owned()),
        attributes: Default::default(),
        tags: Vec::new(),
        unknown_fields: Vec::new(),
        dropped_attributes: Vec::new(),
    };
    let out = sanitiser
        .sanitise(raw, removed)
        .map_err(|_| ".reason: refused by the privacy filter; describe the error without personal data".to_owned())?;
    out.description.filter(|d| !d.trim().is_empty()).ok_or_else(|| {
        ".reason: nothing is left once personal data is removed; describe the error without it".to_owned()
    })
}

/// `GET /v1/sightings`: the reports on the caller's own indicators.
pub async fn mine(p: Arc<Participant>, state: Arc<AppState>) -> Result<warp::reply::Response, Rejection> {
    let reports = state
        .store
        .feedback(&p.id)
        .await
        .map_err(|e| Rejection::from(ApiError::from_store(e, "sightings read failed")))?;
    Ok(warp::reply::json(&json!({ "reports": reports })).into_response())
}

/// `POST /v1/indicators/{id}/confirm`: the submitter stands by its indicator.
pub async fn confirm(
    id: String,
    p: Arc<Participant>,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let valid = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !valid {
        return Err(ApiError::NotFound("no such indicator".into()).into());
    }
    let id = id.to_ascii_lowercase();
    let r = state
        .store
        .confirm(&p.id, &id)
        .await
        .map_err(|e| Rejection::from(ApiError::from_store(e, "review not committed")))?;
    tracing::info!(participant = %p.id, reinstated = r.reinstated, "indicator confirmed after false-positive reports");
    Ok(warp::reply::json(&json!({"id": id, "reinstated": r.reinstated, "cleared": r.cleared})).into_response())
}
