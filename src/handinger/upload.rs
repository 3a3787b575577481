//! Multipart bodies for attached files: streamed from the open file with a known
//! length, so memory stays flat and the request carries a Content-Length.

use std::{
    fmt,
    io::SeekFrom,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use reqwest::multipart::{Form, Part};
use tokio::io::AsyncSeekExt;
use tokio_util::io::ReaderStream;

use super::CreateTaskBody;
use crate::workspace::Attachment;

/// Read size per chunk: large enough that per-read overhead does not bound throughput.
const CHUNK_BYTES: usize = 256 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A file whose size changed between the check and the upload. The upload is
/// aborted: a truncated or padded file is never sent as if complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChanged {
    pub path: PathBuf,
    pub expected: u64,
    pub read: u64,
}

impl fmt::Display for FileChanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.read > self.expected {
            "grew"
        } else {
            "shrank"
        };
        write!(
            f,
            "{} {how} while it was being sent (checked at {} bytes, read {}); the upload was \
             aborted",
            self.path.display(),
            self.expected,
            self.read
        )
    }
}

impl std::error::Error for FileChanged {}

/// The multipart form of a task with files: scalars as text fields, then one part
/// per file under `files_field`. `body_sent` is set when the last file has been
/// read whole (the form's closing boundary is all that follows).
pub async fn task_form(
    body: &CreateTaskBody,
    files: &[Attachment],
    files_field: &str,
    body_sent: &Arc<AtomicBool>,
) -> std::io::Result<Form> {
    let mut form = Form::new()
        .text("input", body.input.clone())
        .text("taskId", body.task_id.clone());
    if let Some(budget) = body.budget {
        form = form.text("budget", budget.as_str());
    }
    if let Some(worker_id) = &body.worker_id {
        form = form.text("workerId", worker_id.clone());
    }
    for (index, attachment) in files.iter().enumerate() {
        let is_last = index + 1 == files.len();
        let stream = checked_stream(attachment, is_last.then(|| body_sent.clone())).await?;
        let part = Part::stream_with_length(reqwest::Body::wrap_stream(stream), attachment.len)
            .file_name(attachment.file_name.clone())
            .mime_str(&attachment.content_type)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        form = form.part(files_field.to_owned(), part);
    }
    Ok(form)
}

/// The file's bytes from the start, failing the stream if the file is not exactly
/// the checked length; `done`, if given, is set when the whole file has been read.
pub async fn checked_stream(
    attachment: &Attachment,
    done: Option<Arc<AtomicBool>>,
) -> std::io::Result<impl Stream<Item = Result<Bytes, BoxError>> + Send + 'static> {
    let mut file = tokio::fs::File::from_std(attachment.file.try_clone()?);
    file.seek(SeekFrom::Start(0)).await?;
    let expected = attachment.len;
    let path = attachment.path.clone();
    let chunks = ReaderStream::with_capacity(file, CHUNK_BYTES);
    let state = (chunks, 0u64, false);
    Ok(stream::unfold(
        state,
        move |(mut chunks, read, finished)| {
            let path = path.clone();
            let done = done.clone();
            async move {
                if finished {
                    return None;
                }
                let changed = |read| -> BoxError {
                    Box::new(FileChanged {
                        path,
                        expected,
                        read,
                    })
                };
                match chunks.next().await {
                    Some(Ok(chunk)) => {
                        let read = read + chunk.len() as u64;
                        if read > expected {
                            Some((Err(changed(read)), (chunks, read, true)))
                        } else {
                            Some((Ok(chunk), (chunks, read, false)))
                        }
                    }
                    Some(Err(error)) => {
                        Some((Err(Box::new(error) as BoxError), (chunks, read, true)))
                    }
                    None if read < expected => Some((Err(changed(read)), (chunks, read, true))),
                    None => {
                        if let Some(done) = done {
                            done.store(true, Ordering::Release);
                        }
                        None
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::{AttachLimits, RootSource, Workspace};

    const LIMITS: AttachLimits = AttachLimits {
        max_file_bytes: 1 << 30,
        max_total_bytes: 1 << 30,
        max_files: 10,
        allow_hard_links: false,
    };

    fn temp_workspace(name: &str) -> (PathBuf, Workspace) {
        let dir = std::env::temp_dir().join(format!("hmcp-upload-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ws = Workspace::new(std::slice::from_ref(&dir), RootSource::Configured);
        (dir, ws)
    }

    async fn drain(attachment: &Attachment) -> Result<Vec<u8>, String> {
        let mut stream = Box::pin(checked_stream(attachment, None).await.unwrap());
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            out.extend_from_slice(&item.map_err(|e| e.to_string())?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn streams_exactly_the_file_and_can_be_replayed() {
        let (dir, ws) = temp_workspace("exact");
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("data.bin"), &data).unwrap();
        let files = ws.attach(&["data.bin".into()], LIMITS).unwrap();
        assert_eq!(drain(&files[0]).await.unwrap(), data);
        // A retry after a refused connection streams the same bytes again.
        assert_eq!(drain(&files[0]).await.unwrap(), data);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_file_that_shrinks_or_grows_after_the_check_fails_the_stream() {
        let (dir, ws) = temp_workspace("changed");
        let path = dir.join("log.txt");
        std::fs::write(&path, vec![b'a'; 10_000]).unwrap();
        let files = ws.attach(&["log.txt".into()], LIMITS).unwrap();
        std::fs::write(&path, vec![b'a'; 4_000]).unwrap();
        let error = drain(&files[0]).await.unwrap_err();
        assert!(
            error.contains("shrank") && error.contains("read 4000"),
            "{error}"
        );

        std::fs::write(&path, vec![b'b'; 10_000 + 300_000]).unwrap();
        let error = drain(&files[0]).await.unwrap_err();
        assert!(
            error.contains("grew") && error.contains("checked at 10000"),
            "{error}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
