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
pub mod audit;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod feeds;
pub mod identity;
pub mod model;
pub mod pki;
pub mod policy;
pub mod privacy;
pub mod report;
pub mod server;
pub mod store;
pub mod tls;

/// Plain-language description of a policy for DPOs (placeholder until the
/// privacy engine's explainer lands).
pub fn policy_explain(p: &policy::Policy) -> String {
    let mut out = format!("Policy {} (version {}).\n", p.id, p.version());
    for v in p.egress.values() {
        out.push_str(&format!(
            "Audience {}: receives {} up to TLP {} with confidence of at least {}.\n",
            v.audience,
            if v.types.is_empty() {
                "all indicator types".to_owned()
            } else {
                v.types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            },
            v.max_tlp,
            v.min_confidence
        ));
    }
    out
}
