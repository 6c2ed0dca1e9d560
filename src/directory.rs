//! The 24/7 contact-point directory (issue 13, item 4): each participant
//! publishes its own contact points (`PUT /v1/directory/self`) and every
//! registered participant reads them all (`GET /v1/directory`).
//!
//! These are business contacts a participant publishes on purpose, so the
//! privacy filter does not apply to them; they are validated instead (a
//! documented role, an E.164 phone number, a mailbox address, ISO 639-1
//! languages, an OpenPGP fingerprint), with errors naming the contact's
//! index and the field, never quoting the value. The DPO report lists the
//! directory as a processing of its own.
//!
//! Roles ([`ROLES`]): `incident-response` (the 24/7 CSIRT/SOC desk),
//! `fraud` (fraud desk), `abuse` (abuse handling, takedowns), `legal`
//! (legal orders, requests from authorities), `data-protection` (the DPO),
//! `law-enforcement-liaison` (the single point of contact for police),
//! `technical` (integration with the exchange), `management` (escalation).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The contact roles a participant may publish.
pub const ROLES: &[&str] = &[
    "incident-response",
    "fraud",
    "abuse",
    "legal",
    "data-protection",
    "law-enforcement-liaison",
    "technical",
    "management",
];

/// Most contact points one participant publishes.
pub const MAX_CONTACTS: usize = 32;
/// Longest `hours` text.
pub const MAX_HOURS: usize = 64;
/// Most languages of one contact point.
pub const MAX_LANGUAGES: usize = 12;
/// Largest body of `PUT /v1/directory/self`.
pub const MAX_BODY: u64 = 64 * 1024;

/// One contact point, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// One of [`ROLES`].
    pub role: String,
    /// When it answers: `24/7`, or a short text such as `Mo-Fr 08:00-18:00 CET`.
    pub hours: String,
    /// E.164 (`+33123456789`).
    pub phone: String,
    /// A functional mailbox (`soc@bank.example`), lower-cased domain.
    pub email: String,
    /// ISO 639-1 codes (`fr`, `en`).
    pub languages: Vec<String>,
    /// OpenPGP key fingerprint (40 or 64 hexadecimal digits, upper case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgp: Option<String>,
}

/// Parses and validates the body of `PUT /v1/directory/self`:
/// `{"contacts":[...]}`. The error names the place (`contacts[2].phone`) and
/// what is expected, never the value.
pub fn parse_contacts(body: &[u8]) -> Result<Vec<Contact>, String> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("malformed JSON at line {} column {}", e.line(), e.column()))?;
    let Value::Object(top) = doc else { return Err("the body must be an object {\"contacts\":[...]}".into()) };
    if let Some(k) = top.keys().find(|k| *k != "contacts") {
        return Err(format!("unknown member `{}` (expected `contacts`)", cut(k)));
    }
    let Some(Value::Array(list)) = top.get("contacts") else {
        return Err("`contacts` must be an array of contact points".into());
    };
    if list.len() > MAX_CONTACTS {
        return Err(format!("at most {MAX_CONTACTS} contact points"));
    }
    list.iter().enumerate().map(|(i, c)| contact(c).map_err(|m| format!("contacts[{i}]{m}"))).collect()
}

fn cut(s: &str) -> String {
    s.chars().take(32).collect()
}

/// One contact point; the error starts with `.field` (or `:` for the whole).
fn contact(v: &Value) -> Result<Contact, String> {
    let Value::Object(m) = v else { return Err(": must be an object".into()) };
    const FIELDS: &[&str] = &["role", "hours", "phone", "email", "languages", "pgp"];
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(": unknown field `{}` (expected {})", cut(k), FIELDS.join(", ")));
    }
    let text = |f: &str| -> Result<&str, String> {
        match m.get(f) {
            Some(Value::String(s)) => Ok(s.trim()),
            Some(_) => Err(format!(".{f}: must be a string")),
            None => Err(format!(".{f}: is required")),
        }
    };
    let role = text("role")?;
    if !ROLES.contains(&role) {
        return Err(format!(".role: must be one of {}", ROLES.join(", ")));
    }
    let hours = text("hours")?;
    if hours.is_empty() || hours.chars().count() > MAX_HOURS || hours.chars().any(char::is_control) {
        return Err(format!(".hours: 1 to {MAX_HOURS} printable characters (e.g. `24/7`)"));
    }
    let phone = phone(text("phone")?).ok_or(".phone: must be an E.164 number (`+` and 8 to 15 digits)")?;
    let email = email(text("email")?).ok_or(".email: must be a mailbox address (`team@example.org`)")?;
    let languages = languages(m.get("languages"))?;
    let pgp = match m.get("pgp") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(fingerprint(s).ok_or(".pgp: must be an OpenPGP fingerprint (40 or 64 hexadecimal digits)")?)
        }
        Some(_) => return Err(".pgp: must be a string".into()),
    };
    Ok(Contact { role: role.to_owned(), hours: hours.to_owned(), phone, email, languages, pgp })
}

/// `+` and 8 to 15 digits, spaces, dots and dashes dropped.
fn phone(s: &str) -> Option<String> {
    let rest = s.strip_prefix('+')?;
    let digits: String = rest.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
    let ok = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

/// `local@domain` with a dotted domain, at most 254 characters, ASCII.
fn email(s: &str) -> Option<String> {
    if s.len() > 254 || !s.is_ascii() {
        return None;
    }
    let (local, domain) = s.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    (local_ok && domain_ok).then(|| format!("{local}@{}", domain.to_ascii_lowercase()))
}

fn languages(v: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(Value::Array(list)) = v else { return Err(".languages: must be an array of ISO 639-1 codes".into()) };
    if list.is_empty() || list.len() > MAX_LANGUAGES {
        return Err(format!(".languages: 1 to {MAX_LANGUAGES} ISO 639-1 codes"));
    }
    let mut out = Vec::with_capacity(list.len());
    for (j, l) in list.iter().enumerate() {
        match l.as_str().map(str::trim) {
            Some(code) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
                let code = code.to_ascii_lowercase();
                if !out.contains(&code) {
                    out.push(code);
                }
            }
            _ => return Err(format!(".languages[{j}]: must be an ISO 639-1 code such as `fr`")),
        }
    }
    Ok(out)
}

/// 40 (v4) or 64 (v5/v6) hexadecimal digits, spaces dropped, upper case.
fn fingerprint(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ' ').collect();
    ((hex.len() == 40 || hex.len() == 64) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(c: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "contacts": [c] })).unwrap()
    }

    fn good() -> Value {
        serde_json::json!({"role": "incident-response", "hours": "24/7", "phone": "+33 1 23 45 67 89",
            "email": "soc@Bank-A.Example", "languages": ["FR", "en"], "pgp": "0123 4567 89ab cdef 0123 4567 89ab cdef 0123 4567"})
    }

    #[test]
    fn a_valid_contact_is_normalised() {
        let c = parse_contacts(&body(good())).unwrap();
        assert_eq!(c[0].phone, "+33123456789");
        assert_eq!(c[0].email, "soc@bank-a.example");
        assert_eq!(c[0].languages, ["fr", "en"]);
        assert_eq!(c[0].pgp.as_deref(), Some("0123456789ABCDEF0123456789ABCDEF01234567"));
        assert!(parse_contacts(br#"{"contacts":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn errors_name_index_and_field_without_the_value() {
        for (field, value, expected) in [
            ("role", serde_json::json!("ceo"), "contacts[0].role: must be one of"),
            ("phone", serde_json::json!("0612345678"), "contacts[0].phone: must be an E.164"),
            ("email", serde_json::json!("not-an-address"), "contacts[0].email:"),
            ("languages", serde_json::json!(["french"]), "contacts[0].languages[0]:"),
            ("pgp", serde_json::json!("abc"), "contacts[0].pgp:"),
            ("hours", serde_json::json!(""), "contacts[0].hours:"),
            ("extra", serde_json::json!("x"), "contacts[0]: unknown field `extra`"),
        ] {
            let mut c = good();
            c[field] = value.clone();
            let e = parse_contacts(&body(c)).unwrap_err();
            assert!(e.starts_with(expected), "{field}: {e}");
            if let Some(v) = value.as_str() {
                assert!(v.len() < 3 || !e.contains(v), "{e}");
            }
        }
        let mut c = good();
        c.as_object_mut().unwrap().remove("email");
        assert_eq!(parse_contacts(&body(c)).unwrap_err(), "contacts[0].email: is required");
        assert!(parse_contacts(b"{").unwrap_err().starts_with("malformed JSON"));
        assert!(parse_contacts(br#"{"contacts":{}}"#).unwrap_err().contains("array"));
        let many = serde_json::json!({ "contacts": vec![good(); MAX_CONTACTS + 1] });
        assert!(parse_contacts(&serde_json::to_vec(&many).unwrap()).unwrap_err().contains("at most"));
    }
}
