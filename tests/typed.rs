//! Typed results: `create_task` with an `outputSchema` runs on a worker template
//! made for that schema (one per schema and key, remembered in the state folder
//! across restarts), and every answer's structured output is checked against it;
//! a mismatch is reported, never hidden. A bad schema is refused with nothing sent.

use std::process::Stdio;

use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

use crate::support::{
    KEY, MockApi, assert_tool_error, call, command, connect_with, mock::typed_handler, text,
};

fn person() -> Value {
    json!({
        "title": "Person",
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name"]
    })
}

/// The same schema with its keys in another order.
fn person_reordered() -> Value {
    json!({
        "required": ["name"],
        "properties": {"age": {"type": "integer"}, "name": {"type": "string"}},
        "type": "object",
        "title": "Person"
    })
}

async fn server(mock: &MockApi, state: &std::path::Path) -> crate::support::Client {
    let mut cmd = command(&mock.base_url, Some(KEY), &[]);
    cmd.env("HANDINGER_STATE_DIR", state);
    connect_with(cmd, ProtocolVersion::V_2025_11_25).await
}

/// A mock that makes templates, a state folder, and a server on both.
async fn started() -> (MockApi, tempfile::TempDir, crate::support::Client) {
    let mock = MockApi::start_with(typed_handler()).await;
    let state = tempfile::tempdir().unwrap();
    let client = server(&mock, state.path()).await;
    (mock, state, client)
}

/// Call create_task with `input` and `schema`.
async fn create(
    client: &crate::support::Client,
    input: &str,
    schema: Value,
) -> rmcp::model::CallToolResult {
    call(
        client,
        "create_task",
        json!({"input": input, "outputSchema": schema}),
    )
    .await
}

fn check(result: &rmcp::model::CallToolResult) -> Value {
    result.structured_content.clone().unwrap()["outputSchemaCheck"].clone()
}

#[tokio::test]
async fn one_template_per_schema_reused_across_restarts() {
    let (mock, state, client) = started().await;
    let first = create(&client, "who wrote the first program?", person()).await;
    assert_eq!(first.is_error, Some(false), "{first:?}");
    let s = first.structured_content.clone().unwrap();
    assert_eq!(
        s["structuredOutput"],
        json!({"name": "Ada", "age": 36}),
        "{s}"
    );
    assert_eq!(
        s["outputSchemaCheck"],
        json!({"matches": true, "problems": []})
    );
    assert!(text(&first).contains("The structured output follows the output schema."));
    let templates = mock.template_posts();
    assert_eq!(templates.len(), 1);
    let body = templates[0].json.clone().unwrap();
    assert_eq!(
        body["outputSchema"],
        person(),
        "the schema is sent as given"
    );
    assert!(
        body["title"]
            .as_str()
            .unwrap()
            .starts_with("Person (typed results ")
    );
    assert!(!body["summary"].as_str().unwrap().is_empty());
    assert!(!body["instructions"].as_str().unwrap().is_empty());
    assert_eq!(
        templates[0].header("authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
    let posts = mock.task_posts();
    assert_eq!(posts[0].field("workerId").as_deref(), Some("wrk_tpl_1"));
    let typed_task = s["taskId"].as_str().unwrap().to_owned();

    let again = create(&client, "again", person()).await;
    assert_eq!(check(&again)["matches"], true);
    assert_eq!(
        mock.template_posts().len(),
        1,
        "the same schema reuses its template"
    );
    client.cancel().await.unwrap();

    // A new process with the same state folder: the template is found by the
    // schema's hash, whatever the order of its keys.
    let client = server(&mock, state.path()).await;
    let restarted = create(&client, "after a restart", person_reordered()).await;
    assert_eq!(check(&restarted)["matches"], true);
    assert_eq!(mock.template_posts().len(), 1, "remembered across restarts");
    assert_eq!(
        mock.task_posts()
            .last()
            .unwrap()
            .field("workerId")
            .as_deref(),
        Some("wrk_tpl_1")
    );
    let other = create(
        &client,
        "a list",
        json!({"type": "object", "required": ["items"]}),
    )
    .await;
    assert_eq!(
        mock.template_posts().len(),
        2,
        "another schema, another template"
    );
    assert_eq!(
        mock.task_posts()
            .last()
            .unwrap()
            .field("workerId")
            .as_deref(),
        Some("wrk_tpl_2")
    );
    // The mock answers a person: it lacks the required "items".
    assert_eq!(check(&other)["matches"], false);

    // The history keeps the schema: this process checks a follow-up in the typed
    // task it did not start, and its answer looked up from the API.
    let follow_up = call(
        &client,
        "follow_up_task",
        json!({"taskId": typed_task, "input": "now wrong"}),
    )
    .await;
    assert_eq!(check(&follow_up)["matches"], false, "{follow_up:?}");
    client.cancel().await.unwrap();
    let client = server(&mock, state.path()).await;
    let looked_up = call(&client, "get_task", json!({"taskId": typed_task})).await;
    assert!(
        text(&looked_up).contains("does NOT follow"),
        "{}",
        text(&looked_up)
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_mismatch_is_reported_never_hidden() {
    let (_mock, _state, client) = started().await;
    let wrong = create(&client, "wrong", person()).await;
    assert_eq!(wrong.is_error, Some(false), "the task answered");
    let s = wrong.structured_content.clone().unwrap();
    assert_eq!(
        s["structuredOutput"],
        json!({"name": 42}),
        "shown as the worker gave it"
    );
    assert_eq!(s["outputSchemaCheck"]["matches"], false);
    let problems = s["outputSchemaCheck"]["problems"].as_array().unwrap();
    assert!(
        problems[0].as_str().unwrap().starts_with("at /name:"),
        "{problems:?}"
    );
    assert!(text(&wrong).contains("WARNING: the structured output does NOT follow"));
    assert!(text(&wrong).contains("- at /name:"));

    let nothing = create(&client, "nothing", person()).await;
    assert_eq!(
        check(&nothing),
        json!({"matches": false, "problems": ["the worker returned no structured output"]})
    );
    // A task without a schema carries no check.
    let plain = call(&client, "create_task", json!({"input": "plain"})).await;
    assert!(
        plain
            .structured_content
            .unwrap()
            .get("outputSchemaCheck")
            .is_none()
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_schemas_are_refused_with_nothing_sent() {
    let (mock, _state, client) = started().await;
    let mut deep = json!({"type": "string"});
    for _ in 0..32 {
        deep = json!({"items": deep});
    }
    let refusals = [
        (
            json!({"type": "strong"}),
            "not a valid draft-07 JSON Schema",
        ),
        (
            json!({"required": "name"}),
            "not a valid draft-07 JSON Schema",
        ),
        (
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema"}),
            "only draft-07",
        ),
        (
            json!({"$ref": "https://example.com/schema.json"}),
            "not a valid draft-07",
        ),
        (deep, "33 deep; at most 32"),
        (
            json!({"description": "x".repeat(64 * 1024)}),
            "at most 65536 are accepted",
        ),
    ];
    for (schema, needle) in refusals {
        let result = create(&client, "x", schema).await;
        assert_tool_error(&result, &["Invalid argument `outputSchema`", needle]);
    }
    let not_an_object = create(&client, "x", json!("{}")).await;
    assert_tool_error(&not_an_object, &["Invalid arguments for create_task"]);
    let both = call(
        &client,
        "create_task",
        json!({"input": "x", "outputSchema": person(), "workerId": "wrk_mine"}),
    )
    .await;
    assert_tool_error(&both, &["not both"]);
    assert!(
        mock.requests().is_empty(),
        "nothing was sent: {:?}",
        mock.requests()
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_template_the_api_no_longer_knows_is_made_again() {
    let typed = typed_handler();
    let mock = MockApi::start_with(typed.clone()).await;
    let state = tempfile::tempdir().unwrap();
    let client = server(&mock, state.path()).await;
    create(&client, "first", person()).await;
    // The template is deleted on Handinger: the API answers 404 for its tasks.
    mock.set_handler(std::sync::Arc::new(move |request| {
        if request.path == "/api/tasks" && request.field("workerId").as_deref() == Some("wrk_tpl_1")
        {
            crate::support::Reply::error(404, "Worker not found")
        } else {
            typed(request)
        }
    }));
    let gone = create(&client, "gone", person()).await;
    assert_tool_error(
        &gone,
        &[
            "404",
            "no longer exists",
            "nothing ran",
            "calling again makes a new one",
        ],
    );
    let remade = create(&client, "remade", person()).await;
    assert_eq!(remade.is_error, Some(false), "{remade:?}");
    assert_eq!(check(&remade)["matches"], true);
    let templates = mock.template_posts();
    assert_eq!(templates.len(), 2, "a new template after the 404");
    client.cancel().await.unwrap();
}

/// The command line's `--output-schema FILE`: exit 0 when the answer follows the
/// schema, 5 when it does not (printed all the same), 2 for a bad schema (nothing
/// sent); and the LSP-style mode's `outputSchema` argument.
#[tokio::test]
async fn the_command_line_and_the_lsp_mode_take_a_schema() {
    let mock = MockApi::start_with(typed_handler()).await;
    let state = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let schema = files.path().join("person.json");
    std::fs::write(&schema, serde_json::to_vec_pretty(&person()).unwrap()).unwrap();
    let bad = files.path().join("bad.json");
    std::fs::write(&bad, br#"{"type": "strong"}"#).unwrap();
    let run = |args: Vec<String>| {
        let mut cmd = command(&mock.base_url, Some(KEY), &[]);
        cmd.args(args)
            .env("HANDINGER_STATE_DIR", state.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.output()
    };
    let schema_arg = schema.display().to_string();
    let out = run(vec![
        "create".into(),
        "--json".into(),
        "--output-schema".into(),
        schema_arg.clone(),
        "who".into(),
    ])
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["structuredOutput"]["name"], "Ada");
    assert_eq!(printed["outputSchemaCheck"]["matches"], true);

    let out = run(vec![
        "create".into(),
        "--output-schema".into(),
        schema_arg.clone(),
        "wrong".into(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stdout).contains("does NOT follow the output schema"));
    assert_eq!(
        mock.template_posts().len(),
        1,
        "the shell shares the template cache"
    );

    let sent = mock.requests().len();
    let out = run(vec![
        "create".into(),
        "--output-schema".into(),
        bad.display().to_string(),
        "x".into(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid draft-07 JSON Schema"));
    let missing = files.path().join("missing.json").display().to_string();
    let out = run(vec![
        "create".into(),
        "--output-schema".into(),
        missing,
        "x".into(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    assert_eq!(mock.requests().len(), sent, "nothing sent for a bad schema");

    let mut cmd = command(&mock.base_url, Some(KEY), &["--lsp"]);
    cmd.env("HANDINGER_STATE_DIR", state.path());
    let mut lsp = crate::support::lsp::LspSession::spawn(cmd);
    lsp.request(1, "initialize", json!({})).await;
    let answer = lsp
        .request(
            2,
            "workspace/executeCommand",
            json!({"command": "handinger.createTask",
                   "arguments": [{"input": "from the editor", "outputSchema": person()}]}),
        )
        .await;
    assert_eq!(
        answer["result"]["outputSchemaCheck"]["matches"], true,
        "{answer}"
    );
    assert_eq!(answer["result"]["structuredOutput"]["name"], "Ada");
    let refused = lsp
        .request(
            3,
            "workspace/executeCommand",
            json!({"command": "handinger.createTask",
                   "arguments": [{"input": "x", "outputSchema": {"type": "strong"}}]}),
        )
        .await;
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("outputSchema"), "{refused}");
    assert_eq!(mock.template_posts().len(), 1);
}

/// The official TypeScript SDK meets the ceilings and typed results (script:
/// tests/interop/ts_bounds.mjs); the mock counts what was sent.
#[tokio::test]
async fn the_typescript_sdk_meets_the_ceilings_and_typed_results() {
    let mock = MockApi::start_with(typed_handler()).await;
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let Some(seen) = crate::interop::typescript_sdk_script(
        "ts_bounds.mjs",
        &[crate::support::bin(), &mock.base_url, &state_arg],
    )
    .await
    else {
        return;
    };
    assert_eq!(seen["workerId"], "wrk_tpl_1", "{seen}");
    assert_eq!(
        mock.template_posts().len(),
        1,
        "one template across two processes"
    );
    let inputs: Vec<String> = mock.task_posts().iter().filter_map(|p| p.input()).collect();
    assert_eq!(
        inputs,
        ["who", "wrong", "again", "confirmed"],
        "refused calls were not sent"
    );
    let confirmed = mock.task_posts().pop().unwrap();
    assert_eq!(confirmed.json.as_ref().unwrap()["budget"], "unlimited");
    assert_eq!(
        confirmed.json.as_ref().unwrap()["taskId"],
        seen["confirmed"]
    );
}

/// An API that never answers the template request: the call ends with the
/// request timeout, says no task was started, and sends none.
#[tokio::test]
async fn a_template_request_that_hangs_ends_and_starts_nothing() {
    let mock = MockApi::start_with(std::sync::Arc::new(|request: &crate::support::Recorded| {
        if request.path == "/api/workers" {
            crate::support::Reply::Hang
        } else {
            crate::support::Reply::error(404, "not found")
        }
    }))
    .await;
    let state = tempfile::tempdir().unwrap();
    let mut cmd = command(&mock.base_url, Some(KEY), &["--request-timeout", "1"]);
    cmd.env("HANDINGER_STATE_DIR", state.path());
    let client = connect_with(cmd, ProtocolVersion::V_2025_11_25).await;
    let started = std::time::Instant::now();
    let result = create(&client, "x", person()).await;
    assert_tool_error(
        &result,
        &["within 1 s", "worker template", "no task was started"],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(mock.task_posts().is_empty());
    client.cancel().await.unwrap();
}

/// Over HTTP each client key has its own templates: the same schema from two
/// keys makes two, each with its own key, and a second call per key reuses its.
#[tokio::test]
async fn over_http_templates_are_per_client_key() {
    use crate::support::http::{HttpServer, call_text, http_client, post, tool_call};
    let mock = MockApi::start_with(typed_handler()).await;
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let server = HttpServer::start_at(
        &mock.base_url,
        None,
        "127.0.0.1:0",
        &[],
        &[("HANDINGER_STATE_DIR", &state_arg)],
    )
    .await;
    let (http, url) = (http_client(), server.mcp_url());
    let keys = ["hdg_live_typed_a_0000", "hdg_live_typed_b_1111"];
    for round in 0..2 {
        for key in keys {
            let message = tool_call(
                1,
                "create_task",
                json!({"input": "who", "outputSchema": person()}),
            );
            let answer = post(&http, &url, &message, &[("handinger-api-key", key)]).await;
            let (text, is_error) = call_text(answer.response(1));
            assert!(
                !is_error && text.contains("follows the output schema"),
                "{round} {key}: {text}"
            );
        }
    }
    let templates = mock.template_posts();
    assert_eq!(templates.len(), 2, "one template per key");
    for (template, key) in templates.iter().zip(keys) {
        assert_eq!(
            template.header("authorization"),
            Some(&*format!("Bearer {key}"))
        );
    }
}
