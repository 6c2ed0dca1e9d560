//! Bearer secrets: whoever holds them is logged in as the victim.
//! Vendor-prefixed tokens are found anywhere by the `Secret` pattern
//! (GitHub `ghp_`/`github_pat_`, GitLab `glpat-`, Slack `xox*-`, AWS
//! `AKIA`, Stripe `sk_live_`, Google `AIza`/`ya29.`, npm, JWTs). After a
//! secret cue in eight languages (`session cookie`, `access token`,
//! `Bearer`, `API key`, `PHPSESSID`, `jeton`, `Zugriffstoken`, ...) a
//! high-entropy value goes too, and each `name=value` of a cookie line.

use super::after_cue::value_start;
use super::{Found, SpanKind};
use crate::policy::DataCategory;

/// A `Secret` candidate: kept apart from the word before it.
pub(super) fn prefixed(text: &str, s: usize, e: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    if s > 0 && b[s - 1].is_ascii_alphanumeric() {
        return;
    }
    out.push(Found { start: s, end: e, kind: SpanKind::Data(DataCategory::Credential), norm: text[s..e].to_owned() });
}

/// The bot id of a Telegram bot token (`7965004854:AAFf…`): the number
/// before the colon names the attacker's bot (police can ask about it);
/// only the part after it is the secret.
pub fn telegram_bot_id(token: &str) -> Option<&str> {
    let (id, secret) = token.split_once(':')?;
    let digits = id.strip_prefix("bot").unwrap_or(id);
    (digits.len() >= 8 && digits.len() <= 10 && digits.bytes().all(|c| c.is_ascii_digit()) && secret.starts_with("AA"))
        .then_some(id)
}

fn token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"._~+/=%-".contains(&c)
}

/// Looks like a generated secret: long, letters and digits mixed, not a
/// word, a URL or a number.
pub(super) fn high_entropy(t: &[u8]) -> bool {
    let lower = t.iter().any(u8::is_ascii_lowercase);
    let upper = t.iter().any(u8::is_ascii_uppercase);
    let digit = t.iter().any(u8::is_ascii_digit);
    let classes = usize::from(lower) + usize::from(upper) + usize::from(digit);
    let distinct = {
        let mut seen = [false; 256];
        t.iter().filter(|&&c| !std::mem::replace(&mut seen[usize::from(c)], true)).count()
    };
    t.len() >= 16 && distinct >= 8 && ((digit && classes >= 2) || (classes == 3 && t.len() >= 20))
}

/// The secret(s) a cue ending at `e` introduces.
pub(super) fn after_cue(text: &str, e: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let Some((mut i, _)) = value_start(text, e) else {
        return;
    };
    // a cookie line: `name=value; name2=value2`
    for _ in 0..8 {
        let mut j = i;
        while j < b.len() && token_byte(b[j]) {
            j += 1;
        }
        let mut tok_end = j;
        while tok_end > i && matches!(b[tok_end - 1], b'.' | b',') {
            tok_end -= 1;
        }
        let tok = &b[i..tok_end];
        if tok.windows(3).any(|w| w == b"://") {
            return;
        }
        // `name=value`: the value is the secret
        let vs = match tok.iter().position(|&c| c == b'=') {
            Some(k) if k > 0 && k + 1 < tok.len() => i + k + 1,
            _ => i,
        };
        if high_entropy(&b[vs..tok_end]) {
            out.push(Found {
                start: vs,
                end: tok_end,
                kind: SpanKind::Data(DataCategory::Credential),
                norm: text[vs..tok_end].to_owned(),
            });
        }
        // next pair of the same cookie line
        if vs == i || b.get(j) != Some(&b';') {
            return;
        }
        i = j + 1;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
    }
}

/// Words that may stand between a one-time code's name and the code
/// (`code 3D Secure 444707`, `código de firma 221252`, `code SMS reçu : 4471`).
const OTP_WORDS: &[&str] = &[
    "sms",
    "3d",
    "3-d",
    "3ds",
    "secure",
    "de",
    "di",
    "da",
    "do",
    "del",
    "firma",
    "confirmação",
    "confirmacao",
    "confirmación",
    "confirmacion",
    "confirmation",
    "conferma",
    "verificação",
    "verificacao",
    "verificación",
    "verificacion",
    "verification",
    "vérification",
    "verifica",
    "validation",
    "validação",
    "otp",
    "tan",
    "blik",
    "reçu",
    "recu",
    "received",
    "ricevuto",
    "recibido",
    "recebido",
    "otrzymany",
    "ontvangen",
    "erhaltene",
    "was",
    "is",
    "est",
    "era",
    "es",
    "é",
    "to",
    "jest",
    "war",
    "the",
    "le",
    "la",
    "il",
    "el",
    "o",
    "der",
    "die",
    "het",
];

/// The one-time code after an OTP cue ending at `e` (`code 430014`,
/// `codice 795512`, `kod 3D Secure 766067`, `TAN: 4471`): digits only, four
/// to eight after an explicit one-time word, six to eight after a bare
/// `code` (a bank or postal code has five; an HTTP or exit code three).
pub(super) fn one_time_code(text: &str, cue: &str, e: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let bare = matches!(cue.to_ascii_lowercase().as_str(), "code" | "codes" | "codice" | "código" | "codigo" | "kod");
    let mut i = e;
    let mut words = 0;
    loop {
        while i < b.len() && matches!(b[i], b' ' | b':' | b'=' | b'#' | b'\t') {
            i += 1;
        }
        let w_end = i + b[i..]
            .iter()
            .position(|c| matches!(c, b' ' | b':' | b'=' | b'\t' | b',' | b'.' | b';' | b')'))
            .unwrap_or(b.len() - i);
        if w_end == i {
            return;
        }
        let word = &text[i..w_end];
        if word.bytes().all(|c| c.is_ascii_digit()) {
            let min = if bare { 6 } else { 4 };
            // the code stands alone: no digit group or letter glued after it
            let glued = b
                .get(w_end)
                .is_some_and(|c| matches!(c, b'.' | b',') && b.get(w_end + 1).is_some_and(u8::is_ascii_digit));
            if (min..=8).contains(&word.len()) && !glued {
                out.push(Found {
                    start: i,
                    end: w_end,
                    kind: SpanKind::Data(DataCategory::Credential),
                    norm: word.to_owned(),
                });
            }
            return;
        }
        let low = word.to_lowercase();
        if words == 3 || !OTP_WORDS.contains(&low.as_str()) {
            return;
        }
        words += 1;
        i = w_end;
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::DataCategory;
    use crate::privacy::scan::tests::found_of;

    #[test]
    fn prefixed_tokens_anywhere() {
        for tok in [
            "ghp_1234567890abcdefghijklmnopqrstuvwxyz",
            "glpat-xY3kP9qR2sT5vW8zA1bC",
            "xoxb-1234567890-0987654321-AbCdEfGhIjKl",
            "AKIAIOSFODNN7EXAMPLE",
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm5hIn0.c2lnbmF0dXJl",
            "7965004854:AAFf6P7c7oV5AWbL8jsAIf0EzEwJoFwSoDV",
        ] {
            let text = format!("leaked {tok} in repo");
            assert_eq!(found_of(&text, DataCategory::Credential), [tok], "{text}");
        }
    }

    #[test]
    fn secrets_after_a_cue_in_eight_languages() {
        for (text, want) in [
            ("session cookie: 8f7a6c5d4e3b2a19F0e1d2c3 stolen", "8f7a6c5d4e3b2a19F0e1d2c3"),
            ("Authorization: Bearer aB3dE5fG7hJ9kL1mN3pQ5rS7 seen", "aB3dE5fG7hJ9kL1mN3pQ5rS7"),
            ("Zugriffstoken lautet Zx81kQ0pLm3nB7vC9xR2 im Log", "Zx81kQ0pLm3nB7vC9xR2"),
            ("jeton d'accès k2J9sL1pQ8mN4bV6cX0z volé", "k2J9sL1pQ8mN4bV6cX0z"),
            ("token de acceso 9aB8cD7eF6gH5iJ4kL3m robado", "9aB8cD7eF6gH5iJ4kL3m"),
            ("chiave API 4f9d2c1b8a7e6d5c4b3a2f1e rubata", "4f9d2c1b8a7e6d5c4b3a2f1e"),
            ("API-sleutel Qw3rTy6uIo9pAs2dFg5h gelekt", "Qw3rTy6uIo9pAs2dFg5h"),
            ("klucz API: Mn7bV4cX1zLk8jH5gF2d wyciekł", "Mn7bV4cX1zLk8jH5gF2d"),
            ("cookie de sessão PHPSESSID=9k2j4h6g8f0d1s3a5p7o roubado", "9k2j4h6g8f0d1s3a5p7o"),
        ] {
            assert_eq!(found_of(text, DataCategory::Credential), [want], "{text}");
        }
        let cookie = "Cookie: sid=Ab12Cd34Ef56Gh78Ij90; theme=dark; csrftoken=Zz99Yy88Xx77Ww66Vv55";
        assert_eq!(found_of(cookie, DataCategory::Credential), ["Ab12Cd34Ef56Gh78Ij90", "Zz99Yy88Xx77Ww66Vv55"]);
        for text in [
            "the session lasted 20 minutes",
            "API key rotation is recommended",
            "token https://evil.example/gate.php",
            "cookie consent banner",
        ] {
            assert!(found_of(text, DataCategory::Credential).is_empty(), "{text}");
        }
    }
}
