//! The rules both backends share, so that they answer the same way: the
//! write requests ([`request`]), how a group of them changes the records
//! ([`commit`]: idempotency keys, co-submitted indicators, retraction,
//! expiry, policy versions, counters, feed entries and the audit events to
//! chain), the key layout and the keys derived from the storage key
//! ([`keys`]), and the records themselves ([`record`]).
//!
//! A backend supplies where a group reads what it did not write itself
//! ([`commit::Source`]), writes the group's overlay, feed entries and audit
//! records atomically, and answers the requests once that is durable.

pub(crate) mod commit;
pub(crate) mod compact;
pub(crate) mod keys;
pub(crate) mod record;
pub(crate) mod request;
