//! Learning-rate schedules with torch.optim.lr_scheduler's names and defaults, and the
//! [`Scheduler`] that applies one to an optimizer.
//!
//! Each schedule gives the lr of step `t` (0-based: the lr used by the `t`-th optimizer step, i.e.
//! after `t` calls of torch's `scheduler.step()`) in closed form. For StepLR, MultiStepLR,
//! ExponentialLR, LinearLR and OneCycleLR torch's chainable form equals the closed form up to
//! rounding. CosineAnnealingLR's chainable recursion equals the closed form
//! `η_min + (η₀ − η_min)(1 + cos(πt/T_max))/2` for `t ≤ T_max`; beyond `T_max` the closed form
//! keeps following the cosine (torch's recursion does too, by design, up to rounding).
//! ReduceLROnPlateau has no closed form: it observes the loss.

use super::Optimizer;

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

/// torch.optim.lr_scheduler.ReduceLROnPlateau: settings and state.
#[derive(Clone, Debug, PartialEq)]
pub struct Plateau {
    pub mode: PlateauMode,
    pub factor: f64,
    pub patience: usize,
    pub threshold: f64,
    pub threshold_mode: ThresholdMode,
    pub cooldown: usize,
    pub min_lr: f64,
    /// torch's `eps`: reductions smaller than this are skipped.
    pub eps: f64,
    best: f64,
    num_bad_epochs: usize,
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

/// A learning-rate schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    Constant,
    /// StepLR: `η₀·γ^⌊t/step_size⌋` (gamma default 0.1).
    Step {
        step_size: usize,
        gamma: f64,
    },
    /// MultiStepLR: `η₀·γ^(number of milestones ≤ t)` (gamma default 0.1).
    MultiStep {
        milestones: Vec<usize>,
        gamma: f64,
    },
    /// ExponentialLR: `η₀·γᵗ`.
    Exponential {
        gamma: f64,
    },
    /// CosineAnnealingLR (eta_min default 0).
    CosineAnnealing {
        t_max: usize,
        eta_min: f64,
    },
    /// LinearLR for `total_iters` steps (start_factor 1/3, end_factor 1, total_iters 5), then
    /// `then` from its own step 0 (as SequentialLR with milestone `total_iters`).
    LinearWarmup {
        total_iters: usize,
        start_factor: f64,
        end_factor: f64,
        then: Box<Schedule>,
    },
    /// OneCycleLR, two phases, cosine annealing (pct_start 0.3, div_factor 25,
    /// final_div_factor 1e4). Ignores the base lr, as torch does. Past the last step (where
    /// torch raises) the final lr is held.
    OneCycle {
        max_lr: f64,
        total_steps: usize,
        pct_start: f64,
        div_factor: f64,
        final_div_factor: f64,
    },
    /// ReduceLROnPlateau.
    ReduceOnPlateau(Plateau),
}

impl Schedule {
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
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
        }
    }
    pub fn plateau() -> Self {
        Self::ReduceOnPlateau(Plateau::default())
    }

    /// The lr of step `t` for base lr `base_lr` (ReduceOnPlateau: `base_lr`, the scheduler
    /// tracks its reductions).
    pub fn lr_at(&self, t: usize, base_lr: f64) -> f64 {
        match self {
            Self::Constant | Self::ReduceOnPlateau(_) => base_lr,
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
            } => {
                let initial = max_lr / div_factor;
                let min_lr = initial / final_div_factor;
                let t = t.min(total_steps.saturating_sub(1)) as f64;
                let end1 = pct_start * *total_steps as f64 - 1.0;
                let end2 = *total_steps as f64 - 1.0;
                let cos = |start: f64, end: f64, pct: f64| {
                    end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
                };
                if t <= end1 {
                    cos(initial, *max_lr, t / end1)
                } else {
                    cos(*max_lr, min_lr, (t - end1) / (end2 - end1))
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
            then: Box::new(Schedule::Constant),
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
