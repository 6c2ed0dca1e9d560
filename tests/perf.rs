//! Load figures for docs/performance.md (ignored by default; they measure,
//! they do not assert timings):
//!
//!   TAMIS_PERF_N=100000 cargo test --release --test perf -- --ignored --nocapture
//!
//! Submits N indicators over mutual TLS in batches of 1,000 (4 concurrent
//! clients), then reports the blocklist rebuild time and snapshot sizes, the
//! rate of 304 answers, and single-indicator submission latency.
//!
//!   cargo test --release --test perf store_commit_rate -- --ignored --nocapture
//!
//! measures the store alone: 100,000 indicators in batches of 1,000, 4 in
//! flight.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use common::store_fixture::{store_batch, store_sample};
use serde_json::{Value, json};

fn synthetic(i: usize, base: &[Value]) -> Value {
    let b = &base[i % base.len()];
    let v = b["value"].as_str().unwrap();
    let (t, value) = match b["type"].as_str().unwrap() {
        "domain" => ("domain", format!("n{i}.{v}")),
        "url" => ("url", format!("{v}{}x={i}", if v.contains('?') { "&" } else { "?" })),
        _ => ("domain", format!("h{i}.perf-test.top")),
    };
    json!({"type": t, "value": value, "category": "malware", "confidence": 80, "tlp": "green",
           "description": "Seen in campaign; victim reported by customer care", "tags": [b["family"]]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn perf() {
    let n: usize = std::env::var("TAMIS_PERF_N").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let base: Vec<Value> =
        include_str!("data/maltrail-3000.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (_tmp, dir) = common::deployment();
    let cfg = std::fs::read_to_string(dir.join("tamis.toml")).unwrap();
    let cfg = cfg
        .replace("submissions_per_minute = 6000", "submissions_per_minute = 10000000")
        .replace("reads_per_minute = 60000", "reads_per_minute = 100000000");
    std::fs::write(dir.join("tamis.toml"), cfg).unwrap();
    let s = TestServer::start_in(&dir).await;
    let batches: Vec<Value> = (0..n)
        .step_by(1000)
        .map(|start| json!({"indicators": (start..(start + 1000).min(n)).map(|i| synthetic(i, &base)).collect::<Vec<_>>()}))
        .map(|b| Value::String(b.to_string()))
        .collect();
    let client = s.client("isp-a");
    let url = s.url("/v1/submissions");
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    let chunks: Vec<Vec<Value>> = batches.chunks(batches.len().div_ceil(4)).map(|c| c.to_vec()).collect();
    for chunk in chunks {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for b in chunk {
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(b.as_str().unwrap().to_owned())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "submission: {n} indicators in batches of 1000 over mTLS in {secs:.2} s = {:.0} indicators/s",
        n as f64 / secs
    );

    // Blocklist snapshot: wait until the builder has caught up with everything.
    let t1 = Instant::now();
    let isp = s.client("isp-a");
    let head = s.state.store.head();
    while s.state.blocklists.built_head.load(std::sync::atomic::Ordering::Acquire) < head {
        assert!(t1.elapsed() < Duration::from_secs(600), "the blocklists were never rebuilt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = isp.get(s.url("/v1/blocklists/domains.rpz")).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    println!("live indicators: {}", s.state.blocklists.stats.load().total);
    let build_ms = s.state.blocklists.build_ms.load(std::sync::atomic::Ordering::Relaxed);
    println!("blocklists: last full rebuild (catch-up, all formats) {build_ms} ms");
    for name in tamis::feeds::blocklist::NAMES {
        let snap = s.state.blocklists.get("isps", name).unwrap();
        println!(
            "  {name:<15} {:>9} entries {:>10} bytes {:>10} gzip",
            snap.count,
            snap.body.len(),
            snap.gzip_bytes().len()
        );
    }

    // 304 answers: 64 concurrent requests for 5 s.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(5);
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (isp, url, etag, done) = (isp.clone(), s.url("/v1/blocklists/domains.rpz"), etag.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let r = isp.get(&url).header("if-none-match", &etag).send().await.unwrap();
                assert_eq!(r.status(), 304, "sent {etag}, got {:?}", r.headers().get("etag"));
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "304 answers: {:.0}/s (64 concurrent, one HTTP/2 connection, client in the same process)",
        done.load(std::sync::atomic::Ordering::Relaxed) as f64 / 5.0
    );

    // Single-indicator submissions, sequential.
    let bank = s.client("bank-a");
    let mut lat = Vec::new();
    for i in 0..2000 {
        let body =
            json!({"indicators":[{"type":"domain","value":format!("single-{i}.perf-test.top"),"category":"phishing"}]});
        let t = Instant::now();
        let r = bank.post(s.url("/v1/submissions")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        lat.push(t.elapsed());
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "single-indicator submission latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    s.stop().await;
}

/// The store alone: group commit of 100 batches of 1,000, 4 in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn store_commit_rate() {
    use tamis::store::{SledStore, Store};
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[1; 32]).unwrap();
    let t0 = Instant::now();
    let mut pending = Vec::new();
    for b in 0..100 {
        let items = (0..1000).map(|i| store_sample(format!("d{b}-{i}.bench.top"))).collect();
        pending.push(store.submit(store_batch(items)));
        if pending.len() == 4 {
            for p in pending.drain(..) {
                p.await.unwrap();
            }
        }
    }
    for p in pending {
        p.await.unwrap();
    }
    let s = t0.elapsed().as_secs_f64();
    println!("store: 100000 indicators in {s:.2} s = {:.0}/s", 100000.0 / s);
}
