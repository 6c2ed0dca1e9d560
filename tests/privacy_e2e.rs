//! The public PII corpus end to end through the running exchange: submitted
//! as bank-a over mutual TLS, read back as police-a (JSON feed and TAXII),
//! as isp-a (blocklists) and as dpo-a (audit, statistics). Nothing planted
//! may come out anywhere — nor be written to the database files — and the
//! intelligence must survive in the feed.

mod common;

use common::{TestServer, json, load_cases, score};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_through_the_server_leaks_nothing_anywhere() {
    let cases = load_cases("tests/data/pii-corpus-public.jsonl");
    let body = serde_json::json!({"indicators": cases.iter().map(|c| c.indicator.clone()).collect::<Vec<_>>()});
    let s = TestServer::start().await;
    let (status, resp) = common::submit(&s, "bank-a", &body).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["accepted"], 600, "every corpus case is a valid indicator: {}", resp["rejected"]);

    let (status, feed) =
        json(s.client("police-a").get(s.url("/v1/indicators?limit=10000")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let feed_text = feed.to_string();
    let sc = score(&cases, &feed_text);
    assert!(sc.leaks.is_empty(), "{} leaks in the feed: {:?}", sc.leaks.len(), sc.leaks);
    assert!(sc.retention() >= 0.98, "feed retention {:.4}", sc.retention());

    // Everything else a participant can read.
    let mut everything = vec![feed_text, resp.to_string()];
    let coll = tamis::feeds::taxii::collection_id("law-enforcement");
    let (_, _, taxii) = common::taxii_get(&s, "police-a", &format!("/taxii2/api/collections/{coll}/objects/")).await;
    everything.push(taxii.to_string());
    // Blocklists are rebuilt after a debounce: wait for the build that includes the submission.
    let head = s.state.store.head();
    while s.state.blocklists.built_head.load(std::sync::atomic::Ordering::Acquire) < head {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for name in tamis::feeds::blocklist::NAMES {
        let r = s.client("isp-a").get(s.url(&format!("/v1/blocklists/{name}"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        everything.push(r.text().await.unwrap());
    }
    for path in ["/v1/audit?limit=10000", "/v1/stats", "/v1/policies/default/versions"] {
        let (status, v) = json(s.client("dpo-a").get(s.url(path)).send().await.unwrap()).await;
        assert_eq!(status, 200, "{path}");
        everything.push(v.to_string());
    }
    let sc = score(&cases, &everything.join("\n"));
    assert!(sc.leaks.is_empty(), "{} leaks in the outputs: {:?}", sc.leaks.len(), sc.leaks);

    // The database files: values are sanitised before storage and encrypted at rest.
    let dir = s.dir.clone();
    let tmp = s.stop().await;
    let mut raw = String::new();
    for f in common::walk(&dir.join("data")) {
        raw.push_str(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
    }
    // Ciphertext is random bytes: a 4-letter planted user name ("dbus")
    // turns up in ~10 MB of it by chance about one run in ten. Score the
    // files on planted strings of 8 characters or more (every e-mail, phone,
    // IBAN, card, ID, name and address of the corpus).
    let long: Vec<common::Case> = cases
        .iter()
        .map(|c| common::Case {
            id: c.id.clone(),
            indicator: c.indicator.clone(),
            must_not_appear: c.must_not_appear.iter().filter(|(_, t)| t.chars().count() >= 8).cloned().collect(),
            must_appear: Vec::new(),
        })
        .collect();
    let sc = score(&long, &raw);
    assert!(sc.leaks.is_empty(), "{} planted values found in the database files: {:?}", sc.leaks.len(), sc.leaks);
    drop(tmp);
}
