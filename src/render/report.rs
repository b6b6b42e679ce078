//! The apply report as text: one line per object that was written or failed, then the totals.

use std::fmt::Write as _;

use crate::apply::{ApplyReport, Outcome};
use crate::text::shown;

fn word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Replaced => "replaced",
        Outcome::Deleted => "deleted",
        Outcome::Adopted => "adopted",
        Outcome::Unchanged => "unchanged",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
        Outcome::HeldBack => "held back",
    }
}

/// The apply report as people read it: a line per object that was not unchanged (with its reason), the totals,
/// and with `--publish` the client files published.
pub fn report_human(report: &ApplyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Applying to cluster `{}` at {}:",
        report.cluster, report.server
    );
    for object in &report.objects {
        if object.outcome == Outcome::Unchanged {
            continue;
        }
        // Names and the API server's reasons can carry what the cluster holds: shown, never interpreted.
        let _ = write!(
            out,
            "  {:<9} {}",
            word(object.outcome),
            shown(&object.object.to_string())
        );
        match &object.reason {
            Some(reason) => {
                let _ = writeln!(out, ": {}", shown(reason));
            }
            None => out.push('\n'),
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "{}: {} created, {} updated, {} replaced, {} deleted, {} adopted, {} unchanged, {} failed, {} skipped{}.",
        if report.succeeded() {
            "Apply complete"
        } else {
            "Apply FAILED"
        },
        s.created,
        s.updated,
        s.replaced,
        s.deleted,
        s.adopted,
        s.unchanged,
        s.failed,
        s.skipped,
        if s.held_back > 0 {
            format!(", {} namespace deletion(s) held back", s.held_back)
        } else {
            String::new()
        }
    );
    if let Some(publish) = &report.publish {
        for change in &publish.changes {
            let _ = writeln!(out, "  published {}: {}", change.path, change.reason);
        }
        for failure in &publish.failures {
            let _ = writeln!(
                out,
                "  failed    client {}: {}",
                failure.client, failure.reason
            );
        }
        match &publish.commit {
            Some(commit) => {
                let _ = writeln!(
                    out,
                    "Published {} client file change(s) in commit {commit} ({} push attempt(s)); {} token(s) issued, {} client(s) revoked.",
                    publish.changes.len(),
                    publish.push_attempts,
                    publish.tokens_issued,
                    publish.revoked.len()
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "Client files are up to date: no commit; {} token(s) issued.",
                    publish.tokens_issued
                );
            }
        }
    }
    out
}

/// The apply report as pretty-printed JSON ending in a newline (`apply --output json`, `apply --report FILE`).
pub fn report_json(report: &ApplyReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("a report serializes to JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{ObjectOutcome, ReportSummary};
    use crate::objects::{ObjectKey, ObjectKind};

    #[test]
    fn a_failed_apply_names_each_object_and_reason() {
        let outcome = |kind, name: &str, outcome, reason: Option<&str>| ObjectOutcome {
            object: ObjectKey::namespaced(kind, "payments", name),
            outcome,
            reason: reason.map(str::to_owned),
        };
        let report = ApplyReport {
            format_version: 1,
            cluster: "prod".into(),
            server: "https://127.0.0.1:6443".into(),
            summary: ReportSummary {
                created: 1,
                unchanged: 1,
                failed: 1,
                skipped: 1,
                ..ReportSummary::default()
            },
            objects: vec![
                outcome(
                    ObjectKind::ServiceAccount,
                    "bob-laptop",
                    Outcome::Created,
                    None,
                ),
                outcome(ObjectKind::ServiceAccount, "ci", Outcome::Unchanged, None),
                outcome(
                    ObjectKind::RoleBinding,
                    "tollgate:view",
                    Outcome::Failed,
                    Some("403 Forbidden: rolebindings is forbidden"),
                ),
                outcome(
                    ObjectKind::RoleBinding,
                    "tollgate:old",
                    Outcome::Skipped,
                    Some(
                        "not deleted: 1 earlier write(s) failed, and prune waits for a complete apply",
                    ),
                ),
            ],
            publish: None,
        };
        insta::assert_snapshot!(report_human(&report));
    }
}
