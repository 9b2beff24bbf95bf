//! Preparing a dataset for training: a seeded train/test split and feature standardisation
//! whose statistics come from the training split only (so no test information leaks in).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::generate::shuffle;
use super::{DataError, Dataset};

/// Splits `data` into `(train, test)`: the row order is shuffled (Fisher–Yates, seeded) and the
/// first `round(n · test_fraction)` rows (but never all of them) become the test set. `test_fraction == 0` keeps every
/// row for training (the test set is then empty).
pub fn train_test_split(
    data: &Dataset,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset), DataError> {
    if !(0.0..1.0).contains(&test_fraction) {
        return Err(DataError::InvalidParameter {
            name: "test_fraction",
            reason: format!("must be in [0, 1), got {test_fraction}"),
        });
    }
    let n = data.len();
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, &mut ChaCha8Rng::seed_from_u64(seed));
    let (_, n_test) = split_sizes(n, test_fraction);
    let (test, train) = order.split_at(n_test);
    Ok((data.subset(train), data.subset(test)))
}

/// How many of `n` rows [`train_test_split`] puts in training and in test: the test share is
/// `n * test_fraction` rounded, but at least one training row remains whenever there is data.
#[must_use]
pub fn split_sizes(n: usize, test_fraction: f64) -> (usize, usize) {
    let n_test = (((n as f64) * test_fraction).round() as usize).min(n.saturating_sub(1));
    (n - n_test, n_test)
}

/// Per-feature mean and standard deviation, used to map each feature to `(x - mean) / std`.
///
/// The standard deviation is the population one (divide by `n`, as sklearn's
/// `StandardScaler`); a constant feature gets `std = 1` so it maps to `0` instead of NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Statistics of the features of `data`.
    pub fn fit(data: &Dataset) -> Result<Standardizer, DataError> {
        let n = data.len();
        if n == 0 {
            return Err(DataError::Empty);
        }
        let d = data.n_features;
        let mut mean = vec![0.0; d];
        for i in 0..n {
            for (m, x) in mean.iter_mut().zip(data.row(i)) {
                *m += x;
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        let mut var = vec![0.0; d];
        for i in 0..n {
            for ((v, x), m) in var.iter_mut().zip(data.row(i)).zip(&mean) {
                *v += (x - m).powi(2);
            }
        }
        let std = var
            .into_iter()
            .map(|v| {
                let s = (v / n as f64).sqrt();
                if s > 0.0 { s } else { 1.0 }
            })
            .collect();
        Ok(Standardizer { mean, std })
    }

    /// Standardises the features of `data` in place.
    pub fn apply(&self, data: &mut Dataset) {
        let d = data.n_features;
        for row in data.features.chunks_mut(d.max(1)) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
    }

    /// Maps one standardised feature row back to the original units.
    #[must_use]
    pub fn invert(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(&self.mean)
            .zip(&self.std)
            .map(|((z, m), s)| z * s + m)
            .collect()
    }
}

/// A dataset ready for training: the two splits and, when standardised, the statistics used.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub train: Dataset,
    pub test: Dataset,
    pub standardizer: Option<Standardizer>,
}

/// Splits `data` (see [`train_test_split`]) and, if `standardize`, fits a [`Standardizer`] on
/// the training split and applies it to both.
pub fn prepare(
    data: &Dataset,
    test_fraction: f64,
    standardize: bool,
    seed: u64,
) -> Result<Prepared, DataError> {
    let (mut train, mut test) = train_test_split(data, test_fraction, seed)?;
    let standardizer = if standardize {
        let s = Standardizer::fit(&train)?;
        s.apply(&mut train);
        s.apply(&mut test);
        Some(s)
    } else {
        None
    };
    Ok(Prepared {
        train,
        test,
        standardizer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Task;

    fn numbered(n: usize) -> Dataset {
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| vec![i as f64, 2.0 * i as f64, 5.0])
            .collect();
        Dataset::from_rows(&rows, 1, Task::Regression).unwrap()
    }

    #[test]
    fn split_partitions_rows_deterministically() {
        let d = numbered(10);
        let (train, test) = train_test_split(&d, 0.3, 1).unwrap();
        assert_eq!((train.len(), test.len()), (7, 3));
        assert_eq!(split_sizes(10, 0.3), (7, 3));
        assert_eq!(split_sizes(100, 0.5), (50, 50));
        assert_eq!(split_sizes(1, 0.9), (1, 0));
        assert_eq!(split_sizes(0, 0.5), (0, 0));
        let mut seen: Vec<f64> = train
            .features
            .iter()
            .chain(&test.features)
            .step_by(2)
            .copied()
            .collect();
        seen.sort_by(f64::total_cmp);
        assert_eq!(seen, (0..10).map(|i| i as f64).collect::<Vec<_>>());
        // Targets travel with their rows.
        for i in 0..train.len() {
            assert_eq!(train.target(i)[0], 2.0 * train.row(i)[0]);
        }
        assert_eq!(train_test_split(&d, 0.3, 1).unwrap(), (train.clone(), test));
        assert_ne!(train_test_split(&d, 0.3, 2).unwrap().0, train);
        assert_eq!(train_test_split(&d, 0.0, 1).unwrap().1.len(), 0);
        assert!(train_test_split(&d, 1.0, 1).is_err());
        assert_eq!(train_test_split(&d, 0.99, 1).unwrap().0.len(), 1);
        assert!(train_test_split(&d, -0.1, 1).is_err());
    }

    #[test]
    fn standardise_uses_train_statistics() {
        let d = numbered(10);
        let p = prepare(&d, 0.2, true, 3).unwrap();
        let s = p.standardizer.clone().unwrap();
        let (raw_train, raw_test) = train_test_split(&d, 0.2, 3).unwrap();
        let mean0 = raw_train.features.iter().step_by(2).sum::<f64>() / 8.0;
        assert!((s.mean[0] - mean0).abs() < 1e-12);
        // The constant column gets std 1 and maps to 0.
        assert_eq!(s.std[1], 1.0);
        // Train features now have mean 0 and population std 1.
        let col: Vec<f64> = p.train.features.iter().step_by(2).copied().collect();
        let m = col.iter().sum::<f64>() / col.len() as f64;
        let v = col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-12);
        // Test rows are mapped with the train statistics, not their own.
        for i in 0..p.test.len() {
            let want = (raw_test.row(i)[0] - s.mean[0]) / s.std[0];
            assert!((p.test.row(i)[0] - want).abs() < 1e-12);
            assert_eq!(p.test.row(i)[1], 0.0);
            let back = s.invert(p.test.row(i));
            assert!((back[0] - raw_test.row(i)[0]).abs() < 1e-12);
        }
        assert_eq!(p.test.targets, raw_test.targets);
        assert!(prepare(&d, 0.2, false, 3).unwrap().standardizer.is_none());
    }
}
