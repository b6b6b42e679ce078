//! Loading: configuration files as (path, bytes) pairs -> typed documents, with a diagnostic for everything that
//! does not deserialize.
//!
//! The loader never touches the filesystem or Git itself, so the same code reads a working tree ([`crate::files`])
//! and a Git tree at a revision ([`crate::git`]).

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
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
    /// Files that could not be read or parsed at all (their documents, and so their names, are unknown).
    /// Validation then reports no reference as dangling and no document as unused: the cause is already
    /// reported, and what would follow from it is not.
    pub unreadable_files: usize,
    /// Errors beyond [`MAX_DIAGNOSTICS`], counted but not kept.
    pub omitted: usize,
}

/// The largest configuration file tollgate reads, in bytes (1 MiB). An access repository's files are small (the
/// 55,000-object benchmark organisation's largest is 40 KiB); a larger file is refused before it is parsed, so
/// that no file can make validation hold hundreds of megabytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// At most this many YAML values (list items and lines) in one file, and at most this deep a nesting of flow
/// collections (`[[[...]]]`): both keep a pathological file from costing the parser hundreds of megabytes or
/// minutes (libyaml's work grows with the square of the nesting). A real access file has a few thousand values.
pub const MAX_FILE_VALUES: usize = 100_000;
/// See [`MAX_FILE_VALUES`]; serde_yaml refuses more than 128 levels anyway, after parsing them all.
pub const MAX_NESTING: usize = 128;

/// At most this many diagnostics are kept; the rest are counted. A broken file of a million list items must not
/// turn into a million messages (and their memory).
pub const MAX_DIAGNOSTICS: usize = 1000;

/// Whether a repository-relative path is a configuration file: `*.yaml` / `*.yml`, not under `artifacts/` and not
/// in a folder whose name starts with a dot (files whose name starts with a dot are skipped too).
pub fn is_config_path(path: &str) -> bool {
    is_config_folder(path) && (path.ends_with(".yaml") || path.ends_with(".yml"))
}

/// Whether configuration may live at or below `path`: not under `artifacts/`, no component starting with a dot.
pub fn is_config_folder(path: &str) -> bool {
    let mut components = path.split('/').peekable();
    if components.peek() == Some(&"artifacts") {
        return false;
    }
    components.all(|component| !component.starts_with('.'))
}

/// One file of the repository as the edge that read it found it: its bytes, or why there are none.
#[derive(Debug, Clone)]
pub struct RepoFile {
    /// Path relative to the repository root, `/`-separated.
    pub path: String,
    /// The file's bytes, or what kept the edge from reading them.
    pub content: Result<Vec<u8>, FileProblem>,
}

impl From<(String, Vec<u8>)> for RepoFile {
    fn from((path, bytes): (String, Vec<u8>)) -> Self {
        RepoFile {
            path,
            content: Ok(bytes),
        }
    }
}

/// Why a file of the repository was not read. Each becomes a diagnostic naming the file: nothing is skipped
/// silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// Larger than [`MAX_FILE_BYTES`]; not read.
    TooLarge {
        /// The file's size in bytes.
        size: u64,
    },
    /// A symbolic link whose target is outside the repository: never followed.
    LinkOutside {
        /// The link's target as written.
        target: String,
    },
    /// A symbolic link that leads nowhere: a missing target, or a loop of links.
    BrokenLink {
        /// The link's target as written.
        target: String,
        /// Why it cannot be followed, e.g. "too many levels of symbolic links".
        reason: String,
    },
    /// A symbolic link to a folder: not followed, so that nothing is read twice and no walk can loop.
    LinkedFolder {
        /// The link's target as written.
        target: String,
    },
    /// The file could not be read, e.g. for lack of permission.
    Unreadable {
        /// The operating system's reason.
        reason: String,
    },
}

/// Loads the given files (paths relative to the config root, `/`-separated); files are read in path order so that
/// everything downstream is deterministic. Accepts `(path, bytes)` pairs or [`RepoFile`]s.
pub fn load<F: Into<RepoFile>>(files: impl IntoIterator<Item = F>) -> LoadedRepository {
    let mut files: Vec<RepoFile> = files.into_iter().map(Into::into).collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    // Files are parsed on every core (the YAML parse is most of a load), a few at a time so that only a few files'
    // YAML trees are held at once, then join the repository one by one in path order, so that file ids and
    // diagnostics do not depend on the threads.
    let batch = 2 * rayon::current_num_threads();
    let mut files = files.into_iter();
    let mut repo = LoadedRepository::default();
    loop {
        let parsed: Vec<(String, Parsed)> = files
            .by_ref()
            .take(batch)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|RepoFile { path, content }| (path, parse(content)))
            .collect();
        if parsed.is_empty() {
            return repo;
        }
        add_files(&mut repo, parsed);
    }
}

/// Adds parsed files to the repository in the given order: their text, documents and diagnostics.
fn add_files(repo: &mut LoadedRepository, parsed: Vec<(String, Parsed)>) {
    for (path, parsed) in parsed {
        match parsed {
            Parsed::Unread(problem) => {
                let file = repo.sources.add(path, String::new());
                repo.file_problem(file, &problem);
            }
            Parsed::NotText((code, message), position) => {
                let file = repo.sources.add(path, String::new());
                repo.unreadable_files += 1;
                repo.push(Diagnostic::error(
                    code,
                    Location::Point { file, position },
                    message,
                ));
            }
            Parsed::Refused {
                text,
                code,
                message,
                position,
            } => {
                let file = repo.sources.add(path, text);
                repo.unreadable_files += 1;
                repo.push(
                    Diagnostic::error(code, Location::Point { file, position }, message)
                        .with_hint("split it into several files, or write the values out plainly"),
                );
            }
            Parsed::Yaml {
                text,
                documents,
                failed,
            } => {
                let file = repo.sources.add(path, text);
                load_file(repo, file, documents, failed);
            }
        }
    }
}

/// One file as far as it can be taken without the rest of the repository (see [`parse`]).
enum Parsed {
    /// The edge could not read it.
    Unread(FileProblem),
    /// Not UTF-8 text, binary or too large: the diagnostic's code and message, and where.
    NotText((&'static str, String), Position),
    /// Text whose shape would make the YAML parser's work explode: not parsed.
    Refused {
        text: String,
        code: &'static str,
        message: String,
        position: Position,
    },
    /// Its documents in order, up to the first one the YAML parser failed on (with that document's index).
    Yaml {
        text: String,
        documents: Vec<(usize, serde_yaml::Value)>,
        failed: Option<(usize, serde_yaml::Error)>,
    },
}

/// Reads one file's bytes as text and parses its YAML documents, unless the text is refused first.
fn parse(content: Result<Vec<u8>, FileProblem>) -> Parsed {
    let bytes = match content {
        Ok(bytes) => bytes,
        Err(problem) => return Parsed::Unread(problem),
    };
    let text = match text_of(bytes) {
        Ok(text) => text,
        Err((problem, position)) => return Parsed::NotText(problem, position),
    };
    let shape = shape_problem(&text).or_else(|| {
        // Only files with anchors and aliases pay for the count.
        let limit = (10 * text.len() as u64).max(1024 * 1024);
        (text.contains('&') && text.contains('*'))
            .then(|| alias_explosion(&text, limit))
            .flatten()
            .map(|position| {
                (
                    "alias-limit",
                    format!(
                        "YAML aliases (`*name`) here expand the file to more than {limit} bytes (10 times its size, \
                         at least 1 MiB); a file built to explode when expanded (a \"billion laughs\" file) is not \
                         read"
                    ),
                    position,
                )
            })
    });
    if let Some((code, message, position)) = shape {
        return Parsed::Refused {
            text,
            code,
            message,
            position,
        };
    }
    let mut documents = Vec::new();
    let mut failed = None;
    for (index, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        match serde_yaml::Value::deserialize(document) {
            Ok(value) => documents.push((index, value)),
            Err(error) => {
                // The parser cannot resynchronise after an error; the rest of the file is unread.
                failed = Some((index, error));
                break;
            }
        }
    }
    Parsed::Yaml {
        text,
        documents,
        failed,
    }
}

/// A file's bytes as text: UTF-8 (a byte-order mark is dropped, as YAML allows one), not binary, not too large.
/// Otherwise the diagnostic's code and message, and where the problem starts.
fn text_of(bytes: Vec<u8>) -> Result<String, ((&'static str, String), Position)> {
    let start = Position { line: 1, column: 1 };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err((too_large(bytes.len() as u64), start));
    }
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        return Err((
            (
                "binary-file",
                format!("this is a binary file (a NUL byte at offset {at}), not YAML text"),
            ),
            start,
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            let bytes = error.as_bytes();
            let before = String::from_utf8_lossy(&bytes[..valid]);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return Err((
                (
                    "not-utf8",
                    format!(
                        "the file is not UTF-8 text: byte 0x{:02X} is not valid UTF-8 (save the file as UTF-8)",
                        bytes[valid]
                    ),
                ),
                Position { line, column },
            ));
        }
    };
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// A file whose shape would make the YAML parser's work explode: nesting deeper than [`MAX_NESTING`], or more
/// than [`MAX_FILE_VALUES`] values (flow items and lines). One pass over the text, ignoring quoted strings and
/// comments; an estimate from above, so a real file never comes near it.
fn shape_problem(text: &str) -> Option<(&'static str, String, Position)> {
    // Bytes, not chars: every character that matters here is ASCII, and a UTF-8 continuation byte is never one
    // of them (columns count the other bytes, so they are characters).
    let (mut line, mut column) = (1usize, 0usize);
    let (mut depth, mut values) = (0usize, 0usize);
    let mut quote: Option<u8> = None;
    let mut comment = false;
    let mut previous = b'\n';
    for &b in text.as_bytes() {
        if b & 0xC0 != 0x80 {
            column += 1;
        }
        if b == b'\n' {
            line += 1;
            column = 0;
            values += 1;
            comment = false;
            // A quoted scalar may run over lines; a comment ends here.
        } else if comment {
        } else if let Some(open) = quote {
            if b == open && previous != b'\\' {
                quote = None;
            }
        } else {
            match b {
                b'#' if previous.is_ascii_whitespace() => comment = true,
                b'"' | b'\'' if !previous.is_ascii_alphanumeric() => quote = Some(b),
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some((
                            "nesting-limit",
                            format!(
                                "the YAML is nested more than {MAX_NESTING} levels deep here; no tollgate document is"
                            ),
                            Position { line, column },
                        ));
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b',' if depth > 0 => values += 1,
                _ => {}
            }
        }
        if values > MAX_FILE_VALUES {
            return Some((
                "too-many-values",
                format!(
                    "the file holds more than {MAX_FILE_VALUES} values (list items and lines); tollgate reads at \
                     most that many from one file"
                ),
                Position {
                    line,
                    column: column.max(1),
                },
            ));
        }
        previous = b;
    }
    None
}

/// How large the documents of `text` become once every alias (`*name`) is replaced by what its anchor names,
/// counted without expanding anything: each anchored node's expanded size is its own text plus what the aliases
/// inside it expand to (saphyr-parser's event stream, one pass). Returns the first place where the total passes
/// `limit`, if any. serde_yaml's own guard counts alias jumps, not their size: 100 strings of 1,000 characters
/// reused 10,000 times pass it and cost a gigabyte.
fn alias_explosion(text: &str, limit: u64) -> Option<Position> {
    use saphyr_parser::{Event, Parser};
    let mut sizes: HashMap<usize, u64> = HashMap::new();
    // Open collections: (anchor, start index, what aliases inside have added so far).
    let mut open: Vec<(usize, usize, u64)> = Vec::new();
    let mut total: u64 = text.len() as u64;
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            return None;
        };
        let (start, end) = (span.start.index(), span.end.index());
        let mut finished: Option<(usize, u64)> = None;
        match event {
            Event::Alias(id) => {
                let expanded = sizes.get(&id).copied().unwrap_or(0);
                total = total.saturating_add(expanded);
                if let Some(parent) = open.last_mut() {
                    parent.2 = parent.2.saturating_add(expanded);
                }
                if total > limit {
                    return Some(Position {
                        line: span.start.line(),
                        column: span.start.col() + 1,
                    });
                }
            }
            Event::Scalar(_, _, anchor, _) => finished = Some((anchor, (end - start) as u64)),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, start, 0));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, from, added)) = open.pop() {
                    let own = end.saturating_sub(from) as u64;
                    finished = Some((anchor, own.saturating_add(added)));
                    if let Some(parent) = open.last_mut() {
                        parent.2 = parent.2.saturating_add(added);
                    }
                }
            }
            _ => {}
        }
        if let Some((anchor, size)) = finished
            && anchor != 0
        {
            sizes.insert(anchor, size);
        }
    }
    None
}

fn too_large(size: u64) -> (&'static str, String) {
    (
        "file-too-large",
        format!(
            "the file is {} bytes; tollgate reads configuration files of at most {MAX_FILE_BYTES} bytes (1 MiB)",
            size
        ),
    )
}

impl LoadedRepository {
    /// Keeps a diagnostic, or counts it once [`MAX_DIAGNOSTICS`] are kept.
    fn push(&mut self, diagnostic: Diagnostic) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(diagnostic);
        } else {
            self.omitted += usize::from(diagnostic.is_error());
        }
    }

    fn file_problem(&mut self, file: FileId, problem: &FileProblem) {
        let at = Location::Point {
            file,
            position: Position { line: 1, column: 1 },
        };
        let diagnostic = match problem {
            FileProblem::TooLarge { size } => {
                let (code, message) = too_large(*size);
                Diagnostic::error(code, at, message)
                    .with_hint("split it into several files (any number of files and folders is read)")
            }
            FileProblem::LinkOutside { target } => Diagnostic::error(
                "link-outside-repository",
                at,
                format!(
                    "a symbolic link to `{target}`, outside the repository: tollgate does not follow it, so what it \
                     points to is not read"
                ),
            )
            .with_hint("copy the file into the repository, or remove the link"),
            FileProblem::BrokenLink { target, reason } => Diagnostic::error(
                "broken-link",
                at,
                format!("a symbolic link to `{target}` that cannot be followed: {reason}"),
            ),
            FileProblem::LinkedFolder { target } => Diagnostic::warning(
                "linked-folder",
                at,
                format!(
                    "a symbolic link to the folder `{target}`: folders behind links are not read (nothing is read \
                     twice and no walk can loop)"
                ),
            )
            .with_hint("move the folder into the repository, or remove the link"),
            FileProblem::Unreadable { reason } => {
                Diagnostic::error("unreadable-file", at, format!("cannot read the file: {reason}"))
            }
        };
        if diagnostic.is_error() {
            self.unreadable_files += 1;
        }
        self.push(diagnostic);
    }
}

fn load_file(
    repo: &mut LoadedRepository,
    file: FileId,
    documents: Vec<(usize, serde_yaml::Value)>,
    failed: Option<(usize, serde_yaml::Error)>,
) {
    if let Some((index, error)) = failed {
        repo.unreadable_files += 1;
        let diagnostics = yaml_diagnostics(&repo.sources, file, index, &error);
        for diagnostic in diagnostics {
            repo.push(diagnostic);
        }
    }
    for (index, mut value) in documents {
        let at = DocRef { file, index };
        // Merge keys (`<<: *defaults`, https://yaml.org/type/merge.html) are applied as YAML 1.1 defines them:
        // the mapping's own keys win over merged ones.
        if let Err(error) = value.apply_merge() {
            let path = repo.sources.key_path(at, "<<").unwrap_or_default();
            repo.push(
                Diagnostic::error(
                    "invalid-merge-key",
                    Location::Field {
                        doc: at,
                        path,
                        part: FieldPart::Value,
                    },
                    "a YAML merge key (`<<`) must name a mapping (`<<: *defaults`) or a list of mappings",
                )
                .with_hint(format!("YAML says: {}", strip_location(&error.to_string()))),
            );
            repo.unreadable_files += 1;
            continue;
        }
        if let Some(document) = load_document(repo, at, value) {
            repo.documents.push(document);
        }
    }
}

/// What a YAML error means for the person who wrote the file, at the place they need to look.
fn yaml_diagnostics(
    sources: &Sources,
    file: FileId,
    document: usize,
    error: &serde_yaml::Error,
) -> Vec<Diagnostic> {
    let text = &sources.file(file).text;
    let position = error
        .location()
        .map_or(Position { line: 1, column: 1 }, |l| Position {
            line: l.line(),
            column: l.column(),
        });
    let message = plain_expected(&strip_location(&error.to_string()));
    let point = |position| Location::Point { file, position };
    if message.contains("duplicate entry") {
        let duplicates = sources.duplicate_keys(file, document);
        if !duplicates.is_empty() {
            return duplicates
                .into_iter()
                .map(|duplicate| {
                    Diagnostic::error(
                        "duplicate-key",
                        point(duplicate.second),
                        format!(
                            "`{}` is set twice in this mapping: first at line {}, column {}",
                            duplicate.key, duplicate.first.line, duplicate.first.column
                        ),
                    )
                    .with_hint("a YAML mapping holds each key once; remove one of the two")
                })
                .collect();
        }
    }
    if message == "repetition limit exceeded" {
        return vec![Diagnostic::error(
            "alias-limit",
            point(position),
            "YAML aliases (`*name`) here expand to more than 100 times the document's own size; a document \
             built to explode when expanded (a \"billion laughs\" file) is not read",
        )];
    }
    if message == "recursion limit exceeded" {
        return vec![Diagnostic::error(
            "nesting-limit",
            point(position),
            "the YAML is nested more than 128 levels deep; no tollgate document is",
        )];
    }
    if let Some(tab) = indentation_tab(text, position.line) {
        return vec![
            Diagnostic::error(
                "tab-indentation",
                point(tab),
                "a tab character in the indentation: YAML indents with spaces only",
            )
            .with_hint("replace the tab with spaces"),
        ];
    }
    vec![Diagnostic::error("yaml-syntax", point(position), message)]
}

/// A tab in the leading white space of the line the parser stopped at (1-based), if any: libyaml stops at a
/// tab that indents ("found character that cannot start any token"). A tab further up may be a block scalar's
/// content, which is legal, so only this line counts.
fn indentation_tab(text: &str, line: usize) -> Option<Position> {
    let content = text.lines().nth(line.checked_sub(1)?)?;
    let indent = content.len() - content.trim_start_matches([' ', '\t']).len();
    content[..indent].find('\t').map(|column| Position {
        line,
        column: column + 1,
    })
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
        let found = match &value {
            serde_yaml::Value::Sequence(_) => "a list",
            serde_yaml::Value::String(_) => "a string",
            serde_yaml::Value::Number(_) => "a number",
            serde_yaml::Value::Bool(_) => "a boolean",
            serde_yaml::Value::Tagged(_) => "a tagged value",
            serde_yaml::Value::Null | serde_yaml::Value::Mapping(_) => "something else",
        };
        repo.push(Diagnostic::error(
            "not-a-document",
            field("", FieldPart::Value),
            format!(
                "this document is {found}; a document must be a mapping with `apiVersion`, `kind`, `metadata` and \
                 `spec`"
            ),
        ));
        return None;
    };
    let mut header_ok = true;
    match mapping.get("apiVersion").map(|v| v.as_str()) {
        None => {
            header_ok = false;
            repo.push(
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
            repo.push(
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
            repo.push(Diagnostic::error(
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
                repo.push(
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
        repo.push(Diagnostic::error(
            "missing-field",
            field(path, FieldPart::Key),
            "missing field `metadata.name` (a string)",
        ));
    }
    let (Some(kind), Some(name), true) = (kind, name, header_ok) else {
        return None;
    };
    // A private key anywhere in a document (a list item, a single value, a block scalar, a tagged value): said
    // once, at its place, and never shown, whatever else is wrong with the document.
    // One cheap pass first (no paths built); the paths only when there is something to report.
    let (has_secret, has_null) = suspicious(&value);
    let mut secrets = Vec::new();
    if has_secret {
        private_keys(&value, String::new(), &mut secrets);
    }
    if !secrets.is_empty() {
        for path in secrets {
            repo.push(Diagnostic::error(
                "secret-committed",
                field(&path, FieldPart::Value),
                crate::validate::values::PRIVATE_KEY_MESSAGE,
            ));
        }
        repo.broken.insert((kind, name));
        return None;
    }
    // A key without a value must not read as the key left out: `namespaces:` with every item commented out would
    // otherwise mean the whole cluster, `expires:` with its date commented out would mean never.
    let mut empty = Vec::new();
    if has_null {
        null_values(&value, String::new(), &mut empty);
    }
    if !empty.is_empty() {
        for path in empty {
            let meaning = absent_meaning(&path);
            repo.push(
                Diagnostic::error(
                    "empty-value",
                    field(&path, FieldPart::Key),
                    format!("`{}` has no value", path.rsplit('.').next().unwrap_or(&path)),
                )
                .with_hint(format!(
                    "give it a value, or remove the key{meaning}; a key with nothing after it (every item commented \
                     out?) is not read as a key left out"
                )),
            );
        }
        repo.broken.insert((kind, name));
        return None;
    }
    let body = match kind {
        Kind::Settings => typed(value, at).map(DocumentBody::Settings),
        Kind::User => typed(value, at).map(DocumentBody::User),
        Kind::Group => typed(value, at).map(DocumentBody::Group),
        Kind::Role => typed(value, at).map(DocumentBody::Role),
        Kind::Client => typed(value, at).map(DocumentBody::Client),
        Kind::Environment => typed(value, at).map(|spec| DocumentBody::Environment(Box::new(spec))),
        Kind::UserAccess => typed(value, at).map(DocumentBody::UserAccess),
        Kind::AccessTest => typed(value, at).map(DocumentBody::AccessTest),
    };
    match body {
        Ok(body) => Some(Document { at, name, body }),
        Err(diagnostic) => {
            repo.push(*diagnostic);
            repo.broken.insert((kind, name));
            None
        }
    }
}

/// Whether a document holds a private key anywhere, and a mapping entry without a value anywhere.
fn suspicious(value: &serde_yaml::Value) -> (bool, bool) {
    match value {
        serde_yaml::Value::String(text) => (crate::validate::values::is_private_key(text), false),
        serde_yaml::Value::Mapping(mapping) => {
            mapping.iter().fold((false, false), |found, (_, item)| {
                let (secret, null) = suspicious(item);
                (found.0 || secret, found.1 || null || item.is_null())
            })
        }
        serde_yaml::Value::Sequence(items) => items.iter().fold((false, false), |found, item| {
            let (secret, null) = suspicious(item);
            (found.0 || secret, found.1 || null)
        }),
        serde_yaml::Value::Tagged(tagged) => suspicious(&tagged.value),
        _ => (false, false),
    }
}

/// The paths of every string that holds a private key (see [`crate::validate::values::is_private_key`]).
fn private_keys(value: &serde_yaml::Value, path: String, out: &mut Vec<String>) {
    let child = |path: &str, name: String| {
        if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        }
    };
    match value {
        serde_yaml::Value::String(text) if crate::validate::values::is_private_key(text) => {
            out.push(path);
        }
        serde_yaml::Value::Mapping(mapping) => {
            for (key, item) in mapping {
                let name = key.as_str().map_or_else(String::new, str::to_owned);
                private_keys(item, child(&path, name), out);
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                private_keys(item, format!("{path}[{i}]"), out);
            }
        }
        serde_yaml::Value::Tagged(tagged) => private_keys(&tagged.value, path, out),
        _ => {}
    }
}

/// The paths of every mapping entry whose value is null (`key:` or `key: ~`), in document order.
fn null_values(value: &serde_yaml::Value, path: String, out: &mut Vec<String>) {
    match value {
        serde_yaml::Value::Mapping(mapping) => {
            for (key, item) in mapping {
                let name = match key {
                    serde_yaml::Value::String(name) => name.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                let child = if path.is_empty() {
                    name
                } else {
                    format!("{path}.{name}")
                };
                if item.is_null() {
                    out.push(child);
                } else {
                    null_values(item, child, out);
                }
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                null_values(item, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// What leaving a key out means, where that differs in privilege from any value it could have.
fn absent_meaning(path: &str) -> &'static str {
    let key = path.rsplit('.').next().unwrap_or(path);
    match key {
        "namespaces" => " (left out, the grant covers the whole cluster)",
        "clusters" if path.starts_with("spec.") => {
            " (left out, an environment exists in every cluster)"
        }
        "expires" => " (left out, it never expires)",
        "sunset" => " (left out, the client never ends)",
        "resourceNames" => " (left out, the rule covers every object)",
        _ => "",
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

/// serde names Rust types in what it expected (`expected u8`, `expected any YAML value`); users read YAML, so say
/// it in their terms, with the accepted range.
fn plain_expected(message: &str) -> String {
    const TYPES: [(&str, &str); 9] = [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of at least 0"),
        ("expected u128", "expected a whole number of at least 0"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected any YAML value", "expected a value"),
        ("expected a borrowed string", "expected a string"),
    ];
    let mut text = message.to_owned();
    // A number beyond what any field holds: serde_yaml says it failed as a 128-bit integer.
    if let Some(start) = text.find("integer `")
        && (text.contains(" as u128") || text.contains(" as i128"))
    {
        let number: String = text[start + "integer `".len()..]
            .chars()
            .take_while(|c| *c != '`')
            .collect();
        return format!(
            "the number {number} is too large for any field (at most 18446744073709551615)"
        );
    }
    for (rust, plain) in TYPES {
        text = text.replace(rust, plain);
    }
    // `expected struct GroupSpec`, `expected a Value::Tagged enum`, `expected unit`: say it in YAML's words.
    if let Some(at) = text.find("expected struct ") {
        text.replace_range(at.., "expected a mapping (`key: value` pairs)");
    }
    text.replace(
        "expected a Value::Tagged enum",
        "expected one of the allowed words",
    )
    .replace("expected unit", "expected no value")
    .replace("expected field identifier", "expected a field name")
    .replace("invalid type: unit value", "invalid type: no value")
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
    let message = plain_expected(&message);
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
