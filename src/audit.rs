//! The audit trail: an append-only, hash-chained log of what went in and out
//! (SPEC §8). Records hold identities, counts and policy versions — never a
//! submitted value.
//!
//! Each record's `hash` is SHA-256 over the previous record's hash, its own
//! sequence number and the canonical JSON of its event, so an edited,
//! deleted or reordered record breaks the chain at its sequence number.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::model::Removals;

/// Hash of the (virtual) record before the first one.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Something worth recording for the DPO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum AuditEvent {
    /// A submission was received and (partly) accepted.
    Submission {
        participant: String,
        submission: String,
        /// `id@hash` of the ingest policy applied.
        policy: String,
        /// Media type of the body (`application/json`, `text/csv`...).
        format: String,
        received: usize,
        accepted: usize,
        rejected: usize,
        /// What the policy removed, by data category and action.
        removed: Removals,
    },
    /// A participant received indicators.
    Pull {
        participant: String,
        endpoint: String,
        /// Cursor range, snapshot version or page received.
        range: String,
        count: usize,
    },
    /// A submitter retracted its contribution to an indicator.
    Retraction { participant: String, indicator: String, removed: bool },
    /// A policy version was loaded (at start or on reload).
    PolicyLoad { policy: String, file: String },
    /// An escrowed value was revealed for a legal order.
    Reveal { operator: String, reason: String, token_type: String },
    /// The server started.
    Start { version: String },
    /// A participant replaced its contact points in the directory (how
    /// many; the contents are published business contacts, kept in the
    /// store, not in the append-only trail).
    DirectoryUpdate { participant: String, contacts: usize },
    /// A consumer reported sightings: how many `seen` and false-positive
    /// reports were recorded, and the indicators they withdrew from
    /// blocklists (the reasons stay in the store).
    Sightings { participant: String, seen: usize, false_positives: usize, withdrawn: Vec<String> },
    /// A submitter reviewed its indicator after false-positive reports.
    Review { participant: String, indicator: String, decision: String, reinstated: bool },
    /// A participant had blinded elements evaluated for the private lookup:
    /// how many (the elements, which hide the identifiers anyway, are not kept).
    LookupEvaluation { participant: String, evaluations: usize },
}

/// One link of the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Hash of the previous record (or [`GENESIS`]).
    pub prev: String,
    /// This record's hash (see module docs).
    pub hash: String,
    #[serde(flatten)]
    pub event: AuditEvent,
}

impl AuditRecord {
    /// Builds the record that follows `prev` (its hash) at sequence `seq`.
    pub fn chain(seq: u64, at: OffsetDateTime, prev: &str, event: AuditEvent) -> AuditRecord {
        let hash = link_hash(seq, at, prev, &event);
        AuditRecord { seq, at, prev: prev.to_owned(), hash, event }
    }

    /// Recomputes this record's hash from its content.
    pub fn computed_hash(&self) -> String {
        link_hash(self.seq, self.at, &self.prev, &self.event)
    }
}

fn link_hash(seq: u64, at: OffsetDateTime, prev: &str, event: &AuditEvent) -> String {
    let mut h = Sha256::new();
    h.update(b"tamis/audit/v1\0");
    h.update(prev.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(at.unix_timestamp_nanos().to_be_bytes());
    h.update(serde_json::to_vec(event).expect("audit events serialise"));
    hex::encode(h.finalize())
}

/// The outcome of checking a chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verification {
    pub ok: bool,
    pub records: u64,
    /// Hash of the last good record.
    pub head: String,
    /// The first bad record, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<BadRecord>,
    /// The anchor the chain was compared with (kept outside the data
    /// directory), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorInfo>,
}

/// The audit anchor a verification used: the head recorded outside `data/`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnchorInfo {
    /// Sequence number of the anchored record.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// Where the anchor file is.
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BadRecord {
    pub seq: u64,
    pub problem: String,
}

/// Checks a sequence of records from the start of the chain.
pub fn verify<I>(records: I) -> Verification
where
    I: IntoIterator<Item = Result<AuditRecord, (u64, String)>>,
{
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    for (expected, r) in (1u64..).zip(records) {
        let bad = |seq, problem: String| Verification {
            ok: false,
            records: count,
            head: prev.clone(),
            first_bad: Some(BadRecord { seq, problem }),
            anchor: None,
        };
        let r = match r {
            Ok(r) => r,
            Err((seq, problem)) => return bad(seq, problem),
        };
        if r.seq != expected {
            return bad(
                r.seq,
                format!("expected sequence {expected}, found {} (a record was deleted or reordered)", r.seq),
            );
        }
        if r.prev != prev {
            return bad(r.seq, "does not link to the previous record (deleted, inserted or reordered)".into());
        }
        if r.computed_hash() != r.hash {
            return bad(r.seq, "content does not match its hash (edited)".into());
        }
        prev = r.hash;
        count += 1;
    }
    Verification { ok: true, records: count, head: prev, first_bad: None, anchor: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let r = AuditRecord::chain(
                    seq,
                    OffsetDateTime::UNIX_EPOCH,
                    &prev,
                    AuditEvent::Start { version: format!("v{seq}") },
                );
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn detects_edit_deletion_and_reordering() {
        let good = chain(5);
        assert!(verify(good.iter().cloned().map(Ok)).ok);

        let mut edited = good.clone();
        edited[2].event = AuditEvent::Start { version: "forged".into() };
        let v = verify(edited.into_iter().map(Ok));
        assert_eq!(v.first_bad.unwrap().seq, 3);

        let mut deleted = good.clone();
        deleted.remove(1);
        assert_eq!(verify(deleted.into_iter().map(Ok)).first_bad.unwrap().seq, 3);

        let mut reordered = good.clone();
        reordered.swap(1, 2);
        assert!(!verify(reordered.into_iter().map(Ok)).ok);
    }
}
