//! The repository's past, read from its Git history with gix: the configuration as of a commit or a date, and the
//! first-parent commits of `HEAD` that changed it. An edge (Git I/O): what it reads is then loaded, validated and
//! compiled like any configuration, so that "who could do X then" is answered by the same code as "now".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use jiff::Timestamp;

use crate::config::load::RepoFile;
use crate::git::Snapshot;

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The folder is in no Git repository, or its repository has no commit.
    #[error(
        "{path} is not in a Git repository with commits: --at and timeline read the repository's history"
    )]
    NoRepository {
        /// The folder given.
        path: PathBuf,
    },
    /// A revision that names no commit, or a date before the first commit.
    #[error(
        "`{at}` names no commit of {path}: expected a revision (a commit id, a branch, a tag, HEAD~3) or a date (2026-11-30, or RFC 3339: 2026-11-30T12:00:00Z) at or after the first commit"
    )]
    Unknown {
        /// What was asked.
        at: String,
        /// The repository's folder.
        path: PathBuf,
    },
    /// gix could not read an object.
    #[error("cannot read the Git history of {path}: {reason}")]
    Read {
        /// The repository's folder.
        path: PathBuf,
        /// What gix reported.
        reason: String,
    },
}

/// One commit, as history shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Revision {
    /// The commit id.
    pub commit: String,
    /// The committer's time.
    pub time: Timestamp,
    /// The author's name and email, as `Name <email>`.
    pub author: String,
    /// The first line of the message.
    pub summary: String,
}

/// The Git history of the repository a config root lives in.
pub struct History {
    repo: gix::Repository,
    /// The config root's path inside the repository (`""` at its top), `/`-separated, with a trailing `/`.
    prefix: String,
    root: PathBuf,
}

impl History {
    /// The history of the repository that holds `root` (a config root inside a checkout).
    ///
    /// # Errors
    /// [`HistoryError::NoRepository`] when `root` is in no repository with commits.
    pub fn open(root: &Path) -> Result<History, HistoryError> {
        let none = || HistoryError::NoRepository {
            path: root.to_owned(),
        };
        let repo = gix::discover(root).map_err(|_| none())?;
        let workdir = repo.workdir().ok_or_else(none)?;
        let canonical = |p: &Path| std::fs::canonicalize(p).map_err(|_| none());
        let relative = canonical(root)?
            .strip_prefix(canonical(workdir)?)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut prefix = relative.to_string_lossy().replace('\\', "/");
        if !prefix.is_empty() {
            prefix.push('/');
        }
        repo.head_id().map_err(|_| none())?;
        Ok(History {
            repo,
            prefix,
            root: root.to_owned(),
        })
    }

    fn read(&self, reason: impl std::fmt::Display) -> HistoryError {
        HistoryError::Read {
            path: self.root.clone(),
            reason: reason.to_string(),
        }
    }

    /// The first-parent commits of `HEAD`, newest first.
    ///
    /// # Errors
    /// [`HistoryError::Read`] when a commit cannot be read.
    pub fn first_parent(&self) -> Result<Vec<ObjectId>, HistoryError> {
        let head = self.repo.head_commit().map_err(|e| self.read(e))?;
        let walk = head
            .ancestors()
            .first_parent_only()
            .all()
            .map_err(|e| self.read(e))?;
        walk.map(|info| info.map(|i| i.id).map_err(|e| self.read(e)))
            .collect()
    }

    /// The commit `at` names: a revision as `git rev-parse` reads it, or a date (`YYYY-MM-DD`: the end of that day
    /// in UTC; or an RFC 3339 time), which names the newest first-parent commit of `HEAD` committed at or before
    /// it. Returns the commit and the instant asked about (the date, or the commit's time).
    ///
    /// # Errors
    /// [`HistoryError::Unknown`] when `at` names no commit.
    pub fn resolve(&self, at: &str) -> Result<(ObjectId, Timestamp), HistoryError> {
        let unknown = || HistoryError::Unknown {
            at: at.to_owned(),
            path: self.root.clone(),
        };
        let instant = if let Ok(time) = at.parse::<Timestamp>() {
            Some(time)
        } else if let Ok(date) = at.parse::<jiff::civil::Date>() {
            let end = date
                .to_datetime(jiff::civil::Time::MAX)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map_err(|_| unknown())?;
            Some(end.timestamp())
        } else {
            None
        };
        if let Some(instant) = instant {
            for commit in self.first_parent()? {
                if self.revision(commit)?.time <= instant {
                    return Ok((commit, instant));
                }
            }
            return Err(unknown());
        }
        let commit = self
            .repo
            .rev_parse_single(at)
            .map_err(|_| unknown())?
            .object()
            .map_err(|_| unknown())?
            .peel_to_commit()
            .map_err(|_| unknown())?;
        let time = self.revision(commit.id)?.time;
        Ok((commit.id, time))
    }

    /// One commit's id, time, author and summary.
    ///
    /// # Errors
    /// [`HistoryError::Read`] when it cannot be read.
    pub fn revision(&self, commit: ObjectId) -> Result<Revision, HistoryError> {
        let commit = self.repo.find_commit(commit).map_err(|e| self.read(e))?;
        let time = commit.time().map_err(|e| self.read(e))?;
        let author = commit.author().map_err(|e| self.read(e))?;
        let message = commit.message_raw_sloppy().to_string();
        Ok(Revision {
            commit: commit.id.to_string(),
            time: Timestamp::from_second(time.seconds).map_err(|e| self.read(e))?,
            author: format!("{} <{}>", author.name, author.email),
            summary: message.lines().next().unwrap_or_default().to_owned(),
        })
    }

    /// The config root's files at `commit`, as [`crate::files::read_config_files`] reads them from a folder, and a
    /// digest of them (two commits with one digest configure the same access).
    ///
    /// # Errors
    /// [`HistoryError::Read`] when the tree or a blob cannot be read.
    pub fn config(&self, commit: ObjectId) -> Result<(Vec<RepoFile>, String), HistoryError> {
        let whole = crate::git::snapshot(&self.repo, commit).map_err(|e| self.read(e))?;
        fn under<V>(prefix: &str, paths: BTreeMap<String, V>) -> BTreeMap<String, V> {
            paths
                .into_iter()
                .filter_map(|(path, value)| Some((path.strip_prefix(prefix)?.to_owned(), value)))
                .collect()
        }
        let snapshot = Snapshot {
            commit,
            tree: whole.tree,
            files: under(&self.prefix, whole.files),
            links: under(&self.prefix, whole.links),
            link_targets: under(&self.prefix, whole.link_targets),
        };
        let files = crate::git::config_of(&self.repo, &snapshot).map_err(|e| self.read(e))?;
        Ok((files, snapshot.config_fingerprint()))
    }
}
