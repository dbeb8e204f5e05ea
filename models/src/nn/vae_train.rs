//! Training of the acoustic VAE, apart from the model: standardisation of
//! the feature matrix, Adam over shuffled mini-batches, and the embeddings
//! (posterior means) of every row afterwards.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::vae::{Vae, VaeConfig, vae_loss};
use crate::{Error, Result};

/// Settings of a VAE training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VaeTrainConfig {
    /// Passes over the tracks.
    pub epochs: usize,
    /// Tracks per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of the initial weights, the shuffling and the posterior samples.
    pub seed: u64,
}

impl Default for VaeTrainConfig {
    fn default() -> Self {
        VaeTrainConfig {
            epochs: 60,
            batch_size: 64,
            learning_rate: 1e-3,
            seed: 1,
        }
    }
}

/// Per-feature mean and standard deviation, so that every feature weighs
/// the same in the reconstruction error whatever its unit (BPM, dB, 0–1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardisation {
    /// Mean of each feature.
    pub mean: Vec<f32>,
    /// Standard deviation of each feature (1 where a feature is constant).
    pub std: Vec<f32>,
}

impl Standardisation {
    /// Fits on `rows` `[n, dim]` row-major.
    pub fn fit(rows: &[f32], dim: usize) -> Result<Standardisation> {
        if dim == 0 || rows.is_empty() || !rows.len().is_multiple_of(dim) {
            return Err(Error::Shape(format!(
                "{} feature values are not whole rows of {dim}",
                rows.len()
            )));
        }
        let n = (rows.len() / dim) as f64;
        let mut mean = vec![0f64; dim];
        for row in rows.chunks(dim) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut variance = vec![0f64; dim];
        for row in rows.chunks(dim) {
            for ((s, v), m) in variance.iter_mut().zip(row).zip(&mean) {
                *s += (f64::from(*v) - m).powi(2);
            }
        }
        let std = variance
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 1e-12 { sd as f32 } else { 1.0 }
            })
            .collect();
        Ok(Standardisation {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        })
    }

    /// `rows` standardised with these statistics.
    pub fn apply(&self, rows: &[f32]) -> Vec<f32> {
        let dim = self.mean.len();
        rows.chunks(dim)
            .flat_map(|row| {
                row.iter()
                    .zip(&self.mean)
                    .zip(&self.std)
                    .map(|((v, m), s)| (v - m) / s)
            })
            .collect()
    }
}

/// The mean loss terms of one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VaeEpoch {
    /// Reconstruction error per track (sum over standardised features).
    pub reconstruction: f64,
    /// KL divergence per track.
    pub kl: f64,
}

/// Trains a VAE on standardised `rows` `[n, config.d_input]`; returns the
/// model and each epoch's mean losses.
pub fn train_vae(
    rows: &[f32],
    config: &VaeConfig,
    settings: &VaeTrainConfig,
    device: &Device,
) -> Result<(Vae, Vec<VaeEpoch>)> {
    let dim = config.d_input;
    if dim == 0 || rows.is_empty() || !rows.len().is_multiple_of(dim) {
        return Err(Error::EmptyInput(format!(
            "the VAE needs whole rows of {dim} features ({} values given)",
            rows.len()
        )));
    }
    if settings.batch_size == 0 || settings.epochs == 0 {
        return Err(Error::InvalidConfig {
            field: "vae",
            reason: "batch size and epochs must be at least 1".to_owned(),
        });
    }
    let n = rows.len() / dim;
    let device = device.clone().autodiff();
    device.seed(settings.seed);
    let mut model = config.init(&device).train();
    let mut optimizer = AdamConfig::new().init();
    let mut rng = SmallRng::seed_from_u64(settings.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut history = Vec::with_capacity(settings.epochs);
    for epoch in 0..settings.epochs {
        order.shuffle(&mut rng);
        let (mut reconstruction_sum, mut kl_sum) = (0f64, 0f64);
        for batch in order.chunks(settings.batch_size) {
            let mut values = Vec::with_capacity(batch.len() * dim);
            for row in batch {
                values.extend_from_slice(&rows[row * dim..(row + 1) * dim]);
            }
            let features = Tensor::<2>::from_data(TensorData::new(values, [batch.len(), dim]), &device);
            let output = model.forward(features.clone());
            let (loss, reconstruction, kl) = vae_loss(&output, features, config.kl_weight);
            let reconstruction = f64::from(reconstruction.into_scalar::<f32>());
            let kl = f64::from(kl.into_scalar::<f32>());
            if !(reconstruction.is_finite() && kl.is_finite()) {
                return Err(Error::Diverged {
                    epoch: epoch + 1,
                    step: 0,
                    loss: reconstruction + kl,
                });
            }
            reconstruction_sum += reconstruction * batch.len() as f64;
            kl_sum += kl * batch.len() as f64;
            let gradients = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(settings.learning_rate, model, gradients);
        }
        history.push(VaeEpoch {
            reconstruction: reconstruction_sum / n as f64,
            kl: kl_sum / n as f64,
        });
    }
    Ok((model.valid(), history))
}

/// Posterior means of standardised `rows` `[n, d_input]`: `[n, d_latent]` row-major.
pub fn embed_rows(model: &Vae, rows: &[f32], dim: usize, device: &Device) -> Vec<f32> {
    let device = device.clone().without_autodiff();
    let model = model.valid();
    let mut out = Vec::new();
    for chunk in rows.chunks(dim * 1024) {
        let n = chunk.len() / dim;
        let features = Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [n, dim]), &device);
        out.extend(model.embed(features).try_into_vec_as::<f32>().unwrap_or_default());
    }
    out
}
