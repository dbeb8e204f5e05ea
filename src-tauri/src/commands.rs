//! Tauri commands: parse, call `segue-core`, map to DTOs.

use std::path::PathBuf;

use segue_core::import::{FileImportOptions, ImportFormat, ImportReport, import_file};
use segue_core::progress::{Progress, ProgressEvent};
use segue_core::stats::{LibraryStats, library_stats as compute_stats};
use serde::Serialize;
use tauri::State;
use tauri::ipc::Channel;

use crate::state::AppState;

/// The error every command returns: a stable code and a message for people.
#[derive(Debug, Serialize)]
pub struct CommandError {
    /// Stable machine-readable code (`segue_core::Error::code`).
    pub code: String,
    /// What happened, naming the file, line or setting.
    pub message: String,
}

impl From<segue_core::Error> for CommandError {
    fn from(error: segue_core::Error) -> Self {
        CommandError {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

type CommandResult<T> = Result<T, CommandError>;

/// Forwards core progress events to the web view.
struct ChannelProgress(Channel<ProgressEvent>);

impl Progress for ChannelProgress {
    fn report(&self, event: ProgressEvent) {
        // A closed window only means nobody is watching; the work goes on.
        let _ = self.0.send(event);
    }
}

/// Library totals under the configured session rules.
#[tauri::command]
pub async fn library_stats(state: State<'_, AppState>) -> CommandResult<LibraryStats> {
    let rules = state.settings.read().await.sessions;
    Ok(compute_stats(&state.store, None, rules).await?)
}

/// The outcome of importing one file.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Imported; the report has the counts and the first problems.
    Imported {
        /// What the import did.
        report: ImportReport,
    },
    /// Refused or failed, with the reason.
    Failed {
        /// The file.
        path: String,
        /// Why.
        error: CommandError,
    },
}

/// Imports files one after another, streaming progress.
#[tauri::command]
pub async fn import_files(
    state: State<'_, AppState>,
    paths: Vec<String>,
    format: Option<String>,
    on_progress: Channel<ProgressEvent>,
) -> CommandResult<Vec<FileOutcome>> {
    let format = format
        .filter(|f| !f.is_empty())
        .map(|f| f.parse::<ImportFormat>())
        .transpose()?;
    let options = FileImportOptions {
        format,
        user: state.settings.read().await.default_user.clone(),
        ..FileImportOptions::default()
    };
    let _guard = state.import_lock.lock().await;
    let progress = ChannelProgress(on_progress);
    let mut outcomes = Vec::with_capacity(paths.len());
    for path in paths {
        let outcome = match import_file(&state.store, &PathBuf::from(&path), &options, &progress).await {
            Ok(report) => FileOutcome::Imported { report },
            Err(error) => FileOutcome::Failed {
                path,
                error: error.into(),
            },
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
