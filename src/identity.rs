//! Who is on the other end of a connection: the verified client certificate
//! mapped to a registered [`Participant`].
//!
//! Identity is never taken from free-text subject fields: a certificate is
//! recognised by its SHA-256 fingerprint, or by a `urn:tamis:participant:NAME`
//! URI SAN (which only the deployment CA can issue, since the TLS layer
//! accepts no other CA) when the participant's entry has no `fingerprints`
//! list. A `fingerprints` list is an allow-list: removing one retires a
//! certificate.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// URI SAN prefix of participant certificates issued by the deployment CA.
pub const SAN_PREFIX: &str = "urn:tamis:participant:";

/// What a participant may do (SPEC §1, §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submit indicators and retract its own.
    Submit,
    /// Read the sanitised feed, TAXII and statistics.
    Feed,
    /// Download blocklists.
    Blocklist,
    /// Read policies, the audit trail and statistics.
    Audit,
    /// Privately test whether an identifier is known (`/v1/lookup`).
    Lookup,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submit => "submit",
            Role::Feed => "feed",
            Role::Blocklist => "blocklist",
            Role::Audit => "audit",
            Role::Lookup => "lookup",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "submit" => Ok(Role::Submit),
            "feed" => Ok(Role::Feed),
            "blocklist" => Ok(Role::Blocklist),
            "audit" => Ok(Role::Audit),
            "lookup" => Ok(Role::Lookup),
            _ => Err(format!("unknown role {s:?} (expected submit, feed, blocklist, audit or lookup)")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of organisation (SPEC §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Bank,
    Isp,
    LawEnforcement,
    Auditor,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bank => "bank",
            Kind::Isp => "isp",
            Kind::LawEnforcement => "law-enforcement",
            Kind::Auditor => "auditor",
        }
    }

    /// The roles SPEC §1 gives this kind (`tamis participant add` without
    /// `--roles`): banks submit and look up, ISPs submit and pull
    /// blocklists, law enforcement reads the feed, auditors audit.
    pub fn default_roles(self) -> &'static [Role] {
        match self {
            Kind::Bank => &[Role::Submit, Role::Lookup],
            Kind::Isp => &[Role::Submit, Role::Blocklist],
            Kind::LawEnforcement => &[Role::Feed],
            Kind::Auditor => &[Role::Audit],
        }
    }

    /// The sector reported in `sources` when the registry names none.
    pub fn default_sector(self) -> &'static str {
        match self {
            Kind::Bank => "finance",
            Kind::Isp => "telecom",
            Kind::LawEnforcement => "law-enforcement",
            Kind::Auditor => "oversight",
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bank" => Ok(Kind::Bank),
            "isp" => Ok(Kind::Isp),
            "law-enforcement" => Ok(Kind::LawEnforcement),
            "auditor" => Ok(Kind::Auditor),
            _ => Err(format!("unknown kind {s:?} (expected bank, isp, law-enforcement or auditor)")),
        }
    }
}

/// A registered member of the exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    /// Short unique name (`bank-a`); also the certificate's SAN suffix.
    pub id: String,
    pub kind: Kind,
    /// What it may do; checked on every endpoint.
    pub roles: Vec<Role>,
    /// Sector shown to consumers in `sources` instead of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    /// Audiences it belongs to (egress views); defaults from its kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Ingest policy applied to its submissions; the deployment default if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// SHA-256 fingerprints (hex) of the DER of the certificates that
    /// identify it. When present it is an allow-list (empty: no certificate
    /// is accepted), so removing a fingerprint retires that certificate; when
    /// absent, any certificate with its `urn:tamis:participant:` SAN is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprints: Option<Vec<String>>,
    /// Consent to be named as a source to consumers.
    #[serde(default)]
    pub disclose_name: bool,
    /// A revoked participant is refused even if its certificate still verifies.
    #[serde(default)]
    pub revoked: bool,
}

impl Participant {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn sector(&self) -> &str {
        self.sector.as_deref().unwrap_or(self.kind.default_sector())
    }

    /// Audiences, or the kind's natural one when the registry names none.
    pub fn audiences(&self) -> Vec<String> {
        if !self.audiences.is_empty() {
            return self.audiences.clone();
        }
        vec![
            match self.kind {
                Kind::Bank => "banks",
                Kind::Isp => "isps",
                Kind::LawEnforcement => "law-enforcement",
                Kind::Auditor => "auditors",
            }
            .to_owned(),
        ]
    }
}

/// The participant registry file (`participants.toml`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    #[serde(default, rename = "participant")]
    pub participants: Vec<Participant>,
}

/// Lookup of participants by certificate fingerprint and by name.
#[derive(Debug, Default)]
pub struct Registry {
    by_fingerprint: HashMap<String, Arc<Participant>>,
    by_id: HashMap<String, Arc<Participant>>,
}

/// A registry file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}:{1}: {2}")]
    Parse(String, usize, String),
    #[error("{0}: participant {1:?} is listed twice")]
    Duplicate(String, String),
    #[error("{0}: participant {1:?}: invalid name (use a-z, 0-9 and '-')")]
    BadName(String, String),
}

impl Registry {
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RegistryError::Read(name.clone(), e))?;
        Registry::parse(&name, &text)
    }

    pub fn parse(name: &str, text: &str) -> Result<Registry, RegistryError> {
        let file: RegistryFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| crate::config::line_of(text, s.start)).unwrap_or(0);
            RegistryError::Parse(name.to_owned(), line, e.message().to_owned())
        })?;
        Registry::from_participants(name, file.participants)
    }

    pub fn from_participants(name: &str, list: Vec<Participant>) -> Result<Registry, RegistryError> {
        let mut reg = Registry::default();
        for p in list {
            if !valid_name(&p.id) {
                return Err(RegistryError::BadName(name.to_owned(), p.id));
            }
            let p = Arc::new(p);
            if reg.by_id.insert(p.id.clone(), p.clone()).is_some() {
                return Err(RegistryError::Duplicate(name.to_owned(), p.id.clone()));
            }
            for fp in p.fingerprints.iter().flatten() {
                reg.by_fingerprint.insert(fp.to_ascii_lowercase(), p.clone());
            }
        }
        Ok(reg)
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Participant>> {
        self.by_id.get(id)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Participant>> {
        self.by_id.values()
    }

    /// The participant a verified certificate belongs to, if any.
    ///
    /// A listed fingerprint identifies its participant. Otherwise the
    /// `urn:tamis:participant:NAME` SAN does, but only for an entry without a
    /// `fingerprints` list: when an entry has one, it is an allow-list, so a
    /// retired (or leaked older) certificate with the right SAN stops working
    /// as soon as its fingerprint leaves the registry.
    pub fn identify(&self, cert: &CertInfo) -> Option<Arc<Participant>> {
        let p = match self.by_fingerprint.get(&cert.fingerprint) {
            Some(p) => p,
            None => {
                let p = self.by_id.get(cert.san_participant.as_deref()?)?;
                if p.fingerprints.is_some() {
                    return None;
                }
                p
            }
        };
        (!p.revoked).then(|| p.clone())
    }
}

/// Participant names (the rule lives in `model`, below the configuration
/// that names participants too).
pub use crate::model::valid_participant_name as valid_name;

/// What the server knows about a verified client certificate.
#[derive(Clone, Debug)]
pub struct CertInfo {
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub fingerprint: String,
    /// The participant named by a `urn:tamis:participant:` URI SAN.
    pub san_participant: Option<String>,
}

impl CertInfo {
    pub fn from_der(der: &[u8]) -> CertInfo {
        let fingerprint = hex::encode(Sha256::digest(der));
        let san_participant = x509_parser::parse_x509_certificate(der).ok().and_then(|(_, cert)| {
            let san = cert.subject_alternative_name().ok()??;
            san.value.general_names.iter().find_map(|n| match n {
                x509_parser::extensions::GeneralName::URI(u) => u.strip_prefix(SAN_PREFIX).map(str::to_owned),
                _ => None,
            })
        });
        CertInfo { fingerprint, san_participant }
    }
}

/// The authenticated peer of one connection, handed to every handler.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The registered participant, or `None` for a certificate that chains
    /// to the CA but is not (or no longer) registered.
    pub participant: Option<Arc<Participant>>,
    pub cert: CertInfo,
    pub remote: SocketAddr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_maps_fingerprints_as_an_allow_list_and_san_and_refuses_revoked() {
        let reg = Registry::parse(
            "p.toml",
            r#"
[[participant]]
id = "bank-a"
kind = "bank"
roles = ["submit"]
fingerprints = ["ABCD"]

[[participant]]
id = "old-isp"
kind = "isp"
roles = ["blocklist"]
revoked = true

[[participant]]
id = "isp-b"
kind = "isp"
roles = ["blocklist"]

[[participant]]
id = "dpo-a"
kind = "auditor"
roles = ["audit"]
fingerprints = []
"#,
        )
        .unwrap();
        let by_fp = CertInfo { fingerprint: "abcd".into(), san_participant: None };
        assert_eq!(reg.identify(&by_fp).unwrap().id, "bank-a");
        // bank-a lists its fingerprints: another certificate with its SAN
        // (a retired one) is not bank-a.
        let by_san = CertInfo { fingerprint: "00".into(), san_participant: Some("bank-a".into()) };
        assert!(reg.identify(&by_san).is_none());
        // No fingerprints listed: the SAN maps the certificate.
        let by_san = CertInfo { fingerprint: "01".into(), san_participant: Some("isp-b".into()) };
        assert_eq!(reg.identify(&by_san).unwrap().id, "isp-b");
        let revoked = CertInfo { fingerprint: "00".into(), san_participant: Some("old-isp".into()) };
        assert!(reg.identify(&revoked).is_none());
        // An empty list accepts no certificate at all.
        let none = CertInfo { fingerprint: "02".into(), san_participant: Some("dpo-a".into()) };
        assert!(reg.identify(&none).is_none());
        let unknown = CertInfo { fingerprint: "00".into(), san_participant: Some("nobody".into()) };
        assert!(reg.identify(&unknown).is_none());
    }

    #[test]
    fn registry_errors_name_the_line() {
        let err = Registry::parse("p.toml", "[[participant]]\nid = \"x\"\nkind = \"bank\"\nroles = [\"fly\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.toml:4:"), "{err}");
    }
}
