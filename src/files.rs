//! The file-system edge: the configuration files of a repository checked out on disk, and saved plans. The pure
//! core (config, validate, compile, plan, render) takes what is read here as values and never opens a file.

use std::path::{Path, PathBuf};

use crate::config::load::is_config_path;
use crate::plan::saved::{SavedPlan, SavedPlanError};

/// Why the configuration files of a checkout cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadRepositoryError {
    /// Walking the directory tree failed, e.g. on a directory that cannot be listed.
    #[error("cannot read the repository at {path}: {source}")]
    Walk {
        /// The repository's root.
        path: PathBuf,
        /// walkdir's error, which names the entry it failed on.
        #[source]
        source: walkdir::Error,
    },
    /// A configuration file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Every configuration file under `root`, as (`/`-separated path relative to `root`, bytes).
pub fn read_config_files(root: &Path) -> Result<Vec<(String, Vec<u8>)>, ReadRepositoryError> {
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
        });
    for entry in walker {
        let entry = entry.map_err(|source| ReadRepositoryError::Walk {
            path: root.to_owned(),
            source,
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir yields paths under its root");
        let relative: Vec<_> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        let relative = relative.join("/");
        if !is_config_path(&relative) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(|source| ReadRepositoryError::Read {
            path: entry.path().to_owned(),
            source,
        })?;
        files.push((relative, bytes));
    }
    Ok(files)
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
