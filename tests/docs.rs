//! The README documents what the binary really accepts.

use handinger_mcp::config::SETTINGS;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn readme_settings_table_lists_every_setting_with_its_default() {
    let readme = readme();
    for s in SETTINGS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{} ", s.flag)))
            .unwrap_or_else(|| panic!("README has no settings row for {}", s.flag));
        assert!(row.contains(&format!("`{}`", s.env)), "{row}");
        if let Some(default) = s.default {
            assert!(
                row.contains(&format!("`{default}`")),
                "{row} lacks default {default}"
            );
        }
    }
}

#[test]
fn readme_starts_with_the_run_and_test_commands() {
    let readme = readme();
    let head: String = readme.lines().take(6).collect::<Vec<_>>().join("\n");
    assert!(head.contains("cargo run --release"), "{head}");
    assert!(head.contains("bash .ci/run"), "{head}");
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    assert!(ci.contains("cargo test"), "CI runs the test suite");
}
