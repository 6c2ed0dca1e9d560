//! Load figures for docs/performance.md (ignored by default; they measure,
//! they do not assert timings):
//!
//!   TAMIS_PERF_N=100000 cargo test --release --test perf -- --ignored --nocapture
//!
//! Submits N indicators over mutual TLS in batches of 1,000 (4 concurrent
//! clients), then reports the blocklist rebuild time and snapshot sizes, the
//! rate of 304 answers, the resident set once the TAXII index and the MISP
//! export are built too, and single-indicator submission latency.
//!
//!   TAMIS_PERF_N=1000000 cargo test --release --test perf store_commit_rate -- --ignored --nocapture
//!
//! measures the store alone: N indicators (100,000 by default) in batches
//! of 1,000, 4 in flight, the rate of each 100,000, the data directory and
//! what sled holds by key prefix.
//!
//!   TAMIS_CHURN_ROUNDS=10 TAMIS_CHURN_N=200000 cargo test --release --test perf store_expiry_churn -- --ignored --nocapture
//!
//! measures the data directory under expiry churn: rounds of N indicators
//! valid for 2 s, retired by the store's own expiry task; with
//! `TAMIS_CHURN_RETENTION=10s` the feed compaction task runs too.

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
        .replace("reads_per_minute = 60000", "reads_per_minute = 100000000")
        .replace("indicators_per_minute = 600000", "indicators_per_minute = 1000000000")
        .replace("body_bytes_per_minute = 268435456", "body_bytes_per_minute = 1000000000000");
    // `TAMIS_PERF_CACHE_MIB=64`: sled's page cache at that size (`[store] cache_mib`)
    let cfg = match std::env::var("TAMIS_PERF_CACHE_MIB") {
        Ok(mib) => format!("{cfg}\n[store]\ncache_mib = {mib}\n"),
        Err(_) => cfg,
    };
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
    drop(batches); // the client's copies are not the server's memory
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
    // Read to the end: a response left unread keeps the rest of its body
    // (most of the zone's text, 0.1 GB at 2M) in the server's HTTP/2 stream,
    // which the RSS lines below counted until 2026-12-02 (session 9).
    r.bytes().await.unwrap();
    println!("live indicators: {}", s.state.blocklists.stats.load().total);
    let build_ms = s.state.blocklists.build_ms.load(std::sync::atomic::Ordering::Relaxed);
    println!("blocklists: last full rebuild (catch-up, all formats) {build_ms} ms");
    for name in tamis::feeds::blocklist::NAMES {
        let snap = s.state.blocklists.get("isps", name).unwrap();
        println!(
            "  {name:<15} {:>9} entries {:>10} bytes {:>10} gzip",
            snap.count,
            snap.len,
            snap.gzip_bytes().unwrap().len()
        );
    }
    // After the listing: every gzip encoding is made, so each snapshot
    // holds only that.
    println!("RSS after the load and the blocklists: {:.0} MiB", rss_mib());
    // Full downloads of the largest list (the 304s are measured below):
    // gzip (the snapshot's bytes, from memory or its file) and text
    // (decompressed from them), over mTLS, one at a time.
    for gzip in [true, false] {
        let t = Instant::now();
        let mut bytes = 0;
        for _ in 0..5 {
            let mut req = isp.get(s.url("/v1/blocklists/domains.rpz"));
            if gzip {
                req = req.header("accept-encoding", "gzip");
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            bytes = r.bytes().await.unwrap().len();
        }
        println!(
            "domains.rpz download ({}, {bytes} bytes): {:.0} ms each, 5 in a row",
            if gzip { "gzip" } else { "text" },
            t.elapsed().as_secs_f64() * 1000.0 / 5.0
        );
    }
    exit_at("load");

    // Every other snapshot: TAXII's index (police-a's collection) and the
    // MISP export, then the process's resident set (client and server).
    let police = s.client("police-a");
    // `TAMIS_PERF_MISP_FIRST=1`: the MISP manifest first (it reads the whole
    // log too), to see which cost is the index and which the first log scan.
    if std::env::var_os("TAMIS_PERF_MISP_FIRST").is_some() {
        let t = Instant::now();
        let r = police.get(s.url("/v1/feeds/misp/manifest.json")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        println!("MISP export first: manifest (index caught up, rendered) in {} ms", t.elapsed().as_millis());
        println!("RSS with the MISP index: {:.0} MiB", rss_mib());
    }
    let t2 = Instant::now();
    let taxii = format!(
        "/taxii2/api/collections/{}/objects/?limit=1000",
        tamis::feeds::taxii::collection_id("law-enforcement")
    );
    let r = police.get(s.url(&taxii)).header("accept", "application/taxii+json;version=2.1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    println!("TAXII: first page (index caught up from the log) in {} ms", t2.elapsed().as_millis());
    println!("RSS with the TAXII index too: {:.0} MiB", rss_mib());
    exit_at("taxii");
    let t3 = Instant::now();
    let r = police.get(s.url("/v1/feeds/misp/manifest.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let manifest: Value = r.json().await.unwrap();
    println!("MISP export: manifest (index caught up, rendered) in {} ms", t3.elapsed().as_millis());
    println!(
        "RSS with every snapshot built: {:.0} MiB; data directory {:.0} MiB",
        rss_mib(),
        dir_bytes(&dir.join("data")) as f64 / 1048576.0
    );
    // At rest: the store settles sled's cache once its cold reads stop
    // (`sled_store::settle`, 0.3 s after the last one).
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("RSS at rest, 2 s later: {:.0} MiB", rss_mib());
    // and jemalloc has returned what was freed (its background thread
    // purges over `dirty_decay_ms`, 10 s by default)
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!("RSS at rest, 12 s later: {:.0} MiB", rss_mib());
    exit_at("misp");
    // The largest MISP event (made on request from the store, not kept).
    if let Some(uuid) = manifest.as_object().and_then(|m| m.keys().next_back().cloned()) {
        let t = Instant::now();
        let r = police.get(s.url(&format!("/v1/feeds/misp/{uuid}.json"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await.unwrap().len();
        println!(
            "MISP event {uuid}: {bytes} bytes in {} ms; RSS after it {:.0} MiB",
            t.elapsed().as_millis(),
            rss_mib()
        );
    }

    // 304 answers: 64 concurrent requests for 5 s, on one connection. The
    // previous one was closed while idle during the MISP render (30 s idle
    // timeout); open the new one first, or 64 requests race to handshake
    // and the server refuses more than 16 pending from one address.
    let r = isp.get(s.url("/v1/blocklists/domains.rpz")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);
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

/// Bytes of the files under `dir` (what `du --apparent-size` counts).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    common::walk(dir).iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}

/// `TAMIS_PERF_EXIT_AT=load|taxii|misp`: ends the process right after that
/// stage's RSS line, freeing nothing, so that a heap profiler's "leaked"
/// figure is what is live at that point (`--features system-alloc` under
/// `heaptrack`, docs/performance.md).
fn exit_at(stage: &str) {
    if std::env::var("TAMIS_PERF_EXIT_AT").is_ok_and(|s| s == stage) {
        println!("exiting after stage {stage} (TAMIS_PERF_EXIT_AT)");
        std::process::exit(0);
    }
}

/// This process's resident set, in MiB (`VmRSS`).
/// The store's options of the store-only benchmarks: sled's page cache at
/// `TAMIS_PERF_CACHE_MIB` (MiB) when set, else the default of `[store] cache_mib`.
fn store_options() -> tamis::store::StoreOptions {
    let mut opts = tamis::store::StoreOptions { exit_on_unrecoverable: false, ..Default::default() };
    if let Some(mib) = std::env::var("TAMIS_PERF_CACHE_MIB").ok().and_then(|s| s.parse::<u64>().ok()) {
        opts.cache_bytes = mib << 20;
    }
    opts
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// The store alone: group commit of N (`TAMIS_PERF_N`, 100,000) indicators
/// in batches of 1,000, 4 in flight, every answer durable; prints the rate
/// of each slice of 100,000, so a rate that falls as the store grows shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn store_commit_rate() {
    use tamis::store::{SledStore, Store};
    let n: usize = std::env::var("TAMIS_PERF_N").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let opts = store_options();
    let store = SledStore::open_with(dir.path(), &[1; 32], opts.clone()).unwrap();
    let t0 = Instant::now();
    let mut slice = Instant::now();
    let mut pending = Vec::new();
    for b in 0..n.div_ceil(1000) {
        let items = (0..1000).map(|i| store_sample(format!("d{b}-{i}.bench.top"))).collect();
        pending.push(store.submit(store_batch(items)));
        if pending.len() == 4 {
            for p in pending.drain(..) {
                p.await.unwrap();
            }
        }
        if (b + 1) % 100 == 0 {
            for p in pending.drain(..) {
                p.await.unwrap();
            }
            let s = slice.elapsed().as_secs_f64();
            let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
            println!(
                "store: indicators {:>8}..{:>8}: {:>6.0}/s  (data {:.0} MiB, RSS {:.0} MiB, load {})",
                (b + 1 - 100) * 1000,
                (b + 1) * 1000,
                100_000.0 / s,
                dir_bytes(dir.path()) as f64 / 1048576.0,
                rss_mib(),
                load.split_whitespace().next().unwrap_or("?")
            );
            slice = Instant::now();
        }
    }
    for p in pending {
        p.await.unwrap();
    }
    let s = t0.elapsed().as_secs_f64();
    println!("store: {n} indicators in {s:.2} s = {:.0}/s", n as f64 / s);
    store.close();
    drop(store);
    // Opening again loads the index of every record (from the `y/` packs).
    let t = Instant::now();
    let store = SledStore::open_with(dir.path(), &[1; 32], opts).unwrap();
    println!("store: opened again in {:.2} s (RSS {:.0} MiB)", t.elapsed().as_secs_f64(), rss_mib());
    store.close();
    drop(store);
    logical_sizes(dir.path());
}

/// What the sled tree holds, by key prefix (keys and sealed values), next
/// to the size of the files: the difference is sled's own overhead.
fn logical_sizes(dir: &std::path::Path) {
    let files = dir_bytes(dir);
    let db = sled::open(dir).unwrap();
    let tree = db.open_tree("tamis").unwrap();
    let mut by: std::collections::BTreeMap<Vec<u8>, (u64, u64)> = Default::default();
    for kv in tree.iter() {
        let (k, v) = kv.unwrap();
        let e = by.entry(k[..2.min(k.len())].to_vec()).or_default();
        e.0 += 1;
        e.1 += (k.len() + v.len()) as u64;
    }
    let total: u64 = by.values().map(|e| e.1).sum();
    for (p, (n, bytes)) in &by {
        println!("  {:<3} {n:>9} keys {:>8.1} MiB", String::from_utf8_lossy(p), *bytes as f64 / 1048576.0);
    }
    println!(
        "  logical {:.1} MiB in files of {:.1} MiB (sled overhead x{:.2})",
        total as f64 / 1048576.0,
        files as f64 / 1048576.0,
        files as f64 / total.max(1) as f64
    );
}

/// Expiry churn (issue 11): `TAMIS_CHURN_ROUNDS` (10) rounds of
/// `TAMIS_CHURN_N` (200,000) indicators valid for 2 s, retired by the
/// store's own expiry task; prints the data directory's size after each
/// round, once everything of the round has expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn store_expiry_churn() {
    use tamis::store::{SledStore, Store};
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
    let (rounds, n) = (env("TAMIS_CHURN_ROUNDS", 10), env("TAMIS_CHURN_N", 200_000));
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[1; 32]).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let expiry = tokio::spawn(tamis::store::expiry::run(store.clone(), stopped()));
    // `TAMIS_CHURN_RETENTION` (`[feed] tombstone_retention`, e.g. "10s"):
    // the compaction task runs too, as in the server; unset, it does not.
    let retention = std::env::var("TAMIS_CHURN_RETENTION")
        .ok()
        .map(|v| tamis::config::parse_duration(&v).expect("TAMIS_CHURN_RETENTION: a number and s, m, h or d"));
    let compaction = retention.map(|r| tokio::spawn(tamis::store::compact::run(store.clone(), r, stopped())));
    println!(
        "churn: {rounds} x {n}, compaction {}",
        retention.map_or("off".into(), |r| format!("on, retention {r:?}"))
    );
    for round in 0..rounds {
        let t0 = Instant::now();
        let mut pending = Vec::new();
        for b in 0..n.div_ceil(1000) {
            let end = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
            let items = (0..1000)
                .map(|i| {
                    let mut s = store_sample(format!("r{round}-{b}-{i}.churn.top"));
                    s.valid_until = Some(end);
                    s.description = Some("Seen in campaign; victim reported by customer care".into());
                    s
                })
                .collect();
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
        let loaded = t0.elapsed().as_secs_f64();
        // Every indicator of the round is added, then removed: 2n entries.
        let target = (round as u64 + 1) * 2 * n as u64;
        while store.head() < target {
            assert!(t0.elapsed() < Duration::from_secs(1200), "round {round} never expired");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "churn round {:>2}: {n} loaded in {loaded:.1} s, all expired after {:.1} s; data {:.0} MiB; RSS {:.0} MiB",
            round + 1,
            t0.elapsed().as_secs_f64(),
            dir_bytes(dir.path()) as f64 / 1048576.0,
            rss_mib()
        );
    }
    if let Some(r) = retention {
        // The last round's removals age past the retention and go too.
        tokio::time::sleep(r + tamis::store::compact::interval(r) + Duration::from_secs(5)).await;
        println!(
            "after the retention: data {:.0} MiB; RSS {:.0} MiB",
            dir_bytes(dir.path()) as f64 / 1048576.0,
            rss_mib()
        );
    }
    let _ = stop_tx.send(true);
    expiry.await.unwrap();
    if let Some(c) = compaction {
        c.await.unwrap();
    }
    store.close();
    drop(store);
    logical_sizes(dir.path());
}

/// Evidence for docs/performance.md ("Bounded data directory under expiry
/// churn"): 1 GiB of values written to sled, flushed, then read back once;
/// the resident set before and after the reads, for values under and over
/// sled's blob threshold (128 KiB).
#[test]
#[ignore]
fn sled_values_read_back_and_the_resident_set() {
    for (size, n) in [(256 * 1024usize, 4_096u64), (8 * 1024, 131_072)] {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new()
            .path(dir.path())
            .cache_capacity(256 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .open()
            .unwrap();
        let tree = db.open_tree("t").unwrap();
        for i in 0..n {
            tree.insert(i.to_be_bytes(), vec![i as u8; size]).unwrap();
            if i % 256 == 0 {
                db.flush().unwrap();
            }
        }
        db.flush().unwrap();
        let before = rss_mib();
        let mut read = 0usize;
        for i in 0..n {
            read += tree.get(i.to_be_bytes()).unwrap().unwrap().len();
        }
        println!(
            "sled, {n} values of {} KiB: RSS {before:.0} MiB after writing, {:.0} MiB after reading {} MiB back",
            size / 1024,
            rss_mib(),
            read / 1048576
        );
        drop((tree, db));
    }
}

/// Evidence for docs/performance.md ("Memory with every snapshot built",
/// session 10): a log of `TAMIS_PERF_LOG_MIB` (default 512) MiB in values of
/// `TAMIS_PERF_BLOB_KIB` (default 6) KiB under sequential keys, as the feed
/// log is written; the database is opened again with a 64 MiB cache and
/// read once from the start, as a feed catch-up does; the resident set
/// before and after that cold read.
#[test]
#[ignore]
fn sled_cold_log_read_and_the_resident_set() {
    let kib: usize = std::env::var("TAMIS_PERF_BLOB_KIB").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    let total: usize = std::env::var("TAMIS_PERF_LOG_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    let n = (total * 1024 / kib) as u64;
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        sled::Config::new()
            .path(dir.path())
            .cache_capacity(64 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .open()
            .unwrap()
    };
    {
        let db = open();
        let tree = db.open_tree("t").unwrap();
        let mut batch = sled::Batch::default();
        for i in 0..n {
            batch.insert(&i.to_be_bytes()[..], vec![i as u8; kib * 1024]);
            if i % 64 == 63 {
                tree.apply_batch(std::mem::take(&mut batch)).unwrap();
            }
        }
        tree.apply_batch(batch).unwrap();
        db.flush().unwrap();
    }
    let db = open();
    let tree = db.open_tree("t").unwrap();
    let before = rss_mib();
    let mut read = 0usize;
    for kv in tree.range(0u64.to_be_bytes()..) {
        read += kv.unwrap().1.len();
    }
    println!(
        "sled cold read, {n} values of {kib} KiB, 64 MiB cache: RSS {before:.0} MiB after opening, {:.0} MiB after reading {} MiB back",
        rss_mib(),
        read / 1048576
    );
    // `TAMIS_PERF_SETTLE=KEYS,PASSES`: then read the last KEYS keys again,
    // PASSES times (pages already resident), to fill sled's partial access
    // blocks so that the pages the cold read left there join the LRU.
    if let Some((keys, passes)) = std::env::var("TAMIS_PERF_SETTLE").ok().and_then(|v| {
        let (k, p) = v.split_once(',')?;
        Some((k.parse::<usize>().ok()?, p.parse::<usize>().ok()?))
    }) {
        let t = std::time::Instant::now();
        for _ in 0..passes {
            for kv in tree.range(0u64.to_be_bytes()..).rev().take(keys) {
                kv.unwrap();
            }
        }
        println!("settled ({keys} keys × {passes} passes) in {} ms: RSS {:.0} MiB", t.elapsed().as_millis(), rss_mib());
        std::thread::sleep(std::time::Duration::from_secs(2));
        let _ = tree.get(0u64.to_be_bytes()).unwrap();
        println!("2 s later: RSS {:.0} MiB", rss_mib());
    }
}
