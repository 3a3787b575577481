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
/// rotated without restarting the host. Its one setting is the key file: the key
/// itself is never a flag (process lists show flags), so `env_value` is read
/// from `HANDINGER_API_KEY` by the composition root.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Settings")]
pub struct KeySource {
    /// The value of `HANDINGER_API_KEY` (or of `header`, when set).
    #[arg(skip)]
    pub env_value: Option<ApiKey>,
    /// File holding the API key, used when HANDINGER_API_KEY is unset; read on
    /// each call (server, command line).
    #[arg(
        id = "api_key_file",
        long = "api-key-file",
        env = "HANDINGER_API_KEY_FILE",
        value_name = "PATH",
        global = true
    )]
    pub file: Option<PathBuf>,
    /// The HTTP header the key came in, for a client's own key over HTTP.
    #[arg(skip)]
    pub header: Option<&'static str>,
}

/// Where a key came from, named in every message about it, so the advice fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `HANDINGER_API_KEY` in the server's environment.
    Environment,
    /// A key file (`--api-key-file` / `HANDINGER_API_KEY_FILE`).
    File(PathBuf),
    /// An HTTP header a client sent (`Handinger-Api-Key`).
    Header(&'static str),
}

impl KeyOrigin {
    /// What to do about a key the API refused, from where it came.
    pub fn refused_advice(&self) -> String {
        match self {
            KeyOrigin::Environment => "It came from HANDINGER_API_KEY in the server's \
                environment: set it to a current key where the server is started, then start \
                the server again."
                .to_owned(),
            KeyOrigin::File(path) => format!(
                "It came from the key file {} (--api-key-file / HANDINGER_API_KEY_FILE): put a \
                 current key there; the file is read on every call, so no restart is needed.",
                path.display()
            ),
            KeyOrigin::Header(header) => format!(
                "It came from the {header} header your client sent: set that header to a \
                 current key in your MCP host's config for this server."
            ),
        }
    }
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
    /// The host passed its placeholder through as text (`${VAR}`): the variable
    /// it names is not set where the host runs, or the host expands none.
    #[error(
        "{} holds the literal text {text:?}: the host did not replace it, which means the \
         variable it names is not set in the environment the host was started from (or this \
         host does not expand variables). Set that variable there and restart the host, or \
         point HANDINGER_API_KEY_FILE / --api-key-file at a file outside any project. Do not \
         write the key itself into a project's config file: those are often committed.",
        .header.map_or_else(|| "HANDINGER_API_KEY".to_owned(), |h| format!("The {h} header"))
    )]
    Unexpanded {
        text: String,
        header: Option<&'static str>,
    },
    /// The key file could not be read.
    #[error("The API key file {} could not be read ({reason}). {HOW}", .path.display())]
    FileUnreadable { path: PathBuf, reason: String },
    /// The key file is empty.
    #[error("The API key file {} is empty. {HOW}", .0.display())]
    FileEmpty(PathBuf),
}

impl KeySource {
    /// Where the key comes from, when one is configured.
    pub fn origin(&self) -> Option<KeyOrigin> {
        match (&self.env_value, self.header, &self.file) {
            (Some(_), Some(header), _) => Some(KeyOrigin::Header(header)),
            (Some(_), None, _) => Some(KeyOrigin::Environment),
            (None, _, Some(path)) => Some(KeyOrigin::File(path.clone())),
            (None, _, None) => None,
        }
    }

    /// The key to use for the next request.
    pub fn resolve(&self) -> Result<ApiKey, KeyProblem> {
        if let Some(key) = &self.env_value {
            return if looks_unexpanded(key.expose()) {
                Err(KeyProblem::Unexpanded {
                    text: key.expose().to_owned(),
                    header: self.header,
                })
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
