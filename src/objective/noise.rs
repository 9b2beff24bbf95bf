//! Gradient noise, exactly: from the per-example gradients `g_i` of a model objective (each one
//! reverse pass, so `n` passes for `n` examples), the full gradient `G = mean g_i`, a minibatch
//! gradient `g_B`, how far apart they are, the trace of the per-example covariance
//! `tr(Σ) = Σ |g_i − G|² / (n − 1)`, the simple noise scale `B_simple = tr(Σ) / |G|²`
//! (McCandlish et al., "An Empirical Model of Large-Batch Training", 2018) and the expected
//! `|g_B − G|²` of a batch of `B` drawn without replacement, `tr(Σ)/B · (n − B)/n`.

use serde::Serialize;

/// Per-example gradients: row `i` (of `dim` values) is the gradient of example `i`'s loss plus
/// the L2 term, so their mean is the full-batch gradient.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerExample {
    pub n: usize,
    pub dim: usize,
    /// Row-major `n × dim`.
    pub grads: Vec<f64>,
}

impl PerExample {
    /// The gradient of example `i`.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.grads[i * self.dim..(i + 1) * self.dim]
    }

    /// `G`, the mean of the rows.
    #[must_use]
    pub fn mean(&self) -> Vec<f64> {
        self.mean_of(0..self.n)
    }

    /// The mean of the rows `indices` (a minibatch gradient); zeros for no rows.
    #[must_use]
    pub fn mean_of(&self, indices: impl IntoIterator<Item = usize>) -> Vec<f64> {
        let mut sum = vec![0.0; self.dim];
        let count = self.add_rows(indices, &mut sum);
        divide(&mut sum, count);
        sum
    }

    /// Adds the rows `indices` to `sum`, in order; returns how many.
    fn add_rows(&self, indices: impl IntoIterator<Item = usize>, sum: &mut [f64]) -> usize {
        let mut count = 0_usize;
        for i in indices {
            for (s, g) in sum.iter_mut().zip(self.row(i)) {
                *s += g;
            }
            count += 1;
        }
        count
    }
}

/// `sum / count`, left as it is for no rows.
fn divide(sum: &mut [f64], count: usize) {
    if count > 0 {
        let k = count as f64;
        for s in sum {
            *s /= k;
        }
    }
}

/// The noise figures at one point for one minibatch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoiseStats {
    /// Training examples `n`.
    pub examples: usize,
    /// The minibatch's size `B`.
    pub batch_size: usize,
    /// `|G|`.
    pub full_gradient_norm: f64,
    /// `|g_B|`.
    pub minibatch_gradient_norm: f64,
    /// `cos(g_B, G)`; `null` when either is zero.
    pub cosine: Option<f64>,
    /// `|g_B − G| / |G|`; `null` when `G` is zero.
    pub relative_error: Option<f64>,
    /// `tr(Σ) = Σ_i |g_i − G|² / (n − 1)` (0 for one example).
    pub trace_cov: f64,
    /// `B_simple = tr(Σ) / |G|²`; `null` when `G` is zero.
    pub noise_scale: Option<f64>,
    /// `E|g_B − G|² = tr(Σ)/B · (n − B)/n` over batches of `B` drawn without replacement.
    pub expected_sq_error: f64,
    /// `|g_B − G|²` of this minibatch.
    pub observed_sq_error: f64,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `tr(Σ)/B · (n − B)/n`: the mean of `|g_B − G|²` over every batch of `B` distinct examples
/// (sampling without replacement shrinks the variance of a mean by `(n − B)/(n − 1)`; with
/// `tr(Σ)` the unbiased `n − 1` covariance this is the exact finite-population identity).
#[must_use]
pub fn expected_sq_error(trace_cov: f64, n: usize, batch: usize) -> f64 {
    if batch == 0 || n == 0 {
        return 0.0;
    }
    let (n, b) = (n as f64, batch as f64);
    trace_cov / b * (n - b) / n
}

/// The noise figures of `per` with the minibatch `batch` (indices into the examples).
#[must_use]
pub fn stats(per: &PerExample, batch: &[usize]) -> NoiseStats {
    let full = per.mean();
    let g_b = per.mean_of(batch.iter().copied());
    let sq = add_squared_deviations(per, &full, 0.0);
    figures(per.n, &full, &g_b, sq, batch.len())
}

/// `acc + Σ_i |g_i − m|²` over the rows of `per`, added one row at a time, in order.
fn add_squared_deviations(per: &PerExample, m: &[f64], acc: f64) -> f64 {
    (0..per.n)
        .map(|i| {
            per.row(i)
                .iter()
                .zip(m)
                .map(|(g, m)| (g - m) * (g - m))
                .sum::<f64>()
        })
        .fold(acc, |acc, x| acc + x)
}

/// [`stats`] without holding every per-example gradient at once: `rows(indices)` gives the
/// gradients of those examples, in that order, and is asked for at most `chunk` at a time.
/// Three passes (the examples for `G`, the batch for `g_B` unless it is all of them in order,
/// the examples again for `tr(Σ)`), so at most `2n + B` gradients instead of `n`, in
/// `chunk × dim` memory instead of `n × dim`: a 2-256-256-1 network on 200 examples held
/// 106 MB of them. Every sum runs in the same order as [`stats`]', so the figures are the
/// same bit for bit. `None` if `rows` gives none.
pub fn stats_streamed(
    n: usize,
    batch: &[usize],
    chunk: usize,
    mut rows: impl FnMut(&[usize]) -> Option<PerExample>,
) -> Option<NoiseStats> {
    let chunk = chunk.max(1);
    let all: Vec<usize> = (0..n).collect();
    // Row sums in order, then one division, as `PerExample::mean_of`.
    let mut mean_of = |indices: &[usize]| -> Option<Vec<f64>> {
        let mut sum: Vec<f64> = Vec::new();
        for part in indices.chunks(chunk) {
            let per = rows(part)?;
            sum.resize(per.dim, 0.0);
            per.add_rows(0..per.n, &mut sum);
        }
        divide(&mut sum, indices.len());
        Some(sum)
    };
    let full = mean_of(&all)?;
    // A full batch in order is `G` itself, the same sums: no second pass over the examples.
    let mut g_b = if batch == all.as_slice() {
        full.clone()
    } else {
        mean_of(batch)?
    };
    g_b.resize(full.len(), 0.0);
    let mut sq = 0.0;
    for part in all.chunks(chunk) {
        sq = add_squared_deviations(&rows(part)?, &full, sq);
    }
    Some(figures(n, &full, &g_b, sq, batch.len()))
}

/// The figures from `G`, `g_B` and `Σ_i |g_i − G|²`.
fn figures(n: usize, full: &[f64], g_b: &[f64], sq: f64, batch_size: usize) -> NoiseStats {
    let g2 = dot(full, full);
    let trace_cov = if n > 1 { sq / (n - 1) as f64 } else { 0.0 };
    let diff: Vec<f64> = g_b.iter().zip(full).map(|(a, b)| a - b).collect();
    let observed = dot(&diff, &diff);
    let (norm_g, norm_b) = (g2.sqrt(), dot(g_b, g_b).sqrt());
    let positive = |x: f64| (x > 0.0).then_some(x);
    NoiseStats {
        examples: n,
        batch_size,
        full_gradient_norm: norm_g,
        minibatch_gradient_norm: norm_b,
        cosine: positive(norm_g * norm_b).map(|d| dot(g_b, full) / d),
        relative_error: positive(norm_g).map(|g| observed.sqrt() / g),
        trace_cov,
        noise_scale: positive(g2).map(|g| trace_cov / g),
        expected_sq_error: expected_sq_error(trace_cov, n, batch_size),
        observed_sq_error: observed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_three_examples_by_hand() {
        // g_1 = (1, 0), g_2 = (0, 2), g_3 = (2, 1): G = (1, 1), |G|² = 2.
        let per = PerExample {
            n: 3,
            dim: 2,
            grads: vec![1.0, 0.0, 0.0, 2.0, 2.0, 1.0],
        };
        let s = stats(&per, &[1]);
        // |g_i − G|²: 1, 2, 1 → tr(Σ) = 4 / 2 = 2; B_simple = 1.
        assert_eq!(s.trace_cov, 2.0);
        assert_eq!(s.noise_scale, Some(1.0));
        assert_eq!(s.full_gradient_norm, 2.0_f64.sqrt());
        // g_B = g_2 = (0, 2): |g_B − G|² = 2, cos = 2 / (2 · √2).
        assert_eq!(s.observed_sq_error, 2.0);
        assert!((s.cosine.unwrap() - 1.0 / 2.0_f64.sqrt()).abs() < 1e-15);
        assert_eq!(s.relative_error, Some(1.0));
        // tr(Σ)/B · (n − B)/n = 2 · 2/3.
        assert!((s.expected_sq_error - 4.0 / 3.0).abs() < 1e-15);
        // The whole set as the batch: no error expected or seen.
        let all = stats(&per, &[0, 1, 2]);
        assert_eq!((all.expected_sq_error, all.observed_sq_error), (0.0, 0.0));
    }

    #[test]
    fn streamed_figures_are_the_whole_matrix_s_bit_for_bit() {
        let (n, dim) = (7, 3);
        let grads: Vec<f64> = (0..n * dim)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0 + (i as f64 * 0.7).sin())
            .collect();
        let per = PerExample { n, dim, grads };
        let rows = |indices: &[usize]| {
            let grads = indices.iter().flat_map(|&i| per.row(i).to_vec()).collect();
            Some(PerExample {
                n: indices.len(),
                dim,
                grads,
            })
        };
        for batch in [vec![5, 1, 3], vec![], (0..n).collect()] {
            let whole = stats(&per, &batch);
            for chunk in [1, 2, 3, n, 100] {
                let streamed = stats_streamed(n, &batch, chunk, rows).unwrap();
                assert_eq!(streamed, whole, "batch {batch:?}, chunk {chunk}");
            }
        }
    }

    #[test]
    fn a_zero_gradient_has_no_direction_or_scale() {
        let per = PerExample {
            n: 2,
            dim: 1,
            grads: vec![1.0, -1.0],
        };
        let s = stats(&per, &[0]);
        assert_eq!(
            (s.cosine, s.relative_error, s.noise_scale),
            (None, None, None)
        );
        assert_eq!(s.trace_cov, 2.0);
    }
}
