//! Where a commit's time goes in the embedded store, through the public API
//! only: serialising and sealing a record, sled's own batch write with one
//! flush, and a durable group commit of 1,000 indicators through
//! `SledStore` (what a submission of 1,000 costs the writer).
//!
//! cargo bench --bench store

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tamis::store::crypto::Sealer;
use tamis::store::{SledStore, Store, indicator_id};

#[path = "../tests/common/store_fixture.rs"]
mod store_fixture;
use store_fixture::{store_batch as batch, store_sample as sample};

/// A record about the size the store keeps per indicator (the shared
/// indicator as JSON, with one contributor's sighting beside it).
fn record_json(i: u64) -> Vec<u8> {
    let value = format!("d{i}.bench.top");
    let s = sample(value.clone());
    serde_json::to_vec(&serde_json::json!({
        "indicator": {"id": indicator_id(s.kind, &value), "type": "domain", "value": value, "category": "phishing",
                      "confidence": 60, "tlp": "green", "tags": s.tags, "policy": "default@0011",
                      "sources": {"count": 1, "sectors": ["finance"], "names": []}},
        "contributors": {"bank-a": {"sector": "finance", "count": 1, "sighting": {"category": "phishing",
                         "confidence": 60, "tlp": "green", "tags": ["t1"], "policy": "default@0011"}}},
    }))
    .unwrap()
}

fn parts(c: &mut Criterion) {
    let mut g = c.benchmark_group("store-parts");
    g.throughput(Throughput::Elements(1));
    g.bench_function("serialise-record", |b| b.iter(|| std::hint::black_box(record_json(7))));
    let sealer = Sealer::new(&[1; 32], 1);
    let plain = record_json(7);
    g.bench_function("seal-record", |b| b.iter(|| std::hint::black_box(sealer.seal(b"i/0123456789", &plain))));
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).mode(sled::Mode::HighThroughput).open().unwrap();
    let tree = db.open_tree("t").unwrap();
    let sealed = sealer.seal(b"i/0123456789", &plain);
    let next = AtomicU64::new(0);
    g.throughput(Throughput::Elements(1000));
    g.sample_size(20);
    g.bench_function("sled-apply-batch-1000+flush", |b| {
        b.iter(|| {
            let mut batch = sled::Batch::default();
            for _ in 0..1000 {
                let k = next.fetch_add(1, Ordering::Relaxed);
                batch.insert(format!("i/{k:036}").as_bytes(), sealed.clone());
            }
            tree.apply_batch(batch).unwrap();
            db.flush().unwrap();
        })
    });
    g.finish();
}

fn commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[1; 32]).unwrap();
    let next = AtomicU64::new(0);
    let mut g = c.benchmark_group("store");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1000));
    g.bench_function("commit-1000-new-indicators", |b| {
        b.iter_batched(
            || {
                let n = next.fetch_add(1, Ordering::Relaxed);
                batch((0..1000).map(|i| sample(format!("d{n}-{i}.bench.top"))).collect())
            },
            |batch| rt.block_on(store.submit(batch)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
    store.close();
}

criterion_group!(benches, parts, commit);
criterion_main!(benches);
