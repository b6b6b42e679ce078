//! What people read before they run anything: every command's `--help`, with its examples (snapshots), and the
//! generated completion scripts and manual pages, which must be exactly what the clap definitions give
//! (`tollgate completions --out dist`), as the schemas must be what the types give.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

/// Every command path, as typed after `tollgate`.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["validate"],
    &["render"],
    &["plan"],
    &["apply"],
    &["controller"],
    &["status"],
    &["gateway"],
    &["session-gateway"],
    &["sessions"],
    &["connect"],
    &["client"],
    &["client", "kubeconfig"],
    &["client", "wg-config"],
    &["client", "update-kubeconfig"],
    &["client", "get-token"],
    &["client", "new"],
    &["client", "inspect"],
    &["clients"],
    &["who-can"],
    &["can"],
    &["timeline"],
    &["schema"],
    &["completions"],
];

fn tollgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(common::root())
        .output()
        .expect("the binary runs")
}

#[test]
fn every_command_has_help_with_examples() {
    for command in COMMANDS {
        let output = tollgate(&[command, &["--help"][..]].concat());
        assert_eq!(output.status.code(), Some(0), "{command:?} --help");
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        // Leaf commands show how they are used; groups list their subcommands.
        let is_group = command.is_empty() || *command == ["client"];
        if !is_group {
            assert!(
                text.contains("Examples:\n  tollgate "),
                "`tollgate {}` --help has no example:\n{text}",
                command.join(" ")
            );
        }
        let name = if command.is_empty() {
            "tollgate".to_owned()
        } else {
            format!("tollgate-{}", command.join("-"))
        };
        insta::assert_snapshot!(format!("help_{name}"), text);
    }
}

#[test]
fn every_command_is_in_the_list_above() {
    // A new command must get a help snapshot: compare with what `tollgate --help` lists.
    let text = String::from_utf8(tollgate(&["--help"]).stdout).expect("UTF-8");
    let listed: BTreeSet<&str> = text
        .split("Commands:\n")
        .nth(1)
        .expect("a command list")
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    let known: BTreeSet<&str> = COMMANDS.iter().filter_map(|c| c.first().copied()).collect();
    assert_eq!(listed, known);
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.expect("readable");
        if entry.file_type().is_file() {
            let relative = entry.path().strip_prefix(dir).expect("inside");
            found.insert(relative.to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
fn committed_completions_and_manual_pages_match_the_cli() {
    let out = tempfile::tempdir().expect("temp dir");
    let output = tollgate(&["completions", "--out", out.path().to_str().expect("UTF-8")]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let generated = files_under(out.path());
    let committed = files_under(&common::root().join("dist"));
    for expected in [
        "completions/tollgate.bash",
        "completions/_tollgate",
        "man/tollgate.1",
        "man/tollgate-plan.1",
    ] {
        assert!(
            generated.contains(expected),
            "{expected} is generated: {generated:?}"
        );
    }
    assert_eq!(
        committed, generated,
        "dist/ holds other files than the CLI generates: run `cargo run -- completions --out dist`"
    );
    for name in &generated {
        let fresh = std::fs::read(out.path().join(name)).expect("generated");
        let kept = std::fs::read(common::root().join("dist").join(name)).expect("committed");
        assert!(
            fresh == kept,
            "dist/{name} is out of date: run `cargo run -- completions --out dist`"
        );
    }
    // What `tollgate completions SHELL` prints is the committed script.
    let bash = tollgate(&["completions", "bash"]);
    assert_eq!(
        bash.stdout,
        std::fs::read(common::root().join("dist/completions/tollgate.bash")).expect("committed")
    );
}

#[test]
fn man_reads_the_manual_pages() {
    let page = common::root().join("dist/man/tollgate-plan.1");
    let output = Command::new("man")
        .args(["-P", "cat", "-l"])
        .arg(&page)
        .env("MANWIDTH", "100")
        .output()
        .expect("man runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "tollgate-plan - Show what would change",
        "--detailed-exitcode",
        "Examples:",
    ] {
        assert!(
            text.contains(expected),
            "man shows no {expected:?}:\n{text}"
        );
    }
}

#[test]
fn the_bash_completion_completes_commands_and_flags() {
    // Load the generated script into a real bash and ask it, as the shell does on <Tab>.
    let script = common::root().join("dist/completions/tollgate.bash");
    let ask = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; _tollgate tollgate '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let output = Command::new("bash")
            .args(["-c", &program])
            .output()
            .expect("bash runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let commands = ask("tollgate pl");
    assert_eq!(commands, ["plan"]);
    let flags = ask("tollgate plan --detail");
    assert_eq!(flags, ["--detailed-exitcode"]);
}
