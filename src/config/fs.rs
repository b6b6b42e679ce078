//! Reads the configuration files of a repository checked out on disk (the I/O edge of loading).

use std::path::{Path, PathBuf};

use super::load::is_config_path;

#[derive(Debug, thiserror::Error)]
pub enum ReadRepositoryError {
    #[error("cannot read the repository at {path}: {source}")]
    Walk {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
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
