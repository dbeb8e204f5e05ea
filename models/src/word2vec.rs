//! Word2Vec CBOW with negative sampling, as gensim 4 trains it.
//!
//! The paper's track embeddings come from gensim's `Word2Vec(sessions)` with
//! its defaults, so this module follows gensim's algorithm step by step
//! (`word2vec_inner.pyx`): the vocabulary is trimmed at `min_count` and
//! sorted by count (ties: the token first seen later comes first); frequent
//! tokens are down-sampled with gensim's `sample_int` rule before windows are
//! formed; each centre token gets a window shrunk by a random `b` in
//! `0..window`; the context mean is trained against the centre token and
//! `negative` tokens drawn from the unigram^0.75 table by bisection; the
//! sigmoid comes from the same 1000-entry table indexed the same way (so
//! `σ(x)` is gensim's, quirks included), and dot products at or beyond ±6
//! skip the update; with `cbow_mean` every context vector receives the full
//! error. The learning rate decays linearly over all epochs, one value per
//! job of up to `batch_words` tokens, by sentence progress.
//!
//! Random numbers differ from gensim's (which mixes MT19937, PCG64 and the
//! word2vec.c LCG); the distributions are the same. Threads update the shared
//! weights without locks (Hogwild, as gensim does), through relaxed atomics so
//! that the races are well defined; with one thread a seed gives the same
//! vectors every time.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Training settings; the defaults are gensim's, with the paper's 150 dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Word2VecConfig {
    /// Dimensions of each vector.
    pub vector_size: usize,
    /// Maximum distance between the centre and a context token.
    pub window: usize,
    /// Shrink each window by a random amount in `0..window` (gensim's default).
    pub shrink_windows: bool,
    /// Noise tokens per centre token.
    pub negative: usize,
    /// Exponent of the noise distribution over token counts.
    pub ns_exponent: f64,
    /// Down-sampling threshold of frequent tokens (0 disables it).
    pub sample: f64,
    /// Initial learning rate.
    pub alpha: f32,
    /// Final learning rate.
    pub min_alpha: f32,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Tokens seen fewer times are ignored.
    pub min_count: usize,
    /// Average (true) or sum (false) the context vectors.
    pub cbow_mean: bool,
    /// Seed of every random draw.
    pub seed: u64,
    /// Worker threads (1 = deterministic).
    pub threads: usize,
    /// Raw tokens per job; the learning rate changes between jobs.
    pub batch_words: usize,
}

impl Default for Word2VecConfig {
    fn default() -> Self {
        Word2VecConfig {
            vector_size: 150,
            window: 5,
            shrink_windows: true,
            negative: 5,
            ns_exponent: 0.75,
            sample: 1e-3,
            alpha: 0.025,
            min_alpha: 0.0001,
            epochs: 5,
            min_count: 5,
            cbow_mean: true,
            seed: 1,
            threads: 1,
            batch_words: 10_000,
        }
    }
}

/// Trained token vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Word2Vec {
    /// Vocabulary index → token, most frequent first.
    tokens: Vec<u32>,
    /// Token → vocabulary index.
    index: HashMap<u32, usize>,
    /// Count of each vocabulary token in the corpus.
    counts: Vec<u64>,
    /// Row-major `[tokens.len(), dim]`.
    vectors: Vec<f32>,
    dim: usize,
}

/// What training did, for benchmarks and logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingStats {
    /// Tokens trained on as centre words, after down-sampling, over all epochs
    /// (gensim's "effective words").
    pub effective_words: u64,
    /// Tokens in the corpus times epochs, including ignored ones.
    pub raw_words: u64,
    /// Wall time of the training loop (vocabulary building excluded).
    pub seconds: f64,
}

const EXP_TABLE_SIZE: usize = 1000;
const MAX_EXP: f32 = 6.0;
/// gensim computes `EXP_TABLE_SIZE / MAX_EXP / 2` in C integer arithmetic.
const EXP_INDEX_SCALE: f64 = 83.0;
const MAX_SENTENCE_LEN: usize = 10_000;

fn exp_table() -> Vec<f32> {
    (0..EXP_TABLE_SIZE)
        .map(|i| {
            let x = ((i as f32 / EXP_TABLE_SIZE as f32) * 2.0 - 1.0) * MAX_EXP;
            let e = x.exp();
            e / (e + 1.0)
        })
        .collect()
}

/// word2vec.c's linear congruential generator, as gensim uses it for
/// down-sampling and negative draws.
#[derive(Debug, Clone, Copy)]
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        let value = self.0 >> 16;
        self.0 = (self.0.wrapping_mul(25_214_903_917).wrapping_add(11)) & ((1 << 48) - 1);
        value
    }
}

/// SplitMix64, to derive independent job seeds from (seed, epoch, job).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

struct Vocabulary {
    tokens: Vec<u32>,
    counts: Vec<u64>,
    index: HashMap<u32, usize>,
}

fn build_vocabulary(sentences: &[Vec<u32>], min_count: usize) -> Vocabulary {
    // Count in order of first appearance, as gensim's raw vocabulary does.
    let mut first_seen: HashMap<u32, usize> = HashMap::new();
    let mut order: Vec<(u32, u64)> = Vec::new();
    for sentence in sentences {
        for &token in sentence {
            match first_seen.get(&token) {
                Some(&i) => order[i].1 += 1,
                None => {
                    first_seen.insert(token, order.len());
                    order.push((token, 1));
                }
            }
        }
    }
    let kept: Vec<(usize, u32, u64)> = order
        .into_iter()
        .enumerate()
        .filter(|(_, (_, count))| *count as usize >= min_count.max(1))
        .map(|(appearance, (token, count))| (appearance, token, count))
        .collect();
    let mut sorted = kept;
    // gensim 4.4: count descending; among equal counts the later first appearance first.
    sorted.sort_by(|a, b| b.2.cmp(&a.2).then(b.0.cmp(&a.0)));
    let tokens: Vec<u32> = sorted.iter().map(|(_, token, _)| *token).collect();
    let counts: Vec<u64> = sorted.iter().map(|(_, _, count)| *count).collect();
    let index = tokens.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    Vocabulary {
        tokens,
        counts,
        index,
    }
}

/// gensim's down-sampling thresholds: a token is kept when its threshold is
/// at least the next 32-bit random draw.
fn sample_thresholds(counts: &[u64], sample: f64) -> Vec<u32> {
    let retained: f64 = counts.iter().map(|c| *c as f64).sum();
    let threshold = if sample <= 0.0 {
        retained
    } else if sample < 1.0 {
        sample * retained
    } else {
        (sample * (3.0 + 5f64.sqrt()) / 2.0).trunc()
    };
    counts
        .iter()
        .map(|&count| {
            let v = count as f64;
            let p = ((v / threshold).sqrt() + 1.0) * (threshold / v);
            (p.min(1.0) * f64::from(u32::MAX)) as u32
        })
        .collect()
}

/// gensim's cumulative noise table over `count^exponent`, scaled to 2^31 − 1.
fn noise_table(counts: &[u64], exponent: f64) -> Vec<u32> {
    let total: f64 = counts.iter().map(|c| (*c as f64).powf(exponent)).sum();
    let domain = f64::from(i32::MAX);
    let mut cumulative = 0.0;
    counts
        .iter()
        .map(|c| {
            cumulative += (*c as f64).powf(exponent);
            (cumulative / total * domain).round_ties_even() as u32
        })
        .collect()
}

/// A job: consecutive sentences with at most `batch_words` raw tokens.
#[derive(Debug, Clone, Copy)]
struct Job {
    first: usize,
    end: usize,
}

fn jobs(sentences: &[Vec<u32>], batch_words: usize) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut first = 0;
    let mut words = 0;
    for (i, sentence) in sentences.iter().enumerate() {
        if words > 0 && words + sentence.len() > batch_words {
            jobs.push(Job { first, end: i });
            first = i;
            words = 0;
        }
        words += sentence.len();
    }
    if first < sentences.len() {
        jobs.push(Job {
            first,
            end: sentences.len(),
        });
    }
    jobs
}

/// Shared weights, updated without locks by every worker.
struct Weights {
    syn0: Vec<AtomicU32>,
    syn1neg: Vec<AtomicU32>,
    dim: usize,
}

impl Weights {
    fn load(rows: &[AtomicU32], row: usize, dim: usize, out: &mut [f32]) {
        for (value, cell) in out.iter_mut().zip(&rows[row * dim..(row + 1) * dim]) {
            *value = f32::from_bits(cell.load(Ordering::Relaxed));
        }
    }

    fn store(rows: &[AtomicU32], row: usize, dim: usize, values: &[f32]) {
        for (value, cell) in values.iter().zip(&rows[row * dim..(row + 1) * dim]) {
            cell.store(value.to_bits(), Ordering::Relaxed);
        }
    }
}

/// Noise draws are below 2^31; buckets of 2^15 make 2^16 buckets.
const NOISE_BUCKET_SHIFT: u32 = 15;

/// `buckets[b]` is the first table index whose value reaches `b << SHIFT`,
/// so the answer for a draw in bucket `b` lies in `buckets[b]..=buckets[b + 1]`.
fn noise_buckets(noise: &[u32]) -> Vec<u32> {
    let count = (1usize << (31 - NOISE_BUCKET_SHIFT)) + 1;
    (0..=count)
        .map(|b| {
            let start = (b as u64) << NOISE_BUCKET_SHIFT;
            noise.partition_point(|c| u64::from(*c) < start) as u32
        })
        .collect()
}

/// `bisect_left(noise, x)`: the first index whose value is at least `x`.
fn bisect_noise(noise: &[u32], buckets: &[u32], x: u32) -> usize {
    let bucket = (x >> NOISE_BUCKET_SHIFT) as usize;
    let low = buckets[bucket] as usize;
    let high = (buckets[bucket + 1] as usize + 1).min(noise.len());
    low + noise[low..high].partition_point(|c| *c < x)
}

struct Trainer<'a> {
    config: &'a Word2VecConfig,
    vocabulary: &'a Vocabulary,
    thresholds: Vec<u32>,
    noise: Vec<u32>,
    noise_buckets: Vec<u32>,
    exp_table: Vec<f32>,
    weights: Weights,
}

/// Per-thread scratch buffers.
struct Scratch {
    kept: Vec<usize>,
    sentence_ends: Vec<usize>,
    neu1: Vec<f32>,
    work: Vec<f32>,
    /// The context tokens of the current centre and their input rows.
    contexts: Vec<usize>,
    context_rows: Vec<f32>,
    /// Output rows of the centre and its noise tokens.
    rows: Vec<f32>,
    targets: Vec<(usize, f32)>,
    /// The next centre's targets, drawn ahead.
    next_targets: Vec<(usize, f32)>,
    /// Window reduction of every kept token of the job.
    reductions: Vec<usize>,
}

impl Trainer<'_> {
    /// gensim's `bisect_left(cum_table, x)` for a random `x`, narrowed first
    /// by a bucket index so that the search touches a few entries instead of
    /// walking the whole table (same result, fewer cache misses).
    fn draw_negative(&self, rng: &mut Lcg) -> usize {
        let domain = u64::from(*self.noise.last().unwrap_or(&1)).max(1);
        let x = (rng.next() % domain) as u32;
        bisect_noise(&self.noise, &self.noise_buckets, x).min(self.noise.len() - 1)
    }

    /// Trains one job; returns its effective words.
    fn train_job(&self, sentences: &[Vec<u32>], alpha: f32, seed: u64, scratch: &mut Scratch) -> u64 {
        let config = self.config;
        let dim = self.weights.dim;
        let mut rng = Lcg(seed & ((1 << 48) - 1));
        scratch.kept.clear();
        scratch.sentence_ends.clear();
        for sentence in sentences {
            if sentence.is_empty() {
                continue;
            }
            for token in sentence {
                let Some(&index) = self.vocabulary.index.get(token) else {
                    continue;
                };
                if config.sample > 0.0 && u64::from(self.thresholds[index]) < rng.next() {
                    continue;
                }
                scratch.kept.push(index);
                if scratch.kept.len() == MAX_SENTENCE_LEN {
                    break;
                }
            }
            scratch.sentence_ends.push(scratch.kept.len());
            if scratch.kept.len() == MAX_SENTENCE_LEN {
                break;
            }
        }
        // As gensim does, every window reduction of the job is drawn before
        // training starts.
        scratch.reductions.clear();
        for _ in 0..scratch.kept.len() {
            let b = if config.shrink_windows && config.window > 0 {
                (rng.next() % config.window as u64) as usize
            } else {
                0
            };
            scratch.reductions.push(b);
        }
        // Each centre's noise draws are made one centre ahead (the same
        // draws in the same order) so that their rows can be prefetched.
        if let Some(&first) = scratch.kept.first() {
            self.draw_targets(first, &mut rng, &mut scratch.next_targets);
        }
        let mut start = 0;
        let sentence_ends = std::mem::take(&mut scratch.sentence_ends);
        for &end in &sentence_ends {
            for i in start..end {
                std::mem::swap(&mut scratch.targets, &mut scratch.next_targets);
                if let Some(&next) = scratch.kept.get(i + 1) {
                    self.draw_targets(next, &mut rng, &mut scratch.next_targets);
                    for (target, _) in &scratch.next_targets {
                        prefetch_row(&self.weights.syn1neg, *target, dim);
                    }
                }
                let b = scratch.reductions[i];
                let j = (i + b).saturating_sub(config.window).max(start);
                let k = (i + config.window + 1 - b).min(end);
                self.train_centre(scratch, i, j, k, alpha, dim);
            }
            start = end;
        }
        scratch.sentence_ends = sentence_ends;
        scratch.kept.len() as u64
    }

    #[allow(clippy::too_many_arguments)]
    /// The centre's own output row (label 1) and its noise draws (label 0),
    /// skipping draws of the centre itself as gensim does.
    fn draw_targets(&self, centre: usize, rng: &mut Lcg, targets: &mut Vec<(usize, f32)>) {
        targets.clear();
        targets.push((centre, 1.0));
        for _ in 0..self.config.negative {
            let target = self.draw_negative(rng);
            if target != centre {
                targets.push((target, 0.0));
            }
        }
    }

    fn train_centre(&self, scratch: &mut Scratch, i: usize, j: usize, k: usize, alpha: f32, dim: usize) {
        let Scratch {
            kept,
            neu1,
            work,
            rows,
            targets,
            contexts,
            context_rows,
            ..
        } = scratch;
        neu1.fill(0.0);
        // The context's input rows are kept for the update at the end.
        contexts.clear();
        contexts.extend(
            kept[j..k]
                .iter()
                .enumerate()
                .filter(|(m, _)| j + m != i)
                .map(|(_, c)| *c),
        );
        let count = contexts.len();
        context_rows.resize(count * dim, 0.0);
        for (c, &context) in contexts.iter().enumerate() {
            let row = &mut context_rows[c * dim..(c + 1) * dim];
            Weights::load(&self.weights.syn0, context, dim, row);
            for (n, r) in neu1.iter_mut().zip(row.iter()) {
                *n += r;
            }
        }
        let inv_count = if count > 0 { 1.0 / count as f32 } else { 1.0 };
        if self.config.cbow_mean {
            for n in neu1.iter_mut() {
                *n *= inv_count;
            }
        }
        work.fill(0.0);
        // All output rows are loaded before any is used: they are scattered
        // in memory, and independent loads let their cache misses overlap.
        rows.resize(targets.len() * dim, 0.0);
        for (t, (target, _)) in targets.iter().enumerate() {
            Weights::load(
                &self.weights.syn1neg,
                *target,
                dim,
                &mut rows[t * dim..(t + 1) * dim],
            );
        }
        for (t, &(target, label)) in targets.iter().enumerate() {
            let row = &mut rows[t * dim..(t + 1) * dim];
            // A target drawn twice must see its own earlier update.
            if targets[..t].iter().any(|(earlier, _)| *earlier == target) {
                Weights::load(&self.weights.syn1neg, target, dim, row);
            }
            let f_dot = dot(neu1, row);
            if f_dot <= -MAX_EXP || f_dot >= MAX_EXP {
                continue;
            }
            let slot = ((f64::from(f_dot) + f64::from(MAX_EXP)) * EXP_INDEX_SCALE) as usize;
            let f = self.exp_table[slot.min(EXP_TABLE_SIZE - 1)];
            let g = (label - f) * alpha;
            for ((w, r), n) in work.iter_mut().zip(row.iter_mut()).zip(neu1.iter()) {
                *w += g * *r;
                *r += g * n;
            }
            Weights::store(&self.weights.syn1neg, target, dim, row);
        }
        if !self.config.cbow_mean {
            for w in work.iter_mut() {
                *w *= inv_count;
            }
        }
        for (c, &context) in contexts.iter().enumerate() {
            let row = &mut context_rows[c * dim..(c + 1) * dim];
            // A token twice in the window gets the update twice, as in gensim.
            if contexts[..c].contains(&context) {
                Weights::load(&self.weights.syn0, context, dim, row);
            }
            for (r, w) in row.iter_mut().zip(work.iter()) {
                *r += w;
            }
            Weights::store(&self.weights.syn0, context, dim, row);
        }
    }
}

impl Word2Vec {
    /// Trains on `sentences` (sessions of token ids).
    pub fn train(sentences: &[Vec<u32>], config: &Word2VecConfig) -> Result<(Word2Vec, TrainingStats)> {
        if config.vector_size == 0 {
            return Err(Error::InvalidConfig {
                field: "vector_size",
                reason: "must be at least 1".to_owned(),
            });
        }
        if config.epochs == 0 {
            return Err(Error::InvalidConfig {
                field: "epochs",
                reason: "must be at least 1".to_owned(),
            });
        }
        let vocabulary = build_vocabulary(sentences, config.min_count);
        if vocabulary.tokens.is_empty() {
            return Err(Error::EmptyInput(format!(
                "no token occurs at least {} times (min_count) in {} sentences",
                config.min_count,
                sentences.len()
            )));
        }
        let dim = config.vector_size;
        let rows = vocabulary.tokens.len();
        // gensim: uniform in [-1/size, 1/size); the output weights start at zero.
        let mut init = Lcg(splitmix(config.seed) & ((1 << 48) - 1));
        let syn0 = (0..rows * dim)
            .map(|_| {
                let unit = (init.next() & 0xff_ffff) as f32 / (1 << 24) as f32;
                AtomicU32::new(((unit * 2.0 - 1.0) / dim as f32).to_bits())
            })
            .collect();
        let syn1neg = (0..rows * dim).map(|_| AtomicU32::new(0f32.to_bits())).collect();
        let noise = noise_table(&vocabulary.counts, config.ns_exponent);
        let trainer = Trainer {
            config,
            thresholds: sample_thresholds(&vocabulary.counts, config.sample),
            noise_buckets: noise_buckets(&noise),
            noise,
            exp_table: exp_table(),
            weights: Weights { syn0, syn1neg, dim },
            vocabulary: &vocabulary,
        };
        let jobs = jobs(sentences, config.batch_words.max(1));
        let total_sentences = sentences.len().max(1) as f64;
        let raw_words: u64 = sentences.iter().map(|s| s.len() as u64).sum::<u64>() * config.epochs as u64;
        let effective = std::sync::atomic::AtomicU64::new(0);
        let started = std::time::Instant::now();
        for epoch in 0..config.epochs {
            let next_job = AtomicUsize::new(0);
            let worker = || {
                let mut scratch = Scratch {
                    kept: Vec::with_capacity(MAX_SENTENCE_LEN),
                    sentence_ends: Vec::new(),
                    neu1: vec![0.0; dim],
                    work: vec![0.0; dim],
                    contexts: Vec::new(),
                    context_rows: Vec::new(),
                    rows: Vec::new(),
                    targets: Vec::new(),
                    next_targets: Vec::new(),
                    reductions: Vec::new(),
                };
                loop {
                    let n = next_job.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(n) else { break };
                    // Progress before the job, in sentences over all epochs (gensim's rule).
                    let progress = (epoch as f64 + job.first as f64 / total_sentences) / config.epochs as f64;
                    let alpha = (f64::from(config.alpha)
                        - (f64::from(config.alpha) - f64::from(config.min_alpha)) * progress)
                        .max(f64::from(config.min_alpha)) as f32;
                    let seed = splitmix(config.seed ^ splitmix(((epoch as u64) << 32) | n as u64));
                    let words = trainer.train_job(&sentences[job.first..job.end], alpha, seed, &mut scratch);
                    effective.fetch_add(words, Ordering::Relaxed);
                }
            };
            let threads = config.threads.max(1);
            if threads == 1 {
                worker();
            } else {
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        scope.spawn(worker);
                    }
                });
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let vectors = trainer
            .weights
            .syn0
            .iter()
            .map(|cell| f32::from_bits(cell.load(Ordering::Relaxed)))
            .collect();
        let Vocabulary {
            tokens,
            counts,
            index,
        } = vocabulary;
        Ok((
            Word2Vec {
                tokens,
                index,
                counts,
                vectors,
                dim,
            },
            TrainingStats {
                effective_words: effective.into_inner(),
                raw_words,
                seconds,
            },
        ))
    }

    /// Builds from explicit vectors (e.g. read from another tool).
    pub fn from_vectors(
        tokens: Vec<u32>,
        counts: Vec<u64>,
        vectors: Vec<f32>,
        dim: usize,
    ) -> Result<Word2Vec> {
        if dim == 0 || vectors.len() != tokens.len() * dim || counts.len() != tokens.len() {
            return Err(Error::Shape(format!(
                "{} tokens, {} counts and {} values do not make {dim}-dimensional vectors",
                tokens.len(),
                counts.len(),
                vectors.len()
            )));
        }
        let index = tokens.iter().enumerate().map(|(i, t)| (*t, i)).collect();
        Ok(Word2Vec {
            tokens,
            index,
            counts,
            vectors,
            dim,
        })
    }

    /// Dimensions of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of tokens with a vector.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The vocabulary, most frequent first.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// The vector of `token`, if it has one.
    pub fn vector(&self, token: u32) -> Option<&[f32]> {
        let i = *self.index.get(&token)?;
        Some(&self.vectors[i * self.dim..(i + 1) * self.dim])
    }

    /// The `k` tokens most cosine-similar to `token` (itself excluded).
    pub fn most_similar(&self, token: u32, k: usize) -> Vec<(u32, f32)> {
        let Some(query) = self.vector(token) else {
            return Vec::new();
        };
        let query_norm = norm(query);
        let mut scored: Vec<(u32, f32)> = self
            .tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| **t != token)
            .map(|(i, t)| {
                let v = &self.vectors[i * self.dim..(i + 1) * self.dim];
                let cosine = dot(query, v) / (query_norm * norm(v)).max(f32::MIN_POSITIVE);
                (*t, cosine)
            })
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
    }

    /// Writes gensim's word2vec text format (`KeyedVectors.load_word2vec_format`).
    pub fn save_text(&self, path: &Path) -> Result<()> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        writeln!(out, "{} {}", self.tokens.len(), self.dim).map_err(io)?;
        for (i, token) in self.tokens.iter().enumerate() {
            write!(out, "{token}").map_err(io)?;
            for value in &self.vectors[i * self.dim..(i + 1) * self.dim] {
                write!(out, " {value}").map_err(io)?;
            }
            writeln!(out).map_err(io)?;
        }
        out.flush().map_err(io)
    }

    /// Reads gensim's word2vec text format; tokens must be integers.
    pub fn load_text(path: &Path) -> Result<Word2Vec> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let bad = |line: usize, reason: String| Error::Parse {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let reader = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
        let mut lines = reader.lines();
        let header = lines
            .next()
            .ok_or_else(|| bad(1, "the file is empty".to_owned()))?
            .map_err(io)?;
        let mut fields = header.split_whitespace();
        let (Some(rows), Some(dim), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad(
                1,
                format!("expected '<count> <dimensions>', found '{header}'"),
            ));
        };
        let rows: usize = rows
            .parse()
            .map_err(|_| bad(1, format!("count '{rows}' is not a number")))?;
        let dim: usize = dim
            .parse()
            .map_err(|_| bad(1, format!("dimensions '{dim}' is not a number")))?;
        let mut tokens = Vec::with_capacity(rows);
        let mut vectors = Vec::with_capacity(rows * dim);
        for (n, line) in lines.enumerate() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split_whitespace();
            let token = fields.next().unwrap_or_default();
            tokens.push(
                token
                    .parse::<u32>()
                    .map_err(|_| bad(n + 2, format!("token '{token}' is not an integer id")))?,
            );
            let before = vectors.len();
            for value in fields {
                vectors.push(
                    value
                        .parse::<f32>()
                        .map_err(|_| bad(n + 2, format!("'{value}' is not a number")))?,
                );
            }
            if vectors.len() - before != dim {
                return Err(bad(
                    n + 2,
                    format!("expected {dim} values, found {}", vectors.len() - before),
                ));
            }
        }
        if tokens.len() != rows {
            return Err(bad(
                1,
                format!("the header says {rows} vectors, the file has {}", tokens.len()),
            ));
        }
        let counts = vec![0; tokens.len()];
        Word2Vec::from_vectors(tokens, counts, vectors, dim)
    }

    /// Count of `token` in the training corpus (0 for loaded vectors).
    pub fn count(&self, token: u32) -> u64 {
        self.index.get(&token).map_or(0, |i| self.counts[*i])
    }
}

/// Dot product with eight independent partial sums, which the compiler
/// turns into SIMD (a single running sum would serialise every addition).
/// Asks the CPU to start fetching a row that will be needed soon.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn prefetch_row(rows: &[AtomicU32], row: usize, dim: usize) {
    const FLOATS_PER_LINE: usize = 16;
    let Some(cells) = rows.get(row * dim..(row + 1) * dim) else {
        return;
    };
    for cell in cells.iter().step_by(FLOATS_PER_LINE) {
        // SAFETY: a prefetch is only a hint: it never faults and reads no
        // memory on the program's behalf; the pointer comes from a live slice,
        // and SSE is part of the x86-64 baseline.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(cell.as_ptr().cast::<i8>());
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch_row(_rows: &[AtomicU32], _row: usize, _dim: usize) {}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut partial = [0f32; LANES];
    let (a_chunks, a_rest) = a.split_at(a.len() / LANES * LANES);
    let (b_chunks, b_rest) = b.split_at(a_chunks.len().min(b.len()));
    for (x, y) in a_chunks.chunks_exact(LANES).zip(b_chunks.chunks_exact(LANES)) {
        for lane in 0..LANES {
            partial[lane] += x[lane] * y[lane];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    partial.iter().sum::<f32>() + tail
}

pub(crate) fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_sorted_by_count_with_later_tokens_first_on_ties() {
        let sentences = vec![vec![7, 8, 9, 9], vec![8, 7, 5]];
        let vocabulary = build_vocabulary(&sentences, 1);
        // 7, 8, 9 twice each (first seen in that order), 5 once.
        assert_eq!(vocabulary.tokens, [9, 8, 7, 5]);
        assert_eq!(vocabulary.counts, [2, 2, 2, 1]);
        assert_eq!(build_vocabulary(&sentences, 2).tokens, [9, 8, 7]);
    }

    #[test]
    fn down_sampling_follows_gensims_formula() {
        // One token making up the whole corpus of 1000 with sample 1e-3:
        // threshold = 1, p = (sqrt(1000) + 1) / 1000.
        let thresholds = sample_thresholds(&[1000], 1e-3);
        let p = ((1000f64).sqrt() + 1.0) / 1000.0;
        assert_eq!(thresholds[0], (p * f64::from(u32::MAX)) as u32);
        // Rare tokens are always kept.
        assert_eq!(sample_thresholds(&[1, 100_000], 1e-3)[0], u32::MAX);
    }

    #[test]
    fn the_noise_table_ends_at_its_domain() {
        let table = noise_table(&[16, 1], 0.75);
        assert_eq!(*table.last().unwrap(), i32::MAX as u32);
        // 16^0.75 = 8 of 9 parts.
        assert_eq!(table[0], (8.0 / 9.0 * f64::from(i32::MAX)).round() as u32);
    }

    #[test]
    fn bucketed_bisection_equals_a_plain_one() {
        let counts: Vec<u64> = (1..=5000u64).rev().map(|r| 1 + 100_000 / r).collect();
        let noise = noise_table(&counts, 0.75);
        let buckets = noise_buckets(&noise);
        let mut rng = Lcg(12345);
        for _ in 0..100_000 {
            let x = (rng.next() % u64::from(*noise.last().unwrap())) as u32;
            assert_eq!(
                bisect_noise(&noise, &buckets, x),
                noise.partition_point(|c| *c < x),
                "x = {x}"
            );
        }
        for x in [
            0,
            1,
            noise[0],
            noise[0] + 1,
            noise[10],
            *noise.last().unwrap() - 1,
        ] {
            assert_eq!(
                bisect_noise(&noise, &buckets, x),
                noise.partition_point(|c| *c < x),
                "x = {x}"
            );
        }
    }

    #[test]
    fn jobs_pack_sentences_up_to_the_batch_size() {
        let sentences = vec![vec![0; 4], vec![0; 4], vec![0; 4], vec![0; 12]];
        let packed: Vec<(usize, usize)> = jobs(&sentences, 10).iter().map(|j| (j.first, j.end)).collect();
        assert_eq!(packed, [(0, 2), (2, 3), (3, 4)]);
    }

    #[test]
    fn one_thread_and_a_seed_give_the_same_vectors() {
        let sentences: Vec<Vec<u32>> = (0..200)
            .map(|s| (0..10).map(|i| (s * 7 + i * 3) % 40).collect())
            .collect();
        let config = Word2VecConfig {
            vector_size: 16,
            min_count: 1,
            ..Word2VecConfig::default()
        };
        let (a, _) = Word2Vec::train(&sentences, &config).unwrap();
        let (b, _) = Word2Vec::train(&sentences, &config).unwrap();
        assert_eq!(a, b);
        let other = Word2VecConfig { seed: 2, ..config };
        assert_ne!(Word2Vec::train(&sentences, &other).unwrap().0, a);
    }
}
