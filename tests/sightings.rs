//! Sightings and false positives (issue 13, item 3) over mutual TLS: two
//! independent false-positive reports take a domain out of `domains.txt`
//! and the RPZ at once; the submitter sees the reports (reasons filtered
//! for personal data) and confirms, which puts the domain back; one report
//! from an ISP of the blocking agreement is enough; everything is audited
//! and counted in `/v1/stats`.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, add_participant, deployment, json, submit};
use serde_json::{Value, json};

/// Polls a blocklist until `pred` holds; answers how long it took.
async fn wait_for(s: &TestServer, who: &str, name: &str, pred: impl Fn(&str) -> bool) -> Duration {
    let (c, t0) = (s.client(who), Instant::now());
    loop {
        let r = c.get(s.url(&format!("/v1/blocklists/{name}"))).send().await.unwrap();
        if r.status() == 200 && pred(&r.text().await.unwrap()) {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{name} never reached the expected state");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn report(s: &TestServer, who: &str, body: &Value) -> (u16, Value) {
    json(s.client(who).post(s.url("/v1/sightings")).json(body).send().await.unwrap()).await
}

const DOMAIN: &str = "honest-shop.top";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_false_positives_take_a_domain_off_the_lists_until_its_submitter_confirms_it() {
    let s = TestServer::start().await;
    let (status, v) = submit(
        &s,
        "bank-a",
        &json!({"indicators": [
            {"type": "domain", "value": DOMAIN, "category": "phishing", "tlp": "green", "confidence": 80},
            {"type": "domain", "value": "real-phish.top", "category": "phishing", "tlp": "green", "confidence": 80}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let id = v["indicators"][0]["id"].as_str().unwrap().to_owned();
    wait_for(&s, "isp-a", "domains.txt", |b| b.contains(DOMAIN)).await;

    // Sightings carry counts only; by id or by type and value.
    let (status, v) = report(
        &s,
        "isp-a",
        &json!({"sightings": [{"type": "domain", "value": "Real-Phish.top", "kind": "seen", "count": 40},
                              {"id": id, "kind": "seen"}]}),
    )
    .await;
    assert_eq!((status, v["recorded"].as_u64()), (200, Some(2)), "{v}");

    // First false positive (police): recorded, still listed.
    let reason = "Legitimate shop. Customer Jean Dupont (jean.dupont@orange.fr) called us";
    let (status, v) =
        report(&s, "police-a", &json!({"sightings": [{"id": id, "kind": "false-positive", "reason": reason}]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["results"][0]["status"], "recorded");
    assert!(v["removed"].as_object().is_some_and(|m| !m.is_empty()), "the reason's personal data is removed: {v}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let list = s.client("isp-a").get(s.url("/v1/blocklists/domains.txt")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains(DOMAIN), "one report is not enough");

    // Second, independent one (an ISP): withdrawn from the lists at once.
    let (status, v) = report(
        &s,
        "isp-a",
        &json!({"sightings": [{"id": id, "kind": "false-positive", "reason": "our customers' shop, verified"}]}),
    )
    .await;
    assert_eq!(
        (status, v["results"][0]["status"].as_str(), v["withdrawn"].as_u64()),
        (200, Some("withdrawn"), Some(1))
    );
    let took = wait_for(&s, "isp-a", "domains.txt", |b| !b.contains(DOMAIN) && b.contains("real-phish.top")).await;
    wait_for(&s, "isp-a", "domains.rpz", |b| !b.contains(DOMAIN) && b.contains("real-phish.top")).await;
    wait_for(&s, "isp-a", "hosts.txt", |b| !b.contains(DOMAIN)).await;
    println!("false positive: out of domains.txt {:.0} ms after the second report", took.as_secs_f64() * 1e3);

    // The feed keeps it, marked.
    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators?since=0")).send().await.unwrap()).await;
    let last = feed["indicators"].as_array().unwrap().iter().rev().find(|i| i["id"] == id.as_str()).unwrap().clone();
    assert_eq!((last["withdrawn"].as_bool(), last["reason"].as_str()), (Some(true), Some("false-positive")), "{last}");
    // So do TAXII (the tamis extension says `withdrawn`) and the MISP feed (not `to_ids`, and says why).
    assert!(withdrawn_in_taxii_and_misp(&s, DOMAIN).await);

    // The submitter sees the reports: sectors, filtered reasons, the withdrawal.
    let (status, v) = json(s.client("bank-a").get(s.url("/v1/sightings")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{v}");
    let mine = v["reports"].as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).unwrap().clone();
    assert!(mine["withdrawn"].is_string(), "{mine}");
    assert_eq!((mine["seen_reporters"].as_u64(), mine["seen_count"].as_u64()), (Some(1), Some(1)));
    let fps = mine["false_positives"].as_array().unwrap();
    assert_eq!(fps.len(), 2);
    let text = serde_json::to_string(fps).unwrap();
    assert!(!text.contains("jean.dupont@orange.fr") && !text.contains("Jean Dupont"), "{text}");
    assert!(text.contains("Legitimate shop"), "{text}");
    assert!(fps.iter().all(|f| f.get("participant").is_none() && f["sector"].is_string()));
    // Nobody else sees them (another submitter has none; police may not ask), nor confirms.
    let (_, other) = json(s.client("isp-a").get(s.url("/v1/sightings")).send().await.unwrap()).await;
    assert_eq!(other["reports"], json!([]), "{other}");
    let (_, other) = json(s.client("police-a").get(s.url("/v1/sightings")).send().await.unwrap()).await;
    assert_eq!(other["error"]["code"], "forbidden");
    let (status, _) =
        json(s.client("isp-a").post(s.url(&format!("/v1/indicators/{id}/confirm"))).send().await.unwrap()).await;
    assert_eq!(status, 404);

    // The submitter stands by it: back on the lists.
    let (status, v) =
        json(s.client("bank-a").post(s.url(&format!("/v1/indicators/{id}/confirm"))).send().await.unwrap()).await;
    assert_eq!((status, v["reinstated"].as_bool(), v["cleared"].as_u64()), (200, Some(true), Some(2)), "{v}");
    wait_for(&s, "isp-a", "domains.txt", |b| b.contains(DOMAIN)).await;
    wait_for(&s, "isp-a", "domains.rpz", |b| b.contains(DOMAIN)).await;
    assert!(!withdrawn_in_taxii_and_misp(&s, DOMAIN).await, "confirmed: no longer marked");

    // Counted and audited.
    let (_, stats) = json(s.client("dpo-a").get(s.url("/v1/stats")).send().await.unwrap()).await;
    let st = &stats["sightings"];
    assert_eq!(
        (st["seen"].as_u64(), st["false_positives"].as_u64(), st["withdrawn"].as_u64(), st["confirmed"].as_u64()),
        (Some(41), Some(2), Some(1), Some(1)),
        "{stats}"
    );
    let (_, audit) = json(s.client("dpo-a").get(s.url("/v1/audit?limit=1000")).send().await.unwrap()).await;
    let records = audit["records"].as_array().unwrap();
    let sightings: Vec<&Value> = records.iter().filter(|r| r["event"] == "sightings").collect();
    assert_eq!(sightings.len(), 3);
    assert_eq!(sightings[2]["withdrawn"], json!([id]));
    assert_eq!(sightings[1]["false_positives"], 1);
    let review = records.iter().find(|r| r["event"] == "review").expect("a review record");
    assert_eq!((review["participant"].as_str(), review["reinstated"].as_bool()), (Some("bank-a"), Some(true)));
    assert!(!audit.to_string().contains("Legitimate shop"), "reasons stay out of the audit trail");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_report_from_the_blocking_agreement_is_enough_and_bad_reports_are_refused() {
    let (_tmp, dir) = deployment();
    add_participant(&dir, "isp-b", "isp", &["blocklist"], &["isps", "isp-blocking-agreement"]);
    let s = TestServer::start_in(&dir).await;
    let (status, v) = submit(
        &s,
        "isp-a",
        &json!({"indicators": [{"type": "domain", "value": DOMAIN, "category": "malware", "tlp": "green", "confidence": 90}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let id = v["indicators"][0]["id"].as_str().unwrap().to_owned();
    wait_for(&s, "isp-b", "domains.txt", |b| b.contains(DOMAIN)).await;

    // Its own submitter cannot report it (it retracts instead); unknown ids are said so.
    let (status, v) = report(
        &s,
        "isp-a",
        &json!({"sightings": [{"id": id, "kind": "false-positive", "reason": "oops"},
                              {"id": "00000000-0000-4000-8000-000000000000", "kind": "seen"}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["results"][0]["status"].as_str(), v["results"][1]["status"].as_str()),
        (Some("own-indicator"), Some("unknown"))
    );

    let (status, v) = report(
        &s,
        "isp-b",
        &json!({"sightings": [{"id": id, "kind": "false-positive", "reason": "a customer's site"}]}),
    )
    .await;
    assert_eq!((status, v["results"][0]["status"].as_str()), (200, Some("withdrawn")), "{v}");
    wait_for(&s, "isp-b", "domains.txt", |b| !b.contains(DOMAIN)).await;

    // Roles and bad input: 403, 400 naming the item and field, 415.
    let (status, _) = report(&s, "bank-a", &json!({"sightings": [{"id": id, "kind": "seen"}]})).await;
    assert_eq!(status, 403);
    for (item, expected) in [
        (json!({"id": id, "kind": "maybe"}), "sightings[1].kind"),
        (json!({"id": "nope", "kind": "seen"}), "sightings[1].id"),
        (json!({"id": id, "kind": "seen", "count": 0}), "sightings[1].count"),
        (json!({"id": id, "kind": "seen", "reason": "x"}), "sightings[1].reason"),
        (json!({"id": id, "kind": "false-positive"}), "sightings[1].reason"),
        (json!({"type": "iban", "value": "FR7630006000011234567890189", "kind": "seen"}), "sightings[1].type"),
        (json!({"type": "domain", "value": "not a domain", "kind": "seen"}), "sightings[1].value"),
        (json!({"kind": "seen"}), "sightings[1]: name the indicator"),
    ] {
        let (status, v) = report(&s, "police-a", &json!({"sightings": [{"id": id, "kind": "seen"}, item]})).await;
        assert_eq!(status, 400, "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.starts_with(expected), "{m}");
        assert!(!m.contains("FR7630006000011234567890189"), "{m}");
    }
    let r = s.client("police-a").post(s.url("/v1/sightings")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 415);
    // Nothing of the refused requests was counted.
    let (_, stats) = json(s.client("dpo-a").get(s.url("/v1/stats")).send().await.unwrap()).await;
    assert_eq!(
        (stats["sightings"]["seen"].as_u64(), stats["sightings"]["false_positives"].as_u64()),
        (Some(0), Some(1))
    );
    s.stop().await;
}

/// Whether police-a's TAXII collection and MISP feed both show `value` as
/// withdrawn (both must agree: either both or neither).
async fn withdrawn_in_taxii_and_misp(s: &TestServer, value: &str) -> bool {
    let coll = tamis::feeds::taxii::collection_id("law-enforcement");
    let (status, _, objects) =
        common::taxii_get(s, "police-a", &format!("/taxii2/api/collections/{coll}/objects/")).await;
    assert_eq!(status, 200, "{objects}");
    let obj = objects["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["pattern"].as_str().is_some_and(|p| p.contains(value)))
        .expect("the indicator in TAXII")
        .clone();
    let ext = &obj["extensions"][tamis::feeds::stix::EXTENSION_ID];
    let in_taxii = ext["withdrawn"] == json!(true);
    if in_taxii {
        assert_eq!(ext["withdrawn_reason"], "false-positive");
        assert_eq!(ext["extension_type"], "property-extension");
    } else {
        assert!(ext.get("withdrawn").is_none(), "{obj}");
    }
    let get = |path: String| {
        let c = s.client("police-a");
        async move { c.get(path).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let manifest = get(s.url("/v1/feeds/misp/manifest.json")).await;
    let mut attr = None;
    for uuid in manifest.as_object().unwrap().keys() {
        let event = get(s.url(&format!("/v1/feeds/misp/{uuid}.json"))).await;
        attr = attr.or(event["Event"]["Attribute"].as_array().unwrap().iter().find(|a| a["value"] == value).cloned());
    }
    let attr = attr.expect("the indicator in the MISP feed");
    let in_misp = attr["to_ids"] == json!(false);
    assert_eq!(attr["comment"].as_str().unwrap().starts_with("withdrawn from blocklists"), in_misp, "{attr}");
    assert_eq!(in_taxii, in_misp, "TAXII {obj} vs MISP {attr}");
    in_taxii
}
