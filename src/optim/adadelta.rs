//! Adadelta (torch.optim.Adadelta): steps in units of the parameter, from running averages of
//! squared gradients and squared updates.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, Scale, eps, float, ge, le, lr, maximize, weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, decayed_grad, eval_gradient, named_buffers};

/// torch.optim.Adadelta's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdadeltaHypers {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Hypers for AdadeltaHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            float(
                "rho",
                &mut self.rho,
                ge(0.0),
                le(1.0),
                Scale::Linear,
                "coefficient of the running average of squared gradients",
            ),
            eps(&mut self.eps),
            weight_decay(&mut self.weight_decay),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static ADADELTA: OptimizerSpec = OptimizerSpec {
    name: "adadelta",
    description: "unit-corrected running averages of squared gradients and updates (torch.optim.Adadelta)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Adadelta::new(b.hypers(AdadeltaHypers {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            maximize: false,
        })))
    },
};

/// torch.optim.Adadelta, single-tensor path.
#[derive(Clone, Debug)]
pub struct Adadelta {
    h: HyperSet<AdadeltaHypers>,
    square_avg: Option<Vec<f64>>,
    acc_delta: Vec<f64>,
    grad: Vec<f64>,
}

impl Adadelta {
    pub fn new(h: HyperSet<AdadeltaHypers>) -> Self {
        Self {
            h,
            square_avg: None,
            acc_delta: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Adadelta {
    // g = ±∇f + λθ; v = ρv + (1−ρ)g²; Δ = √(u+ε)/√(v+ε) · g; u = ρu + (1−ρ)Δ²; θ −= γΔ
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let AdadeltaHypers {
            lr,
            rho,
            eps,
            weight_decay: wd,
            maximize,
        } = *self.h;
        let n = params.len();
        let sq = self.square_avg.get_or_insert_with(|| vec![0.0; n]);
        self.acc_delta.resize(n, 0.0);
        for i in 0..n {
            let g = decayed_grad(self.grad[i], &mut params[i], maximize, wd, None);
            sq[i] = sq[i] * rho + (1.0 - rho) * g * g;
            let std = (sq[i] + eps).sqrt();
            let delta = (self.acc_delta[i] + eps).sqrt() / std * g;
            self.acc_delta[i] = self.acc_delta[i] * rho + (1.0 - rho) * delta * delta;
            params[i] += -lr * delta;
        }
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        let Some(sq) = &self.square_avg else {
            return Vec::new();
        };
        named_buffers([("square_avg", sq), ("acc_delta", &self.acc_delta)])
    }
    fn reset(&mut self) {
        self.square_avg = None;
        self.acc_delta.clear();
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
    use super::super::registry::build;
    use super::super::testutil::*;

    /// Independent transcription of torch's `_single_tensor_adadelta`.
    fn reference(steps: usize, lr: f64, rho: f64, eps: f64, wd: f64) -> Vec<[f64; 2]> {
        let mut p = START;
        let (mut v, mut u) = ([0.0; 2], [0.0; 2]);
        let mut out = vec![];
        for _ in 0..steps {
            let g0 = quad_grad(&p);
            for i in 0..2 {
                let g = g0[i] + wd * p[i];
                v[i] = rho * v[i] + (1.0 - rho) * g * g;
                let d = ((u[i] + eps).sqrt() / (v[i] + eps).sqrt()) * g;
                u[i] = rho * u[i] + (1.0 - rho) * d * d;
                p[i] -= lr * d;
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn non_default_matches_torch() {
        let mut o = build(
            "adadelta",
            &[
                ("lr".into(), 0.5.into()),
                ("rho".into(), 0.8.into()),
                ("eps".into(), 1e-4.into()),
                ("weight_decay".into(), 0.05.into()),
            ],
            0,
            2,
        )
        .expect("builds");
        let got = trajectory(o.as_mut(), 3);
        assert_close(&got, &reference(3, 0.5, 0.8, 1e-4, 0.05), 1e-12);
    }

    #[test]
    fn converges() {
        // With lr = 1 the stiff coordinate (curvature 10) enters a growing oscillation, as
        // Adadelta does on ill-conditioned quadratics; a smaller lr converges.
        let mut o = build(
            "adadelta",
            &[("lr".into(), 0.1.into()), ("eps".into(), 1e-2.into())],
            0,
            2,
        )
        .expect("builds");
        let x = trajectory(o.as_mut(), 1000);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 1e-6 && last[1].abs() < 1e-6, "{last:?}");
    }
}
