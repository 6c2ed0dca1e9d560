//! `tamis.toml`: where everything lives and the limits the server enforces.
//!
//! Parsing is separate from reading the file ([`Config::parse`]) so it is
//! testable without a filesystem; relative paths are resolved against the
//! directory of the config file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Parse { path: String, line: usize, message: String },
}

/// The deployment's configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Mutual-TLS API listener.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Plain-HTTP admin listener (health, readiness, metrics; reload and
    /// audit records with the admin token). Must be a loopback address
    /// unless `admin_allow_remote` is set.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// Accept a non-loopback `admin_listen` (plain HTTP: only behind a
    /// firewall or a TLS proxy). Off by default so a typo cannot expose it.
    #[serde(default)]
    pub admin_allow_remote: bool,
    /// Directory of the sled database.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The participant registry (who may connect, with which roles).
    #[serde(default = "default_participants")]
    pub participants: PathBuf,
    /// Directory of policy files (`*.toml`).
    #[serde(default = "default_policies_dir")]
    pub policies_dir: PathBuf,
    /// The deployment's own allow-lists (added to the shipped ones), if any.
    #[serde(default)]
    pub allowlists_dir: Option<PathBuf>,
    /// Ingest policy for submitters whose registry entry names none.
    #[serde(default = "default_policy")]
    pub default_policy: String,
    pub tls: TlsPaths,
    pub keys: KeyPaths,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub expiry: Expiry,
    /// Where indicators, the feed and the audit chain are kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// The feed log's retention (`[feed]`).
    #[serde(default)]
    pub feed: FeedConfig,
    /// The RPZ zone served by zone transfer (AXFR/IXFR with TSIG, NOTIFY).
    #[serde(default)]
    pub rpz: RpzConfig,
    /// The false-positive rule of `POST /v1/sightings`.
    #[serde(default)]
    pub sightings: Sightings,
    /// Webhooks: the feed pushed to participants' HTTPS endpoints.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// The private lookup of fraud identifiers (`POST /v1/lookup/evaluate`).
    #[serde(default)]
    pub lookup: LookupConfig,
    /// Directory of the config file (the deployment directory), set by
    /// [`Config::load`]; the server writes its admin address there and the
    /// CLI reports it. Not a config key.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The audit anchor (latest audit sequence number and hash, MAC'd),
    /// rewritten after every commit. Keep it OUTSIDE `data_dir`, ideally on
    /// WORM or remote storage: it is what detects a restored or cut `data/`.
    #[serde(default = "default_audit_anchor")]
    pub audit_anchor: PathBuf,
    /// The controller of the processing (GDPR Art. 30(1)(a)), for the
    /// record of processing; the record says it is not configured when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<Contact>,
    /// The data-protection officer (Art. 30(1)(a), Art. 37).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo: Option<Contact>,
    /// What the record of processing cannot learn from the code:
    /// legal bases, transfers.
    #[serde(default)]
    pub record: RecordConfig,
}

/// A controller, representative or DPO: who, and how to reach them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name of the organisation or person.
    pub name: String,
    /// Postal address, e-mail address or telephone number, as published.
    pub contact: String,
    /// The controller's representative in the Union (Art. 27), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<String>,
    /// Joint controllers (Art. 26), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joint_controllers: Vec<String>,
}

/// `[record]` in `tamis.toml`: the parts of the GDPR Art. 30(1) record of
/// processing that only the controller can state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// The legal basis of the processing as a whole (for example "Art.
    /// 6(1)(e) GDPR; national law on CSIRTs").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// The legal basis of disclosures to each audience, by audience name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub recipients: std::collections::BTreeMap<String, String>,
    /// Transfers to third countries or international organisations, each
    /// with the country or organisation and its safeguards (Art. 30(1)(e)).
    /// Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<String>,
}

/// When false-positive reports withdraw an indicator from blocklists
/// (`[sightings]` in `tamis.toml`), pending its submitter's review.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sightings {
    /// Reports from this many distinct participants withdraw it (at least 1).
    pub false_positive_threshold: u32,
    /// One report from a participant of one of these audiences withdraws it
    /// at once (the ISPs that signed the blocking agreement).
    pub decisive_audiences: Vec<String>,
}

impl Default for Sightings {
    fn default() -> Self {
        Sightings { false_positive_threshold: 2, decisive_audiences: vec!["isp-blocking-agreement".into()] }
    }
}

/// Webhooks (`[webhooks]` in `tamis.toml`): the exchange POSTs each
/// participant's feed, as its egress view shows it, to an HTTPS endpoint the
/// operator configured for it. The operator, not the participant, names the
/// URL: the exchange never connects where a client asks it to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// The exchange's client certificate (issued by the deployment CA; a
    /// receiver authenticates the exchange by it) and its key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// Most feed items in one delivery.
    pub batch: usize,
    /// A delivery not answered within this long is retried.
    pub timeout_ms: u64,
    /// Retries back off from 1 s, doubling, up to this.
    pub max_backoff_ms: u64,
    /// One endpoint per participant.
    pub hook: Vec<Webhook>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            client_cert: "certs/exchange-client.pem".into(),
            client_key: "certs/exchange-client.key".into(),
            batch: 500,
            timeout_ms: 10_000,
            max_backoff_ms: 300_000,
            hook: Vec::new(),
        }
    }
}

/// One participant's webhook (`[[webhooks.hook]]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// The participant whose feed is delivered (its roles and egress view
    /// apply, as on `GET /v1/indicators`).
    pub participant: String,
    /// `https://HOST[:PORT]/PATH` of the receiver.
    pub url: String,
    /// The CA certificates (PEM) the receiver's server certificate must
    /// chain to, e.g. `/etc/ssl/certs/ca-certificates.crt` for a public CA.
    pub ca: PathBuf,
}

impl WebhooksConfig {
    /// Checks every hook: an `https` URL with a host, a valid participant
    /// name, one hook per participant; a batch between 1 and 10,000.
    fn check(&self) -> Result<(), String> {
        if !(1..=10_000).contains(&self.batch) {
            return Err("batch must be between 1 and 10000".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for h in &self.hook {
            if !crate::model::valid_participant_name(&h.participant) {
                return Err(format!("participant {:?} is not a valid participant name", h.participant));
            }
            if !seen.insert(h.participant.as_str()) {
                return Err(format!("participant {:?} has two hooks (one per participant)", h.participant));
            }
            let u =
                url::Url::parse(&h.url).map_err(|e| format!("hook of {}: url is not a URL ({e})", h.participant))?;
            if u.scheme() != "https" || u.host_str().is_none() {
                return Err(format!("hook of {}: url must be https://HOST[:PORT]/PATH", h.participant));
            }
            if !u.username().is_empty() || u.password().is_some() {
                return Err(format!("hook of {}: url must not carry credentials", h.participant));
            }
        }
        Ok(())
    }
}

/// `[lookup]` in `tamis.toml`: how many OPRF evaluations a participant may
/// ask for. Each evaluation lets the asker test one guessed identifier, so
/// the exchange is a guessing oracle and the budget bounds the guessing.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LookupConfig {
    /// Blinded elements a participant may have evaluated per minute (429
    /// with Retry-After beyond); a burst of the same size is allowed.
    pub evaluations_per_minute: u32,
    /// Most blinded elements in one `POST /v1/lookup/evaluate` (400 beyond).
    pub max_batch: usize,
}

impl Default for LookupConfig {
    fn default() -> Self {
        LookupConfig { evaluations_per_minute: 120, max_batch: 16 }
    }
}

/// Which storage backend the exchange uses (`[store]` in `tamis.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sled` (the default: embedded, in `data_dir`) or `postgres` (shared
    /// by every node: several `tamis serve` behind one load balancer).
    #[serde(default)]
    pub backend: Backend,
    /// The PostgreSQL database, `postgresql://USER@HOST:PORT/DB` (with
    /// `backend = "postgres"`). Values are sealed by tamis before they
    /// reach it either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The CA certificate(s) (PEM) of the database server: set, every
    /// connection is TLS, and the server's certificate must chain to it and
    /// name the URL's host (libpq's `verify-full`). Unset: plain TCP (keep
    /// the database on loopback or a private network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// PostgreSQL: how long `serve` waits at start for a database it cannot
    /// reach yet (refused, unreachable, still starting up), trying again
    /// every second or so, before it gives up (nodes and the database are
    /// often started together). 0 gives up at once.
    #[serde(default = "default_db_wait", skip_serializing_if = "is_default_db_wait")]
    pub wait_at_start_secs: u64,
    /// sled: the capacity of its page cache, in MiB (approximate: sled
    /// counts its pages, not the allocator's overhead). A smaller cache
    /// lowers the resident set; reads that miss it go to the page cache of
    /// the operating system.
    #[serde(default = "default_cache_mib", skip_serializing_if = "is_default_cache_mib")]
    pub cache_mib: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::default(),
            url: None,
            ca: None,
            wait_at_start_secs: default_db_wait(),
            cache_mib: DEFAULT_CACHE_MIB,
        }
    }
}

/// The default of `[store] cache_mib`.
pub const DEFAULT_CACHE_MIB: u64 = 64;

fn default_cache_mib() -> u64 {
    DEFAULT_CACHE_MIB
}

fn is_default_cache_mib(v: &u64) -> bool {
    *v == DEFAULT_CACHE_MIB
}

fn default_db_wait() -> u64 {
    60
}

fn is_default_db_wait(v: &u64) -> bool {
    *v == default_db_wait()
}

/// The feed log (`[feed]` in `tamis.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// How long a removal (retraction, expiry) stays in the feed log after
    /// the entries it supersedes were dropped: a number with a unit, `s`,
    /// `m`, `h` or `d` (`"30d"`, the default). A follower whose cursor is
    /// older than the removals dropped since must resynchronise from 0
    /// (HTTP 410 on `GET /v1/indicators`).
    pub tombstone_retention: String,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig { tombstone_retention: "30d".into() }
    }
}

impl FeedConfig {
    /// `tombstone_retention` as a duration.
    pub fn retention(&self) -> Result<std::time::Duration, String> {
        parse_duration(&self.tombstone_retention)
            .ok_or_else(|| "tombstone_retention must be a whole number with a unit: s, m, h or d (e.g. \"30d\")".into())
    }
}

/// `"90s"`, `"15m"`, `"12h"`, `"30d"` (a whole number and a unit), at least one second.
pub fn parse_duration(v: &str) -> Option<std::time::Duration> {
    let v = v.trim();
    let unit = match v.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let n: u64 = v[..v.len() - 1].trim().parse().ok()?;
    let secs = n.checked_mul(unit).filter(|s| *s > 0)?;
    Some(std::time::Duration::from_secs(secs))
}

/// The RPZ zone as a DNS primary (`[rpz]` in `tamis.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpzConfig {
    /// UDP and TCP address of the DNS listener; none (the default) serves
    /// RPZ over HTTPS only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// The zone name secondaries transfer (one name; its content depends on
    /// the TSIG key, i.e. on the participant's audiences).
    pub zone: String,
    /// Secondaries sent a NOTIFY after every change: `"IP:PORT"` (unsigned)
    /// or `{ to = "IP:PORT", participant = "isp-a" }` (signed with that
    /// participant's TSIG key).
    pub notify: Vec<NotifyTarget>,
    /// Directory of the participants' TSIG keys (`NAME.key`), written by
    /// `tamis participant add` and `tamis init`.
    pub keys_dir: PathBuf,
    /// Versions kept per audience to answer IXFR; older serials get the
    /// whole zone.
    pub history: usize,
    /// Unsigned transfers, for secondaries that cannot sign (Unbound): each
    /// entry names the participant whose zone the listed source addresses
    /// receive, as its TSIG key would. Empty (the default): every request
    /// must be signed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_unsigned: Vec<UnsignedSource>,
}

/// A secondary told of every change (`[rpz] notify`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, expecting = "\"IP:PORT\" or { to = \"IP:PORT\", participant = \"NAME\" }")]
pub enum NotifyTarget {
    /// An unsigned NOTIFY to this address.
    Plain(SocketAddr),
    /// A NOTIFY signed with the participant's TSIG key (the secondary's own).
    Signed(SignedNotify),
}

/// The signed form of [`NotifyTarget`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedNotify {
    pub to: SocketAddr,
    pub participant: String,
}

impl NotifyTarget {
    /// The address told.
    pub fn addr(&self) -> SocketAddr {
        match self {
            NotifyTarget::Plain(a) => *a,
            NotifyTarget::Signed(s) => s.to,
        }
    }

    /// The participant whose key signs the NOTIFY, if any.
    pub fn participant(&self) -> Option<&str> {
        match self {
            NotifyTarget::Plain(_) => None,
            NotifyTarget::Signed(s) => Some(&s.participant),
        }
    }
}

/// Source addresses allowed to transfer participant `participant`'s zone
/// without TSIG (`[[rpz.allow_unsigned]]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsignedSource {
    /// The participant (registered, unrevoked, with the blocklist role when
    /// a request arrives) whose audiences decide the zone served.
    pub participant: String,
    /// Source networks (`127.0.0.1/32`, `2001:db8::/64`; a bare address is
    /// one host).
    pub from: Vec<SourceNet>,
}

/// A source network of [`UnsignedSource`], as written in `tamis.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceNet(pub ipnet::IpNet);

impl TryFrom<String> for SourceNet {
    type Error = String;
    fn try_from(s: String) -> Result<SourceNet, String> {
        let net = match s.parse::<ipnet::IpNet>() {
            Ok(n) => n,
            Err(_) => s
                .parse::<std::net::IpAddr>()
                .map(ipnet::IpNet::from)
                .map_err(|_| format!("{s:?} is not an address or a network (ADDRESS/PREFIX)"))?,
        };
        if net.trunc() != net {
            return Err(format!("{s:?} has host bits set (the network is {})", net.trunc()));
        }
        Ok(SourceNet(net))
    }
}

impl From<SourceNet> for String {
    fn from(n: SourceNet) -> String {
        n.0.to_string()
    }
}

impl SourceNet {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 source counts
    /// as its IPv4 address).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.contains(&ip)
    }
}

impl Default for RpzConfig {
    fn default() -> Self {
        RpzConfig {
            listen: None,
            zone: "rpz.tamis".to_owned(),
            notify: Vec::new(),
            keys_dir: "keys/tsig".into(),
            history: 32,
            allow_unsigned: Vec::new(),
        }
    }
}

impl RpzConfig {
    /// Checks the zone name (letters, digits, `-`, `_`; labels of 1 to 63).
    fn check(&self) -> Result<(), String> {
        let name = self.zone.strip_suffix('.').unwrap_or(&self.zone);
        let ok = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !ok {
            return Err(format!("zone {:?} is not a valid DNS name", self.zone));
        }
        Ok(())
    }

    /// Checks `allow_unsigned`: a participant name and at least one network
    /// per entry, and no network in the entries of two participants (the
    /// source address must decide one participant). The error names the
    /// text to find in the file for its line.
    fn check_unsigned(&self) -> Result<(), (String, String)> {
        for (i, a) in self.allow_unsigned.iter().enumerate() {
            let p = &a.participant;
            if !crate::model::valid_participant_name(p) {
                return Err((format!("{p:?}"), format!("participant {p:?} is not a participant name")));
            }
            if a.from.is_empty() {
                let msg = format!("allow_unsigned of {:?} lists no source address (from = [...])", a.participant);
                return Err((a.participant.clone(), msg));
            }
            for b in &self.allow_unsigned[..i] {
                if b.participant == a.participant {
                    continue;
                }
                for n in &a.from {
                    if let Some(m) = b.from.iter().find(|m| m.0.contains(&n.0) || n.0.contains(&m.0)) {
                        let msg = format!(
                            "allow_unsigned: {} of {:?} overlaps {} of {:?}; a source address must name one participant",
                            n.0, a.participant, m.0, b.participant
                        );
                        return Err((n.0.addr().to_string(), msg));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A storage backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Sled,
    Postgres,
}

/// Bounds of `[store] cache_mib`.
const MIN_CACHE_MIB: u64 = 8;
const MAX_CACHE_MIB: u64 = 1 << 20;

impl StoreConfig {
    /// Checks the page cache's size and that a PostgreSQL backend has a
    /// usable URL.
    fn check(&self) -> Result<(), String> {
        if !(MIN_CACHE_MIB..=MAX_CACHE_MIB).contains(&self.cache_mib) {
            return Err(format!("cache_mib must be from {MIN_CACHE_MIB} to {MAX_CACHE_MIB} (MiB)"));
        }
        match (self.backend, &self.url) {
            (Backend::Sled, _) => Ok(()),
            (Backend::Postgres, None) => {
                Err("backend = \"postgres\" needs url = \"postgresql://USER@HOST:PORT/DB\"".to_owned())
            }
            (Backend::Postgres, Some(url)) => {
                if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
                    return Err("url must be a postgresql://USER@HOST:PORT/DB URL".to_owned());
                }
                url.parse::<tokio_postgres::Config>()
                    .map(|_| ())
                    .map_err(|e| format!("url is not a valid PostgreSQL URL ({e})"))
            }
        }
    }
}

/// Default lifetime of an indicator whose submitter gave no `valid_until`,
/// in days, by type. Attacker infrastructure moves fast; hashes do not.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expiry {
    pub url_days: u32,
    pub domain_days: u32,
    /// IPv4, IPv6 and CIDR.
    pub ip_days: u32,
    /// SHA-256, SHA-1, MD5.
    pub hash_days: u32,
    /// E-mail, IBAN, phone, bitcoin.
    pub other_days: u32,
    /// The longest validity any indicator gets, from its receipt: a later
    /// `valid_until` is cut to it (a submitter cannot pin an entry for years).
    pub max_days: u32,
}

impl Default for Expiry {
    fn default() -> Self {
        Expiry { url_days: 30, domain_days: 90, ip_days: 30, hash_days: 365, other_days: 180, max_days: 365 }
    }
}

impl Expiry {
    pub fn days_for(&self, kind: crate::model::IndicatorType) -> u32 {
        use crate::model::IndicatorType::*;
        match kind {
            Url => self.url_days,
            Domain => self.domain_days,
            Ipv4 | Ipv6 | Cidr => self.ip_days,
            Sha256 | Sha1 | Md5 => self.hash_days,
            Email | Iban | Phone | Btc => self.other_days,
        }
    }
}

/// Certificates and keys of the TLS listener.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsPaths {
    /// The participant CA: only client certificates chaining to it are accepted.
    pub ca: PathBuf,
    /// The server certificate chain (PEM).
    pub cert: PathBuf,
    /// The server private key (PEM).
    pub key: PathBuf,
    /// Certificate revocation list of the participant CA (PEM), if any.
    #[serde(default)]
    pub crl: Option<PathBuf>,
    /// The CA's private key, used only by `tamis participant add/revoke`
    /// (the server never reads it); defaults to the CA path with `.key`.
    #[serde(default)]
    pub ca_key: Option<PathBuf>,
}

/// Secret keys the server loads. The escrow private key is deliberately not
/// here: the server can seal but never open.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPaths {
    /// AES-256-GCM key for values at rest (hex).
    pub storage: PathBuf,
    /// HMAC-SHA-256 key for pseudonyms (hex).
    pub pseudonym: PathBuf,
    /// X25519 public key for escrow (hex).
    pub escrow_public: PathBuf,
    /// Secret bearer token of the admin listener's `/reload` and `POST
    /// /audit` (hex, mode 0600); written by `tamis init`, created by `serve`
    /// when missing, read by the CLI.
    #[serde(default = "default_admin_token")]
    pub admin_token: PathBuf,
    /// Seed of the OPRF key of the private lookup (hex, mode 0600); written
    /// by `tamis init`, created by `serve` when missing. Never printed.
    #[serde(default = "default_lookup_key")]
    pub lookup: PathBuf,
}

/// Resource limits; the defaults suit a small deployment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: u64,
    /// Most indicators in one submission (413 beyond).
    pub max_indicators: usize,
    /// Most concurrent established (post-handshake) TLS connections; a
    /// verified client waits up to `handshake_timeout_ms` for a slot.
    pub max_connections: usize,
    /// Most connections from one certificate (by SHA-256 fingerprint), well
    /// under `max_connections` so one certificate cannot take every slot.
    pub max_connections_per_cert: usize,
    /// Most connections still in the TLS handshake; further ones wait in the
    /// kernel backlog. A separate, small budget so that clients that never
    /// finish a handshake cannot hold established-connection slots.
    pub max_handshakes: usize,
    /// Most pending handshakes from one source IP address; more are closed
    /// at once, so one silent host cannot fill `max_handshakes`.
    pub max_handshakes_per_ip: usize,
    /// Time allowed for the TLS handshake, against slow-loris clients.
    pub handshake_timeout_ms: u64,
    /// Time allowed after the handshake for the first request to arrive;
    /// a connection that sends nothing is closed.
    pub first_request_timeout_ms: u64,
    /// An HTTP/1.1 keep-alive or HTTP/2 connection with no request in
    /// progress for this long is closed (HTTP/2 PINGs do not count).
    pub idle_timeout_ms: u64,
    /// Time allowed to read a request's headers.
    pub header_timeout_ms: u64,
    /// Submissions per participant per minute (429 beyond).
    pub submissions_per_minute: u32,
    /// Indicators submitted per participant per minute (429 beyond).
    pub indicators_per_minute: u32,
    /// Request-body bytes submitted per participant per minute (429 beyond).
    pub body_bytes_per_minute: u64,
    /// Reads (feed, blocklists, audit, whoami...) per participant per minute.
    pub reads_per_minute: u32,
    /// Largest page of the feed.
    pub max_page: usize,
    /// A live stream (`/v1/indicators/stream`) sends a heart-beat comment
    /// after this long without an event, so proxies and clients see it alive.
    pub stream_heartbeat_ms: u64,
    /// Events a live stream may hold for a client that reads slowly; when
    /// they are all pending, the client gets a `cut-off` event naming the
    /// cursor to resume from and the stream ends (memory stays bounded).
    pub stream_buffer_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_indicators: 10_000,
            max_connections: 1024,
            max_connections_per_cert: 64,
            max_handshakes: 128,
            max_handshakes_per_ip: 16,
            handshake_timeout_ms: 3_000,
            first_request_timeout_ms: 10_000,
            idle_timeout_ms: 30_000,
            header_timeout_ms: 10_000,
            submissions_per_minute: 6_000,
            indicators_per_minute: 600_000,
            body_bytes_per_minute: 256 * 1024 * 1024,
            reads_per_minute: 60_000,
            max_page: 10_000,
            stream_heartbeat_ms: 15_000,
            stream_buffer_events: 1_024,
        }
    }
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8443".parse().expect("literal")
}
fn default_admin_listen() -> SocketAddr {
    "127.0.0.1:9090".parse().expect("literal")
}
fn default_admin_token() -> PathBuf {
    "keys/admin.token".into()
}
fn default_lookup_key() -> PathBuf {
    "keys/lookup.key".into()
}
fn default_audit_anchor() -> PathBuf {
    "audit/anchor".into()
}
fn default_data_dir() -> PathBuf {
    "data".into()
}
fn default_participants() -> PathBuf {
    "participants.toml".into()
}
fn default_policies_dir() -> PathBuf {
    "policies".into()
}
fn default_policy() -> String {
    "default".into()
}

impl Config {
    /// Reads and parses `path`, resolving relative paths against its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut cfg = Config::parse(&path.display().to_string(), &text)?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        cfg.resolve(base);
        cfg.base_dir = base.to_path_buf();
        Ok(cfg)
    }

    /// Parses the text of a config file (`name` is used in error messages).
    pub fn parse(name: &str, text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.to_owned(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
            message: e.message().to_owned(),
        })?;
        if cfg.lookup.evaluations_per_minute == 0 || cfg.lookup.max_batch == 0 {
            return Err(ConfigError::Parse {
                path: name.to_owned(),
                line: text.find("[lookup]").map(|at| line_of(text, at)).unwrap_or(0),
                message: "[lookup]: evaluations_per_minute and max_batch must be at least 1".into(),
            });
        }
        if cfg.sightings.false_positive_threshold == 0 {
            return Err(ConfigError::Parse {
                path: name.to_owned(),
                line: text.find("false_positive_threshold").map(|at| line_of(text, at)).unwrap_or(0),
                message: "[sightings]: false_positive_threshold must be at least 1".into(),
            });
        }
        cfg.store.check().map_err(|message| ConfigError::Parse {
            path: name.to_owned(),
            line: text.find("[store]").map(|at| line_of(text, at)).unwrap_or(0),
            message: format!("[store]: {message}"),
        })?;
        cfg.feed.retention().map_err(|message| ConfigError::Parse {
            path: name.to_owned(),
            line: text.find("tombstone_retention").map(|at| line_of(text, at)).unwrap_or(0),
            message: format!("[feed]: {message}"),
        })?;
        cfg.webhooks.check().map_err(|message| ConfigError::Parse {
            path: name.to_owned(),
            line: text.find("[webhooks").map(|at| line_of(text, at)).unwrap_or(0),
            message: format!("[webhooks]: {message}"),
        })?;
        cfg.rpz.check().map_err(|message| ConfigError::Parse {
            path: name.to_owned(),
            line: text.find("[rpz]").map(|at| line_of(text, at)).unwrap_or(0),
            message: format!("[rpz]: {message}"),
        })?;
        cfg.rpz.check_unsigned().map_err(|(needle, message)| ConfigError::Parse {
            path: name.to_owned(),
            line: text
                .find("allow_unsigned")
                .and_then(|start| text[start..].find(&needle).map(|at| line_of(text, start + at)))
                .unwrap_or(0),
            message: format!("[rpz]: {message}"),
        })?;
        Ok(cfg)
    }

    /// Makes every relative path absolute against `base`.
    pub fn resolve(&mut self, base: &Path) {
        for p in [
            &mut self.data_dir,
            &mut self.audit_anchor,
            &mut self.participants,
            &mut self.policies_dir,
            &mut self.tls.ca,
            &mut self.tls.cert,
            &mut self.tls.key,
            &mut self.keys.storage,
            &mut self.keys.pseudonym,
            &mut self.keys.escrow_public,
            &mut self.keys.admin_token,
            &mut self.keys.lookup,
            &mut self.rpz.keys_dir,
            &mut self.webhooks.client_cert,
            &mut self.webhooks.client_key,
        ]
        .into_iter()
        .chain(self.webhooks.hook.iter_mut().map(|h| &mut h.ca))
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(ca) = &mut self.store.ca
            && ca.is_relative()
        {
            *ca = base.join(&*ca);
        }
        if let Some(d) = &mut self.allowlists_dir
            && d.is_relative()
        {
            *d = base.join(&*d);
        }
        if let Some(k) = &mut self.tls.ca_key
            && k.is_relative()
        {
            *k = base.join(&*k);
        }
        if let Some(crl) = &mut self.tls.crl
            && crl.is_relative()
        {
            *crl = base.join(&*crl);
        }
    }
}

/// 1-based line number of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

impl Config {
    /// The file where a running exchange writes its actual admin address
    /// (`admin.addr` in the deployment directory), so that the CLI reaches
    /// the server of this deployment even when it was started with
    /// `--admin-listen`.
    pub fn admin_addr_file(&self) -> PathBuf {
        self.base_dir.join("admin.addr")
    }

    /// Refuses a non-loopback admin address unless allowed explicitly.
    pub fn check_admin_listen(&self) -> Result<(), String> {
        if self.admin_listen.ip().is_loopback() || self.admin_allow_remote {
            return Ok(());
        }
        Err(format!(
            "admin_listen {} is not a loopback address; the admin listener speaks plain HTTP (reload, audit \
             records, metrics). Keep it on 127.0.0.1, or accept the exposure with admin_allow_remote = true \
             in tamis.toml or --admin-allow-remote",
            self.admin_listen
        ))
    }
}

/// Creates `path`, which must not exist yet, with `contents`, synced to
/// disk; a secret file gets mode 0600 (0644 otherwise), the mode
/// [`check_secret_file`] expects.
pub fn write_new_file(path: &Path, contents: &[u8], secret: bool) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, if secret { 0o600 } else { 0o644 });
    let mut f = opts.open(path)?;
    std::io::Write::write_all(&mut f, contents)?;
    f.sync_all()
}

/// Refuses a secret file (a private key, the admin token) that other users
/// may read or write, naming the file and the fix.
pub fn check_secret_file(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{p} is accessible to other users (mode {mode:04o}); secret keys must be private to their owner: \
                 run chmod 600 {p}",
                p = path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// [`read_key`] for a secret key: refused when other users may read it.
pub fn read_secret_key(path: &Path) -> Result<[u8; 32], String> {
    check_secret_file(path)?;
    read_key(path)
}

/// Reads the admin token (a secret file), trimmed.
pub fn read_admin_token(path: &Path) -> Result<String, String> {
    check_secret_file(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let token = text.trim();
    if token.len() < 32 {
        return Err(format!("{}: the admin token is too short (at least 32 characters)", path.display()));
    }
    Ok(token.to_owned())
}

/// Reads a file holding a hex-encoded 32-byte key.
pub fn read_key(path: &Path) -> Result<[u8; 32], String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read key {}: {e}", path.display()))?;
    let bytes = hex::decode(text.trim()).map_err(|_| format!("{}: not a hex key", path.display()))?;
    bytes.try_into().map_err(|_| format!("{}: key must be 32 bytes", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[tls]
ca = "certs/ca.pem"
cert = "certs/server.pem"
key = "certs/server.key"

[keys]
storage = "keys/storage.key"
pseudonym = "keys/pseudonym.key"
escrow_public = "keys/escrow.pub"
"#;

    #[test]
    fn defaults_and_resolution() {
        let mut c = Config::parse("t.toml", MINIMAL).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(c.limits.max_indicators, 10_000);
        c.resolve(Path::new("/srv/tamis"));
        assert_eq!(c.tls.ca, Path::new("/srv/tamis/certs/ca.pem"));
        assert_eq!(c.data_dir, Path::new("/srv/tamis/data"));
    }

    #[test]
    fn admin_listen_must_be_loopback_unless_allowed() {
        let mut c = Config::parse("t.toml", MINIMAL).unwrap();
        assert!(c.check_admin_listen().is_ok());
        c.admin_listen = "0.0.0.0:9090".parse().unwrap();
        let err = c.check_admin_listen().unwrap_err();
        assert!(err.contains("0.0.0.0:9090") && err.contains("admin_allow_remote"), "{err}");
        c.admin_allow_remote = true;
        assert!(c.check_admin_listen().is_ok());
        let c =
            Config::parse("t.toml", &format!("admin_listen = \"10.0.0.1:9090\"\nadmin_allow_remote = true\n{MINIMAL}"))
                .unwrap();
        assert!(c.check_admin_listen().is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_readable_by_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("storage.key");
        std::fs::write(&key, "00".repeat(32)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret_key(&key).unwrap_err();
        assert!(err.contains(&format!("chmod 600 {}", key.display())) && err.contains("0644"), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_secret_key(&key).is_ok());
    }

    #[test]
    fn store_backend_defaults_to_sled_and_postgres_needs_a_url() {
        let c = Config::parse("t.toml", MINIMAL).unwrap();
        assert_eq!(c.store.backend, Backend::Sled);
        let pg =
            format!("{MINIMAL}\n[store]\nbackend = \"postgres\"\nurl = \"postgresql://tamis@127.0.0.1:5432/tamis\"\n");
        let c = Config::parse("t.toml", &pg).unwrap();
        assert_eq!(c.store.backend, Backend::Postgres);
        assert_eq!(c.store.url.as_deref(), Some("postgresql://tamis@127.0.0.1:5432/tamis"));
        let err = Config::parse("t.toml", &format!("{MINIMAL}\n[store]\nbackend = \"postgres\"\n")).unwrap_err();
        assert!(err.to_string().starts_with("t.toml:12:") && err.to_string().contains("needs url"), "{err}");
        let bad = format!("{MINIMAL}\n[store]\nbackend = \"postgres\"\nurl = \"mysql://x@y/z\"\n");
        assert!(Config::parse("t.toml", &bad).unwrap_err().to_string().contains("postgresql://"));
        let bad = format!("{MINIMAL}\n[store]\nbackend = \"postgres\"\nurl = \"postgresql://x@y:notaport/z\"\n");
        assert!(Config::parse("t.toml", &bad).unwrap_err().to_string().contains("not a valid"));
        let err = Config::parse("t.toml", &format!("{MINIMAL}\n[store]\nbackend = \"mongo\"\n")).unwrap_err();
        assert!(err.to_string().contains("mongo"), "{err}");
    }

    #[test]
    fn store_cache_size_has_a_default_and_bounds() {
        let c = Config::parse("t.toml", MINIMAL).unwrap();
        assert_eq!(c.store.cache_mib, DEFAULT_CACHE_MIB);
        assert_eq!(StoreConfig::default().cache_mib, DEFAULT_CACHE_MIB);
        let c = Config::parse("t.toml", &format!("{MINIMAL}\n[store]\ncache_mib = 64\n")).unwrap();
        assert_eq!(c.store.cache_mib, 64);
        let opts = crate::store::StoreOptions::for_config(&c, true);
        assert_eq!(opts.cache_bytes, 64 * 1024 * 1024);
        for bad in ["0", "7", "2000000"] {
            let err = Config::parse("t.toml", &format!("{MINIMAL}\n[store]\ncache_mib = {bad}\n")).unwrap_err();
            assert!(err.to_string().starts_with("t.toml:12:") && err.to_string().contains("cache_mib"), "{err}");
        }
        let err = Config::parse("t.toml", &format!("{MINIMAL}\n[store]\ncache_mib = \"64M\"\n")).unwrap_err();
        assert!(err.to_string().starts_with("t.toml:13:") && err.to_string().contains("u64"), "{err}");
    }

    #[test]
    fn unsigned_rpz_sources_are_parsed_and_checked_with_lines() {
        let ok = format!(
            "{MINIMAL}\n[rpz]\nallow_unsigned = [{{ participant = \"isp-a\", from = [\"127.0.0.1\", \"2001:db8::/64\"] }},\n\
             {{ participant = \"isp-b\", from = [\"192.0.2.0/24\"] }}]\n"
        );
        let c = Config::parse("t.toml", &ok).unwrap();
        let a = &c.rpz.allow_unsigned;
        assert_eq!((a[0].participant.as_str(), a[1].participant.as_str()), ("isp-a", "isp-b"));
        let has = |i: usize, ip: &str| a[i].from.iter().any(|n| n.contains(ip.parse().unwrap()));
        assert!(has(0, "127.0.0.1") && !has(0, "127.0.0.2"), "a bare address is one host");
        assert!(has(0, "2001:db8::53") && !has(0, "2001:db8:1::53"));
        assert!(has(0, "::ffff:127.0.0.1"), "an IPv4-mapped source is its IPv4 address");
        assert!(has(1, "192.0.2.200") && !has(1, "192.0.3.1"));
        let bad = |tail: &str| Config::parse("t.toml", &format!("{MINIMAL}\n[rpz]\n{tail}")).unwrap_err().to_string();
        let err = bad("[[rpz.allow_unsigned]]\nparticipant = \"isp-a\"\nfrom = [\"10.0.0.300/8\"]\n");
        assert!(err.starts_with("t.toml:15:") && err.contains("not an address or a network"), "{err}");
        let err = bad("[[rpz.allow_unsigned]]\nparticipant = \"isp-a\"\nfrom = [\"10.0.0.1/8\"]\n");
        assert!(err.starts_with("t.toml:15:") && err.contains("host bits"), "{err}");
        let err = bad("[[rpz.allow_unsigned]]\nparticipant = \"isp-a\"\nfrom = []\n");
        assert!(err.starts_with("t.toml:14:") && err.contains("no source address"), "{err}");
        let err = bad("[[rpz.allow_unsigned]]\nparticipant = \"ISP A\"\nfrom = [\"10.0.0.1\"]\n");
        assert!(err.starts_with("t.toml:14:") && err.contains("not a participant name"), "{err}");
        let err = bad("[[rpz.allow_unsigned]]\nparticipant = \"isp-a\"\n");
        assert!(err.starts_with("t.toml:13:") && err.contains("from"), "{err}");
        let err = bad("[[rpz.allow_unsigned]]\nparticipant = \"isp-a\"\nfrom = [\"10.0.0.0/8\"]\n\
             [[rpz.allow_unsigned]]\nparticipant = \"isp-b\"\nfrom = [\"192.0.2.1\", \"10.1.2.3\"]\n");
        assert!(err.starts_with("t.toml:18:") && err.contains("overlaps 10.0.0.0/8 of \"isp-a\""), "{err}");
    }

    #[test]
    fn notify_targets_are_addresses_or_tied_to_a_participant() {
        let text = format!(
            "{MINIMAL}\n[rpz]\nnotify = [\"192.0.2.53:53\", {{ to = \"198.51.100.53:53\", participant = \"isp-a\" }}]\n"
        );
        let c = Config::parse("t.toml", &text).unwrap();
        let n = &c.rpz.notify;
        assert_eq!((n[0].addr().to_string(), n[0].participant()), ("192.0.2.53:53".to_owned(), None));
        assert_eq!((n[1].addr().to_string(), n[1].participant()), ("198.51.100.53:53".to_owned(), Some("isp-a")));
        let bad = format!("{MINIMAL}\n[rpz]\nnotify = [{{ to = \"198.51.100.53:53\", key = \"isp-a\" }}]\n");
        let err = Config::parse("t.toml", &bad).unwrap_err().to_string();
        assert!(err.starts_with("t.toml:13:") && err.contains("participant = \"NAME\""), "{err}");
    }

    #[test]
    fn tombstone_retention_has_a_unit_and_defaults_to_30_days() {
        let day = std::time::Duration::from_secs(86_400);
        assert_eq!(Config::parse("t.toml", MINIMAL).unwrap().feed.retention().unwrap(), 30 * day);
        let c = Config::parse("t.toml", &format!("{MINIMAL}\n[feed]\ntombstone_retention = \"90s\"\n")).unwrap();
        assert_eq!(c.feed.retention().unwrap(), std::time::Duration::from_secs(90));
        assert_eq!(parse_duration("7d"), Some(7 * day));
        assert_eq!(parse_duration("12h"), Some(day / 2));
        for bad in ["30", "0d", "d", "-1h", "1w", ""] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let bad = format!("{MINIMAL}\n[feed]\ntombstone_retention = \"30 days\"\n");
        let err = Config::parse("t.toml", &bad).unwrap_err().to_string();
        assert!(err.starts_with("t.toml:13:") && err.contains("[feed]"), "{err}");
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let text = format!("{MINIMAL}\n[limits]\nmax_bodybytes = 3\n");
        let err = Config::parse("t.toml", &text).unwrap_err().to_string();
        assert!(err.starts_with("t.toml:13:"), "{err}");
        assert!(err.contains("max_bodybytes"), "{err}");
    }
}
