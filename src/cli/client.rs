//! `tollgate client`: turn a client file (as published, age-encrypted, or decrypted) into what kubectl or
//! wg-quick reads.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use tollgate::credentials::client_file::ClientFile;
use tollgate::credentials::seal;

/// `tollgate client`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Write a kubeconfig that stock kubectl uses as is.
    #[command(after_help = "Examples:
  tollgate client kubeconfig artifacts/prod/bob-laptop.age -i ~/.config/age/key.txt -o ~/.kube/tollgate-prod
  KUBECONFIG=~/.kube/tollgate-prod kubectl auth whoami")]
    Kubeconfig(FileArgs),
    /// Write a wg-quick configuration for the client's WireGuard tunnel.
    #[command(after_help = "Examples:
  tollgate client wg-config artifacts/prod/bob-laptop.age -i ~/.ssh/id_ed25519 -o bob-prod.conf
  sudo wg-quick up ./bob-prod.conf")]
    WgConfig(FileArgs),
}

/// The client file, the identities that open it, and where to write.
#[derive(clap::Args)]
pub struct FileArgs {
    /// The client file: `artifacts/<cluster>/<client>.age`, or its decrypted JSON.
    file: PathBuf,
    /// An identity file to decrypt with, as `age -d -i`: age X25519 keys or an unencrypted SSH private key.
    /// Repeatable.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    identities: Vec<PathBuf>,
    /// Write here (created with mode 0600) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Decrypts, converts and writes.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Kubeconfig(args) => {
            let file = args.read()?;
            args.write(&file.kubeconfig())?;
        }
        Command::WgConfig(args) => {
            let file = args.read()?;
            args.write(&file.wg_quick(&args.file.display().to_string())?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl FileArgs {
    fn read(&self) -> anyhow::Result<ClientFile> {
        let shown = self.file.display().to_string();
        let bytes = std::fs::read(&self.file).with_context(|| format!("cannot read {shown}"))?;
        let plaintext = if seal::is_age(&bytes) {
            anyhow::ensure!(
                !self.identities.is_empty(),
                "{shown} is encrypted: pass an identity with -i (your age key or SSH private key)"
            );
            let mut identities = Vec::new();
            for path in &self.identities {
                let shown = path.display().to_string();
                let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
                identities.extend(seal::read_identities(&shown, &bytes)?);
            }
            seal::open(&shown, &bytes, &identities)?
        } else {
            bytes
        };
        Ok(ClientFile::parse(&shown, &plaintext)?)
    }

    /// Writes secrets: to standard output, or to a new file only its owner can read.
    fn write(&self, text: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        match &self.output {
            None => print!("{text}"),
            Some(path) => {
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                file.write_all(text.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        Ok(())
    }
}
