//! Durability and log hygiene with the real binary: acknowledged submissions
//! survive `kill -9`, and neither logs nor database files contain the
//! personal data that was submitted.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::json;

/// Starts `tamis serve` on ephemeral ports; returns the child, its API
/// address and a buffer collecting its stderr.
fn spawn_server(dir: &Path) -> (Child, SocketAddr, Arc<Mutex<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tamis"))
        .args(["serve", "--config"])
        .arg(dir.join("tamis.toml"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-format", "json"])
        .env("TAMIS_LOG", "debug,sled=warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn tamis");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("tamis listening") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                let _ = tx.send(v["fields"]["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap());
            }
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    let addr = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("server did not start");
    (child, addr, log)
}

fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    common::walk(dir).iter().any(|p| std::fs::read(p).unwrap().windows(needle.len()).any(|w| w == needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_submissions_survive_kill_9_and_nothing_personal_is_logged() {
    let (_tmp, dir) = common::deployment();
    let (mut child, addr, log1) = spawn_server(&dir);
    let bank =
        common::client_with(&dir, Some((&dir.join("certs/bank-a.pem"), &dir.join("certs/bank-a.key"))), addr, false);
    let url = format!("https://localhost:{}/v1/submissions", addr.port());
    let mut tasks = Vec::new();
    for i in 0..60 {
        let bank = bank.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"indicators":[{
                "type":"url","value":format!("https://kill9-{i}.example.com/login?user=marie.curie.{i}%40gmail.com"),
                "category":"phishing","tlp":"green",
                "description": format!("Victim Marie Curie, marie.curie.{i}@gmail.com, IBAN DE89370400440532013000")}]});
            let r = bank.post(&url).json(&body).send().await.ok()?;
            (r.status() == 200).then_some(i)
        }));
        if i == 19 {
            // Let the first twenty land, then kill while the rest are in flight.
            while tasks.iter().any(|t| !t.is_finished()) {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
        if i == 45 {
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            child.kill().unwrap();
        }
    }
    let mut acked = Vec::new();
    for t in tasks {
        if let Some(i) = t.await.unwrap() {
            acked.push(i);
        }
    }
    let _ = child.wait();
    assert!(acked.len() >= 10, "too few submissions acknowledged before the kill: {}", acked.len());

    let (mut child, addr, log2) = spawn_server(&dir);
    let police = common::client_with(
        &dir,
        Some((&dir.join("certs/police-a.pem"), &dir.join("certs/police-a.key"))),
        addr,
        false,
    );
    let (status, feed) = common::json(
        police.get(format!("https://localhost:{}/v1/indicators?limit=1000", addr.port())).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let values: Vec<String> =
        feed["indicators"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap().to_owned()).collect();
    for i in &acked {
        assert!(
            values.iter().any(|v| v.starts_with(&format!("https://kill9-{i}.example.com/"))),
            "acknowledged submission {i} lost after kill -9"
        );
    }
    // Terminate cleanly this time (SIGTERM).
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM must stop the server cleanly: {status:?}");

    let logs = format!("{}{}", log1.lock().unwrap(), log2.lock().unwrap());
    for secret in ["marie.curie", "Marie Curie", "DE89370400440532013000", "gmail.com"] {
        assert!(!logs.contains(secret), "{secret} appeared in the logs");
        assert!(!files_contain(&dir.join("data"), secret.as_bytes()), "{secret} found in the database files");
    }
    assert!(logs.contains("submission committed"));
}
