//! The file-system edge: the configuration files of a repository checked out on disk, and saved plans. The pure
//! core (config, validate, compile, plan, render) takes what is read here as values and never opens a file.

use std::path::{Path, PathBuf};

use crate::config::load::{
    FileProblem, MAX_FILE_BYTES, RepoFile, is_config_folder, is_config_path,
};
use crate::plan::saved::{SavedPlan, SavedPlanError};

/// Why the configuration files of a checkout cannot be read at all. (A single file that cannot be read is a
/// [`FileProblem`] of that file, reported by validation with the rest.)
#[derive(Debug, thiserror::Error)]
pub enum ReadRepositoryError {
    /// The repository's root is missing or not a folder, or a folder in it cannot be listed.
    #[error("cannot read the repository at {}: {reason}", path.display())]
    Walk {
        /// The folder that cannot be read.
        path: PathBuf,
        /// The operating system's reason, e.g. "No such file or directory (os error 2)".
        reason: String,
    },
}

/// Every configuration file under `root` (`*.yaml`, `*.yml`; not under `artifacts/` or dot-folders), by
/// `/`-separated path relative to `root`, in path order.
///
/// Symbolic links are never followed blindly: a link to a file inside the repository is read as that file; a
/// link that leaves the repository, leads nowhere or loops, and a link to a folder, come back as a
/// [`FileProblem`] of the link, so that validation names each one. A file over [`MAX_FILE_BYTES`] is not read.
///
/// Errors: [`ReadRepositoryError::Walk`] when `root` or a folder under it cannot be listed.
pub fn read_config_files(root: &Path) -> Result<Vec<RepoFile>, ReadRepositoryError> {
    let walk_error = |path: &Path, reason: String| ReadRepositoryError::Walk {
        path: path.to_owned(),
        reason,
    };
    let canonical_root =
        std::fs::canonicalize(root).map_err(|error| walk_error(root, error.to_string()))?;
    if !canonical_root.is_dir() {
        return Err(walk_error(root, "not a folder".to_owned()));
    }
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
        });
    for entry in walker {
        let entry = entry.map_err(|error| {
            let path = error.path().unwrap_or(root).to_owned();
            let reason = error
                .io_error()
                .map_or_else(|| error.to_string(), ToString::to_string);
            walk_error(&path, reason)
        })?;
        let relative = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir yields paths under its root");
        let relative: Vec<_> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        let relative = relative.join("/");
        let content = if entry.path_is_symlink() {
            match follow_link(entry.path(), &canonical_root, &relative) {
                Some(content) => content,
                None => continue,
            }
        } else if is_config_path(&relative) && !entry.file_type().is_dir() {
            // A regular file; anything else with a configuration name (a pipe, a device) is named, not read.
            read_capped(entry.path())
        } else {
            continue;
        };
        files.push(RepoFile {
            path: relative,
            content,
        });
    }
    Ok(files)
}

/// What a symbolic link at `path` (`relative` in the repository) contributes: the target file's bytes when it is
/// a configuration file inside the repository, a problem to report, or `None` when it is not configuration.
fn follow_link(
    path: &Path,
    canonical_root: &Path,
    relative: &str,
) -> Option<Result<Vec<u8>, FileProblem>> {
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    let resolved = match std::fs::canonicalize(path) {
        Ok(resolved) => resolved,
        Err(error) => {
            return is_config_path(relative).then(|| {
                Err(FileProblem::BrokenLink {
                    target,
                    reason: error.to_string(),
                })
            });
        }
    };
    if resolved.is_dir() {
        return is_config_folder(relative).then_some(Err(FileProblem::LinkedFolder { target }));
    }
    if !is_config_path(relative) {
        return None;
    }
    if !resolved.starts_with(canonical_root) {
        return Some(Err(FileProblem::LinkOutside { target }));
    }
    Some(read_capped(&resolved))
}

/// A file's bytes, unless it is larger than [`MAX_FILE_BYTES`] (then it is not read at all).
fn read_capped(path: &Path) -> Result<Vec<u8>, FileProblem> {
    let unreadable = |error: std::io::Error| FileProblem::Unreadable {
        reason: error.to_string(),
    };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    // A pipe would block the read forever and a device never end: only regular files are read.
    if !metadata.is_file() {
        return Err(FileProblem::Unreadable {
            reason: "not a regular file (a pipe, a socket or a device)".to_owned(),
        });
    }
    let size = metadata.len();
    if size > MAX_FILE_BYTES {
        return Err(FileProblem::TooLarge { size });
    }
    std::fs::read(path).map_err(unreadable)
}

/// Reads a plan saved with `tollgate plan --out FILE`.
///
/// Errors: [`SavedPlanError::Read`] when the file cannot be read, else what [`SavedPlan::parse`] finds.
pub fn read_saved_plan(path: &Path) -> Result<SavedPlan, SavedPlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read {
        path: path.to_owned(),
        source,
    })?;
    SavedPlan::parse(path, &text)
}
