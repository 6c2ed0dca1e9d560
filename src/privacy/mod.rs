//! The sanitiser: turns a [`RawIndicator`] into a [`SanitisedIndicator`]
//! according to a [`Policy`] (SPEC §6). Pure: no I/O, no clock.
//!
//! Role awareness: the indicator value is the intelligence and is kept,
//! except values that belong to a person (an e-mail at a consumer mail
//! provider, a phone number, an IBAN), which follow the policy's value
//! rules. URLs keep scheme, host and structure; personal data found in the
//! path, query or fragment (also percent-, base64- or hex-encoded) is
//! replaced, and credentials in the authority are removed. Free fields are
//! scrubbed by the detectors of [`scan`] or dropped, per policy.
//!
//! Fail closed: a value that cannot be decoded or an action that cannot be
//! carried out (escrow without randomness) removes the field, never passes it.

pub mod checks;
pub mod deny;
pub mod escrow;
mod keyed;
mod lexicon;
mod mojibake;
pub mod phone;
pub mod scan;
pub mod vocab;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;

use hmac::{KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::model::{IndicatorType, RawIndicator, Removals, SanitisedIndicator};
use crate::policy::{Action, DataCategory, FieldMode, Policy, PolicyError};
use scan::{Detectors, Found, RecordCtx, Scope, SpanKind};

/// Secret material the sanitiser needs.
#[derive(Clone)]
pub struct Keys {
    /// HMAC-SHA-256 key for pseudonyms (same input, same token).
    pub pseudonym: [u8; 32],
    /// X25519 public key for escrow (the server never holds the private half).
    pub escrow_public: [u8; 32],
}

impl Keys {
    /// Random keys for a dry run: pseudonyms link only within the run, and
    /// escrowed values can never be reopened.
    pub fn ephemeral() -> Result<Keys, escrow::EscrowError> {
        let mut pseudonym = [0u8; 32];
        getrandom::fill(&mut pseudonym).map_err(|_| escrow::EscrowError::Random)?;
        let (_, escrow_public) = escrow::generate_keypair()?;
        Ok(Keys { pseudonym, escrow_public })
    }
}

/// A reason the sanitiser refuses an indicator (the value is never echoed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Refusal {
    /// The field at fault (`value`).
    pub field: String,
    /// Why, without the value.
    pub reason: String,
}

/// One line of a dry-run explanation: which rule did what to which field.
/// Never holds the removed value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Field path: `value`, `value.query.email`, `description`, `attributes.customer_email`, `tags[0]`.
    pub field: String,
    /// The policy rule that applied (`ingest.detect.email`, `ingest.keys (line 60)`, ...).
    pub rule: String,
    /// Data category (`email`, `phone`, ..., `free-text`, `unknown-field`).
    pub category: String,
    /// Action taken.
    pub action: String,
    /// How many times, in this field.
    pub count: u32,
}

/// Collects removal counts and, in dry-run, explanations.
struct Ctx<'a> {
    removals: &'a mut Removals,
    explain: Option<&'a mut Vec<Explanation>>,
}

impl Ctx<'_> {
    /// A field path for explanations; not built when nobody reads it.
    fn field(&self, f: impl FnOnce() -> String) -> String {
        if self.explain.is_some() { f() } else { String::new() }
    }

    fn note(&mut self, field: &str, rule: &str, category: &str, action: &str) {
        self.note_n(field, rule, category, action, 1);
    }

    fn note_n(&mut self, field: &str, rule: &str, category: &str, action: &str, n: u32) {
        if n == 0 {
            return;
        }
        self.removals.add_n(category, action, u64::from(n));
        if let Some(ex) = self.explain.as_deref_mut() {
            if let Some(e) = ex
                .iter_mut()
                .find(|e| e.field == field && e.rule == rule && e.category == category && e.action == action)
            {
                e.count += n;
            } else {
                ex.push(Explanation {
                    field: field.to_owned(),
                    rule: rule.to_owned(),
                    category: category.to_owned(),
                    action: action.to_owned(),
                    count: n,
                });
            }
        }
    }
}

/// A policy compiled for sanitising; cheap to share behind an `Arc`.
pub struct Sanitiser {
    /// The policy this sanitiser applies (its version goes on every record).
    policy: Arc<Policy>,
    /// Pseudonym and escrow keys of the deployment.
    keys: Keys,
    /// Detectors compiled once per policy.
    det: Detectors,
    /// Consumer mail providers (built-in list plus the policy's).
    consumer: HashSet<String, std::hash::BuildHasherDefault<scan::Fnv>>,
    /// Rule names per category, precomputed (`ingest.detect.email`).
    detect_rule: BTreeMap<DataCategory, String>,
    /// HMAC state with the pseudonym key already absorbed (cloned per token).
    mac: hmac::Hmac<Sha256>,
    /// The default-deny rules (case references, deployment words).
    deny: deny::Deny,
}

/// Which free field a text belongs to: decides the default-deny setting
/// and the rule named in explanations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Free {
    Description,
    Attribute,
    Tag,
    /// Not a free field (URL parts): detectors only.
    None,
}

/// Key words that name the victim's side of a connection: they outweigh an
/// infrastructure word of the same key (`infected_host`, `victim_server`).
const VICTIM_KEY_WORDS: &[&str] = &[
    "infected",
    "infiziert",
    "infizierter",
    "infecte",
    "infectee",
    "infecté",
    "infectée",
    "infectado",
    "infectada",
    "infetto",
    "infetta",
    "geinfecteerd",
    "geinfecteerde",
    "zainfekowany",
    "zainfekowana",
    "infetado",
    "infetada",
    "victim",
    "victime",
    "victima",
    "víctima",
    "vittima",
    "opfer",
    "slachtoffer",
    "ofiara",
    "ofiary",
    "vitima",
    "vítima",
    "compromised",
    "kompromittiert",
    "compromis",
    "comprometido",
    "compromesso",
    "gecompromitteerd",
    "bot",
    "zombie",
    "client",
    "customer",
    "kunde",
    "kunden",
    "klient",
    "klienta",
    "cliente",
    "klant",
    "subscriber",
    "abonne",
    "abonné",
    "user",
    "home",
];

/// Key words naming the attacker's tool (its kit, malware, botnet): a
/// one-word value under them is that tool's name. Not `family` alone
/// (`familia` is also a person's family).
const TOOL_KEY_WORDS: &[&str] = &[
    "kit",
    "phishkit",
    "baukasten",
    "malware",
    "schadsoftware",
    "tool",
    "loader",
    "stealer",
    "botnet",
    "ransomware",
    "rat",
    "trojan",
    "trojaner",
];

/// The address in a query value whose key names a client's address (`ip`,
/// `client_ip`, `remote_addr`), not a server's (`c2_ip`, `dst`).
fn client_address(key: &str, v: &str) -> Option<IpAddr> {
    let words: Vec<String> = key
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let names_address = words.iter().any(|w| {
        matches!(
            w.as_str(),
            "ip" | "ipaddr" | "ipaddress" | "addr" | "clientip" | "remoteip" | "userip" | "realip" | "srcip" | "myip"
        )
    });
    if !names_address || words.iter().any(|w| lexicon::attacker_key_words().contains(&w.as_str())) {
        return None;
    }
    address_of(percent_decode(v, true)?.trim())
}

/// A `+` in the run of local-part characters right before an `@` (or `%40`).
fn plus_tagged_mail(raw: &str) -> bool {
    let Some(at) = raw.find('@').or_else(|| raw.find("%40")) else {
        return false;
    };
    let local = raw[..at].rsplit(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))).next();
    local.is_some_and(|l| l.contains('+') && !l.starts_with('+'))
}

/// The address of `v` when it is one, alone or with its port
/// (`79.223.15.38:18225`, `[2a01:cb00::1]:443`).
fn address_of(v: &str) -> Option<IpAddr> {
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, port) = v.rsplit_once(':')?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.parse::<IpAddr>().ok().filter(|ip| ip.is_ipv4() || v.starts_with('['))
}

impl Sanitiser {
    pub fn new(policy: Arc<Policy>, keys: Keys) -> Result<Self, PolicyError> {
        let det = Detectors::new().map_err(|m| PolicyError {
            file: policy.id.clone(),
            line: 0,
            message: format!("detectors failed to compile: {m}"),
        })?;
        let mut consumer: HashSet<String, _> =
            lexicon::consumer_mail_domains().iter().map(|s| (*s).to_owned()).collect();
        consumer.extend(policy.ingest.consumer_mail_domains.iter().cloned());
        let detect_rule = DataCategory::ALL.iter().map(|c| (*c, format!("ingest.detect.{}", c.as_str()))).collect();
        let mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&keys.pseudonym).expect("any key length");
        let deny = deny::Deny::new(&policy.ingest.deny.references, &policy.ingest.deny.words).map_err(|e| {
            PolicyError { file: policy.id.clone(), line: 0, message: format!("[ingest.deny] does not compile: {e}") }
        })?;
        Ok(Sanitiser { mac, policy, keys, det, consumer, detect_rule, deny })
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// True when `domain` is a consumer mail provider or a subdomain of one
    /// (`email.t-com.hr`).
    pub fn is_consumer_domain(&self, domain: &str) -> bool {
        let low;
        let d = if domain.bytes().any(|b| b.is_ascii_uppercase()) {
            low = domain.to_ascii_lowercase();
            low.as_str()
        } else {
            domain
        };
        self.consumer.contains(d) || d.match_indices('.').any(|(i, _)| self.consumer.contains(&d[i + 1..]))
    }

    /// Sanitises one indicator, adding what it removed to `removals`.
    pub fn sanitise(&self, raw: RawIndicator, removals: &mut Removals) -> Result<SanitisedIndicator, Refusal> {
        // Fail closed: a detector bug refuses the indicator, it never passes
        // it through. (The process's panic hook should not print payloads.)
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(raw, &mut Ctx { removals, explain: None })))
            .unwrap_or_else(|_| {
                Err(Refusal {
                    field: "indicator".into(),
                    reason: "internal privacy-filter error; refused (fail closed)".into(),
                })
            })
    }

    /// As [`Sanitiser::sanitise`], and also says which rule did what to
    /// which field (for dry runs; never the removed values).
    pub fn sanitise_explained(
        &self,
        raw: RawIndicator,
        removals: &mut Removals,
    ) -> Result<(SanitisedIndicator, Vec<Explanation>), Refusal> {
        let mut ex = Vec::new();
        let s = self.run(raw, &mut Ctx { removals, explain: Some(&mut ex) })?;
        Ok((s, ex))
    }

    fn run(&self, mut raw: RawIndicator, ctx: &mut Ctx) -> Result<SanitisedIndicator, Refusal> {
        // a URL value is parsed once, for its host and for scrubbing
        let url = if raw.kind == IndicatorType::Url { url::Url::parse(&raw.value).ok() } else { None };
        let rec = self.record_ctx(&raw, url.as_ref());
        let (value, value_form) = self.value_of(&raw, url.as_ref(), &rec, ctx)?;
        let description = self.description(&raw, &rec, ctx);
        let attributes = self.attributes(&raw, &rec, ctx);
        let tags = self.tags(&raw, &rec, ctx);
        let (first_seen, valid_until) = self.timestamps(&raw, ctx);
        // a value kept as written moves over (no copy)
        let value = value.unwrap_or_else(|| std::mem::take(&mut raw.value));
        Ok(SanitisedIndicator {
            kind: raw.kind,
            value,
            value_form,
            category: raw.category,
            confidence: raw.confidence,
            tlp: raw.tlp,
            first_seen,
            valid_until,
            description,
            attributes,
            tags,
        })
    }

    /// The indicator value by its role (SPEC §6): URLs scrubbed, personal
    /// e-mails, phones and IBANs per `[ingest.value]`, the rest kept
    /// (`None`: the value as written).
    fn value_of(
        &self,
        raw: &RawIndicator,
        url: Option<&url::Url>,
        rec: &RecordCtx,
        ctx: &mut Ctx,
    ) -> Result<(Option<String>, Option<String>), Refusal> {
        let ing = &self.policy.ingest;
        match raw.kind {
            IndicatorType::Url => {
                let v = self.scrub_url_parsed(&raw.value, url, rec, "value", ctx).map_err(|()| Refusal {
                    field: "value".into(),
                    reason: "URL could not be decoded for privacy filtering".into(),
                })?;
                Ok((Some(v), None))
            }
            IndicatorType::Email => {
                let domain = raw.value.rsplit_once('@').map(|p| p.1).unwrap_or("");
                let (action, rule) = if self.is_consumer_domain(domain) {
                    (ing.value.email_consumer, "ingest.value.email-consumer")
                } else {
                    (ing.value.email, "ingest.value.email")
                };
                self.value_action(DataCategory::Email, action, rule, &raw.value, ctx)
            }
            IndicatorType::Phone => {
                self.value_action(DataCategory::Phone, ing.value.phone, "ingest.value.phone", &raw.value, ctx)
            }
            IndicatorType::Iban => {
                self.value_action(DataCategory::Iban, ing.value.iban, "ingest.value.iban", &raw.value, ctx)
            }
            _ => Ok((None, None)),
        }
    }

    fn description(&self, raw: &RawIndicator, rec: &RecordCtx, ctx: &mut Ctx) -> Option<String> {
        let d = raw.description.as_deref()?;
        if !self.policy.ingest.fields.description.keeps() {
            ctx.note("description", "ingest.fields.description", "free-text", "drop");
            return None;
        }
        let out = self.scrub_text(d, Scope::TEXT, rec, "description", Free::Description, ctx);
        if out.is_none() {
            ctx.note("description", "fail-closed", "free-text", "drop");
        }
        out
    }

    fn attributes(&self, raw: &RawIndicator, rec: &RecordCtx, ctx: &mut Ctx) -> BTreeMap<String, String> {
        let mut attributes = BTreeMap::new();
        if self.policy.ingest.fields.attributes.keeps() {
            for (k, v) in &raw.attributes {
                if let Some(v) = self.scrub_attribute(k, v, rec, ctx) {
                    attributes.insert(k.clone(), v);
                }
            }
        } else {
            for k in raw.attributes.keys() {
                ctx.note(&format!("attributes.{k}"), "ingest.fields.attributes", "attribute", "drop");
            }
        }
        for k in &raw.dropped_attributes {
            ctx.note(&format!("attributes.{k}"), "fail-closed (nested value)", "attribute", "drop");
        }
        for f in &raw.unknown_fields {
            ctx.note(f, "fail-closed (unknown field)", "unknown-field", "drop");
        }
        attributes
    }

    fn tags(&self, raw: &RawIndicator, rec: &RecordCtx, ctx: &mut Ctx) -> Vec<String> {
        let mode = self.policy.ingest.fields.tags;
        if !mode.keeps() {
            if !raw.tags.is_empty() {
                ctx.note("tags", "ingest.fields.tags", "tag", "drop");
            }
            return Vec::new();
        }
        let mut tags = Vec::with_capacity(raw.tags.len());
        for (i, t) in raw.tags.iter().enumerate() {
            if mode == FieldMode::Scrub && Detectors::obviously_clean(t, &Scope::TEXT) {
                tags.push(t.clone());
                continue;
            }
            let field = ctx.field(|| format!("tags[{i}]"));
            // `victim:schäfer`, `ofiara-kowalska`: a role word, then the person
            if let Some(role) = victim_tag(t) {
                ctx.note(&field, "ingest.detect.name (victim tag)", DataCategory::Name.as_str(), "redact");
                tags.push(format!("{role}{}", DataCategory::Name.label()));
                continue;
            }
            match self.scrub_text(t, Scope::TEXT, rec, &field, Free::Tag, ctx) {
                Some(t) => tags.push(t),
                None => ctx.note(&field, "fail-closed", "tag", "drop"),
            }
        }
        tags
    }

    fn timestamps(
        &self,
        raw: &RawIndicator,
        ctx: &mut Ctx,
    ) -> (Option<time::OffsetDateTime>, Option<time::OffsetDateTime>) {
        match self.policy.ingest.fields.timestamps {
            crate::policy::TimeMode::Keep => (raw.first_seen, raw.valid_until),
            crate::policy::TimeMode::Day => {
                let day =
                    |t: time::OffsetDateTime| t.to_offset(time::UtcOffset::UTC).replace_time(time::Time::MIDNIGHT);
                if raw.first_seen.is_some() || raw.valid_until.is_some() {
                    ctx.note("first_seen", "ingest.fields.timestamps", "timestamp", "generalise");
                }
                (raw.first_seen.map(day), raw.valid_until.map(day))
            }
        }
    }

    /// What the detectors need to know about the whole record.
    fn record_ctx(&self, raw: &RawIndicator, url: Option<&url::Url>) -> RecordCtx {
        let mut rec = RecordCtx::default();
        match raw.kind {
            IndicatorType::Ipv4 | IndicatorType::Ipv6 => rec.value_ip = raw.value.parse().ok(),
            IndicatorType::Domain => rec.host = Some(raw.value.clone()),
            IndicatorType::Url => {
                if let Some(u) = url {
                    match u.host() {
                        Some(url::Host::Ipv4(ip)) => rec.value_ip = Some(IpAddr::V4(ip)),
                        Some(url::Host::Ipv6(ip)) => rec.value_ip = Some(IpAddr::V6(ip)),
                        Some(url::Host::Domain(d)) => rec.host = Some(d.to_owned()),
                        None => {}
                    }
                }
            }
            IndicatorType::Email => {
                if let Some((local, domain)) = raw.value.rsplit_once('@') {
                    if self.is_consumer_domain(domain) {
                        rec.local_parts.extend(scan::local_part_letters(local));
                    } else {
                        rec.host = Some(domain.to_owned());
                    }
                }
            }
            _ => {}
        }
        // a consumer mail domain (or a subdomain of one) is never "the
        // attacker's own domain"
        if let Some(h) = &rec.host
            && self.is_consumer_domain(h)
        {
            rec.host = None;
        }
        let mut collect = |s: &str| {
            if !s.contains('@') && !s.contains("%40") {
                return;
            }
            let s = if s.contains("%40") { std::borrow::Cow::Owned(s.replace("%40", "@")) } else { s.into() };
            let b = s.as_bytes();
            for (i, _) in s.match_indices('@') {
                let mut j = i;
                while j > 0 && (b[j - 1].is_ascii_alphanumeric() || matches!(b[j - 1], b'.' | b'_' | b'-' | b'+')) {
                    j -= 1;
                }
                let n = b[i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')).count();
                let domain = &b[i + 1..i + 1 + n];
                // the record's own host (kept in lower case) is the attacker's
                if rec
                    .host
                    .as_deref()
                    .is_some_and(|h| h.len() == n && h.bytes().zip(domain).all(|(h, d)| h == d.to_ascii_lowercase()))
                {
                    continue;
                }
                if let Some(l) = scan::local_part_letters(&s[j..i]) {
                    rec.local_parts.push(l);
                }
            }
        };
        if raw.kind == IndicatorType::Url {
            collect(&raw.value);
        }
        if let Some(d) = &raw.description {
            collect(d);
        }
        for v in raw.attributes.values() {
            collect(v);
        }
        rec
    }

    fn value_action(
        &self,
        cat: DataCategory,
        action: Action,
        rule: &str,
        value: &str,
        ctx: &mut Ctx,
    ) -> Result<(Option<String>, Option<String>), Refusal> {
        let form = match action {
            Action::Keep => return Ok((None, None)),
            Action::Pseudonymise => "pseudonymised",
            Action::Escrow => "escrowed",
            Action::Mask => {
                if cat == DataCategory::Card {
                    "bin"
                } else {
                    "masked"
                }
            }
            _ => {
                ctx.note("value", rule, cat.as_str(), "drop");
                return Err(Refusal {
                    field: "value".into(),
                    reason: format!("the policy refuses {} values (personal data)", cat.as_str()),
                });
            }
        };
        match self.apply(cat, action, value, value) {
            Some(v) => {
                ctx.note("value", rule, cat.as_str(), action.as_str());
                Ok((Some(v), Some(form.to_owned())))
            }
            None => {
                ctx.note("value", "fail-closed", cat.as_str(), "drop");
                Err(Refusal { field: "value".into(), reason: format!("could not {} the value", action.as_str()) })
            }
        }
    }

    /// The replacement for one finding, or `None` when the field must go.
    fn apply(&self, cat: DataCategory, action: Action, raw: &str, norm: &str) -> Option<String> {
        match action {
            Action::Keep => Some(raw.to_owned()),
            Action::Drop => None,
            Action::Redact => Some(cat.label().to_owned()),
            Action::Mask => Some(mask(cat, norm)),
            Action::Generalise => match cat {
                DataCategory::Ip => match norm.parse::<IpAddr>() {
                    Ok(IpAddr::V4(ip)) => Some(format!("{}/24", ipnet::Ipv4Net::new(ip, 24).ok()?.trunc().network())),
                    Ok(IpAddr::V6(ip)) => Some(format!("{}/48", ipnet::Ipv6Net::new(ip, 48).ok()?.trunc().network())),
                    Err(_) => Some(cat.label().to_owned()),
                },
                DataCategory::DateOfBirth if norm.len() == 4 => Some(format!("[DOB:{norm}]")),
                _ => Some(cat.label().to_owned()),
            },
            Action::Pseudonymise => Some(self.pseudonym(cat.as_str(), norm)),
            Action::Escrow => escrow::seal(&self.keys.escrow_public, cat.as_str(), norm.as_bytes()).ok(),
        }
    }

    /// `tok:v1:<type>:<32 hex digits>`: HMAC-SHA-256 of the type and the
    /// normalised value under the deployment key, truncated to 128 bits.
    pub fn pseudonym(&self, domain: &str, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("tok:v1:{}:{}", domain, hex::encode(&tag[..16]))
    }

    /// The mode of a free field (`None` for URL parts: detectors only).
    fn mode(&self, free: Free) -> FieldMode {
        let f = &self.policy.ingest.fields;
        match free {
            Free::Description => f.description,
            Free::Attribute => f.attributes,
            Free::Tag => f.tags,
            Free::None => FieldMode::Scrub,
        }
    }

    /// Runs the detectors over a string and applies the policy to what they
    /// find; in a `default-deny` field, the text between the findings then
    /// goes through [`deny::Deny`]. `None` means the field must be dropped.
    fn scrub_text(
        &self,
        text: &str,
        scope: Scope,
        rec: &RecordCtx,
        field: &str,
        free: Free,
        ctx: &mut Ctx,
    ) -> Option<String> {
        let repaired = mojibake::repair(text);
        let folded = mojibake::fold_fullwidth(&repaired);
        let text: &str = &folded;
        let deny = self.mode(free) == FieldMode::DefaultDeny;
        // a one-word tag or value the vocabulary knows (`phishing`,
        // `emotet`): no detector matches lower-case letters alone and
        // default-deny keeps the word, so one probe settles it
        if deny && self.deny.plain_known_word(text) {
            return Some(text.to_owned());
        }
        if !deny && Detectors::obviously_clean(text, &scope) {
            return Some(text.to_owned());
        }
        let mut found: Vec<Found> = Vec::new();
        // a text no detector can match (no digit, `@`, capital, non-ASCII...)
        // goes straight to default-deny
        if !Detectors::obviously_clean(text, &scope) {
            self.det.scan(text, &scope, rec, &mut found);
            // a reference the policy lists is no phone or login
            if deny {
                found.retain(|f| {
                    !matches!(f.kind, SpanKind::Data(DataCategory::Phone | DataCategory::Credential))
                        || !self.deny.is_reference_at(text, f.start, f.end)
                });
            }
        }
        if free != Free::None {
            self.keyed(text, &mut found);
        }
        if found.is_empty() && !deny {
            return Some(text.to_owned());
        }
        self.replace_found(text, &found, rec, field, free, ctx)
    }

    /// Adds the values a key rule names inside the text (`user="jdoe"`, a
    /// table column under `Geburtsdatum`) where no detector found anything.
    fn keyed(&self, text: &str, found: &mut Vec<Found>) {
        let mut spans = Vec::new();
        keyed::spans(text, &self.policy, &mut spans);
        if spans.is_empty() {
            return;
        }
        let before = found.len();
        for k in spans {
            if found[..before].iter().all(|f| f.end <= k.start || f.start >= k.end) {
                let norm = normalise_for(k.category, &text[k.start..k.end]);
                found.push(Found { start: k.start, end: k.end, kind: SpanKind::Data(k.category), norm });
            }
        }
        found.sort_by_key(|f| f.start);
        found.dedup_by(|b, a| b.start < a.end);
    }

    /// Applies the policy to the findings of a scan of `text`, and
    /// default-deny to the text between them when the field says so.
    fn replace_found(
        &self,
        text: &str,
        found: &[Found],
        rec: &RecordCtx,
        field: &str,
        free: Free,
        ctx: &mut Ctx,
    ) -> Option<String> {
        let deny = self.mode(free) == FieldMode::DefaultDeny;
        let single = free != Free::Description && !text.contains(char::is_whitespace);
        let mut tally = deny::Tally::default();
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        // the indicator's own host stays as written (its subdomain labels
        // are the attacker's choice even when they read as a name)
        let own = rec.host.as_deref().filter(|h| h.contains(['-', '_']) && h.split('.').count() >= 3);
        let gap = |out: &mut String, s: usize, e: usize, tally: &mut deny::Tally| {
            if deny {
                let mut from = s;
                if let Some(h) = own {
                    // the host standing alone (not `x@host`, not `host-y`)
                    let alone = |i: usize| {
                        let b = text.as_bytes();
                        let (a, z) = (s + i, s + i + h.len());
                        (a == 0 || !(b[a - 1].is_ascii_alphanumeric() || matches!(b[a - 1], b'@' | b'.' | b'-' | b'_')))
                            && (z == b.len() || !(b[z].is_ascii_alphanumeric() || matches!(b[z], b'-' | b'_')))
                    };
                    for (i, _) in text[s..e].match_indices(h).filter(|&(i, _)| alone(i)) {
                        self.deny.filter(&text[from..s + i], starts_sentence(text, from), single, out, tally);
                        out.push_str(h);
                        from = s + i + h.len();
                    }
                }
                self.deny.filter(&text[from..e], starts_sentence(text, from), single, out, tally);
            } else {
                out.push_str(&text[s..e]);
            }
        };
        let mut prev_name = false;
        for f in found {
            let from = if prev_name { self.split_name(text, (last, f.start), field, ctx, &mut out)? } else { last };
            gap(&mut out, from, f.start, &mut tally);
            prev_name = f.kind == SpanKind::Data(DataCategory::Name);
            match f.kind {
                SpanKind::Url => match self.scrub_url(&text[f.start..f.end], rec, field, ctx) {
                    Ok(u) => out.push_str(&u),
                    Err(()) => {
                        ctx.note(field, "fail-closed (undecodable URL)", "url", "redact");
                        out.push_str("[URL]");
                    }
                },
                SpanKind::Data(cat) => {
                    let action = self.policy.ingest.detect.action(cat);
                    let rule = &self.detect_rule[&cat];
                    match self.apply(cat, action, &text[f.start..f.end], &f.norm) {
                        Some(rep) => {
                            ctx.note(field, rule, cat.as_str(), action.as_str());
                            // a Telegram bot token keeps its bot id
                            if cat == DataCategory::Credential
                                && let Some(id) = scan::telegram_bot_id(&text[f.start..f.end])
                            {
                                out.push_str(id);
                                out.push(':');
                            }
                            out.push_str(&rep);
                        }
                        None => {
                            ctx.note(field, rule, cat.as_str(), "drop");
                            return None;
                        }
                    }
                }
            }
            last = f.end;
        }
        let from = if prev_name { self.split_name(text, (last, text.len()), field, ctx, &mut out)? } else { last };
        gap(&mut out, from, text.len(), &mut tally);
        if deny {
            let rule = match free {
                Free::Description => "ingest.fields.description (default-deny)",
                Free::Attribute => "ingest.fields.attributes (default-deny)",
                _ => "ingest.fields.tags (default-deny)",
            };
            for c in deny::Class::ALL {
                ctx.note_n(field, rule, c.category(), "redact", tally.0[c as usize]);
            }
        }
        Some(out)
    }

    /// `Client Émilie⏎Colombo⏎IBAN: …`: after a name, its last word alone on
    /// the next line (in `text[gap]`) goes too. Where the rest of the gap
    /// starts; `None` when the policy drops names (the field goes).
    fn split_name(
        &self,
        text: &str,
        gap: (usize, usize),
        field: &str,
        ctx: &mut Ctx,
        out: &mut String,
    ) -> Option<usize> {
        let Some((ws, we)) = name_on_next_line(text, gap.0, gap.1) else {
            return Some(gap.0);
        };
        let cat = DataCategory::Name;
        let action = self.policy.ingest.detect.action(cat);
        let rep = self.apply(cat, action, &text[ws..we], &normalise_for(cat, &text[ws..we]))?;
        ctx.note(field, &self.detect_rule[&cat], cat.as_str(), action.as_str());
        out.push_str(&text[gap.0..ws]);
        out.push_str(&rep);
        Some(we)
    }

    fn scrub_attribute(&self, key: &str, v: &str, rec: &RecordCtx, ctx: &mut Ctx) -> Option<String> {
        let field = ctx.field(|| format!("attributes.{key}"));
        // personal data in the key itself: the attribute goes
        if !Detectors::obviously_clean(key, &Scope::URL_PART) {
            let mut f = Vec::new();
            self.det.scan(key, &Scope::URL_PART, rec, &mut f);
            if !f.is_empty() {
                ctx.note(&field, "fail-closed (personal data in key)", "attribute", "drop");
                return None;
            }
        }
        // a key written as prose (`{"Callum McTavish": "reported"}`): under
        // default-deny its words must be accounted for like a value's
        if key.contains(' ') && self.mode(Free::Attribute) == FieldMode::DefaultDeny {
            let (mut out, mut tally) = (String::new(), deny::Tally::default());
            self.deny.filter(key, true, true, &mut out, &mut tally);
            if tally.0.iter().any(|n| *n > 0) {
                ctx.note(&field, "fail-closed (personal data in key)", "attribute", "drop");
                return None;
            }
        }
        // a bank's code under its key (`"bic": "DEUTDEFF"`): the mule's bank, not a person
        if checks::bic(v.trim().as_bytes())
            && key
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w.eq_ignore_ascii_case("bic") || w.eq_ignore_ascii_case("swift"))
        {
            return Some(v.to_owned());
        }
        if let Some(rule) = self.policy.key_rule(key) {
            if v.trim().is_empty() {
                return Some(v.to_owned());
            }
            let rule_name = &rule.rule;
            // a bare address (or one with its port) is generalised as an IP
            // whatever the key says
            if let Some(ip) = address_of(v.trim()) {
                let action = self.policy.ingest.detect.action(DataCategory::Ip);
                let out = self.apply(DataCategory::Ip, action, v, &ip.to_string());
                let a = if out.is_some() { action.as_str() } else { "drop" };
                ctx.note(&field, &self.detect_rule[&DataCategory::Ip], "ip", a);
                return out;
            }
            let norm = normalise_for(rule.category, v);
            let out = self.apply(rule.category, rule.action, v, &norm);
            let a = if out.is_some() { rule.action.as_str() } else { "drop" };
            ctx.note(&field, rule_name, rule.category.as_str(), a);
            return out;
        }
        // `c2_ip`, `server`; not `infected_host`, `victim_server`
        let key_words: Vec<String> =
            key.split(|c: char| !c.is_ascii_alphanumeric()).map(str::to_ascii_lowercase).collect();
        let has = |list: &[&str]| key_words.iter().any(|w| list.contains(&w.as_str()));
        let attacker = has(lexicon::attacker_key_words()) && !has(VICTIM_KEY_WORDS);
        // `"kit": "ex-robotos"`, `"malware_family": "Lumma"`: one word under a
        // key naming the attacker's tool is that tool's name; the detectors
        // still run over it
        if has(TOOL_KEY_WORDS) && !has(VICTIM_KEY_WORDS) && !v.trim().contains(char::is_whitespace) {
            let out = self.scrub_text(v, Scope::TEXT, rec, &field, Free::None, ctx);
            if out.is_none() {
                ctx.note(&field, "fail-closed", "attribute", "drop");
            }
            return out;
        }
        let out = if attacker {
            let rec2 = RecordCtx {
                value_ip: rec.value_ip,
                host: rec.host.clone(),
                local_parts: rec.local_parts.clone(),
                attacker_key: true,
            };
            self.scrub_text(v, Scope::TEXT, &rec2, &field, Free::Attribute, ctx)
        } else {
            self.scrub_text(v, Scope::TEXT, rec, &field, Free::Attribute, ctx)
        };
        if out.is_none() {
            ctx.note(&field, "fail-closed", "attribute", "drop");
        }
        out
    }

    /// Sanitises a URL: scheme and host kept, userinfo removed, path
    /// segments, query values and fragment scrubbed (after decoding).
    fn scrub_url(&self, s: &str, rec: &RecordCtx, field: &str, ctx: &mut Ctx) -> Result<String, ()> {
        let out = self.scrub_url_parsed(s, None, rec, field, ctx)?;
        self.reserved_host(out, rec, field, ctx)
    }

    /// A URL in free text whose host is an address outside global unicast
    /// space (a router's admin page, an intranet, a documentation address)
    /// carries no intelligence, only the victim's network: its host goes as
    /// a bare address there would, the rest of the URL stays as scrubbed.
    /// The indicator's own address stays.
    fn reserved_host(&self, out: String, rec: &RecordCtx, field: &str, ctx: &mut Ctx) -> Result<String, ()> {
        let auth = |u: &str| u.find("://").map(|i| i + 3).or_else(|| u.find("[:]//").map(|i| i + 5));
        // the cheap test first: most hosts are names
        if !auth(&out).and_then(|i| out.as_bytes().get(i)).is_some_and(|b| b.is_ascii_digit() || *b == b'[') {
            return Ok(out);
        }
        let refanged = crate::model::refang(&out).into_owned();
        let Ok(u) = url::Url::parse(&refanged) else {
            return Ok(out);
        };
        let ip = match u.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(out),
        };
        if !crate::model::is_reserved_ip(ip) || Some(ip) == rec.value_ip {
            return Ok(out);
        }
        let action = self.policy.ingest.detect.action(DataCategory::Ip);
        let rep = self.apply(DataCategory::Ip, action, &ip.to_string(), "reserved").ok_or(())?;
        ctx.note(field, &self.detect_rule[&DataCategory::Ip], DataCategory::Ip.as_str(), action.as_str());
        let start = auth(&refanged).ok_or(())?;
        let rest = refanged[start..].find(['/', '?', '#']).map_or("", |i| &refanged[start + i..]);
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        Ok(format!("{}://{rep}{port}{rest}", u.scheme()))
    }

    /// [`Sanitiser::scrub_url`] with `s` already parsed as written (`parsed`),
    /// which a URL that needs no refanging uses instead of parsing it again.
    fn scrub_url_parsed(
        &self,
        s: &str,
        parsed: Option<&url::Url>,
        rec: &RecordCtx,
        field: &str,
        ctx: &mut Ctx,
    ) -> Result<String, ()> {
        if !url_needs_work(s) && !path_has_names(s) && !host_has_names(s) {
            return Ok(s.to_owned());
        }
        let before = ctx.removals.total();
        let refanged = crate::model::refang(s);
        let owned;
        let u = match (&refanged, parsed) {
            (std::borrow::Cow::Borrowed(_), Some(u)) => u,
            _ => {
                owned = url::Url::parse(&refanged).map_err(|_| ())?;
                &owned
            }
        };
        let host = u.host_str().ok_or(())?;
        let mut out = String::with_capacity(s.len());
        // a defanged URL stays defanged when rewritten: the feeds must not
        // turn an attacker's link clickable (`hxxps://kit[.]top/...`)
        let defanged = matches!(refanged, std::borrow::Cow::Owned(_));
        if defanged && s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("hxxp")) {
            out.push_str("hxxp");
            out.push_str(&u.scheme()[4..]);
        } else {
            out.push_str(u.scheme());
        }
        out.push_str("://");
        let dot = ["[.]", "(.)", "{.}", "[dot]"].into_iter().find(|d| defanged && s.contains(d));
        let defanged_host;
        let host = match dot {
            Some(d) => {
                defanged_host = host.replace('.', d);
                defanged_host.as_str()
            }
            None => host,
        };
        if !u.username().is_empty() {
            ctx.note(&format!("{field}.userinfo"), "ingest.detect.credential", "credential", "drop");
        }
        if u.password().is_some() {
            ctx.note(&format!("{field}.userinfo"), "ingest.detect.credential", "credential", "drop");
        }
        push_host(&mut out, host, rec, field, ctx);
        if let Some(p) = u.port() {
            let _ = write!(out, ":{p}");
        }
        self.scrub_path(u, host, rec, field, ctx, &mut out)?;
        if let Some(q) = u.query() {
            out.push('?');
            let qfield = ctx.field(|| format!("{field}.query"));
            self.scrub_query(q, rec, &qfield, ctx, &mut out)?;
        }
        if let Some(f) = u.fragment() {
            out.push('#');
            let ffield = ctx.field(|| format!("{field}.fragment"));
            self.scrub_fragment(f, rec, &ffield, ctx, &mut out)?;
        }
        if ctx.removals.total() == before {
            // nothing personal: keep the URL as written (defanged stays defanged)
            return Ok(s.to_owned());
        }
        Ok(out)
    }

    /// A URL's path, segment by segment: phones after a phone key or on a
    /// messaging host, logins and accounts after a person key, path
    /// parameters as query pairs.
    fn scrub_path(
        &self,
        u: &url::Url,
        host: &str,
        rec: &RecordCtx,
        field: &str,
        ctx: &mut Ctx,
        out: &mut String,
    ) -> Result<(), ()> {
        let pfield = ctx.field(|| format!("{field}.path"));
        // `wa.me/33612345678`, `/msisdn/4915...`: path segments that are phones
        let link = scan::phone_link_host(host);
        let mut prev = "";
        let mut after_personal = false;
        for (i, seg) in u.path().split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            let hint = link || scan::phone_path_key(prev);
            // `/u/oluwaseun_mwangi/`, `/konto/915917403/`: a login or account after
            // its key; a date right after such a segment is the person's birth date
            let personal = scan::person_path_key(prev) && deny::person_segment(seg);
            let birth = after_personal && date_segment(seg);
            after_personal = personal;
            // `login;jsessionid=9F1C…`: path parameters are read as query pairs
            let (seg, params) = match seg.split_once(';') {
                Some((name, params)) if params.contains('=') => (name, Some(params)),
                _ => (seg, None),
            };
            let mut seg_out =
                self.scrub_component(&Component { phone_hint: hint, ..Component::new(seg, false, &pfield) }, rec, ctx)?;
            // what the detectors left of such a segment goes whole
            if (personal || birth) && seg_out == seg {
                let cat = if personal { DataCategory::OnlineId } else { DataCategory::DateOfBirth };
                let action = self.policy.ingest.detect.action(cat);
                let Some(rep) = self.apply(cat, action, seg, &seg.to_lowercase()) else {
                    ctx.note(&pfield, &self.detect_rule[&cat], cat.as_str(), "drop");
                    return Err(());
                };
                ctx.note(&pfield, &self.detect_rule[&cat], cat.as_str(), action.as_str());
                seg_out = rep;
            }
            out.push_str(&seg_out);
            if let Some(params) = params {
                let mut p_out = String::new();
                self.scrub_query(&params.replace(';', "&"), rec, &pfield, ctx, &mut p_out)?;
                out.push(';');
                out.push_str(&p_out.replace('&', ";"));
            }
            prev = seg;
        }
        Ok(())
    }

    /// A URL's fragment: key=value pairs as a query, a single-page app's
    /// route (`#/verify/c2FtaXJh…`) segment by segment as a path, else one
    /// component.
    fn scrub_fragment(&self, f: &str, rec: &RecordCtx, field: &str, ctx: &mut Ctx, out: &mut String) -> Result<(), ()> {
        if f.contains('=') {
            return self.scrub_query(f, rec, field, ctx, out);
        }
        for (i, seg) in f.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.push_str(&self.scrub_component(&Component::new(seg, false, field), rec, ctx)?);
        }
        Ok(())
    }

    fn scrub_query(&self, q: &str, rec: &RecordCtx, field: &str, ctx: &mut Ctx, out: &mut String) -> Result<(), ()> {
        for (i, part) in q.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let Some((k, v)) = part.split_once('=') else {
                out.push_str(&self.scrub_component(&Component::new(part, true, field), rec, ctx)?);
                continue;
            };
            let key = percent_decode(k, true).ok_or(())?;
            // a key carrying personal data itself
            let k_out = self.scrub_component(&Component::new(k, true, field), rec, ctx)?;
            out.push_str(&k_out);
            out.push('=');
            // `gate.php?ip=178.160.46.249`: a bot's check-in reports its own
            // (the victim's) address; a key naming a server (`c2_ip`) keeps it
            if let Some(ip) = client_address(&key, v)
                && Some(ip) != rec.value_ip
            {
                let action = self.policy.ingest.detect.action(DataCategory::Ip);
                let vfield = ctx.field(|| format!("{field}.{}", key_label(&key)));
                let rep = self.apply(DataCategory::Ip, action, v, &ip.to_string());
                let a = if rep.is_some() { action.as_str() } else { "drop" };
                ctx.note(&vfield, &self.detect_rule[&DataCategory::Ip], "ip", a);
                out.push_str(&rep.unwrap_or_default());
                continue;
            }
            let rule = self.policy.key_rule(&key);
            let phone_hint = lexicon::phone_hint_keys().contains(&key.to_ascii_lowercase().as_str());
            let vfield = ctx.field(|| format!("{field}.{}", key_label(&key)));
            let value = Component { phone_hint, rule, ..Component::new(v, true, &vfield) };
            out.push_str(&self.scrub_component(&value, rec, ctx)?);
        }
        Ok(())
    }

    /// One URL component: decoded (percent, then base64/hex), scanned, and
    /// replaced when personal data is inside. Clean components are kept
    /// byte for byte.
    fn scrub_component(&self, c: &Component, rec: &RecordCtx, ctx: &mut Ctx) -> Result<String, ()> {
        let (raw, field) = (c.raw, c.field);
        if raw.is_empty() {
            return Ok(String::new());
        }
        // `u=jan.kowal+bank@one.lt`: a `+` inside an e-mail's local part is
        // the address's tag, not a form-encoded space (read as a space, the
        // part before it would stand apart from the address)
        let form_plus = c.query && !plus_tagged_mail(raw);
        let Some(decoded) = percent_decode(raw, form_plus) else {
            // fail closed: undecodable bytes never pass
            ctx.note(field, "fail-closed (undecodable)", "undecodable", "redact");
            return Ok("[UNDECODABLE]".to_owned());
        };
        if let Some(rule) = c.rule {
            return Ok(self.keyed_component(rule, &decoded, field, ctx));
        }
        // a redirect target (`?u=https%3A%2F%2Fy.top%2Fs%3Ftel%3D…`): scrubbed
        // as a URL, so its own query keys (`tel`, `mail`, `n`) apply
        if c.query
            && decoded.contains('?')
            && (decoded.starts_with("https://") || decoded.starts_with("http://"))
            && let Ok(inner) = self.scrub_url(&decoded, rec, field, ctx)
            && inner != decoded
        {
            return Ok(encode_component(&inner));
        }
        // names in path segments and file names (`anna.kowalska`,
        // `Anna_Kowalska.pdf`, `~user`, `/@handle`): the host and the shape
        // of the path stay, the name goes
        let renamed = deny::url_segment_names(&decoded).or_else(|| echoed_slug(&decoded, rec));
        if renamed.is_some() {
            ctx.note(field, "ingest.detect.name (URL path)", DataCategory::Name.as_str(), "redact");
        }
        let kept = |raw: &str, renamed: &Option<String>| match renamed {
            Some(t) => encode_component(t),
            None => raw.to_owned(),
        };
        let decoded = renamed.clone().unwrap_or(decoded);
        if !component_needs_scan(&decoded) {
            return Ok(kept(raw, &renamed));
        }
        let mut found = Vec::new();
        // query values may carry a name ("?n=Jean+Dupont"); path segments are
        // words of the site's own structure and are not read for names
        let scope = Scope { names: c.query, phone_key: c.phone_hint, ..Scope::URL_PART };
        self.det.scan(&decoded, &scope, rec, &mut found);
        if !found.is_empty() {
            return match self.replace_found(&decoded, &found, rec, field, Free::None, ctx) {
                Some(t) => Ok(encode_component(&t)),
                None => Ok(String::new()),
            };
        }
        if c.query
            && let Some(t) = self.text_words(&decoded, field, ctx)
        {
            return Ok(encode_component(&t));
        }
        Ok(self.encoded_component(&decoded, rec, field, ctx).unwrap_or_else(|| kept(raw, &renamed)))
    }

    /// A URL component written as words (`?u=Kwame+Mensah`, or base64 of
    /// it), or as one word of a non-Latin script (`王伟`): under a default-deny description policy, default-deny reads it
    /// as free text. `Some` with the filtered words when it replaced any.
    fn text_words(&self, decoded: &str, field: &str, ctx: &mut Ctx) -> Option<String> {
        if self.mode(Free::Description) != FieldMode::DefaultDeny
            || !decoded.chars().any(char::is_alphabetic)
            || !(decoded.contains(' ') || decoded.chars().all(|c| c.is_alphabetic() && !c.is_ascii()))
        {
            return None;
        }
        let mut tally = deny::Tally::default();
        let mut out = String::with_capacity(decoded.len());
        self.deny.filter(decoded, true, false, &mut out, &mut tally);
        if tally == deny::Tally::default() {
            return None;
        }
        for c in deny::Class::ALL {
            ctx.note_n(
                field,
                "ingest.fields.description (default-deny, URL words)",
                c.category(),
                "redact",
                tally.0[c as usize],
            );
        }
        Some(out)
    }

    /// A component under a key the policy names: its rule applies to the
    /// whole decoded value.
    fn keyed_component(&self, rule: &crate::policy::KeyRule, decoded: &str, field: &str, ctx: &mut Ctx) -> String {
        let norm = normalise_for(rule.category, decoded);
        match self.apply(rule.category, rule.action, decoded, &norm) {
            Some(rep) => {
                ctx.note(field, &rule.rule, rule.category.as_str(), rule.action.as_str());
                encode_component(&rep)
            }
            None => {
                ctx.note(field, &rule.rule, rule.category.as_str(), "drop");
                String::new()
            }
        }
    }

    /// A base64 or hex component that decodes to text with personal data
    /// inside: its replacement (the whole token goes), or `None`.
    fn encoded_component(&self, decoded: &str, rec: &RecordCtx, field: &str, ctx: &mut Ctx) -> Option<String> {
        let inner = scan::decode_token(decoded)?;
        let inner = percent_decode(&inner, true).unwrap_or(inner);
        let mut found = Vec::new();
        self.det.scan(&inner, &Scope::URL_PART, rec, &mut found);
        let Some(f) = found.iter().find_map(|f| match f.kind {
            SpanKind::Data(c) => Some(c),
            SpanKind::Url => None,
        }) else {
            // words with no finding may still be a name (`S3dhbWUgTWVuc2Fo`)
            return self.text_words(&inner, field, ctx).map(|t| encode_component(&t));
        };
        let action = self.policy.ingest.detect.action(f);
        let rule = format!("{} (encoded)", self.detect_rule[&f]);
        if action == Action::Drop {
            ctx.note(field, &rule, f.as_str(), "drop");
            return Some(String::new());
        }
        for _ in &found {
            ctx.note(field, &rule, f.as_str(), "redact");
        }
        Some(encode_component(f.label()))
    }
}

/// One URL component to scrub, with what its place in the URL says.
struct Component<'a> {
    /// As written (percent-encoded).
    raw: &'a str,
    /// A query key or value (`+` is a space; a name may be in it).
    query: bool,
    /// Under a phone-named key or after a phone path segment.
    phone_hint: bool,
    /// The policy's rule for the key a query value sits under.
    rule: Option<&'a crate::policy::KeyRule>,
    /// Field path for explanations.
    field: &'a str,
}

impl<'a> Component<'a> {
    fn new(raw: &'a str, query: bool, field: &'a str) -> Component<'a> {
        Component { raw, query, phone_hint: false, rule: None, field }
    }
}

/// True when the text before byte `at` ends a sentence (or is empty): the
/// next word may be capitalised without being a name.
/// The role word and separator of a tag that names a person after a
/// victim or customer word (`victim:jack-thornbury`, `vittima:pellegrini`,
/// `ofiara-kowalska`), if it is one.
fn victim_tag(t: &str) -> Option<&str> {
    const ROLES: &[&str] = &[
        "victim",
        "victima",
        "víctima",
        "vitima",
        "vítima",
        "vittima",
        "victime",
        "opfer",
        "ofiara",
        "slachtoffer",
        "klant",
        "kunde",
        "kundin",
        "customer",
        "cliente",
        "client",
        "klient",
        "klientka",
        "lesado",
        "lesada",
        "geschädigter",
        "geschädigte",
        "benadeelde",
        "poszkodowany",
        "poszkodowana",
    ];
    let i = t.find([':', '-', '_', '='])?;
    let (role, rest) = (&t[..i], &t[i + 1..]);
    let alpha = rest.chars().any(char::is_alphabetic) && rest.chars().all(|c| c.is_alphabetic() || "-_. '".contains(c));
    // `client-side`, `customer-data`: common words, no person
    let common =
        rest.split(['-', '_', '.', ' ', '\'']).all(|w| w.is_empty() || vocab::vocab().flags_of(w) & vocab::COMMON != 0);
    if common {
        return None;
    }
    (alpha && rest.chars().count() > 2 && ROLES.iter().any(|r| r.eq_ignore_ascii_case(role))).then(|| &t[..=i])
}

/// A URL path segment that is a calendar date (`2004-08-17`, `17.08.2004`,
/// `17-08-2004`).
fn date_segment(seg: &str) -> bool {
    let b = seg.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 10
        && ((digits(0..4) && b[4] == b[7] && matches!(b[4], b'-' | b'.') && digits(5..7) && digits(8..10))
            || (digits(0..2) && b[2] == b[5] && matches!(b[2], b'-' | b'.') && digits(3..5) && digits(6..10)))
}

/// The word alone on the line after a name that ends its line (`Émilie⏎
/// Colombo⏎`): one capitalised word of letters, no very common or
/// security word, the line break right after it. Its byte range.
fn name_on_next_line(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    let t = &text[s..e];
    let rest = t.trim_start_matches([' ', '\r']).strip_prefix('\n')?;
    let ws = e - rest.len();
    let len = rest.find(|c: char| !(c.is_alphabetic() || c == '-' || c == '\'')).unwrap_or(rest.len());
    let word = &rest[..len];
    let after = rest[len..].trim_start_matches([' ', '\r']);
    // (`Geburts-⏎datum` is one word broken over the line)
    let line_ends = (after.starts_with('\n') || (after.is_empty() && e == text.len())) && !word.ends_with('-');
    let mut cs = word.chars();
    (line_ends
        && cs.next().is_some_and(char::is_uppercase)
        && cs.next().is_some_and(char::is_lowercase)
        && vocab::vocab().flags_of(word) & (vocab::VERY_COMMON | vocab::SECURITY) == 0)
        .then_some((ws, ws + len))
}

fn starts_sentence(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end_matches([' ', '\t']);
    before.is_empty() || before.ends_with(['.', '!', '?', ':', ';', '\n', '\r', '(', '"', '«', '“', '-', '•'])
}

fn key_label(k: &str) -> String {
    k.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').take(32).collect()
}

/// Normalises a whole value for pseudonyms and masks.
fn normalise_for(cat: DataCategory, v: &str) -> String {
    let t = v.trim();
    match cat {
        DataCategory::Email => t.to_lowercase(),
        DataCategory::Phone => {
            let digits: String = t.chars().filter(char::is_ascii_digit).collect();
            if t.starts_with('+') {
                format!("+{digits}")
            } else if let Some(rest) = digits.strip_prefix("00") {
                format!("+{rest}")
            } else {
                digits
            }
        }
        DataCategory::Iban | DataCategory::Card | DataCategory::NationalId => {
            t.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase()
        }
        _ => t.to_owned(),
    }
}

/// Keeps a non-identifying prefix: card BIN, phone country code, IBAN
/// country and check digits, first letter of an e-mail local part.
fn mask(cat: DataCategory, norm: &str) -> String {
    let keep = match cat {
        DataCategory::Card => 6,
        DataCategory::Phone => {
            if norm.starts_with('+') {
                3
            } else {
                1
            }
        }
        DataCategory::Iban => 4,
        DataCategory::Email => {
            if let Some((l, d)) = norm.split_once('@') {
                let first: String = l.chars().take(1).collect();
                return format!("{first}***@{d}");
            }
            0
        }
        _ => return cat.label().to_owned(),
    };
    let head: String = norm.chars().take(keep).collect();
    let n = norm.chars().count().saturating_sub(keep);
    format!("{head}{}", "X".repeat(n))
}

/// Cheap test on a URL string: anything that could hide personal data?
/// Writes a URL's host, its per-victim subdomain labels as `[NAME]` (not
/// the indicator's own host).
fn push_host(out: &mut String, host: &str, rec: &RecordCtx, field: &str, ctx: &mut Ctx) {
    match deny::host_names(host).filter(|_| rec.host.as_deref() != Some(host)) {
        Some(h) => {
            ctx.note(field, "ingest.detect.name (host label)", DataCategory::Name.as_str(), "redact");
            out.push_str(&h);
        }
        None => out.push_str(host),
    }
}

/// The host of a URL written as is names a person in a subdomain label.
fn host_has_names(s: &str) -> bool {
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    let host = &rest[..rest.find(['/', '?', '#', ':']).unwrap_or(rest.len())];
    deny::host_names(host.rsplit('@').next().unwrap_or(host)).is_some()
}

fn url_needs_work(s: &str) -> bool {
    let b = s.as_bytes();
    if b.iter().any(|c| matches!(c, b'@' | b'%' | b'?' | b'#' | b'[' | b'+' | b';')) || b.len() > 200 {
        return true;
    }
    let mut digits = 0;
    let mut run = 0;
    // skip scheme and host: from the third '/'
    let path_start = s.match_indices('/').nth(2).map(|(i, _)| i).unwrap_or(b.len());
    for &c in &b[path_start..] {
        digits = if c.is_ascii_digit() { digits + 1 } else { 0 };
        run = if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'=' { run + 1 } else { 0 };
        if digits >= 6 || run >= 16 {
            return true;
        }
    }
    false
}

/// Cheap test on a URL string: a path segment that may hold a name
/// (`~user`, `@handle`, a first name joined to another word).
fn path_has_names(s: &str) -> bool {
    let path_start = s.match_indices('/').nth(2).map(|(i, _)| i).unwrap_or(s.len());
    let path = s[path_start..].split(['?', '#']).next().unwrap_or("");
    let mut prev = "";
    path.split('/').any(|seg| {
        // `/u/<login>/`, `/konto/<number>/`
        let after_key = scan::person_path_key(std::mem::replace(&mut prev, seg)) && deny::person_segment(seg);
        after_key
            || seg.len() > 2
                && (seg.starts_with(['~', '@'])
                    || (seg.bytes().any(|b| matches!(b, b'.' | b'_' | b'-' | b'+'))
                        || seg.as_bytes().windows(2).any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase()))
                        && deny::url_segment_names(seg).is_some())
    })
}

/// A decoded URL component worth scanning.
fn component_needs_scan(s: &str) -> bool {
    let b = s.as_bytes();
    if b.iter().any(|c| matches!(c, b'@' | b'[' | b'(' | b' ')) || b.len() >= 8 || b.iter().any(|c| *c >= 0x80) {
        return true;
    }
    let mut digits = 0;
    for &c in b {
        digits = if c.is_ascii_digit() {
            digits + 1
        } else if matches!(c, b'.' | b'-' | b'+') {
            digits
        } else {
            0
        };
        if digits >= 6 {
            return true;
        }
    }
    false
}

/// Percent-decoding, repeated while it still changes something (double
/// encoding), `+` as space in queries. `None` when the bytes are not UTF-8.
fn percent_decode(s: &str, query: bool) -> Option<String> {
    let mut cur: std::borrow::Cow<str> = std::borrow::Cow::Borrowed(s);
    for round in 0..3 {
        let b = cur.as_bytes();
        let has_pct = b.windows(3).any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit());
        let has_plus = query && round == 0 && b.contains(&b'+');
        if !has_pct && !has_plus {
            break;
        }
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
                let h = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(h(b[i + 1]) * 16 + h(b[i + 2]));
                i += 3;
            } else if b[i] == b'+'
                && has_plus
                && (!b.get(i + 1).is_some_and(u8::is_ascii_digit) || (i > 0 && b[i - 1].is_ascii_digit()))
            {
                // "+33612..." in a query is a phone's plus, not a space; between
                // digits ("5106+9886+2746") it is a space
                out.push(b' ');
                i += 1;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        cur = std::borrow::Cow::Owned(String::from_utf8(out).ok()?);
    }
    Some(cur.into_owned())
}

/// Re-encodes a scrubbed component: labels such as `[EMAIL]` stay readable.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-._~[]:!$'()*,;@".contains(&c) {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

/// A slug of two or three words whose letters are an e-mail local part of
/// the same record (`/dossier/chinedu-nwosu/chinedunwosu@live.com`): the
/// person's name, whatever the lists know of it.
fn echoed_slug(seg: &str, rec: &RecordCtx) -> Option<String> {
    // checked on every path segment: no allocation before the cheap tests
    let parts = || seg.split(['-', '_', '.']);
    if rec.local_parts.is_empty()
        || !(2..=3).contains(&parts().count())
        || !parts().all(|p| p.len() >= 2 && p.chars().all(char::is_alphabetic))
    {
        return None;
    }
    let letters = scan::local_part_letters(seg)?;
    (letters.len() >= 6 && rec.local_parts.iter().any(|lp| lp.contains(letters.as_str())))
        .then(|| deny::Class::Name.label().to_owned())
}

#[cfg(test)]
mod tests;
