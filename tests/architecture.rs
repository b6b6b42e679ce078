//! The rule that keeps the core testable without a cluster: config, validate, compile, plan and render (and the
//! data they share: diagnostics, objects, schema) never see a kube client, Git, the async runtime, the file system,
//! a process, the network, the environment or the clock. What they need of the outside world is passed in as
//! values. This test holds the rule in CI (ARCHITECTURE.md explains it).

mod common;

use std::path::{Path, PathBuf};

/// The pure core, as paths under `src/`.
const CORE: &[&str] = &[
    "config",
    "validate",
    "compile",
    "plan",
    "render",
    "diagnostics.rs",
    "lenient.rs",
    "objects.rs",
    "rbac.rs",
    "schema.rs",
    "question.rs",
    "signing.rs",
    "text.rs",
    "who.rs",
    "credentials/addresses.rs",
    "credentials/client_file.rs",
    "credentials/kubeconfig.rs",
    "wireguard/peers.rs",
    "wireguard/reach.rs",
    "sessions/directory.rs",
    "sessions/pod.rs",
];

/// What the core must not name, and why. Each pattern is a path prefix matched at an identifier boundary in code
/// (comments and string literals are ignored).
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "kube::",
        "the Kubernetes client (I/O belongs in `cluster`, `apply`, `credentials`)",
    ),
    // The client's crates (`k8s_openapi::kube_aggregator` is types, as the rest of k8s-openapi).
    ("kube_client", "the Kubernetes client"),
    ("kube_runtime", "the Kubernetes client"),
    ("gix::", "Git (I/O belongs in `git`)"),
    ("gix_", "Git"),
    ("tokio", "the async runtime"),
    ("reqwest", "the network"),
    ("walkdir", "the file system (I/O belongs in `files`)"),
    ("std::fs", "the file system (I/O belongs in `files`)"),
    ("std::process", "processes"),
    // Addresses (`IpAddr`, `SocketAddr`) are values; sockets are I/O.
    ("TcpStream", "the network"),
    ("TcpListener", "the network"),
    ("UdpSocket", "the network"),
    ("ToSocketAddrs", "the network (name resolution)"),
    ("std::env", "the environment"),
    ("std::time::SystemTime", "the clock (take `now` as a value)"),
    ("std::time::Instant", "the clock"),
    ("SystemTime::now", "the clock"),
    ("Instant::now", "the clock"),
    ("Timestamp::now", "the clock"),
    ("Zoned::now", "the clock"),
    ("Utc::now", "the clock"),
    ("Local::now", "the clock"),
    ("crate::cluster", "the cluster edge"),
    ("crate::git", "the Git edge"),
    ("crate::files", "the file-system edge"),
    ("crate::controller", "the controller"),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .expect("a source folder")
            .map(|e| e.expect("an entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            rust_files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

/// The code of a Rust file without its comments and the contents of its string and char literals, so that a doc
/// comment may mention `kube::Client` and a message may say "std::fs".
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            i += end;
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|c| *c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            let end = rest[body..]
                .find(&close)
                .map_or(rest.len(), |e| body + e + close.len());
            out.push_str("\"\"");
            i += end;
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() {
                match rest.as_bytes()[j] {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else if let Some(len) = char_literal(rest) {
            out.push_str("' '");
            i += len;
        } else {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a char literal at the start of `rest` (`'a'`, `'\n'`, `'\''`), telling it apart from a lifetime.
fn char_literal(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    if chars.next()?.1 != '\'' {
        return None;
    }
    let (_, first) = chars.next()?;
    if first == '\\' {
        let close = rest[2..].find('\'')?;
        return Some(2 + close + 1);
    }
    let (at, second) = chars.next()?;
    (second == '\'').then_some(at + 1)
}

/// Every forbidden name in `code` (comments and literals already removed), with its line. `use` declarations are
/// expanded first, so that `use std::{fs, io};` is seen as `std::fs`.
fn violations(code: &str) -> Vec<(usize, &'static str, &'static str)> {
    let mut found = Vec::new();
    let mut rest_of_code = String::with_capacity(code.len());
    let mut at = 0;
    while let Some(start) = find_word(&code[at..], "use").map(|s| at + s) {
        let end = code[start..]
            .find(';')
            .map_or(code.len(), |e| start + e + 1);
        let line = code[..start].matches('\n').count() + 1;
        let tree = code[start + "use".len()..end.saturating_sub(1)].trim();
        for path in expand_use_tree("", tree) {
            if let Some((pattern, why)) = forbidden_in(&path) {
                found.push((line, pattern, why));
            }
        }
        rest_of_code.push_str(&code[at..start]);
        // Keep the line count, so that what follows is reported at its own line.
        rest_of_code.push_str(&"\n".repeat(code[start..end].matches('\n').count()));
        at = end;
    }
    rest_of_code.push_str(&code[at..]);
    for (index, line) in rest_of_code.lines().enumerate() {
        if let Some((pattern, why)) = forbidden_in(line) {
            found.push((index + 1, pattern, why));
        }
    }
    found.sort();
    found
}

/// The first forbidden name in `text` that stands as a path of its own (not the tail of a longer identifier).
fn forbidden_in(text: &str) -> Option<(&'static str, &'static str)> {
    FORBIDDEN.iter().copied().find(|(pattern, _)| {
        let ends_in_word = pattern.ends_with(|c: char| c.is_alphanumeric());
        text.match_indices(pattern).any(|(start, _)| {
            let before = text[..start].chars().next_back();
            let after = text[start + pattern.len()..].chars().next();
            before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                && (!ends_in_word || after.is_none_or(|c| !(c.is_alphanumeric() || c == '_')))
        })
    })
}

/// The byte offset of `word` standing alone (not inside another identifier).
fn find_word(text: &str, word: &str) -> Option<usize> {
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            && after.is_some_and(char::is_whitespace)
    })
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand_use_tree(prefix: &str, tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let join = |tail: &str| {
        if prefix.is_empty() {
            tail.to_owned()
        } else {
            format!("{prefix}::{tail}")
        }
    };
    let Some(open) = tree.find('{') else {
        return vec![join(tree)];
    };
    let head = tree[..open].trim().trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let prefix = if head.is_empty() {
        prefix.to_owned()
    } else {
        join(head)
    };
    let mut items = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[from..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(|item| expand_use_tree(&prefix, item))
        .collect()
}

#[test]
fn the_core_never_sees_io_or_the_clock() {
    let src = common::root().join("src");
    let mut files = Vec::new();
    for module in CORE {
        let path = src.join(module);
        assert!(
            path.exists(),
            "{} is listed as core but does not exist",
            path.display()
        );
        rust_files(&path, &mut files);
    }
    assert!(files.len() >= 20, "only {} core files found", files.len());
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        // Unit tests may use the file system (fixtures, snapshots): the rule is about the code that ships.
        let shipped = text
            .split("#[cfg(test)]")
            .next()
            .expect("split yields one part");
        for (line, pattern, why) in violations(&code_only(shipped)) {
            let shown = file.strip_prefix(common::root()).unwrap_or(file).display();
            problems.push(format!("{shown}:{line}: uses `{pattern}`: {why}"));
        }
    }
    assert!(
        problems.is_empty(),
        "the pure core must take I/O and the clock as values:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_check_catches_what_it_is_for() {
    let lines = |code: &str| -> Vec<&'static str> {
        violations(&code_only(code))
            .into_iter()
            .map(|(_, p, _)| p)
            .collect()
    };
    assert_eq!(lines("use kube::api::Api;"), ["kube::"]);
    assert_eq!(lines("let t = jiff::Timestamp::now();"), ["Timestamp::now"]);
    assert_eq!(lines("use std::{fs, io};"), ["std::fs"]);
    assert_eq!(
        lines("use std::{\n    io,\n    process::Command,\n};"),
        ["std::process"]
    );
    assert_eq!(lines("let x = std::fs::read(p);"), ["std::fs"]);
    assert_eq!(lines("async fn f() { tokio::spawn(x); }"), ["tokio"]);
    assert_eq!(lines("use crate::git::blob_id;"), ["crate::git"]);
    assert_eq!(lines("let id: gix::ObjectId;"), ["gix::"]);
    assert_eq!(lines("use std::net::{IpAddr, TcpStream};"), ["TcpStream"]);
    assert!(lines("use std::net::{IpAddr, Ipv4Addr};").is_empty());
    // Comments, strings and look-alike names are not uses.
    assert!(lines("// kube::Client is for the edges").is_empty());
    assert!(lines("/// see [`crate::files`]").is_empty());
    assert!(lines(r#"let m = "std::fs is not used";"#).is_empty());
    assert!(lines("let c = '\"'; let s = \"tokio\";").is_empty());
    assert!(lines("fn f<'a>(x: &'a str) -> &'a str { x }").is_empty());
    assert!(lines("let my_kube::x = 1; let tokio_like = 2;").is_empty());
    // Line numbers point at the `use` of a grouped import, and stay true after it.
    let found = violations(&code_only(
        "use std::{\n    io,\n    fs,\n};\nfn f() { tokio::spawn(g()); }\n",
    ));
    let at: Vec<usize> = found.iter().map(|(line, _, _)| *line).collect();
    assert_eq!(at, [1, 5]);
}
