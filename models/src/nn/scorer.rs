//! Neural models as [`Scorer`]s: the evaluation protocol and recommendations
//! rank with them exactly as with the baselines.

use std::sync::Mutex;

use burn::prelude::*;

use super::batch::Batch;
use super::model::NextTrackModel;
use crate::eval::{Item, MAX_HISTORY, Query, Scorer};

/// A trained model in inference mode on a device.
#[derive(Debug)]
pub struct NeuralScorer {
    // Burn modules are `Send` but not `Sync`; scoring calls take turns, and
    // each call runs its batch with the backend's own threads.
    model: Mutex<NextTrackModel>,
    device: Device,
    num_items: usize,
}

impl NeuralScorer {
    /// Wraps `model` (switched to inference mode) for scoring on `device`.
    pub fn new(model: &NextTrackModel, device: &Device, num_items: usize) -> NeuralScorer {
        NeuralScorer {
            model: Mutex::new(model.valid()),
            device: device.clone().without_autodiff(),
            num_items,
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
        let model = self.model.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let logits = model.logits(&batch);
        drop(model);
        logits.try_into_vec_as::<f32>().unwrap_or_default()
    }

    /// A clone of the model (inference mode).
    pub fn model(&self) -> NextTrackModel {
        self.model.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
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
