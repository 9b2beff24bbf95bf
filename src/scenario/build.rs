//! From a loaded [`Scenario`] to a running [`Session`]: the objective (an expression bound to
//! its variables, or a dataset generated or read, a model and its starting point) and the runs.
//! Everything a scenario file can get wrong was found when it was loaded; what is found here
//! comes from outside the file (a CSV file's rows, an `init` file's values) and is reported
//! like a loader error, at the `file:line:column` of the scenario entry that named it.

// A build fails at most once per file, so a large error type costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use std::path::Path;

use super::budget::{self, DataSize, Limits};
use super::decode::{Diag, held_out};
use super::error::{ScenarioError, ScenarioErrors};
use super::load::{Loaded, Overrides};
use super::schema::{self, Activations, DataSpec, Scenario};
use super::tree::{self, Node, Span};
use crate::data::csv::Labels;
use crate::data::{self, Batcher, Dataset, Task};
use crate::expr::Expression;
use crate::landscape::ViewSpec;
use crate::model::{
    self, Activation, CustomModel, Loss, LossKind, Mlp, Model, ParamKind, Predictor,
};
use crate::objective::{ExpressionObjective, ModelObjective, Objective};
use crate::session::Session;
use crate::suggest::short_list;

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
    root: &'a Node,
}

impl<'a> Locator<'a> {
    fn new(loaded: &'a Loaded) -> Self {
        Self {
            file: &loaded.file,
            source: &loaded.source,
            root: &loaded.root,
        }
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
        crate::diagnostic::excerpt(line.unwrap_or(""), span.start.column)
    }

    /// An error at the value of `path` (e.g. `objective.data`), or at the top of the file.
    fn error(
        &self,
        path: &str,
        message: impl Into<String>,
        expected: Option<&str>,
    ) -> ScenarioError {
        let span = tree::parse_path(path)
            .and_then(|segs| self.root.find(&segs).map(|(_, node)| node.span))
            .unwrap_or(Span::TOP);
        self.diag(Diag {
            span,
            message: message.into(),
            expected: expected.map(str::to_string),
            suggestion: None,
        })
    }
}

/// Loads `path` and builds it. Every check, the resource estimate included, runs before
/// anything large is allocated.
pub fn load_and_build(path: &Path, overrides: &Overrides) -> Result<Built, ScenarioErrors> {
    build(&super::load_file_for_run(path, overrides)?, overrides)
}

/// Loads a scenario held in memory (the built-in default) and builds it.
pub fn load_str_and_build(
    source: &str,
    file: &str,
    overrides: &Overrides,
) -> Result<Built, ScenarioErrors> {
    build(
        &super::load_str_for_run(source, file, overrides)?,
        overrides,
    )
}

/// Builds the session a loaded scenario describes.
pub fn build(loaded: &Loaded, overrides: &Overrides) -> Result<Built, ScenarioErrors> {
    let at = Locator::new(loaded);
    let scenario = loaded.scenario.clone();
    let limits = overrides.limits();
    let objective =
        build_objective(&scenario, &at, &limits).map_err(|e| ScenarioErrors(vec![e]))?;
    let runs = scenario
        .optimizers
        .iter()
        .cloned()
        .map(|mut run| {
            if let Some(s) = &mut run.schedule {
                s.resolve_total_steps(scenario.stop.max_steps);
            }
            run
        })
        .collect();
    let session = Session::new(
        scenario.name.clone(),
        objective,
        runs,
        scenario.engine,
        scenario.stop.clone(),
        scenario.seed,
    )
    .map_err(|e| ScenarioErrors(vec![at.error("optimizers", e.to_string(), None)]))?;
    let view = scenario.view.clone();
    Ok(Built {
        scenario,
        session,
        view,
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

/// How CSV or inline targets are read for this loss: real values, or class labels whose count
/// the model fixes when it can (softmax `classes`, an MLP's last width), else the data.
fn labels_for(m: &schema::ModelObjective) -> Labels {
    match m.loss {
        LossKind::BceWithLogits => Labels::Classes(Some(2)),
        LossKind::CrossEntropy => Labels::Classes(match &m.model {
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
    match &m.data {
        DataSpec::Generated(g) => g.generate(seed).map_err(|e| e.to_string()),
        DataSpec::Csv(c) => {
            let features: Vec<&str> = c.features.iter().map(String::as_str).collect();
            if let Some(text) = super::bundled::data(&c.path) {
                let file = format!("{} (built in)", c.path.display());
                return data::csv::parse_delimited(
                    text,
                    &file,
                    &features,
                    &[c.target.as_str()],
                    labels_for(m),
                    c.delimiter,
                )
                .map_err(|e| e.to_string());
            }
            data::csv::load_csv_limited(
                &c.path,
                &features,
                &[c.target.as_str()],
                labels_for(m),
                c.delimiter,
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
            Dataset::from_rows(&i.rows, target, task).map_err(|e| e.to_string())
        }
    }
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
    if let DataSpec::Csv(_) = &m.data {
        let root = at.root;
        // Only now is a CSV file's size known: estimate again before anything grows with it.
        let size = DataSize {
            examples: data.len(),
            features: data.n_features,
        };
        let over = budget::check(s, root, limits, Some(size));
        if let Some(first) = over.into_iter().next() {
            return Err(at.diag(first));
        }
        let (train, _) = data::split_sizes(data.len(), m.test_fraction);
        let sizes = std::iter::once(("objective.batch_size".to_owned(), m.batch_size)).chain(
            s.optimizers
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("optimizers[{i}].batch_size"), r.batch_size)),
        );
        for (path, b) in sizes {
            let Some(b) = b.filter(|&b| b > train) else {
                continue;
            };
            return Err(at.error(
                &path,
                format!(
                    "batch_size {b} is larger than the training split ({train} of the file's {} \
                     rows{})",
                    data.len(),
                    held_out(m.test_fraction, data.len() - train)
                ),
                Some(&format!("at most {train}")),
            ));
        }
        if let Some((i, b)) = s.optimizers.iter().enumerate().find_map(|(i, r)| {
            r.batch_size
                .filter(|&b| r.is_full_batch() && b < train)
                .map(|b| (i, b))
        }) {
            return Err(at.error(
                &format!("optimizers[{i}].batch_size"),
                format!(
                    "'gd' is full-batch gradient descent: it takes all {train} training \
                     examples, not batches of {b}; minibatches are 'sgd'"
                ),
                Some(&format!("batch_size {train}, or no batch_size")),
            ));
        }
    }
    let prepared = data::prepare(&data, m.test_fraction, m.standardize, seed)
        .map_err(|e| at.error("objective.data", e.to_string(), None))?;
    let loss = Loss::new(m.loss).with_l2(m.l2);
    let batching = data::Batching {
        batch_size: m.batch_size,
        shuffle: m.shuffle,
        drop_last: m.drop_last,
    };
    let batcher = Batcher::with(prepared.train.len(), batching, seed)
        .map_err(|e| at.error("objective.batch_size", e.to_string(), None))?;
    let init = m.init.clone();
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
                    Mlp::with_hidden(mlp.layers.clone(), *a, Activation::Identity)
                }
                Activations::PerLayer(list) => Mlp::new(mlp.layers.clone(), list.clone()),
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
    init: model::Init,
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
        assert!(super::super::load_file(&path).is_ok());
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
}
