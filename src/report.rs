//! Documents for data-protection officers: the record of processing
//! (GDPR Art. 30 style) and the statistics page. Both are built from
//! policies, the registry, the configuration and non-personal counters only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::config::Config;
use crate::identity::{Registry, Role};
use crate::policy::Policy;
use crate::store::PolicyVersion;

/// What the record of processing is made of.
pub struct ProcessingInputs<'a> {
    pub config: &'a Config,
    pub registry: &'a Registry,
    /// Loaded policies, the default first.
    pub policies: Vec<&'a Policy>,
    pub default_policy: &'a str,
    /// Every version ever loaded, when the store could be read.
    pub history: Option<Vec<PolicyVersion>>,
    pub generated: time::OffsetDateTime,
}

/// A section: a title and paragraphs or table rows.
struct Section {
    title: String,
    paragraphs: Vec<String>,
    table: Option<(Vec<String>, Vec<Vec<String>>)>,
}

impl Section {
    fn text(title: impl Into<String>, paragraphs: Vec<String>) -> Section {
        Section { title: title.into(), paragraphs, table: None }
    }

    fn table(title: &str, paragraphs: Vec<String>, head: &[&str], rows: Vec<Vec<String>>) -> Section {
        let head = head.iter().map(|h| (*h).to_owned()).collect();
        Section { title: title.into(), paragraphs, table: Some((head, rows)) }
    }
}

/// The record's sections, in order.
fn sections(i: &ProcessingInputs<'_>) -> Vec<Section> {
    let mut out = vec![purpose(), policies_in_force(i)];
    out.extend(i.policies.iter().map(|p| {
        let lines = crate::policy_explain(p).lines().map(str::to_owned).filter(|l| !l.is_empty()).collect();
        Section::text(format!("What policy {} does", p.id), lines)
    }));
    out.push(sources_and_recipients(i));
    out.push(directory());
    out.push(sightings(&i.config.sightings));
    out.push(retention(&i.config.expiry));
    out.push(security_measures());
    out.extend(i.history.as_deref().map(policy_history));
    out
}

fn purpose() -> Section {
    Section::text(
        "Purpose and legal context",
        vec![
            "The exchange receives threat and fraud indicators from banks and internet service providers and \
             redistributes their non-personal part (attacker domains, URLs, IP addresses, file hashes) to law \
             enforcement and to ISPs for blocking, to prevent and investigate cybercrime (COM(2007) 267)."
                .into(),
            "Personal data that submitters include by accident or necessity (victims' e-mail addresses, names, \
             phone numbers, accounts, cards, addresses, identifiers) is removed or pseudonymised on receipt, \
             before anything is stored, by the versioned ingest policies listed below."
                .into(),
        ],
    )
}

fn policies_in_force(i: &ProcessingInputs<'_>) -> Section {
    let rows = i
        .policies
        .iter()
        .map(|p| {
            let role = if p.id == i.default_policy { "default for all submitters" } else { "assigned per participant" };
            vec![p.id.clone(), p.version(), role.to_owned()]
        })
        .collect();
    Section::table(
        "Policies in force",
        vec!["Each stored indicator and each audit record names the policy version that produced it.".into()],
        &["policy", "version", "use"],
        rows,
    )
}

/// Who submits, and per audience who receives what (the default policy's
/// egress views).
fn sources_and_recipients(i: &ProcessingInputs<'_>) -> Section {
    let default = i.policies.iter().find(|p| p.id == i.default_policy);
    let mut audiences: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut submitters = Vec::new();
    for p in i.registry.all().filter(|p| !p.revoked) {
        if p.has(Role::Submit) {
            submitters.push(format!("{} ({})", p.id, p.kind.as_str()));
        }
        if p.has(Role::Feed) || p.has(Role::Blocklist) {
            for a in p.audiences() {
                audiences.entry(a).or_default().push(p.id.clone());
            }
        }
    }
    submitters.sort();
    let rows = audiences
        .into_iter()
        .map(|(audience, mut members)| {
            members.sort();
            let what = match default.and_then(|d| d.egress.get(&audience)) {
                Some(v) => receives(v),
                None => "nothing (no egress view: fail closed)".to_owned(),
            };
            vec![audience, members.join(", "), what]
        })
        .collect();
    Section::table(
        "Sources and recipients",
        vec![format!(
            "Submitters: {}. Submitters are never named to recipients unless they opt in; recipients see the \
             number of sources and their sectors.",
            if submitters.is_empty() { "none registered".to_owned() } else { submitters.join(", ") }
        )],
        &["audience", "participants", "receives"],
        rows,
    )
}

/// What an egress view lets through, in words.
fn receives(v: &crate::policy::EgressView) -> String {
    let list = |items: Vec<&str>, all: &str| if items.is_empty() { all.to_owned() } else { items.join(", ") };
    format!(
        "{}; categories: {}; up to TLP {}; confidence ≥ {}; optional fields: {}",
        list(v.types.iter().map(|t| t.as_str()).collect(), "all types"),
        list(v.categories.iter().map(|c| c.as_str()).collect(), "all but illegal-content"),
        v.max_tlp,
        v.min_confidence,
        list(v.fields.iter().map(String::as_str).collect(), "none"),
    )
}

/// The contact-point directory, a processing of its own (issue 13).
fn directory() -> Section {
    Section::text(
        "Processing: the 24/7 contact-point directory",
        vec![
            "Each participant publishes, through PUT /v1/directory/self, the contact points it wants reachable \
             at any hour (role, hours, phone, functional e-mail address, languages, OpenPGP fingerprint); every \
             registered participant reads them through GET /v1/directory. Purpose: reaching the right desk of a \
             bank, an ISP or a police unit when a case is urgent (COM(2007) 267)."
                .into(),
            "These are business contacts published on purpose, so the privacy filter does not apply to them. A \
             functional mailbox or desk number is expected, but an address or number may still identify a person: \
             each participant is responsible for what it publishes, replaces its entry whole at any time, and an \
             empty list withdraws it. Entries are encrypted at rest; a revoked participant is no longer listed."
                .into(),
            "The audit trail records each change (who, when, how many contact points), never the contents, so a \
             withdrawn contact leaves no copy in the append-only trail."
                .into(),
        ],
    )
}

/// Sightings and false-positive reports (issue 13).
fn sightings(s: &crate::config::Sightings) -> Section {
    Section::text(
        "Processing: sightings and false-positive reports",
        vec![
            format!(
                "ISPs and police report that they saw an indicator (a count, no personal data) or that it is a \
                 false positive (a reason in free text). False positives from {} distinct participants, or one \
                 from a participant of {}, withdraw the indicator from blocklists until its submitter confirms \
                 or retracts it.",
                s.false_positive_threshold,
                if s.decisive_audiences.is_empty() {
                    "no audience".to_owned()
                } else {
                    s.decisive_audiences.join(", ")
                }
            ),
            "A reason goes through the reporter's ingest policy like an indicator's description: personal data \
             in it is removed before it is stored. The submitter sees the reports with the reporter's sector, \
             never its name; the audit trail records counts and the withdrawn indicator ids, never the reasons."
                .into(),
        ],
    )
}

fn retention(e: &crate::config::Expiry) -> Section {
    Section::text(
        "Retention",
        vec![
            format!(
                "Indicators leave blocklists and the feed at their valid_until, by default {} days for URLs, {} \
                 for domains, {} for IP addresses, {} for file hashes and {} for other types; each sighting \
                 renews it. Submitters can retract their contributions at any time.",
                e.url_days, e.domain_days, e.ip_days, e.hash_days, e.other_days
            ),
            "The audit trail (identities of participants, counts and policy versions, never submitted values) is \
             kept for the life of the deployment so that every transfer can be proven afterwards."
                .into(),
        ],
    )
}

fn security_measures() -> Section {
    Section::text(
        "Security measures",
        vec![
            "Mutual TLS 1.2/1.3 with client certificates issued by the exchange's CA, certificate revocation, \
             role checks on every endpoint and per-participant rate limits."
                .into(),
            "Values at rest encrypted with AES-256-GCM; pseudonyms are keyed HMAC-SHA-256 (equal inputs link \
             without revealing the value); escrowed values are sealed to a public key whose private half the \
             server never holds. The audit trail is hash-chained and verifiable (`tamis audit verify`)."
                .into(),
        ],
    )
}

/// Every policy version ever loaded, oldest first.
fn policy_history(history: &[PolicyVersion]) -> Section {
    let mut h = history.to_vec();
    h.sort_by_key(|v| v.first_loaded);
    let fmt = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()).unwrap_or_else(|| "–".into())
    };
    let rows = h
        .iter()
        .map(|v| {
            vec![
                format!("{}@{}", v.id, v.hash),
                fmt(Some(v.first_loaded)),
                fmt(v.first_used),
                fmt(v.last_used),
                v.submissions.to_string(),
            ]
        })
        .collect();
    Section::table(
        "Policy history",
        vec![],
        &["version", "first loaded", "first used", "last used", "submissions"],
        rows,
    )
}

fn generated(i: &ProcessingInputs<'_>) -> String {
    i.generated.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The record of processing as Markdown.
pub fn processing_markdown(i: &ProcessingInputs<'_>) -> String {
    let mut md = format!("# Record of processing — tamis exchange\n\nGenerated {}.\n", generated(i));
    for s in sections(i) {
        let _ = write!(md, "\n## {}\n\n", s.title);
        for p in &s.paragraphs {
            let _ = writeln!(md, "{p}\n");
        }
        if let Some((head, rows)) = &s.table {
            let _ = writeln!(md, "| {} |", head.join(" | "));
            let _ = writeln!(md, "|{}|", head.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
            for r in rows {
                let _ = writeln!(md, "| {} |", r.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
            }
            md.push('\n');
        }
    }
    md
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;color:#1f2933;line-height:1.5}h1{font-size:1.6rem;border-bottom:3px solid #3e7cb1;padding-bottom:.3rem}\
h2{font-size:1.2rem;margin-top:2rem;color:#243b53}table{border-collapse:collapse;width:100%;font-size:.92rem}\
th,td{border:1px solid #d9e2ec;padding:.4rem .6rem;text-align:left;vertical-align:top}th{background:#f0f4f8}\
tr:nth-child(even) td{background:#fafcfe}.meta{color:#627d98;font-size:.9rem}code{background:#f0f4f8;padding:0 .2rem}";

/// The record of processing as a standalone HTML page.
pub fn processing_html(i: &ProcessingInputs<'_>) -> String {
    let mut h = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Record of processing — tamis</title>\
         <style>{STYLE}</style></head><body><h1>Record of processing — tamis exchange</h1>\
         <p class=\"meta\">Generated {}.</p>",
        esc(&generated(i))
    );
    for s in sections(i) {
        let _ = write!(h, "<h2>{}</h2>", esc(&s.title));
        for p in &s.paragraphs {
            let _ = write!(h, "<p>{}</p>", esc(p));
        }
        if let Some((head, rows)) = &s.table {
            h.push_str("<table><thead><tr>");
            for c in head {
                let _ = write!(h, "<th>{}</th>", esc(c));
            }
            h.push_str("</tr></thead><tbody>");
            for r in rows {
                h.push_str("<tr>");
                for c in r {
                    let _ = write!(h, "<td>{}</td>", esc(c));
                }
                h.push_str("</tr>");
            }
            h.push_str("</tbody></table>");
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// Horizontal SVG bars for a `{label: number}` object.
fn bars(title: &str, v: &Value) -> String {
    let Some(map) = v.as_object() else { return String::new() };
    let items: Vec<(&String, f64)> = map.iter().filter_map(|(k, n)| n.as_f64().map(|n| (k, n))).collect();
    if items.is_empty() {
        return format!("<h2>{}</h2><p class=\"meta\">No data yet.</p>", esc(title));
    }
    let max = items.iter().map(|(_, n)| *n).fold(1.0, f64::max);
    let row = 24;
    let height = items.len() * row + 8;
    let mut s = format!(
        "<h2>{}</h2><svg role=\"img\" aria-label=\"{}\" width=\"100%\" viewBox=\"0 0 640 {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-size=\"12\">",
        esc(title),
        esc(title)
    );
    for (i, (label, n)) in items.iter().enumerate() {
        let y = i * row + 4;
        let w = (n / max * 400.0).max(1.0);
        let _ = write!(
            s,
            "<text x=\"150\" y=\"{}\" text-anchor=\"end\" fill=\"#334e68\">{}</text>\
             <rect x=\"160\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" rx=\"3\" fill=\"#3e7cb1\"/>\
             <text x=\"{:.1}\" y=\"{}\" fill=\"#1f2933\">{}</text>",
            y + 12,
            esc(label),
            165.0 + w,
            y + 12,
            n
        );
    }
    s.push_str("</svg>");
    s
}

/// The statistics page of the admin listener.
pub fn stats_html(v: &Value) -> String {
    let mut h = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tamis statistics</title>\
         <style>{STYLE}</style></head><body><h1>tamis — statistics</h1>\
         <p class=\"meta\">Non-personal aggregates over live indicators and submissions. {} live indicators, {} \
         corroborated by more than one source; {} personal-data items removed in total.</p>",
        v["indicators"]["total"], v["indicators"]["corroborated"], v["removals"]["total"]
    );
    h.push_str(&bars("Indicators by category", &v["indicators"]["by_category"]));
    h.push_str(&bars("Indicators by type", &v["indicators"]["by_type"]));
    h.push_str(&bars("Indicators by reporting sector", &v["indicators"]["by_sector"]));
    h.push_str(&bars("Indicators by TLP", &v["indicators"]["by_tlp"]));
    h.push_str(&bars("Indicators by week first seen", &v["indicators"]["by_week"]));
    h.push_str(&bars("Personal data removed, by data type", &v["removals"]["by_data_type"]));
    h.push_str(&bars("Personal data removed, by week", &v["removals"]["by_week"]));
    h.push_str(&bars("Submissions by week", &v["submissions_by_week"]));
    h.push_str("</body></html>\n");
    h
}
