//! Endpoints for data-protection officers and statistics: the audit chain,
//! the policy registry and dry-runs (SPEC §4, §8). Nothing here ever holds a
//! submitted value: audit records carry counts, dry-runs answer with the
//! sanitised output only.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use warp::{Rejection, Reply};

use super::handlers;
use super::{ApiError, AppState, parse_u64_param, query_params};
use crate::identity::Participant;
use crate::model::Removals;
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
pub async fn stats_json(state: &AppState) -> Result<Value, crate::store::StoreError> {
    let counters = state.store.counters().await?;
    let mut removals_total = Removals::default();
    for r in counters.removals_by_week.values() {
        removals_total.merge(r);
    }
    let by_data_type: serde_json::Map<String, Value> =
        removals_total.0.iter().map(|(cat, actions)| (cat.clone(), json!(actions.values().sum::<u64>()))).collect();
    Ok(json!({
        "indicators": &**state.blocklists.stats.load(),
        "removals": {
            "total": removals_total.total(),
            "by_data_type": by_data_type,
            "by_data_type_and_action": removals_total,
            "by_week": counters.removals_by_week.iter().map(|(w, r)| (w.clone(), json!(r.total()))).collect::<serde_json::Map<_, _>>(),
        },
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
