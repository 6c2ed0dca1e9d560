//! The statistics page for the data-protection officer (admin listener,
//! `/stats`), drawn from the statistics document of `GET /v1/stats` plus the
//! audit-chain status and the reveal count the admin listener adds.
//!
//! Removals are split in two: personal data that a detector or a key rule
//! found (the categories of [`DataCategory`]), and fields removed whole
//! without being classified (unknown fields, dropped descriptions,
//! attributes and tags, undecodable parts), which are not counted as
//! personal data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::plot::{bars, num, weekly_lines};
use super::{esc, page, when};
use crate::model::Removals;
use crate::policy::DataCategory;
use crate::store::Counters;

/// Weeks shown on the weekly plots, at most (the JSON has them all).
const MAX_WEEKS: usize = 26;
/// Series drawn on the removals plot; the rest are summed as "other types".
const MAX_SERIES: usize = 7;

/// True for the data categories of personal data (`email`, `name`, ...);
/// false for the kinds of fields removed unclassified (`unknown-field`,
/// `free-text`, `attribute`, `tag`, `timestamp`, `undecodable`, `url`).
pub fn is_personal_data(category: &str) -> bool {
    DataCategory::ALL.iter().any(|c| c.as_str() == category)
}

/// What each kind of unclassified removal is, for the page.
fn other_kind_meaning(kind: &str) -> &'static str {
    match kind {
        "unknown-field" => "fields tamis does not know (e.g. a feed's own columns), dropped unread",
        "free-text" => "descriptions dropped whole (by the policy, or because a detector failed)",
        "attribute" => "attributes dropped whole (by the policy, nested values, or a key naming personal data)",
        "tag" => "tags dropped (by the policy, or because a detector failed)",
        "timestamp" => "timestamps generalised to the day",
        "undecodable" => "encoded parts that could not be decoded, replaced",
        "url" => "URL parts that could not be decoded, replaced",
        _ => "removed by a rule of the policy",
    }
}

/// The `removals` object of the statistics document: everything (as
/// before: `total`, `by_data_type`, `by_data_type_and_action`, `by_week`),
/// then `personal_data` and `other_fields` apart.
pub fn removals_json(counters: &Counters) -> Value {
    let mut all = Removals::default();
    let mut pd_by_week = serde_json::Map::new();
    let mut other_by_week = serde_json::Map::new();
    for (week, r) in &counters.removals_by_week {
        all.merge(r);
        let pd: BTreeMap<&str, u64> =
            r.0.iter()
                .filter(|(c, _)| is_personal_data(c))
                .map(|(c, a)| (c.as_str(), a.values().sum::<u64>()))
                .collect();
        if !pd.is_empty() {
            pd_by_week.insert(week.clone(), json!(pd));
        }
        let other: u64 = r.0.iter().filter(|(c, _)| !is_personal_data(c)).flat_map(|(_, a)| a.values()).sum();
        if other > 0 {
            other_by_week.insert(week.clone(), json!(other));
        }
    }
    let (pd, other): (BTreeMap<_, _>, BTreeMap<_, _>) = all.0.iter().partition(|(c, _)| is_personal_data(c));
    let sum = |m: &BTreeMap<&String, &BTreeMap<String, u64>>| -> u64 { m.values().flat_map(|a| a.values()).sum() };
    let by = |m: &BTreeMap<&String, &BTreeMap<String, u64>>| -> BTreeMap<String, u64> {
        m.iter().map(|(c, a)| ((*c).clone(), a.values().sum())).collect()
    };
    json!({
        "total": all.total(),
        "by_data_type": by(&all.0.iter().collect()),
        "by_data_type_and_action": all,
        "by_week": counters.removals_by_week.iter().map(|(w, r)| (w.clone(), json!(r.total()))).collect::<serde_json::Map<_, _>>(),
        "personal_data": {
            "total": sum(&pd),
            "by_type": by(&pd),
            "by_type_and_action": pd,
            "by_week": pd_by_week,
        },
        "other_fields": {
            "total": sum(&other),
            "by_kind": by(&other),
            "by_week": other_by_week,
        },
    })
}

/// Consecutive ISO weeks (`2026-W48`) from the first week of `weeks` (at
/// most [`MAX_WEEKS`] back) to the later of its last week and `now`'s week.
pub fn week_axis(weeks: &BTreeSet<String>, now: OffsetDateTime) -> Vec<String> {
    let parse = |w: &str| {
        let (y, n) = w.split_once("-W")?;
        time::Date::from_iso_week_date(y.parse().ok()?, n.parse().ok()?, time::Weekday::Monday).ok()
    };
    let this_week = now.date() - time::Duration::days(i64::from(now.weekday().number_days_from_monday()));
    let Some(first) = weeks.iter().filter_map(|w| parse(w)).min() else { return Vec::new() };
    let last = weeks.iter().filter_map(|w| parse(w)).max().unwrap_or(first).max(this_week);
    let first = first.max(last - time::Duration::weeks(MAX_WEEKS as i64 - 1));
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        let (y, w, _) = d.to_iso_week_date();
        out.push(format!("{y}-W{w:02}"));
        d += time::Duration::weeks(1);
    }
    out
}

/// `{week: n}` as counts along `axis`.
fn along(axis: &[String], by_week: &Value, pick: impl Fn(&Value) -> u64) -> Vec<u64> {
    axis.iter().map(|w| by_week.get(w).map(&pick).unwrap_or(0)).collect()
}

/// The weekly line chart; with one week only, bars of that week (points
/// on one vertical line would hide each other) and a note.
fn weekly_or_bars(h: &mut String, title: &str, y_label: &str, axis: &[String], series: &[(String, Vec<u64>)]) {
    if let [week] = axis {
        let items: Vec<(String, u64)> = series.iter().map(|(n, c)| (n.clone(), c.iter().sum())).collect();
        h.push_str(&bars(&format!("{title} ({week})"), &items));
        let _ = write!(
            h,
            "<p class=\"note\">One week of data so far ({}): the weekly plot starts with the second week.</p>",
            esc(week)
        );
    } else {
        h.push_str(&weekly_lines(title, y_label, axis, series));
    }
}

/// `{label: n}` as pairs, largest first.
fn pairs(v: &Value) -> Vec<(String, u64)> {
    let mut items: Vec<(String, u64)> =
        v.as_object().into_iter().flatten().filter_map(|(k, n)| n.as_u64().map(|n| (k.clone(), n))).collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    items
}

/// The statistics page. `v` is the statistics document; the admin listener
/// adds `audit` (the cached chain verification) and `reveals`.
pub fn stats_html(v: &Value) -> String {
    let generated = v["generated_at"]
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(OffsetDateTime::now_utc);
    let mut h = format!(
        "<h1>tamis — statistics for the data-protection officer</h1><p class=\"meta\">Generated {}. Counts and \
         types only: no submitted value and no participant appears on this page.</p>",
        when(generated)
    );
    summary_cards(&mut h, v);
    personal_data_section(&mut h, v, generated);
    other_fields_section(&mut h, v);
    volume_section(&mut h, v, generated);
    indicator_section(&mut h, v);
    page("tamis — statistics", &h)
}

fn card(h: &mut String, value: &str, label: &str, note: &str) {
    let _ = write!(h, "<div class=\"card\"><b>{value}</b><span>{}</span>", esc(label));
    if !note.is_empty() {
        let _ = write!(h, "<div class=\"note\">{note}</div>");
    }
    h.push_str("</div>");
}

fn summary_cards(h: &mut String, v: &Value) {
    let n = |x: &Value| num(x.as_u64().unwrap_or(0));
    h.push_str("<div class=\"cards\">");
    card(
        h,
        &n(&v["indicators"]["total"]),
        "live indicators",
        &format!("{} corroborated by more than one source", n(&v["indicators"]["corroborated"])),
    );
    let pd = &v["removals"]["personal_data"];
    card(h, &n(&pd["total"]), "personal-data items removed", "found by detectors or key rules; see below");
    card(
        h,
        &n(&v["removals"]["other_fields"]["total"]),
        "other fields removed",
        "removed whole without classification; not counted as personal data",
    );
    match v["reveals"].as_u64() {
        Some(r) => card(h, &num(r), "escrow reveals", "values re-identified for a legal order (audit trail)"),
        None => card(h, "–", "escrow reveals", "not available here"),
    }
    audit_card(h, &v["audit"]);
    h.push_str("</div>");
}

/// The audit chain's status: verified up to entry N at a time, or where it
/// failed.
fn audit_card(h: &mut String, a: &Value) {
    let checked = a["checked_at"]
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map(when)
        .unwrap_or_default();
    if a.is_null() {
        card(h, "–", "audit chain", "not checked here; use tamis audit verify");
    } else if a["ok"] == true {
        let note = format!("verified up to entry {} at {}", num(a["records"].as_u64().unwrap_or(0)), esc(&checked));
        card(h, "<span class=\"ok\">✓ intact</span>", "audit chain", &note);
    } else {
        let note = format!(
            "FAILED at entry {}: {} (checked {})",
            a["first_bad"]["seq"],
            esc(a["first_bad"]["problem"].as_str().unwrap_or("unreadable")),
            esc(&checked)
        );
        card(h, "<span class=\"bad\">✗ broken</span>", "audit chain", &note);
    }
}

fn personal_data_section(h: &mut String, v: &Value, now: OffsetDateTime) {
    let pd = &v["removals"]["personal_data"];
    h.push_str("<h2>Personal data removed, by type and week</h2>");
    let types = pairs(&pd["by_type"]);
    if types.is_empty() {
        h.push_str("<p class=\"meta\">No personal data has been removed from a submission yet.</p>");
        return;
    }
    let weeks: BTreeSet<String> = pd["by_week"].as_object().into_iter().flatten().map(|(w, _)| w.clone()).collect();
    let axis = week_axis(&weeks, now);
    let mut series: Vec<(String, Vec<u64>)> = Vec::new();
    for (i, (t, _)) in types.iter().enumerate() {
        let counts = along(&axis, &pd["by_week"], |w| w[t].as_u64().unwrap_or(0));
        if i < MAX_SERIES || types.len() == MAX_SERIES + 1 {
            series.push((t.clone(), counts));
        } else if let Some((_, rest)) = series.get_mut(MAX_SERIES) {
            rest.iter_mut().zip(counts).for_each(|(a, b)| *a += b);
        } else {
            series.push(("other types".to_owned(), counts));
        }
    }
    weekly_or_bars(h, "Personal data removed per week, by type", "items removed per week", &axis, &series);
    h.push_str("<table><thead><tr><th>type</th><th class=\"n\">removed</th><th>how</th></tr></thead><tbody>");
    for (t, n) in &types {
        let how: Vec<String> = pd["by_type_and_action"][t]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(a, c)| format!("{} {}", esc(a), num(c.as_u64().unwrap_or(0))))
            .collect();
        let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>", esc(t), num(*n), how.join(", "));
    }
    h.push_str("</tbody></table>");
}

fn other_fields_section(h: &mut String, v: &Value) {
    let other = &v["removals"]["other_fields"];
    h.push_str(
        "<h2>Other fields removed as a precaution</h2><p class=\"meta\">Removed whole, without looking for \
         personal data in them: they may or may not have held any, and are not counted above.</p>",
    );
    let kinds = pairs(&other["by_kind"]);
    if kinds.is_empty() {
        h.push_str("<p class=\"meta\">None so far.</p>");
        return;
    }
    h.push_str("<table><thead><tr><th>kind</th><th class=\"n\">removed</th><th>what it is</th></tr></thead><tbody>");
    for (k, n) in kinds {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&k),
            num(n),
            other_kind_meaning(&k)
        );
    }
    h.push_str("</tbody></table>");
}

fn volume_section(h: &mut String, v: &Value, now: OffsetDateTime) {
    let keys = ["submissions_by_week", "accepted_by_week", "rejected_by_week"];
    let weeks: BTreeSet<String> =
        keys.iter().flat_map(|k| v[*k].as_object().into_iter().flatten().map(|(w, _)| w.clone())).collect();
    h.push_str("<h2>Submissions per week</h2>");
    if weeks.is_empty() {
        h.push_str("<p class=\"meta\">No submission yet.</p>");
        return;
    }
    let axis = week_axis(&weeks, now);
    let series = |pairs: &[(&str, &str)]| -> Vec<(String, Vec<u64>)> {
        pairs.iter().map(|(name, k)| ((*name).to_owned(), along(&axis, &v[*k], |n| n.as_u64().unwrap_or(0)))).collect()
    };
    weekly_or_bars(h, "Submissions per week", "submissions per week", &axis, &series(&[("submissions", keys[0])]));
    h.push_str("<h2>Indicators submitted per week</h2>");
    let indicators = series(&[("accepted", keys[1]), ("rejected", keys[2])]);
    weekly_or_bars(h, "Indicators submitted per week", "indicators per week", &axis, &indicators);
}

fn indicator_section(h: &mut String, v: &Value) {
    h.push_str("<h2>Live indicators</h2>");
    for (title, key) in [
        ("by category", "by_category"),
        ("by type", "by_type"),
        ("by reporting sector", "by_sector"),
        ("by TLP", "by_tlp"),
    ] {
        let items = pairs(&v["indicators"][key]);
        let _ = write!(h, "<h3>{}</h3>", esc(&format!("Live indicators {title}")));
        if items.is_empty() {
            h.push_str("<p class=\"meta\">None yet.</p>");
        } else {
            h.push_str(&bars(&format!("Live indicators {title}"), &items));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_not_personal_data() {
        let mut c = Counters::default();
        let mut r = Removals::default();
        r.add("email", "redact");
        r.add("email", "pseudonymise");
        r.add_n("unknown-field", "drop", 4);
        c.removals_by_week.insert("2026-W48".into(), r);
        let v = removals_json(&c);
        assert_eq!(v["total"], 6);
        assert_eq!(v["personal_data"]["total"], 2);
        assert_eq!(v["personal_data"]["by_week"]["2026-W48"]["email"], 2);
        assert_eq!(v["other_fields"]["total"], 4);
        assert_eq!(v["other_fields"]["by_kind"]["unknown-field"], 4);
        assert!(v["personal_data"]["by_type"].get("unknown-field").is_none());
    }

    #[test]
    fn the_week_axis_is_continuous_and_reaches_this_week() {
        let now = time::macros::datetime!(2026-12-02 10:00 UTC); // 2026-W49
        let weeks: BTreeSet<String> = ["2026-W45".to_owned(), "2026-W47".to_owned()].into();
        assert_eq!(week_axis(&weeks, now), ["2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]);
        let old: BTreeSet<String> = ["2025-W01".to_owned()].into();
        assert_eq!(week_axis(&old, now).len(), MAX_WEEKS);
        let across: BTreeSet<String> = ["2026-W52".to_owned(), "2027-W02".to_owned()].into();
        assert_eq!(week_axis(&across, now), ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]);
    }
}
