//! The `session-lab` binary: parses the command line and runs the subcommand it names
//! (`session_lab::cli`, one function each).

use std::process::ExitCode;

use session_lab::cli::{self, Mode};

/// mimalloc: the server allocates small, short-lived buffers on every request, and this
/// allocator serves them markedly faster than glibc's (measured in bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            // An error can quote what a server or a file said: shown, not obeyed.
            eprintln!(
                "Error: {}",
                session_lab::words::visible(&format!("{error:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let (cli, given) = cli::parse();
    cli::init_tracing(cli.mode.as_ref());
    let server = &cli.server;
    if matches!(
        cli.mode,
        Some(Mode::Demo { .. } | Mode::Watch { .. } | Mode::Audit(_) | Mode::Scenario(_))
    ) {
        cli::stop_quietly_at_a_closed_pipe();
    }
    match cli.mode.unwrap_or(Mode::Gui) {
        Mode::Gui => cli::gui(server, cli.window, given)?,
        Mode::Serve { quiet, record } => cli::serve(server, quiet, record)?,
        Mode::Load(load) => cli::load(server, &load)?,
        Mode::Audit(audit) => return cli::audit(server, &audit),
        Mode::Demo {
            url,
            export,
            watch,
            json,
        } => cli::demo(
            server,
            cli::DemoOptions {
                url,
                export,
                watch,
                json,
            },
        )?,
        Mode::Watch {
            address,
            once,
            json,
        } => return cli::watch::follow(&address, once, json),
        Mode::Scenario(mode) => cli::scenario(mode)?,
    }
    Ok(ExitCode::SUCCESS)
}
