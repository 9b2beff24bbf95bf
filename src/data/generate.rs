//! Synthetic datasets, each a pure function of its parameters and a seed: two moons, circles,
//! xor, spirals, gaussian blobs, linear and sine regression.
//!
//! Geometry follows scikit-learn where it has the generator (`make_moons`, `make_circles`,
//! `make_blobs`), including its shuffle of the rows; the random streams differ (ChaCha8 here,
//! Mersenne Twister there), so the points themselves do not match sklearn's.

use std::f64::consts::PI;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use serde::Deserialize;

use super::{DataError, Dataset, Task, default_names};
use crate::valid::{INF, Problems, Range, Validate, ge, gt, lt};

/// A standard normal draw by the Box–Muller transform (`rand_distr` is not a dependency).
///
/// `u1` is taken from `(0, 1]` so `ln(u1)` is finite; only the cosine half of the pair is used,
/// which wastes one uniform per draw but keeps the stream position a simple function of the
/// number of draws.
pub fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

/// Shuffles `items` in place (Fisher–Yates, walking down from the end).
pub fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// A synthetic dataset recipe; [`Generator::generate`] makes it for a seed. A scenario's `data`
/// writes one as `{kind: moons, n: 300, noise: 0.2}`, every key but `kind` optional (the
/// defaults below); [`Validate`] holds the ranges.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename = "dataset", deny_unknown_fields)]
pub enum Generator {
    /// Two interleaving half circles (sklearn `make_moons`), binary.
    #[serde(rename = "moons")]
    Moons {
        #[serde(default = "n")]
        n: usize,
        #[serde(default = "noise")]
        noise: f64,
    },
    /// A small circle inside a large one (sklearn `make_circles`), binary; `factor` is the
    /// inner radius relative to the outer (`0 < factor < 1`, default 0.5).
    #[serde(rename = "circles")]
    Circles {
        #[serde(default = "n")]
        n: usize,
        #[serde(default = "noise")]
        noise: f64,
        #[serde(default = "half")]
        factor: f64,
    },
    /// Points uniform in `[-1, 1]²`, labelled `1` where `x1 · x2 > 0`, then jittered by noise.
    #[serde(rename = "xor")]
    Xor {
        #[serde(default = "n")]
        n: usize,
        #[serde(default = "noise")]
        noise: f64,
    },
    /// `arms` interleaved spirals (a file's `classes`, default 2), one class each (binary when
    /// `arms == 2`), each making `turns` full turns (default 1).
    #[serde(rename = "spirals")]
    Spirals {
        #[serde(default = "n")]
        n: usize,
        #[serde(rename = "classes", default = "two")]
        arms: usize,
        #[serde(default = "one")]
        turns: f64,
        #[serde(default = "noise")]
        noise: f64,
    },
    /// `centers` isotropic gaussian clusters (default 3) of standard deviation `std` (a file's
    /// `cluster_std`, default 1) in `dim` dimensions (a file's `features`, default 2), centres
    /// uniform in `[-10, 10]^dim` (sklearn's `center_box`); binary when `centers == 2`.
    #[serde(rename = "blobs")]
    Blobs {
        #[serde(default = "n")]
        n: usize,
        #[serde(default = "three")]
        centers: usize,
        #[serde(rename = "cluster_std", default = "one")]
        std: f64,
        #[serde(rename = "features", default = "two")]
        dim: usize,
    },
    /// `y = w · x + bias + noise · N(0, 1)` with `x` uniform in `[-1, 1]^dim` (`dim` is a file's
    /// `features`, default 1); weights drawn from `N(0, 1)` when not given.
    #[serde(rename = "linear")]
    Linear {
        #[serde(default = "n")]
        n: usize,
        #[serde(rename = "features", default = "one_usize")]
        dim: usize,
        #[serde(default)]
        weights: Option<Vec<f64>>,
        #[serde(default)]
        bias: f64,
        #[serde(default = "noise")]
        noise: f64,
    },
    /// `y = amplitude · sin(freq · x + phase) + noise · N(0, 1)` with `x` uniform in `x_range`
    /// (`freq` is angular, a file's `frequency`: radians per unit of `x`). A file sets
    /// `frequency` (1) and `x_range` ([-π, π]); amplitude is 1 and phase 0 there.
    #[serde(rename = "sine")]
    Sine {
        #[serde(default = "n")]
        n: usize,
        #[serde(skip, default = "one")]
        amplitude: f64,
        #[serde(rename = "frequency", default = "one")]
        freq: f64,
        #[serde(skip)]
        phase: f64,
        #[serde(default = "pi_range")]
        x_range: (f64, f64),
        #[serde(default = "noise")]
        noise: f64,
    },
}

fn n() -> usize {
    200
}
fn noise() -> f64 {
    0.1
}
fn half() -> f64 {
    0.5
}
fn one() -> f64 {
    1.0
}
fn one_usize() -> usize {
    1
}
fn two() -> usize {
    2
}
fn three() -> usize {
    3
}
fn pi_range() -> (f64, f64) {
    (-PI, PI)
}

impl Generator {
    /// Makes the dataset; the same seed always gives the same rows.
    pub fn generate(&self, seed: u64) -> Result<Dataset, DataError> {
        match self {
            Generator::Moons { n, noise } => moons(*n, *noise, seed),
            Generator::Circles { n, noise, factor } => circles(*n, *noise, *factor, seed),
            Generator::Xor { n, noise } => xor(*n, *noise, seed),
            Generator::Spirals {
                n,
                arms,
                turns,
                noise,
            } => spirals_with_turns(*n, *arms, *turns, *noise, seed),
            Generator::Blobs {
                n,
                centers,
                std,
                dim,
            } => blobs(*n, *centers, *std, *dim, seed),
            Generator::Linear {
                n,
                dim,
                weights,
                bias,
                noise,
            } => linear(*n, *dim, weights.as_deref(), *bias, *noise, seed),
            Generator::Sine {
                n,
                amplitude,
                freq,
                phase,
                x_range,
                noise,
            } => sine_on(*n, *amplitude, *freq, *phase, *x_range, *noise, seed),
        }
    }

    /// Number of examples.
    #[must_use]
    pub fn examples(&self) -> usize {
        match *self {
            Generator::Moons { n, .. }
            | Generator::Circles { n, .. }
            | Generator::Xor { n, .. }
            | Generator::Spirals { n, .. }
            | Generator::Blobs { n, .. }
            | Generator::Linear { n, .. }
            | Generator::Sine { n, .. } => n,
        }
    }

    /// Features per example and the task.
    #[must_use]
    pub fn shape(&self) -> (usize, Task) {
        match *self {
            Generator::Moons { .. } | Generator::Circles { .. } | Generator::Xor { .. } => {
                (2, Task::Binary)
            }
            Generator::Spirals { arms, .. } => (2, Task::classes(arms)),
            Generator::Blobs { centers, dim, .. } => (dim, Task::classes(centers)),
            Generator::Linear { dim, .. } => (dim, Task::Regression),
            Generator::Sine { .. } => (1, Task::Regression),
        }
    }
}

impl Validate for Generator {
    fn validate(&self, p: &mut Problems) {
        let non_negative = Range::new(ge(0.0), INF);
        p.at_least_one("n", self.examples() as u64);
        match self {
            Generator::Moons { noise, .. } | Generator::Xor { noise, .. } => {
                p.range("noise", *noise, non_negative);
            }
            Generator::Circles { noise, factor, .. } => {
                p.range("noise", *noise, non_negative);
                p.range("factor", *factor, Range::new(gt(0.0), lt(1.0)));
            }
            Generator::Spirals {
                arms, turns, noise, ..
            } => {
                p.range("noise", *noise, non_negative);
                p.range("classes", *arms as f64, Range::new(ge(2.0), INF));
                p.range("turns", *turns, Range::new(gt(0.0), INF));
            }
            Generator::Blobs {
                centers, std, dim, ..
            } => {
                p.at_least_one("centers", *centers as u64);
                p.at_least_one("features", *dim as u64);
                p.range("cluster_std", *std, non_negative);
            }
            Generator::Linear {
                dim,
                weights,
                noise,
                ..
            } => {
                p.range("noise", *noise, non_negative);
                p.at_least_one("features", *dim as u64);
                if let Some(w) = weights.as_ref().filter(|w| w.len() != *dim) {
                    p.push(
                        "weights",
                        format!("'weights' has {} value(s) but features is {dim}", w.len()),
                        Some(format!("{dim} weight(s)")),
                    );
                }
            }
            Generator::Sine { noise, x_range, .. } => {
                p.range("noise", *noise, non_negative);
                let (lo, hi) = *x_range;
                if lo.is_finite() && hi.is_finite() && lo >= hi {
                    p.push(
                        "x_range",
                        "'x_range' is empty: low must be below high",
                        Some("[low, high] with low < high".into()),
                    );
                }
            }
        }
    }
}

fn invalid(name: &'static str, reason: impl Into<String>) -> DataError {
    DataError::InvalidParameter {
        name,
        reason: reason.into(),
    }
}

fn check_n(n: usize, min: usize) -> Result<(), DataError> {
    if n < min {
        return Err(invalid(
            "n",
            format!("need at least {min} samples, got {n}"),
        ));
    }
    Ok(())
}

fn check_noise(noise: f64) -> Result<(), DataError> {
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(invalid(
            "noise",
            format!("must be finite and >= 0, got {noise}"),
        ));
    }
    Ok(())
}

/// `n` evenly spaced points from `start` to `stop`, both included (numpy `linspace`).
fn linspace(start: f64, stop: f64, n: usize) -> impl Iterator<Item = f64> {
    let step = if n > 1 {
        (stop - start) / (n - 1) as f64
    } else {
        0.0
    };
    (0..n).map(move |i| start + step * i as f64)
}

/// Shuffles rows (kept as `(features, label)` pairs) and adds gaussian noise to each feature.
fn finish_classification(
    mut rows: Vec<(Vec<f64>, f64)>,
    noise: f64,
    task: Task,
    rng: &mut ChaCha8Rng,
) -> Dataset {
    shuffle(&mut rows, rng);
    let dim = rows.first().map_or(0, |r| r.0.len());
    let mut features = Vec::with_capacity(rows.len() * dim);
    let mut targets = Vec::with_capacity(rows.len());
    for (x, y) in rows {
        for v in x {
            features.push(v + noise * gaussian(rng));
        }
        targets.push(y);
    }
    Dataset {
        features,
        n_features: dim,
        targets,
        n_targets: 1,
        task,
        feature_names: default_names("x", dim),
        target_names: vec!["class".to_owned()],
    }
}

/// sklearn's `make_moons`: `n / 2` points on the upper half circle (class 0), the rest on the
/// lower half circle shifted to `(1, 0.5)` (class 1), shuffled, plus gaussian noise.
pub fn moons(n: usize, noise: f64, seed: u64) -> Result<Dataset, DataError> {
    check_n(n, 2)?;
    check_noise(noise)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_out = n / 2;
    let n_in = n - n_out;
    let mut rows = Vec::with_capacity(n);
    for t in linspace(0.0, PI, n_out) {
        rows.push((vec![t.cos(), t.sin()], 0.0));
    }
    for t in linspace(0.0, PI, n_in) {
        rows.push((vec![1.0 - t.cos(), 1.0 - t.sin() - 0.5], 1.0));
    }
    Ok(finish_classification(rows, noise, Task::Binary, &mut rng))
}

/// sklearn's `make_circles`: `n / 2` points on the unit circle (class 0), the rest on a circle
/// of radius `factor` (class 1), angles evenly spaced without the endpoint, shuffled, plus noise.
pub fn circles(n: usize, noise: f64, factor: f64, seed: u64) -> Result<Dataset, DataError> {
    check_n(n, 2)?;
    check_noise(noise)?;
    if !(factor > 0.0 && factor < 1.0) {
        return Err(invalid(
            "factor",
            format!("must be in (0, 1), got {factor}"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_out = n / 2;
    let n_in = n - n_out;
    let mut rows = Vec::with_capacity(n);
    for i in 0..n_out {
        let t = 2.0 * PI * i as f64 / n_out as f64;
        rows.push((vec![t.cos(), t.sin()], 0.0));
    }
    for i in 0..n_in {
        let t = 2.0 * PI * i as f64 / n_in as f64;
        rows.push((vec![factor * t.cos(), factor * t.sin()], 1.0));
    }
    Ok(finish_classification(rows, noise, Task::Binary, &mut rng))
}

/// Points uniform in `[-1, 1]²`, labelled `1` when both coordinates have the same sign
/// (`x1 · x2 > 0`), else `0`; the label comes from the clean point, then noise is added.
pub fn xor(n: usize, noise: f64, seed: u64) -> Result<Dataset, DataError> {
    check_n(n, 1)?;
    check_noise(noise)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        let a = rng.random_range(-1.0..1.0);
        let b = rng.random_range(-1.0..1.0);
        let y = if a * b > 0.0 { 1.0 } else { 0.0 };
        rows.push((vec![a, b], y));
    }
    Ok(finish_classification(rows, noise, Task::Binary, &mut rng))
}

/// `arms` spirals around the origin, arm `j` rotated by `2πj / arms`; along an arm the radius
/// grows linearly from 0 to 1 while the angle turns by `3π` (one and a half turns). Samples are
/// spread over the arms as evenly as possible (the first `n % arms` arms get one more).
pub fn spirals(n: usize, arms: usize, noise: f64, seed: u64) -> Result<Dataset, DataError> {
    spirals_with_turns(n, arms, 1.5, noise, seed)
}

/// [`spirals`] whose arms make `turns` full turns each.
pub fn spirals_with_turns(
    n: usize,
    arms: usize,
    turns: f64,
    noise: f64,
    seed: u64,
) -> Result<Dataset, DataError> {
    if !(turns > 0.0 && turns.is_finite()) {
        return Err(invalid("turns", format!("must be > 0, got {turns}")));
    }
    if arms < 2 {
        return Err(invalid("arms", format!("need at least 2 arms, got {arms}")));
    }
    check_n(n, arms)?;
    check_noise(noise)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(n);
    for j in 0..arms {
        let count = n / arms + usize::from(j < n % arms);
        let offset = 2.0 * PI * j as f64 / arms as f64;
        for t in linspace(0.0, 1.0, count) {
            // Start slightly off the centre so the arms do not all share the origin.
            let r = 0.05 + 0.95 * t;
            let angle = offset + 2.0 * PI * turns * t;
            rows.push((vec![r * angle.cos(), r * angle.sin()], j as f64));
        }
    }
    Ok(finish_classification(
        rows,
        noise,
        Task::classes(arms),
        &mut rng,
    ))
}

/// sklearn's `make_blobs` with `n_samples` spread evenly over `centers` (the first `n % centers`
/// get one more), centres uniform in `[-10, 10]^dim`, each point `centre + std · N(0, I)`.
pub fn blobs(
    n: usize,
    centers: usize,
    std: f64,
    dim: usize,
    seed: u64,
) -> Result<Dataset, DataError> {
    if centers < 2 {
        return Err(invalid(
            "centers",
            format!("need at least 2 centers, got {centers}"),
        ));
    }
    if dim == 0 {
        return Err(invalid("dim", "need at least 1 dimension"));
    }
    check_n(n, centers)?;
    if !(std.is_finite() && std >= 0.0) {
        return Err(invalid(
            "std",
            format!("must be finite and >= 0, got {std}"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f64>> = (0..centers)
        .map(|_| (0..dim).map(|_| rng.random_range(-10.0..10.0)).collect())
        .collect();
    let mut rows = Vec::with_capacity(n);
    for (j, c) in centres.iter().enumerate() {
        let count = n / centers + usize::from(j < n % centers);
        for _ in 0..count {
            rows.push((c.clone(), j as f64));
        }
    }
    Ok(finish_classification(
        rows,
        std,
        Task::classes(centers),
        &mut rng,
    ))
}

/// Regression data on a plane: `y = w · x + bias + noise · N(0, 1)`, `x` uniform in
/// `[-1, 1]^dim`. When `weights` is `None` they are drawn from `N(0, 1)` (before the samples).
pub fn linear(
    n: usize,
    dim: usize,
    weights: Option<&[f64]>,
    bias: f64,
    noise: f64,
    seed: u64,
) -> Result<Dataset, DataError> {
    check_n(n, 1)?;
    check_noise(noise)?;
    if dim == 0 {
        return Err(invalid("dim", "need at least 1 dimension"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f64> = match weights {
        Some(w) if w.len() != dim => {
            return Err(invalid(
                "weights",
                format!(
                    "expected {dim} weights (one per dimension), got {}",
                    w.len()
                ),
            ));
        }
        Some(w) => w.to_vec(),
        None => (0..dim).map(|_| gaussian(&mut rng)).collect(),
    };
    let mut features = Vec::with_capacity(n * dim);
    let mut targets = Vec::with_capacity(n);
    for _ in 0..n {
        let x: Vec<f64> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y = x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + bias;
        features.extend_from_slice(&x);
        targets.push(y + noise * gaussian(&mut rng));
    }
    Ok(regression(features, dim, targets))
}

/// `y = amplitude · sin(freq · x + phase) + noise · N(0, 1)`, `x` uniform in `[-π, π]`.
pub fn sine(
    n: usize,
    amplitude: f64,
    freq: f64,
    phase: f64,
    noise: f64,
    seed: u64,
) -> Result<Dataset, DataError> {
    sine_on(n, amplitude, freq, phase, (-PI, PI), noise, seed)
}

/// [`sine`] with `x` uniform in `x_range` instead of `[-π, π]`.
pub fn sine_on(
    n: usize,
    amplitude: f64,
    freq: f64,
    phase: f64,
    x_range: (f64, f64),
    noise: f64,
    seed: u64,
) -> Result<Dataset, DataError> {
    check_n(n, 1)?;
    check_noise(noise)?;
    let (lo, hi) = x_range;
    if !(lo < hi && lo.is_finite() && hi.is_finite()) {
        return Err(invalid(
            "x_range",
            format!("must be [low, high] with low < high, got [{lo}, {hi}]"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(n);
    let mut targets = Vec::with_capacity(n);
    for _ in 0..n {
        let x = rng.random_range(lo..hi);
        features.push(x);
        targets.push(amplitude * (freq * x + phase).sin() + noise * gaussian(&mut rng));
    }
    Ok(regression(features, 1, targets))
}

fn regression(features: Vec<f64>, dim: usize, targets: Vec<f64>) -> Dataset {
    Dataset {
        features,
        n_features: dim,
        targets,
        n_targets: 1,
        task: Task::Regression,
        feature_names: default_names("x", dim),
        target_names: vec!["y".to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(seed: u64) -> Vec<Dataset> {
        vec![
            moons(101, 0.1, seed).unwrap(),
            circles(100, 0.05, 0.5, seed).unwrap(),
            xor(200, 0.05, seed).unwrap(),
            spirals(300, 3, 0.1, seed).unwrap(),
            blobs(90, 3, 1.0, 4, seed).unwrap(),
            linear(50, 3, None, 0.5, 0.1, seed).unwrap(),
            sine(40, 2.0, 1.5, 0.3, 0.1, seed).unwrap(),
        ]
    }

    #[test]
    fn deterministic_per_seed_and_different_across_seeds() {
        let a = all(7);
        let b = all(7);
        let c = all(8);
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            assert_eq!(x, y);
            assert_ne!(x.features, z.features);
        }
    }

    #[test]
    fn shapes_and_tasks() {
        let d = all(1);
        let expect = [
            (101, 2, Task::Binary),
            (100, 2, Task::Binary),
            (200, 2, Task::Binary),
            (300, 2, Task::Multiclass(3)),
            (90, 4, Task::Multiclass(3)),
            (50, 3, Task::Regression),
            (40, 1, Task::Regression),
        ];
        for (data, (n, dim, task)) in d.iter().zip(expect) {
            assert_eq!(data.len(), n);
            assert_eq!(data.n_features, dim);
            assert_eq!(data.features.len(), n * dim);
            assert_eq!(data.targets.len(), n);
            assert_eq!(data.task, task);
            assert_eq!(data.feature_names.len(), dim);
            assert!(data.targets.iter().all(|&y| task.accepts(y)));
            assert!(data.features.iter().all(|v| v.is_finite()));
        }
        assert_eq!(spirals(10, 2, 0.0, 1).unwrap().task, Task::Binary);
    }

    #[test]
    fn label_balance() {
        assert_eq!(
            moons(101, 0.1, 3).unwrap().class_counts(),
            Some(vec![50, 51])
        );
        assert_eq!(
            circles(100, 0.1, 0.5, 3).unwrap().class_counts(),
            Some(vec![50, 50])
        );
        assert_eq!(
            spirals(301, 3, 0.1, 3).unwrap().class_counts(),
            Some(vec![101, 100, 100])
        );
        assert_eq!(
            blobs(90, 3, 1.0, 2, 3).unwrap().class_counts(),
            Some(vec![30, 30, 30])
        );
        let counts = xor(2000, 0.0, 3).unwrap().class_counts().unwrap();
        assert!(counts[0] > 900 && counts[1] > 900, "{counts:?}");
    }

    #[test]
    fn geometry_without_noise() {
        let m = moons(20, 0.0, 0).unwrap();
        for i in 0..m.len() {
            let x = m.row(i);
            let r = if m.target(i)[0] == 0.0 {
                x[0].hypot(x[1])
            } else {
                (x[0] - 1.0).hypot(x[1] - 0.5)
            };
            assert!((r - 1.0).abs() < 1e-12);
        }
        let c = circles(20, 0.0, 0.3, 0).unwrap();
        for i in 0..c.len() {
            let r = c.row(i)[0].hypot(c.row(i)[1]);
            let want = if c.target(i)[0] == 0.0 { 1.0 } else { 0.3 };
            assert!((r - want).abs() < 1e-12);
        }
        let x = xor(50, 0.0, 0).unwrap();
        for i in 0..x.len() {
            let same_sign = x.row(i)[0] * x.row(i)[1] > 0.0;
            assert_eq!(x.target(i)[0], f64::from(u8::from(same_sign)));
        }
        let l = linear(30, 2, Some(&[2.0, -1.0]), 0.5, 0.0, 0).unwrap();
        for i in 0..l.len() {
            let x = l.row(i);
            assert!((l.target(i)[0] - (2.0 * x[0] - x[1] + 0.5)).abs() < 1e-12);
        }
        let s = sine(30, 2.0, 3.0, 0.5, 0.0, 0).unwrap();
        for i in 0..s.len() {
            assert!((s.target(i)[0] - 2.0 * (3.0 * s.row(i)[0] + 0.5).sin()).abs() < 1e-12);
        }
    }

    #[test]
    fn gaussian_has_unit_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let draws: Vec<f64> = (0..20_000).map(|_| gaussian(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
    }

    #[test]
    fn invalid_parameters_are_errors() {
        assert!(moons(1, 0.1, 0).is_err());
        assert!(moons(10, -0.1, 0).is_err());
        assert!(circles(10, 0.1, 1.5, 0).is_err());
        assert!(spirals(10, 1, 0.1, 0).is_err());
        assert!(blobs(10, 2, 1.0, 0, 0).is_err());
        let err = linear(10, 3, Some(&[1.0]), 0.0, 0.0, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid weights: expected 3 weights (one per dimension), got 1"
        );
        let g = Generator::Moons { n: 10, noise: 0.0 };
        assert_eq!(g.generate(5).unwrap(), moons(10, 0.0, 5).unwrap());
    }
}
