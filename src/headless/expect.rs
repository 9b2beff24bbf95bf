//! Expectations: the assertions a scenario makes about its runs, checked after a headless run.

use serde::Serialize;

use crate::session::Run;

/// One assertion about a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    FinalLossBelow(f64),
    BestLossBelow(f64),
    AccuracyAbove(f64),
    /// The run's status name: `converged`, `stopped`, `diverged` or `running`.
    Status(String),
    DistanceToMinimumBelow(f64),
    ConvergedWithinSteps(u64),
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
            outcome(name.clone(), actual.to_string(), actual == name)
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
                format!("{} after {} steps", run.status().name(), run.steps())
            };
            outcome(
                format!("converged by step {max}"),
                actual,
                converged && run.steps() <= *max,
            )
        }
    }
}

/// The expectations a loaded scenario states, in file order (one per check).
#[must_use]
pub fn from_scenario(s: &crate::scenario::Scenario) -> Vec<Expectation> {
    let mut out = Vec::new();
    for (label, e) in &s.expect {
        let mut push = |check| {
            out.push(Expectation {
                label: label.clone(),
                check,
            })
        };
        if let Some(v) = e.final_loss_below {
            push(Check::FinalLossBelow(v));
        }
        if let Some(v) = e.best_loss_below {
            push(Check::BestLossBelow(v));
        }
        if let Some(v) = e.accuracy_above {
            push(Check::AccuracyAbove(v));
        }
        if let Some(v) = e.status {
            let name = match v {
                crate::scenario::RunStatus::Converged => "converged",
                crate::scenario::RunStatus::Stopped => "stopped",
                crate::scenario::RunStatus::Diverged => "diverged",
                crate::scenario::RunStatus::Running => "running",
            };
            push(Check::Status(name.to_string()));
        }
        if let Some(v) = e.distance_to_minimum_below {
            push(Check::DistanceToMinimumBelow(v));
        }
        if let Some(v) = e.converged_within_steps {
            push(Check::ConvergedWithinSteps(v));
        }
    }
    out
}
