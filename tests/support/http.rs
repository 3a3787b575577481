//! The binary in HTTP mode (`serve --http 127.0.0.1:0`), and a plain HTTP client
//! that speaks MCP's Streamable HTTP by hand, so tests see the wire.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use super::{KEY, command};

pub const PROTOCOL: &str = "2025-06-18";

/// One server process in HTTP mode.
pub struct HttpServer {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    stderr: Arc<Mutex<String>>,
    /// Reads stderr until the process closes it.
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl HttpServer {
    /// Start with the test key (or none) and `args` after `serve --http ADDR`.
    pub async fn start(base_url: &str, key: Option<&str>, args: &[&str]) -> Self {
        Self::start_at(base_url, key, "127.0.0.1:0", args, &[]).await
    }

    pub async fn start_at(
        base_url: &str,
        key: Option<&str>,
        addr: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut cmd = serve_command(base_url, key, addr, args);
        cmd.envs(env.iter().copied());
        Self::spawn(cmd).await
    }

    /// Start a prepared `serve --http` command.
    pub async fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn handinger-mcp");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (found, address) = tokio::sync::oneshot::channel();
        let kept = stderr.clone();
        let reader = tokio::spawn(async move {
            let mut found = Some(found);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(found) = found.take()
                {
                    let _ = found.send(rest.trim_end_matches("/mcp").to_owned());
                }
                let mut text = kept.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let address = tokio::time::timeout(Duration::from_secs(20), address)
            .await
            .expect("the server says where it listens within 20 s")
            .unwrap_or_else(|_| panic!("the server exited: {}", stderr.lock().unwrap()));
        Self {
            child,
            base: format!("http://{address}"),
            stderr,
            reader: Some(reader),
        }
    }

    /// What the server has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// All of stderr, once the process has exited and closed it.
    pub async fn stderr_to_the_end(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
        }
        self.stderr()
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }
}

/// The binary's `serve --http ADDR ARGS...` command.
pub fn serve_command(base_url: &str, key: Option<&str>, addr: &str, args: &[&str]) -> Command {
    let mut all = vec!["serve", "--http", addr];
    all.extend(args);
    command(base_url, key, &all)
}

/// A reqwest client (rustls needs its crypto provider chosen, even for http).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// What one POST got back: the status and every JSON-RPC message in the body
/// (one JSON document, or the `data:` lines of an SSE stream).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub messages: Vec<Value>,
    pub text: String,
}

impl Answer {
    /// The response to request `id`.
    pub fn response(&self, id: i64) -> &Value {
        self.messages
            .iter()
            .find(|m| m["id"] == id && (m.get("result").is_some() || m.get("error").is_some()))
            .unwrap_or_else(|| panic!("no response to {id} in {self:?}"))
    }
}

/// POST one JSON-RPC message to `url` with `headers`.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    message: &Value,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROTOCOL)
        .body(message.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the server answers HTTP");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let messages = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).into_iter().collect()
    } else {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    };
    Answer {
        status,
        headers,
        messages,
        text,
    }
}

pub fn initialize(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {},
        "clientInfo": {"name": "http-test", "version": "1"}}})
}

pub fn tool_call(id: i64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
}

/// A JSON-RPC request that declares the MCP tasks extension in its `_meta`, as
/// the extension asks of every request that uses it (over HTTP there is no
/// session to remember it).
pub fn tasks_request(id: i64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({"io.modelcontextprotocol/clientCapabilities":
                             {"extensions": {"io.modelcontextprotocol/tasks": {}}}});
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The text of a tools/call response's first block, and whether it is an error.
pub fn call_text(response: &Value) -> (String, bool) {
    let result = &response["result"];
    (
        result["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        result["isError"] == true,
    )
}

/// The test key as an Authorization header value for the API.
pub fn bearer_of_key() -> String {
    format!("Bearer {KEY}")
}
