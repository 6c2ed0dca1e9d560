//! The private lookup (issue 13, item 1; role `lookup`):
//! `POST /v1/lookup/evaluate` evaluates a participant's blinded elements
//! under the exchange's OPRF key (RFC 9497, ristretto255-SHA512), and
//! `GET /v1/lookup/{prefix}` answers the outputs of one bucket, padded, so
//! that the client tests membership itself (see [`crate::lookup`]).
//!
//! The exchange never sees the identifier: a blinded element is a random
//! group element, and the prefix names one bucket of 65,536. Each
//! evaluation lets the asker test one guess, so evaluations are budgeted per
//! participant (`[lookup] evaluations_per_minute`, 429 with Retry-After) and
//! their number, never the elements, is audited. Neither is logged.

use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use warp::{Rejection, Reply};

use super::{ApiError, AppState};
use crate::audit::AuditEvent;
use crate::identity::Participant;
use crate::lookup::{ELEMENT_LEN, PREFIX_HEX};

/// Largest evaluation request body.
pub const MAX_BODY: u64 = 64 * 1024;
/// A bucket's answer holds a multiple of this many outputs (at least one
/// such block): real outputs, then random ones with the same prefix.
pub const PAD_TO: usize = 16;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRequest {
    /// Blinded elements, 64 hex digits each.
    blinded: Vec<String>,
}

/// The lookup's key and budget, or 503 when this exchange has none.
fn lookup_state(state: &AppState) -> Result<&crate::app::Lookup, ApiError> {
    state.lookup.get().ok_or(ApiError::Unavailable)
}

/// The blinded elements of a request body; errors name the position, never
/// the content.
fn parse_elements(body: &[u8], max_batch: usize) -> Result<Vec<[u8; ELEMENT_LEN]>, ApiError> {
    let req: EvaluateRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadJson(format!(
            "expected {{\"blinded\": [\"64 hex digits\", ...]}} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if req.blinded.is_empty() {
        return Err(ApiError::BadRequest("blinded: give at least one blinded element".into()));
    }
    if req.blinded.len() > max_batch {
        return Err(ApiError::BadRequest(format!("blinded: at most {max_batch} elements per request")));
    }
    req.blinded
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut out = [0u8; ELEMENT_LEN];
            hex::decode_to_slice(h, &mut out)
                .map_err(|_| ApiError::BadRequest(format!("blinded[{i}]: expected {} hex digits", 2 * ELEMENT_LEN)))?;
            Ok(out)
        })
        .collect()
}

/// Takes `n` evaluations from the participant's budget.
fn charge(state: &AppState, l: &crate::app::Lookup, participant: &str, n: usize) -> Result<(), ApiError> {
    let units = NonZeroU32::new(n as u32).expect("at least one element");
    match l.quota.check_key_n(&participant.to_owned(), units) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(not_until)) => {
            use governor::clock::{Clock, DefaultClock};
            state.metrics.lookup_refusals.inc();
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Err(ApiError::QuotaExceeded {
                quota: format!("{} lookup evaluations per minute", l.per_minute),
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            })
        }
        Err(_) => Err(ApiError::BadRequest(format!(
            "blinded: more elements than the budget of {} evaluations per minute",
            l.per_minute
        ))),
    }
}

/// `POST /v1/lookup/evaluate`: `{"blinded": [hex, ...]}` →
/// `{"evaluated": [hex, ...], "prefix_hex": 4}`, in order.
pub async fn evaluate(
    p: Arc<Participant>,
    content_type: Option<String>,
    body: Bytes,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let l = lookup_state(&state)?;
    super::require_json(content_type.as_deref(), "the lookup takes `application/json`")?;
    let elements = parse_elements(&body, l.max_batch)?;
    charge(&state, l, &p.id, elements.len())?;
    let mut evaluated = Vec::with_capacity(elements.len());
    for (i, e) in elements.iter().enumerate() {
        let out = l.key.blind_evaluate(e).map_err(|err| ApiError::BadRequest(format!("blinded[{i}]: {err}")))?;
        evaluated.push(hex::encode(out));
    }
    let event = AuditEvent::LookupEvaluation { participant: p.id.clone(), evaluations: evaluated.len() };
    state.store.audit(event).await.map_err(|e| Rejection::from(ApiError::from_store(e, "lookup not audited")))?;
    state.metrics.lookup_evaluations.inc_by(evaluated.len() as u64);
    Ok(warp::reply::json(&json!({ "evaluated": evaluated, "prefix_hex": PREFIX_HEX })).into_response())
}

/// `GET /v1/lookup/{prefix}`: `{"prefix", "outputs": [hex, ...]}`, the
/// bucket's outputs padded with random ones to a multiple of [`PAD_TO`],
/// sorted, so the size of the answer does not tell how full the bucket is.
pub async fn bucket(
    prefix: String,
    _p: Arc<Participant>,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    lookup_state(&state)?;
    if prefix == "evaluate" {
        return Err(ApiError::MethodNotAllowed { allow: Some("POST") }.into());
    }
    let prefix = crate::lookup::check_prefix(&prefix).map_err(ApiError::BadRequest)?;
    let now = time::OffsetDateTime::now_utc();
    let mut outputs = state
        .store
        .lookup_bucket(&prefix, now)
        .await
        .map_err(|e| Rejection::from(ApiError::from_store(e, "lookup bucket read failed")))?;
    pad(&prefix, &mut outputs);
    state.metrics.lookup_buckets.inc();
    Ok(warp::reply::json(&json!({ "prefix": prefix, "outputs": outputs })).into_response())
}

/// Adds random outputs with the bucket's prefix up to the next multiple of
/// [`PAD_TO`] (at least one block), then sorts: a random 64-byte value
/// equals a real output with negligible probability, and looks like one.
fn pad(prefix: &str, outputs: &mut Vec<String>) {
    let target = outputs.len().div_ceil(PAD_TO).max(1) * PAD_TO;
    while outputs.len() < target {
        let mut r = [0u8; crate::lookup::OUTPUT_LEN];
        getrandom::fill(&mut r).expect("OS random source");
        let mut h = hex::encode(r);
        h.replace_range(..PREFIX_HEX, prefix);
        outputs.push(h);
    }
    outputs.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_padded_to_blocks_with_outputs_of_their_prefix() {
        let mut none = Vec::new();
        pad("ab12", &mut none);
        assert_eq!(none.len(), PAD_TO);
        assert!(none.iter().all(|o| o.starts_with("ab12") && crate::lookup::is_output_hex(o)));
        let real: Vec<String> = (0..17).map(|i| format!("ab12{:0124x}", i)).collect();
        let mut some = real.clone();
        pad("ab12", &mut some);
        assert_eq!(some.len(), 2 * PAD_TO);
        assert!(real.iter().all(|r| some.contains(r)));
        assert!(some.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn element_lists_are_checked_without_echoing_them() {
        let ok = format!(r#"{{"blinded":["{}"]}}"#, "00".repeat(32));
        assert_eq!(parse_elements(ok.as_bytes(), 4).unwrap().len(), 1);
        let e = parse_elements(br#"{"blinded":["zzsecret"]}"#, 4).unwrap_err().to_string();
        assert!(e.contains("blinded[0]") && !e.contains("secret"), "{e}");
        assert!(parse_elements(br#"{"blinded":[]}"#, 4).unwrap_err().to_string().contains("at least one"));
        let many = format!(r#"{{"blinded":[{}]}}"#, vec![format!("\"{}\"", "00".repeat(32)); 5].join(","));
        assert!(parse_elements(many.as_bytes(), 4).unwrap_err().to_string().contains("at most 4"));
        let e = parse_elements(br#"{"blinded":"secret-value"}"#, 4).unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }
}
