//! The admin listener's routes: `/healthz`, `/readyz`, `/metrics`, the
//! DPO's `/stats` and record of processing (`/record`, `/record.md`), open
//! to whoever reaches the (loopback) address; and
//! `POST /reload` and `POST /audit`, which need the admin token
//! (`Authorization: Bearer`) and this deployment's id
//! (`X-Tamis-Deployment`). The accept loop is `server::run_admin`; the reload
//! itself belongs to `deploy`, above this module, and is handed in as a
//! [`Reload`].

use std::convert::Infallible;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use crate::app::AppState;
use crate::config::Config;

/// Reloads a deployment's participants, policies and TLS from its
/// configuration; answers the names of what was reloaded, or why not.
pub type Reload =
    Arc<dyn Fn(Arc<Config>, Arc<AppState>) -> BoxFuture<'static, Result<Vec<String>, String>> + Send + Sync>;

/// The admin routes. Without a configuration, `/reload` answers 404 and
/// `/audit` refuses every request (no token to check against).
pub fn routes(
    state: Arc<AppState>,
    config: Option<Arc<Config>>,
    reload: Reload,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let healthz = warp::path!("healthz").map(|| String::from("ok\n").into_response());
    let s = state.clone();
    let readyz = warp::path!("readyz").map(move || readiness(&s));
    let s = state.clone();
    // OpenMetrics when the scraper asks for it (Prometheus does), else the
    // Prometheus text format (curl, promtool).
    let metrics =
        warp::path!("metrics").and(warp::header::optional::<String>("accept")).map(move |accept: Option<String>| {
            let openmetrics = accept.is_some_and(|a| a.contains("application/openmetrics-text"));
            let text = s.metrics.render(s.store.head(), &s.blocklists, openmetrics);
            let content_type = if openmetrics {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4; charset=utf-8"
            };
            warp::reply::with_header(text, "content-type", content_type).into_response()
        });
    let s = state.clone();
    let stats_page = warp::path!("stats").and(warp::get()).and_then(move || {
        let s = s.clone();
        async move {
            Ok::<_, Infallible>(match crate::api::dpo::stats_page_json(&s).await {
                Ok(v) => warp::reply::html(crate::report::stats_html(&v)).into_response(),
                Err(_) => {
                    warp::reply::with_status("statistics unavailable\n".to_owned(), StatusCode::INTERNAL_SERVER_ERROR)
                        .into_response()
                }
            })
        }
    });
    let (s, c) = (state.clone(), config.clone());
    let record = warp::path!("record").and(warp::get()).and_then(move || record_page(s.clone(), c.clone(), false));
    let (s, c) = (state.clone(), config.clone());
    let record_md = warp::path!("record.md").and(warp::get()).and_then(move || record_page(s.clone(), c.clone(), true));
    let credentials = || {
        warp::header::optional::<String>("authorization").and(warp::header::optional::<String>("x-tamis-deployment"))
    };
    let (s, c, action) = (state.clone(), config.clone(), reload);
    let reload = warp::path!("reload").and(warp::post()).and(credentials()).and_then(
        move |auth: Option<String>, deployment: Option<String>| {
            reload_request(s.clone(), c.clone(), action.clone(), auth, deployment)
        },
    );
    // Only the events an operator's tool records (escrow reveals) are accepted here.
    let audit_record = warp::path!("audit")
        .and(warp::post())
        .and(credentials())
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::bytes())
        .and_then(move |auth: Option<String>, deployment: Option<String>, body: bytes::Bytes| {
            record_request(state.clone(), config.clone(), auth, deployment, body)
        });
    warp::get().and(healthz.or(readyz).or(metrics)).or(stats_page).or(record).or(record_md).or(reload).or(audit_record)
}

/// `/record` (HTML) and `/record.md`: the record of processing of the
/// running exchange, with the policy history, naming the deployment in
/// `X-Tamis-Deployment` (the CLI checks it is its own).
async fn record_page(
    s: Arc<AppState>,
    config: Option<Arc<Config>>,
    markdown: bool,
) -> Result<warp::reply::Response, Infallible> {
    let Some(cfg) = config else {
        return Ok(admin_error(StatusCode::NOT_FOUND, "not_available", "no configuration loaded".to_owned()));
    };
    let md = match crate::api::dpo::record_markdown(&s, &cfg).await {
        Ok(md) => md,
        Err(_) => {
            return Ok(warp::reply::with_status(
                "record of processing unavailable: the store could not be read\n".to_owned(),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
            .into_response());
        }
    };
    let mut r = if markdown {
        warp::reply::with_header(md, "content-type", "text/markdown; charset=utf-8").into_response()
    } else {
        warp::reply::html(crate::report::page("Record of processing — tamis", &crate::report::markdown_html(&md)))
            .into_response()
    };
    if let Some(id) = s.deployment_id.get().and_then(|d| warp::http::HeaderValue::from_str(d).ok()) {
        r.headers_mut().insert("x-tamis-deployment", id);
    }
    Ok(r)
}

/// `/readyz`: 200 `ready`, or 503 saying what is not.
fn readiness(s: &AppState) -> warp::reply::Response {
    let text = if let Err(why) = s.store.health() {
        format!("store failed: {why}\n")
    } else if s.policies.load().by_id.is_empty() {
        "no policy loaded\n".to_owned()
    } else if !s.blocklists.ready() {
        "blocklists not built yet\n".to_owned()
    } else {
        return "ready\n".to_owned().into_response();
    };
    warp::reply::with_status(text, StatusCode::SERVICE_UNAVAILABLE).into_response()
}

/// `POST /reload`: with the admin token and this deployment's id, runs the
/// reload and says what was loaded.
async fn reload_request(
    s: Arc<AppState>,
    config: Option<Arc<Config>>,
    reload: Reload,
    auth: Option<String>,
    deployment: Option<String>,
) -> Result<warp::reply::Response, Infallible> {
    let Some(cfg) = config else {
        return Ok(admin_error(StatusCode::NOT_FOUND, "not_available", "reload is not available".to_owned()));
    };
    if !admin_authorised(Some(&cfg), auth.as_deref()) {
        return Ok(unauthorised());
    }
    let ours = s.deployment_id.get().cloned().unwrap_or_default();
    let dir = cfg.base_dir.display().to_string();
    if deployment.as_deref() != Some(ours.as_str()) {
        let theirs = match deployment {
            Some(d) => format!("names deployment {}", short(&d)),
            None => "names no deployment".to_owned(),
        };
        let message = format!(
            "this admin listener serves deployment {} in {dir}; the request {theirs} (send \
             X-Tamis-Deployment: the SHA-256 of the deployment's certs/ca.pem); nothing was reloaded",
            short(&ours),
        );
        return Ok(admin_error(StatusCode::CONFLICT, "wrong_deployment", message));
    }
    Ok(match reload(cfg.clone(), s.clone()).await {
        Ok(v) => {
            let reg = s.registry.load();
            warp::reply::json(&serde_json::json!({
                "deployment": ours,
                "directory": dir,
                "reloaded": v,
                "participants": reg.all().count(),
                "revoked": reg.all().filter(|p| p.revoked).count(),
                "crl": cfg.tls.crl.as_ref().map(|p| p.display().to_string()),
            }))
            .into_response()
        }
        Err(e) => admin_error(StatusCode::UNPROCESSABLE_ENTITY, "reload_failed", e),
    })
}

/// `POST /audit`: records an escrow reveal sent by this deployment's
/// `tamis reveal`, with the admin token.
async fn record_request(
    s: Arc<AppState>,
    config: Option<Arc<Config>>,
    auth: Option<String>,
    deployment: Option<String>,
    body: bytes::Bytes,
) -> Result<warp::reply::Response, Infallible> {
    // The token first: without it nothing, not even the body, is looked at.
    if !admin_authorised(config.as_deref(), auth.as_deref()) {
        return Ok(unauthorised());
    }
    let Ok(event) = serde_json::from_slice::<crate::audit::AuditEvent>(&body) else {
        return Ok(admin_error(StatusCode::BAD_REQUEST, "bad_event", "not an audit event".to_owned()));
    };
    // Only our own deployment's tools: another exchange on this port must not take the record.
    let ours = s.deployment_id.get().is_some_and(|d| Some(d) == deployment.as_ref());
    let ok = ours && matches!(event, crate::audit::AuditEvent::Reveal { .. }) && s.store.audit(event).await.is_ok();
    let status = if ok { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(warp::reply::with_status(String::new(), status).into_response())
}

/// Checks an `Authorization: Bearer …` header against the deployment's
/// admin token (read at each request, so replacing the file takes effect at
/// once). Constant time: both sides are hashed, then compared without an
/// early exit.
fn admin_authorised(config: Option<&Config>, header: Option<&str>) -> bool {
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
fn admin_error(status: StatusCode, code: &str, message: String) -> warp::reply::Response {
    let body = warp::reply::json(&serde_json::json!({"error": {"code": code, "message": message}}));
    let mut r = warp::reply::with_status(body, status).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert("www-authenticate", warp::http::HeaderValue::from_static("Bearer"));
    }
    r
}

fn unauthorised() -> warp::reply::Response {
    admin_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "admin token required: send Authorization: Bearer <the contents of the deployment's keys/admin.token> \
         (the tamis CLI does)"
            .to_owned(),
    )
}

/// The first 16 hex digits of a deployment id, for messages.
fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}
