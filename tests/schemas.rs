//! The committed JSON Schemas must be exactly what the Rust types generate (`tollgate schema --out schemas`).

mod common;

#[test]
fn committed_schemas_match_the_types() {
    let generated = tollgate::schema::generate();
    assert_eq!(generated.len(), tollgate::config::Kind::ALL.len());
    for (name, text) in generated {
        let path = common::root().join("schemas").join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "schemas/{name} is out of date: run `cargo run -- schema --out schemas`"
        );
    }
}

#[test]
fn schemas_reject_unknown_fields_and_pin_the_kind() {
    let (_, text) = tollgate::schema::generate()
        .into_iter()
        .find(|(name, _)| name == "user-access.json")
        .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(schema["properties"]["kind"]["const"], "UserAccess");
    assert_eq!(schema["additionalProperties"], false);
}
