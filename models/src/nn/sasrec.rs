//! SASRec: causal self-attention over the session prefix (Kang & McAuley
//! 2018), two pre-norm blocks, the output at the last valid step scored
//! against every track's embedding, trained with full cross-entropy.

use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use super::batch::{Batch, last_valid_step};

/// Configuration of [`SasRec`].
#[derive(Config, Debug)]
pub struct SasRecConfig {
    /// Tracks in the vocabulary: embedding rows and output classes.
    pub num_items: usize,
    /// Longest input (positions learned).
    #[config(default = 20)]
    pub max_len: usize,
    /// Model width.
    #[config(default = 64)]
    pub d_model: usize,
    /// Attention heads.
    #[config(default = 2)]
    pub heads: usize,
    /// Self-attention blocks.
    #[config(default = 2)]
    pub blocks: usize,
    /// Dropout probability.
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// The SASRec baseline.
#[derive(Module, Debug)]
pub struct SasRec {
    items: Embedding,
    positions: Embedding,
    dropout: Dropout,
    encoder: TransformerEncoder,
    norm: LayerNorm,
}

impl SasRecConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> SasRec {
        SasRec {
            items: EmbeddingConfig::new(self.num_items, self.d_model).init(device),
            positions: EmbeddingConfig::new(self.max_len, self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            encoder: TransformerEncoderConfig::new(self.d_model, self.d_model, self.heads, self.blocks)
                .with_dropout(self.dropout)
                .with_norm_first(true)
                .with_activation(nn::activation::ActivationConfig::Relu)
                .init(device),
            norm: LayerNormConfig::new(self.d_model).init(device),
        }
    }
}

impl SasRec {
    /// Logits over all tracks `[B, num_items]` of a batch.
    pub fn forward(&self, batch: &Batch) -> Tensor<2> {
        let [rows, width] = batch.items.dims();
        let device = batch.items.device();
        let max_len = self.positions.weight.dims()[0] as i64;
        // Positions past the learned ones share the last (inputs are capped
        // at 20 steps, the default `max_len`, so this does not happen in practice).
        let positions = Tensor::<1, Int>::arange(0..width as i64, &device)
            .clamp_max(max_len - 1)
            .reshape([1, width])
            .repeat_dim(0, rows);
        let scale = (self.items.weight.dims()[1] as f64).sqrt();
        let x = self.items.forward(batch.items.clone()) * scale + self.positions.forward(positions);
        let input = TransformerEncoderInput::new(self.dropout.forward(x))
            .mask_pad(batch.padding.clone())
            .mask_attn(generate_autoregressive_mask(rows, width, &device));
        let states = self.norm.forward(self.encoder.forward(input));
        let last = last_valid_step(states, batch);
        last.matmul(self.items.weight.val().transpose())
    }
}

impl SasRec {
    /// The same network over `count` more items: `rows` (`[count, d_model]`)
    /// start their embeddings (which also score them).
    pub fn extend_items(self, count: usize, rows: Vec<f32>, device: &Device) -> SasRec {
        let d = self.items.weight.dims()[1];
        let rows = Tensor::<2>::from_data(TensorData::new(rows, [count, d]), device);
        SasRec {
            items: super::attentive::extend_embedding(self.items, rows),
            ..self
        }
    }
}
