//! `tollgate client update-kubeconfig` and `tollgate client get-token`: a person's kubeconfig whose credential is
//! an exec plugin, so no token is written to disk; the plugin decrypts the client file each time kubectl asks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use tollgate::credentials::client_file::{ClientFile, Credential};
use tollgate::credentials::kubeconfig;

use super::client::{FileArgs, write_private};

/// `tollgate client update-kubeconfig`.
#[derive(clap::Args)]
pub struct UpdateArgs {
    /// Client files: `artifacts/<cluster>/<client>.age`, or their decrypted JSON. Their paths are written into the
    /// kubeconfig, so keep them where they are (a checkout of the access repository, kept current with `git pull`).
    #[arg(required = true, value_name = "FILE")]
    pub(super) files: Vec<PathBuf>,
    /// An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private
    /// key (a passphrase is asked for on the terminal). Repeatable.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    pub(super) identities: Vec<PathBuf>,
    /// The kubeconfig to update. Default: the first file of `KUBECONFIG`, then `~/.kube/config`.
    #[arg(long, value_name = "FILE")]
    pub(super) kubeconfig: Option<PathBuf>,
    /// Make the (first file's) context the current context.
    #[arg(long)]
    pub(super) use_context: bool,
    /// The context's name instead of `<cluster>/<client>` (one client file only).
    #[arg(long, value_name = "NAME")]
    pub(super) context_name: Option<String>,
    /// The API server URL instead of the one in the client file (e.g. a tunnel or a private endpoint).
    #[arg(long, value_name = "URL")]
    pub(super) server: Option<String>,
}

/// `tollgate client get-token`.
#[derive(clap::Args)]
pub struct GetTokenArgs {
    /// The client file: `artifacts/<cluster>/<client>.age`, or its decrypted JSON.
    file: PathBuf,
    /// An identity file to decrypt with, as for `update-kubeconfig`. Repeatable.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    identities: Vec<PathBuf>,
    /// The user the kubeconfig acts as (its `as`): the command fails if the client file now says otherwise.
    #[arg(long = "as", value_name = "USER", conflicts_with = "as_client")]
    as_user: Option<String>,
    /// A group the kubeconfig acts as (its `as-groups`); repeatable.
    #[arg(long = "as-group", value_name = "GROUP", requires = "as_user")]
    as_groups: Vec<String>,
    /// The kubeconfig entry is the client as itself (`<name>/as-client`): whom the client file acts as is not
    /// checked.
    #[arg(long)]
    as_client: bool,
}

/// How long to wait for another writer's lock on the kubeconfig.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Merges the contexts of the client files into the kubeconfig, with an exec credential plugin as their user.
pub fn update(args: &UpdateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.context_name.is_none() || args.files.len() == 1,
        "--context-name names one context: give one client file with it"
    );
    if let Some(name) = &args.context_name {
        anyhow::ensure!(
            !name.is_empty() && !name.chars().any(char::is_control),
            "--context-name must be a name without control characters"
        );
    }
    if let Some(server) = &args.server {
        tollgate::validate::values::api_server(server)
            .map_err(|reason| anyhow::anyhow!("--server: {reason}"))?;
    }
    let command = plugin_command()?;
    let mut identity_args = Vec::new();
    for path in &args.identities {
        identity_args.push("-i".to_owned());
        identity_args.push(utf8_path(&absolute(path))?);
    }
    let mut all_entries = Vec::new();
    let mut told = Vec::new();
    for path in &args.files {
        let file = FileArgs {
            file: path.clone(),
            identities: args.identities.clone(),
            output: None,
        }
        .read()?;
        warn_if_expired(&file, path);
        let mut exec_args = vec![
            "client".to_owned(),
            "get-token".to_owned(),
            utf8_path(&absolute(path))?,
        ];
        exec_args.extend(identity_args.iter().cloned());
        let mut entries = file.kubeconfig_entries(
            &Credential::Exec {
                command: command.clone(),
                args: exec_args.clone(),
            },
            args.context_name.as_deref(),
            args.server.as_deref(),
        );
        match &file.kubernetes.impersonate {
            Some(identity) => {
                // The entry that acts as the owner tells get-token which identity it sends, so that a changed
                // identity (a group left) is a clear message rather than a 403 on every request. `--as=VALUE`:
                // a name may start with `-`.
                let mut acting = exec_args.clone();
                acting.push(format!("--as={}", identity.user));
                acting.extend(identity.groups.iter().map(|g| format!("--as-group={g}")));
                entries.users[0]["user"]["exec"]["args"] = acting.into();
                let mut own = exec_args;
                own.push("--as-client".to_owned());
                entries.users[1]["user"]["exec"]["args"] = own.into();
                told.push(format!(
                    "{} (acts as {}{}; {}/as-client for the client's own grants)",
                    entries.context_name,
                    identity.user,
                    if identity.groups.is_empty() {
                        String::new()
                    } else {
                        format!(" in {}", identity.groups.join(", "))
                    },
                    entries.context_name
                ));
            }
            None => told.push(entries.context_name.clone()),
        }
        all_entries.push(entries);
    }

    let target = kubeconfig_path(args.kubeconfig.as_deref())?;
    let shown = target.display().to_string();
    // kubectl's own lock (client-go's `<file>.lock`), so two writers never lose each other's entries.
    let _lock = Lock::take(&target)?;
    let metadata = match std::fs::metadata(&target) {
        Ok(metadata) => {
            anyhow::ensure!(
                metadata.is_file(),
                "{shown} is not a regular file (a device, a pipe or a folder); pass --kubeconfig with a file"
            );
            Some(metadata)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error).with_context(|| format!("cannot read {shown}")),
    };
    let existing = match &metadata {
        Some(_) => Some(
            String::from_utf8(
                std::fs::read(&target).with_context(|| format!("cannot read {shown}"))?,
            )
            .map_err(|_| {
                anyhow::anyhow!("{shown} is not a kubeconfig (it is not text); it is left as it is")
            })?,
        ),
        None => None,
    };
    let current = args
        .use_context
        .then(|| all_entries.first().map(|e| e.context_name.clone()))
        .flatten();
    let (text, _) = kubeconfig::merge(
        &shown,
        existing.as_deref(),
        &all_entries,
        current.as_deref(),
    )?;
    if let Some(folder) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    let owner = metadata.as_ref().map(|m| {
        use std::os::unix::fs::MetadataExt as _;
        (m.uid(), m.gid())
    });
    write_private(&target, &text, owner)?;
    println!(
        "{} {shown}: {}",
        if existing.is_some() {
            "updated"
        } else {
            "wrote"
        },
        told.join(", ")
    );
    if let Some(current) = current {
        println!("current context: {current}");
    }
    Ok(())
}

/// Says so when the token has expired already: the kubeconfig is written anyway (a `git pull` fixes it).
fn warn_if_expired(file: &ClientFile, path: &Path) {
    if file
        .token_expires()
        .is_some_and(|expires| expires <= jiff::Timestamp::now())
    {
        eprintln!(
            "warning: the token in {} has expired: `git pull` in the access repository's checkout fetches the \
             renewed file",
            path.display()
        );
    }
}

/// The program kubectl runs for a token, as this one was invoked: `tollgate` when found on `PATH` (so an upgrade
/// in place keeps working), else the absolute path it was run by, symbolic links kept.
fn plugin_command() -> anyhow::Result<String> {
    let invoked = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .context("cannot tell how this tollgate binary was run")?;
    if invoked.components().count() == 1 {
        // Run by name: the shell found it on PATH, so kubectl will too.
        return utf8_path(&invoked);
    }
    utf8_path(&absolute(&invoked))
}

/// A path kubectl can be given in YAML: UTF-8 only.
fn utf8_path(path: &Path) -> anyhow::Result<String> {
    path.to_str().map(str::to_owned).with_context(|| {
        format!(
            "{} is not UTF-8: a kubeconfig cannot name it; move or rename it",
            path.display()
        )
    })
}

/// The kubeconfig kubectl would use: `--kubeconfig`, the first file of `KUBECONFIG`, `~/.kube/config`. A symbolic
/// link is followed, so the file it points to is updated and the link stays.
fn kubeconfig_path(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match flag {
        Some(path) => path.to_owned(),
        None => match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(list) => std::env::split_paths(&list)
                .find(|p| !p.as_os_str().is_empty())
                .context("KUBECONFIG names no file")?,
            None => {
                let home =
                    std::env::var_os("HOME").context("HOME is not set: pass --kubeconfig")?;
                Path::new(&home).join(".kube/config")
            }
        },
    };
    Ok(std::fs::canonicalize(&path).unwrap_or(path))
}

/// client-go's kubeconfig lock: `<file>.lock`, created exclusively while the file is rewritten.
struct Lock(PathBuf);

impl Lock {
    fn take(kubeconfig: &Path) -> anyhow::Result<Lock> {
        let mut name = kubeconfig.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let started = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(Lock(path)),
                Err(error)
                    if error.kind() == std::io::ErrorKind::AlreadyExists
                        && started.elapsed() < LOCK_WAIT =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    anyhow::bail!(
                        "{} is locked by another writer ({} exists); if no kubectl or tollgate is writing it, remove \
                         the lock",
                        kubeconfig.display(),
                        path.display()
                    )
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    // The folder does not exist yet: nobody else can be writing there.
                    return Ok(Lock(PathBuf::new()));
                }
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("cannot create the lock {}", path.display()));
                }
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Prints the client's token as an `ExecCredential`, after checking that it is still valid and that the identity
/// the kubeconfig acts as is still the one the client file names.
pub fn get_token(args: &GetTokenArgs) -> anyhow::Result<()> {
    let file = FileArgs {
        file: args.file.clone(),
        identities: args.identities.clone(),
        output: None,
    }
    .read()?;
    let shown = args.file.display();
    let expires = file
        .token_expires()
        .context("the client file's `kubernetes.tokenExpires` is not an RFC 3339 time")?;
    anyhow::ensure!(
        expires > jiff::Timestamp::now(),
        "the token in {shown} expired at {expires}. tollgate publishes a renewed file well before a token expires: \
         `git pull` in the access repository's checkout fetches it"
    );
    let identities: String = args
        .identities
        .iter()
        .map(|path| format!(" -i {}", path.display()))
        .collect();
    let rerun = format!("tollgate client update-kubeconfig {shown}{identities}");
    let now = file.kubernetes.impersonate.as_ref();
    match (&args.as_user, now) {
        (Some(user), now) => {
            let same = now.is_some_and(|identity| {
                identity.user == *user && {
                    let mut wanted = args.as_groups.clone();
                    wanted.sort();
                    let mut have = identity.groups.clone();
                    have.sort();
                    wanted == have
                }
            });
            if !same {
                let said = match now {
                    Some(identity) => format!("acts as {}", describe(&identity.user, &identity.groups)),
                    None => "does not act as its owner any more (impersonation is off for the cluster, or no \
                             accessAs: user grant reaches the owner)"
                        .to_owned(),
                };
                anyhow::bail!(
                    "the kubeconfig acts as {}, but the client file {shown} now {said}. Update the kubeconfig: \
                     {rerun}",
                    describe(user, &args.as_groups)
                );
            }
        }
        (None, Some(identity)) if !args.as_client => {
            // Still works (as the client itself), but the person's grants are not used: say how to get them.
            eprintln!(
                "note: the client file {shown} now acts as {}, for the accessAs: user grants; this kubeconfig entry \
                 does not. Update the kubeconfig: {rerun}",
                describe(&identity.user, &identity.groups)
            );
        }
        (None, _) => {}
    }
    print!("{}", file.exec_credential());
    Ok(())
}

/// `user in group, group`.
fn describe(user: &str, groups: &[String]) -> String {
    if groups.is_empty() {
        user.to_owned()
    } else {
        format!("{user} in {}", groups.join(", "))
    }
}

/// Paths written into a kubeconfig must not depend on the directory kubectl runs in.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
