//! What the store keeps per indicator (either backend), and how the shared
//! record is derived from every contributor's own sighting (docs/design.md,
//! "Co-submitted indicators"), so a co-submitter can neither rewrite nor
//! hide someone else's indicator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{Category, Indicator, IndicatorType, Sources, Tlp};
use crate::store::{FalsePositiveView, FeedbackReport};

/// What the store keeps per indicator (never leaves as is: contributor
/// names are internal).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The shared record, derived from the live contributions.
    pub(crate) indicator: Indicator,
    pub(crate) contributors: BTreeMap<String, Contribution>,
    #[serde(default)]
    pub(crate) removed: bool,
    /// Sightings and false-positive reports from consumers.
    #[serde(default, skip_serializing_if = "Feedback::is_empty")]
    pub(crate) feedback: Feedback,
    /// The private lookup's OPRF output of the value (hex; IBAN, phone and
    /// e-mail indicators), kept next to the pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lookup: Option<String>,
}

/// A private-lookup output in the store (`o/` keys): in the set while its
/// indicator is live, not withdrawn and not TLP:RED, until `until`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct LookupEntry {
    pub(crate) output: String,
    pub(crate) member: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub(crate) until: Option<OffsetDateTime>,
}

impl LookupEntry {
    /// The entry of `r`'s output as `r` now is (`None`: `r` has none).
    pub(crate) fn of(r: &Record) -> Option<LookupEntry> {
        let output = r.lookup.clone()?;
        let member = !r.removed && r.feedback.withdrawn.is_none() && r.indicator.tlp != Tlp::Red;
        Some(LookupEntry { output, member, until: r.indicator.valid_until })
    }

    /// Whether the output is in the set at `now`.
    pub(crate) fn member_at(&self, now: OffsetDateTime) -> bool {
        self.member && self.until.is_none_or(|t| t > now)
    }
}

/// What consumers reported about an indicator (issue 13, item 3), by
/// reporter; reporters are internal, the submitter sees their sectors.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Feedback {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) seen: BTreeMap<String, Seen>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) false_positives: BTreeMap<String, FalsePositive>,
    /// Withdrawn from blocklists pending the submitter's review, since then.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub(crate) withdrawn: Option<OffsetDateTime>,
}

impl Feedback {
    pub(crate) fn is_empty(&self) -> bool {
        self.seen.is_empty() && self.false_positives.is_empty() && self.withdrawn.is_none()
    }
}

/// One reporter's `seen` sightings: counts and times only.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Seen {
    pub(crate) count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) first: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) last: OffsetDateTime,
}

/// One reporter's false-positive report (its latest).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FalsePositive {
    pub(crate) sector: String,
    pub(crate) reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) at: OffsetDateTime,
}

/// The feedback on `r` as `participant` sees it, when it contributed
/// (live or not) and there is feedback.
pub(crate) fn report_for(r: &Record, participant: &str) -> Option<FeedbackReport> {
    if !r.contributors.contains_key(participant) || r.feedback.is_empty() {
        return None;
    }
    let f = &r.feedback;
    Some(FeedbackReport {
        id: r.indicator.id.clone(),
        kind: r.indicator.kind,
        value: r.indicator.value.clone(),
        removed: r.removed,
        withdrawn: f.withdrawn,
        seen_reporters: f.seen.len(),
        seen_count: f.seen.values().map(|s| s.count).sum(),
        last_seen: f.seen.values().map(|s| s.last).max(),
        false_positives: f
            .false_positives
            .values()
            .map(|x| FalsePositiveView { sector: x.sector.clone(), reason: x.reason.clone(), at: x.at })
            .collect(),
    })
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Contribution {
    pub(crate) sector: String,
    pub(crate) disclose_name: bool,
    /// When this participant first contributed: the oldest live contribution leads.
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) first: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) last: OffsetDateTime,
    pub(crate) count: u64,
    /// The participant's own sighting, as it last submitted it.
    pub(crate) sighting: Sighting,
}

/// One contributor's own fields of an indicator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Sighting {
    /// How the value was transformed (pseudonymised...), as this policy did it.
    pub(crate) value_form: Option<String>,
    pub(crate) category: Category,
    pub(crate) confidence: u8,
    pub(crate) tlp: Tlp,
    /// Its earliest sighting (its own `first_seen`, or when it first submitted).
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) first_seen: OffsetDateTime,
    /// Capped at receipt + `expiry.max_days`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) valid_until: Option<OffsetDateTime>,
    pub(crate) description: Option<String>,
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) tags: Vec<String>,
    /// `id@hash` of the policy that sanitised this sighting.
    pub(crate) policy: String,
}

impl Contribution {
    pub(crate) fn live(&self, now: OffsetDateTime) -> bool {
        self.sighting.valid_until.is_none_or(|t| t > now)
    }
}

/// What the store keeps under an Idempotency-Key.
#[derive(Serialize, Deserialize)]
pub(crate) struct IdempotencyRecord {
    /// Who used the key, and the key: its sled key is re-derived from them
    /// when the storage key rotates.
    pub(crate) participant: String,
    pub(crate) key: String,
    /// [`request_hash`](crate::store::request_hash) of the first request, hex.
    pub(crate) request: String,
    /// Its response.
    pub(crate) response: Vec<u8>,
}

/// Most tags a contribution keeps.
pub(crate) const MAX_TAGS: usize = 64;

pub(crate) fn new_record(
    id: String,
    kind: IndicatorType,
    value: &str,
    contributors: BTreeMap<String, Contribution>,
    now: OffsetDateTime,
) -> Record {
    let placeholder = Indicator {
        id,
        kind,
        value: value.to_owned(),
        value_form: None,
        category: Category::Other,
        confidence: 0,
        tlp: Tlp::Red,
        first_seen: now,
        last_seen: now,
        valid_until: None,
        description: None,
        attributes: BTreeMap::new(),
        tags: Vec::new(),
        sources: Sources { count: 0, sectors: Vec::new(), names: Vec::new() },
        policy: String::new(),
    };
    let mut r =
        Record { indicator: placeholder, contributors, removed: false, feedback: Feedback::default(), lookup: None };
    derive(&mut r, now);
    r
}

/// Derives the shared record from the live contributions; true when it
/// changed. The rules (docs/design.md, "Co-submitted indicators"):
///
/// - the **lead** is the oldest live contribution (the originator, or the
///   next-oldest once it is retracted or has expired); its TLP, category,
///   value form, validity, description, attributes, tags and policy are the
///   record's. A co-submitter changes none of them, so it can neither hide
///   the indicator from an audience (a higher TLP, another category, an
///   earlier end) nor rewrite what the originator said.
/// - **corroborating** contributions are the live ones whose TLP is no more
///   restrictive than the lead's. Only they count in `sources`, raise
///   `confidence` (the maximum: a co-submitter can only add audiences, as it
///   could by submitting alone) and widen `first_seen` / `last_seen`. A more
///   restrictive contribution stays invisible, so nothing of a TLP:RED
///   sighting reaches a wider audience, not even its existence.
pub(crate) fn derive(r: &mut Record, now: OffsetDateTime) -> bool {
    let live: Vec<(&String, &Contribution)> = {
        let l: Vec<_> = r.contributors.iter().filter(|(_, c)| c.live(now)).collect();
        if l.is_empty() { r.contributors.iter().collect() } else { l }
    };
    let Some(&(_, lead)) = live.iter().min_by_key(|(name, c)| (c.first, *name)) else { return false };
    let corroborating: Vec<(&String, &Contribution)> =
        live.iter().copied().filter(|(_, c)| c.sighting.tlp <= lead.sighting.tlp).collect();
    let l = &lead.sighting;
    let mut sectors: Vec<String> = corroborating.iter().map(|(_, c)| c.sector.clone()).collect();
    sectors.sort();
    sectors.dedup();
    let derived = Indicator {
        id: r.indicator.id.clone(),
        kind: r.indicator.kind,
        value: r.indicator.value.clone(),
        value_form: l.value_form.clone(),
        category: l.category,
        confidence: corroborating.iter().map(|(_, c)| c.sighting.confidence).max().unwrap_or(l.confidence),
        tlp: l.tlp,
        first_seen: corroborating.iter().map(|(_, c)| c.sighting.first_seen).min().unwrap_or(l.first_seen),
        last_seen: corroborating.iter().map(|(_, c)| c.last).max().unwrap_or(lead.last),
        valid_until: l.valid_until,
        description: l.description.clone(),
        attributes: l.attributes.clone(),
        tags: l.tags.clone(),
        sources: Sources {
            count: corroborating.len() as u32,
            sectors,
            names: corroborating.iter().filter(|(_, c)| c.disclose_name).map(|(n, _)| (*n).clone()).collect(),
        },
        policy: l.policy.clone(),
    };
    let changed = derived != r.indicator;
    r.indicator = derived;
    changed
}
