//! Geographic positions: coordinate pairs in decimal degrees, with
//! hemisphere letters or degree signs, in degrees-minutes-seconds, `geo:`
//! URIs and the forms map links use (`@48.85,2.29,17z`, `!3d48.85!4d2.29`,
//! `ll=48.85~2.29`, `#map=17/48.85/2.29`), and single latitudes or
//! longitudes after a location cue (`lat 48.8584 lon 2.2945`).
//!
//! A plain pair of decimals ("12.50, 3.25") is taken only after a location
//! cue, inside a URL component, or with at least four decimals each and a
//! position off the null island: prices and versions stay.

use super::after_cue::value_start;
use super::{Candidate, Cue, Found, SpanKind};
use crate::policy::DataCategory;

/// A what3words address (`///index.home.raft`, in any of its languages):
/// three words joined by dots after `///` name a 3 m square.
pub(super) fn what3words(text: &str, out: &mut Vec<Found>) {
    for (i, _) in text.match_indices("///") {
        // `scheme:///path` is a URL, not a square
        if i > 0 && text.as_bytes()[i - 1] == b':' {
            continue;
        }
        let s = i + 3;
        let e = s + text[s..].find(|c: char| !(c.is_alphabetic() || c == '.')).unwrap_or(text.len() - s);
        let words = text[s..e].trim_end_matches('.');
        let parts: Vec<&str> = words.split('.').collect();
        if parts.len() == 3 && parts.iter().all(|p| p.chars().count() >= 2) {
            let e = s + words.len();
            out.push(Found {
                start: i,
                end: e,
                kind: SpanKind::Data(DataCategory::Location),
                norm: text[s..e].to_owned(),
            });
        }
    }
}

/// The decimal numbers of a candidate, in order (`-48.8584`).
fn decimals(raw: &str) -> Vec<(f64, usize)> {
    raw.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter_map(|p| {
            let places = p.split_once('.').map_or(0, |(_, f)| f.len());
            p.parse::<f64>().ok().map(|v| (v, places))
        })
        .collect()
}

/// A `Coord` candidate from the patterns.
pub(super) fn coord(c: &Candidate, out: &mut Vec<Found>) -> bool {
    let (text, b, s, e) = (c.text, c.bytes(), c.start, c.end);
    let glued_before = s > 0 && (b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'.');
    let glued_after =
        e < b.len() && (b[e].is_ascii_digit() || (b[e] == b'.' && b.get(e + 1).is_some_and(u8::is_ascii_digit)));
    if glued_before || glued_after {
        return false;
    }
    // a trailing hemisphere letter that starts a word ("2.2945 en") is not one
    let mut e = e;
    if b[e - 1].is_ascii_alphabetic() && b.get(e).is_some_and(u8::is_ascii_alphabetic) {
        e -= 1;
    }
    while b[e - 1] == b' ' {
        e -= 1;
    }
    let raw = &text[s..e];
    // letters (hemispheres, `geo:`), degree signs and `!3d` make it a position
    let marked = raw.bytes().any(|c| c.is_ascii_alphabetic() || c >= 0x80 || c == b'!');
    let nums = decimals(raw);
    let in_range = nums.len() >= 2 && nums[0].0.abs() <= 90.0 && nums[1].0.abs() <= 180.0;
    let cue = c.cue_before(Cue::Location, 48);
    let precise = nums.len() >= 2
        && nums[0].1 >= 4
        && nums[1].1 >= 4
        && raw.contains(',')
        && (nums[0].0.abs() >= 1.0 || nums[1].0.abs() >= 1.0);
    let map_part = c.scope.url_part && nums.iter().take(2).all(|n| n.1 >= 3);
    if !(marked || (in_range && (cue || precise || map_part))) {
        return false;
    }
    out.push(c.span(s, e).found(DataCategory::Location, raw.to_owned()));
    true
}

/// A latitude or longitude written alone after a location cue ending at
/// `e` ("Latitude: 48.8584", "lat 48.8584 lon 2.2945"): the numbers with at
/// least two decimals within the next few words.
pub(super) fn after_cue(text: &str, e: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let Some((mut i, _)) = value_start(text, e) else {
        return;
    };
    let mut span: Option<(usize, usize)> = None;
    // up to two numbers, with at most one short word ("lon", "E") between
    for _ in 0..2 {
        let start = i + usize::from(b.get(i) == Some(&b'-'));
        let mut j = start;
        while j < b.len() && (b[j].is_ascii_digit() || (b[j] == b'.' && b.get(j + 1).is_some_and(u8::is_ascii_digit))) {
            j += 1;
        }
        let num = &text[start..j];
        let places = num.split_once('.').map_or(0, |(_, f)| f.len());
        if places < 2 || (j < b.len() && b[j].is_ascii_alphanumeric() && !matches!(b[j], b'N' | b'S' | b'E' | b'W')) {
            break;
        }
        span = Some((span.map_or(i, |s| s.0), j));
        // skip "°", separators and one short word to the next number
        let mut k = j;
        let mut word = 0;
        while k < b.len()
            && k - j < 16
            && !(b[k].is_ascii_digit() || (b[k] == b'-' && b.get(k + 1).is_some_and(u8::is_ascii_digit)))
        {
            if b[k].is_ascii_alphabetic() && (k == 0 || !b[k - 1].is_ascii_alphabetic()) {
                word += 1;
            }
            k += 1;
        }
        if word > 1 || k >= b.len() || k - j >= 16 {
            break;
        }
        i = k;
    }
    if let Some((s, e)) = span {
        out.push(Found { start: s, end: e, kind: SpanKind::Data(DataCategory::Location), norm: text[s..e].to_owned() });
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::DataCategory;
    use crate::privacy::scan::tests::found_of;

    #[test]
    fn positions_in_every_written_form() {
        for (text, want) in [
            ("GPS: 48.8584, 2.2945 am Abend", "48.8584, 2.2945"),
            ("seen at 48.858370, 2.294481 yesterday", "48.858370, 2.294481"),
            ("Koordinaten 52.52, 13.40 laut Handy", "52.52, 13.40"),
            ("position 48°51'29.6\"N 2°17'40.2\"E relevée", "48°51'29.6\"N 2°17'40.2\"E"),
            ("ubicación 40.4168° N, 3.7038° W", "40.4168° N, 3.7038° W"),
            ("link geo:41.9028,12.4964 inviato", "geo:41.9028,12.4964"),
            ("locatie N 52.3676 E 4.9041 gedeeld", "N 52.3676 E 4.9041"),
            ("Latitude: 52.2297 Longitude: 21.0122", "52.2297 Longitude: 21.0122"),
            ("vu à 48.8584, 2.2945 en ville", "48.8584, 2.2945"),
            ("lat 38.7223 lon -9.1393 (casa)", "38.7223 lon -9.1393"),
            ("her what3words ///index.home.raft; courier", "///index.home.raft"),
            ("adresse ///table.chaise.lampe.", "///table.chaise.lampe"),
        ] {
            assert_eq!(found_of(text, DataCategory::Location), [want], "{text}");
        }
        for text in [
            "prices 12.50, 3.25 and 0.0015, 0.0021 BTC",
            "versions 1.25, 2.30 shipped",
            "IPs 185.220.101.4, 45.9.148.10",
            "coordinates were not shared",
            "file:///etc/passwd.bak.old and ///two.words",
        ] {
            assert!(found_of(text, DataCategory::Location).is_empty(), "{text}");
        }
    }
}
