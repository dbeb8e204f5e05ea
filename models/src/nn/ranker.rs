//! Exact top-k over every track without reading the full-precision output
//! layer for each query.
//!
//! Scoring one history means `W h + b` over every track: at the paper's
//! 413,000 tracks and 256 inputs that is 420 MB of `f32` weights streamed
//! through the CPU per query, which memory bandwidth alone puts far beyond
//! an interactive budget. An 8-bit copy of the weight is a quarter of that.
//! Quantisation makes scores approximate, so every approximate score comes
//! with a proven error bound: the exact top-k is always inside the set of
//! tracks whose upper bound reaches the k-th best lower bound, and only
//! those few candidates are rescored in `f32`. The result is exactly the
//! top-k of the full-precision scores.

use std::cmp::Ordering;

/// The output layer `logits = W h + b` in two precisions, for top-k queries.
#[derive(Debug, Clone)]
pub struct QuantizedHead {
    inputs: usize,
    outputs: usize,
    /// `[outputs, inputs]` row-major, full precision, for rescoring.
    weight: Vec<f32>,
    bias: Vec<f32>,
    /// `[outputs, inputs]` row-major: `weight ≈ codes × scale` per row.
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// Per row, the largest `|w − code × scale|`.
    max_error: Vec<f32>,
    /// Per row, `Σ |code × scale|` (bounds the error of quantising `h`).
    quantized_l1: Vec<f32>,
}

/// Rows per work unit; the units are spread over the threads.
const CHUNK_ROWS: usize = 4096;

impl QuantizedHead {
    /// A head from `weight` `[outputs, inputs]` (row-major, one row per
    /// track) and `bias` `[outputs]`.
    pub fn new(inputs: usize, weight: Vec<f32>, bias: Vec<f32>) -> QuantizedHead {
        let outputs = bias.len();
        assert_eq!(weight.len(), inputs * outputs, "weight must be [outputs, inputs]");
        let mut codes = vec![0i8; weight.len()];
        let mut scales = vec![0f32; outputs];
        let mut max_error = vec![0f32; outputs];
        let mut quantized_l1 = vec![0f32; outputs];
        for row in 0..outputs {
            let values = &weight[row * inputs..(row + 1) * inputs];
            let largest = values.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
            let mut worst = 0f32;
            let mut l1 = 0f32;
            for (code, value) in codes[row * inputs..(row + 1) * inputs].iter_mut().zip(values) {
                let q = (value / scale).round().clamp(-127.0, 127.0);
                *code = q as i8;
                let restored = q * scale;
                worst = worst.max((value - restored).abs());
                l1 += restored.abs();
            }
            scales[row] = scale;
            max_error[row] = worst;
            quantized_l1[row] = l1;
        }
        QuantizedHead {
            inputs,
            outputs,
            weight,
            bias,
            codes,
            scales,
            max_error,
            quantized_l1,
        }
    }

    /// Tracks scored.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The exact logit of `item` for `h`.
    pub fn logit(&self, h: &[f32], item: usize) -> f32 {
        let row = &self.weight[item * self.inputs..(item + 1) * self.inputs];
        row.iter().zip(h).map(|(w, x)| w * x).sum::<f32>() + self.bias[item]
    }

    /// The `k` best items for `h` `[inputs]` with their exact logits, best
    /// first (ties by lower index), skipping the items `skip` accepts.
    pub fn top_k(&self, h: &[f32], k: usize, skip: &(dyn Fn(u32) -> bool + Sync)) -> Vec<(u32, f32)> {
        assert_eq!(h.len(), self.inputs, "h must have the head's input size");
        let k = k.min(self.outputs);
        if k == 0 {
            return Vec::new();
        }
        let h_scale = {
            let largest = h.iter().fold(0f32, |m, v| m.max(v.abs()));
            if largest > 0.0 { largest / 127.0 } else { 1.0 }
        };
        let h_codes: Vec<i16> = h
            .iter()
            .map(|x| (x / h_scale).round().clamp(-127.0, 127.0) as i16)
            .collect();
        let h_l1: f32 = h.iter().map(|x| x.abs()).sum();
        // |w·h − (s q)·(s_h q_h)| ≤ ‖w − s q‖∞‖h‖₁ + ‖s q‖₁‖h − s_h q_h‖∞,
        // and ‖h − s_h q_h‖∞ ≤ s_h / 2. The slack covers f32 rounding of the
        // sums themselves.
        let h_error = h_scale / 2.0;

        // Pass 1: bounds of every item, and the k-th best lower bound among
        // the items not skipped.
        let (bounds, best_lowers) = self.bounds(&h_codes, h_scale, h_l1, h_error, k, skip);
        if best_lowers.is_empty() {
            return Vec::new();
        }
        let k = k.min(best_lowers.len());
        let threshold = best_lowers[k - 1];
        // Pass 2: every item whose upper bound reaches the k-th best lower
        // bound may be in the exact top-k; rescore those exactly.
        let mut candidates: Vec<(u32, f32)> = bounds
            .iter()
            .enumerate()
            .filter(|(item, (_, upper))| *upper >= threshold && !skip(*item as u32))
            .map(|(item, _)| (item as u32, self.logit(h, item)))
            .collect();
        candidates.sort_by(|a, b| match b.1.total_cmp(&a.1) {
            Ordering::Equal => a.0.cmp(&b.0),
            other => other,
        });
        candidates.truncate(k);
        candidates
    }

    /// `(lower, upper)` bounds of every item's exact logit, and the `k`
    /// largest lower bounds of the items not skipped, largest first.
    fn bounds(
        &self,
        h_codes: &[i16],
        h_scale: f32,
        h_l1: f32,
        h_error: f32,
        k: usize,
        skip: &(dyn Fn(u32) -> bool + Sync),
    ) -> (Vec<(f32, f32)>, Vec<f32>) {
        let mut bounds = vec![(0f32, 0f32); self.outputs];
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let per_thread = self.outputs.div_ceil(threads).div_ceil(CHUNK_ROWS).max(1) * CHUNK_ROWS;
        let mut best = std::thread::scope(|scope| {
            let workers: Vec<_> = bounds
                .chunks_mut(per_thread)
                .enumerate()
                .map(|(part, out)| {
                    let first = part * per_thread;
                    scope.spawn(move || {
                        let mut best = BestLowerBounds::new(k);
                        for (offset, bound) in out.iter_mut().enumerate() {
                            let row = first + offset;
                            let codes = &self.codes[row * self.inputs..(row + 1) * self.inputs];
                            let dot = dot_i8(codes, h_codes);
                            let approx = dot as f32 * self.scales[row] * h_scale + self.bias[row];
                            let error = self.max_error[row] * h_l1 + self.quantized_l1[row] * h_error;
                            // f32 rounding of `approx` and of the exact sum, generously.
                            let slack = error * 1e-3 + (approx.abs() + self.quantized_l1[row] * h_l1) * 1e-5;
                            *bound = (approx - error - slack, approx + error + slack);
                            if !skip(row as u32) {
                                best.offer(bound.0);
                            }
                        }
                        best.values
                    })
                })
                .collect();
            let mut merged = BestLowerBounds::new(k);
            for worker in workers {
                for value in worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                {
                    merged.offer(value);
                }
            }
            merged
        });
        best.values.truncate(k);
        (bounds, std::mem::take(&mut best.values))
    }
}

/// The `k` largest values offered, largest first; most offers cost one
/// comparison.
struct BestLowerBounds {
    k: usize,
    values: Vec<f32>,
}

impl BestLowerBounds {
    fn new(k: usize) -> BestLowerBounds {
        BestLowerBounds {
            k,
            values: Vec::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, value: f32) {
        if self.values.len() == self.k && self.values.last().is_some_and(|last| value <= *last) {
            return;
        }
        let at = self.values.partition_point(|v| *v >= value);
        self.values.insert(at, value);
        self.values.truncate(self.k);
    }
}

/// `Σ a_i b_i` in exact integer arithmetic, with AVX2 when the CPU has it
/// (the x86-64 baseline, SSE2, has no widening byte loads and runs this
/// loop at about one product per cycle; AVX2 does sixteen).
fn dot_i8(a: &[i8], b: &[i16]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: `dot_i8_avx2` only needs AVX2, detected just above; it
        // is plain safe Rust compiled with that feature enabled.
        return unsafe { dot_i8_avx2(a, b) };
    }
    dot_i8_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_i8_avx2(a: &[i8], b: &[i16]) -> i32 {
    dot_i8_portable(a, b)
}

/// Written so that the compiler vectorises it (16-bit products summed in 32 bits).
#[inline(always)]
fn dot_i8_portable(a: &[i8], b: &[i16]) -> i32 {
    let mut lanes = [0i32; 16];
    let mut a_chunks = a.chunks_exact(16);
    let mut b_chunks = b.chunks_exact(16);
    for (a, b) in (&mut a_chunks).zip(&mut b_chunks) {
        for lane in 0..16 {
            lanes[lane] += i32::from(a[lane]) * i32::from(b[lane]);
        }
    }
    let tail: i32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    lanes.iter().sum::<i32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn exact_top_k(head: &QuantizedHead, h: &[f32], k: usize, skip: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = (0..head.outputs())
            .filter(|i| !skip(*i as u32))
            .map(|i| (i as u32, head.logit(h, i)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    #[test]
    fn the_top_k_is_the_exact_one() {
        let mut rng = SmallRng::seed_from_u64(4);
        for (inputs, outputs) in [(7, 50), (64, 9_000), (256, 3)] {
            let weight: Vec<f32> = (0..inputs * outputs)
                .map(|_| rng.random_range(-0.2..0.2))
                .collect();
            let bias: Vec<f32> = (0..outputs).map(|_| rng.random_range(-0.05..0.05)).collect();
            let head = QuantizedHead::new(inputs, weight, bias);
            for _ in 0..5 {
                let h: Vec<f32> = (0..inputs).map(|_| rng.random_range(0.0..1.5)).collect();
                for k in [1, 10, 100] {
                    assert_eq!(
                        head.top_k(&h, k, &|_| false),
                        exact_top_k(&head, &h, k, |_| false)
                    );
                }
                let skip = |i: u32| i.is_multiple_of(3);
                assert_eq!(head.top_k(&h, 10, &skip), exact_top_k(&head, &h, 10, skip));
            }
        }
    }

    #[test]
    fn near_ties_and_repeated_rows_stay_exact() {
        // Rows that differ by less than one quantisation step.
        let inputs = 16;
        let base: Vec<f32> = (0..inputs).map(|i| (i as f32 - 8.0) / 10.0).collect();
        let mut weight = Vec::new();
        for row in 0..40 {
            weight.extend(base.iter().map(|w| w + row as f32 * 1e-5));
        }
        let head = QuantizedHead::new(inputs, weight, vec![0.0; 40]);
        let h: Vec<f32> = (0..inputs).map(|i| i as f32 / 16.0).collect();
        assert_eq!(
            head.top_k(&h, 5, &|_| false),
            exact_top_k(&head, &h, 5, |_| false)
        );
        let zero = vec![0.0; inputs];
        assert_eq!(
            head.top_k(&zero, 3, &|_| false),
            vec![(0, 0.0), (1, 0.0), (2, 0.0)]
        );
        assert!(head.top_k(&h, 3, &|_| true).is_empty());
    }
}
