//! `tollgate client`: turn a client file (as published, age-encrypted, or decrypted) into what kubectl or
//! wg-quick reads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use tollgate::credentials::client_file::ClientFile;
use tollgate::credentials::seal::{self, OpenError, PublicKey, Stanza};

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
            match seal::open(&shown, &bytes, &identities) {
                Ok(plaintext) => plaintext,
                Err(OpenError::NotARecipient {
                    path,
                    tried,
                    recipients,
                }) => {
                    // The repository the file was published to knows whose keys these are.
                    let named = repository_recipients(&self.file, &seal::stanzas(&bytes));
                    return Err(OpenError::NotARecipient {
                        path,
                        tried,
                        recipients: named.unwrap_or(recipients),
                    }
                    .into());
                }
                Err(other) => return Err(other.into()),
            }
        } else if looks_like_json(&bytes) {
            bytes
        } else {
            // Say what was expected without showing any of the file: it could be anything, a key included.
            anyhow::bail!(
                "{shown} is neither a client file as published (an age file, `-----BEGIN AGE ENCRYPTED \
                 FILE-----`) nor a decrypted one (JSON)"
            );
        };
        Ok(ClientFile::parse(&shown, &plaintext)?)
    }

    /// Writes secrets: to standard output, or to a file only its owner can read. The file is always new: written
    /// beside the target with mode 0600 and renamed over it, so an existing file's wider mode never carries over
    /// and a reader never sees half a file.
    fn write(&self, text: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let Some(path) = &self.output else {
            print!("{text}");
            return Ok(());
        };
        let shown = path.display();
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let temporary = folder.join(format!(".{name}.tollgate-{}", std::process::id()));
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            // The mode asked for at creation is masked by the umask: set it, so the owner can always read it.
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, path)
        })();
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(error).with_context(|| format!("cannot write {shown}"));
        }
        Ok(())
    }
}

/// Whether `bytes` start (after white space or a byte-order mark) like a JSON object.
fn looks_like_json(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
        .starts_with('{')
}

/// Who a published client file is for, by name, when it sits in a checkout of an access repository as
/// `<checkout>/<artifactsPath>/<cluster>/<client>.age`: each owner's keys and the extra recipients, with the
/// SSH keys the file's header names marked. `None` when the file is not in a Git checkout (the nearest `.git`,
/// at most 8 folders up: nothing else is read) or the checkout has no such client.
fn repository_recipients(file: &Path, stanzas: &[Stanza]) -> Option<Vec<String>> {
    use tollgate::config::documents::DocumentBody;
    let file = std::path::absolute(file).ok()?;
    let client = file.file_stem()?.to_str()?.to_owned();
    let checkout = file
        .ancestors()
        .skip(1)
        .take(8)
        .find(|dir| dir.join(".git").exists())?;
    {
        let root = checkout;
        let Ok(files) = tollgate::files::read_config_files(root) else {
            return None;
        };
        let loaded = tollgate::config::load(files);
        let settings = loaded.documents.iter().find_map(|d| match &d.body {
            DocumentBody::Settings(spec) => Some(spec.artifacts_path.trim_matches('/').to_owned()),
            _ => None,
        })?;
        let relative = file.strip_prefix(root).ok()?;
        if !relative.starts_with(&settings) {
            return None;
        }
        let spec = loaded.documents.iter().find_map(|d| match &d.body {
            DocumentBody::Client(spec) if d.name == client => Some(spec.clone()),
            _ => None,
        })?;
        let tags: Vec<&str> = stanzas
            .iter()
            .filter_map(|s| match s {
                Stanza::Ssh { tag, .. } => Some(tag.as_str()),
                _ => None,
            })
            .collect();
        let describe = |key: &str| -> String {
            // The repository is not validated here: a private key pasted by mistake is never shown.
            if tollgate::validate::values::is_private_key(key) {
                return "a PRIVATE key (not shown; `tollgate validate` says what to do)".to_owned();
            }
            match seal::ssh_public_key(key) {
                Some(PublicKey::Ssh {
                    fingerprint, tag, ..
                }) => {
                    let kind = key.split(' ').next().unwrap_or("ssh");
                    let mark = if tags.contains(&tag.as_str()) {
                        ""
                    } else {
                        " (not in this copy of the file)"
                    };
                    format!("{kind} {fingerprint}{mark}")
                }
                _ => key.to_owned(),
            }
        };
        let mut named = Vec::new();
        for owner in &spec.owners {
            let keys = loaded.documents.iter().find_map(|d| match &d.body {
                DocumentBody::User(user) if d.name == *owner => Some(user.recipients.clone()),
                _ => None,
            });
            for key in keys.unwrap_or_default() {
                named.push(format!("{owner}'s {}", describe(&key)));
            }
        }
        for key in &spec.recipients {
            named.push(format!("extra recipient {}", describe(key)));
        }
        let last = named.pop()?;
        named.push(format!(
            "{last} (client `{client}` of the repository at {})",
            root.display()
        ));
        Some(named)
    }
}
