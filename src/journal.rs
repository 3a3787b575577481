//! The task journal: the tasks this bridge started or looked up, so they can be
//! found again after the call that made them returned, by this process or
//! another one.
//!
//! - One file per API key, named by a hash of the key (the key is never
//!   stored), under the state folder (`--state-dir`, else
//!   `$XDG_STATE_HOME/handinger-mcp`, else `~/.local/state/handinger-mcp`);
//!   the folder is made 0700 and the file 0600.
//! - Safe with several processes at once: every change takes an exclusive lock
//!   (`history.lock` in the folder), reads, changes and writes a new file that
//!   is renamed over the old one, so a reader never sees half a file.
//! - A task whose request was refused before it ran (a wrong key, say) is
//!   forgotten, and a journal left empty is removed: a client trying keys on a
//!   shared bridge leaves no files behind.
//! - Bounded: the newest `--history-limit` tasks (1,000 by default) are kept.
//! - A file that is not a journal (corrupt, or foreign) is set aside under a new
//!   name and reported, never a crash; the journal starts again empty.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
    time::{SystemTime, UNIX_EPOCH},
};

use tokio::sync::{mpsc, oneshot};

use clap::{ArgAction, builder::BoolishValueParser};
use serde::{Deserialize, Serialize};

use crate::{key::ApiKey, units::count_setting};

/// What marks a file as a journal of this program, in this format.
const FORMAT: &str = "handinger-mcp/tasks/1";

/// Longest first line of an input kept.
pub const MAX_INPUT_CHARS: usize = 200;

/// The journal's settings.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Settings")]
pub struct JournalOptions {
    /// Folder for the task history (one file per API key, named by its hash);
    /// default $XDG_STATE_HOME/handinger-mcp, else ~/.local/state/handinger-mcp
    /// (server, command line).
    #[arg(long, env = "HANDINGER_STATE_DIR", value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Keep no task history: nothing is written, list_tasks lists nothing
    /// (server, command line).
    #[arg(long = "no-history", env = "HANDINGER_NO_HISTORY", value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true", default_value = "false",
          value_parser = BoolishValueParser::new(), action = ArgAction::Set, global = true)]
    pub no_history: bool,
    /// Most tasks the history keeps per API key; the oldest go first (server,
    /// command line).
    #[arg(long, env = "HANDINGER_HISTORY_LIMIT", value_name = "N", default_value = "1000",
          value_parser = count_setting, global = true)]
    pub history_limit: usize,
}

impl JournalOptions {
    /// The state folder, when one can be named.
    fn folder(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.state_dir {
            return Some(dir.clone());
        }
        let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(state) = non_empty("XDG_STATE_HOME") {
            return Some(PathBuf::from(state).join("handinger-mcp"));
        }
        non_empty("HOME").map(|home| PathBuf::from(home).join(".local/state/handinger-mcp"))
    }

    /// The journal of `key`, or none when history is off or no folder is known.
    pub fn journal_for(&self, key: &ApiKey) -> Option<Journal> {
        if self.no_history {
            return None;
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, key.expose().as_bytes());
        let hash: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Some(Journal {
            path: self.folder()?.join(format!("tasks-{hash}.json")),
            limit: self.history_limit.max(1),
        })
    }
}

/// One task as the journal remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub task_id: String,
    /// The first line of the input that started it, cut.
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Seconds since 1970 when this bridge started it (or first saw it).
    pub started_at: u64,
    /// The last status known: pending, running, completed, error, aborted.
    pub status: String,
    /// Credits the task has cost, as the API last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<f64>,
    /// The hash of the output schema its answers follow (a typed task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<String>,
    /// How many turns it has, when this bridge sent the latest, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_turn_at: Option<u64>,
}

impl Entry {
    /// Whether the status can still change.
    pub fn is_open(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "running" | "")
    }
}

/// The file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    format: String,
    tasks: Vec<Entry>,
    /// Credits of the turns this bridge started, when each ended: the rolling
    /// window the credit ceiling counts (older ones are dropped).
    #[serde(default)]
    spent: Vec<Spend>,
}

/// The templates file's content: apart from the tasks, so the tasks file that
/// is rewritten as calls come and go stays small (a schema may be 64 KiB).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Templates {
    format: String,
    /// Newest first.
    templates: Vec<Template>,
}

/// A file of the state folder: marked with its format, removed when empty.
trait Stored: Default + Serialize + serde::de::DeserializeOwned {
    const FORMAT: &'static str;
    fn format(&self) -> &str;
    /// Mark the contents with this program's format.
    fn mark(&mut self);
    fn is_empty(&self) -> bool;
}

impl Stored for Contents {
    const FORMAT: &'static str = FORMAT;
    fn format(&self) -> &str {
        &self.format
    }
    fn mark(&mut self) {
        self.format = Self::FORMAT.to_owned();
    }
    fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.spent.is_empty()
    }
}

impl Stored for Templates {
    const FORMAT: &'static str = "handinger-mcp/templates/1";
    fn format(&self) -> &str {
        &self.format
    }
    fn mark(&mut self) {
        self.format = Self::FORMAT.to_owned();
    }
    fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }
}

/// A worker template this bridge made for an output schema, found again by the
/// schema's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub schema_hash: String,
    pub worker_id: String,
    /// The schema itself, so a typed task's later answers can be checked by any
    /// process.
    pub schema: serde_json::Value,
    pub created_at: u64,
}

/// Most templates remembered per key; the oldest go first.
const MAX_TEMPLATES: usize = 100;

/// Credits one turn cost, and when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Spend {
    at: u64,
    credits: f64,
}

/// The window the credit ceiling counts over.
pub const SPEND_WINDOW_SECONDS: u64 = 24 * 60 * 60;

/// Why the journal could not be used (the call itself goes on).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the task history at {path} cannot be used: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A change to one task's entry.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub input: Option<String>,
    pub worker_id: Option<String>,
    pub status: Option<String>,
    pub credits: Option<f64>,
    /// A turn this bridge started ended, costing this many credits.
    pub spent: Option<f64>,
    /// The task never existed (its request was refused before it ran): drop it.
    pub forget: bool,
    /// The hash of the output schema the task's answers follow.
    pub output_schema: Option<String>,
    /// This bridge sent the task's turn number `turn` (1 for the first), at
    /// this time (seconds since 1970).
    pub turn: Option<(usize, u64)>,
}

/// One API key's journal file.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    limit: usize,
}

/// What reading the journal found besides its entries.
#[derive(Debug, Clone, Default)]
pub struct Read {
    pub entries: Vec<Entry>,
    /// A file that was not a journal, and where it was set aside.
    pub set_aside: Option<String>,
    /// Credits spent by turns this bridge started, over the last 24 hours.
    pub spent_in_window: f64,
    /// Seconds until the oldest of those leaves the window (none: nothing spent).
    pub frees_in: Option<u64>,
}

impl Journal {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, newest first.
    pub fn read(&self) -> Result<Read, JournalError> {
        self.locked(|_, _| false)
    }

    /// Apply `update` to `task_id`'s entry (made if missing) and keep the newest
    /// entries within the limit.
    pub fn record(&self, task_id: &str, update: Update) -> Result<Read, JournalError> {
        self.record_all(vec![(task_id.to_owned(), update)])
    }

    /// Apply `updates` in order, in one read and one write.
    pub fn record_all(&self, updates: Vec<(String, Update)>) -> Result<Read, JournalError> {
        let limit = self.limit;
        self.locked(move |contents, now| {
            for (task_id, update) in updates {
                apply(contents, &task_id, update, now);
            }
            contents
                .tasks
                .sort_by_key(|entry| std::cmp::Reverse(entry.started_at));
            contents.tasks.truncate(limit);
            true
        })
    }

    /// Whether any template is remembered for this key (a cheap look at the
    /// folder, before reading anything).
    pub fn has_templates(&self) -> bool {
        self.templates_path().exists()
    }

    /// The template made for the schema with this hash, if one is remembered.
    pub fn template(&self, schema_hash: &str) -> Result<Option<Template>, JournalError> {
        let mut found = None;
        locked_file(&self.templates_path(), |file: &mut Templates, _| {
            found = file
                .templates
                .iter()
                .find(|t| t.schema_hash == schema_hash)
                .cloned();
            false
        })?;
        Ok(found)
    }

    /// Remember a template (replacing one for the same schema), written at once:
    /// every later typed task with this schema reuses it.
    pub fn remember_template(&self, template: Template) -> Result<(), JournalError> {
        locked_file(&self.templates_path(), |file: &mut Templates, now| {
            file.templates
                .retain(|t| t.schema_hash != template.schema_hash);
            file.templates.insert(
                0,
                Template {
                    created_at: now,
                    ..template
                },
            );
            file.templates.truncate(MAX_TEMPLATES);
            true
        })
        .map(drop)
    }

    /// Forget the template for this schema (the API no longer knows its worker).
    pub fn forget_template(&self, schema_hash: &str) -> Result<(), JournalError> {
        locked_file(&self.templates_path(), |file: &mut Templates, _| {
            let before = file.templates.len();
            file.templates.retain(|t| t.schema_hash != schema_hash);
            file.templates.len() != before
        })
        .map(drop)
    }

    /// The key's templates file, beside its tasks file.
    fn templates_path(&self) -> PathBuf {
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        self.path
            .with_file_name(name.replacen("tasks-", "templates-", 1))
    }

    /// Run `change` on the contents under the lock; write them back when it says
    /// so. Spends that left the window are dropped first.
    fn locked(
        &self,
        change: impl FnOnce(&mut Contents, u64) -> bool,
    ) -> Result<Read, JournalError> {
        let (contents, set_aside, now) =
            locked_file(&self.path, |contents: &mut Contents, now| {
                let window_start = now.saturating_sub(SPEND_WINDOW_SECONDS);
                let before = contents.spent.len();
                contents.spent.retain(|spend| spend.at > window_start);
                let pruned = contents.spent.len() != before;
                change(contents, now) || pruned
            })?;
        let mut entries = contents.tasks;
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.started_at));
        let spent_in_window = contents.spent.iter().map(|spend| spend.credits).sum();
        let frees_in = contents
            .spent
            .iter()
            .map(|spend| spend.at + SPEND_WINDOW_SECONDS)
            .min()
            .map(|frees| frees.saturating_sub(now));
        Ok(Read {
            entries,
            set_aside,
            spent_in_window,
            frees_in,
        })
    }
}

/// Under the state folder's lock: read the file at `path` (one that is not of
/// its format is set aside under a new name, and where is returned), run
/// `change`, and write the file back when it says so (removed when left empty,
/// so keys that never started a task leave nothing behind). Also returns the
/// contents and the time `change` was given.
fn locked_file<C: Stored>(
    path: &Path,
    change: impl FnOnce(&mut C, u64) -> bool,
) -> Result<(C, Option<String>, u64), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    create_private_folder(folder).map_err(io)?;
    // One lock for the folder, not one per file: an emptied file can then be
    // removed without racing a writer that holds its lock.
    let lock = lock_file(&folder.join("history.lock")).map_err(io)?;
    let mut set_aside = None;
    let mut contents = match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<C>(&bytes) {
            Ok(contents) if contents.format() == C::FORMAT => contents,
            _ => {
                let aside = path.with_extension(format!("unreadable-{}", now()));
                std::fs::rename(path, &aside).map_err(io)?;
                tracing::warn!(
                    path = %path.display(),
                    aside = %aside.display(),
                    "a state file was not readable; it was set aside and starts again"
                );
                set_aside = Some(aside.display().to_string());
                C::default()
            }
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => C::default(),
        Err(error) => return Err(io(error)),
    };
    contents.mark();
    let now = now();
    if change(&mut contents, now) || set_aside.is_some() {
        if contents.is_empty() {
            match std::fs::remove_file(path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io(error));
                }
                _ => {}
            }
        } else {
            write_atomically(path, &contents).map_err(io)?;
        }
    }
    drop(lock);
    Ok((contents, set_aside, now))
}

/// How long the writer gathers updates before a rewrite.
const GATHER: std::time::Duration = std::time::Duration::from_millis(100);

/// Updates waiting for the writer; beyond this, recording waits.
const RECORDER_QUEUE: usize = 4096;

/// What the writer takes.
enum Message {
    /// Boxed: the queue holds thousands, most of them flushes' size or less.
    Update(Box<(Journal, String, Update)>),
    /// Say when everything queued before has been written.
    Flushed(oneshot::Sender<()>),
}

/// Writes journal updates in order and off the calls' path: one job gathers
/// the updates of a moment (100 ms) and applies them in one read and one write
/// per file, so a stream of calls costs a rewrite per moment, not one each.
/// Started on first use (inside the runtime).
#[derive(Clone, Default)]
pub struct Recorder {
    queue: Arc<OnceLock<mpsc::Sender<Message>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    fn queue(&self) -> &mpsc::Sender<Message> {
        self.queue.get_or_init(|| {
            let (queue, receiver) = mpsc::channel(RECORDER_QUEUE);
            tokio::spawn(write_batches(receiver));
            queue
        })
    }

    /// Queue `update` for `task_id` in `journal`.
    pub async fn record(&self, journal: Journal, task_id: &str, update: Update) {
        let message = Message::Update(Box::new((journal, task_id.to_owned(), update)));
        let _ = self.queue().send(message).await;
    }

    /// Resolves once every update queued before is written (or failed).
    pub async fn flushed(&self) {
        let (done, flushed) = oneshot::channel();
        if self.queue().send(Message::Flushed(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

/// The writer: batches of queued updates, grouped by file, in order.
async fn write_batches(mut receiver: mpsc::Receiver<Message>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        // Gather what arrives within a moment, so a stream of calls costs one
        // rewrite per moment, not one each; a flush (a listing waits on it) is
        // written at once.
        let gather_until = tokio::time::Instant::now() + GATHER;
        while !batch.iter().any(|m| matches!(m, Message::Flushed(_))) {
            match tokio::time::timeout_at(gather_until, receiver.recv()).await {
                Ok(Some(next)) => batch.push(next),
                Ok(None) | Err(_) => break,
            }
        }
        while let Ok(next) = receiver.try_recv() {
            batch.push(next);
        }
        let mut by_file: Vec<(Journal, Vec<(String, Update)>)> = Vec::new();
        let mut flushed = Vec::new();
        for message in batch {
            match message {
                Message::Update(update) => {
                    let (journal, task_id, update) = *update;
                    match by_file.iter_mut().find(|(j, _)| j.path == journal.path) {
                        Some((_, updates)) => updates.push((task_id, update)),
                        None => by_file.push((journal, vec![(task_id, update)])),
                    }
                }
                Message::Flushed(done) => flushed.push(done),
            }
        }
        for (journal, updates) in by_file {
            let written = tokio::task::spawn_blocking(move || journal.record_all(updates)).await;
            match written {
                Ok(Ok(read)) => {
                    if let Some(aside) = read.set_aside {
                        tracing::warn!(aside, "an unreadable task history was set aside");
                    }
                }
                Ok(Err(error)) => tracing::warn!(%error, "the task history was not updated"),
                Err(error) => tracing::warn!(%error, "the task history was not updated"),
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// Apply one update to `contents`, making the entry when missing.
fn apply(contents: &mut Contents, task_id: &str, update: Update, now: u64) {
    if update.forget {
        contents.tasks.retain(|entry| entry.task_id != task_id);
        return;
    }
    if let Some(credits) = update.spent.filter(|c| c.is_finite() && *c > 0.0) {
        contents.spent.push(Spend { at: now, credits });
    }
    let entry = match contents.tasks.iter_mut().position(|e| e.task_id == task_id) {
        Some(at) => &mut contents.tasks[at],
        None => {
            // In front: the sort after is stable, so a task made in the same
            // second as another still lists as the newer.
            contents.tasks.insert(
                0,
                Entry {
                    task_id: task_id.to_owned(),
                    input: String::new(),
                    worker_id: None,
                    started_at: now,
                    status: "running".to_owned(),
                    credits: None,
                    output_schema: None,
                    turns: None,
                    last_turn_at: None,
                },
            );
            &mut contents.tasks[0]
        }
    };
    if let Some(input) = update.input {
        entry.input = first_line(&input);
    }
    entry.worker_id = update.worker_id.or(entry.worker_id.take());
    if let Some(status) = update.status {
        entry.status = status;
    }
    entry.credits = update.credits.or(entry.credits);
    entry.output_schema = update.output_schema.or(entry.output_schema.take());
    if let Some((turn, at)) = update.turn
        && entry.turns.is_none_or(|known| known <= turn)
    {
        entry.turns = Some(turn);
        entry.last_turn_at = Some(at);
    }
}

/// The first non-empty line of `text`, at most [`MAX_INPUT_CHARS`] characters,
/// without control characters.
fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line: String = line.chars().filter(|c| !c.is_control()).collect();
    let line = line.trim();
    if line.chars().count() <= MAX_INPUT_CHARS {
        return line.to_owned();
    }
    let head: String = line.chars().take(MAX_INPUT_CHARS - 1).collect();
    format!("{head}…")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Make `folder` (and its parents), 0700 when this call creates it.
fn create_private_folder(folder: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(folder)
    }
}

/// Open (making it, 0600) and lock `path` exclusively; the lock ends when the
/// file is dropped.
fn lock_file(path: &Path) -> std::io::Result<File> {
    let file = private_options().read(true).write(true).open(path)?;
    #[cfg(unix)]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(file)
}

/// Options that create a file readable by its owner only.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Write `contents` to a new file beside `path` and rename it over `path`.
fn write_atomically(path: &Path, contents: &impl Serialize) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = private_options()
        .write(true)
        .truncate(true)
        .open(&temporary)?;
    // No fsync: the journal is an index of tasks that live on the API, not the
    // record of them, and a call should not wait on the disk for it.
    file.write_all(&serde_json::to_vec(contents).map_err(std::io::Error::other)?)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(dir: &Path, limit: usize) -> Journal {
        JournalOptions {
            state_dir: Some(dir.to_owned()),
            no_history: false,
            history_limit: limit,
        }
        .journal_for(&ApiKey::new("hdg_live_secret".into()))
        .unwrap()
    }

    #[test]
    fn templates_live_in_their_own_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path(), 10);
        let template = |hash: &str, worker: &str| Template {
            schema_hash: hash.to_owned(),
            worker_id: worker.to_owned(),
            schema: serde_json::json!({"type": "object"}),
            created_at: 0,
        };
        assert!(!journal.has_templates());
        journal.remember_template(template("h1", "wrk_1")).unwrap();
        assert!(journal.has_templates());
        journal.remember_template(template("h1", "wrk_2")).unwrap();
        assert_eq!(journal.template("h1").unwrap().unwrap().worker_id, "wrk_2");
        assert!(journal.template("h2").unwrap().is_none());
        assert!(!journal.path().exists(), "no task was written");
        let file = journal.templates_path();
        assert!(
            file.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("templates-")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A file that is not a templates file is set aside, never a crash.
        std::fs::write(&file, b"{not json").unwrap();
        assert!(journal.template("h1").unwrap().is_none());
        journal.remember_template(template("h3", "wrk_3")).unwrap();
        journal.forget_template("h3").unwrap();
        assert!(!file.exists(), "an emptied templates file is removed");
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("unreadable")
            })
            .count();
        assert_eq!(aside, 1);
    }

    #[test]
    fn entries_are_kept_newest_first_bounded_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path(), 2);
        for (n, id) in ["tsk_a", "tsk_b", "tsk_c"].iter().enumerate() {
            let update = Update {
                input: Some(format!("\n  brief {n}\nmore")),
                ..Update::default()
            };
            journal.record(id, update).unwrap();
        }
        let read = journal.read().unwrap();
        let ids: Vec<&str> = read.entries.iter().map(|e| e.task_id.as_str()).collect();
        assert_eq!(ids, ["tsk_c", "tsk_b"]);
        assert_eq!(read.entries[0].input, "brief 2");
        let name = journal
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with("tasks-") && !name.contains("secret"),
            "{name}"
        );
        let text = std::fs::read_to_string(journal.path()).unwrap();
        assert!(!text.contains("hdg_live_secret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(journal.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_set_aside_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path(), 10);
        std::fs::write(journal.path(), b"{not json").unwrap();
        let read = journal.read().unwrap();
        assert!(read.entries.is_empty());
        let aside = read.set_aside.expect("reported");
        assert_eq!(std::fs::read(&aside).unwrap(), b"{not json");
        std::fs::write(journal.path(), br#"{"format": "other", "tasks": []}"#).unwrap();
        assert!(
            journal.read().unwrap().set_aside.is_some(),
            "a foreign file too"
        );
        journal.record("tsk_x", Update::default()).unwrap();
        assert_eq!(journal.read().unwrap().entries.len(), 1);
    }

    #[test]
    fn many_writers_at_once_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let journal = journal(dir.path(), 1000);
                std::thread::spawn(move || {
                    for i in 0..10 {
                        journal
                            .record(&format!("tsk_{n}_{i}"), Update::default())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(journal(dir.path(), 1000).read().unwrap().entries.len(), 80);
    }

    #[test]
    fn spent_credits_are_summed_over_the_window_and_old_ones_drop() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path(), 10);
        for credits in [2.0, 3.5, f64::NAN, -1.0] {
            let update = Update {
                spent: Some(credits),
                ..Update::default()
            };
            journal.record("tsk_a", update).unwrap();
        }
        let read = journal.read().unwrap();
        assert_eq!(read.spent_in_window, 5.5);
        assert!(read.frees_in.unwrap() > SPEND_WINDOW_SECONDS - 60);
        // A spend from more than a day ago no longer counts.
        let text = std::fs::read_to_string(journal.path()).unwrap();
        let mut contents: serde_json::Value = serde_json::from_str(&text).unwrap();
        contents["spent"][0]["at"] = serde_json::json!(1);
        std::fs::write(journal.path(), contents.to_string()).unwrap();
        assert_eq!(journal.read().unwrap().spent_in_window, 3.5);
    }

    #[test]
    fn a_forgotten_task_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path(), 10);
        journal.record("tsk_never", Update::default()).unwrap();
        assert!(journal.path().exists());
        let forget = Update {
            forget: true,
            ..Update::default()
        };
        journal.record("tsk_never", forget).unwrap();
        assert!(!journal.path().exists(), "an empty journal is removed");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["history.lock"], "only the folder's one lock");
    }

    #[test]
    fn no_history_means_no_journal() {
        let options = JournalOptions {
            state_dir: Some(PathBuf::from("/nowhere")),
            no_history: true,
            history_limit: 10,
        };
        assert!(options.journal_for(&ApiKey::new("k".into())).is_none());
    }
}
