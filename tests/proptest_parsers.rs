//! Property tests of every body parser and of value normalisation: arbitrary
//! JSON, CSV and STIX bodies and arbitrary (mostly Unicode) values never make
//! a parser panic; each answer is a clear error or a result whose indices and
//! lines are consistent; normalisation is idempotent; and no error message
//! ever contains the submitted value.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};
use tamis::model::{self, IndicatorType};
use tamis::pipeline::ingest::{self, Format};

/// A marker planted in submitted values: it must never appear in an error.
const MARK: &str = "Qzx7Mark";

/// 256 cases per property (`PROPTEST_CASES=N` for a longer local run).
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Any JSON value, a few levels deep, with arbitrary Unicode strings.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const TYPES: &[&str] =
    &["url", "domain", "ipv4", "ipv6", "cidr", "email", "sha256", "sha1", "md5", "iban", "phone", "btc"];

/// Strings shaped like values of every type, defanged forms and Unicode
/// hosts included, mixed with arbitrary text.
fn arb_value() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-z0-9-]{1,12}(\\.[a-z0-9-]{1,12}){1,3}\\.?",
        "[\\p{L}\\p{N}-]{1,12}\\.(com|de|fr|рф|中国|xn--p1ai|co\\.uk|[a-z]{2,6})",
        "(https?|hxxps?|ftp|HTTP)(://|\\[://\\])([a-z]{1,8}(:[^@/ ]{0,6})?@)?[\\p{L}a-z0-9.\\[\\]-]{1,24}(:[0-9]{1,6})?(/[\\PC]{0,10}){0,3}(\\?[\\PC]{0,20})?(#[\\PC]{0,6})?",
        "[0-9]{1,4}(\\.|\\[\\.\\])[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}(/[0-9]{1,3})?",
        "[0-9a-fA-F:.]{2,45}(/[0-9]{1,3})?",
        "[a-zA-Z0-9._%+-]{1,16}(@|\\[@\\]|\\[at\\])[a-z0-9.-]{1,16}\\.[a-z]{2,6}",
        "[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}",
        "[A-Za-z]{2}[0-9]{2}[ A-Z0-9-]{8,34}",
        "\\+?[0-9 ().-]{4,20}",
        "(bc1|[13])[a-zA-HJ-NP-Z0-9]{20,60}",
    ]
}

/// An object shaped like a submitted indicator: known fields with plausible
/// or arbitrary values, sometimes an unknown field.
fn arb_indicator() -> impl Strategy<Value = Value> {
    (
        prop_oneof![4 => prop::sample::select(TYPES).prop_map(Value::from), 1 => arb_json()],
        prop_oneof![4 => arb_value().prop_map(Value::from), 1 => arb_json()],
        prop::option::of(prop_oneof![
            "phishing|malware|c2|botnet|ddos|fraud|scam|spam|illegal-content|other|.{0,8}".prop_map(Value::from),
            arb_json()
        ]),
        prop::option::of(prop_oneof![(0u64..=120).prop_map(Value::from), arb_json()]),
        prop::option::of(prop_oneof!["clear|green|amber|amber\\+strict|red|.{0,6}".prop_map(Value::from), arb_json()]),
        prop::option::of(prop_oneof![
            "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,9})?(Z|[+-][01][0-9]:[0-5][0-9])"
                .prop_map(Value::from),
            arb_json()
        ]),
        prop::option::of(".{0,80}".prop_map(Value::from)),
        prop::option::of(arb_json()),
        prop::option::of(prop_oneof![prop::collection::vec(".{0,10}", 0..40).prop_map(|v| json!(v)), arb_json()]),
        prop::option::of((".{1,8}", arb_json())),
    )
        .prop_map(|(t, v, cat, conf, tlp, ts, desc, attrs, tags, extra)| {
            let mut m = Map::new();
            m.insert("type".into(), t);
            m.insert("value".into(), v);
            for (k, x) in [
                ("category", cat),
                ("confidence", conf),
                ("tlp", tlp),
                ("valid_until", ts.clone()),
                ("first_seen", ts),
                ("description", desc),
                ("attributes", attrs),
                ("tags", tags),
            ] {
                if let Some(x) = x {
                    m.insert(k.into(), x);
                }
            }
            if let Some((k, x)) = extra {
                m.insert(k, x);
            }
            Value::Object(m)
        })
}

/// Runs the per-indicator validation on every parsed item (what the
/// submission handler does next): it must not panic either.
fn validate_all(p: &ingest::Parsed) {
    let refused: std::collections::HashSet<usize> = p.rejected.iter().map(|r| r.index).collect();
    for (i, v) in p.items.iter().enumerate() {
        if !refused.contains(&i) {
            let _ = model::parse_indicator(i, v);
        }
    }
}

fn check_parsed(p: &ingest::Parsed) -> Result<(), TestCaseError> {
    for r in &p.rejected {
        prop_assert!(r.index < p.items.len(), "rejection index {} of {} items", r.index, p.items.len());
        prop_assert!(!r.reason.is_empty());
    }
    if let Some(lines) = &p.lines {
        prop_assert_eq!(lines.len(), p.items.len());
        prop_assert!(lines.windows(2).all(|w| w[0] < w[1]), "lines increase: {:?}", lines);
        prop_assert!(lines.iter().all(|l| *l >= 2), "line 1 is the header");
    }
    validate_all(p);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn json_bodies_of_arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(p) = ingest::parse(Format::Json, &body) {
            check_parsed(&p)?;
        }
    }

    #[test]
    fn json_submissions_parse_and_validate_without_panicking(
        items in prop::collection::vec(prop_oneof![6 => arb_indicator(), 1 => arb_json()], 0..12),
        wrap in 0u8..4,
    ) {
        let doc = match wrap {
            0 => json!({ "indicators": items }),
            1 => json!({ "indicators": items, "extra": 1 }),
            2 => Value::Array(items.clone()),
            _ => json!({ "indicators": { "0": items } }),
        };
        let body = serde_json::to_vec(&doc).unwrap();
        match ingest::parse(Format::Json, &body) {
            Ok(p) => {
                prop_assert!(wrap <= 1);
                prop_assert_eq!(p.items.len(), items.len());
                check_parsed(&p)?;
            }
            Err(e) => {
                prop_assert!(wrap >= 2, "a well-formed submission was refused: {}", e);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn truncated_or_corrupted_json_gives_a_positional_error_without_the_content(
        items in prop::collection::vec(arb_indicator(), 1..4),
        cut in any::<prop::sample::Index>(),
        junk in prop::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut items = items;
        items[0]["value"] = Value::from(format!("{MARK}-personal"));
        let mut body = serde_json::to_vec(&json!({ "indicators": items })).unwrap();
        let at = cut.index(body.len());
        body.truncate(at);
        body.extend_from_slice(&junk);
        if let Err(e) = ingest::parse(Format::Json, &body) {
            let msg = e.to_string();
            prop_assert!(!msg.contains(MARK), "the error echoes the body: {}", msg);
        }
    }

    #[test]
    fn csv_of_arbitrary_text_never_panics(text in "(?s).{0,300}") {
        if let Ok(p) = ingest::parse(Format::Csv, text.as_bytes()) {
            check_parsed(&p)?;
        }
    }

    #[test]
    fn csv_bodies_with_quotes_and_line_breaks_keep_lines_consistent(
        header in prop::sample::subsequence(
            vec!["type", "value", "category", "confidence", "tlp", "first_seen", "valid_until", "description", "tags"], 1..9)
            .prop_shuffle(),
        rows in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    arb_value(),
                    "[^\",\\n]{0,12}",
                    "\"([^\"]|\"\"|\\n|,){0,16}\"",
                    "(?s).{0,10}",
                ],
                0..10),
            0..12),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        text.push_str(&header.join(","));
        for r in &rows {
            text.push_str(eol);
            text.push_str(&r.join(","));
        }
        match ingest::parse(Format::Csv, text.as_bytes()) {
            Ok(p) => check_parsed(&p)?,
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.contains("CSV"), "{}", msg);
                prop_assert!(!msg.contains(MARK));
            }
        }
    }

    #[test]
    fn csv_errors_never_echo_cells(
        cell in "[^\",\\n]{0,8}",
        bad_header in any::<bool>(),
        unterminated in any::<bool>(),
    ) {
        let secret = format!("{cell}{MARK}");
        let text = match (bad_header, unterminated) {
            // two columns of the same unknown name: refused without quoting it
            (true, _) => format!("type,value,{secret},{secret}\ndomain,x.example,1,2\n"),
            (false, true) => format!("type,value\ndomain,\"{secret}\n"),
            (false, false) => format!("type,value\ndomain,{secret},extra\n"),
        };
        match ingest::parse(Format::Csv, text.as_bytes()) {
            Ok(p) => {
                prop_assert!(!bad_header && !unterminated);
                for r in &p.rejected {
                    prop_assert!(!r.to_string().contains(MARK));
                }
            }
            Err(e) => prop_assert!(!e.to_string().contains(MARK), "{}", e),
        }
    }

    #[test]
    fn stix_bundles_never_panic(
        objects in prop::collection::vec(prop_oneof![3 => arb_stix_indicator(), 1 => arb_json()], 0..10),
        kind in prop_oneof![Just(Some(json!("bundle"))), Just(None), arb_json().prop_map(Some)],
        objects_as_value in any::<bool>(),
    ) {
        let mut doc = Map::new();
        if let Some(k) = kind {
            doc.insert("type".into(), k);
        }
        doc.insert("id".into(), json!("bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"));
        doc.insert("objects".into(), if objects_as_value { json!({"x": objects}) } else { Value::Array(objects) });
        let body = serde_json::to_vec(&Value::Object(doc)).unwrap();
        match ingest::parse(Format::Stix, &body) {
            Ok(p) => {
                prop_assert!(!objects_as_value);
                check_parsed(&p)?;
                for r in &p.rejected {
                    prop_assert!(!r.to_string().contains(MARK), "{}", r);
                }
            }
            Err(e) => prop_assert!(!e.to_string().contains(MARK), "{}", e),
        }
    }

    #[test]
    fn stix_documents_of_arbitrary_json_never_panic(doc in arb_json()) {
        let body = serde_json::to_vec(&doc).unwrap();
        if let Ok(p) = ingest::parse(Format::Stix, &body) {
            check_parsed(&p)?;
        }
    }

    #[test]
    fn normalisation_is_idempotent(kind in prop::sample::select(IndicatorType::ALL), raw in arb_value()) {
        if let Ok(once) = model::normalise_value(kind, &raw) {
            let twice = model::normalise_value(kind, &once);
            prop_assert_eq!(twice.as_ref(), Ok(&once), "{} {:?} -> {:?}", kind, raw, once);
        }
    }

    #[test]
    fn domain_normalisation_is_idempotent(raw in arb_value()) {
        if let Ok(once) = model::normalise_domain(&raw) {
            prop_assert_eq!(model::normalise_domain(&once), Ok(once.clone()), "{:?}", raw);
            prop_assert!(once.is_ascii() && once == once.to_ascii_lowercase(), "{:?}", once);
        }
    }

    #[test]
    fn a_rejected_value_is_never_in_its_error(
        kind in prop::sample::select(TYPES),
        before in arb_value(),
        after in ".{0,8}",
    ) {
        let value = format!("{before}{MARK}{after}");
        let v = json!({"type": kind, "value": value, "description": value, "tags": [value], "attributes": {"k": value}});
        if let Err(r) = model::parse_indicator(3, &v) {
            let msg = format!("{r} {} {}", r.field, r.reason);
            prop_assert!(!msg.contains(MARK), "{}", msg);
            prop_assert_eq!(r.index, 3);
        }
        let kind: IndicatorType = kind.parse().unwrap();
        if let Err(e) = model::normalise_value(kind, &value) {
            prop_assert!(!e.to_string().contains(MARK), "{}", e);
        }
    }
}

/// A STIX indicator object with a pattern that is simple, compound or junk.
fn arb_stix_indicator() -> impl Strategy<Value = Value> {
    let path = prop::sample::select(vec![
        "domain-name:value",
        "url:value",
        "ipv4-addr:value",
        "ipv6-addr:value",
        "email-addr:value",
        "file:hashes.MD5",
        "file:hashes.'SHA-256'",
        "file:hashes.SHA1",
        "network-traffic:dst_ref.value",
        "x-custom:y",
    ]);
    let literal = prop_oneof![arb_value(), ".{0,12}", Just(format!("{MARK}.example"))]
        .prop_map(|s| s.replace('\\', "\\\\").replace('\'', "\\'"));
    let pattern = prop_oneof![
        4 => (path.clone(), literal.clone()).prop_map(|(p, l)| format!("[{p} = '{l}']")),
        1 => (path.clone(), literal.clone(), path, literal)
            .prop_map(|(p, l, q, m)| format!("[{p} = '{l}' OR {q} = '{m}']")),
        1 => ".{0,30}",
        1 => "\\[[a-z:.' =-]{0,30}\\]?",
    ];
    (
        pattern,
        prop::option::of(prop_oneof![Just(json!("stix")), Just(json!("pcre")), arb_json()]),
        prop::option::of(prop_oneof![Just(json!("2.1")), Just(json!("2.0")), arb_json()]),
        prop::option::of(prop_oneof![(0u64..=110).prop_map(Value::from), arb_json()]),
        prop::option::of(prop_oneof![
            Just(json!(["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"])),
            arb_json()
        ]),
        prop::option::of(prop_oneof![Just(json!("2026-11-20T10:00:00.000Z")), arb_json()]),
        prop::option::of(prop_oneof![Just(json!(["phishing", "kit"])), arb_json()]),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(pattern, pattern_type, spec, conf, markings, valid, labels, revoked)| {
            let mut o = Map::new();
            o.insert("type".into(), json!("indicator"));
            o.insert("id".into(), json!("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
            o.insert("pattern".into(), json!(pattern));
            for (k, v) in [
                ("pattern_type", pattern_type),
                ("spec_version", spec),
                ("confidence", conf),
                ("object_marking_refs", markings),
                ("valid_from", valid.clone()),
                ("valid_until", valid),
                ("labels", labels),
                ("revoked", revoked.map(Value::Bool)),
            ] {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            }
            Value::Object(o)
        })
}

/// Found by the `normalise` fuzz target: a URL's userinfo was percent-encoded
/// again on every pass (`ws:@.0qz*@b.0az` gave `ws://%40.0qz*@b.0az/`, then
/// `ws://%2540.0qz*@b.0az/`; `[` gave `%5B`, then `%255B`).
#[test]
fn url_userinfo_normalisation_is_idempotent() {
    for raw in
        ["ws:@.0qz*@b.example.com", "https://user%40mail.example:pw@evil.example.com/", "http://a[b@evil.example.com/"]
    {
        let once = model::normalise_value(IndicatorType::Url, raw).unwrap();
        assert_eq!(model::normalise_value(IndicatorType::Url, &once), Ok(once.clone()), "{raw}");
    }
}
