//! Train and test metrics for a parameter vector: data loss, penalty and accuracy.

use super::Predictor;
use super::loss::{Loss, accuracy, data_loss, weight_sq_norm};
use crate::data::Dataset;

/// How a parameter vector does on the training and test data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean data loss on the whole training set (no penalty).
    pub train_loss: f64,
    /// Mean data loss on the test set, if there is one.
    pub test_loss: Option<f64>,
    /// `l2 · Σ w²`: what the penalty adds to the training objective.
    pub penalty: f64,
    /// Fraction correct on the training set (classification only).
    pub train_accuracy: Option<f64>,
    /// Fraction correct on the test set (classification with a test set only).
    pub test_accuracy: Option<f64>,
}

impl Metrics {
    /// The training objective: data loss plus penalty.
    #[must_use]
    pub fn objective(&self) -> f64 {
        self.train_loss + self.penalty
    }
}

/// Evaluates `params` on all of `train` and, when given and non-empty, all of `test`.
pub fn evaluate<P: Predictor>(
    model: &P,
    loss: &Loss,
    params: &[f64],
    train: &Dataset,
    test: Option<&Dataset>,
) -> Metrics {
    let all = |d: &Dataset| (0..d.len()).collect::<Vec<usize>>();
    let train_idx = all(train);
    let test = test.filter(|t| !t.is_empty());
    let penalty = if loss.l2 == 0.0 {
        0.0
    } else {
        loss.l2 * weight_sq_norm(model, params)
    };
    Metrics {
        train_loss: data_loss(model, loss.kind, params, train, &train_idx),
        test_loss: test.map(|t| data_loss(model, loss.kind, params, t, &all(t))),
        penalty,
        train_accuracy: accuracy(model, params, train, &train_idx),
        test_accuracy: test.and_then(|t| accuracy(model, params, t, &all(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Task;
    use crate::model::{LossKind, Model};

    #[test]
    fn train_and_test_metrics() {
        let train =
            Dataset::from_rows(&[vec![-1.0, 0.0], vec![1.0, 1.0]], 1, Task::Binary).unwrap();
        let test = Dataset::from_rows(&[vec![2.0, 0.0]], 1, Task::Binary).unwrap();
        let model = Model::Logistic { n_inputs: 1 };
        let loss = Loss::new(LossKind::BceWithLogits).with_l2(0.5);
        let p = [2.0, 0.0];
        let m = evaluate(&model, &loss, &p, &train, Some(&test));
        let l = (-2.0_f64).exp().ln_1p();
        assert!((m.train_loss - l).abs() < 1e-15);
        assert!((m.test_loss.unwrap() - (4.0 + (-4.0_f64).exp().ln_1p())).abs() < 1e-12);
        assert_eq!(m.penalty, 2.0);
        assert!((m.objective() - (l + 2.0)).abs() < 1e-15);
        assert_eq!(m.train_accuracy, Some(1.0));
        assert_eq!(m.test_accuracy, Some(0.0));
        let none = evaluate(&model, &loss, &p, &train, None);
        assert_eq!((none.test_loss, none.test_accuracy), (None, None));
    }
}
