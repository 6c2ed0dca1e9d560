//! Postal addresses: the clause after an address cue, or a street word
//! with a house number, extended over a postcode and a city.

use super::{Cue, Detectors, Found, SpanKind, ceil_boundary, has_digit, is_title, lexicon, tokens, words};
use crate::policy::DataCategory;
use crate::privacy::vocab;

impl Detectors {
    pub(super) fn addresses(
        &self,
        text: &str,
        lt: &str,
        toks: &[(usize, usize)],
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) {
        let from = out.len();
        // 1. after an address cue: to the end of the clause
        after_address_cues(text, cues, out);
        // 2. a street-type word with a house number near it
        if has_digit(text.as_bytes()) {
            for k in 0..toks.len() {
                if let Some((start, end)) = self
                    .street_at(text, lt, toks, k)
                    .or_else(|| locality_at(text, lt, toks, k))
                    .or_else(|| place_number_postcode(text, toks, k))
                {
                    out.push(Found { start, end, kind: SpanKind::Data(DataCategory::Address), norm: String::new() });
                }
            }
        }
        // `<Addr>Piazza Cavour 106, 80134 Napoli</Addr>`: no address holds a `<`
        for f in &mut out[from..] {
            if let Some(k) = text[f.start..f.end].find('<') {
                f.end = f.start + text[f.start..f.start + k].trim_end_matches([' ', ',']).len();
            }
        }
        out.retain(|f| f.end > f.start);
    }

    /// The address around token `k` when it is a street word (`rue`,
    /// `Roseweg`) with a house number after or before it.
    fn street_at(&self, text: &str, lt: &str, toks: &[(usize, usize)], k: usize) -> Option<(usize, usize)> {
        let b = text.as_bytes();
        let (ts, te) = toks[k];
        let w = &text[ts..te];
        let lw = &lt[ts..te];
        let standalone = self.streets.contains(lw);
        // `Anrufer`, `Monitoring`, `Ausweg`: a word of the vocabulary that
        // merely ends like a street is no street, unless the ending is one
        // only streets have (`Hauptstraße`, `Kerkstraat`)
        let compound = !standalone
            && is_title(w)
            && street_suffix(lw)
            && (strong_suffix(lw) || vocab::vocab().flags_of(lw) & (vocab::LOWER | vocab::NOUN | vocab::SECURITY) == 0);
        // a street word glued to digits is no street word (`1st`, `GA119PL`)
        if ts > 0 && b[ts - 1].is_ascii_alphanumeric() {
            return None;
        }
        if !standalone && !compound {
            return None;
        }
        // a standalone word needs a capitalised street name or a number after it
        let after = {
            let mut i = te;
            if i < b.len() && b[i] == b'.' {
                i += 1;
            }
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            i
        };
        if standalone {
            // in capitals (`61 CHEMIN DES VIGNES` of a payment's address
            // lines) the next word in capitals counts as its name
            let caps = |t: &str| t.len() >= 2 && t.bytes().all(|c| c.is_ascii_uppercase());
            let next_ok = toks.get(k + 1).is_some_and(|&(ns, ne)| ns == after && is_title(&text[ns..ne]))
                || toks.get(k + 1).is_some_and(|&(ns, ne)| {
                    ns == after && (lexicon::particles().contains(&&text[ns..ne]) || caps(w) && caps(&text[ns..ne]))
                });
            if !next_ok {
                return None;
            }
        }
        // a house number within 60 bytes, before the clause ends
        let limit = clause_end(text, after, 60);
        let num = house_number_after(b, after, limit);
        // or a house number right before ("93, rue Denis", "12 Rue X")
        let before = house_number_before(b, ts);
        let end = match (num, before) {
            (Some(n), _) => n,
            (None, Some(_)) => {
                // street name runs to the next comma or clause end
                let mut j = te;
                while j < limit && b[j] != b',' {
                    j += 1;
                }
                j
            }
            (None, None) => return None,
        };
        Some((before.unwrap_or(ts), extend_postcode_city(text, end)))
    }
}

/// Spans from the end of each address cue to the end of its clause.
fn after_address_cues(text: &str, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
    let b = text.as_bytes();
    for &(_, e, kind) in cues {
        if kind != Cue::Address {
            continue;
        }
        let mut i = e;
        while i < b.len() && matches!(b[i], b' ' | b':') {
            i += 1;
        }
        for prep in ["at ", "in ", "en ", "te ", "à ", "au ", "op ", "aan ", "em ", "a ", "w "] {
            if text[i..].starts_with(prep) {
                i += prep.len();
                break;
            }
        }
        // `Bitte bestätigen Sie Ihre Adresse: https://…`: a link, no address
        if ["http", "hxxp", "www."].iter().any(|p| text[i..].starts_with(p)) {
            continue;
        }
        let start = i;
        let end = clause_end(text, start, 160);
        if end > start {
            out.push(Found { start, end, kind: SpanKind::Data(DataCategory::Address), norm: String::new() });
        }
    }
}

/// End of the first house number (`12`, `12b`, `3/5`) in `after..limit`,
/// if the first number there is short enough to be one.
fn house_number_after(b: &[u8], after: usize, limit: usize) -> Option<usize> {
    let mut i = after.max(1);
    while i < limit {
        if b[i].is_ascii_digit() && (b[i - 1] == b' ' || b[i - 1] == b',') {
            let mut j = i;
            while j < b.len()
                && (b[j].is_ascii_digit()
                    || matches!(b[j], b'/' | b'-') && b.get(j + 1).is_some_and(u8::is_ascii_digit))
            {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_alphabetic() && !b.get(j + 1).is_some_and(u8::is_ascii_alphabetic) {
                j += 1;
            }
            return if j - i <= 8 { Some(j) } else { None };
        }
        i += 1;
    }
    None
}

/// Start of a house number right before the street word at `ts`
/// (`93, rue Denis`, `12b Rue X`).
fn house_number_before(b: &[u8], ts: usize) -> Option<usize> {
    let mut j = ts;
    while j > 0 && matches!(b[j - 1], b' ' | b',') {
        j -= 1;
    }
    let mut d = j;
    while d > 0
        && (b[d - 1].is_ascii_digit() || b[d - 1].is_ascii_alphabetic() && d == j && d > 1 && b[d - 2].is_ascii_digit())
    {
        d -= 1;
    }
    // not the end of a time or a longer number (`13:19:00Z via`, `1.5 rue`)
    let free = d == 0 || !(b[d - 1].is_ascii_alphanumeric() || matches!(b[d - 1], b':' | b'.' | b'/' | b'-'));
    if d < j && j - d <= 5 && free && b[d].is_ascii_digit() && b[d] != b'0' { Some(d) } else { None }
}

/// True when a lower-case word ends with a street suffix and has at least
/// three letters before it (`roseweg`, `köhlergasse`, `suzelaan`).
fn street_suffix(lw: &str) -> bool {
    let ws = words();
    (2..=9).any(|n| lw.len() > n + 2 && lw.is_char_boundary(lw.len() - n) && ws.suffixes.contains(&lw[lw.len() - n..]))
}

/// Endings only street names have.
fn strong_suffix(lw: &str) -> bool {
    ["straße", "strasse", "str.", "gasse", "straat", "allee", "chaussee", "steeg", "laan"]
        .iter()
        .any(|s| lw.ends_with(s))
}

/// End of the clause starting at `from`: a full stop followed by a space and
/// a capital letter, a semicolon, a closing bracket, or `max` bytes.
fn clause_end(text: &str, from: usize, max: usize) -> usize {
    let b = text.as_bytes();
    let limit = (from + max).min(b.len());
    let mut i = from;
    while i < limit {
        match b[i] {
            b';' | b')' | b'|' => break,
            // a form's next field (`\nIP: …`, `\nUser-Agent: …`)
            b'\n' if labelled_line(&b[i + 1..]) => break,
            b'.' => {
                let mut j = i + 1;
                while j < b.len() && b[j] == b' ' {
                    j += 1;
                }
                if j >= b.len() || (j > i + 1 && (b[j].is_ascii_uppercase() || b[j] >= 0x80)) {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut end = ceil_boundary(text, i);
    while end > from && matches!(b[end - 1], b' ' | b',') {
        end -= 1;
    }
    end
}

/// A place name, a house number and a dashed or spaced postcode with its
/// city, no street word (`Zagórze 7 34-120 Andrychów`, `Kerkpad 3 1234 AB
/// Ede`): villages and hamlets have no streets.
fn place_number_postcode(text: &str, toks: &[(usize, usize)], k: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let (ts, te) = toks[k];
    if b.get(te) != Some(&b' ') || !b.get(te + 1).is_some_and(u8::is_ascii_digit) || !is_title(&text[ts..te]) {
        return None;
    }
    let mut j = te + 1;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    if j - te - 1 > 4 {
        return None;
    }
    if j < b.len() && b[j].is_ascii_alphabetic() && !b.get(j + 1).is_some_and(u8::is_ascii_alphabetic) {
        j += 1;
    }
    // the postcode: one of the forms with a joint (`34-120`, `1234-567`, `1234 AB`)
    let ps = j + 1;
    if b.get(j) != Some(&b' ') || !b.get(ps).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut pe = ps;
    while pe < b.len() && (b[pe].is_ascii_alphanumeric() || (matches!(b[pe], b'-' | b' ') && pe - ps < 5)) {
        pe += 1;
        if pe - ps > 8 {
            break;
        }
    }
    let code = text[ps..pe].trim_end();
    if !(code.contains('-') || code.contains(' ')) || !is_postcode(code) {
        return None;
    }
    let end = extend_postcode_city(text, j);
    (end > ps + code.len()).then_some((ts, end))
}

/// The line starts with a form label: up to 32 letters, spaces, `/` or
/// `-` and a colon (`CP/Ville:`, `User-Agent:`, `IP:`).
fn labelled_line(b: &[u8]) -> bool {
    let n = b
        .iter()
        .take(33)
        .take_while(|c| c.is_ascii_alphabetic() || matches!(c, b' ' | b'/' | b'-' | b'_') || **c >= 0x80)
        .count();
    n > 0 && b.get(n) == Some(&b':')
}

/// After a house number: `, 75001 Paris`, `, 1722DJ, Waspik`, `, 32-075 Malbork`,
/// `, W8D 4RU`, `(CN)`.
fn extend_postcode_city(text: &str, end: usize) -> usize {
    let b = text.as_bytes();
    let mut best = end;
    let mut i = end;
    // "Apt. 99", "Piano 7", "Puerta 9"
    for unit in [" Apt. ", " Apt ", " Piano ", " Puerta ", " Appartamento ", " Bus ", " bte ", " m. "] {
        if text[i..].starts_with(unit) {
            let mut j = i + unit.len();
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + unit.len() {
                i = j;
                best = j;
            }
            break;
        }
    }
    for _ in 0..3 {
        let mut j = i;
        while j < b.len() && matches!(b[j], b' ' | b',') {
            j += 1;
        }
        if j == i || j >= b.len() {
            break;
        }
        let ps = j;
        while j < b.len()
            && (b[j].is_ascii_alphanumeric()
                || (matches!(b[j], b'-' | b' ') && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) && j - ps < 5))
        {
            j += 1;
        }
        let tok = &text[ps..j];
        let has_digit = tok.bytes().any(|c| c.is_ascii_digit());
        let postcode = has_digit && is_postcode(tok);
        let city = !has_digit && tokens(tok).first().is_some_and(|t| is_title(&tok[t.0..t.1]));
        if postcode || city {
            // a city runs over capitalised words
            let mut k = ps;
            if city || (j < b.len() && b[j] == b' ') {
                let toks = tokens(&text[ps..clause_end(text, ps, 48)]);
                for t in toks {
                    let w = &text[ps + t.0..ps + t.1];
                    // "Castelnau-le-Lez", not a reference such as "OP-DEC"
                    if is_title(w)
                        || lexicon::particles().contains(&w)
                        || (w.contains('-') && w.chars().any(char::is_lowercase))
                    {
                        k = ps + t.1;
                    } else {
                        break;
                    }
                }
            }
            i = j.max(k);
            best = i;
            if j < b.len()
                && b[j] == b' '
                && b.get(j + 1) == Some(&b'(')
                && let Some(close) = text[j..].find(')')
                && close < 6
            {
                i = j + close + 1;
                best = i;
            }
        } else {
            break;
        }
    }
    ceil_boundary(text, best)
}

/// Places named without a street-type word: DE `Am`/`Im` (capitalised,
/// with a postcode after the number), FR résidence/lieu-dit/hameau, IT
/// località/frazione, ES urbanización, PT lugar/quinta, PL locative
/// `przy`/`na osiedlu`; EN house names (`Rose Cottage`) with a postcode.
const LOCALITY: &[&str] = &[
    "résidence",
    "residence",
    "lieu-dit",
    "lieudit",
    "hameau",
    "località",
    "localita",
    "loc",
    "frazione",
    "fraz",
    "urbanización",
    "urbanizacion",
    "urb",
    "lugar",
    "quinta",
    "urbanização",
    "urbanizacao",
    "bairro",
    "przy",
    "osiedlu",
    "ulicy",
    "alei",
    "placu",
    "buurtschap",
];
const HOUSE: &[&str] =
    &["cottage", "house", "farm", "lodge", "barn", "manor", "grange", "rectory", "vicarage", "villa", "farmhouse"];

/// First bytes of the words of [`LOCALITY`] and [`HOUSE`].
fn locality_first() -> &'static [bool; 256] {
    static FIRST: std::sync::OnceLock<[bool; 256]> = std::sync::OnceLock::new();
    FIRST.get_or_init(|| {
        let mut f = [false; 256];
        for w in LOCALITY.iter().chain(HOUSE) {
            f[usize::from(w.as_bytes()[0])] = true;
        }
        f
    })
}

/// [`LOCALITY`] and [`HOUSE`] as one set: one hash probe per token.
fn locality_words() -> &'static super::FastSet<&'static str> {
    static SET: std::sync::OnceLock<super::FastSet<&'static str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| LOCALITY.iter().chain(HOUSE).copied().collect())
}

/// The address around token `k` when it names a place without a street
/// word (see [`LOCALITY`]).
fn locality_at(text: &str, lt: &str, toks: &[(usize, usize)], k: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let (ts, te) = toks[k];
    let w = &text[ts..te];
    let lw = &lt[ts..te];
    let am = w == "Am" || w == "Im";
    // the first byte of a word of LOCALITY or HOUSE: most tokens stop here
    if !am && !locality_first()[usize::from(lw.as_bytes()[0])] {
        return None;
    }
    if !am && !locality_words().contains(lw) {
        return None;
    }
    let house = HOUSE.contains(&lw) && is_title(w) && k > 0 && is_title(&text[toks[k - 1].0..toks[k - 1].1]);
    if !am && !house && !LOCALITY.contains(&lw) {
        return None;
    }
    let start = if house { toks[k - 1].0 } else { ts };
    // the place name: capitalised words and particles after the word
    let mut end = te;
    if !house {
        let mut j = k + 1;
        while j < toks.len() && j <= k + 5 {
            let (ns, ne) = toks[j];
            let gap = &text[end..ns];
            let word = &text[ns..ne];
            if gap.len() > 3 || gap.contains([',', ';']) {
                break;
            }
            if !(is_title(word) || lexicon::particles().contains(&word)) {
                break;
            }
            end = ne;
            j += 1;
        }
        if end == te {
            return None;
        }
    }
    let limit = clause_end(text, end, 24);
    let num = house_number_after(b, end, limit);
    let after = extend_postcode_city(text, num.unwrap_or(end));
    let postcode = text[num.unwrap_or(end)..after].bytes().any(|c| c.is_ascii_digit());
    let ok = if am || house { postcode } else { num.is_some() || postcode };
    ok.then_some((start, after.max(num.unwrap_or(end))))
}

/// The postal code after its cue (`PLZ 80331 München`, `postcode 10115`,
/// `CAP: 20121`), and the city after it, as an address.
pub(super) fn postcode_after_cue(text: &str, e: usize, out: &mut Vec<Found>) {
    let Some((i, _)) = super::after_cue::value_start(text, e) else {
        return;
    };
    let b = text.as_bytes();
    // the code: letters, digits, one inner space or dash (`NR21 0JB`, `1017 GC`)
    let mut j = i;
    while j < b.len()
        && (b[j].is_ascii_alphanumeric()
            || (matches!(b[j], b' ' | b'-') && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) && j - i < 5))
    {
        j += 1;
    }
    let mut tok = &text[i..j];
    // a space-joined second part that is no postcode half (`80331 München`)
    if !is_postcode(tok)
        && let Some((a, _)) = tok.split_once(' ')
    {
        tok = a;
    }
    if !tok.bytes().any(|c| c.is_ascii_digit())
        || !(is_postcode(tok) || (3..=7).contains(&tok.len()) && tok.bytes().all(|c| c.is_ascii_digit()))
    {
        return;
    }
    let end = extend_postcode_city(text, i + tok.len());
    out.push(Found { start: i, end, kind: SpanKind::Data(DataCategory::Address), norm: String::new() });
}

/// A postal code of the EU/UK forms: `75001`, `1017 GC`, `4050-262`,
/// `00-950`, `NR21 0JB`, `D-12345`; not a reference such as `OP-DEC071`.
fn is_postcode(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let upper = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_uppercase);
    match t.split_once(['-', ' ']) {
        None => digits(b) && (4..=5).contains(&b.len()) || (b.len() == 6 && digits(&b[..4]) && upper(&b[4..])),
        Some((a, z)) => {
            let (a, z) = (a.as_bytes(), z.as_bytes());
            (digits(a) && digits(z) && (a.len(), z.len()) == (4, 3))          // PT
                || (digits(a) && digits(z) && (a.len(), z.len()) == (2, 3))   // PL
                || (digits(a) && digits(z) && (a.len(), z.len()) == (3, 2))   // CZ, SK, SE, GR
                || (upper(a) && a.len() == 3 && digits(z) && z.len() == 4)    // MT
                || (digits(a) && a.len() == 4 && upper(z) && z.len() == 2)    // NL
                || (a.len() <= 2 && upper(a) && digits(z) && (4..=5).contains(&z.len())) // D-12345
                || (uk_outward(a) && z.len() == 3 && z[0].is_ascii_digit() && upper(&z[1..])) // UK
        }
    }
}

/// The outward half of a UK postcode: `NR21`, `W8D`, `M1`, `SW1A`.
fn uk_outward(a: &[u8]) -> bool {
    (2..=4).contains(&a.len())
        && a[0].is_ascii_uppercase()
        && a.iter().any(u8::is_ascii_digit)
        && a.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}
