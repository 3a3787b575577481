//! The path policy: which files a call may attach, checked before anything is sent.
//!
//! Paths resolve against the workspace's first root; a path must stay inside one of
//! the roots after symlinks are followed, name a regular readable file, and fit the
//! size limits. The checked file stays open, so what is sent is what was checked.

use crate::render::human_size;
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

/// The folders a call may attach files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Canonical root folders; relative paths resolve against the first.
    pub roots: Vec<PathBuf>,
    pub source: RootSource,
}

/// Limits on what one call may attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachLimits {
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_files: usize,
}

/// A checked file, open and ready to stream.
#[derive(Debug)]
pub struct Attachment {
    /// The path as the caller gave it, for messages.
    pub given: String,
    /// The canonical path.
    pub path: PathBuf,
    /// The base name sent as the part's filename.
    pub file_name: String,
    pub content_type: String,
    /// The size checked before sending; the upload must be exactly this long.
    pub len: u64,
    pub file: File,
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    Empty,
    EscapesWithDotDot,
    OutsideWorkspace,
    SymlinkOutside { target: PathBuf },
    NotFound,
    Unreadable(String),
    Directory,
    NotRegular(&'static str),
    TooLarge { len: u64, limit: u64 },
    DuplicateName { other: String },
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
    },
    TooMany {
        count: usize,
        limit: usize,
    },
    TotalTooLarge {
        total: u64,
        limit: u64,
    },
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::TooMany { count, limit } => write!(
                f,
                "Too many files: {count} given, at most {limit} per call (--max-files)."
            ),
            AttachError::TotalTooLarge { total, limit } => write!(
                f,
                "The files total at least {}, over the per-call limit of {} (--max-total-size).",
                human_size(*total),
                human_size(*limit)
            ),
            AttachError::Path {
                given,
                resolved,
                base,
                source,
                problem,
            } => {
                write!(f, "Cannot attach {given:?}")?;
                if let Some(resolved) = resolved
                    .as_ref()
                    .filter(|r| r.as_os_str() != given.as_str())
                {
                    write!(f, " (resolved to {})", resolved.display())?;
                }
                write!(f, ": ")?;
                match problem {
                    PathProblem::Empty => write!(f, "the path is empty"),
                    PathProblem::EscapesWithDotDot => write!(f, "`..` leads out of the workspace"),
                    PathProblem::OutsideWorkspace => write!(f, "it is outside the workspace"),
                    PathProblem::SymlinkOutside { target } => write!(
                        f,
                        "it is a symlink to {}, outside the workspace",
                        target.display()
                    ),
                    PathProblem::NotFound => write!(f, "no such file"),
                    PathProblem::Unreadable(reason) => write!(f, "it cannot be read ({reason})"),
                    PathProblem::Directory => {
                        write!(f, "it is a directory; attach the files in it one by one")
                    }
                    PathProblem::NotRegular(kind) => {
                        write!(f, "it is a {kind}, not a regular file")
                    }
                    PathProblem::TooLarge { len, limit } => write!(
                        f,
                        "it is {}, over the per-file limit of {} (--max-file-size)",
                        human_size(*len),
                        human_size(*limit)
                    ),
                    PathProblem::DuplicateName { other } => write!(
                        f,
                        "{other:?} has the same file name, and the worker sees files by name \
                         only; rename or copy one of them"
                    ),
                }?;
                write!(
                    f,
                    ". Relative paths resolve against {} ({source}).",
                    base.display()
                )
            }
        }
    }
}

impl std::error::Error for AttachError {}

impl Workspace {
    /// A workspace of `roots`, made canonical; missing roots are dropped with a
    /// warning, and with no usable root there is no workspace.
    pub fn new(roots: &[PathBuf], source: RootSource) -> Option<Self> {
        let canonical: Vec<PathBuf> = roots
            .iter()
            .filter_map(|root| match root.canonicalize() {
                Ok(path) => Some(path),
                Err(error) => {
                    tracing::warn!(root = %root.display(), %error, "workspace root ignored");
                    None
                }
            })
            .collect();
        (!canonical.is_empty()).then_some(Self {
            roots: canonical,
            source,
        })
    }

    pub fn working_directory() -> Self {
        let cwd = std::env::current_dir()
            .and_then(|d| d.canonicalize())
            .unwrap_or_else(|_| PathBuf::from("/"));
        Self {
            roots: vec![cwd],
            source: RootSource::WorkingDirectory,
        }
    }

    /// The folder relative paths resolve against.
    pub fn base(&self) -> &Path {
        &self.roots[0]
    }

    /// Check every path and open the files; refuse the whole set on the first problem.
    pub fn attach(
        &self,
        paths: &[String],
        limits: AttachLimits,
    ) -> Result<Vec<Attachment>, AttachError> {
        if paths.len() > limits.max_files {
            return Err(AttachError::TooMany {
                count: paths.len(),
                limit: limits.max_files,
            });
        }
        let mut attachments: Vec<Attachment> = Vec::with_capacity(paths.len());
        let mut total = 0u64;
        for given in paths {
            let attachment = self.check(given, limits)?;
            if let Some(other) = attachments
                .iter()
                .find(|a| a.file_name == attachment.file_name)
            {
                return Err(self.refuse(
                    given,
                    Some(attachment.path),
                    PathProblem::DuplicateName {
                        other: other.given.clone(),
                    },
                ));
            }
            total += attachment.len;
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

    fn refuse(&self, given: &str, resolved: Option<PathBuf>, problem: PathProblem) -> AttachError {
        AttachError::Path {
            given: given.to_owned(),
            resolved,
            base: self.base().to_owned(),
            source: self.source,
            problem,
        }
    }

    fn check(&self, given: &str, limits: AttachLimits) -> Result<Attachment, AttachError> {
        let trimmed = given.trim();
        let raw = trimmed.strip_prefix("file://").unwrap_or(trimmed);
        if raw.is_empty() {
            return Err(self.refuse(given, None, PathProblem::Empty));
        }
        let joined = self.base().join(raw);
        let inside = |p: &Path| self.roots.iter().any(|root| p.starts_with(root));
        let climbs = Path::new(raw)
            .components()
            .any(|c| c == Component::ParentDir);
        let lexical = match normalize(&joined) {
            Some(path) if inside(&path) => path,
            Some(path) if !climbs => {
                return Err(self.refuse(given, Some(path), PathProblem::OutsideWorkspace));
            }
            _ => return Err(self.refuse(given, None, PathProblem::EscapesWithDotDot)),
        };
        let canonical = match lexical.canonicalize() {
            Ok(path) => path,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.refuse(given, Some(lexical), PathProblem::NotFound));
            }
            Err(e) => {
                return Err(self.refuse(
                    given,
                    Some(lexical),
                    PathProblem::Unreadable(e.to_string()),
                ));
            }
        };
        if !inside(&canonical) {
            return Err(self.refuse(
                given,
                Some(lexical),
                PathProblem::SymlinkOutside { target: canonical },
            ));
        }
        // stat before open: opening a FIFO would block.
        let meta = std::fs::metadata(&canonical).map_err(|e| {
            self.refuse(
                given,
                Some(canonical.clone()),
                PathProblem::Unreadable(e.to_string()),
            )
        })?;
        if meta.is_dir() {
            return Err(self.refuse(given, Some(canonical), PathProblem::Directory));
        }
        if !meta.is_file() {
            return Err(self.refuse(
                given,
                Some(canonical),
                PathProblem::NotRegular(file_kind(&meta)),
            ));
        }
        if meta.len() > limits.max_file_bytes {
            return Err(self.refuse(
                given,
                Some(canonical),
                PathProblem::TooLarge {
                    len: meta.len(),
                    limit: limits.max_file_bytes,
                },
            ));
        }
        let file = File::open(&canonical).map_err(|e| {
            self.refuse(
                given,
                Some(canonical.clone()),
                PathProblem::Unreadable(e.to_string()),
            )
        })?;
        let file_name = canonical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        Ok(Attachment {
            given: given.to_owned(),
            content_type: content_type_for(&file_name),
            file_name,
            len: meta.len(),
            path: canonical,
            file,
        })
    }
}

/// The local path of a `file://` URI (as MCP roots and LSP workspace folders give
/// them), percent-decoded; `None` for other schemes.
pub fn file_uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            decoded.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let text = String::from_utf8(decoded).ok()?;
    // file:///C:/dir on Windows
    #[cfg(windows)]
    let text = text.trim_start_matches('/').to_owned();
    Some(PathBuf::from(text))
}

/// `path` with `.` and `..` folded away, without touching the file system; `None`
/// when `..` climbs above the file-system root.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dots_and_stops_at_root() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            Some(PathBuf::from("/a/c/d"))
        );
        assert_eq!(normalize(Path::new("/a/../..")), None);
    }

    #[test]
    fn file_uris_become_paths() {
        assert_eq!(
            file_uri_to_path("file:///home/me/My%20Project"),
            Some(PathBuf::from("/home/me/My Project"))
        );
        assert_eq!(
            file_uri_to_path("file://localhost/tmp"),
            Some(PathBuf::from("/tmp"))
        );
        assert_eq!(file_uri_to_path("https://example.com/x"), None);
        assert_eq!(file_uri_to_path("file:///a%2"), Some(PathBuf::from("/a%2")));
    }

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type_for("data.csv"), "text/csv");
        assert_eq!(content_type_for("report.pdf"), "application/pdf");
        assert_eq!(content_type_for("notes.md"), "text/markdown");
        assert_eq!(content_type_for("blob.xyz123"), "application/octet-stream");
        assert_eq!(content_type_for("Makefile"), "application/octet-stream");
    }
}
