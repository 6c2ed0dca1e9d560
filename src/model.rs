//! The types that flow through the exchange: what a participant submits
//! ([`RawIndicator`]), what survives the privacy filter ([`Indicator`]), and
//! the per-type validation and normalisation of indicator values (SPEC §5).
//!
//! Parsing is deliberately per indicator: a submission is first read as a list
//! of JSON values, then each one is turned into a [`RawIndicator`] on its own,
//! so one bad entry is rejected with its index while the others land.
//!
//! Error messages never contain the submitted value: a rejected value may well
//! be personal data (a victim's phone number typed into the wrong field).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Longest indicator value accepted, in bytes (URLs included).
pub const MAX_VALUE_LEN: usize = 4096;
/// Longest free-text description accepted, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 16 * 1024;
/// Most attributes on one indicator.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most tags on one indicator.
pub const MAX_TAGS: usize = 32;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name of this variant.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(|()| serde::de::Error::custom(format!(
                    concat!("unknown ", stringify!($name), " {:?}"), s)))
            }
        }
    };
}

string_enum! {
    /// The kind of an indicator value (SPEC §5).
    IndicatorType {
        Url => "url", Domain => "domain", Ipv4 => "ipv4", Ipv6 => "ipv6", Cidr => "cidr",
        Email => "email", Sha256 => "sha256", Sha1 => "sha1", Md5 => "md5", Iban => "iban",
        Phone => "phone", Btc => "btc",
    }
}

string_enum! {
    /// What the indicator is evidence of (SPEC §5).
    Category {
        Phishing => "phishing", Malware => "malware", C2 => "c2", Botnet => "botnet",
        Ddos => "ddos", Fraud => "fraud", Scam => "scam", Spam => "spam",
        IllegalContent => "illegal-content", Other => "other",
    }
}

string_enum! {
    /// Traffic Light Protocol 2.0 level, ordered from most to least shareable.
    Tlp {
        Clear => "clear", Green => "green", Amber => "amber", AmberStrict => "amber+strict", Red => "red",
    }
}

#[allow(clippy::derivable_impls)] // declared by a macro
impl Default for Tlp {
    fn default() -> Self {
        Tlp::Amber
    }
}

/// One indicator as submitted, syntactically valid but not yet sanitised.
/// It may hold personal data anywhere: it must never be stored or logged.
#[derive(Clone, Debug, PartialEq)]
pub struct RawIndicator {
    /// The kind of value; decides validation and normalisation.
    pub kind: IndicatorType,
    /// The normalised value (see [`normalise_value`]).
    pub value: String,
    /// What it is evidence of; `other` when the submitter did not say.
    pub category: Category,
    /// Submitter's confidence, 0–100; 50 when not given.
    pub confidence: u8,
    /// Sharing level; amber when not given.
    pub tlp: Tlp,
    /// When the submitter first saw it.
    pub first_seen: Option<OffsetDateTime>,
    /// When it stops being worth blocking.
    pub valid_until: Option<OffsetDateTime>,
    /// Free text; the riskiest field for personal data.
    pub description: Option<String>,
    /// Free key/value pairs, values flattened to strings.
    pub attributes: BTreeMap<String, String>,
    /// Short labels (campaign names, families).
    pub tags: Vec<String>,
    /// Names of fields that were present but not understood; the sanitiser
    /// drops them (fail closed) and counts them.
    pub unknown_fields: Vec<String>,
    /// Attribute keys whose values were not scalars or lists of scalars;
    /// dropped and counted, never stored.
    pub dropped_attributes: Vec<String>,
}

/// A sanitised indicator: the only form that reaches the store and leaves
/// the exchange. Field names follow SPEC §5.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    /// Stable identifier, derived from `(type, value)`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// The value after normalisation and the policy's value rule (kept,
    /// pseudonymised, truncated to a BIN...).
    pub value: String,
    /// How the value was transformed, when it was (`pseudonymised`, `bin`,
    /// `escrowed`); absent when the value is the submitted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_form: Option<String>,
    pub category: Category,
    pub confidence: u8,
    pub tlp: Tlp,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Who reported it, without naming them.
    pub sources: Sources,
    /// `id@hash` of the policy that produced this record.
    pub policy: String,
}

/// What the privacy filter lets through for one submitted indicator: the
/// input of the store. Contains no personal data by construction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SanitisedIndicator {
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// The value as it may be stored and shared (possibly a pseudonym).
    pub value: String,
    /// How the value was transformed, if it was (`pseudonymised`, `bin`, `escrowed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_form: Option<String>,
    pub category: Category,
    pub confidence: u8,
    pub tlp: Tlp,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Counts of what the privacy filter removed, by data category and action
/// (`"email" -> {"redact": 3}`). Never holds a value: only counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Removals(pub BTreeMap<String, BTreeMap<String, u64>>);

impl Removals {
    /// Records one removal of `category` by `action`.
    pub fn add(&mut self, category: &str, action: &str) {
        self.add_n(category, action, 1);
    }

    pub fn add_n(&mut self, category: &str, action: &str, n: u64) {
        if n == 0 {
            return;
        }
        let by_action = match self.0.get_mut(category) {
            Some(m) => m,
            None => self.0.entry(category.to_owned()).or_default(),
        };
        match by_action.get_mut(action) {
            Some(c) => *c += n,
            None => {
                by_action.insert(action.to_owned(), n);
            }
        }
    }

    /// Adds every count of `other` to `self`.
    pub fn merge(&mut self, other: &Removals) {
        for (cat, actions) in &other.0 {
            for (action, n) in actions {
                self.add_n(cat, action, *n);
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().flat_map(|m| m.values()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Distinct submitters of an indicator: a count and their sectors, never names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    pub count: u32,
    pub sectors: Vec<String>,
    /// Names of the submitters that opted in to being named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

/// Why one indicator of a submission was refused. The message names the
/// field and the rule, never the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndicatorRejection {
    pub index: usize,
    /// Line of the input (CSV submissions), when it has lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub field: String,
    pub reason: String,
}

impl IndicatorRejection {
    pub fn new(index: usize, field: impl Into<String>, reason: impl Into<String>) -> Self {
        IndicatorRejection { index, line: None, field: field.into(), reason: reason.into() }
    }
}

impl fmt::Display for IndicatorRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "indicator {}: {}: {}", self.index, self.field, self.reason)
    }
}

/// Turns the JSON value at position `index` of a submission into a
/// [`RawIndicator`], validating and normalising every field.
pub fn parse_indicator(index: usize, v: &Value) -> Result<RawIndicator, IndicatorRejection> {
    let obj = v.as_object().ok_or_else(|| IndicatorRejection::new(index, "", "an indicator must be a JSON object"))?;
    let (kind, value) = type_and_value(index, obj)?;
    let (category, confidence, tlp) = classification(index, obj, kind)?;
    let time = |field: &str| parse_time(obj.get(field)).map_err(|e| IndicatorRejection::new(index, field, e));
    let (first_seen, valid_until) = (time("first_seen")?, time("valid_until")?);
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() > MAX_DESCRIPTION_LEN => {
            return Err(IndicatorRejection::new(index, "description", "longer than 16384 bytes"));
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(IndicatorRejection::new(index, "description", "must be a string")),
    };
    let (attributes, dropped_attributes) = attributes(index, obj)?;
    let tags = tags(index, obj)?;
    const KNOWN: &[&str] = &[
        "type",
        "value",
        "category",
        "confidence",
        "tlp",
        "first_seen",
        "valid_until",
        "description",
        "attributes",
        "tags",
    ];
    let unknown_fields = obj.keys().filter(|k| !KNOWN.contains(&k.as_str())).cloned().collect();
    Ok(RawIndicator {
        kind,
        value,
        category,
        confidence,
        tlp,
        first_seen,
        valid_until,
        description,
        attributes,
        tags,
        unknown_fields,
        dropped_attributes,
    })
}

/// `type` and `value` (required), the value validated and normalised for its type.
fn type_and_value(index: usize, obj: &Map<String, Value>) -> Result<(IndicatorType, String), IndicatorRejection> {
    let rej = |field: &str, reason: &str| IndicatorRejection::new(index, field, reason);
    let kind_s = obj
        .get("type")
        .ok_or_else(|| rej("type", "missing (required)"))?
        .as_str()
        .ok_or_else(|| rej("type", "must be a string"))?;
    let kind: IndicatorType = kind_s.parse().map_err(|()| {
        rej(
            "type",
            "unknown type (expected one of url, domain, ipv4, ipv6, cidr, email, sha256, sha1, md5, iban, phone, btc)",
        )
    })?;
    let raw_value = obj
        .get("value")
        .ok_or_else(|| rej("value", "missing (required)"))?
        .as_str()
        .ok_or_else(|| rej("value", "must be a string"))?;
    let value = normalise_value(kind, raw_value).map_err(|e| rej("value", &e.to_string()))?;
    Ok((kind, value))
}

/// `category` (default `other`; `illegal-content` only for URLs),
/// `confidence` (default 50) and `tlp` (default amber).
fn classification(
    index: usize,
    obj: &Map<String, Value>,
    kind: IndicatorType,
) -> Result<(Category, u8, Tlp), IndicatorRejection> {
    let rej = |field: &str, reason: &str| IndicatorRejection::new(index, field, reason);
    let category = match obj.get("category") {
        None | Some(Value::Null) => Category::Other,
        Some(Value::String(s)) => s.parse().map_err(|()| {
            rej("category", "unknown category (expected phishing, malware, c2, botnet, ddos, fraud, scam, spam, illegal-content or other)")
        })?,
        Some(_) => return Err(rej("category", "must be a string")),
    };
    if category == Category::IllegalContent && kind != IndicatorType::Url {
        return Err(rej("category", "illegal-content indicators must be URLs"));
    }
    let confidence = match obj.get("confidence") {
        None | Some(Value::Null) => 50,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(c) if c <= 100 => c as u8,
            _ => return Err(rej("confidence", "must be an integer from 0 to 100")),
        },
        Some(_) => return Err(rej("confidence", "must be an integer from 0 to 100")),
    };
    let tlp = match obj.get("tlp") {
        None | Some(Value::Null) => Tlp::Amber,
        Some(Value::String(s)) => s
            .to_ascii_lowercase()
            .parse()
            .map_err(|()| rej("tlp", "unknown TLP (expected clear, green, amber, amber+strict or red)"))?,
        Some(_) => return Err(rej("tlp", "must be a string")),
    };
    Ok((category, confidence, tlp))
}

/// `attributes`: the kept ones, and the names of those dropped for an
/// unusable value (nested, or too long).
fn attributes(
    index: usize,
    obj: &Map<String, Value>,
) -> Result<(BTreeMap<String, String>, Vec<String>), IndicatorRejection> {
    let rej = |reason: &str| IndicatorRejection::new(index, "attributes", reason);
    let mut attributes = BTreeMap::new();
    let mut dropped = Vec::new();
    let map = match obj.get("attributes") {
        None | Some(Value::Null) => return Ok((attributes, dropped)),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(rej("must be an object of key/value pairs")),
    };
    if map.len() > MAX_ATTRIBUTES {
        return Err(rej("more than 64 attributes"));
    }
    for (k, v) in map {
        if k.is_empty() || k.len() > 128 {
            return Err(rej("attribute names must be 1 to 128 bytes"));
        }
        match flatten_scalar(v) {
            Some(s) if s.len() <= MAX_DESCRIPTION_LEN => {
                attributes.insert(k.clone(), s);
            }
            _ => dropped.push(k.clone()),
        }
    }
    Ok((attributes, dropped))
}

/// `tags`: at most 32 non-empty strings of at most 256 bytes, trimmed.
fn tags(index: usize, obj: &Map<String, Value>) -> Result<Vec<String>, IndicatorRejection> {
    let items = match obj.get("tags") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(IndicatorRejection::new(index, "tags", "must be a list of strings")),
    };
    if items.len() > MAX_TAGS {
        return Err(IndicatorRejection::new(index, "tags", "more than 32 tags"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, t)| match t.as_str() {
            Some(s) if !s.trim().is_empty() && s.len() <= 256 => Ok(s.trim().to_owned()),
            _ => Err(IndicatorRejection::new(
                index,
                format!("tags[{i}]"),
                "must be a non-empty string of at most 256 bytes",
            )),
        })
        .collect()
}

/// Attribute values: strings, numbers and booleans as text; a list of those
/// joined with ", ". Objects and deeper nesting are not accepted (`None`).
fn flatten_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for i in items {
                match i {
                    Value::String(s) => parts.push(s.clone()),
                    Value::Number(n) => parts.push(n.to_string()),
                    Value::Bool(b) => parts.push(b.to_string()),
                    _ => return None,
                }
            }
            Some(parts.join(", "))
        }
        _ => None,
    }
}

fn parse_time(v: Option<&Value>) -> Result<Option<OffsetDateTime>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map(Some)
            .map_err(|_| "must be an RFC 3339 timestamp such as 2026-11-20T10:00:00Z"),
        Some(_) => Err("must be an RFC 3339 timestamp string"),
    }
}

/// Why a value is not a valid indicator of its type. Never carries the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("empty")]
    Empty,
    #[error("longer than 4096 bytes")]
    TooLong,
    #[error("contains control characters or spaces")]
    Whitespace,
    #[error("not a valid {0}")]
    Invalid(&'static str),
    #[error("{0}")]
    Refused(&'static str),
}

/// Undoes the usual defanging of indicators: `hxxp`, `[.]`, `(.)`, `[:]`, `[@]`.
pub fn refang(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['[', '(', '{']) && !s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("hxxp")) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = s
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("{.}", ".")
        .replace("[dot]", ".")
        .replace("[:]", ":")
        .replace("[://]", "://")
        .replace("[@]", "@")
        .replace("[at]", "@");
    if out.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("hxxp")) {
        out.replace_range(..4, "http");
    }
    std::borrow::Cow::Owned(out)
}

/// Validates and normalises a value of the given type (SPEC §5): IDNA and
/// lower-case hosts, canonical IPs, lower-case hashes, compact upper-case
/// IBANs, E.164 phones.
pub fn normalise_value(kind: IndicatorType, raw: &str) -> Result<String, ValueError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValueError::Empty);
    }
    if s.len() > MAX_VALUE_LEN {
        return Err(ValueError::TooLong);
    }
    if kind != IndicatorType::Phone
        && kind != IndicatorType::Iban
        && s.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ValueError::Whitespace);
    }
    match kind {
        IndicatorType::Url => normalise_url(&refang(s)),
        IndicatorType::Domain => normalise_domain(&refang(s)),
        IndicatorType::Ipv4 => {
            let ip = Ipv4Addr::from_str(&refang(s)).map_err(|_| ValueError::Invalid("IPv4 address"))?;
            check_public_ip(IpAddr::V4(ip))?;
            Ok(ip.to_string())
        }
        IndicatorType::Ipv6 => {
            let ip = Ipv6Addr::from_str(&refang(s)).map_err(|_| ValueError::Invalid("IPv6 address"))?;
            check_public_ip(IpAddr::V6(ip))?;
            Ok(ip.to_string())
        }
        IndicatorType::Cidr => {
            let net = ipnet::IpNet::from_str(&refang(s)).map_err(|_| ValueError::Invalid("CIDR block"))?;
            let net = net.trunc();
            let min = if net.addr().is_ipv4() { 8 } else { 16 };
            if net.prefix_len() < min {
                return Err(ValueError::Refused("CIDR block too wide (at most /8 for IPv4, /16 for IPv6)"));
            }
            check_public_ip(net.network())?;
            Ok(net.to_string())
        }
        IndicatorType::Email => normalise_email(&refang(s)),
        IndicatorType::Sha256 => normalise_hex(s, 64, "SHA-256 hash"),
        IndicatorType::Sha1 => normalise_hex(s, 40, "SHA-1 hash"),
        IndicatorType::Md5 => normalise_hex(s, 32, "MD5 hash"),
        IndicatorType::Iban => {
            let compact: String =
                s.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_uppercase();
            use iban::IbanLike;
            let iban =
                iban::Iban::from_str(&compact).map_err(|_| ValueError::Invalid("IBAN (format or mod-97 check)"))?;
            Ok(iban.electronic_str().to_owned())
        }
        IndicatorType::Phone => normalise_phone(s),
        IndicatorType::Btc => normalise_btc(s),
    }
}

fn normalise_hex(s: &str, len: usize, what: &'static str) -> Result<String, ValueError> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(ValueError::Invalid(what))
    }
}

/// Refuses addresses that can never be attacker infrastructure on the
/// internet: private, loopback, link-local, documentation, multicast...
pub fn check_public_ip(ip: IpAddr) -> Result<(), ValueError> {
    if is_reserved_ip(ip) {
        Err(ValueError::Refused("private or reserved address (not routable on the internet)"))
    } else {
        Ok(())
    }
}

/// True for addresses outside the public unicast space.
pub fn is_reserved_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 CGNAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_reserved_ip(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link local
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || (seg[0] & 0xe000) != 0x2000 // outside global unicast 2000::/3
        }
    }
}

/// Lower-case ASCII (punycode) host name, without a trailing dot, that may be
/// shared and blocked: well-formed labels, no DNS response-policy label
/// (`rpz-*`, see [`check_listable_name`]) and a known public suffix. Used for
/// `domain` indicators and the host of `url` indicators.
pub fn normalise_domain(s: &str) -> Result<String, ValueError> {
    let ascii = normalise_hostname(s)?;
    check_listable_name(&ascii)?;
    Ok(ascii)
}

/// Lower-case ASCII (punycode) host name, without a trailing dot: the syntax
/// only. E-mail domains use this (they never reach a blocklist).
fn normalise_hostname(s: &str) -> Result<String, ValueError> {
    let s = s.strip_suffix('.').unwrap_or(s);
    let ascii = idna::domain_to_ascii(s).map_err(|_| ValueError::Invalid("domain name"))?;
    if ascii.len() > 253 || !ascii.contains('.') {
        return Err(ValueError::Invalid("domain name"));
    }
    for label in ascii.split('.') {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ValueError::Invalid("domain name"));
        }
    }
    let tld = ascii.rsplit('.').next().unwrap_or_default();
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::Invalid("domain name (use type ipv4 for addresses)"));
    }
    Ok(ascii)
}

/// True when a DNS label is reserved by response policy zones
/// (draft-vixie-dnsop-dns-rpz): `rpz-ip`, `rpz-nsip`, `rpz-client-ip`,
/// `rpz-nsdname`, `rpz-passthru`, `rpz-drop`, `rpz-tcp-only` and any other
/// `rpz-*`. A name holding one would be read by a resolver as a trigger or an
/// action, not as a name (`1.0.0.0.0.rpz-client-ip` blocks half of the
/// clients).
pub fn is_rpz_label(label: &str) -> bool {
    label.len() >= 4 && label[..4].eq_ignore_ascii_case("rpz-")
}

/// Checks that a lower-case ASCII host name may be written to a blocklist
/// as a name: no `rpz-*` label and a suffix on the Public Suffix List (which
/// also refuses made-up and special-use TLDs such as `.local` or `.test`).
/// The RPZ renderer checks every owner name with it again.
pub fn check_listable_name(name: &str) -> Result<(), ValueError> {
    if name.split('.').any(is_rpz_label) {
        return Err(ValueError::Refused(
            "domain name with a label starting with rpz- (reserved for DNS response-policy triggers)",
        ));
    }
    if !psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known()) {
        return Err(ValueError::Refused("domain name without a known public suffix (top-level domain)"));
    }
    Ok(())
}

/// Percent-encodes a URL's userinfo when it holds characters that would
/// otherwise end the authority (`#`, `?`): phishing kits' stolen passwords
/// often do (`ftp://user:)2Qx#J@host/`). The sanitiser removes it anyway.
fn escape_userinfo(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = s.find("://").map(|i| i + 3) else { return s.into() };
    let rest = &s[start..];
    let Some(at) = rest.find('/').map_or(rest, |slash| &rest[..slash]).rfind('@') else { return s.into() };
    let userinfo = &rest[..at];
    if !userinfo.contains(['#', '?', '@', '%', ' ', '"', '<', '>', '\\', '^', '`', '{', '|', '}']) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..start]);
    let (user, pass) = match userinfo.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (userinfo, None),
    };
    // An existing `%XX` escape is kept as it is, so that normalising twice
    // gives the same URL.
    let enc = |out: &mut String, part: &str| {
        let bytes = part.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let escape = b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if escape || b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    };
    enc(&mut out, user);
    if let Some(p) = pass {
        out.push(':');
        enc(&mut out, p);
    }
    out.push_str(&rest[at..]);
    out.into()
}

fn normalise_url(s: &str) -> Result<String, ValueError> {
    let s = &*escape_userinfo(s);
    let url = url::Url::parse(s).map_err(|_| ValueError::Invalid("URL (absolute, with scheme and host)"))?;
    // `sftp://`: a kit's drop server as often as `ftp://`
    if !matches!(url.scheme(), "http" | "https" | "ftp" | "ftps" | "sftp" | "ws" | "wss" | "hxxp" | "hxxps") {
        return Err(ValueError::Invalid("URL (scheme must be http, https, ftp, ftps, sftp, ws or wss)"));
    }
    match url.host() {
        None => return Err(ValueError::Invalid("URL (no host)")),
        // a scheme the URL standard does not know (`sftp://62.70.149.83/`)
        // leaves an address as an opaque host
        Some(url::Host::Domain(d)) => match d.parse::<IpAddr>() {
            Ok(ip) => check_public_ip(ip)?,
            Err(_) => {
                normalise_domain(d)?;
            }
        },
        Some(url::Host::Ipv4(ip)) => check_public_ip(IpAddr::V4(ip))?,
        Some(url::Host::Ipv6(ip)) => check_public_ip(IpAddr::V6(ip))?,
    }
    Ok(url.to_string())
}

fn normalise_email(s: &str) -> Result<String, ValueError> {
    let (local, domain) = s.rsplit_once('@').ok_or(ValueError::Invalid("e-mail address"))?;
    if local.is_empty() || local.len() > 64 || local.contains('@') || local.contains(['<', '>', '"', ',', ';']) {
        return Err(ValueError::Invalid("e-mail address"));
    }
    let domain = normalise_hostname(domain).map_err(|_| ValueError::Invalid("e-mail address"))?;
    Ok(format!("{}@{}", local.to_lowercase(), domain))
}

/// E.164 (`+` and 8–15 digits) when the number is international (`+` or
/// `00` prefix); otherwise the national digits as submitted (6–15), since the
/// country cannot be known.
fn normalise_phone(s: &str) -> Result<String, ValueError> {
    let mut digits = String::with_capacity(s.len());
    let mut plus = false;
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c),
            // `+39 …`, `(+39) 380 …`: before the first digit only
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return Err(ValueError::Invalid("phone number")),
        }
    }
    if !plus && digits.starts_with("00") {
        digits.drain(..2);
        plus = true;
    }
    if plus {
        if (8..=15).contains(&digits.len()) && !digits.starts_with('0') {
            Ok(format!("+{digits}"))
        } else {
            Err(ValueError::Invalid("phone number (E.164 has 8 to 15 digits)"))
        }
    } else if (6..=15).contains(&digits.len()) {
        Ok(digits)
    } else {
        Err(ValueError::Invalid("phone number"))
    }
}

fn normalise_btc(s: &str) -> Result<String, ValueError> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("bc1") {
        if bech32_valid(&lower) {
            return Ok(lower);
        }
        return Err(ValueError::Invalid("bitcoin address (bech32 checksum)"));
    }
    if (s.starts_with('1') || s.starts_with('3')) && base58check_valid(s) {
        return Ok(s.to_owned());
    }
    Err(ValueError::Invalid("bitcoin address (base58check)"))
}

fn base58check_valid(s: &str) -> bool {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if !(25..=35).contains(&s.len()) {
        return false;
    }
    let mut bytes: Vec<u8> = vec![0; 25];
    for c in s.bytes() {
        let Some(mut carry) = ALPHABET.iter().position(|&a| a == c).map(|p| p as u32) else {
            return false;
        };
        for b in bytes.iter_mut().rev() {
            carry += 58 * (*b as u32);
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    let check = Sha256::digest(Sha256::digest(&bytes[..21]));
    check[..4] == bytes[21..]
}

fn bech32_valid(s: &str) -> bool {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let Some((hrp, data)) = s.rsplit_once('1') else {
        return false;
    };
    if hrp != "bc" || data.len() < 6 || !(14..=74).contains(&s.len()) {
        return false;
    }
    let mut values = Vec::with_capacity(data.len());
    for c in data.bytes() {
        match CHARSET.iter().position(|&x| x == c) {
            Some(p) => values.push(p as u32),
            None => return false,
        }
    }
    let mut chk: u32 = 1;
    let generator = [0x3b6a57b2u32, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let hrp_exp =
        hrp.bytes().map(|b| (b >> 5) as u32).chain(std::iter::once(0)).chain(hrp.bytes().map(|b| (b & 31) as u32));
    for v in hrp_exp.chain(values.iter().copied()) {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ v;
        for (i, g) in generator.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    // bech32 (v0) or bech32m (v1+)
    chk == 1 || chk == 0x2bc8_30a3
}

/// Participant names: lower-case letters, digits and dashes, at most 64,
/// not starting with a dash. The registry, the configuration (webhooks,
/// unsigned zone transfers) and the CLI all check names by this rule.
pub fn valid_participant_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phone_values_with_a_bracketed_country_code() {
        assert_eq!(normalise_phone("(+39) 380 8901039").unwrap(), "+393808901039");
        assert_eq!(normalise_phone("+49 30 1234567").unwrap(), "+49301234567");
        // a `+` after the first digit is no country code
        assert!(normalise_phone("380+8901039").is_err());
        assert!(normalise_phone("++39 380 8901039").is_err());
    }

    #[test]
    fn normalises_each_type() {
        use IndicatorType::*;
        assert_eq!(normalise_value(Domain, "Bad.EXAMPLE.com.").unwrap(), "bad.example.com");
        assert_eq!(normalise_value(Domain, "bücher-phish.de").unwrap(), "xn--bcher-phish-thb.de");
        assert_eq!(normalise_value(Domain, "evil[.]example[.]org").unwrap(), "evil.example.org");
        assert_eq!(
            normalise_value(Url, "hxxps://EVIL[.]example[.]com/a?b=c").unwrap(),
            "https://evil.example.com/a?b=c"
        );
        let with_hash = normalise_value(Url, "ftp://rroberts:)2Qx2$UgY#J@ing-secure.live/drop/").unwrap();
        assert!(with_hash.starts_with("ftp://rroberts:)2Qx2$UgY%23J@ing-secure.live/"), "{with_hash}");
        // a kit's SFTP drop, on a name or an address; a private address is still refused
        assert!(normalise_value(Url, "sftp://drop:pw@kit-drop.top:2222/in/").is_ok());
        assert!(normalise_value(Url, "sftp://rohan:pw@62.70.149.83/").is_ok());
        assert!(normalise_value(Url, "sftp://10.0.0.5/").is_err());
        assert_eq!(normalise_value(Ipv6, "2a00:1450:4001:0000::0001").unwrap(), "2a00:1450:4001::1");
        assert_eq!(normalise_value(Ipv4, "185.220.101.4").unwrap(), "185.220.101.4");
        assert_eq!(normalise_value(Cidr, "185.220.101.77/24").unwrap(), "185.220.101.0/24");
        assert_eq!(
            normalise_value(Sha1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709").unwrap(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(normalise_value(Iban, "de89 3704 0044 0532 0130 00").unwrap(), "DE89370400440532013000");
        assert_eq!(normalise_value(Phone, "+33 6 12 34 56 78").unwrap(), "+33612345678");
        assert_eq!(normalise_value(Phone, "0033 6 12 34 56 78").unwrap(), "+33612345678");
        assert_eq!(normalise_value(Email, "Phish@Bad.Example").unwrap(), "phish@bad.example");
        assert_eq!(
            normalise_value(Btc, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").unwrap(),
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
        );
        assert_eq!(
            normalise_value(Btc, "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4").unwrap(),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
    }

    #[test]
    fn refuses_invalid_values_without_echoing_them() {
        use IndicatorType::*;
        for (kind, v) in [
            (Ipv4, "10.1.2.3"),
            (Ipv4, "192.168.0.1"),
            (Ipv4, "300.1.1.1"),
            (Ipv6, "fe80::1"),
            (Cidr, "0.0.0.0/0"),
            (Domain, "localhost"),
            (Domain, "a..b"),
            (Url, "not a url"),
            (Url, "javascript:alert(1)"),
            (Sha256, "abc"),
            (Iban, "DE89370400440532013001"),
            (Phone, "+0"),
            (Btc, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),
            (Email, "no-at-sign"),
        ] {
            let err = normalise_value(kind, v).unwrap_err();
            assert!(!err.to_string().contains(v), "{kind}: {err}");
        }
    }

    #[test]
    fn refuses_rpz_labels_and_unknown_suffixes() {
        use IndicatorType::*;
        for v in [
            "1.0.0.0.0.rpz-client-ip",
            "1.0.0.0.0.rpz-ip",
            "32.8.8.8.8.rpz-ip",
            "a.gtld-servers.net.rpz-nsdname",
            "32.1.1.1.1.rpz-nsip",
            "rpz-passthru.example.com",
            "x.RPZ-DROP.com",
            "evil.rpz-tcp-only.org",
            "a.Rpz-Whatever.net",
        ] {
            let err = normalise_value(Domain, v).unwrap_err();
            assert!(err.to_string().contains("rpz-"), "{v}: {err}");
            assert!(!err.to_string().contains(v), "{v}: {err}");
            let url = normalise_value(Url, &format!("http://{v}/")).unwrap_err();
            assert!(!url.to_string().contains(v), "{v}: {url}");
        }
        for v in ["bad.example", "x.test", "printer.local", "a.invalid", "a.localhost", "evil.notatld", "x.onion2"] {
            let err = normalise_value(Domain, v).unwrap_err();
            assert!(err.to_string().contains("public suffix"), "{v}: {err}");
            assert!(normalise_value(Url, &format!("https://{v}/login")).is_err(), "{v}");
        }
        // Real suffixes, multi-label ones and IDN TLDs are fine; so is an
        // `rpz` label that is not of the reserved `rpz-` form.
        for v in ["phish.co.uk", "x.github.io", "rpz.example.com", "bad-rpz-x.top", "xn--80ak6aa92e.xn--p1ai"] {
            assert!(normalise_value(Domain, v).is_ok(), "{v}");
        }
    }

    #[test]
    fn parses_an_indicator_and_reports_the_faulty_field() {
        let ok = parse_indicator(
            0,
            &json!({"type":"url","value":"https://x.example.com/","category":"phishing","confidence":80,"tlp":"GREEN",
                   "attributes":{"n":3,"list":["a","b"],"deep":{"x":1}},"tags":["t"],"extra":1}),
        )
        .unwrap();
        assert_eq!(ok.tlp, Tlp::Green);
        assert_eq!(ok.attributes["n"], "3");
        assert_eq!(ok.attributes["list"], "a, b");
        assert_eq!(ok.dropped_attributes, vec!["deep".to_string()]);
        assert_eq!(ok.unknown_fields, vec!["extra".to_string()]);

        let bad = parse_indicator(3, &json!({"type":"domain","value":"x.example.com","confidence":101})).unwrap_err();
        assert_eq!((bad.index, bad.field.as_str()), (3, "confidence"));
        let bad = parse_indicator(1, &json!({"value":"x"})).unwrap_err();
        assert_eq!(bad.field, "type");
        let bad = parse_indicator(1, &json!({"type":"domain","value":"x.example.com","category":"illegal-content"}))
            .unwrap_err();
        assert_eq!(bad.field, "category");
    }
}
