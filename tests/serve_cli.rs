//! `tamis serve` mistakes an operator makes (issue 12, item 6): a mistyped
//! `--config` never creates a deployment; a second server on the same data
//! directory says so in a sentence; `--listen` takes host names.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn tamis() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tamis"));
    c.env_remove("TAMIS_LOG").env_remove("RUST_LOG");
    c
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn a_missing_config_given_on_the_command_line_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("typo");
    let out = tamis()
        .args(["serve", "--config"])
        .arg(dir.join("tamis.toml"))
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("does not exist") && said.contains("tamis init"), "{said}");
    assert!(!dir.exists(), "no deployment may be created at a mistyped path");
    // In an existing directory too: nothing is written next to the missing file.
    let out = tamis().args(["serve", "--config"]).arg(tmp.path().join("tamis.toml")).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "{}", text(&out));
}

#[test]
fn listen_refuses_a_name_that_resolves_to_nothing() {
    let out = tamis().args(["serve", "--listen", "no-such-host.invalid:8443"]).output().unwrap();
    let said = text(&out);
    assert!(!out.status.success());
    assert!(said.contains("--listen") && said.contains("HOST:PORT"), "{said}");
}

/// Starts `tamis serve` on the deployment in `dir`; waits for "listening".
fn serve(dir: &std::path::Path, listen: &str) -> (Child, String) {
    let mut child = tamis()
        .args(["serve", "--config"])
        .arg(dir.join("tamis.toml"))
        .args(["--listen", listen, "--admin-listen", listen])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("tamis listening") {
            return (child, log);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start:\n{log}");
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused_in_a_sentence() {
    let (_tmp, dir) = common::deployment();
    // A host name is accepted where an address is expected.
    let (mut first, log) = serve(&dir, "localhost:0");
    assert!(log.contains("tamis listening"), "{log}");
    let out = tamis()
        .args(["serve", "--config"])
        .arg(dir.join("tamis.toml"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let said = text(&out);
    let _ = first.kill();
    let _ = first.wait();
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("another tamis is running on this data directory"), "{said}");
    assert!(!said.contains("Os {") && !said.contains("WouldBlock"), "no Rust debug output: {said}");
}
