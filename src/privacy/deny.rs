//! Default-deny for free text (policy `default-deny`, docs/privacy.md).
//!
//! The detectors run first and keep their labels, pseudonyms and escrow.
//! What they leave is read token by token, and a token leaves only if it is
//! positively accounted for as non-personal:
//!
//! - a word of the general vocabulary of the eight languages ([`vocab`]):
//!   in lower case, or capitalised at the start of a sentence; mid-sentence
//!   a capitalised word needs more than a lower-case attestation (a German
//!   noun, a security or product word, a word the policy lists);
//! - a security word or phrase (malware, tool, actor names; ATT&CK, CVE,
//!   CWE ids);
//! - an indicator shape (domain, IP, hash, wallet, version, user agent,
//!   timestamp, date, time, amount, port, small number);
//! - a case or ticket reference matching a pattern of the policy.
//!
//! Everything else becomes a typed placeholder: `[WORD]` (an unknown word),
//! `[TOKEN]` (an unknown token mixing letters and digits), `[NUMBER]` (a
//! long number of no known shape), `[NAME]` (a first name joined to
//! another word: `anna.kowalska`, `Anna_Kowalska`, `AnnaKowalska`). A
//! capitalised word kept only because it is also a lower-case word is
//! replaced too when it stands next to a replaced capitalised word
//! (`Kowalska, Anna`, `ROSSI Mario`).
//!
//! Per token: a few byte tests and one or two hash probes; the policy's
//! reference patterns (one compiled alternation) are tried only on tokens
//! mixing letters and digits that no shape accounted for.

mod seeds;
mod spoken;
mod subjects;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr};

use regex::Regex;

use super::scan::{Fnv, encoded_word, first_names, has_digit};
use super::vocab::{COMMON, FREQ, HEAD, LOWER, NOUN, SECURITY, VERY_COMMON, vocab, with_lower};

/// What a replaced token was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A word no vocabulary accounts for.
    Word,
    /// Letters and digits of no known shape.
    Token,
    /// A long number of no known shape.
    Number,
    /// A first name joined to another word.
    Name,
    /// A date of the last century with a two-digit year (`23.10.72`): a
    /// birth date, no event of a threat report.
    Dob,
}

impl Class {
    pub const ALL: [Class; 5] = [Class::Word, Class::Token, Class::Number, Class::Name, Class::Dob];

    /// The placeholder written instead.
    pub fn label(self) -> &'static str {
        match self {
            Class::Word => "[WORD]",
            Class::Token => "[TOKEN]",
            Class::Number => "[NUMBER]",
            Class::Name => "[NAME]",
            Class::Dob => "[DOB]",
        }
    }

    /// The category in removal counts and explanations.
    pub fn category(self) -> &'static str {
        match self {
            Class::Word => "unknown-word",
            Class::Token => "unknown-token",
            Class::Number => "unknown-number",
            Class::Name => "name",
            Class::Dob => "date-of-birth",
        }
    }
}

/// How many tokens of each class one pass replaced.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally(pub [u32; 5]);

impl Tally {
    fn add(&mut self, c: Class) {
        self.0[c as usize] += 1;
    }

    fn sub(&mut self, c: Class) {
        self.0[c as usize] = self.0[c as usize].saturating_sub(1);
    }
}

type Build = std::hash::BuildHasherDefault<Fnv>;

/// The default-deny rules of one policy.
pub struct Deny {
    /// Case or ticket references (`ingest.deny.references`), anchored, one alternation.
    refs: Option<Regex>,
    /// Extra words of the deployment (`ingest.deny.words`), lower case.
    words: HashSet<String, Build>,
}

/// Where a token stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// First word of a sentence, a line, a list item or a parenthesis.
    Start,
    /// Inside a sentence.
    Mid,
    /// Inside a compound (`PowerShell`, `e-mail`): case says nothing.
    Inner,
}

/// What became of one whitespace-separated chunk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verdict {
    /// Kept, accounted for.
    Keep,
    /// Kept only as a lower-case word while written capitalised: replaced
    /// when it stands next to a replaced capitalised word.
    Weak,
    /// Replaced (the core is rewritten).
    Replaced,
    /// A replaced capitalised word or name: its weak neighbours go too.
    NameLike,
}

const CURRENCIES: &[&str] = &[
    "€", "$", "£", "eur", "euro", "euros", "usd", "gbp", "chf", "pln", "zł", "zl", "sek", "nok", "dkk", "czk", "huf",
    "ron", "btc", "eth", "xmr", "usdt", "złotych", "dollars", "kč", "kc", "ft", "forint", "lei", "leu", "bgn", "лв",
    "лв.", "лева", "eurot", "eurų", "eiro", "kr", "kr.", "kn", "isk", "₺", "try", "uah", "грн",
];

const FILE_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "rtf", "odt", "txt", "csv", "zip", "rar", "7z",
    "gz", "tar", "iso", "img", "vhd", "exe", "dll", "scr", "msi", "lnk", "js", "jse", "vbs", "vbe", "wsf", "hta",
    "ps1", "bat", "cmd", "jar", "apk", "ipa", "dmg", "pkg", "elf", "sh", "py", "html", "htm", "svg", "eml", "msg",
    "one", "jpg", "jpeg", "png", "gif", "php", "asp", "aspx", "jsp", "json", "xml", "log", "ini", "cfg", "dat", "bin",
    "tmp", "bak", "sql", "db", "mp3", "mp4", "wav", "ics", "vcf", "p12", "pfx", "pem", "key", "crt",
];

/// German formal address, capitalised mid-sentence ("Bitte bestätigen Sie
/// Ihre Daten"): pronouns, never a name.
const FORMAL: &[&str] = &["Sie", "Ihr", "Ihre", "Ihren", "Ihrem", "Ihrer", "Ihres", "Ihnen"];

/// Capitalised words that end the name of an organisation, not of a
/// person (`Aeza Group`, `Stark Industries Solutions`, `PQ Hosting`): a
/// hoster, registrar or provider named in a report stays.
const ORG_WORDS: &[&str] = &[
    "Group",
    "Groupe",
    "Gruppe",
    "Grupo",
    "Gruppo",
    "Groep",
    "Grupa",
    "Solutions",
    "Hosting",
    "Industries",
    "Networks",
    "Network",
    "Limited",
    "Holdings",
    "Holding",
    "Services",
    "Technologies",
    "Telecom",
    "Systems",
    "Communications",
    "Cloud",
    "Datacenter",
    "Internet",
    "Media",
    "Digital",
    "Software",
    "Labs",
    "Consulting",
    "Trading",
    "Ventures",
    "International",
    "Enterprises",
    "Corporation",
    "Ltd",
    "LLC",
    "Inc",
    "GmbH",
    "SARL",
    "SAS",
    "BV",
    "NV",
    "SpA",
    "Srl",
    "SRL",
    "LTD",
    "OÜ",
    "Host",
    "Servers",
    "Hosting-Services",
];

/// Units after a number (`12mb`, `3rd`, `14h`, `2x`).
const UNITS: &[&str] = &[
    "k", "m", "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "kbps", "mbps", "gbps", "ms", "s", "sec", "min", "h",
    "hrs", "d", "x", "px", "st", "nd", "rd", "th", "e", "er", "re", "eme", "ème", "º", "ª", "°", "°c", "ghz", "mhz",
    "bit", "bits", "%", "€", "$", "£", "eur", "usd", "pln", "zł", "chf", "gbp", "btc", "w", "kw", "v", "mm", "cm",
    "km", "kg", "g", "j", "t", "dni", "tage", "jours", "días", "giorni", "dias", "dagen", "r", "h.", "u", "uur", "p",
];

impl Deny {
    /// Compiles the reference patterns of a policy (already validated by
    /// the policy loader) and its extra words.
    pub fn new(references: &[String], words: &[String]) -> Result<Deny, regex::Error> {
        let refs = if references.is_empty() {
            None
        } else {
            let alt: Vec<String> = references.iter().map(|r| format!("(?:{r})")).collect();
            Some(Regex::new(&format!("(?i)^(?:{})$", alt.join("|")))?)
        };
        let _ = vocab();
        let _ = first_names();
        Ok(Deny { refs, words: words.iter().map(|w| w.to_lowercase()).collect() })
    }

    /// True when the word around `s..e` of `text` (a detector's finding
    /// inside it) is a case or ticket reference of the policy
    /// (`SIM-2025-437675`, `47/358031/24`): the finding is dropped, the
    /// reference stays.
    pub fn is_reference_at(&self, text: &str, s: usize, e: usize) -> bool {
        let Some(r) = &self.refs else { return false };
        let b = text.as_bytes();
        let sep = |c: u8| {
            is_ascii_space(c) || matches!(c, b',' | b';' | b'(' | b')' | b'"' | b'\'' | b'<' | b'>' | b'[' | b']')
        };
        let mut ws = s;
        while ws > 0 && !sep(b[ws - 1]) {
            ws -= 1;
        }
        let mut we = e;
        while we < b.len() && !sep(b[we]) {
            we += 1;
        }
        let w = text[ws..we].trim_end_matches(['.', ':', '!', '?']);
        w.len() <= 40 && w.bytes().any(|c| c.is_ascii_digit()) && r.is_match(w)
    }

    /// Default-deny over `text` (a stretch between detector findings),
    /// appended to `out`. `at_start`: the stretch begins a sentence.
    /// `single_value`: the whole field is one word (an attribute value or
    /// tag), where a capitalised word is not a sentence start.
    pub fn filter(&self, text: &str, at_start: bool, single_value: bool, out: &mut String, tally: &mut Tally) {
        let spaced = if text.is_ascii() {
            text.bytes().any(|b| is_ascii_space(b) || is_field_sep(b))
        } else {
            text.chars().any(|c| c.is_whitespace() || u8::try_from(c).is_ok_and(is_field_sep))
        };
        if !text.is_empty() && !spaced {
            self.filter_one(text, at_start, single_value, out, tally);
            return;
        }
        let chunks = chunk(text);
        if chunks.is_empty() {
            out.push_str(text);
            return;
        }
        let mut verdicts = Vec::with_capacity(chunks.len());
        let mut rewritten: Vec<Option<String>> = vec![None; chunks.len()];
        // each core's vocabulary flags and phrase-head bit: one probe, read
        // by the verdicts and by the passes after them
        let flags: Vec<u8> = chunks
            .iter()
            .map(|c| if c.core.0 == c.core.1 { 0 } else { vocab().lookup(&text[c.core.0..c.core.1]) })
            .collect();
        let mut i = 0;
        while i < chunks.len() {
            if flags[i] & HEAD != 0
                && let Some(n) = self.phrase_at(text, &chunks, i)
            {
                verdicts.extend(std::iter::repeat_n(Verdict::Keep, n));
                i += n;
                continue;
            }
            let c = &chunks[i];
            if c.core.0 == c.core.1 {
                verdicts.push(Verdict::Keep);
                i += 1;
                continue;
            }
            // the position only matters to a capitalised word
            let cap = text[c.core.0..].chars().next().is_some_and(char::is_uppercase);
            let start = cap
                && !single_value
                && ((i == 0 && at_start)
                    || starts_sentence(text, &chunks, i)
                    || in_field_label(text, &chunks, i)
                    || on_issuer_line(text, c.start));
            let pos = if start { Pos::Start } else { Pos::Mid };
            // the neighbour rules all read a number: a core without a digit
            // goes straight to its verdict
            if has_digit(&text.as_bytes()[c.core.0..c.core.1])
                && let Some(v) = number_rule(text, &chunks, i)
            {
                if v == Verdict::Replaced {
                    tally.add(Class::Token);
                    rewritten[i] = Some(Class::Token.label().to_owned());
                }
                verdicts.push(v);
                i += 1;
                continue;
            }
            let mut core = String::new();
            let v = self.judge_known(&text[c.core.0..c.core.1], pos, Some(flags[i] & !HEAD), &mut core, tally);
            if matches!(v, Verdict::Replaced | Verdict::NameLike) {
                rewritten[i] = Some(core);
            }
            verdicts.push(v);
            i += 1;
        }
        let mut judged = Judged { text, chunks: &chunks, verdicts, rewritten, flags, tally };
        self.revise(&mut judged, at_start);
        let mut last = 0;
        for (c, r) in chunks.iter().zip(&judged.rewritten) {
            if let Some(r) = r {
                out.push_str(&text[last..c.core.0]);
                out.push_str(r);
                last = c.core.1;
            }
        }
        out.push_str(&text[last..]);
    }

    /// The passes over the first verdicts that read chunks together (digit
    /// runs, spoken numbers, recovery phrases, plates, names next to names).
    fn revise(&self, judged: &mut Judged, at_start: bool) {
        // digit groups, card codes and plates all hold digits
        let numeric = has_digit(judged.text.as_bytes());
        if numeric {
            self.digit_runs(judged);
            card_codes(judged);
        }
        spoken::spoken_numbers(judged);
        spoken::spelled_words(judged);
        seeds::recovery_phrases(judged);
        if numeric {
            plates(judged);
        }
        extend_names(judged);
        company_names(judged);
        lower_case_names(judged);
        caps_names(judged);
        subjects::bare_subjects(judged, at_start);
    }

    /// [`Deny::filter`] over a text that is one chunk (a tag, an attribute
    /// value, a word between two findings): no phrase, no digit run and no
    /// neighbour to look at, so no chunk list either.
    fn filter_one(&self, text: &str, at_start: bool, single_value: bool, out: &mut String, tally: &mut Tally) {
        let (cs, ce) = core_of(text, 0, text.len());
        if cs == ce {
            out.push_str(text);
            return;
        }
        // a field holding only a time: its key says what it is
        if single_value && is_unix_time(&text[cs..ce]) {
            out.push_str(text);
            return;
        }
        // a password alone as a field's value: its closing symbol too
        if single_value && value_password(text) {
            tally.add(Class::Token);
            out.push_str(Class::Token.label());
            return;
        }
        if password_shape(&text[cs..ce], &text[ce..]) {
            tally.add(Class::Token);
            out.push_str(&text[..cs]);
            out.push_str(Class::Token.label());
            out.push_str(&text[ce..]);
            return;
        }
        let cap = text[cs..].chars().next().is_some_and(char::is_uppercase);
        // a chunk after an opening bracket or quote starts a sentence
        let pos = if cap && !single_value && (at_start || cs > 0) { Pos::Start } else { Pos::Mid };
        let mut core = String::new();
        match self.judge(&text[cs..ce], pos, &mut core, tally) {
            Verdict::Replaced | Verdict::NameLike => {
                out.push_str(&text[..cs]);
                out.push_str(&core);
                out.push_str(&text[ce..]);
            }
            Verdict::Keep | Verdict::Weak => out.push_str(text),
        }
    }

    /// The number of chunks from `i` forming a security phrase (2 to 4 words).
    fn phrase_at(&self, text: &str, chunks: &[Chunk], i: usize) -> Option<usize> {
        let first = &text[chunks[i].core.0..chunks[i].core.1];
        // the caller knows the word heads some phrase
        if !first.chars().next().is_some_and(char::is_alphanumeric) || i + 1 >= chunks.len() {
            return None;
        }
        thread_local! {
            /// The lower-case phrase being tried (one buffer per thread, not
            /// a string per word).
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        KEY.with_borrow_mut(|key| {
            key.clear();
            push_lower(key, first);
            let mut best = None;
            for n in 2..=4usize {
                let Some(c) = chunks.get(i + n - 1) else { break };
                // a phrase does not run over punctuation
                if chunks[i + n - 2].core.1 != chunks[i + n - 2].end || c.core.0 != c.start {
                    break;
                }
                key.push(' ');
                push_lower(key, &text[c.core.0..c.core.1]);
                if vocab().is_phrase(key) {
                    best = Some(n);
                }
            }
            best
        })
    }

    /// The verdict on one chunk core; a replaced core is written to `out`.
    fn judge(&self, core: &str, pos: Pos, out: &mut String, tally: &mut Tally) -> Verdict {
        self.judge_known(core, pos, None, out, tally)
    }

    /// [`Deny::judge`] with the core's vocabulary flags when the caller
    /// looked them up already.
    fn judge_known(&self, core: &str, pos: Pos, flags: Option<u8>, out: &mut String, tally: &mut Tally) -> Verdict {
        let flags = || flags.unwrap_or_else(|| vocab().flags_of(core));
        if core.chars().all(char::is_alphabetic) {
            return match self.word_known(core, pos, flags()) {
                Some(v) => v,
                // `Nr`, `Bestellnummer`, `Geburtsdatum`: the lexicon's cue
                // words and fillers are terms, not names
                // `Dr.`, `Mgr`, `Sig.ra`: a title names no one (the name after it is judged)
                None if is_filler(core)
                    || with_lower(core, |l| {
                        cue_words().contains(l)
                            // `Don`, `Sig` are first names too
                            || (super::lexicon::honorifics().contains(&l) && !first_names().contains(l))
                    })
                    || german_compound(core) =>
                {
                    Verdict::Keep
                }
                None => {
                    let c = Class::Word;
                    tally.add(c);
                    out.push_str(c.label());
                    if is_capitalised(core) || with_lower(core, |l| first_names().contains(l)) {
                        Verdict::NameLike
                    } else {
                        Verdict::Replaced
                    }
                }
            };
        }
        // a MIME encoded word (a mail subject, `=?UTF-8?B?…?=`): kept when
        // default-deny keeps every word of its decoded text, else a token
        if core.starts_with("=?") && core.ends_with("?=") {
            if let Some(decoded) = encoded_word(core) {
                let mut check = String::with_capacity(decoded.len());
                self.filter(&decoded, true, false, &mut check, &mut Tally::default());
                if check == decoded {
                    return Verdict::Keep;
                }
            }
            tally.add(Class::Token);
            out.push_str(Class::Token.label());
            return Verdict::Replaced;
        }
        if short_year_birth_date(core) {
            tally.add(Class::Dob);
            out.push_str(Class::Dob.label());
            return Verdict::Replaced;
        }
        if let Some(r) = device_name(core).or_else(|| login_of_initial(core)) {
            tally.add(Class::Name);
            out.push_str(&r);
            return Verdict::Replaced;
        }
        // a per-victim subdomain (`jan-de-vries.kit-login.top`)
        if core.contains(['-', '_'])
            && is_domain(core)
            && let Some(h) = host_names(core)
        {
            tally.add(Class::Name);
            out.push_str(&h);
            return Verdict::Replaced;
        }
        // a security label joined by `_`, `-` or `.` (`ek_clearfake`,
        // `apt_unc6691-1`): one probe settles it
        if flags() & SECURITY != 0 || self.is_shape(core) {
            return Verdict::Keep;
        }
        // `EventID=4624`, `LogonType=10`, `CN=evil.top`, `DNS:evil.top`: a
        // key and its value, each judged (not a coordinate card's `B3=482`:
        // a key has three letters, or is one or two capitals)
        if let Some((k, v)) = key_value(core) {
            return self.judge_pair(core, k, v, out, tally);
        }
        let digits = core.bytes().any(|b| b.is_ascii_digit());
        if digits && (is_dashed_plate(core) || !self.digit_compound_ok(core)) {
            let c = if core.chars().all(|c| c.is_ascii_digit() || ".,:/-'’ +".contains(c)) {
                Class::Number
            } else {
                Class::Token
            };
            tally.add(c);
            out.push_str(c.label());
            return Verdict::Replaced;
        }
        // `Win10`, `SHA256`: the letter runs were checked already
        self.compound(core, pos, digits, out, tally)
    }

    /// `EventID=4624`, `from=<sender@evil.top>`: a key and its value of
    /// `core`, each judged.
    fn judge_pair(&self, core: &str, k: &str, v: &str, out: &mut String, tally: &mut Tally) -> Verdict {
        let (mut ko, mut vo) = (String::new(), String::new());
        // the key is an identifier: its CamelCase parts are judged
        let acronym =
            k.bytes().all(|c| c.is_ascii_uppercase()) && with_lower(k, |l| super::lexicon::acronyms().contains(&l));
        let kv = if acronym { Verdict::Keep } else { self.compound(k, Pos::Inner, false, &mut ko, tally) };
        // a mail log's `from=<sender@evil.top>`: the address inside is judged
        let (open, v, close) = match v.strip_prefix('<').filter(|i| !i.is_empty()) {
            Some(i) => match i.strip_suffix('>').filter(|x| !x.is_empty()) {
                Some(x) => ("<", x, ">"),
                None => ("<", i, ""),
            },
            None => ("", v, ""),
        };
        let vv = self.judge(v, Pos::Mid, &mut vo, tally);
        let changed = |v: Verdict| matches!(v, Verdict::Replaced | Verdict::NameLike);
        if !changed(kv) && !changed(vv) {
            return Verdict::Keep;
        }
        out.push_str(if changed(kv) { &ko } else { k });
        out.push_str(&core[k.len()..=k.len()]);
        out.push_str(open);
        out.push_str(if changed(vv) { &vo } else { v });
        out.push_str(close);
        if kv == Verdict::NameLike || vv == Verdict::NameLike { Verdict::NameLike } else { Verdict::Replaced }
    }

    /// A tag or value that is one lower-case word the vocabulary keeps
    /// (`phishing`, `emotet`) or one label of the security lists
    /// (`sinkhole_abuse`, `apt28`): what [`Deny::filter`] would leave
    /// unchanged (and no detector matches), told by one probe.
    pub fn plain_known_word(&self, w: &str) -> bool {
        if !(2..=40).contains(&w.len())
            || !w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return false;
        }
        // a malware family or tool label of the security lists
        // (`sinkhole_abuse`, `apt28`), or a plain word the vocabulary keeps
        vocab().flags_of(w) & SECURITY != 0
            || (w.bytes().all(|b| b.is_ascii_lowercase()) && self.word(w, Pos::Mid) == Some(Verdict::Keep))
    }

    /// A plain word: `Some(verdict)` when the vocabulary accounts for it.
    fn word(&self, w: &str, pos: Pos) -> Option<Verdict> {
        self.word_known(w, pos, vocab().flags_of(w))
    }

    /// [`Deny::word`] with the word's vocabulary flags `f`.
    fn word_known(&self, w: &str, pos: Pos, f: u8) -> Option<Verdict> {
        // `COBADEFFXXX`: the primary office's bank code; other letters-only
        // codes read like a surname in capitals (`ZUBIZARRETA`)
        if w.len() == 11 && w.ends_with("XXX") && is_bank_code(w) {
            return Some(Verdict::Keep);
        }
        let mut cs = w.chars();
        let first = cs.next()?;
        if cs.next().is_none() {
            return Some(Verdict::Keep);
        }
        let extra = !self.words.is_empty() && with_lower(w, |l| self.words.contains(l));
        if f & SECURITY != 0 || extra {
            return Some(Verdict::Keep);
        }
        if !w.chars().any(char::is_uppercase) || pos == Pos::Inner {
            return (f & (LOWER | NOUN | FREQ) != 0).then_some(Verdict::Keep);
        }
        // capitalised: only words the lists attest (a frequency-only form
        // may be a name the lists do not know)
        let known = f & (LOWER | NOUN) != 0;
        if !first.is_uppercase() {
            // eBay, iPhone: mixed case, the lower-case form decides
            return known.then_some(Verdict::Keep);
        }
        let all_caps = !w.chars().any(char::is_lowercase);
        if all_caps && with_lower(w, |l| super::lexicon::acronyms().contains(&l)) {
            return Some(Verdict::Keep);
        }
        if FORMAL.contains(&w) || MONTHS_EN.contains(&w) || ORG_WORDS.contains(&w) {
            return Some(Verdict::Keep);
        }
        if f & NOUN != 0 || (known && (pos == Pos::Start || all_caps)) {
            return Some(Verdict::Weak);
        }
        None
    }

    /// Indicator shapes, numbers of a known shape and policy references.
    fn is_shape(&self, core: &str) -> bool {
        let t = refang(core);
        let t = t.as_ref();
        // cheap byte tests first, the reference regex last
        is_number_shape(t)
            || is_hash(t)
            || t.rsplit_once('=').is_some_and(|(k, v)| {
                !k.is_empty() && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'=') && is_hash(v)
            })
            || is_security_id(t)
            || is_fingerprint(t)
            || is_ip(t)
            || is_wallet(t)
            || is_domain(t)
            || is_host_path(t)
            || is_host_port(t)
            || is_app_id(t)
            || is_attacker_email(t)
            || is_user_agent_part(t)
            || is_bracket_label(t)
            || is_kernel_object(t)
            || is_bank_code(t)
            || self.refs.as_ref().is_some_and(|r| {
                // a number alone is never a reference; with a slash or a dash
                // it may be (`2024/721266`, `0107/2024`, `2025-545995`)
                (t.bytes().any(|b| b.is_ascii_alphabetic()) || t.contains('/') || t.contains('-'))
                    && (t.contains('-') || t.bytes().any(|b| b.is_ascii_digit()))
                    && r.is_match(t)
            })
    }

    /// A token mixing letters and digits that reads as a word with a short
    /// number (`Win10`, `x64`, `SHA256`, `TLSv1.2`, `443/tcp`, `12mb`, `3rd`).
    fn digit_compound_ok(&self, core: &str) -> bool {
        // a file name (`DHL_AWB_55120.html`, a lure's invoice number) may
        // carry a longer number than a word does
        let file = core.rsplit_once('.').is_some_and(|(_, ext)| with_lower(ext, |l| FILE_EXTENSIONS.contains(&l)));
        let (max_run, max_total) = if file { (6, 12) } else { (4, 6) };
        let mut digits = 0;
        for part in core.split(['.', '-', '_', '/', ':']) {
            if part.is_empty() {
                continue;
            }
            // (is digits, text) of each run, at most three
            let mut runs: [(bool, &str); 3] = [(false, ""); 3];
            let mut n = 0;
            let mut prev: Option<bool> = None;
            let mut run_start = 0;
            for (i, c) in part.char_indices().chain(std::iter::once((part.len(), ' '))) {
                let d = c.is_ascii_digit();
                let end = i == part.len();
                if end || prev.is_some_and(|p| p != d) {
                    let run = &part[run_start..i];
                    if prev == Some(false) {
                        // letters: a known word, a unit, or a short prefix (x, v, rc)
                        // `TLSv1`, `v2`: a version mark after the word
                        let run = match run.strip_suffix(['v', 'V']) {
                            Some(r) if !r.is_empty() => r,
                            _ => run,
                        };
                        if !run.chars().all(char::is_alphabetic) || !self.known_run(run, run.chars().count() <= 3) {
                            return false;
                        }
                    } else if prev == Some(true) {
                        digits += run.len();
                        if run.len() > max_run {
                            return false;
                        }
                    }
                    // C01X00T47: letters and digits alternating are an identifier
                    if n == runs.len() {
                        return false;
                    }
                    if let Some(p) = prev {
                        runs[n] = (p, run);
                        n += 1;
                    }
                    run_start = i;
                }
                prev = Some(d);
            }
            if !self.runs_read_as_word(&runs[..n]) {
                return false;
            }
        }
        digits <= max_total
    }

    /// A letter run inside a token is accounted for: a word of the
    /// vocabulary or of the deployment, a unit, or (`short_ok`) any short
    /// prefix such as `x`, `rc`, `ms`.
    fn known_run(&self, run: &str, short_ok: bool) -> bool {
        short_ok
            || vocab().flags_of(run) & (LOWER | NOUN | SECURITY | FREQ) != 0
            || with_lower(run, |l| UNITS.contains(&l) || self.words.contains(l))
    }

    /// The runs of one part (`(digits, text)`) read as a word with a
    /// number, not as an identifier. Letters after digits name a unit or an
    /// ordinal (`5G`, `12mb`, `3rd`), not `1AA` (a postcode's inward code)
    /// or `456CV`; letters on both sides of the digits are two words
    /// (`sha256sum`) or the one-letter abbreviations `k8s`, `p2p`, not a
    /// plate or postcode in capitals (`BD62XYZ`, `EC1A`, `DEF456G`); digits on both sides of
    /// letters take a unit (`2x4`), not `1EG4`.
    fn runs_read_as_word(&self, runs: &[(bool, &str)]) -> bool {
        let unit = |r: &str| with_lower(r, |l| UNITS.contains(&l));
        let word = |r: &str| r.chars().count() >= 3 && self.known_run(r, false);
        match runs {
            [(true, _), (false, l)] => unit(l) || word(l),
            [(false, a), (true, d), (false, b)] => {
                let lower = |r: &str| r.bytes().all(|c| c.is_ascii_lowercase());
                let one = |r: &str| r.len() == 1 && lower(r);
                (one(a) && one(b) && d.len() <= 2)
                    || ((word(a) || (a.len() <= 3 && lower(a))) && (word(b) || (lower(b) && unit(b))))
            }
            // in capitals between digits only a unit (`34ABC1234` is a plate)
            [(true, _), (false, l), (true, _)] => unit(l) || (word(l) && !l.bytes().all(|c| c.is_ascii_uppercase())),
            _ => true,
        }
    }

    /// A word of several parts (`e-mail`, `l'attaquant`, `PowerShell`,
    /// `Document_Anna_Kowalska.pdf`): first names joined to another part
    /// become `[NAME]`, unknown parts `[WORD]`, the joiners stay.
    fn compound(&self, core: &str, pos: Pos, checked: bool, out: &mut String, tally: &mut Tally) -> Verdict {
        if dashed_noun(core) {
            return Verdict::Keep;
        }
        let parts = split_parts(core);
        let names = name_parts(core, &parts);
        let dotted = core.bytes().filter(|&c| c == b'.').count() >= 2;
        let mut verdict = Verdict::Keep;
        let mut rewritten = String::with_capacity(core.len());
        let mut last = 0;
        let mut k = 0;
        while k < parts.len() {
            let (s, e) = parts[k];
            rewritten.push_str(&core[last..s]);
            if names[k] {
                let mut end = e;
                while k + 1 < parts.len() && names[k + 1] {
                    k += 1;
                    end = parts[k].1;
                }
                tally.add(Class::Name);
                rewritten.push_str(Class::Name.label());
                verdict = Verdict::NameLike;
                last = end;
                k += 1;
                continue;
            }
            // a CamelCase run the security vocabulary knows whole (`AppData`,
            // `LaunchAgents`): one probe keeps it
            let mut m = k;
            while m + 1 < parts.len() && parts[m].1 == parts[m + 1].0 && !names[m + 1] {
                m += 1;
            }
            if m > k && vocab().flags_of(&core[s..parts[m].1]) & SECURITY != 0 {
                rewritten.push_str(&core[s..parts[m].1]);
                last = parts[m].1;
                k = m + 1;
                continue;
            }
            let w = &core[s..e];
            // a case change or an apostrophe joins one word (PowerShell,
            // l'Agence); after `_`, `.`, `-` a capitalised part is a word of its own
            // the head of a CamelCase identifier (`CurrentVersion`,
            // `OneDriveUpdater`) is read as inside a word, not as a name
            let camel_head = k + 1 < parts.len()
                && parts[k].1 == parts[k + 1].0
                && w.len() >= 3
                && core[parts[k + 1].0..].starts_with(|c: char| c.is_uppercase());
            let p = match k {
                _ if camel_head => Pos::Inner,
                0 => pos,
                // a dotted signature or package name (`Ivanti.Connect.Secure.Buffer.Overflow`):
                // each capitalised part heads a word
                _ if dotted && &core[parts[k - 1].1..s] == "." => Pos::Start,
                // a Windows path's folder (`AppData\Local\Google`)
                _ if core[parts[k - 1].1..s].ends_with('\\') => Pos::Start,
                _ if matches!(&core[parts[k - 1].1..s], "" | "'" | "’") => Pos::Inner,
                // `Fake-App`, `Kit-Log`, `Banking-App`: after a kept part and a
                // dash, a capitalised word of the vocabulary heads a noun
                // (a double-barrelled name fails on its first part)
                _ if verdict == Verdict::Keep && &core[parts[k - 1].1..s] == "-" => Pos::Start,
                _ => Pos::Mid,
            };
            let ext = k > 0 && k + 1 == parts.len() && core[..s].ends_with('.');
            let ok = checked
                || !w.chars().all(char::is_alphabetic)
                || (ext && FILE_EXTENSIONS.contains(&w.to_ascii_lowercase().as_str()))
                || self.word(w, p).is_some()
                || german_compound(w);
            if ok {
                rewritten.push_str(w);
            } else {
                tally.add(Class::Word);
                rewritten.push_str(Class::Word.label());
                if verdict == Verdict::Keep {
                    verdict = if is_capitalised(w) { Verdict::NameLike } else { Verdict::Replaced };
                }
            }
            last = e;
            k += 1;
        }
        if verdict == Verdict::Keep {
            return Verdict::Keep;
        }
        rewritten.push_str(&core[last..]);
        out.push_str(&rewritten);
        verdict
    }

    /// Runs of short digit groups (`06 12 34 56 78`, `612 345 678`) adding
    /// up to 7 digits or more are one long number, unless they are an
    /// amount (thousands groups next to a currency).
    fn digit_runs(&self, j: &mut Judged) {
        let Judged { text, chunks, verdicts, rewritten, tally, .. } = j;
        let (text, chunks) = (*text, *chunks);
        // a run is replaced from seven digits on: most texts have fewer
        if text.bytes().filter(u8::is_ascii_digit).count() < 7 {
            return;
        }
        let group: Vec<bool> = (0..chunks.len())
            .map(|k| {
                let s = &text[chunks[k].core.0..chunks[k].core.1];
                verdicts[k] == Verdict::Keep && !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())
            })
            .collect();
        let is_group = |k: usize| group[k];
        // a lone `.`, `/` or `-` between groups: a date or number typed or
        // scanned with spaces (`0 8 . 1 1 . 1 9 9 4`)
        let joiner = |k: usize| matches!(&text[chunks[k].start..chunks[k].end], "." | "/" | "-");
        let mut i = 0;
        while i < chunks.len() {
            if !is_group(i) {
                i += 1;
                continue;
            }
            let mut j = i;
            loop {
                if j + 1 < chunks.len() && chunks[j].core.1 == chunks[j].end && is_group(j + 1) {
                    j += 1;
                } else if j + 2 < chunks.len() && joiner(j + 1) && is_group(j + 2) {
                    j += 2;
                } else {
                    break;
                }
            }
            let digits: usize = (i..=j).map(|k| chunks[k].core.1 - chunks[k].core.0).sum();
            if j > i && digits >= 7 && !is_amount_run(text, chunks, i, j) {
                for k in (i..=j).filter(|&k| is_group(k)) {
                    verdicts[k] = Verdict::Replaced;
                    rewritten[k] = Some(Class::Number.label().to_owned());
                    tally.add(Class::Number);
                }
            }
            i = j + 1;
        }
    }
}

/// A card's expiry and security code as two fields of a row
/// (`01/28|977`, `04/30;341`): both go; an expiry alone stays.
fn card_codes(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, tally, .. } = j;
    // the expiry before the code is written `MM/YY`
    if !text.as_bytes().contains(&b'/') {
        return;
    }
    let core = |k: usize| &text[chunks[k].core.0..chunks[k].core.1];
    for k in 1..chunks.len() {
        let (e, c) = (core(k - 1).as_bytes(), core(k).as_bytes());
        let expiry = e.len() == 5 && e[2] == b'/' && e.iter().enumerate().all(|(i, b)| i == 2 || b.is_ascii_digit());
        let month = expiry && (1..=12).contains(&((e[0] - b'0') * 10 + (e[1] - b'0')));
        let code = (3..=4).contains(&c.len()) && c.iter().all(u8::is_ascii_digit);
        if month && code && chunks[k - 1].end == chunks[k].start && verdicts[k - 1] == Verdict::Keep {
            for i in [k - 1, k] {
                verdicts[i] = Verdict::Replaced;
                rewritten[i] = Some(Class::Number.label().to_owned());
                tally.add(Class::Number);
            }
        }
    }
}

/// Plates written bare over two or three words, in capitals: `B AB 1234`,
/// `MIL EF 1234E` (German), `34 ABC 1234` (Turkish), `AB51 ABC` (British).
/// The letters are no unit and no security word (`80 TCP 443`, `64 GB`).
fn plates(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, tally, .. } = j;
    let (text, chunks) = (*text, *chunks);
    // every form holds digits: [`Deny::revise`] runs this only on a text with some
    let core = |k: usize| &text[chunks[k].core.0..chunks[k].core.1];
    // the chunk ends at its core: no comma or full stop between the parts
    let joined = |k: usize| chunks[k].core.1 == chunks[k].end;
    let unit = |s: &str| with_lower(s, |l| UNITS.contains(&l));
    let mut i = 0;
    while i < chunks.len() {
        let mut len = 0;
        if i + 2 < chunks.len() && joined(i) && joined(i + 1) {
            let (a, b, c) = (core(i), core(i + 1), core(i + 2));
            // the district (`B`, `M`, `HH`) may be a unit's letter; two letters
            // of the series are often some product's name (`AB`): only units
            // are no plate, and a unit's letter is one before 3 or 4 digits
            // (`MIL E 1234`)
            let de = upper_run(a, 1, 3)
                && upper_run(b, 1, 2)
                && (!unit(b) || (b.len() == 1 && digit_run(c, 3, 4)))
                && de_number(c);
            // `16 B 1234`, `07 AB 123`; three letters are no security word (`80 TCP 443`)
            let tr = digit_run(a, 2, 2)
                && ("01".."82").contains(&a)
                && upper_run(b, 1, 3)
                && (!unit(b) || (b.len() == 1 && digit_run(c, 4, 4)))
                && (b.len() < 3 || vocab().flags_of(b) & SECURITY == 0)
                && digit_run(c, 2, 4);
            if de || tr {
                len = 3;
            }
        }
        if len == 0 && i + 1 < chunks.len() && joined(i) {
            let (a, b) = (core(i), core(i + 1));
            // letters that are no unit and no security word
            let plain = |s: &str| !unit(s) && vocab().flags_of(s) & SECURITY == 0;
            let uk = uk_plate(a, b) && plain(b);
            // the older British form, letter last: `ABC 123D`, `ABC 1D`
            let uk_suffix = upper_run(a, 3, 3)
                && plain(a)
                && b.len() >= 2
                && b.is_ascii()
                && digit_run(&b[..b.len() - 1], 1, 3)
                && upper_run(&b[b.len() - 1..], 1, 1);
            if uk || uk_suffix {
                len = 2;
            }
        }
        if len == 0 {
            i += 1;
            continue;
        }
        for k in i..i + len {
            if verdicts[k] != Verdict::Replaced {
                tally.add(Class::Token);
            }
            verdicts[k] = Verdict::Replaced;
            rewritten[k] = Some(Class::Token.label().to_owned());
        }
        i += len;
    }
}

/// A German plate joined by dashes: `B-AB-1234`, `HH-AB-123E`; a British
/// one: `LN14-HGT`.
fn is_dashed_plate(core: &str) -> bool {
    if core.split_once('-').is_some_and(|(a, b)| uk_plate(a, b)) {
        return true;
    }
    let mut parts = core.split('-');
    let (Some(a), Some(b), Some(c), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    upper_run(a, 1, 3) && upper_run(b, 1, 2) && de_number(c) || mixed_dashed_plate([a, b, c])
}

/// The Dutch, Portuguese, French, Spanish and Italian plates of three
/// dashed groups, capitals and digits mixed (`GV-482-K`, `12-XKT-3`,
/// `AB-12-CD`, `48-TK-21`, `M-5372-YZ`): each group 1 to 3 capitals or 1
/// to 4 digits, 6 to 8 in all; a group of letters that is an acronym or a
/// security word (`MS-17-010`, `ISO-8859-1`) makes it no plate.
fn mixed_dashed_plate(parts: [&str; 3]) -> bool {
    let letters = |p: &str| upper_run(p, 1, 3);
    let len: usize = parts.iter().map(|p| p.len()).sum();
    (6..=8).contains(&len)
        && parts.iter().all(|p| letters(p) || digit_run(p, 1, 4))
        && parts.iter().any(|p| letters(p))
        && parts.iter().any(|p| digit_run(p, 1, 4))
        && (sandwich(parts)
            // the other shapes (`AB-12-34`, `12-34-AB`, `12-AB-CD`) run two by two
            || parts.iter().all(|p| p.len() == 2) && parts.iter().filter(|p| letters(p)).all(|p| {
                with_lower(p, |l| !super::lexicon::acronyms().contains(&l)) && vocab().flags_of(p) & SECURITY == 0
            }))
}

/// Letters, digits, letters (`AB-12-CD`) or digits, letters, digits
/// (`48-TK-21`): the Portuguese and French shapes, which no security
/// identifier has (those run letters then numbers: `MS-17-010`).
fn sandwich(parts: [&str; 3]) -> bool {
    let l = |p: &str| upper_run(p, 1, 3);
    let d = |p: &str| digit_run(p, 1, 4);
    (l(parts[0]) && d(parts[1]) && l(parts[2])) || (d(parts[0]) && l(parts[1]) && d(parts[2]))
}

/// The current British form in its two parts: `AB51` and `ABC`.
fn uk_plate(a: &str, b: &str) -> bool {
    a.len() == 4 && a.is_ascii() && upper_run(&a[..2], 2, 2) && digit_run(&a[2..], 2, 2) && upper_run(b, 3, 3)
}

/// `lo..=hi` ASCII capitals.
fn upper_run(s: &str, lo: usize, hi: usize) -> bool {
    (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// `lo..=hi` ASCII digits.
fn digit_run(s: &str, lo: usize, hi: usize) -> bool {
    (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// The number of a German plate: 1 to 4 digits, `E` (electric) or `H`
/// (historic) after them.
fn de_number(s: &str) -> bool {
    digit_run(s.strip_suffix(['E', 'H']).unwrap_or(s), 1, 4)
}

/// A run of digit groups that is an amount: thousands groups (`1 250 000`)
/// next to a currency.
fn is_amount_run(text: &str, chunks: &[Chunk], i: usize, j: usize) -> bool {
    let thousands =
        (i + 1..=j).all(|k| chunks[k].core.1 - chunks[k].core.0 == 3) && chunks[i].core.1 - chunks[i].core.0 <= 3;
    let currency = |k: usize| {
        chunks.get(k).is_some_and(|c| CURRENCIES.contains(&text[c.core.0..c.core.1].to_lowercase().as_str()))
    };
    thousands && (currency(j + 1) || (i > 0 && currency(i - 1)))
}

/// Legal forms that end a company's name.
const LEGAL_FORMS: &[&str] = &[
    "Inc",
    "LLC",
    "Ltd",
    "Limited",
    "GmbH",
    "AG",
    "SARL",
    "SAS",
    "SA",
    "SpA",
    "Srl",
    "SRL",
    "BV",
    "NV",
    "LTD",
    "Corp",
    "Corporation",
    "PLC",
    "Plc",
    "S.L",
    "S.A",
    "B.V",
    "N.V",
    "Pte",
    "OÜ",
    "Sp",
];

/// Capitalised ordinary words right before a legal form are a company's
/// name (`Domains By Proxy, LLC`, `Web Commerce Communications Limited`),
/// not a person's: they stay (an unknown word there still goes).
fn company_names(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, tally, .. } = j;
    let (text, chunks) = (*text, *chunks);
    // only a replaced word before a legal form is given back
    if !verdicts.iter().any(|v| matches!(v, Verdict::NameLike | Verdict::Replaced)) {
        return;
    }
    for i in 1..chunks.len() {
        let w = text[chunks[i].core.0..chunks[i].core.1].trim_end_matches('.');
        // every legal form starts with a capital
        if !w.as_bytes().first().is_some_and(|b| b.is_ascii_uppercase()) || !LEGAL_FORMS.contains(&w) {
            continue;
        }
        for k in (i.saturating_sub(4)..i).rev() {
            let c = &text[chunks[k].core.0..chunks[k].core.1];
            let known = c.chars().all(char::is_alphabetic) && vocab().flags_of(c) & (LOWER | NOUN) != 0;
            if matches!(verdicts[k], Verdict::NameLike | Verdict::Replaced)
                && known
                && rewritten[k].as_deref() == Some(Class::Word.label())
            {
                verdicts[k] = Verdict::Keep;
                rewritten[k] = None;
                tally.sub(Class::Word);
            } else if !matches!(verdicts[k], Verdict::Keep | Verdict::Weak) {
                break;
            }
        }
    }
}

/// Weak capitalised words next to a replaced capitalised word are part of
/// the same name (`Kowalska, Anna`, `ROSSI Mario`, `Anna Maria Kowalska`).
fn extend_names(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, flags, tally } = j;
    let (text, chunks) = (*text, *chunks);
    let joined = |a: usize, b: usize| {
        // nothing but one space, or a comma and a space, between them
        let gap = &text[chunks[a].core.1..chunks[b].core.0];
        matches!(gap, " " | ", " | "-")
    };
    let word = |k: usize| &text[chunks[k].core.0..chunks[k].core.1];
    // after a first name, a lower-case word that is not common is a surname
    // (`brigitte vollmer`)
    let surname = |k: usize| {
        let w = word(k);
        w.chars().all(char::is_alphabetic) && w.chars().nth(1).is_some() && flags[k] & (COMMON | SECURITY) == 0
    };
    for i in 0..chunks.len() {
        if verdicts[i] != Verdict::NameLike {
            continue;
        }
        let first = with_lower(word(i), |l| first_names().contains(l));
        for dir in [-1isize, 1] {
            let mut k = i as isize;
            loop {
                let n = k + dir;
                if n < 0 || n as usize >= chunks.len() {
                    break;
                }
                let (a, b) = if dir < 0 { (n as usize, k as usize) } else { (k as usize, n as usize) };
                let nu = n as usize;
                let weak = verdicts[nu] == Verdict::Weak
                    || (first && dir > 0 && verdicts[nu] == Verdict::Keep && k as usize == i && surname(nu));
                if !weak || !joined(a, b) {
                    break;
                }
                verdicts[n as usize] = Verdict::Replaced;
                rewritten[n as usize] = Some(Class::Word.label().to_owned());
                tally.add(Class::Word);
                k = n;
            }
        }
    }
}

/// A German dashed noun of capitalised words the vocabulary knows, one of
/// them a German noun or a product word (`Banking-App`, `Konto-Sperre`):
/// a double-barrelled surname of plain words (`Smith-Baker`) has neither.
fn dashed_noun(core: &str) -> bool {
    let mut noun = false;
    let mut n = 0;
    for part in core.split('-') {
        n += 1;
        if !is_capitalised(part) || !part.chars().all(char::is_alphabetic) || part.chars().count() < 2 {
            return false;
        }
        let f = vocab().flags_of(part);
        if f & (LOWER | NOUN | SECURITY) == 0 {
            return false;
        }
        noun |= f & (NOUN | SECURITY) != 0;
    }
    n >= 2 && noun
}

/// Heads of the German compounds fraud notes coin (`Anlagebetrug`,
/// `Opfernummer`, `Empfängerkonto`, `Schockanruf`): no surname ends in one.
/// Written for tamis.
const COMPOUND_HEADS: &[&str] = &[
    "betrug",
    "betrugs",
    "nummer",
    "nummern",
    "konto",
    "konten",
    "anruf",
    "anrufe",
    "anrufen",
    "daten",
    "vorlage",
    "prävention",
    "betreiber",
    "buchung",
    "buchungen",
    "zahlung",
    "zahlungen",
    "überweisung",
    "überweisungen",
    "karte",
    "karten",
    "gebühr",
    "gebühren",
    "antrag",
    "erstattung",
    "übernahme",
    "diebstahl",
    "schaden",
    "meldung",
    "anzeige",
    "nachricht",
    "nachrichten",
    "seite",
    "seiten",
    "adresse",
    "kennung",
    "kunde",
    "kunden",
    "kundin",
    "welle",
    "masche",
    "fälle",
    "vorfall",
    "vorfälle",
    "server",
    "domain",
    "domains",
    "link",
    "links",
    "mail",
    "mails",
    "portal",
    "code",
    "codes",
    "passwort",
    "zugang",
    "zugänge",
    "sperre",
    "sperrung",
    "bank",
    "banken",
    "text",
    "texte",
    "version",
    "sms",
    "app",
    "apps",
    "profil",
    "profile",
    "verfahren",
    "ermittlung",
    "ermittlungen",
];

/// A German compound of a word the vocabulary knows (maybe with a linking
/// `s`, `n`, `en`, `er` or `e`) and a head of [`COMPOUND_HEADS`]:
/// `Käuferbetrug`, `Zugangsnummer`, `Netzbetreiber`.
fn german_compound(w: &str) -> bool {
    if w.len() < 8 || !w.chars().all(char::is_alphabetic) {
        return false;
    }
    with_lower(w, |l| {
        linked_with_s(l)
            || COMPOUND_HEADS.iter().any(|h| {
                let Some(stem) = l.strip_suffix(h) else { return false };
                if stem.chars().count() < 3 {
                    return false;
                }
                let known =
                    |s: &str| s.chars().count() >= 3 && vocab().flags_of(s) & (LOWER | NOUN | SECURITY | FREQ) != 0;
                known(stem)
                    || ["s", "n", "en", "er", "e", "es"].iter().any(|j| stem.strip_suffix(j).is_some_and(known))
                    || ["e", "en"].iter().any(|j| known(&format!("{stem}{j}")))
            })
    })
}

/// A compound whose first noun ends in a suffix that always links with
/// `s` (-ung, -ion, -heit, -keit, -schaft, -tät, -kunft, -ling) and whose
/// second part is a word, maybe inflected: `Weiterleitungskette`,
/// `Auskunftsersuchen`, `Reklamationsformulars`. Surnames are not built so.
fn linked_with_s(l: &str) -> bool {
    const LINKS: &[&str] = &["ungs", "ions", "heits", "keits", "schafts", "täts", "kunfts", "lings"];
    let known = |s: &str| s.chars().count() >= 4 && vocab().flags_of(s) & (LOWER | NOUN) != 0;
    LINKS.iter().any(|link| {
        l.match_indices(link).any(|(i, _)| {
            let (head, tail) = (&l[..i + link.len() - 1], &l[i + link.len()..]);
            known(head)
                && (known(tail)
                    || ["s", "es", "e", "n", "en", "er"].iter().any(|j| tail.strip_suffix(j).is_some_and(known)))
        })
    })
}

/// First names of the gazetteer that analysts write far more often as words
/// in one of the eight languages ("mark the domain", "grant access",
/// "amber", "dane karty", "le lien", `cgi-bin`): in lower case
/// they do not start a name, and in a compound they are not a first name.
/// Written for tamis.
/// English writes its months capitalised (`observed on 2 March 2025`).
const MONTHS_EN: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const FIRST_NAME_WORDS: &[&str] = &[
    "sim",
    "core",
    "max",
    "ray",
    "bill",
    "key",
    "kit",
    "one",
    "ali",
    "amber",
    "april",
    "art",
    "august",
    "bill",
    "bin",
    "blanca",
    "carol",
    "celeste",
    "chase",
    "claire",
    "cliff",
    "cruz",
    "crystal",
    "dale",
    "dane",
    "dawn",
    "dean",
    "dolores",
    "dom",
    "don",
    "drew",
    "earl",
    "ernst",
    "esperanza",
    "eve",
    "faith",
    "fee",
    "felice",
    "file",
    "flor",
    "france",
    "frank",
    "gene",
    "ginger",
    "gioia",
    "glen",
    "gloria",
    "grace",
    "grant",
    "guy",
    "hay",
    "heath",
    "holly",
    "hope",
    "hunter",
    "iris",
    "ivy",
    "jack",
    "jade",
    "jay",
    "joy",
    "june",
    "key",
    "kit",
    "lane",
    "lien",
    "lily",
    "line",
    "loan",
    "long",
    "luz",
    "made",
    "major",
    "marine",
    "mark",
    "mason",
    "max",
    "may",
    "mercedes",
    "mia",
    "miles",
    "noël",
    "olive",
    "pat",
    "paz",
    "pearl",
    "penny",
    "pierre",
    "pilar",
    "price",
    "ray",
    "reed",
    "rich",
    "robin",
    "rod",
    "rosa",
    "rose",
    "ruby",
    "sage",
    "said",
    "santa",
    "sara",
    "serena",
    "sky",
    "sol",
    "son",
    "summer",
    "sun",
    "tom",
    "victor",
    "violet",
    "wade",
    "will",
    "win",
    "young",
];

/// Particles between a first name and a surname (`jan de vries`).
const PARTICLES: &[&str] = &[
    "al", "bin", "da", "das", "de", "del", "della", "den", "der", "di", "do", "dos", "du", "el", "ibn", "la", "le",
    "ten", "ter", "van", "von", "zu",
];

/// Names written all in lower case: a first name of the gazetteer (not one
/// of [`FIRST_NAME_WORDS`], not a very common or security word) joined by
/// one space, maybe over a particle, to a lower-case word that is not a very
/// common or security word: `daniel brown`, `jan de vries`. Each becomes
/// `[NAME]`; a capitalised name is [`extend_names`]' business.
fn lower_case_names(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, flags, tally } = j;
    let (text, chunks) = (*text, *chunks);
    let word = |k: usize| &text[chunks[k].core.0..chunks[k].core.1];
    let joined = |a: usize| {
        chunks[a].core.1 == chunks[a].end
            && chunks[a + 1].start == chunks[a + 1].core.0
            && &text[chunks[a].end..chunks[a + 1].start] == " "
    };
    let lower = |w: &str| w.chars().nth(1).is_some() && w.chars().all(char::is_lowercase);
    let plain = |k: usize| flags[k] & (VERY_COMMON | SECURITY) == 0;
    let mut i = 0;
    while i + 1 < chunks.len() {
        let w = word(i);
        // cheap tests first: most words are not followed by one space, or
        // are not a first name
        let first = verdicts[i] == Verdict::Keep
            && joined(i)
            && lower(w)
            && first_names().contains(w)
            && plain(i)
            && !FIRST_NAME_WORDS.contains(&w);
        if !first {
            i += 1;
            continue;
        }
        let mut last = i + 1;
        // `jan de vries`, `wouter van den berg`, `maría del carmen`
        for _ in 0..2 {
            if PARTICLES.contains(&word(last)) && last + 1 < chunks.len() && joined(last) {
                last += 1;
            }
        }
        let s = word(last);
        let surname = lower(s) && plain(last) && !is_filler(s) && !cue_words().contains(s);
        if !surname {
            i += 1;
            continue;
        }
        // more surnames no dictionary knows (`maría del carmen ruiz ortega`)
        while last + 1 < chunks.len() && joined(last) && last < i + 5 {
            let n = word(last + 1);
            if !(lower(n) && flags[last + 1] & (LOWER | VERY_COMMON | SECURITY) == 0 && !is_filler(n)) {
                break;
            }
            last += 1;
        }
        for k in i..=last {
            if verdicts[k] != Verdict::Replaced && verdicts[k] != Verdict::NameLike {
                tally.add(Class::Name);
            }
            verdicts[k] = Verdict::Replaced;
            rewritten[k] = Some(Class::Name.label().to_owned());
        }
        i = last + 1;
    }
}

/// Names written all in capitals, as payment references and card
/// embossing print them (`BIANCA MARINO`, `MARINO BIANCA`): two capitalised
/// words joined by one space, one of them a first name of the gazetteer (not
/// one of [`FIRST_NAME_WORDS`]), neither an acronym, a security word, a cue
/// word or a very common word. Both become `[NAME]`.
fn caps_names(j: &mut Judged) {
    let Judged { text, chunks, verdicts, rewritten, flags, tally } = j;
    let (text, chunks) = (*text, *chunks);
    let word = |k: usize| &text[chunks[k].core.0..chunks[k].core.1];
    let caps = |k: usize| {
        let w = word(k);
        w.as_bytes().first().is_some_and(|b| b.is_ascii_uppercase() || *b >= 0x80)
            && w.chars().nth(2).is_some()
            && w.chars().all(|c| c.is_alphabetic() && !c.is_lowercase())
            && with_lower(w, |l| {
                !super::lexicon::acronyms().contains(&l)
                    && flags[k] & (VERY_COMMON | SECURITY) == 0
                    && !is_filler(l)
                    && !cue_words().contains(l)
            })
    };
    let first = |w: &str| with_lower(w, |l| first_names().contains(l) && !FIRST_NAME_WORDS.contains(&l));
    let mut i = 0;
    while i + 1 < chunks.len() {
        let joined = chunks[i].core.1 == chunks[i].end
            && chunks[i + 1].start == chunks[i + 1].core.0
            && &text[chunks[i].end..chunks[i + 1].start] == " ";
        if !joined || !matches!(verdicts[i], Verdict::Weak | Verdict::Keep | Verdict::NameLike) {
            i += 1;
            continue;
        }
        let (a, b) = (word(i), word(i + 1));
        if !(caps(i) && caps(i + 1) && (first(a) || first(b))) {
            i += 1;
            continue;
        }
        for k in [i, i + 1] {
            if verdicts[k] != Verdict::Replaced && verdicts[k] != Verdict::NameLike {
                tally.add(Class::Name);
            }
            verdicts[k] = Verdict::Replaced;
            rewritten[k] = Some(Class::Name.label().to_owned());
        }
        i += 2;
    }
}

/// The chunks of one text with what default-deny decided for each so far:
/// the passes after the first verdicts (digit runs, names next to names)
/// read and revise them together.
struct Judged<'a> {
    /// The text the chunks index.
    text: &'a str,
    chunks: &'a [Chunk],
    /// One verdict per chunk.
    verdicts: Vec<Verdict>,
    /// The replacement of a chunk's core, where it has one.
    rewritten: Vec<Option<String>>,
    /// The vocabulary flags of each chunk's core ([`vocab::Vocab::lookup`]:
    /// the phrase-head bit too).
    flags: Vec<u8>,
    /// Replacements by class, for the removal counts.
    tally: &'a mut Tally,
}

/// One whitespace-separated chunk: its byte range and the core without
/// the punctuation around it.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    start: usize,
    end: usize,
    core: (usize, usize),
}

/// `char::is_whitespace` of an ASCII byte (`u8::is_ascii_whitespace`
/// leaves out the vertical tab).
fn is_ascii_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fn chunk(text: &str) -> Vec<Chunk> {
    let mut out = Vec::with_capacity(text.len() / 6 + 1);
    if text.is_ascii() {
        // byte by byte: `char::is_whitespace` of an ASCII text
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            while i < b.len() && is_ascii_space(b[i]) {
                i += 1;
            }
            let s = i;
            while i < b.len() && !is_ascii_space(b[i]) {
                i += 1;
                // only a separator just before `i` can end a field there
                if ends_field(b[i - 1]) && field_end(text, s, i) {
                    break;
                }
            }
            if i > s {
                out.push(Chunk { start: s, end: i, core: core_of(text, s, i) });
            }
        }
        return out;
    }
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push(Chunk { start: s, end: i, core: core_of(text, s, i) });
            }
        } else if start.is_none() {
            start = Some(i);
        } else if let Some(s) = start
            && ends_field(text.as_bytes()[i - 1])
            && field_end(text, s, i)
        {
            out.push(Chunk { start: s, end: i, core: core_of(text, s, i) });
            start = Some(i);
        }
    }
    out
}

/// The separators of a row's fields: `,` `;` `|` and `^` (a LEEF event's).
fn is_field_sep(c: u8) -> bool {
    matches!(c, b',' | b';' | b'|' | b'^')
}

/// A byte after which [`field_end`] may end a chunk: a field separator, or
/// the `:` of a JSON key.
fn ends_field(c: u8) -> bool {
    c == b':' || is_field_sep(c)
}

/// A field separator glued to the next field ends a chunk at `i` (just past
/// it): the fields of a CSV or JSON line without spaces
/// (`evil.top,domain,2024-09-18T01:13:32Z,SR-780320`) are words of their
/// own, not one token. Not inside a number (`1,234.56`) nor a URL.
fn field_end(text: &str, s: usize, i: usize) -> bool {
    let b = text.as_bytes();
    if i < 2 || i <= s + 1 || i >= b.len() {
        return false;
    }
    // a JSON key glued to its value (`{"token":"7965004854:AA…"`): the key
    // is a word of its own
    if b[i - 1] == b':' && b[i - 2] == b'"' {
        return !is_ascii_space(b[i]) && !text[s..i].contains("://");
    }
    if !is_field_sep(b[i - 1]) {
        return false;
    }
    let after = b[i];
    // `1,234.56`, `21.400,90`, `52,51637`: a number goes on (`ipv4,2024` does not)
    let number =
        after.is_ascii_digit() && b[s..i - 1].iter().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+'));
    !is_ascii_space(after) && !number && !text[s..i].contains("://")
}

/// The last words of the reference cues of the lexicon (`order`,
/// `Rechnung`, `numéro de commande` → `commande`), lower case.
fn reference_heads() -> &'static HashSet<String, Build> {
    static HEADS: std::sync::OnceLock<HashSet<String, Build>> = std::sync::OnceLock::new();
    HEADS.get_or_init(|| {
        let fillers = super::lexicon::cue_fillers();
        super::lexicon::cue_lines()
            .iter()
            .chain(super::lexicon::id_cue_lines())
            .filter_map(|l| l.strip_prefix("reference "))
            // `order number`: the word before the filler is the head
            .filter_map(|p| p.split(' ').rev().find(|w| !fillers.contains(w)))
            .map(|w| w.trim_end_matches(['.', ':']).to_lowercase())
            .filter(|w| w.chars().count() > 2 && !CASE_WORDS.contains(&w.as_str()))
            .collect()
    })
}

/// Every word of the scanner's cue phrases (`bestellnummer`,
/// `geburtsdatum`, `kennzeichen`), lower case, first names left out.
fn cue_words() -> &'static HashSet<String, Build> {
    static WORDS: std::sync::OnceLock<HashSet<String, Build>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| {
        super::lexicon::cue_lines()
            .iter()
            .chain(super::lexicon::id_cue_lines())
            .filter_map(|l| l.split_once(' ').map(|(_, p)| p))
            .flat_map(|p| p.split([' ', '/', '-']))
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
            .filter(|w| {
                w.chars().count() > 2 && w.chars().all(char::is_alphabetic) && !first_names().contains(w.as_str())
            })
            .collect()
    })
}

/// A filler word of the cue lexicon (`nr`, `no`, `num`, `numéro`), any case.
fn is_filler(w: &str) -> bool {
    static FILLERS: std::sync::OnceLock<HashSet<&'static str, Build>> = std::sync::OnceLock::new();
    let set = FILLERS.get_or_init(|| super::lexicon::cue_fillers().iter().map(|f| f.trim_end_matches('.')).collect());
    with_lower(w, |l| set.contains(l))
}

/// The cue lexicon's filler words exactly as listed (`no.`, `nr`).
fn raw_fillers() -> &'static HashSet<&'static str, Build> {
    static RAW: std::sync::OnceLock<HashSet<&'static str, Build>> = std::sync::OnceLock::new();
    RAW.get_or_init(|| super::lexicon::cue_fillers().iter().copied().collect())
}

/// Appends `w` in lower case (as `str::to_lowercase` writes it).
fn push_lower(key: &mut String, w: &str) {
    if w.is_ascii() {
        let from = key.len();
        key.push_str(w);
        key[from..].make_ascii_lowercase();
    } else {
        key.push_str(&w.to_lowercase());
    }
}

/// Ticket, case-file and generic reference words: their numbers are kept
/// only by the policy's reference patterns (`[ingest.deny] references`),
/// which a deployment writes for its own case and ticket systems.
const CASE_WORDS: &[&str] = &[
    "ticket",
    "ref",
    "réf",
    "reference",
    "referenz",
    "référence",
    "referencia",
    "riferimento",
    "referentie",
    "referência",
    "aktenzeichen",
    "vorgangsnummer",
    "expediente",
    "pratica",
    "processo",
    "zaaknummer",
    "sygnatura",
    "vorgang",
    "pv",
    "procès-verbal",
    "proces-verbal",
    "plainte",
    "atestado",
    "diligencias",
    "denuncia",
    "sygn",
    "crime",
    "number",
    "proces-verbaal",
    "nuipc",
    "inquérito",
];

/// An order, invoice, shipment or transaction number right after its cue word
/// (`Order 302-5567812-8849120`, `Rechnung Nr. 2024-88123`, `numéro de
/// commande : FR-2291-77`): a reference of the case, not a person's
/// number, so default-deny keeps it. The chunk must hold digits and only
/// letters, digits and `-/._#`; between the cue and it stand at most three
/// filler words (`no.`, `n°`, `number`, `:`). The detectors ran first: a
/// phone, IBAN or card number here is already replaced.
/// Words naming the person a number belongs to, in the 8 languages.
const CUSTOMER_WORDS: &[&str] = &[
    "customer",
    "customers",
    "client",
    "clients",
    "subscriber",
    "member",
    "kunde",
    "kunden",
    "kundennummer",
    "kundennr",
    "kundin",
    "mitglied",
    "abonnent",
    "cliente",
    "clientes",
    "assinante",
    "abonné",
    "abonnée",
    "abonado",
    "abbonato",
    "socio",
    "klant",
    "klantnummer",
    "abonnee",
    "klient",
    "klienta",
    "klientka",
    "abonent",
    "abonenta",
    "utente",
    "usuario",
    "user",
    "vertragsnummer",
    "contractnummer",
    "kdnr",
    "kd-nr",
    "kd.-nr",
    "kd.nr",
    "custno",
    "cust",
    "klantnr",
    "clientnr",
];

/// A customer word itself or a compound ending in one (`Dual-Stack-Kunde`,
/// `Privatkunde`, `Bestandskunden`).
fn customer_word(l: &str) -> bool {
    let l = l.trim_end_matches(['.', ':']);
    CUSTOMER_WORDS.contains(&l)
        || l.rsplit_once('-').is_some_and(|(_, last)| CUSTOMER_WORDS.contains(&last))
        || (l.len() > 8 && (l.ends_with("kunde") || l.ends_with("kunden") || l.ends_with("kundin")))
}

/// Words naming a kind of customer, between the customer word and the
/// number (`Kunde Premium KD-…`, `cliente empresa CLI-…`).
const CUSTOMER_SEGMENTS: &[&str] = &[
    "premium",
    "business",
    "corporate",
    "private",
    "retail",
    "vip",
    "prepaid",
    "postpaid",
    "privat",
    "privé",
    "particulier",
    "particular",
    "privato",
    "privado",
    "zakelijk",
    "firmowy",
    "indywidualny",
    "empresa",
    "entreprise",
    "azienda",
    "gold",
    "platinum",
];

/// True when chunk `i` is a token of letters and a run of four digits or
/// more (`CUST-20381318`; not a version, `client 10.14.5`, nor a plain
/// number, which the number rules judge) right after a word naming a
/// customer or subscriber, over up to two fillers (`customer no.`, `n.º
/// cliente`): the person's number.
fn after_customer_word(text: &str, chunks: &[Chunk], i: usize) -> bool {
    let core = &text[chunks[i].core.0..chunks[i].core.1];
    if core.len() < 4
        || core.len() > 40
        || !core.bytes().any(|b| b.is_ascii_alphabetic())
        || !core.as_bytes().split(|b| !b.is_ascii_digit()).any(|run| run.len() >= 4)
        || !core.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'.' | b'_' | b'#'))
    {
        return false;
    }
    for back in 1..=3usize.min(i) {
        let c = &chunks[i - back];
        let w = &text[c.core.0..c.core.1];
        if w.is_empty() {
            continue;
        }
        if with_lower(w, customer_word) {
            return true;
        }
        // `Cliente dual-stack CLI-18227383`, `business customer`: a
        // lower-case hyphenated word or a customer segment between them
        let filler = with_lower(w, |l| {
            let set = raw_fillers();
            set.contains(l)
                || set.contains(l.trim_end_matches(['.', ':']))
                || matches!(l, "n.º" | "nº" | "n°" | "no" | "nr")
                || CUSTOMER_SEGMENTS.contains(&l)
                || (w.contains('-') && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        });
        if back == 3 || !filler {
            return false;
        }
    }
    false
}

fn after_reference_cue(text: &str, chunks: &[Chunk], i: usize) -> bool {
    let core = &text[chunks[i].core.0..chunks[i].core.1];
    if core.len() < 4
        || core.len() > 40
        || !core.bytes().any(|b| b.is_ascii_digit())
        || !core.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'.' | b'_' | b'#'))
    {
        return false;
    }
    for back in 1..=4usize.min(i) {
        let c = &chunks[i - back];
        let w = text[c.start..c.end].trim_end_matches([':', ',']);
        if w.is_empty() || w == "#" {
            continue;
        }
        let head = with_lower(w.trim_end_matches('.'), |l| reference_heads().contains(l));
        if head {
            return true;
        }
        let filler = with_lower(w, |l| {
            let set = raw_fillers();
            set.contains(l) || set.contains(l.trim_end_matches('.'))
        });
        if back == 4 || !filler {
            return false;
        }
    }
    false
}

/// A ticket standing alone as the last sentence of a note (`… 217 kliks.
/// MLD184904`, `… nel percorso. SEG504545`): two to five capitals and five
/// to eight digits, maybe joined by one `-` or `/`, after a sentence end and
/// with nothing after it. The detectors ran first (a Polish identity card of
/// this shape with a valid check digit is already replaced), and a number
/// after a customer word was judged before this rule.
fn closing_ticket(text: &str, chunks: &[Chunk], i: usize) -> bool {
    if i == 0 || i + 1 != chunks.len() || !text[chunks[i].end..].trim().is_empty() {
        return false;
    }
    let prev = &text[chunks[i - 1].start..chunks[i - 1].end];
    if !prev.ends_with(['.', '!', '?']) || prev.len() < 3 {
        return false;
    }
    let core = &text.as_bytes()[chunks[i].core.0..chunks[i].core.1];
    let letters = core.iter().take_while(|b| b.is_ascii_uppercase()).count();
    let rest = &core[letters..];
    let rest = rest.strip_prefix(b"-").or_else(|| rest.strip_prefix(b"/")).unwrap_or(rest);
    (2..=5).contains(&letters) && (5..=8).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit)
}

/// The verdict of the rules that read a number with its neighbours, for a
/// chunk with a digit: `Replaced` (a token) or `Keep`, `None` when none
/// applies.
fn number_rule(text: &str, chunks: &[Chunk], i: usize) -> Option<Verdict> {
    let c = &chunks[i];
    // `customer CUST-20381318`, `n.º cliente CLI-4119-6431`: a person's number
    // even where it has a reference's shape; `from the wallet bc1q…`: the
    // victim's account
    if after_customer_word(text, chunks, i) || victim_wallet(text, chunks, i) {
        return Some(Verdict::Replaced);
    }
    if after_reference_cue(text, chunks, i)
        || time_after_cue(text, chunks, i)
        || after_bot_word(text, chunks, i)
        || closing_ticket(text, chunks, i)
    {
        return Some(Verdict::Keep);
    }
    password_shape(&text[c.core.0..c.core.1], &text[c.core.1..c.end]).then_some(Verdict::Replaced)
}

/// Words naming a wallet's owner as the victim (any part of a chunk:
/// `Opfer-Wallet`, `slachtoffer`, `vítima`).
const WALLET_VICTIM_WORDS: &[&str] = &[
    "victim",
    "victim's",
    "victims",
    "opfer",
    "opfers",
    "geschädigte",
    "geschädigten",
    "victime",
    "vittima",
    "víctima",
    "victima",
    "vítima",
    "vitima",
    "slachtoffer",
    "ofiary",
    "ofiara",
    "poszkodowanego",
    "poszkodowanej",
    "customer",
    "customer's",
    "client",
    "kunde",
    "kunden",
    "cliente",
    "klant",
    "klienta",
];

/// Words naming a wallet's owner as the attacker: the wallet stays.
const WALLET_ATTACKER_WORDS: &[&str] = &[
    "scammer",
    "scammer's",
    "scammers",
    "fraudster",
    "fraudster's",
    "attacker",
    "attacker's",
    "criminal",
    "criminals",
    "perpetrator",
    "suspect",
    "mule",
    "actor",
    "betrüger",
    "betrügers",
    "täter",
    "täters",
    "escroc",
    "escrocs",
    "fraudeur",
    "fraudeurs",
    "arnaqueur",
    "truffatore",
    "truffatori",
    "criminale",
    "estafador",
    "estafadores",
    "defraudador",
    "burlão",
    "burlao",
    "golpista",
    "oszusta",
    "oszustów",
    "oszust",
    "przestępcy",
    "oplichter",
    "oplichters",
    "dader",
    "daders",
    "ransom",
    "mixer",
    "exchange",
    "c2",
];

/// Wallet words: the source wallet of a payment (`from the wallet X`) is
/// the payer's.
const WALLET_WORDS: &[&str] = &[
    "wallet",
    "wallets",
    "portefeuille",
    "carteira",
    "monedero",
    "cartera",
    "billetera",
    "portfel",
    "portfela",
    "portfelu",
    "geldbörse",
    "adres",
    "adresu",
    "address",
    "adresse",
    "indirizzo",
    "dirección",
    "endereço",
];

/// Prepositions of a payment's source, and the articles that may follow.
const FROM_WORDS: &[&str] =
    &["from", "von", "aus", "van", "uit", "depuis", "dal", "dallo", "dalla", "da", "desde", "z", "ze"];
const ARTICLES: &[&str] = &[
    "the", "his", "her", "their", "dem", "der", "seiner", "ihrer", "le", "la", "son", "sa", "el", "su", "o", "a",
    "het", "de", "zijn", "haar", "il", "suo", "sua", "swojego",
];

/// Chunk `i` is a wallet address that belongs to the victim: a victim word
/// nearer before it than any attacker word (`Opfer-Wallet X`, `Carteira da
/// vítima X`), or the source of a payment (`sent 0.42 BTC from the wallet
/// X to the scammer wallet Y`, `dal wallet X`, `z portfela X`). A wallet
/// with no role word stays: it is the exchange's intelligence.
fn victim_wallet(text: &str, chunks: &[Chunk], i: usize) -> bool {
    let core = &text[chunks[i].core.0..chunks[i].core.1];
    if !is_wallet(core) {
        return false;
    }
    let word = |k: usize| text[chunks[k].core.0..chunks[k].core.1].to_lowercase();
    let mut wallet_at = None;
    for back in 1..=5usize.min(i) {
        let k = i - back;
        let w = word(k);
        // a sentence ends between them
        if text[chunks[k].core.1..chunks[k].end].contains(['.', '!', '?', ';']) {
            return false;
        }
        let parts = || w.split(['-', '\'', '’']);
        if parts().any(|p| WALLET_ATTACKER_WORDS.contains(&p)) {
            return false;
        }
        if parts().any(|p| WALLET_VICTIM_WORDS.contains(&p)) {
            return true;
        }
        if WALLET_WORDS.contains(&w.as_str()) {
            wallet_at.get_or_insert(k);
            continue;
        }
        // `from the wallet`: a source preposition before the wallet word
        if wallet_at.is_some() && FROM_WORDS.contains(&w.as_str()) {
            return true;
        }
        if !(wallet_at.is_some() && ARTICLES.contains(&w.as_str())) {
            return false;
        }
    }
    false
}

/// A URL path segment after a person key ([`super::scan::person_path_key`])
/// that is a login or an account number, not a page of the kit: digits
/// (four or more), or words joined by `.`, `_` or `-` of which one at
/// least the vocabulary does not know (`oluwaseun_mwangi`,
/// `Esperanza.ElAmrani`); `login`, `verify`, `settings` stay.
pub fn person_segment(seg: &str) -> bool {
    if !(3..=64).contains(&seg.len()) || seg.contains(['%', '?', '=']) {
        return false;
    }
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    // a hex token (`80446ec8`) is the kit's session, not a number of a person
    let hex = seg.bytes().all(|b| b.is_ascii_hexdigit()) && digits < seg.len();
    if digits >= 4 {
        return !hex;
    }
    let parts: Vec<&str> = seg.split(['.', '_', '-']).filter(|p| !p.is_empty()).collect();
    // a file name (`invoice.pdf`) is the kit's
    if parts.len() < 2 || parts.last().is_some_and(|p| FILE_EXTENSIONS.contains(&p.to_ascii_lowercase().as_str())) {
        return false;
    }
    parts.iter().all(|p| p.chars().all(char::is_alphabetic))
        && parts.iter().any(|p| vocab().flags_of(p) & (LOWER | NOUN | SECURITY | FREQ) == 0)
}

/// The number of a Telegram bot or of the chat it posts to (`Telegram bot
/// 6241991297`, `bot de Telegram 7105146011`, `chat_id -1005549148180`):
/// the attacker's exfiltration channel, kept like an indicator.
fn after_bot_word(text: &str, chunks: &[Chunk], i: usize) -> bool {
    let core = &text[chunks[i].core.0..chunks[i].core.1];
    // a group chat's id is negative (`-1005549148180`)
    let digits = core.strip_prefix('-').unwrap_or(core);
    if !(6..=14).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    for back in 1..=3usize.min(i) {
        let c = &chunks[i - back];
        let w = text[c.core.0..c.core.1].to_ascii_lowercase();
        if matches!(
            w.as_str(),
            "bot"
                | "bota"
                | "bots"
                | "telegram-bot"
                | "telegram-bota"
                | "bot_id"
                | "botid"
                | "bot-id"
                | "chat_id"
                | "chatid"
        ) {
            return true;
        }
        if !matches!(w.as_str(), "telegram" | "de" | "di" | "do" | "id" | "") {
            return false;
        }
    }
    false
}

fn is_lead(c: char) -> bool {
    matches!(
        c,
        '(' | '['
            | '{'
            | '"'
            | '\''
            | '«'
            | '“'
            | '„'
            | '‚'
            | '‘'
            | '<'
            | '*'
            | '•'
            | '¿'
            | '¡'
            | ','
            | ';'
            | '|'
            | '^'
    )
}

fn is_trail(c: char) -> bool {
    matches!(
        c,
        ')' | ']'
            | '}'
            | '"'
            | '\''
            | '»'
            | '”'
            | '’'
            | '“'
            | '.'
            | ','
            | ';'
            | ':'
            | '!'
            | '?'
            | '>'
            | '|'
            | '…'
            | '^'
    )
}

fn core_of(text: &str, s: usize, e: usize) -> (usize, usize) {
    let t = &text[s..e];
    // a plain word: no lead, no trail
    let b = t.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphanumeric) && b.last().is_some_and(u8::is_ascii_alphanumeric) {
        return (s, e);
    }
    let lead = t.len() - t.trim_start_matches(is_lead).len();
    let rest = &t[lead..];
    let mut core = rest.trim_end_matches(is_trail);
    // keep a closing bracket that belongs to the core: `[WORD]`, `evil[.]com`
    if core.len() < rest.len() && rest.as_bytes()[core.len()] == b']' && core.as_bytes().contains(&b'[') {
        core = &rest[..core.len() + 1];
    }
    if core.len() < rest.len() && rest.as_bytes()[core.len()] == b')' && core.as_bytes().contains(&b'(') {
        core = &rest[..core.len() + 1];
    }
    (s + lead, s + lead + core.len())
}

/// True when chunk `i` starts a sentence, a line, a list item or a parenthesis.
fn starts_sentence(text: &str, chunks: &[Chunk], i: usize) -> bool {
    let c = &chunks[i];
    if c.core.0 > c.start {
        // after an opening bracket or quote
        return true;
    }
    let Some(p) = i.checked_sub(1).map(|k| &chunks[k]) else {
        return false;
    };
    if text.as_bytes()[p.end..c.start].contains(&b'\n') {
        return true;
    }
    let trail = &text[p.core.1..p.end];
    let prev = &text[p.core.0..p.core.1];
    // an initial (`L. Rietveld`, `J.-P. Martin`) ends no sentence
    let mut pc = prev.chars();
    if trail == "." && pc.next().is_some_and(char::is_uppercase) && pc.next().is_none() {
        return false;
    }
    trail.chars().any(|c| matches!(c, '.' | '!' | '?' | ':' | ';' | '…'))
        || matches!(prev, "-" | "–" | "—" | "*" | "•" | "|" | "/" | ">")
}

/// The line holding `at` is a certificate's issuer (`Issuer: C=US,
/// O=SSL.com, CN=SSL.com EV Code Signing Intermediate CA RSA R3`): a
/// certification authority, no person; its capitalised words head words.
fn on_issuer_line(text: &str, at: usize) -> bool {
    let line = &text[text[..at].rfind('\n').map_or(0, |k| k + 1)..];
    let head = line.split(':').next().unwrap_or("").trim();
    head.len() < line.len()
        && matches!(
            head.to_lowercase().as_str(),
            "issuer" | "aussteller" | "émetteur" | "emisor" | "emittente" | "uitgever" | "wystawca" | "emissor"
        )
}

/// Chunk `i` is a word of a form's field label: the chunks from a line
/// start up to one ending in `:` (at most five) are all words
/// (`Registrar Abuse Contact Email:`, `Registrant Name:`). Capitalised
/// words there head a label, they name no one.
fn in_field_label(text: &str, chunks: &[Chunk], i: usize) -> bool {
    let word = |k: usize| text[chunks[k].core.0..chunks[k].core.1].chars().all(char::is_alphabetic);
    if !word(i) {
        return false;
    }
    // back to the line start
    let mut first = i;
    while first > 0 && !text.as_bytes()[chunks[first - 1].end..chunks[first].start].contains(&b'\n') {
        first -= 1;
        if i - first > 4 || !word(first) || text[chunks[first].core.1..chunks[first].end].contains(':') {
            return false;
        }
    }
    // on to the chunk ending in `:`
    (i..chunks.len().min(first + 5)).any(|k| {
        let trail = &text[chunks[k].core.1..chunks[k].end];
        (k == i || word(k)) && trail.starts_with(':')
    }) && (i..chunks.len().min(first + 5))
        .take_while(|&k| !text[chunks[k].core.1..chunks[k].end].starts_with(':'))
        .all(word)
}

/// A word, a number and a closing symbol (`Verano1995!`, `Juve2019!`,
/// `Lato1986#`): the shape people give passwords, not prose.
fn password_shape(core: &str, trail: &str) -> bool {
    let b = core.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let digits = b[letters..].iter().take_while(|c| c.is_ascii_digit()).count();
    letters >= 3
        && digits >= 2
        && letters + digits == b.len()
        && trail.starts_with(['!', '#', '$', '%', '*'])
        && !trail[1..].starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// A field value that is one password of the common shapes: a word, a
/// number of two to four digits and a symbol or a capital (`Amore1994-`,
/// `Hasi123?`, `summer.1980X`, `Lato_2019!`). The word is no security,
/// product or acronym word (`Win10-x64`, `apt_28`, `log4j`).
fn value_password(v: &str) -> bool {
    let b = v.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if !(3..=12).contains(&letters) {
        return false;
    }
    let mut i = letters;
    if matches!(b.get(i), Some(b'.' | b'_')) {
        i += 1;
    }
    let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(2..=4).contains(&digits) {
        return false;
    }
    i += digits;
    // the closing symbol or capital (`pain.001`, a message type, has none)
    let closed = matches!(&b[i..], [c] if b"!?#$%*&+-.".contains(c) || c.is_ascii_uppercase());
    let word = &v[..letters];
    closed && vocab().flags_of(word) & SECURITY == 0 && !with_lower(word, |l| super::lexicon::acronyms().contains(&l))
}

fn is_capitalised(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

/// Alphabetic parts of a compound and the digit runs between them, as byte
/// ranges: split at joiners and at lower-to-upper case changes.
fn split_parts(core: &str) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut prev: Option<char> = None;
    for (i, c) in core.char_indices() {
        let word = c.is_alphanumeric();
        let boundary = match prev {
            Some(p) => {
                (p.is_lowercase() && c.is_uppercase())
                    || (p.is_ascii_digit() != c.is_ascii_digit() && word && p.is_alphanumeric())
            }
            None => false,
        };
        if (!word || boundary)
            && let Some(s) = start.take()
        {
            parts.push((s, i));
        }
        if word && start.is_none() {
            start = Some(i);
        }
        prev = Some(c);
    }
    if let Some(s) = start {
        parts.push((s, core.len()));
    }
    parts
}

/// Which parts of a compound are a person's name: a first name of the
/// gazetteer joined to another alphabetic part that is not a security word
/// (either order: `anna.kowalska`, `Kowalska_Anna`), unless both are very
/// common words.
fn name_parts(core: &str, parts: &[(usize, usize)]) -> Vec<bool> {
    let mut names = vec![false; parts.len()];
    if parts.len() < 2 {
        return names;
    }
    let info: Vec<(bool, u8, bool, bool)> = parts
        .iter()
        .map(|&(s, e)| {
            let w = &core[s..e];
            let alpha = w.chars().nth(1).is_some() && w.chars().all(char::is_alphabetic);
            let (first, word) = if alpha {
                with_lower(w, |l| first_names().contains(l)).then(|| with_lower(w, |l| FIRST_NAME_WORDS.contains(&l)))
            } else {
                None
            }
            .map_or((false, false), |word| (!word, word));
            (alpha, vocab().flags_of(w), first, word)
        })
        .collect();
    for k in 0..parts.len() - 1 {
        let (a, b) = (info[k], info[k + 1]);
        let joiner = &core[parts[k].1..parts[k + 1].0];
        if !a.0 || !b.0 || !matches!(joiner, "" | "." | "_" | "-" | " " | "%20" | "+") {
            continue;
        }
        let free = |f: u8| f & SECURITY == 0;
        let both_common = a.1 & VERY_COMMON != 0 && b.1 & VERY_COMMON != 0;
        // a first name with an unknown or merely common word
        let word = |f: u8| f & (LOWER | NOUN | FREQ) != 0;
        // first name + a word that is not common (anna.kowalska), or
        // an unknown word + first name (kowalczyk_anna)
        let first_last = a.2 && free(a.1) && free(b.1) && (b.1 & VERY_COMMON == 0 || b.2);
        let last_first = b.2 && free(b.1) && free(a.1) && (!word(a.1) || a.2);
        // two title-case words, each a first name or a word no list knows,
        // in any script (`Kwame_Mensah`, `Иван_Петров`; not `Faktura_Anna`)
        let (wa, wb) = (&core[parts[k].0..parts[k].1], &core[parts[k + 1].0..parts[k + 1].1]);
        // a frequency-only form vouches for a lower-case word, not a capitalised one
        let unknown = |f: u8| f & (LOWER | NOUN | SECURITY) == 0;
        let titled = is_title_word(wa)
            && is_title_word(wb)
            && !matches!(joiner, "." | "")
            && free(a.1)
            && free(b.1)
            && (a.2 || unknown(a.1))
            && (b.2 || unknown(b.1));
        // a first name that is also a word, then a word no list knows
        // (`frank-mcallister`, `Ernst_Kuhnhackl`)
        let word_first = a.3 && b.0 && b.1 == 0;
        if (first_last || last_first || titled || word_first) && !both_common {
            names[k] = true;
            names[k + 1] = true;
        }
        // a particle between a first name and a surname (`Jan_de_Vries`)
        if k + 2 < parts.len()
            && (a.2 || (is_title_word(wa) && unknown(a.1)))
            && with_lower(wb, |l| PARTICLES.contains(&l))
        {
            let wc = &core[parts[k + 2].0..parts[k + 2].1];
            let c = info[k + 2];
            // `Jan_de_Vries`, and in a lower-case slug `thibault-le-goff`
            let lower_surname = wc.chars().all(char::is_lowercase) && c.1 & (LOWER | NOUN | FREQ | SECURITY) == 0;
            if (is_title_word(wc) || lower_surname) && free(c.1) && c.0 {
                names[k..=k + 2].iter_mut().for_each(|n| *n = true);
            }
        }
    }
    // a second surname after a name of two words (`rosario-brandao-figueiredo`):
    // a further word that is neither common nor a security term, joined the same way
    for k in 2..parts.len() {
        let joiner = &core[parts[k - 1].1..parts[k].0];
        if names[k - 1]
            && names[k - 2]
            && (k < 3 || !names[k - 3])
            && !names[k]
            && info[k].0
            && info[k].1 & (VERY_COMMON | SECURITY) == 0
            && matches!(joiner, "_" | "-" | " " | "%20" | "+")
        {
            names[k] = true;
        }
    }
    names
}

/// `Kwame`, `Иван`: an upper-case letter, then at least one letter, all
/// lower case (stricter than the scanner's `is_title`, which takes `McDonald`).
fn is_title_word(w: &str) -> bool {
    let mut cs = w.chars();
    cs.next().is_some_and(char::is_uppercase) && !cs.as_str().is_empty() && cs.all(char::is_lowercase)
}

/// A file name or path segment written only in letters of scripts without
/// case (Han, kana, Hangul...), at most 8 of them: a personal name as often
/// as not (`王伟.pdf`, `佐藤_由紀`).
fn caseless_name(stem: &str) -> bool {
    let mut n = 0;
    for c in stem.chars() {
        if matches!(c, '_' | ' ' | '-' | '.' | '·' | '・') {
            continue;
        }
        if !c.is_alphabetic() || c.is_ascii() || c.is_lowercase() || c.is_uppercase() {
            return false;
        }
        n += 1;
    }
    (1..=8).contains(&n)
}

/// Replaces names in one URL path segment or file name (decoded):
/// `~user` and `@handle` whole, and first names joined to another word.
/// `None` when there is none.
pub fn url_segment_names(seg: &str) -> Option<String> {
    if let Some(rest) = seg.strip_prefix('~').or_else(|| seg.strip_prefix('@'))
        && !rest.is_empty()
        && rest.chars().all(|c| c.is_alphanumeric() || "._-".contains(c))
    {
        return Some(format!("{}{}", &seg[..1], Class::Name.label()));
    }
    let stem = seg.rsplit_once('.').map_or(seg, |(s, ext)| if ext.len() <= 5 { s } else { seg });
    if !stem.is_empty() && caseless_name(stem) {
        return Some(format!("{}{}", Class::Name.label(), &seg[stem.len()..]));
    }
    if !seg.bytes().any(|b| matches!(b, b'.' | b'_' | b'-' | b' ' | b'+')) && !has_camel(seg) {
        return None;
    }
    if seg.contains('@') {
        // an e-mail address: the detectors take it whole
        return None;
    }
    let parts = split_parts(seg);
    let names = name_parts(seg, &parts);
    if !names.contains(&true) {
        return None;
    }
    let mut out = String::with_capacity(seg.len());
    let mut last = 0;
    let mut k = 0;
    while k < parts.len() {
        if !names[k] {
            k += 1;
            continue;
        }
        out.push_str(&seg[last..parts[k].0]);
        while k + 1 < parts.len() && names[k + 1] {
            k += 1;
        }
        out.push_str(Class::Name.label());
        last = parts[k].1;
        k += 1;
    }
    out.push_str(&seg[last..]);
    Some(out)
}

/// A host whose subdomain labels name a person (a kit's subdomain per
/// victim, `wieslawa-lewandowska.autoryzacja-pkobp.cfd`): those labels
/// become `[NAME]`, the registered domain stays. `None` when none does.
pub fn host_names(host: &str) -> Option<String> {
    let n = host.split('.').count();
    if n < 3 || !host.contains(['-', '_']) {
        return None;
    }
    let mut out = String::with_capacity(host.len());
    let mut changed = false;
    for (i, label) in host.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        // the whole label goes (`ji-woo-patel`: a name the lists know only in part)
        // letters only, two to four parts (`wieslawa-lewandowska`), not
        // `apollo-blue7` or a longer phrase
        let parts = label.split(['-', '_']).count();
        if i + 2 < n
            && (2..=4).contains(&parts)
            && label.bytes().all(|c| c.is_ascii_alphabetic() || c == b'-' || c == b'_')
            && (url_segment_names(label).is_some() || unknown_words(label))
        {
            out.push_str(Class::Name.label());
            changed = true;
        } else {
            out.push_str(label);
        }
    }
    changed.then_some(out)
}

/// A label of two or three words that no list knows (`yeferson-ramdin`):
/// a per-victim name the gazetteer lacks. One known word (`ing-herstel`,
/// `laposte-suivi`) keeps the label.
fn unknown_words(label: &str) -> bool {
    let parts = || label.split(['-', '_']);
    (2..=3).contains(&parts().count()) && parts().all(|w| (3..=15).contains(&w.len()) && vocab().flags_of(w) == 0)
}

fn has_camel(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(2).any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

/// `evil[.]com` → `evil.com` for the shape tests.
fn refang(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b == b'[' || b == b'(') {
        std::borrow::Cow::Owned(s.replace("[.]", ".").replace("(.)", ".").replace("[dot]", ".").replace("[:]", ":"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn is_ip(t: &str) -> bool {
    if !t.bytes().any(|b| b == b'.' || b == b':') || !t.bytes().any(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let t = t.trim_start_matches('[');
    let host = t.split('/').next().unwrap_or(t);
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    // 1.2.3.4:443, [2001:db8::1]:443
    if let Some((h, port)) = host.rsplit_once(':')
        && port.bytes().all(|b| b.is_ascii_digit())
        && !port.is_empty()
    {
        let h = h.trim_end_matches(']');
        return h.parse::<std::net::Ipv4Addr>().is_ok() || h.parse::<Ipv6Addr>().is_ok();
    }
    false
}

fn is_hash(t: &str) -> bool {
    if t.len() < 32 {
        return false;
    }
    let h = t
        .split_once(':')
        .map_or(t, |(p, h)| if p.len() <= 6 && p.bytes().all(|b| b.is_ascii_alphanumeric()) { h } else { t });
    matches!(h.len(), 32 | 40 | 56 | 64 | 96 | 128) && h.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Unix time in seconds or milliseconds (2001 to 2036). Ten or thirteen
/// digits are also the length of many personal numbers, so in free text
/// it passes only after a time word ([`time_after_cue`]).
fn is_unix_time(t: &str) -> bool {
    t.len() >= 10
        && !t.starts_with('0')
        && t.parse::<u64>().is_ok_and(|n| {
            // 2005 to 2035: the years an exchange's events fall in (`1003000126`,
            // a number of 2001's shape, is more likely some identifier)
            (1_104_537_600..2_051_222_400).contains(&n) || (1_104_537_600_000..2_051_222_400_000).contains(&n)
        })
}

/// Words after which a Unix time is a time (`ts=`, `epoch`, `seen at`).
const TIME_WORDS: &[&str] = &[
    "ts",
    "timestamp",
    "time",
    "epoch",
    "unix",
    "unixtime",
    "created",
    "updated",
    "modified",
    "seen",
    "first_seen",
    "last_seen",
    "firstseen",
    "lastseen",
    "date",
    "at",
    "iat",
    "exp",
    "nbf",
    "since",
    "until",
    "expires",
    "zeit",
    "zeitstempel",
    "um",
    "horodatage",
    "heure",
    "hora",
    "ora",
    "tempo",
    "czas",
    "tijd",
    "tijdstempel",
    "om",
    "datum",
];

/// Chunk `i` is a Unix time after a time word: `ts=1700000000`, or a
/// time word in one of the two chunks before it (`seen at 1700000000`).
fn time_after_cue(text: &str, chunks: &[Chunk], i: usize) -> bool {
    let core = &text[chunks[i].core.0..chunks[i].core.1];
    if let Some((k, v)) = core.split_once('=') {
        return is_unix_time(v) && with_lower(k, |l| TIME_WORDS.contains(&l));
    }
    is_unix_time(core)
        && (1..=2usize.min(i)).any(|back| {
            let c = &chunks[i - back];
            with_lower(&text[c.core.0..c.core.1], |l| TIME_WORDS.contains(&l))
        })
}

/// Dates, times, timestamps, amounts, versions, small numbers, percentages.
fn is_number_shape(t: &str) -> bool {
    let t = t.trim_start_matches(['+', '-', '~', '#', '€', '$', '£', '≈', '<', '>', '=']);
    let t = t.trim_end_matches(['%', '€', '$', '£', 'h', 'Z', 'z']);
    if t.is_empty() || !t.as_bytes()[0].is_ascii_digit() {
        return false;
    }
    if !t.bytes().all(|b| b.is_ascii_digit() || b".,:/-'T+".contains(&b)) {
        return false;
    }
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    if digits <= 6 {
        return true;
    }
    let groups: Vec<&str> = t.split(|c: char| !c.is_ascii_digit()).collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    // 2026-11-20, 20.11.2026, 20/11/2026, 2026-11-20T10:32:11, 20.11.2026 10:32
    let date = (lens.len() >= 3
        && ((lens[0] == 4 && lens[1] <= 2 && lens[2] <= 2) || (lens[0] <= 2 && lens[1] <= 2 && lens[2] == 4)))
        && lens[3..].iter().all(|&l| l <= 2 || l == 3 || l == 6);
    // 1,250.00 / 1.250,00 / 1'250'000 / 12500.00 (not `130-692-544`)
    let grouped = lens.len() >= 2
        && lens[0] <= 3
        && lens[0] > 0
        && lens[1..lens.len() - 1].iter().all(|&l| l == 3)
        && (lens[lens.len() - 1] == 3 || lens[lens.len() - 1] == 2);
    let amount = !t.contains(['-', '/', ':']) && (grouped || (lens.len() == 2 && lens[1] == 2 && lens[0] <= 9));
    // 10.0.19045.3803, 537.36
    let version = t.contains('.')
        && !t.contains([',', ':', '/', '-'])
        && lens.len() <= 4
        && lens.iter().all(|&l| (1..=5).contains(&l));
    date || amount || version
}

/// A chunk written `key=value` or `KEY:value` (an upper-case key such as
/// `DNS:`, `IP:`, `URI:`), split.
fn key_value(core: &str) -> Option<(&str, &str)> {
    let i = core.find(['=', ':'])?;
    let (k, v) = (&core[..i], &core[i + 1..]);
    let kb = k.as_bytes();
    let caps = kb.iter().all(u8::is_ascii_uppercase);
    let ok_key = !kb.is_empty()
        && kb[0].is_ascii_alphabetic()
        && kb.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        && if core.as_bytes()[i] == b'=' {
            kb.iter().filter(|c| c.is_ascii_alphabetic()).count() >= 3 || (caps && kb.len() <= 2)
        } else {
            caps && kb.len() >= 2 && kb.len() <= 5
        };
    (ok_key && !v.is_empty() && !v.starts_with(['=', '/', ':'])).then_some((k, v))
}

/// Fingerprints of TLS servers and certificates: JA4 (`t13d1513h2_…_…`),
/// JARM (62 hex digits), a serial or thumbprint in hex (24 digits or more,
/// or colon-separated bytes, at least eight).
fn is_fingerprint(t: &str) -> bool {
    let b = t.as_bytes();
    let hex = |s: &[u8]| s.iter().all(u8::is_ascii_hexdigit);
    if b.len() >= 24
        && b.len() <= 128
        && hex(b)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
    {
        return true;
    }
    if b.len() >= 23 && t.split(':').all(|g| g.len() == 2 && hex(g.as_bytes())) {
        return true;
    }
    // JA4: [tq][version 2][d|i][2 digits][2 digits][alpn 2]_[12 hex]_[12 hex]
    let mut parts = t.split('_');
    let (Some(a), Some(x), Some(y), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    a.len() == 10
        && matches!(a.as_bytes()[0], b't' | b'q' | b'd')
        && a.bytes().all(|c| c.is_ascii_alphanumeric())
        && x.len() == 12
        && y.len() == 12
        && hex(x.as_bytes())
        && hex(y.as_bytes())
}

/// `23.10.72`, `01/12/65`, `7-11-98`: day, month (either order) and a
/// two-digit year of the last century (30 to 99). No event of a threat
/// report is dated so; a birth date in a row or a form is.
fn short_year_birth_date(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() < 6 || b.len() > 8 || !b[0].is_ascii_digit() {
        return false;
    }
    let Some(sep) = b.iter().copied().find(|c| !c.is_ascii_digit()) else {
        return false;
    };
    if !matches!(sep, b'.' | b'/' | b'-') {
        return false;
    }
    let mut it = t.split(char::from(sep));
    let (Some(a), Some(m), Some(y), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return false;
    };
    let num = |s: &str| {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse::<u8>().ok()).flatten()
    };
    let (Some(a), Some(m), Some(y)) = (num(a), num(m), num(y)) else {
        return false;
    };
    let day_month = |d: u8, m: u8| (1..=31).contains(&d) && (1..=12).contains(&m);
    y >= 30 && t.len() - t.rfind(char::from(sep)).unwrap_or(0) == 3 && (day_month(a, m) || day_month(m, a))
}

/// CVE, CWE, ATT&CK, ASN, KB and bulletin identifiers.
fn is_security_id(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() < 2 || b.len() > 24 || !b[0].is_ascii_alphabetic() || !b.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let mut buf = [0u8; 24];
    buf[..b.len()].copy_from_slice(b);
    buf[..b.len()].make_ascii_uppercase();
    let u = std::str::from_utf8(&buf[..b.len()]).unwrap_or_default();
    let digits =
        |s: &str, min: usize, max: usize| (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(r) = u.strip_prefix("CVE-") {
        return r.split_once('-').is_some_and(|(y, n)| digits(y, 4, 4) && digits(n, 4, 7));
    }
    for (p, min, max) in [
        ("CWE-", 1, 5),
        ("CAPEC-", 1, 5),
        ("AS", 1, 10),
        ("ASN", 1, 10),
        ("KB", 6, 7),
        ("TA", 4, 4),
        ("G", 4, 4),
        ("S", 4, 4),
        ("M", 4, 4),
    ] {
        if let Some(r) = u.strip_prefix(p)
            && digits(r, min, max)
        {
            return true;
        }
    }
    if let Some(r) = u.strip_prefix('T') {
        let (a, b) = r.split_once('.').unwrap_or((r, "000"));
        return digits(a, 4, 4) && digits(b, 3, 3);
    }
    if let Some(r) = u.strip_prefix("MS") {
        return r.split_once('-').is_some_and(|(y, n)| digits(y, 2, 2) && digits(n, 3, 3));
    }
    u.starts_with("GHSA-") && u.len() == 19
}

/// Cryptocurrency addresses by shape: Bitcoin (legacy, bech32), Ethereum,
/// Monero, Tron, Litecoin. Attacker wallets are the intelligence (a
/// victim's is told by [`victim_wallet`]).
fn is_wallet(t: &str) -> bool {
    let b58 = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() && !b"0OIl".contains(&b));
    if t.len() < 26 || t.len() > 95 {
        return false;
    }
    (t.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("bc1"))
        && (14..=74).contains(&t.len())
        && t.bytes().all(|b| b.is_ascii_alphanumeric()))
        || (t.starts_with("0x") && t.len() == 42 && t[2..].bytes().all(|b| b.is_ascii_hexdigit()))
        || (t.starts_with(['1', '3']) && (26..=35).contains(&t.len()) && b58(t))
        || (t.starts_with('4') && t.len() == 95 && b58(t))
        || (t.starts_with('T') && t.len() == 34 && b58(t))
        // Litecoin: legacy `L…`, script `M…`, bech32 `ltc1…`
        || (t.starts_with(['L', 'M']) && (33..=34).contains(&t.len()) && b58(t) && t.bytes().any(|b| b.is_ascii_digit()))
        || (t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("ltc1")) && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// An e-mail address the detectors left in place: they ran first and
/// removed every personal one (consumer providers, first names in the local
/// part...), so what remains is the attacker's (`service@mail.paypa1.example`).
fn is_attacker_email(t: &str) -> bool {
    let Some((local, domain)) = t.split_once('@') else { return false };
    !local.is_empty()
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
        && is_domain(domain)
}

/// A domain name by shape with a known public suffix (`evil-login.com`).
/// An Android or iOS application id, a reversed domain (`com.pdfreader.86chg`,
/// `org.telegram.messenger`): the malicious app's name, not a host.
fn is_app_id(t: &str) -> bool {
    const HEADS: &[&str] =
        &["com", "org", "net", "io", "app", "apps", "me", "co", "de", "fr", "it", "es", "nl", "pl", "pt"];
    let mut labels = t.split('.');
    let head = labels.next().unwrap_or("");
    let rest: Vec<&str> = labels.collect();
    HEADS.contains(&head)
        && (2..=5).contains(&rest.len())
        && rest.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 40
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// A host name and a port (`cncnode22.xyz:3778`, a C2 written as malware
/// configurations print it).
fn is_host_port(t: &str) -> bool {
    t.rsplit_once(':').is_some_and(|(host, port)| {
        (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit()) && is_domain(host)
    })
}

/// A host name with a path and no scheme (`dvla-licence-renew.net/uploads/`):
/// the host is the attacker's, and a path segment that may hold a name or
/// an e-mail address does not pass.
fn is_host_path(t: &str) -> bool {
    let Some((host, path)) = t.split_once('/') else {
        return false;
    };
    // every word of the path is one the vocabulary knows (`uploads`,
    // `login.php`), not a handle (`revolut.me/agnieszkazet`)
    is_domain(host)
        && !path.contains(['@', '?', '=', '%'])
        && path.split(['/', '-', '_', '.']).all(|w| {
            !w.bytes().any(|b| b.is_ascii_digit())
                && (w.chars().count() <= 3
                    || vocab().flags_of(w) != 0
                    || with_lower(w, |l| FILE_EXTENSIONS.contains(&l)))
        })
}

fn is_domain(t: &str) -> bool {
    let t = t.trim_end_matches('.');
    if !t.contains('.') || t.len() > 253 {
        return false;
    }
    if !t
        .split('.')
        .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return false;
    }
    let lower: std::borrow::Cow<str> =
        if t.bytes().any(|b| b.is_ascii_uppercase()) { t.to_ascii_lowercase().into() } else { t.into() };
    let last = lower.rsplit('.').next().unwrap_or("");
    if FILE_EXTENSIONS.contains(&last) && !matches!(last, "zip" | "one") {
        return false;
    }
    // a name that is itself a public suffix (`x.at.ply.gg` under a private
    // wildcard, `com.pl`) is a host shape too
    psl::suffix(lower.as_bytes()).is_some_and(|s| s.is_known())
}

/// A bank's identifier code that no word can be (`COBADEFFXXX`, `AIBKIE2D`,
/// `BPOTBEB1`): a digit in it, or the primary office's `XXX`. (Letters only,
/// `DEUTDEFF` could be a surname in capitals: it stays only under a `bic`
/// or `swift` key.)
fn is_bank_code(t: &str) -> bool {
    let b = t.as_bytes();
    super::checks::bic(b) && (b.ends_with(b"XXX") || b[6..].iter().any(u8::is_ascii_digit))
}

/// `Mozilla/5.0`, `Chrome/120.0.0.0`, `AppleWebKit/537.36`: a product
/// word and a version.
fn is_user_agent_part(t: &str) -> bool {
    let Some((name, ver)) = t.split_once('/') else {
        return false;
    };
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphabetic())
        && !ver.is_empty()
        && ver.as_bytes()[0].is_ascii_digit()
        && ver.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && split_parts(name)
            .iter()
            .all(|&(s, e)| e - s <= 3 || vocab().flags_of(&name[s..e]) & (LOWER | NOUN | SECURITY) != 0)
}

/// Prefixes of device names that name their user (`LAPTOP-BIANCHI`,
/// `LT-MERCIER`, `WS-GAUDIN-40`).
const DEVICE_PREFIXES: &[&str] = &[
    "lt", "laptop", "pc", "ws", "wks", "desktop", "nb", "notebook", "mbp", "macbook", "imac", "tab", "iphone", "ipad",
];
/// Words such devices are named after that are no person.
const DEVICE_WORDS: &[&str] = &[
    "reception",
    "finance",
    "sales",
    "admin",
    "office",
    "kasse",
    "empfang",
    "buchhaltung",
    "accueil",
    "compta",
    "hr",
    "lab",
    "test",
    "dev",
    "prod",
    "kiosk",
    "print",
    "scan",
    "guest",
    "shared",
    "meeting",
    "conf",
    "boardroom",
    "home",
];

/// A device name holding its user's surname (`Computer=LAPTOP-BIANCHI.corp.local`):
/// the name part becomes `[NAME]`, the rest stays.
fn device_name(core: &str) -> Option<String> {
    if core.len() < 5 || !core.bytes().any(|c| c == b'-' || c == b'_') {
        return None;
    }
    let b = core.as_bytes();
    for (p, _) in core.char_indices() {
        if p > 0 && !matches!(b[p - 1], b'=' | b'\\' | b'/' | b':' | b'"' | b'\'' | b'>') {
            continue;
        }
        let rest = &core[p..];
        let Some(j) = rest.find(['-', '_']) else { continue };
        if !DEVICE_PREFIXES.iter().any(|d| d.eq_ignore_ascii_case(&rest[..j])) {
            continue;
        }
        let name = &rest[j + 1..];
        let person = |w: &str| {
            w.len() >= 2
                && w.chars().all(char::is_alphabetic)
                && vocab().flags_of(w) & (VERY_COMMON | SECURITY) == 0
                && !DEVICE_WORDS.iter().any(|d| d.eq_ignore_ascii_case(w))
        };
        // the name runs over its parts (`PC-KARIM-HADDAD`), up to a number or a word
        let mut n = 0;
        loop {
            let part = &name[n..];
            let len = part.find(['-', '_', '.', '\\', '/', '<']).unwrap_or(part.len());
            if !person(&part[..len]) || (n == 0 && len < 3) {
                break;
            }
            n += len;
            if !name[n..].starts_with(['-', '_']) {
                break;
            }
            n += 1;
        }
        let n = name[..n].trim_end_matches(['-', '_']).len();
        if n == 0 {
            return None;
        }
        let at = p + j + 1;
        return Some(format!("{}{}{}", &core[..at], Class::Name.label(), &core[at + n..]));
    }
    None
}

/// A login of an initial and a surname (`k.wolf`, `galli.f`, `d.nogueira`).
/// With `_` (`rui_g`, `g_rui`) the word must be a first name of the
/// gazetteer: snake-case identifiers join words with it too.
fn login_of_initial(core: &str) -> Option<String> {
    let (a, z, under) = match core.split_once('.') {
        Some((a, z)) => (a, z, false),
        None => core.split_once('_').map(|(a, z)| (a, z, true))?,
    };
    let letters = |s: &str| s.chars().all(|c| c.is_alphabetic() && c.is_lowercase());
    let one = |s: &str| s.len() == 1 && letters(s);
    let word = |s: &str| s.chars().count() >= 3 && letters(s) && (!under || first_names().contains(s));
    ((one(a) && word(z)) || (word(a) && one(z))).then(|| Class::Name.label().to_owned())
}

/// A named kernel object of a malware report (`Global\\e3d0ea2d-cc1d`,
/// `Local\\SM0:4476:304:WilStaging_02`, `BaseNamedObjects\\x`): the
/// sample's own mutex or event name.
fn is_kernel_object(t: &str) -> bool {
    ["Global\\", "Local\\", "BaseNamedObjects\\", "Session\\"].iter().any(|p| {
        t.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_alphanumeric() || b"_-.:{}\\".contains(&c))
        })
    })
}

/// Placeholders written by people or other tools (`[REDACTED]`): a fixed
/// list, so that `[ANNA]` is not one.
fn is_bracket_label(t: &str) -> bool {
    const LABELS: &[&str] = &[
        "[REDACTED]",
        "[REMOVED]",
        "[SNIP]",
        "[...]",
        "[…]",
        "[WORD]",
        "[TOKEN]",
        "[NUMBER]",
        "[NAME]",
        "[EMAIL]",
        "[PHONE]",
        "[IBAN]",
        "[CARD]",
        "[IP]",
        "[URL]",
        "[DOB]",
        "[ADDRESS]",
        "[CREDENTIAL]",
        "[NATIONAL-ID]",
    ];
    LABELS.contains(&t)
}

#[cfg(test)]
mod tests;
