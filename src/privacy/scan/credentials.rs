//! Passwords and logins after a credential cue (`password:`, `PIN`,
//! `Benutzerkennung mkrause77`, `user/pass jdoe/Secret1`), quoted logins,
//! and URL userinfo anywhere.

use super::{Cue, Detectors, Found, SpanKind, ceil_boundary};
use crate::policy::DataCategory;

/// Quote characters a login may stand between (`"jdoe"`, `„jdoe“`, `«jdoe»`).
const QUOTES: &[char] = &['"', '\'', '„', '“', '”', '«', '»', '‘', '’', '`'];

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
            if !sep && i == e {
                // "login.php", "User-Agent": no space, no separator
                continue;
            }
            if sep {
                i += 1;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
            }
            // a quoted login or secret: up to the closing quote
            if let Some(q) = text[i..].chars().next().filter(|c| QUOTES.contains(c)) {
                let ts = i + q.len_utf8();
                if let Some(len) = text[ts..].find(QUOTES).filter(|&n| n > 0 && n <= 64) {
                    // « jdoe »: the spaces inside the quotes are not the login
                    let inner = &text[ts..ts + len];
                    let s = ts + (inner.len() - inner.trim_start().len());
                    let e = ts + inner.trim_end().len();
                    if e > s {
                        push(text, s, e, out);
                    }
                }
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
            // after a space only: something a word of prose is not (digits,
            // dots, underscores...); "the password was changed" stays
            let looks_secret = sep || looks_like_login(token);
            if looks_secret {
                push(text, ts, te, out);
            }
        }
    }
}

/// A token after a cue and a space that is a login or a secret, not a
/// word of prose: letters with digits or `._@-`, or six digits and more;
/// not `attempts:`, not `2`.
fn looks_like_login(t: &str) -> bool {
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    let marks = t.bytes().any(|c| matches!(c, b'.' | b'_' | b'@' | b'-' | b'!' | b'#' | b'$' | b'*' | b'/'));
    t.len() >= 3 && !t.ends_with(':') && ((letters > 0 && (digits > 0 || marks)) || (letters == 0 && digits >= 6))
}

fn push(text: &str, s: usize, e: usize, out: &mut Vec<Found>) {
    let e = ceil_boundary(text, e);
    out.push(Found { start: s, end: e, kind: SpanKind::Data(DataCategory::Credential), norm: text[s..e].to_owned() });
}

/// `scheme://user:secret@host` anywhere (also inside a decoded redirect
/// target): the userinfo is a credential.
pub(super) fn userinfo(text: &str, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    for (i, _) in text.match_indices("://") {
        let s = i + 3;
        let mut j = s;
        while j < b.len()
            && !matches!(b[j], b'/' | b'?' | b'#' | b'@' | b'"' | b'<' | b'>')
            && !b[j].is_ascii_whitespace()
        {
            j += 1;
        }
        if j > s && b.get(j) == Some(&b'@') {
            push(text, s, j, out);
        }
    }
}
