//! Embedding tables trained row by row.
//!
//! A batch of 32 histories of 20 tracks touches at most 640 of the tens or
//! hundreds of thousands of rows of each embedding table, but a dense
//! gradient and a dense Adam step touch them all. Training therefore keeps
//! the tables (the track embedding and the modality tables) on the host,
//! gathers the batch's distinct rows into small tensors that require grad,
//! and applies Adam to those rows only ("lazy" Adam, as TensorFlow's
//! LazyAdam and PyTorch's SparseAdam do: a row's moments move when the row
//! is used; bias correction uses the global step). Rows of tracks without a
//! modality stay zero.

use burn::prelude::*;

/// One embedding table on the host, with its Adam moments.
#[derive(Debug, Clone)]
pub struct SparseTable {
    rows: usize,
    dim: usize,
    values: Vec<f32>,
    first_moment: Vec<f32>,
    second_moment: Vec<f32>,
    /// Rows that may change (`None`: all).
    trainable: Option<Vec<bool>>,
}

impl SparseTable {
    /// Copies a `[rows, dim]` tensor to the host.
    pub fn from_tensor(tensor: Tensor<2>, trainable: Option<Vec<bool>>) -> SparseTable {
        let [rows, dim] = tensor.dims();
        let values = tensor
            .try_into_vec_as::<f32>()
            .unwrap_or_else(|_| vec![0.0; rows * dim]);
        SparseTable {
            rows,
            dim,
            first_moment: vec![0.0; values.len()],
            second_moment: vec![0.0; values.len()],
            values,
            trainable,
        }
    }

    /// The table as a tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.values.clone(), [self.rows, self.dim]),
            device,
        )
    }

    /// Dimensions of a row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The rows of `items`, as a `[items.len(), dim]` tensor on `device`.
    pub fn gather(&self, items: &[u32], device: &Device) -> Tensor<2> {
        let mut rows = Vec::with_capacity(items.len() * self.dim);
        for item in items {
            let start = *item as usize * self.dim;
            rows.extend_from_slice(&self.values[start..start + self.dim]);
        }
        Tensor::from_data(TensorData::new(rows, [items.len(), self.dim]), device)
    }

    /// One Adam step for the rows of `items` with their gradients `[items.len(), dim]`.
    pub fn update(&mut self, items: &[u32], gradients: &[f32], adam: &LazyAdam) {
        for (row, item) in items.iter().enumerate() {
            let item = *item as usize;
            if let Some(trainable) = &self.trainable
                && !trainable[item]
            {
                continue;
            }
            let range = item * self.dim..(item + 1) * self.dim;
            let gradient = &gradients[row * self.dim..(row + 1) * self.dim];
            adam.apply(
                &mut self.values[range.clone()],
                &mut self.first_moment[range.clone()],
                &mut self.second_moment[range],
                gradient,
            );
        }
    }
}

/// Adam's settings and step count, for [`SparseTable::update`].
#[derive(Debug, Clone, Copy)]
pub struct LazyAdam {
    /// Learning rate.
    pub learning_rate: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub epsilon: f32,
    /// Steps taken (1 at the first update).
    pub step: i32,
}

impl LazyAdam {
    /// Adam with the usual betas and `epsilon`, before its first step.
    pub fn new(learning_rate: f64, epsilon: f32) -> LazyAdam {
        LazyAdam {
            learning_rate: learning_rate as f32,
            beta1: 0.9,
            beta2: 0.999,
            epsilon,
            step: 0,
        }
    }

    /// One Adam step over whole arrays (every element has a gradient).
    pub fn apply_dense(&self, values: &mut [f32], m: &mut [f32], v: &mut [f32], gradient: &[f32]) {
        self.apply(values, m, v, gradient);
    }

    fn apply(&self, values: &mut [f32], m: &mut [f32], v: &mut [f32], gradient: &[f32]) {
        let correction1 = 1.0 - self.beta1.powi(self.step);
        let correction2 = 1.0 - self.beta2.powi(self.step);
        let step_size = self.learning_rate / correction1;
        for (((value, m), v), g) in values
            .iter_mut()
            .zip(m.iter_mut())
            .zip(v.iter_mut())
            .zip(gradient)
        {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *value -= step_size * *m / ((*v / correction2).sqrt() + self.epsilon);
        }
    }
}

/// The distinct items of a batch (sorted) and each position's index among them.
pub fn local_indices(histories: &[&[u32]]) -> (Vec<u32>, Vec<i64>) {
    let mut distinct: Vec<u32> = histories.iter().flat_map(|h| h.iter().copied()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let width = histories.iter().map(|h| h.len()).max().unwrap_or(1);
    let mut local = vec![0i64; histories.len() * width];
    for (row, history) in histories.iter().enumerate() {
        for (t, item) in history.iter().enumerate() {
            local[row * width + t] = distinct.binary_search(item).unwrap_or(0) as i64;
        }
    }
    (distinct, local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_indices_index_the_distinct_items() {
        let (distinct, local) = local_indices(&[&[7, 3, 7], &[9]]);
        assert_eq!(distinct, [3, 7, 9]);
        assert_eq!(local, [1, 0, 1, 2, 0, 0]);
    }

    #[test]
    fn lazy_adam_matches_adam_on_the_rows_it_touches() {
        // One scalar, Adam by hand: m = 0.1 g, v = 0.001 g², corrected to g and g².
        let adam = LazyAdam {
            step: 1,
            ..LazyAdam::new(0.01, 1e-8)
        };
        let (mut value, mut m, mut v) = ([1.0f32], [0.0f32], [0.0f32]);
        adam.apply(&mut value, &mut m, &mut v, &[0.5]);
        assert!((value[0] - (1.0 - 0.01)).abs() < 1e-6, "{}", value[0]);
    }
}
