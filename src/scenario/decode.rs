//! From the located tree to a typed [`Scenario`]: walks the document section by section and
//! entry by entry, so one bad optimizer or expectation does not hide the next, and checks
//! everything that can be checked inside the file (shapes, ranges, labels) plus, through a
//! [`Catalog`], optimizer names and hyperparameters.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;

use super::catalog::{Catalog, HyperKind, Range};
use super::de::{DeKind, from_node};
use super::schema::{
    Activations, Axis, Clip, ConstantLr, CosineLr, CustomSpec, DataShape, DataSpec, Expectation,
    ExponentialLr, ExprObjective, FanMode, HyperValue, InitSpec, Loss, ModelObjective, ModelSpec,
    MultiStepLr, Objective, OneCycleLr, OptimizerSpec, PerVar, Plane, PlateauLr, RawClip, Scenario,
    Schedule, StepLr, StopSpec, Task, ViewSpec, WarmupLr,
};
use super::tree::{Node, NodeKind, Resolved, Span, resolve};
use crate::ad::{Engine, dual::MAX_CHUNK};
use crate::data::csv::MAX_DERIVED_CLASSES;
use crate::data::{class_labels, split_sizes};
use crate::suggest::{nearest, one_of, short_list};

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
    "init",
    "test_fraction",
    "standardize",
];
const OPTIMIZER_KEYS: &[&str] = &["name", "label", "schedule", "clip"];
const ENGINES: &[&str] = &["forward", "reverse", "finite"];
const TOP_EXPECTED: &str = "a mapping with `objective` and `optimizers`";

/// Most problems recorded for one file (far more than are shown: see the loader's
/// `MAX_REPORTED`).
pub const MAX_DIAGS: usize = 1000;

struct Decoder<'c> {
    diags: Vec<Diag>,
    catalog: Option<&'c dyn Catalog>,
}

/// Decodes the document root; `Err` holds every problem found.
pub fn decode(
    root: &Node,
    default_name: &str,
    catalog: Option<&dyn Catalog>,
) -> Result<Scenario, Vec<Diag>> {
    let mut d = Decoder {
        diags: Vec::new(),
        catalog,
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

impl Decoder<'_> {
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

    /// Serde-decodes `node`; `what` names the value in unknown-variant messages.
    fn de<T: DeserializeOwned>(
        &mut self,
        node: &Node,
        skip: &'static [&'static str],
        what: &str,
    ) -> Option<T> {
        match from_node::<T>(node, skip) {
            Ok(v) => Some(v),
            Err(e) => {
                let message = match &e.kind {
                    DeKind::UnknownVariant(v) => format!("unknown {what} '{v}'"),
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

    /// The `kind:` of a tagged mapping, checked against `kinds`.
    fn kind<'n>(&mut self, node: &'n Node, kinds: &[&str], what: &str) -> Option<&'n str> {
        if !matches!(node.kind, NodeKind::Map(_)) {
            self.err_full(
                node.span,
                format!("wrong type for {what}: found {}", node.describe()),
                Some(format!(
                    "a mapping with `kind: ...`, kind {}",
                    one_of(kinds.iter().copied())
                )),
                None,
            );
            return None;
        }
        let Some(k) = node.get("kind") else {
            self.err_full(
                node.span,
                format!("missing key 'kind' in {what}"),
                Some(format!("kind {}", one_of(kinds.iter().copied()))),
                None,
            );
            return None;
        };
        let name = k.as_str().unwrap_or("");
        if kinds.contains(&name) {
            Some(name)
        } else {
            self.err_full(
                k.span,
                format!("unknown {what} kind '{name}'"),
                Some(one_of(kinds.iter().copied())),
                nearest(name, kinds.iter().copied()),
            );
            None
        }
    }

    fn range(&mut self, node: &Node, key: &str, value: f64, range: Range) {
        if !range.contains(value) {
            self.err_full(
                value_span(node, key),
                format!("'{key}' is out of range: {value}"),
                Some(format!("a number {range}")),
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
            .and_then(|n| self.de::<String>(n, &[], "name"))
            .unwrap_or_else(|| default_name.to_string());
        let description = root
            .get("description")
            .and_then(|n| self.de::<String>(n, &[], "description"))
            .unwrap_or_default();
        let seed = root
            .get("seed")
            .map_or(Some(0), |n| self.de::<u64>(n, &[], "seed"));

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
        let stop = root
            .get("stop")
            .map_or(Some(StopSpec::default()), |n| self.stop(n));
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
        let labels = root.get("optimizers").map(raw_labels).unwrap_or_default();
        let view = root.get("view").map_or(Some(ViewSpec::default()), |n| {
            self.view(n, objective.as_ref(), &labels)
        });
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
                let chunk = self.de::<usize>(c, &[], "chunk")?;
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

    fn stop(&mut self, node: &Node) -> Option<StopSpec> {
        let s: StopSpec = self.de(node, &[], "stop")?;
        self.at_least_one(node, "max_steps", s.max_steps);
        if let Some(e) = s.max_evaluations {
            self.at_least_one(node, "max_evaluations", e);
        }
        if let Some(p) = s.patience {
            self.at_least_one(node, "patience", p);
        }
        if let Some(x) = s.loss_below {
            self.range(node, "loss_below", x, Range::ANY);
        }
        if let Some(x) = s.grad_norm_below {
            self.range(node, "grad_norm_below", x, Range::above(0.0));
        }
        self.range(node, "min_delta", s.min_delta, Range::at_least(0.0));
        self.range(node, "diverge_above", s.diverge_above, Range::above(0.0));
        Some(s)
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
                let e: ExprObjective = self.de(node, &[], "objective")?;
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
        if let (Some(cat), Some(en)) = (self.catalog, expr_node) {
            match cat.expression_variables(&e.expr) {
                Some(Ok(used)) => {
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
                Some(Err(issue)) => {
                    let mut span = en.span;
                    if span.start.line == span.end.line {
                        let quoted =
                            usize::from(matches!(en.kind, NodeKind::Scalar { plain: false, .. }));
                        span.start.column += issue.offset + quoted;
                        span.end = span.start;
                    }
                    self.err(span, format!("invalid expression: {}", issue.message));
                }
                None => {}
            }
        }
        if vars.is_none() {
            if let PerVar::Named(pairs) = &e.start {
                vars = Some(pairs.iter().map(|(n, _)| n.clone()).collect());
            }
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
                if let Some(len) = len {
                    if len != vars.len() {
                        self.err_full(
                            n.span,
                            format!("`{what}` has {len} value(s) but there are {} variable(s) ({var_list})", vars.len()),
                            Some(format!("{} value(s)", vars.len())),
                            None,
                        );
                    }
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
        let model = node.get("model").and_then(|n| self.model(n));
        let loss = match node.get("loss") {
            Some(n) => self.de::<Loss>(n, &[], "loss"),
            None => {
                self.err_full(
                    key_span(node, "model"),
                    "missing key 'loss' in a model objective",
                    Some("loss one of: mse, mae, huber, bce_logits, cross_entropy".into()),
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
                    Some(format!(
                        "data with kind {}",
                        one_of(DataSpec::KINDS.iter().copied())
                    )),
                    None,
                );
                None
            }
        };
        let l2 = node
            .get("l2")
            .map_or(Some(0.0), |n| self.de::<f64>(n, &[], "l2"));
        if let Some(x) = l2 {
            self.range(node, "l2", x, Range::at_least(0.0));
        }
        let batch_size = match node.get("batch_size") {
            Some(n) if !n.is_null() => {
                let b = self.de::<usize>(n, &[], "batch_size");
                if b == Some(0) {
                    self.at_least_one(node, "batch_size", 0);
                }
                b.map(Some)
            }
            _ => Some(None),
        };
        let init = node
            .get("init")
            .map_or(Some(InitSpec::Default), |n| self.init(n));
        let test_fraction = node
            .get("test_fraction")
            .map_or(Some(0.0), |n| self.de::<f64>(n, &[], "test_fraction"));
        if let Some(t) = test_fraction {
            self.range(node, "test_fraction", t, Range::closed_open(0.0, 1.0));
        }
        let standardize = node
            .get("standardize")
            .map_or(Some(true), |n| self.de::<bool>(n, &[], "standardize"));
        let m = ModelObjective {
            model: model?,
            loss: loss?,
            l2: l2?,
            data: data?,
            batch_size: batch_size?,
            init: init?,
            test_fraction: test_fraction?,
            standardize: standardize?,
        };
        self.check_model(node, &m);
        Some(m)
    }

    fn model(&mut self, node: &Node) -> Option<ModelSpec> {
        let kind = self.kind(node, ModelSpec::KINDS, "model")?;
        match kind {
            "mlp" => self.de(node, &["kind"], "activation").map(ModelSpec::Mlp),
            "linear" => self
                .map(node, &["kind"], "a linear model")
                .map(|_| ModelSpec::Linear),
            "logistic" => self
                .map(node, &["kind"], "a logistic model")
                .map(|_| ModelSpec::Logistic),
            "softmax" => self.de(node, &["kind"], "softmax").map(ModelSpec::Softmax),
            _ => self.de(node, &["kind"], "custom").map(ModelSpec::Custom),
        }
    }

    fn data(&mut self, node: &Node) -> Option<DataSpec> {
        let kind = self.kind(node, DataSpec::KINDS, "dataset")?;
        const SKIP: &[&str] = &["kind"];
        let d = match kind {
            "moons" => DataSpec::Moons(self.de(node, SKIP, "data")?),
            "circles" => DataSpec::Circles(self.de(node, SKIP, "data")?),
            "xor" => DataSpec::Xor(self.de(node, SKIP, "data")?),
            "spirals" => DataSpec::Spirals(self.de(node, SKIP, "data")?),
            "blobs" => DataSpec::Blobs(self.de(node, SKIP, "data")?),
            "linear" => DataSpec::Linear(self.de(node, SKIP, "data")?),
            "sine" => DataSpec::Sine(self.de(node, SKIP, "data")?),
            "csv" => DataSpec::Csv(self.de(node, SKIP, "data")?),
            _ => DataSpec::Inline(self.de(node, SKIP, "data")?),
        };
        if let Some(n) = d.examples() {
            if !matches!(d, DataSpec::Inline(_)) {
                self.at_least_one(node, "n", n as u64);
            }
        }
        match &d {
            DataSpec::Moons(s) | DataSpec::Xor(s) => {
                self.range(node, "noise", s.noise, Range::at_least(0.0));
            }
            DataSpec::Circles(c) => {
                self.range(node, "noise", c.noise, Range::at_least(0.0));
                self.range(node, "factor", c.factor, Range::open(0.0, 1.0));
            }
            DataSpec::Spirals(s) => {
                self.range(node, "noise", s.noise, Range::at_least(0.0));
                if s.classes < 2 {
                    self.range(node, "classes", s.classes as f64, Range::at_least(2.0));
                }
                self.range(node, "turns", s.turns, Range::above(0.0));
            }
            DataSpec::Blobs(b) => {
                self.at_least_one(node, "centers", b.centers as u64);
                self.at_least_one(node, "features", b.features as u64);
                self.range(node, "cluster_std", b.cluster_std, Range::at_least(0.0));
            }
            DataSpec::Linear(l) => {
                self.range(node, "noise", l.noise, Range::at_least(0.0));
                self.finite_all(node.get("weights"), "'weights'");
                self.finite_all(node.get("bias"), "'bias'");
                self.at_least_one(node, "features", l.features as u64);
                if let Some(w) = &l.weights {
                    if w.len() != l.features {
                        self.err_full(
                            value_span(node, "weights"),
                            format!(
                                "'weights' has {} value(s) but features is {}",
                                w.len(),
                                l.features
                            ),
                            Some(format!("{} weight(s)", l.features)),
                            None,
                        );
                    }
                }
            }
            DataSpec::Sine(s) => {
                self.range(node, "noise", s.noise, Range::at_least(0.0));
                self.finite_all(node.get("frequency"), "'frequency'");
                if self.finite_all(node.get("x_range"), "'x_range'")
                    && !increasing(s.x_range[0], s.x_range[1])
                {
                    self.err(
                        value_span(node, "x_range"),
                        "'x_range' is empty: low must be below high",
                    );
                }
            }
            DataSpec::Csv(c) => {
                if c.features.is_empty() {
                    self.err_full(
                        value_span(node, "features"),
                        "'features' is empty",
                        Some("at least one column name".into()),
                        None,
                    );
                }
            }
            DataSpec::Inline(i) => {
                self.finite_all(node.get("rows"), "every value of 'rows'");
                self.check_rows(node, &i.rows);
            }
        }
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

    fn init(&mut self, node: &Node) -> Option<InitSpec> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Uniform {
            #[serde(default)]
            a: f64,
            #[serde(default = "one")]
            b: f64,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Normal {
            #[serde(default)]
            mean: f64,
            #[serde(default = "one")]
            std: f64,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Gain {
            #[serde(default = "one")]
            gain: f64,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Kaiming {
            #[serde(default)]
            a: f64,
            #[serde(default)]
            mode: FanMode,
        }
        fn one() -> f64 {
            1.0
        }
        const SKIP: &[&str] = &["kind"];
        let kinds = InitSpec::KINDS;
        match &node.kind {
            NodeKind::Seq(_) => {
                let values = self.de::<Vec<f64>>(node, &[], "init").map(InitSpec::Values);
                return self
                    .finite_all(Some(node), "every init value")
                    .then_some(values)?;
            }
            NodeKind::Map(_) if node.get("file").is_some() && node.get("kind").is_none() => {
                self.map(node, &["file"], "init")?;
                return self.de(node.get("file")?, &[], "file").map(InitSpec::File);
            }
            NodeKind::Map(_) => {}
            NodeKind::Scalar { text, .. } => {
                let name = text.as_str();
                return match name {
                    "default" => Some(InitSpec::Default),
                    "zeros" => Some(InitSpec::Zeros),
                    "uniform" => Some(InitSpec::Uniform { a: 0.0, b: 1.0 }),
                    "normal" => Some(InitSpec::Normal {
                        mean: 0.0,
                        std: 1.0,
                    }),
                    "xavier_uniform" => Some(InitSpec::XavierUniform { gain: 1.0 }),
                    "xavier_normal" => Some(InitSpec::XavierNormal { gain: 1.0 }),
                    "kaiming_uniform" => Some(InitSpec::KaimingUniform {
                        a: 0.0,
                        mode: FanMode::FanIn,
                    }),
                    "kaiming_normal" => Some(InitSpec::KaimingNormal {
                        a: 0.0,
                        mode: FanMode::FanIn,
                    }),
                    _ => {
                        self.err_full(
                            node.span,
                            format!("unknown init kind '{name}'"),
                            Some(format!(
                                "{}, a list of numbers or {{file: params.csv}}",
                                one_of(kinds.iter().copied())
                            )),
                            nearest(name, kinds.iter().copied()),
                        );
                        None
                    }
                };
            }
        }
        let kind = self.kind(node, kinds, "init")?;
        Some(match kind {
            "default" => self.map(node, SKIP, "init").map(|_| InitSpec::Default)?,
            "zeros" => self.map(node, SKIP, "init").map(|_| InitSpec::Zeros)?,
            "uniform" => {
                let u: Uniform = self.de(node, SKIP, "init")?;
                if self.finite_all(Some(node), "uniform init's bounds") && !increasing(u.a, u.b) {
                    self.err(
                        node.span,
                        format!("uniform init needs a < b, found a = {}, b = {}", u.a, u.b),
                    );
                }
                InitSpec::Uniform { a: u.a, b: u.b }
            }
            "normal" => {
                let n: Normal = self.de(node, SKIP, "init")?;
                self.finite_all(node.get("mean"), "'mean'");
                self.range(node, "std", n.std, Range::at_least(0.0));
                InitSpec::Normal {
                    mean: n.mean,
                    std: n.std,
                }
            }
            "xavier_uniform" | "xavier_normal" => {
                let gain = self.de::<Gain>(node, SKIP, "init")?.gain;
                self.finite_all(node.get("gain"), "'gain'");
                if kind == "xavier_uniform" {
                    InitSpec::XavierUniform { gain }
                } else {
                    InitSpec::XavierNormal { gain }
                }
            }
            "kaiming_uniform" => {
                let k: Kaiming = self.de(node, SKIP, "mode")?;
                self.finite_all(node.get("a"), "'a'");
                InitSpec::KaimingUniform {
                    a: k.a,
                    mode: k.mode,
                }
            }
            _ => {
                let k: Kaiming = self.de(node, SKIP, "mode")?;
                self.finite_all(node.get("a"), "'a'");
                InitSpec::KaimingNormal {
                    a: k.a,
                    mode: k.mode,
                }
            }
        })
    }

    fn check_model(&mut self, node: &Node, m: &ModelObjective) {
        let DataShape { features, task } = m.data.shape();
        let model_node = node.get("model");
        let loss_span = value_span(node, "loss");
        if m.loss.is_classification() && task == Task::Regression {
            self.err_full(
                loss_span,
                format!(
                    "loss '{}' needs class labels, but this dataset is a regression task",
                    loss_name(m.loss)
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
                if let Activations::PerLayer(acts) = &mlp.activation {
                    if acts.len() != mlp.layers.len() - 1 {
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
                self.check_custom_names(model_node, c);
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
                Loss::CrossEntropy => {
                    if let Task::Classification(k) = task {
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
                            loss_name(m.loss)
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
                Loss::BceLogits => Some(Some(2)),
                Loss::CrossEntropy => Some(outputs.filter(|&o| o >= 2)),
                _ => None,
            };
            if let Some(fixed) = fixed {
                self.check_inline_labels(node.get("data"), &rows.rows, fixed);
            }
        }
        if let InitSpec::Values(v) = &m.init {
            if let Some(count) = param_count(&m.model, features) {
                if v.len() != count {
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
            }
        }
        // Minibatches are drawn from the training split, not the whole dataset.
        if let (Some(b), Some(n)) = (m.batch_size, m.data.examples()) {
            let (train, test) = split_sizes(n, m.test_fraction.clamp(0.0, 0.99));
            if b > train {
                self.err_full(
                    value_span(node, "batch_size"),
                    format!(
                        "batch_size {b} is larger than the training split ({train} of {n} \
                         examples{})",
                        held_out(m.test_fraction, test)
                    ),
                    Some(format!("at most {train}")),
                    None,
                );
            }
        }
    }

    /// A custom model's names: each parameter and input once, and no name in both lists (the
    /// expression could not tell which one it means).
    fn check_custom_names(&mut self, model_node: Option<&Node>, c: &CustomSpec) {
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
        let task = fixed.map(crate::data::Task::classes);
        let mut bad = rows.iter().enumerate().filter(|(_, row)| {
            row.last().is_some_and(|&y| {
                y.is_finite()
                    && !match task {
                        Some(t) => t.accepts(y),
                        None => crate::data::Task::Multiclass(MAX_DERIVED_CLASSES).accepts(y),
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

    fn optimizers(&mut self, node: &Node) -> Option<Vec<OptimizerSpec>> {
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
        let mut specs: Vec<Option<OptimizerSpec>> =
            items.iter().map(|i| self.optimizer(i)).collect();
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
                spec.label = auto_label(&spec.name, &mut used, &mut next);
            }
        }
        specs.into_iter().collect()
    }

    fn optimizer(&mut self, node: &Node) -> Option<OptimizerSpec> {
        let entries: &[(Node, Node)] = match &node.kind {
            NodeKind::Map(e) => e,
            // `- adam` is shorthand for `- name: adam`.
            NodeKind::Scalar { .. } => &[],
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
        let name_node = if entries.is_empty() {
            Some(node)
        } else {
            node.get("name")
        };
        let Some(name_node) = name_node else {
            self.err_full(
                node.span,
                "missing key 'name' in an optimizer",
                Some("`name: adam` (or another optimizer)".into()),
                None,
            );
            return None;
        };
        let name: String = self.de(name_node, &[], "name")?;
        let mut known_hypers = None;
        if let Some(cat) = self.catalog {
            let names = cat.optimizer_names();
            if names.contains(&name) {
                known_hypers = cat.hyperparameters(&name);
            } else if let Some(reason) = cat.not_offered(&name) {
                self.err_full(
                    name_node.span,
                    format!("optimizer '{name}' is not offered: {reason}"),
                    Some(one_of(names.iter().map(String::as_str))),
                    None,
                );
            } else {
                self.err_full(
                    name_node.span,
                    format!("unknown optimizer '{name}'"),
                    Some(one_of(names.iter().map(String::as_str))),
                    nearest(&name, names.iter().map(String::as_str)),
                );
            }
        }
        let label = node
            .get("label")
            .and_then(|n| self.de::<String>(n, &[], "label"));
        let schedule = node.get("schedule").map(|n| self.schedule(n));
        let clip = node.get("clip").map(|n| self.clip(n));
        let mut hyper = Vec::new();
        let mut ok = true;
        for (k, v) in entries {
            let key = k.as_str().unwrap_or("");
            if OPTIMIZER_KEYS.contains(&key) {
                continue;
            }
            let Some(value) = self.de::<HyperValue>(v, &[], "hyperparameter") else {
                ok = false;
                continue;
            };
            if let Some(infos) = &known_hypers {
                match infos.iter().find(|h| h.name == key) {
                    None => {
                        let names: Vec<&str> = infos.iter().map(|h| h.name.as_str()).collect();
                        let suggestion = nearest(key, names.iter().copied())
                            .or_else(|| nearest(key, OPTIMIZER_KEYS.iter().copied()));
                        self.err_full(
                            k.span,
                            format!("unknown hyperparameter '{key}' for {name}"),
                            Some(format!(
                                "{}; or name, label, schedule, clip",
                                one_of(names.iter().copied())
                            )),
                            suggestion,
                        );
                        ok = false;
                    }
                    Some(info) => ok &= self.check_hyper(v, &name, info, &value),
                }
            }
            hyper.push((key.to_string(), value));
        }
        let schedule = match schedule {
            Some(s) => Some(s?),
            None => None,
        };
        let clip = match clip {
            Some(c) => Some(c?),
            None => None,
        };
        if !ok {
            return None;
        }
        Some(OptimizerSpec {
            label: label.unwrap_or_default(),
            name,
            hyper,
            schedule,
            clip,
        })
    }

    fn check_hyper(
        &mut self,
        v: &Node,
        opt: &str,
        info: &super::catalog::HyperInfo,
        value: &HyperValue,
    ) -> bool {
        let key = &info.name;
        let kind_ok = matches!(
            (info.kind, value),
            (HyperKind::Float, HyperValue::Number(_))
                | (HyperKind::Bool, HyperValue::Bool(_))
                | (
                    HyperKind::Pair | HyperKind::OptionalPair,
                    HyperValue::Pair(..)
                )
                | (HyperKind::OptionalPair, HyperValue::NullPair(_))
                | (HyperKind::Triple, HyperValue::Triple(..))
        ) || matches!((info.kind, value), (HyperKind::Int, HyperValue::Number(x)) if x.fract() == 0.0);
        if let (HyperKind::Choice(names), HyperValue::Name(s)) = (info.kind, value) {
            if names.contains(&s.as_str()) {
                return true;
            }
            self.err_full(
                v.span,
                format!("unknown value '{s}' for '{key}' of {opt}"),
                Some(one_of(names.iter().copied())),
                nearest(s, names.iter().copied()),
            );
            return false;
        }
        if !kind_ok {
            self.err_full(
                v.span,
                format!("wrong type for '{key}' of {opt}: found {}", v.describe()),
                Some(info.kind.to_string()),
                None,
            );
            return false;
        }
        let checks: Vec<(f64, super::catalog::Range, &str)> = match value {
            HyperValue::Number(x) => vec![(*x, info.range, "")],
            HyperValue::NullPair(b) => vec![(
                *b,
                info.second_range.unwrap_or(info.range),
                " (second element)",
            )],
            HyperValue::Triple(a, b, c) => [a, b, c].map(|x| (*x, info.range, "")).to_vec(),
            HyperValue::Pair(a, b) => vec![
                (*a, info.range, " (first element)"),
                (
                    *b,
                    info.second_range.unwrap_or(info.range),
                    " (second element)",
                ),
            ],
            HyperValue::Bool(_) | HyperValue::Name(_) => vec![],
        };
        let mut ok = true;
        for (x, range, which) in checks {
            if !range.contains(x) {
                self.err_full(
                    v.span,
                    format!("'{key}' of {opt} is out of range{which}: {x}"),
                    Some(format!("a number {range}")),
                    None,
                );
                ok = false;
            }
        }
        ok
    }

    fn schedule(&mut self, node: &Node) -> Option<Schedule> {
        let kind = self.kind(node, Schedule::KINDS, "schedule")?;
        const SKIP: &[&str] = &["kind"];
        Some(match kind {
            "step" => {
                let s: StepLr = self.de(node, SKIP, "schedule")?;
                self.at_least_one(node, "step_size", s.step_size);
                self.range(node, "gamma", s.gamma, Range::above(0.0));
                Schedule::Step(s)
            }
            "multistep" => {
                let s: MultiStepLr = self.de(node, SKIP, "schedule")?;
                if s.milestones.windows(2).any(|w| w[0] >= w[1]) {
                    self.err_full(
                        value_span(node, "milestones"),
                        "'milestones' must increase strictly",
                        Some("e.g. [100, 300, 600]".into()),
                        None,
                    );
                }
                self.range(node, "gamma", s.gamma, Range::above(0.0));
                Schedule::MultiStep(s)
            }
            "exponential" => {
                let s: ExponentialLr = self.de(node, SKIP, "schedule")?;
                self.range(node, "gamma", s.gamma, Range::above(0.0));
                Schedule::Exponential(s)
            }
            "cosine" => {
                let s: CosineLr = self.de(node, SKIP, "schedule")?;
                self.at_least_one(node, "T_max", s.t_max);
                self.range(node, "eta_min", s.eta_min, Range::at_least(0.0));
                Schedule::Cosine(s)
            }
            "warmup" => {
                let s: WarmupLr = self.de(node, &["kind", "then"], "schedule")?;
                self.at_least_one(node, "warmup_steps", s.warmup_steps);
                self.range(
                    node,
                    "start_factor",
                    s.start_factor,
                    Range::open_closed(0.0, 1.0),
                );
                let then = match node.get("then") {
                    Some(t) if !t.is_null() => Some(Box::new(self.schedule(t)?)),
                    _ => None,
                };
                Schedule::Warmup(s, then)
            }
            "onecycle" => {
                let s: OneCycleLr = self.de(node, SKIP, "anneal_strategy")?;
                self.range(node, "max_lr", s.max_lr, Range::above(0.0));
                if let Some(t) = s.total_steps {
                    self.at_least_one(node, "total_steps", t);
                }
                self.range(node, "pct_start", s.pct_start, Range::open(0.0, 1.0));
                self.range(node, "div_factor", s.div_factor, Range::above(0.0));
                self.range(
                    node,
                    "final_div_factor",
                    s.final_div_factor,
                    Range::above(0.0),
                );
                Schedule::OneCycle(s)
            }
            "plateau" => {
                let s: PlateauLr = self.de(node, SKIP, "schedule")?;
                self.range(node, "factor", s.factor, Range::open(0.0, 1.0));
                self.range(node, "threshold", s.threshold, Range::at_least(0.0));
                self.range(node, "min_lr", s.min_lr, Range::at_least(0.0));
                Schedule::Plateau(s)
            }
            _ => {
                let s: ConstantLr = self.de(node, SKIP, "schedule")?;
                self.range(node, "factor", s.factor, Range::above(0.0));
                Schedule::Constant(s)
            }
        })
    }

    fn clip(&mut self, node: &Node) -> Option<Clip> {
        let raw: RawClip = self.de(node, &[], "clip")?;
        match (raw.max_norm, raw.value) {
            (Some(m), None) => {
                self.range(node, "max_norm", m, Range::above(0.0));
                let norm_type = raw.norm_type.unwrap_or(2.0);
                self.range(node, "norm_type", norm_type, Range::above(0.0));
                Some(Clip::Norm {
                    max_norm: m,
                    norm_type,
                })
            }
            (None, Some(v)) => {
                if raw.norm_type.is_some() {
                    self.err(
                        key_span(node, "norm_type"),
                        "'norm_type' goes with 'max_norm', not 'value'",
                    );
                }
                self.range(node, "value", v, Range::above(0.0));
                Some(Clip::Value(v))
            }
            _ => {
                self.err_full(
                    node.span,
                    "clip takes exactly one of 'max_norm' and 'value'",
                    Some("{max_norm: 1.0} or {value: 0.5}".into()),
                    None,
                );
                None
            }
        }
    }

    // ----- view and expect -----

    fn view(
        &mut self,
        node: &Node,
        objective: Option<&Objective>,
        labels: &[String],
    ) -> Option<ViewSpec> {
        let v: ViewSpec = self.de(node, &[], "plane")?;
        for key in ["x_range", "y_range"] {
            let r = if key == "x_range" {
                v.x_range
            } else {
                v.y_range
            };
            if let Some([a, b]) = r {
                if self.finite_all(node.get(key), &format!("'{key}'")) && !increasing(a, b) {
                    self.err_full(
                        value_span(node, key),
                        format!("'{key}' [{a}, {b}] is empty"),
                        Some("[low, high] with low < high".into()),
                        None,
                    );
                }
            }
        }
        self.at_least_one(node, "levels", v.levels as u64);
        if let Some(t) = v.trail {
            self.at_least_one(node, "trail", t as u64);
        }
        if let (Plane::Params(a, b), Some(pn)) = (&v.plane, node.get("plane")) {
            let vars: Option<Vec<String>> = match objective {
                Some(Objective::Expr(e)) => e.vars.clone().or_else(|| match &e.start {
                    PerVar::Named(p) => Some(p.iter().map(|(n, _)| n.clone()).collect()),
                    PerVar::List(_) => None,
                }),
                _ => None,
            };
            let dim = match objective {
                Some(Objective::Expr(e)) => Some(e.start.len()),
                Some(Objective::Model(m)) => param_count(&m.model, m.data.shape().features),
                None => None,
            };
            if a == b {
                self.err(pn.span, "the plane's two axes are the same");
            }
            for axis in [a, b] {
                match axis {
                    Axis::Index(i) => {
                        if let Some(d) = dim {
                            if *i >= d {
                                self.err_full(
                                    pn.span,
                                    format!(
                                        "plane axis {i} is out of range: there are {d} parameter(s)"
                                    ),
                                    Some(format!("indices in [0, {}]", d.saturating_sub(1))),
                                    None,
                                );
                            }
                        }
                    }
                    Axis::Name(n) => match &vars {
                        Some(vs) if !vs.contains(n) => self.err_full(
                            pn.span,
                            format!("plane axis '{n}' is not a variable"),
                            Some(one_of(vs.iter().map(String::as_str))),
                            nearest(n, vs.iter().map(String::as_str)),
                        ),
                        None if matches!(objective, Some(Objective::Model(_))) => {
                            self.err_full(
                                pn.span,
                                format!(
                                    "plane axis '{n}': a model's parameters are chosen by index"
                                ),
                                Some("[i, j] indices".into()),
                                None,
                            );
                        }
                        _ => {}
                    },
                }
            }
        }
        if let (Some(show), Some(NodeKind::Seq(items))) =
            (&v.show, node.get("show").map(|n| &n.kind))
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
    ) -> Option<Vec<(String, Expectation)>> {
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
            let Some(e) = self.de::<Expectation>(v, &[], "status") else {
                ok = false;
                continue;
            };
            if let Some(a) = e.accuracy_above {
                self.range(v, "accuracy_above", a, Range::closed_open(0.0, 1.0));
                let classifies =
                    matches!(objective, Some(Objective::Model(m)) if m.loss.is_classification());
                if objective.is_some() && !classifies {
                    self.err(key_span(v, "accuracy_above"), "'accuracy_above' needs a model objective with a classification loss (bce_logits or cross_entropy)");
                }
            }
            if let Some(dm) = e.distance_to_minimum_below {
                self.range(v, "distance_to_minimum_below", dm, Range::above(0.0));
                let has_min = matches!(objective, Some(Objective::Expr(x)) if x.minimum.is_some());
                if objective.is_some() && !has_min {
                    self.err_full(
                        key_span(v, "distance_to_minimum_below"),
                        "'distance_to_minimum_below' needs `objective.minimum`",
                        Some("`minimum: {x: 1, y: 1}` in the objective".into()),
                        None,
                    );
                }
            }
            if let Some(s) = e.converged_within_steps {
                self.at_least_one(v, "converged_within_steps", s);
            }
            out.push((label, e));
        }
        ok.then_some(out)
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

fn loss_name(l: Loss) -> &'static str {
    match l {
        Loss::Mse => "mse",
        Loss::Mae => "mae",
        Loss::Huber => "huber",
        Loss::BceLogits => "bce_logits",
        Loss::CrossEntropy => "cross_entropy",
    }
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
