//! A throwaway PostgreSQL cluster for the tests: `initdb` and `pg_ctl` in a
//! temporary directory, on a free loopback port, stopped (`-m immediate`)
//! when dropped. Run as the `postgres` system user when the tests run as
//! root (PostgreSQL refuses to run as root). Without the binaries the tests
//! print "skipped", unless `TAMIS_REQUIRE_POSTGRES=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    /// The directory of `initdb`, `pg_ctl`, `createdb`.
    bin: PathBuf,
    /// Holds the cluster (`data/`), its sockets and its log.
    tmp: tempfile::TempDir,
    pub port: u16,
    /// Run the binaries as this user (`Some("postgres")` when root).
    user: Option<String>,
}

/// The directory holding `initdb`: on `PATH`, else Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest).
fn find_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(d) = std::env::split_paths(&path).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file()) {
        // The real directory (PATH may hold symlinks to initdb and pg_ctl only).
        let real = std::fs::canonicalize(d.join("initdb")).ok()?;
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, b): &(u32, PathBuf)| b.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `(uid, gid)` of a system user.
fn ids_of(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, user]).output().ok()?;
        if !o.status.success() {
            return None;
        }
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// Not available here: says "skipped", or panics when CI requires it.
fn unavailable(why: &str) -> Option<Postgres> {
    if std::env::var("TAMIS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("PostgreSQL is required (TAMIS_REQUIRE_POSTGRES=1) but {why}");
    }
    eprintln!("postgresql: {why}; skipped");
    println!("postgresql: {why}; skipped");
    None
}

impl Postgres {
    /// Starts a new cluster with a database `tamis` (`None`: skipped).
    pub fn start() -> Option<Postgres> {
        let Some(bin) = find_bin() else { return unavailable("initdb/pg_ctl not found") };
        let user = if is_root() { Some("postgres".to_owned()) } else { None };
        let tmp = tempfile::Builder::new().prefix("tamis-pg").tempdir().unwrap();
        if let Some(u) = &user {
            let Some((uid, gid)) = ids_of(u) else { return unavailable("there is no postgres system user") };
            std::os::unix::fs::chown(tmp.path(), Some(uid), Some(gid)).unwrap();
        }
        let pg = Postgres { bin, tmp, port: free_port(), user };
        let data = pg.data_dir();
        pg.run("initdb", &["-D", p(&data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        pg.start_server();
        pg.run("createdb", &["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "postgres", "tamis"]);
        Some(pg)
    }

    /// The cluster's files.
    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// A database URL as `tamis.toml` names it.
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates another database.
    pub fn create_db(&self, name: &str) {
        self.run("createdb", &["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", name]);
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn start_server(&self) {
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, p(self.tmp.path()));
        let log = self.tmp.path().join("log");
        self.run("pg_ctl", &["-D", p(&self.data_dir()), "-l", p(&log), "-o", &opts, "-w", "start"]);
    }

    /// Turns TLS on with this certificate and key and refuses every
    /// connection over TCP without it (`hostnossl … reject`), then restarts.
    pub fn require_tls(&self, cert_pem: &str, key_pem: &str) {
        let data = self.data_dir();
        std::fs::write(data.join("server.crt"), cert_pem).unwrap();
        std::fs::write(data.join("server.key"), key_pem).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        if let Some(u) = &self.user {
            let (uid, gid) = ids_of(u).unwrap();
            for f in ["server.crt", "server.key"] {
                std::os::unix::fs::chown(data.join(f), Some(uid), Some(gid)).unwrap();
            }
        }
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text).unwrap();
        let hba = data.join("pg_hba.conf");
        let text = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(&hba, format!("hostnossl all all 0.0.0.0/0 reject\nhostnossl all all ::/0 reject\n{text}"))
            .unwrap();
        self.stop_server();
        self.start_server();
    }

    /// Stops the server at once, as a crash would.
    pub fn stop_server(&self) {
        self.run("pg_ctl", &["-D", p(&self.data_dir()), "-m", "immediate", "-w", "stop"]);
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).current_dir(self.tmp.path()).output().unwrap();
        let log = std::fs::read_to_string(self.tmp.path().join("log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}\n{log}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data_dir();
        let args = ["-D", p(&data), "-m", "immediate", "-w", "stop"];
        let _ = match &self.user {
            Some(u) => Command::new("runuser").args(["-u", u, "--"]).arg(&exe).args(args).output(),
            None => Command::new(&exe).args(args).output(),
        };
    }
}

fn p(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}
