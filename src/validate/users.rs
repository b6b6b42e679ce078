//! Validation of people: `User` documents (recipients, usernames, expiries) and `Group` documents (members and
//! nested groups).

use std::collections::{BTreeMap, HashMap};

use crate::config::Kind;

use super::model::*;
use super::{Documents, Validator, field};

impl<'a> Validator<'a> {
    pub(super) fn users(&mut self, docs: &Documents<'a>) -> BTreeMap<String, User> {
        let mut users = BTreeMap::new();
        let mut key_owner: HashMap<String, &str> = HashMap::new();
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
            let username = spec.username.clone().unwrap_or_else(|| name.to_owned());
            if username.is_empty() {
                self.error(
                    "invalid-value",
                    field(doc, "spec.username"),
                    "the username must not be empty",
                );
            }
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

    pub(super) fn groups(&mut self, docs: &Documents<'a>) -> BTreeMap<String, Group> {
        let mut groups = BTreeMap::new();
        for (&name, &(doc, spec)) in &docs.groups {
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
                    members: spec.members.iter().cloned().collect(),
                    groups: spec.groups.iter().cloned().collect(),
                    origin: self.origin(doc),
                },
            );
        }
        groups
    }
}
