//! The privacy filter on arbitrary text in every free field and in a URL's
//! path and query: no panic inside the filter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use tamis::model;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (head, tail) = text.split_at(text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i));
    let items = [
        json!({"type": "domain", "value": "fuzz-login.top", "description": text, "tags": [head, tail],
               "attributes": {head: tail, "note": text, "list": [head, 1, tail]}}),
        json!({"type": "url", "value": format!("https://fuzz-login.top/{head}?q={tail}#{head}")}),
        json!({"type": "email", "value": format!("{head}@{tail}")}),
    ];
    for (i, v) in items.iter().enumerate() {
        if let Ok(raw) = model::parse_indicator(i, v) {
            tamis_fuzz::sanitise(raw);
        }
    }
});
