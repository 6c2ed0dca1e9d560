//! The node's watcher: learns of every commit (other nodes' too) through
//! `LISTEN tamis_changes` and a poll of the head row every [`POLL`], moves
//! the store's heads and wakes its followers; tells `health()` while the
//! database is unreachable and reconnects by itself.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_postgres::Client;

use super::Shared;
use super::conn;
use super::writer::CHANNEL;
use crate::store::Fault;

/// How often the head row is read when no notification came (the fallback,
/// and how soon an unreachable database is noticed while idle).
pub(super) const POLL: Duration = Duration::from_millis(500);
/// Wait before connecting again.
const RETRY: Duration = Duration::from_secs(1);
/// A head read that takes longer means the database is not answering.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs until `stop` turns true.
pub(super) async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let why = match listen(&shared, &mut stop).await {
            Ok(()) => return,
            Err(why) => why,
        };
        shared.set_failure(Some(why));
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One connection's life: `Ok` when stopped, `Err(why)` when the database
/// went away.
async fn listen(shared: &Shared, stop: &mut watch::Receiver<bool>) -> Result<(), Fault> {
    // Drive the connection ourselves to receive its notifications.
    let (notes_tx, mut notes) = mpsc::unbounded_channel();
    let (client, driver) =
        conn::connect_notifying(&shared.config, Some(notes_tx)).await.map_err(|e| conn::fault(shared, e))?;
    let result = watch_with(shared, &client, &mut notes, stop).await;
    driver.abort();
    result
}

async fn watch_with(
    shared: &Shared,
    client: &Client,
    notes: &mut mpsc::UnboundedReceiver<()>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Fault> {
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await.map_err(|e| conn::fault(shared, e))?;
    loop {
        refresh(shared, client).await?;
        shared.set_failure(None);
        tokio::select! {
            note = notes.recv() => {
                if note.is_none() {
                    return Err(Fault::described(format!("{}: the connection closed", shared.name)));
                }
                while notes.try_recv().is_ok() {}
            }
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Reads the head row and publishes it.
async fn refresh(shared: &Shared, client: &Client) -> Result<(), Fault> {
    let read = client.query_one("SELECT log_seq, audit_seq, audit_hash FROM tamis_head WHERE id = 1", &[]);
    let row = match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(r) => r.map_err(|e| conn::fault(shared, e))?,
        Err(_) => return Err(Fault::described(format!("{}: no answer within {READ_TIMEOUT:?}", shared.name))),
    };
    let (log_seq, audit_seq, audit_hash): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    shared.publish(log_seq as u64, (audit_seq as u64, audit_hash), false);
    Ok(())
}
