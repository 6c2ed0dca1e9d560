//! The sanitiser: turns a [`RawIndicator`] into a [`SanitisedIndicator`]
//! according to a [`Policy`]. Pure: no I/O, no clock.
//!
//! PLACEHOLDER (fail-closed): keeps the value of attacker-infrastructure
//! types, pseudonymises e-mail/phone/IBAN values, cuts URLs to scheme, host
//! and path, and drops description and attributes entirely. The real engine
//! replaces this module.

use std::sync::Arc;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::model::{IndicatorType, RawIndicator, Removals, SanitisedIndicator};
use crate::policy::{Policy, PolicyError};

/// Secret material the sanitiser needs.
#[derive(Clone)]
pub struct Keys {
    /// HMAC-SHA-256 key for pseudonyms (same input, same token).
    pub pseudonym: [u8; 32],
    /// X25519 public key for escrow (the server never holds the private half).
    pub escrow_public: [u8; 32],
}

/// A policy compiled for sanitising; cheap to share behind an `Arc`.
pub struct Sanitiser {
    policy: Arc<Policy>,
    keys: Keys,
}

/// A reason the sanitiser refuses an indicator (the value is never echoed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Refusal {
    pub field: String,
    pub reason: String,
}

impl Sanitiser {
    pub fn new(policy: Arc<Policy>, keys: Keys) -> Result<Self, PolicyError> {
        Ok(Sanitiser { policy, keys })
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// Sanitises one indicator, adding what it removed to `removals`.
    pub fn sanitise(&self, raw: RawIndicator, removals: &mut Removals) -> Result<SanitisedIndicator, Refusal> {
        let (value, value_form) = match raw.kind {
            IndicatorType::Email | IndicatorType::Phone | IndicatorType::Iban => {
                removals.add(raw.kind.as_str(), "pseudonymise");
                (self.pseudonym(raw.kind.as_str(), &raw.value), Some("pseudonymised".to_owned()))
            }
            IndicatorType::Url => {
                let mut u = url::Url::parse(&raw.value)
                    .map_err(|_| Refusal { field: "value".into(), reason: "not a valid URL".into() })?;
                if !u.username().is_empty() || u.password().is_some() {
                    removals.add("credential", "drop");
                }
                let _ = u.set_username("");
                let _ = u.set_password(None);
                if u.query().is_some() {
                    removals.add("url-query", "drop");
                }
                u.set_query(None);
                u.set_fragment(None);
                (u.to_string(), None)
            }
            _ => (raw.value, None),
        };
        if raw.description.is_some() {
            removals.add("free-text", "drop");
        }
        removals.add_n("attribute", "drop", raw.attributes.len() as u64 + raw.dropped_attributes.len() as u64);
        removals.add_n("unknown-field", "drop", raw.unknown_fields.len() as u64);
        Ok(SanitisedIndicator {
            kind: raw.kind,
            value,
            value_form,
            category: raw.category,
            confidence: raw.confidence,
            tlp: raw.tlp,
            first_seen: raw.first_seen,
            valid_until: raw.valid_until,
            description: None,
            attributes: Default::default(),
            tags: raw.tags,
        })
    }

    fn pseudonym(&self, domain: &str, value: &str) -> String {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.keys.pseudonym).expect("any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("tok:v1:{}:{}", domain, hex::encode(&tag[..16]))
    }
}
