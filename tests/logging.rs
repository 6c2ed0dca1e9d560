//! Logging (issue 8, item 10): `RUST_LOG` is honoured when `TAMIS_LOG` is
//! not set (`TAMIS_LOG` wins when both are), no ANSI colour codes are
//! written when stderr is not a terminal, and refused handshakes do not
//! each write an INFO line.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `tamis serve` on a fresh deployment with the given environment; its
/// stderr is collected (a pipe, not a terminal).
struct Served {
    child: Child,
    log: Arc<Mutex<String>>,
    addr: std::net::SocketAddr,
    _tmp: tempfile::TempDir,
}

impl Served {
    fn start(env: &[(&str, &str)]) -> Served {
        let (tmp, dir) = common::deployment();
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let (addr, admin) = (free(), free());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tamis"));
        cmd.args(["serve", "--config"])
            .arg(dir.join("tamis.toml"))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--admin-listen")
            .arg(admin.to_string())
            .env_remove("TAMIS_LOG")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let s = Served { child, log, addr, _tmp: tmp };
        assert!(s.wait_for("tamis listening"), "the server did not start:\n{}", s.log());
        s
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_for(&self, what: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.log().contains(what) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Connections that close without a ClientHello: refused handshakes.
    fn refused_handshakes(&self, n: usize) {
        for _ in 0..n {
            drop(std::net::TcpStream::connect(self.addr).unwrap());
        }
    }

    /// SIGTERM, then the whole log.
    fn stop(mut self) -> String {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.log()
    }
}

#[test]
fn rust_log_is_honoured_and_no_colours_off_a_terminal() {
    let s = Served::start(&[("RUST_LOG", "info,tamis::server=debug")]);
    s.refused_handshakes(5);
    assert!(s.wait_for("DEBUG"), "RUST_LOG is ignored:\n{}", s.log());
    let log = s.stop();
    assert!(!log.contains('\u{1b}'), "ANSI escape codes in a log that is not a terminal:\n{log}");
    // Five refused handshakes in a row: one INFO line, the rest at debug level.
    let info = log.lines().filter(|l| l.contains("INFO") && l.contains("handshake")).count();
    assert_eq!(info, 1, "{log}");
}

#[test]
fn tamis_log_wins_over_rust_log() {
    let s = Served::start(&[("TAMIS_LOG", "info"), ("RUST_LOG", "debug")]);
    s.refused_handshakes(3);
    let log = s.stop();
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains("DEBUG"), "RUST_LOG won over TAMIS_LOG:\n{log}");
}
