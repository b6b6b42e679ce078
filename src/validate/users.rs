//! Validation of people: `User` documents (recipients, usernames, expiries) and `Group` documents (members and
//! nested groups).

use std::collections::{BTreeMap, HashMap};

use crate::config::Kind;

use crate::config::documents::SubjectPrefixesSpec;
use crate::config::source::DocRef;

use super::model::*;
use super::{Documents, Validator, field};

/// Which kind of RBAC subject a document becomes.
#[derive(Clone, Copy)]
enum Subject {
    User,
    Group,
}

const RESERVED_HINT: &str = "Kubernetes reserves `system:` for its own identities (`system:anonymous`, \
     `system:authenticated`, `system:serviceaccount:...`); grant access to people, groups or clients instead";

/// Checks a name as RBAC accepts a `User` or `Group` subject's (`ValidateRoleBindingSubject`: any non-empty
/// string), plus what no authenticator sends: surrounding white space and control characters.
fn subject_name_rule(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name must not be empty".to_owned());
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return Err(format!(
            "{} starts or ends with white space or holds control characters; no authenticator sends such a \
             name",
            serde_json::to_string(name).expect("a string serializes to JSON")
        ));
    }
    Ok(())
}

impl<'a> Validator<'a> {
    pub(super) fn users(&mut self, docs: &Documents<'a>) -> BTreeMap<String, User> {
        let mut users = BTreeMap::new();
        let mut key_owner: HashMap<String, &str> = HashMap::new();
        let mut subjects: HashMap<&'a str, DocRef> = HashMap::with_capacity(docs.users.len());
        let prefixes = self.subject_prefixes(docs);
        let prefix = prefixes.as_ref().map(|p| p.user.as_str());
        for (&name, &(doc, spec)) in &docs.users {
            let recipients = self.recipients(doc, "spec.recipients", &spec.recipients);
            for (i, recipient) in recipients.iter().enumerate() {
                if let Some(other) = key_owner.insert(recipient.key.clone(), name) {
                    self.error(
                        "duplicate-recipient",
                        field(doc, format!("spec.recipients[{i}]")),
                        format!("this key is also a recipient of user `{other}`; every person needs their own key"),
                    );
                }
            }
            if let Some(email) = &spec.email
                && !email.contains('@')
            {
                self.error(
                    "invalid-email",
                    field(doc, "spec.email"),
                    format!("`{email}` is not an email address"),
                );
            }
            let username = self.subject(
                Subject::User,
                (doc, name),
                spec.username.as_deref(),
                prefix,
                &mut subjects,
            );
            let expires = self.timestamp(doc, "spec.expires", &spec.expires, "the user's expiry");
            users.insert(
                name.to_owned(),
                User {
                    name: name.to_owned(),
                    username,
                    email: spec.email.clone(),
                    recipients,
                    expires,
                    disabled: spec.disabled,
                    origin: self.origin(doc),
                },
            );
        }
        users
    }

    /// The name an RBAC subject of this user or group carries (`written`, else the document's name), checked: not
    /// empty, not a Kubernetes system identity once prefixed (unless the prefix itself is, which Settings
    /// reports), and not another document's identity (`seen` holds those so far).
    fn subject(
        &mut self,
        kind: Subject,
        (doc, name): (DocRef, &'a str),
        written: Option<&'a str>,
        prefix: Option<&str>,
        seen: &mut HashMap<&'a str, DocRef>,
    ) -> String {
        // Every user and group passes here: nothing is allocated unless something is wrong. The prefix is the
        // same for all, so two subjects collide exactly when their names do.
        let written_name: &'a str = written.unwrap_or(name);
        let subject_name = written_name.to_owned();
        let path = match (kind, written.is_some()) {
            (Subject::User, true) => "spec.username",
            (Subject::Group, true) => "spec.groupName",
            (_, false) => "metadata.name",
        };
        if let Err(message) = subject_name_rule(&subject_name) {
            self.error("invalid-value", field(doc, path), message);
            return subject_name;
        }
        let Some(prefix) = prefix else {
            return subject_name;
        };
        let subject = || format!("{prefix}{subject_name}");
        let reserved = "system:";
        let is_system = if prefix.len() >= reserved.len() {
            false // the prefix itself decides, and Settings reports it
        } else {
            reserved.starts_with(prefix) && written_name.starts_with(&reserved[prefix.len()..])
        };
        if is_system {
            let what = match kind {
                Subject::User => "a Kubernetes system identity, not a person",
                Subject::Group => {
                    "a Kubernetes system group (e.g. every authenticated user or every ServiceAccount), not a \
                     group of people"
                }
            };
            self.error(
                "reserved-subject",
                field(doc, path),
                format!("`{}` is {what}", subject()),
            )
            .hint = Some(RESERVED_HINT.to_owned());
        }
        if let Some(first) = seen.insert(written_name, doc) {
            let (code, noun, tail) = match kind {
                Subject::User => (
                    "duplicate-username",
                    "user",
                    ": both would be one person to Kubernetes",
                ),
                Subject::Group => ("duplicate-group-name", "group", ""),
            };
            let message = format!(
                "{noun} `{name}` has the RBAC identity `{}` of another {noun} (at {}){tail}",
                subject(),
                self.describe(first)
            );
            self.error(code, field(doc, path), message);
        }
        subject_name
    }

    /// The subject prefixes of the (first) Settings document; `None` without one (then the prefixes are unknown
    /// and subject names are not compared).
    fn subject_prefixes(&self, docs: &Documents<'a>) -> Option<SubjectPrefixesSpec> {
        docs.settings
            .first()
            .map(|(_, _, spec)| spec.subject_prefixes.clone())
    }

    pub(super) fn groups(&mut self, docs: &Documents<'a>) -> BTreeMap<String, Group> {
        let mut groups = BTreeMap::new();
        let mut subjects: HashMap<&'a str, DocRef> = HashMap::with_capacity(docs.groups.len());
        let prefixes = self.subject_prefixes(docs);
        let prefix = prefixes.as_ref().map(|p| p.group.as_str());
        for (&name, &(doc, spec)) in &docs.groups {
            let group_name = self.subject(
                Subject::Group,
                (doc, name),
                spec.group_name.as_deref(),
                prefix,
                &mut subjects,
            );
            for (i, member) in spec.members.iter().enumerate() {
                self.reference(
                    doc,
                    format!("spec.members[{i}]"),
                    Kind::User,
                    member,
                    &docs.users,
                );
            }
            for (i, group) in spec.groups.iter().enumerate() {
                self.reference(
                    doc,
                    format!("spec.groups[{i}]"),
                    Kind::Group,
                    group,
                    &docs.groups,
                );
            }
            groups.insert(
                name.to_owned(),
                Group {
                    name: name.to_owned(),
                    group_name,
                    members: spec.members.iter().cloned().collect(),
                    groups: spec.groups.iter().cloned().collect(),
                    origin: self.origin(doc),
                },
            );
        }
        groups
    }
}
