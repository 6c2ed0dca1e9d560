//! The data the store contract speaks in: what a submission commits, what a
//! request did, what followers of the feed see, and the stable identifiers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::model::{Indicator, IndicatorType, SanitisedIndicator};

/// Who submitted, as the store needs to know it.
#[derive(Clone, Debug)]
pub struct Contributor {
    pub participant: String,
    pub sector: String,
    /// The participant agreed to be named to consumers.
    pub disclose_name: bool,
}

/// One submission's sanitised indicators, ready to commit.
pub struct SubmitBatch {
    pub contributor: Contributor,
    /// `id@hash` of the ingest policy that produced the indicators.
    pub policy: String,
    pub received_at: OffsetDateTime,
    pub indicators: Vec<SanitisedIndicator>,
    /// The private lookup's OPRF output (hex) of each indicator's value, by
    /// position (`None`: not an IBAN, phone or e-mail, or no lookup key);
    /// missing entries count as `None`.
    pub lookup: Vec<Option<String>>,
    /// `(participant, Idempotency-Key)`: a retry with the same key is applied once.
    pub idempotency: Option<(String, String)>,
    /// [`request_hash`] of the request, stored with the idempotency record so
    /// that the key reused with another body is refused.
    pub request_hash: [u8; 32],
    /// The response to store for retries (the API's JSON body).
    pub response: Vec<u8>,
    /// The audit event recorded in the same commit.
    pub audit: AuditEvent,
}

/// Fingerprint of a submission request (media type and body) for idempotency.
pub fn request_hash(media_type: &str, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tamis/request/v1\0");
    h.update(media_type.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().into()
}

/// What committing a submission did (a key reused with another request is
/// [`StoreError::IdempotencyMismatch`](super::StoreError::IdempotencyMismatch)).
#[derive(Debug)]
pub enum SubmitOutcome {
    /// Applied now: ids of the indicators, in submission order.
    Committed { ids: Vec<String> },
    /// A retry of an earlier submission: its stored response.
    Replayed { response: Vec<u8> },
}

/// A change in the indicator set, as followers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Update,
    Remove,
}

/// One entry of the feed: the indicator as it was after the change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// Commit sequence number; the feed cursor.
    pub seq: u64,
    pub op: Op,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Why it was removed (`retracted`, `expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub indicator: Indicator,
    /// Withdrawn from blocklists by false-positive reports, pending the
    /// submitter's review (it stays in the feed, marked).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

/// What one compaction pass of the feed log did ([`Store::compact`](super::Store::compact)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Entries read.
    pub scanned: u64,
    /// Entries dropped: earlier entries of removed indicators, and removals
    /// older than the retention.
    pub dropped: u64,
    /// Removals kept (younger than the retention, or above an entry that is).
    pub tombstones: u64,
    /// The compaction horizon after the pass: the highest sequence number
    /// whose removal was dropped (0: none ever was).
    pub horizon: u64,
}

/// One participant's published contact points (the 24/7 directory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub participant: String,
    pub contacts: Vec<crate::directory::Contact>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
}

/// A policy version the exchange has loaded, for the DPO's registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub hash: String,
    /// The file's text as loaded.
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_loaded: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_loaded: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_used: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
    /// Submissions it sanitised.
    #[serde(default)]
    pub submissions: u64,
}

/// Non-personal counters kept with every submission (SPEC §8 statistics).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Removals by ISO week (`2026-W48`), then data category and action.
    pub removals_by_week: BTreeMap<String, crate::model::Removals>,
    /// Submissions by ISO week.
    pub submissions_by_week: BTreeMap<String, u64>,
    /// Indicators accepted by ISO week.
    pub accepted_by_week: BTreeMap<String, u64>,
    /// Indicators rejected by ISO week.
    pub rejected_by_week: BTreeMap<String, u64>,
    /// `seen` sightings reported by ISO week (the counts they carry).
    #[serde(default)]
    pub seen_by_week: BTreeMap<String, u64>,
    /// False-positive reports by ISO week.
    #[serde(default)]
    pub false_positives_by_week: BTreeMap<String, u64>,
    /// Indicators withdrawn from blocklists by false-positive reports, by ISO week.
    #[serde(default)]
    pub withdrawn_by_week: BTreeMap<String, u64>,
    /// Withdrawn indicators their submitter confirmed (put back), by ISO week.
    #[serde(default)]
    pub confirmed_by_week: BTreeMap<String, u64>,
}

/// What one sighting says about an indicator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Report {
    /// The reporter saw it `count` times (no personal data: only counts and times).
    Seen { count: u64 },
    /// The reporter says it is wrongly listed; `reason` was sanitised like a description.
    FalsePositive { reason: String },
}

/// One participant's sightings, ready to commit.
#[derive(Clone, Debug)]
pub struct SightingBatch {
    pub reporter: String,
    /// The reporter's sector, shown to the submitter instead of its name.
    pub sector: String,
    /// One false-positive report from this reporter withdraws an indicator
    /// at once (an ISP of the blocking agreement, by `[sightings]`).
    pub decisive: bool,
    /// Distinct false-positive reporters that withdraw an indicator.
    pub threshold: u32,
    /// `(indicator id, report)`, in the request's order.
    pub reports: Vec<(String, Report)>,
}

/// What became of one sighting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SightingStatus {
    /// Recorded.
    Recorded,
    /// Recorded, and this report withdrew the indicator from blocklists.
    Withdrawn,
    /// No live indicator has this id.
    Unknown,
    /// The reporter contributed the indicator itself: it retracts instead
    /// (`DELETE /v1/indicators/{id}`).
    OwnIndicator,
}

/// The sightings, false positives and review state of an indicator, as
/// one of its submitters sees them (`GET /v1/sightings`): reporters by
/// sector, never by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedbackReport {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    pub value: String,
    /// The indicator has left the exchange (retracted or expired).
    pub removed: bool,
    /// When it was withdrawn from blocklists pending review, if it is.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub withdrawn: Option<OffsetDateTime>,
    /// Participants that reported seeing it, and the total count.
    pub seen_reporters: usize,
    pub seen_count: u64,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    pub false_positives: Vec<FalsePositiveView>,
}

/// One false-positive report as the submitter sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FalsePositiveView {
    pub sector: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// What a submitter's review did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Reviewed {
    /// The indicator was withdrawn and is back on blocklists.
    pub reinstated: bool,
    /// False-positive reports cleared by the confirmation.
    pub cleared: usize,
}

/// ISO week of a time, `2026-W48`.
pub fn iso_week(t: OffsetDateTime) -> String {
    let (y, w, _) = t.to_iso_week_date();
    format!("{y}-W{w:02}")
}

/// What a retraction did (a participant that never contributed to a live
/// indicator gets [`StoreError::NotFound`](super::StoreError::NotFound)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retracted {
    /// The participant's contribution was the last one: the indicator left
    /// the exchange.
    pub removed: bool,
}

/// A policy version being loaded, for the registry and the audit trail.
#[derive(Clone, Debug)]
pub struct PolicyLoad {
    pub id: String,
    pub hash: String,
    /// The file's text as loaded.
    pub text: String,
    /// The file it was loaded from, as the audit record names it.
    pub file: String,
}

/// Stable identifier of `(type, value)`, shaped as a UUID (version 4 bits
/// set) so it can name STIX objects too.
pub fn indicator_id(kind: IndicatorType, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tamis/indicator/v1\0");
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    uuid_v4_from(&h.finalize())
}

/// A random UUID v4.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("OS random source");
    uuid_v4_from(&b)
}

/// A UUID string with the version-4 and variant bits set, from the first 16
/// bytes of `bytes` (a hash for stable ids, random bytes otherwise).
pub fn uuid_v4_from(bytes: &[u8]) -> String {
    let mut b: [u8; 16] = bytes[..16].try_into().expect("at least 16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}
