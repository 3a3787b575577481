//! The path policy: which files a call may attach, checked before anything is sent.
//!
//! Paths resolve against the workspace's first root. Each file is opened once,
//! beneath its root's directory handle, following no symlink at any component
//! ([`open::open_beneath`]); every check (regular file, size, link count) is made on
//! the open handle, and the bytes sent are read from that handle. A workspace can
//! have no usable root (a client that declared roots but offered none that work):
//! then nothing can be attached, and nothing falls back to another folder.

mod inline;
mod open;

use clap::{ArgAction, builder::BoolishValueParser};

use crate::units::{human_size, size_setting};
pub use inline::{InlineFile, attach_inline};
use open::{OpenFailure, open_beneath};
use std::{
    fmt,
    fs::File,
    path::{Component, Path, PathBuf},
};

/// Where the workspace roots came from; named in every error, because desktop hosts
/// start servers in `/` or `$HOME` and users need to see which base was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSource {
    /// The MCP client's roots (or an editor's workspace folders).
    Client,
    /// `--workspace` / `HANDINGER_WORKSPACE`.
    Configured,
    /// The server process's working directory.
    WorkingDirectory,
}

impl fmt::Display for RootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RootSource::Client => "the client's workspace roots",
            RootSource::Configured => {
                "the configured workspace (--workspace / HANDINGER_WORKSPACE)"
            }
            RootSource::WorkingDirectory => "the server's working directory",
        })
    }
}

/// A root that was offered but cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRoot {
    pub offered: String,
    pub reason: String,
}

/// The folders a call may attach files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Canonical root folders; relative paths resolve against the first. Empty
    /// when nothing usable was offered: then every attachment is refused.
    pub roots: Vec<PathBuf>,
    pub source: RootSource,
    /// What was offered and could not be used, for the refusal message.
    pub refused: Vec<RefusedRoot>,
    /// Why this source was used in place of another (the client's roots list was
    /// empty, say), added to every refusal so nobody has to guess.
    pub note: Option<String>,
}

/// Limits on what one call may attach; also their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Settings")]
pub struct AttachLimits {
    /// Largest file one call may attach, in bytes or with KiB/MiB/GiB (server,
    /// command line).
    #[arg(id = "max_file_size", long = "max-file-size", env = "HANDINGER_MAX_FILE_SIZE",
          value_name = "SIZE", default_value = "2GiB", value_parser = size_setting, global = true)]
    pub max_file_bytes: u64,
    /// Largest total of the files one call may attach (server, command line).
    #[arg(id = "max_total_size", long = "max-total-size", env = "HANDINGER_MAX_TOTAL_SIZE",
          value_name = "SIZE", default_value = "4GiB", value_parser = size_setting, global = true)]
    pub max_total_bytes: u64,
    /// Most files one call may attach (server, command line).
    #[arg(
        long,
        env = "HANDINGER_MAX_FILES",
        value_name = "N",
        default_value = "20",
        global = true
    )]
    pub max_files: usize,
    /// Attach files with more than one hard link; refused by default, because
    /// another link to the same file may be outside the workspace (server,
    /// command line).
    #[arg(long, env = "HANDINGER_ALLOW_HARD_LINKS", value_name = "BOOL", default_value = "false",
          value_parser = BoolishValueParser::new(), action = ArgAction::Set, global = true)]
    pub allow_hard_links: bool,
}

/// Where files may come from when the client names no folder: the settings.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Settings")]
pub struct WorkspaceSettings {
    /// Folder files may be attached from, when the client sends no usable MCP
    /// roots; repeatable, or several in the environment separated by ':' (';' on
    /// Windows). Default: the working directory, see --cwd-workspace (server,
    /// command line).
    #[arg(long, env = "HANDINGER_WORKSPACE", value_name = "DIR", global = true)]
    pub workspace: Vec<PathBuf>,
    /// Let a server without --workspace, whose client sends no roots, attach from
    /// its working directory; never when that is /, the home folder or above it
    /// (server).
    #[arg(long, env = "HANDINGER_CWD_WORKSPACE", value_name = "BOOL", default_value = "true",
          value_parser = BoolishValueParser::new(), action = ArgAction::Set, global = true)]
    pub cwd_workspace: bool,
}

/// Who chose the working directory, which decides whether it may serve as the
/// workspace when none is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkingDirectory {
    /// The person typing the command and its paths: always.
    Typed,
    /// A host that started a server: only when it is not `/`, the home folder or
    /// above it, and only with `--cwd-workspace` on.
    #[default]
    Implicit,
}

impl WorkspaceSettings {
    /// The configured folders (empty ones, as an unset variable leaves, dropped).
    pub fn folders(&self) -> Vec<PathBuf> {
        self.workspace
            .iter()
            .filter(|p| !p.as_os_str().is_empty())
            .cloned()
            .collect()
    }

    /// Only the configured folders, or `None`: over HTTP the working directory is
    /// never a default.
    pub fn configured(&self) -> Option<Workspace> {
        let folders = self.folders();
        (!folders.is_empty()).then(|| Workspace::new(&folders, RootSource::Configured))
    }

    /// The configured folders, or the working directory when none is configured.
    /// A configured folder that does not exist is not replaced by the working
    /// directory: attaching then fails and says why.
    pub fn workspace(&self, cwd: WorkingDirectory) -> Workspace {
        if let Some(configured) = self.configured() {
            return configured;
        }
        match cwd {
            WorkingDirectory::Typed => Workspace::working_directory(),
            WorkingDirectory::Implicit if self.cwd_workspace => {
                Workspace::guarded_working_directory()
            }
            WorkingDirectory::Implicit => Workspace::unusable(
                RootSource::WorkingDirectory,
                ".",
                "no workspace is configured, and --cwd-workspace false keeps the working \
                 directory from serving as one"
                    .to_owned(),
            ),
        }
    }
}

/// A checked file, open and ready to stream.
#[derive(Debug)]
pub struct Attachment {
    /// The path as the caller gave it, for messages.
    pub given: String,
    /// Where the file is: its root joined with the checked relative path.
    pub path: PathBuf,
    /// The base name sent as the part's filename.
    pub file_name: String,
    pub content_type: String,
    /// The size checked on the open handle; the upload must be exactly this long.
    pub len: u64,
    pub file: File,
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    Empty,
    EscapesWithDotDot,
    OutsideWorkspace,
    /// The path is, or passes through, a symbolic link; links are never followed.
    Symlink,
    NotFound,
    Unreadable(String),
    Directory,
    NotRegular(&'static str),
    TooLarge {
        len: u64,
        limit: u64,
    },
    DuplicateName {
        other: String,
    },
    /// The file has other hard links, any of which may be outside the workspace:
    /// a link is the same file as its target, so the workspace would not bound it.
    HardLinked {
        links: u64,
    },
}

/// A refused attachment or set of attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachError {
    /// One path is unacceptable.
    Path {
        given: String,
        resolved: Option<PathBuf>,
        base: PathBuf,
        source: RootSource,
        problem: PathProblem,
        note: Option<Box<str>>,
    },
    /// The workspace has no usable root, so nothing may be attached.
    NoUsableRoot {
        source: RootSource,
        refused: Vec<RefusedRoot>,
        note: Option<String>,
    },
    TooMany {
        count: usize,
        limit: usize,
    },
    TotalTooLarge {
        total: u64,
        limit: u64,
    },
    /// A file sent inline (as bytes) is unacceptable.
    Inline {
        name: String,
        problem: String,
    },
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Empty => write!(f, "the path is empty"),
            PathProblem::EscapesWithDotDot => write!(f, "`..` leads out of the workspace"),
            PathProblem::OutsideWorkspace => write!(f, "it is outside the workspace"),
            PathProblem::Symlink => write!(
                f,
                "it is, or passes through, a symbolic link, and links are not followed; \
                 attach the file by its real path inside the workspace"
            ),
            PathProblem::NotFound => write!(f, "no such file"),
            PathProblem::Unreadable(reason) => write!(f, "it cannot be read ({reason})"),
            PathProblem::Directory => {
                write!(f, "it is a directory; attach the files in it one by one")
            }
            PathProblem::NotRegular(kind) => write!(f, "it is a {kind}, not a regular file"),
            PathProblem::TooLarge { len, limit } => write!(
                f,
                "it is {}, over the per-file limit of {} (--max-file-size)",
                human_size(*len),
                human_size(*limit)
            ),
            PathProblem::DuplicateName { other } => write!(
                f,
                "{other:?} has the same file name, and the worker sees files by name only; \
                 rename or copy one of them"
            ),
            PathProblem::HardLinked { links } => write!(
                f,
                "it has {links} hard links, and another of them may be outside the workspace; \
                 attach a copy, or start the server with --allow-hard-links true"
            ),
        }
    }
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::TooMany { count, limit } => write!(
                f,
                "Too many files: {count} given, at most {limit} per call (--max-files)."
            ),
            AttachError::Inline { name, problem } => {
                write!(
                    f,
                    "The file {name:?} sent inline cannot be attached: {problem}."
                )
            }
            AttachError::TotalTooLarge { total, limit } => write!(
                f,
                "The files total at least {}, over the per-call limit of {} (--max-total-size).",
                human_size(*total),
                human_size(*limit)
            ),
            AttachError::NoUsableRoot {
                source,
                refused,
                note,
            } => {
                write!(f, "Cannot attach files: {source} offer no usable folder")?;
                if refused.is_empty() {
                    write!(f, " (none was offered)")?;
                } else {
                    let list: Vec<String> = refused
                        .iter()
                        .map(|r| format!("{:?}: {}", r.offered, r.reason))
                        .collect();
                    write!(f, " ({})", list.join("; "))?;
                }
                if let Some(note) = note {
                    write!(f, "; {note}")?;
                }
                f.write_str(match source {
                    RootSource::Client => {
                        ". Files are attached only from the workspace the client names: open a \
                         folder (a workspace root) in the client, or start the server with a \
                         workspace of its own (\"--workspace\", \"/path/to/project\" in the \
                         args of this server's entry in the host's config), then call again."
                    }
                    RootSource::Configured => {
                        ". Set --workspace (or HANDINGER_WORKSPACE) to an existing folder where \
                         the server runs, then restart the server."
                    }
                    RootSource::WorkingDirectory => {
                        ". Give the server a workspace: in an MCP host's config add \
                         \"--workspace\", \"/path/to/project\" to the args of this server's \
                         entry (or set HANDINGER_WORKSPACE in its env) and restart it; in an \
                         editor, open a folder. Then call again."
                    }
                })
            }
            AttachError::Path {
                given,
                resolved,
                base,
                source,
                problem,
                note,
            } => {
                write!(f, "Cannot attach {given:?}")?;
                if let Some(resolved) = resolved
                    .as_ref()
                    .filter(|r| r.as_os_str() != given.as_str())
                {
                    write!(f, " (resolved to {})", resolved.display())?;
                }
                write!(
                    f,
                    ": {problem}. Relative paths resolve against {} ({source}",
                    base.display()
                )?;
                match note {
                    Some(note) => write!(f, "; {note})."),
                    None => write!(f, ")."),
                }
            }
        }
    }
}

impl std::error::Error for AttachError {}

impl Workspace {
    /// A workspace of `roots`, made canonical; a root that is missing or not a
    /// folder is kept in [`Workspace::refused`] with the reason.
    pub fn new(roots: &[PathBuf], source: RootSource) -> Self {
        let mut workspace = Self::empty(source);
        for root in roots {
            workspace.add_root(root, root.display().to_string());
        }
        workspace
    }

    /// A workspace of the roots an MCP client or an editor offered as URIs. Only
    /// local `file:` folders are usable; every other one is refused with a reason.
    pub fn from_uris<'a>(uris: impl IntoIterator<Item = &'a str>, source: RootSource) -> Self {
        let mut workspace = Self::empty(source);
        for uri in uris {
            match file_uri_to_path(uri) {
                Ok(path) => workspace.add_root(&path, uri.to_owned()),
                Err(reason) => workspace.refused.push(RefusedRoot {
                    offered: uri.to_owned(),
                    reason,
                }),
            }
        }
        workspace
    }

    /// A workspace with no usable root, saying why.
    pub fn unusable(source: RootSource, offered: &str, reason: String) -> Self {
        let mut workspace = Self::empty(source);
        workspace.refused.push(RefusedRoot {
            offered: offered.to_owned(),
            reason,
        });
        workspace
    }

    fn empty(source: RootSource) -> Self {
        Self {
            roots: Vec::new(),
            source,
            refused: Vec::new(),
            note: None,
        }
    }

    /// The same workspace, with why it was chosen (named in every refusal).
    pub fn with_note(mut self, note: String) -> Self {
        self.note = Some(note);
        self
    }

    fn add_root(&mut self, root: &Path, offered: String) {
        let refuse = |reason: String| RefusedRoot {
            offered: offered.clone(),
            reason,
        };
        match root.canonicalize() {
            Ok(path) if path.is_dir() => {
                if !self.roots.contains(&path) {
                    self.roots.push(path);
                }
            }
            Ok(_) => self.refused.push(refuse("not a folder".to_owned())),
            Err(error) => self
                .refused
                .push(refuse(format!("unusable folder: {error}"))),
        }
    }

    /// The process's working directory, whatever it is: for the command line,
    /// where the person typing the paths chose it.
    pub fn working_directory() -> Self {
        match std::env::current_dir() {
            Ok(cwd) => Self::new(&[cwd], RootSource::WorkingDirectory),
            Err(error) => Self::unusable(
                RootSource::WorkingDirectory,
                ".",
                format!("the working directory cannot be read: {error}"),
            ),
        }
    }

    /// The server's working directory as an implicit workspace (no workspace
    /// configured, no roots from the client), unless it would open the whole disk:
    /// desktop hosts start servers in `/` or the home folder, so those, and any
    /// folder above home, are never used.
    pub fn guarded_working_directory() -> Self {
        let workspace = Self::working_directory();
        let home = home_folder().and_then(|home| home.canonicalize().ok());
        let Some(cwd) = workspace.roots.first() else {
            return workspace;
        };
        let why = if cwd.parent().is_none() {
            Some("the file-system root")
        } else if home.as_deref() == Some(cwd.as_path()) {
            Some("the home folder")
        } else if home.as_deref().is_some_and(|home| home.starts_with(cwd)) {
            Some("a folder that holds the home folder")
        } else {
            None
        };
        match why {
            Some(why) => Self::unusable(
                RootSource::WorkingDirectory,
                &cwd.display().to_string(),
                format!(
                    "it is {why}, and no workspace was set, so it is not used: that would make \
                     every file below it attachable"
                ),
            ),
            None => workspace,
        }
    }

    /// This workspace (a client's), or `configured` when this one has no usable
    /// folder and `configured` was set explicitly (`--workspace`): a client that
    /// declares roots but offers none usable (an empty list, say) fails closed
    /// unless the user named a folder. Either way every refusal says why.
    pub fn or_configured(self, configured: &Workspace) -> Workspace {
        if !self.roots.is_empty() {
            return self;
        }
        let offered = if self.refused.is_empty() {
            "offered no folder".to_owned()
        } else {
            let list: Vec<&str> = self.refused.iter().map(|r| r.offered.as_str()).collect();
            format!("offered none usable ({})", list.join(", "))
        };
        if configured.source == RootSource::Configured && !configured.roots.is_empty() {
            configured
                .clone()
                .with_note(format!("used because {} {offered}", self.source))
        } else {
            self.with_note(
                "no workspace is configured (--workspace), so no other folder is used".to_owned(),
            )
        }
    }

    /// The folder relative paths resolve against, when there is one.
    pub fn base(&self) -> Option<&Path> {
        self.roots.first().map(PathBuf::as_path)
    }

    /// Check every path and open the files; refuse the whole set on the first
    /// problem. This does blocking file-system work: call it off the async threads.
    pub fn attach(
        &self,
        paths: &[String],
        limits: AttachLimits,
    ) -> Result<Vec<Attachment>, AttachError> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let Some(base) = self.base() else {
            return Err(AttachError::NoUsableRoot {
                source: self.source,
                refused: self.refused.clone(),
                note: self.note.clone(),
            });
        };
        if paths.len() > limits.max_files {
            return Err(AttachError::TooMany {
                count: paths.len(),
                limit: limits.max_files,
            });
        }
        let mut attachments: Vec<Attachment> = Vec::with_capacity(paths.len());
        let mut total = 0u64;
        for given in paths {
            let attachment = self.check(base, given, limits)?;
            if let Some(other) = attachments
                .iter()
                .find(|a| a.file_name == attachment.file_name)
            {
                return Err(self.refuse(
                    base,
                    given,
                    Some(attachment.path),
                    PathProblem::DuplicateName {
                        other: other.given.clone(),
                    },
                ));
            }
            total = total.saturating_add(attachment.len);
            if total > limits.max_total_bytes {
                return Err(AttachError::TotalTooLarge {
                    total,
                    limit: limits.max_total_bytes,
                });
            }
            attachments.push(attachment);
        }
        Ok(attachments)
    }

    fn refuse(
        &self,
        base: &Path,
        given: &str,
        resolved: Option<PathBuf>,
        problem: PathProblem,
    ) -> AttachError {
        AttachError::Path {
            given: given.to_owned(),
            resolved,
            base: base.to_owned(),
            source: self.source,
            problem,
            note: self.note.as_deref().map(Box::from),
        }
    }

    /// The root a path falls in and the path relative to it, both free of `.`
    /// and `..`.
    fn locate(&self, base: &Path, raw: &Path) -> Result<(PathBuf, PathBuf), PathProblem> {
        let climbs = raw.components().any(|c| c == Component::ParentDir);
        let Some(absolute) = normalize(&base.join(raw)) else {
            return Err(PathProblem::EscapesWithDotDot);
        };
        let found = self.roots.iter().find_map(|root| {
            absolute
                .strip_prefix(root)
                .ok()
                .map(|rel| (root.clone(), rel.to_owned()))
        });
        match found {
            Some(found) => Ok(found),
            None if climbs => Err(PathProblem::EscapesWithDotDot),
            None => Err(PathProblem::OutsideWorkspace),
        }
    }

    fn check(
        &self,
        base: &Path,
        given: &str,
        limits: AttachLimits,
    ) -> Result<Attachment, AttachError> {
        let trimmed = given.trim();
        let raw = if trimmed.starts_with("file:") {
            file_uri_to_path(trimmed).unwrap_or_else(|_| PathBuf::from(trimmed))
        } else {
            PathBuf::from(trimmed)
        };
        if raw.as_os_str().is_empty() {
            return Err(self.refuse(base, given, None, PathProblem::Empty));
        }
        let (root, relative) = self
            .locate(base, &raw)
            .map_err(|problem| self.refuse(base, given, None, problem))?;
        let path = root.join(&relative);
        let refuse = |problem| self.refuse(base, given, Some(path.clone()), problem);
        if relative.as_os_str().is_empty() {
            return Err(refuse(PathProblem::Directory));
        }
        let file = open_beneath(&root, &relative).map_err(|failure| {
            refuse(match failure {
                OpenFailure::NotFound => PathProblem::NotFound,
                OpenFailure::Symlink => PathProblem::Symlink,
                OpenFailure::Escapes => PathProblem::OutsideWorkspace,
                OpenFailure::Socket => PathProblem::NotRegular("socket"),
                OpenFailure::Other(reason) => PathProblem::Unreadable(reason),
            })
        })?;
        // Every check from here on is made on the open handle (fstat).
        let meta = file
            .metadata()
            .map_err(|e| refuse(PathProblem::Unreadable(e.to_string())))?;
        if meta.is_dir() {
            return Err(refuse(PathProblem::Directory));
        }
        if !meta.is_file() {
            return Err(refuse(PathProblem::NotRegular(file_kind(&meta))));
        }
        let links = link_count(&meta);
        if links > 1 && !limits.allow_hard_links {
            return Err(refuse(PathProblem::HardLinked { links }));
        }
        if meta.len() > limits.max_file_bytes {
            return Err(refuse(PathProblem::TooLarge {
                len: meta.len(),
                limit: limits.max_file_bytes,
            }));
        }
        let file_name = relative
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        Ok(Attachment {
            given: given.to_owned(),
            content_type: content_type_for(&file_name),
            file_name,
            len: meta.len(),
            path,
            file,
        })
    }
}

/// The local path of a `file://` URI (as MCP roots and LSP workspace folders give
/// them), percent-decoded, with Windows drive letters; otherwise why it names no
/// local folder.
pub fn file_uri_to_path(uri: &str) -> Result<PathBuf, String> {
    let url = url::Url::parse(uri.trim()).map_err(|_| "not a URI".to_owned())?;
    if url.scheme() != "file" {
        return Err(format!("a {}: URI, not a local file: folder", url.scheme()));
    }
    match url.host_str() {
        None | Some("") => {}
        Some(host) if host.eq_ignore_ascii_case("localhost") => {}
        Some(host) => {
            return Err(format!(
                "a folder on another host ({host}), not on this machine"
            ));
        }
    }
    let path = url
        .to_file_path()
        .map_err(|()| "a file: URI that names no local path".to_owned())?;
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err("a path with a NUL byte".to_owned());
    }
    Ok(path)
}

/// The user's home folder, from the environment (HOME; USERPROFILE on Windows).
fn home_folder() -> Option<PathBuf> {
    ["HOME", "USERPROFILE"]
        .iter()
        .filter_map(std::env::var_os)
        .find(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// `path` with `.` and `..` folded away, without touching the file system; `None`
/// when `..` climbs above the file-system root. Folding is safe because no symlink
/// is ever followed when the result is opened.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(unix)]
fn link_count(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn link_count(_: &std::fs::Metadata) -> u64 {
    1
}

#[cfg(unix)]
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        "FIFO (named pipe)"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn file_kind(_: &std::fs::Metadata) -> &'static str {
    "special file"
}

/// The media type for a file name, by extension; `application/octet-stream` otherwise.
pub fn content_type_for(file_name: &str) -> String {
    mime_guess::from_path(file_name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
}

#[cfg(all(test, target_os = "linux"))]
mod swap_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: AttachLimits = AttachLimits {
        max_file_bytes: 1 << 20,
        max_total_bytes: 1 << 20,
        max_files: 10,
        allow_hard_links: false,
    };

    #[test]
    fn normalize_folds_dots_and_stops_at_root() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            Some(PathBuf::from("/a/c/d"))
        );
        assert_eq!(normalize(Path::new("/a/../..")), None);
    }

    #[test]
    fn file_uris_become_paths_or_say_why_not() {
        assert_eq!(
            file_uri_to_path("file:///home/me/My%20Project"),
            Ok(PathBuf::from("/home/me/My Project"))
        );
        assert_eq!(
            file_uri_to_path("file://localhost/tmp"),
            Ok(PathBuf::from("/tmp"))
        );
        assert_eq!(file_uri_to_path("file:///a%2"), Ok(PathBuf::from("/a%2")));
        let why = |uri| file_uri_to_path(uri).unwrap_err();
        assert!(why("https://example.com/x").contains("https: URI"));
        assert!(why("file://otherhost/srv").contains("another host (otherhost)"));
        assert!(why("file:///a%00b").contains("NUL"));
    }

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type_for("data.csv"), "text/csv");
        assert_eq!(content_type_for("report.pdf"), "application/pdf");
        assert_eq!(content_type_for("notes.md"), "text/markdown");
        assert_eq!(content_type_for("blob.xyz123"), "application/octet-stream");
        assert_eq!(content_type_for("Makefile"), "application/octet-stream");
    }

    #[test]
    fn a_workspace_without_usable_roots_attaches_nothing_and_lists_what_was_offered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "x").unwrap();
        let missing = dir.path().join("gone");
        let ws = Workspace::from_uris(
            [
                "https://example.com/repo",
                "file://otherhost/srv",
                format!("file://{}", missing.display()).as_str(),
            ],
            RootSource::Client,
        );
        assert!(ws.roots.is_empty());
        // Even an absolute path to an existing file is refused: nothing falls back.
        let given = dir.path().join("a.txt").display().to_string();
        let error = ws.attach(&[given], LIMITS).unwrap_err().to_string();
        for needle in ["https: URI", "another host", "gone", "no usable folder"] {
            assert!(error.contains(needle), "{needle:?} not in {error}");
        }
        let none = Workspace::from_uris([], RootSource::Client);
        let error = none.attach(&["a.txt".into()], LIMITS).unwrap_err();
        assert!(error.to_string().contains("none was offered"), "{error}");
        // A call without files needs no root.
        assert!(none.attach(&[], LIMITS).unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn hard_links_are_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("outside.txt"), "secret").unwrap();
        std::fs::hard_link(dir.path().join("outside.txt"), root.join("inside.txt")).unwrap();
        let ws = Workspace::new(std::slice::from_ref(&root), RootSource::Configured);
        let error = ws.attach(&["inside.txt".into()], LIMITS).unwrap_err();
        assert!(error.to_string().contains("2 hard links"), "{error}");
        let allowed = AttachLimits {
            allow_hard_links: true,
            ..LIMITS
        };
        assert_eq!(
            ws.attach(&["inside.txt".into()], allowed).unwrap()[0].len,
            6
        );
    }
}
