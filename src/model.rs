//! Models written once over [`Scalar`]: linear, logistic and softmax regression and the MLP,
//! behind the [`Predictor`] trait; their [`loss`]es, [`init`]ialisers and [`metrics`].
//!
//! # Parameter layout
//! Parameters are one flat slice. Every model is a stack of affine layers, and each layer
//! stores its weight row-major with shape `[outputs][inputs]` (PyTorch's `nn.Linear.weight`
//! layout), then its bias `[outputs]`; layers follow each other from input to output. So for
//! an MLP `[2, 16, 1]`: `W1` (32 values, row `j` = the weights into hidden unit `j`), `b1`
//! (16), `W2` (16), `b2` (1) — 65 in all. Linear, logistic and softmax regression are the
//! single layer `[d, m]`, `[d, 1]` and `[d, k]`.
//!
//! ```
//! use gradscope::data::generate;
//! use gradscope::model::{
//!     Activation, Init, Loss, LossKind, Mlp, Model, Predictor, accuracy, batch_loss,
//!     check_compatible, init_params,
//! };
//! let data = generate::moons(100, 0.1, 0).unwrap();
//! let mlp = Mlp::with_hidden(vec![2, 16, 1], Activation::Tanh, Activation::Identity).unwrap();
//! let model = Model::Mlp(mlp);
//! let loss = Loss::new(LossKind::BceWithLogits).with_l2(1e-4);
//! check_compatible(&model, &loss, &data).unwrap();
//! let params = init_params(&model, &Init::default(), 42).unwrap();
//! assert_eq!(params.len(), model.n_params());
//! // Any `Scalar` works here: f64 for the value, a dual or tape variable for the gradient.
//! let value: f64 = batch_loss(&model, &loss, &params, &data, &[0, 1, 2, 3]);
//! assert!(value.is_finite() && value > 0.0);
//! assert!(accuracy(&model, &params, &data, &[0, 1, 2, 3]).is_some());
//! ```
//!
//! # Adding a model
//! Custom (expression) models plug in by implementing [`Predictor`] and adding a variant to
//! [`Model`] that forwards to it; [`Predictor::param_groups`] defaults to one group of
//! [`ParamKind::Other`], which the initialisers and the L2 penalty treat sensibly.

pub mod custom;
pub mod init;
pub mod loss;
pub mod metrics;
pub mod mlp;

pub use custom::CustomModel;
pub use init::{Init, InitError, init_params};
pub use loss::{Loss, LossKind, accuracy, batch_loss, check_compatible};
pub use metrics::{Metrics, evaluate};
pub use mlp::{Activation, Mlp};

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use thiserror::Error;

use crate::ad::Scalar;
use crate::data::{Dataset, Task};

/// Errors in a model's definition or in pairing it with a loss and a dataset.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ModelError {
    #[error("an MLP needs at least an input and an output size, got layers {0:?}")]
    TooFewLayers(Vec<usize>),
    #[error("layer sizes must be at least 1, got layers {0:?}")]
    ZeroWidth(Vec<usize>),
    #[error("expected {expected} activations (one per layer after the input), got {got}")]
    ActivationCount { expected: usize, got: usize },
    #[error("unknown activation '{name}'{}; known: {}",
        suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default(),
        Activation::ALL.map(Activation::name).join(", "))]
    UnknownActivation {
        name: String,
        suggestion: Option<String>,
    },
    #[error("the model takes {model} inputs but the data has {data} features")]
    InputMismatch { model: usize, data: usize },
    #[error("{loss} needs {expected} model outputs for this data, but {model} has {got}")]
    OutputMismatch {
        loss: &'static str,
        model: String,
        expected: usize,
        got: usize,
    },
    #[error("{loss} does not apply to {task} data")]
    WrongTask { loss: &'static str, task: Task },
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
}

/// What a run of parameters is, so initialisers and the L2 penalty can treat it right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A weight matrix of a layer with `fan_in` inputs and `fan_out` outputs.
    Weight { fan_in: usize, fan_out: usize },
    /// The bias of a layer with `fan_in` inputs.
    Bias { fan_in: usize },
    /// Parameters without a layer shape (custom models).
    Other,
}

/// A contiguous run of parameters of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamGroup {
    pub range: Range<usize>,
    pub kind: ParamKind,
}

/// Something with parameters that maps one sample's features to outputs.
pub trait Predictor {
    /// Length of the flat parameter vector.
    fn n_params(&self) -> usize;
    /// Features per sample.
    fn n_inputs(&self) -> usize;
    /// Outputs per sample (logits for classifiers).
    fn n_outputs(&self) -> usize;
    /// The model's outputs for one sample `x` (`x.len() == n_inputs()`), written into `out`
    /// (cleared first).
    fn forward<S: Scalar>(&self, params: &[S], x: &[f64], out: &mut Vec<S>);

    /// How the parameter vector divides into weights, biases and the rest.
    fn param_groups(&self) -> Vec<ParamGroup> {
        vec![ParamGroup {
            range: 0..self.n_params(),
            kind: ParamKind::Other,
        }]
    }

    /// A short description for messages, such as `layers [2, 16, 1]`.
    fn describe(&self) -> String {
        format!("a model with {} parameters", self.n_params())
    }

    /// Outputs for the samples `indices` of `data`, row-major `indices.len() × n_outputs()`.
    /// `data`'s rows must be `n_inputs()` wide ([`check_compatible`]).
    fn forward_batch<S: Scalar>(&self, params: &[S], data: &Dataset, indices: &[usize]) -> Vec<S> {
        let mut all = Vec::with_capacity(indices.len() * self.n_outputs());
        let mut out = Vec::with_capacity(self.n_outputs());
        for &i in indices {
            self.forward(params, data.row(i), &mut out);
            all.extend_from_slice(&out);
        }
        all
    }

    /// [`forward_batch`](Self::forward_batch) over all of `rows` (row-major, `n_inputs()`
    /// wide), which the caller keeps for many evaluations: a dense stack on a fused tape reads
    /// them by reference instead of copying them (see [`Scalar::dense_stack_shared`]).
    fn forward_shared<S: Scalar>(&self, params: &[S], rows: &Arc<[f64]>) -> Vec<S> {
        let n = self.n_inputs();
        let mut all = Vec::new();
        let mut out = Vec::with_capacity(self.n_outputs());
        for row in rows.chunks_exact(n.max(1)) {
            self.forward(params, row, &mut out);
            all.extend_from_slice(&out);
        }
        all
    }
}

/// The models gradscope knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// `y = W x + b`, `n_inputs → n_outputs`; fitted with MSE (or MAE, Huber).
    Linear { n_inputs: usize, n_outputs: usize },
    /// One logit `z = w · x + b`; fitted with BCE on logits, predicts class 1 when `z > 0`.
    Logistic { n_inputs: usize },
    /// `k` logits `z = W x + b`; fitted with softmax cross-entropy, predicts the argmax.
    Softmax { n_inputs: usize, n_classes: usize },
    /// A multi-layer perceptron.
    Mlp(Mlp),
}

impl Model {
    /// The layer sizes `[inputs, ..., outputs]`.
    #[must_use]
    pub fn layer_sizes(&self) -> Vec<usize> {
        match self {
            Model::Linear {
                n_inputs,
                n_outputs,
            } => vec![*n_inputs, *n_outputs],
            Model::Logistic { n_inputs } => vec![*n_inputs, 1],
            Model::Softmax {
                n_inputs,
                n_classes,
            } => vec![*n_inputs, *n_classes],
            Model::Mlp(m) => m.sizes().to_vec(),
        }
    }

    /// The loss this model is usually fitted with.
    #[must_use]
    pub fn default_loss(&self) -> LossKind {
        match self {
            Model::Linear { .. } => LossKind::Mse,
            Model::Logistic { .. } => LossKind::BceWithLogits,
            Model::Softmax { .. } => LossKind::CrossEntropy,
            Model::Mlp(_) => LossKind::Mse,
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes = self.layer_sizes();
        match self {
            Model::Linear { .. } => write!(f, "linear regression, layers {sizes:?}"),
            Model::Logistic { .. } => write!(f, "logistic regression, layers {sizes:?}"),
            Model::Softmax { .. } => write!(f, "softmax regression, layers {sizes:?}"),
            Model::Mlp(_) => write!(f, "layers {sizes:?}"),
        }
    }
}

impl Predictor for Model {
    fn n_params(&self) -> usize {
        match self {
            Model::Mlp(m) => m.n_params(),
            _ => {
                let s = self.layer_sizes();
                (s[0] + 1) * s[1]
            }
        }
    }

    fn n_inputs(&self) -> usize {
        self.layer_sizes()[0]
    }

    fn n_outputs(&self) -> usize {
        match self {
            Model::Linear { n_outputs, .. } => *n_outputs,
            Model::Logistic { .. } => 1,
            Model::Softmax { n_classes, .. } => *n_classes,
            Model::Mlp(m) => m.n_outputs(),
        }
    }

    fn forward<S: Scalar>(&self, params: &[S], x: &[f64], out: &mut Vec<S>) {
        match self {
            Model::Mlp(m) => m.forward(params, x, out),
            _ => {
                let (inputs, outputs) = (self.n_inputs(), self.n_outputs());
                out.clear();
                affine_const(params, inputs, outputs, x, out);
            }
        }
    }

    fn forward_batch<S: Scalar>(&self, params: &[S], data: &Dataset, indices: &[usize]) -> Vec<S> {
        match self {
            Model::Mlp(m) => m.forward_batch(params, data, indices),
            _ => {
                let (inputs, outputs) = (self.n_inputs(), self.n_outputs());
                let x = data.features_of(indices);
                let (weights, biases) = params.split_at(inputs * outputs);
                let mut out = vec![S::constant(0.0); indices.len() * outputs];
                S::affine_batch_const(weights, &biases[..outputs], &x, inputs, &mut out);
                out
            }
        }
    }

    fn forward_shared<S: Scalar>(&self, params: &[S], rows: &Arc<[f64]>) -> Vec<S> {
        match self {
            Model::Mlp(m) => m.forward_shared(params, rows),
            _ => {
                let (inputs, outputs) = (self.n_inputs(), self.n_outputs());
                let batch = rows.len() / inputs.max(1);
                let (weights, biases) = params.split_at(inputs * outputs);
                let mut out = vec![S::constant(0.0); batch * outputs];
                S::affine_batch_const(weights, &biases[..outputs], rows, inputs, &mut out);
                out
            }
        }
    }

    fn param_groups(&self) -> Vec<ParamGroup> {
        match self {
            Model::Mlp(m) => m.param_groups(),
            _ => layer_groups(&self.layer_sizes()),
        }
    }

    fn describe(&self) -> String {
        self.to_string()
    }
}

/// Weight and bias groups of a stack of affine layers with the given sizes.
pub(crate) fn layer_groups(sizes: &[usize]) -> Vec<ParamGroup> {
    let mut groups = Vec::with_capacity(2 * sizes.len());
    let mut offset = 0;
    for w in sizes.windows(2) {
        let (fan_in, fan_out) = (w[0], w[1]);
        groups.push(ParamGroup {
            range: offset..offset + fan_in * fan_out,
            kind: ParamKind::Weight { fan_in, fan_out },
        });
        offset += fan_in * fan_out;
        groups.push(ParamGroup {
            range: offset..offset + fan_out,
            kind: ParamKind::Bias { fan_in },
        });
        offset += fan_out;
    }
    groups
}

/// Appends `W x + b` to `out` for data inputs `x`; `params` starts at the layer's weights.
/// One `dot_const` node per output unit, then the bias.
pub(crate) fn affine_const<S: Scalar>(
    params: &[S],
    inputs: usize,
    outputs: usize,
    x: &[f64],
    out: &mut Vec<S>,
) {
    let (weights, rest) = params.split_at(inputs * outputs);
    for (row, &b) in weights.chunks_exact(inputs.max(1)).zip(rest) {
        out.push(S::dot_const(row, x) + b);
    }
}

/// Forward-mode and finite-difference gradient helpers for this module's tests.
#[cfg(test)]
pub(crate) mod testing {
    /// The crate's forward-mode dual number, one direction at a time.
    pub type D = crate::ad::dual::Dual<f64>;

    /// The gradient of `f` at `p` by forward mode, one direction per parameter.
    pub fn dual_grad(p: &[f64], f: impl Fn(&[D]) -> D) -> Vec<f64> {
        (0..p.len())
            .map(|k| {
                let x: Vec<D> = p
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| D::new(v, if i == k { 1.0 } else { 0.0 }))
                    .collect();
                f(&x).eps
            })
            .collect()
    }

    /// The gradient of `f` at `p` by central differences with step `1e-6`.
    pub fn fd_grad(p: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        let h = 1e-6;
        (0..p.len())
            .map(|k| {
                let mut a = p.to_vec();
                let mut b = p.to_vec();
                a[k] += h;
                b[k] -= h;
                (f(&a) - f(&b)) / (2.0 * h)
            })
            .collect()
    }

    /// Asserts `a ≈ b` elementwise to `rel` relative to `max(1, |b|)`.
    pub fn assert_close(a: &[f64], b: &[f64], rel: f64, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= rel * y.abs().max(1.0),
                "{what}: component {i}: {x} vs {y}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_layer_models_layout_and_forward() {
        let m = Model::Linear {
            n_inputs: 2,
            n_outputs: 2,
        };
        assert_eq!(m.n_params(), 6);
        // W = [[1, 2], [3, 4]], b = [0.5, -1].
        let p = [1.0, 2.0, 3.0, 4.0, 0.5, -1.0];
        let mut out = Vec::new();
        m.forward(&p, &[1.0, -1.0], &mut out);
        assert_eq!(out, vec![-0.5, -2.0]);
        let s = Model::Softmax {
            n_inputs: 3,
            n_classes: 4,
        };
        assert_eq!((s.n_params(), s.n_outputs()), (16, 4));
        let l = Model::Logistic { n_inputs: 3 };
        assert_eq!((l.n_params(), l.n_outputs(), l.n_inputs()), (4, 1, 3));
        assert_eq!(
            l.param_groups(),
            vec![
                ParamGroup {
                    range: 0..3,
                    kind: ParamKind::Weight {
                        fan_in: 3,
                        fan_out: 1
                    }
                },
                ParamGroup {
                    range: 3..4,
                    kind: ParamKind::Bias { fan_in: 3 }
                },
            ]
        );
        assert_eq!(l.to_string(), "logistic regression, layers [3, 1]");
    }

    #[test]
    fn forward_batch_stacks_rows() {
        let data = Dataset::from_rows(&[vec![1.0, 0.0], vec![2.0, 1.0]], 1, Task::Binary).unwrap();
        let m = Model::Logistic { n_inputs: 1 };
        let out = m.forward_batch(&[2.0, -1.0], &data, &[1, 0]);
        assert_eq!(out, vec![3.0, 1.0]);
    }

    /// The batched forward pass (one `affine_batch` per layer, a block on a tape) computes the
    /// same values as the per-sample pass bit for bit, in f64 and on both tapes, and its
    /// reverse gradient matches the per-sample tape's and forward mode's.
    #[test]
    fn batched_and_per_sample_forward_agree_on_every_engine() {
        use crate::ad::tape::{Tape, Var, gradient_with};
        let rows: Vec<Vec<f64>> = (0..7)
            .map(|i| {
                let t = f64::from(i);
                vec![
                    (t * 0.7).sin(),
                    (t * 1.3).cos() - 0.2,
                    0.1 * t - 0.3,
                    f64::from(i % 2),
                ]
            })
            .collect();
        let data = Dataset::from_rows(&rows, 3, Task::Binary).unwrap();
        let indices = [3, 0, 6, 6, 2];
        let models = [
            Model::Linear {
                n_inputs: 3,
                n_outputs: 2,
            },
            Model::Logistic { n_inputs: 3 },
            Model::Softmax {
                n_inputs: 3,
                n_classes: 4,
            },
            Model::Mlp(
                Mlp::with_hidden(vec![3, 5, 4, 2], Activation::Tanh, Activation::Identity).unwrap(),
            ),
            Model::Mlp(
                Mlp::new(vec![3, 6, 1], vec![Activation::Gelu, Activation::Sigmoid]).unwrap(),
            ),
            Model::Mlp(
                Mlp::new(
                    vec![3, 4, 4, 3],
                    vec![
                        Activation::LeakyRelu,
                        Activation::Softplus,
                        Activation::Relu,
                    ],
                )
                .unwrap(),
            ),
        ];
        for model in &models {
            let p: Vec<f64> = (0..model.n_params())
                .map(|i| (f64::from(i as u32) * 0.37).sin() * 0.8)
                .collect();
            let weights: Vec<f64> = (0..indices.len() * model.n_outputs())
                .map(|q| 0.3 + f64::from(q as u32) * 0.1)
                .collect();
            let per_sample = |p: &[f64]| -> Vec<f64> {
                let mut all = Vec::new();
                let mut out = Vec::new();
                for &i in &indices {
                    model.forward(p, data.row(i), &mut out);
                    all.extend_from_slice(&out);
                }
                all
            };
            // The batch runs on matrix kernels that sum in blocks: equal to rounding.
            let batched = model.forward_batch(&p, &data, &indices);
            testing::assert_close(&batched, &per_sample(&p), 1e-14, "batched vs per sample");
            // A weighted sum of the outputs, batched on a fused and on a plain tape, and per
            // sample on a plain tape.
            fn loss<'t>(
                model: &Model,
                v: &[Var<'t>],
                data: &Dataset,
                idx: &[usize],
                w: &[f64],
                batch: bool,
            ) -> Var<'t> {
                let outs = if batch {
                    model.forward_batch(v, data, idx)
                } else {
                    let mut all = Vec::new();
                    let mut out = Vec::new();
                    for &i in idx {
                        model.forward(v, data.row(i), &mut out);
                        all.extend_from_slice(&out);
                    }
                    all
                };
                Var::dot_const(&outs, w)
            }
            let n = p.len();
            let (mut g_fused, mut g_plain, mut g_rows) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            let v_fused = gradient_with(&mut Tape::fused(), &p, &mut g_fused, |v| {
                loss(model, v, &data, &indices, &weights, true)
            });
            let v_plain = gradient_with(&mut Tape::new(), &p, &mut g_plain, |v| {
                loss(model, v, &data, &indices, &weights, true)
            });
            let v_rows = gradient_with(&mut Tape::new(), &p, &mut g_rows, |v| {
                loss(model, v, &data, &indices, &weights, false)
            });
            // A fused tape computes the batch with `f64`'s kernels: the same bits as the
            // plain value; a plain tape records the loops, the same bits as per sample.
            let value: f64 = Scalar::dot_const(&batched, &weights);
            assert_eq!(v_fused.to_bits(), value.to_bits(), "{model}");
            assert_eq!(v_plain.to_bits(), v_rows.to_bits(), "{model}");
            let g_dual = testing::dual_grad(&p, |v| {
                let outs = model.forward_batch(v, &data, &indices);
                testing::D::dot_const(&outs, &weights)
            });
            testing::assert_close(&g_fused, &g_rows, 1e-12, "fused batch vs per-sample tape");
            testing::assert_close(&g_plain, &g_rows, 1e-12, "plain batch vs per-sample tape");
            testing::assert_close(&g_dual, &g_rows, 1e-12, "forward mode vs per-sample tape");
        }
    }
}
