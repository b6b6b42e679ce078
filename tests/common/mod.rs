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

/// A copy of example-repo that a test may edit.
pub fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = root().join("example-repo");
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.expect("example-repo entry");
        let relative = entry.path().strip_prefix(&from).expect("inside");
        let target = dir.path().join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
    dir
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

/// Runs `args` on a new pseudo-terminal (its controlling terminal), types `typed` when asked for a passphrase, and
/// returns everything the terminal showed and the exit code.
pub fn on_terminal(args: &[&str], typed: &str) -> (String, i32) {
    let script = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
typed = False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not typed and b"Passphrase for" in seen:
        os.write(fd, os.environ["TYPED"].encode() + b"\n")
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("TYPED", typed)
        .output()
        .expect("python3 runs");
    (stdout(&output), output.status.code().unwrap_or(-1))
}
