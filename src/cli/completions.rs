//! `tollgate completions`: shell completion scripts and manual pages, generated from the same clap definitions
//! that parse the command line, so they cannot disagree with it (a drift test holds the committed copies).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap::ValueEnum as _;
use clap_complete::{Generator as _, Shell};

/// The folders under `--out` (`dist/` in the repository).
const COMPLETIONS_DIR: &str = "completions";
const MAN_DIR: &str = "man";

/// `tollgate completions`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate completions bash > ~/.local/share/bash-completion/completions/tollgate
  tollgate completions zsh > \"${fpath[1]}/_tollgate\"
  tollgate completions --out dist   # every shell's script and the manual pages")]
#[group(required = true, multiple = false)]
pub struct Args {
    /// Print this shell's completion script.
    #[arg(value_enum)]
    shell: Option<Shell>,
    /// Write every shell's completion script to DIR/completions and the manual pages to DIR/man.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Prints one script, or writes them all with the manual pages.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match (args.shell, args.out) {
        (Some(shell), _) => print!("{}", script(shell)),
        (None, Some(out)) => write_all(&out)?,
        (None, None) => unreachable!("clap requires a shell or --out"),
    }
    Ok(ExitCode::SUCCESS)
}

fn script(shell: Shell) -> String {
    let mut command = super::Cli::command();
    let mut bytes = Vec::new();
    clap_complete::generate(shell, &mut command, "tollgate", &mut bytes);
    String::from_utf8(bytes).expect("completion scripts are UTF-8")
}

fn write_all(out: &Path) -> anyhow::Result<()> {
    let completions = out.join(COMPLETIONS_DIR);
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("cannot create {}", completions.display()))?;
    for shell in Shell::value_variants() {
        let path = completions.join(shell.file_name("tollgate"));
        std::fs::write(&path, script(*shell))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let man = out.join(MAN_DIR);
    std::fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    // One page for `tollgate` and one per subcommand (`tollgate-plan.1`, `tollgate-client-kubeconfig.1`, ...).
    clap_mangen::generate_to(super::Cli::command(), &man)
        .with_context(|| format!("cannot write the manual pages to {}", man.display()))?;
    println!("wrote the manual pages to {}", man.display());
    Ok(())
}
