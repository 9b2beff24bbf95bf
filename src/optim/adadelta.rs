//! Adadelta (torch.optim.Adadelta): steps in units of the parameter, from running averages of
//! squared gradients and squared updates.

use super::registry::HyperSet;
use super::{Optimizer, Oracle, StateVector, StepInfo, decayed_grad, eval_gradient};

/// torch.optim.Adadelta, single-tensor path.
#[derive(Clone, Debug)]
pub struct Adadelta {
    h: HyperSet,
    square_avg: Option<Vec<f64>>,
    acc_delta: Vec<f64>,
    grad: Vec<f64>,
}

impl Adadelta {
    pub fn new(h: HyperSet) -> Self {
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
        let lr = self.h.f("lr");
        let rho = self.h.f("rho");
        let eps = self.h.f("eps");
        let wd = self.h.f("weight_decay");
        let maximize = self.h.b("maximize");
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
        vec![
            StateVector {
                name: "square_avg",
                values: sq.clone(),
            },
            StateVector {
                name: "acc_delta",
                values: self.acc_delta.clone(),
            },
        ]
    }
    fn box_clone(&self) -> Box<dyn Optimizer> {
        Box::new(self.clone())
    }
    fn reset(&mut self) {
        self.square_avg = None;
        self.acc_delta.clear();
    }
    fn hyper_set(&self) -> &HyperSet {
        &self.h
    }
    fn hyper_set_mut(&mut self) -> &mut HyperSet {
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
