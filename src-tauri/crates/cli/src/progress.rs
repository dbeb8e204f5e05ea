//! Terminal progress bars for `segue-core`'s progress events.

use std::sync::Mutex;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use segue_core::progress::{CancelFlag, Progress, ProgressEvent, Unit};

/// Draws one bar per task on stderr (nothing when `visible` is false or
/// stderr is not a terminal) and answers cancellation from a shared flag.
pub struct TerminalProgress {
    bar: Mutex<Option<(ProgressBar, Unit)>>,
    visible: bool,
    cancel: CancelFlag,
}

impl TerminalProgress {
    pub fn new(visible: bool, cancel: CancelFlag) -> Self {
        TerminalProgress {
            bar: Mutex::new(None),
            visible,
            cancel,
        }
    }
}

fn style(unit: Unit, known_total: bool) -> ProgressStyle {
    let template = match (unit, known_total) {
        (Unit::Bytes, true) => {
            "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}"
        }
        (_, true) => "{spinner} {prefix} [{bar:30}] {pos}/{len} {unit} ({per_sec}) {msg}",
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
        let mut guard = self
            .bar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match event {
            ProgressEvent::Started { task, total, unit } => {
                let bar = match total {
                    Some(total) => ProgressBar::new(total),
                    None => ProgressBar::new_spinner(),
                };
                bar.set_style(style(unit, total.is_some()));
                bar.set_prefix(task);
                *guard = Some((bar, unit));
            }
            ProgressEvent::Advanced {
                done,
                total,
                listens,
                problems,
            } => {
                if let Some((bar, unit)) = guard.as_ref() {
                    if let Some(total) = total
                        && bar.length() != Some(total)
                    {
                        bar.set_length(total);
                        bar.set_style(style(*unit, true));
                    }
                    bar.set_position(done);
                    bar.set_message(format!("{listens} listens, {problems} problems"));
                }
            }
            ProgressEvent::Note { message } => match guard.as_ref() {
                Some((bar, _)) => bar.println(message),
                None => eprintln!("{message}"),
            },
            ProgressEvent::Finished => {
                if let Some((bar, unit)) = guard.take() {
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
