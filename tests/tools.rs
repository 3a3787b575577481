//! create_task and follow_up_task against the mock: requests sent, results shown.

use serde_json::{Value, json};

use crate::support::{self, KEY, MockApi, Reply, call, connect, text};

#[tokio::test]
async fn create_task_posts_exactly_the_set_fields_with_a_fresh_task_id() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &[]).await;
    let result = call(
        &client,
        "create_task",
        json!({"input": "Summarise RFC 9110"}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{result:?}");

    let posts = mock.task_posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(
        post.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(post.header("content-type"), Some("application/json"));
    let body = post.json.clone().expect("JSON body");
    let task_id = body["taskId"].as_str().expect("taskId sent").to_owned();
    assert!(
        task_id.starts_with("tsk_") && task_id.len() == 26,
        "{task_id}"
    );
    assert_eq!(
        body,
        json!({"input": "Summarise RFC 9110", "taskId": task_id})
    );

    let structured = result
        .structured_content
        .clone()
        .expect("structuredContent");
    assert_eq!(structured["taskId"], json!(task_id));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn budget_and_worker_come_from_the_call_or_the_configured_defaults() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &["--budget", "low", "--worker-id", "wrk_default"]).await;
    call(&client, "create_task", json!({"input": "a"})).await;
    call(
        &client,
        "create_task",
        json!({"input": "b", "budget": "high", "workerId": "wrk_given"}),
    )
    .await;
    let bodies: Vec<Value> = mock
        .task_posts()
        .into_iter()
        .map(|r| r.json.unwrap())
        .collect();
    assert_eq!(bodies[0]["budget"], "low");
    assert_eq!(bodies[0]["workerId"], "wrk_default");
    assert_eq!(bodies[1]["budget"], "high");
    assert_eq!(bodies[1]["workerId"], "wrk_given");
    assert_ne!(bodies[0]["taskId"], bodies[1]["taskId"]);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn follow_up_sends_the_same_task_id() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &[]).await;
    let first = call(&client, "create_task", json!({"input": "Plan a trip"})).await;
    let task_id = first.structured_content.unwrap()["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = call(
        &client,
        "follow_up_task",
        json!({"taskId": task_id, "input": "Make it cheaper", "workerId": "wrk_mock"}),
    )
    .await;
    assert_eq!(second.is_error, Some(false), "{second:?}");
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[1].json.clone().unwrap(),
        json!({"input": "Make it cheaper", "taskId": task_id, "workerId": "wrk_mock"})
    );
    assert!(text(&second).contains("Answer to: Make it cheaper"));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn result_carries_the_answer_as_text_links_and_structured_content() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &[]).await;
    let result = call(&client, "create_task", json!({"input": "Find sources"})).await;
    let body = text(&result);
    for part in [
        "Answer to: Find sources",
        "Sources:\n1. Mock source — https://example.com/source",
        "Files produced:\n- report.md (text/markdown, 1.2 KiB) https://files.example.com/report.md",
        "workerId: wrk_mock | status: completed | dashboard: https://v3.handinger.com/worker/wrk_mock",
        "usage: 2 credits, 1.5 s",
        "call follow_up_task with taskId",
    ] {
        assert!(body.contains(part), "{part:?} not in {body}");
    }
    let links: Vec<_> = result
        .content
        .iter()
        .filter_map(|c| c.as_resource_link())
        .collect();
    assert_eq!(links.len(), 2);
    assert_eq!(links[0].uri, "https://example.com/source");
    assert_eq!(links[1].uri, "https://files.example.com/report.md");
    assert_eq!(links[1].mime_type.as_deref(), Some("text/markdown"));
    assert_eq!(links[1].size, Some(1234));

    let s = result.structured_content.unwrap();
    assert_eq!(s["outputText"], "Answer to: Find sources");
    assert_eq!(s["workerId"], "wrk_mock");
    assert_eq!(s["status"], "completed");
    assert_eq!(s["sources"][0]["url"], "https://example.com/source");
    assert_eq!(s["files"][0]["mediaType"], "text/markdown");
    assert_eq!(s["usage"], json!({"credits": 2.0, "durationMs": 1500.0}));
    assert_eq!(s["url"], "https://v3.handinger.com/worker/wrk_mock");
    assert!(s.get("truncated").is_none());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn long_answers_are_cut_with_a_marker_in_both_forms() {
    let mock = MockApi::start_with(std::sync::Arc::new(|r: &support::Recorded| {
        let mut worker = support::mock::worker_json(r);
        worker["output_text"] = json!("x".repeat(5000));
        Reply::json(200, worker)
    }))
    .await;
    let client = connect(&mock, &["--max-output-chars", "100"]).await;
    let result = call(&client, "create_task", json!({"input": "long"})).await;
    assert!(text(&result).contains("[Answer cut: 4900 of 5000 characters left out"));
    assert!(text(&result).contains("https://v3.handinger.com/worker/wrk_mock"));
    let s = result.structured_content.unwrap();
    assert_eq!(s["outputText"].as_str().unwrap().len(), 100);
    assert_eq!(s["truncated"]["totalChars"], 5000);
    assert_eq!(
        s["truncated"]["fullAnswerUrl"],
        "https://v3.handinger.com/worker/wrk_mock"
    );
    client.cancel().await.unwrap();
}

/// Every front-end exposes exactly the tools of the table: MCP's tools/list, the
/// LSP-style mode's commands, the command line's verbs and the files in schemas/.
#[tokio::test]
async fn every_front_end_exposes_exactly_the_table_of_tools() {
    use handinger_mcp::TOOLS;
    use std::collections::BTreeSet;
    let set = |items: Vec<String>| items.into_iter().collect::<BTreeSet<_>>();

    let mock = MockApi::start().await;
    let client = connect(&mock, &[]).await;
    let listed = client.list_all_tools().await.unwrap();
    assert_eq!(
        set(listed.iter().map(|t| t.name.to_string()).collect()),
        set(TOOLS.iter().map(|t| t.name.to_owned()).collect()),
        "MCP tools/list"
    );
    for tool in &listed {
        let spec = TOOLS.iter().find(|t| t.name == tool.name).unwrap();
        assert_eq!(tool.title.as_deref(), Some(spec.title));
        assert_eq!(tool.description.as_deref(), Some(spec.description));
    }
    client.cancel().await.unwrap();

    let mut lsp = crate::support::lsp::LspSession::spawn(crate::support::command(
        &mock.base_url,
        Some(KEY),
        &["--lsp"],
    ));
    let init = lsp.request(1, "initialize", json!({})).await;
    let commands: Vec<String> = serde_json::from_value(
        init["result"]["capabilities"]["executeCommandProvider"]["commands"].clone(),
    )
    .unwrap();
    assert_eq!(
        set(commands),
        set(TOOLS.iter().map(|t| t.lsp_command.to_owned()).collect()),
        "LSP commands"
    );

    let not_tools = ["serve", "doctor", "schema", "completions", "man", "help"];
    let verbs: Vec<String> = handinger_mcp::cli_command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .filter(|name| !not_tools.contains(&name.as_str()))
        .collect();
    assert_eq!(
        set(verbs),
        set(TOOLS.iter().map(|t| t.cli_verb.to_owned()).collect()),
        "command-line verbs"
    );

    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/tools.json"))
            .unwrap(),
    )
    .unwrap();
    let in_file: Vec<String> = file["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        set(in_file),
        set(TOOLS.iter().map(|t| t.name.to_owned()).collect()),
        "schemas/tools.json"
    );
}

/// The first sentence of a description (up to the first ". ").
fn first_sentence(text: &str) -> &str {
    text.split_once(". ").map_or(text, |(first, _)| first)
}

/// Nothing outside the table lists the tools by hand: the `.mcpb` manifest gets
/// its tool list from the binary when it is built (packaging/build), the MCP
/// instructions are made from the table, and the README and docs only name
/// tools that exist (a renamed or removed tool fails here).
#[test]
fn no_list_of_tools_is_kept_by_hand() {
    use handinger_mcp::TOOLS;
    let (manifest, _) = support::mcpb_manifest();
    assert!(
        manifest.get("tools").is_none(),
        "packaging/mcpb/manifest.json lists tools; packaging/build fills them from the table"
    );

    let instructions = handinger_mcp::instructions();
    for tool in TOOLS {
        let line = format!(
            "\n- {}: {}.",
            tool.name,
            first_sentence(tool.description).trim_end_matches('.')
        );
        assert!(instructions.contains(&line), "instructions lack {line:?}");
    }

    let names: Vec<&str> = TOOLS
        .iter()
        .map(|t| t.name)
        .chain(handinger_mcp::PROMPTS.iter().map(|p| p.name))
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    pages.extend(
        std::fs::read_dir(root.join("docs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md")),
    );
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for word in text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.ends_with("_task") && word.contains('_'))
        {
            assert!(
                names.contains(&word),
                "{} names {word}, which is neither a tool nor a prompt",
                page.display()
            );
        }
    }
}
