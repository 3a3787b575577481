//! The README documents what the binary really accepts.

use handinger_mcp::cli_command;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The README and every page in docs/, as (path from the root, text).
pub fn documentation() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![("README.md".to_owned(), readme())];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for path in docs {
        let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
        pages.push((name, std::fs::read_to_string(path).unwrap()));
    }
    pages
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The headings' anchors of a Markdown text (outside code blocks).
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// Every relative link in the README and docs/ leads somewhere: the file exists,
/// and a `#anchor` names a heading of that page.
#[test]
fn every_relative_link_in_the_documentation_resolves() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = documentation();
    let link = regex_lite_links;
    let mut checked = 0;
    for (page, text) in &pages {
        let dir = root.join(page).parent().unwrap().to_owned();
        for target in link(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                root.join(page)
            } else {
                dir.join(path)
            };
            assert!(file.exists(), "{page}: {target} leads nowhere");
            if !fragment.is_empty() {
                let text = std::fs::read_to_string(&file).unwrap();
                assert!(
                    anchors(&text).iter().any(|a| a == fragment),
                    "{page}: {target}: no such heading"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} links checked");
}

/// The targets of `[text](target)` links outside code blocks.
fn regex_lite_links(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut links = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                let target = &rest[..end];
                if !target.contains(' ') {
                    links.push(target.to_owned());
                }
                rest = &rest[end..];
            }
        }
    }
    links
}

/// The README stays short: what it is, install, a host, a first task, links.
#[test]
fn the_readme_is_short_and_links_every_page_of_docs() {
    let readme = readme();
    assert!(
        readme.lines().count() <= 100,
        "{} lines",
        readme.lines().count()
    );
    for (page, _) in documentation().iter().skip(1) {
        assert!(
            readme.contains(&format!("]({page})")),
            "the README does not link {page}"
        );
    }
}

/// Every setting the parser knows has a README row with its flag, variable and
/// default; and every row names a setting the parser knows.
#[test]
fn readme_settings_table_matches_the_parser() {
    let readme: String = documentation()
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join("\n");
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
            .unwrap_or_else(|| panic!("the documentation has no settings row for {flag}"));
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
            "the documentation names {flag}, which the parser does not know"
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
