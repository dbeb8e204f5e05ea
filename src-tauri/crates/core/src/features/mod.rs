//! What tracks are like: content modalities for the fusion model.
//!
//! Each modality gives a track a 150-dimensional vector, or says it has
//! none: the fusion model then uses a zero vector and a "missing" bit for
//! that track, and explanations say the modality is missing instead of
//! showing an empty chart.

pub mod tags;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::store::{Store, TrackId};
use crate::{Error, Result};

/// A content modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// What a track sounds like (audio features through a VAE).
    Acoustic,
    /// What it says (lyrics through a sentence encoder).
    Lyrics,
    /// How people tag it.
    Tags,
}

impl Modality {
    /// Every modality, in the order the fusion model concatenates them.
    pub const ALL: [Modality; 3] = [Modality::Acoustic, Modality::Lyrics, Modality::Tags];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Acoustic => "acoustic",
            Modality::Lyrics => "lyrics",
            Modality::Tags => "tags",
        }
    }
}

impl FromStr for Modality {
    type Err = Error;

    fn from_str(name: &str) -> Result<Modality> {
        Modality::ALL
            .iter()
            .copied()
            .find(|m| m.name() == name.trim())
            .ok_or_else(|| Error::Setting {
                setting: "modality",
                reason: format!("unknown modality '{name}' (known: acoustic, lyrics, tags)"),
            })
    }
}

/// Dimensions of every modality embedding (the paper's 150).
pub const MODALITY_DIM: usize = 150;

/// A modality's vectors for a list of tracks.
#[derive(Debug, Clone, PartialEq)]
pub struct ModalityVectors {
    /// Which modality.
    pub modality: Modality,
    /// Dimensions of each vector.
    pub dim: usize,
    /// Row-major `[tracks, dim]`; zero rows for tracks without the modality.
    pub values: Vec<f32>,
    /// Whether each track has the modality.
    pub available: Vec<bool>,
}

impl ModalityVectors {
    /// How many of the tracks have the modality.
    pub fn coverage(&self) -> usize {
        self.available.iter().filter(|a| **a).count()
    }
}

/// The vectors of `modality` for `tracks`, or `None` when no track has it.
pub async fn modality_vectors(
    store: &Store,
    modality: Modality,
    tracks: &[TrackId],
) -> Result<Option<ModalityVectors>> {
    match modality {
        Modality::Tags => tags::tag_vectors(store, tracks).await,
        // Acoustic and lyric vectors are computed by the content pipeline;
        // a library without them has no such modality.
        Modality::Acoustic | Modality::Lyrics => Ok(None),
    }
}
