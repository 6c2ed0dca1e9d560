use std::sync::Arc;
use tamis::model::{Removals, parse_indicator};
fn main() {
    let p = tamis::policy::Policy::load(std::path::Path::new("policies/default.toml")).unwrap();
    let s = tamis::privacy::Sanitiser::new(Arc::new(p), tamis::privacy::Keys::ephemeral().unwrap())
        .unwrap();
    let mut corpus = Vec::new();
    for (i, line) in std::fs::read_to_string("tests/data/pii-corpus-public.jsonl")
        .unwrap()
        .lines()
        .enumerate()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Ok(r) = parse_indicator(i, &v["indicator"]) {
            corpus.push(r);
        }
    }
    for _ in 0..5 {
        let n = 300;
        let cpu = || {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        let c0 = cpu();
        let t = std::time::Instant::now();
        let mut rem = Removals::default();
        for _ in 0..n {
            for r in &corpus {
                let _ = std::hint::black_box(s.sanitise(r.clone(), &mut rem));
            }
        }
        let el = t.elapsed();
        let c = (cpu() - c0) as f64 / 1e9;
        println!(
            "{:.0} ind/s wall, {:.0} ind/s cpu",
            (n * corpus.len()) as f64 / el.as_secs_f64(),
            (n * corpus.len()) as f64 / c
        );
    }
}
