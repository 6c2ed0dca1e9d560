//! Endpoints for data-protection officers and statistics: the audit chain,
//! the policy registry and dry-runs (SPEC §4, §8). Nothing here ever holds a
//! submitted value: audit records carry counts, dry-runs answer with the
//! sanitised output only.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use warp::{Rejection, Reply};

use time::format_description::well_known::Rfc3339;

use super::handlers;
use super::{ApiError, AppState, parse_u64_param, query_params};
use crate::app::AuditCheck;
use crate::audit::AuditEvent;
use crate::config::Config;
use crate::identity::Participant;
use crate::pipeline::ingest::Format;
use crate::pipeline::{self, Input};

fn internal(e: crate::store::StoreError) -> Rejection {
    Rejection::from(ApiError::from_store(e, "store read failed"))
}

/// `GET /v1/audit?after=SEQ&limit=N`.
pub async fn audit_log(
    _p: Arc<Participant>,
    query: String,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let mut after = 0u64;
    let mut limit = 1000usize;
    for (k, v) in query_params(&query, &["after", "limit"])? {
        let n = parse_u64_param(&k, &v)?;
        match k.as_str() {
            "after" => after = n,
            _ => {
                if n == 0 || n > 10_000 {
                    return Err(ApiError::BadRequest("`limit` must be between 1 and 10000".into()).into());
                }
                limit = n as usize;
            }
        }
    }
    let records = state.store.audit_log(after, limit).await.map_err(internal)?;
    let next = records.last().map(|r| r.seq).unwrap_or(after);
    Ok(handlers::with_audit_head(
        warp::reply::json(&json!({"records": records, "next": next.to_string()})).into_response(),
        &state,
    ))
}

/// `GET /v1/audit/verify`.
pub async fn audit_verify(_p: Arc<Participant>, state: Arc<AppState>) -> Result<warp::reply::Response, Rejection> {
    let v = state.store.verify_audit().await.map_err(internal)?;
    Ok(handlers::with_audit_head(warp::reply::json(&v).into_response(), &state))
}

/// `GET /v1/policies`.
pub async fn policies(_p: Arc<Participant>, state: Arc<AppState>) -> Result<warp::reply::Response, Rejection> {
    let loaded = state.policies.load();
    let versions = state.store.policy_versions().await.map_err(internal)?;
    let mut list: Vec<Value> = loaded
        .by_id
        .iter()
        .map(|(id, s)| {
            let p = s.policy();
            json!({
                "id": id,
                "version": p.version(),
                "hash": p.hash,
                "default": *id == loaded.default,
                "audiences": p.egress.keys().collect::<Vec<_>>(),
                "versions_seen": versions.iter().filter(|v| &v.id == id).count(),
            })
        })
        .collect();
    list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(warp::reply::json(&json!({ "policies": list })).into_response())
}

/// `GET /v1/policies/{id}`.
pub async fn policy(
    id: String,
    _p: Arc<Participant>,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let loaded = state.policies.load();
    let Some(s) = loaded.by_id.get(&id) else { return Err(ApiError::NotFound("no such policy".into()).into()) };
    let p = s.policy();
    let egress: Value = p
        .egress
        .values()
        .map(|v| {
            (
                v.audience.clone(),
                json!({
                    "types": v.types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                    "categories": v.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                    "max_tlp": v.max_tlp.as_str(),
                    "min_confidence": v.min_confidence,
                    "fields": v.fields,
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let body = json!({
        "id": p.id,
        "version": p.version(),
        "hash": p.hash,
        "default": id == loaded.default,
        "egress": egress,
        "explain": crate::policy_explain(p),
        "text": p.text,
    });
    Ok(warp::reply::json(&body).into_response())
}

/// `GET /v1/policies/{id}/versions`.
pub async fn policy_versions(
    id: String,
    _p: Arc<Participant>,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let mut versions: Vec<_> =
        state.store.policy_versions().await.map_err(internal)?.into_iter().filter(|v| v.id == id).collect();
    if versions.is_empty() {
        return Err(ApiError::NotFound("no such policy".into()).into());
    }
    versions.sort_by_key(|v| v.first_loaded);
    let current = state.policies.load().by_id.get(&id).map(|s| s.policy().hash.clone());
    let list: Vec<Value> = versions
        .into_iter()
        .map(|v| {
            let active = current.as_deref() == Some(v.hash.as_str());
            let mut j = serde_json::to_value(&v).expect("serialise");
            j["version"] = Value::String(format!("{}@{}", v.id, v.hash));
            j["active"] = Value::Bool(active);
            j
        })
        .collect();
    Ok(warp::reply::json(&json!({ "id": id, "versions": list })).into_response())
}

/// `POST /v1/policies/{id}/dry-run`: sanitises a submission body with the
/// policy through [`pipeline::dry_run`] and answers with the same document
/// as `tamis policy dry-run`; nothing is stored.
pub async fn dry_run(
    id: String,
    _p: Arc<Participant>,
    query: String,
    content_type: Option<String>,
    body: Bytes,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let mut explain = false;
    for (k, v) in query_params(&query, &["explain"])? {
        if k == "explain" {
            explain = matches!(v.as_str(), "" | "true" | "1" | "yes");
        }
    }
    let Some(sanitiser) = state.policies.load().by_id.get(&id).cloned() else {
        return Err(ApiError::NotFound("no such policy".into()).into());
    };
    let format = Format::from_content_type(content_type.as_deref()).map_err(ApiError::from)?;
    // Same bounded parse as submissions, off the async workers.
    let max_indicators = state.limits.max_indicators;
    let out = tokio::task::spawn_blocking(move || {
        pipeline::dry_run(Input { format, body: &body, max_indicators }, &sanitiser, explain)
            .map(|done| done.dry_run_json())
    })
    .await
    .map_err(|_| ApiError::Internal)?
    .map_err(ApiError::from)?;
    Ok(warp::reply::json(&out).into_response())
}

/// `GET /v1/stats`: non-personal aggregates.
pub async fn stats(_p: Arc<Participant>, state: Arc<AppState>) -> Result<warp::reply::Response, Rejection> {
    Ok(warp::reply::json(&stats_json(&state).await.map_err(internal)?).into_response())
}

/// The statistics document (also drawn by the admin listener's `/stats`).
/// Removals are given in total, and apart: personal data
/// (`removals.personal_data`) and fields removed unclassified
/// (`removals.other_fields`, such as unknown fields).
pub async fn stats_json(state: &AppState) -> Result<Value, crate::store::StoreError> {
    let counters = state.store.counters().await?;
    let generated = time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
    Ok(json!({
        "generated_at": generated,
        "indicators": &**state.blocklists.stats.load(),
        "removals": crate::report::stats::removals_json(&counters),
        "submissions_by_week": counters.submissions_by_week,
        "accepted_by_week": counters.accepted_by_week,
        "rejected_by_week": counters.rejected_by_week,
        "sightings": {
            "seen": counters.seen_by_week.values().sum::<u64>(),
            "false_positives": counters.false_positives_by_week.values().sum::<u64>(),
            "withdrawn": counters.withdrawn_by_week.values().sum::<u64>(),
            "confirmed": counters.confirmed_by_week.values().sum::<u64>(),
            "seen_by_week": counters.seen_by_week,
            "false_positives_by_week": counters.false_positives_by_week,
            "withdrawn_by_week": counters.withdrawn_by_week,
            "confirmed_by_week": counters.confirmed_by_week,
        },
    }))
}

/// How long a verification of the whole audit chain is shown before the
/// next page view verifies it again.
const AUDIT_CHECK_TTL: time::Duration = time::Duration::minutes(5);
/// Audit records read per page while counting reveals.
const AUDIT_PAGE: usize = 10_000;

/// The audit chain's status for the DPO's pages: the last verification of
/// the whole chain (repeated when older than [`AUDIT_CHECK_TTL`]), as
/// `{"ok", "records", "checked_at", "first_bad"?}`, and the number of escrow
/// reveals recorded (counted on new records only).
pub async fn audit_status(state: &AppState) -> Result<(Value, u64), crate::store::StoreError> {
    let mut guard = state.audit_check.lock().await;
    let now = time::OffsetDateTime::now_utc();
    let mut check = match guard.as_ref().filter(|c| now - c.at <= AUDIT_CHECK_TTL) {
        Some(c) => c.clone(),
        None => {
            let verification = state.store.verify_audit().await?;
            let (reveals, counted_to) = guard.as_ref().map_or((0, 0), |c| (c.reveals, c.counted_to));
            AuditCheck { verification, at: now, reveals, counted_to }
        }
    };
    loop {
        let page = state.store.audit_log(check.counted_to, AUDIT_PAGE).await?;
        let Some(last) = page.last() else { break };
        check.counted_to = last.seq;
        check.reveals += page.iter().filter(|r| matches!(r.event, AuditEvent::Reveal { .. })).count() as u64;
        if page.len() < AUDIT_PAGE {
            break;
        }
    }
    *guard = Some(check.clone());
    let v = &check.verification;
    let mut audit = json!({
        "ok": v.ok,
        "records": v.records,
        "checked_at": check.at.format(&Rfc3339).unwrap_or_default(),
    });
    if let Some(bad) = &v.first_bad {
        audit["first_bad"] = json!(bad);
    }
    Ok((audit, check.reveals))
}

/// The statistics page's document: [`stats_json`] with the audit chain's
/// status and the reveal count.
pub async fn stats_page_json(state: &AppState) -> Result<Value, crate::store::StoreError> {
    let mut v = stats_json(state).await?;
    let (audit, reveals) = audit_status(state).await?;
    v["audit"] = audit;
    v["reveals"] = json!(reveals);
    Ok(v)
}

/// The record of processing of the running exchange, as Markdown: the
/// policies and registry in force, with the whole policy history.
pub async fn record_markdown(state: &AppState, config: &Config) -> Result<String, crate::store::StoreError> {
    let history = state.store.policy_versions().await?;
    let set = state.policies.load();
    let registry = state.registry.load();
    let mut policies: Vec<&crate::policy::Policy> = set.by_id.values().map(|s| &**s.policy()).collect();
    policies.sort_by_key(|p| (p.id != set.default, p.id.clone()));
    let inputs = crate::report::ProcessingInputs {
        config,
        registry: &registry,
        policies,
        default_policy: &set.default,
        history: Some(history),
        generated: time::OffsetDateTime::now_utc(),
    };
    Ok(crate::report::processing_markdown(&inputs))
}
