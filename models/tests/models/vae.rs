//! The acoustic VAE on generated features: it learns (the reconstruction
//! error falls well below the variance of standardised data), and its
//! embeddings keep tracks that sound alike together.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use segue_models::nn::device::ComputeDevice;
use segue_models::nn::vae::VaeConfig;
use segue_models::nn::vae_train::{Standardisation, VaeTrainConfig, embed_rows, train_vae};

const FEATURES: usize = 11;

/// Two styles of track: quiet slow acoustic ones and loud fast electronic ones.
fn two_styles(per_style: usize) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(3);
    let centres = [
        [200.0, 80.0, -14.0, 0.3, 0.4, 0.8, 0.1, 0.1, 0.05, 0.4, 5.0],
        [240.0, 128.0, -6.0, 0.9, 0.8, 0.05, 0.7, 0.2, 0.06, 0.6, 7.0],
    ];
    let mut rows = Vec::new();
    for index in 0..2 * per_style {
        let centre = &centres[index % 2];
        rows.extend(
            centre
                .iter()
                .map(|c: &f64| (*c * (1.0 + rng.random_range(-0.05..0.05))) as f32),
        );
    }
    rows
}

#[test]
fn standardisation_centres_and_scales_each_feature() {
    let rows = two_styles(50);
    let standard = Standardisation::fit(&rows, FEATURES).unwrap();
    let scaled = standard.apply(&rows);
    for feature in 0..FEATURES {
        let column: Vec<f32> = scaled.chunks(FEATURES).map(|r| r[feature]).collect();
        let mean = column.iter().sum::<f32>() / column.len() as f32;
        let variance = column.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / column.len() as f32;
        assert!(
            mean.abs() < 1e-4 && (variance - 1.0).abs() < 1e-3,
            "feature {feature}"
        );
    }
    assert!(Standardisation::fit(&rows[..5], FEATURES).is_err());
}

#[test]
fn the_vae_learns_and_its_embeddings_separate_styles() {
    let device = ComputeDevice::cpu().device;
    let rows = two_styles(64);
    let standard = Standardisation::fit(&rows, FEATURES).unwrap();
    let scaled = standard.apply(&rows);
    let config = VaeConfig::new(FEATURES).with_d_hidden(32).with_d_latent(8);
    let settings = VaeTrainConfig {
        epochs: 40,
        batch_size: 16,
        ..VaeTrainConfig::default()
    };
    let (model, epochs) = train_vae(&scaled, &config, &settings, &device).unwrap();
    let first = epochs.first().unwrap();
    let last = epochs.last().unwrap();
    // Standardised data: predicting zero costs 11 per track.
    assert!(
        last.reconstruction < 0.5 * first.reconstruction,
        "{first:?} → {last:?}"
    );
    assert!(last.reconstruction < 3.0, "{last:?}");

    let embeddings = embed_rows(&model, &scaled, FEATURES, &device);
    assert_eq!(embeddings.len(), 128 * 8);
    let distance = |a: usize, b: usize| -> f32 {
        let (a, b) = (&embeddings[a * 8..(a + 1) * 8], &embeddings[b * 8..(b + 1) * 8]);
        a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt()
    };
    let (mut within, mut across) = (0f32, 0f32);
    for a in 0..32 {
        within += distance(2 * a, 2 * a + 2);
        across += distance(2 * a, 2 * a + 1);
    }
    assert!(across > 3.0 * within, "across {across}, within {within}");
}

#[test]
fn the_vae_refuses_ragged_rows() {
    let device = ComputeDevice::cpu().device;
    let config = VaeConfig::new(FEATURES);
    let error = train_vae(&[1.0; 12], &config, &VaeTrainConfig::default(), &device).unwrap_err();
    assert!(error.to_string().contains("whole rows of 11"), "{error}");
}
