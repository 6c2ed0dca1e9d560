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

/// Issue 10 items 2 and 6: the identifier classes (documents, plates,
/// devices, positions, social accounts, bearer secrets, bare EU national
/// numbers) and the over-redaction cases, in eight languages, written for
/// this suite (`tests/data/pii-adversarial-ids.jsonl`).
#[test]
fn adversarial_identifier_classes_leak_nothing_and_keep_the_attackers_values() {
    let cases = load_cases("tests/data/pii-adversarial-ids.jsonl");
    assert!(cases.len() >= 100);
    let s = sanitiser("policies/default.toml");
    let refused: Vec<&str> = cases
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            tamis::model::parse_indicator(*i, &c.indicator)
                .map_or(true, |raw| s.sanitise(raw, &mut Default::default()).is_err())
        })
        .map(|(_, c)| c.id.as_str())
        .collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    let (text, removed, _) = run_cases(&s, &cases);
    let sc = score(&cases, &text);
    assert!(sc.leaks.is_empty(), "{} leaks: {:?}", sc.leaks.len(), sc.leaks);
    let lost: Vec<&String> = cases
        .iter()
        .flat_map(|c| c.must_appear.iter())
        .filter(|m| !text.to_lowercase().contains(&m.to_lowercase()))
        .collect();
    assert!(lost.is_empty(), "intelligence lost: {lost:?}");
    for cat in ["national-id", "vehicle-plate", "device-id", "location", "online-id", "credential"] {
        assert!(removed.0.contains_key(cat), "no {cat} removal counted: {removed:?}");
    }
}

/// Precision of the bare checksum detectors and the role rules on real
/// attacker values: every maltrail indicator keeps its value, and keeps it
/// too when a description names it as infrastructure.
#[test]
fn maltrail_values_survive_as_values_and_in_descriptions() {
    let s = sanitiser("policies/default.toml");
    let (mut lost, mut tags_lost) = (Vec::new(), Vec::new());
    for (i, line) in include_str!("data/maltrail-3000.jsonl").lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let value = v["value"].as_str().unwrap();
        let desc = format!("{} infrastructure: {value}", v["family"].as_str().unwrap_or("malware"));
        let ind = serde_json::json!({"type": v["type"], "value": value, "category": "malware",
            "description": desc, "tags": [v["family"]]});
        let Ok(raw) = tamis::model::parse_indicator(i, &ind) else {
            continue;
        };
        // the value as the model normalises it (`http://1.2.3.4` gains its `/`)
        let parsed = raw.value.clone();
        let out = s.sanitise(raw, &mut Default::default()).unwrap();
        // the family label is the intelligence (Maltrail's families are
        // security vocabulary), the value must stay, as the indicator and in the text
        let family = v["family"].as_str().unwrap_or("");
        if !family.is_empty() && out.tags != [family] {
            tags_lost.push(format!("{family} -> {:?}", out.tags));
        }
        if out.value != parsed || !out.description.as_deref().is_some_and(|d| d.ends_with(&format!(": {value}"))) {
            lost.push(format!("{value} -> {} / {:?}", out.value, out.description));
        }
    }
    assert!(
        tags_lost.is_empty(),
        "{} family tags changed: {:?}",
        tags_lost.len(),
        &tags_lost[..tags_lost.len().min(20)]
    );
    assert!(lost.is_empty(), "{} values changed: {:?}", lost.len(), &lost[..lost.len().min(20)]);
}

#[test]
fn adversarial_corpus_decoding_and_leaking_families() {
    // issue 10 items 4 and 5: encodings in free text and attributes (spelled
    // separators in 8 languages, entities, escapes, base64/hex, JWT, Basic)
    // and the families that used to leak; plus intelligence that must stay
    let cases = load_cases("tests/data/pii-adversarial-decode.jsonl");
    assert!(cases.len() >= 80);
    let s = sanitiser("policies/default.toml");
    let (text, _, rejected) = run_cases(&s, &cases);
    assert_eq!(rejected, 0);
    let sc = score(&cases, &text);
    assert!(sc.leaks.is_empty(), "{} leaks: {:?}", sc.leaks.len(), sc.leaks);
    let low = text.to_lowercase();
    let lost: Vec<(&str, &str)> = cases
        .iter()
        .flat_map(|c| c.must_appear.iter().map(move |m| (c.id.as_str(), m.as_str())))
        .filter(|(_, m)| !low.contains(&m.to_lowercase()))
        .collect();
    assert_eq!(sc.kept, sc.total_keep, "retention {:.4}, lost {lost:?}\n{text}", sc.retention());
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

/// Identifier families a general PII detector covers (IBANs of 40
/// countries in four writings, cards of every issuer, US/UK/AU/IN/SG/KR/TH
/// numbers, DE/ES/PL/FI/SE national numbers, phones of 12 numbering plans,
/// birth dates, e-mails, MAC addresses), each inside an analyst note, with
/// and without a cue (`tests/data/pii-adversarial-formats.jsonl`; values
/// invented with computed check digits).
#[test]
fn adversarial_formats_of_general_pii_detectors_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-formats.jsonl", 450);
}

/// Names of people from other locales and scripts (Czech, Hungarian, Greek,
/// Turkish, Russian, Arabic, Chinese, Japanese, Vietnamese, Indian, Nordic,
/// Irish, West African...) in free text, attributes, lower case, URL query
/// values as words and as base64, and URL file names
/// (`tests/data/pii-adversarial-locales.jsonl`; names invented).
#[test]
fn adversarial_names_of_other_locales_and_scripts_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-locales.jsonl", 350);
}

/// Hand-written notes (8 languages): honorifics before a surname alone,
/// addresses of six countries, logins and passwords after their cues, birth
/// dates with month words, an IBAN broken over a line, mail display names
/// (quoted, and RFC 2047 encoded words in Base64 and Q), signatures, and the
/// forensic places usernames hide in (Windows and macOS profile paths,
/// `DOMAIN\user`, LDAP DNs, UPNs, `user=`/`uid=`, host names), with the
/// attacker's host kept (`tests/data/pii-adversarial-misc.jsonl`).
#[test]
fn adversarial_notes_honorifics_addresses_headers_and_forensic_paths_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-misc.jsonl", 60);
}

/// A corpus of this suite through the default policy: every case accepted,
/// nothing planted comes out, every must-appear string stays.
fn leaks_nothing_keeps_everything(path: &str, min_cases: usize) {
    let cases = load_cases(path);
    assert!(cases.len() >= min_cases);
    let s = sanitiser("policies/default.toml");
    let (text, _, rejected) = run_cases(&s, &cases);
    assert_eq!(rejected, 0);
    let sc = score(&cases, &text);
    assert!(sc.leaks.is_empty(), "{} of {} leaked: {:?}", sc.leaks.len(), sc.planted, sc.leaks);
    assert_eq!(sc.kept, sc.total_keep, "retention {}/{}", sc.kept, sc.total_keep);
}

/// Identifiers written bare, with no cue (8 languages, values invented):
/// plates and member ids whose letters and digits alternate, postcode
/// pairs, ten- to thirteen-digit numbers that are no time, dashed digit
/// groups that are no amount, private addresses in brackets; and what
/// must stay beside them: Unix times after a time word, `5G`, `sha256sum`,
/// a public C2 address in brackets (`tests/data/pii-adversarial-bare.jsonl`).
#[test]
fn adversarial_bare_identifiers_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-bare.jsonl", 60);
}

/// A red-team pass of 2026-12-03 (8 languages, values invented, checksums
/// computed): passwords after their verb, PINs and card codes, birth dates
/// under short keys, dotted cards, what3words, inflected plate cues, German
/// nouns and formal address that must stay, and the families that already
/// held; since session 12 also numbers read out in words, recovery phrases,
/// passphrases, Roman-numeral months and birth dates of the last century
/// without a cue. Only the cases that pass are here; the forms still leaking
/// (lower-case names, surnames at a sentence start, lower-case addresses,
/// BEC lookalikes) are listed in `docs/privacy.md`
/// (`tests/data/pii-adversarial-fresh.jsonl`).
#[test]
fn adversarial_fresh_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-fresh.jsonl", 230);
}

/// A second, blind red-team pass (2026-12-03, session 12; the tester saw
/// neither code nor corpora; 8 languages, values invented, checksums
/// computed, 32 cases free of personal data): mail and HTTP headers, nginx
/// log lines, JSON log fragments, police file notes, mixed-language notes,
/// fullwidth and mathematical digits, names as attribute keys, attacker
/// addresses next to their host or after "backup", app ids, bank and kit
/// names. The cases that pass (`tests/data/pii-adversarial-rt2.jsonl`); the
/// rest are in `docs/privacy.md`, "Known limits".
#[test]
fn adversarial_blind_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt2.jsonl", 215);
}

/// A third blind red-team pass (2026-12-03, session 13; 280 cases in the 8
/// languages, 35 free of personal data, values invented, checksums
/// computed): lower-case and inflected names, names in URL paths, file names
/// and tags, plates of eight countries, short PIN/OTP/BLIK codes after their
/// label, partial birth dates and birth years, postcodes after their label,
/// quoted values, sending IPs of BEC mails and German fraud compounds that
/// must stay. The cases that pass (`tests/data/pii-adversarial-rt3.jsonl`);
/// the rest are in `docs/privacy.md`, "Known limits".
#[test]
fn adversarial_third_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt3.jsonl", 265);
}

/// A fourth blind red-team pass (2026-12-03, session 13; 240 cases, 30 a
/// language, 40 free of personal data; written as SOC tickets, call-centre
/// notes, police requests, pasted headers, CSV and stealer logs, victim
/// chats): the cases that pass (`tests/data/pii-adversarial-rt4.jsonl`).
#[test]
fn adversarial_fourth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt4.jsonl", 155);
}

/// The fifth blind red-team pass (session 14; 8 languages, written without
/// the code or the corpora: mail headers with encoded words, web-form and
/// JSON dumps, scanned forms, CSV rows, domestic account numbers, police
/// requests, stealer logs and combo lists, URLs carrying names, opaque
/// attribute keys, partial subscriber host names): the cases that pass
/// (`tests/data/pii-adversarial-rt5.jsonl`).
#[test]
fn adversarial_fifth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt5.jsonl", 140);
}

/// The sixth blind red-team pass (session 14, written after the fifth
/// pass's fixes; 8 languages: fraud narratives, SAR/STR, chargebacks, SIM
/// swaps, romance and investment statements, marketplace scams, helpdesk
/// signatures, kit configs, web/Windows/VPN logs, prosecutor letters, mule
/// lists, sandbox and DDoS summaries): the cases that pass with nothing
/// lost (`tests/data/pii-adversarial-rt6.jsonl`).
#[test]
fn adversarial_sixth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt6.jsonl", 150);
}

/// The seventh blind pass (session 15; 8 languages, new genres: vishing
/// transcripts, chat exports, insurance and loan claims, account takeover,
/// crypto KYC, WHOIS/RDAP and passive DNS, certificates, forwarded mails,
/// ICS and vCards, SMSC logs, fraud-SDK logs, proxy and firewall logs,
/// Windows events and EDR paths, EPC QR and MT103, ISO 20022, MRZ, cheques,
/// card-not-present, hotel booking fraud, kit dumps in XML/YAML/INI): the
/// cases that pass with nothing lost (`tests/data/pii-adversarial-rt7.jsonl`).
#[test]
fn adversarial_seventh_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt7.jsonl", 80);
}

/// The eighth blind pass (session 16): a held-out set of the public
/// corpus's own nature, every kind of it, with other people (8 languages and
/// Europeans with roots elsewhere), other locales (15 phone plans, 18 IBAN
/// countries, 18 national ids with their checksums) and other encodings
/// (double percent-encoding, base64 in an app route, NBSP, full-width `@`,
/// HTML entities, `\u` escapes, punycode): the cases that pass with nothing
/// lost (`tests/data/pii-adversarial-rt8.jsonl`).
#[test]
fn adversarial_eighth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt8.jsonl", 390);
}

/// The ninth blind pass (session 16), a second independent held-out set of
/// the public corpus's nature, varied within each kind (parameter names and
/// attribute keys in 8 languages, SURNAME-first and particle names, freemail
/// providers of every member state, multi-line addresses, customer numbers
/// in prose, SFTP drops): the cases that pass with nothing lost
/// (`tests/data/pii-adversarial-rt9.jsonl`).
#[test]
fn adversarial_ninth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt9.jsonl", 560);
}

/// The tenth blind pass (session 17): a third author's held-out set of the
/// public corpus's nature (sinkhole and NetFlow lines, victim keys in 8
/// languages, customer numbers after machine keys, mail-log senders,
/// institutions' display names, team-year case references): the cases that
/// pass with nothing lost (`tests/data/pii-adversarial-rt10.jsonl`).
#[test]
fn adversarial_tenth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt10.jsonl", 630);
}

/// The eleventh blind pass (session 17): the other locales of the union
/// (CZ, SK, HU, RO, BG, GR, HR, SI, the Baltic and Nordic states, IE, MT:
/// their phone plans, IBANs, national numbers with checksums, birth cues)
/// and encodings (full-width digits, NFD accents, zero-width characters,
/// quoted-printable, MIME words); cases whose planted strings are in a
/// non-Latin script are left out, as `leak_check.py`'s folding drops those
/// letters (`tests/data/pii-adversarial-rt11.jsonl`).
#[test]
fn adversarial_eleventh_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt11.jsonl", 560);
}

/// The twelfth blind pass (session 17, a fourth author, written against the
/// final engine of the session): ticket exports, chat notes, bullet lists,
/// SWIFT and HTTP form bodies, bots' check-in URLs reporting the victim's
/// address, contract numbers under their key: the cases that pass with
/// nothing lost (`tests/data/pii-adversarial-rt12.jsonl`).
#[test]
fn adversarial_twelfth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt12.jsonl", 300);
}

/// The thirteenth blind pass (session 18, a fifth author): the public
/// corpus's fifteen kinds with new templates and keys, and a PII detector's
/// positive examples inside analyst notes, in the 8 languages (victims'
/// wallets, beacons from a victim to the record's C2, passwords under keys
/// that do not say so): the cases that pass with nothing lost
/// (`tests/data/pii-adversarial-rt13.jsonl`).
#[test]
fn adversarial_thirteenth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt13.jsonl", 690);
}

/// The fourteenth blind pass (session 18, a sixth author): forms absent from
/// the public corpus (JSON, XML, YAML, CSV, LEEF/CEF and syslog lines, mail
/// headers, chat and call transcripts, OCR'd scans, names split over lines,
/// logins and accounts in URL paths) in the 8 languages: the cases that pass
/// with nothing lost (`tests/data/pii-adversarial-rt14.jsonl`).
#[test]
fn adversarial_fourteenth_red_team_forms_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt14.jsonl", 455);
}

/// The fifteenth blind pass (session 19, a seventh author): the public
/// corpus's fifteen kinds and templates with people of 35 other locales
/// (North and South America, the Nordics, Central and Eastern Europe, Greece,
/// Turkey, India, Oceania), their phone, IBAN, national-number and address
/// formats, Greek and Cyrillic names, percent-encoded and IDN e-mails: the
/// cases that pass with nothing lost (`tests/data/pii-adversarial-rt15.jsonl`).
#[test]
fn adversarial_fifteenth_red_team_locales_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt15.jsonl", 800);
}

/// The sixteenth blind pass (session 19, an eighth author): the fifteen kinds
/// in the 8 languages with six new templates each and every encoding an
/// auditor tries (VERP bounce tags in base64url, track-1 card data, ISP
/// reverse-DNS names, customer numbers after a compound customer word,
/// double percent-encoding, NBSP and zero-width characters inside numbers):
/// the cases that pass with nothing lost (`tests/data/pii-adversarial-rt16.jsonl`).
#[test]
fn adversarial_sixteenth_red_team_encodings_leak_nothing() {
    leaks_nothing_keeps_everything("tests/data/pii-adversarial-rt16.jsonl", 670);
}
