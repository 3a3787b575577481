//! The LSP messages' params this mode reads, as types: a malformed one is an
//! "invalid params" error with serde's reason, never a silent default.

use serde::Deserialize;
use serde_json::Value;

/// A folder an editor has open.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkspaceFolder {
    pub uri: String,
}

/// `initialize`: where the editor's folders are. Newer editors send
/// `workspaceFolders`; older ones `rootUri` or, older still, `rootPath`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    #[serde(default)]
    pub workspace_folders: Option<Vec<WorkspaceFolder>>,
    #[serde(default)]
    pub root_uri: Option<String>,
    #[serde(default)]
    pub root_path: Option<String>,
}

/// `workspace/executeCommand`: a tool's LSP command and its one argument object.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteCommandParams {
    pub command: String,
    #[serde(default)]
    pub arguments: Vec<Value>,
    /// A token for `$/progress` work-done reports (a number or a string).
    #[serde(default)]
    pub work_done_token: Option<ProgressToken>,
}

/// A progress token: LSP allows a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum ProgressToken {
    Number(i64),
    Text(String),
}

/// `$/cancelRequest`.
#[derive(Debug, Clone, Deserialize)]
pub struct CancelParams {
    pub id: Value,
}

/// `window/workDoneProgress/cancel`: the cancel button of a progress report.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkDoneProgressCancelParams {
    pub token: ProgressToken,
}

/// `workspace/didChangeWorkspaceFolders`.
#[derive(Debug, Clone, Deserialize)]
pub struct DidChangeWorkspaceFoldersParams {
    pub event: WorkspaceFoldersChange,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkspaceFoldersChange {
    #[serde(default)]
    pub added: Vec<WorkspaceFolder>,
    #[serde(default)]
    pub removed: Vec<WorkspaceFolder>,
}

/// Read `params` as `P`; `null` or absent params read as `P`'s empty object.
pub fn read<P: serde::de::DeserializeOwned>(params: Value) -> Result<P, serde_json::Error> {
    let params = if params.is_null() {
        Value::Object(Default::default())
    } else {
        params
    };
    serde_json::from_value(params)
}
