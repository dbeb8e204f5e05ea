//! User settings, shared by the CLI and the app.
//!
//! Stored as `settings.json` in the config folder with file mode 0600,
//! because it may hold API keys. Keys never appear in `Debug` output or logs:
//! they are wrapped in [`Secret`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::sessions::SessionRules;
use crate::{Error, Result};

/// The settings file name inside the config folder.
pub const SETTINGS_FILE_NAME: &str = "settings.json";

/// A string that must not be logged (API keys).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Last.fm settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LastfmSettings {
    /// The API key; `LASTFM_API_KEY` overrides it.
    pub api_key: Option<Secret>,
    /// The Last.fm user name to import by default.
    pub username: Option<String>,
}

/// Everything the user can set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The user that single-user imports and the player log to.
    pub default_user: String,
    /// Session rules (gap and minimum length).
    pub sessions: SessionRules,
    /// Last.fm access.
    pub lastfm: LastfmSettings,
    /// Where models train and run: `auto` (a GPU when one answers, else the
    /// CPU), `cpu`, `wgpu` or `cuda`. `--backend` overrides it.
    pub backend: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default_user: "me".to_owned(),
            sessions: SessionRules::default(),
            lastfm: LastfmSettings::default(),
            backend: "auto".to_owned(),
        }
    }
}

impl Settings {
    /// The settings file in the default config folder.
    pub fn default_path() -> Result<PathBuf> {
        Ok(crate::paths::config_dir()?.join(SETTINGS_FILE_NAME))
    }

    /// Loads settings from `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Settings> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| Error::SettingsFile {
                path: path.to_path_buf(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(Error::io("cannot read", path, e)),
        }
    }

    /// Writes settings to `path` atomically, readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|source| Error::SettingsFile {
            path: path.to_path_buf(),
            source,
        })?;
        let partial = path.with_extension("json.partial");
        // A stale partial file could carry wider permissions; start afresh.
        let _ = std::fs::remove_file(&partial);
        write_private(&partial, &json).map_err(|e| Error::io("cannot write", &partial, e))?;
        std::fs::rename(&partial, path).map_err(|e| Error::io("cannot replace", path, e))
    }

    /// The Last.fm API key: `LASTFM_API_KEY` first, then the settings file.
    pub fn lastfm_api_key(&self) -> Result<Secret> {
        if let Ok(key) = std::env::var("LASTFM_API_KEY")
            && !key.trim().is_empty()
        {
            return Ok(Secret::new(key.trim()));
        }
        self.lastfm.api_key.clone().ok_or(Error::Setting {
            setting: "lastfm.api_key",
            reason: "no Last.fm API key: set LASTFM_API_KEY or save one in the settings \
                     (get a key at https://www.last.fm/api/account/create)"
                .to_owned(),
        })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
