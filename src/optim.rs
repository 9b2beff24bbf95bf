//! Optimizers: the [`Oracle`] they query, the [`Optimizer`] trait, the torch.optim family and
//! beyond (one family a file in `optim/`, each with its update rule, typed hyperparameters and
//! registry spec), their [`hyper`]parameter machinery, learning-rate schedules, gradient clipping
//! and the [`registry`] of names derived from the files' specs.
//!
//! An optimizer never sees the model or the AD engine: it asks an [`Oracle`] for values,
//! gradients, Hessians or residuals, and the oracle's implementor counts every call.
//!
//! ```
//! use gradscope::optim::{FnOracle, registry};
//!
//! // f(x, y) = 0.5 * (x² + 10 y²)
//! let mut oracle = FnOracle::new(2, |x| 0.5 * (x[0] * x[0] + 10.0 * x[1] * x[1]))
//!     .with_gradient(|x, g| {
//!         g[0] = x[0];
//!         g[1] = 10.0 * x[1];
//!     });
//! let mut adam = registry::build("adam", &[("lr".into(), 0.1.into())], 0, 2).unwrap();
//! let mut x = vec![1.0, -1.0];
//! for _ in 0..500 {
//!     adam.step(&mut x, &mut oracle);
//! }
//! assert!(x[0].abs() < 1e-3 && x[1].abs() < 1e-3);
//! ```

pub mod adabelief;
pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod adan;
pub mod ademamix;
pub mod adopt;
pub mod asgd;
pub mod averaging;
pub mod clip;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod genetic;
pub mod hyper;
pub mod layout;
pub mod lbfgs;
pub mod levenberg_marquardt;
pub mod lion;
pub mod muon;
pub mod nadam;
pub mod nelder_mead;
pub mod newton;
pub mod prodigy;
pub mod radam;
pub mod random_search;
pub mod registry;
pub mod rmsprop;
pub mod rprop;
pub mod schedule;
pub mod schedule_free;
pub mod sgd;

use dyn_clone::DynClone;
use nalgebra::{DMatrix, DVector};

pub use hyper::{Bound, Domain, HyperAccess, HyperSpec, HyperValue, Range, Scale};
pub use layout::{ParamLayout, Shape};
pub use registry::OptimizerSpec;

/// The only door from an optimizer to its objective. Every call is counted by the implementor.
///
/// For least-squares objectives the loss is `0.5·|r|²` (half the sum of squared residuals, not
/// the mean), so that its gradient is `Jᵀr` and its Gauss–Newton Hessian is `JᵀJ`.
pub trait Oracle {
    fn dim(&self) -> usize;
    fn value(&mut self, x: &[f64]) -> f64;
    /// Writes ∇f(x) into `grad` and returns f(x).
    fn value_and_gradient(&mut self, x: &[f64], grad: &mut [f64]) -> f64;
    /// Value, gradient and Hessian (exact, nested duals in the real implementation).
    fn hessian(&mut self, x: &[f64]) -> (f64, Vec<f64>, DMatrix<f64>);
    /// Residual vector `r` and its Jacobian `J` (loss = `0.5·|r|²`), `None` if the objective is
    /// not least-squares.
    fn residuals(&mut self, x: &[f64]) -> Option<(DVector<f64>, DMatrix<f64>)>;
}

/// What one step saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// The loss at the parameters *before* the update (the loss of the gradient used), as
    /// PyTorch's closure-less `step` sees it. Gradient-free methods report the best loss known
    /// before the step.
    pub loss: f64,
    /// Euclidean norm of the raw gradient the step used (before weight decay or `maximize`),
    /// `None` for gradient-free steps.
    pub grad_norm: Option<f64>,
}

/// A named per-parameter (or per-individual) state buffer, shown by the TUI.
#[derive(Clone, Debug, PartialEq)]
pub struct StateVector {
    pub name: &'static str,
    pub values: Vec<f64>,
}

impl StateVector {
    #[must_use]
    pub fn new(name: &'static str, values: &[f64]) -> Self {
        Self {
            name,
            values: values.to_vec(),
        }
    }
}

/// [`Optimizer::state`] from named buffers: `named_buffers([("exp_avg", &self.exp_avg), ...])`;
/// a scalar is a one-element buffer (`("mu_product", &[self.mu_product])`).
#[must_use]
pub fn named_buffers<const N: usize>(buffers: [(&'static str, &[f64]); N]) -> Vec<StateVector> {
    buffers
        .into_iter()
        .map(|(name, values)| StateVector::new(name, values))
        .collect()
}

/// Errors of the optimizer layer: unknown names and invalid hyperparameter values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    #[error("unknown optimizer '{name}'{}; valid optimizers: {valid}", did_you_mean(.suggestion))]
    UnknownOptimizer {
        name: String,
        suggestion: Option<String>,
        valid: String,
    },
    #[error(
        "unknown hyperparameter '{name}' for optimizer '{optimizer}'{}; valid hyperparameters: {valid}",
        did_you_mean(.suggestion)
    )]
    UnknownHyperparameter {
        optimizer: String,
        name: String,
        suggestion: Option<String>,
        valid: String,
    },
    #[error("hyperparameter '{name}' of '{optimizer}' got '{value}': {expected}")]
    InvalidValue {
        optimizer: String,
        name: String,
        value: String,
        expected: String,
    },
    #[error("{optimizer} has no learning rate")]
    NoLearningRate { optimizer: &'static str },
    #[error("optimizer '{name}' is not offered: {reason}")]
    NotOffered { name: String, reason: &'static str },
    #[error(transparent)]
    Schedule(#[from] schedule::ScheduleError),
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

/// A point in parameter space an optimizer keeps besides the iterate it steps, worth drawing
/// and evaluating: ASGD's averaged iterate `ax`; likewise Schedule-Free's `x` and `z` sequences
/// or an SWA/EMA average. The run evaluates the objective wherever it likes at these points
/// (they cost the optimizer nothing and are not counted as its evaluations).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExtraPoint<'a> {
    /// A short name for legends and reports: `"averaged"`, `"x"`, `"z"`, `"ema"`.
    pub name: &'static str,
    /// As long as the parameter vector.
    pub params: &'a [f64],
}

/// An optimizer: owns its hyperparameters and state, and moves parameters one step at a time.
///
/// Cloning a `Box<dyn Optimizer>` snapshots it completely (step counters, buffers, RNG) for
/// rewinding. `name`, `hyperparameters`, `set_hyperparameter`, `lr` and `set_lr` have default
/// implementations over the optimizer's [`hyper::HyperSet`], so values set by name are always
/// validated against its table.
pub trait Optimizer: DynClone + Send {
    /// One update of `params` in place.
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo;
    /// Named state buffers for display (momentum buffer, `exp_avg`, effective step size, ...).
    fn state(&self) -> Vec<StateVector>;
    /// Forget all state (as a fresh optimizer with the current hyperparameters).
    fn reset(&mut self);
    /// Points besides the stepped parameters (see [`ExtraPoint`]), empty for most optimizers
    /// and before the first step.
    fn extra_points(&self) -> Vec<ExtraPoint<'_>> {
        Vec::new()
    }
    /// Scalars worth following over time, which the run records after every step beside the
    /// loss (bounded with its history): Prodigy's distance estimate `d` and its step size
    /// `dlr`. Empty for most optimizers and before the first step; the names never change
    /// once a step has been taken.
    fn traced(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
    fn hyper_set(&self) -> &dyn HyperAccess;
    fn hyper_set_mut(&mut self) -> &mut dyn HyperAccess;

    /// The registry name it was built as (`"momentum"`, not `"sgd"`, for the alias).
    fn name(&self) -> &'static str {
        self.hyper_set().spec().name
    }
    fn hyperparameters(&self) -> Vec<(String, HyperValue)> {
        self.hyper_set().list()
    }
    fn set_hyperparameter(&mut self, name: &str, value: HyperValue) -> Result<(), OptimError> {
        self.hyper_set_mut().set(name, value)
    }
    /// The name of the hyperparameter [`Optimizer::lr`] reads (`lr`; `sigma` for `genetic`,
    /// `radius` for `random_search`), `None` for methods without one (`nelder_mead`,
    /// `levenberg_marquardt`): what schedules and the TUI's halve/double drive.
    fn lr_name(&self) -> Option<&'static str> {
        self.hyper_set().lr_name()
    }
    /// The learning rate, or the step scale of gradient-free methods (`sigma` for `genetic`,
    /// `radius` for `random_search`); `1.0` for methods without one (`nelder_mead`,
    /// `levenberg_marquardt`; see [`Optimizer::lr_name`]).
    fn lr(&self) -> f64 {
        self.hyper_set().lr()
    }
    /// Sets the learning rate; a value outside its range is ignored (schedules and the TUI's
    /// halve/double never produce one from a valid start).
    fn set_lr(&mut self, lr: f64) {
        self.hyper_set_mut().set_lr(lr);
    }
}

dyn_clone::clone_trait_object!(Optimizer);

/// Asks the oracle for value and gradient, returning the loss and the gradient's 2-norm.
pub(crate) fn eval_gradient(oracle: &mut dyn Oracle, x: &[f64], grad: &mut Vec<f64>) -> (f64, f64) {
    grad.clear();
    grad.resize(x.len(), 0.0);
    let loss = oracle.value_and_gradient(x, grad);
    (loss, norm2(grad))
}

/// torch's prelude to every update: `g = ±∇f` (minus under `maximize`), then weight decay —
/// coupled `g += λθ`, or with `decoupled = Some(γ)` AdamW's `θ *= 1 − γλ` leaving `g` as is.
pub(crate) fn decayed_grad(
    grad: f64,
    param: &mut f64,
    maximize: bool,
    wd: f64,
    decoupled: Option<f64>,
) -> f64 {
    let mut g = if maximize { -grad } else { grad };
    if wd != 0.0 {
        match decoupled {
            Some(lr) => *param *= 1.0 - lr * wd,
            None => g += wd * *param,
        }
    }
    g
}

/// torch's bias correction `1 − βᵗ` of a moment average after `step` steps
/// (`1 - beta ** step`).
pub(crate) fn bias_correction(beta: f64, step: u64) -> f64 {
    1.0 - beta.powf(step as f64)
}

/// ATen's scalar `lerp` (what `Tensor.lerp_` computes on CPU): the branch on `|w| < 0.5` keeps
/// it exact at both ends, and following it keeps our moments bit-compatible with torch's.
pub(crate) fn lerp(start: f64, end: f64, weight: f64) -> f64 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}

pub(crate) fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|g| g * g).sum::<f64>().sqrt()
}

type ValueFn = Box<dyn Fn(&[f64]) -> f64 + Send>;
type GradFn = Box<dyn Fn(&[f64], &mut [f64]) + Send>;
type HessFn = Box<dyn Fn(&[f64]) -> DMatrix<f64> + Send>;
type ResidualFn = Box<dyn Fn(&[f64]) -> (DVector<f64>, DMatrix<f64>) + Send>;

/// An [`Oracle`] from closures, for tests, examples and quick experiments. Missing derivatives
/// fall back to central differences (step `1e-6` for gradients, `1e-5` for Hessians).
pub struct FnOracle {
    dim: usize,
    f: ValueFn,
    g: Option<GradFn>,
    h: Option<HessFn>,
    r: Option<ResidualFn>,
    /// Number of oracle calls of any kind.
    pub calls: usize,
}

impl FnOracle {
    pub fn new(dim: usize, f: impl Fn(&[f64]) -> f64 + Send + 'static) -> Self {
        Self {
            dim,
            f: Box::new(f),
            g: None,
            h: None,
            r: None,
            calls: 0,
        }
    }
    #[must_use]
    pub fn with_gradient(mut self, g: impl Fn(&[f64], &mut [f64]) + Send + 'static) -> Self {
        self.g = Some(Box::new(g));
        self
    }
    #[must_use]
    pub fn with_hessian(mut self, h: impl Fn(&[f64]) -> DMatrix<f64> + Send + 'static) -> Self {
        self.h = Some(Box::new(h));
        self
    }
    /// Residuals and Jacobian; the value closure should then return `0.5·|r|²`.
    #[must_use]
    pub fn with_residuals(
        mut self,
        r: impl Fn(&[f64]) -> (DVector<f64>, DMatrix<f64>) + Send + 'static,
    ) -> Self {
        self.r = Some(Box::new(r));
        self
    }

    fn gradient_into(&self, x: &[f64], grad: &mut [f64]) {
        if let Some(g) = &self.g {
            g(x, grad);
            return;
        }
        let mut xp = x.to_vec();
        for i in 0..x.len() {
            let h = 1e-6 * x[i].abs().max(1.0);
            xp[i] = x[i] + h;
            let fp = (self.f)(&xp);
            xp[i] = x[i] - h;
            let fm = (self.f)(&xp);
            xp[i] = x[i];
            grad[i] = (fp - fm) / (2.0 * h);
        }
    }
}

impl Oracle for FnOracle {
    fn dim(&self) -> usize {
        self.dim
    }
    fn value(&mut self, x: &[f64]) -> f64 {
        self.calls += 1;
        (self.f)(x)
    }
    fn value_and_gradient(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.calls += 1;
        self.gradient_into(x, grad);
        (self.f)(x)
    }
    fn hessian(&mut self, x: &[f64]) -> (f64, Vec<f64>, DMatrix<f64>) {
        self.calls += 1;
        let n = x.len();
        let mut g = vec![0.0; n];
        self.gradient_into(x, &mut g);
        let hess = match &self.h {
            Some(h) => h(x),
            None => {
                let mut m = DMatrix::zeros(n, n);
                let mut xp = x.to_vec();
                let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
                for j in 0..n {
                    let h = 1e-5 * x[j].abs().max(1.0);
                    xp[j] = x[j] + h;
                    self.gradient_into(&xp, &mut gp);
                    xp[j] = x[j] - h;
                    self.gradient_into(&xp, &mut gm);
                    xp[j] = x[j];
                    for i in 0..n {
                        m[(i, j)] = (gp[i] - gm[i]) / (2.0 * h);
                    }
                }
                (&m + m.transpose()) * 0.5
            }
        };
        ((self.f)(x), g, hess)
    }
    fn residuals(&mut self, x: &[f64]) -> Option<(DVector<f64>, DMatrix<f64>)> {
        self.calls += 1;
        self.r.as_ref().map(|r| r(x))
    }
}

#[cfg(test)]
mod reference;

#[cfg(test)]
pub(crate) mod testutil {
    use super::{FnOracle, Optimizer};
    use nalgebra::DMatrix;

    /// f = 0.5 (a x² + b y²) with a = 1, b = 10: the fixture of the torch-rule tests.
    pub const A: f64 = 1.0;
    pub const B: f64 = 10.0;
    pub const START: [f64; 2] = [1.5, -0.8];

    pub fn quadratic() -> FnOracle {
        FnOracle::new(2, |x| 0.5 * (A * x[0] * x[0] + B * x[1] * x[1]))
            .with_gradient(|x, g| {
                g[0] = A * x[0];
                g[1] = B * x[1];
            })
            .with_hessian(|_| DMatrix::from_row_slice(2, 2, &[A, 0.0, 0.0, B]))
    }

    pub fn quad_grad(x: &[f64]) -> Vec<f64> {
        vec![A * x[0], B * x[1]]
    }

    pub fn himmelblau() -> FnOracle {
        FnOracle::new(2, |x| {
            (x[0] * x[0] + x[1] - 11.0).powi(2) + (x[0] + x[1] * x[1] - 7.0).powi(2)
        })
    }

    pub const HIMMELBLAU_MINIMA: [[f64; 2]; 4] = [
        [3.0, 2.0],
        [-2.805_118, 3.131_312],
        [-3.779_310, -3.283_186],
        [3.584_428, -1.848_126],
    ];

    pub fn near_himmelblau_minimum(x: &[f64], tol: f64) -> bool {
        HIMMELBLAU_MINIMA
            .iter()
            .any(|m| ((x[0] - m[0]).powi(2) + (x[1] - m[1]).powi(2)).sqrt() < tol)
    }

    /// Runs `steps` steps from START on the quadratic and returns every iterate after a step.
    pub fn trajectory(opt: &mut dyn Optimizer, steps: usize) -> Vec<[f64; 2]> {
        let mut o = quadratic();
        let mut x = START.to_vec();
        (0..steps)
            .map(|_| {
                opt.step(&mut x, &mut o);
                [x[0], x[1]]
            })
            .collect()
    }

    pub fn assert_close(got: &[[f64; 2]], want: &[[f64; 2]], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            for i in 0..2 {
                assert!(
                    (g[i] - w[i]).abs() <= tol,
                    "step {} coord {i}: got {} want {}",
                    k + 1,
                    g[i],
                    w[i]
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::registry::{build, names};
    use super::testutil::*;

    #[test]
    fn clone_continues_bit_identically_for_every_optimizer() {
        for &name in names() {
            let mut o = quadratic();
            let mut opt = build(name, &[], 11, 2).expect("builds");
            let mut x = START.to_vec();
            for _ in 0..4 {
                opt.step(&mut x, &mut o);
            }
            let mut snap = opt.clone();
            let mut y = x.clone();
            for _ in 0..6 {
                let a = opt.step(&mut x, &mut o);
                let b = snap.step(&mut y, &mut o);
                assert_eq!(a.loss.to_bits(), b.loss.to_bits(), "{name}");
                let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&x), bits(&y), "{name}");
            }
            assert_eq!(opt.state(), snap.state(), "{name}");
        }
    }

    #[test]
    fn reset_equals_a_fresh_optimizer() {
        for &name in names() {
            let mut used = build(name, &[], 5, 2).expect("builds");
            let _ = trajectory(used.as_mut(), 3);
            used.reset();
            let mut fresh = build(name, &[], 5, 2).expect("builds");
            assert_eq!(
                trajectory(used.as_mut(), 3),
                trajectory(fresh.as_mut(), 3),
                "{name}"
            );
        }
    }

    #[test]
    fn lerp_is_exact_at_both_ends() {
        assert_eq!(super::lerp(0.1, 0.7, 1.0), 0.7);
        assert_eq!(super::lerp(0.1, 0.7, 0.0), 0.1);
        assert_eq!(super::lerp(1.0, 3.0, 0.25), 1.5);
        assert_eq!(super::lerp(1.0, 3.0, 0.75), 2.5);
    }

    #[test]
    fn step_reports_the_loss_before_the_update() {
        let mut opt = build("sgd", &[("lr".into(), 0.1.into())], 0, 2).expect("builds");
        let mut o = quadratic();
        let mut x = START.to_vec();
        let info = opt.step(&mut x, &mut o);
        let f0 = 0.5 * (A * START[0] * START[0] + B * START[1] * START[1]);
        assert_eq!(info.loss, f0);
        let g = quad_grad(&START);
        assert_eq!(info.grad_norm, Some((g[0] * g[0] + g[1] * g[1]).sqrt()));
    }

    #[test]
    fn fn_oracle_finite_difference_fallbacks() {
        use super::Oracle;
        let mut o = super::FnOracle::new(2, |x| x[0] * x[0] * x[1] + x[1].sin());
        let mut g = [0.0; 2];
        let f = o.value_and_gradient(&[1.0, 2.0], &mut g);
        assert!((f - (2.0 + 2f64.sin())).abs() < 1e-15);
        assert!((g[0] - 4.0).abs() < 1e-6 && (g[1] - (1.0 + 2f64.cos())).abs() < 1e-6);
        let (_, _, h) = o.hessian(&[1.0, 2.0]);
        assert!((h[(0, 0)] - 4.0).abs() < 1e-3 && (h[(0, 1)] - 2.0).abs() < 1e-3);
        assert!(o.residuals(&[1.0, 2.0]).is_none());
        assert_eq!(o.calls, 3);
    }
}
