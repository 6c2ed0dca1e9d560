//! Typed storage errors: each variant means one thing, and the API maps each
//! to one HTTP status (`api::errors`). Messages name keys by prefix and
//! files by path, never a stored value.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What went wrong underneath a storage failure: the I/O or database error
/// as the backend reported it. Cheap to clone, so one failed group commit
/// answers every request of the group with the same cause.
#[derive(Clone, Debug)]
pub struct Fault(Arc<dyn std::error::Error + Send + Sync>);

/// A fault described in words (a simulated full disk, a stuck database).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Described(String);

impl Fault {
    /// Wraps the backend's error.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Fault {
        Fault(Arc::new(e))
    }

    /// A fault the backend describes in words.
    pub fn described(what: impl Into<String>) -> Fault {
        Fault(Arc::new(Described(what.into())))
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Fault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A storage failure, from opening the store to answering a request.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is marked failed (a full disk...) and refuses writes until
    /// it recovers: nothing of this request was written.
    #[error("the exchange cannot write to its storage (store failed: {0}); nothing was stored, retry later")]
    Refused(Fault),
    /// This write failed before anything was applied: nothing was written.
    #[error("the exchange cannot write to its storage ({0}); nothing was stored, retry later")]
    NotStored(Fault),
    /// The write may or may not have reached the disk.
    #[error(
        "the exchange could not confirm that the write reached its storage ({0}); the outcome is unknown: \
         retrying with the same Idempotency-Key is safe, it is applied at most once"
    )]
    OutcomeUnknown(Fault),
    /// The store was closed (the exchange is shutting down).
    #[error("the store is shutting down")]
    Closed,
    /// The Idempotency-Key was used before with another request: nothing done.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    /// A feed read resumed from a cursor below the compaction horizon: the
    /// log no longer holds every entry after it (old removals were dropped),
    /// so the follower must start again from 0.
    #[error(
        "cursor {since} is older than the feed's retained history (compacted up to {horizon}): \
         resynchronise from 0"
    )]
    Compacted { since: u64, horizon: u64 },
    /// No live indicator with this id has a contribution of this participant
    /// (the store does not say whether others submitted it).
    #[error("no indicator with this id was submitted by you")]
    NotFound,
    /// The database failed while reading (an I/O error).
    #[error("database: {0}")]
    Database(Fault),
    /// A stored value does not authenticate under the storage key.
    #[error(transparent)]
    Corrupt(#[from] super::crypto::OpenError),
    /// A stored value opened but does not decode (`prefix` is its key prefix).
    #[error("stored {prefix} record does not decode: {cause}")]
    Decode { prefix: String, cause: Fault },
    /// A storage task stopped in a panic (a bug, or a corrupt file sled
    /// panics on).
    #[error("a storage task panicked")]
    Panicked,
    /// The backend could not start its writer.
    #[error("cannot start the store's writer: {0}")]
    Start(Fault),
    /// sled panicked or reported corruption while opening or scanning.
    #[error("the data directory is corrupt: restore it from a backup ({})", .0.display())]
    CorruptDirectory(PathBuf),
    /// The data directory was written in another store format.
    #[error(
        "{}: store format {found:?}, but this tamis reads {expected:?}; use the tamis version that wrote it",
        dir.display()
    )]
    UnknownFormat { dir: PathBuf, found: String, expected: String },
    /// The data directory was written by a tamis 0.1 development build.
    #[error(
        "{} was written by an earlier tamis 0.1 development build (store format 1), which this version \
         cannot read (indicator keys and records changed). There is no migration for 0.1 development \
         deployments: move the directory away and start with an empty one",
        .0.display()
    )]
    OldFormat(PathBuf),
    /// The audit chain is behind its anchor (a restored or cut `data/`).
    #[error(
        "{problem} ({}; anchor {}). Run `tamis audit verify`. If you restored data/ from a backup on \
         purpose, keep the anchor as evidence and move it aside; the server then starts a new one",
        dir.display(),
        anchor.display()
    )]
    Rollback { dir: PathBuf, anchor: PathBuf, problem: String },
    /// The storage key does not open the data directory.
    #[error(
        "the storage key does not open {} (its values are sealed under key id {key_id}): wrong keys/storage.key, \
         or an interrupted `tamis keys rotate` (run it again)",
        dir.display()
    )]
    WrongKey { dir: PathBuf, key_id: u32 },
    /// `tamis keys rotate` could not rewrite the audit anchor.
    #[error("cannot rewrite the audit anchor: {0}")]
    Anchor(Fault),
}

impl StoreError {
    /// The error as an operator reads it, naming the data directory once.
    pub fn describe(&self, dir: &Path) -> String {
        match self {
            StoreError::CorruptDirectory(_)
            | StoreError::UnknownFormat { .. }
            | StoreError::OldFormat(_)
            | StoreError::Rollback { .. }
            | StoreError::WrongKey { .. } => self.to_string(),
            e => format!("cannot open {} ({e})", dir.display()),
        }
    }
}
