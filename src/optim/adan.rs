//! Adan (Xie et al. 2022/2024, "Adan: Adaptive Nesterov Momentum Algorithm for Faster
//! Optimizing Deep Models"): Adam-like steps with a Nesterov-style correction from the change of
//! the gradient, `g_t − g_{t−1}`, averaged separately and fed into the second moment, and
//! proximal (or decoupled) weight decay. Follows the authors' `adan.py` of sail-sg/Adan
//! (commit 2c65bea, setup version 0.0.2), class `Adan`, single-tensor path (`foreach=False`;
//! the default multi-tensor path is the same arithmetic batched).
//!
//! Deviations: the reference's `betas` is a triple `(β₁, β₂, β₃)`; hyperparameters here are
//! pairs at most, so it is `betas` `(β₁, β₂)` and `beta3`. `foreach` and `fused` choose kernels
//! and are not offered.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, betas, boolean, eps, float, ge, lr, lt,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    Optimizer, Oracle, StateVector, StepInfo, bias_correction, eval_gradient, named_buffers, norm2,
};

/// The reference `Adan`'s hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdanHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub beta3: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub max_grad_norm: f64,
    pub no_prox: bool,
}

impl Hypers for AdanHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            betas(&mut self.betas),
            float(
                "beta3",
                &mut self.beta3,
                ge(0.0),
                lt(1.0),
                Scale::Linear,
                "decay of the second moment (reference: betas[2])",
            ),
            eps(&mut self.eps),
            float(
                "weight_decay",
                &mut self.weight_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "weight decay, proximal θ /= 1 + γλ (decoupled θ *= 1 − γλ with no_prox)",
            ),
            float(
                "max_grad_norm",
                &mut self.max_grad_norm,
                ge(0.0),
                INF,
                Scale::Log,
                "clip the gradient to this global norm (0: no clipping)",
            ),
            boolean(
                "no_prox",
                &mut self.no_prox,
                "decay before the step (θ *= 1 − γλ) instead of the proximal division after it",
            ),
        ]
    }
}

pub(crate) static ADAN: OptimizerSpec = OptimizerSpec {
    name: "adan",
    description: "Adam with a Nesterov correction from the change of the gradient (sail-sg Adan)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Adan::new(b.hypers(AdanHypers {
            lr: 1e-3,
            betas: (0.98, 0.92),
            beta3: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            max_grad_norm: 0.0,
            no_prox: false,
        })))
    },
};

/// The reference `Adan`.
#[derive(Clone, Debug)]
pub struct Adan {
    h: HyperSet<AdanHypers>,
    step: u64,
    exp_avg: Vec<f64>,
    exp_avg_diff: Vec<f64>,
    exp_avg_sq: Vec<f64>,
    /// The previous (clipped) gradient.
    pre_grad: Vec<f64>,
    grad: Vec<f64>,
}

impl Adan {
    pub fn new(h: HyperSet<AdanHypers>) -> Self {
        Self {
            h,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_diff: Vec::new(),
            exp_avg_sq: Vec::new(),
            pre_grad: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Adan {
    // g ← g·min(1, max_grad_norm/(‖g‖ + ε)) if max_grad_norm > 0; Δ = g − g_prev (0 at t = 1);
    // m = β₁m + (1−β₁)g; d = β₂d + (1−β₂)Δ; n = β₃n + (1−β₃)(g + β₂Δ)²;
    // u = (γ/(1−β₁ᵗ))·m + (γβ₂/(1−β₂ᵗ))·d, over (√n/√(1−β₃ᵗ) + ε);
    // θ = (θ − u)/(1 + γλ), or with no_prox θ = θ(1 − γλ) − u
    // parallel per-parameter buffers read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let h = *self.h;
        let (beta1, beta2) = h.betas;
        let n = params.len();
        let clip = if h.max_grad_norm > 0.0 {
            (h.max_grad_norm / (norm2(&self.grad) + h.eps)).min(1.0)
        } else {
            1.0
        };
        if self.step == 0 || self.exp_avg.len() != n {
            self.exp_avg = vec![0.0; n];
            self.exp_avg_diff = vec![0.0; n];
            self.exp_avg_sq = vec![0.0; n];
            // The first step's "previous gradient" is its own: no difference yet.
            self.pre_grad = self.grad.iter().map(|g| g * clip).collect();
        }
        self.step += 1;
        let bias_correction1 = bias_correction(beta1, self.step);
        let bias_correction2 = bias_correction(beta2, self.step);
        let bias_correction3_sqrt = bias_correction(h.beta3, self.step).sqrt();
        let step_size_diff = h.lr * beta2 / bias_correction2;
        let step_size = h.lr / bias_correction1;
        for i in 0..n {
            let g = self.grad[i] * clip;
            let diff = -self.pre_grad[i] + g;
            self.exp_avg[i] = self.exp_avg[i] * beta1 + (1.0 - beta1) * g;
            self.exp_avg_diff[i] = self.exp_avg_diff[i] * beta2 + (1.0 - beta2) * diff;
            let nesterov = diff * beta2 + g;
            self.exp_avg_sq[i] =
                self.exp_avg_sq[i] * h.beta3 + (1.0 - h.beta3) * nesterov * nesterov;
            let denom = self.exp_avg_sq[i].sqrt() / bias_correction3_sqrt + h.eps;
            if h.no_prox {
                params[i] *= 1.0 - h.lr * h.weight_decay;
            }
            params[i] += -step_size * self.exp_avg[i] / denom;
            params[i] += -step_size_diff * self.exp_avg_diff[i] / denom;
            if !h.no_prox {
                params[i] /= 1.0 + h.lr * h.weight_decay;
            }
            self.pre_grad[i] = g;
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
        named_buffers([
            ("exp_avg", &self.exp_avg),
            ("exp_avg_diff", &self.exp_avg_diff),
            ("exp_avg_sq", &self.exp_avg_sq),
        ])
    }
    fn reset(&mut self) {
        *self = Self::new(self.h.clone());
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
    use super::super::reference;
    use super::super::registry::build;
    use super::super::testutil::*;

    #[test]
    fn matches_the_reference_trajectories() {
        reference::check("adan");
    }

    #[test]
    fn first_step_is_a_sign_step_and_the_proximal_decay_divides() {
        // t = 1: Δ = 0, m̂ = g, n̂ = g², d = 0: θ = (θ − γ·g/(|g| + ε))/(1 + γλ).
        let mut o = build(
            "adan",
            &[
                ("lr".into(), 0.1.into()),
                ("weight_decay".into(), 0.5.into()),
            ],
            0,
            2,
        )
        .expect("ok");
        let x = trajectory(o.as_mut(), 1)[0];
        let g = quad_grad(&START);
        for i in 0..2 {
            let want = (START[i] - 0.1 * g[i].signum()) / 1.05;
            assert!((x[i] - want).abs() < 1e-8, "{} vs {want}", x[i]);
        }
    }

    #[test]
    fn converges() {
        let mut o = build("adan", &[("lr".into(), 0.02.into())], 0, 2).expect("ok");
        let last = trajectory(o.as_mut(), 3000)[2999];
        assert!(last[0].abs() < 1e-3 && last[1].abs() < 1e-3, "{last:?}");
    }
}
