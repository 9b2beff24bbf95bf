//! An objective given as a formula in the expression language (Rosenbrock, Himmelblau, ...).

use std::sync::Arc;

use super::{Objective, Scratch};
use crate::ad::dual::{Chunk, Hyper};
use crate::ad::tape::Var;
use crate::ad::{Engine, ScalarFn};
use crate::expr::Expression;

/// `f(x, y, ...)` from an expression, with a starting point and an optional known minimum.
#[derive(Clone)]
pub struct ExpressionObjective {
    expr: Arc<Expression>,
    start: Vec<f64>,
    minimum: Option<Vec<f64>>,
}

impl ExpressionObjective {
    /// `start.len()` must equal the expression's variable count (the scenario loader checks it).
    #[must_use]
    pub fn new(expr: Expression, start: Vec<f64>, minimum: Option<Vec<f64>>) -> Self {
        Self {
            expr: Arc::new(expr),
            start,
            minimum,
        }
    }

    #[must_use]
    pub fn expression(&self) -> &Expression {
        &self.expr
    }
}

impl Objective for ExpressionObjective {
    fn dim(&self) -> usize {
        self.expr.vars().len()
    }
    fn param_names(&self) -> Vec<String> {
        self.expr.vars().to_vec()
    }
    fn start(&self) -> Vec<f64> {
        self.start.clone()
    }
    fn minimum(&self) -> Option<Vec<f64>> {
        self.minimum.clone()
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.expr.eval_f64(x)
    }
    fn eval_chunk(&self, x: &[Chunk]) -> Chunk {
        self.expr.eval(x)
    }
    fn eval_var<'t>(&self, x: &[Var<'t>]) -> Var<'t> {
        self.expr.eval(x)
    }
    fn eval_hyper(&self, x: &[Hyper]) -> Hyper {
        self.expr.eval(x)
    }
    fn expression(&self) -> Option<&Expression> {
        Some(&self.expr)
    }
    /// The compiled instruction list is both the Wengert list for the reverse sweep and the
    /// program forward mode runs, so it is the fast path for both engines.
    fn gradient(
        &self,
        engine: Engine,
        x: &[f64],
        grad: &mut [f64],
        scratch: &mut Scratch,
    ) -> (f64, usize) {
        match engine {
            Engine::Forward { chunk } => {
                self.expr
                    .gradient_forward(x, chunk, &mut scratch.expr, grad)
            }
            Engine::Reverse => (self.expr.gradient_reverse(x, &mut scratch.expr, grad), 1),
            Engine::Finite => (
                crate::ad::finite::gradient_with(x, grad, |p| self.expr.eval_f64(p)),
                Engine::Finite.passes(x.len()),
            ),
        }
    }
    fn box_clone(&self) -> Box<dyn Objective> {
        Box::new(self.clone())
    }
}
