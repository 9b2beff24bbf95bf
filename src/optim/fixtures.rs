//! Test support shared by every optimizer's fidelity test: the reference-trajectory fixtures in
//! `tests/fixtures/optim/*.json` (written by `tests/fixtures/optim/gen_torch.py` from torch; the
//! format is documented there and is meant for any reference implementation and any optimizer
//! or schedule), their loader, and the two checks a `torch_fixtures` test runs on each case:
//!
//! - **replay**: the optimizer gets the reference's own gradient at each step (whatever point
//!   it asks at), so the comparison isolates the update rule from the gradient's last bits;
//! - **free run**: the optimizer steps on our own objective (hand-written gradients for the test
//!   functions, our reverse-mode tape for the MLP), as a run in the program does.
//!
//! Both compare the parameters (and extra points such as ASGD's average) after every step with
//! the reference's, relative to the vector's largest entry; the free run also compares the
//! losses. Usage, from an optimizer's tests:
//! `fixtures::check_file(include_str!("../../tests/fixtures/optim/asgd.json"))`.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};
use serde::Deserialize;

use super::layout::ParamLayout;
use super::registry;
use super::{FnOracle, HyperValue, Optimizer, Oracle};
use crate::ad::Engine;
use crate::data::{Batcher, Dataset, Task};
use crate::model::{Activation, Loss, LossKind, Mlp};
use crate::objective::{Counts, Evaluator, ModelObjective, Objective, Scratch};

/// One fixture file.
#[derive(Debug, Deserialize)]
pub(crate) struct File {
    /// The script that wrote it.
    pub generator: String,
    /// The versions of the reference software that wrote it.
    pub versions: BTreeMap<String, String>,
    pub cases: Vec<Case>,
}

/// One reference trajectory.
#[derive(Debug, Deserialize)]
pub(crate) struct Case {
    pub name: String,
    /// The registry name of the optimizer.
    pub optimizer: String,
    /// The reference call, for messages.
    pub reference: String,
    /// Registry hyperparameter names to JSON values (pairs as lists, torch's `None` as `null`,
    /// choices as strings).
    pub hyperparameters: BTreeMap<String, serde_json::Value>,
    pub objective: Function,
    pub initial: Vec<f64>,
    pub steps: Vec<Step>,
}

/// What is minimised.
#[derive(Debug, Deserialize)]
#[serde(tag = "function", rename_all = "snake_case")]
pub(crate) enum Function {
    /// `(1 − x)² + 100 (y − x²)²`.
    Rosenbrock {
        #[serde(default)]
        negated: bool,
    },
    /// `0.5 (u² + 50 v²)` with `u = 0.8x + 0.6y`, `v = −0.6x + 0.8y`.
    RotatedQuadratic {
        #[serde(default)]
        negated: bool,
    },
    /// An MLP (`activation` on the hidden layers, identity output), MSE, full batch.
    Mlp {
        layers: Vec<usize>,
        activation: String,
        inputs: Vec<Vec<f64>>,
        targets: Vec<Vec<f64>>,
    },
}

/// One step of the reference.
#[derive(Debug, Deserialize)]
pub(crate) struct Step {
    /// The loss before the step (what [`StepInfo::loss`](super::StepInfo) reports).
    pub loss: f64,
    /// The gradient before the step.
    pub grad: Vec<f64>,
    /// The parameters after the step.
    pub params: Vec<f64>,
    /// Extra points after the step, by [`ExtraPoint`](super::ExtraPoint) name.
    #[serde(default)]
    pub points: BTreeMap<String, Vec<f64>>,
}

/// Relative tolerances of a case's two checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tolerance {
    pub replay: f64,
    pub free: f64,
}

/// What the issue asks of every float64 optimizer: 1e-10 relative.
pub(crate) const FLOAT64: Tolerance = Tolerance {
    replay: 1e-10,
    free: 1e-10,
};

/// Loads a fixture file and runs both checks on every case at [`FLOAT64`].
pub(crate) fn check_file(json: &str) {
    check_file_with(json, |_| FLOAT64);
}

/// Loads a fixture file and runs both checks on every case at the tolerance `tol` gives it.
pub(crate) fn check_file_with(json: &str, tol: impl Fn(&Case) -> Tolerance) {
    let file = load(json);
    for case in &file.cases {
        let t = tol(case);
        case.check_replay(t.replay);
        case.check_free(t.free);
    }
}

/// Parses a fixture file and checks it is one worth testing against.
pub(crate) fn load(json: &str) -> File {
    let file: File = serde_json::from_str(json).expect("a fixture file");
    assert!(file.generator.ends_with(".py"), "{}", file.generator);
    assert!(!file.versions.is_empty() && !file.cases.is_empty());
    for case in &file.cases {
        assert!(
            case.steps.len() >= 40,
            "{}: only {} steps",
            case.name,
            case.steps.len()
        );
        assert!(
            !case.hyperparameters.is_empty(),
            "{}: defaults only",
            case.name
        );
    }
    file
}

impl Case {
    /// The hyperparameters as values of the optimizer's domains (through the editor's
    /// parser, which also reads `None` and choice names).
    pub fn hyperparameters(&self) -> Vec<(String, HyperValue)> {
        let spec = registry::spec(&self.optimizer).expect("a registered optimizer");
        let hypers = spec.hypers();
        self.hyperparameters
            .iter()
            .map(|(name, value)| {
                let h = hypers
                    .iter()
                    .find(|h| h.name == name)
                    .expect("a known name");
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Array(items) => {
                        let items: Vec<String> = items
                            .iter()
                            .map(|v| {
                                if v.is_null() {
                                    "None".into()
                                } else {
                                    v.to_string()
                                }
                            })
                            .collect();
                        format!("({})", items.join(", "))
                    }
                    other => other.to_string(),
                };
                let v = h.domain.parse(&text).expect("a value of the domain");
                (name.clone(), v)
            })
            .collect()
    }

    fn optimizer(&self, layout: &ParamLayout) -> Box<dyn Optimizer> {
        registry::build_for(&self.optimizer, &self.hyperparameters(), 0, layout)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// Steps with the reference's gradients.
    pub fn check_replay(&self, rtol: f64) {
        let layout = self.layout();
        let mut opt = self.optimizer(&layout);
        let mut oracle = Replay {
            steps: &self.steps,
            next: 0,
        };
        let mut x = self.initial.clone();
        for (k, step) in self.steps.iter().enumerate() {
            opt.step(&mut x, &mut oracle);
            self.compare("replay", k, opt.as_ref(), &x, step, rtol);
        }
    }

    /// Steps on our own objective; compares losses too.
    pub fn check_free(&self, rtol: f64) {
        let layout = self.layout();
        let mut opt = self.optimizer(&layout);
        let mut x = self.initial.clone();
        let mut step_all = |oracle: &mut dyn Oracle| {
            for (k, step) in self.steps.iter().enumerate() {
                let info = opt.step(&mut x, oracle);
                assert_close(
                    &format!("{} free run, loss before step {}", self.name, k + 1),
                    &[info.loss],
                    &[step.loss],
                    rtol,
                );
                self.compare("free run", k, opt.as_ref(), &x, step, rtol);
            }
        };
        match &self.objective {
            Function::Mlp { .. } => {
                let objective = self.mlp();
                let (mut scratch, mut counts) = (Scratch::default(), Counts::default());
                step_all(&mut Evaluator {
                    objective: &objective,
                    engine: Engine::Reverse,
                    scratch: &mut scratch,
                    counts: &mut counts,
                });
            }
            Function::Rosenbrock { negated } => step_all(&mut function(rosenbrock, *negated)),
            Function::RotatedQuadratic { negated } => {
                step_all(&mut function(rotated_quadratic, *negated));
            }
        }
    }

    /// The layout the program would give this objective: the MLP's from its model.
    fn layout(&self) -> ParamLayout {
        match self.objective {
            Function::Mlp { .. } => self.mlp().param_layout(),
            _ => ParamLayout::vector(self.initial.len()),
        }
    }

    fn mlp(&self) -> ModelObjective<Mlp> {
        let Function::Mlp {
            layers,
            activation,
            inputs,
            targets,
        } = &self.objective
        else {
            panic!("{} is not an MLP case", self.name);
        };
        let hidden = Activation::from_name(activation).expect("an activation");
        let model =
            Mlp::with_hidden(layers.clone(), hidden, Activation::Identity).expect("a model");
        let rows: Vec<Vec<f64>> = inputs
            .iter()
            .zip(targets)
            .map(|(x, t)| {
                assert_eq!(t.len(), 1, "one target per sample");
                x.iter().chain(t).copied().collect()
            })
            .collect();
        let data = Dataset::from_rows(&rows, inputs[0].len(), Task::Regression).expect("data");
        let n = rows.len();
        let names = (0..self.initial.len()).map(|i| format!("p{i}")).collect();
        ModelObjective::new(
            model,
            Loss::new(LossKind::Mse),
            data,
            None,
            self.initial.clone(),
            Batcher::new(n, n, 0).expect("a full batch"),
            names,
        )
    }

    fn compare(
        &self,
        check: &str,
        k: usize,
        opt: &dyn Optimizer,
        x: &[f64],
        step: &Step,
        rtol: f64,
    ) {
        let what = format!("{} ({}) {check}, step {}", self.name, self.reference, k + 1);
        assert_close(&what, x, &step.params, rtol);
        let points = opt.extra_points();
        let names: Vec<&str> = points.iter().map(|p| p.name).collect();
        let want: Vec<&str> = step.points.keys().map(String::as_str).collect();
        assert_eq!(names, want, "{what}: extra points");
        for p in points {
            assert_close(
                &format!("{what}, point {}", p.name),
                p.params,
                &step.points[p.name],
                rtol,
            );
        }
    }
}

/// `max |got − want| <= rtol · max |want|`, naming the worst entry otherwise.
pub(crate) fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0_f64, |m, w| m.max(w.abs()));
    let (i, err) = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .enumerate()
        .fold(
            (0, 0.0),
            |best, (i, e)| if e > best.1 { (i, e) } else { best },
        );
    assert!(
        err <= rtol * scale,
        "{what}: entry {i} is {} but the reference has {} (error {:.3e} relative)",
        got[i],
        want[i],
        err / scale
    );
}

/// Serves the reference's gradients in order.
struct Replay<'a> {
    steps: &'a [Step],
    next: usize,
}

impl Oracle for Replay<'_> {
    fn dim(&self) -> usize {
        self.steps[0].grad.len()
    }
    fn value(&mut self, _x: &[f64]) -> f64 {
        self.steps[self.next].loss
    }
    fn value_and_gradient(&mut self, _x: &[f64], grad: &mut [f64]) -> f64 {
        let step = &self.steps[self.next];
        self.next += 1;
        grad.copy_from_slice(&step.grad);
        step.loss
    }
    fn hessian(&mut self, _x: &[f64]) -> (f64, Vec<f64>, DMatrix<f64>) {
        unimplemented!("fixtures hold gradients only")
    }
    fn residuals(&mut self, _x: &[f64]) -> Option<(DVector<f64>, DMatrix<f64>)> {
        None
    }
}

type Fg = fn(f64, f64) -> (f64, [f64; 2]);

/// The generator's hand-written functions, in its operation order (bit-identical gradients).
fn rosenbrock(x: f64, y: f64) -> (f64, [f64; 2]) {
    let a = 1.0 - x;
    let b = y - x * x;
    let f = a * a + 100.0 * (b * b);
    (f, [-2.0 * a - 400.0 * (x * b), 200.0 * b])
}

fn rotated_quadratic(x: f64, y: f64) -> (f64, [f64; 2]) {
    let u = 0.8 * x + 0.6 * y;
    let v = -0.6 * x + 0.8 * y;
    let f = 0.5 * (u * u + 50.0 * (v * v));
    let (gu, gv) = (u, 50.0 * v);
    (f, [0.8 * gu - 0.6 * gv, 0.6 * gu + 0.8 * gv])
}

fn function(fg: Fg, negated: bool) -> FnOracle {
    let sign = if negated { -1.0 } else { 1.0 };
    FnOracle::new(2, move |x| sign * fg(x[0], x[1]).0).with_gradient(move |x, g| {
        let (_, grad) = fg(x[0], x[1]);
        g[0] = sign * grad[0];
        g[1] = sign * grad[1];
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_gradients_agree_with_differences() {
        for fg in [rosenbrock as Fg, rotated_quadratic] {
            let (x, y, h) = (-0.7, 1.3, 1e-6);
            let (_, g) = fg(x, y);
            let dx = (fg(x + h, y).0 - fg(x - h, y).0) / (2.0 * h);
            let dy = (fg(x, y + h).0 - fg(x, y - h).0) / (2.0 * h);
            assert!(
                (g[0] - dx).abs() < 1e-5 && (g[1] - dy).abs() < 1e-5,
                "{g:?} {dx} {dy}"
            );
        }
    }

    #[test]
    fn a_wrong_trajectory_fails_the_check() {
        let mut file = load(include_str!("../../tests/fixtures/optim/asgd.json"));
        let mut case = file.cases.remove(0);
        case.steps[41].params[1] *= 1.0 + 1e-9;
        let replay = std::panic::catch_unwind(|| case.check_replay(1e-10));
        assert!(replay.is_err(), "a perturbation of 1e-9 must be caught");
    }

    #[test]
    fn the_mlp_layout_is_torch_s() {
        let file = load(include_str!("../../tests/fixtures/optim/adafactor.json"));
        let case = file
            .cases
            .iter()
            .find(|c| matches!(c.objective, Function::Mlp { .. }))
            .expect("an MLP case");
        use super::super::layout::Shape;
        let shapes: Vec<Shape> = case.layout().blocks().iter().map(|b| b.shape).collect();
        assert_eq!(
            shapes,
            [
                Shape::Matrix { rows: 4, cols: 2 },
                Shape::Vector(4),
                Shape::Matrix { rows: 3, cols: 4 },
                Shape::Vector(3),
                Shape::Matrix { rows: 1, cols: 3 },
                Shape::Vector(1),
            ]
        );
        // our loss and gradient at the start are torch's
        let objective = case.mlp();
        let (mut scratch, mut counts) = (Scratch::default(), Counts::default());
        let mut oracle = Evaluator {
            objective: &objective,
            engine: Engine::Reverse,
            scratch: &mut scratch,
            counts: &mut counts,
        };
        let mut g = vec![0.0; case.initial.len()];
        let f = oracle.value_and_gradient(&case.initial, &mut g);
        assert_close("loss", &[f], &[case.steps[0].loss], 1e-14);
        assert_close("gradient", &g, &case.steps[0].grad, 1e-14);
    }
}
