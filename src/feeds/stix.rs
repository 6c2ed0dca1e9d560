//! STIX 2.1 conversion (SPEC §4, §7): sanitised [`Indicator`]s out as STIX
//! `indicator` objects (for TAXII), and STIX bundles or TAXII envelopes in as
//! SPEC §5 JSON indicators (for `application/stix+json` submissions).
//!
//! Outgoing objects are built only from what the reader's egress view admits
//! ([`indicator_object`] projects itself, fail closed). Timestamps: STIX
//! `created`/`modified`/`valid_*` have millisecond precision (the validator
//! rejects seconds); TAXII timestamps have microseconds ([`taxii_timestamp`]).
//!
//! Values with no STIX 2.1 cyber-observable (IBAN, phone number, bitcoin
//! address) and values the privacy policy transformed (pseudonym tokens such
//! as `tok:v1:iban:…`) go into patterns on a custom observable type
//! `x-tamis-<type>:value`: the STIX patterning grammar accepts any object
//! type, stix2-validator accepts the `x-` prefix, and a consumer cannot
//! mistake a token for a real e-mail address or IBAN; the object's `name`
//! says "(pseudonymised)". No custom properties are added: `--strict`
//! validation refuses them outside an extension definition.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::feeds::egress::project;
use crate::model::{Category, Indicator, IndicatorRejection, IndicatorType, Tlp};
use crate::policy::EgressView;

/// The STIX identity of the exchange, producer of every object it sends.
pub const IDENTITY_ID: &str = "identity--6f1e3d4a-2b1c-4c5e-9a7d-3e2f1a0b9c8d";
/// Fixed `created` of the identity (a constant so every version is equal).
const IDENTITY_CREATED: &str = "2026-01-01T00:00:00.000Z";
/// `created` of the OASIS TLP 2.0 marking definitions.
pub const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";
/// The extension definition the TLP 2.0 markings use.
const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// The OASIS TLP 2.0 marking-definition id of a level.
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The TLP level of a marking-definition id, TLP 2.0 or 1.0 (WHITE is CLEAR).
pub fn tlp_of_marking(id: &str) -> Option<Tlp> {
    if let Some(t) = Tlp::ALL.iter().find(|t| tlp_marking_id(**t) == id) {
        return Some(*t);
    }
    match id {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Some(Tlp::Clear),
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Some(Tlp::Green),
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Some(Tlp::Amber),
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Some(Tlp::Red),
        _ => None,
    }
}

/// The OASIS TLP 2.0 marking-definition object of a level.
pub fn marking_definition(tlp: Tlp) -> Value {
    let name = match tlp {
        Tlp::Clear => "TLP:CLEAR",
        Tlp::Green => "TLP:GREEN",
        Tlp::Amber => "TLP:AMBER",
        Tlp::AmberStrict => "TLP:AMBER+STRICT",
        Tlp::Red => "TLP:RED",
    };
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp_marking_id(tlp),
        "created": TLP2_CREATED,
        "name": name,
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.as_str()}},
    })
}

/// The exchange's `identity` object, the target of every `created_by_ref`.
pub fn exchange_identity() -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": IDENTITY_ID,
        "created": IDENTITY_CREATED,
        "modified": IDENTITY_CREATED,
        "name": "tamis information-sharing exchange",
        "description": "Sanitised indicators shared by banks and ISPs, with personal data removed.",
        "identity_class": "organization",
    })
}

/// `modified` of the identity object (constant).
pub fn identity_modified() -> &'static str {
    IDENTITY_CREATED
}

/// A STIX timestamp: UTC, millisecond precision (`2026-11-20T10:00:00.000Z`).
pub fn stix_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"))
        .expect("format UTC timestamp")
}

/// A TAXII timestamp: UTC, microsecond precision (`2026-11-20T10:00:00.000000Z`).
pub fn taxii_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"))
        .expect("format UTC timestamp")
}

/// Quotes a value as a STIX pattern string literal (`'` and `\` escaped).
pub fn pattern_literal(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('\'');
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The STIX pattern matching an indicator's value.
pub fn pattern(ind: &Indicator) -> String {
    let lit = pattern_literal(&ind.value);
    if ind.value_form.is_some() {
        // A pseudonym token, BIN or escrow reference is not a valid value of
        // the standard observable: keep it on the custom type.
        return format!("[x-tamis-{}:value = {lit}]", ind.kind.as_str());
    }
    let path = match ind.kind {
        IndicatorType::Url => "url:value",
        IndicatorType::Domain => "domain-name:value",
        IndicatorType::Ipv4 => "ipv4-addr:value",
        IndicatorType::Ipv6 => "ipv6-addr:value",
        IndicatorType::Cidr if ind.value.contains(':') => "ipv6-addr:value",
        IndicatorType::Cidr => "ipv4-addr:value",
        IndicatorType::Email => "email-addr:value",
        IndicatorType::Sha256 => "file:hashes.'SHA-256'",
        IndicatorType::Sha1 => "file:hashes.'SHA-1'",
        IndicatorType::Md5 => "file:hashes.MD5",
        IndicatorType::Iban => "x-tamis-iban:value",
        IndicatorType::Phone => "x-tamis-phone:value",
        IndicatorType::Btc => "x-tamis-btc:value",
    };
    format!("[{path} = {lit}]")
}

/// STIX `indicator_types` (indicator-type-ov) for a category.
fn indicator_types(c: Category) -> &'static str {
    match c {
        Category::Other => "unknown",
        _ => "malicious-activity",
    }
}

fn type_label(k: IndicatorType) -> &'static str {
    match k {
        IndicatorType::Url => "URL",
        IndicatorType::Domain => "domain",
        IndicatorType::Ipv4 => "IPv4 address",
        IndicatorType::Ipv6 => "IPv6 address",
        IndicatorType::Cidr => "network",
        IndicatorType::Email => "e-mail address",
        IndicatorType::Sha256 => "SHA-256 file hash",
        IndicatorType::Sha1 => "SHA-1 file hash",
        IndicatorType::Md5 => "MD5 file hash",
        IndicatorType::Iban => "bank account (IBAN)",
        IndicatorType::Phone => "phone number",
        IndicatorType::Btc => "bitcoin address",
    }
}

/// The times of one version of an indicator object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionTimes {
    /// `created`: when the exchange first published the object (same on every version).
    pub created: OffsetDateTime,
    /// `modified`: identifies the version; strictly increasing per object.
    pub modified: OffsetDateTime,
}

/// The STIX 2.1 property extension (§7.3) that carries an indicator's
/// attributes: `"extensions": {EXTENSION_ID: {"extension_type":
/// "property-extension", "attributes": {...}}}`. STIX has no slot for a port
/// or a campaign key, and strict validators want custom properties to be
/// declared through an extension rather than as bare `x_` properties.
pub const EXTENSION_ID: &str = "extension-definition--6f1b1c9e-3c55-4b0a-9a3e-7d2f0e4c8a11";

/// Marks an indicator object as withdrawn from blocklists after
/// false-positive reports, pending its submitter's review: `"withdrawn":
/// true` in the tamis property extension (created if the object has none).
/// The object stays valid: a TAXII reader keeps it, but should not block on it.
pub fn mark_withdrawn(o: &mut Value) {
    let ext = o
        .as_object_mut()
        .map(|m| m.entry("extensions").or_insert_with(|| json!({})))
        .and_then(|e| e.as_object_mut())
        .map(|e| e.entry(EXTENSION_ID).or_insert_with(|| json!({"extension_type": "property-extension"})));
    if let Some(Value::Object(ext)) = ext {
        ext.insert("withdrawn".into(), json!(true));
        ext.insert("withdrawn_reason".into(), json!("false-positive"));
    }
}

/// One version of `ind` as a STIX 2.1 `indicator`, as the holder of `views`
/// may see it; `None` when no view admits it. `revoked` marks a version that
/// tells the reader the indicator is gone (retracted, expired or withheld).
pub fn indicator_object(views: &[EgressView], ind: &Indicator, times: VersionTimes, revoked: bool) -> Option<Value> {
    let ind = project(views, ind)?;
    let mut o = Map::new();
    o.insert("type".into(), json!("indicator"));
    o.insert("spec_version".into(), json!("2.1"));
    o.insert("id".into(), json!(format!("indicator--{}", ind.id)));
    o.insert("created".into(), json!(stix_timestamp(times.created)));
    o.insert("modified".into(), json!(stix_timestamp(times.modified)));
    o.insert("created_by_ref".into(), json!(IDENTITY_ID));
    let category = ind.category.as_str();
    let mut name = format!("{} {}", capitalise(category), type_label(ind.kind));
    if ind.value_form.is_some() {
        name.push_str(" (pseudonymised)");
    }
    o.insert("name".into(), json!(name));
    // `--strict` validation wants a description; when the view withholds
    // it (or there is none) a fixed, value-free text stands in.
    let description = match &ind.description {
        Some(d) => d.clone(),
        None => format!("Sanitised {category} indicator shared through the tamis exchange."),
    };
    o.insert("description".into(), json!(description));
    o.insert("indicator_types".into(), json!([indicator_types(ind.category)]));
    o.insert("pattern".into(), json!(pattern(&ind)));
    o.insert("pattern_type".into(), json!("stix"));
    o.insert("pattern_version".into(), json!("2.1"));
    let mut valid_from = ind.first_seen;
    if let Some(until) = ind.valid_until {
        // STIX requires valid_until > valid_from; keep the expiry exact.
        if until <= valid_from {
            valid_from = until - time::Duration::milliseconds(1);
        }
        o.insert("valid_until".into(), json!(stix_timestamp(until)));
    }
    o.insert("valid_from".into(), json!(stix_timestamp(valid_from)));
    o.insert("confidence".into(), json!(ind.confidence));
    if !ind.tags.is_empty() {
        o.insert("labels".into(), json!(ind.tags));
    }
    // Attributes the audience's view admits (a port, a campaign).
    if !ind.attributes.is_empty() {
        let ext = json!({"extension_type": "property-extension", "attributes": ind.attributes});
        o.insert("extensions".into(), json!({ EXTENSION_ID: ext }));
    }
    if revoked {
        o.insert("revoked".into(), json!(true));
    }
    o.insert("object_marking_refs".into(), json!([tlp_marking_id(ind.tlp)]));
    Some(Value::Object(o))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A single-comparison STIX pattern, split: object path and unescaped value.
fn parse_simple_pattern(p: &str) -> Option<(String, String)> {
    let inner = p.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    let (path, rest) = inner.split_once('=')?;
    let path: String = path.trim().to_owned();
    if path.is_empty() || path.contains(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    let body = rest.strip_prefix('\'')?;
    let mut value = String::with_capacity(body.len());
    let mut chars = body.chars();
    loop {
        match chars.next()? {
            '\\' => match chars.next()? {
                c @ ('\'' | '\\') => value.push(c),
                _ => return None,
            },
            '\'' => break,
            c => value.push(c),
        }
    }
    if !chars.as_str().trim().is_empty() {
        return None;
    }
    Some((path, value))
}

/// Our indicator type for a pattern's object path (and value, for CIDR).
fn type_of_path(path: &str, value: &str) -> Option<IndicatorType> {
    let cidr = value.contains('/');
    Some(match path {
        "domain-name:value" => IndicatorType::Domain,
        "url:value" => IndicatorType::Url,
        "ipv4-addr:value" | "ipv6-addr:value" if cidr => IndicatorType::Cidr,
        "ipv4-addr:value" => IndicatorType::Ipv4,
        "ipv6-addr:value" => IndicatorType::Ipv6,
        "email-addr:value" => IndicatorType::Email,
        "file:hashes.'SHA-256'" | "file:hashes.SHA256" | "file:hashes.'SHA256'" => IndicatorType::Sha256,
        "file:hashes.'SHA-1'" | "file:hashes.SHA1" | "file:hashes.'SHA1'" => IndicatorType::Sha1,
        "file:hashes.MD5" | "file:hashes.'MD5'" => IndicatorType::Md5,
        "x-tamis-iban:value" => IndicatorType::Iban,
        "x-tamis-phone:value" => IndicatorType::Phone,
        "x-tamis-btc:value" => IndicatorType::Btc,
        _ => return None,
    })
}

/// A STIX 2.1 bundle (or a TAXII envelope) → one SPEC §5 JSON indicator per
/// STIX `indicator` object, or a rejection naming its index in `objects` and
/// why (never the value). Objects of other types are skipped. `Err` when the
/// document is neither a bundle nor an envelope.
///
/// Only patterns made of one simple equality on a supported observable are
/// accepted: anything richer (`OR`, `AND`, `FOLLOWEDBY`, `MATCHES`…) cannot be
/// represented as one indicator value and is refused rather than guessed.
pub fn bundle_to_indicators(doc: &Value) -> Result<Vec<Result<Value, IndicatorRejection>>, String> {
    let obj = doc.as_object().ok_or("a STIX document must be a JSON object (a bundle or a TAXII envelope)")?;
    match obj.get("type") {
        None => {}
        Some(Value::String(t)) if t == "bundle" => {}
        Some(_) => return Err("expected a STIX bundle (`\"type\": \"bundle\"`) or a TAXII envelope".into()),
    }
    let objects = match obj.get("objects") {
        Some(Value::Array(a)) => a,
        None if obj.get("type").is_none() => return Ok(Vec::new()), // an empty envelope `{}`
        None => return Ok(Vec::new()),
        Some(_) => return Err("`objects` must be a list".into()),
    };
    let mut out = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let Some(o) = o.as_object() else {
            out.push(Err(IndicatorRejection::new(i, "", "a STIX object must be a JSON object")));
            continue;
        };
        if o.get("type").and_then(Value::as_str) != Some("indicator") {
            continue;
        }
        out.push(stix_indicator(i, o));
    }
    Ok(out)
}

fn stix_indicator(i: usize, o: &Map<String, Value>) -> Result<Value, IndicatorRejection> {
    let rej = |field: &str, reason: &str| IndicatorRejection::new(i, field, reason);
    if o.get("revoked").and_then(Value::as_bool) == Some(true) {
        return Err(rej("revoked", "revoked indicators are not accepted"));
    }
    match o.get("pattern_type") {
        Some(Value::String(t)) if t == "stix" => {}
        // STIX 2.0 (no `spec_version` on objects) had STIX patterns only.
        None if o.get("spec_version").is_none_or(|v| v == "2.0") => {}
        None => return Err(rej("pattern_type", "missing (required)")),
        Some(_) => return Err(rej("pattern_type", "only STIX patterns (`stix`) are accepted")),
    }
    let pattern = o
        .get("pattern")
        .ok_or_else(|| rej("pattern", "missing (required)"))?
        .as_str()
        .ok_or_else(|| rej("pattern", "must be a string"))?;
    let (path, value) = parse_simple_pattern(pattern)
        .ok_or_else(|| rej("pattern", "only a single comparison `[object:property = 'value']` is accepted"))?;
    let kind = type_of_path(&path, &value).ok_or_else(|| {
        rej(
            "pattern",
            "unsupported observable (expected domain-name, url, ipv4-addr, ipv6-addr, email-addr value or file MD5/SHA-1/SHA-256 hash)",
        )
    })?;
    let mut ind = Map::new();
    ind.insert("type".into(), json!(kind.as_str()));
    ind.insert("value".into(), json!(value));
    ind.insert("category".into(), json!(category_of(o).as_str()));
    match o.get("confidence") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|c| c <= 100) => {
            ind.insert("confidence".into(), Value::Number(n.clone()));
        }
        Some(_) => return Err(rej("confidence", "must be an integer from 0 to 100")),
    }
    match o.get("object_marking_refs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(refs)) => {
            let tlp = refs.iter().filter_map(Value::as_str).filter_map(tlp_of_marking).max();
            if let Some(t) = tlp {
                ind.insert("tlp".into(), json!(t.as_str()));
            }
        }
        Some(_) => return Err(rej("object_marking_refs", "must be a list of marking-definition ids")),
    }
    for (from, to) in [("valid_from", "first_seen"), ("valid_until", "valid_until")] {
        match o.get(from) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => {
                ind.insert(to.into(), json!(s));
            }
            Some(_) => return Err(rej(from, "must be a STIX timestamp such as 2026-11-20T10:00:00.000Z")),
        }
    }
    match o.get("description") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            ind.insert("description".into(), json!(s));
        }
        Some(_) => return Err(rej("description", "must be a string")),
    }
    match o.get("labels") {
        None | Some(Value::Null) => {}
        Some(Value::Array(l)) if l.iter().all(Value::is_string) => {
            let tags: Vec<&Value> =
                l.iter().filter(|t| t.as_str().and_then(|s| s.parse::<Category>().ok()).is_none()).collect();
            if !tags.is_empty() {
                ind.insert("tags".into(), json!(tags));
            }
        }
        Some(_) => return Err(rej("labels", "must be a list of strings")),
    }
    match o.get("extensions").and_then(|e| e.get(EXTENSION_ID)).map(|e| e.get("attributes")) {
        None | Some(None | Some(Value::Null)) => {}
        Some(Some(a @ Value::Object(_))) => {
            ind.insert("attributes".into(), a.clone());
        }
        Some(Some(_)) => return Err(rej("extensions", "the tamis extension's attributes must be an object")),
    }
    Ok(Value::Object(ind))
}

/// Our category: a label naming a category, else the first word of the
/// name as [`indicator_object`] writes it (round trip), else `other`.
fn category_of(o: &Map<String, Value>) -> Category {
    let from_labels = o
        .get("labels")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().filter_map(Value::as_str).find_map(|s| s.to_ascii_lowercase().parse().ok()));
    let from_name = || {
        let name = o.get("name").and_then(Value::as_str)?;
        name.split(' ').next()?.to_ascii_lowercase().parse().ok()
    };
    from_labels.or_else(from_name).unwrap_or(Category::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sources;

    fn view(fields: &[&str]) -> EgressView {
        EgressView {
            audience: "law-enforcement".into(),
            types: vec![],
            categories: vec![],
            max_tlp: Tlp::AmberStrict,
            min_confidence: 0,
            fields: fields.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn ind(kind: IndicatorType, value: &str) -> Indicator {
        let t = OffsetDateTime::parse("2026-11-20T10:00:00Z", &Rfc3339).unwrap();
        Indicator {
            id: "a932fcc6-e032-476c-826f-cb970a5a1ade".into(),
            kind,
            value: value.into(),
            value_form: None,
            category: Category::Phishing,
            confidence: 80,
            tlp: Tlp::Green,
            first_seen: t,
            last_seen: t,
            valid_until: None,
            description: Some("kit on shared hosting".into()),
            attributes: Default::default(),
            tags: vec!["smishing".into()],
            sources: Sources::default(),
            policy: "default@00".into(),
        }
    }

    fn times() -> VersionTimes {
        let t = OffsetDateTime::parse("2026-11-21T08:30:00.123456Z", &Rfc3339).unwrap();
        VersionTimes { created: t, modified: t }
    }

    #[test]
    fn patterns_per_type_with_escaping() {
        use IndicatorType::*;
        assert_eq!(
            pattern(&ind(Url, "https://x.example.com/a'b\\c")),
            r"[url:value = 'https://x.example.com/a\'b\\c']"
        );
        assert_eq!(pattern(&ind(Domain, "x.example.com")), "[domain-name:value = 'x.example.com']");
        assert_eq!(pattern(&ind(Cidr, "185.220.101.0/24")), "[ipv4-addr:value = '185.220.101.0/24']");
        assert_eq!(pattern(&ind(Cidr, "2a00:1450::/32")), "[ipv6-addr:value = '2a00:1450::/32']");
        assert_eq!(pattern(&ind(Sha256, "ab")), "[file:hashes.'SHA-256' = 'ab']");
        assert_eq!(pattern(&ind(Md5, "ab")), "[file:hashes.MD5 = 'ab']");
        let mut tok = ind(Email, "tok:v1:email:00ff");
        tok.value_form = Some("pseudonymised".into());
        assert_eq!(pattern(&tok), "[x-tamis-email:value = 'tok:v1:email:00ff']");
        // Round trip through the parser.
        let (p, v) = parse_simple_pattern(r"[url:value = 'https://x.example.com/a\'b\\c']").unwrap();
        assert_eq!((p.as_str(), v.as_str()), ("url:value", "https://x.example.com/a'b\\c"));
    }

    #[test]
    fn indicator_object_has_the_required_properties_and_respects_the_view() {
        let o = indicator_object(
            &[view(&["description", "tags"])],
            &ind(IndicatorType::Domain, "x.example.com"),
            times(),
            false,
        )
        .unwrap();
        assert_eq!(o["id"], "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade");
        assert_eq!(o["created"], "2026-11-21T08:30:00.123Z");
        assert_eq!(o["valid_from"], "2026-11-20T10:00:00.000Z");
        assert_eq!(o["object_marking_refs"], json!([tlp_marking_id(Tlp::Green)]));
        assert_eq!(o["labels"], json!(["smishing"]));
        assert_eq!(o["description"], "kit on shared hosting");
        assert!(o.get("revoked").is_none());
        let o = indicator_object(&[view(&[])], &ind(IndicatorType::Domain, "x.example.com"), times(), true).unwrap();
        assert!(o.get("labels").is_none(), "{o}");
        assert!(!o["description"].as_str().unwrap().contains("kit"), "{o}");
        assert_eq!(o["revoked"], true);
        let mut red = ind(IndicatorType::Domain, "x.example.com");
        red.tlp = Tlp::Red;
        assert!(indicator_object(&[view(&["description"])], &red, times(), false).is_none());
    }

    #[test]
    fn attributes_travel_in_a_property_extension_when_the_view_admits_them() {
        let mut i = ind(IndicatorType::Ipv4, "185.220.101.4");
        i.attributes.insert("port".into(), "4444".into());
        let o = indicator_object(&[view(&["attributes"])], &i, times(), false).unwrap();
        let ext = &o["extensions"][EXTENSION_ID];
        assert_eq!(
            (&ext["extension_type"], &ext["attributes"]),
            (&json!("property-extension"), &json!({"port": "4444"}))
        );
        let o = indicator_object(&[view(&[])], &i, times(), false).unwrap();
        assert!(o.get("extensions").is_none(), "{o}");
        // And back: a bundle's custom property becomes the attributes.
        let mut back = indicator_object(&[view(&["attributes"])], &i, times(), false).unwrap();
        let doc = json!({"type": "bundle", "objects": [back.clone()]});
        let out = bundle_to_indicators(&doc).unwrap();
        assert_eq!(out[0].as_ref().unwrap()["attributes"], json!({"port": "4444"}));
        back["extensions"][EXTENSION_ID]["attributes"] = json!("port=4444");
        let out = bundle_to_indicators(&json!({"objects": [back]})).unwrap();
        assert_eq!(out[0].as_ref().unwrap_err().field, "extensions");
    }

    #[test]
    fn valid_until_stays_after_valid_from() {
        let mut i = ind(IndicatorType::Domain, "x.example.com");
        i.valid_until = Some(i.first_seen);
        let o = indicator_object(&[view(&[])], &i, times(), false).unwrap();
        assert_eq!(o["valid_until"], "2026-11-20T10:00:00.000Z");
        assert_eq!(o["valid_from"], "2026-11-20T09:59:59.999Z");
    }

    #[test]
    fn bundle_to_indicators_maps_simple_patterns_and_rejects_the_rest() {
        let doc = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
            {"type": "identity", "id": "identity--x", "name": "Bank"},
            {"type": "indicator", "pattern_type": "stix", "pattern": "[domain-name:value = 'evil.example.com']",
             "confidence": 70, "object_marking_refs": [tlp_marking_id(Tlp::Green)],
             "valid_from": "2026-11-20T10:00:00.000Z", "labels": ["phishing", "fake-parcel"], "description": "d"},
            {"type": "indicator", "pattern_type": "stix",
             "pattern": "[file:hashes.'SHA-256' = 'aa'] OR [file:hashes.MD5 = 'secret-value']"},
            {"type": "indicator", "pattern_type": "sigma", "pattern": "x"},
            {"type": "indicator", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '185.220.101.0/24']",
             "object_marking_refs": ["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]},
            {"type": "indicator", "pattern_type": "stix", "pattern": "[user-account:user_id = 'jdupont']"},
            {"type": "indicator", "pattern_type": "stix", "pattern": "[email-addr:value = 'o\\'brien@bad.example.com']",
             "name": "Fraud e-mail address"},
            {"type": "indicator", "pattern_type": "stix", "pattern": "[file:hashes.'SHA-1' = 'ab']", "confidence": 101},
            "not an object"
        ]});
        let out = bundle_to_indicators(&doc).unwrap();
        assert_eq!(out.len(), 8);
        let first = out[0].as_ref().unwrap();
        assert_eq!(first["type"], "domain");
        assert_eq!(first["value"], "evil.example.com");
        assert_eq!(first["category"], "phishing");
        assert_eq!(first["tlp"], "green");
        assert_eq!(first["confidence"], 70);
        assert_eq!(first["first_seen"], "2026-11-20T10:00:00.000Z");
        assert_eq!(first["tags"], json!(["fake-parcel"]));
        let r = out[1].as_ref().unwrap_err();
        assert_eq!((r.index, r.field.as_str()), (2, "pattern"));
        assert_eq!(out[2].as_ref().unwrap_err().field, "pattern_type");
        let cidr = out[3].as_ref().unwrap();
        assert_eq!((cidr["type"].as_str(), cidr["tlp"].as_str()), (Some("cidr"), Some("red")));
        assert_eq!(out[4].as_ref().unwrap_err().index, 5);
        let email = out[5].as_ref().unwrap();
        assert_eq!(
            (email["value"].as_str(), email["category"].as_str()),
            (Some("o'brien@bad.example.com"), Some("fraud"))
        );
        assert_eq!(out[6].as_ref().unwrap_err().field, "confidence");
        assert_eq!(out[7].as_ref().unwrap_err().index, 8);
        let text = format!("{out:?}");
        for secret in ["secret-value", "jdupont"] {
            assert!(!text.contains(secret), "rejections must not echo values: {text}");
        }
        // The output is a valid submission item.
        assert!(crate::model::parse_indicator(0, first).is_ok());
        assert!(crate::model::parse_indicator(0, cidr).is_ok());
    }

    #[test]
    fn stix_2_0_indicators_without_pattern_type_are_read() {
        let doc = json!({"type": "bundle", "spec_version": "2.0", "objects": [
            {"type": "indicator", "labels": ["malicious-activity"], "pattern": "[domain-name:value = 'x.example.com']"},
            {"type": "indicator", "spec_version": "2.1", "pattern": "[domain-name:value = 'y.example.com']"}]});
        let out = bundle_to_indicators(&doc).unwrap();
        assert_eq!(out[0].as_ref().unwrap()["value"], "x.example.com");
        assert_eq!(out[1].as_ref().unwrap_err().field, "pattern_type");
    }

    #[test]
    fn envelopes_are_accepted_and_other_documents_refused() {
        assert!(bundle_to_indicators(&json!({})).unwrap().is_empty());
        let env = json!({"more": false, "objects": [
            {"type": "indicator", "pattern_type": "stix", "pattern": "[url:value = 'http://bad.example.com/x']"}]});
        assert_eq!(bundle_to_indicators(&env).unwrap().len(), 1);
        assert!(bundle_to_indicators(&json!([1])).is_err());
        assert!(bundle_to_indicators(&json!({"type": "indicator"})).is_err());
        assert!(bundle_to_indicators(&json!({"type": "bundle", "objects": 3})).is_err());
    }
}
