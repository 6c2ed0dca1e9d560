//! Privacy policies: TOML files in `policies/`, versioned by content hash
//! (SPEC §6). A policy has an ingest stage (what the sanitiser removes before
//! anything is stored) and egress views per audience (what each may receive).

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::model::{Category, IndicatorType, Tlp};

/// A policy file that failed to load; displays as `file:line: message`.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// What one audience may receive.
#[derive(Clone, Debug, PartialEq)]
pub struct EgressView {
    /// Audience name (`law-enforcement`, `isps`, ...).
    pub audience: String,
    /// Indicator types it receives; empty means all.
    pub types: Vec<IndicatorType>,
    /// Categories it receives; empty means all.
    pub categories: Vec<Category>,
    /// Most restrictive TLP it may see.
    pub max_tlp: Tlp,
    /// Indicators below this confidence are withheld.
    pub min_confidence: u8,
    /// Optional fields it receives (`description`, `attributes`, `tags`).
    pub fields: Vec<String>,
}

impl EgressView {
    /// True when this audience may receive an indicator of this type,
    /// category, TLP and confidence.
    pub fn admits(&self, kind: IndicatorType, category: Category, tlp: Tlp, confidence: u8) -> bool {
        (self.types.is_empty() || self.types.contains(&kind))
            && if self.categories.is_empty() {
                category != Category::IllegalContent
            } else {
                self.categories.contains(&category)
            }
            && tlp <= self.max_tlp
            && confidence >= self.min_confidence
    }

    /// True when the optional field (`description`, `attributes`, `tags`) may be sent.
    pub fn allows_field(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f == field)
    }
}

/// A loaded policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Policy name, from the file (`default`, `strict`).
    pub id: String,
    /// First 16 hex digits of the SHA-256 of the file's bytes.
    pub hash: String,
    /// The file's text, kept for the registry and for DPOs.
    pub text: String,
    /// Egress views by audience name.
    pub egress: BTreeMap<String, EgressView>,
}

impl Policy {
    /// `id@hash`, the version stamped on every record it produced.
    pub fn version(&self) -> String {
        format!("{}@{}", self.id, self.hash)
    }

    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            file: path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        Policy::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Policy, PolicyError> {
        let value: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(0);
            PolicyError { file: file.to_owned(), line, message: e.message().to_owned() }
        })?;
        let id = value
            .get("id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| PolicyError { file: file.to_owned(), line: 1, message: "missing `id`".into() })?
            .to_owned();
        let hash = hex::encode(&Sha256::digest(text.as_bytes())[..8]);
        let err = |m: String| PolicyError { file: file.to_owned(), line: 0, message: m };
        let mut egress = BTreeMap::new();
        if let Some(toml::Value::Table(views)) = value.get("egress") {
            for (name, v) in views {
                let list = |k: &str| -> Vec<String> {
                    v.get(k)
                        .and_then(|x| x.as_array())
                        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default()
                };
                let types = list("types")
                    .iter()
                    .map(|t| t.parse().map_err(|()| err(format!("egress.{name}: unknown type"))))
                    .collect::<Result<_, _>>()?;
                let categories = list("categories")
                    .iter()
                    .map(|t| t.parse().map_err(|()| err(format!("egress.{name}: unknown category"))))
                    .collect::<Result<_, _>>()?;
                let max_tlp = v
                    .get("max_tlp")
                    .and_then(|x| x.as_str())
                    .unwrap_or("amber")
                    .parse()
                    .map_err(|()| err(format!("egress.{name}: unknown TLP")))?;
                let min_confidence =
                    v.get("min_confidence").and_then(|x| x.as_integer()).unwrap_or(0).clamp(0, 100) as u8;
                egress.insert(
                    name.clone(),
                    EgressView {
                        audience: name.clone(),
                        types,
                        categories,
                        max_tlp,
                        min_confidence,
                        fields: list("fields"),
                    },
                );
            }
        }
        Ok(Policy { id, hash, text: text.to_owned(), egress })
    }
}
