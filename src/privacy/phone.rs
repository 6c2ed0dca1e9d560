//! Phone numbers of the EU/EEA member states, the UK and Switzerland.
//!
//! An honest table instead of libphonenumber (the `phonenumber` crate's
//! metadata build is heavy for the hot path and the 2-core build budget):
//! per country the calling code, the lengths of the national significant
//! number (NSN), whether national dialling uses a trunk prefix, and the
//! leading digits of mobile numbers. Sources: the ITU-T E.164 national
//! numbering plans as summarised in libphonenumber's metadata. It validates
//! lengths and prefixes, not every allocated range.

/// One numbering plan.
struct Plan {
    /// Calling code, without `+`.
    cc: &'static str,
    /// Shortest and longest national significant number.
    nsn: (usize, usize),
    /// National trunk prefix (`0` in most countries, `8` in Lithuania,
    /// `06` in Hungary), empty when there is none.
    trunk: &'static str,
    /// Leading digits of mobile NSNs (used when no cue word is near).
    mobile: &'static [&'static str],
    /// Mobile NSN length.
    mobile_len: (usize, usize),
}

const PLANS: &[Plan] = &[
    Plan { cc: "43", nsn: (4, 13), trunk: "0", mobile: &["65", "66", "67", "68", "69"], mobile_len: (10, 13) },
    Plan { cc: "32", nsn: (8, 9), trunk: "0", mobile: &["4"], mobile_len: (9, 9) },
    Plan { cc: "359", nsn: (7, 9), trunk: "0", mobile: &["87", "88", "89", "98"], mobile_len: (9, 9) },
    Plan { cc: "385", nsn: (8, 9), trunk: "0", mobile: &["9"], mobile_len: (8, 9) },
    Plan { cc: "357", nsn: (8, 8), trunk: "", mobile: &["9"], mobile_len: (8, 8) },
    Plan { cc: "420", nsn: (9, 9), trunk: "", mobile: &["6", "7"], mobile_len: (9, 9) },
    Plan { cc: "45", nsn: (8, 8), trunk: "", mobile: &["2", "3", "4", "5", "6", "7", "8", "9"], mobile_len: (8, 8) },
    Plan { cc: "372", nsn: (7, 8), trunk: "", mobile: &["5", "8"], mobile_len: (7, 8) },
    Plan { cc: "358", nsn: (5, 12), trunk: "0", mobile: &["4", "50"], mobile_len: (6, 10) },
    Plan { cc: "33", nsn: (9, 9), trunk: "0", mobile: &["6", "7"], mobile_len: (9, 9) },
    Plan { cc: "49", nsn: (6, 13), trunk: "0", mobile: &["15", "16", "17"], mobile_len: (10, 11) },
    Plan { cc: "30", nsn: (10, 10), trunk: "", mobile: &["69"], mobile_len: (10, 10) },
    Plan { cc: "36", nsn: (8, 9), trunk: "06", mobile: &["20", "30", "31", "50", "70"], mobile_len: (9, 9) },
    Plan { cc: "353", nsn: (7, 9), trunk: "0", mobile: &["8"], mobile_len: (9, 9) },
    Plan { cc: "39", nsn: (6, 11), trunk: "", mobile: &["3"], mobile_len: (9, 10) },
    Plan { cc: "371", nsn: (8, 8), trunk: "", mobile: &["2"], mobile_len: (8, 8) },
    Plan { cc: "370", nsn: (8, 8), trunk: "8", mobile: &["6"], mobile_len: (8, 8) },
    Plan { cc: "352", nsn: (4, 11), trunk: "", mobile: &["6"], mobile_len: (9, 9) },
    Plan { cc: "356", nsn: (8, 8), trunk: "", mobile: &["7", "9"], mobile_len: (8, 8) },
    Plan { cc: "31", nsn: (9, 9), trunk: "0", mobile: &["6"], mobile_len: (9, 9) },
    Plan { cc: "48", nsn: (9, 9), trunk: "", mobile: &["5", "6", "7", "8"], mobile_len: (9, 9) },
    Plan { cc: "351", nsn: (9, 9), trunk: "", mobile: &["9"], mobile_len: (9, 9) },
    Plan { cc: "40", nsn: (9, 9), trunk: "0", mobile: &["7"], mobile_len: (9, 9) },
    Plan { cc: "421", nsn: (9, 9), trunk: "0", mobile: &["9"], mobile_len: (9, 9) },
    Plan { cc: "386", nsn: (8, 8), trunk: "0", mobile: &["3", "4", "5", "6", "7"], mobile_len: (8, 8) },
    Plan { cc: "34", nsn: (9, 9), trunk: "", mobile: &["6", "7"], mobile_len: (9, 9) },
    Plan { cc: "46", nsn: (7, 10), trunk: "0", mobile: &["7"], mobile_len: (9, 9) },
    Plan { cc: "44", nsn: (9, 10), trunk: "0", mobile: &["7"], mobile_len: (10, 10) },
    Plan { cc: "41", nsn: (9, 9), trunk: "0", mobile: &["7"], mobile_len: (9, 9) },
    Plan { cc: "47", nsn: (8, 8), trunk: "", mobile: &["4", "9"], mobile_len: (8, 8) },
    Plan { cc: "354", nsn: (7, 7), trunk: "", mobile: &["6", "7", "8"], mobile_len: (7, 7) },
    Plan { cc: "423", nsn: (7, 7), trunk: "", mobile: &["7"], mobile_len: (7, 7) },
];

/// How sure the caller is that the digits are a phone number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// A cue word (`tel.`, `joignable au`, `erreichbar unter`...) or a
    /// phone-named key is right before it.
    Cue,
    /// Digit groups separated by spaces, dots, dashes or slashes.
    Grouped,
    /// Bare digits with nothing around them.
    Bare,
}

/// Decides whether `digits` (ASCII digits only; `plus` when written with `+`
/// or `00`) is a phone number. International numbers need a valid calling
/// code of the table and a fitting length, or any code when written with
/// `+` and 8–15 digits. National numbers need stronger evidence the weaker
/// their shape: bare digits only when they are a trunk-prefixed mobile.
pub fn is_phone(digits: &str, plus: bool, ev: Evidence) -> bool {
    let n = digits.len();
    if plus {
        for p in PLANS {
            if let Some(nsn) = digits.strip_prefix(p.cc) {
                // "+44 (0) 20..." written with the trunk digit
                let nsn = if !p.trunk.is_empty() && nsn.starts_with(p.trunk) && nsn.len() > p.nsn.1 {
                    &nsn[p.trunk.len()..]
                } else {
                    nsn
                };
                return (p.nsn.0..=p.nsn.1).contains(&nsn.len());
            }
        }
        return (8..=15).contains(&n) && !digits.starts_with('0');
    }
    if !(7..=13).contains(&n) {
        return false;
    }
    let mut national = false;
    let mut mobile = false;
    for p in PLANS {
        let nsn = if p.trunk.is_empty() {
            if digits.starts_with('0') && p.cc != "39" {
                continue;
            }
            digits
        } else if let Some(rest) = digits.strip_prefix(p.trunk) {
            rest
        } else {
            continue;
        };
        if (p.nsn.0..=p.nsn.1).contains(&nsn.len()) {
            national = true;
            if (p.mobile_len.0..=p.mobile_len.1).contains(&nsn.len())
                && p.mobile.iter().any(|m| nsn.starts_with(m))
                && (!p.trunk.is_empty() || ev != Evidence::Bare)
            {
                mobile = true;
            }
        }
    }
    match ev {
        Evidence::Cue => national || (8..=12).contains(&n),
        Evidence::Grouped => mobile || (national && n >= 9 && digits.starts_with('0')),
        Evidence::Bare => mobile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Evidence::*;

    #[test]
    fn international_numbers_of_member_states() {
        for n in [
            "33612345678",   // FR
            "4915123456789", // DE
            "393391234567",  // IT
            "34612345678",   // ES
            "31612345678",   // NL
            "48512345678",   // PL
            "32470123456",   // BE
            "351912345678",  // PT
            "447911123456",  // UK
            "436641234567",  // AT
            "35312345678",   // IE
            "37061234567",   // LT (8-digit NSN)
        ] {
            assert!(is_phone(n, true, Bare), "{n}");
        }
        assert!(!is_phone("3361234", true, Bare), "too short for FR");
        assert!(!is_phone("336123456789", true, Bare), "too long for FR");
    }

    #[test]
    fn national_numbers_need_evidence() {
        // trunk-prefixed mobiles are phones even bare
        assert!(is_phone("0612345678", false, Bare)); // FR/NL
        assert!(is_phone("01521234567", false, Bare)); // DE
        assert!(is_phone("07911123456", false, Bare)); // UK
        assert!(is_phone("0470123456", false, Bare)); // BE
        // no trunk prefix: need grouping or a cue
        assert!(!is_phone("612345678", false, Bare));
        assert!(is_phone("612345678", false, Grouped)); // ES "612 34 56 78"
        assert!(is_phone("3391234567", false, Grouped)); // IT "339 123 4567"
        assert!(is_phone("512345678", false, Cue)); // PL after "tel."
        // landlines grouped with the trunk digit
        assert!(is_phone("0140203040", false, Grouped)); // FR Paris
        assert!(is_phone("0301234567", false, Grouped)); // DE Berlin
    }

    #[test]
    fn reference_numbers_are_not_phones() {
        assert!(!is_phone("1234567890", false, Bare));
        assert!(!is_phone("2026112010", false, Grouped)); // a date glued to a time
        assert!(!is_phone("123456", false, Cue)); // too short
        assert!(!is_phone("1250000000", false, Grouped));
    }
}
