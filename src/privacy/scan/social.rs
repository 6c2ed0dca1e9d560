//! Social-media accounts of persons: profile links (`instagram.com/anna.k`,
//! `https://www.tiktok.com/@anna`, `linkedin.com/in/...`) and handles after
//! a network name or handle word in eight languages (`Instagram: @anna_k`,
//! `pseudo anna.k92`). The account name goes, the site stays.
//!
//! What stays: the attacker's own accounts — a link on the indicator's own
//! host, under an attacker-named attribute, or right after an attacker cue
//! (`operator`, `seller`, `C2`), and Telegram bots (`..._bot`), which are
//! exfiltration infrastructure.

use std::sync::OnceLock;

use super::after_cue::value_start;
use super::{Candidate, Cue, FastSet, Found, SpanKind, lexicon, url};
use crate::policy::DataCategory;

fn social_domains() -> &'static FastSet<&'static str> {
    static SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| lexicon::social_domains().iter().copied().collect())
}

/// First path segments that are pages of the site, not accounts.
const SITE_PAGES: &[&str] = &[
    "",
    "share",
    "sharer",
    "sharer.php",
    "intent",
    "hashtag",
    "explore",
    "p",
    "reel",
    "reels",
    "watch",
    "embed",
    "events",
    "groups",
    "pages",
    "login",
    "signup",
    "help",
    "about",
    "legal",
    "privacy",
    "policies",
    "settings",
    "search",
    "home",
    "joinchat",
    "s",
    "tv",
    "stories",
    "i",
    "status",
    "search?q",
    "feed",
    "jobs",
    "company",
    "school",
    "r",
    "topics",
];

/// The social site a host belongs to (`www.instagram.com` → `instagram.com`).
fn social_site(host: &str) -> Option<&'static str> {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    let h = h.trim_start_matches("www.").trim_start_matches("m.").trim_start_matches("mobile.");
    social_domains().get(h).copied()
}

/// True when the nearest role cue before `s` (within 64 bytes) names the
/// attacker side.
pub(super) fn attacker_side(s: usize, cues: &[(usize, usize, Cue)]) -> bool {
    cues.iter()
        .rev()
        .find(|c| c.1 <= s && s - c.1 <= 64 && matches!(c.2, Cue::AttackerNet | Cue::VictimNet | Cue::Person))
        .is_some_and(|c| c.2 == Cue::AttackerNet)
}

/// The account part of a profile path (`anna.k`, `@anna`, `in/anna-k`), if
/// the path names one.
fn account(path: &str) -> bool {
    let first = path.trim_start_matches('/').split(['/', '?', '#']).next().unwrap_or("");
    let low = first.to_ascii_lowercase();
    !SITE_PAGES.contains(&low.as_str()) && !low.ends_with("bot") && !low.is_empty()
}

/// A link in free text (`Url` candidate) or a scheme-less profile link
/// (`Profile` candidate): a person's profile loses its path; anything else
/// is an embedded URL, scrubbed component by component.
pub(super) fn link(c: &Candidate, out: &mut Vec<Found>) {
    let (text, s, rec) = (c.text, c.start, c.rec);
    let u = url(text, s, c.end);
    let raw = &text[u.start..u.end];
    let after_scheme = raw.find("://").map_or(0, |i| i + 3);
    let b = text.as_bytes();
    if after_scheme == 0 && s > 0 && (b[s - 1].is_ascii_alphanumeric() || matches!(b[s - 1], b'.' | b'-' | b'/' | b'@'))
    {
        return; // `dropbox.com/...` is not `x.com/...`
    }
    let rest = &raw[after_scheme..];
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..host_end].rsplit('@').next().unwrap_or("").split(':').next().unwrap_or("");
    let host = host.replace("[.]", ".");
    let profile = social_site(&host).is_some_and(|_| account(&rest[host_end..]))
        && rec.host.as_deref().is_none_or(|h| !h.eq_ignore_ascii_case(&host))
        && !rec.attacker_key
        && !attacker_side(s, c.cues);
    if !profile {
        if after_scheme > 0 {
            out.push(u);
        }
        return;
    }
    let start = u.start + after_scheme + host_end;
    // the site stays a link (`https://www.marktplaats.nl`), not words
    if after_scheme > 0 {
        out.push(Found { start: u.start, end: start, kind: SpanKind::Url, norm: String::new() });
    }
    let norm = raw[after_scheme..].to_ascii_lowercase();
    out.push(Found { start, end: u.end, kind: SpanKind::Data(DataCategory::OnlineId), norm });
}

/// A handle after a network name or handle word ending at `e`: `@name`, or
/// a name with a digit, `_` or `.` in it, or any name after `:`/`=`.
pub(super) fn handle(text: &str, cs: usize, e: usize, cues: &[(usize, usize, Cue)], out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let Some((i, sep)) = value_start(text, e) else {
        return;
    };
    if attacker_side(cs, cues) {
        return;
    }
    // "Telegram da vítima @joana_pt": an `@handle` a few words on
    let i = if b[i] == b'@' {
        i
    } else {
        let window = &b[i..b.len().min(i + 40)];
        match window.windows(2).position(|w| w[0] == b' ' && w[1] == b'@') {
            Some(k) if !window[..k].contains(&b'.') => i + k + 1,
            _ => i,
        }
    };
    let at = b[i] == b'@';
    let start = i + usize::from(at);
    let mut j = start;
    while j < b.len()
        && (b[j].is_ascii_alphanumeric()
            || b[j] == b'_'
            || (b[j] == b'.' && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric)))
    {
        j += 1;
    }
    let name = &text[start..j];
    if name.len() < 2 || name.len() > 40 || (j < b.len() && matches!(b[j], b'/' | b'@' | b':')) {
        return;
    }
    // `site.com`: a domain, not a handle
    let domain_like =
        name.rsplit_once('.').is_some_and(|(_, tld)| tld.len() <= 4 && tld.bytes().all(|c| c.is_ascii_alphabetic()));
    let shaped = name.bytes().any(|c| c.is_ascii_digit() || c == b'_' || c == b'.');
    if (domain_like && !at) || !(at || sep || shaped) || name.to_ascii_lowercase().ends_with("bot") {
        return;
    }
    out.push(Found { start: i, end: j, kind: SpanKind::Data(DataCategory::OnlineId), norm: name.to_ascii_lowercase() });
}

#[cfg(test)]
mod tests {
    use crate::policy::DataCategory;
    use crate::privacy::scan::RecordCtx;
    use crate::privacy::scan::tests::{found_of, found_of_with};

    #[test]
    fn handles_after_a_network_name() {
        for (text, want) in [
            ("victim's Instagram: @anna_kowalska92 hacked", "@anna_kowalska92"),
            ("sur Instagram anna.dupont75 le compte", "anna.dupont75"),
            ("TikTok-Konto @lena.mueller_ gehackt", "@lena.mueller_"),
            ("su Facebook: marco.rossi.88 rubato", "marco.rossi.88"),
            ("pseudo j3anne_d sur le forum", "j3anne_d"),
            ("perfil de Twitter @pepe_garcia81 clonado", "@pepe_garcia81"),
            ("Telegram @joao_silva_pt contactado", "@joao_silva_pt"),
            ("bijnaam sanne_92 op Discord", "sanne_92"),
            ("Telegram da vítima @joana_costa_pt contactado", "@joana_costa_pt"),
            ("konto na Twitterze @kasia_nowak_77 przejęte", "@kasia_nowak_77"),
        ] {
            assert_eq!(found_of(text, DataCategory::OnlineId), [want], "{text}");
        }
        for text in [
            "Telegram bot @stealer_logs_bot receives the data",
            "operator's Telegram @lockbit_supp for negotiation",
            "Facebook ads were used",
            "the Telegram API api.telegram.org",
        ] {
            assert!(found_of(text, DataCategory::OnlineId).is_empty(), "{text}");
        }
    }

    #[test]
    fn profile_links_lose_the_account_and_keep_the_site() {
        for (text, want) in [
            ("profile https://www.instagram.com/anna.kowalska92/ copied", "/anna.kowalska92/"),
            ("see instagram.com/anna.kowalska92 too", "/anna.kowalska92"),
            ("https://www.tiktok.com/@lena.mueller_ Opfer", "/@lena.mueller_"),
            ("https://www.linkedin.com/in/jan-de-vries-1234 (slachtoffer)", "/in/jan-de-vries-1234"),
        ] {
            assert_eq!(found_of(text, DataCategory::OnlineId), [want], "{text}");
        }
        // the attacker's own channel, bots and pages of the site stay links
        let rec = RecordCtx { host: Some("t.me".into()), ..Default::default() };
        assert!(found_of_with("join https://t.me/fake_support_de now", DataCategory::OnlineId, &rec).is_empty());
        for text in [
            "C2 operator channel https://t.me/xworm_shop",
            "exfil via https://t.me/grabber_logs_bot",
            "shared on https://www.facebook.com/sharer/sharer.php?u=x",
            "file on dropbox.com/anna_k92 and mybox.com/x",
        ] {
            assert!(found_of(text, DataCategory::OnlineId).is_empty(), "{text}");
        }
    }
}
