//! Batched, idempotent writing of listens.
//!
//! Every importer (files, the Last.fm API, the player) hands listens with
//! display names to a [`ListenResolver`]. It resolves users, artists and
//! tracks against in-memory maps of the library (so a million-row import
//! never queries SQLite per row) and assigns ids to new entities itself. A
//! [`ResolvedBatch`] remembers the id maxima it was resolved against;
//! [`write_batch`] checks them inside the write transaction, so a batch
//! resolved before another process added entities is refused rather than
//! written with clashing ids.
//!
//! Resolution needs no connection, so importers run it on the reader thread,
//! overlapping with the previous batch's write: the resolver absorbs each
//! batch's new entities at once. If a write fails the import stops, and the
//! resolver (which only lives for one import) is dropped with it.

use rustc_hash::FxHashMap as HashMap;
use sqlx::{Row, SqliteConnection};

use crate::identity::{artist_key, canonical_mbid, track_key};
use crate::store::{UserId, now_secs};
use crate::{Error, Result};

/// A listen as an importer read it, before identity resolution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewListen {
    /// The user named in the source (multi-user formats); `None` means the
    /// resolver's default user.
    pub user: Option<String>,
    /// Start of playback, UTC seconds.
    pub played_at: i64,
    /// Artist name as the source spells it.
    pub artist: String,
    /// Artist MBID, if the source has one (validated here).
    pub artist_mbid: Option<String>,
    /// Track title as the source spells it.
    pub title: String,
    /// Recording MBID, if the source has one (validated here).
    pub track_mbid: Option<String>,
    /// Album title.
    pub album: Option<String>,
    /// Release MBID.
    pub album_mbid: Option<String>,
    /// Track duration.
    pub duration_ms: Option<i64>,
    /// How long it was played, when the source says.
    pub ms_played: Option<i64>,
    /// Whether it was skipped, when the source says.
    pub skipped: Option<bool>,
    /// An id in another catalogue: (namespace, id), e.g. ("spotify", "6pHL...").
    pub external_id: Option<(&'static str, String)>,
}

/// What writing one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Listens inserted.
    pub added: u64,
    /// Listens already in the store (same user, track and time).
    pub duplicates: u64,
    /// Tracks created.
    pub new_tracks: u64,
}

#[derive(Debug, Clone, Copy)]
struct KnownTrack {
    id: i64,
    has_mbid: bool,
}

#[derive(Debug, Clone, Copy)]
struct ResolvedListen {
    user: i64,
    played_at: i64,
    track: i64,
    ms_played: Option<i64>,
    skipped: Option<bool>,
}

#[derive(Debug)]
struct NewArtist {
    id: i64,
    name: String,
    key: String,
    mbid: Option<String>,
}

#[derive(Debug)]
struct NewTrack {
    id: i64,
    artist: i64,
    title: String,
    album: Option<String>,
    album_mbid: Option<String>,
    duration_ms: Option<i64>,
    mbid: Option<String>,
    key: String,
}

/// Id maxima of the library's users, artists and tracks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Maxima {
    user: i64,
    artist: i64,
    track: i64,
}

/// A batch resolved to ids, ready for [`write_batch`].
#[derive(Debug, Default)]
pub struct ResolvedBatch {
    listens: Vec<ResolvedListen>,
    new_users: Vec<(i64, String)>,
    new_artists: Vec<NewArtist>,
    new_tracks: Vec<NewTrack>,
    new_external_ids: Vec<(&'static str, String, i64)>,
    track_mbid_updates: Vec<(i64, String)>,
    artist_mbid_updates: Vec<(i64, String)>,
    /// The maxima the store must have when this batch is written.
    expected: Maxima,
}

impl ResolvedBatch {
    /// Number of listens in the batch.
    pub fn len(&self) -> usize {
        self.listens.len()
    }

    /// Whether the batch has no listens.
    pub fn is_empty(&self) -> bool {
        self.listens.is_empty()
    }
}

/// Resolves listens to ids. See the module docs.
#[derive(Debug)]
pub struct ListenResolver {
    default_user: UserId,
    users: HashMap<String, i64>,
    // Raw (artist, title, mbid, external id) → track, so that a row seen
    // before skips normalisation entirely.
    raw_tracks: HashMap<String, i64>,
    tracks_by_key: HashMap<String, KnownTrack>,
    tracks_by_mbid: HashMap<String, i64>,
    tracks_by_external: HashMap<(&'static str, String), i64>,
    artists_by_key: HashMap<String, (i64, bool)>,
    artists_by_mbid: HashMap<String, i64>,
    maxima: Maxima,
    key_buffer: String,
}

/// Rows per multi-row INSERT: 7 columns × 2048 rows stays below SQLite's
/// limit of 32,766 parameters, and one statement text per table lets sqlx
/// cache the prepared statement.
const ROWS_PER_STATEMENT: usize = 2048;

impl ListenResolver {
    /// Loads the library's identities. `default_user` receives listens that
    /// do not name a user.
    pub async fn load(conn: &mut SqliteConnection, default_user: UserId) -> Result<ListenResolver> {
        let mut resolver = ListenResolver {
            default_user,
            users: HashMap::default(),
            raw_tracks: HashMap::default(),
            tracks_by_key: HashMap::default(),
            tracks_by_mbid: HashMap::default(),
            tracks_by_external: HashMap::default(),
            artists_by_key: HashMap::default(),
            artists_by_mbid: HashMap::default(),
            maxima: Maxima::default(),
            key_buffer: String::with_capacity(256),
        };
        for row in sqlx::query("SELECT id, name FROM users")
            .fetch_all(&mut *conn)
            .await?
        {
            let id: i64 = row.try_get(0)?;
            resolver.users.insert(row.try_get(1)?, id);
            resolver.maxima.user = resolver.maxima.user.max(id);
        }
        for row in sqlx::query("SELECT id, name_key, mbid FROM artists ORDER BY id")
            .fetch_all(&mut *conn)
            .await?
        {
            let id: i64 = row.try_get(0)?;
            let mbid: Option<String> = row.try_get(2)?;
            resolver
                .artists_by_key
                .entry(row.try_get(1)?)
                .or_insert((id, mbid.is_some()));
            if let Some(mbid) = mbid {
                resolver.artists_by_mbid.insert(mbid, id);
            }
            resolver.maxima.artist = id;
        }
        for row in sqlx::query("SELECT id, name_key, mbid FROM tracks ORDER BY id")
            .fetch_all(&mut *conn)
            .await?
        {
            let id: i64 = row.try_get(0)?;
            let mbid: Option<String> = row.try_get(2)?;
            resolver
                .tracks_by_key
                .entry(row.try_get(1)?)
                .or_insert(KnownTrack {
                    id,
                    has_mbid: mbid.is_some(),
                });
            if let Some(mbid) = mbid {
                resolver.tracks_by_mbid.insert(mbid, id);
            }
            resolver.maxima.track = id;
        }
        for row in sqlx::query("SELECT namespace, external_id, track_id FROM track_external_ids")
            .fetch_all(&mut *conn)
            .await?
        {
            let namespace: String = row.try_get(0)?;
            if let Some(namespace) = static_namespace(&namespace) {
                resolver
                    .tracks_by_external
                    .insert((namespace, row.try_get(1)?), row.try_get(2)?);
            }
        }
        Ok(resolver)
    }

    /// Resolves `listens` to ids, creating users, artists and tracks as needed.
    pub fn resolve(&mut self, listens: &[NewListen]) -> ResolvedBatch {
        let mut batch = ResolvedBatch {
            listens: Vec::with_capacity(listens.len()),
            expected: self.maxima,
            ..ResolvedBatch::default()
        };
        // Rows come grouped by user, so the previous row's user is usually this one's.
        let mut last_user: Option<(&str, i64)> = None;
        for listen in listens {
            let user = match (listen.user.as_deref(), last_user) {
                (Some(name), Some((last, id))) if name == last => id,
                (Some(name), _) => {
                    let id = self.user(&mut batch, name);
                    last_user = Some((name, id));
                    id
                }
                (None, _) => self.default_user.0,
            };
            let track = self.resolve_track(&mut batch, listen);
            batch.listens.push(ResolvedListen {
                user,
                played_at: listen.played_at,
                track,
                ms_played: listen.ms_played,
                skipped: listen.skipped,
            });
        }
        batch
    }

    fn user(&mut self, batch: &mut ResolvedBatch, name: &str) -> i64 {
        if let Some(id) = self.users.get(name) {
            return *id;
        }
        self.maxima.user += 1;
        let id = self.maxima.user;
        self.users.insert(name.to_owned(), id);
        batch.new_users.push((id, name.to_owned()));
        id
    }

    fn resolve_track(&mut self, batch: &mut ResolvedBatch, listen: &NewListen) -> i64 {
        let track_mbid = listen.track_mbid.as_deref().and_then(canonical_mbid);
        let mut raw_key = std::mem::take(&mut self.key_buffer);
        raw_track_key(&mut raw_key, listen, track_mbid.as_deref());
        let id = match self.raw_tracks.get(raw_key.as_str()) {
            Some(id) => *id,
            None => {
                let id = self.resolve_track_slow(batch, listen, track_mbid);
                self.raw_tracks.insert(raw_key.clone(), id);
                id
            }
        };
        self.key_buffer = raw_key;
        id
    }

    fn resolve_track_slow(
        &mut self,
        batch: &mut ResolvedBatch,
        listen: &NewListen,
        track_mbid: Option<String>,
    ) -> i64 {
        if let Some(ext) = &listen.external_id
            && let Some(id) = self.tracks_by_external.get(ext)
        {
            return *id;
        }
        let key = track_key(&listen.artist, &listen.title);
        let mut found = track_mbid
            .as_ref()
            .and_then(|mbid| self.tracks_by_mbid.get(mbid))
            .copied();
        if found.is_none()
            && let Some(known) = self.tracks_by_key.get(&key).copied()
        {
            match &track_mbid {
                // A name match carrying another recording's MBID is another track.
                Some(_) if known.has_mbid => {}
                Some(mbid) => {
                    batch.track_mbid_updates.push((known.id, mbid.clone()));
                    self.tracks_by_mbid.insert(mbid.clone(), known.id);
                    self.tracks_by_key.insert(
                        key.clone(),
                        KnownTrack {
                            id: known.id,
                            has_mbid: true,
                        },
                    );
                    found = Some(known.id);
                }
                None => found = Some(known.id),
            }
        }
        let id = match found {
            Some(id) => id,
            None => {
                let artist = self.resolve_artist(batch, listen);
                self.maxima.track += 1;
                let id = self.maxima.track;
                if let Some(mbid) = &track_mbid {
                    self.tracks_by_mbid.insert(mbid.clone(), id);
                }
                self.tracks_by_key.entry(key.clone()).or_insert(KnownTrack {
                    id,
                    has_mbid: track_mbid.is_some(),
                });
                batch.new_tracks.push(NewTrack {
                    id,
                    artist,
                    title: listen.title.clone(),
                    album: listen.album.clone().filter(|a| !a.is_empty()),
                    album_mbid: listen.album_mbid.as_deref().and_then(canonical_mbid),
                    duration_ms: listen.duration_ms.filter(|d| *d > 0),
                    mbid: track_mbid,
                    key,
                });
                id
            }
        };
        if let Some(ext) = &listen.external_id {
            batch.new_external_ids.push((ext.0, ext.1.clone(), id));
            self.tracks_by_external.insert(ext.clone(), id);
        }
        id
    }

    fn resolve_artist(&mut self, batch: &mut ResolvedBatch, listen: &NewListen) -> i64 {
        let mbid = listen.artist_mbid.as_deref().and_then(canonical_mbid);
        if let Some(id) = mbid.as_ref().and_then(|mbid| self.artists_by_mbid.get(mbid)) {
            return *id;
        }
        let key = artist_key(&listen.artist);
        if let Some((id, has_mbid)) = self.artists_by_key.get(&key).copied() {
            match &mbid {
                Some(_) if has_mbid => {}
                Some(mbid) => {
                    batch.artist_mbid_updates.push((id, mbid.clone()));
                    self.artists_by_mbid.insert(mbid.clone(), id);
                    self.artists_by_key.insert(key, (id, true));
                    return id;
                }
                None => return id,
            }
        }
        self.maxima.artist += 1;
        let id = self.maxima.artist;
        if let Some(mbid) = &mbid {
            self.artists_by_mbid.insert(mbid.clone(), id);
        }
        self.artists_by_key
            .entry(key.clone())
            .or_insert((id, mbid.is_some()));
        batch.new_artists.push(NewArtist {
            id,
            name: listen.artist.clone(),
            key,
            mbid,
        });
        id
    }
}

async fn store_maxima(conn: &mut SqliteConnection) -> Result<Maxima> {
    let (user, artist, track): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(max(id), 0) FROM users), (SELECT coalesce(max(id), 0) FROM artists), \
         (SELECT coalesce(max(id), 0) FROM tracks)",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Maxima { user, artist, track })
}

/// Writes a resolved batch inside the caller's write transaction, attributing
/// its listens to `source` and `import_run`.
///
/// Fails with [`Error::ConcurrentWrite`] when the library gained users,
/// artists or tracks since the batch was resolved.
pub async fn write_batch(
    conn: &mut SqliteConnection,
    batch: &ResolvedBatch,
    source: &str,
    import_run: Option<i64>,
) -> Result<BatchCounts> {
    if store_maxima(conn).await? != batch.expected {
        return Err(Error::ConcurrentWrite);
    }
    let now = now_secs();
    for (id, name) in &batch.new_users {
        sqlx::query("INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    insert_rows(
        conn,
        "INSERT INTO artists (id, name, name_key, mbid) VALUES ",
        4,
        "",
        &batch.new_artists,
        |query, artist| {
            query
                .bind(artist.id)
                .bind(&artist.name)
                .bind(&artist.key)
                .bind(&artist.mbid)
        },
    )
    .await?;
    for (id, mbid) in &batch.artist_mbid_updates {
        sqlx::query("UPDATE artists SET mbid = ? WHERE id = ? AND mbid IS NULL")
            .bind(mbid)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    insert_rows(
        conn,
        "INSERT INTO tracks (id, artist_id, title, album, album_mbid, duration_ms, mbid, name_key) VALUES ",
        8,
        "",
        &batch.new_tracks,
        |query, track| {
            query
                .bind(track.id)
                .bind(track.artist)
                .bind(&track.title)
                .bind(&track.album)
                .bind(&track.album_mbid)
                .bind(track.duration_ms)
                .bind(&track.mbid)
                .bind(&track.key)
        },
    )
    .await?;
    for (id, mbid) in &batch.track_mbid_updates {
        sqlx::query("UPDATE tracks SET mbid = ? WHERE id = ? AND mbid IS NULL")
            .bind(mbid)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    insert_rows(
        conn,
        "INSERT INTO track_external_ids (namespace, external_id, track_id) VALUES ",
        3,
        " ON CONFLICT DO NOTHING",
        &batch.new_external_ids,
        |query, (namespace, external_id, track)| query.bind(*namespace).bind(external_id).bind(track),
    )
    .await?;
    let added = insert_rows(
        conn,
        "INSERT INTO listens (user_id, played_at, track_id, source, ms_played, skipped, import_run_id) VALUES ",
        7,
        " ON CONFLICT DO NOTHING",
        &batch.listens,
        |query, listen| {
            query
                .bind(listen.user)
                .bind(listen.played_at)
                .bind(listen.track)
                .bind(source)
                .bind(listen.ms_played)
                .bind(listen.skipped)
                .bind(import_run)
        },
    )
    .await?;
    Ok(BatchCounts {
        added,
        duplicates: batch.listens.len() as u64 - added,
        new_tracks: batch.new_tracks.len() as u64,
    })
}

/// Writes the raw identity of a listen's track into `key`.
fn raw_track_key(key: &mut String, listen: &NewListen, track_mbid: Option<&str>) {
    let (namespace, external) = match &listen.external_id {
        Some((namespace, id)) => (*namespace, id.as_str()),
        None => ("", ""),
    };
    key.clear();
    for part in [
        listen.artist.as_str(),
        &listen.title,
        track_mbid.unwrap_or(""),
        namespace,
        external,
    ] {
        key.push_str(part);
        key.push('\u{1f}');
    }
}

/// The namespaces of external ids, as `'static` strings.
pub const EXTERNAL_NAMESPACES: [&str; 3] = ["spotify", "30music", "isrc"];

fn static_namespace(namespace: &str) -> Option<&'static str> {
    EXTERNAL_NAMESPACES.iter().copied().find(|n| *n == namespace)
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Inserts `rows` with multi-row statements of [`ROWS_PER_STATEMENT`] rows;
/// returns how many rows were inserted.
async fn insert_rows<T>(
    conn: &mut SqliteConnection,
    prefix: &str,
    columns: usize,
    suffix: &str,
    rows: &[T],
    bind: impl for<'q> Fn(SqliteQuery<'q>, &'q T) -> SqliteQuery<'q>,
) -> Result<u64> {
    let mut inserted = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row_sql(prefix, columns, chunk.len(), suffix);
        let query = chunk.iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), &bind);
        inserted += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

fn multi_row_sql(prefix: &str, columns: usize, rows: usize, suffix: &str) -> String {
    let row = format!("({})", vec!["?"; columns].join(","));
    let mut sql = String::with_capacity(prefix.len() + rows * (row.len() + 1) + suffix.len());
    sql.push_str(prefix);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&row);
    }
    sql.push_str(suffix);
    sql
}
