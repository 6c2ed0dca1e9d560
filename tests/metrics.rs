//! The admin listener's `/metrics` as an operations team scrapes it: the
//! Prometheus text format that `promtool check metrics` accepts without a
//! lint problem (base units, `_total` counters, help on every family), the
//! labelled request counters and histograms, blocklist and process gauges;
//! and OpenMetrics for a scraper that asks for it. Without `promtool` the
//! lint step prints `skipped`, unless `TAMIS_REQUIRE_PROMTOOL=1` (CI).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{TestServer, submit};
use serde_json::json;

fn promtool() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("promtool")).find(|f| f.is_file()))
        .unwrap_or_default();
    match found {
        Some(p) => Some(p),
        None if std::env::var("TAMIS_REQUIRE_PROMTOOL").as_deref() == Ok("1") => {
            panic!("TAMIS_REQUIRE_PROMTOOL=1 but promtool is not installed (Debian package `prometheus`)")
        }
        None => {
            eprintln!("skipped promtool check metrics: install Debian's `prometheus` package to run it");
            None
        }
    }
}

/// A plain HTTP/1.1 `GET /metrics`: `(status line and headers, body)`.
async fn get_metrics(admin: std::net::SocketAddr, accept: Option<&str>) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(admin).await.unwrap();
    let accept = accept.map(|a| format!("accept: {a}\r\n")).unwrap_or_default();
    tcp.write_all(format!("GET /metrics HTTP/1.1\r\nhost: localhost\r\n{accept}connection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase().replacen("http/1.1", "HTTP/1.1", 1) + "\r\n", body.to_owned())
}

#[tokio::test]
async fn metrics_pass_promtool_and_carry_labels_histograms_and_process_gauges() {
    let s = TestServer::start().await;
    let (status, _) = submit(
        &s,
        "bank-a",
        &json!({"indicators":[{"type":"domain","value":"metrics-phish.top","category":"phishing","confidence":90,"tlp":"green"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let isp = s.client("isp-a");
    let mut etag = None;
    for _ in 0..100 {
        let r = isp.get(s.url("/v1/blocklists/domains.txt")).send().await.unwrap();
        let e = r.headers().get("etag").map(|e| e.to_str().unwrap().to_owned());
        if r.text().await.unwrap().contains("metrics-phish.top") {
            etag = e;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = isp.get(s.url("/v1/blocklists/domains.txt")).header("if-none-match", etag.unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 304);
    let r = s.client("police-a").get(s.url("/v1/blocklists/domains.txt")).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // The RPZ listener's counters and zone gauges: one unsigned SOA query, refused.
    let rpz = common::rpz::Rpz::start(&s, Vec::new()).await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let soa_query =
        [0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'r', b'p', b'z', 5, b't', b'a', b'm', b'i', b's', 0, 0, 6, 0, 1];
    sock.send_to(&soa_query, rpz.addr).await.unwrap();
    let mut buf = [0u8; 512];
    let (n, _) =
        tokio::time::timeout(std::time::Duration::from_secs(5), sock.recv_from(&mut buf)).await.unwrap().unwrap();
    assert!(n >= 12 && buf[3] & 0x0f == 5, "REFUSED without TSIG");
    for _ in 0..100 {
        if s.state.metrics.render(0, &s.state.blocklists, false).contains("tamis_rpz_zone_records{") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    rpz.stop().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(tamis::server::run_admin(listener, s.state.clone(), None, async move {
        let _ = stopped.await;
    }));
    let (head, text) = get_metrics(admin, None).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"), "{head}");
    for line in [
        "# TYPE tamis_requests_total counter\n",
        "tamis_requests_total{route=\"/v1/submissions\",method=\"POST\",status=\"200\",kind=\"bank\"} 1\n",
        "tamis_requests_total{route=\"/v1/blocklists/{name}\",method=\"GET\",status=\"304\",kind=\"isp\"} 1\n",
        "tamis_requests_total{route=\"/v1/blocklists/{name}\",method=\"GET\",status=\"403\",kind=\"law-enforcement\"} 1\n",
        "tamis_blocklist_downloads_total{list=\"domains.txt\",status=\"304\"} 1\n",
        "# TYPE tamis_request_duration_seconds histogram\n",
        "tamis_request_duration_seconds_count{route=\"/v1/submissions\"} 1\n",
        "tamis_store_commit_duration_seconds_count 1\n",
        "tamis_submissions_total 1\n",
        "tamis_blocklist_snapshot_age_seconds{audience=\"isps\",list=\"domains.txt\"} ",
        "tamis_blocklist_entries{audience=\"isps\",list=\"domains.txt\"} 1.0\n",
        "tamis_blocklist_feed_lag ",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_start_time_seconds gauge\n",
        "# TYPE process_open_fds gauge\n",
        "# TYPE process_cpu_seconds_total counter\n",
        "tamis_rpz_requests_total{kind=\"soa\",outcome=\"refused\",signed=\"false\"} 1\n",
        "# TYPE tamis_rpz_zone_serial gauge\n",
        "tamis_rpz_zone_records{audience=\"",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    assert!(!text.contains("milliseconds"), "base units only");

    if let Some(bin) = promtool() {
        let mut child = Command::new(bin)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");
    }

    // Prometheus asks for OpenMetrics and gets it.
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (head, om) = get_metrics(admin, Some(accept)).await;
    assert!(head.contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"), "{head}");
    assert!(om.ends_with("# EOF\n") && om.contains("# TYPE tamis_requests counter\n"), "{om}");
    let _ = stop.send(());
    task.await.unwrap();
    s.stop().await;
}
