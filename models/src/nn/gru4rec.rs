//! A GRU4Rec-style baseline: a GRU over the session prefix, the state at the
//! last valid step projected onto every track, trained with cross-entropy
//! over all tracks.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Gru, GruConfig, Linear, LinearConfig};
use burn::prelude::*;

use super::batch::{Batch, last_valid_step};

/// Configuration of [`Gru4Rec`].
#[derive(Config, Debug)]
pub struct Gru4RecConfig {
    /// Tracks in the vocabulary: embedding rows and output classes.
    pub num_items: usize,
    /// Dimensions of the track embedding.
    #[config(default = 150)]
    pub d_embedding: usize,
    /// GRU hidden units.
    #[config(default = 150)]
    pub d_hidden: usize,
    /// Dropout probability on the embeddings.
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// The GRU4Rec-style baseline.
#[derive(Module, Debug)]
pub struct Gru4Rec {
    embedding: Embedding,
    dropout: Dropout,
    gru: Gru,
    output: Linear,
}

impl Gru4RecConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> Gru4Rec {
        Gru4Rec {
            embedding: EmbeddingConfig::new(self.num_items, self.d_embedding).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            gru: GruConfig::new(self.d_embedding, self.d_hidden, true).init(device),
            output: LinearConfig::new(self.d_hidden, self.num_items).init(device),
        }
    }
}

impl Gru4Rec {
    /// Logits over all tracks `[B, num_items]` of a batch.
    pub fn forward(&self, batch: &Batch) -> Tensor<2> {
        let embedded = self.dropout.forward(self.embedding.forward(batch.items.clone()));
        let states = self.gru.forward(embedded, None);
        self.output.forward(last_valid_step(states, batch))
    }
}

impl Gru4Rec {
    /// The same network over `count` more items: `rows` (`[count, d_embedding]`)
    /// start their embeddings, and their output classes start at zero.
    pub fn extend_items(self, count: usize, rows: Vec<f32>, device: &Device) -> Gru4Rec {
        let d = self.embedding.weight.dims()[1];
        let rows = Tensor::<2>::from_data(TensorData::new(rows, [count, d]), device);
        Gru4Rec {
            embedding: super::attentive::extend_embedding(self.embedding, rows),
            output: super::attentive::extend_output(self.output, count),
            ..self
        }
    }
}
