//! An MCP client that declares roots: it offers a list of URIs that can change
//! mid-session, or never answers `roots/list` at all.

#![allow(deprecated)] // MCP roots (SEP-2577), still sent by today's hosts

use std::{
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
};

use rmcp::{
    ClientHandler, ErrorData, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
        ListRootsResult, Root,
    },
    service::{RequestContext, RunningService},
    transport::TokioChildProcess,
};
use serde_json::json;
use tokio::process::Command;

#[derive(Clone)]
pub struct RootsClient {
    /// The root URIs offered; change them, then notify, to test list_changed.
    pub uris: Arc<Mutex<Vec<String>>>,
    /// Whether `roots/list` is answered at all.
    pub answer: bool,
}

impl RootsClient {
    pub fn offering(uris: Vec<String>) -> Self {
        Self {
            uris: Arc::new(Mutex::new(uris)),
            answer: true,
        }
    }

    pub fn silent() -> Self {
        Self {
            answer: false,
            ..Self::offering(Vec::new())
        }
    }

    /// Spawn the binary with `cmd` and connect as this client.
    pub async fn connect(self, cmd: Command) -> RunningService<RoleClient, Self> {
        let (transport, _) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn handinger-mcp");
        self.serve(transport).await.expect("initialize succeeds")
    }
}

/// The `file://` URI of a local folder.
pub fn folder_uri(path: &Path) -> String {
    format!("file://{}", path.display().to_string().replace(' ', "%20"))
}

/// Call create_task attaching `files`.
pub async fn create_with_files(
    client: &RunningService<RoleClient, RootsClient>,
    files: &[&str],
) -> CallToolResult {
    let args = json!({"input": "x", "files": files})
        .as_object()
        .unwrap()
        .clone();
    client
        .call_tool(CallToolRequestParams::new("create_task").with_arguments(args))
        .await
        .expect("tools/call succeeds at the protocol level")
}

impl ClientHandler for RootsClient {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.roots = Some(serde_json::from_value(json!({"listChanged": true})).unwrap());
        ClientConfig::new(capabilities, Implementation::new("roots-client", "1.0.0"))
    }

    async fn list_roots(
        &self,
        _: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        if !self.answer {
            std::future::pending::<()>().await;
        }
        let uris = self.uris.lock().unwrap().clone();
        Ok(ListRootsResult::new(
            uris.into_iter().map(Root::new).collect(),
        ))
    }
}
