//! The neural recommenders (Burn) and what they share: batches, layers,
//! training, checkpoints and the choice of device.
//!
//! Models are backend-neutral: the [`burn::tensor::Device`] they are built on
//! decides where they run (see [`device`]).

pub mod attentive;
pub mod batch;
pub mod checkpoint;
pub mod device;
pub mod gru4rec;
pub mod head;
pub mod layers;
pub mod model;
pub mod ranker;
pub mod sasrec;
pub mod scorer;
pub mod sparse;
pub mod train;
pub mod vae;
pub mod vae_train;
