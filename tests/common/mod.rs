//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use jiff::Timestamp;
use tollgate::config::{LoadedRepository, load};
use tollgate::files::read_config_files;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixed "now" of every test, so expiries in fixtures behave the same on any day.
pub fn now() -> Timestamp {
    "2026-11-22T12:00:00Z".parse().expect("a valid timestamp")
}

pub fn load_dir(dir: &Path) -> LoadedRepository {
    load(read_config_files(dir).expect("the repository is readable"))
}

pub fn example_repo() -> LoadedRepository {
    load_dir(&root().join("example-repo"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}
