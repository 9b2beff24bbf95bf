//! Learning-rate schedules with torch.optim.lr_scheduler's names and defaults, and the
//! [`Scheduler`] that applies one to an optimizer.
//!
//! Each schedule gives the lr of step `t` (0-based: the lr used by the `t`-th optimizer step, i.e.
//! after `t` calls of torch's `scheduler.step()`) in closed form. For ConstantLR, StepLR,
//! MultiStepLR, ExponentialLR, LinearLR and OneCycleLR torch's chainable form equals the closed
//! form up to rounding. CosineAnnealingLR's chainable recursion equals the closed form
//! `η_min + (η₀ − η_min)(1 + cos(πt/T_max))/2` for `t ≤ T_max`; beyond `T_max` the closed form
//! keeps following the cosine (torch's recursion does too, by design, up to rounding).
//! ReduceLROnPlateau has no closed form: it observes the loss.

use serde::Deserialize;

use super::Optimizer;
use crate::valid::{INF, Problems, Range, Validate, ge, gt, le, lt};

/// `ReduceLROnPlateau`'s comparison mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlateauMode {
    Min,
    Max,
}

/// `ReduceLROnPlateau`'s threshold mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdMode {
    Rel,
    Abs,
}

/// torch.optim.lr_scheduler.ReduceLROnPlateau: settings and state. A scenario sets `factor`,
/// `patience`, `threshold`, `min_lr` and `cooldown`; the mode is `min` (a loss).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Plateau {
    #[serde(skip)]
    pub mode: PlateauMode,
    pub factor: f64,
    pub patience: usize,
    pub threshold: f64,
    #[serde(skip)]
    pub threshold_mode: ThresholdMode,
    pub cooldown: usize,
    pub min_lr: f64,
    /// torch's `eps`: reductions smaller than this are skipped.
    #[serde(skip)]
    pub eps: f64,
    #[serde(skip)]
    best: f64,
    #[serde(skip)]
    num_bad_epochs: usize,
    #[serde(skip)]
    cooldown_counter: usize,
}

impl Default for Plateau {
    /// mode min, factor 0.1, patience 10, threshold 1e-4 (rel), cooldown 0, min_lr 0, eps 1e-8.
    fn default() -> Self {
        Self {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: f64::INFINITY,
            num_bad_epochs: 0,
            cooldown_counter: 0,
        }
    }
}

impl Plateau {
    fn is_better(&self, a: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < self.best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < self.best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > self.best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > self.best + self.threshold,
        }
    }

    /// torch's `step(metrics)`: returns the lr to use from now on.
    pub fn observe(&mut self, metric: f64, lr: f64) -> f64 {
        // `Default` starts `best` at +inf (mode min); a fresh max-mode plateau starts at -inf
        if self.mode == PlateauMode::Max && self.best == f64::INFINITY {
            self.best = f64::NEG_INFINITY;
        }
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
            let new_lr = (lr * self.factor).max(self.min_lr);
            if lr - new_lr > self.eps {
                return new_lr;
            }
        }
        lr
    }

    fn reset_state(&mut self) {
        self.best = match self.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        };
        self.num_bad_epochs = 0;
        self.cooldown_counter = 0;
    }
}

/// A learning-rate schedule, as torch's `lr_scheduler` names it and as a scenario's `schedule`
/// writes it: `{kind: cosine, T_max: 500}` (the `kind` names the variant; see
/// `scenario::de`). Each variant's rules (ranges, orderings) are in [`Validate`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename = "schedule", deny_unknown_fields)]
pub enum Schedule {
    /// ConstantLR: `factor·η₀` for the first `total_iters` steps (all of them when `None`),
    /// then `η₀`. Defaults: factor 1, forever (the documented scenario defaults; torch's are 1/3
    /// and 5).
    #[serde(rename = "constant")]
    Constant {
        #[serde(default = "one")]
        factor: f64,
        #[serde(default)]
        total_iters: Option<usize>,
    },
    /// StepLR: `η₀·γ^⌊t/step_size⌋` (gamma default 0.1).
    #[serde(rename = "step")]
    Step {
        step_size: usize,
        #[serde(default = "tenth")]
        gamma: f64,
    },
    /// MultiStepLR: `η₀·γ^(number of milestones ≤ t)` (gamma default 0.1).
    #[serde(rename = "multistep")]
    MultiStep {
        milestones: Vec<usize>,
        #[serde(default = "tenth")]
        gamma: f64,
    },
    /// ExponentialLR: `η₀·γᵗ`.
    #[serde(rename = "exponential")]
    Exponential { gamma: f64 },
    /// CosineAnnealingLR (eta_min default 0).
    #[serde(rename = "cosine")]
    CosineAnnealing {
        #[serde(rename = "T_max")]
        t_max: usize,
        #[serde(default)]
        eta_min: f64,
    },
    /// LinearLR for `total_iters` steps (a scenario's `warmup_steps`; start_factor 1/3,
    /// end_factor 1), then `then` from its own step 0 (as SequentialLR with milestone
    /// `total_iters`; a constant lr when the file names none).
    #[serde(rename = "warmup")]
    LinearWarmup {
        #[serde(rename = "warmup_steps")]
        total_iters: usize,
        #[serde(default = "third")]
        start_factor: f64,
        #[serde(skip, default = "one")]
        end_factor: f64,
        #[serde(default = "constant", deserialize_with = "then_or_constant")]
        then: Box<Schedule>,
    },
    /// OneCycleLR, two phases (pct_start 0.3, div_factor 25, final_div_factor 1e4, cosine
    /// annealing). Ignores the base lr, as torch does. `total_steps: None` is the run's step
    /// budget, filled in by [`Schedule::resolve_total_steps`] when the run is built. Past the
    /// last step (where torch raises) the final lr is held.
    #[serde(rename = "onecycle")]
    OneCycle {
        max_lr: f64,
        #[serde(default)]
        total_steps: Option<usize>,
        #[serde(default = "pct_start")]
        pct_start: f64,
        #[serde(default = "div_factor")]
        div_factor: f64,
        #[serde(default = "final_div_factor")]
        final_div_factor: f64,
        #[serde(default)]
        anneal_strategy: Anneal,
    },
    /// ReduceLROnPlateau.
    #[serde(rename = "plateau")]
    ReduceOnPlateau(Plateau),
}

/// OneCycleLR's `anneal_strategy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename = "anneal_strategy", rename_all = "snake_case")]
pub enum Anneal {
    /// `end + (start − end)/2 · (1 + cos(π·pct))`.
    #[default]
    Cos,
    /// `start + (end − start)·pct`.
    Linear,
}

impl Anneal {
    /// torch's `_annealing_cos` / `_annealing_linear` from `start` to `end` at `pct` in [0, 1].
    #[must_use]
    pub fn at(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Anneal::Cos => end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0),
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

fn one() -> f64 {
    1.0
}
fn tenth() -> f64 {
    0.1
}
fn third() -> f64 {
    1.0 / 3.0
}
fn pct_start() -> f64 {
    0.3
}
fn div_factor() -> f64 {
    25.0
}
fn final_div_factor() -> f64 {
    1e4
}
fn constant() -> Box<Schedule> {
    Box::new(Schedule::constant())
}

/// A warmup's `then`: another schedule, or `null` for none (a constant lr).
fn then_or_constant<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Box<Schedule>, D::Error> {
    Ok(Option::<Schedule>::deserialize(d)?.map_or_else(constant, Box::new))
}

impl Validate for Schedule {
    fn validate(&self, p: &mut Problems) {
        let positive = Range::new(gt(0.0), INF);
        let non_negative = Range::new(ge(0.0), INF);
        match self {
            Self::Constant { factor, .. } => {
                p.range("factor", *factor, Range::new(gt(0.0), le(1.0)))
            }
            Self::Step { step_size, gamma } => {
                p.at_least_one("step_size", *step_size as u64);
                p.range("gamma", *gamma, positive);
            }
            Self::MultiStep { milestones, gamma } => {
                if milestones.windows(2).any(|w| w[0] >= w[1]) {
                    p.push(
                        "milestones",
                        "'milestones' must increase strictly",
                        Some("e.g. [100, 300, 600]".into()),
                    );
                }
                p.range("gamma", *gamma, positive);
            }
            Self::Exponential { gamma } => p.range("gamma", *gamma, positive),
            Self::CosineAnnealing { t_max, eta_min } => {
                p.at_least_one("T_max", *t_max as u64);
                p.range("eta_min", *eta_min, non_negative);
            }
            Self::LinearWarmup {
                total_iters,
                start_factor,
                then,
                ..
            } => {
                p.at_least_one("warmup_steps", *total_iters as u64);
                p.range("start_factor", *start_factor, Range::new(gt(0.0), le(1.0)));
                p.within("then", |p| then.validate(p));
            }
            Self::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
                ..
            } => {
                p.range("max_lr", *max_lr, positive);
                if let Some(t) = total_steps {
                    p.at_least_one("total_steps", *t as u64);
                }
                p.range("pct_start", *pct_start, Range::new(gt(0.0), lt(1.0)));
                p.range("div_factor", *div_factor, positive);
                p.range("final_div_factor", *final_div_factor, positive);
            }
            Self::ReduceOnPlateau(plateau) => {
                p.range("factor", plateau.factor, Range::new(gt(0.0), lt(1.0)));
                p.range("threshold", plateau.threshold, non_negative);
                p.range("min_lr", plateau.min_lr, non_negative);
            }
        }
    }
}

impl Schedule {
    /// A constant lr: `η₀` at every step.
    #[must_use]
    pub fn constant() -> Self {
        Self::Constant {
            factor: 1.0,
            total_iters: None,
        }
    }
    pub fn step(step_size: usize) -> Self {
        Self::Step {
            step_size,
            gamma: 0.1,
        }
    }
    pub fn multistep(milestones: Vec<usize>) -> Self {
        Self::MultiStep {
            milestones,
            gamma: 0.1,
        }
    }
    pub fn cosine(t_max: usize) -> Self {
        Self::CosineAnnealing {
            t_max,
            eta_min: 0.0,
        }
    }
    /// LinearLR's defaults, then `then`.
    pub fn warmup(total_iters: usize, then: Schedule) -> Self {
        Self::LinearWarmup {
            total_iters,
            start_factor: 1.0 / 3.0,
            end_factor: 1.0,
            then: Box::new(then),
        }
    }
    pub fn one_cycle(max_lr: f64, total_steps: usize) -> Self {
        Self::OneCycle {
            max_lr,
            total_steps: Some(total_steps),
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            anneal_strategy: Anneal::Cos,
        }
    }
    pub fn plateau() -> Self {
        Self::ReduceOnPlateau(Plateau::default())
    }

    /// Gives every one-cycle schedule without `total_steps` (here or after a warmup) the run's
    /// step budget, `max_steps`: the documented default.
    pub fn resolve_total_steps(&mut self, max_steps: u64) {
        match self {
            Self::OneCycle { total_steps, .. } if total_steps.is_none() => {
                *total_steps = Some(usize::try_from(max_steps).unwrap_or(usize::MAX));
            }
            Self::LinearWarmup { then, .. } => then.resolve_total_steps(max_steps),
            _ => {}
        }
    }

    /// The lr of step `t` for base lr `base_lr` (ReduceOnPlateau: `base_lr`, the scheduler
    /// tracks its reductions).
    pub fn lr_at(&self, t: usize, base_lr: f64) -> f64 {
        match self {
            Self::ReduceOnPlateau(_) => base_lr,
            // torch's closed form, `η₀·(factor + (t >= total_iters)·(1 − factor))`.
            Self::Constant {
                factor,
                total_iters,
            } => {
                let done = total_iters.is_some_and(|n| t >= n);
                base_lr * (factor + if done { 1.0 - factor } else { 0.0 })
            }
            Self::Step { step_size, gamma } => {
                base_lr * gamma.powi((t / (*step_size).max(1)) as i32)
            }
            Self::MultiStep { milestones, gamma } => {
                let passed = milestones.iter().filter(|&&m| m <= t).count();
                base_lr * gamma.powi(passed as i32)
            }
            Self::Exponential { gamma } => base_lr * gamma.powi(t as i32),
            Self::CosineAnnealing { t_max, eta_min } => {
                let tm = (*t_max).max(1) as f64;
                eta_min
                    + (base_lr - eta_min) * (1.0 + (std::f64::consts::PI * t as f64 / tm).cos())
                        / 2.0
            }
            Self::LinearWarmup {
                total_iters,
                start_factor,
                end_factor,
                then,
            } => {
                if t < *total_iters {
                    let frac = t as f64 / *total_iters as f64;
                    base_lr * (start_factor + (end_factor - start_factor) * frac)
                } else {
                    // warmup ends at end_factor·η₀, which is where `then` starts
                    then.lr_at(t - total_iters, base_lr * end_factor)
                }
            }
            Self::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
                anneal_strategy,
            } => {
                let total = total_steps.unwrap_or(usize::MAX);
                let initial = max_lr / div_factor;
                let min_lr = initial / final_div_factor;
                let t = t.min(total.saturating_sub(1)) as f64;
                let end1 = pct_start * total as f64 - 1.0;
                let end2 = total as f64 - 1.0;
                if t <= end1 {
                    anneal_strategy.at(initial, *max_lr, t / end1)
                } else {
                    anneal_strategy.at(*max_lr, min_lr, (t - end1) / (end2 - end1))
                }
            }
        }
    }
}

/// Drives a [`Schedule`]: call [`Scheduler::step`] after every optimizer step, as with torch.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduler {
    schedule: Schedule,
    base_lr: f64,
    t: usize,
    plateau_lr: f64,
}

impl Scheduler {
    pub fn new(schedule: Schedule, base_lr: f64) -> Self {
        Self {
            schedule,
            base_lr,
            t: 0,
            plateau_lr: base_lr,
        }
    }

    /// The lr for the next optimizer step.
    pub fn lr(&self) -> f64 {
        match self.schedule {
            Schedule::ReduceOnPlateau(_) => self.plateau_lr,
            _ => self.schedule.lr_at(self.t, self.base_lr),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.t
    }

    /// Advance one step; `loss` is what ReduceOnPlateau observes (ignored by the others).
    /// Returns the new lr.
    pub fn step(&mut self, loss: f64) -> f64 {
        self.t += 1;
        if let Schedule::ReduceOnPlateau(p) = &mut self.schedule {
            self.plateau_lr = p.observe(loss, self.plateau_lr);
        }
        self.lr()
    }

    /// Set the optimizer's lr to the current one.
    pub fn apply(&self, opt: &mut dyn Optimizer) {
        opt.set_lr(self.lr());
    }

    /// Rebases the schedule on a new initial lr mid-run (the TUI's lr edits), keeping its
    /// position; a plateau-reduced lr keeps its reduction factor.
    pub fn set_base_lr(&mut self, base_lr: f64) {
        if self.base_lr != 0.0 {
            self.plateau_lr *= base_lr / self.base_lr;
        } else {
            self.plateau_lr = base_lr;
        }
        self.base_lr = base_lr;
    }

    pub fn reset(&mut self) {
        self.t = 0;
        self.plateau_lr = self.base_lr;
        if let Schedule::ReduceOnPlateau(p) = &mut self.schedule {
            p.reset_state();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn step_lr_as_documented() {
        // torch docs: lr = 0.05 if epoch < 30, 0.005 if 30 <= epoch < 60, 0.0005 if 60 <= epoch < 90
        let s = Schedule::step(30);
        assert!(close(s.lr_at(0, 0.05), 0.05));
        assert!(close(s.lr_at(29, 0.05), 0.05));
        assert!(close(s.lr_at(30, 0.05), 0.005));
        assert!(close(s.lr_at(60, 0.05), 0.0005));
    }

    #[test]
    fn multistep_lr_as_documented() {
        let s = Schedule::multistep(vec![30, 80]);
        assert!(close(s.lr_at(29, 0.05), 0.05));
        assert!(close(s.lr_at(30, 0.05), 0.005));
        assert!(close(s.lr_at(79, 0.05), 0.005));
        assert!(close(s.lr_at(80, 0.05), 0.0005));
    }

    #[test]
    fn exponential_and_cosine() {
        let s = Schedule::Exponential { gamma: 0.9 };
        assert!(close(s.lr_at(3, 1.0), 0.729));
        let s = Schedule::CosineAnnealing {
            t_max: 10,
            eta_min: 0.01,
        };
        assert!(close(s.lr_at(0, 0.1), 0.1));
        assert!(close(s.lr_at(5, 0.1), 0.055));
        assert!(close(s.lr_at(10, 0.1), 0.01));
    }

    #[test]
    fn linear_lr_as_documented_then_constant() {
        // torch docs LinearLR(start_factor=0.5, total_iters=4), lr 0.05:
        // 0.025, 0.03125, 0.0375, 0.04375, then 0.05
        let s = Schedule::LinearWarmup {
            total_iters: 4,
            start_factor: 0.5,
            end_factor: 1.0,
            then: Box::new(Schedule::constant()),
        };
        let want = [0.025, 0.03125, 0.0375, 0.04375, 0.05, 0.05];
        for (t, w) in want.iter().enumerate() {
            assert!(close(s.lr_at(t, 0.05), *w), "t={t}");
        }
        let s = Schedule::warmup(5, Schedule::step(2));
        assert!(close(s.lr_at(0, 0.3), 0.1));
        assert!(close(s.lr_at(5, 0.3), 0.3));
        assert!(close(s.lr_at(7, 0.3), 0.03));
    }

    #[test]
    fn one_cycle_endpoints() {
        let s = Schedule::one_cycle(0.1, 100);
        assert!(close(s.lr_at(0, 123.0), 0.1 / 25.0));
        assert!(close(s.lr_at(29, 123.0), 0.1));
        assert!(close(s.lr_at(99, 123.0), 0.1 / 25.0 / 1e4));
        // halfway through the annealing phase: mean of max and min
        let mid = s.lr_at(29 + 35, 0.0);
        assert!(close(mid, (0.1 + 0.1 / 25.0 / 1e4) / 2.0), "{mid}");
    }

    #[test]
    fn plateau_reduces_after_patience() {
        let mut sch = Scheduler::new(
            Schedule::ReduceOnPlateau(Plateau {
                patience: 2,
                ..Plateau::default()
            }),
            1.0,
        );
        assert_eq!(sch.step(5.0), 1.0); // best = 5
        assert_eq!(sch.step(5.0), 1.0); // bad 1
        assert_eq!(sch.step(4.9999), 1.0); // bad 2 (not better by 1e-4 relative)
        assert!(close(sch.step(5.0), 0.1)); // bad 3 > patience
        assert!(close(sch.step(1.0), 0.1));
        sch.reset();
        assert_eq!(sch.lr(), 1.0);
    }

    #[test]
    fn plateau_cooldown_and_min_lr() {
        let mut p = Plateau {
            patience: 0,
            cooldown: 1,
            min_lr: 0.05,
            ..Plateau::default()
        };
        let mut lr = 1.0;
        lr = p.observe(1.0, lr);
        assert_eq!(lr, 1.0);
        lr = p.observe(1.0, lr); // bad → reduce, cooldown 1
        assert!(close(lr, 0.1));
        lr = p.observe(1.0, lr); // in cooldown
        assert!(close(lr, 0.1));
        lr = p.observe(1.0, lr); // reduce, floored at min_lr
        assert!(close(lr, 0.05));
    }

    #[test]
    fn constant_lr_as_documented() {
        // torch docs ConstantLR(factor=0.5, total_iters=4), lr 0.05: 0.025 for 4 steps, then 0.05
        let s = Schedule::Constant {
            factor: 0.5,
            total_iters: Some(4),
        };
        let want = [0.025, 0.025, 0.025, 0.025, 0.05, 0.05];
        for (t, w) in want.iter().enumerate() {
            assert!(close(s.lr_at(t, 0.05), *w), "t={t}");
        }
        let forever = Schedule::Constant {
            factor: 0.5,
            total_iters: None,
        };
        assert!(close(forever.lr_at(1_000_000, 0.05), 0.025));
        assert_eq!(Schedule::constant().lr_at(7, 0.3), 0.3);
    }

    #[test]
    fn one_cycle_linear_anneal_is_torchs_straight_line() {
        // torch's _annealing_linear: start + (end - start)·pct in each phase
        let Schedule::OneCycle {
            max_lr,
            total_steps,
            pct_start,
            div_factor,
            final_div_factor,
            ..
        } = Schedule::one_cycle(0.1, 100)
        else {
            unreachable!("one_cycle builds OneCycle")
        };
        let s = Schedule::OneCycle {
            max_lr,
            total_steps,
            pct_start,
            div_factor,
            final_div_factor,
            anneal_strategy: Anneal::Linear,
        };
        let initial = 0.1 / 25.0;
        let min_lr = initial / 1e4;
        assert!(close(s.lr_at(0, 1.0), initial));
        // phase 1 ends at step 0.3·100 − 1 = 29: a third of the way at step 29/3
        let third = 29.0 / 3.0;
        assert!(close(
            Anneal::Linear.at(initial, 0.1, third / 29.0),
            initial + (0.1 - initial) / 3.0
        ));
        assert!(close(s.lr_at(29, 1.0), 0.1));
        // phase 2 from step 29 to 99: halfway at step 64
        assert!(close(s.lr_at(64, 1.0), (0.1 + min_lr) / 2.0));
        assert!(close(s.lr_at(99, 1.0), min_lr));
        // the cosine shape differs between the ends
        assert!(s.lr_at(40, 1.0) < Schedule::one_cycle(0.1, 100).lr_at(40, 1.0));
    }

    #[test]
    fn one_cycle_without_total_steps_takes_the_run_budget() {
        let mut s = Schedule::warmup(
            5,
            Schedule::OneCycle {
                max_lr: 0.1,
                total_steps: None,
                pct_start: 0.3,
                div_factor: 25.0,
                final_div_factor: 1e4,
                anneal_strategy: Anneal::Cos,
            },
        );
        s.resolve_total_steps(200);
        let Schedule::LinearWarmup { then, .. } = &s else {
            unreachable!("warmup")
        };
        assert_eq!(**then, {
            let mut o = Schedule::one_cycle(0.1, 200);
            o.resolve_total_steps(7);
            o
        });
    }

    #[test]
    fn every_rule_names_its_key() {
        let keys =
            |s: Schedule| -> Vec<String> { s.problems().into_iter().map(|p| p.key).collect() };
        assert_eq!(
            keys(Schedule::LinearWarmup {
                total_iters: 0,
                start_factor: 0.0,
                end_factor: 1.0,
                then: Box::new(Schedule::Step {
                    step_size: 0,
                    gamma: -1.0
                }),
            }),
            [
                "warmup_steps",
                "start_factor",
                "then.step_size",
                "then.gamma"
            ]
        );
        assert_eq!(
            keys(Schedule::Constant {
                factor: 1.5,
                total_iters: None
            }),
            ["factor"]
        );
        assert_eq!(keys(Schedule::multistep(vec![3, 3])), ["milestones"]);
        assert!(Schedule::plateau().problems().is_empty());
    }

    #[test]
    fn scheduler_drives_an_optimizer() {
        let mut opt = super::super::registry::build("sgd", &[], 0, 2).expect("builds");
        let mut sch = Scheduler::new(Schedule::Exponential { gamma: 0.5 }, 0.4);
        sch.apply(opt.as_mut());
        assert_eq!(opt.lr(), 0.4);
        sch.step(0.0);
        sch.apply(opt.as_mut());
        assert!(close(opt.lr(), 0.2));
        assert_eq!(sch.steps(), 1);
    }
}
