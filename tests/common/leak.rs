//! A Rust port of `leak_check.py`'s rules, so the suite needs no Python.
//!
//! A leak is a planted string found in the output: case-insensitively,
//! accent-folded, JSON-escaped, for e-mails also percent-encoded, for
//! numbers also with separators removed (digit-bounded), for phones also as
//! the digits alone or their last nine digits.

#![allow(dead_code)]

use std::sync::Arc;

use serde_json::Value;
use tamis::model::{Removals, parse_indicator};
use tamis::policy::Policy;
use tamis::privacy::{Keys, Sanitiser};

pub struct Case {
    pub id: String,
    pub indicator: Value,
    pub must_not_appear: Vec<(String, String)>,
    pub must_appear: Vec<String>,
}

pub fn load_cases(path: &str) -> Vec<Case> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Case {
                id: v["id"].as_str().unwrap().to_owned(),
                indicator: v["indicator"].clone(),
                must_not_appear: v["must_not_appear"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| (i["pii"].as_str().unwrap().to_owned(), i["text"].as_str().unwrap().to_owned()))
                    .collect(),
                must_appear: v["must_appear"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect(),
            }
        })
        .collect()
}

pub fn sanitiser(policy: &str) -> Sanitiser {
    let p = Policy::load(std::path::Path::new(policy)).unwrap();
    Sanitiser::new(
        Arc::new(p),
        Keys { pseudonym: [42; 32], escrow_public: tamis::privacy::escrow::generate_keypair().unwrap().1 },
    )
    .unwrap()
}

/// Everything the sanitiser lets out for these cases, as one JSON text
/// (what `tamis policy dry-run` would print), plus the removal counts.
pub fn run_cases(s: &Sanitiser, cases: &[Case]) -> (String, Removals, usize) {
    let mut removed = Removals::default();
    let mut out = Vec::new();
    let mut rejected = 0;
    for (i, c) in cases.iter().enumerate() {
        match parse_indicator(i, &c.indicator) {
            Ok(raw) => match s.sanitise(raw, &mut removed) {
                Ok(v) => out.push(serde_json::to_value(v).unwrap()),
                Err(_) => rejected += 1,
            },
            Err(_) => rejected += 1,
        }
    }
    let text = serde_json::to_string(&serde_json::json!({"indicators": out, "removed": removed})).unwrap();
    (text, removed, rejected)
}

/// NFKD-then-ASCII folding, lower case (for the Latin letters in use).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let base = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'ă' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
            'ç' | 'ć' | 'č' | 'Ç' | 'Ć' | 'Č' => "c",
            'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
            'ñ' | 'ń' | 'ň' | 'Ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ő' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => "o",
            'ù' | 'ú' | 'û' | 'ü' | 'ű' | 'ů' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
            'ý' | 'ÿ' | 'Ý' => "y",
            'ś' | 'š' | 'ș' | 'ş' | 'Ś' | 'Š' => "s",
            'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => "z",
            'ř' => "r",
            'ť' | 'ț' | 'ţ' => "t",
            'ď' => "d",
            _ => "",
        };
        if !base.is_empty() {
            out.push_str(base);
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if let Some(a) =
            ('\u{FF01}'..='\u{FF5E}').contains(&c).then(|| char::from_u32(c as u32 - 0xFEE0)).flatten()
        {
            // full-width forms decompose to ASCII under NFKD (`０５` is `05`)
            out.push(a.to_ascii_lowercase());
        } // other non-ASCII letters vanish, as with encode("ascii", "ignore")
    }
    out
}

/// Removes separator runs between an alphanumeric and a digit.
pub fn compact(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if " -.()/".contains(c) && i > 0 && cs[i - 1].is_ascii_alphanumeric() {
            let mut j = i;
            while j < cs.len() && " -.()/".contains(cs[j]) {
                j += 1;
            }
            if j < cs.len() && cs[j].is_ascii_digit() {
                i = j;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn digit_bounded(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let hb = hay.as_bytes();
    hay.match_indices(needle).any(|(a, _)| {
        let b = a + needle.len();
        (a == 0 || !hb[a - 1].is_ascii_digit()) && (b == hb.len() || !hb[b].is_ascii_digit())
    })
}

fn right_bounded(hay: &str, needle: &str) -> bool {
    let hb = hay.as_bytes();
    hay.match_indices(needle).any(|(a, _)| {
        let b = a + needle.len();
        b == hb.len() || !hb[b].is_ascii_digit()
    })
}

pub struct Output {
    low: String,
    folded: String,
    compact: String,
}

impl Output {
    pub fn new(text: &str) -> Output {
        Output { low: text.to_lowercase(), folded: fold(text), compact: compact(text).to_uppercase() }
    }
}

pub fn leaked(kind: &str, t: &str, out: &Output) -> bool {
    let escaped = serde_json::to_string(t).unwrap();
    let escaped = escaped[1..escaped.len() - 1].to_lowercase();
    // folding says nothing about letters it drops (Cyrillic, Greek, Han...):
    // such strings are compared as written only
    let latin = t.chars().filter(|c| c.is_alphabetic()).all(|c| !fold(c.encode_utf8(&mut [0; 4])).is_empty());
    if out.low.contains(&t.to_lowercase()) || (latin && out.folded.contains(&fold(t))) || out.low.contains(&escaped) {
        return true;
    }
    if kind == "email" && out.low.contains(&t.to_lowercase().replace('@', "%40")) {
        return true;
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if ["phone", "iban", "pan", "national-id", "customer-id"].contains(&kind) && digits.len() >= 8 {
        let c = compact(t).to_uppercase().replace(' ', "");
        if digit_bounded(&out.compact, &c) {
            return true;
        }
        if kind == "phone"
            && (digit_bounded(&out.compact, &digits)
                || right_bounded(&out.compact, &digits[digits.len().saturating_sub(9)..]))
        {
            return true;
        }
        if (kind == "pan" || kind == "national-id") && digit_bounded(&out.compact, &digits) {
            return true;
        }
    }
    false
}

pub struct Score {
    pub leaks: Vec<String>,
    pub planted: usize,
    pub kept: usize,
    pub total_keep: usize,
}

impl Score {
    pub fn retention(&self) -> f64 {
        self.kept as f64 / self.total_keep.max(1) as f64
    }
}

pub fn score(cases: &[Case], text: &str) -> Score {
    let out = Output::new(text);
    let mut s = Score { leaks: vec![], planted: 0, kept: 0, total_keep: 0 };
    for c in cases {
        for (kind, t) in &c.must_not_appear {
            s.planted += 1;
            if leaked(kind, t, &out) {
                s.leaks.push(format!("{} {kind}", c.id));
            }
        }
        for m in &c.must_appear {
            s.total_keep += 1;
            if out.low.contains(&m.to_lowercase()) {
                s.kept += 1;
            }
        }
    }
    s
}
