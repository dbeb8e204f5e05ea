//! The output layer of training, on the host: logits over every track,
//! softmax cross-entropy, its gradients and Adam, in preallocated buffers.
//!
//! The projection onto all tracks dominates a training step: at 50,000
//! tracks its weight has 12.8 million values, and an autodiff framework
//! allocates (and the kernel zeroes) several fresh copies of it per step
//! for the gradient and each Adam operation. Here the weight lives in one
//! host buffer with its moments; the three matrix products run on faer
//! (parallel, SIMD), and Adam is one fused pass. The network below it stays
//! in Burn: it receives the gradient of its output `h` and backpropagates
//! as usual.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::sparse::LazyAdam;

/// Tracks per block of the weight gradient (8,192 × 256 floats = 8 MB).
const GRADIENT_BLOCK_ROWS: usize = 8192;

/// A softmax output layer `logits = h Wᵀ + b` trained with dense Adam.
#[derive(Debug, Clone)]
pub struct SoftmaxHead {
    inputs: usize,
    outputs: usize,
    /// `[outputs, inputs]`, row-major: one row per track.
    weight: Vec<f32>,
    bias: Vec<f32>,
    weight_moments: (Vec<f32>, Vec<f32>),
    bias_moments: (Vec<f32>, Vec<f32>),
    logits: Vec<f32>,
    weight_gradient: Vec<f32>,
    threads: usize,
}

impl SoftmaxHead {
    /// A head with `weight` `[outputs, inputs]` (row-major) and `bias` `[outputs]`.
    pub fn new(inputs: usize, outputs: usize, weight: Vec<f32>, bias: Vec<f32>) -> SoftmaxHead {
        SoftmaxHead {
            inputs,
            outputs,
            weight_moments: (vec![0.0; weight.len()], vec![0.0; weight.len()]),
            bias_moments: (vec![0.0; bias.len()], vec![0.0; bias.len()]),
            weight_gradient: Vec::new(),
            weight,
            bias,
            logits: Vec::new(),
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        }
    }

    /// The weight, `[outputs, inputs]` row-major.
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// The bias.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    fn parallelism(&self) -> Par {
        if self.threads > 1 {
            Par::rayon(self.threads)
        } else {
            Par::Seq
        }
    }

    /// Logits of `h` `[rows, inputs]` into `out` `[rows, outputs]`.
    pub fn logits_into(&self, h: &[f32], rows: usize, out: &mut [f32]) {
        let h = MatRef::from_row_major_slice(h, rows, self.inputs);
        let weight = MatRef::from_row_major_slice(&self.weight, self.outputs, self.inputs);
        let logits = MatMut::from_row_major_slice_mut(out, rows, self.outputs);
        matmul(
            logits,
            Accum::Replace,
            h,
            weight.transpose(),
            1.0,
            self.parallelism(),
        );
        for row in out.chunks_mut(self.outputs) {
            for (logit, bias) in row.iter_mut().zip(&self.bias) {
                *logit += bias;
            }
        }
    }

    /// One training step on `h` `[rows, inputs]` and targets: returns the
    /// mean cross-entropy and the gradient with respect to `h`, and applies
    /// Adam to the weight and bias.
    pub fn step(&mut self, h: &[f32], targets: &[u32], adam: &LazyAdam) -> (f64, Vec<f32>) {
        let rows = targets.len();
        let mut logits = std::mem::take(&mut self.logits);
        logits.resize(rows * self.outputs, 0.0);
        self.logits_into(h, rows, &mut logits);
        // Softmax in place; the logits become the gradient of the mean loss.
        let mut loss = 0.0f64;
        for (row, target) in logits.chunks_mut(self.outputs).zip(targets) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for value in row.iter_mut() {
                *value = (*value - max).exp();
                sum += *value;
            }
            let target = *target as usize;
            loss += f64::from(sum.ln() - (row[target].ln()));
            let scale = 1.0 / (sum * rows as f32);
            for value in row.iter_mut() {
                *value *= scale;
            }
            row[target] -= 1.0 / rows as f32;
        }
        let gradient = MatRef::from_row_major_slice(&logits, rows, self.outputs);
        let h_matrix = MatRef::from_row_major_slice(h, rows, self.inputs);
        let par = self.parallelism();
        // dL/dh = G W
        let mut h_gradient = vec![0f32; rows * self.inputs];
        matmul(
            MatMut::from_row_major_slice_mut(&mut h_gradient, rows, self.inputs),
            Accum::Replace,
            gradient,
            MatRef::from_row_major_slice(&self.weight, self.outputs, self.inputs),
            1.0,
            par,
        );
        // dL/dW = Gᵀ h, a block of tracks at a time, each block's Adam update
        // right after its gradient: no buffer the size of the weight.
        let block_rows = GRADIENT_BLOCK_ROWS.min(self.outputs.max(1));
        self.weight_gradient.resize(block_rows * self.inputs, 0.0);
        for first in (0..self.outputs).step_by(block_rows) {
            let rows_here = block_rows.min(self.outputs - first);
            let span = first * self.inputs..(first + rows_here) * self.inputs;
            let block_gradient = &mut self.weight_gradient[..rows_here * self.inputs];
            matmul(
                MatMut::from_row_major_slice_mut(block_gradient, rows_here, self.inputs),
                Accum::Replace,
                gradient.subcols(first, rows_here).transpose(),
                h_matrix,
                1.0,
                par,
            );
            adam.apply_dense(
                &mut self.weight[span.clone()],
                &mut self.weight_moments.0[span.clone()],
                &mut self.weight_moments.1[span],
                block_gradient,
            );
        }
        let mut bias_gradient = vec![0f32; self.outputs];
        for row in logits.chunks(self.outputs) {
            for (b, g) in bias_gradient.iter_mut().zip(row) {
                *b += g;
            }
        }
        adam.apply_dense(
            &mut self.bias,
            &mut self.bias_moments.0,
            &mut self.bias_moments.1,
            &bias_gradient,
        );
        self.logits = logits;
        (loss / rows as f64, h_gradient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_finite_differences() {
        let (inputs, outputs) = (3, 4);
        let weight: Vec<f32> = (0..12).map(|i| (i as f32 - 6.0) / 10.0).collect();
        let bias = vec![0.1, -0.2, 0.0, 0.05];
        let h = vec![0.5, -1.0, 0.25, 1.5, 0.0, -0.5];
        let targets = [2u32, 0];
        let loss_at = |h: &[f32]| {
            let head = SoftmaxHead::new(inputs, outputs, weight.clone(), bias.clone());
            let mut logits = vec![0.0; 2 * outputs];
            head.logits_into(h, 2, &mut logits);
            let mut loss = 0.0;
            for (row, t) in logits.chunks(outputs).zip(targets) {
                let sum: f32 = row.iter().map(|l| l.exp()).sum();
                loss += f64::from(sum.ln() - row[t as usize]);
            }
            loss / 2.0
        };
        let mut head = SoftmaxHead::new(inputs, outputs, weight.clone(), bias.clone());
        // A zero learning rate leaves the weights as they are.
        let adam = LazyAdam {
            step: 1,
            ..LazyAdam::new(0.0, 1e-8)
        };
        let (loss, gradient) = head.step(&h, &targets, &adam);
        assert!((loss - loss_at(&h)).abs() < 1e-5);
        for i in 0..h.len() {
            let mut up = h.clone();
            up[i] += 1e-3;
            let mut down = h.clone();
            down[i] -= 1e-3;
            let numeric = (loss_at(&up) - loss_at(&down)) / 2e-3;
            assert!(
                (numeric - f64::from(gradient[i])).abs() < 1e-3,
                "h[{i}]: {numeric} vs {}",
                gradient[i]
            );
        }
    }
}
