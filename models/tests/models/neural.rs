//! The Burn models on tiny cases: padding never leaks, attention is a
//! distribution over valid steps, every architecture learns a simple
//! sequence, training is reproducible, and checkpoints round-trip and fail
//! clearly.

use burn::prelude::*;
use segue_models::eval::{Example, evaluate};
use segue_models::nn::attentive::{AttentiveNetConfig, ModalityInit, ModalitySpec};
use segue_models::nn::batch::{Batch, reverse_valid_steps};
use segue_models::nn::checkpoint::{self, CheckpointConfig};
use segue_models::nn::device::ComputeDevice;
use segue_models::nn::gru4rec::Gru4RecConfig;
use segue_models::nn::model::{Architecture, NextTrackModel};
use segue_models::nn::sasrec::SasRecConfig;
use segue_models::nn::scorer::NeuralScorer;
use segue_models::nn::train::{Silent, TrainConfig, TrainingSet, train};

fn cpu() -> ComputeDevice {
    ComputeDevice::cpu()
}

/// Burn's random generator is process-wide: tests that depend on a seed
/// take turns, or a concurrent test's draws would shift their sequence.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seeded() -> std::sync::MutexGuard<'static, ()> {
    SEEDED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn small_attentive(num_items: usize) -> AttentiveNetConfig {
    AttentiveNetConfig::new(num_items)
        .with_d_embedding(16)
        .with_d_hidden(16)
        .with_d_attention(16)
        .with_d_dense(32)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn reversal_reverses_each_row_within_its_length() {
    let device = cpu().device;
    let batch = Batch::new(&[&[1, 2, 3], &[4, 5]], &device);
    let x = batch.items.clone().float().reshape([2, 3, 1]);
    let reversed: Vec<f32> = reverse_valid_steps(x.clone(), &batch).try_into_vec_as().unwrap();
    assert_eq!(reversed, [3.0, 2.0, 1.0, 5.0, 4.0, 0.0]);
    let twice: Vec<f32> = reverse_valid_steps(reverse_valid_steps(x, &batch), &batch)
        .try_into_vec_as()
        .unwrap();
    assert_eq!(twice, [1.0, 2.0, 3.0, 4.0, 5.0, 0.0]);
}

#[test]
fn padding_never_changes_a_rows_output() {
    let _seeded = seeded();
    let device = cpu().device;
    device.seed(3);
    let models = [
        Architecture::Attentive(small_attentive(12)),
        Architecture::Gru4Rec(Gru4RecConfig::new(12).with_d_embedding(16).with_d_hidden(16)),
        Architecture::SasRec(SasRecConfig::new(12).with_d_model(16)),
    ];
    for architecture in models {
        let scorer = NeuralScorer::new(&architecture.init(&device), &device, 12);
        let alone = scorer.logits(&[&[3, 1, 4]]);
        let padded = scorer.logits(&[&[3, 1, 4], &[1, 5, 9, 2, 6, 5, 3, 5]]);
        let diff = max_abs_diff(&alone, &padded[..12]);
        assert!(
            diff < 1e-5,
            "{architecture:?}: padding changed the logits by {diff}"
        );
    }
}

#[test]
fn attention_is_a_distribution_over_valid_steps() {
    let device = cpu().device;
    let net = small_attentive(10).init(&device);
    let batch = Batch::new(&[&[1, 2, 3, 4], &[5, 6]], &device);
    let weights: Vec<f32> = net.parts(&batch).attention.try_into_vec_as().unwrap();
    let (first, second) = weights.split_at(4);
    assert!((first.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert!((second.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert_eq!(&second[2..], &[0.0, 0.0], "padding got attention: {second:?}");
}

#[test]
fn modalities_missing_for_a_track_contribute_nothing() {
    let device = cpu().device;
    let config = small_attentive(4).with_modalities(vec![ModalitySpec {
        name: "tags".to_owned(),
        dim: 3,
    }]);
    let modality = ModalityInit {
        values: vec![1.0; 12],
        available: vec![true, false, true, false],
    };
    let net = config.init_with(&device, None, &[modality]).unwrap();
    let batch = Batch::new(&[&[1, 3]], &device);
    let parts = net.valid().parts(&batch);
    let tags: Vec<f32> = parts.contexts[1].clone().try_into_vec_as().unwrap();
    assert_eq!(tags, [0.0, 0.0, 0.0]);
    assert_eq!(net.modality_count(), 1);
    let wrong = ModalityInit {
        values: vec![1.0; 12],
        available: vec![true; 3],
    };
    assert!(config.init_with(&device, None, &[wrong]).is_err());
}

/// Sessions that walk a cycle of `n` items: the next item is always the successor.
fn cyclic_sessions(n: u32, sessions: usize, length: usize) -> Vec<Vec<u32>> {
    (0..sessions)
        .map(|s| (0..length).map(|t| ((s + t) as u32) % n).collect())
        .collect()
}

fn hit_ratio_1(model: &NextTrackModel, num_items: usize, sessions: &[Vec<u32>]) -> f64 {
    let device = cpu().device;
    let scorer = NeuralScorer::new(model, &device, num_items);
    let examples: Vec<Example> = sessions
        .iter()
        .flat_map(|s| {
            (1..s.len()).map(move |t| Example {
                user: 0,
                history: s[..t].to_vec(),
                target: Some(s[t]),
            })
        })
        .collect();
    evaluate(&scorer, &scorer, &examples, None, 1)
        .overall
        .hit_ratio(1)
}

#[test]
fn every_architecture_learns_a_cycle() {
    let _seeded = seeded();
    // Enough items that HitRatio@10 (the early-stopping criterion) can improve.
    let n = 30;
    let set = TrainingSet {
        train: cyclic_sessions(n, 90, 6),
        validation: cyclic_sessions(n, 15, 6),
    };
    let config = TrainConfig {
        max_epochs: 25,
        patience: 25,
        batch_size: 16,
        learning_rate: 1e-2,
        seed: 7,
    };
    let device = cpu();
    let architectures = [
        Architecture::Attentive(small_attentive(n as usize)),
        Architecture::Gru4Rec(
            Gru4RecConfig::new(n as usize)
                .with_d_embedding(16)
                .with_d_hidden(16),
        ),
        Architecture::SasRec(SasRecConfig::new(n as usize).with_d_model(16)),
    ];
    for architecture in architectures {
        device.device.seed(7);
        let model = architecture.init(&device.device);
        let (trained, summary) = train(model, &set, n as usize, &config, &device, &Silent).unwrap();
        // Chance is 1/30 for HR@1 and 1/3 for HR@10; early stopping keeps the
        // first epoch that ranks every successor in the top 10.
        let hr = hit_ratio_1(&trained, n as usize, &set.validation);
        assert!(hr > 0.6, "{architecture:?} reached HR@1 {hr} ({summary:?})");
        let hr10 = summary.best_validation_hit_ratio_10.unwrap_or_default();
        assert!(
            hr10 >= 0.95,
            "{architecture:?} reached HR@10 {hr10} ({summary:?})"
        );
    }
}

#[test]
fn training_on_the_cpu_is_reproducible() {
    let _seeded = seeded();
    let n = 8;
    let set = TrainingSet {
        train: cyclic_sessions(n, 16, 5),
        validation: Vec::new(),
    };
    let config = TrainConfig {
        max_epochs: 2,
        ..TrainConfig::default()
    };
    let device = cpu();
    let run = || {
        device.device.seed(11);
        let model = small_attentive(n as usize).init(&device.device);
        let model = NextTrackModel::Attentive(model);
        let (trained, _) = train(model, &set, n as usize, &config, &device, &Silent).unwrap();
        NeuralScorer::new(&trained, &device.device, n as usize).logits(&[&[1, 2, 3]])
    };
    assert_eq!(run(), run());
}

fn trained_checkpoint(dir: &std::path::Path) -> (CheckpointConfig, NextTrackModel) {
    let device = cpu().device;
    let architecture = Architecture::Attentive(small_attentive(6));
    let model = architecture.init(&device);
    let config = CheckpointConfig {
        format_version: checkpoint::FORMAT_VERSION,
        model: "ann".to_owned(),
        architecture,
        training: TrainConfig::default(),
        summary: None,
        extra: serde_json::Value::Null,
    };
    checkpoint::save(dir, &config, &[10, 11, 12, 13, 14, 15], &model).unwrap();
    (config, model)
}

#[test]
fn checkpoints_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ann");
    let (_, model) = trained_checkpoint(&path);
    let device = cpu().device;
    let loaded = checkpoint::load(&path, &device).unwrap();
    assert_eq!(loaded.item_keys, [10, 11, 12, 13, 14, 15]);
    assert_eq!(loaded.config.model, "ann");
    let before = NeuralScorer::new(&model, &device, 6).logits(&[&[1, 2]]);
    let after = NeuralScorer::new(&loaded.model, &device, 6).logits(&[&[1, 2]]);
    assert_eq!(before, after);
}

#[test]
fn broken_checkpoints_fail_with_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ann");
    trained_checkpoint(&path);
    let device = cpu().device;

    let record = path.join("model.bpk");
    let bytes = std::fs::read(&record).unwrap();
    std::fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();
    let error = checkpoint::load(&path, &device).unwrap_err().to_string();
    assert!(error.contains("model.bpk"), "{error}");

    trained_checkpoint(&path);
    let config_path = path.join("config.json");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let error = checkpoint::load(&path, &device).unwrap_err().to_string();
    assert!(error.contains("format 99"), "{error}");

    trained_checkpoint(&path);
    std::fs::write(
        path.join("items.json"),
        r#"{"format_version": 1, "keys": [1, 2]}"#,
    )
    .unwrap();
    let error = checkpoint::load(&path, &device).unwrap_err().to_string();
    assert!(
        error.contains("2 tracks in the map") && error.contains("scores 6"),
        "{error}"
    );

    trained_checkpoint(&path);
    let other = Architecture::Attentive(small_attentive(7));
    let text = std::fs::read_to_string(&config_path).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["architecture"] = serde_json::to_value(&other).unwrap();
    std::fs::write(&config_path, config.to_string()).unwrap();
    std::fs::write(
        path.join("items.json"),
        r#"{"format_version": 1, "keys": [1, 2, 3, 4, 5, 6, 7]}"#,
    )
    .unwrap();
    let error = checkpoint::load(&path, &device).unwrap_err().to_string();
    assert!(error.contains("model.bpk") && error.contains("shape"), "{error}");
}

#[test]
fn top_k_equals_the_best_of_the_full_logits() {
    let device = cpu();
    let num_items = 3_000;
    let models = [
        Architecture::Attentive(small_attentive(num_items)).init(&device.device),
        Architecture::Gru4Rec(
            Gru4RecConfig::new(num_items)
                .with_d_embedding(16)
                .with_d_hidden(16),
        )
        .init(&device.device),
    ];
    for model in models {
        let scorer = NeuralScorer::new(&model, &device.device, num_items);
        for history in [&[5u32, 17, 2999, 0][..], &[42], &[7; 30]] {
            let logits = scorer.logits(&[history]);
            let mut expected: Vec<(u32, f32)> = logits
                .iter()
                .enumerate()
                .map(|(i, s)| (i as u32, *s))
                .filter(|(i, _)| !history.contains(i))
                .collect();
            expected.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            expected.truncate(25);
            let actual = scorer.top_k(history, 25, history);
            let items = |v: &[(u32, f32)]| v.iter().map(|(i, _)| *i).collect::<Vec<_>>();
            assert_eq!(items(&actual), items(&expected), "history {history:?}");
            let scores = |v: &[(u32, f32)]| v.iter().map(|(_, s)| *s).collect::<Vec<_>>();
            assert!(max_abs_diff(&scores(&actual), &scores(&expected)) < 1e-4);
        }
    }
}
