//! UTF-8 text that went through a Latin-1 or Windows-1252 decoder on its
//! way here (`HÃ¹ng BÃ¹i` for `Hùng Bùi`, `JosÃ©`): the detectors and the
//! vocabulary read words, so the words are put back first. Only sequences
//! that decode as UTF-8 are repaired; anything else stays as written.

use std::borrow::Cow;

/// Windows-1252's characters for the bytes 0x80–0x9F (0 where undefined).
const CP1252: [char; 32] = [
    '€', '\0', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\0', 'Ž', '\0', '\0', '‘', '’', '“', '”', '•',
    '–', '—', '˜', '™', 'š', '›', 'œ', '\0', 'ž', 'Ÿ',
];

/// The byte a character stood for under Latin-1 or Windows-1252.
fn byte_of(c: char) -> Option<u8> {
    match c as u32 {
        0x80..=0xFF => Some(c as u32 as u8),
        _ => CP1252.iter().position(|&m| m == c && m != '\0').map(|i| 0x80 + i as u8),
    }
}

/// `text` with its mis-decoded UTF-8 sequences repaired (borrowed when
/// there are none, which is nearly always: ASCII text returns at once).
pub fn repair(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || !text.chars().any(|c| matches!(c as u32, 0xC2..=0xF4)) {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let lead = chars[i] as u32;
        let need = match lead {
            0xC2..=0xDF => 1,
            0xE0..=0xEF => 2,
            0xF0..=0xF4 => 3,
            _ => 0,
        };
        if need > 0 {
            let mut buf = [lead as u8, 0, 0, 0];
            let ok = (1..=need).all(|k| {
                chars.get(i + k).and_then(|&c| byte_of(c)).is_some_and(|b| {
                    buf[k] = b;
                    (0x80..=0xBF).contains(&b)
                })
            });
            if ok && let Ok(s) = std::str::from_utf8(&buf[..=need]) {
                out.push_str(s);
                changed = true;
                i += need + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    if changed { Cow::Owned(out) } else { Cow::Borrowed(text) }
}

/// `text` with its full-width forms (`１８１２`, `＋３５８`, `＠`, the
/// ideographic space) written as the ASCII they stand for, so every
/// detector and default-deny read `1812`, `+358`, `@` (borrowed when there
/// are none: the test is one byte search).
pub fn fold_fullwidth(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let has = b.windows(2).any(|w| (w[0] == 0xEF && matches!(w[1], 0xBC | 0xBD)) || (w[0] == 0xE3 && w[1] == 0x80));
    if !has {
        return Cow::Borrowed(text);
    }
    let mut changed = false;
    let out: String = text
        .chars()
        .map(|c| match c as u32 {
            0xFF01..=0xFF5E => {
                changed = true;
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            0x3000 => {
                changed = true;
                ' '
            }
            _ => c,
        })
        .collect();
    if changed { Cow::Owned(out) } else { Cow::Borrowed(text) }
}

#[cfg(test)]
mod tests {
    use super::repair;

    #[test]
    fn mis_decoded_utf8_is_read_back() {
        assert_eq!(repair("Poszkodowany HÃ¹ng BÃ¹i, ur."), "Poszkodowany Hùng Bùi, ur.");
        assert_eq!(repair("JosÃ© MarÃ\u{AD}a, 12 â‚¬"), "José María, 12 €");
        assert_eq!(repair("Zoë and Ångström, 25 °C"), "Zoë and Ångström, 25 °C");
        assert!(matches!(repair("plain ASCII"), std::borrow::Cow::Borrowed(_)));
    }
}
