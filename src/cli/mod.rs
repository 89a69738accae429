//! The subcommands, one function each: `main` parses the command line and calls one of them.
//!
//! A subcommand runs on the lab's tokio runtime (the window, `demo`; `scenario check` makes a
//! lab, and so a runtime, per scenario) or on the one [`runtime`] makes (`serve`, `audit`,
//! `load`).

mod args;
pub mod watch;

use session_lab_base::words::{json_visible, visible};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, FromArgMatches as _};

pub use args::{AuditArgs, Cli, LoadArgs, Mode, ScenarioMode, ServerArgs, WindowArgs};

use crate::lab::{self, Lab, LabState, saved::GivenFlags};

/// The command line, and which server flags were typed (a kept lab's settings give way to
/// them); a mistake in it ends the process with clap's message.
pub fn parse() -> (Cli, GivenFlags) {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let typed = |id: &str| {
        let from = |m: &clap::ArgMatches| {
            m.try_get_raw(id).ok().flatten().is_some()
                && m.value_source(id)
                    .is_some_and(|s| s != clap::parser::ValueSource::DefaultValue)
        };
        from(&matches) || matches.subcommand().is_some_and(|(_, sub)| from(sub))
    };
    let given = GivenFlags {
        store: typed("store"),
        naive: typed("naive"),
        max_sessions: typed("max_sessions"),
        store_latency: typed("store_latency"),
    };
    (cli, given)
}

/// Log lines to stderr, `RUST_LOG` (a list of `target=level`, e.g. `warn,session_lab=debug`)
/// overriding the default: an audit (and a scenario's attack) replays dead and made-up cookies
/// on purpose, so there only errors are shown. A `RUST_LOG` that does not parse is said, not
/// silently dropped.
pub fn init_tracing(mode: Option<&Mode>) {
    use tracing_subscriber::{filter::Targets, prelude::*};
    let default_filter = if matches!(mode, Some(Mode::Audit(_) | Mode::Scenario(_))) {
        "error"
    } else {
        // fred's own warnings repeat what the lab reports about a Redis in its own words.
        "warn,session_lab=info,fred=error"
    };
    let default: Targets = default_filter.parse().expect("the default filter parses");
    let (filter, unreadable) = match std::env::var("RUST_LOG") {
        Ok(given) if !given.trim().is_empty() => match given.parse::<Targets>() {
            Ok(filter) => (filter, None),
            Err(err) => (default, Some((given, err))),
        },
        _ => (default, None),
    };
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
    if let Some((given, err)) = unreadable {
        tracing::warn!(
            "RUST_LOG={given:?} is not a list of target=level ({err}); using {default_filter:?}"
        );
    }
}

/// A command whose output is piped into one that stops reading early (`| head`) ends there,
/// as other command-line tools do, instead of panicking on the next `println!`. Only for the
/// commands that print and end: the server's sockets keep their own handling.
pub fn stop_quietly_at_a_closed_pipe() {
    // SAFETY: setting a signal's disposition to the default at the start of a command, before
    // any thread writes to the pipe; SIG_DFL is a valid handler for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The window (the default subcommand).
#[cfg(feature = "window")]
pub fn gui(server: &ServerArgs, window: WindowArgs, given: GivenFlags) -> anyhow::Result<()> {
    use crate::ui;
    ui::run(
        server.lab_config()?,
        ui::WindowOptions {
            size: window.size,
            screenshot: window.screenshot.map(|path| (path, window.scene)),
            fresh: window.fresh,
            given,
            scenario: window
                .scenario
                .as_deref()
                .map(crate::scenario::Scenario::find)
                .transpose()?,
            watch: match window.watch {
                Some(store) => {
                    crate::watch::StoreAddress::parse(&store)?;
                    Some(store)
                }
                None => None,
            },
        },
    )
}

/// The window, in a build without it: says so, and what this build can do instead.
#[cfg(not(feature = "window"))]
pub fn gui(_server: &ServerArgs, _window: WindowArgs, _given: GivenFlags) -> anyhow::Result<()> {
    anyhow::bail!(
        "this session-lab was built without its window (the `window` feature); it can still \
         `serve`, `demo`, `load`, `audit` and check a `scenario` (see --help)"
    )
}

/// The runtime of a subcommand that has no lab.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("could not start the tokio runtime")
}

/// `scenario list` and `scenario check`.
pub fn scenario(mode: ScenarioMode) -> anyhow::Result<()> {
    use crate::scenario::{Scenario, report};
    match mode {
        ScenarioMode::List { json } => {
            let all = Scenario::built_in();
            if json {
                println!("{}", json_visible(&report::list_json(&all)));
            } else {
                print!("{}", visible(&report::list_text(&all)));
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
                    println!("{}", visible(&report::check_line(r)));
                }
            });
            if json {
                println!("{}", json_visible(&report::check_json(&reports)));
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

/// `serve`: the server alone, a line per request unless `quiet`, until Ctrl-C.
pub fn serve(args: &ServerArgs, quiet: bool, record: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let mut server = args.start().await?;
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

/// What `demo` was asked for.
#[derive(Debug, Default)]
pub struct DemoOptions {
    /// Another server to visit instead of the embedded one.
    pub url: Option<String>,
    /// Where to write each browser's exports.
    pub export: Option<std::path::PathBuf>,
    /// A store to watch while the browsers visit.
    pub watch: Option<String>,
    /// One JSON object instead of text.
    pub json: bool,
}

/// `demo`: browsers A and B play the seed's scenario, headless, and the transcript is printed
/// (with the watched store's sessions and their holders, with `--watch`).
pub fn demo(args: &ServerArgs, options: DemoOptions) -> anyhow::Result<()> {
    let DemoOptions {
        url,
        export,
        watch: store,
        json: json_out,
    } = options;
    let export = export.as_deref();
    let mut config = args.lab_config()?;
    if url.is_some() {
        // The embedded server is not the subject; keep it off the usual port.
        config.bind.set_port(0);
    }
    let lab = Lab::start(config)?;
    let mut state = LabState::default();
    lab.pump(&mut state);
    let url = match url {
        Some(url) => crate::browser::parse_http_url(&url)?.to_string(),
        None => {
            if let Some(error) = &state.server_error {
                anyhow::bail!("the session server could not start: {error}");
            }
            lab.server_url()
                .context("the session server is not running")?
        }
    };
    if let Some(store) = &store {
        watch::start_in_lab(&lab, &mut state, store)?;
    }
    if !json_out {
        println!(
            "Session Lab demo against {}: browser A visits three times, browser B once.\n",
            visible(&url)
        );
    }
    let report = lab::demo::run(&lab, &mut state, &url)?;
    if store.is_some() {
        watch::settle(&lab, &mut state, std::time::Duration::from_secs(5));
    }
    if json_out {
        let browsers: Vec<serde_json::Value> = report
            .rows
            .iter()
            .map(|row| {
                serde_json::json!({
                    "browser": row.browser,
                    "session": row.session,
                    "views": row.views,
                })
            })
            .collect();
        let object = serde_json::json!({
            "url": url,
            "transcript": report.transcript,
            "browsers": browsers,
            "watched": state.watched.as_ref().map(|w| watch::watched_json(w, &state)),
        });
        println!("{}", json_visible(&serde_json::to_string_pretty(&object)?));
    } else {
        print!("{}", visible(&report.to_string()));
        if let Some(watched) = &state.watched {
            println!();
            print!("{}", watch::watched_text(watched));
        }
    }
    if let Some(dir) = export {
        let folders = lab::export::write_all(&state, dir)
            .with_context(|| format!("could not write the exports to {}", dir.display()))?;
        if !json_out {
            println!();
        }
        for folder in folders {
            // With --json, stdout is the JSON object alone.
            let line = format!(
                "Exported {}: {}, {}, {}",
                folder.display(),
                crate::transfer::COOKIES_TXT,
                crate::transfer::STORAGE_STATE_JSON,
                crate::transfer::HISTORY_HAR
            );
            if json_out {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// `audit`: the report, printed; [`ExitCode`] 2 when a finding reaches `--fail-on`.
pub fn audit(args: &ServerArgs, audit: &AuditArgs) -> anyhow::Result<ExitCode> {
    use crate::audit;
    let report = runtime()?.block_on(async {
        let mut embedded = None;
        let mut options = match &audit.url {
            Some(url) => audit::AuditOptions::new(url),
            None => {
                let server = args.start().await?;
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
        options.watch = audit
            .watch
            .as_deref()
            .map(crate::watch::StoreAddress::parse)
            .transpose()?;
        eprintln!("Auditing {} …", visible(&options.url));
        // Progress on a terminal only, rewritten in place; a log file gets none.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let shown = parking_lot::Mutex::new(String::new());
        let report = audit::run(options, |progress| {
            if !terminal {
                return;
            }
            let line = if progress.total > 1 {
                format!("{} {}/{}", progress.stage, progress.done, progress.total)
            } else {
                progress.stage.to_owned()
            };
            let mut shown = shown.lock();
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
        println!("{}", json_visible(&serde_json::to_string_pretty(&report)?));
    } else if audit.markdown {
        print!("{}", visible(&audit::markdown(&report)));
    } else {
        print!("{}", visible(&audit::text(&report)));
    }
    if let Some(threshold) = audit.fail_on {
        let failing = report.at_least(threshold);
        if failing > 0 {
            eprintln!("{failing} finding(s) at or above {threshold}");
            return Ok(ExitCode::from(2));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `load`: many visits, timed; with one browser keeping cookies, the increments lost too.
pub fn load(args: &ServerArgs, load: &LoadArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let mut embedded = None;
        let url = match &load.url {
            Some(url) => crate::browser::parse_http_url(url)?.to_string(),
            None => {
                let server = args.start().await?;
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

/// The views count a visit to `url` shows, if it is a counter page.
async fn views_of(browser: &crate::browser::Browser, url: &str) -> anyhow::Result<Option<u64>> {
    let hops = browser
        .visit(url, crate::browser::VisitOptions::default())
        .await?;
    Ok(hops
        .last()
        .and_then(|e| crate::browser::views_shown(&e.body)))
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
    mut served: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::server::Served>>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            record = served.recv() => match record {
                Ok(record) => println!("{}", visible(&lab::served_line(&record))),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    println!("… {n} requests not shown");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}
