//! One error type for the API; each variant owns its HTTP status and code.
//! Messages say what was wrong and where, and never echo submitted values.

use warp::http::StatusCode;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    BadJson(String),
    #[error("this certificate is not registered with the exchange; ask the operator to register its fingerprint")]
    Unregistered,
    #[error("this endpoint needs the {0} role")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
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

impl warp::reject::Reject for ApiError {}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::BadJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unregistered | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NothingAccepted => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited(_) | ApiError::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::BadJson(_) => "malformed_json",
            ApiError::Unregistered => "unregistered_certificate",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
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
        }
    }
}

/// Describes a serde_json failure by position only: serde's own messages can
/// quote the input ("invalid type: string \"…\""), which may be personal data.
pub fn json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "unexpected end of input",
        Category::Io => "unreadable body",
        Category::Syntax if e.to_string().contains("recursion limit") => "nesting too deep",
        Category::Syntax if e.to_string().contains("unicode") || e.to_string().contains("UTF-8") => {
            "invalid UTF-8 or unicode escape"
        }
        Category::Syntax => "syntax error",
        Category::Data => "unexpected value type",
    };
    ApiError::BadJson(format!("malformed JSON: {what} at line {}, column {}", e.line(), e.column()))
}
