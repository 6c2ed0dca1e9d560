//! Durability and log hygiene with the real binary: acknowledged submissions
//! survive `kill -9`, an acknowledgement is sent only after the data was
//! fsync'd (checked with strace), and neither logs nor database files
//! contain the personal data that was submitted.

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
    spawn_server_via(dir, Command::new(env!("CARGO_BIN_EXE_tamis")))
}

/// [`spawn_server`] with `cmd` as the program (the binary itself, or a
/// tracer whose last argument is the binary).
fn spawn_server_via(dir: &Path, mut cmd: Command) -> (Child, SocketAddr, Arc<Mutex<String>>) {
    let mut child = cmd
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

/// One line of `strace -f -ttt -yy`: (timestamp, syscall, first argument,
/// result) once the call completed; `unfinished` pairs calls split by
/// another thread's line with their `<... resumed>` end.
fn strace_calls(trace: &str) -> Vec<(f64, String, String, i64)> {
    let mut unfinished: std::collections::HashMap<String, (String, String)> = Default::default();
    let mut out = Vec::new();
    for line in trace.lines() {
        // `PID TIMESTAMP CALL`, the pid padded with spaces.
        let Some((pid, rest)) = line.trim_start().split_once(' ') else { continue };
        let Some((ts, rest)) = rest.trim_start().split_once(' ') else { continue };
        let Ok(ts) = ts.parse::<f64>() else { continue };
        let result = |r: &str| r.rsplit_once(") = ").and_then(|(_, n)| n.split(' ').next()?.parse::<i64>().ok());
        if let Some(resumed) = rest.strip_prefix("<... ") {
            if let Some((name, arg)) = unfinished.remove(pid)
                && resumed.starts_with(&name)
                && let Some(n) = result(resumed)
            {
                out.push((ts, name, arg, n));
            }
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else { continue };
        let arg = args.split([',', ')']).next().unwrap_or("").to_owned();
        if rest.ends_with("<unfinished ...>") {
            unfinished.insert(pid.to_owned(), (name.to_owned(), arg));
        } else if let Some(n) = result(rest) {
            out.push((ts, name.to_owned(), arg, n));
        }
    }
    out
}

/// The "a 2xx means fsync'd", shown on the real binary: between the
/// request arriving on the connection and the first byte of the answer,
/// the server completes an `fdatasync` of sled's log file (`data/db`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_is_answered_only_after_fdatasync_of_the_database() {
    let required = std::env::var("TAMIS_REQUIRE_STRACE").is_ok_and(|v| v == "1");
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(!required, "strace is required (TAMIS_REQUIRE_STRACE=1) but not installed");
        println!("skipped: strace is not installed");
        return;
    }
    let (_tmp, dir) = common::deployment();
    let trace_file = dir.join("strace.out");
    let mut strace = Command::new("strace");
    strace.args(["-f", "-ttt", "-yy", "-qq", "-e", "trace=fdatasync,fsync,read,recvfrom,write,writev,sendto,sendmsg"]);
    strace.arg("-o").arg(&trace_file).arg(env!("CARGO_BIN_EXE_tamis"));
    let (mut child, addr, _log) = spawn_server_via(&dir, strace);
    let bank =
        common::client_with(&dir, Some((&dir.join("certs/bank-a.pem"), &dir.join("certs/bank-a.key"))), addr, true);
    let base = format!("https://localhost:{}", addr.port());
    // Connect (handshake) and let the start-up writes settle.
    assert_eq!(bank.get(format!("{base}/v1/whoami")).send().await.unwrap().status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let t0 = now();
    let body = json!({"indicators":[{"type":"domain","value":"fsync-proof.example.top","category":"phishing"}]});
    let r = bank.post(format!("{base}/v1/submissions")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Stop the server (strace's child), so that strace ends and its output
    // is complete, then read the trace.
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let tracee = std::fs::read_to_string(children).unwrap_or_default();
    for pid in tracee.split_whitespace() {
        let _ = Command::new("kill").arg("-9").arg(pid).status();
    }
    let waited = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && waited.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let trace = std::fs::read_to_string(&trace_file).unwrap();
    if trace.contains("Operation not permitted") && !trace.contains("fdatasync") {
        assert!(!required, "strace cannot trace here: {trace}");
        println!("skipped: ptrace is not permitted here");
        return;
    }
    let conn = format!("<TCP:[127.0.0.1:{}->", addr.port());
    let calls: Vec<_> = strace_calls(&trace).into_iter().filter(|c| c.0 >= t0).collect();
    let on_conn = |c: &(f64, String, String, i64), names: &[&str]| {
        c.2.contains(&conn) && c.3 > 0 && names.contains(&c.1.as_str())
    };
    let Some(request) = calls.iter().position(|c| on_conn(c, &["read", "recvfrom"])) else {
        let tail: Vec<&str> = trace.lines().rev().take(40).collect();
        panic!("the request was not read in the trace ({} calls after t0); its end:\n{}", calls.len(), tail.join("\n"));
    };
    let answer = request
        + calls[request..]
            .iter()
            .position(|c| on_conn(c, &["write", "writev", "sendto", "sendmsg"]))
            .expect("answered");
    let synced = calls[request..answer]
        .iter()
        .position(|c| c.1 == "fdatasync" && c.2.ends_with("/data/db>") && c.3 == 0)
        .map(|i| i + request);
    for c in &calls[request..=answer] {
        println!("{:.6} {}({}) = {}", c.0, c.1, c.2, c.3);
    }
    assert!(synced.is_some(), "the answer was written before any fdatasync of data/db");
}
