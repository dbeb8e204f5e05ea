//! Checkpoints: a folder with `config.json`, the Burn record `model.bpk`
//! and `items.json` (the item index → track key map).
//!
//! `config.json` carries a format version and the architecture; loading
//! checks the version, rebuilds the architecture, loads the record (Burn
//! checks every tensor's presence and shape) and checks the item map
//! against the architecture, so another version, a truncated file or a
//! mismatched vocabulary is a clear error, never a panic.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{Architecture, NextTrackModel};
use super::train::{TrainConfig, TrainingSummary};
use crate::{Error, Result};

/// The checkpoint layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const CONFIG_FILE: &str = "config.json";
const RECORD_FILE: &str = "model.bpk";
const ITEMS_FILE: &str = "items.json";

/// What `config.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointConfig {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The model's name ("annw", "fusion", …).
    pub model: String,
    /// The architecture and its settings.
    pub architecture: Architecture,
    /// How it was trained.
    pub training: TrainConfig,
    /// What training did.
    pub summary: Option<TrainingSummary>,
    /// Anything the caller wants to keep with the model (session rules, modalities…).
    #[serde(default)]
    pub extra: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ItemsFile {
    format_version: u32,
    /// Item index → the caller's key (Segue: the track id).
    keys: Vec<i64>,
}

/// A model with its configuration and item map.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The configuration.
    pub config: CheckpointConfig,
    /// Item index → key.
    pub item_keys: Vec<i64>,
    /// The model, on the device it was loaded to.
    pub model: NextTrackModel,
}

fn error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| error(path, e.to_string()))?;
    std::fs::write(path, json).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a checkpoint into `dir` (created if needed). The files are
/// written into a sibling folder first and swapped in, so a crash never
/// leaves half a checkpoint.
pub fn save(dir: &Path, config: &CheckpointConfig, item_keys: &[i64], model: &NextTrackModel) -> Result<()> {
    if item_keys.len() != config.architecture.num_items() {
        return Err(Error::Shape(format!(
            "{} item keys for a model of {} items",
            item_keys.len(),
            config.architecture.num_items()
        )));
    }
    let staging = sibling(dir, "partial");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|source| Error::Io {
        path: staging.clone(),
        source,
    })?;
    write_json(&staging.join(CONFIG_FILE), config)?;
    write_json(
        &staging.join(ITEMS_FILE),
        &ItemsFile {
            format_version: FORMAT_VERSION,
            keys: item_keys.to_vec(),
        },
    )?;
    let record = staging.join(RECORD_FILE);
    model
        .clone()
        .save_file(&record)
        .map_err(|e| error(&record, format!("cannot save the model record: {e}")))?;
    let old = sibling(dir, "old");
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::rename(&staging, dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "checkpoint".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}.{suffix}"))
}

/// Reads `config.json` of a checkpoint without loading the model.
pub fn read_config(dir: &Path) -> Result<CheckpointConfig> {
    let path = dir.join(CONFIG_FILE);
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let raw: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| error(&path, format!("not valid JSON ({e})")))?;
    let version = raw.get("format_version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(error(
            &path,
            format!(
                "checkpoint format {} is not the format {FORMAT_VERSION} this version of Segue reads; train the model again",
                version.map_or_else(|| "(missing)".to_owned(), |v| v.to_string())
            ),
        ));
    }
    serde_json::from_value(raw).map_err(|e| error(&path, format!("unexpected content ({e})")))
}

/// Loads a checkpoint onto `device`.
pub fn load(dir: &Path, device: &Device) -> Result<Checkpoint> {
    let config = read_config(dir)?;
    let items_path = dir.join(ITEMS_FILE);
    let items_bytes = std::fs::read(&items_path).map_err(|source| Error::Io {
        path: items_path.clone(),
        source,
    })?;
    let items: ItemsFile = serde_json::from_slice(&items_bytes)
        .map_err(|e| error(&items_path, format!("not a track map ({e})")))?;
    if items.format_version != FORMAT_VERSION {
        return Err(error(
            &items_path,
            format!("format {} is not {FORMAT_VERSION}", items.format_version),
        ));
    }
    let num_items = config.architecture.num_items();
    if items.keys.len() != num_items {
        return Err(error(
            &items_path,
            format!(
                "{} tracks in the map, but the model scores {num_items}: the files come from different trainings",
                items.keys.len()
            ),
        ));
    }
    let record = dir.join(RECORD_FILE);
    let model = config
        .architecture
        .init(device)
        .try_load_file(&record)
        .map_err(|e| error(&record, format!("cannot load the model record: {e}")))?;
    Ok(Checkpoint {
        config,
        item_keys: items.keys,
        model,
    })
}
