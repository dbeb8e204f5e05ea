//! The variational autoencoder behind the acoustic modality.
//!
//! The paper compresses a track's audio features into a 150-d embedding
//! with a VAE, so that tracks that sound alike sit close together even when
//! no session links them. The encoder maps a standardised feature vector to
//! a Gaussian posterior; a track's acoustic embedding is that posterior's
//! mean. Training lives in [`super::vae_train`].

use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

/// Configuration of [`Vae`].
#[derive(Config, Debug)]
pub struct VaeConfig {
    /// Features per track (standardised): the input and the reconstruction.
    pub d_input: usize,
    /// Units of each hidden layer of the encoder and the decoder.
    #[config(default = 256)]
    pub d_hidden: usize,
    /// Dimensions of the latent space, i.e. of the acoustic embedding (the paper's 150).
    #[config(default = 150)]
    pub d_latent: usize,
    /// Weight of the KL term in the loss (1 is the plain VAE).
    #[config(default = 1.0)]
    pub kl_weight: f64,
}

/// Encoder MLP → (mean, log-variance); decoder MLP back to the features.
#[derive(Module, Debug)]
pub struct Vae {
    encoder_hidden: Linear,
    encoder_second: Linear,
    mean: Linear,
    log_variance: Linear,
    decoder_hidden: Linear,
    decoder_second: Linear,
    reconstruction: Linear,
    activation: Relu,
}

/// What one forward pass gives.
#[derive(Debug, Clone)]
pub struct VaeOutput {
    /// `[B, d_input]`: the decoded sample.
    pub reconstruction: Tensor<2>,
    /// `[B, d_latent]`: the posterior means.
    pub mean: Tensor<2>,
    /// `[B, d_latent]`: the posterior log-variances.
    pub log_variance: Tensor<2>,
}

impl VaeConfig {
    /// A randomly initialised VAE on `device`.
    pub fn init(&self, device: &Device) -> Vae {
        Vae {
            encoder_hidden: LinearConfig::new(self.d_input, self.d_hidden).init(device),
            encoder_second: LinearConfig::new(self.d_hidden, self.d_hidden).init(device),
            mean: LinearConfig::new(self.d_hidden, self.d_latent).init(device),
            log_variance: LinearConfig::new(self.d_hidden, self.d_latent).init(device),
            decoder_hidden: LinearConfig::new(self.d_latent, self.d_hidden).init(device),
            decoder_second: LinearConfig::new(self.d_hidden, self.d_hidden).init(device),
            reconstruction: LinearConfig::new(self.d_hidden, self.d_input).init(device),
            activation: Relu::new(),
        }
    }
}

impl Vae {
    /// `features` `[B, d_input]` → the posterior `(mean, log_variance)`, each `[B, d_latent]`.
    pub fn encode(&self, features: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let hidden = self.activation.forward(self.encoder_hidden.forward(features));
        let hidden = self.activation.forward(self.encoder_second.forward(hidden));
        // Bounded so that exp() of it can neither overflow nor vanish early in training.
        let log_variance = self.log_variance.forward(hidden.clone()).clamp(-10.0, 10.0);
        (self.mean.forward(hidden), log_variance)
    }

    /// `latent` `[B, d_latent]` → features `[B, d_input]`.
    pub fn decode(&self, latent: Tensor<2>) -> Tensor<2> {
        let hidden = self.activation.forward(self.decoder_hidden.forward(latent));
        let hidden = self.activation.forward(self.decoder_second.forward(hidden));
        self.reconstruction.forward(hidden)
    }

    /// `features` `[B, d_input]` → reconstruction of a posterior sample
    /// (reparameterised: mean + σ·ε, ε ~ N(0, 1)), with the posterior.
    pub fn forward(&self, features: Tensor<2>) -> VaeOutput {
        let (mean, log_variance) = self.encode(features);
        let noise = mean.random_like(burn::tensor::Distribution::Normal(0.0, 1.0));
        let latent = mean.clone() + (log_variance.clone() * 0.5).exp() * noise;
        VaeOutput {
            reconstruction: self.decode(latent),
            mean,
            log_variance,
        }
    }

    /// The acoustic embedding: the posterior mean, `[B, d_input]` → `[B, d_latent]`.
    pub fn embed(&self, features: Tensor<2>) -> Tensor<2> {
        self.encode(features).0
    }
}

/// The per-example loss, averaged over the batch: squared reconstruction
/// error summed over features, plus `kl_weight` × KL(q(z|x) ‖ N(0, I)).
/// Returns `(total, reconstruction, kl)` as scalars `[1]`.
pub fn vae_loss(
    output: &VaeOutput,
    features: Tensor<2>,
    kl_weight: f64,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let [rows, _] = features.dims();
    let rows = rows.max(1) as f64;
    let reconstruction = (output.reconstruction.clone() - features).square().sum() / rows;
    let variance = output.log_variance.clone().exp();
    let kl =
        ((output.mean.clone().square() + variance - output.log_variance.clone() - 1.0).sum() * 0.5) / rows;
    let total = reconstruction.clone() + kl.clone() * kl_weight;
    (total, reconstruction, kl)
}
