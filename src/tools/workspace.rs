//! [`Workspace`]: the workspace tools over one directory, implementing
//! [`super::WorkerTools`]. It routes a tool call to its tool, confines every path, asks the
//! [`ToolHost`] before running a command that is not allowed, and records every file
//! change (backup, then `FileChanged`, then the write) so it can be rolled back.
//!
//! Must not decide approvals itself (beyond the configured allow list and the session's
//! "allow always" answers) and must not talk to a front end.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

mod helpers;
mod run_command;

use helpers::{args, blocking, not_journaled, ok, read_if_exists};

use crate::protocol::{Event, SubtaskId};
use crate::protocol::{ToolCall, ToolDef};
use crate::state::FileChange;

use super::changes::{ChangeRecord, Freshness, sha256_hex};
use super::command::{CommandSpec, pattern_allows};
use super::error::{ToolError, io_error};
use super::paths::{Protection, Resolved, Root};
use super::sandbox::SandboxOptions;
use super::schema::{self, *};
use super::search::{self, DEFAULT_MATCHES, SearchQuery};
use super::text::{cap_head_tail, one_line, thousands};
use super::{ToolHost, ToolOutput, WorkerTools, fs};

/// How a workspace is opened.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceOptions {
    /// Offer and accept only the reading tools (`--read-only`).
    pub read_only: bool,
    /// Run every command without asking (`--allow-commands`).
    pub allow_commands: bool,
    /// Commands allowed without asking: exact (`make test`) or a prefix and `*`
    /// (`cargo test*`).
    pub allow: Vec<String>,
    /// The run's directory; backups go under `backups/`.
    pub run_dir: PathBuf,
    /// A command running longer is killed.
    pub command_timeout: Duration,
    /// Most bytes of command output (and search results) given to the model.
    pub output_cap: usize,
    /// Most bytes of a file `read_file` gives the model in one call.
    pub read_cap: usize,
    /// How commands run (default: directly, unconfined; the session sets the sandbox).
    pub sandbox: SandboxOptions,
    /// Protected patterns (gitignore syntax) added to [`super::paths::DEFAULT_PROTECTED`]: files workers
    /// can neither read nor change. Version-control metadata is read-only regardless.
    pub protected: Vec<String>,
}

/// Default command timeout.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Default cap of command output and search results given to the model.
pub const DEFAULT_OUTPUT_CAP: usize = 16 * 1024;
/// Default cap of one `read_file` result.
pub const DEFAULT_READ_CAP: usize = 256 * 1024;

impl WorkspaceOptions {
    /// Defaults: writable, commands need approval, empty allow list, 120 s timeout,
    /// 16 KiB output cap, 256 KiB read cap, only the default protected patterns
    /// ([`super::paths::DEFAULT_PROTECTED`]).
    pub fn new(run_dir: impl Into<PathBuf>) -> WorkspaceOptions {
        WorkspaceOptions {
            read_only: false,
            allow_commands: false,
            allow: Vec::new(),
            run_dir: run_dir.into(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            output_cap: DEFAULT_OUTPUT_CAP,
            read_cap: DEFAULT_READ_CAP,
            sandbox: SandboxOptions::default(),
            protected: Vec::new(),
        }
    }
}

/// The workspace tools over one directory.
pub struct Workspace {
    root: Root,
    protection: Protection,
    options: WorkspaceOptions,
    /// Commands a person allowed "always" in this session (exact command text).
    session_allow: Mutex<Vec<String>>,
    changes: ChangeRecord,
    /// Serialises the check-backup-record-write sequence of file changes.
    write_lock: tokio::sync::Mutex<()>,
}

impl Workspace {
    /// Opens `root` (an existing directory) as a workspace.
    pub fn open(root: &Path, options: WorkspaceOptions) -> Result<Workspace, ToolError> {
        let root = Root::open(root)?;
        let protection = Protection::new(&options.protected)?;
        let changes = ChangeRecord::new(options.run_dir.clone());
        Ok(Workspace {
            root,
            protection,
            options,
            session_allow: Mutex::new(Vec::new()),
            changes,
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The canonical workspace root.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn options(&self) -> &WorkspaceOptions {
        &self.options
    }

    /// Whether this workspace offers `tool` at all (read-only offers only reading tools).
    pub fn permits(&self, tool: &str) -> bool {
        ALL_TOOLS.contains(&tool) && !(self.options.read_only && schema::is_write_tool(tool))
    }

    /// Whether `spec` may run without asking: `--allow-commands`, the configured allow
    /// list, or an earlier "allow always" in this session. While the sandbox is on but
    /// cannot be enforced, only the person's own answers in this session count.
    pub fn command_allowed(&self, spec: &CommandSpec) -> bool {
        if self.options.sandbox.needs_approval() {
            let display = spec.display();
            return self.session_allow_list().iter().any(|c| c == &display);
        }
        if self.options.allow_commands {
            return true;
        }
        if self.options.allow.iter().any(|p| pattern_allows(p, spec)) {
            return true;
        }
        let display = spec.display();
        self.session_allow_list().iter().any(|c| c == &display)
    }

    /// The commands allowed "always" in this session so far.
    pub fn session_allow_list(&self) -> Vec<String> {
        self.session_allow
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn dispatch(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        call: &ToolCall,
    ) -> Result<ToolOutput, ToolError> {
        let name = call.name.as_str();
        if !ALL_TOOLS.contains(&name) {
            return Err(ToolError::Unavailable(format!(
                "`{name}` is not a workspace tool; available: {}",
                ALL_TOOLS.join(", ")
            )));
        }
        if !self.permits(name) {
            return Err(ToolError::Unavailable(format!(
                "`{name}` is not available: the workspace is read-only (--read-only); \
                 report what you would change instead"
            )));
        }
        match name {
            LIST_DIR => self.list_dir(args(call)?).await,
            READ_FILE => self.read_file(subtask, attempt, args(call)?).await,
            SEARCH => self.search(args(call)?).await,
            WRITE_FILE => self.write_file(host, subtask, attempt, args(call)?).await,
            EDIT_FILE => self.edit_file(host, subtask, attempt, args(call)?).await,
            DELETE_FILE => self.delete_file(host, subtask, attempt, args(call)?).await,
            _ => self.run_command(host, subtask, args(call)?).await,
        }
    }

    async fn list_dir(&self, a: ListDirArgs) -> Result<ToolOutput, ToolError> {
        let dir = self.root.resolve(a.path.as_deref().unwrap_or("."))?;
        self.protection.check_read(&dir.rel, true)?;
        let depth = a.depth.unwrap_or(1);
        let root = self.root.clone();
        let protection = self.protection.clone();
        let (content, count) =
            blocking(move || fs::list_dir(&root, &protection, &dir, depth)).await?;
        let shown = a
            .path
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .unwrap_or(".");
        Ok(ok(
            cap_head_tail(&content, self.options.output_cap.max(1024) * 2),
            format!(
                "list_dir {} ({} entries)",
                one_line(shown, 60),
                thousands(count as u64)
            ),
        ))
    }

    async fn read_file(
        &self,
        subtask: SubtaskId,
        attempt: u32,
        a: ReadFileArgs,
    ) -> Result<ToolOutput, ToolError> {
        let file = self.root.resolve(&a.path)?;
        self.protection.check_read(&file.rel, file.abs.is_dir())?;
        let range = fs::LineRange {
            offset: a.offset,
            limit: a.limit,
        };
        let cap = self.options.read_cap;
        let read = {
            let file = file.clone();
            blocking(move || fs::read_file(&file, range, cap)).await?
        };
        self.changes
            .saw(subtask, attempt, &file.rel, Some(read.sha256.clone()));
        let Some(view) = read.view else {
            return Ok(ok(
                format!(
                    "{} is a binary file ({} bytes); it cannot be shown as text",
                    file.rel,
                    thousands(read.bytes)
                ),
                format!("read_file {} (binary)", file.rel),
            ));
        };
        let summary = if view.first <= 1 && view.last == view.total_lines {
            format!(
                "read_file {} ({} lines)",
                file.rel,
                thousands(view.total_lines as u64)
            )
        } else {
            format!(
                "read_file {} lines {}-{} of {}{}",
                file.rel,
                view.first,
                view.last,
                thousands(view.total_lines as u64),
                if view.cut { " (cut)" } else { "" }
            )
        };
        Ok(ok(view.content, summary))
    }

    async fn search(&self, a: SearchArgs) -> Result<ToolOutput, ToolError> {
        let scope = self.root.resolve(a.path.as_deref().unwrap_or("."))?;
        self.protection.check_read(&scope.rel, scope.abs.is_dir())?;
        let root = self.root.clone();
        let protection = self.protection.clone();
        let cap = self.options.output_cap;
        let query_pattern = a.pattern.clone();
        let result = blocking(move || {
            let q = SearchQuery {
                pattern: &a.pattern,
                glob: a.glob.as_deref(),
                case_insensitive: a.case_insensitive,
                max_results: a.max_results.unwrap_or(DEFAULT_MATCHES),
                cap,
            };
            search::search(&root, &protection, &scope, &q)
        })
        .await?;
        Ok(ok(
            result.content,
            format!(
                "search \"{}\" ({} matches in {} files)",
                one_line(&query_pattern, 60),
                thousands(result.matches as u64),
                thousands(result.files as u64)
            ),
        ))
    }

    async fn write_file(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        a: WriteFileArgs,
    ) -> Result<ToolOutput, ToolError> {
        let file = self.root.resolve(&a.path)?;
        self.protection.check_write(&file.rel, false)?;
        if file.abs.is_dir() {
            return Err(ToolError::Invalid(format!(
                "`{}` is a directory; give a file path",
                file.rel
            )));
        }
        let _guard = self.write_lock.lock().await;
        let original = read_if_exists(&file)?;
        let created = original.is_none();
        self.check_fresh(host, subtask, attempt, &file, original.as_deref())
            .await?;
        self.change(
            host,
            subtask,
            attempt,
            &file,
            original,
            Some(a.content.as_bytes()),
        )
        .await?;
        let lines = a.content.lines().count();
        let verb = if created { "created" } else { "rewrote" };
        Ok(ok(
            format!(
                "{verb} {} ({} lines, {} bytes)",
                file.rel,
                thousands(lines as u64),
                thousands(a.content.len() as u64)
            ),
            format!(
                "write_file {} ({verb}, {} lines)",
                file.rel,
                thousands(lines as u64)
            ),
        ))
    }

    async fn edit_file(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        a: EditFileArgs,
    ) -> Result<ToolOutput, ToolError> {
        let file = self.root.resolve(&a.path)?;
        self.protection.check_write(&file.rel, false)?;
        let _guard = self.write_lock.lock().await;
        let Some(original) = read_if_exists(&file)? else {
            return Err(ToolError::Invalid(format!(
                "`{}` does not exist; use write_file to create it",
                file.rel
            )));
        };
        self.check_fresh(host, subtask, attempt, &file, Some(&original))
            .await?;
        let text = std::str::from_utf8(&original).map_err(|_| {
            ToolError::Invalid(format!(
                "`{}` is not UTF-8 text; edit_file only edits text files",
                file.rel
            ))
        })?;
        let (new_text, count) =
            fs::replace_exact(&file.rel, text, &a.old_string, &a.new_string, a.replace_all)?;
        self.change(
            host,
            subtask,
            attempt,
            &file,
            Some(original.clone()),
            Some(new_text.as_bytes()),
        )
        .await?;
        let plural = if count == 1 { "" } else { "s" };
        Ok(ok(
            format!("edited {} ({count} replacement{plural})", file.rel),
            format!("edit_file {} ({count} replacement{plural})", file.rel),
        ))
    }

    async fn delete_file(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        a: DeleteFileArgs,
    ) -> Result<ToolOutput, ToolError> {
        let file = self.root.resolve(&a.path)?;
        self.protection.check_write(&file.rel, false)?;
        if file.abs.is_dir() {
            return Err(ToolError::Invalid(format!(
                "`{}` is a directory; delete_file deletes files only",
                file.rel
            )));
        }
        let _guard = self.write_lock.lock().await;
        let Some(original) = read_if_exists(&file)? else {
            return Err(ToolError::Invalid(format!("`{}` does not exist", file.rel)));
        };
        self.check_fresh(host, subtask, attempt, &file, Some(&original))
            .await?;
        self.change(host, subtask, attempt, &file, Some(original), None)
            .await?;
        Ok(ok(
            format!("deleted {} (a backup was kept)", file.rel),
            format!("delete_file {}", file.rel),
        ))
    }

    /// Whether this worker may change `file`, whose bytes are `original`: refuses (and
    /// records a `FileConflict` when another writer got there first) unless the file is new
    /// or unchanged since this worker read or wrote it. The caller holds `write_lock`.
    async fn check_fresh(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        file: &Resolved,
        original: Option<&[u8]>,
    ) -> Result<(), ToolError> {
        let before = original.map(sha256_hex);
        match self.changes.freshness(subtask, attempt, &file.rel, &before) {
            Freshness::Ok => {}
            Freshness::NotRead { writer: None } => {
                return Err(ToolError::Conflict(format!(
                    "`{}` already exists and you have not read it; read_file it first so your \
                     change is based on its current content. Nothing was written.",
                    file.rel
                )));
            }
            Freshness::NotRead {
                writer: Some((other, _)),
            } => {
                host.record(Event::FileConflict {
                    id: subtask,
                    path: file.rel.clone(),
                    detail: format!(
                        "{subtask} (attempt {attempt}) tried to write `{}`, which {other} wrote \
                         while {subtask} had not read it",
                        file.rel
                    ),
                })
                .await
                .map_err(|e| not_journaled(file, &e))?;
                return Err(ToolError::Conflict(format!(
                    "conflict: `{}` was not written because another worker ({other}) wrote it \
                     and you have not read it. Read it and build on its content, or report the \
                     conflict.",
                    file.rel
                )));
            }
            Freshness::Changed { seen, now } => {
                let detail = match (&seen, &now) {
                    (_, None) => "it was deleted since this worker read it".to_string(),
                    (None, Some(_)) => {
                        "it was created by someone else since this worker deleted it".to_string()
                    }
                    (Some(_), Some(_)) => {
                        "it changed since this worker read it (another worker or a person wrote it)"
                            .to_string()
                    }
                };
                host.record(Event::FileConflict {
                    id: subtask,
                    path: file.rel.clone(),
                    detail: format!(
                        "{subtask} (attempt {attempt}) tried to write `{}`, but {detail}",
                        file.rel
                    ),
                })
                .await
                .map_err(|e| not_journaled(file, &e))?;
                return Err(ToolError::Conflict(format!(
                    "conflict: `{}` was not written because {detail}. Read it again and redo \
                     your change on the current content, or report the conflict.",
                    file.rel
                )));
            }
        }
        Ok(())
    }

    /// One recorded file change, after [`Self::check_fresh`]: backup of the original,
    /// `FileChanged` journaled (durable), then the write (or removal). The caller holds
    /// `write_lock`.
    async fn change(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        file: &Resolved,
        original: Option<Vec<u8>>,
        new: Option<&[u8]>,
    ) -> Result<(), ToolError> {
        let before = original.as_deref().map(sha256_hex);
        let backup = self
            .changes
            .backup_original(subtask, &file.rel, original.as_deref())?;
        let after = new.map(sha256_hex);
        host.record(Event::FileChanged {
            id: subtask,
            path: file.rel.clone(),
            before,
            after: after.clone(),
            backup,
        })
        .await
        .map_err(|e| not_journaled(file, &e))?;
        match new {
            Some(bytes) => {
                if let Some(parent) = file.abs.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| io_error(&file.rel, "create the directories of", &e))?;
                }
                super::changes::write_atomic(&file.abs, bytes)
                    .map_err(|e| io_error(&file.rel, "write", &e))?;
            }
            None => {
                std::fs::remove_file(&file.abs).map_err(|e| io_error(&file.rel, "delete", &e))?;
            }
        }
        self.changes.wrote(subtask, attempt, &file.rel, after);
        Ok(())
    }
}

#[async_trait]
impl WorkerTools for Workspace {
    fn definitions(&self, allowed: &[String]) -> Vec<ToolDef> {
        ALL_TOOLS
            .iter()
            .filter(|name| allowed.iter().any(|a| a == *name) && self.permits(name))
            .filter_map(|name| schema::definition(name))
            .collect()
    }

    async fn call(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        call: &ToolCall,
    ) -> ToolOutput {
        match self.dispatch(host, subtask, attempt, call).await {
            Ok(output) => output,
            Err(error) => {
                let target = call
                    .arguments
                    .get("path")
                    .or_else(|| call.arguments.get("command"))
                    .and_then(|v| v.as_str())
                    .map(|s| format!(" {}", one_line(s, 60)))
                    .unwrap_or_default();
                ToolOutput {
                    content: format!("error: {error}"),
                    is_error: true,
                    summary: format!(
                        "{}{target} → error: {}",
                        call.name,
                        one_line(error.message(), 100)
                    ),
                }
            }
        }
    }

    async fn check_rollback(&self, changes: &[FileChange]) -> Result<Vec<String>, String> {
        let _guard = self.write_lock.lock().await;
        self.changes.check_rollback(&self.root, changes)
    }

    async fn rollback(&self, changes: &[FileChange]) -> Result<Vec<String>, String> {
        let _guard = self.write_lock.lock().await;
        self.changes.rollback(&self.root, changes)
    }
}
