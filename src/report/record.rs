//! The record of processing (GDPR Art. 30(1)), written as Markdown and
//! rendered to HTML by [`super::markdown_html`]. Every item comes from the
//! configuration (`[controller]`, `[dpo]`, `[record]`, `[expiry]`), the
//! registry, the policies in force and their history, or from what the code
//! does; what only the controller can state and has not is said to be "not
//! configured", never guessed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::{Config, Contact};
use crate::identity::{Registry, Role};
use crate::policy::{DataCategory, Policy, action_phrase, value_phrase};
use crate::store::PolicyVersion;

use super::{md, when};

/// Our own text in a table cell: only `|` needs escaping.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

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

impl ProcessingInputs<'_> {
    fn default_in_force(&self) -> Option<&Policy> {
        self.policies.iter().copied().find(|p| p.id == self.default_policy)
    }
}

/// A plain "not configured" line naming the setting to add.
fn not_configured(setting: &str) -> String {
    format!("*Not configured — set {setting} in tamis.toml.*")
}

/// The record of processing as Markdown.
pub fn processing_markdown(i: &ProcessingInputs<'_>) -> String {
    let mut s = format!(
        "# Record of processing — tamis exchange\n\nGenerated {}. Record of processing activities (GDPR \
         Art. 30(1)) of this deployment, built from `tamis.toml`, the participant registry and the policies \
         in force.\n",
        when(i.generated)
    );
    controller(&mut s, i.config);
    purposes(&mut s, i.config);
    subjects_and_categories(&mut s, i.default_in_force());
    recipients(&mut s, i);
    transfers(&mut s, i.config);
    retention(&mut s, &i.config.expiry);
    security_measures(&mut s, i.config);
    policies_in_force(&mut s, i);
    for p in &i.policies {
        policy_section(&mut s, p, i.default_in_force());
    }
    policy_history(&mut s, i.history.as_deref());
    other_processing(&mut s, &i.config.sightings);
    private_lookup(&mut s, &i.config.lookup);
    s
}

fn contact_line(c: &Contact) -> String {
    format!("{} — {}", md(&c.name), md(&c.contact))
}

/// Art. 30(1)(a): controller, representative, joint controllers, DPO.
fn controller(s: &mut String, cfg: &Config) {
    s.push_str("\n## 1. Controller and data-protection officer\n\n");
    match &cfg.controller {
        Some(c) => {
            let _ = writeln!(s, "- **Controller:** {}", contact_line(c));
            if let Some(r) = &c.representative {
                let _ = writeln!(s, "- **Representative in the Union (Art. 27):** {}", md(r));
            }
            for j in &c.joint_controllers {
                let _ = writeln!(s, "- **Joint controller (Art. 26):** {}", md(j));
            }
        }
        None => {
            let _ = writeln!(s, "- **Controller:** {}", not_configured("`[controller]` (`name`, `contact`)"));
        }
    }
    match &cfg.dpo {
        Some(d) => {
            let _ = writeln!(s, "- **Data-protection officer:** {}", contact_line(d));
        }
        None => {
            let _ = writeln!(s, "- **Data-protection officer:** {}", not_configured("`[dpo]` (`name`, `contact`)"));
        }
    }
}

/// Art. 30(1)(b): purposes, with the configured legal basis.
fn purposes(s: &mut String, cfg: &Config) {
    s.push_str(
        "\n## 2. Purposes of the processing\n\n\
         The exchange receives threat and fraud indicators from banks and internet service providers and \
         redistributes their non-personal part (attacker domains, URLs, IP addresses, file hashes) to law \
         enforcement and to ISPs for blocking, to prevent and investigate cybercrime.\n\n\
         Personal data that submitters include by accident or necessity is removed or pseudonymised on \
         receipt, before anything is stored, by the versioned ingest policies in section 8.\n\n",
    );
    let basis = match &cfg.record.legal_basis {
        Some(b) => md(b),
        None => not_configured("`legal_basis` under `[record]`"),
    };
    let _ = writeln!(s, "**Legal basis:** {basis}");
}

/// Art. 30(1)(c): who the data is about, and what data, as the default
/// policy treats it.
fn subjects_and_categories(s: &mut String, default: Option<&Policy>) {
    s.push_str(
        "\n## 3. Categories of data subjects and of personal data\n\n\
         **Data subjects**\n\n\
         - Victims and customers of the submitting banks and ISPs, whose details appear in submitted URLs, \
         descriptions, attributes and tags. Removed or replaced before storage (below).\n\
         - Persons behind indicator values: e-mail addresses, phone numbers and bank accounts used in fraud \
         (perpetrators, money mules, or persons whose details were misused). Kept, pseudonymised, escrowed or \
         refused by the value rules below.\n\
         - Staff of the exchange who reveal escrowed values: their user name and the stated legal order, in \
         the audit trail.\n\
         - Participants are organisations; their certificates name the organisation, not a person.\n\n",
    );
    let Some(p) = default else {
        s.push_str("No default policy is loaded: the categories below cannot be stated.\n");
        return;
    };
    let _ = writeln!(
        s,
        "**Categories of personal data** (as the default policy `{}` treats them; other policies in section 8; \
         only e-mail addresses, phone numbers and IBANs can be indicator values)\n",
        md(&p.id)
    );
    s.push_str(
        "| personal data | found in free text, attributes, tags, URLs | as the indicator value |\n|---|---|---|\n",
    );
    let v = &p.ingest.value;
    for cat in DataCategory::ALL {
        let value = match cat {
            DataCategory::Email => {
                format!("consumer mail provider: {}; other: {}", value_phrase(v.email_consumer), value_phrase(v.email))
            }
            DataCategory::Phone => value_phrase(v.phone).to_owned(),
            DataCategory::Iban => value_phrase(v.iban).to_owned(),
            _ => "–".to_owned(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            cell(cat.describe()),
            cell(&action_phrase(p.ingest.detect.action(cat), cat)),
            cell(&value)
        );
    }
}

/// Art. 30(1)(d): per audience, who receives what and on which legal
/// basis; and who submits.
fn recipients(s: &mut String, i: &ProcessingInputs<'_>) {
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
    // Audiences the policy defines but nobody belongs to are recipients-to-be.
    if let Some(d) = i.default_in_force() {
        for a in d.egress.keys() {
            audiences.entry(a.clone()).or_default();
        }
    }
    submitters.sort();
    s.push_str("\n## 4. Recipients\n\n");
    let _ = writeln!(
        s,
        "**Sources (submitters):** {}. Submitters are never named to recipients unless they opt in; recipients \
         see the number of sources and their sectors.\n",
        if submitters.is_empty() { "none registered".to_owned() } else { md(&submitters.join(", ")) }
    );
    s.push_str("| audience | participants | receives | legal basis |\n|---|---|---|---|\n");
    for (audience, mut members) in audiences {
        members.sort();
        let what = match i.default_in_force().and_then(|d| d.egress.get(&audience)) {
            Some(v) => receives(v),
            None => "nothing (no egress view: fail closed)".to_owned(),
        };
        let basis = match i.config.record.recipients.get(&audience) {
            Some(b) => md(b),
            None => format!(
                "*not configured — set `\"{}\" = \"…\"` under `[record.recipients]`*",
                audience.replace('`', "'")
            ),
        };
        let members = if members.is_empty() { "none yet".to_owned() } else { md(&members.join(", ")) };
        let _ = writeln!(s, "| {} | {members} | {} | {basis} |", md(&audience), md(&what));
    }
    let hooks: Vec<String> = i.config.webhooks.hook.iter().map(|h| h.participant.clone()).collect();
    if !hooks.is_empty() {
        let _ = writeln!(
            s,
            "\n**Pushed by webhook** (the same view, sent to an endpoint the operator configured): {}.",
            md(&hooks.join(", "))
        );
    }
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

/// The contact-point directory and the sightings, processings of their own
/// (issue 13).
fn other_processing(s: &mut String, sightings: &crate::config::Sightings) {
    s.push_str(
        "\n## 10. Other processing\n\n### The 24/7 contact-point directory\n\n\
         - Each participant publishes, through `PUT /v1/directory/self`, the contact points it wants reachable \
         at any hour (role, hours, phone, functional e-mail address, languages, OpenPGP fingerprint); every \
         registered participant reads them through `GET /v1/directory`. Purpose: reaching the right desk of a \
         bank, an ISP or a police unit when a case is urgent (COM(2007) 267).\n\
         - These are business contacts published on purpose, so the privacy filter does not apply to them. A \
         functional mailbox or desk number is expected, but an address or number may still identify a person: \
         each participant is responsible for what it publishes, replaces its entry whole at any time, and an \
         empty list withdraws it. Entries are encrypted at rest; a revoked participant is no longer listed.\n\
         - The audit trail records each change (who, when, how many contact points), never the contents, so a \
         withdrawn contact leaves no copy in the append-only trail.\n\
         \n### Sightings and false-positive reports\n\n",
    );
    let decisive = if sightings.decisive_audiences.is_empty() {
        "no audience".to_owned()
    } else {
        md(&sightings.decisive_audiences.join(", "))
    };
    let _ = writeln!(
        s,
        "- ISPs and police report that they saw an indicator (a count, no personal data) or that it is a false \
         positive (a reason in free text). False positives from {} distinct participants, or one from a \
         participant of {decisive}, withdraw the indicator from blocklists until its submitter confirms or \
         retracts it.\n\
         - A reason goes through the reporter's ingest policy like an indicator's description: personal data in \
         it is removed before it is stored. The submitter sees the reports with the reporter's sector, never its \
         name; the audit trail records counts and the withdrawn indicator ids, never the reasons.",
        sightings.false_positive_threshold
    );
}

/// The private lookup of fraud identifiers (issue 13, item 1).
fn private_lookup(s: &mut String, lookup: &crate::config::LookupConfig) {
    let _ = writeln!(
        s,
        "\n### Private lookup of fraud identifiers\n\n\
         - Purpose: a bank checks whether an IBAN, phone number or e-mail address it is about to trust is \
         already reported as a mule or fraud identifier, without telling the exchange which one.\n\
         - What is stored: for each IBAN, phone or e-mail indicator value (the reported identifier, never a \
         value found in free text), a keyed one-way value (an OPRF output, RFC 9497) computed at ingest from \
         the normalised identifier before the policy pseudonymises it, kept encrypted next to the pseudonym. \
         It leaves the set when the indicator is retracted, expires, is withdrawn after false positives, or \
         is TLP:RED. The clear identifier is not stored.\n\
         - What the exchange learns from a lookup: who asked, when, how many blinded values (random to the \
         exchange), and a 4-hex-digit bucket (one of 65,536); not the identifier, nor the answer the client \
         computes. Each participant may have at most {} values evaluated per minute, as every evaluation \
         lets it test one guess. The audit trail records the number of evaluations per request, never the \
         values; bucket reads are counted, not recorded.\n\
         - Recipients: participants holding the `lookup` role (banks by default) learn whether an identifier \
         they already hold is in the set, nothing about who reported it.",
        lookup.evaluations_per_minute
    );
}

/// Art. 30(1)(e).
fn transfers(s: &mut String, cfg: &Config) {
    s.push_str("\n## 5. Transfers to third countries or international organisations\n\n");
    if cfg.record.transfers.is_empty() {
        s.push_str(
            "None configured (`transfers` under `[record]` in tamis.toml). Indicators go only to the \
             participants registered in section 4, over the exchange's own API.\n",
        );
    }
    for t in &cfg.record.transfers {
        let _ = writeln!(s, "- {}", md(t));
    }
}

/// Art. 30(1)(f): how long each kind of data is kept.
fn retention(s: &mut String, e: &crate::config::Expiry) {
    s.push_str("\n## 6. Retention periods\n\n| data | kept |\n|---|---|\n");
    let renew = format!(
        "after the last report (a submitter's own `valid_until` is honoured up to {} days after submission)",
        e.max_days
    );
    for (what, days) in [
        ("URLs", e.url_days),
        ("domains", e.domain_days),
        ("IP addresses and ranges", e.ip_days),
        ("file hashes", e.hash_days),
        ("e-mail addresses, phone numbers, IBANs, bitcoin addresses (as the value rules leave them)", e.other_days),
    ] {
        let _ = writeln!(s, "| {what} | {days} days {renew} |");
    }
    s.push_str(
        "| personal data found in submissions | not kept: removed or replaced before storage; only counts per \
         category are recorded |\n\
         | pseudonyms, escrowed values and private-lookup outputs | as long as the indicator they belong to |\n\
         | audit trail (participants, counts, policy versions; never submitted values) | the life of the \
         deployment, so that every disclosure can be proven afterwards |\n\n\
         Expired indicators leave the feed, the blocklists and TAXII at once. Submitters can retract their \
         contributions at any time.\n",
    );
}

/// Art. 30(1)(g): what the code does to protect the data.
fn security_measures(s: &mut String, cfg: &Config) {
    s.push_str(
        "\n## 7. Security measures\n\n\
         - **Access:** mutual TLS 1.2/1.3; only client certificates issued by the exchange's CA, checked \
         against its revocation list; a role check on every endpoint; per-participant rate limits and quotas.\n\
         - **Encryption at rest:** every stored value and audit record is sealed with AES-256-GCM under the \
         storage key (mode 0600).\n\
         - **Pseudonymisation:** keyed HMAC-SHA-256 (equal values link without revealing them).\n\
         - **Escrow:** values kept for legal orders are sealed to a public key (X25519); the server never \
         holds the private half, and every reveal is recorded with its reason.\n\
         - **Audit trail:** hash-chained records of every submission, pull, retraction, policy load and reveal, \
         checked against an anchor kept outside the data directory (`tamis audit verify`).\n\
         - **Minimisation by default:** unknown fields, undecodable values and detector errors remove the \
         field (fail closed); logs and errors carry counts, never values.\n",
    );
    let admin = if cfg.admin_listen.ip().is_loopback() {
        "on the loopback interface only".to_owned()
    } else {
        format!("on {} (admin_allow_remote: keep it behind a firewall)", cfg.admin_listen)
    };
    let _ = writeln!(s, "- **Administration:** the admin listener answers {admin}; reloads need its token.");
}

fn policies_in_force(s: &mut String, i: &ProcessingInputs<'_>) {
    s.push_str(
        "\n## 8. Ingest policies in force\n\nEach stored indicator and each audit record names the policy \
         version that produced it.\n\n| policy | version | use |\n|---|---|---|\n",
    );
    for p in &i.policies {
        let role = if p.id == i.default_policy { "default for all submitters" } else { "assigned per participant" };
        let _ = writeln!(s, "| {} | `{}` | {role} |", md(&p.id), p.version());
    }
}

/// The parts of a policy's description, each under its heading.
fn policy_parts(p: &Policy) -> [(&'static str, String); 5] {
    [
        ("Personal data found in free text, attributes, tags and inside URLs", detections(p)),
        ("The indicator value itself (the attacker's infrastructure is kept)", values(p)),
        ("Fields", fields(p)),
        (
            "Attributes and URL parameters whose name says what they hold (the whole value is treated as that \
             data; full lists: `tamis policy explain`)",
            named_keys(p),
        ),
        ("Who receives what", egress(p)),
    ]
}

/// One policy, compactly; a part that is the same as in the default policy
/// is not repeated.
fn policy_section(s: &mut String, p: &Policy, default: Option<&Policy>) {
    let _ = writeln!(s, "\n### Policy {} (`{}`)\n", md(&p.id), p.version());
    if !p.description.is_empty() {
        let _ = writeln!(s, "{}\n", md(&p.description));
    }
    let theirs = default.filter(|d| d.id != p.id).map(policy_parts);
    for (k, (title, body)) in policy_parts(p).into_iter().enumerate() {
        let _ = writeln!(s, "**{title}**\n");
        match &theirs {
            Some(d) if d[k].1 == body => {
                let _ = writeln!(s, "Same as policy {}.\n", md(&default.map(|d| d.id.clone()).unwrap_or_default()));
            }
            _ => {
                let _ = writeln!(s, "{body}");
            }
        }
    }
}

fn detections(p: &Policy) -> String {
    let mut s = String::from("| personal data | what happens to it |\n|---|---|\n");
    for cat in DataCategory::ALL {
        let _ = writeln!(s, "| {} | {} |", cat.as_str(), cell(&action_phrase(p.ingest.detect.action(cat), cat)));
    }
    s
}

fn values(p: &Policy) -> String {
    let v = &p.ingest.value;
    let mut s = String::new();
    for (what, a) in [
        ("e-mail at a consumer mail provider", v.email_consumer),
        ("other e-mail (attacker-registered domain)", v.email),
        ("phone number", v.phone),
        ("IBAN", v.iban),
    ] {
        let _ = writeln!(s, "- {what}: {}", value_phrase(a));
    }
    s.push_str("- domains, IP addresses, hashes, bitcoin addresses: kept\n");
    s
}

/// The free fields, those with the same treatment together.
fn fields(p: &Policy) -> String {
    let f = &p.ingest.fields;
    let mut by_mode: Vec<(crate::policy::FieldMode, Vec<&str>)> = Vec::new();
    for (name, mode) in [("description", f.description), ("attributes", f.attributes), ("tags", f.tags)] {
        match by_mode.iter_mut().find(|(m, _)| *m == mode) {
            Some((_, names)) => names.push(name),
            None => by_mode.push((mode, vec![name])),
        }
    }
    let mut s = String::new();
    for (mode, names) in by_mode {
        let _ = writeln!(s, "- {}: {}", names.join(", "), cell(mode.phrase()));
    }
    s.push_str("- unrecognised fields and nested attribute values: never stored\n");
    s
}

/// The key rules, each with a few of its names (the full lists are in the
/// policy file and `tamis policy explain`).
fn named_keys(p: &Policy) -> String {
    if p.ingest.keys.is_empty() {
        return "None.\n".to_owned();
    }
    let mut s = String::from("| names | treated as | action |\n|---|---|---|\n");
    for r in &p.ingest.keys {
        let shown: Vec<&str> = r.keys.iter().take(6).map(String::as_str).collect();
        let more = r.keys.len().saturating_sub(shown.len());
        let names = if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") };
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            md(&names),
            cell(r.category.as_str()),
            cell(&action_phrase(r.action, r.category))
        );
    }
    s
}

fn egress(p: &Policy) -> String {
    if p.egress.is_empty() {
        return "No audience receives anything under this policy.\n".to_owned();
    }
    let mut s = String::new();
    for v in p.egress.values() {
        let _ = writeln!(s, "- {}: {}", md(&v.audience), md(&receives(v)));
    }
    s
}

/// Every policy version ever loaded, oldest first.
fn policy_history(s: &mut String, history: Option<&[PolicyVersion]>) {
    s.push_str("\n## 9. Policy history\n\n");
    let Some(history) = history else {
        s.push_str(
            "Not included: the store could not be read (a running exchange holds it). The running exchange \
             serves the full record on its admin listener at `/record`, and `tamis report processing` fetches \
             it from there.\n",
        );
        return;
    };
    if history.is_empty() {
        s.push_str("No policy version recorded yet (the exchange has not run on this data directory).\n");
        return;
    }
    let mut h = history.to_vec();
    h.sort_by_key(|v| v.first_loaded);
    let t = |t: Option<time::OffsetDateTime>| t.map(when).unwrap_or_else(|| "–".into());
    s.push_str("| version | first loaded | first used | last used | submissions |\n|---|---|---|---|---|\n");
    for v in &h {
        let _ = writeln!(
            s,
            "| `{}@{}` | {} | {} | {} | {} |",
            v.id,
            v.hash,
            t(Some(v.first_loaded)),
            t(v.first_used),
            t(v.last_used),
            v.submissions
        );
    }
}
