//! The API key and where it comes from. A leaf: the settings read it, the HTTP
//! client sends it, and nothing prints it.

use std::{fmt, path::PathBuf};

/// The API key, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> Self {
        Self(key)
    }

    /// The raw key, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where the API key comes from. Resolved per call, so a key file can be fixed or
/// rotated without restarting the host.
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    /// The value of `HANDINGER_API_KEY`, if set.
    pub env_value: Option<ApiKey>,
    pub file: Option<PathBuf>,
}

/// How to set the key, in every front-end's terms (each adds where its
/// configuration lives).
const HOW: &str = "Set HANDINGER_API_KEY in the server's environment (keys look like \
    hdg_live_...), or point HANDINGER_API_KEY_FILE / --api-key-file at a file that holds the \
    key.";

/// Why no API key could be had; rendered as an actionable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// Neither the variable nor a key file is set.
    #[error("No Handinger API key is configured. {HOW}")]
    NotSet,
    /// The host passed a literal `${...}` because it does not expand variables.
    #[error(
        "HANDINGER_API_KEY holds the literal text {0:?}: this host does not expand variables in \
         its config. Put the key itself there, or use a key file. {HOW}"
    )]
    Unexpanded(String),
    /// The key file could not be read.
    #[error("The API key file {} could not be read ({reason}). {HOW}", .path.display())]
    FileUnreadable { path: PathBuf, reason: String },
    /// The key file is empty.
    #[error("The API key file {} is empty. {HOW}", .0.display())]
    FileEmpty(PathBuf),
}

impl KeySource {
    /// The key to use for the next request.
    pub fn resolve(&self) -> Result<ApiKey, KeyProblem> {
        if let Some(key) = &self.env_value {
            return if looks_unexpanded(key.expose()) {
                Err(KeyProblem::Unexpanded(key.expose().to_owned()))
            } else {
                Ok(key.clone())
            };
        }
        let Some(path) = &self.file else {
            return Err(KeyProblem::NotSet);
        };
        let text = std::fs::read_to_string(path).map_err(|e| KeyProblem::FileUnreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let key = text.trim();
        if key.is_empty() {
            return Err(KeyProblem::FileEmpty(path.clone()));
        }
        Ok(ApiKey(key.to_owned()))
    }
}

/// A host's placeholder passed through as text (`${VAR}`, `${env:VAR}`, `{env:VAR}`).
pub fn looks_unexpanded(value: &str) -> bool {
    value.starts_with("${") || value.starts_with("$env:") || value.starts_with("{env:")
}
