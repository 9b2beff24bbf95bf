//! From the located tree to a typed [`Scenario`]: walks the document section by section and
//! entry by entry, so one bad optimizer or expectation does not hide the next, and checks
//! everything a file can get wrong: shapes, types and keys (serde, located by
//! [`de`](super::de)), the runtime types' own rules ([`Validate`]), optimizer names and
//! hyperparameters against the registry (the same check the running optimizer makes),
//! expressions against the expression language, and what only the whole scenario can tell
//! (a model against its data, labels, per-variable values, the plane's axes).

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;

use super::de::{DeKind, Skip, fields_of, from_entry, from_node, variants_of};
use super::schema::{
    Activations, Axis, CustomSpec, DataSpec, ExprObjective, InlineData, ModelObjective, ModelSpec,
    Objective, PerVar, PlaneSpec, Scenario,
};
use super::tree::{Node, NodeKind, Resolved, Span, parse_path, resolve};
use crate::ad::{Engine, dual::MAX_CHUNK};
use crate::data::csv::{CsvSpec, MAX_DERIVED_CLASSES};
use crate::data::generate::Generator;
use crate::data::{Task, class_labels, split_sizes};
use crate::expr::Expression;
use crate::headless::expect::{Check, Expectation};
use crate::landscape::{Plane, ViewSpec};
use crate::model::{CustomModel, Init, LossKind};
use crate::optim::{Domain, HyperValue, OptimError, Optimizer, registry};
use crate::session::{RunSpec, StopConfig};
use crate::suggest::{nearest, one_of, short_list};
use crate::valid::{INF, Range, Validate, ge};

/// One located problem, before it is given a file name and a source line.
#[derive(Debug, Clone, PartialEq)]
pub struct Diag {
    pub span: Span,
    pub message: String,
    pub expected: Option<String>,
    pub suggestion: Option<String>,
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "objective",
    "engine",
    "optimizers",
    "stop",
    "view",
    "expect",
];
const MODEL_OBJECTIVE_KEYS: &[&str] = &[
    "model",
    "loss",
    "l2",
    "data",
    "batch_size",
    "shuffle",
    "drop_last",
    "init",
    "test_fraction",
    "standardize",
];
const ENGINES: &[&str] = &["forward", "reverse", "finite"];
/// An optimizer entry's own engine (`engine: forward`), read like the scenario's: a key of the
/// entry beside the spec's serde fields, as its hyperparameters are.
const RUN_ENGINE: &str = "engine";
const TOP_EXPECTED: &str = "a mapping with `objective` and `optimizers`";

/// Most problems recorded for one file (far more than are shown: see the loader's
/// `MAX_REPORTED`).
pub const MAX_DIAGS: usize = 1000;

struct Decoder {
    diags: Vec<Diag>,
    /// One optimizer of each registered name the file uses, built with its defaults: the
    /// hyperparameters of every entry are set on it, which is the check a run makes.
    defaults: HashMap<String, Box<dyn Optimizer>>,
}

/// Decodes the document root; `Err` holds every problem found.
pub fn decode(root: &Node, default_name: &str) -> Result<Scenario, Vec<Diag>> {
    let mut d = Decoder {
        diags: Vec::new(),
        defaults: HashMap::new(),
    };
    let scenario = d.scenario(root, default_name);
    match scenario {
        Some(s) if d.diags.is_empty() => Ok(s),
        _ => Err(d.diags),
    }
}

fn value_span(node: &Node, key: &str) -> Span {
    node.get(key).map_or(node.span, |v| v.span)
}

fn key_span(node: &Node, key: &str) -> Span {
    node.entry(key).map_or(node.span, |(k, _)| k.span)
}

/// Where `path` (`then.gamma`, below `node`) is written, or the nearest enclosing node that is:
/// a rule broken by a default value points at the mapping that left it out.
fn locate(node: &Node, path: &str) -> Span {
    let mut at = node;
    for seg in parse_path(path).unwrap_or_default() {
        match at.find(std::slice::from_ref(&seg)) {
            Some((_, n)) => at = n,
            None => break,
        }
    }
    at.span
}

/// The dataset kinds: every generator's, then the files'.
fn data_kinds() -> Vec<&'static str> {
    let mut kinds = variants_of::<Generator>().to_vec();
    kinds.extend(["csv", "inline"]);
    kinds
}

/// The variables `expr` uses in first-use order, or its first error as a message and a
/// character offset into `expr`.
fn expression_variables(expr: &str) -> Result<Vec<String>, (String, usize)> {
    Expression::parse(expr)
        .map(|e| e.vars().to_vec())
        .map_err(|e| (expression_message(&e), offset_of(expr, e.span.start)))
}

/// An expression error as one line: its message, what was expected, its hint.
fn expression_message(e: &crate::expr::ExprError) -> String {
    let mut message = e.message.clone();
    if let Some(expected) = &e.expected {
        message.push_str(&format!(" (expected {expected})"));
    }
    if let Some(s) = &e.suggestion {
        message.push_str(&format!("; {s}"));
    }
    message
}

/// The character offset of byte `byte` in `text`.
fn offset_of(text: &str, byte: usize) -> usize {
    text.get(..byte.min(text.len()))
        .map_or(0, |t| t.chars().count())
}

/// The span of the character at `offset` inside a one-line string scalar, else the scalar.
fn inside(node: &Node, offset: usize) -> Span {
    let mut span = node.span;
    if span.start.line == span.end.line {
        let quoted = usize::from(matches!(node.kind, NodeKind::Scalar { plain: false, .. }));
        span.start.column += offset + quoted;
        span.end = span.start;
    }
    span
}

impl Decoder {
    fn err(&mut self, span: Span, message: impl Into<String>) {
        self.err_full(span, message, None, None);
    }

    /// Whether enough problems are known: a generated file can hold a million mistakes, and
    /// only the first few are ever shown, so loops over entries stop here.
    fn saturated(&self) -> bool {
        self.diags.len() >= MAX_DIAGS
    }

    fn err_full(
        &mut self,
        span: Span,
        message: impl Into<String>,
        expected: Option<String>,
        suggestion: Option<String>,
    ) {
        if self.saturated() {
            return;
        }
        self.diags.push(Diag {
            span,
            message: message.into(),
            expected,
            suggestion,
        });
    }

    /// Serde-decodes `node`, hiding the keys `skip` names; `what` names a bare value in
    /// messages about whole numbers (`'seed' is not a whole number`).
    fn de<T: DeserializeOwned>(&mut self, node: &Node, skip: Skip, what: &str) -> Option<T> {
        match from_node::<T>(node, skip) {
            Ok(v) => Some(v),
            Err(e) => {
                let message = match &e.kind {
                    // A bare value (`seed: ...`) has no key inside it to name: `what` is it.
                    DeKind::Integer
                        if !e.message.starts_with('\'') && e.span == Some(node.span) =>
                    {
                        format!("'{what}' is {}", e.message)
                    }
                    _ => e.message,
                };
                self.err_full(
                    e.span.unwrap_or(node.span),
                    message,
                    e.expected,
                    e.suggestion,
                );
                None
            }
        }
    }

    /// Runs `value`'s own checks, each problem at its key below `node`; true when there is none.
    fn validate(&mut self, node: &Node, value: &impl Validate) -> bool {
        let problems = value.problems();
        let ok = problems.is_empty();
        for p in problems {
            self.err_full(locate(node, &p.key), p.message, p.expected, None);
        }
        ok
    }

    /// Decodes `node` and runs its checks.
    fn checked<T: DeserializeOwned + Validate>(
        &mut self,
        node: &Node,
        skip: Skip,
        what: &str,
    ) -> Option<T> {
        let value: T = self.de(node, skip, what)?;
        self.validate(node, &value);
        Some(value)
    }

    /// The entries of a mapping, reporting keys outside `known` (`None` when not a mapping).
    fn map<'n>(
        &mut self,
        node: &'n Node,
        known: &[&str],
        what: &str,
    ) -> Option<&'n [(Node, Node)]> {
        let NodeKind::Map(entries) = &node.kind else {
            self.err_full(
                node.span,
                format!("wrong type for {what}: found {}", node.describe()),
                Some("a mapping".into()),
                None,
            );
            return None;
        };
        for (k, _) in entries {
            let name = k.as_str().unwrap_or("?");
            if !known.contains(&name) {
                self.err_full(
                    k.span,
                    format!("unknown key '{name}' in {what}"),
                    Some(one_of(known.iter().copied())),
                    nearest(name, known.iter().copied()),
                );
            }
        }
        Some(entries)
    }

    fn range(&mut self, node: &Node, key: &str, value: f64, range: Range) {
        if !range.contains(value) {
            self.err_full(
                value_span(node, key),
                format!("'{key}' is out of range: {value}"),
                Some(range.expected()),
                None,
            );
        }
    }

    /// Refuses every non-finite number (`.nan`, `.inf`) in `node` and below, where none makes
    /// sense; true when there is none.
    fn finite_all(&mut self, node: Option<&Node>, what: &str) -> bool {
        let Some(node) = node else { return true };
        match &node.kind {
            NodeKind::Scalar { text, plain } => match resolve(text, *plain) {
                Resolved::Float(x) if !x.is_finite() => {
                    self.err_full(
                        node.span,
                        format!("{what} must be finite, found {text}"),
                        Some("a finite number".into()),
                        None,
                    );
                    false
                }
                _ => true,
            },
            // Every bad value is reported, so no short-circuit.
            NodeKind::Seq(items) => {
                let mut ok = true;
                for item in items {
                    ok &= self.finite_all(Some(item), what);
                }
                ok
            }
            NodeKind::Map(entries) => {
                let mut ok = true;
                for (_, v) in entries {
                    ok &= self.finite_all(Some(v), what);
                }
                ok
            }
        }
    }

    fn at_least_one(&mut self, node: &Node, key: &str, value: u64) {
        if value == 0 {
            self.err_full(
                value_span(node, key),
                format!("'{key}' must be at least 1, found 0"),
                Some("a whole number >= 1".into()),
                None,
            );
        }
    }

    fn scenario(&mut self, root: &Node, default_name: &str) -> Option<Scenario> {
        if !matches!(root.kind, NodeKind::Map(_)) {
            self.err_full(
                root.span,
                format!("the scenario must be a mapping, found {}", root.describe()),
                Some(TOP_EXPECTED.into()),
                None,
            );
            return None;
        }
        self.map(root, TOP_KEYS, "the scenario");
        let name = root
            .get("name")
            .and_then(|n| self.de::<String>(n, Skip::NONE, "name"))
            .unwrap_or_else(|| default_name.to_string());
        let description = root
            .get("description")
            .and_then(|n| self.de::<String>(n, Skip::NONE, "description"))
            .unwrap_or_default();
        let seed = root
            .get("seed")
            .map_or(Some(0), |n| self.de::<u64>(n, Skip::NONE, "seed"));

        let objective = match root.get("objective") {
            Some(n) => self.objective(n),
            None => {
                self.err_full(
                    Span::TOP,
                    "missing key 'objective'",
                    Some(
                        "`objective:` with `expr` (an expression) or `model` (a model to fit)"
                            .into(),
                    ),
                    None,
                );
                None
            }
        };
        let engine = root
            .get("engine")
            .map_or(Some(Engine::Reverse), |n| self.engine(n));
        let stop = root.get("stop").map_or(Some(StopConfig::default()), |n| {
            self.checked::<StopConfig>(n, Skip::NONE, "stop")
        });
        let optimizers = match root.get("optimizers") {
            Some(n) => self.optimizers(n),
            None => {
                self.err_full(
                    Span::TOP,
                    "missing key 'optimizers'",
                    Some("a list of runs, e.g. `optimizers: [{name: adam, lr: 0.01}]`".into()),
                    None,
                );
                None
            }
        };
        if let (Some(o), Some(specs), Some(items)) = (
            objective.as_ref(),
            optimizers.as_ref(),
            root.get("optimizers"),
        ) {
            self.check_run_batches(items, o, specs);
        }
        if let (Some(stop), Some(specs), Some(NodeKind::Seq(items))) = (
            stop.as_ref(),
            optimizers.as_ref(),
            root.get("optimizers").map(|n| &n.kind),
        ) {
            self.check_schedule_budgets(items, specs, stop.max_steps);
        }
        let labels = root.get("optimizers").map(raw_labels).unwrap_or_default();
        let view = self.view(root.get("view"), objective.as_ref(), &labels);
        let expect = root.get("expect").map_or(Some(Vec::new()), |n| {
            self.expect(n, objective.as_ref(), &labels)
        });
        Some(Scenario {
            name,
            description,
            seed: seed?,
            objective: objective?,
            engine: engine?,
            optimizers: optimizers?,
            stop: stop?,
            view: view?,
            expect: expect?,
        })
    }

    fn engine(&mut self, node: &Node) -> Option<Engine> {
        let (name_node, map) = match &node.kind {
            NodeKind::Scalar { .. } => (node, None),
            NodeKind::Map(_) => {
                self.map(node, &["kind", "chunk"], "engine");
                let Some(k) = node.get("kind") else {
                    self.err_full(
                        node.span,
                        "missing key 'kind' in engine",
                        Some(one_of(ENGINES.iter().copied())),
                        None,
                    );
                    return None;
                };
                (k, Some(node))
            }
            NodeKind::Seq(_) => {
                self.err_full(
                    node.span,
                    "wrong type for engine: found a list",
                    Some(format!(
                        "{} or {{kind: forward, chunk: 8}}",
                        one_of(ENGINES.iter().copied())
                    )),
                    None,
                );
                return None;
            }
        };
        let name = name_node.as_str().unwrap_or("");
        let chunk = match map.and_then(|m| m.get("chunk")) {
            Some(c) => {
                let chunk = self.de::<usize>(c, Skip::NONE, "chunk")?;
                if name != "forward" {
                    self.err(c.span, "'chunk' applies only to the forward engine");
                }
                if chunk == 0 || chunk > MAX_CHUNK {
                    self.err_full(
                        c.span,
                        format!("'chunk' is out of range: {chunk}"),
                        Some(format!("a whole number in [1, {MAX_CHUNK}]")),
                        None,
                    );
                }
                chunk
            }
            None => MAX_CHUNK,
        };
        match name {
            "forward" => Some(Engine::Forward { chunk }),
            "reverse" => Some(Engine::Reverse),
            "finite" => Some(Engine::Finite),
            other => {
                self.err_full(
                    name_node.span,
                    format!("unknown engine '{other}'"),
                    Some(one_of(ENGINES.iter().copied())),
                    nearest(other, ENGINES.iter().copied()),
                );
                None
            }
        }
    }

    // ----- objective -----

    fn objective(&mut self, node: &Node) -> Option<Objective> {
        let NodeKind::Map(entries) = &node.kind else {
            self.err_full(
                node.span,
                format!("wrong type for objective: found {}", node.describe()),
                Some("a mapping with `expr` or `model`".into()),
                None,
            );
            return None;
        };
        match (node.entry("expr"), node.entry("model")) {
            (Some(_), Some((model_key, _))) => {
                self.err_full(
                    model_key.span,
                    "an objective has either `expr` or `model`, not both",
                    None,
                    None,
                );
                None
            }
            (Some(_), None) => {
                let e: ExprObjective = self.de(node, Skip::NONE, "objective")?;
                self.check_expr(node, &e);
                Some(Objective::Expr(e))
            }
            (None, Some(_)) => self
                .model_objective(node)
                .map(|m| Objective::Model(Box::new(m))),
            (None, None) => {
                let typo = entries.iter().find_map(|(k, _)| {
                    nearest(k.as_str().unwrap_or(""), ["expr", "model"]).map(|s| (k.span, s))
                });
                let (span, suggestion) = match typo {
                    Some((span, s)) => (span, Some(s)),
                    None => (node.span, None),
                };
                self.err_full(
                    span,
                    "the objective needs `expr` (an expression to minimise) or `model` (a model to fit)",
                    Some("`expr: \"...\"` or `model: {kind: ...}`".into()),
                    suggestion,
                );
                None
            }
        }
    }

    fn check_expr(&mut self, node: &Node, e: &ExprObjective) {
        let expr_node = node.get("expr");
        let mut vars: Option<Vec<String>> = e.vars.clone();
        // Without `vars`, a `start` mapping names the variables: the expression's must be there.
        let mut used_vars: Option<Vec<String>> = None;
        if let (Some(v), Some(vn)) = (&e.vars, node.get("vars")) {
            let mut seen = HashSet::new();
            if let NodeKind::Seq(items) = &vn.kind {
                for (name, item) in v.iter().zip(items) {
                    if !seen.insert(name.clone()) {
                        self.err(item.span, format!("variable '{name}' is listed twice"));
                    }
                }
            }
        }
        if let Some(en) = expr_node {
            match expression_variables(&e.expr) {
                Ok(used) => {
                    if let Some(declared) = &vars {
                        let declared_set: HashSet<&String> = declared.iter().collect();
                        for u in &used {
                            if !declared_set.contains(u) {
                                self.err_full(
                                    en.span,
                                    format!("the expression uses '{u}', which is not in `vars`"),
                                    Some(one_of(declared.iter().map(String::as_str))),
                                    None,
                                );
                            }
                        }
                    } else if matches!(e.start, PerVar::Named(_)) {
                        used_vars = Some(used);
                    } else {
                        vars = Some(used);
                    }
                }
                Err((message, offset)) => {
                    self.err(inside(en, offset), format!("invalid expression: {message}"));
                }
            }
        }
        if vars.is_none()
            && let PerVar::Named(pairs) = &e.start
        {
            vars = Some(pairs.iter().map(|(n, _)| n.clone()).collect());
        }
        for key in ["start", "minimum", "bounds"] {
            self.finite_all(node.get(key), &format!("every value of `{key}`"));
        }
        if let (Some(used), Some(n)) = (&used_vars, node.get("start")) {
            self.check_per_var(n, "start", used, None, Names::UsedByExpression);
        }
        let Some(vars) = vars else { return };
        for key in ["start", "minimum", "bounds"] {
            let Some(n) = node.get(key) else { continue };
            let len = match key {
                "start" => Some(e.start.len()),
                "minimum" => e.minimum.as_ref().map(PerVar::len),
                _ => e.bounds.as_ref().map(PerVar::len),
            };
            self.check_per_var(n, key, &vars, len, Names::Variables);
        }
        if let (Some(PerVar::List(b)), Some(bn)) = (&e.bounds, node.get("bounds")) {
            if let NodeKind::Seq(items) = &bn.kind {
                for (pair, item) in b.iter().zip(items) {
                    if !increasing(pair[0], pair[1]) {
                        self.err(
                            item.span,
                            format!(
                                "bounds [{}, {}] are empty: low must be below high",
                                pair[0], pair[1]
                            ),
                        );
                    }
                }
            }
        }
        if let (Some(PerVar::Named(b)), Some(NodeKind::Map(entries))) =
            (&e.bounds, node.get("bounds").map(|n| &n.kind))
        {
            for ((_, pair), (_, value)) in b.iter().zip(entries) {
                if !increasing(pair[0], pair[1]) {
                    self.err(
                        value.span,
                        format!(
                            "bounds [{}, {}] are empty: low must be below high",
                            pair[0], pair[1]
                        ),
                    );
                }
            }
        }
    }

    fn check_per_var(
        &mut self,
        n: &Node,
        what: &str,
        vars: &[String],
        len: Option<usize>,
        names: Names,
    ) {
        let var_list = short_list(vars.iter().map(String::as_str));
        match &n.kind {
            NodeKind::Seq(_) => {
                if let Some(len) = len.filter(|&len| len != vars.len()) {
                    self.err_full(
                        n.span,
                        format!(
                            "`{what}` has {len} value(s) but there are {} variable(s) \
                             ({var_list})",
                            vars.len()
                        ),
                        Some(format!("{} value(s)", vars.len())),
                        None,
                    );
                }
            }
            NodeKind::Map(entries) => {
                // Sets, not scans: a generated scenario may name a great many variables.
                let given: HashSet<&str> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
                let known: HashSet<&str> = vars.iter().map(String::as_str).collect();
                let missing: Vec<&str> = vars
                    .iter()
                    .map(String::as_str)
                    .filter(|v| !given.contains(v))
                    .collect();
                let stray: Vec<(&Node, &str)> = entries
                    .iter()
                    .map(|(k, _)| (k, k.as_str().unwrap_or("")))
                    .filter(|(_, name)| !known.contains(name))
                    .collect();
                // A name that is not a variable is most likely the mistake (a typo for the one
                // missing): point at it and mention what is missing, rather than at the mapping.
                let stray_is_wrong =
                    !stray.is_empty() && (names == Names::Variables || !missing.is_empty());
                if stray_is_wrong {
                    let source = match names {
                        Names::Variables => "the variables are",
                        Names::UsedByExpression => "the expression uses",
                    };
                    let lacking = match missing.as_slice() {
                        [] => String::new(),
                        [one] => format!("; '{one}' has no value"),
                        more => format!("; {} have no value", quoted(more)),
                    };
                    for (k, name) in stray {
                        if self.saturated() {
                            break;
                        }
                        self.err_full(
                            k.span,
                            format!(
                                "`{what}` names '{name}', which is not a variable ({source} \
                                 {var_list}{lacking})"
                            ),
                            Some(one_of(vars.iter().map(String::as_str))),
                            nearest(name, missing.iter().copied())
                                .or_else(|| nearest(name, vars.iter().map(String::as_str))),
                        );
                    }
                } else {
                    for v in missing {
                        self.err_full(
                            n.span,
                            format!("`{what}` is missing variable '{v}'"),
                            Some(format!("a value for each of {var_list}")),
                            None,
                        );
                    }
                }
            }
            NodeKind::Scalar { .. } => {}
        }
    }

    fn model_objective(&mut self, node: &Node) -> Option<ModelObjective> {
        self.map(node, MODEL_OBJECTIVE_KEYS, "a model objective");
        let model = node
            .get("model")
            .and_then(|n| self.de::<ModelSpec>(n, Skip::NONE, "model"));
        let loss = match node.get("loss") {
            Some(n) => self.checked::<LossKind>(n, Skip::NONE, "loss"),
            None => {
                self.err_full(
                    key_span(node, "model"),
                    "missing key 'loss' in a model objective",
                    Some(format!(
                        "loss {}",
                        one_of(variants_of::<LossKind>().iter().copied())
                    )),
                    None,
                );
                None
            }
        };
        let data = match node.get("data") {
            Some(n) => self.data(n),
            None => {
                self.err_full(
                    key_span(node, "model"),
                    "missing key 'data' in a model objective",
                    Some(format!("data with kind {}", one_of(data_kinds()))),
                    None,
                );
                None
            }
        };
        let l2 = node
            .get("l2")
            .map_or(Some(0.0), |n| self.de::<f64>(n, Skip::NONE, "l2"));
        if let Some(x) = l2 {
            self.range(node, "l2", x, Range::new(ge(0.0), INF));
        }
        let batch_size = match node.get("batch_size") {
            Some(n) if !n.is_null() => {
                let b = self.de::<usize>(n, Skip::NONE, "batch_size");
                if b == Some(0) {
                    self.at_least_one(node, "batch_size", 0);
                }
                b.map(Some)
            }
            _ => Some(None),
        };
        let shuffle = node
            .get("shuffle")
            .map_or(Some(true), |n| self.de::<bool>(n, Skip::NONE, "shuffle"));
        let drop_last = node
            .get("drop_last")
            .map_or(Some(false), |n| self.de::<bool>(n, Skip::NONE, "drop_last"));
        let init = node
            .get("init")
            .map_or(Some(Init::TorchDefault), |n| self.init(n));
        let test_fraction = node.get("test_fraction").map_or(Some(0.0), |n| {
            self.de::<f64>(n, Skip::NONE, "test_fraction")
        });
        if let Some(t) = test_fraction {
            self.range(
                node,
                "test_fraction",
                t,
                Range::new(ge(0.0), crate::valid::lt(1.0)),
            );
        }
        let standardize = node.get("standardize").map_or(Some(true), |n| {
            self.de::<bool>(n, Skip::NONE, "standardize")
        });
        let m = ModelObjective {
            model: model?,
            loss: loss?,
            l2: l2?,
            data: data?,
            batch_size: batch_size?,
            shuffle: shuffle?,
            drop_last: drop_last?,
            init: init?,
            test_fraction: test_fraction?,
            standardize: standardize?,
        };
        self.check_model(node, &m);
        Some(m)
    }

    fn data(&mut self, node: &Node) -> Option<DataSpec> {
        let kinds = data_kinds();
        let kind = match &node.kind {
            NodeKind::Map(_) => node.get("kind"),
            NodeKind::Scalar { .. } => Some(node),
            NodeKind::Seq(_) => None,
        };
        let Some(kind) = kind else {
            self.err_full(
                node.span,
                match node.kind {
                    NodeKind::Map(_) => "missing key 'kind' in dataset".to_string(),
                    _ => format!("wrong type for dataset: found {}", node.describe()),
                },
                Some(format!("kind {}", one_of(kinds.iter().copied()))),
                None,
            );
            return None;
        };
        let name = kind.as_str().unwrap_or("");
        let d = match name {
            "csv" => DataSpec::Csv(self.checked::<CsvSpec>(node, Skip::Keys(&["kind"]), "data")?),
            "inline" => {
                let i: InlineData = self.de(node, Skip::Keys(&["kind"]), "data")?;
                self.finite_all(node.get("rows"), "every value of 'rows'");
                self.check_rows(node, &i.rows);
                DataSpec::Inline(i)
            }
            _ => {
                let g: Generator = self.de(node, Skip::NONE, "data")?;
                if let Generator::Linear { .. } = g {
                    self.finite_all(node.get("weights"), "'weights'");
                    self.finite_all(node.get("bias"), "'bias'");
                }
                if let Generator::Sine { .. } = g {
                    self.finite_all(node.get("frequency"), "'frequency'");
                    if !self.finite_all(node.get("x_range"), "'x_range'") {
                        return None;
                    }
                }
                self.validate(node, &g);
                DataSpec::Generated(g)
            }
        };
        Some(d)
    }

    fn check_rows(&mut self, node: &Node, rows: &[Vec<f64>]) {
        let Some(first) = rows.first() else {
            self.err_full(
                value_span(node, "rows"),
                "'rows' is empty",
                Some("rows [features..., target]".into()),
                None,
            );
            return;
        };
        let items: &[Node] = match node.get("rows").map(|r| &r.kind) {
            Some(NodeKind::Seq(items)) => items,
            _ => &[],
        };
        if first.len() < 2 {
            self.err_full(
                items.first().map_or(node.span, |n| n.span),
                format!("a row has {} value(s)", first.len()),
                Some("at least one feature and the target: [x, y]".into()),
                None,
            );
        }
        for (i, row) in rows.iter().enumerate().skip(1) {
            if row.len() != first.len() {
                self.err_full(
                    items.get(i).map_or(node.span, |n| n.span),
                    format!(
                        "row {} has {} value(s) but the first row has {}",
                        i + 1,
                        row.len(),
                        first.len()
                    ),
                    Some(format!("{} values", first.len())),
                    None,
                );
            }
        }
    }

    fn init(&mut self, node: &Node) -> Option<Init> {
        match &node.kind {
            NodeKind::Seq(_) => {
                let values = self
                    .de::<Vec<f64>>(node, Skip::NONE, "init")
                    .map(Init::Values);
                self.finite_all(Some(node), "every init value")
                    .then_some(values)?
            }
            NodeKind::Map(_) if node.get("file").is_some() && node.get("kind").is_none() => {
                self.map(node, &["file"], "init")?;
                self.de(node.get("file")?, Skip::NONE, "file")
                    .map(Init::File)
            }
            _ => {
                let init: Init = self.de(node, Skip::NONE, "init")?;
                // Source text in the message (`.inf`, not `inf`) for the non-finite ones.
                if self.finite_all(Some(node), "init's options") {
                    self.validate(node, &init);
                }
                Some(init)
            }
        }
    }

    fn check_model(&mut self, node: &Node, m: &ModelObjective) {
        let (features, task) = (m.data.features(), m.data.task());
        let model_node = node.get("model");
        let loss_span = value_span(node, "loss");
        if m.loss.is_classification() && task == Some(Task::Regression) {
            self.err_full(
                loss_span,
                format!(
                    "loss '{}' needs class labels, but this dataset is a regression task",
                    m.loss.name()
                ),
                Some("mse, mae or huber".into()),
                None,
            );
        }
        let outputs = match &m.model {
            ModelSpec::Mlp(mlp) => {
                let layers_node = model_node.and_then(|n| n.get("layers"));
                let layer_span = |i: usize| match layers_node.map(|n| &n.kind) {
                    Some(NodeKind::Seq(items)) => items.get(i).map(|n| n.span),
                    _ => None,
                };
                let lspan = layers_node.map_or(node.span, |n| n.span);
                if mlp.layers.len() < 2 {
                    self.err_full(
                        lspan,
                        format!(
                            "an mlp needs at least 2 layer widths, found {}",
                            mlp.layers.len()
                        ),
                        Some("[inputs, ..., outputs], e.g. [2, 16, 1]".into()),
                        None,
                    );
                    return;
                }
                for (i, w) in mlp.layers.iter().enumerate() {
                    if *w == 0 {
                        self.err(
                            layer_span(i).unwrap_or(lspan),
                            format!("layers[{i}] is 0; every layer needs at least one unit"),
                        );
                    }
                }
                if features > 0 && mlp.layers[0] != features {
                    self.err_full(
                        layer_span(0).unwrap_or(lspan),
                        format!(
                            "layers[0] is {} but the dataset has {features} feature(s)",
                            mlp.layers[0]
                        ),
                        Some(format!("{features}")),
                        None,
                    );
                }
                if let Activations::PerLayer(acts) = &mlp.activation
                    && acts.len() != mlp.layers.len() - 1
                {
                    self.err_full(
                        model_node.map_or(node.span, |n| value_span(n, "activation")),
                        format!(
                            "{} activation(s) for {} layer transition(s)",
                            acts.len(),
                            mlp.layers.len() - 1
                        ),
                        Some(format!("one name, or a list of {}", mlp.layers.len() - 1)),
                        None,
                    );
                }
                mlp.layers.last().copied()
            }
            ModelSpec::Linear | ModelSpec::Logistic => Some(1),
            ModelSpec::Softmax(s) => {
                if s.classes < 2 {
                    self.err_full(
                        model_node.map_or(node.span, |n| value_span(n, "classes")),
                        format!("softmax needs at least 2 classes, found {}", s.classes),
                        Some("a whole number >= 2".into()),
                        None,
                    );
                }
                Some(s.classes)
            }
            ModelSpec::Custom(c) => {
                if self.check_custom_names(model_node, c) {
                    self.check_custom_expr(model_node, c);
                }
                if features > 0 && c.inputs.len() != features {
                    self.err_full(
                        model_node.map_or(node.span, |n| value_span(n, "inputs")),
                        format!("the custom model has {} input(s) but the dataset has {features} feature(s)", c.inputs.len()),
                        Some(format!("{features} input name(s)")),
                        None,
                    );
                }
                Some(1)
            }
        };
        if let Some(out) = outputs {
            let out_span = model_node.map_or(node.span, |n| n.span);
            match m.loss {
                LossKind::CrossEntropy => {
                    if let Some(k) = task.and_then(Task::n_classes) {
                        if out != k {
                            self.err_full(
                                out_span,
                                format!(
                                    "the model has {out} output(s) but the dataset has {k} classes"
                                ),
                                Some(format!("{k} outputs for cross_entropy")),
                                None,
                            );
                        }
                    } else if out < 2 {
                        self.err_full(
                            out_span,
                            format!(
                                "loss 'cross_entropy' needs an output per class (at least 2), \
                                 but the model has {out}"
                            ),
                            Some("a model with one output per class, or loss bce_logits".into()),
                            None,
                        );
                    }
                }
                _ if out != 1 => {
                    self.err_full(
                        out_span,
                        format!(
                            "the model has {out} outputs but loss '{}' takes one",
                            m.loss.name()
                        ),
                        Some("1 output, or loss cross_entropy".into()),
                        None,
                    );
                }
                _ => {}
            }
        }
        if let DataSpec::Inline(rows) = &m.data {
            let fixed = match m.loss {
                LossKind::BceWithLogits => Some(Some(2)),
                LossKind::CrossEntropy => Some(outputs.filter(|&o| o >= 2)),
                _ => None,
            };
            if let Some(fixed) = fixed {
                self.check_inline_labels(node.get("data"), &rows.rows, fixed);
            }
        }
        if let Init::Values(v) = &m.init
            && let Some(count) = param_count(&m.model, features)
            && v.len() != count
        {
            self.err_full(
                value_span(node, "init"),
                format!(
                    "init has {} value(s) but the model has {count} parameter(s)",
                    v.len()
                ),
                Some(format!("{count} numbers")),
                None,
            );
        }
        // Minibatches are drawn from the training split, not the whole dataset.
        if let (Some(b), Some(n)) = (m.batch_size, m.data.examples()) {
            self.batch_within_train(node, b, n, m.test_fraction);
        }
    }

    /// A custom model's expression, over its parameters and inputs, as the model parses it.
    fn check_custom_expr(&mut self, model_node: Option<&Node>, c: &CustomSpec) {
        if let Err(e) = CustomModel::new(&c.expr, c.params.clone(), c.inputs.clone()) {
            let span = match model_node.and_then(|n| n.get("expr")) {
                Some(en) => inside(en, offset_of(&c.expr, e.span.start)),
                None => model_node.map_or(Span::TOP, |n| n.span),
            };
            self.err_full(
                span,
                format!("invalid expression: {}", expression_message(&e)),
                None,
                None,
            );
        }
    }

    /// A custom model's names: each parameter and input once, and no name in both lists (the
    /// expression could not tell which one it means). True when they are.
    fn check_custom_names(&mut self, model_node: Option<&Node>, c: &CustomSpec) -> bool {
        let before = self.diags.len();
        let items = |key: &str| -> Vec<&Node> {
            match model_node.and_then(|n| n.get(key)).map(|n| &n.kind) {
                Some(NodeKind::Seq(items)) => items.iter().collect(),
                _ => Vec::new(),
            }
        };
        let (param_items, input_items) = (items("params"), items("inputs"));
        let mut first_input: HashMap<&str, usize> = HashMap::new();
        for (key, names, nodes) in [
            ("params", &c.params, &param_items),
            ("inputs", &c.inputs, &input_items),
        ] {
            let mut first: HashMap<&str, usize> = HashMap::with_capacity(names.len());
            for (i, (name, node)) in names.iter().zip(nodes.iter()).enumerate() {
                let earlier = *first.entry(name.as_str()).or_insert(i);
                if key == "inputs" {
                    first_input.entry(name.as_str()).or_insert(i);
                }
                if earlier != i {
                    let at = nodes[earlier].span.start;
                    self.err_full(
                        node.span,
                        format!(
                            "'{name}' is listed twice in `{key}` (first at line {}, column {})",
                            at.line, at.column
                        ),
                        Some(format!("each name once in `{key}`")),
                        None,
                    );
                }
            }
        }
        for (name, node) in c.params.iter().zip(&param_items) {
            if let Some(&i) = first_input.get(name.as_str()) {
                let at = input_items.get(i).map_or(node.span.start, |n| n.span.start);
                self.err_full(
                    node.span,
                    format!(
                        "'{name}' is both a parameter and an input (in `inputs` at line {}, \
                         column {}); the expression could not tell them apart",
                        at.line, at.column
                    ),
                    Some("a parameter name that is not an input".into()),
                    None,
                );
            }
        }
        self.diags.len() == before
    }

    /// Inline targets for a classification loss: class indices, below the model's class count
    /// when it fixes one (`fixed`), each checked where it is written.
    fn check_inline_labels(
        &mut self,
        data: Option<&Node>,
        rows: &[Vec<f64>],
        fixed: Option<usize>,
    ) {
        let items: &[Node] = match data.and_then(|d| d.get("rows")).map(|r| &r.kind) {
            Some(NodeKind::Seq(items)) => items,
            _ => &[],
        };
        let task = fixed.map(Task::classes);
        let mut bad = rows.iter().enumerate().filter(|(_, row)| {
            row.last().is_some_and(|&y| {
                y.is_finite()
                    && !match task {
                        Some(t) => t.accepts(y),
                        None => Task::Multiclass(MAX_DERIVED_CLASSES).accepts(y),
                    }
            })
        });
        let Some((r, row)) = bad.next() else { return };
        let more = bad.count();
        let y = row.last().copied().unwrap_or(0.0);
        let span = match items.get(r).map(|n| &n.kind) {
            Some(NodeKind::Seq(values)) => values.last().map(|v| v.span),
            _ => None,
        }
        .or_else(|| items.get(r).map(|n| n.span))
        .unwrap_or(Span::TOP);
        let others = if more > 0 {
            format!(" ({more} more row(s) too)")
        } else {
            String::new()
        };
        let (message, expected) = match task {
            Some(t) => (
                format!("row {}: target {y} is not valid for {t}{others}", r + 1),
                format!(
                    "{} (the model's {} classes)",
                    class_labels(fixed.unwrap_or(2)),
                    fixed.unwrap_or(2)
                ),
            ),
            None => (
                format!("row {}: target {y} is not a class label{others}", r + 1),
                format!(
                    "a class index: a whole number from 0 to {}",
                    MAX_DERIVED_CLASSES - 1
                ),
            ),
        };
        self.err_full(span, message, Some(expected), None);
    }

    // ----- optimizers -----

    fn optimizers(&mut self, node: &Node) -> Option<Vec<RunSpec>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.err_full(
                node.span,
                format!("wrong type for optimizers: found {}", node.describe()),
                Some("a list of runs, e.g. `- name: adam`".into()),
                None,
            );
            return None;
        };
        if items.is_empty() {
            self.err_full(
                node.span,
                "'optimizers' is empty",
                Some("at least one run, e.g. `- name: adam`".into()),
                None,
            );
            return None;
        }
        let mut specs: Vec<Option<RunSpec>> = items.iter().map(|i| self.optimizer(i)).collect();
        // Explicit labels first, so an automatic one never takes a name the user chose.
        let mut taken: HashMap<String, usize> = HashMap::new();
        for (item, spec) in items.iter().zip(&specs) {
            let Some(label_node) = item.get("label") else {
                continue;
            };
            let Some(label) = spec.as_ref().map(|s| s.label.clone()) else {
                continue;
            };
            if let Some(line) = taken.get(&label) {
                self.err_full(
                    label_node.span,
                    format!("duplicate label '{label}' (first used on line {line})"),
                    Some("a label unique among the optimizers".into()),
                    None,
                );
            } else {
                taken.insert(label, label_node.span.start.line);
            }
        }
        let mut used: HashSet<String> = taken.into_keys().collect();
        let mut next: HashMap<String, usize> = HashMap::new();
        for (item, spec) in items.iter().zip(specs.iter_mut()) {
            let Some(spec) = spec else { continue };
            if item.get("label").is_none() {
                spec.label = auto_label(&spec.optimizer, &mut used, &mut next);
            }
        }
        specs.into_iter().collect()
    }

    /// Every one-cycle schedule against the step budget: torch's OneCycleLR raises when it is
    /// stepped past `total_steps`, so a budget beyond it is refused here, at the key.
    fn check_schedule_budgets(&mut self, items: &[Node], specs: &[RunSpec], max_steps: u64) {
        for (item, spec) in items.iter().zip(specs) {
            let Some((path, total, steps)) = spec
                .schedule
                .as_ref()
                .and_then(|s| s.past_total_steps(max_steps))
            else {
                continue;
            };
            let node = item.get("schedule").unwrap_or(item);
            let span = locate(node, &path);
            self.err_full(
                span,
                format!(
                    "onecycle's total_steps is {total} but this run takes up to {steps} of its \
                     steps (stop.max_steps is {max_steps}); torch's OneCycleLR raises past \
                     total_steps"
                ),
                Some(format!(
                    "total_steps of at least {steps}, leave total_steps out (it is then the step \
                     budget), or a smaller stop.max_steps"
                )),
                None,
            );
        }
    }

    /// Each run's `batch_size`, `shuffle` and `drop_last` against the objective: they need
    /// data, a batch fits in the training split, and `gd` (full-batch descent) takes no smaller
    /// batch.
    /// Reports a `batch_size` of `b` at `node` larger than the training split of `n` examples;
    /// returns the split's size.
    fn batch_within_train(&mut self, node: &Node, b: usize, n: usize, test_fraction: f64) -> usize {
        let (train, test) = split_sizes(n, test_fraction.clamp(0.0, 0.99));
        if b > train {
            self.err_full(
                value_span(node, "batch_size"),
                format!(
                    "batch_size {b} is larger than the training split ({train} of {n} \
                     examples{})",
                    held_out(test_fraction, test)
                ),
                Some(format!("at most {train}")),
                None,
            );
        }
        train
    }

    fn check_run_batches(&mut self, items: &Node, objective: &Objective, specs: &[RunSpec]) {
        let NodeKind::Seq(items) = &items.kind else {
            return;
        };
        for (item, spec) in items.iter().zip(specs) {
            let Objective::Model(m) = objective else {
                for key in ["batch_size", "shuffle", "drop_last"] {
                    if item.get(key).is_some() {
                        self.err_full(
                            key_span(item, key),
                            format!(
                                "'{key}' applies to model objectives only: an expression \
                                 objective has no data to batch"
                            ),
                            Some("no batch settings for an expression".into()),
                            None,
                        );
                    }
                }
                continue;
            };
            let Some(b) = spec.batch_size else { continue };
            if b == 0 {
                self.at_least_one(item, "batch_size", 0);
                continue;
            }
            let Some(n) = m.data.examples() else { continue };
            let train = self.batch_within_train(item, b, n, m.test_fraction);
            if spec.is_full_batch() && b < train {
                self.err_full(
                    value_span(item, "batch_size"),
                    format!(
                        "'gd' is full-batch gradient descent: it takes all {train} training \
                         examples, not batches of {b}; minibatches are 'sgd'"
                    ),
                    Some(format!("batch_size {train}, or no batch_size")),
                    Some("sgd".into()),
                );
            }
        }
    }

    fn optimizer(&mut self, node: &Node) -> Option<RunSpec> {
        let fields = fields_of::<RunSpec>();
        let (mut spec, entries): (RunSpec, &[(Node, Node)]) = match &node.kind {
            // `- adam` is shorthand for `- name: adam`.
            NodeKind::Scalar { .. } => (
                RunSpec::new(&self.de::<String>(node, Skip::NONE, "name")?),
                &[],
            ),
            NodeKind::Map(entries) => {
                if node.get("name").is_none() {
                    self.err_full(
                        node.span,
                        "missing key 'name' in an optimizer",
                        Some("`name: adam` (or another optimizer)".into()),
                        None,
                    );
                    return None;
                }
                let spec = self.checked::<RunSpec>(node, Skip::AllBut(fields), "optimizer");
                (spec?, entries)
            }
            NodeKind::Seq(_) => {
                self.err_full(
                    node.span,
                    "wrong type for an optimizer: found a list",
                    Some("a mapping such as `{name: adam, lr: 0.01}`".into()),
                    None,
                );
                return None;
            }
        };
        let name_node = node.get("name").unwrap_or(node);
        let name = spec.optimizer.clone();
        if registry::spec(&name).is_none() {
            let names = registry::names();
            match registry::not_offered(&name) {
                Some(reason) => self.err_full(
                    name_node.span,
                    format!("optimizer '{name}' is not offered: {reason}"),
                    Some(one_of(names.iter().copied())),
                    None,
                ),
                None => self.err_full(
                    name_node.span,
                    format!("unknown optimizer '{name}'"),
                    Some(one_of(names.iter().copied())),
                    nearest(&name, names.iter().copied()),
                ),
            }
            return None;
        }
        let mut ok = true;
        for (k, v) in entries {
            let key = k.as_str().unwrap_or("");
            if fields.contains(&key) {
                continue;
            }
            if key == RUN_ENGINE {
                spec.engine = self.engine(v);
                ok &= spec.engine.is_some();
                continue;
            }
            match self.hyperparameter(&name, k, v) {
                Some(value) => spec.hyperparameters.push((key.to_string(), value)),
                None => ok = false,
            }
        }
        ok.then_some(spec)
    }

    /// One hyperparameter of `optimizer` (a registered name): its value read for its domain
    /// and set on a default-built optimizer, the very check a run makes when it is built.
    fn hyperparameter(&mut self, optimizer: &str, k: &Node, v: &Node) -> Option<HyperValue> {
        let key = k.as_str().unwrap_or("");
        let opt = match self.defaults.entry(optimizer.to_string()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(registry::build(optimizer, &[], 0, 0).ok()?)
            }
        };
        let specs = opt.hyper_set().specs();
        let Some(domain) = specs.iter().find(|h| h.name == key).map(|h| h.domain) else {
            let names: Vec<&str> = specs.iter().map(|h| h.name).collect();
            let fields = fields_of::<RunSpec>();
            self.err_full(
                k.span,
                format!("unknown hyperparameter '{key}' for {optimizer}"),
                Some(format!(
                    "{}; or {}, {RUN_ENGINE}",
                    one_of(&names),
                    fields.join(", ")
                )),
                nearest(key, &names)
                    .or_else(|| nearest(key, fields))
                    .or_else(|| nearest(key, [RUN_ENGINE])),
            );
            return None;
        };
        let text = match &v.kind {
            NodeKind::Scalar { text, plain } if matches!(resolve(text, *plain), Resolved::Str) => {
                Some(text.as_str())
            }
            _ => None,
        };
        let value = match (domain, text) {
            (Domain::Choice(names), Some(t)) => names
                .iter()
                .copied()
                .find(|n| *n == t)
                .map(HyperValue::Choice),
            (_, Some(_)) => None,
            _ => from_node::<HyperValue>(v, Skip::NONE).ok(),
        };
        let invalid = |this: &mut Self, shown: String| {
            this.err_full(
                v.span,
                format!("hyperparameter '{key}' of '{optimizer}' got {shown}"),
                Some(domain.to_string()),
                match (domain, text) {
                    (Domain::Choice(names), Some(t)) => nearest(t, names),
                    _ => None,
                },
            );
        };
        let Some(value) = value else {
            let shown = text.map_or_else(|| v.describe(), |t| format!("'{t}'"));
            invalid(self, shown);
            return None;
        };
        match self
            .defaults
            .get_mut(optimizer)
            .map(|o| o.set_hyperparameter(key, value))
        {
            Some(Ok(())) => Some(value),
            Some(Err(OptimError::InvalidValue { value, .. })) => {
                invalid(self, format!("'{value}'"));
                None
            }
            Some(Err(e)) => {
                self.err(v.span, e.to_string());
                None
            }
            None => None,
        }
    }

    // ----- view and expect -----

    /// The view: its keys read into the landscape's [`ViewSpec`], the plane's axes resolved
    /// to parameter indices, and the window defaulting to the plane's `bounds`.
    fn view(
        &mut self,
        node: Option<&Node>,
        objective: Option<&Objective>,
        labels: &[String],
    ) -> Option<ViewSpec> {
        let mut v = match node {
            Some(n) => {
                let v: ViewSpec = self.de(n, Skip::Keys(&["plane"]), "view")?;
                for key in ["x_range", "y_range"] {
                    self.finite_all(n.get(key), &format!("'{key}'"));
                }
                self.validate(n, &v);
                v
            }
            None => ViewSpec::default(),
        };
        let plane_node = node.and_then(|n| n.get("plane"));
        let plane = match plane_node {
            Some(pn) => self.de::<PlaneSpec>(pn, Skip::NONE, "plane")?,
            None => PlaneSpec::Params(Axis::Index(0), Axis::Index(1)),
        };
        let vars: Option<Vec<String>> = match objective {
            Some(Objective::Expr(e)) => e.vars.clone().or_else(|| match &e.start {
                PerVar::Named(p) => Some(p.iter().map(|(n, _)| n.clone()).collect()),
                PerVar::List(_) => None,
            }),
            _ => None,
        };
        v.plane = match (&plane, plane_node) {
            (PlaneSpec::Pca, _) => Plane::Pca,
            // A model's first two weights span a flat, uninformative plane: unless the file
            // names a plane, show the trajectories' principal plane.
            (_, None) if matches!(objective, Some(Objective::Model(_))) => Plane::Pca,
            (PlaneSpec::Params(a, b), None) => {
                Plane::Params(index(a, vars.as_deref()), index(b, vars.as_deref()))
            }
            (PlaneSpec::Params(a, b), Some(pn)) => {
                self.check_axes(pn, a, b, objective, vars.as_deref());
                Plane::Params(index(a, vars.as_deref()), index(b, vars.as_deref()))
            }
        };
        if let (Plane::Params(i, j), Some(Objective::Expr(e))) = (v.plane, objective) {
            // The bounds of the plane's two variables are the default window.
            let bounds = match (&e.bounds, &vars) {
                (Some(b), Some(vars)) => b.ordered(vars),
                (Some(PerVar::List(b)), None) => Some(b.clone()),
                _ => None,
            };
            if let Some(b) = bounds {
                let pair = |k: usize| b.get(k).map(|r| (r[0], r[1]));
                v.x_range = v.x_range.or_else(|| pair(i));
                v.y_range = v.y_range.or_else(|| pair(j));
            }
        }
        if let Some(n) = node {
            // One range alone would be ignored by both front ends: say so.
            for (key, other, given, missing) in [
                ("x_range", "y_range", v.x_range, v.y_range),
                ("y_range", "x_range", v.y_range, v.x_range),
            ] {
                if given.is_some() && missing.is_none() && n.get(key).is_some() {
                    self.err_full(
                        key_span(n, key),
                        format!("'{key}' needs '{other}': the window is fixed only by both"),
                        Some(format!(
                            "both `x_range` and `y_range`, or `bounds` in the objective for \
                             '{other}'"
                        )),
                        None,
                    );
                }
            }
        }
        if let (Some(show), Some(NodeKind::Seq(items))) =
            (&v.show, node.and_then(|n| n.get("show")).map(|n| &n.kind))
        {
            let known: HashSet<&String> = labels.iter().collect();
            for (label, item) in show.iter().zip(items) {
                if !known.contains(label) {
                    self.unknown_label(item.span, label, labels);
                }
            }
        }
        Some(v)
    }

    /// A plane's axes must differ and exist: indices below the parameter count, names among the
    /// variables (a model's parameters are chosen by index).
    fn check_axes(
        &mut self,
        pn: &Node,
        a: &Axis,
        b: &Axis,
        objective: Option<&Objective>,
        vars: Option<&[String]>,
    ) {
        let dim = match objective {
            Some(Objective::Expr(e)) => Some(e.start.len()),
            Some(Objective::Model(m)) => param_count(&m.model, m.data.features()),
            None => None,
        };
        if a == b {
            self.err(pn.span, "the plane's two axes are the same");
        }
        for axis in [a, b] {
            match axis {
                Axis::Index(i) => {
                    if let Some(d) = dim.filter(|d| i >= d) {
                        self.err_full(
                            pn.span,
                            format!("plane axis {i} is out of range: there are {d} parameter(s)"),
                            Some(format!("indices in [0, {}]", d.saturating_sub(1))),
                            None,
                        );
                    }
                }
                Axis::Name(n) => match vars {
                    Some(vs) if !vs.contains(n) => self.err_full(
                        pn.span,
                        format!("plane axis '{n}' is not a variable"),
                        Some(one_of(vs)),
                        nearest(n, vs),
                    ),
                    None if matches!(objective, Some(Objective::Model(_))) => {
                        self.err_full(
                            pn.span,
                            format!("plane axis '{n}': a model's parameters are chosen by index"),
                            Some("[i, j] indices".into()),
                            None,
                        );
                    }
                    _ => {}
                },
            }
        }
    }

    fn unknown_label(&mut self, span: Span, label: &str, labels: &[String]) {
        if self.saturated() {
            return;
        }
        self.err_full(
            span,
            format!("no run is labelled '{label}'"),
            Some(one_of(labels.iter().map(String::as_str))),
            nearest(label, labels.iter().map(String::as_str)),
        );
    }

    fn expect(
        &mut self,
        node: &Node,
        objective: Option<&Objective>,
        labels: &[String],
    ) -> Option<Vec<Expectation>> {
        let NodeKind::Map(entries) = &node.kind else {
            self.err_full(
                node.span,
                format!("wrong type for expect: found {}", node.describe()),
                Some("a mapping from run label to assertions".into()),
                None,
            );
            return None;
        };
        let known: HashSet<&String> = labels.iter().collect();
        let mut out = Vec::new();
        let mut ok = true;
        for (k, v) in entries {
            let label = k.as_str().unwrap_or("").to_string();
            if !labels.is_empty() && !known.contains(&label) {
                self.unknown_label(k.span, &label, labels);
                ok = false;
            }
            let NodeKind::Map(checks) = &v.kind else {
                self.err_full(
                    v.span,
                    format!(
                        "wrong type for the assertions of '{label}': found {}",
                        v.describe()
                    ),
                    Some("a mapping such as `{final_loss_below: 0.01}`".into()),
                    None,
                );
                ok = false;
                continue;
            };
            let first = out.len();
            for (ck, cv) in checks {
                let check = match from_entry::<Check>(ck, cv) {
                    Ok(c) => c,
                    Err(e) => {
                        self.err_full(
                            e.span.unwrap_or(ck.span),
                            e.message,
                            e.expected,
                            e.suggestion,
                        );
                        ok = false;
                        continue;
                    }
                };
                ok &= self.validate(v, &check);
                ok &= self.check_applies(ck, &check, objective);
                out.push(Expectation {
                    label: label.clone(),
                    check,
                });
            }
            // Reports list a run's checks in one fixed order, whatever the file's order.
            out[first..].sort_by_key(|e| e.check.order());
        }
        ok.then_some(out)
    }

    /// Checks that need something of the objective: accuracy a classifier, distance a known
    /// minimum.
    fn check_applies(&mut self, key: &Node, check: &Check, objective: Option<&Objective>) -> bool {
        let Some(objective) = objective else {
            return true;
        };
        match check {
            Check::AccuracyAbove(_) if !matches!(objective, Objective::Model(m) if m.loss.is_classification()) =>
            {
                self.err(
                    key.span,
                    "'accuracy_above' needs a model objective with a classification loss \
                     (bce_logits or cross_entropy)",
                );
                false
            }
            Check::DistanceToMinimumBelow(_) if !matches!(objective, Objective::Expr(x) if x.minimum.is_some()) =>
            {
                self.err_full(
                    key.span,
                    "'distance_to_minimum_below' needs `objective.minimum`",
                    Some("`minimum: {x: 1, y: 1}` in the objective".into()),
                    None,
                );
                false
            }
            _ => true,
        }
    }
}

/// A plane axis as a parameter index: a variable's position among `vars` (checked before).
fn index(axis: &Axis, vars: Option<&[String]>) -> usize {
    match axis {
        Axis::Index(i) => *i,
        Axis::Name(n) => vars
            .and_then(|vs| vs.iter().position(|v| v == n))
            .unwrap_or(0),
    }
}

/// Which names a per-variable mapping is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// The objective's variables (`vars`, or `start`'s keys): nothing else may be named.
    Variables,
    /// The expression's variables, when `start` names the variables itself: it must name
    /// these, and may name more.
    UsedByExpression,
}

/// `'a', 'b' and 'c'`, or the first few and how many more.
fn quoted(names: &[&str]) -> String {
    let shown = names.len().min(8);
    let q: Vec<String> = names[..shown].iter().map(|n| format!("'{n}'")).collect();
    if names.len() > shown {
        return format!("{}, ... ({} more)", q.join(", "), names.len() - shown);
    }
    match q.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => q.join(""),
    }
}

/// `; test_fraction 0.5 holds out 50` when a test split takes rows away, else nothing.
#[must_use]
pub fn held_out(test_fraction: f64, test: usize) -> String {
    if test == 0 {
        String::new()
    } else {
        format!("; test_fraction {test_fraction} holds out {test}")
    }
}

/// `a < b`, false when either is NaN.
fn increasing(a: f64, b: f64) -> bool {
    a < b
}

/// Number of parameters of a model on `features` inputs, when known and countable (`None`
/// when a width is so large the count overflows: the resource check refuses those).
#[must_use]
pub fn param_count(model: &ModelSpec, features: usize) -> Option<usize> {
    match model {
        ModelSpec::Mlp(m) => m.layers.windows(2).try_fold(0_usize, |acc, w| {
            w[0].checked_mul(w[1])?.checked_add(w[1])?.checked_add(acc)
        }),
        ModelSpec::Linear | ModelSpec::Logistic => {
            (features > 0).then_some(features.checked_add(1)?)
        }
        ModelSpec::Softmax(s) => {
            (features > 0).then_some(features.checked_add(1)?.checked_mul(s.classes)?)
        }
        ModelSpec::Custom(c) => Some(c.params.len()),
    }
}

/// Parameters and units (hidden and output values) of an MLP with these widths, in `f64` so
/// that no width overflows them.
#[must_use]
pub fn param_units(layers: &[usize]) -> (f64, f64) {
    let params = layers
        .windows(2)
        .map(|w| w[0] as f64 * w[1] as f64 + w[1] as f64)
        .sum();
    let units = layers.iter().skip(1).map(|&w| w as f64).sum();
    (params, units)
}

/// The labels runs will get, read from the raw entries (so `expect` can be checked even when
/// an optimizer entry has errors).
fn raw_labels(node: &Node) -> Vec<String> {
    let NodeKind::Seq(items) = &node.kind else {
        return Vec::new();
    };
    let mut labels: Vec<String> = items
        .iter()
        .filter_map(|i| i.get("label").and_then(Node::as_str).map(str::to_string))
        .collect();
    let mut used: HashSet<String> = labels.iter().cloned().collect();
    let mut next = HashMap::new();
    for item in items {
        if item.get("label").is_some() {
            continue;
        }
        let name = match &item.kind {
            NodeKind::Scalar { text, .. } => Some(text.as_str()),
            _ => item.get("name").and_then(Node::as_str),
        };
        let Some(name) = name else { continue };
        labels.push(auto_label(name, &mut used, &mut next));
    }
    labels
}

/// `name`, or `name-2`, `name-3`, ... for the first one not yet used.
fn auto_label(name: &str, used: &mut HashSet<String>, next: &mut HashMap<String, usize>) -> String {
    let k = next.entry(name.to_string()).or_insert(1);
    let mut label = if *k == 1 {
        name.to_string()
    } else {
        format!("{name}-{k}")
    };
    while used.contains(&label) {
        *k += 1;
        label = format!("{name}-{k}");
    }
    *k += 1;
    used.insert(label.clone());
    label
}
