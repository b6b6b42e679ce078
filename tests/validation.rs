//! The invalid fixtures: each file under `tests/fixtures/invalid/` is a repository mistake, and its snapshot is the
//! exact diagnostic tollgate prints. Together they document what tollgate rejects.

mod common;

use tollgate::config::load;
use tollgate::diagnostics::{render_text, resolve_all};
use tollgate::validate::validate;

#[test]
fn every_invalid_fixture_fails_with_its_diagnostic() {
    let base =
        std::fs::read(common::root().join("tests/fixtures/base.yaml")).expect("base fixture");
    let mut count = 0;
    insta::glob!("fixtures/invalid/*.yaml", |path| {
        count += 1;
        let text = std::fs::read(path).expect("fixture");
        let name = path
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let mut files = vec![(name.clone(), text.clone())];
        if !text.starts_with(b"# standalone") {
            files.push(("base.yaml".to_owned(), base.clone()));
        }
        let loaded = load(files);
        let validation = validate(&loaded, common::now());
        let expects_error = !matches!(
            name.as_str(),
            "expired-grant.yaml" | "unused-group.yaml" | "exec-create-only.yaml"
        );
        assert_eq!(
            validation.has_errors(),
            expects_error,
            "{name}: {:?}",
            validation.diagnostics
        );
        assert_eq!(validation.model.is_none(), expects_error);
        assert!(
            !validation.diagnostics.is_empty(),
            "{name} produced no diagnostic"
        );
        let resolved = resolve_all(&validation.diagnostics, &loaded.sources);
        // Every diagnostic about a file names a line and column.
        for d in &resolved {
            if d.file.is_some() {
                assert!(d.line.is_some() && d.column.is_some(), "{name}: {d:?}");
            }
        }
        insta::assert_snapshot!(render_text(&resolved));
    });
    assert!(count >= 30, "only {count} invalid fixtures");
}

#[test]
fn the_base_fixture_is_valid_without_warnings() {
    let base =
        std::fs::read(common::root().join("tests/fixtures/base.yaml")).expect("base fixture");
    let loaded = load([("base.yaml".to_owned(), base)]);
    let validation = validate(&loaded, common::now());
    assert!(
        validation.diagnostics.is_empty(),
        "{:?}",
        validation.diagnostics
    );
    assert!(validation.model.is_some());
}

#[test]
fn the_example_repo_is_valid_without_warnings() {
    let loaded = common::example_repo();
    let validation = validate(&loaded, common::now());
    let resolved = resolve_all(&validation.diagnostics, &loaded.sources);
    assert!(resolved.is_empty(), "{}", render_text(&resolved));
    let model = validation.model.expect("a model");
    assert_eq!(model.users.len(), 8);
    assert_eq!(model.groups.len(), 3);
    assert_eq!(model.clients.len(), 4);
    assert_eq!(model.environments.len(), 2);
}

#[test]
fn every_example_file_points_at_its_schema() {
    for file in tollgate::files::read_config_files(&common::root().join("example-repo")).unwrap() {
        let path = file.path;
        let text = String::from_utf8(file.content.expect("readable")).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let schema = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{path} does not start with a schema line"));
        let depth = path.matches('/').count();
        let target = schema
            .strip_prefix(&"../".repeat(depth + 1))
            .expect("relative to the repository root");
        assert!(
            common::root().join(target).is_file(),
            "{path}: {schema} does not exist"
        );
    }
}

/// Cases a YAML fixture cannot hold: bytes that are not text, symbolic links, sizes. Each is a repository built
/// on disk and read as `tollgate validate` reads it (the file-system edge, then load and validate); its snapshot
/// is the exact diagnostic, or `valid` for what must be accepted.
#[test]
fn every_file_level_case_has_its_diagnostic() {
    use std::os::unix::fs::symlink;
    use tollgate::config::load::{MAX_FILE_BYTES, MAX_FILE_VALUES};

    let base =
        std::fs::read(common::root().join("tests/fixtures/base.yaml")).expect("base fixture");
    let user = |name: &str| {
        format!(
            "apiVersion: tollgate.dev/v1alpha1\nkind: User\nmetadata: {{name: {name}}}\nspec:\n  recipients: \
             [age1vvt90s66tgdf8d98cwr950v62nxa39f7j2qpx64p3ul436uwesdsck8y8m]\n"
        )
    };
    type Setup = Box<dyn Fn(&std::path::Path)>;
    let write = |path: &std::path::Path, bytes: &[u8]| {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    };
    let cases: Vec<(&str, Setup)> = vec![
        (
            "not-utf8",
            Box::new(move |d| {
                write(
                    &d.join("carol.yaml"),
                    b"apiVersion: tollgate.dev/v1alpha1\nkind: User\nmetadata: {name: caf\xe9}\n",
                );
            }),
        ),
        (
            "binary",
            Box::new(move |d| write(&d.join("blob.yaml"), b"\x7fELF\x02\x01\x01\x00\x00\x00")),
        ),
        (
            "byte-order-mark",
            Box::new(move |d| {
                write(
                    &d.join("carol.yaml"),
                    format!("\u{feff}{}", user("carol")).as_bytes(),
                );
            }),
        ),
        (
            "crlf",
            Box::new(move |d| {
                write(
                    &d.join("carol.yaml"),
                    user("carol").replace('\n', "\r\n").as_bytes(),
                );
            }),
        ),
        (
            "empty-file",
            Box::new(move |d| write(&d.join("empty.yaml"), b"")),
        ),
        (
            "link-outside",
            Box::new(move |d| symlink("/etc/hostname", d.join("host.yaml")).expect("link")),
        ),
        (
            "link-inside",
            Box::new(move |d| {
                write(&d.join(".shared/carol.yaml"), user("carol").as_bytes());
                std::fs::create_dir_all(d.join("users")).expect("mkdir");
                symlink("../.shared/carol.yaml", d.join("users/carol.yaml")).expect("link");
            }),
        ),
        (
            "broken-link",
            Box::new(move |d| symlink("nowhere.yaml", d.join("carol.yaml")).expect("link")),
        ),
        (
            "link-loop",
            Box::new(move |d| {
                symlink("b.yaml", d.join("a.yaml")).expect("link");
                symlink("a.yaml", d.join("b.yaml")).expect("link");
            }),
        ),
        (
            "linked-folder",
            Box::new(move |d| symlink("..", d.join("up")).expect("link")),
        ),
        (
            "too-large",
            Box::new(move |d| {
                let mut text = user("carol");
                text.push_str(&"# padding\n".repeat((MAX_FILE_BYTES as usize) / 10 + 1));
                write(&d.join("carol.yaml"), text.as_bytes());
            }),
        ),
        (
            "too-many-values",
            Box::new(move |d| {
                let items = vec!["a"; MAX_FILE_VALUES + 1].join(",");
                write(
                    &d.join("list.yaml"),
                    format!("items: [{items}]\n").as_bytes(),
                );
            }),
        ),
        (
            "deep-nesting",
            Box::new(move |d| {
                write(
                    &d.join("deep.yaml"),
                    format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)).as_bytes(),
                );
            }),
        ),
        (
            "merge-keys",
            Box::new(move |d| {
                // dtolnay/serde-yaml#202: `<<: *anchor` is applied, as YAML 1.1 and kubectl users expect.
                write(&d.join("access.yaml"), b"apiVersion: tollgate.dev/v1alpha1\nkind: UserAccess\nmetadata: {name: ops}\nspec:\n  subjects: {users: [alice]}\n  grants:\n    - &prod {role: view, cluster: prod, namespaces: [payments]}\n    - <<: *prod\n      role: logs\n");
            }),
        ),
    ];
    for (name, setup) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("base.yaml"), &base).expect("base");
        setup(dir.path());
        let files = tollgate::files::read_config_files(dir.path()).expect("the walk succeeds");
        let loaded = load(files);
        let validation = validate(&loaded, common::now());
        let resolved = resolve_all(&validation.diagnostics, &loaded.sources);
        let text = if validation.model.is_some() && resolved.is_empty() {
            format!("valid: {} documents\n", loaded.documents.len())
        } else {
            render_text(&resolved)
        };
        insta::assert_snapshot!(format!("file_level_{name}"), text);
        if name == "merge-keys" {
            let model = validation.model.expect("valid");
            let logs = model
                .grants
                .iter()
                .find(|g| g.access == "ops" && format!("{:?}", g.target).contains("Logs"));
            let logs = logs.expect("the merged grant");
            assert_eq!(logs.cluster, "prod");
            assert!(
                logs.namespaces
                    .as_ref()
                    .is_some_and(|n| n.iter().any(|n| n == "payments"))
            );
        }
    }
}

/// No file of any shape makes validation hang or hold much memory: each runs in the binary, whose peak
/// resident memory is read back, against a budget of 64 MiB (the process itself) plus 10 times the repository.
#[test]
fn no_shape_of_file_takes_long_or_much_memory() {
    let shapes: Vec<(&str, String)> = vec![
        ("ten-megabytes", "# x\n".repeat(2_600_000)),
        (
            "dense-flow-list",
            format!("items: [{}]\n", vec!["a"; 99_000].join(",")),
        ),
        (
            "dense-block-list",
            format!("items:\n{}", "- a\n".repeat(99_000)),
        ),
        (
            "deep-nesting",
            format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        ("long-string", format!("a: {}\n", "x".repeat(1_000_000))),
        ("alias-bomb", {
            let mut s = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_owned();
            for i in 1..9 {
                let p = i - 1;
                s.push_str(&format!(
                    "a{i}: &a{i} [{}]\n",
                    vec![format!("*a{p}"); 10].join(", ")
                ));
            }
            s
        }),
    ];
    for (name, text) in shapes {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("shape.yaml"), &text).expect("write");
        let started = std::time::Instant::now();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["validate", "--repo"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tollgate runs");
        let status = wait_with_peak_memory(child);
        let elapsed = started.elapsed();
        assert_eq!(status.0.code(), Some(1), "{name} is refused or reported");
        let budget = 64 * 1024 * 1024 + 10 * text.len() as u64;
        assert!(
            status.1 < budget,
            "{name}: peak {} bytes > {budget}",
            status.1
        );
        assert!(
            elapsed < std::time::Duration::from_secs(10),
            "{name} took {elapsed:?}"
        );
    }
}

/// Waits for `child` and returns its exit status and peak resident set size in bytes (its `VmHWM`, sampled
/// until it exits, then the kernel's `ru_maxrss` of waited-for children, whichever is larger).
fn wait_with_peak_memory(mut child: std::process::Child) -> (std::process::ExitStatus, u64) {
    let mut peak = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            for line in text.lines() {
                if let Some(kb) = line.strip_prefix("VmHWM:") {
                    let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                    peak = peak.max(kb * 1024);
                }
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
