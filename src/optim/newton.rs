//! Damped Newton with the exact Hessian from the oracle; a gradient step where the Hessian is not
//! positive definite (Cholesky fails).

use nalgebra::{DMatrix, DVector};

use super::hyper::{Hyper, HyperAccess, HyperSet, Hypers, INF, Role, Scale, float, gt};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, named_buffers, norm2};

/// Newton's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewtonHypers {
    pub lr: f64,
}

impl Hypers for NewtonHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [float(
            "lr",
            &mut self.lr,
            gt(0.0),
            INF,
            Scale::Log,
            "damping factor of the Newton step",
        )
        .with_role(Role::Lr)]
    }
}

pub(crate) static NEWTON: OptimizerSpec = OptimizerSpec {
    name: "newton",
    description: "damped Newton with the exact Hessian; gradient step where it is not positive definite",
    needs: Needs::Hessian,
    build: |b| Box::new(Newton::new(b.hypers(NewtonHypers { lr: 1.0 }))),
};

/// Damped Newton's method.
#[derive(Clone, Debug)]
pub struct Newton {
    h: HyperSet<NewtonHypers>,
    last_direction: Vec<f64>,
    last_was_newton: bool,
}

impl Newton {
    pub fn new(h: HyperSet<NewtonHypers>) -> Self {
        Self {
            h,
            last_direction: Vec::new(),
            last_was_newton: false,
        }
    }
}

/// Solves `H d = g` by Cholesky; `None` if `H` is not (numerically) positive definite.
pub(crate) fn newton_direction(hess: DMatrix<f64>, grad: &[f64]) -> Option<Vec<f64>> {
    let chol = hess.cholesky()?;
    let d = chol.solve(&DVector::from_column_slice(grad));
    d.iter()
        .all(|v| v.is_finite())
        .then(|| d.iter().copied().collect())
}

impl Optimizer for Newton {
    // d = H⁻¹g if H ≻ 0 else g; θ −= γd
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, grad, hess) = oracle.hessian(params);
        let lr = self.h.lr;
        let (d, newton) = match newton_direction(hess, &grad) {
            Some(d) => (d, true),
            None => (grad.clone(), false),
        };
        for (p, di) in params.iter_mut().zip(&d) {
            *p += -lr * di;
        }
        self.last_direction = d;
        self.last_was_newton = newton;
        StepInfo {
            loss,
            grad_norm: Some(norm2(&grad)),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        named_buffers([
            ("direction", &self.last_direction),
            (
                "newton_step",
                &[if self.last_was_newton { 1.0 } else { 0.0 }],
            ),
        ])
    }
    fn reset(&mut self) {
        self.last_direction.clear();
        self.last_was_newton = false;
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
    use super::super::FnOracle;
    use super::super::registry::build;
    use nalgebra::DMatrix;

    #[test]
    fn solves_a_quadratic_in_one_step() {
        // f = 0.5 xᵀAx − bᵀx with a coupled A; minimum at A⁻¹b = (1, 2)... check numerically
        let a = [[3.0, 1.0], [1.0, 2.0]];
        let b = [5.0, 5.0];
        let mut o = FnOracle::new(2, move |x| {
            0.5 * (a[0][0] * x[0] * x[0] + 2.0 * a[0][1] * x[0] * x[1] + a[1][1] * x[1] * x[1])
                - b[0] * x[0]
                - b[1] * x[1]
        })
        .with_gradient(move |x, g| {
            g[0] = a[0][0] * x[0] + a[0][1] * x[1] - b[0];
            g[1] = a[1][0] * x[0] + a[1][1] * x[1] - b[1];
        })
        .with_hessian(move |_| DMatrix::from_row_slice(2, 2, &[3.0, 1.0, 1.0, 2.0]));
        let mut opt = build("newton", &[], 0, 2).expect("builds");
        let mut x = vec![-4.0, 7.0];
        opt.step(&mut x, &mut o);
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12,
            "{x:?}"
        );
    }

    #[test]
    fn falls_back_to_gradient_step_when_indefinite() {
        // f = 0.5(x² − y²): H = diag(1, −1)
        let mut o = FnOracle::new(2, |x| 0.5 * (x[0] * x[0] - x[1] * x[1]))
            .with_gradient(|x, g| {
                g[0] = x[0];
                g[1] = -x[1];
            })
            .with_hessian(|_| DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, -1.0]));
        let mut opt = build("newton", &[("lr".into(), 0.1.into())], 0, 2).expect("builds");
        let mut x = vec![1.0, 1.0];
        opt.step(&mut x, &mut o);
        assert!(
            (x[0] - 0.9).abs() < 1e-15 && (x[1] - 1.1).abs() < 1e-15,
            "{x:?}"
        );
        assert_eq!(opt.state()[1].values, vec![0.0]);
    }
}
