//! Records from the feeds banks and ISPs already run, mapped onto SPEC §5
//! indicators before validation, so that onboarding a feed needs no
//! hand-written converter: Maltrail (`malicious`/`suspicious` categories,
//! `family`, `port`), MISP attributes and events (types such as `ip-dst` or
//! `ip-dst|port`, `Tag` lists with `tlp:` markings, `comment`), and CSV
//! exports with the usual column names (`indicator`, `ioc`, `threat`,
//! `dateadded`, a column named after the type as in URLhaus' `url`).
//!
//! The mapping only renames and splits: it never invents a value, it keeps
//! every word it moves (a Maltrail `malicious` becomes category `other` plus
//! the tag `malicious`), and what it cannot map is left to the validator,
//! whose errors list the accepted names. Moved text still goes through the
//! sanitiser like any submitted field. The table is in `docs/import.md`.

use serde_json::{Map, Value};

use crate::model::IndicatorType;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, PrimitiveDateTime};

/// Where an item came from: MISP attributes carry housekeeping members
/// (`uuid`, `to_ids`...) that are dropped silently instead of being counted
/// as unknown fields.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Submission,
    Misp,
}

/// MISP attribute members that hold no indicator data.
const MISP_HOUSEKEEPING: &[&str] = &[
    "id",
    "uuid",
    "event_id",
    "object_id",
    "object_relation",
    "to_ids",
    "distribution",
    "sharing_group_id",
    "deleted",
    "disable_correlation",
    "timestamp",
    "last_seen",
    "Galaxy",
    "ShadowAttribute",
    "Sighting",
    "Event",
];

/// Maps one item in place; items that are not objects are left to the
/// validator.
pub fn map_item(item: &mut Value, origin: Origin) {
    let Value::Object(obj) = item else { return };
    if origin == Origin::Misp {
        obj.retain(|k, _| !MISP_HOUSEKEEPING.contains(&k.as_str()));
    }
    map_type(obj);
    map_category(obj);
    if let Some(Value::String(t)) = obj.get_mut("tlp")
        && let Some(mapped) = tlp_alias(t)
    {
        *t = mapped;
    }
    if let Some(tags) = obj.remove("Tag") {
        misp_tags(obj, &tags);
    }
    for key in ["family", "malware_family", "malware"] {
        if let Some(v) = obj.remove(key) {
            match v {
                Value::String(s) => push_tags(obj, s.split([',', '|']).map(str::to_owned)),
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    push_tags(obj, items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)))
                }
                other => {
                    obj.insert(key.to_owned(), other); // left for the validator to drop
                }
            }
        }
    }
    if !obj.contains_key("description")
        && let Some(c) = obj.remove("comment")
    {
        obj.insert("description".into(), c);
    }
    if let Some(port) = obj.remove("port") {
        put_attribute(obj, "port", port);
    }
    for field in ["first_seen", "valid_until"] {
        if let Some(Value::String(s)) = obj.get_mut(field)
            && let Some(t) = plain_timestamp(s)
        {
            *s = t;
        }
    }
}

/// Foreign type names: MISP attribute types, STIX object names, common CSV
/// words. IP and hash types are decided by the value.
fn map_type(obj: &mut Map<String, Value>) {
    let Some(Value::String(t)) = obj.get("type") else { return };
    let name = t.trim().to_ascii_lowercase().replace('_', "-");
    let value = obj.get("value").and_then(Value::as_str).unwrap_or("").trim().to_owned();
    let canonical = match name.as_str() {
        n if n.parse::<IndicatorType>().is_ok() => name.clone(),
        "ip" | "ip-dst" | "ip-src" | "ip-address" | "ipaddress" | "ip-addr" | "ipv4-addr" | "ipv6-addr"
        | "ipv4-address" | "ipv6-address" => ip_type(&value).to_owned(),
        "ip-dst|port" | "ip-src|port" => {
            let split = if value.contains('|') { value.rsplit_once('|') } else { value.rsplit_once(':') };
            let Some((ip, port)) = split.filter(|(_, p)| p.parse::<u16>().is_ok()) else {
                return; // the validator says the value is not an address
            };
            let (ip, port) = (ip.trim_matches(['[', ']']).to_owned(), port.to_owned());
            put_attribute(obj, "port", Value::String(port));
            obj.insert("value".into(), Value::String(ip.clone()));
            ip_type(&ip).to_owned()
        }
        "hostname" | "fqdn" | "host" | "domain-name" => "domain".into(),
        "link" => "url".into(),
        "email-src" | "email-dst" | "email-addr" | "email-address" | "e-mail" => "email".into(),
        "phone-number" | "msisdn" | "telephone" => "phone".into(),
        "bitcoin" | "btc-address" | "bitcoin-address" => "btc".into(),
        "sha-256" => "sha256".into(),
        "sha-1" => "sha1".into(),
        "hash" | "filehash" | "file-hash" => match value.len() {
            32 => "md5".into(),
            40 => "sha1".into(),
            64 => "sha256".into(),
            _ => return,
        },
        "bank-account-nr" => "iban".into(),
        _ => return, // unknown: the validator lists the accepted types
    };
    obj.insert("type".into(), Value::String(canonical));
}

fn ip_type(value: &str) -> &'static str {
    if value.contains('/') {
        "cidr"
    } else if value.contains(':') {
        "ipv6"
    } else {
        "ipv4"
    }
}

/// Category words of other feeds. Maltrail's `malicious`/`suspicious` say
/// how sure the feed is, not what the threat is: category `other`, the word
/// kept as a tag.
fn map_category(obj: &mut Map<String, Value>) {
    let Some(Value::String(c)) = obj.get("category") else { return };
    let name = c.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    let canonical = match name.as_str() {
        "phishing" | "malware" | "c2" | "botnet" | "ddos" | "fraud" | "scam" | "spam" | "illegal-content" | "other" => {
            return;
        }
        "malicious" | "suspicious" => {
            push_tags(obj, [name.clone()]);
            "other"
        }
        "phish" | "phishing-site" | "credential-phishing" => "phishing",
        "c&c" | "cnc" | "cc" | "c2c" | "botnet-cc" | "command-and-control" | "c2-server" => "c2",
        "malware-download" | "payload-delivery" | "payload-installation" | "artifacts-dropped" | "ransomware" => {
            "malware"
        }
        "financial-fraud" => "fraud",
        "network-activity" | "external-analysis" => "other",
        _ => return, // unknown: the validator lists the accepted categories
    };
    obj.insert("category".into(), Value::String(canonical.into()));
}

/// `TLP:GREEN`, `tlp:white` (TLP 1.0 for `clear`).
fn tlp_alias(t: &str) -> Option<String> {
    let lower = t.trim().to_ascii_lowercase();
    let bare = lower.strip_prefix("tlp:").unwrap_or(&lower);
    let mapped = if bare == "white" { "clear" } else { bare };
    (mapped != t).then(|| mapped.to_owned())
}

/// MISP `Tag: [{"name": "tlp:green"}, {"name": "phishing-kit"}]`: the TLP
/// marking sets `tlp` (unless given), the other names become tags.
fn misp_tags(obj: &mut Map<String, Value>, tags: &Value) {
    let names = tags.as_array().into_iter().flatten().filter_map(|t| t.get("name").and_then(Value::as_str));
    let mut plain = Vec::new();
    for name in names {
        if name.to_ascii_lowercase().starts_with("tlp:") {
            if !obj.contains_key("tlp") {
                obj.insert("tlp".into(), Value::String(tlp_alias(name).unwrap_or_else(|| name.to_owned())));
            }
        } else {
            plain.push(name.to_owned());
        }
    }
    push_tags(obj, plain);
}

fn push_tags(obj: &mut Map<String, Value>, tags: impl IntoIterator<Item = String>) {
    let entry = obj.entry("tags").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
        for t in tags {
            let t = t.trim();
            if !t.is_empty() && !list.iter().any(|x| x.as_str() == Some(t)) {
                list.push(Value::String(t.to_owned()));
            }
        }
    }
}

fn put_attribute(obj: &mut Map<String, Value>, key: &str, value: Value) {
    let entry = obj.entry("attributes").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(attrs) = entry {
        attrs.entry(key.to_owned()).or_insert(value);
    }
}

/// `2026-11-20 10:00:00` (URLhaus, ThreatFox: UTC) and `2026-11-20` as RFC
/// 3339; anything else is left for the validator.
fn plain_timestamp(s: &str) -> Option<String> {
    let s = s.trim();
    if time::OffsetDateTime::parse(s, &Rfc3339).is_ok() {
        return None;
    }
    let dt = PrimitiveDateTime::parse(s, format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
        .ok()
        .or_else(|| Date::parse(s, format_description!("[year]-[month]-[day]")).ok().map(|d| d.midnight()))?;
    dt.assume_utc().format(&Rfc3339).ok()
}

/// The attributes of a MISP document: an event (`{"Event": {...}}`), the
/// answer of `events/restSearch` (`{"response": [{"Event": ...}]}`) or of
/// `attributes/restSearch` (`{"response": {"Attribute": [...]}}`), or
/// `{"Attribute": [...]}`. `None` when the document is none of these.
/// Attributes of objects (`Event.Object[].Attribute`) count too; the
/// event's own tags (its TLP) apply to attributes that have none.
pub fn misp_attributes(doc: Value) -> Option<Vec<Value>> {
    let Value::Object(mut top) = doc else { return None };
    if let Some(resp) = top.remove("response") {
        return match resp {
            Value::Array(events) => Some(events.into_iter().filter_map(misp_attributes).flatten().collect::<Vec<_>>()),
            other => misp_attributes(other),
        };
    }
    if let Some(Value::Object(event)) = top.remove("Event") {
        return Some(event_attributes(event));
    }
    match top.remove("Attribute") {
        Some(Value::Array(attrs)) => Some(attrs),
        _ => None,
    }
}

fn event_attributes(mut event: Map<String, Value>) -> Vec<Value> {
    let mut out = match event.remove("Attribute") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    if let Some(Value::Array(objects)) = event.remove("Object") {
        for o in objects {
            if let Some(Value::Array(a)) = o.get("Attribute") {
                out.extend(a.iter().cloned());
            }
        }
    }
    if let Some(tags) = event.get("Tag").filter(|t| t.is_array()) {
        for a in &mut out {
            if let Value::Object(attr) = a
                && !attr.contains_key("Tag")
            {
                attr.insert("Tag".into(), tags.clone());
            }
        }
    }
    out
}

/// What a CSV column holds once its name is mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// A SPEC §5 field.
    Field(&'static str),
    /// More tags (`family`, `malware`...), added to `tags`.
    Tags,
    /// The value, of the type the column is named after (URLhaus' `url`).
    ValueOf(&'static str),
    /// Not understood: dropped by the sanitiser and counted, as unknown
    /// JSON members are.
    Unknown(String),
}

/// Maps a CSV header name (already trimmed and lower-cased).
pub fn csv_column(name: &str) -> Column {
    let n = name.replace(['_', ' '], "-");
    let field = match n.as_str() {
        "type" | "indicator-type" | "ioc-type" => "type",
        "value" | "indicator" | "ioc" | "observable" | "ioc-value" | "indicator-value" => "value",
        "category" | "threat" | "threat-type" => "category",
        "confidence" | "confidence-level" => "confidence",
        "tlp" => "tlp",
        "first-seen" | "firstseen" | "first-seen-utc" | "dateadded" | "date-added" => "first_seen",
        "valid-until" | "expires" | "expiration" | "valid-to" => "valid_until",
        "description" | "comment" | "comments" => "description",
        "tags" | "tag" => "tags",
        "family" | "malware" | "malware-family" | "malware-printable" => return Column::Tags,
        "hostname" | "fqdn" => return Column::ValueOf("domain"),
        "ip" | "ip-address" | "dst-ip" => return Column::ValueOf("ip"),
        "sha256-hash" => return Column::ValueOf("sha256"),
        "md5-hash" => return Column::ValueOf("md5"),
        "sha1-hash" => return Column::ValueOf("sha1"),
        // A column named after one of our types holds values of that type.
        other => {
            return match other.parse::<IndicatorType>() {
                Ok(t) => Column::ValueOf(t.as_str()),
                Err(()) => Column::Unknown(name.to_owned()),
            };
        }
    };
    Column::Field(field)
}

/// The header's value column names accepted, for error messages.
pub const CSV_VALUE_COLUMNS: &str = "value (or indicator, ioc, observable, or a column named after the type: url, domain, ip, ipv4, ipv6, sha256, md5, sha1, email...)";

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapped(v: Value) -> Value {
        let mut v = v;
        map_item(&mut v, Origin::Submission);
        v
    }

    #[test]
    fn maltrail_records_keep_every_word() {
        let v = mapped(
            json!({"category":"malicious","family":"android_ermac","type":"ipv4","value":"1.2.3.4","port":8080}),
        );
        assert_eq!(v["category"], "other");
        assert_eq!(v["tags"], json!(["malicious", "android_ermac"]));
        assert_eq!(v["attributes"]["port"], 8080);
        assert!(v.get("family").is_none() && v.get("port").is_none());
        let v = mapped(
            json!({"category":"Suspicious","type":"domain","value":"x.top","tags":["android_ermac"],"family":"android_ermac"}),
        );
        assert_eq!(
            (v["category"].as_str(), v["tags"].clone()),
            (Some("other"), json!(["android_ermac", "suspicious"]))
        );
    }

    #[test]
    fn misp_types_tags_and_comments() {
        let mut v = json!({"type":"ip-dst|port","value":"203.0.113.9|4444","category":"Network activity",
            "comment":"C2 of the campaign","to_ids":true,"uuid":"5f1c...","Tag":[{"name":"tlp:green"},{"name":"emotet"}]});
        map_item(&mut v, Origin::Misp);
        assert_eq!(
            v,
            json!({"type":"ipv4","value":"203.0.113.9","category":"other","description":"C2 of the campaign",
                "tlp":"green","tags":["emotet"],"attributes":{"port":"4444"}})
        );
        for (t, value, want) in [
            ("ip-src", "2001:db8::1", "ipv6"),
            ("hostname", "a.example", "domain"),
            ("email-src", "a@b.example", "email"),
            ("phone-number", "+33612345678", "phone"),
            ("hash", &"a".repeat(64), "sha256"),
            ("hash", &"a".repeat(32), "md5"),
            ("ip", "198.51.100.0/24", "cidr"),
        ] {
            assert_eq!(mapped(json!({"type":t,"value":value}))["type"], want, "{t}");
        }
        // Unknown names are left for the validator's error.
        assert_eq!(mapped(json!({"type":"regkey","value":"x"}))["type"], "regkey");
        assert_eq!(mapped(json!({"type":"hash","value":"abc"}))["type"], "hash");
        assert_eq!(mapped(json!({"category":"weird"}))["category"], "weird");
        assert_eq!(mapped(json!({"tlp":"TLP:WHITE"}))["tlp"], "clear");
    }

    #[test]
    fn misp_documents_yield_their_attributes() {
        let event = json!({"Event":{"info":"x","Tag":[{"name":"tlp:amber"}],
            "Attribute":[{"type":"domain","value":"a.example"},{"type":"url","value":"http://b.example/","Tag":[{"name":"tlp:green"}]}],
            "Object":[{"name":"file","Attribute":[{"type":"sha256","value":"0".repeat(64)}]}]}});
        let attrs = misp_attributes(event.clone()).unwrap();
        assert_eq!(attrs.len(), 3);
        assert_eq!(attrs[0]["Tag"][0]["name"], "tlp:amber");
        assert_eq!(attrs[1]["Tag"][0]["name"], "tlp:green");
        assert_eq!(misp_attributes(json!({"response":[event.clone(), event]})).unwrap().len(), 6);
        assert_eq!(misp_attributes(json!({"response":{"Attribute":[{"type":"domain"}]}})).unwrap().len(), 1);
        assert!(misp_attributes(json!({"other":1})).is_none());
        assert!(misp_attributes(json!([1])).is_none());
    }

    #[test]
    fn plain_timestamps_become_rfc3339() {
        assert_eq!(plain_timestamp("2026-11-20 10:00:00").as_deref(), Some("2026-11-20T10:00:00Z"));
        assert_eq!(plain_timestamp("2026-11-20").as_deref(), Some("2026-11-20T00:00:00Z"));
        assert_eq!(plain_timestamp("2026-11-20T10:00:00Z"), None);
        assert_eq!(plain_timestamp("yesterday"), None);
    }

    #[test]
    fn csv_column_names() {
        assert_eq!(csv_column("ioc"), Column::Field("value"));
        assert_eq!(csv_column("threat"), Column::Field("category"));
        assert_eq!(csv_column("dateadded"), Column::Field("first_seen"));
        assert_eq!(csv_column("url"), Column::ValueOf("url"));
        assert_eq!(csv_column("malware_printable"), Column::Tags);
        assert_eq!(csv_column("urlhaus_link"), Column::Unknown("urlhaus_link".into()));
    }
}
