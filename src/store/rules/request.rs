//! The write requests both backends take, each carrying its own reply
//! channel: a backend's writer groups them and commits them with
//! [`apply`](super::commit::apply).

use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::audit::AuditEvent;
use crate::store::{PolicyLoad, Retracted, StoreError, SubmitBatch, SubmitOutcome};

/// Where a request's answer goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A write request, carrying its own reply channel.
pub(crate) enum Request {
    Submit(Box<SubmitBatch>, Reply<SubmitOutcome>),
    Audit(AuditEvent, Reply<u64>),
    Retract { participant: String, id: String, tx: Reply<Retracted> },
    Expire { ids: Vec<String>, now: OffsetDateTime, tx: Reply<usize> },
    Policy(PolicyLoad, Reply<()>),
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
        }
    }
}
