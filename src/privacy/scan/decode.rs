//! The decoding pass: free text, attribute values and tags get the decoding
//! URL components get (SPEC §6, issue 10 item 4).
//!
//! Three kinds of decoding, each mapped back to the original text so that a
//! finding in decoded text redacts the *encoded* span it came from:
//!
//! - a **character view** ([`char_view`]): HTML named, decimal and hex
//!   entities, JSON/JS `\u0040` and `\x40` escapes, percent-encoding (also
//!   `%2540`, one level per depth), JS string concatenation (`"a" + "@"`),
//!   no-break and zero-width characters, fullwidth forms and mathematical
//!   digits. Each view byte remembers the
//!   original range it stands for; the view is scanned with every detector.
//! - **spelled-out e-mails** ([`Detectors::spelled_emails`]): "at … dot",
//!   "(at)", "[ at ]" and the local words for `@` and `.` of the eight
//!   languages (arroba, chiocciola, małpa, Klammeraffe, apenstaartje, ...).
//! - **blobs** ([`Detectors::blobs`]): base64, base64url and hex tokens,
//!   JWTs (header.payload.signature) and `Authorization: Basic` pairs are
//!   decoded and their text scanned; a hit replaces the whole token.
//!
//! Bounded: at most [`MAX_DEPTH`] nested decodings, blobs of at most
//! [`MAX_BLOB`] bytes and [`MAX_BLOBS`] blobs per text. Cheap when nothing
//! is encoded: each step starts with a byte test that allocates nothing.
//! Fail closed: a JWT whose payload does not decode, or percent-encoding of
//! `@` still left when the depth runs out, is removed.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;
use regex::Regex;

use super::{Candidate, Detectors, Found, RecordCtx, Scope, SpanKind};
use crate::policy::DataCategory;

/// Nested decodings followed (percent inside base64 inside an entity...).
pub(super) const MAX_DEPTH: u8 = 3;
/// Longest token decoded as a blob, in bytes.
const MAX_BLOB: usize = 8192;
/// Most blobs decoded in one text.
const MAX_BLOBS: usize = 32;
/// Shortest token tried as base64 or hex (base64 of `a@b.fr` is 8 bytes).
const MIN_BLOB: usize = 12;

/// A decoded copy of a text; byte `i` of `text` stands for
/// `starts[i]..ends[i]` of the original.
pub(super) struct View {
    pub(super) text: String,
    starts: Vec<u32>,
    ends: Vec<u32>,
}

impl View {
    /// The finding at the original's coordinates.
    pub(super) fn map(&self, f: Found) -> Option<Found> {
        if f.start >= f.end || f.end > self.text.len() {
            return None;
        }
        Some(Found { start: self.starts[f.start] as usize, end: self.ends[f.end - 1] as usize, ..f })
    }
}

/// Builds a [`View`].
struct Builder {
    view: View,
}

impl Builder {
    fn new(cap: usize) -> Builder {
        Builder {
            view: View {
                text: String::with_capacity(cap),
                starts: Vec::with_capacity(cap),
                ends: Vec::with_capacity(cap),
            },
        }
    }

    /// Copies `src[s..e]`: every byte stands for itself.
    fn copy(&mut self, src: &str, s: usize, e: usize) {
        self.view.text.push_str(&src[s..e]);
        for i in s..e {
            self.view.starts.push(i as u32);
            self.view.ends.push(i as u32 + 1);
        }
    }

    /// Pushes decoded text standing for `src[s..e]`.
    fn decoded(&mut self, text: &str, s: usize, e: usize) {
        self.view.text.push_str(text);
        for _ in 0..text.len() {
            self.view.starts.push(s as u32);
            self.view.ends.push(e as u32);
        }
    }
}

/// Bytes that may start something [`char_view`] decodes: `&`, `\`, `%`,
/// quotes (JS concatenation) and the lead bytes of no-break and zero-width
/// characters.
fn may_need_view(b: &[u8]) -> bool {
    // one branch-free pass over the bytes settles most texts
    let lead = |c: u8| matches!(c, b'&' | b'\\' | b'%' | b'"' | b'\'' | 0xC2 | 0xE2 | 0xEF | 0xF0);
    if !b.iter().fold(false, |a, &c| a | lead(c)) {
        return false;
    }
    let plus = b.contains(&b'+');
    b.iter().enumerate().any(|(i, &c)| match c {
        b'&' | b'\\' | b'%' => true,
        b'"' | b'\'' => plus,
        0xC2 => matches!(b.get(i + 1), Some(0xA0 | 0xAD)),
        0xE2 => matches!(
            (b.get(i + 1), b.get(i + 2)),
            (Some(0x80), Some(0x87 | 0x89 | 0x8B..=0x8D | 0xAF)) | (Some(0x81), Some(0xA0))
        ),
        // BOM; small forms (`﹫`); fullwidth forms (`＋４４`, `＠`)
        0xEF => matches!(b.get(i + 1), Some(0xBB | 0xB9 | 0xBC | 0xBD)),
        // mathematical digits (`𝟖𝟓𝟎`)
        0xF0 => b.get(i + 1) == Some(&0x9D) && b.get(i + 2) == Some(&0x9F),
        _ => false,
    })
}

/// The character view of `src`, or `None` when nothing in it decodes.
pub(super) fn char_view(src: &str) -> Option<View> {
    let b = src.as_bytes();
    if !may_need_view(b) {
        return None;
    }
    let mut out: Option<Builder> = None;
    let mut copied = 0;
    let mut i = 0;
    let mut buf = String::new();
    while i < b.len() {
        if b[i] == b':' && b[i + 1..].starts_with(b"//") {
            // a URL: its components are decoded when the URL is scrubbed
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            continue;
        }
        buf.clear();
        let Some(len) = decode_at(src, i, &mut buf) else {
            i += 1;
            continue;
        };
        let v = out.get_or_insert_with(|| Builder::new(src.len()));
        v.copy(src, copied, i);
        v.decoded(&buf, i, i + len);
        i += len;
        copied = i;
    }
    let mut v = out?;
    v.copy(src, copied, b.len());
    Some(v.view)
}

/// Decodes the unit starting at byte `i` into `buf`; returns its length in
/// the original, or `None` when nothing decodes there.
fn decode_at(src: &str, i: usize, buf: &mut String) -> Option<usize> {
    let b = src.as_bytes();
    match b[i] {
        b'&' => entity(&b[i..], buf),
        b'\\' => escape(&b[i..], buf),
        b'%' => percent_run(&b[i..], buf),
        b'"' | b'\'' => js_concat(&b[i..]),
        0xC2 | 0xE2 | 0xEF | 0xF0 => {
            let c = src[i..].chars().next()?;
            match c {
                '\u{a0}' | '\u{2007}' | '\u{2009}' | '\u{202f}' => buf.push(' '),
                '\u{ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' => {}
                // fullwidth ASCII: `＋４４ ７０２５`, `ｍａｒｉａ＠ｇｍａｉｌ`
                '\u{ff01}'..='\u{ff5e}' => buf.push(char::from_u32(c as u32 - 0xfee0)?),
                '\u{fe6b}' => buf.push('@'),
                '\u{fe52}' => buf.push('.'),
                // bold, double-struck, sans-serif and monospace digits
                '\u{1d7ce}'..='\u{1d7ff}' => buf.push(char::from(b'0' + ((c as u32 - 0x1d7ce) % 10) as u8)),
                _ => return None,
            }
            Some(c.len_utf8())
        }
        _ => None,
    }
}

/// HTML character references: `&#64;`, `&#x40;`, `&commat;`...
fn entity(b: &[u8], buf: &mut String) -> Option<usize> {
    const NAMED: &[(&str, char)] = &[
        ("commat", '@'),
        ("period", '.'),
        ("lowbar", '_'),
        ("hyphen", '-'),
        ("dash", '-'),
        ("plus", '+'),
        ("amp", '&'),
        ("nbsp", ' '),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("colon", ':'),
        ("sol", '/'),
        ("num", '#'),
        ("percnt", '%'),
        ("equals", '='),
        ("comma", ','),
        ("semi", ';'),
        ("lpar", '('),
        ("rpar", ')'),
        ("lsqb", '['),
        ("rsqb", ']'),
        ("lbrack", '['),
        ("rbrack", ']'),
    ];
    if b.get(1) == Some(&b'#') {
        let hex = matches!(b.get(2), Some(b'x' | b'X'));
        let start = if hex { 3 } else { 2 };
        let mut j = start;
        while j < b.len() && j - start < 8 && (if hex { b[j].is_ascii_hexdigit() } else { b[j].is_ascii_digit() }) {
            j += 1;
        }
        if j == start {
            return None;
        }
        let digits = std::str::from_utf8(&b[start..j]).ok()?;
        let n = u32::from_str_radix(digits, if hex { 16 } else { 10 }).ok()?;
        buf.push(char::from_u32(n)?);
        // the semicolon is optional in HTML for numeric references
        return Some(if b.get(j) == Some(&b';') { j + 1 } else { j });
    }
    let end = b.iter().take(9).position(|&c| c == b';')?;
    let name = std::str::from_utf8(&b[1..end]).ok()?;
    let c = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?.1;
    buf.push(c);
    Some(end + 1)
}

/// JSON/JS escapes: `\u0040`, `\x40`, `\/`.
fn escape(b: &[u8], buf: &mut String) -> Option<usize> {
    let hex = |s: &[u8]| std::str::from_utf8(s).ok().and_then(|s| u32::from_str_radix(s, 16).ok());
    match b.get(1)? {
        b'u' if b.len() >= 6 && b[2..6].iter().all(u8::is_ascii_hexdigit) => {
            buf.push(char::from_u32(hex(&b[2..6])?)?);
            Some(6)
        }
        b'x' if b.len() >= 4 && b[2..4].iter().all(u8::is_ascii_hexdigit) => {
            buf.push(char::from_u32(hex(&b[2..4])?)?);
            Some(4)
        }
        b'/' | b'@' | b'.' => {
            buf.push(b[1] as char);
            Some(2)
        }
        _ => None,
    }
}

/// A run of `%XX`, decoded when the bytes are UTF-8 (one level: `%2540`
/// becomes `%40` here and `@` at the next depth).
fn percent_run(b: &[u8], buf: &mut String) -> Option<usize> {
    let mut bytes = Vec::new();
    let mut j = 0;
    while j + 2 < b.len() && b[j] == b'%' && b[j + 1].is_ascii_hexdigit() && b[j + 2].is_ascii_hexdigit() {
        let h = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
        bytes.push(h(b[j + 1]) * 16 + h(b[j + 2]));
        j += 3;
    }
    if bytes.is_empty() {
        return None;
    }
    buf.push_str(std::str::from_utf8(&bytes).ok()?);
    Some(j)
}

/// `" + "` or `' + '` between two string literals: removed, so
/// `"jan" + "@" + "web.de"` reads `"jan@web.de"`.
fn js_concat(b: &[u8]) -> Option<usize> {
    let q = b[0];
    let mut j = 1;
    while j < b.len() && matches!(b[j], b' ' | b'\t') {
        j += 1;
    }
    if b.get(j) != Some(&b'+') {
        return None;
    }
    j += 1;
    while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\n' | b'\r') {
        j += 1;
    }
    (b.get(j) == Some(&q)).then_some(j + 1)
}

/// Words for `@` and `.` spelled out, in the eight languages (and the
/// bracketed forms). `at` and the dot words are common words: an e-mail is
/// only read from them when the whole shape fits (see `spelled_emails`).
const AT_WORDS: &[&str] = &[
    "at",
    "arroba",
    "chiocciola",
    "chiocciolina",
    "małpa",
    "malpa",
    "klammeraffe",
    "affenschwanz",
    "apenstaartje",
    "apestaart",
    "arobase",
    "arrobase",
];
const DOT_WORDS: &[&str] = &["dot", "punkt", "point", "punto", "punt", "kropka", "ponto"];

/// Spelled-out separators, found with one aho-corasick pass before the
/// regex runs.
fn spelled_ac() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        // no pattern starts with a space (a weak prefilter): the plain
        // English "at" is only looked at when a spelled dot is there too
        let mut pats: Vec<String> =
            AT_WORDS.iter().chain(DOT_WORDS).filter(|w| **w != "at").map(|w| format!("{w} ")).collect();
        for w in AT_WORDS.iter().chain(DOT_WORDS) {
            for (o, c) in [("(", ")"), ("[", "]"), ("{", "}"), ("<", ">")] {
                pats.push(format!("{o}{w}{c}"));
                pats.push(format!("{o} {w} {c}"));
            }
        }
        for (o, c) in [("(", ")"), ("[", "]"), ("{", "}")] {
            pats.push(format!("{o} @ {c}"));
            pats.push(format!("{o} . {c}"));
        }
        pats.push("@ ".to_owned());
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(pats)
            .expect("static patterns")
    })
}

/// The spelled-out e-mail pattern: local part, an `@` separator, a domain
/// with at least one `.` separator.
fn spelled_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let words = |ws: &[&str]| ws.join("|");
        let br = |w: &str| format!(r"[ \t]*[\[\(\{{<][ \t]*(?:{w})[ \t]*[\]\)\}}>][ \t]*");
        let at =
            format!(r"(?:{}|[ \t]+(?:{})[ \t]+|[ \t]+@[ \t]+)", br(&format!("{}|@", words(AT_WORDS))), words(AT_WORDS));
        let dot = format!(r"(?:{}|[ \t]+(?:{})[ \t]+)", br(&format!(r"{}|\.", words(DOT_WORDS))), words(DOT_WORDS));
        let pattern = format!(r"(?i)([\w+%\-]+(?:(?:\.|{dot})[\w+%\-]+)*)({at})([\w\-]+(?:(?:\.|{dot})[\w\-]+)+)");
        Regex::new(&pattern).expect("static pattern")
    })
}

/// Names a separator: `@`, `.` or `None` for something else.
fn separator(s: &str) -> Option<char> {
    let w: String = s.trim_matches(|c: char| c.is_whitespace() || "[](){}<>".contains(c)).trim().to_lowercase();
    if w == "@" || AT_WORDS.contains(&w.as_str()) {
        Some('@')
    } else if w == "." || DOT_WORDS.contains(&w.as_str()) {
        Some('.')
    } else {
        None
    }
}

/// Splits `s` into labels and separators of a spelled e-mail part and
/// returns the decoded part and whether a separator was spelled or
/// bracketed (not a plain `.`).
fn decode_part(s: &str) -> (String, bool) {
    let mut out = String::with_capacity(s.len());
    let mut spelled = false;
    let mut rest = s;
    while !rest.is_empty() {
        let lab = rest.find(|c: char| !(c.is_alphanumeric() || "_+%-".contains(c))).unwrap_or(rest.len());
        // a label that is itself a dot word between spaces is a separator
        out.push_str(&rest[..lab]);
        rest = &rest[lab..];
        if rest.is_empty() {
            break;
        }
        let label = |c: char| c.is_alphanumeric() || "_+%-".contains(c);
        // the separator ends where a label starts after a non-label ("punto
        // net", not "punt" + "o net")
        let sep_end = rest
            .char_indices()
            .zip(rest.chars().skip(1))
            .map(|((i, p), n)| (i + p.len_utf8(), p, n))
            .find(|&(i, p, n)| !label(p) && label(n) && separator(&rest[..i]).is_some())
            .map_or(rest.len(), |(i, _, _)| i);
        if rest[..sep_end] != *"." {
            spelled = true;
        }
        out.push(separator(&rest[..sep_end]).unwrap_or('.'));
        rest = &rest[sep_end..];
    }
    (out, spelled)
}

/// True when `s` holds a spelled-out or bracketed separator.
pub(super) fn may_spell_email(s: &str) -> bool {
    spelled_ac().is_match(s)
}

impl Detectors {
    /// E-mails with the `@` (and maybe the dots) spelled out or bracketed:
    /// `jan dot kowalski at gmail dot com`, `anna [ at ] web.de`,
    /// `mario chiocciola libero punto it`.
    pub(super) fn spelled_emails(&self, text: &str, rec: &RecordCtx, out: &mut Vec<Found>) {
        let Some(first) = spelled_ac().find(text) else {
            return;
        };
        // start a little before the first separator, at a word start: the
        // local part ("jan dot maria dot kowalski") is before it
        let mut from = first.start().saturating_sub(96);
        while from > 0 && !(text.is_char_boundary(from) && text.as_bytes()[from - 1].is_ascii_whitespace()) {
            from -= 1;
        }
        for c in spelled_re().captures_iter(&text[from..]) {
            let (Some(all), Some(local), Some(at), Some(dom)) = (c.get(0), c.get(1), c.get(2), c.get(3)) else {
                continue;
            };
            let (local_s, _) = decode_part(local.as_str());
            let (domain, spelled_dot) = decode_part(dom.as_str());
            // plain " at " (also an English word) needs a spelled dot too
            let at_word = at.as_str().trim().to_lowercase();
            let weak = at_word == "at" || at_word == "@";
            if weak && !spelled_dot {
                continue;
            }
            let tld = domain.rsplit('.').next().unwrap_or("");
            if tld.chars().count() < 2 || !tld.chars().all(char::is_alphabetic) {
                continue;
            }
            let domain = domain.to_lowercase();
            if rec.host.as_deref().is_some_and(|h| h == domain || h.ends_with(&format!(".{domain}"))) {
                continue;
            }
            out.push(Found {
                start: from + all.start(),
                end: from + all.end(),
                kind: SpanKind::Data(DataCategory::Email),
                norm: format!("{}@{domain}", local_s.to_lowercase()),
            });
        }
    }

    /// Base64, base64url and hex tokens, JWTs and `Basic` credentials:
    /// decoded, scanned (one depth less), and replaced whole when they hold
    /// personal data.
    pub(super) fn blobs(&self, text: &str, scope: &Scope, rec: &RecordCtx, depth: u8, out: &mut Vec<Found>) {
        let mut tried = 0;
        let b = text.as_bytes();
        for (s, e) in blob_tokens(b) {
            if tried >= MAX_BLOBS {
                break;
            }
            let tok = &text[s..e];
            if s > 0 && b[s - 1] == b':' && tok.starts_with("//") {
                // a URL in text: scrubbed component by component
                continue;
            }
            if let Some(p) = tok.find("eyJ") {
                // a JWT: header.payload[.signature], base64url and dots
                let jl = tok[p..]
                    .bytes()
                    .take_while(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                    .count();
                let jwt = tok[p..p + jl].trim_end_matches('.');
                if jwt.contains('.') && jwt.len() <= MAX_BLOB {
                    tried += 1;
                    self.jwt(jwt, s + p, scope, rec, depth, out);
                    continue;
                }
            }
            // dotted tokens (a blob ending a sentence): each piece
            let mut off = s;
            for piece in tok.split('.') {
                let (ps, pe) = (off, off + piece.len());
                off = pe + 1;
                if piece.len() < MIN_BLOB || piece.len() > MAX_BLOB || !looks_encoded(piece) || tried >= MAX_BLOBS {
                    continue;
                }
                tried += 1;
                self.blob(&Candidate { text, start: ps, end: pe, scope, rec, cues: &[] }, depth, out);
            }
        }
    }

    /// One base64 or hex token (the candidate span).
    fn blob(&self, c: &Candidate, depth: u8, out: &mut Vec<Found>) {
        let (s, e) = (c.start, c.end);
        let Some(inner) = decode_token(&c.text[s..e]) else {
            return;
        };
        let head = c.bytes()[s.saturating_sub(16)..s].trim_ascii_end();
        let basic = head.len() >= 5 && head[head.len() - 5..].eq_ignore_ascii_case(b"basic");
        if basic && inner.contains(':') {
            out.push(data(s, e, DataCategory::Credential, inner));
            return;
        }
        if let Some(f) = self.first_data(&inner, c.scope, c.rec, depth) {
            out.push(Found { start: s, end: e, ..f });
        }
    }

    /// A JWT: the payload (second part) decoded and read; personal claims
    /// or personal data inside remove the whole token. A payload that does
    /// not decode is removed too (fail closed).
    fn jwt(&self, tok: &str, s: usize, scope: &Scope, rec: &RecordCtx, depth: u8, out: &mut Vec<Found>) {
        const CLAIMS: &[&str] = &[
            "\"email\"",
            "\"name\"",
            "\"given_name\"",
            "\"family_name\"",
            "\"preferred_username\"",
            "\"upn\"",
            "\"unique_name\"",
            "\"phone_number\"",
            "\"birthdate\"",
            "\"address\"",
            "\"nickname\"",
            "\"username\"",
            "\"user\"",
            "\"login\"",
        ];
        let e = s + tok.len();
        let payload = tok.split('.').nth(1).unwrap_or("");
        const ENGINE: base64::engine::GeneralPurpose =
            base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient());
        let engine = &ENGINE;
        let Some(json) = engine.decode(payload.trim_end_matches('=')).ok().and_then(|v| String::from_utf8(v).ok())
        else {
            out.push(data(s, e, DataCategory::Credential, tok.to_owned()));
            return;
        };
        if let Some(f) = self.first_data(&json, scope, rec, depth) {
            out.push(Found { start: s, end: e, ..f });
        } else if CLAIMS.iter().any(|c| json.contains(c)) {
            out.push(data(s, e, DataCategory::Credential, tok.to_owned()));
        }
    }

    /// The first personal-data finding in decoded text, if any.
    fn first_data(&self, inner: &str, scope: &Scope, rec: &RecordCtx, depth: u8) -> Option<Found> {
        let mut found = Vec::new();
        self.scan_depth(inner, scope, rec, &mut found, depth.saturating_sub(1));
        found.into_iter().find(|f| matches!(f.kind, SpanKind::Data(_)))
    }

    /// The decoded views of `text`, scanned one depth less, their findings
    /// mapped back; and the fail-closed rule when the depth is used up.
    pub(super) fn decoded(&self, text: &str, scope: &Scope, rec: &RecordCtx, depth: u8, out: &mut Vec<Found>) {
        if depth == 0 {
            undecodable_at(text, out);
            return;
        }
        if has_blob_run(text.as_bytes()) {
            self.blobs(text, scope, rec, depth, out);
        }
        if let Some(view) = char_view(text) {
            let mut inner = Vec::new();
            self.scan_depth(&view.text, scope, rec, &mut inner, depth - 1);
            for f in inner {
                if f.kind == SpanKind::Url {
                    // a URL that only the view shows: its encoded original
                    // cannot be rewritten component by component, so the
                    // personal data inside it is found here instead
                    let mut parts = Vec::new();
                    self.scan_depth(&view.text[f.start..f.end], &Scope::URL_PART, rec, &mut parts, depth - 1);
                    for p in parts {
                        let p = Found { start: p.start + f.start, end: p.end + f.start, ..p };
                        out.extend(view.map(p));
                    }
                } else {
                    out.extend(view.map(f));
                }
            }
        }
    }
}

fn data(s: usize, e: usize, cat: DataCategory, norm: String) -> Found {
    Found { start: s, end: e, kind: SpanKind::Data(cat), norm }
}

/// Depth used up and an encoded `@` still there (`%252540`): the token is
/// removed rather than passed.
fn undecodable_at(text: &str, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    for (i, _) in text.match_indices("%25") {
        let mut j = i + 1;
        while b[j..].starts_with(b"25") {
            j += 2;
        }
        if !b[j..].starts_with(b"40") {
            continue;
        }
        let s = text[..i].rfind(|c: char| c.is_whitespace()).map(|k| k + 1).unwrap_or(0);
        let e = text[j..].find(|c: char| c.is_whitespace()).map(|k| j + k).unwrap_or(text.len());
        out.push(data(s, e, DataCategory::Email, String::new()));
    }
}

/// Runs of base64/hex bytes and dots; `=` only as padding (so `key=value`
/// splits), trailing dots left out.
fn blob_tokens(b: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            while i < b.len() && !(is_blob_byte(b[i]) && b[i] != b'=') {
                i += 1;
            }
            let s = i;
            while i < b.len() && (is_blob_byte(b[i]) || b[i] == b'.') {
                if b[i] == b'=' && b.get(i + 1).is_some_and(|&n| is_blob_byte(n) && n != b'=') {
                    break;
                }
                i += 1;
            }
            let mut e = i;
            while e > s && b[e - 1] == b'.' {
                e -= 1;
            }
            if i == s {
                i += 1;
            }
            if e - s >= MIN_BLOB {
                return Some((s, e));
            }
        }
        None
    })
}

fn is_blob_byte(c: u8) -> bool {
    /// One load per byte instead of five comparisons.
    static BLOB: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            t[c] = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-');
            c += 1;
        }
        t
    };
    BLOB[usize::from(c)]
}

/// A run of blob bytes long enough to decode, with the digits or mixed
/// case of encoded data: the test that keeps plain text (and host names)
/// free of any decoding work.
fn has_blob_run(b: &[u8]) -> bool {
    if b.len() < MIN_BLOB {
        return false;
    }
    let inside = |c: u8| is_blob_byte(c) && c != b'.';
    let mut i = 0;
    while i < b.len() {
        let s = i;
        while i < b.len() && inside(b[i]) {
            i += 1;
        }
        // the counts only grow along a run: its whole length decides
        if i - s >= MIN_BLOB {
            let run = &b[s..i];
            let upper = run.iter().filter(|c| c.is_ascii_uppercase()).count();
            let lower = run.iter().filter(|c| c.is_ascii_lowercase()).count();
            if (upper >= 2 && lower >= 2) || (super::has_digit(run) && upper + lower >= 2) {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// Mixed case or digits: what encoded data looks like (a long plain word
/// such as `Authentication` is not tried).
fn looks_encoded(t: &str) -> bool {
    let upper = t.bytes().skip(1).filter(u8::is_ascii_uppercase).count();
    let lower = t.bytes().filter(u8::is_ascii_lowercase).count();
    let digit = t.bytes().any(|c| c.is_ascii_digit());
    let hex = t.len().is_multiple_of(2) && t.bytes().all(|c| c.is_ascii_hexdigit());
    hex || (upper >= 2 && lower >= 2) || (digit && (upper + lower) >= 2) || t.ends_with('=')
}

const fn lenient() -> base64::engine::GeneralPurposeConfig {
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true)
}

/// Decodes a token that looks like base64 (standard or URL-safe) or hex and
/// yields printable text; `None` for anything else (hashes, random ids).
pub fn decode_token(s: &str) -> Option<String> {
    use base64::engine::GeneralPurpose;
    let t = s.trim_end_matches('=');
    if t.len() < 8 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/-_".contains(&b)) {
        return None;
    }
    let printable = |v: Vec<u8>| -> Option<String> {
        let s = String::from_utf8(v).ok()?;
        (s.len() >= 5 && s.chars().all(|c| !c.is_control() || c == '\n' || c == '\r' || c == '\t')).then_some(s)
    };
    if t.len().is_multiple_of(2)
        && t.bytes().all(|b| b.is_ascii_hexdigit())
        && let Some(s) = hex::decode(t).ok().and_then(printable)
    {
        return Some(s);
    }
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, lenient());
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient());
    for engine in [&STANDARD, &URL_SAFE] {
        if let Some(s) = engine.decode(t).ok().and_then(printable) {
            return Some(s);
        }
    }
    None
}
