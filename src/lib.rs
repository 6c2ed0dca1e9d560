//! tamis — a public-private threat-indicator exchange with privacy filtering.
//!
//! # Layout
//! A submission travels [`tls`] (mutual-TLS acceptor, run by [`server`]) →
//! [`identity`] (peer certificate → [`identity::Participant`]) → [`api`]
//! (warp filters, roles, errors) → [`pipeline`] (parses the body, has
//! [`privacy`], the pure policy-driven sanitiser, clean each indicator, and
//! commits) → [`store`] (sled, group commit, feed log) → [`feeds`]
//! (blocklists, STIX, TAXII collections, egress views), which the [`api`]
//! serves back.
//!
//! Modules, lowest layer first; each uses only modules listed before it
//! (`docs/design.md`, "Layering"; `tests/layering.rs` checks it):
//! - [`model`] indicator types, [`config`] `tamis.toml`, [`identity`]
//!   participants and roles, [`pki`] the deployment's certificates,
//!   [`lookup`] the OPRF of the private lookup;
//! - [`policy`] policy files, [`privacy`] the sanitiser, [`policy_set`] the
//!   compiled policies in force;
//! - [`audit`] the hash-chained audit events, [`store`] storage, [`tls`]
//!   the rustls server configuration;
//! - [`feeds`] distribution, [`report`] the DPO report;
//! - [`pipeline`] a submission's path without HTTP: parse, sanitise,
//!   commit (shared by the API and the CLI's dry-run);
//! - [`app`] the state shared by every connection, [`rpz`] the RPZ zone
//!   served by zone transfer (AXFR/IXFR, TSIG, NOTIFY);
//! - [`api`] the HTTP API (TAXII's routes in `api::taxii`);
//! - [`deploy`] writes and loads a deployment, [`server`] runs the accept
//!   loops;
//! - [`cli`], one function per subcommand (`tamis policy` in `cli::policy`).
#![forbid(unsafe_code)]

/// jemalloc instead of glibc's malloc for every binary that links tamis:
/// sled allocates and frees a node for every page it reads in and evicts,
/// and with glibc the store's writer spent about 40% of its time in
/// `malloc`/`free` (fragmented free lists) once the tree outgrew sled's
/// cache, and the resident set kept the fragments (docs/performance.md).
/// The `system-alloc` feature (profiling with `heaptrack` only) keeps the
/// system allocator.
#[cfg(all(not(target_env = "msvc"), not(feature = "system-alloc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod api;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod directory;
pub mod feeds;
pub mod identity;
pub mod lookup;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod pki;
pub mod policy;
pub mod policy_set;
pub mod privacy;
pub mod report;
pub mod rpz;
pub mod server;
pub mod store;
pub mod tls;
pub mod webhooks;

/// Plain-language description of a policy for DPOs.
pub fn policy_explain(p: &policy::Policy) -> String {
    p.explain()
}
