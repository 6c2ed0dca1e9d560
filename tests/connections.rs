//! Connection budgets and deadlines (issue 8, items 2, 3 and 7): idle or
//! silent clients must not hold slots, one certificate cannot take every
//! connection, an unregistered certificate gets one request, revocation
//! reaches connections that are already open, and clients that never send
//! a ClientHello do not lock participants out.

mod common;
mod edge;

use std::time::Duration;

use common::{TestServer, deployment, issue_client, json};
use edge::{closed_within, connect, h1, h1_raw, set_limits};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_first_request_deadline() {
    let (_tmp, dir) = deployment();
    set_limits(&dir, &[("first_request_timeout_ms", "1000"), ("idle_timeout_ms", "1000")]);
    let s = TestServer::start_in(&dir).await;
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let mut c = connect(&dir, "bank-a", s.addr, alpn).await;
        assert!(closed_within(&mut c, Duration::from_secs(10)).await, "a silent {alpn:?} connection stays open");
    }
    // An HTTP/1.1 keep-alive connection is closed once idle too.
    let mut c = connect(&dir, "bank-a", s.addr, b"http/1.1").await;
    assert_eq!(h1(&mut c, "GET", "/v1/whoami", None).await.unwrap().status, 200);
    assert!(closed_within(&mut c, Duration::from_secs(10)).await, "an idle keep-alive connection stays open");
    assert!(s.state.metrics.idle_closed.get() >= 3);
    s.stop().await;
}

/// An HTTP/2 connection over mutual TLS with hyper's client, which pings the
/// server every 200 ms and answers its pings, but opens no stream after the
/// first request.
#[tokio::test]
async fn an_http2_connection_that_only_pings_is_closed_when_idle() {
    let (_tmp, dir) = deployment();
    set_limits(&dir, &[("idle_timeout_ms", "1000")]);
    let s = TestServer::start_in(&dir).await;
    let tls = connect(&dir, "isp-a", s.addr, b"h2").await;
    let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(200))
        .keep_alive_while_idle(true)
        .handshake::<_, Empty<bytes::Bytes>>(TokioIo::new(tls))
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    let req = hyper::Request::get(s.url("/v1/whoami")).body(Empty::new()).unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.into_body().collect().await.unwrap();
    // Old behaviour: the server never closes it (its own keep-alive pings are answered).
    let done = tokio::time::timeout(Duration::from_secs(15), driver).await;
    assert!(done.is_ok(), "an HTTP/2 connection with no stream for longer than the idle timeout stays open");
    s.stop().await;
}

#[tokio::test]
async fn one_certificate_cannot_take_every_connection() {
    let (_tmp, dir) = deployment();
    set_limits(&dir, &[("max_connections_per_cert", "2")]);
    let s = TestServer::start_in(&dir).await;
    let mut first = connect(&dir, "bank-a", s.addr, b"http/1.1").await;
    let mut second = connect(&dir, "bank-a", s.addr, b"http/1.1").await;
    assert_eq!(h1(&mut first, "GET", "/v1/whoami", None).await.unwrap().status, 200);
    assert_eq!(h1(&mut second, "GET", "/v1/whoami", None).await.unwrap().status, 200);
    let mut third = connect(&dir, "bank-a", s.addr, b"http/1.1").await;
    assert!(
        h1(&mut third, "GET", "/v1/whoami", None).await.is_none(),
        "a third connection with one certificate is served"
    );
    assert_eq!(s.state.metrics.connections_over_cert_cap.get(), 1);
    // Another participant is still served.
    let (status, v) = json(s.client("isp-a").get(s.url("/v1/whoami")).send().await.unwrap()).await;
    assert_eq!((status, v["id"].as_str()), (200, Some("isp-a")));
    // A closed connection frees its place.
    drop(first);
    let mut served = false;
    for _ in 0..50 {
        let mut again = connect(&dir, "bank-a", s.addr, b"http/1.1").await;
        if h1(&mut again, "GET", "/v1/whoami", None).await.is_some_and(|a| a.status == 200) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the certificate's slot was not released");
    assert_eq!(h1(&mut second, "GET", "/v1/whoami", None).await.unwrap().status, 200);
    s.stop().await;
}

#[tokio::test]
async fn an_unregistered_certificate_gets_one_request_per_connection() {
    let (_tmp, dir) = deployment();
    issue_client(&dir, "stranger", false);
    let s = TestServer::start_in(&dir).await;
    let mut c = connect(&dir, "stranger", s.addr, b"http/1.1").await;
    let a = h1(&mut c, "GET", "/v1/whoami", None).await.unwrap();
    assert_eq!(a.status, 200);
    assert!(a.body.contains("\"registered\":false"), "{}", a.body);
    assert!(a.head.contains("connection: close"), "{}", a.head);
    assert!(closed_within(&mut c, Duration::from_secs(5)).await, "the connection stays open after one request");

    // Over HTTP/2: a GOAWAY after the first stream.
    let tls = connect(&dir, "stranger", s.addr, b"h2").await;
    let (mut send, conn) =
        hyper::client::conn::http2::handshake::<_, _, Empty<bytes::Bytes>>(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    let resp = send.send_request(hyper::Request::get(s.url("/v1/whoami")).body(Empty::new()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.into_body().collect().await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(10), driver).await.is_ok(), "the h2 connection stays open");
    // A registered participant keeps its connection.
    let mut c = connect(&dir, "bank-a", s.addr, b"http/1.1").await;
    for _ in 0..3 {
        assert_eq!(h1(&mut c, "GET", "/v1/whoami", None).await.unwrap().status, 200);
    }
    s.stop().await;
}

#[tokio::test]
async fn revocation_reaches_an_open_connection() {
    let s = TestServer::start().await;
    let mut c = connect(&s.dir, "bank-a", s.addr, b"http/1.1").await;
    let body = r#"{"indicators":[{"type":"domain","value":"before-revoke.top"}]}"#;
    let a = h1(&mut c, "POST", "/v1/submissions", Some(body)).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tamis"))
        .args(["participant", "revoke", "bank-a", "--config"])
        .arg(s.dir.join("tamis.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    s.reload().await.unwrap();

    // The same connection, opened before the revocation.
    let body = r#"{"indicators":[{"type":"domain","value":"after-revoke.top"}]}"#;
    let a = h1(&mut c, "POST", "/v1/submissions", Some(body)).await.expect("an answer on the same connection");
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("unregistered_certificate"), "{}", a.body);
    assert!(closed_within(&mut c, Duration::from_secs(5)).await);
    s.stop().await;
}

/// A reload may bring a new CRL: each open connection gets one more answer,
/// then closes, so its client reconnects and is checked against the CRL in
/// force (a certificate revoked on the CRL only, not in the registry).
#[tokio::test]
async fn after_a_reload_open_connections_reconnect() {
    let s = TestServer::start().await;
    let mut c = connect(&s.dir, "isp-a", s.addr, b"http/1.1").await;
    assert_eq!(h1(&mut c, "GET", "/v1/whoami", None).await.unwrap().status, 200);
    s.reload().await.unwrap();
    let a = h1(&mut c, "GET", "/v1/whoami", None).await.unwrap();
    assert_eq!(a.status, 200);
    assert!(a.head.contains("connection: close"), "{}", a.head);
    assert!(closed_within(&mut c, Duration::from_secs(5)).await);
    let mut c = connect(&s.dir, "isp-a", s.addr, b"http/1.1").await;
    for _ in 0..2 {
        assert_eq!(h1(&mut c, "GET", "/v1/whoami", None).await.unwrap().status, 200);
    }
    s.stop().await;
}

/// Many TCP connections from one address that never send a ClientHello
/// (more than the per-address cap of pending handshakes): a participant
/// connecting from another address is still served. Before, each silent
/// connection held an established-connection slot for the whole handshake
/// timeout.
#[tokio::test]
async fn silent_tcp_clients_do_not_lock_participants_out() {
    let (_tmp, dir) = deployment();
    set_limits(
        &dir,
        &[
            ("max_connections", "8"),
            ("max_handshakes", "8"),
            ("max_handshakes_per_ip", "4"),
            ("handshake_timeout_ms", "30000"),
        ],
    );
    let s = TestServer::start_in(&dir).await;
    let mut silent = Vec::new();
    for _ in 0..40 {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        silent.push(sock.connect(s.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = tokio::time::timeout(Duration::from_secs(10), s.client("isp-a").get(s.url("/v1/whoami")).send()).await;
    let (status, _) = json(r.expect("a participant is locked out by silent TCP clients").unwrap()).await;
    assert_eq!(status, 200);
    assert!(s.state.metrics.handshakes_over_ip_cap.get() >= 30);
    drop(silent);
    s.stop().await;
}

/// TAXII discovery does not echo the client's Host header (F16): the API
/// root is relative, which TAXII 2.1 allows and taxii2-client resolves.
#[tokio::test]
async fn taxii_discovery_does_not_echo_the_host_header() {
    let s = TestServer::start().await;
    let mut c = connect(&s.dir, "police-a", s.addr, b"http/1.1").await;
    let req = "GET /taxii2/ HTTP/1.1\r\nHost: attacker.example\r\nAccept: application/taxii+json;version=2.1\r\n\r\n";
    let a = h1_raw(&mut c, req).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(!a.body.contains("attacker.example"), "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["api_roots"], serde_json::json!(["/taxii2/api/"]));
    assert_eq!(v["default"], "/taxii2/api/");
    s.stop().await;
}
