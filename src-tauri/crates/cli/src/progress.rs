//! Terminal progress bars for `segue-core`'s progress events.

use std::sync::Mutex;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressStyle};
use segue_core::pipeline::TrainingEvent;
use segue_core::progress::{CancelFlag, Progress, ProgressEvent, Unit};

/// Draws a bar per task, and one for training steps beneath it, on stderr
/// (nothing when `visible` is false or stderr is not a terminal), and
/// answers cancellation from a shared flag.
pub struct TerminalProgress {
    bars: MultiProgress,
    state: Mutex<Bars>,
    visible: bool,
    cancel: CancelFlag,
}

#[derive(Default)]
struct Bars {
    task: Option<(ProgressBar, Unit)>,
    training: Option<ProgressBar>,
    max_epochs: usize,
}

impl TerminalProgress {
    pub fn new(visible: bool, cancel: CancelFlag) -> Self {
        TerminalProgress {
            bars: MultiProgress::new(),
            state: Mutex::new(Bars::default()),
            visible,
            cancel,
        }
    }

    fn println(&self, line: String) {
        if self.bars.println(&line).is_err() {
            eprintln!("{line}");
        }
    }
}

fn style(unit: Unit, known_total: bool) -> ProgressStyle {
    let template = match (unit, known_total) {
        (Unit::Bytes, true) => "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        (_, true) => "{spinner} {prefix} [{bar:30}] {pos}/{len} {unit} {msg}",
        (_, false) => "{spinner} {prefix} {pos} {msg}",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key(
            "unit",
            move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(match unit {
                    Unit::Pages => "pages",
                    Unit::Records => "records",
                    Unit::Steps => "steps",
                    Unit::Items | Unit::Bytes => "",
                });
            },
        )
}

impl Progress for TerminalProgress {
    fn report(&self, event: ProgressEvent) {
        if !self.visible {
            return;
        }
        let mut bars = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match event {
            ProgressEvent::Started { task, total, unit } => {
                let bar = match total {
                    Some(total) => ProgressBar::new(total),
                    None => ProgressBar::new_spinner(),
                };
                let bar = self.bars.add(bar);
                bar.set_style(style(unit, total.is_some()));
                bar.set_prefix(task);
                bars.task = Some((bar, unit));
            }
            ProgressEvent::Advanced {
                done,
                total,
                listens,
                problems,
            } => {
                if let Some((bar, unit)) = bars.task.as_ref() {
                    if let Some(total) = total
                        && bar.length() != Some(total)
                    {
                        bar.set_length(total);
                        bar.set_style(style(*unit, true));
                    }
                    bar.set_position(done);
                    if matches!(unit, Unit::Bytes | Unit::Pages | Unit::Records) {
                        bar.set_message(format!("{listens} listens, {problems} problems"));
                    }
                }
            }
            ProgressEvent::Note { message } => {
                drop(bars);
                self.println(message);
            }
            ProgressEvent::Training { event } => match event {
                TrainingEvent::Started {
                    examples,
                    steps_per_epoch,
                    max_epochs,
                } => {
                    if let Some(old) = bars.training.take() {
                        old.finish_and_clear();
                    }
                    let bar = self.bars.add(ProgressBar::new(steps_per_epoch as u64));
                    bar.set_style(style(Unit::Steps, true));
                    bar.set_prefix(format!("epoch 1/{max_epochs}"));
                    bar.set_message(format!("{examples} examples"));
                    bars.training = Some(bar);
                    bars.max_epochs = max_epochs;
                }
                TrainingEvent::Step {
                    epoch,
                    step,
                    loss,
                    examples_per_second,
                    ..
                } => {
                    if let Some(bar) = bars.training.as_ref() {
                        bar.set_prefix(format!("epoch {epoch}/{}", bars.max_epochs));
                        bar.set_position(step as u64);
                        bar.set_message(format!("loss {loss:.4}, {examples_per_second:.0} examples/s"));
                    }
                }
                TrainingEvent::Epoch {
                    epoch,
                    loss,
                    validation_hit_ratio_10,
                    best,
                    seconds,
                } => {
                    if let Some(bar) = bars.training.as_ref() {
                        bar.set_position(0);
                    }
                    drop(bars);
                    let validation = validation_hit_ratio_10.map_or_else(
                        || "no validation".to_owned(),
                        |hr| format!("validation HR@10 {hr:.4}"),
                    );
                    let best = if best { " (best so far)" } else { "" };
                    self.println(format!(
                        "epoch {epoch}: loss {loss:.4}, {validation}{best}, {seconds:.1} s"
                    ));
                }
            },
            ProgressEvent::Finished => {
                if let Some(bar) = bars.training.take() {
                    bar.finish_and_clear();
                }
                if let Some((bar, unit)) = bars.task.take() {
                    if unit == Unit::Bytes {
                        bar.set_message(format!("{} read", HumanBytes(bar.position())));
                    }
                    bar.finish_and_clear();
                }
            }
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
