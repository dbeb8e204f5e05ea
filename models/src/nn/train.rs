//! Training of the next-track models, apart from the models themselves.
//!
//! Examples are every (prefix of at most 20 tracks, next track) pair of the
//! training sessions. Adam (learning rate 1e-3) minimises the cross-entropy
//! over all tracks in batches of 32. After each epoch the model ranks the
//! held-out validation sessions with the evaluation protocol; training stops
//! when HitRatio@10 has not improved for `patience` epochs, and the best
//! epoch's weights are kept. With a seed, training on the CPU is
//! reproducible. The attentive networks' embedding tables are updated row by
//! row (lazy Adam, see [`super::sparse`]); everything else by Burn's Adam.

use std::time::Instant;

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::batch::Batch;
use super::device::ComputeDevice;
use super::head::SoftmaxHead;
use super::model::NextTrackModel;
use super::scorer::NeuralScorer;
use super::sparse::{LazyAdam, SparseTable, local_indices};
use crate::eval::{Item, MAX_HISTORY, TestSession, evaluate, examples};
use crate::{Error, Result};

/// Settings of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Most passes over the training examples.
    pub max_epochs: usize,
    /// Epochs without a better validation HitRatio@10 before stopping.
    pub patience: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of initialisation, dropout and shuffling.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            max_epochs: 10,
            patience: 2,
            batch_size: 32,
            learning_rate: 1e-3,
            seed: 1,
        }
    }
}

/// Sessions to learn from, as item indices, in time order.
#[derive(Debug, Clone, Default)]
pub struct TrainingSet {
    /// Sessions the model learns from.
    pub train: Vec<Vec<Item>>,
    /// Later sessions held out to choose the epoch (may be empty: then the
    /// last epoch is kept).
    pub validation: Vec<Vec<Item>>,
}

/// The last `fraction` of time-ordered sessions, held out for validation
/// (at least one when there are two or more sessions and `fraction > 0`).
pub fn hold_out_latest(sessions_by_time: Vec<Vec<Item>>, fraction: f64) -> TrainingSet {
    let n = sessions_by_time.len();
    let held = if n >= 2 && fraction > 0.0 {
        ((n as f64 * fraction).round() as usize).clamp(1, n - 1)
    } else {
        0
    };
    let mut train = sessions_by_time;
    let validation = train.split_off(n - held);
    TrainingSet { train, validation }
}

/// What happened during training, reported as it happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainingEvent {
    /// Training started.
    Started {
        /// Examples per epoch.
        examples: usize,
        /// Steps per epoch.
        steps_per_epoch: usize,
        /// Most epochs.
        max_epochs: usize,
    },
    /// A few steps were taken.
    Step {
        /// The epoch (1-based).
        epoch: usize,
        /// Steps done in this epoch.
        step: usize,
        /// Steps per epoch.
        steps_per_epoch: usize,
        /// Mean loss of the steps since the last report.
        loss: f64,
        /// Training throughput since the epoch started.
        examples_per_second: f64,
    },
    /// An epoch ended and was validated.
    Epoch {
        /// The epoch (1-based).
        epoch: usize,
        /// Mean training loss of the epoch.
        loss: f64,
        /// Validation HitRatio@10 (`None` without validation sessions).
        validation_hit_ratio_10: Option<f64>,
        /// Whether this epoch is the best so far.
        best: bool,
        /// Seconds the epoch took.
        seconds: f64,
    },
}

/// Receives training events and may ask training to stop.
pub trait TrainingObserver: Sync {
    /// One event.
    fn event(&self, event: TrainingEvent);

    /// Whether to stop at the next step (the best weights so far are kept).
    fn should_stop(&self) -> bool {
        false
    }
}

/// Ignores events.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl TrainingObserver for Silent {
    fn event(&self, _event: TrainingEvent) {}
}

/// The outcome of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Epochs run.
    pub epochs: usize,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Its validation HitRatio@10, when validated.
    pub best_validation_hit_ratio_10: Option<f64>,
    /// Training examples per epoch.
    pub examples: usize,
    /// Wall time of training, validation included.
    pub seconds: f64,
    /// Whether the user stopped it.
    pub stopped: bool,
}

/// One training example: a prefix and the track after it.
#[derive(Debug, Clone)]
struct Example {
    history: Vec<Item>,
    target: Item,
}

fn training_examples(sessions: &[Vec<Item>]) -> Vec<Example> {
    let mut out = Vec::new();
    for session in sessions {
        for t in 1..session.len() {
            out.push(Example {
                history: session[t.saturating_sub(MAX_HISTORY)..t].to_vec(),
                target: session[t],
            });
        }
    }
    out
}

/// Adam's epsilon (PyTorch's and Keras's default; Burn's is 1e-5).
const ADAM_EPSILON: f32 = 1e-8;

/// The parts of an attentive network trained on the host: the embedding
/// tables row by row, and the output layer.
struct HostParts {
    track: SparseTable,
    modalities: Vec<SparseTable>,
    head: SoftmaxHead,
}

/// `model` with the host parts written back into it.
fn with_host_parts(model: NextTrackModel, host: &Option<HostParts>, device: &Device) -> NextTrackModel {
    match (model, host) {
        (NextTrackModel::Attentive(net), Some(host)) => NextTrackModel::Attentive(
            net.with_tables(&host.track, &host.modalities, device)
                .with_output_rows(host.head.weight(), host.head.bias(), device),
        ),
        (model, _) => model,
    }
}

/// One optimisation step at a time: the model, Burn's Adam for its dense
/// parameters, and the host tables with lazy Adam for attentive networks.
pub struct Stepper {
    // Always `Some` between steps; taken while the optimizer consumes it.
    model: Option<NextTrackModel>,
    optimizer: burn::optim::ModuleOptimizer,
    host: Option<HostParts>,
    lazy_adam: LazyAdam,
    loss_function: CrossEntropyLoss,
    learning_rate: f64,
    device: Device,
}

impl Stepper {
    /// Prepares `model` for training on `device` (autodiff is added here).
    pub fn new(model: NextTrackModel, config: &TrainConfig, device: &Device) -> Stepper {
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let model = model.fork(&device).train();
        // The attentive networks' embedding tables train row by row (see
        // `sparse`) and their output layer on the host (see `head`).
        let host = match &model {
            NextTrackModel::Attentive(net) => {
                let (track, modalities) = net.tables();
                let (weight, bias) = net.output_rows();
                let outputs = bias.len();
                let inputs = weight.len() / outputs.max(1);
                Some(HostParts {
                    track,
                    modalities,
                    head: SoftmaxHead::new(inputs, outputs, weight, bias),
                })
            }
            _ => None,
        };
        Stepper {
            model: Some(model),
            optimizer: AdamConfig::new().with_epsilon(ADAM_EPSILON).init(),
            host,
            lazy_adam: LazyAdam::new(config.learning_rate, ADAM_EPSILON),
            loss_function: CrossEntropyLossConfig::new().init(&device),
            learning_rate: config.learning_rate,
            device,
        }
    }

    /// One step on a batch of (history, next item); returns the loss.
    pub fn step(&mut self, histories: &[&[Item]], targets: &[Item]) -> f64 {
        let device = &self.device;
        let batch = Batch::new(histories, device);
        let Some(model) = self.model.take() else {
            return f64::NAN;
        };
        let (gradients, loss_value) = match (&model, self.host.as_mut()) {
            (NextTrackModel::Attentive(net), Some(host)) => {
                let (distinct, local) = local_indices(histories);
                let local = Tensor::<2, Int>::from_data(
                    TensorData::new(local, [histories.len(), batch.width()]),
                    device,
                );
                let track_rows = host.track.gather(&distinct, device).require_grad();
                let modality_rows: Vec<Tensor<2>> = host
                    .modalities
                    .iter()
                    .map(|m| m.gather(&distinct, device).require_grad())
                    .collect();
                let hidden = net.hidden_with_rows(&batch, local, track_rows.clone(), modality_rows.clone());
                let [rows, width] = hidden.dims();
                let hidden_values: Vec<f32> = hidden.clone().try_into_vec_as().unwrap_or_default();
                self.lazy_adam.step += 1;
                let (loss, hidden_gradient) = host.head.step(&hidden_values, targets, &self.lazy_adam);
                if !loss.is_finite() {
                    self.model = Some(model);
                    return loss;
                }
                // d(sum(h ⊙ G))/dh = G: the network below receives the head's gradient.
                let upstream =
                    Tensor::<2>::from_data(TensorData::new(hidden_gradient, [rows, width]), device);
                let gradients = (hidden * upstream).sum().backward();
                let host_gradient = |rows: &Tensor<2>| {
                    rows.grad(&gradients)
                        .and_then(|g| g.try_into_vec_as::<f32>().ok())
                        .unwrap_or_default()
                };
                host.track
                    .update(&distinct, &host_gradient(&track_rows), &self.lazy_adam);
                for (table, rows) in host.modalities.iter_mut().zip(&modality_rows) {
                    table.update(&distinct, &host_gradient(rows), &self.lazy_adam);
                }
                (gradients, loss)
            }
            _ => {
                let targets: Vec<i64> = targets.iter().map(|t| i64::from(*t)).collect();
                let targets =
                    Tensor::<1, Int>::from_data(TensorData::new(targets, [histories.len()]), device);
                let loss = self.loss_function.forward(model.logits(&batch), targets);
                let loss_value = f64::from(loss.clone().into_scalar::<f32>());
                if !loss_value.is_finite() {
                    self.model = Some(model);
                    return loss_value;
                }
                (loss.backward(), loss_value)
            }
        };
        let gradients = GradientsParams::from_grads(gradients, &model);
        self.model = Some(self.optimizer.step(self.learning_rate, model, gradients));
        loss_value
    }

    /// The model as trained so far (host tables written back).
    pub fn current_model(&self) -> NextTrackModel {
        match &self.model {
            Some(model) => with_host_parts(model.clone(), &self.host, &self.device),
            None => unreachable!("the model is only taken within a step"),
        }
    }
}

/// How often step events are sent.
const STEP_REPORT_EVERY: usize = 25;

/// Trains `model` on `set`. Returns the weights of the best epoch.
pub fn train(
    model: NextTrackModel,
    set: &TrainingSet,
    num_items: usize,
    config: &TrainConfig,
    device: &ComputeDevice,
    observer: &dyn TrainingObserver,
) -> Result<(NextTrackModel, TrainingSummary)> {
    let examples = training_examples(&set.train);
    if examples.is_empty() {
        return Err(Error::EmptyInput(
            "no training examples: sessions need at least two tracks".to_owned(),
        ));
    }
    let validation: Vec<crate::eval::Example> = examples_of(&set.validation);
    let mut stepper = Stepper::new(model, config, &device.device);
    let batch_size = config.batch_size.max(1);
    let steps_per_epoch = examples.len().div_ceil(batch_size);
    observer.event(TrainingEvent::Started {
        examples: examples.len(),
        steps_per_epoch,
        max_epochs: config.max_epochs,
    });

    let started = Instant::now();
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut best: Option<(NextTrackModel, usize, Option<f64>)> = None;
    let mut epochs_without_gain = 0;
    let mut epochs = 0;
    let mut stopped = false;
    'epochs: for epoch in 1..=config.max_epochs.max(1) {
        epochs = epoch;
        let epoch_started = Instant::now();
        order.shuffle(&mut rng);
        let (mut loss_sum, mut loss_count) = (0.0, 0usize);
        let (mut window_sum, mut window_count) = (0.0, 0usize);
        for (step, chunk) in order.chunks(batch_size).enumerate() {
            if observer.should_stop() {
                stopped = true;
                break 'epochs;
            }
            let histories: Vec<&[Item]> = chunk.iter().map(|i| examples[*i].history.as_slice()).collect();
            let targets: Vec<Item> = chunk.iter().map(|i| examples[*i].target).collect();
            let loss_value = stepper.step(&histories, &targets);
            if !loss_value.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    step: step + 1,
                    loss: loss_value,
                });
            }
            loss_sum += loss_value;
            loss_count += 1;
            window_sum += loss_value;
            window_count += 1;
            if (step + 1) % STEP_REPORT_EVERY == 0 || step + 1 == steps_per_epoch {
                let done = ((step + 1) * batch_size).min(examples.len());
                observer.event(TrainingEvent::Step {
                    epoch,
                    step: step + 1,
                    steps_per_epoch,
                    loss: window_sum / window_count as f64,
                    examples_per_second: done as f64 / epoch_started.elapsed().as_secs_f64().max(1e-9),
                });
                window_sum = 0.0;
                window_count = 0;
            }
        }
        let current = stepper.current_model();
        let hit_ratio = if validation.is_empty() {
            None
        } else {
            let scorer = NeuralScorer::new(&current, &device.device, num_items);
            Some(
                evaluate(&scorer, &scorer, &validation, None, 1)
                    .overall
                    .hit_ratio(10),
            )
        };
        let improved = match (&best, hit_ratio) {
            (None, _) => true,
            (Some((_, _, Some(best_hr))), Some(hr)) => hr > *best_hr,
            // Without validation the latest epoch is the best.
            (Some(_), None) => true,
            (Some((_, _, None)), Some(_)) => true,
        };
        if improved {
            best = Some((current, epoch, hit_ratio));
            epochs_without_gain = 0;
        } else {
            epochs_without_gain += 1;
        }
        observer.event(TrainingEvent::Epoch {
            epoch,
            loss: loss_sum / loss_count.max(1) as f64,
            validation_hit_ratio_10: hit_ratio,
            best: improved,
            seconds: epoch_started.elapsed().as_secs_f64(),
        });
        if hit_ratio.is_some() && epochs_without_gain >= config.patience.max(1) {
            break;
        }
    }
    let (best_model, best_epoch, best_hit_ratio) = match best {
        Some(best) => best,
        // Stopped before the first epoch ended: keep what there is.
        None => (stepper.current_model(), 0, None),
    };
    Ok((
        best_model.valid().fork(&device.device),
        TrainingSummary {
            epochs,
            best_epoch,
            best_validation_hit_ratio_10: best_hit_ratio,
            examples: examples.len(),
            seconds: started.elapsed().as_secs_f64(),
            stopped,
        },
    ))
}

fn examples_of(sessions: &[Vec<Item>]) -> Vec<crate::eval::Example> {
    let test: Vec<TestSession> = sessions
        .iter()
        .map(|s| TestSession {
            user: 0,
            items: s.iter().copied().map(Some).collect(),
        })
        .collect();
    examples(&test)
}
