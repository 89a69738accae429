//! The command line: what each subcommand and flag means (clap derives the help from these
//! comments), and the server flags turned into the server's settings.

use std::{net::IpAddr, net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::{
    lab::LabConfig,
    server::{
        CookieProtection, DEFAULT_MAX_SESSIONS, KeptIn, RunningServer, Secret, SecretSource,
        ServerConfig, StoreChoice, default_secret_path, kept_secret,
    },
};

/// Session Lab: see how HTTP sessions work.
///
/// An embedded session server (axum + tower-sessions, the twin of the classic express-session
/// example: GET / answers "Number of views N", counted per session) runs in the background,
/// and simulated browsers, each with its own cookie jar, visit it side by side.
#[derive(Debug, Parser)]
#[command(name = "session-lab", version)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Option<Mode>,
    #[command(flatten, next_help_heading = "The embedded server")]
    pub server: ServerArgs,
    #[command(flatten, next_help_heading = "The window")]
    pub window: WindowArgs,
}

#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Open the window (the default): the server, side-by-side browsers, cookies and sessions.
    Gui,
    /// Run only the session server, for real browsers, curl and benchmarks; Ctrl-C stops it.
    Serve {
        /// Do not print a line per request (and do not record requests): for benchmarks.
        #[arg(long)]
        quiet: bool,
        /// With --quiet, still record every request as the window's inspector does (to
        /// measure what recording costs).
        #[arg(long, requires = "quiet")]
        record: bool,
    },
    /// Headless: browsers A and B run the seed's scenario (A visits three times, B once) and
    /// a transcript and a table of browser, session id and views are printed.
    Demo {
        /// Run the scenario against this server instead (your Express, Django or axum app),
        /// e.g. http://localhost:8000/
        #[arg(long)]
        url: Option<String>,
        /// After the scenario, write each browser's cookies.txt, storageState.json and
        /// history.har into DIR/<browser>/ (for curl, Playwright and DevTools).
        #[arg(long, value_name = "DIR")]
        export: Option<std::path::PathBuf>,
        /// Watch your app's session store while the browsers visit, and print its sessions
        /// after the demo with the browser that holds each: redis://HOST:PORT, rediss://…,
        /// sqlite:PATH, postgres://USER@HOST/DB or dir:PATH (PHP's session files); add
        /// ?format=express|tower-sessions|django|php|flask (and &prefix=… for Redis) if it is
        /// not detected. Read-only.
        #[arg(long, value_name = "STORE")]
        watch: Option<String>,
        /// Print one JSON object (the transcript, the browsers, the watched store's sessions).
        #[arg(long)]
        json: bool,
    },
    /// Follow an application's session store in the terminal — sessions appearing, changing
    /// and leaving — until Ctrl-C. Read-only: the store is never written.
    Watch {
        /// The store: redis://HOST:PORT[/DB], rediss://…, sqlite:PATH, postgres://USER@HOST/DB
        /// or dir:PATH, optionally with ?format=express|tower-sessions|django|php|flask and
        /// &prefix=… (Redis).
        #[arg(value_name = "STORE")]
        address: String,
        /// Print the sessions once and exit.
        #[arg(long)]
        once: bool,
        /// Print JSON: with --once one object, else one object per line (JSON Lines).
        #[arg(long)]
        json: bool,
    },
    /// Headless load: many visits from many new browsers, timed (requests/s, p50, p99); with
    /// one browser it also counts the increments lost to concurrency.
    Load(LoadArgs),
    /// Audit a server's sessions with simulated browsers: cookie attributes, id strength,
    /// fixation, logout, exposure, expiry, lost updates — each finding with its evidence, why
    /// it matters and the fix. Exits with 2 when a finding at or above --fail-on is present.
    Audit(AuditArgs),
    /// Guided scenarios: list them, or check them headlessly (each one's reference solution
    /// must solve it, doing nothing must not, and with its fix applied the solution must fail).
    #[command(subcommand)]
    Scenario(ScenarioMode),
}

#[derive(Debug, Subcommand)]
pub enum ScenarioMode {
    /// List the built-in scenarios: level, id, title, WSTG tests, goal.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Play scenarios on fresh headless labs and check them; exits 1 when any check fails.
    Check {
        /// Built-in scenario ids or scenario files (.toml); none with --all.
        scenarios: Vec<String>,
        /// Every built-in scenario.
        #[arg(long, conflicts_with = "scenarios")]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The server to audit (default: an embedded server started for the run, with this
    /// command's server flags, --login and --logout set to its routes).
    #[arg(long)]
    pub url: Option<String>,
    /// A route that changes the session and shows a count (default: the URL itself).
    #[arg(long, value_name = "PATH")]
    pub counter: Option<String>,
    /// A route that logs in, {user} standing for the user: "/login?user={user}" or
    /// "POST /login user={user}&password=secret".
    #[arg(long, value_name = "ROUTE")]
    pub login: Option<crate::audit::Route>,
    /// A route that logs out: "/logout" or "POST /logout".
    #[arg(long, value_name = "ROUTE")]
    pub logout: Option<crate::audit::Route>,
    /// The session cookie's name (by default the audit finds it).
    #[arg(long, value_name = "NAME")]
    pub cookie: Option<String>,
    /// How many fresh session ids to collect for the strength tests (at least 100).
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// How many requests the lost-update burst sends at once.
    #[arg(long, default_value_t = 64)]
    pub burst: usize,
    /// Print the report as JSON (one object; findings with stable ids).
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print the report as Markdown.
    #[arg(long)]
    pub markdown: bool,
    /// Exit with 2 when a finding at or above this severity (info, low, medium, high) is found.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<crate::audit::Severity>,
    /// Show cookie values whole in the evidence (by default each shows as its start and
    /// length, `mBAU…(68 bytes)`, so a report can be shared without a live session in it).
    #[arg(long)]
    pub show_secrets: bool,
    /// Your app's session store (redis://…, sqlite:PATH, postgres://…, dir:PATH), read-only:
    /// the audit then proves from the store what it could only infer — that logout deleted
    /// the record, that login removed the old one, the record's lifetime against the
    /// cookie's, the records anonymous requests leave, what a session holds.
    #[arg(long, value_name = "STORE")]
    pub watch: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The server to load (default: an embedded server started for the run).
    #[arg(long)]
    pub url: Option<String>,
    /// How many visits in all.
    #[arg(long, default_value_t = 10_000)]
    pub visits: usize,
    /// How many browsers share them (each has its own cookie jar).
    #[arg(long, default_value_t = 1)]
    pub browsers: usize,
    /// How many visits are in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Browsers keep no cookies: every visit creates a new session.
    #[arg(long)]
    pub no_cookies: bool,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Port of the embedded server; if it is taken, a free port is used and the app says so.
    #[arg(long, default_value_t = 3000, global = true)]
    pub port: u16,
    /// Address the embedded server listens on.
    #[arg(long, default_value = "127.0.0.1", global = true)]
    pub bind: IpAddr,
    /// Secret that signs the session cookie (any length). Without it, a secret is made once and
    /// kept, owner-only, in the platform's data directory (session-lab/secret), and every
    /// Session Lab process of this user uses it. It is never printed.
    #[arg(
        long,
        env = "SESSION_LAB_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub secret: Option<String>,
    /// Where sessions are kept: memory (gone on restart); sqlite (a file in the platform's
    /// data directory) or sqlite:PATH; redis://[user:password@]HOST:PORT[/DB] or rediss://…
    /// (TLS). SQLite and Redis survive restarts and can be shared by several processes.
    #[arg(long, default_value = "memory", global = true, value_parser = StoreChoiceParser)]
    pub store: StoreChoice,
    /// How many server instances (1 to 4) to run on consecutive ports, sharing the store
    /// configuration (the window only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4), global = true)]
    pub instances: u8,
    /// Start the naive server: no per-session lock, so concurrent requests of one session lose
    /// updates, as with express-session (to see the race, or to measure the lock's cost).
    #[arg(long, global = true)]
    pub naive: bool,
    /// The most sessions the store keeps (a shared SQLite file or Redis: counted across every
    /// process that shares it): beyond it, new visitors get a clear 503 page (those with a
    /// session are served as usual), so no flood can grow the store without bound.
    #[arg(long, default_value_t = DEFAULT_MAX_SESSIONS, global = true)]
    pub max_sessions: usize,
    /// Milliseconds every store call waits, like a database across a network: the time between
    /// a request's load and its save becomes real, so `--naive --store-latency 5` loses updates
    /// to any concurrent client (0 to 100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100), global = true)]
    pub store_latency: u64,
    /// Keep each session's data in the cookie itself instead of the store, as Express's
    /// cookie-session and Flask do: the store stays empty, logout cannot revoke a copy of the
    /// cookie, and an older copy brings older data back.
    #[arg(long, global = true)]
    pub data_in_cookie: bool,
    /// How the cookie's value (the id, or the data with --data-in-cookie) is protected.
    #[arg(long, value_enum, default_value = "signed", global = true)]
    pub cookie_protection: ProtectionArg,
}

/// `--cookie-protection`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ProtectionArg {
    /// As it is: readable and forgeable.
    Plain,
    /// With an HMAC signature: readable, not forgeable.
    Signed,
    /// Encrypted and authenticated: neither readable nor forgeable.
    Private,
}

impl From<ProtectionArg> for CookieProtection {
    fn from(arg: ProtectionArg) -> Self {
        match arg {
            ProtectionArg::Plain => Self::Plain,
            ProtectionArg::Signed => Self::Signed,
            ProtectionArg::Private => Self::Private,
        }
    }
}

#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Scripted run for screenshots and smoke tests: the window plays a scene (by default
    /// browser A visits three times, B once), saves a PNG screenshot here and closes.
    #[arg(long, env = "SESSION_LAB_SCREENSHOT", value_name = "PNG")]
    pub screenshot: Option<PathBuf>,
    /// The scene `--screenshot` plays: the seed's lesson, or the lifecycle tour (login,
    /// hijack, tampering, timeline).
    #[arg(long, value_enum, default_value = "seed", requires = "screenshot")]
    pub scene: crate::scene::Scene,
    /// The window's size in logical pixels, e.g. 1280x720 (by default the size it had when
    /// last closed).
    #[arg(long, value_name = "WxH", value_parser = parse_window_size)]
    pub size: Option<[f32; 2]>,
    /// Start with the seed's lab (browsers A and B, default settings): the lab kept from last
    /// time is neither read nor overwritten.
    #[arg(long)]
    pub fresh: bool,
    /// Open the window on this guided scenario: a built-in id or a scenario file (.toml, the
    /// format of scenarios/README.md). The kept lab is neither read nor overwritten.
    #[arg(long, value_name = "ID|FILE", conflicts_with = "screenshot")]
    pub scenario: Option<String>,
    /// Open the window watching your app's session store (redis://…, sqlite:PATH,
    /// postgres://…, dir:PATH), read-only, as the sessions panel's Watch a store does.
    #[arg(long, value_name = "STORE")]
    pub watch: Option<String>,
}

/// Parses a window size such as `1280x720`.
fn parse_window_size(text: &str) -> Result<[f32; 2], String> {
    let (width, height) = text
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("'{text}' is not a size like 1280x720"))?;
    let side = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|&n| n >= 200)
            .map(f32::from)
            .ok_or_else(|| format!("'{s}' is not a side in pixels (200 to 65535)"))
    };
    Ok([side(width)?, side(height)?])
}

impl ServerArgs {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// The server's settings and secret: the one given (flag or environment), or the kept one.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let (secret, secret_source) = match &self.secret {
            Some(phrase) if !phrase.is_empty() => {
                let from_environment =
                    std::env::var("SESSION_LAB_SECRET").ok().as_ref() == Some(phrase);
                let source = if from_environment {
                    SecretSource::Environment
                } else {
                    SecretSource::Flag
                };
                (Secret::from_phrase(phrase), source)
            }
            _ => {
                let path = default_secret_path();
                let (secret, created) = kept_secret(&path)?;
                (secret, SecretSource::File { path, created })
            }
        };
        let mut config = ServerConfig {
            secret,
            secret_source,
            ..ServerConfig::default()
        };
        config.settings.lock_per_session = !self.naive;
        config.settings.max_sessions = self.max_sessions;
        config.settings.store_latency_ms = self.store_latency;
        config.settings.protection = self.cookie_protection.into();
        if self.data_in_cookie {
            config.settings.kept_in = KeptIn::Cookie;
        }
        Ok(config)
    }

    /// The embedded server these flags describe, started (on a free port if the one asked
    /// for is taken: [`RunningServer::fallback_from`] says so).
    pub async fn start(&self) -> anyhow::Result<RunningServer> {
        Ok(RunningServer::start_with(self.addr(), self.config()?, self.store.clone()).await?)
    }

    pub fn lab_config(&self) -> anyhow::Result<LabConfig> {
        Ok(LabConfig {
            bind: self.addr(),
            server: self.config()?,
            store: self.store.clone(),
            instances: usize::from(self.instances),
            ..LabConfig::default()
        })
    }
}

/// Parses `--store` from the command line, paths that are not UTF-8 included.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreChoiceParser;

impl clap::builder::TypedValueParser for StoreChoiceParser {
    type Value = StoreChoice;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _argument: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<StoreChoice, clap::Error> {
        StoreChoice::from_os_str(value).map_err(|unknown| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{unknown}\n"))
        })
    }
}
