//! The evaluation harness: the paper's protocol on the library's sessions.
//!
//! Sessions come from the store under the session rules; per user the first
//! 70 % of kept sessions train and the rest test ([`crate::sessions`]). The
//! vocabulary is the set of tracks in training sessions, indexed in track-id
//! order (the "fixed track order" that breaks POP's ties). The protocol
//! itself (examples, ranking, HitRatio@k, MRR@20) lives in
//! `segue_models::eval`, so every model is measured by the same code.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use segue_models::baselines::{Markov, PersonalPopularity, Popularity, Word2VecKnn};
use segue_models::eval::{Example, MetricsSummary, Scorer, TestSession, TrainSession, evaluate, examples};
pub use segue_models::lsa::LsaConfig;
use segue_models::nn::scorer::NeuralScorer;
use segue_models::nn::train::TrainingSummary;
use segue_models::word2vec::Word2Vec;
pub use segue_models::word2vec::Word2VecConfig;
use serde::Serialize;

use crate::models::ModelSpec;
use crate::pipeline::{NeuralOptions, compute_device, fit, prepare};
use crate::progress::{Progress, ProgressEvent, Unit};
use crate::sessions::{PAPER_TRAIN_FRACTION, SessionRules, Split, sessionize, split_per_user};
use crate::store::{Store, TrackId, UserId};
use crate::{Error, Result};

/// The library's sessions as model indices.
#[derive(Debug, Clone)]
pub struct EvalDataset {
    /// User index → user name.
    pub users: Vec<String>,
    /// Item index → track (the vocabulary: in track-id order, after the
    /// tracks of a model being extended).
    pub tracks: Vec<TrackId>,
    /// Track → item index.
    index: HashMap<TrackId, u32>,
    /// Training sessions.
    pub train: Vec<TrainSession>,
    /// Start time (UTC seconds) of each training session.
    pub train_starts: Vec<i64>,
    /// Test sessions (tracks outside the vocabulary are `None`).
    pub test: Vec<TestSession>,
    /// The protocol's examples of the test sessions.
    pub examples: Vec<Example>,
}

impl EvalDataset {
    /// Number of items (vocabulary size).
    pub fn num_items(&self) -> usize {
        self.tracks.len()
    }

    /// Training sessions as token lists, for Word2Vec and LSA.
    pub fn train_sequences(&self) -> Vec<Vec<u32>> {
        self.train.iter().map(|s| s.items.clone()).collect()
    }

    /// The item index of a track, if it is in the vocabulary.
    pub fn item_of(&self, track: TrackId) -> Option<u32> {
        self.index.get(&track).copied()
    }
}

/// Sessions of the store, split per user.
pub async fn split_sessions(store: &Store, rules: SessionRules, user: Option<UserId>) -> Result<Split> {
    let listens = store.listens_in_order(user).await?;
    let sessions = sessionize(&listens, rules);
    Ok(split_per_user(&sessions.kept, PAPER_TRAIN_FRACTION))
}

/// Builds the evaluation dataset of the library (or of one user): the
/// paper's per-user split.
pub async fn build_dataset(store: &Store, rules: SessionRules, user: Option<UserId>) -> Result<EvalDataset> {
    dataset_of(store, split_sessions(store, rules, user).await?, rules, &[]).await
}

/// Every kept session as training data (no test sessions): what a model
/// that recommends from the whole history learns from.
pub async fn build_full_dataset(
    store: &Store,
    rules: SessionRules,
    user: Option<UserId>,
) -> Result<EvalDataset> {
    build_extended_dataset(store, rules, user, &[]).await
}

/// Every kept session as training data, over a vocabulary that starts with
/// `base` (a trained model's tracks, in its order) and appends new tracks.
pub async fn build_extended_dataset(
    store: &Store,
    rules: SessionRules,
    user: Option<UserId>,
    base: &[TrackId],
) -> Result<EvalDataset> {
    let listens = store.listens_in_order(user).await?;
    let split = Split {
        train: sessionize(&listens, rules).kept,
        test: Vec::new(),
    };
    dataset_of(store, split, rules, base).await
}

async fn dataset_of(
    store: &Store,
    split: Split,
    rules: SessionRules,
    base: &[TrackId],
) -> Result<EvalDataset> {
    if split.train.is_empty() {
        return Err(Error::NotEnoughData(format!(
            "no training sessions: the library needs sessions of at least {} tracks (gap {} min)",
            rules.min_len,
            rules.gap_secs / 60
        )));
    }
    let mut tracks: Vec<TrackId> = split
        .train
        .iter()
        .flat_map(|s| s.tracks.iter().copied())
        .collect();
    tracks.sort_unstable();
    tracks.dedup();
    if !base.is_empty() {
        // A resumed model keeps its item indices: its tracks first, in its
        // order, then the tracks it has not seen yet.
        let known: std::collections::HashSet<TrackId> = base.iter().copied().collect();
        let added = tracks.into_iter().filter(|t| !known.contains(t));
        tracks = base.iter().copied().chain(added).collect();
    }
    let index: HashMap<TrackId, u32> = tracks.iter().enumerate().map(|(i, t)| (*t, i as u32)).collect();
    let names: HashMap<i64, String> = store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id.0, u.name))
        .collect();
    let mut user_index: BTreeMap<UserId, u32> = BTreeMap::new();
    for session in split.train.iter().chain(&split.test) {
        let next = user_index.len() as u32;
        user_index.entry(session.user).or_insert(next);
    }
    let mut users = vec![String::new(); user_index.len()];
    for (user, index) in &user_index {
        users[*index as usize] = names.get(&user.0).cloned().unwrap_or_else(|| user.0.to_string());
    }
    let item = |track: &TrackId| index.get(track).copied();
    let train: Vec<TrainSession> = split
        .train
        .iter()
        .map(|s| TrainSession {
            user: user_index[&s.user],
            items: s.tracks.iter().filter_map(item).collect(),
        })
        .collect();
    let test: Vec<TestSession> = split
        .test
        .iter()
        .map(|s| TestSession {
            user: user_index[&s.user],
            items: s.tracks.iter().map(item).collect(),
        })
        .collect();
    let examples = examples(&test);
    let train_starts = split.train.iter().map(|s| s.start).collect();
    Ok(EvalDataset {
        users,
        tracks,
        index,
        train,
        train_starts,
        test,
        examples,
    })
}

/// Settings of an evaluation run.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The models, in table order.
    pub models: Vec<ModelSpec>,
    /// Settings of the neural models.
    pub neural: NeuralOptions,
    /// CBOW settings for `w2v-knn` (the harness uses `min_count` 1).
    pub word2vec: Word2VecConfig,
    /// Extra `w2v-knn` rows from vector files keyed by track id (e.g. gensim's).
    pub extra_vectors: Vec<std::path::PathBuf>,
    /// User name → group name, for per-group metrics.
    pub user_groups: Option<HashMap<String, String>>,
    /// Threads for training and ranking.
    pub threads: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        EvalOptions {
            models: vec![
                ModelSpec::Pop,
                ModelSpec::Markov,
                ModelSpec::W2vKnn,
                ModelSpec::PersonalPop,
            ],
            neural: NeuralOptions::default(),
            word2vec: Word2VecConfig {
                min_count: 1,
                threads,
                ..Word2VecConfig::default()
            },
            extra_vectors: Vec::new(),
            user_groups: None,
            threads,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct EvalRow {
    /// The model's name.
    pub model: String,
    /// Metrics over every prediction.
    pub metrics: MetricsSummary,
    /// Metrics per user group, by group name.
    pub groups: BTreeMap<String, MetricsSummary>,
    /// Seconds spent fitting the model (training included).
    pub fit_seconds: f64,
    /// For neural models: epochs run, the epoch kept and its validation HitRatio@10.
    pub training: Option<TrainingSummary>,
    /// Seconds spent ranking.
    pub eval_seconds: f64,
}

/// What the dataset looked like.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetSummary {
    /// Users with at least one kept session.
    pub users: usize,
    /// Training sessions.
    pub train_sessions: usize,
    /// Test sessions.
    pub test_sessions: usize,
    /// Vocabulary size (tracks in training sessions).
    pub items: usize,
    /// Predictions made per model.
    pub predictions: usize,
}

/// The evaluation table.
#[derive(Debug, Clone, Serialize)]
pub struct EvalTable {
    /// The dataset.
    pub dataset: DatasetSummary,
    /// The device neural models trained on, when any did.
    pub device: Option<String>,
    /// One row per model.
    pub rows: Vec<EvalRow>,
}

/// Reads a `user,group` CSV (a header row `user,group` is allowed).
pub fn read_user_groups(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut groups = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.eq_ignore_ascii_case("user,group")) {
            continue;
        }
        let Some((user, group)) = line.split_once(',') else {
            return Err(Error::Setting {
                setting: "user-group",
                reason: format!(
                    "{}, line {}: expected 'user,group', found '{line}'",
                    path.display(),
                    n + 1
                ),
            });
        };
        groups.insert(user.trim().to_owned(), group.trim().to_owned());
    }
    Ok(groups)
}

/// Loads word2vec text vectors keyed by track id and re-keys them by item index.
pub fn load_track_vectors(path: &Path, dataset: &EvalDataset) -> Result<Word2Vec> {
    let loaded = Word2Vec::load_text(path)?;
    let mut tokens = Vec::new();
    let mut vectors = Vec::new();
    for track in loaded.tokens() {
        if let Some(item) = dataset.item_of(TrackId(i64::from(*track)))
            && let Some(v) = loaded.vector(*track)
        {
            tokens.push(item);
            vectors.extend_from_slice(v);
        }
    }
    let counts = vec![0; tokens.len()];
    Ok(Word2Vec::from_vectors(tokens, counts, vectors, loaded.dim())?)
}

/// Runs every requested model through the protocol. Neural models are
/// trained on the training sessions first (the latest 10 % held out to
/// choose the epoch), on the device of `options.neural.backend`.
pub async fn run_eval(
    store: &Store,
    dataset: &EvalDataset,
    options: &EvalOptions,
    progress: &dyn Progress,
) -> Result<EvalTable> {
    let n = dataset.num_items();
    let group_names: Vec<String> = options
        .user_groups
        .as_ref()
        .map(|g| {
            let mut names: Vec<String> = g.values().cloned().collect();
            names.sort();
            names.dedup();
            names
        })
        .unwrap_or_default();
    let group_of: Option<Vec<Option<usize>>> = options.user_groups.as_ref().map(|groups| {
        dataset
            .users
            .iter()
            .map(|user| groups.get(user).and_then(|g| group_names.binary_search(g).ok()))
            .collect()
    });
    let popularity = Popularity::fit(&dataset.train, n);
    let total = options.models.len() + options.extra_vectors.len();
    progress.report(ProgressEvent::Started {
        task: format!(
            "evaluate {total} models on {} predictions",
            dataset.examples.len()
        ),
        total: Some(total as u64),
        unit: Unit::Items,
    });
    let device = if options.models.iter().any(ModelSpec::is_neural) {
        Some(compute_device(options.neural.backend, progress)?)
    } else {
        None
    };
    let mut rows = Vec::new();
    let run = |rows: &mut Vec<EvalRow>,
               name: String,
               fit_seconds: f64,
               training: Option<TrainingSummary>,
               model: &dyn Scorer,
               threads: usize|
     -> Result<()> {
        if progress.is_cancelled() {
            return Err(Error::Cancelled);
        }
        progress.report(ProgressEvent::Note {
            message: format!("ranking with {name}"),
        });
        let started = Instant::now();
        let result = evaluate(
            model,
            &popularity,
            &dataset.examples,
            group_of.as_deref(),
            threads,
        );
        let groups = group_names
            .iter()
            .zip(&result.groups)
            .map(|(g, m)| (g.clone(), m.summary()))
            .collect();
        rows.push(EvalRow {
            model: name,
            metrics: result.overall.summary(),
            groups,
            fit_seconds,
            training,
            eval_seconds: started.elapsed().as_secs_f64(),
        });
        Ok(())
    };
    for spec in &options.models {
        let started = Instant::now();
        let name = spec.to_string();
        progress.report(ProgressEvent::Note {
            message: format!("model {} of {total}: {name}", rows.len() + 1),
        });
        match spec {
            ModelSpec::Pop => run(&mut rows, name, 0.0, None, &popularity, options.threads)?,
            ModelSpec::Markov => {
                let model = Markov::fit(&dataset.train, n);
                run(
                    &mut rows,
                    name,
                    started.elapsed().as_secs_f64(),
                    None,
                    &model,
                    options.threads,
                )?;
            }
            ModelSpec::PersonalPop => {
                let model = PersonalPopularity::fit(&dataset.train, n);
                run(
                    &mut rows,
                    name,
                    started.elapsed().as_secs_f64(),
                    None,
                    &model,
                    options.threads,
                )?;
            }
            ModelSpec::W2vKnn => {
                let (vectors, _) = Word2Vec::train(&dataset.train_sequences(), &options.word2vec)?;
                let model = Word2VecKnn::new(&vectors, n);
                run(
                    &mut rows,
                    name,
                    started.elapsed().as_secs_f64(),
                    None,
                    &model,
                    options.threads,
                )?;
            }
            neural => {
                let Some(device) = &device else {
                    unreachable!("a device is chosen whenever a neural model is listed")
                };
                let prepared = prepare(store, dataset, neural, &options.neural, device).await?;
                for (modality, coverage) in &prepared.modalities {
                    progress.report(ProgressEvent::Note {
                        message: format!(
                            "{name}: {} features for {coverage} of {n} tracks",
                            modality.name()
                        ),
                    });
                }
                let (model, summary) = fit(prepared, dataset, &options.neural, device, progress)?;
                let scorer = NeuralScorer::new(&model, &device.device, n);
                let fit_seconds = started.elapsed().as_secs_f64();
                // The backend parallelises each batch itself.
                run(&mut rows, name, fit_seconds, Some(summary), &scorer, 1)?;
            }
        }
        progress.report(ProgressEvent::Advanced {
            done: rows.len() as u64,
            total: Some(total as u64),
            listens: 0,
            problems: 0,
        });
    }
    for path in &options.extra_vectors {
        let vectors = load_track_vectors(path, dataset)?;
        let model = Word2VecKnn::new(&vectors, n);
        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        run(
            &mut rows,
            format!("w2v-knn [{file}]"),
            0.0,
            None,
            &model,
            options.threads,
        )?;
    }
    progress.report(ProgressEvent::Finished);
    Ok(EvalTable {
        dataset: DatasetSummary {
            users: dataset.users.len(),
            train_sessions: dataset.train.len(),
            test_sessions: dataset.test.len(),
            items: n,
            predictions: dataset.examples.len(),
        },
        device: device.map(|d| d.label),
        rows,
    })
}

/// LSA vectors of the training sessions, keyed by track id (word2vec text layout).
pub fn train_lsa_vectors(dataset: &EvalDataset, config: &LsaConfig) -> Result<Word2Vec> {
    let embedding = segue_models::lsa::lsa(&dataset.train_sequences(), dataset.num_items(), config)?;
    let tokens = dataset
        .tracks
        .iter()
        .map(|t| u32::try_from(t.0).unwrap_or(u32::MAX))
        .collect::<Vec<_>>();
    let counts = vec![0; tokens.len()];
    Ok(Word2Vec::from_vectors(
        tokens,
        counts,
        embedding.vectors,
        embedding.dim,
    )?)
}

/// Trains CBOW on the training sessions and keys the vectors by track id.
pub fn train_track_vectors(dataset: &EvalDataset, config: &Word2VecConfig) -> Result<(Word2Vec, f64)> {
    let (vectors, stats) = Word2Vec::train(&dataset.train_sequences(), config)?;
    let tokens: Vec<u32> = vectors
        .tokens()
        .iter()
        .map(|item| u32::try_from(dataset.tracks[*item as usize].0).unwrap_or(u32::MAX))
        .collect();
    let counts = vectors.tokens().iter().map(|t| vectors.count(*t)).collect();
    let mut values = Vec::with_capacity(tokens.len() * vectors.dim());
    for item in vectors.tokens() {
        values.extend_from_slice(vectors.vector(*item).unwrap_or_default());
    }
    Ok((
        Word2Vec::from_vectors(tokens, counts, values, vectors.dim())?,
        stats.seconds,
    ))
}
