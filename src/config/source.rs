//! The files of an access repository and where each document and field sits in them.
//!
//! Positions are indexed lazily, per file, with a second YAML parser that reports spans (saphyr-parser): serde_yaml
//! gives positions only for its own errors, and indexing every file up front would double the cost of a load that
//! finds nothing wrong. Only files that get a diagnostic are ever indexed.

use std::collections::HashMap;
use std::sync::OnceLock;

use saphyr_parser::{Event, Parser};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    /// Line, counting from 1.
    pub line: usize,
    /// Column, counting from 1.
    pub column: usize,
}

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub(crate) u32);

/// One document of one file: the file and the document's index within it (0-based, counting empty documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocRef {
    /// The file the document is in.
    pub file: FileId,
    /// Position of the document among the file's `---`-separated documents, from 0.
    pub index: usize,
}

/// One configuration file: its repository-relative path (always `/`-separated) and text.
#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the repository root, e.g. `users/alice.yaml`.
    pub path: String,
    /// The file's text; empty for a file that is not UTF-8.
    pub text: String,
    positions: OnceLock<PositionIndex>,
}

/// Every configuration file that was read, in path order.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its id; ids count up in the order files are added.
    pub fn add(&mut self, path: String, text: String) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 4 billion files"));
        self.files.push(SourceFile {
            path,
            text,
            positions: OnceLock::new(),
        });
        id
    }

    /// The file behind `id`, which must come from this `Sources` (panics when out of range).
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// How many files there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every file with its id, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, file)| (FileId(i as u32), file))
    }

    /// Where the field at `path` (e.g. `spec.grants[0].role`; empty for the document itself) of a document is.
    ///
    /// Falls back to the nearest enclosing field that exists, so that a missing field points at the mapping that
    /// lacks it.
    pub fn field_position(&self, doc: DocRef, path: &str, want: FieldPart) -> Option<Position> {
        let index = self.file(doc.file).position_index();
        let fields = index.documents.get(doc.index)?;
        let mut candidate = path;
        loop {
            if let Some(field) = fields.fields.get(candidate) {
                return Some(match want {
                    FieldPart::Key => field.key.unwrap_or(field.value),
                    FieldPart::Value => field.value,
                });
            }
            if candidate.is_empty() {
                return Some(fields.start);
            }
            candidate = parent_path(candidate);
        }
    }
}

impl Sources {
    /// The path of the first field of a document whose key is `key` (e.g. `spec.grants[0].<<` for `<<`).
    pub fn key_path(&self, doc: DocRef, key: &str) -> Option<String> {
        let index = self.file(doc.file).position_index();
        let fields = &index.documents.get(doc.index)?.fields;
        let suffix = format!(".{key}");
        fields
            .iter()
            .filter(|(path, _)| path.ends_with(&suffix) || path.as_str() == key)
            .min_by_key(|(_, field)| field.key.unwrap_or(field.value))
            .map(|(path, _)| path.clone())
    }

    /// Whether the document writes the field at `path` itself (a key present in the text, whatever its value).
    pub fn has_field(&self, doc: DocRef, path: &str) -> bool {
        self.file(doc.file)
            .position_index()
            .documents
            .get(doc.index)
            .is_some_and(|d| d.fields.contains_key(path))
    }

    /// The keys that a document of `file` sets twice in one mapping (indexes the file's positions).
    pub fn duplicate_keys(&self, file: FileId, document: usize) -> Vec<DuplicateKey> {
        let all = self
            .file(file)
            .position_index()
            .documents
            .get(document)
            .map(|d| d.duplicates.clone())
            .unwrap_or_default();
        // Under a key set twice, the second value's fields meet the first's paths: those are not duplicates.
        all.iter()
            .filter(|d| {
                !all.iter().any(|outer| {
                    d.path.len() > outer.path.len()
                        && d.path.starts_with(&outer.path)
                        && matches!(d.path.as_bytes()[outer.path.len()], b'.' | b'[')
                })
            })
            .cloned()
            .collect()
    }
}

/// Which end of a `key: value` pair a diagnostic points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldPart {
    /// The key, e.g. for an unknown or missing field; sequence items have none and fall back to the value.
    Key,
    /// The value, e.g. for a value that does not parse or names nothing.
    Value,
}

fn parent_path(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(cut) => &path[..cut],
        None => "",
    }
}

impl SourceFile {
    fn position_index(&self) -> &PositionIndex {
        self.positions
            .get_or_init(|| PositionIndex::build(&self.text))
    }
}

#[derive(Debug, Default)]
struct PositionIndex {
    documents: Vec<DocumentPositions>,
}

#[derive(Debug)]
struct DocumentPositions {
    start: Position,
    fields: HashMap<String, FieldPosition>,
    /// Keys set twice in one mapping, in the order they appear.
    duplicates: Vec<DuplicateKey>,
}

/// A key that a mapping holds twice (serde_yaml refuses the document; this says where both are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key as written.
    pub key: String,
    /// The key's path in the document, e.g. `spec.grants`.
    pub path: String,
    /// Where the key is first set.
    pub first: Position,
    /// Where it is set again.
    pub second: Position,
}

#[derive(Debug, Clone, Copy)]
struct FieldPosition {
    /// The key of a mapping entry; `None` for sequence items and the document root.
    key: Option<Position>,
    value: Position,
}

enum Frame {
    Mapping {
        path: String,
        /// The key whose value comes next, with its position; `None` while a key is expected.
        key: Option<(String, Position)>,
    },
    Sequence {
        path: String,
        next: usize,
    },
}

impl PositionIndex {
    /// Indexes every node of every document. A syntax error ends the index where it is: serde_yaml reports the
    /// error itself, with its own position.
    fn build(text: &str) -> PositionIndex {
        let mut index = PositionIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let at = Position {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            match event {
                Event::DocumentStart(_) => {
                    index.documents.push(DocumentPositions {
                        start: at,
                        fields: HashMap::new(),
                        duplicates: Vec::new(),
                    });
                    stack.clear();
                }
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Mapping {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        *key = Some((value.into_owned(), at));
                    } else {
                        index.record_node(&mut stack, at);
                    }
                }
                Event::Alias(_) => {
                    if let Some(Frame::Mapping {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        *key = Some(("<alias>".to_owned(), at));
                    } else {
                        index.record_node(&mut stack, at);
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = if let Some(Frame::Mapping {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        // A complex key: index nothing below it, but keep the nesting straight.
                        *key = Some(("<complex key>".to_owned(), at));
                        "<complex key>".to_owned()
                    } else {
                        index.record_node(&mut stack, at)
                    };
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Mapping { path, key: None }
                    } else {
                        Frame::Sequence { path, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        index
    }

    /// Records a value node at the place the stack says it is, and returns its path.
    fn record_node(&mut self, stack: &mut [Frame], at: Position) -> String {
        let (path, key, name) = match stack.last_mut() {
            None => (String::new(), None, None),
            Some(Frame::Mapping { path, key }) => {
                let (name, key_at) = key.take().expect("a value in a mapping follows its key");
                let full = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                (full, Some(key_at), Some(name))
            }
            Some(Frame::Sequence { path, next }) => {
                let full = format!("{path}[{next}]");
                *next += 1;
                (full, None, None)
            }
        };
        if let Some(document) = self.documents.last_mut() {
            match document.fields.entry(path.clone()) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    if let (Some(name), Some(first), Some(second)) = (name, first.get().key, key)
                        && name != "<alias>"
                        && name != "<complex key>"
                    {
                        document.duplicates.push(DuplicateKey {
                            key: name,
                            path: path.clone(),
                            first,
                            second,
                        });
                    }
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(FieldPosition { key, value: at });
                }
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_values_and_items_across_documents() {
        let mut sources = Sources::default();
        let text = "# c\napiVersion: v\nkind: User\n---\nspec:\n  grants:\n    - role: view\n      namespaces: [a, b]\n";
        let file = sources.add("a.yaml".into(), text.into());
        let doc1 = DocRef { file, index: 1 };
        let at = |doc, path, part| sources.field_position(doc, path, part).unwrap();
        assert_eq!(
            at(DocRef { file, index: 0 }, "kind", FieldPart::Key),
            Position { line: 3, column: 1 }
        );
        assert_eq!(
            at(DocRef { file, index: 0 }, "kind", FieldPart::Value),
            Position { line: 3, column: 7 }
        );
        assert_eq!(
            at(doc1, "spec.grants[0].role", FieldPart::Value),
            Position {
                line: 7,
                column: 13
            }
        );
        assert_eq!(
            at(doc1, "spec.grants[0].namespaces[1]", FieldPart::Value),
            Position {
                line: 8,
                column: 23
            }
        );
        // A field that does not exist points at its nearest existing parent.
        assert_eq!(
            at(doc1, "spec.grants[0].cluster", FieldPart::Key),
            Position { line: 7, column: 7 }
        );
    }
}
