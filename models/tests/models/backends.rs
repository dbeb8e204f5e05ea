//! The same forward pass, with identical weights, on the CPU (ndarray) and
//! on wgpu (on a machine without a GPU: lavapipe, Mesa's Vulkan on the CPU).

use burn::module::Module;
use segue_models::nn::attentive::{AttentiveNetConfig, ModalityInit, ModalitySpec};
use segue_models::nn::device::{BackendChoice, ComputeDevice, select};
use segue_models::nn::model::{Architecture, NextTrackModel};
use segue_models::nn::scorer::NeuralScorer;

#[test]
fn ndarray_and_wgpu_agree_on_the_logits() {
    let gpu = match select(BackendChoice::Wgpu) {
        Ok(gpu) => gpu,
        Err(e) => {
            eprintln!(
                "skipped: no wgpu adapter ({e}); install mesa-vulkan-drivers (lavapipe) to run this test on a CPU"
            );
            return;
        }
    };
    eprintln!("comparing CPU (ndarray) with {}", gpu.label);
    let cpu = ComputeDevice::cpu();
    cpu.device.seed(21);
    let config = AttentiveNetConfig::new(40)
        .with_d_embedding(24)
        .with_d_hidden(24)
        .with_d_attention(16)
        .with_d_dense(32)
        .with_modalities(vec![ModalitySpec {
            name: "tags".to_owned(),
            dim: 8,
        }]);
    let tags = ModalityInit {
        values: (0..40 * 8).map(|i| ((i % 17) as f32 - 8.0) / 10.0).collect(),
        available: (0..40).map(|i| i % 3 != 0).collect(),
    };
    let model = NextTrackModel::Attentive(config.init_with(&cpu.device, None, &[tags]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("model.bpk");
    model.clone().save_file(&record).unwrap();
    let on_gpu = Architecture::Attentive(config)
        .init(&gpu.device)
        .try_load_file(&record)
        .unwrap();

    let histories: [&[u32]; 3] = [&[1, 2, 3, 4, 5], &[7, 39, 0], &[12]];
    let expected = NeuralScorer::new(&model, &cpu.device, 40).logits(&histories);
    let actual = NeuralScorer::new(&on_gpu, &gpu.device, 40).logits(&histories);
    assert_eq!(expected.len(), actual.len());
    let diff = expected
        .iter()
        .zip(&actual)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("max abs difference of {} logits: {diff:e}", expected.len());
    assert!(diff <= 1e-4, "logits differ by {diff}");
}
