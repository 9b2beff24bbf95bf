//! From a loaded [`Scenario`] to a running [`Session`]: the real [`Catalog`] (the optimizer
//! registry and the expression language) that the loader checks against, dataset generation,
//! model construction and initialisation. Errors found here (a CSV file's bad row, a dataset
//! parameter out of range, a model that does not fit its data) are reported like loader errors,
//! at the `file:line:column` of the scenario entry that caused them.

// A build fails at most once per file, so a large error type costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use std::path::Path;

use super::catalog::{Catalog, ExprIssue, HyperInfo, HyperKind, Range};
use super::error::{ScenarioError, ScenarioErrors};
use super::schema::{self, Activations, DataSpec, InitSpec, Scenario};
use super::tree::{self, Span};
use crate::ad::Engine;
use crate::data::{self, Batcher, Dataset, Task, generate};
use crate::expr::Expression;
use crate::model::{
    self, Activation, CustomModel, Init, Loss, LossKind, Mlp, Model, ParamKind, Predictor,
};
use crate::objective::{ExpressionObjective, ModelObjective, Objective};
use crate::optim::{self, Bound, Domain, registry};
use crate::optim::{HyperValue, clip::GradClip, schedule};
use crate::session::{self, RunSpec, Session, StopConfig, ViewSpec};

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

/// What the command line may override in a scenario.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub engine: Option<Engine>,
    pub max_steps: Option<u64>,
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
        ScenarioError {
            file: self.file.to_string(),
            line: span.start.line,
            column: span.start.column,
            width: span.width(),
            message: message.into(),
            expected: expected.map(str::to_string),
            suggestion: None,
            source_line: self
                .source
                .lines()
                .nth(span.start.line.saturating_sub(1))
                .unwrap_or("")
                .to_string(),
        }
    }
}

/// Loads `path` with the real catalog and builds it.
pub fn load_and_build(path: &Path, overrides: &Overrides) -> Result<Built, ScenarioErrors> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        let locator = Locator::new(&file, "");
        ScenarioErrors(vec![locator.error(
            "",
            format!("cannot read '{file}': {e}"),
            Some("a readable scenario file"),
        )])
    })?;
    let scenario = super::load_file_with(path, &RegistryCatalog)?;
    let source = String::from_utf8_lossy(&bytes);
    build(scenario, &file, &source, overrides)
}

/// Loads a scenario held in memory (the built-in default) and builds it.
pub fn load_str_and_build(
    source: &str,
    file: &str,
    overrides: &Overrides,
) -> Result<Built, ScenarioErrors> {
    let scenario = super::load_str_with(source, file, &RegistryCatalog)?;
    build(scenario, file, source, overrides)
}

/// Builds the session a loaded scenario describes.
pub fn build(
    mut scenario: Scenario,
    file: &str,
    source: &str,
    overrides: &Overrides,
) -> Result<Built, ScenarioErrors> {
    let at = Locator::new(file, source);
    if let Some(seed) = overrides.seed {
        scenario.seed = seed;
    }
    if let Some(engine) = overrides.engine {
        scenario.engine = engine;
    }
    if let Some(steps) = overrides.max_steps {
        scenario.stop.max_steps = steps;
    }
    let objective = build_objective(&scenario, &at).map_err(|e| ScenarioErrors(vec![e]))?;
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
                session::Plane::Pca
            }
            (schema::Plane::Params(a, b), _) => session::Plane::Params(axis(a), axis(b)),
            (schema::Plane::Pca, _) => session::Plane::Pca,
        },
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

fn build_objective(s: &Scenario, at: &Locator<'_>) -> Result<Box<dyn Objective>, ScenarioError> {
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
                        format!("start must give a value for each of {}", vars.join(", ")),
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
                                    vars.join(", ")
                                ),
                                None,
                            )
                        })?,
                ),
                None => None,
            };
            Ok(Box::new(ExpressionObjective::new(expr, start, minimum)))
        }
        schema::Objective::Model(m) => build_model_objective(m, s.seed, at),
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

/// The dataset's task as the loss needs it (CSV and inline data carry no task of their own).
fn task_for(loss: schema::Loss, spec: &DataSpec) -> Task {
    match (loss, spec.shape().task) {
        (schema::Loss::BceLogits, _) => Task::Binary,
        (schema::Loss::CrossEntropy, schema::Task::Classification(k)) => Task::classes(k),
        (schema::Loss::CrossEntropy, _) => Task::Multiclass(0),
        _ => Task::Regression,
    }
}

fn generate_data(m: &schema::ModelObjective, seed: u64) -> Result<Dataset, String> {
    let err = |e: data::DataError| e.to_string();
    let task = task_for(m.loss, &m.data);
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
            let task = if task == Task::Multiclass(0) {
                Task::Multiclass(2)
            } else {
                task
            };
            data::csv::load_csv(&c.path, &features, &[c.target.as_str()], task)
                .map_err(|e| e.to_string())
                .and_then(|d| fix_multiclass(d, m.loss))
        }
        DataSpec::Inline(i) => {
            let width = i.rows.first().map_or(0, Vec::len);
            let task = if task == Task::Multiclass(0) {
                Task::Multiclass(2)
            } else {
                task
            };
            Dataset::from_rows(&i.rows, width.saturating_sub(1), task)
                .map_err(err)
                .and_then(|d| fix_multiclass(d, m.loss))
        }
    }
}

/// For cross-entropy on CSV or inline data, the class count is the largest label plus one.
fn fix_multiclass(mut d: Dataset, loss: schema::Loss) -> Result<Dataset, String> {
    if loss == schema::Loss::CrossEntropy {
        let k = d.targets.iter().fold(0.0_f64, |a, &b| a.max(b)) as usize + 1;
        d.task = Task::classes(k.max(2));
    }
    Ok(d)
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
    seed: u64,
    at: &Locator<'_>,
) -> Result<Box<dyn Objective>, ScenarioError> {
    let data = generate_data(m, seed).map_err(|e| at.error("objective.data", e, None))?;
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
