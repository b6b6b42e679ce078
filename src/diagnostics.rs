//! Problems found in an access repository, each with where it is and, where one helps, a hint.
//!
//! A diagnostic names its place as (document, field path) rather than as a line, because most problems are found
//! after parsing (a dangling reference, a duplicate name); the line and column are looked up only when the
//! diagnostic is shown.

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::source::{DocRef, FieldPart, FileId, Position, Sources};

/// How bad a problem is; serialized as `error` or `warning`. Errors sort before warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The repository cannot be compiled: validation returns no model.
    Error,
    /// Worth a look, but compiling goes on (e.g. an expiry that has passed, a group no grant names).
    Warning,
}

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The repository as a whole (e.g. "no Settings document").
    Repository,
    /// A known line and column of a file (YAML syntax errors).
    Point {
        /// The file.
        file: FileId,
        /// Where in the file, 1-based.
        position: Position,
    },
    /// A field of a document; the empty path is the document itself.
    Field {
        /// The document.
        doc: DocRef,
        /// Path of the field, e.g. `spec.grants[0].role`; a missing field points at its nearest existing parent.
        path: String,
        /// Whether to point at the field's key or its value.
        part: FieldPart,
    },
}

/// One problem found while loading or validating, its place named by document and field (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whether the problem stops compilation.
    pub severity: Severity,
    /// Stable, short identifier of the check, e.g. `unknown-field`.
    pub code: &'static str,
    /// Where the problem is.
    pub location: Location,
    /// What is wrong, in one line starting lower-case, e.g. "unknown user `alce`".
    pub message: String,
    /// How to fix it, where a likely fix is known, e.g. "did you mean `alice`?".
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error without a hint; `code` is the check's stable identifier, e.g. `unknown-field`.
    pub fn error(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            location,
            message: message.into(),
            hint: None,
        }
    }

    /// A warning without a hint; `code` is the check's stable identifier, e.g. `expired`.
    pub fn warning(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, location, message)
        }
    }

    /// The diagnostic with `hint` as its hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The diagnostic with `hint` as its hint; `None` removes any hint.
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Whether the severity is [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A diagnostic with its place resolved to file, line and column, ready to show or serialize.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedDiagnostic {
    /// Whether the problem stops compilation.
    pub severity: Severity,
    /// Stable, short identifier of the check, e.g. `unknown-field`.
    pub code: &'static str,
    /// Repository-relative path of the file; absent for problems of the repository as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line, from 1; absent when there is no file or the place could not be found in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Column, from 1; absent together with `line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Path of the field in its document, e.g. `spec.grants[0].role`; absent for a whole document or a bare position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in one line.
    pub message: String,
    /// How to fix it, where a likely fix is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl ResolvedDiagnostic {
    /// Resolves a diagnostic's place against `sources`, the files it was found in; the first field looked up in a
    /// file indexes that file's positions.
    pub fn resolve(diagnostic: &Diagnostic, sources: &Sources) -> Self {
        let (file, position, field) = match &diagnostic.location {
            Location::Repository => (None, None, None),
            Location::Point { file, position } => (Some(*file), Some(*position), None),
            Location::Field { doc, path, part } => (
                Some(doc.file),
                sources.field_position(*doc, path, *part),
                (!path.is_empty()).then(|| path.clone()),
            ),
        };
        ResolvedDiagnostic {
            severity: diagnostic.severity,
            code: diagnostic.code,
            file: file.map(|file| sources.file(file).path.clone()),
            line: position.map(|p| p.line),
            column: position.map(|p| p.column),
            field,
            message: diagnostic.message.clone(),
            hint: diagnostic.hint.clone(),
        }
    }
}

/// Sorts diagnostics the way people read them: by file, then line, errors before warnings on the same line.
pub fn resolve_all(diagnostics: &[Diagnostic], sources: &Sources) -> Vec<ResolvedDiagnostic> {
    let mut resolved: Vec<_> = diagnostics
        .iter()
        .map(|d| ResolvedDiagnostic::resolve(d, sources))
        .collect();
    // Summaries of what was not checked or not shown follow from the rest: they go last.
    let last =
        |d: &ResolvedDiagnostic| matches!(d.code, "unchecked-references" | "too-many-problems");
    resolved.sort_by(|a, b| {
        (last(a), &a.file, a.line, a.column, a.severity, &a.message).cmp(&(
            last(b),
            &b.file,
            b.line,
            b.column,
            b.severity,
            &b.message,
        ))
    });
    resolved
}

/// `error[code]: file:line:column: field: message` and an indented hint line, as compilers print them.
pub fn render_text(diagnostics: &[ResolvedDiagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = write!(out, "{severity}[{}]: ", d.code);
        if let Some(file) = &d.file {
            // A file name is the repository's, and could hold terminal escapes: never print them raw.
            out.extend(file.chars().map(|c| if c.is_control() { '?' } else { c }));
            if let (Some(line), Some(column)) = (d.line, d.column) {
                let _ = write!(out, ":{line}:{column}");
            }
            out.push_str(": ");
        }
        if let Some(field) = &d.field {
            let _ = write!(out, "{field}: ");
        }
        out.push_str(&d.message);
        out.push('\n');
        if let Some(hint) = &d.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    if !diagnostics.is_empty() {
        let _ = writeln!(
            out,
            "{errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        );
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// "did you mean `x`?" for the closest of `candidates` to `wrong`, if one is close enough to be a typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(wrong, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}
