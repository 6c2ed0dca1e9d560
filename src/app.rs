//! The state shared by every connection: the registry and policies in
//! force (swapped on reload), the store, limits, counters, the published
//! blocklists and the rate limiters.
//!
//! It sits below the API and the servers, which read it, and above the
//! feeds, whose builders are handed only the parts they use; see the module
//! order in `docs/design.md`.

use std::num::NonZeroU32;
use std::sync::Arc;

use arc_swap::ArcSwap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{Expiry, Limits, Sightings};
use crate::identity::Registry;
pub use crate::metrics::Metrics;
use crate::policy_set::PolicySet;
use crate::store::Store;

/// Everything a handler may need, shared by all connections.
pub struct AppState {
    pub registry: Arc<ArcSwap<Registry>>,
    pub policies: Arc<ArcSwap<PolicySet>>,
    pub store: Arc<dyn Store>,
    pub limits: Limits,
    /// Default lifetimes per type.
    pub expiry: Expiry,
    /// The false-positive rule of sightings.
    pub sightings: Sightings,
    pub metrics: Metrics,
    /// Pre-built blocklist snapshots (rebuilt by the builder task).
    pub blocklists: Arc<crate::feeds::blocklist::Blocklists>,
    /// SHA-256 of the deployment's CA certificate file: local tools check
    /// they talk to the exchange of their own deployment.
    pub deployment_id: std::sync::OnceLock<String>,
    /// The TLS server configuration in force (swapped on reload).
    pub tls: arc_swap::ArcSwapOption<rustls::ServerConfig>,
    /// Egress allow-lists, compiled.
    pub allow: Arc<crate::feeds::allowlist::AllowList>,
    /// Turns true when the server stops: long-lived responses (live
    /// streams) end so that connections can drain.
    pub stopping: tokio::sync::watch::Sender<bool>,
    pub(crate) submit_limiter: DefaultKeyedRateLimiter<String>,
    pub(crate) read_limiter: DefaultKeyedRateLimiter<String>,
    /// Indicators submitted per participant per minute.
    pub(crate) indicator_quota: DefaultKeyedRateLimiter<String>,
    /// Request-body bytes submitted per participant per minute.
    pub(crate) byte_quota: DefaultKeyedRateLimiter<String>,
    /// The last verification of the audit chain shown on the DPO's pages,
    /// with the reveals counted so far (see `api::dpo::audit_status`).
    pub audit_check: tokio::sync::Mutex<Option<AuditCheck>>,
    /// The private lookup's OPRF key and evaluation budget, set by
    /// `deploy::load` (unset: `/v1/lookup` answers 503).
    pub lookup: std::sync::OnceLock<Lookup>,
    /// `[feed] tombstone_retention`, set by `deploy::load` (unset: 30 days):
    /// the feed compaction's retention of removals.
    pub tombstone_retention: std::sync::OnceLock<std::time::Duration>,
}

/// The private lookup's key and its per-participant evaluation budget.
pub struct Lookup {
    pub key: crate::lookup::LookupKey,
    /// Blinded elements evaluated per participant per minute.
    pub(crate) quota: DefaultKeyedRateLimiter<String>,
    /// `[lookup] evaluations_per_minute`, for messages.
    pub per_minute: u32,
    /// Most blinded elements in one request.
    pub max_batch: usize,
}

impl Lookup {
    pub fn new(key: crate::lookup::LookupKey, cfg: &crate::config::LookupConfig) -> Lookup {
        let n = NonZeroU32::new(cfg.evaluations_per_minute.max(1)).expect("non-zero");
        Lookup {
            key,
            quota: RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)),
            per_minute: n.get(),
            max_batch: cfg.max_batch.max(1),
        }
    }
}

/// A cached verification of the audit chain, and the escrow reveals found in
/// it, counted incrementally.
#[derive(Clone, Debug)]
pub struct AuditCheck {
    pub verification: crate::audit::Verification,
    /// When the whole chain was verified.
    pub at: time::OffsetDateTime,
    /// Escrow reveals recorded up to `counted_to`.
    pub reveals: u64,
    /// Sequence number of the last record counted.
    pub counted_to: u64,
}

impl AppState {
    pub fn new(
        registry: Registry,
        policies: PolicySet,
        store: Arc<dyn Store>,
        limits: Limits,
        expiry: Expiry,
        allow: crate::feeds::allowlist::AllowList,
        sightings: Sightings,
    ) -> Arc<AppState> {
        let per_min = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).expect("non-zero");
            Quota::per_minute(n).allow_burst(n)
        };
        Arc::new(AppState {
            registry: Arc::new(ArcSwap::from_pointee(registry)),
            policies: Arc::new(ArcSwap::from_pointee(policies)),
            store,
            submit_limiter: RateLimiter::keyed(per_min(limits.submissions_per_minute)),
            read_limiter: RateLimiter::keyed(per_min(limits.reads_per_minute)),
            indicator_quota: RateLimiter::keyed(per_min(limits.indicators_per_minute)),
            byte_quota: RateLimiter::keyed(per_min(limits.body_bytes_per_minute.min(u32::MAX as u64) as u32)),
            limits,
            expiry,
            sightings,
            metrics: Metrics::default(),
            blocklists: Default::default(),
            tls: Default::default(),
            deployment_id: Default::default(),
            allow: Arc::new(allow),
            audit_check: Default::default(),
            lookup: Default::default(),
            tombstone_retention: Default::default(),
            stopping: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Drops rate-limiter state of idle participants (call periodically).
    pub fn housekeeping(&self) {
        self.submit_limiter.retain_recent();
        self.read_limiter.retain_recent();
        self.indicator_quota.retain_recent();
        self.byte_quota.retain_recent();
        if let Some(l) = self.lookup.get() {
            l.quota.retain_recent();
        }
    }

    /// The parts of the state the blocklist builder reads and writes.
    pub fn blocklist_inputs(&self) -> crate::feeds::blocklist::BuilderInputs {
        crate::feeds::blocklist::BuilderInputs {
            store: self.store.clone(),
            registry: self.registry.clone(),
            policies: self.policies.clone(),
            allow: self.allow.clone(),
            blocklists: self.blocklists.clone(),
        }
    }
}
