//! Loading: configuration files as (path, bytes) pairs -> typed documents, with a diagnostic for everything that
//! does not deserialize.
//!
//! The loader never touches the filesystem or Git itself, so the same code reads a working tree ([`crate::files`])
//! and a Git tree at a revision ([`crate::git`]).

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::documents::{API_VERSION, Document as TypedDocument, DocumentBody, Kind};
use super::source::{DocRef, FieldPart, FileId, Position, Sources};
use crate::diagnostics::{Diagnostic, Location, did_you_mean};

/// One document that deserialized into its kind's types.
#[derive(Debug, Clone)]
pub struct Document {
    /// Where the document is: its file and its index in that file.
    pub at: DocRef,
    /// The document's `metadata.name`, as written (validation checks it).
    pub name: String,
    /// The document's `spec`, typed by its `kind`.
    pub body: DocumentBody,
}

/// Everything the loader read: the files, the documents that deserialized, and what was wrong with the rest.
#[derive(Debug, Default)]
pub struct LoadedRepository {
    /// Every file read, including those that failed to load; diagnostics look their positions up here.
    pub sources: Sources,
    /// The documents that deserialized, in path order and then in order within each file.
    pub documents: Vec<Document>,
    /// Why the other files and documents did not load; all errors.
    pub diagnostics: Vec<Diagnostic>,
    /// Documents whose header was readable but whose body was not. Validation does not report references to them
    /// as dangling: the real problem is already reported.
    pub broken: HashSet<(Kind, String)>,
}

/// Whether a repository-relative path is a configuration file: `*.yaml` / `*.yml`, not under `artifacts/` and not
/// in a folder whose name starts with a dot.
pub fn is_config_path(path: &str) -> bool {
    let mut components = path.split('/').peekable();
    if components.peek() == Some(&"artifacts") {
        return false;
    }
    let mut last = "";
    for component in components {
        if component.starts_with('.') {
            return false;
        }
        last = component;
    }
    last.ends_with(".yaml") || last.ends_with(".yml")
}

/// Loads the given files (paths relative to the config root, `/`-separated); files are read in path order so that
/// everything downstream is deterministic.
pub fn load(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> LoadedRepository {
    let mut files: Vec<_> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut repo = LoadedRepository::default();
    for (path, bytes) in files {
        match String::from_utf8(bytes) {
            Ok(text) => {
                let file = repo.sources.add(path, text);
                load_file(&mut repo, file);
            }
            Err(_) => {
                let file = repo.sources.add(path, String::new());
                repo.diagnostics.push(Diagnostic::error(
                    "not-utf8",
                    Location::Point {
                        file,
                        position: Position { line: 1, column: 1 },
                    },
                    "the file is not UTF-8 text",
                ));
            }
        }
    }
    repo
}

fn load_file(repo: &mut LoadedRepository, file: FileId) {
    let text = &repo.sources.file(file).text;
    let mut documents = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        match serde_yaml::Value::deserialize(document) {
            Ok(value) => documents.push((index, value)),
            Err(error) => {
                let position = error
                    .location()
                    .map_or(Position { line: 1, column: 1 }, |l| Position {
                        line: l.line(),
                        column: l.column(),
                    });
                repo.diagnostics.push(Diagnostic::error(
                    "yaml-syntax",
                    Location::Point { file, position },
                    strip_location(&error.to_string()),
                ));
                // The parser cannot resynchronise after a syntax error; the rest of the file is unread.
                break;
            }
        }
    }
    for (index, value) in documents {
        let at = DocRef { file, index };
        if let Some(document) = load_document(repo, at, value) {
            repo.documents.push(document);
        }
    }
}

/// serde_yaml appends " at line L column C" to its messages; the position is shown in front instead.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}

fn load_document(
    repo: &mut LoadedRepository,
    at: DocRef,
    value: serde_yaml::Value,
) -> Option<Document> {
    if value.is_null() {
        return None;
    }
    let field = |path: &str, part| Location::Field {
        doc: at,
        path: path.to_owned(),
        part,
    };
    let Some(mapping) = value.as_mapping() else {
        repo.diagnostics.push(Diagnostic::error(
            "not-a-document",
            field("", FieldPart::Value),
            "a document must be a mapping with `apiVersion`, `kind`, `metadata` and `spec`",
        ));
        return None;
    };
    let mut header_ok = true;
    match mapping.get("apiVersion").map(|v| v.as_str()) {
        None => {
            header_ok = false;
            repo.diagnostics.push(
                Diagnostic::error(
                    "missing-field",
                    field("", FieldPart::Value),
                    "missing field `apiVersion`",
                )
                .with_hint(format!("add `apiVersion: {API_VERSION}`")),
            );
        }
        Some(Some(API_VERSION)) => {}
        Some(other) => {
            header_ok = false;
            repo.diagnostics.push(
                Diagnostic::error(
                    "unknown-api-version",
                    field("apiVersion", FieldPart::Value),
                    format!("unknown apiVersion `{}`", other.unwrap_or("<not a string>")),
                )
                .with_hint(format!("this version of tollgate reads `{API_VERSION}`")),
            );
        }
    }
    let kind = match mapping.get("kind").map(|v| v.as_str()) {
        None => {
            header_ok = false;
            repo.diagnostics.push(Diagnostic::error(
                "missing-field",
                field("", FieldPart::Value),
                "missing field `kind`",
            ));
            None
        }
        Some(name) => {
            let kind = name.and_then(Kind::parse);
            if kind.is_none() {
                header_ok = false;
                let name = name.unwrap_or("<not a string>");
                let hint =
                    did_you_mean(name, Kind::ALL.iter().map(|k| k.as_str())).unwrap_or_else(|| {
                        let kinds: Vec<_> = Kind::ALL.iter().map(|k| format!("`{k}`")).collect();
                        format!("the kinds are {}", kinds.join(", "))
                    });
                repo.diagnostics.push(
                    Diagnostic::error(
                        "unknown-kind",
                        field("kind", FieldPart::Value),
                        format!("unknown kind `{name}`"),
                    )
                    .with_hint(hint),
                );
            }
            kind
        }
    };
    let name = mapping
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned);
    if name.is_none() {
        header_ok = false;
        let path = if mapping.contains_key("metadata") {
            "metadata"
        } else {
            ""
        };
        repo.diagnostics.push(Diagnostic::error(
            "missing-field",
            field(path, FieldPart::Key),
            "missing field `metadata.name` (a string)",
        ));
    }
    let (Some(kind), Some(name), true) = (kind, name, header_ok) else {
        return None;
    };
    let body = match kind {
        Kind::Settings => typed(value, at).map(DocumentBody::Settings),
        Kind::User => typed(value, at).map(DocumentBody::User),
        Kind::Group => typed(value, at).map(DocumentBody::Group),
        Kind::Role => typed(value, at).map(DocumentBody::Role),
        Kind::Client => typed(value, at).map(DocumentBody::Client),
        Kind::Environment => typed(value, at).map(|spec| DocumentBody::Environment(Box::new(spec))),
        Kind::UserAccess => typed(value, at).map(DocumentBody::UserAccess),
    };
    match body {
        Ok(body) => Some(Document { at, name, body }),
        Err(diagnostic) => {
            repo.diagnostics.push(*diagnostic);
            repo.broken.insert((kind, name));
            None
        }
    }
}

fn typed<S: DeserializeOwned>(value: serde_yaml::Value, at: DocRef) -> Result<S, Box<Diagnostic>> {
    match serde_path_to_error::deserialize::<_, TypedDocument<S>>(value) {
        Ok(document) => Ok(document.spec),
        Err(error) => {
            let path = path_string(error.path());
            Err(Box::new(serde_diagnostic(
                at,
                path,
                &error.inner().to_string(),
            )))
        }
    }
}

fn path_string(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Names inside backticks, in order: serde lists the expected fields and variants that way.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Turns a serde error into a diagnostic with a stable code and, for misspellings, a hint.
fn serde_diagnostic(doc: DocRef, path: String, message: &str) -> Diagnostic {
    let message = strip_location(message);
    let at = |path: String, part| Location::Field { doc, path, part };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = backticked(rest);
        let wrong = names.first().copied().unwrap_or_default();
        // serde_path_to_error stops at the mapping; the unknown key is the field to point at.
        let path = if path.is_empty() {
            wrong.to_owned()
        } else if path.ends_with(wrong) {
            path
        } else {
            format!("{path}.{wrong}")
        };
        let expected = &names[1.min(names.len())..];
        let hint = did_you_mean(wrong, expected.iter().copied()).or_else(|| {
            (!expected.is_empty()).then(|| {
                let list: Vec<_> = expected.iter().map(|n| format!("`{n}`")).collect();
                format!("the fields here are {}", list.join(", "))
            })
        });
        return Diagnostic::error(
            "unknown-field",
            at(path, FieldPart::Key),
            format!("unknown field `{wrong}`"),
        )
        .with_hint_opt(hint);
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return Diagnostic::error(
            "missing-field",
            at(path, FieldPart::Key),
            format!("missing field {}", rest.trim()),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names = backticked(rest);
        let wrong = names.first().copied().unwrap_or_default();
        let expected: Vec<_> = names.iter().skip(1).map(|n| format!("`{n}`")).collect();
        let hint = did_you_mean(wrong, names.iter().skip(1).copied())
            .unwrap_or_else(|| format!("expected one of {}", expected.join(", ")));
        return Diagnostic::error(
            "invalid-value",
            at(path, FieldPart::Value),
            format!("unknown value `{wrong}`"),
        )
        .with_hint(hint);
    }
    if message.starts_with("invalid type") || message.starts_with("invalid length") {
        return Diagnostic::error("wrong-type", at(path, FieldPart::Value), message);
    }
    Diagnostic::error("invalid-value", at(path, FieldPart::Value), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths() {
        assert!(is_config_path("users/alice.yaml"));
        assert!(is_config_path("settings.yml"));
        assert!(!is_config_path("artifacts/prod/a.yaml"));
        assert!(!is_config_path(".github/workflows/plan.yaml"));
        assert!(!is_config_path("users/.hidden/x.yaml"));
        assert!(!is_config_path("README.md"));
        assert!(is_config_path("team/artifacts/x.yaml"));
    }
}

#[cfg(test)]
mod position_tests {
    use super::*;
    use crate::diagnostics::{ResolvedDiagnostic, resolve_all};

    fn diagnose(text: &str) -> Vec<ResolvedDiagnostic> {
        let repo = load([("f.yaml".to_owned(), text.as_bytes().to_vec())]);
        resolve_all(&repo.diagnostics, &repo.sources)
    }

    #[test]
    fn document_indices_line_up_with_positions_after_leading_and_empty_documents() {
        let text = "---\n# only a comment\n---\napiVersion: tollgate.dev/v1alpha1\nkind: Usr\nmetadata: {name: a}\nspec: {}\n";
        let diagnostics = diagnose(text);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(
            (diagnostics[0].line, diagnostics[0].column),
            (Some(5), Some(7))
        );
    }
}
