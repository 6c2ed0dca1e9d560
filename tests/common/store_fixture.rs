//! A store batch for measuring commits, shared by `tests/perf.rs` and
//! `benches/store.rs` (included there with `#[path]`).

use tamis::audit::AuditEvent;
use tamis::model::{Category, IndicatorType, SanitisedIndicator, Tlp};
use tamis::store::{Contributor, SubmitBatch, request_hash};

/// A phishing domain as the sanitiser would hand it to the store.
pub fn store_sample(value: String) -> SanitisedIndicator {
    SanitisedIndicator {
        kind: IndicatorType::Domain,
        value,
        value_form: None,
        category: Category::Phishing,
        confidence: 60,
        tlp: Tlp::Green,
        first_seen: None,
        valid_until: None,
        description: None,
        attributes: Default::default(),
        tags: vec!["t1".into()],
    }
}

/// One submission of `items` by `bank-a`, with its audit event.
pub fn store_batch(items: Vec<SanitisedIndicator>) -> SubmitBatch {
    SubmitBatch {
        lookup: Vec::new(),
        contributor: Contributor { participant: "bank-a".into(), sector: "finance".into(), disclose_name: false },
        policy: "default@0011".into(),
        received_at: time::OffsetDateTime::now_utc(),
        idempotency: None,
        request_hash: request_hash("application/json", format!("{items:?}").as_bytes()),
        response: b"{\"ok\":1}".to_vec(),
        audit: AuditEvent::Submission {
            participant: "bank-a".into(),
            submission: "s".into(),
            policy: "default@0011".into(),
            format: "application/json".into(),
            received: items.len(),
            accepted: items.len(),
            rejected: 0,
            removed: Default::default(),
        },
        indicators: items,
    }
}
