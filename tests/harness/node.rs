//! A real node for the tests: containerd and a kubelet registered with a [`ControlPlane`], started by
//! `tests/node/start.sh` with their state in a temporary folder, and stopped (containers, mounts, the CNI bridge)
//! by `tests/node/stop.sh` when dropped, or by the script's watcher if the test process dies. It runs the local
//! images `localhost/busybox:test` and `localhost/pause:test` (made from Debian's busybox; no registry), so pods
//! need `imagePullPolicy: Never` or `IfNotPresent`. One node at a time on a machine: it uses a fixed CNI bridge.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ControlPlane;

/// The image session pods in tests run: busybox, imported into the node by `start.sh`.
pub const BUSYBOX_IMAGE: &str = "localhost/busybox:test";
/// The node's name, also its address as the API server sees it.
pub const NODE_NAME: &str = "127.0.0.1";

pub struct Node {
    dir: tempfile::TempDir,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/node")
        .join(name)
}

impl Node {
    /// Starts containerd and the kubelet against `plane` and waits until the Node is Ready (a few seconds).
    pub fn start(plane: &ControlPlane) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("tollgate-node-")
            .tempdir()
            .expect("temp dir");
        let output = Command::new(script("start.sh"))
            .arg(&plane.server)
            .arg(&plane.kubeconfig)
            .arg(dir.path())
            .arg(NODE_NAME)
            .env("K8S_BIN", &plane.bin)
            .env("PARENT_PID", std::process::id().to_string())
            .output()
            .expect("tests/node/start.sh runs");
        assert!(
            output.status.success(),
            "the node did not start:\n{}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(dir.path().join("kubelet.log"))
                .unwrap_or_default()
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
        Node { dir }
    }

    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
            .unwrap_or_default();
        let lines: Vec<_> = text.lines().rev().take(40).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new(script("stop.sh"))
            .arg(self.dir.path())
            .status();
    }
}
