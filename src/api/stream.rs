//! `GET /v1/indicators/stream`: the feed as Server-Sent Events (issue 13,
//! live alerts).
//!
//! The stream reads the feed through the same code path as
//! `GET /v1/indicators` ([`handlers::feed_page`]: same store reads, same
//! egress views of the participant), woken by the store's `changes()`
//! watch. Each event is one feed item: `event: indicator`, `id:` its feed
//! cursor, `data:` the item's JSON exactly as the feed shows it. A client
//! reconnecting with `Last-Event-ID` (or `?since=`) resumes after that
//! cursor without a gap; without either it starts at the current head (new
//! changes only).
//!
//! **Bounded buffer.** A task per client (the pump) reads the feed and puts
//! events in a channel of `stream_buffer_events`; the response body drains
//! it as fast as the connection takes bytes. When the channel is full the
//! client is not keeping up: the pump stops reading and, once the client
//! has received what was already queued, the stream ends with an
//! `event: cut-off` whose data names the cursor to resume from. Memory per
//! client is therefore at most the buffer, however slow the client.
//!
//! **Resynchronisation.** A cursor below the feed's compaction horizon
//! (older than `[feed] tombstone_retention`: see `GET /v1/indicators`'s 410)
//! ends the stream with `event: resync`, `id: 0`, whose data is the 410's
//! error body: the client drops its copy and reconnects (an EventSource
//! then sends `Last-Event-ID: 0`), reading the live set from the start.
//!
//! **Heart-beats.** A comment line (`: heart-beat`) after
//! `stream_heartbeat_ms` without an event. The stream also ends with an
//! `event: end` when the server stops or the participant loses the `feed`
//! role (registry reload), so connections drain.
//!
//! **Audit.** Every batch of events queued for the client is recorded as a
//! pull (`/v1/indicators/stream`, cursor range, count), like a feed page.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use warp::sse::Event;
use warp::{Rejection, Reply};

use super::handlers::{feed_page, with_audit_head};
use super::{ApiError, AppState, query_params};
use crate::audit::AuditEvent;
use crate::identity::{Participant, Role};

/// Feed entries read per store call while catching up.
const PAGE: usize = 1_000;

/// What the stream's request carried.
pub struct StreamRequest {
    pub accept: Option<String>,
    pub last_event_id: Option<String>,
    pub query: String,
}

/// `GET /v1/indicators/stream`.
pub async fn stream(
    p: Arc<Participant>,
    req: StreamRequest,
    state: Arc<AppState>,
) -> Result<warp::reply::Response, Rejection> {
    if let Some(a) = &req.accept
        && !accepts_event_stream(a)
    {
        return Err(ApiError::NotAcceptable("this endpoint answers only `text/event-stream`".into()).into());
    }
    let cursor = |what: &str, v: &str| -> Result<u64, ApiError> {
        v.trim().parse().map_err(|_| ApiError::BadRequest(format!("`{what}` must be a feed cursor (an event id)")))
    };
    let mut since = None;
    for (_, v) in query_params(&req.query, &["since"])? {
        since = Some(cursor("since", &v)?);
    }
    // The header wins: it is what a reconnecting EventSource sends.
    if let Some(id) = req.last_event_id.as_deref().filter(|v| !v.trim().is_empty()) {
        since = Some(cursor("Last-Event-ID", id)?);
    }
    let since = since.unwrap_or_else(|| state.store.head());
    let (tx, rx) = mpsc::channel(state.limits.stream_buffer_events.max(1));
    let (end_tx, end_rx) = oneshot::channel();
    tracing::debug!(participant = %p.id, since, "live stream opened");
    tokio::spawn(pump(p, since, state.clone(), tx, end_tx));
    let body = Events { rx, end: Some(end_rx) };
    let reply = warp::sse::reply(body);
    let mut resp = reply.into_response();
    // Proxies must not buffer an event stream.
    resp.headers_mut().insert("x-accel-buffering", warp::http::HeaderValue::from_static("no"));
    Ok(with_audit_head(resp, &state))
}

/// True when an `Accept` value admits `text/event-stream` (q > 0).
fn accepts_event_stream(v: &str) -> bool {
    v.split(',').any(|part| {
        let mut it = part.split(';');
        let t = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        matches!(t.as_str(), "text/event-stream" | "text/*" | "*/*") && q > 0.0
    })
}

/// The response body: the queued events, then the closing event if the
/// pump left one (`cut-off`, `end`).
struct Events {
    rx: mpsc::Receiver<Event>,
    end: Option<oneshot::Receiver<Event>>,
}

impl futures_util::Stream for Events {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(e)) => return Poll::Ready(Some(Ok(e))),
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {}
        }
        let Some(end) = self.end.as_mut() else { return Poll::Ready(None) };
        match Pin::new(end).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.end = None;
                Poll::Ready(r.ok().map(Ok))
            }
        }
    }
}

/// Why a pump stopped.
enum Stop {
    /// The client went away: nothing to say.
    Gone,
    /// The buffer is full: `cut-off`, resume after the cursor.
    Slow,
    /// The server stops or the participant lost the role: `end`.
    End(&'static str),
    /// The cursor is below the feed's compaction horizon: `resync`.
    Resync(ApiError),
}

/// Reads the feed for one client and queues its events until it stops;
/// then leaves the closing event for the body.
async fn pump(
    p: Arc<Participant>,
    mut cursor: u64,
    state: Arc<AppState>,
    tx: mpsc::Sender<Event>,
    end: oneshot::Sender<Event>,
) {
    let stop = follow(&p, &mut cursor, &state, &tx).await;
    drop(tx);
    let resume = cursor.to_string();
    let closing = match stop {
        Stop::Gone => return,
        Stop::Slow => {
            state.metrics.streams_cut_off.inc();
            tracing::info!(participant = %p.id, "live stream cut off: the client does not keep up");
            closing_event(
                "cut-off",
                "slow_consumer",
                "the client did not keep up with the stream; reconnect with Last-Event-ID",
                &resume,
            )
        }
        Stop::End(why) => closing_event("end", "stream_ended", why, &resume),
        Stop::Resync(e) => {
            tracing::info!(participant = %p.id, "live stream below the feed's compaction horizon: resync from 0");
            resync_event(&e)
        }
    };
    let _ = end.send(closing);
}

/// `event: resync` with `id: 0`: an EventSource that reconnects sends
/// `Last-Event-ID: 0` and reads the feed again from the start.
fn resync_event(e: &ApiError) -> Event {
    let mut data = e.body();
    data["resume"] = json!("0");
    Event::default().event("resync").id("0").data(data.to_string())
}

fn closing_event(event: &str, code: &str, message: &str, resume: &str) -> Event {
    let data = json!({"error": {"code": code, "message": message}, "resume": resume});
    Event::default().event(event).id(resume).data(data.to_string())
}

/// The pump's loop: catch up, then wait for a commit, a heart-beat or the
/// end. `cursor` is the last cursor queued for the client.
async fn follow(p: &Participant, cursor: &mut u64, state: &AppState, tx: &mpsc::Sender<Event>) -> Stop {
    let mut changes = state.store.changes();
    let mut stopping = state.stopping.subscribe();
    let beat = Duration::from_millis(state.limits.stream_heartbeat_ms.max(10));
    loop {
        changes.borrow_and_update();
        if let Err(stop) = catch_up(p, cursor, state, tx).await {
            return stop;
        }
        let participant_ok = state.registry.load().get(&p.id).is_some_and(|r| !r.revoked && r.has(Role::Feed));
        if !participant_ok {
            return Stop::End("the participant no longer holds the feed role");
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { return Stop::End("the store is closing") },
            _ = stopping.wait_for(|s| *s) => return Stop::End("the exchange is stopping"),
            () = tx.closed() => return Stop::Gone,
            () = tokio::time::sleep(beat) => {
                if let Err(stop) = queue(tx, Event::default().comment(" heart-beat")) {
                    return stop;
                }
            }
        }
    }
}

/// Queues an event: `Err` when the client is gone or does not keep up.
fn queue(tx: &mpsc::Sender<Event>, e: Event) -> Result<(), Stop> {
    tx.try_send(e).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => Stop::Slow,
        mpsc::error::TrySendError::Closed(_) => Stop::Gone,
    })
}

/// Queues every feed item after `cursor`, page by page, auditing each page
/// as a pull.
async fn catch_up(p: &Participant, cursor: &mut u64, state: &AppState, tx: &mpsc::Sender<Event>) -> Result<(), Stop> {
    loop {
        let (items, next) = match feed_page(p, *cursor, PAGE, state).await {
            Ok(page) => page,
            Err(e @ ApiError::CursorExpired { .. }) => return Err(Stop::Resync(e)),
            Err(_) => return Err(Stop::End("the feed cannot be read now; reconnect later")),
        };
        if next == *cursor {
            return Ok(());
        }
        let from = *cursor;
        let mut count = 0;
        let mut result = Ok(());
        for item in items {
            let id = item["cursor"].as_str().unwrap_or_default().to_owned();
            if let Err(stop) = queue(tx, indicator_event(&id, &item)) {
                result = Err(stop);
                break;
            }
            *cursor = id.parse().unwrap_or(*cursor);
            count += 1;
        }
        if result.is_ok() {
            // Entries the view withholds still move the cursor.
            *cursor = next;
        }
        if count > 0 {
            state.metrics.stream_events.inc_by(count as u64);
            let _ = state
                .store
                .audit(AuditEvent::Pull {
                    participant: p.id.clone(),
                    endpoint: "/v1/indicators/stream".into(),
                    range: format!("{from}..{cursor}"),
                    count,
                })
                .await;
        }
        result?;
    }
}

fn indicator_event(id: &str, item: &Value) -> Event {
    Event::default().event("indicator").id(id).data(item.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_admits_event_streams_only() {
        for ok in ["text/event-stream", "text/*", "*/*", "application/json, text/event-stream;q=0.5"] {
            assert!(accepts_event_stream(ok), "{ok}");
        }
        for no in ["application/json", "text/event-stream;q=0", "text/html"] {
            assert!(!accepts_event_stream(no), "{no}");
        }
    }

    #[test]
    fn closing_event_names_the_cursor_to_resume_from() {
        let e = closing_event("cut-off", "slow_consumer", "slow", "42");
        let text = format!("{e}");
        assert!(text.contains("event:cut-off"), "{text}");
        assert!(text.contains("id:42"), "{text}");
        assert!(text.contains(r#""resume":"42""#), "{text}");
    }
}
