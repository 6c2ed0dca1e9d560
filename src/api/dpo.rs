//! Endpoints for data-protection officers and statistics: the audit chain,
//! the policy registry and dry-runs (SPEC §4, §8). Nothing here ever holds a
//! submitted value: audit records carry counts, dry-runs answer with the
//! sanitised output only.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use warp::{Rejection, Reply};

use super::handlers::{self, reject};
use super::{ApiError, AppState, ingest};
use crate::identity::Participant;
use crate::model::Removals;

fn internal(e: crate::store::StoreError) -> Rejection {
    reject(ApiError::from_store(e, "store read failed"))
}

fn params(raw: &str, known: &[&str]) -> Result<Vec<(String, String)>, Rejection> {
    let mut out = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        if !known.contains(&k.as_ref()) {
            return Err(reject(ApiError::BadRequest(format!(
                "unknown parameter `{}` (expected {})",
                k.chars().take(32).collect::<String>(),
                known.join(", ")
            ))));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// `GET /v1/audit?after=SEQ&limit=N`.
pub async fn audit_log(
    _p: Arc<Participant>,
    query: String,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let mut after = 0u64;
    let mut limit = 1000usize;
    for (k, v) in params(&query, &["after", "limit"])? {
        let n: u64 =
            v.parse().map_err(|_| reject(ApiError::BadRequest(format!("`{k}` must be a non-negative integer"))))?;
        match k.as_str() {
            "after" => after = n,
            _ => {
                if n == 0 || n > 10_000 {
                    return Err(reject(ApiError::BadRequest("`limit` must be between 1 and 10000".into())));
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
    let Some(s) = loaded.by_id.get(&id) else { return Err(reject(ApiError::NotFound("no such policy".into()))) };
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
        return Err(reject(ApiError::NotFound("no such policy".into())));
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
/// policy and returns the result; nothing is stored.
pub async fn dry_run(
    id: String,
    _p: Arc<Participant>,
    query: String,
    content_type: Option<String>,
    body: Bytes,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    let mut explain = false;
    for (k, v) in params(&query, &["explain"])? {
        if k == "explain" {
            explain = matches!(v.as_str(), "" | "true" | "1" | "yes");
        }
    }
    let loaded = state.policies.load();
    let Some(s) = loaded.by_id.get(&id).cloned() else {
        return Err(reject(ApiError::NotFound("no such policy".into())));
    };
    let format = ingest::Format::from_content_type(content_type.as_deref()).map_err(reject)?;
    // Same bounded parse as submissions: it stops at max_indicators + 1 and
    // runs off the async workers.
    let max = state.limits.max_indicators;
    let parsed = tokio::task::spawn_blocking(move || ingest::parse_limited(format, &body, max))
        .await
        .map_err(|_| reject(ApiError::Internal))?
        .map_err(reject)?;
    let out = tokio::task::spawn_blocking(move || {
        let r = handlers::sanitise_parsed(&s, &parsed, handlers::Mode::DryRun { explain });
        let indicators: Vec<Value> = r
            .accepted
            .into_iter()
            .map(|a| {
                let mut j = serde_json::to_value(&a.indicator).expect("serialise");
                j["index"] = json!(a.index);
                j["removed"] = serde_json::to_value(&a.removed).expect("serialise");
                if let Some(ex) = a.explain {
                    j["explain"] = serde_json::to_value(ex).expect("serialise");
                }
                j
            })
            .collect();
        json!({
            "policy": s.policy().version(),
            "indicators": indicators,
            "rejected": r.rejected,
            "removed": r.removed,
        })
    })
    .await
    .map_err(|_| reject(ApiError::Internal))?;
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
    }))
}
