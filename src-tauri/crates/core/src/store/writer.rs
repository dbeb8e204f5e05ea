//! Batched, idempotent writing of listens.
//!
//! Every importer (files, the Last.fm API, the player) hands listens with
//! display names to a [`ListenWriter`]. It resolves users, artists and tracks
//! against in-memory maps of the library (so a million-row import does not
//! query SQLite per row), assigns ids for new entities itself while it holds
//! the write lock, and inserts with multi-row statements. A batch is prepared
//! in memory, written inside the caller's transaction, and only absorbed into
//! the maps after the caller committed: a rolled-back batch leaves no trace.

use std::collections::HashMap;

use sqlx::{Row, SqliteConnection};

use crate::Result;
use crate::identity::{artist_key, canonical_mbid, track_key};
use crate::store::{TrackId, UserId, now_secs};

/// A listen as an importer read it, before identity resolution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewListen {
    /// The user named in the source (multi-user formats); `None` means the
    /// writer's default user.
    pub user: Option<String>,
    /// Start of playback, UTC seconds.
    pub played_at: i64,
    /// Artist name as the source spells it.
    pub artist: String,
    /// Artist MBID, if the source has one (validated by the writer).
    pub artist_mbid: Option<String>,
    /// Track title as the source spells it.
    pub title: String,
    /// Recording MBID, if the source has one (validated by the writer).
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

/// A listen resolved to ids, ready to insert.
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

/// A batch resolved in memory and not yet written.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    listens: Vec<ResolvedListen>,
    new_artists: Vec<NewArtist>,
    new_tracks: Vec<NewTrack>,
    new_external_ids: Vec<(&'static str, String, i64)>,
    track_mbid_updates: Vec<(i64, String)>,
    artist_mbid_updates: Vec<(i64, String)>,
    new_users: Vec<(String, i64)>,
    // Entries this batch added, merged into the writer's maps on absorb.
    raw_tracks: HashMap<String, i64>,
    tracks_by_key: HashMap<String, KnownTrack>,
    tracks_by_mbid: HashMap<String, i64>,
    tracks_by_external: HashMap<(&'static str, String), i64>,
    artists_by_key: HashMap<String, (i64, bool)>,
    artists_by_mbid: HashMap<String, i64>,
    next_artist_id: i64,
    next_track_id: i64,
}

impl PreparedBatch {
    /// Number of listens in the batch.
    pub fn len(&self) -> usize {
        self.listens.len()
    }

    /// Whether the batch has no listens.
    pub fn is_empty(&self) -> bool {
        self.listens.is_empty()
    }
}

/// Resolves and writes listens in batches. See the module docs.
#[derive(Debug)]
pub struct ListenWriter {
    source: &'static str,
    import_run: Option<i64>,
    default_user: Option<UserId>,
    users: HashMap<String, i64>,
    // Raw (artist, title, mbid, external id) → track, so that a row seen
    // before skips normalisation entirely.
    raw_tracks: HashMap<String, i64>,
    tracks_by_key: HashMap<String, KnownTrack>,
    tracks_by_mbid: HashMap<String, i64>,
    tracks_by_external: HashMap<(&'static str, String), i64>,
    artists_by_key: HashMap<String, (i64, bool)>,
    artists_by_mbid: HashMap<String, i64>,
    max_artist_id: i64,
    max_track_id: i64,
}

/// Rows per multi-row INSERT: 7 columns × 128 rows stays far below SQLite's
/// parameter limit, and one statement text per table lets sqlx cache it.
const ROWS_PER_STATEMENT: usize = 128;

impl ListenWriter {
    /// A writer for listens from `source` (an import format name or
    /// "player"), attributed to `import_run` when there is one.
    pub fn new(
        source: &'static str,
        import_run: Option<i64>,
        default_user: Option<UserId>,
    ) -> Self {
        ListenWriter {
            source,
            import_run,
            default_user,
            users: HashMap::new(),
            raw_tracks: HashMap::new(),
            tracks_by_key: HashMap::new(),
            tracks_by_mbid: HashMap::new(),
            tracks_by_external: HashMap::new(),
            artists_by_key: HashMap::new(),
            artists_by_mbid: HashMap::new(),
            max_artist_id: 0,
            max_track_id: 0,
        }
    }

    /// Brings the maps up to date with what is in the store. Call inside the
    /// write transaction before [`ListenWriter::prepare`]: another process may
    /// have added tracks since the last batch, and ids are assigned from the
    /// maxima read here.
    pub async fn sync(&mut self, conn: &mut SqliteConnection) -> Result<()> {
        let (max_artist, max_track): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT coalesce(max(id), 0) FROM artists), (SELECT coalesce(max(id), 0) FROM tracks)",
        )
        .fetch_one(&mut *conn)
        .await?;
        if max_artist != self.max_artist_id {
            let rows =
                sqlx::query("SELECT id, name_key, mbid FROM artists WHERE id > ? ORDER BY id")
                    .bind(self.max_artist_id)
                    .fetch_all(&mut *conn)
                    .await?;
            for row in rows {
                let id: i64 = row.try_get(0)?;
                let key: String = row.try_get(1)?;
                let mbid: Option<String> = row.try_get(2)?;
                self.artists_by_key
                    .entry(key)
                    .or_insert((id, mbid.is_some()));
                if let Some(mbid) = mbid {
                    self.artists_by_mbid.insert(mbid, id);
                }
            }
            self.max_artist_id = max_artist;
        }
        if max_track != self.max_track_id {
            let rows =
                sqlx::query("SELECT id, name_key, mbid FROM tracks WHERE id > ? ORDER BY id")
                    .bind(self.max_track_id)
                    .fetch_all(&mut *conn)
                    .await?;
            for row in rows {
                let id: i64 = row.try_get(0)?;
                let key: String = row.try_get(1)?;
                let mbid: Option<String> = row.try_get(2)?;
                self.tracks_by_key.entry(key).or_insert(KnownTrack {
                    id,
                    has_mbid: mbid.is_some(),
                });
                if let Some(mbid) = mbid {
                    self.tracks_by_mbid.insert(mbid, id);
                }
            }
            let rows = sqlx::query(
                "SELECT namespace, external_id, track_id FROM track_external_ids WHERE track_id > ?",
            )
            .bind(self.max_track_id)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                let namespace: String = row.try_get(0)?;
                if let Some(namespace) = static_namespace(&namespace) {
                    self.tracks_by_external
                        .insert((namespace, row.try_get(1)?), row.try_get(2)?);
                }
            }
            self.max_track_id = max_track;
        }
        Ok(())
    }

    /// Resolves `listens` to ids in memory. New users are created at once
    /// (inside the caller's transaction) because they are rare.
    pub async fn prepare(
        &mut self,
        conn: &mut SqliteConnection,
        listens: &[NewListen],
    ) -> Result<PreparedBatch> {
        let mut batch = PreparedBatch {
            next_artist_id: self.max_artist_id + 1,
            next_track_id: self.max_track_id + 1,
            listens: Vec::with_capacity(listens.len()),
            ..PreparedBatch::default()
        };
        for listen in listens {
            let user = match &listen.user {
                Some(name) => self.user(conn, &mut batch, name).await?,
                None => match self.default_user {
                    Some(user) => user.0,
                    None => self.user(conn, &mut batch, "me").await?,
                },
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
        Ok(batch)
    }

    async fn user(
        &mut self,
        conn: &mut SqliteConnection,
        batch: &mut PreparedBatch,
        name: &str,
    ) -> Result<i64> {
        if let Some(id) = self.users.get(name) {
            return Ok(*id);
        }
        if let Some((_, id)) = batch.new_users.iter().find(|(n, _)| n == name) {
            return Ok(*id);
        }
        sqlx::query(
            "INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now_secs())
        .execute(&mut *conn)
        .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
        batch.new_users.push((name.to_owned(), id));
        Ok(id)
    }

    fn resolve_track(&self, batch: &mut PreparedBatch, listen: &NewListen) -> i64 {
        let track_mbid = listen.track_mbid.as_deref().and_then(canonical_mbid);
        let raw_key = raw_track_key(listen, track_mbid.as_deref());
        if let Some(id) = self
            .raw_tracks
            .get(&raw_key)
            .or_else(|| batch.raw_tracks.get(&raw_key))
        {
            return *id;
        }
        let id = self.resolve_track_slow(batch, listen, track_mbid);
        batch.raw_tracks.insert(raw_key, id);
        id
    }

    fn resolve_track_slow(
        &self,
        batch: &mut PreparedBatch,
        listen: &NewListen,
        track_mbid: Option<String>,
    ) -> i64 {
        let external = listen.external_id.clone();
        if let Some(ext) = &external
            && let Some(id) = self
                .tracks_by_external
                .get(ext)
                .or_else(|| batch.tracks_by_external.get(ext))
        {
            return *id;
        }
        let found = track_mbid
            .as_ref()
            .and_then(|mbid| {
                self.tracks_by_mbid
                    .get(mbid)
                    .or_else(|| batch.tracks_by_mbid.get(mbid))
            })
            .copied();
        let key = track_key(&listen.artist, &listen.title);
        let found = found.or_else(|| {
            let known = *self
                .tracks_by_key
                .get(&key)
                .or_else(|| batch.tracks_by_key.get(&key))?;
            match &track_mbid {
                // A name match with another recording's MBID is another track.
                Some(_) if known.has_mbid => None,
                Some(mbid) => {
                    batch.track_mbid_updates.push((known.id, mbid.clone()));
                    batch.tracks_by_mbid.insert(mbid.clone(), known.id);
                    batch.tracks_by_key.insert(
                        key.clone(),
                        KnownTrack {
                            id: known.id,
                            has_mbid: true,
                        },
                    );
                    Some(known.id)
                }
                None => Some(known.id),
            }
        });
        let id = match found {
            Some(id) => id,
            None => {
                let artist = self.resolve_artist(batch, listen);
                let id = batch.next_track_id;
                batch.next_track_id += 1;
                if let Some(mbid) = &track_mbid {
                    batch.tracks_by_mbid.insert(mbid.clone(), id);
                }
                if !self.tracks_by_key.contains_key(&key) {
                    batch
                        .tracks_by_key
                        .entry(key.clone())
                        .or_insert(KnownTrack {
                            id,
                            has_mbid: track_mbid.is_some(),
                        });
                }
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
        if let Some(ext) = external {
            batch.new_external_ids.push((ext.0, ext.1.clone(), id));
            batch.tracks_by_external.insert(ext, id);
        }
        id
    }

    fn resolve_artist(&self, batch: &mut PreparedBatch, listen: &NewListen) -> i64 {
        let mbid = listen.artist_mbid.as_deref().and_then(canonical_mbid);
        if let Some(mbid) = &mbid
            && let Some(id) = self
                .artists_by_mbid
                .get(mbid)
                .or_else(|| batch.artists_by_mbid.get(mbid))
        {
            return *id;
        }
        let key = artist_key(&listen.artist);
        if let Some((id, has_mbid)) = self
            .artists_by_key
            .get(&key)
            .or_else(|| batch.artists_by_key.get(&key))
            .copied()
        {
            match &mbid {
                Some(_) if has_mbid => {}
                Some(mbid) => {
                    batch.artist_mbid_updates.push((id, mbid.clone()));
                    batch.artists_by_mbid.insert(mbid.clone(), id);
                    batch.artists_by_key.insert(key, (id, true));
                    return id;
                }
                None => return id,
            }
        }
        let id = batch.next_artist_id;
        batch.next_artist_id += 1;
        if let Some(mbid) = &mbid {
            batch.artists_by_mbid.insert(mbid.clone(), id);
        }
        if !self.artists_by_key.contains_key(&key) {
            batch
                .artists_by_key
                .entry(key.clone())
                .or_insert((id, mbid.is_some()));
        }
        batch.new_artists.push(NewArtist {
            id,
            name: listen.artist.clone(),
            key,
            mbid,
        });
        id
    }

    /// Writes a prepared batch inside the caller's transaction.
    pub async fn write(
        &self,
        conn: &mut SqliteConnection,
        batch: &PreparedBatch,
    ) -> Result<BatchCounts> {
        for chunk in batch.new_artists.chunks(ROWS_PER_STATEMENT) {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(multi_row_sql(
                "INSERT INTO artists (id, name, name_key, mbid) VALUES ",
                4,
                chunk.len(),
                "",
            )));
            for artist in chunk {
                query = query
                    .bind(artist.id)
                    .bind(&artist.name)
                    .bind(&artist.key)
                    .bind(&artist.mbid);
            }
            query.execute(&mut *conn).await?;
        }
        for (id, mbid) in &batch.artist_mbid_updates {
            sqlx::query("UPDATE artists SET mbid = ? WHERE id = ? AND mbid IS NULL")
                .bind(mbid)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        for chunk in batch.new_tracks.chunks(ROWS_PER_STATEMENT) {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(multi_row_sql(
                "INSERT INTO tracks (id, artist_id, title, album, album_mbid, duration_ms, mbid, name_key) VALUES ",
                8,
                chunk.len(),
                "",
            )));
            for track in chunk {
                query = query
                    .bind(track.id)
                    .bind(track.artist)
                    .bind(&track.title)
                    .bind(&track.album)
                    .bind(&track.album_mbid)
                    .bind(track.duration_ms)
                    .bind(&track.mbid)
                    .bind(&track.key);
            }
            query.execute(&mut *conn).await?;
        }
        for (id, mbid) in &batch.track_mbid_updates {
            sqlx::query("UPDATE tracks SET mbid = ? WHERE id = ? AND mbid IS NULL")
                .bind(mbid)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        for chunk in batch.new_external_ids.chunks(ROWS_PER_STATEMENT) {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(multi_row_sql(
                "INSERT INTO track_external_ids (namespace, external_id, track_id) VALUES ",
                3,
                chunk.len(),
                " ON CONFLICT DO NOTHING",
            )));
            for (namespace, external_id, track) in chunk {
                query = query.bind(*namespace).bind(external_id).bind(track);
            }
            query.execute(&mut *conn).await?;
        }
        let mut added = 0;
        for chunk in batch.listens.chunks(ROWS_PER_STATEMENT) {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(multi_row_sql(
                "INSERT INTO listens (user_id, played_at, track_id, source, ms_played, skipped, import_run_id) VALUES ",
                7,
                chunk.len(),
                " ON CONFLICT DO NOTHING",
            )));
            for listen in chunk {
                query = query
                    .bind(listen.user)
                    .bind(listen.played_at)
                    .bind(listen.track)
                    .bind(self.source)
                    .bind(listen.ms_played)
                    .bind(listen.skipped)
                    .bind(self.import_run);
            }
            added += query.execute(&mut *conn).await?.rows_affected();
        }
        Ok(BatchCounts {
            added,
            duplicates: batch.listens.len() as u64 - added,
            new_tracks: batch.new_tracks.len() as u64,
        })
    }

    /// Merges a committed batch into the maps. Call only after the
    /// transaction that wrote it committed.
    pub fn absorb(&mut self, batch: PreparedBatch) {
        self.users.extend(batch.new_users);
        self.raw_tracks.extend(batch.raw_tracks);
        for (key, known) in batch.tracks_by_key {
            self.tracks_by_key
                .entry(key)
                .and_modify(|existing| {
                    if existing.id == known.id {
                        *existing = known;
                    }
                })
                .or_insert(known);
        }
        self.tracks_by_mbid.extend(batch.tracks_by_mbid);
        self.tracks_by_external.extend(batch.tracks_by_external);
        for (key, known) in batch.artists_by_key {
            self.artists_by_key
                .entry(key)
                .and_modify(|existing| {
                    if existing.0 == known.0 {
                        *existing = known;
                    }
                })
                .or_insert(known);
        }
        self.artists_by_mbid.extend(batch.artists_by_mbid);
        self.max_artist_id = batch.next_artist_id - 1;
        self.max_track_id = batch.next_track_id - 1;
    }

    /// The id of a track resolved earlier in this writer's life (tests, the player).
    pub fn known_track(&self, listen: &NewListen) -> Option<TrackId> {
        let mbid = listen.track_mbid.as_deref().and_then(canonical_mbid);
        self.raw_tracks
            .get(&raw_track_key(listen, mbid.as_deref()))
            .map(|id| TrackId(*id))
    }
}

fn raw_track_key(listen: &NewListen, track_mbid: Option<&str>) -> String {
    let (namespace, external) = match &listen.external_id {
        Some((namespace, id)) => (*namespace, id.as_str()),
        None => ("", ""),
    };
    let mut key = String::with_capacity(
        listen.artist.len()
            + listen.title.len()
            + track_mbid.map_or(0, str::len)
            + external.len()
            + 8,
    );
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
    key
}

/// The namespaces of external ids, as `'static` strings.
pub const EXTERNAL_NAMESPACES: [&str; 3] = ["spotify", "30music", "isrc"];

fn static_namespace(namespace: &str) -> Option<&'static str> {
    EXTERNAL_NAMESPACES
        .iter()
        .copied()
        .find(|n| *n == namespace)
}

fn multi_row_sql(prefix: &str, columns: usize, rows: usize, suffix: &str) -> String {
    let mut row = String::with_capacity(columns * 2 + 2);
    row.push('(');
    for c in 0..columns {
        if c > 0 {
            row.push(',');
        }
        row.push('?');
    }
    row.push(')');
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
