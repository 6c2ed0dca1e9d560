//! A cold blocklist build through the public API: a deployment made like
//! `tamis init`, N domains committed to its store, then the real builder
//! (`feeds::blocklist::run_builder`) started from nothing until it publishes:
//! the catch-up of the whole log plus the six formats for every audience set
//! with the blocklist role. Gzip, made in the background after publishing,
//! is finished outside the measured time.
//!
//! TAMIS_BENCH_N=100000 cargo bench --bench blocklist   (N defaults to 100,000)

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tamis::audit::AuditEvent;
use tamis::feeds::blocklist::{Blocklists, NAMES, audience_key, run_builder};
use tamis::identity::Role;
use tamis::model::{Category, IndicatorType, SanitisedIndicator, Tlp};
use tamis::store::{Contributor, SubmitBatch, request_hash};

fn domain(i: usize) -> SanitisedIndicator {
    SanitisedIndicator {
        kind: IndicatorType::Domain,
        value: format!("host{i}.malware-{}.top", i % 5000),
        value_form: None,
        category: Category::Malware,
        confidence: 80,
        tlp: Tlp::Green,
        first_seen: None,
        valid_until: None,
        description: None,
        attributes: Default::default(),
        tags: Vec::new(),
    }
}

fn batch(items: Vec<SanitisedIndicator>) -> SubmitBatch {
    SubmitBatch {
        lookup: Vec::new(),
        contributor: Contributor { participant: "isp-a".into(), sector: "telecom".into(), disclose_name: false },
        policy: "default@bench".into(),
        received_at: time::OffsetDateTime::now_utc(),
        idempotency: None,
        request_hash: request_hash("application/json", format!("{items:?}").as_bytes()),
        response: Vec::new(),
        audit: AuditEvent::Submission {
            participant: "isp-a".into(),
            submission: "bench".into(),
            policy: "default@bench".into(),
            format: "application/json".into(),
            received: items.len(),
            accepted: items.len(),
            rejected: 0,
            removed: Default::default(),
        },
        indicators: items,
    }
}

fn rebuild(c: &mut Criterion) {
    let n: usize = std::env::var("TAMIS_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    tamis::deploy::init(tmp.path()).unwrap();
    let cfg = tamis::config::Config::load(&tmp.path().join("tamis.toml")).unwrap();
    let loaded = tamis::deploy::load(&cfg).unwrap();
    let state = loaded.state.clone();
    rt.block_on(async {
        for start in (0..n).step_by(1000) {
            let items = (start..(start + 1000).min(n)).map(domain).collect();
            state.store.submit(batch(items)).await.unwrap();
        }
    });
    let keys: Vec<String> = state
        .registry
        .load()
        .all()
        .filter(|p| p.has(Role::Blocklist) && !p.revoked)
        .map(|p| audience_key(&p.audiences()))
        .collect();

    let mut g = c.benchmark_group("blocklist");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("cold-build-{n}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut inputs = state.blocklist_inputs();
                let out = Arc::new(Blocklists::default());
                inputs.blocklists = out.clone();
                let t0 = Instant::now();
                let task = rt.spawn(run_builder(inputs, std::future::pending()));
                while !out.ready() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                total += t0.elapsed();
                task.abort();
                // Finish the background gzip before the next build.
                for key in &keys {
                    for name in NAMES {
                        if let Some(s) = out.get(key, name) {
                            s.make_gzip();
                        }
                    }
                }
            }
            total
        })
    });
    g.finish();
    drop(state);
    loaded.store.close();
}

criterion_group!(benches, rebuild);
criterion_main!(benches);
