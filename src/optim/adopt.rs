//! ADOPT (Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any β₂ with the
//! Optimal Rate"): Adam with the gradient normalised by the second moment of the steps
//! *before* it, the momentum taken after the normalisation, and a clip that grows as `step^¼`.
//! Follows the authors' package `torch-adopt`, version 0.1.0, class `ADOPT`, single-tensor
//! path.
//!
//! The first step only initialises the second moment (`v = g²`): the parameters stay put.
//!
//! Deviations: the reference's `clip_lambda` is a function of the step (default
//! `lambda step: step**0.25`, `None` for no clipping); here it is `clip` (whether to clip) and
//! `clip_power` (the clip value is `step^clip_power`), which cover the default and `None`.
//! `foreach`, `capturable`, `differentiable` and `fused` only choose kernels and are not
//! offered.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, betas, boolean, eps, float, ge, lr, maximize,
};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, eval_gradient, lerp, named_buffers};

/// `adopt.ADOPT`'s hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdoptHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub clip: bool,
    pub clip_power: f64,
    pub weight_decay: f64,
    pub decouple: bool,
    pub maximize: bool,
}

impl Hypers for AdoptHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            betas(&mut self.betas),
            eps(&mut self.eps),
            boolean(
                "clip",
                &mut self.clip,
                "clip the normalised gradient to ±step^clip_power (reference: clip_lambda)",
            ),
            float(
                "clip_power",
                &mut self.clip_power,
                ge(0.0),
                INF,
                Scale::Linear,
                "the clip value grows as step^clip_power (reference: step**0.25)",
            ),
            float(
                "weight_decay",
                &mut self.weight_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "weight decay, added to the gradient or decoupled (scaled by lr): see decouple",
            ),
            boolean(
                "decouple",
                &mut self.decouple,
                "AdamW-style decoupled weight decay (else added to the gradient)",
            ),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static ADOPT: OptimizerSpec = OptimizerSpec {
    name: "adopt",
    description: "Adam normalising by the previous second moment, momentum after (torch-adopt)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Adopt::new(b.hypers(AdoptHypers {
            lr: 1e-3,
            betas: (0.9, 0.9999),
            eps: 1e-6,
            clip: true,
            clip_power: 0.25,
            weight_decay: 0.0,
            decouple: false,
            maximize: false,
        })))
    },
};

/// `adopt.ADOPT`.
#[derive(Clone, Debug)]
pub struct Adopt {
    h: HyperSet<AdoptHypers>,
    step: u64,
    exp_avg: Vec<f64>,
    exp_avg_sq: Vec<f64>,
    grad: Vec<f64>,
}

impl Adopt {
    pub fn new(h: HyperSet<AdoptHypers>) -> Self {
        Self {
            h,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Adopt {
    // g = ±∇f (+ λθ unless decouple); step 0: v = g², nothing moves. Then, with t the number
    // of steps before this one: θ −= γλθ if decouple; n = g / max(√v, ε), clipped to ±t^p;
    // m = lerp(m, n, 1−β₁); θ −= γm; v = β₂v + (1−β₂)g²
    // parallel per-parameter buffers read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let h = *self.h;
        let (beta1, beta2) = h.betas;
        let n = params.len();
        if self.step == 0 || self.exp_avg.len() != n {
            self.exp_avg = vec![0.0; n];
            self.exp_avg_sq = vec![0.0; n];
        }
        let first = self.step == 0;
        let clip = h.clip.then(|| (self.step as f64).powf(h.clip_power));
        for i in 0..n {
            let mut g = if h.maximize {
                -self.grad[i]
            } else {
                self.grad[i]
            };
            if h.weight_decay != 0.0 && !h.decouple {
                g += h.weight_decay * params[i];
            }
            if first {
                self.exp_avg_sq[i] += g * g;
                continue;
            }
            if h.weight_decay != 0.0 && h.decouple {
                params[i] += -h.lr * h.weight_decay * params[i];
            }
            let mut normed = g / self.exp_avg_sq[i].sqrt().max(h.eps);
            if let Some(c) = clip {
                normed = normed.clamp(-c, c);
            }
            self.exp_avg[i] = lerp(self.exp_avg[i], normed, 1.0 - beta1);
            params[i] += -h.lr * self.exp_avg[i];
            self.exp_avg_sq[i] = self.exp_avg_sq[i] * beta2 + (1.0 - beta2) * g * g;
        }
        self.step += 1;
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
        self.exp_avg.clear();
        self.exp_avg_sq.clear();
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
        reference::check("adopt");
    }

    #[test]
    fn first_step_stays_then_the_second_moves_by_the_previous_moment() {
        let mut o = build(
            "adopt",
            &[
                ("lr".into(), 0.1.into()),
                ("betas".into(), (0.5, 0.9).into()),
            ],
            0,
            2,
        )
        .expect("ok");
        let t = trajectory(o.as_mut(), 2);
        assert_eq!(t[0], START);
        // step 2: v = g₀², g₁ = g₀ (same point), n = g/|g| = ±1 (clip 1^¼ = 1), m = 0.5·n
        let g = quad_grad(&START);
        let want = [
            START[0] - 0.1 * 0.5 * g[0].signum(),
            START[1] - 0.1 * 0.5 * g[1].signum(),
        ];
        assert_eq!(t[1], want);
    }

    #[test]
    fn converges() {
        let mut o = build("adopt", &[("lr".into(), 0.02.into())], 0, 2).expect("ok");
        let last = trajectory(o.as_mut(), 3000)[2999];
        assert!(last[0].abs() < 1e-2 && last[1].abs() < 1e-2, "{last:?}");
    }
}
