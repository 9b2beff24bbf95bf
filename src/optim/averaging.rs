//! Parameter averaging as torch.optim.swa_utils does it: an exponential moving average of the
//! parameters (`AveragedModel` with `get_ema_multi_avg_fn(decay)`) or stochastic weight
//! averaging (`AveragedModel`'s running mean from a start step, with `SWALR` annealing the lr
//! to `swa_lr`). The run keeps the average beside its parameters, draws it as a second point
//! and reports its loss.

use serde::Deserialize;

use super::lerp;
use super::schedule::Anneal;
use crate::valid::{INF, Problems, Range, Validate, ge, gt, le};

/// A run's `average`: `{kind: ema, decay: 0.999}` or `{kind: swa, swa_start: 100, swa_lr:
/// 0.01}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename = "average", deny_unknown_fields)]
pub enum Averaging {
    /// `AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))` updated after every
    /// step: the first update copies the parameters, then `avg ← lerp(avg, θ, 1 − decay)`.
    #[serde(rename = "ema")]
    Ema {
        #[serde(default = "ema_decay")]
        decay: f64,
    },
    /// `AveragedModel(model)` (SWA) updated after every step past the first `swa_start`: the
    /// first update copies the parameters, the `n`-th after it is `avg ← lerp(avg, θ, 1/(n+1))`,
    /// the running mean. With `swa_lr`, `SWALR(optimizer, swa_lr, anneal_epochs,
    /// anneal_strategy)` steps instead of the run's schedule once averaging has begun, moving
    /// the lr to `swa_lr` over `anneal_epochs` steps (`cos` or `linear`). SWALR is built with
    /// the run, as torch's examples build it before the loop: with `anneal_epochs: 0` its
    /// constructor's step already sets the lr to `swa_lr`, and any schedule goes on from there
    /// until `swa_start` (torch's `step = max(1, step)`).
    #[serde(rename = "swa")]
    Swa {
        #[serde(default)]
        swa_start: u64,
        #[serde(default)]
        swa_lr: Option<f64>,
        #[serde(default = "anneal_epochs")]
        anneal_epochs: u64,
        #[serde(default)]
        anneal_strategy: Anneal,
    },
}

/// Every averaging kind with a one-line description (`gradscope list`, the TUI's editor).
pub const KINDS: &[(&str, &str)] = &[
    (
        "ema",
        "AveragedModel with get_ema_multi_avg_fn(decay): an EMA of the parameters",
    ),
    (
        "swa",
        "AveragedModel (running mean) from swa_start, with SWALR to swa_lr if given",
    ),
];

fn ema_decay() -> f64 {
    0.999
}
fn anneal_epochs() -> u64 {
    10
}

impl Validate for Averaging {
    fn validate(&self, p: &mut Problems) {
        match self {
            Self::Ema { decay } => p.range("decay", *decay, Range::new(ge(0.0), le(1.0))),
            // anneal_epochs is unsigned, and torch accepts 0 (`must be equal or greater than 0`)
            Self::Swa { swa_lr, .. } => {
                if let Some(lr) = swa_lr {
                    p.range("swa_lr", *lr, Range::new(gt(0.0), INF));
                }
            }
        }
    }
}

impl Averaging {
    /// Whether SWALR drives the run's learning rate (SWA with `swa_lr`).
    #[must_use]
    pub fn drives_lr(&self) -> bool {
        matches!(
            self,
            Self::Swa {
                swa_lr: Some(_),
                ..
            }
        )
    }

    /// The name of the averaged point in legends and reports.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ema { .. } => "ema",
            Self::Swa { .. } => "swa",
        }
    }
}

/// The running average of one run, and SWALR's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Averager {
    config: Averaging,
    params: Vec<f64>,
    /// torch's `n_averaged`.
    n_averaged: u64,
    /// SWALR's `_step_count` (1 after its constructor's initial step, which leaves the lr as
    /// it is for `anneal_epochs ≥ 1`, see [`Averager::initial_lr`]).
    swalr_steps: u64,
}

impl Averager {
    #[must_use]
    pub fn new(config: Averaging) -> Self {
        Self {
            config,
            params: Vec::new(),
            n_averaged: 0,
            swalr_steps: 1,
        }
    }

    #[must_use]
    pub fn config(&self) -> &Averaging {
        &self.config
    }

    /// The averaged parameters, `None` before the first update.
    #[must_use]
    pub fn params(&self) -> Option<&[f64]> {
        (self.n_averaged > 0).then_some(self.params.as_slice())
    }

    /// Whether the step that made `steps` steps in all is averaged (and, with `swa_lr`, its lr
    /// comes from SWALR rather than the schedule).
    #[must_use]
    pub fn averages(&self, steps: u64) -> bool {
        match self.config {
            Averaging::Ema { .. } => true,
            Averaging::Swa { swa_start, .. } => steps > swa_start,
        }
    }

    /// torch's `update_parameters` with the parameters after step number `steps` (1-based);
    /// a step before `swa_start` is skipped.
    pub fn update(&mut self, params: &[f64], steps: u64) {
        if !self.averages(steps) {
            return;
        }
        if self.n_averaged == 0 {
            self.params.clear();
            self.params.extend_from_slice(params);
        } else {
            let weight = match self.config {
                Averaging::Ema { decay } => 1.0 - decay,
                Averaging::Swa { .. } => 1.0 / (self.n_averaged + 1) as f64,
            };
            for (a, &p) in self.params.iter_mut().zip(params) {
                *a = lerp(*a, p, weight);
            }
        }
        self.n_averaged += 1;
    }

    /// The lr SWALR's constructor sets, if it sets one: `swa_lr` when `anneal_epochs` is 0
    /// (its initial step anneals all the way at once); otherwise it leaves the lr as it is.
    #[must_use]
    pub fn initial_lr(&self) -> Option<f64> {
        match self.config {
            Averaging::Swa {
                swa_lr: Some(lr),
                anneal_epochs: 0,
                ..
            } => Some(lr),
            _ => None,
        }
    }

    /// Whether SWALR sets the lr of the step after `steps` steps (it has stepped since
    /// averaging began).
    #[must_use]
    pub fn swa_lr_active(&self, steps: u64) -> bool {
        matches!(
            self.config,
            Averaging::Swa {
                swa_lr: Some(_),
                ..
            }
        ) && self.averages(steps)
    }

    /// SWALR's `step()` from the current lr `lr`: the lr for the next step, or `None` when the
    /// run's own schedule is in charge (EMA, SWA without `swa_lr`, or before `swa_start`).
    pub fn swa_lr_step(&mut self, lr: f64, steps: u64) -> Option<f64> {
        let Averaging::Swa {
            swa_lr: Some(swa_lr),
            anneal_epochs,
            anneal_strategy,
            ..
        } = self.config
        else {
            return None;
        };
        if !self.averages(steps) {
            return None;
        }
        self.swalr_steps += 1;
        let anneal = |t: f64| match anneal_strategy {
            Anneal::Cos => (1.0 - (std::f64::consts::PI * t).cos()) / 2.0,
            Anneal::Linear => t,
        };
        let mut step = (self.swalr_steps - 1) as f64;
        if anneal_epochs == 0 {
            step = step.max(1.0);
        }
        let epochs = anneal_epochs.max(1) as f64;
        let prev_alpha = anneal(((step - 1.0) / epochs).clamp(0.0, 1.0));
        let prev_lr = if prev_alpha == 1.0 {
            swa_lr
        } else {
            (lr - prev_alpha * swa_lr) / (1.0 - prev_alpha)
        };
        let alpha = anneal((step / epochs).clamp(0.0, 1.0));
        Some(swa_lr * alpha + prev_lr * (1.0 - alpha))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_copies_first_then_moves_by_one_minus_decay() {
        let mut a = Averager::new(Averaging::Ema { decay: 0.75 });
        assert_eq!(a.params(), None);
        a.update(&[4.0], 1);
        assert_eq!(a.params(), Some(&[4.0][..]));
        a.update(&[8.0], 2);
        assert_eq!(a.params(), Some(&[5.0][..]));
    }

    #[test]
    fn swa_is_the_running_mean_from_its_start() {
        let mut a = Averager::new(Averaging::Swa {
            swa_start: 2,
            swa_lr: None,
            anneal_epochs: 10,
            anneal_strategy: Anneal::Cos,
        });
        for (k, x) in [100.0, 100.0, 1.0, 2.0, 6.0].iter().enumerate() {
            a.update(&[*x], k as u64 + 1);
        }
        assert_eq!(a.params(), Some(&[3.0][..]));
        assert_eq!(a.swa_lr_step(0.1, 5), None);
    }

    #[test]
    fn swalr_reaches_swa_lr_after_anneal_epochs_and_stays() {
        let mut a = Averager::new(Averaging::Swa {
            swa_start: 0,
            swa_lr: Some(0.01),
            anneal_epochs: 4,
            anneal_strategy: Anneal::Linear,
        });
        let mut lr = 0.1;
        let mut seen = Vec::new();
        for k in 1..=6 {
            lr = a.swa_lr_step(lr, k).expect("swa phase");
            seen.push(lr);
        }
        // linear: a quarter of the way per step from 0.1 to 0.01
        let want = [0.0775, 0.055, 0.0325, 0.01, 0.01, 0.01];
        for (g, w) in seen.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{seen:?}");
        }
    }
}
