//! The private lookup's costs per element (RFC 9497 OPRF, ristretto255-SHA512,
//! `voprf` on curve25519-dalek): the exchange's blind evaluation (what
//! `POST /v1/lookup/evaluate` spends per element, one scalar multiplication
//! and a point decoding), its full evaluation at ingest (hash-to-group,
//! multiplication, SHA-512), and the client's blind + finalize.
//!
//! taskset -c 1 cargo bench --bench lookup

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tamis::lookup::{LookupKey, blind, finalize};

fn lookup(c: &mut Criterion) {
    let key = LookupKey::from_seed(&[7; 32]);
    let input = "DE89370400440532013000";
    let b = blind(input).unwrap();
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    g.bench_function("server-blind-evaluate", |bench| {
        bench.iter(|| std::hint::black_box(key.blind_evaluate(std::hint::black_box(&b.element)).unwrap()))
    });
    g.bench_function("server-full-evaluate (ingest)", |bench| {
        bench.iter(|| std::hint::black_box(key.evaluate(std::hint::black_box(input)).unwrap()))
    });
    // includes one blind evaluation, so subtract the first figure
    g.bench_function("client-blind+server+finalize", |bench| {
        bench.iter(|| {
            let b = blind(input).unwrap();
            std::hint::black_box(finalize(&b, input, &key.blind_evaluate(&b.element).unwrap()).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
