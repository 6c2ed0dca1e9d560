//! tamis — a public-private threat-indicator exchange with privacy filtering.
//!
//! # Layout
//! Data flows one way: `tls` (mutual TLS acceptor) → `identity` (peer
//! certificate → [`identity::Participant`]) → `api` (warp filters, roles,
//! errors) → `privacy` (policy-driven sanitiser, pure) → `store` (sled, group
//! commit) → distribution (`feeds`). `config` reads `tamis.toml`, `pki`
//! writes the development deployment, `cli` holds one function per
//! subcommand and `server` wires it all together.
#![forbid(unsafe_code)]
// `model::Tlp`'s hand-written Default (owned elsewhere) trips this lint on newer clippy.
#![allow(clippy::derivable_impls)]

pub mod model;
pub mod policy;
pub mod policy_cli;
pub mod privacy;
