//! Render: a [`Plan`](crate::plan::Plan) or desired objects -> text. One model, several views.

mod human;
mod markdown;
mod report;
pub mod yaml;

pub use human::human;
pub use markdown::markdown;
pub use report::{report_human, report_json};

use crate::objects::DesiredState;
use crate::plan::Plan;

/// The plan as JSON, with `formatVersion` first so that consumers can check it before reading on.
pub fn json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).expect("a plan serializes to JSON");
    text.push('\n');
    text
}

/// Desired objects as multi-document YAML that `kubectl apply -f -` accepts, in apply order.
pub fn objects_yaml(desired: &DesiredState) -> String {
    let mut out = String::new();
    for manifest in desired.objects.values() {
        out.push_str("---\n");
        out.push_str(&yaml::to_yaml(&manifest.value()));
    }
    out
}

/// A list element or value in one line, for field changes.
fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}
