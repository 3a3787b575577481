//! Files a client sends as bytes (A2A `raw` parts) instead of naming a path.
//! Each is written to a private temporary file that is unlinked at once, so it
//! streams, and is replayed after a refused connection, like any attachment,
//! under the same limits; nothing on the server's disk is read or kept.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
};

use super::{AttachError, AttachLimits, Attachment, content_type_for};

/// A file sent inline: its name, media type (empty: guessed from the name) and
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    pub name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// Attach `files` beside `before` (the call's files by path): the limits count
/// them all, and every name must differ.
pub fn attach_inline(
    files: Vec<InlineFile>,
    limits: AttachLimits,
    before: &[Attachment],
) -> Result<Vec<Attachment>, AttachError> {
    let count = before.len() + files.len();
    if count > limits.max_files {
        return Err(AttachError::TooMany {
            count,
            limit: limits.max_files,
        });
    }
    let mut total: u64 = before.iter().map(|a| a.len).sum();
    let mut names: Vec<String> = before.iter().map(|a| a.file_name.clone()).collect();
    let mut attached = Vec::with_capacity(files.len());
    for (index, file) in files.into_iter().enumerate() {
        let name = base_name(&file.name).unwrap_or_else(|| format!("file-{}", index + 1));
        let refuse = |problem: String| AttachError::Inline {
            name: name.clone(),
            problem,
        };
        let len = file.bytes.len() as u64;
        if len > limits.max_file_bytes {
            return Err(refuse(format!(
                "it is {len} bytes, over the limit of {} per file (--max-file-size)",
                limits.max_file_bytes
            )));
        }
        total = total.saturating_add(len);
        if total > limits.max_total_bytes {
            return Err(AttachError::TotalTooLarge {
                total,
                limit: limits.max_total_bytes,
            });
        }
        if names.contains(&name) {
            return Err(refuse("another file in the call has the same name".into()));
        }
        names.push(name.clone());
        let (path, handle) = unlinked_copy(&file.bytes)
            .map_err(|e| refuse(format!("it could not be held for sending ({e})")))?;
        let content_type = if file.media_type.trim().is_empty() {
            content_type_for(&name)
        } else {
            file.media_type
        };
        attached.push(Attachment {
            given: format!("{name} (sent inline)"),
            path,
            file_name: name,
            content_type,
            len,
            file: handle,
        });
    }
    Ok(attached)
}

/// The last component of a client's file name, without control characters;
/// `None` when nothing usable is left.
fn base_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    (!clean.is_empty() && clean != "." && clean != "..").then(|| clean.to_owned())
}

/// `bytes` in a new temporary file only this process can open, already
/// unlinked (the open handle keeps it until the upload is done).
fn unlinked_copy(bytes: &[u8]) -> std::io::Result<(PathBuf, File)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "handinger-inline-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    let written = file.write_all(bytes);
    // Unlinked whatever happened: nothing stays behind on disk.
    let _ = std::fs::remove_file(&path);
    written?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: AttachLimits = AttachLimits {
        max_file_bytes: 10,
        max_total_bytes: 15,
        max_files: 2,
        allow_hard_links: false,
    };

    fn file(name: &str, bytes: &[u8]) -> InlineFile {
        InlineFile {
            name: name.into(),
            media_type: String::new(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn inline_files_are_unlinked_named_safely_and_limited() {
        let attached =
            attach_inline(vec![file("../../etc/notes.txt", b"hello")], LIMITS, &[]).unwrap();
        assert_eq!(attached[0].file_name, "notes.txt");
        assert_eq!(attached[0].content_type, "text/plain");
        assert_eq!(attached[0].len, 5);
        assert!(!attached[0].path.exists(), "unlinked at once");
        let unnamed = attach_inline(vec![file("", b"x")], LIMITS, &[]).unwrap();
        assert_eq!(unnamed[0].file_name, "file-1");

        let too_big = attach_inline(vec![file("a", &[0; 11])], LIMITS, &[]);
        assert!(matches!(too_big, Err(AttachError::Inline { .. })));
        let total = attach_inline(vec![file("a", &[0; 8]), file("b", &[0; 8])], LIMITS, &[]);
        assert!(matches!(total, Err(AttachError::TotalTooLarge { .. })));
        let many = attach_inline(
            vec![file("a", b""), file("b", b""), file("c", b"")],
            LIMITS,
            &[],
        );
        assert!(matches!(many, Err(AttachError::TooMany { count: 3, .. })));
        let twice = attach_inline(vec![file("a", b"1"), file("dir/a", b"2")], LIMITS, &[]);
        assert!(matches!(twice, Err(AttachError::Inline { .. })));
    }
}
