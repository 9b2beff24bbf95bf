//! A layered model (an MLP, or linear, logistic or softmax regression: one layer) taken layer
//! by layer, as the textbook writes back-propagation: for one training example the forward
//! pass `z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾`, `a⁽ˡ⁾ = σ(z⁽ˡ⁾)`, then the error signals backward,
//! `δ⁽ᴸ⁾ = ∂ℓ/∂a⁽ᴸ⁾ ⊙ σ′(z⁽ᴸ⁾)` and `δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ σ′(z⁽ˡ⁾)`, and the weight
//! gradients `∂ℓ/∂W⁽ˡ⁾ = δ⁽ˡ⁾ a⁽ˡ⁻¹⁾ᵀ`, `∂ℓ/∂b⁽ˡ⁾ = δ⁽ˡ⁾`. Over a set of examples, the means
//! (plus the L2 penalty's `2λW`) are the gradient the engines compute.
//!
//! This is a dedicated pass for display, in plain `f64`, so that each number on screen is the
//! formula beside it; its pieces come from the code the engines differentiate (the loss of one
//! example is [`data_loss`] itself, differentiated by the tape; `σ′` is the activation's own
//! code carried through a dual number). The tests check it against the tape's gradient and
//! against finite differences.

use crate::ad::Scalar;
use crate::ad::dual::Dual;
use crate::ad::tape::{Tape, gradient_with};
use crate::data::Dataset;
use crate::model::loss::data_loss;
use crate::model::{Activation, Loss, Model, Predictor};
use crate::objective::LayeredModel;

/// At most this many examples enter a summary: larger training sets are sampled evenly (every
/// `k`-th example), which keeps a summary's cost bounded whatever the data.
pub const MAX_SUMMARY_EXAMPLES: usize = 4096;

/// A layered model's shape: layer widths `[inputs, ..., outputs]` and one activation per layer
/// after the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Layers {
    pub sizes: Vec<usize>,
    pub activations: Vec<Activation>,
}

impl Layers {
    /// The shape of `model`: an MLP's own, a single identity layer for the regressions (their
    /// link, sigmoid or softmax, is part of the loss).
    #[must_use]
    pub fn of(model: &Model) -> Layers {
        match model {
            Model::Mlp(m) => Layers {
                sizes: m.sizes().to_vec(),
                activations: m.activations().to_vec(),
            },
            _ => Layers {
                sizes: model.layer_sizes(),
                activations: vec![Activation::Identity],
            },
        }
    }

    /// Number of weight layers (`L`).
    #[must_use]
    pub fn depth(&self) -> usize {
        self.sizes.len().saturating_sub(1)
    }

    /// Where layer `l`'s (1-based) weights start in the parameter vector: `W⁽ˡ⁾` is
    /// `[outputs][inputs]` row-major, then `b⁽ˡ⁾` (the models' documented layout).
    #[must_use]
    pub fn offset(&self, l: usize) -> usize {
        self.sizes
            .windows(2)
            .take(l.saturating_sub(1))
            .map(|w| (w[0] + 1) * w[1])
            .sum()
    }

    /// `W⁽ˡ⁾[j][k]`: the weight from unit `k` of layer `l - 1` into unit `j` of layer `l`.
    #[must_use]
    pub fn weight(&self, params: &[f64], l: usize, j: usize, k: usize) -> f64 {
        params[self.offset(l) + j * self.sizes[l - 1] + k]
    }

    /// `b⁽ˡ⁾[j]`.
    #[must_use]
    pub fn bias(&self, params: &[f64], l: usize, j: usize) -> f64 {
        let (n, m) = (self.sizes[l - 1], self.sizes[l]);
        params[self.offset(l) + n * m + j]
    }

    /// The weights of layer `l`, row-major.
    #[must_use]
    pub fn weights<'p>(&self, params: &'p [f64], l: usize) -> &'p [f64] {
        let start = self.offset(l);
        &params[start..start + self.sizes[l - 1] * self.sizes[l]]
    }
}

/// One example through the network, forward and backward. Index `l` is layer `l` (`0` the
/// input, which has activations only).
#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    /// `a⁽⁰⁾ = x`, `a⁽ˡ⁾ = σ(z⁽ˡ⁾)`.
    pub a: Vec<Vec<f64>>,
    /// `z⁽ˡ⁾` (empty for the input).
    pub z: Vec<Vec<f64>>,
    /// `σ′(z⁽ˡ⁾)`.
    pub slope: Vec<Vec<f64>>,
    /// `∂ℓ/∂a⁽ᴸ⁾`: the loss of this example with respect to the outputs.
    pub output_grad: Vec<f64>,
    /// `δ⁽ˡ⁾ = ∂ℓ/∂z⁽ˡ⁾` (empty for the input).
    pub delta: Vec<Vec<f64>>,
    /// This example's loss `ℓ` (no penalty).
    pub loss: f64,
}

impl Pass {
    /// `∂ℓ/∂W⁽ˡ⁾[j][k] = δ⁽ˡ⁾[j] · a⁽ˡ⁻¹⁾[k]`.
    #[must_use]
    pub fn weight_grad(&self, l: usize, j: usize, k: usize) -> f64 {
        self.delta[l][j] * self.a[l - 1][k]
    }
}

/// A one-layer "model" whose outputs are its parameters: `data_loss` over it is the loss of
/// given outputs, which the tape differentiates into `∂ℓ/∂a⁽ᴸ⁾`.
struct Outputs {
    inputs: usize,
    outputs: usize,
}

impl Predictor for Outputs {
    fn n_params(&self) -> usize {
        self.outputs
    }
    fn n_inputs(&self) -> usize {
        self.inputs
    }
    fn n_outputs(&self) -> usize {
        self.outputs
    }
    fn forward<S: Scalar>(&self, params: &[S], _x: &[f64], out: &mut Vec<S>) {
        out.clear();
        out.extend_from_slice(params);
    }
}

/// The peak of `σ′` for activations that have a flat region, the slope a unit's is compared
/// with to call it saturated (or dead); `None` for the identity, which never is.
fn peak_slope(act: Activation) -> Option<f64> {
    match act {
        Activation::Identity => None,
        Activation::Sigmoid => Some(0.25),
        Activation::Tanh
        | Activation::Relu
        | Activation::LeakyRelu
        | Activation::Softplus
        | Activation::Gelu => Some(1.0),
    }
}

/// A unit is in the flat region of its activation where `|σ′(z)|` is below this fraction of
/// the activation's peak slope: `|a| > 0.975` for tanh, `a < 0.013` or `a > 0.987` for the
/// sigmoid, `z ≤ 0` for ReLU (slope 0) and leaky ReLU (slope 0.01).
pub const FLAT: f64 = 0.05;

/// Whether slope `s` of activation `act` is in its flat region.
#[must_use]
pub fn is_flat(act: Activation, s: f64) -> bool {
    peak_slope(act).is_some_and(|peak| s.abs() < FLAT * peak)
}

/// A layered model with its loss and data, to take apart.
#[derive(Debug, Clone, Copy)]
pub struct Network<'a> {
    pub model: &'a Model,
    pub loss: Loss,
    pub data: &'a Dataset,
}

impl<'a> Network<'a> {
    #[must_use]
    pub fn new(parts: LayeredModel<'a>) -> Network<'a> {
        Network {
            model: parts.model,
            loss: parts.loss,
            data: parts.train,
        }
    }

    #[must_use]
    pub fn layers(&self) -> Layers {
        Layers::of(self.model)
    }

    /// Example `i` of the data forward and backward at `params`.
    #[must_use]
    pub fn pass(&self, params: &[f64], i: usize) -> Pass {
        let mut tape = Tape::fused();
        self.pass_with(&self.layers(), params, i, &mut tape)
    }

    fn pass_with(&self, layers: &Layers, params: &[f64], i: usize, tape: &mut Tape) -> Pass {
        let depth = layers.depth();
        let mut a = vec![self.data.row(i).to_vec()];
        let mut z = vec![Vec::new()];
        let mut slope = vec![Vec::new()];
        for l in 1..=depth {
            let (n, m) = (layers.sizes[l - 1], layers.sizes[l]);
            let act = layers.activations[l - 1];
            let w = layers.weights(params, l);
            // The model's own order: the dot product from 0, then the bias.
            let zl: Vec<f64> = (0..m)
                .map(|j| {
                    let row = &w[j * n..(j + 1) * n];
                    let dot = row
                        .iter()
                        .zip(&a[l - 1])
                        .fold(0.0, |acc, (w, x)| acc + w * x);
                    dot + layers.bias(params, l, j)
                })
                .collect();
            let (al, sl): (Vec<f64>, Vec<f64>) = zl
                .iter()
                .map(|&v| {
                    let d = act.apply(Dual::new(v, 1.0));
                    (act.apply(v), d.eps)
                })
                .unzip();
            z.push(zl);
            a.push(al);
            slope.push(sl);
        }
        let out = &a[depth];
        let m = out.len();
        let mut output_grad = vec![0.0; m];
        let kind = self.loss.kind;
        let outputs = Outputs {
            inputs: self.data.n_features,
            outputs: m,
        };
        let loss = gradient_with(tape, out, &mut output_grad, |v| {
            data_loss(&outputs, kind, v, self.data, &[i])
        });
        let mut delta = vec![Vec::new(); depth + 1];
        delta[depth] = output_grad
            .iter()
            .zip(&slope[depth])
            .map(|(g, s)| g * s)
            .collect();
        for l in (1..depth).rev() {
            let (m, next) = (layers.sizes[l], layers.sizes[l + 1]);
            let w = layers.weights(params, l + 1);
            delta[l] = (0..m)
                .map(|j| {
                    let back: f64 = (0..next).map(|k| w[k * m + j] * delta[l + 1][k]).sum();
                    back * slope[l][j]
                })
                .collect();
        }
        Pass {
            a,
            z,
            slope,
            output_grad,
            delta,
            loss,
        }
    }

    /// The examples a summary covers: all of them, or every `k`-th beyond
    /// [`MAX_SUMMARY_EXAMPLES`].
    #[must_use]
    pub fn examples(&self) -> Vec<usize> {
        let n = self.data.len();
        let stride = n.div_ceil(MAX_SUMMARY_EXAMPLES).max(1);
        (0..n).step_by(stride).collect()
    }

    /// Means over `examples` at `params`: the batch gradient and per-layer figures.
    #[must_use]
    pub fn summary(&self, params: &[f64], examples: &[usize]) -> Summary {
        let layers = self.layers();
        let depth = layers.depth();
        let mut tape = Tape::fused();
        let zeros = |l: usize| vec![0.0; layers.sizes[l]];
        let mut s = Summary {
            mean_activation: (0..=depth).map(zeros).collect(),
            mean_delta: (0..=depth)
                .map(|l| if l == 0 { Vec::new() } else { zeros(l) })
                .collect(),
            weight_grad: (0..=depth)
                .map(|l| {
                    if l == 0 {
                        Vec::new()
                    } else {
                        vec![0.0; layers.sizes[l - 1] * layers.sizes[l]]
                    }
                })
                .collect(),
            delta_rms: vec![0.0; depth + 1],
            saturated: vec![0.0; depth + 1],
            dead: vec![0.0; depth + 1],
            loss: 0.0,
            examples: examples.len(),
        };
        let mut flat_everywhere: Vec<Vec<bool>> =
            (0..=depth).map(|l| vec![true; layers.sizes[l]]).collect();
        let mut flat_count = vec![0usize; depth + 1];
        for &i in examples {
            let p = self.pass_with(&layers, params, i, &mut tape);
            s.loss += p.loss;
            for l in 0..=depth {
                for (m, v) in s.mean_activation[l].iter_mut().zip(&p.a[l]) {
                    *m += v;
                }
                if l == 0 {
                    continue;
                }
                let act = layers.activations[l - 1];
                for (j, (&d, &sl)) in p.delta[l].iter().zip(&p.slope[l]).enumerate() {
                    s.mean_delta[l][j] += d;
                    s.delta_rms[l] += d * d;
                    let flat = is_flat(act, sl);
                    flat_count[l] += usize::from(flat);
                    flat_everywhere[l][j] &= flat;
                    let n = layers.sizes[l - 1];
                    for (g, a) in s.weight_grad[l][j * n..(j + 1) * n]
                        .iter_mut()
                        .zip(&p.a[l - 1])
                    {
                        *g += d * a;
                    }
                }
            }
        }
        let count = examples.len().max(1) as f64;
        s.loss /= count;
        for l in 0..=depth {
            s.mean_activation[l].iter_mut().for_each(|v| *v /= count);
            if l == 0 {
                continue;
            }
            s.mean_delta[l].iter_mut().for_each(|v| *v /= count);
            s.delta_rms[l] = (s.delta_rms[l] / count).sqrt();
            let units = layers.sizes[l] as f64;
            s.saturated[l] = flat_count[l] as f64 / (count * units);
            let dead = flat_everywhere[l].iter().filter(|f| **f).count();
            s.dead[l] = if examples.is_empty() {
                0.0
            } else {
                dead as f64 / units
            };
            let w = layers.weights(params, l);
            let l2 = self.loss.l2;
            for (g, w) in s.weight_grad[l].iter_mut().zip(w) {
                *g = *g / count + 2.0 * l2 * w;
            }
        }
        s
    }
}

/// Means over a set of examples at one point. Index `l` is layer `l` (`0` the input).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Mean `a⁽ˡ⁾` per unit.
    pub mean_activation: Vec<Vec<f64>>,
    /// Mean `δ⁽ˡ⁾` per unit: `∂L/∂b⁽ˡ⁾`, the bias gradient.
    pub mean_delta: Vec<Vec<f64>>,
    /// `∂L/∂W⁽ˡ⁾ = mean δ⁽ˡ⁾ a⁽ˡ⁻¹⁾ᵀ + 2λ W⁽ˡ⁾`, row-major: the weight block of the gradient.
    pub weight_grad: Vec<Vec<f64>>,
    /// `√(mean |δ⁽ˡ⁾|²)`: how large the error signal reaching layer `l` is, per example.
    pub delta_rms: Vec<f64>,
    /// The fraction of (unit, example) pairs of layer `l` in the flat region of the
    /// activation ([`is_flat`]).
    pub saturated: Vec<f64>,
    /// The fraction of layer `l`'s units flat on every example (dead ReLUs).
    pub dead: Vec<f64>,
    /// The mean loss (no penalty).
    pub loss: f64,
    pub examples: usize,
}

/// The Euclidean (for a matrix, Frobenius) norm.
#[must_use]
pub fn frobenius(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

impl Summary {
    /// `‖∂L/∂W⁽ˡ⁾‖` (Frobenius).
    #[must_use]
    pub fn weight_grad_norm(&self, l: usize) -> f64 {
        frobenius(&self.weight_grad[l])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Task;
    use crate::model::{LossKind, Mlp, batch_loss};

    fn data(task: Task, targets: usize) -> Dataset {
        let mut features = Vec::new();
        let mut ys = Vec::new();
        for i in 0..6 {
            let t = f64::from(i);
            features.extend([(0.9 * t).sin(), (0.5 * t).cos() - 0.3, 0.2 * t - 0.4]);
            match task {
                Task::Regression => ys.extend((0..targets).map(|k| (t + k as f64).sin())),
                Task::Binary => ys.push(f64::from(i % 2)),
                Task::Multiclass(_) => ys.push(f64::from(i % 3)),
            }
        }
        Dataset {
            features,
            n_features: 3,
            targets: ys,
            n_targets: targets,
            task,
            feature_names: Vec::new(),
            target_names: Vec::new(),
        }
    }

    fn params(model: &Model) -> Vec<f64> {
        (0..model.n_params())
            .map(|i| (0.37 * i as f64).sin() * 0.8)
            .collect()
    }

    fn cases() -> Vec<(Model, Loss, Dataset)> {
        let mlp = |acts: Vec<Activation>, out: usize| {
            Model::Mlp(Mlp::new(vec![3, 4, 3, out], acts).unwrap())
        };
        use Activation::*;
        vec![
            (
                mlp(vec![Tanh, Sigmoid, Identity], 1),
                Loss::new(LossKind::BceWithLogits).with_l2(0.01),
                data(Task::Binary, 1),
            ),
            (
                mlp(vec![Relu, Gelu, Identity], 2),
                Loss::new(LossKind::Mse),
                data(Task::Regression, 2),
            ),
            (
                mlp(vec![Softplus, LeakyRelu, Identity], 3),
                Loss::new(LossKind::CrossEntropy),
                data(Task::Multiclass(3), 1),
            ),
            (
                Model::Softmax {
                    n_inputs: 3,
                    n_classes: 3,
                },
                Loss::new(LossKind::CrossEntropy),
                data(Task::Multiclass(3), 1),
            ),
            (
                Model::Linear {
                    n_inputs: 3,
                    n_outputs: 2,
                },
                Loss::new(LossKind::HUBER),
                data(Task::Regression, 2),
            ),
            (
                Model::Logistic { n_inputs: 3 },
                Loss::new(LossKind::BceWithLogits),
                data(Task::Binary, 1),
            ),
        ]
    }

    fn tape_grad(
        f: impl for<'t> Fn(&[crate::ad::tape::Var<'t>]) -> crate::ad::tape::Var<'t>,
        p: &[f64],
    ) -> Vec<f64> {
        let mut g = vec![0.0; p.len()];
        gradient_with(&mut Tape::new(), p, &mut g, |v| f(v));
        g
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1.0)
    }

    /// Per example: each δ is the loss's derivative with respect to the unit's bias (since
    /// `∂z/∂b = 1`) and `δ aᵀ` its derivative with respect to the weights, by the tape and by
    /// central differences; the outputs are the model's.
    #[test]
    fn per_example_deltas_and_weight_gradients_match_the_tape_and_finite_differences() {
        for (model, loss, data) in cases() {
            let p = params(&model);
            let net = Network {
                model: &model,
                loss,
                data: &data,
            };
            let layers = net.layers();
            for i in [0, 3, 5] {
                let pass = net.pass(&p, i);
                let mut out = Vec::new();
                model.forward(&p, data.row(i), &mut out);
                for (a, b) in pass.a[layers.depth()].iter().zip(&out) {
                    assert!(close(*a, *b, 1e-14), "{model}: output {a} vs {b}");
                }
                let one = |v: &[f64]| data_loss(&model, loss.kind, v, &data, &[i]);
                let tape = tape_grad(|v| data_loss(&model, loss.kind, v, &data, &[i]), &p);
                let h = 1e-6;
                let fd = |k: usize| {
                    let (mut up, mut down) = (p.clone(), p.clone());
                    up[k] += h;
                    down[k] -= h;
                    (one(&up) - one(&down)) / (2.0 * h)
                };
                for l in 1..=layers.depth() {
                    let (n, m) = (layers.sizes[l - 1], layers.sizes[l]);
                    let base = layers.offset(l);
                    for j in 0..m {
                        let b = base + n * m + j;
                        let d = pass.delta[l][j];
                        assert!(
                            close(d, tape[b], 1e-12),
                            "{model} l{l} δ{j}: {d} vs tape {}",
                            tape[b]
                        );
                        assert!(
                            close(d, fd(b), 1e-6),
                            "{model} l{l} δ{j}: {d} vs fd {}",
                            fd(b)
                        );
                        for k in 0..n {
                            let w = base + j * n + k;
                            let g = pass.weight_grad(l, j, k);
                            assert!(close(g, tape[w], 1e-12), "{model} W{l}[{j},{k}]");
                            assert!(close(g, fd(w), 1e-6), "{model} W{l}[{j},{k}] fd");
                        }
                    }
                }
                assert!(close(pass.loss, one(&p), 1e-14));
            }
        }
    }

    /// Over a batch, the mean δ (bias gradients) and the mean δ aᵀ plus the penalty (weight
    /// gradients) are the engines' gradient of the training loss.
    #[test]
    fn batch_means_are_the_engines_gradient() {
        for (model, loss, data) in cases() {
            let p = params(&model);
            let net = Network {
                model: &model,
                loss,
                data: &data,
            };
            let batch = [0, 2, 3, 5];
            let s = net.summary(&p, &batch);
            let mut g = vec![0.0; p.len()];
            let mut tape = Tape::fused();
            let value = gradient_with(&mut tape, &p, &mut g, |v| {
                batch_loss(&model, &loss, v, &data, &batch)
            });
            let layers = net.layers();
            for l in 1..=layers.depth() {
                let (n, m) = (layers.sizes[l - 1], layers.sizes[l]);
                let base = layers.offset(l);
                for (k, wg) in s.weight_grad[l].iter().enumerate() {
                    assert!(close(*wg, g[base + k], 1e-12), "{model}: W{l} {k}");
                }
                for j in 0..m {
                    assert!(
                        close(s.mean_delta[l][j], g[base + n * m + j], 1e-12),
                        "{model}: b{l}"
                    );
                }
            }
            let penalty = value - s.loss;
            assert!(
                penalty >= -1e-12 && (loss.l2 > 0.0 || penalty.abs() < 1e-12),
                "{model}"
            );
        }
    }

    #[test]
    fn saturation_and_dead_units_are_counted() {
        // A ReLU layer whose second unit has a large negative bias: dead on every example.
        let model = Model::Mlp(
            Mlp::new(vec![3, 2, 1], vec![Activation::Relu, Activation::Identity]).unwrap(),
        );
        let mut p = vec![0.1; model.n_params()];
        p[7] = -100.0; // b1[1]
        p[6] = 100.0; // b1[0]: always active
        let data = data(Task::Regression, 1);
        let net = Network {
            model: &model,
            loss: Loss::new(LossKind::Mse),
            data: &data,
        };
        let s = net.summary(&p, &net.examples());
        assert_eq!((s.saturated[1], s.dead[1]), (0.5, 0.5));
        assert_eq!((s.saturated[2], s.dead[2]), (0.0, 0.0));
        assert!(is_flat(Activation::Tanh, 1.0 - 0.98_f64 * 0.98));
        assert!(!is_flat(Activation::Tanh, 1.0 - 0.97_f64 * 0.97));
        assert!(is_flat(Activation::Sigmoid, 0.01 * 0.99));
        assert!(!is_flat(Activation::Identity, 0.0));
    }
}
