//! When a run ends: stop conditions and the run status they produce. Divergence is a status, not
//! an error: a run whose loss turns NaN, infinite or larger than a bound ends as `Diverged` and
//! the other runs of the session go on.

use std::fmt;

use serde::Deserialize;

use crate::valid::{INF, Problems, Range, Validate, ge, gt};

/// Why and whether a run is over.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Running,
    /// Reached a convergence criterion (loss target or gradient tolerance).
    Converged(String),
    /// Stopped by a budget (steps, evaluations) or by lack of progress.
    Stopped(String),
    /// The loss or parameters became NaN/±Inf or exceeded the divergence bound.
    Diverged(String),
}

impl Status {
    /// The one-word name used in reports and expectations.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Converged(_) => "converged",
            Status::Stopped(_) => "stopped",
            Status::Diverged(_) => "diverged",
        }
    }

    #[must_use]
    pub fn reason(&self) -> &str {
        match self {
            Status::Running => "",
            Status::Converged(r) | Status::Stopped(r) | Status::Diverged(r) => r,
        }
    }

    #[must_use]
    pub fn is_running(&self) -> bool {
        matches!(self, Status::Running)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stop conditions of a scenario (its `stop` mapping); `None` disables a condition.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StopConfig {
    /// Exactly this many optimizer steps unless another condition ends the run first.
    pub max_steps: u64,
    pub max_evaluations: Option<u64>,
    pub loss_below: Option<f64>,
    pub grad_norm_below: Option<f64>,
    /// End the run after this many steps without a new best loss.
    pub patience: Option<u64>,
    /// How much lower than the best a loss must be to count as an improvement for `patience`.
    pub min_delta: f64,
    /// A loss above this is divergence.
    pub diverge_above: f64,
}

impl Default for StopConfig {
    fn default() -> Self {
        Self {
            max_steps: 1000,
            max_evaluations: None,
            loss_below: None,
            grad_norm_below: None,
            patience: None,
            min_delta: 0.0,
            diverge_above: 1e12,
        }
    }
}

impl Validate for StopConfig {
    fn validate(&self, p: &mut Problems) {
        p.at_least_one("max_steps", self.max_steps);
        if let Some(e) = self.max_evaluations {
            p.at_least_one("max_evaluations", e);
        }
        if let Some(n) = self.patience {
            p.at_least_one("patience", n);
        }
        if let Some(x) = self.loss_below {
            p.range("loss_below", x, Range::FINITE);
        }
        if let Some(x) = self.grad_norm_below {
            p.range("grad_norm_below", x, Range::new(gt(0.0), INF));
        }
        p.range("min_delta", self.min_delta, Range::new(ge(0.0), INF));
        p.range(
            "diverge_above",
            self.diverge_above,
            Range::new(gt(0.0), INF),
        );
    }
}

/// What a run knows after a step, for [`StopConfig::check`].
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub steps: u64,
    pub evaluations: u64,
    pub loss: f64,
    pub grad_norm: Option<f64>,
    pub params_finite: bool,
    pub steps_since_best: u64,
}

impl StopConfig {
    /// The status after a step: divergence first, then convergence, then budgets.
    #[must_use]
    pub fn check(&self, p: &Progress) -> Status {
        if p.loss.is_nan() {
            return Status::Diverged(format!("loss is NaN at step {}", p.steps));
        }
        if p.loss.is_infinite() {
            return Status::Diverged(format!("loss is {} at step {}", p.loss, p.steps));
        }
        if !p.params_finite {
            return Status::Diverged(format!("parameters not finite at step {}", p.steps));
        }
        if p.loss > self.diverge_above {
            return Status::Diverged(format!(
                "loss {:.3e} above {:.3e} at step {}",
                p.loss, self.diverge_above, p.steps
            ));
        }
        if let Some(target) = self.loss_below
            && p.loss < target
        {
            return Status::Converged(format!("loss below {target:e}"));
        }
        if let (Some(tol), Some(g)) = (self.grad_norm_below, p.grad_norm)
            && g < tol
        {
            return Status::Converged(format!("gradient norm below {tol:e}"));
        }
        if p.steps >= self.max_steps {
            return Status::Stopped(format!("reached max_steps {}", self.max_steps));
        }
        if let Some(max) = self.max_evaluations
            && p.evaluations >= max
        {
            return Status::Stopped(format!("reached max_evaluations {max}"));
        }
        if let Some(k) = self.patience
            && p.steps_since_best >= k
        {
            return Status::Stopped(format!("no improvement for {k} steps"));
        }
        Status::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(loss: f64) -> Progress {
        Progress {
            steps: 5,
            evaluations: 5,
            loss,
            grad_norm: Some(1.0),
            params_finite: true,
            steps_since_best: 0,
        }
    }

    #[test]
    fn divergence_is_detected_before_anything_else() {
        let stop = StopConfig {
            loss_below: Some(1.0),
            ..StopConfig::default()
        };
        assert_eq!(stop.check(&progress(f64::NAN)).name(), "diverged");
        assert_eq!(stop.check(&progress(f64::INFINITY)).name(), "diverged");
        assert_eq!(stop.check(&progress(f64::NEG_INFINITY)).name(), "diverged");
        assert_eq!(stop.check(&progress(1e13)).name(), "diverged");
        let p = Progress {
            params_finite: false,
            ..progress(0.5)
        };
        assert_eq!(stop.check(&p).name(), "diverged");
    }

    #[test]
    fn each_condition_ends_the_run() {
        let stop = StopConfig {
            max_steps: 5,
            max_evaluations: Some(3),
            loss_below: Some(0.1),
            grad_norm_below: Some(1e-3),
            patience: Some(2),
            min_delta: 0.0,
            diverge_above: 1e6,
        };
        assert_eq!(stop.check(&progress(0.01)).name(), "converged");
        let p = Progress {
            grad_norm: Some(1e-4),
            ..progress(1.0)
        };
        assert_eq!(stop.check(&p).name(), "converged");
        assert_eq!(stop.check(&progress(1.0)).reason(), "reached max_steps 5");
        let p = Progress {
            steps: 1,
            ..progress(1.0)
        };
        assert_eq!(stop.check(&p).reason(), "reached max_evaluations 3");
        let p = Progress {
            steps: 1,
            evaluations: 0,
            steps_since_best: 2,
            ..progress(1.0)
        };
        assert_eq!(stop.check(&p).reason(), "no improvement for 2 steps");
        let p = Progress {
            steps: 1,
            evaluations: 0,
            ..progress(1.0)
        };
        assert!(stop.check(&p).is_running());
    }
}
