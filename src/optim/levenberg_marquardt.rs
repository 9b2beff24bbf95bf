//! Levenberg–Marquardt for least squares (loss `0.5·|r|²`): damped Gauss–Newton steps,
//! accepted only if they lower the loss, with the damping adapted up or down.
//!
//! If the oracle has no residuals the same scheme runs on the exact Hessian instead of `JᵀJ`
//! (a damped, trust-region-like Newton method), so the optimizer works on any objective.

use nalgebra::{DMatrix, DVector};

use super::hyper::{Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, boolean, float, gt, int};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, named_buffers};

/// Levenberg–Marquardt's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevenbergMarquardtHypers {
    pub lambda: f64,
    pub lambda_up: f64,
    pub lambda_down: f64,
    pub marquardt_scaling: bool,
    pub max_tries: usize,
}

impl Hypers for LevenbergMarquardtHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            float(
                "lambda",
                &mut self.lambda,
                gt(0.0),
                INF,
                Scale::Log,
                "initial damping",
            ),
            float(
                "lambda_up",
                &mut self.lambda_up,
                gt(1.0),
                INF,
                Scale::Log,
                "damping factor on a rejected step",
            ),
            float(
                "lambda_down",
                &mut self.lambda_down,
                gt(1.0),
                INF,
                Scale::Log,
                "damping divisor on an accepted step",
            ),
            boolean(
                "marquardt_scaling",
                &mut self.marquardt_scaling,
                "damp with λ·diag(JᵀJ) (Marquardt) instead of λ·I (Levenberg)",
            ),
            int(
                "max_tries",
                &mut self.max_tries,
                1,
                1000,
                "trial solves per step before giving up",
            ),
        ]
    }
}

pub(crate) static LEVENBERG_MARQUARDT: OptimizerSpec = OptimizerSpec {
    name: "levenberg_marquardt",
    description: "damped Gauss-Newton for least squares; damped Newton if there are no residuals",
    needs: Needs::Residuals,
    build: |b| {
        Box::new(LevenbergMarquardt::new(b.hypers(
            LevenbergMarquardtHypers {
                lambda: 1e-3,
                lambda_up: 10.0,
                lambda_down: 10.0,
                marquardt_scaling: true,
                max_tries: 10,
            },
        )))
    },
};

/// Levenberg–Marquardt with multiplicative damping updates.
#[derive(Clone, Debug)]
pub struct LevenbergMarquardt {
    h: HyperSet<LevenbergMarquardtHypers>,
    lambda: Option<f64>,
    last_step: Vec<f64>,
    rejected: u64,
}

impl LevenbergMarquardt {
    pub fn new(h: HyperSet<LevenbergMarquardtHypers>) -> Self {
        Self {
            h,
            lambda: None,
            last_step: Vec::new(),
            rejected: 0,
        }
    }
}

fn solve(m: DMatrix<f64>, rhs: &DVector<f64>) -> Option<DVector<f64>> {
    let x = match m.clone().cholesky() {
        Some(c) => c.solve(rhs),
        None => m.lu().solve(rhs)?,
    };
    x.iter().all(|v| v.is_finite()).then_some(x)
}

impl Optimizer for LevenbergMarquardt {
    // (JᵀJ + λ·diag(JᵀJ)) δ = −Jᵀr  (λ·I without marquardt_scaling); accept θ + δ if the loss
    // drops (λ /= down) else λ *= up and retry, at most max_tries solves a step
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let LevenbergMarquardtHypers {
            lambda: initial_lambda,
            lambda_up: up,
            lambda_down: down,
            marquardt_scaling: marquardt,
            max_tries,
        } = *self.h;
        let n = params.len();
        let (a, g) = match oracle.residuals(params) {
            Some((r, j)) => {
                let jt = j.transpose();
                (&jt * &j, &jt * &r)
            }
            None => {
                let (_, g, hess) = oracle.hessian(params);
                (hess, DVector::from_vec(g))
            }
        };
        let loss = oracle.value(params);
        let grad_norm = g.norm();
        let mut lambda = *self.lambda.get_or_insert(initial_lambda);
        let rhs = -&g;
        let mut trial = vec![0.0; n];
        for _ in 0..max_tries {
            let mut m = a.clone();
            for i in 0..n {
                // a zero diagonal would leave that direction undamped: damp it like Levenberg
                let scale = if marquardt && a[(i, i)] > 0.0 {
                    a[(i, i)]
                } else {
                    1.0
                };
                m[(i, i)] += lambda * scale;
            }
            let Some(delta) = solve(m, &rhs) else {
                lambda *= up;
                continue;
            };
            for i in 0..n {
                trial[i] = params[i] + delta[i];
            }
            let new_loss = oracle.value(&trial);
            if new_loss < loss {
                params.copy_from_slice(&trial);
                self.last_step = delta.iter().copied().collect();
                lambda /= down;
                break;
            }
            self.rejected += 1;
            lambda *= up;
        }
        self.lambda = Some(lambda.clamp(1e-300, 1e300));
        StepInfo {
            loss,
            grad_norm: Some(grad_norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        named_buffers([
            ("lambda", &[self.lambda.unwrap_or(self.h.lambda)]),
            ("last_step", &self.last_step),
            ("rejected", &[self.rejected as f64]),
        ])
    }
    fn reset(&mut self) {
        self.lambda = None;
        self.last_step.clear();
        self.rejected = 0;
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
    use nalgebra::{DMatrix, DVector};

    fn curve_oracle() -> FnOracle {
        // y = a·exp(b·t) with a = 2, b = −1.5 sampled without noise
        let ts: Vec<f64> = (0..12).map(|i| f64::from(i) * 0.25).collect();
        let ys: Vec<f64> = ts.iter().map(|t| 2.0 * (-1.5 * t).exp()).collect();
        let (ts2, ys2) = (ts.clone(), ys.clone());
        let res = move |x: &[f64]| -> (DVector<f64>, DMatrix<f64>) {
            let m = ts2.len();
            let mut r = DVector::zeros(m);
            let mut j = DMatrix::zeros(m, 2);
            for k in 0..m {
                let e = (x[1] * ts2[k]).exp();
                r[k] = x[0] * e - ys2[k];
                j[(k, 0)] = e;
                j[(k, 1)] = x[0] * ts2[k] * e;
            }
            (r, j)
        };
        FnOracle::new(2, move |x| {
            ts.iter()
                .zip(&ys)
                .map(|(t, y)| 0.5 * (x[0] * (x[1] * t).exp() - y).powi(2))
                .sum()
        })
        .with_residuals(res)
    }

    #[test]
    fn fits_an_exponential_curve() {
        let mut o = curve_oracle();
        let mut opt = build("levenberg_marquardt", &[], 0, 2).expect("builds");
        let mut x = vec![1.0, 0.0];
        let mut losses = vec![];
        for _ in 0..50 {
            losses.push(opt.step(&mut x, &mut o).loss);
        }
        assert!(
            (x[0] - 2.0).abs() < 1e-8 && (x[1] + 1.5).abs() < 1e-8,
            "{x:?}"
        );
        assert!(
            losses.windows(2).all(|w| w[1] <= w[0]),
            "monotone: {losses:?}"
        );
    }

    #[test]
    fn levenberg_variant_and_hessian_fallback() {
        let mut o = curve_oracle();
        let mut opt = build(
            "levenberg_marquardt",
            &[("marquardt_scaling".into(), false.into())],
            0,
            2,
        )
        .expect("builds");
        let mut x = vec![1.0, 0.0];
        for _ in 0..100 {
            opt.step(&mut x, &mut o);
        }
        assert!(
            (x[0] - 2.0).abs() < 1e-6 && (x[1] + 1.5).abs() < 1e-6,
            "{x:?}"
        );

        // no residuals: damped Newton on the quadratic
        let mut q = super::super::testutil::quadratic();
        let mut opt = build("levenberg_marquardt", &[], 0, 2).expect("builds");
        let mut x = vec![1.5, -0.8];
        for _ in 0..20 {
            opt.step(&mut x, &mut q);
        }
        assert!(x[0].abs() < 1e-10 && x[1].abs() < 1e-10, "{x:?}");
    }
}
