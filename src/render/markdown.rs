//! Markdown for a merge-request comment: the summary first, then the objects, field changes and access changes.

use std::fmt::Write as _;

use super::human::{Plain, field_lines, sigil};
use crate::plan::{Against, Plan};

/// The plan as Markdown for a merge-request comment: the summary, the deletion guard's warning, a table of access
/// changes, and the object changes (no-ops left out) as a folded `diff` block.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let against = match &plan.against {
        Against::Empty => "an empty cluster".to_owned(),
        Against::File { path } => format!("`{path}`"),
        Against::Cluster { server } => format!("the live cluster at `{server}`"),
    };
    let s = &plan.summary;
    let _ = writeln!(out, "### tollgate plan for cluster `{}`\n", plan.cluster);
    let _ = writeln!(
        out,
        "Against {against}: **{} to create, {} to update, {} to replace, {} to delete**, {} conflicts, {} unchanged.\n",
        s.create, s.update, s.replace, s.delete, s.conflict, s.unchanged
    );
    if let Some(guard) = &plan.deletion_guard {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> The deletion guard refuses this plan: {} (limits: more than {}% and more than {}).\n",
            guard.reason, guard.max_delete_percent, guard.min_objects
        );
    }
    if !plan.access.is_empty() {
        out.push_str("#### Access changes\n\n| subject | gains | loses |\n| --- | --- | --- |\n");
        for change in &plan.access {
            let list = |items: &[crate::plan::access::Access]| {
                items
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = writeln!(
                out,
                "| {} `{}` | {} | {} |",
                change.subject.kind,
                change.subject.name,
                list(&change.gained),
                list(&change.lost)
            );
        }
        out.push('\n');
    }
    let changes: Vec<_> = plan.pending_changes().collect();
    if !changes.is_empty() {
        out.push_str("<details><summary>Object changes</summary>\n\n```diff\n");
        for change in changes {
            let _ = write!(out, "{} {}", sigil(change.action), change.object);
            if let Some(reason) = &change.reason {
                let _ = write!(out, " ({reason})");
            }
            out.push('\n');
            for field in &change.fields {
                field_lines(&mut out, field, &Plain);
            }
        }
        out.push_str("```\n\n</details>\n");
    }
    out
}
