//! Check-digit validators: a candidate found by the patterns only counts
//! when its checksum holds. This is what lets reference numbers, amounts and
//! timestamps survive (SPEC §6: precision matters too).
//!
//! Every function takes the candidate with separators already removed
//! (upper-case letters, ASCII digits) unless said otherwise.

/// Luhn (mod 10) over ASCII digits.
/// Countries a bank identifier (BIC) names in letters 5 and 6: the EEA,
/// its neighbours and the large financial centres.
const BIC_COUNTRIES: &[&[u8; 2]] = &[
    b"AT", b"BE", b"BG", b"HR", b"CY", b"CZ", b"DK", b"EE", b"FI", b"FR", b"DE", b"GR", b"HU", b"IE", b"IT", b"LV",
    b"LT", b"LU", b"MT", b"NL", b"PL", b"PT", b"RO", b"SK", b"SI", b"ES", b"SE", b"IS", b"LI", b"NO", b"CH", b"GB",
    b"MC", b"SM", b"AD", b"GI", b"UA", b"MD", b"RS", b"BA", b"ME", b"MK", b"AL", b"TR", b"US", b"CA", b"HK", b"SG",
    b"AE", b"CN", b"JP", b"RU", b"BY", b"GE", b"AM", b"AZ", b"KZ", b"IL", b"MA", b"TN", b"NG", b"ZA", b"IN", b"BR",
];

/// A bank identifier code (`COBADEFFXXX`, `AIBKIE2D`): four letters, a
/// country, a location of two letters or digits and an optional branch.
pub fn bic(s: &[u8]) -> bool {
    (s.len() == 8 || s.len() == 11)
        && s[..6].iter().all(u8::is_ascii_uppercase)
        && s[6..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && BIC_COUNTRIES.iter().any(|c| c[..] == s[4..6])
}

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

/// True when `dd`/`mm` (1-based) is a day of that month (29 February allowed).
fn valid_day(day: u32, month: u32) -> bool {
    const DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (1..=12).contains(&month) && (1..=DAYS[month as usize - 1]).contains(&day)
}

fn digits_num(d: &[u8]) -> Option<u32> {
    d.iter().try_fold(0u32, |a, c| c.is_ascii_digit().then(|| a * 10 + u32::from(c - b'0')))
}

/// Finland: henkilötunnus `DDMMYYCNNNX` as written (`131052-308T`, the
/// century sign `+`, `-`, `A`–`F` or `U`–`Y`), case-insensitive; the check
/// character is `DDMMYYNNN mod 31` in `0123456789ABCDEFHJKLMNPRSTUVWXY`.
pub fn fi_hetu(s: &[u8]) -> bool {
    const CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
    if s.len() != 11 || !b"+-ABCDEFUVWXY".contains(&s[6].to_ascii_uppercase()) {
        return false;
    }
    let (Some(date), Some(serial)) = (digits_num(&s[..6]), digits_num(&s[7..10])) else {
        return false;
    };
    if !valid_day(date / 10_000, date / 100 % 100) || serial < 2 {
        return false;
    }
    let n = u64::from(date) * 1000 + u64::from(serial);
    CHECK[(n % 31) as usize] == s[10].to_ascii_uppercase()
}

/// Sweden: personnummer `YYMMDD-NNNC` (`+` past 100 years), `YYYYMMDD-NNNC`
/// or `YYYYMMDDNNNC`; Luhn over the ten digits from `YY`. Samordningsnummer
/// add 60 to the day. The 12-digit forms need a year before 2020, so
/// `20240315-1234` build stamps and `202403151230` times stay.
pub fn se_personnummer(s: &[u8]) -> bool {
    let d: Vec<u8> = s.iter().copied().filter(u8::is_ascii_digit).collect();
    let sep = s.iter().filter(|c| matches!(c, b'-' | b'+')).count();
    let ten = match (d.len(), sep) {
        (10, 1) if s.len() == 11 && matches!(s[6], b'-' | b'+') => &d[..],
        (12, _) if (sep == 1 && s.len() == 13 && s[8] == b'-') || (sep == 0 && s.len() == 12) => {
            let year = prefix_num(&d, 4);
            if !(1900..2020).contains(&year) {
                return false;
            }
            &d[2..]
        }
        _ => return false,
    };
    let month = prefix_num(&ten[2..], 2);
    let day = prefix_num(&ten[4..], 2);
    let day = if day > 60 { day - 60 } else { day };
    valid_day(day, month) && luhn(ten)
}

/// Germany: identity-card (Personalausweis) and passport serial numbers
/// with their check digit, `L01X00T471`: nine characters of
/// `CFGHJKLMNPRTVWXYZ0-9` (a letter first), then the ICAO 9303 check digit
/// (weights 7, 3, 1; letters count 10–35). At least four digits.
pub fn de_document(s: &[u8]) -> bool {
    const ALPHA: &[u8] = b"CFGHJKLMNPRTVWXYZ0123456789";
    if s.len() != 10
        || !s[0].is_ascii_uppercase()
        || !s[..9].iter().all(|c| ALPHA.contains(c))
        || !s[9].is_ascii_digit()
        || s.iter().filter(|c| c.is_ascii_digit()).count() < 4
    {
        return false;
    }
    icao_check(&s[..9]) == u32::from(s[9] - b'0')
}

/// The ICAO 9303 (machine-readable zone) check digit of `s`.
pub fn icao_check(s: &[u8]) -> u32 {
    const W: [u32; 3] = [7, 3, 1];
    let v = |c: u8| if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c - b'A') + 10 };
    s.iter().enumerate().map(|(i, &c)| v(c) * W[i % 3]).sum::<u32>() % 10
}

/// Portugal: NIF of a natural person (9 digits starting 1, 2 or 3), mod 11.
pub fn pt_nif_person(d: &[u8]) -> bool {
    if d.len() != 9 || !d.iter().all(u8::is_ascii_digit) || !matches!(d[0], b'1' | b'2' | b'3') {
        return false;
    }
    let sum: u32 = d[..8].iter().enumerate().map(|(i, c)| u32::from(c - b'0') * (9 - i as u32)).sum();
    let check = match 11 - sum % 11 {
        10 | 11 => 0,
        c => c,
    };
    check == u32::from(d[8] - b'0')
}

/// Austria: Sozialversicherungsnummer `NNNC DDMMYY`: serial (first digit
/// not 0), check digit, birth date; weights 3 7 9 – 5 8 4 2 1 6, mod 11
/// (a remainder of 10 is never issued).
pub fn at_svnr(d: &[u8]) -> bool {
    if d.len() != 10 || !d.iter().all(u8::is_ascii_digit) || d[0] == b'0' {
        return false;
    }
    const W: [u32; 10] = [3, 7, 9, 0, 5, 8, 4, 2, 1, 6];
    let sum: u32 = d.iter().zip(W).map(|(c, w)| u32::from(c - b'0') * w).sum();
    let day = prefix_num(&d[4..], 2);
    let month = prefix_num(&d[6..], 2);
    // month 13-15 and day 0 stand for unknown birth dates in the register
    let date_ok = valid_day(day, month) || (day <= 31 && (13..=15).contains(&month));
    sum % 11 != 10 && sum % 11 == u32::from(d[3] - b'0') && date_ok
}

/// AU Medicare card number (10 digits: 8 with a check digit, then the
/// card's issue number; the first digit is 2–6).
pub fn au_medicare(d: &[u8]) -> bool {
    if d.len() != 10 || !d.iter().all(u8::is_ascii_digit) || !(b'2'..=b'6').contains(&d[0]) {
        return false;
    }
    const W: [u32; 8] = [1, 3, 7, 9, 1, 3, 7, 9];
    let sum: u32 = d[..8].iter().zip(W).map(|(c, w)| u32::from(c - b'0') * w).sum();
    sum % 10 == u32::from(d[8] - b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finnish_hetu() {
        assert!(fi_hetu(b"131052-308T"));
        assert!(fi_hetu(b"131052-308t"));
        assert!(fi_hetu(b"010594Y9032"));
        assert!(!fi_hetu(b"131052-308U"));
        assert!(!fi_hetu(b"311352-308T")); // month 13
        assert!(!fi_hetu(b"131052G308T")); // no such century sign
    }

    #[test]
    fn swedish_personnummer() {
        assert!(se_personnummer(b"811218-9876"));
        assert!(se_personnummer(b"19811218-9876"));
        assert!(se_personnummer(b"198112189876"));
        assert!(!se_personnummer(b"811218-9875"));
        assert!(!se_personnummer(b"8112189876")); // bare ten digits: too common
        assert!(!se_personnummer(b"202403151230")); // recent: a time stamp
    }

    #[test]
    fn german_documents() {
        assert!(de_document(b"L01X00T471"));
        assert!(de_document(b"C01X00T478"));
        assert!(de_document(b"T220001293"));
        assert!(!de_document(b"L01X00T472"));
        assert!(!de_document(b"A01X00T471")); // A is not in the alphabet
        assert!(!de_document(b"LCFGHJKLM0")); // too few digits
    }

    #[test]
    fn portuguese_nif_and_austrian_svnr() {
        assert!(pt_nif_person(b"123456789"));
        assert!(!pt_nif_person(b"123456788"));
        assert!(!pt_nif_person(b"501964843")); // a company, not a person
        assert!(at_svnr(b"1237010180"));
        assert!(!at_svnr(b"1238010180"));
        assert!(!at_svnr(b"1237013280")); // day 01, month 32
    }

    #[test]
    fn bank_identifiers() {
        for b in ["COBADEFFXXX", "AIBKIE2D", "BPOTBEB1", "INGBNL2A", "DEUTDEFF"] {
            assert!(bic(b.as_bytes()), "{b}");
        }
        for b in ["KOWALSKI", "COBADEFF1", "cobadeff", "ABCDQQ12"] {
            assert!(!bic(b.as_bytes()), "{b}");
        }
    }

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
