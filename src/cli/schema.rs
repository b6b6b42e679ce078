//! `tollgate schema`: the JSON Schema of every document kind, generated from the Rust types.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

/// `tollgate schema`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate schema --out schemas
  # then, in an editor: # yaml-language-server: $schema=schemas/user.json")]
pub struct Args {
    /// The folder to write `<kind>.json` files to.
    #[arg(long, default_value = "schemas")]
    out: PathBuf,
}

/// Writes one file per kind into `--out`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let out = args.out;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, text) in tollgate::schema::generate() {
        let path = out.join(&name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
