//! IBANs and national identifiers written in their own format (IT codice
//! fiscale, ES DNI/NIE, UK NINO; also in lower case); the check digits
//! decide (`../checks.rs`).

use std::str::FromStr;

use super::{Candidate, Detectors, Family, Found, SpanKind};
use crate::policy::DataCategory;
use crate::privacy::checks;

impl Detectors {
    pub(super) fn iban(&self, c: &Candidate, out: &mut Vec<Found>) {
        let (b, s, e) = (c.bytes(), c.start, c.end);
        if s > 0 && b[s - 1].is_ascii_alphanumeric() {
            return;
        }
        // positions of the significant characters, to map a valid prefix back
        let mut pos = Vec::with_capacity(40);
        let mut compact = String::with_capacity(40);
        for (i, &c) in b[s..e].iter().enumerate() {
            if c.is_ascii_alphanumeric() {
                pos.push(s + i);
                compact.push(c.to_ascii_uppercase() as char);
            }
        }
        let mut n = compact.len().min(34);
        while n >= 15 {
            let end = pos[n - 1] + 1;
            if (end >= b.len() || !b[end].is_ascii_alphanumeric()) && iban::Iban::from_str(&compact[..n]).is_ok() {
                out.push(Found {
                    start: s,
                    end,
                    kind: SpanKind::Data(DataCategory::Iban),
                    norm: compact[..n].to_owned(),
                });
                return;
            }
            n -= 1;
        }
    }

    /// A national id in its own format: kept when the check digits hold;
    /// a DNI-shaped run that fails them may still be a number.
    pub(super) fn national_id(&self, family: Family, c: &Candidate, out: &mut Vec<Found>) {
        let (bytes, s, e) = (c.bytes(), c.start, c.end);
        if !c.bounded() {
            return;
        }
        // written in lower case too ("12345678z", "rssmra85t10a562s")
        let compact: Vec<u8> =
            bytes[s..e].iter().filter(|b| !matches!(b, b' ' | b'-' | b'.')).map(u8::to_ascii_uppercase).collect();
        let lower = bytes[s..e].iter().any(u8::is_ascii_lowercase);
        let ok = match family {
            Family::CodiceFiscale => checks::it_codice_fiscale(&compact),
            Family::Nie | Family::Dni => checks::es_dni_nie(&compact),
            // the lenient spaced form only in capitals ("is 12 34 56 a" is prose)
            _ => checks::uk_nino(&compact, lower || !bytes[s..e].contains(&b' ')),
        };
        if ok {
            out.push(c.found(DataCategory::NationalId, String::from_utf8_lossy(&compact).into_owned()));
        } else if family == Family::Dni {
            let mut end = e;
            while end > s && !bytes[end - 1].is_ascii_digit() {
                end -= 1;
            }
            self.number(&c.span(s, end), out);
        }
    }
}
