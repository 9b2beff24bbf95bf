//! RAdam (torch.optim.RAdam): Adam whose adaptive step is switched on, and rectified, only once
//! the variance of the adaptive learning rate is tractable (ρₜ > 5).

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, betas, decoupled_weight_decay, eps, lr, maximize,
    weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    Optimizer, Oracle, StateVector, StepInfo, bias_correction, decayed_grad, eval_gradient, lerp,
    named_buffers,
};

/// torch.optim.RAdam's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RAdamHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

impl Hypers for RAdamHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            betas(&mut self.betas),
            eps(&mut self.eps),
            weight_decay(&mut self.weight_decay),
            decoupled_weight_decay(&mut self.decoupled_weight_decay),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static RADAM: OptimizerSpec = OptimizerSpec {
    name: "radam",
    description: "Adam with a rectified adaptive learning rate (torch.optim.RAdam)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(RAdam::new(b.hypers(RAdamHypers {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        })))
    },
};

/// torch.optim.RAdam, single-tensor path.
#[derive(Clone, Debug)]
pub struct RAdam {
    h: HyperSet<RAdamHypers>,
    step: u64,
    exp_avg: Vec<f64>,
    exp_avg_sq: Vec<f64>,
    grad: Vec<f64>,
}

impl RAdam {
    pub fn new(h: HyperSet<RAdamHypers>) -> Self {
        Self {
            h,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for RAdam {
    // t += 1; g = ±∇f + λθ (or θ *= 1−γλ if decoupled); m = lerp(m, g, 1−β₁); v = β₂v + (1−β₂)g²;
    // m̂ = m/(1−β₁ᵗ); ρ∞ = 2/(1−β₂) − 1; ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ);
    // ρₜ > 5: θ −= m̂·γ·(√(1−β₂ᵗ)/(√v + ε))·√((ρₜ−4)(ρₜ−2)ρ∞/((ρ∞−4)(ρ∞−2)ρₜ)), else θ −= m̂·γ
    // parallel per-parameter buffers read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let RAdamHypers {
            lr,
            betas: (beta1, beta2),
            eps,
            weight_decay: wd,
            decoupled_weight_decay: decoupled,
            maximize,
        } = *self.h;
        let n = params.len();
        if self.step == 0 {
            self.exp_avg = vec![0.0; n];
            self.exp_avg_sq = vec![0.0; n];
        }
        self.step += 1;
        let t = self.step as f64;
        let bias_correction1 = bias_correction(beta1, self.step);
        let bias_correction2 = bias_correction(beta2, self.step);
        let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * beta2.powf(t) / bias_correction2;
        let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .sqrt();
        for i in 0..n {
            let g = decayed_grad(
                self.grad[i],
                &mut params[i],
                maximize,
                wd,
                decoupled.then_some(lr),
            );
            self.exp_avg[i] = lerp(self.exp_avg[i], g, 1.0 - beta1);
            self.exp_avg_sq[i] = self.exp_avg_sq[i] * beta2 + (1.0 - beta2) * g * g;
            let corrected = self.exp_avg[i] / bias_correction1;
            let update = if rho_t > 5.0 {
                let adaptive = bias_correction2.sqrt() / (self.exp_avg_sq[i].sqrt() + eps);
                corrected * lr * adaptive * rect
            } else {
                corrected * lr
            };
            params[i] += -update;
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
        named_buffers([("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)])
    }
    fn reset(&mut self) {
        self.step = 0;
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

    /// Independent transcription of torch's `_single_tensor_radam`.
    fn reference(steps: usize, lr: f64, b1: f64, b2: f64, eps: f64, wd: f64) -> Vec<[f64; 2]> {
        let mut p = START;
        let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
        let mut out = vec![];
        for t in 1..=steps {
            let t = t as f64;
            let g0 = quad_grad(&p);
            let bc1 = 1.0 - b1.powf(t);
            let bc2 = 1.0 - b2.powf(t);
            let rho_inf = 2.0 / (1.0 - b2) - 1.0;
            let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
            for i in 0..2 {
                let g = g0[i] + wd * p[i];
                m[i] = m[i] + (1.0 - b1) * (g - m[i]);
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let mhat = m[i] / bc1;
                if rho_t > 5.0 {
                    let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                        .sqrt();
                    let adaptive = bc2.sqrt() / (v[i].sqrt() + eps);
                    p[i] -= mhat * lr * adaptive * rect;
                } else {
                    p[i] -= mhat * lr;
                }
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn non_default_matches_torch_through_both_branches() {
        let mut o = build(
            "radam",
            &[
                ("lr".into(), 0.01.into()),
                ("betas".into(), (0.8, 0.99).into()),
                ("eps".into(), 1e-6.into()),
                ("weight_decay".into(), 0.1.into()),
            ],
            0,
            2,
        )
        .expect("builds");
        // ρₜ first exceeds 5 at step 6 for β₂ = 0.99, so 8 steps cover both branches
        let got = trajectory(o.as_mut(), 8);
        assert_close(&got, &reference(8, 0.01, 0.8, 0.99, 1e-6, 0.1), 1e-12);
        let b2: f64 = 0.99;
        let rho = |t: f64| 2.0 / (1.0 - b2) - 1.0 - 2.0 * t * b2.powf(t) / (1.0 - b2.powf(t));
        assert!(rho(5.0) <= 5.0 && rho(6.0) > 5.0);
    }

    #[test]
    fn converges() {
        let mut o = build("radam", &[("lr".into(), 0.05.into())], 0, 2).expect("builds");
        let x = trajectory(o.as_mut(), 3000);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 1e-3 && last[1].abs() < 1e-3, "{last:?}");
    }
}
