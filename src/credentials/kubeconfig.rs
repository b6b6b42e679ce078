//! Merging clients' entries into a kubeconfig someone already has (`tollgate client update-kubeconfig`), the way
//! `aws eks update-kubeconfig` does, but without rewriting what is not ours: entries of other names are kept byte
//! for byte, comments included, and tollgate's own entries are replaced in place, appended, or (stale ones)
//! removed.
//!
//! Text is spliced only where the file's layout is the usual one (top-level `clusters:`, `users:` and `contexts:`
//! as block sequences, as kubectl writes them). The spliced text is parsed again and compared with the merge done
//! on the parsed document. A file of another layout is refused rather than written out whole: this YAML reader
//! reads YAML 1.2, kubectl YAML 1.1, so rewriting could change what an unquoted `yes` means to kubectl.

use serde_json::Value;

use super::client_file::KubeconfigEntries;
use crate::render::yaml::to_yaml;

/// The three named-entry lists of a kubeconfig, in the order kubectl writes them.
const SECTIONS: [&str; 3] = ["clusters", "users", "contexts"];

/// A byte-order mark some editors put at the start of a file; kept as it was.
const BOM: char = '\u{feff}';

/// Why an existing kubeconfig cannot take the entries. Nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The file is not YAML, or not a kubeconfig's shape (a mapping whose `clusters`, `users` and `contexts` are
    /// lists).
    #[error("{path} is not a kubeconfig kubectl reads: {reason}; it is left as it is")]
    NotAKubeconfig {
        /// The kubeconfig's path, for the message.
        path: String,
        /// What is wrong, without quoting the file (it holds other credentials).
        reason: String,
    },
    /// The file is laid out in a way tollgate does not edit in place (flow style, unusual indentation).
    #[error(
        "{path} is not laid out as kubectl writes it (e.g. flow style), so tollgate does not edit it; it is left as \
         it is. Let kubectl write it out first: `kubectl config view --raw --kubeconfig {path} > {path}.new && mv \
         {path}.new {path}`, or pass --kubeconfig with another file and add that file to KUBECONFIG"
    )]
    Layout {
        /// The kubeconfig's path, for the message.
        path: String,
    },
    /// A context of the name tollgate would write exists and belongs to someone else (another user entry).
    #[error(
        "{path} has a context `{context}` of its own (user `{user}`); it is left as it is: pick another \
         --context-name"
    )]
    ContextTaken {
        /// The kubeconfig's path, for the message.
        path: String,
        /// The context's name.
        context: String,
        /// The user entry the existing context names.
        user: String,
    },
}

/// How [`merge`] wrote the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStyle {
    /// A new file.
    New,
    /// The existing text with tollgate's entries spliced in: everything else byte for byte.
    Spliced,
}

/// `existing` (the kubeconfig's text, `None` when there is none) with `entries` added: an entry whose name is
/// already there is replaced, others are appended, the entries' `stale` names are removed; `current` sets
/// `current-context`. A file without a current context (a new one included) gets the first entry's, so that it
/// works at once. When several entries carry one name, the last one is written.
///
/// Errors: [`KubeconfigError::NotAKubeconfig`] when `existing` is not a kubeconfig's shape,
/// [`KubeconfigError::Layout`] when it is not laid out as kubectl writes it, [`KubeconfigError::ContextTaken`]
/// when a context of the same name belongs to another user entry.
pub fn merge(
    path: &str,
    existing: Option<&str>,
    entries: &[KubeconfigEntries],
    current: Option<&str>,
) -> Result<(String, MergeStyle), KubeconfigError> {
    let not_a_kubeconfig = |reason: String| KubeconfigError::NotAKubeconfig {
        path: path.to_owned(),
        reason,
    };
    let wanted: Vec<(&str, Vec<&Value>)> = SECTIONS
        .iter()
        .map(|section| {
            let values: Vec<&Value> = entries
                .iter()
                .flat_map(|e| match *section {
                    "clusters" => vec![&e.cluster],
                    "users" => e.users.iter().collect(),
                    _ => e.contexts.iter().collect(),
                })
                .collect();
            // One entry per name, the last given.
            let mut unique: Vec<&Value> = Vec::new();
            for value in values.into_iter().rev() {
                if !unique.iter().any(|v| v["name"] == value["name"]) {
                    unique.insert(0, value);
                }
            }
            (*section, unique)
        })
        .collect();
    let stale: Vec<&str> = entries
        .iter()
        .flat_map(|e| e.stale.iter().map(String::as_str))
        .filter(|name| {
            !wanted
                .iter()
                .any(|(_, values)| values.iter().any(|v| v["name"] == *name))
        })
        .collect();
    let first = entries.first().map(|e| e.context_name.as_str());
    let (bom, text) = match existing.and_then(|text| text.strip_prefix(BOM)) {
        Some(rest) => (BOM.to_string(), Some(rest)),
        None => (String::new(), existing),
    };
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        let mut config =
            serde_json::json!({"apiVersion": "v1", "kind": "Config", "preferences": {}});
        for (section, values) in &wanted {
            config[*section] = Value::Array(values.iter().map(|v| (*v).clone()).collect());
        }
        if let Some(current) = current.or(first) {
            config["current-context"] = current.into();
        }
        return Ok((to_yaml(&config), MergeStyle::New));
    };

    let document: Value =
        serde_yaml::from_str::<Value>(text).map_err(|e| not_a_kubeconfig(yaml_reason(&e)))?;
    let document = match document {
        Value::Object(map) => Value::Object(map),
        Value::Null => Value::Object(serde_json::Map::new()),
        _ => return Err(not_a_kubeconfig("it is not a YAML mapping".into())),
    };
    for (section, _) in &wanted {
        match &document[*section] {
            Value::Null | Value::Array(_) => {}
            _ => return Err(not_a_kubeconfig(format!("`{section}` is not a list"))),
        }
    }
    // Someone else's context of the same name is theirs: never replaced.
    for context in wanted
        .iter()
        .find(|(s, _)| *s == "contexts")
        .map_or(&[][..], |(_, v)| v)
    {
        let taken = document["contexts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|existing| {
                existing["name"] == context["name"]
                    && existing["context"]["user"] != context["context"]["user"]
            });
        if let Some(taken) = taken {
            return Err(KubeconfigError::ContextTaken {
                path: path.to_owned(),
                context: context["name"].as_str().unwrap_or_default().to_owned(),
                user: taken["context"]["user"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
    }
    let current = current.or(first.filter(|_| {
        document["current-context"]
            .as_str()
            .is_none_or(str::is_empty)
    }));

    // The merge on the parsed document: what the result must mean, whatever its text.
    let mut merged = document.clone();
    for (section, values) in &wanted {
        let list = merged[*section].as_array().cloned().unwrap_or_default();
        let list = list
            .into_iter()
            .filter(|entry| !is_stale(section, entry, &stale))
            .collect();
        merged[*section] = Value::Array(merge_list(list, values));
    }
    if let Some(current) = current {
        merged["current-context"] = current.into();
    }
    if document.get("apiVersion").is_none() {
        merged["apiVersion"] = "v1".into();
    }
    if document.get("kind").is_none() {
        merged["kind"] = "Config".into();
    }

    match splice(text, &document, &wanted, &stale, current) {
        Some(spliced) if serde_yaml::from_str::<Value>(&spliced).ok().as_ref() == Some(&merged) => {
            Ok((format!("{bom}{spliced}"), MergeStyle::Spliced))
        }
        _ => Err(KubeconfigError::Layout {
            path: path.to_owned(),
        }),
    }
}

/// `list` with each of `values` replacing the entry of its name, or appended.
fn merge_list(mut list: Vec<Value>, values: &[&Value]) -> Vec<Value> {
    for value in values {
        match list.iter_mut().find(|entry| entry["name"] == value["name"]) {
            Some(entry) => *entry = (*value).clone(),
            None => list.push((*value).clone()),
        }
    }
    list
}

/// The existing text with the entries spliced in, or `None` when the layout is not the usual one.
fn splice(
    text: &str,
    document: &Value,
    wanted: &[(&str, Vec<&Value>)],
    stale: &[&str],
    current: Option<&str>,
) -> Option<String> {
    let mut text = text.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    for (section, values) in wanted {
        text = splice_section(&text, section, values, stale, document[*section].is_null())?;
    }
    if document.get("apiVersion").is_none() {
        text = format!("apiVersion: v1\n{text}");
    }
    if document.get("kind").is_none() {
        text.push_str("kind: Config\n");
    }
    if let Some(current) = current {
        let line = to_yaml(&serde_json::json!({"current-context": current}));
        let lines = top_level_lines(&text);
        match lines
            .iter()
            .find(|(_, l)| key_of(l) == Some("current-context"))
        {
            Some((start, l)) => text.replace_range(*start..start + l.len(), &line),
            None => text.push_str(&line),
        }
    }
    Some(text)
}

/// One top-level section with `values` replacing the items of their names or appended after its last item.
fn splice_section(
    text: &str,
    section: &str,
    values: &[&Value],
    stale: &[&str],
    absent_or_null: bool,
) -> Option<String> {
    let lines = top_level_lines(text);
    let Some(index) = lines.iter().position(|(_, l)| key_of(l) == Some(section)) else {
        // No such key: a new block at the end.
        return Some(format!("{text}{section}:\n{}", items_text(values, 0)));
    };
    let (start, line) = lines[index];
    let value = line[section.len() + 1..].trim();
    let end = lines.get(index + 1).map_or(text.len(), |(s, _)| *s);
    if !value.is_empty() && !value.starts_with('#') {
        // `users: []` or `users: null`: an empty inline value becomes a block; a non-empty one is unusual.
        if !(absent_or_null || value == "[]") {
            return None;
        }
        let mut out = text[..start].to_owned();
        out.push_str(&format!("{section}:\n{}", items_text(values, 0)));
        out.push_str(&text[end..]);
        return Some(out);
    }
    // The block: every line from the key's to the next top-level key's.
    let block_start = start + line.len();
    let block = &text[block_start..end];
    let items = block_items(block)?;
    let indent = items.first().map_or(0, |item| item.indent);
    // Stale entries of ours go; the others stay as they are unless replaced.
    let mut replaced: Vec<Option<String>> = items
        .iter()
        .map(|item| is_stale(section, &item.value, stale).then(String::new))
        .collect();
    let mut appended = Vec::new();
    for value in values {
        match items
            .iter()
            .position(|item| item.name.as_deref() == value["name"].as_str())
        {
            Some(i) => replaced[i] = Some(items_text(&[value], indent)),
            None => appended.push(*value),
        }
    }
    let mut out = text[..block_start].to_owned();
    let mut cursor = 0;
    for (item, replacement) in items.iter().zip(&replaced) {
        out.push_str(&block[cursor..item.range.0]);
        match replacement {
            Some(new) => out.push_str(new),
            None => out.push_str(&block[item.range.0..item.range.1]),
        }
        cursor = item.range.1;
    }
    // New items go after the last item, before trailing blank and comment lines that lead into the next key.
    let tail = &block[cursor..];
    let keep = items.last().map_or(0, |_| trailing_item_lines(tail));
    out.push_str(&tail[..keep]);
    out.push_str(&items_text(&appended, indent));
    out.push_str(&tail[keep..]);
    out.push_str(&text[end..]);
    Some(out)
}

/// Whether an entry of `section` is a stale one of ours: a user of a stale name, or a context of a stale name
/// that names such a user (a context someone named so for their own user stays).
fn is_stale(section: &str, entry: &Value, stale: &[&str]) -> bool {
    let named = |value: &Value| stale.iter().any(|name| value == *name);
    match section {
        "users" => named(&entry["name"]),
        "contexts" => named(&entry["name"]) && named(&entry["context"]["user"]),
        _ => false,
    }
}

/// A sequence item of a block: its byte range in the block, its indentation, its `name` and what it holds.
struct Item {
    range: (usize, usize),
    indent: usize,
    name: Option<String>,
    value: Value,
}

/// The items of a block sequence (the lines after `section:`), or `None` when the block is not one.
fn block_items(block: &str) -> Option<Vec<Item>> {
    let mut starts = Vec::new();
    let mut indent = None;
    let mut offset = 0;
    for line in block.split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        let depth = line.len() - trimmed.len();
        if trimmed.starts_with("- ") || trimmed.trim_end() == "-" {
            let first = *indent.get_or_insert(depth);
            if depth == first {
                starts.push(offset);
            }
        } else if !trimmed.trim().is_empty() && !trimmed.starts_with('#') && indent.is_none() {
            // Content before the first item: not a block sequence.
            return None;
        }
        offset += line.len();
    }
    let indent = indent.unwrap_or(0);
    let mut items = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(block.len());
        let end = start + trailing_item_lines(&block[*start..end]).max(1);
        let text = &block[*start..end];
        let parsed: Value = serde_yaml::from_str(text).ok()?;
        let name = parsed[0]["name"].as_str().map(str::to_owned);
        items.push(Item {
            range: (*start, end),
            indent,
            name,
            value: parsed[0].clone(),
        });
    }
    Some(items)
}

/// How many bytes of `text` belong to the item that starts it: up to its last line that is neither blank nor a
/// comment, so that comments leading into the next entry stay with it.
fn trailing_item_lines(text: &str) -> usize {
    let mut end = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            end = offset;
        }
    }
    end
}

/// `values` as block sequence items at `indent` spaces, as kubectl writes them.
fn items_text(values: &[&Value], indent: usize) -> String {
    if values.is_empty() {
        return String::new();
    }
    let list = Value::Array(values.iter().map(|v| (*v).clone()).collect());
    to_yaml(&list)
        .lines()
        .map(|line| format!("{:indent$}{line}\n", ""))
        .collect()
}

/// The lines that start at column 0 with a key (not a comment, item or continuation), with their byte offsets.
fn top_level_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with(|c: char| !c.is_whitespace() && c != '#' && c != '-') {
            lines.push((offset, line));
        }
        offset += line.len();
    }
    lines
}

/// The key of a top-level `key: value` line.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    Some(key.trim_matches(|c| c == '"' || c == '\''))
}

/// serde_yaml's complaint without the text it quotes (a kubeconfig holds other credentials).
fn yaml_reason(error: &serde_yaml::Error) -> String {
    match error.location() {
        Some(at) => format!(
            "it is not valid YAML (line {}, column {})",
            at.line(),
            at.column()
        ),
        None => "it is not valid YAML".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(name: &str, server: &str) -> KubeconfigEntries {
        KubeconfigEntries {
            cluster: serde_json::json!({"name": name, "cluster": {"server": server}}),
            users: vec![serde_json::json!({"name": name, "user": {"token": "t"}})],
            contexts: vec![
                serde_json::json!({"name": name, "context": {"cluster": name, "user": name}}),
            ],
            context_name: name.to_owned(),
            stale: Vec::new(),
        }
    }

    const KUBECTL_WRITTEN: &str = "apiVersion: v1
clusters:
- cluster:
    server: https://other.example.com
  name: other
# the team's cluster
- cluster:
    server: https://team.example.com
  name: team
contexts:
- context:
    cluster: other
    user: other
  name: other
current-context: other
kind: Config
preferences: {}
users:
- name: other
  user:
    token: other-token
";

    #[test]
    fn a_new_file_gets_the_entries_and_their_context() {
        let (text, style) =
            merge("k", None, &[entries("dev/a", "https://a")], None).expect("merges");
        assert_eq!(style, MergeStyle::New);
        let parsed: Value = serde_yaml::from_str(&text).expect("YAML");
        assert_eq!(parsed["current-context"], "dev/a");
        assert_eq!(parsed["users"][0]["name"], "dev/a");
    }

    #[test]
    fn other_entries_stay_byte_for_byte_and_ours_are_appended_then_replaced() {
        let (once, style) = merge(
            "k",
            Some(KUBECTL_WRITTEN),
            &[entries("dev/a", "https://a")],
            None,
        )
        .expect("merges");
        assert_eq!(style, MergeStyle::Spliced);
        for kept in [
            "- cluster:\n    server: https://other.example.com\n  name: other\n# the team's cluster\n- cluster:\n    server: https://team.example.com\n  name: team\n",
            "- context:\n    cluster: other\n    user: other\n  name: other\n",
            "- name: other\n  user:\n    token: other-token\n",
            "current-context: other\n",
        ] {
            assert!(once.contains(kept), "{kept} in\n{once}");
        }
        let parsed: Value = serde_yaml::from_str(&once).expect("YAML");
        assert_eq!(parsed["clusters"][2]["name"], "dev/a");
        assert_eq!(parsed["contexts"][1]["name"], "dev/a");

        let (twice, _) = merge(
            "k",
            Some(&once),
            &[entries("dev/a", "https://b")],
            Some("dev/a"),
        )
        .expect("merges");
        let parsed: Value = serde_yaml::from_str(&twice).expect("YAML");
        assert_eq!(
            parsed["clusters"].as_array().map(Vec::len),
            Some(3),
            "{twice}"
        );
        assert_eq!(parsed["clusters"][2]["cluster"]["server"], "https://b");
        assert_eq!(parsed["current-context"], "dev/a");
        assert_eq!(
            twice
                .replace("https://b", "https://a")
                .replace("current-context: dev/a", "current-context: other"),
            once
        );
    }

    #[test]
    fn indented_lists_empty_lists_and_missing_sections() {
        let text = "apiVersion: v1\nkind: Config\nclusters:\n  - name: x\n    cluster:\n      server: https://x\nusers: []\n";
        let (merged, style) =
            merge("k", Some(text), &[entries("dev/a", "https://a")], None).expect("merges");
        assert_eq!(style, MergeStyle::Spliced, "{merged}");
        assert!(merged.starts_with("apiVersion: v1\nkind: Config\nclusters:\n  - name: x\n    cluster:\n      server: https://x\n  - cluster:\n"), "{merged}");
        let parsed: Value = serde_yaml::from_str(&merged).expect("YAML");
        assert_eq!(parsed["users"][0]["name"], "dev/a");
        assert_eq!(parsed["contexts"][0]["name"], "dev/a");
    }

    #[test]
    fn an_unusual_layout_and_a_non_kubeconfig_are_refused() {
        // A rewrite would turn kubectl's YAML 1.1 boolean `yes` into the string "yes": refused instead.
        let flow = "{apiVersion: v1, kind: Config, clusters: [{name: x, cluster: {server: 'https://x', insecure-skip-tls-verify: yes}}]}\n";
        let error =
            merge("k", Some(flow), &[entries("dev/a", "https://a")], None).expect_err("refused");
        assert!(matches!(error, KubeconfigError::Layout { .. }), "{error}");
        assert!(
            error.to_string().contains("kubectl config view --raw"),
            "{error}"
        );
        for (text, reason) in [
            ("- a\n- b\n", "not a YAML mapping"),
            ("users: {a: b}\n", "`users` is not a list"),
            ("users: [\n", "not valid YAML"),
        ] {
            let error = merge("k", Some(text), &[entries("dev/a", "https://a")], None)
                .expect_err("refused")
                .to_string();
            assert!(error.contains(reason), "{error}");
        }
    }

    #[test]
    fn someone_elses_context_of_the_same_name_is_refused() {
        let mut ours = entries("other", "https://a");
        ours.contexts[0]["context"]["user"] = "dev/a".into();
        let error = merge("k", Some(KUBECTL_WRITTEN), &[ours], None).expect_err("refused");
        assert!(
            matches!(error, KubeconfigError::ContextTaken { ref context, ref user, .. } if context == "other" && user == "other"),
            "{error}"
        );
    }

    #[test]
    fn stale_entries_of_ours_go_and_a_byte_order_mark_stays() {
        let mut acting = entries("dev/a", "https://a");
        acting
            .users
            .push(serde_json::json!({"name": "dev/a/as-client", "user": {"token": "t"}}));
        acting.contexts.push(serde_json::json!({"name": "dev/a/as-client", "context": {"cluster": "dev/a", "user": "dev/a/as-client"}}));
        let with_bom = format!("\u{feff}{KUBECTL_WRITTEN}");
        let (once, _) = merge("k", Some(&with_bom), &[acting], None).expect("merges");
        assert!(once.starts_with("\u{feff}apiVersion: v1\n"), "{once}");
        assert!(once.contains("dev/a/as-client"));
        let mut plain = entries("dev/a", "https://a");
        plain.stale = vec!["dev/a/as-client".into()];
        let (twice, _) = merge("k", Some(&once), &[plain.clone(), plain], None).expect("merges");
        assert!(!twice.contains("dev/a/as-client"), "{twice}");
        let parsed: Value =
            serde_yaml::from_str(twice.trim_start_matches('\u{feff}')).expect("YAML");
        assert_eq!(parsed["users"].as_array().map(Vec::len), Some(2), "{twice}");
    }
}
