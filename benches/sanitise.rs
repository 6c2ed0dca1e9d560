//! Sanitiser throughput on a realistic mix: 20,000 real malicious
//! indicators (maltrail sample: domains, IPs, URLs) plus the 600-case public
//! PII corpus (URLs with e-mails, free text with names, IBANs, cards...),
//! and on the PII corpus alone (the worst case).
//!
//! cargo bench --bench sanitise

use std::io::Read;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tamis::model::{RawIndicator, Removals, parse_indicator};
use tamis::policy::Policy;
use tamis::privacy::{Keys, Sanitiser};

fn load() -> (Vec<RawIndicator>, Vec<RawIndicator>) {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open("tests/data/maltrail-20k.jsonl.gz").unwrap());
    let mut text = String::new();
    gz.read_to_string(&mut text).unwrap();
    let mut maltrail = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ind =
            serde_json::json!({"type": v["type"], "value": v["value"], "category": "malware", "tags": [v["family"]]});
        if let Ok(r) = parse_indicator(i, &ind) {
            maltrail.push(r);
        }
    }
    let mut corpus = Vec::new();
    for (i, line) in std::fs::read_to_string("tests/data/pii-corpus-public.jsonl").unwrap().lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Ok(r) = parse_indicator(i, &v["indicator"]) {
            corpus.push(r);
        }
    }
    (maltrail, corpus)
}

fn bench(c: &mut Criterion) {
    let policy = Policy::load(std::path::Path::new("policies/default.toml")).unwrap();
    let s = Sanitiser::new(Arc::new(policy), Keys::ephemeral().unwrap()).unwrap();
    let (maltrail, corpus) = load();
    let mix: Vec<RawIndicator> = maltrail.iter().chain(corpus.iter()).cloned().collect();

    let mut g = c.benchmark_group("sanitise");
    g.sample_size(20);
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("default/maltrail+corpus", |b| {
        // inputs are cloned outside the timed part: sanitise takes ownership
        b.iter_batched(
            || mix.clone(),
            |batch| {
                let mut rem = Removals::default();
                for r in batch {
                    let _ = std::hint::black_box(s.sanitise(r, &mut rem));
                }
                rem
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(corpus.len() as u64));
    g.bench_function("default/pii-corpus-only", |b| {
        b.iter_batched(
            || corpus.clone(),
            |batch| {
                let mut rem = Removals::default();
                for r in batch {
                    let _ = std::hint::black_box(s.sanitise(r, &mut rem));
                }
                rem
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
