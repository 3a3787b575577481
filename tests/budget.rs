//! The budget ceiling: a call asking for more than `--max-budget` is not sent as
//! is. A client that can be asked (form elicitation: a request up to 2025-11-25,
//! an input-required result from 2026-07-28) is asked once, for that call;
//! otherwise, and on the LSP-style mode and the command line, the error names the
//! setting. Nothing is sent unless confirmed.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
};

use rmcp::{
    ClientHandler, ErrorData, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
        ElicitationAction, Implementation, ProtocolVersion,
    },
    service::{RequestContext, RunningService},
    transport::TokioChildProcess,
};
use serde_json::json;

use crate::support::{KEY, MockApi, assert_tool_error, call, command, connect};

/// A client that answers every elicitation the same way, and keeps the messages.
#[derive(Clone)]
struct Person {
    action: ElicitationAction,
    confirm: bool,
    asked: Arc<Mutex<Vec<String>>>,
    version: ProtocolVersion,
}

impl Person {
    fn answering(action: ElicitationAction, confirm: bool) -> Self {
        Self {
            action,
            confirm,
            asked: Arc::default(),
            version: ProtocolVersion::V_2025_11_25,
        }
    }

    /// The same person on a client speaking `version` (from 2026-07-28 the
    /// question comes as an input-required result, answered by calling again).
    fn speaking(self, version: ProtocolVersion) -> Self {
        Self { version, ..self }
    }

    async fn connect(self, mock: &MockApi, args: &[&str]) -> RunningService<RoleClient, Self> {
        let (transport, _) = TokioChildProcess::builder(command(&mock.base_url, Some(KEY), args))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn handinger-mcp");
        self.serve(transport).await.expect("initialize succeeds")
    }
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation = Some(serde_json::from_value(json!({"form": {}})).unwrap());
        let mut config = ClientConfig::new(capabilities, Implementation::new("person", "1.0.0"));
        config.protocol_version = self.version.clone();
        config
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.asked.lock().unwrap().push(message);
        }
        let mut answer = ElicitResult::new(self.action.clone());
        if self.action == ElicitationAction::Accept {
            answer.content = Some(json!({"confirm": self.confirm}));
        }
        Ok(answer)
    }
}

/// create_task with `args`, from `client`.
async fn create(
    client: &RunningService<RoleClient, Person>,
    args: serde_json::Value,
) -> rmcp::model::CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new("create_task")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .expect("tools/call succeeds at the protocol level")
}

async fn create_unlimited(
    client: &RunningService<RoleClient, Person>,
) -> rmcp::model::CallToolResult {
    create(client, json!({"input": "expensive", "budget": "unlimited"})).await
}

/// In both eras: up to 2025-11-25 the server asks with elicitation/create; from
/// 2026-07-28 with an input-required result that the client answers by calling
/// again (rmcp's client drives those rounds through the same handler).
#[tokio::test]
async fn a_confirmed_budget_is_sent_and_a_declined_one_is_not() {
    for version in [ProtocolVersion::V_2025_06_18, ProtocolVersion::V_2026_07_28] {
        let mock = MockApi::start().await;
        let person = Person::answering(ElicitationAction::Accept, true).speaking(version.clone());
        let asked = person.asked.clone();
        let client = person.connect(&mock, &[]).await;
        let result = create_unlimited(&client).await;
        assert_eq!(result.is_error, Some(false), "{version}: {result:?}");
        let posts = mock.task_posts();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].json.as_ref().unwrap()["budget"], "unlimited");
        let messages = asked.lock().unwrap().clone();
        assert_eq!(messages.len(), 1, "{version}: asked once, for that call");
        assert!(
            messages[0].contains("unlimited") && messages[0].contains("(high)"),
            "{messages:?}"
        );
        // Within the ceiling, nobody is asked.
        create(&client, json!({"input": "cheap", "budget": "low"})).await;
        assert_eq!(asked.lock().unwrap().len(), 1);
        client.cancel().await.unwrap();

        for (action, confirm, word) in [
            (ElicitationAction::Decline, false, "declined"),
            (ElicitationAction::Cancel, false, "cancelled"),
            (ElicitationAction::Accept, false, "not confirmed"),
        ] {
            let mock = MockApi::start().await;
            let client = Person::answering(action, confirm)
                .speaking(version.clone())
                .connect(&mock, &[])
                .await;
            let result = create_unlimited(&client).await;
            assert_tool_error(&result, &["Not sent", word, "budget high or less"]);
            assert!(
                mock.task_posts().is_empty(),
                "{version} {word}: nothing was sent"
            );
            client.cancel().await.unwrap();
        }
    }
}

/// On the wire, from 2026-07-28: the call's first answer is an input-required
/// result holding the elicitation, nothing is sent; a retry whose requestState
/// names another budget is asked again; the confirmed retry goes out.
#[tokio::test]
async fn from_2026_07_28_the_question_is_an_input_required_result() {
    let mock = MockApi::start().await;
    let mut session =
        crate::support::raw::RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}
    });
    let arguments = json!({"input": "expensive", "budget": "unlimited"});
    let first = session
        .request(
            1,
            "tools/call",
            json!({"_meta": meta, "name": "create_task", "arguments": arguments}),
        )
        .await;
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let question = &result["inputRequests"]["confirm_budget"];
    assert_eq!(question["method"], "elicitation/create", "{first}");
    assert_eq!(
        question["params"]["requestedSchema"]["required"],
        json!(["confirm"])
    );
    let state = result["requestState"].as_str().unwrap().to_owned();
    assert!(mock.task_posts().is_empty());

    let answer = json!({"confirm_budget": {"action": "accept", "content": {"confirm": true}}});
    let elsewhere = session
        .request(
            2,
            "tools/call",
            json!({"_meta": meta, "name": "create_task",
            "arguments": {"input": "expensive", "budget": "unlimited"},
            "inputResponses": answer, "requestState": "budget-confirmation:low"}),
        )
        .await;
    assert_eq!(
        elsewhere["result"]["resultType"], "input_required",
        "{elsewhere}"
    );
    let confirmed = session
        .request(
            3,
            "tools/call",
            json!({"_meta": meta, "name": "create_task",
            "arguments": arguments, "inputResponses": answer, "requestState": state}),
        )
        .await;
    assert_eq!(confirmed["result"]["isError"], false, "{confirmed}");
    assert_eq!(mock.task_posts().len(), 1);
    assert_eq!(
        mock.task_posts()[0].json.as_ref().unwrap()["budget"],
        "unlimited"
    );
}

#[tokio::test]
async fn without_elicitation_the_error_names_the_setting_and_nothing_is_sent() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &["--max-budget", "standard"]).await;
    let result = call(
        &client,
        "create_task",
        json!({"input": "x", "budget": "high"}),
    )
    .await;
    assert_tool_error(
        &result,
        &[
            "Not sent",
            "budget high",
            "(standard)",
            "HANDINGER_MAX_BUDGET",
        ],
    );
    let within = call(&client, "create_task", json!({"input": "x"})).await;
    assert_eq!(
        within.is_error,
        Some(false),
        "no budget named: the API default"
    );
    assert_eq!(mock.task_posts().len(), 1);
    client.cancel().await.unwrap();

    // The command line: a default budget over the ceiling is refused, exit 2.
    let out = command(
        &mock.base_url,
        Some(KEY),
        &["create", "x", "--budget", "unlimited"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--max-budget") && stderr.contains("budget unlimited"),
        "{stderr}"
    );
    assert_eq!(mock.task_posts().len(), 1, "nothing more was sent");

    // The LSP-style mode: the same refusal.
    let mut lsp =
        crate::support::lsp::LspSession::spawn(command(&mock.base_url, Some(KEY), &["--lsp"]));
    lsp.request(1, "initialize", json!({})).await;
    let answer = lsp
        .request(
            2,
            "workspace/executeCommand",
            json!({"command": "handinger.createTask",
                   "arguments": [{"input": "x", "budget": "unlimited"}]}),
        )
        .await;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("--max-budget"), "{answer}");
    assert_eq!(mock.task_posts().len(), 1);
}

/// The Python SDK answers elicitation: accepted, the task goes out with the
/// higher budget; declined, nothing is sent. Then the ceilings, typed results
/// and the template cache across two processes (tests/interop/python_budget.py).
#[tokio::test]
async fn the_python_sdk_confirms_or_declines_a_higher_budget() {
    let mock = MockApi::start_with(crate::support::mock::typed_handler()).await;
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let Some(seen) = crate::interop::python_sdk_client(
        "python_budget.py",
        &[crate::support::bin(), &mock.base_url, &state_arg],
    )
    .await
    else {
        return;
    };
    let posts = mock.task_posts();
    let inputs: Vec<String> = posts.iter().filter_map(|p| p.input()).collect();
    assert_eq!(
        inputs,
        ["budget accept", "who", "wrong", "again"],
        "only the accepted call and the calls within the ceilings were sent"
    );
    assert_eq!(posts[0].json.as_ref().unwrap()["taskId"], seen["accepted"]);
    assert_eq!(posts[0].json.as_ref().unwrap()["budget"], "unlimited");
    assert_eq!(seen["workerId"], "wrk_tpl_1");
    assert_eq!(
        mock.template_posts().len(),
        1,
        "one template across two processes"
    );
}

/// The credit ceiling counts the credits the API reports for the tasks started
/// here with this key, over 24 hours, in the history shared by processes: past
/// it, new tasks and follow-ups are refused; results and doctor show spent of
/// limit.
#[tokio::test]
async fn the_credit_ceiling_refuses_past_it_across_processes() {
    let mock = MockApi::start().await;
    let state = tempfile::tempdir().unwrap();
    let server = |args: &'static [&'static str]| {
        let mut cmd = command(&mock.base_url, Some(KEY), args);
        cmd.env("HANDINGER_STATE_DIR", state.path());
        crate::support::connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25)
    };
    let client = server(&["--max-credits", "3"]).await;
    // The mock reports 2 credits a task.
    let first = call(&client, "create_task", json!({"input": "one"})).await;
    let s = first.structured_content.clone().unwrap();
    assert_eq!(s["creditUse"]["spentLast24h"], 2.0, "{s}");
    assert_eq!(s["creditUse"]["limit"], 3.0, "{s}");
    assert!(crate::support::text(&first).contains("credits in the last 24 h: 2 of 3"));
    let task_id = s["taskId"].as_str().unwrap().to_owned();
    let second = call(&client, "create_task", json!({"input": "two"})).await;
    assert_eq!(second.is_error, Some(false), "under the ceiling when sent");
    let third = call(&client, "create_task", json!({"input": "three"})).await;
    assert_tool_error(
        &third,
        &[
            "Not sent",
            "4 credits",
            "ceiling of 3",
            "HANDINGER_MAX_CREDITS",
        ],
    );
    let follow_up = call(
        &client,
        "follow_up_task",
        json!({"taskId": task_id, "input": "more"}),
    )
    .await;
    assert_tool_error(&follow_up, &["Not sent", "ceiling of 3"]);
    client.cancel().await.unwrap();
    assert_eq!(mock.task_posts().len(), 2);

    // Another process with the same history counts the same credits.
    let other = server(&["--max-credits", "3"]).await;
    let refused = call(&other, "create_task", json!({"input": "elsewhere"})).await;
    assert_tool_error(&refused, &["ceiling of 3"]);
    other.cancel().await.unwrap();
    // A higher ceiling lets it through.
    let roomier = server(&["--max-credits", "10"]).await;
    let sent = call(&roomier, "create_task", json!({"input": "roomier"})).await;
    assert_eq!(sent.is_error, Some(false), "{sent:?}");
    roomier.cancel().await.unwrap();
    assert_eq!(mock.task_posts().len(), 3);

    // doctor shows spent of limit.
    let out = command(&mock.base_url, Some(KEY), &["doctor", "--max-credits", "3"])
        .env("HANDINGER_STATE_DIR", state.path())
        .stdout(Stdio::piped())
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("in the last 24 h: 6 of 3"), "{report}");
}

/// Over HTTP the credit ceiling is counted per client key: one client past it
/// leaves another's calls going.
#[tokio::test]
async fn over_http_the_credit_ceiling_counts_per_client_key() {
    use crate::support::http::{HttpServer, call_text, http_client, post, tool_call};
    let mock = MockApi::start().await;
    let server = HttpServer::start(&mock.base_url, None, &["--max-credits", "3"]).await;
    let (http, url) = (http_client(), server.mcp_url());
    let keys = ["hdg_live_credits_a_0000", "hdg_live_credits_b_1111"];
    let create = |id: i64, key: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let message = tool_call(id, "create_task", json!({"input": format!("{key} {id}")}));
            post(&http, &url, &message, &[("handinger-api-key", key)])
                .await
                .response(id)
                .clone()
        }
    };
    // The mock reports 2 credits a task: A's third call is past 3.
    let first = create(1, keys[0]).await;
    assert_eq!(
        first["result"]["structuredContent"]["creditUse"]["spentLast24h"],
        2.0
    );
    create(2, keys[0]).await;
    let (text, is_error) = call_text(&create(3, keys[0]).await);
    assert!(
        is_error && text.contains("Not sent") && text.contains("--max-credits"),
        "{text}"
    );
    let other = create(4, keys[1]).await;
    let (text, is_error) = call_text(&other);
    assert!(!is_error, "{text}");
    assert_eq!(
        other["result"]["structuredContent"]["creditUse"]["spentLast24h"],
        2.0
    );
    assert_eq!(mock.task_posts().len(), 3);
}

/// The Python SDK 2.x answers the budget question in both its modes: legacy
/// (elicitation/create) and 2026-07-28 (an input-required result it answers and
/// sends again). Only the accepted calls reach the API, with the higher budget.
#[tokio::test]
async fn the_python_sdk_2_confirms_in_both_eras() {
    let Some(python) = crate::support::venv_python(
        "venv-mcp2",
        "the Python MCP SDK 2.x",
        "requirements-sdk2.txt",
    ) else {
        return;
    };
    let mock = MockApi::start().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/python2_budget.py"
    );
    let out = tokio::process::Command::new(python)
        .args([script, crate::support::bin(), &mock.base_url])
        .env("HANDINGER_STATE_DIR", crate::support::state_dir())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python2_budget.py failed:\n{stderr}");
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let posts = mock.task_posts();
    let inputs: Vec<String> = posts.iter().filter_map(|p| p.input()).collect();
    assert_eq!(
        inputs,
        ["legacy accept", "2026-07-28 accept"],
        "declined calls were not sent"
    );
    for (post, mode) in posts.iter().zip(["legacy", "2026-07-28"]) {
        let body = post.json.as_ref().unwrap();
        assert_eq!(body["budget"], "unlimited");
        assert_eq!(body["taskId"], seen[mode]);
    }
}
