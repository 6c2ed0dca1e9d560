//! Blocklists end to end: snapshots per audience, allow-lists, ETag/304,
//! gzip, RPZ accepted by BIND's checker, expiry, retraction, and the
//! illegal-content restriction.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{TestServer, json, submit};
use serde_json::{Value, json};

fn maltrail(n: usize) -> Vec<Value> {
    include_str!("data/maltrail-3000.jsonl")
        .lines()
        .take(n)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            json!({"type": v["type"], "value": v["value"], "category": "malware", "confidence": 80, "tlp": "green",
                   "tags": [v["family"]]})
        })
        .collect()
}

/// Polls a blocklist until `pred` holds on its body (the builder is debounced).
async fn wait_for(s: &TestServer, who: &str, name: &str, pred: impl Fn(&str) -> bool) -> String {
    let c = s.client(who);
    for _ in 0..100 {
        let r = c.get(s.url(&format!("/v1/blocklists/{name}"))).send().await.unwrap();
        if r.status() == 200 {
            let body = r.text().await.unwrap();
            if pred(&body) {
                return body;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never reached the expected state");
}

#[tokio::test]
async fn isp_lists_carry_real_indicators_but_never_allow_listed_ones() {
    let s = TestServer::start().await;
    let mut items = maltrail(3000);
    for (t, v) in [
        ("domain", "google.com"),
        ("domain", "bit.ly"),
        ("domain", "co.uk"),
        ("domain", "dns.google"),
        ("ipv4", "8.8.8.8"),
        ("ipv4", "1.1.1.1"),
        ("cidr", "8.8.8.0/24"),
        ("url", "https://bit.ly/"),
        ("url", "https://www.google.com/"),
        ("domain", "evil-login.github.io"),
        ("url", "https://bit.ly/3xYzAbc"),
        ("url", "https://docs.google.com/forms/d/e/1FAIpQLSc/viewform"),
    ] {
        items.push(json!({"type": t, "value": v, "category": "phishing", "confidence": 90, "tlp": "green"}));
    }
    items.push(json!({"type":"domain","value":"red-only.top","category":"c2","confidence":90,"tlp":"red"}));
    items.push(json!({"type":"domain","value":"unsure.top","category":"c2","confidence":10,"tlp":"green"}));
    let (status, v) = submit(&s, "isp-a", &json!({ "indicators": items })).await;
    assert_eq!(status, 200, "{v}");

    let domains = wait_for(&s, "isp-a", "domains.txt", |b| b.contains("evil-login.github.io")).await;
    let lines: Vec<&str> = domains.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(lines.len() > 2000, "expected most maltrail domains, got {}", lines.len());
    for never in ["google.com", "bit.ly", "co.uk", "dns.google", "red-only.top", "unsure.top"] {
        assert!(!lines.contains(&never), "{never} must not be blocked by name");
    }
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "sorted, deterministic output");

    let ips = wait_for(&s, "isp-a", "ips.txt", |_| true).await;
    for never in ["8.8.8.8", "1.1.1.1", "8.8.8.0/24"] {
        assert!(!ips.lines().any(|l| l == never), "{never} must not be blocked");
    }
    assert!(ips.lines().filter(|l| !l.starts_with('#')).count() > 400);

    let urls = wait_for(&s, "isp-a", "urls.txt", |_| true).await;
    assert!(urls.lines().any(|l| l == "https://bit.ly/3xYzAbc"), "shortened links are blocked by URL");
    assert!(urls.lines().any(|l| l.starts_with("https://docs.google.com/forms/")));
    assert!(!urls.lines().any(|l| l == "https://bit.ly/" || l == "https://www.google.com/"));

    let hosts = wait_for(&s, "isp-a", "hosts.txt", |_| true).await;
    assert!(hosts.lines().any(|l| l == "0.0.0.0 evil-login.github.io"));
    let csv = wait_for(&s, "isp-a", "indicators.csv", |_| true).await;
    assert!(csv.starts_with("type,value,category,confidence,tlp,first_seen,last_seen,valid_until,sources\n"));
    assert!(!csv.contains("isp-a"), "sources are counted, never named");

    // Roles: police and banks do not get blocklists.
    for who in ["police-a", "bank-a", "dpo-a"] {
        let r = s.client(who).get(s.url("/v1/blocklists/domains.txt")).send().await.unwrap();
        assert_eq!(r.status(), 403, "{who}");
    }
    let r = s.client("isp-a").get(s.url("/v1/blocklists/nope.txt")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn etag_304_and_gzip() {
    let s = TestServer::start().await;
    let (status, _) = submit(&s, "isp-a", &json!({ "indicators": maltrail(200) })).await;
    assert_eq!(status, 200);
    let body = wait_for(&s, "isp-a", "domains.txt", |b| b.lines().count() > 100).await;
    let c = s.client("isp-a");
    let r = c.get(s.url("/v1/blocklists/domains.txt")).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let r = c.get(s.url("/v1/blocklists/domains.txt")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    assert!(r.bytes().await.unwrap().is_empty());

    let r = c.get(s.url("/v1/blocklists/domains.txt")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let gz_etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(gz_etag, etag, "each representation has its own ETag");
    let compressed = r.bytes().await.unwrap();
    assert!(compressed.len() < body.len());
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&compressed[..]).read_to_string(&mut plain).unwrap();
    assert_eq!(plain, body);
    let r = c
        .get(s.url("/v1/blocklists/domains.txt"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", &gz_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // A change gives a new ETag; the old one no longer matches.
    let (status, _) =
        submit(&s, "isp-a", &json!({"indicators":[{"type":"domain","value":"brand-new-c2.top","category":"c2","confidence":90,"tlp":"green"}]})).await;
    assert_eq!(status, 200);
    wait_for(&s, "isp-a", "domains.txt", |b| b.contains("brand-new-c2.top")).await;
    let r = c.get(s.url("/v1/blocklists/domains.txt")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// The files of the blocklist snapshot directory, sorted.
fn snapshot_files(s: &TestServer) -> Vec<String> {
    let dir = s.config.data_dir.join("blocklists");
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Waits until every published snapshot has its gzip encoding in a file,
/// and the directory holds nothing else (stale files removed).
async fn wait_for_snapshot_files(s: &TestServer) -> Vec<String> {
    for _ in 0..200 {
        let snaps = s.state.blocklists.snapshots();
        let files = snapshot_files(s);
        if !snaps.is_empty()
            && snaps.iter().all(|(_, _, snap)| snap.gzip_made() && snap.gzip_ready().is_none())
            && files.len() == snaps.len()
        {
            return files;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("snapshot files never matched the published snapshots: {:?}", snapshot_files(s));
}

#[tokio::test]
async fn snapshots_are_served_from_their_files_across_rebuilds_and_restarts() {
    let s = TestServer::start().await;
    let (status, _) = submit(&s, "isp-a", &json!({ "indicators": maltrail(300) })).await;
    assert_eq!(status, 200);
    let body = wait_for(&s, "isp-a", "domains.txt", |b| b.lines().count() > 100).await;
    let first = wait_for_snapshot_files(&s).await;
    assert!(first.iter().all(|f| f.ends_with(".gz.sealed")), "{first:?}");
    let raw = std::fs::read(s.config.data_dir.join("blocklists").join(&first[0])).unwrap();
    assert!(!raw.windows(6).any(|w| w == b"\n# tam"), "a snapshot file is sealed");
    let c = s.client("isp-a");
    let get = |gzip: bool, etag: Option<String>| {
        let mut r = c.get(s.url("/v1/blocklists/domains.txt"));
        if gzip {
            r = r.header("accept-encoding", "gzip");
        }
        if let Some(e) = etag {
            r = r.header("if-none-match", e);
        }
        r.send()
    };
    // both representations from the file: the gzip one the snapshot's
    // bytes, the text decompressed from them; 304s as before
    let r = get(false, None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-encoding").is_none());
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(r.text().await.unwrap(), body);
    let r = get(true, None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let gz_etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(gz_etag, format!("{}-gz\"", etag.trim_end_matches('"')));
    let compressed = r.bytes().await.unwrap();
    let snap = s.state.blocklists.get("isps", "domains.txt").unwrap();
    assert_eq!(compressed, snap.gzip_bytes().unwrap(), "the bytes of the snapshot's file");
    drop(snap);
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&compressed[..]).read_to_string(&mut plain).unwrap();
    assert_eq!(plain, body);
    assert_eq!(get(true, Some(gz_etag.clone())).await.unwrap().status(), 304);
    assert_eq!(get(false, Some(etag.clone())).await.unwrap().status(), 304);

    // a rebuild: new files for what changed, the replaced ones removed
    let (status, _) =
        submit(&s, "isp-a", &json!({"indicators":[{"type":"domain","value":"brand-new-c2.top","category":"c2","confidence":90,"tlp":"green"}]})).await;
    assert_eq!(status, 200);
    let body2 = wait_for(&s, "isp-a", "domains.txt", |b| b.contains("brand-new-c2.top")).await;
    let second = wait_for_snapshot_files(&s).await;
    assert_ne!(first, second);
    let r = get(true, Some(gz_etag)).await.unwrap();
    assert_eq!(r.status(), 200, "the old ETag no longer matches");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&r.bytes().await.unwrap()[..]).read_to_string(&mut plain).unwrap();
    assert_eq!(plain, body2);
    for name in tamis::feeds::blocklist::NAMES {
        let r = c.get(s.url(&format!("/v1/blocklists/{name}"))).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
    }

    // a restart: the directory is emptied of the files it cannot open
    // (sealed under the last process's key), and the same content comes
    // back with the same ETag
    let r = get(false, None).await.unwrap();
    let etag2 = r.headers()["etag"].to_str().unwrap().to_owned();
    let dir = s.dir.clone();
    let data_dir = s.config.data_dir.clone();
    let tmp = s.stop().await;
    std::fs::write(data_dir.join("blocklists").join("99999999.gz.sealed"), b"stale").unwrap();
    let s = TestServer::start_in(&dir).await;
    let body3 = wait_for(&s, "isp-a", "domains.txt", |b| b.contains("brand-new-c2.top")).await;
    assert_eq!(body3, body2);
    let third = wait_for_snapshot_files(&s).await;
    assert!(!third.contains(&"99999999.gz.sealed".to_owned()), "{third:?}");
    let r = s
        .client("isp-a")
        .get(s.url("/v1/blocklists/domains.txt"))
        .header("if-none-match", &etag2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    s.stop().await;
    drop(tmp);
}

fn named_checkzone() -> Option<std::path::PathBuf> {
    ["/usr/bin/named-checkzone", "/usr/sbin/named-checkzone"].iter().map(std::path::PathBuf::from).find(|p| p.exists())
}

#[tokio::test]
async fn rpz_serial_increases_and_bind_accepts_the_zone() {
    let s = TestServer::start().await;
    let mut items = maltrail(1000);
    items.push(json!({"type":"ipv6","value":"2a0b:4140:1234::5","category":"c2","confidence":90,"tlp":"green"}));
    items.push(json!({"type":"cidr","value":"185.220.101.0/24","category":"c2","confidence":90,"tlp":"green"}));
    let (status, _) = submit(&s, "isp-a", &json!({ "indicators": items })).await;
    assert_eq!(status, 200);
    let zone = wait_for(&s, "isp-a", "domains.rpz", |b| b.contains("24.0.101.220.185.rpz-ip CNAME .")).await;
    assert!(zone.contains("$TTL"));
    assert!(zone.contains("128.5.zz.1234.4140.2a0b.rpz-ip CNAME ."), "IPv6 trigger");
    let serial = |z: &str| -> u64 {
        z.lines().find(|l| l.contains(" SOA ")).unwrap().split_whitespace().nth(5).unwrap().parse().unwrap()
    };
    let s1 = serial(&zone);
    let some = zone.lines().find(|l| l.ends_with("CNAME .") && !l.starts_with('*') && !l.contains("rpz-ip")).unwrap();
    let name = some.split_whitespace().next().unwrap();
    assert!(zone.contains(&format!("*.{name} CNAME .")), "subdomains are covered too");

    match named_checkzone() {
        Some(bin) => {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("rpz.zone");
            std::fs::write(&f, &zone).unwrap();
            let out = std::process::Command::new(bin)
                .args(["-k", "fail", "-n", "fail", "rpz.tamis.test"])
                .arg(&f)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "named-checkzone refused the zone:\n{text}");
            assert!(text.contains(&format!("loaded serial {s1}")), "{text}");
        }
        None if std::env::var("TAMIS_REQUIRE_BIND").is_ok() => panic!("named-checkzone is required (bind9-utils)"),
        None => eprintln!("skipped named-checkzone: install bind9-utils to run it"),
    }

    let (status, _) = submit(&s, "isp-a", &json!({"indicators":[{"type":"domain","value":"one-more-c2.top","category":"c2","confidence":90,"tlp":"green"}]})).await;
    assert_eq!(status, 200);
    let zone2 = wait_for(&s, "isp-a", "domains.rpz", |b| b.contains("one-more-c2.top CNAME .")).await;
    assert!(serial(&zone2) > s1, "the SOA serial increases on every change");
    s.stop().await;
}

#[tokio::test]
async fn expired_and_retracted_indicators_leave_lists_and_the_feed_shows_it() {
    let s = TestServer::start().await;
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let soon = soon.format(&time::format_description::well_known::Rfc3339).unwrap();
    let (status, v) = submit(
        &s,
        "bank-a",
        &json!({"indicators":[
            {"type":"domain","value":"short-lived.top","category":"phishing","confidence":90,"tlp":"green","valid_until": soon},
            {"type":"domain","value":"false-positive.top","category":"phishing","confidence":90,"tlp":"green"},
            {"type":"domain","value":"shared-report.top","category":"phishing","confidence":90,"tlp":"green"}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let fp_id = v["indicators"][1]["id"].as_str().unwrap().to_owned();
    let shared_id = v["indicators"][2]["id"].as_str().unwrap().to_owned();
    let (status, _) = submit(&s, "isp-a", &json!({"indicators":[{"type":"domain","value":"shared-report.top","category":"phishing","confidence":90,"tlp":"green"}]})).await;
    assert_eq!(status, 200);
    wait_for(&s, "isp-a", "domains.txt", |b| b.contains("short-lived.top") && b.contains("false-positive.top")).await;

    // Only a submitter may retract, and only its own contribution.
    let r = s.client("isp-a").delete(s.url(&format!("/v1/indicators/{fp_id}"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let (status, v) =
        json(s.client("bank-a").delete(s.url(&format!("/v1/indicators/{fp_id}"))).send().await.unwrap()).await;
    assert_eq!((status, v["removed"].as_bool()), (200, Some(true)));
    let (status, v) =
        json(s.client("bank-a").delete(s.url(&format!("/v1/indicators/{shared_id}"))).send().await.unwrap()).await;
    assert_eq!((status, v["removed"].as_bool()), (200, Some(false)), "isp-a still reports it");
    let r = s.client("police-a").delete(s.url(&format!("/v1/indicators/{shared_id}"))).send().await.unwrap();
    assert_eq!(r.status(), 403);

    let body =
        wait_for(&s, "isp-a", "domains.txt", |b| !b.contains("short-lived.top") && !b.contains("false-positive.top"))
            .await;
    assert!(body.contains("shared-report.top"));

    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators?limit=100")).send().await.unwrap()).await;
    let removals: Vec<(String, String)> = feed["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["op"] == "remove")
        .map(|i| (i["value"].as_str().unwrap_or("").to_owned(), i["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert!(removals.contains(&("false-positive.top".into(), "retracted".into())), "{removals:?}");
    assert!(removals.contains(&("short-lived.top".into(), "expired".into())), "{removals:?}");
    let shared: Vec<&Value> =
        feed["indicators"].as_array().unwrap().iter().filter(|i| i["value"] == "shared-report.top").collect();
    assert_eq!(shared.last().unwrap()["sources"]["count"], 1);
    s.stop().await;
}

#[tokio::test]
async fn illegal_content_reaches_only_the_blocking_agreement_and_police() {
    let (tmp, dir) = common::deployment();
    common::issue_client(&dir, "isp-b", false);
    let mut reg = std::fs::read_to_string(dir.join("participants.toml")).unwrap();
    reg.push_str("\n[[participant]]\nid = \"isp-b\"\nkind = \"isp\"\nroles = [\"blocklist\"]\naudiences = [\"isps\", \"isp-blocking-agreement\"]\n");
    std::fs::write(dir.join("participants.toml"), reg).unwrap();
    let s = TestServer::start_in(&dir).await;
    let (status, v) = submit(
        &s,
        "isp-a",
        &json!({"indicators":[
            {"type":"url","value":"http://abuse-host.top/gallery/123","category":"illegal-content","confidence":95,"tlp":"amber"},
            {"type":"domain","value":"ordinary-c2.top","category":"c2","confidence":95,"tlp":"green"}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let b = wait_for(&s, "isp-b", "urls.txt", |b| b.contains("abuse-host.top")).await;
    assert!(b.contains("http://abuse-host.top/gallery/123"));
    wait_for(&s, "isp-b", "domains.txt", |b| b.contains("ordinary-c2.top")).await;
    let a = wait_for(&s, "isp-a", "domains.txt", |b| b.contains("ordinary-c2.top")).await;
    assert!(!a.contains("abuse-host"));
    let a_urls = wait_for(&s, "isp-a", "urls.txt", |_| true).await;
    assert!(!a_urls.contains("abuse-host.top"), "general ISP lists never carry illegal-content URLs");
    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    assert!(feed.to_string().contains("abuse-host.top"), "law enforcement sees it");
    s.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn csv_submissions_go_through_the_same_pipeline() {
    let s = TestServer::start().await;
    let csv = "type,value,category,confidence,tlp,description\n\
               domain,csv-phish.top,phishing,80,green,\"Victim jean.dupont@orange.fr, called +33 6 12 34 56 78\"\n\
               ipv4,10.0.0.1,c2,80,green,\n\
               domain,csv-second.top,phishing,80,green\n";
    let r = s
        .client("bank-a")
        .post(s.url("/v1/submissions"))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let (status, v) = json(r).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 1);
    let lines: Vec<u64> = v["rejected"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3, 4], "{v}");
    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators")).send().await.unwrap()).await;
    let text = feed.to_string();
    assert!(text.contains("csv-phish.top"));
    assert!(!text.contains("jean.dupont") && !text.contains("12 34 56 78"), "{text}");
    s.stop().await;
}

/// The `Last-Modified` of a response, as a time.
fn last_modified(r: &reqwest::Response) -> std::time::SystemTime {
    let v = r.headers().get("last-modified").expect("Last-Modified on every list").to_str().unwrap();
    httpdate::parse_http_date(v).expect("an HTTP-date")
}

#[tokio::test]
async fn customers_of_platforms_are_listed_and_the_isp_is_told_what_was_withheld() {
    let s = TestServer::start().await;
    let items: Vec<Value> = [
        ("domain", "mpr23-421-c2.westus2.cloudapp.azure.com"),
        ("domain", "loader-panel.xsph.ru"),
        ("domain", "ample-minutes.at.ply.gg"),
        ("domain", "listed-c2.top"),
        ("domain", "cloudapp.azure.com"),
        ("domain", "google.com"),
        ("domain", "co.uk"),
        ("domain", "bit.ly"),
        ("ipv4", "8.8.8.8"),
        ("ipv4", "185.220.101.4"),
        ("url", "https://www.google.com/"),
    ]
    .iter()
    .map(|(t, v)| json!({"type": t, "value": v, "category": "phishing", "confidence": 90, "tlp": "green"}))
    .collect();
    let (status, v) = submit(&s, "isp-a", &json!({ "indicators": items })).await;
    assert_eq!(status, 200, "{v}");
    let domains = wait_for(&s, "isp-a", "domains.txt", |b| b.contains("listed-c2.top")).await;
    let names: Vec<&str> = domains.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        names,
        ["ample-minutes.at.ply.gg", "listed-c2.top", "loader-panel.xsph.ru", "mpr23-421-c2.westus2.cloudapp.azure.com"],
        "customers of hosting platforms and tunnel hosts are blockable; the platforms are not"
    );

    // hosts.txt blocks A and AAAA lookups of every name.
    let hosts = wait_for(&s, "isp-a", "hosts.txt", |_| true).await;
    let entries: Vec<&str> = hosts.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(entries.len(), 2 * names.len());
    for n in &names {
        let i = entries.iter().position(|l| *l == format!("0.0.0.0 {n}")).unwrap();
        assert_eq!(entries[i + 1], format!(":: {n}"));
    }

    // What was withheld, by reason, on every list; the values in withheld.csv.
    let c = s.client("isp-a");
    let header = |r: &reqwest::Response| r.headers()["x-tamis-withheld"].to_str().unwrap().to_owned();
    let r = c.get(s.url("/v1/blocklists/domains.txt")).send().await.unwrap();
    assert_eq!(
        header(&r),
        "address=0, exempt=1, hash=0, not-a-dns-name=0, public-suffix=1, shared-service=2",
        "google.com; co.uk; bit.ly and cloudapp.azure.com"
    );
    let r = c.get(s.url("/v1/blocklists/ips.txt")).send().await.unwrap();
    assert!(header(&r).starts_with("address=1, exempt=0,"), "{}", header(&r));
    let r = c.get(s.url("/v1/blocklists/urls.txt")).send().await.unwrap();
    assert!(header(&r).contains("exempt=1"), "{}", header(&r));
    let r = c.get(s.url("/v1/blocklists/withheld.csv")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-tamis-entries"], "6");
    let csv = r.text().await.unwrap();
    let mut rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.remove(0), "type,value,reason");
    for row in [
        "domain,bit.ly,shared-service",
        "domain,cloudapp.azure.com,shared-service",
        "domain,co.uk,public-suffix",
        "domain,google.com,exempt",
        "ipv4,8.8.8.8,address",
        "url,https://www.google.com/,exempt",
    ] {
        assert!(rows.contains(&row), "{row} missing from {rows:?}");
    }
    assert_eq!(rows.len(), 6);
    s.stop().await;
}

#[tokio::test]
async fn if_modified_since_answers_304_and_last_modified_survives_a_restart() {
    let (tmp, dir) = common::deployment();
    let s = TestServer::start_in(&dir).await;
    let (status, _) = submit(&s, "isp-a", &json!({ "indicators": maltrail(100) })).await;
    assert_eq!(status, 200);
    wait_for(&s, "isp-a", "domains.txt", |b| b.lines().count() > 50).await;
    let c = s.client("isp-a");
    let mut stamps = Vec::new();
    for name in tamis::feeds::blocklist::NAMES {
        let r = c.get(s.url(&format!("/v1/blocklists/{name}"))).send().await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let lm = r.headers()["last-modified"].to_str().unwrap().to_owned();
        assert!(lm.ends_with(" GMT"), "{name}: {lm}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        // Pi-hole, `wget -N` and `curl -z` send the date they hold.
        let r = c.get(s.url(&format!("/v1/blocklists/{name}"))).header("if-modified-since", &lm).send().await.unwrap();
        assert_eq!(r.status(), 304, "{name}");
        assert_eq!(r.headers()["last-modified"], lm.as_str());
        assert_eq!(r.headers()["etag"], etag.as_str());
        stamps.push((name, lm, etag));
    }
    let (_, lm, etag) = stamps[0].clone();
    let older = httpdate::fmt_http_date(last_modified_of(&lm) - Duration::from_secs(1));
    for (ims, inm, expected) in [
        (older.as_str(), None, 200),
        ("not a date", None, 200),
        ("Wed, 01 Jan 2031 00:00:00 GMT", None, 304),
        // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
        (lm.as_str(), Some("\"other\""), 200),
        (older.as_str(), Some(etag.as_str()), 304),
    ] {
        let mut req = c.get(s.url("/v1/blocklists/domains.txt")).header("if-modified-since", ims);
        if let Some(inm) = inm {
            req = req.header("if-none-match", inm);
        }
        assert_eq!(req.send().await.unwrap().status(), expected, "If-Modified-Since {ims}, If-None-Match {inm:?}");
    }
    let zone = wait_for(&s, "isp-a", "domains.rpz", |_| true).await;

    // The same content after a restart: same validators, same RPZ serial.
    s.stop().await;
    let s = TestServer::start_in(&dir).await;
    let c = s.client("isp-a");
    let zone2 = wait_for(&s, "isp-a", "domains.rpz", |_| true).await;
    assert_eq!(zone2, zone, "the RPZ zone, serial included, is the same after a restart");
    for (name, lm, etag) in &stamps {
        let r = c.get(s.url(&format!("/v1/blocklists/{name}"))).send().await.unwrap();
        assert_eq!(r.headers()["etag"], etag.as_str(), "{name}");
        if **name == "withheld.csv" {
            // Unchanged since the empty deployment: a restart only knows the
            // newest commit, so its date may move forward (never back).
            assert!(last_modified(&r) >= last_modified_of(lm), "{name}");
        } else {
            assert_eq!(r.headers()["last-modified"], lm.as_str(), "{name} changed with the newest commit");
        }
    }

    // A change moves Last-Modified forward: the old date gets the new list.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = submit(
        &s,
        "isp-a",
        &json!({"indicators":[{"type":"domain","value":"later-c2.top","category":"c2","confidence":90,"tlp":"green"}]}),
    )
    .await;
    assert_eq!(status, 200);
    wait_for(&s, "isp-a", "domains.txt", |b| b.contains("later-c2.top")).await;
    let r = c.get(s.url("/v1/blocklists/domains.txt")).header("if-modified-since", &lm).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(last_modified(&r) > last_modified_of(&lm));
    s.stop().await;
    drop(tmp);
}

fn last_modified_of(v: &str) -> std::time::SystemTime {
    httpdate::parse_http_date(v).unwrap()
}
