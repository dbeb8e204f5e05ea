//! `segue-models`: Segue's learning code.
//!
//! Everything here works on item indices and feature tensors: it never sees
//! SQL, HTTP or Tauri. `segue-core` maps the library to indices, calls these
//! models and maps results back.

pub mod baselines;
pub mod eval;
pub mod lsa;
pub mod nn;
pub mod word2vec;

/// Result alias of `segue-models`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `segue-models`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range.
    #[error("invalid setting {field}: {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// There is nothing to learn from.
    #[error("nothing to train on: {0}")]
    EmptyInput(String),
    /// Arrays of mismatched shapes.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Training produced a non-finite loss.
    #[error("training diverged at epoch {epoch}, step {step} (loss {loss}); try a lower learning rate")]
    Diverged {
        /// The epoch.
        epoch: usize,
        /// The step within it.
        step: usize,
        /// The loss.
        loss: f64,
    },
    /// A checkpoint is missing, of another version, truncated or inconsistent.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file's content is malformed.
    #[error("{path}, line {line}: {reason}")]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}
