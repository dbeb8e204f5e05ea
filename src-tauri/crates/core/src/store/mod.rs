//! The local listening store: one SQLite file, opened through sqlx.
//!
//! The schema lives in `migrations/` and is embedded with `sqlx::migrate!`,
//! so a binary always carries the schema it expects. The file runs in WAL
//! mode so that the app can read (history, suggestions) while an import
//! writes. Bulk writes go through [`writer::ListenWriter`].

pub mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{Error, Result};

/// A user of the library (the listener, or one user of a research data set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// A track of the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TrackId(pub i64);

/// The part of a listen that sessionization needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenRow {
    /// Who listened.
    pub user: UserId,
    /// When playback started (UTC seconds).
    pub played_at: i64,
    /// What was played.
    pub track: TrackId,
}

/// A user and how much they listened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    /// The user's id.
    pub id: UserId,
    /// The user's name.
    pub name: String,
    /// How many listens the user has.
    pub listens: i64,
}

/// A track with its display names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackInfo {
    /// The track's id.
    pub id: TrackId,
    /// The artist's name.
    pub artist: String,
    /// The title.
    pub title: String,
    /// The album, when known.
    pub album: Option<String>,
    /// The recording's MusicBrainz id, when known.
    pub mbid: Option<String>,
    /// The duration, when known.
    pub duration_ms: Option<i64>,
}

/// The listening store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across application crashes; only an OS
            // crash can lose the last transactions, which a re-import restores.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-262144")
            .pragma("mmap_size", "1073741824")
            .pragma("wal_autocheckpoint", "16384")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| Error::Migrate {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Store {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// The connection pool, for modules of this crate.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// The id of the user called `name`, if there is one.
    pub async fn user_id(&self, name: &str) -> Result<Option<UserId>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.map(UserId))
    }

    /// The id of the user called `name`, or [`Error::NotFound`].
    pub async fn require_user(&self, name: &str) -> Result<UserId> {
        self.user_id(name).await?.ok_or_else(|| Error::NotFound {
            kind: "user",
            name: name.to_owned(),
        })
    }

    /// The id of the user called `name`, creating the user if needed.
    pub async fn ensure_user(&self, name: &str) -> Result<UserId> {
        sqlx::query("INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now_secs())
            .execute(&self.pool)
            .await?;
        self.require_user(name).await
    }

    /// Every user with their listen counts, by name.
    pub async fn users(&self) -> Result<Vec<UserSummary>> {
        let rows = sqlx::query(
            "SELECT u.id, u.name, (SELECT count(*) FROM listens l WHERE l.user_id = u.id) AS listens \
             FROM users u ORDER BY u.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UserSummary {
                    id: UserId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    listens: row.try_get("listens")?,
                })
            })
            .collect()
    }

    /// All listens of `user` (or of everyone), ordered by user then time,
    /// which is the primary key's order and so needs no sort.
    pub async fn listens_in_order(&self, user: Option<UserId>) -> Result<Vec<ListenRow>> {
        let query = match user {
            Some(user) => sqlx::query_as::<_, (i64, i64, i64)>(
                "SELECT user_id, played_at, track_id FROM listens WHERE user_id = ? \
                 ORDER BY user_id, played_at, track_id",
            )
            .bind(user.0),
            None => sqlx::query_as::<_, (i64, i64, i64)>(
                "SELECT user_id, played_at, track_id FROM listens ORDER BY user_id, played_at, track_id",
            ),
        };
        let mut rows = query.fetch(&self.pool);
        let mut listens = Vec::new();
        while let Some((user, played_at, track)) = rows.try_next().await? {
            listens.push(ListenRow {
                user: UserId(user),
                played_at,
                track: TrackId(track),
            });
        }
        Ok(listens)
    }

    /// Display information of the given tracks (unknown ids are left out).
    pub async fn tracks(&self, ids: &[TrackId]) -> Result<Vec<TrackInfo>> {
        let mut infos = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT t.id, a.name AS artist, t.title, t.album, t.mbid, t.duration_ms \
                 FROM tracks t JOIN artists a ON a.id = t.artist_id WHERE t.id IN ({placeholders})"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.0);
            }
            for row in query.fetch_all(&self.pool).await? {
                infos.push(TrackInfo {
                    id: TrackId(row.try_get("id")?),
                    artist: row.try_get("artist")?,
                    title: row.try_get("title")?,
                    album: row.try_get("album")?,
                    mbid: row.try_get("mbid")?,
                    duration_ms: row.try_get("duration_ms")?,
                });
            }
        }
        let order: std::collections::HashMap<TrackId, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        infos.sort_by_key(|info| order.get(&info.id).copied().unwrap_or(usize::MAX));
        Ok(infos)
    }
}

/// Now, in UTC seconds.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
