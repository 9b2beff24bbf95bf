//! Losses with PyTorch's `reduction='mean'`, the optional L2 penalty, the minibatch loss that
//! training differentiates, and classification accuracy.
//!
//! | loss | per element | PyTorch |
//! |---|---|---|
//! | [`LossKind::Mse`] | `(ŷ - y)²` | `MSELoss` |
//! | [`LossKind::Mae`] | `|ŷ - y|` (derivative `0` at `0`) | `L1Loss` |
//! | [`LossKind::Huber`] | `½ r²` if `|r| < δ`, else `δ (|r| - ½ δ)` | `HuberLoss(delta)` |
//! | [`LossKind::BceWithLogits`] | `max(z, 0) - z y + ln(1 + e^{-|z|})` | `BCEWithLogitsLoss` |
//! | [`LossKind::CrossEntropy`] | `logsumexp(z) - z[y]`, `y` a class index | `CrossEntropyLoss` |
//!
//! The mean runs over every element (`n × outputs`) for the elementwise losses and over samples
//! for cross-entropy, as PyTorch does.
//!
//! # L2 penalty
//! `l2 · Σ w²` over the weights only — biases are not penalised (as scikit-learn's `alpha`
//! and most textbooks); parameters of custom models, which have no weight/bias split, are all
//! penalised. PyTorch's `weight_decay = λ` instead adds `λ p` to every parameter's gradient
//! (biases included), which matches a penalty of `(λ/2) Σ p²`: so `l2 = λ/2` reproduces it
//! for the weights.

use std::sync::Arc;

use serde::Deserialize;

use super::{ModelError, ParamKind, Predictor};
use crate::ad::Scalar;
use crate::data::{Dataset, Task};
use crate::valid::{INF, Problems, Range, Validate, gt};

/// Which data loss. A scenario names it (`loss: huber`), or gives Huber's `delta` as
/// `{kind: huber, delta: 0.5}`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename = "loss", deny_unknown_fields)]
pub enum LossKind {
    #[serde(rename = "mse")]
    Mse,
    #[serde(rename = "mae")]
    Mae,
    /// PyTorch's `HuberLoss` (default `delta = 1.0`).
    #[serde(rename = "huber")]
    Huber {
        #[serde(default = "one")]
        delta: f64,
    },
    /// Binary cross-entropy on logits (targets `0/1`).
    #[serde(rename = "bce_logits")]
    BceWithLogits,
    /// Softmax cross-entropy on logits (targets class indices).
    #[serde(rename = "cross_entropy")]
    CrossEntropy,
}

fn one() -> f64 {
    1.0
}

impl Validate for LossKind {
    fn validate(&self, p: &mut Problems) {
        if let LossKind::Huber { delta } = *self {
            p.range("delta", delta, Range::new(gt(0.0), INF));
        }
    }
}

impl LossKind {
    /// Huber with PyTorch's default `delta = 1`.
    pub const HUBER: LossKind = LossKind::Huber { delta: 1.0 };

    /// The name used in scenario files and messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Mse => "mse",
            LossKind::Mae => "mae",
            LossKind::Huber { .. } => "huber",
            LossKind::BceWithLogits => "bce_logits",
            LossKind::CrossEntropy => "cross_entropy",
        }
    }

    /// True for the losses on class labels.
    #[must_use]
    pub fn is_classification(self) -> bool {
        matches!(self, LossKind::BceWithLogits | LossKind::CrossEntropy)
    }
}

/// A data loss plus an optional L2 penalty on the weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loss {
    pub kind: LossKind,
    /// Coefficient of `Σ w²` over the weights (not the biases); `0` for none.
    pub l2: f64,
}

impl Loss {
    /// The data loss alone.
    #[must_use]
    pub fn new(kind: LossKind) -> Loss {
        Loss { kind, l2: 0.0 }
    }

    #[must_use]
    pub fn with_l2(self, l2: f64) -> Loss {
        Loss { l2, ..self }
    }
}

/// `(ŷ - y)²`.
pub fn mse<S: Scalar>(pred: S, y: f64) -> S {
    (pred - y).powi(2)
}

/// `|ŷ - y|`.
pub fn mae<S: Scalar>(pred: S, y: f64) -> S {
    (pred - y).abs()
}

/// PyTorch's `HuberLoss`: quadratic within `delta` of the target, linear beyond. The branch
/// is taken on the value; both pieces agree in value and slope at `|r| = delta`.
pub fn huber<S: Scalar>(pred: S, y: f64, delta: f64) -> S {
    let r = pred - y;
    if r.value().abs() < delta {
        r.powi(2) * 0.5
    } else {
        (r.abs() - 0.5 * delta) * delta
    }
}

/// Binary cross-entropy of logit `z` against label `y`, stable for any `z`:
/// `max(z, 0) - z y + ln(1 + e^{-|z|})`, never exponentiating a positive number.
///
/// At `z = 0` the pieces are kinks, and the tie rules make the derivative right: `max(z, 0)`
/// splits the tie and gives `½`, `abs` gives `0`, so `d/dz = ½ - y = sigmoid(0) - y`, PyTorch's
/// `sigmoid(z) - y` (with `relu` in place of `max` it would be `-y`, and logistic regression
/// started from zero would take a wrong first step).
pub fn bce_with_logits<S: Scalar>(z: S, y: f64) -> S {
    // softplus(-|z|) never reaches PyTorch's threshold of 20, so it is exactly ln1p(exp(-|z|)).
    z.max(S::constant(0.0)) - z * y + (-z.abs()).softplus()
}

/// Softmax cross-entropy of `logits` against class `class`: `logsumexp(z) - z[class]`.
///
/// The shift by the largest logit is taken as a constant: `logsumexp` is exactly
/// `c + ln Σ e^{z - c}` for any constant `c`, so the gradient is unchanged and no exponent
/// is positive.
pub fn cross_entropy<S: Scalar>(logits: &[S], class: usize) -> S {
    let c = logits
        .iter()
        .map(Scalar::value)
        .fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<S> = logits.iter().map(|&z| (z - c).exp()).collect();
    // `z[class] - c` first: it is small, so `ln 2` survives logits of 1000 unrounded.
    S::sum(&exps).ln() - (logits[class] - c)
}

/// `Σ w²` over the weights of `model` (biases excluded), as one `dot` node.
pub fn weight_sq_norm<S: Scalar, P: Predictor>(model: &P, params: &[S]) -> S {
    let mut weights: Vec<S> = Vec::new();
    for g in model.param_groups() {
        if !matches!(g.kind, ParamKind::Bias { .. }) {
            weights.extend_from_slice(&params[g.range]);
        }
    }
    S::dot(&weights, &weights)
}

/// The mean loss over the samples `indices` of `data`, plus the L2 penalty: the training
/// objective for one minibatch. Every per-element term goes into one `S::sum` node.
///
/// Call [`check_compatible`] once first: this assumes the model's inputs and outputs fit the
/// data. An empty batch contributes `0` (PyTorch would give NaN).
pub fn batch_loss<S: Scalar, P: Predictor>(
    model: &P,
    loss: &Loss,
    params: &[S],
    data: &Dataset,
    indices: &[usize],
) -> S {
    let data_loss = data_loss(model, loss.kind, params, data, indices);
    if loss.l2 == 0.0 {
        data_loss
    } else {
        data_loss + weight_sq_norm(model, params) * loss.l2
    }
}

/// The mean data loss without the penalty.
pub fn data_loss<S: Scalar, P: Predictor>(
    model: &P,
    kind: LossKind,
    params: &[S],
    data: &Dataset,
    indices: &[usize],
) -> S {
    let outputs = model.forward_batch(params, data, indices);
    loss_of_outputs(kind, &outputs, model.n_outputs(), data, indices)
}

/// [`batch_loss`] over the whole of `data`, whose features `rows` holds (the same values,
/// kept by the caller across evaluations, so that a fused tape reads them by reference; see
/// [`Predictor::forward_shared`]).
pub fn full_batch_loss<S: Scalar, P: Predictor>(
    model: &P,
    loss: &Loss,
    params: &[S],
    data: &Dataset,
    rows: &Arc<[f64]>,
) -> S {
    debug_assert_eq!(rows[..], data.features[..]);
    let indices: Vec<usize> = (0..data.len()).collect();
    let outputs = model.forward_shared(params, rows);
    let data_loss = loss_of_outputs(loss.kind, &outputs, model.n_outputs(), data, &indices);
    if loss.l2 == 0.0 {
        data_loss
    } else {
        data_loss + weight_sq_norm(model, params) * loss.l2
    }
}

/// The mean loss of model outputs (row-major, `m` per sample) for the samples `indices`.
/// Cross-entropy is one node on a fused tape ([`Scalar::with_gradient`]: its per-element form
/// is a dozen nodes per sample); the elementwise losses keep their per-element nodes, which
/// cost little, and whose rounding a bundled scenario's Prodigy run turned out to depend on
/// (a whole-batch BCE gradient, equal to the last bits, took its final loss from 0.003 to 0.11).
fn loss_of_outputs<S: Scalar>(
    kind: LossKind,
    outputs: &[S],
    m: usize,
    data: &Dataset,
    indices: &[usize],
) -> S {
    let whole = (kind == LossKind::CrossEntropy)
        .then(|| {
            S::with_gradient(outputs, |z, g| {
                cross_entropy_value_and_gradient(z, m, data, indices, g)
            })
        })
        .flatten();
    whole.unwrap_or_else(|| mean_loss(kind, outputs, m, data, indices))
}

/// The mean loss of the model outputs `outputs` (row-major, `m` per sample) for the samples
/// `indices` of `data`: every per-element term into one `S::sum`, then divided by the count.
fn mean_loss<S: Scalar>(
    kind: LossKind,
    outputs: &[S],
    m: usize,
    data: &Dataset,
    indices: &[usize],
) -> S {
    let per_sample = if kind == LossKind::CrossEntropy { 1 } else { m };
    let mut terms = Vec::with_capacity(indices.len() * per_sample);
    for (&i, out) in indices.iter().zip(outputs.chunks_exact(m.max(1))) {
        let y = data.target(i);
        match kind {
            LossKind::CrossEntropy => terms.push(cross_entropy(out, y[0] as usize)),
            LossKind::Mse => terms.extend(out.iter().zip(y).map(|(&p, &t)| mse(p, t))),
            LossKind::Mae => terms.extend(out.iter().zip(y).map(|(&p, &t)| mae(p, t))),
            LossKind::Huber { delta } => {
                terms.extend(out.iter().zip(y).map(|(&p, &t)| huber(p, t, delta)));
            }
            LossKind::BceWithLogits => {
                terms.extend(out.iter().zip(y).map(|(&p, &t)| bce_with_logits(p, t)));
            }
        }
    }
    if terms.is_empty() {
        return S::constant(0.0);
    }
    let count = terms.len() as f64;
    S::sum(&terms) / count
}

/// The mean cross-entropy of `outputs` (row-major, `m` per sample) for the samples `indices`,
/// and its gradient with respect to each output into `g`: `(softmax(z) - onehot(y)) / count`
/// per sample, each exponential computed once for both. The value is `mean_loss::<f64>`'s to
/// the bit: the same shift, the same exponentials summed from `0` left to right, the same
/// per-sample terms summed the same way.
fn cross_entropy_value_and_gradient(
    outputs: &[f64],
    m: usize,
    data: &Dataset,
    indices: &[usize],
    g: &mut [f64],
) -> f64 {
    let m = m.max(1);
    let count = indices.len().min(outputs.len() / m);
    if count == 0 {
        return 0.0;
    }
    let k = 1.0 / count as f64;
    let mut loss = 0.0;
    let rows = outputs.chunks_exact(m).zip(g.chunks_exact_mut(m));
    for (&i, (out, g)) in indices.iter().zip(rows) {
        let c = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for (g, &z) in g.iter_mut().zip(out) {
            *g = (z - c).exp();
            total += *g;
        }
        let class = data.target(i)[0] as usize;
        let picked = out.get(class).map_or(f64::NAN, |&z| z - c);
        loss += total.ln() - picked;
        let scale = k / total;
        for g in g.iter_mut() {
            *g *= scale;
        }
        if let Some(g) = g.get_mut(class) {
            *g -= k;
        }
    }
    loss / count as f64
}

/// Checks that `model` and `loss` fit `data`: input width, output count, and a task the loss
/// applies to.
pub fn check_compatible<P: Predictor>(
    model: &P,
    loss: &Loss,
    data: &Dataset,
) -> Result<(), ModelError> {
    if model.n_inputs() != data.n_features {
        return Err(ModelError::InputMismatch {
            model: model.n_inputs(),
            data: data.n_features,
        });
    }
    if !(loss.l2.is_finite() && loss.l2 >= 0.0) {
        return Err(ModelError::InvalidParameter {
            name: "l2",
            reason: format!("must be finite and >= 0, got {}", loss.l2),
        });
    }
    let name = loss.kind.name();
    let expected = match loss.kind {
        LossKind::CrossEntropy => match data.task {
            Task::Binary => 2,
            Task::Multiclass(k) => k,
            Task::Regression => {
                return Err(ModelError::WrongTask {
                    loss: name,
                    task: data.task,
                });
            }
        },
        LossKind::BceWithLogits => {
            if data.task != Task::Binary {
                return Err(ModelError::WrongTask {
                    loss: name,
                    task: data.task,
                });
            }
            data.n_targets
        }
        LossKind::Huber { delta } if !(delta.is_finite() && delta > 0.0) => {
            return Err(ModelError::InvalidParameter {
                name: "delta",
                reason: format!("must be finite and > 0, got {delta}"),
            });
        }
        LossKind::Mse | LossKind::Mae | LossKind::Huber { .. } => data.n_targets,
    };
    if model.n_outputs() != expected {
        return Err(ModelError::OutputMismatch {
            loss: name,
            model: model.describe(),
            expected,
            got: model.n_outputs(),
        });
    }
    Ok(())
}

/// Fraction of `indices` classified correctly, or `None` for regression data or an empty
/// batch. Binary: class 1 when the first output (a logit) is `> 0`; multiclass: the argmax of
/// the outputs (the first on ties, as `torch.argmax`).
pub fn accuracy<P: Predictor>(
    model: &P,
    params: &[f64],
    data: &Dataset,
    indices: &[usize],
) -> Option<f64> {
    if data.task == Task::Regression || indices.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(model.n_outputs());
    let mut correct = 0usize;
    for &i in indices {
        model.forward(params, data.row(i), &mut out);
        let predicted = match data.task {
            Task::Binary if out.len() == 1 => usize::from(out[0] > 0.0),
            _ => argmax(&out),
        };
        if predicted as f64 == data.target(i)[0] {
            correct += 1;
        }
    }
    Some(correct as f64 / indices.len() as f64)
}

fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate;
    use crate::model::testing::{D, assert_close, dual_grad, fd_grad};
    use crate::model::{Activation, Mlp, Model};

    #[test]
    fn elementwise_losses_by_hand() {
        assert_eq!(mse(3.0, 1.0), 4.0);
        assert_eq!(mae(-1.5, 1.0), 2.5);
        assert_eq!(huber(1.5, 1.0, 1.0), 0.125);
        assert_eq!(huber(4.0, 1.0, 1.0), 2.5);
        assert_eq!(huber(-2.0, 1.0, 2.0), 2.0 * (3.0 - 1.0));
        // ln(1 + e^{-2}) + 2 for z = -2, y = 1; ln(1 + e^{-2}) for z = 2, y = 1.
        let l = (-2.0_f64).exp().ln_1p();
        assert!((bce_with_logits(-2.0, 1.0) - (2.0 + l)).abs() < 1e-15);
        assert!((bce_with_logits(2.0, 1.0) - l).abs() < 1e-15);
        assert!((bce_with_logits(0.0, 0.0) - std::f64::consts::LN_2).abs() < 1e-15);
        // Softmax CE of [1, 2, 3] against class 0: ln(e + e² + e³) - 1.
        let want = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln() - 1.0;
        assert!((cross_entropy(&[1.0, 2.0, 3.0], 0) - want).abs() < 1e-14);
    }

    #[test]
    fn bce_and_cross_entropy_are_stable_at_large_logits() {
        assert_eq!(bce_with_logits(1000.0, 1.0), 0.0);
        assert_eq!(bce_with_logits(1000.0, 0.0), 1000.0);
        assert_eq!(bce_with_logits(-1000.0, 1.0), 1000.0);
        assert_eq!(bce_with_logits(-1000.0, 0.0), 0.0);
        // Gradient sigmoid(z) - y stays finite and right at the extremes and at 0.
        for (z, y, g) in [(1000.0, 0.0, 1.0), (-1000.0, 0.0, 0.0), (1000.0, 1.0, 0.0)] {
            let d = dual_grad(&[z], |v| bce_with_logits(v[0], y));
            assert_eq!(d, vec![g]);
        }
        assert_eq!(
            dual_grad(&[0.0], |v| bce_with_logits(v[0], 1.0)),
            vec![-0.5]
        );
        assert_eq!(dual_grad(&[0.0], |v| bce_with_logits(v[0], 0.0)), vec![0.5]);

        assert_eq!(cross_entropy(&[1000.0, 0.0, -1000.0], 0), 0.0);
        assert_eq!(cross_entropy(&[1000.0, 0.0, -1000.0], 1), 1000.0);
        assert_eq!(cross_entropy(&[1000.0, 1000.0], 1), std::f64::consts::LN_2);
        let g = dual_grad(&[1000.0, 0.0], |v| cross_entropy(v, 1));
        assert_eq!(g, vec![1.0, -1.0]);
    }

    #[test]
    fn batch_mean_and_penalty() {
        let data = Dataset::from_rows(
            &[vec![1.0, 2.0], vec![2.0, 3.0], vec![0.0, 0.0]],
            1,
            Task::Regression,
        )
        .unwrap();
        let model = Model::Linear {
            n_inputs: 1,
            n_outputs: 1,
        };
        let p = [2.0, 1.0]; // y = 2x + 1: residuals 1, 2, 1
        let l = batch_loss(&model, &Loss::new(LossKind::Mse), &p, &data, &[0, 1, 2]);
        assert!((l - 2.0).abs() < 1e-15);
        let l = batch_loss(&model, &Loss::new(LossKind::Mae), &p, &data, &[0, 1]);
        assert!((l - 1.5).abs() < 1e-15);
        // The penalty covers the weight (2²) but not the bias.
        let l = batch_loss(
            &model,
            &Loss::new(LossKind::Mse).with_l2(0.1),
            &p,
            &data,
            &[2],
        );
        assert!((l - (1.0 + 0.4)).abs() < 1e-15);
        assert_eq!(
            batch_loss(&model, &Loss::new(LossKind::Mse), &p, &data, &[]),
            0.0
        );
    }

    fn models_and_data() -> Vec<(Model, Dataset, Vec<LossKind>)> {
        let reg = generate::linear(12, 3, None, 0.3, 0.2, 1).unwrap();
        let bin = generate::moons(12, 0.2, 2).unwrap();
        let multi = generate::blobs(12, 3, 1.0, 2, 3).unwrap();
        let mut reg2 = reg.clone();
        // Two targets per sample for a 3 → 2 linear model.
        reg2.targets = reg
            .targets
            .iter()
            .flat_map(|&y| [y, -0.5 * y + 1.0])
            .collect();
        reg2.n_targets = 2;
        let regression = vec![LossKind::Mse, LossKind::Mae, LossKind::HUBER];
        let mlp = |sizes: Vec<usize>, act| {
            Model::Mlp(Mlp::with_hidden(sizes, act, Activation::Identity).unwrap())
        };
        let mut cases = vec![
            (
                Model::Linear {
                    n_inputs: 3,
                    n_outputs: 1,
                },
                reg.clone(),
                regression.clone(),
            ),
            (
                Model::Linear {
                    n_inputs: 3,
                    n_outputs: 2,
                },
                reg2,
                regression.clone(),
            ),
            (
                Model::Logistic { n_inputs: 2 },
                bin.clone(),
                vec![LossKind::BceWithLogits],
            ),
            (
                Model::Softmax {
                    n_inputs: 2,
                    n_classes: 3,
                },
                multi.clone(),
                vec![LossKind::CrossEntropy],
            ),
        ];
        for act in Activation::ALL {
            cases.push((mlp(vec![3, 4, 1], act), reg.clone(), regression.clone()));
            cases.push((
                mlp(vec![2, 3, 1], act),
                bin.clone(),
                vec![LossKind::BceWithLogits],
            ));
            cases.push((
                mlp(vec![2, 3, 2, 3], act),
                multi.clone(),
                vec![LossKind::CrossEntropy],
            ));
        }
        cases
    }

    #[test]
    fn every_model_and_loss_gradient_matches_finite_differences() {
        let indices: Vec<usize> = (0..12).collect();
        for (model, data, losses) in models_and_data() {
            let n = model.n_params();
            // Deterministic, irregular parameters away from the kinks.
            let p: Vec<f64> = (0..n)
                .map(|i| 0.6 * ((i as f64) * 1.37 + 0.4).sin())
                .collect();
            for kind in losses {
                for l2 in [0.0, 0.05] {
                    let loss = Loss::new(kind).with_l2(l2);
                    check_compatible(&model, &loss, &data).unwrap();
                    let g = dual_grad(&p, |q: &[D]| batch_loss(&model, &loss, q, &data, &indices));
                    let f = fd_grad(&p, |q: &[f64]| {
                        batch_loss(&model, &loss, q, &data, &indices)
                    });
                    assert_close(&g, &f, 1e-6, &format!("{model} with {}", kind.name()));
                }
            }
        }
    }

    #[test]
    fn the_whole_batch_loss_node_matches_the_per_element_tape() {
        use crate::ad::tape::{Tape, gradient_with};
        let indices: Vec<usize> = (0..12).collect();
        for (model, data, losses) in models_and_data() {
            let n = model.n_params();
            let p: Vec<f64> = (0..n)
                .map(|i| 0.8 * ((i as f64) * 0.91 - 0.3).cos())
                .collect();
            for kind in losses {
                let loss = Loss::new(kind).with_l2(0.05);
                let what = format!("{model} with {}", kind.name());
                // The plain tape records every per-element operation; the fused one records a
                // cross-entropy as one node with the gradient computed in `f64`.
                let (mut plain, mut fused) = (vec![0.0; n], vec![0.0; n]);
                let f_plain = gradient_with(&mut Tape::new(), &p, &mut plain, |v| {
                    batch_loss(&model, &loss, v, &data, &indices)
                });
                let f_fused = gradient_with(&mut Tape::fused(), &p, &mut fused, |v| {
                    batch_loss(&model, &loss, v, &data, &indices)
                });
                let f64_loss = batch_loss(&model, &loss, &p, &data, &indices);
                assert_eq!(f_fused.to_bits(), f64_loss.to_bits(), "{what}");
                assert!((f_plain - f_fused).abs() <= 1e-14 * f_fused.abs(), "{what}");
                assert_close(&fused, &plain, 1e-12, &what);
            }
        }
    }

    #[test]
    fn the_full_batch_loss_on_shared_rows_equals_the_gathered_batch_bit_for_bit() {
        use crate::ad::tape::{Tape, gradient_with};
        for (model, data, losses) in models_and_data() {
            let n = model.n_params();
            let p: Vec<f64> = (0..n).map(|i| 0.7 * ((i as f64) * 1.13).sin()).collect();
            let rows: Arc<[f64]> = data.features.as_slice().into();
            let all: Vec<usize> = (0..data.len()).collect();
            for kind in losses {
                let loss = Loss::new(kind).with_l2(0.01);
                let what = format!("{model} with {}", kind.name());
                // One tape for both, as a run reuses it: the shared rows must not disturb the
                // layer buffers a copied batch uses next, nor the other way round.
                let mut tape = Tape::fused();
                let (mut shared, mut gathered) = (vec![0.0; n], vec![0.0; n]);
                for _ in 0..2 {
                    let f_shared = gradient_with(&mut tape, &p, &mut shared, |v| {
                        full_batch_loss(&model, &loss, v, &data, &rows)
                    });
                    let f_gathered = gradient_with(&mut tape, &p, &mut gathered, |v| {
                        batch_loss(&model, &loss, v, &data, &all)
                    });
                    assert_eq!(f_shared.to_bits(), f_gathered.to_bits(), "{what}");
                    assert_eq!(shared, gathered, "{what}");
                }
                let plain = full_batch_loss(&model, &loss, &p, &data, &rows);
                assert_eq!(plain, batch_loss(&model, &loss, &p, &data, &all), "{what}");
            }
        }
    }

    #[test]
    fn compatibility_errors() {
        let bin = generate::moons(10, 0.1, 0).unwrap();
        let logistic = Model::Logistic { n_inputs: 2 };
        let bce = Loss::new(LossKind::BceWithLogits);
        assert!(check_compatible(&logistic, &bce, &bin).is_ok());
        let err = check_compatible(&Model::Logistic { n_inputs: 3 }, &bce, &bin).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the model takes 3 inputs but the data has 2 features"
        );
        let ce = Loss::new(LossKind::CrossEntropy);
        let err = check_compatible(&logistic, &ce, &bin).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cross_entropy needs 2 model outputs for this data, but logistic regression, \
             layers [2, 1] has 1"
        );
        let reg = generate::sine(10, 1.0, 1.0, 0.0, 0.1, 0).unwrap();
        let err = check_compatible(&Model::Logistic { n_inputs: 1 }, &bce, &reg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bce_logits does not apply to regression data"
        );
        let bad = Loss::new(LossKind::Huber { delta: 0.0 });
        assert!(
            check_compatible(
                &Model::Linear {
                    n_inputs: 1,
                    n_outputs: 1
                },
                &bad,
                &reg
            )
            .is_err()
        );
    }

    #[test]
    fn accuracy_binary_and_multiclass() {
        let bin = Dataset::from_rows(
            &[vec![-1.0, 0.0], vec![2.0, 1.0], vec![0.5, 0.0]],
            1,
            Task::Binary,
        )
        .unwrap();
        let m = Model::Logistic { n_inputs: 1 };
        // z = x: predicts 0, 1, 1.
        assert_eq!(accuracy(&m, &[1.0, 0.0], &bin, &[0, 1, 2]), Some(2.0 / 3.0));
        assert_eq!(accuracy(&m, &[1.0, 0.0], &bin, &[]), None);
        let multi = Dataset::from_rows(
            &[
                vec![1.0, 0.0, 0.0],
                vec![0.0, 1.0, 1.0],
                vec![0.0, 0.0, 2.0],
            ],
            2,
            Task::Multiclass(3),
        )
        .unwrap();
        // Logits [x1, x2, 0.5]: argmax 0, 1, 2.
        let s = Model::Softmax {
            n_inputs: 2,
            n_classes: 3,
        };
        let p = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5];
        assert_eq!(accuracy(&s, &p, &multi, &[0, 1, 2]), Some(1.0));
        let reg = generate::sine(5, 1.0, 1.0, 0.0, 0.1, 0).unwrap();
        assert_eq!(
            accuracy(
                &Model::Linear {
                    n_inputs: 1,
                    n_outputs: 1
                },
                &[0.0, 0.0],
                &reg,
                &[0]
            ),
            None
        );
    }

    #[test]
    fn logistic_regression_separates_separable_data() {
        // Two well separated blobs; plain full-batch gradient descent from zero.
        let data = generate::blobs(60, 2, 0.5, 2, 11).unwrap();
        let data = crate::data::prepare(&data, 0.0, true, 0).unwrap().train;
        let model = Model::Logistic { n_inputs: 2 };
        let loss = Loss::new(LossKind::BceWithLogits);
        let all: Vec<usize> = (0..data.len()).collect();
        let mut p = vec![0.0; model.n_params()];
        let start = batch_loss(&model, &loss, &p, &data, &all);
        for _ in 0..200 {
            let g = dual_grad(&p, |q: &[D]| batch_loss(&model, &loss, q, &data, &all));
            for (w, gi) in p.iter_mut().zip(&g) {
                *w -= 0.5 * gi;
            }
        }
        let end = batch_loss(&model, &loss, &p, &data, &all);
        assert!(end < 0.1 * start, "loss {start} -> {end}");
        assert_eq!(accuracy(&model, &p, &data, &all), Some(1.0));
    }
}
