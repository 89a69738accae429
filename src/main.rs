//! The `session-lab` binary: parses the command line and starts the window, the server alone,
//! or the headless demo.

use std::{net::IpAddr, net::SocketAddr, path::PathBuf};

use anyhow::Context as _;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use session_lab::{
    lab::{self, Lab, LabConfig, LabState},
    server::{
        DEFAULT_MAX_SESSIONS, RunningServer, Secret, SecretSource, ServerConfig, StoreChoice,
        default_secret_path, kept_secret,
    },
    ui,
};

/// Session Lab: see how HTTP sessions work.
///
/// An embedded session server (axum + tower-sessions, the twin of the classic express-session
/// example: GET / answers "Number of views N", counted per session) runs in the background,
/// and simulated browsers, each with its own cookie jar, visit it side by side.
#[derive(Debug, Parser)]
#[command(name = "session-lab", version)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten, next_help_heading = "The embedded server")]
    server: ServerArgs,
    #[command(flatten, next_help_heading = "The window")]
    window: WindowArgs,
}

#[derive(Debug, Subcommand)]
enum Mode {
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
enum ScenarioMode {
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
struct AuditArgs {
    /// The server to audit (default: an embedded server started for the run, with this
    /// command's server flags, --login and --logout set to its routes).
    #[arg(long)]
    url: Option<String>,
    /// A route that changes the session and shows a count (default: the URL itself).
    #[arg(long, value_name = "PATH")]
    counter: Option<String>,
    /// A route that logs in, {user} standing for the user: "/login?user={user}" or
    /// "POST /login user={user}&password=secret".
    #[arg(long, value_name = "ROUTE")]
    login: Option<session_lab::audit::Route>,
    /// A route that logs out: "/logout" or "POST /logout".
    #[arg(long, value_name = "ROUTE")]
    logout: Option<session_lab::audit::Route>,
    /// The session cookie's name (by default the audit finds it).
    #[arg(long, value_name = "NAME")]
    cookie: Option<String>,
    /// How many fresh session ids to collect for the strength tests (at least 100).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// How many requests the lost-update burst sends at once.
    #[arg(long, default_value_t = 64)]
    burst: usize,
    /// Print the report as JSON (one object; findings with stable ids).
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the report as Markdown.
    #[arg(long)]
    markdown: bool,
    /// Exit with 2 when a finding at or above this severity (info, low, medium, high) is found.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<session_lab::audit::Severity>,
    /// Show cookie values whole in the evidence (by default each shows as its start and
    /// length, `mBAU…(68 bytes)`, so a report can be shared without a live session in it).
    #[arg(long)]
    show_secrets: bool,
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// The server to load (default: an embedded server started for the run).
    #[arg(long)]
    url: Option<String>,
    /// How many visits in all.
    #[arg(long, default_value_t = 10_000)]
    visits: usize,
    /// How many browsers share them (each has its own cookie jar).
    #[arg(long, default_value_t = 1)]
    browsers: usize,
    /// How many visits are in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Browsers keep no cookies: every visit creates a new session.
    #[arg(long)]
    no_cookies: bool,
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Port of the embedded server; if it is taken, a free port is used and the app says so.
    #[arg(long, default_value_t = 3000, global = true)]
    port: u16,
    /// Address the embedded server listens on.
    #[arg(long, default_value = "127.0.0.1", global = true)]
    bind: IpAddr,
    /// Secret that signs the session cookie (any length). Without it, a secret is made once and
    /// kept, owner-only, in the platform's data directory (session-lab/secret), and every
    /// Session Lab process of this user uses it. It is never printed.
    #[arg(
        long,
        env = "SESSION_LAB_SECRET",
        hide_env_values = true,
        global = true
    )]
    secret: Option<String>,
    /// Where sessions are kept: memory (gone on restart); sqlite (a file in the platform's
    /// data directory) or sqlite:PATH; redis://[user:password@]HOST:PORT[/DB] or rediss://…
    /// (TLS). SQLite and Redis survive restarts and can be shared by several processes.
    #[arg(long, default_value = "memory", global = true, value_parser = StoreChoiceParser)]
    store: StoreChoice,
    /// How many server instances (1 to 4) to run on consecutive ports, sharing the store
    /// configuration (the window only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4), global = true)]
    instances: u8,
    /// Start the naive server: no per-session lock, so concurrent requests of one session lose
    /// updates, as with express-session (to see the race, or to measure the lock's cost).
    #[arg(long, global = true)]
    naive: bool,
    /// The most sessions the store keeps (a shared SQLite file or Redis: counted across every
    /// process that shares it): beyond it, new visitors get a clear 503 page (those with a
    /// session are served as usual), so no flood can grow the store without bound.
    #[arg(long, default_value_t = DEFAULT_MAX_SESSIONS, global = true)]
    max_sessions: usize,
    /// Milliseconds every store call waits, like a database across a network: the time between
    /// a request's load and its save becomes real, so `--naive --store-latency 5` loses updates
    /// to any concurrent client (0 to 100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100), global = true)]
    store_latency: u64,
}

#[derive(Debug, Args)]
struct WindowArgs {
    /// Scripted run for screenshots and smoke tests: the window plays a scene (by default
    /// browser A visits three times, B once), saves a PNG screenshot here and closes.
    #[arg(long, env = "SESSION_LAB_SCREENSHOT", value_name = "PNG")]
    screenshot: Option<PathBuf>,
    /// The scene `--screenshot` plays: the seed's lesson, or the lifecycle tour (login,
    /// hijack, tampering, timeline).
    #[arg(long, value_enum, default_value = "seed", requires = "screenshot")]
    scene: ui::Scene,
    /// The window's size in logical pixels, e.g. 1280x720 (by default the size it had when
    /// last closed).
    #[arg(long, value_name = "WxH", value_parser = parse_window_size)]
    size: Option<[f32; 2]>,
    /// Start with the seed's lab (browsers A and B, default settings): the lab kept from last
    /// time is neither read nor overwritten.
    #[arg(long)]
    fresh: bool,
    /// Open the window on this guided scenario: a built-in id or a scenario file (.toml, the
    /// format of scenarios/README.md). The kept lab is neither read nor overwritten.
    #[arg(long, value_name = "ID|FILE", conflicts_with = "screenshot")]
    scenario: Option<String>,
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
    fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// The server's settings and secret: the one given (flag or environment), or the kept one.
    fn config(&self) -> anyhow::Result<ServerConfig> {
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
        Ok(config)
    }

    fn lab_config(&self) -> anyhow::Result<LabConfig> {
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
        StoreChoice::from_os_str(value).map_err(|message| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, message + "\n")
        })
    }
}

/// mimalloc: the server allocates small, short-lived buffers on every request, and this
/// allocator serves them markedly faster than glibc's (measured in bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Which server flags were typed (a kept lab's settings give way to them).
    let typed = |id: &str| {
        let from = |m: &clap::ArgMatches| {
            m.try_get_raw(id).ok().flatten().is_some()
                && m.value_source(id)
                    .is_some_and(|s| s != clap::parser::ValueSource::DefaultValue)
        };
        from(&matches) || matches.subcommand().is_some_and(|(_, sub)| from(sub))
    };
    let given = session_lab::lab::saved::GivenFlags {
        store: typed("store"),
        naive: typed("naive"),
        max_sessions: typed("max_sessions"),
        store_latency: typed("store_latency"),
    };
    // An audit (and a scenario's attack) replays dead and made-up cookies on purpose: the
    // embedded server's warnings about them would only clutter the report.
    let default_filter = if matches!(cli.mode, Some(Mode::Audit(_) | Mode::Scenario(_))) {
        "error"
    } else {
        "warn,session_lab=info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.mode.unwrap_or(Mode::Gui) {
        Mode::Gui => ui::run(
            cli.server.lab_config()?,
            ui::WindowOptions {
                size: cli.window.size,
                screenshot: cli.window.screenshot.map(|path| (path, cli.window.scene)),
                fresh: cli.window.fresh,
                given,
                scenario: cli
                    .window
                    .scenario
                    .as_deref()
                    .map(session_lab::scenario::Scenario::find)
                    .transpose()?,
            },
        ),
        Mode::Serve { quiet, record } => serve(&cli.server, quiet, record),
        Mode::Load(load) => load_mode(&cli.server, &load),
        Mode::Audit(audit) => audit_mode(&cli.server, &audit),
        Mode::Demo { url, export } => demo(&cli.server, url, export.as_deref()),
        Mode::Scenario(mode) => scenario_mode(mode),
    }
}

fn scenario_mode(mode: ScenarioMode) -> anyhow::Result<()> {
    use session_lab::scenario::{Scenario, report};
    match mode {
        ScenarioMode::List { json } => {
            let all = Scenario::built_in();
            if json {
                println!("{}", report::list_json(&all));
            } else {
                print!("{}", report::list_text(&all));
            }
            Ok(())
        }
        ScenarioMode::Check {
            scenarios,
            all,
            json,
        } => {
            let chosen = if all || scenarios.is_empty() {
                Scenario::built_in()
            } else {
                scenarios
                    .iter()
                    .map(|s| Scenario::find(s))
                    .collect::<Result<_, _>>()?
            };
            let reports = report::check_all(&chosen, |r| {
                if !json {
                    println!("{}", report::check_line(r));
                }
            });
            if json {
                println!("{}", report::check_json(&reports));
            }
            let failed = reports.iter().filter(|r| !r.passed()).count();
            anyhow::ensure!(
                failed == 0,
                "{failed} of {} scenarios failed their check",
                reports.len()
            );
            Ok(())
        }
    }
}

fn serve(args: &ServerArgs, quiet: bool, record: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the tokio runtime")?;
    runtime.block_on(async {
        let mut server =
            RunningServer::start_with(args.addr(), args.config()?, args.store.clone()).await?;
        // Listen before saying where: a request right after the first line is printed too.
        let served = server.inspector().served();
        // Ctrl-C is listened for from here to the end: a press while a line is being printed
        // is not lost (a new `ctrl_c()` each loop turn would miss it).
        let stop = ctrl_c_from_now().context("could not listen for Ctrl-C")?;
        if let Some(wanted) = server.fallback_from() {
            println!("{wanted} is taken; using a free port instead.");
        }
        let config = server.inspector().config();
        println!(
            "Session Lab server listening on {} ({} store, {} cookie “{}”)",
            server.url(),
            server.inspector().store_kind(),
            config.settings.protection.as_str(),
            config.settings.cookie_name,
        );
        println!(
            "Secret {}: {}",
            config.secret.fingerprint(),
            lab::text::secret_source_text(&config.secret_source)
        );
        if server.inspector().store_is_shared() && !config.secret_source.is_explicit() {
            println!(
                "Servers on other machines sharing this store need the same secret: give them \
                 all one --secret (or SESSION_LAB_SECRET)."
            );
        }
        println!(
            "Open it in a browser or: curl -c jar -b jar {}   (Ctrl-C stops)",
            server.url()
        );
        if quiet {
            server.inspector().set_tracing(record);
            stop.await;
        } else {
            print_requests(served, stop).await;
        }
        println!("Stopping: finishing requests in flight…");
        tokio::time::timeout(std::time::Duration::from_secs(5), server.stop())
            .await
            .context("requests in flight did not finish within 5 s")?
            .context("server stopped with an error")?;
        println!("Stopped.");
        anyhow::Ok(())
    })
}

fn demo(
    args: &ServerArgs,
    url: Option<String>,
    export: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut config = args.lab_config()?;
    if url.is_some() {
        // The embedded server is not the subject; keep it off the usual port.
        config.bind.set_port(0);
    }
    let lab = Lab::start(config)?;
    let mut state = LabState::default();
    lab.pump(&mut state);
    let url = match url {
        Some(url) => session_lab::browser::parse_http_url(&url)?.to_string(),
        None => {
            if let Some(error) = &state.server_error {
                anyhow::bail!("the session server could not start: {error}");
            }
            lab.server_url()
                .context("the session server is not running")?
        }
    };
    println!("Session Lab demo against {url}: browser A visits three times, browser B once.\n");
    let report = lab::demo::run(&lab, &mut state, &url)?;
    print!("{report}");
    if let Some(dir) = export {
        let folders = lab::export::write_all(&state, dir)
            .with_context(|| format!("could not write the exports to {}", dir.display()))?;
        println!();
        for folder in folders {
            println!(
                "Exported {}: {}, {}, {}",
                folder.display(),
                session_lab::transfer::COOKIES_TXT,
                session_lab::transfer::STORAGE_STATE_JSON,
                session_lab::transfer::HISTORY_HAR
            );
        }
    }
    Ok(())
}

fn audit_mode(args: &ServerArgs, audit: &AuditArgs) -> anyhow::Result<()> {
    use session_lab::audit;
    let runtime = tokio::runtime::Runtime::new().context("could not start the tokio runtime")?;
    let report = runtime.block_on(async {
        let mut embedded = None;
        let mut options = match &audit.url {
            Some(url) => audit::AuditOptions::new(url),
            None => {
                let server =
                    RunningServer::start_with(args.addr(), args.config()?, args.store.clone())
                        .await?;
                let mut options = audit::AuditOptions::new(&server.url());
                options.login = Some("/login?user={user}".parse().map_err(anyhow::Error::msg)?);
                options.logout = Some("/logout".parse().map_err(anyhow::Error::msg)?);
                embedded = Some(server);
                options
            }
        };
        options.counter.clone_from(&audit.counter);
        if audit.login.is_some() {
            options.login.clone_from(&audit.login);
        }
        if audit.logout.is_some() {
            options.logout.clone_from(&audit.logout);
        }
        options.cookie.clone_from(&audit.cookie);
        options.samples = audit.samples;
        options.burst = audit.burst;
        options.show_secrets = audit.show_secrets;
        eprintln!("Auditing {} …", options.url);
        // Progress on a terminal only, rewritten in place; a log file gets none.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let shown = std::sync::Mutex::new(String::new());
        let report = audit::run(options, |progress| {
            if !terminal {
                return;
            }
            let line = if progress.total > 1 {
                format!("{} {}/{}", progress.stage, progress.done, progress.total)
            } else {
                progress.stage.to_owned()
            };
            let mut shown = shown.lock().unwrap_or_else(|e| e.into_inner());
            if *shown != line {
                eprint!("\r\x1b[2K  {line}");
                *shown = line;
            }
        })
        .await;
        if terminal {
            eprint!("\r\x1b[2K");
        }
        drop(embedded);
        report.map_err(anyhow::Error::from)
    })?;
    if audit.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if audit.markdown {
        print!("{}", audit::markdown(&report));
    } else {
        print!("{}", audit::text(&report));
    }
    if let Some(threshold) = audit.fail_on {
        let failing = report.at_least(threshold);
        if failing > 0 {
            eprintln!("{failing} finding(s) at or above {threshold}");
            std::process::exit(2);
        }
    }
    Ok(())
}

fn load_mode(args: &ServerArgs, load: &LoadArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the tokio runtime")?;
    runtime.block_on(async {
        let mut embedded = None;
        let url = match &load.url {
            Some(url) => session_lab::browser::parse_http_url(url)?.to_string(),
            None => {
                let server =
                    RunningServer::start_with(args.addr(), args.config()?, args.store.clone())
                        .await?;
                server.inspector().set_tracing(false);
                let url = server.url();
                embedded = Some(server);
                url
            }
        };
        let plan = lab::load::LoadPlan {
            url: url.clone(),
            visits: load.visits,
            browsers: load.browsers,
            concurrency: load.concurrency,
            cookies: !load.no_cookies,
            lab: None,
        };
        let browsers = lab::load::browsers(&plan)?;
        // One browser with cookies: every visit lands on one session, so the views count
        // tells how many increments survived.
        let counting = plan.cookies && browsers.len() == 1;
        let before = if counting {
            views_of(&browsers[0], &url).await?
        } else {
            None
        };
        println!(
            "Loading {url}: {} visits from {} browser(s), {} at a time{}",
            plan.visits,
            browsers.len(),
            plan.concurrency,
            if plan.cookies { "" } else { ", cookies off" }
        );
        let report = lab::load::run_with(&plan, &browsers, |_| {}).await?;
        println!("{}", report.summary());
        if let Some(before) = before {
            let after = views_of(&browsers[0], &url).await?.unwrap_or(0);
            let expected = before + report.visits as u64 + 1;
            println!(
                "views {before} → {after} (expected {expected}): lost updates {}",
                expected.saturating_sub(after)
            );
        }
        drop(embedded);
        anyhow::Ok(())
    })
}

/// The views count a visit to `url` shows ("Number of views N"), if it is the counter page.
async fn views_of(
    browser: &session_lab::browser::Browser,
    url: &str,
) -> anyhow::Result<Option<u64>> {
    let hops = browser
        .visit(url, session_lab::browser::VisitOptions::default())
        .await?;
    Ok(hops
        .last()
        .and_then(|e| e.body.strip_prefix("Number of views "))
        .and_then(|n| n.trim().parse().ok()))
}

/// Ctrl-C, listened for from the moment this is called (not from the first poll), so a press
/// that comes before or between awaits still ends the wait.
fn ctrl_c_from_now() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    #[cfg(windows)]
    let mut signal = tokio::signal::windows::ctrl_c()?;
    Ok(async move {
        signal.recv().await;
    })
}

/// Prints a line per request until `stop`.
async fn print_requests(
    mut served: tokio::sync::broadcast::Receiver<std::sync::Arc<session_lab::server::Served>>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            record = served.recv() => match record {
                Ok(record) => println!("{}", lab::served_line(&record)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    println!("… {n} requests not shown");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}
