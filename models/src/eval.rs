//! The paper's evaluation protocol and its metrics.
//!
//! Every model is measured the same way, here:
//!
//! - The vocabulary is the set of tracks in the training sessions (items
//!   `0..num_items`); a test session's track outside it is `None`.
//! - For every test session and every position `t ≥ 1`, the input is the
//!   last ≤ [`MAX_HISTORY`] positions before `t` with out-of-vocabulary
//!   tracks removed, and the target is the track at `t`.
//! - All vocabulary items are ranked. The rank of the target is the number
//!   of items scoring at least as high as it (ties count against the model).
//! - A target outside the vocabulary is a miss that stays in the denominator.
//! - An input left empty after filtering is ranked by the fallback model
//!   (POP in the harness).
//! - HitRatio@k is the share of predictions ranked ≤ k, for k in
//!   [`CUTOFFS`]; MRR@20 averages `1/rank` over predictions ranked ≤ 20
//!   (0 otherwise).

use serde::Serialize;

/// An item (track) index in `0..num_items`.
pub type Item = u32;

/// A user index.
pub type User = u32;

/// The longest history a model sees.
pub const MAX_HISTORY: usize = 20;

/// The `k` of HitRatio@k.
pub const CUTOFFS: [usize; 4] = [1, 5, 10, 20];

/// The cutoff of MRR.
pub const MRR_CUTOFF: usize = 20;

/// A training session: every item is in the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainSession {
    /// Whose session.
    pub user: User,
    /// The items in play order.
    pub items: Vec<Item>,
}

/// A test session: items outside the vocabulary are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSession {
    /// Whose session.
    pub user: User,
    /// The items in play order.
    pub items: Vec<Option<Item>>,
}

/// One prediction task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Whose session.
    pub user: User,
    /// In-vocabulary items before the target, oldest first (≤ [`MAX_HISTORY`]).
    pub history: Vec<Item>,
    /// The item to predict, `None` when outside the vocabulary.
    pub target: Option<Item>,
}

/// The protocol's examples of a set of test sessions, in session order.
pub fn examples(test: &[TestSession]) -> Vec<Example> {
    let mut examples = Vec::new();
    for session in test {
        for t in 1..session.items.len() {
            let window = &session.items[t.saturating_sub(MAX_HISTORY)..t];
            examples.push(Example {
                user: session.user,
                history: window.iter().flatten().copied().collect(),
                target: session.items[t],
            });
        }
    }
    examples
}

/// A history to score.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Whose history.
    pub user: User,
    /// In-vocabulary items, oldest first; never empty.
    pub history: &'a [Item],
}

/// Anything that scores every item given a history.
pub trait Scorer: Sync {
    /// Number of items scored.
    fn num_items(&self) -> usize;

    /// Writes one score per item into `out` (`num_items` long); higher is better.
    fn score(&self, query: &Query<'_>, out: &mut [f64]);

    /// Scores several queries into `out` (`queries.len() × num_items`, row-major).
    /// Models that batch (matrix products, networks) override it.
    fn score_batch(&self, queries: &[Query<'_>], out: &mut [f64]) {
        let n = self.num_items();
        for (query, row) in queries.iter().zip(out.chunks_mut(n)) {
            self.score(query, row);
        }
    }
}

/// The rank of `target` in `scores`: how many items score at least as high
/// (so 1 is best, and ties count against the model).
pub fn rank_of(scores: &[f64], target: Item) -> usize {
    let threshold = scores[target as usize];
    if threshold.is_nan() {
        return scores.len();
    }
    scores.iter().filter(|s| **s >= threshold).count()
}

/// Accumulated metrics of a set of predictions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Predictions made (unseen targets included).
    pub predictions: u64,
    /// Targets outside the vocabulary (always misses).
    pub unseen_targets: u64,
    /// Inputs left empty after removing unknown tracks (ranked by the fallback).
    pub empty_inputs: u64,
    hits: [u64; CUTOFFS.len()],
    reciprocal_rank_sum: f64,
}

impl Metrics {
    /// Records one prediction: `rank` is `None` for an unseen target.
    pub fn record(&mut self, rank: Option<usize>, empty_input: bool) {
        self.predictions += 1;
        self.empty_inputs += u64::from(empty_input);
        let Some(rank) = rank else {
            self.unseen_targets += 1;
            return;
        };
        for (hits, k) in self.hits.iter_mut().zip(CUTOFFS) {
            *hits += u64::from(rank <= k);
        }
        if rank <= MRR_CUTOFF {
            self.reciprocal_rank_sum += 1.0 / rank as f64;
        }
    }

    /// Adds another set of predictions.
    pub fn merge(&mut self, other: &Metrics) {
        self.predictions += other.predictions;
        self.unseen_targets += other.unseen_targets;
        self.empty_inputs += other.empty_inputs;
        for (a, b) in self.hits.iter_mut().zip(other.hits) {
            *a += b;
        }
        self.reciprocal_rank_sum += other.reciprocal_rank_sum;
    }

    /// HitRatio@k for a k of [`CUTOFFS`].
    pub fn hit_ratio(&self, k: usize) -> f64 {
        let Some(i) = CUTOFFS.iter().position(|c| *c == k) else {
            return f64::NAN;
        };
        if self.predictions == 0 {
            0.0
        } else {
            self.hits[i] as f64 / self.predictions as f64
        }
    }

    /// MRR@20.
    pub fn mrr(&self) -> f64 {
        if self.predictions == 0 {
            0.0
        } else {
            self.reciprocal_rank_sum / self.predictions as f64
        }
    }

    /// A serialisable summary.
    pub fn summary(&self) -> MetricsSummary {
        MetricsSummary {
            hr1: self.hit_ratio(1),
            hr5: self.hit_ratio(5),
            hr10: self.hit_ratio(10),
            hr20: self.hit_ratio(20),
            mrr20: self.mrr(),
            predictions: self.predictions,
            unseen_targets: self.unseen_targets,
            empty_inputs: self.empty_inputs,
        }
    }
}

/// Metrics as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricsSummary {
    /// HitRatio@1.
    pub hr1: f64,
    /// HitRatio@5.
    pub hr5: f64,
    /// HitRatio@10.
    pub hr10: f64,
    /// HitRatio@20.
    pub hr20: f64,
    /// MRR@20.
    pub mrr20: f64,
    /// Predictions.
    pub predictions: u64,
    /// Targets outside the vocabulary.
    pub unseen_targets: u64,
    /// Inputs ranked by the fallback.
    pub empty_inputs: u64,
}

/// Metrics overall and per group of users.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Every prediction.
    pub overall: Metrics,
    /// Per group index (see [`evaluate`]).
    pub groups: Vec<Metrics>,
}

/// Queries scored per batch.
const BATCH: usize = 64;

/// Runs the protocol: `model` ranks every example with a non-empty input,
/// `fallback` the others. `group_of[user]` (when given) assigns each user a
/// group index for per-group metrics; users beyond it or with `None` count
/// only overall. Work is split over `threads` threads.
pub fn evaluate(
    model: &dyn Scorer,
    fallback: &dyn Scorer,
    examples: &[Example],
    group_of: Option<&[Option<usize>]>,
    threads: usize,
) -> Evaluation {
    let groups = group_of.map_or(0, |g| g.iter().flatten().max().map_or(0, |m| m + 1));
    let chunk = examples.len().div_ceil(threads.max(1)).max(1);
    let partials: Vec<Evaluation> = std::thread::scope(|scope| {
        let handles: Vec<_> = examples
            .chunks(chunk)
            .map(|part| scope.spawn(move || evaluate_part(model, fallback, part, group_of, groups)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut total = Evaluation {
        overall: Metrics::default(),
        groups: vec![Metrics::default(); groups],
    };
    for part in partials {
        total.overall.merge(&part.overall);
        for (a, b) in total.groups.iter_mut().zip(&part.groups) {
            a.merge(b);
        }
    }
    total
}

fn evaluate_part(
    model: &dyn Scorer,
    fallback: &dyn Scorer,
    examples: &[Example],
    group_of: Option<&[Option<usize>]>,
    groups: usize,
) -> Evaluation {
    let n = model.num_items();
    let mut result = Evaluation {
        overall: Metrics::default(),
        groups: vec![Metrics::default(); groups],
    };
    let mut scores = vec![0f64; n * BATCH];
    let mut record = |example: &Example, rank: Option<usize>, empty: bool| {
        result.overall.record(rank, empty);
        if let Some(group) = group_of.and_then(|g| g.get(example.user as usize).copied().flatten()) {
            result.groups[group].record(rank, empty);
        }
    };
    for batch in examples.chunks(BATCH) {
        let scored: Vec<&Example> = batch
            .iter()
            .filter(|e| e.target.is_some() && !e.history.is_empty())
            .collect();
        let queries: Vec<Query<'_>> = scored
            .iter()
            .map(|e| Query {
                user: e.user,
                history: &e.history,
            })
            .collect();
        model.score_batch(&queries, &mut scores[..queries.len() * n]);
        let ranks: Vec<usize> = scored
            .iter()
            .zip(scores.chunks(n))
            .map(|(e, row)| rank_of(row, e.target.unwrap_or_default()))
            .collect();
        let mut ranks = ranks.into_iter();
        for example in batch {
            match example.target {
                None => record(example, None, example.history.is_empty()),
                Some(target) if example.history.is_empty() => {
                    let query = Query {
                        user: example.user,
                        history: &[],
                    };
                    let row = &mut scores[..n];
                    fallback.score(&query, row);
                    record(example, Some(rank_of(row, target)), true);
                }
                Some(_) => {
                    let rank = ranks.next().unwrap_or(n);
                    record(example, Some(rank), false);
                }
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_count_ties_against_the_model() {
        assert_eq!(rank_of(&[0.9, 0.5, 0.7], 0), 1);
        assert_eq!(rank_of(&[0.9, 0.5, 0.7], 1), 3);
        assert_eq!(rank_of(&[0.5, 0.5, 0.5, 0.5], 2), 4);
    }

    #[test]
    fn metrics_of_hand_computed_ranks() {
        // Ranks 1, 3, 7, 15, 25 and one unseen target.
        let mut metrics = Metrics::default();
        for rank in [1, 3, 7, 15, 25] {
            metrics.record(Some(rank), false);
        }
        metrics.record(None, false);
        assert_eq!(metrics.predictions, 6);
        assert_eq!(metrics.unseen_targets, 1);
        assert!((metrics.hit_ratio(1) - 1.0 / 6.0).abs() < 1e-12);
        assert!((metrics.hit_ratio(5) - 2.0 / 6.0).abs() < 1e-12);
        assert!((metrics.hit_ratio(10) - 3.0 / 6.0).abs() < 1e-12);
        assert!((metrics.hit_ratio(20) - 4.0 / 6.0).abs() < 1e-12);
        let mrr = (1.0 + 1.0 / 3.0 + 1.0 / 7.0 + 1.0 / 15.0) / 6.0;
        assert!((metrics.mrr() - mrr).abs() < 1e-12);
    }

    #[test]
    fn all_tied_scores_rank_the_target_last() {
        let mut metrics = Metrics::default();
        let scores = vec![0.0; 30];
        metrics.record(Some(rank_of(&scores, 4)), false);
        assert_eq!(metrics.hit_ratio(20), 0.0);
        assert_eq!(metrics.mrr(), 0.0);
    }

    #[test]
    fn examples_cover_every_position_after_the_first() {
        let items: Vec<Option<Item>> = (0..25).map(|i| if i == 3 { None } else { Some(i) }).collect();
        let test = [TestSession { user: 7, items }];
        let examples = examples(&test);
        assert_eq!(examples.len(), 24);
        assert_eq!(examples[0].history, [0]);
        // Position 3 is unknown: a miss with the history before it.
        assert_eq!(examples[2].target, None);
        // At t = 4 the unknown item is removed from the input.
        assert_eq!(examples[3].history, [0, 1, 2]);
        // At t = 24 the window is positions 4..24.
        assert_eq!(examples[23].history, (4..24).collect::<Vec<_>>());
        assert_eq!(examples[23].target, Some(24));
    }

    struct Constant(Vec<f64>);

    impl Scorer for Constant {
        fn num_items(&self) -> usize {
            self.0.len()
        }

        fn score(&self, _query: &Query<'_>, out: &mut [f64]) {
            out.copy_from_slice(&self.0);
        }
    }

    #[test]
    fn empty_inputs_go_to_the_fallback_and_groups_split_the_metrics() {
        let model = Constant(vec![0.0, 1.0, 2.0]);
        let fallback = Constant(vec![2.0, 1.0, 0.0]);
        let examples = vec![
            Example {
                user: 0,
                history: vec![1],
                target: Some(2),
            },
            Example {
                user: 1,
                history: vec![],
                target: Some(0),
            },
            Example {
                user: 1,
                history: vec![2],
                target: None,
            },
        ];
        let groups = [Some(0), Some(1)];
        let result = evaluate(&model, &fallback, &examples, Some(&groups), 2);
        assert_eq!(result.overall.predictions, 3);
        assert_eq!(result.overall.empty_inputs, 1);
        assert_eq!(result.overall.unseen_targets, 1);
        assert!((result.overall.hit_ratio(1) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(result.groups[0].predictions, 1);
        assert_eq!(result.groups[1].predictions, 2);
        assert!((result.groups[1].hit_ratio(1) - 0.5).abs() < 1e-12);
    }
}
