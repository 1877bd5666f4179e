//! PostgreSQL for the store tests: scripts/test.sh starts a throwaway cluster on loopback and
//! passes its URL in `LOGWARD_TEST_PG_URL`; each test takes its own database
//! ([`TestDb::create`]), dropped when the test ends, so tests run in parallel without seeing
//! each other's rows. Databases are made and dropped with `psql` (argv only), so this crate
//! stays free of a PostgreSQL client. A test that restarts the server starts a cluster of its
//! own ([`Cluster`]).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::skip::skipped;

/// The environment variable naming the test cluster (a superuser URL).
pub const URL_VAR: &str = "LOGWARD_TEST_PG_URL";

/// The test cluster's URL, or `None` after [`skipped`] (a failure under `CI=true`).
pub fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            skipped(format_args!(
                "{URL_VAR} is not set (scripts/test.sh starts a PostgreSQL cluster and sets it)"
            ));
            None
        }
    }
}

/// A database of its own for one test, dropped (with its connections) on drop.
#[derive(Debug)]
pub struct TestDb {
    admin: String,
    name: String,
    url: String,
}

impl TestDb {
    /// Creates an empty database on the test cluster; `None` when there is none (skipped).
    pub fn create() -> Option<TestDb> {
        let admin = server_url()?;
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "logward_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // postgresql://user@host:port/DB: the same server and user, this database.
        let slash = admin
            .rfind('/')
            .filter(|&i| i > admin.find("://").map_or(0, |s| s + 2));
        let url = match slash {
            Some(i) => format!("{}/{name}", &admin[..i]),
            None => panic!("{URL_VAR} must end in /DATABASE: {admin}"),
        };
        psql(&admin, &format!("CREATE DATABASE {name}"));
        Some(TestDb { admin, name, url })
    }

    /// The database's URL (superuser, trust authentication on loopback).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one SQL command in this database through `psql`, returning what it printed
    /// (unaligned, tuples only); panics when it fails.
    pub fn sql(&self, command: &str) -> String {
        psql(&self.url, command)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.admin, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// `psql -d URL -c COMMAND`, tuples only; panics with its stderr when it fails.
fn psql(url: &str, command: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            command,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql (Debian's postgresql-client): {e}"));
    assert!(
        out.status.success(),
        "psql {command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A PostgreSQL cluster of one test's own, for a test that stops or restarts the server (the
/// shared cluster must never go down under other tests): `initdb` in a fresh folder under
/// the system's temp dir, `pg_ctl` on a free loopback port with trust authentication and
/// `fsync=off`, stopped (`-m immediate`) and removed on drop. Run as `nobody` when the test
/// runs as root (PostgreSQL refuses root), as scripts/test.sh's `start_postgres` does.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_nobody: bool,
}

impl Cluster {
    /// Initialises and starts a cluster; `None` after [`skipped`] (a failure under
    /// `CI=true`) when PostgreSQL's server binaries are not installed.
    pub fn start() -> Option<Cluster> {
        let Some(bin) = server_bin() else {
            skipped(
                "PostgreSQL's server binaries are not under /usr/lib/postgresql/*/bin \
                 (Debian's postgresql; scripts/test.sh installs it)",
            );
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "logward-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let as_nobody = is_root();
        let mut c = Cluster {
            bin,
            dir,
            port: 0,
            as_nobody,
        };
        if as_nobody {
            assert!(
                c.run("chown", &["nobody", c.path("").as_str()], false),
                "chown nobody {}",
                c.path("")
            );
        }
        let data = c.path("data");
        let init = c.path("initdb.log");
        c.run_logged(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            &init,
        );
        // A port free a moment ago may be taken by the time the server binds it: try again.
        for _ in 0..5 {
            c.port = crate::free_port();
            if c.pg_ctl(&["start"]) {
                return Some(c);
            }
        }
        panic!(
            "PostgreSQL did not start:\n{}",
            std::fs::read_to_string(c.path("server.log")).unwrap_or_default()
        );
    }

    /// A superuser URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs one SQL command through `psql`, returning what it printed (tuples only);
    /// panics when it fails.
    pub fn sql(&self, command: &str) -> String {
        psql(&self.url(), command)
    }

    /// `pg_ctl restart -m fast`: every session is terminated, the server is back on the
    /// same port when this returns.
    pub fn restart(&self) {
        assert!(
            self.pg_ctl(&["restart", "-m", "fast"]),
            "PostgreSQL did not restart:\n{}",
            std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
        );
    }

    /// `pg_ctl ARGS -o OPTIONS`, waiting for it; whether it succeeded.
    fn pg_ctl(&self, args: &[&str]) -> bool {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.path("")
        );
        let data = self.path("data");
        let log = self.path("server.log");
        let mut argv = vec!["-D", &data, "-l", &log, "-w", "-t", "30"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["-o", &opts]);
        self.run("pg_ctl", &argv, true)
    }

    /// `DIR/name` as text (`DIR` for "").
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// Runs `program` (from the server binaries when `server`, else from PATH) as the
    /// cluster's user in its folder; whether it succeeded.
    fn run(&self, program: &str, args: &[&str], server: bool) -> bool {
        self.command(program, args, server)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs a server binary as [`run`](Self::run), output to `log`; panics when it fails.
    fn run_logged(&self, program: &str, args: &[&str], log: &str) {
        let out = self
            .command(program, args, true)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let _ = std::fs::write(log, [&out.stdout[..], &out.stderr[..]].concat());
        assert!(
            out.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn command(&self, program: &str, args: &[&str], server: bool) -> Command {
        let program = if server {
            self.bin.join(program)
        } else {
            PathBuf::from(program)
        };
        let mut c = if self.as_nobody && server {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(program);
            c
        } else {
            Command::new(program)
        };
        // nobody may not enter the test's working directory.
        c.args(args).current_dir(&self.dir);
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `pg_ctl`.
fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Whether this process runs as root (effective uid 0).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    })
}
