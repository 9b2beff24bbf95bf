//! From a loaded [`Scenario`] to a running [`Session`]: the real [`Catalog`] (the optimizer
//! registry and the expression language) that the loader checks against, dataset generation,
//! model construction and initialisation. Errors found here (a CSV file's bad row, a dataset
//! parameter out of range, a model that does not fit its data) are reported like loader errors,
//! at the `file:line:column` of the scenario entry that caused them.

// A build fails at most once per file, so a large error type costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use std::path::Path;

use super::budget::{self, DataSize, Limits};
use super::catalog::{Catalog, ExprIssue, Footprint, HyperInfo, HyperKind, Range, StepKind};
use super::decode::{Diag, held_out};
use super::error::{ScenarioError, ScenarioErrors};
use super::load::Overrides;
use super::schema::{self, Activations, DataSpec, InitSpec, Scenario};
use super::tree::{self, Span};
use crate::data::csv::Labels;
use crate::data::{self, Batcher, Dataset, Task, generate};
use crate::expr::Expression;
use crate::landscape::{self, ViewSpec};
use crate::model::{
    self, Activation, CustomModel, Init, Loss, LossKind, Mlp, Model, ParamKind, Predictor,
};
use crate::objective::{ExpressionObjective, ModelObjective, Objective};
use crate::optim::{self, Bound, Domain, registry};
use crate::optim::{HyperValue, clip::GradClip, schedule};
use crate::session::{RunSpec, Session, StopConfig};
use crate::suggest::short_list;

/// The catalog backed by the optimizer registry and the expression parser.
pub struct RegistryCatalog;

fn range_of(r: &optim::Range) -> Range {
    let (min, min_inclusive) = match r.min {
        Bound::Unbounded => (None, false),
        Bound::Inclusive(m) => (Some(m), true),
        Bound::Exclusive(m) => (Some(m), false),
    };
    let (max, max_inclusive) = match r.max {
        Bound::Unbounded => (None, false),
        Bound::Inclusive(m) => (Some(m), true),
        Bound::Exclusive(m) => (Some(m), false),
    };
    Range {
        min,
        min_inclusive,
        max,
        max_inclusive,
    }
}

impl Catalog for RegistryCatalog {
    fn optimizer_names(&self) -> Vec<String> {
        registry::names().iter().map(|s| (*s).to_string()).collect()
    }

    fn hyperparameters(&self, optimizer: &str) -> Option<Vec<HyperInfo>> {
        let spec = registry::spec(optimizer)?;
        Some(
            spec.hypers()
                .iter()
                .map(|h| {
                    let (kind, range, second) = match &h.domain {
                        Domain::Float(r) => (HyperKind::Float, range_of(r), None),
                        Domain::Bool => (HyperKind::Bool, Range::ANY, None),
                        Domain::Int { min, max } => (
                            HyperKind::Int,
                            Range::closed(*min as f64, *max as f64),
                            None,
                        ),
                        Domain::Pair(a, b) => (HyperKind::Pair, range_of(a), Some(range_of(b))),
                        Domain::IncreasingPair(r) => (HyperKind::Pair, range_of(r), None),
                        Domain::OptionalPair(a, b) => {
                            (HyperKind::OptionalPair, range_of(a), Some(range_of(b)))
                        }
                        Domain::Triple(r) => (HyperKind::Triple, range_of(r), None),
                        Domain::Choice(names) => (HyperKind::Choice(names), Range::ANY, None),
                    };
                    HyperInfo {
                        name: h.name.to_string(),
                        kind,
                        range,
                        second_range: second,
                    }
                })
                .collect(),
        )
    }

    fn footprint(
        &self,
        optimizer: &str,
        hyper: &[(String, schema::HyperValue)],
    ) -> Option<Footprint> {
        let spec = registry::spec(optimizer)?;
        // The value in the file, else the registry's default.
        let number = |name: &str| -> f64 {
            let given = hyper
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| match v {
                    schema::HyperValue::Number(x) => Some(*x),
                    _ => None,
                });
            given
                .or_else(|| {
                    let h = spec.hypers().into_iter().find(|h| h.name == name)?;
                    match h.default {
                        HyperValue::Int(n) => Some(n as f64),
                        HyperValue::Float(x) => Some(x),
                        _ => None,
                    }
                })
                .unwrap_or(1.0)
        };
        // The registry's flags say which derivatives a step needs; the sizes of L-BFGS and the
        // gradient-free methods are their own hyperparameters.
        let step = if spec.needs == registry::Needs::Hessian {
            StepKind::Hessian
        } else if spec.needs == registry::Needs::Residuals {
            StepKind::Jacobian {
                tries: number("max_tries"),
            }
        } else {
            match optimizer {
                "lbfgs" => StepKind::QuasiNewton {
                    iterations: number("max_iter"),
                    history: number("history_size"),
                },
                "genetic" => StepKind::Population {
                    size: number("population"),
                    kept: true,
                    hyper: "population",
                },
                "random_search" => StepKind::Population {
                    size: number("samples"),
                    kept: false,
                    hyper: "samples",
                },
                "nelder_mead" => StepKind::Simplex,
                _ => StepKind::Gradient,
            }
        };
        Some(Footprint {
            step,
            ..Footprint::default()
        })
    }

    fn not_offered(&self, optimizer: &str) -> Option<String> {
        registry::not_offered(optimizer).map(str::to_string)
    }

    fn expression_variables(&self, expr: &str) -> Option<Result<Vec<String>, ExprIssue>> {
        Some(match Expression::parse(expr) {
            Ok(e) => Ok(e.vars().to_vec()),
            Err(e) => {
                let mut message = e.message.clone();
                if let Some(expected) = &e.expected {
                    message.push_str(&format!(" (expected {expected})"));
                }
                if let Some(s) = &e.suggestion {
                    message.push_str(&format!("; {s}"));
                }
                Err(ExprIssue {
                    message,
                    offset: expr[..e.span.start.min(expr.len())].chars().count(),
                })
            }
        })
    }
}

/// A scenario made ready to run.
pub struct Built {
    pub scenario: Scenario,
    pub session: Session,
    pub view: ViewSpec,
}

/// Locates errors of the build step in the scenario source.
struct Locator<'a> {
    file: &'a str,
    source: &'a str,
    root: Option<tree::Node>,
}

impl<'a> Locator<'a> {
    fn new(file: &'a str, source: &'a str) -> Self {
        let root = tree::build(source).ok().and_then(|(root, _)| root);
        Self { file, source, root }
    }

    /// A located problem found by a check that walks the tree itself.
    fn diag(&self, d: Diag) -> ScenarioError {
        let span = d.span;
        let (source_line, source_from) = self.excerpt(span);
        ScenarioError {
            file: self.file.to_string(),
            line: span.start.line,
            column: span.start.column,
            width: span.width(),
            message: d.message,
            expected: d.expected,
            suggestion: d.suggestion,
            source_line,
            source_from,
        }
    }

    fn excerpt(&self, span: Span) -> (String, usize) {
        let line = self.source.lines().nth(span.start.line.saturating_sub(1));
        ScenarioError::excerpt(line.unwrap_or(""), span.start.column)
    }

    /// An error at the value of `path` (e.g. `objective.data`), or at the top of the file.
    fn error(
        &self,
        path: &str,
        message: impl Into<String>,
        expected: Option<&str>,
    ) -> ScenarioError {
        let span = tree::parse_path(path)
            .and_then(|segs| self.root.as_ref()?.find(&segs).map(|(_, node)| node.span))
            .unwrap_or(Span::TOP);
        self.diag(Diag {
            span,
            message: message.into(),
            expected: expected.map(str::to_string),
            suggestion: None,
        })
    }
}

/// Loads `path` with the real catalog and builds it. Every check, the resource estimate
/// included, runs before anything large is allocated.
pub fn load_and_build(path: &Path, overrides: &Overrides) -> Result<Built, ScenarioErrors> {
    let file = path.display().to_string();
    let (scenario, source) = super::load_file_for_run(path, &RegistryCatalog, overrides)?;
    build(scenario, &file, &source, overrides)
}

/// Loads a scenario held in memory (the built-in default) and builds it.
pub fn load_str_and_build(
    source: &str,
    file: &str,
    overrides: &Overrides,
) -> Result<Built, ScenarioErrors> {
    let scenario = super::load_str_for_run(source, file, &RegistryCatalog, overrides)?;
    build(scenario, file, source, overrides)
}

/// Builds the session a loaded scenario describes (`overrides` applied again, in case the
/// scenario was loaded without them).
pub fn build(
    mut scenario: Scenario,
    file: &str,
    source: &str,
    overrides: &Overrides,
) -> Result<Built, ScenarioErrors> {
    let at = Locator::new(file, source);
    overrides.apply(&mut scenario);
    let limits = overrides.limits();
    let objective =
        build_objective(&scenario, &at, &limits).map_err(|e| ScenarioErrors(vec![e]))?;
    let stop = StopConfig {
        max_steps: scenario.stop.max_steps,
        max_evaluations: scenario.stop.max_evaluations,
        loss_below: scenario.stop.loss_below,
        grad_norm_below: scenario.stop.grad_norm_below,
        patience: scenario.stop.patience,
        min_delta: scenario.stop.min_delta,
        diverge_above: scenario.stop.diverge_above,
    };
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for (i, o) in scenario.optimizers.iter().enumerate() {
        match run_spec(o) {
            Ok(spec) => specs.push(spec),
            Err(message) => {
                errors.push(at.error(&format!("optimizers[{i}].schedule"), message, None))
            }
        }
    }
    if !errors.is_empty() {
        return Err(ScenarioErrors(errors));
    }
    let session = Session::new(
        scenario.name.clone(),
        objective,
        specs,
        scenario.engine,
        stop,
        scenario.seed,
    )
    .map_err(|e| ScenarioErrors(vec![at.error("optimizers", e.to_string(), None)]))?;
    let view = view_spec(&scenario);
    Ok(Built {
        scenario,
        session,
        view,
    })
}

fn view_spec(s: &Scenario) -> ViewSpec {
    let names: Vec<String> = match &s.objective {
        schema::Objective::Expr(e) => e.vars.clone().unwrap_or_default(),
        schema::Objective::Model(_) => Vec::new(),
    };
    let axis = |a: &schema::Axis| match a {
        schema::Axis::Index(i) => *i,
        schema::Axis::Name(n) => names.iter().position(|v| v == n).unwrap_or(0),
    };
    ViewSpec {
        x_range: s.view.x_range.map(|[a, b]| (a, b)),
        y_range: s.view.y_range.map(|[a, b]| (a, b)),
        log_scale: s.view.log_scale,
        plane: match (&s.view.plane, &s.objective) {
            // A model's first two weights span a flat, uninformative plane: unless the file
            // names other parameters, show the trajectories' principal plane.
            (schema::Plane::Params(a, b), schema::Objective::Model(_))
                if (axis(a), axis(b)) == (0, 1) =>
            {
                landscape::Plane::Pca
            }
            (schema::Plane::Params(a, b), _) => landscape::Plane::Params(axis(a), axis(b)),
            (schema::Plane::Pca, _) => landscape::Plane::Pca,
        },
        levels: s.view.levels,
        trail: s.view.trail,
        show: s.view.show.clone(),
    }
}

/// A file's value as the optimizer's; a name becomes the registry's own choice (the loader has
/// checked it against the registry; an unchecked one fails when the run is built).
fn hyper(optimizer: &str, key: &str, v: &schema::HyperValue) -> HyperValue {
    match *v {
        schema::HyperValue::Number(x) => HyperValue::Float(x),
        schema::HyperValue::Bool(b) => HyperValue::Bool(b),
        schema::HyperValue::Pair(a, b) => HyperValue::Pair(a, b),
        schema::HyperValue::NullPair(b) => HyperValue::OptionalPair(None, b),
        schema::HyperValue::Triple(a, b, c) => HyperValue::Triple(a, b, c),
        schema::HyperValue::Name(ref s) => registry::spec(optimizer)
            .and_then(|spec| spec.hypers().into_iter().find(|h| h.name == key))
            .and_then(|h| h.domain.parse(s).ok())
            .unwrap_or(HyperValue::Choice("")),
    }
}

fn run_spec(o: &schema::OptimizerSpec) -> Result<RunSpec, String> {
    Ok(RunSpec {
        label: o.label.clone(),
        optimizer: o.name.clone(),
        hyperparameters: o
            .hyper
            .iter()
            .map(|(k, v)| (k.clone(), hyper(&o.name, k, v)))
            .collect(),
        schedule: o.schedule.as_ref().map(schedule_of).transpose()?,
        clip: o.clip.map(|c| match c {
            schema::Clip::Norm {
                max_norm,
                norm_type,
            } => GradClip::Norm {
                max_norm,
                norm_type,
            },
            schema::Clip::Value(v) => GradClip::Value { clip_value: v },
        }),
    })
}

fn steps(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn schedule_of(s: &schema::Schedule) -> Result<schedule::Schedule, String> {
    use schedule::Schedule as S;
    Ok(match s {
        schema::Schedule::Constant(c) => {
            if c.factor != 1.0 || c.total_iters.is_some() {
                return Err(
                    "constant schedules with a factor other than 1 are not supported; \
                            use `warmup` with `start_factor`"
                        .into(),
                );
            }
            S::Constant
        }
        schema::Schedule::Step(p) => S::Step {
            step_size: steps(p.step_size),
            gamma: p.gamma,
        },
        schema::Schedule::MultiStep(p) => S::MultiStep {
            milestones: p.milestones.iter().map(|&m| steps(m)).collect(),
            gamma: p.gamma,
        },
        schema::Schedule::Exponential(p) => S::Exponential { gamma: p.gamma },
        schema::Schedule::Cosine(p) => S::CosineAnnealing {
            t_max: steps(p.t_max),
            eta_min: p.eta_min,
        },
        schema::Schedule::Warmup(w, then) => S::LinearWarmup {
            total_iters: steps(w.warmup_steps),
            start_factor: w.start_factor,
            end_factor: 1.0,
            then: Box::new(match then {
                Some(t) => schedule_of(t)?,
                None => S::Constant,
            }),
        },
        schema::Schedule::OneCycle(p) => {
            if p.anneal_strategy != schema::Anneal::Cos {
                return Err("only `anneal_strategy: cos` is supported".into());
            }
            S::OneCycle {
                max_lr: p.max_lr,
                total_steps: p.total_steps.map_or(usize::MAX, steps),
                pct_start: p.pct_start,
                div_factor: p.div_factor,
                final_div_factor: p.final_div_factor,
            }
        }
        schema::Schedule::Plateau(p) => {
            let mut plateau = schedule::Plateau::default();
            plateau.factor = p.factor;
            plateau.patience = steps(p.patience);
            plateau.threshold = p.threshold;
            plateau.min_lr = p.min_lr;
            plateau.cooldown = steps(p.cooldown);
            S::ReduceOnPlateau(plateau)
        }
    })
}

fn build_objective(
    s: &Scenario,
    at: &Locator<'_>,
    limits: &Limits,
) -> Result<Box<dyn Objective>, ScenarioError> {
    match &s.objective {
        schema::Objective::Expr(e) => {
            let parsed = Expression::parse(&e.expr).map_err(|err| {
                at.error(
                    "objective.expr",
                    err.message.clone(),
                    err.expected.as_deref(),
                )
            })?;
            let vars: Vec<String> = match (&e.vars, &e.start) {
                (Some(v), _) => v.clone(),
                (None, schema::PerVar::Named(pairs)) => {
                    pairs.iter().map(|(n, _)| n.clone()).collect()
                }
                (None, schema::PerVar::List(_)) => parsed.vars().to_vec(),
            };
            let expr = parsed
                .with_vars(&vars)
                .map_err(|err| at.error("objective.expr", err.message.clone(), None))?;
            let start = e
                .start
                .ordered(&vars)
                .filter(|v| v.len() == vars.len())
                .ok_or_else(|| {
                    at.error(
                        "objective.start",
                        format!(
                            "start must give a value for each of {}",
                            short_list(vars.iter().map(String::as_str))
                        ),
                        None,
                    )
                })?;
            let minimum = match &e.minimum {
                Some(m) => Some(
                    m.ordered(&vars)
                        .filter(|v| v.len() == vars.len())
                        .ok_or_else(|| {
                            at.error(
                                "objective.minimum",
                                format!(
                                    "minimum must give a value for each of {}",
                                    short_list(vars.iter().map(String::as_str))
                                ),
                                None,
                            )
                        })?,
                ),
                None => None,
            };
            Ok(Box::new(ExpressionObjective::new(expr, start, minimum)))
        }
        schema::Objective::Model(m) => build_model_objective(m, s, at, limits),
    }
}

fn loss_kind(l: schema::Loss) -> LossKind {
    match l {
        schema::Loss::Mse => LossKind::Mse,
        schema::Loss::Mae => LossKind::Mae,
        schema::Loss::Huber => LossKind::HUBER,
        schema::Loss::BceLogits => LossKind::BceWithLogits,
        schema::Loss::CrossEntropy => LossKind::CrossEntropy,
    }
}

fn activation(a: schema::Activation) -> Activation {
    match a {
        schema::Activation::Identity => Activation::Identity,
        schema::Activation::Relu => Activation::Relu,
        schema::Activation::Tanh => Activation::Tanh,
        schema::Activation::Sigmoid => Activation::Sigmoid,
        schema::Activation::Softplus => Activation::Softplus,
        schema::Activation::LeakyRelu => Activation::LeakyRelu,
        schema::Activation::Gelu => Activation::Gelu,
    }
}

/// How CSV or inline targets are read for this loss: real values, or class labels whose count
/// the model fixes when it can (softmax `classes`, an MLP's last width), else the data.
fn labels_for(m: &schema::ModelObjective) -> Labels {
    match m.loss {
        schema::Loss::BceLogits => Labels::Classes(Some(2)),
        schema::Loss::CrossEntropy => Labels::Classes(match &m.model {
            schema::ModelSpec::Softmax(s) => Some(s.classes),
            schema::ModelSpec::Mlp(mlp) => mlp.layers.last().copied(),
            _ => None,
        }),
        _ => Labels::Values,
    }
}

fn generate_data(
    m: &schema::ModelObjective,
    seed: u64,
    limits: &Limits,
) -> Result<Dataset, String> {
    let err = |e: data::DataError| e.to_string();
    match &m.data {
        DataSpec::Moons(d) => generate::moons(d.n, d.noise, seed).map_err(err),
        DataSpec::Xor(d) => generate::xor(d.n, d.noise, seed).map_err(err),
        DataSpec::Circles(d) => generate::circles(d.n, d.noise, d.factor, seed).map_err(err),
        DataSpec::Spirals(d) => {
            generate::spirals_with_turns(d.n, d.classes, d.turns, d.noise, seed).map_err(err)
        }
        DataSpec::Blobs(d) => {
            generate::blobs(d.n, d.centers, d.cluster_std, d.features, seed).map_err(err)
        }
        DataSpec::Linear(d) => {
            generate::linear(d.n, d.features, d.weights.as_deref(), d.bias, d.noise, seed)
                .map_err(err)
        }
        DataSpec::Sine(d) => generate::sine_on(
            d.n,
            1.0,
            d.frequency,
            0.0,
            (d.x_range[0], d.x_range[1]),
            d.noise,
            seed,
        )
        .map_err(err),
        DataSpec::Csv(c) => {
            let features: Vec<&str> = c.features.iter().map(String::as_str).collect();
            if c.delimiter != ',' {
                return Err(format!(
                    "only ',' is supported as a CSV delimiter, got '{}'",
                    c.delimiter
                ));
            }
            data::csv::load_csv_limited(
                &c.path,
                &features,
                &[c.target.as_str()],
                labels_for(m),
                limits.data_file,
                limits.file_hint(),
            )
            .map_err(|e| e.to_string())
        }
        DataSpec::Inline(i) => {
            let width = i.rows.first().map_or(0, Vec::len);
            let target = width.saturating_sub(1);
            let task = match labels_for(m) {
                Labels::Values => Task::Regression,
                Labels::Classes(Some(k)) => Task::classes(k),
                // The loader checked every label is a class index; the largest names the count.
                Labels::Classes(None) => {
                    let top = i
                        .rows
                        .iter()
                        .filter_map(|r| r.get(target))
                        .fold(0.0_f64, |a, &b| a.max(b));
                    Task::classes((top as usize).saturating_add(1).max(2))
                }
            };
            Dataset::from_rows(&i.rows, target, task).map_err(err)
        }
    }
}

fn init_of(spec: &InitSpec) -> Result<Init, String> {
    Ok(match spec {
        InitSpec::Default => Init::TorchDefault,
        InitSpec::Zeros => Init::Zeros,
        InitSpec::Uniform { a, b } => Init::Uniform { a: *a, b: *b },
        InitSpec::Normal { mean, std } => Init::Normal {
            mean: *mean,
            std: *std,
        },
        InitSpec::XavierUniform { gain } if *gain == 1.0 => Init::XavierUniform,
        InitSpec::XavierNormal { gain } if *gain == 1.0 => Init::XavierNormal,
        InitSpec::KaimingUniform {
            a,
            mode: schema::FanMode::FanIn,
        } if *a == 0.0 => Init::KaimingUniform,
        InitSpec::KaimingNormal {
            a,
            mode: schema::FanMode::FanIn,
        } if *a == 0.0 => Init::KaimingNormal,
        InitSpec::XavierUniform { .. } | InitSpec::XavierNormal { .. } => {
            return Err("only gain 1 is supported for xavier initialisation".into());
        }
        InitSpec::KaimingUniform { .. } | InitSpec::KaimingNormal { .. } => {
            return Err(
                "only a = 0 and mode fan_in are supported for kaiming initialisation".into(),
            );
        }
        InitSpec::Values(v) => Init::Values(v.clone()),
        InitSpec::File(p) => Init::File(p.clone()),
    })
}

/// Names like `W1[3,0]`, `b1[3]` for layered models, or the custom model's own names.
fn param_names<P: Predictor>(model: &P) -> Vec<String> {
    let mut names = Vec::with_capacity(model.n_params());
    let mut layer = 0;
    for g in model.param_groups() {
        match g.kind {
            ParamKind::Weight { fan_in, .. } => {
                layer += 1;
                for k in 0..g.range.len() {
                    names.push(format!(
                        "W{layer}[{},{}]",
                        k / fan_in.max(1),
                        k % fan_in.max(1)
                    ));
                }
            }
            ParamKind::Bias { .. } => {
                for k in 0..g.range.len() {
                    names.push(format!("b{layer}[{k}]"));
                }
            }
            ParamKind::Other => names.extend(g.range.map(|k| format!("p{k}"))),
        }
    }
    names
}

fn build_model_objective(
    m: &schema::ModelObjective,
    s: &Scenario,
    at: &Locator<'_>,
    limits: &Limits,
) -> Result<Box<dyn Objective>, ScenarioError> {
    let seed = s.seed;
    let data = generate_data(m, seed, limits).map_err(|e| at.error("objective.data", e, None))?;
    if let (DataSpec::Csv(_), Some(root)) = (&m.data, &at.root) {
        // Only now is a CSV file's size known: estimate again before anything grows with it.
        let size = DataSize {
            examples: data.len(),
            features: data.n_features,
        };
        let over = budget::check(s, root, Some(&RegistryCatalog), limits, Some(size));
        if let Some(first) = over.into_iter().next() {
            return Err(at.diag(first));
        }
        let (train, _) = data::split_sizes(data.len(), m.test_fraction);
        if let Some(b) = m.batch_size.filter(|&b| b > train) {
            return Err(at.error(
                "objective.batch_size",
                format!(
                    "batch_size {b} is larger than the training split ({train} of the file's {} \
                     rows{})",
                    data.len(),
                    held_out(m.test_fraction, data.len() - train)
                ),
                Some(&format!("at most {train}")),
            ));
        }
    }
    let prepared = data::prepare(&data, m.test_fraction, m.standardize, seed)
        .map_err(|e| at.error("objective.data", e.to_string(), None))?;
    let loss = Loss::new(loss_kind(m.loss)).with_l2(m.l2);
    let batch_size = m.batch_size.unwrap_or(prepared.train.len()).max(1);
    let batcher = Batcher::new(prepared.train.len(), batch_size, seed)
        .map_err(|e| at.error("objective.batch_size", e.to_string(), None))?;
    let init = init_of(&m.init).map_err(|e| at.error("objective.init", e, None))?;
    let model_err = |e: String| at.error("objective.model", e, None);
    let parts = Parts {
        loss,
        train: prepared.train,
        test: prepared.test,
        batcher,
        init,
        seed,
    };
    let n_inputs = parts.train.n_features;
    let model = match &m.model {
        schema::ModelSpec::Custom(c) => {
            let model =
                CustomModel::new(&c.expr, c.params.clone(), c.inputs.clone()).map_err(|e| {
                    at.error(
                        "objective.model.expr",
                        e.message.clone(),
                        e.expected.as_deref(),
                    )
                })?;
            let names = model.param_names().to_vec();
            return finish(model, names, parts, at);
        }
        schema::ModelSpec::Linear => Model::Linear {
            n_inputs,
            n_outputs: parts.train.n_targets,
        },
        schema::ModelSpec::Logistic => Model::Logistic { n_inputs },
        schema::ModelSpec::Softmax(s) => Model::Softmax {
            n_inputs,
            n_classes: s.classes,
        },
        schema::ModelSpec::Mlp(mlp) => {
            let mlp = match &mlp.activation {
                Activations::Hidden(a) => {
                    Mlp::with_hidden(mlp.layers.clone(), activation(*a), Activation::Identity)
                }
                Activations::PerLayer(list) => Mlp::new(
                    mlp.layers.clone(),
                    list.iter().map(|a| activation(*a)).collect(),
                ),
            }
            .map_err(|e| model_err(e.to_string()))?;
            Model::Mlp(mlp)
        }
    };
    let names = param_names(&model);
    finish(model, names, parts, at)
}

/// Everything a model objective needs besides the model.
struct Parts {
    loss: Loss,
    train: Dataset,
    test: Dataset,
    batcher: Batcher,
    init: Init,
    seed: u64,
}

fn finish<P: Predictor + Send + Sync + 'static>(
    model: P,
    names: Vec<String>,
    p: Parts,
    at: &Locator<'_>,
) -> Result<Box<dyn Objective>, ScenarioError> {
    model::check_compatible(&model, &p.loss, &p.train)
        .map_err(|e| at.error("objective.model", e.to_string(), None))?;
    let start = model::init_params(&model, &p.init, p.seed)
        .map_err(|e| at.error("objective.init", e.to_string(), None))?;
    Ok(Box::new(ModelObjective::new(
        model,
        p.loss,
        p.train,
        Some(p.test),
        start,
        p.batcher,
        names,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn error_of(path: &Path, overrides: &Overrides) -> ScenarioError {
        match load_and_build(path, overrides) {
            Ok(_) => panic!("{} built", path.display()),
            Err(e) => e.errors()[0].clone(),
        }
    }

    /// The TUI opens and hot-reloads scenarios through `load_and_build`: a scenario that cannot
    /// fit must come back as an error, before anything is built, so the TUI keeps its own.
    #[test]
    fn the_loader_the_tui_uses_refuses_what_cannot_fit() {
        for (fixture, line) in [
            ("42_resource_dataset_size", 5),
            ("43_resource_wide_mlp", 3),
            ("44_resource_layers_overflow", 5),
            ("45_resource_newton_hessian", 8),
            ("46_resource_finite_engine", 6),
            ("58_csv_is_a_device", 4),
        ] {
            let path = root().join(format!("tests/scenarios/invalid/{fixture}.yaml"));
            let e = error_of(&path, &Overrides::default());
            assert_eq!(e.line, line, "{fixture}: {e}");
        }
    }

    #[test]
    fn a_csv_file_is_estimated_again_once_its_rows_are_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iris_finite.yaml");
        let iris = root().join("tests/data/iris.csv");
        std::fs::write(
            &path,
            format!(
                "objective:\n  model: {{kind: mlp, layers: [4, 200, 200, 3]}}\n  loss: \
                 cross_entropy\n  data: {{kind: csv, path: {}, features: [sepal_length, \
                 sepal_width, petal_length, petal_width], target: species}}\nengine: finite\n\
                 optimizers: [adam]\n",
                iris.display()
            ),
        )
        .unwrap();
        // Without the rows the file alone looks cheap; with its 150 rows a finite-difference
        // gradient of 41,803 parameters is far over a step's budget.
        assert!(super::super::load_file_with(&path, &RegistryCatalog).is_ok());
        let e = error_of(&path, &Overrides::default());
        assert!(
            e.message
                .contains("finite differences make 83607 evaluations"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (5, 9));
        // A batch larger than the training split of a CSV file is refused at `batch_size`.
        std::fs::write(
            &path,
            format!(
                "objective:\n  model: {{kind: softmax, classes: 3}}\n  loss: cross_entropy\n  \
                 data: {{kind: csv, path: {}, features: [sepal_length], target: species}}\n  \
                 test_fraction: 0.2\n  batch_size: 140\noptimizers: [adam]\n",
                iris.display()
            ),
        )
        .unwrap();
        let e = error_of(&path, &Overrides::default());
        assert_eq!(
            e.message,
            "batch_size 140 is larger than the training split (120 of the file's 150 rows; \
             test_fraction 0.2 holds out 30)"
        );
        assert_eq!((e.line, e.column), (6, 15));
    }

    #[test]
    fn footprints_come_from_the_registry() {
        let fp = |name: &str, hyper: &[(&str, f64)]| {
            let hyper: Vec<(String, schema::HyperValue)> = hyper
                .iter()
                .map(|(k, v)| ((*k).to_string(), schema::HyperValue::Number(*v)))
                .collect();
            RegistryCatalog.footprint(name, &hyper).map(|f| f.step)
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
