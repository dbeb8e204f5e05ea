//! What the app keeps between commands: the open library and the settings.

use std::path::PathBuf;

use segue_core::Store;
use segue_core::settings::Settings;
use tokio::sync::{Mutex, RwLock};

/// Shared state of the app.
pub struct AppState {
    /// The listening store.
    pub store: Store,
    /// The settings and where they are saved.
    pub settings: RwLock<Settings>,
    /// Held while an import runs: imports write one at a time.
    pub import_lock: Mutex<()>,
}

impl AppState {
    /// Opens the library and settings where the CLI finds them too.
    pub async fn open() -> segue_core::Result<AppState> {
        let settings_path = match std::env::var_os("SEGUE_SETTINGS") {
            Some(path) => PathBuf::from(path),
            None => Settings::default_path()?,
        };
        let settings = Settings::load(&settings_path)?;
        let store = Store::open(&segue_core::paths::store_path(None)?).await?;
        Ok(AppState {
            store,
            settings: RwLock::new(settings),
            import_lock: Mutex::new(()),
        })
    }
}
