//! Wallet recovery phrases (BIP-39 mnemonics) pasted into a note: twelve
//! to twenty-four plain words, each a word of the vocabulary, that open the
//! victim's wallet to whoever reads them.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::{Build, Class, Judged, VERY_COMMON, Verdict};
use crate::privacy::lexicon;

/// Consecutive mnemonic words that make a recovery phrase. Real phrases
/// have 12 to 24; notes split them over lines or quote half of one. Prose
/// does not string eight of them together: the lists hold no articles,
/// prepositions or auxiliaries.
const MIN_RUN: usize = 8;

fn seed_words() -> &'static HashSet<&'static str, Build> {
    static W: OnceLock<HashSet<&'static str, Build>> = OnceLock::new();
    W.get_or_init(|| lexicon::seed_words().iter().copied().collect())
}

/// Runs of at least [`MIN_RUN`] lower-case mnemonic words joined by single
/// spaces, three in four of them at least, become `[SECRET]`, word by word.
/// The run may end in punctuation.
pub(super) fn recovery_phrases(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, flags, tally } = j;
    let (text, chunks) = (*text, *chunks);
    if chunks.len() < MIN_RUN {
        return;
    }
    let set = seed_words();
    // Some(true): a mnemonic word; Some(false): another plain lower-case
    // word that is no very common word (a word misremembered or misheard)
    let member = |verdicts: &[Verdict], k: usize| {
        let w = &text[chunks[k].core.0..chunks[k].core.1];
        // a number read out (`seis uno dos`) was replaced already
        if verdicts[k] == Verdict::Replaced
            || !(3..=24).contains(&w.len())
            || w.bytes().any(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b.is_ascii_punctuation())
        {
            return None;
        }
        if set.contains(w) {
            return Some(true);
        }
        (w.chars().all(char::is_lowercase) && flags[k] & VERY_COMMON == 0).then_some(false)
    };
    // inside the run: nothing but one space between two words
    let joined = |k: usize| {
        chunks[k].core.1 == chunks[k].end
            && chunks[k + 1].core.0 == chunks[k + 1].start
            && chunks[k + 1].start == chunks[k].end + 1
    };
    let mut i = 0;
    'next: while i + MIN_RUN <= chunks.len() {
        // from the run's last word back: most texts fail on the first probe
        // and skip eight words at once
        let mut last = i + MIN_RUN - 1;
        let mut seeds = 0;
        for k in (i..=last).rev() {
            match member(verdicts, k) {
                Some(seed) if k == last || joined(k) => seeds += usize::from(seed),
                _ => {
                    i = k + 1;
                    continue 'next;
                }
            }
        }
        while last + 1 < chunks.len() && joined(last) {
            match member(verdicts, last + 1) {
                Some(seed) => seeds += usize::from(seed),
                None => break,
            }
            last += 1;
        }
        // three words in four at least are mnemonic words
        if seeds * 4 < (last + 1 - i) * 3 {
            i += 1;
            continue;
        }
        for k in i..=last {
            if verdicts[k] != Verdict::Replaced {
                tally.add(Class::Token);
            }
            verdicts[k] = Verdict::Replaced;
            rewritten[k] = Some(SECRET.to_owned());
        }
        i = last + 1;
    }
}

/// What a recovery phrase's words become.
const SECRET: &str = "[SECRET]";
