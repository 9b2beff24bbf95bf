//! What a scenario will cost, estimated from the file before anything is built, and the limits
//! it must fit: memory (the dataset, the recorded evaluation of a batch, every run's parameters,
//! optimizer state and history, Hessians, Jacobians, populations) and work per optimizer step
//! (passes per gradient of the chosen engine, Hessian and Jacobian passes, population sizes).
//!
//! Every estimate is computed in `f64`, so no request can overflow an integer here: a dataset
//! of 10^30 examples is simply an estimate far above the limit. What does not fit is refused
//! with the field that asks for it, the estimate and the limit, so the TUI's open and hot
//! reload keep the scenario they have, and nothing large is allocated first.
//!
//! The figures are estimates, calibrated on the dev build (see `docs/scenarios.md`, "Limits"):
//! they are meant to be right within a factor of two or so, which is all a limit needs to tell
//! "fits easily" from "would take the machine down".

use super::decode::{Diag, param_units};
use super::schema::{DataSpec, ModelObjective, ModelSpec, Objective, Scenario};
use super::tree::{Node, Seg, Span, parse_path};
use crate::ad::Engine;
use crate::data::generate::Generator;
use crate::data::read::{DATA_FILE_LIMIT, SCENARIO_FILE_LIMIT, bytes};
use crate::data::split_sizes;
use crate::model::LossKind;
use crate::optim::{HyperValue, registry};
use crate::session::history::DEFAULT_CAPACITY;

/// Operations one optimizer step may take by default: about 10^11, which this tool's engines
/// get through in one to a few minutes on one core. A step is never interrupted, so more would
/// freeze the TUI for longer than anyone waits.
pub const WORK_PER_STEP: f64 = 1e11;

/// Most runs one scenario may race, with or without `--allow-large`: far more than any screen
/// or report can show, and setting up a session takes time that grows faster than their count.
pub const MAX_RUNS: usize = 10_000;

/// No estimate above this is ever attempted, with or without `--allow-large`: 128 TiB is the
/// user address space of x86-64 Linux, and sizes this large come from typos, not datasets.
pub const ADDRESSABLE: u64 = 1 << 47;

/// The memory assumed when the machine's cannot be read (it is then halved like a real one).
pub const FALLBACK_MEMORY: u64 = 8 << 30;

/// Bytes the reverse-mode tape and the values around it take per example and per unit
/// (hidden or output value) of a batch evaluation. Measured on the dev build: peak RSS of one
/// step of MLPs `[2, 512, 1]`, `[2, 256, 256, 1]`, `[2, 64, 64, 64, 1]` and `[2, 16, 1]` over
/// 5,000 to 200,000 examples came to 100–150 bytes per example-unit whatever the engine (every
/// step also checks the engines against each other on a reverse-mode gradient).
const TAPE_BYTES_PER_UNIT: f64 = 160.0;

/// Bytes a dataset takes per example and per value while a scenario is built and run: the
/// generated rows (one allocation each), the split and standardised copies, index orders, and
/// the batched passes that report loss and accuracy. Measured on the dev build: peak RSS of
/// `moons` (3 values an example) and 20-feature `blobs` (21 values) with 2,000,000 examples
/// came to about 310 and 990 bytes per example.
const DATA_BYTES_PER_EXAMPLE: f64 = 200.0;
const DATA_BYTES_PER_VALUE: f64 = 40.0;

/// What a scenario may ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Bytes one scenario's runs may need.
    pub memory: u64,
    /// Operations one optimizer step may take.
    pub work: f64,
    /// Largest scenario file read.
    pub scenario_file: u64,
    /// Largest CSV or parameter file read.
    pub data_file: u64,
    /// Set by `--allow-large`: the limits are the machine's, not a safe share of it.
    pub allow_large: bool,
    /// The machine's memory, if it could be read.
    pub machine: Option<u64>,
}

impl Limits {
    /// The limits for this machine: half of its memory, or all of it with `allow_large`.
    #[must_use]
    pub fn for_machine(allow_large: bool) -> Limits {
        Limits::new(machine_memory(), allow_large)
    }

    /// The limits for a machine with `machine` bytes of memory (`None`: unknown).
    #[must_use]
    pub fn new(machine: Option<u64>, allow_large: bool) -> Limits {
        let total = machine.unwrap_or(FALLBACK_MEMORY).min(ADDRESSABLE);
        if allow_large {
            Limits {
                memory: total,
                work: f64::INFINITY,
                scenario_file: total,
                data_file: total,
                allow_large,
                machine,
            }
        } else {
            Limits {
                memory: total / 2,
                work: WORK_PER_STEP,
                scenario_file: SCENARIO_FILE_LIMIT,
                data_file: DATA_FILE_LIMIT,
                allow_large,
                machine,
            }
        }
    }

    /// Where the memory limit comes from, and how to raise it.
    fn memory_source(&self) -> String {
        match (self.machine, self.allow_large) {
            (Some(m), false) => format!(
                "half of this machine's {}; --allow-large raises it to all of it",
                bytes(m)
            ),
            (Some(m), true) if m > ADDRESSABLE => "the address space".into(),
            (Some(_), true) => "this machine's memory".into(),
            (None, false) => format!(
                "half of an assumed {} (this machine's memory could not be read); \
                 --allow-large raises it",
                bytes(FALLBACK_MEMORY)
            ),
            (None, true) => format!(
                "an assumed {} (this machine's memory could not be read)",
                bytes(FALLBACK_MEMORY)
            ),
        }
    }

    /// The hint a too-large file's message ends with.
    #[must_use]
    pub fn file_hint(&self) -> &'static str {
        if self.allow_large {
            ""
        } else {
            " (--allow-large reads larger files)"
        }
    }
}

/// The machine's memory: the smallest of the physical memory (`/proc/meminfo`) and the control
/// group's limit (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`), on Linux; `None`
/// elsewhere or when none can be read.
#[must_use]
pub fn machine_memory() -> Option<u64> {
    let read = |path: &str| {
        crate::data::read::read_text_limited(std::path::Path::new(path), 1 << 16, "").ok()
    };
    let physical = read("/proc/meminfo").and_then(|t| parse_meminfo(&t));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .into_iter()
    .filter_map(|p| read(p)?.trim().parse::<u64>().ok())
    .min();
    match (physical, cgroup) {
        (Some(p), Some(c)) => Some(p.min(c)),
        (p, c) => p.or(c),
    }
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// The size of a dataset already read (a CSV file), which the scenario alone does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSize {
    /// Rows.
    pub examples: usize,
    /// Feature columns.
    pub features: usize,
}

/// One share of the memory estimate, and the field that asks for it.
#[derive(Debug, Clone, PartialEq)]
struct Part {
    path: String,
    what: String,
    bytes: f64,
}

/// What the objective asks for, in the terms the estimate needs.
#[derive(Debug, Clone)]
struct Shape {
    /// Rows of the dataset (0 for an expression, or a CSV file not yet read).
    examples: f64,
    /// Numbers per row: features and target.
    row_values: f64,
    /// Rows of the training split.
    train: f64,
    /// Rows of one minibatch (1 for an expression).
    batch: f64,
    /// Fitted parameters.
    params: f64,
    /// Values one example's evaluation keeps (hidden and output units; an expression's size).
    units: f64,
    /// Operations of one example's evaluation.
    cost: f64,
    /// Outputs per example (the residuals per example for least squares).
    outputs: f64,
    /// Whether least-squares residuals exist (MSE without a penalty).
    residuals: bool,
    data_path: String,
    batch_path: String,
    params_path: String,
}

fn expr_shape(expr: &str, params: usize) -> Shape {
    // An expression's size in characters bounds its node count: the cost of one evaluation.
    let size = expr.chars().count().max(1) as f64;
    Shape {
        examples: 0.0,
        row_values: 0.0,
        train: 0.0,
        batch: 1.0,
        params: params as f64,
        units: size,
        cost: 4.0 * size,
        outputs: 1.0,
        residuals: false,
        data_path: "objective".into(),
        batch_path: "objective.expr".into(),
        params_path: "objective.start".into(),
    }
}

fn model_shape(m: &ModelObjective, data: Option<DataSize>) -> Shape {
    let spec_features = m.data.features();
    let (examples, features) = match (data, m.data.examples()) {
        (Some(d), _) => (d.examples, d.features),
        (None, Some(n)) => (n, spec_features),
        (None, None) => (0, spec_features),
    };
    let (train, _) = split_sizes(examples, m.test_fraction.clamp(0.0, 0.99));
    let batch = m.batch_size.map_or(train, |b| b.min(train.max(1)));
    let f = features as f64;
    let (params, units, cost, outputs) = match &m.model {
        ModelSpec::Mlp(mlp) => {
            let (params, units) = param_units(&mlp.layers);
            let outputs = mlp.layers.last().map_or(1.0, |&o| o as f64);
            // A multiply and an add per weight, a dozen operations per unit's activation.
            (params, units, 2.0 * params + 12.0 * units, outputs)
        }
        ModelSpec::Linear | ModelSpec::Logistic => (f + 1.0, 1.0, 2.0 * (f + 1.0) + 12.0, 1.0),
        ModelSpec::Softmax(s) => {
            let k = s.classes as f64;
            ((f + 1.0) * k, k, 2.0 * (f + 1.0) * k + 12.0 * k, k)
        }
        ModelSpec::Custom(c) => {
            let size = c.expr.chars().count().max(1) as f64;
            (c.params.len() as f64, size, 4.0 * size, 1.0)
        }
    };
    let data_path = match m.data {
        DataSpec::Csv(_) => "objective.data.path",
        DataSpec::Inline(_) => "objective.data.rows",
        // Past a few features the values outweigh the per-example cost: `features` asks more.
        DataSpec::Generated(Generator::Blobs { .. } | Generator::Linear { .. })
            if DATA_BYTES_PER_VALUE * f > DATA_BYTES_PER_EXAMPLE =>
        {
            "objective.data.features"
        }
        _ => "objective.data.n",
    };
    let params_path = match &m.model {
        ModelSpec::Mlp(_) => "objective.model.layers",
        ModelSpec::Softmax(_) => "objective.model.classes",
        ModelSpec::Custom(_) => "objective.model.params",
        ModelSpec::Linear | ModelSpec::Logistic => "objective.data.features",
    };
    Shape {
        examples: examples as f64,
        row_values: f + 1.0,
        train: train as f64,
        batch: batch as f64,
        params,
        units,
        cost,
        outputs,
        residuals: m.loss == LossKind::Mse && m.l2 == 0.0,
        data_path: data_path.into(),
        batch_path: if m.batch_size.is_some() {
            "objective.batch_size".into()
        } else {
            data_path.into()
        },
        params_path: params_path.into(),
    }
}

/// What one run of an optimizer keeps in memory and computes per step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    /// Vectors as long as the parameters that the optimizer keeps (moments, last step, ...).
    pub state_vectors: f64,
    /// What one step computes.
    pub step: StepKind,
}

impl Default for Footprint {
    /// A first-order optimizer: a gradient a step and a few moment vectors.
    fn default() -> Self {
        Footprint {
            state_vectors: 4.0,
            step: StepKind::Gradient,
        }
    }
}

/// The dominant work of one optimizer step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepKind {
    /// One gradient (and a value or two).
    Gradient,
    /// Up to `iterations` gradients, and `history` pairs of parameter-length vectors (L-BFGS).
    QuasiNewton { iterations: f64, history: f64 },
    /// The full Hessian (an n × n matrix, factorised).
    Hessian,
    /// The residuals' Jacobian, `tries` damped solves of the n × n normal equations; the full
    /// Hessian when the objective has no residuals (Levenberg-Marquardt).
    Jacobian { tries: f64 },
    /// `size` candidate points evaluated (and, if `kept`, stored) per step; `hyper` names the
    /// hyperparameter that sets the size.
    Population {
        size: f64,
        kept: bool,
        hyper: &'static str,
    },
    /// A simplex of n + 1 points (Nelder-Mead).
    Simplex,
}

/// What a run of `optimizer` with these hyperparameters costs: the registry's flags say which
/// derivatives a step needs; the sizes of L-BFGS and the gradient-free methods are their own
/// hyperparameters (the file's value, else the registry's default). `None` for a name the
/// registry does not know.
#[must_use]
pub fn footprint(optimizer: &str, hyper: &[(String, HyperValue)]) -> Option<Footprint> {
    let spec = registry::spec(optimizer)?;
    let number = |name: &str| -> f64 {
        let value = |v: &HyperValue| match *v {
            HyperValue::Float(x) => Some(x),
            HyperValue::Int(n) => Some(n as f64),
            _ => None,
        };
        hyper
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| value(v))
            .or_else(|| {
                let h = spec.hypers().into_iter().find(|h| h.name == name)?;
                value(&h.default)
            })
            .unwrap_or(1.0)
    };
    let step = match (spec.needs, optimizer) {
        (registry::Needs::Hessian, _) => StepKind::Hessian,
        (registry::Needs::Residuals, _) => StepKind::Jacobian {
            tries: number("max_tries"),
        },
        (_, "lbfgs") => StepKind::QuasiNewton {
            iterations: number("max_iter"),
            history: number("history_size"),
        },
        (_, "genetic") => StepKind::Population {
            size: number("population"),
            kept: true,
            hyper: "population",
        },
        (_, "random_search") => StepKind::Population {
            size: number("samples"),
            kept: false,
            hyper: "samples",
        },
        (_, "nelder_mead") => StepKind::Simplex,
        _ => StepKind::Gradient,
    };
    Some(Footprint {
        step,
        ..Footprint::default()
    })
}

/// One optimizer run's share: its extra memory and the work of one step.
struct RunCost {
    extra: Option<Part>,
    state_vectors: f64,
    ops: f64,
    ops_path: String,
    why: String,
}

fn run_cost(
    i: usize,
    name: &str,
    given: &dyn Fn(&str) -> bool,
    fp: Footprint,
    shape: &Shape,
    engine: Engine,
    engine_in_file: bool,
) -> RunCost {
    let p = shape.params;
    let pc = count(p);
    let value = (shape.batch * shape.cost).max(1.0);
    let (grad, engine_why) = match engine {
        Engine::Reverse => (4.0 * value, None),
        Engine::Forward { chunk } => {
            let passes = (p / chunk.max(1) as f64).ceil().max(1.0);
            (
                passes * value * (1.0 + chunk as f64),
                Some(format!(
                    "forward mode makes {} {} for a gradient",
                    count(passes),
                    crate::text::plural(passes as u64, "pass", "passes")
                )),
            )
        }
        Engine::Finite => (
            (2.0 * p + 1.0) * value,
            Some(format!(
                "finite differences make {} evaluations for a gradient",
                count(2.0 * p + 1.0)
            )),
        ),
    };
    let name_path = format!("optimizers[{i}].name");
    let hyper_path = |h: &str| {
        if given(h) {
            format!("optimizers[{i}].{h}")
        } else {
            name_path.clone()
        }
    };
    let over = format!("over a batch of {} example(s)", count(shape.batch));
    let hessian_ops = p * (p + 1.0) / 2.0 * value * 4.0 + p * p * p / 3.0;
    let hessian_bytes = 3.0 * p * p * 8.0;
    let hessian_part = |what: &str| Part {
        path: name_path.clone(),
        what: format!("{name}'s {what} of {pc} × {pc} entries"),
        bytes: hessian_bytes,
    };
    // Gradient-based steps are dominated by the engine when it multiplies the passes.
    let (grad_path, grad_why) = match engine_why {
        Some(why) if engine_in_file => ("engine".to_string(), why),
        Some(why) => (name_path.clone(), why),
        // The batch or the model, whichever is the larger factor of an evaluation.
        None => (
            if shape.batch >= shape.cost {
                shape.batch_path.clone()
            } else {
                shape.params_path.clone()
            },
            format!("a gradient {over} costs about {grad:.1e} operations"),
        ),
    };
    let (extra, ops, ops_path, why) = match fp.step {
        StepKind::Gradient => (None, grad + 2.0 * value, grad_path, grad_why),
        StepKind::QuasiNewton {
            iterations,
            history,
        } => (
            Some(Part {
                path: hyper_path("history_size"),
                what: format!("{name}'s {} pairs of {pc}-vectors", count(history)),
                bytes: 2.0 * history * p * 8.0,
            }),
            iterations * 1.25 * (grad + value) + 4.0 * history * p,
            if given("max_iter") {
                hyper_path("max_iter")
            } else {
                grad_path
            },
            format!(
                "{} iteration(s) a step, each a gradient: {grad_why}",
                count(iterations)
            ),
        ),
        StepKind::Hessian => (
            Some(hessian_part("Hessian")),
            hessian_ops + grad,
            name_path.clone(),
            format!(
                "the Hessian takes {} passes {over}",
                count(p * (p + 1.0) / 2.0)
            ),
        ),
        StepKind::Jacobian { tries } if shape.residuals => {
            let m = shape.batch * shape.outputs;
            let passes = (p / 8.0).ceil().max(1.0);
            (
                Some(Part {
                    path: name_path.clone(),
                    what: format!(
                        "{name}'s Jacobian of {} residuals × {pc} parameters and its {pc} × {pc} \
                         normal equations",
                        count(m)
                    ),
                    bytes: 2.0 * m * p * 8.0 + hessian_bytes,
                }),
                passes * value * 9.0 + m * p * p + tries * p * p * p / 3.0,
                name_path.clone(),
                format!(
                    "the Jacobian takes {} passes {over} and the normal equations {} × {pc}² \
                     operations",
                    count(passes),
                    count(m)
                ),
            )
        }
        StepKind::Jacobian { .. } => (
            Some(hessian_part("Hessian (the loss has no residuals)")),
            hessian_ops + grad,
            name_path.clone(),
            format!(
                "without residuals the Hessian takes {} passes {over}",
                count(p * (p + 1.0) / 2.0)
            ),
        ),
        StepKind::Population { size, kept, hyper } => (
            Some(Part {
                path: hyper_path(hyper),
                what: format!(
                    "{name}'s {} candidate points of {pc} parameters",
                    count(size)
                ),
                bytes: if kept {
                    2.0 * size * (p + 1.0) * 8.0
                } else {
                    2.0 * p * 8.0
                },
            }),
            size * value,
            hyper_path(hyper),
            format!("{} evaluations {over} a step", count(size)),
        ),
        StepKind::Simplex => (
            Some(Part {
                path: name_path.clone(),
                what: format!(
                    "{name}'s simplex of {} points of {pc} parameters",
                    count(p + 1.0)
                ),
                bytes: 2.0 * (p + 1.0) * p * 8.0,
            }),
            3.0 * value + p * p,
            name_path.clone(),
            format!("a simplex of {} points", count(p + 1.0)),
        ),
    };
    RunCost {
        extra,
        state_vectors: fp.state_vectors,
        ops,
        ops_path,
        why,
    }
}

/// The node a dotted path names, or its nearest ancestor the file has (a default value is not
/// written in the file: its section is the next best place).
pub(crate) fn locate(root: &Node, path: &str) -> Span {
    let Some(mut segs) = parse_path(path) else {
        return Span::TOP;
    };
    loop {
        if segs.is_empty() {
            return Span::TOP;
        }
        if let Some((_, node)) = root.find(&segs) {
            return node.span;
        }
        segs.pop();
        // `optimizers[2]` written as `- newton` has no `.name`: the scalar is the name.
        if matches!(segs.last(), Some(Seg::Index(_))) {
            if let Some((_, node)) = root.find(&segs) {
                return node.span;
            }
        }
    }
}

/// What to change at `path` to need less.
fn remedy(path: &str) -> &'static str {
    if path == "engine" {
        "engine: reverse (one pass a gradient, whatever the number of parameters)"
    } else if path.ends_with(".name") || path.ends_with(']') {
        "a first-order optimizer (adam, sgd, ...) at this size, or fewer parameters"
    } else {
        "a smaller value here"
    }
}

fn diag(root: &Node, path: &str, message: String, expected: String) -> Diag {
    Diag {
        span: locate(root, path),
        message,
        expected: Some(expected),
        suggestion: None,
    }
}

/// A count as a whole number, or in scientific notation once it is too long to read.
fn count(x: f64) -> String {
    if x < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.1e}")
    }
}

fn human(bytes_f: f64) -> String {
    if bytes_f >= u64::MAX as f64 {
        format!("{bytes_f:.1e} bytes")
    } else {
        bytes(bytes_f as u64)
    }
}

/// Checks `s` (its command-line overrides applied) against `limits`; every problem is located
/// in `root`, the scenario's tree. `data` gives the size of a dataset already read (a CSV file);
/// without it a CSV dataset's rows are not counted.
#[must_use]
pub fn check(s: &Scenario, root: &Node, limits: &Limits, data: Option<DataSize>) -> Vec<Diag> {
    let shape = match &s.objective {
        Objective::Expr(e) => expr_shape(&e.expr, e.start.len()),
        Objective::Model(m) => model_shape(m, data),
    };
    let p = shape.params;
    let mut parts = vec![Part {
        path: shape.data_path.clone(),
        what: format!(
            "the dataset, {} examples of {} values",
            count(shape.examples),
            count(shape.row_values)
        ),
        bytes: shape.examples * (DATA_BYTES_PER_EXAMPLE + DATA_BYTES_PER_VALUE * shape.row_values),
    }];
    parts.push(Part {
        path: shape.batch_path.clone(),
        what: format!(
            "recording an evaluation of {} example(s) through {} units",
            count(shape.batch),
            count(shape.units)
        ),
        bytes: TAPE_BYTES_PER_UNIT * shape.batch * (shape.units + 4.0),
    });
    // Loss and accuracy are reported over the whole training set, in batched `f64` passes
    // that hold every example's layer values.
    parts.push(Part {
        path: shape.data_path.clone(),
        what: format!(
            "evaluating loss and accuracy over all {} training examples through {} units",
            count(shape.train),
            count(shape.units)
        ),
        bytes: 16.0 * shape.train * shape.units,
    });
    let engine_in_file = root.get("engine").is_some();
    let mut state_vectors = 0.0;
    let mut errors = Vec::new();
    if s.optimizers.len() > MAX_RUNS {
        errors.push(diag(
            root,
            "optimizers",
            format!(
                "{} runs are more than one scenario may race ({MAX_RUNS})",
                s.optimizers.len()
            ),
            format!("at most {MAX_RUNS} optimizers"),
        ));
        return errors;
    }
    for (i, o) in s.optimizers.iter().enumerate() {
        let fp = footprint(&o.optimizer, &o.hyperparameters).unwrap_or_default();
        let given = |h: &str| o.hyperparameters.iter().any(|(k, _)| k == h);
        let cost = run_cost(
            i,
            &o.optimizer,
            &given,
            fp,
            &shape,
            s.engine,
            engine_in_file,
        );
        state_vectors += cost.state_vectors;
        parts.extend(cost.extra);
        if cost.ops > limits.work {
            errors.push(diag(
                root,
                &cost.ops_path,
                format!(
                    "one step of run '{}' needs about {:.1e} operations, over the limit of {:.0e} \
                     a step: {}",
                    o.label, cost.ops, limits.work, cost.why
                ),
                format!(
                    "{}, or --allow-large (the limit keeps one step to a few minutes)",
                    remedy(&cost.ops_path)
                ),
            ));
        }
    }
    let runs = s.optimizers.len() as f64;
    let points = (s.stop.max_steps as f64 + 1.0).min(DEFAULT_CAPACITY as f64 + 2.0);
    parts.push(Part {
        path: shape.params_path.clone(),
        what: format!(
            "{runs} run(s) of {} parameters, with optimizer state and a history of {points} \
             points each",
            count(p)
        ),
        bytes: p * 8.0 * (4.0 * runs + state_vectors) + runs * points * (p * 8.0 + 64.0),
    });
    let total: f64 = parts.iter().map(|q| q.bytes).sum();
    if total > limits.memory as f64 || total.is_nan() {
        let largest = parts
            .iter()
            .max_by(|a, b| a.bytes.total_cmp(&b.bytes))
            .unwrap_or(&parts[0]);
        errors.push(diag(
            root,
            &largest.path,
            format!(
                "not enough memory: this scenario needs about {}, over the limit of {}; the \
                 largest part is {} ({})",
                human(total),
                bytes(limits.memory),
                largest.what,
                human(largest.bytes)
            ),
            format!(
                "{}; the limit is {}",
                remedy(&largest.path),
                limits.memory_source()
            ),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::decode::decode;
    use crate::scenario::tree::{Pos, build};

    const GIB: u64 = 1 << 30;

    /// Decodes without the loader's own resource check, then checks against `limits`.
    fn estimate(src: &str, limits: &Limits) -> Vec<Diag> {
        let (root, _) = build(src).unwrap();
        let root = root.unwrap();
        let s = decode(&root, "t").unwrap();
        check(&s, &root, limits, None)
    }

    #[test]
    fn limits_follow_the_machine_and_the_flag() {
        let l = Limits::new(Some(16 * GIB), false);
        assert_eq!(l.memory, 8 * GIB);
        assert_eq!(l.work, WORK_PER_STEP);
        assert_eq!(l.scenario_file, SCENARIO_FILE_LIMIT);
        let large = Limits::new(Some(16 * GIB), true);
        assert_eq!(large.memory, 16 * GIB);
        assert!(large.work.is_infinite());
        assert_eq!(Limits::new(None, false).memory, FALLBACK_MEMORY / 2);
        // Even with the flag nothing beyond the address space is attempted.
        assert_eq!(Limits::new(Some(u64::MAX), true).memory, ADDRESSABLE);
        assert_eq!(
            parse_meminfo("MemTotal:       24683664 kB\nMemFree: 1 kB\n"),
            Some(24_683_664 * 1024)
        );
        assert_eq!(parse_meminfo("nothing"), None);
    }

    #[test]
    fn small_scenarios_fit_and_huge_ones_name_their_field() {
        let l = Limits::new(Some(16 * GIB), false);
        let small = "objective:\n  model: {kind: mlp, layers: [2, 16, 1]}\n  loss: bce_logits\n  \
                     data: {kind: moons, n: 200}\noptimizers: [adam]\n";
        assert!(estimate(small, &l).is_empty());
        // Minibatches of 32: what grows with the whole dataset is too large.
        let huge = small.replace("n: 200}", "n: 5000000000}\n  batch_size: 32");
        let d = estimate(&huge, &l);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message
                .contains("the largest part is the dataset, 5000000000 examples"),
            "{d:?}"
        );
        assert!(d[0].message.contains("over the limit of 8 GiB"), "{d:?}");
        assert_eq!((d[0].span.start.line, d[0].span.start.column), (4, 26));
        // Full batch: recording one evaluation of 5e9 examples dominates, and the step is
        // refused too, both at `n`.
        let d = estimate(&small.replace("n: 200", "n: 5000000000"), &l);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().all(|d| d.span.start
            == Pos {
                line: 4,
                column: 26
            }));
        assert!(d[0].message.contains("operations"), "{d:?}");
        assert!(
            d[1].message
                .contains("recording an evaluation of 5000000000"),
            "{d:?}"
        );
    }

    #[test]
    fn runs_are_counted() {
        let l = Limits::new(Some(16 * GIB), true);
        let many = |n: usize| {
            format!(
                "objective: {{expr: \"x^2\", start: [1]}}\noptimizers: [{}]\n",
                vec!["sgd"; n].join(", ")
            )
        };
        assert!(estimate(&many(MAX_RUNS), &l).is_empty());
        let d = estimate(&many(MAX_RUNS + 1), &l);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].message,
            "10001 runs are more than one scenario may race (10000)"
        );
        assert_eq!(
            d[0].span.start,
            Pos {
                line: 2,
                column: 13
            }
        );
    }

    #[test]
    fn overflowing_sizes_are_estimates_not_panics() {
        let l = Limits::new(Some(16 * GIB), true);
        let src = "objective:\n  model: {kind: mlp, layers: [2, 18446744073709551615, \
                   18446744073709551615, 1]}\n  loss: bce_logits\n  data: {kind: moons}\n\
                   optimizers: [adam]\n";
        let d = estimate(src, &l);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.starts_with("not enough memory"), "{d:?}");
        assert_eq!(d[0].span.start.line, 2);
    }

    #[test]
    fn engines_and_second_order_methods_cost_what_they_do() {
        let l = Limits::new(Some(64 * GIB), false);
        let base = "objective:\n  model: {kind: mlp, layers: [1, 256, 256, 1]}\n  loss: mse\n  \
                    data: {kind: sine, n: 20000}\n";
        // Reverse mode: a gradient is a few evaluations, well within a step's budget.
        assert!(estimate(&format!("{base}optimizers: [adam]\n"), &l).is_empty());
        // Finite differences: 2 × 66,561 evaluations of 20,000 examples per gradient.
        let finite = format!("{base}engine: finite\noptimizers: [adam]\n");
        let d = estimate(&finite, &l);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("finite differences make"), "{d:?}");
        assert_eq!(d[0].span.start.line, 5, "pointed at `engine`");
    }

    #[test]
    fn footprints_come_from_the_registry() {
        let fp = |name: &str, hyper: &[(&str, f64)]| {
            let hyper: Vec<(String, HyperValue)> = hyper
                .iter()
                .map(|(k, v)| ((*k).to_string(), HyperValue::Float(*v)))
                .collect();
            footprint(name, &hyper).map(|f| f.step)
        };
        assert_eq!(fp("adam", &[]), Some(StepKind::Gradient));
        assert_eq!(fp("newton", &[]), Some(StepKind::Hessian));
        assert_eq!(
            fp("levenberg_marquardt", &[]),
            Some(StepKind::Jacobian { tries: 10.0 })
        );
        assert_eq!(
            fp("lbfgs", &[("history_size", 50.0)]),
            Some(StepKind::QuasiNewton {
                iterations: 1.0,
                history: 50.0
            })
        );
        assert_eq!(
            fp("genetic", &[]),
            Some(StepKind::Population {
                size: 50.0,
                kept: true,
                hyper: "population"
            })
        );
        assert_eq!(fp("nelder_mead", &[]), Some(StepKind::Simplex));
        assert_eq!(fp("no_such_optimizer", &[]), None);
    }
}
