//! tamis — a public-private threat-indicator exchange with privacy filtering.
//!
//! # Layout
//! Data flows one way: [`tls`] (mutual-TLS acceptor) → [`identity`] (peer
//! certificate → [`identity::Participant`]) → [`api`] (warp filters, roles,
//! errors) → [`privacy`] (policy-driven sanitiser, pure) → [`store`] (sled,
//! group commit) → distribution. [`config`] reads `tamis.toml`, [`pki`] and
//! [`deploy`] write and load a deployment, [`audit`] is the hash chain,
//! [`cli`] holds one function per subcommand and [`server`] runs the accept
//! loops.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod feeds;
pub mod identity;
pub mod model;
pub mod pki;
pub mod policy;
pub mod policy_cli;
pub mod policy_set;
pub mod privacy;
pub mod report;
pub mod server;
pub mod store;
pub mod tls;

/// Plain-language description of a policy for DPOs.
pub fn policy_explain(p: &policy::Policy) -> String {
    p.explain()
}
