//! Readers of listening-history export files.
//!
//! Each reader turns a file into a sequence of records, one per row or JSON
//! object, each either a listen, something that is not a listen (a podcast,
//! a play under 30 s, a skipped scrobble) or a malformed record with the
//! reason. The sequence is deterministic for a given file, which is what
//! lets an interrupted import resume at a record count.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::ImportFormat;
use crate::store::writer::NewListen;
use crate::{Error, Result};

/// Where a record sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A line of a text file (1-based).
    Line(u64),
    /// An element of a JSON array (1-based).
    Record(u64),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// One record of a file.
// Records are moved a few times on their way to a batch; boxing listens
// would add an allocation per row for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A listen.
    Listen(NewListen),
    /// A well-formed record that is not a listen, with the reason.
    NotAListen(&'static str),
}

/// A record, or why it is malformed.
pub type RecordResult = std::result::Result<Record, String>;

/// A source of records read from one file.
pub trait RecordSource: Send {
    /// The next record; `Ok(None)` at the end of the file. An `Err` is an
    /// I/O failure that ends the import (a malformed record is not one).
    fn next_record(&mut self) -> Result<Option<(Location, RecordResult)>>;

    /// Bytes of the file consumed so far, for progress.
    fn position(&self) -> u64;
}

/// Plays shorter than this are not listens (Spotify's own rule, and Last.fm's).
pub const MIN_LISTEN_MS: i64 = 30_000;

/// Opens a reader of `format` on `path`.
pub fn open(format: ImportFormat, path: &Path) -> Result<Box<dyn RecordSource>> {
    let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    Ok(match format {
        ImportFormat::LastfmCsv | ImportFormat::LibrefmCsv => Box::new(CsvSource::new(path, format, file)?),
        ImportFormat::Lastfm1k => Box::new(Lastfm1kSource {
            lines: LineReader::new(path, file),
        }),
        ImportFormat::ThirtyMusic => Box::new(ThirtyMusicSource {
            lines: LineReader::new(path, file),
            header_seen: false,
        }),
        ImportFormat::ScrobblerLog => Box::new(ScrobblerLogSource {
            lines: LineReader::new(path, file),
        }),
        ImportFormat::ListenbrainzJsonl | ImportFormat::PanoScrobblerJsonl => Box::new(JsonLinesSource {
            lines: LineReader::new(path, file),
            format,
        }),
        ImportFormat::ListenbrainzJson
        | ImportFormat::SpotifyExtended
        | ImportFormat::SpotifyRecentlyPlayed
        | ImportFormat::Maloja
        | ImportFormat::LastfmApiJson => Box::new(JsonArraySource::new(path, format)?),
    })
}

// ---------------------------------------------------------------------------
// Lines

/// Reads a text file line by line, tracking line numbers and byte offsets.
pub(crate) struct LineReader {
    path: std::path::PathBuf,
    reader: BufReader<File>,
    buffer: Vec<u8>,
    line: u64,
    position: u64,
}

impl LineReader {
    fn new(path: &Path, file: File) -> LineReader {
        LineReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            buffer: Vec::with_capacity(512),
            line: 0,
            position: 0,
        }
    }

    /// The next line without its end-of-line bytes, or `None` at the end.
    /// The text is `Err` when the line is not UTF-8.
    fn next_line(&mut self) -> Result<Option<(u64, std::result::Result<&str, String>)>> {
        self.buffer.clear();
        let read = self
            .reader
            .read_until(b'\n', &mut self.buffer)
            .map_err(|e| Error::io("cannot read", &self.path, e))?;
        if read == 0 {
            return Ok(None);
        }
        self.position += read as u64;
        self.line += 1;
        let mut bytes = self.buffer.as_slice();
        if self.line == 1 {
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        }
        while let [rest @ .., b'\n' | b'\r'] = bytes {
            bytes = rest;
        }
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not valid UTF-8 text ({e})"));
        Ok(Some((self.line, text)))
    }
}

// ---------------------------------------------------------------------------
// Timestamps

/// Parses unix seconds given as text.
pub(crate) fn parse_unix_seconds(text: &str) -> std::result::Result<i64, String> {
    let text = text.trim();
    text.parse::<i64>()
        .or_else(|_| text.parse::<f64>().map(|f| f as i64))
        .map_err(|_| format!("timestamp '{text}' is not a number of seconds"))
}

/// Parses an ISO 8601 / RFC 3339 UTC time ("2009-05-04T23:08:57Z").
pub(crate) fn parse_iso_time(text: &str) -> std::result::Result<i64, String> {
    let text = text.trim();
    if let Some(seconds) = fast_iso_utc(text.as_bytes()) {
        return Ok(seconds);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").map(|t| t.and_utc().timestamp())
        })
        .map_err(|_| format!("time '{text}' is not an ISO 8601 date and time"))
}

/// The common "YYYY-MM-DDTHH:MM:SSZ" shape without allocating; `None` for
/// anything else, which then goes through chrono.
fn fast_iso_utc(b: &[u8]) -> Option<i64> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() + hour * 3600 + minute * 60 + second)
}

/// Parses the "08 Sep 2018 11:52" dates of Last.fm CSV exports (UTC).
pub(crate) fn parse_lastfm_date(text: &str) -> std::result::Result<i64, String> {
    let text = text.trim();
    for format in [
        "%d %b %Y %H:%M",
        "%d %b %Y, %H:%M",
        "%d %B %Y %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp());
        }
    }
    Err(format!("date '{text}' is not like '08 Sep 2018 11:52'"))
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn require(field: &str, value: &str) -> std::result::Result<String, String> {
    non_empty(value).ok_or_else(|| format!("{field} is empty"))
}

// ---------------------------------------------------------------------------
// CSV (Last.fm exports, Libre.fm)

/// Column positions of a CSV layout.
#[derive(Debug, Clone, Copy)]
struct CsvColumns {
    artist: usize,
    title: usize,
    album: Option<usize>,
    artist_mbid: Option<usize>,
    album_mbid: Option<usize>,
    track_mbid: Option<usize>,
    time: usize,
    time_kind: TimeKind,
}

#[derive(Debug, Clone, Copy)]
enum TimeKind {
    UnixSeconds,
    LastfmDate,
}

/// The layout of a CSV export, found from its first rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsvLayout {
    columns: CsvColumns,
    /// Lines before the first record (comments and the header).
    skip_lines: u64,
    /// Whether fields are UTF-7 encoded (Libre.fm's exports are).
    utf7: bool,
}

/// Finds the CSV layout from the first lines of a file, or says why there is none.
pub(crate) fn csv_layout(head: &str, format: ImportFormat) -> std::result::Result<CsvLayout, String> {
    let utf7 = head.starts_with("+ACM-");
    let mut skip_lines = 0;
    for line in head.lines() {
        let trimmed = line.trim_start_matches('\u{feff}').trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("+ACM-") {
            skip_lines += 1;
            continue;
        }
        let fields = split_csv_line(trimmed);
        let lower: Vec<String> = fields.iter().map(|f| f.trim().to_ascii_lowercase()).collect();
        let find = |names: &[&str]| lower.iter().position(|f| names.contains(&f.as_str()));
        if let (Some(artist), Some(title), Some(time)) = (
            find(&["artist", "artist name", "artist_name"]),
            find(&["track", "title", "name", "track name", "track_name"]),
            find(&["timestamp", "uts", "time", "date", "datetime"]),
        ) {
            let time_kind = if ["date", "datetime"].contains(&lower[time].as_str()) {
                // A "timestamp"/"uts" column wins over a human date when both exist.
                match find(&["timestamp", "uts", "time"]) {
                    Some(_) => TimeKind::UnixSeconds,
                    None => TimeKind::LastfmDate,
                }
            } else {
                TimeKind::UnixSeconds
            };
            let time = match time_kind {
                TimeKind::UnixSeconds => find(&["timestamp", "uts", "time"]).unwrap_or(time),
                TimeKind::LastfmDate => time,
            };
            let columns = CsvColumns {
                artist,
                title,
                album: find(&["album", "album name", "album_name"]),
                artist_mbid: find(&["artist_mbid", "artist mbid"]),
                album_mbid: find(&["album_mbid", "album mbid"]),
                track_mbid: find(&["track_mbid", "track mbid", "mbid"]),
                time,
                time_kind,
            };
            return Ok(CsvLayout {
                columns,
                skip_lines: skip_lines + 1,
                utf7,
            });
        }
        // Header-less "artist,album,track,date" (lastfm-to-csv exports).
        if format == ImportFormat::LastfmCsv && fields.len() == 4 && parse_lastfm_date(&fields[3]).is_ok() {
            return Ok(CsvLayout {
                columns: CsvColumns {
                    artist: 0,
                    title: 2,
                    album: Some(1),
                    artist_mbid: None,
                    album_mbid: None,
                    track_mbid: None,
                    time: 3,
                    time_kind: TimeKind::LastfmDate,
                },
                skip_lines,
                utf7,
            });
        }
        return Err(format!(
            "line {}: expected a header with artist, track and timestamp columns, or 'artist,album,track,date' rows; found '{}'",
            skip_lines + 1,
            truncate(trimmed, 120)
        ));
    }
    Err("no rows".to_owned())
}

/// Splits one CSV line (for sniffing only; records go through the csv crate).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => record.iter().map(str::to_owned).collect(),
        _ => vec![line.to_owned()],
    }
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

struct CsvSource {
    reader: csv::Reader<CountingReader>,
    layout: CsvLayout,
    record: csv::ByteRecord,
}

/// Counts bytes read, for progress.
struct CountingReader {
    inner: BufReader<File>,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl CsvSource {
    fn new(path: &Path, format: ImportFormat, file: File) -> Result<CsvSource> {
        let head = super::read_head(path)?;
        let layout = csv_layout(&head, format).map_err(|reason| Error::FormatMismatch {
            path: path.to_path_buf(),
            format: format.name(),
            reason,
        })?;
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(None)
            .from_reader(CountingReader {
                inner: BufReader::with_capacity(1 << 20, file),
                count: Default::default(),
            });
        Ok(CsvSource {
            reader,
            layout,
            record: csv::ByteRecord::new(),
        })
    }

    fn parse(&self) -> RecordResult {
        let record = &self.record;
        let columns = self.layout.columns;
        let field = |i: usize| -> std::result::Result<String, String> {
            let bytes = record.get(i).unwrap_or_default();
            let text =
                std::str::from_utf8(bytes).map_err(|_| format!("field {} is not valid UTF-8", i + 1))?;
            Ok(if self.layout.utf7 {
                decode_utf7(text)
            } else {
                text.to_owned()
            })
        };
        let needed = columns.artist.max(columns.title).max(columns.time) + 1;
        if record.len() < needed {
            return Err(format!(
                "expected at least {needed} fields, found {}",
                record.len()
            ));
        }
        let time_text = field(columns.time)?;
        let played_at = match columns.time_kind {
            TimeKind::UnixSeconds => parse_unix_seconds(&time_text)?,
            TimeKind::LastfmDate => parse_lastfm_date(&time_text)?,
        };
        let optional = |i: Option<usize>| -> std::result::Result<Option<String>, String> {
            match i {
                Some(i) if i < record.len() => Ok(non_empty(&field(i)?)),
                _ => Ok(None),
            }
        };
        Ok(Record::Listen(NewListen {
            played_at,
            artist: require("artist", &field(columns.artist)?)?,
            title: require("track", &field(columns.title)?)?,
            album: optional(columns.album)?,
            artist_mbid: optional(columns.artist_mbid)?,
            album_mbid: optional(columns.album_mbid)?,
            track_mbid: optional(columns.track_mbid)?,
            ..NewListen::default()
        }))
    }
}

impl RecordSource for CsvSource {
    fn next_record(&mut self) -> Result<Option<(Location, RecordResult)>> {
        loop {
            let more = match self.reader.read_byte_record(&mut self.record) {
                Ok(more) => more,
                Err(e) => {
                    let line = e.position().map_or(0, csv::Position::line);
                    if let csv::ErrorKind::Io(_) = e.kind() {
                        return Err(Error::io("cannot read", "csv file", std::io::Error::other(e)));
                    }
                    return Ok(Some((Location::Line(line), Err(format!("malformed CSV ({e})")))));
                }
            };
            if !more {
                return Ok(None);
            }
            let line = self.record.position().map_or(0, csv::Position::line);
            if line <= self.layout.skip_lines {
                continue;
            }
            return Ok(Some((Location::Line(line), self.parse())));
        }
    }

    fn position(&self) -> u64 {
        self.reader
            .get_ref()
            .count
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Decodes UTF-7 (RFC 2152), in which Libre.fm writes its CSV exports:
/// "+ACM-" is "#", "+-" is "+", and "+...-" runs are modified base64 of UTF-16.
pub(crate) fn decode_utf7(text: &str) -> String {
    if !text.contains('+') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(plus) = rest.find('+') {
        out.push_str(&rest[..plus]);
        let after = &rest[plus + 1..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
            .unwrap_or(after.len());
        let encoded = &after[..end];
        if encoded.is_empty() {
            // "+-" is a literal plus; a lone "+" is kept as is.
            out.push('+');
        } else {
            let mut bits: u32 = 0;
            let mut nbits = 0;
            let mut units = Vec::new();
            for c in encoded.bytes() {
                let v = match c {
                    b'A'..=b'Z' => c - b'A',
                    b'a'..=b'z' => c - b'a' + 26,
                    b'0'..=b'9' => c - b'0' + 52,
                    b'+' => 62,
                    _ => 63,
                };
                bits = (bits << 6) | u32::from(v);
                nbits += 6;
                if nbits >= 16 {
                    nbits -= 16;
                    units.push(((bits >> nbits) & 0xffff) as u16);
                }
            }
            out.push_str(&String::from_utf16_lossy(&units));
        }
        rest = &after[end..];
        rest = rest.strip_prefix('-').unwrap_or(rest);
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------
// Tab-separated research data sets

struct Lastfm1kSource {
    lines: LineReader,
}

/// Parses one Last.fm-1K row: userid, timestamp, artist-mbid, artist, track-mbid, track.
fn parse_lastfm1k(line: &str) -> RecordResult {
    let mut fields = line.split('\t');
    let mut next = |name: &str| fields.next().ok_or_else(|| format!("missing the {name} field"));
    let user = require("userid", next("userid")?)?;
    let played_at = parse_iso_time(next("timestamp")?)?;
    let artist_mbid = non_empty(next("artist-mbid")?);
    let artist = require("artist", next("artist")?)?;
    let track_mbid = non_empty(next("track-mbid")?);
    let title = require("track", next("track")?)?;
    if fields.next().is_some() {
        return Err("more than 6 tab-separated fields".to_owned());
    }
    Ok(Record::Listen(NewListen {
        user: Some(user),
        played_at,
        artist,
        artist_mbid,
        title,
        track_mbid,
        ..NewListen::default()
    }))
}

impl RecordSource for Lastfm1kSource {
    fn next_record(&mut self) -> Result<Option<(Location, RecordResult)>> {
        loop {
            let Some((line, text)) = self.lines.next_line()? else {
                return Ok(None);
            };
            let location = Location::Line(line);
            match text {
                Ok("") => continue,
                Ok(text) => return Ok(Some((location, parse_lastfm1k(text)))),
                Err(e) => return Ok(Some((location, Err(e)))),
            }
        }
    }

    fn position(&self) -> u64 {
        self.lines.position
    }
}

struct ThirtyMusicSource {
    lines: LineReader,
    header_seen: bool,
}

/// Parses one 30Music row: UserId, SessionId, ItemId, Time, ArtistId (ids only).
fn parse_30music(line: &str) -> RecordResult {
    let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 tab-separated fields, found {}", fields.len()));
    }
    let id = |i: usize, name: &str| -> std::result::Result<u64, String> {
        fields[i]
            .parse::<u64>()
            .map_err(|_| format!("{name} '{}' is not a number", fields[i]))
    };
    let user = id(0, "UserId")?;
    id(1, "SessionId")?;
    let item = id(2, "ItemId")?;
    let played_at = parse_unix_seconds(fields[3])?;
    let artist = id(4, "ArtistId")?;
    Ok(Record::Listen(NewListen {
        user: Some(user.to_string()),
        played_at,
        artist: format!("30Music artist {artist}"),
        title: format!("30Music item {item}"),
        external_id: Some(("30music", item.to_string())),
        ..NewListen::default()
    }))
}

impl RecordSource for ThirtyMusicSource {
    fn next_record(&mut self) -> Result<Option<(Location, RecordResult)>> {
        loop {
            let Some((line, text)) = self.lines.next_line()? else {
                return Ok(None);
            };
            let location = Location::Line(line);
            match text {
                Ok("") => continue,
                Ok(text) if !self.header_seen && text.starts_with("UserId") => {
                    self.header_seen = true;
                    continue;
                }
                Ok(text) => return Ok(Some((location, parse_30music(text)))),
                Err(e) => return Ok(Some((location, Err(e)))),
            }
        }
    }

    fn position(&self) -> u64 {
        self.lines.position
    }
}

// ---------------------------------------------------------------------------
// Rockbox / AudioScrobbler .scrobbler.log

struct ScrobblerLogSource {
    lines: LineReader,
}

/// Parses one .scrobbler.log row: artist, album, title, tracknum, length (s),
/// rating (L listened / S skipped), timestamp, [MusicBrainz track id].
fn parse_scrobbler_line(line: &str) -> RecordResult {
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() < 7 {
        return Err(format!(
            "expected 7 or 8 tab-separated fields, found {}",
            fields.len()
        ));
    }
    let rating = fields[5].trim();
    match rating {
        "L" => {}
        // The AudioScrobbler 1.1 spec: "S" marks a skipped track, which must not be scrobbled.
        "S" => return Ok(Record::NotAListen("skipped (rating S)")),
        other => return Err(format!("rating '{other}' is neither L nor S")),
    }
    let duration_ms = fields[4]
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .map(|s| s * 1000);
    Ok(Record::Listen(NewListen {
        played_at: parse_unix_seconds(fields[6])?,
        artist: require("artist", fields[0])?,
        album: non_empty(fields[1]),
        title: require("title", fields[2])?,
        duration_ms,
        track_mbid: fields.get(7).and_then(|m| non_empty(m)),
        ..NewListen::default()
    }))
}

impl RecordSource for ScrobblerLogSource {
    fn next_record(&mut self) -> Result<Option<(Location, RecordResult)>> {
        loop {
            let Some((line, text)) = self.lines.next_line()? else {
                return Ok(None);
            };
            let location = Location::Line(line);
            match text {
                Ok(text) if text.is_empty() || text.starts_with('#') => continue,
                Ok(text) => return Ok(Some((location, parse_scrobbler_line(text)))),
                Err(e) => return Ok(Some((location, Err(e)))),
            }
        }
    }

    fn position(&self) -> u64 {
        self.lines.position
    }
}

// ---------------------------------------------------------------------------
// JSON records

/// ListenBrainz listen (export JSON/JSONL).
#[derive(Debug, Deserialize)]
struct ListenbrainzListen {
    listened_at: i64,
    track_metadata: ListenbrainzTrack,
}

#[derive(Debug, Deserialize)]
struct ListenbrainzTrack {
    artist_name: Option<String>,
    track_name: Option<String>,
    release_name: Option<String>,
    #[serde(default)]
    additional_info: Option<Value>,
    #[serde(default)]
    mbid_mapping: Option<Value>,
}

fn value_str<'a>(value: Option<&'a Value>, key: &str) -> Option<&'a str> {
    value?.get(key)?.as_str().filter(|s| !s.trim().is_empty())
}

fn listenbrainz_record(value: Value) -> RecordResult {
    let listen: ListenbrainzListen = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let meta = listen.track_metadata;
    let info = meta.additional_info.as_ref();
    let mapping = meta.mbid_mapping.as_ref();
    let track_mbid = value_str(mapping, "recording_mbid")
        .or_else(|| value_str(info, "recording_mbid"))
        .map(str::to_owned);
    let artist_mbid = mapping
        .and_then(|m| m.get("artist_mbids"))
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .or_else(|| {
            info.and_then(|i| i.get("artist_mbids"))
                .and_then(|a| a.get(0))
                .and_then(Value::as_str)
        })
        .map(str::to_owned);
    let duration_ms = info.and_then(|i| {
        i.get("duration_ms")
            .and_then(Value::as_i64)
            .or_else(|| i.get("duration").and_then(Value::as_i64).map(|s| s * 1000))
    });
    let spotify = value_str(info, "spotify_id").and_then(spotify_track_id);
    let isrc = value_str(info, "isrc").map(|s| ("isrc", s.to_owned()));
    Ok(Record::Listen(NewListen {
        played_at: listen.listened_at,
        artist: require(
            "track_metadata.artist_name",
            meta.artist_name.as_deref().unwrap_or(""),
        )?,
        title: require(
            "track_metadata.track_name",
            meta.track_name.as_deref().unwrap_or(""),
        )?,
        album: meta.release_name.as_deref().and_then(non_empty),
        track_mbid,
        artist_mbid,
        album_mbid: value_str(mapping, "release_mbid").map(str::to_owned),
        duration_ms,
        external_id: spotify.map(|id| ("spotify", id)).or(isrc),
        ..NewListen::default()
    }))
}

/// The bare id of a Spotify track from a URI or URL.
fn spotify_track_id(uri: &str) -> Option<String> {
    let id = uri
        .strip_prefix("spotify:track:")
        .or_else(|| uri.split("/track/").nth(1))?
        .split(['?', '/'])
        .next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// Spotify Extended Streaming History entry.
#[derive(Debug, Deserialize)]
struct SpotifyStream {
    ts: String,
    ms_played: i64,
    master_metadata_track_name: Option<String>,
    master_metadata_album_artist_name: Option<String>,
    master_metadata_album_album_name: Option<String>,
    spotify_track_uri: Option<String>,
    #[serde(default)]
    episode_name: Option<String>,
    #[serde(default)]
    audiobook_title: Option<String>,
    #[serde(default)]
    skipped: Option<bool>,
}

fn spotify_extended_record(value: Value) -> RecordResult {
    let stream: SpotifyStream = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if stream.episode_name.is_some() || stream.audiobook_title.is_some() {
        return Ok(Record::NotAListen("podcast or audiobook"));
    }
    let (Some(title), Some(artist)) = (
        stream.master_metadata_track_name,
        stream.master_metadata_album_artist_name,
    ) else {
        return Ok(Record::NotAListen("no track (podcast or unavailable)"));
    };
    if stream.ms_played < MIN_LISTEN_MS {
        return Ok(Record::NotAListen("played under 30 s"));
    }
    // `ts` is when playback ended; a listen is dated from its start, as
    // Last.fm and ListenBrainz date theirs.
    let ended = parse_iso_time(&stream.ts)?;
    Ok(Record::Listen(NewListen {
        played_at: ended - stream.ms_played / 1000,
        artist: require("master_metadata_album_artist_name", &artist)?,
        title: require("master_metadata_track_name", &title)?,
        album: stream
            .master_metadata_album_album_name
            .as_deref()
            .and_then(non_empty),
        ms_played: Some(stream.ms_played),
        skipped: stream.skipped,
        external_id: stream
            .spotify_track_uri
            .as_deref()
            .and_then(spotify_track_id)
            .map(|id| ("spotify", id)),
        ..NewListen::default()
    }))
}

/// Spotify Web API "recently played" item.
#[derive(Debug, Deserialize)]
struct SpotifyPlayed {
    played_at: String,
    track: SpotifyApiTrack,
}

#[derive(Debug, Deserialize)]
struct SpotifyApiTrack {
    name: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    duration_ms: Option<i64>,
    artists: Vec<SpotifyNamed>,
    #[serde(default)]
    album: Option<SpotifyNamed>,
}

#[derive(Debug, Deserialize)]
struct SpotifyNamed {
    name: String,
}

fn spotify_played_record(value: Value) -> RecordResult {
    let played: SpotifyPlayed = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let artist = played.track.artists.first().ok_or("track.artists is empty")?;
    Ok(Record::Listen(NewListen {
        played_at: parse_iso_time(&played.played_at)?,
        artist: require("track.artists[0].name", &artist.name)?,
        title: require("track.name", &played.track.name)?,
        album: played.track.album.and_then(|a| non_empty(&a.name)),
        duration_ms: played.track.duration_ms,
        external_id: played
            .track
            .id
            .and_then(|id| non_empty(&id))
            .map(|id| ("spotify", id)),
        ..NewListen::default()
    }))
}

/// Maloja export scrobble.
#[derive(Debug, Deserialize)]
struct MalojaScrobble {
    time: i64,
    track: MalojaTrack,
    #[serde(default)]
    duration: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct MalojaTrack {
    artists: Vec<String>,
    title: String,
    #[serde(default)]
    album: Option<MalojaAlbum>,
    #[serde(default)]
    length: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct MalojaAlbum {
    #[serde(default)]
    albumtitle: Option<String>,
}

fn maloja_record(value: Value) -> RecordResult {
    let scrobble: MalojaScrobble = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let artist = scrobble.track.artists.first().ok_or("track.artists is empty")?;
    Ok(Record::Listen(NewListen {
        played_at: scrobble.time,
        artist: require("track.artists[0]", artist)?,
        title: require("track.title", &scrobble.track.title)?,
        album: scrobble
            .track
            .album
            .and_then(|a| a.albumtitle)
            .and_then(|a| non_empty(&a)),
        duration_ms: scrobble.track.length.map(|s| s * 1000),
        ms_played: scrobble.duration.map(|s| s * 1000),
        ..NewListen::default()
    }))
}

/// Pano Scrobbler export line.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PanoScrobble {
    time_ms: i64,
    artist: String,
    track: String,
    #[serde(default)]
    album: Option<String>,
    #[serde(default)]
    duration_ms: Option<i64>,
    #[serde(default)]
    event: Option<String>,
}

fn pano_record(value: Value) -> RecordResult {
    let scrobble: PanoScrobble = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if let Some(event) = scrobble.event.as_deref()
        && event != "scrobble"
    {
        return Ok(Record::NotAListen("not a scrobble event"));
    }
    Ok(Record::Listen(NewListen {
        played_at: scrobble.time_ms.div_euclid(1000),
        artist: require("artist", &scrobble.artist)?,
        title: require("track", &scrobble.track)?,
        album: scrobble.album.as_deref().and_then(non_empty),
        duration_ms: scrobble.duration_ms,
        ..NewListen::default()
    }))
}

/// Converts one JSON object of `format` into a record.
fn json_record(format: ImportFormat, value: Value) -> RecordResult {
    match format {
        ImportFormat::ListenbrainzJson | ImportFormat::ListenbrainzJsonl => listenbrainz_record(value),
        ImportFormat::SpotifyExtended => spotify_extended_record(value),
        ImportFormat::SpotifyRecentlyPlayed => spotify_played_record(value),
        ImportFormat::Maloja => maloja_record(value),
        ImportFormat::PanoScrobblerJsonl => pano_record(value),
        ImportFormat::LastfmApiJson => super::lastfm::recent_track_record(&value),
        _ => Err(format!("{} is not a JSON format", format.name())),
    }
}

struct JsonLinesSource {
    lines: LineReader,
    format: ImportFormat,
}

impl RecordSource for JsonLinesSource {
    fn next_record(&mut self) -> Result<Option<(Location, RecordResult)>> {
        loop {
            let format = self.format;
            let Some((line, text)) = self.lines.next_line()? else {
                return Ok(None);
            };
            let location = Location::Line(line);
            let text = match text {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => text,
                Err(e) => return Ok(Some((location, Err(e)))),
            };
            let record = serde_json::from_str::<Value>(text)
                .map_err(|e| format!("not a JSON object ({e})"))
                .and_then(|value| json_record(format, value));
            return Ok(Some((location, record)));
        }
    }

    fn position(&self) -> u64 {
        self.lines.position
    }
}

/// A JSON document holding an array of records: read whole (exports are a
/// few MB per file), then converted record by record so that one bad record
/// does not spoil the rest.
struct JsonArraySource {
    records: std::vec::IntoIter<Value>,
    format: ImportFormat,
    index: u64,
    size: u64,
    total: u64,
}

impl JsonArraySource {
    fn new(path: &Path, format: ImportFormat) -> Result<JsonArraySource> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
        let mismatch = |reason: String| Error::FormatMismatch {
            path: path.to_path_buf(),
            format: format.name(),
            reason,
        };
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
        let document: Value =
            serde_json::from_slice(bytes).map_err(|e| mismatch(format!("invalid JSON: {e}")))?;
        let records = json_records(format, document).map_err(mismatch)?;
        Ok(JsonArraySource {
            total: records.len() as u64,
            records: records.into_iter(),
            format,
            index: 0,
            size: bytes.len() as u64,
        })
    }
}

/// Extracts the array of records from a whole JSON document of `format`.
pub(crate) fn json_records(format: ImportFormat, document: Value) -> std::result::Result<Vec<Value>, String> {
    let array = match format {
        ImportFormat::ListenbrainzJson | ImportFormat::SpotifyExtended => document,
        ImportFormat::SpotifyRecentlyPlayed => document.get("items").cloned().ok_or("no 'items' array")?,
        ImportFormat::Maloja => document.get("scrobbles").cloned().ok_or("no 'scrobbles' array")?,
        ImportFormat::LastfmApiJson => {
            let tracks = document
                .get("recenttracks")
                .and_then(|r| r.get("track"))
                .cloned()
                .ok_or("no 'recenttracks.track' field")?;
            // The API sends a single object instead of an array of one.
            if tracks.is_object() {
                Value::Array(vec![tracks])
            } else {
                tracks
            }
        }
        _ => return Err(format!("{} is not a JSON document format", format.name())),
    };
    match array {
        Value::Array(records) => Ok(records),
        other => Err(format!(
            "expected an array of records, found {}",
            json_kind(&other)
        )),
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl RecordSource for JsonArraySource {
    fn next_record(&mut self) -> Result<Option<(Location, RecordResult)>> {
        let Some(value) = self.records.next() else {
            return Ok(None);
        };
        self.index += 1;
        let record = if value.is_object() {
            json_record(self.format, value)
        } else {
            Err(format!("expected an object, found {}", json_kind(&value)))
        };
        Ok(Some((Location::Record(self.index), record)))
    }

    fn position(&self) -> u64 {
        // Proportional: the document was parsed whole.
        self.size * self.index / self.total.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf7_decodes_libre_fm_headers_and_text() {
        assert_eq!(
            decode_utf7("+ACM- Data export from Libre.fm"),
            "# Data export from Libre.fm"
        );
        assert_eq!(decode_utf7("2025+AC0-07+AC0-23"), "2025-07-23");
        assert_eq!(decode_utf7("Dan +- Shay"), "Dan + Shay");
        assert_eq!(decode_utf7("Hi Mom -+Jjo--!"), "Hi Mom -\u{263a}-!");
        assert_eq!(decode_utf7("plain"), "plain");
    }

    #[test]
    fn iso_times_parse_fast_and_slow() {
        assert_eq!(parse_iso_time("2009-05-04T23:08:57Z"), Ok(1_241_478_537));
        assert_eq!(parse_iso_time("2009-05-04T23:08:57+00:00"), Ok(1_241_478_537));
        assert_eq!(parse_iso_time("2009-05-04T23:08:57.500Z"), Ok(1_241_478_537));
        assert!(parse_iso_time("2009-13-04T23:08:57Z").is_err());
        assert!(parse_iso_time("yesterday").is_err());
    }

    #[test]
    fn lastfm_dates_parse() {
        assert_eq!(parse_lastfm_date("08 Sep 2018 11:52"), Ok(1_536_407_520));
        assert_eq!(parse_lastfm_date("8 Sep 2018, 11:52"), Ok(1_536_407_520));
    }

    #[test]
    fn spotify_ids_come_from_uris_and_urls() {
        assert_eq!(spotify_track_id("spotify:track:6pHL").as_deref(), Some("6pHL"));
        assert_eq!(
            spotify_track_id("https://open.spotify.com/track/2AX5E86cn9n2dgioZEjirI?si=x").as_deref(),
            Some("2AX5E86cn9n2dgioZEjirI")
        );
        assert_eq!(spotify_track_id("spotify:episode:1"), None);
    }

    #[test]
    fn lastfm1k_rows_need_six_fields() {
        let ok = parse_lastfm1k("user_000001\t2009-05-04T23:08:57Z\t\tDeep Dish\t\tFuck Me Im Famous");
        assert!(
            matches!(ok, Ok(Record::Listen(l)) if l.user.as_deref() == Some("user_000001") && l.artist_mbid.is_none())
        );
        assert_eq!(
            parse_lastfm1k("user_000001\t2009-05-04T23:08:57Z\tx"),
            Err("missing the artist field".to_owned())
        );
    }

    #[test]
    fn scrobbler_log_skips_are_not_listens() {
        assert_eq!(
            parse_scrobbler_line("Kraftwerk\tThe Man·Machine\tThe Model\t4\t224\tS\t1260358094\t"),
            Ok(Record::NotAListen("skipped (rating S)"))
        );
    }
}
