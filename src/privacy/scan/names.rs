//! Person names: after a role word or honorific, before an identity cue,
//! a known first name with a surname, or words echoed from an e-mail
//! local part of the same record.

use std::sync::OnceLock;

use super::{Cue, Detectors, FastSet, Found, RecordCtx, SpanKind, is_title, lexicon, words};
use crate::policy::DataCategory;

static NAMES: OnceLock<FastSet<&'static str>> = OnceLock::new();

/// The first-name gazetteer (see `first_names.LICENSE.md`).
pub fn first_names() -> &'static FastSet<&'static str> {
    NAMES.get_or_init(|| {
        let mut set: FastSet<&'static str> = include_str!("../first_names.txt")
            .lines()
            .filter(|l| !l.is_empty() && !lexicon::not_names().contains(l))
            .collect();
        // written without their accents too, as URLs and file names do
        // (`malgorzata-zajac`, `inigo`): built once, kept for the process
        let folded: Vec<String> =
            set.iter().filter(|n| !n.is_ascii()).map(|n| fold(n)).filter(|f| f.is_ascii()).collect();
        for f in folded {
            if !set.contains(f.as_str()) && !lexicon::not_names().contains(&f.as_str()) {
                set.insert(Box::leak(f.into_boxed_str()));
            }
        }
        set
    })
}

impl Detectors {
    pub(super) fn names(
        &self,
        text: &str,
        lt: &str,
        toks: &[(usize, usize)],
        cues: &[(usize, usize, Cue)],
        rec: &RecordCtx,
        out: &mut Vec<Found>,
    ) {
        if toks.is_empty() {
            return;
        }
        // whether each word may start a name, and the name run from it,
        // shared by the two passes over every word
        let runs: Vec<Option<usize>> = toks
            .iter()
            .enumerate()
            .map(|(k, &(s, e))| (is_title(&text[s..e]) && !not_name(&lt[s..e])).then(|| name_run(text, lt, toks, k)))
            .collect();
        let t = Toks { text, lt, toks, runs: &runs };
        after_role_cues(&t, cues, out);
        before_identity_cues(&t, cues, out);
        gazetteer_and_echo(&t, rec, out);
    }
}

/// The scanned text, its same-length lower-case copy and its word tokens.
struct Toks<'a> {
    /// The text as written (case decides what a name is).
    text: &'a str,
    /// Lower case at the same byte offsets, for the word-list lookups.
    lt: &'a str,
    /// Byte ranges of the words, shared by every heuristic.
    toks: &'a [(usize, usize)],
    /// Per word that may start a name (capitalised, not a word that is
    /// never a name): the last word of its name run.
    runs: &'a [Option<usize>],
}

impl Toks<'_> {
    /// Token `k` as written.
    fn word(&self, k: usize) -> &str {
        &self.text[self.toks[k].0..self.toks[k].1]
    }

    /// Token `k` in lower case.
    fn lower(&self, k: usize) -> &str {
        &self.lt[self.toks[k].0..self.toks[k].1]
    }

    /// Tokens `a..=z` as one name span.
    fn push(&self, out: &mut Vec<Found>, a: usize, z: usize) {
        let (start, end) = (self.toks[a].0, self.toks[z].1);
        out.push(Found { start, end, kind: SpanKind::Data(DataCategory::Name), norm: self.text[start..end].to_owned() })
    }
}

/// (a) A name after a role word or honorific ("client M. Dupont").
fn after_role_cues(t: &Toks, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
    let (text, lt, toks) = (t.text, t.lt, t.toks);
    for &(_, e, kind) in cues {
        if kind != Cue::Person {
            continue;
        }
        let Some(k) = toks.iter().position(|t| t.0 >= e) else {
            continue;
        };
        let gap = &text[e..toks[k].0];
        // `Vorname:   Sabine` (a scanned form's spacing)
        let label = gap.len() <= 8 && matches!(gap.trim(), "" | ":");
        if !label && (gap.len() > 3 || gap.contains(['.', ',', ';', '(', ')']) && !gap.trim().is_empty()) {
            continue;
        }
        // skip titles after the role word ("client M. Dupont", "Herr Dr. Weber")
        let mut k = k;
        while k + 1 < toks.len()
            && words().honorific.contains(t.lower(k))
            && text[toks[k].1..toks[k + 1].0].trim_start_matches('.').trim().is_empty()
        {
            k += 1;
        }
        let w = t.word(k);
        let lw = t.lower(k);
        // "Client DUPONT Jean": a capitalised surname first is fine when a name follows
        let caps_start = is_caps(w, lw)
            && toks.get(k + 1).is_some_and(|n| {
                let (nw, nl) = (&text[n.0..n.1], &lt[n.0..n.1]);
                &text[toks[k].1..n.0] == " " && (is_title(nw) || is_caps(nw, nl))
            });
        if (is_title(w) || caps_start) && !not_name(lw) {
            let z = name_run(text, lt, toks, k);
            t.push(out, k, z);
        }
    }
}

/// (a') Two or more capitalised words followed by a comma or bracket and a
/// birth, identity, address or phone cue ("Ana Lima, born ...", "Jan
/// Kowalski (PESEL ...)"), or by an e-mail in angle brackets.
fn before_identity_cues(t: &Toks, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
    let (text, toks) = (t.text, t.toks);
    let mut k = 0;
    while k < toks.len() {
        let Some(z) = t.runs[k] else {
            k += 1;
            continue;
        };
        if z == k {
            k += 1;
            continue;
        }
        let end = toks[z].1;
        let rest = &text[end..];
        let opener = rest.starts_with(", ") || rest.starts_with(" (") || rest.starts_with(" <");
        let email_follows = (rest.starts_with(" <") || rest.starts_with(" ("))
            && rest[2..].split(['>', ')']).next().is_some_and(|x| x.contains('@') && !x.contains(' '));
        let cue_follows = opener
            && cues.iter().any(|c| {
                c.0 >= end + 2
                    && c.0 <= end + 24
                    && matches!(c.2, Cue::Birth | Cue::Id | Cue::IdStrong | Cue::Address | Cue::Phone)
            });
        if email_follows || cue_follows {
            t.push(out, k, z);
        }
        k = z + 1;
    }
}

/// (b) A known first name followed by a capitalised surname, and (c) words
/// echoed from an e-mail local part of the same record.
fn gazetteer_and_echo(t: &Toks, rec: &RecordCtx, out: &mut Vec<Found>) {
    let (text, toks) = (t.text, t.toks);
    let names = first_names();
    let mut k = 0;
    while k < toks.len() {
        let Some(z) = t.runs[k] else {
            k += 1;
            continue;
        };
        let lw = t.lower(k);
        let first_part = lw.split('-').next().unwrap_or("");
        // "August", "Will": only mid-sentence ("von August Rädel")
        let mid_sentence = k > 0
            && t.word(k - 1).chars().next().is_some_and(char::is_lowercase)
            && text[toks[k - 1].1..toks[k].0] == *" ";
        let known =
            (names.contains(lw) || names.contains(first_part)) && (mid_sentence || !words().ambiguous.contains(lw));
        let echoed = echo(lw, rec);
        let surname_follows = z > k;
        if (known && surname_follows) || (echoed && (surname_follows || known)) {
            // pull in a capitalised word just before (an echoed surname's first name)
            let mut a = k;
            if echoed && !known && a > 0 && &text[toks[a - 1].1..toks[a].0] == " " && t.runs[a - 1].is_some() {
                a -= 1;
            }
            t.push(out, a, z);
            k = z + 1;
            continue;
        }
        if echoed && !surname_follows {
            t.push(out, k, k);
        }
        k += 1;
    }
}

fn echo(lw: &str, rec: &RecordCtx) -> bool {
    if rec.local_parts.is_empty() || lw.chars().count() < 3 {
        return false;
    }
    let f = fold(lw);
    rec.local_parts.iter().any(|lp| lp.contains(f.as_str()))
}

/// Letters of an e-mail local part, folded, when it may name a person.
pub fn local_part_letters(local: &str) -> Option<String> {
    let letters: String = if local.is_ascii() {
        // ASCII: folding is lower-casing
        local.bytes().filter(u8::is_ascii_alphabetic).map(|b| char::from(b.to_ascii_lowercase())).collect()
    } else {
        fold(&local.to_lowercase()).chars().filter(char::is_ascii_alphabetic).collect()
    };
    if letters.len() < 3 || lexicon::generic_local().contains(&letters.as_str()) { None } else { Some(letters) }
}

/// Lower-case ASCII folding of common Latin letters (é → e, ł → l, ß → ss).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'ă' => out.push('a'),
            'ç' | 'ć' | 'č' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' | 'ń' | 'ň' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' | 'ű' | 'ů' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ł' => out.push('l'),
            'ś' | 'š' | 'ș' | 'ş' => out.push('s'),
            'ź' | 'ż' | 'ž' => out.push('z'),
            'ř' => out.push('r'),
            'ț' | 'ţ' => out.push('t'),
            'đ' | 'ď' => out.push('d'),
            'ß' => out.push_str("ss"),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// A capitalised word that cannot start a name here.
fn not_name(lw: &str) -> bool {
    let ws = words();
    ws.street.contains(lw) || ws.not_surname.contains(lw)
}

/// A capitalised word that cannot continue a name (street words can:
/// "Estrada", "Place" are surnames too).
fn not_surname(lw: &str) -> bool {
    words().not_surname.contains(lw)
}

/// A surname written in capitals (`DUPONT`), as French and Belgian forms do.
fn is_caps(w: &str, lw: &str) -> bool {
    w.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && !w.chars().any(char::is_lowercase)
        && !lexicon::acronyms().contains(&lw)
}

/// Extends a name from token `k` over capitalised words and particles
/// separated by single spaces; returns the last capitalised token.
fn name_run(text: &str, lt: &str, toks: &[(usize, usize)], k: usize) -> usize {
    let mut last = k;
    let mut j = k;
    let mut count = 1;
    while j + 1 < toks.len() && count < 5 {
        let sep = &text[toks[j].1..toks[j + 1].0];
        if sep != " " {
            break;
        }
        let w = &text[toks[j + 1].0..toks[j + 1].1];
        let lw = &lt[toks[j + 1].0..toks[j + 1].1];
        if (is_title(w) || is_caps(w, lw)) && !not_surname(lw) {
            last = j + 1;
        } else if !words().particles.contains(w) {
            break;
        }
        j += 1;
        count += 1;
    }
    last
}

/// The card holder of magnetic-stripe track 1 data (`%B<PAN>^KOCH/UWE^2710…`):
/// the field between the two carets after a 12-19 digit account number.
pub(super) fn track_holder(text: &str, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(k) = b[from..].iter().position(|&c| c == b'^') {
        let caret = from + k;
        from = caret + 1;
        let digits = b[..caret].iter().rev().take_while(|c| c.is_ascii_digit()).count();
        if !(12..=19).contains(&digits) {
            continue;
        }
        let Some(len) = b[caret + 1..].iter().position(|&c| c == b'^') else { return };
        let field = &text[caret + 1..caret + 1 + len];
        let letters = field.chars().filter(|c| c.is_alphabetic()).count();
        if (2..=40).contains(&len)
            && letters >= 2
            && field.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '/' | '.' | '-' | '\''))
        {
            let start = caret + 1;
            out.push(Found {
                start,
                end: start + len,
                kind: SpanKind::Data(DataCategory::Name),
                norm: field.to_owned(),
            });
        }
        from = caret + 1 + len + 1;
    }
}
