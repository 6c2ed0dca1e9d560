//! Dates, reported only as birth dates (after a birth cue).

use super::{Cue, Detectors, Found, Scope, SpanKind, bounded, ceil_boundary, lexicon};
use crate::policy::DataCategory;

impl Detectors {
    pub(super) fn date(
        &self,
        text: &str,
        s: usize,
        e: usize,
        scope: &Scope,
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) {
        let b = text.as_bytes();
        if !bounded(b, s, e) {
            return;
        }
        let raw = &text[s..ceil_boundary(text, e)];
        // month-name form: the word must be a month
        if raw.bytes().any(|c| c.is_ascii_alphabetic() || c >= 0x80) {
            let word: String = raw.chars().filter(|c| c.is_alphabetic()).take(3).flat_map(char::to_lowercase).collect();
            if !lexicon::months().contains(&word.as_str()) {
                // not a date: the digits may still be something else
                return;
            }
        }
        let year = raw.split(|c: char| !c.is_ascii_digit()).find(|p| p.len() == 4).unwrap_or("");
        let birth = !scope.phone_key && cues.iter().any(|c| c.2 == Cue::Birth && c.1 <= s && s - c.1 <= 40);
        if birth {
            out.push(Found {
                start: s,
                end: ceil_boundary(text, e),
                kind: SpanKind::Data(DataCategory::DateOfBirth),
                norm: year.to_owned(),
            });
        }
    }
}
