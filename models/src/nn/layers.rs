//! Building blocks of the attentive networks: a bidirectional GRU whose two
//! directions see only valid steps and are summed, and additive attention
//! over the valid steps.

use burn::nn::{Gru, GruConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::batch::{Batch, reverse_valid_steps};

/// Added to the scores of padding positions before the softmax: their
/// weight underflows to exactly zero.
const MASKED_SCORE: f32 = -1.0e9;

/// Configuration of [`SummedBiGru`].
#[derive(Config, Debug)]
pub struct SummedBiGruConfig {
    /// Input features per step.
    pub d_input: usize,
    /// Hidden units per direction (and of the summed output).
    pub d_hidden: usize,
}

/// A bidirectional GRU over right-padded batches: the forward direction runs
/// as usual (padding comes after every valid step), the backward direction
/// runs over each sequence reversed in place, so it starts on the last valid
/// step, never on padding. The two directions' outputs are summed.
#[derive(Module, Debug)]
pub struct SummedBiGru {
    forward: Gru,
    backward: Gru,
}

impl SummedBiGruConfig {
    /// Builds the layer on `device`.
    pub fn init(&self, device: &Device) -> SummedBiGru {
        SummedBiGru {
            forward: GruConfig::new(self.d_input, self.d_hidden, true).init(device),
            backward: GruConfig::new(self.d_input, self.d_hidden, true).init(device),
        }
    }
}

impl SummedBiGru {
    /// `x`: `[B, T, d_input]` → `[B, T, d_hidden]` (forward + backward state
    /// of each step; values at padding positions are meaningless).
    pub fn forward(&self, x: Tensor<3>, batch: &Batch) -> Tensor<3> {
        let forward = self.forward.forward(x.clone(), None);
        let reversed = reverse_valid_steps(x, batch);
        let backward = reverse_valid_steps(self.backward.forward(reversed, None), batch);
        forward + backward
    }
}

/// Configuration of [`AdditiveAttention`].
#[derive(Config, Debug)]
pub struct AdditiveAttentionConfig {
    /// Features of each attended step.
    pub d_input: usize,
    /// Units of the scoring layer.
    pub d_attention: usize,
}

/// Additive attention: `e_t = vᵀ tanh(W h_t + b)`, softmax over the valid steps.
#[derive(Module, Debug)]
pub struct AdditiveAttention {
    projection: Linear,
    score: Linear,
}

impl AdditiveAttentionConfig {
    /// Builds the layer on `device`.
    pub fn init(&self, device: &Device) -> AdditiveAttention {
        AdditiveAttention {
            projection: LinearConfig::new(self.d_input, self.d_attention).init(device),
            score: LinearConfig::new(self.d_attention, 1)
                .with_bias(false)
                .init(device),
        }
    }
}

impl AdditiveAttention {
    /// Attention weights of `h` `[B, T, d_input]` → `[B, T]`, zero at padding
    /// and summing to one over each row's valid steps.
    pub fn weights(&self, h: Tensor<3>, batch: &Batch) -> Tensor<2> {
        let [rows, width, _] = h.dims();
        let energies = self
            .score
            .forward(self.projection.forward(h).tanh())
            .reshape([rows, width])
            .mask_fill(batch.padding.clone(), MASKED_SCORE);
        softmax(energies, 1)
    }
}

/// Pools `values` `[B, T, D]` with `weights` `[B, T]` → `[B, D]`.
pub fn pool(weights: Tensor<2>, values: Tensor<3>) -> Tensor<2> {
    let [rows, width] = weights.dims();
    let dim = values.dims()[2];
    weights
        .reshape([rows, 1, width])
        .matmul(values)
        .reshape([rows, dim])
}
