//! Shared helpers of the fuzz targets.
#![forbid(unsafe_code)]

use std::sync::{Arc, OnceLock};

use tamis::pipeline::ingest::{self, Format};
use tamis::model::{self, Removals};
use tamis::policy::Policy;
use tamis::privacy::{Keys, Sanitiser};

/// The shipped default policy with fixed keys, built once.
pub fn sanitiser() -> &'static Sanitiser {
    static S: OnceLock<Sanitiser> = OnceLock::new();
    S.get_or_init(|| {
        let p = Policy::parse("default.toml", include_str!("../../policies/default.toml")).expect("default policy");
        Sanitiser::new(Arc::new(p), Keys { pseudonym: [7; 32], escrow_public: [9; 32] }).expect("sanitiser")
    })
}

/// The submission path of the server without the network: parse the body,
/// validate each item, sanitise what validates. Errors are fine; panics are
/// bugs. A refusal saying the filter panicked (it catches its own panics,
/// fail closed) is turned back into a panic so the fuzzer reports it.
pub fn submission(format: Format, body: &[u8]) {
    let Ok(parsed) = ingest::parse(format, body) else { return };
    for (i, v) in parsed.items.iter().enumerate() {
        if let Ok(raw) = model::parse_indicator(i, v) {
            sanitise(raw);
        }
    }
}

/// Sanitises one indicator; panics if the filter panicked inside.
pub fn sanitise(raw: model::RawIndicator) {
    let mut removed = Removals::default();
    if let Err(r) = sanitiser().sanitise(raw, &mut removed) {
        assert!(!r.reason.contains("internal privacy-filter error"), "the privacy filter panicked");
    }
}
