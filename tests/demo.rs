//! The README's first command, `scripts/demo`, run as CI runs it: non-interactively, against the real control
//! plane and Git server it starts itself. It must go through every step of the loop and say so in its key lines,
//! and leave nothing running behind.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// The demo program Cargo built next to this test (`cargo test` builds the examples).
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let demo = debug.join("examples/demo");
    assert!(
        demo.is_file(),
        "{} is missing: `cargo test` builds the examples (or run `cargo build --example demo`)",
        demo.display()
    );
    demo
}

#[test]
fn the_demo_runs_the_whole_loop() {
    let output = Command::new(demo_binary())
        .arg("--non-interactive")
        .env("TOLLGATE_BIN", env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(common::root())
        .output()
        .expect("the demo runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the demo failed:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expect = |line: &str| {
        assert!(
            text.contains(line),
            "the demo's output lacks {line:?}:\n{text}"
        );
    };
    // The plan against the live, empty cluster.
    expect("$ tollgate plan --repo access --cluster prod");
    expect("+ ClusterRoleBinding tollgate:view");
    // The controller applied and published; the status says so.
    expect("Applied and published in");
    expect("$ tollgate status");
    // The client files were published in one commit by tollgate.
    expect("Author: tollgate <tollgate@localhost>");
    expect("artifacts/prod/bob-laptop.age");
    expect("-----BEGIN AGE ENCRYPTED FILE-----");
    // bob connects with his client file, and RBAC answers as the repository says.
    expect("system:serviceaccount:tollgate-clients:bob-laptop");
    expect("$ kubectl --kubeconfig bob.kubeconfig auth can-i get pods -n payments: yes");
    expect("$ kubectl --kubeconfig bob.kubeconfig auth can-i get pods/log -n payments: yes");
    expect("$ kubectl --kubeconfig bob.kubeconfig auth can-i delete deployments -n payments: no");
    expect("$ kubectl --kubeconfig bob.kubeconfig auth can-i get secrets -n kube-system: no");
    expect("$ kubectl --kubeconfig bob.kubeconfig auth can-i create deployments -n search: no");
    // A grant added by a commit is applied; a removed client's token is refused and its file removed.
    expect("auth can-i create deployments -n search: yes (applied");
    expect("Unauthorized");
    expect("artifacts/prod/bob-laptop.age is gone from the branch");
    expect("Everything the demo started has stopped");
    // Nothing is left running or lying around: no process names the control plane's folder, and it is gone.
    let folder = text
        .split("its files are in ")
        .nth(1)
        .and_then(|rest| rest.split(".\n").next())
        .expect("the demo names its control plane's folder");
    assert!(
        folder.starts_with(&std::env::temp_dir().display().to_string()),
        "{folder}"
    );
    assert!(
        !std::path::Path::new(folder).exists(),
        "{folder} was left behind"
    );
    let survivors = Command::new("pgrep")
        .args(["-f", folder])
        .output()
        .expect("pgrep runs");
    assert!(
        String::from_utf8_lossy(&survivors.stdout).trim().is_empty(),
        "processes outlived the demo: {}",
        String::from_utf8_lossy(&survivors.stdout)
    );
}
