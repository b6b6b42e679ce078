//! JSON Schemas of the document kinds, generated from the Rust types so that editors check files as people type.
//! `tests/schemas.rs` fails when the committed `schemas/` differ from what this generates.

use schemars::JsonSchema;
use serde_json::Value;

use crate::config::Kind;
use crate::config::documents::*;

/// File name of a kind's schema under `schemas/`.
pub fn file_name(kind: Kind) -> String {
    let mut name = String::new();
    for (i, c) in kind.as_str().chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('-');
        }
        name.push(c.to_ascii_lowercase());
    }
    name + ".json"
}

fn schema_of<S: JsonSchema>(kind: Kind) -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Document<S>))
        .expect("schemas serialize to JSON");
    schema["title"] = Value::from(kind.as_str());
    schema["description"] = Value::from(kind.description());
    schema["properties"]["apiVersion"] = serde_json::json!({ "const": API_VERSION });
    schema["properties"]["kind"] = serde_json::json!({ "const": kind.as_str() });
    schema
}

/// Every kind's schema as (file name, pretty JSON text), in kind order.
pub fn generate() -> Vec<(String, String)> {
    Kind::ALL
        .into_iter()
        .map(|kind| {
            let schema = match kind {
                Kind::Settings => schema_of::<SettingsSpec>(kind),
                Kind::User => schema_of::<UserSpec>(kind),
                Kind::Group => schema_of::<GroupSpec>(kind),
                Kind::Role => schema_of::<RoleSpec>(kind),
                Kind::Client => schema_of::<ClientSpec>(kind),
                Kind::Environment => schema_of::<EnvironmentSpec>(kind),
                Kind::UserAccess => schema_of::<UserAccessSpec>(kind),
                Kind::AccessTest => schema_of::<AccessTestSpec>(kind),
            };
            let mut text =
                serde_json::to_string_pretty(&schema).expect("schemas serialize to JSON");
            text.push('\n');
            (file_name(kind), text)
        })
        .collect()
}
