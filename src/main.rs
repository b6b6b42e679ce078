//! The `tollgate` command: argument parsing and dispatch only; each command lives in `cli/`, the work in the
//! library.

mod cli;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

use tollgate::diagnostics::render_text;
use tollgate::pipeline::PipelineError;

/// jemalloc, not glibc's malloc: a large reconcile allocates on tokio's, rayon's and blocking threads at once, and
/// glibc's per-thread arenas kept up to twice the live heap resident (freed memory fragmented across arenas, only
/// the top of each returnable); jemalloc returns freed pages by itself and on request (`release_freed_memory`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (`malloc_conf`, read when it starts; `_RJEM_MALLOC_CONF` in the environment overrides them):
/// two arenas, not four per core, so that freed memory is found again by the threads that allocate next; freed
/// pages returned to the OS within about a second (`dirty_decay_ms`) and at once once purged (`muzzy_decay_ms`).
/// Measured on the controller benchmark's 55,670 objects (benches/controller.rs): a restarted reconcile's peak
/// 247 MiB with jemalloc's defaults, 202 MiB with these; returning pages at once (`dirty_decay_ms:0`) saved 10 MiB
/// more but made a 5,000-object plan half again slower.
#[allow(unsafe_code)]
// SAFETY: jemalloc reads this NUL-terminated string once, at its initialisation; nothing writes it.
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 47] = b"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// `tollgate clients | head` must end quietly when `head` closes the pipe, as Unix tools do. Rust ignores SIGPIPE,
/// so `print!` panics on the closed pipe instead; restoring SIGPIPE's default would do it, but would also kill the
/// controller (and an apply) whenever a connection to the API server breaks mid-write. So only that one panic is
/// turned into the exit status a shell gives a process killed by SIGPIPE (128 + 13).
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    // A mistyped argument must not exit 2: `plan --detailed-exitcode` means "changes" by 2, and a CI step
    // reading it so would pass on a typo. Usage errors exit 1 like every other error; help and version exit 0.
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::from(error.use_stderr()));
        }
    };
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
