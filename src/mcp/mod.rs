//! The MCP front-end: the tool table as MCP tools, progress, cancellation, roots
//! and the MCP tasks extension, translated to and from the core.

mod catalog;
mod confirm;
pub mod handles;
mod stateless;
pub mod streamable_http;
pub mod transport;

use std::{sync::Arc, time::Duration};

use rmcp::{
    ErrorData, Peer, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ContentBlock,
        CreateTaskResult, CustomRequest, CustomResult, DetailedTask, GetPromptRequestParams,
        GetPromptResponse, GetPromptResult, GetTaskParams, GetTaskResult, Implementation,
        ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
        PaginatedRequestParams, ProgressNotificationParam, ProtocolVersion,
        ReadResourceRequestParams, ReadResourceResponse, RequestMetaObject, Resource,
        ServerCapabilities, ServerConfig, TaskPayload, Tool, ToolAnnotations, UpdateTaskParams,
    },
    service::{NotificationContext, RequestContext},
};
use tokio_util::sync::CancellationToken;

use handles::{Found, HandleContext, HandleTable, Settled};

use crate::{
    delegation::{
        CallOutcome, NO_DEADLINE, NextStep, Progress, Setting, Silent, TaskError, TaskFailure,
        TaskRunner, new_task_id,
    },
    render::{Link, Rendered, render_call},
    tools::{self, TOOLS, ToolCall, ToolSpec, Wording},
    workspace::{RootSource, Workspace},
};

/// Request methods of the MCP specification; a request of one of them that reaches
/// `on_custom_request` had params rmcp could not parse.
const MCP_REQUEST_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/cancel",
    "tasks/update",
    "tasks/list",
    "server/discover",
];

/// How long a client gets to answer `roots/list`.
const ROOTS_TIMEOUT: Duration = Duration::from_secs(10);
/// Suggested `tasks/get` polling interval for clients of the tasks extension.
const TASK_POLL: Duration = Duration::from_secs(2);

/// Told to the model at initialize: what the tools are for, then each tool by
/// the first sentence of its description, from the table.
pub fn instructions() -> String {
    let mut text = String::from(
        "Hands a subtask to a Handinger worker (a hosted agent that can browse the web, run \
         code and produce files) and returns its answer. Write each input as a full brief; the \
         worker sees nothing of this conversation. Each result names a taskId that later calls \
         take. Tasks can take minutes: a result with status \"running\" means the work goes \
         on. The tools:",
    );
    for tool in TOOLS {
        let first = tool
            .description
            .split_once(". ")
            .map_or(tool.description, |(first, _)| first);
        text.push_str(&format!(
            "\n- {}: {}.",
            tool.name,
            first.trim_end_matches('.')
        ));
    }
    text
}

/// What bounds one stdio MCP session.
#[derive(Debug, Clone, Copy)]
pub struct StdioLimits {
    /// Characters of an answer inlined in a result.
    pub max_output_chars: usize,
    /// Requests that may be in flight at once (pings aside).
    pub max_in_flight: usize,
}

/// Serve MCP on `input`/`output` (newline-delimited JSON) until the client closes
/// the connection; `closed` is cancelled at end of input or when output fails.
pub async fn serve_stdio<R, W>(
    runner: Arc<TaskRunner>,
    limits: StdioLimits,
    input: R,
    output: W,
    closed: CancellationToken,
) -> std::process::ExitCode
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    use rmcp::ServiceExt;
    let transport = transport::LineTransport::new(input, output, limits.max_in_flight, closed);
    let server = HandingerServer::new(runner, limits.max_output_chars);
    let service = match server.serve(transport).await {
        Ok(service) => service,
        Err(error) => {
            tracing::error!(%error, "MCP session failed to start");
            return std::process::ExitCode::FAILURE;
        }
    };
    match service.waiting().await {
        Ok(reason) => {
            tracing::info!(?reason, "MCP session ended");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "MCP session crashed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Where a call's runner and files come from.
#[derive(Clone)]
enum Calls {
    /// stdio: one client, one runner; files from the client's roots.
    Local(Arc<TaskRunner>),
    /// HTTP: the runner of the key that pays (the client's, else the server's);
    /// files only from the server's configured workspace.
    Shared(Arc<dyn SharedRunners>),
}

/// Where a transport shared by many clients (Streamable HTTP) finds the runner
/// that pays for a request, and the only folder its calls may attach from. The
/// transport implements it, so this module names no transport's types.
pub trait SharedRunners: Send + Sync {
    /// The runner for a request with these headers; a message when no key can pay.
    fn runner_for(&self, headers: &::http::HeaderMap) -> Result<Arc<TaskRunner>, String>;

    /// The server's own workspace: a remote client's roots name no file here.
    fn workspace(&self) -> &Workspace;
}

/// The MCP server: the tool table over the core.
#[derive(Clone)]
pub struct HandingerServer {
    calls: Calls,
    max_output_chars: usize,
    /// The client's roots, fetched when a call first needs them and dropped on
    /// `notifications/roots/list_changed`.
    client_roots: Arc<std::sync::Mutex<RootsCache>>,
    /// Calls run under task handles, for clients of the tasks extension.
    handles: HandleTable,
}

/// Next steps in MCP terms: the tools by name, the key in the host's config.
pub struct McpWording;

impl Wording for McpWording {
    fn invoke(&self, tool: &ToolSpec, task_id: &str) -> String {
        format!("call {} with taskId \"{task_id}\"", tool.name)
    }

    fn start_new(&self, tool: &ToolSpec) -> String {
        format!("call {}", tool.name)
    }

    fn key_place(&self) -> &'static str {
        "Put it in the \"env\" block of this server's entry in your MCP host's config, then \
         restart the server."
    }

    fn setting(&self, setting: Setting) -> String {
        let (flag, variable) = tools::setting_names(setting);
        format!(
            "The setting is {variable} in the \"env\" block of this server's entry (or {flag} \
             in its \"args\")."
        )
    }
}

/// A next step in MCP terms.
fn mcp_wording(step: &NextStep) -> String {
    McpWording.word(step)
}

/// A table entry as an MCP tool.
fn mcp_tool(spec: &ToolSpec) -> Tool {
    let hints = spec.hints;
    Tool::new(spec.name, spec.description, (spec.input_schema)())
        .with_title(spec.title)
        .with_raw_output_schema((spec.output_schema)())
        .with_annotations(
            ToolAnnotations::with_title(spec.title)
                .read_only(hints.read_only)
                .destructive(hints.destructive)
                .idempotent(hints.idempotent)
                .open_world(hints.open_world),
        )
}

/// The client's roots as last listed. `generation` counts list_changed
/// notifications, so an answer that was asked for before a change is not kept.
#[derive(Default)]
struct RootsCache {
    workspace: Option<Workspace>,
    generation: u64,
}

/// Progress as `notifications/progress`, when the request carried a token.
struct McpProgress {
    peer: Peer<RoleServer>,
    meta: RequestMetaObject,
}

impl Progress for McpProgress {
    fn shown(&self) -> bool {
        self.meta.get_progress_token().is_some()
    }

    async fn report(&mut self, elapsed: Duration, message: String) {
        let Some(token) = self.meta.get_progress_token() else {
            return;
        };
        let mut param = ProgressNotificationParam::new(token, elapsed.as_secs_f64());
        param.message = Some(message);
        if let Err(error) = self.peer.notify_progress(param).await {
            tracing::debug!(%error, "progress notification not delivered");
        }
    }
}

/// Progress as the task handle's status message.
struct HandleStatusProgress(HandleContext);

/// The Handinger task an outcome answers.
fn outcome_task_id(outcome: &CallOutcome) -> &str {
    match outcome {
        CallOutcome::Finished(finished) => &finished.task_id,
        CallOutcome::Running(running) => &running.task_id,
        CallOutcome::Archived { task_id, .. } => task_id,
        CallOutcome::Listed(_) => "",
    }
}

impl Progress for HandleStatusProgress {
    async fn report(&mut self, _: Duration, message: String) {
        self.0.set_status_message(message);
    }
}

impl HandingerServer {
    pub fn new(runner: Arc<TaskRunner>, max_output_chars: usize) -> Self {
        Self {
            calls: Calls::Local(runner),
            max_output_chars,
            client_roots: Arc::default(),
            handles: HandleTable::default(),
        }
    }

    /// A server for MCP over HTTP: runners by key, the server's workspace only, and
    /// task handles any replica answers (see [`stateless`]).
    pub fn for_http(runners: Arc<dyn SharedRunners>, max_output_chars: usize) -> Self {
        Self {
            calls: Calls::Shared(runners),
            max_output_chars,
            client_roots: Arc::default(),
            handles: HandleTable::default(),
        }
    }

    /// The runner for this request; a message when no key can pay for it.
    fn runner_for(&self, context: &RequestContext<RoleServer>) -> Result<Arc<TaskRunner>, String> {
        match &self.calls {
            Calls::Local(runner) => Ok(runner.clone()),
            Calls::Shared(runners) => {
                let no_headers = ::http::HeaderMap::new();
                let headers = context
                    .extensions
                    .get::<::http::request::Parts>()
                    .map_or(&no_headers, |parts| &parts.headers);
                runners.runner_for(headers)
            }
        }
    }

    /// The tool definitions exactly as `tools/list` announces them.
    pub fn tool_definitions() -> Vec<Tool> {
        TOOLS.iter().map(mcp_tool).collect()
    }
}

impl HandingerServer {
    /// Run one tool call within this request, with progress and cancellation.
    async fn run(&self, call: ToolCall, context: RequestContext<RoleServer>) -> CallToolResult {
        let runner = match self.runner_for(&context) {
            Ok(runner) => runner,
            Err(message) => return CallToolResult::error(vec![ContentBlock::text(message)]),
        };
        let workspace = Box::pin(self.workspace_for(&call, &runner, &context.peer)).await;
        let mut progress = McpProgress {
            peer: context.peer.clone(),
            meta: context.meta,
        };
        let outcome = call
            .run(&runner, workspace, None, &context.ct, &mut progress)
            .await;
        self.result(&context.peer, outcome)
    }

    fn result(
        &self,
        peer: &Peer<RoleServer>,
        outcome: Result<CallOutcome, TaskError>,
    ) -> CallToolResult {
        // resource_link blocks arrived with 2025-06-18; an older client may reject a
        // result holding a content type it does not know. The text lists the same
        // sources and files, so nothing is lost.
        let links = peer
            .peer_info()
            .is_none_or(|info| info.protocol_version >= ProtocolVersion::V_2025_06_18);
        match outcome {
            Ok(outcome) => tool_result(
                render_call(&outcome, self.max_output_chars, &mcp_wording),
                links,
            ),
            Err(error) => tool_error(&error),
        }
    }

    /// Where the call's files resolve: the client's roots (falling back to an
    /// explicitly configured workspace), or `None` for the configured one.
    async fn workspace_for(
        &self,
        call: &ToolCall,
        runner: &TaskRunner,
        peer: &Peer<RoleServer>,
    ) -> Option<Workspace> {
        self.client_workspace(peer, call.files())
            .await
            .map(|client| client.or_configured(runner.default_workspace()))
    }

    /// The client's roots as the workspace, when the call attaches files and the
    /// client declares the roots capability; `None` means the configured workspace.
    /// A client that declares roots but offers none usable gets a workspace with no
    /// root (fail closed), which the caller replaces with an explicitly configured
    /// `--workspace` ([`Workspace::or_configured`]). The cache lock is never held across `roots/list`, so a
    /// client that never answers delays only the calls that wait for it.
    /// (SEP-2577 deprecates roots, but today's hosts still send them.)
    #[allow(deprecated)]
    async fn client_workspace(
        &self,
        peer: &Peer<RoleServer>,
        files: &[String],
    ) -> Option<Workspace> {
        if let Calls::Shared(runners) = &self.calls {
            return Some(runners.workspace().clone());
        }
        let declares_roots = peer
            .peer_info()
            .is_some_and(|info| info.capabilities.roots.is_some());
        if files.is_empty() || !declares_roots {
            return None;
        }
        let generation = {
            let cache = self.client_roots.lock().expect("roots lock");
            if let Some(workspace) = &cache.workspace {
                return Some(workspace.clone());
            }
            cache.generation
        };
        let unusable = |reason: String| {
            tracing::warn!(reason, "no usable client roots; files cannot be attached");
            Some(Workspace::unusable(
                RootSource::Client,
                "roots/list",
                reason,
            ))
        };
        match tokio::time::timeout(ROOTS_TIMEOUT, peer.list_roots()).await {
            Ok(Ok(listed)) => {
                let uris = listed.roots.iter().map(|root| root.uri.as_str());
                let workspace = Workspace::from_uris(uris, RootSource::Client);
                tracing::info!(roots = ?workspace.roots, refused = ?workspace.refused, "client roots");
                let mut cache = self.client_roots.lock().expect("roots lock");
                if cache.generation == generation {
                    cache.workspace = Some(workspace.clone());
                }
                Some(workspace)
            }
            Ok(Err(error)) => {
                unusable(format!("the client's answer to roots/list failed: {error}"))
            }
            Err(_) => unusable(format!(
                "the client did not answer roots/list within {} s",
                ROOTS_TIMEOUT.as_secs()
            )),
        }
    }

    /// For a client of the tasks extension, run a call that starts work as an MCP
    /// task: answered at once with the task, polled with tasks/get, cancelled with
    /// tasks/cancel.
    async fn start_mcp_task(
        &self,
        call: ToolCall,
        runner: Arc<TaskRunner>,
        peer: &Peer<RoleServer>,
    ) -> CallToolResponse {
        let workspace = self.workspace_for(&call, &runner, peer).await;
        let max_output_chars = self.max_output_chars;
        let id = format!("mcp_{}", &new_task_id()[4..]);
        let seed = handles::seed(id, TASK_POLL, "Sending the task to Handinger");
        let task = self.handles.spawn(seed, move |context| async move {
            let cancel = CancellationToken::new();
            let mut progress = HandleStatusProgress(context.clone());
            let run = call.run(
                &runner,
                workspace,
                Some(NO_DEADLINE),
                &cancel,
                &mut progress,
            );
            tokio::pin!(run);
            let outcome = tokio::select! {
                outcome = &mut run => outcome,
                _ = context.cancelled() => {
                    cancel.cancel();
                    run.await
                }
            };
            match outcome {
                Err(TaskError {
                    failure: TaskFailure::Cancelled,
                    ..
                }) => Settled::Cancelled,
                Ok(outcome) => Settled::Completed {
                    handinger_task_id: Some(outcome_task_id(&outcome).to_owned()),
                    result: tool_result(
                        render_call(&outcome, max_output_chars, &mcp_wording),
                        true,
                    ),
                },
                Err(error) => Settled::Completed {
                    handinger_task_id: error.task_id.clone(),
                    result: tool_error(&error),
                },
            }
        });
        tracing::info!(mcp_task = task.task_id, "call runs under a task handle");
        CallToolResponse::Task(CreateTaskResult::new(task))
    }

    /// A `tools/call`, boxed by [`ServerHandler::call_tool`].
    async fn answer_call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(spec) = tools::by_name(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool {:?}", request.name),
                None,
            ));
        };
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let call = match ToolCall::parse(spec.id, arguments) {
            Ok(call) => call,
            Err(error) => {
                let message = format!("Invalid arguments for {}: {error}.", spec.name);
                return Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into());
            }
        };
        // Only a request that opts in itself gets a task (the extension forbids a
        // task for a request that did not include the extension capability, in
        // every protocol era, whatever the client declared at initialize).
        let wants_task = context
            .meta
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.supports_tasks());
        let mut call = call;
        let answers = confirm::Answers {
            input_responses: request.input_responses,
            request_state: request.request_state,
        };
        if let Some(not_yet) = Box::pin(self.confirm_budget(&mut call, answers, &context)).await {
            return Ok(not_yet);
        }
        let touches_history = call.touches_history();
        let peer = context.peer.clone();
        let response = if wants_task && call.starts_work() {
            let runner = match self.runner_for(&context) {
                Ok(runner) => runner,
                Err(message) => {
                    return Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into());
                }
            };
            match self.calls {
                Calls::Local(_) => Box::pin(self.start_mcp_task(call, runner, &context.peer)).await,
                // Over HTTP a handle must be answerable by any replica.
                Calls::Shared(_) => {
                    Box::pin(self.start_stateless(call, &runner, &context.peer)).await
                }
            }
        } else {
            self.run(call, context).await.into()
        };
        // The journal changed: hosts that show resources list them again (stdio;
        // over HTTP there is no session to notify).
        // Sent before the answer: a client that leaves as soon as it has its
        // answer (the Python SDK's stdio client breaks on a later message) never
        // meets it after.
        if touches_history && matches!(self.calls, Calls::Local(_)) {
            let _ = Box::pin(peer.notify_resource_list_changed()).await;
        }
        Ok(response)
    }
}

/// rmcp allocates each request's future at the size of the largest handler
/// below, and a waiting call keeps it for minutes: every handler that awaits
/// something big boxes it, so a waiting call holds only its own state.
impl ServerHandler for HandingerServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = match self.calls {
            Calls::Local(_) => ServerCapabilities::builder()
                .enable_prompts()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_tools()
                .enable_tasks()
                .build(),
            Calls::Shared(_) => ServerCapabilities::builder()
                .enable_prompts()
                .enable_resources()
                .enable_tools()
                .enable_tasks()
                .build(),
        };
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "handinger-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(instructions())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(Self::tool_definitions()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::by_name(name).map(mcp_tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Box::pin(self.answer_call(request, context)).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let runner = self
            .runner_for(&context)
            .map_err(|message| ErrorData::internal_error(message, None))?;
        Ok(ListResourcesResult::with_all_items(
            Box::pin(catalog::resources(&runner)).await?,
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            catalog::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let runner = self
            .runner_for(&context)
            .map_err(|message| ErrorData::internal_error(message, None))?;
        let read = catalog::read(&runner, &request.uri, self.max_output_chars, &context.ct);
        let read = Box::pin(read).await?;
        Ok(read.into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(catalog::prompts()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let runner = self
            .runner_for(&context)
            .map_err(|message| ErrorData::internal_error(message, None))?;
        let arguments = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (name, text)
            })
            .collect();
        let (spec, messages) = Box::pin(catalog::prompt_messages(
            &runner,
            &request.name,
            arguments,
            self.max_output_chars,
            &context.ct,
        ))
        .await?;
        Ok(GetPromptResult::new(messages)
            .with_description(spec.description)
            .into())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        if let Some(handle) = crate::delegation::TurnId::decode(&request.task_id) {
            return Box::pin(self.get_stateless(handle, &context)).await;
        }
        let (task, handinger_task_id) = match self.handles.get(&request.task_id)? {
            Found::Ready(task) => return Ok(GetTaskResult::new(task)),
            Found::Evicted {
                task,
                handinger_task_id,
            } => (task, handinger_task_id),
        };
        // A result no longer kept whole: the API has it.
        let runner = self
            .runner_for(&context)
            .map_err(|message| ErrorData::internal_error(message, None))?;
        let outcome = Box::pin(runner.get(
            &handinger_task_id,
            std::time::Duration::ZERO,
            &context.ct,
            &mut Silent,
        ))
        .await;
        let result = self.result(&context.peer, outcome);
        let result = match serde_json::to_value(&result) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => rmcp::model::JsonObject::new(),
        };
        Ok(GetTaskResult::new(DetailedTask::new(
            task,
            TaskPayload::Completed { result },
        )))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if crate::delegation::TurnId::decode(&request.task_id).is_some() {
            // Nothing is asked of the client, so there is nothing to take.
            return Ok(());
        }
        self.handles.update(&request.task_id)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if let Some(handle) = crate::delegation::TurnId::decode(&request.task_id) {
            // Handinger has no cancel: the work goes on there, and tasks/get keeps
            // reporting it (SEP-2663 lets the status lag). Nothing here waits on it.
            tracing::info!(
                mcp_task = request.task_id,
                "tasks/cancel: Handinger task {} keeps running; nothing here tracks it",
                handle.task_id
            );
            return Ok(());
        }
        self.handles.cancel(&request.task_id)
    }

    /// rmcp hands a request of a known method whose params do not parse to this
    /// handler, as if the method were unknown. Say what is really wrong: -32602,
    /// with serde's reason for tools/call.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let method = request.method.as_str();
        if !MCP_REQUEST_METHODS.contains(&method) {
            return Err(ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                format!("unknown method {method}"),
                None,
            ));
        }
        let reason = match method {
            "tools/call" => request
                .params_as::<CallToolRequestParams>()
                .err()
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        Err(ErrorData::invalid_params(
            format!("the params of {method} do not match the MCP schema{reason}"),
            None,
        ))
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        tracing::info!("client roots changed");
        let mut cache = self.client_roots.lock().expect("roots lock");
        cache.workspace = None;
        cache.generation += 1;
    }
}

/// A failed call as a tool error, with its next step in MCP terms.
fn tool_error(error: &TaskError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(McpWording.describe(error))])
}

/// The MCP form of a rendered outcome: the text, then (when the client knows the
/// type) a `resource_link` per source and file, and the structured result.
fn tool_result(rendered: Rendered, with_links: bool) -> CallToolResult {
    let mut content = vec![ContentBlock::text(rendered.text)];
    if with_links {
        content.extend(rendered.links.into_iter().map(resource_link));
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(rendered.structured);
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
