//! What is minimised: the [`Objective`] trait (written once over `Scalar`, evaluated by every
//! engine) and the [`Evaluator`], the counting oracle that is the only door from an optimizer to
//! its objective.
//!
//! `Objective` is object-safe so a session can hold any mix of objectives; its four `eval_*`
//! methods are one-line forwards to each implementor's single generic definition, which keeps the
//! "written once" promise while letting trait objects reach every engine.

mod expression;
mod model;
pub mod noise;

pub use expression::ExpressionObjective;
pub use model::ModelObjective;
pub use noise::{NoiseStats, PerExample};

use std::time::Instant;

use nalgebra::{DMatrix, DVector};

use crate::ad::dual::{self, Chunk, Hyper};
use crate::ad::tape::{self, Tape, Var};
use crate::ad::{Engine, finite};
use crate::data::Batching;
use crate::optim::{Oracle, ParamLayout};

/// Loss, test loss and accuracy of a parameter vector, as a run reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    /// Loss over the whole training set (or the objective's value).
    pub train_loss: f64,
    pub test_loss: Option<f64>,
    pub accuracy: Option<f64>,
    pub test_accuracy: Option<f64>,
}

/// Reusable scratch memory for the engines, owned by one run so no gradient allocates.
pub struct Scratch {
    /// A [fused](Tape::fused) tape: gradients only, no per-operation view.
    pub tape: Tape,
    pub expr: crate::expr::Workspace,
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            tape: Tape::fused(),
            expr: crate::expr::Workspace::default(),
        }
    }
}

/// Something to minimise. Implementors write one generic function over `Scalar` and forward the
/// `eval_*` methods to it.
pub trait Objective: Send {
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// Names of the parameters, in order (`x`, `y`, or `w1[0,1]` ...).
    fn param_names(&self) -> Vec<String>;
    /// The scenario's starting point.
    fn start(&self) -> Vec<f64>;
    /// The known minimiser, if the scenario gives one.
    fn minimum(&self) -> Option<Vec<f64>> {
        None
    }
    /// The parameters as the tensors torch would hold (what Adafactor and Muon treat by
    /// shape): one vector unless the objective knows better.
    fn param_layout(&self) -> ParamLayout {
        ParamLayout::vector(self.dim())
    }

    fn value(&self, x: &[f64]) -> f64;
    fn eval_chunk(&self, x: &[Chunk]) -> Chunk;
    fn eval_var<'t>(&self, x: &[Var<'t>]) -> Var<'t>;
    fn eval_hyper(&self, x: &[Hyper]) -> Hyper;

    /// Value and gradient by `engine`; returns the value and the passes it took. Objectives with
    /// a faster path (a compiled expression) override this.
    fn gradient(
        &self,
        engine: Engine,
        x: &[f64],
        grad: &mut [f64],
        scratch: &mut Scratch,
    ) -> (f64, usize) {
        match engine {
            Engine::Forward { chunk } => {
                dual::gradient_with(x, chunk, grad, |v| self.eval_chunk(v))
            }
            Engine::Reverse => (
                tape::gradient_with(&mut scratch.tape, x, grad, |v| self.eval_var(v)),
                1,
            ),
            Engine::Finite => (
                finite::gradient_with(x, grad, |p| self.value(p)),
                Engine::Finite.passes(x.len()),
            ),
        }
    }

    /// Residual vector `r` for least-squares objectives (`loss = mean(r²)` or as documented by the
    /// implementor); `None` when the objective is not a sum of squares.
    fn residuals(&self, _x: &[f64]) -> Option<Vec<f64>> {
        None
    }
    /// Residuals carried through forward mode, for the Jacobian.
    fn residuals_chunk(&self, _x: &[Chunk], _out: &mut Vec<Chunk>) -> bool {
        false
    }

    /// How this objective draws minibatches, for a model objective; `None` when it has no data.
    fn batching(&self) -> Option<Batching> {
        None
    }
    /// Draws minibatches as `batching` says, in an order seeded by `seed` (a run's own stream),
    /// from the first batch of the first epoch. A no-op without data.
    fn set_batching(&mut self, _batching: Batching, _seed: u64) {}
    /// Examples in the batch a gradient is evaluated on now (0 without data).
    fn batch_len(&self) -> usize {
        0
    }
    /// Indices of the training examples in the current batch (empty without data).
    fn batch_indices(&self) -> &[usize] {
        &[]
    }
    /// Training examples, for a model objective.
    fn n_train(&self) -> Option<usize> {
        None
    }
    /// Held-out test examples (0 without a test split).
    fn n_test(&self) -> usize {
        0
    }
    /// The gradient of every training example's loss (plus the L2 term) at `x`, one reverse
    /// pass each, so their mean is the full-batch gradient; `None` without data.
    fn per_example_gradients(&self, x: &[f64]) -> Option<PerExample> {
        let all: Vec<usize> = (0..self.n_train()?).collect();
        self.per_example_gradients_of(x, &all)
    }
    /// [`per_example_gradients`](Self::per_example_gradients) of the examples `indices` only,
    /// row `k` for `indices[k]`; `None` without data or for an index out of range.
    fn per_example_gradients_of(&self, _x: &[f64], _indices: &[usize]) -> Option<PerExample> {
        None
    }
    /// Moves to the next minibatch (stochastic objectives only).
    fn next_batch(&mut self) {}
    /// Back to the first minibatch of the first epoch, as at construction.
    fn reset_batches(&mut self) {}
    /// Epochs completed so far (0 for deterministic objectives).
    fn epoch(&self) -> u64 {
        0
    }
    /// True when each step sees a different minibatch.
    fn is_stochastic(&self) -> bool {
        false
    }
    /// Full-data metrics of `x` (not counted as oracle evaluations).
    fn metrics(&self, x: &[f64]) -> Metrics {
        Metrics {
            train_loss: self.value(x),
            ..Metrics::default()
        }
    }
    /// Rows of a small reverse-mode tape for display; `None` when the objective is too large.
    fn tape_nodes(&self, x: &[f64]) -> Option<Vec<tape::NodeView>> {
        if self.dim() > 64 {
            return None;
        }
        let mut tape = Tape::new();
        let mut grad = vec![0.0; x.len()];
        tape::gradient_with(&mut tape, x, &mut grad, |v| self.eval_var(v));
        Some(tape.nodes())
    }
    /// The names of the data's features (a CSV file's column names, `x1`, `x2` for generated
    /// data); `None` without data.
    fn feature_names(&self) -> Option<Vec<String>> {
        None
    }
    /// The training set as `(x1, x2, class)` when it is a classification task with exactly two
    /// features (what a decision-boundary view can draw); `None` otherwise.
    fn data_points_2d(&self) -> Option<Vec<(f64, f64, usize)>> {
        None
    }
    /// What the model with parameters `params` says at feature vector `features`, for shading a
    /// decision-boundary view: the class-1 probability of a single-logit binary model, else the
    /// predicted class (argmax) as a number. `None` when the objective is not a classifier.
    fn decision_value(&self, _params: &[f64], _features: &[f64]) -> Option<f64> {
        None
    }
    /// Examples in the current batch, for objectives that are a loss over examples (a model);
    /// `None` otherwise.
    fn batch_examples(&self) -> Option<usize> {
        None
    }
    /// A copy that evaluates the loss over at most the first `examples` examples of the
    /// current batch (a model's engine check); `None` for objectives without examples.
    fn check_subset(&self, _examples: usize) -> Option<Box<dyn Objective>> {
        None
    }
    /// The expression of an expression objective (the graph view steps through it); `None`
    /// for models.
    fn expression(&self) -> Option<&crate::expr::Expression> {
        None
    }
    /// A layered model's parts, for inspecting it layer by layer (the network view and the
    /// per-layer gradient flow); `None` for expressions and custom models.
    fn layered(&self) -> Option<LayeredModel<'_>> {
        None
    }
    /// A copy for another run (datasets are shared, batch state is copied).
    fn box_clone(&self) -> Box<dyn Objective>;
}

/// What a layered model objective is made of: the model (an MLP, or linear, logistic or
/// softmax regression), its loss, its training set and the minibatch the oracle sees now.
#[derive(Debug, Clone, Copy)]
pub struct LayeredModel<'a> {
    pub model: &'a crate::model::Model,
    pub loss: crate::model::Loss,
    pub train: &'a crate::data::Dataset,
    pub batch: &'a [usize],
}

/// Evaluation counts of one run: what an optimizer spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub value: u64,
    pub gradient: u64,
    pub hessian: u64,
    /// Passes over the function the gradients took (forward: ceil(n/k) each; reverse: 1;
    /// finite: 2n), plus each Hessian at its cost in passes ([`hessian_passes`]).
    pub passes: u64,
    /// Wall time spent in gradients, nanoseconds (excluded from deterministic output).
    pub gradient_nanos: u64,
    /// Per-example gradients the gradients took: each one on a batch of 32 costs 32 (model
    /// objectives; 0 for expressions). What makes SGD and full-batch descent comparable.
    pub examples: u64,
}

impl Counts {
    /// Mean wall time of one gradient, in nanoseconds.
    #[must_use]
    pub fn nanos_per_gradient(&self) -> f64 {
        if self.gradient == 0 {
            0.0
        } else {
            self.gradient_nanos as f64 / self.gradient as f64
        }
    }
}

/// Passes over the function one Hessian of `n` inputs costs by nested duals (`n (n + 1) / 2`,
/// one for `n = 0`), the unit [`Counts::passes`] counts in.
#[must_use]
pub fn hessian_passes(n: usize) -> u64 {
    (n * (n + 1) / 2).max(1) as u64
}

/// The counting oracle: evaluates an objective with the chosen engine and counts every call.
pub struct Evaluator<'a> {
    pub objective: &'a dyn Objective,
    pub engine: Engine,
    pub scratch: &'a mut Scratch,
    pub counts: &'a mut Counts,
}

impl Evaluator<'_> {
    /// Value and gradient by the engine, with the passes and wall time they took, not counted:
    /// the one path every gradient takes, requested or prefetched.
    fn engine_gradient(&mut self, x: &[f64], grad: &mut [f64]) -> (f64, usize, u64) {
        let started = Instant::now();
        let (value, passes) = self.objective.gradient(self.engine, x, grad, self.scratch);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(0);
        (value, passes, nanos)
    }

    fn count_gradient(&mut self, passes: usize, nanos: u64) {
        self.counts.examples += self.objective.batch_len() as u64;
        self.counts.gradient_nanos += nanos;
        self.counts.gradient += 1;
        self.counts.passes += passes as u64;
    }

    /// Computes value and gradient at `x` by the engine into `cache` and returns the value. Not
    /// counted here: the gradient is counted if and when an optimizer consumes it through a
    /// [`CachedEvaluator`], so counts are what they would be without the cache.
    pub fn prefetch(&mut self, x: &[f64], cache: &mut Prefetch) -> f64 {
        cache.x.clear();
        cache.x.extend_from_slice(x);
        cache.grad.resize(x.len(), 0.0);
        let mut grad = std::mem::take(&mut cache.grad);
        let (value, passes, nanos) = self.engine_gradient(x, &mut grad);
        cache.grad = grad;
        cache.value = value;
        cache.passes = passes;
        cache.nanos = nanos;
        cache.filled = true;
        cache.served = 0;
        value
    }
}

impl Oracle for Evaluator<'_> {
    fn dim(&self) -> usize {
        self.objective.dim()
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        self.counts.value += 1;
        self.objective.value(x)
    }

    fn value_and_gradient(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let (value, passes, nanos) = self.engine_gradient(x, grad);
        self.count_gradient(passes, nanos);
        value
    }

    fn hessian(&mut self, x: &[f64]) -> (f64, Vec<f64>, DMatrix<f64>) {
        // Nested duals take one pass per pair i <= j: a Hessian costs that many gradient passes,
        // so Newton's few Hessians are not counted as cheap.
        self.counts.hessian += 1;
        self.counts.passes += hessian_passes(x.len());
        dual::hessian_with(x, |v| self.objective.eval_hyper(v))
    }

    fn residuals(&mut self, x: &[f64]) -> Option<(DVector<f64>, DMatrix<f64>)> {
        let objective = self.objective;
        let mut supported = true;
        let (r, jac, _) = dual::jacobian_with(x, dual::MAX_CHUNK, |v, out| {
            supported = objective.residuals_chunk(v, out);
        });
        if !supported {
            return None;
        }
        // One Jacobian evaluation costs about what a forward gradient does.
        self.counts.gradient += 1;
        self.counts.passes += x.len().div_ceil(dual::MAX_CHUNK) as u64;
        self.counts.examples += objective.batch_len() as u64;
        Some((DVector::from_vec(r), jac))
    }
}

/// Value and gradient at one point, computed by [`Evaluator::prefetch`] before an optimizer
/// asked for them: a run reports the loss at its new parameters with the value, and the next
/// step's gradient at those parameters (what first-order methods ask first) is then a copy.
#[derive(Debug, Clone, Default)]
pub struct Prefetch {
    x: Vec<f64>,
    value: f64,
    grad: Vec<f64>,
    passes: usize,
    nanos: u64,
    filled: bool,
    served: u64,
}

impl Prefetch {
    /// Forgets the point: anything the entry depends on (parameters, engine, batch) changed.
    pub fn clear(&mut self) {
        self.filled = false;
        self.served = 0;
    }

    /// True while the entry holds a point.
    #[must_use]
    pub fn is_filled(&self) -> bool {
        self.filled
    }

    /// Gradient requests answered from the entry since it was filled.
    #[must_use]
    pub fn served(&self) -> u64 {
        self.served
    }

    /// The entry's value and gradient if it holds exactly `x`, bit for bit: anything else
    /// (even `-0.0` for `0.0`) is a different request.
    fn lookup(&self, x: &[f64]) -> Option<(f64, &[f64])> {
        let same = self.filled
            && self.x.len() == x.len()
            && self
                .x
                .iter()
                .zip(x)
                .all(|(a, b)| a.to_bits() == b.to_bits());
        same.then_some((self.value, self.grad.as_slice()))
    }
}

/// An [`Evaluator`] that answers gradient requests at the prefetched point from the cache,
/// counted exactly as the evaluation it replaces (one gradient, its passes and the prefetch's
/// wall time). Everything else goes to the evaluator. Value requests are not answered from the
/// cache: the optimizers that ask for a value at their current point (Levenberg–Marquardt,
/// random search) never consume a prefetched gradient, so a run stops prefetching for them.
pub struct CachedEvaluator<'a, 'c> {
    pub evaluator: Evaluator<'a>,
    pub cache: &'c mut Prefetch,
}

impl Oracle for CachedEvaluator<'_, '_> {
    fn dim(&self) -> usize {
        self.evaluator.dim()
    }

    fn value(&mut self, x: &[f64]) -> f64 {
        self.evaluator.value(x)
    }

    fn value_and_gradient(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        if let Some((value, cached)) = self.cache.lookup(x)
            && cached.len() == grad.len()
        {
            grad.copy_from_slice(cached);
            let (passes, nanos) = (self.cache.passes, self.cache.nanos);
            self.cache.served += 1;
            self.evaluator.count_gradient(passes, nanos);
            return value;
        }
        self.evaluator.value_and_gradient(x, grad)
    }

    fn hessian(&mut self, x: &[f64]) -> (f64, Vec<f64>, DMatrix<f64>) {
        self.evaluator.hessian(x)
    }

    fn residuals(&mut self, x: &[f64]) -> Option<(DVector<f64>, DMatrix<f64>)> {
        self.evaluator.residuals(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objective() -> ExpressionObjective {
        let expr = crate::expr::Expression::parse("x^2 * y + sin(y)").unwrap();
        ExpressionObjective::new(expr, vec![0.0, 1.0], None)
    }

    #[test]
    fn a_prefetched_gradient_is_served_once_asked_and_counted_then() {
        let objective = objective();
        let engine = Engine::Forward { chunk: 1 };
        let (mut scratch, mut counts, mut cache) =
            (Scratch::default(), Counts::default(), Prefetch::default());
        let x = [0.0, 1.0];
        let mut evaluator = Evaluator {
            objective: &objective,
            engine,
            scratch: &mut scratch,
            counts: &mut counts,
        };
        let value = evaluator.prefetch(&x, &mut cache);
        assert_eq!(value.to_bits(), objective.value(&x).to_bits());
        assert_eq!(
            *evaluator.counts,
            Counts::default(),
            "a prefetch is not counted"
        );
        let mut cached = CachedEvaluator {
            evaluator,
            cache: &mut cache,
        };
        let mut grad = [f64::NAN; 2];
        assert_eq!(cached.value_and_gradient(&x, &mut grad), value);
        assert_eq!(grad, [0.0, 1.0_f64.cos()]);
        assert_eq!(cached.cache.served(), 1);
        let counts = *cached.evaluator.counts;
        assert_eq!((counts.gradient, counts.passes), (1, 2));
        // `-0.0` is another point bit for bit: computed, not served.
        let mut other = [f64::NAN; 2];
        cached.value_and_gradient(&[-0.0, 1.0], &mut other);
        assert_eq!(cached.cache.served(), 1);
        assert_eq!(cached.evaluator.counts.gradient, 2);
        assert_eq!(cached.evaluator.counts.passes, 4);
        // Values are evaluated and counted as always.
        assert_eq!(cached.value(&x), value);
        assert_eq!(cached.evaluator.counts.value, 1);
        cached.cache.clear();
        cached.value_and_gradient(&x, &mut grad);
        assert_eq!(cached.cache.served(), 0, "a cleared entry serves nothing");
        assert_eq!(cached.evaluator.counts.gradient, 3);
    }
}
