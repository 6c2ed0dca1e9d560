//! Values named by their key inside free text: `TargetUserName=d.nogueira`,
//! `srcuser="jdoe"` (Windows events, firewall and proxy key=value logs)
//! and the cells of a delimited table under its header row
//! (`Name;Konto;Geburtsdatum` then `…;23.10.72`). The policy's key rules
//! (`[[ingest.keys]]`) say what each value is, as they do for attributes;
//! a value no rule names is left to the detectors and default-deny.

use crate::policy::{DataCategory, Policy};

/// One value a key rule names: byte range and category.
#[derive(Debug, PartialEq, Eq)]
pub struct Keyed {
    pub start: usize,
    pub end: usize,
    pub category: DataCategory,
}

/// Appends the values of `text` that a key rule of `policy` names.
pub fn spans(text: &str, policy: &Policy, out: &mut Vec<Keyed>) {
    if text.contains('=') {
        inline(text, policy, out);
    }
    // (`"key": value` contains `"key":` too)
    if text.contains('"') && text.contains("\":") {
        json_pairs(text, policy, out);
    }
    if text.contains('\n') {
        table(text, policy, out);
    }
    if text.contains(':') && text.contains('_') {
        colon_pairs(text, policy, out);
    }
}

/// `customer_id: CUST-641327`, `(num_cliente: CUST-631697)`: a machine
/// key (words joined by `_`) and a colon before one value, as pasted from a
/// record or a log. Labels of prose (`Note: …`) have no `_` and are left to
/// the cue words; an e-mail value is left to the detectors, which tell the
/// attacker's from a person's.
fn colon_pairs(text: &str, policy: &Policy, out: &mut Vec<Keyed>) {
    let b = text.as_bytes();
    for (colon, _) in text.match_indices(':') {
        let ks = key_start(b, colon);
        let key = &text[ks..colon];
        if key.len() < 3 || key.len() > 40 || !key.contains('_') || (ks > 0 && matches!(b[ks - 1], b'/' | b':' | b'='))
        {
            continue;
        }
        let mut vs = colon + 1;
        while b.get(vs) == Some(&b' ') {
            vs += 1;
        }
        let k = text[vs..]
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '|' | '"' | '\'' | ')' | ']' | '}'))
            .unwrap_or(text.len() - vs);
        let ve = vs + k;
        let v = text[vs..ve].trim_end_matches('.');
        if !keyable(v) || v.contains('@') {
            continue;
        }
        if let Some(rule) = policy.key_rule(key) {
            out.push(Keyed { start: vs, end: vs + v.len(), category: rule.category });
        }
    }
}

/// A value a key rule may take: not empty or `-`, no link (the URL
/// scrubber's) and no address (the IP detectors' whatever the key says,
/// `IpAddress=`).
fn keyable(v: &str) -> bool {
    !v.is_empty() && v != "-" && !v.contains("://") && v.parse::<std::net::IpAddr>().is_err()
}

fn key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

/// Where the key ending right before the separator at `at` starts.
fn key_start(b: &[u8], at: usize) -> usize {
    let mut ks = at;
    while ks > 0 && key_byte(b[ks - 1]) {
        ks -= 1;
    }
    ks
}

/// `key=value` and `key="value"` pairs outside URLs.
fn inline(text: &str, policy: &Policy, out: &mut Vec<Keyed>) {
    let b = text.as_bytes();
    for (eq, _) in text.match_indices('=') {
        let ks = key_start(b, eq);
        // a URL's query (`?user=…&`) is the URL scrubber's; `==` is no pair
        if eq - ks < 2 || (ks > 0 && matches!(b[ks - 1], b'?' | b'&' | b'=' | b'/')) || b.get(eq + 1) == Some(&b'=') {
            continue;
        }
        let (vs, ve) = match b.get(eq + 1) {
            Some(b'"') => {
                let s = eq + 2;
                match text[s..].find(['"', '\n']) {
                    Some(k) if b[s + k] == b'"' => (s, s + k),
                    _ => continue,
                }
            }
            Some(_) => {
                let s = eq + 1;
                let k = text[s..]
                    .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '&' | '|' | '"' | '\'' | ')'))
                    .unwrap_or(text.len() - s);
                (s, s + k)
            }
            None => continue,
        };
        if !keyable(&text[vs..ve]) {
            continue;
        }
        if let Some(rule) = policy.key_rule(&text[ks..eq]) {
            out.push(Keyed { start: vs, end: ve, category: rule.category });
        }
    }
}

/// `"key":"value"` and `"key": 4361` pairs of JSON pasted into text.
fn json_pairs(text: &str, policy: &Policy, out: &mut Vec<Keyed>) {
    let b = text.as_bytes();
    for (q, _) in text.match_indices("\":") {
        let Some(ks) = text[..q].rfind('"') else { continue };
        let key = &text[ks + 1..q];
        if key.is_empty() || key.len() > 40 || !key.bytes().all(|c| key_byte(c) || c == b' ') {
            continue;
        }
        let mut vs = q + 2;
        while b.get(vs) == Some(&b' ') {
            vs += 1;
        }
        let (vs, ve) = match b.get(vs) {
            Some(b'"') => match text[vs + 1..].find(['"', '\n']) {
                Some(k) if b[vs + 1 + k] == b'"' => (vs + 1, vs + 1 + k),
                _ => continue,
            },
            Some(c) if c.is_ascii_alphanumeric() => {
                let k = text[vs..].find([',', '}', ']', ' ', '\n']).unwrap_or(text.len() - vs);
                (vs, vs + k)
            }
            _ => continue,
        };
        if !keyable(&text[vs..ve]) {
            continue;
        }
        if let Some(rule) = policy.key_rule(key) {
            out.push(Keyed { start: vs, end: ve, category: rule.category });
        }
    }
}

/// A header row of labels (`name;account;dob;received`) and the rows
/// under it with as many fields: the cells of a named column.
fn table(text: &str, policy: &Policy, out: &mut Vec<Keyed>) {
    let mut header: Option<(u8, Vec<Option<DataCategory>>)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        if let Some((sep, cols)) = &header {
            let cells: Vec<&str> = body.split(char::from(*sep)).collect();
            if cells.len() == cols.len() {
                let mut at = start;
                for (cell, col) in cells.iter().zip(cols) {
                    let lead = cell.len() - cell.trim_start().len();
                    let v = cell.trim().trim_matches('"');
                    if let Some(category) = col
                        && keyable(v)
                    {
                        let s = at + lead + usize::from(cell.trim_start().starts_with('"'));
                        out.push(Keyed { start: s, end: s + v.len(), category: *category });
                    }
                    at += cell.len() + 1;
                }
                continue;
            }
        }
        header = header_row(body, policy);
    }
}

/// A line of three or more short labels joined by one separator, at least
/// one of which a key rule names.
fn header_row(line: &str, policy: &Policy) -> Option<(u8, Vec<Option<DataCategory>>)> {
    let sep =
        [b';', b'|', b'\t', b','].into_iter().find(|s| line.as_bytes().iter().filter(|c| *c == s).count() >= 2)?;
    let labels: Vec<&str> = line.split(char::from(sep)).map(|l| l.trim().trim_matches('"')).collect();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 32
            && l.chars().any(char::is_alphabetic)
            && l.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' ' | '.' | '/'))
            && !l.contains("  ")
    };
    if !labels.iter().all(|l| label_ok(l)) {
        return None;
    }
    let cols: Vec<Option<DataCategory>> = labels.iter().map(|l| policy.key_rule(l).map(|r| r.category)).collect();
    cols.iter().any(Option::is_some).then_some((sep, cols))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/default.toml"))).unwrap()
    }

    fn found(text: &str) -> Vec<(&str, DataCategory)> {
        let p = policy();
        let mut out = Vec::new();
        spans(text, &p, &mut out);
        out.iter().map(|k| (&text[k.start..k.end], k.category)).collect()
    }

    #[test]
    fn inline_pairs_named_by_their_key() {
        let t = "EventID=4624 TargetUserName=d.nogueira TargetDomainName=TECNOFRIO LogonType=10 IpAddress=10.0.0.5";
        assert_eq!(found(t), [("d.nogueira", DataCategory::Name)]);
        let t = r#"date=2025-01-01 srcip=81.2.3.4 user="j.kowalski" action=deny msg="ok""#;
        assert_eq!(found(t), [("j.kowalski", DataCategory::Credential)]);
        // a URL's query is left to the URL scrubber
        assert!(found("https://x.top/a?user=anna&x=1").is_empty());
        let t = r#"bot message: {"login":"raghu693","pass":"Madrid33*","pin": 4361,"ua":"Mozilla/5.0"}"#;
        assert_eq!(
            found(t),
            [
                ("raghu693", DataCategory::Credential),
                ("Madrid33*", DataCategory::Credential),
                ("4361", DataCategory::Credential)
            ]
        );
    }

    #[test]
    fn table_cells_under_a_named_header() {
        let t = "Mule accounts:\nName;Konto;Geburtsdatum;Eingang\nAnna Nowak;DE89370400440532013000;23.10.72;4.727,50 EUR\nX;Y;10.6.63;1,00 EUR\n\nVerdict: mules";
        let f = found(t);
        assert!(f.contains(&("23.10.72", DataCategory::DateOfBirth)), "{f:?}");
        assert!(f.contains(&("10.6.63", DataCategory::DateOfBirth)), "{f:?}");
        assert!(f.contains(&("Anna Nowak", DataCategory::Name)), "{f:?}");
        assert!(!f.iter().any(|(v, _)| v.contains("EUR") || v.contains("Verdict")), "{f:?}");
        // a header of labels no rule names: nothing
        assert!(found("domain;first_seen;kit\nevil.top;2025-01-01;16shop\n").is_empty());
    }
}
