//! Plain timing loop over the public PII corpus, for a load-independent
//! instruction count under callgrind (see docs/performance.md):
//!
//! ROUNDS=1 N=1  valgrind --tool=callgrind target/release/examples/speed
//! ROUNDS=1 N=11 valgrind --tool=callgrind target/release/examples/speed
//!
//! (difference / 6000 = instructions per indicator).
//!
//! With `MIX=1` the 20,000 maltrail indicators (tagged with their family,
//! as in `benches/sanitise.rs`) come first: the realistic mix, 20,600
//! indicators a round (difference / 206,000 = instructions per indicator).
//!
//! `CORPUS=file.jsonl` replaces the public PII corpus (one `{"indicator": ...}`
//! a line), e.g. to measure what one kind of field costs.

use std::io::Read;
use std::sync::Arc;
use tamis::model::{Removals, parse_indicator};
fn main() {
    let p = tamis::policy::Policy::load(std::path::Path::new("policies/default.toml")).unwrap();
    let s = tamis::privacy::Sanitiser::new(Arc::new(p), tamis::privacy::Keys::ephemeral().unwrap()).unwrap();
    let mut corpus = Vec::new();
    if std::env::var("MIX").is_ok_and(|v| v == "1") {
        let mut gz = flate2::read::GzDecoder::new(std::fs::File::open("tests/data/maltrail-20k.jsonl.gz").unwrap());
        let mut text = String::new();
        gz.read_to_string(&mut text).unwrap();
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let ind = serde_json::json!({"type": v["type"], "value": v["value"], "category": "malware", "tags": [v["family"]]});
            if let Ok(r) = parse_indicator(i, &ind) {
                corpus.push(r);
            }
        }
    }
    let path = std::env::var("CORPUS").unwrap_or_else(|_| "tests/data/pii-corpus-public.jsonl".into());
    for (i, line) in std::fs::read_to_string(path).unwrap().lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Ok(r) = parse_indicator(i, &v["indicator"]) {
            corpus.push(r);
        }
    }
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    for _ in 0..rounds {
        let batch: Vec<_> = (0..n).flat_map(|_| corpus.iter().cloned()).collect();
        let t = std::time::Instant::now();
        let mut rem = Removals::default();
        for r in batch {
            let _ = std::hint::black_box(s.sanitise(r, &mut rem));
        }
        let el = t.elapsed();
        println!("{:.0} ind/s", (n * corpus.len()) as f64 / el.as_secs_f64());
    }
}
