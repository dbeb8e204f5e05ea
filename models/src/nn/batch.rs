//! Padded batches of histories, as the networks take them.
//!
//! Histories are right-padded to the longest one of the batch. Everything a
//! network needs to keep padding out of its computation is built here, once,
//! on the host: the padding mask, the per-sequence reversal that feeds the
//! backward GRU its valid steps first, and the index of each last valid step.

use burn::prelude::*;

use crate::eval::Item;

/// A batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Item indices `[B, T]`, right-padded with item 0.
    pub items: Tensor<2, Int>,
    /// `true` at padding positions `[B, T]`.
    pub padding: Tensor<2, Bool>,
    /// Per row, `L−1−t` for the `L` valid steps and `t` for padding `[B, T]`:
    /// gathering with it reverses each sequence in place, and undoes itself.
    pub reversal: Tensor<2, Int>,
    /// Index of the last valid step of each row `[B, 1]`.
    pub last: Tensor<2, Int>,
    /// Valid steps of each row.
    pub lengths: Vec<usize>,
}

impl Batch {
    /// Builds a batch from non-empty histories (oldest first).
    ///
    /// # Panics
    /// If `histories` is empty or contains an empty history: callers filter those.
    pub fn new(histories: &[&[Item]], device: &Device) -> Batch {
        assert!(!histories.is_empty(), "a batch needs at least one history");
        let rows = histories.len();
        let width = histories.iter().map(|h| h.len()).max().unwrap_or(1);
        let mut items = vec![0i64; rows * width];
        let mut padding = vec![true; rows * width];
        let mut reversal = vec![0i64; rows * width];
        let mut last = vec![0i64; rows];
        let mut lengths = Vec::with_capacity(rows);
        for (row, history) in histories.iter().enumerate() {
            let length = history.len();
            assert!(length > 0, "a history in a batch is empty");
            for t in 0..width {
                let cell = row * width + t;
                if t < length {
                    items[cell] = i64::from(history[t]);
                    padding[cell] = false;
                    reversal[cell] = (length - 1 - t) as i64;
                } else {
                    reversal[cell] = t as i64;
                }
            }
            last[row] = (length - 1) as i64;
            lengths.push(length);
        }
        Batch {
            items: Tensor::from_data(TensorData::new(items, [rows, width]), device),
            padding: Tensor::from_data(TensorData::new(padding, [rows, width]), device),
            reversal: Tensor::from_data(TensorData::new(reversal, [rows, width]), device),
            last: Tensor::from_data(TensorData::new(last, [rows, 1]), device),
            lengths,
        }
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether the batch is empty (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Steps per row (the longest history).
    pub fn width(&self) -> usize {
        self.items.dims()[1]
    }
}

/// Reverses each row's valid steps of `x` `[B, T, D]` with [`Batch::reversal`];
/// applying it twice restores the order.
pub fn reverse_valid_steps(x: Tensor<3>, batch: &Batch) -> Tensor<3> {
    let [rows, width, dim] = x.dims();
    let index = batch
        .reversal
        .clone()
        .reshape([rows, width, 1])
        .repeat_dim(2, dim);
    x.gather(1, index)
}

/// The step at each row's last valid position of `x` `[B, T, D]` → `[B, D]`.
pub fn last_valid_step(x: Tensor<3>, batch: &Batch) -> Tensor<2> {
    let [rows, _, dim] = x.dims();
    let index = batch.last.clone().reshape([rows, 1, 1]).repeat_dim(2, dim);
    x.gather(1, index).reshape([rows, dim])
}
