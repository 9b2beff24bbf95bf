//! Datasets: the [`Dataset`] table models are fitted to, how one is made (synthetic
//! [`generate`]ors, [`csv`] files, inline rows), and how it is prepared for training
//! ([`split`]: seeded train/test split and standardisation; [`batch`]: seeded minibatches), and
//! how an input file is [`read`] without trusting its size or type.
//!
//! Every random choice draws from `rand_chacha::ChaCha8Rng::seed_from_u64(seed)`, which is
//! documented as portable, so the same seed gives the same data on every machine.

pub mod batch;
pub mod csv;
pub mod generate;
pub mod read;
pub mod split;

pub use batch::{Batch, Batcher, Batching};
pub use generate::Generator;
pub use split::{Prepared, Standardizer, prepare, split_sizes, train_test_split};

use std::fmt;

use thiserror::Error;

/// What the targets mean, and so which losses and accuracy apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Real-valued targets, `n_targets` per sample.
    Regression,
    /// One target per sample, `0.0` or `1.0`.
    Binary,
    /// One target per sample: a class index `0.0, 1.0, ..., k - 1` stored as `f64`.
    Multiclass(usize),
}

impl Task {
    /// Whether `y` is a valid target value for this task.
    #[must_use]
    pub fn accepts(self, y: f64) -> bool {
        match self {
            Task::Regression => y.is_finite(),
            Task::Binary => y == 0.0 || y == 1.0,
            Task::Multiclass(k) => y >= 0.0 && y.fract() == 0.0 && y < k as f64,
        }
    }

    /// Number of classes, or `None` for regression.
    #[must_use]
    pub fn n_classes(self) -> Option<usize> {
        match self {
            Task::Regression => None,
            Task::Binary => Some(2),
            Task::Multiclass(k) => Some(k),
        }
    }

    /// Binary when `k == 2`, else multiclass: how class-labelled generators pick their task.
    #[must_use]
    pub fn classes(k: usize) -> Task {
        if k == 2 {
            Task::Binary
        } else {
            Task::Multiclass(k)
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Task::Regression => write!(f, "regression"),
            Task::Binary => write!(f, "binary classification (labels 0 or 1)"),
            Task::Multiclass(k) => write!(f, "{k}-class classification ({})", class_labels(*k)),
        }
    }
}

/// The valid labels of `k` classes, spelt out so no bound is ambiguous: `labels 0, 1 or 2`,
/// `labels 0 to 9`.
#[must_use]
pub fn class_labels(k: usize) -> String {
    match k {
        0 => "no labels".to_owned(),
        1 => "label 0".to_owned(),
        2..=5 => {
            let first: Vec<String> = (0..k - 1).map(|i| i.to_string()).collect();
            format!("labels {} or {}", first.join(", "), k - 1)
        }
        _ => format!("labels 0 to {}", k - 1),
    }
}

/// Errors from building or preparing a dataset (CSV files have their own [`csv::CsvError`]).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DataError {
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("the dataset has no rows")]
    Empty,
    #[error("row {row} has {got} values, expected {expected} (as row 1)")]
    RaggedRows {
        row: usize,
        expected: usize,
        got: usize,
    },
    #[error("target column {index} is out of range: rows have {width} values (columns 0..{width})")]
    TargetOutOfRange { index: usize, width: usize },
    #[error("row {row}: target '{value}' is not valid for {task}")]
    BadLabel { row: usize, value: f64, task: Task },
    #[error("row {row}, column {column}: value '{value}' is not finite")]
    NotFinite {
        row: usize,
        column: usize,
        value: f64,
    },
}

/// A table of `n` samples: features row-major `n × n_features`, targets row-major
/// `n × n_targets` (for classification `n_targets == 1` and the target is the class index).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Row-major `n × n_features`.
    pub features: Vec<f64>,
    pub n_features: usize,
    /// Row-major `n × n_targets`: regression values, binary `0/1`, or class indices.
    pub targets: Vec<f64>,
    pub n_targets: usize,
    pub task: Task,
    pub feature_names: Vec<String>,
    pub target_names: Vec<String>,
}

impl Dataset {
    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.features
            .len()
            .checked_div(self.n_features)
            .unwrap_or(0)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The features of sample `i`.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.features[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The targets of sample `i`.
    #[must_use]
    pub fn target(&self, i: usize) -> &[f64] {
        &self.targets[i * self.n_targets..(i + 1) * self.n_targets]
    }

    /// The feature rows of the given samples, in the given order, row-major
    /// `indices.len() × n_features` (a batch for a model's batched forward pass).
    #[must_use]
    pub fn features_of(&self, indices: &[usize]) -> Vec<f64> {
        let mut features = Vec::with_capacity(indices.len() * self.n_features);
        for &i in indices {
            features.extend_from_slice(self.row(i));
        }
        features
    }

    /// A new dataset holding the given samples, in the given order.
    #[must_use]
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut targets = Vec::with_capacity(indices.len() * self.n_targets);
        for &i in indices {
            targets.extend_from_slice(self.target(i));
        }
        Dataset {
            features: self.features_of(indices),
            targets,
            ..self.clone_header()
        }
    }

    fn clone_header(&self) -> Dataset {
        Dataset {
            features: Vec::new(),
            n_features: self.n_features,
            targets: Vec::new(),
            n_targets: self.n_targets,
            task: self.task,
            feature_names: self.feature_names.clone(),
            target_names: self.target_names.clone(),
        }
    }

    /// Builds a dataset from inline rows: every row holds the same number of values, and
    /// column `target` (0-based) is the target; the others are the features, in order.
    /// Features are named `x1, x2, ...` and the target `y`.
    pub fn from_rows(rows: &[Vec<f64>], target: usize, task: Task) -> Result<Dataset, DataError> {
        let first = rows.first().ok_or(DataError::Empty)?;
        let width = first.len();
        if target >= width {
            return Err(DataError::TargetOutOfRange {
                index: target,
                width,
            });
        }
        let mut features = Vec::with_capacity(rows.len() * (width - 1));
        let mut targets = Vec::with_capacity(rows.len());
        for (r, row) in rows.iter().enumerate() {
            if row.len() != width {
                return Err(DataError::RaggedRows {
                    row: r + 1,
                    expected: width,
                    got: row.len(),
                });
            }
            for (c, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(DataError::NotFinite {
                        row: r + 1,
                        column: c,
                        value: v,
                    });
                }
                if c == target {
                    if !task.accepts(v) {
                        return Err(DataError::BadLabel {
                            row: r + 1,
                            value: v,
                            task,
                        });
                    }
                    targets.push(v);
                } else {
                    features.push(v);
                }
            }
        }
        Ok(Dataset {
            features,
            n_features: width - 1,
            targets,
            n_targets: 1,
            task,
            feature_names: default_names("x", width - 1),
            target_names: vec!["y".to_owned()],
        })
    }

    /// How many samples carry each class label (`None` for regression).
    #[must_use]
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let k = self.task.n_classes()?;
        let mut counts = vec![0; k];
        for &y in &self.targets {
            if self.task.accepts(y) {
                counts[y as usize] += 1;
            }
        }
        Some(counts)
    }
}

/// `x1, x2, ..., xn`.
pub(crate) fn default_names(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_rows_build_a_dataset() {
        let rows = vec![vec![1.0, 2.0, 0.0], vec![3.0, 4.0, 1.0]];
        let d = Dataset::from_rows(&rows, 2, Task::Binary).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.n_features, 2);
        assert_eq!(d.row(1), &[3.0, 4.0]);
        assert_eq!(d.target(1), &[1.0]);
        assert_eq!(d.feature_names, vec!["x1", "x2"]);
        let t = Dataset::from_rows(&rows, 0, Task::Regression).unwrap();
        assert_eq!(t.row(0), &[2.0, 0.0]);
        assert_eq!(t.targets, vec![1.0, 3.0]);
    }

    #[test]
    fn inline_rows_report_errors() {
        assert_eq!(
            Dataset::from_rows(&[], 0, Task::Regression),
            Err(DataError::Empty)
        );
        let ragged = vec![vec![1.0, 2.0], vec![3.0]];
        let err = Dataset::from_rows(&ragged, 1, Task::Regression).unwrap_err();
        assert_eq!(err.to_string(), "row 2 has 1 values, expected 2 (as row 1)");
        let err = Dataset::from_rows(&[vec![1.0, 2.0]], 2, Task::Regression).unwrap_err();
        assert!(matches!(
            err,
            DataError::TargetOutOfRange { index: 2, width: 2 }
        ));
        let err = Dataset::from_rows(&[vec![1.0, 2.0]], 1, Task::Binary).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1: target '2' is not valid for binary classification (labels 0 or 1)"
        );
        assert!(Dataset::from_rows(&[vec![1.0, 2.5]], 1, Task::Multiclass(3)).is_err());
        let err = Dataset::from_rows(&[vec![1.0, 3.0]], 1, Task::Multiclass(3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1: target '3' is not valid for 3-class classification (labels 0, 1 or 2)"
        );
        assert!(Dataset::from_rows(&[vec![1.0, 2.0]], 1, Task::Multiclass(3)).is_ok());
    }

    #[test]
    fn class_labels_name_every_bound() {
        assert_eq!(class_labels(2), "labels 0 or 1");
        assert_eq!(class_labels(3), "labels 0, 1 or 2");
        assert_eq!(class_labels(10), "labels 0 to 9");
        assert_eq!(class_labels(1), "label 0");
        assert_eq!(
            Task::Multiclass(12).to_string(),
            "12-class classification (labels 0 to 11)"
        );
    }

    #[test]
    fn subset_and_class_counts() {
        let rows = vec![vec![1.0, 0.0], vec![2.0, 1.0], vec![3.0, 1.0]];
        let d = Dataset::from_rows(&rows, 1, Task::Binary).unwrap();
        let s = d.subset(&[2, 0]);
        assert_eq!(s.features, vec![3.0, 1.0]);
        assert_eq!(s.targets, vec![1.0, 0.0]);
        assert_eq!(d.class_counts(), Some(vec![1, 2]));
    }
}
