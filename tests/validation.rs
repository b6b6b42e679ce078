//! The invalid fixtures: each file under `tests/fixtures/invalid/` is a repository mistake, and its snapshot is the
//! exact diagnostic tollgate prints. Together they document what tollgate rejects.

mod common;

use tollgate::config::load;
use tollgate::diagnostics::{render_text, resolve_all};
use tollgate::validate::validate;

#[test]
fn every_invalid_fixture_fails_with_its_diagnostic() {
    let base =
        std::fs::read(common::root().join("tests/fixtures/base.yaml")).expect("base fixture");
    let mut count = 0;
    insta::glob!("fixtures/invalid/*.yaml", |path| {
        count += 1;
        let text = std::fs::read(path).expect("fixture");
        let name = path
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let mut files = vec![(name.clone(), text.clone())];
        if !text.starts_with(b"# standalone") {
            files.push(("base.yaml".to_owned(), base.clone()));
        }
        let loaded = load(files);
        let validation = validate(&loaded, common::now());
        let expects_error = !matches!(name.as_str(), "expired-grant.yaml" | "unused-group.yaml");
        assert_eq!(
            validation.has_errors(),
            expects_error,
            "{name}: {:?}",
            validation.diagnostics
        );
        assert_eq!(validation.model.is_none(), expects_error);
        assert!(
            !validation.diagnostics.is_empty(),
            "{name} produced no diagnostic"
        );
        let resolved = resolve_all(&validation.diagnostics, &loaded.sources);
        // Every diagnostic about a file names a line and column.
        for d in &resolved {
            if d.file.is_some() {
                assert!(d.line.is_some() && d.column.is_some(), "{name}: {d:?}");
            }
        }
        insta::assert_snapshot!(render_text(&resolved));
    });
    assert!(count >= 30, "only {count} invalid fixtures");
}

#[test]
fn the_base_fixture_is_valid_without_warnings() {
    let base =
        std::fs::read(common::root().join("tests/fixtures/base.yaml")).expect("base fixture");
    let loaded = load([("base.yaml".to_owned(), base)]);
    let validation = validate(&loaded, common::now());
    assert!(
        validation.diagnostics.is_empty(),
        "{:?}",
        validation.diagnostics
    );
    assert!(validation.model.is_some());
}

#[test]
fn the_example_repo_is_valid_without_warnings() {
    let loaded = common::example_repo();
    let validation = validate(&loaded, common::now());
    let resolved = resolve_all(&validation.diagnostics, &loaded.sources);
    assert!(resolved.is_empty(), "{}", render_text(&resolved));
    let model = validation.model.expect("a model");
    assert_eq!(model.users.len(), 8);
    assert_eq!(model.groups.len(), 3);
    assert_eq!(model.clients.len(), 4);
    assert_eq!(model.environments.len(), 2);
}

#[test]
fn every_example_file_points_at_its_schema() {
    for (path, bytes) in
        tollgate::files::read_config_files(&common::root().join("example-repo")).unwrap()
    {
        let text = String::from_utf8(bytes).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let schema = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{path} does not start with a schema line"));
        let depth = path.matches('/').count();
        let target = schema
            .strip_prefix(&"../".repeat(depth + 1))
            .expect("relative to the repository root");
        assert!(
            common::root().join(target).is_file(),
            "{path}: {schema} does not exist"
        );
    }
}
