//! Word lists of the privacy detectors, kept as data files under
//! `lexicon/` and compiled into the binary with `include_str!`: one entry
//! per line, in file order; blank lines and lines starting with `#` are
//! comments. Each list is split into lines once, on first use. Adding a
//! word means editing a `.txt` file, not code.

use std::sync::OnceLock;

/// The entries of a list file, in file order.
pub(crate) fn entries(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#'))
}

macro_rules! lists {
    ($($(#[$doc:meta])* $name:ident => $file:literal;)*) => {
        $(
            $(#[$doc])*
            pub(crate) fn $name() -> &'static [&'static str] {
                static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
                LIST.get_or_init(|| entries(include_str!(concat!("lexicon/", $file))).collect())
            }
        )*

        /// Every list, by file name (for the lexicon tests).
        #[cfg(test)]
        pub(crate) fn all() -> Vec<(&'static str, &'static [&'static str])> {
            vec![$(($file, $name())),*]
        }
    };
}

lists! {
    /// Cue words and phrases with their kind (`<kind> <phrase>`), parsed by
    /// the scanner.
    cue_lines => "cues.txt";
    /// Cue words of the identifier families and role checks, appended to
    /// `cues.txt` (same format).
    id_cue_lines => "id_cues.txt";
    /// Words skipped between an identifier's cue and its value (`number`, `n°`).
    cue_fillers => "cue_fillers.txt";
    /// Social-media sites whose URL paths name accounts.
    social_domains => "social_domains.txt";
    /// Name particles (`van`, `de`): part of a name, never one alone.
    particles => "particles.txt";
    /// Capitalised words that are never part of a person's name here.
    not_names => "not_names.txt";
    /// First names that are more often something else at the start of a
    /// sentence (`May`, `Will`): names only after a cue or mid-sentence.
    ambiguous_first => "ambiguous_first.txt";
    /// Street-type words (standalone) across EU languages.
    street_words => "street_words.txt";
    /// Suffixes of compound street names (`Roseweg`, `Köhlergasse`).
    street_suffixes => "street_suffixes.txt";
    /// Month-word prefixes for dates written with a month name.
    months => "months.txt";
    /// Generic mailbox names that are not people.
    generic_local => "generic_local.txt";
    /// Titles skipped between a role word and the name (`Herr Dr. Weber`).
    honorifics => "honorifics.txt";
    /// Upper-case words that are not surnames.
    acronyms => "acronyms.txt";
    /// Consumer mail providers: an address there belongs to a person.
    consumer_mail_domains => "consumer_mail_domains.txt";
    /// Query keys that usually carry a phone number without saying "phone".
    phone_hint_keys => "phone_hint_keys.txt";
    /// Attribute key words that name attacker infrastructure.
    attacker_key_words => "attacker_key_words.txt";
    /// BIP-39 mnemonic words of six languages (recovery phrases).
    seed_words => "seed_words.txt";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_clean() {
        for (file, list) in all() {
            assert!(!list.is_empty(), "{file} is empty");
            for e in list {
                assert_eq!(e.trim(), *e, "{file}: entry with outer whitespace");
            }
        }
    }
}
