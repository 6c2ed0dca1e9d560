//! `tamis policy dry-run` as a library call: rejections keep their index,
//! the rest goes through, explanations never carry removed values.

use std::sync::Arc;

use tamis::cli::policy::dry_run_body;
use tamis::policy::Policy;
use tamis::privacy::{Keys, Sanitiser};

fn sanitiser() -> Sanitiser {
    let p = Policy::load(std::path::Path::new("policies/default.toml")).unwrap();
    Sanitiser::new(Arc::new(p), Keys::ephemeral().unwrap()).unwrap()
}

#[test]
fn dry_run_reports_rejections_removals_and_explanations() {
    let body = br#"{"indicators":[
        {"type":"url","value":"https://secure-bank.example.com/login?email=jean.dupont%40orange.fr","category":"phishing",
         "description":"Customer Jean Dupont (+33 6 12 34 56 78) entered credentials."},
        {"type":"ipv4","value":"10.0.0.1"},
        {"type":"phone","value":"+33 6 12 34 56 78"}
    ]}"#;
    let out = dry_run_body(&sanitiser(), body, true).unwrap();
    let text = out.to_string();
    for secret in ["jean.dupont", "Dupont", "612345678", "12 34 56 78"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let inds = out["indicators"].as_array().unwrap();
    assert_eq!(inds.len(), 2);
    assert_eq!(inds[0]["value"], "https://secure-bank.example.com/login?email=[EMAIL]");
    assert_eq!(inds[0]["description"], "Customer [NAME] ([PHONE]) entered credentials.");
    assert!(inds[0]["policy"].as_str().unwrap().starts_with("default@"));
    assert!(inds[0]["explain"].as_array().unwrap().iter().any(|e| e["rule"] == "ingest.detect.name"));
    assert_eq!(inds[1]["value_form"], "pseudonymised");
    // The same document as the HTTP dry-run: each indicator has its index in
    // the body, its policy and its own removals.
    assert_eq!((inds[0]["index"].as_u64(), inds[1]["index"].as_u64()), (Some(0), Some(2)));
    assert_eq!(out["policy"], inds[0]["policy"]);
    assert_eq!(inds[0]["removed"]["email"]["redact"], 1);
    assert_eq!(inds[1]["removed"]["phone"]["pseudonymise"], 1);
    let rej = out["rejected"].as_array().unwrap();
    assert_eq!(rej.len(), 1);
    assert_eq!((rej[0]["index"].as_u64(), rej[0]["field"].as_str()), (Some(1), Some("value")));
    assert_eq!(out["removed"]["phone"]["redact"], 1);
    assert_eq!(out["removed"]["phone"]["pseudonymise"], 1);
    assert_eq!(out["removed"]["email"]["redact"], 1);
}

#[test]
fn dry_run_refuses_bad_json_without_echoing_it() {
    let err = dry_run_body(&sanitiser(), b"{\"indicators\": [jean@gmail.com]}", false).unwrap_err().to_string();
    assert!(err.contains("line 1") && !err.contains("jean"), "{err}");
    let err = dry_run_body(&sanitiser(), b"[]", false).unwrap_err().to_string();
    assert!(err.contains("indicators"), "{err}");
}
