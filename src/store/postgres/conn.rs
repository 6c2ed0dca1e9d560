//! Connections to PostgreSQL and what their errors mean for the store.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::Shared;
use crate::store::{Fault, StoreError};

/// Longest a connection attempt waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The connection settings of `url`, with timeouts and keepalives so a
/// vanished database is noticed.
pub(super) fn config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut c: tokio_postgres::Config =
        url.parse().map_err(|e| StoreError::Start(Fault::described(format!("not a valid PostgreSQL URL ({e})"))))?;
    c.connect_timeout(CONNECT_TIMEOUT).keepalives(true).keepalives_idle(Duration::from_secs(10));
    if c.get_application_name().is_none() {
        c.application_name("tamis");
    }
    Ok(c)
}

/// The database as errors and logs name it: `postgresql://USER@HOST:PORT/DB`,
/// never its password.
pub(super) fn display_name(c: &tokio_postgres::Config) -> String {
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let user = c.get_user().unwrap_or("");
    let db = c.get_dbname().unwrap_or(user);
    format!("postgresql://{user}@{host}:{port}/{db}")
}

/// Opens a connection and drives it on the current runtime.
pub(super) async fn connect(config: &tokio_postgres::Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// The connection reads share, opened again when it broke.
pub(super) async fn reader(s: &Shared) -> Result<Arc<Client>, StoreError> {
    let mut r = s.reader.lock().await;
    if let Some(c) = r.as_ref().filter(|c| !c.is_closed()) {
        return Ok(c.clone());
    }
    let c = Arc::new(connect(&s.config).await.map_err(|e| unreachable(s, e))?);
    *r = Some(c.clone());
    Ok(c)
}

/// A database error while reading.
pub(super) fn read_error(s: &Shared, e: tokio_postgres::Error) -> StoreError {
    StoreError::Database(fault(s, e))
}

/// A database that cannot be reached (nothing of the request was done).
pub(super) fn unreachable(s: &Shared, e: tokio_postgres::Error) -> StoreError {
    StoreError::Database(fault(s, e))
}

/// The error, naming the database but never its password.
pub(super) fn fault(s: &Shared, e: tokio_postgres::Error) -> Fault {
    Fault::described(format!("{}: {}", s.name, with_causes(&e)))
}

/// An error and its causes (`error connecting to server: Connection refused`).
pub(super) fn with_causes(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}
