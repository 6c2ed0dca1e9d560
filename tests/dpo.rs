//! The DPO's view: audit trail, its verification (also after tampering, with
//! the CLI), the policy registry and dry-runs, statistics, the record of
//! processing — and none of it holds personal data.

mod common;

use common::{TestServer, json, submit};
use serde_json::json;

const PII: &[&str] = &["jean.dupont", "Dupont", "orange.fr", "+33 6 12 34 56 78", "FR7630006000011234567890189"];

fn body_with_pii() -> serde_json::Value {
    json!({"indicators":[
        {"type":"url","value":"https://secure-bank.example.com/login?email=jean.dupont%40orange.fr","category":"phishing",
         "confidence":80,"tlp":"green",
         "description":"Customer Jean Dupont (+33 6 12 34 56 78) paid to FR7630006000011234567890189.",
         "attributes":{"customer_email":"jean.dupont@orange.fr"}},
        {"type":"ipv4","value":"10.0.0.1"}
    ]})
}

#[tokio::test]
async fn dpo_reads_and_verifies_the_audit_trail_and_others_cannot() {
    let s = TestServer::start().await;
    let (status, _) = submit(&s, "bank-a", &body_with_pii()).await;
    assert_eq!(status, 200);
    let (status, _) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    assert_eq!(status, 200);

    let dpo = s.client("dpo-a");
    let (status, log) = json(dpo.get(s.url("/v1/audit?after=0&limit=100")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let records = log["records"].as_array().unwrap();
    let events: Vec<&str> = records.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"policy-load"), "{events:?}");
    let sub = records.iter().find(|r| r["event"] == "submission").expect("submission audited");
    assert_eq!(sub["participant"], "bank-a");
    assert_eq!(sub["accepted"], 1);
    assert_eq!(sub["rejected"], 1);
    assert!(sub["policy"].as_str().unwrap().starts_with("default@"));
    assert!(sub["removed"].as_object().is_some_and(|m| !m.is_empty()), "removal counts by type: {sub}");
    let pull = records.iter().find(|r| r["event"] == "pull").expect("pull audited");
    assert_eq!(pull["participant"], "police-a");
    assert_eq!(pull["endpoint"], "/v1/indicators");
    let text = log.to_string();
    for p in PII {
        assert!(!text.contains(p), "{p} in the audit trail");
    }
    // Paging.
    let (_, page) = json(dpo.get(s.url("/v1/audit?after=1&limit=1")).send().await.unwrap()).await;
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert_eq!(page["records"][0]["seq"], 2);
    assert_eq!(page["next"], "2");

    let (status, v) = json(dpo.get(s.url("/v1/audit/verify")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(v["ok"], true);
    assert!(v["records"].as_u64().unwrap() >= 3);

    for who in ["police-a", "bank-a", "isp-a"] {
        for path in ["/v1/audit", "/v1/audit/verify", "/v1/policies", "/v1/policies/default"] {
            let r = s.client(who).get(s.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 403, "{who} {path}");
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn policy_registry_and_dry_run_store_nothing() {
    let s = TestServer::start().await;
    let dpo = s.client("dpo-a");
    let (status, v) = json(dpo.get(s.url("/v1/policies")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = v["policies"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"default") && ids.contains(&"strict"), "{ids:?}");

    let (status, p) = json(dpo.get(s.url("/v1/policies/default")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(p["version"].as_str().unwrap().starts_with("default@"));
    assert!(p["text"].as_str().unwrap().contains("id = \"default\""));
    assert!(!p["explain"].as_str().unwrap().is_empty());
    let (status, _) = json(dpo.get(s.url("/v1/policies/nope")).send().await.unwrap()).await;
    assert_eq!(status, 404);

    let (status, versions) = json(dpo.get(s.url("/v1/policies/default/versions")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let list = versions["versions"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["active"], true);

    let r = dpo.post(s.url("/v1/policies/default/dry-run")).json(&body_with_pii()).send().await.unwrap();
    let (status, out) = json(r).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["indicators"].as_array().unwrap().len(), 1);
    assert_eq!(out["rejected"][0]["index"], 1);
    let text = out.to_string();
    for p in PII {
        assert!(!text.contains(p), "{p} in the dry-run output");
    }
    assert!(text.contains("secure-bank.example.com"));
    let r = dpo.post(s.url("/v1/policies/default/dry-run?explain=true")).json(&body_with_pii()).send().await.unwrap();
    let (status, out) = json(r).await;
    assert_eq!(status, 200);
    let ex = out["indicators"][0]["explain"].as_array().expect("explanations");
    assert!(ex.iter().any(|e| e["category"] == "email"), "{ex:?}");
    let text = out.to_string();
    for p in PII {
        assert!(!text.contains(p), "{p} in the explained dry-run");
    }
    // SPEC §4: the HTTP dry-run answers "as `tamis policy dry-run`": the
    // same document, field for field (values differ only by keys).
    let cli = {
        let p = tamis::policy::Policy::load(std::path::Path::new("policies/default.toml")).unwrap();
        let sanitiser =
            tamis::privacy::Sanitiser::new(std::sync::Arc::new(p), tamis::privacy::Keys::ephemeral().unwrap()).unwrap();
        let body = serde_json::to_vec(&body_with_pii()).unwrap();
        tamis::cli::policy::dry_run_body(&sanitiser, &body, true).unwrap()
    };
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&out), keys(&cli));
    assert_eq!(keys(&out["indicators"][0]), keys(&cli["indicators"][0]));
    assert_eq!(
        (&out["policy"], &out["rejected"], &out["removed"]),
        (&cli["policy"], &cli["rejected"], &cli["removed"])
    );
    assert_eq!(out["indicators"][0]["explain"], cli["indicators"][0]["explain"]);
    let r = s.client("bank-a").post(s.url("/v1/policies/default/dry-run")).json(&body_with_pii()).send().await.unwrap();
    assert_eq!(r.status(), 403);

    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    assert!(feed["indicators"].as_array().unwrap().is_empty(), "a dry-run stores nothing");

    // A submission marks the version as used.
    let (status, _) = submit(&s, "bank-a", &body_with_pii()).await;
    assert_eq!(status, 200);
    let (_, versions) = json(dpo.get(s.url("/v1/policies/default/versions")).send().await.unwrap()).await;
    assert_eq!(versions["versions"][0]["submissions"], 1);
    assert!(versions["versions"][0]["last_used"].is_string());
    s.stop().await;
}

#[tokio::test]
async fn statistics_are_aggregates_for_audit_and_feed_roles() {
    let s = TestServer::start().await;
    let (status, _) = submit(&s, "bank-a", &body_with_pii()).await;
    assert_eq!(status, 200);
    let (status, _) = submit(
        &s,
        "isp-a",
        &json!({"indicators":[{"type":"domain","value":"c2-stats.top","category":"c2","tlp":"green","confidence":90}]}),
    )
    .await;
    assert_eq!(status, 200);
    let mut stats = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, v) = json(s.client("dpo-a").get(s.url("/v1/stats")).send().await.unwrap()).await;
        assert_eq!(status, 200);
        if v["indicators"]["total"] == 2 {
            stats = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stats["indicators"]["by_category"]["c2"], 1, "{stats}");
    assert_eq!(stats["indicators"]["by_sector"]["finance"], 1);
    assert_eq!(stats["indicators"]["by_sector"]["telecom"], 1);
    assert_eq!(stats["indicators"]["by_tlp"]["green"], 2);
    assert!(stats["removals"]["total"].as_u64().unwrap() >= 1);
    let text = stats.to_string();
    for p in PII.iter().chain(["bank-a", "isp-a"].iter()) {
        assert!(!text.contains(p), "{p} in statistics");
    }
    let r = s.client("police-a").get(s.url("/v1/stats")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s.client("bank-a").get(s.url("/v1/stats")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    s.stop().await;
}

#[tokio::test]
async fn tampering_is_detected_with_its_sequence_number_by_the_cli() {
    let s = TestServer::start().await;
    for i in 0..3 {
        let (status, _) = submit(
            &s,
            "isp-a",
            &json!({"indicators":[{"type":"domain","value":format!("tamper-{i}.top"),"category":"c2"}]}),
        )
        .await;
        assert_eq!(status, 200);
    }
    let dir = s.dir.clone();
    let tmp = s.stop().await;
    let bin = env!("CARGO_BIN_EXE_tamis");
    let cfg = dir.join("tamis.toml");
    let verify = || std::process::Command::new(bin).args(["audit", "verify", "--config"]).arg(&cfg).output().unwrap();
    let out = verify();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // An insider with the storage key rewrites record 3's content.
    let key = tamis::config::read_key(&dir.join("keys/storage.key")).unwrap();
    let sealer = tamis::store::crypto::Sealer::new(&key, 1);
    {
        let db = sled::open(dir.join("data")).unwrap();
        let tree = db.open_tree("tamis").unwrap();
        let k = [b"a/".as_slice(), &3u64.to_be_bytes()].concat();
        let plain = sealer.open(&k, &tree.get(&k).unwrap().unwrap()).unwrap();
        let mut rec: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        rec["accepted"] = json!(999);
        tree.insert(&k, sealer.seal(&k, &serde_json::to_vec(&rec).unwrap())).unwrap();
        db.flush().unwrap();
    }
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_bad"]["seq"], 3, "{report}");

    // Deleting a record is detected too.
    {
        let db = sled::open(dir.join("data")).unwrap();
        let tree = db.open_tree("tamis").unwrap();
        tree.remove([b"a/".as_slice(), &2u64.to_be_bytes()].concat()).unwrap();
        db.flush().unwrap();
    }
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_bad"]["seq"], 3, "the record after the gap is reported: {report}");
    drop(tmp);
}

#[tokio::test]
async fn record_of_processing_names_policies_recipients_and_retention() {
    let (tmp, dir) = common::deployment();
    let bin = env!("CARGO_BIN_EXE_tamis");
    for (format, marker) in [("md", "# Record of processing"), ("html", "<!doctype html>")] {
        let out = std::process::Command::new(bin)
            .args(["report", "processing", "--format", format, "--config"])
            .arg(dir.join("tamis.toml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(marker), "{format}");
        for needle in [
            "default@",
            "law-enforcement",
            "police-a",
            "isp-a",
            "Retention",
            "90",
            "Controller",
            "Not configured",
            "[controller]",
            "Categories of data subjects",
            "Transfers to third countries",
            "Security measures",
            "contact-point directory",
            "false-positive",
        ] {
            assert!(text.contains(needle), "{format} report lacks {needle}");
        }
        if format == "html" {
            // Rendered from Markdown: lists are lists, tables are tables.
            assert!(text.contains("<ul>") && text.matches("<li>").count() > 20, "lists");
            assert!(text.contains("<table>") && !text.contains("<p>- ") && !text.contains("| ---"), "tables");
        }
    }
    drop(tmp);
}
