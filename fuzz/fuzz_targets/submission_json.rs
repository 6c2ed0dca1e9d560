//! JSON submission bodies (SPEC §5) through parsing, validation and the
//! default policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamis::pipeline::ingest::Format;

fuzz_target!(|data: &[u8]| tamis_fuzz::submission(Format::Json, data));
