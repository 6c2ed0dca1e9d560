//! Numbers and words spelled out: a phone or account number read aloud to a
//! caller and noted as heard (`oh seven seven double four, nine one two`,
//! `null eins sieben eins`, `zéro six, douze, quarante-sept`). No detector
//! sees digits there, and every word is a word of the vocabulary.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{Build, Class, Judged, Verdict};

/// Number words of the eight languages with the digits each stands for
/// when a number is read out (`seven` 1, `forty` 2, `sześćset` 3). Written
/// for tamis. `double`/`triple` count as one more digit each.
const WORDS: &[(&str, u8)] = &[
    // en
    ("zero", 1),
    ("oh", 1),
    ("one", 1),
    ("two", 1),
    ("three", 1),
    ("four", 1),
    ("five", 1),
    ("six", 1),
    ("seven", 1),
    ("eight", 1),
    ("nine", 1),
    ("ten", 2),
    ("eleven", 2),
    ("twelve", 2),
    ("thirteen", 2),
    ("fourteen", 2),
    ("fifteen", 2),
    ("sixteen", 2),
    ("seventeen", 2),
    ("eighteen", 2),
    ("nineteen", 2),
    ("twenty", 2),
    ("thirty", 2),
    ("forty", 2),
    ("fifty", 2),
    ("sixty", 2),
    ("seventy", 2),
    ("eighty", 2),
    ("ninety", 2),
    ("hundred", 3),
    ("double", 1),
    ("triple", 2),
    // de
    ("null", 1),
    ("eins", 1),
    ("zwei", 1),
    ("zwo", 1),
    ("drei", 1),
    ("vier", 1),
    ("fünf", 1),
    ("sechs", 1),
    ("sieben", 1),
    ("acht", 1),
    ("neun", 1),
    ("zehn", 2),
    ("elf", 2),
    ("zwölf", 2),
    ("dreizehn", 2),
    ("vierzehn", 2),
    ("fünfzehn", 2),
    ("sechzehn", 2),
    ("siebzehn", 2),
    ("achtzehn", 2),
    ("neunzehn", 2),
    ("zwanzig", 2),
    ("dreißig", 2),
    ("vierzig", 2),
    ("fünfzig", 2),
    ("sechzig", 2),
    ("siebzig", 2),
    ("achtzig", 2),
    ("neunzig", 2),
    ("hundert", 3),
    ("doppel", 1),
    ("doppelt", 1),
    // fr
    ("zéro", 1),
    ("un", 1),
    ("une", 1),
    ("deux", 1),
    ("trois", 1),
    ("quatre", 1),
    ("cinq", 1),
    ("sept", 1),
    ("huit", 1),
    ("neuf", 1),
    ("dix", 2),
    ("onze", 2),
    ("douze", 2),
    ("treize", 2),
    ("quatorze", 2),
    ("quinze", 2),
    ("seize", 2),
    ("vingt", 2),
    ("vingts", 2),
    ("trente", 2),
    ("quarante", 2),
    ("cinquante", 2),
    ("soixante", 2),
    ("septante", 2),
    ("huitante", 2),
    ("nonante", 2),
    ("cent", 3),
    ("cents", 3),
    // es
    ("cero", 1),
    ("uno", 1),
    ("una", 1),
    ("dos", 1),
    ("tres", 1),
    ("cuatro", 1),
    ("cinco", 1),
    ("seis", 1),
    ("siete", 1),
    ("ocho", 1),
    ("nueve", 1),
    ("diez", 2),
    ("once", 2),
    ("doce", 2),
    ("trece", 2),
    ("catorce", 2),
    ("quince", 2),
    ("dieciséis", 2),
    ("diecisiete", 2),
    ("dieciocho", 2),
    ("diecinueve", 2),
    ("veinte", 2),
    ("treinta", 2),
    ("cuarenta", 2),
    ("cincuenta", 2),
    ("sesenta", 2),
    ("setenta", 2),
    ("ochenta", 2),
    ("noventa", 2),
    ("cien", 3),
    ("ciento", 3),
    ("doscientos", 3),
    ("trescientos", 3),
    ("cuatrocientos", 3),
    ("quinientos", 3),
    ("seiscientos", 3),
    ("setecientos", 3),
    ("ochocientos", 3),
    ("novecientos", 3),
    ("doble", 1),
    // it
    ("uno", 1),
    ("due", 1),
    ("tre", 1),
    ("quattro", 1),
    ("cinque", 1),
    ("sei", 1),
    ("sette", 1),
    ("otto", 1),
    ("nove", 1),
    ("tré", 1),
    ("dieci", 2),
    ("undici", 2),
    ("dodici", 2),
    ("tredici", 2),
    ("quattordici", 2),
    ("quindici", 2),
    ("sedici", 2),
    ("diciassette", 2),
    ("diciotto", 2),
    ("diciannove", 2),
    ("venti", 2),
    ("trenta", 2),
    ("quaranta", 2),
    ("cinquanta", 2),
    ("sessanta", 2),
    ("settanta", 2),
    ("ottanta", 2),
    ("novanta", 2),
    ("cento", 3),
    ("doppio", 1),
    // nl
    ("nul", 1),
    ("een", 1),
    ("één", 1),
    ("twee", 1),
    ("drie", 1),
    ("vijf", 1),
    ("zes", 1),
    ("zeven", 1),
    ("negen", 1),
    ("tien", 2),
    ("twaalf", 2),
    ("dertien", 2),
    ("veertien", 2),
    ("vijftien", 2),
    ("zestien", 2),
    ("zeventien", 2),
    ("achttien", 2),
    ("negentien", 2),
    ("twintig", 2),
    ("dertig", 2),
    ("veertig", 2),
    ("vijftig", 2),
    ("zestig", 2),
    ("zeventig", 2),
    ("tachtig", 2),
    ("negentig", 2),
    ("honderd", 3),
    ("dubbel", 1),
    // pl
    ("jeden", 1),
    ("jedna", 1),
    ("dwa", 1),
    ("dwie", 1),
    ("trzy", 1),
    ("cztery", 1),
    ("pięć", 1),
    ("sześć", 1),
    ("siedem", 1),
    ("osiem", 1),
    ("dziewięć", 1),
    ("dziesięć", 2),
    ("jedenaście", 2),
    ("dwanaście", 2),
    ("trzynaście", 2),
    ("czternaście", 2),
    ("piętnaście", 2),
    ("szesnaście", 2),
    ("siedemnaście", 2),
    ("osiemnaście", 2),
    ("dziewiętnaście", 2),
    ("dwadzieścia", 2),
    ("trzydzieści", 2),
    ("czterdzieści", 2),
    ("pięćdziesiąt", 2),
    ("sześćdziesiąt", 2),
    ("siedemdziesiąt", 2),
    ("osiemdziesiąt", 2),
    ("dziewięćdziesiąt", 2),
    ("sto", 3),
    ("dwieście", 3),
    ("trzysta", 3),
    ("czterysta", 3),
    ("pięćset", 3),
    ("sześćset", 3),
    ("siedemset", 3),
    ("osiemset", 3),
    ("dziewięćset", 3),
    // pt
    ("um", 1),
    ("uma", 1),
    ("dois", 1),
    ("duas", 1),
    ("três", 1),
    ("quatro", 1),
    ("sete", 1),
    ("oito", 1),
    ("dez", 2),
    ("doze", 2),
    ("treze", 2),
    ("catorze", 2),
    ("quatorze", 2),
    ("dezasseis", 2),
    ("dezesseis", 2),
    ("dezassete", 2),
    ("dezessete", 2),
    ("dezoito", 2),
    ("dezanove", 2),
    ("dezenove", 2),
    ("vinte", 2),
    ("trinta", 2),
    ("quarenta", 2),
    ("sessenta", 2),
    ("oitenta", 2),
    ("cem", 3),
    ("duzentos", 3),
    ("trezentos", 3),
    ("quatrocentos", 3),
    ("quinhentos", 3),
    ("seiscentos", 3),
    ("setecentos", 3),
    ("oitocentos", 3),
    ("novecentos", 3),
    ("dobro", 1),
];

/// Words that join two number words (`trente et un`, `sesenta y uno`,
/// `vinte e dois`, `hundred and five`).
const JOINERS: &[&str] = &["and", "et", "y", "e", "i", "en", "und"];

/// Tens stems that glue a unit on (`ventitré`, `veintiuno`, `einundzwanzig`).
const GLUED_TENS: &[&str] =
    &["veinti", "venti", "vent", "trent", "quarant", "cinquant", "sessant", "settant", "ottant", "novant"];

/// The last two bytes of the tens words (the glued forms end in one).
fn tens_endings() -> &'static [[u8; 2]] {
    static E: OnceLock<Vec<[u8; 2]>> = OnceLock::new();
    E.get_or_init(|| {
        let mut e: Vec<[u8; 2]> = WORDS
            .iter()
            .filter(|(w, d)| *d == 2 && w.len() >= 2)
            .map(|(w, _)| [w.as_bytes()[w.len() - 2], w.as_bytes()[w.len() - 1]])
            .collect();
        e.sort_unstable();
        e.dedup();
        e
    })
}

fn words() -> &'static HashMap<&'static str, u8, Build> {
    static W: OnceLock<HashMap<&'static str, u8, Build>> = OnceLock::new();
    W.get_or_init(|| WORDS.iter().copied().collect())
}

/// The digits a chunk core stands for when read out, if it is a number
/// word, a compound of them (`quatre-vingt-dix-huit`, `ventitré`,
/// `einundzwanzig`) or a group of 1 to 4 digits.
fn digits_of(core: &str) -> Option<(u8, bool)> {
    if core.is_empty() || core.len() > 40 {
        return None;
    }
    if core.len() <= 4 && core.bytes().all(|b| b.is_ascii_digit()) {
        return Some((core.len() as u8, false));
    }
    // number words are written in lower case; one probe for the common case
    if core.bytes().any(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return None;
    }
    let w = words();
    if let Some(&d) = w.get(core) {
        return Some((d, true));
    }
    if core.contains('-') {
        let mut most = 0;
        for part in core.split('-') {
            match w.get(part) {
                Some(&d) => most = most.max(d),
                None if part == "et" => {}
                None => return None,
            }
        }
        return Some((most, true));
    }
    // `einundzwanzig`, `vierendertig`, `drieëntwintig`: the core ends as a
    // tens word does
    let tail = &core.as_bytes()[core.len().saturating_sub(2)..];
    if core.len() >= 7 && tens_endings().iter().any(|e| e == tail) {
        for glue in ["und", "en", "ën"] {
            for (at, _) in core.match_indices(glue) {
                let (unit, tens) = (&core[..at], &core[at + glue.len()..]);
                if w.get(unit).is_some_and(|&d| d == 1) && w.get(tens).is_some_and(|&d| d == 2) {
                    return Some((2, true));
                }
            }
        }
    }
    if core.len() >= 7
        && let Some(stem) = GLUED_TENS.iter().find(|s| core.starts_with(**s))
    {
        let unit = &core[stem.len()..];
        let unit = unit.trim_start_matches(['a', 'e', 'i']);
        if unit.chars().next().is_some() && WORDS.iter().any(|(u, d)| *d == 1 && *u == unit) {
            return Some((2, true));
        }
    }
    None
}

/// A run of number words and digit groups joined by spaces, commas or
/// joiners, standing for 7 digits or more, with three number words or one
/// among four parts or more, becomes `[NUMBER]` word by word.
pub(super) fn spoken_numbers(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, tally, .. } = j;
    let (text, chunks) = (*text, *chunks);
    if chunks.len() < 3 {
        return;
    }
    let core = |k: usize| &text[chunks[k].core.0..chunks[k].core.1];
    // between two parts of the run: spaces and at most one comma or semicolon
    let joined = |k: usize| {
        let gap = &text[chunks[k].core.1..chunks[k + 1].core.0];
        gap.bytes().all(|b| matches!(b, b' ' | b',' | b';')) && gap.bytes().filter(|b| *b != b' ').count() <= 1
    };
    let mut i = 0;
    while i < chunks.len() {
        // a run has three parts at least: when the third from here is no
        // number and no joiner, no run starts at `i`, `i + 1` or `i + 2`
        if i + 2 < chunks.len() && digits_of(core(i + 2)).is_none() && !JOINERS.contains(&core(i + 2)) {
            i += 3;
            continue;
        }
        let Some((d, word)) = digits_of(core(i)) else {
            i += 1;
            continue;
        };
        let (mut total, mut said, mut last) = (usize::from(d), usize::from(word), i);
        let mut k = i;
        while k + 1 < chunks.len() && joined(k) {
            let next = k + 1;
            if let Some((d, word)) = digits_of(core(next)) {
                total += usize::from(d);
                said += usize::from(word);
                last = next;
                k = next;
                continue;
            }
            // a joiner between two number words
            let joiner = JOINERS.contains(&core(next));
            if joiner && next + 1 < chunks.len() && joined(next) && digits_of(core(next + 1)).is_some_and(|x| x.1) {
                k = next;
                continue;
            }
            break;
        }
        // three number words, or one among digit groups (`07 quatre-vingt-dix-huit 12 34 56`)
        let parts = last + 1 - i;
        if total >= 7 && (said >= 3 || (said >= 1 && parts >= 4)) {
            for k in i..=last {
                if verdicts[k] != Verdict::Replaced {
                    tally.add(Class::Number);
                }
                verdicts[k] = Verdict::Replaced;
                rewritten[k] = Some(Class::Number.label().to_owned());
            }
        }
        i = last + 1;
    }
}

/// A word spelled out letter by letter on a call (`F E R R Á N D I Z`):
/// four capital letters or more, each alone, joined by single spaces,
/// become `[WORD]` letter by letter.
pub(super) fn spelled_words(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, tally, .. } = j;
    let (text, chunks) = (*text, *chunks);
    let letter = |k: usize| {
        let c = &chunks[k];
        // one character: at most four bytes
        if c.end - c.start > 4 {
            return false;
        }
        let mut cs = text[c.start..c.end].chars();
        cs.next().is_some_and(char::is_uppercase) && cs.next().is_none()
    };
    let joined = |k: usize| chunks[k + 1].start == chunks[k].end + 1;
    let mut i = 0;
    while i < chunks.len() {
        if !letter(i) {
            i += 1;
            continue;
        }
        let mut last = i;
        while last + 1 < chunks.len() && joined(last) && letter(last + 1) {
            last += 1;
        }
        if last >= i + 3 {
            for k in i..=last {
                if verdicts[k] != Verdict::Replaced {
                    tally.add(Class::Word);
                }
                verdicts[k] = Verdict::Replaced;
                rewritten[k] = Some(Class::Word.label().to_owned());
            }
        }
        i = last + 1;
    }
}
