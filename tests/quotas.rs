//! Amplification and volume quotas (issue 8, item 7): a submission with more
//! than `max_indicators` items is refused with 413, and per-participant
//! quotas per minute (indicators, request-body bytes, whoami) answer 429
//! with Retry-After and a message naming the quota.

mod common;
mod edge;

use common::{TestServer, deployment, json};
use edge::set_limits;
use serde_json::json;

fn domains(n: usize, prefix: &str) -> serde_json::Value {
    let items: Vec<_> = (0..n).map(|i| json!({"type":"domain","value":format!("{prefix}-{i}.top")})).collect();
    json!({ "indicators": items })
}

async fn server(limits: &[(&str, &str)]) -> (tempfile::TempDir, TestServer) {
    let (tmp, dir) = deployment();
    set_limits(&dir, limits);
    (tmp, TestServer::start_in(&dir).await)
}

#[tokio::test]
async fn more_than_max_indicators_is_refused_with_413() {
    let (_tmp, s) = server(&[("max_indicators", "3")]).await;
    let (status, _) = common::submit(&s, "bank-a", &domains(3, "ok")).await;
    assert_eq!(status, 200);
    let (status, v) = common::submit(&s, "bank-a", &domains(4, "over")).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["error"]["message"], "more than 3 indicators in one submission; at most 3 are accepted");
    // A list of tiny items far beyond the limit: refused the same way.
    let body = format!(r#"{{"indicators":[{}0]}}"#, "0,".repeat(100_000));
    let resp = s
        .client("bank-a")
        .post(s.url("/v1/submissions"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, v) = json(resp).await;
    assert_eq!((status, v["error"]["code"].as_str()), (413, Some("too_large")), "{v}");
    s.stop().await;
}

#[tokio::test]
async fn the_indicator_quota_answers_429_with_retry_after() {
    let (_tmp, s) = server(&[("indicators_per_minute", "5")]).await;
    let (status, _) = common::submit(&s, "bank-a", &domains(3, "a")).await;
    assert_eq!(status, 200);
    let resp = s.client("bank-a").post(s.url("/v1/submissions")).json(&domains(3, "b")).send().await.unwrap();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let (status, v) = json(resp).await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"]["code"], "quota_exceeded");
    assert!(v["error"]["message"].as_str().unwrap().contains("5 indicators per minute"), "{v}");
    assert!(retry.is_some_and(|r| r >= 1), "Retry-After missing");
    // More than the whole quota at once can never pass: 413, not 429.
    let (status, v) = common::submit(&s, "isp-a", &domains(6, "c")).await;
    assert_eq!(status, 413, "{v}");
    // Another participant has its own quota.
    let (status, _) = common::submit(&s, "isp-a", &domains(2, "d")).await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test]
async fn the_body_byte_quota_answers_429() {
    let (_tmp, s) = server(&[("body_bytes_per_minute", "1000")]).await;
    let body = domains(5, "bytes"); // about 200 bytes
    let mut last = (0, json!(null));
    for _ in 0..10 {
        last = common::submit(&s, "bank-a", &body).await;
        if last.0 != 200 {
            break;
        }
    }
    assert_eq!(last.0, 429, "{}", last.1);
    assert!(last.1["error"]["message"].as_str().unwrap().contains("1000 request-body bytes per minute"), "{}", last.1);
    s.stop().await;
}

#[tokio::test]
async fn whoami_is_rate_limited() {
    let (_tmp, s) = server(&[("reads_per_minute", "3")]).await;
    let c = s.client("police-a");
    for _ in 0..3 {
        assert_eq!(c.get(s.url("/v1/whoami")).send().await.unwrap().status(), 200);
    }
    let resp = c.get(s.url("/v1/whoami")).send().await.unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    let (status, v) = json(resp).await;
    assert_eq!((status, v["error"]["code"].as_str()), (429, Some("rate_limited")), "{v}");
    s.stop().await;
}
