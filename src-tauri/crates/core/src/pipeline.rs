//! The pipeline of the neural models: prepare (initial embeddings and
//! content modalities from the library), train, save, load, recommend.
//!
//! `segue-models` sees item indices and tensors only; this module maps the
//! library's tracks to indices (the vocabulary of an [`EvalDataset`], in
//! track-id order), gathers the CBOW, LSA and modality vectors a model
//! starts from, and keeps the index → track map with every checkpoint.

use std::path::{Path, PathBuf};

use segue_models::eval::{Item, MAX_HISTORY};
use segue_models::lsa::{LsaConfig, lsa};
use segue_models::nn::attentive::{AttentiveNetConfig, ModalityInit, ModalitySpec};
use segue_models::nn::checkpoint::{self, CheckpointConfig};
use segue_models::nn::device::select;
pub use segue_models::nn::device::{BackendChoice, ComputeDevice};
use segue_models::nn::gru4rec::Gru4RecConfig;
use segue_models::nn::model::{Architecture, NextTrackModel};
use segue_models::nn::sasrec::SasRecConfig;
use segue_models::nn::scorer::NeuralScorer;
pub use segue_models::nn::train::{TrainConfig, TrainingEvent, TrainingSummary};
use segue_models::nn::train::{TrainingObserver, TrainingSet, hold_out_latest, train};
use segue_models::word2vec::{Word2Vec, Word2VecConfig};
use serde::Serialize;

use crate::eval::EvalDataset;
use crate::features::{Modality, modality_vectors};
use crate::models::ModelSpec;
use crate::progress::{Progress, ProgressEvent};
use crate::sessions::{SessionRules, sessionize};
use crate::store::{Store, TrackId, TrackInfo, UserId};
use crate::{Error, Result};

/// Settings of neural training.
#[derive(Debug, Clone)]
pub struct NeuralOptions {
    /// Where to train.
    pub backend: BackendChoice,
    /// Epochs, batch size, learning rate, seed.
    pub train: TrainConfig,
    /// CBOW settings for ANNW and fusion (min_count 1: every track gets a vector).
    pub word2vec: Word2VecConfig,
    /// Share of the latest training sessions held out to choose the epoch.
    pub validation_fraction: f64,
}

impl Default for NeuralOptions {
    fn default() -> Self {
        NeuralOptions {
            backend: BackendChoice::Auto,
            train: TrainConfig::default(),
            word2vec: Word2VecConfig {
                min_count: 1,
                threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
                ..Word2VecConfig::default()
            },
            validation_fraction: 0.1,
        }
    }
}

/// Picks the compute device and tells the user which, and why.
pub fn compute_device(choice: BackendChoice, progress: &dyn Progress) -> Result<ComputeDevice> {
    let device = select(choice)?;
    let mut message = format!("computing on {}", device.label);
    if let Some(note) = &device.note {
        message.push_str(&format!(" ({note})"));
    }
    progress.report(ProgressEvent::Note { message });
    Ok(device)
}

/// A model ready to train.
#[derive(Debug, Clone)]
pub struct PreparedModel {
    /// What it is.
    pub spec: ModelSpec,
    /// Its architecture and settings.
    pub architecture: Architecture,
    /// The initial weights.
    pub model: NextTrackModel,
    /// The content modalities it uses, with how many tracks have each.
    pub modalities: Vec<(Modality, usize)>,
}

fn cbow_rows(dataset: &EvalDataset, config: &Word2VecConfig) -> Result<Vec<f32>> {
    let (vectors, _) = Word2Vec::train(&dataset.train_sequences(), config)?;
    let dim = vectors.dim();
    let mut rows = vec![0f32; dataset.num_items() * dim];
    for item in 0..dataset.num_items() {
        if let Some(v) = vectors.vector(item as u32) {
            rows[item * dim..(item + 1) * dim].copy_from_slice(v);
        }
    }
    Ok(rows)
}

/// Builds the initial model of `spec` for the dataset's vocabulary.
pub async fn prepare(
    store: &Store,
    dataset: &EvalDataset,
    spec: &ModelSpec,
    options: &NeuralOptions,
    device: &ComputeDevice,
) -> Result<PreparedModel> {
    let n = dataset.num_items();
    let d = &device.device;
    d.seed(options.train.seed);
    let attentive = AttentiveNetConfig::new(n);
    let word2vec = Word2VecConfig {
        vector_size: attentive.d_embedding,
        seed: options.train.seed,
        ..options.word2vec.clone()
    };
    let (architecture, model, modalities) = match spec {
        ModelSpec::Ann => {
            let model = attentive.init(d);
            (
                Architecture::Attentive(attentive),
                NextTrackModel::Attentive(model),
                Vec::new(),
            )
        }
        ModelSpec::Annw => {
            let rows = cbow_rows(dataset, &word2vec)?;
            let model = attentive.init_with(d, Some(&rows), &[])?;
            (
                Architecture::Attentive(attentive),
                NextTrackModel::Attentive(model),
                Vec::new(),
            )
        }
        ModelSpec::AnnLsa => {
            let config = LsaConfig {
                components: attentive.d_embedding,
                seed: options.train.seed,
                ..LsaConfig::default()
            };
            let embedding = lsa(&dataset.train_sequences(), n, &config)?;
            // A vocabulary smaller than the embedding keeps the leading dimensions.
            let mut rows = vec![0f32; n * attentive.d_embedding];
            for item in 0..n {
                let source = &embedding.vectors[item * embedding.dim..(item + 1) * embedding.dim];
                rows[item * attentive.d_embedding..item * attentive.d_embedding + embedding.dim]
                    .copy_from_slice(source);
            }
            let model = attentive.init_with(d, Some(&rows), &[])?;
            (
                Architecture::Attentive(attentive),
                NextTrackModel::Attentive(model),
                Vec::new(),
            )
        }
        ModelSpec::Fusion(requested) => {
            let wanted: Vec<Modality> = requested.clone().unwrap_or_else(|| Modality::ALL.to_vec());
            let mut specs = Vec::new();
            let mut inits = Vec::new();
            let mut used = Vec::new();
            for modality in wanted {
                match modality_vectors(store, modality, &dataset.tracks).await? {
                    Some(vectors) => {
                        used.push((modality, vectors.coverage()));
                        specs.push(ModalitySpec {
                            name: modality.name().to_owned(),
                            dim: vectors.dim,
                        });
                        inits.push(ModalityInit {
                            values: vectors.values,
                            available: vectors.available,
                        });
                    }
                    None if requested.is_some() => {
                        return Err(Error::NotEnoughData(format!(
                            "no track of the vocabulary has {} features (see `segue-cli features status`)",
                            modality.name()
                        )));
                    }
                    None => {}
                }
            }
            if specs.is_empty() {
                return Err(Error::NotEnoughData(
                    "fusion needs at least one content modality (acoustic, lyrics or tags), and the library \
                     has none for these tracks (see `segue-cli features status`)"
                        .to_owned(),
                ));
            }
            let rows = cbow_rows(dataset, &word2vec)?;
            let config = attentive.with_modalities(specs);
            let model = config.init_with(d, Some(&rows), &inits)?;
            (
                Architecture::Attentive(config),
                NextTrackModel::Attentive(model),
                used,
            )
        }
        ModelSpec::Gru4Rec => {
            let config = Gru4RecConfig::new(n);
            let model = config.init(d);
            (
                Architecture::Gru4Rec(config),
                NextTrackModel::Gru4Rec(model),
                Vec::new(),
            )
        }
        ModelSpec::SasRec => {
            let config = SasRecConfig::new(n).with_max_len(MAX_HISTORY);
            let model = config.init(d);
            (
                Architecture::SasRec(config),
                NextTrackModel::SasRec(model),
                Vec::new(),
            )
        }
        ModelSpec::Pop | ModelSpec::Markov | ModelSpec::W2vKnn | ModelSpec::PersonalPop => {
            return Err(Error::Setting {
                setting: "model",
                reason: format!("{spec} is not a neural model: it needs no training"),
            });
        }
    };
    Ok(PreparedModel {
        spec: spec.clone(),
        architecture,
        model,
        modalities,
    })
}

/// Prepares a trained checkpoint to continue on a grown history (returns
/// the model, the dataset and how many tracks the model knew before): its
/// vocabulary is extended with the tracks listened to since (new embedding
/// rows from CBOW vectors of all sessions, new modality rows from the
/// library), and training continues from its weights.
pub async fn prepare_resume(
    store: &Store,
    dir: &Path,
    rules: SessionRules,
    user: Option<UserId>,
    options: &NeuralOptions,
    device: &ComputeDevice,
) -> Result<(PreparedModel, EvalDataset, usize)> {
    let loaded = checkpoint::load(dir, &device.device)?;
    let spec: ModelSpec = loaded.config.model.parse()?;
    let base: Vec<TrackId> = loaded.item_keys.iter().map(|k| TrackId(*k)).collect();
    let dataset = crate::eval::build_extended_dataset(store, rules, user, &base).await?;
    let old = base.len();
    let count = dataset.num_items() - old;
    let dim = loaded.config.architecture.embedding_dim();
    let embedding = if count == 0 {
        Vec::new()
    } else {
        let word2vec = Word2VecConfig {
            vector_size: dim,
            seed: options.train.seed,
            ..options.word2vec.clone()
        };
        let rows = cbow_rows(&dataset, &word2vec)?;
        rows[old * dim..].to_vec()
    };
    let added_tracks = &dataset.tracks[old..];
    let mut modalities = Vec::new();
    let mut used = Vec::new();
    for spec in loaded.config.architecture.modalities() {
        let modality: Modality = spec.name.parse()?;
        let init = match modality_vectors(store, modality, added_tracks).await? {
            Some(vectors) if vectors.dim == spec.dim => {
                used.push((modality, vectors.coverage()));
                ModalityInit {
                    values: vectors.values,
                    available: vectors.available,
                }
            }
            _ => ModalityInit {
                values: vec![0.0; count * spec.dim],
                available: vec![false; count],
            },
        };
        modalities.push(init);
    }
    let model = loaded.model.extend_items(
        &segue_models::nn::attentive::AddedItems {
            count,
            embedding,
            modalities,
        },
        &device.device,
    )?;
    let prepared = PreparedModel {
        spec,
        architecture: loaded.config.architecture.with_num_items(dataset.num_items()),
        model,
        modalities: used,
    };
    Ok((prepared, dataset, old))
}

/// The dataset's training sessions in time order, the latest held out.
pub fn training_set(dataset: &EvalDataset, validation_fraction: f64) -> TrainingSet {
    let mut order: Vec<usize> = (0..dataset.train.len()).collect();
    order.sort_by_key(|i| (dataset.train_starts[*i], *i));
    let sessions = order
        .into_iter()
        .map(|i| dataset.train[i].items.clone())
        .collect();
    hold_out_latest(sessions, validation_fraction)
}

/// Forwards training events to a [`Progress`].
struct ProgressObserver<'a>(&'a dyn Progress);

impl TrainingObserver for ProgressObserver<'_> {
    fn event(&self, event: TrainingEvent) {
        self.0.report(ProgressEvent::Training { event });
    }

    fn should_stop(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// Trains a prepared model on the dataset's training sessions.
pub fn fit(
    prepared: PreparedModel,
    dataset: &EvalDataset,
    options: &NeuralOptions,
    device: &ComputeDevice,
    progress: &dyn Progress,
) -> Result<(NextTrackModel, TrainingSummary)> {
    let set = training_set(dataset, options.validation_fraction);
    let (model, summary) = train(
        prepared.model,
        &set,
        dataset.num_items(),
        &options.train,
        device,
        &ProgressObserver(progress),
    )?;
    if summary.stopped {
        return Err(Error::Cancelled);
    }
    Ok((model, summary))
}

/// Where checkpoints live: `<data folder>/models/<model name>/`.
pub fn models_dir() -> Result<PathBuf> {
    Ok(crate::paths::data_dir()?.join("models"))
}

/// What Segue keeps with a checkpoint besides the model.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CheckpointExtra {
    /// The session rules the model learned under.
    pub rules: SessionRules,
    /// "all" (every session) or "paper" (the 70 % training split).
    pub split: String,
    /// The modalities and their coverage.
    pub modalities: Vec<(Modality, usize)>,
    /// The device it trained on.
    pub device: String,
    /// When (UTC seconds).
    pub trained_at: i64,
}

/// Saves a trained model under `dir`.
#[allow(clippy::too_many_arguments)]
pub fn save_model(
    dir: &Path,
    spec: &ModelSpec,
    architecture: Architecture,
    model: &NextTrackModel,
    tracks: &[TrackId],
    options: &NeuralOptions,
    summary: TrainingSummary,
    extra: CheckpointExtra,
) -> Result<()> {
    let config = CheckpointConfig {
        format_version: checkpoint::FORMAT_VERSION,
        model: spec.to_string(),
        architecture,
        training: options.train.clone(),
        summary: Some(summary),
        extra: serde_json::to_value(extra).map_err(|e| Error::Setting {
            setting: "checkpoint",
            reason: e.to_string(),
        })?,
    };
    let keys: Vec<i64> = tracks.iter().map(|t| t.0).collect();
    Ok(checkpoint::save(dir, &config, &keys, model)?)
}

/// A trained model loaded for recommending.
#[derive(Debug)]
pub struct LoadedModel {
    /// Its folder.
    pub dir: PathBuf,
    /// Its configuration.
    pub config: CheckpointConfig,
    /// What Segue kept with it.
    pub extra: Option<CheckpointExtra>,
    /// Item index → track.
    pub tracks: Vec<TrackId>,
    index: std::collections::HashMap<TrackId, Item>,
    /// The model, in inference mode.
    pub scorer: NeuralScorer,
    /// The device, for people.
    pub device_label: String,
}

impl LoadedModel {
    /// The item index of a track.
    pub fn item_of(&self, track: TrackId) -> Option<Item> {
        self.index.get(&track).copied()
    }
}

/// Loads the checkpoint in `dir`.
pub fn load_model(dir: &Path, device: &ComputeDevice) -> Result<LoadedModel> {
    let loaded = checkpoint::load(dir, &device.device)?;
    let tracks: Vec<TrackId> = loaded.item_keys.iter().map(|k| TrackId(*k)).collect();
    let index: std::collections::HashMap<TrackId, Item> =
        tracks.iter().enumerate().map(|(i, t)| (*t, i as Item)).collect();
    if index.len() != tracks.len() {
        return Err(segue_models::Error::Checkpoint {
            path: dir.join("items.json"),
            reason: "a track appears twice in the track map".to_owned(),
        }
        .into());
    }
    let extra = serde_json::from_value(loaded.config.extra.clone()).ok();
    let scorer = NeuralScorer::new(&loaded.model, &device.device, tracks.len());
    Ok(LoadedModel {
        dir: dir.to_path_buf(),
        config: loaded.config,
        extra,
        tracks,
        index,
        scorer,
        device_label: device.label.clone(),
    })
}

/// The most recently trained checkpoint's folder, or the one named.
pub fn find_checkpoint(name: Option<&str>) -> Result<PathBuf> {
    let root = models_dir()?;
    if let Some(name) = name {
        let dir = root.join(name);
        if dir.join("config.json").exists() {
            return Ok(dir);
        }
        return Err(Error::NotFound {
            kind: "trained model",
            name: format!("{name} (train it with `segue-cli train --model {name}`)"),
        });
    }
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let config = entry.path().join("config.json");
            if let Ok(modified) = std::fs::metadata(&config).and_then(|m| m.modified())
                && newest.as_ref().is_none_or(|(time, _)| modified > *time)
            {
                newest = Some((modified, entry.path()));
            }
        }
    }
    newest.map(|(_, dir)| dir).ok_or_else(|| Error::NotFound {
        kind: "trained model",
        name: format!("any in {} (train one with `segue-cli train`)", root.display()),
    })
}

/// Which history to recommend after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistorySpec {
    /// The user's most recent session (any length).
    LastSession,
    /// These tracks, oldest first.
    Tracks(Vec<TrackId>),
}

/// One suggestion.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// 1 for the best.
    pub rank: usize,
    /// The track.
    pub track: TrackInfo,
    /// The model's score (a logit).
    pub score: f32,
}

/// A history track, and whether the model knows it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryTrack {
    /// The track.
    pub track: TrackInfo,
    /// Whether it is in the model's vocabulary (unknown tracks are not input).
    pub known: bool,
}

/// Suggestions after a history.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// The model's name.
    pub model: String,
    /// The history, oldest first.
    pub history: Vec<HistoryTrack>,
    /// The suggestions, best first.
    pub suggestions: Vec<Suggestion>,
}

/// The tracks of the user's most recent session (at most the last 20).
pub async fn last_session(store: &Store, user: UserId, rules: SessionRules) -> Result<Vec<TrackId>> {
    let listens = store.listens_in_order(Some(user)).await?;
    let sessions = sessionize(&listens, SessionRules { min_len: 1, ..rules });
    let last = sessions
        .kept
        .last()
        .ok_or_else(|| Error::NotEnoughData("the user has no listens".to_owned()))?;
    Ok(last.tracks[last.tracks.len().saturating_sub(MAX_HISTORY)..].to_vec())
}

/// The resolved input of a model: the history with the known items.
pub async fn resolve_history(
    store: &Store,
    model: &LoadedModel,
    user: Option<UserId>,
    history: &HistorySpec,
    rules: SessionRules,
) -> Result<(Vec<HistoryTrack>, Vec<Item>)> {
    let tracks = match history {
        HistorySpec::LastSession => {
            let user = user.ok_or_else(|| Error::Setting {
                setting: "user",
                reason: "name a user to recommend after their last session".to_owned(),
            })?;
            last_session(store, user, rules).await?
        }
        HistorySpec::Tracks(tracks) => tracks[tracks.len().saturating_sub(MAX_HISTORY)..].to_vec(),
    };
    let infos = store.tracks(&tracks).await?;
    let mut resolved = Vec::with_capacity(tracks.len());
    let mut items = Vec::new();
    for track in &tracks {
        let info = infos
            .iter()
            .find(|i| i.id == *track)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                kind: "track",
                name: track.0.to_string(),
            })?;
        let item = model.item_of(*track);
        if let Some(item) = item {
            items.push(item);
        }
        resolved.push(HistoryTrack {
            track: info,
            known: item.is_some(),
        });
    }
    if items.is_empty() {
        return Err(Error::NotEnoughData(
            "none of the history's tracks is known to the model; train it again to include them".to_owned(),
        ));
    }
    Ok((resolved, items))
}

/// Recommends `k` tracks after `history`.
pub async fn recommend(
    store: &Store,
    model: &LoadedModel,
    user: Option<UserId>,
    history: &HistorySpec,
    k: usize,
    no_repeat: bool,
    rules: SessionRules,
) -> Result<Recommendation> {
    let (history, items) = resolve_history(store, model, user, history, rules).await?;
    let excluded: &[Item] = if no_repeat { &items } else { &[] };
    let best = model.scorer.top_k(&items, k, excluded);
    let tracks: Vec<TrackId> = best
        .iter()
        .map(|(item, _)| model.tracks[*item as usize])
        .collect();
    let infos = store.tracks(&tracks).await?;
    let suggestions = best
        .iter()
        .zip(infos)
        .enumerate()
        .map(|(rank, ((_, score), track))| Suggestion {
            rank: rank + 1,
            track,
            score: *score,
        })
        .collect();
    Ok(Recommendation {
        model: model.config.model.clone(),
        history,
        suggestions,
    })
}
