//! The accept loops: mutual TLS for the API, plain HTTP on loopback for the
//! admin endpoints. Shutdown is a future passed in, so tests drive it.
//!
//! warp has no TLS of its own that exposes the peer certificate, so each
//! connection is accepted with tokio-rustls, its verified certificate mapped
//! to a [`Peer`], and served by hyper with the warp routes as a service; the
//! peer goes into every request's extensions.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;
use warp::Filter;

use crate::api::{self, AppState};
use crate::identity::{CertInfo, Peer};

/// How long in-flight requests get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the mutual-TLS API on `listener` until `shutdown` completes, then
/// lets in-flight requests finish (bounded by a drain timeout).
pub async fn run(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send,
) {
    // The TLS configuration can be swapped by a reload (new CRL): each new
    // connection takes the current one.
    state.tls.store(Some(tls));
    let permits = Arc::new(Semaphore::new(state.limits.max_connections));
    let graceful = GracefulShutdown::new();
    let service = warp::service(api::routes(state.clone()));
    let handshake_timeout = Duration::from_millis(state.limits.handshake_timeout_ms);
    let header_timeout = Duration::from_millis(state.limits.header_timeout_ms);
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
    record_policies(&state).await;
    let builder = tokio::spawn(crate::feeds::blocklist::run_builder(state.clone()));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
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
        let _ = tcp.set_nodelay(true);
        let Some(tls_config) = state.tls.load_full() else { continue };
        let acceptor = TlsAcceptor::from(tls_config);
        let state = state.clone();
        let service = service.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    state.metrics.handshake_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%remote, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    state.metrics.handshake_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            let Some(der) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
                // The verifier requires a certificate; this cannot happen.
                return;
            };
            let cert = CertInfo::from_der(der.as_ref());
            let participant = state.registry.load().identify(&cert);
            if participant.is_none() {
                state.metrics.unregistered_peers.fetch_add(1, Ordering::Relaxed);
            }
            state.metrics.connections.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%remote, participant = participant.as_ref().map(|p| p.id.as_str()), "connection");
            let peer = Arc::new(Peer { participant, cert, remote });
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(peer.clone());
                let mut s = service.clone();
                s.call(req)
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(128)
                .keep_alive_interval(Duration::from_secs(30));
            let conn = builder.serve_connection(TokioIo::new(tls), svc);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%remote, error = %e, "connection closed with error");
            }
        });
    }
    housekeeping.abort();
    builder.abort();
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight connections did not finish within the drain timeout");
    }
}

/// Records every loaded policy version in the registry and the audit trail.
pub async fn record_policies(state: &AppState) {
    let policies = state.policies.load();
    let mut ids: Vec<_> = policies.by_id.keys().collect();
    ids.sort();
    for id in ids {
        let p = policies.by_id[id].policy();
        let file = format!("{id}.toml");
        if let Ok(Err(e)) = state.store.record_policy(&p.id, &p.hash, &p.text, &file).await {
            tracing::error!(error = %e, "cannot record policy version");
        }
    }
}

/// Checks an `Authorization: Bearer …` header against the deployment's
/// admin token (read at each request, so replacing the file takes effect at
/// once). Constant time: both sides are hashed, then compared without an
/// early exit.
fn admin_authorised(config: Option<&crate::config::Config>, header: Option<&str>) -> bool {
    use sha2::{Digest, Sha256};
    let Some(cfg) = config else { return false };
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim) else { return false };
    let Ok(expected) = crate::config::read_admin_token(&cfg.keys.admin_token) else {
        tracing::error!(file = %cfg.keys.admin_token.display(), "admin token unreadable or not private; admin requests refused");
        return false;
    };
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON error answer of the admin listener.
fn admin_error(status: warp::http::StatusCode, code: &str, message: String) -> warp::reply::Response {
    let body = warp::reply::json(&serde_json::json!({"error": {"code": code, "message": message}}));
    let mut r = warp::reply::Reply::into_response(warp::reply::with_status(body, status));
    if status == warp::http::StatusCode::UNAUTHORIZED {
        r.headers_mut().insert("www-authenticate", warp::http::HeaderValue::from_static("Bearer"));
    }
    r
}

fn unauthorised() -> warp::reply::Response {
    admin_error(
        warp::http::StatusCode::UNAUTHORIZED,
        "unauthorized",
        "admin token required: send Authorization: Bearer <the contents of the deployment's keys/admin.token> \
         (the tamis CLI does)"
            .to_owned(),
    )
}

/// Serves `/healthz`, `/readyz`, `/metrics` and `/stats` over plain HTTP,
/// open to whoever reaches the (loopback) address; and `POST /reload` and
/// `POST /audit`, which need the admin token (`Authorization: Bearer`) and
/// this deployment's id (`X-Tamis-Deployment`). With a configuration, the
/// actual address is written to the deployment's `admin.addr` for the CLI.
pub async fn run_admin(
    listener: TcpListener,
    state: Arc<AppState>,
    config: Option<Arc<crate::config::Config>>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let healthz = warp::path!("healthz").map(|| warp::reply::Reply::into_response(String::from("ok\n")));
    let s = state.clone();
    let readyz = warp::path!("readyz").map(move || {
        if let Err(why) = s.store.health() {
            let text = format!("store failed: {why}\n");
            return warp::reply::Reply::into_response(warp::reply::with_status(
                text,
                warp::http::StatusCode::SERVICE_UNAVAILABLE,
            ));
        }
        let (status, text) = if s.policies.load().by_id.is_empty() {
            (warp::http::StatusCode::SERVICE_UNAVAILABLE, "no policy loaded\n")
        } else if !s.blocklists.ready() {
            (warp::http::StatusCode::SERVICE_UNAVAILABLE, "blocklists not built yet\n")
        } else {
            (warp::http::StatusCode::OK, "ready\n")
        };
        warp::reply::Reply::into_response(warp::reply::with_status(text.to_owned(), status))
    });
    let s = state.clone();
    let metrics = warp::path!("metrics").map(move || {
        warp::reply::Reply::into_response(warp::reply::with_header(
            s.metrics.render(s.store.head())
                + &format!(
                    "# HELP tamis_blocklist_build_milliseconds Duration of the last blocklist rebuild\n\
                     # TYPE tamis_blocklist_build_milliseconds gauge\ntamis_blocklist_build_milliseconds {}\n\
                     # HELP tamis_blocklist_head Feed sequence number the published blocklists include\n\
                     # TYPE tamis_blocklist_head gauge\ntamis_blocklist_head {}\n",
                    s.blocklists.build_ms.load(std::sync::atomic::Ordering::Relaxed),
                    s.blocklists.built_head.load(std::sync::atomic::Ordering::Relaxed)
                ),
            "content-type",
            "text/plain; version=0.0.4",
        ))
    });
    let s = state.clone();
    let stats_page = warp::path!("stats").and(warp::get()).map(move || match crate::api::dpo::stats_json(&s) {
        Ok(v) => warp::reply::Reply::into_response(warp::reply::html(crate::report::stats_html(&v))),
        Err(_) => warp::reply::Reply::into_response(warp::reply::with_status(
            "statistics unavailable\n".to_owned(),
            warp::http::StatusCode::INTERNAL_SERVER_ERROR,
        )),
    });
    let s = state.clone();
    let cfg_reload = config.clone();
    let reload = warp::path!("reload")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("x-tamis-deployment"))
        .and_then(move |auth: Option<String>, deployment: Option<String>| {
            let s = s.clone();
            let config = cfg_reload.clone();
            async move {
                let Some(cfg) = config else {
                    return Ok::<_, std::convert::Infallible>(admin_error(
                        warp::http::StatusCode::NOT_FOUND,
                        "not_available",
                        "reload is not available".to_owned(),
                    ));
                };
                if !admin_authorised(Some(&cfg), auth.as_deref()) {
                    return Ok(unauthorised());
                }
                let ours = s.deployment_id.get().cloned().unwrap_or_default();
                let dir = cfg.base_dir.display().to_string();
                if deployment.as_deref() != Some(ours.as_str()) {
                    return Ok(admin_error(
                        warp::http::StatusCode::CONFLICT,
                        "wrong_deployment",
                        format!(
                            "this admin listener serves deployment {} in {dir}; the request {} (send \
                             X-Tamis-Deployment: the SHA-256 of the deployment's certs/ca.pem); nothing was reloaded",
                            short(&ours),
                            match deployment {
                                Some(d) => format!("names deployment {}", short(&d)),
                                None => "names no deployment".to_owned(),
                            }
                        ),
                    ));
                }
                Ok(match crate::deploy::reload(&cfg, &s).await {
                    Ok(v) => {
                        let reg = s.registry.load();
                        let total = reg.all().count();
                        let revoked = reg.all().filter(|p| p.revoked).count();
                        warp::reply::Reply::into_response(warp::reply::json(&serde_json::json!({
                            "deployment": ours,
                            "directory": dir,
                            "reloaded": v,
                            "participants": total,
                            "revoked": revoked,
                            "crl": cfg.tls.crl.as_ref().map(|p| p.display().to_string()),
                        })))
                    }
                    Err(e) => admin_error(warp::http::StatusCode::UNPROCESSABLE_ENTITY, "reload_failed", e),
                })
            }
        });
    let s = state.clone();
    let cfg_audit = config.clone();
    // Only the events an operator's tool records (escrow reveals) are accepted here.
    let record = warp::path!("audit")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("x-tamis-deployment"))
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::bytes())
        .and_then(move |auth: Option<String>, deployment: Option<String>, body: bytes::Bytes| {
            let s = s.clone();
            let config = cfg_audit.clone();
            async move {
                // The token first: without it nothing, not even the body, is looked at.
                if !admin_authorised(config.as_deref(), auth.as_deref()) {
                    return Ok::<_, std::convert::Infallible>(unauthorised());
                }
                let Ok(event) = serde_json::from_slice::<crate::audit::AuditEvent>(&body) else {
                    return Ok(admin_error(
                        warp::http::StatusCode::BAD_REQUEST,
                        "bad_event",
                        "not an audit event".to_owned(),
                    ));
                };
                // Only our own deployment's tools: another exchange on this port must not take the record.
                let ours = s.deployment_id.get().is_some_and(|d| Some(d) == deployment.as_ref());
                let ok = ours
                    && matches!(event, crate::audit::AuditEvent::Reveal { .. })
                    && matches!(s.store.audit(event).await, Ok(Ok(_)));
                let status = if ok { warp::http::StatusCode::OK } else { warp::http::StatusCode::UNPROCESSABLE_ENTITY };
                Ok(warp::reply::Reply::into_response(warp::reply::with_status(String::new(), status)))
            }
        });
    let routes = warp::get().and(healthz.or(readyz).or(metrics)).or(stats_page).or(reload).or(record);
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

/// The first 16 hex digits of a deployment id, for messages.
fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

/// The local address of a bound listener, for logs and quick starts.
pub fn local(listener: &TcpListener) -> SocketAddr {
    listener.local_addr().expect("bound listener has an address")
}
