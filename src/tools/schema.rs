//! Workspace tool names, their JSON-Schema definitions for the model, and their argument
//! types.
//!
//! Must not run anything: this is the vocabulary only.

use serde::Deserialize;
use serde_json::json;

use crate::protocol::ToolDef;

pub const LIST_DIR: &str = "list_dir";
pub const READ_FILE: &str = "read_file";
pub const SEARCH: &str = "search";
pub const WRITE_FILE: &str = "write_file";
pub const EDIT_FILE: &str = "edit_file";
pub const DELETE_FILE: &str = "delete_file";
pub const RUN_COMMAND: &str = "run_command";

/// Tools that only read (offered with `--read-only`).
pub const READ_TOOLS: [&str; 3] = [LIST_DIR, READ_FILE, SEARCH];
/// Every workspace tool, in the order they are offered.
pub const ALL_TOOLS: [&str; 7] = [
    LIST_DIR,
    READ_FILE,
    SEARCH,
    WRITE_FILE,
    EDIT_FILE,
    DELETE_FILE,
    RUN_COMMAND,
];

/// `true` for tools that change files or run commands.
pub fn is_write_tool(name: &str) -> bool {
    ALL_TOOLS.contains(&name) && !READ_TOOLS.contains(&name)
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListDirArgs {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub depth: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReadFileArgs {
    pub path: String,
    /// First line to return (1-based).
    #[serde(default)]
    pub offset: Option<u64>,
    /// How many lines to return.
    #[serde(default)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SearchArgs {
    pub pattern: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub glob: Option<String>,
    #[serde(default)]
    pub case_insensitive: bool,
    #[serde(default)]
    pub max_results: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WriteFileArgs {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EditFileArgs {
    pub path: String,
    pub old_string: String,
    pub new_string: String,
    #[serde(default)]
    pub replace_all: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeleteFileArgs {
    pub path: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunCommandArgs {
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
}

/// The definition of one tool, or `None` for a name that is not a workspace tool.
pub fn definition(name: &str) -> Option<ToolDef> {
    let (description, schema) = match name {
        LIST_DIR => (
            "List files and directories in the workspace (respects .gitignore). Directories \
             end with `/`. Paths are relative to the workspace root.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Directory to list, relative to the workspace root. Default: the root."},
                    "depth": {"type": "integer", "minimum": 1, "maximum": 10, "description": "How many levels to descend. Default 1."}
                },
                "additionalProperties": false
            }),
        ),
        READ_FILE => (
            "Read a text file from the workspace. The result starts with `path (N lines)` or \
             `path lines X-Y of N`. Output is capped; files of any size can be read in parts \
             with `offset` (first line, 1-based) and `limit` (number of lines). You must read \
             a file before you edit or overwrite it. Protected files (secrets such as `.env`, \
             keys) cannot be read.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "File path relative to the workspace root."},
                    "offset": {"type": "integer", "minimum": 1, "description": "First line to return (1-based). Default 1."},
                    "limit": {"type": "integer", "minimum": 1, "description": "Number of lines to return. Default: to the end of the file (within the output cap)."}
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        ),
        SEARCH => (
            "Search file contents in the workspace with a regular expression (Rust regex \
             syntax), respecting .gitignore. Files of any size are searched line by line. \
             Returns `path:line: text` for each match; read around a match with read_file \
             `offset`/`limit`.",
            json!({
                "type": "object",
                "properties": {
                    "pattern": {"type": "string", "description": "Regular expression to look for."},
                    "path": {"type": "string", "description": "Directory or file to search in. Default: the whole workspace."},
                    "glob": {"type": "string", "description": "Only files matching this glob, e.g. `*.rs` or `src/**/*.py`."},
                    "case_insensitive": {"type": "boolean", "description": "Ignore case. Default false."},
                    "max_results": {"type": "integer", "minimum": 1, "maximum": 500, "description": "Most matches to return. Default 100."}
                },
                "required": ["pattern"],
                "additionalProperties": false
            }),
        ),
        WRITE_FILE => (
            "Create a file or replace its whole content. Parent directories are created. An \
             existing file must have been read (read_file) first. Prefer edit_file for small \
             changes. Version-control metadata (`.git/`, `.hg/`, `.svn/`) and protected files \
             cannot be written.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "File path relative to the workspace root."},
                    "content": {"type": "string", "description": "The complete new content."}
                },
                "required": ["path", "content"],
                "additionalProperties": false
            }),
        ),
        EDIT_FILE => (
            "Replace an exact piece of text in a file you have read. old_string must match the \
             file exactly (whitespace and indentation included) and be unique unless \
             replace_all is true; include surrounding lines to make it unique.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "File path relative to the workspace root."},
                    "old_string": {"type": "string", "description": "The exact text to replace."},
                    "new_string": {"type": "string", "description": "The text to put in its place."},
                    "replace_all": {"type": "boolean", "description": "Replace every occurrence. Default false."}
                },
                "required": ["path", "old_string", "new_string"],
                "additionalProperties": false
            }),
        ),
        DELETE_FILE => (
            "Delete a file you have read. The original is backed up and can be restored by a \
             rollback.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "File path relative to the workspace root."}
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        ),
        RUN_COMMAND => (
            "Run a command in the workspace and get its exit code and (capped) output. Give \
             either `argv` (program and arguments, no shell) or `command` (a shell line run \
             with `sh -c`). Commands may need a person's approval; a denial comes back as an \
             error with the reason. Commands that run too long are killed.",
            json!({
                "type": "object",
                "properties": {
                    "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Program and arguments, e.g. [\"cargo\", \"test\"]."},
                    "command": {"type": "string", "description": "A shell line, e.g. `python3 -m unittest -v`."},
                    "cwd": {"type": "string", "description": "Working directory relative to the workspace root. Default: the root."}
                },
                "additionalProperties": false
            }),
        ),
        _ => return None,
    };
    Some(ToolDef {
        name: name.to_string(),
        description: description.to_string(),
        input_schema: schema,
    })
}
