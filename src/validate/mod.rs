//! Validation: loaded documents -> a validated [`AccessModel`], reporting every problem at once.
//!
//! Validation runs in passes so that one mistake is reported once: first every document's own values (names,
//! durations, keys, networks), then references between documents (which need every name known), then checks across
//! the whole repository (cycles, pool capacity, unused documents). A model is returned only when there is no error.
//!
//! One [`Validator`] does the work; its `impl` is split by kind as gix-config splits its types by concern: this
//! file holds the pass order and the helpers every kind uses, `settings`, `users` (users and groups), `roles`,
//! `clients`, `environments` and `access` check their kind, and `references` resolves names and runs the checks
//! across the repository.

mod access;
mod access_tests;
mod clients;
mod environments;
pub mod model;
mod references;
mod roles;
mod settings;
mod users;
pub mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;

use crate::config::documents::{
    AccessTestSpec, ClientSpec, DocumentBody, EnvironmentSpec, GroupSpec, RoleSpec, SettingsSpec,
    UserAccessSpec, UserSpec,
};
use crate::config::load::MAX_DIAGNOSTICS;
use crate::config::source::{DocRef, FieldPart, FileId};
use crate::config::{Kind, LoadedRepository};
use crate::diagnostics::{Diagnostic, Location};
use model::*;

/// The outcome of validation: a model when nothing is wrong, and every diagnostic (warnings come with a model too).
#[derive(Debug)]
pub struct Validation {
    /// The validated model; `None` when any diagnostic is an error.
    pub model: Option<AccessModel>,
    /// The loader's diagnostics, then validation's, unsorted (see [`crate::diagnostics::resolve_all`]).
    pub diagnostics: Vec<Diagnostic>,
}

impl Validation {
    /// Whether any diagnostic is an error, in which case there is no model.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Validates a loaded repository. `now` decides which expiries have passed (warnings only: expired parts compile
/// to nothing).
pub fn validate(repo: &LoadedRepository, now: Timestamp) -> Validation {
    let mut validator = Validator::new(repo, now);
    let model = validator.run();
    let mut diagnostics = repo.diagnostics.clone();
    diagnostics.append(&mut validator.diagnostics);
    if validator.unchecked > 0 {
        let files = repo.unreadable_files;
        diagnostics.push(Diagnostic::warning(
            "unchecked-references",
            Location::Repository,
            format!(
                "{} reference(s) to other documents were not checked, and unused documents not looked for: {files} \
                 file(s) could not be read (see above), and what they define is unknown",
                validator.unchecked
            ),
        ));
    }
    let omitted = repo.omitted + validator.omitted;
    let omitted_warnings = validator.omitted_warnings;
    if omitted > 0 || omitted_warnings > 0 {
        let message = format!(
            "{omitted} more error(s) and {omitted_warnings} more warning(s) are not shown: only the first \
             {MAX_DIAGNOSTICS} of each stage are kept"
        );
        diagnostics.push(if omitted > 0 {
            Diagnostic::error("too-many-problems", Location::Repository, message)
        } else {
            Diagnostic::warning("too-many-problems", Location::Repository, message)
        });
    }
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Validation {
        model: if has_errors { None } else { model },
        diagnostics,
    }
}

/// `text` as a double-quoted YAML (and JSON) string, ready to paste into a file.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes to JSON")
}

/// The name a `try \`x\`` hint suggests, or a placeholder.
fn hint_name(hint: Option<&str>) -> String {
    hint.and_then(|h| h.strip_prefix("try "))
        .unwrap_or("`platform-admins`")
        .to_owned()
}

fn field(doc: DocRef, path: impl Into<String>) -> Location {
    Location::Field {
        doc,
        path: path.into(),
        part: FieldPart::Value,
    }
}

fn key(doc: DocRef, path: impl Into<String>) -> Location {
    Location::Field {
        doc,
        path: path.into(),
        part: FieldPart::Key,
    }
}

/// The documents of one kind, first definition of each name wins.
type ByName<'a, S> = BTreeMap<&'a str, (DocRef, &'a S)>;

struct Validator<'a> {
    repo: &'a LoadedRepository,
    now: Timestamp,
    diagnostics: Vec<Diagnostic>,
    origins: HashMap<FileId, Origin>,
    /// References not reported as unknown because some file could not be read (see `names_unknowable`).
    unchecked: usize,
    /// Errors beyond [`MAX_DIAGNOSTICS`], counted but not kept.
    omitted: usize,
    /// Warnings beyond [`MAX_DIAGNOSTICS`], counted but not kept.
    omitted_warnings: usize,
    /// Where an error beyond the cap is written (and forgotten), so that `error` can still return one.
    discarded: Diagnostic,
}

/// The documents of a repository, sorted by kind and name.
#[derive(Default)]
struct Documents<'a> {
    settings: Vec<(DocRef, &'a str, &'a SettingsSpec)>,
    users: ByName<'a, UserSpec>,
    groups: ByName<'a, GroupSpec>,
    roles: ByName<'a, RoleSpec>,
    clients: ByName<'a, ClientSpec>,
    environments: ByName<'a, EnvironmentSpec>,
    access: ByName<'a, UserAccessSpec>,
    access_tests: ByName<'a, AccessTestSpec>,
}

impl<'a> Validator<'a> {
    fn new(repo: &'a LoadedRepository, now: Timestamp) -> Self {
        let origins = repo
            .sources
            .iter()
            .map(|(id, file)| (id, Arc::from(file.path.as_str())))
            .collect();
        Validator {
            repo,
            now,
            diagnostics: Vec::new(),
            origins,
            unchecked: 0,
            omitted: 0,
            omitted_warnings: 0,
            discarded: Diagnostic::error("", Location::Repository, ""),
        }
    }

    /// Reports an error (the caller may set its hint on what comes back). Beyond [`MAX_DIAGNOSTICS`] errors are
    /// only counted: a file with a million bad list items must not make a million messages.
    fn error(
        &mut self,
        code: &'static str,
        location: Location,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        if self.diagnostics.len() >= MAX_DIAGNOSTICS {
            self.omitted += 1;
            return &mut self.discarded;
        }
        self.diagnostics
            .push(Diagnostic::error(code, location, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn warning(&mut self, code: &'static str, location: Location, message: impl Into<String>) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics
                .push(Diagnostic::warning(code, location, message));
        } else {
            self.omitted_warnings += 1;
        }
    }

    /// Whether a name that resolves to nothing may still be defined: in a file that could not be read. Then a
    /// reference is not reported (its cause is), only counted.
    fn names_unknowable(&mut self) -> bool {
        let unknowable = self.repo.unreadable_files > 0;
        self.unchecked += usize::from(unknowable);
        unknowable
    }

    fn origin(&self, doc: DocRef) -> Origin {
        self.origins[&doc.file].clone()
    }

    /// Whether the document writes the field itself (as opposed to leaving it to its default).
    fn written(&self, doc: DocRef, path: &str) -> bool {
        self.repo.sources.has_field(doc, path)
    }

    fn describe(&self, doc: DocRef) -> String {
        let path = &self.repo.sources.file(doc.file).path;
        match self
            .repo
            .sources
            .field_position(doc, "metadata.name", FieldPart::Value)
        {
            Some(at) => format!("{path}:{}", at.line),
            None => path.clone(),
        }
    }

    fn run(&mut self) -> Option<AccessModel> {
        let docs = self.collect();
        let settings = self.settings(&docs);
        let clusters: BTreeSet<String> = settings
            .as_ref()
            .map(|s| s.clusters.keys().cloned().collect())
            .unwrap_or_default();

        let users = self.users(&docs);
        let groups = self.groups(&docs);
        self.verify_signers(&docs, &users, &groups);
        let roles = self.roles(&docs);
        let clients = self.clients(&docs, &clusters);
        let environments = self.environments(&docs, &clusters);
        let grants = self.grants(&docs, &clusters, &roles, &environments);
        let access_tests = self.access_tests(&docs, &clusters);

        self.group_cycles(&docs);
        if let Some(settings) = &settings {
            self.pool_capacity(&docs, settings, &clients);
        }
        self.unused(&docs, &grants);

        Some(AccessModel {
            settings: settings?,
            users,
            groups,
            roles,
            clients,
            environments,
            grants,
            access_tests,
            validated: Validated::proof(),
        })
    }

    /// Sorts documents by kind, reporting invalid and duplicate names.
    fn collect(&mut self) -> Documents<'a> {
        let mut docs = Documents::default();
        let mut first: HashMap<(Kind, &str), DocRef> = HashMap::new();
        for document in &self.repo.documents {
            let kind = document.body.kind();
            let name = document.name.as_str();
            if kind != Kind::Settings {
                if let Err((message, hint)) = values::dns1123_label(name) {
                    // A person's or a group's name as the identity provider sends it is not a document name;
                    // "fixing" it would bind a name that matches nobody. Say where such a name goes.
                    let hint = match kind {
                        Kind::User => Some(format!(
                            "`metadata.name` names the document; keep the identity provider's name in \
                             `spec.username: {}` and give the document a name such as {}",
                            quoted(name),
                            hint_name(hint.as_deref())
                        )),
                        Kind::Group => Some(format!(
                            "`metadata.name` names the document; keep the identity provider's group in \
                             `spec.groupName: {}` and give the document a name such as {}",
                            quoted(name),
                            hint_name(hint.as_deref())
                        )),
                        _ => hint,
                    };
                    self.error("invalid-name", field(document.at, "metadata.name"), message)
                        .hint = hint;
                }
                if let Some(earlier) = first.get(&(kind, name)) {
                    let message = format!(
                        "duplicate {kind} `{name}`: it is already defined at {}",
                        self.describe(*earlier)
                    );
                    self.error(
                        "duplicate-name",
                        field(document.at, "metadata.name"),
                        message,
                    );
                    continue;
                }
                first.insert((kind, name), document.at);
            }
            let at = document.at;
            match &document.body {
                DocumentBody::Settings(spec) => docs.settings.push((at, name, spec)),
                DocumentBody::User(spec) => _ = docs.users.insert(name, (at, spec)),
                DocumentBody::Group(spec) => _ = docs.groups.insert(name, (at, spec)),
                DocumentBody::Role(spec) => _ = docs.roles.insert(name, (at, spec)),
                DocumentBody::Client(spec) => _ = docs.clients.insert(name, (at, spec)),
                DocumentBody::Environment(spec) => {
                    _ = docs.environments.insert(name, (at, &**spec));
                }
                DocumentBody::UserAccess(spec) => _ = docs.access.insert(name, (at, spec)),
                DocumentBody::AccessTest(spec) => _ = docs.access_tests.insert(name, (at, spec)),
            }
        }
        docs
    }

    /// Parses an RFC 3339 timestamp at `path`; one that has passed is a warning (it compiles to nothing).
    fn timestamp(
        &mut self,
        doc: DocRef,
        path: &str,
        text: &Option<String>,
        what: &str,
    ) -> Option<Timestamp> {
        let text = text.as_deref()?;
        match values::timestamp(text) {
            Ok(at) => {
                if at <= self.now {
                    self.warning(
                        "expired",
                        field(doc, path),
                        format!("{what} {text} has passed; this compiles to nothing"),
                    );
                }
                Some(at)
            }
            Err(message) => {
                self.error("invalid-timestamp", field(doc, path), message);
                None
            }
        }
    }

    fn recipients(&mut self, doc: DocRef, path: &str, list: &[String]) -> Vec<Recipient> {
        let mut parsed: Vec<Recipient> = Vec::new();
        for (i, text) in list.iter().enumerate() {
            match values::recipient(text) {
                Ok(recipient) => {
                    if parsed.contains(&recipient) {
                        self.error(
                            "duplicate-recipient",
                            field(doc, format!("{path}[{i}]")),
                            "this key is listed twice",
                        );
                    } else {
                        parsed.push(recipient);
                    }
                }
                Err(message) => {
                    self.error(
                        "invalid-recipient",
                        field(doc, format!("{path}[{i}]")),
                        message,
                    );
                }
            }
        }
        parsed
    }
}
