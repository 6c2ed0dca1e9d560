//! The ingest policies in force: one compiled [`Sanitiser`] per policy id,
//! plus the id of the default. Below both the API (which sanitises with it)
//! and the feeds (whose egress views come from the default policy), so
//! neither has to import the other for it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::identity::Participant;
use crate::privacy::Sanitiser;

/// The loaded ingest policies, by policy id.
pub struct PolicySet {
    /// Each loaded policy compiled into its sanitiser, by policy id.
    pub by_id: HashMap<String, Arc<Sanitiser>>,
    /// Used for submitters whose registry entry names no policy.
    pub default: String,
}

impl PolicySet {
    /// The sanitiser of `p`'s policy (the default when its entry names none).
    pub fn for_participant(&self, p: &Participant) -> Option<&Arc<Sanitiser>> {
        let id = p.policy.as_deref().unwrap_or(&self.default);
        self.by_id.get(id)
    }
}
