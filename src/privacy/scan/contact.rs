//! E-mail addresses, IP addresses and digit runs (phone and card numbers,
//! national numbers recognised by their checksum or a cue).

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::OnceLock;

use regex::bytes::Regex;

use super::{Candidate, Cue, Detectors, Found, RecordCtx, Scope, SpanKind, accounts, ceil_boundary, roles};
use crate::policy::DataCategory;
use crate::privacy::checks;
use crate::privacy::phone::{self, Evidence};

impl Detectors {
    pub(super) fn email(&self, c: &Candidate, out: &mut Vec<Found>) {
        let raw = c.raw();
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
        // IDN top-level domains are written in punycode (`xn--p1ai`)
        let tld_ok = tld.bytes().all(|b| b.is_ascii_alphabetic() || b >= 0x80)
            || (tld.len() > 4 && tld.as_bytes()[..4].eq_ignore_ascii_case(b"xn--"));
        if local.is_empty() || tld.len() < 2 || !tld_ok {
            return;
        }
        let domain = domain.to_lowercase();
        if roles::attacker_email(c, local, &domain) {
            // on the attacker's domains: intelligence, except a VERP tag
            // that encodes the recipient (`bounce+<base64url of x@gmail.com>@`)
            verp_recipient(c, raw, out);
            return;
        }
        let start = c.start + (raw.len() - raw.trim_start_matches(['.', '-', '+', '%']).len());
        let end = c.end_char();
        out.push(Found {
            start,
            end,
            kind: SpanKind::Data(DataCategory::Email),
            norm: format!("{}@{}", local.to_lowercase(), domain),
        });
        combo_secret(c.text, end, out);
    }

    pub(super) fn ipv4(&self, c: &Candidate, out: &mut Vec<Found>) -> bool {
        let (b, s, e) = (c.bytes(), c.start, c.end);
        if (s > 0 && (b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'.'))
            || (e < b.len()
                && (b[e].is_ascii_alphanumeric() || (b[e] == b'.' && b.get(e + 1).is_some_and(u8::is_ascii_digit))))
        {
            return false;
        }
        let raw = c.text[s..e].replace("[.]", ".");
        let Ok(ip) = std::net::Ipv4Addr::from_str(&raw) else {
            return false;
        };
        if roles::version_context(b, s) {
            return true;
        }
        if attacker_kept(IpAddr::V4(ip), c) {
            return true;
        }
        self.ip(IpAddr::V4(ip), c, out);
        true
    }

    pub(super) fn ipv6(&self, c: &Candidate, out: &mut Vec<Found>) {
        let (b, s, e) = (c.bytes(), c.start, c.end);
        // short forms are times and ratios (`10:30:00`), except the loopback
        // and the unspecified address as a prefix (`::/0`, `::/128`)
        let unspecified_prefix =
            &c.text[s..e] == "::" && b.get(e) == Some(&b'/') && b.get(e + 1).is_some_and(u8::is_ascii_digit);
        if !c.bounded() || (e - s < 6 && &c.text[s..e] != "::1" && !unspecified_prefix) {
            return;
        }
        let Ok(ip) = std::net::Ipv6Addr::from_str(&c.text[s..e]) else {
            return;
        };
        if attacker_kept(IpAddr::V6(ip), c) {
            return;
        }
        // a zone id (`fe80::1%eth0`) goes with the address
        let mut end = e;
        if b.get(e) == Some(&b'%') {
            end += 1;
            while end < b.len() && (b[end].is_ascii_alphanumeric() || matches!(b[end], b'_' | b'.' | b'-')) {
                end += 1;
            }
        }
        // `::ffff:89.75.18.43`: the IPv4 address inside decides
        let ip = ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4);
        self.ip(ip, &c.span(s, end), out);
    }

    fn ip(&self, ip: IpAddr, c: &Candidate, out: &mut Vec<Found>) {
        let (s, rec, cues) = (c.start, c.rec, c.cues);
        if Some(ip) == rec.value_ip {
            return;
        }
        // outside global unicast space (private, loopback, link-local,
        // documentation, unallocated): no intelligence, only the victim's
        // network; removed whatever the cues say
        if crate::model::is_reserved_ip(ip) {
            out.push(c.found(DataCategory::Ip, "reserved".into()));
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
        // `beacons from <victim> (…) to <the record's C2>`: a client of the
        // record's server, whatever the cue before it says
        if (attacker_near || (role.is_none() && rec.attacker_key)) && !roles::flows_to_record(c.text, c.end, rec) {
            return;
        }
        out.push(c.found(DataCategory::Ip, ip.to_string()));
    }

    /// A run of digit groups: tries the longest sub-run of whole groups
    /// first, so a card followed by an expiry date or two numbers in a row
    /// are told apart.
    pub(super) fn number(&self, c: &Candidate, out: &mut Vec<Found>) {
        let (text, b, s, e) = (c.text, c.bytes(), c.start, c.end);
        // `tel 0484/36 59 85. 999,00 €`: a full stop and a space end a
        // number that is whole before them (not `06. 12. 34. 56. 78`)
        if let Some(k) = text[s..e].find(". ")
            && b[s..s + k].iter().filter(|d| d.is_ascii_digit()).count() >= 7
        {
            let cut = s + k;
            self.number(&c.span(s, cut), out);
            let r = cut + 1 + text[cut + 1..e].len() - text[cut + 1..e].trim_start().len();
            if r < e {
                self.number(&c.span(r, e), out);
            }
            return;
        }
        // `%20. 29.11.2026`: the two digits after `%` are a percent escape;
        // what follows them is read alone
        if s > 0 && b[s - 1] == b'%' && e >= s + 2 && b[s + 1].is_ascii_hexdigit() {
            let mut r = s + 2;
            while r < e && !b[r].is_ascii_alphanumeric() && b[r] != b'+' {
                r += 1;
            }
            if r < e && r > s + 2 {
                self.rescan(&c.span(r, e), out);
            }
            return;
        }
        // a quote mark outside ASCII (`“`, `»`) is no letter glued on
        if (s > 0
            && (b[s - 1].is_ascii_alphanumeric()
                || (b[s - 1] >= 0x80 && super::word_before(b, s))
                || (b[s - 1] == b'.' && s > 1 && b[s - 2].is_ascii_digit())))
            || (e < b.len() && (b[e].is_ascii_alphanumeric() || (b[e] >= 0x80 && super::word_at(b, e))))
        {
            return;
        }
        // "CVE-2023-4966", "INC-2026-004512": an identifier, not a number
        if s >= 2 && matches!(b[s - 1], b'-' | b'_' | b'#') && b[s - 2].is_ascii_alphanumeric() {
            return;
        }
        if roles::reference_run(c, out) {
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
        // a domestic account number (RIB, CCC, NIB, NRB) is one account,
        // not phone fragments
        if domestic_account(b, &groups, out) {
            return;
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
                if let Some((cat, norm)) = self.classify_number(&c.span(start, end), &digits, gi == 0 && plus, grouped)
                {
                    out.push(Found { start, end, kind: SpanKind::Data(cat), norm });
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

    /// The digits of the groups under `c` (`plus` when a `+` leads them).
    fn classify_number(
        &self,
        c: &Candidate,
        digits: &str,
        plus: bool,
        grouped: bool,
    ) -> Option<(DataCategory, String)> {
        let (d, b, start, scope) = (digits.as_bytes(), c.bytes(), c.start, c.scope);
        let cue_before = |kind: Cue, win: usize| c.cue_before(kind, win);
        if !plus && cue_before(Cue::Account, 32) {
            // "Kontonummer 1234567890, BLZ 37040044": an account, not a phone
            return Some((DataCategory::Iban, digits.to_owned()));
        }
        // a path segment of a messenger link (`https://wa.me/4917634982211`)
        // is scanned alone, with the phone hint: the same reading
        let link =
            phone_link_before(b, start) || (scope.phone_key && scope.url_part && start == 0 && !d.starts_with(b"0"));
        if link && phone::is_phone(digits.strip_prefix("00").unwrap_or(digits), true, Evidence::Cue) {
            // "wa.me/33612345678", "callto:0033...": international without `+`
            let nd = digits.strip_prefix("00").unwrap_or(digits);
            return Some((DataCategory::Phone, format!("+{nd}")));
        }
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
        let ev = if scope.phone_key || link || cue_before(Cue::Phone, 40) {
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
}

/// `e-mail:password` combo lines: the secret after the address.
fn combo_secret(text: &str, e: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    if !matches!(b.get(e), Some(b':' | b';' | b'|')) {
        return;
    }
    let s = e + 1;
    let mut j = s;
    while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b',' | b'"' | b'<' | b'>' | b'|') {
        j += 1;
    }
    // "host@example.com:8080" is a port, not a password
    let port = j - s <= 5 && b[s..j].iter().all(u8::is_ascii_digit);
    if j > s && !port {
        let j = ceil_boundary(text, j);
        out.push(Found {
            start: s,
            end: j,
            kind: SpanKind::Data(DataCategory::Credential),
            norm: text[s..j].to_owned(),
        });
    }
}

/// Digit groups that together are a domestic account number: one finding.
fn domestic_account(b: &[u8], groups: &[(usize, usize)], out: &mut Vec<Found>) -> bool {
    if groups.iter().map(|g| g.1 - g.0).sum::<usize>() < 20 {
        return false;
    }
    let all: Vec<u8> = groups.iter().flat_map(|g| b[g.0..g.1].iter().copied()).collect();
    let Some(cat) = accounts::domestic(&all) else {
        return false;
    };
    let norm = String::from_utf8_lossy(&all).into_owned();
    out.push(Found { start: groups[0].0, end: groups[groups.len() - 1].1, kind: SpanKind::Data(cat), norm });
    true
}

/// Link forms that carry a phone number without saying "phone":
/// `wa.me/`, `t.me/`, `tel:`, `sms:`, `callto:`, `whatsapp://send?phone=`,
/// `/msisdn/`.
const PHONE_LINKS: &[&[u8]] = &[
    b"wa.me/",
    b"t.me/",
    b"telegram.me/",
    b"tel:",
    b"tel://",
    b"sms:",
    b"smsto:",
    b"sms://",
    b"callto:",
    b"callto://",
    b"whatsapp://send?phone=",
    b"whatsapp.com/send?phone=",
    b"whatsapp.com/send/?phone=",
    b"viber://chat?number=",
    b"viber://add?number=",
    b"signal.me/#p/",
    b"phone=",
    b"msisdn=",
    b"/msisdn/",
    b"msisdn/",
    b"/phone/",
    b"/tel/",
];

/// True when a phone-link form ends right before `start`.
fn phone_link_before(b: &[u8], start: usize) -> bool {
    let head = &b[start.saturating_sub(28)..start];
    PHONE_LINKS.iter().any(|l| head.len() >= l.len() && head[head.len() - l.len()..].eq_ignore_ascii_case(l))
}

/// True for hosts whose URL paths are phone numbers (`wa.me/33612345678`).
pub fn phone_link_host(host: &str) -> bool {
    ["wa.me", "api.whatsapp.com", "web.whatsapp.com", "whatsapp.com", "t.me", "telegram.me", "signal.me", "viber.me"]
        .iter()
        .any(|h| host.eq_ignore_ascii_case(h))
}

/// True for a URL path segment after which the next one is a phone number
/// (`/msisdn/4915123456789`).
pub fn phone_path_key(seg: &str) -> bool {
    ["msisdn", "phone", "tel", "mobile", "whatsapp", "sms", "wa", "telefon", "handy", "gsm"]
        .iter()
        .any(|k| seg.eq_ignore_ascii_case(k))
}

/// Host names an ISP gives its subscribers, with the address inside:
/// `89-75-18-43.dynamic.isp.pl`, `host-43-18-75-89.rev.isp.de` (dashed, in
/// either order), `dsl-5948122b.pool.isp.nl` and `p5b712d07.dip0.t-ipconnect.de` (hex, with a
/// pool word; up to two letters may stand before the hex digits in their label).
fn rdns_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i-u)\b(?:[a-z0-9]+[.-])*?(?:([0-9]{1,3})-([0-9]{1,3})-([0-9]{1,3})-([0-9]{1,3})|[a-z]{0,2}([0-9a-f]{8}))(?:[.-][a-z0-9]+)*\.[a-z]{2,}\b",
        )
        .expect("static pattern")
    })
}

/// Label prefixes of subscriber host names: an address inside a host name
/// counts only with one (`185-220-101-4.example-hoster.net` is a server).
const POOL_WORDS: &[&str] = &[
    "dsl",
    "adsl",
    "vdsl",
    "xdsl",
    "dyn",
    "dip",
    "pool",
    "cable",
    "kabel",
    "dhcp",
    "ppp",
    "cust",
    "broadband",
    "fib",
    "ftth",
    "gpon",
    "static",
    "home",
    "client",
    "subs",
    "resid",
    "dial",
    "cpe",
    "mobile",
    "lte",
    "user",
    "abo",
    "kunde",
    "range",
    "btcentralplus",
    "bredband",
    "catv",
];
/// Whole labels that say the same.
const POOL_LABELS: &[&str] = &["ip", "host", "res", "rev", "hsd", "bb"];

/// Eight hex digits in a row (either case): the hex form of an address.
fn hex_run(b: &[u8]) -> bool {
    let mut run = 0;
    for c in b {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run == 8 {
            return true;
        }
    }
    false
}

/// Three `digit-digit` joints within 12 bytes: a dashed address may be there.
fn dashed_quad(b: &[u8]) -> bool {
    let mut joints = [usize::MAX; 3];
    let mut n = 0;
    for i in 1..b.len().saturating_sub(1) {
        if b[i] == b'-' && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit() {
            joints[n % 3] = i;
            n += 1;
            if n >= 3 && i - joints[(n - 3) % 3] <= 12 {
                return true;
            }
        }
    }
    false
}

/// The pool words, for a one-pass test before the host-name pattern runs.
fn pool_ac() -> &'static aho_corasick::AhoCorasick {
    static AC: OnceLock<aho_corasick::AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(POOL_WORDS)
            .expect("static patterns")
    })
}

/// True when a label of `host` names a subscriber pool.
fn pool_host(host: &str) -> bool {
    host.split(['.', '-']).any(|l| {
        let l = l.to_ascii_lowercase();
        POOL_LABELS.contains(&l.as_str()) || POOL_WORDS.iter().any(|w| l.starts_with(w))
    })
}

impl Detectors {
    /// Victim addresses inside ISP reverse-DNS names: the whole name goes
    /// (as an IP finding), unless it is the indicator's host or an attacker
    /// cue is right before it.
    pub(super) fn reverse_dns(
        &self,
        text: &str,
        scope: &Scope,
        rec: &RecordCtx,
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) {
        // without a dashed address the pattern needs its eight hex digits,
        // and then a pool word: the byte tests spare most texts the search
        let b = text.as_bytes();
        let before = out.len();
        // the pool-word search runs at most once
        let mut pool = None;
        let mut pooled = || *pool.get_or_insert_with(|| pool_ac().is_match(text));
        if dashed_quad(b) || (hex_run(b) && pooled()) {
            self.full_reverse_dns(text, scope, rec, cues, out);
        }
        // `bl147-10-80.dsl.telepac.pt`, `lfbn-idf1-1-335-22.w90-12.abo.wanadoo.fr`:
        // a subscriber's name with only part of the address in it
        if digit_joint(b) && pooled() {
            partial_reverse_dns(text, rec, before, out);
        }
    }

    fn full_reverse_dns(
        &self,
        text: &str,
        scope: &Scope,
        rec: &RecordCtx,
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) {
        for c in rdns_re().captures_iter(text.as_bytes()) {
            let all = c.get(0).expect("group 0");
            let host = &text[all.start()..all.end()];
            if rec.host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(host)) {
                continue;
            }
            if !pool_host(host) {
                continue;
            }
            let ip = if let Some(hex) = c.get(5) {
                let Ok(n) = u32::from_str_radix(&text[hex.start()..hex.end()], 16) else {
                    continue;
                };
                std::net::Ipv4Addr::from(n)
            } else {
                let o: Vec<u8> =
                    (1..=4).filter_map(|i| text[c.get(i).map_or(0..0, |m| m.range())].parse().ok()).collect();
                let [a, b2, c2, d] = o[..] else {
                    continue;
                };
                std::net::Ipv4Addr::new(a, b2, c2, d)
            };
            self.ip(IpAddr::V4(ip), &Candidate { text, start: all.start(), end: all.end(), scope, rec, cues }, out);
        }
    }
}

/// A digit, a dash and a digit somewhere in `b`.
fn digit_joint(b: &[u8]) -> bool {
    b.windows(3).any(|w| w[1] == b'-' && w[0].is_ascii_digit() && w[2].is_ascii_digit())
}

/// Subscriber host names holding three short numbers or more (parts of
/// the address, in any order) and a pool label: the name goes as an IP
/// finding (`[IP]`: no address to generalise), unless it is the indicator's
/// host or a finding of the full pattern covers it already.
fn partial_reverse_dns(text: &str, rec: &RecordCtx, already: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let s = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'.' | b'-')) {
            i += 1;
        }
        let mut e = i;
        while e > s && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if i == s {
            // not a host byte: step over the whole character
            i += text[s..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let host = &text[s..e];
        let Some((rest, tld)) = host.rsplit_once('.') else { continue };
        if tld.len() < 2 || !tld.bytes().all(|c| c.is_ascii_alphabetic()) || !rest.contains('.') {
            continue;
        }
        if (s > 0 && matches!(b[s - 1], b'@' | b'/' | b':'))
            || rec.host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(host))
        {
            continue;
        }
        let numbers = rest.split(|c: char| !c.is_ascii_digit()).filter(|n| (1..=3).contains(&n.len())).count();
        if numbers < 3 || !pool_host(host) || out[already..].iter().any(|f| f.start < e && s < f.end) {
            continue;
        }
        out.push(Found { start: s, end: e, kind: SpanKind::Data(DataCategory::Ip), norm: String::new() });
    }
}

/// The tag after `+` in an attacker's bounce address (`bounce+TAG@kit.top`)
/// that decodes (base64, base64url, hex) to an e-mail address or a phone
/// number: a VERP tag naming the recipient, removed as an e-mail.
fn verp_recipient(c: &Candidate, raw: &str, out: &mut Vec<Found>) {
    let Some(at) = raw.rfind('@') else { return };
    let Some(plus) = raw[..at].rfind('+') else { return };
    let tag = &raw[plus + 1..at];
    let Some(plain) = super::decode::decode_token(tag) else { return };
    let digits = plain.bytes().filter(u8::is_ascii_digit).count();
    if plain.contains('@') || (digits >= 7 && plain.bytes().all(|b| b.is_ascii_digit() || b" +-()./".contains(&b))) {
        let start = c.start + plus + 1;
        out.push(Found {
            start,
            end: start + tag.len(),
            kind: SpanKind::Data(DataCategory::Email),
            norm: plain.to_lowercase(),
        });
    }
}

/// An attacker's address by its place in the text (a list, a port, a verb:
/// `roles.rs`) stays; a non-global one goes whatever its role (see `ip`).
fn attacker_kept(ip: IpAddr, c: &Candidate) -> bool {
    roles::attacker_ip(c.text, c.start, c.end, c.cues, c.rec) && !crate::model::is_reserved_ip(ip)
}

/// The extension number after an extension cue ending at `e` (`ext 8165`,
/// `poste 9899`, `int. 7102`, `wew. 8457`): three to six digits standing
/// alone reach one person, like a phone number.
pub(super) fn extension(text: &str, e: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let mut i = e;
    while i < b.len() && matches!(b[i], b' ' | b':' | b'.' | b'#') {
        i += 1;
    }
    // `Durchwahl -4471`: the dash of a number dialled after the switchboard's
    if b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let j = i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let alone = b.get(j).is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'/' | b'@' | b'_')))
        && !(b.get(j).is_some_and(|c| matches!(c, b'.' | b',')) && b.get(j + 1).is_some_and(u8::is_ascii_digit));
    if i > e && (3..=6).contains(&(j - i)) && alone {
        out.push(Found { start: i, end: j, kind: SpanKind::Data(DataCategory::Phone), norm: text[i..j].to_owned() });
    }
}
