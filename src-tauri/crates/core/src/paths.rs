//! Where Segue keeps its files.
//!
//! The CLI and the desktop app share one library, so both resolve paths here
//! rather than through Tauri's path API: `$XDG_DATA_HOME/segue/` for the
//! store and models, `$XDG_CONFIG_HOME/segue/` for settings. `SEGUE_DB` and
//! `--db` override the store's file; `SEGUE_DATA_DIR` moves everything.

use std::path::PathBuf;

use crate::{Error, Result};

/// The file name of the listening store inside the data folder.
pub const STORE_FILE_NAME: &str = "library.sqlite";

fn project_dirs() -> Result<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "segue").ok_or(Error::Setting {
        setting: "data folder",
        reason: "no home folder found; set SEGUE_DATA_DIR or pass --db".to_owned(),
    })
}

/// The folder for the store, models and caches.
pub fn data_dir() -> Result<PathBuf> {
    match std::env::var_os("SEGUE_DATA_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Ok(project_dirs()?.data_dir().to_path_buf()),
    }
}

/// The folder for the settings file.
pub fn config_dir() -> Result<PathBuf> {
    match std::env::var_os("SEGUE_DATA_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Ok(project_dirs()?.config_dir().to_path_buf()),
    }
}

/// The store file: `explicit` (from `--db`), else `SEGUE_DB`, else the data folder's.
pub fn store_path(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    match std::env::var_os("SEGUE_DB") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Ok(data_dir()?.join(STORE_FILE_NAME)),
    }
}
