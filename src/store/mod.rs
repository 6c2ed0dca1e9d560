//! Storage of sanitised indicators, the change log that feeds followers, the
//! audit chain and idempotency records.
//!
//! - [`contract`]: the [`Store`] trait every backend implements, with the
//!   guarantees callers rely on (durability of an `Ok`, feed order and
//!   cursor, idempotency, audit chain order). Every request is async and
//!   answered on its own; errors are typed ([`StoreError`]).
//! - [`types`]: what requests carry and return, and the stable identifiers.
//! - [`sled_store`]: the embedded backend ([`SledStore`]): group commit on
//!   one writer thread, reads on tokio's blocking threads.
//! - [`postgres`]: the backend for many nodes on one PostgreSQL database
//!   ([`PgStore`]): the same records and rules, one row lock serializing
//!   commits in sequence order, LISTEN/NOTIFY between nodes.
//! - [`rules`]: what both backends share: the write requests, the rules of
//!   a commit, the key layout and the records.
//! - [`handle`]: the backend `[store]` in `tamis.toml` names, opened.
//! - [`compact`]: the task that compacts the feed log (earlier entries of
//!   removed indicators, removals older than `[feed] tombstone_retention`).
//! - [`expiry`]: the store's own expiry task, which retires indicators at
//!   their `valid_until` through the contract, whatever the backend.
//! - [`crypto`] and [`anchor`]: values sealed at rest, and the audit anchor
//!   kept outside the data directory.
//!
//! Each indicator keeps every contributor's own sighting; the shared record
//! is derived from the live ones (docs/design.md), so a co-submitter can
//! neither rewrite nor hide someone else's indicator.

pub mod anchor;
pub mod compact;
pub mod contract;
pub mod crypto;
pub mod dense_map;
pub mod error;
pub mod expiry;
pub mod handle;
pub mod postgres;
pub(crate) mod rules;
pub mod sled_store;
pub mod types;

pub use contract::{Store, StoreFuture, audit_head_header, offline};
pub use error::{Fault, StoreError};
pub use handle::StoreHandle;
pub use postgres::PgStore;
pub use sled_store::{EXIT_UNRECOVERABLE, FailMode, FailPoint, Rotation, SledStore, StoreOptions, rotate_storage_key};
pub use types::{
    Compaction, Contributor, Counters, DirectoryEntry, FalsePositiveView, FeedEntry, FeedbackReport, Op, PolicyLoad,
    PolicyVersion, Report, Retracted, Reviewed, SightingBatch, SightingStatus, SubmitBatch, SubmitOutcome,
    indicator_id, iso_week, random_uuid, request_hash, uuid_v4_from,
};
