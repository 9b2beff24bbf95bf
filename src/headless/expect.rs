//! Expectations: the assertions a scenario makes about its runs, checked after a headless run.

use serde::{Deserialize, Serialize};

use crate::session::Run;
use crate::valid::{INF, Problems, Range, Validate, ge, gt, lt};

/// One assertion about a run, as a scenario's `expect` writes it: one key and its value
/// (`final_loss_below: 0.01`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename = "expectation", rename_all = "snake_case")]
pub enum Check {
    FinalLossBelow(f64),
    BestLossBelow(f64),
    /// Classification accuracy (of the test split if there is one), in `[0, 1)`.
    AccuracyAbove(f64),
    Status(StatusName),
    /// Euclidean distance from the final point to the objective's known minimum.
    DistanceToMinimumBelow(f64),
    ConvergedWithinSteps(u64),
    /// The loss at the run's parameter average (its `average`, EMA or SWA).
    AverageLossBelow(f64),
}

/// A run status as an expectation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename = "status", rename_all = "snake_case")]
pub enum StatusName {
    /// A convergence criterion was met.
    Converged,
    /// A budget ran out (steps, evaluations, patience).
    Stopped,
    /// Loss became non-finite or exceeded `diverge_above`.
    Diverged,
    /// Still going.
    Running,
}

impl StatusName {
    /// The name [`crate::session::Status::name`] gives the same status.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StatusName::Converged => "converged",
            StatusName::Stopped => "stopped",
            StatusName::Diverged => "diverged",
            StatusName::Running => "running",
        }
    }
}

impl Validate for Check {
    fn validate(&self, p: &mut Problems) {
        let key = self.name();
        match *self {
            Check::AccuracyAbove(a) => p.range(key, a, Range::new(ge(0.0), lt(1.0))),
            Check::DistanceToMinimumBelow(d) => p.range(key, d, Range::new(gt(0.0), INF)),
            Check::ConvergedWithinSteps(n) => p.at_least_one(key, n),
            Check::FinalLossBelow(x) | Check::BestLossBelow(x) | Check::AverageLossBelow(x) => {
                p.range(key, x, Range::FINITE);
            }
            Check::Status(_) => {}
        }
    }
}

/// An assertion bound to a run label.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub label: String,
    pub check: Check,
}

/// The verdict on one expectation, as reported in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub label: String,
    pub check: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

impl Check {
    /// Where the check stands among a run's checks in reports: the order of the variants.
    #[must_use]
    pub fn order(&self) -> usize {
        match self {
            Check::FinalLossBelow(_) => 0,
            Check::BestLossBelow(_) => 1,
            Check::AccuracyAbove(_) => 2,
            Check::Status(_) => 3,
            Check::DistanceToMinimumBelow(_) => 4,
            Check::ConvergedWithinSteps(_) => 5,
            Check::AverageLossBelow(_) => 6,
        }
    }

    /// The key used in scenario files.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Check::FinalLossBelow(_) => "final_loss_below",
            Check::BestLossBelow(_) => "best_loss_below",
            Check::AccuracyAbove(_) => "accuracy_above",
            Check::Status(_) => "status",
            Check::DistanceToMinimumBelow(_) => "distance_to_minimum_below",
            Check::ConvergedWithinSteps(_) => "converged_within_steps",
            Check::AverageLossBelow(_) => "average_loss_below",
        }
    }
}

fn fmt(x: f64) -> String {
    format!("{x:.6e}")
}

/// Checks one expectation against a finished run (`None` when no run has that label).
#[must_use]
pub fn evaluate(expectation: &Expectation, run: Option<&Run>) -> Outcome {
    let check = &expectation.check;
    let outcome = |expected: String, actual: String, passed: bool| Outcome {
        label: expectation.label.clone(),
        check: check.name().to_string(),
        expected,
        actual,
        passed,
    };
    let Some(run) = run else {
        return outcome(String::new(), "no run with this label".into(), false);
    };
    match check {
        Check::FinalLossBelow(bound) => {
            let loss = run.metrics().train_loss;
            outcome(format!("< {}", fmt(*bound)), fmt(loss), loss < *bound)
        }
        Check::AverageLossBelow(bound) => match run.average_loss() {
            Some(loss) => outcome(format!("< {}", fmt(*bound)), fmt(loss), loss < *bound),
            None => outcome(
                format!("< {}", fmt(*bound)),
                "no average (the run has no `average`, or has not begun it)".into(),
                false,
            ),
        },
        Check::BestLossBelow(bound) => {
            let best = run
                .history()
                .best_loss()
                .unwrap_or(f64::NAN)
                .min(run.best_loss());
            outcome(format!("< {}", fmt(*bound)), fmt(best), best < *bound)
        }
        Check::AccuracyAbove(bound) => match run.metrics().accuracy {
            Some(acc) => outcome(format!("> {bound}"), format!("{acc:.4}"), acc > *bound),
            None => outcome(
                format!("> {bound}"),
                "no accuracy (not a classifier)".into(),
                false,
            ),
        },
        Check::Status(name) => {
            let actual = run.status().name();
            outcome(
                name.name().to_string(),
                actual.to_string(),
                actual == name.name(),
            )
        }
        Check::DistanceToMinimumBelow(bound) => match run.objective().minimum() {
            Some(min) => {
                let d = run
                    .params()
                    .iter()
                    .zip(&min)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt();
                outcome(format!("< {}", fmt(*bound)), fmt(d), d < *bound)
            }
            None => outcome(
                format!("< {}", fmt(*bound)),
                "no known minimum".into(),
                false,
            ),
        },
        Check::ConvergedWithinSteps(max) => {
            let converged = run.status().name() == "converged";
            let actual = if converged {
                format!("converged at step {}", run.steps())
            } else {
                format!(
                    "{} after {} {}",
                    run.status().name(),
                    run.steps(),
                    crate::text::plural(run.steps(), "step", "steps")
                )
            };
            outcome(
                format!("converged by step {max}"),
                actual,
                converged && run.steps() <= *max,
            )
        }
    }
}
