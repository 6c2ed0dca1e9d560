//! The DPO's pages as a person sees them: `/stats` and the record of
//! processing (`/record`) of a running exchange's admin listener, fetched
//! over HTTP and opened in headless Chromium (screenshots, rendered DOM).
//!
//! Chromium is optional: without it the browser half prints "skipped",
//! unless `TAMIS_REQUIRE_CHROMIUM=1` (CI). With `TAMIS_DOCS_SCREENSHOTS=DIR`
//! the screenshots are also copied to DIR (how docs/img/ was made).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::{TestServer, json, submit};
use serde_json::json;

const PII: &[&str] = &["jean.dupont", "Dupont", "orange.fr", "+33 6 12 34 56 78", "FR7630006000011234567890189"];

/// Headless Chromium's binary, or `None` after printing "skipped" (a panic
/// with `TAMIS_REQUIRE_CHROMIUM=1`).
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        assert!(std::env::var("TAMIS_REQUIRE_CHROMIUM").as_deref() != Ok("1"), "chromium is required but absent");
        println!("skipped: chromium not installed (apt-get install chromium)");
    }
    found
}

/// Runs headless Chromium on `url` with `args`; its stdout.
fn browse(bin: &str, profile: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Takes a screenshot of `url` at `width`×`height` into `png`, checks it
/// is a PNG of that size with real content, and copies it to
/// `$TAMIS_DOCS_SCREENSHOTS/name` when asked.
fn screenshot(bin: &str, profile: &Path, url: &str, png: &Path, (width, height): (u32, u32)) {
    let _ = browse(
        bin,
        profile,
        &[&format!("--screenshot={}", png.display()), &format!("--window-size={width},{height}")],
        url,
    );
    let bytes = std::fs::read(png).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let dim = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), (width, height), "screenshot size");
    // A blank page compresses to a few kilobytes; text, tables and plots do not.
    assert!(bytes.len() > 40_000, "{} looks empty: {} bytes", png.display(), bytes.len());
    if let Ok(dir) = std::env::var("TAMIS_DOCS_SCREENSHOTS") {
        std::fs::copy(png, Path::new(&dir).join(png.file_name().unwrap())).unwrap();
    }
}

/// Starts the admin listener of `s` in-process; its address.
async fn admin(s: &TestServer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Some(Arc::new(s.config.clone()));
    tokio::spawn(tamis::server::run_admin(listener, s.state.clone(), config, std::future::pending()));
    addr
}

async fn get(addr: SocketAddr, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new().get(format!("http://{addr}{path}")).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

/// A deployment whose tamis.toml names its controller and DPO (the legal
/// bases stay unset: the record must say so).
async fn server_with_controller() -> (tempfile::TempDir, TestServer) {
    let (tmp, dir) = common::deployment();
    let cfg = dir.join("tamis.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(
        "\n[controller]\nname = \"Example National CERT\"\ncontact = \"1 Rue de l'Exemple, Paris; cert@example.org\"\n\
         [dpo]\nname = \"Data Protection Office\"\ncontact = \"dpo@example.org\"\n\
         [record.recipients]\nlaw-enforcement = \"Art. 6(1)(c) GDPR; Directive (EU) 2016/680\"\n",
    );
    std::fs::write(&cfg, text).unwrap();
    (tmp, TestServer::start_in(&dir).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_record_pages_of_a_running_exchange() {
    let (tmp, s) = server_with_controller().await;
    let body = json!({"indicators":[
        {"type":"url","value":"https://secure-bank.example.com/login?email=jean.dupont%40orange.fr","category":"phishing",
         "confidence":80,"tlp":"green",
         "description":"Customer Jean Dupont (+33 6 12 34 56 78) paid to FR7630006000011234567890189.",
         "attributes":{"customer_email":"jean.dupont@orange.fr"}},
        {"type":"domain","value":"c2-pages.top","category":"c2","campaign":"x","reporter_ref":"y"}
    ]});
    let (status, _) = submit(&s, "bank-a", &body).await;
    assert_eq!(status, 200);
    let addr = admin(&s).await;

    // The statistics page: personal data and unknown fields apart.
    let mut page = String::new();
    for _ in 0..50 {
        page = get(addr, "/stats").await.2;
        if page.contains("<b>2</b><span>live indicators") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(page.contains("<b>2</b><span>live indicators"), "{page}");
    assert!(page.contains("Generated 20"), "generated at");
    let (pd, other) = page.split_once("Other fields removed as a precaution").expect("two sections");
    assert!(pd.contains("<td>email</td>") && pd.contains("<td>name</td>"), "{pd}");
    assert!(!pd.contains("unknown-field"), "unknown fields are not personal data: {pd}");
    assert!(other.contains("<td>unknown-field</td><td class=\"n\">2</td>"), "{other}");
    assert!(page.contains("verified up to entry"), "audit status: {page}");
    assert!(page.contains("<b>0</b><span>escrow reveals"), "{page}");
    assert!(page.contains("<svg") && page.contains("One week of data so far"), "one week: bars and a note");
    assert!(!page.contains("<script"), "no script");
    for p in PII {
        assert!(!page.contains(p), "{p} on /stats");
    }
    let (_, v) = json(s.client("dpo-a").get(s.url("/v1/stats")).send().await.unwrap()).await;
    assert_eq!(v["removals"]["other_fields"]["by_kind"]["unknown-field"], 2, "{v}");
    assert!(v["removals"]["personal_data"]["by_type"]["email"].as_u64().unwrap() >= 1);
    assert!(v["generated_at"].as_str().is_some_and(|t| t.starts_with("20")));

    // A reveal through the admin listener shows in the count at once.
    let cfgpath = s.dir.join("tamis.toml");
    let public = tamis::config::read_key(&s.dir.join("keys/escrow.pub")).unwrap();
    let token = tamis::privacy::escrow::seal(&public, "iban", b"DE89370400440532013000").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tamis"))
        .args(["reveal", &token, "--reason", "Court order 2026/77", "--escrow-key"])
        .arg(s.dir.join("keys/escrow-private.key"))
        .arg("--config")
        .arg(&cfgpath)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = get(addr, "/stats").await.2;
    assert!(page.contains("<b>1</b><span>escrow reveals"), "{page}");

    // The record of processing, with its policy history, while the server runs.
    let (status, headers, record) = get(addr, "/record").await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-tamis-deployment"], tamis::deploy::deployment_id(&s.config).unwrap().as_str());
    assert!(record.contains("<ul>") && record.matches("<li>").count() > 20, "lists are lists");
    assert!(!record.contains("<p>- "), "no flattened list");
    assert!(record.contains("Example National CERT") && record.contains("dpo@example.org"), "contacts");
    assert!(record.contains("Directive (EU) 2016/680"), "the configured legal basis");
    assert!(record.contains("Not configured — set <code>legal_basis</code>"), "an unset item says so");
    for needle in ["Categories of data subjects", "Transfers to third countries", "Retention periods", "AES-256-GCM"] {
        assert!(record.contains(needle), "{needle}");
    }
    let history = record.split("9. Policy history").nth(1).expect("history section");
    assert!(history.contains("<td><code>default@") && history.contains("<td><code>strict@"), "{history}");
    for p in PII {
        assert!(!record.contains(p), "{p} in the record");
    }
    // The CLI prints the same full record from the running exchange.
    let out = Command::new(env!("CARGO_BIN_EXE_tamis"))
        .args(["report", "processing", "--config"])
        .arg(&cfgpath)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && md.contains("## 9. Policy history\n\n| version"), "{md}");

    // The same pages in a browser.
    if let Some(bin) = chromium() {
        let shots = tempfile::tempdir().unwrap();
        let profile = shots.path().join("profile");
        let dom = browse(bin, &profile, &["--dump-dom"], &format!("http://{addr}/record"));
        assert!(dom.contains("<ul>") && dom.contains("<li>") && dom.contains("<table>"), "{dom}");
        let dom = browse(bin, &profile, &["--dump-dom"], &format!("http://{addr}/stats"));
        assert!(dom.contains("<svg") && dom.contains("One week of data so far"), "one week: bars and a note");
        screenshot(
            bin,
            &profile,
            &format!("http://{addr}/stats"),
            &shots.path().join("dpo-stats-1-week.png"),
            (1200, 1700),
        );
        screenshot(bin, &profile, &format!("http://{addr}/record"), &shots.path().join("dpo-record.png"), (1200, 1800));
    }
    s.stop().await;
    drop(tmp);
}

/// Twelve weeks of made-up counters, drawn as the page draws them.
fn twelve_weeks() -> serde_json::Value {
    let now = time::OffsetDateTime::now_utc();
    let mut c = tamis::store::Counters::default();
    let types = [("email", 40u64), ("name", 28), ("phone", 12), ("iban", 9), ("credential", 6), ("ip", 15)];
    for w in 0..12u64 {
        let week = tamis::store::iso_week(now - time::Duration::weeks(11 - w as i64));
        let mut r = tamis::model::Removals::default();
        for (k, (t, base)) in types.iter().enumerate() {
            let wave = (w * (k as u64 + 3) * 7) % 11;
            r.add_n(t, if *t == "ip" { "generalise" } else { "redact" }, base + wave * base / 6 + w * 2);
        }
        r.add_n("unknown-field", "drop", 30 + w * 5);
        r.add_n("free-text", "drop", 3);
        c.removals_by_week.insert(week.clone(), r);
        c.submissions_by_week.insert(week.clone(), 120 + w * 9);
        c.accepted_by_week.insert(week.clone(), 2400 + w * 130);
        c.rejected_by_week.insert(week, 40 + (w % 4) * 15);
    }
    json!({
        "generated_at": now.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "indicators": {"total": 18234, "corroborated": 2210,
            "by_category": {"phishing": 9120, "malware": 4210, "c2": 2004, "fraud": 1800, "scam": 1100},
            "by_type": {"url": 8800, "domain": 6100, "ipv4": 2400, "sha256": 934},
            "by_sector": {"finance": 10234, "telecom": 8000},
            "by_tlp": {"green": 12000, "amber": 6000, "clear": 234}},
        "removals": tamis::report::stats::removals_json(&c),
        "submissions_by_week": c.submissions_by_week,
        "accepted_by_week": c.accepted_by_week,
        "rejected_by_week": c.rejected_by_week,
        "audit": {"ok": true, "records": 48211, "checked_at": now.format(&time::format_description::well_known::Rfc3339).unwrap()},
        "reveals": 2,
    })
}

#[test]
fn twelve_weeks_draw_one_line_per_type() {
    let html = tamis::report::stats_html(&twelve_weeks());
    let pd = html.split("Other fields removed").next().unwrap();
    assert_eq!(pd.matches("<polyline").count(), 6, "one line per personal-data type");
    assert!(pd.contains(">email <tspan"), "legend");
    assert!(html.contains("verified up to entry 48,211"));
    let Some(bin) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let file: PathBuf = tmp.path().join("stats.html");
    std::fs::write(&file, &html).unwrap();
    let url = format!("file://{}", file.display());
    let dom = browse(bin, &tmp.path().join("profile"), &["--dump-dom"], &url);
    assert!(dom.contains("<polyline"), "the plot is in the rendered page");
    screenshot(bin, &tmp.path().join("profile"), &url, &tmp.path().join("dpo-stats.png"), (1200, 1500));
}
