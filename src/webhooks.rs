//! Webhooks (issue 13, live alerts pushed): the exchange POSTs a
//! participant's feed to an HTTPS endpoint the operator configured for it
//! (`[[webhooks.hook]]` in `tamis.toml`).
//!
//! **What is sent.** The feed exactly as `GET /v1/indicators` shows it to
//! that participant (same [`feed_page`](crate::api::handlers::feed_page):
//! its roles and egress views apply), in feed order, in batches of at most
//! `batch` items: `{"indicators":[…], "from":"M", "next":"N"}` with the
//! header `Tamis-Cursor: N`. Each item carries its own `cursor`, the id a
//! receiver deduplicates on: delivery is **at least once** (the cursor is
//! saved after the receiver's 2xx, so a crash in between redelivers the
//! batch; it is never skipped).
//!
//! **Who is talking.** The exchange presents its own client certificate
//! (`certs/exchange-client.pem`, SAN `urn:tamis:exchange`, issued by the
//! deployment CA), so a receiver can accept only its exchange; the
//! receiver's server certificate must chain to the hook's `ca`. The URL is
//! the operator's choice, never a participant's: the exchange does not
//! connect where a client asks it to.
//!
//! **Failures.** Any answer other than 2xx, a timeout or a broken connection
//! is retried with the same batch, backing off from 1 s (doubling, ±20%
//! jitter) up to `max_backoff_ms`. Delivery pauses while the participant is
//! unknown, revoked or without the `feed` role.
//!
//! **Where it runs.** The saved cursor is in the store (`c/webhook/NAME`), and
//! each hook is a lease (`webhook/NAME`, 30 s, renewed every 10 s): on one
//! PostgreSQL, one node delivers a participant's hook at a time and another
//! takes over (from the saved cursor) when it stops. A new hook starts at
//! the feed head of its first run: new indicators only.
//!
//! **Resynchronisation.** A saved cursor below the feed's compaction horizon
//! (the hook stopped for longer than `[feed] tombstone_retention`) cannot be
//! continued without missing removals: the delivery logs a warning and
//! starts again from 0, so the receiver's next request has `"from":"0"` and
//! carries the live set (and the recent removals) again: a receiver that
//! sees `from` go back to 0 replaces its copy.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::watch;

use crate::api::ApiError;
use crate::api::handlers::feed_page;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::config::{Config, WebhooksConfig};
use crate::identity::{Participant, Role};
use crate::metrics::{ParticipantLabels, WebhookLabels};

/// How long a node holds a hook's lease without renewing it.
const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often the holder renews (and a waiting node retries).
const LEASE_RENEW: Duration = Duration::from_secs(10);
/// Longest answer body read from a receiver (then ignored).
const MAX_ANSWER: usize = 64 * 1024;

/// A configured hook, ready to deliver.
pub struct Hook {
    participant: String,
    url: url::Url,
    tls: Arc<rustls::ClientConfig>,
}

/// The settings every hook shares.
#[derive(Clone, Copy)]
pub struct Settings {
    batch: usize,
    timeout: Duration,
    max_backoff: Duration,
}

/// Loads what the hooks need: the exchange's client certificate (issued now
/// by the deployment CA when a hook is configured and the files are missing
/// but the CA key is there) and each hook's trusted CAs. Errors name the
/// file; no hook, nothing to load.
pub fn prepare(cfg: &Config) -> Result<(Vec<Hook>, Settings), String> {
    let w: &WebhooksConfig = &cfg.webhooks;
    let settings = Settings {
        batch: w.batch,
        timeout: Duration::from_millis(w.timeout_ms.max(1)),
        max_backoff: Duration::from_millis(w.max_backoff_ms.max(1_000)),
    };
    if w.hook.is_empty() {
        return Ok((Vec::new(), settings));
    }
    if !w.client_cert.exists() && !w.client_key.exists() {
        issue_exchange_certificate(cfg)?;
    }
    crate::config::check_secret_file(&w.client_key).map_err(|e| format!("[webhooks] client_key: {e}"))?;
    let mut hooks = Vec::new();
    for h in &w.hook {
        let tls = crate::tls::client_config(&h.ca, &w.client_cert, &w.client_key)
            .map_err(|e| format!("[webhooks] hook of {}: {e}", h.participant))?;
        let url = url::Url::parse(&h.url).map_err(|e| format!("[webhooks] hook of {}: {e}", h.participant))?;
        hooks.push(Hook { participant: h.participant.clone(), url, tls });
    }
    Ok((hooks, settings))
}

/// Issues the exchange's client certificate with the deployment CA (a
/// deployment made before webhooks existed has none).
fn issue_exchange_certificate(cfg: &Config) -> Result<(), String> {
    let w = &cfg.webhooks;
    let ca_key = cfg.tls.ca_key.clone().unwrap_or_else(|| cfg.tls.ca.with_file_name("ca.key"));
    let missing = || {
        format!(
            "[webhooks]: {} is missing and the CA key {} is not here to issue it; issue a client certificate \
             for the exchange with your CA and set client_cert and client_key",
            w.client_cert.display(),
            ca_key.display()
        )
    };
    let key_pem = std::fs::read_to_string(&ca_key).map_err(|_| missing())?;
    let cert_pem = std::fs::read_to_string(&cfg.tls.ca).map_err(|e| format!("{}: {e}", cfg.tls.ca.display()))?;
    let ca = crate::pki::Ca::from_pem(&cert_pem, &key_pem).map_err(|e| format!("{}: {e}", ca_key.display()))?;
    let issued = ca.issue_exchange_client().map_err(|e| e.to_string())?;
    crate::config::write_new_file(&w.client_cert, issued.cert_pem.as_bytes(), false)
        .and_then(|()| crate::config::write_new_file(&w.client_key, issued.key_pem.as_bytes(), true))
        .map_err(|e| format!("[webhooks]: cannot write {}: {e}", w.client_cert.display()))?;
    tracing::info!(cert = %w.client_cert.display(), "issued the exchange's client certificate for webhooks");
    Ok(())
}

/// Runs every hook until `stop` resolves; each finishes the delivery in
/// progress (bounded by its timeout) and stops.
pub async fn run(hooks: Vec<Hook>, settings: Settings, state: Arc<AppState>, stop: impl Future<Output = ()> + Send) {
    let node = node_id();
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks: Vec<_> = hooks
        .into_iter()
        .map(|h| tokio::spawn(deliver(h, settings, state.clone(), stop_rx.clone(), node.clone())))
        .collect();
    stop.await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
}

/// This process's name as a lease holder.
fn node_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    format!("{}-{}", std::process::id(), hex::encode(b))
}

/// One hook's state between deliveries.
struct Delivery {
    hook: Hook,
    settings: Settings,
    state: Arc<AppState>,
    /// The store name of its lease and cursor.
    name: String,
    node: String,
    /// The feed position delivered up to (None: read it from the store).
    cursor: Option<u64>,
    conn: Option<SendRequest<Full<Bytes>>>,
    /// Failures in a row (the back-off).
    failures: u32,
    /// When the lease was last taken or renewed (None: not held).
    leased: Option<Instant>,
    /// The pause was already logged.
    paused: bool,
    /// Restarted from 0 (below the compaction horizon): the next delivered
    /// batch says `"from":"0"` even when the first pages showed nothing.
    resync: bool,
}

/// What the next step of a delivery loop is.
enum Next {
    /// Go on at once.
    Go,
    /// Wait for a commit (or the lease's renewal).
    Idle,
    /// Wait this long.
    Wait(Duration),
}

/// Delivers one hook's feed until `stop`.
async fn deliver(hook: Hook, settings: Settings, state: Arc<AppState>, mut stop: watch::Receiver<bool>, node: String) {
    let name = format!("webhook/{}", hook.participant);
    let mut d = Delivery {
        hook,
        settings,
        state: state.clone(),
        name,
        node,
        cursor: None,
        conn: None,
        failures: 0,
        leased: None,
        paused: false,
        resync: false,
    };
    let mut changes = state.store.changes();
    loop {
        if *stop.borrow() {
            return;
        }
        changes.borrow_and_update();
        let wait = match d.step().await {
            Next::Go => continue,
            Next::Idle => LEASE_RENEW,
            Next::Wait(t) => t,
        };
        tokio::select! {
            r = changes.changed(), if d.leased.is_some() => if r.is_err() { return },
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

impl Delivery {
    /// One step: hold the lease, find the participant and the cursor, read a
    /// page of its feed and deliver it.
    async fn step(&mut self) -> Next {
        if !self.hold_lease().await {
            return Next::Wait(LEASE_RENEW);
        }
        let Some(p) = self.participant() else { return Next::Wait(LEASE_RENEW) };
        let from = match self.cursor {
            Some(c) => c,
            None => match self.load_cursor().await {
                Some(c) => c,
                None => return self.failed("the store could not be read"),
            },
        };
        let (items, next) = match feed_page(&p, from, self.settings.batch, &self.state).await {
            Ok(page) => page,
            Err(ApiError::CursorExpired { horizon, .. }) => {
                // Removals after the saved cursor were dropped: the receiver
                // gets the live set again, from 0 (its next delivery says
                // `"from":"0"`).
                tracing::warn!(
                    participant = %self.hook.participant,
                    cursor = from,
                    horizon,
                    "webhook cursor below the feed's compaction horizon: redelivering from 0"
                );
                self.resync = true;
                self.advance(0).await;
                return Next::Go;
            }
            Err(_) => return self.failed("the feed could not be read"),
        };
        if next == from {
            return Next::Idle;
        }
        if !items.is_empty() {
            let shown = if self.resync { 0 } else { from };
            let body = json!({"indicators": items, "from": shown.to_string(), "next": next.to_string()});
            let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
            let participant = self.hook.participant.clone();
            let labels = |outcome| WebhookLabels { participant: participant.clone(), outcome };
            match self.post(body, next).await {
                Ok(status) if (200..300).contains(&status) => {
                    self.state.metrics.webhook_deliveries.get_or_create(&labels("delivered")).inc();
                }
                Ok(status) => {
                    self.state.metrics.webhook_deliveries.get_or_create(&labels("refused")).inc();
                    return self.failed(&format!("the receiver answered {status}"));
                }
                Err(why) => {
                    self.conn = None;
                    self.state.metrics.webhook_deliveries.get_or_create(&labels("failed")).inc();
                    return self.failed(&why);
                }
            }
            self.resync = false;
            self.delivered(&p, from, next, items.len()).await;
        }
        self.advance(next).await;
        Next::Go
    }

    /// Takes the lease, or renews it when due; false while another node
    /// holds it (the cursor is then re-read when this node gets it).
    async fn hold_lease(&mut self) -> bool {
        if self.leased.is_some_and(|at| at.elapsed() < LEASE_RENEW) {
            return true;
        }
        let held = self.state.store.lease(&self.name, &self.node, LEASE_TTL).await.unwrap_or(false);
        if held {
            self.leased = Some(Instant::now());
        } else {
            if self.leased.is_some() {
                tracing::info!(participant = %self.hook.participant, "webhook lease taken by another node");
            }
            self.leased = None;
            self.cursor = None;
            self.conn = None;
        }
        held
    }

    /// The participant while it may receive its feed (registered, not
    /// revoked, `feed` role); the pause is logged once.
    fn participant(&mut self) -> Option<Arc<Participant>> {
        let registry = self.state.registry.load();
        let p = registry.get(&self.hook.participant).filter(|p| !p.revoked && p.has(Role::Feed)).cloned();
        if p.is_none() && !self.paused {
            tracing::warn!(participant = %self.hook.participant,
                "webhook paused: the participant is not registered, is revoked, or lacks the feed role");
        }
        self.paused = p.is_none();
        p
    }

    /// The saved cursor, or the feed head for a hook's first run (saved).
    async fn load_cursor(&mut self) -> Option<u64> {
        let c = match self.state.store.cursor(&self.name).await.ok()? {
            Some(c) => c,
            None => {
                let head = self.state.store.head();
                self.state.store.save_cursor(&self.name, head).await.ok()?;
                head
            }
        };
        self.cursor = Some(c);
        self.note_cursor(c);
        Some(c)
    }

    /// The receiver took the batch: audit it as a pull, count it.
    async fn delivered(&mut self, p: &Participant, from: u64, next: u64, count: usize) {
        self.failures = 0;
        let items = ParticipantLabels { participant: self.hook.participant.clone() };
        self.state.metrics.webhook_items.get_or_create(&items).inc_by(count as u64);
        let _ = self
            .state
            .store
            .audit(AuditEvent::Pull {
                participant: p.id.clone(),
                endpoint: "webhook".into(),
                range: format!("{from}..{next}"),
                count,
            })
            .await;
    }

    /// Moves the cursor past `next` and saves it (a failed save is retried
    /// with the next one; at worst the batch is delivered again).
    async fn advance(&mut self, next: u64) {
        self.cursor = Some(next);
        self.note_cursor(next);
        if let Err(e) = self.state.store.save_cursor(&self.name, next).await {
            tracing::warn!(participant = %self.hook.participant, error = %e, "webhook cursor not saved");
        }
    }

    fn note_cursor(&self, c: u64) {
        self.state.metrics.webhook_cursors.lock().expect("lock").insert(self.hook.participant.clone(), c);
    }

    /// A failed attempt: log it and back off (1 s doubling, ±20%).
    fn failed(&mut self, why: &str) -> Next {
        self.failures = self.failures.saturating_add(1);
        let base = Duration::from_secs(1).saturating_mul(1u32 << self.failures.min(20).saturating_sub(1));
        let wait = jitter(base.min(self.settings.max_backoff));
        tracing::warn!(participant = %self.hook.participant, host = self.hook.url.host_str().unwrap_or("?"),
            attempt = self.failures, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed: {why}");
        Next::Wait(wait)
    }

    /// POSTs one batch; the status, or why there was none.
    async fn post(&mut self, body: Bytes, next: u64) -> Result<u16, String> {
        let timeout = self.settings.timeout;
        let sender = match self.conn.take().filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => tokio::time::timeout(timeout, connect(&self.hook))
                .await
                .map_err(|_| "no connection within the timeout".to_owned())??,
        };
        let mut sender = sender;
        let request = self.request(body, next)?;
        let exchange = async {
            sender.ready().await.map_err(|e| format!("connection: {e}"))?;
            let resp = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
            let status = resp.status().as_u16();
            // Read (and drop) a bounded answer so the connection can be reused.
            let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER);
            body.collect().await.map_err(|e| format!("answer: {e}"))?;
            Ok::<u16, String>(status)
        };
        let status = tokio::time::timeout(timeout, exchange).await.map_err(|_| "no answer within the timeout")??;
        self.conn = Some(sender);
        Ok(status)
    }

    fn request(&self, body: Bytes, next: u64) -> Result<hyper::Request<Full<Bytes>>, String> {
        let u = &self.hook.url;
        let host = u.host_str().unwrap_or_default();
        let authority = match u.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let path = &u[url::Position::BeforePath..url::Position::AfterQuery];
        hyper::Request::post(if path.is_empty() { "/" } else { path })
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .header(hyper::header::USER_AGENT, concat!("tamis/", env!("CARGO_PKG_VERSION")))
            .header("tamis-cursor", next.to_string())
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))
    }
}

/// A TLS connection to the hook's receiver, HTTP/1.1 on it.
async fn connect(hook: &Hook) -> Result<SendRequest<Full<Bytes>>, String> {
    let u = &hook.url;
    let port = u.port_or_known_default().unwrap_or(443);
    // An IPv6 literal is `[::1]` in a URL; rustls and the resolver take it bare.
    let host = u.host_str().ok_or("the URL has no host")?.trim_start_matches('[').trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| format!("host: {e}"))?;
    let tcp = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let tls =
        tokio_rustls::TlsConnector::from(hook.tls.clone()).connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// `d` ± 20%.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let r = u16::from_le_bytes(b) as f64 / u16::MAX as f64; // 0..=1
    d.mul_f64(0.8 + 0.4 * r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for _ in 0..200 {
            let j = jitter(Duration::from_secs(10));
            assert!(j >= Duration::from_secs(8) && j <= Duration::from_secs(12), "{j:?}");
        }
    }
}
