//! Helpers shared by the integration tests: a lab on a free port, raw HTTP, waiting.

#![allow(dead_code)] // Each test binary uses a different subset.

pub mod apps;
pub mod axum_app;
pub mod canned;
pub mod json_schema;
pub mod kinds;
pub mod weak;

use std::time::Duration;

use session_lab::lab::{RequestCommand, ServerCommand};
use session_lab::{
    lab::{
        BrowserId, BurstOutcome, ClockMove, Command, Lab, LabConfig, LabState, LogEntry, LogSource,
        Logged,
    },
    server::{Secret, ServerConfig, SessionId, StoreChoice},
};

/// How long any one wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// A lab whose server listens on a free port, with a fixed secret.
pub fn lab() -> (Lab, LabState) {
    lab_on(
        StoreChoice::default(),
        ServerConfig::with_secret(Secret::from_phrase("test secret")),
    )
}

/// A lab on `store` with `config`, its server on a free port and browsers A and B up.
pub fn lab_on(store: StoreChoice, config: ServerConfig) -> (Lab, LabState) {
    let lab = Lab::start(LabConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        server: config,
        browsers: 2,
        store,
        instances: 1,
    })
    .expect("lab starts");
    let mut state = LabState::default();
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.server.is_some()
            && s.browsers.len() == 2),
        "the server and browsers A and B come up: {:?}",
        state.server_error
    );
    (lab, state)
}

/// The id of the browser with this name.
pub fn id(state: &LabState, name: &str) -> BrowserId {
    state.browser_named(name).expect("browser exists").id
}

/// Visits the server from browser `name` and waits for the answer; returns the body.
pub fn visit(lab: &Lab, state: &mut LabState, name: &str) -> String {
    let url = lab.server_url().expect("server runs");
    visit_url(lab, state, name, &url)
}

/// Visits `url` from browser `name` and waits for the answer (or the error); returns the body.
pub fn visit_url(lab: &Lab, state: &mut LabState, name: &str, url: &str) -> String {
    let id = id(state, name);
    browse(
        lab,
        state,
        name,
        RequestCommand::Visit {
            browser: id,
            url: url.to_owned(),
        }
        .into(),
    )
}

/// Sends a command that makes browser `name` browse (a visit, a form, a lure) and waits until
/// every request it led to is answered (or failed); returns the body of the last page.
pub fn browse(lab: &Lab, state: &mut LabState, name: &str, command: Command) -> String {
    let id = id(state, name);
    let lines_before = state.logged;
    lab.send(command);
    // A finished or failed visit writes a line for the browser.
    assert!(
        lab.wait_until(state, WAIT, |s| {
            s.browser(id).unwrap().in_flight == 0
                && s.log_since(lines_before)
                    .any(|l| matches!(&l.source, LogSource::Browser { id: b, .. } if *b == id))
        }),
        "the visit finishes"
    );
    let browser = state.browser(id).unwrap();
    if let Some(error) = &browser.last_error {
        return format!("error: {error}");
    }
    browser.last.as_ref().unwrap().body.clone()
}

/// The session id browser `name`'s jar carries for the embedded server.
pub fn session_of(state: &LabState, name: &str) -> Option<SessionId> {
    state.browser_named(name)?.session()
}

/// Waits until the lab's view of the store holds exactly these session ids.
pub fn wait_for_sessions(lab: &Lab, state: &mut LabState, ids: &[SessionId]) -> bool {
    lab.wait_until(state, WAIT, |s| {
        s.sessions.len() == ids.len() && ids.iter().all(|id| s.sessions.contains(*id))
    })
}

/// The views count the lab's view of the store has for `session`.
pub fn stored_views(state: &LabState, session: SessionId) -> Option<u64> {
    state.session_data(session)?.views()
}

/// The newest log line about browser `name`, if any.
pub fn last_line_of<'a>(state: &'a LabState, name: &str) -> Option<&'a LogEntry> {
    state
        .log
        .iter()
        .rev()
        .find(|l| matches!(&l.source, LogSource::Browser { name: n, .. } if n == name))
}

/// A raw HTTP/1.1 response: status code, headers, body.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `name=value` part of the Set-Cookie header, if any.
    pub fn set_cookie_pair(&self) -> Option<String> {
        self.header("set-cookie")
            .map(|v| v.split(';').next().unwrap_or("").to_owned())
    }
}

/// Sends raw bytes as a request (so headers can be malformed on purpose) and reads the answer.
pub async fn raw_get(addr: std::net::SocketAddr, path: &str, extra_headers: &[u8]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").into_bytes();
    request.extend_from_slice(extra_headers);
    request.extend_from_slice(b"\r\n");
    stream.write_all(&request).await.expect("writes");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("answers in time")
        .expect("reads");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Sends a burst of `count` parallel visits from browser `name` to the server and returns
/// what it did to the counter.
pub fn burst(lab: &Lab, state: &mut LabState, name: &str, count: usize) -> BurstOutcome {
    let browser = id(state, name);
    let before = state.browser(browser).unwrap().last_burst.clone();
    lab.send(RequestCommand::Burst {
        browser,
        url: lab.server_url().expect("server runs"),
        count,
    });
    assert!(
        lab.wait_until(state, WAIT, |s| s.browser(browser).unwrap().last_burst
            != before),
        "the burst is summed up"
    );
    state.browser(browser).unwrap().last_burst.clone().unwrap()
}

/// A redis-server of the test's own on a free port, stopped when dropped; `None` (with a
/// message saying how to run the Redis suite) where redis-server is not installed.
pub struct RedisServer {
    child: Option<std::process::Child>,
    port: u16,
    /// Where it keeps an append-only file (every write synced), when it keeps one: then what
    /// it held survives a kill and a new start.
    dir: Option<std::path::PathBuf>,
}

impl RedisServer {
    pub fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut server = Self {
            child: None,
            port,
            dir: None,
        };
        if !server.spawn() {
            // In CI a missing redis-server is a failure, never a silent pass.
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but redis-server could not be started: the Redis store suite must run \
                 in CI (.ci/run installs redis-server)"
            );
            // Straight to the terminal, past the test harness's output capture, once.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "NOTE: the Redis store suite was not run: redis-server is not installed. \
                     Install it (apt-get install redis-server) and run cargo test again; \
                     .ci/run does."
                );
            });
            return None;
        }
        Some(server)
    }

    /// A Redis server that keeps what it holds across a kill: an append-only file in `dir`,
    /// synced at every write.
    pub fn start_keeping(dir: &std::path::Path) -> Option<Self> {
        let mut server = Self::start()?;
        server.stop();
        server.dir = Some(dir.to_path_buf());
        server.spawn().then_some(server)
    }

    pub fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let mut args = vec!["--port", &port, "--bind", "127.0.0.1", "--save", ""];
        let dir = self.dir.as_ref().map(|d| d.display().to_string());
        match &dir {
            Some(dir) => args.extend([
                "--dir",
                dir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]),
            None => args.extend(["--appendonly", "no"]),
        }
        let child = std::process::Command::new("redis-server")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            return false;
        };
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        true
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Moves the lab's clock ahead by `by`, as the "+1 h" buttons do, and waits until the lab has
/// said so (the server's sweep and the jars follow by themselves).
pub fn time_passes(lab: &Lab, state: &mut LabState, by: time::Duration) {
    let lines = state.logged;
    lab.send(ServerCommand::MoveClock(ClockMove::Ahead(by)));
    assert!(
        lab.wait_until(state, WAIT, |s| s
            .log_since(lines)
            .any(|l| matches!(l.what, Logged::Clock(_)))),
        "the clock moves"
    );
}

/// Whether `curl` runs here; under `CI` its absence fails the test (`.ci/run` installs it).
pub fn have_curl() -> bool {
    let found = std::process::Command::new("curl")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but curl is missing (.ci/run installs it)"
        );
        eprintln!("NOTE: curl is not installed; the curl round trip was not run");
    }
    found
}

/// A fresh folder of the test's own under the system's temporary directory.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "session-lab-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Applies changed settings to the embedded server, waits until the log says so, and returns
/// the log's record of what changed.
pub fn apply(
    lab: &Lab,
    state: &mut LabState,
    change: impl FnOnce(&mut session_lab::server::ServerSettings),
) -> Logged {
    let mut settings = state.server.as_ref().unwrap().settings.clone();
    change(&mut settings);
    let lines = state.logged;
    lab.send(ServerCommand::ApplySettings(settings));
    assert!(
        lab.wait_until(state, WAIT, |s| s
            .log_since(lines)
            .any(|l| matches!(l.what, Logged::SettingsApplied { .. }))),
        "the settings are applied"
    );
    state.log.back().unwrap().what.clone()
}
