//! TAXII 2.1 over mutual TLS: the real server, the participants'
//! certificates, every endpoint, filter and error path.

mod common;

use common::{TAXII, TestServer, add_participant, deployment, json, submit, taxii_get};
use serde_json::{Value, json};

const LE: &str = "law-enforcement";

fn coll(audience: &str) -> String {
    tamis::feeds::taxii::collection_id(audience)
}

fn objects_path(audience: &str, query: &str) -> String {
    format!("/taxii2/api/collections/{}/objects/{query}", coll(audience))
}

fn ids(v: &Value) -> Vec<String> {
    v["objects"]
        .as_array()
        .map(|a| a.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn domains(s: &TestServer, who: &str, n: usize, extra: Value) -> Vec<String> {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let mut v = json!({"type":"domain","value":format!("c2-{i}.example.com"),"category":"c2","tlp":"green"});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        })
        .collect();
    let (status, v) = submit(s, who, &json!({ "indicators": items })).await;
    assert_eq!(status, 200, "{v}");
    v["indicators"].as_array().unwrap().iter().map(|i| format!("indicator--{}", i["id"].as_str().unwrap())).collect()
}

#[tokio::test]
async fn discovery_api_root_and_media_type_on_every_response() {
    let s = TestServer::start().await;
    let (status, h, v) = taxii_get(&s, "police-a", "/taxii2/").await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], TAXII);
    let root = v["api_roots"][0].as_str().unwrap();
    assert!(root.ends_with("/taxii2/api/"), "{v}");
    assert_eq!(v["default"], root);
    let (status, h, v) = taxii_get(&s, "police-a", "/taxii2/api/").await;
    assert_eq!((status, h["content-type"].to_str().unwrap()), (200, TAXII));
    assert_eq!(v["versions"], json!([TAXII]));
    assert!(v["max_content_length"].as_u64().unwrap() > 0);

    // Errors are TAXII errors with the TAXII media type too.
    for (path, status) in [("/taxii2/nope/", 404), ("/taxii2/api/collections/nope/", 404)] {
        let (got, h, v) = taxii_get(&s, "police-a", path).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(h["content-type"], TAXII, "{path}");
        assert_eq!(v["http_status"], status.to_string());
        assert!(v["title"].is_string());
    }
    // 406 for an Accept the server cannot satisfy; plain curl (*/*) works.
    let c = s.client("police-a");
    for (accept, status) in [
        ("application/json", 406),
        ("application/taxii+json;version=2.0", 406),
        ("*/*", 200),
        ("application/taxii+json", 200),
    ] {
        let resp = c.get(s.url("/taxii2/")).header("accept", accept).send().await.unwrap();
        assert_eq!(resp.headers()["content-type"], TAXII);
        let (got, v) = json(resp).await;
        assert_eq!(got, status, "{accept}: {v}");
    }
    // Read-only: POST is refused, other methods are not allowed.
    let resp = c.post(s.url(&objects_path(LE, ""))).header("accept", TAXII).body("{}").send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], TAXII);
    assert_eq!(resp.status(), 403);
    let resp = c.delete(s.url("/taxii2/api/")).header("accept", TAXII).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["content-type"].to_str().unwrap()), (405, TAXII));
    assert_eq!(resp.headers()["allow"], "GET");
    // Outside /taxii2/ the same recover function answers in the API's format.
    let resp = c.delete(s.url("/v1/whoami")).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["content-type"].to_str().unwrap()), (405, "application/json"));
    assert!(resp.headers().get("allow").is_none());
    let (_, v) = json(resp).await;
    assert_eq!(v["error"]["code"], "method_not_allowed");
    // Malformed parameters.
    for q in
        ["?limit=0", "?limit=abc", "?added_after=yesterday", "?next=zzz", "?match[id]=nope", "?match[version]=all,last"]
    {
        let (status, h, v) = taxii_get(&s, "police-a", &objects_path(LE, q)).await;
        assert_eq!((status, h["content-type"].to_str().unwrap()), (400, TAXII), "{q}: {v}");
        assert_eq!(v["http_status"], "400");
    }
    s.stop().await;
}

#[tokio::test]
async fn collections_follow_role_and_audiences() {
    let (tmp, dir) = deployment();
    add_participant(&dir, "analyst-x", "law-enforcement", &["feed"], &[LE, "isps"]);
    let s = TestServer::start_in(&dir).await;

    let (status, _, v) = taxii_get(&s, "police-a", "/taxii2/api/collections/").await;
    assert_eq!(status, 200);
    let cs = v["collections"].as_array().unwrap();
    assert_eq!(cs.len(), 1, "{v}");
    assert_eq!(cs[0]["id"], coll(LE));
    assert_eq!(cs[0]["alias"], LE);
    assert_eq!((cs[0]["can_read"].as_bool(), cs[0]["can_write"].as_bool()), (Some(true), Some(false)));
    let (status, _, one) = taxii_get(&s, "police-a", &format!("/taxii2/api/collections/{}/", coll(LE))).await;
    assert_eq!(status, 200);
    assert_eq!(one, cs[0]);
    // Another audience's collection does not exist for police-a.
    let (status, _, _) = taxii_get(&s, "police-a", &format!("/taxii2/api/collections/{}/", coll("isps"))).await;
    assert_eq!(status, 404);
    let (status, _, _) = taxii_get(&s, "police-a", &objects_path("isps", "")).await;
    assert_eq!(status, 404);

    let (_, _, v) = taxii_get(&s, "analyst-x", "/taxii2/api/collections/").await;
    let got: Vec<&str> = v["collections"].as_array().unwrap().iter().map(|c| c["alias"].as_str().unwrap()).collect();
    assert_eq!(got, vec![LE, "isps"]);

    // Roles: no feed role, no TAXII (a TAXII error body, the TAXII media type).
    for who in ["bank-a", "isp-a", "dpo-a"] {
        for path in ["/taxii2/", "/taxii2/api/collections/"] {
            let (status, h, v) = taxii_get(&s, who, path).await;
            assert_eq!(status, 403, "{who} {path}");
            assert_eq!(h["content-type"], TAXII);
            assert_eq!(v["http_status"], "403");
        }
    }
    s.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn objects_page_with_next_and_with_added_after_only() {
    let s = TestServer::start().await;
    let expected = domains(&s, "isp-a", 25, json!({})).await;
    let second = domains(&s, "bank-a", 3, json!({"category":"phishing"})).await; // updates of 0..3
    assert_eq!(&second[..], &expected[..3]);

    // Everything in one page: 4 TLP markings (up to amber+strict), the identity, 25 indicators.
    let (status, h, all) = taxii_get(&s, "police-a", &objects_path(LE, "")).await;
    assert_eq!(status, 200);
    assert_eq!(all["more"], false);
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 30, "{all}");
    assert!(all_ids[..4].iter().all(|i| i.starts_with("marking-definition--")));
    assert!(all_ids[4].starts_with("identity--"));
    // Ascending date_added: the 3 updated indicators come last.
    let mut order = expected[3..].to_vec();
    order.extend_from_slice(&expected[..3]);
    assert_eq!(&all_ids[5..], &order[..]);
    assert!(h.contains_key("x-taxii-date-added-first") && h.contains_key("x-taxii-date-added-last"));
    let first = h["x-taxii-date-added-first"].to_str().unwrap();
    assert_eq!(first.len(), "2022-10-01T00:00:00.000000Z".len(), "microseconds: {first}");

    // `next`.
    let mut got = Vec::new();
    let mut q = "?limit=7".to_owned();
    let mut pages = 0;
    loop {
        let (status, _, page) = taxii_get(&s, "police-a", &objects_path(LE, &q)).await;
        assert_eq!(status, 200);
        pages += 1;
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 7);
        got.extend(page_ids);
        if page["more"] == true {
            q = format!("?limit=7&next={}", page["next"].as_str().unwrap());
        } else {
            assert!(page.get("next").is_none());
            break;
        }
    }
    assert_eq!(got, all_ids);
    assert_eq!(pages, 5);

    // `added_after` only, from X-TAXII-Date-Added-Last (the batch of 25 was
    // committed at one instant and must still not be split ambiguously).
    let mut got = Vec::new();
    let mut q = "?limit=4".to_owned();
    loop {
        let (status, h, page) = taxii_get(&s, "police-a", &objects_path(LE, &q)).await;
        assert_eq!(status, 200);
        if page == json!({}) {
            assert!(!h.contains_key("x-taxii-date-added-last"));
            break;
        }
        got.extend(ids(&page));
        let last = h["x-taxii-date-added-last"].to_str().unwrap();
        q = format!("?limit=4&added_after={}", enc(last));
    }
    assert_eq!(got, all_ids);

    // The manifest pages the same way and agrees with the objects.
    let mut manifest = Vec::new();
    let mut q = "?limit=10".to_owned();
    loop {
        let (_, _, page) =
            taxii_get(&s, "police-a", &format!("/taxii2/api/collections/{}/manifest/{q}", coll(LE))).await;
        for r in page["objects"].as_array().unwrap() {
            assert_eq!(r["media_type"], "application/stix+json;version=2.1");
            assert!(r["date_added"].as_str().unwrap().ends_with('Z'));
            manifest.push(r["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => q = format!("?limit=10&next={n}"),
            None => break,
        }
    }
    assert_eq!(manifest, all_ids);
    s.stop().await;
}

#[tokio::test]
async fn match_filters_and_empty_results() {
    let s = TestServer::start().await;
    let ids_ = domains(&s, "isp-a", 5, json!({})).await;
    let (_, _, v) = taxii_get(&s, "police-a", &objects_path(LE, "?match[type]=indicator")).await;
    assert_eq!(ids(&v), ids_);
    let (_, _, v) = taxii_get(&s, "police-a", &objects_path(LE, "?match[type]=identity,indicator&limit=2")).await;
    assert_eq!(ids(&v).len(), 2);
    assert!(ids(&v)[0].starts_with("identity--"));
    let (_, _, v) = taxii_get(&s, "police-a", &objects_path(LE, &format!("?match[id]={},{}", ids_[3], ids_[1]))).await;
    assert_eq!(ids(&v), vec![ids_[1].clone(), ids_[3].clone()]);
    let o = &v["objects"][0];
    assert_eq!(o["type"], "indicator");
    assert_eq!(o["spec_version"], "2.1");
    assert_eq!(o["pattern"], "[domain-name:value = 'c2-1.example.com']");
    assert_eq!(o["object_marking_refs"], json!(["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]));
    assert!(o["created"].as_str().unwrap().len() == "2026-11-20T10:00:00.000Z".len());

    // Empty results are `{}` with no date headers.
    let future = enc("2999-01-01T00:00:00.000000Z");
    for q in [
        "?match[type]=malware".to_owned(),
        format!("?added_after={future}"),
        "?match[spec_version]=2.0".to_owned(),
        "?match[id]=indicator--00000000-0000-4000-8000-000000000000".to_owned(),
        format!("?match[version]={}", enc("2000-01-01T00:00:00.000Z")),
    ] {
        let (status, h, v) = taxii_get(&s, "police-a", &objects_path(LE, &q)).await;
        assert_eq!((status, v.clone()), (200, json!({})), "{q}");
        assert!(!h.contains_key("x-taxii-date-added-first"), "{q}");
        let (_, _, m) = taxii_get(&s, "police-a", &format!("/taxii2/api/collections/{}/manifest/{q}", coll(LE))).await;
        assert_eq!(m, json!({}), "{q}");
    }
    // Single object and its versions; unknown objects are 404.
    let one = format!("/taxii2/api/collections/{}/objects/{}/", coll(LE), ids_[2]);
    let (status, h, v) = taxii_get(&s, "police-a", &one).await;
    assert_eq!(status, 200);
    assert!(h.contains_key("x-taxii-date-added-last"));
    assert_eq!(ids(&v), vec![ids_[2].clone()]);
    let version = v["objects"][0]["modified"].as_str().unwrap().to_owned();
    let (_, _, vs) = taxii_get(&s, "police-a", &format!("{one}versions/")).await;
    assert_eq!(vs, json!({"more": false, "versions": [version]}));
    let (_, _, v) = taxii_get(&s, "police-a", &format!("{one}?match[version]={}", enc(&version))).await;
    assert_eq!(ids(&v).len(), 1);
    let missing =
        format!("/taxii2/api/collections/{}/objects/indicator--00000000-0000-4000-8000-000000000000/", coll(LE));
    let (status, h, _) = taxii_get(&s, "police-a", &missing).await;
    assert_eq!((status, h["content-type"].to_str().unwrap()), (404, TAXII));
    let (status, _, _) = taxii_get(&s, "police-a", &format!("{}versions/", missing)).await;
    assert_eq!(status, 404);
    s.stop().await;
}

#[tokio::test]
async fn withheld_changes_are_revoked_versions_and_nothing_outside_the_view_leaks() {
    let (tmp, dir) = deployment();
    add_participant(&dir, "analyst-x", "law-enforcement", &["feed"], &[LE, "isp-blocking-agreement", "isps"]);
    let s = TestServer::start_in(&dir).await;
    // Green, then raised to red by its submitter (a co-submitter cannot
    // raise it, see tests/store_security.rs): law enforcement (at most
    // amber+strict) saw the green version and must now see it revoked,
    // without learning anything of the red version.
    let body = |tlp: &str, tags: Value| json!({"indicators":[{"type":"domain","value":"raised.example.com","category":"fraud","tlp":tlp,"confidence":60,"tags":tags}]});
    let (status, v) = submit(&s, "bank-a", &body("green", json!(["first"]))).await;
    assert_eq!(status, 200, "{v}");
    let id = format!("indicator--{}", v["indicators"][0]["id"].as_str().unwrap());
    submit(&s, "bank-a", &body("red", json!(["secret-tag"]))).await;
    // Red from the start: never visible. Low confidence: not for the isps view.
    let (_, v) = submit(
        &s,
        "bank-a",
        &json!({"indicators":[
        {"type":"domain","value":"red-only.example.com","category":"fraud","tlp":"red"},
        {"type":"domain","value":"weak.example.com","category":"c2","tlp":"green","confidence":40,"tags":["t"]}]}),
    )
    .await;
    let red_only = format!("indicator--{}", v["indicators"][0]["id"].as_str().unwrap());
    let weak = format!("indicator--{}", v["indicators"][1]["id"].as_str().unwrap());

    let one = format!("/taxii2/api/collections/{}/objects/{id}/", coll(LE));
    let (_, _, vs) = taxii_get(&s, "police-a", &format!("{one}versions/")).await;
    let versions = vs["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{vs}");
    let (_, _, last) = taxii_get(&s, "police-a", &one).await;
    let o = &last["objects"][0];
    assert_eq!(o["revoked"], true, "{o}");
    assert_eq!(o["modified"], versions[1]);
    assert_eq!(o["object_marking_refs"], json!(["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]));
    assert_eq!(o["labels"], json!(["first"]));
    let (_, _, all) = taxii_get(&s, "police-a", &format!("{one}?match[version]=all")).await;
    let all = all["objects"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].get("revoked").is_none());
    assert!(all[0]["modified"].as_str() < all[1]["modified"].as_str());
    assert_eq!(all[0]["created"], all[1]["created"]);

    let (_, _, everything) = taxii_get(&s, "police-a", &objects_path(LE, "?match[version]=all&limit=1000")).await;
    let text = everything.to_string();
    assert!(!text.contains("secret-tag") && !text.contains("red-only") && !text.contains("e828b379"), "{text}");
    assert!(!ids(&everything).contains(&red_only));
    let (status, _, _) =
        taxii_get(&s, "police-a", &format!("/taxii2/api/collections/{}/objects/{red_only}/", coll(LE))).await;
    assert_eq!(status, 404);
    assert!(ids(&everything).contains(&weak));

    // The isps view: confidence >= 50, tags allowed; the blocking-agreement
    // view admits only illegal-content, so it holds the fixed objects only.
    let (_, _, isps) = taxii_get(&s, "analyst-x", &objects_path("isps", "?match[type]=indicator")).await;
    assert!(!ids(&isps).contains(&weak), "{isps}");
    let (_, _, ba) =
        taxii_get(&s, "analyst-x", &objects_path("isp-blocking-agreement", "?match[type]=indicator")).await;
    assert_eq!(ba, json!({}));
    s.stop().await;
    drop(tmp);
}

/// Benchmark, not a timed test: `cargo test --release --test taxii -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn perf_page_of_1000_from_100k() {
    let s = TestServer::start().await;
    let t = std::time::Instant::now();
    for b in 0..100 {
        let items: Vec<Value> = (0..1000)
            .map(|i| json!({"type":"domain","value":format!("bulk-{b}-{i}.example.com"),"category":"c2","tlp":"green"}))
            .collect();
        let (status, _) = submit(&s, "isp-a", &json!({ "indicators": items })).await;
        assert_eq!(status, 200);
    }
    eprintln!("loaded 100,000 indicators in {:?}", t.elapsed());
    let c = s.client("police-a");
    let get = |q: String| {
        let c = c.clone();
        let url = s.url(&objects_path(LE, &q));
        async move {
            let t = std::time::Instant::now();
            let resp = c.get(url).header("accept", TAXII).send().await.unwrap();
            let v: Value = resp.json().await.unwrap();
            (t.elapsed(), v)
        }
    };
    let (cold, v) = get("?limit=1".into()).await;
    eprintln!("first request (index build or catch-up): {cold:?}");
    assert_eq!(v["more"], true);
    let mut times = Vec::new();
    for k in 0..10 {
        let (d, v) = get(format!("?limit=1000&next=p{}", 16 + 50_000 + k * 1000)).await;
        assert_eq!(v["objects"].as_array().unwrap().len(), 1000);
        times.push(d);
    }
    times.sort();
    eprintln!("objects page of 1000 from the middle (10 runs): median {:?}, max {:?}", times[5], times[9]);
    let mut mtimes = Vec::new();
    for k in 0..10 {
        let t = std::time::Instant::now();
        let url = s.url(&format!(
            "/taxii2/api/collections/{}/manifest/?limit=1000&next=p{}",
            coll(LE),
            16 + 50_000 + k * 1000
        ));
        let v: Value = c.get(url).header("accept", TAXII).send().await.unwrap().json().await.unwrap();
        assert_eq!(v["objects"].as_array().unwrap().len(), 1000);
        mtimes.push(t.elapsed());
    }
    mtimes.sort();
    eprintln!("manifest page of 1000 (10 runs): median {:?}, max {:?}", mtimes[5], mtimes[9]);
    s.stop().await;
}

#[tokio::test]
async fn a_retracted_then_resubmitted_indicator_is_a_new_object_never_unrevoked() {
    let s = TestServer::start().await;
    let body = serde_json::json!({"indicators":[{"type":"domain","value":"comeback-c2.top","category":"c2","tlp":"green","confidence":90}]});
    let (status, v) = common::submit(&s, "bank-a", &body).await;
    assert_eq!(status, 200);
    let id = v["indicators"][0]["id"].as_str().unwrap().to_owned();
    let r = s.client("bank-a").delete(s.url(&format!("/v1/indicators/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = common::submit(&s, "bank-a", &body).await;
    assert_eq!(status, 200);

    let coll = tamis::feeds::taxii::collection_id("law-enforcement");
    let (status, _, env) = common::taxii_get(
        &s,
        "police-a",
        &format!("/taxii2/api/collections/{coll}/objects/?match[type]=indicator&match[version]=all"),
    )
    .await;
    assert_eq!(status, 200);
    let objs: Vec<&serde_json::Value> = env["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["pattern"].as_str().unwrap_or("").contains("comeback-c2.top"))
        .collect();
    let first = format!("indicator--{id}");
    let old: Vec<_> = objs.iter().filter(|o| o["id"] == first.as_str()).collect();
    assert!(old.last().unwrap()["revoked"] == true, "the first life ends revoked: {objs:?}");
    let new: Vec<_> = objs.iter().filter(|o| o["id"] != first.as_str()).collect();
    assert_eq!(new.len(), 1, "the second life is a new object: {objs:?}");
    assert!(new[0]["revoked"].is_null() || new[0]["revoked"] == false);
    s.stop().await;
}
