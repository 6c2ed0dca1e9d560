//! Check-digit validators: a candidate found by the patterns only counts
//! when its checksum holds. This is what lets reference numbers, amounts and
//! timestamps survive (SPEC §6: precision matters too).
//!
//! Every function takes the candidate with separators already removed
//! (upper-case letters, ASCII digits) unless said otherwise.

/// Luhn (mod 10) over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn prefix_num(d: &[u8], n: usize) -> u32 {
    d[..n].iter().fold(0, |a, b| a * 10 + u32::from(b - b'0'))
}

/// A payment card number: issuer range and length, then Luhn. Rejects
/// 13-digit millisecond timestamps (they start with 1, no issuer there).
pub fn card_pan(d: &[u8]) -> bool {
    let len = d.len();
    if !(12..=19).contains(&len) || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let p2 = prefix_num(d, 2);
    let p3 = prefix_num(d, 3);
    let p4 = prefix_num(d, 4);
    let issuer = match d[0] {
        b'4' => len >= 13, // Visa, Visa Electron: 13 to 19
        b'5' => (51..=55).contains(&p2) && len >= 16 || p2 == 50 || (56..=59).contains(&p2), // Mastercard, Maestro, Verve, Dankort
        b'2' => len >= 16 && ((2221..=2720).contains(&p4) || (2200..=2204).contains(&p4)),   // Mastercard 2-series, Mir
        b'3' => {
            (p2 == 34 || p2 == 37) && len == 15                       // Amex
                || (3528..=3589).contains(&p4) && len >= 16           // JCB
                || ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && len >= 14 // Diners
        }
        b'6' => len >= 15 || (p2 >= 60), // Discover, UnionPay, RuPay, Maestro 6x, Troy-like
        b'1' => len == 15,               // UATP
        b'8' => (p2 == 81 || p2 == 82 || p4 == 8600) && len >= 16, // UnionPay 81, RuPay 82, Uzcard
        b'9' => (p4 == 9792 || p4 == 9860) && len == 16, // Troy, Humo
        _ => false,
    };
    issuer && luhn(d)
}

/// France: NIR (numéro de sécurité sociale), 15 characters, key = 97 − (N mod 97).
/// Corsica departments 2A/2B count as 19/18.
pub fn fr_nir(s: &[u8]) -> bool {
    if s.len() != 15 || !matches!(s[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    let mut n: u64 = 0;
    for (i, &c) in s[..13].iter().enumerate() {
        let v = match (i, c) {
            (_, b'0'..=b'9') => u64::from(c - b'0'),
            (6, b'A') | (6, b'B') if s[5] == b'2' => {
                // 2A -> 19, 2B -> 18: replace the "2" already added
                n = n / 10 * 10 + 1;
                if c == b'A' { 9 } else { 8 }
            }
            _ => return false,
        };
        n = n * 10 + v;
    }
    if !s[13..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = prefix_num(&s[3..5], 2);
    if !(1..=12).contains(&month) && !(20..=42).contains(&month) && month < 50 {
        return false;
    }
    let key = u64::from(prefix_num(&s[13..], 2));
    97 - n % 97 == key
}

/// Italy: codice fiscale, 16 characters with a check letter.
pub fn it_codice_fiscale(s: &[u8]) -> bool {
    if s.len() != 16 || !s.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return false;
    }
    const ODD: [u32; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let mut sum = 0;
    for (i, &c) in s[..15].iter().enumerate() {
        let idx = if c.is_ascii_digit() { c - b'0' } else { c - b'A' } as usize;
        sum += if i % 2 == 0 { ODD[idx] } else { idx as u32 };
    }
    s[15] == b'A' + (sum % 26) as u8
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Spain: DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter).
pub fn es_dni_nie(s: &[u8]) -> bool {
    if s.len() != 9 {
        return false;
    }
    let first = match s[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        b'0'..=b'9' => u32::from(s[0] - b'0'),
        _ => return false,
    };
    if !s[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = s[1..8].iter().fold(first, |a, b| a * 10 + u32::from(b - b'0'));
    s[8] == DNI_LETTERS[(n % 23) as usize]
}

/// Netherlands: BSN, 9 digits, the "11-proof".
pub fn nl_bsn(d: &[u8]) -> bool {
    if d.len() != 9 || !d.iter().all(u8::is_ascii_digit) || d.iter().all(|&c| c == b'0') {
        return false;
    }
    let mut sum: i32 = 0;
    for (i, &c) in d[..8].iter().enumerate() {
        sum += (9 - i as i32) * i32::from(c - b'0');
    }
    sum -= i32::from(d[8] - b'0');
    sum % 11 == 0
}

/// Poland: PESEL, 11 digits, weighted check digit and an encoded birth date.
pub fn pl_pesel(d: &[u8]) -> bool {
    if d.len() != 11 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = d[..10].iter().zip(W).map(|(c, w)| u32::from(c - b'0') * w).sum();
    let month = prefix_num(&d[2..4], 2) % 20;
    let day = prefix_num(&d[4..6], 2);
    (10 - sum % 10) % 10 == u32::from(d[10] - b'0') && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Belgium: national register number, 11 digits, check = 97 − (first 9 mod 97),
/// with a leading 2 for people born from 2000.
pub fn be_nrn(d: &[u8]) -> bool {
    if d.len() != 11 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n: u64 = d[..9].iter().fold(0, |a, b| a * 10 + u64::from(b - b'0'));
    let check = u64::from(prefix_num(&d[9..], 2));
    let month = prefix_num(&d[2..4], 2) % 20;
    month <= 12 && (97 - n % 97 == check || 97 - (2_000_000_000 + n) % 97 == check)
}

/// Germany: Steuerliche Identifikationsnummer, 11 digits, ISO 7064 MOD 11,10;
/// in the first ten digits exactly one digit repeats (twice or three times).
pub fn de_steuer_id(d: &[u8]) -> bool {
    if d.len() != 11 || !d.iter().all(u8::is_ascii_digit) || d[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for &c in &d[..10] {
        counts[usize::from(c - b'0')] += 1;
    }
    let repeated = counts.iter().filter(|&&c| c >= 2).count();
    if repeated != 1 || counts.iter().any(|&c| c > 3) {
        return false;
    }
    let mut product = 10u32;
    for &c in &d[..10] {
        let mut sum = (u32::from(c - b'0') + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let mut check = 11 - product;
    if check == 10 {
        check = 0;
    }
    check == u32::from(d[10] - b'0')
}

/// United Kingdom: National Insurance number `AB123456C`. `strict` applies
/// HMRC's prefix rules and A–D suffix; the spaced form (`AB 12 34 56 C`) is
/// distinctive enough to be accepted with any letters, which also covers
/// the administrative `ZZ`/`TN` numbers that circulate.
pub fn uk_nino(s: &[u8], strict: bool) -> bool {
    if s.len() != 9
        || !s[..2].iter().all(u8::is_ascii_uppercase)
        || !s[2..8].iter().all(u8::is_ascii_digit)
        || !s[8].is_ascii_uppercase()
    {
        return false;
    }
    if !strict {
        return true;
    }
    let (a, b) = (s[0], s[1]);
    !b"DFIQUV".contains(&a)
        && !b"DFIOQUV".contains(&b)
        && !matches!(&s[..2], b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ")
        && (b'A'..=b'D').contains(&s[8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards() {
        assert!(card_pan(b"4111111111111111"));
        assert!(card_pan(b"5555555555554444"));
        assert!(card_pan(b"2223003122003222")); // Mastercard 2-series
        assert!(card_pan(b"378282246310005")); // Amex
        assert!(card_pan(b"6011111111111117")); // Discover
        assert!(!card_pan(b"4111111111111112")); // Luhn fails
        assert!(!card_pan(b"1700000000004")); // ms timestamp shape, no issuer
        assert!(!card_pan(b"9999999999999995")); // no issuer
        assert!(!card_pan(b"3782822463100")); // Amex prefix, wrong length
        assert!(card_pan(b"4111111111111111110")); // Visa 19
        assert!(card_pan(b"6200000000000005")); // UnionPay
        assert!(card_pan(b"2200000000000004")); // Mir
        assert!(card_pan(b"8100000000000002")); // UnionPay 81
    }

    #[test]
    fn french_nir() {
        assert!(fr_nir(b"184127645108946"));
        assert!(fr_nir(b"269052A00100132")); // Corsica 2A
        assert!(!fr_nir(b"269052A00100133"));
        assert!(!fr_nir(b"184127645108947"));
        assert!(!fr_nir(b"584127645108946")); // sex digit 5
    }

    #[test]
    fn codice_fiscale() {
        assert!(it_codice_fiscale(b"RSSMRA85T10A562S"));
        assert!(!it_codice_fiscale(b"RSSMRA85T10A562T"));
        assert!(!it_codice_fiscale(b"rssmra85t10a562s"));
    }

    #[test]
    fn spanish_dni_nie() {
        assert!(es_dni_nie(b"12345678Z"));
        assert!(es_dni_nie(b"X1234567L"));
        assert!(!es_dni_nie(b"12345678A"));
        assert!(!es_dni_nie(b"W1234567L"));
    }

    #[test]
    fn dutch_bsn() {
        assert!(nl_bsn(b"111222333"));
        assert!(nl_bsn(b"123456782"));
        assert!(!nl_bsn(b"123456789"));
        assert!(!nl_bsn(b"000000000"));
    }

    #[test]
    fn polish_pesel() {
        assert!(pl_pesel(b"44051401359"));
        assert!(pl_pesel(b"02070803628"));
        assert!(!pl_pesel(b"44051401358"));
        assert!(!pl_pesel(b"44151401357")); // month 15 invalid
    }

    #[test]
    fn belgian_nrn() {
        assert!(be_nrn(b"85073003328"));
        assert!(be_nrn(b"00012556777")); // born in 2000: 2 prefixed
        assert!(!be_nrn(b"00012556700"));
        assert!(!be_nrn(b"85073003329"));
    }

    #[test]
    fn german_steuer_id() {
        assert!(de_steuer_id(b"86095742719"));
        assert!(de_steuer_id(b"65929970489"));
        assert!(!de_steuer_id(b"86095742718"));
        assert!(!de_steuer_id(b"12345678903")); // no repeated digit
    }

    #[test]
    fn uk_national_insurance() {
        assert!(uk_nino(b"AB123456C", true));
        assert!(!uk_nino(b"AB123456E", true));
        assert!(!uk_nino(b"GB123456A", true));
        assert!(uk_nino(b"ZZ123456T", false));
        assert!(!uk_nino(b"Z1123456T", false));
    }
}
