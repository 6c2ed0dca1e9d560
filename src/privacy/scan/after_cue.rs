//! The value a cue word introduces ("passport no. C01X00T47", "IMEI:
//! 35-209900-176148-1", "Kennzeichen B-MS 1234"): separators and filler
//! words (`lexicon/cue_fillers.txt`) are skipped, then the value's groups
//! are read. Shared by the identifier families.

use std::sync::OnceLock;

use super::{FastSet, lexicon};

fn fillers() -> &'static FastSet<&'static str> {
    static SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| lexicon::cue_fillers().iter().copied().collect())
}

/// Where the value after a cue ending at `e` starts, and whether an
/// explicit `:` or `=` introduced it. Skips spaces, `:`, `=`, `#`, `(`,
/// quotes, dashes and up to three filler words; `None` when nothing follows
/// within 48 bytes.
pub(super) fn value_start(text: &str, e: usize) -> Option<(usize, bool)> {
    let b = text.as_bytes();
    let mut i = e;
    let mut sep = false;
    let mut words = 0;
    while i < b.len() && i - e <= 48 {
        match b[i] {
            b':' | b'=' => {
                sep = true;
                i += 1;
            }
            b' ' | b'\t' | b'#' | b'(' | b'"' | b'\'' | b'[' | b'-' | b'>' | b'\xc2' | b'\xa0' => i += 1,
            _ => {
                let w_end = i + b[i..]
                    .iter()
                    .position(|c| matches!(c, b' ' | b':' | b'=' | b'\t' | b','))
                    .unwrap_or(b.len() - i);
                let word = text.get(i..w_end)?;
                if words < 3 && is_filler(word) {
                    words += 1;
                    i = w_end;
                    continue;
                }
                return Some((i, sep));
            }
        }
    }
    None
}

fn is_filler(word: &str) -> bool {
    let low = word.to_lowercase();
    fillers().contains(low.as_str()) || fillers().contains(low.trim_end_matches(['.', ':']))
}

/// One group of a value: ASCII letters and digits with inner `-`, `/` or
/// `.` (`AB-123-CD`, `12345/67/8901`).
pub(super) fn group_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    let inner =
        |j: usize| matches!(b[j], b'-' | b'/' | b'.') && j > i && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric);
    while j < b.len() && (b[j].is_ascii_alphanumeric() || inner(j)) {
        j += 1;
    }
    j
}

/// Up to `max` groups from `i` separated by single spaces, while
/// `keep(group, index, next_group)` accepts them. Returns the end of the
/// last accepted group, or `None` when not even the first was.
pub(super) fn groups(
    b: &[u8],
    i: usize,
    max: usize,
    keep: impl Fn(&[u8], usize, Option<&[u8]>) -> bool,
) -> Option<usize> {
    let mut end = None;
    let mut g = i;
    for k in 0..max {
        let ge = group_end(b, g);
        if ge == g {
            break;
        }
        // the group after this one, for the rules that look ahead
        let next = (b.get(ge) == Some(&b' ')).then(|| &b[ge + 1..group_end(b, ge + 1)]).filter(|n| !n.is_empty());
        if !keep(&b[g..ge], k, next) {
            break;
        }
        end = Some(ge);
        if next.is_none() {
            break;
        }
        g = ge + 1;
    }
    end
}

/// Letters and digits of a value, upper-cased (the normalised form).
pub(super) fn compact(b: &[u8]) -> String {
    b.iter().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase() as char).collect()
}

#[cfg(test)]
mod tests {
    use super::super::has_digit;
    use super::*;

    #[test]
    fn fillers_and_separators_are_skipped() {
        let t = "passport number is: C01X00T47 issued";
        assert_eq!(value_start(t, 8), Some((20, true)));
        let t = "IMEI n° 352099001761481";
        assert_eq!(value_start(t, 4), Some((9, false)));
        assert_eq!(value_start("imei", 4), None);
    }

    #[test]
    fn groups_stop_where_keep_says() {
        let b = b"B-MS 1234 gesehen";
        let end = groups(b, 0, 4, |g, _, _| has_digit(g) || g.len() <= 4);
        assert_eq!(end, Some(9));
        assert_eq!(compact(&b[..9]), "BMS1234");
    }
}
