//! Real applications of other frameworks (tests/apps/), each on its own store, started for a
//! test and stopped when dropped; and a throwaway PostgreSQL cluster.

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// How long an app may take to install (a cold npm or pip install) and start.
const START_TIMEOUT: Duration = Duration::from_secs(300);

fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

/// A tool the test needs is missing: a failure under CI, a loud skip elsewhere.
pub fn missing(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {what} (.ci/run installs it)"
    );
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "NOTE: skipped: {what}; install it and run cargo test again (.ci/run does)"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One running app.
pub struct App {
    child: Child,
    /// Its address, `http://127.0.0.1:PORT/`.
    pub url: String,
}

impl App {
    /// Starts `tests/apps/run.sh NAME` with `env`; `None` (after [`missing`]) when a tool it
    /// needs is not installed.
    pub fn start(name: &str, env: &[(&str, String)]) -> Option<Self> {
        let port = free_port();
        let mut command = Command::new("bash");
        command
            .arg(apps_dir().join("run.sh"))
            .arg(name)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("bash runs");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel::<Result<(), String>>();
        let said = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening on http://127.0.0.1:") {
                    let _ = said.send(Ok(()));
                }
            }
        });
        let errors = std::sync::Arc::new(parking_lot::Mutex::new(String::new()));
        let kept = errors.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut kept = kept.lock();
                if kept.len() < 8192 {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
        });
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Ok(())) = rx.recv_timeout(Duration::from_millis(100)) {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                let said = errors.lock().clone();
                if status.code() == Some(3) {
                    missing(said.trim());
                    return None;
                }
                panic!("{name} did not start ({status}):\n{said}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} did not say it listens within {START_TIMEOUT:?}:\n{}",
                errors.lock()
            );
        }
        Some(Self {
            child,
            url: format!("http://127.0.0.1:{port}/"),
        })
    }

    /// The app's address of `path` (no leading slash).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway PostgreSQL cluster (tests/apps/postgres.sh), stopped when dropped.
pub struct Postgres {
    dir: PathBuf,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
}

impl Postgres {
    /// Starts one; `None` (after [`missing`]) where PostgreSQL is not installed.
    pub fn start() -> Option<Self> {
        let dir = super::temp_dir("postgres");
        let out = Command::new("bash")
            .arg(apps_dir().join("postgres.sh"))
            .arg("start")
            .arg(&dir)
            .arg(free_port().to_string())
            .output()
            .expect("bash runs");
        if out.status.code() == Some(3) {
            missing("PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        }
        assert!(
            out.status.success(),
            "postgres.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Some(Self { dir, url })
    }

    /// Runs `sql` with psql; its output (unaligned, tuples only).
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args([&self.url, "-X", "-A", "-t", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(apps_dir().join("postgres.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// `redis-cli -p PORT -x SET key` with `value` on its standard input (a value too long for a
/// command line).
pub fn redis_set_long(port: u16, key: &str, value: &[u8]) {
    use std::io::Write as _;
    let mut child = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(["-x", "SET", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-cli runs");
    child.stdin.take().unwrap().write_all(value).unwrap();
    assert!(child.wait().unwrap().success());
}

/// `redis-cli -p PORT ARGS…`'s output.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
