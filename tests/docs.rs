//! The README documents what the binary really accepts.

use handinger_mcp::config::cli_command;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// Every setting the parser knows has a README row with its flag, variable and
/// default; and every row names a setting the parser knows.
#[test]
fn readme_settings_table_matches_the_parser() {
    let readme = readme();
    let command = cli_command();
    let serve = command
        .find_subcommand("serve")
        .expect("a serve command")
        .clone();
    let settings: Vec<_> = command
        .get_arguments()
        .chain(serve.get_arguments())
        .filter(|a| a.get_env().is_some())
        .collect();
    assert!(settings.len() >= 20, "the parser lists its settings");
    for arg in &settings {
        let flag = format!("--{}", arg.get_long().unwrap());
        let env = arg.get_env().unwrap().to_string_lossy().into_owned();
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{flag} ")))
            .unwrap_or_else(|| panic!("README has no settings row for {flag}"));
        assert!(row.contains(&format!("`{env}`")), "{row}");
        for default in arg.get_default_values() {
            let default = default.to_string_lossy();
            assert!(
                row.contains(&format!("`{default}`")),
                "{row} lacks default {default}"
            );
        }
    }
    for row in readme.lines().filter(|l| l.starts_with("| `--")) {
        let flag = row[3..].split([' ', '`']).next().unwrap();
        assert!(
            settings
                .iter()
                .any(|a| format!("--{}", a.get_long().unwrap()) == flag),
            "README documents {flag}, which the parser does not know"
        );
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
