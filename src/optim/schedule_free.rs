//! Schedule-Free SGD and AdamW (Defazio et al. 2024, "The Road Less Scheduled"), following the
//! authors' reference implementations `SGDScheduleFreeReference` and
//! `AdamWScheduleFreeReference` of the `schedulefree` package, version 1.4.1, which keep the
//! three sequences explicitly (the package's default classes store only y and z and are the
//! same method rearranged for memory).
//!
//! The sequences: `z` is the base iterate (plain SGD or Adam steps), `x` the weighted average of
//! the `z`s (the point evaluated, where torch's `optimizer.eval()` puts the model), and `y` the
//! interpolation between them where the gradient is taken (torch's model in `train()` mode). In
//! gradscope **the run's parameters are `x`**: the loss a run reports and the trail the
//! landscape draws are those of the evaluated point, while each step asks the oracle for the
//! gradient at `y` (so [`StepInfo::loss`] is the loss at `y`, the loss of the gradient used,
//! which is what a minibatch run reports per step, as it does for every optimizer).
//! `y` and `z` are published through [`Optimizer::points`] and shown with the state. Because
//! the gradient point differs from the parameters, a run cannot reuse the gradient it computed
//! alongside the reported loss (the session notices and reports losses by plain evaluations).
//!
//! Deviations: none in the update; `foreach` (ignored by the reference classes) is not offered.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, betas, boolean, eps, float, ge, gt, int, lr,
    lt,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    ExtraPoint, Optimizer, Oracle, StateVector, StepInfo, bias_correction, eval_gradient,
    named_buffers,
};

/// `SGDScheduleFreeReference`'s hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdScheduleFreeHypers {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub warmup_steps: usize,
    pub r: f64,
    pub weight_lr_power: f64,
}

/// `AdamWScheduleFreeReference`'s hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWScheduleFreeHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub warmup_steps: usize,
    pub r: f64,
    pub weight_lr_power: f64,
    pub decay_at_z: bool,
}

/// The rows both variants share after their own: warmup and the averaging weights.
fn averaging_rows<'a>(
    warmup_steps: &'a mut usize,
    r: &'a mut f64,
    weight_lr_power: &'a mut f64,
) -> [Hyper<'a>; 3] {
    [
        int(
            "warmup_steps",
            warmup_steps,
            0,
            1_000_000_000,
            "linear learning-rate warmup over this many steps (0: none)",
        ),
        float(
            "r",
            r,
            ge(0.0),
            INF,
            Scale::Linear,
            "polynomial weighting of the average: step k weighs k^r",
        ),
        float(
            "weight_lr_power",
            weight_lr_power,
            ge(0.0),
            INF,
            Scale::Linear,
            "the average weighs each step by (max lr so far)^weight_lr_power",
        ),
    ]
}

impl Hypers for SgdScheduleFreeHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        let [warmup, r, power] = averaging_rows(
            &mut self.warmup_steps,
            &mut self.r,
            &mut self.weight_lr_power,
        );
        [
            lr(&mut self.lr),
            float(
                "momentum",
                &mut self.momentum,
                gt(0.0),
                lt(1.0),
                Scale::Linear,
                "interpolation y = momentum·x + (1 − momentum)·z, in (0, 1)",
            ),
            float(
                "weight_decay",
                &mut self.weight_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "weight decay λ·y added to the gradient taken at y",
            ),
            warmup,
            r,
            power,
        ]
    }
}

impl Hypers for AdamWScheduleFreeHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        let [warmup, r, power] = averaging_rows(
            &mut self.warmup_steps,
            &mut self.r,
            &mut self.weight_lr_power,
        );
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
                "decoupled weight decay, applied to z at y (or at z with decay_at_z)",
            ),
            warmup,
            r,
            power,
            boolean(
                "decay_at_z",
                &mut self.decay_at_z,
                "compute the weight decay at z instead of y",
            ),
        ]
    }
}

pub(crate) static SCHEDULE_FREE_SGD: OptimizerSpec = OptimizerSpec {
    name: "schedule_free_sgd",
    description: "SGD without a schedule: gradient at y, evaluated at the average x (schedulefree)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(ScheduleFreeSgd {
            h: b.hypers(SgdScheduleFreeHypers {
                lr: 1.0,
                momentum: 0.9,
                weight_decay: 0.0,
                warmup_steps: 0,
                r: 0.0,
                weight_lr_power: 2.0,
            }),
            seq: Sequences::default(),
        })
    },
};

pub(crate) static SCHEDULE_FREE_ADAMW: OptimizerSpec = OptimizerSpec {
    name: "schedule_free_adamw",
    description: "AdamW without a schedule, the AlgoPerf self-tuning winner (schedulefree)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(ScheduleFreeAdamW {
            h: b.hypers(AdamWScheduleFreeHypers {
                lr: 0.0025,
                betas: (0.9, 0.999),
                eps: 1e-8,
                weight_decay: 0.0,
                warmup_steps: 0,
                r: 0.0,
                weight_lr_power: 2.0,
                decay_at_z: false,
            }),
            seq: Sequences::default(),
            exp_avg_sq: Vec::new(),
        })
    },
};

/// The gradient point `y`, the base iterate `z` and the averaging weights; `x` is the run's
/// parameters.
#[derive(Clone, Debug)]
struct Sequences {
    k: u64,
    weight_sum: f64,
    lr_max: f64,
    /// The learning rate of the last step after warmup (the reference's `scheduled_lr`).
    scheduled_lr: f64,
    /// The averaging weight `c` of the last step.
    ckp1: f64,
    z: Vec<f64>,
    y: Vec<f64>,
    grad: Vec<f64>,
}

impl Default for Sequences {
    fn default() -> Self {
        Self {
            k: 0,
            weight_sum: 0.0,
            lr_max: -1.0,
            scheduled_lr: 0.0,
            ckp1: 0.0,
            z: Vec::new(),
            y: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Sequences {
    /// Starts `y = z = x` on the first step, then evaluates the gradient at `y`.
    fn gradient(&mut self, x: &[f64], oracle: &mut dyn Oracle) -> StepInfo {
        if self.z.len() != x.len() {
            self.z = x.to_vec();
            self.y = x.to_vec();
        }
        let (loss, norm) = eval_gradient(oracle, &self.y, &mut self.grad);
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }

    /// The warmed-up learning rate and the averaging weight `c` of step `k + 1`.
    fn schedule(&mut self, lr: f64, warmup_steps: usize, r: f64, weight_lr_power: f64) -> f64 {
        let k1 = (self.k + 1) as f64;
        let sched = if (self.k as usize) < warmup_steps {
            k1 / warmup_steps as f64
        } else {
            1.0
        };
        let lr = lr * sched;
        self.scheduled_lr = lr;
        self.lr_max = lr.max(self.lr_max);
        let weight = k1.powf(r) * self.lr_max.powf(weight_lr_power);
        self.weight_sum += weight;
        self.ckp1 = if self.weight_sum == 0.0 {
            0.0
        } else {
            weight / self.weight_sum
        };
        lr
    }

    /// `x = (1 − c)·x + c·z`, then `y = β·x + (1 − β)·z`, after `z` has moved.
    // x, y and z read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn average(&mut self, x: &mut [f64], beta: f64) {
        let c = self.ckp1;
        for i in 0..x.len() {
            x[i] = x[i] * (1.0 - c) + c * self.z[i];
            self.y[i] = x[i] * beta + (1.0 - beta) * self.z[i];
        }
        self.k += 1;
    }

    fn extra_points(&self) -> Vec<ExtraPoint<'_>> {
        if self.z.is_empty() {
            return Vec::new();
        }
        vec![
            ExtraPoint {
                name: "y",
                params: &self.y,
            },
            ExtraPoint {
                name: "z",
                params: &self.z,
            },
        ]
    }

    fn state(&self, extra: Option<(&'static str, &[f64])>) -> Vec<StateVector> {
        if self.k == 0 {
            return Vec::new();
        }
        let mut v = named_buffers([
            ("y", &self.y),
            ("z", &self.z),
            ("scheduled_lr", &[self.scheduled_lr]),
            ("ckp1", &[self.ckp1]),
        ]);
        if let Some((name, values)) = extra {
            v.push(StateVector::new(name, values));
        }
        v
    }
}

/// `SGDScheduleFreeReference`.
#[derive(Clone, Debug)]
pub struct ScheduleFreeSgd {
    h: HyperSet<SgdScheduleFreeHypers>,
    seq: Sequences,
}

impl Optimizer for ScheduleFreeSgd {
    // γₖ = lr·min(1, (k+1)/warmup); c = (k+1)^r·γ_max^p / Σ; g = ∇f(y) + λy;
    // z −= γₖ·g; x = (1 − c)·x + c·z; y = β·x + (1 − β)·z   (β = momentum; x is the run's point)
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let info = self.seq.gradient(params, oracle);
        let h = *self.h;
        let lr = self
            .seq
            .schedule(h.lr, h.warmup_steps, h.r, h.weight_lr_power);
        let seq = &mut self.seq;
        for i in 0..params.len() {
            let mut g = seq.grad[i];
            if h.weight_decay != 0.0 {
                g += h.weight_decay * seq.y[i];
            }
            seq.z[i] -= lr * g;
        }
        seq.average(params, h.momentum);
        info
    }
    fn state(&self) -> Vec<StateVector> {
        self.seq.state(None)
    }
    fn extra_points(&self) -> Vec<ExtraPoint<'_>> {
        self.seq.extra_points()
    }
    fn reset(&mut self) {
        self.seq = Sequences::default();
    }
    fn hyper_set(&self) -> &dyn HyperAccess {
        &self.h
    }
    fn hyper_set_mut(&mut self) -> &mut dyn HyperAccess {
        &mut self.h
    }
}

/// `AdamWScheduleFreeReference`.
#[derive(Clone, Debug)]
pub struct ScheduleFreeAdamW {
    h: HyperSet<AdamWScheduleFreeHypers>,
    seq: Sequences,
    exp_avg_sq: Vec<f64>,
}

impl Optimizer for ScheduleFreeAdamW {
    // γₖ, c as for SGD; g = ∇f(y); z −= γₖλ·y (or ·z with decay_at_z);
    // v = β₂v + (1−β₂)g²; z −= γₖ·g / (√(v/(1−β₂^(k+1))) + ε);
    // x = (1 − c)·x + c·z; y = β₁·x + (1 − β₁)·z
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let info = self.seq.gradient(params, oracle);
        let h = *self.h;
        let (beta1, beta2) = h.betas;
        if self.exp_avg_sq.len() != params.len() {
            self.exp_avg_sq = vec![0.0; params.len()];
        }
        let bias_correction2 = bias_correction(beta2, self.seq.k + 1);
        let lr = self
            .seq
            .schedule(h.lr, h.warmup_steps, h.r, h.weight_lr_power);
        let seq = &mut self.seq;
        for i in 0..params.len() {
            if h.weight_decay != 0.0 {
                let at = if h.decay_at_z { seq.z[i] } else { seq.y[i] };
                seq.z[i] -= lr * h.weight_decay * at;
            }
            let g = seq.grad[i];
            let v = &mut self.exp_avg_sq[i];
            *v = *v * beta2 + (1.0 - beta2) * g * g;
            let denom = (*v / bias_correction2).sqrt() + h.eps;
            seq.z[i] += -lr * g / denom;
        }
        seq.average(params, beta1);
        info
    }
    fn state(&self) -> Vec<StateVector> {
        self.seq.state(Some(("exp_avg_sq", &self.exp_avg_sq)))
    }
    fn extra_points(&self) -> Vec<ExtraPoint<'_>> {
        self.seq.extra_points()
    }
    fn reset(&mut self) {
        self.seq = Sequences::default();
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
    use super::super::Optimizer;
    use super::super::reference;
    use super::super::registry::build;
    use super::super::testutil::*;

    /// The extra points as owned pairs, for comparisons.
    fn points(o: &dyn Optimizer) -> Vec<(&'static str, Vec<f64>)> {
        o.extra_points()
            .iter()
            .map(|p| (p.name, p.params.to_vec()))
            .collect()
    }

    #[test]
    fn sgd_matches_the_reference_trajectories() {
        reference::check("schedule_free_sgd");
    }

    #[test]
    fn adamw_matches_the_reference_trajectories() {
        reference::check("schedule_free_adamw");
    }

    #[test]
    fn first_step_literal() {
        // Step 1: y = z = x₀, c = 1 (the only weight), so x₁ = z₁ = x₀ − lr·g and y₁ = x₁.
        let mut o = build("schedule_free_sgd", &[("lr".into(), 0.1.into())], 0, 2).expect("ok");
        let x = trajectory(o.as_mut(), 1)[0];
        let g = quad_grad(&START);
        let want = [START[0] - 0.1 * g[0], START[1] - 0.1 * g[1]];
        assert_eq!(x, want);
        let y: Vec<f64> = want.iter().map(|&w| w * 0.9 + (1.0 - 0.9) * w).collect();
        assert_eq!(points(o.as_ref()), vec![("y", y), ("z", want.to_vec())]);
    }

    #[test]
    fn the_gradient_is_taken_at_y_and_the_parameters_are_the_average() {
        // Step 2 with c = 1/2 (r = 0, constant lr): z₂ = z₁ − lr·∇f(y₁), x₂ = (x₁ + z₂)/2,
        // y₂ = β·x₂ + (1 − β)·z₂.
        let mut o = build(
            "schedule_free_sgd",
            &[("lr".into(), 0.05.into()), ("momentum".into(), 0.8.into())],
            0,
            2,
        )
        .expect("ok");
        let traj = trajectory(o.as_mut(), 2);
        let x1 = traj[0];
        let g1 = quad_grad(&x1);
        let z2 = [x1[0] - 0.05 * g1[0], x1[1] - 0.05 * g1[1]];
        let x2 = [x1[0] * 0.5 + 0.5 * z2[0], x1[1] * 0.5 + 0.5 * z2[1]];
        assert_eq!(traj[1], x2);
        let y2: Vec<f64> = (0..2).map(|i| x2[i] * 0.8 + (1.0 - 0.8) * z2[i]).collect();
        assert_eq!(points(o.as_ref()), vec![("y", y2), ("z", z2.to_vec())]);
        o.reset();
        assert!(o.extra_points().is_empty() && o.state().is_empty());
    }

    #[test]
    fn converge_on_the_quadratic() {
        for (name, lr) in [("schedule_free_sgd", 0.05), ("schedule_free_adamw", 0.05)] {
            let mut o = build(name, &[("lr".into(), lr.into())], 0, 2).expect("ok");
            let last = trajectory(o.as_mut(), 2000)[1999];
            assert!(
                last[0].abs() < 1e-3 && last[1].abs() < 1e-3,
                "{name} {last:?}"
            );
        }
    }
}
