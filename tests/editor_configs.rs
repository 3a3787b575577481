//! Every snippet in editor-configs/ parses in its own format, and runs the binary
//! with arguments and environment variables it really accepts.

use std::path::{Path, PathBuf};

use handinger_mcp::{Command, TOOLS, cli_command};

/// The LSP-style mode's commands: one per tool.
fn commands() -> Vec<&'static str> {
    TOOLS.iter().map(|tool| tool.lsp_command).collect()
}
use serde_json::Value;

/// What a snippet makes the host run.
#[derive(Debug, Default)]
struct Launch {
    command: String,
    args: Vec<String>,
    env: Vec<String>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("editor-configs")
}

fn parse_structured(path: &Path, text: &str) -> Value {
    let name = path.file_name().unwrap().to_string_lossy();
    if name.ends_with(".toml") {
        toml::from_str(text).unwrap_or_else(|e| panic!("{name}: bad TOML: {e}"))
    } else if name.ends_with(".yaml") {
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{name}: bad YAML: {e}"))
    } else {
        serde_json::from_str(&without_line_comments(&name, text))
            .unwrap_or_else(|e| panic!("{name}: bad JSON: {e}"))
    }
}

/// Sublime's settings and keymaps are JSON that allows whole-line `//` comments.
fn without_line_comments(name: &str, text: &str) -> String {
    if !name.starts_with("sublime.") {
        return text.to_owned();
    }
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The objects that launch a command, anywhere in a parsed config.
fn launches(value: &Value, out: &mut Vec<Launch>) {
    match value {
        Value::Object(map) => {
            let command = map.get("command").or_else(|| map.get("cmd"));
            let mut launch = Launch::default();
            match command {
                Some(Value::String(c)) => launch.command = c.clone(),
                Some(Value::Array(parts)) => {
                    let mut parts = parts.iter().filter_map(Value::as_str).map(str::to_owned);
                    launch.command = parts.next().unwrap_or_default();
                    launch.args.extend(parts);
                }
                _ => {}
            }
            if !launch.command.is_empty() && !map.contains_key("command_name") {
                let strings = |v: Option<&Value>| -> Vec<String> {
                    v.and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            a.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| a.to_string())
                        })
                        .collect()
                };
                launch.args.extend(strings(map.get("args")));
                for key in ["env", "envs", "environment"] {
                    if let Some(Value::Object(env)) = map.get(key) {
                        launch.env.extend(env.keys().cloned());
                    }
                }
                launch.env.extend(strings(map.get("env_keys")));
                out.push(launch);
            }
            map.values().for_each(|v| launches(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| launches(v, out)),
        _ => {}
    }
}

/// The quoted strings of the Lua table assigned to `cmd`.
fn lua_launch(text: &str) -> Launch {
    // The command table: the first `{ 'handinger-mcp', ... }` in the file.
    let start = text
        .find("{ 'handinger-mcp'")
        .or_else(|| text.find("{ \"handinger-mcp\""))
        .expect("a command table");
    let table = &text[start + 1..start + text[start..].find('}').unwrap()];
    let mut words = table
        .split(['\'', '"'])
        .skip(1)
        .step_by(2)
        .map(str::to_owned);
    Launch {
        command: words.next().unwrap(),
        args: words.collect(),
        env: env_names(text),
    }
}

/// A small reader for Emacs Lisp: checks strings, comments and brackets balance, and
/// returns the string elements of the list that starts with "handinger-mcp".
fn elisp_launch(text: &str) -> Launch {
    let mut depth: Vec<(char, Vec<String>)> = vec![(' ', Vec::new())];
    let mut found = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ';' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next().expect("unterminated string") {
                        '\\' => s.push(chars.next().expect("escape")),
                        '"' => break,
                        other => s.push(other),
                    }
                }
                depth.last_mut().unwrap().1.push(s);
            }
            '?' => {
                chars.next();
            }
            '(' | '[' => depth.push((c, Vec::new())),
            ')' | ']' => {
                let (open, strings) = depth.pop().expect("unbalanced close");
                assert!(
                    (open, c) == ('(', ')') || (open, c) == ('[', ']'),
                    "mismatched {open}{c}"
                );
                if strings.first().map(String::as_str) == Some("handinger-mcp") {
                    found = Some(strings);
                }
            }
            _ => {}
        }
    }
    assert_eq!(depth.len(), 1, "unclosed brackets");
    let strings = found.expect("a list starting with \"handinger-mcp\"");
    Launch {
        command: strings[0].clone(),
        args: strings[1..].to_vec(),
        env: env_names(text),
    }
}

/// The command after `--` in a `claude mcp add` line, and its --env names.
fn shell_launch(path: &Path, text: &str) -> Launch {
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(path)
        .status()
        .unwrap();
    assert!(checked.success(), "{} is not valid bash", path.display());
    let line = text
        .lines()
        .find(|l| l.starts_with("claude mcp add"))
        .expect("the add line");
    let words: Vec<&str> = line.split_whitespace().collect();
    let dashdash = words
        .iter()
        .position(|w| *w == "--")
        .expect("-- before the command");
    let env = words
        .windows(2)
        .filter(|w| w[0] == "--env")
        .map(|w| w[1].split('=').next().unwrap().to_owned())
        .collect();
    Launch {
        command: words[dashdash + 1].to_owned(),
        args: words[dashdash + 2..]
            .iter()
            .map(|w| w.to_string())
            .collect(),
        env,
    }
}

fn env_names(text: &str) -> Vec<String> {
    text.match_indices("HANDINGER_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect()
        })
        .collect()
}

/// The Lua snippet parses as Lua (full_moon, a Rust Lua parser: no system Lua).
fn lua_check(path: &Path, text: &str) {
    if let Err(errors) = full_moon::parse(text) {
        panic!("{} is not valid Lua: {errors:?}", path.display());
    }
}

fn check(path: &Path, launch: &Launch, lsp: bool) {
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(
        launch.command == "handinger-mcp" || launch.command.ends_with("/handinger-mcp"),
        "{name}: runs {:?}",
        launch.command
    );
    let argv = std::iter::once("handinger-mcp").chain(launch.args.iter().map(String::as_str));
    let parsed = Command::parse_from(argv, |_| None)
        .unwrap_or_else(|e| panic!("{name}: the binary refuses {:?}: {e}", launch.args));
    match parsed {
        Command::Serve { lsp: is_lsp, .. } => assert_eq!(is_lsp, lsp, "{name}: --lsp"),
        other => panic!("{name}: does not serve: {other:?}"),
    }
    let known: Vec<String> = cli_command()
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .chain(["HANDINGER_API_KEY".to_owned()])
        .collect();
    assert!(!launch.env.is_empty(), "{name}: passes no key");
    for env in &launch.env {
        assert!(known.contains(env), "{name}: unknown variable {env}");
    }
}

#[test]
fn every_snippet_parses_and_launches_the_binary_as_it_accepts() {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue; // npx/: checked below; http/: in tests/http.rs
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let lsp = ["lsp", "eglot", "helix", "sublime"]
            .iter()
            .any(|k| name.to_lowercase().contains(k));
        match path.extension().and_then(|e| e.to_str()) {
            Some("lua") => {
                lua_check(&path, &text);
                check(&path, &lua_launch(&text), lsp);
            }
            Some("el") => check(&path, &elisp_launch(&text), lsp),
            Some("sh") => check(&path, &shell_launch(&path, &text), lsp),
            Some("sublime-keymap") => {
                let keymap: Value = parse_structured(&path, &text);
                for binding in keymap.as_array().unwrap() {
                    let command = binding["args"]["command_name"].as_str().unwrap();
                    assert!(
                        commands().contains(&command),
                        "{name}: unknown command {command}"
                    );
                    assert_eq!(binding["args"]["session_name"], "handinger");
                }
            }
            Some("json" | "toml" | "yaml" | "sublime-settings") => {
                let (launch, value) = structured_launch(&path, &text);
                check(&path, &launch, lsp);
                host_specific(&name, &value, &launch);
            }
            _ => panic!("{name}: no check for this kind of file; add one"),
        }
        checked += 1;
    }
    assert!(checked >= 19, "only {checked} snippets");
}

/// The one launch in a JSON, TOML or YAML snippet, and the parsed snippet.
fn structured_launch(path: &Path, text: &str) -> (Launch, Value) {
    let value = parse_structured(path, text);
    let mut found = Vec::new();
    launches(&value, &mut found);
    let name = path.file_name().unwrap().to_string_lossy();
    assert_eq!(found.len(), 1, "{name}: one launch, found {found:?}");
    (found.remove(0), value)
}

/// The launch of an MCP host's snippet (shell line or structured file).
fn host_launch(path: &Path) -> Launch {
    let text = std::fs::read_to_string(path).unwrap();
    if path.extension().is_some_and(|e| e == "sh") {
        shell_launch(path, &text)
    } else {
        structured_launch(path, &text).0
    }
}

/// Every MCP host's snippet has an npx twin in editor-configs/npx/: the same
/// file with `npx -y handinger-mcp` in place of the binary, and the same
/// arguments and variables; and each twin launches what the binary accepts.
#[test]
fn every_mcp_host_snippet_has_an_npx_form_with_the_same_arguments() {
    let npx_dir = dir().join("npx");
    let mut twins = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let lsp = ["lsp", "eglot", "helix", "sublime"]
            .iter()
            .any(|k| name.to_lowercase().contains(k));
        if path.is_dir() || lsp {
            continue;
        }
        let twin = npx_dir.join(&name);
        assert!(
            twin.exists(),
            "{name} has no npx form in editor-configs/npx/"
        );
        let binary = host_launch(&path);
        let mut npx = host_launch(&twin);
        assert_eq!(npx.command, "npx", "npx/{name}");
        assert_eq!(npx.args[..2], ["-y", "handinger-mcp"], "npx/{name}");
        npx.args.drain(..2);
        assert_eq!(npx.args, binary.args, "npx/{name}: other arguments");
        assert_eq!(npx.env, binary.env, "npx/{name}: other variables");
        npx.command = "handinger-mcp".into();
        check(&twin, &npx, false);
        twins += 1;
    }
    assert_eq!(
        twins,
        std::fs::read_dir(&npx_dir).unwrap().count(),
        "a stray file in npx/"
    );
    assert!(twins >= 14, "only {twins} MCP hosts");
}

/// What some hosts need beyond the launch.
fn host_specific(name: &str, value: &Value, launch: &Launch) {
    let wait = launch
        .args
        .iter()
        .position(|a| a == "--wait")
        .map(|i| launch.args[i + 1].parse::<f64>().unwrap());
    match name {
        "codex.config.toml" => {
            codex_approves(value);
            let timeout = value["mcp_servers"]["handinger"]["tool_timeout_sec"]
                .as_f64()
                .unwrap();
            assert!(timeout >= 600.0, "long tasks need a long tool timeout");
            assert!(
                wait.unwrap() < timeout,
                "the bridge answers before Codex gives up"
            );
        }
        "vscode.mcp.json" => {
            assert_eq!(
                value["inputs"][0]["password"], true,
                "the key is asked for, hidden"
            );
            assert_eq!(
                value["servers"]["handinger"]["env"]["HANDINGER_API_KEY"],
                "${input:handinger-api-key}"
            );
        }
        "cline.mcp_settings.json" => {
            assert!(
                wait.unwrap()
                    < value["mcpServers"]["handinger"]["timeout"]
                        .as_f64()
                        .unwrap()
            );
        }
        "gemini.settings.json" => {
            gemini_trusts(value);
            let timeout_ms = value["mcpServers"]["handinger"]["timeout"]
                .as_f64()
                .unwrap();
            assert!(wait.unwrap() * 1000.0 < timeout_ms);
        }
        "goose.config.yaml" => {
            let timeout = value["extensions"]["handinger"]["timeout"]
                .as_f64()
                .unwrap();
            assert!(wait.unwrap() < timeout);
        }
        _ => {}
    }
}

/// `codex exec` refuses calls unless the server's tools are approved: the
/// setting must be a key of `[mcp_servers.handinger]` itself, as Codex reads it.
fn codex_approves(value: &Value) {
    assert_eq!(
        value["mcp_servers"]["handinger"]["default_tools_approval_mode"], "approve",
        "codex exec would refuse every call"
    );
}

/// Gemini CLI drops untrusted tools in `gemini -p` without a word.
fn gemini_trusts(value: &Value) {
    assert_eq!(value["mcpServers"]["handinger"]["trust"], true);
}

/// The remote-server snippets carry the same host settings: Codex approves,
/// Gemini trusts and speaks Streamable HTTP (`httpUrl`).
#[test]
fn remote_snippets_for_codex_and_gemini_approve_and_trust() {
    let codex: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir().join("http/codex.config.toml")).unwrap())
            .unwrap();
    codex_approves(&serde_json::to_value(codex).unwrap());
    let text = std::fs::read_to_string(dir().join("http/gemini.settings.json")).unwrap();
    let gemini: Value = serde_json::from_str(&text).unwrap();
    gemini_trusts(&gemini);
    assert!(
        gemini["mcpServers"]["handinger"]["httpUrl"]
            .as_str()
            .unwrap()
            .ends_with("/mcp")
    );
    // The approval key sits in the server's own table, before any sub-table.
    for name in [
        "codex.config.toml",
        "npx/codex.config.toml",
        "http/codex.config.toml",
    ] {
        let text: String = std::fs::read_to_string(dir().join(name))
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let approval = text.find("default_tools_approval_mode").unwrap();
        let table = text.find("[mcp_servers.handinger]").unwrap();
        assert!(table < approval, "{name}");
        if let Some(sub) = text.find("[mcp_servers.handinger.") {
            assert!(
                approval < sub,
                "{name}: the setting would land in a sub-table"
            );
        }
    }
}

#[test]
fn the_readme_links_every_snippet() {
    let readme: String = crate::docs::documentation()
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join("\n");
    let npx = std::fs::read_dir(dir().join("npx")).unwrap();
    let http = std::fs::read_dir(dir().join("http")).unwrap();
    for entry in std::fs::read_dir(dir()).unwrap().chain(npx).chain(http) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let name = path
            .strip_prefix(dir())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            readme.contains(&format!("editor-configs/{name})")),
            "neither the README nor docs/ links {name}"
        );
    }
}

#[test]
fn the_lua_check_refuses_broken_lua() {
    assert!(full_moon::parse("local x = 1\nreturn x").is_ok());
    assert!(full_moon::parse("local = = 1").is_err());
}
