//! The submission pipeline, without HTTP: a body is parsed ([`ingest`]),
//! each item validated and sanitised ([`process`]), and a real submission
//! is then committed to the audit trail and the store ([`commit`]).
//!
//! Three callers share it: `POST /v1/submissions` (process, then commit),
//! `POST /v1/policies/{id}/dry-run` and `tamis policy dry-run` (process
//! only, answered with [`Processed::dry_run_json`], so both dry-runs give
//! the same document). The HTTP handlers only translate headers, statuses
//! and replies; nothing here knows about warp.
//!
//! Errors never quote the body: they say what was wrong and where.

pub mod ingest;
pub mod mapping;

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::config::Expiry;
use crate::identity::Participant;
use crate::model::{self, IndicatorRejection, Removals, SanitisedIndicator};
use crate::privacy::{Explanation, Sanitiser};
use crate::store::{Contributor, Store, StoreError, SubmitBatch, SubmitOutcome, indicator_id, random_uuid};
use ingest::{Format, Parsed};

/// A body that cannot be processed at all (individual indicators are
/// rejected in [`Processed::rejected`] instead). The API maps each variant
/// to its status (`api::ApiError`); the CLI prints the message.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Not a submission: wrong shape, bad CSV, unusable STIX bundle.
    #[error("{0}")]
    Invalid(String),
    /// Not JSON at all; the message gives the position only.
    #[error("{0}")]
    MalformedJson(String),
    /// More indicators than one submission may hold.
    #[error("{0}")]
    TooLarge(String),
    /// A media type other than JSON, CSV or STIX.
    #[error("{0}")]
    UnsupportedMedia(String),
}

/// Describes a serde_json failure by position only: serde's own messages can
/// quote the input ("invalid type: string \"…\""), which may be personal data.
pub fn json_error(e: &serde_json::Error) -> InputError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "unexpected end of input",
        Category::Io => "unreadable body",
        Category::Syntax if e.to_string().contains("recursion limit") => "nesting too deep",
        Category::Syntax if e.to_string().contains("unicode") || e.to_string().contains("UTF-8") => {
            "invalid UTF-8 or unicode escape"
        }
        Category::Syntax => "syntax error",
        Category::Data => "unexpected value type",
    };
    InputError::MalformedJson(format!("malformed JSON: {what} at line {}, column {}", e.line(), e.column()))
}

/// A body to process.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub format: Format,
    pub body: &'a [u8],
    /// Parsing stops with [`InputError::TooLarge`] beyond this many indicators.
    pub max_indicators: usize,
}

/// What the processing is for.
pub enum Mode<'a> {
    /// A real submission: it must hold indicators; a past `valid_until` is
    /// refused and a missing one filled in from `expiry`.
    /// With `lookup`, each IBAN, phone or e-mail value is also evaluated
    /// under the private lookup's OPRF key before the policy sees it.
    Submit { now: OffsetDateTime, expiry: &'a Expiry, lookup: Option<&'a crate::lookup::LookupKey> },
    /// A dry-run: nothing is stored; optionally explain.
    DryRun { explain: bool },
}

/// A processed body: pure data, nothing stored yet.
pub struct Processed {
    /// `id@hash` of the policy applied.
    pub policy: String,
    /// How many items the body held.
    pub received: usize,
    pub accepted: Vec<Accepted>,
    /// By index; each says the field and the rule, never the value.
    pub rejected: Vec<IndicatorRejection>,
    /// What the policy removed from the accepted indicators.
    pub removed: Removals,
}

/// One indicator that passed.
pub struct Accepted {
    /// Its position in the body.
    pub index: usize,
    pub indicator: SanitisedIndicator,
    /// What the policy removed from it.
    pub removed: Removals,
    /// Which rule did what (dry-runs with explanations only).
    pub explain: Option<Vec<Explanation>>,
    /// The private lookup's OPRF output of the value (hex), for IBAN, phone
    /// and e-mail indicators of a real submission. The clear value it was
    /// computed from goes no further than the sanitiser.
    pub lookup: Option<String>,
}

/// Parses `input` and sanitises each item with `sanitiser`. `admit` is told
/// how many items the body holds before any is sanitised, and may refuse
/// (the API charges its indicator quota there). CPU-bound: the server calls
/// it from `spawn_blocking`.
pub fn process<E: From<InputError>>(
    input: Input<'_>,
    sanitiser: &Sanitiser,
    mode: &Mode<'_>,
    admit: impl FnOnce(usize) -> Result<(), E>,
) -> Result<Processed, E> {
    let parsed = ingest::parse_limited(input.format, input.body, input.max_indicators)?;
    if matches!(mode, Mode::Submit { .. }) && parsed.items.is_empty() {
        return Err(InputError::Invalid("the submission holds no indicators".into()).into());
    }
    admit(parsed.items.len())?;
    Ok(sanitise_parsed(sanitiser, &parsed, mode))
}

/// A dry-run of `body` with `sanitiser`: [`process`] with nothing to admit.
pub fn dry_run(input: Input<'_>, sanitiser: &Sanitiser, explain: bool) -> Result<Processed, InputError> {
    process(input, sanitiser, &Mode::DryRun { explain }, |_| Ok(()))
}

/// Validates and sanitises every item; items already refused by the body
/// parser (`parsed.rejected`) are skipped. Rejections carry the input line
/// when the body has lines (CSV).
fn sanitise_parsed(sanitiser: &Sanitiser, parsed: &Parsed, mode: &Mode<'_>) -> Processed {
    let items = &parsed.items;
    let mut out = Processed {
        policy: sanitiser.policy().version(),
        received: items.len(),
        accepted: Vec::with_capacity(items.len()),
        rejected: parsed.rejected.clone(),
        removed: Removals::default(),
    };
    let pre: HashSet<usize> = parsed.rejected.iter().map(|r| r.index).collect();
    for (i, v) in items.iter().enumerate().filter(|(i, _)| !pre.contains(i)) {
        match sanitise_one(sanitiser, i, v, mode) {
            Ok(a) => {
                out.removed.merge(&a.removed);
                out.accepted.push(a);
            }
            Err(mut r) => {
                r.line = parsed.lines.as_ref().and_then(|l| l.get(i).copied());
                out.rejected.push(r);
            }
        }
    }
    out.rejected.sort_by_key(|r| r.index);
    out
}

/// Item `i` of a body, validated then sanitised.
fn sanitise_one(sanitiser: &Sanitiser, i: usize, v: &Value, mode: &Mode<'_>) -> Result<Accepted, IndicatorRejection> {
    let raw = model::parse_indicator(i, v)?;
    if let Mode::Submit { now, .. } = mode
        && raw.valid_until.is_some_and(|t| t <= *now)
    {
        return Err(IndicatorRejection::new(i, "valid_until", "already in the past"));
    }
    let lookup = match mode {
        Mode::Submit { lookup: Some(key), .. } if crate::lookup::is_lookup_type(raw.kind) => key.evaluate(&raw.value),
        _ => None,
    };
    let mut removed = Removals::default();
    let result = match mode {
        Mode::DryRun { explain: true } => sanitiser.sanitise_explained(raw, &mut removed).map(|(s, ex)| (s, Some(ex))),
        _ => sanitiser.sanitise(raw, &mut removed).map(|s| (s, None)),
    };
    let (mut indicator, explain) = result.map_err(|r| IndicatorRejection::new(i, r.field, r.reason))?;
    if let Mode::Submit { now, expiry, .. } = mode
        && indicator.valid_until.is_none()
    {
        indicator.valid_until = Some(*now + time::Duration::days(expiry.days_for(indicator.kind) as i64));
    }
    Ok(Accepted { index: i, indicator, removed, explain, lookup })
}

impl Processed {
    /// The dry-run document, the same for `tamis policy dry-run` and
    /// `POST /v1/policies/{id}/dry-run` (see `docs/design.md`, "Dry-runs"):
    /// `{"policy", "indicators", "rejected", "removed"}`, each indicator the
    /// sanitised one plus its `index`, `policy`, `removed` and, when asked,
    /// `explain`.
    pub fn dry_run_json(&self) -> Value {
        let indicators: Vec<Value> = self
            .accepted
            .iter()
            .map(|a| {
                let mut j = serde_json::to_value(&a.indicator).expect("serialise");
                j["index"] = json!(a.index);
                j["policy"] = json!(self.policy);
                j["removed"] = json!(a.removed);
                if let Some(ex) = &a.explain {
                    j["explain"] = json!(ex);
                }
                j
            })
            .collect();
        json!({"policy": self.policy, "indicators": indicators, "rejected": self.rejected, "removed": self.removed})
    }
}

/// The current time truncated to milliseconds (a submission's `received_at`).
pub fn now_ms() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).expect("valid nanosecond")
}

/// Who submitted a processed body, and how.
pub struct Submission<'a> {
    pub participant: &'a Participant,
    pub format: Format,
    /// The body as received (its hash makes idempotent retries safe).
    pub body: &'a [u8],
    pub idempotency_key: Option<String>,
    /// When it was received ([`now_ms`]).
    pub received_at: OffsetDateTime,
}

/// What the commit step did.
pub enum Receipt {
    /// Nothing was accepted: only the attempt is on record.
    NothingAccepted { submission: String, rejected: Vec<IndicatorRejection> },
    /// Stored now; `response` is the answer (also kept for replays).
    Committed { response: Vec<u8>, accepted: u64 },
    /// A retry with the same key and body: the answer stored the first time.
    Replayed { response: Vec<u8> },
}

/// The answer to a submission (SPEC §4).
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

/// Records a processed submission: the audit event, and the accepted
/// indicators with the answer (kept for idempotent replays) in one commit.
pub async fn commit(store: &dyn Store, sub: Submission<'_>, done: Processed) -> Result<Receipt, StoreError> {
    let p = sub.participant;
    let submission = random_uuid();
    let audit = AuditEvent::Submission {
        participant: p.id.clone(),
        submission: submission.clone(),
        policy: done.policy.clone(),
        format: sub.format.as_str().to_owned(),
        received: done.received,
        accepted: done.accepted.len(),
        rejected: done.rejected.len(),
        removed: done.removed.clone(),
    };
    if done.accepted.is_empty() {
        write::audit(store, audit).await;
        return Ok(Receipt::NothingAccepted { submission, rejected: done.rejected });
    }
    let response = SubmissionResponse {
        submission: &submission,
        policy: &done.policy,
        received: done.received,
        accepted: done.accepted.len(),
        indicators: done
            .accepted
            .iter()
            .map(|a| AcceptedRef { index: a.index, id: indicator_id(a.indicator.kind, &a.indicator.value) })
            .collect(),
        rejected: &done.rejected,
        removed: &done.removed,
    };
    let response = serde_json::to_vec(&response).expect("serialise");
    let accepted = done.accepted.len() as u64;
    let batch = SubmitBatch {
        contributor: Contributor {
            participant: p.id.clone(),
            sector: p.sector().to_owned(),
            disclose_name: p.disclose_name,
        },
        policy: done.policy,
        received_at: sub.received_at,
        lookup: done.accepted.iter().map(|a| a.lookup.clone()).collect(),
        indicators: done.accepted.into_iter().map(|a| a.indicator).collect(),
        idempotency: sub.idempotency_key.map(|k| (p.id.clone(), k)),
        request_hash: crate::store::request_hash(sub.format.as_str(), sub.body),
        response: response.clone(),
        audit,
    };
    Ok(match write::submit(store, batch).await? {
        SubmitOutcome::Committed { .. } => {
            tracing::info!(participant = %p.id, accepted, "submission committed");
            Receipt::Committed { response, accepted }
        }
        SubmitOutcome::Replayed { response } => Receipt::Replayed { response },
    })
}

/// The commit step's calls into the store, in one place.
mod write {
    use super::*;

    /// Appends an event; a failure is logged by the store and not retried
    /// (the request it records failed or changed nothing).
    pub(super) async fn audit(store: &dyn Store, event: AuditEvent) {
        let _ = store.audit(event).await;
    }

    /// A reused Idempotency-Key with another body comes back as
    /// [`StoreError::IdempotencyMismatch`]; nothing was stored.
    pub(super) async fn submit(store: &dyn Store, batch: SubmitBatch) -> Result<SubmitOutcome, StoreError> {
        store.submit(batch).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::policy::Policy;
    use crate::privacy::Keys;

    fn sanitiser() -> Sanitiser {
        let p = Policy::parse("default.toml", include_str!("../../policies/default.toml")).unwrap();
        Sanitiser::new(Arc::new(p), Keys::ephemeral().unwrap()).unwrap()
    }

    fn input(format: Format, body: &[u8]) -> Input<'_> {
        Input { format, body, max_indicators: 10 }
    }

    #[test]
    fn a_submission_must_hold_indicators_and_admit_sees_the_count() {
        let s = sanitiser();
        let expiry = Expiry::default();
        let submit = Mode::Submit { now: now_ms(), expiry: &expiry, lookup: None };
        let empty = process(input(Format::Json, br#"{"indicators":[]}"#), &s, &submit, |_| Ok::<_, InputError>(()));
        assert!(matches!(empty, Err(InputError::Invalid(m)) if m.contains("no indicators")));
        // A dry-run of nothing is an empty answer.
        let r = dry_run(input(Format::Json, br#"{"indicators":[]}"#), &s, false).unwrap();
        assert_eq!((r.received, r.accepted.len()), (0, 0));
        // admit refuses before anything is sanitised.
        let body = br#"{"indicators":[{"type":"domain","value":"evil.top"},{"type":"domain","value":"x"}]}"#;
        let refused = process(input(Format::Json, body), &s, &submit, |n| {
            assert_eq!(n, 2);
            Err(InputError::TooLarge("quota".into()))
        });
        assert!(matches!(refused, Err(InputError::TooLarge(_))));
    }

    #[test]
    fn submit_mode_fills_valid_until_and_refuses_the_past() {
        let s = sanitiser();
        let expiry = Expiry::default();
        let now = now_ms();
        let body = br#"{"indicators":[{"type":"domain","value":"evil.top"},
            {"type":"domain","value":"old.top","valid_until":"2001-01-01T00:00:00Z"}]}"#;
        let mode = Mode::Submit { now, expiry: &expiry, lookup: None };
        let r = process(input(Format::Json, body), &s, &mode, |_| Ok::<_, InputError>(())).unwrap();
        assert_eq!(r.accepted.len(), 1);
        assert!(r.accepted[0].indicator.valid_until.is_some_and(|t| t > now));
        assert_eq!((r.rejected[0].index, r.rejected[0].field.as_str()), (1, "valid_until"));
        // A dry-run keeps both and fills nothing in.
        let r = dry_run(input(Format::Json, body), &s, false).unwrap();
        assert_eq!(r.accepted.len(), 2);
        assert!(r.accepted[0].indicator.valid_until.is_none());
    }

    #[test]
    fn csv_rejections_carry_their_line_and_the_dry_run_document_its_fields() {
        let s = sanitiser();
        let body = b"type,value\ndomain,evil.top\nipv4,10.0.0.1\n";
        let r = dry_run(input(Format::Csv, body), &s, true).unwrap();
        assert_eq!((r.rejected[0].index, r.rejected[0].line), (1, Some(3)));
        let doc = r.dry_run_json();
        assert_eq!(doc["policy"], json!(r.policy));
        let ind = &doc["indicators"][0];
        assert_eq!((ind["index"].as_u64(), ind["value"].as_str()), (Some(0), Some("evil.top")));
        assert_eq!(ind["policy"], doc["policy"]);
        assert!(ind["removed"].is_object() && ind["explain"].is_array(), "{doc}");
        assert_eq!(doc["rejected"][0]["line"], 3);
    }
}
