//! The headless report of one scenario: per run the label, optimizer, status, steps, evaluations,
//! losses, accuracy, wall time and the largest forward-vs-reverse gradient difference; rendered
//! as a table, CSV or stable JSON (documented in `docs/scenarios.md`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::expect::{Expectation, Outcome, evaluate};
use crate::backprop::flow::{LayerFlow, layer_flow};
use crate::backprop::network::Network;
use crate::model::Model;
use crate::objective::NoiseStats;
use crate::optim::HyperValue;
use crate::session::{Run, Session};
use crate::text::printable;

/// Evaluation counts as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluations {
    pub value: u64,
    pub gradient: u64,
    pub hessian: u64,
}

/// Wall-clock figures, left out with `--no-timing` so reports are byte-identical across runs.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub wall_seconds: f64,
    pub nanos_per_gradient: f64,
}

/// The gradient-noise figures of a run of a model objective, at its start and at its end.
#[derive(Debug, Clone, Serialize)]
pub struct GradientNoise {
    pub initial: Option<NoiseStats>,
    #[serde(rename = "final")]
    pub last: Option<NoiseStats>,
}

/// One run in the report.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub label: String,
    pub optimizer: String,
    pub hyperparameters: BTreeMap<String, serde_json::Value>,
    pub status: String,
    pub status_reason: String,
    pub steps: u64,
    pub epochs: u64,
    /// Examples per batch; `null` for expression objectives.
    pub batch_size: Option<usize>,
    /// Per-example gradients spent (a gradient on a batch of 32 counts 32).
    pub examples_seen: u64,
    pub evaluations: Evaluations,
    /// Passes over the function (forward: ceil(n/k) per gradient, reverse: 1, finite: 2n;
    /// a Hessian n(n+1)/2): what the engine really spent.
    pub gradient_passes: u64,
    /// Full-data training loss at the final parameters.
    pub final_loss: f64,
    pub best_loss: f64,
    pub final_params: Vec<f64>,
    pub accuracy: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// Largest |forward - reverse| gradient component seen at the sampled steps (1, 2, 4, ...).
    pub max_forward_reverse_diff: f64,
    /// An MLP's per-layer gradient flow at the final parameters (over the training set), the
    /// update ratio for the last step; absent for other objectives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerFlow>>,
    /// The run's parameter average (`average: ema` or `swa`), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<AverageReport>,
    /// The optimizer's traced scalars over time (Prodigy's distance estimate `d` and step
    /// size `dlr`); absent for optimizers without any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub traced: BTreeMap<String, TracedReport>,
    /// `null` for expression objectives.
    pub gradient_noise: Option<GradientNoise>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// A run's parameter average and the loss there.
#[derive(Debug, Clone, Serialize)]
pub struct AverageReport {
    /// `ema` or `swa`.
    pub kind: String,
    pub loss: f64,
    pub params: Vec<f64>,
}

/// One traced scalar of a run: its final value and a sample of its history.
#[derive(Debug, Clone, Serialize)]
pub struct TracedReport {
    #[serde(rename = "final")]
    pub last: f64,
    /// `[step, value]` pairs, at most [`TRACED_SAMPLES`] of the history's points evenly spread
    /// by index, the first and last included.
    pub series: Vec<(u64, f64)>,
}

/// How many points of a traced series the report keeps.
pub const TRACED_SAMPLES: usize = 50;

impl TracedReport {
    fn new(series: &[(u64, f64)]) -> Option<Self> {
        let &(_, last) = series.last()?;
        let n = series.len();
        let keep = n.min(TRACED_SAMPLES);
        let sample = (0..keep)
            .map(|k| {
                series[if keep == 1 {
                    n - 1
                } else {
                    k * (n - 1) / (keep - 1)
                }]
            })
            .collect();
        Some(Self {
            last,
            series: sample,
        })
    }
}

/// One scenario in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub scenario: String,
    pub engine: String,
    pub seed: u64,
    pub runs: Vec<RunReport>,
    pub expectations: Vec<Outcome>,
}

/// A hyperparameter as JSON: numbers, booleans, pairs and triples as arrays (torch's `None` as
/// `null`), choices as strings.
#[must_use]
pub fn hyper_json(value: &HyperValue) -> serde_json::Value {
    match *value {
        HyperValue::Float(x) => serde_json::json!(x),
        HyperValue::Bool(b) => serde_json::json!(b),
        HyperValue::Int(n) => serde_json::json!(n),
        HyperValue::Pair(a, b) => serde_json::json!([a, b]),
        HyperValue::Triple(a, b, c) => serde_json::json!([a, b, c]),
        HyperValue::OptionalPair(a, b) => serde_json::json!([a, b]),
        HyperValue::Choice(name) => serde_json::json!(name),
    }
}

/// The per-layer gradient flow of a run on an MLP, at its final parameters.
fn mlp_flow(run: &Run) -> Option<Vec<LayerFlow>> {
    let parts = run.objective().layered()?;
    if !matches!(parts.model, Model::Mlp(_)) {
        return None;
    }
    let net = Network::new(parts);
    Some(layer_flow(&net, run.params(), run.previous_params()))
}

impl ScenarioReport {
    /// Reads a finished session and checks its expectations.
    #[must_use]
    pub fn new(session: &Session, expectations: &[Expectation], timing: bool) -> Self {
        let runs = session
            .runs()
            .iter()
            .map(|run| {
                let metrics = run.metrics();
                let counts = run.counts();
                RunReport {
                    label: run.label().to_string(),
                    optimizer: run.spec.optimizer.clone(),
                    hyperparameters: run
                        .optimizer()
                        .hyperparameters()
                        .iter()
                        .map(|(k, v)| (k.clone(), hyper_json(v)))
                        .collect(),
                    status: run.status().name().to_string(),
                    status_reason: run.status().reason().to_string(),
                    steps: run.steps(),
                    epochs: run.epoch(),
                    batch_size: run.batch_size(),
                    examples_seen: counts.examples,
                    evaluations: Evaluations {
                        value: counts.value,
                        gradient: counts.gradient,
                        hessian: counts.hessian,
                    },
                    gradient_passes: counts.passes,
                    final_loss: metrics.train_loss,
                    best_loss: run.best_loss(),
                    final_params: run.params().to_vec(),
                    accuracy: metrics.accuracy,
                    test_loss: metrics.test_loss,
                    test_accuracy: metrics.test_accuracy,
                    max_forward_reverse_diff: run.max_engine_diff(),
                    layers: mlp_flow(run),
                    average: run.average_loss().and_then(|loss| {
                        let point = run.extra_points().pop()?;
                        Some(AverageReport {
                            kind: point.name.to_string(),
                            loss,
                            params: point.params.to_vec(),
                        })
                    }),
                    traced: run
                        .traced()
                        .into_iter()
                        .filter_map(|(name, series)| {
                            TracedReport::new(&series).map(|t| (name.to_string(), t))
                        })
                        .collect(),
                    gradient_noise: run.objective().n_train().map(|_| GradientNoise {
                        initial: run.initial_noise(),
                        last: run.gradient_noise(),
                    }),
                    timing: timing.then(|| Timing {
                        wall_seconds: run.wall_seconds(),
                        nanos_per_gradient: counts.nanos_per_gradient(),
                    }),
                }
            })
            .collect();
        let expectations = expectations
            .iter()
            .map(|e| evaluate(e, session.runs().iter().find(|r| r.label() == e.label)))
            .collect();
        Self {
            scenario: session.name.clone(),
            engine: session.engine().name().to_string(),
            seed: session.seed(),
            runs,
            expectations,
        }
    }

    /// True when every expectation holds.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.expectations.iter().all(|e| e.passed)
    }

    /// The failing expectations, one line each, "label: check expected X, got Y".
    #[must_use]
    pub fn failures(&self) -> Vec<String> {
        self.expectations
            .iter()
            .filter(|e| !e.passed)
            .map(|e| {
                format!(
                    "{}: {}: {} expected {}, got {}",
                    self.scenario, e.label, e.check, e.expected, e.actual
                )
            })
            .collect()
    }

    /// A fixed-width table for people; text from the scenario is shown [`printable`].
    #[must_use]
    pub fn render_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "scenario: {}   engine: {}   seed: {}",
            printable(&self.scenario),
            self.engine,
            self.seed
        );
        let header = [
            "label",
            "optimizer",
            "status",
            "steps",
            "batch",
            "epoch",
            "evals v/g/h",
            "passes",
            "final loss",
            "best loss",
            "test loss",
            "accuracy",
            "wall",
            "|fwd-rev|",
        ];
        let rows: Vec<[String; 14]> = self
            .runs
            .iter()
            .map(|r| {
                [
                    printable(&r.label).into_owned(),
                    printable(&r.optimizer).into_owned(),
                    r.status.clone(),
                    r.steps.to_string(),
                    r.batch_size.map_or_else(|| "-".into(), |b| b.to_string()),
                    if r.batch_size.is_some() {
                        r.epochs.to_string()
                    } else {
                        "-".into()
                    },
                    format!(
                        "{}/{}/{}",
                        r.evaluations.value, r.evaluations.gradient, r.evaluations.hessian
                    ),
                    r.gradient_passes.to_string(),
                    format!("{:.6e}", r.final_loss),
                    format!("{:.6e}", r.best_loss),
                    r.test_loss
                        .map_or_else(|| "-".into(), |t| format!("{t:.6e}")),
                    r.accuracy
                        .map_or_else(|| "-".into(), |a| format!("{:.1}%", a * 100.0)),
                    r.timing
                        .as_ref()
                        .map_or_else(|| "-".into(), |t| format!("{:.3}s", t.wall_seconds)),
                    format!("{:.1e}", r.max_forward_reverse_diff),
                ]
            })
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let mut l = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i > 0 {
                    l.push_str("  ");
                }
                // Text columns left-aligned, numbers right-aligned.
                if i < 3 {
                    let _ = write!(l, "{cell:<w$}");
                } else {
                    let _ = write!(l, "{cell:>w$}");
                }
            }
            l.trim_end().to_string()
        };
        let _ = writeln!(s, "{}", line(header.to_vec()));
        for row in &rows {
            let _ = writeln!(s, "{}", line(row.iter().map(String::as_str).collect()));
        }
        for r in &self.runs {
            if let Some(a) = &r.average {
                let _ = writeln!(
                    s,
                    "  {}: loss at the {} average {:.6e}",
                    printable(&r.label),
                    a.kind,
                    a.loss
                );
            }
        }
        for e in &self.expectations {
            let mark = if e.passed { "ok  " } else { "FAIL" };
            let _ = writeln!(
                s,
                "  {mark} {}: {} expected {}, got {}",
                printable(&e.label),
                e.check,
                printable(&e.expected),
                printable(&e.actual)
            );
        }
        s
    }

    /// CSV rows (no header): one per run.
    #[must_use]
    pub fn render_csv_rows(&self) -> String {
        let mut s = String::new();
        for r in &self.runs {
            let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}{}",
                super::csv_field(&self.scenario),
                super::csv_field(&r.label),
                super::csv_field(&r.optimizer),
                r.status,
                r.steps,
                r.evaluations.value,
                r.evaluations.gradient,
                r.evaluations.hessian,
                r.final_loss,
                r.best_loss,
                opt(r.accuracy),
                r.max_forward_reverse_diff,
                opt(r.test_loss),
                r.timing
                    .as_ref()
                    .map(|t| format!(",{}", t.wall_seconds))
                    .unwrap_or_default(),
            );
        }
        s
    }

    /// The CSV header matching [`Self::render_csv_rows`].
    #[must_use]
    pub fn csv_header(timing: bool) -> &'static str {
        if timing {
            "scenario,label,optimizer,status,steps,value_evals,gradient_evals,hessian_evals,final_loss,best_loss,accuracy,max_forward_reverse_diff,test_loss,wall_seconds"
        } else {
            "scenario,label,optimizer,status,steps,value_evals,gradient_evals,hessian_evals,final_loss,best_loss,accuracy,max_forward_reverse_diff,test_loss"
        }
    }
}
