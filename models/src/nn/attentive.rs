//! The paper's attentive network (ANN) and its multimodal fusion.
//!
//! Track embedding → dropout → bidirectional GRU (directions summed) →
//! additive attention → context vector. Each content modality (acoustic,
//! lyrics, tags) has its own embedding table; its embeddings of the input
//! tracks are pooled with the *same* attention weights into a context vector
//! of their own. The context vectors are concatenated, passed through a
//! fully connected layer with LeakyReLU, and projected onto every track.
//!
//! ANN, ANNW (embedding initialised from CBOW vectors), ANN-LSA (from LSA
//! vectors) and the fusion rows of the paper are all this network; they
//! differ in initialisation and in the modalities switched on.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LeakyRelu, LeakyReluConfig, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::batch::Batch;
use super::layers::{AdditiveAttention, AdditiveAttentionConfig, SummedBiGru, SummedBiGruConfig, pool};
use crate::{Error, Result};

/// A content modality switched on in the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalitySpec {
    /// Its name ("acoustic", "lyrics", "tags").
    pub name: String,
    /// Dimensions of its embeddings.
    pub dim: usize,
}

/// Configuration of [`AttentiveNet`].
#[derive(Config, Debug)]
pub struct AttentiveNetConfig {
    /// Tracks in the vocabulary: embedding rows and output classes.
    pub num_items: usize,
    /// Dimensions of the track embedding.
    #[config(default = 150)]
    pub d_embedding: usize,
    /// Hidden units of each GRU direction (the directions are summed).
    #[config(default = 150)]
    pub d_hidden: usize,
    /// Units of the attention's scoring layer.
    #[config(default = 150)]
    pub d_attention: usize,
    /// Width of the fully connected layer before the output.
    #[config(default = 256)]
    pub d_dense: usize,
    /// Dropout probability on every embedding.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Negative slope of the LeakyReLU.
    #[config(default = 0.01)]
    pub leaky_slope: f64,
    /// Content modalities pooled with the same attention, in order.
    #[config(default = "Vec::new()")]
    pub modalities: Vec<ModalitySpec>,
}

/// The embedding table of one content modality, with a mask of which
/// tracks have it (tracks without it contribute a zero vector).
#[derive(Module, Debug)]
pub struct ModalityTable {
    embedding: Embedding,
    /// `[num_items, 1]`: 1 where the track has this modality, else 0. Not trained.
    available: Param<Tensor<2>>,
}

impl ModalityTable {
    /// `[B, T]` items → `[B, T, d]`, zero for tracks without the modality.
    fn forward(&self, items: Tensor<2, Int>) -> Tensor<3> {
        let [rows, width] = items.dims();
        let flat = items.clone().reshape([rows * width]);
        let mask = self.available.val().select(0, flat).reshape([rows, width, 1]);
        self.embedding.forward(items) * mask
    }
}

/// Initial values of a modality table: row-major `[num_items, dim]` values
/// and which items have the modality.
#[derive(Debug, Clone)]
pub struct ModalityInit {
    /// Row-major `[num_items, dim]` (rows of missing tracks are ignored).
    pub values: Vec<f32>,
    /// Whether each track has the modality.
    pub available: Vec<bool>,
}

/// The attentive network; see the module docs.
#[derive(Module, Debug)]
pub struct AttentiveNet {
    embedding: Embedding,
    dropout: Dropout,
    encoder: SummedBiGru,
    attention: AdditiveAttention,
    modalities: Vec<ModalityTable>,
    dense: Linear,
    activation: LeakyRelu,
    output: Linear,
}

/// The intermediate results an explanation needs.
#[derive(Debug, Clone)]
pub struct AttentiveParts {
    /// Attention over the input steps `[B, T]` (zero at padding).
    pub attention: Tensor<2>,
    /// The sequence context vector, then one per modality, each `[B, d]`.
    pub contexts: Vec<Tensor<2>>,
}

fn embedding_from(values: &[f32], rows: usize, dim: usize, device: &Device, what: &str) -> Result<Embedding> {
    if values.len() != rows * dim {
        return Err(Error::Shape(format!(
            "{what}: expected {rows} × {dim} = {} values, got {}",
            rows * dim,
            values.len()
        )));
    }
    let weight = Tensor::<2>::from_data(TensorData::new(values.to_vec(), [rows, dim]), device);
    Ok(Embedding {
        weight: Param::from_tensor(weight),
    })
}

impl AttentiveNetConfig {
    /// Builds the network with random initialisation (the paper's ANN), and
    /// empty modality tables marked unavailable.
    pub fn init(&self, device: &Device) -> AttentiveNet {
        let modalities = self
            .modalities
            .iter()
            .map(|m| ModalityInit {
                values: vec![0.0; self.num_items * m.dim],
                available: vec![false; self.num_items],
            })
            .collect::<Vec<_>>();
        match self.init_with(device, None, &modalities) {
            Ok(net) => net,
            // The generated tables always have the configured shapes.
            Err(e) => unreachable!("{e}"),
        }
    }

    /// Builds the network with a pre-trained track embedding (ANNW, ANN-LSA)
    /// and each modality's table (fusion).
    pub fn init_with(
        &self,
        device: &Device,
        track_embedding: Option<&[f32]>,
        modalities: &[ModalityInit],
    ) -> Result<AttentiveNet> {
        if modalities.len() != self.modalities.len() {
            return Err(Error::Shape(format!(
                "{} modality tables for {} configured modalities",
                modalities.len(),
                self.modalities.len()
            )));
        }
        let embedding = match track_embedding {
            Some(values) => embedding_from(values, self.num_items, self.d_embedding, device, "track embedding")?,
            None => EmbeddingConfig::new(self.num_items, self.d_embedding).init(device),
        };
        let tables = self
            .modalities
            .iter()
            .zip(modalities)
            .map(|(spec, init)| {
                if init.available.len() != self.num_items {
                    return Err(Error::Shape(format!(
                        "modality {}: {} availability flags for {} tracks",
                        spec.name,
                        init.available.len(),
                        self.num_items
                    )));
                }
                let mut values = init.values.clone();
                for (item, available) in init.available.iter().enumerate() {
                    if !available {
                        values[item * spec.dim..(item + 1) * spec.dim].fill(0.0);
                    }
                }
                let mask: Vec<f32> = init.available.iter().map(|a| f32::from(u8::from(*a))).collect();
                let available = Tensor::<2>::from_data(TensorData::new(mask, [self.num_items, 1]), device);
                Ok(ModalityTable {
                    embedding: embedding_from(&values, self.num_items, spec.dim, device, &spec.name)?,
                    available: Param::from_tensor(available).set_require_grad(false),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let context_width = self.d_hidden + self.modalities.iter().map(|m| m.dim).sum::<usize>();
        Ok(AttentiveNet {
            embedding,
            dropout: DropoutConfig::new(self.dropout).init(),
            encoder: SummedBiGruConfig::new(self.d_embedding, self.d_hidden).init(device),
            attention: AdditiveAttentionConfig::new(self.d_hidden, self.d_attention).init(device),
            modalities: tables,
            dense: LinearConfig::new(context_width, self.d_dense).init(device),
            activation: LeakyReluConfig::new().with_negative_slope(self.leaky_slope).init(),
            output: LinearConfig::new(self.d_dense, self.num_items).init(device),
        })
    }
}

impl AttentiveNet {
    /// Attention weights `[B, T]` and context vectors (sequence, then each
    /// modality's) `[B, d]` of a batch.
    pub fn parts(&self, batch: &Batch) -> AttentiveParts {
        let embedded = self.dropout.forward(self.embedding.forward(batch.items.clone()));
        let states = self.encoder.forward(embedded, batch);
        let attention = self.attention.weights(states.clone(), batch);
        let mut contexts = vec![pool(attention.clone(), states)];
        for table in &self.modalities {
            let values = self.dropout.forward(table.forward(batch.items.clone()));
            contexts.push(pool(attention.clone(), values));
        }
        AttentiveParts { attention, contexts }
    }

    /// Logits over all tracks `[B, num_items]` from context vectors.
    pub fn head(&self, contexts: Vec<Tensor<2>>) -> Tensor<2> {
        let joined = Tensor::cat(contexts, 1);
        self.output.forward(self.activation.forward(self.dense.forward(joined)))
    }

    /// Logits over all tracks `[B, num_items]` of a batch.
    pub fn forward(&self, batch: &Batch) -> Tensor<2> {
        self.head(self.parts(batch).contexts)
    }

    /// Number of modality tables.
    pub fn modality_count(&self) -> usize {
        self.modalities.len()
    }
}
