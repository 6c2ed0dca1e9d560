//! The state shared by every connection: the registry and policies in
//! force (swapped on reload), the store, limits, counters, the published
//! blocklists and the rate limiters.
//!
//! It sits below the API and the servers, which read it, and above the
//! feeds, whose builders are handed only the parts they use; see the module
//! order in `docs/design.md`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{Expiry, Limits};
use crate::identity::Registry;
use crate::policy_set::PolicySet;
use crate::store::Store;

/// Counters exported on the admin listener's `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub submissions: AtomicU64,
    pub indicators_accepted: AtomicU64,
    pub indicators_rejected: AtomicU64,
    pub removals: AtomicU64,
    pub connections: AtomicU64,
    pub handshake_failures: AtomicU64,
    pub unregistered_peers: AtomicU64,
    /// Handshakes refused or timed out, and connections closed at once for
    /// too many pending handshakes from one address.
    pub handshakes_refused: AtomicU64,
    /// Connections closed at once: the source address had too many pending handshakes.
    pub handshakes_over_ip_cap: AtomicU64,
    /// Connections closed at once: the certificate had too many connections.
    pub connections_over_cert_cap: AtomicU64,
    /// Connections closed for sending no request in time (first or next).
    pub idle_closed: AtomicU64,
    /// Requests refused by a per-participant volume quota.
    pub quota_refusals: AtomicU64,
}

impl Metrics {
    /// The whole `/metrics` text (Prometheus format): every counter here, the
    /// feed head, and the gauges of the last blocklist build.
    pub fn render(&self, head: u64, blocklists: &crate::feeds::blocklist::Blocklists) -> String {
        let mut out = String::new();
        for (name, help, v) in [
            ("tamis_requests_total", "HTTP requests served over mutual TLS", &self.requests),
            ("tamis_submissions_total", "Submissions committed", &self.submissions),
            ("tamis_indicators_accepted_total", "Indicators accepted", &self.indicators_accepted),
            ("tamis_indicators_rejected_total", "Indicators rejected", &self.indicators_rejected),
            ("tamis_removals_total", "Personal-data items removed by policies", &self.removals),
            ("tamis_connections_total", "TLS connections established", &self.connections),
            ("tamis_handshake_failures_total", "TLS handshakes refused or timed out", &self.handshake_failures),
            (
                "tamis_handshakes_refused_total",
                "Handshakes refused, timed out or over the per-address cap",
                &self.handshakes_refused,
            ),
            (
                "tamis_handshakes_over_ip_cap_total",
                "Connections closed before the handshake: too many pending from one address",
                &self.handshakes_over_ip_cap,
            ),
            (
                "tamis_connections_over_cert_cap_total",
                "Connections closed: too many with one certificate",
                &self.connections_over_cert_cap,
            ),
            ("tamis_idle_closed_total", "Connections closed for sending no request in time", &self.idle_closed),
            ("tamis_quota_refusals_total", "Requests refused by a per-participant volume quota", &self.quota_refusals),
            ("tamis_unregistered_peers_total", "Connections from unregistered certificates", &self.unregistered_peers),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out.push_str(&format!(
            "# HELP tamis_feed_head Latest feed sequence number\n# TYPE tamis_feed_head gauge\ntamis_feed_head {head}\n"
        ));
        out.push_str(&format!(
            "# HELP tamis_blocklist_build_milliseconds Duration of the last blocklist rebuild\n\
             # TYPE tamis_blocklist_build_milliseconds gauge\ntamis_blocklist_build_milliseconds {}\n\
             # HELP tamis_blocklist_head Feed sequence number the published blocklists include\n\
             # TYPE tamis_blocklist_head gauge\ntamis_blocklist_head {}\n",
            blocklists.build_ms.load(Ordering::Relaxed),
            blocklists.built_head.load(Ordering::Relaxed)
        ));
        out
    }
}

/// Everything a handler may need, shared by all connections.
pub struct AppState {
    pub registry: Arc<ArcSwap<Registry>>,
    pub policies: Arc<ArcSwap<PolicySet>>,
    pub store: Arc<dyn Store>,
    pub limits: Limits,
    /// Default lifetimes per type.
    pub expiry: Expiry,
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
    pub(crate) submit_limiter: DefaultKeyedRateLimiter<String>,
    pub(crate) read_limiter: DefaultKeyedRateLimiter<String>,
    /// Indicators submitted per participant per minute.
    pub(crate) indicator_quota: DefaultKeyedRateLimiter<String>,
    /// Request-body bytes submitted per participant per minute.
    pub(crate) byte_quota: DefaultKeyedRateLimiter<String>,
}

impl AppState {
    pub fn new(
        registry: Registry,
        policies: PolicySet,
        store: Arc<dyn Store>,
        limits: Limits,
        expiry: Expiry,
        allow: crate::feeds::allowlist::AllowList,
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
            metrics: Metrics::default(),
            blocklists: Default::default(),
            tls: Default::default(),
            deployment_id: Default::default(),
            allow: Arc::new(allow),
        })
    }

    /// Drops rate-limiter state of idle participants (call periodically).
    pub fn housekeeping(&self) {
        self.submit_limiter.retain_recent();
        self.read_limiter.retain_recent();
        self.indicator_quota.retain_recent();
        self.byte_quota.retain_recent();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every counter of [`Metrics`] is exported: the field names come from
    /// the `Debug` output, so a new field not added to `render` fails here.
    #[test]
    fn every_metrics_field_is_rendered() {
        let m = Metrics::default();
        m.unregistered_peers.store(7, Ordering::Relaxed);
        m.quota_refusals.store(3, Ordering::Relaxed);
        let blocklists = crate::feeds::blocklist::Blocklists::default();
        blocklists.build_ms.store(42, Ordering::Relaxed);
        blocklists.built_head.store(9, Ordering::Relaxed);
        let text = m.render(5, &blocklists);
        let debug = format!("{m:?}");
        let body = debug.trim_start_matches("Metrics {").trim_end_matches('}');
        let mut fields = 0;
        for pair in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once(": ").expect("field: value");
            let line = format!("\ntamis_{name}_total {value}\n");
            assert!(text.contains(&line), "{name} is not exported as {line:?}");
            fields += 1;
        }
        assert_eq!(fields, 13);
        for line in ["tamis_feed_head 5\n", "tamis_blocklist_build_milliseconds 42\n", "tamis_blocklist_head 9\n"] {
            assert!(text.contains(line), "{line:?} missing");
        }
    }
}
