//! The `tollgate` command: argument parsing and dispatch only; each command lives in `cli/`, the work in the
//! library.

mod cli;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

use tollgate::diagnostics::render_text;
use tollgate::pipeline::PipelineError;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Logs go to standard error: text on a terminal, JSON lines otherwise (a pod's log). `TOLLGATE_LOG` (e.g.
    // `debug`, `tollgate=debug`) sets the filter.
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.default_log_level()));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        logs.init();
    } else {
        logs.json().flatten_event(true).init();
    }
    match cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            if let Some(PipelineError::Invalid(diagnostics)) = error.downcast_ref::<PipelineError>()
            {
                eprint!("{}", render_text(diagnostics));
            }
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
