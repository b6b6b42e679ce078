//! `tollgate client`: its subcommands, and reading a client file (as published, age-encrypted, or decrypted) into
//! a kubeconfig or a wg-quick configuration. `update-kubeconfig` and `get-token` live in `client_kubeconfig`,
//! `new` in `client_new`, `inspect` with `tollgate clients` in `clients`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use tollgate::credentials::client_file::ClientFile;
use tollgate::credentials::seal::{self, OpenError, PublicKey, Stanza};

/// `tollgate client`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk).
    #[command(after_help = "Examples:
  tollgate client kubeconfig artifacts/prod/bob-laptop.age -i ~/.config/age/key.txt -o ~/.kube/tollgate-prod
  KUBECONFIG=~/.kube/tollgate-prod kubectl auth whoami")]
    Kubeconfig(FileArgs),
    /// Write a wg-quick configuration for the client's WireGuard tunnel.
    #[command(after_help = "Examples:
  tollgate client wg-config artifacts/prod/bob-laptop.age -i ~/.ssh/id_ed25519 -o bob-prod.conf
  sudo wg-quick up ./bob-prod.conf")]
    WgConfig(FileArgs),
    /// Add a context per client file to your kubeconfig, with no token on disk.
    ///
    /// Others' entries stay as they are; the new user entry runs `tollgate client get-token` for kubectl, which
    /// decrypts the client file each time.
    #[command(after_help = "Examples:
  tollgate client update-kubeconfig artifacts/prod/bob-laptop.age -i ~/.ssh/id_ed25519 --use-context
  kubectl auth whoami

A client that acts as its owner (accessAs: user grants) gets a second context, `<name>/as-client`, for its own
accessAs: client grants. Run it again after `git pull` when `get-token` says the identity changed.")]
    UpdateKubeconfig(super::client_kubeconfig::UpdateArgs),
    /// Write new Client documents into the repository (validated with it first).
    New(super::client_new::Args),
    /// Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why.
    Inspect(super::clients::InspectArgs),
    /// Print the client's token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes).
    #[command(after_help = "Examples:
  tollgate client get-token artifacts/prod/bob-laptop.age -i ~/.ssh/id_ed25519")]
    GetToken(super::client_kubeconfig::GetTokenArgs),
}

/// The client file, the identities that open it, and where to write.
#[derive(clap::Args)]
pub struct FileArgs {
    /// The client file: `artifacts/<cluster>/<client>.age`, or its decrypted JSON.
    pub(super) file: PathBuf,
    /// An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH
    /// private key (a passphrase is asked for on the terminal). Repeatable.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    pub(super) identities: Vec<PathBuf>,
    /// Write here (created with mode 0600) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub(super) output: Option<PathBuf>,
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
        Command::UpdateKubeconfig(args) => super::client_kubeconfig::update(&args)?,
        Command::GetToken(args) => super::client_kubeconfig::get_token(&args)?,
        Command::New(args) => return super::client_new::run(args),
        Command::Inspect(args) => return super::clients::inspect(args),
    }
    Ok(ExitCode::SUCCESS)
}

impl FileArgs {
    /// Decrypts (when it is encrypted), parses and checks the client file.
    pub(super) fn read(&self) -> anyhow::Result<ClientFile> {
        let shown = self.file.display().to_string();
        let bytes = std::fs::read(&self.file).with_context(|| format!("cannot read {shown}"))?;
        let plaintext = if seal::is_age(&bytes) {
            anyhow::ensure!(
                !self.identities.is_empty(),
                "{shown} is encrypted: pass an identity with -i (your age key or SSH private key)"
            );
            // Identities without a passphrase first, as `age -d` does: a passphrase is asked for only when they
            // cannot open the file.
            let mut identities = Vec::new();
            let mut protected = Vec::new();
            for path in &self.identities {
                let shown = path.display().to_string();
                let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
                match seal::read_identities(&shown, &bytes, &|_| None) {
                    Ok(found) => identities.extend(found),
                    Err(OpenError::Passphrase { .. }) => protected.push((shown, bytes)),
                    Err(other) => return Err(other.into()),
                }
            }
            let mut opened = seal::open(&shown, &bytes, &identities);
            if matches!(opened, Err(OpenError::NotARecipient { .. })) && !protected.is_empty() {
                for (path, key) in &protected {
                    identities.extend(seal::read_identities(path, key, &ask_passphrase)?);
                }
                opened = seal::open(&shown, &bytes, &identities);
            }
            match opened {
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

    /// Writes secrets: to standard output, or to a file only its owner can read ([`write_private`]).
    fn write(&self, text: &str) -> anyhow::Result<()> {
        match &self.output {
            Some(path) => write_private(path, text, None),
            None => {
                print!("{text}");
                Ok(())
            }
        }
    }
}

/// Writes a file only its owner can read. The file is always new: written beside the target with mode 0600 and
/// renamed over it, so an existing file's wider mode never carries over and a reader never sees half a file.
/// `owner` (uid, gid) is given to the new file when set: an existing kubeconfig written by root (`sudo`) stays
/// its owner's.
pub(super) fn write_private(
    path: &Path,
    text: &str,
    owner: Option<(u32, u32)>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
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
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
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

/// Asks for an identity's passphrase on the terminal (`/dev/tty`, so it works under kubectl and with standard
/// input redirected); `None` without a terminal.
pub(super) fn ask_passphrase(path: &str) -> Option<age::secrecy::SecretString> {
    rpassword::prompt_password(format!("Passphrase for {path}: "))
        .ok()
        .map(age::secrecy::SecretString::from)
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
