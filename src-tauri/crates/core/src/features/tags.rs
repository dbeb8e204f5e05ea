//! Tags: stored per track and source, turned into tag embeddings.
//!
//! Tags that come as ids only (the 30Music data set) get their embedding
//! from the track × tag matrix: a truncated SVD (LSA) of the weighted
//! matrix, each track's row normalised to unit length.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{MODALITY_DIM, Modality, ModalityVectors};
use crate::store::{Store, TrackId};
use crate::{Error, Result};

/// The tag source of the 30Music data set's per-track tag ids.
pub const SOURCE_30MUSIC: &str = "30music";

/// What a 30Music tag import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TagImportReport {
    /// Sessions in the JSON file.
    pub sessions: usize,
    /// Sessions whose tracks align position by position with the TSV.
    pub aligned_sessions: usize,
    /// Sessions of different lengths in the two files (skipped).
    pub misaligned_sessions: usize,
    /// Sessions of the JSON missing from the TSV (skipped).
    pub unknown_sessions: usize,
    /// Items that got tags from two positions that disagree (first kept).
    pub conflicts: usize,
    /// Items whose tags were found.
    pub items_with_tags: usize,
    /// Of those, tracks in the library that got tags.
    pub tracks_tagged: usize,
    /// Tag rows written.
    pub tags_written: usize,
}

#[derive(Debug, Deserialize)]
struct JsonSession {
    #[serde(default)]
    tags_idxs: Vec<Vec<u64>>,
}

/// Imports the per-track tag ids of a 30Music `sessions_*.json` file.
///
/// The JSON's track indices are not 30Music ItemIds; per SessionId, its
/// positions align with that session's rows of the 30Music TSV sorted by
/// time. Sessions whose lengths differ are skipped. A track's top-5 tag ids
/// are stored with rank weights 5, 4, 3, 2, 1 (the source gives no counts).
pub async fn import_30music_tags(
    store: &Store,
    json_path: &Path,
    tsv_path: &Path,
) -> Result<TagImportReport> {
    let json = std::fs::read(json_path).map_err(|e| Error::io("cannot read", json_path, e))?;
    let sessions: HashMap<String, JsonSession> =
        serde_json::from_slice(&json).map_err(|e| Error::FormatMismatch {
            path: json_path.to_path_buf(),
            format: "30music-sessions-json",
            reason: format!(
                "expected {{\"<session id>\": {{\"track_idxs\": [...], \"tags_idxs\": [[...]]}}}} ({e})"
            ),
        })?;
    let tsv = std::fs::read_to_string(tsv_path).map_err(|e| Error::io("cannot read", tsv_path, e))?;
    let mut rows: HashMap<&str, Vec<(i64, usize, &str)>> = HashMap::new();
    for (n, line) in tsv.lines().enumerate() {
        if n == 0 && line.starts_with("UserId") {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [_, session, item, time, _] = fields[..] else {
            return Err(Error::FormatMismatch {
                path: tsv_path.to_path_buf(),
                format: "30music",
                reason: format!("line {}: expected 5 tab-separated fields", n + 1),
            });
        };
        let time: i64 = time.trim().parse().map_err(|_| Error::FormatMismatch {
            path: tsv_path.to_path_buf(),
            format: "30music",
            reason: format!("line {}: Time '{time}' is not a number", n + 1),
        })?;
        rows.entry(session).or_default().push((time, n, item));
    }
    let mut report = TagImportReport {
        sessions: sessions.len(),
        ..TagImportReport::default()
    };
    let mut item_tags: BTreeMap<&str, &Vec<u64>> = BTreeMap::new();
    let mut ids: Vec<&String> = sessions.keys().collect();
    ids.sort();
    for id in ids {
        let session = &sessions[id];
        let Some(session_rows) = rows.get_mut(id.as_str()) else {
            report.unknown_sessions += 1;
            continue;
        };
        session_rows.sort_by_key(|(time, line, _)| (*time, *line));
        if session_rows.len() != session.tags_idxs.len() {
            report.misaligned_sessions += 1;
            continue;
        }
        report.aligned_sessions += 1;
        for ((_, _, item), tags) in session_rows.iter().zip(&session.tags_idxs) {
            match item_tags.get(item) {
                Some(existing) if *existing != tags => report.conflicts += 1,
                Some(_) => {}
                None => {
                    item_tags.insert(item, tags);
                }
            }
        }
    }
    report.items_with_tags = item_tags.len();

    let mut tx = store.pool().begin_with("BEGIN IMMEDIATE").await?;
    for (item, tags) in item_tags {
        let track: Option<i64> = sqlx::query_scalar(
            "SELECT track_id FROM track_external_ids WHERE namespace = '30music' AND external_id = ?",
        )
        .bind(item)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(track) = track else { continue };
        report.tracks_tagged += 1;
        sqlx::query("DELETE FROM track_tags WHERE track_id = ? AND source = ?")
            .bind(track)
            .bind(SOURCE_30MUSIC)
            .execute(&mut *tx)
            .await?;
        for (rank, tag) in tags.iter().take(5).enumerate() {
            sqlx::query(
                "INSERT OR REPLACE INTO track_tags (track_id, source, tag, weight) VALUES (?, ?, ?, ?)",
            )
            .bind(track)
            .bind(SOURCE_30MUSIC)
            .bind(format!("30music-tag:{tag}"))
            .bind((5 - rank) as f64)
            .execute(&mut *tx)
            .await?;
            report.tags_written += 1;
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// The tags of `tracks`: per track, (tag, weight) summed over sources.
pub async fn track_tags(store: &Store, tracks: &[TrackId]) -> Result<HashMap<TrackId, Vec<(String, f64)>>> {
    let mut tags: HashMap<TrackId, Vec<(String, f64)>> = HashMap::new();
    for chunk in tracks.chunks(500) {
        let placeholders = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT track_id, tag, sum(weight) FROM track_tags WHERE track_id IN ({placeholders}) \
             GROUP BY track_id, tag ORDER BY track_id, sum(weight) DESC, tag"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for track in chunk {
            query = query.bind(track.0);
        }
        for row in query.fetch_all(store.pool()).await? {
            tags.entry(TrackId(row.try_get(0)?))
                .or_default()
                .push((row.try_get(1)?, row.try_get(2)?));
        }
    }
    Ok(tags)
}

/// Tag embeddings of `tracks` from the track × tag matrix, or `None` when no
/// track has tags.
pub async fn tag_vectors(store: &Store, tracks: &[TrackId]) -> Result<Option<ModalityVectors>> {
    let tags = track_tags(store, tracks).await?;
    if tags.is_empty() {
        return Ok(None);
    }
    let mut tag_index: BTreeMap<&str, u32> = BTreeMap::new();
    for list in tags.values() {
        for (tag, _) in list {
            let next = tag_index.len() as u32;
            tag_index.entry(tag.as_str()).or_insert(next);
        }
    }
    // Rows are tags, columns are tracks: the column vectors are the tracks'.
    let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); tag_index.len()];
    let mut available = vec![false; tracks.len()];
    for (column, track) in tracks.iter().enumerate() {
        if let Some(list) = tags.get(track) {
            available[column] = true;
            for (tag, weight) in list {
                rows[tag_index[tag.as_str()] as usize].push((column as u32, *weight));
            }
        }
    }
    let config = segue_models::lsa::LsaConfig {
        components: MODALITY_DIM,
        ..segue_models::lsa::LsaConfig::default()
    };
    let embedding = segue_models::lsa::lsa_of_rows(&rows, tracks.len(), &config)?;
    let mut values = vec![0f32; tracks.len() * MODALITY_DIM];
    for (track, has) in available.iter().enumerate() {
        if !has {
            continue;
        }
        let source = &embedding.vectors[track * embedding.dim..(track + 1) * embedding.dim];
        let norm = source
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        for (target, value) in values[track * MODALITY_DIM..].iter_mut().zip(source) {
            *target = value / norm;
        }
    }
    Ok(Some(ModalityVectors {
        modality: Modality::Tags,
        dim: MODALITY_DIM,
        values,
        available,
    }))
}
