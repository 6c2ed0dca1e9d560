//! Webhooks (issue 13): the exchange pushes a participant's feed to an HTTPS
//! receiver over mutual TLS, at least once, in feed order, with the feed's
//! egress view; it retries a failing receiver and resumes from its saved
//! cursor after a restart.
//!
//! The receiver is a real HTTPS server in the test (hyper + rustls): its
//! certificate comes from a CA of its own (the hook's `ca`), and it demands
//! a client certificate from the deployment CA, so it sees the exchange's.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// One POST the receiver got.
#[derive(Debug)]
struct Received {
    at: Instant,
    cursor_header: String,
    /// The URI SANs of the client certificate the exchange presented.
    client_sans: Vec<String>,
    body: Value,
    /// The status the receiver answered.
    status: u16,
}

/// The receiver: answers 503 to the next `fail` requests, then 200.
struct Receiver {
    addr: SocketAddr,
    got: mpsc::UnboundedReceiver<Received>,
    fail: Arc<Mutex<u32>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts it; writes its CA to `ca_file` for the hook's `ca`.
    async fn start(deployment_ca: &Path, ca_file: &Path) -> Receiver {
        let ca = tamis::pki::new_ca("receiver CA").unwrap();
        std::fs::write(ca_file, &ca.cert_pem).unwrap();
        let server = tamis::pki::Ca::from_pem(&ca.cert_pem, &ca.key_pem).unwrap().issue_server(&["127.0.0.1"]).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(deployment_ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let chain: Vec<_> = CertificateDer::pem_slice_iter(server.cert_pem.as_bytes()).map(|c| c.unwrap()).collect();
        let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).unwrap();
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, got) = mpsc::unbounded_channel();
        let fail = Arc::new(Mutex::new(0u32));
        let fail2 = fail.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, tx, fail) = (acceptor.clone(), tx.clone(), fail2.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let sans = client_sans(&tls);
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (tx, fail, sans) = (tx.clone(), fail.clone(), sans.clone());
                        async move {
                            let cursor_header = req
                                .headers()
                                .get("tamis-cursor")
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default();
                            let bytes = req.into_body().collect().await.unwrap().to_bytes();
                            let status = {
                                let mut f = fail.lock().unwrap();
                                if *f > 0 {
                                    *f -= 1;
                                    503
                                } else {
                                    200
                                }
                            };
                            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            let _ = tx.send(Received {
                                at: Instant::now(),
                                cursor_header,
                                client_sans: sans,
                                body,
                                status,
                            });
                            let resp =
                                hyper::Response::builder().status(status).body(Full::new(Bytes::from_static(b"ok")));
                            Ok::<_, std::convert::Infallible>(resp.unwrap())
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        Receiver { addr, got, fail, _task: task }
    }

    /// The next POST, within `t`.
    async fn next(&mut self, t: Duration) -> Option<Received> {
        tokio::time::timeout(t, self.got.recv()).await.ok().flatten()
    }
}

/// The URI SANs of the peer's certificate.
fn client_sans(tls: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Vec<String> {
    let Some(certs) = tls.get_ref().1.peer_certificates() else { return Vec::new() };
    let (_, cert) = x509_parser::parse_x509_certificate(certs[0].as_ref()).unwrap();
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(u) = n {
                out.push(u.to_string());
            }
        }
    }
    out
}

/// A deployment whose `police-a` has a hook to `receiver` (retries capped at
/// 2 s so the test is quick).
fn configure_hook(dir: &Path, receiver: SocketAddr, ca: &Path) {
    let path = dir.join("tamis.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text = text.replace("max_backoff_ms = 300000", "max_backoff_ms = 2000");
    text.push_str(&format!(
        "\n[[webhooks.hook]]\nparticipant = \"police-a\"\nurl = \"https://127.0.0.1:{}/tamis/alerts\"\nca = {:?}\n",
        receiver.port(),
        ca.display().to_string()
    ));
    std::fs::write(&path, text).unwrap();
}

/// Runs the configured hooks until the returned sender fires.
fn start_hooks(s: &TestServer) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (hooks, settings) = tamis::webhooks::prepare(&s.config).expect("hooks load");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(tamis::webhooks::run(hooks, settings, s.state.clone(), async move {
        let _ = rx.await;
    }));
    (tx, task)
}

fn domain(value: &str, tlp: &str) -> Value {
    json!({"indicators": [{"type": "domain", "value": value, "category": "phishing", "tlp": tlp, "confidence": 80}]})
}

/// The values of a delivery's items.
fn values(r: &Received) -> Vec<String> {
    r.body["indicators"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_deliver_retry_and_resume_from_the_saved_cursor() {
    let (_tmp, dir) = deployment();
    let ca_file = dir.join("receiver-ca.pem");
    let mut rx = Receiver::start(&dir.join("certs/ca.pem"), &ca_file).await;
    configure_hook(&dir, rx.addr, &ca_file);
    let s = TestServer::start_in(&dir).await;
    let (stop, task) = start_hooks(&s);
    // Let the hook take its lease and save its first cursor (the feed head).
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Delivered within a second, as police-a's feed shows it; TLP:RED (beyond
    // the law-enforcement view) is not.
    let sent = Instant::now();
    assert_eq!(submit(&s, "bank-a", &domain("secret.example.com", "red")).await.0, 200);
    assert_eq!(submit(&s, "bank-a", &domain("first-hook.example.com", "green")).await.0, 200);
    let acked = Instant::now();
    let r = rx.next(Duration::from_secs(5)).await.expect("a delivery");
    assert!(r.at.duration_since(acked) < Duration::from_secs(1), "delivered {:?} after the ack", r.at - acked);
    eprintln!("webhook delivery: {:?} after the acknowledgement ({:?} after sending)", r.at - acked, r.at - sent);
    assert_eq!(values(&r), ["first-hook.example.com"], "{}", r.body);
    assert_eq!(r.client_sans, ["urn:tamis:exchange"], "the exchange's own certificate");
    let item = &r.body["indicators"][0];
    assert_eq!(r.cursor_header, r.body["next"].as_str().unwrap());
    assert!(item["cursor"].as_str().unwrap().parse::<u64>().unwrap() <= r.cursor_header.parse::<u64>().unwrap());
    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators?since=0")).send().await.unwrap()).await;
    assert_eq!(&feed["indicators"][0], item, "the delivered item is the feed's, field for field");

    // The delay, over 20 alerts one after the other (printed for docs/performance.md).
    let (mut after_ack, mut after_send) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let sent = Instant::now();
        assert_eq!(submit(&s, "bank-a", &domain(&format!("delay-{i}.example.com"), "green")).await.0, 200);
        let acked = Instant::now();
        let r = rx.next(Duration::from_secs(5)).await.expect("a delivery");
        assert_eq!(values(&r), [format!("delay-{i}.example.com")]);
        after_ack.push(r.at.saturating_duration_since(acked));
        after_send.push(r.at - sent);
    }
    after_ack.sort();
    after_send.sort();
    eprintln!(
        "webhook delay over 20: ack -> delivery p50 {:?} max {:?}; sent -> delivery p50 {:?} max {:?}",
        after_ack[10], after_ack[19], after_send[10], after_send[19]
    );
    assert!(after_ack[19] < Duration::from_secs(1));

    // A failing receiver: the same batch again, until it is taken.
    *rx.fail.lock().unwrap() = 2;
    assert_eq!(submit(&s, "bank-a", &domain("retried.example.com", "green")).await.0, 200);
    let mut attempts = Vec::new();
    while attempts.last().is_none_or(|r: &Received| r.status != 200) {
        attempts.push(rx.next(Duration::from_secs(10)).await.expect("a retry"));
    }
    assert_eq!(attempts.len(), 3, "two refusals, then the delivery");
    assert!(attempts.iter().all(|a| values(a) == ["retried.example.com"]));
    assert!(attempts[1].at - attempts[0].at >= Duration::from_millis(700), "backs off ~1 s");
    assert!(attempts[2].at - attempts[1].at >= Duration::from_millis(1500), "then ~2 s");
    // The exchange counts a delivery once the receiver's answer is in: wait for it.
    let render = || s.state.metrics.render(s.state.store.head(), &s.state.blocklists, false);
    let lag0 = r#"tamis_webhook_feed_lag{participant="police-a"} 0.0"#;
    let since = Instant::now();
    while !render().contains(lag0) && since.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = render();
    assert!(text.contains(lag0), "{text}");
    assert!(text.contains(r#"tamis_webhook_deliveries_total{participant="police-a",outcome="refused"} 2"#), "{text}");
    assert!(text.contains(r#"tamis_webhook_items_total{participant="police-a"} 22"#), "{text}");

    // Hooks stopped: a submission waits; restarted, it is delivered, and
    // nothing delivered before comes again (the cursor was saved).
    let _ = stop.send(());
    task.await.unwrap();
    assert_eq!(submit(&s, "bank-a", &domain("while-down.example.com", "green")).await.0, 200);
    assert!(rx.next(Duration::from_millis(500)).await.is_none(), "no hook is running");
    let (stop, task) = start_hooks(&s);
    let r = rx.next(Duration::from_secs(5)).await.expect("the delivery after the restart");
    assert_eq!(values(&r), ["while-down.example.com"]);
    assert!(rx.next(Duration::from_millis(500)).await.is_none(), "nothing is delivered twice");
    let _ = stop.send(());
    task.await.unwrap();

    // Every accepted delivery is audited as a pull by police-a.
    let audit = s.state.store.audit_log(0, 1000).await.unwrap();
    let pulls = audit
        .iter()
        .filter(|r| {
            matches!(&r.event, tamis::audit::AuditEvent::Pull { participant, endpoint, .. }
            if participant == "police-a" && endpoint == "webhook")
        })
        .count();
    assert_eq!(pulls, 23);
    s.stop().await;
}

#[test]
fn a_hook_must_be_https_and_one_per_participant() {
    let base = "listen = \"127.0.0.1:0\"\n[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n[keys]\nstorage = \"d\"\npseudonym = \"e\"\nescrow_public = \"f\"\n";
    let hook =
        |url: &str, who: &str| format!("[[webhooks.hook]]\nparticipant = {who:?}\nurl = {url:?}\nca = \"ca.pem\"\n");
    let err = tamis::config::Config::parse("t.toml", &format!("{base}{}", hook("http://soc.example/x", "police-a")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("t.toml:10") && err.contains("https://"), "{err}");
    let two = format!("{base}{}{}", hook("https://a.example/", "police-a"), hook("https://b.example/", "police-a"));
    let err = tamis::config::Config::parse("t.toml", &two).unwrap_err().to_string();
    assert!(err.contains("two hooks"), "{err}");
    let creds = format!("{base}{}", hook("https://u:p@a.example/", "police-a"));
    assert!(tamis::config::Config::parse("t.toml", &creds).unwrap_err().to_string().contains("credentials"));
    let ok = format!("{base}{}", hook("https://soc.police.example:8443/tamis", "police-a"));
    let cfg = tamis::config::Config::parse("t.toml", &ok).unwrap();
    assert_eq!(cfg.webhooks.hook[0].participant, "police-a");
}
