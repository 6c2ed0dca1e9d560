//! The public PII corpus and our adversarial corpus through the shipped
//! policies, scored with the rules of `leak_check.py` (ported in `common`).

mod common;

use common::*;

#[test]
fn leak_check_port_detects_what_the_python_rules_detect() {
    let out = Output::new(r#"{"d":"call 06 12 34 56 78 or jean%40orange.fr, Mu\u00f1oz"}"#);
    assert!(leaked("phone", "0612345678", &out), "separators removed");
    assert!(leaked("phone", "+33 6 12 34 56 78", &out), "national number without prefix");
    assert!(leaked("email", "jean@orange.fr", &out), "percent-encoded");
    assert!(!leaked("phone", "0612345679", &out));
    let out = Output::new("card 4165-1728-6233-5734 Ségolène");
    assert!(leaked("pan", "4165 1728 6233 5734", &out));
    assert!(leaked("name", "Segolene", &out), "accent folding");
}

#[test]
fn default_policy_on_public_corpus_leaks_nothing_and_keeps_the_intelligence() {
    let cases = load_cases("tests/data/pii-corpus-public.jsonl");
    assert_eq!(cases.len(), 600);
    let s = sanitiser("policies/default.toml");
    let (text, removed, rejected) = run_cases(&s, &cases);
    let sc = score(&cases, &text);
    assert!(sc.leaks.is_empty(), "{} leaks: {:?}", sc.leaks.len(), sc.leaks);
    assert!(
        sc.retention() >= 0.98,
        "retention {:.4} ({}/{}), {rejected} rejected by validation",
        sc.retention(),
        sc.kept,
        sc.total_keep
    );
    // every planted category was actually counted as removed
    for cat in ["email", "phone", "iban", "card", "national-id", "name", "address", "date-of-birth", "credential", "ip"]
    {
        assert!(removed.0.contains_key(cat), "no {cat} removal counted: {removed:?}");
    }
    // removal counts hold no values
    assert!(!serde_json::to_string(&removed).unwrap().contains('@'));
}

#[test]
fn strict_policy_on_public_corpus_leaks_nothing_and_drops_free_fields() {
    let cases = load_cases("tests/data/pii-corpus-public.jsonl");
    let s = sanitiser("policies/strict.toml");
    let (text, removed, _) = run_cases(&s, &cases);
    let sc = score(&cases, &text);
    assert!(sc.leaks.is_empty(), "{:?}", sc.leaks);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for i in v["indicators"].as_array().unwrap() {
        assert!(i.get("description").is_none() && i.get("attributes").is_none(), "{i}");
    }
    assert!(removed.0["free-text"]["drop"] > 300);
    // indicator values and tags still carry the intelligence
    assert!(sc.retention() >= 0.5, "retention {:.4}", sc.retention());
}

#[test]
fn adversarial_corpus_other_languages_and_encodings() {
    let cases = load_cases("tests/data/pii-adversarial.jsonl");
    let s = sanitiser("policies/default.toml");
    let (text, _, rejected) = run_cases(&s, &cases);
    assert_eq!(rejected, 0);
    let sc = score(&cases, &text);
    assert!(sc.leaks.is_empty(), "{:?}", sc.leaks);
    assert!(sc.retention() >= 0.98, "retention {:.4}", sc.retention());
}

#[test]
fn maltrail_indicators_pass_unchanged() {
    use std::io::Read;
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open("tests/data/maltrail-20k.jsonl.gz").unwrap());
    let mut text = String::new();
    gz.read_to_string(&mut text).unwrap();
    let s = sanitiser("policies/default.toml");
    let mut changed = 0;
    let mut total = 0;
    for (i, line) in text.lines().take(5000).enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ind =
            serde_json::json!({"type": v["type"], "value": v["value"], "category": "malware", "tags": [v["family"]]});
        let Ok(raw) = tamis::model::parse_indicator(i, &ind) else {
            continue;
        };
        let value = raw.value.clone();
        let out = s.sanitise(raw, &mut Default::default()).unwrap();
        total += 1;
        if out.value != value {
            changed += 1;
            eprintln!("changed: {value} -> {}", out.value);
        }
    }
    assert!(total > 4000);
    // attacker infrastructure is the intelligence: (almost) nothing changes
    assert!(changed * 1000 <= total, "{changed} of {total} values changed");
}

/// Names outside role-word contexts, 8 languages (URL paths and file names,
/// inflected Polish forms, names from outside Europe, "Last, First",
/// "SURNAME First", initial + surname, lower case, mail display names,
/// bare attribute values, card holders after de/di/van/von): written for
/// default-deny, not from Faker.
#[test]
fn default_deny_adversarial_corpus_leaks_nothing() {
    let cases = load_cases("tests/data/pii-adversarial-deny.jsonl");
    assert!(cases.len() >= 40);
    let s = sanitiser("policies/default.toml");
    let (text, removed, rejected) = run_cases(&s, &cases);
    assert_eq!(rejected, 0);
    let sc = score(&cases, &text);
    assert!(sc.leaks.is_empty(), "{} of {} leaked: {:?}", sc.leaks.len(), sc.planted, sc.leaks);
    assert!(sc.retention() >= 0.98, "retention {:.4} ({}/{})", sc.retention(), sc.kept, sc.total_keep);
    assert!(removed.0.contains_key("unknown-word") && removed.0.contains_key("name"), "{removed:?}");
}

/// What default-deny costs on PII-free analyst notes (8 languages, no
/// names): the share of words that come out as written.
#[test]
fn default_deny_keeps_words_of_pii_free_analyst_notes() {
    let s = sanitiser("policies/default.toml");
    let (mut total, mut kept) = (0usize, 0usize);
    let mut lost = Vec::new();
    for (i, line) in std::fs::read_to_string("tests/data/analyst-notes-clean.jsonl").unwrap().lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let ind =
            serde_json::json!({"type": "domain", "value": "example.com", "category": "fraud", "description": text});
        let raw = tamis::model::parse_indicator(i, &ind).unwrap();
        let out = s.sanitise(raw, &mut Default::default()).unwrap().description.unwrap();
        let mut remaining: Vec<&str> = out.split_whitespace().collect();
        for w in text.split_whitespace() {
            total += 1;
            if let Some(p) = remaining.iter().position(|o| *o == w) {
                remaining.swap_remove(p);
                kept += 1;
            } else {
                lost.push(w.to_owned());
            }
        }
    }
    let share = kept as f64 / total as f64;
    eprintln!(
        "default-deny kept {kept}/{total} words ({:.2}%) of PII-free analyst notes; lost: {lost:?}",
        share * 100.0
    );
    assert!(total > 1500, "{total} words");
    assert!(share >= 0.95, "kept {kept}/{total} = {share:.4}; lost: {lost:?}");
}
