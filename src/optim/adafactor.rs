//! Adafactor (torch.optim.Adafactor): a second-moment estimate factored into row and column
//! means for weight matrices, a relative step size, and update clipping.
//!
//! torch's implementation deviates from the paper (Shazeer & Stern 2018) in three documented
//! ways, which this file follows:
//! - `lr` caps the relative step size, `ρₜ = min(lr, 1/√t)`, where the paper uses the constant
//!   0.01 (hence the default `lr = 1e-2`); `lr` also scales the decoupled weight decay
//!   `θ *= 1 − lr·λ`, on which the paper takes no position.
//! - `eps₁` is applied after the factors, not added to `G²` inside them: the variance estimate's
//!   divisor is `max(mean(R), eps₁)` and the update is `G / max(√V̂, eps₁)` (as `rsqrt` of
//!   `V̂` clamped at `eps₁²`), leaving `R` and `C` plain running means of `G²`.
//! - the factors are means of `G²` over rows and columns, not sums (equivalent, and stabler).
//!
//! `eps = (None, 1e-3)`: torch's `None` for `eps₁` means the machine epsilon of the parameters'
//! dtype, `torch.finfo(float64).eps = 2⁻⁵² ≈ 2.22e-16` here; write `[null, 0.001]` in a scenario
//! and `(None, 0.001)` in the editor. torch's `foreach` flag only picks its multi-tensor kernel,
//! which computes the same numbers, so it is not a hyperparameter here (as for every optimizer).
//!
//! Which path a parameter takes follows its tensor shape (see [`ParamLayout`]): the weight
//! matrices of a model are factored, and its biases, and the single vector of an expression
//! objective, are not. `ρ`, the RMS scaling and the clipping are per tensor, as in torch.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Range, Scale, float, ge, le, lr, maximize,
    optional_pair,
};
use super::layout::{ParamLayout, Shape};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, eval_gradient, lerp, named_buffers, norm2};

/// torch.optim.Adafactor's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdafactorHypers {
    pub lr: f64,
    pub beta2_decay: f64,
    /// `(eps₁, eps₂)`; `None` for `eps₁` is the dtype's machine epsilon.
    pub eps: (Option<f64>, f64),
    pub d: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Hypers for AdafactorHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        let nonneg = Range::new(ge(0.0), INF);
        [
            lr(&mut self.lr),
            float(
                "beta2_decay",
                &mut self.beta2_decay,
                INF,
                le(0.0),
                Scale::Linear,
                "decay rate of beta2: 1 − β₂ₜ = t^beta2_decay",
            ),
            optional_pair(
                "eps",
                &mut self.eps,
                nonneg,
                nonneg,
                Scale::Log,
                "(eps1, eps2): denominator floor (None: machine epsilon), floor of the parameter RMS",
            ),
            float(
                "d",
                &mut self.d,
                ge(1.0),
                INF,
                Scale::Linear,
                "clipping threshold of the update's RMS",
            ),
            float(
                "weight_decay",
                &mut self.weight_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "decoupled weight decay: θ *= 1 − lr·weight_decay",
            ),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static ADAFACTOR: OptimizerSpec = OptimizerSpec {
    name: "adafactor",
    description: "factored second moments, relative step size (torch.optim.Adafactor)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Adafactor::new(
            b.hypers(AdafactorHypers {
                lr: 1e-2,
                beta2_decay: -0.8,
                eps: (None, 1e-3),
                d: 1.0,
                weight_decay: 0.0,
                maximize: false,
            }),
            b.layout.clone(),
        ))
    },
};

/// torch.optim.Adafactor, single-tensor path, one tensor per block of the layout.
#[derive(Clone, Debug)]
pub struct Adafactor {
    h: HyperSet<AdafactorHypers>,
    layout: ParamLayout,
    step: u64,
    /// Row means of `G²` of every matrix, concatenated (`rows` entries each).
    row_var: Vec<f64>,
    /// Column means of `G²` of every matrix, concatenated (`cols` entries each).
    col_var: Vec<f64>,
    /// Running mean of `G²` of every vector, at its own positions (unused inside matrices).
    variance: Vec<f64>,
    grad: Vec<f64>,
    update: Vec<f64>,
}

impl Adafactor {
    pub fn new(h: HyperSet<AdafactorHypers>, layout: ParamLayout) -> Self {
        Self {
            h,
            layout,
            step: 0,
            row_var: Vec::new(),
            col_var: Vec::new(),
            variance: Vec::new(),
            grad: Vec::new(),
            update: Vec::new(),
        }
    }

    fn init_state(&mut self, n: usize) {
        self.layout = self.layout.fitted(n);
        let (mut rows, mut cols) = (0, 0);
        for b in self.layout.blocks() {
            if let Shape::Matrix { rows: r, cols: c } = b.shape {
                rows += r;
                cols += c;
            }
        }
        self.row_var = vec![0.0; rows];
        self.col_var = vec![0.0; cols];
        self.variance = vec![0.0; n];
        self.update = vec![0.0; n];
    }
}

/// `torch.linalg.vector_norm(v).square_().div_(n)`: the mean of squares as torch computes it.
fn mean_square(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    let norm = values.map(|g| g * g).sum::<f64>().sqrt();
    norm * norm / n as f64
}

/// `Tensor.rsqrt_` on CPU: the reciprocal of the square root, two roundings.
fn rsqrt(x: f64) -> f64 {
    1.0 / x.sqrt()
}

impl Optimizer for Adafactor {
    // per tensor: t += 1; G = ±∇f; 1−β₂ₜ = t^τ; ρ = min(γ, 1/√t); α = max(ε₂, RMS(θ))·ρ;
    // θ *= 1 − γλ; matrix: R = lerp(R, mean_j G², 1−β₂ₜ), C = lerp(C, mean_i G², 1−β₂ₜ),
    // V̂ = R Cᵀ / max(mean(R), ε₁); vector: V̂ = lerp(V̂, G², 1−β₂ₜ);
    // U = G / √max(V̂, ε₁²); θ −= α / max(1, RMS(U)/d) · U
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let AdafactorHypers {
            lr,
            beta2_decay,
            eps: (eps1, eps2),
            d,
            weight_decay,
            maximize,
        } = *self.h;
        if self.step == 0 {
            self.init_state(params.len());
        }
        self.step += 1;
        let t = self.step as f64;
        let eps1 = eps1.unwrap_or(f64::EPSILON);
        let one_minus_beta2 = t.powf(beta2_decay);
        let rho = lr.min(1.0 / t.powf(0.5));
        if maximize {
            self.grad.iter_mut().for_each(|g| *g = -*g);
        }
        let (mut row0, mut col0) = (0, 0);
        for block in self.layout.blocks() {
            let range = block.range.clone();
            let numel = range.len();
            if numel == 0 {
                continue;
            }
            let sqrt_numel = (numel as f64).powf(0.5);
            let alpha = eps2.max(norm2(&params[range.clone()]) / sqrt_numel) * rho;
            if weight_decay != 0.0 {
                params[range.clone()]
                    .iter_mut()
                    .for_each(|p| *p *= 1.0 - lr * weight_decay);
            }
            let g = &self.grad[range.clone()];
            let u = &mut self.update[range.clone()];
            match block.shape {
                Shape::Matrix { rows, cols } => {
                    let row_var = &mut self.row_var[row0..row0 + rows];
                    let col_var = &mut self.col_var[col0..col0 + cols];
                    row0 += rows;
                    col0 += cols;
                    for (i, r) in row_var.iter_mut().enumerate() {
                        let mean = mean_square(g[i * cols..(i + 1) * cols].iter().copied(), cols);
                        *r = lerp(*r, mean, one_minus_beta2);
                    }
                    for (j, c) in col_var.iter_mut().enumerate() {
                        let mean = mean_square((0..rows).map(|i| g[i * cols + j]), rows);
                        *c = lerp(*c, mean, one_minus_beta2);
                    }
                    let row_mean = (row_var.iter().sum::<f64>() / rows as f64).max(eps1);
                    for i in 0..rows {
                        for j in 0..cols {
                            let v = row_var[i] * col_var[j] / row_mean;
                            u[i * cols + j] = rsqrt(v.max(eps1 * eps1)) * g[i * cols + j];
                        }
                    }
                }
                Shape::Vector(_) => {
                    let variance = &mut self.variance[range.clone()];
                    for ((v, &gi), ui) in variance.iter_mut().zip(g).zip(u.iter_mut()) {
                        *v = lerp(*v, gi * gi, one_minus_beta2);
                        *ui = rsqrt(v.max(eps1 * eps1)) * gi;
                    }
                }
            }
            let denom = 1.0_f64.max(norm2(u) / (sqrt_numel * d));
            let scale = -alpha / denom;
            for (p, ui) in params[range].iter_mut().zip(u.iter()) {
                *p += scale * ui;
            }
        }
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }

    fn state(&self) -> Vec<StateVector> {
        if self.step == 0 {
            return Vec::new();
        }
        let mut v = Vec::new();
        if !self.row_var.is_empty() {
            v.extend(named_buffers([
                ("row_var", &self.row_var),
                ("col_var", &self.col_var),
            ]));
        }
        let vectors: Vec<f64> = self
            .layout
            .blocks()
            .iter()
            .filter(|b| matches!(b.shape, Shape::Vector(_)))
            .flat_map(|b| self.variance[b.range.clone()].iter().copied())
            .collect();
        if !vectors.is_empty() {
            v.push(StateVector::new("variance", &vectors));
        }
        v.push(StateVector::new("update", &self.update));
        v
    }

    fn reset(&mut self) {
        self.step = 0;
        self.row_var.clear();
        self.col_var.clear();
        self.variance.clear();
        self.update.clear();
    }

    fn hyper_set(&self) -> &dyn HyperAccess {
        &self.h
    }

    fn hyper_set_mut(&mut self) -> &mut dyn HyperAccess {
        &mut self.h
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::super::registry::build;
    use super::super::testutil::*;

    /// Independent transcription of torch's `_single_tensor_adafactor` for one vector tensor.
    fn reference(
        steps: usize,
        lr: f64,
        tau: f64,
        eps1: f64,
        eps2: f64,
        d: f64,
        wd: f64,
    ) -> Vec<[f64; 2]> {
        let mut p = START;
        let mut v = [0.0; 2];
        let mut out = vec![];
        for t in 1..=steps {
            let g = quad_grad(&p);
            let t = t as f64;
            let beta2_hat = 1.0 - t.powf(tau);
            let rho = lr.min(1.0 / t.sqrt());
            let rms = ((p[0] * p[0] + p[1] * p[1]) / 2.0).sqrt();
            let alpha = eps2.max(rms) * rho;
            let mut u = [0.0; 2];
            for i in 0..2 {
                p[i] -= lr * wd * p[i];
                v[i] = beta2_hat * v[i] + (1.0 - beta2_hat) * g[i] * g[i];
                u[i] = g[i] / v[i].sqrt().max(eps1);
            }
            let rms_u = ((u[0] * u[0] + u[1] * u[1]) / 2.0).sqrt();
            for i in 0..2 {
                p[i] -= alpha * u[i] / (rms_u / d).max(1.0);
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn vector_path_matches_the_transcription() {
        let h = [
            ("lr".into(), 0.05.into()),
            ("beta2_decay".into(), (-0.6).into()),
            ("eps".into(), (Some(1e-4), 1e-2).into()),
            ("d".into(), 1.5.into()),
            ("weight_decay".into(), 0.1.into()),
        ];
        let mut o = build("adafactor", &h, 0, 2).expect("builds");
        let got = trajectory(o.as_mut(), 25);
        assert_close(
            &got,
            &reference(25, 0.05, -0.6, 1e-4, 1e-2, 1.5, 0.1),
            1e-13,
        );
    }

    #[test]
    fn none_is_the_machine_epsilon() {
        let none = build("adafactor", &[], 0, 2).expect("builds");
        assert_eq!(
            none.hyperparameters()[2],
            ("eps".to_string(), (None, 1e-3).into())
        );
        let mut explicit = build(
            "adafactor",
            &[("eps".into(), (f64::EPSILON, 1e-3).into())],
            0,
            2,
        )
        .expect("builds");
        assert_eq!(
            explicit.hyperparameters()[2],
            ("eps".to_string(), (Some(f64::EPSILON), 1e-3).into())
        );
        let mut none = none;
        assert_eq!(
            trajectory(none.as_mut(), 30),
            trajectory(explicit.as_mut(), 30)
        );
    }

    #[test]
    fn a_model_shows_factored_and_full_second_moments() {
        use super::super::layout::{ParamLayout, Shape};
        // W (2×3) and b (2): row_var has 2 entries, col_var 3, variance the bias's 2
        let layout = ParamLayout::new([Shape::Matrix { rows: 2, cols: 3 }, Shape::Vector(2)]);
        let mut o =
            super::super::registry::build_for("adafactor", &[], 0, &layout).expect("builds");
        let mut oracle = super::super::FnOracle::new(8, |x| x.iter().map(|v| v * v).sum())
            .with_gradient(|x, g| {
                for (gi, xi) in g.iter_mut().zip(x) {
                    *gi = 2.0 * xi;
                }
            });
        let mut x = vec![0.5, -1.0, 0.25, 2.0, 1.0, -0.5, 3.0, -2.0];
        o.step(&mut x, &mut oracle);
        let state = o.state();
        let shapes: Vec<_> = state.iter().map(|s| (s.name, s.values.len())).collect();
        assert_eq!(
            shapes,
            [
                ("row_var", 2),
                ("col_var", 3),
                ("variance", 2),
                ("update", 8)
            ]
        );
        // step 1: 1 − β₂ = 1, so the factors are the plain means of G² = 4x²
        let row0 = 4.0 * (0.25 + 1.0 + 0.0625) / 3.0;
        assert!((state[0].values[0] - row0).abs() < 1e-15);
        assert!((state[2].values[0] - 36.0).abs() < 1e-12);
    }

    #[test]
    fn torch_fixtures() {
        fixtures::check_file(include_str!("../../tests/fixtures/optim/adafactor.json"));
    }
}
