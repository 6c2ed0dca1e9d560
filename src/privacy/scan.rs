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

use std::collections::HashSet;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

use super::checks;
use super::lexicon;
use super::phone::{self, Evidence};
use crate::policy::DataCategory;

/// What a span holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
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
    pub kind: Kind,
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
            _ => return None,
        })
    }
}

/// The cue table of `lexicon/cues.txt`, in file order (the aho-corasick
/// pattern index is the position here; of two equal phrases the first wins).
fn cue_table() -> &'static [(&'static str, Cue)] {
    static CUES: OnceLock<Vec<(&'static str, Cue)>> = OnceLock::new();
    CUES.get_or_init(|| {
        lexicon::cue_lines()
            .iter()
            .map(|l| {
                let (kind, phrase) = l.split_once(' ').unwrap_or((l, ""));
                // compiled-in data, checked by the `cue_table_parses` test
                (phrase, Cue::parse(kind).expect("lexicon/cues.txt: unknown cue kind"))
            })
            .collect()
    })
}

/// True when a lower-case word ends with a street suffix and has at least
/// three letters before it (`roseweg`, `köhlergasse`, `suzelaan`).
fn street_suffix(lw: &str) -> bool {
    let ws = words();
    (2..=9).any(|n| lw.len() > n + 2 && lw.is_char_boundary(lw.len() - n) && ws.suffixes.contains(&lw[lw.len() - n..]))
}

static NAMES: OnceLock<FastSet<&'static str>> = OnceLock::new();

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

type FastSet<T> = HashSet<T, std::hash::BuildHasherDefault<Fnv>>;

/// The first-name gazetteer (see `first_names.LICENSE.md`).
pub fn first_names() -> &'static FastSet<&'static str> {
    NAMES.get_or_init(|| {
        include_str!("first_names.txt").lines().filter(|l| !l.is_empty() && !lexicon::not_names().contains(l)).collect()
    })
}

/// The compiled detectors; built once per sanitiser.
pub struct Detectors {
    /// All candidate patterns in one alternation (one pass, ASCII mode).
    re: Regex,
    /// The same patterns anchored, to tell which one a match is.
    which: regex::bytes::RegexSet,
    cues: AhoCorasick,
    streets: FastSet<&'static str>,
}

const G_URL: usize = 1;
const G_EMAIL: usize = 2;
const G_IPV4: usize = 3;
const G_IPV6: usize = 4;
const G_DATE: usize = 5;
const G_IBAN: usize = 6;
const G_CF: usize = 7;
const G_NIE: usize = 8;
const G_DNI: usize = 9;
const G_NINO: usize = 10;

impl Detectors {
    pub fn new() -> Result<Detectors, String> {
        let alts = [
            r"((?i:(?:https?|hxxps?|ftps?|wss?)(?:://|\[://\]|\[:\]//))[^\s<>\x22']+)",
            r"|([A-Za-z0-9._%+\-\x80-\xff]+(?:@|%40|&\#64;|&\#x40;|\xef\xbc\xa0|\[@\]|\(@\)|\{@\}|\[at\]|\(at\)|\{at\})[A-Za-z0-9\-\x80-\xff]+(?:(?:\.|\[\.\]|\(\.\)|\[dot\]|\(dot\))[A-Za-z0-9\-\x80-\xff]+)+)",
            r"|([0-9]{1,3}(?:(?:\.|\[\.\])[0-9]{1,3}){3})",
            r"|([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})",
            r"|([0-9]{4}[\-/.][0-9]{1,2}[\-/.][0-9]{1,2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-][0-9]{4}|[0-9]{1,2}\.? ?(?i:jan|feb|f\xc3\xa9v|fev|mar|m\xc3\xa4r|apr|avr|may|mai|mag|jun|jui|giu|jul|lug|aug|ao\xc3\xbb|aou|ago|sep|set|oct|okt|ott|out|nov|dec|d\xc3\xa9c|dic|dez|ene|abr|sty|lut|kwi|maj|cze|lip|sie|wrz|pa\xc5\xba|paz|lis|gru|mrt|mei|gen)[A-Za-z\x80-\xff]{0,9}\.? [0-9]{4}|(?i:jan|feb|f\xc3\xa9v|fev|mar|m\xc3\xa4r|apr|avr|may|mai|mag|jun|jui|giu|jul|lug|aug|ao\xc3\xbb|aou|ago|sep|set|oct|okt|ott|out|nov|dec|d\xc3\xa9c|dic|dez|ene|abr|sty|lut|kwi|maj|cze|lip|sie|wrz|pa\xc5\xba|paz|lis|gru|mrt|mei|gen)[A-Za-z\x80-\xff]{0,9}\.? [0-9]{1,2},? [0-9]{4})",
            r"|([A-Z]{2}[0-9]{2}(?:[ \-]?[A-Z0-9]){11,32})",
            r"|([A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z])",
            r"|([XYZ][ \-]?[0-9]{7}[ \-]?[A-Z])",
            r"|([0-9]{1,2}\.?[0-9]{3}\.?[0-9]{3}[ \-]?[A-Z])",
            r"|([A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Z])",
            r"|((?:\+|\b|\()[0-9](?:[0-9]|\)?[ .\-/]{1,2}[0-9]|[ .\-/]{0,2}\([0-9]{1,4}\) ?[0-9])*)",
        ];
        let alts: Vec<&str> = alts.iter().map(|a| a.trim_start_matches('|')).collect();
        let pattern = format!("(?-u){}", alts.join("|"));
        let re = regex::bytes::RegexBuilder::new(&pattern).unicode(false).build().map_err(|e| e.to_string())?;
        let which = regex::bytes::RegexSetBuilder::new(alts.iter().map(|a| format!("(?-u)^(?:{a})$")))
            .unicode(false)
            .build()
            .map_err(|e| e.to_string())?;
        let cues = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(cue_table().iter().map(|(w, _)| *w))
            .map_err(|e| e.to_string())?;
        let _ = first_names();
        Ok(Detectors { re, which, cues, streets: lexicon::street_words().iter().copied().collect() })
    }

    /// True when the string cannot contain anything any detector looks
    /// for: no digit, no `@`, no upper-case letter, no non-ASCII byte.
    /// Lets most tags and clean URL parts through without a scan.
    pub fn obviously_clean(s: &str, scope: &Scope) -> bool {
        s.bytes().all(|b| {
            !(b.is_ascii_digit()
                || b == b'@'
                || b == b'%'
                || b == b'['
                || b >= 0x80
                || (b.is_ascii_uppercase() && (scope.names || scope.addresses)))
        }) && !(scope.credentials && s.contains(['=', ':']))
    }

    /// Scans `text` and appends findings (sorted, non-overlapping) to `out`.
    pub fn scan(&self, text: &str, scope: &Scope, rec: &RecordCtx, out: &mut Vec<Found>) {
        let bytes = text.as_bytes();
        let mut cues: Vec<(usize, usize, Cue)> = Vec::new();
        if !scope.url_part {
            for m in self.cues.find_iter(bytes) {
                let (s, e) = (m.start(), m.end());
                let word_end = bytes[e - 1].is_ascii_alphanumeric() || bytes[e - 1] >= 0x80;
                if (s > 0 && is_word_byte(bytes[s - 1])) || (word_end && e < bytes.len() && is_word_byte(bytes[e])) {
                    continue;
                }
                cues.push((s, e, cue_table()[m.pattern().as_usize()].1));
            }
        }
        let first = out.len();
        for m in self.re.find_iter(bytes) {
            let (s, e) = (m.start(), m.end());
            // the first pattern (in priority order) matching the whole span
            let Some(g) = self.which.matches(&bytes[s..e]).iter().next().map(|i| i + 1) else {
                continue;
            };
            match g {
                G_URL => {
                    if scope.url_part {
                        continue;
                    }
                    let mut e = e;
                    while e > s && matches!(bytes[e - 1], b'.' | b',' | b';' | b':' | b')' | b']' | b'!' | b'?') {
                        e -= 1;
                    }
                    let e = ceil_boundary(text, e);
                    out.push(Found { start: s, end: e, kind: Kind::Url, norm: String::new() });
                }
                G_EMAIL => self.email(text, s, e, rec, out),
                // IPs inside URL parts are redirect targets and infrastructure
                G_IPV4 | G_IPV6 if scope.url_part => {}
                G_IPV4 => {
                    if !self.ipv4(text, s, e, rec, &cues, out) {
                        // not an address ("06.12.34.56.78"): maybe a number
                        let mut end = e;
                        while end < bytes.len()
                            && (bytes[end].is_ascii_digit()
                                || (matches!(bytes[end], b'.' | b' ' | b'-')
                                    && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)))
                        {
                            end += 1;
                        }
                        self.number(text, s, end, scope, &cues, out);
                    }
                }
                G_IPV6 => self.ipv6(text, s, e, rec, &cues, out),
                G_DATE => self.date(text, s, e, scope, &cues, out),
                G_IBAN => self.iban(text, s, e, out),
                G_CF | G_NIE | G_DNI | G_NINO => {
                    if !bounded(bytes, s, e) {
                        continue;
                    }
                    let compact: Vec<u8> =
                        bytes[s..e].iter().copied().filter(|b| !matches!(b, b' ' | b'-' | b'.')).collect();
                    let ok = match g {
                        G_CF => checks::it_codice_fiscale(&compact),
                        G_NIE | G_DNI => checks::es_dni_nie(&compact),
                        _ => checks::uk_nino(&compact, !bytes[s..e].contains(&b' ')),
                    };
                    if ok {
                        out.push(Found {
                            start: s,
                            end: e,
                            kind: Kind::Data(DataCategory::NationalId),
                            norm: String::from_utf8_lossy(&compact).into_owned(),
                        });
                    } else if g == G_DNI {
                        let mut end = e;
                        while end > s && !bytes[end - 1].is_ascii_digit() {
                            end -= 1;
                        }
                        self.number(text, s, end, scope, &cues, out);
                    }
                }
                _ => self.number(text, s, e, scope, &cues, out),
            }
        }
        if scope.credentials {
            self.credentials(text, &cues, out);
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
        normalise_spans(&mut out[first..]);
        let merged = merge(out.split_off(first));
        out.extend(merged);
    }

    fn email(&self, text: &str, s: usize, e: usize, rec: &RecordCtx, out: &mut Vec<Found>) {
        let raw = &text[s..ceil_boundary(text, e)];
        let obfuscated = raw.bytes().any(|c| matches!(c, b'%' | b'&' | b'[' | b'(' | b'{') || c >= 0x80);
        let norm = if !obfuscated {
            raw.to_owned()
        } else {
            raw.replace("%40", "@")
                .replace("&#64;", "@")
                .replace("&#x40;", "@")
                .replace('\u{ff20}', "@")
                .replace("[@]", "@")
                .replace("(@)", "@")
                .replace("{@}", "@")
                .replace("[at]", "@")
                .replace("(at)", "@")
                .replace("{at}", "@")
                .replace("[.]", ".")
                .replace("(.)", ".")
                .replace("[dot]", ".")
                .replace("(dot)", ".")
        };
        let Some((local, domain)) = norm.rsplit_once('@') else {
            return;
        };
        let local = local.trim_start_matches(['.', '-', '+', '%']);
        let tld = domain.rsplit('.').next().unwrap_or("");
        if local.is_empty() || tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic() || b >= 0x80) {
            return;
        }
        let domain = domain.to_lowercase();
        if let Some(h) = &rec.host
            && (domain == *h || h.ends_with(&format!(".{domain}")))
        {
            return; // the attacker's own domain: intelligence
        }
        let start = s + (raw.len() - raw.trim_start_matches(['.', '-', '+', '%']).len());
        out.push(Found {
            start,
            end: ceil_boundary(text, e),
            kind: Kind::Data(DataCategory::Email),
            norm: format!("{}@{}", local.to_lowercase(), domain),
        });
    }

    fn ipv4(
        &self,
        text: &str,
        s: usize,
        e: usize,
        rec: &RecordCtx,
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) -> bool {
        let b = text.as_bytes();
        if (s > 0 && (b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'.'))
            || (e < b.len()
                && (b[e].is_ascii_alphanumeric() || (b[e] == b'.' && b.get(e + 1).is_some_and(u8::is_ascii_digit))))
        {
            return false;
        }
        let raw = text[s..e].replace("[.]", ".");
        let Ok(ip) = std::net::Ipv4Addr::from_str(&raw) else {
            return false;
        };
        self.ip(IpAddr::V4(ip), s, e, rec, cues, out);
        true
    }

    fn ipv6(
        &self,
        text: &str,
        s: usize,
        e: usize,
        rec: &RecordCtx,
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) {
        if !bounded(text.as_bytes(), s, e) || e - s < 6 {
            return;
        }
        let Ok(ip) = std::net::Ipv6Addr::from_str(&text[s..e]) else {
            return;
        };
        self.ip(IpAddr::V6(ip), s, e, rec, cues, out);
    }

    fn ip(&self, ip: IpAddr, s: usize, e: usize, rec: &RecordCtx, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
        if Some(ip) == rec.value_ip || crate::model::is_reserved_ip(ip) {
            return;
        }
        if rec.host.as_deref() == Some(ip.to_string().as_str()) {
            return;
        }
        // the nearest network-role cue before the address decides
        let role = cues
            .iter()
            .rev()
            .find(|c| c.1 <= s && s - c.1 <= 48 && matches!(c.2, Cue::VictimNet | Cue::AttackerNet | Cue::Person))
            .map(|c| c.2);
        // an attacker cue keeps the address only when it is right before it
        // ("C2 server 1.2.3.4"); "Beacon C2 z routera klienta 1.2.3.4" is a victim
        let attacker_near = cues
            .iter()
            .rev()
            .find(|c| c.1 <= s && s - c.1 <= 48 && matches!(c.2, Cue::VictimNet | Cue::AttackerNet | Cue::Person))
            .is_some_and(|c| c.2 == Cue::AttackerNet && s - c.1 <= 16);
        if attacker_near || (role.is_none() && rec.attacker_key) {
            return;
        }
        out.push(Found { start: s, end: e, kind: Kind::Data(DataCategory::Ip), norm: ip.to_string() });
    }

    fn date(&self, text: &str, s: usize, e: usize, scope: &Scope, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
        let b = text.as_bytes();
        if !bounded(b, s, e) {
            return;
        }
        let raw = &text[s..ceil_boundary(text, e)];
        // month-name form: the word must be a month
        if raw.bytes().any(|c| c.is_ascii_alphabetic() || c >= 0x80) {
            let word: String = raw.chars().filter(|c| c.is_alphabetic()).take(3).flat_map(char::to_lowercase).collect();
            if !lexicon::months().contains(&word.as_str()) {
                // not a date: the digits may still be something else
                return;
            }
        }
        let year = raw.split(|c: char| !c.is_ascii_digit()).find(|p| p.len() == 4).unwrap_or("");
        let birth = !scope.phone_key && cues.iter().any(|c| c.2 == Cue::Birth && c.1 <= s && s - c.1 <= 40);
        if birth {
            out.push(Found {
                start: s,
                end: ceil_boundary(text, e),
                kind: Kind::Data(DataCategory::DateOfBirth),
                norm: year.to_owned(),
            });
        }
    }

    fn iban(&self, text: &str, s: usize, e: usize, out: &mut Vec<Found>) {
        let b = text.as_bytes();
        if s > 0 && b[s - 1].is_ascii_alphanumeric() {
            return;
        }
        // positions of the significant characters, to map a valid prefix back
        let mut pos = Vec::with_capacity(40);
        let mut compact = String::with_capacity(40);
        for (i, &c) in b[s..e].iter().enumerate() {
            if c.is_ascii_alphanumeric() {
                pos.push(s + i);
                compact.push(c as char);
            }
        }
        let mut n = compact.len().min(34);
        while n >= 15 {
            let end = pos[n - 1] + 1;
            if (end >= b.len() || !b[end].is_ascii_alphanumeric()) && iban::Iban::from_str(&compact[..n]).is_ok() {
                out.push(Found { start: s, end, kind: Kind::Data(DataCategory::Iban), norm: compact[..n].to_owned() });
                return;
            }
            n -= 1;
        }
    }

    /// A run of digit groups: tries the longest sub-run of whole groups
    /// first, so a card followed by an expiry date or two numbers in a row
    /// are told apart.
    fn number(
        &self,
        text: &str,
        s: usize,
        e: usize,
        scope: &Scope,
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) {
        let b = text.as_bytes();
        if (s > 0
            && (b[s - 1].is_ascii_alphanumeric()
                || b[s - 1] >= 0x80
                || (b[s - 1] == b'.' && s > 1 && b[s - 2].is_ascii_digit())))
            || (e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] >= 0x80))
        {
            return;
        }
        // "CVE-2023-4966", "INC-2026-004512": an identifier, not a number
        if s >= 2 && matches!(b[s - 1], b'-' | b'_' | b'#') && b[s - 2].is_ascii_alphanumeric() {
            return;
        }
        let plus = b[s] == b'+';
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut i = s;
        while i < e {
            if b[i].is_ascii_digit() {
                let gs = i;
                while i < e && b[i].is_ascii_digit() {
                    i += 1;
                }
                groups.push((gs, i));
            } else {
                i += 1;
            }
        }
        let mut gi = 0;
        let mut digits = String::with_capacity(24);
        while gi < groups.len() {
            let mut hit = false;
            for gj in (gi..groups.len()).rev() {
                digits.clear();
                for g in &groups[gi..=gj] {
                    digits.push_str(&text[g.0..g.1]);
                }
                if digits.len() > 19 {
                    continue;
                }
                if digits.len() < 7 {
                    break;
                }
                let start = if gi == 0 && plus { s } else { groups[gi].0 };
                let end = groups[gj].1;
                let grouped = gj > gi;
                if let Some((cat, norm)) =
                    self.classify_number(&digits, gi == 0 && plus, grouped, start, b, scope, cues)
                {
                    out.push(Found { start, end, kind: Kind::Data(cat), norm });
                    gi = gj + 1;
                    hit = true;
                    break;
                }
            }
            if !hit {
                gi += 1;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn classify_number(
        &self,
        digits: &str,
        plus: bool,
        grouped: bool,
        start: usize,
        b: &[u8],
        scope: &Scope,
        cues: &[(usize, usize, Cue)],
    ) -> Option<(DataCategory, String)> {
        let d = digits.as_bytes();
        let cue_before = |kind: Cue, win: usize| cues.iter().any(|c| c.2 == kind && c.1 <= start && start - c.1 <= win);
        if !plus {
            if checks::card_pan(d) && (d.len() >= 13) {
                return Some((DataCategory::Card, digits.to_owned()));
            }
            if d.len() == 15 && checks::fr_nir(d) {
                return Some((DataCategory::NationalId, digits.to_owned()));
            }
            let id_cue = cue_before(Cue::Id, 48);
            if d.len() == 11 {
                let be_format = grouped && b.get(start + 2) == Some(&b'.');
                if (id_cue && (checks::pl_pesel(d) || checks::be_nrn(d) || checks::de_steuer_id(d)))
                    || (be_format && checks::be_nrn(d))
                {
                    return Some((DataCategory::NationalId, digits.to_owned()));
                }
            }
            if d.len() == 9 && id_cue && checks::nl_bsn(d) {
                return Some((DataCategory::NationalId, digits.to_owned()));
            }
            // A personal number named right before it, in a scheme whose
            // check digits we do not implement: removed on the cue alone.
            if (6..=13).contains(&d.len()) && cue_before(Cue::IdStrong, 24) {
                return Some((DataCategory::NationalId, digits.to_owned()));
            }
        }
        let (intl, nd) = if plus {
            (true, digits)
        } else if let Some(rest) = digits.strip_prefix("00") {
            (true, rest)
        } else {
            (false, digits)
        };
        let ev = if scope.phone_key || cue_before(Cue::Phone, 40) {
            Evidence::Cue
        } else if grouped || cue_before(Cue::Id, 24) {
            // "number 612345678": a number word lets a bare mobile count
            Evidence::Grouped
        } else {
            Evidence::Bare
        };
        if phone::is_phone(nd, intl, ev) {
            let norm = if intl { format!("+{nd}") } else { nd.to_owned() };
            return Some((DataCategory::Phone, norm));
        }
        None
    }

    fn credentials(&self, text: &str, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
        let b = text.as_bytes();
        for &(_, e, kind) in cues {
            if !matches!(kind, Cue::CredStrong | Cue::CredWeak) {
                continue;
            }
            let mut i = e;
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            let sep = i < b.len() && matches!(b[i], b':' | b'=');
            if sep {
                i += 1;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
            } else if kind == Cue::CredWeak {
                continue;
            }
            let ts = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b',' | b';' | b'"' | b'<' | b'>') {
                i += 1;
            }
            // a trailing full stop ends the sentence, not the secret
            let mut te = i;
            if te > ts + 1 && b[te - 1] == b'.' {
                te -= 1;
            }
            if te <= ts {
                continue;
            }
            let token = &text[ts..ceil_boundary(text, te)];
            let looks_secret = sep || token.bytes().any(|c| c.is_ascii_digit() || c.is_ascii_punctuation());
            if looks_secret {
                out.push(Found {
                    start: ts,
                    end: ceil_boundary(text, te),
                    kind: Kind::Data(DataCategory::Credential),
                    norm: token.to_owned(),
                });
            }
        }
    }

    fn addresses(
        &self,
        text: &str,
        lt: &str,
        toks: &[(usize, usize)],
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) {
        let b = text.as_bytes();
        // 1. after an address cue: to the end of the clause
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
            let start = i;
            let end = clause_end(text, start, 160);
            if end > start {
                out.push(Found { start, end, kind: Kind::Data(DataCategory::Address), norm: String::new() });
            }
        }
        // 2. a street-type word with a house number near it
        if !b.iter().any(u8::is_ascii_digit) {
            return;
        }
        for (k, &(ts, te)) in toks.iter().enumerate() {
            let w = &text[ts..te];
            let lw = &lt[ts..te];
            let standalone = self.streets.contains(lw);
            let compound = !standalone && is_title(w) && street_suffix(lw);
            if !standalone && !compound {
                continue;
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
                let next_ok = toks.get(k + 1).is_some_and(|&(ns, ne)| ns == after && is_title(&text[ns..ne]))
                    || toks
                        .get(k + 1)
                        .is_some_and(|&(ns, ne)| ns == after && lexicon::particles().contains(&&text[ns..ne]));
                if !next_ok {
                    continue;
                }
            }
            // a house number within 60 bytes, before the clause ends
            let limit = clause_end(text, after, 60);
            let mut num = None;
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
                    if j - i <= 8 {
                        num = Some(j);
                    }
                    break;
                }
                i += 1;
            }
            // or a house number right before ("93, rue Denis", "12 Rue X")
            let mut start = ts;
            let mut before_num = false;
            {
                let mut j = ts;
                while j > 0 && matches!(b[j - 1], b' ' | b',') {
                    j -= 1;
                }
                let mut d = j;
                while d > 0
                    && (b[d - 1].is_ascii_digit()
                        || b[d - 1].is_ascii_alphabetic() && d == j && d > 1 && b[d - 2].is_ascii_digit())
                {
                    d -= 1;
                }
                if d < j && j - d <= 5 && (d == 0 || !b[d - 1].is_ascii_alphanumeric()) && b[d].is_ascii_digit() {
                    start = d;
                    before_num = true;
                }
            }
            let end = match (num, before_num) {
                (Some(n), _) => n,
                (None, true) => {
                    // street name runs to the next comma or clause end
                    let mut j = te;
                    while j < limit && b[j] != b',' {
                        j += 1;
                    }
                    j
                }
                (None, false) => continue,
            };
            let end = extend_postcode_city(text, end);
            out.push(Found { start, end, kind: Kind::Data(DataCategory::Address), norm: String::new() });
        }
    }

    fn names(
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
        let names = first_names();
        let push = |out: &mut Vec<Found>, a: usize, z: usize| {
            out.push(Found {
                start: toks[a].0,
                end: toks[z].1,
                kind: Kind::Data(DataCategory::Name),
                norm: text[toks[a].0..toks[z].1].to_owned(),
            })
        };
        // (a) after a role word or honorific
        for &(_, e, kind) in cues {
            if kind != Cue::Person {
                continue;
            }
            let Some(k) = toks.iter().position(|t| t.0 >= e) else {
                continue;
            };
            let gap = &text[e..toks[k].0];
            if gap.len() > 3 || gap.contains(['.', ',', ';', '(', ')']) && !gap.trim().is_empty() && gap.trim() != ":" {
                continue;
            }
            // skip titles after the role word ("client M. Dupont", "Herr Dr. Weber")
            let mut k = k;
            while k + 1 < toks.len()
                && words().honorific.contains(&lt[toks[k].0..toks[k].1])
                && text[toks[k].1..toks[k + 1].0].trim_start_matches('.').trim().is_empty()
            {
                k += 1;
            }
            let w = &text[toks[k].0..toks[k].1];
            let lw = &lt[toks[k].0..toks[k].1];
            // "Client DUPONT Jean": a capitalised surname first is fine when a name follows
            let caps_start = is_caps(w, lw)
                && toks.get(k + 1).is_some_and(|t| {
                    let (nw, nl) = (&text[t.0..t.1], &lt[t.0..t.1]);
                    &text[toks[k].1..t.0] == " " && (is_title(nw) || is_caps(nw, nl))
                });
            if (is_title(w) || caps_start) && !not_name(lw) {
                let z = name_run(text, lt, toks, k);
                push(out, k, z);
            }
        }
        // (a') two or more capitalised words followed by a comma or bracket
        // and a birth, identity, address or phone cue ("Ana Lima, born ...",
        // "Jan Kowalski (PESEL ...)"), or by an e-mail in angle brackets
        let mut k = 0;
        while k < toks.len() {
            let w = &text[toks[k].0..toks[k].1];
            if !is_title(w) || not_name(&lt[toks[k].0..toks[k].1]) {
                k += 1;
                continue;
            }
            let z = name_run(text, lt, toks, k);
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
                push(out, k, z);
            }
            k = z + 1;
        }
        // (b) a known first name followed by a capitalised surname
        // (c) words echoed from an e-mail local part of the same record
        let mut k = 0;
        while k < toks.len() {
            let w = &text[toks[k].0..toks[k].1];
            if !is_title(w) || not_name(&lt[toks[k].0..toks[k].1]) {
                k += 1;
                continue;
            }
            let lw = &lt[toks[k].0..toks[k].1];
            let first_part = lw.split('-').next().unwrap_or("");
            // "August", "Will": only mid-sentence ("von August Rädel")
            let mid_sentence = k > 0
                && text[toks[k - 1].0..toks[k - 1].1].chars().next().is_some_and(char::is_lowercase)
                && text[toks[k - 1].1..toks[k].0] == *" ";
            let known =
                (names.contains(lw) || names.contains(first_part)) && (mid_sentence || !words().ambiguous.contains(lw));
            let echoed = echo(lw, rec);
            let z = name_run(text, lt, toks, k);
            let surname_follows = z > k;
            if (known && surname_follows) || (echoed && (surname_follows || known)) {
                // pull in a capitalised word just before (an echoed surname's first name)
                let mut a = k;
                if echoed && !known && a > 0 {
                    let p = &text[toks[a - 1].0..toks[a - 1].1];
                    if &text[toks[a - 1].1..toks[a].0] == " "
                        && is_title(p)
                        && !not_name(&lt[toks[a - 1].0..toks[a - 1].1])
                    {
                        a -= 1;
                    }
                }
                push(out, a, z);
                k = z + 1;
                continue;
            }
            if echoed && !surname_follows {
                push(out, k, k);
            }
            k += 1;
        }
    }
}

fn echo(lw: &str, rec: &RecordCtx) -> bool {
    if lw.chars().count() < 3 || rec.local_parts.is_empty() {
        return false;
    }
    let f = fold(lw);
    rec.local_parts.iter().any(|lp| lp.contains(f.as_str()))
}

/// Letters of an e-mail local part, folded, when it may name a person.
pub fn local_part_letters(local: &str) -> Option<String> {
    let letters: String = fold(&local.to_lowercase()).chars().filter(char::is_ascii_alphabetic).collect();
    if letters.len() < 3 || lexicon::generic_local().iter().any(|g| letters == *g) { None } else { Some(letters) }
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

/// Word tokens: runs of letters with inner `-`, `'` or `’`.
fn tokens(text: &str) -> Vec<(usize, usize)> {
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

/// A surname written in capitals (`DUPONT`), as French and Belgian forms do.
fn is_caps(w: &str, lw: &str) -> bool {
    w.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && !w.chars().any(char::is_lowercase)
        && !lexicon::acronyms().contains(&lw)
}

/// Capitalised word with at least one lower-case letter (`Dupont`, `Hans-Theo`).
fn is_title(w: &str) -> bool {
    let mut cs = w.chars();
    cs.next().is_some_and(char::is_uppercase) && cs.any(char::is_lowercase)
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

/// End of the clause starting at `from`: a full stop followed by a space and
/// a capital letter, a semicolon, a closing bracket, or `max` bytes.
fn clause_end(text: &str, from: usize, max: usize) -> usize {
    let b = text.as_bytes();
    let limit = (from + max).min(b.len());
    let mut i = from;
    while i < limit {
        match b[i] {
            b';' | b')' | b'|' => break,
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
        let postcode = has_digit && tok.len() <= 9;
        let city = !has_digit && tokens(tok).first().is_some_and(|t| is_title(&tok[t.0..t.1]));
        if postcode || city {
            // a city runs over capitalised words
            let mut k = ps;
            if city || (j < b.len() && b[j] == b' ') {
                let toks = tokens(&text[ps..clause_end(text, ps, 48)]);
                for t in toks {
                    let w = &text[ps + t.0..ps + t.1];
                    if is_title(w) || lexicon::particles().contains(&w) || w.contains('-') {
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

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b == b'_'
}

fn bounded(b: &[u8], s: usize, e: usize) -> bool {
    (s == 0 || !is_word_byte(b[s - 1])) && (e >= b.len() || !is_word_byte(b[e]))
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

/// Merges overlapping spans: the union survives, with the kind of the span
/// that started first (a URL swallows what is inside it).
fn merge(spans: Vec<Found>) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::with_capacity(spans.len());
    for f in spans {
        if let Some(last) = out.last_mut()
            && f.start < last.end
        {
            if f.end > last.end {
                last.end = f.end;
                if last.kind == Kind::Url {
                    // URL plus trailing data: treat all as the data
                    last.kind = f.kind;
                }
            }
            continue;
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(DataCategory, String)> {
        found_with(text, &RecordCtx::default())
    }

    fn found_with(text: &str, rec: &RecordCtx) -> Vec<(DataCategory, String)> {
        let d = Detectors::new().unwrap();
        let mut out = Vec::new();
        d.scan(text, &Scope::TEXT, rec, &mut out);
        out.into_iter()
            .filter_map(|f| match f.kind {
                Kind::Data(c) => Some((c, text[f.start..f.end].to_owned())),
                Kind::Url => None,
            })
            .collect()
    }

    fn has(text: &str, cat: DataCategory, s: &str) -> bool {
        found(text).iter().any(|(c, t)| *c == cat && t == s)
    }

    #[test]
    fn cue_table_parses() {
        assert_eq!(cue_table().len(), lexicon::cue_lines().len());
        assert!(cue_table().iter().all(|(p, _)| !p.is_empty() && p.trim() == *p));
    }

    #[test]
    fn emails_plain_encoded_defanged() {
        assert!(has("mail jean.dupont@orange.fr now", DataCategory::Email, "jean.dupont@orange.fr"));
        assert!(has("x=jean%40orange.fr", DataCategory::Email, "jean%40orange.fr"));
        assert!(has("contact: anna[at]web[.]de", DataCategory::Email, "anna[at]web[.]de"));
        assert!(has("mail jean&#64;gmail.com", DataCategory::Email, "jean&#64;gmail.com"));
        assert!(has("mail jean＠gmail.com", DataCategory::Email, "jean＠gmail.com"));
        assert!(has("mail jean(at)gmail(dot)com", DataCategory::Email, "jean(at)gmail(dot)com"));
        assert!(found("version 2.3@build").is_empty());
    }

    #[test]
    fn attacker_domain_email_is_kept() {
        let rec = RecordCtx { host: Some("evil-bank.top".into()), ..Default::default() };
        assert!(found_with("sent from billing@evil-bank.top", &rec).is_empty());
    }

    #[test]
    fn phones_per_locale() {
        use DataCategory::Phone;
        assert!(has("Tel. 06 12 34 56 78", Phone, "06 12 34 56 78")); // FR
        assert!(has("erreichbar unter 0151 23456789", Phone, "0151 23456789")); // DE
        assert!(has("chiamare 339 123 4567", Phone, "339 123 4567")); // IT
        assert!(has("llamar al 612 34 56 78", Phone, "612 34 56 78")); // ES
        assert!(has("bellen 06-12345678", Phone, "06-12345678")); // NL
        assert!(has("tel. 512 345 678", Phone, "512 345 678")); // PL
        assert!(has("numer 612345678 ", Phone, "612345678"));
        assert!(has("nås på 070-123 45 67", Phone, "070-123 45 67")); // SE
        assert!(has("+48 512 345 678", Phone, "+48 512 345 678"));
        assert!(has("ring 0044 7911 123456", Phone, "0044 7911 123456"));
        assert!(has("gsm 0470 12 34 56", Phone, "0470 12 34 56")); // BE
        assert!(has("tel +33 (0)6 12 34 56 78", Phone, "+33 (0)6 12 34 56 78"));
        assert!(has("Tel. (030) 1234567", Phone, "030) 1234567"));
    }

    #[test]
    fn numbers_that_are_not_phones() {
        assert!(found("Transfer of 1,250.00 EUR, ref 123456789, ts 1732097531").is_empty());
        assert!(found("seen 2026-11-20 10:32:11 and 1732097531000").is_empty());
        assert!(found("Case OP-P5D8ZN4, invoice 2024-000123").is_empty());
    }

    #[test]
    fn cards_with_separators_and_expiry() {
        let f = found("Card 4165 1728 6233 5734 (exp 09/28)");
        assert!(f.contains(&(DataCategory::Card, "4165 1728 6233 5734".into())), "{f:?}");
        assert!(has("pan 3797-1467-5794-753 used", DataCategory::Card, "3797-1467-5794-753"));
        assert!(found("order 4165172862335735 refused").is_empty(), "Luhn fails");
    }

    #[test]
    fn ibans_with_trailing_words() {
        use DataCategory::Iban;
        assert!(has("to DE89 3704 0044 0532 0130 00 FOR rent", Iban, "DE89 3704 0044 0532 0130 00"));
        assert!(has("to NL91NDXT8833502951.", Iban, "NL91NDXT8833502951"));
        assert!(found("GB00XXXX00000000000000 is not valid").is_empty());
    }

    #[test]
    fn named_personal_numbers_without_a_checksum() {
        use DataCategory::{DateOfBirth, NationalId};
        assert!(has("Kunden Erik, personnummer 850312-1234, ringde", NationalId, "850312-1234")); // SE
        assert!(has("rodné číslo 855312/1234", NationalId, "855312/1234")); // CZ
        assert!(has("CPR-nr. 120385-1234", NationalId, "120385-1234")); // DK
        assert!(has("Klient zadal kartu, nar. 12.3.1985", DateOfBirth, "12.3.1985")); // CZ birth cue
        // a number word alone is not enough
        assert!(found("case number 850312-1234").iter().all(|(k, _)| *k != NationalId));
        assert!(found("Campaign OP-P5D8ZN4, reference 20261120").iter().all(|(k, _)| *k != NationalId));
    }

    #[test]
    fn national_ids_per_country() {
        use DataCategory::NationalId;
        assert!(has("NIR 1 84 12 76 451 089 46", NationalId, "1 84 12 76 451 089 46")); // FR
        assert!(has("CF RSSMRA85T10A562S", NationalId, "RSSMRA85T10A562S")); // IT
        assert!(has("DNI 12345678Z", NationalId, "12345678Z")); // ES
        assert!(has("DNI 12.345.678-Z", NationalId, "12.345.678-Z"));
        assert!(has("NIE X1234567L", NationalId, "X1234567L")); // ES
        assert!(has("BSN 123456782", NationalId, "123456782")); // NL
        assert!(has("PESEL 44051401359", NationalId, "44051401359")); // PL
        assert!(has("NN 85.07.30-033.28", NationalId, "85.07.30-033.28")); // BE
        assert!(has("Steuer-ID 86095742719", NationalId, "86095742719")); // DE
        assert!(has("NINO AB 12 34 56 C", NationalId, "AB 12 34 56 C")); // UK
        // without a cue, 9- and 11-digit checksums are too weak
        assert!(found("order 123456782 and 44051401359").is_empty());
        assert!(found("DNI 12345678A").is_empty(), "wrong letter");
    }

    #[test]
    fn dates_only_as_birth_dates() {
        use DataCategory::DateOfBirth;
        assert!(has("née le 03/12/2004", DateOfBirth, "03/12/2004"));
        assert!(has("geboren am 14.06.1976", DateOfBirth, "14.06.1976"));
        assert!(has("nato il 5 maggio 1980", DateOfBirth, "5 maggio 1980"));
        assert!(has("DOB: 1974-04-27", DateOfBirth, "1974-04-27"));
        assert!(has("born June 14, 1976", DateOfBirth, "June 14, 1976"));
        // words between numbers are not months: the phone is still found
        assert!(has("ruf 06 oder 0612345678 an", DataCategory::Phone, "0612345678"));
        assert!(has("Tel. 06 1234 5678", DataCategory::Phone, "06 1234 5678"));
        assert!(has("tél 06.12.34.56.78", DataCategory::Phone, "06.12.34.56.78"));
        assert!(found("first seen 2026-11-20, expires 20.12.2026").is_empty());
    }

    #[test]
    fn victim_ips_but_not_attacker_ips() {
        let rec = RecordCtx { value_ip: "47.89.17.225".parse().ok(), ..Default::default() };
        let f = found_with("C2 beacon seen from customer router 89.75.18.43 to 47.89.17.225.", &rec);
        assert_eq!(f, vec![(DataCategory::Ip, "89.75.18.43".into())]);
        assert!(found("C2 server 185.220.101.4 answered").is_empty());
        assert!(found("the kit redirects to 185.220.101.4 next").is_empty());
        let f = found("Beacon C2 z routera klienta 89.75.18.43 do 47.89.17.225");
        assert!(f.iter().any(|x| x.1 == "89.75.18.43"), "{f:?}");
        assert!(found("hash 070c415ed7e70cad19461922995d84016e51c6b36d6f3c9f0ac9056a4ad683cb").is_empty());
    }

    #[test]
    fn names_after_cues_in_eu_languages() {
        use DataCategory::Name;
        assert!(has("Customer Vittoria Galvani (x)", Name, "Vittoria Galvani"));
        assert!(has("Le client Jean-Luc Moreau a saisi", Name, "Jean-Luc Moreau"));
        assert!(has("Kunde Zbigniew Brzęczyszczykiewicz hat", Name, "Zbigniew Brzęczyszczykiewicz"));
        assert!(has("la vittima Ottavio Quaranta ha", Name, "Ottavio Quaranta"));
        assert!(has("el cliente Íñigo Zubizarreta pagó", Name, "Íñigo Zubizarreta"));
        assert!(has("de klant Joost van der Berg heeft", Name, "Joost van der Berg"));
        assert!(has("poszkodowana Grażyna Wiśniewska zgłosiła", Name, "Grażyna Wiśniewska"));
        assert!(has("Opfer Hans-Theo Conradi, geboren", Name, "Hans-Theo Conradi"));
        assert!(has("le client M. Jean DUPONT a", Name, "Jean DUPONT"));
        assert!(has("Client DUPONT Jean, tel", Name, "DUPONT Jean"));
        assert!(has("Holder: MARIE CURIE.", Name, "MARIE CURIE"));
        assert!(has("zákazník Bohumil Hrabal uvedl", Name, "Bohumil Hrabal"));
        let f = found("Customer IBAN DE89 3704 0044 0532 0130 00");
        assert!(!f.iter().any(|f| f.0 == Name), "{f:?}");
    }

    #[test]
    fn names_from_gazetteer_and_email_echo() {
        use DataCategory::Name;
        assert!(has("attachment opened by Simão Antunes yesterday", Name, "Simão Antunes"));
        let rec = RecordCtx { local_parts: vec!["qxwertyzorblat".into()], ..Default::default() };
        let f = found_with("reported by Qxwerty Zorblat today", &rec);
        assert!(f.contains(&(Name, "Qxwerty Zorblat".into())), "{f:?}");
    }

    #[test]
    fn malware_and_campaigns_are_not_names() {
        assert!(found("Emotet loader, Cobalt Strike beacon, Lazarus Group, campaign OP-P5D8ZN4").is_empty());
        assert!(found("Malicious attachment. Campaign Kampagne").is_empty());
    }

    #[test]
    fn addresses_across_languages() {
        use DataCategory::Address;
        assert!(has("domicilié 93, rue Denis. Dossier", Address, "93, rue Denis"));
        assert!(has("wohnt Köhlergasse 4, 26492 Arnstadt.", Address, "Köhlergasse 4, 26492 Arnstadt"));
        assert!(has("abita in Via Clelia 12, 20100 Milano.", Address, "Via Clelia 12, 20100 Milano"));
        assert!(has("vive en Calle de Alcalá 45, Madrid.", Address, "Calle de Alcalá 45, Madrid"));
        let f = found("ul. Szafirowa 12, 00-950 Warszawa");
        assert!(f.contains(&(Address, "ul. Szafirowa 12, 00-950 Warszawa".into())), "{f:?}");
        assert!(found("sent via SMS 3 times, route 66 blocked").is_empty());
    }

    #[test]
    fn credentials_after_cues() {
        use DataCategory::Credential;
        assert!(has("password: hunter2!", Credential, "hunter2!"));
        assert!(has("Passwort Sommer2024 benutzt", Credential, "Sommer2024"));
        assert!(has("login=jdupont", Credential, "jdupont"));
        assert!(found("the password was changed").is_empty());
    }
}
