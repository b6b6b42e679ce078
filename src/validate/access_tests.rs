//! Validation of `AccessTest` documents: the cluster they ask, and each question's subjects (known users, groups and
//! clients) and request (read as `who-can` reads one). Whether a question holds is decided after compiling
//! ([`crate::pipeline::check`]).

use std::collections::BTreeSet;

use crate::config::Kind;

use super::model::*;
use super::{Documents, Validator, field, key};

impl<'a> Validator<'a> {
    pub(super) fn access_tests(
        &mut self,
        docs: &Documents<'a>,
        clusters: &BTreeSet<String>,
    ) -> Vec<AccessTest> {
        let mut tests = Vec::new();
        for (&name, &(doc, spec)) in &docs.access_tests {
            self.cluster_reference(doc, "spec.cluster".to_owned(), &spec.cluster, clusters);
            if spec.allow.is_empty() && spec.deny.is_empty() {
                self.error(
                    "no-questions",
                    key(doc, "spec"),
                    "the access test asks nothing: expected questions under `allow` or `deny`",
                );
            }
            let mut questions = Vec::new();
            for (list, expected, written) in [
                ("allow", Expected::Allow, &spec.allow),
                ("deny", Expected::Deny, &spec.deny),
            ] {
                for (i, question) in written.iter().enumerate() {
                    let path = format!("spec.{list}[{i}]");
                    let subjects = &question.subjects;
                    if subjects.users.is_empty()
                        && subjects.groups.is_empty()
                        && subjects.clients.is_empty()
                    {
                        self.error(
                            "no-subjects",
                            key(doc, format!("{path}.subjects")),
                            "the question is about nobody: expected users, groups or clients",
                        );
                    }
                    for (j, user) in subjects.users.iter().enumerate() {
                        let at = format!("{path}.subjects.users[{j}]");
                        self.reference(doc, at, Kind::User, user, &docs.users);
                    }
                    for (j, group) in subjects.groups.iter().enumerate() {
                        let at = format!("{path}.subjects.groups[{j}]");
                        self.reference(doc, at, Kind::Group, group, &docs.groups);
                    }
                    for (j, client) in subjects.clients.iter().enumerate() {
                        let at = format!("{path}.subjects.clients[{j}]");
                        self.reference(doc, at, Kind::Client, client, &docs.clients);
                    }
                    if question.verb.is_empty() {
                        self.error(
                            "invalid-question",
                            field(doc, format!("{path}.verb")),
                            "the verb is empty; expected e.g. get, list, create, delete",
                        );
                        continue;
                    }
                    let parsed = crate::question::parse(
                        &question.verb,
                        &question.resource,
                        question.name.as_deref(),
                        question.namespace.as_deref(),
                    );
                    let request = match parsed {
                        Ok((request, notices)) => {
                            for notice in notices.into_iter().filter(|n| n.warning) {
                                let at = if notice.text.contains("is not a verb") {
                                    "verb"
                                } else {
                                    "resource"
                                };
                                self.warning(
                                    "doubtful-question",
                                    field(doc, format!("{path}.{at}")),
                                    notice.text,
                                );
                            }
                            request
                        }
                        Err(error) => {
                            let at = if question
                                .namespace
                                .as_deref()
                                .is_some_and(|n| !super::values::is_dns1123_label(n))
                            {
                                "namespace"
                            } else {
                                "resource"
                            };
                            self.error(
                                "invalid-question",
                                field(doc, format!("{path}.{at}")),
                                error.0,
                            );
                            continue;
                        }
                    };
                    questions.push(AccessQuestion {
                        expected,
                        doc,
                        path,
                        subjects: Subjects {
                            users: subjects.users.iter().cloned().collect(),
                            groups: subjects.groups.iter().cloned().collect(),
                            clients: subjects.clients.iter().cloned().collect(),
                        },
                        request,
                    });
                }
            }
            tests.push(AccessTest {
                name: name.to_owned(),
                cluster: spec.cluster.clone(),
                questions,
                origin: self.origin(doc),
            });
        }
        tests
    }
}
