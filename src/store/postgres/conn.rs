//! Connections to PostgreSQL and what their errors mean for the store.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, Client, Connection, NoTls};

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

/// Where and how the store connects: the settings of its URL and, with
/// `[store] ca`, TLS verified against that CA.
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    /// `Some`: every connection is TLS (`sslmode=require`, and the server's
    /// certificate must chain to the CA and name the URL's host).
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

/// The target of `url`; `ca` (a PEM file) turns TLS on.
pub(super) fn target(url: &str, ca: Option<&Path>) -> Result<Target, StoreError> {
    let mut config = config(url)?;
    let tls = match ca {
        None => {
            if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
                return Err(StoreError::Start(Fault::described(
                    "the URL asks for sslmode=require: set [store] ca to the CA of the database's certificate"
                        .to_owned(),
                )));
            }
            None
        }
        Some(ca) => {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            Some(client_tls(ca)?)
        }
    };
    Ok(Target { config, tls })
}

/// A rustls client configuration (ring) trusting the CAs in `ca`.
fn client_tls(ca: &Path) -> Result<Arc<rustls::ClientConfig>, StoreError> {
    let bad = |why: String| StoreError::Start(Fault::described(format!("[store] ca {}: {why}", ca.display())));
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(ca).map_err(|e| bad(e.to_string()))?;
    for c in certs {
        roots.add(c.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate found".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Opens a connection and drives it on the current runtime.
pub(super) async fn connect(target: &Target) -> Result<Client, tokio_postgres::Error> {
    Ok(connect_notifying(target, None).await?.0)
}

/// Opens a connection and drives it on the current runtime, sending a
/// message to `notes` for every notification (`LISTEN`); the task ends with
/// why the connection ended.
pub(super) async fn connect_notifying(
    target: &Target,
    notes: Option<tokio::sync::mpsc::UnboundedSender<()>>,
) -> Result<(Client, tokio::task::JoinHandle<String>), tokio_postgres::Error> {
    Ok(match &target.tls {
        None => {
            let (client, connection) = target.config.connect(NoTls).await?;
            (client, tokio::spawn(drive(connection, notes)))
        }
        Some(tls) => {
            let (client, connection) = target.config.connect(RustlsConnect(tls.clone())).await?;
            (client, tokio::spawn(drive(connection, notes)))
        }
    })
}

/// Drives a connection, passing its notifications on.
async fn drive<S, T>(mut connection: Connection<S, T>, notes: Option<tokio::sync::mpsc::UnboundedSender<()>>) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(_))) => {
                if let Some(n) = &notes {
                    let _ = n.send(());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!(error = %e, "PostgreSQL connection ended");
                return e.to_string();
            }
            None => return "the connection closed".to_owned(),
        }
    }
}

/// tokio-postgres' TLS hook, with rustls.
#[derive(Clone)]
struct RustlsConnect(Arc<rustls::ClientConfig>);

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> MakeTlsConnect<S> for RustlsConnect {
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnectTo;
    type Error = rustls_pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnectTo, Self::Error> {
        let name = rustls_pki_types::ServerName::try_from(domain.to_owned())?;
        Ok(RustlsConnectTo { tls: self.0.clone(), name })
    }
}

/// The TLS hook for one host.
struct RustlsConnectTo {
    tls: Arc<rustls::ClientConfig>,
    name: rustls_pki_types::ServerName<'static>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> TlsConnect<S> for RustlsConnectTo {
    type Stream = RustlsStream<S>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(self.tls).connect(self.name, stream).await?;
            Ok(RustlsStream(tls))
        })
    }
}

/// A TLS connection to the database (no channel binding: SCRAM runs
/// without it, the certificate check is rustls').
struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
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
