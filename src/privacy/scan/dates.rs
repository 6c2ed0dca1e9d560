//! Dates, reported only as birth dates (after a birth cue, or a full day of
//! the last century).

use std::sync::OnceLock;

use regex::Regex;

use super::{Candidate, Cue, Detectors, Found, SpanKind, bounded, ceil_boundary, lexicon};
use crate::policy::DataCategory;

impl Detectors {
    pub(super) fn date(&self, c: &Candidate, out: &mut Vec<Found>) {
        if !c.bounded() {
            return;
        }
        let raw = c.raw();
        // month-name form: the word must be a month
        if raw.bytes().any(|c| c.is_ascii_alphabetic() || c >= 0x80) && !has_month(raw) && !roman_month(raw) {
            // not a date: the digits may still be something else
            return;
        }
        let year = raw.split(|c: char| !c.is_ascii_digit()).find(|p| p.len() == 4).unwrap_or("");
        if !c.scope.phone_key && (c.cue_before(Cue::Birth, 40) || last_century_day(c, raw, year)) {
            out.push(c.span(c.start, c.end_char()).found(DataCategory::DateOfBirth, year.to_owned()));
        }
    }

    /// The forms the candidate pattern does not propose, right after a birth
    /// cue: two-digit and apostrophe years (`12.03.85`, `3 Mar '85`),
    /// `5 de mayo de 1980`, ordinals (`March 3rd, 1985`, `the 3rd of March`),
    /// `12-Mar-1985`, `19850312`.
    pub(super) fn birth_dates(&self, text: &str, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
        for &(cs, e, kind) in cues {
            if kind != Cue::Birth {
                continue;
            }
            // German and Dutch put the participle last: `am 12. Mai geboren`
            if let Some(f) = day_before(text, cs) {
                out.push(f);
            }
            if let Some(f) = name_before_birth(text, cs) {
                out.push(f);
            }
            if let Some(f) = year_or_day_after(text, e) {
                out.push(f);
            }
            let end = ceil_boundary(text, (e + 72).min(text.len()));
            let Some(m) = birth_date_at(&text[e..end]).or_else(|| day_month_re().find(&text[e..end])) else {
                continue;
            };
            let (s, mut me) = (e + m.start(), e + m.end());
            // an ISO timestamp given as a birth date (`1987-03-14T00:00:00Z`)
            me = iso_time_after(text, me);
            // the date starts within a few words of the cue
            if m.start() > 28 || !bounded(text.as_bytes(), s, me) {
                continue;
            }
            let raw = m.as_str();
            if !only_month_words(raw) {
                continue;
            }
            let year = raw.split(|c: char| !c.is_ascii_digit()).find(|p| p.len() == 4).unwrap_or("");
            out.push(Found {
                start: s,
                end: me,
                kind: SpanKind::Data(DataCategory::DateOfBirth),
                norm: if year.len() == 4 { year.to_owned() } else { String::new() },
            });
        }
    }
}

/// The end of an ISO time glued to a date ending at `e` (`T00:00:00Z`,
/// `T00:00:00.000+02:00`), or `e` when there is none.
fn iso_time_after(text: &str, e: usize) -> usize {
    let b = text.as_bytes();
    if b.get(e) != Some(&b'T') || !b.get(e + 1).is_some_and(u8::is_ascii_digit) {
        return e;
    }
    let mut i = e + 1;
    while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b':' | b'.' | b'+' | b'-' | b'Z')) {
        i += 1;
    }
    // a sentence's full stop after the time is not part of it
    while i > e + 1 && b[i - 1] == b'.' {
        i -= 1;
    }
    i
}

/// True when the letters of `raw` hold a month word (first three letters
/// of a word of `months.txt`), ordinal suffixes and "de"/"of" aside.
fn has_month(raw: &str) -> bool {
    raw.split(|c: char| !c.is_alphabetic()).filter(|w| w.chars().count() >= 3).any(|w| {
        let p: String = w.chars().take(3).flat_map(char::to_lowercase).collect();
        lexicon::months().contains(&p.as_str())
    })
}

/// True when the letters of `raw` are one Roman month (`12.VII.1949`,
/// `3 III 1961`), as Polish, Italian and Portuguese forms write it.
fn roman_month(raw: &str) -> bool {
    let mut words = raw.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty());
    let roman = words.next().is_some_and(|w| {
        matches!(w, "I" | "II" | "III" | "IV" | "V" | "VI" | "VII" | "VIII" | "IX" | "X" | "XI" | "XII")
    });
    roman && words.next().is_none()
}

/// A day of the last century with no time after it (`02/11/1942`,
/// `12.VII.1949`, `3 March 1961`, `1984/11/21`): in the notes an exchange
/// carries the incidents, registrations and certificates are of this
/// century, and a full day in the 1900s is a person's birth date, cue or
/// not. Stamps with a time stay (`1992-06-19 22:22:17`, as PE compile
/// stamps print): they are machine dates.
fn last_century_day(c: &Candidate, raw: &str, year: &str) -> bool {
    if !year.starts_with("19") || !(raw.ends_with(year) || raw.starts_with(year)) {
        return false;
    }
    // `01.01.1970 00:00`, `1/1/1970T`: a clock follows
    let after = &c.text[c.end_char()..];
    let after = after.trim_start_matches([' ', ',']);
    let clock = after.starts_with('T')
        || after.bytes().take_while(u8::is_ascii_digit).count() >= 1
            && after.trim_start_matches(|ch: char| ch.is_ascii_digit()).starts_with(':');
    !clock
}

/// True when every word of `raw` is a month word or a filler (`the`,
/// `de`, `of`, ordinal suffixes).
fn only_month_words(raw: &str) -> bool {
    const FILLER: &[&str] =
        &["the", "le", "el", "il", "am", "em", "op", "dnia", "on", "of", "de", "st", "nd", "rd", "th", "er"];
    raw.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).all(|w| {
        let l = w.to_lowercase();
        FILLER.contains(&l.as_str()) || has_month(w)
    })
}

/// The date of [`birth_re`] (its group 1) in `hay`. A plain search finds
/// it; only a match that begins with one of the optional lead words (`the`,
/// `am`, `on`...) needs the slower capture search to tell where the date
/// starts.
fn birth_date_at(hay: &str) -> Option<regex::Match<'_>> {
    let m = birth_re().find(hay)?;
    let lead = m.as_str().split(|c: char| !c.is_alphabetic()).next().unwrap_or("");
    if LEADS.iter().any(|l| l.eq_ignore_ascii_case(lead)) {
        return birth_re().captures(hay).and_then(|c| c.get(1));
    }
    // no lead word: the group is the whole match
    Some(m)
}

/// Words that may stand before a birth date (`the 3rd of March`, `am
/// 12.03.1985`), outside the date itself.
const LEADS: &[&str] = &["the", "le", "el", "il", "am", "em", "op", "dnia", "on"];

/// A day and a month (with or without a year) that ends right before the
/// birth cue at `cs`, only spaces between (`am 12. Mai geboren`, `op 3 mei
/// 1950 geboren`).
fn day_before(text: &str, cs: usize) -> Option<Found> {
    let from = cs.saturating_sub(32);
    let from = (from..cs).find(|&i| text.is_char_boundary(i))?;
    let hay = &text[from..cs];
    let tail = hay.trim_end();
    if tail.len() == hay.len() {
        return None;
    }
    // `3 mei 1950`: the year after the month belongs to the date
    let year = tail.len() >= 5
        && tail.as_bytes()[tail.len() - 5] == b' '
        && tail.as_bytes()[tail.len() - 4..].iter().all(u8::is_ascii_digit);
    let body = if year { &tail[..tail.len() - 5] } else { tail };
    let m = day_month_re().find_iter(body).last().filter(|m| m.end() == body.len())?;
    let (s, e) = (from + m.start(), from + tail.len());
    if !only_month_words(&text[s..e]) || !bounded(text.as_bytes(), s, e) {
        return None;
    }
    let norm = if year { text[e - 4..e].to_owned() } else { String::new() };
    Some(Found { start: s, end: e, kind: SpanKind::Data(DataCategory::DateOfBirth), norm })
}

/// Words that may stand between a birth cue and a bare year or numeric
/// date: prepositions, articles, copulas, the victim or customer named
/// (`Geboortedatum van het slachtoffer: 1972`, `data de nascimento da
/// vítima: 5/2021`).
const BIRTH_LEADS: &[&str] = &[
    "in",
    "en",
    "em",
    "nel",
    "im",
    "w",
    "op",
    "no",
    "ano",
    "anno",
    "year",
    "jahr",
    "roku",
    "het",
    "jaar",
    "l'an",
    "de",
    "del",
    "da",
    "della",
    "des",
    "der",
    "la",
    "le",
    "van",
    "is",
    "was",
    "ist",
    "est",
    "es",
    "è",
    "é",
    "to",
    "the",
    "victim",
    "victim's",
    "victime",
    "víctima",
    "vítima",
    "vittima",
    "slachtoffer",
    "ofiary",
    "opfers",
    "kunden",
    "kundin",
    "klienta",
    "cliente",
    "client",
    "customer",
    "customer's",
];

/// A birth year alone (`Jahrgang 1947`, `born in 1953`, `née en 1953`,
/// `rocznik 1947`, `ur. w 1947 r.`) or a numeric date without a full
/// year (`ur. 3.08`, `geb. 12.3.`, `05/2021`, `5/21/21`) right after a
/// birth cue: lead words aside, nothing but spaces or a colon between.
fn year_or_day_after(text: &str, e: usize) -> Option<Found> {
    let i = after_leads(text, e);
    year_at(text, i).or_else(|| numeric_date_at(text, i)).or_else(|| month_at(text, i))
}

/// A month alone right after a birth cue (`date of birth May`, `DOB März`).
fn month_at(text: &str, i: usize) -> Option<Found> {
    let w = text[i..].split(|c: char| !c.is_alphabetic()).next().unwrap_or("");
    let n = w.chars().count();
    ((3..=10).contains(&n) && has_month(w)).then(|| Found {
        start: i,
        end: i + w.len(),
        kind: SpanKind::Data(DataCategory::DateOfBirth),
        norm: String::new(),
    })
}

/// Where the value after a cue ending at `e` starts, past spaces, colons
/// and at most 32 bytes of [`BIRTH_LEADS`].
fn after_leads(text: &str, e: usize) -> usize {
    let b = text.as_bytes();
    let mut i = e;
    loop {
        while i < b.len() && matches!(b[i], b' ' | b':' | b'\t') {
            i += 1;
        }
        let w = text[i..].split(|c: char| !(c.is_alphabetic() || c == '\'')).next().unwrap_or("");
        if w.is_empty() || i - e > 32 || !BIRTH_LEADS.iter().any(|l| l.eq_ignore_ascii_case(w)) {
            return i;
        }
        i += w.len();
    }
}

/// A year of 1900–2029 at `i`, not the start of a longer number or a date
/// (`1947-03`).
fn year_at(text: &str, i: usize) -> Option<Found> {
    let b = text.as_bytes();
    if b[i..].iter().take_while(|c| c.is_ascii_digit()).count() != 4 {
        return None;
    }
    let y = &text[i..i + 4];
    let n: u32 = y.parse().ok()?;
    let next = b.get(i + 4).copied();
    if !(1900..=2029).contains(&n) || next.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'/')) {
        return None;
    }
    Some(Found { start: i, end: i + 4, kind: SpanKind::Data(DataCategory::DateOfBirth), norm: y.to_owned() })
}

/// `3.08`, `12.3.`, `05/2021`, `5/21/21` at `i`: two or three numbers
/// joined by one separator that read as a day, a month and maybe a year.
fn numeric_date_at(text: &str, i: usize) -> Option<Found> {
    let b = text.as_bytes();
    let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&digits) {
        return None;
    }
    let sep = *b.get(i + digits)?;
    if !matches!(sep, b'.' | b'/' | b'-') {
        return None;
    }
    let mut groups = [&text[i..i + digits], "", ""];
    let mut n = 1;
    let mut end = i + digits;
    while n < 3 && b.get(end) == Some(&sep) {
        let j = end + 1;
        let len = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 {
            break;
        }
        groups[n] = &text[j..j + len];
        n += 1;
        end = j + len;
    }
    if sep == b'.' && b.get(end) == Some(&b'.') && n == 2 && !b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let num = |g: &str| g.parse::<u32>().unwrap_or(0);
    let small = |g: &str| g.len() <= 2 && (1..=31).contains(&num(g));
    let year = |g: &str| g.len() == 2 || (g.len() == 4 && (1900..=2029).contains(&num(g)));
    let ok = match groups[..n] {
        [a, z] => small(a) && (small(z) && num(a).min(num(z)) <= 12 || z.len() == 4 && year(z) && num(a) <= 12),
        [a, m, y] => small(a) && small(m) && num(a).min(num(m)) <= 12 && year(y),
        _ => false,
    };
    let glued = b.get(end).is_some_and(|c| {
        c.is_ascii_alphanumeric() || matches!(c, b'.' | b'/' | b'-') && b.get(end + 1).is_some_and(u8::is_ascii_digit)
    });
    (ok && !glued).then(|| Found {
        start: i,
        end,
        kind: SpanKind::Data(DataCategory::DateOfBirth),
        norm: String::new(),
    })
}

/// A day and a month word with no year (`nato il 3 agosto`, `née en 1953,
/// le 9 octobre`, `born 3rd of March`): after a birth cue, a birthday.
fn day_month_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"\b[0-3]?[0-9](?:st|nd|rd|th|er|º|°|\.)?(?:\s+of|\s+de)?[\s\-]+\p{L}{3,10}\b",
            // `May 1st`, `May-21`, `May-2021`
            r"|\b\p{L}{3,10}\.?[\s\-]+(?:[0-3]?[0-9](?:st|nd|rd|th)?|(?:19|20)[0-9]{2})\b"
        ))
        .expect("static pattern")
    })
}

fn birth_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let day = r"(?:[0-3]?[0-9])(?:st|nd|rd|th|er|º|°|\.)?";
        let year = r"(?:[0-9]{4}|['’]?[0-9]{2})";
        let month = r"\p{L}{3,10}\.?";
        let leads = LEADS.join("|");
        let pattern = format!(
            r"(?i)(?:(?:{leads})\s+)?((?:{day}(?:\s+of|\s+de)?[\s./\-]+(?:{month}|[0-3]?[0-9])(?:\s+de|,)?[\s./\-]+{year}|{month}\s+{day},?\s+{year}|[0-9]{{4}}[\-/.][01]?[0-9][\-/.][0-3]?[0-9]|(?:19|20)[0-9]{{2}}[01][0-9][0-3][0-9]))"
        );
        Regex::new(&pattern).expect("static pattern")
    })
}

/// Two capitalised words right before a birth cue in brackets or after a
/// comma (`EVANGELISTA Rommel (geb. 01/04/1980)`, `Nguyen Van, born`): the
/// person born, whatever the lists know of the words (a name the gazetteer
/// lacks, SURNAME first). One word alone (`Customer (born 1960)`) is not
/// taken.
fn name_before_birth(text: &str, cs: usize) -> Option<Found> {
    let b = text.as_bytes();
    let mut i = cs;
    // `(geb.`, `, born`, `, né`: a bracket or a comma between name and cue
    while i > 0 && b[i - 1] == b' ' {
        i -= 1;
    }
    if i == 0 || !matches!(b[i - 1], b'(' | b',') {
        return None;
    }
    i -= 1;
    while i > 0 && b[i - 1] == b' ' {
        i -= 1;
    }
    let end = i;
    let word_at = |e: usize| -> Option<usize> {
        let w = text[..e]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_alphabetic() || c == '-' || c == '\''))
            .map_or(0, |(p, c)| p + c.len_utf8());
        let word = &text[w..e];
        let first = word.chars().next()?;
        (first.is_uppercase() && word.chars().filter(|c| c.is_alphabetic()).count() >= 2).then_some(w)
    };
    let second = word_at(end)?;
    if second == 0 || b[second - 1] != b' ' {
        return None;
    }
    let first = word_at(second - 1)?;
    Some(Found { start: first, end, kind: SpanKind::Data(DataCategory::Name), norm: String::new() })
}
