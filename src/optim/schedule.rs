//! Learning-rate schedules with torch.optim.lr_scheduler's names, defaults and arithmetic, and
//! the [`Scheduler`] that applies one to an optimizer.
//!
//! A [`Schedule`] is what a scenario writes; a [`Scheduler`] runs it the way torch does, step for
//! step: it keeps torch's param-group values (the lr, `initial_lr`, and the momentum or `beta1`
//! the cycling schedules drive) and each scheduler's `last_epoch`, builds the schedulers in
//! order as their constructors would (each constructor's initial step included), and computes
//! every new lr with torch's own recursive (chainable) formula from the current one, so that
//! compositions (`sequential`, `chained`, `warmup`) agree with torch to the last bits, not only
//! in closed form. The canonical loop is torch's: `optimizer.step(); scheduler.step()` (with
//! that step's loss for `plateau`), and the lr of the `t`-th optimizer step (0-based) is the one
//! after `t` calls of `scheduler.step()`.

use serde::Deserialize;
use thiserror::Error;

use super::{HyperValue, Optimizer};
use crate::expr::Expression;
use crate::valid::{INF, Problems, Range, Validate, ge, gt, le, lt};

/// `ReduceLROnPlateau`'s comparison mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename = "mode", rename_all = "lowercase")]
pub enum PlateauMode {
    Min,
    Max,
}

/// `ReduceLROnPlateau`'s threshold mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename = "threshold_mode", rename_all = "lowercase")]
pub enum ThresholdMode {
    Rel,
    Abs,
}

/// torch.optim.lr_scheduler.ReduceLROnPlateau: settings and state. After each step it compares
/// the step's loss with the best so far (`rel`: better than `best·(1 ∓ threshold)`, `abs`:
/// `best ∓ threshold`); after more than `patience` steps without improvement it sets
/// `lr ← max(lr·factor, min_lr)` unless that changes the lr by no more than `eps`, then waits
/// `cooldown` steps before counting again.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    #[serde(skip)]
    best: Option<f64>,
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
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
        }
    }
}

impl Plateau {
    fn is_better(&self, a: f64, best: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + self.threshold,
        }
    }

    /// torch's `step(metrics)`: returns the lr to use from now on.
    pub fn observe(&mut self, metric: f64, lr: f64) -> f64 {
        // torch's `mode_worse`: a fresh plateau's best is the worst value of its mode
        let best = self.best.unwrap_or(match self.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        });
        if self.is_better(metric, best) {
            self.best = Some(metric);
            self.num_bad_epochs = 0;
        } else {
            self.best = Some(best);
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
}

/// The factor of `lambda` and `multiplicative` schedules: an expression of the step `t` (torch's
/// `last_epoch`), such as `0.95^t` or `min(1, (t + 1) / 10)`.
#[derive(Clone, Debug)]
pub struct StepFn(Box<Expression>);

impl StepFn {
    /// Parses `src` as an expression of `t` alone.
    pub fn parse(src: &str) -> Result<Self, crate::expr::ExprError> {
        Expression::parse_with_vars(src, &["t".to_string()]).map(|e| Self(Box::new(e)))
    }

    /// The factor at step `t`.
    #[must_use]
    pub fn at(&self, t: i64) -> f64 {
        self.0.eval_f64(&[t as f64])
    }

    #[must_use]
    pub fn source(&self) -> &str {
        self.0.source()
    }
}

impl PartialEq for StepFn {
    fn eq(&self, other: &Self) -> bool {
        self.source() == other.source()
    }
}

impl<'de> Deserialize<'de> for StepFn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let src = String::deserialize(d)?;
        StepFn::parse(&src).map_err(|e| {
            let mut message = format!(
                "in the expression '{src}' at column {}: {}",
                e.span.start + 1,
                e.message
            );
            if let Some(expected) = &e.expected {
                message.push_str(&format!(" (expected {expected})"));
            }
            if let Some(s) = &e.suggestion {
                message.push_str(&format!("; {s}"));
            }
            serde::de::Error::custom(message)
        })
    }
}

/// A learning-rate schedule, as torch's `lr_scheduler` names it and as a scenario's `schedule`
/// writes it: `{kind: cosine, T_max: 500}` (the `kind` names the variant; see
/// `scenario::de`). Each variant's doc gives its rule, with η₀ the initial lr and `t` the number
/// of `scheduler.step()` calls so far; its ranges are in [`Validate`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename = "schedule", deny_unknown_fields)]
pub enum Schedule {
    /// ConstantLR: `factor·η₀` for the first `total_iters` steps, then `η₀`. torch's defaults:
    /// factor 1/3, total_iters 5. (`None`, all steps, is only what a warmup with no `then`
    /// holds: a constant lr.)
    #[serde(rename = "constant")]
    Constant {
        #[serde(default = "third")]
        factor: f64,
        #[serde(default = "five_steps")]
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
    /// CosineAnnealingLR: `η_min + (η₀ − η_min)(1 + cos(πt/T_max))/2` (torch's recursion, which
    /// climbs back after `T_max`); eta_min default 0.
    #[serde(rename = "cosine")]
    CosineAnnealing {
        #[serde(rename = "T_max")]
        t_max: usize,
        #[serde(default)]
        eta_min: f64,
    },
    /// LinearLR: `η₀·(start_factor + (end_factor − start_factor)·min(t, total_iters)/total_iters)`
    /// (defaults 1/3, 1, 5).
    #[serde(rename = "linear")]
    Linear {
        #[serde(default = "third")]
        start_factor: f64,
        #[serde(default = "one")]
        end_factor: f64,
        #[serde(default = "five")]
        total_iters: usize,
    },
    /// PolynomialLR: `η₀·(1 − min(t, total_iters)/total_iters)^power` (defaults 5, 1).
    #[serde(rename = "polynomial")]
    Polynomial {
        #[serde(default = "five")]
        total_iters: usize,
        #[serde(default = "one")]
        power: f64,
    },
    /// CosineAnnealingWarmRestarts: `η_min + (η₀ − η_min)(1 + cos(π·T_cur/T_i))/2`, where `T_cur`
    /// counts the steps since the last restart and the period `T_i` starts at `T_0` and is
    /// multiplied by `T_mult` at each restart (defaults T_mult 1, eta_min 0).
    #[serde(rename = "cosine_warm_restarts")]
    CosineWarmRestarts {
        #[serde(rename = "T_0")]
        t_0: usize,
        #[serde(rename = "T_mult", default = "one_count")]
        t_mult: usize,
        #[serde(default)]
        eta_min: f64,
    },
    /// CyclicLR: with `c = ⌊1 + t/(up + down)⌋` and `x` the position in the cycle, the lr rises
    /// linearly from `base_lr` to `max_lr` over `step_size_up` steps and falls back over
    /// `step_size_down` (default: `step_size_up`), the amplitude scaled by 1 (`triangular`),
    /// `1/2^(c−1)` (`triangular2`) or `gammaᵗ` (`exp_range`). Ignores η₀. With `cycle_momentum`
    /// (default) the momentum (`beta1` for optimizers with `betas`) moves the opposite way
    /// between `max_momentum` (0.9) and `base_momentum` (0.8). Defaults: step_size_up 2000,
    /// mode triangular, gamma 1.
    #[serde(rename = "cyclic")]
    Cyclic {
        base_lr: f64,
        max_lr: f64,
        #[serde(default = "two_thousand")]
        step_size_up: usize,
        #[serde(default)]
        step_size_down: Option<usize>,
        #[serde(default)]
        mode: CyclicMode,
        #[serde(default = "one")]
        gamma: f64,
        #[serde(default = "yes")]
        cycle_momentum: bool,
        #[serde(default = "cyclic_base_momentum")]
        base_momentum: f64,
        #[serde(default = "cyclic_max_momentum")]
        max_momentum: f64,
    },
    /// LambdaLR: `η₀·λ(t)`, with `lr_lambda` an expression of `t`.
    #[serde(rename = "lambda")]
    Lambda { lr_lambda: StepFn },
    /// MultiplicativeLR: `ηₜ = ηₜ₋₁·λ(t)` for `t ≥ 1`, with `lr_lambda` an expression of `t`.
    #[serde(rename = "multiplicative")]
    Multiplicative { lr_lambda: StepFn },
    /// `SequentialLR([LinearLR(start_factor, 1, warmup_steps), then], milestones=[warmup_steps])`:
    /// a linear warmup from `start_factor·η₀` (default 1/3) to η₀, then `then` from its own step
    /// 0 (a constant lr when the file names none).
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
    /// SequentialLR: `schedulers[i]` runs from `milestones[i−1]` (restarting at its own step 0)
    /// until `milestones[i]`. The first may itself be a composite (stepped as torch steps a
    /// nested scheduler); the others may not, since torch cannot restart a composite at a
    /// milestone (it raises NotImplementedError there).
    #[serde(rename = "sequential")]
    Sequential {
        schedulers: Vec<Schedule>,
        milestones: Vec<usize>,
    },
    /// ChainedScheduler: every scheduler steps in turn on the lr the previous one left, so
    /// multiplicative schedules multiply. Any of them may be a composite.
    #[serde(rename = "chained")]
    Chained { schedulers: Vec<Schedule> },
    /// Warmup–stable–decay (not in torch; Hugging Face transformers' `get_wsd_schedule`, a
    /// LambdaLR): the factor rises over `warmup_steps` from `min_lr_ratio` to 1 (`linear`,
    /// `cosine` or `1-sqrt` in `p = t/warmup_steps`), stays 1 for `stable_steps` (default: the
    /// run's step budget less warmup and decay), then falls over `decay_steps` to
    /// `min_lr_ratio` (`cosine` with `num_cycles` 0.5, `linear` or `1-sqrt`), where it stays.
    #[serde(rename = "wsd")]
    Wsd {
        #[serde(default)]
        warmup_steps: usize,
        #[serde(default)]
        stable_steps: Option<usize>,
        decay_steps: usize,
        #[serde(default)]
        warmup_type: WsdShape,
        #[serde(default = "cosine_shape")]
        decay_type: WsdShape,
        #[serde(default)]
        min_lr_ratio: f64,
        #[serde(default = "half")]
        num_cycles: f64,
    },
    /// OneCycleLR (pct_start 0.3, div_factor 25, final_div_factor 1e4, cosine annealing):
    /// from `max_lr/div_factor` up to `max_lr` over the first `pct_start·total_steps − 1` steps,
    /// then down to `max_lr/div_factor/final_div_factor` at step `total_steps − 1`; with
    /// `three_phase`, up, back down to the start over as many steps, then to the minimum. With
    /// `cycle_momentum` (default) the momentum (`beta1` for optimizers with `betas`) moves the
    /// opposite way between `max_momentum` (0.95) and `base_momentum` (0.85). Ignores η₀.
    /// `total_steps: None` is the run's step budget, filled in by
    /// [`Schedule::resolve_total_steps`]. torch raises when stepped past `total_steps`: a
    /// scenario whose step budget exceeds it is refused when it is loaded
    /// ([`Schedule::past_total_steps`]), and a run that would step it further anyway (its
    /// budget raised later) stops there with that reason ([`Scheduler::would_raise`]).
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
        #[serde(default = "yes")]
        cycle_momentum: bool,
        #[serde(default = "onecycle_base_momentum")]
        base_momentum: f64,
        #[serde(default = "onecycle_max_momentum")]
        max_momentum: f64,
        #[serde(default)]
        three_phase: bool,
    },
    /// ReduceLROnPlateau (see [`Plateau`]).
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

/// CyclicLR's `mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename = "mode", rename_all = "snake_case")]
pub enum CyclicMode {
    #[default]
    Triangular,
    Triangular2,
    ExpRange,
}

/// The shape of a WSD warmup or decay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename = "shape")]
pub enum WsdShape {
    #[default]
    #[serde(rename = "linear")]
    Linear,
    #[serde(rename = "cosine")]
    Cosine,
    #[serde(rename = "1-sqrt")]
    OneMinusSqrt,
}

fn one() -> f64 {
    1.0
}
fn one_count() -> usize {
    1
}
fn five() -> usize {
    5
}
#[allow(clippy::unnecessary_wraps)] // serde's default for an `Option` field
fn five_steps() -> Option<usize> {
    Some(5)
}
fn two_thousand() -> usize {
    2000
}
fn yes() -> bool {
    true
}
fn half() -> f64 {
    0.5
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
fn onecycle_base_momentum() -> f64 {
    0.85
}
fn onecycle_max_momentum() -> f64 {
    0.95
}
fn cyclic_base_momentum() -> f64 {
    0.8
}
fn cyclic_max_momentum() -> f64 {
    0.9
}
fn cosine_shape() -> WsdShape {
    WsdShape::Cosine
}
fn constant() -> Box<Schedule> {
    Box::new(Schedule::constant())
}

/// A warmup's `then`: another schedule, or `null` for none (a constant lr).
fn then_or_constant<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Box<Schedule>, D::Error> {
    Ok(Option::<Schedule>::deserialize(d)?.map_or_else(constant, Box::new))
}

impl Validate for Schedule {
    #[allow(clippy::too_many_lines)] // one arm per schedule, each a few range checks
    fn validate(&self, p: &mut Problems) {
        let positive = Range::new(gt(0.0), INF);
        let non_negative = Range::new(ge(0.0), INF);
        let momentum = Range::new(ge(0.0), lt(1.0));
        match self {
            Self::Constant { factor, .. } => {
                p.range("factor", *factor, Range::new(gt(0.0), le(1.0)));
            }
            Self::Step { step_size, gamma } => {
                p.at_least_one("step_size", *step_size as u64);
                p.range("gamma", *gamma, positive);
            }
            Self::MultiStep { milestones, gamma } => {
                increasing(p, "milestones", milestones);
                p.range("gamma", *gamma, positive);
            }
            Self::Exponential { gamma } => p.range("gamma", *gamma, positive),
            Self::CosineAnnealing { t_max, eta_min } => {
                p.at_least_one("T_max", *t_max as u64);
                p.range("eta_min", *eta_min, non_negative);
            }
            Self::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                p.range("start_factor", *start_factor, Range::new(gt(0.0), le(1.0)));
                p.range("end_factor", *end_factor, Range::new(ge(0.0), le(1.0)));
                p.at_least_one("total_iters", *total_iters as u64);
            }
            Self::Polynomial { total_iters, power } => {
                p.at_least_one("total_iters", *total_iters as u64);
                p.range("power", *power, positive);
            }
            Self::CosineWarmRestarts {
                t_0,
                t_mult,
                eta_min,
            } => {
                p.at_least_one("T_0", *t_0 as u64);
                p.at_least_one("T_mult", *t_mult as u64);
                p.range("eta_min", *eta_min, non_negative);
            }
            Self::Cyclic {
                base_lr,
                max_lr,
                step_size_up,
                step_size_down,
                gamma,
                base_momentum,
                max_momentum,
                ..
            } => {
                p.range("base_lr", *base_lr, positive);
                p.range("max_lr", *max_lr, positive);
                p.at_least_one("step_size_up", *step_size_up as u64);
                if let Some(d) = step_size_down {
                    p.at_least_one("step_size_down", *d as u64);
                }
                p.range("gamma", *gamma, Range::new(gt(0.0), le(1.0)));
                p.range("base_momentum", *base_momentum, momentum);
                p.range("max_momentum", *max_momentum, momentum);
            }
            Self::Lambda { .. } | Self::Multiplicative { .. } => {}
            Self::LinearWarmup {
                total_iters,
                start_factor,
                then,
                ..
            } => {
                p.at_least_one("warmup_steps", *total_iters as u64);
                p.range("start_factor", *start_factor, Range::new(gt(0.0), le(1.0)));
                p.within("then", |p| then.validate_part(p, "warmup", true));
            }
            Self::Sequential {
                schedulers,
                milestones,
            } => {
                if schedulers.is_empty() {
                    p.push(
                        "schedulers",
                        "'schedulers' is empty",
                        Some("a list of at least one schedule".into()),
                    );
                } else if milestones.len() + 1 != schedulers.len() {
                    p.push(
                        "milestones",
                        format!(
                            "{} schedulers need {} milestones, found {}",
                            schedulers.len(),
                            schedulers.len() - 1,
                            milestones.len()
                        ),
                        Some("one milestone fewer than schedulers".into()),
                    );
                }
                increasing(p, "milestones", milestones);
                for (i, s) in schedulers.iter().enumerate() {
                    p.within(&format!("schedulers[{i}]"), |p| {
                        s.validate_part(p, "sequential", i > 0);
                    });
                }
            }
            Self::Chained { schedulers } => {
                if schedulers.is_empty() {
                    p.push(
                        "schedulers",
                        "'schedulers' is empty",
                        Some("a list of at least one schedule".into()),
                    );
                }
                for (i, s) in schedulers.iter().enumerate() {
                    p.within(&format!("schedulers[{i}]"), |p| {
                        s.validate_part(p, "chained", false);
                    });
                }
            }
            Self::Wsd {
                decay_steps,
                min_lr_ratio,
                num_cycles,
                ..
            } => {
                p.at_least_one("decay_steps", *decay_steps as u64);
                p.range("min_lr_ratio", *min_lr_ratio, Range::new(ge(0.0), le(1.0)));
                p.range("num_cycles", *num_cycles, positive);
            }
            Self::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
                base_momentum,
                max_momentum,
                ..
            } => {
                p.range("max_lr", *max_lr, positive);
                if let Some(t) = total_steps {
                    p.at_least_one("total_steps", *t as u64);
                }
                p.range("pct_start", *pct_start, Range::new(gt(0.0), lt(1.0)));
                p.range("div_factor", *div_factor, positive);
                p.range("final_div_factor", *final_div_factor, positive);
                p.range("base_momentum", *base_momentum, momentum);
                p.range("max_momentum", *max_momentum, momentum);
            }
            Self::ReduceOnPlateau(plateau) => {
                p.range("factor", plateau.factor, Range::new(gt(0.0), lt(1.0)));
                p.range("threshold", plateau.threshold, non_negative);
                p.range("min_lr", plateau.min_lr, non_negative);
                p.range("eps", plateau.eps, non_negative);
            }
        }
    }
}

/// A problem found in a part, its key put under `key`.
fn within(key: &str, found: Option<(String, usize, u64)>) -> Option<(String, usize, u64)> {
    found.map(|(path, total, steps)| (format!("{key}.{path}"), total, steps))
}

/// `values` must increase strictly.
fn increasing(p: &mut Problems, key: &str, values: &[usize]) {
    if values.windows(2).any(|w| w[0] >= w[1]) {
        p.push(
            key,
            format!("'{key}' must increase strictly"),
            Some("e.g. [100, 300, 600]".into()),
        );
    }
}

impl Schedule {
    /// The checks of a schedule inside a composite (`warmup`, `sequential`, `chained`): torch's
    /// SequentialLR and ChainedScheduler refuse ReduceLROnPlateau (its step needs the loss), and
    /// a SequentialLR cannot restart a composite at a milestone (`restarted`: every part but
    /// a sequential's first, and a warmup's `then`).
    fn validate_part(&self, p: &mut Problems, within: &str, restarted: bool) {
        let kind = self.kind();
        if matches!(self, Self::ReduceOnPlateau(_)) {
            p.push(
                "kind",
                format!("a '{within}' schedule cannot hold a 'plateau' schedule"),
                Some(
                    "a schedule that steps without the loss (torch's SequentialLR and \
                     ChainedScheduler refuse ReduceLROnPlateau)"
                        .into(),
                ),
            );
        } else if restarted && self.is_composite() {
            p.push(
                "kind",
                format!(
                    "a '{within}' schedule cannot restart a '{kind}' schedule at its milestone"
                ),
                Some(
                    "a schedule that is not a composite here (torch's SequentialLR raises \
                     NotImplementedError when it restarts one); a composite may come first in a \
                     'sequential' or anywhere in a 'chained'"
                        .into(),
                ),
            );
        } else {
            self.validate(p);
        }
    }

    /// `warmup`, `sequential` or `chained`.
    #[must_use]
    pub fn is_composite(&self) -> bool {
        matches!(
            self,
            Self::LinearWarmup { .. } | Self::Sequential { .. } | Self::Chained { .. }
        )
    }

    /// The first one-cycle schedule in it that torch would step past its `total_steps` in a run
    /// of `max_steps` steps (torch's canonical loop calls `scheduler.step()` after every step,
    /// the last included), as `(key path, total_steps, steps it would see)`. Exact for every
    /// placement but inside a composite that is itself a sequential's first part (which torch
    /// steps once more at construction); [`Scheduler::would_raise`] is exact for all.
    #[must_use]
    pub fn past_total_steps(&self, max_steps: u64) -> Option<(String, usize, u64)> {
        match self {
            Self::OneCycle {
                total_steps: Some(total),
                ..
            } => {
                (max_steps > *total as u64).then(|| ("total_steps".to_string(), *total, max_steps))
            }
            Self::LinearWarmup {
                total_iters, then, ..
            } => within(
                "then",
                then.past_total_steps(max_steps.saturating_sub(*total_iters as u64)),
            ),
            Self::Sequential {
                schedulers,
                milestones,
            } => schedulers.iter().enumerate().find_map(|(i, s)| {
                // each part sees the steps from its milestone (its restart) to the next
                let from = if i == 0 {
                    0
                } else {
                    milestones.get(i - 1).copied()? as u64
                };
                let until = milestones
                    .get(i)
                    .map_or(max_steps, |&m| max_steps.min((m as u64).saturating_sub(1)));
                within(
                    &format!("schedulers[{i}]"),
                    s.past_total_steps(until.saturating_sub(from)),
                )
            }),
            Self::Chained { schedulers } => schedulers.iter().enumerate().find_map(|(i, s)| {
                within(&format!("schedulers[{i}]"), s.past_total_steps(max_steps))
            }),
            _ => None,
        }
    }

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
    /// OneCycleLR with torch's defaults (momentum cycled).
    pub fn one_cycle(max_lr: f64, total_steps: usize) -> Self {
        Self::OneCycle {
            max_lr,
            total_steps: Some(total_steps),
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            anneal_strategy: Anneal::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            three_phase: false,
        }
    }
    pub fn plateau() -> Self {
        Self::ReduceOnPlateau(Plateau::default())
    }

    /// Fills in what defaults to the run's step budget, `max_steps`: one-cycle `total_steps`
    /// and WSD `stable_steps` (the budget less warmup and decay), here or in a composite.
    pub fn resolve_total_steps(&mut self, max_steps: u64) {
        let budget = usize::try_from(max_steps).unwrap_or(usize::MAX);
        match self {
            Self::OneCycle { total_steps, .. } if total_steps.is_none() => {
                *total_steps = Some(budget);
            }
            Self::Wsd {
                warmup_steps,
                stable_steps,
                decay_steps,
                ..
            } if stable_steps.is_none() => {
                *stable_steps = Some(budget.saturating_sub(*warmup_steps + *decay_steps));
            }
            Self::LinearWarmup { then, .. } => then.resolve_total_steps(max_steps),
            Self::Sequential { schedulers, .. } | Self::Chained { schedulers } => {
                for s in schedulers {
                    s.resolve_total_steps(max_steps);
                }
            }
            _ => {}
        }
    }

    /// Whether it drives the momentum (or `beta1`) as well as the lr.
    #[must_use]
    pub fn cycles_momentum(&self) -> bool {
        match self {
            Self::OneCycle { cycle_momentum, .. } | Self::Cyclic { cycle_momentum, .. } => {
                *cycle_momentum
            }
            Self::LinearWarmup { then, .. } => then.cycles_momentum(),
            Self::Sequential { schedulers, .. } | Self::Chained { schedulers } => {
                schedulers.iter().any(Schedule::cycles_momentum)
            }
            _ => false,
        }
    }

    /// The kind a scenario writes (`cosine`, `onecycle`, ...).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Constant { .. } => "constant",
            Self::Step { .. } => "step",
            Self::MultiStep { .. } => "multistep",
            Self::Exponential { .. } => "exponential",
            Self::CosineAnnealing { .. } => "cosine",
            Self::Linear { .. } => "linear",
            Self::Polynomial { .. } => "polynomial",
            Self::CosineWarmRestarts { .. } => "cosine_warm_restarts",
            Self::Cyclic { .. } => "cyclic",
            Self::Lambda { .. } => "lambda",
            Self::Multiplicative { .. } => "multiplicative",
            Self::LinearWarmup { .. } => "warmup",
            Self::Sequential { .. } => "sequential",
            Self::Chained { .. } => "chained",
            Self::Wsd { .. } => "wsd",
            Self::OneCycle { .. } => "onecycle",
            Self::ReduceOnPlateau(_) => "plateau",
        }
    }

    /// torch's `_get_closed_form_lr` at step `t` for base lr `base_lr`, for the schedules that
    /// have one (what SequentialLR uses when a schedule takes over at a milestone).
    #[must_use]
    pub fn closed_form(&self, t: usize, base_lr: f64) -> Option<f64> {
        Some(match self {
            Self::Constant {
                factor,
                total_iters,
            } => {
                let done = total_iters.is_some_and(|n| t >= n);
                base_lr * (factor + if done { 1.0 - factor } else { 0.0 })
            }
            Self::Step { step_size, gamma } => base_lr * gamma.powf((t / *step_size) as f64),
            Self::MultiStep { milestones, gamma } => {
                let passed = milestones.iter().filter(|&&m| m <= t).count();
                base_lr * gamma.powf(passed as f64)
            }
            Self::Exponential { gamma } => base_lr * gamma.powf(t as f64),
            Self::CosineAnnealing { t_max, eta_min } => {
                let tm = *t_max as f64;
                eta_min
                    + (base_lr - eta_min) * (1.0 + (std::f64::consts::PI * t as f64 / tm).cos())
                        / 2.0
            }
            Self::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                base_lr
                    * (start_factor
                        + (end_factor - start_factor) * t.min(*total_iters) as f64
                            / *total_iters as f64)
            }
            Self::Polynomial { total_iters, power } => {
                base_lr * (1.0 - t.min(*total_iters) as f64 / *total_iters as f64).powf(*power)
            }
            _ => return None,
        })
    }
}

/// Every schedule kind, as a scenario's `schedule` names it, with a one-line description (its
/// torch class first), in [`Schedule`]'s order: what `gradscope list` prints.
pub const KINDS: &[(&str, &str)] = &[
    (
        "constant",
        "ConstantLR: factor·lr for total_iters steps, then lr",
    ),
    ("step", "StepLR: lr·gamma every step_size steps"),
    ("multistep", "MultiStepLR: lr·gamma at each milestone"),
    ("exponential", "ExponentialLR: lr·gamma every step"),
    (
        "cosine",
        "CosineAnnealingLR: half a cosine from lr to eta_min over T_max steps",
    ),
    (
        "linear",
        "LinearLR: linear from start_factor·lr to end_factor·lr over total_iters",
    ),
    ("polynomial", "PolynomialLR: lr·(1 − t/total_iters)^power"),
    (
        "cosine_warm_restarts",
        "CosineAnnealingWarmRestarts: cosine periods T_0, T_0·T_mult, ...",
    ),
    (
        "cyclic",
        "CyclicLR: triangles between base_lr and max_lr; momentum cycled",
    ),
    (
        "lambda",
        "LambdaLR: lr·lr_lambda(t), an expression of the step t",
    ),
    (
        "multiplicative",
        "MultiplicativeLR: the lr times lr_lambda(t) every step",
    ),
    (
        "warmup",
        "SequentialLR of a LinearLR warmup and the schedule `then`",
    ),
    (
        "sequential",
        "SequentialLR: schedulers in turn, switching at milestones",
    ),
    (
        "chained",
        "ChainedScheduler: every scheduler steps on the lr the last one left",
    ),
    (
        "wsd",
        "warmup-stable-decay (transformers' get_wsd_schedule, a LambdaLR)",
    ),
    (
        "onecycle",
        "OneCycleLR: up to max_lr and down to almost nothing; momentum cycled",
    ),
    (
        "plateau",
        "ReduceLROnPlateau: lr·factor after patience steps without improvement",
    ),
];

/// [`KINDS`] as `gradscope list` prints it, one kind a line.
#[must_use]
pub fn describe_all() -> String {
    KINDS
        .iter()
        .map(|(kind, what)| format!("{kind:<20} {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Hugging Face transformers' `_get_wsd_scheduler_lambda`, the WSD factor at step `t`.
#[allow(clippy::too_many_arguments)]
fn wsd_factor(
    t: usize,
    warmup: usize,
    stable: usize,
    decay: usize,
    warmup_type: WsdShape,
    decay_type: WsdShape,
    min_lr_ratio: f64,
    num_cycles: f64,
) -> f64 {
    use std::f64::consts::PI;
    let squash = |f: f64| (f * (1.0 - min_lr_ratio) + min_lr_ratio).max(0.0);
    if t < warmup {
        let progress = t as f64 / warmup.max(1) as f64;
        return squash(match warmup_type {
            WsdShape::Linear => progress,
            WsdShape::Cosine => 0.5 * (1.0 - (PI * progress).cos()),
            WsdShape::OneMinusSqrt => 1.0 - (1.0 - progress).sqrt(),
        });
    }
    if t < warmup + stable {
        return 1.0;
    }
    if t < warmup + stable + decay {
        let progress = (t - warmup - stable) as f64 / decay.max(1) as f64;
        return squash(match decay_type {
            WsdShape::Linear => 1.0 - progress,
            WsdShape::Cosine => 0.5 * (1.0 + (PI * num_cycles * 2.0 * progress).cos()),
            WsdShape::OneMinusSqrt => 1.0 - progress.sqrt(),
        });
    }
    min_lr_ratio
}

/// Why a schedule cannot drive an optimizer.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    #[error(
        "schedule '{kind}' cycles the momentum (cycle_momentum: true, torch's default) but \
         optimizer '{optimizer}' has neither 'momentum' nor 'betas'; set cycle_momentum: false"
    )]
    NoMomentum {
        kind: &'static str,
        optimizer: &'static str,
    },
    #[error("a '{within}' schedule cannot hold a '{kind}' schedule")]
    Nested {
        within: &'static str,
        kind: &'static str,
    },
    #[error(
        "a '{within}' schedule cannot restart a composite schedule at a milestone (torch's \
         SequentialLR raises NotImplementedError there)"
    )]
    Restarted { within: &'static str },
    #[error(
        "onecycle's total_steps is {total} but the run takes up to {steps} steps: torch's \
         OneCycleLR raises past total_steps"
    )]
    PastTotalSteps { total: usize, steps: u64 },
    #[error("a '{kind}' schedule needs at least one schedule")]
    Empty { kind: &'static str },
    #[error("schedule '{kind}' drives the learning rate, and {optimizer} has no learning rate")]
    NoLearningRate {
        kind: &'static str,
        optimizer: &'static str,
    },
}

/// Which hyperparameter a momentum-cycling schedule drives: torch uses `beta1` when the
/// optimizer's defaults have `betas`, else `momentum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MomentumTarget {
    Momentum,
    Beta1,
}

impl MomentumTarget {
    /// torch's rule (`"betas" in optimizer.defaults`, else `"momentum"`), on `opt`'s
    /// hyperparameters.
    #[must_use]
    pub fn of(opt: &dyn Optimizer) -> Option<Self> {
        let names = opt.hyperparameters();
        if names.iter().any(|(n, _)| n == "betas") {
            Some(Self::Beta1)
        } else if names.iter().any(|(n, _)| n == "momentum") {
            Some(Self::Momentum)
        } else {
            None
        }
    }

    /// Sets `opt`'s momentum or `beta1` to `m`; a value out of its range is ignored, as with lr.
    pub fn apply(self, opt: &mut dyn Optimizer, m: f64) {
        let value = match self {
            Self::Momentum => HyperValue::Float(m),
            Self::Beta1 => match opt
                .hyperparameters()
                .into_iter()
                .find(|(n, _)| n == "betas")
            {
                Some((_, HyperValue::Pair(_, b2))) => HyperValue::Pair(m, b2),
                Some((_, HyperValue::Triple(_, b2, b3))) => HyperValue::Triple(m, b2, b3),
                _ => return,
            },
        };
        let name = match self {
            Self::Momentum => "momentum",
            Self::Beta1 => "betas",
        };
        // out-of-range values are documented as ignored, as for the lr
        let _ = opt.set_hyperparameter(name, value);
    }
}

/// What torch's param group holds that schedulers read and write.
#[derive(Clone, Debug, PartialEq)]
struct Group {
    lr: f64,
    /// torch's `initial_lr`: set by the first scheduler built (OneCycleLR overwrites it).
    initial_lr: Option<f64>,
    /// The momentum or `beta1` a cycling schedule last set.
    momentum: Option<f64>,
}

/// One torch scheduler that is not a composite: its settings and torch's state for it.
#[derive(Clone, Debug, PartialEq)]
struct Leaf {
    schedule: Schedule,
    last_epoch: i64,
    base_lr: f64,
    /// CosineAnnealingWarmRestarts' `T_i` and `T_cur`.
    t_i: usize,
    t_cur: usize,
}

impl Leaf {
    /// torch's constructor: its own settings of the group, `initial_lr`, then the initial step.
    fn build(schedule: Schedule, g: &mut Group) -> Self {
        match &schedule {
            Schedule::Cyclic {
                base_lr,
                cycle_momentum,
                max_momentum,
                ..
            } => {
                g.lr = *base_lr;
                if *cycle_momentum {
                    g.momentum = Some(*max_momentum);
                }
            }
            Schedule::OneCycle {
                max_lr,
                div_factor,
                cycle_momentum,
                max_momentum,
                ..
            } => {
                g.initial_lr = Some(max_lr / div_factor);
                if *cycle_momentum {
                    g.momentum = Some(*max_momentum);
                }
            }
            _ => {}
        }
        let base_lr = *g.initial_lr.get_or_insert(g.lr);
        let mut leaf = Leaf {
            schedule,
            last_epoch: -1,
            base_lr,
            t_i: 0,
            t_cur: 0,
        };
        leaf.step(g, true);
        // CyclicLR sets its base_lrs after the base constructor's initial step
        if let Schedule::Cyclic { base_lr, .. } = leaf.schedule {
            leaf.base_lr = base_lr;
        }
        leaf
    }

    /// torch's `step()` (`initial`: the constructor's, `_is_initial`).
    fn step(&mut self, g: &mut Group, initial: bool) {
        if let Schedule::CosineWarmRestarts { t_0, t_mult, .. } = self.schedule {
            if self.last_epoch < 0 {
                self.last_epoch = 0;
                self.t_i = t_0;
                self.t_cur = 0;
            } else {
                self.last_epoch += 1;
                self.t_cur += 1;
                if self.t_cur >= self.t_i {
                    self.t_cur %= self.t_i;
                    self.t_i *= t_mult;
                }
            }
        } else {
            self.last_epoch += 1;
        }
        g.lr = self.get_lr(g, initial);
    }

    /// The one-cycle `total_steps` the next step would pass (torch's `step_num > total_steps`).
    fn would_raise(&self) -> Option<usize> {
        match self.schedule {
            Schedule::OneCycle {
                total_steps: Some(total),
                ..
            } if self.last_epoch + 1 > total as i64 => Some(total),
            _ => None,
        }
    }

    /// Scales its base lr by `k`, unless it sets its own (cyclic, one-cycle).
    fn rescale(&mut self, k: f64) {
        if !matches!(
            self.schedule,
            Schedule::Cyclic { .. } | Schedule::OneCycle { .. }
        ) {
            self.base_lr *= k;
        }
    }

    /// SequentialLR's `_update_lr(0)` at a milestone: step 0 again, in closed form where torch
    /// has one.
    fn restart(&mut self, g: &mut Group) {
        self.last_epoch = 0;
        g.lr = match self.schedule.closed_form(0, self.base_lr) {
            Some(lr) => lr,
            None => self.get_lr(g, false),
        };
    }

    /// torch's `get_lr()`: the chainable form, from the group's current lr.
    #[allow(clippy::too_many_lines)] // one arm per torch scheduler
    fn get_lr(&self, g: &mut Group, initial: bool) -> f64 {
        use std::f64::consts::PI;
        let t = self.last_epoch;
        let lr = g.lr;
        match &self.schedule {
            Schedule::Constant {
                factor,
                total_iters,
            } => {
                if t == 0 {
                    lr * factor
                } else if total_iters.is_some_and(|n| t == n as i64) {
                    lr * (1.0 / factor)
                } else {
                    lr
                }
            }
            Schedule::Step { step_size, gamma } => {
                if t == 0 || t % *step_size as i64 != 0 {
                    lr
                } else {
                    lr * gamma
                }
            }
            Schedule::MultiStep { milestones, gamma } => {
                let hits = milestones.iter().filter(|&&m| m as i64 == t).count();
                if hits == 0 {
                    lr
                } else {
                    lr * gamma.powf(hits as f64)
                }
            }
            Schedule::Exponential { gamma } => {
                if initial {
                    lr
                } else {
                    lr * gamma
                }
            }
            Schedule::CosineAnnealing { t_max, eta_min } => {
                let tm = *t_max as f64;
                if initial {
                    lr
                } else if (t - 1 - *t_max as i64).rem_euclid(2 * *t_max as i64) == 0 {
                    lr + (self.base_lr - eta_min) * (1.0 - (PI / tm).cos()) / 2.0
                } else {
                    (1.0 + (PI * t as f64 / tm).cos()) / (1.0 + (PI * (t - 1) as f64 / tm).cos())
                        * (lr - eta_min)
                        + eta_min
                }
            }
            Schedule::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                if t == 0 {
                    lr * start_factor
                } else if initial || t > *total_iters as i64 {
                    lr
                } else {
                    lr * (1.0
                        + (end_factor - start_factor)
                            / (*total_iters as f64 * start_factor
                                + (t - 1) as f64 * (end_factor - start_factor)))
                }
            }
            Schedule::Polynomial { total_iters, power } => {
                if initial || t > *total_iters as i64 {
                    lr
                } else {
                    let n = *total_iters as f64;
                    let decay = ((1.0 - t as f64 / n) / (1.0 - (t - 1) as f64 / n)).powf(*power);
                    lr * decay
                }
            }
            Schedule::CosineWarmRestarts { eta_min, .. } => {
                eta_min
                    + (self.base_lr - eta_min)
                        * (1.0 + (PI * self.t_cur as f64 / self.t_i as f64).cos())
                        / 2.0
            }
            Schedule::Lambda { lr_lambda } => self.base_lr * lr_lambda.at(t),
            Schedule::Multiplicative { lr_lambda } => {
                if initial {
                    lr
                } else {
                    lr * lr_lambda.at(t)
                }
            }
            Schedule::Wsd {
                warmup_steps,
                stable_steps,
                decay_steps,
                warmup_type,
                decay_type,
                min_lr_ratio,
                num_cycles,
            } => {
                self.base_lr
                    * wsd_factor(
                        usize::try_from(t).unwrap_or(0),
                        *warmup_steps,
                        stable_steps.unwrap_or(0),
                        *decay_steps,
                        *warmup_type,
                        *decay_type,
                        *min_lr_ratio,
                        *num_cycles,
                    )
            }
            Schedule::Cyclic {
                max_lr,
                step_size_up,
                step_size_down,
                mode,
                gamma,
                cycle_momentum,
                base_momentum,
                max_momentum,
                ..
            } => {
                let up = *step_size_up as f64;
                let total_size = up + step_size_down.map_or(up, |d| d as f64);
                let step_ratio = up / total_size;
                let cycle = (1.0 + t as f64 / total_size).floor();
                let x = 1.0 + t as f64 / total_size - cycle;
                let scale_factor = if x <= step_ratio {
                    x / step_ratio
                } else {
                    (x - 1.0) / (step_ratio - 1.0)
                };
                let scale = match mode {
                    CyclicMode::Triangular => 1.0,
                    CyclicMode::Triangular2 => 1.0 / 2.0f64.powf(cycle - 1.0),
                    CyclicMode::ExpRange => gamma.powf(t as f64),
                };
                if *cycle_momentum {
                    let height = (max_momentum - base_momentum) * scale_factor;
                    g.momentum = Some(max_momentum - height * scale);
                }
                let height = (max_lr - self.base_lr) * scale_factor;
                self.base_lr + height * scale
            }
            Schedule::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
                anneal_strategy,
                cycle_momentum,
                base_momentum,
                max_momentum,
                three_phase,
            } => {
                let total = total_steps.unwrap_or(usize::MAX);
                let initial_lr = max_lr / div_factor;
                let min_lr = initial_lr / final_div_factor;
                let (lo, hi) = (*base_momentum, *max_momentum);
                let end1 = pct_start * total as f64 - 1.0;
                let last = total as f64 - 1.0;
                // (end step, start lr, end lr, start momentum, end momentum) per phase
                let phases: &[(f64, f64, f64, f64, f64)] = if *three_phase {
                    &[
                        (end1, initial_lr, *max_lr, hi, lo),
                        (
                            2.0 * pct_start * total as f64 - 2.0,
                            *max_lr,
                            initial_lr,
                            lo,
                            hi,
                        ),
                        (last, initial_lr, min_lr, hi, hi),
                    ]
                } else {
                    &[
                        (end1, initial_lr, *max_lr, hi, lo),
                        (last, *max_lr, min_lr, lo, hi),
                    ]
                };
                let step = t.min(i64::try_from(total).unwrap_or(i64::MAX)) as f64;
                let mut start = 0.0;
                let mut out = (lr, None);
                for (i, &(end, lr0, lr1, m0, m1)) in phases.iter().enumerate() {
                    if step <= end || i == phases.len() - 1 {
                        let pct = (step - start) / (end - start);
                        let m = cycle_momentum.then(|| anneal_strategy.at(m0, m1, pct));
                        out = (anneal_strategy.at(lr0, lr1, pct), m);
                        break;
                    }
                    start = end;
                }
                if out.1.is_some() {
                    g.momentum = out.1;
                }
                out.0
            }
            // composites and plateau are not leaves
            Schedule::LinearWarmup { .. }
            | Schedule::Sequential { .. }
            | Schedule::Chained { .. }
            | Schedule::ReduceOnPlateau(_) => lr,
        }
    }
}

/// A running schedule: torch's scheduler objects for one [`Schedule`], nested as torch nests
/// them.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Leaf(Leaf),
    /// SequentialLR: its first part may be a composite; the parts it restarts at milestones are
    /// leaves (torch cannot restart a composite).
    Sequential {
        first: Box<Node>,
        rest: Vec<Leaf>,
        milestones: Vec<usize>,
        last_epoch: usize,
    },
    Chained(Vec<Node>),
    Plateau(Plateau),
}

impl Node {
    /// torch's constructors, innermost first, as a user's code runs them.
    fn build(
        schedule: Schedule,
        g: &mut Group,
        within: &'static str,
    ) -> Result<Self, ScheduleError> {
        Ok(match schedule {
            Schedule::ReduceOnPlateau(_) if !within.is_empty() => {
                return Err(ScheduleError::Nested {
                    within,
                    kind: "plateau",
                });
            }
            Schedule::ReduceOnPlateau(p) => Node::Plateau(p),
            Schedule::LinearWarmup {
                total_iters,
                start_factor,
                end_factor,
                then,
            } => Node::sequential(
                vec![
                    Schedule::Linear {
                        start_factor,
                        end_factor,
                        total_iters,
                    },
                    *then,
                ],
                vec![total_iters],
                "warmup",
                g,
            )?,
            Schedule::Sequential {
                schedulers,
                milestones,
            } => Node::sequential(schedulers, milestones, "sequential", g)?,
            Schedule::Chained { schedulers } => Node::Chained(
                schedulers
                    .into_iter()
                    .map(|s| Node::build(s, g, "chained"))
                    .collect::<Result<_, _>>()?,
            ),
            leaf => Node::Leaf(Leaf::build(leaf, g)),
        })
    }

    /// SequentialLR's constructor: the parts are built (each taking its initial step), the lr
    /// goes back to `initial_lr`, every leaf's step is undone (torch's `recursive_undo`), and
    /// the part in force at step 0 takes its initial step again (a composite there takes a
    /// whole step: torch's `_initial_step` of a composite is its `step`).
    fn sequential(
        schedulers: Vec<Schedule>,
        milestones: Vec<usize>,
        within: &'static str,
        g: &mut Group,
    ) -> Result<Self, ScheduleError> {
        let mut parts = schedulers.into_iter();
        let Some(first) = parts.next() else {
            return Err(ScheduleError::Empty { kind: within });
        };
        let mut first = Box::new(Node::build(first, g, within)?);
        let mut rest = parts
            .map(|s| match Node::build(s, g, within)? {
                Node::Leaf(leaf) => Ok(leaf),
                _ => Err(ScheduleError::Restarted { within }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(initial) = g.initial_lr {
            g.lr = initial;
        }
        first.undo();
        for leaf in &mut rest {
            leaf.last_epoch -= 1;
        }
        match milestones.partition_point(|&m| m == 0) {
            0 => first.initial_step(g),
            i => {
                if let Some(leaf) = rest.get_mut(i - 1) {
                    leaf.step(g, true);
                }
            }
        }
        Ok(Node::Sequential {
            first,
            rest,
            milestones,
            last_epoch: 0,
        })
    }

    /// torch's `recursive_undo`: every leaf below goes back one step (a nested SequentialLR's
    /// own count stays).
    fn undo(&mut self) {
        match self {
            Node::Leaf(leaf) => leaf.last_epoch -= 1,
            Node::Sequential { first, rest, .. } => {
                first.undo();
                for leaf in rest {
                    leaf.last_epoch -= 1;
                }
            }
            Node::Chained(children) => children.iter_mut().for_each(Node::undo),
            Node::Plateau(_) => {}
        }
    }

    /// torch's `_initial_step`: a leaf's initial step; a composite's ordinary step.
    fn initial_step(&mut self, g: &mut Group) {
        match self {
            Node::Leaf(leaf) => leaf.step(g, true),
            other => other.step(g, f64::NAN),
        }
    }

    fn step(&mut self, g: &mut Group, loss: f64) {
        match self {
            Node::Leaf(leaf) => leaf.step(g, false),
            Node::Sequential {
                first,
                rest,
                milestones,
                last_epoch,
            } => {
                *last_epoch += 1;
                match milestones.partition_point(|&m| m <= *last_epoch) {
                    0 => first.step(g, loss),
                    i => {
                        let Some(leaf) = rest.get_mut(i - 1) else {
                            return;
                        };
                        if milestones[i - 1] == *last_epoch {
                            leaf.restart(g);
                        } else {
                            leaf.step(g, false);
                        }
                    }
                }
            }
            Node::Chained(children) => {
                for c in children {
                    c.step(g, loss);
                }
            }
            Node::Plateau(p) => g.lr = p.observe(loss, g.lr),
        }
    }

    /// The `total_steps` of a one-cycle schedule the next step would take past it (torch
    /// raises there).
    fn would_raise(&self) -> Option<usize> {
        match self {
            Node::Leaf(leaf) => leaf.would_raise(),
            Node::Sequential {
                first,
                rest,
                milestones,
                last_epoch,
            } => {
                let next = *last_epoch + 1;
                match milestones.partition_point(|&m| m <= next) {
                    0 => first.would_raise(),
                    // a restart goes back to step 0
                    i if milestones[i - 1] == next => None,
                    i => rest.get(i - 1).and_then(Leaf::would_raise),
                }
            }
            Node::Chained(children) => children.iter().find_map(Node::would_raise),
            Node::Plateau(_) => None,
        }
    }

    /// Scales every base lr by `k` (the TUI's lr edits).
    fn rescale(&mut self, k: f64) {
        match self {
            Node::Leaf(l) => l.rescale(k),
            Node::Sequential { first, rest, .. } => {
                first.rescale(k);
                rest.iter_mut().for_each(|l| l.rescale(k));
            }
            Node::Chained(children) => children.iter_mut().for_each(|c| c.rescale(k)),
            Node::Plateau(_) => {}
        }
    }
}

/// Drives a [`Schedule`]: [`Scheduler::apply`] before every optimizer step sets its lr (and the
/// momentum or `beta1` a cycling schedule drives); [`Scheduler::step`] after it advances, as
/// torch's `scheduler.step()` does.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduler {
    node: Node,
    group: Group,
    /// η₀, the lr the schedule was built on.
    base_lr: f64,
    target: Option<MomentumTarget>,
    t: usize,
}

impl Scheduler {
    /// Builds the schedule on an optimizer whose lr is `base_lr`, as torch's constructors would;
    /// `target` is what a momentum-cycling schedule drives ([`MomentumTarget::of`]); `optimizer`
    /// names it in errors.
    pub fn new(
        schedule: Schedule,
        base_lr: f64,
        target: Option<MomentumTarget>,
        optimizer: &'static str,
    ) -> Result<Self, ScheduleError> {
        if target.is_none() && schedule.cycles_momentum() {
            return Err(ScheduleError::NoMomentum {
                kind: schedule.kind(),
                optimizer,
            });
        }
        let mut group = Group {
            lr: base_lr,
            initial_lr: None,
            momentum: None,
        };
        let node = Node::build(schedule, &mut group, "")?;
        Ok(Self {
            node,
            group,
            base_lr,
            target,
            t: 0,
        })
    }

    /// The scheduler for `schedule` on `opt` at base lr `base_lr`.
    pub fn for_optimizer(
        schedule: Schedule,
        base_lr: f64,
        opt: &dyn Optimizer,
    ) -> Result<Self, ScheduleError> {
        if opt.lr_name().is_none() {
            return Err(ScheduleError::NoLearningRate {
                kind: schedule.kind(),
                optimizer: opt.name(),
            });
        }
        Self::new(schedule, base_lr, MomentumTarget::of(opt), opt.name())
    }

    /// The `total_steps` of a one-cycle schedule its next step would take past it, where torch
    /// raises: the run stops before that step.
    #[must_use]
    pub fn would_raise(&self) -> Option<usize> {
        self.node.would_raise()
    }

    /// Overwrites the param group's lr, as a scheduler built after this one sets it in its
    /// constructor (SWALR with `anneal_epochs: 0`); the schedule goes on from it.
    pub fn set_lr(&mut self, lr: f64) {
        self.group.lr = lr;
    }

    /// The lr for the next optimizer step.
    #[must_use]
    pub fn lr(&self) -> f64 {
        self.group.lr
    }

    /// The momentum (or `beta1`) for the next optimizer step, if the schedule drives it.
    #[must_use]
    pub fn momentum(&self) -> Option<f64> {
        self.group.momentum
    }

    /// Steps taken so far.
    #[must_use]
    pub fn steps(&self) -> usize {
        self.t
    }

    /// Advance one step; `loss` is what ReduceLROnPlateau observes (ignored by the others).
    /// Returns the new lr.
    pub fn step(&mut self, loss: f64) -> f64 {
        self.t += 1;
        self.node.step(&mut self.group, loss);
        self.lr()
    }

    /// Set the optimizer's lr (and driven momentum) to the current ones.
    pub fn apply(&self, opt: &mut dyn Optimizer) {
        opt.set_lr(self.lr());
        if let (Some(m), Some(target)) = (self.group.momentum, self.target) {
            target.apply(opt, m);
        }
    }

    /// Rebases the schedule on a new initial lr mid-run (the TUI's lr edits), keeping its
    /// position: every lr it derives from η₀ scales by `base_lr/η₀` (one-cycle and cyclic
    /// schedules set their own).
    pub fn set_base_lr(&mut self, base_lr: f64) {
        if self.base_lr == 0.0 || !base_lr.is_finite() {
            return;
        }
        let k = base_lr / self.base_lr;
        self.base_lr = base_lr;
        let absolute = matches!(
            self.node,
            Node::Leaf(Leaf {
                schedule: Schedule::Cyclic { .. } | Schedule::OneCycle { .. },
                ..
            })
        );
        if !absolute {
            self.group.lr *= k;
            self.group.initial_lr = self.group.initial_lr.map(|l| l * k);
        }
        self.node.rescale(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    /// The lrs of the first `n` steps of `s` on base lr `lr`, momentum driven as for SGD.
    fn lrs(s: Schedule, lr: f64, n: usize) -> Vec<f64> {
        let mut sch = Scheduler::new(s, lr, Some(MomentumTarget::Momentum), "sgd").expect("builds");
        (0..n)
            .map(|_| {
                let lr = sch.lr();
                sch.step(0.0);
                lr
            })
            .collect()
    }

    fn closed(s: &Schedule, t: usize, lr: f64) -> f64 {
        s.closed_form(t, lr).expect("has a closed form")
    }

    #[test]
    fn step_lr_as_documented() {
        // torch docs: lr = 0.05 if epoch < 30, 0.005 if 30 <= epoch < 60, 0.0005 if 60 <= epoch < 90
        let s = Schedule::step(30);
        assert!(close(closed(&s, 0, 0.05), 0.05));
        assert!(close(closed(&s, 29, 0.05), 0.05));
        assert!(close(closed(&s, 30, 0.05), 0.005));
        assert!(close(closed(&s, 60, 0.05), 0.0005));
        let run = lrs(s, 0.05, 61);
        assert!(close(run[29], 0.05) && close(run[30], 0.005) && close(run[60], 0.0005));
    }

    #[test]
    fn multistep_lr_as_documented() {
        let s = Schedule::multistep(vec![30, 80]);
        assert!(close(closed(&s, 29, 0.05), 0.05));
        assert!(close(closed(&s, 30, 0.05), 0.005));
        assert!(close(closed(&s, 79, 0.05), 0.005));
        assert!(close(closed(&s, 80, 0.05), 0.0005));
        let run = lrs(s, 0.05, 81);
        assert!(close(run[79], 0.005) && close(run[80], 0.0005));
    }

    #[test]
    fn exponential_and_cosine() {
        let s = Schedule::Exponential { gamma: 0.9 };
        assert!(close(closed(&s, 3, 1.0), 0.729));
        assert!(close(lrs(s, 1.0, 4)[3], 0.729));
        let s = Schedule::CosineAnnealing {
            t_max: 10,
            eta_min: 0.01,
        };
        assert!(close(closed(&s, 5, 0.1), 0.055));
        let run = lrs(s, 0.1, 16);
        assert!(close(run[0], 0.1));
        assert!(close(run[5], 0.055));
        assert!(close(run[10], 0.01));
        // torch's recursion climbs back after T_max, following the cosine
        assert!(close(run[15], 0.055), "{}", run[15]);
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
        for (t, (got, w)) in lrs(s, 0.05, 6).iter().zip(want).enumerate() {
            assert!(close(*got, w), "t={t}: {got}");
        }
        let linear = Schedule::Linear {
            start_factor: 0.5,
            end_factor: 1.0,
            total_iters: 4,
        };
        for (t, (got, w)) in lrs(linear, 0.05, 6).iter().zip(want).enumerate() {
            assert!(close(*got, w), "t={t}: {got}");
        }
        let run = lrs(Schedule::warmup(5, Schedule::step(2)), 0.3, 8);
        assert!(close(run[0], 0.1));
        assert!(close(run[5], 0.3));
        assert!(close(run[7], 0.03));
    }

    #[test]
    fn polynomial_and_warm_restarts_as_documented() {
        // torch docs PolynomialLR(total_iters=4, power=1.0), lr 0.001:
        // 0.001, 0.00075, 0.0005, 0.00025, 0
        let run = lrs(
            Schedule::Polynomial {
                total_iters: 4,
                power: 1.0,
            },
            0.001,
            6,
        );
        for (got, w) in run.iter().zip([0.001, 0.00075, 0.0005, 0.00025, 0.0, 0.0]) {
            assert!(close(*got, w), "{run:?}");
        }
        // T_0 = 2, T_mult = 2: periods 2, 4, 8 restart at steps 2 and 6
        let run = lrs(
            Schedule::CosineWarmRestarts {
                t_0: 2,
                t_mult: 2,
                eta_min: 0.0,
            },
            1.0,
            7,
        );
        let want = [
            1.0,
            0.5,
            1.0,
            0.853_553_390_593_273_8,
            0.5,
            0.146_446_609_406_726_24,
            1.0,
        ];
        for (got, w) in run.iter().zip(want) {
            assert!(close(*got, w), "{run:?}");
        }
    }

    #[test]
    fn cyclic_triangular2_halves_and_cycles_momentum_the_other_way() {
        let mut sch = Scheduler::new(
            Schedule::Cyclic {
                base_lr: 0.1,
                max_lr: 0.5,
                step_size_up: 2,
                step_size_down: None,
                mode: CyclicMode::Triangular2,
                gamma: 1.0,
                cycle_momentum: true,
                base_momentum: 0.8,
                max_momentum: 0.9,
            },
            123.0,
            Some(MomentumTarget::Momentum),
            "sgd",
        )
        .expect("builds");
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push((sch.lr(), sch.momentum().expect("cycled")));
            sch.step(0.0);
        }
        let want = [
            (0.1, 0.9),
            (0.3, 0.85),
            (0.5, 0.8),
            (0.3, 0.85),
            (0.1, 0.9),
            (0.2, 0.875),
            (0.3, 0.85),
        ];
        for ((lr, m), (wl, wm)) in seen.iter().zip(want) {
            assert!(close(*lr, wl) && close(*m, wm), "{seen:?}");
        }
    }

    #[test]
    fn one_cycle_endpoints_and_momentum() {
        let mut sch = Scheduler::new(
            Schedule::one_cycle(0.1, 100),
            123.0,
            Some(MomentumTarget::Beta1),
            "adam",
        )
        .expect("builds");
        let mut run = Vec::new();
        for _ in 0..100 {
            run.push((sch.lr(), sch.momentum().expect("cycled")));
            sch.step(0.0);
        }
        assert!(close(run[0].0, 0.1 / 25.0) && close(run[0].1, 0.95));
        assert!(close(run[29].0, 0.1) && close(run[29].1, 0.85));
        assert!(close(run[99].0, 0.1 / 25.0 / 1e4) && close(run[99].1, 0.95));
        // halfway through the annealing phase: mean of max and min
        assert!(
            close(run[64].0, (0.1 + 0.1 / 25.0 / 1e4) / 2.0),
            "{}",
            run[64].0
        );
    }

    #[test]
    fn one_cycle_three_phase_returns_to_the_start_then_anneals() {
        let Schedule::OneCycle {
            max_lr,
            total_steps,
            ..
        } = Schedule::one_cycle(0.1, 100)
        else {
            unreachable!("one_cycle builds OneCycle")
        };
        let s = Schedule::OneCycle {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            anneal_strategy: Anneal::Linear,
            cycle_momentum: false,
            base_momentum: 0.85,
            max_momentum: 0.95,
            three_phase: true,
        };
        let run = lrs(s, 1.0, 100);
        assert!(close(run[29], 0.1));
        // phase 2 ends at step 2·0.3·100 − 2 = 58, back at the initial lr
        assert!(close(run[58], 0.004), "{}", run[58]);
        assert!(close(run[99], 0.004 / 1e4));
        // linear: halfway up phase 1 (29/2 steps in) is the mean of its ends
        assert!(close(Anneal::Linear.at(0.004, 0.1, 0.5), 0.052));
    }

    #[test]
    fn plateau_reduces_after_patience() {
        let mut sch = Scheduler::new(
            Schedule::ReduceOnPlateau(Plateau {
                patience: 2,
                ..Plateau::default()
            }),
            1.0,
            None,
            "sgd",
        )
        .expect("builds");
        assert_eq!(sch.step(5.0), 1.0); // best = 5
        assert_eq!(sch.step(5.0), 1.0); // bad 1
        assert_eq!(sch.step(4.9999), 1.0); // bad 2 (not better by 1e-4 relative)
        assert!(close(sch.step(5.0), 0.1)); // bad 3 > patience
        assert!(close(sch.step(1.0), 0.1));
    }

    #[test]
    fn plateau_cooldown_min_lr_max_mode_and_eps() {
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
        // max mode, absolute threshold: 1.05 is not better than 1 + 0.1
        let mut p = Plateau {
            mode: PlateauMode::Max,
            threshold_mode: ThresholdMode::Abs,
            threshold: 0.1,
            patience: 0,
            ..Plateau::default()
        };
        assert_eq!(p.observe(1.0, 1.0), 1.0);
        assert!(close(p.observe(1.05, 1.0), 0.1));
        // a reduction no larger than eps is skipped
        let mut p = Plateau {
            patience: 0,
            eps: 0.5,
            ..Plateau::default()
        };
        p.observe(1.0, 0.4);
        assert_eq!(p.observe(1.0, 0.4), 0.4);
    }

    #[test]
    fn constant_lr_as_documented() {
        // torch docs ConstantLR(factor=0.5, total_iters=4), lr 0.05: 0.025 for 4 steps, then 0.05
        let s = Schedule::Constant {
            factor: 0.5,
            total_iters: Some(4),
        };
        let want = [0.025, 0.025, 0.025, 0.025, 0.05, 0.05];
        for (t, (got, w)) in lrs(s, 0.05, 6).iter().zip(want).enumerate() {
            assert!(close(*got, w), "t={t}");
        }
        let forever = Schedule::Constant {
            factor: 0.5,
            total_iters: None,
        };
        assert!(close(closed(&forever, 1_000_000, 0.05), 0.025));
        assert_eq!(lrs(Schedule::constant(), 0.3, 8)[7], 0.3);
    }

    #[test]
    fn lambda_multiplicative_and_chained() {
        let f = |src: &str| StepFn::parse(src).expect("parses");
        let run = lrs(
            Schedule::Lambda {
                lr_lambda: f("0.5^t"),
            },
            2.0,
            4,
        );
        assert_eq!(run, [2.0, 1.0, 0.5, 0.25]);
        let run = lrs(
            Schedule::Multiplicative {
                lr_lambda: f("1 / (t + 1)"),
            },
            6.0,
            4,
        );
        // η₁ = η₀/2, η₂ = η₁/3, η₃ = η₂/4
        assert!(close(run[1], 3.0) && close(run[2], 1.0) && close(run[3], 0.25));
        let run = lrs(
            Schedule::Chained {
                schedulers: vec![
                    Schedule::Constant {
                        factor: 0.5,
                        total_iters: Some(2),
                    },
                    Schedule::Exponential { gamma: 0.9 },
                ],
            },
            1.0,
            4,
        );
        assert!(close(run[0], 0.5) && close(run[1], 0.45) && close(run[2], 0.81));
        assert!(StepFn::parse("0.9^step").is_err());
    }

    #[test]
    fn wsd_warms_holds_and_decays() {
        let mut s = Schedule::Wsd {
            warmup_steps: 4,
            stable_steps: None,
            decay_steps: 4,
            warmup_type: WsdShape::Linear,
            decay_type: WsdShape::Linear,
            min_lr_ratio: 0.0,
            num_cycles: 0.5,
        };
        s.resolve_total_steps(10);
        let run = lrs(s, 1.0, 12);
        let want = [
            0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0,
        ];
        assert_eq!(run, want);
    }

    #[test]
    fn one_cycle_without_total_steps_takes_the_run_budget() {
        let mut onecycle = Schedule::one_cycle(0.1, 1);
        if let Schedule::OneCycle { total_steps, .. } = &mut onecycle {
            *total_steps = None;
        }
        let mut s = Schedule::Sequential {
            schedulers: vec![Schedule::constant(), onecycle],
            milestones: vec![5],
        };
        s.resolve_total_steps(200);
        let Schedule::Sequential { schedulers, .. } = &s else {
            unreachable!("sequential")
        };
        assert_eq!(schedulers[1], Schedule::one_cycle(0.1, 200));
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
        assert_eq!(
            keys(Schedule::Sequential {
                schedulers: vec![Schedule::plateau(), Schedule::Exponential { gamma: 0.0 }],
                milestones: vec![],
            }),
            ["milestones", "schedulers[0].kind", "schedulers[1].gamma"]
        );
        // composites nest as torch's do, except where torch's SequentialLR would restart one
        assert!(
            keys(Schedule::Chained {
                schedulers: vec![Schedule::warmup(3, Schedule::constant())]
            })
            .is_empty()
        );
        let chained = Schedule::Chained {
            schedulers: vec![Schedule::step(3)],
        };
        assert!(
            keys(Schedule::Sequential {
                schedulers: vec![chained.clone(), Schedule::step(3)],
                milestones: vec![5],
            })
            .is_empty()
        );
        assert_eq!(
            keys(Schedule::Sequential {
                schedulers: vec![Schedule::step(3), chained.clone()],
                milestones: vec![5],
            }),
            ["schedulers[1].kind"]
        );
        assert_eq!(keys(Schedule::warmup(3, chained)), ["then.kind"]);
    }

    #[test]
    fn a_composite_restarted_at_a_milestone_is_refused_when_built() {
        let s = Schedule::Sequential {
            schedulers: vec![
                Schedule::step(3),
                Schedule::Chained {
                    schedulers: vec![Schedule::step(2)],
                },
            ],
            milestones: vec![5],
        };
        let e = Scheduler::new(s, 0.1, None, "sgd").expect_err("torch raises at the milestone");
        assert!(
            matches!(
                e,
                ScheduleError::Restarted {
                    within: "sequential"
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("NotImplementedError"), "{e}");
    }

    #[test]
    fn onecycle_past_total_steps_is_found_where_it_is_written() {
        let one = Schedule::one_cycle(0.1, 100);
        assert_eq!(one.past_total_steps(100), None);
        assert_eq!(
            one.past_total_steps(101),
            Some(("total_steps".into(), 100, 101))
        );
        // the second part of a sequential restarts at its milestone: 150 of 200 steps are its
        let seq = Schedule::Sequential {
            schedulers: vec![Schedule::step(10), one.clone()],
            milestones: vec![50],
        };
        assert_eq!(seq.past_total_steps(150), None);
        assert_eq!(
            seq.past_total_steps(200),
            Some(("schedulers[1].total_steps".into(), 100, 150))
        );
        // a first part runs until the step before the milestone
        let seq = Schedule::Sequential {
            schedulers: vec![one.clone(), Schedule::step(10)],
            milestones: vec![101],
        };
        assert_eq!(seq.past_total_steps(1000), None);
        let seq = Schedule::Sequential {
            schedulers: vec![one, Schedule::step(10)],
            milestones: vec![102],
        };
        assert!(seq.past_total_steps(1000).is_some());
    }

    #[test]
    fn the_scheduler_says_when_onecycle_would_raise() {
        // torch: scheduler.step() raises once last_epoch would exceed total_steps
        let mut sch = Scheduler::new(
            Schedule::one_cycle(0.1, 5),
            0.1,
            Some(MomentumTarget::Momentum),
            "sgd",
        )
        .expect("builds");
        for _ in 0..5 {
            assert_eq!(sch.would_raise(), None);
            sch.step(0.0);
        }
        assert_eq!(sch.would_raise(), Some(5));
    }

    #[test]
    fn constant_defaults_are_torch_s() {
        let scenario = crate::scenario::load_str(
            "objective: {expr: \"x^2\", start: [1]}\noptimizers:\n  - name: sgd\n    \
             schedule: {kind: constant}\n",
            "constant.yaml",
        )
        .expect("loads");
        assert_eq!(
            scenario.optimizers[0].schedule.clone().expect("a schedule"),
            Schedule::Constant {
                factor: 1.0 / 3.0,
                total_iters: Some(5)
            }
        );
    }

    #[test]
    fn the_list_names_every_kind_in_order() {
        let variants = crate::scenario::de::variants_of::<Schedule>();
        let listed: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        assert_eq!(listed, variants);
        assert!(describe_all().lines().count() == KINDS.len());
    }

    #[test]
    fn momentum_cycling_needs_momentum_or_betas() {
        let err = Scheduler::new(Schedule::one_cycle(0.1, 10), 0.1, None, "adagrad")
            .expect_err("adagrad has no momentum");
        assert!(err.to_string().contains("cycle_momentum: false"), "{err}");
        let nested = Scheduler::new(
            Schedule::Chained {
                schedulers: vec![Schedule::plateau()],
            },
            0.1,
            None,
            "sgd",
        );
        assert!(matches!(nested, Err(ScheduleError::Nested { .. })));
    }

    #[test]
    fn scheduler_drives_an_optimizer_lr_and_momentum() {
        let mut opt = super::super::registry::build("sgd", &[], 0, 2).expect("builds");
        let mut sch = Scheduler::for_optimizer(Schedule::Exponential { gamma: 0.5 }, 0.4, &*opt)
            .expect("builds");
        sch.apply(opt.as_mut());
        assert_eq!(opt.lr(), 0.4);
        sch.step(0.0);
        sch.apply(opt.as_mut());
        assert!(close(opt.lr(), 0.2));
        assert_eq!(sch.steps(), 1);
        // torch's OneCycleLR gives a momentum-free SGD max_momentum at once
        let sch = Scheduler::for_optimizer(Schedule::one_cycle(0.1, 10), 0.4, &*opt)
            .expect("sgd has momentum");
        sch.apply(opt.as_mut());
        let momentum = opt
            .hyperparameters()
            .into_iter()
            .find(|(n, _)| n == "momentum");
        assert_eq!(momentum, Some(("momentum".into(), HyperValue::Float(0.95))));
        let mut adam = super::super::registry::build("adam", &[], 0, 2).expect("builds");
        let sch = Scheduler::for_optimizer(Schedule::one_cycle(0.1, 10), 0.4, &*adam)
            .expect("adam has betas");
        sch.apply(adam.as_mut());
        let betas = adam
            .hyperparameters()
            .into_iter()
            .find(|(n, _)| n == "betas");
        assert_eq!(betas, Some(("betas".into(), HyperValue::Pair(0.95, 0.999))));
    }

    #[test]
    fn rebasing_keeps_the_position_and_a_plateau_reduction() {
        let mut sch =
            Scheduler::new(Schedule::Exponential { gamma: 0.5 }, 1.0, None, "sgd").expect("builds");
        sch.step(0.0);
        sch.set_base_lr(2.0);
        assert!(close(sch.lr(), 1.0));
        let mut sch = Scheduler::new(
            Schedule::ReduceOnPlateau(Plateau {
                patience: 0,
                ..Plateau::default()
            }),
            1.0,
            None,
            "sgd",
        )
        .expect("builds");
        sch.step(1.0);
        sch.step(1.0);
        assert!(close(sch.lr(), 0.1));
        sch.set_base_lr(2.0);
        assert!(close(sch.lr(), 0.2));
    }
}
