//! A deployment on disk: `tamis init` writes one, `tamis serve` loads one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::AppState;
use crate::config::{Config, check_secret_file, read_key, read_secret_key};
use crate::identity::{Kind, Participant, Registry, RegistryFile, Role};
use crate::pki::{Ca, new_ca};
use crate::policy::Policy;
use crate::policy_set::PolicySet;
use crate::privacy::{Keys, Sanitiser};
use crate::store::{PolicyLoad, StoreHandle};

/// Policies shipped inside the binary, written by `tamis init`.
pub const SHIPPED_POLICIES: &[(&str, &str)] = &[
    ("default.toml", include_str!("../policies/default.toml")),
    ("strict.toml", include_str!("../policies/strict.toml")),
];

/// The sample participants of a development deployment (SPEC §3).
pub const SAMPLE_PARTICIPANTS: &[(&str, Kind, &[Role], &str)] = &[
    ("bank-a", Kind::Bank, &[Role::Submit, Role::Lookup], "Bank A"),
    ("isp-a", Kind::Isp, &[Role::Submit, Role::Blocklist], "ISP A"),
    ("police-a", Kind::LawEnforcement, &[Role::Feed], "Police A"),
    ("dpo-a", Kind::Auditor, &[Role::Audit], "DPO A"),
];

/// A deployment step that failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0} already exists; refusing to overwrite an existing deployment")]
    Exists(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    #[error("{0}")]
    Other(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DeployError + '_ {
    move |source| DeployError::Io { path: path.display().to_string(), source }
}

/// Writes `contents` to a new file; secret files get mode 0600.
fn write_new(path: &Path, contents: &[u8], secret: bool) -> Result<(), DeployError> {
    crate::config::write_new_file(path, contents, secret).map_err(io_err(path))
}

/// Makes a directory private to its owner (mode 0700).
fn set_private_dir(path: &Path) -> Result<(), DeployError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(io_err(path))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Tightens the data directory to 0700 when other users may enter it (a
/// deployment made before `init` did so), with a warning.
fn tighten_data_dir(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else { return };
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() && mode & 0o077 != 0 {
            match set_private_dir(path) {
                Ok(()) => tracing::warn!(
                    dir = %path.display(),
                    was = format!("{mode:04o}"),
                    "data directory was accessible to other users; set to 0700"
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    "data directory is accessible to other users and could not be tightened: run chmod 700 on it"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Creates the admin token (mode 0600) when a deployment made by an older
/// `tamis init` has none.
fn ensure_admin_token(path: &Path) -> Result<(), DeployError> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    write_new(path, random_key_hex().as_bytes(), true)?;
    tracing::info!(file = %path.display(), "admin token created");
    Ok(())
}

/// Creates the private lookup's key seed (0600) when a deployment written
/// before the lookup existed has none. Its value is never printed.
fn ensure_lookup_key(path: &Path) -> Result<(), DeployError> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    write_new(path, random_key_hex().as_bytes(), true)?;
    tracing::info!(file = %path.display(), "lookup key created");
    Ok(())
}

fn random_key_hex() -> String {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).expect("OS random source");
    hex::encode(k)
}

/// What `init` wrote.
pub struct InitReport {
    pub dir: PathBuf,
    pub config: PathBuf,
}

/// Writes a ready-to-run development deployment into `dir`.
pub fn init(dir: &Path) -> Result<InitReport, DeployError> {
    let config_path = dir.join("tamis.toml");
    for p in [config_path.clone(), dir.join("certs/ca.key"), dir.join("participants.toml")] {
        if p.exists() {
            return Err(DeployError::Exists(p.display().to_string()));
        }
    }
    for sub in ["certs", "keys", "data", "policies"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(io_err(&dir.join(sub)))?;
    }
    // The store and the secret keys: private to the service account.
    for sub in ["keys", "data"] {
        set_private_dir(&dir.join(sub))?;
    }
    let certs = dir.join("certs");
    let ca = new_ca("tamis development participant CA")?;
    write_new(&certs.join("ca.pem"), ca.cert_pem.as_bytes(), false)?;
    write_new(&certs.join("ca.key"), ca.key_pem.as_bytes(), true)?;
    let ca = Ca::from_pem(&ca.cert_pem, &ca.key_pem)?;
    let server = ca.issue_server(&["localhost", "127.0.0.1"])?;
    write_new(&certs.join("server.pem"), server.cert_pem.as_bytes(), false)?;
    write_new(&certs.join("server.key"), server.key_pem.as_bytes(), true)?;

    // The exchange's own client certificate, for webhook deliveries.
    let exchange = ca.issue_exchange_client()?;
    write_new(&certs.join("exchange-client.pem"), exchange.cert_pem.as_bytes(), false)?;
    write_new(&certs.join("exchange-client.key"), exchange.key_pem.as_bytes(), true)?;

    let mut registry = RegistryFile::default();
    for (id, kind, roles, org) in SAMPLE_PARTICIPANTS {
        let issued = ca.issue_client(id, org)?;
        write_new(&certs.join(format!("{id}.pem")), issued.cert_pem.as_bytes(), false)?;
        write_new(&certs.join(format!("{id}.key")), issued.key_pem.as_bytes(), true)?;
        registry.participants.push(Participant {
            id: id.to_string(),
            kind: *kind,
            roles: roles.to_vec(),
            sector: None,
            audiences: Vec::new(),
            policy: None,
            fingerprints: Some(vec![issued.fingerprint]),
            disclose_name: false,
            revoked: false,
        });
    }
    let reg_text = format!(
        "# Participant registry: who may connect and with which roles.\n\
         # A participant is recognised by the SHA-256 fingerprints listed in its entry (an\n\
         # allow-list: remove one to retire that certificate) or, for an entry without a\n\
         # fingerprints key, by the urn:tamis:participant:<id> SAN that only this deployment's CA issues.\n\n{}",
        toml::to_string_pretty(&registry).map_err(|e| DeployError::Other(e.to_string()))?
    );
    write_new(&dir.join("participants.toml"), reg_text.as_bytes(), false)?;

    let keys = dir.join("keys");
    write_new(&keys.join("storage.key"), random_key_hex().as_bytes(), true)?;
    write_new(&keys.join("pseudonym.key"), random_key_hex().as_bytes(), true)?;
    // Escrow: the server gets the public half only. The private half is for
    // whoever answers legal orders; move it off this machine in production.
    let (private, public) =
        crate::privacy::escrow::generate_keypair().map_err(|e| DeployError::Other(e.to_string()))?;
    write_new(&keys.join("escrow.pub"), hex::encode(public).as_bytes(), false)?;
    write_new(&keys.join("escrow-private.key"), hex::encode(private).as_bytes(), true)?;
    write_new(&keys.join("admin.token"), random_key_hex().as_bytes(), true)?;
    // The OPRF key of the private lookup (a seed the key is derived from).
    write_new(&keys.join("lookup.key"), random_key_hex().as_bytes(), true)?;
    // TSIG keys of the RPZ zone transfer, for the participants that pull blocklists.
    let rpz = crate::config::RpzConfig::default();
    for (id, ..) in SAMPLE_PARTICIPANTS.iter().filter(|p| p.2.contains(&Role::Blocklist)) {
        let copy = certs.join(format!("{id}.tsig.conf"));
        crate::rpz::keys::write_keys(&dir.join(&rpz.keys_dir), id, &copy, &rpz.zone).map_err(io_err(&copy))?;
    }

    for (name, text) in SHIPPED_POLICIES {
        // Policies already there (a source checkout, or a DPO's edits) are kept.
        let path = dir.join("policies").join(name);
        if !path.exists() {
            write_new(&path, text.as_bytes(), false)?;
        }
    }
    write_new(&config_path, CONFIG_TEMPLATE.as_bytes(), false)?;
    Ok(InitReport { dir: dir.to_path_buf(), config: config_path })
}

const CONFIG_TEMPLATE: &str = r#"# tamis deployment configuration. Relative paths are relative to this file.

# Mutual-TLS API (SPEC §4) and the plain-HTTP admin listener. A non-loopback
# admin_listen is refused unless admin_allow_remote = true.
listen = "127.0.0.1:8443"
admin_listen = "127.0.0.1:9090"
admin_allow_remote = false

data_dir = "data"
# The audit anchor (head of the audit chain, MAC'd), rewritten after every commit. Keep it outside
# data_dir, ideally on WORM or remote storage: it detects a restored or cut data/.
audit_anchor = "audit/anchor"
participants = "participants.toml"
policies_dir = "policies"
# Extra allow-lists of this deployment (MISP JSON or one entry per line); the MISP lists are built in.
allowlists_dir = "allowlists"
# Ingest policy for participants whose registry entry names none.
default_policy = "default"

[tls]
ca = "certs/ca.pem"
cert = "certs/server.pem"
key = "certs/server.key"
crl = "certs/crl.pem"

[keys]
storage = "keys/storage.key"
pseudonym = "keys/pseudonym.key"
escrow_public = "keys/escrow.pub"
# Bearer token for the admin listener's /reload and POST /audit; the CLI reads it.
admin_token = "keys/admin.token"
# Seed of the OPRF key of the private lookup (/v1/lookup); every node of a cluster uses the same file.
lookup = "keys/lookup.key"
# The escrow private key is not listed: the server never reads it.
# Secret keys must be mode 0600: the server and the CLI refuse group- or world-readable ones.

# The record of processing (tamis report processing, admin /record) takes these from here; until they
# are set it says "not configured". Uncomment and fill in with the controller's real details.
# [controller]
# name = "EDIT: legal name of the controller"
# contact = "EDIT: postal address, e-mail, telephone"
# [dpo]
# name = "EDIT: data-protection officer"
# contact = "EDIT: e-mail or telephone of the DPO"
# [record]
# legal_basis = "EDIT: legal basis of the processing (e.g. the national law on CSIRTs)"
# transfers = []   # transfers to third countries or international organisations, with safeguards
# [record.recipients]   # legal basis of the disclosures to each audience
# law-enforcement = "EDIT: legal basis"
# The RPZ zone (domains.rpz of each ISP's audience) served to DNS secondaries by zone transfer:
# AXFR/IXFR over TCP with a TSIG key per participant (keys/tsig/NAME.key; the participant's copy,
# with BIND and Unbound snippets, is certs/NAME.tsig.conf), NOTIFY to the listed secondaries.
# Off until listen is set.
[rpz]
# listen = "127.0.0.1:5353"
zone = "rpz.tamis"
notify = []   # "IP:PORT", or { to = "IP:PORT", participant = "isp-a" } to sign with isp-a's key
keys_dir = "keys/tsig"
history = 32
# Unsigned transfers for resolvers that cannot sign (Unbound), from these source addresses only; the
# participant decides the zone, as its key would:
# [[rpz.allow_unsigned]]
# participant = "isp-a"
# from = ["127.0.0.1/32"]

# Webhooks: each new feed item pushed, as the participant's feed shows it, to an HTTPS endpoint
# named here by the operator (never by the participant). The exchange presents its own client
# certificate (certs/exchange-client.pem, issued by this deployment's CA); the receiver's server
# certificate must chain to `ca`. At least once, in feed order, the feed cursor as id; retried
# with back-off while the receiver fails. Off until a hook is listed.
[webhooks]
client_cert = "certs/exchange-client.pem"
client_key = "certs/exchange-client.key"
batch = 500
timeout_ms = 10000
max_backoff_ms = 300000
# [[webhooks.hook]]
# participant = "police-a"
# url = "https://soc.police-a.example/tamis/alerts"
# ca = "/etc/ssl/certs/ca-certificates.crt"

# The feed log keeps a removal (retraction, expiry) this long after dropping the entries it
# supersedes ("30d"; units s, m, h, d); a follower whose cursor is older must resynchronise from
# since=0 (HTTP 410 on GET /v1/indicators, `event: resync` on the stream, webhooks restart from 0).
[feed]
tombstone_retention = "30d"

# Default lifetime (days) of indicators submitted without valid_until.
[expiry]
url_days = 30
domain_days = 90
ip_days = 30
hash_days = 365
other_days = 180
# No indicator stays longer than this after its submission (a later valid_until is cut).
max_days = 365

[limits]
max_body_bytes = 16777216
max_indicators = 10000
max_connections = 1024
max_connections_per_cert = 64
max_handshakes = 128
max_handshakes_per_ip = 16
handshake_timeout_ms = 3000
first_request_timeout_ms = 10000
idle_timeout_ms = 30000
header_timeout_ms = 10000
submissions_per_minute = 6000
indicators_per_minute = 600000
body_bytes_per_minute = 268435456
reads_per_minute = 60000
max_page = 10000
# Live streams (/v1/indicators/stream): a heart-beat after this long without an event,
# and the events held for a slow client before it is cut off (it resumes with Last-Event-ID).
stream_heartbeat_ms = 15000
stream_buffer_events = 1024

# POST /v1/sightings: false-positive reports from this many distinct participants, or one
# from a participant of a decisive audience, withdraw an indicator from blocklists at once,
# until its submitter confirms it (POST /v1/indicators/{id}/confirm) or retracts it.
[sightings]
false_positive_threshold = 2
decisive_audiences = ["isp-blocking-agreement"]

# Private lookup of IBANs, phones and e-mails (POST /v1/lookup/evaluate, role lookup). Each
# evaluation lets a participant test one guessed identifier: the budget bounds the guessing.
[lookup]
evaluations_per_minute = 120
max_batch = 16
"#;

/// The policy files of `dir` (`*.toml`), sorted.
pub fn policy_files(dir: &Path) -> Result<Vec<PathBuf>, DeployError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Opens the deployment's store (a sled store fails while a running
/// exchange holds it).
pub fn open_store(cfg: &Config) -> Result<StoreHandle, String> {
    let key = read_secret_key(&cfg.keys.storage)?;
    StoreHandle::open(cfg, &key, false)
}

/// Loads every policy file of `dir` and compiles it.
pub fn load_policies(dir: &Path, keys: &Keys, default: &str) -> Result<PolicySet, DeployError> {
    let mut by_id = std::collections::HashMap::new();
    for path in policy_files(dir)? {
        let policy = Policy::load(&path).map_err(|e| DeployError::Other(e.to_string()))?;
        let id = policy.id.clone();
        let sanitiser =
            Sanitiser::new(Arc::new(policy), keys.clone()).map_err(|e| DeployError::Other(e.to_string()))?;
        if by_id.insert(id.clone(), Arc::new(sanitiser)).is_some() {
            return Err(DeployError::Other(format!("{}: policy id {id:?} is used by two files", path.display())));
        }
    }
    if !by_id.contains_key(default) {
        return Err(DeployError::Other(format!("default policy {default:?} not found in {}", dir.display())));
    }
    Ok(PolicySet { by_id, default: default.to_owned() })
}

/// Everything `serve` needs, loaded from a config.
pub struct Loaded {
    pub state: Arc<AppState>,
    pub store: StoreHandle,
    pub tls: Arc<rustls::ServerConfig>,
}

/// Loads a deployment: registry, keys, policies, TLS and the store.
///
/// Refuses to start with a non-loopback admin address (unless allowed) and
/// with secret keys other users may read (storage, pseudonym, TLS server
/// key, admin token); creates a missing admin token and tightens a data
/// directory that others may enter.
pub fn load(cfg: &Config) -> Result<Loaded, DeployError> {
    cfg.check_admin_listen().map_err(DeployError::Other)?;
    ensure_admin_token(&cfg.keys.admin_token)?;
    ensure_lookup_key(&cfg.keys.lookup)?;
    for secret in [&cfg.keys.storage, &cfg.keys.pseudonym, &cfg.tls.key, &cfg.keys.admin_token, &cfg.keys.lookup] {
        check_secret_file(secret).map_err(DeployError::Other)?;
    }
    let registry = Registry::load(&cfg.participants).map_err(|e| DeployError::Other(e.to_string()))?;
    let keys = Keys {
        pseudonym: read_secret_key(&cfg.keys.pseudonym).map_err(DeployError::Other)?,
        escrow_public: read_key(&cfg.keys.escrow_public).map_err(DeployError::Other)?,
    };
    let storage_key = read_secret_key(&cfg.keys.storage).map_err(DeployError::Other)?;
    let policies = load_policies(&cfg.policies_dir, &keys, &cfg.default_policy)?;
    let tls = crate::tls::from_files(&cfg.tls.ca, &cfg.tls.cert, &cfg.tls.key, cfg.tls.crl.as_deref())
        .map_err(|e| DeployError::Other(e.to_string()))?;
    let store = match cfg.store.backend {
        crate::config::Backend::Sled => {
            let s = crate::store::SledStore::open_with(
                &cfg.data_dir,
                &storage_key,
                crate::store::StoreOptions::for_config(cfg, true),
            )
            .map_err(|e| DeployError::Other(format!("{}: {e}", cfg.data_dir.display())))?;
            tighten_data_dir(&cfg.data_dir);
            StoreHandle::Sled(s)
        }
        crate::config::Backend::Postgres => StoreHandle::open(cfg, &storage_key, true).map_err(DeployError::Other)?,
    };
    let allow =
        crate::feeds::allowlist::AllowList::with_dir(cfg.allowlists_dir.as_deref()).map_err(DeployError::Other)?;
    let (limits, expiry, sightings) = (cfg.limits.clone(), cfg.expiry.clone(), cfg.sightings.clone());
    let state = AppState::new(registry, policies, store.store(), limits, expiry, allow, sightings);
    let _ = state.deployment_id.set(deployment_id(cfg)?);
    let _ = state.tombstone_retention.set(cfg.feed.retention().map_err(DeployError::Other)?);
    let lookup_seed = read_secret_key(&cfg.keys.lookup).map_err(DeployError::Other)?;
    let _ = state.lookup.set(crate::app::Lookup::new(crate::lookup::LookupKey::from_seed(&lookup_seed), &cfg.lookup));
    // a node on PostgreSQL keeps no local state: its serials follow the
    // shared log's commit times, the same on every node
    if matches!(cfg.store.backend, crate::config::Backend::Sled) {
        let _ = state.blocklists.serial_file.set(cfg.data_dir.join("rpz-serials.json"));
        // the snapshots' gzip encodings in files, out of the resident set
        // (sled locks the data directory: no other process uses this one)
        match crate::feeds::blocklist::SnapshotFiles::open(&cfg.data_dir.join("blocklists")) {
            Ok(files) => {
                let _ = state.blocklists.files.set(Arc::new(files));
            }
            Err(e) => tracing::warn!(error = %e, "no blocklist snapshot directory: snapshots kept in memory"),
        }
    }
    Ok(Loaded { state, store, tls })
}

/// Re-reads the participant registry and the policies. All-or-nothing: a
/// file that does not load leaves everything as it was, and the error names
/// it (`file:line: message`). New policy versions are recorded.
pub async fn reload(cfg: &Config, state: &AppState) -> Result<Vec<String>, String> {
    let registry = Registry::load(&cfg.participants).map_err(|e| e.to_string())?;
    check_secret_file(&cfg.tls.key)?;
    let keys =
        Keys { pseudonym: read_secret_key(&cfg.keys.pseudonym)?, escrow_public: read_key(&cfg.keys.escrow_public)? };
    let policies = load_policies(&cfg.policies_dir, &keys, &cfg.default_policy).map_err(|e| e.to_string())?;
    let tls = crate::tls::from_files(&cfg.tls.ca, &cfg.tls.cert, &cfg.tls.key, cfg.tls.crl.as_deref())
        .map_err(|e| e.to_string())?;
    let mut versions: Vec<String> = policies.by_id.values().map(|s| s.policy().version()).collect();
    versions.sort();
    state.tls.store(Some(tls));
    state.registry.store(Arc::new(registry));
    state.policies.store(Arc::new(policies));
    record_policies(state).await;
    tracing::info!(policies = ?versions, "registry and policies reloaded");
    Ok(versions)
}

/// Records every loaded policy version in the registry and the audit trail.
pub async fn record_policies(state: &AppState) {
    let policies = state.policies.load();
    let mut ids: Vec<_> = policies.by_id.keys().collect();
    ids.sort();
    for id in ids {
        let p = policies.by_id[id].policy();
        let load =
            PolicyLoad { id: p.id.clone(), hash: p.hash.clone(), text: p.text.clone(), file: format!("{id}.toml") };
        if let Err(e) = state.store.record_policy(load).await {
            tracing::error!(error = %e, "cannot record policy version");
        }
    }
}

/// Identifies a deployment: SHA-256 of its CA certificate file.
pub fn deployment_id(cfg: &Config) -> Result<String, DeployError> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(&cfg.tls.ca).map_err(io_err(&cfg.tls.ca))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}
