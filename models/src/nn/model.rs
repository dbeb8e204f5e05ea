//! The neural recommenders as one type, so that training, scoring and
//! checkpoints are written once.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::attentive::{AttentiveNet, AttentiveNetConfig};
use super::batch::Batch;
use super::gru4rec::{Gru4Rec, Gru4RecConfig};
use super::sasrec::{SasRec, SasRecConfig};

/// The architecture and its settings, as stored in a checkpoint's `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "kebab-case")]
pub enum Architecture {
    /// ANN, ANNW, ANN-LSA and the fusion models.
    Attentive(AttentiveNetConfig),
    /// The GRU4Rec-style baseline.
    Gru4Rec(Gru4RecConfig),
    /// SASRec.
    SasRec(SasRecConfig),
}

impl Architecture {
    /// Tracks the model scores.
    pub fn num_items(&self) -> usize {
        match self {
            Architecture::Attentive(c) => c.num_items,
            Architecture::Gru4Rec(c) => c.num_items,
            Architecture::SasRec(c) => c.num_items,
        }
    }

    /// A randomly initialised model on `device`.
    pub fn init(&self, device: &Device) -> NextTrackModel {
        match self {
            Architecture::Attentive(c) => NextTrackModel::Attentive(c.init(device)),
            Architecture::Gru4Rec(c) => NextTrackModel::Gru4Rec(c.init(device)),
            Architecture::SasRec(c) => NextTrackModel::SasRec(c.init(device)),
        }
    }
}

/// A next-track model of any architecture.
// A model exists a handful of times per process; boxing the variants would
// only add an indirection to every forward pass and to the Module derive.
#[expect(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum NextTrackModel {
    /// ANN, ANNW, ANN-LSA and the fusion models.
    Attentive(AttentiveNet),
    /// The GRU4Rec-style baseline.
    Gru4Rec(Gru4Rec),
    /// SASRec.
    SasRec(SasRec),
}

impl NextTrackModel {
    /// Logits over all tracks `[B, num_items]` of a batch.
    pub fn logits(&self, batch: &Batch) -> Tensor<2> {
        match self {
            NextTrackModel::Attentive(m) => m.forward(batch),
            NextTrackModel::Gru4Rec(m) => m.forward(batch),
            NextTrackModel::SasRec(m) => m.forward(batch),
        }
    }

    /// The attentive network, when this is one (explanations need its parts).
    pub fn as_attentive(&self) -> Option<&AttentiveNet> {
        match self {
            NextTrackModel::Attentive(m) => Some(m),
            _ => None,
        }
    }
}

impl Architecture {
    /// The same architecture over `num_items` items.
    pub fn with_num_items(&self, num_items: usize) -> Architecture {
        match self {
            Architecture::Attentive(c) => Architecture::Attentive(AttentiveNetConfig {
                num_items,
                ..c.clone()
            }),
            Architecture::Gru4Rec(c) => Architecture::Gru4Rec(Gru4RecConfig {
                num_items,
                ..c.clone()
            }),
            Architecture::SasRec(c) => Architecture::SasRec(SasRecConfig {
                num_items,
                ..c.clone()
            }),
        }
    }

    /// Dimensions of the track embedding.
    pub fn embedding_dim(&self) -> usize {
        match self {
            Architecture::Attentive(c) => c.d_embedding,
            Architecture::Gru4Rec(c) => c.d_embedding,
            Architecture::SasRec(c) => c.d_model,
        }
    }

    /// The content modalities (attentive networks only).
    pub fn modalities(&self) -> &[super::attentive::ModalitySpec] {
        match self {
            Architecture::Attentive(c) => &c.modalities,
            _ => &[],
        }
    }
}

impl NextTrackModel {
    /// The same model over more items (appended at the end), keeping what it learned.
    pub fn extend_items(
        self,
        added: &super::attentive::AddedItems,
        device: &Device,
    ) -> crate::Result<NextTrackModel> {
        Ok(match self {
            NextTrackModel::Attentive(m) => NextTrackModel::Attentive(m.extend_items(added, device)?),
            NextTrackModel::Gru4Rec(m) => {
                NextTrackModel::Gru4Rec(m.extend_items(added.count, added.embedding.clone(), device))
            }
            NextTrackModel::SasRec(m) => {
                NextTrackModel::SasRec(m.extend_items(added.count, added.embedding.clone(), device))
            }
        })
    }
}
