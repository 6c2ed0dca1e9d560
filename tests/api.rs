//! End-to-end tests of the mutual-TLS API: the real server on 127.0.0.1:0,
//! certificates generated in the test, every endpoint and role.

mod common;

use common::{TestServer, issue_client, json, submit};
use serde_json::json;

#[tokio::test]
async fn whoami_identifies_each_participant_over_h2_and_http1() {
    let s = TestServer::start().await;
    for (who, kind, role) in [
        ("bank-a", "bank", "submit"),
        ("isp-a", "isp", "blocklist"),
        ("police-a", "law-enforcement", "feed"),
        ("dpo-a", "auditor", "audit"),
    ] {
        for client in [s.client(who), s.client_http1(who)] {
            let resp = client.get(s.url("/v1/whoami")).send().await.unwrap();
            let version = resp.version();
            let (status, v) = json(resp).await;
            assert_eq!(status, 200);
            assert_eq!(v["id"], who);
            assert_eq!(v["kind"], kind);
            assert!(v["roles"].as_array().unwrap().iter().any(|r| r == role), "{v}");
            assert_eq!(v["fingerprint"].as_str().unwrap().len(), 64);
            assert!(version == reqwest::Version::HTTP_2 || version == reqwest::Version::HTTP_11);
        }
    }
    let h2 = s.client("bank-a").get(s.url("/v1/whoami")).send().await.unwrap();
    assert_eq!(h2.version(), reqwest::Version::HTTP_2);
    let h1 = s.client_http1("bank-a").get(s.url("/v1/whoami")).send().await.unwrap();
    assert_eq!(h1.version(), reqwest::Version::HTTP_11);
    s.stop().await;
}

#[tokio::test]
async fn handshake_refuses_missing_and_foreign_certificates() {
    let s = TestServer::start().await;
    let err = s.anonymous().get(s.url("/v1/whoami")).send().await;
    assert!(err.is_err(), "a client without certificate must not get an answer");

    issue_client(&s.dir, "mallory", true);
    let err = s.client("mallory").get(s.url("/v1/whoami")).send().await;
    assert!(err.is_err(), "a certificate from another CA must be refused");
    s.stop().await;
}

#[tokio::test]
async fn unregistered_certificate_gets_only_whoami() {
    let s = TestServer::start().await;
    issue_client(&s.dir, "stranger", false);
    let c = s.client("stranger");
    let (status, v) = json(c.get(s.url("/v1/whoami")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(v["registered"], false);
    let (status, v) = json(c.get(s.url("/v1/indicators")).send().await.unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(v["error"]["code"], "unregistered_certificate");
    let (status, _) = json(
        c.post(s.url("/v1/submissions"))
            .json(&json!({"indicators":[{"type":"domain","value":"x.example.com"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    s.stop().await;
}

#[tokio::test]
async fn roles_are_enforced_on_every_endpoint() {
    let s = TestServer::start().await;
    let body = json!({"indicators":[{"type":"domain","value":"evil.example.com"}]});
    for who in ["police-a", "dpo-a"] {
        let (status, v) = submit(&s, who, &body).await;
        assert_eq!(status, 403, "{who} must not submit");
        assert_eq!(v["error"]["code"], "forbidden");
    }
    for who in ["bank-a", "isp-a", "dpo-a"] {
        let (status, _) = json(s.client(who).get(s.url("/v1/indicators")).send().await.unwrap()).await;
        assert_eq!(status, 403, "{who} must not read the feed");
    }
    let (status, _) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    // the private lookup: banks only (role lookup)
    for who in ["isp-a", "police-a", "dpo-a"] {
        let (status, v) = json(s.client(who).get(s.url("/v1/lookup/abcd")).send().await.unwrap()).await;
        assert_eq!(status, 403, "{who} must not look up: {v}");
    }
    let (status, _) = json(s.client("bank-a").get(s.url("/v1/lookup/abcd")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_bad_indicator_is_rejected_with_its_index_and_the_rest_lands() {
    let s = TestServer::start().await;
    let body = json!({"indicators":[
        {"type":"domain","value":"phish-login.example.com","category":"phishing","tlp":"green","confidence":70},
        {"type":"ipv4","value":"192.168.1.20"},
        {"type":"sha256","value":"nothex"},
        {"type":"url","value":"https://secure-bank.example.com/login?email=jean.dupont%40orange.fr","category":"phishing",
         "description":"Customer Jean Dupont (+33 6 12 34 56 78) entered credentials on the page."},
        {"type":"color","value":"blue"},
        {"type":"ipv4","value":"185.220.101.4","confidence":"high"}
    ]});
    let (status, v) = submit(&s, "bank-a", &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 2);
    let rejected: Vec<(u64, String)> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(rejected, vec![(1, "value".into()), (2, "value".into()), (4, "type".into()), (5, "confidence".into())]);
    let text = v.to_string();
    assert!(!text.contains("192.168.1.20") && !text.contains("nothex"), "rejections must not echo values: {text}");
    assert!(v["policy"].as_str().unwrap().starts_with("default@"));

    let (status, feed) =
        json(s.client("police-a").get(s.url("/v1/indicators?since=0&limit=10")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let items = feed["indicators"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["value"], "phish-login.example.com");
    assert_eq!(items[0]["op"], "add");
    assert_eq!(items[0]["sources"]["count"], 1);
    assert_eq!(items[0]["sources"]["sectors"], json!(["finance"]));
    let feed_text = feed.to_string();
    for secret in ["jean.dupont", "Dupont", "orange.fr", "12 34 56 78", "bank-a"] {
        assert!(!feed_text.contains(secret), "{secret} leaked into the feed: {feed_text}");
    }
    assert!(feed_text.contains("secure-bank.example.com"), "the attacker's host must survive");
    s.stop().await;
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors_and_change_nothing() {
    let s = TestServer::start().await;
    let c = s.client("bank-a");
    let post =
        |body: Vec<u8>, ct: &'static str| c.post(s.url("/v1/submissions")).header("content-type", ct).body(body).send();
    let (status, v) = json(
        post(b"{\"indicators\": [\n {\"type\": \"domain\", \"value\": \"jean@x.fr\" \n".to_vec(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], "malformed_json");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("line 3"), "{msg}");
    assert!(!msg.contains("jean"), "{msg}");

    let (status, v) =
        json(post(b"{\"indicators\": \"jean.dupont@orange.fr\"}".to_vec(), "application/json").await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(!v.to_string().contains("jean"), "{v}");

    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let (status, _) = json(post(deep.into_bytes(), "application/json").await.unwrap()).await;
    assert_eq!(status, 400);

    let (status, _) = json(post(vec![b'{', 0xff, 0xfe, b'}'], "application/json").await.unwrap()).await;
    assert_eq!(status, 400);

    let (status, v) =
        json(post(b"type,value\ndomain,x.example.com\n".to_vec(), "application/xml").await.unwrap()).await;
    assert_eq!(status, 415, "{v}");

    let (status, v) = json(post(b"{\"indicators\":[]}".to_vec(), "application/json").await.unwrap()).await;
    assert_eq!(status, 400, "{v}");

    let (status, v) = json(
        post(br#"{"indicators":[{"type":"ipv4","value":"10.0.0.1"}]}"#.to_vec(), "application/json").await.unwrap(),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["rejected"][0]["index"], 0);

    let big = vec![b' '; 17 * 1024 * 1024];
    let (status, _) = json(post(big, "application/json").await.unwrap()).await;
    assert_eq!(status, 413);

    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    assert_eq!(feed["indicators"].as_array().unwrap().len(), 0, "nothing may have been stored");
    assert_eq!(feed["next"], "0");

    let (status, v) = json(c.get(s.url("/v1/nope")).send().await.unwrap()).await;
    assert_eq!((status, v["error"]["code"].as_str().unwrap()), (404, "not_found"));
    let (status, _) = json(c.put(s.url("/v1/submissions")).send().await.unwrap()).await;
    assert_eq!(status, 405);
    let (status, _) = json(s.client("police-a").get(s.url("/v1/indicators?limit=0")).send().await.unwrap()).await;
    assert_eq!(status, 400);
    let (status, _) = json(s.client("police-a").get(s.url("/v1/indicators?since=abc")).send().await.unwrap()).await;
    assert_eq!(status, 400);
    s.stop().await;
}

#[tokio::test]
async fn duplicates_merge_sources_and_idempotent_retries_apply_once() {
    let s = TestServer::start().await;
    let body =
        json!({"indicators":[{"type":"domain","value":"Mule-Recruit.EXAMPLE.com","category":"fraud","tlp":"green"}]});
    let r1 = s
        .client("bank-a")
        .post(s.url("/v1/submissions"))
        .header("idempotency-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r1.headers().get("idempotent-replayed").is_none());
    let (_, v1) = json(r1).await;
    let r2 = s
        .client("bank-a")
        .post(s.url("/v1/submissions"))
        .header("idempotency-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r2.headers().get("idempotent-replayed").unwrap(), "true");
    let (_, v2) = json(r2).await;
    assert_eq!(v1, v2, "a retry returns the original answer");
    let (status, _) = submit(&s, "isp-a", &body).await;
    assert_eq!(status, 200);

    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    let items = feed["indicators"].as_array().unwrap();
    assert_eq!(items.len(), 2, "one add, one update (the retry changed nothing): {feed}");
    assert_eq!(items[1]["op"], "update");
    assert_eq!(items[1]["value"], "mule-recruit.example.com");
    assert_eq!(items[1]["sources"]["count"], 2);
    assert_eq!(items[1]["sources"]["sectors"], json!(["finance", "telecom"]));
    assert_eq!(items[0]["id"], items[1]["id"]);
    s.stop().await;
}

#[tokio::test]
async fn feed_pages_resume_from_the_cursor() {
    let s = TestServer::start().await;
    let indicators: Vec<_> =
        (0..25).map(|i| json!({"type":"domain","value":format!("c2-{i}.example.com"),"category":"c2"})).collect();
    let (status, _) = submit(&s, "isp-a", &json!({ "indicators": indicators })).await;
    assert_eq!(status, 200);
    let police = s.client("police-a");
    let mut since = "0".to_owned();
    let mut seen = Vec::new();
    loop {
        let (_, page) =
            json(police.get(s.url(&format!("/v1/indicators?since={since}&limit=10"))).send().await.unwrap()).await;
        let items = page["indicators"].as_array().unwrap();
        if items.is_empty() {
            assert_eq!(page["next"], since.as_str(), "an empty page keeps the cursor");
            break;
        }
        assert!(items.len() <= 10);
        seen.extend(items.iter().map(|i| i["value"].as_str().unwrap().to_owned()));
        since = page["next"].as_str().unwrap().to_owned();
    }
    let expected: Vec<_> = (0..25).map(|i| format!("c2-{i}.example.com")).collect();
    assert_eq!(seen, expected, "commit order, no gaps, no repeats");
    s.stop().await;
}

#[tokio::test]
async fn acknowledged_submissions_survive_a_restart() {
    let s = TestServer::start().await;
    let (status, _) =
        submit(&s, "bank-a", &json!({"indicators":[{"type":"domain","value":"survivor.example.com"}]})).await;
    assert_eq!(status, 200);
    let dir = s.dir.clone();
    let tmp = s.stop().await;
    let s = TestServer::start_in(&dir).await;
    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    assert_eq!(feed["indicators"][0]["value"], "survivor.example.com");
    s.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn stix_bundles_are_accepted_through_the_same_sanitiser() {
    let s = TestServer::start().await;
    let bundle = json!({"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
        {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
         "created":"2026-11-20T10:00:00.000Z","modified":"2026-11-20T10:00:00.000Z",
         "pattern":"[domain-name:value = 'stix-phish.top']","pattern_type":"stix","valid_from":"2026-11-20T10:00:00Z",
         "indicator_types":["malicious-activity"],
         "description":"Reported by victim marie.curie@gmail.com",
         "object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]},
        {"type":"indicator","spec_version":"2.1","id":"indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
         "created":"2026-11-20T10:00:00.000Z","modified":"2026-11-20T10:00:00.000Z",
         "pattern":"[domain-name:value = 'a.top'] OR [domain-name:value = 'b.top']","pattern_type":"stix",
         "valid_from":"2026-11-20T10:00:00Z"},
        {"type":"identity","spec_version":"2.1","id":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3e",
         "created":"2026-11-20T10:00:00.000Z","modified":"2026-11-20T10:00:00.000Z","name":"Bank A"}
    ]});
    let r = s
        .client("bank-a")
        .post(s.url("/v1/submissions"))
        .header("content-type", "application/stix+json;version=2.1")
        .body(bundle.to_string())
        .send()
        .await
        .unwrap();
    let (status, v) = json(r).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 1, "{v}");
    assert_eq!(v["rejected"].as_array().unwrap().len(), 1, "the compound pattern is refused: {v}");
    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    let item = &feed["indicators"][0];
    assert_eq!(item["value"], "stix-phish.top");
    assert_eq!(item["tlp"], "green");
    assert!(!feed.to_string().contains("marie.curie"), "{feed}");
    s.stop().await;
}

/// A deployment with some `[limits]` replaced.
async fn server_with_limits(edits: &[(&str, &str)]) -> (TestServer, tempfile::TempDir) {
    let (tmp, dir) = common::deployment();
    let mut cfg = std::fs::read_to_string(dir.join("tamis.toml")).unwrap();
    for (from, to) in edits {
        assert!(cfg.contains(from), "{from}");
        cfg = cfg.replace(from, to);
    }
    std::fs::write(dir.join("tamis.toml"), cfg).unwrap();
    (TestServer::start_in(&dir).await, tmp)
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let (s, _tmp) = server_with_limits(&[("submissions_per_minute = 6000", "submissions_per_minute = 2")]).await;
    let body = json!({"indicators":[{"type":"domain","value":"rate-limited.top"}]});
    assert_eq!(submit(&s, "bank-a", &body).await.0, 200);
    assert_eq!(submit(&s, "bank-a", &body).await.0, 200);
    let r = s.client("bank-a").post(s.url("/v1/submissions")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (_, v) = json(r).await;
    assert_eq!(v["error"]["code"], "rate_limited");
    // Limits are per participant: isp-a is unaffected.
    assert_eq!(submit(&s, "isp-a", &body).await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;
    let (s, _tmp) = server_with_limits(&[("handshake_timeout_ms = 3000", "handshake_timeout_ms = 300")]).await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let t = std::time::Instant::now();
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut buf)).await.expect("not dropped");
    assert_eq!(n.unwrap_or(0), 0, "the server closes the connection");
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    // The server still serves others.
    assert_eq!(json(s.client("bank-a").get(s.url("/v1/whoami")).send().await.unwrap()).await.0, 200);
    s.stop().await;
}
