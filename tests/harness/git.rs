//! A real Git server for tests: `git daemon` on loopback serving one bare repository with pushes enabled, plus a
//! working clone the test commits through (as a person merging a change would). Stopped when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use super::{free_port, spawn};

pub struct GitServer {
    pub dir: tempfile::TempDir,
    /// `git://127.0.0.1:PORT/access.git`
    pub url: String,
    pub bare: PathBuf,
    /// A working clone the test edits and pushes from.
    pub work: PathBuf,
    daemon: Child,
}

/// Runs the stock `git` with a fixed identity and no user or system configuration.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Test Person",
            "-c",
            "user.email=person@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("the stock git runs");
    assert!(
        output.status.success(),
        "git {args:?} in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl GitServer {
    /// Serves a repository whose `main` branch holds a copy of `content` in its first commit.
    pub fn start(content: &Path) -> GitServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let bare = dir.path().join("repos/access.git");
        std::fs::create_dir_all(&bare).expect("mkdir");
        git(&bare, &["init", "--bare", "--quiet"]);
        let port = free_port();
        let mut command = Command::new("git");
        command
            .arg("daemon")
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--enable=receive-pack")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!(
                "--base-path={}",
                dir.path().join("repos").display()
            ))
            .arg(dir.path().join("repos"));
        let (_, daemon) = spawn("git-daemon", command, &dir.path().join("git-daemon.log"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "git daemon did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let url = format!("git://127.0.0.1:{port}/access.git");
        let work = dir.path().join("work");
        git(dir.path(), &["clone", "--quiet", &url, "work"]);
        copy_tree(content, &work);
        let server = GitServer {
            dir,
            url,
            bare,
            work,
            daemon,
        };
        server.commit_and_push("Initial access configuration");
        server
    }

    /// Commits everything in the working clone and pushes it (after taking in what tollgate pushed meanwhile).
    pub fn commit_and_push(&self, message: &str) {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        let has_main = !text(&git(&self.work, &["ls-remote", "origin", "main"])).is_empty();
        if has_main {
            git(
                &self.work,
                &["pull", "--quiet", "--rebase", "origin", "main"],
            );
        }
        git(&self.work, &["push", "--quiet", "origin", "HEAD:main"]);
    }

    /// The branch head as the server has it.
    pub fn head(&self) -> String {
        text(&git(&self.bare, &["rev-parse", "main"]))
    }

    pub fn commit_count(&self) -> usize {
        text(&git(&self.bare, &["rev-list", "--count", "main"]))
            .parse()
            .expect("a count")
    }

    /// A fresh clone with the stock `git`, as a developer would make it.
    pub fn clone_fresh(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["clone", "--quiet", &self.url, "clone"]);
        dir
    }

    /// Every blob and commit message ever stored on the server, for secret scanning.
    pub fn every_object(&self) -> Vec<Vec<u8>> {
        let listing = git(&self.bare, &["rev-list", "--all", "--objects"]);
        let mut objects = Vec::new();
        for line in text(&listing).lines() {
            let id = line.split(' ').next().expect("an object id");
            objects.push(git(&self.bare, &["cat-file", "-p", id]).stdout);
        }
        objects
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("readable entry");
        let relative = entry.path().strip_prefix(from).expect("inside");
        let target = to.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
