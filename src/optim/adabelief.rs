//! AdaBelief (Zhuang et al. 2020, "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
//! Observed Gradients"): Adam whose denominator tracks the variance of the gradient around its
//! running mean, `(g − m)²`, instead of `g²`, so steps grow where the gradient is predictable.
//! Follows the authors' package `adabelief-pytorch`, version 0.2.1, class `AdaBelief`, with
//! its defaults: decoupled weight decay and the RAdam-style rectification on, `eps = 1e-16`.
//!
//! Like the reference, `eps` is added to the stored variance in place at every step (so it
//! accumulates in `exp_avg_var`) and once more outside the square root.
//!
//! Deviations: none in the update; the reference's per-group cache of the rectification terms
//! (`buffer`) only saves recomputation and is not kept.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, betas, boolean, eps, float, ge, lr,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    Optimizer, Oracle, StateVector, StepInfo, bias_correction, decayed_grad, eval_gradient,
    named_buffers,
};

/// `adabelief_pytorch.AdaBelief`'s hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaBeliefHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub rectify: bool,
    pub degenerated_to_sgd: bool,
}

impl Hypers for AdaBeliefHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            betas(&mut self.betas),
            eps(&mut self.eps),
            float(
                "weight_decay",
                &mut self.weight_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "weight decay, decoupled (see weight_decouple, fixed_decay) or added to the gradient",
            ),
            boolean(
                "amsgrad",
                &mut self.amsgrad,
                "use the maximum of past variance estimates",
            ),
            boolean(
                "weight_decouple",
                &mut self.weight_decouple,
                "AdamW-style decoupled weight decay (else added to the gradient)",
            ),
            boolean(
                "fixed_decay",
                &mut self.fixed_decay,
                "decoupled decay θ *= 1 − λ, not scaled by lr",
            ),
            boolean(
                "rectify",
                &mut self.rectify,
                "RAdam's variance rectification of the step size",
            ),
            boolean(
                "degenerated_to_sgd",
                &mut self.degenerated_to_sgd,
                "while rectification is undefined, take SGD-with-momentum steps",
            ),
        ]
    }
}

pub(crate) static ADABELIEF: OptimizerSpec = OptimizerSpec {
    name: "adabelief",
    description: "Adam scaled by the gradient's deviation from its mean (adabelief-pytorch)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(AdaBelief::new(b.hypers(AdaBeliefHypers {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-16,
            weight_decay: 0.0,
            amsgrad: false,
            weight_decouple: true,
            fixed_decay: false,
            rectify: true,
            degenerated_to_sgd: true,
        })))
    },
};

/// `adabelief_pytorch.AdaBelief`.
#[derive(Clone, Debug)]
pub struct AdaBelief {
    h: HyperSet<AdaBeliefHypers>,
    step: u64,
    exp_avg: Vec<f64>,
    exp_avg_var: Vec<f64>,
    max_exp_avg_var: Vec<f64>,
    grad: Vec<f64>,
}

impl AdaBelief {
    pub fn new(h: HyperSet<AdaBeliefHypers>) -> Self {
        Self {
            h,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_var: Vec::new(),
            max_exp_avg_var: Vec::new(),
            grad: Vec::new(),
        }
    }

    /// The rectified step size (before `lr`) and whether the adaptive step applies
    /// (`N_sma ≥ 5`); `None` for no step (undefined and not degenerated to SGD).
    fn rectified(&self, beta1: f64, beta2: f64) -> (Option<f64>, bool) {
        let t = self.step as f64;
        let beta2_t = beta2.powf(t);
        let n_sma_max = 2.0 / (1.0 - beta2) - 1.0;
        let n_sma = n_sma_max - 2.0 * t * beta2_t / (1.0 - beta2_t);
        let bias_correction1 = bias_correction(beta1, self.step);
        if n_sma >= 5.0 {
            let r = (1.0 - beta2_t) * (n_sma - 4.0) / (n_sma_max - 4.0) * (n_sma - 2.0) / n_sma
                * n_sma_max
                / (n_sma_max - 2.0);
            (Some(r.sqrt() / bias_correction1), true)
        } else if self.h.degenerated_to_sgd {
            (Some(1.0 / bias_correction1), false)
        } else {
            (None, false)
        }
    }
}

impl Optimizer for AdaBelief {
    // θ *= 1 − γλ (1 − λ with fixed_decay) if weight_decouple, else g += λθ;
    // m = β₁m + (1−β₁)g; s = β₂s + (1−β₂)(g − m)² + ε (in place); ŝ = max(ŝ, s) if amsgrad;
    // rectify off: θ −= (γ/(1−β₁ᵗ))·m/(√ŝ/√(1−β₂ᵗ) + ε);
    // rectify on (RAdam's ρₜ): ρₜ ≥ 5: θ −= γ·rₜ/(1−β₁ᵗ)·m/(√s + ε); else θ −= γ·m/(1−β₁ᵗ)
    // if degenerated_to_sgd
    // parallel per-parameter buffers read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let h = *self.h;
        let (beta1, beta2) = h.betas;
        let n = params.len();
        if self.step == 0 || self.exp_avg.len() != n {
            self.exp_avg = vec![0.0; n];
            self.exp_avg_var = vec![0.0; n];
            self.max_exp_avg_var = vec![0.0; n];
        }
        self.step += 1;
        let bias_correction1 = bias_correction(beta1, self.step);
        let bias_correction2 = bias_correction(beta2, self.step);
        // `fixed_decay` is the decoupled rule with `γ = 1`: θ *= 1 − λ.
        let decoupled = h
            .weight_decouple
            .then_some(if h.fixed_decay { 1.0 } else { h.lr });
        let (rectified, adaptive) = if h.rectify {
            self.rectified(beta1, beta2)
        } else {
            (None, false)
        };
        for i in 0..n {
            let g = decayed_grad(
                self.grad[i],
                &mut params[i],
                false,
                h.weight_decay,
                decoupled,
            );
            self.exp_avg[i] = self.exp_avg[i] * beta1 + (1.0 - beta1) * g;
            let residual = g - self.exp_avg[i];
            self.exp_avg_var[i] = self.exp_avg_var[i] * beta2 + (1.0 - beta2) * residual * residual;
            self.exp_avg_var[i] += h.eps;
            let denom = if h.amsgrad {
                self.max_exp_avg_var[i] = self.max_exp_avg_var[i].max(self.exp_avg_var[i]);
                self.max_exp_avg_var[i].sqrt() / bias_correction2.sqrt() + h.eps
            } else {
                self.exp_avg_var[i].sqrt() / bias_correction2.sqrt() + h.eps
            };
            if !h.rectify {
                let step_size = h.lr / bias_correction1;
                params[i] += -step_size * self.exp_avg[i] / denom;
            } else if adaptive {
                let step_size = rectified.unwrap_or(0.0);
                let denom = self.exp_avg_var[i].sqrt() + h.eps;
                params[i] += -step_size * h.lr * self.exp_avg[i] / denom;
            } else if let Some(step_size) = rectified {
                params[i] += -step_size * h.lr * self.exp_avg[i];
            }
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
        let mut v = named_buffers([
            ("exp_avg", &self.exp_avg),
            ("exp_avg_var", &self.exp_avg_var),
        ]);
        if self.h.amsgrad {
            v.push(StateVector::new("max_exp_avg_var", &self.max_exp_avg_var));
        }
        v
    }
    fn reset(&mut self) {
        self.step = 0;
        self.exp_avg.clear();
        self.exp_avg_var.clear();
        self.max_exp_avg_var.clear();
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
        reference::check("adabelief");
    }

    #[test]
    fn rectification_takes_sgd_steps_first_then_adaptive_ones() {
        // With β₂ = 0.999 RAdam's ρₜ reaches 5 at t = 6: the first five steps are momentum SGD
        // steps θ −= γ·m/(1−β₁ᵗ); step 1 is θ −= γ·g exactly.
        let mut o = build("adabelief", &[("lr".into(), 0.01.into())], 0, 2).expect("ok");
        let t = trajectory(o.as_mut(), 1);
        let g = quad_grad(&START);
        for i in 0..2 {
            let m = (1.0 - 0.9) * g[i];
            let want = START[i] + -(1.0 / (1.0 - 0.9_f64)) * 0.01 * m;
            assert_eq!(t[0][i], want);
        }
    }

    #[test]
    fn converges() {
        for rectify in [true, false] {
            let mut o = build(
                "adabelief",
                &[
                    ("lr".into(), 0.02.into()),
                    ("rectify".into(), rectify.into()),
                ],
                0,
                2,
            )
            .expect("ok");
            let last = trajectory(o.as_mut(), 3000)[2999];
            assert!(
                last[0].abs() < 1e-3 && last[1].abs() < 1e-3,
                "{rectify} {last:?}"
            );
        }
    }
}
