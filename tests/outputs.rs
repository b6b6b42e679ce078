//! Everything tollgate writes is read back by the program that consumes it: rendered objects and kubeconfigs by
//! kubectl's own YAML reader (sigs.k8s.io/yaml, YAML 1.1, as the `y2j` filter built with the control plane),
//! kubeconfigs by kubectl itself, and names composed from two parts never collide when kubectl merges files.

mod common;
mod harness;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{assert_success, stdout};
use serde_json::Value;
use tollgate::compile::{CompileContext, compile};
use tollgate::credentials::client_file::ClientFile;
use tollgate::pipeline::check;

/// What kubectl reads from `yaml`: every document, as JSON.
fn as_kubectl_reads(yaml: &str) -> Vec<Value> {
    let mut child = Command::new(harness::binaries().join("y2j"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("y2j runs (scripts/control-plane builds it)");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), yaml.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("y2j ends");
    assert_success(&output);
    serde_json::from_slice(&output.stdout).expect("y2j prints JSON")
}

fn tollgate(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tollgate runs")
}

#[test]
fn kubectl_reads_every_rendered_object_as_compiled() {
    let cases = [
        ("example-repo", "prod"),
        ("example-repo", "staging"),
        // Namespaces called `no`, `on`, `off`, `yes`, `y` and `n`: booleans to a YAML 1.1 reader.
        ("tests/fixtures/cases/yaml11-render/repo", "staging"),
    ];
    for (repo, cluster) in cases {
        let output = tollgate(
            &common::root(),
            &[
                "render",
                "--repo",
                repo,
                "--cluster",
                cluster,
                "--now",
                "2026-11-22T12:00:00Z",
            ],
        );
        assert_success(&output);
        let read = as_kubectl_reads(&stdout(&output));
        let checked = check(&common::load_dir(&common::root().join(repo)), common::now())
            .unwrap_or_else(|e| panic!("{repo}: {e}"));
        let desired = compile(
            &checked.model,
            &CompileContext {
                cluster,
                now: common::now(),
                revision: None,
            },
        )
        .expect("compiles");
        let compiled: Vec<Value> = desired
            .objects
            .values()
            .map(tollgate::objects::Manifest::value)
            .collect();
        assert_eq!(read.len(), compiled.len(), "{repo}/{cluster}");
        for (read, compiled) in read.iter().zip(&compiled) {
            assert_eq!(
                read, compiled,
                "{repo}/{cluster}: kubectl reads another object"
            );
        }
    }
    // Control characters JSON leaves as they are (DEL, NEL, C1): escaped, so kubectl's reader reads them back.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        common::root().join("tests/fixtures/base.yaml"),
        dir.path().join("base.yaml"),
    )
    .expect("copy");
    std::fs::write(
        dir.path().join("shell.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: shell}\nspec:\n  image: alpine\n  \
         namespace: sessions-shell\n  banner: \"hello\\x7Fworld \\u0085 next\"\n  workingDir: \"/a\\u0085b\"\n",
    )
    .expect("write");
    let output = tollgate(
        &common::root(),
        &[
            "render",
            "--repo",
            dir.path().to_str().expect("UTF-8"),
            "--cluster",
            "prod",
        ],
    );
    assert_success(&output);
    let template = as_kubectl_reads(&stdout(&output))
        .into_iter()
        .find(|o| o["kind"] == "PodTemplate")
        .expect("the session template");
    assert_eq!(
        template["metadata"]["annotations"]["tollgate.dev/banner"],
        "hello\u{7f}world \u{85} next"
    );
    assert_eq!(
        template["template"]["spec"]["containers"][0]["workingDir"],
        "/a\u{85}b"
    );

    // The case that failed: six RoleBindings whose namespaces stay strings.
    let output = tollgate(
        &common::root(),
        &[
            "render",
            "--repo",
            "tests/fixtures/cases/yaml11-render/repo",
            "--cluster",
            "staging",
        ],
    );
    let namespaces: Vec<Value> = as_kubectl_reads(&stdout(&output))
        .into_iter()
        .filter(|o| o["kind"] == "RoleBinding")
        .map(|o| o["metadata"]["namespace"].clone())
        .collect();
    for expected in ["no", "on", "off", "yes", "y", "n"] {
        assert!(
            namespaces.contains(&Value::from(expected)),
            "{namespaces:?}"
        );
    }
}

#[test]
fn kubeconfigs_read_back_and_never_share_names_when_merged() {
    let cases = common::root().join("tests/fixtures/cases/kubeconfig-name-collision");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut paths = Vec::new();
    for (file, out) in [
        ("eu.west-laptop.json", "a.cfg"),
        ("eu-west.laptop.json", "b.cfg"),
    ] {
        let path = dir.path().join(out);
        let output = tollgate(
            dir.path(),
            &[
                "client",
                "kubeconfig",
                cases.join(file).to_str().expect("UTF-8"),
                "-o",
                path.to_str().expect("UTF-8"),
            ],
        );
        assert_success(&output);
        let text = std::fs::read_to_string(&path).expect("written");
        // kubectl's reader sees exactly what tollgate meant.
        let meant: Value = serde_yaml::from_str(&text).expect("YAML");
        assert_eq!(as_kubectl_reads(&text), vec![meant.clone()]);
        let file = ClientFile::parse(file, &std::fs::read(cases.join(file)).expect("case"))
            .expect("a client file");
        assert_eq!(
            meant["users"][0]["user"]["token"],
            file.kubernetes.token.as_str()
        );
        paths.push(path);
    }
    let merged = std::env::join_paths(&paths).expect("paths");
    let kubectl = |args: &[&str]| {
        let output = Command::new(harness::binaries().join("kubectl"))
            .args(args)
            .env("KUBECONFIG", &merged)
            .output()
            .expect("kubectl runs");
        assert_success(&output);
        stdout(&output)
    };
    let contexts = kubectl(&["config", "get-contexts", "-o", "name"]);
    let mut contexts: Vec<&str> = contexts.lines().collect();
    contexts.sort_unstable();
    assert_eq!(contexts, ["eu-west/laptop", "eu/west-laptop"]);
    let servers = kubectl(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.clusters[*].cluster.server}",
    ]);
    let mut servers: Vec<&str> = servers.split_whitespace().collect();
    servers.sort_unstable();
    assert_eq!(
        servers,
        [
            "https://eu-west.k8s.example.com:6443",
            "https://eu.k8s.example.com:6443"
        ]
    );
    // Each context reaches its own cluster with its own token.
    for (context, server, token) in [
        (
            "eu/west-laptop",
            "https://eu.k8s.example.com:6443",
            "token-of-eu-west-laptop",
        ),
        (
            "eu-west/laptop",
            "https://eu-west.k8s.example.com:6443",
            "token-of-eu-west/laptop",
        ),
    ] {
        let minified = kubectl(&[
            "config",
            "view",
            "--raw",
            "--minify",
            "--context",
            context,
            "-o",
            "json",
        ]);
        let minified: Value = serde_json::from_str(&minified).expect("JSON");
        assert_eq!(
            minified["clusters"][0]["cluster"]["server"], server,
            "{context}"
        );
        assert_eq!(minified["users"][0]["user"]["token"], token, "{context}");
    }
}
