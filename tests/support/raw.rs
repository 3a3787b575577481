//! A raw stdio session with the binary: JSON lines in, every stdout line kept, so
//! tests can check the wire itself.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

pub struct RawSession {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Every line read from stdout so far.
    pub lines: Vec<String>,
    /// stderr, drained as it comes so the server never blocks on a full pipe.
    stderr: tokio::task::JoinHandle<String>,
}

impl RawSession {
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn handinger-mcp");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut err = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut text = String::new();
            let _ = err.read_to_string(&mut text).await;
            text
        });
        Self {
            child,
            stdin,
            stdout,
            lines: Vec::new(),
            stderr,
        }
    }

    /// Write one raw line (no JSON check).
    pub async fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub async fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// Every line that arrives within `window` (for checking what comes after a
    /// response).
    pub async fn lines_within(&mut self, window: Duration) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout_at(deadline, self.stdout.next_line()).await
        {
            self.lines.push(line.clone());
            seen.push(serde_json::from_str(&line).expect("stdout line is JSON"));
        }
        seen
    }

    /// Read until `count` responses (messages with an id and no method) arrived.
    pub async fn lines_until_responses(&mut self, count: usize, limit: Duration) -> Vec<Value> {
        let mut responses = Vec::new();
        let deadline = tokio::time::Instant::now() + limit;
        while responses.len() < count {
            let line = tokio::time::timeout_at(deadline, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "only {} of {count} responses within the limit",
                        responses.len()
                    )
                })
                .unwrap()
                .expect("stdout open");
            self.lines.push(line.clone());
            let value: Value = serde_json::from_str(&line).expect("stdout line is JSON");
            if value.get("id").is_some() && value.get("method").is_none() {
                responses.push(value);
            }
        }
        responses
    }

    /// Send a request and return every line up to and including its response.
    pub async fn request_collecting(&mut self, id: i64, method: &str, params: Value) -> Vec<Value> {
        let start = self.lines.len();
        self.request(id, method, params).await;
        self.lines[start..]
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Read lines until the response to `id` arrives.
    pub async fn response(&mut self, id: i64) -> Value {
        let read = async {
            loop {
                let line = self
                    .stdout
                    .next_line()
                    .await
                    .unwrap()
                    .expect("stdout closed before the response");
                self.lines.push(line.clone());
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                if value.get("id") == Some(&json!(id)) && value.get("method").is_none() {
                    return value;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .unwrap_or_else(|_| panic!("no response to id {id} within 30 s"))
    }

    pub async fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.response(id).await
    }

    /// `initialize` at `version`, then `notifications/initialized`.
    pub async fn initialize(&mut self, version: &str) -> Value {
        let answer = self
            .request(
                0,
                "initialize",
                json!({"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "raw-test", "version": "1"}}),
            )
            .await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        answer
    }

    /// Close stdin, as a host does when it quits.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Everything written to stderr, once the process has exited.
    pub async fn stderr(self) -> String {
        self.stderr.await.unwrap_or_default()
    }
}
