//! AdEMAMix (Pagliardini, Ablin & Grangier 2024, "The AdEMAMix Optimizer: Better, Faster,
//! Older"): Adam whose numerator mixes the usual fast momentum with a slow one (`β₃` close to 1,
//! not bias-corrected) weighted by `alpha`, with optional warmups of `alpha` and `β₃`. Follows
//! the authors' PyTorch reference `pytorch/ademamix.py` of apple/ml-ademamix (commit c3d73c0;
//! the repository ships no package), class `AdEMAMix`.
//!
//! Deviations: the reference's `betas` is a triple `(β₁, β₂, β₃)`; hyperparameters here are
//! pairs at most, so it is `betas` `(β₁, β₂)` and `beta3`. `beta3_warmup` and `alpha_warmup` are
//! `None` by default in the reference; here 0 means none (the reference behaves the same for 0:
//! its warmup branch is never taken).

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, betas, float, ge, int, lr, lt,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    Optimizer, Oracle, StateVector, StepInfo, bias_correction, eval_gradient, named_buffers,
};

/// The reference `AdEMAMix`'s hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdemamixHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub beta3: f64,
    pub alpha: f64,
    pub beta3_warmup: usize,
    pub alpha_warmup: usize,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Hypers for AdemamixHypers {
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
                "decay of the slow momentum (reference: betas[2])",
            ),
            float(
                "alpha",
                &mut self.alpha,
                ge(0.0),
                INF,
                Scale::Linear,
                "weight of the slow momentum in the update",
            ),
            int(
                "beta3_warmup",
                &mut self.beta3_warmup,
                0,
                1_000_000_000,
                "steps over which beta3 rises from beta1 by half-life (0: none)",
            ),
            int(
                "alpha_warmup",
                &mut self.alpha_warmup,
                0,
                1_000_000_000,
                "steps over which alpha rises linearly from 0 (0: none)",
            ),
            float(
                "eps",
                &mut self.eps,
                ge(0.0),
                INF,
                Scale::Log,
                "term added to the denominator for numerical stability",
            ),
            float(
                "weight_decay",
                &mut self.weight_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "decoupled weight decay, scaled by lr (as AdamW)",
            ),
        ]
    }
}

pub(crate) static ADEMAMIX: OptimizerSpec = OptimizerSpec {
    name: "ademamix",
    description: "Adam with a second, slow momentum mixed in by alpha (Apple ml-ademamix)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Ademamix::new(b.hypers(AdemamixHypers {
            lr: 1e-3,
            betas: (0.9, 0.999),
            beta3: 0.9999,
            alpha: 2.0,
            beta3_warmup: 0,
            alpha_warmup: 0,
            eps: 1e-8,
            weight_decay: 0.0,
        })))
    },
};

/// The reference `AdEMAMix`.
#[derive(Clone, Debug)]
pub struct Ademamix {
    h: HyperSet<AdemamixHypers>,
    step: u64,
    exp_avg_fast: Vec<f64>,
    exp_avg_slow: Vec<f64>,
    exp_avg_sq: Vec<f64>,
    /// `alpha` and `beta3` of the last step, after their warmups.
    alpha: f64,
    beta3: f64,
    grad: Vec<f64>,
}

impl Ademamix {
    pub fn new(h: HyperSet<AdemamixHypers>) -> Self {
        Self {
            h,
            step: 0,
            exp_avg_fast: Vec::new(),
            exp_avg_slow: Vec::new(),
            exp_avg_sq: Vec::new(),
            alpha: 0.0,
            beta3: 0.0,
            grad: Vec::new(),
        }
    }
}

/// The reference's `linear_warmup_scheduler`: from `start` to `end` linearly over `warmup`.
fn linear_warmup(step: u64, end: f64, start: f64, warmup: usize) -> f64 {
    if (step as usize) < warmup {
        let a = step as f64 / warmup as f64;
        (1.0 - a) * start + a * end
    } else {
        end
    }
}

/// The reference's `linear_hl_warmup_scheduler`: linear in the half-life `ln ½ / ln β − 1`.
fn half_life_warmup(step: u64, end: f64, start: f64, warmup: usize) -> f64 {
    let f = |beta: f64| 0.5_f64.ln() / (beta + 1e-8).ln() - 1.0;
    let f_inv = |t: f64| 0.5_f64.powf(1.0 / (t + 1.0));
    if (step as usize) < warmup {
        let a = step as f64 / warmup as f64;
        f_inv((1.0 - a) * f(start) + a * f(end))
    } else {
        end
    }
}

impl Optimizer for Ademamix {
    // t += 1; α = warmup(t), β₃ = half-life warmup(t) from β₁; m₁ = β₁m₁ + (1−β₁)g (m₁ = g if
    // β₁ = 0); m₂ = β₃m₂ + (1−β₃)g; v = β₂v + (1−β₂)g²;
    // θ −= γ·((m₁/(1−β₁ᵗ) + α·m₂)/(√v/√(1−β₂ᵗ) + ε) + λθ)
    // parallel per-parameter buffers read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let h = *self.h;
        let (beta1, beta2) = h.betas;
        let n = params.len();
        if self.step == 0 || self.exp_avg_sq.len() != n {
            self.exp_avg_fast = vec![0.0; n];
            self.exp_avg_slow = vec![0.0; n];
            self.exp_avg_sq = vec![0.0; n];
        }
        self.step += 1;
        let bias_correction1 = bias_correction(beta1, self.step);
        let bias_correction2 = bias_correction(beta2, self.step);
        self.alpha = linear_warmup(self.step, h.alpha, 0.0, h.alpha_warmup);
        self.beta3 = half_life_warmup(self.step, h.beta3, beta1, h.beta3_warmup);
        let (alpha, beta3) = (self.alpha, self.beta3);
        for i in 0..n {
            let g = self.grad[i];
            let fast = if beta1 == 0.0 {
                g
            } else {
                self.exp_avg_fast[i] = self.exp_avg_fast[i] * beta1 + (1.0 - beta1) * g;
                self.exp_avg_fast[i]
            };
            self.exp_avg_slow[i] = self.exp_avg_slow[i] * beta3 + (1.0 - beta3) * g;
            self.exp_avg_sq[i] = self.exp_avg_sq[i] * beta2 + (1.0 - beta2) * g * g;
            let denom = self.exp_avg_sq[i].sqrt() / bias_correction2.sqrt() + h.eps;
            let update = (fast / bias_correction1 + alpha * self.exp_avg_slow[i]) / denom
                + h.weight_decay * params[i];
            params[i] += -h.lr * update;
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
        let mut v = Vec::new();
        if self.h.betas.0 != 0.0 {
            v.push(StateVector::new("exp_avg_fast", &self.exp_avg_fast));
        }
        v.extend(named_buffers([
            ("exp_avg_slow", &self.exp_avg_slow),
            ("exp_avg_sq", &self.exp_avg_sq),
            ("alpha", &[self.alpha]),
            ("beta3", &[self.beta3]),
        ]));
        v
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
    use super::{half_life_warmup, linear_warmup};

    #[test]
    fn matches_the_reference_trajectories() {
        reference::check("ademamix");
    }

    #[test]
    fn warmups_start_at_their_start_and_end_at_their_end() {
        assert_eq!(linear_warmup(0, 8.0, 0.0, 100), 0.0);
        assert_eq!(linear_warmup(50, 8.0, 0.0, 100), 4.0);
        assert_eq!(linear_warmup(100, 8.0, 0.0, 100), 8.0);
        // β = 0.5^(1/(t+1)) inverts the half-life t = ln ½/ln β − 1
        // (up to the 1e-8 the reference adds inside the logarithm)
        assert!((half_life_warmup(0, 0.9999, 0.9, 100) - 0.9).abs() < 2e-8);
        let mid = half_life_warmup(50, 0.9999, 0.9, 100);
        assert!(mid > 0.9 && mid < 0.9999, "{mid}");
        assert_eq!(half_life_warmup(100, 0.9999, 0.9, 100), 0.9999);
    }

    #[test]
    fn alpha_zero_is_adam() {
        // With α = 0 and β₃ irrelevant, AdEMAMix's update is Adam's (and AdamW's decay).
        let p = |n: &str, v: f64| (n.to_string(), v.into());
        let mut a = build("ademamix", &[p("lr", 0.05), p("alpha", 0.0)], 0, 2).expect("ok");
        let mut b = build("adam", &[p("lr", 0.05)], 0, 2).expect("ok");
        let (ta, tb) = (trajectory(a.as_mut(), 50), trajectory(b.as_mut(), 50));
        assert_close(&ta, &tb, 1e-12);
    }

    #[test]
    fn the_slow_momentum_changes_the_path() {
        let p = |n: &str, v: f64| (n.to_string(), v.into());
        let mut a = build("ademamix", &[p("lr", 0.05), p("alpha", 5.0)], 0, 2).expect("ok");
        let mut b = build("ademamix", &[p("lr", 0.05), p("alpha", 0.0)], 0, 2).expect("ok");
        let (ta, tb) = (trajectory(a.as_mut(), 20), trajectory(b.as_mut(), 20));
        assert!((ta[19][0] - tb[19][0]).abs() > 1e-3);
    }
}
