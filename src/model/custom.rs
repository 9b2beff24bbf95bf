//! A custom model given as a formula in the expression language, e.g. `a*sin(b*x + c) + d` with
//! parameters `a..d` and input `x`: one output per sample, differentiable by every engine because
//! the expression is evaluated generically over `Scalar`.

use std::sync::Arc;

use super::Predictor;
use crate::ad::{Scalar, ScalarFn};
use crate::expr::{ExprError, Expression};

/// `y = f(params; inputs)` from an expression.
#[derive(Debug, Clone)]
pub struct CustomModel {
    expr: Arc<Expression>,
    params: Vec<String>,
    inputs: Vec<String>,
}

impl CustomModel {
    /// Binds the expression's variables to `params` followed by `inputs`; a name in the formula
    /// that is in neither list is an error pointing at it (with a suggestion).
    pub fn new(source: &str, params: Vec<String>, inputs: Vec<String>) -> Result<Self, ExprError> {
        let order: Vec<String> = params.iter().chain(&inputs).cloned().collect();
        let expr = Expression::parse_with_vars(source, &order)?;
        Ok(Self {
            expr: Arc::new(expr),
            params,
            inputs,
        })
    }

    #[must_use]
    pub fn param_names(&self) -> &[String] {
        &self.params
    }

    #[must_use]
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }
}

impl Predictor for CustomModel {
    fn n_params(&self) -> usize {
        self.params.len()
    }
    fn n_inputs(&self) -> usize {
        self.inputs.len()
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn forward<S: Scalar>(&self, params: &[S], x: &[f64], out: &mut Vec<S>) {
        let mut vars = Vec::with_capacity(params.len() + x.len());
        vars.extend_from_slice(params);
        vars.extend(x.iter().map(|&v| S::constant(v)));
        out.clear();
        out.push(self.expr.eval(&vars));
    }
    fn describe(&self) -> String {
        format!(
            "custom model {} ({} parameters)",
            self.expr.source(),
            self.params.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_with_params_then_inputs() {
        let m = CustomModel::new(
            "a*sin(b*x + c) + d",
            vec!["a".into(), "b".into(), "c".into(), "d".into()],
            vec!["x".into()],
        )
        .unwrap();
        let mut out = Vec::new();
        m.forward(&[2.0, 3.0, 0.5, -1.0], &[0.25], &mut out);
        assert_eq!(out, vec![2.0 * (3.0_f64 * 0.25 + 0.5).sin() - 1.0]);
        assert_eq!((m.n_params(), m.n_inputs(), m.n_outputs()), (4, 1, 1));
    }

    #[test]
    fn unknown_name_is_an_error_with_suggestion() {
        let err = CustomModel::new("a*xx", vec!["a".into()], vec!["x".into()]).unwrap_err();
        assert!(err.to_string().contains("xx"), "{err}");
        assert_eq!(err.suggestion.as_deref(), Some("did you mean `x`?"));
    }
}
