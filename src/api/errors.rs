//! One error type for the API; each variant owns its HTTP status, code and
//! headers. Messages say what was wrong and where, and never echo submitted
//! values. [`handle_rejection`] is the one recover function: it renders
//! every error as SPEC §4's JSON, or as TAXII's error object when the route
//! speaks TAXII ([`TaxiiRoute`]).

use std::convert::Infallible;

use serde_json::json;
use warp::http::{HeaderValue, StatusCode};
use warp::{Rejection, Reply};

use crate::feeds::taxii::{TAXII_MEDIA_TYPE, TaxiiError};
use crate::pipeline::InputError;
use crate::store::StoreError;

#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    BadJson(String),
    #[error("this certificate is not registered with the exchange; ask the operator to register its fingerprint")]
    Unregistered,
    #[error("this endpoint needs the {0} role")]
    Forbidden(String),
    /// Refused whatever the role (a read-only TAXII collection).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    /// `allow`: the one method the endpoint answers, sent as `Allow`.
    #[error("{}", .allow.map_or_else(|| "method not allowed on this endpoint".to_owned(), |m| format!("only {m} is supported on this endpoint")))]
    MethodNotAllowed { allow: Option<&'static str> },
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("no indicator of the submission was accepted")]
    NothingAccepted,
    #[error("rate limit exceeded; retry after {0} s")]
    RateLimited(u64),
    /// A per-participant volume quota (named) is used up for now.
    #[error("quota of {quota} exceeded; retry after {retry_after} s")]
    QuotaExceeded { quota: String, retry_after: u64 },
    #[error("the exchange is overloaded or shutting down; retry later")]
    Unavailable,
    #[error("internal error")]
    Internal,
    /// The store cannot write (a full disk): the message says whether
    /// anything was stored.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("this Idempotency-Key was already used with a different request; use a new key for a new submission")]
    IdempotencyKeyReused,
    /// 410: the cursor is below the feed's compaction horizon.
    #[error(
        "cursor {since} is older than the feed's retained history (removals up to cursor {horizon} were \
         dropped after the retention): drop your copy and resynchronise from since=0"
    )]
    CursorExpired { since: u64, horizon: u64 },
}

/// Every store error's HTTP meaning, in one place.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            // 507: the message says whether anything was stored.
            StoreError::Refused(_) | StoreError::NotStored(_) | StoreError::OutcomeUnknown(_) => {
                ApiError::InsufficientStorage(e.to_string())
            }
            // 503: shutting down.
            StoreError::Closed => ApiError::Unavailable,
            // 422
            StoreError::IdempotencyMismatch => ApiError::IdempotencyKeyReused,
            // 404, without saying whether others submitted it.
            StoreError::NotFound => ApiError::NotFound(e.to_string()),
            // 410: resynchronise from 0.
            StoreError::Compacted { since, horizon } => ApiError::CursorExpired { since, horizon },
            // 500: the exchange's own fault; details stay in its log.
            StoreError::Database(_)
            | StoreError::Corrupt(_)
            | StoreError::Decode { .. }
            | StoreError::Panicked
            | StoreError::Start(_)
            | StoreError::CorruptDirectory(_)
            | StoreError::UnknownFormat { .. }
            | StoreError::OldFormat(_)
            | StoreError::Rollback { .. }
            | StoreError::WrongKey { .. }
            | StoreError::Anchor(_) => ApiError::Internal,
        }
    }
}

impl ApiError {
    /// A store error as the client sees it; logged, as `what` failed, when
    /// it is the exchange's fault (5xx). Store errors never hold content.
    pub fn from_store(e: StoreError, what: &'static str) -> ApiError {
        let api = ApiError::from(e.clone());
        if api.status().is_server_error() {
            tracing::error!(error = %e, "{what}");
        }
        api
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> ApiError {
        match e {
            InputError::Invalid(m) => ApiError::BadRequest(m),
            InputError::MalformedJson(m) => ApiError::BadJson(m),
            InputError::TooLarge(m) => ApiError::TooLarge(m),
            InputError::UnsupportedMedia(m) => ApiError::UnsupportedMedia(m),
        }
    }
}

impl From<TaxiiError> for ApiError {
    fn from(e: TaxiiError) -> ApiError {
        match e {
            TaxiiError::BadRequest(m) => ApiError::BadRequest(m),
            TaxiiError::NotFound(m) => ApiError::NotFound(m),
            TaxiiError::Internal => ApiError::Internal,
        }
    }
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::BadJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unregistered | ApiError::Forbidden(_) | ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NothingAccepted => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited(_) | ApiError::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::CursorExpired { .. } => StatusCode::GONE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::BadJson(_) => "malformed_json",
            ApiError::Unregistered => "unregistered_certificate",
            ApiError::Forbidden(_) | ApiError::Refused(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::NotAcceptable(_) => "not_acceptable",
            ApiError::TooLarge(_) => "too_large",
            ApiError::UnsupportedMedia(_) => "unsupported_media_type",
            ApiError::NothingAccepted => "nothing_accepted",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::QuotaExceeded { .. } => "quota_exceeded",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
            ApiError::InsufficientStorage(_) => "insufficient_storage",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::CursorExpired { .. } => "cursor_expired",
        }
    }

    /// Headers the status calls for: `Retry-After` on 429, `Allow` on a 405
    /// that knows its method.
    fn headers(&self) -> Option<(&'static str, HeaderValue)> {
        match self {
            ApiError::RateLimited(secs) | ApiError::QuotaExceeded { retry_after: secs, .. } => {
                Some(("retry-after", HeaderValue::from(*secs)))
            }
            ApiError::MethodNotAllowed { allow: Some(m) } => Some(("allow", HeaderValue::from_static(m))),
            _ => None,
        }
    }

    /// Our own error as it is; warp's rejections mapped to a variant.
    pub fn from_rejection(r: &Rejection) -> ApiError {
        if let Some(e) = r.find::<ApiError>() {
            return e.clone();
        }
        if r.is_not_found() {
            ApiError::NotFound("no such endpoint".into())
        } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
            ApiError::MethodNotAllowed { allow: None }
        } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
            ApiError::TooLarge("request body too large".into())
        } else if r.find::<warp::reject::UnsupportedMediaType>().is_some() {
            ApiError::UnsupportedMedia("unsupported media type".into())
        } else if r.find::<warp::reject::InvalidQuery>().is_some() {
            ApiError::BadRequest("invalid query string".into())
        } else if let Some(h) = r.find::<warp::reject::InvalidHeader>() {
            ApiError::BadRequest(format!("invalid header {}", h.name()))
        } else if let Some(h) = r.find::<warp::reject::MissingHeader>() {
            ApiError::BadRequest(format!("missing header {}", h.name()))
        } else {
            tracing::warn!(rejection = ?r, "unhandled rejection");
            ApiError::Internal
        }
    }

    /// The JSON body (SPEC §4), with the horizon and where to start again
    /// for an expired cursor.
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let ApiError::CursorExpired { horizon, .. } = self {
            error["horizon"] = json!(horizon.to_string());
            error["resync_from"] = json!("0");
        }
        json!({ "error": error })
    }

    /// The error as a response in `format`.
    pub fn reply(&self, format: ErrorFormat) -> warp::reply::Response {
        let status = self.status();
        let (body, media) = match format {
            ErrorFormat::Json => (self.body(), "application/json"),
            // TAXII 2.1 §3.6.1: `http_status` is a string equal to the status.
            ErrorFormat::Taxii => (
                json!({
                    "title": status.canonical_reason().unwrap_or("Error"),
                    "description": self.to_string(),
                    "http_status": status.as_u16().to_string(),
                }),
                TAXII_MEDIA_TYPE,
            ),
        };
        let mut resp = warp::reply::with_status(warp::reply::json(&body), status).into_response();
        resp.headers_mut().insert("content-type", HeaderValue::from_static(media));
        if let Some((name, value)) = self.headers() {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

/// How a route writes its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorFormat {
    /// SPEC §4: `{"error":{"code","message"}}`.
    Json,
    /// TAXII 2.1: `{"title","description","http_status"}` as `application/taxii+json`.
    Taxii,
}

/// A rejection from a route under `/taxii2/`, already turned into an
/// [`ApiError`], to be written in TAXII's format.
#[derive(Debug)]
pub struct TaxiiRoute(pub ApiError);

impl warp::reject::Reject for TaxiiRoute {}

/// The one rejection handler of the API listener.
pub async fn handle_rejection(r: Rejection) -> Result<warp::reply::Response, Infallible> {
    Ok(match r.find::<TaxiiRoute>() {
        Some(TaxiiRoute(e)) => e.reply(ErrorFormat::Taxii),
        None => ApiError::from_rejection(&r).reply(ErrorFormat::Json),
    })
}
