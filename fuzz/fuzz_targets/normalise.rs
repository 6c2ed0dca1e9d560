//! Value validation and normalisation of every indicator type (URLs, domains,
//! IPs, e-mail addresses, IBANs, phones...): no panic, normalisation is
//! idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamis::model::{self, IndicatorType};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for kind in IndicatorType::ALL {
        match model::normalise_value(*kind, s) {
            Ok(once) => {
                let twice = model::normalise_value(*kind, &once);
                assert_eq!(twice.as_ref(), Ok(&once), "{kind}: normalisation is not idempotent");
            }
            // `ValueError` holds only static text, so it cannot echo the value
            // (tests/proptest_parsers.rs checks that with a planted marker).
            Err(_) => {}
        }
    }
    let _ = model::refang(s);
});
