//! The Git edge: fetch the access repository's branch into a bare cache (gix), read its files from the tree without
//! a working tree, and write back one commit that touches only the artifacts path, pushed with the `git` binary
//! because gix cannot push yet (GitoxideLabs/gitoxide#306). A rejected push is never forced: tollgate fetches the
//! new head, rebuilds the same edit on top of it and tries again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use gix::ObjectId;

use crate::config::load::{FileProblem, RepoFile, is_config_folder, is_config_path};
use gix::bstr::ByteSlice;

/// Why fetching, reading, committing to or pushing the access repository failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The local bare cache could not be created, opened or configured.
    #[error("cannot prepare the Git cache {path}: {reason}")]
    Cache {
        /// The cache directory ([`GitRemote::cache`]).
        path: PathBuf,
        /// What gix, the file system or `git config` reported.
        reason: String,
    },
    /// Connecting to the remote, listing its refs or fetching the branch failed.
    #[error("cannot fetch branch `{branch}` from {url}: {reason}")]
    Fetch {
        /// The remote's URL.
        url: String,
        /// The watched branch, without `refs/heads/`.
        branch: String,
        /// The error and its causes on one line (`outer: inner: innermost`).
        reason: String,
    },
    /// The remote does not advertise `refs/heads/<branch>`.
    #[error("{url} has no branch `{branch}`")]
    NoBranch {
        /// The remote's URL.
        url: String,
        /// The missing branch, without `refs/heads/`.
        branch: String,
    },
    /// The tree or a blob of a fetched commit could not be read from the cache.
    #[error("cannot read {what} of commit {commit}: {reason}")]
    Read {
        /// The commit being read.
        commit: ObjectId,
        /// What was being read: `the tree`, `the files` or a file's path.
        what: String,
        /// What gix reported.
        reason: String,
    },
    /// Writing the blobs, the tree or the commit of an artifacts edit into the cache failed.
    #[error("cannot write the artifacts commit: {reason}")]
    Write {
        /// What gix reported.
        reason: String,
    },
    /// `git push` could not start, or failed for another reason than a moved branch.
    #[error("cannot run `git push` to {url}: {reason}")]
    Push {
        /// The remote's URL.
        url: String,
        /// Why the process could not start, or what `git push` printed (stdout, then stderr).
        reason: String,
    },
    /// Every push of a publish was rejected because the branch moved each time; nothing was forced.
    #[error(
        "{url} rejected the push {attempts} times because `{branch}` kept moving; nothing was forced, the next run tries again"
    )]
    KeptMoving {
        /// The remote's URL.
        url: String,
        /// The branch, without `refs/heads/`.
        branch: String,
        /// How many pushes were tried ([`Backoff::attempts`]).
        attempts: u32,
    },
}

/// The most commits in a row, from a branch head back, that may leave the configuration unchanged before the commit
/// that made it is found ([`configuring_commit`]); beyond it the walk stops with [`GitError::Read`].
pub const MAX_UNCHANGED_COMMITS: usize = 10_000;

/// The commit that gave a branch head its configuration, and that commit's signature.
#[derive(Debug, Clone)]
pub struct ConfiguringCommit {
    /// The newest commit on the first-parent line whose configuration files differ from its first parent's (or the
    /// root commit): the one whose signature vouches for the configuration.
    pub commit: ObjectId,
    /// Every commit from the head down to `commit` (newest first, `commit` last), each with its signature (`gpgsig`
    /// header and the bytes signed; `None` when unsigned): a signature on any of them vouches for the
    /// configuration, since each holds the same configuration files.
    pub commits: Vec<(ObjectId, Option<crate::signing::CommitSignature>)>,
}

/// How tollgate authenticates to the Git server. Secrets stay in files: they are never put on a command line or in
/// the cache's configuration.
#[derive(Debug, Clone, Default)]
pub enum GitAuth {
    /// No credentials of tollgate's own: anonymous HTTP(S), or SSH with ssh's default keys and agent.
    #[default]
    None,
    /// HTTP(S): a file holding a token, sent as the password of `username` by a credential helper that reads the
    /// file when asked.
    TokenFile {
        /// The user name sent with the token (Git hosts differ in the one they expect).
        username: String,
        /// The file whose content is the token; read each time Git asks for credentials, never copied.
        path: PathBuf,
    },
    /// SSH: a private key file, used through `core.sshCommand` by both gix and `git push`, and the server's host
    /// keys (`known_hosts` format); without them, ssh's own known hosts decide.
    SshKey {
        /// The private key file (`ssh -i`; no other identity is offered).
        path: PathBuf,
        /// Host keys to trust, checked strictly (`StrictHostKeyChecking=yes`).
        known_hosts: Option<PathBuf>,
    },
}

/// Who the write-back commits are from.
#[derive(Debug, Clone)]
pub struct Author {
    /// The commits' author and committer name.
    pub name: String,
    /// The commits' author and committer email address.
    pub email: String,
}

impl Default for Author {
    fn default() -> Self {
        Author {
            name: "tollgate".into(),
            email: "tollgate@localhost".into(),
        }
    }
}

/// One watched branch of one remote repository, with its local bare cache.
#[derive(Debug, Clone)]
pub struct GitRemote {
    /// The remote's URL, as `git clone` takes it (HTTP(S) or SSH).
    pub url: String,
    /// The branch read and published to, without `refs/heads/`.
    pub branch: String,
    /// A bare repository tollgate owns (created on first use); only objects and remote-tracking refs live there.
    pub cache: PathBuf,
    /// How to authenticate to `url`.
    pub auth: GitAuth,
}

/// The branch head as fetched: its commit and every file of its tree (path -> blob id).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The branch head's commit id.
    pub commit: ObjectId,
    /// The commit's root tree id; artifact edits are made on it.
    pub tree: ObjectId,
    /// Every regular file of the tree by its `/`-separated path, with its blob id (no symlinks or submodules).
    pub files: BTreeMap<String, ObjectId>,
    /// Every symbolic link of the tree by its path, with the blob that holds its target.
    pub links: BTreeMap<String, ObjectId>,
    /// Every symbolic link's target as written, by the link's path.
    pub link_targets: BTreeMap<String, String>,
}

impl Snapshot {
    /// A digest of the configuration files (paths and blob ids) of this snapshot. Two heads with the same digest
    /// configure the same access: a commit that only touches client files (tollgate's own) changes nothing here.
    pub fn config_fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        for path in self.config_paths() {
            hasher.update(format!("{path}\t{}\n", self.files[path]));
        }
        // A link can bring configuration in (or name a problem validation reports): it counts too, and so does
        // the file it leads to (read as the link's content, wherever it lies).
        for (path, id) in &self.links {
            hasher.update(format!("link {path}\t{id}\n"));
            let target = self.link_targets.get(path).map_or("", String::as_str);
            if let LinkTarget::File(file) = resolve_link(self, path, target) {
                hasher.update(format!("target {file}\t{}\n", self.files[&file]));
            }
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The configuration files' paths (what the loader reads; not client files).
    pub fn config_paths(&self) -> impl Iterator<Item = &str> {
        self.files
            .keys()
            .map(String::as_str)
            .filter(|path| crate::config::load::is_config_path(path))
    }
}

/// Where a symbolic link of a commit leads.
enum LinkTarget {
    /// A regular file of the commit, by path.
    File(String),
    /// A folder of the commit.
    Folder,
    /// Out of the repository (an absolute path, or `..` past the root).
    Outside,
    /// Nothing: no such path, or a chain of links that loops.
    Nowhere(String),
}

/// Where the link at `path`, with target `target`, leads inside the commit. A link to another link is not
/// followed further (say so, rather than resolving chains and loops).
fn resolve_link(snapshot: &Snapshot, path: &str, target: &str) -> LinkTarget {
    if target.starts_with('/') {
        return LinkTarget::Outside;
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return LinkTarget::Outside;
                }
            }
            other => parts.push(other),
        }
    }
    let resolved = parts.join("/");
    if snapshot.files.contains_key(&resolved) {
        return LinkTarget::File(resolved);
    }
    let folder = format!("{resolved}/");
    if snapshot.files.keys().any(|f| f.starts_with(&folder)) {
        return LinkTarget::Folder;
    }
    if snapshot.links.contains_key(&resolved) {
        return LinkTarget::Nowhere(format!(
            "it points to another link, `{resolved}`; link to the file itself"
        ));
    }
    LinkTarget::Nowhere(format!("`{resolved}` does not exist in the commit"))
}

/// A change to one artifact: its new content, or `None` to remove it.
#[derive(Debug, Clone)]
pub struct ArtifactEdit {
    /// The file's `/`-separated path from the repository root.
    pub path: String,
    /// The file's new bytes, or `None` to remove it.
    pub content: Option<Vec<u8>>,
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The branch already held exactly these artifacts: no commit.
    Unchanged,
    /// One commit was pushed to the branch.
    Pushed {
        /// The pushed commit's id.
        commit: ObjectId,
        /// How many pushes it took (1 unless the branch moved meanwhile).
        attempts: u32,
    },
}

/// How long to wait between rejected pushes: `first`, doubling, for at most `attempts` pushes.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The wait after the first rejected push; each further wait is twice the one before.
    pub first: Duration,
    /// The most pushes tried before [`GitError::KeptMoving`].
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(200),
            attempts: 6,
        }
    }
}

/// The blob id Git gives `content`, without writing it anywhere (what the publish index records).
pub fn blob_id(content: &[u8]) -> ObjectId {
    gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, content)
        .expect("SHA-1 hashing of an in-memory buffer does not fail")
}

impl GitRemote {
    fn tracking_ref(&self) -> String {
        format!("refs/remotes/origin/{}", self.branch)
    }

    fn cache_error(&self, reason: impl ToString) -> GitError {
        GitError::Cache {
            path: self.cache.clone(),
            reason: reason.to_string(),
        }
    }

    /// Opens the bare cache, creating it (and its authentication settings) on first use.
    fn open(&self) -> Result<gix::Repository, GitError> {
        let repo = if self.cache.join("HEAD").exists() {
            gix::open(&self.cache).map_err(|e| self.cache_error(e))?
        } else {
            std::fs::create_dir_all(&self.cache).map_err(|e| self.cache_error(e))?;
            gix::init_bare(&self.cache).map_err(|e| self.cache_error(e))?
        };
        self.write_auth_config()?;
        // Re-open so that gix sees the authentication settings just written.
        drop(repo);
        gix::open(&self.cache).map_err(|e| self.cache_error(e))
    }

    /// Writes the authentication settings into the cache's own config, where gix and `git` both read them. The
    /// config names the secret's file, never the secret.
    fn write_auth_config(&self) -> Result<(), GitError> {
        let settings: Vec<(&str, String)> = match &self.auth {
            GitAuth::None => Vec::new(),
            GitAuth::TokenFile { username, path } => vec![
                ("credential.helper", String::new()),
                (
                    "credential.helper",
                    format!(
                        "!f() {{ test \"$1\" = get && echo username={username} && printf 'password=%s\\n' \"$(cat '{}')\"; }}; f",
                        path.display()
                    ),
                ),
            ],
            GitAuth::SshKey { path, known_hosts } => {
                let mut command = format!(
                    "ssh -i '{}' -o IdentitiesOnly=yes -o BatchMode=yes",
                    path.display()
                );
                if let Some(known_hosts) = known_hosts {
                    command.push_str(&format!(
                        " -o StrictHostKeyChecking=yes -o UserKnownHostsFile='{}'",
                        known_hosts.display()
                    ));
                }
                vec![("core.sshCommand", command)]
            }
        };
        for (index, (key, value)) in settings.iter().enumerate() {
            let mut git = self.git();
            git.arg("config");
            if index > 0 && settings[index - 1].0 == *key {
                git.arg("--add");
            } else {
                git.arg("--replace-all");
            }
            let output = git
                .args([key, value.as_str()])
                .output()
                .map_err(|e| self.cache_error(format!("cannot run git config: {e}")))?;
            if !output.status.success() {
                return Err(self.cache_error(String::from_utf8_lossy(&output.stderr)));
            }
        }
        Ok(())
    }

    fn git(&self) -> Command {
        let mut git = Command::new("git");
        git.arg("--git-dir").arg(&self.cache);
        // The user's and the machine's Git configuration must not change what tollgate pushes or where.
        git.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0");
        // One setting for a private CA, as gix's HTTPS client reads it: `SSL_CERT_FILE`.
        if let Some(ca) = std::env::var_os("SSL_CERT_FILE") {
            git.env("GIT_SSL_CAINFO", ca);
        }
        git
    }

    fn fetch_error(&self, reason: String) -> GitError {
        GitError::Fetch {
            url: self.url.clone(),
            branch: self.branch.clone(),
            reason,
        }
    }

    /// The remote configured to fetch only the watched branch, no tags.
    fn remote<'r>(&self, repo: &'r gix::Repository) -> Result<gix::Remote<'r>, GitError> {
        let refspec = format!("+refs/heads/{}:{}", self.branch, self.tracking_ref());
        repo.remote_at(self.url.as_str())
            .map_err(|e| self.fetch_error(causes(&e)))?
            .with_fetch_tags(gix::remote::fetch::Tags::None)
            .with_refspecs([refspec.as_str()], gix::remote::Direction::Fetch)
            .map_err(|e| self.fetch_error(causes(&e)))
    }

    /// The branch's head as the remote advertises it, without fetching anything: the cheap question a poll asks.
    pub fn head(&self) -> Result<ObjectId, GitError> {
        let repo = self.open()?;
        let (ref_map, _) = self
            .remote(&repo)?
            .connect(gix::remote::Direction::Fetch)
            .map_err(|e| self.fetch_error(causes(&e)))?
            .ref_map(gix::progress::Discard, Default::default())
            .map_err(|e| self.fetch_error(causes(&e)))?;
        self.advertised_head(&ref_map)
    }

    fn advertised_head(&self, ref_map: &gix::remote::fetch::RefMap) -> Result<ObjectId, GitError> {
        let wanted = format!("refs/heads/{}", self.branch);
        ref_map
            .remote_refs
            .iter()
            .find_map(|r| {
                let (name, target, peeled) = r.unpack();
                (name == wanted.as_bytes().as_bstr())
                    .then(|| peeled.or(target).map(ToOwned::to_owned))
                    .flatten()
            })
            .ok_or_else(|| GitError::NoBranch {
                url: self.url.clone(),
                branch: self.branch.clone(),
            })
    }

    /// Fetches the branch (only it, no tags) and reads its tree.
    pub fn fetch(&self) -> Result<Snapshot, GitError> {
        let repo = self.open()?;
        let outcome = self
            .remote(&repo)?
            .connect(gix::remote::Direction::Fetch)
            .map_err(|e| self.fetch_error(causes(&e)))?
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| self.fetch_error(causes(&e)))?
            .receive(gix::progress::Discard, &AtomicBool::new(false))
            .map_err(|e| self.fetch_error(causes(&e)))?;
        self.advertised_head(&outcome.ref_map)?;
        let commit = repo
            .find_reference(self.tracking_ref().as_str())
            .and_then(|mut r| r.peel_to_id())
            .map_err(|e| self.fetch_error(format!("the fetched branch is unreadable: {e}")))?
            .detach();
        snapshot(&repo, commit)
    }

    /// The commit that gave a fetched snapshot its configuration, with its signature ([`configuring_commit`]).
    pub fn configuring_commit(&self, snapshot: &Snapshot) -> Result<ConfiguringCommit, GitError> {
        configuring_commit(&self.open()?, snapshot)
    }

    /// Whether the fetched `head` has `ancestor` in its history ([`contains`]).
    pub fn contains(&self, head: ObjectId, ancestor: &str) -> Result<Option<bool>, GitError> {
        contains(&self.open()?, head, ancestor)
    }

    /// The configuration files of a fetched snapshot as (path, bytes), ready for [`crate::config::load`].
    pub fn read_config(&self, snapshot: &Snapshot) -> Result<Vec<RepoFile>, GitError> {
        config_of(&self.open()?, snapshot)
    }

    /// Commits `edits` on top of `base` and pushes. When the branch moved meanwhile, fetches it again, applies the
    /// same edits to the new head and retries with backoff; never forces.
    pub fn publish(
        &self,
        mut base: Snapshot,
        edits: &[ArtifactEdit],
        message: &str,
        author: &Author,
        backoff: Backoff,
    ) -> Result<Published, GitError> {
        let mut wait = backoff.first;
        for attempt in 1..=backoff.attempts {
            let Some(commit) = self.commit(&base, edits, message, author)? else {
                return Ok(Published::Unchanged);
            };
            match self.push(commit)? {
                PushResult::Accepted => {
                    self.tidy();
                    return Ok(Published::Pushed {
                        commit,
                        attempts: attempt,
                    });
                }
                PushResult::Rejected => {
                    tracing::info!(attempt, ?wait, branch = %self.branch, "push rejected: the branch moved; fetching and rebuilding");
                    std::thread::sleep(wait);
                    wait *= 2;
                    base = self.fetch()?;
                }
            }
        }
        Err(GitError::KeptMoving {
            url: self.url.clone(),
            branch: self.branch.clone(),
            attempts: backoff.attempts,
        })
    }

    /// Writes `edits` as one commit on top of `base` into the cache without pushing it; `None` when the edits
    /// change nothing.
    pub fn commit(
        &self,
        base: &Snapshot,
        edits: &[ArtifactEdit],
        message: &str,
        author: &Author,
    ) -> Result<Option<ObjectId>, GitError> {
        let repo = self.open()?;
        commit_edits(&repo, base, edits, message, author)
    }

    /// Every publish writes new objects into the cache; let Git pack them when enough have piled up (a no-op
    /// otherwise), so a long-running controller's cache does not grow without bound.
    fn tidy(&self) {
        match self.git().args(["gc", "--auto", "--quiet"]).output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => tracing::warn!(
                stderr = %String::from_utf8_lossy(&output.stderr).trim(),
                "git gc --auto failed in the cache"
            ),
            Err(error) => tracing::warn!(%error, "cannot run git gc --auto in the cache"),
        }
    }

    fn push(&self, commit: ObjectId) -> Result<PushResult, GitError> {
        let output = self
            .git()
            .args(["push", "--porcelain", &self.url])
            .arg(format!("{commit}:refs/heads/{}", self.branch))
            .output()
            .map_err(|e| GitError::Push {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        if output.status.success() {
            return Ok(PushResult::Accepted);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        // `--porcelain` prints `!<tab>ref<tab>[rejected] (fetch first|non-fast-forward)` when the branch moved.
        if stdout
            .lines()
            .any(|line| line.starts_with('!') && line.contains("[rejected]"))
        {
            return Ok(PushResult::Rejected);
        }
        Err(GitError::Push {
            url: self.url.clone(),
            reason: format!(
                "{}{}",
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

/// An error and its causes on one line, as people read them: "outer: inner: innermost".
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

enum PushResult {
    Accepted,
    Rejected,
}

/// The commit of `head`'s first-parent line that introduced its configuration, with its signature: walking back
/// while a commit's configuration files (paths and blobs, [`Snapshot::config_fingerprint`]) equal its parent's.
/// Commits that change no configuration, such as tollgate's own client file commits (they touch only the artifacts
/// path) or a README edit, configure nothing and need no signature; the commit before them does.
///
/// # Errors
/// [`GitError::Read`] when a commit or tree cannot be read, or more than [`MAX_UNCHANGED_COMMITS`] commits in a
/// row change no configuration.
pub fn configuring_commit(
    repo: &gix::Repository,
    head: &Snapshot,
) -> Result<ConfiguringCommit, GitError> {
    let fingerprint = head.config_fingerprint();
    let mut current = head.commit;
    let mut commits = Vec::new();
    loop {
        let read_error = |e: &dyn std::fmt::Display| GitError::Read {
            commit: current,
            what: "the commit".to_owned(),
            reason: e.to_string(),
        };
        let commit = repo.find_commit(current).map_err(|e| read_error(&e))?;
        let signature = commit
            .signature()
            .map_err(|e| read_error(&e))?
            .map(|(armored, signed)| crate::signing::CommitSignature {
                armored: armored.to_str_lossy().into_owned(),
                signed: signed.to_bstring().into(),
            });
        commits.push((current, signature));
        let parent = commit.parent_ids().next().map(gix::Id::detach);
        let unchanged = match parent {
            Some(parent) => snapshot(repo, parent)?.config_fingerprint() == fingerprint,
            None => false,
        };
        match parent {
            Some(parent) if unchanged => {
                if commits.len() > MAX_UNCHANGED_COMMITS {
                    return Err(GitError::Read {
                        commit: head.commit,
                        what: "the history".to_owned(),
                        reason: format!(
                            "more than {MAX_UNCHANGED_COMMITS} commits in a row change no configuration; the commit \
                             that made it is too far back"
                        ),
                    });
                }
                current = parent;
            }
            _ => {
                return Ok(ConfiguringCommit {
                    commit: current,
                    commits,
                });
            }
        }
    }
}

/// A fetched head's history, as [`crate::pipeline::verify_commit`] asks about it.
pub struct FetchedHistory<'a> {
    /// The remote whose cache holds the history.
    pub remote: &'a GitRemote,
    /// The fetched head.
    pub snapshot: &'a Snapshot,
}

impl crate::pipeline::CommitHistory for FetchedHistory<'_> {
    fn configuring_commit(&self) -> Result<ConfiguringCommit, GitError> {
        self.remote.configuring_commit(self.snapshot)
    }

    fn contains(&self, ancestor: &str) -> Result<Option<bool>, GitError> {
        self.remote.contains(self.snapshot.commit, ancestor)
    }
}

/// Whether `head` has `ancestor` (a full commit id) on its first-parent line, itself included: the branch's own
/// history, where every applied revision lies (a commit merged in from elsewhere does not count, or a merge could
/// bring back an old signed configuration as its first parent); `None` when `ancestor` is not a commit this
/// repository knows (not fetched, or gone with a force push before it was).
///
/// # Errors
/// [`GitError::Read`] when the history cannot be walked.
pub fn contains(
    repo: &gix::Repository,
    head: ObjectId,
    ancestor: &str,
) -> Result<Option<bool>, GitError> {
    let Ok(ancestor) = ObjectId::from_hex(ancestor.as_bytes()) else {
        return Ok(None);
    };
    if repo.find_commit(ancestor).is_err() {
        return Ok(None);
    }
    let read_error = |e: &dyn std::fmt::Display| GitError::Read {
        commit: head,
        what: "the history".to_owned(),
        reason: e.to_string(),
    };
    let mut current = Some(head);
    while let Some(commit) = current {
        if commit == ancestor {
            return Ok(Some(true));
        }
        current = repo
            .find_commit(commit)
            .map_err(|e| read_error(&e))?
            .parent_ids()
            .next()
            .map(gix::Id::detach);
    }
    Ok(Some(false))
}

pub(crate) fn snapshot(repo: &gix::Repository, commit: ObjectId) -> Result<Snapshot, GitError> {
    let read_error = |what: &str, e: gix::Error| GitError::Read {
        commit,
        what: what.to_owned(),
        reason: e.to_string(),
    };
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| read_error("the tree", e))?;
    let mut files = BTreeMap::new();
    let mut links = BTreeMap::new();
    let mut link_targets = BTreeMap::new();
    for entry in tree
        .traverse()
        .breadthfirst
        .files()
        .map_err(|e| read_error("the files", e))?
    {
        if entry.mode.is_blob() {
            files.insert(entry.filepath.to_str_lossy().into_owned(), entry.oid);
        } else if entry.mode.is_link() {
            let path = entry.filepath.to_str_lossy().into_owned();
            let target = repo
                .find_blob(entry.oid)
                .map_err(|e| read_error(&path, e))?
                .data
                .to_str_lossy()
                .into_owned();
            link_targets.insert(path.clone(), target);
            links.insert(path, entry.oid);
        }
    }
    Ok(Snapshot {
        commit,
        tree: tree.id,
        files,
        links,
        link_targets,
    })
}

/// The configuration files of `snapshot` in `repo` as (path, bytes), ready for [`crate::config::load`]: its
/// configuration paths, and its symbolic links as the file-system edge treats them.
pub(crate) fn config_of(
    repo: &gix::Repository,
    snapshot: &Snapshot,
) -> Result<Vec<RepoFile>, GitError> {
    let read = |path: &str, id: ObjectId| {
        repo.find_blob(id)
            .map(|blob| blob.data.clone())
            .map_err(|e| GitError::Read {
                commit: snapshot.commit,
                what: path.to_owned(),
                reason: e.to_string(),
            })
    };
    let mut files = Vec::new();
    for path in snapshot.config_paths() {
        files.push(RepoFile {
            path: path.to_owned(),
            content: Ok(read(path, snapshot.files[path])?),
        });
    }
    // Symbolic links, as the file-system edge treats them: a link to a configuration file of the commit is
    // read as that file; any other link that could hold configuration is a problem validation names.
    for path in snapshot.links.keys() {
        let target = snapshot.link_targets.get(path).cloned().unwrap_or_default();
        let content = match resolve_link(snapshot, path, &target) {
            LinkTarget::File(file) if is_config_path(path) => {
                Ok(read(&file, snapshot.files[&file])?)
            }
            LinkTarget::Folder if is_config_folder(path) => {
                Err(FileProblem::LinkedFolder { target })
            }
            LinkTarget::Outside if is_config_path(path) => Err(FileProblem::LinkOutside { target }),
            LinkTarget::Nowhere(reason) if is_config_path(path) => {
                Err(FileProblem::BrokenLink { target, reason })
            }
            _ => continue,
        };
        files.push(RepoFile {
            path: path.clone(),
            content,
        });
    }
    Ok(files)
}

/// Writes the blobs, the edited tree and a commit on top of `base`; `None` when the edits change nothing.
fn commit_edits(
    repo: &gix::Repository,
    base: &Snapshot,
    edits: &[ArtifactEdit],
    message: &str,
    author: &Author,
) -> Result<Option<ObjectId>, GitError> {
    let write_error = |e: gix::Error| GitError::Write {
        reason: e.to_string(),
    };
    let mut editor = repo.edit_tree(base.tree).map_err(write_error)?;
    for edit in edits {
        match &edit.content {
            Some(content) => {
                let blob = repo.write_blob(content).map_err(write_error)?;
                editor
                    .upsert(
                        edit.path.as_str(),
                        gix::objs::tree::EntryKind::Blob,
                        blob.detach(),
                    )
                    .map_err(write_error)?;
            }
            None => {
                editor.remove(edit.path.as_str()).map_err(write_error)?;
            }
        }
    }
    let tree = editor.write().map_err(write_error)?.detach();
    if tree == base.tree {
        return Ok(None);
    }
    let signature = gix::actor::Signature {
        name: author.name.as_str().into(),
        email: author.email.as_str().into(),
        time: gix::date::Time::now_utc(),
    };
    let mut time = gix::date::parse::TimeBuf::default();
    let signature = signature.to_ref(&mut time);
    let commit = repo
        .new_commit_as(signature, signature, message, tree, [base.commit])
        .map_err(write_error)?;
    Ok(Some(commit.id))
}

/// The default cache location for a remote: under the user's cache directory, one folder per URL and branch.
pub fn default_cache(url: &str, branch: &str) -> PathBuf {
    use sha2::Digest as _;
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let digest = sha2::Sha256::digest(format!("{url}\n{branch}"));
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    base.join("tollgate").join("git").join(name)
}

/// The newest commit that changed a file, as `git log -1 -- <path>` names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitSummary {
    /// The commit id.
    pub commit: String,
    /// The committer's time.
    pub time: jiff::Timestamp,
    /// The first line of the message.
    pub summary: String,
}

/// Why a local checkout's history could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the Git history of {path}: {reason}")]
pub struct HistoryError {
    /// The folder whose repository was read.
    pub path: PathBuf,
    /// What gix reported.
    pub reason: String,
}

/// For each of `paths` (relative to `root`, a folder inside a Git checkout), the newest commit on the checkout's
/// `HEAD` (first parents, at most `limit` commits back) whose tree holds a different blob at that path than its
/// parent's, i.e. what `git log -1 --first-parent -- <path>` shows. Paths no commit in reach changed are left out;
/// `Ok(None)` when `root` is in no Git repository.
pub fn last_changes(
    root: &Path,
    paths: &[String],
    limit: usize,
) -> Result<Option<BTreeMap<String, CommitSummary>>, HistoryError> {
    let error = |reason: String| HistoryError {
        path: root.to_owned(),
        reason,
    };
    let Ok(repo) = gix::discover(root) else {
        return Ok(None);
    };
    let Some(workdir) = repo.workdir() else {
        return Ok(None);
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).map_err(|e| error(e.to_string()));
    let prefix = canonical(root)?
        .strip_prefix(canonical(workdir)?)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let Ok(head) = repo.head_commit() else {
        // A repository without commits: nothing was published yet.
        return Ok(Some(BTreeMap::new()));
    };
    let in_repo: Vec<(String, String)> = paths
        .iter()
        .map(|path| {
            (
                path.clone(),
                prefix.join(path).to_string_lossy().into_owned(),
            )
        })
        .collect();
    let blob_at =
        |commit: &gix::Commit<'_>, path: &str| -> Result<Option<ObjectId>, HistoryError> {
            let tree = commit.tree().map_err(|e| error(e.to_string()))?;
            let entry = tree
                .lookup_entry_by_path(path)
                .map_err(|e| error(e.to_string()))?;
            Ok(entry.map(|entry| entry.object_id()))
        };
    let mut found = BTreeMap::new();
    let walk = head
        .ancestors()
        .first_parent_only()
        .all()
        .map_err(|e| error(e.to_string()))?;
    let mut newer: Option<(gix::Commit<'_>, Vec<Option<ObjectId>>)> = None;
    for info in walk.take(limit) {
        let info = info.map_err(|e| error(e.to_string()))?;
        let commit = info.object().map_err(|e| error(e.to_string()))?;
        let blobs = in_repo
            .iter()
            .map(|(_, path)| blob_at(&commit, path))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((changed, newer_blobs)) = &newer {
            for (i, (path, _)) in in_repo.iter().enumerate() {
                if newer_blobs[i] != blobs[i]
                    && newer_blobs[i].is_some()
                    && !found.contains_key(path)
                {
                    found.insert(path.clone(), summary(changed).map_err(error)?);
                }
            }
        }
        if found.len() == in_repo.len() {
            return Ok(Some(found));
        }
        newer = Some((commit, blobs));
    }
    // The oldest commit reached added whatever it holds that no newer commit changed.
    if let Some((oldest, blobs)) = &newer {
        for (i, (path, _)) in in_repo.iter().enumerate() {
            if blobs[i].is_some() && !found.contains_key(path) {
                found.insert(path.clone(), summary(oldest).map_err(error)?);
            }
        }
    }
    Ok(Some(found))
}

fn summary(commit: &gix::Commit<'_>) -> Result<CommitSummary, String> {
    let message = commit.message_raw_sloppy().to_str_lossy().into_owned();
    let time = commit.time().map_err(|e| e.to_string())?;
    Ok(CommitSummary {
        commit: commit.id.to_string(),
        time: jiff::Timestamp::from_second(time.seconds).map_err(|e| e.to_string())?,
        summary: message.lines().next().unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration file that is a link: editing the file it leads to (outside the configuration folders)
    /// changes the configuration, and so its fingerprint, though the link itself did not move.
    #[test]
    fn a_linked_file_counts_in_the_configuration_fingerprint() {
        let id = |text: &str| blob_id(text.as_bytes());
        let snapshot = |target_content: &str| Snapshot {
            commit: id("commit"),
            tree: id("tree"),
            files: BTreeMap::from([
                ("settings.yaml".to_owned(), id("settings")),
                ("docs/extra.txt".to_owned(), id(target_content)),
            ]),
            links: BTreeMap::from([("access/extra.yaml".to_owned(), id("../docs/extra.txt"))]),
            link_targets: BTreeMap::from([(
                "access/extra.yaml".to_owned(),
                "../docs/extra.txt".to_owned(),
            )]),
        };
        assert_ne!(
            snapshot("role: view").config_fingerprint(),
            snapshot("role: cluster-admin").config_fingerprint()
        );
    }
}
