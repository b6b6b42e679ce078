//! The one YAML writer for everything tollgate prints or writes as YAML (rendered objects, kubeconfigs). Its
//! readers are kubectl and client-go, which read YAML 1.1 (sigs.k8s.io/yaml over go-yaml): there `no`, `on`, `y`
//! and `off` are booleans and `0o17`, `1_000` or `1:30` numbers, where YAML 1.2 (and serde_yaml's writer) sees
//! strings. So every string that either version could read as something else is double-quoted.

use std::fmt::Write as _;

use serde_json::Value;

/// `value` as block-style YAML that YAML 1.1 and 1.2 readers both read back as the same JSON value. Strings that
/// are not plainly words are double-quoted with JSON's escapes (valid YAML double-quoted scalars).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_sequence(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        let _ = write!(out, "{:indent$}{}:", "", string(key));
        write_value(out, value, indent);
    }
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        let _ = write!(out, "{:indent$}-", "");
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first entry goes on the dash's line; the rest line up under it.
                let mut nested = String::new();
                write_mapping(&mut nested, map, indent + 2);
                out.push(' ');
                out.push_str(&nested[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_sequence(out, inner, indent + 2);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

/// After `key:`: a nested block on the next lines, or a scalar on the same line. Sequences sit at the key's own
/// indentation, as kubectl writes them.
fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_mapping(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_sequence(out, items, indent);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// Words that some YAML version reads as a boolean or null (YAML 1.1 `bool` and `null` types, YAML 1.2 core).
const RESERVED: [&str; 22] = [
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "nan", "inf", ".nan", ".inf",
    "-.inf", "+.inf", "<<", "=", "-", "?", ":", "",
];

/// A string as a YAML scalar: plain when it is a word no reader could take for anything else (starts with a
/// letter, then only letters, digits and `-_./`), double-quoted otherwise.
fn string(text: &str) -> String {
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !RESERVED.contains(&text.to_ascii_lowercase().as_str());
    if plain { text.to_owned() } else { quoted(text) }
}

/// A double-quoted YAML scalar. JSON's escapes are YAML's, but JSON leaves DEL, the C1 controls (among them NEL,
/// which YAML reads as a line break) and the Unicode line and paragraph separators as they are, and YAML readers
/// refuse or fold them: those are escaped as `\uXXXX` too.
fn quoted(text: &str) -> String {
    let json = serde_json::to_string(text).expect("a string serializes to JSON");
    if !json.chars().any(needs_escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_a_yaml_1_1_reader_would_misread_are_quoted() {
        let value = serde_json::json!({
            "namespaces": ["no", "on", "y", "off", "Yes", "NULL", "012", "0x1f", "1e3", "1:30", "team-a"],
            "empty": "",
            "nested": {"list": [{"a": 1, "b": "x y"}], "flag": true, "none": null},
            "path": "/tmp/a b",
        });
        insta::assert_snapshot!(to_yaml(&value), @r#"
        empty: ""
        namespaces:
        - "no"
        - "on"
        - "y"
        - "off"
        - "Yes"
        - "NULL"
        - "012"
        - "0x1f"
        - "1e3"
        - "1:30"
        - team-a
        nested:
          flag: true
          list:
          - a: 1
            b: "x y"
          none: null
        path: "/tmp/a b"
        "#);
    }

    #[test]
    fn what_it_writes_reads_back_as_the_same_value() {
        let value = serde_json::json!({
            "apiVersion": "v1",
            "items": [[1, 2], [], {}, {"k": "v\n\"q\"", "e": []}],
            "text": "multi\nline\ttab \\ back",
            "controls": "del\u{7f} nel\u{85} c1\u{9f} ls\u{2028} bom\u{feff}",
        });
        assert!(!to_yaml(&value).contains('\u{85}'));
        let back: Value = serde_yaml::from_str(&to_yaml(&value)).expect("YAML");
        assert_eq!(back, value);
    }
}
