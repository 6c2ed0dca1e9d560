//! E-mail addresses, IP addresses and digit runs (phone and card numbers,
//! national numbers recognised by their checksum or a cue).

use std::net::IpAddr;
use std::str::FromStr;

use super::{Cue, Detectors, Found, RecordCtx, Scope, SpanKind, bounded, ceil_boundary, roles};
use crate::policy::DataCategory;
use crate::privacy::checks;
use crate::privacy::phone::{self, Evidence};

impl Detectors {
    pub(super) fn email(
        &self,
        text: &str,
        s: usize,
        e: usize,
        rec: &RecordCtx,
        cues: &[(usize, usize, Cue)],
        out: &mut Vec<Found>,
    ) {
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
        if roles::attacker_email(text, s, local, &domain, rec, cues) {
            return; // on the attacker's domains: intelligence
        }
        let start = s + (raw.len() - raw.trim_start_matches(['.', '-', '+', '%']).len());
        out.push(Found {
            start,
            end: ceil_boundary(text, e),
            kind: SpanKind::Data(DataCategory::Email),
            norm: format!("{}@{}", local.to_lowercase(), domain),
        });
    }

    pub(super) fn ipv4(
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
        if roles::version_context(b, s) || roles::attacker_ip(text, s, e, cues) {
            return true;
        }
        self.ip(IpAddr::V4(ip), s, e, rec, cues, out);
        true
    }

    pub(super) fn ipv6(
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
        if roles::attacker_ip(text, s, e, cues) {
            return;
        }
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
        out.push(Found { start: s, end: e, kind: SpanKind::Data(DataCategory::Ip), norm: ip.to_string() });
    }

    /// A run of digit groups: tries the longest sub-run of whole groups
    /// first, so a card followed by an expiry date or two numbers in a row
    /// are told apart.
    pub(super) fn number(
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
        if roles::reference_run(text, s, e, cues, out) {
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
}
