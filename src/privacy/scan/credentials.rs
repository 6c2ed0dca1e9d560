//! Passwords and logins after a credential cue (`password:`, `PIN`).

use super::{Cue, Detectors, Found, SpanKind, ceil_boundary};
use crate::policy::DataCategory;

impl Detectors {
    pub(super) fn credentials(&self, text: &str, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
        let b = text.as_bytes();
        for &(_, e, kind) in cues {
            if !matches!(kind, Cue::CredStrong | Cue::CredWeak) {
                continue;
            }
            let mut i = e;
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            let sep = i < b.len() && matches!(b[i], b':' | b'=');
            if sep {
                i += 1;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
            } else if kind == Cue::CredWeak {
                continue;
            }
            let ts = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b',' | b';' | b'"' | b'<' | b'>') {
                i += 1;
            }
            // a trailing full stop ends the sentence, not the secret
            let mut te = i;
            if te > ts + 1 && b[te - 1] == b'.' {
                te -= 1;
            }
            if te <= ts {
                continue;
            }
            let token = &text[ts..ceil_boundary(text, te)];
            let looks_secret = sep || token.bytes().any(|c| c.is_ascii_digit() || c.is_ascii_punctuation());
            if looks_secret {
                out.push(Found {
                    start: ts,
                    end: ceil_boundary(text, te),
                    kind: SpanKind::Data(DataCategory::Credential),
                    norm: token.to_owned(),
                });
            }
        }
    }
}
