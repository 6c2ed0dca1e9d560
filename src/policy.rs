//! Privacy policies: TOML files in `policies/`, versioned by content hash
//! (SPEC §6). A policy has an ingest stage (what the sanitiser removes before
//! anything is stored) and egress views per audience (what each may receive).
//!
//! Loading is strict: an unknown key, a misspelt action or a value of the
//! wrong type refuses the whole file with `file:line: message`, so a typo can
//! never silently weaken the filter.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::model::{Category, IndicatorType, Tlp};

/// A policy file that failed to load; displays as `file:line: message`.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PolicyError {
    /// The file name as given to [`Policy::load`] or [`Policy::parse`].
    pub file: String,
    /// 1-based line of the fault (0 when the file could not be read).
    pub line: usize,
    /// What is wrong, never quoting submitted data.
    pub message: String,
}

/// What the sanitiser does with one piece of personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Leave it as it is (only sensible for attacker infrastructure).
    Keep,
    /// Remove the whole field that contains it.
    Drop,
    /// Replace it with a label such as `[EMAIL]`.
    Redact,
    /// Keep a non-identifying prefix (card BIN, phone country code, IBAN country).
    Mask,
    /// Coarsen it: IPv4 to /24, IPv6 to /48, dates of birth to the year.
    Generalise,
    /// Replace it with a keyed HMAC token: equal inputs give equal tokens.
    Pseudonymise,
    /// Seal it to the escrow public key; only the key holder can reopen it.
    Escrow,
}

impl Action {
    /// Wire name of the action (as written in policy files and removal counts).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::Redact => "redact",
            Action::Mask => "mask",
            Action::Generalise => "generalise",
            Action::Pseudonymise => "pseudonymise",
            Action::Escrow => "escrow",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a whole free field (description, attributes, tags) is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldMode {
    /// Run every detector over it and replace what they find; the rest
    /// passes (written `scrub`, or `detect`).
    #[serde(alias = "detect")]
    Scrub,
    /// The detectors first, then every remaining token leaves only if the
    /// engine accounts for it as non-personal (`privacy::deny`).
    DefaultDeny,
    /// Remove the field entirely.
    Drop,
}

impl FieldMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldMode::Scrub => "scrub",
            FieldMode::DefaultDeny => "default-deny",
            FieldMode::Drop => "drop",
        }
    }

    /// What the mode does to a field, in words for a DPO.
    pub fn phrase(self) -> &'static str {
        match self {
            FieldMode::Scrub => {
                "kept after removing the personal data above (detect mode: what no detector finds passes)"
            }
            FieldMode::DefaultDeny => {
                "default-deny: after the personal data above is removed, a word is kept only if it is a word of the general vocabulary (en, de, fr, it, es, pt, pl, nl; capitalised mid-sentence only German nouns and security words), a security word (malware, tool, actor; ATT&CK, CVE), an indicator shape (domain, IP, hash, wallet, version, user agent, date, time, amount, small number) or a case reference below; anything else becomes [WORD], [TOKEN], [NUMBER] or [NAME]"
            }
            FieldMode::Drop => "never stored",
        }
    }

    /// True when the field is kept (scrubbed or default-deny).
    pub fn keeps(self) -> bool {
        self != FieldMode::Drop
    }
}

/// Settings of the default-deny mode (`[ingest.deny]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DenyRules {
    /// Case or ticket reference patterns (regular expressions matched
    /// against a whole token, case-insensitive) that pass.
    pub references: Vec<String>,
    /// Extra words of the deployment that pass (product names, teams).
    pub words: Vec<String>,
}

/// Categories of personal data the detectors recognise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataCategory {
    Email,
    Phone,
    Iban,
    Card,
    NationalId,
    Ip,
    DateOfBirth,
    Credential,
    Name,
    Address,
    /// Device identifiers: IMEI/IMEISV, MAC addresses, device serials.
    DeviceId,
    /// Geographic positions: coordinate pairs, `geo:` URIs, map links.
    Location,
    /// Social-media handles and profile links of persons.
    OnlineId,
    /// Vehicle registration plates.
    VehiclePlate,
}

impl DataCategory {
    pub const ALL: [DataCategory; 14] = [
        DataCategory::Email,
        DataCategory::Phone,
        DataCategory::Iban,
        DataCategory::Card,
        DataCategory::NationalId,
        DataCategory::Ip,
        DataCategory::DateOfBirth,
        DataCategory::Credential,
        DataCategory::Name,
        DataCategory::Address,
        DataCategory::DeviceId,
        DataCategory::Location,
        DataCategory::OnlineId,
        DataCategory::VehiclePlate,
    ];

    /// Name used in policy files and removal counts.
    pub fn as_str(self) -> &'static str {
        match self {
            DataCategory::Email => "email",
            DataCategory::Phone => "phone",
            DataCategory::Iban => "iban",
            DataCategory::Card => "card",
            DataCategory::NationalId => "national-id",
            DataCategory::Ip => "ip",
            DataCategory::DateOfBirth => "date-of-birth",
            DataCategory::Credential => "credential",
            DataCategory::Name => "name",
            DataCategory::Address => "address",
            DataCategory::DeviceId => "device-id",
            DataCategory::Location => "location",
            DataCategory::OnlineId => "online-id",
            DataCategory::VehiclePlate => "vehicle-plate",
        }
    }

    /// The replacement text used by `redact`.
    pub fn label(self) -> &'static str {
        match self {
            DataCategory::Email => "[EMAIL]",
            DataCategory::Phone => "[PHONE]",
            DataCategory::Iban => "[IBAN]",
            DataCategory::Card => "[CARD]",
            DataCategory::NationalId => "[NATIONAL-ID]",
            DataCategory::Ip => "[IP]",
            DataCategory::DateOfBirth => "[DOB]",
            DataCategory::Credential => "[CREDENTIAL]",
            DataCategory::Name => "[NAME]",
            DataCategory::Address => "[ADDRESS]",
            DataCategory::DeviceId => "[DEVICE-ID]",
            DataCategory::Location => "[LOCATION]",
            DataCategory::OnlineId => "[ONLINE-ID]",
            DataCategory::VehiclePlate => "[PLATE]",
        }
    }

    /// What a DPO reads in `tamis policy explain`.
    pub fn describe(self) -> &'static str {
        match self {
            DataCategory::Email => "e-mail addresses",
            DataCategory::Phone => "phone numbers (EU national and international formats)",
            DataCategory::Iban => "bank account numbers (IBAN, mod-97 checked)",
            DataCategory::Card => "payment card numbers (Luhn and issuer checked)",
            DataCategory::NationalId => {
                "national identifiers and identity documents (FR NIR, IT codice fiscale, ES DNI/NIE, NL BSN, PL PESEL, BE national number, DE Steuer-ID, DE identity card and passport, UK NINO, FI henkilötunnus, SE personnummer, PT NIF, AT social-security number; passport, identity-card and driving-licence numbers after their name)"
            }
            DataCategory::Ip => "IP addresses of victims or unknown role",
            DataCategory::DateOfBirth => "dates of birth",
            DataCategory::Credential => {
                "passwords, user names, URL credentials and bearer secrets (session cookies, OAuth tokens, personal access tokens, API keys)"
            }
            DataCategory::Name => "names of persons",
            DataCategory::Address => "postal addresses",
            DataCategory::DeviceId => "device identifiers (IMEI, IMEISV, MAC addresses, advertising and device ids)",
            DataCategory::Location => "geographic positions (coordinate pairs, geo: URIs, map links)",
            DataCategory::OnlineId => "social-media handles and profile links of persons",
            DataCategory::VehiclePlate => "vehicle registration plates",
        }
    }
}

/// Ingest actions per detected data category (free text, attributes, URL parts).
#[derive(Clone, Debug, PartialEq)]
pub struct DetectRules(pub BTreeMap<DataCategory, Action>);

impl DetectRules {
    /// The action for `cat`; `redact` when the policy does not say (fail closed).
    pub fn action(&self, cat: DataCategory) -> Action {
        self.0.get(&cat).copied().unwrap_or(Action::Redact)
    }
}

/// What happens to the indicator value itself, by its role.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueRules {
    /// An e-mail at a consumer mail provider (a victim or a hijacked mailbox).
    pub email_consumer: Action,
    /// Any other e-mail address (the attacker's own domain): usually kept.
    pub email: Action,
    /// A phone number as value (often a spoofed, innocent subscriber).
    pub phone: Action,
    /// An IBAN as value (a mule account, often a recruited victim).
    pub iban: Action,
}

/// Precision kept on `first_seen` / `valid_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeMode {
    /// As submitted.
    Keep,
    /// Truncated to the day (UTC): a timestamp plus an amount can single out
    /// one customer's transaction.
    Day,
}

/// Per-field treatment of the free fields.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRules {
    /// The free-text description: the riskiest field.
    pub description: FieldMode,
    /// Attribute values (keys are kept; values scrubbed or the lot dropped).
    pub attributes: FieldMode,
    /// Tags (campaign names, families).
    pub tags: FieldMode,
    /// `first_seen` / `valid_until` precision.
    pub timestamps: TimeMode,
}

/// An attribute-key (or URL query-key) rule: a key whose name says what its
/// value is, so the whole value is treated as that data.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRule {
    /// Key patterns: a word of the key (split on `_`, `-`, `.`, camelCase)
    /// equal to the pattern, or starting with it when it ends in `*`.
    pub keys: Vec<String>,
    /// Data category counted and used as label.
    pub category: DataCategory,
    /// Action applied to the whole value.
    pub action: Action,
    /// Line in the policy file, for explanations.
    pub line: usize,
    /// `ingest.keys (line N)`: the rule's name in explanations.
    pub rule: String,
}

impl KeyRule {
    /// True when the key name matches one of the patterns.
    pub fn matches(&self, key: &str) -> bool {
        key_words(key).any(|w| self.matches_word(&w))
    }

    /// True when one word of a key matches one of the patterns.
    pub fn matches_word(&self, w: &str) -> bool {
        self.keys.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => w.starts_with(prefix),
            None => w == *p,
        })
    }
}

/// Last words of a key that say nothing by themselves: the word before
/// decides (`customer_id`, `victim_ip`, `holder_info`).
/// Query keys of OAuth and OpenID naming an application, never a person.
const OAUTH_APP_KEYS: &[&str] = &["client_id", "clientid", "client-id", "app_id", "appid"];

/// `DomainName`, `process_name`, `TargetDomainName`: the name of a thing,
/// not of a person (what it holds still goes through the detectors).
fn thing_name(last: &str, before: &str) -> bool {
    matches!(last, "name" | "names")
        && matches!(
            before,
            "domain"
                | "process"
                | "package"
                | "host"
                | "file"
                | "service"
                | "task"
                | "object"
                | "workstation"
                | "computer"
                | "machine"
                | "device"
                | "server"
                | "app"
                | "application"
                | "share"
                | "event"
                | "rule"
                | "policy"
                | "provider"
                | "channel"
                | "product"
                | "brand"
                | "malware"
                | "family"
                | "campaign"
                | "registrar"
                | "company"
                | "org"
                | "organisation"
                | "organization"
                | "network"
                | "zone"
                | "record"
                | "key"
                | "logon"
                | "printer"
                | "pipe"
                | "mutex"
                | "image"
                | "module"
                | "driver"
                | "job"
                | "cert"
                | "certificate"
                | "issuer"
                | "kit"
                | "bot"
                | "field"
                | "column"
                | "table"
                | "database"
                | "db"
        )
}

const GENERIC_KEY_WORDS: &[&str] = &[
    "id",
    "ids",
    "uid",
    "name",
    "names",
    "nr",
    "no",
    "num",
    "number",
    "numero",
    "nummer",
    "ref",
    "info",
    "details",
    "detail",
    "data",
    "ip",
    "ipv4",
    "ipv6",
    "addr",
    "address",
    "value",
    "identifier",
    "code",
    "key",
    "contact",
    // the same nouns in the other languages of the union (`asmens_kodas`,
    // `personas_kods`, `rodne_cislo`, `numer_klienta`)
    "numer",
    "número",
    "numéro",
    "kod",
    "kodas",
    "kods",
    "kood",
    "cislo",
    "číslo",
    "szam",
    "szám",
    "broj",
    "codigo",
    "código",
    "codice",
    // `birth_date`, `geburts_datum`, `fecha_nacimiento`: the date of what the
    // earlier word names
    "date",
    "datum",
    "year",
    "1",
    "2",
    "3",
];

/// Splits a key such as `customerEmail` or `victim_ip` into lower-case words.
fn key_words(key: &str) -> impl Iterator<Item = String> + '_ {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words.into_iter()
}

/// The ingest stage: what is removed before anything is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Ingest {
    /// Action per detected data category.
    pub detect: DetectRules,
    /// Role-aware rules for the indicator value.
    pub value: ValueRules,
    /// Treatment of free fields.
    pub fields: FieldRules,
    /// Attribute/query key-name rules, first match wins.
    pub keys: Vec<KeyRule>,
    /// Extra consumer mail domains on top of the built-in list.
    pub consumer_mail_domains: Vec<String>,
    /// Default-deny settings (used by fields in `default-deny` mode).
    pub deny: DenyRules,
    /// Exact key patterns to the index of the first rule listing them.
    pub key_exact: std::collections::HashMap<String, usize>,
    /// Prefix patterns (`customer*`) with their rule index, in file order.
    pub key_prefix: Vec<(String, usize)>,
}

impl Ingest {
    /// The first rule (in file order) matching one word of a key.
    fn rule_for_word(&self, w: &str) -> Option<&KeyRule> {
        let exact = self.key_exact.get(w).copied();
        let prefix = self.key_prefix.iter().filter(|(p, _)| w.starts_with(p.as_str())).map(|(_, i)| *i).min();
        let i = match (exact, prefix) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        self.keys.get(i)
    }
}

/// What one audience may receive.
#[derive(Clone, Debug, PartialEq)]
pub struct EgressView {
    /// Audience name (`law-enforcement`, `isps`, ...).
    pub audience: String,
    /// Indicator types it receives; empty means all.
    pub types: Vec<IndicatorType>,
    /// Categories it receives; empty means all except `illegal-content`,
    /// which must be listed explicitly (SPEC §7).
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
    /// One-line purpose written by the policy's author.
    pub description: String,
    /// The ingest stage.
    pub ingest: Ingest,
    /// Egress views by audience name.
    pub egress: BTreeMap<String, EgressView>,
}

// ---- the file format (serde, strict) ----

/// Reading a policy file into [`PolicyFile`] with every schema error: the
/// document is parsed once (spans kept), then each section and each rule
/// (`[ingest.detect]`, every `[[ingest.keys]]` entry, every egress view...)
/// is deserialized on its own, so a fault in one does not hide the others.
/// Within a section, a key whose value does not fit is reported and left
/// out, and the section read again, so every faulty key of it is reported
/// (a required key left out this way is not reported missing as well).
mod schema {
    use serde::Deserialize;
    use serde::de::{DeserializeOwned, IgnoredAny};
    use toml::Spanned;
    use toml::de::{DeTable, DeValue, ValueDeserializer};

    use super::{IngestFile as Ingest, PolicyError, PolicyFile as Policy, Src};

    /// The top level's keys (each section is read on its own; the names of
    /// these shapes are those of the whole, as serde's messages name them).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // only the keys are checked here
    struct PolicyFile {
        id: Spanned<String>,
        #[serde(default)]
        description: String,
        ingest: IgnoredAny,
        #[serde(default)]
        egress: Option<IgnoredAny>,
    }

    /// `[ingest]`'s keys.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // only the keys are checked here
    struct IngestFile {
        detect: IgnoredAny,
        value: IgnoredAny,
        fields: IgnoredAny,
        #[serde(default)]
        keys: Option<IgnoredAny>,
        #[serde(default)]
        consumer_mail_domains: Option<IgnoredAny>,
        #[serde(default)]
        deny: Option<IgnoredAny>,
    }

    /// The whole file, or `None` with its errors in `errors`.
    pub(super) fn read(src: &Src<'_>, errors: &mut Vec<PolicyError>) -> Option<Policy> {
        let root = match DeTable::parse(src.text) {
            Ok(r) => r,
            Err(e) => {
                errors.push(src.err(e.span(), e.message().trim().to_owned()));
                return None;
            }
        };
        let span = root.span();
        let root = Spanned::new(span, DeValue::Table(root.into_inner()));
        let before = errors.len();
        let top: Option<PolicyFile> = section(src, &root, errors);
        let ingest = get(&root, "ingest").and_then(|i| read_ingest(src, i, errors));
        let mut egress = std::collections::BTreeMap::new();
        match get(&root, "egress").map(|e| (e, e.get_ref())) {
            Some((_, DeValue::Table(views))) => {
                for (name, view) in views {
                    if let Some(v) = section(src, view, errors) {
                        egress.insert(name.get_ref().to_string(), v);
                    }
                }
            }
            // Not a table: serde's message says what was expected.
            Some((e, _)) => {
                let _: Option<std::collections::BTreeMap<String, IgnoredAny>> = section(src, e, errors);
            }
            None => {}
        }
        let (top, ingest) = (top?, ingest?);
        (errors.len() == before).then_some(Policy { id: top.id, description: top.description, ingest, egress })
    }

    /// `[ingest]`, each of its sections and rules on its own.
    fn read_ingest(src: &Src<'_>, ingest: &Spanned<DeValue<'_>>, errors: &mut Vec<PolicyError>) -> Option<Ingest> {
        let before = errors.len();
        let _: Option<IngestFile> = section(src, ingest, errors);
        let detect = part(src, ingest, "detect", errors);
        let value = part(src, ingest, "value", errors);
        let fields = part(src, ingest, "fields", errors);
        let consumer_mail_domains = part(src, ingest, "consumer_mail_domains", errors);
        let deny = part(src, ingest, "deny", errors);
        let mut keys = Vec::new();
        match get(ingest, "keys").map(|k| (k, k.get_ref())) {
            Some((_, DeValue::Array(rules))) => {
                keys.extend(rules.iter().filter_map(|r| section(src, r, errors)));
            }
            Some((k, _)) => {
                let _: Option<Vec<IgnoredAny>> = section(src, k, errors);
            }
            None => {}
        }
        if errors.len() != before {
            return None;
        }
        Some(Ingest {
            detect: detect?,
            value: value?,
            fields: fields?,
            keys,
            consumer_mail_domains: consumer_mail_domains.unwrap_or_default(),
            deny: deny.unwrap_or_default(),
        })
    }

    /// The section `name` of `v` read on its own (none when absent).
    fn part<T: DeserializeOwned>(
        src: &Src<'_>,
        v: &Spanned<DeValue<'_>>,
        name: &str,
        errors: &mut Vec<PolicyError>,
    ) -> Option<T> {
        get(v, name).and_then(|v| section(src, v, errors))
    }

    /// The value of `key` in the table `v` (none when `v` is not a table).
    fn get<'a, 'i>(v: &'a Spanned<DeValue<'i>>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        match v.get_ref() {
            DeValue::Table(t) => t.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn within(outer: &std::ops::Range<usize>, inner: &std::ops::Range<usize>) -> bool {
        outer.start <= inner.start && inner.end <= outer.end
    }

    /// `value` as a `T`, or `None` with every schema error of it in
    /// `errors`: a key whose name or value holds an error is left out and
    /// the value read again (at most as many times as it has keys).
    fn section<T: DeserializeOwned>(
        src: &Src<'_>,
        value: &Spanned<DeValue<'_>>,
        errors: &mut Vec<PolicyError>,
    ) -> Option<T> {
        let mut v = value.clone();
        let mut left_out: Vec<String> = Vec::new();
        loop {
            let e = match T::deserialize(ValueDeserializer::from(v.clone())) {
                Ok(t) => return left_out.is_empty().then_some(t),
                Err(e) => e,
            };
            let message = e.message().trim().to_owned();
            if left_out.iter().any(|k| message == format!("missing field `{k}`")) {
                return None;
            }
            errors.push(src.err(e.span(), message));
            let (Some(at), DeValue::Table(t)) = (e.span(), v.get_mut()) else { return None };
            let key =
                t.iter().find(|(k, val)| within(&k.span(), &at) || within(&val.span(), &at)).map(|(k, _)| k.clone());
            let key = key?;
            left_out.push(key.get_ref().to_string());
            t.remove(&key);
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    id: Spanned<String>,
    #[serde(default)]
    description: String,
    ingest: IngestFile,
    #[serde(default)]
    egress: BTreeMap<String, Spanned<EgressFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestFile {
    detect: DetectFile,
    value: ValueFile,
    fields: FieldsFile,
    #[serde(default)]
    keys: Vec<Spanned<KeyRuleFile>>,
    #[serde(default)]
    consumer_mail_domains: Vec<Spanned<String>>,
    #[serde(default)]
    deny: DenyFile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DenyFile {
    #[serde(default)]
    references: Vec<Spanned<String>>,
    #[serde(default)]
    words: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DetectFile {
    email: Option<Spanned<Action>>,
    phone: Option<Spanned<Action>>,
    iban: Option<Spanned<Action>>,
    card: Option<Spanned<Action>>,
    national_id: Option<Spanned<Action>>,
    ip: Option<Spanned<Action>>,
    date_of_birth: Option<Spanned<Action>>,
    credential: Option<Spanned<Action>>,
    name: Option<Spanned<Action>>,
    address: Option<Spanned<Action>>,
    device_id: Option<Spanned<Action>>,
    location: Option<Spanned<Action>>,
    online_id: Option<Spanned<Action>>,
    vehicle_plate: Option<Spanned<Action>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ValueFile {
    email_consumer: Spanned<Action>,
    email: Spanned<Action>,
    phone: Spanned<Action>,
    iban: Spanned<Action>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldsFile {
    description: FieldMode,
    attributes: FieldMode,
    tags: FieldMode,
    #[serde(default = "keep_time")]
    timestamps: TimeMode,
}

fn keep_time() -> TimeMode {
    TimeMode::Keep
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRuleFile {
    keys: Vec<String>,
    category: Spanned<String>,
    action: Spanned<Action>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EgressFile {
    #[serde(default)]
    types: Vec<IndicatorType>,
    #[serde(default)]
    categories: Vec<Category>,
    max_tlp: Tlp,
    #[serde(default)]
    min_confidence: u8,
    #[serde(default)]
    fields: Vec<Spanned<String>>,
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
        Policy::parse_all(file, text).map_err(|mut errors| errors.swap_remove(0))
    }

    /// As [`Policy::load`], with every error found (each rule of `id`,
    /// `[ingest.detect]`, `[ingest.value]`, `[[ingest.keys]]`, the consumer
    /// mail domains, `[ingest.deny]`, `[egress.*]`), in line order. Schema
    /// errors (an unknown key, a wrong type, a missing key) are collected
    /// section by section and rule by rule ([`schema`]); a file that is not
    /// valid TOML has one error, as the TOML reader stops there.
    pub fn load_all(path: &Path) -> Result<Policy, Vec<PolicyError>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![PolicyError { file: path.display().to_string(), line: 0, message: e.to_string() }])?;
        Policy::parse_all(&path.display().to_string(), &text)
    }

    /// Parses and checks a policy, collecting the errors of every section
    /// (never empty on `Err`).
    pub fn parse_all(file: &str, text: &str) -> Result<Policy, Vec<PolicyError>> {
        let src = Src { file, text };
        let mut errors = Vec::new();
        let Some(pf) = schema::read(&src, &mut errors) else {
            errors.sort_by_key(|e| e.line);
            return Err(errors);
        };

        let id = pf.id.get_ref();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            errors.push(src.err(Some(pf.id.span()), "`id` must be lower-case letters, digits and dashes".into()));
        }
        let ing = &pf.ingest;
        // Each section reports every error it finds and goes on.
        let detect = src.detect(&ing.detect, &mut errors);
        let value = src.value(&ing.value, &mut errors);
        let keys = src.keys(&ing.keys, &mut errors);
        let consumer_mail_domains = src.consumer_domains(&ing.consumer_mail_domains, &mut errors);
        let deny = src.deny(&ing.deny, &mut errors);
        let egress = src.egress(&pf.egress, &mut errors);
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Err(errors);
        }
        let fields = FieldRules {
            description: ing.fields.description,
            attributes: ing.fields.attributes,
            tags: ing.fields.tags,
            timestamps: ing.fields.timestamps,
        };
        let hash = hex::encode(&Sha256::digest(text.as_bytes())[..8]);
        Ok(Policy {
            id: pf.id.into_inner(),
            hash,
            text: text.to_owned(),
            description: pf.description,
            ingest: Ingest::new(detect, value, fields, keys, consumer_mail_domains, deny),
            egress,
        })
    }

    /// The key rule for an attribute or query key. The last word of the key
    /// decides first (`account_holder` is a holder's name, `customer_email`
    /// an e-mail), then the words before it; among rules, file order.
    pub fn key_rule(&self, key: &str) -> Option<&KeyRule> {
        // OAuth's `client_id` names an application (the attacker's, in a
        // consent-phishing link), not a client of the bank
        if OAUTH_APP_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return None;
        }
        if key.bytes().all(|b| b.is_ascii_lowercase()) {
            // one plain word: no splitting, no allocation
            return self.ingest.rule_for_word(key);
        }
        if key.is_ascii()
            && let Some(r) = self.key_rule_ascii(key)
        {
            return r;
        }
        let words: Vec<String> = key_words(key).collect();
        let last = words.last()?;
        if words.len() >= 2 && thing_name(last, &words[words.len() - 2]) {
            return None;
        }
        if let Some(r) = self.ingest.rule_for_word(last) {
            return Some(r);
        }
        // earlier words count only when the last one is a generic noun
        // (`customer_id`, `victim_ip`), not for `client_action`
        if !GENERIC_KEY_WORDS.contains(&last.as_str()) {
            return None;
        }
        words.iter().rev().skip(1).find_map(|w| self.ingest.rule_for_word(w))
    }

    /// [`Policy::key_rule`] of an ASCII key without allocating: the words
    /// of [`key_words`] as ranges of a lower-cased copy on the stack.
    /// `None` when the key is too long for the buffers (the caller then
    /// splits it the general way).
    fn key_rule_ascii(&self, key: &str) -> Option<Option<&KeyRule>> {
        let b = key.as_bytes();
        if b.len() > 64 {
            return None;
        }
        let mut low = [0u8; 64];
        low[..b.len()].copy_from_slice(b);
        low.make_ascii_lowercase();
        let mut words = [(0usize, 0usize); 16];
        let mut n = 0;
        let mut start: Option<usize> = None;
        let mut prev_lower = false;
        for (i, &c) in b.iter().enumerate().chain(std::iter::once((b.len(), &b' '))) {
            let alnum = i < b.len() && c.is_ascii_alphanumeric();
            let camel = alnum && c.is_ascii_uppercase() && prev_lower;
            if let Some(s) = start
                && (!alnum || camel)
            {
                *words.get_mut(n)? = (s, i);
                n += 1;
                start = None;
            }
            if alnum && start.is_none() {
                start = Some(i);
            }
            prev_lower = alnum && (c.is_ascii_lowercase() || c.is_ascii_digit());
        }
        let word = |r: &(usize, usize)| std::str::from_utf8(&low[r.0..r.1]).unwrap_or_default();
        let Some(last) = n.checked_sub(1).map(|k| word(&words[k])) else {
            return Some(None);
        };
        if n >= 2 && thing_name(last, word(&words[n - 2])) {
            return Some(None);
        }
        if let Some(r) = self.ingest.rule_for_word(last) {
            return Some(Some(r));
        }
        // earlier words count only when the last one is a generic noun
        if !GENERIC_KEY_WORDS.contains(&last) {
            return Some(None);
        }
        Some(words[..n - 1].iter().rev().find_map(|r| self.ingest.rule_for_word(word(r))))
    }

    /// The policy in plain language for a DPO (SPEC §6).
    pub fn explain(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "Policy {} (version {})", self.id, self.version());
        if !self.description.is_empty() {
            let _ = writeln!(s, "{}", self.description);
        }
        self.explain_ingest(&mut s);
        self.explain_fields(&mut s);
        self.explain_egress(&mut s);
        let _ = writeln!(
            s,
            "\nAny detector error or undecodable value removes the field (fail closed). Only counts of removals are logged, never values."
        );
        s
    }

    fn explain_ingest(&self, s: &mut String) {
        use std::fmt::Write;
        let ing = &self.ingest;
        let _ = writeln!(s, "\n1. Before anything is stored (ingest)\n");
        let _ = writeln!(s, "Personal data found in free text, attribute values, tags and inside URLs:");
        for cat in DataCategory::ALL {
            let _ = writeln!(s, "  - {}: {}", cat.describe(), action_phrase(ing.detect.action(cat), cat));
        }
        let _ = writeln!(s, "\nThe indicator value itself (the attacker's infrastructure is kept):");
        let _ = writeln!(
            s,
            "  - e-mail at a consumer mail provider (gmail.com, orange.fr, ...): {}",
            value_phrase(ing.value.email_consumer)
        );
        let _ = writeln!(s, "  - other e-mail (attacker-registered domain): {}", value_phrase(ing.value.email));
        let _ = writeln!(s, "  - phone number: {}", value_phrase(ing.value.phone));
        let _ = writeln!(s, "  - IBAN: {}", value_phrase(ing.value.iban));
        let _ = writeln!(
            s,
            "  - URL: scheme and host kept; user name and password removed; personal data in path, query and fragment (also percent-, base64- and hex-encoded) replaced as above; a first name joined to another word in a path segment or file name (anna.kowalska, Anna_Kowalska.pdf), ~user and @handle segments become [NAME], the rest of the path is kept"
        );
        let _ = writeln!(s, "  - domains, IP addresses, hashes, bitcoin addresses: kept");
    }

    fn explain_fields(&self, s: &mut String) {
        use std::fmt::Write;
        let ing = &self.ingest;
        let _ = writeln!(s, "\nFields:");
        for (name, mode) in [
            ("description (free text)", ing.fields.description),
            ("attributes", ing.fields.attributes),
            ("tags", ing.fields.tags),
        ] {
            let _ = writeln!(s, "  - {name}: {}", mode.phrase());
        }
        let _ = writeln!(
            s,
            "  - first_seen / valid_until: {}",
            match ing.fields.timestamps {
                TimeMode::Keep => "kept as submitted",
                TimeMode::Day => "generalised to the day (UTC)",
            }
        );
        let _ = writeln!(s, "  - unrecognised fields and nested attribute values: never stored");
        if !ing.deny.references.is_empty() {
            let _ = writeln!(s, "\nCase and ticket references kept by default-deny (whole token, any case):");
            for r in &ing.deny.references {
                let _ = writeln!(s, "  - {r}");
            }
        }
        if !ing.deny.words.is_empty() {
            let _ = writeln!(s, "\nWords of this deployment kept by default-deny: {}", ing.deny.words.join(", "));
        }
        if !ing.keys.is_empty() {
            let _ = writeln!(s, "\nAttributes and URL parameters whose name says what they hold:");
            for r in &ing.keys {
                let _ = writeln!(
                    s,
                    "  - names like {}: whole value treated as {}, {}",
                    r.keys.join(", "),
                    r.category.describe(),
                    action_phrase(r.action, r.category)
                );
            }
        }
    }

    fn explain_egress(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(s, "\n2. Who receives what (egress)\n");
        if self.egress.is_empty() {
            let _ = writeln!(s, "  No audience receives anything under this policy.");
        }
        for v in self.egress.values() {
            let types = if v.types.is_empty() {
                "all types".to_owned()
            } else {
                v.types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            };
            let cats = if v.categories.is_empty() {
                "all categories except illegal content".to_owned()
            } else {
                v.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
            };
            let fields = if v.fields.is_empty() { "no free fields".to_owned() } else { v.fields.join(", ") };
            let _ = writeln!(
                s,
                "  - {}: {types}; {cats}; up to TLP:{}; confidence at least {}; with {fields}",
                v.audience,
                v.max_tlp.as_str().to_uppercase(),
                v.min_confidence
            );
        }
    }
}

impl Ingest {
    fn new(
        detect: DetectRules,
        value: ValueRules,
        fields: FieldRules,
        keys: Vec<KeyRule>,
        consumer_mail_domains: Vec<String>,
        deny: DenyRules,
    ) -> Ingest {
        let mut key_exact = std::collections::HashMap::new();
        for (i, r) in keys.iter().enumerate() {
            for k in r.keys.iter().filter(|k| !k.ends_with('*')) {
                key_exact.entry(k.clone()).or_insert(i);
            }
        }
        let key_prefix = keys
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.keys.iter().filter_map(move |k| k.strip_suffix('*').map(|p| (p.to_owned(), i))))
            .collect();
        Ingest { detect, value, fields, keys, consumer_mail_domains, deny, key_exact, key_prefix }
    }
}

/// The policy file being parsed: turns spans into `file:line` errors.
struct Src<'a> {
    file: &'a str,
    text: &'a str,
}

/// Strings a case-reference pattern must not match: a pattern that lets
/// plain words, names or bare numbers through would open the filter.
const REFERENCE_PROBES: &[&str] = &["anna", "Kowalska", "anna.kowalska", "12345678", "0612345678", "a", "1"];

impl Src<'_> {
    fn err(&self, span: Option<std::ops::Range<usize>>, message: String) -> PolicyError {
        PolicyError {
            file: self.file.to_owned(),
            line: span.map(|s| line_of(self.text, s.start)).unwrap_or(1),
            message,
        }
    }

    fn detect(&self, d: &DetectFile, errors: &mut Vec<PolicyError>) -> DetectRules {
        let mut detect = BTreeMap::new();
        for (cat, a) in [
            (DataCategory::Email, &d.email),
            (DataCategory::Phone, &d.phone),
            (DataCategory::Iban, &d.iban),
            (DataCategory::Card, &d.card),
            (DataCategory::NationalId, &d.national_id),
            (DataCategory::Ip, &d.ip),
            (DataCategory::DateOfBirth, &d.date_of_birth),
            (DataCategory::Credential, &d.credential),
            (DataCategory::Name, &d.name),
            (DataCategory::Address, &d.address),
            (DataCategory::DeviceId, &d.device_id),
            (DataCategory::Location, &d.location),
            (DataCategory::OnlineId, &d.online_id),
            (DataCategory::VehiclePlate, &d.vehicle_plate),
        ] {
            let Some(a) = a else {
                errors.push(self.err(
                    self.text.find("[ingest.detect]").map(|at| at..at),
                    format!(
                        "[ingest.detect] must give an action for `{}` (write it out, even if redact)",
                        cat.as_str()
                    ),
                ));
                continue;
            };
            if *a.get_ref() == Action::Keep {
                errors.push(
                    self.err(
                        Some(a.span()),
                        format!("`{}` is personal data: `keep` is not allowed here", cat.as_str()),
                    ),
                );
                continue;
            }
            if *a.get_ref() == Action::Generalise && !matches!(cat, DataCategory::Ip | DataCategory::DateOfBirth) {
                errors.push(self.err(
                    Some(a.span()),
                    format!("`generalise` only applies to `ip` and `date-of-birth`, not `{}`", cat.as_str()),
                ));
                continue;
            }
            detect.insert(cat, *a.get_ref());
        }
        DetectRules(detect)
    }

    fn value(&self, v: &ValueFile, errors: &mut Vec<PolicyError>) -> ValueRules {
        for (name, a, allowed) in [
            (
                "email-consumer",
                &v.email_consumer,
                &[Action::Pseudonymise, Action::Escrow, Action::Drop, Action::Mask][..],
            ),
            ("email", &v.email, &[Action::Keep, Action::Pseudonymise, Action::Escrow, Action::Drop][..]),
            ("phone", &v.phone, &[Action::Keep, Action::Pseudonymise, Action::Escrow, Action::Drop, Action::Mask][..]),
            ("iban", &v.iban, &[Action::Keep, Action::Pseudonymise, Action::Escrow, Action::Drop, Action::Mask][..]),
        ] {
            if !allowed.contains(a.get_ref()) {
                let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                errors.push(self.err(
                    Some(a.span()),
                    format!("[ingest.value] `{name}` cannot be `{}` (one of: {})", a.get_ref(), names.join(", ")),
                ));
            }
        }
        ValueRules {
            email_consumer: *v.email_consumer.get_ref(),
            email: *v.email.get_ref(),
            phone: *v.phone.get_ref(),
            iban: *v.iban.get_ref(),
        }
    }

    fn keys(&self, rules: &[Spanned<KeyRuleFile>], errors: &mut Vec<PolicyError>) -> Vec<KeyRule> {
        let mut keys = Vec::new();
        for r in rules {
            let span = r.span();
            let r = r.get_ref();
            let category = DataCategory::ALL.iter().copied().find(|c| c.as_str() == r.category.get_ref());
            if category.is_none() {
                errors.push(self.err(
                    Some(r.category.span()),
                    format!(
                        "unknown data category `{}` (one of: {})",
                        r.category.get_ref(),
                        DataCategory::ALL.map(|c| c.as_str()).join(", ")
                    ),
                ));
            }
            let keeps = *r.action.get_ref() == Action::Keep;
            if keeps {
                errors
                    .push(self.err(Some(r.action.span()), "a key rule cannot `keep`: remove the rule instead".into()));
            }
            let bad = |k: &String| {
                k.is_empty() || k == "*" || k.trim_end_matches('*').contains('*') || k.chars().any(|c| c.is_uppercase())
            };
            let bad_keys = r.keys.is_empty() || r.keys.iter().any(bad);
            if bad_keys {
                errors.push(self.err(
                    Some(span.clone()),
                    "`keys` must be non-empty lower-case words, optionally ending in `*`".into(),
                ));
            }
            let (Some(category), false, false) = (category, keeps, bad_keys) else { continue };
            let line = line_of(self.text, span.start);
            keys.push(KeyRule {
                keys: r.keys.clone(),
                category,
                action: *r.action.get_ref(),
                line,
                rule: format!("ingest.keys (line {line})"),
            });
        }
        keys
    }

    fn consumer_domains(&self, domains: &[Spanned<String>], errors: &mut Vec<PolicyError>) -> Vec<String> {
        let mut out = Vec::new();
        for dom in domains {
            let s = dom.get_ref().to_ascii_lowercase();
            if !s.contains('.') || s.contains(['@', '/', ' ']) {
                errors.push(self.err(Some(dom.span()), "not a mail domain".into()));
                continue;
            }
            out.push(s);
        }
        out
    }

    /// `[ingest.deny]`: each reference pattern must compile and must not
    /// let plain words, names or bare numbers through; words are single
    /// lower-case words.
    fn deny(&self, d: &DenyFile, errors: &mut Vec<PolicyError>) -> DenyRules {
        let mut rules = DenyRules::default();
        for r in &d.references {
            let p = r.get_ref();
            let re = match regex::Regex::new(&format!("(?i)^(?:{p})$")) {
                Ok(re) => re,
                Err(e) => {
                    let first = e.to_string().lines().last().unwrap_or("").trim().to_owned();
                    errors.push(
                        self.err(Some(r.span()), format!("[ingest.deny] reference pattern does not compile: {first}")),
                    );
                    continue;
                }
            };
            if let Some(probe) = REFERENCE_PROBES.iter().find(|p| re.is_match(p)) {
                errors.push(self.err(
                    Some(r.span()),
                    format!(
                        "[ingest.deny] reference pattern also matches `{probe}`: a reference needs a fixed prefix or shape (like `OP-[A-Z0-9]{{6,8}}`)"
                    ),
                ));
                continue;
            }
            rules.references.push(p.clone());
        }
        for w in &d.words {
            let s = w.get_ref();
            if s.is_empty() || !s.chars().all(|c| c.is_alphanumeric() || c == '-') || s.to_lowercase() != *s {
                errors.push(self.err(Some(w.span()), "[ingest.deny] `words` are single lower-case words".into()));
                continue;
            }
            rules.words.push(s.clone());
        }
        rules
    }

    fn egress(
        &self,
        views: &BTreeMap<String, Spanned<EgressFile>>,
        errors: &mut Vec<PolicyError>,
    ) -> BTreeMap<String, EgressView> {
        let mut egress = BTreeMap::new();
        for (audience, view) in views {
            let span = view.span();
            let view = view.get_ref();
            if view.min_confidence > 100 {
                errors.push(self.err(Some(span), "`min_confidence` is 0 to 100".into()));
            }
            let mut fields = Vec::new();
            for f in &view.fields {
                if !matches!(f.get_ref().as_str(), "description" | "attributes" | "tags") {
                    errors.push(self.err(
                        Some(f.span()),
                        format!("unknown field `{}` (one of: description, attributes, tags)", f.get_ref()),
                    ));
                    continue;
                }
                fields.push(f.get_ref().clone());
            }
            egress.insert(
                audience.clone(),
                EgressView {
                    audience: audience.clone(),
                    types: view.types.clone(),
                    categories: view.categories.clone(),
                    max_tlp: view.max_tlp,
                    min_confidence: view.min_confidence,
                    fields,
                },
            );
        }
        egress
    }
}

/// What a detection action does to personal data of `cat`, in words.
pub fn action_phrase(a: Action, cat: DataCategory) -> String {
    match a {
        Action::Keep => "kept".into(),
        Action::Drop => "the whole field is removed".into(),
        Action::Redact => format!("replaced by {}", cat.label()),
        Action::Mask => "masked (only a non-identifying prefix is kept)".into(),
        Action::Generalise => match cat {
            DataCategory::Ip => "generalised (IPv4 to /24, IPv6 to /48)".into(),
            DataCategory::DateOfBirth => "generalised to the year".into(),
            _ => format!("replaced by {}", cat.label()),
        },
        Action::Pseudonymise => "replaced by a keyed pseudonym (same value, same token; not reversible)".into(),
        Action::Escrow => "sealed for the escrow key holder (reversible only on a legal order)".into(),
    }
}

/// What a value rule does to an indicator value, in words.
pub fn value_phrase(a: Action) -> &'static str {
    match a {
        Action::Keep => "kept",
        Action::Drop => "indicator refused",
        Action::Redact => "redacted",
        Action::Mask => "masked (country or prefix only)",
        Action::Generalise => "generalised",
        Action::Pseudonymise => "replaced by a keyed pseudonym so reports of the same value correlate",
        Action::Escrow => "sealed for the escrow key holder",
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_words_split_snake_and_camel_case() {
        let w: Vec<String> = key_words("customerEmail_2").collect();
        assert_eq!(w, ["customer", "email", "2"]);
        let w: Vec<String> = key_words("victim-ip").collect();
        assert_eq!(w, ["victim", "ip"]);
    }

    #[test]
    fn key_rule_ascii_splits_like_key_words() {
        let p = Policy::parse("default", &default_text()).unwrap();
        for key in [
            "customerEmail_2",
            "victim-ip",
            "customer_id",
            "client_action",
            "USER_NAME",
            "holderName",
            "x",
            "__",
            "ip",
            "email2",
            "Victim_IP_Address",
            "a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_email",
        ] {
            let words: Vec<String> = key_words(key).collect();
            let general = words.last().and_then(|last| {
                p.ingest.rule_for_word(last).or_else(|| {
                    GENERIC_KEY_WORDS
                        .contains(&last.as_str())
                        .then(|| words.iter().rev().skip(1).find_map(|w| p.ingest.rule_for_word(w)))
                        .flatten()
                })
            });
            let fast = p.key_rule_ascii(key);
            if let Some(fast) = fast {
                assert_eq!(fast.map(|r| r.line), general.map(|r| r.line), "{key}");
            } else {
                assert!(words.len() > 16 || key.len() > 64, "{key}");
            }
        }
    }

    #[test]
    fn key_rule_matches_words_and_prefixes() {
        let r = KeyRule {
            keys: vec!["holder".into(), "victim*".into()],
            category: DataCategory::Name,
            action: Action::Redact,
            line: 1,
            rule: String::new(),
        };
        assert!(r.matches("account_holder"));
        assert!(r.matches("victims_ip"));
        assert!(!r.matches("placeholder"));
        assert!(!r.matches("malware_family"));
    }

    fn default_text() -> String {
        std::fs::read_to_string("policies/default.toml").unwrap()
    }

    #[test]
    fn fields_take_default_deny_scrub_detect_or_drop() {
        let p = Policy::parse("default.toml", &default_text()).unwrap();
        assert_eq!(p.ingest.fields.description, FieldMode::DefaultDeny);
        assert!(p.ingest.deny.references.iter().any(|r| r.starts_with("OP-")));
        let t = default_text().replace("attributes = \"default-deny\"", "attributes = \"detect\"");
        let p = Policy::parse("p.toml", &t).unwrap();
        assert_eq!(p.ingest.fields.attributes, FieldMode::Scrub, "`detect` is the old `scrub`");
        let t = default_text().replace("tags = \"default-deny\"", "tags = \"deny-all\"");
        let e = Policy::parse("p.toml", &t).unwrap_err();
        let line = t.lines().position(|l| l.starts_with("tags = ")).unwrap() + 1;
        assert_eq!(e.line, line, "{e}");
    }

    #[test]
    fn reference_patterns_are_checked_with_their_line() {
        let t = default_text();
        let line = t.lines().position(|l| l.trim_start().starts_with("\"OP-")).unwrap() + 1;
        for (bad, what) in [("(OP-[A-Z", "does not compile"), (".*", "also matches"), ("[a-z]+", "also matches")] {
            let t2 = t.replacen("\"OP-[A-Z0-9]{5,10}\"", &format!("{bad:?}"), 1);
            let e = Policy::parse("p.toml", &t2).unwrap_err();
            assert_eq!((e.file.as_str(), e.line), ("p.toml", line), "{e}");
            assert!(e.message.contains(what), "{e}");
        }
        let t2 = t.replacen("words = []", "words = [\"Tamis Bank\"]", 1);
        assert!(Policy::parse("p.toml", &t2).unwrap_err().message.contains("single lower-case words"));
    }

    #[test]
    fn explain_describes_default_deny_and_the_references() {
        let e = Policy::parse("default.toml", &default_text()).unwrap().explain();
        assert!(e.contains("default-deny: after the personal data above is removed"), "{e}");
        assert!(e.contains("[WORD], [TOKEN], [NUMBER] or [NAME]"));
        assert!(e.contains("Case and ticket references kept by default-deny"));
        assert!(e.contains("OP-[A-Z0-9]{5,10}"));
    }

    #[test]
    fn line_of_counts_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
