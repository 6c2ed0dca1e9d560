//! Live alerts (issue 13, item 2): `GET /v1/indicators/stream` as
//! Server-Sent Events over mutual TLS. An indicator accepted from a bank
//! reaches a connected police client in under a second (the delay is
//! measured and printed), over HTTP/2 and HTTP/1.1 and with the system
//! curl; the stream shows what the feed shows (same egress views) and
//! resumes from `Last-Event-ID` without a gap; heart-beats; a client that
//! does not read is cut off with a `cut-off` event instead of growing the
//! server's memory; the stream ends with `end` when the exchange stops.

mod common;
mod edge;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{TestServer, deployment, json, submit};
use edge::set_limits;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// One frame of an event stream.
#[derive(Debug, Clone)]
enum Frame {
    Event { event: String, id: String, data: String },
    Comment(String),
}

/// Reads frames from an open event stream.
struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(s: &TestServer, who: &str, last_event_id: Option<&str>, http1: bool) -> Sse {
        let c = if http1 { s.client_http1(who) } else { s.client(who) };
        let mut req = c.get(s.url("/v1/indicators/stream")).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Sse { resp, buf: String::new() }
    }

    /// The next frame, `None` at the end of the stream or after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(at) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..at + 2).collect();
                return Some(parse(&block));
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.ok()?.ok()??;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event (comments skipped).
    async fn next_event(&mut self, wait: Duration) -> Option<(String, String, Value)> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if let Frame::Event { event, id, data } = self.next(left).await? {
                return Some((event, id, serde_json::from_str(&data).unwrap()));
            }
        }
    }
}

fn parse(block: &str) -> Frame {
    let (mut event, mut id, mut data, mut comment) = (String::new(), String::new(), String::new(), None);
    for line in block.lines().filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        let v = v.strip_prefix(' ').unwrap_or(v);
        match k {
            "" => comment = Some(v.to_owned()),
            "event" => event = v.to_owned(),
            "id" => id = v.to_owned(),
            "data" => data.push_str(v),
            _ => {}
        }
    }
    match comment {
        Some(c) if event.is_empty() && data.is_empty() => Frame::Comment(c),
        _ => Frame::Event { event, id, data },
    }
}

fn domain(value: &str, tlp: &str) -> Value {
    json!({"indicators": [{"type": "domain", "value": value, "category": "phishing", "tlp": tlp, "confidence": 80}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_indicator_reaches_a_connected_police_client_in_under_a_second() {
    let s = TestServer::start().await;
    for http1 in [false, true] {
        let mut sse = Sse::open(&s, "police-a", None, http1).await;
        // Arrival times, taken by a reader running next to the submissions.
        let (tx, mut arrivals) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Some((event, _, data)) = sse.next_event(Duration::from_secs(30)).await {
                if event == "indicator"
                    && tx.send((data["value"].as_str().unwrap_or("").to_owned(), Instant::now())).is_err()
                {
                    return;
                }
            }
        });
        let (mut delays, mut round_trips) = (Vec::new(), Vec::new());
        for i in 0..20 {
            let value = format!("alert-{}-{i}.example.com", if http1 { "h1" } else { "h2" });
            let sent = Instant::now();
            let (status, v) = submit(&s, "bank-a", &domain(&value, "green")).await;
            assert_eq!(status, 200, "{v}");
            let acked = Instant::now();
            let arrived = loop {
                let (got, at) = tokio::time::timeout(Duration::from_secs(5), arrivals.recv())
                    .await
                    .expect("the event arrives")
                    .expect("the stream is open");
                if got == value {
                    break at;
                }
            };
            delays.push(arrived.saturating_duration_since(acked));
            round_trips.push((acked - sent, arrived - sent));
        }
        reader.abort();
        delays.sort();
        round_trips.sort();
        let (p50, max) = (delays[delays.len() / 2], delays[delays.len() - 1]);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (ack, event) = round_trips[round_trips.len() / 2];
        println!(
            "alert delay (acknowledgement to event) over HTTP/{}: p50 {:.2} ms, max {:.2} ms ({} alerts); \
             median submission sent->ack {:.2} ms, sent->event {:.2} ms",
            if http1 { "1.1" } else { "2" },
            ms(p50),
            ms(max),
            delays.len(),
            ms(ack),
            ms(event),
        );
        assert!(max < Duration::from_secs(1), "an alert took {max:?}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_shows_what_the_feed_shows_and_resumes_from_last_event_id() {
    let s = TestServer::start().await;
    let mut sse = Sse::open(&s, "police-a", None, false).await;
    // TLP:RED is beyond the law-enforcement view: the stream, like the feed, withholds it.
    for (v, tlp) in [("first.example.com", "green"), ("secret.example.com", "red"), ("third.example.com", "amber")] {
        assert_eq!(submit(&s, "bank-a", &domain(v, tlp)).await.0, 200);
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (event, id, data) = sse.next_event(Duration::from_secs(5)).await.expect("an event");
        assert_eq!(event, "indicator");
        assert_eq!(data["cursor"], id.as_str(), "the event id is the feed cursor");
        seen.push((id, data));
    }
    assert_eq!(seen[0].1["value"], "first.example.com");
    assert_eq!(seen[1].1["value"], "third.example.com");
    // The same items as the feed, field for field.
    let (status, feed) = json(s.client("police-a").get(s.url("/v1/indicators?since=0")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let feed_items: Vec<&Value> = feed["indicators"].as_array().unwrap().iter().collect();
    assert_eq!(feed_items.len(), 2, "{feed}");
    for ((_, streamed), fed) in seen.iter().zip(&feed_items) {
        assert_eq!(streamed, *fed);
    }
    drop(sse);
    // While disconnected: two more and a retraction.
    for v in ["fourth.example.com", "fifth.example.com"] {
        assert_eq!(submit(&s, "bank-a", &domain(v, "green")).await.0, 200);
    }
    let first_id = seen[0].1["id"].as_str().unwrap();
    let r = s.client("bank-a").delete(s.url(&format!("/v1/indicators/{first_id}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let last = seen[1].0.clone();
    let mut sse = Sse::open(&s, "police-a", Some(&last), true).await;
    let mut resumed = Vec::new();
    while resumed.len() < 3 {
        resumed.push(sse.next_event(Duration::from_secs(5)).await.expect("a missed event"));
    }
    let values: Vec<(&str, &str)> =
        resumed.iter().map(|(_, _, d)| (d["op"].as_str().unwrap(), d["value"].as_str().unwrap())).collect();
    assert_eq!(values, [("add", "fourth.example.com"), ("add", "fifth.example.com"), ("remove", "first.example.com")]);
    assert_eq!(resumed[2].2["reason"], "retracted");
    let ids: Vec<u64> = resumed.iter().map(|(_, id, _)| id.parse().unwrap()).collect();
    assert!(ids[0] > last.parse().unwrap() && ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // `?since=` resumes the same way.
    let r = s.client("police-a").get(s.url(&format!("/v1/indicators/stream?since={last}"))).send().await.unwrap();
    let mut by_query = Sse { resp: r, buf: String::new() };
    let (_, id, _) = by_query.next_event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(id, ids[0].to_string());
    // Each batch sent is audited as a pull of the stream.
    let (_, audit) = json(s.client("dpo-a").get(s.url("/v1/audit?limit=1000")).send().await.unwrap()).await;
    let pulls = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"] == "pull" && r["endpoint"] == "/v1/indicators/stream")
        .count();
    assert!(pulls >= 2, "{audit}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heart_beats_roles_bad_requests_and_the_end_at_shutdown() {
    let (_tmp, dir) = deployment();
    set_limits(&dir, &[("stream_heartbeat_ms", "200")]);
    let s = TestServer::start_in(&dir).await;
    let url = s.url("/v1/indicators/stream");
    let (status, v) = json(s.client("bank-a").get(&url).send().await.unwrap()).await;
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("forbidden")), "{v}");
    let r = s.client("police-a").get(&url).header("accept", "application/json").send().await.unwrap();
    assert_eq!(r.status(), 406);
    for (header, value) in [("last-event-id", "abc"), ("last-event-id", "-1")] {
        let (status, v) = json(s.client("police-a").get(&url).header(header, value).send().await.unwrap()).await;
        assert_eq!(status, 400, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("Last-Event-ID"), "{v}");
    }
    let (status, _) = json(s.client("police-a").get(format!("{url}?cursor=1")).send().await.unwrap()).await;
    assert_eq!(status, 400);

    let mut sse = Sse::open(&s, "police-a", None, false).await;
    let t0 = Instant::now();
    let mut beats = 0;
    while beats < 2 {
        match sse.next(Duration::from_secs(3)).await.expect("a heart-beat") {
            Frame::Comment(c) => {
                assert_eq!(c.trim(), "heart-beat");
                beats += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(2), "heart-beats every 200 ms: {:?}", t0.elapsed());
    // Stopping the exchange ends the stream with `end`, and the drain does not wait for it.
    let reader = tokio::spawn(async move { sse.next_event(Duration::from_secs(8)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    s.stop().await;
    assert!(t0.elapsed() < Duration::from_secs(5), "the stop waited {:?} for the stream", t0.elapsed());
    let (event, _, data) = reader.await.unwrap().expect("a closing event");
    assert_eq!(event, "end");
    assert_eq!(data["error"]["code"], "stream_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_cut_off_with_a_resume_cursor() {
    let (_tmp, dir) = deployment();
    set_limits(&dir, &[("stream_buffer_events", "4")]);
    let s = TestServer::start_in(&dir).await;
    // Headers only: the client reads nothing more until the exchange is far ahead.
    let mut sse = Sse::open(&s, "police-a", None, true).await;
    let total = 20_000;
    for batch in 0..total / 10_000 {
        let items: Vec<Value> = (0..10_000)
            .map(|i| json!({"type": "domain", "value": format!("slow-{batch}-{i}.example.com"), "category": "phishing", "tlp": "green", "confidence": 80}))
            .collect();
        let (status, v) = submit(&s, "bank-a", &json!({ "indicators": items })).await;
        assert_eq!(status, 200, "{}", v["error"]);
    }
    // Wait until the exchange has given up on this client.
    let t0 = Instant::now();
    while s.state.metrics.streams_cut_off.get() == 0 {
        assert!(t0.elapsed() < Duration::from_secs(20), "the slow client was never cut off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut received, mut last) = (0, String::new());
    let closing = loop {
        let (event, id, data) = sse.next_event(Duration::from_secs(10)).await.expect("the stream ends with cut-off");
        if event != "indicator" {
            break (event, id, data);
        }
        received += 1;
        last = id;
    };
    assert_eq!(closing.0, "cut-off", "{:?}", closing.2);
    assert_eq!(closing.2["error"]["code"], "slow_consumer");
    assert_eq!(closing.2["resume"], last.as_str(), "resume from the last event received");
    assert_eq!(closing.1, last);
    assert!(received > 0 && received < total, "received {received} of {total} before the cut");
    assert!(sse.next(Duration::from_secs(2)).await.is_none(), "the stream ends after cut-off");
    // Resuming from there continues with the next event.
    let mut again = Sse::open(&s, "police-a", Some(&last), false).await;
    let (_, id, _) = again.next_event(Duration::from_secs(5)).await.unwrap();
    assert!(id.parse::<u64>().unwrap() > last.parse::<u64>().unwrap());
    s.stop().await;
}

const CURL: &str = "/usr/bin/curl";

fn have_curl() -> bool {
    if Path::new(CURL).exists() {
        return true;
    }
    if std::env::var("TAMIS_REQUIRE_CURL").as_deref() == Ok("1") {
        panic!("TAMIS_REQUIRE_CURL=1 but {CURL} is absent");
    }
    println!("skipped: {CURL} is not installed");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_follows_the_stream_over_http2_and_http1() {
    if !have_curl() {
        return;
    }
    let s = TestServer::start().await;
    let certs = s.dir.join("certs");
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let mut cmd = std::process::Command::new(CURL);
        cmd.args(["-sS", "-N", "--max-time", "3", "-w", "\n%{http_code} %{http_version}", flag])
            .arg("--resolve")
            .arg(format!("localhost:{}:127.0.0.1", s.addr.port()))
            .arg("--cacert")
            .arg(certs.join("ca.pem"))
            .arg("--cert")
            .arg(certs.join("police-a.pem"))
            .arg("--key")
            .arg(certs.join("police-a.key"))
            .args(["-H", "Accept: text/event-stream"])
            .arg(s.url("/v1/indicators/stream"))
            .env_remove("CURL_CA_BUNDLE")
            .env_remove("SSL_CERT_FILE");
        let run = tokio::task::spawn_blocking(move || cmd.output());
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let value = format!("curl-{version}.example.com");
        assert_eq!(submit(&s, "bank-a", &domain(&value, "green")).await.0, 200);
        let out = run.await.unwrap().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // curl stops at --max-time (exit 28): the stream itself never ends.
        assert_eq!(out.status.code(), Some(28), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("event:indicator\n") && stdout.contains(&value), "{flag}: {stdout}");
        assert!(stdout.trim_end().ends_with(&format!("200 {version}")), "{flag}: {stdout}");
    }
    s.stop().await;
}

/// Feed compaction (issue 11, item 4) as followers see it over mutual TLS:
/// after the removals are dropped, a cursor below the horizon gets 410 with
/// the horizon and where to start again, the live stream ends with `resync`
/// (id 0), and `since=0` gives exactly the live set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_below_the_compaction_horizon_is_told_to_resynchronise() {
    let s = TestServer::start().await;
    for v in ["gone-1.example.com", "gone-2.example.com", "stays.example.com"] {
        let (status, body) = submit(&s, "bank-a", &domain(v, "green")).await;
        assert_eq!(status, 200, "{body}");
    }
    let police = s.client("police-a");
    let (_, page) = json(police.get(s.url("/v1/indicators?since=0")).send().await.unwrap()).await;
    let items = page["indicators"].as_array().unwrap();
    let ids: Vec<String> = items.iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
    let early = items[0]["cursor"].as_str().unwrap().to_owned();
    for id in &ids[..2] {
        let r = s.client("bank-a").delete(s.url(&format!("/v1/indicators/{id}"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let later = s.state.store.head();
    // What the compaction task does once the removals are older than the retention.
    let done = s.state.store.compact(time::OffsetDateTime::now_utc() + time::Duration::seconds(5)).await.unwrap();
    assert_eq!(done.horizon, later, "{done:?}");
    let resp = police.get(s.url(&format!("/v1/indicators?since={early}"))).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let (status, body) = json(resp).await;
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], "cursor_expired");
    assert_eq!(body["error"]["horizon"], later.to_string().as_str());
    assert_eq!(body["error"]["resync_from"], "0");
    assert!(body["error"]["message"].as_str().unwrap().contains("since=0"), "{body}");
    // From 0: the live set only.
    let (status, page) = json(police.get(s.url("/v1/indicators?since=0")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let values: Vec<&str> =
        page["indicators"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["stays.example.com"], "{page}");
    // At the horizon: nothing missed, nothing more.
    let (status, page) = json(police.get(s.url(&format!("/v1/indicators?since={later}"))).send().await.unwrap()).await;
    assert_eq!((status, page["indicators"].as_array().unwrap().len()), (200, 0), "{page}");
    // The live stream from the old cursor: `resync`, id 0.
    let mut sse = Sse::open(&s, "police-a", Some(&early), false).await;
    let (event, id, data) = sse.next_event(Duration::from_secs(5)).await.expect("the resync event");
    assert_eq!((event.as_str(), id.as_str()), ("resync", "0"), "{data}");
    assert_eq!(data["error"]["code"], "cursor_expired");
    assert_eq!(data["resume"], "0");
    s.stop().await;
}
