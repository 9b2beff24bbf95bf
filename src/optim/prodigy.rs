//! Prodigy (Mishchenko & Defazio 2024, "Prodigy: An Expeditiously Adaptive Parameter-Free
//! Learner"): Adam whose step size `d·lr` comes from a running estimate `d` of the distance to
//! the solution, so `lr` stays at 1. Follows the authors' `prodigyopt` package, version 1.1.2,
//! class `Prodigy` (identical to its `ProdigyReference` at `slice_p = 1`, which the fixture
//! script checks), single parameter group.
//!
//! `state()` shows the distance estimate `d`, its running maximum `d_max` and `dlr`, the
//! effective learning rate `d·lr` (times Adam's bias correction with `use_bias_correction`)
//! that moved the parameters in the last step.
//!
//! Deviations: `beta3`'s reference default is `None`, meaning `√β₂` recomputed from `betas`;
//! hyperparameters here are plain numbers, so the default is `√0.999` (what `None` gives with
//! the default betas) and a scenario that changes `betas[1]` sets `beta3` too if it wants the
//! coupling. `slice_p` (statistics on every p-th entry, a memory-saving approximation) and
//! `fsdp_in_use` (sharded training) are not offered: both are 1 / false here.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, betas, boolean, float, ge, gt, le, lr, lt,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    Optimizer, Oracle, StateVector, StepInfo, bias_correction, eval_gradient, named_buffers,
};

/// `prodigyopt.Prodigy`'s hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProdigyHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub beta3: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decouple: bool,
    pub use_bias_correction: bool,
    pub safeguard_warmup: bool,
    pub d0: f64,
    pub d_coef: f64,
    pub growth_rate: f64,
}

impl Hypers for ProdigyHypers {
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
                "decay of the d estimate's running sums (reference default: sqrt(betas[1]))",
            ),
            float(
                "eps",
                &mut self.eps,
                gt(0.0),
                INF,
                Scale::Log,
                "added to the denominator, scaled by d",
            ),
            float(
                "weight_decay",
                &mut self.weight_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "weight decay, decoupled (scaled by d·lr) or added to the gradient: see decouple",
            ),
            boolean(
                "decouple",
                &mut self.decouple,
                "AdamW-style decoupled weight decay (else added to the gradient)",
            ),
            boolean(
                "use_bias_correction",
                &mut self.use_bias_correction,
                "Adam's bias correction in the step size",
            ),
            boolean(
                "safeguard_warmup",
                &mut self.safeguard_warmup,
                "leave lr out of the d estimate's denominator (safer under warmup)",
            ),
            float(
                "d0",
                &mut self.d0,
                gt(0.0),
                INF,
                Scale::Log,
                "initial distance estimate d",
            ),
            float(
                "d_coef",
                &mut self.d_coef,
                gt(0.0),
                INF,
                Scale::Log,
                "coefficient of the d estimate: the preferred knob",
            ),
            float(
                "growth_rate",
                &mut self.growth_rate,
                gt(0.0),
                le(f64::INFINITY),
                Scale::Log,
                "largest factor d may grow by per step (inf: unbounded)",
            ),
        ]
    }
}

pub(crate) static PRODIGY: OptimizerSpec = OptimizerSpec {
    name: "prodigy",
    description: "Adam with a learned step size d·lr from a distance estimate (prodigyopt)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Prodigy::new(b.hypers(ProdigyHypers {
            lr: 1.0,
            betas: (0.9, 0.999),
            beta3: 0.999_f64.sqrt(),
            eps: 1e-8,
            weight_decay: 0.0,
            decouple: true,
            use_bias_correction: false,
            safeguard_warmup: false,
            d0: 1e-6,
            d_coef: 1.0,
            growth_rate: f64::INFINITY,
        })))
    },
};

/// `prodigyopt.Prodigy`.
#[derive(Clone, Debug)]
pub struct Prodigy {
    h: HyperSet<ProdigyHypers>,
    k: u64,
    d: f64,
    d_max: f64,
    d_numerator: f64,
    /// The step size `d·lr·bias_correction` of the last step.
    dlr: f64,
    p0: Vec<f64>,
    s: Vec<f64>,
    exp_avg: Vec<f64>,
    exp_avg_sq: Vec<f64>,
    grad: Vec<f64>,
}

impl Prodigy {
    pub fn new(h: HyperSet<ProdigyHypers>) -> Self {
        let d0 = h.d0;
        Self {
            h,
            k: 0,
            d: d0,
            d_max: d0,
            d_numerator: 0.0,
            dlr: 0.0,
            p0: Vec::new(),
            s: Vec::new(),
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Prodigy {
    // dlr = d·lr·(√(1−β₂^(k+1))/(1−β₁^(k+1)) if use_bias_correction); g (+= λθ if not decouple);
    // r = β₃r + (d/d₀)·dlr·⟨g, θ₀ − θ⟩; m = β₁m + d(1−β₁)g; v = β₂v + d²(1−β₂)g²;
    // s = β₃s + (d/d₀)·dlr·g (·d instead of ·dlr with safeguard_warmup);
    // d̂ = d_coef·r/‖s‖₁; d = max(d, d̂) at first; d_max = max(d_max, d̂); d = min(d_max, d·growth);
    // θ −= dlr·λθ if decouple; θ −= dlr·m/(√v + d·ε)   (β₁ = 0: θ −= dlr·d·g/(√v + d·ε))
    // parallel per-parameter buffers read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let h = *self.h;
        let (beta1, beta2) = h.betas;
        let n = params.len();
        if self.p0.len() != n {
            // d0 as it is at the first step (the reference reads it when it is constructed)
            self.d = self.h.d0;
            self.d_max = self.h.d0;
            self.p0 = params.to_vec();
            self.s = vec![0.0; n];
            self.exp_avg = vec![0.0; n];
            self.exp_avg_sq = vec![0.0; n];
        }
        let correction = if h.use_bias_correction {
            bias_correction(beta2, self.k + 1).powf(0.5) / bias_correction(beta1, self.k + 1)
        } else {
            1.0
        };
        let d = self.d;
        let dlr = d * h.lr * correction;
        let d_numerator = self.d_numerator * h.beta3;
        let mut dot = 0.0;
        let mut d_denom = 0.0;
        let s_scale = (d / h.d0) * if h.safeguard_warmup { d } else { dlr };
        for i in 0..n {
            if h.weight_decay != 0.0 && !h.decouple {
                self.grad[i] += h.weight_decay * params[i];
            }
            let g = self.grad[i];
            dot += g * (self.p0[i] - params[i]);
            if beta1 > 0.0 {
                self.exp_avg[i] = self.exp_avg[i] * beta1 + d * (1.0 - beta1) * g;
            }
            self.exp_avg_sq[i] = self.exp_avg_sq[i] * beta2 + d * d * (1.0 - beta2) * g * g;
            self.s[i] = self.s[i] * h.beta3 + s_scale * g;
        }
        let delta_numerator = (d / h.d0) * dlr * dot;
        for s in &self.s {
            d_denom += s.abs();
        }
        let info = StepInfo {
            loss,
            grad_norm: Some(norm),
        };
        // The reference returns here, before counting the step, when nothing was learned (a
        // zero gradient from the start).
        if d_denom == 0.0 {
            return info;
        }
        self.d_numerator = d_numerator + delta_numerator;
        let d_hat = h.d_coef * self.d_numerator / d_denom;
        let mut d_new = d;
        if d == h.d0 {
            d_new = d.max(d_hat);
        }
        self.d_max = self.d_max.max(d_hat);
        d_new = self.d_max.min(d_new * h.growth_rate);
        self.d = d_new;
        self.dlr = dlr;
        for i in 0..n {
            let denom = self.exp_avg_sq[i].sqrt() + d_new * h.eps;
            if h.weight_decay != 0.0 && h.decouple {
                params[i] += -h.weight_decay * dlr * params[i];
            }
            if beta1 > 0.0 {
                params[i] += -dlr * self.exp_avg[i] / denom;
            } else {
                params[i] += -dlr * d_new * self.grad[i] / denom;
            }
        }
        self.k += 1;
        info
    }
    fn state(&self) -> Vec<StateVector> {
        if self.p0.is_empty() {
            return Vec::new();
        }
        let mut v = named_buffers([
            ("d", &[self.d]),
            ("dlr", &[self.dlr]),
            ("d_max", &[self.d_max]),
            ("s", &self.s),
        ]);
        if self.h.betas.0 > 0.0 {
            v.push(StateVector::new("exp_avg", &self.exp_avg));
        }
        v.push(StateVector::new("exp_avg_sq", &self.exp_avg_sq));
        v
    }
    /// `d` after the step and `dlr`, the step size `d·lr` (times the bias correction) the
    /// step moved with, the scheduled lr included.
    fn traced(&self) -> Vec<(&'static str, f64)> {
        if self.p0.is_empty() {
            return Vec::new();
        }
        vec![("d", self.d), ("dlr", self.dlr)]
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
    use super::super::registry::{build, spec};
    use super::super::testutil::*;
    use super::super::{HyperValue, Optimizer, reference};

    #[test]
    fn matches_the_reference_trajectories() {
        reference::check("prodigy");
    }

    #[test]
    fn growth_rate_defaults_to_unbounded_and_accepts_finite_caps() {
        let default = spec("prodigy")
            .expect("registered")
            .hypers()
            .into_iter()
            .find(|h| h.name == "growth_rate")
            .map(|h| h.default);
        assert_eq!(default, Some(HyperValue::Float(f64::INFINITY)));
        let o = build("prodigy", &[("growth_rate".into(), 1.02.into())], 0, 2).expect("ok");
        assert!(
            o.hyperparameters()
                .contains(&("growth_rate".into(), 1.02.into()))
        );
        assert!(build("prodigy", &[("growth_rate".into(), 0.0.into())], 0, 2).is_err());
        assert!(build("prodigy", &[("lr".into(), f64::INFINITY.into())], 0, 2).is_err());
    }

    fn d_and_dlr(o: &dyn Optimizer) -> (f64, f64) {
        let st = o.state();
        let get = |n: &str| st.iter().find(|s| s.name == n).expect(n).values[0];
        (get("d"), get("dlr"))
    }

    #[test]
    fn d_grows_from_d0_and_the_step_size_follows_it() {
        let mut o = build("prodigy", &[], 0, 2).expect("ok");
        let mut f = quadratic();
        let mut x = START.to_vec();
        // The first step moves with d0 and learns nothing (θ = θ₀, so ⟨g, θ₀ − θ⟩ = 0); the
        // second still moves with d0, then raises d from what the first step showed.
        o.step(&mut x, &mut f);
        assert_eq!(d_and_dlr(o.as_ref()), (1e-6, 1e-6));
        o.step(&mut x, &mut f);
        let (d2, dlr2) = d_and_dlr(o.as_ref());
        assert_eq!(dlr2, 1e-6);
        assert!(d2 > 1e-6, "{d2}");
        let mut last = d2;
        for _ in 0..40 {
            o.step(&mut x, &mut f);
            let (d, dlr) = d_and_dlr(o.as_ref());
            // d never shrinks; each step moves with the estimate before it (lr = 1).
            assert!(d >= last, "{d} < {last}");
            assert_eq!(dlr, last);
            last = d;
        }
        // START is about 1.7 from the minimum: d has grown by orders of magnitude towards it.
        assert!(last > 1e-2 && last < 10.0, "{last}");
    }

    #[test]
    fn growth_rate_caps_the_growth_of_d() {
        let mut o = build("prodigy", &[("growth_rate".into(), 1.5.into())], 0, 2).expect("ok");
        let mut f = quadratic();
        let mut x = START.to_vec();
        // The first estimate replaces d0 whole (the reference's `if d == d0`); the cap applies
        // from then on.
        o.step(&mut x, &mut f);
        o.step(&mut x, &mut f);
        let mut last = d_and_dlr(o.as_ref()).0;
        assert!(last > 1.5e-6, "{last}");
        for _ in 0..20 {
            o.step(&mut x, &mut f);
            let d = d_and_dlr(o.as_ref()).0;
            assert!(d <= last * 1.5 * (1.0 + 1e-15), "{d} > 1.5 * {last}");
            last = d;
        }
    }
}
