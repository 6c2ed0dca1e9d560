//! Passwords and logins after a credential cue (`password:`, `PIN`,
//! `Benutzerkennung mkrause77`, `user/pass jdoe/Secret1`), quoted logins,
//! and URL userinfo anywhere.

use super::{Cue, Detectors, Found, SpanKind, ceil_boundary};
use crate::policy::DataCategory;
use crate::privacy::vocab;

/// The verb between a password cue and the password itself ("La contraseña
/// era girasol", "Wachtwoord is zonnebloem", "hasło to słoneczko").
const COPULAS: &[&str] = &[
    "is", "was", "ist", "war", "lautet", "lautete", "est", "était", "etait", "es", "era", "fue", "è", "é", "foi", "to",
    "jest", "był", "było", "była", "luidt", "were",
];

/// Quote characters a login may stand between (`"jdoe"`, `„jdoe“`, `«jdoe»`).
const QUOTES: &[char] = &['"', '\'', '„', '“', '”', '«', '»', '‘', '’', '`'];

/// What a password "is" when the sentence is about its state, not its value.
const STATES: &[&str] = &[
    "expired",
    "wrong",
    "incorrect",
    "invalid",
    "weak",
    "reset",
    "changed",
    "required",
    "missing",
    "empty",
    "unknown",
    "abgelaufen",
    "falsch",
    "ungültig",
    "geändert",
    "gesperrt",
    "unbekannt",
    "expiré",
    "erroné",
    "invalide",
    "incorrecta",
    "incorrecto",
    "caducada",
    "caducado",
    "inválida",
    "errata",
    "scaduta",
    "sbagliata",
    "verlopen",
    "onjuist",
    "fout",
    "ongeldig",
    "błędne",
    "nieprawidłowe",
    "wygasło",
    "incorreta",
    "expirada",
    "errada",
    "nieważne",
];

impl Detectors {
    pub(super) fn credentials(&self, text: &str, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
        let b = text.as_bytes();
        for &(cs, e, kind) in cues {
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
            let strong = kind == Cue::CredStrong;
            let is_copula = |w: &str| COPULAS.iter().any(|c| c.eq_ignore_ascii_case(w));
            // the cue may have taken its verb already (a filler: `is`, `est`)
            let mut copula = !sep && is_copula(text[..i].trim_end().rsplit(' ').next().unwrap_or(""));
            if strong && !sep && !copula {
                let w = text[i..].split(' ').next().unwrap_or("");
                if !w.is_empty() && is_copula(w) {
                    copula = true;
                    i += w.len();
                    while i < b.len() && b[i] == b' ' {
                        i += 1;
                    }
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
            if strong
                && !sep
                && is_phrase_cue(&text[cs..e])
                && let Some(end) = phrase_words(text, i)
            {
                push(text, i, end, out);
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
            if strong && let Some(k) = spelled_code(b, ts, te) {
                push(text, ts, k, out);
                continue;
            }
            let token = &text[ts..ceil_boundary(text, te)];
            // after a space only: something a word of prose is not (digits,
            // dots, underscores...); "the password was changed" stays. After a
            // password cue also a PIN of four digits and more (`PIN 5531`) or
            // a card's three-digit code after its own cue, and after its verb
            // a word that is no common word ("contraseña era girasol")
            let card_code = || {
                let cue = text[cs..e].to_lowercase();
                ["cv", "code", "crypto", "código", "codice", "prüf"].iter().any(|c| cue.contains(c))
            };
            let pin = (4..=8).contains(&token.len()) || (token.len() == 3 && card_code());
            let pin = pin && token.bytes().all(|c| c.is_ascii_digit());
            let uncommon = copula
                && token.chars().all(char::is_alphabetic)
                && vocab::vocab().flags_of(token) & (vocab::COMMON | vocab::VERY_COMMON) == 0
                && !vocab::with_lower(token, |l| STATES.contains(&l));
            let looks_secret =
                sep || looks_like_login(token) || (strong && (pin || uncommon)) || paired_login(text, te, token, cues);
            if looks_secret {
                push(text, ts, te, out);
            }
        }
    }
}

/// A code read out digit by digit after its cue (`CVV 4 8 1`, `PIN 5 5 3
/// 1`): the first token `b[ts..te]` is one digit; where the code ends.
fn spelled_code(b: &[u8], ts: usize, te: usize) -> Option<usize> {
    if te != ts + 1 || !b[ts].is_ascii_digit() {
        return None;
    }
    let mut k = te;
    while k + 1 < b.len() && b[k] == b' ' && b[k + 1].is_ascii_digit() && !b.get(k + 2).is_some_and(u8::is_ascii_digit)
    {
        k += 2;
    }
    (3..=8).contains(&((k - ts).div_ceil(2))).then_some(k)
}

/// `Benutzername vogels / Kennwort …`, `login wilka / hasło …`: a
/// lower-case word no prose uses after a login cue ending at `te`, then the
/// pair's slash (a password cue right after it) or a `/`/`|`.
fn paired_login(text: &str, te: usize, token: &str, cues: &[(usize, usize, Cue)]) -> bool {
    let rest = text[te..].trim_start_matches(' ');
    let plain = token.len() >= 3 && token.chars().all(|c| c.is_alphabetic() && c.is_lowercase());
    let f = vocab::vocab().flags_of(token);
    let pair = rest.starts_with('/') && {
        let at = text.len() - rest.len();
        cues.iter().any(|c| matches!(c.2, Cue::CredStrong | Cue::CredWeak) && c.0 > at && c.0 <= at + 4)
    };
    plain
        && f & (vocab::VERY_COMMON | vocab::SECURITY) == 0
        && (pair || (rest.starts_with(['/', '|']) && f & vocab::COMMON == 0))
}

/// A cue naming a secret of several words (`passphrase`, `pass phrase`,
/// `Passwortsatz`, `frase de contraseña`, `wachtwoordzin`).
fn is_phrase_cue(cue: &str) -> bool {
    let l = cue.to_lowercase();
    ["phrase", "satz", "frase", "zin", "fraza"].iter().any(|w| l.contains(w))
}

/// The end of a secret of two to eight plain words from `s` (`correct
/// horse battery staple was captured`: up to the first very common word or
/// punctuation), or `None` when fewer than two words stand there.
fn phrase_words(text: &str, s: usize) -> Option<usize> {
    let (mut at, mut end, mut n) = (s, s, 0);
    for w in text[s..].split(' ') {
        let core = w.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let plain = !core.is_empty()
            && core.chars().all(char::is_alphabetic)
            && vocab::vocab().flags_of(core) & vocab::VERY_COMMON == 0;
        if !plain || n == 8 {
            break;
        }
        n += 1;
        end = at + core.len();
        if core.len() != w.len() {
            break;
        }
        at += w.len() + 1;
    }
    (n >= 2).then_some(end)
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
