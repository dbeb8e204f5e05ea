//! Host-neutral progress reporting.
//!
//! Long work (imports, training, analysis) reports through [`Progress`] so
//! that `segue-core` never knows whether a terminal progress bar or a Tauri
//! channel is listening, and checks [`Progress::is_cancelled`] between units
//! of work so that every host can offer a cancel button.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// What a progress count counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Bytes of an input file.
    Bytes,
    /// Pages of a paged API.
    Pages,
    /// Records (rows, listens).
    Records,
    /// Training steps.
    Steps,
    /// Items of any other kind.
    Items,
}

/// One progress event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// A task started; `total` is known for files and paged APIs.
    Started {
        /// Human-readable task name ("import lastfm_scrobbles.csv").
        task: String,
        /// How many units the task has, when known.
        total: Option<u64>,
        /// What the units are.
        unit: Unit,
    },
    /// The task advanced to `done` units.
    Advanced {
        /// Units done so far.
        done: u64,
        /// The total, which a paged API may learn only after its first page.
        total: Option<u64>,
        /// Listens written so far, for imports.
        listens: u64,
        /// Problems (malformed rows, rejected timestamps) so far.
        problems: u64,
    },
    /// A note worth showing (a retry, a skipped file).
    Note {
        /// The note.
        message: String,
    },
    /// A training step or epoch (loss, validation HitRatio@10, throughput).
    Training {
        /// What happened.
        event: segue_models::nn::train::TrainingEvent,
    },
    /// The task ended (successfully or not; the result says which).
    Finished,
}

/// Receives progress events and answers whether the user cancelled.
pub trait Progress: Send + Sync {
    /// Receives one event.
    fn report(&self, event: ProgressEvent);

    /// Whether the user asked to stop; work checks this between units.
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// Discards events; for callers that do not show progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _event: ProgressEvent) {}
}

/// A cancel flag that hosts share with the work they started.
#[derive(Debug, Default, Clone)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelFlag::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
