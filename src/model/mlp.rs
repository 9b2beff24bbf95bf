//! The multi-layer perceptron and the activation functions its layers apply.

use std::sync::Arc;

use super::{ModelError, ParamGroup, Predictor, layer_groups};
use crate::ad::Scalar;
use crate::ad::layer::Dense;
pub use crate::ad::layer::{Activation, LEAKY_SLOPE};
use crate::data::Dataset;

impl Activation {
    /// Looks an activation up by [`name`](Self::name), suggesting the nearest on a typo.
    pub fn from_name(name: &str) -> Result<Activation, ModelError> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                let names: Vec<String> = Activation::ALL
                    .iter()
                    .map(|a| a.name().to_owned())
                    .collect();
                ModelError::UnknownActivation {
                    name: name.to_owned(),
                    suggestion: crate::suggest::nearest(name, &names),
                }
            })
    }
}

/// A multi-layer perceptron: layer sizes `[d, h1, ..., out]` and one activation per layer
/// after the input (the output layer's is usually [`Activation::Identity`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    sizes: Vec<usize>,
    activations: Vec<Activation>,
}

impl Mlp {
    /// An MLP with the given activation on every layer after the input.
    pub fn new(sizes: Vec<usize>, activations: Vec<Activation>) -> Result<Mlp, ModelError> {
        if sizes.len() < 2 {
            return Err(ModelError::TooFewLayers(sizes));
        }
        if sizes.contains(&0) {
            return Err(ModelError::ZeroWidth(sizes));
        }
        if activations.len() != sizes.len() - 1 {
            return Err(ModelError::ActivationCount {
                expected: sizes.len() - 1,
                got: activations.len(),
            });
        }
        Ok(Mlp { sizes, activations })
    }

    /// The common case: `hidden` on every hidden layer, `output` on the last.
    pub fn with_hidden(
        sizes: Vec<usize>,
        hidden: Activation,
        output: Activation,
    ) -> Result<Mlp, ModelError> {
        let layers = sizes.len().saturating_sub(1);
        let mut activations = vec![hidden; layers.saturating_sub(1)];
        activations.push(output);
        Mlp::new(sizes, activations)
    }

    #[must_use]
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    #[must_use]
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    /// The layers as [`Dense`] descriptions, input to output (what
    /// [`Scalar::dense_stack`] runs, and how the parameters divide into layers).
    #[must_use]
    pub fn dense_layers(&self) -> Vec<Dense> {
        self.sizes
            .windows(2)
            .zip(&self.activations)
            .map(|(w, &activation)| Dense {
                inputs: w[0],
                outputs: w[1],
                activation,
            })
            .collect()
    }

    /// Each layer of `params` in the documented order: its index, input and output widths,
    /// weights (`[outputs][inputs]`, row-major), biases and activation.
    fn layers<'p, S>(&'p self, params: &'p [S]) -> impl Iterator<Item = Layer<'p, S>> + 'p {
        let mut offset = 0;
        self.sizes
            .windows(2)
            .zip(&self.activations)
            .enumerate()
            .map(move |(index, (w, &act))| {
                let (inputs, outputs) = (w[0], w[1]);
                let (weights, biases) =
                    params[offset..offset + (inputs + 1) * outputs].split_at(inputs * outputs);
                offset += (inputs + 1) * outputs;
                Layer {
                    index,
                    inputs,
                    outputs,
                    weights,
                    biases,
                    act,
                }
            })
    }
}

/// One layer's slice of an [`Mlp`]'s parameters (see [`Mlp::layers`]).
struct Layer<'p, S> {
    index: usize,
    inputs: usize,
    outputs: usize,
    weights: &'p [S],
    biases: &'p [S],
    act: Activation,
}

impl Predictor for Mlp {
    fn n_params(&self) -> usize {
        self.sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    fn n_inputs(&self) -> usize {
        self.sizes[0]
    }

    fn n_outputs(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    fn forward<S: Scalar>(&self, params: &[S], x: &[f64], out: &mut Vec<S>) {
        // Both layer buffers live in `out` (halves `a` and `b`, alternating as source and
        // destination), so a caller reusing `out` across samples allocates nothing per sample.
        let widest = self.sizes[1..].iter().copied().max().unwrap_or(0);
        out.clear();
        out.resize(2 * widest, S::constant(0.0));
        let (a, b) = out.split_at_mut(widest);
        for layer in self.layers(params) {
            let Layer {
                index: l,
                inputs,
                outputs,
                weights,
                biases,
                act,
            } = layer;
            // One matrix-vector node block per layer on a tape (`S::matvec`), then the bias
            // and the activation per unit: the same f64 operations as `dot(row, h) + b`.
            let (src, dst) = if l % 2 == 0 {
                (&*b, &mut *a)
            } else {
                (&*a, &mut *b)
            };
            let dst = &mut dst[..outputs];
            if l == 0 {
                S::matvec_const(weights, x.get(..inputs).unwrap_or(x), dst);
            } else {
                S::matvec(weights, &src[..inputs], dst);
            }
            for (v, &bias) in dst.iter_mut().zip(biases) {
                *v = act.apply(*v + bias);
            }
        }
        let layers = self.sizes.len() - 1;
        let m = self.sizes[layers];
        if layers % 2 == 0 {
            // The last layer wrote the second half.
            out.copy_within(widest..widest + m, 0);
        }
        out.truncate(m);
    }

    /// The whole batch through [`Scalar::dense_stack`]: each layer one matrix product and
    /// one vector activation for `f64`, one node per layer on a fused tape (whose backward is
    /// matrix products), one [`Scalar::affine_batch`] and the activation per unit for the
    /// other engines. Values agree with [`forward`](Predictor::forward) per sample to
    /// rounding (the matrix kernels sum in blocks).
    fn forward_batch<S: Scalar>(&self, params: &[S], data: &Dataset, indices: &[usize]) -> Vec<S> {
        let x = data.features_of(indices);
        S::dense_stack(&self.dense_layers(), params, &x, indices.len())
    }

    fn forward_shared<S: Scalar>(&self, params: &[S], rows: &Arc<[f64]>) -> Vec<S> {
        let batch = rows.len() / self.n_inputs().max(1);
        S::dense_stack_shared(&self.dense_layers(), params, rows, batch)
    }

    fn param_groups(&self) -> Vec<ParamGroup> {
        layer_groups(&self.sizes)
    }

    fn describe(&self) -> String {
        format!("layers {:?}", self.sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::{assert_close, dual_grad, fd_grad};

    #[test]
    fn layout_of_a_2_2_1_network_by_hand() {
        let mlp = Mlp::with_hidden(vec![2, 2, 1], Activation::Tanh, Activation::Identity).unwrap();
        assert_eq!(mlp.n_params(), 9);
        // W1 = [[0.1, 0.2], [-0.3, 0.4]], b1 = [0.5, -0.6], W2 = [[0.7, -0.8]], b2 = [0.9].
        let p = [0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, -0.8, 0.9];
        let x = [1.0, 2.0];
        let h1 = (0.1 * 1.0 + 0.2 * 2.0 + 0.5_f64).tanh();
        let h2 = (-0.3 * 1.0 + 0.4 * 2.0 - 0.6_f64).tanh();
        let want = 0.7 * h1 - 0.8 * h2 + 0.9;
        let mut out = Vec::new();
        mlp.forward(&p, &x, &mut out);
        assert_eq!(out.len(), 1);
        assert!((out[0] - want).abs() < 1e-15, "{} vs {want}", out[0]);
        // Same numbers by hand: tanh(1.0) and tanh(-0.1).
        assert!((out[0] - (0.7 * 1.0_f64.tanh() - 0.8 * (-0.1_f64).tanh() + 0.9)).abs() < 1e-15);
    }

    #[test]
    fn activations_by_value() {
        let cases = [
            (Activation::Identity, -2.0, -2.0),
            (Activation::Tanh, 0.5, 0.5_f64.tanh()),
            (Activation::Sigmoid, 0.0, 0.5),
            (Activation::Relu, -1.0, 0.0),
            (Activation::Relu, 1.5, 1.5),
            (Activation::LeakyRelu, -2.0, -0.02),
            (Activation::LeakyRelu, 3.0, 3.0),
            (Activation::Softplus, 0.0, std::f64::consts::LN_2),
            // The tanh formula evaluated in Python's `math` (PyTorch is not installed here).
            (Activation::Gelu, 1.0, 0.841_191_990_608_276_8),
            (Activation::Gelu, -1.0, -0.158_808_009_391_723_24),
        ];
        for (act, x, want) in cases {
            let got = act.apply(x);
            assert!(
                (got - want).abs() < 1e-15,
                "{act}({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn activation_derivatives_match_finite_differences() {
        for act in Activation::ALL {
            for x in [-1.7, -0.3, 0.4, 2.2] {
                let g = dual_grad(&[x], |v| act.apply(v[0]));
                let f = fd_grad(&[x], |v| act.apply(v[0]));
                assert_close(&g, &f, 1e-6, act.name());
            }
        }
        // PyTorch's one-sided choices at the kinks.
        assert_eq!(
            dual_grad(&[0.0], |v| Activation::Relu.apply(v[0])),
            vec![0.0]
        );
        assert_eq!(
            dual_grad(&[0.0], |v| Activation::LeakyRelu.apply(v[0])),
            vec![0.01]
        );
    }

    #[test]
    fn names_and_errors() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_name(a.name()), Ok(a));
        }
        let err = Activation::from_name("tahn").unwrap_err().to_string();
        assert!(
            err.starts_with("unknown activation 'tahn' (did you mean 'tanh'?); known:"),
            "{err}"
        );
        assert!(Mlp::new(vec![2], vec![]).is_err());
        assert!(Mlp::new(vec![2, 0, 1], vec![Activation::Tanh; 2]).is_err());
        let err = Mlp::new(vec![2, 3, 1], vec![Activation::Tanh]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected 2 activations (one per layer after the input), got 1"
        );
        let deep = Mlp::with_hidden(vec![3, 4, 5, 2], Activation::Relu, Activation::Identity);
        let deep = deep.unwrap();
        assert_eq!(deep.n_params(), 4 * 4 + 5 * 5 + 6 * 2);
        assert_eq!(
            deep.activations(),
            &[Activation::Relu, Activation::Relu, Activation::Identity]
        );
    }
}
