//! The HTTP API (SPEC §4) as warp filters.
//!
//! Routes are built once; the TLS layer puts the connection's [`Peer`] into
//! every request's extensions, and [`participant`] / [`require`] turn it into
//! an authorised [`Participant`] or a rejection. Every error is an
//! [`ApiError`], rendered by the one recover function
//! [`errors::handle_rejection`]: as `{"error":{"code","message"}}`, or in
//! TAXII's error format under `/taxii2/`. The admin listener (`admin`)
//! answers its few errors itself. Submissions and dry-runs go through
//! [`crate::pipeline`]; the handlers here only translate HTTP.

pub mod admin;
pub mod directory;
pub mod dpo;
pub mod errors;
pub mod handlers;
pub mod lookup;
pub mod misp;
pub mod sightings;
pub mod stream;
pub mod taxii;

use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use warp::{Filter, Rejection, Reply};

use crate::app::AppState;
use crate::identity::{Participant, Peer, Role};
pub use errors::{ApiError, handle_rejection};

/// The per-participant volume quotas.
#[derive(Clone, Copy, Debug)]
pub enum VolumeQuota {
    Indicators,
    BodyBytes,
}

// The rate limits and quotas are kept in `AppState`; they are checked here
// because they answer with API errors.
impl AppState {
    /// Takes `n` units of a participant's per-minute quota: 429 naming the
    /// quota when it is used up for now, 413 when `n` alone exceeds it.
    pub fn charge(&self, participant: &str, quota: VolumeQuota, n: u64) -> Result<(), ApiError> {
        let (limiter, per_min, what) = match quota {
            VolumeQuota::Indicators => {
                (&self.indicator_quota, self.limits.indicators_per_minute as u64, "indicators per minute")
            }
            VolumeQuota::BodyBytes => {
                (&self.byte_quota, self.limits.body_bytes_per_minute, "request-body bytes per minute")
            }
        };
        let name = format!("{} {what}", per_min.clamp(1, u32::MAX as u64));
        let Some(units) = NonZeroU32::new(n.min(u32::MAX as u64) as u32) else { return Ok(()) };
        match limiter.check_key_n(&participant.to_owned(), units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                use governor::clock::{Clock, DefaultClock};
                self.metrics.quota_refusals.inc();
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(ApiError::QuotaExceeded { quota: name, retry_after: wait.as_secs_f64().ceil().max(1.0) as u64 })
            }
            Err(_) => {
                self.metrics.quota_refusals.inc();
                Err(ApiError::TooLarge(format!("this request alone exceeds the quota of {name}")))
            }
        }
    }

    /// Takes one read from the limiter of `key`.
    fn check_read(&self, key: &str) -> Result<(), ApiError> {
        self.read_limiter.check_key(&key.to_owned()).map_err(|not_until| {
            use governor::clock::{Clock, DefaultClock};
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited(wait.as_secs_f64().ceil().max(1.0) as u64)
        })
    }
}

/// A query string as decoded `(name, value)` pairs, in order; 400 naming
/// the first parameter not in `known` (cut to 32 characters).
pub(crate) fn query_params(raw: &str, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        if !known.contains(&k.as_ref()) {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter `{}` (expected {})",
                k.chars().take(32).collect::<String>(),
                known.join(", ")
            )));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// A query parameter that must be a non-negative integer.
/// 415 with `message` unless the `Content-Type` is `application/json` (any
/// parameters): the JSON-only endpoints (directory, sightings, lookup).
pub(crate) fn require_json(content_type: Option<&str>, message: &str) -> Result<(), ApiError> {
    if crate::pipeline::ingest::media_type(content_type) == "application/json" {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMedia(message.to_owned()))
    }
}

pub(crate) fn parse_u64_param(name: &str, v: &str) -> Result<u64, ApiError> {
    v.parse().map_err(|_| ApiError::BadRequest(format!("`{name}` must be a non-negative integer")))
}

/// The connection's peer, put in the request by the TLS layer.
pub fn peer() -> impl Filter<Extract = (Arc<Peer>,), Error = Rejection> + Clone {
    warp::ext::get::<Arc<Peer>>()
}

/// The registered participant behind the connection (403 otherwise).
pub fn participant() -> impl Filter<Extract = (Arc<Participant>,), Error = Rejection> + Clone {
    peer().and_then(|p: Arc<Peer>| async move {
        p.participant.clone().ok_or_else(|| warp::reject::custom(ApiError::Unregistered))
    })
}

/// Any registered participant, within its reads rate limit.
pub fn registered(state: Arc<AppState>) -> impl Filter<Extract = (Arc<Participant>,), Error = Rejection> + Clone {
    participant().and_then(move |p: Arc<Participant>| {
        let state = state.clone();
        async move {
            state.check_read(&p.id)?;
            Ok::<_, Rejection>(p)
        }
    })
}

/// The participant, if it holds `role` and is within its rate limit.
pub fn require(
    state: Arc<AppState>,
    roles: &'static [Role],
) -> impl Filter<Extract = (Arc<Participant>,), Error = Rejection> + Clone {
    participant().and_then(move |p: Arc<Participant>| {
        let state = state.clone();
        async move {
            if !roles.iter().any(|r| p.has(*r)) {
                let names: Vec<String> = roles.iter().map(|r| format!("`{r}`")).collect();
                return Err(warp::reject::custom(ApiError::Forbidden(names.join(" or "))));
            }
            let limiter = if roles.contains(&Role::Submit) { &state.submit_limiter } else { &state.read_limiter };
            if let Err(not_until) = limiter.check_key(&p.id) {
                use governor::clock::{Clock, DefaultClock};
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(warp::reject::custom(ApiError::RateLimited(wait.as_secs_f64().ceil().max(1.0) as u64)));
            }
            Ok(p)
        }
    })
}

/// The request body, refused with 413 beyond `max` bytes (whether or not a
/// Content-Length was sent).
pub fn body_limited(max: u64) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |len: Option<u64>, stream| collect_body(stream, len, max))
}

async fn collect_body<S, B>(stream: S, len: Option<u64>, max: u64) -> Result<Bytes, Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: bytes::Buf,
{
    let too_large = || warp::reject::custom(ApiError::TooLarge(format!("request body larger than {max} bytes")));
    if len.is_some_and(|l| l > max) {
        return Err(too_large());
    }
    let mut stream = std::pin::pin!(stream);
    let mut buf = BytesMut::with_capacity(len.unwrap_or(8192).min(max) as usize);
    while let Some(chunk) = stream.next().await {
        let mut chunk =
            chunk.map_err(|_| warp::reject::custom(ApiError::BadRequest("request body could not be read".into())))?;
        if (buf.len() + chunk.remaining()) as u64 > max {
            return Err(too_large());
        }
        while chunk.has_remaining() {
            let c = chunk.chunk();
            let n = c.len();
            buf.extend_from_slice(c);
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

/// The OpenAPI 3.1 document served at `GET /v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

/// The route templates of the API (the paths of `docs/openapi.json`), for
/// the `route` label of the request metrics; `{}` matches one segment.
const ROUTES: &[&str] = &[
    "/v1/whoami",
    "/v1/openapi.json",
    "/v1/submissions",
    "/v1/indicators",
    "/v1/indicators/stream",
    "/v1/indicators/{id}",
    "/v1/indicators/{id}/confirm",
    "/v1/sightings",
    "/v1/blocklists/{name}",
    "/v1/feeds/misp/{file}",
    "/v1/audit",
    "/v1/audit/verify",
    "/v1/policies",
    "/v1/policies/{id}",
    "/v1/policies/{id}/versions",
    "/v1/policies/{id}/dry-run",
    "/v1/stats",
    "/v1/directory",
    "/v1/directory/self",
    "/v1/lookup/evaluate",
    "/v1/lookup/{prefix}",
    "/taxii2/",
    "/taxii2/api/",
    "/taxii2/api/collections/",
    "/taxii2/api/collections/{collection_id}/",
    "/taxii2/api/collections/{collection_id}/objects/",
    "/taxii2/api/collections/{collection_id}/manifest/",
    "/taxii2/api/collections/{collection_id}/objects/{object_id}/",
    "/taxii2/api/collections/{collection_id}/objects/{object_id}/versions/",
];

/// The route template a request path belongs to (`/v1/blocklists/{name}`),
/// `other` for a path outside the API: a label of bounded cardinality.
pub fn route_template(path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES
        .iter()
        .find(|r| {
            let t: Vec<&str> = r.split('/').collect();
            t.len() == segments.len()
                && t.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .copied()
        .unwrap_or("other")
}

/// The whole API.
pub fn routes(state: Arc<AppState>) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    participant_routes(state.clone())
        .or(dpo_routes(state.clone()))
        .or(misp::routes(state.clone()))
        .or(taxii::routes(state))
        .recover(handle_rejection)
        .map(|r| warp::reply::with_header(r, "cache-control", "no-store"))
}

/// The raw query string, empty when there is none.
pub(crate) fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// The shared state, for handlers.
fn with_state(state: Arc<AppState>) -> impl Filter<Extract = (Arc<AppState>,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// `whoami`, the OpenAPI document, submissions, the feed, retractions and
/// blocklists.
fn participant_routes(state: Arc<AppState>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let s = state.clone();
    let whoami = warp::path!("v1" / "whoami").and(warp::get()).and(peer()).and_then(move |p: Arc<Peer>| {
        let s = s.clone();
        async move {
            // Registered participants share their reads budget; any other
            // certificate has one of its own.
            let key = match &p.participant {
                Some(x) => x.id.clone(),
                None => format!("cert:{}", p.cert.fingerprint),
            };
            s.check_read(&key)?;
            Ok::<_, Rejection>(handlers::whoami(p))
        }
    });
    // The OpenAPI 3.1 description of this API (`docs/openapi.json`), for any registered participant.
    let openapi = warp::path!("v1" / "openapi.json")
        .and(warp::get())
        .and(participant())
        .map(|_| warp::reply::with_header(OPENAPI_JSON, "content-type", "application/json").into_response());
    let submit = warp::path!("v1" / "submissions")
        .and(warp::post())
        .and(require(state.clone(), &[Role::Submit]))
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::header::optional::<String>("idempotency-key"))
        .and(body_limited(state.limits.max_body_bytes))
        .and(with_state(state.clone()))
        .and_then(handlers::submit);
    let feed = warp::path!("v1" / "indicators")
        .and(warp::get())
        .and(require(state.clone(), &[Role::Feed]))
        .and(raw_query())
        .and(with_state(state.clone()))
        .and_then(handlers::feed);
    let stream = warp::path!("v1" / "indicators" / "stream")
        .and(warp::get())
        .and(require(state.clone(), &[Role::Feed]))
        .and(
            warp::header::optional::<String>("accept")
                .and(warp::header::optional::<String>("last-event-id"))
                .and(raw_query())
                .map(|accept, last_event_id, query| stream::StreamRequest { accept, last_event_id, query }),
        )
        .and(with_state(state.clone()))
        .and_then(stream::stream);
    let retract = warp::path!("v1" / "indicators" / String)
        .and(warp::delete())
        .and(require(state.clone(), &[Role::Submit]))
        .and(with_state(state.clone()))
        .and_then(handlers::retract);
    let blocklists = warp::path!("v1" / "blocklists" / String)
        .and(warp::get().or(warp::head()).unify())
        .and(require(state.clone(), &[Role::Blocklist]))
        .and(
            warp::header::optional::<String>("if-none-match")
                .and(warp::header::optional::<String>("if-modified-since"))
                .map(|if_none_match, if_modified_since| handlers::Conditions { if_none_match, if_modified_since }),
        )
        .and(warp::header::optional::<String>("accept-encoding"))
        .and(with_state(state.clone()))
        .and_then(handlers::blocklist);
    whoami
        .or(openapi)
        .or(submit)
        .or(feed)
        .or(stream)
        .or(retract)
        .or(blocklists)
        .or(directory_routes(state.clone()))
        .or(lookup_routes(state.clone()))
        .or(sighting_routes(state))
}

/// The contact-point directory: any registered participant reads it and
/// publishes its own entry.
fn directory_routes(state: Arc<AppState>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let directory = warp::path!("v1" / "directory")
        .and(warp::get())
        .and(registered(state.clone()))
        .and(with_state(state.clone()))
        .and_then(directory::list);
    let directory_self = warp::path!("v1" / "directory" / "self")
        .and(warp::put())
        .and(registered(state.clone()))
        .and(warp::header::optional::<String>("content-type"))
        .and(body_limited(crate::directory::MAX_BODY))
        .and(with_state(state.clone()))
        .and_then(directory::put_self);
    directory.or(directory_self)
}

/// The private lookup (role `lookup`): blinded evaluation and buckets.
fn lookup_routes(state: Arc<AppState>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let evaluate = warp::path!("v1" / "lookup" / "evaluate")
        .and(warp::post())
        .and(require(state.clone(), &[Role::Lookup]))
        .and(warp::header::optional::<String>("content-type"))
        .and(body_limited(lookup::MAX_BODY))
        .and(with_state(state.clone()))
        .and_then(lookup::evaluate);
    let bucket = warp::path!("v1" / "lookup" / String)
        .and(warp::get())
        .and(require(state.clone(), &[Role::Lookup]))
        .and(with_state(state))
        .and_then(lookup::bucket);
    evaluate.or(bucket)
}

/// Sightings and false positives: reports from consumers, the submitters'
/// view of them and their confirmation.
fn sighting_routes(state: Arc<AppState>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let report = warp::path!("v1" / "sightings")
        .and(warp::post())
        .and(require(state.clone(), &[Role::Blocklist, Role::Feed]))
        .and(warp::header::optional::<String>("content-type"))
        .and(body_limited(sightings::MAX_BODY))
        .and(with_state(state.clone()))
        .and_then(sightings::post);
    let mine = warp::path!("v1" / "sightings")
        .and(warp::get())
        .and(require(state.clone(), &[Role::Submit]))
        .and(with_state(state.clone()))
        .and_then(sightings::mine);
    let confirm = warp::path!("v1" / "indicators" / String / "confirm")
        .and(warp::post())
        .and(require(state.clone(), &[Role::Submit]))
        .and(with_state(state))
        .and_then(sightings::confirm);
    report.or(mine).or(confirm)
}

/// The DPO's routes (role `audit`): the audit trail, policies, dry-runs;
/// and statistics (`audit` or `feed`).
fn dpo_routes(state: Arc<AppState>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let audit = || require(state.clone(), &[Role::Audit]);
    let audit_log = warp::path!("v1" / "audit")
        .and(warp::get())
        .and(audit())
        .and(raw_query())
        .and(with_state(state.clone()))
        .and_then(dpo::audit_log);
    let audit_verify = warp::path!("v1" / "audit" / "verify")
        .and(warp::get())
        .and(audit())
        .and(with_state(state.clone()))
        .and_then(dpo::audit_verify);
    let policies = warp::path!("v1" / "policies")
        .and(warp::get())
        .and(audit())
        .and(with_state(state.clone()))
        .and_then(dpo::policies);
    let policy = warp::path!("v1" / "policies" / String)
        .and(warp::get())
        .and(audit())
        .and(with_state(state.clone()))
        .and_then(dpo::policy);
    let policy_versions = warp::path!("v1" / "policies" / String / "versions")
        .and(warp::get())
        .and(audit())
        .and(with_state(state.clone()))
        .and_then(dpo::policy_versions);
    let dry_run = warp::path!("v1" / "policies" / String / "dry-run")
        .and(warp::post())
        .and(audit())
        .and(raw_query())
        .and(warp::header::optional::<String>("content-type"))
        .and(body_limited(state.limits.max_body_bytes))
        .and(with_state(state.clone()))
        .and_then(dpo::dry_run);
    let stats = warp::path!("v1" / "stats")
        .and(warp::get())
        .and(require(state.clone(), &[Role::Audit, Role::Feed]))
        .and(with_state(state.clone()))
        .and_then(dpo::stats);
    audit_log.or(audit_verify).or(policies).or(policy).or(policy_versions).or(dry_run).or(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_path_is_a_route_label_and_others_are_not() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        let documented: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        assert_eq!(documented.len(), ROUTES.len(), "ROUTES and docs/openapi.json disagree");
        for p in documented {
            assert_eq!(route_template(p), p.as_str());
        }
        assert_eq!(route_template("/v1/blocklists/domains.txt"), "/v1/blocklists/{name}");
        assert_eq!(
            route_template("/taxii2/api/collections/abc/objects/"),
            "/taxii2/api/collections/{collection_id}/objects/"
        );
        for other in ["/", "/v1/blocklists/", "/v1/nope", "/v1/policies/a/b/c", "/../etc/passwd"] {
            assert_eq!(route_template(other), "other", "{other}");
        }
    }
}
