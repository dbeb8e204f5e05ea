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
