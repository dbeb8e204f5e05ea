//! Importers: listening histories from files and from the Last.fm API.
//!
//! Every import is a row of `import_runs` whose `cursor` (records of a file,
//! pages of the API) moves in the same transaction as the listens it
//! covers. So an import can be killed at any moment: at most the open batch
//! is lost, and running the same import again resumes at the cursor. Listens
//! are unique on (user, time, track), so a re-run never duplicates anything.
//!
//! A file's format is detected from its content (or forced with a format
//! name), and checked before anything is written: a file that is not what it
//! claims fails with a message naming the file and what was found.

pub mod formats;
pub mod lastfm;

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::progress::{Progress, ProgressEvent, Unit};
use crate::store::writer::{ListenResolver, ResolvedBatch, write_batch};
use crate::store::{Store, UserId, now_secs};
use crate::{Error, Result};
use formats::{Location, Record, RecordResult};

/// The file formats Segue reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    /// Last.fm CSV exports: with a header (`artist,artist_mbid,album,...,timestamp`)
    /// or header-less `artist,album,track,date`.
    LastfmCsv,
    /// Libre.fm CSV export (UTF-7 comment lines, `Artist,Track,Album,Time`).
    LibrefmCsv,
    /// ListenBrainz export as one JSON array.
    ListenbrainzJson,
    /// ListenBrainz export as JSON lines.
    ListenbrainzJsonl,
    /// Spotify Extended Streaming History (`Streaming_History_Audio_*.json`, `endsong_*.json`).
    SpotifyExtended,
    /// Spotify Web API "recently played" response.
    SpotifyRecentlyPlayed,
    /// Rockbox / AudioScrobbler `.scrobbler.log`.
    ScrobblerLog,
    /// Last.fm-1K data set TSV (`userid, timestamp, artist-mbid, artist, track-mbid, track`).
    Lastfm1k,
    /// 30Music-style TSV (`UserId SessionId ItemId Time ArtistId`, ids only).
    ThirtyMusic,
    /// Maloja export JSON.
    Maloja,
    /// Pano Scrobbler export JSON lines.
    PanoScrobblerJsonl,
    /// Saved Last.fm API `user.getRecentTracks` JSON pages.
    LastfmApiJson,
}

impl ImportFormat {
    /// Every format, in the order detection tries them.
    pub const ALL: [ImportFormat; 12] = [
        ImportFormat::ScrobblerLog,
        ImportFormat::ThirtyMusic,
        ImportFormat::Lastfm1k,
        ImportFormat::LastfmApiJson,
        ImportFormat::Maloja,
        ImportFormat::SpotifyRecentlyPlayed,
        ImportFormat::SpotifyExtended,
        ImportFormat::ListenbrainzJson,
        ImportFormat::ListenbrainzJsonl,
        ImportFormat::PanoScrobblerJsonl,
        ImportFormat::LibrefmCsv,
        ImportFormat::LastfmCsv,
    ];

    /// The name used on the command line and in the store.
    pub fn name(self) -> &'static str {
        match self {
            ImportFormat::LastfmCsv => "lastfm-csv",
            ImportFormat::LibrefmCsv => "librefm-csv",
            ImportFormat::ListenbrainzJson => "listenbrainz-json",
            ImportFormat::ListenbrainzJsonl => "listenbrainz-jsonl",
            ImportFormat::SpotifyExtended => "spotify-extended",
            ImportFormat::SpotifyRecentlyPlayed => "spotify-recently-played",
            ImportFormat::ScrobblerLog => "scrobbler-log",
            ImportFormat::Lastfm1k => "lastfm-1k",
            ImportFormat::ThirtyMusic => "30music",
            ImportFormat::Maloja => "maloja",
            ImportFormat::PanoScrobblerJsonl => "pano-scrobbler",
            ImportFormat::LastfmApiJson => "lastfm-api-json",
        }
    }

    /// All format names, for help texts and errors.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<_> = ImportFormat::ALL.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names
    }

    /// Whether rows name their own users (research data sets).
    pub fn is_multi_user(self) -> bool {
        matches!(self, ImportFormat::Lastfm1k | ImportFormat::ThirtyMusic)
    }

    /// Checks that `head` (the first bytes of a file, as text) is of this
    /// format; the error says what was found instead.
    pub fn check(self, head: &str) -> std::result::Result<(), String> {
        let first = first_content_line(head);
        match self {
            ImportFormat::ScrobblerLog => expect(
                head.trim_start_matches('\u{feff}')
                    .starts_with("#AUDIOSCROBBLER/"),
                "the first line is not '#AUDIOSCROBBLER/<version>'",
                first,
            ),
            ImportFormat::ThirtyMusic => {
                let header: Vec<&str> = first.split('\t').map(str::trim).collect();
                expect(
                    header == ["UserId", "SessionId", "ItemId", "Time", "ArtistId"]
                        || (header.len() == 5 && header.iter().all(|f| f.parse::<u64>().is_ok())),
                    "expected the header 'UserId<TAB>SessionId<TAB>ItemId<TAB>Time<TAB>ArtistId'",
                    first,
                )
            }
            ImportFormat::Lastfm1k => {
                let fields: Vec<&str> = first.split('\t').collect();
                expect(
                    fields.len() == 6 && formats::parse_iso_time(fields[1]).is_ok(),
                    "expected 6 tab-separated fields: userid, ISO timestamp, artist-mbid, artist, track-mbid, track",
                    first,
                )
            }
            ImportFormat::LastfmCsv | ImportFormat::LibrefmCsv => {
                if self == ImportFormat::LibrefmCsv {
                    let utf7 = head.starts_with("+ACM-");
                    let header = head
                        .lines()
                        .find(|l| !l.starts_with('#') && !l.starts_with("+ACM-"));
                    let header_ok =
                        header.is_some_and(|h| h.trim().eq_ignore_ascii_case("artist,track,album,time"));
                    expect(
                        utf7 || header_ok,
                        "expected Libre.fm's 'Artist,Track,Album,Time' header",
                        first,
                    )?;
                }
                formats::csv_layout(head, self).map(|_| ())
            }
            ImportFormat::ListenbrainzJsonl | ImportFormat::PanoScrobblerJsonl => {
                let value: Value =
                    serde_json::from_str(first).map_err(|e| format!("line 1 is not a JSON object ({e})"))?;
                let keys: &[&str] = if self == ImportFormat::ListenbrainzJsonl {
                    &["listened_at", "track_metadata"]
                } else {
                    &["timeMs", "artist", "track"]
                };
                has_keys(&value, keys, "line 1")
            }
            ImportFormat::ListenbrainzJson
            | ImportFormat::SpotifyExtended
            | ImportFormat::SpotifyRecentlyPlayed
            | ImportFormat::Maloja
            | ImportFormat::LastfmApiJson => {
                let trimmed = head.trim_start_matches('\u{feff}').trim_start();
                let (keys, opening): (&[&str], char) = match self {
                    ImportFormat::ListenbrainzJson => (&["\"listened_at\"", "\"track_metadata\""], '['),
                    ImportFormat::SpotifyExtended => (&["\"ts\"", "\"ms_played\""], '['),
                    ImportFormat::SpotifyRecentlyPlayed => (&["\"items\"", "\"played_at\""], '{'),
                    ImportFormat::Maloja => (&["\"scrobbles\""], '{'),
                    _ => (&["\"recenttracks\""], '{'),
                };
                expect(
                    trimmed.starts_with(opening) && keys.iter().all(|k| head.contains(k)),
                    &format!(
                        "expected a JSON document starting with '{opening}' with the fields {}",
                        keys.join(", ")
                    ),
                    first,
                )
            }
        }
    }
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ImportFormat {
    type Err = Error;

    fn from_str(name: &str) -> Result<ImportFormat> {
        let wanted = name.trim().to_ascii_lowercase();
        ImportFormat::ALL
            .iter()
            .copied()
            .find(|f| f.name() == wanted)
            .ok_or_else(|| Error::UnknownFormatName(name.to_owned()))
    }
}

fn expect(ok: bool, what: &str, found: &str) -> std::result::Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}; found '{}'", formats::truncate(found, 120)))
    }
}

fn has_keys(value: &Value, keys: &[&str], at: &str) -> std::result::Result<(), String> {
    match keys.iter().find(|k| value.get(**k).is_none()) {
        None => Ok(()),
        Some(missing) => Err(format!("{at}: no '{missing}' field")),
    }
}

fn first_content_line(head: &str) -> &str {
    head.trim_start_matches('\u{feff}')
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

/// Bytes of a file's head used for detection and fingerprints.
const HEAD_BYTES: usize = 64 * 1024;

/// The first bytes of a file as text (a multi-byte character cut at the end is dropped).
pub(crate) fn read_head(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut file)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("cannot read", path, e))?;
    match String::from_utf8(head) {
        Ok(text) => Ok(text),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            // Only a character cut by the head's end is forgiven.
            if bytes.len() == HEAD_BYTES && bytes.len() - valid < 4 {
                Ok(String::from_utf8_lossy(&bytes[..valid]).into_owned())
            } else {
                Err(Error::UnknownFormat {
                    path: path.to_path_buf(),
                    reason: format!("not UTF-8 text (invalid byte at offset {valid})"),
                })
            }
        }
    }
}

/// Detects the format of a file from its head.
pub fn detect_format(path: &Path) -> Result<ImportFormat> {
    let head = read_head(path)?;
    detect_from_head(path, &head)
}

fn detect_from_head(path: &Path, head: &str) -> Result<ImportFormat> {
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Err(Error::UnknownFormat {
            path: path.to_path_buf(),
            reason: "the file is empty".to_owned(),
        });
    }
    if trimmed.starts_with('{') && head.contains("\"lovedtracks\"") {
        return Err(Error::NotAListeningHistory {
            path: path.to_path_buf(),
            reason:
                "this is a Last.fm loved-tracks list: it says what was loved and when, not what was played"
                    .to_owned(),
        });
    }
    for format in ImportFormat::ALL {
        if format.check(head).is_ok() {
            return Ok(format);
        }
    }
    Err(Error::UnknownFormat {
        path: path.to_path_buf(),
        reason: format!(
            "its first line is '{}'; known formats: {}",
            formats::truncate(first_content_line(head), 100),
            ImportFormat::names().join(", ")
        ),
    })
}

/// Size and SHA-256 of the head: a changed file is a new import, an
/// unchanged one resumes.
fn fingerprint(path: &Path) -> Result<String> {
    let metadata = std::fs::metadata(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut head = Vec::with_capacity(1 << 20);
    (&mut file)
        .take(1 << 20)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("cannot read", path, e))?;
    let digest = Sha256::digest(&head);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}:{hex}", metadata.len()))
}

/// A problem found in one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where ("line 12", "record 3", "page 4").
    pub location: String,
    /// What is wrong.
    pub reason: String,
}

/// Counts of one import run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    /// Records read (rows, JSON objects, API tracks).
    pub records: u64,
    /// Listens added to the store.
    pub listens_added: u64,
    /// Listens already in the store.
    pub duplicates: u64,
    /// Records that are not listens (podcasts, plays under 30 s, skips, now playing).
    pub not_listens: u64,
    /// Listens refused for a timestamp of 0 (or before 1970) or in the future.
    pub bad_timestamps: u64,
    /// Malformed records.
    pub malformed: u64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// The file or "lastfm:<user>".
    pub source: String,
    /// The format name.
    pub format: String,
    /// The import run's id.
    pub run_id: i64,
    /// Where a resumed import started (records or pages); 0 for a fresh one.
    pub resumed_at: u64,
    /// Counts over the whole run, including before a resume.
    pub counts: RunCounts,
    /// The first problems, with their locations (at most [`MAX_PROBLEMS_STORED`]).
    pub problems: Vec<Problem>,
}

/// How many problems a run keeps with their locations; the rest are counted.
pub const MAX_PROBLEMS_STORED: u64 = 100;

/// Settings of a file import.
#[derive(Debug, Clone)]
pub struct FileImportOptions {
    /// Force a format instead of detecting it.
    pub format: Option<ImportFormat>,
    /// The user single-user files belong to.
    pub user: String,
    /// Records per transaction: a kill loses at most this many.
    pub batch_size: usize,
}

impl Default for FileImportOptions {
    fn default() -> Self {
        FileImportOptions {
            format: None,
            user: "me".to_owned(),
            batch_size: 20_000,
        }
    }
}

/// Latest acceptable listen time: now plus some clock skew.
fn latest_acceptable_time() -> i64 {
    now_secs() + 10 * 60
}

/// Records classified (listens, non-listens, problems) and resolved to ids.
pub(crate) struct PreparedRecords {
    batch: ResolvedBatch,
    counts: RunCounts,
    problems: Vec<Problem>,
}

/// Classifies a batch of records and resolves its listens. Runs wherever the
/// resolver lives: the reader thread for files, inline for the API.
pub(crate) fn prepare_records(
    resolver: &mut ListenResolver,
    records: Vec<(Location, RecordResult)>,
    latest_time: i64,
) -> PreparedRecords {
    let mut listens = Vec::with_capacity(records.len());
    let mut problems = Vec::new();
    let mut counts = RunCounts {
        records: records.len() as u64,
        ..RunCounts::default()
    };
    for (location, record) in records {
        match record {
            Ok(Record::Listen(listen)) if listen.played_at <= 0 => {
                counts.bad_timestamps += 1;
                problems.push(Problem {
                    location: location.to_string(),
                    reason: format!(
                        "timestamp {} is not a real time (0 or before 1970)",
                        listen.played_at
                    ),
                });
            }
            Ok(Record::Listen(listen)) if listen.played_at > latest_time => {
                counts.bad_timestamps += 1;
                problems.push(Problem {
                    location: location.to_string(),
                    reason: format!("timestamp {} is in the future", listen.played_at),
                });
            }
            Ok(Record::Listen(listen)) => listens.push(listen),
            Ok(Record::NotAListen(_)) => counts.not_listens += 1,
            Err(reason) => {
                counts.malformed += 1;
                problems.push(Problem {
                    location: location.to_string(),
                    reason,
                });
            }
        }
    }
    PreparedRecords {
        batch: resolver.resolve(&listens),
        counts,
        problems,
    }
}

/// Commits prepared batches of one run, moving the cursor with them.
pub(crate) struct RunWriter {
    run_id: i64,
    source: &'static str,
    counts: RunCounts,
    problems_stored: u64,
}

impl RunWriter {
    async fn open(store: &Store, run_id: i64, source: &'static str) -> Result<RunWriter> {
        let row = sqlx::query(
            "SELECT records_read, listens_added, duplicates, not_listens, bad_timestamps, malformed, \
             (SELECT count(*) FROM import_problems WHERE run_id = ?1) AS problems \
             FROM import_runs WHERE id = ?1",
        )
        .bind(run_id)
        .fetch_one(store.pool())
        .await?;
        let count = |name: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(name)?.max(0) as u64) };
        Ok(RunWriter {
            run_id,
            source,
            counts: RunCounts {
                records: count("records_read")?,
                listens_added: count("listens_added")?,
                duplicates: count("duplicates")?,
                not_listens: count("not_listens")?,
                bad_timestamps: count("bad_timestamps")?,
                malformed: count("malformed")?,
            },
            problems_stored: count("problems")?,
        })
    }

    /// Writes one prepared batch and sets the run's cursor, atomically.
    async fn commit(
        &mut self,
        store: &Store,
        prepared: PreparedRecords,
        cursor: u64,
        total: Option<u64>,
    ) -> Result<()> {
        let PreparedRecords {
            batch,
            mut counts,
            problems,
        } = prepared;
        let mut tx = store.pool().begin_with("BEGIN IMMEDIATE").await?;
        let written = write_batch(&mut tx, &batch, self.source, Some(self.run_id)).await?;
        counts.listens_added = written.added;
        counts.duplicates = written.duplicates;
        let room = MAX_PROBLEMS_STORED.saturating_sub(self.problems_stored) as usize;
        for problem in problems.iter().take(room) {
            sqlx::query("INSERT INTO import_problems (run_id, location, reason) VALUES (?, ?, ?)")
                .bind(self.run_id)
                .bind(&problem.location)
                .bind(&problem.reason)
                .execute(&mut *tx)
                .await?;
        }
        let total_counts = add_counts(self.counts, counts);
        sqlx::query(
            "UPDATE import_runs SET cursor = ?, total = coalesce(?, total), records_read = ?, listens_added = ?, \
             duplicates = ?, not_listens = ?, bad_timestamps = ?, malformed = ?, updated_at = ? WHERE id = ?",
        )
        .bind(cursor as i64)
        .bind(total.map(|t| t as i64))
        .bind(total_counts.records as i64)
        .bind(total_counts.listens_added as i64)
        .bind(total_counts.duplicates as i64)
        .bind(total_counts.not_listens as i64)
        .bind(total_counts.bad_timestamps as i64)
        .bind(total_counts.malformed as i64)
        .bind(now_secs())
        .bind(self.run_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.counts = total_counts;
        self.problems_stored += problems.len().min(room) as u64;
        Ok(())
    }

    async fn finish(self, store: &Store, error: Option<&Error>) -> Result<RunCounts> {
        sqlx::query("UPDATE import_runs SET status = ?, error = ?, updated_at = ? WHERE id = ?")
            .bind(if error.is_none() { "completed" } else { "failed" })
            .bind(error.map(ToString::to_string))
            .bind(now_secs())
            .bind(self.run_id)
            .execute(store.pool())
            .await?;
        Ok(self.counts)
    }

    fn problems(&self) -> u64 {
        self.counts.malformed + self.counts.bad_timestamps
    }
}

/// Loads a resolver of the library's identities.
pub(crate) async fn load_resolver(store: &Store, default_user: UserId) -> Result<ListenResolver> {
    let mut conn = store.pool().acquire().await?;
    ListenResolver::load(&mut conn, default_user).await
}

fn add_counts(a: RunCounts, b: RunCounts) -> RunCounts {
    RunCounts {
        records: a.records + b.records,
        listens_added: a.listens_added + b.listens_added,
        duplicates: a.duplicates + b.duplicates,
        not_listens: a.not_listens + b.not_listens,
        bad_timestamps: a.bad_timestamps + b.bad_timestamps,
        malformed: a.malformed + b.malformed,
    }
}

/// The stored problems of a run.
pub async fn run_problems(store: &Store, run_id: i64) -> Result<Vec<Problem>> {
    let rows = sqlx::query("SELECT location, reason FROM import_problems WHERE run_id = ? ORDER BY rowid")
        .bind(run_id)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Problem {
                location: row.try_get(0)?,
                reason: row.try_get(1)?,
            })
        })
        .collect()
}

/// An unfinished run to resume, or a new one.
struct RunStart {
    run_id: i64,
    cursor: u64,
    range_from: Option<i64>,
    range_to: Option<i64>,
}

/// Finds the newest unfinished run of (kind, format, target, fingerprint).
async fn unfinished_run(
    store: &Store,
    kind: &str,
    format: &str,
    target: &str,
    fingerprint: Option<&str>,
) -> Result<Option<RunStart>> {
    let row = sqlx::query(
        "SELECT id, cursor, range_from, range_to FROM import_runs \
         WHERE kind = ? AND format = ? AND target = ? AND fingerprint IS ? AND status != 'completed' \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(kind)
    .bind(format)
    .bind(target)
    .bind(fingerprint)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let run_id: i64 = row.try_get(0)?;
    sqlx::query("UPDATE import_runs SET status = 'running', error = NULL, updated_at = ? WHERE id = ?")
        .bind(now_secs())
        .bind(run_id)
        .execute(store.pool())
        .await?;
    Ok(Some(RunStart {
        run_id,
        cursor: row.try_get::<i64, _>(1)?.max(0) as u64,
        range_from: row.try_get(2)?,
        range_to: row.try_get(3)?,
    }))
}

#[allow(clippy::too_many_arguments)]
async fn new_run(
    store: &Store,
    kind: &str,
    format: &str,
    target: &str,
    fingerprint: Option<&str>,
    user: Option<UserId>,
    range_from: Option<i64>,
    range_to: Option<i64>,
) -> Result<RunStart> {
    let now = now_secs();
    let run_id: i64 = sqlx::query_scalar(
        "INSERT INTO import_runs (kind, format, target, fingerprint, user_id, status, range_from, range_to, \
         started_at, updated_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?) RETURNING id",
    )
    .bind(kind)
    .bind(format)
    .bind(target)
    .bind(fingerprint)
    .bind(user.map(|u| u.0))
    .bind(range_from)
    .bind(range_to)
    .bind(now)
    .bind(now)
    .fetch_one(store.pool())
    .await?;
    Ok(RunStart {
        run_id,
        cursor: 0,
        range_from,
        range_to,
    })
}

/// A batch of records read and prepared by the reader thread.
struct ReadBatch {
    prepared: PreparedRecords,
    /// Records consumed from the start of the file after this batch.
    cursor: u64,
    /// Bytes consumed.
    position: u64,
}

/// Imports one file. See the module docs for the guarantees.
pub async fn import_file(
    store: &Store,
    path: &Path,
    options: &FileImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    let head = read_head(path)?;
    let format = match options.format {
        Some(format) => {
            format.check(&head).map_err(|reason| Error::FormatMismatch {
                path: path.to_path_buf(),
                format: format.name(),
                reason,
            })?;
            format
        }
        None => detect_from_head(path, &head)?,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io("cannot read", path, e))?
        .len();
    let fingerprint = fingerprint(path)?;
    let target = std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned();
    // Open the reader before writing anything: JSON documents are parsed
    // whole here, so a broken document fails without touching the store.
    let source = formats::open(format, path)?;

    // Multi-user formats name a user on every row; the default user then only
    // matters as the run's owner, so it is not created for them.
    let user = if format.is_multi_user() {
        None
    } else {
        Some(store.ensure_user(&options.user).await?)
    };
    let run = match unfinished_run(store, "file", format.name(), &target, Some(&fingerprint)).await? {
        Some(run) => run,
        None => {
            new_run(
                store,
                "file",
                format.name(),
                &target,
                Some(&fingerprint),
                user,
                None,
                None,
            )
            .await?
        }
    };
    let mut writer = RunWriter::open(store, run.run_id, format.name()).await?;
    let mut resolver = load_resolver(store, user.unwrap_or(UserId(0))).await?;
    let file_name = path
        .file_name()
        .map_or_else(|| target.clone(), |n| n.to_string_lossy().into_owned());
    progress.report(ProgressEvent::Started {
        task: format!("import {file_name} ({format})"),
        total: Some(size),
        unit: Unit::Bytes,
    });

    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<ReadBatch>>(1);
    let batch_size = options.batch_size.max(1);
    let resume_at = run.cursor;
    let latest_time = latest_acceptable_time();
    // Parsing and identity resolution run on this thread, overlapping with
    // the previous batch's write.
    let reader = std::thread::Builder::new()
        .name("segue-import-reader".to_owned())
        .spawn(move || {
            read_batches(source, resume_at, batch_size, &sender, |records| {
                prepare_records(&mut resolver, records, latest_time)
            })
        })
        .map_err(|e| Error::io("cannot start a reader thread for", path, e))?;

    let mut outcome = Ok(());
    while let Some(batch) = receiver.recv().await {
        let step = async {
            let batch = batch?;
            writer.commit(store, batch.prepared, batch.cursor, None).await?;
            progress.report(ProgressEvent::Advanced {
                done: batch.position,
                total: Some(size),
                listens: writer.counts.listens_added,
                problems: writer.problems(),
            });
            if progress.is_cancelled() {
                return Err(Error::Cancelled);
            }
            Ok(())
        };
        if let Err(e) = step.await {
            outcome = Err(e);
            break;
        }
    }
    drop(receiver);
    let _ = reader.join();
    progress.report(ProgressEvent::Finished);
    let counts = writer.finish(store, outcome.as_ref().err()).await?;
    outcome?;
    Ok(ImportReport {
        source: target,
        format: format.name().to_owned(),
        run_id: run.run_id,
        resumed_at: resume_at,
        counts,
        problems: run_problems(store, run.run_id).await?,
    })
}

/// Runs on the reader thread: skips what is committed, then sends batches.
fn read_batches(
    mut source: Box<dyn formats::RecordSource>,
    resume_at: u64,
    batch_size: usize,
    sender: &tokio::sync::mpsc::Sender<Result<ReadBatch>>,
    mut prepare: impl FnMut(Vec<(Location, RecordResult)>) -> PreparedRecords,
) {
    let mut cursor = 0u64;
    let mut records = Vec::with_capacity(batch_size);
    loop {
        let next = match source.next_record() {
            Ok(next) => next,
            Err(e) => {
                let _ = sender.blocking_send(Err(e));
                return;
            }
        };
        let Some(record) = next else { break };
        cursor += 1;
        if cursor <= resume_at {
            continue;
        }
        records.push(record);
        if records.len() == batch_size {
            let batch = ReadBatch {
                prepared: prepare(std::mem::replace(&mut records, Vec::with_capacity(batch_size))),
                cursor,
                position: source.position(),
            };
            if sender.blocking_send(Ok(batch)).is_err() {
                return;
            }
        }
    }
    // The last batch is sent even when empty, so that the run records its
    // final cursor and a fully committed file is marked complete.
    let _ = sender.blocking_send(Ok(ReadBatch {
        prepared: prepare(records),
        cursor,
        position: source.position(),
    }));
}

/// Summary of import runs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: i64,
    /// "file" or "lastfm".
    pub kind: String,
    /// The format name.
    pub format: String,
    /// The file path or Last.fm user.
    pub target: String,
    /// "running", "completed" or "failed".
    pub status: String,
    /// Records or pages committed.
    pub cursor: i64,
    /// Total pages, when known.
    pub total: Option<i64>,
    /// The counts.
    pub counts: RunCounts,
    /// The error that stopped a failed run.
    pub error: Option<String>,
}

/// The most recent import runs.
pub async fn recent_runs(store: &Store, limit: i64) -> Result<Vec<RunSummary>> {
    let rows = sqlx::query(
        "SELECT id, kind, format, target, status, cursor, total, records_read, listens_added, duplicates, \
         not_listens, bad_timestamps, malformed, error FROM import_runs ORDER BY id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let count = |name: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(name)?.max(0) as u64) };
            Ok(RunSummary {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                format: row.try_get("format")?,
                target: row.try_get("target")?,
                status: row.try_get("status")?,
                cursor: row.try_get("cursor")?,
                total: row.try_get("total")?,
                counts: RunCounts {
                    records: count("records_read")?,
                    listens_added: count("listens_added")?,
                    duplicates: count("duplicates")?,
                    not_listens: count("not_listens")?,
                    bad_timestamps: count("bad_timestamps")?,
                    malformed: count("malformed")?,
                },
                error: row.try_get("error")?,
            })
        })
        .collect()
}
