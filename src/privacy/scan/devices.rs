//! Device identifiers: MAC addresses (colon, dash and Cisco dotted forms,
//! the `Mac` pattern, found bare), and after a device cue (`IMEI`, `MAC`,
//! `device id`, `Geräte-ID`... in eight languages) an IMEI or IMEISV in any
//! grouping, a MAC written any way, or an advertising/device id.

use super::after_cue::{group_end, value_start};
use super::has_digit;
use super::{Found, SpanKind, bounded};
use crate::policy::DataCategory;

/// A `Mac` candidate found by the patterns. The colon and dash forms are
/// distinctive; the dotted form needs a hex letter (`0012.3456.7890`
/// could be anything) unless a device cue stands before it.
pub(super) fn mac(text: &str, s: usize, e: usize, cue: bool, out: &mut Vec<Found>) -> bool {
    let b = text.as_bytes();
    // not inside a longer hex or colon run (an IPv6 address, a hash)
    let glued = |c: u8| c.is_ascii_alphanumeric() || c == b':' || c == b'-' || c == b'.';
    if (s > 0 && glued(b[s - 1])) || (e < b.len() && glued(b[e]) && b.get(e + 1).is_some_and(u8::is_ascii_alphanumeric))
    {
        return false;
    }
    let raw = &b[s..e];
    if raw[4] == b'.' && !cue && !raw.iter().any(u8::is_ascii_alphabetic) {
        return false;
    }
    let norm: String = raw.iter().filter(|c| c.is_ascii_hexdigit()).map(|c| c.to_ascii_lowercase() as char).collect();
    out.push(Found { start: s, end: e, kind: SpanKind::Data(DataCategory::DeviceId), norm });
    true
}

/// Length of a MAC written at `i` in any of its three forms (or with spaces
/// between its bytes), if one is.
fn mac_len(b: &[u8]) -> Option<usize> {
    let hex = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_hexdigit));
    // after a cue also with spaces between the bytes (`A4 C3 F0 85 1B 2E`)
    if b.len() >= 17 && matches!(b[2], b':' | b'-' | b' ') && (0..6).all(|k| hex(3 * k..3 * k + 2)) {
        let sep = b[2];
        return (1..6).all(|k| b[3 * k - 1] == sep).then_some(17);
    }
    (b.len() >= 14 && hex(0..4) && b[4] == b'.' && hex(5..9) && b[9] == b'.' && hex(10..14)).then_some(14)
}

/// What a device cue ending at `e` introduces.
pub(super) fn after_cue(text: &str, e: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let Some((i, _)) = value_start(text, e) else {
        return;
    };
    if let Some(n) = mac_len(&b[i..])
        && bounded(b, i, i + n)
    {
        mac(text, i, i + n, true, out);
        return;
    }
    // IMEI / IMEISV: 14 to 17 digits in any grouping ("35-209900-176148-1")
    let mut j = i;
    let mut digits = String::new();
    while j < b.len() {
        if b[j].is_ascii_digit() {
            digits.push(b[j] as char);
            j += 1;
        } else if matches!(b[j], b' ' | b'-' | b'/' | b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) && j > i {
            j += 1;
        } else {
            break;
        }
    }
    if (14..=17).contains(&digits.len()) && bounded(b, i, j) {
        out.push(Found { start: i, end: j, kind: SpanKind::Data(DataCategory::DeviceId), norm: digits });
        return;
    }
    // an advertising or device id: hex or letters and digits, with dashes
    let ge = group_end(b, i);
    let tok = &b[i..ge];
    if tok.len() >= 8 && has_digit(tok) && tok.iter().any(u8::is_ascii_alphabetic) {
        let norm = String::from_utf8_lossy(tok).to_ascii_lowercase();
        out.push(Found { start: i, end: ge, kind: SpanKind::Data(DataCategory::DeviceId), norm });
    }
}

/// A user's profile folder in a path (`C:\\Users\\g.lopes\\AppData`,
/// `/home/jkowalski/.ssh`, `/Users/mrossi/Library`): the folder is named
/// after the account, so it is a login (`[NAME]`); the system's own
/// profiles (`Public`, `Default`, `All Users`...) stay.
pub(super) fn profile_folders(text: &str, out: &mut Vec<Found>) {
    const ROOTS: &[&str] = &["\\Users\\", "\\users\\", "/home/", "/Users/", "\\Documents and Settings\\"];
    const SYSTEM: &[&str] = &[
        "public",
        "default",
        "default user",
        "all users",
        "administrator",
        "admin",
        "root",
        "guest",
        "defaultuser0",
        "wdagutilityaccount",
        "systemprofile",
        "localservice",
        "networkservice",
        "%username%",
        "<user>",
        "user",
        "*",
    ];
    // a profile folder needs a path separator: one byte scan settles most texts
    if !text.bytes().any(|b| b == b'/' || b == b'\\')
        || !text.contains("Users") && !text.contains("users") && !text.contains("/home/") && !text.contains("Settings")
    {
        return;
    }
    for root in ROOTS {
        for (i, _) in text.match_indices(root) {
            let s = i + root.len();
            let len = text[s..].find(['\\', '/', '\n', ';', '"', '\'', ' ', ',', ')']).unwrap_or(text.len() - s);
            let folder = &text[s..s + len];
            if folder.is_empty() || SYSTEM.contains(&folder.to_ascii_lowercase().as_str()) {
                continue;
            }
            out.push(Found {
                start: s,
                end: s + len,
                kind: SpanKind::Data(DataCategory::Name),
                norm: folder.to_lowercase(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::DataCategory;
    use crate::privacy::scan::tests::found_of;

    #[test]
    fn macs_in_three_forms_and_imeis_after_a_cue() {
        for (text, want) in [
            ("router 00:1A:2B:3C:4D:5E seen", "00:1A:2B:3C:4D:5E"),
            ("Gerät 00-1a-2b-3c-4d-5e im Netz", "00-1a-2b-3c-4d-5e"),
            ("switch port 001a.2b3c.4d5e up", "001a.2b3c.4d5e"),
            ("adresse MAC : A4 C3 F0 85 1B 2E, relevée", "A4 C3 F0 85 1B 2E"),
            ("adresse MAC 0012.3456.7890 relevée", "0012.3456.7890"),
            ("IMEI: 35-209900-176148-1 gestohlen", "35-209900-176148-1"),
            ("imei 352099001761481", "352099001761481"),
            ("dialled *#06# -> 35 209900 176148 1 on the handset", "35 209900 176148 1"),
            ("Code *#06#: 35-209900-176148-1", "35-209900-176148-1"),
            ("IMEISV 35 209900 176148 23 del terminal", "35 209900 176148 23"),
            ("numer IMEI 35/209900/176148/1 telefonu", "35/209900/176148/1"),
            ("Android ID 9774d56d682e549c leaked", "9774d56d682e549c"),
            ("IDFA 6D92078A-8246-4BA4-AE5B-76104861E7DC found", "6D92078A-8246-4BA4-AE5B-76104861E7DC"),
        ] {
            assert_eq!(found_of(text, DataCategory::DeviceId), [want], "{text}");
        }
        for text in [
            "IPv6 2001:db8:0:1:2:3:4:5 and fe80::1",
            "sha1 00:1a:2b:3c:4d:5e:6f:70:81:92",
            "version 1234.5678.9012 released",
            "Mac OS X 10_15_7 user agent",
            "IMEI was not recorded",
        ] {
            assert!(found_of(text, DataCategory::DeviceId).is_empty(), "{text}");
        }
    }
}
