//! The one error type of `segue-core`.
//!
//! Every variant keeps its cause (`#[source]`) and names what the user can act
//! on: the file and line, the API field, the setting. Hosts (CLI, app) map
//! variants to exit codes or `{code, message}` through [`Error::code`].

use std::path::PathBuf;

/// Result alias of `segue-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `segue-core`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite store failed (I/O, constraint, locked database, ...).
    #[error("listening store error: {0}")]
    Store(#[from] sqlx::Error),

    /// A schema migration failed while opening the store.
    #[error("could not migrate the listening store at {path}: {source}")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// What the migrator said.
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What Segue was doing ("cannot read", "cannot create", ...).
        action: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A file's format could not be recognised from its content.
    #[error("{path}: not a listening history Segue can read ({reason})")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was seen instead.
        reason: String,
    },

    /// A file is of a known kind that is not a listening history.
    #[error("{path}: refused: {reason}")]
    NotAListeningHistory {
        /// The file.
        path: PathBuf,
        /// Why it is not one (e.g. "Last.fm loved tracks have no plays").
        reason: String,
    },

    /// A file does not match the format the user asked for.
    #[error("{path}: not a {format} file: {reason}")]
    FormatMismatch {
        /// The file.
        path: PathBuf,
        /// The requested format.
        format: &'static str,
        /// What does not match (line and field).
        reason: String,
    },

    /// A format name given on the command line or in the app is unknown.
    #[error("unknown import format '{0}' (known: {known})", known = crate::import::ImportFormat::names().join(", "))]
    UnknownFormatName(String),

    /// Last.fm answered with an API error Segue cannot retry.
    #[error("{0}")]
    Lastfm(#[from] crate::import::lastfm::LastfmError),

    /// An HTTP request failed after all retries (network down, timeouts).
    #[error("{context}: {source}")]
    Http {
        /// What was being requested (never contains the API key).
        context: String,
        /// reqwest's error, with the URL stripped.
        #[source]
        source: reqwest::Error,
    },

    /// A setting is missing or invalid.
    #[error("setting {setting}: {reason}")]
    Setting {
        /// The setting's name, as the user writes it.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The settings file could not be parsed.
    #[error("settings file {path}: {source}")]
    SettingsFile {
        /// The settings file.
        path: PathBuf,
        /// The JSON error (line and column).
        #[source]
        source: serde_json::Error,
    },

    /// A requested entity does not exist in the store.
    #[error("{kind} '{name}' is not in the library")]
    NotFound {
        /// "user", "track", ...
        kind: &'static str,
        /// What was asked for.
        name: String,
    },

    /// The library has too little data for the request.
    #[error("not enough data: {0}")]
    NotEnoughData(String),

    /// A model failed (training, loading, shapes).
    #[error(transparent)]
    Model(#[from] segue_models::Error),

    /// Another process added to the library while an import was writing.
    #[error(
        "the library was changed by another program during the import; run the import again to resume it"
    )]
    ConcurrentWrite,

    /// The operation was cancelled by the user.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// A stable machine-readable code for hosts (CLI JSON output, the app's `{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Store(_) => "store",
            Error::Migrate { .. } => "migrate",
            Error::Io { .. } => "io",
            Error::UnknownFormat { .. } => "unknown_format",
            Error::NotAListeningHistory { .. } => "not_a_listening_history",
            Error::FormatMismatch { .. } => "format_mismatch",
            Error::UnknownFormatName(_) => "unknown_format_name",
            Error::Lastfm(e) => e.code(),
            Error::Http { .. } => "network",
            Error::Setting { .. } => "setting",
            Error::SettingsFile { .. } => "settings_file",
            Error::NotFound { .. } => "not_found",
            Error::NotEnoughData(_) => "not_enough_data",
            Error::Model(_) => "model",
            Error::ConcurrentWrite => "concurrent_write",
            Error::Cancelled => "cancelled",
        }
    }

    /// Builds an [`Error::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
