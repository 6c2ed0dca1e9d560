//! Over-redaction stops here: what looks personal but is the attacker's or
//! not personal at all.
//!
//! - e-mail addresses on the attacker's other domains (a subdomain such as
//!   `mail.` of the indicator's host, a lookalike, the same name under
//!   another TLD, a domain the text names again), after a sender cue
//!   (`Return-Path`, `Absender`, `mittente`) or under an attacker-named
//!   attribute (`sender`, `c2`) — never at a consumer provider and never
//!   with a person's first name in the local part, nor after a display
//!   name that reads as a person's (`"Joanna Przybylska" <jp@firma.pl>`);
//! - IP addresses in a list an attacker cue opens, with a service port
//!   (`185.220.101.4:443`), after a verb of malware talking home
//!   (`beacons to`, `verbindet sich mit`), IPv6 alike;
//! - four-part versions (`Chrome/120.0.0.0`, `version 10.0.0.1`);
//! - malware and actor names ending in a first name (`Agent Tesla`);
//! - long dashed order and reference numbers (not phones).

use std::sync::OnceLock;

use super::{Candidate, Cue, FastSet, Found, RecordCtx, SpanKind, first_names, lexicon};
use crate::policy::DataCategory;
use crate::privacy::{checks, vocab};

fn consumer_domains() -> &'static FastSet<&'static str> {
    static SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| lexicon::consumer_mail_domains().iter().copied().collect())
}

/// The nearest cue of one of `kinds` ending before `s`, within `window` bytes.
fn nearest(cues: &[(usize, usize, Cue)], s: usize, window: usize, kinds: &[Cue]) -> Option<(usize, Cue)> {
    cues.iter().rev().find(|c| c.1 <= s && s - c.1 <= window && kinds.contains(&c.2)).map(|c| (s - c.1, c.2))
}

/// A local part with a first name in it (`anna.kowalska`, `j_dupont.marie`).
fn person_like(local: &str) -> bool {
    let generic = lexicon::generic_local();
    local.split(|c: char| !c.is_ascii_alphabetic()).any(|p| {
        let l = p.to_ascii_lowercase();
        l.len() >= 3 && first_names().contains(l.as_str()) && !generic.contains(&l.as_str())
    })
}

/// `"Joanna Przybylska" <jp@firma.pl>`, `Joanna Przybylska <jp@firma.pl>`:
/// an address in angle brackets after a display name that reads as a
/// person's (two to four capitalised words, one of them a first name of the
/// gazetteer or a word no list knows) is that person's, whatever its
/// domain. `"PayPal Service" <service@paypa1-secure.com>` stays the attacker's.
fn after_person_display_name(text: &str, s: usize) -> bool {
    let Some(before) = text[..s].trim_end().strip_suffix('<') else {
        return false;
    };
    let before = before.trim_end();
    let decoded;
    let name = match before.strip_suffix('"') {
        // `=?UTF-8?B?…?=` / `=?…?Q?…?=`: an RFC 2047 encoded word
        None if before.ends_with("?=") => {
            // the word starts at the last `=?` before its closing `?=` (Base64 may end in `=`)
            let start = before[..before.len() - 2].rfind("=?").unwrap_or(0);
            decoded = encoded_word(&before[start..]).unwrap_or_default();
            decoded.as_str()
        }
        Some(inner) => &inner[inner.rfind('"').map_or(0, |q| q + 1)..],
        None => {
            // unquoted: the capitalised words right before the bracket
            let start = before
                .char_indices()
                .rev()
                .find(|&(_, c)| !(c.is_alphabetic() || c == ' ' || c == '-' || c == '.'))
                .map_or(0, |(i, c)| i + c.len_utf8());
            &before[start..]
        }
    };
    let words: Vec<&str> = name.split_whitespace().collect();
    let n = words.len();
    let capitalised = |w: &&str| {
        w.chars().next().is_some_and(char::is_uppercase) && w.chars().all(|c| c.is_alphabetic() || c == '-' || c == '.')
    };
    let personal = |w: &&str| {
        vocab::with_lower(w, |l| first_names().contains(l))
            || vocab::vocab().flags_of(w) & (vocab::LOWER | vocab::NOUN | vocab::SECURITY) == 0
    };
    (2..=4).contains(&n) && words.iter().all(capitalised) && words.iter().any(personal)
}

/// The text of an RFC 2047 encoded word (`=?UTF-8?B?SmFu?=`, `=?ISO-8859-1?Q?J=F6rg?=`),
/// `None` when it is not one.
pub fn encoded_word(w: &str) -> Option<String> {
    use base64::Engine;
    let inner = w.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut it = inner.splitn(3, '?');
    let (_charset, enc, text) = (it.next()?, it.next()?, it.next()?);
    let bytes = match enc {
        "B" | "b" => base64::engine::general_purpose::STANDARD.decode(text).ok()?,
        "Q" | "q" => {
            let b = text.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'_' => out.push(b' '),
                    b'=' if i + 2 < b.len() => {
                        out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).ok()?, 16).ok()?);
                        i += 2;
                    }
                    c => out.push(c),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    // UTF-8, else one byte a character (ISO-8859-1)
    Some(String::from_utf8(bytes).unwrap_or_else(|e| e.into_bytes().iter().map(|&b| b as char).collect()))
}

/// The name part of a domain (`secure-paypa1` of `mail.secure-paypa1.co.uk`).
fn main_label(domain: &str) -> &str {
    let labels: Vec<&str> = domain.split('.').collect();
    let n = labels.len();
    if n >= 3
        && labels[n - 1].len() == 2
        && matches!(labels[n - 2], "co" | "com" | "org" | "net" | "gov" | "ac" | "gob" | "edu")
    {
        labels[n - 3]
    } else if n >= 2 {
        labels[n - 2]
    } else {
        domain
    }
}

/// Edit distance, for lookalike names (short strings only).
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The same attacker behind both domains: a subdomain, the same name under
/// another TLD, or a lookalike of it.
fn related(host: &str, domain: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if domain.ends_with(&format!(".{host}")) {
        return true;
    }
    let (a, b) = (main_label(&host), main_label(domain));
    if a == b || (a.len() >= 5 && b.len() >= 5 && edit_distance(a.as_bytes(), b.as_bytes()) <= 2) {
        return true;
    }
    // a distinctive word of the name in both (`secure-paypa1` / `paypa1-login`)
    a.split('-').any(|w| w.len() >= 4 && !GENERIC_DOMAIN_WORDS.contains(&w) && b.split('-').any(|v| v == w))
}

/// True when `domain` is the name the attacker's `host` imitates: the same
/// main label but for one or two letters swapped for a look-alike
/// (`transbvd`/`transbud`, `vandljkbouw`/`vandijkbouw`, `paypa1`/`paypal`).
/// An attacker registers one lookalike; the other spelling is the original.
fn genuine_side(host: &str, domain: &str) -> bool {
    // (the attacker's letter, the original's): a digit or `v` stands for a
    // letter; `i` and `l` stand for each other
    const PAIRS: &[(u8, u8)] = &[
        (b'v', b'u'),
        (b'1', b'l'),
        (b'1', b'i'),
        (b'0', b'o'),
        (b'3', b'e'),
        (b'4', b'a'),
        (b'5', b's'),
        (b'i', b'l'),
        (b'l', b'i'),
    ];
    let host = host.to_ascii_lowercase();
    let (a, b) = (main_label(&host).as_bytes(), main_label(domain).as_bytes());
    if a.len() != b.len() || a.len() < 5 || a == b {
        return false;
    }
    let diffs: Vec<(u8, u8)> = a.iter().zip(b).filter(|(x, y)| x != y).map(|(x, y)| (*x, *y)).collect();
    diffs.len() <= 2 && diffs.iter().all(|d| PAIRS.contains(d))
}

/// Words of phishing domain names that say nothing about who runs them.
const GENERIC_DOMAIN_WORDS: &[&str] = &[
    "secure",
    "login",
    "account",
    "accounts",
    "verify",
    "verification",
    "update",
    "support",
    "service",
    "services",
    "online",
    "mail",
    "info",
    "auth",
    "portal",
    "client",
    "customer",
    "help",
    "center",
    "centre",
    "team",
    "official",
    "group",
    "connect",
    "access",
    "web",
    "bank",
    "banking",
    "pay",
    "payment",
    "shop",
    "store",
    "delivery",
    "track",
    "tracking",
    "parcel",
    "post",
    "konto",
    "compte",
    "cuenta",
    "conto",
    "espace",
    "signin",
    "id",
];

/// True when the e-mail candidate `c` (local part and lower-case domain)
/// is the attacker's and stays.
pub(super) fn attacker_email(c: &Candidate, local: &str, domain: &str) -> bool {
    let (text, s, rec, cues) = (c.text, c.start, c.rec, c.cues);
    if let Some(h) = &rec.host
        && (domain == *h || h.ends_with(&format!(".{domain}")))
    {
        return true; // the attacker's own domain
    }
    // an organisation's role mailbox (`abuse@tucows.com`) or a WHOIS
    // privacy service's alias: no person's address
    if ROLE_MAILBOXES.contains(&local.to_ascii_lowercase().as_str()) || PRIVACY_PROXIES.contains(&domain) {
        return true;
    }
    // a recipient header (`To: X <k.vandermeer@vandermolen-bouw.nl>`): the
    // target of the mail, even on a domain the attacker copies
    if recipient_line(text, s) {
        return false;
    }
    // the genuine side of a lookalike pair (`kwisniewska@transbud.pl` next to
    // the attacker's `transbvd.pl`): the impersonated company's staff
    if let Some(h) = &rec.host
        && genuine_side(h, domain)
    {
        return false;
    }
    let consumer = consumer_domains().contains(domain)
        || domain.match_indices('.').any(|(i, _)| consumer_domains().contains(&domain[i + 1..]));
    if consumer || person_like(local) || after_person_display_name(text, s) {
        return false;
    }
    match nearest(cues, s, 48, &[Cue::Person, Cue::VictimNet, Cue::Sender, Cue::AttackerNet]) {
        Some((_, Cue::Person | Cue::VictimNet)) => return false,
        Some((d, Cue::Sender)) if d <= 24 => return true,
        // in the same sentence (`backend). Contact: DC S. Butcher, s.butcher@…`
        // names the officer, not the backend)
        Some((d, Cue::AttackerNet))
            if d <= 32 && !text[s - d..s].contains(". ") && !text[s - d..s].contains([';', '\n']) =>
        {
            return true;
        }
        _ => {}
    }
    if rec.attacker_key || rec.host.as_deref().is_some_and(|h| related(h, domain)) {
        return true;
    }
    // the text names the domain again in a link: infrastructure
    let low = text.to_ascii_lowercase();
    low.match_indices(domain).any(|(i, _)| low[..i].ends_with("//") || low[..i].ends_with("//www."))
}

/// Mailboxes of an organisation's function, never of a person.
const ROLE_MAILBOXES: &[&str] = &[
    "abuse",
    "noc",
    "hostmaster",
    "postmaster",
    "webmaster",
    "cert",
    "csirt",
    "soc",
    "dmca",
    "abuse-reports",
    "domain-abuse",
    "abuse-report",
    "phishing",
    "spam",
    "security-alert",
];

/// WHOIS privacy services: their mailboxes are aliases of a hidden registrant.
const PRIVACY_PROXIES: &[&str] = &[
    "domainsbyproxy.com",
    "whoisprivacyprotect.com",
    "withheldforprivacy.com",
    "privacyguardian.org",
    "contactprivacy.com",
    "whoisguard.com",
    "identity-protect.org",
    "domainprivacygroup.com",
    "whoisprotection.cc",
    "privacy-link.com",
    "proxy.dnstination.com",
    "njal.la",
    "gname.com.whoisprivacy",
    "dataprivacyprotect.com",
    "redacted-for-privacy.com",
];

/// The line holding `s` is a mail's recipient header (`To:`, `Cc:`, `An:`,
/// `À :`, `Para:`, `Aan:`, `Do:`, `A:`, `Kopie:`), up to `s`.
fn recipient_line(text: &str, s: usize) -> bool {
    let line = &text[text[..s].rfind('\n').map_or(0, |i| i + 1)..s];
    let Some((head, _)) = line.split_once(':') else {
        return false;
    };
    let head = head.trim().to_lowercase();
    matches!(
        head.as_str(),
        "to" | "cc" | "bcc" | "an" | "kopie" | "à" | "a" | "para" | "aan" | "do" | "dw" | "cco" | "kopia"
    )
}

/// Words that may stand in a list of addresses an attacker cue opens.
const LIST_WORDS: &[&str] = &[
    "and",
    "und",
    "et",
    "y",
    "e",
    "en",
    "i",
    "oraz",
    "or",
    "oder",
    "ou",
    "o",
    "of",
    "lub",
    "sowie",
    "also",
    "ip",
    "ips",
    "ipv4",
    "ipv6",
    "address",
    "addresses",
    "adresse",
    "adressen",
    "adresses",
    "direcciones",
    "dirección",
    "indirizzi",
    "indirizzo",
    "adres",
    "adresy",
    "endereço",
    "endereços",
    "host",
    "hosts",
    "at",
    "on",
    "to",
    "is",
    "are",
    "port",
    "ports",
    "tcp",
    "udp",
    "via",
    "auf",
    "sur",
    "su",
    "em",
    "na",
    "naar",
    "à",
    "a",
];

/// Between an attacker cue and an address: only other addresses, ports,
/// separators and list words.
fn list_between(text: &str, from: usize, to: usize) -> bool {
    text[from..to]
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '|' | '(' | ')' | '"' | '\''))
        .filter(|w| !w.is_empty())
        .all(|w| {
            let w = w.trim_end_matches([':', '.']);
            w.is_empty()
                || (w.bytes().any(|c| c.is_ascii_digit() || c == b':')
                    && w.bytes().all(|c| c.is_ascii_hexdigit() || b".:/[]%-".contains(&c)))
                || LIST_WORDS.contains(&w.to_lowercase().as_str())
        })
}

/// The port written right after an address (`1.2.3.4:443`, `[::1]:8443`).
fn port_after(b: &[u8], e: usize) -> Option<u32> {
    let i = if b.get(e) == Some(&b']') { e + 1 } else { e };
    if b.get(i) != Some(&b':') {
        return None;
    }
    let digits: Vec<u8> = b[i + 1..].iter().copied().take_while(u8::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 5 || b.get(i + 1 + digits.len()).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    digits.iter().try_fold(0u32, |a, d| Some(a * 10 + u32::from(d - b'0')))
}

/// True when the address at `s..e` is attacker infrastructure by its
/// context: a list an attacker cue opens, or a service port after it.
/// A victim or person cue nearer than any attacker cue always wins.
pub(super) fn attacker_ip(text: &str, s: usize, e: usize, cues: &[(usize, usize, Cue)], rec: &RecordCtx) -> bool {
    // `109.83.150.70:51401 -> 91.215.89.47:4444`, `src=… dst=<the C2>`: a
    // client of the indicator's own server, whatever its port or cue says
    if flows_to_record(text, e, rec) {
        return false;
    }
    let roles = [Cue::AttackerNet, Cue::VictimNet, Cue::Person];
    match nearest(cues, s, 48, &roles) {
        Some((_, Cue::VictimNet | Cue::Person)) => return false,
        // not across a sentence end: "…the operator collecting results.⏎
        // 86.9.208.218 - - [14/Apr/2025…]" is the next log line's visitor
        Some((d, Cue::AttackerNet)) if d <= 24 && !sentence_between(&text[s - d..s]) => return true,
        _ => {}
    }
    // `remitente visible 'PostNL', IP 141.98.173.117`: an address labelled
    // `IP` in a sentence about the mail's sender is its sending server (not
    // after the sender's own address: `mail from jan@gmail.com, IP …`)
    if ip_label_before(&text[..s])
        && nearest(cues, s, 96, &[Cue::Sender, Cue::VictimNet, Cue::Person]).is_some_and(|(d, c)| {
            c == Cue::Sender && !sentence_between(&text[s - d..s]) && !text[s - d..s].contains('@')
        })
    {
        return true;
    }
    // an address its text attributes to a network (`1.2.3.4 (AS9009 M247)`):
    // an analyst's note on infrastructure
    if text[e..].starts_with(" (AS") && text[e + 4..].starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    // a DNS record (`evil.top | A | 1.2.3.4`, `evil.top. 300 IN AAAA …`) or
    // a log's destination (`dstip=`), or an IPS event's source
    if dns_record(&text[..s]) || log_peer(text, s) {
        return true;
    }
    // an access-log line requesting the kit's panel or its results file:
    // the operator collecting the loot, not a visitor
    if operator_request(text, e) {
        return true;
    }
    if let Some((d, Cue::AttackerNet)) = nearest(cues, s, 600, &roles)
        && list_between(text, s - d, s)
    {
        return true;
    }
    // "C2 to ms-teams-setup.top and 91.215.85.142", "dominio x.top, IP 1.2.3.4":
    // listed with a host name, it is that host's kind
    if after_host_in_list(&text[..s]) {
        return true;
    }
    // a row of an indicator list that types it (`194.26.29.208,ipv4,…`)
    if typed_row(text, e) {
        return true;
    }
    // a service port: a server, not a client (clients use ports >= 49152)
    port_after(text.as_bytes(), e).is_some_and(|p| p > 0 && p < 49152)
}

/// The text before an address ends with the label `IP` (`, IP `, `IP: `).
fn ip_label_before(before: &str) -> bool {
    let t = before.trim_end();
    let t = t.strip_suffix(':').unwrap_or(t).trim_end();
    t.strip_suffix("IP").is_some_and(|r| !r.ends_with(|c: char| c.is_alphanumeric() || c == '-'))
}

/// The address at `..e` connects to the record's own value further on its
/// line (`A:port -> <value>`, `→`, `=>`, `dst=<value>`, `to <value>`,
/// `an`, `naar`, `para`…): it is a client of the attacker's server, i.e. a
/// victim.
pub(super) fn flows_to_record(text: &str, e: usize, rec: &RecordCtx) -> bool {
    // (`->` and `=>` hold a `>`); `to` in the 8 languages
    const ARROWS: [&str; 12] =
        [">", "→", "dst", " to ", " an ", " naar ", " para ", " vers ", " verso ", " hacia ", " nach ", " do "];
    if rec.value_ip.is_none() && rec.host.is_none() {
        return false;
    }
    let line_end = text[e..].find('\n').map_or(text.len(), |i| e + i);
    let mut end = line_end.min(e + 120);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let rest = &text[e..end];
    // the cheap test first: most addresses have no arrow after them
    if !ARROWS.iter().any(|a| rest.contains(a)) {
        return false;
    }
    let own = match (rec.value_ip, rec.host.as_deref()) {
        (Some(ip), _) => std::borrow::Cow::Owned(ip.to_string()),
        (None, Some(h)) => std::borrow::Cow::Borrowed(h),
        _ => return false,
    };
    rest.find(own.as_ref()).is_some_and(|at| ARROWS.iter().any(|a| rest[..at].contains(a)))
}

/// The text before an address ends with a DNS record type (`A`, `AAAA`,
/// after a name, a TTL or `IN`): the resolution of a listed domain.
fn dns_record(before: &str) -> bool {
    let t = before.trim_end_matches([' ', '\t', '|', ',', ';']);
    let Some(rest) = t.strip_suffix("AAAA").or_else(|| t.strip_suffix('A')) else {
        return false;
    };
    rest.ends_with([' ', '\t', '|', ',', ';'])
}

/// A key=value log's address keys: the destination of a connection (not
/// `remip`, a VPN user's own address), or
/// the source of an intrusion-prevention event (`attack=`, `subtype="ips"`).
fn log_peer(text: &str, s: usize) -> bool {
    let before = &text[..s];
    let before = before.strip_suffix('"').unwrap_or(before);
    let Some(before) = before.strip_suffix('=') else {
        return false;
    };
    let k = before.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("").to_ascii_lowercase();
    match k.as_str() {
        "dstip" | "dst" | "dst_ip" | "dest_ip" | "destip" | "daddr" | "dstaddr" | "server_ip" | "serverip" => true,
        "srcip" | "src" | "src_ip" | "saddr" | "srcaddr" => {
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[s..].find('\n').map_or(text.len(), |i| s + i);
            let line = &text[line_start..line_end];
            line.contains("attack=") || line.contains("subtype=\"ips\"") || line.contains("subtype=ips")
        }
        _ => false,
    }
}

/// A sentence ends between a cue and an address: a full stop, `!` or `?`
/// before a space or line break, or a line break not after a `:`.
fn sentence_between(between: &str) -> bool {
    let b = between.as_bytes();
    b.windows(2).any(|w| matches!(w[0], b'.' | b'!' | b'?') && is_break(w[1]))
        || b.iter().enumerate().any(|(k, &c)| c == b'\n' && !between[..k].trim_end().ends_with(':'))
}

fn is_break(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

/// The address ending at `e` opens an access-log line (`1.2.3.4 - - [..]
/// "GET /panel/results.txt ..."`) whose request goes to the kit's panel,
/// admin pages or harvested results: the operator, not a victim.
fn operator_request(text: &str, e: usize) -> bool {
    let rest = &text[e..];
    let line = rest.split('\n').next().unwrap_or("");
    if !line.starts_with(" - ") {
        return false;
    }
    let Some(q) = line.find("\"GET ").or_else(|| line.find("\"POST ")) else {
        return false;
    };
    let path = line[q + 1..].split(' ').nth(1).unwrap_or("").to_ascii_lowercase();
    let first = path.trim_start_matches('/').split(['/', '?']).next().unwrap_or("");
    matches!(first, "panel" | "admin" | "adm" | "administrator" | "cpanel" | "dashboard" | "results" | "logs" | "gate")
        || ["result", "rezult", "log.txt", "logs.txt"].iter().any(|w| path.contains(w))
}

/// The field after an address ending at `e` names an indicator type
/// (`,ipv4,`, `;ip-dst`, tab `ip`): a row of an exported indicator list.
fn typed_row(text: &str, e: usize) -> bool {
    let b = text.as_bytes();
    if !b.get(e).is_some_and(|c| matches!(c, b',' | b';' | b'|' | b'\t')) {
        return false;
    }
    let rest = &text[e + 1..];
    let field = rest.split([',', ';', '|', '\t', '\n', '\r']).next().unwrap_or("").trim().trim_matches('"');
    matches!(
        field.to_ascii_lowercase().as_str(),
        "ip" | "ipv4" | "ipv6" | "ip-dst" | "ip-src" | "ipv4-addr" | "ipv6-addr" | "ip-dst|port" | "ip-src|port"
    )
}

/// The text before an address ends with a host name (maybe with a port)
/// and then only a coordinator, an address label or a bracket (`and`, `y`,
/// `, IP`, `on`, `->`, `(`): the host's own address or its sibling.
fn after_host_in_list(before: &str) -> bool {
    const JOIN: &[&str] = &[
        "and", "und", "et", "y", "e", "en", "i", "oraz", "or", "oder", "ou", "o", "lub", "ip", "ipv4", "ipv6", "on",
        "at", "->", "→", "=>", "@", "via", "über", "through", "smtp",
    ];
    let mut words = before
        .rsplit(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '/' | '(' | ')' | '['))
        .filter(|w| !w.is_empty());
    // `x.top (1.2.3.4)`, `from mail.x.top ([1.2.3.4])`: the host's own address
    let mut joined = before.trim_end().ends_with([',', ';', '/', '(', '[']);
    for _ in 0..3 {
        let Some(w) = words.next() else { return false };
        let lw = w.trim_end_matches(':').to_ascii_lowercase();
        if JOIN.contains(&lw.as_str()) {
            joined = true;
            continue;
        }
        // `sender x@kit-pay.com.es, IP 1.2.3.4`: an address on a domain no
        // consumer mail service runs is listed with its sending host
        let mail_host = w.rsplit_once('@').filter(|(l, _)| !l.is_empty()).map(|(_, d)| d.trim_end_matches(['.', '>']));
        let sender =
            mail_host.is_some_and(|d| is_host_name(d) && !consumer_domains().contains(d.to_ascii_lowercase().as_str()));
        return joined && (is_host_name(w) || sender);
    }
    false
}

/// `ms-teams-setup.top`, `actualizacion-banco.top:6606`: labels of letters,
/// digits and dashes, a last label of letters.
fn is_host_name(w: &str) -> bool {
    let host = w.split_once(':').map_or(w, |(h, port)| if port.bytes().all(|c| c.is_ascii_digit()) { h } else { "" });
    let Some((_, tld)) = host.rsplit_once('.') else { return false };
    (2..=24).contains(&tld.len())
        && tld.bytes().all(|c| c.is_ascii_alphabetic())
        && host.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
        && !host.starts_with(['.', '-'])
}

/// A dotted four-part number that is a version, not an address:
/// `Chrome/120.0.0.0`, `v1.2.3.4`, `version 10.0.0.1`, `build 6.1.7.601`.
pub(super) fn version_context(b: &[u8], s: usize) -> bool {
    if s >= 2 && b[s - 1] == b'/' && b[s - 2].is_ascii_alphabetic() {
        return true;
    }
    if s >= 1 && matches!(b[s - 1], b'v' | b'V') && (s < 2 || !b[s - 2].is_ascii_alphanumeric()) {
        return true;
    }
    let before = String::from_utf8_lossy(&b[s.saturating_sub(14)..s]).to_lowercase();
    let before = before.trim_end_matches([' ', ':', '=']);
    [
        "version", "ver.", "ver", "build", "versión", "versione", "wersja", "versão", "versie", "release", "firmware",
        "v.",
    ]
    .iter()
    .any(|w| before.ends_with(w) && !before[..before.len() - w.len()].ends_with(|c: char| c.is_alphanumeric()))
}

/// A dashed run of digits that is an order or reference number, not a
/// phone: after a reference cue (order, Rechnung, commande, pedido,
/// ordine, bestelling, zamówienie, encomenda...), or three or more dashed
/// groups of more than twelve digits without an international prefix. A
/// card number in it is still reported. True when handled.
pub(super) fn reference_run(c: &Candidate, out: &mut Vec<Found>) -> bool {
    let (b, s, e, cues) = (c.bytes(), c.start, c.end, c.cues);
    if host_label(b, e) {
        return true;
    }
    let raw = &b[s..e];
    if raw.starts_with(b"+") || raw.starts_with(b"00") {
        return false;
    }
    let digits: Vec<u8> = raw.iter().copied().filter(u8::is_ascii_digit).collect();
    let groups = raw.split(|c| !c.is_ascii_digit()).filter(|g| !g.is_empty()).count();
    let dashed = raw.iter().all(|c| c.is_ascii_digit() || *c == b'-');
    let cue = nearest(cues, s, 32, &[Cue::Reference, Cue::Phone, Cue::IdStrong, Cue::Birth])
        .is_some_and(|(d, c)| c == Cue::Reference && !reference_given(&b[s - d..s]));
    if !(cue || (dashed && groups >= 3 && digits.len() > 12)) {
        return false;
    }
    if (13..=19).contains(&digits.len()) && checks::card_pan(&digits) {
        let norm = String::from_utf8_lossy(&digits).into_owned();
        out.push(Found { start: s, end: e, kind: SpanKind::Data(DataCategory::Card), norm });
    }
    true
}

/// The words between a reference cue and a number already hold the
/// reference, and prose follows it (`ref op-5x6op1k Caller-ID shown: 0400
/// 246618`): the cue is spent, the number is read on its own.
fn reference_given(between: &[u8]) -> bool {
    let mut given = false;
    for w in between.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty()) {
        let letters = w.iter().any(u8::is_ascii_alphabetic);
        let digits = w.iter().any(u8::is_ascii_digit);
        if letters && digits {
            given = true;
        } else if given && w.iter().filter(|c| c.is_ascii_alphabetic()).count() >= 3 {
            return true;
        }
    }
    false
}

/// Digits that are a label of a host name (`864071444.coridas.ru`,
/// `13-212-103-78.cprapid.com`): a dot, then a label, then another dot or
/// a short lower-case top-level domain.
pub(super) fn host_label(b: &[u8], e: usize) -> bool {
    if b.get(e) != Some(&b'.') || !b.get(e + 1).is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let rest = &b[e + 1..];
    let label = rest.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-').count();
    let more = rest.get(label) == Some(&b'.') && rest.get(label + 1).is_some_and(u8::is_ascii_alphanumeric);
    let tld = (2..=6).contains(&label)
        && rest[..label].iter().all(u8::is_ascii_lowercase)
        && rest.get(label).is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'.');
    more || tld
}

/// Cuts name and address findings out of malware and actor names
/// (`Agent Tesla`, `Ave Maria`, `Lady`): the part outside stays found.
pub(super) fn spare_malware_names(text: &str, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>, first: usize) {
    let b = text.as_bytes();
    for &(ms, me, kind) in cues {
        if kind != Cue::Malware {
            continue;
        }
        let mut i = first;
        while i < out.len() {
            let f = &mut out[i];
            let soft = matches!(f.kind, SpanKind::Data(DataCategory::Name | DataCategory::Address));
            if !soft || f.end <= ms || f.start >= me {
                i += 1;
                continue;
            }
            if f.start < ms {
                let mut end = ms;
                while end > f.start && !b[end - 1].is_ascii_alphanumeric() {
                    end -= 1;
                }
                f.end = end;
            } else {
                let mut start = me;
                while start < f.end && !b[start].is_ascii_alphanumeric() && b[start] < 0x80 {
                    start += 1;
                }
                f.start = start;
            }
            if f.start >= f.end {
                out.remove(i);
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::scan::RecordCtx;
    use crate::privacy::scan::tests::{found_of, found_of_with};

    #[test]
    fn lookalikes_and_subdomains_are_related() {
        assert!(related("secure-paypa1.com", "mail.secure-paypa1.com"));
        assert!(related("secure-paypa1.com", "secure-paypa1.net"));
        assert!(related("paypa1-login.com", "paypal-login.com"));
        assert!(related("dhl-paket-track.info", "bounce.dhl-paket-track.co.uk"));
        assert!(!related("evil-shop.com", "acme.fr"));
        assert!(person_like("anna.kowalska"));
        assert!(!person_like("billing"));
        assert!(!person_like("x7k2q"));
    }

    #[test]
    fn attacker_mail_on_other_attacker_domains_stays() {
        let rec = RecordCtx { host: Some("secure-paypa1.com".into()), ..Default::default() };
        for text in [
            "kit mails to results@mail.secure-paypa1.com",
            "Return-Path: <bounce@secure-paypa1.net>",
            "second domain: billing@paypa1-secure.com",
        ] {
            assert!(found_of_with(text, DataCategory::Email, &rec).is_empty(), "{text}");
        }
        // no host (IP or hash indicators): a sender cue or a named domain decides
        let none = RecordCtx::default();
        for text in [
            "Absender: rechnung@dhl-zustellung.info",
            "mittente noreply@poste-verifica.it",
            "dropzone hxxps://evil-drop.ru/gate, results to drop@evil-drop.ru",
            "Versand über kundenservice@sparkasse-info.cfd, SMTP 103.228.11.169",
        ] {
            assert!(found_of_with(text, DataCategory::Email, &none).is_empty(), "{text}");
        }
        for text in [
            "Return-Path: anna.kowalska@firma.pl",
            "victim contact jdupont@acme-sarl.fr",
            "from: someone@gmail.com",
            "mail to info@acme-sarl.fr",
            "From: \"Joanna Przybylska\" <jp@example-mail.pl>",
            "From: Kwame Mensah <km@firma-logistik.de>",
            "From: =?UTF-8?B?SmFuaW5hIMWBYWdvZGE=?= <jl@example-mail.pl>",
            "From: =?ISO-8859-1?Q?J=F6rg_Brandst=E4tter?= <jb@firma-logistik.de>",
            "IP 1.2.3.4 (platform backend). Contact: DC 2860, s.butcher@wessex.police.uk",
        ] {
            assert_eq!(found_of_with(text, DataCategory::Email, &rec).len(), 1, "{text}");
        }
        // the genuine side of a lookalike pair: the impersonated company's staff
        let bec = RecordCtx { host: Some("transbvd.pl".into()), ..Default::default() };
        for text in ["from zarzad@transbvd.pl to kwisniewska@transbud.pl", "cc: finance@transbud.pl"] {
            assert_eq!(found_of_with(text, DataCategory::Email, &bec).len(), 1, "{text}");
        }
        // a homoglyph lookalike of the indicator is the attacker's second domain
        let plain = RecordCtx { host: Some("paypal-secure.com".into()), ..Default::default() };
        assert!(found_of_with("kit mails to drop@paypa1-secure.com", DataCategory::Email, &plain).is_empty());
        // a display name of words is the attacker's brand, not a person
        for text in [
            "From: \"PayPal Service\" <service@paypa1-secure.com>",
            "Absender: \"DHL Paket\" <info@dhl-zustellung.info>",
        ] {
            assert!(found_of_with(text, DataCategory::Email, &rec).is_empty(), "{text}");
        }
    }

    #[test]
    fn attacker_ips_in_lists_with_ports_and_after_verbs_stay() {
        for text in [
            "C2 servers: 185.220.101.4, 45.9.148.10 and 91.92.109.23",
            "beacons every 60 s to 185.220.101.4",
            "verbindet sich mit 45.9.148.10",
            "se connecte à 91.92.109.23",
            "se conecta a 185.220.101.4",
            "si connette a 45.9.148.10",
            "maakt verbinding met 91.92.109.23",
            "łączy się z 185.220.101.4",
            "liga-se a 45.9.148.10",
            "seen at 185.220.101.4:443 and [2a03:b0c0:3:d0::1]:8443",
            "Serwer C2 2a03:b0c0:3:d0::1",
            "UA Chrome/120.0.0.0 Safari/537.36, version 11.2.0.1",
            "Fraude del CEO: correo facturacion@proveedor-pagos.com.es, IP 194.87.31.110, cambio",
            "X-Originating-IP: [185.81.68.101]",
            "Sending IP 103.251.167.20 per headers",
            "Envois depuis ne-pas-repondre@ameliinfo21.store via 64.125.218.56.",
        ] {
            assert!(found_of(text, DataCategory::Ip).is_empty(), "{text}: {:?}", found_of(text, DataCategory::Ip));
        }
        for text in [
            "customer IP 81.2.3.4:443 reported",
            "victim 81.2.3.4 then C2 185.220.101.4",
            "mail from jan.kowal@gmail.com, IP 81.2.3.4",
        ] {
            assert_eq!(found_of(text, DataCategory::Ip), ["81.2.3.4"], "{text}");
        }
    }

    #[test]
    fn references_are_no_phones_and_malware_no_names() {
        for text in [
            "Order 302-5567812-8849120 shipped",
            "Bestellnummer 0612345678 storniert",
            "ref 4471-2289-0613-77 in the ticket",
            "commande n° 06 12 34 56 78",
            "hosts 864071444.coridas.ru and 13-212-103-78.cprapid.com",
        ] {
            assert!(found_of(text, DataCategory::Phone).is_empty(), "{text}");
        }
        assert_eq!(found_of("Order 4111-1111-1111-1111 paid", DataCategory::Card), ["4111-1111-1111-1111"]);
        for text in
            ["Agent Tesla exfiltrates via SMTP", "Ave Maria RAT (Warzone) sample", "dropper for Agent Tesla and Lumma"]
        {
            assert!(found_of(text, DataCategory::Name).is_empty(), "{text}: {:?}", found_of(text, DataCategory::Name));
        }
    }
}
