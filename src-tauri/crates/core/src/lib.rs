//! `segue-core`: Segue's domain and its I/O.
//!
//! Everything a host (the CLI, the desktop app) needs lives here: the local
//! listening store, the importers, sessionization and the pipeline. Hosts stay
//! thin: they parse input, call this crate, and render what it returns.
//! Progress of long work flows through the host-neutral [`progress::Progress`]
//! trait so that the CLI can draw bars and the app can stream events.

pub mod error;
pub mod eval;
pub mod features;
pub mod identity;
pub mod import;
pub mod models;
pub mod paths;
pub mod pipeline;
pub mod progress;
pub mod sessions;
pub mod settings;
pub mod stats;
pub mod store;

pub use error::{Error, Result};
pub use store::{Store, TrackId, UserId};
