//! Shared helpers: a library in a temporary folder, fixture paths, and
//! direct SQL counts that check the store independently of its own API.

use std::path::{Path, PathBuf};

use segue_core::Store;
use segue_core::import::{FileImportOptions, ImportFormat, ImportReport, import_file};
use segue_core::progress::NoProgress;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};

/// A fixture file of this test binary.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/core/fixtures")
        .join(name)
}

/// The shared real data folder beside the repository, when it is there.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../shared/data")
        .join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} is not there (../shared/data is beside the repo on dev and CI machines)",
            path.display()
        );
        None
    }
}

/// A real SQLite library file in a temporary folder.
pub struct TestLibrary {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl TestLibrary {
    pub async fn new() -> TestLibrary {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = Store::open(&dir.path().join("library.sqlite"))
            .await
            .expect("open store");
        TestLibrary { dir, store }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("library.sqlite")
    }

    /// Imports one file with default options (format detected, user "me").
    pub async fn import(&self, path: &Path) -> segue_core::Result<ImportReport> {
        self.import_with(path, None, "me").await
    }

    pub async fn import_with(
        &self,
        path: &Path,
        format: Option<ImportFormat>,
        user: &str,
    ) -> segue_core::Result<ImportReport> {
        let options = FileImportOptions {
            format,
            user: user.to_owned(),
            batch_size: 3,
        };
        import_file(&self.store, path, &options, &NoProgress).await
    }

    /// A separate connection, to check the file independently of `Store`.
    pub async fn raw(&self) -> SqliteConnection {
        SqliteConnectOptions::new()
            .filename(self.db_path())
            .read_only(true)
            .connect()
            .await
            .expect("raw connection")
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        let mut conn = self.raw().await;
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.expect(sql)
    }
}
