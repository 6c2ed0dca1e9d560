//! The write requests both backends take, each carrying its own reply
//! channel: a backend's writer groups them and commits them with
//! [`apply`](super::commit::apply).

use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::audit::AuditEvent;
use crate::directory::Contact;
use crate::store::{
    DirectoryEntry, PolicyLoad, Retracted, Reviewed, SightingBatch, SightingStatus, StoreError, SubmitBatch,
    SubmitOutcome,
};

/// Where a request's answer goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A write request, carrying its own reply channel.
pub(crate) enum Request {
    Submit(Box<SubmitBatch>, Reply<SubmitOutcome>),
    Audit(AuditEvent, Reply<u64>),
    Retract { participant: String, id: String, tx: Reply<Retracted> },
    Expire { ids: Vec<String>, now: OffsetDateTime, tx: Reply<usize> },
    Policy(PolicyLoad, Reply<()>),
    Directory { participant: String, contacts: Vec<Contact>, tx: Reply<DirectoryEntry> },
    Sightings(SightingBatch, Reply<Vec<SightingStatus>>),
    Review { participant: String, id: String, tx: Reply<Reviewed> },
}

impl Request {
    /// Answers the request with `e` (nothing of it was acknowledged).
    pub(crate) fn fail(self, e: &StoreError) {
        match self {
            Request::Submit(_, tx) => drop(tx.send(Err(e.clone()))),
            Request::Audit(_, tx) => drop(tx.send(Err(e.clone()))),
            Request::Retract { tx, .. } => drop(tx.send(Err(e.clone()))),
            Request::Expire { tx, .. } => drop(tx.send(Err(e.clone()))),
            Request::Policy(_, tx) => drop(tx.send(Err(e.clone()))),
            Request::Directory { tx, .. } => drop(tx.send(Err(e.clone()))),
            Request::Sightings(_, tx) => drop(tx.send(Err(e.clone()))),
            Request::Review { tx, .. } => drop(tx.send(Err(e.clone()))),
        }
    }
}
