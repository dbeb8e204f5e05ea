//! Non-neural baselines, ranked by the same protocol as every model.
//!
//! Each baseline's scores are built so that its documented tie-breaking is
//! exact: a primary count is scaled by `num_items + 1` and the POP position
//! (1 for the least popular item, `num_items` for the most) is added, so no
//! two items ever tie. Scores are `f64`, exact for counts far beyond any
//! listening history.

use std::collections::HashMap;

use crate::eval::{Item, Query, Scorer, TrainSession, User};
use crate::word2vec::Word2Vec;

/// Train popularity: items by play count, ties by index (the fixed track order).
#[derive(Debug, Clone)]
pub struct Popularity {
    /// POP position of each item: `num_items` for the most popular, 1 for the least.
    position: Vec<f64>,
    counts: Vec<u64>,
}

impl Popularity {
    /// Counts plays in the training sessions.
    pub fn fit(train: &[TrainSession], num_items: usize) -> Popularity {
        let mut counts = vec![0u64; num_items];
        for session in train {
            for item in &session.items {
                counts[*item as usize] += 1;
            }
        }
        let mut order: Vec<usize> = (0..num_items).collect();
        order.sort_by(|a, b| counts[*b].cmp(&counts[*a]).then(a.cmp(b)));
        let mut position = vec![0.0; num_items];
        for (rank, item) in order.iter().enumerate() {
            position[*item] = (num_items - rank) as f64;
        }
        Popularity { position, counts }
    }

    /// Plays of `item` in training.
    pub fn count(&self, item: Item) -> u64 {
        self.counts[item as usize]
    }

    /// The POP position of every item (higher is more popular; all distinct).
    pub fn positions(&self) -> &[f64] {
        &self.position
    }

    /// The scale that puts a count above every POP position.
    fn scale(&self) -> f64 {
        (self.position.len() + 1) as f64
    }
}

impl Scorer for Popularity {
    fn num_items(&self) -> usize {
        self.position.len()
    }

    fn score(&self, _query: &Query<'_>, out: &mut [f64]) {
        out.copy_from_slice(&self.position);
    }
}

/// Last-track Markov chain: transitions counted in the training sessions
/// from the input's last item; ties and unseen transitions fall back to POP.
#[derive(Debug, Clone)]
pub struct Markov {
    popularity: Popularity,
    transitions: HashMap<Item, Vec<(Item, u64)>>,
}

impl Markov {
    /// Counts consecutive pairs of the training sessions.
    pub fn fit(train: &[TrainSession], num_items: usize) -> Markov {
        let mut pairs: HashMap<Item, HashMap<Item, u64>> = HashMap::new();
        for session in train {
            for pair in session.items.windows(2) {
                *pairs.entry(pair[0]).or_default().entry(pair[1]).or_default() += 1;
            }
        }
        let transitions = pairs
            .into_iter()
            .map(|(from, to)| (from, to.into_iter().collect()))
            .collect();
        Markov {
            popularity: Popularity::fit(train, num_items),
            transitions,
        }
    }

    /// The transitions out of `item`, with their counts.
    pub fn transitions(&self, item: Item) -> &[(Item, u64)] {
        self.transitions.get(&item).map_or(&[], Vec::as_slice)
    }
}

impl Scorer for Markov {
    fn num_items(&self) -> usize {
        self.popularity.num_items()
    }

    fn score(&self, query: &Query<'_>, out: &mut [f64]) {
        out.copy_from_slice(self.popularity.positions());
        let scale = self.popularity.scale();
        if let Some(last) = query.history.last() {
            for (to, count) in self.transitions(*last) {
                out[*to as usize] += *count as f64 * scale;
            }
        }
    }
}

/// The user's own play counts in training, ties (and users without history) by POP.
#[derive(Debug, Clone)]
pub struct PersonalPopularity {
    popularity: Popularity,
    per_user: HashMap<User, Vec<(Item, u64)>>,
}

impl PersonalPopularity {
    /// Counts each user's plays in the training sessions.
    pub fn fit(train: &[TrainSession], num_items: usize) -> PersonalPopularity {
        let mut counts: HashMap<User, HashMap<Item, u64>> = HashMap::new();
        for session in train {
            let user = counts.entry(session.user).or_default();
            for item in &session.items {
                *user.entry(*item).or_default() += 1;
            }
        }
        PersonalPopularity {
            popularity: Popularity::fit(train, num_items),
            per_user: counts
                .into_iter()
                .map(|(user, items)| (user, items.into_iter().collect()))
                .collect(),
        }
    }
}

impl Scorer for PersonalPopularity {
    fn num_items(&self) -> usize {
        self.popularity.num_items()
    }

    fn score(&self, query: &Query<'_>, out: &mut [f64]) {
        out.copy_from_slice(self.popularity.positions());
        let scale = self.popularity.scale();
        if let Some(items) = self.per_user.get(&query.user) {
            for (item, count) in items {
                out[*item as usize] += *count as f64 * scale;
            }
        }
    }
}

/// Cosine similarity of every item's CBOW vector to the mean of the input's.
#[derive(Debug, Clone)]
pub struct Word2VecKnn {
    /// Unit vectors, row-major `[num_items, dim]`; zero rows for items without a vector.
    unit: Vec<f32>,
    /// Raw vectors (for the mean of the input).
    raw: Vec<f32>,
    has_vector: Vec<bool>,
    dim: usize,
}

impl Word2VecKnn {
    /// Takes item `i`'s vector from `vectors` (items are the tokens).
    pub fn new(vectors: &Word2Vec, num_items: usize) -> Word2VecKnn {
        let dim = vectors.dim();
        let mut raw = vec![0f32; num_items * dim];
        let mut unit = vec![0f32; num_items * dim];
        let mut has_vector = vec![false; num_items];
        for item in 0..num_items {
            if let Some(v) = vectors.vector(item as u32) {
                raw[item * dim..(item + 1) * dim].copy_from_slice(v);
                let norm = crate::word2vec::norm(v).max(f32::MIN_POSITIVE);
                for (u, x) in unit[item * dim..(item + 1) * dim].iter_mut().zip(v) {
                    *u = x / norm;
                }
                has_vector[item] = true;
            }
        }
        Word2VecKnn {
            unit,
            raw,
            has_vector,
            dim,
        }
    }

    /// The unit-length mean of the input's vectors, or `None` if none has one.
    fn query_vector(&self, history: &[Item]) -> Option<Vec<f32>> {
        let mut mean = vec![0f32; self.dim];
        let mut count = 0;
        for item in history {
            if self.has_vector[*item as usize] {
                let v = &self.raw[*item as usize * self.dim..(*item as usize + 1) * self.dim];
                for (m, x) in mean.iter_mut().zip(v) {
                    *m += x;
                }
                count += 1;
            }
        }
        if count == 0 {
            return None;
        }
        let norm = crate::word2vec::norm(&mean).max(f32::MIN_POSITIVE);
        mean.iter_mut().for_each(|m| *m /= norm);
        Some(mean)
    }
}

impl Scorer for Word2VecKnn {
    fn num_items(&self) -> usize {
        self.has_vector.len()
    }

    fn score(&self, query: &Query<'_>, out: &mut [f64]) {
        self.score_batch(std::slice::from_ref(query), out);
    }

    fn score_batch(&self, queries: &[Query<'_>], out: &mut [f64]) {
        let n = self.num_items();
        let q: Vec<Option<Vec<f32>>> = queries.iter().map(|q| self.query_vector(q.history)).collect();
        // One matrix product for the batch: [batch, dim] × [dim, items].
        let query_matrix = faer::Mat::<f32>::from_fn(queries.len(), self.dim, |r, c| {
            q[r].as_ref().map_or(0.0, |v| v[c])
        });
        let items = faer::MatRef::from_row_major_slice(&self.unit, n, self.dim);
        let product = &query_matrix * items.transpose();
        for (r, row) in out.chunks_mut(n).enumerate().take(queries.len()) {
            for (item, score) in row.iter_mut().enumerate() {
                *score = if q[r].is_some() && self.has_vector[item] {
                    f64::from(product[(r, item)])
                } else {
                    f64::NEG_INFINITY
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::rank_of;

    fn train() -> Vec<TrainSession> {
        vec![
            TrainSession {
                user: 0,
                items: vec![0, 1, 2, 1, 2],
            },
            TrainSession {
                user: 1,
                items: vec![3, 1, 3],
            },
        ]
    }

    fn scores(model: &dyn Scorer, user: User, history: &[Item]) -> Vec<f64> {
        let mut out = vec![0.0; model.num_items()];
        model.score(&Query { user, history }, &mut out);
        out
    }

    #[test]
    fn popularity_breaks_ties_by_item_order() {
        // counts: 0→1, 1→3, 2→2, 3→2, 4→0
        let pop = Popularity::fit(&train(), 5);
        let s = scores(&pop, 0, &[0]);
        let ranks: Vec<usize> = (0..5).map(|i| rank_of(&s, i)).collect();
        assert_eq!(ranks, [4, 1, 2, 3, 5]);
    }

    #[test]
    fn markov_follows_transitions_then_popularity() {
        let markov = Markov::fit(&train(), 5);
        // From 1: to 2 twice, to 3 once; the rest by POP (1, 0, 4).
        let s = scores(&markov, 0, &[0, 1]);
        let ranks: Vec<usize> = (0..5).map(|i| rank_of(&s, i)).collect();
        assert_eq!(ranks, [4, 3, 1, 2, 5]);
        // From an item with no transitions: POP.
        let s = scores(&markov, 0, &[4]);
        assert_eq!(rank_of(&s, 1), 1);
    }

    #[test]
    fn personal_popularity_prefers_the_users_own_plays() {
        let personal = PersonalPopularity::fit(&train(), 5);
        let s = scores(&personal, 1, &[1]);
        assert_eq!(rank_of(&s, 3), 1);
        assert_eq!(rank_of(&s, 1), 2);
        // A user without training sessions gets POP.
        let s = scores(&personal, 9, &[1]);
        assert_eq!(rank_of(&s, 1), 1);
    }

    #[test]
    fn knn_ranks_by_cosine_to_the_mean_of_the_input() {
        let vectors = Word2Vec::from_vectors(
            vec![0, 1, 2],
            vec![1, 1, 1],
            vec![1.0, 0.0, 0.0, 1.0, 0.7, 0.7],
            2,
        )
        .unwrap();
        let knn = Word2VecKnn::new(&vectors, 4);
        let s = scores(&knn, 0, &[0]);
        assert_eq!(rank_of(&s, 0), 1);
        assert_eq!(rank_of(&s, 2), 2);
        assert_eq!(rank_of(&s, 1), 3);
        // Item 3 has no vector: it ranks below everything.
        assert_eq!(s[3], f64::NEG_INFINITY);
        let s = scores(&knn, 0, &[0, 1]);
        assert_eq!(rank_of(&s, 2), 1);
    }
}
