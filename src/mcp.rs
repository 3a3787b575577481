//! The MCP front-end: tool definitions and their translation to and from the core.

use std::{sync::Arc, time::Duration};

use rmcp::{
    Peer, RoleServer, ServerHandler,
    handler::server::{common::schema_for_output, router::tool::ToolRouter, wrapper::Parameters},
    model::{
        CallToolResult, ContentBlock, Implementation, JsonObject, Resource, ServerCapabilities,
        ServerConfig, Tool,
    },
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{
    handinger::Budget,
    render::{Link, Rendered, TaskResult, render_outcome},
    tasks::{TaskKind, TaskRequest, TaskRunner},
    workspace::{RootSource, Workspace, file_uri_to_path},
};

/// How long a client gets to answer `roots/list`.
const ROOTS_TIMEOUT: Duration = Duration::from_secs(10);

/// Told to the model at initialize: what the tools are for and how they chain.
pub const INSTRUCTIONS: &str = "Hands a subtask to a Handinger worker (a hosted agent that can \
browse the web, run code and produce files) and returns its answer. Use create_task for a \
self-contained job that another agent can do alone: research, analysis, drafting. Write the \
input as a full brief; the worker sees nothing of this conversation. Each result names a \
taskId: pass it to follow_up_task to ask a follow-up question in the same task, with the \
worker's earlier context. Tasks can take minutes.";

/// Arguments of `create_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTaskArgs {
    /// The task for the worker, as a complete brief: goal, context, constraints and the
    /// form of the answer. The worker sees nothing but this text.
    #[schemars(length(min = 1))]
    pub input: String,
    /// Compute budget the worker may spend: low, standard (the API default), high or
    /// unlimited.
    pub budget: Option<Budget>,
    /// Run the task on an existing worker (an id like wrk_...). Omit it to have a new
    /// worker created from the input.
    #[schemars(length(min = 1))]
    pub worker_id: Option<String>,
    /// Files to attach, as paths in the workspace (relative to its first root, or
    /// absolute inside it). They are copied into the worker's workspace before the
    /// task starts.
    #[serde(default)]
    pub files: Vec<String>,
}

/// Arguments of `follow_up_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FollowUpTaskArgs {
    /// The taskId returned by create_task (like tsk_...).
    #[schemars(length(min = 1))]
    pub task_id: String,
    /// The follow-up message: a question about the answer, a correction or the next step.
    #[schemars(length(min = 1))]
    pub input: String,
    /// Compute budget for this turn: low, standard, high or unlimited.
    pub budget: Option<Budget>,
    /// The worker of the task, when known (the workerId of the earlier result).
    #[schemars(length(min = 1))]
    pub worker_id: Option<String>,
    /// Files to attach, as paths in the workspace (relative to its first root, or
    /// absolute inside it). They are copied into the worker's workspace before the
    /// task starts.
    #[serde(default)]
    pub files: Vec<String>,
}

/// The output schema both tools declare.
fn task_result_schema() -> Arc<JsonObject> {
    schema_for_output::<TaskResult>()
}

/// The MCP server: two tools over one [`TaskRunner`].
#[derive(Debug, Clone)]
pub struct HandingerServer {
    runner: Arc<TaskRunner>,
    max_output_chars: usize,
    /// The client's roots, fetched when a call first needs them and dropped on
    /// `notifications/roots/list_changed`.
    client_roots: Arc<tokio::sync::Mutex<Option<Workspace>>>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl HandingerServer {
    pub fn new(runner: TaskRunner, max_output_chars: usize) -> Self {
        Self {
            runner: Arc::new(runner),
            max_output_chars,
            client_roots: Arc::default(),
            tool_router: Self::tool_router(),
        }
    }

    /// Hand a subtask to a Handinger worker and wait for its answer. Use it for
    /// self-contained work another agent can do alone (web research, analysis, drafting,
    /// producing files); write `input` as a complete brief, since the worker sees nothing
    /// else. Returns the worker's answer, the sources it cited and the files it produced,
    /// plus a taskId. To ask a follow-up in the same task, call follow_up_task with that
    /// taskId. Tasks can take minutes; every call starts new (billed) work.
    #[tool(
        name = "create_task",
        title = "Create a Handinger task",
        annotations(
            title = "Create a Handinger task",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        ),
        output_schema = task_result_schema()
    )]
    pub async fn create_task(
        &self,
        peer: Peer<RoleServer>,
        Parameters(args): Parameters<CreateTaskArgs>,
    ) -> CallToolResult {
        let request = TaskRequest {
            kind: TaskKind::New,
            task_id: None,
            input: args.input,
            budget: args.budget,
            worker_id: args.worker_id,
            files: args.files,
            workspace: None,
        };
        self.run(&peer, request).await
    }

    /// Continue an earlier task with a new message: a follow-up question, a correction or
    /// the next step. The worker keeps the task's earlier context. Pass the taskId from a
    /// create_task (or earlier follow_up_task) result. Returns the new answer, its sources
    /// and files, in the same form as create_task.
    #[tool(
        name = "follow_up_task",
        title = "Follow up on a Handinger task",
        annotations(
            title = "Follow up on a Handinger task",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        ),
        output_schema = task_result_schema()
    )]
    pub async fn follow_up_task(
        &self,
        peer: Peer<RoleServer>,
        Parameters(args): Parameters<FollowUpTaskArgs>,
    ) -> CallToolResult {
        let request = TaskRequest {
            kind: TaskKind::FollowUp,
            task_id: Some(args.task_id),
            input: args.input,
            budget: args.budget,
            worker_id: args.worker_id,
            files: args.files,
            workspace: None,
        };
        self.run(&peer, request).await
    }
}

impl HandingerServer {
    async fn run(&self, peer: &Peer<RoleServer>, mut request: TaskRequest) -> CallToolResult {
        request.workspace = self.workspace_for(peer, &request.files).await;
        match self.runner.run(request).await {
            Ok(outcome) => tool_result(render_outcome(&outcome, self.max_output_chars)),
            Err(error) => CallToolResult::error(vec![ContentBlock::text(error.to_string())]),
        }
    }

    /// The client's roots as the workspace, when the call attaches files and the
    /// client declares the roots capability; `None` means the configured workspace.
    /// (SEP-2577 deprecates roots, but today's hosts still send them.)
    #[allow(deprecated)]
    async fn workspace_for(&self, peer: &Peer<RoleServer>, files: &[String]) -> Option<Workspace> {
        let declares_roots = peer
            .peer_info()
            .is_some_and(|info| info.capabilities.roots.is_some());
        if files.is_empty() || !declares_roots {
            return None;
        }
        let mut cached = self.client_roots.lock().await;
        if cached.is_none() {
            *cached = match tokio::time::timeout(ROOTS_TIMEOUT, peer.list_roots()).await {
                Ok(Ok(listed)) => {
                    let paths: Vec<_> = listed
                        .roots
                        .iter()
                        .filter_map(|root| file_uri_to_path(&root.uri))
                        .collect();
                    tracing::info!(roots = ?paths, "client roots");
                    Workspace::new(&paths, RootSource::Client)
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "roots/list failed; using the configured workspace");
                    None
                }
                Err(_) => {
                    tracing::warn!("roots/list timed out; using the configured workspace");
                    None
                }
            };
        }
        cached.clone()
    }

    /// The tool definitions exactly as `tools/list` announces them.
    pub fn tool_definitions() -> Vec<Tool> {
        Self::tool_router().list_all()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for HandingerServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "handinger-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    async fn on_roots_list_changed(
        &self,
        _context: rmcp::service::NotificationContext<RoleServer>,
    ) {
        tracing::info!("client roots changed");
        self.client_roots.lock().await.take();
    }
}

fn tool_result(rendered: Rendered) -> CallToolResult {
    let mut content = vec![ContentBlock::text(rendered.text)];
    content.extend(rendered.links.into_iter().map(resource_link));
    let mut result = CallToolResult::success(content);
    result.structured_content =
        Some(serde_json::to_value(rendered.structured).expect("TaskResult serializes"));
    result
}

fn resource_link(link: Link) -> ContentBlock {
    let mut resource = Resource::new(link.uri, link.name).with_description(link.description);
    if let Some(title) = link.title {
        resource = resource.with_title(title);
    }
    if let Some(mime) = link.mime_type {
        resource = resource.with_mime_type(mime);
    }
    if let Some(size) = link.size {
        resource = resource.with_size(size);
    }
    ContentBlock::resource_link(resource)
}
