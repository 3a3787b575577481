//! Every error class ends in a tool result a person can act on, nothing is sent
//! twice that may have run, and the server answers the next call.

use std::{sync::Arc, time::Duration};

use serde_json::json;

use crate::support::{
    self, KEY, MockApi, Recorded, Reply, assert_tool_error, call, command, connect, connect_with,
    text,
};

fn always(reply: Reply) -> support::mock::Handler {
    Arc::new(move |_: &Recorded| reply.clone())
}

/// A reply that starts a 200 response, promises more body than it sends, and closes.
fn truncated_body() -> Reply {
    Reply::Raw {
        bytes: b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"id\":\"wrk_1\",\"output_te".to_vec(),
        delay: Duration::ZERO,
    }
}

#[tokio::test]
async fn each_api_error_is_a_readable_tool_error_and_never_resent() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &["--retries", "0", "--request-timeout", "2"]).await;
    let cases: Vec<(&str, Reply, Vec<&str>)> = vec![
        (
            "create_task",
            Reply::error(401, "invalid api key"),
            vec!["HTTP 401", "invalid api key", "HANDINGER_API_KEY"],
        ),
        (
            "create_task",
            Reply::error(403, "no access to worker"),
            vec!["HTTP 403", "no access to worker", "key was refused"],
        ),
        (
            "follow_up_task",
            Reply::error(404, "task not found"),
            // The check before the follow-up finds no task: nothing is sent.
            vec![
                "No task with taskId tsk_unknown",
                "the follow-up was not sent",
                "create_task",
            ],
        ),
        (
            "create_task",
            Reply::error(422, "budget: invalid enum value"),
            vec![
                "HTTP 422",
                "budget: invalid enum value",
                "check input, budget",
            ],
        ),
        (
            "create_task",
            Reply::error(400, "input: too short"),
            vec!["HTTP 400", "input: too short"],
        ),
        (
            "create_task",
            Reply::error(409, "turn in progress"),
            vec!["HTTP 409", "turn in progress"],
        ),
        (
            "create_task",
            Reply::error(429, "slow down"),
            vec!["HTTP 429", "nothing ran", "Retry later"],
        ),
        (
            "create_task",
            Reply::error(500, "internal"),
            vec!["HTTP 500", "may still have run", "taskId is tsk_"],
        ),
        (
            "create_task",
            Reply::text(503, "<html>unavailable</html>"),
            vec!["HTTP 503", "<html>unavailable</html>", "taskId is tsk_"],
        ),
        (
            "create_task",
            Reply::text(200, "<html>not json</html>"),
            vec!["not a Worker object", "<html>not json"],
        ),
        (
            "create_task",
            truncated_body(),
            vec!["broke before the answer was complete", "may still have run"],
        ),
        (
            "create_task",
            Reply::Hang,
            vec!["within 2 s", "may still have run", "taskId is tsk_"],
        ),
    ];
    for (tool, reply, needles) in cases {
        mock.set_handler(always(reply.clone()));
        let before = mock.task_posts().len();
        let args = match tool {
            "follow_up_task" => json!({"taskId": "tsk_unknown", "input": "more"}),
            _ => json!({"input": "work"}),
        };
        let result = call(&client, tool, args).await;
        assert_tool_error(&result, &needles);
        let sends = usize::from(tool != "follow_up_task");
        assert_eq!(
            mock.task_posts().len(),
            before + sends,
            "{reply:?} was sent more than once"
        );
    }
    mock.set_handler(support::mock::default_handler());
    let ok = call(&client, "create_task", json!({"input": "still alive?"})).await;
    assert_eq!(ok.is_error, Some(false));
    assert!(text(&ok).contains("Answer to: still alive?"));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn rate_limits_are_waited_out_when_short_and_reported_when_long() {
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    let mock = MockApi::start_with(Arc::new(move |r: &Recorded| {
        if r.method != "POST" {
            // The early lookup of the dashboard URL: nothing known yet.
            Reply::error(404, "task not found")
        } else if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::error(429, "slow down").header("retry-after-ms", "200")
        } else {
            Reply::json(200, support::mock::worker_json(r))
        }
    }))
    .await;
    let client = connect(&mock, &[]).await;
    let result = call(&client, "create_task", json!({"input": "retry me"})).await;
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 2, "one refused, one served");
    assert_eq!(
        posts[0].json, posts[1].json,
        "the retry is the same request, same taskId"
    );

    mock.set_handler(always(
        Reply::error(429, "quota").header("retry-after", "120"),
    ));
    let result = call(&client, "create_task", json!({"input": "later"})).await;
    assert_tool_error(&result, &["HTTP 429", "Retry after 120 s"]);
    assert_eq!(
        mock.task_posts().len(),
        3,
        "a long Retry-After is reported, not waited out"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed_port}");
    let client = connect_with(
        command(&url, Some(KEY), &["--retries", "1"]),
        rmcp::model::ProtocolVersion::V_2025_11_25,
    )
    .await;
    let result = call(&client, "create_task", json!({"input": "anyone there?"})).await;
    assert_tool_error(
        &result,
        &[
            "Could not reach the Handinger API",
            "Connection refused",
            "2 attempts",
            "Nothing was sent",
            "HANDINGER_BASE_URL",
        ],
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn without_a_key_tools_list_and_calls_say_how_to_set_it() {
    let mock = MockApi::start().await;
    let client = connect_with(
        command(&mock.base_url, None, &[]),
        rmcp::model::ProtocolVersion::V_2025_11_25,
    )
    .await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), handinger_mcp::TOOLS.len());
    let result = call(&client, "create_task", json!({"input": "hi"})).await;
    assert_tool_error(
        &result,
        &[
            "No Handinger API key",
            "HANDINGER_API_KEY",
            "--api-key-file",
        ],
    );
    assert!(mock.requests().is_empty(), "nothing is sent without a key");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_naming_the_argument() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &[]).await;
    let cases = [
        (
            "create_task",
            json!({"input": "   "}),
            vec!["`input`", "must not be empty"],
        ),
        (
            "create_task",
            json!({"input": "x", "budget": "huge"}),
            vec!["huge", "low"],
        ),
        (
            "create_task",
            json!({"input": "x", "bogus": 1}),
            vec!["bogus"],
        ),
        ("create_task", json!({}), vec!["input"]),
        ("follow_up_task", json!({"input": "x"}), vec!["taskId"]),
        (
            "follow_up_task",
            json!({"taskId": " ", "input": "x"}),
            vec!["`taskId`"],
        ),
    ];
    for (tool, args, needles) in cases {
        let result = call(&client, tool, args.clone()).await;
        assert_tool_error(&result, &needles);
    }
    assert!(mock.requests().is_empty(), "invalid calls send nothing");
    client.cancel().await.unwrap();
}

/// A host that passes `${HANDINGER_API_KEY}` through (Claude Code does when the
/// variable is unset) gets told the variable is unset where the host runs, never
/// to write the key into a project file.
#[tokio::test]
async fn an_unexpanded_key_is_diagnosed_as_an_unset_variable() {
    let mock = MockApi::start().await;
    for placeholder in ["${HANDINGER_API_KEY}", "${env:HANDINGER_API_KEY}"] {
        let client = connect_with(
            command(&mock.base_url, Some(placeholder), &[]),
            rmcp::model::ProtocolVersion::V_2025_11_25,
        )
        .await;
        let result = call(&client, "create_task", json!({"input": "x"})).await;
        assert_tool_error(
            &result,
            &[
                "HANDINGER_API_KEY holds the literal text",
                "not set in the environment the host was started from",
                "Do not write the key itself into a project's config file",
            ],
        );
        assert!(
            !text(&result).contains("Put the key itself"),
            "{}",
            text(&result)
        );
        client.cancel().await.unwrap();
    }
    assert!(mock.requests().is_empty());
}

/// A refused key is explained by where it came from: the environment, or a key
/// file (read on every call, so no restart).
#[tokio::test]
async fn a_refused_key_names_where_it_came_from() {
    let mock = MockApi::start_with(always(Reply::error(401, "invalid api key"))).await;
    let client = connect(&mock, &["--retries", "0"]).await;
    let from_env = call(&client, "create_task", json!({"input": "x"})).await;
    assert_tool_error(
        &from_env,
        &[
            "HTTP 401",
            "It came from HANDINGER_API_KEY in the server's environment",
        ],
    );
    client.cancel().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, "hdg_live_from_a_file_0123").unwrap();
    let client = connect_with(
        command(
            &mock.base_url,
            None,
            &["--api-key-file", file.to_str().unwrap()],
        ),
        rmcp::model::ProtocolVersion::V_2025_11_25,
    )
    .await;
    let from_file = call(&client, "create_task", json!({"input": "x"})).await;
    assert_tool_error(
        &from_file,
        &["It came from the key file", "no restart is needed"],
    );
    assert!(
        !text(&from_file).contains("\"env\" block"),
        "{}",
        text(&from_file)
    );
    client.cancel().await.unwrap();

    // From the shell too.
    let out = command(
        &mock.base_url,
        Some(KEY),
        &["create", "x", "--retries", "0"],
    )
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("It came from HANDINGER_API_KEY"),
        "{stderr}"
    );
}
