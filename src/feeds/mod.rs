//! Distribution: what leaves the exchange, per audience. [`egress`] decides
//! what a participant may see of each indicator.

pub mod allowlist;
pub mod blocklist;
pub mod egress;
pub mod id;
pub mod misp;
pub mod sorted;
pub mod stix;
pub mod taxii;
