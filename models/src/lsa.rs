//! LSA track embeddings: a truncated SVD of the session × track count matrix.
//!
//! The paper's ANN-LSA baseline initialises its track embedding from latent
//! semantic analysis of the training sessions. The matrix is sparse and
//! wide (tens of thousands of tracks), so the SVD is randomized (Halko,
//! Martinsson & Tropp 2011): a Gaussian sketch with power iterations,
//! orthonormalised by faer's QR, then an exact thin SVD (faer) of the small
//! projected matrix. Track vectors are the right singular vectors scaled by
//! the singular values.

use faer::Mat;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Settings of the truncated SVD.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LsaConfig {
    /// Dimensions kept (the paper's 150).
    pub components: usize,
    /// Extra sketch columns beyond `components`, for accuracy.
    pub oversampling: usize,
    /// Power iterations; more sharpen a slowly decaying spectrum.
    pub power_iterations: usize,
    /// Seed of the Gaussian sketch.
    pub seed: u64,
}

impl Default for LsaConfig {
    fn default() -> Self {
        LsaConfig {
            components: 150,
            oversampling: 20,
            power_iterations: 4,
            seed: 1,
        }
    }
}

/// A sparse matrix in compressed rows.
#[derive(Debug, Clone)]
struct Csr {
    rows: usize,
    cols: usize,
    offsets: Vec<usize>,
    columns: Vec<usize>,
    values: Vec<f64>,
}

impl Csr {
    /// Rows of (column, weight) entries; repeated columns add up.
    fn from_rows(rows: &[Vec<(u32, f64)>], cols: usize) -> Result<Csr> {
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        let mut columns = Vec::new();
        let mut values = Vec::new();
        offsets.push(0);
        let mut row: Vec<(u32, f64)> = Vec::new();
        for entries in rows {
            row.clear();
            row.extend_from_slice(entries);
            row.sort_unstable_by_key(|(column, _)| *column);
            for run in row.chunk_by(|a, b| a.0 == b.0) {
                let column = run[0].0 as usize;
                if column >= cols {
                    return Err(Error::Shape(format!(
                        "column {column} is outside the {cols} columns"
                    )));
                }
                columns.push(column);
                values.push(run.iter().map(|(_, w)| w).sum());
            }
            offsets.push(columns.len());
        }
        Ok(Csr {
            rows: rows.len(),
            cols,
            offsets,
            columns,
            values,
        })
    }

    /// `self · dense` for a `cols × k` dense matrix.
    fn times(&self, dense: &Mat<f64>) -> Mat<f64> {
        let mut out = Mat::<f64>::zeros(self.rows, dense.ncols());
        for c in 0..dense.ncols() {
            for r in 0..self.rows {
                let mut sum = 0.0;
                for n in self.offsets[r]..self.offsets[r + 1] {
                    sum += self.values[n] * dense[(self.columns[n], c)];
                }
                out[(r, c)] = sum;
            }
        }
        out
    }

    /// `selfᵀ · dense` for a `rows × k` dense matrix.
    fn transpose_times(&self, dense: &Mat<f64>) -> Mat<f64> {
        let mut out = Mat::<f64>::zeros(self.cols, dense.ncols());
        for c in 0..dense.ncols() {
            for r in 0..self.rows {
                let x = dense[(r, c)];
                if x == 0.0 {
                    continue;
                }
                for n in self.offsets[r]..self.offsets[r + 1] {
                    out[(self.columns[n], c)] += self.values[n] * x;
                }
            }
        }
        out
    }
}

fn orthonormal_basis(m: &Mat<f64>) -> Mat<f64> {
    m.qr().compute_thin_Q()
}

/// Track vectors from LSA: row `i` of the result is item `i`'s vector.
#[derive(Debug, Clone, PartialEq)]
pub struct LsaEmbedding {
    /// Row-major `[items, dim]`.
    pub vectors: Vec<f32>,
    /// Dimensions (≤ the configured components when the matrix is smaller).
    pub dim: usize,
    /// The singular values kept, largest first.
    pub singular_values: Vec<f64>,
}

/// Computes LSA vectors of `items` items from training sessions of item
/// indices (the session × item count matrix).
pub fn lsa(sessions: &[Vec<u32>], items: usize, config: &LsaConfig) -> Result<LsaEmbedding> {
    let rows: Vec<Vec<(u32, f64)>> = sessions
        .iter()
        .map(|s| s.iter().map(|i| (*i, 1.0)).collect())
        .collect();
    lsa_of_rows(&rows, items, config)
}

/// Computes column vectors of a weighted sparse matrix given by rows of
/// (column, weight): the right singular vectors scaled by the singular values.
pub fn lsa_of_rows(rows: &[Vec<(u32, f64)>], columns: usize, config: &LsaConfig) -> Result<LsaEmbedding> {
    if rows.is_empty() || columns == 0 {
        return Err(Error::EmptyInput(
            "LSA needs at least one row and one column".to_owned(),
        ));
    }
    let items = columns;
    let matrix = Csr::from_rows(rows, columns)?;
    let rank_limit = matrix.rows.min(matrix.cols);
    let dim = config.components.min(rank_limit).max(1);
    let sketch = (dim + config.oversampling).min(rank_limit);
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let omega = Mat::<f64>::from_fn(matrix.cols, sketch, |_, _| standard_normal(&mut rng));
    let mut q = orthonormal_basis(&matrix.times(&omega));
    for _ in 0..config.power_iterations {
        let z = orthonormal_basis(&matrix.transpose_times(&q));
        q = orthonormal_basis(&matrix.times(&z));
    }
    // B = Qᵀ A, formed as (Aᵀ Q)ᵀ: sketch × items.
    let b = matrix.transpose_times(&q).transpose().to_owned();
    let svd = b
        .thin_svd()
        .map_err(|e| Error::Shape(format!("the SVD did not converge: {e:?}")))?;
    let v = svd.V();
    let s = svd.S().column_vector();
    let mut vectors = vec![0f32; items * dim];
    for item in 0..items {
        for d in 0..dim {
            vectors[item * dim + d] = (v[(item, d)] * s[d]) as f32;
        }
    }
    Ok(LsaEmbedding {
        vectors,
        dim,
        singular_values: (0..dim).map(|d| s[d]).collect(),
    })
}

fn standard_normal(rng: &mut SmallRng) -> f64 {
    // Box–Muller; one of the pair is enough here.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rank_two_matrix_is_recovered_exactly() {
        // Sessions over two disjoint groups of items: singular values are the
        // group matrices' norms, and items of one group share a direction.
        let sessions = vec![vec![0, 1, 2], vec![0, 1, 2], vec![3, 4], vec![3, 4], vec![3, 4]];
        let config = LsaConfig {
            components: 2,
            ..LsaConfig::default()
        };
        let embedding = lsa(&sessions, 5, &config).unwrap();
        assert_eq!(embedding.dim, 2);
        let expected = [6f64.sqrt(), 6f64.sqrt()];
        for (got, want) in embedding.singular_values.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
        let v = |i: usize| &embedding.vectors[i * 2..i * 2 + 2];
        let cosine = |a: &[f32], b: &[f32]| {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
        };
        assert!((cosine(v(0), v(2)) - 1.0).abs() < 1e-5);
        assert!(cosine(v(0), v(3)).abs() < 1e-5);
    }

    #[test]
    fn singular_values_match_a_dense_svd() {
        let mut rng = SmallRng::seed_from_u64(3);
        let sessions: Vec<Vec<u32>> = (0..60)
            .map(|_| (0..8).map(|_| rng.random_range(0..40u32)).collect())
            .collect();
        let config = LsaConfig {
            components: 5,
            ..LsaConfig::default()
        };
        let embedding = lsa(&sessions, 40, &config).unwrap();
        let dense = Mat::<f64>::from_fn(60, 40, |r, c| {
            sessions[r].iter().filter(|i| **i as usize == c).count() as f64
        });
        let exact = dense.thin_svd().unwrap();
        for d in 0..5 {
            let want = exact.S().column_vector()[d];
            let got = embedding.singular_values[d];
            assert!((got - want).abs() / want < 1e-3, "component {d}: {got} vs {want}");
        }
    }
}
