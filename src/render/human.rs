//! Terraform-like text for terminals and CI logs: `+` create, `~` update, `-/+` replace, `-` delete, `!` conflict.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

use super::compact;
use crate::plan::diff::FieldChange;
use crate::plan::{Action, Against, Plan};
use crate::text::shown;
use crate::wireguard::peers::PeerAction;

struct Palette {
    color: bool,
}

impl Palette {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }
    fn green(&self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), text)
    }
    fn red(&self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), text)
    }
    fn yellow(&self, text: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), text)
    }
    fn magenta(&self, text: &str) -> String {
        self.paint(AnsiColor::Magenta.on_default(), text)
    }
    fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }
}

pub(super) fn sigil(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::Conflict => "!",
        Action::Unowned => "?",
        Action::NoOp => " ",
    }
}

/// The plan as text; `color` adds ANSI colours (the caller decides from the terminal).
pub fn human(plan: &Plan, color: bool) -> String {
    let p = Palette { color };
    let mut out = String::new();
    let against = match &plan.against {
        Against::Empty => "an empty cluster (offline)".to_owned(),
        Against::File { path } => format!("the objects in {path}"),
        Against::Cluster { server } => format!("the live cluster at {server}"),
    };
    let _ = writeln!(
        out,
        "{}",
        p.bold(&format!(
            "Plan for cluster `{}` against {against}",
            plan.cluster
        ))
    );
    out.push('\n');
    let changes: Vec<_> = plan.pending_changes().collect();
    if changes.is_empty() {
        out.push_str("No changes: the cluster matches the repository.\n");
    }
    for change in &changes {
        // Names and reasons can come from the cluster or a live file: nothing in them may rewrite the output.
        let head = format!(
            "{} {}",
            sigil(change.action),
            shown(&change.object.to_string())
        );
        let head = match change.action {
            Action::Create => p.green(&head),
            Action::Update => p.yellow(&head),
            Action::Replace => p.magenta(&head),
            Action::Delete | Action::Conflict => p.red(&head),
            Action::Unowned => p.yellow(&head),
            Action::NoOp => head,
        };
        match &change.reason {
            Some(reason) => {
                let _ = writeln!(out, "  {head} ({})", shown(reason));
            }
            None => {
                let _ = writeln!(out, "  {head}");
            }
        }
        for field in &change.fields {
            field_lines(&mut out, field, &p);
        }
    }
    if !plan.access.is_empty() {
        let _ = writeln!(out, "\n{}", p.bold("Access changes:"));
        for change in &plan.access {
            let _ = writeln!(
                out,
                "  {} {}",
                change.subject.kind,
                shown(&change.subject.name)
            );
            for access in &change.gained {
                let access = shown(&access.to_string()).into_owned();
                let _ = writeln!(out, "    {}", p.green(&format!("+ {access}")));
            }
            for access in &change.lost {
                let access = shown(&access.to_string()).into_owned();
                let _ = writeln!(out, "    {}", p.red(&format!("- {access}")));
            }
        }
    }
    if !plan.permissions.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            p.bold("Permission changes (what the roles allow):")
        );
        for change in plan.permissions.iter().take(MAX_PERMISSION_ENTRIES) {
            let _ = writeln!(out, "  {}:", permission_heading(change));
            for line in permission_lines(change) {
                let _ = if line.starts_with('+') {
                    writeln!(out, "    {}", p.green(&line))
                } else if line.starts_with('-') {
                    writeln!(out, "    {}", p.red(&line))
                } else {
                    writeln!(out, "    {line}")
                };
            }
        }
        if plan.permissions.len() > MAX_PERMISSION_ENTRIES {
            let _ = writeln!(
                out,
                "  ...and {} more: the JSON plan (`--output json`, `permissions`) lists every one.",
                plan.permissions.len() - MAX_PERMISSION_ENTRIES
            );
        }
    }
    if !plan.second_look.is_empty() {
        let lines = crate::plan::second_look::lines(&plan.second_look);
        let _ = writeln!(
            out,
            "\n{}",
            p.bold(&p.magenta("Needs a second look (power over other people's access or data):"))
        );
        for line in lines {
            let place = match line.namespace {
                Some(namespace) => format!("in {}", shown(namespace)),
                None => "cluster-wide".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {} {} {place}: {}",
                line.subject.kind,
                shown(&line.subject.name),
                p.magenta(&format!("+ {}", shown(&line.powers.join(", "))))
            );
            let _ = writeln!(
                out,
                "      via {} -> {}{}",
                shown(line.binding),
                shown(line.role),
                if line.sources.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", shown(&line.sources.join(", ")))
                }
            );
        }
    }
    if !plan.peers.is_empty() || plan.peers_unknown.is_some() {
        let _ = writeln!(out, "\n{}", p.bold("WireGuard peers (with --publish):"));
        for change in &plan.peers {
            let line = change.to_string();
            let line = match change.action {
                PeerAction::Add => p.green(&line),
                PeerAction::Remove => p.red(&line),
                PeerAction::Range => p.yellow(&line),
            };
            let _ = writeln!(out, "  {line}");
        }
        if let Some(reason) = &plan.peers_unknown {
            let _ = writeln!(out, "  not compared: {reason}");
        }
    }
    if let Some(guard) = &plan.deletion_guard {
        let _ = writeln!(
            out,
            "\n{}",
            p.red(&format!(
                "Deletion guard: {}; apply refuses it unless mass deletion is allowed (limits: more than {}% and \
                 more than {}{}).",
                guard.reason,
                guard.max_delete_percent,
                guard.min_objects,
                if guard.limits_from_last_applied {
                    ", the last applied revision's"
                } else {
                    ""
                }
            ))
        );
    }
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "\n{} {} to create, {} to update, {} to replace, {} to delete, {} conflict{}, {} unchanged{}.",
        p.bold("Plan:"),
        s.create,
        s.update,
        s.replace,
        s.delete,
        s.conflict,
        if s.conflict == 1 { "" } else { "s" },
        s.unchanged,
        if s.unowned > 0 {
            format!(", {} labelled but not tollgate's (left alone)", s.unowned)
        } else {
            String::new()
        }
    );
    out
}

/// One field change: lists as the elements that come and go, other values as `before -> after`.
pub(super) fn field_lines(out: &mut String, field: &FieldChange, p: &impl FieldPalette) {
    match (&field.before, &field.after) {
        (Some(Value::Array(before)), Some(Value::Array(after))) => {
            let _ = writeln!(out, "      ~ {}", field.path);
            for item in after.iter().filter(|item| !before.contains(item)) {
                let _ = writeln!(
                    out,
                    "          {}",
                    p.added(&format!("+ {}", compact(item)))
                );
            }
            for item in before.iter().filter(|item| !after.contains(item)) {
                let _ = writeln!(
                    out,
                    "          {}",
                    p.removed(&format!("- {}", compact(item)))
                );
            }
        }
        (None, Some(after)) => {
            let _ = writeln!(
                out,
                "      {}",
                p.added(&format!("+ {}: {}", field.path, compact(after)))
            );
        }
        (Some(before), None) => {
            let _ = writeln!(
                out,
                "      {}",
                p.removed(&format!("- {}: {}", field.path, compact(before)))
            );
        }
        (Some(before), Some(after)) => {
            let _ = writeln!(
                out,
                "      ~ {}: {} -> {}",
                field.path,
                compact(before),
                compact(after)
            );
        }
        (None, None) => {}
    }
}

/// How field lines mark what comes and goes; the markdown view uses plain diff markers.
pub(super) trait FieldPalette {
    fn added(&self, text: &str) -> String;
    fn removed(&self, text: &str) -> String;
}

impl FieldPalette for Palette {
    fn added(&self, text: &str) -> String {
        self.green(text)
    }
    fn removed(&self, text: &str) -> String {
        self.red(text)
    }
}

pub(super) struct Plain;

impl FieldPalette for Plain {
    fn added(&self, text: &str) -> String {
        text.to_owned()
    }
    fn removed(&self, text: &str) -> String {
        text.to_owned()
    }
}

/// How many subject-and-scope entries of permission changes the human and markdown plans show; the JSON has all.
pub(crate) const MAX_PERMISSION_ENTRIES: usize = 100;
/// How many lines of one entry, and how many characters of one line, the human and markdown plans show.
const MAX_PERMISSION_LINES: usize = 20;
const MAX_PERMISSION_LINE_CHARS: usize = 2_000;

/// One entry's lines as shown (`+ get, list pods`, `- ...`), escaped and cut to size: a role with hundreds of
/// named objects would otherwise print megabytes; the JSON plan has everything.
pub(crate) fn permission_lines(change: &crate::plan::permissions::PermissionChange) -> Vec<String> {
    // A session grant reads as what it means to people: `use` on an environment is a login.
    let worded = |line: &str| match line.strip_prefix("use environments.tollgate.dev ") {
        Some(names) => format!("log in to environment {}", shown(names)),
        None => shown(line).into_owned(),
    };
    let all: Vec<String> = change
        .gained
        .iter()
        .map(|l| format!("+ {}", worded(l)))
        .chain(change.lost.iter().map(|l| format!("- {}", worded(l))))
        .collect();
    let mut lines: Vec<String> = all
        .iter()
        .take(MAX_PERMISSION_LINES)
        .map(|line| {
            if line.chars().count() <= MAX_PERMISSION_LINE_CHARS {
                return line.clone();
            }
            let cut: String = line.chars().take(MAX_PERMISSION_LINE_CHARS).collect();
            let cut = cut.rsplit_once(", ").map_or(cut.as_str(), |(head, _)| head);
            let more = line[cut.len()..].matches(", ").count();
            format!("{cut}, ... ({more} more: the JSON plan has every one)")
        })
        .collect();
    if all.len() > MAX_PERMISSION_LINES {
        lines.push(format!(
            "... and {} more lines (the JSON plan has every one)",
            all.len() - MAX_PERMISSION_LINES
        ));
    }
    lines
}

/// `client bob-laptop in payments`, `client alice-laptop acting as oidc:alice cluster-wide`: whose permissions
/// change, where.
pub(crate) fn permission_heading(change: &crate::plan::permissions::PermissionChange) -> String {
    let acting = change
        .acting_as
        .as_ref()
        .map(|owner| format!(" acting as {}", shown(owner)))
        .unwrap_or_default();
    let place = change
        .namespace
        .as_ref()
        .map_or("cluster-wide".to_owned(), |ns| format!("in {}", shown(ns)));
    format!(
        "{} {}{acting} {place}",
        change.subject.kind,
        shown(&change.subject.name)
    )
}
