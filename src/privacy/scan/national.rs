//! EU national numbers written bare, with no cue word: found by their exact
//! shape plus their checksum (`../checks.rs`), so that hashes, timestamps,
//! amounts and reference numbers of the same length survive. A candidate
//! that fails its checks goes back to the number classifier (it may still
//! be a phone or a card).
//!
//! - FI henkilötunnus `131052-308T` (century sign, check character)
//! - SE personnummer `811218-9876`, `19811218-9876`, `198112189876` (Luhn)
//! - DE identity-card and passport numbers `L01X00T471` (7-3-1 check digit)
//! - DE Steuer-ID, PL PESEL (11 digits), AT social-security number
//!   `1237 010180`, PT NIF of a person (9 digits), NL BSN with dots.
//! - and, outside the EU, the AU Medicare number as printed (`2123 45670 1`).

use super::{Candidate, Cue, Detectors, Family, Found, digit_run_end, roles};
use crate::policy::DataCategory;
use crate::privacy::checks;

impl Detectors {
    /// A `Nordic`, `DeDocument` or `NationalDigits` candidate.
    pub(super) fn national_bare(&self, family: Family, c: &Candidate, out: &mut Vec<Found>) {
        let (b, s, e) = (c.bytes(), c.start, c.end);
        // "ref 123456789", "#123456789": a reference, whatever its digits
        let reference = (s > 0 && b[s - 1] == b'#')
            || c.cues
                .iter()
                .rev()
                .find(|q| q.1 <= s && s - q.1 <= 32 && matches!(q.2, Cue::Reference | Cue::Id | Cue::IdStrong))
                .is_some_and(|q| q.2 == Cue::Reference);
        let glued = after_identifier(b, s) || dotted_neighbour(b, s, e) || roles::host_label(b, e);
        if c.bounded() && !reference && !glued {
            let raw = &b[s..e];
            let ok = match family {
                Family::Nordic => checks::fi_hetu(raw) || checks::se_personnummer(raw),
                Family::DeDocument => checks::de_document(raw),
                _ => national_digits(raw),
            };
            if ok {
                let norm: String =
                    raw.iter().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase() as char).collect();
                out.push(c.found(DataCategory::NationalId, norm));
                return;
            }
        }
        if family != Family::DeDocument && b[s].is_ascii_digit() {
            // not a national number: the digits may still be a phone or a card
            let mut end = s;
            while end < e && (b[end].is_ascii_digit() || matches!(b[end], b' ' | b'.' | b'-' | b'+')) {
                end += 1;
            }
            while end > s && !b[end - 1].is_ascii_digit() {
                end -= 1;
            }
            if end == e {
                end = digit_run_end(b, e);
            }
            self.number(&c.span(s, end), out);
        }
    }
}

/// "INC-12345678901", "#123456789": an identifier, not a number.
fn after_identifier(b: &[u8], s: usize) -> bool {
    s >= 2 && matches!(b[s - 1], b'-' | b'_' | b'#' | b'/') && b[s - 2].is_ascii_alphanumeric()
}

/// Part of a longer dotted or dashed run ("1.123456789", "123456789.5"):
/// a version, an amount or an OID.
fn dotted_neighbour(b: &[u8], s: usize, e: usize) -> bool {
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (s >= 2 && matches!(b[s - 1], b'.' | b',') && digit_at(s - 2))
        || (matches!(b.get(e), Some(b'.' | b',')) && digit_at(e + 1))
}

/// A bare digit run of one of the national shapes, with its checksum.
fn national_digits(raw: &[u8]) -> bool {
    let d: Vec<u8> = raw.iter().copied().filter(u8::is_ascii_digit).collect();
    let spaced = raw.contains(&b' ');
    let dotted = raw.contains(&b'.');
    match d.len() {
        // NL BSN only in its dotted form (bare 9 digits need a cue: contact.rs)
        9 if dotted => checks::nl_bsn(&d),
        9 => checks::pt_nif_person(&d),
        // "2123 45670 1" is the AU Medicare card's printed grouping
        10 => checks::at_svnr(&d) || (spaced && raw.len() == 12 && raw[4] == b' ' && checks::au_medicare(&d)),
        // "86 095 742 719" is the Steuer-ID's printed grouping
        11 if spaced => checks::de_steuer_id(&d),
        11 => checks::pl_pesel(&d) || checks::de_steuer_id(&d),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::DataCategory;
    use crate::privacy::scan::{Detectors, Found, RecordCtx, Scope, SpanKind};

    fn ids(text: &str) -> Vec<String> {
        let d = Detectors::new().unwrap();
        let mut out: Vec<Found> = Vec::new();
        d.scan(text, &Scope::TEXT, &RecordCtx::default(), &mut out);
        out.iter()
            .filter(|f| f.kind == SpanKind::Data(DataCategory::NationalId))
            .map(|f| text[f.start..f.end].to_owned())
            .collect()
    }

    #[test]
    fn bare_national_numbers_are_found_by_checksum() {
        for (text, want) in [
            ("hetu 131052-308T vuotanut", "131052-308T"),
            ("leaked 131052-308t in dump", "131052-308t"),
            ("row: 010594Y9032;", "010594Y9032"),
            ("sv: 811218-9876 i listan", "811218-9876"),
            ("sv: 19811218-9876 i listan", "19811218-9876"),
            ("sv: 198112189876 i listan", "198112189876"),
            ("Ausweis im Dump: L01X00T471 gefunden", "L01X00T471"),
            ("Pass T220001293 (alt)", "T220001293"),
            ("dane 44051401359 w pliku", "44051401359"),
            ("IdNr 86 095 742 719 im Formular", "86 095 742 719"),
            ("Daten 86095742719 im Formular", "86095742719"),
            ("SV-Nummer 1237 010180 im Log", "1237 010180"),
            ("SVNR 1237010180 im Log", "1237010180"),
            ("Medicare 2123 45670 1 on file", "2123 45670 1"),
            ("contribuinte 123456789 no formulário", "123456789"),
            ("nummer 111.222.333 in de mail", "111.222.333"),
            ("dni 12345678z en minúsculas", "12345678z"),
            ("cf rssmra85t10a562s minuscolo", "rssmra85t10a562s"),
            ("nino ab 12 34 56 c lower", "ab 12 34 56 c"),
            ("nino ab123456c lower", "ab123456c"),
        ] {
            assert_eq!(ids(text), [want], "{text}");
        }
    }

    #[test]
    fn hashes_timestamps_amounts_and_references_stay() {
        for text in [
            "epoch 1712345678 and ms 1712345678901",
            "md5 9e107d9d372bb6826bd81d3542a419d6 sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
            "amount 123456789.50 EUR, total 1.234.567.890",
            "ticket INC-12345678901 and #123456789",
            "build 20240315-1234 shipped 202403151230",
            "version 1.2.3.4567890123",
            "order 987654321 / 98765432100",
            "serial X7G3K9M2P1 and KB5034441",
            "hash ae1c7f8a9b0c1d2e3f4a5b6c7d8e9f00 LOCKBIT3 WANNACRY2",
            "gamaredon 263160319.retarus.ru",
            "medicare-shaped with a bad check digit 2123 45679 1",
        ] {
            assert!(ids(text).is_empty(), "{text}: {:?}", ids(text));
        }
    }
}
