//! The accept loops: mutual TLS for the API, plain HTTP on loopback for the
//! admin endpoints. Shutdown is a future passed in, so tests drive it.
//!
//! warp has no TLS of its own that exposes the peer certificate, so each
//! connection is accepted with tokio-rustls, its verified certificate mapped
//! to a [`Peer`], and served by hyper with the warp routes as a service; the
//! peer goes into every request's extensions.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as _, Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;
use warp::http;

use crate::api;
use crate::app::AppState;
use crate::identity::{CertInfo, Peer};

/// How long in-flight requests get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// After a graceful close (GOAWAY, or `Connection: close`) an idle
/// connection gets this long to go away before it is dropped, so a peer that
/// never acknowledges the GOAWAY cannot keep it open.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// An early answer (403, 413, 429...) waits for the rest of the request body
/// at most this long before it is sent, so HTTP/2 clients see the end of
/// their stream instead of a reset (curl 7.88 reports a reset as a framing
/// error and loses the status).
const DRAIN_BODY_TIME: Duration = Duration::from_secs(2);

/// At most one INFO line per this interval about refused handshakes; the
/// rest are counted in the metrics.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Serves the mutual-TLS API on `listener` until `shutdown` completes, then
/// lets in-flight requests finish (bounded by a drain timeout).
///
/// Budgets: a connection first takes one of `max_handshakes` handshake
/// slots (at most `max_handshakes_per_ip` per source address) for at most
/// `handshake_timeout_ms`; only a verified client then takes one of
/// `max_connections` slots, at most `max_connections_per_cert` per
/// certificate. An established connection is closed when its first request
/// does not arrive within `first_request_timeout_ms`, when no request has
/// been in progress for `idle_timeout_ms`, and after its first request when
/// the certificate is not (or no longer) registered.
pub async fn run(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send,
) {
    // The TLS configuration can be swapped by a reload (new CRL): each new
    // connection takes the current one.
    state.tls.store(Some(tls));
    let edge = Arc::new(Edge::new(&state.limits));
    let (stop_tx, stop_rx) = watch::channel(false);
    let service = warp::service(api::routes(state.clone()));
    crate::deploy::record_policies(&state).await;
    let background = Background::start(&state, &stop_rx);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Silent clients hold a handshake slot, never a connection slot.
        let permit = tokio::select! {
            p = edge.handshakes.clone().acquire_owned() => p.expect("semaphore never closed"),
            () = &mut shutdown => break,
        };
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(pending) = edge.pending_by_ip.enter(remote.ip(), state.limits.max_handshakes_per_ip) else {
            state.metrics.handshakes_over_ip_cap.inc();
            edge.refusals.note(&state, remote, "too many pending handshakes from this address");
            continue; // drops the socket and the handshake slot
        };
        let _ = tcp.set_nodelay(true);
        let Some(tls_config) = state.tls.load_full() else { continue };
        let incoming = Incoming { tcp, remote, tls_config, pending, permit };
        let (state, service, edge, stop) = (state.clone(), service.clone(), edge.clone(), stop_rx.clone());
        tokio::spawn(establish(incoming, state, service, edge, stop));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    state.stopping.send_replace(true);
    background.stop().await;
    // Every connection task holds a connection slot: having them all back
    // means every connection is done.
    let all = edge.connections.clone();
    let n = state.limits.max_connections.max(1) as u32;
    if tokio::time::timeout(DRAIN_TIMEOUT, all.acquire_many(n)).await.is_err() {
        tracing::warn!("in-flight connections did not finish within the drain timeout");
    }
}

/// The server's background tasks: housekeeping every minute, the blocklist
/// builder and the store's expiry (both stop with the server after the
/// accept loop, finishing what they are doing first).
struct Background {
    housekeeping: tokio::task::JoinHandle<()>,
    builder: tokio::task::JoinHandle<()>,
    expiry: tokio::task::JoinHandle<()>,
    /// The feed log's compaction (`[feed] tombstone_retention`).
    compaction: tokio::task::JoinHandle<()>,
}

/// The retention of removals when `deploy::load` set none (`[feed]`'s default).
const DEFAULT_TOMBSTONE_RETENTION: Duration = Duration::from_secs(30 * 86_400);

impl Background {
    fn start(state: &Arc<AppState>, stop_rx: &watch::Receiver<bool>) -> Background {
        let housekeeping = {
            let state = state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    state.housekeeping();
                }
            })
        };
        let stopped = || {
            let mut stop = stop_rx.clone();
            async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }
        };
        let builder = tokio::spawn(crate::feeds::blocklist::run_builder(state.blocklist_inputs(), stopped()));
        let expiry = tokio::spawn(crate::store::expiry::run(state.store.clone(), stopped()));
        let retention = state.tombstone_retention.get().copied().unwrap_or(DEFAULT_TOMBSTONE_RETENTION);
        let compaction = tokio::spawn(crate::store::compact::run(state.store.clone(), retention, stopped()));
        Background { housekeeping, builder, expiry, compaction }
    }

    /// Waits until the tasks are gone: they hold the store, which a caller
    /// may reopen as soon as the server returns.
    async fn stop(self) {
        self.housekeeping.abort();
        let _ = self.housekeeping.await;
        let _ = self.builder.await;
        let _ = self.expiry.await;
        let _ = self.compaction.await;
    }
}

/// An accepted TCP connection holding a handshake slot (and its source
/// address's pending count) until its TLS handshake ends.
struct Incoming {
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    /// The TLS configuration in force when it was accepted.
    tls_config: Arc<ServerConfig>,
    pending: CountGuard<IpAddr>,
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// Completes the TLS handshake within its budget, then takes a connection
/// slot (at most `max_connections_per_cert` per certificate) and serves
/// the connection.
async fn establish<S>(inc: Incoming, state: Arc<AppState>, service: S, edge: Arc<Edge>, stop: watch::Receiver<bool>)
where
    S: Service<http::Request<SharedBody>, Response = warp::reply::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let Incoming { tcp, remote, tls_config, pending, permit } = inc;
    let acceptor = TlsAcceptor::from(tls_config.clone());
    let tls = match tokio::time::timeout(edge.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            state.metrics.handshake_failures.inc();
            edge.refusals.note(&state, remote, &format!("TLS handshake refused: {e}"));
            return;
        }
        Err(_) => {
            state.metrics.handshake_failures.inc();
            edge.refusals.note(&state, remote, "TLS handshake timed out");
            return;
        }
    };
    drop(pending);
    drop(permit);
    let Some(der) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
        // The verifier requires a certificate; this cannot happen.
        return;
    };
    let cert = CertInfo::from_der(der.as_ref());
    let Some(_per_cert) = edge.by_cert.enter(cert.fingerprint.clone(), state.limits.max_connections_per_cert) else {
        state.metrics.connections_over_cert_cap.inc();
        tracing::debug!(%remote, "connection refused: too many connections with this certificate");
        close_tls(tls).await;
        return;
    };
    let Ok(Ok(_slot)) = tokio::time::timeout(edge.handshake_timeout, edge.connections.clone().acquire_owned()).await
    else {
        tracing::debug!(%remote, "connection refused: no free connection slot");
        close_tls(tls).await;
        return;
    };
    if *stop.borrow() {
        return;
    }
    serve(Conn { tls, tls_config, cert, remote }, state, service, edge, stop).await;
}

/// Budgets and timeouts shared by every connection of one listener.
struct Edge {
    /// Established connections.
    connections: Arc<Semaphore>,
    /// Connections still in the TLS handshake.
    handshakes: Arc<Semaphore>,
    /// Pending handshakes by source address.
    pending_by_ip: Counts<IpAddr>,
    /// Established connections by certificate fingerprint.
    by_cert: Counts<String>,
    /// Rate-limits the log lines about refused handshakes.
    refusals: Throttle,
    handshake_timeout: Duration,
    header_timeout: Duration,
    first_request: Duration,
    idle: Duration,
}

impl Edge {
    fn new(limits: &crate::config::Limits) -> Edge {
        Edge {
            connections: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            handshakes: Arc::new(Semaphore::new(limits.max_handshakes.max(1))),
            pending_by_ip: Counts::default(),
            by_cert: Counts::default(),
            refusals: Throttle::default(),
            handshake_timeout: Duration::from_millis(limits.handshake_timeout_ms),
            header_timeout: Duration::from_millis(limits.header_timeout_ms),
            first_request: Duration::from_millis(limits.first_request_timeout_ms),
            idle: Duration::from_millis(limits.idle_timeout_ms),
        }
    }
}

/// Counts of live things per key, with a cap.
struct Counts<K: Eq + Hash + Clone>(Arc<Mutex<HashMap<K, usize>>>);

impl<K: Eq + Hash + Clone> Default for Counts<K> {
    fn default() -> Self {
        Counts(Default::default())
    }
}

impl<K: Eq + Hash + Clone> Counts<K> {
    /// One more for `key`, unless it already has `cap`; released on drop.
    fn enter(&self, key: K, cap: usize) -> Option<CountGuard<K>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= cap.max(1) {
            return None;
        }
        *n += 1;
        Some(CountGuard { map: self.0.clone(), key })
    }
}

/// Held while the counted thing lives.
struct CountGuard<K: Eq + Hash + Clone> {
    map: Arc<Mutex<HashMap<K, usize>>>,
    key: K,
}

impl<K: Eq + Hash + Clone> Drop for CountGuard<K> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// At most one INFO line per [`REFUSAL_LOG_INTERVAL`] about refused
/// handshakes, saying how many there were: clients without a certificate
/// must not be able to flood the log.
#[derive(Default)]
struct Throttle {
    /// When the last line was written, and how many refusals since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    fn note(&self, state: &AppState, remote: SocketAddr, what: &str) {
        state.metrics.handshakes_refused.inc();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.1 += 1;
        let now = Instant::now();
        if s.0.is_none_or(|t| now.duration_since(t) >= REFUSAL_LOG_INTERVAL) {
            tracing::info!(%remote, refused = s.1, "{what} (count of refused handshakes since the last such line)");
            *s = (Some(now), 0);
        } else {
            tracing::debug!(%remote, "{what}");
        }
    }
}

/// Closes a connection that will not be served (sends close_notify).
async fn close_tls(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
}

/// What one connection is doing, shared by its service and its watchdog.
struct Activity {
    /// Requests whose response has not been fully sent yet.
    in_flight: AtomicUsize,
    /// Requests started on this connection.
    started: AtomicU64,
    /// When the connection was established (end of the handshake).
    since: Instant,
    /// Milliseconds after `since` when the last response finished.
    last_done_ms: AtomicU64,
    /// Set when the connection must close after the current request.
    close: AtomicBool,
    /// Wakes the watchdog when `close` is set.
    wake: Notify,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            since: Instant::now(),
            last_done_ms: AtomicU64::new(0),
            close: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// When the connection becomes idle enough to close, if nothing happens.
    fn deadline(&self, first_request: Duration, idle: Duration) -> Instant {
        if self.started.load(Ordering::Relaxed) == 0 {
            self.since + first_request
        } else {
            self.since + Duration::from_millis(self.last_done_ms.load(Ordering::Relaxed)) + idle
        }
    }
}

/// One request in progress; ends when its response body is dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = self.0.since.elapsed().as_millis() as u64;
        self.0.last_done_ms.fetch_max(ms, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Names the body type of warp's responses (its module is private).
trait BodyOf {
    type B;
}
impl<B> BodyOf for http::Response<B> {
    type B = B;
}
type WarpBody = <warp::reply::Response as BodyOf>::B;

/// A response body that keeps its request counted as in flight until it has
/// been sent (or dropped).
struct TrackedBody {
    inner: WarpBody,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = warp::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, warp::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request body, shared between warp (which may read it) and the
/// connection (which drains what warp left before answering).
#[derive(Clone)]
struct SharedBody(Arc<Mutex<hyper::body::Incoming>>);

impl hyper::body::Body for SharedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut body = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).size_hint()
    }
}

/// Reads and discards what is left of a request body, up to `max` bytes and
/// [`DRAIN_BODY_TIME`].
async fn drain(body: SharedBody, max: u64) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0u64;
    let _ = tokio::time::timeout(DRAIN_BODY_TIME, async {
        while !body.is_end_stream() && seen <= max {
            match body.frame().await {
                Some(Ok(f)) => seen += f.data_ref().map_or(0, |d| d.len() as u64),
                _ => break,
            }
        }
    })
    .await;
}

/// An established connection and what its handshake verified.
struct Conn {
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    /// The TLS configuration (CA, CRL) the client certificate was verified with.
    tls_config: Arc<ServerConfig>,
    cert: CertInfo,
    remote: SocketAddr,
}

/// Serves one established connection.
// Longer than our usual 80 lines on purpose: one connection's whole life
// (the per-request wrapper and the idle/close loop) shares `activity`, and
// reads best in one place; the pieces that stand alone are split out
// (`without_body`, `drain`, `Activity`).
async fn serve<S>(
    Conn { tls, tls_config, cert, remote }: Conn,
    state: Arc<AppState>,
    service: S,
    edge: Arc<Edge>,
    mut stop: watch::Receiver<bool>,
) where
    S: Service<http::Request<SharedBody>, Response = warp::reply::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    if state.registry.load().identify(&cert).is_none() {
        state.metrics.unregistered_peers.inc();
    }
    state.metrics.connections.inc();
    tracing::debug!(%remote, "connection");
    let activity = Activity::new();
    let drain_max = state.limits.max_body_bytes.saturating_add(1 << 20);
    let svc = {
        let activity = activity.clone();
        let state = state.clone();
        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let in_flight = activity.begin();
            // The participant is looked up in the registry in force now, on
            // every request: a revocation or a registry change reaches
            // connections that are already open.
            let participant = state.registry.load().identify(&cert);
            let registered = participant.is_some();
            // After a reload the certificate was verified against an older
            // CRL: this request is answered, then the client reconnects and
            // is checked against the CRL in force.
            let stale = state.tls.load().as_ref().is_some_and(|now| !Arc::ptr_eq(now, &tls_config));
            let started = Instant::now();
            let labels = request_labels(&req, participant.as_deref());
            let peer = Arc::new(Peer { participant, cert: cert.clone(), remote });
            let head = req.method() == http::Method::HEAD;
            let h1 = req.version() < http::Version::HTTP_2;
            let (mut parts, body) = req.into_parts();
            if head {
                // HEAD is GET without the body, on every route.
                parts.method = http::Method::GET;
            }
            parts.extensions.insert(peer);
            let body = SharedBody(Arc::new(Mutex::new(body)));
            let req = hyper::Request::from_parts(parts, body.clone());
            let mut s = service.clone();
            let activity = activity.clone();
            let state = state.clone();
            async move {
                let resp = match s.call(req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                let labels = crate::metrics::RequestLabels { status: resp.status().as_u16(), ..labels };
                state.metrics.observe_request(labels, started.elapsed().as_secs_f64());
                // Whatever the handler did not read is read now, so the
                // client's stream ends before the answer (no reset).
                drain(body, drain_max).await;
                let (mut parts, inner) = resp.into_parts();
                let inner = if head { without_body(&mut parts, inner) } else { inner };
                if !registered || stale {
                    // An unregistered certificate may only ask who it is.
                    // Both end the connection after this request.
                    if h1 {
                        parts.headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
                    }
                    activity.close.store(true, Ordering::Release);
                    activity.wake.notify_one();
                }
                Ok::<_, std::convert::Infallible>(http::Response::from_parts(
                    parts,
                    TrackedBody { inner, _in_flight: in_flight },
                ))
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(edge.header_timeout);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(128).keep_alive_interval(Duration::from_secs(30));
    let conn = builder.serve_connection(TokioIo::new(tls), svc);
    let mut conn = std::pin::pin!(conn);
    let mut closing: Option<Instant> = None;
    loop {
        let mut next = match closing {
            Some(t) => t + CLOSE_GRACE,
            None => activity.deadline(edge.first_request, edge.idle),
        };
        if activity.in_flight.load(Ordering::Acquire) > 0 {
            // Busy (a long download is not idle): look again later.
            next = next.max(Instant::now() + Duration::from_millis(500));
        }
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%remote, error = %e, "connection closed with error");
                }
                return;
            }
            _ = stop.changed(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
            () = activity.wake.notified(), if closing.is_none() => {
                if activity.close.load(Ordering::Acquire) {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
            () = tokio::time::sleep_until(next) => {
                if activity.in_flight.load(Ordering::Acquire) > 0 {
                    if closing.is_some() {
                        closing = Some(Instant::now());
                    }
                    continue;
                }
                match closing {
                    Some(_) => return, // did not go away in time: drop it
                    None if Instant::now() >= activity.deadline(edge.first_request, edge.idle) => {
                        state.metrics.idle_closed.inc();
                        tracing::debug!(%remote, "closing an idle connection");
                        conn.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                    None => {}
                }
            }
        }
    }
}

/// The labels of a request's metrics (its status is set once answered):
/// the route template, never the raw path, so the label set stays bounded.
fn request_labels<B>(
    req: &http::Request<B>,
    participant: Option<&crate::identity::Participant>,
) -> crate::metrics::RequestLabels {
    let method = match *req.method() {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        _ => "other",
    };
    crate::metrics::RequestLabels {
        route: api::route_template(req.uri().path()),
        method,
        status: 0,
        kind: participant.map_or("unregistered", |p| p.kind.as_str()),
    }
}

/// A HEAD answer: GET's headers without the body (HTTP/2 would send it
/// otherwise); the length stays what GET would send.
fn without_body(parts: &mut http::response::Parts, inner: WarpBody) -> WarpBody {
    if let Some(n) = inner.size_hint().exact()
        && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
    {
        parts.headers.insert(http::header::CONTENT_LENGTH, n.into());
    }
    WarpBody::default()
}

/// Serves the admin routes of [`api::admin::routes`] over plain HTTP (the
/// reload they offer is [`crate::deploy::reload`]). With a configuration, the
/// actual address is written to the deployment's `admin.addr` for the CLI.
pub async fn run_admin(
    listener: TcpListener,
    state: Arc<AppState>,
    config: Option<Arc<crate::config::Config>>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let reload: api::admin::Reload =
        Arc::new(|cfg, state| Box::pin(async move { crate::deploy::reload(&cfg, &state).await }));
    let routes = api::admin::routes(state, config.clone(), reload);
    let service = warp::service(routes);
    let graceful = GracefulShutdown::new();
    // Tell the CLI where this deployment's exchange actually listens.
    let addr_file = config.as_ref().map(|c| (c.admin_addr_file(), local(&listener).to_string()));
    if let Some((file, addr)) = &addr_file
        && let Err(e) = std::fs::write(file, format!("{addr}\n"))
    {
        tracing::warn!(file = %file.display(), error = %e, "cannot write the admin address file; the CLI will use admin_listen");
    }
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            () = &mut shutdown => break,
        };
        let service = service.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let mut s = service.clone();
                s.call(req)
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(5));
            let _ = watcher.watch(builder.serve_connection(TokioIo::new(tcp), svc).into_owned()).await;
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
    // Remove the address file unless another server of this deployment took it over.
    if let Some((file, addr)) = addr_file
        && std::fs::read_to_string(&file).is_ok_and(|t| t.trim() == addr)
    {
        let _ = std::fs::remove_file(&file);
    }
}

/// The local address of a bound listener, for logs and quick starts.
pub fn local(listener: &TcpListener) -> SocketAddr {
    listener.local_addr().expect("bound listener has an address")
}
