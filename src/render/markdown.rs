//! Markdown for a merge-request comment: the summary first, then the objects, field changes and access changes.

use std::fmt::Write as _;

use super::human::{Plain, field_lines, sigil};
use crate::plan::{Against, Plan};

/// Rows of the "Needs a second look" table at most; the JSON plan has them all.
const MAX_SECOND_LOOK_ROWS: usize = 100;
/// Past this many characters of markdown, no further permission rows are added (GitHub's comment limit is 65,536).
const MAX_PERMISSION_SECTION_END: usize = 40_000;

/// The plan as Markdown for a merge-request comment: the summary, the deletion guard's warning, what needs a second
/// look (first, so that a comment cut for size keeps it), a table of access changes, and the object changes (no-ops
/// left out) as a folded `diff` block.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let against = match &plan.against {
        Against::Empty => "an empty cluster".to_owned(),
        Against::File { path } => code(path),
        Against::Cluster { server } => format!("the live cluster at {}", code(server)),
    };
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "### tollgate plan for cluster {}\n",
        code(&plan.cluster)
    );
    let _ = writeln!(
        out,
        "Against {against}: **{} to create, {} to update, {} to replace, {} to delete**, {} conflict{}, {} unchanged.\n",
        s.create,
        s.update,
        s.replace,
        s.delete,
        s.conflict,
        if s.conflict == 1 { "" } else { "s" },
        s.unchanged
    );
    if let Some(guard) = &plan.deletion_guard {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> The deletion guard refuses this plan: {} (limits: more than {}% and more than {}).\n",
            guard.reason, guard.max_delete_percent, guard.min_objects
        );
    }
    if !plan.second_look.is_empty() {
        out.push_str(
            "#### Needs a second look\n\n> [!IMPORTANT]\n> These changes give power over other people's access or \
             data.\n\n| subject | gains | where | via | from |\n| --- | --- | --- | --- | --- |\n",
        );
        let lines = crate::plan::second_look::lines(&plan.second_look);
        // A merge-request comment has a size limit (GitHub: 65,536 characters): the first rows, and how many more.
        for line in lines.iter().take(MAX_SECOND_LOOK_ROWS) {
            let _ = writeln!(
                out,
                "| {} {} | {} | {} | {} → {} | {} |",
                line.subject.kind,
                code(&line.subject.name),
                line.powers
                    .iter()
                    .map(|p| crate::text::shown(p)
                        .replace('|', "\\|")
                        .replace('<', "&lt;"))
                    .collect::<Vec<_>>()
                    .join("<br>"),
                line.namespace.map_or("cluster-wide".to_owned(), code),
                code(line.binding),
                code(line.role),
                line.sources
                    .iter()
                    .map(|s| code(s))
                    .collect::<Vec<_>>()
                    .join("<br>")
            );
        }
        if lines.len() > MAX_SECOND_LOOK_ROWS {
            let _ = writeln!(
                out,
                "\n…and {} more rows: the JSON plan (`--output json`, `secondLook`) lists every one.",
                lines.len() - MAX_SECOND_LOOK_ROWS
            );
        }
        out.push('\n');
    }
    if !plan.access.is_empty() {
        out.push_str("#### Access changes\n\n| subject | gains | loses |\n| --- | --- | --- |\n");
        for change in plan.access.iter().take(MAX_SECOND_LOOK_ROWS) {
            let list = |items: &[crate::plan::access::Access]| {
                items
                    .iter()
                    .map(|a| code(&a.to_string()))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = writeln!(
                out,
                "| {} {} | {} | {} |",
                change.subject.kind,
                code(&change.subject.name),
                list(&change.gained),
                list(&change.lost)
            );
        }
        if plan.access.len() > MAX_SECOND_LOOK_ROWS {
            let _ = writeln!(
                out,
                "\n…and {} more subjects: the JSON plan (`--output json`, `access`) lists every one.",
                plan.access.len() - MAX_SECOND_LOOK_ROWS
            );
        }
        out.push('\n');
    }
    if !plan.permissions.is_empty() {
        out.push_str(
            "#### Permission changes\n\n| who, where | gains | loses |\n| --- | --- | --- |\n",
        );
        let mut shown_rows = 0;
        for change in plan.permissions.iter().take(MAX_SECOND_LOOK_ROWS) {
            // A merge-request comment has a size limit (GitHub: 65,536 characters): stop well before it.
            if out.len() > MAX_PERMISSION_SECTION_END {
                break;
            }
            let lines = super::human::permission_lines(change);
            let list = |sign: char| {
                lines
                    .iter()
                    .filter(|l| l.starts_with(sign))
                    .map(|l| code(l[1..].trim_start()))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                super::human::permission_heading(change)
                    .replace('|', "\\|")
                    .replace('<', "&lt;"),
                list('+'),
                list('-')
            );
            shown_rows += 1;
        }
        if plan.permissions.len() > shown_rows {
            let _ = writeln!(
                out,
                "\n…and {} more rows: the JSON plan (`--output json`, `permissions`) lists every one.",
                plan.permissions.len() - shown_rows
            );
        }
        out.push('\n');
    }
    if !plan.peers.is_empty() || plan.peers_unknown.is_some() {
        out.push_str("#### WireGuard peers\n\n");
        for change in &plan.peers {
            let _ = writeln!(out, "- {}", code(&change.to_string()));
        }
        if let Some(reason) = &plan.peers_unknown {
            let _ = writeln!(out, "- not compared: {}", code(reason));
        }
        out.push('\n');
    }
    let changes: Vec<_> = plan.pending_changes().collect();
    if !changes.is_empty() {
        let mut block = String::new();
        for change in changes {
            let _ = write!(block, "{} {}", sigil(change.action), change.object);
            if let Some(reason) = &change.reason {
                let _ = write!(block, " ({reason})");
            }
            block.push('\n');
            for field in &change.fields {
                field_lines(&mut block, field, &Plain);
            }
        }
        // A fence longer than any run of backticks in the block: no value can close it early.
        let fence = "`".repeat(longest_backtick_run(&block).max(2) + 1);
        let _ = write!(
            out,
            "<details><summary>Object changes</summary>\n\n{fence}diff\n{block}{fence}\n\n</details>\n"
        );
    }
    out
}

/// `text` as an inline code span that nothing in it can break out of, also inside a table: the span's backticks
/// outnumber any run in the text, `|` is escaped (GitHub splits table cells on it even in code), and line breaks
/// become spaces. Names come from the repository (a group's `groupName` may hold anything), so a reviewer must
/// see them as written, not as markup.
fn code(text: &str) -> String {
    // Line breaks first (as spaces, to keep the line); every other character that would not show itself (ESC of a
    // terminal sequence, bidirectional marks) as an escape, as the human plan writes it.
    let text = crate::text::shown(&text.replace(['\n', '\r'], " ")).replace('|', "\\|");
    let ticks = "`".repeat(longest_backtick_run(&text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_their_code_span_or_table_cell() {
        assert_eq!(code("devs"), "`devs`");
        assert_eq!(
            code("devs` | `view in docs` |  |"),
            "``devs` \\| `view in docs` \\|  \\|``"
        );
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("a\nb"), "`a b`");
        assert_eq!(code("\u{1b}[2Kx\u{2028}y"), "`\\u{1b}[2Kx\\u{2028}y`");
        assert_eq!(longest_backtick_run("a ``` b ` c"), 3);
    }
}
