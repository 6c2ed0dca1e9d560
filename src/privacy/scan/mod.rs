//! The text scanner: finds personal data in a string and reports spans.
//!
//! One combined ASCII-mode regex (`regex::bytes`, `(?-u)`) proposes
//! candidates in a single pass; each candidate is then validated in code
//! (checksums, calling codes, boundaries). Cue words (role words,
//! honorifics, "born", "tel.", "living at" in EU languages) are found with
//! one aho-corasick pass and decide the weaker cases: a bare national
//! number is a phone only after a phone cue, a date is a birth date only
//! after a birth cue, a capitalised word is a name after a role word or when
//! it is a known first name followed by a surname. Nothing here allocates
//! per byte; clean strings cost two linear scans.
//!
//! Layout: this file holds the shared types, the candidate patterns, the
//! cue table and the span merge; each detector family has its own file
//! (`contact`: e-mail, IP, phone and card numbers; `ids`: IBAN and national
//! ids; `national`: EU national numbers found bare by their checksums;
//! `documents`: passport, identity-card, driving-licence and plate numbers;
//! `devices`: IMEI and MAC; `geo`: coordinates; `social`: handles and
//! profile links; `secrets`: bearer secrets; `dates`; `credentials`;
//! `addresses`; `names`; `roles`: what stays because it is the attacker's).
//! Word lists live in `../lexicon/*.txt`.

mod accounts;
mod addresses;
mod after_cue;
mod contact;
mod credentials;
mod dates;
mod decode;
mod devices;
mod documents;
mod geo;
mod ids;
mod names;
mod national;
mod roles;
mod secrets;
mod social;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_decode;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::lexicon;
use crate::policy::DataCategory;
use credentials::userinfo;

pub use contact::{phone_link_host, phone_path_key};
pub use decode::decode_token;
pub use names::{first_names, fold, local_part_letters};
pub use roles::encoded_word;
pub use secrets::telegram_bot_id;

/// What a span holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// Personal data of this category.
    Data(DataCategory),
    /// A URL embedded in text: scrubbed component by component.
    Url,
}

/// One finding: a byte range of the scanned text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Start byte (on a char boundary).
    pub start: usize,
    /// End byte, exclusive.
    pub end: usize,
    /// What was found.
    pub kind: SpanKind,
    /// Normalised value for pseudonyms, escrow and masks (lower-case
    /// e-mail, E.164 or national digits, compact IBAN, digits of a card).
    pub norm: String,
}

/// Which detectors apply where.
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    /// Person names (free text, attributes, tags; not URL parts).
    pub names: bool,
    /// Postal addresses.
    pub addresses: bool,
    /// Password/login cues.
    pub credentials: bool,
    /// The text sits under a phone-named key (`tel=`, `customer_phone`).
    pub phone_key: bool,
    /// URL component: embedded URLs are not expected, no free-text cues.
    pub url_part: bool,
}

impl Scope {
    pub const TEXT: Scope =
        Scope { names: true, addresses: true, credentials: true, phone_key: false, url_part: false };
    pub const URL_PART: Scope =
        Scope { names: false, addresses: false, credentials: false, phone_key: false, url_part: true };
}

/// What the record around the text tells the scanner.
#[derive(Default, Debug)]
pub struct RecordCtx {
    /// The indicator value when it is an IP (an IP equal to it is kept).
    pub value_ip: Option<IpAddr>,
    /// The indicator's host or domain (e-mails at it are the attacker's).
    pub host: Option<String>,
    /// Letters of the e-mail local parts seen anywhere in the record,
    /// lower-cased and folded: names echoed from them are names.
    pub local_parts: Vec<String>,
    /// The text is an attribute whose key names attacker infrastructure
    /// (`c2_ip`, `server`): IPs in it are kept.
    pub attacker_key: bool,
}

/// One candidate span of the text with what every detector reads around
/// it (the scope, the record, the cue words): built once per match of the
/// combined pattern and handed to its family by reference.
#[derive(Clone, Copy)]
struct Candidate<'a> {
    text: &'a str,
    /// Start byte of the span.
    start: usize,
    /// End byte of the span, exclusive (maybe inside a character).
    end: usize,
    scope: &'a Scope,
    rec: &'a RecordCtx,
    /// Cue words of the whole text, in text order.
    cues: &'a [(usize, usize, Cue)],
}

impl<'a> Candidate<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The end moved forward to a character boundary.
    fn end_char(&self) -> usize {
        ceil_boundary(self.text, self.end)
    }

    /// The span as written (up to a character boundary).
    fn raw(&self) -> &'a str {
        &self.text[self.start..self.end_char()]
    }

    /// No word byte glued on either side.
    fn bounded(&self) -> bool {
        bounded(self.bytes(), self.start, self.end)
    }

    /// Another span of the same text, with the same context.
    fn span(&self, start: usize, end: usize) -> Candidate<'a> {
        Candidate { start, end, ..*self }
    }

    /// True when a cue of `kind` ends at most `window` bytes before the span.
    fn cue_before(&self, kind: Cue, window: usize) -> bool {
        self.cues.iter().any(|c| c.2 == kind && c.1 <= self.start && self.start - c.1 <= window)
    }

    /// A finding of `cat` over the span.
    fn found(&self, cat: DataCategory, norm: String) -> Found {
        Found { start: self.start, end: self.end, kind: SpanKind::Data(cat), norm }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cue {
    Phone,
    Birth,
    Id,
    /// Names of personal identification numbers without a checksum we
    /// implement (SE personnummer, FI henkilötunnus, CZ rodné číslo, DK CPR,
    /// RO CNP, BG EGN, GR AMKA, IE PPS...): the number right after is
    /// removed whatever its digits.
    IdStrong,
    CredStrong,
    CredWeak,
    Person,
    Address,
    VictimNet,
    AttackerNet,
    /// Passport, identity-card, driving-licence names (`documents.rs`).
    Document,
    /// Vehicle plate names.
    Plate,
    /// IMEI, MAC, device-id names (`devices.rs`).
    Device,
    /// Coordinates, GPS, position (`geo.rs`).
    Location,
    /// Social networks and handle words (`social.rs`).
    Social,
    /// Cookies, tokens, API keys (`secrets.rs`).
    Secret,
    /// Order, invoice, ticket numbers: the digits after are no phone.
    Reference,
    /// Malware and actor names that end in a first name (`Agent Tesla`).
    Malware,
    /// The sending side of a mail (`Return-Path`, `Absender`).
    Sender,
    /// Bank account numbers in a domestic format (Kontonummer, BLZ, RIB).
    Account,
    /// Postal-code names (`PLZ`, `postcode`, `code postal`): the code after
    /// is an address (`addresses.rs`).
    Postcode,
    /// One-time code names (`code`, `código SMS`, `TAN`, `BLIK`): the code
    /// of four to eight digits after is the victim's secret (`secrets.rs`).
    Otp,
    /// Telephone extension names (`ext.`, `poste`, `Durchwahl`, `wew.`):
    /// the digits after reach one employee (`contact.rs`).
    Extension,
}

impl Cue {
    /// The kind names of `lexicon/cues.txt`.
    fn parse(kind: &str) -> Option<Cue> {
        Some(match kind {
            "phone" => Cue::Phone,
            "birth" => Cue::Birth,
            "id" => Cue::Id,
            "id-strong" => Cue::IdStrong,
            "cred-strong" => Cue::CredStrong,
            "cred-weak" => Cue::CredWeak,
            "person" => Cue::Person,
            "address" => Cue::Address,
            "victim-net" => Cue::VictimNet,
            "attacker-net" => Cue::AttackerNet,
            "document" => Cue::Document,
            "plate" => Cue::Plate,
            "device" => Cue::Device,
            "location" => Cue::Location,
            "social" => Cue::Social,
            "secret" => Cue::Secret,
            "reference" => Cue::Reference,
            "malware" => Cue::Malware,
            "sender" => Cue::Sender,
            "account" => Cue::Account,
            "postcode" => Cue::Postcode,
            "otp" => Cue::Otp,
            "extension" => Cue::Extension,
            _ => return None,
        })
    }
}

/// The cue table of `lexicon/cues.txt` then `lexicon/id_cues.txt`, in file
/// order (the aho-corasick pattern index is the position here; of two equal
/// phrases the first wins).
fn cue_table() -> &'static [(&'static str, Cue)] {
    static CUES: OnceLock<Vec<(&'static str, Cue)>> = OnceLock::new();
    CUES.get_or_init(|| {
        let mut table = Vec::new();
        for l in lexicon::cue_lines().iter().chain(lexicon::id_cue_lines()) {
            let (kind, phrase) = l.split_once(' ').unwrap_or((l, ""));
            // compiled-in data, checked by the `cue_table_parses` test
            let cue = Cue::parse(kind).expect("lexicon cue files: unknown cue kind");
            table.push((phrase, cue));
            // the automaton folds ASCII case only: `EMŠO`, `Žrtva`,
            // `ΗΜΕΡΟΜΗΝΙΑ` need their own entries (leaked once, at start-up)
            if !phrase.is_ascii() {
                let upper = phrase.to_uppercase();
                let mut cs = phrase.chars();
                let title: String = cs.next().map(|c| c.to_uppercase().chain(cs).collect()).unwrap_or_default();
                for v in [upper, title] {
                    if v != phrase && v.len() == phrase.len() && !table.iter().any(|(p, _)| *p == v) {
                        table.push((Box::leak(v.into_boxed_str()), cue));
                    }
                }
            }
        }
        table
    })
}

/// Word lists as hash sets, built once.
struct WordSets {
    not_surname: FastSet<String>,
    street: FastSet<&'static str>,
    honorific: FastSet<&'static str>,
    ambiguous: FastSet<&'static str>,
    particles: FastSet<&'static str>,
    suffixes: FastSet<&'static str>,
}

static WORDS: OnceLock<WordSets> = OnceLock::new();

fn words() -> &'static WordSets {
    WORDS.get_or_init(|| {
        let mut not_surname: FastSet<String> = lexicon::not_names().iter().map(|s| (*s).to_owned()).collect();
        not_surname.extend(lexicon::honorifics().iter().map(|s| (*s).to_owned()));
        not_surname.extend(
            cue_table()
                .iter()
                .filter(|(_, k)| *k == Cue::Person)
                .map(|(c, _)| c.trim_end_matches(['.', ':', ' ']).to_owned()),
        );
        WordSets {
            not_surname,
            street: lexicon::street_words().iter().copied().collect(),
            honorific: lexicon::honorifics().iter().copied().collect(),
            ambiguous: lexicon::ambiguous_first().iter().copied().collect(),
            particles: lexicon::particles().iter().copied().collect(),
            suffixes: lexicon::street_suffixes().iter().map(|s| s.trim_end_matches('.')).collect(),
        }
    })
}

/// Lower case with the same byte offsets as the input (a character whose
/// lower case has another length is left as it is), so token ranges of the
/// text index the lowered copy too.
fn lower_same_len(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            s.push(c.to_ascii_lowercase());
            continue;
        }
        let mut it = c.to_lowercase();
        match (it.next(), it.next()) {
            (Some(l), None) if l.len_utf8() == c.len_utf8() => s.push(l),
            _ => s.push(c),
        }
    }
    s
}

/// Any ASCII digit in `b` (no early exit: the loop vectorises, and most
/// texts have none).
pub(crate) fn has_digit(b: &[u8]) -> bool {
    b.iter().fold(false, |a, c| a | c.is_ascii_digit())
}

/// A URL path segment after which the next one names a person or their
/// account (`/u/<login>/`, `/konto/<number>/`, `/profile/<handle>`).
pub fn person_path_key(seg: &str) -> bool {
    [
        "u", "user", "users", "profile", "profiles", "member", "members", "konto", "account", "accounts", "compte",
        "conta", "cuenta", "conto", "rekening", "kunde", "klant", "customer", "client", "cliente",
    ]
    .iter()
    .any(|k| seg.eq_ignore_ascii_case(k))
}

/// FNV-1a: the word sets hash short keys; SipHash's DoS resistance buys
/// nothing for fixed built-in lists.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub(super) type FastSet<T> = HashSet<T, std::hash::BuildHasherDefault<Fnv>>;

/// The compiled detectors; built once per sanitiser.
pub struct Detectors {
    /// All candidate patterns in one leftmost-first search (one pass,
    /// ASCII mode); a match names the pattern that made it.
    re: regex_automata::meta::Regex,
    cues: AhoCorasick,
    streets: FastSet<&'static str>,
}

/// The candidate families of the combined pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Url,
    Email,
    Ipv4,
    Ipv6,
    Date,
    Iban,
    CodiceFiscale,
    Nie,
    Dni,
    Nino,
    /// Bearer secrets with a vendor prefix (`ghp_`, `glpat-`, `xoxb-`, JWT).
    Secret,
    /// MAC addresses (colon, dash, Cisco dotted).
    Mac,
    /// Coordinate pairs (decimal, DMS, hemisphere letters, `geo:`).
    Coord,
    /// Social-media profile links written without a scheme.
    Profile,
    /// FI henkilötunnus and SE personnummer shapes.
    Nordic,
    /// DE identity-card and passport numbers (serial + check digit).
    DeDocument,
    /// Bare digit runs of national-number lengths (PESEL, Steuer-ID, AT
    /// SVNR, PT NIF, dotted NL BSN).
    NationalDigits,
    /// Runs of digit groups: phones, cards, national numbers.
    Number,
}

/// One decimal degree: `-48.858370`.
macro_rules! deg {
    () => {
        r"-?[0-9]{1,3}\.[0-9]{2,}"
    };
}

/// Degrees, minutes and optional seconds with a hemisphere letter: `48°51'29.6"N`.
macro_rules! dms {
    ($hemi:literal) => {
        concat!(
            r"[0-9]{1,3} ?\xc2\xb0 ?[0-9]{1,2}(?:\.[0-9]+)?(?:'|\xe2\x80\xb2)(?: ?[0-9]{1,2}(?:\.[0-9]+)?(?:\x22|\xe2\x80\xb3|''))? ?",
            $hemi
        )
    };
}

/// The candidate patterns in priority order, with the family each one
/// proposes. They are searched together, leftmost-first as one
/// alternation would be; a match's family is the row of the pattern that
/// made it.
const PATTERNS: &[(Family, &str)] = &[
    (Family::Url, r"((?i:(?:https?|hxxps?|ftps?|wss?)(?:://|\[://\]|\[:\]//))[^\s<>\x22']+)"),
    (
        Family::Email,
        r"([A-Za-z0-9._%+\-\x80-\xff]+(?:@|%40|&\#64;|&\#x40;|\xef\xbc\xa0|\[@\]|\(@\)|\{@\}|\[at\]|\(at\)|\{at\})[A-Za-z0-9\-\x80-\xff]+(?:(?:\.|\[\.\]|\(\.\)|\[dot\]|\(dot\))[A-Za-z0-9\-\x80-\xff]+)+)",
    ),
    (
        Family::Secret,
        r"((?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_\-]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|[sr]k_(?:live|test)_[0-9A-Za-z]{16,}|AIza[0-9A-Za-z_\-]{35}|ya29\.[0-9A-Za-z_\-]{20,}|npm_[A-Za-z0-9]{36}|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*|(?:\bbot|\b)[0-9]{8,10}:AA[A-Za-z0-9_\-]{30,40}))",
    ),
    (
        Family::Profile,
        r"((?i:(?:www\.|m\.|mobile\.)?(?:instagram\.com|facebook\.com|fb\.com|twitter\.com|x\.com|tiktok\.com|linkedin\.com/in|t\.me|telegram\.me|snapchat\.com/add|vk\.com|threads\.net|bsky\.app/profile)/@?[A-Za-z0-9_.\-]{2,}))",
    ),
    (
        Family::Mac,
        r"([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})",
    ),
    (Family::Ipv4, r"([0-9]{1,3}(?:(?:\.|\[\.\])[0-9]{1,3}){3})"),
    (Family::Ipv6, r"([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?:\.[0-9]{1,3}){3})?)"),
    (
        Family::Coord,
        concat!(
            "((?i:geo:)?",
            deg!(),
            r"(?:\xc2\xb0)? ?[NSns]?(?:, ?|; ?|~|/| |,%20)",
            deg!(),
            r"(?:\xc2\xb0)? ?[EWOewo]?|[NSns] ?",
            deg!(),
            r"(?:\xc2\xb0)?,? ?[EWOewo] ?",
            deg!(),
            r"(?:\xc2\xb0)?|!3d",
            deg!(),
            "!4d",
            deg!(),
            "|",
            dms!("[NSns]"),
            ",? ?",
            dms!("[EWOewo]"),
            ")"
        ),
    ),
    (
        Family::Nordic,
        r"(\b[0-9]{6}[\-+A-FU-Ya-fu-y][0-9]{3}[0-9A-Ya-y]\b|\b(?:19|20)?[0-9]{6}[\-+][0-9]{4}\b|\b(?:19|20)[0-9]{10}\b)",
    ),
    (
        Family::NationalDigits,
        r"(\b(?:[0-9]{9,11}|[0-9]{2} [0-9]{3} [0-9]{3} [0-9]{3}|[0-9]{4} [0-9]{6}|[2-6][0-9]{3} [0-9]{5} [0-9]|[0-9]{3} [0-9]{3} [0-9]{3}|[0-9]{3}\.[0-9]{3}\.[0-9]{3}|[0-9]{4}\.[0-9]{2}\.[0-9]{3})\b)",
    ),
    (
        Family::Date,
        r"([0-9]{4}[\-/.] ?[0-9]{1,2}[\-/.] ?[0-9]{1,2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-][0-9]{4}|[0-9]{1,2}(?:\. ?| |-|/)(?:XII|XI|IX|X|VIII|VII|VI|IV|V|III|II|I)(?:\. ?| |-|/)[0-9]{4}|[0-9]{1,2}\.? ?(?i:de |of )?(?i:jan|feb|f\xc3\xa9v|fev|mar|m\xc3\xa4r|apr|avr|may|mai|mag|jun|jui|giu|jul|lug|aug|ao\xc3\xbb|aou|ago|sep|set|oct|okt|ott|out|nov|dec|d\xc3\xa9c|dic|dez|ene|abr|sty|lut|kwi|maj|cze|lip|sie|wrz|pa\xc5\xba|paz|lis|gru|mrt|mei|gen)[A-Za-z\x80-\xff]{0,9}\.? (?i:de |del )?[0-9]{4}|(?i:jan|feb|f\xc3\xa9v|fev|mar|m\xc3\xa4r|apr|avr|may|mai|mag|jun|jui|giu|jul|lug|aug|ao\xc3\xbb|aou|ago|sep|set|oct|okt|ott|out|nov|dec|d\xc3\xa9c|dic|dez|ene|abr|sty|lut|kwi|maj|cze|lip|sie|wrz|pa\xc5\xba|paz|lis|gru|mrt|mei|gen)[A-Za-z\x80-\xff]{0,9}\.? [0-9]{1,2},? [0-9]{4})",
    ),
    (
        Family::Iban,
        r"([A-Z]{2}[0-9]{2}(?:(?:[ \-]|\r?\n|\xc2\xa0)?[A-Z0-9]){11,32}|\b[a-z]{2}[0-9]{2}(?:(?:[ \-]|\r?\n|\xc2\xa0)?[a-z0-9]){11,32})",
    ),
    (Family::CodiceFiscale, r"((?i:[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]))"),
    (Family::Nie, r"([XYZxyz][ \-]?[0-9]{7}[ \-]?[A-Za-z])"),
    (Family::Dni, r"([0-9]{1,2}\.?[0-9]{3}\.?[0-9]{3}(?:[ \-]?[A-Z]|-?[a-z]))"),
    (Family::Nino, r"((?i:[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Z]))"),
    (Family::DeDocument, r"(\b[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}[0-9]\b)"),
    // no `(` before the first digit: a number candidate starting there would
    // hide an address or date in brackets (`(10.0.0.5)`) from the patterns
    // above; the number detector takes the bracket back itself
    (Family::Number, r"((?:\+|\b)[0-9](?:[0-9]|\)?[ .\-/]{1,2}[0-9]|[ .\-/]{0,2}\([0-9]{1,4}\) ?[0-9])*)"),
];

impl Detectors {
    pub fn new() -> Result<Detectors, String> {
        let alts: Vec<&str> = PATTERNS.iter().map(|(_, p)| *p).collect();
        // as `regex::bytes` builds it: bytes, not UTF-8, in the haystack
        let re = regex_automata::meta::Regex::builder()
            .syntax(regex_automata::util::syntax::Config::new().unicode(false).utf8(false))
            .configure(regex_automata::meta::Regex::config().utf8_empty(false))
            .build_many(&alts)
            .map_err(|e| e.to_string())?;
        let cues = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(cue_table().iter().map(|(w, _)| *w))
            .map_err(|e| e.to_string())?;
        let _ = first_names();
        Ok(Detectors { re, cues, streets: lexicon::street_words().iter().copied().collect() })
    }

    /// True when the string cannot contain anything any detector looks
    /// for: no digit, no `@`, no upper-case letter, no non-ASCII byte.
    /// Lets most tags and clean URL parts through without a scan.
    pub fn obviously_clean(s: &str, scope: &Scope) -> bool {
        s.bytes().all(|b| {
            !(b.is_ascii_digit()
                || matches!(b, b'@' | b'%' | b'[' | b'(' | b'{' | b'&' | b'\\')
                || b >= 0x80
                || (b.is_ascii_uppercase() && (scope.names || scope.addresses)))
        }) && !(scope.credentials && (s.contains(['=', ':']) || names_a_secret(s)))
            && !decode::may_spell_email(s)
    }

    /// Scans `text` and appends findings (sorted, non-overlapping) to `out`:
    /// the text as written, then its decoded views (`decode.rs`), whose
    /// findings cover the encoded original.
    pub fn scan(&self, text: &str, scope: &Scope, rec: &RecordCtx, out: &mut Vec<Found>) {
        self.scan_depth(text, scope, rec, out, decode::MAX_DEPTH);
    }

    /// [`Detectors::scan`] with `depth` decodings left.
    fn scan_depth(&self, text: &str, scope: &Scope, rec: &RecordCtx, out: &mut Vec<Found>, depth: u8) {
        let first = out.len();
        self.scan_once(text, scope, rec, out);
        self.decoded(text, scope, rec, depth, out);
        normalise_spans(&mut out[first..]);
        merge_from(out, first);
    }

    /// Every detector over the text as written (unsorted findings).
    fn scan_once(&self, text: &str, scope: &Scope, rec: &RecordCtx, out: &mut Vec<Found>) {
        let first = out.len();
        let bytes = text.as_bytes();
        let cues = if scope.url_part { Vec::new() } else { self.find_cues(bytes) };
        for m in self.re.find_iter(bytes) {
            let c = Candidate { text, start: m.start(), end: m.end(), scope, rec, cues: &cues };
            self.candidate(PATTERNS[m.pattern().as_usize()].0, &c, out);
        }
        if !cues.is_empty() && !scope.phone_key {
            self.birth_dates(text, &cues, out);
        }
        if !scope.url_part {
            self.reverse_dns(text, scope, rec, &cues, out);
        }
        if scope.credentials {
            self.credentials(text, &cues, out);
        }
        if !scope.url_part {
            self.cued_identifiers(text, &cues, rec, out);
        }
        if scope.addresses || scope.names {
            let toks = tokens(text);
            let lt = lower_same_len(text);
            if scope.addresses {
                self.addresses(text, &lt, &toks, &cues, out);
            }
            if scope.names {
                self.names(text, &lt, &toks, &cues, rec, out);
            }
        }
        self.spelled_emails(text, rec, out);
        userinfo(text, out);
        if bytes.contains(&b'^') {
            names::track_holder(text, out);
        }
        if !scope.url_part && bytes.contains(&b'/') && text.contains("///") {
            geo::what3words(text, out);
        }
        if scope.names {
            devices::profile_folders(text, out);
        }
        if cues.iter().any(|c| c.2 == Cue::Malware) {
            roles::spare_malware_names(text, &cues, out, first);
        }
    }

    /// Reads the span of `c` again with the combined pattern (a candidate
    /// that swallowed text it does not own, like the `20` of a `%20`).
    fn rescan(&self, c: &Candidate, out: &mut Vec<Found>) {
        for m in self.re.find_iter(&c.text.as_bytes()[c.start..c.end]) {
            let family = PATTERNS[m.pattern().as_usize()].0;
            self.candidate(family, &c.span(c.start + m.start(), c.start + m.end()), out);
        }
    }

    /// Hands one candidate of the combined pattern to its family.
    fn candidate(&self, family: Family, c: &Candidate, out: &mut Vec<Found>) {
        let (text, s, e) = (c.text, c.start, c.end);
        match family {
            Family::Url if c.scope.url_part => {
                // a URL inside a URL component (a redirect target): its
                // parts are read as the component's text
                let inner = text[s..e].find("://").map_or(e, |i| s + i + 3);
                let mut parts = Vec::new();
                self.scan_once(&text[inner..e], c.scope, c.rec, &mut parts);
                out.extend(parts.into_iter().map(|f| Found { start: f.start + inner, end: f.end + inner, ..f }));
            }
            Family::Url | Family::Profile => social::link(c, out),
            Family::Email => self.email(c, out),
            Family::Secret => secrets::prefixed(text, s, e, out),
            Family::Mac => {
                if !devices::mac(text, s, e, c.cue_before(Cue::Device, 24), out) && !c.scope.url_part {
                    if c.bytes()[s..e].iter().all(|b| b.is_ascii_digit() || *b == b'.') {
                        // `4556.7375.8210.4425`: digit groups (a card), not a Cisco MAC
                        self.number(&c.span(s, digit_run_end(c.bytes(), e)), out);
                        return;
                    }
                    // a longer colon run: maybe an IPv6 address
                    let end = s + c.bytes()[s..].iter().take_while(|b| b.is_ascii_hexdigit() || **b == b':').count();
                    self.ipv6(&c.span(s, end), out);
                }
            }
            // IPs inside URL parts are redirect targets and infrastructure;
            // `06.74.24.24.00` (a fifth group, a leading zero) is a number
            Family::Ipv4 if c.scope.url_part => {
                let end = digit_run_end(c.bytes(), e);
                let zero_led = text[s..e].split('.').any(|o| o.len() > 1 && o.starts_with('0'));
                if end > e || zero_led {
                    self.number(&c.span(s, end), out);
                }
            }
            Family::Ipv6 if c.scope.url_part => {}
            Family::Ipv4 => {
                if !self.ipv4(c, out) {
                    // not an address ("06.12.34.56.78"): maybe a number
                    self.number(&c.span(s, digit_run_end(c.bytes(), e)), out);
                }
            }
            Family::Ipv6 => self.ipv6(c, out),
            Family::Coord => {
                geo::coord(c, out);
            }
            f @ (Family::Nordic | Family::DeDocument | Family::NationalDigits) => self.national_bare(f, c, out),
            // `0466.45.59.58`, `0466/45.59.58`: a year never starts with 0,
            // a Belgian number does
            Family::Date
                if text.as_bytes()[s] == b'0' && text.as_bytes().get(s + 4).is_some_and(|b| !b.is_ascii_digit()) =>
            {
                self.number(&c.span(s, digit_run_end(c.bytes(), e)), out)
            }
            Family::Date => self.date(c, out),
            Family::Iban => self.iban(c, out),
            f @ (Family::CodiceFiscale | Family::Nie | Family::Dni | Family::Nino) => self.national_id(f, c, out),
            Family::Number if s > 0 && text.as_bytes()[s - 1] == b'(' && text.as_bytes()[s].is_ascii_digit() => {
                // `(0)6 12 34 56 78`, `(555) 123-4567`: the bracket is the number's
                self.number(&Candidate { start: s - 1, ..*c }, out)
            }
            Family::Number => self.number(c, out),
        }
    }

    /// The identifier families a cue word introduces (documents, plates,
    /// devices, positions, handles, secrets).
    fn cued_identifiers(&self, text: &str, cues: &[(usize, usize, Cue)], _rec: &RecordCtx, out: &mut Vec<Found>) {
        for &(cs, ce, kind) in cues {
            match kind {
                Cue::Document | Cue::IdStrong => documents::document(text, ce, out),
                Cue::Plate => documents::plate(text, ce, out),
                Cue::Device => devices::after_cue(text, ce, out),
                Cue::Location => geo::after_cue(text, ce, out),
                Cue::Social => social::handle(text, cs, ce, cues, out),
                Cue::Secret => secrets::after_cue(text, ce, out),
                Cue::Postcode => addresses::postcode_after_cue(text, ce, out),
                Cue::Otp => secrets::one_time_code(text, &text[cs..ce], ce, out),
                Cue::Extension => contact::extension(text, ce, out),
                _ => {}
            }
        }
    }

    /// Cue words standing as whole words, in text order.
    fn find_cues(&self, bytes: &[u8]) -> Vec<(usize, usize, Cue)> {
        let mut cues = Vec::new();
        for m in self.cues.find_iter(bytes) {
            let (s, e) = (m.start(), m.end());
            let word_end = bytes[e - 1].is_ascii_alphanumeric() || bytes[e - 1] >= 0x80;
            if (s > 0 && word_before(bytes, s)) || (word_end && e < bytes.len() && word_at(bytes, e)) {
                continue;
            }
            // `session-helpdesk-0y.support`, `my-session.top`: a label of a host name
            if word_end && in_host_name(bytes, s, e) {
                continue;
            }
            cues.push((s, e, cue_table()[m.pattern().as_usize()].1));
        }
        cues
    }
}

/// A lower-case sentence that may name a password or PIN ("wachtwoord is
/// zonnebloem"): the credential cue needs a scan even with no digit in it.
/// The stems are the password cues of the lexicon written in ASCII (a text
/// with another byte is scanned anyway), less those holding a shorter one.
fn names_a_secret(s: &str) -> bool {
    static STEMS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let stems = STEMS.get_or_init(|| {
        // the names of numeric codes (`OTP`, `BLIK`, `SMS code`) are left
        // out: their values hold digits, and a text with digits is scanned
        let numeric = |c: &str| ["code", "otp", "blik", "tan", "kod "].iter().any(|n| c.contains(n));
        let cues: Vec<&str> = cue_table()
            .iter()
            .filter(|(c, k)| *k == Cue::CredStrong && c.is_ascii() && !numeric(c))
            .map(|(c, _)| c.trim())
            .collect();
        cues.iter().copied().filter(|c| !cues.iter().any(|o| o.len() < c.len() && c.contains(o))).collect()
    });
    s.contains(' ') && stems.iter().any(|t| s.contains(t))
}

/// An embedded URL, without the sentence punctuation after it.
fn url(text: &str, s: usize, e: usize) -> Found {
    let bytes = text.as_bytes();
    let mut e = e;
    while e > s && matches!(bytes[e - 1], b'.' | b',' | b';' | b':' | b')' | b']' | b'!' | b'?') {
        e -= 1;
    }
    let e = ceil_boundary(text, e);
    Found { start: s, end: e, kind: SpanKind::Url, norm: String::new() }
}

/// End of the digit groups continuing at `e` ("06.12.34.56.78" after the
/// four groups an IPv4 pattern took).
fn digit_run_end(bytes: &[u8], e: usize) -> usize {
    let mut end = e;
    while end < bytes.len()
        && (bytes[end].is_ascii_digit()
            || (matches!(bytes[end], b'.' | b' ' | b'-') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)))
    {
        end += 1;
    }
    end
}

/// Word tokens: runs of letters with inner `-`, `'` or `’`.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    if text.is_ascii() { ascii_tokens(text.as_bytes()) } else { char_tokens(text) }
}

/// [`tokens`] character by character.
fn char_tokens(text: &str) -> Vec<(usize, usize)> {
    let mut toks = Vec::new();
    let mut start: Option<usize> = None;
    let mut last_letter_end = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphabetic() {
            if start.is_none() {
                start = Some(i);
            }
            last_letter_end = i + c.len_utf8();
        } else if (c == '-' || c == '\'' || c == '’')
            && start.is_some()
            && chars.peek().is_some_and(|(_, n)| n.is_alphabetic())
        {
            // inner joiner: keep going
        } else if let Some(s) = start.take() {
            toks.push((s, last_letter_end));
        }
    }
    if let Some(s) = start {
        toks.push((s, last_letter_end));
    }
    toks
}

/// [`tokens`] of an ASCII text, byte by byte (the common case: no
/// character decoding).
fn ascii_tokens(b: &[u8]) -> Vec<(usize, usize)> {
    let mut toks = Vec::with_capacity(b.len() / 6 + 1);
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        loop {
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            // an inner joiner followed by a letter keeps the word going
            if i + 1 < b.len() && matches!(b[i], b'-' | b'\'') && b[i + 1].is_ascii_alphabetic() {
                i += 1;
                continue;
            }
            break;
        }
        toks.push((start, i));
    }
    toks
}

/// Capitalised word with at least one lower-case letter (`Dupont`, `Hans-Theo`).
fn is_title(w: &str) -> bool {
    let b = w.as_bytes();
    if b.first().is_some_and(u8::is_ascii_uppercase) {
        for (i, c) in b.iter().enumerate().skip(1) {
            if c.is_ascii_lowercase() {
                return true;
            }
            if *c >= 0x80 {
                return w[i..].chars().any(char::is_lowercase);
            }
        }
        return false;
    }
    let mut cs = w.chars();
    cs.next().is_some_and(char::is_uppercase) && cs.any(char::is_lowercase)
}

/// True when the word at `s..e` is glued by `-` or `.` into a token of
/// letters, digits, dashes and dots that ends in a dot and a letter label
/// (a host name), with no `:`/`=` after it.
fn in_host_name(b: &[u8], s: usize, e: usize) -> bool {
    let host = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'.';
    let glued = (e < b.len() && matches!(b[e], b'-' | b'.') && b.get(e + 1).is_some_and(u8::is_ascii_alphanumeric))
        || (s > 0 && matches!(b[s - 1], b'-' | b'.'));
    if !glued {
        return false;
    }
    let mut a = s;
    while a > 0 && host(b[a - 1]) {
        a -= 1;
    }
    let mut z = e;
    while z < b.len() && host(b[z]) {
        z += 1;
    }
    let tok = &b[a..z];
    let tok = tok.strip_suffix(b".").unwrap_or(tok);
    let Some(dot) = tok.iter().rposition(|&c| c == b'.') else {
        return false;
    };
    let tld = &tok[dot + 1..];
    tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) && !matches!(b.get(z), Some(b':' | b'='))
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b == b'_'
}

fn bounded(b: &[u8], s: usize, e: usize) -> bool {
    (s == 0 || !word_before(b, s)) && (e >= b.len() || !word_at(b, e))
}

/// True when the character ending at `i` is a letter, a digit or `_`; a
/// quote mark or other punctuation outside ASCII (`“`, `»`, `’`) is not.
fn word_before(b: &[u8], i: usize) -> bool {
    if b[i - 1] < 0x80 {
        return is_word_byte(b[i - 1]);
    }
    let mut s = i - 1;
    while s > 0 && i - s < 4 && b[s] & 0xC0 == 0x80 {
        s -= 1;
    }
    std::str::from_utf8(&b[s..i]).ok().and_then(|t| t.chars().next()).is_none_or(char::is_alphanumeric)
}

/// True when the character starting at `i` is a letter, a digit or `_`.
fn word_at(b: &[u8], i: usize) -> bool {
    if b[i] < 0x80 {
        return is_word_byte(b[i]);
    }
    let n = match b[i] {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    };
    b.get(i..i + n)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|t| t.chars().next())
        .is_none_or(char::is_alphanumeric)
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i.min(text.len())
}

fn normalise_spans(spans: &mut [Found]) {
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
}

/// Merges the overlapping spans of `out[first..]` (sorted), in place: the
/// union survives, with the kind of the span that started first (a URL
/// swallows what is inside it; a URL with trailing data becomes the data).
fn merge_from(out: &mut Vec<Found>, first: usize) {
    if out.len() <= first {
        return;
    }
    let mut w = first;
    for r in first + 1..out.len() {
        if out[r].start < out[w].end {
            if out[r].end > out[w].end {
                out[w].end = out[r].end;
                if out[w].kind == SpanKind::Url {
                    out[w].kind = out[r].kind;
                }
            }
            continue;
        }
        w += 1;
        out.swap(w, r);
    }
    out.truncate(w + 1);
}
