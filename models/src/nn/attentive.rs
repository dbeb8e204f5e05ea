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
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, LeakyRelu, LeakyReluConfig, Linear, LinearConfig,
};
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
            Some(values) => embedding_from(
                values,
                self.num_items,
                self.d_embedding,
                device,
                "track embedding",
            )?,
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
            activation: LeakyReluConfig::new()
                .with_negative_slope(self.leaky_slope)
                .init(),
            output: LinearConfig::new(self.d_dense, self.num_items).init(device),
        })
    }
}

impl AttentiveNet {
    /// Attention weights `[B, T]` and context vectors (sequence, then each
    /// modality's) `[B, d]` of a batch.
    pub fn parts(&self, batch: &Batch) -> AttentiveParts {
        let embedded = self.embedding.forward(batch.items.clone());
        let modalities = self
            .modalities
            .iter()
            .map(|t| t.forward(batch.items.clone()))
            .collect();
        self.parts_from(embedded, modalities, batch)
    }

    /// [`AttentiveNet::parts`] from already looked-up embeddings: the track's
    /// `[B, T, d]` and each modality's `[B, T, d_m]` (zero where missing).
    fn parts_from(&self, embedded: Tensor<3>, modalities: Vec<Tensor<3>>, batch: &Batch) -> AttentiveParts {
        let states = self.encoder.forward(self.dropout.forward(embedded), batch);
        let attention = self.attention.weights(states.clone(), batch);
        let mut contexts = vec![pool(attention.clone(), states)];
        for values in modalities {
            contexts.push(pool(attention.clone(), self.dropout.forward(values)));
        }
        AttentiveParts { attention, contexts }
    }

    /// The dense layer's output `[B, d_dense]` with the embedding tables
    /// replaced by the rows of the batch's distinct tracks: `local` `[B, T]`
    /// indexes `track_rows` `[U, d]` and each of `modality_rows` `[U, d_m]`.
    /// Training uses this to keep the large tables out of the autodiff graph
    /// (see `sparse`).
    pub fn hidden_with_rows(
        &self,
        batch: &Batch,
        local: Tensor<2, Int>,
        track_rows: Tensor<2>,
        modality_rows: Vec<Tensor<2>>,
    ) -> Tensor<2> {
        let [rows, width] = local.dims();
        let flat = local.reshape([rows * width]);
        let look_up = |table: Tensor<2>| {
            let dim = table.dims()[1];
            table.select(0, flat.clone()).reshape([rows, width, dim])
        };
        let embedded = look_up(track_rows);
        let modalities = modality_rows.into_iter().map(look_up).collect();
        self.dense_output(self.parts_from(embedded, modalities, batch).contexts)
    }

    /// The output projection as host arrays: weight `[num_items, d_dense]`
    /// (one row per track) and bias `[num_items]`.
    pub fn output_rows(&self) -> (Vec<f32>, Vec<f32>) {
        let weight = self.output.weight.val();
        let [inputs, outputs] = weight.dims();
        let stored: Vec<f32> = weight
            .try_into_vec_as()
            .unwrap_or_else(|_| vec![0.0; inputs * outputs]);
        let mut rows = vec![0f32; inputs * outputs];
        for i in 0..inputs {
            for o in 0..outputs {
                rows[o * inputs + i] = stored[i * outputs + o];
            }
        }
        let bias = match &self.output.bias {
            Some(bias) => bias
                .val()
                .try_into_vec_as()
                .unwrap_or_else(|_| vec![0.0; outputs]),
            None => vec![0.0; outputs],
        };
        (rows, bias)
    }

    /// The network with the output projection set from host arrays in the
    /// layout of [`AttentiveNet::output_rows`].
    pub fn with_output_rows(self, rows: &[f32], bias: &[f32], device: &Device) -> AttentiveNet {
        let outputs = bias.len();
        let inputs = rows.len() / outputs.max(1);
        let mut stored = vec![0f32; rows.len()];
        for o in 0..outputs {
            for i in 0..inputs {
                stored[i * outputs + o] = rows[o * inputs + i];
            }
        }
        let weight = Tensor::<2>::from_data(TensorData::new(stored, [inputs, outputs]), device);
        let bias = Tensor::<1>::from_data(TensorData::new(bias.to_vec(), [outputs]), device);
        AttentiveNet {
            output: Linear {
                weight: Param::from_tensor(weight),
                bias: Some(Param::from_tensor(bias)),
            },
            ..self
        }
    }

    /// Host copies of the embedding tables: the track table, then each
    /// modality's with which tracks have it.
    pub fn tables(&self) -> (super::sparse::SparseTable, Vec<super::sparse::SparseTable>) {
        let track = super::sparse::SparseTable::from_tensor(self.embedding.weight.val(), None);
        let modalities = self
            .modalities
            .iter()
            .map(|m| {
                let available: Vec<bool> = m
                    .available
                    .val()
                    .try_into_vec_as::<f32>()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| a > 0.5)
                    .collect();
                super::sparse::SparseTable::from_tensor(m.embedding.weight.val(), Some(available))
            })
            .collect();
        (track, modalities)
    }

    /// The network with its embedding tables replaced by `track` and `modalities`.
    pub fn with_tables(
        self,
        track: &super::sparse::SparseTable,
        modalities: &[super::sparse::SparseTable],
        device: &Device,
    ) -> AttentiveNet {
        let modalities = self
            .modalities
            .into_iter()
            .zip(modalities)
            .map(|(table, values)| ModalityTable {
                embedding: Embedding {
                    weight: Param::from_tensor(values.to_tensor(device)),
                },
                ..table
            })
            .collect();
        AttentiveNet {
            embedding: Embedding {
                weight: Param::from_tensor(track.to_tensor(device)),
            },
            modalities,
            ..self
        }
    }

    /// Logits over all tracks `[B, num_items]` from context vectors.
    pub fn head(&self, contexts: Vec<Tensor<2>>) -> Tensor<2> {
        self.output.forward(self.dense_output(contexts))
    }

    /// Context vectors → the dense layer's activated output `[B, d_dense]`.
    fn dense_output(&self, contexts: Vec<Tensor<2>>) -> Tensor<2> {
        self.activation
            .forward(self.dense.forward(Tensor::cat(contexts, 1)))
    }

    /// Logits over all tracks `[B, num_items]` of a batch.
    pub fn forward(&self, batch: &Batch) -> Tensor<2> {
        self.head(self.parts(batch).contexts)
    }

    /// The dense layer's output `[B, d_dense]` before the projection onto
    /// every track, for fast top-k on the host.
    pub fn hidden(&self, batch: &Batch) -> Tensor<2> {
        self.dense_output(self.parts(batch).contexts)
    }

    /// The output projection (`weight` `[d_dense, num_items]`, `bias` `[num_items]`).
    pub fn output_layer(&self) -> &Linear {
        &self.output
    }

    /// Number of modality tables.
    pub fn modality_count(&self) -> usize {
        self.modalities.len()
    }
}

/// Appends `added` rows to an embedding table.
pub(crate) fn extend_embedding(embedding: Embedding, rows: Tensor<2>) -> Embedding {
    Embedding {
        weight: Param::from_tensor(Tensor::cat(vec![embedding.weight.val(), rows], 0)),
    }
}

/// Appends `added` output classes (zero weights and biases) to a linear layer.
pub(crate) fn extend_output(linear: Linear, added: usize) -> Linear {
    let weight = linear.weight.val();
    let [inputs, _] = weight.dims();
    let device = weight.device();
    let weight = Tensor::cat(vec![weight, Tensor::zeros([inputs, added], &device)], 1);
    let bias = linear
        .bias
        .map(|bias| Param::from_tensor(Tensor::cat(vec![bias.val(), Tensor::zeros([added], &device)], 0)));
    Linear {
        weight: Param::from_tensor(weight),
        bias,
    }
}

/// Rows for items added to a model's vocabulary.
#[derive(Debug, Clone)]
pub struct AddedItems {
    /// How many items are appended.
    pub count: usize,
    /// Row-major `[count, d_embedding]` initial track embeddings.
    pub embedding: Vec<f32>,
    /// Per modality of the model, in order: the added items' rows.
    pub modalities: Vec<ModalityInit>,
}

impl AttentiveNet {
    /// The same network over `added.count` more items (appended at the end):
    /// learned weights are kept, the new embedding rows come from `added`,
    /// and the new output classes start at zero.
    pub fn extend_items(self, added: &AddedItems, device: &Device) -> Result<AttentiveNet> {
        let d = self.embedding.weight.dims()[1];
        if added.embedding.len() != added.count * d {
            return Err(Error::Shape(format!(
                "{} embedding values for {} added items of {d} dimensions",
                added.embedding.len(),
                added.count
            )));
        }
        if added.modalities.len() != self.modalities.len() {
            return Err(Error::Shape(format!(
                "rows of {} modalities for a model with {}",
                added.modalities.len(),
                self.modalities.len()
            )));
        }
        let rows = Tensor::<2>::from_data(TensorData::new(added.embedding.clone(), [added.count, d]), device);
        let mut modalities = Vec::with_capacity(self.modalities.len());
        for (table, init) in self.modalities.into_iter().zip(&added.modalities) {
            let dim = table.embedding.weight.dims()[1];
            if init.values.len() != added.count * dim || init.available.len() != added.count {
                return Err(Error::Shape(format!(
                    "modality rows of the wrong shape for {} added items of {dim} dimensions",
                    added.count
                )));
            }
            let mut values = init.values.clone();
            for (item, available) in init.available.iter().enumerate() {
                if !available {
                    values[item * dim..(item + 1) * dim].fill(0.0);
                }
            }
            let flags: Vec<f32> = init.available.iter().map(|a| f32::from(u8::from(*a))).collect();
            let flags = Tensor::<2>::from_data(TensorData::new(flags, [added.count, 1]), device);
            let values = Tensor::<2>::from_data(TensorData::new(values, [added.count, dim]), device);
            modalities.push(ModalityTable {
                embedding: extend_embedding(table.embedding, values),
                available: Param::from_tensor(Tensor::cat(vec![table.available.val(), flags], 0))
                    .set_require_grad(false),
            });
        }
        Ok(AttentiveNet {
            embedding: extend_embedding(self.embedding, rows),
            modalities,
            output: extend_output(self.output, added.count),
            ..self
        })
    }
}
