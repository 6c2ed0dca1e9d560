//! Identity documents and vehicle plates after their name in one of the
//! eight languages (`document` and `plate` cues of `lexicon/id_cues.txt`):
//! passport, identity-card and driving-licence numbers mixing letters and
//! digits (`C01X00T47`, `YA1234567`, `MORGA753116SM9IJ`, `12345/67/8901`),
//! and plates (`B-MS 1234`, `AB-123-CD`, `GD 12345`, `12-ABC-3`).

use super::after_cue::{compact, group_end, groups, value_start};
use super::has_digit;
use super::{Found, SpanKind};
use crate::policy::DataCategory;

/// A group that belongs to a document or plate number: it holds a digit,
/// or it is a short run of letters in capitals ("AB 123456") or leading a
/// group with digits ("ab 123 cd" keeps "ab").
fn id_group(g: &[u8], next: Option<&[u8]>) -> bool {
    let letters = || g.iter().filter(|c| c.is_ascii_alphabetic());
    // `PPSN 5798877T Ref op-yyjrj8`: a reference or contact word ends the value
    let stop = |g: &[u8]| {
        let l = g.to_ascii_lowercase();
        matches!(
            l.as_slice(),
            b"ref" | b"ref." | b"tel" | b"tel." | b"op" | b"case" | b"iban" | b"dob" | b"and" | b"und" | b"et"
        )
    };
    has_digit(g)
        || (!stop(g)
            && letters().count() <= 3
            && (letters().all(u8::is_ascii_uppercase) || next.is_some_and(has_digit)))
}

/// The value after a cue ending at `e`, when it passes `valid` on its
/// compact form.
fn value(text: &str, e: usize, valid: impl Fn(&str) -> bool) -> Option<(usize, usize, String)> {
    let b = text.as_bytes();
    let (i, _) = value_start(text, e)?;
    let end = groups(b, i, 4, |g, _, next| id_group(g, next))?;
    let norm = compact(&b[i..end]);
    valid(&norm).then_some((i, end, norm))
}

fn digits(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

/// A passport, identity-card or driving-licence number after its name.
pub(super) fn document(text: &str, e: usize, out: &mut Vec<Found>) {
    if let Some((start, end, norm)) = value(text, e, |n| (5..=20).contains(&n.len()) && digits(n) >= 2) {
        out.push(Found { start, end, kind: SpanKind::Data(DataCategory::NationalId), norm });
    }
}

/// A vehicle plate after its name: 4 to 10 letters and digits, both, in
/// up to four groups. A group of letters only is one to three letters a
/// dash part (`DD-RA 5452`); in lower case it counts only in the two
/// groups before the one with digits (`b ab 1234`, but not the `cd` of
/// `ab 123 cd`).
pub(super) fn plate(text: &str, e: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let Some((i, _)) = value_start(text, e) else { return };
    let mut spans = [(0, 0); 4];
    let mut n = 0;
    let mut g = i;
    while n < spans.len() {
        let ge = group_end(b, g);
        if ge == g {
            break;
        }
        spans[n] = (g, ge);
        n += 1;
        if b.get(ge) != Some(&b' ') {
            break;
        }
        g = ge + 1;
    }
    let spans = &spans[..n];
    // the first group with digits; lower-case letters count only up to two groups before it
    let first_digits = spans.iter().position(|&(s, t)| has_digit(&b[s..t]));
    let mut end = None;
    for (k, &(s, t)) in spans.iter().enumerate() {
        let grp = &b[s..t];
        let ok = has_digit(grp) || {
            let short =
                grp.split(|&c| c == b'-').all(|p| (1..=3).contains(&p.len()) && p.iter().all(u8::is_ascii_alphabetic));
            let upper = !grp.iter().any(u8::is_ascii_lowercase);
            short && (upper || first_digits.is_some_and(|d| k < d && d <= 2))
        };
        if !ok {
            break;
        }
        end = Some(t);
    }
    let Some(end) = end else { return };
    let norm = compact(&b[i..end]);
    if (4..=10).contains(&norm.len()) && digits(&norm) >= 1 && norm.bytes().any(|c| c.is_ascii_alphabetic()) {
        out.push(Found { start: i, end, kind: SpanKind::Data(DataCategory::VehiclePlate), norm });
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::DataCategory;
    use crate::privacy::scan::tests::found_of;

    #[test]
    fn documents_after_their_name_in_eight_languages() {
        for (text, want) in [
            ("Passport number: C01X00T47 was used", "C01X00T47"),
            ("Reisepass Nr. C01X00T47 im Anhang", "C01X00T47"),
            ("numéro de passeport 12AB34567 transmis", "12AB34567"),
            ("pasaporte PAA123456 escaneado", "PAA123456"),
            ("passaporto n. YA1234567 allegato", "YA1234567"),
            ("paspoortnummer NW92BF7R3 gestolen", "NW92BF7R3"),
            ("paszport nr AB 1234567 skradziony", "AB 1234567"),
            ("cartão de cidadão 12345678 9 ZZ1 enviado", "12345678 9 ZZ1"),
            ("driving licence MORGA753116SM9IJ leaked", "MORGA753116SM9IJ"),
            ("Führerschein B072RRE2I55 kopiert", "B072RRE2I55"),
            ("prawo jazdy 12345/67/8901 w skanie", "12345/67/8901"),
            ("carta d'identità CA00000AA rubata", "CA00000AA"),
        ] {
            assert_eq!(found_of(text, DataCategory::NationalId), [want], "{text}");
        }
        for text in [
            "passport scans from 2023 were sold",
            "Reisepass und Ausweis wurden gestohlen",
            "driving licence photo attached",
        ] {
            assert!(found_of(text, DataCategory::NationalId).is_empty(), "{text}");
        }
    }

    #[test]
    fn plates_after_their_name_in_eight_languages() {
        for (text, want) in [
            ("licence plate AB12 CDE seen", "AB12 CDE"),
            ("Kennzeichen B-MS 1234 gesehen", "B-MS 1234"),
            ("immatriculation AB-123-CD relevée", "AB-123-CD"),
            ("matrícula 1234 BCD del coche", "1234 BCD"),
            ("targa AB123CD del veicolo", "AB123CD"),
            ("kenteken 12-ABC-3 gezien", "12-ABC-3"),
            ("numer rejestracyjny WX 12345 auta", "WX 12345"),
            ("matrícula AA-00-AA do carro", "AA-00-AA"),
            ("plate ab 123 cd noted", "ab 123"),
            ("Opfer meldete: Kennzeichen b ab 1234. Die Seite", "b ab 1234"),
            ("Kennzeichen DD-RA 5452 gesehen", "DD-RA 5452"),
            ("included car registration K1 ABC.", "K1 ABC"),
            ("Kennzeichen M AB 123 und Führerschein", "M AB 123"),
        ] {
            assert_eq!(found_of(text, DataCategory::VehiclePlate), [want], "{text}");
        }
        for text in ["plate 2 of the report", "Kennzeichen unbekannt", "targa del veicolo", "plate ab cd of 2024"] {
            assert!(found_of(text, DataCategory::VehiclePlate).is_empty(), "{text}");
        }
    }
}
