//! Bank accounts in domestic formats, found as accounts rather than as
//! phone fragments: FR RIB (23 digits, key mod 97), ES CCC (20 digits, two
//! mod-11 control digits), PT NIB (21 digits, mod 97), PL NRB (26 digits,
//! the IBAN check with `PL`); and any account number after an account cue
//! (DE Kontonummer and BLZ, "numéro de compte", "numer konta"...), whose
//! schemes have no public check digit we can rely on.

use crate::policy::DataCategory;

/// `n mod 97` of a string of ASCII digits of any length.
fn mod97(d: impl IntoIterator<Item = u8>) -> u32 {
    d.into_iter().fold(0, |r, c| (r * 10 + u32::from(c - b'0')) % 97)
}

fn num(d: &[u8]) -> u64 {
    d.iter().fold(0, |a, c| a * 10 + u64::from(c - b'0'))
}

/// France: relevé d'identité bancaire, bank 5 + branch 5 + account 11 +
/// key 2 (digits only here).
pub(super) fn fr_rib(d: &[u8]) -> bool {
    if d.len() != 23 {
        return false;
    }
    let sum = 89 * num(&d[..5]) + 15 * num(&d[5..10]) + 3 * num(&d[10..21]);
    97 - sum % 97 == num(&d[21..])
}

/// Spain: código cuenta cliente, entity 4 + office 4 + 2 control digits +
/// account 10.
pub(super) fn es_ccc(d: &[u8]) -> bool {
    const W: [u32; 10] = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6];
    if d.len() != 20 {
        return false;
    }
    let dc = |digits: &[u8]| {
        let s: u32 = digits.iter().zip(W).map(|(c, w)| u32::from(c - b'0') * w).sum();
        match 11 - s % 11 {
            11 => 0,
            10 => 1,
            v => v,
        }
    };
    let mut first = [b'0'; 10];
    first[2..].copy_from_slice(&d[..8]);
    dc(&first) == u32::from(d[8] - b'0') && dc(&d[10..]) == u32::from(d[9] - b'0')
}

/// Portugal: número de identificação bancária, 21 digits, mod 97 = 1.
pub(super) fn pt_nib(d: &[u8]) -> bool {
    d.len() == 21 && mod97(d.iter().copied()) == 1
}

/// Poland: numer rachunku bankowego, 26 digits: the IBAN check with `PL`.
pub(super) fn pl_nrb(d: &[u8]) -> bool {
    d.len() == 26 && mod97(d[2..].iter().copied().chain(*b"2521").chain(d[..2].iter().copied())) == 1
}

/// The category of a run of digits that is a domestic account number.
pub(super) fn domestic(d: &[u8]) -> Option<DataCategory> {
    (fr_rib(d) || es_ccc(d) || pt_nib(d) || pl_nrb(d)).then_some(DataCategory::Iban)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domestic_formats_validate() {
        assert!(fr_rib(b"30006000011234567890189"));
        assert!(!fr_rib(b"30006000011234567890188"));
        assert!(es_ccc(b"21000418450200051332"));
        assert!(!es_ccc(b"21000418460200051332"));
        assert!(pt_nib(b"000201231234567890154"));
        assert!(!pt_nib(b"000201231234567890155"));
        assert!(pl_nrb(b"61109010140000071219812874"));
        assert!(!pl_nrb(b"61109010140000071219812875"));
        // timestamps and order numbers are not accounts
        assert!(domestic(b"17320975310001732097").is_none());
    }
}
