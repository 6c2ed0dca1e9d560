//! The MISP feed export (`/v1/feeds/misp/`) over mutual TLS: manifest, one
//! event per day, hashes.csv; a retraction leaves the event and moves its
//! timestamp; pseudonymised values stay pseudonyms; only `feed` readers get
//! it. With `TAMIS_PYTHON` (a venv with PyMISP) the files are also loaded by
//! PyMISP's own classes, which recompute the manifest and the hashes.

mod common;

use std::collections::BTreeSet;

use common::{TestServer, json, submit};
use serde_json::{Value, json};

async fn get(s: &TestServer, who: &str, file: &str) -> (u16, Option<String>, Vec<u8>) {
    let resp = s.client(who).get(s.url(&format!("/v1/feeds/misp/{file}"))).send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(s.as_bytes()))
}

#[tokio::test]
async fn police_pull_a_misp_feed_that_pymisp_reads() {
    let s = TestServer::start().await;
    let body = json!({"indicators":[
        {"type":"domain","value":"parcel-redelivery.example.top","category":"phishing","tlp":"green","tags":["smishing"]},
        {"type":"ipv4","value":"185.220.101.4","category":"c2","tlp":"amber","attributes":{"port":"4444"}},
        {"type":"iban","value":"DE89370400440532013000","category":"fraud","tlp":"amber"},
        {"type":"sha256","value":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","category":"malware"}
    ]});
    let (status, v) = submit(&s, "bank-a", &body).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(4)), "{v}");
    let domain_id = v["indicators"][0]["id"].as_str().unwrap().to_owned();

    let (status, ct, manifest) = get(&s, "police-a", "manifest.json").await;
    assert_eq!((status, ct.as_deref()), (200, Some("application/json")));
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    let events: Vec<&String> = manifest.as_object().unwrap().keys().collect();
    assert_eq!(events.len(), 1, "one event for today: {manifest}");
    let uuid = events[0].clone();
    assert_eq!(manifest[&uuid]["Orgc"]["name"], "tamis exchange");

    let (status, _, event) = get(&s, "police-a", &format!("{uuid}.json")).await;
    assert_eq!(status, 200);
    let event: Value = serde_json::from_slice(&event).unwrap();
    let attrs = event["Event"]["Attribute"].as_array().unwrap();
    assert_eq!(attrs.len(), 4, "{event}");
    let by_type: BTreeSet<&str> = attrs.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(by_type, BTreeSet::from(["domain", "ip-dst", "sha256", "text"]));
    let text = serde_json::to_string(&event).unwrap();
    assert!(!text.contains("DE89370400440532013000") && !text.contains("bank-a"), "{text}");
    let ip = attrs.iter().find(|a| a["type"] == "ip-dst").unwrap();
    assert!(ip["comment"].as_str().unwrap().contains("port 4444"), "{ip}");

    let (status, _, hashes) = get(&s, "police-a", "hashes.csv").await;
    assert_eq!(status, 200);
    let hashes = String::from_utf8(hashes).unwrap();
    assert!(hashes.contains(&format!("{},{uuid}", md5_hex("parcel-redelivery.example.top"))), "{hashes}");
    assert_eq!(hashes.lines().count(), 4);

    // Only `feed` readers; unknown files say what exists.
    assert_eq!(get(&s, "isp-a", "manifest.json").await.0, 403);
    let (status, _, body) = get(&s, "police-a", "nope.json").await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("manifest.json"));

    if let Some(python) = std::env::var_os("TAMIS_PYTHON") {
        let dir = tempfile::tempdir().unwrap();
        for f in ["manifest.json", "hashes.csv", &format!("{uuid}.json")] {
            std::fs::write(dir.path().join(f), get(&s, "police-a", f).await.2).unwrap();
        }
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/misp_check.py");
        let out = std::process::Command::new(python).arg(script).arg(dir.path()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stdout.contains("OK"), "misp_check.py failed:\n{stdout}\n{stderr}");
        println!("{stdout}");
    } else if std::env::var_os("TAMIS_REQUIRE_INTEROP").is_some() {
        panic!("TAMIS_REQUIRE_INTEROP is set but TAMIS_PYTHON is not");
    } else {
        println!("skipped: the PyMISP check (set TAMIS_PYTHON to a Python with pymisp)");
    }

    // A retraction removes the attribute and moves the event's timestamp.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let before = manifest[&uuid]["timestamp"].as_str().unwrap().parse::<i64>().unwrap();
    let resp = s.client("bank-a").delete(s.url(&format!("/v1/indicators/{domain_id}"))).send().await.unwrap();
    assert_eq!(json(resp).await.0, 200);
    let (_, _, manifest) = get(&s, "police-a", "manifest.json").await;
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    let after = manifest[&uuid]["timestamp"].as_str().unwrap().parse::<i64>().unwrap();
    assert!(after > before, "{before} -> {after}");
    let (_, _, event) = get(&s, "police-a", &format!("{uuid}.json")).await;
    let event: Value = serde_json::from_slice(&event).unwrap();
    assert_eq!(event["Event"]["Attribute"].as_array().unwrap().len(), 3);
    s.stop().await;
}
