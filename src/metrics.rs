//! The admin listener's `/metrics`: counters and histograms kept with the
//! `prometheus-client` crate, gauges read at scrape time (feed and blocklist
//! heads, snapshot ages, the process from `/proc/self`).
//!
//! The crate writes the OpenMetrics text format; Prometheus asks for it
//! (`Accept: application/openmetrics-text`). Every other client (curl,
//! `promtool check metrics`, older scrapers) gets the Prometheus text format
//! 0.0.4, which differs only in that a counter family is named with its
//! `_total` suffix and there are no `# UNIT`/`# EOF` lines ([`to_prometheus_text`]).

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::feeds::blocklist::Blocklists;

/// Latency buckets (seconds) for requests and commits: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The labels of a request over mutual TLS.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template (`/v1/blocklists/{name}`), `other` for unknown paths.
    pub route: &'static str,
    pub method: &'static str,
    pub status: u16,
    /// The participant's kind (`bank`, `isp`...), `unregistered` otherwise.
    pub kind: &'static str,
}

/// The label of the request-latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
}

/// The labels of a blocklist download.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListLabels {
    pub list: &'static str,
    /// `200` (the body) or `304`.
    pub status: u16,
}

/// The labels of a request to the RPZ listener.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpzRequestLabels {
    /// `axfr`, `ixfr`, `soa` or `other`.
    pub kind: &'static str,
    /// `ok`, `refused`, `notauth` or `error` (another rcode).
    pub outcome: &'static str,
    /// `true` when the request carried a TSIG (valid or not).
    pub signed: &'static str,
}

/// The label of a NOTIFY's outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifyLabels {
    /// `acknowledged`, `error` (answered with an error rcode) or
    /// `unanswered` (after every retry).
    pub outcome: &'static str,
}

/// The RPZ zone-transfer listener's counters and its zones (`tamis_rpz_*`).
#[derive(Debug, Default)]
pub struct RpzMetrics {
    requests: Family<RpzRequestLabels, Counter>,
    notifies: Family<NotifyLabels, Counter>,
    /// Each audience zone's serial and record count, as last built.
    zones: std::sync::Mutex<Vec<(String, u32, usize)>>,
}

impl RpzMetrics {
    /// Counts one answered request.
    pub fn request(&self, kind: &'static str, outcome: &'static str, signed: bool) {
        let signed = if signed { "true" } else { "false" };
        self.requests.get_or_create(&RpzRequestLabels { kind, outcome, signed }).inc();
    }

    /// Counts one NOTIFY to one secondary, by outcome.
    pub fn notify(&self, outcome: &'static str) {
        self.notifies.get_or_create(&NotifyLabels { outcome }).inc();
    }

    /// The zones served: `(audience, serial, records)`.
    pub fn set_zones(&self, zones: Vec<(String, u32, usize)>) {
        *self.zones.lock().unwrap_or_else(|e| e.into_inner()) = zones;
    }

    fn register(&self, r: &mut Registry) {
        r.register(
            "rpz_requests",
            "Requests to the RPZ zone-transfer listener by type (axfr, ixfr, soa), outcome and TSIG",
            self.requests.clone(),
        );
        r.register(
            "rpz_notifies",
            "NOTIFY messages to secondaries by outcome (acknowledged, error, unanswered after retries)",
            self.notifies.clone(),
        );
        let serial: Family<AudienceLabels, Gauge> = Family::default();
        let records: Family<AudienceLabels, Gauge> = Family::default();
        for (audience, s, n) in self.zones.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let labels = AudienceLabels { audience: audience.clone() };
            serial.get_or_create(&labels).set(i64::from(*s));
            records.get_or_create(&labels).set(*n as i64);
        }
        r.register("rpz_zone_serial", "SOA serial of the RPZ zone served to an audience", serial);
        r.register("rpz_zone_records", "Records (CNAME triggers) in the RPZ zone of an audience", records);
    }
}

/// The label of a per-audience gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AudienceLabels {
    audience: String,
}

/// Counters and histograms exported on the admin listener's `/metrics`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub participant: String,
    /// `delivered` (2xx), `refused` (another status) or `failed` (no answer).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ParticipantLabels {
    pub participant: String,
}

#[derive(Debug)]
pub struct Metrics {
    /// HTTP requests over mutual TLS, by route, method, status and participant kind.
    pub requests: Family<RequestLabels, Counter>,
    /// Time to the response headers, by route.
    pub request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Blocklist downloads by list and status.
    pub blocklist_downloads: Family<ListLabels, Counter>,
    /// Time to commit a submission durably (audit record and indicators).
    pub commit_duration: Histogram,
    pub submissions: Counter,
    pub indicators_accepted: Counter,
    pub indicators_rejected: Counter,
    /// Everything the ingest policies removed or transformed.
    pub removals: Counter,
    /// Of which personal data (a detector's or key rule's data category).
    pub personal_data_removals: Counter,
    pub connections: Counter,
    pub handshake_failures: Counter,
    pub unregistered_peers: Counter,
    /// Handshakes refused or timed out, and connections closed at once for
    /// too many pending handshakes from one address.
    pub handshakes_refused: Counter,
    /// Connections closed at once: the source address had too many pending handshakes.
    pub handshakes_over_ip_cap: Counter,
    /// Connections closed at once: the certificate had too many connections.
    pub connections_over_cert_cap: Counter,
    /// Connections closed for sending no request in time (first or next).
    pub idle_closed: Counter,
    /// Requests refused by a per-participant volume quota.
    pub quota_refusals: Counter,
    /// Events queued for live-stream clients (`/v1/indicators/stream`).
    pub stream_events: Counter,
    /// Live streams cut off because their client did not keep up.
    pub streams_cut_off: Counter,
    /// Webhook deliveries by participant and outcome.
    pub webhook_deliveries: Family<WebhookLabels, Counter>,
    /// Feed items delivered by webhooks, by participant.
    pub webhook_items: Family<ParticipantLabels, Counter>,
    /// The feed position each webhook has delivered up to (its lag is
    /// rendered against the feed head).
    pub webhook_cursors: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    /// The RPZ listener's (shared with it).
    pub rpz: std::sync::Arc<RpzMetrics>,
    /// Blinded elements evaluated for the private lookup.
    pub lookup_evaluations: Counter,
    /// Evaluation requests refused by the per-participant lookup budget.
    pub lookup_refusals: Counter,
    /// Lookup buckets served (`GET /v1/lookup/{prefix}`).
    pub lookup_buckets: Counter,
    /// When this process started (Unix seconds), if `/proc` does not say.
    started: f64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            blocklist_downloads: Family::default(),
            commit_duration: latency_histogram(),
            submissions: Counter::default(),
            indicators_accepted: Counter::default(),
            indicators_rejected: Counter::default(),
            removals: Counter::default(),
            personal_data_removals: Counter::default(),
            connections: Counter::default(),
            handshake_failures: Counter::default(),
            unregistered_peers: Counter::default(),
            handshakes_refused: Counter::default(),
            handshakes_over_ip_cap: Counter::default(),
            connections_over_cert_cap: Counter::default(),
            idle_closed: Counter::default(),
            quota_refusals: Counter::default(),
            stream_events: Counter::default(),
            streams_cut_off: Counter::default(),
            webhook_deliveries: Family::default(),
            webhook_items: Family::default(),
            webhook_cursors: Default::default(),
            rpz: Default::default(),
            lookup_evaluations: Counter::default(),
            lookup_refusals: Counter::default(),
            lookup_buckets: Counter::default(),
            started: unix_now(),
        }
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A gauge with the value `v`.
fn gauge(v: f64) -> Gauge<f64, AtomicU64> {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(v);
    g
}

/// The labels of a per-list gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SnapshotLabels {
    audience: String,
    list: &'static str,
}

impl Metrics {
    /// Counts one request and its latency.
    pub fn observe_request(&self, labels: RequestLabels, seconds: f64) {
        self.request_duration.get_or_create(&RouteLabels { route: labels.route }).observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }

    /// The metrics in the OpenMetrics text format (`openmetrics`) or in the
    /// Prometheus text format 0.0.4: every counter and histogram here, the
    /// feed head, the blocklists' state and the process.
    pub fn render(&self, head: u64, blocklists: &Blocklists, openmetrics: bool) -> String {
        let mut r = Registry::with_prefix("tamis");
        self.register_counters(&mut r);
        self.rpz.register(&mut r);
        register_blocklists(&mut r, head, blocklists);
        self.register_webhooks(&mut r, head);
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode_registry(&mut out, &r).expect("writing to a String");
        let mut process = Registry::default();
        register_process(&mut process, self.started);
        prometheus_client::encoding::text::encode(&mut out, &process).expect("writing to a String");
        if openmetrics { out } else { to_prometheus_text(&out) }
    }

    /// Webhook deliveries, items, and each webhook's lag behind the feed.
    fn register_webhooks(&self, r: &mut Registry, head: u64) {
        r.register(
            "webhook_deliveries",
            "Webhook deliveries by participant and outcome",
            self.webhook_deliveries.clone(),
        );
        r.register("webhook_items", "Feed items delivered by webhooks", self.webhook_items.clone());
        let lag: Family<ParticipantLabels, Gauge<f64, AtomicU64>> = Family::default();
        for (participant, cursor) in self.webhook_cursors.lock().expect("lock").iter() {
            let labels = ParticipantLabels { participant: participant.clone() };
            lag.get_or_create(&labels).set(head.saturating_sub(*cursor) as f64);
        }
        r.register("webhook_feed_lag", "Feed entries committed but not yet delivered by the webhook", lag);
    }

    fn register_counters(&self, r: &mut Registry) {
        r.register("requests", "HTTP requests served over mutual TLS", self.requests.clone());
        r.register_with_unit(
            "request_duration",
            "Time from a request to its response headers over mutual TLS",
            Unit::Seconds,
            self.request_duration.clone(),
        );
        r.register(
            "blocklist_downloads",
            "Blocklist downloads by list and status (200 or 304)",
            self.blocklist_downloads.clone(),
        );
        r.register_with_unit(
            "store_commit_duration",
            "Time to commit a submission durably (audit record and indicators)",
            Unit::Seconds,
            self.commit_duration.clone(),
        );
        for (name, help, c) in [
            ("submissions", "Submissions committed", &self.submissions),
            ("indicators_accepted", "Indicators accepted", &self.indicators_accepted),
            ("indicators_rejected", "Indicators rejected", &self.indicators_rejected),
            (
                "removals",
                "Items removed or transformed by ingest policies: personal data and fields removed unclassified",
                &self.removals,
            ),
            (
                "personal_data_removals",
                "Personal-data items found and removed, masked, generalised, pseudonymised or escrowed by ingest policies",
                &self.personal_data_removals,
            ),
            ("connections", "TLS connections established", &self.connections),
            ("handshake_failures", "TLS handshakes refused or timed out", &self.handshake_failures),
            (
                "handshakes_refused",
                "Handshakes refused, timed out or over the per-address cap",
                &self.handshakes_refused,
            ),
            (
                "handshakes_over_ip_cap",
                "Connections closed before the handshake: too many pending from one address",
                &self.handshakes_over_ip_cap,
            ),
            (
                "connections_over_cert_cap",
                "Connections closed: too many with one certificate",
                &self.connections_over_cert_cap,
            ),
            ("idle_closed", "Connections closed for sending no request in time", &self.idle_closed),
            ("quota_refusals", "Requests refused by a per-participant volume quota", &self.quota_refusals),
            ("unregistered_peers", "Connections from unregistered certificates", &self.unregistered_peers),
            ("stream_events", "Events queued for live-stream clients", &self.stream_events),
            ("streams_cut_off", "Live streams cut off because the client did not keep up", &self.streams_cut_off),
            ("lookup_evaluations", "Blinded elements evaluated for the private lookup", &self.lookup_evaluations),
            (
                "lookup_refusals",
                "Lookup evaluation requests refused by the per-participant budget",
                &self.lookup_refusals,
            ),
            ("lookup_buckets", "Lookup buckets served", &self.lookup_buckets),
        ] {
            r.register(name, help, c.clone());
        }
    }
}

/// The feed head, the blocklist builder's progress, and each published list.
fn register_blocklists(r: &mut Registry, head: u64, b: &Blocklists) {
    let built_head = b.built_head.load(Ordering::Relaxed);
    r.register("feed_head", "Latest feed sequence number", gauge(head as f64));
    r.register("blocklist_head", "Feed sequence number the published blocklists include", gauge(built_head as f64));
    r.register(
        "blocklist_feed_lag",
        "Feed entries committed but not yet in the published blocklists",
        gauge(head.saturating_sub(built_head) as f64),
    );
    r.register_with_unit(
        "blocklist_build",
        "Duration of the last blocklist rebuild",
        Unit::Seconds,
        gauge(b.build_ms.load(Ordering::Relaxed) as f64 / 1000.0),
    );
    let built_at = b.built_at_ms.load(Ordering::Relaxed);
    if built_at > 0 {
        r.register(
            "blocklist_last_build_timestamp_seconds",
            "When the blocklists were last built (Unix time)",
            gauge(built_at as f64 / 1000.0),
        );
    }
    let age: Family<SnapshotLabels, Gauge<f64, AtomicU64>> = Family::default();
    let entries: Family<SnapshotLabels, Gauge<f64, AtomicU64>> = Family::default();
    let now = time::OffsetDateTime::now_utc();
    for (audience, list, snap) in b.snapshots() {
        let labels = SnapshotLabels { audience, list };
        age.get_or_create(&labels).set((now - snap.modified).as_seconds_f64().max(0.0));
        entries.get_or_create(&labels).set(snap.count as f64);
    }
    r.register_with_unit(
        "blocklist_snapshot_age",
        "Time since the content of a published list last changed",
        Unit::Seconds,
        age,
    );
    r.register("blocklist_entries", "Entries in a published list", entries);
}

/// The standard `process_*` metrics, read from `/proc/self` (Linux); only
/// the start time elsewhere.
fn register_process(r: &mut Registry, started: f64) {
    let p = ProcStat::read();
    r.register_with_unit(
        "process_start_time",
        "Start time of the process since unix epoch in seconds",
        Unit::Seconds,
        gauge(p.as_ref().and_then(|p| p.start_time).unwrap_or(started)),
    );
    let Some(p) = p else { return };
    let cpu = Counter::<f64, AtomicU64>::default();
    cpu.inc_by(p.cpu_seconds);
    r.register_with_unit("process_cpu", "Total user and system CPU time spent in seconds", Unit::Seconds, cpu);
    r.register_with_unit(
        "process_resident_memory",
        "Resident memory size in bytes",
        Unit::Bytes,
        gauge(p.resident_bytes as f64),
    );
    r.register_with_unit(
        "process_virtual_memory",
        "Virtual memory size in bytes",
        Unit::Bytes,
        gauge(p.virtual_bytes as f64),
    );
    r.register("process_threads", "Number of OS threads in the process", gauge(p.threads as f64));
    if let Some(n) = p.open_fds {
        r.register("process_open_fds", "Number of open file descriptors", gauge(n as f64));
    }
    if let Some(n) = p.max_fds {
        r.register("process_max_fds", "Maximum number of open file descriptors", gauge(n as f64));
    }
}

/// What `/proc/self` says about this process.
#[derive(Debug, PartialEq)]
struct ProcStat {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    threads: u64,
    start_time: Option<f64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

/// Clock ticks per second of `/proc/*/stat` times: `USER_HZ`, 100 on every
/// Linux architecture tamis builds for.
const USER_HZ: f64 = 100.0;

impl ProcStat {
    fn read() -> Option<ProcStat> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| boot_time(&s));
        let mut p = ProcStat::parse(&stat, &status, boot)?;
        p.open_fds = std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64);
        p.max_fds = std::fs::read_to_string("/proc/self/limits").ok().and_then(|l| max_open_files(&l));
        Some(p)
    }

    /// Parses `/proc/self/stat` (fields after the command name, which may
    /// hold spaces and parentheses) and `/proc/self/status` (`VmRSS`,
    /// `VmSize` in kB); `boot` is the boot time in Unix seconds.
    fn parse(stat: &str, status: &str, boot: Option<f64>) -> Option<ProcStat> {
        let rest = &stat[stat.rfind(')')? + 1..];
        // `rest` starts at field 3 (state): field N is at index N - 3.
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|v| v * 1024)
        };
        Some(ProcStat {
            cpu_seconds: (num(14)? + num(15)?) as f64 / USER_HZ,
            threads: num(20)?,
            start_time: boot.map(|b| b + num(22).unwrap_or(0) as f64 / USER_HZ),
            virtual_bytes: num(23)?,
            resident_bytes: kb("VmRSS:").unwrap_or(0),
            open_fds: None,
            max_fds: None,
        })
    }
}

/// `btime` of `/proc/stat`.
fn boot_time(stat: &str) -> Option<f64> {
    stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// The OpenMetrics text of `prometheus-client` as Prometheus text format
/// 0.0.4: counter families take their samples' `_total` name (OpenMetrics
/// names the family without it), `# UNIT` and `# EOF` go.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut help: Option<&str> = None;
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        if line.starts_with("# HELP ") {
            if let Some(h) = help.replace(line) {
                out.push_str(h);
                out.push('\n');
            }
            continue;
        }
        if let Some(name) = line.strip_prefix("# TYPE ").and_then(|t| t.strip_suffix(" counter")) {
            if let Some(h) = help.take() {
                let text = h.strip_prefix("# HELP ").and_then(|h| h.strip_prefix(name)).unwrap_or("");
                out.push_str(&format!("# HELP {name}_total{text}\n"));
            }
            out.push_str(&format!("# TYPE {name}_total counter\n"));
            continue;
        }
        if let Some(h) = help.take() {
            out.push_str(h);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_total_in_the_prometheus_format() {
        let m = Metrics::default();
        m.unregistered_peers.inc_by(7);
        m.quota_refusals.inc_by(3);
        m.observe_request(RequestLabels { route: "/v1/whoami", method: "GET", status: 200, kind: "bank" }, 0.002);
        let blocklists = Blocklists::default();
        blocklists.build_ms.store(42, Ordering::Relaxed);
        blocklists.built_head.store(9, Ordering::Relaxed);
        let text = m.render(12, &blocklists, false);
        for line in [
            "# TYPE tamis_unregistered_peers_total counter\ntamis_unregistered_peers_total 7\n",
            "# HELP tamis_quota_refusals_total Requests refused by a per-participant volume quota.\n",
            "tamis_quota_refusals_total 3\n",
            "tamis_feed_head 12.0\n",
            "tamis_blocklist_head 9.0\n",
            "tamis_blocklist_feed_lag 3.0\n",
            "tamis_blocklist_build_seconds 0.042\n",
            "tamis_requests_total{route=\"/v1/whoami\",method=\"GET\",status=\"200\",kind=\"bank\"} 1\n",
            "tamis_request_duration_seconds_bucket{le=\"0.0025\",route=\"/v1/whoami\"} 1\n",
            "# TYPE process_start_time_seconds gauge\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
        assert!(!text.contains("# EOF") && !text.contains("# UNIT") && !text.contains("_total_total"), "{text}");
        let om = m.render(12, &blocklists, true);
        assert!(om.ends_with("# EOF\n") && om.contains("# TYPE tamis_quota_refusals counter\n"), "{om}");
        assert_eq!(om.matches("# EOF").count(), 1);
    }

    #[test]
    fn proc_stat_is_parsed_with_spaces_in_the_command_name() {
        let stat = "4242 (tamis (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 7 0 12345 104857600 2000 \
                    18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        let status = "Name:\ttamis\nVmSize:\t  102400 kB\nVmRSS:\t    8000 kB\nThreads:\t7\n";
        let p = ProcStat::parse(stat, status, Some(1_700_000_000.0)).unwrap();
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.threads, 7);
        assert_eq!(p.start_time, Some(1_700_000_123.45));
        assert_eq!(p.virtual_bytes, 104_857_600);
        assert_eq!(p.resident_bytes, 8000 * 1024);
        assert_eq!(
            max_open_files(
                "Limit Soft Hard Units\nMax open files            1024                 524288               files\n"
            ),
            Some(1024)
        );
        assert_eq!(boot_time("cpu 1 2 3\nbtime 1700000000\n"), Some(1_700_000_000.0));
    }

    #[test]
    fn this_process_is_read_on_linux() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            eprintln!("skipped: no /proc");
            return;
        }
        let p = ProcStat::read().expect("/proc/self is readable");
        assert!(p.resident_bytes > 1 << 20 && p.threads >= 1 && p.open_fds.unwrap() >= 3, "{p:?}");
        let start = p.start_time.unwrap();
        assert!(start <= unix_now() && start > unix_now() - 86_400.0, "{start}");
    }
}
