//! Neural models as [`Scorer`]s: the evaluation protocol and recommendations
//! rank with them exactly as with the baselines.

use std::sync::{Mutex, OnceLock};

use burn::prelude::*;

use super::batch::Batch;
use super::model::NextTrackModel;
use super::ranker::QuantizedHead;
use crate::eval::{Item, MAX_HISTORY, Query, Scorer};

/// A trained model in inference mode on a device.
#[derive(Debug)]
pub struct NeuralScorer {
    // Burn modules are `Send` but not `Sync`; scoring calls take turns, and
    // each call runs its batch with the backend's own threads.
    model: Mutex<NextTrackModel>,
    device: Device,
    num_items: usize,
    /// The attentive network's output layer for top-k queries, built on the
    /// first one.
    ranker: OnceLock<Option<QuantizedHead>>,
}

impl NeuralScorer {
    /// Wraps `model` (switched to inference mode) for scoring on `device`.
    pub fn new(model: &NextTrackModel, device: &Device, num_items: usize) -> NeuralScorer {
        NeuralScorer {
            model: Mutex::new(model.valid()),
            device: device.clone().without_autodiff(),
            num_items,
            ranker: OnceLock::new(),
        }
    }

    /// The `k` best items after `history` with their logits, best first
    /// (ties by lower index), never returning an item of `excluded`.
    ///
    /// Exactly the top-k of [`NeuralScorer::logits`]; for attentive
    /// networks it only reads the full-precision output rows of a few
    /// candidates (see [`super::ranker`]).
    pub fn top_k(&self, history: &[Item], k: usize, excluded: &[Item]) -> Vec<(Item, f32)> {
        let skip = |item: Item| excluded.contains(&item);
        let ranker = self.ranker.get_or_init(|| {
            let model = self
                .model
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            model.as_attentive().map(|net| {
                let (weight, bias) = net.output_rows();
                let inputs = weight.len() / bias.len().max(1);
                QuantizedHead::new(inputs, weight, bias)
            })
        });
        let history = &history[history.len().saturating_sub(MAX_HISTORY)..];
        match ranker {
            Some(ranker) => {
                let batch = Batch::new(&[history], &self.device);
                let model = self
                    .model
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let hidden = model.as_attentive().map(|net| net.hidden(&batch));
                drop(model);
                let hidden: Vec<f32> = hidden
                    .and_then(|h| h.try_into_vec_as::<f32>().ok())
                    .unwrap_or_default();
                ranker.top_k(&hidden, k, &skip)
            }
            None => {
                let logits = self.logits(&[history]);
                let mut scored: Vec<(Item, f32)> = logits
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| (i as Item, s))
                    .filter(|(i, _)| !skip(*i))
                    .collect();
                let k = k.min(scored.len());
                if k == 0 {
                    return Vec::new();
                }
                let order = |a: &(Item, f32), b: &(Item, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
                scored.select_nth_unstable_by(k - 1, order);
                scored.truncate(k);
                scored.sort_by(order);
                scored
            }
        }
    }

    /// Logits of a batch of histories, on the host, row-major `[B, num_items]`.
    pub fn logits(&self, histories: &[&[Item]]) -> Vec<f32> {
        if histories.is_empty() {
            return Vec::new();
        }
        let capped: Vec<&[Item]> = histories
            .iter()
            .map(|h| &h[h.len().saturating_sub(MAX_HISTORY)..])
            .collect();
        let batch = Batch::new(&capped, &self.device);
        let model = self
            .model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let logits = model.logits(&batch);
        drop(model);
        logits.try_into_vec_as::<f32>().unwrap_or_default()
    }

    /// A clone of the model (inference mode).
    pub fn model(&self) -> NextTrackModel {
        self.model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl Scorer for NeuralScorer {
    fn num_items(&self) -> usize {
        self.num_items
    }

    fn score(&self, query: &Query<'_>, out: &mut [f64]) {
        self.score_batch(std::slice::from_ref(query), out);
    }

    fn score_batch(&self, queries: &[Query<'_>], out: &mut [f64]) {
        let histories: Vec<&[Item]> = queries.iter().map(|q| q.history).collect();
        let logits = self.logits(&histories);
        for (score, logit) in out.iter_mut().zip(logits) {
            *score = f64::from(logit);
        }
    }
}
