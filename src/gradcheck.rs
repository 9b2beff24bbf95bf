//! `gradscope grad`: one expression, one point, every engine side by side — the value, the
//! gradient by forward mode, reverse mode and finite differences, their largest disagreements,
//! what each engine cost, and the Hessian (nested duals) with its spectrum.
//!
//! The Hessian takes `n(n+1)/2` nested-dual passes, each as long as the expression, which for
//! most expressions grows with `n` too: cubic in the number of variables (a quarter of a second
//! at 200 variables, 16 s at 800, about a minute at 2,000; BENCHMARKS.md section 5). It is
//! computed by default only up to [`AUTO_HESSIAN_MAX_VARS`] variables; the report says when and
//! why it was skipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use nalgebra::{DMatrix, SymmetricEigen};
use serde::Serialize;

use crate::ad::{ScalarFn, dual, finite};
use crate::backprop::graph::TapeRow;
use crate::backprop::stepper::{Mode, Notation, Stepper};
use crate::backprop::{Graph, short};
use crate::engines::time_per_call;
use crate::expr::{ExprError, Expression, Workspace};
use crate::text::printable;

/// Errors of the `grad` command: all are bad input (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum GradError {
    #[error("{rendered}")]
    Expression { rendered: String, error: ExprError },
    #[error(
        "bad --at entry '{0}': expected name=value pairs separated by commas, e.g. --at x=-1.5,y=2"
    )]
    BadPoint(String),
    #[error("variable{} {} not given with --at (the expression uses: {})",
        if .missing.len() == 1 { "" } else { "s" }, .missing.join(", "), .all.join(", "))]
    MissingVars {
        missing: Vec<String>,
        all: Vec<String>,
    },
    #[error("--at gives '{name}', which the expression does not use{}",
        .suggestion.as_ref().map(|s| format!("; did you mean '{s}'?")).unwrap_or_default())]
    UnknownVar {
        name: String,
        suggestion: Option<String>,
    },
    #[error("--at gives '{0}' twice")]
    DuplicateVar(String),
    #[error(
        "bad --at entry '{0}': the value is not a finite number (NaN, infinity and magnitudes \
         beyond about 1.8e308 are refused)"
    )]
    NonFinite(String),
}

/// Up to this many variables `grad` computes the Hessian unless told not to (well under a
/// second of nested-dual passes for an expression of a few operations per variable).
pub const AUTO_HESSIAN_MAX_VARS: usize = 200;

/// Up to this many variables the text report prints the whole Hessian; larger ones are
/// summarised (the JSON report always has every entry).
pub const PRINTED_HESSIAN_MAX_VARS: usize = 10;

/// Whether to compute the Hessian (`--hessian`, `--no-hessian`, or neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HessianChoice {
    /// Only up to [`AUTO_HESSIAN_MAX_VARS`] variables.
    #[default]
    Auto,
    Always,
    Never,
}

impl HessianChoice {
    /// Why the Hessian is skipped for `n` variables, or `None` when it is computed.
    #[must_use]
    pub fn skip_reason(self, n: usize) -> Option<String> {
        match self {
            Self::Always => None,
            Self::Never => Some("--no-hessian was given".to_owned()),
            Self::Auto if n > AUTO_HESSIAN_MAX_VARS => Some(format!(
                "{n} variables, more than the {AUTO_HESSIAN_MAX_VARS} computed by \
                 default: its cost grows with the cube of the variables; --hessian computes it"
            )),
            Self::Auto => None,
        }
    }
}

/// How `grad` works: forward mode's chunk width, how long each engine is timed (zero: one call
/// each), and whether to compute the Hessian.
#[derive(Debug, Clone, Copy)]
pub struct GradOptions {
    pub chunk: usize,
    pub timing: Duration,
    pub hessian: HessianChoice,
}

/// Cost of one engine's gradient.
#[derive(Debug, Clone, Serialize)]
pub struct EngineCost {
    pub passes: usize,
    /// Mean wall time per gradient in nanoseconds.
    pub nanos_per_gradient: f64,
}

/// The three gradients of one expression.
#[derive(Debug, Clone, Serialize)]
pub struct Gradients {
    pub forward: Vec<f64>,
    pub reverse: Vec<f64>,
    pub finite: Vec<f64>,
}

/// Largest absolute difference between each pair of engines.
#[derive(Debug, Clone, Serialize)]
pub struct Differences {
    pub forward_reverse: f64,
    pub forward_finite: f64,
    pub reverse_finite: f64,
}

/// Everything `gradscope grad` prints.
#[derive(Debug, Clone, Serialize)]
pub struct GradReport {
    pub expression: String,
    pub vars: Vec<String>,
    pub point: Vec<f64>,
    pub value: f64,
    pub gradient: Gradients,
    pub max_abs_difference: Differences,
    pub cost: Costs,
    /// Row-major Hessian by nested duals; `None` when skipped.
    pub hessian: Option<Vec<Vec<f64>>>,
    pub eigenvalues: Option<Vec<f64>>,
    /// `max|λ| / min|λ|` (infinite when singular).
    pub condition_number: Option<f64>,
    /// Why the Hessian was not computed, when it was not.
    pub hessian_skipped: Option<String>,
    /// Every let-bound name: its value and the total derivative of the value with respect to
    /// it (what PyTorch's `retain_grad()` reports).
    pub intermediates: BTreeMap<String, IntermediateValue>,
    /// The plain tape's nodes in recording order.
    pub tape: Vec<TapeRow>,
    /// The computation graph the last two come from (for `--trace` and `--dot`).
    #[serde(skip)]
    pub graph: Graph,
    /// Why finite differences disagree with the exact engines, when a known cause shows.
    pub finite_difference_note: Option<String>,
}

/// A let-bound intermediate in the report: `value` is `null` when the result does not use
/// it (no code computes it), `adjoint` `null` for a constant (no node to propagate to) and
/// `0` when the result does not use it.
#[derive(Debug, Clone, Serialize)]
pub struct IntermediateValue {
    pub value: Option<f64>,
    pub adjoint: Option<f64>,
}

/// Per-engine costs.
#[derive(Debug, Clone, Serialize)]
pub struct Costs {
    pub forward: EngineCost,
    pub reverse: EngineCost,
    pub finite: EngineCost,
    /// Forward mode's chunk width.
    pub chunk: usize,
}

/// Parses `x=-1.5,y=2` into pairs.
pub fn parse_point(spec: &str) -> Result<Vec<(String, f64)>, GradError> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| GradError::BadPoint(part.to_string()))?;
        let name = name.trim();
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| GradError::BadPoint(part.to_string()))?;
        if !value.is_finite() {
            return Err(GradError::NonFinite(part.to_string()));
        }
        if name.is_empty() {
            return Err(GradError::BadPoint(part.to_string()));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(GradError::DuplicateVar(name.to_string()));
        }
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// Computes the report; `timing` sets how long each engine is timed (zero: one call each). A
/// chunk width outside `1..=MAX_CHUNK` is clamped into it.
pub fn compute(
    source: &str,
    at: &[(String, f64)],
    options: GradOptions,
) -> Result<GradReport, GradError> {
    let GradOptions {
        chunk,
        timing,
        hessian,
    } = options;
    let expr = Expression::parse(source).map_err(|error| GradError::Expression {
        rendered: error.render(source),
        error,
    })?;
    let vars = expr.vars().to_vec();
    for (name, _) in at {
        if !vars.contains(name) {
            let names: Vec<&str> = vars.iter().map(String::as_str).collect();
            return Err(GradError::UnknownVar {
                name: name.clone(),
                suggestion: crate::expr::suggest(name, &names),
            });
        }
    }
    let missing: Vec<String> = vars
        .iter()
        .filter(|v| !at.iter().any(|(n, _)| n == *v))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(GradError::MissingVars { missing, all: vars });
    }
    let point: Vec<f64> = vars
        .iter()
        .map(|v| {
            at.iter()
                .find(|(n, _)| n == v)
                .map_or(f64::NAN, |(_, x)| *x)
        })
        .collect();
    let n = vars.len();
    let chunk = chunk.clamp(1, dual::MAX_CHUNK);
    let mut work = Workspace::default();
    let (mut forward, mut reverse, mut finite_g) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let (value, passes) = expr.gradient_forward(&point, chunk, &mut work, &mut forward);
    expr.gradient_reverse(&point, &mut work, &mut reverse);
    finite::gradient_with(&point, &mut finite_g, |p| expr.eval_f64(p));

    let forward_ns = time_per_call(timing, || {
        expr.gradient_forward(&point, chunk, &mut work, &mut forward);
    });
    let reverse_ns = time_per_call(timing, || {
        expr.gradient_reverse(&point, &mut work, &mut reverse);
    });
    let finite_ns = time_per_call(timing, || {
        finite::gradient_with(&point, &mut finite_g, |p| expr.eval_f64(p));
    });

    let hessian_skipped = hessian.skip_reason(n);
    let hessian = hessian_skipped
        .is_none()
        .then(|| dual::hessian_with(&point, |x| expr.eval(x)).2);
    let (eigenvalues, condition_number) = hessian.as_ref().map(spectrum).unzip();
    let graph = Graph::new(&expr, &point);
    let intermediates = graph
        .intermediates
        .iter()
        .map(|i| {
            let value = IntermediateValue {
                value: i.value,
                adjoint: i.adjoint,
            };
            (i.name.clone(), value)
        })
        .collect();
    let tape = graph.tape_rows();
    let max_diff = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| crate::ad::disagreement(x, y))
            .fold(0.0, f64::max)
    };
    let finite_difference_note =
        crate::engines::finite_difference_note(&|p| expr.eval_f64(p), &point, &reverse, &finite_g)
            .map(str::to_owned);
    Ok(GradReport {
        finite_difference_note,
        expression: source.to_string(),
        max_abs_difference: Differences {
            forward_reverse: max_diff(&forward, &reverse),
            forward_finite: max_diff(&forward, &finite_g),
            reverse_finite: max_diff(&reverse, &finite_g),
        },
        gradient: Gradients {
            forward,
            reverse,
            finite: finite_g,
        },
        cost: Costs {
            forward: EngineCost {
                passes,
                nanos_per_gradient: forward_ns,
            },
            reverse: EngineCost {
                passes: 1,
                nanos_per_gradient: reverse_ns,
            },
            finite: EngineCost {
                passes: 2 * n,
                nanos_per_gradient: finite_ns,
            },
            chunk,
        },
        hessian: hessian.map(|h| h.row_iter().map(|r| r.iter().copied().collect()).collect()),
        eigenvalues,
        condition_number,
        hessian_skipped,
        intermediates,
        tape,
        graph,
        vars,
        point,
        value,
    })
}

/// Eigenvalues in ascending order and the condition number `max|λ| / min|λ|`.
#[must_use]
pub fn spectrum(h: &DMatrix<f64>) -> (Vec<f64>, f64) {
    if h.nrows() == 0 || h.iter().any(|v| !v.is_finite()) {
        return (Vec::new(), f64::NAN);
    }
    let mut eig: Vec<f64> = SymmetricEigen::new(h.clone())
        .eigenvalues
        .iter()
        .copied()
        .collect();
    eig.sort_by(f64::total_cmp);
    let abs_max = eig.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let abs_min = eig.iter().map(|v| v.abs()).fold(f64::INFINITY, f64::min);
    let cond = if abs_min == 0.0 {
        f64::INFINITY
    } else {
        abs_max / abs_min
    };
    (eig, cond)
}

fn fmt_time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

impl GradReport {
    /// The human-readable table.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let point: Vec<String> = self
            .vars
            .iter()
            .zip(&self.point)
            .map(|(v, x)| format!("{v}={x}"))
            .collect();
        let _ = writeln!(s, "f = {}", printable(self.expression.trim()));
        let _ = writeln!(s, "at {}", point.join(", "));
        let _ = writeln!(s, "value = {:.17e}\n", self.value);
        let width = self.vars.iter().map(String::len).max().unwrap_or(1).max(8);
        let _ = writeln!(
            s,
            "{:<width$}  {:>24}  {:>24}  {:>24}",
            "gradient", "forward (duals)", "reverse (tape)", "finite differences"
        );
        for (i, v) in self.vars.iter().enumerate() {
            let _ = writeln!(
                s,
                "{:<width$}  {:>24.16e}  {:>24.16e}  {:>24.16e}",
                v, self.gradient.forward[i], self.gradient.reverse[i], self.gradient.finite[i]
            );
        }
        if !self.intermediates.is_empty() {
            let width = self
                .intermediates
                .keys()
                .map(String::len)
                .max()
                .unwrap_or(1)
                .max(12);
            let _ = writeln!(
                s,
                "\n{:<width$}  {:>24}  {:>24}",
                "intermediate", "value", "d f / d intermediate"
            );
            let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.16e}"));
            for (name, i) in &self.intermediates {
                let _ = writeln!(
                    s,
                    "{:<width$}  {:>24}  {:>24}",
                    printable(name),
                    cell(i.value),
                    cell(i.adjoint)
                );
            }
        }
        let d = &self.max_abs_difference;
        let _ = writeln!(s, "\nlargest |difference|");
        let _ = writeln!(s, "  forward vs reverse  {:.3e}", d.forward_reverse);
        let _ = writeln!(s, "  forward vs finite   {:.3e}", d.forward_finite);
        let _ = writeln!(s, "  reverse vs finite   {:.3e}", d.reverse_finite);
        if let Some(note) = &self.finite_difference_note {
            let _ = writeln!(s, "  ({note})");
        }
        let c = &self.cost;
        let n = self.vars.len();
        let _ = writeln!(
            s,
            "\ncost per gradient ({n} {})",
            if n == 1 { "variable" } else { "variables" }
        );
        // A pass carries at most one tangent per variable, whatever the chunk allows.
        let tangents = c.chunk.min(n.max(1));
        let _ = writeln!(
            s,
            "  forward  {:>4} {} of {} {}  {:>12}",
            c.forward.passes,
            crate::text::plural(c.forward.passes as u64, "pass", "passes"),
            tangents,
            crate::text::plural(tangents as u64, "tangent", "tangents"),
            fmt_time(c.forward.nanos_per_gradient)
        );
        let _ = writeln!(
            s,
            "  reverse  {:>4} forward + 1 backward sweep  {:>9}",
            c.reverse.passes,
            fmt_time(c.reverse.nanos_per_gradient)
        );
        let _ = writeln!(
            s,
            "  finite   {:>4} evaluations              {:>12}",
            c.finite.passes,
            fmt_time(c.finite.nanos_per_gradient)
        );
        self.render_hessian(&mut s);
        s
    }

    /// The Hessian section: whole up to [`PRINTED_HESSIAN_MAX_VARS`], summarised beyond.
    fn render_hessian(&self, s: &mut String) {
        let (Some(hessian), Some(eigenvalues)) = (&self.hessian, &self.eigenvalues) else {
            let reason = self.hessian_skipped.as_deref().unwrap_or("not computed");
            let _ = writeln!(s, "\nHessian: skipped ({reason})");
            return;
        };
        let n = hessian.len();
        let sci = |v: &f64| format!("{v:.6e}");
        if n <= PRINTED_HESSIAN_MAX_VARS {
            let _ = writeln!(s, "\nHessian (nested duals)");
            for row in hessian {
                let cells: Vec<String> = row.iter().map(|v| format!("{v:>14.6e}")).collect();
                let _ = writeln!(s, "  [{}]", cells.join(" "));
            }
            let eig: Vec<String> = eigenvalues.iter().map(sci).collect();
            let _ = writeln!(s, "eigenvalues: {}", eig.join(", "));
        } else {
            let _ = writeln!(
                s,
                "\nHessian (nested duals): {n} x {n}, summarised (over {PRINTED_HESSIAN_MAX_VARS} \
                 variables; --json prints every entry)"
            );
            let entries = hessian
                .iter()
                .enumerate()
                .flat_map(|(i, row)| row.iter().enumerate().map(move |(j, v)| (i, j, *v)));
            let nonzero = entries.clone().filter(|e| e.2 != 0.0).count();
            if let Some((i, j, v)) = entries.max_by(|a, b| a.2.abs().total_cmp(&b.2.abs())) {
                let _ = writeln!(
                    s,
                    "  largest |entry| {} at ({}, {}); {nonzero} of {} entries non-zero",
                    sci(&v),
                    self.vars[i],
                    self.vars[j],
                    n * n
                );
            }
            let diagonal = (0..n).map(|i| hessian[i][i]);
            let low = diagonal.clone().fold(f64::INFINITY, f64::min);
            let high = diagonal.fold(f64::NEG_INFINITY, f64::max);
            let _ = writeln!(s, "  diagonal from {} to {}", sci(&low), sci(&high));
            let shown = PRINTED_HESSIAN_MAX_VARS / 2;
            let head: Vec<String> = eigenvalues.iter().take(shown).map(sci).collect();
            let tail: Vec<String> = eigenvalues[eigenvalues.len().saturating_sub(shown)..]
                .iter()
                .map(sci)
                .collect();
            if eigenvalues.len() > 2 * shown {
                let _ = writeln!(
                    s,
                    "eigenvalues: {}, ... ({} more) ..., {}",
                    head.join(", "),
                    eigenvalues.len() - 2 * shown,
                    tail.join(", ")
                );
            } else {
                let all: Vec<String> = eigenvalues.iter().map(sci).collect();
                let _ = writeln!(s, "eigenvalues: {}", all.join(", "));
            }
        }
        let cond = self.condition_number.unwrap_or(f64::NAN);
        let _ = writeln!(s, "condition number: {cond:.6e}");
    }

    /// The forward pass and the backward sweep, one step a line as the TUI's stepper captions
    /// read (`--trace`), numbers to 4 significant digits.
    #[must_use]
    pub fn render_trace(&self) -> String {
        let stepper = Stepper::new(self.graph.clone(), Mode::Reverse);
        let lines = stepper.trace(Notation::UNICODE, &short, self.cost.chunk);
        let mut s = String::new();
        let _ = writeln!(s, "f = {}", printable(self.expression.trim()));
        let _ = writeln!(
            s,
            "reverse mode, step by step (numbers to 4 significant digits; --json has them \
             exactly)\n"
        );
        let _ = writeln!(s, "{:>5}  {:<8}  what happens", "step", "phase");
        let last = lines.len().saturating_sub(1);
        for (k, line) in lines.iter().enumerate() {
            let phase = match (k, k.checked_sub(1).and_then(|p| stepper.steps().get(p))) {
                (0, _) => "start",
                (_, Some(crate::backprop::stepper::Step::Evaluate { .. })) => "forward",
                (_, Some(crate::backprop::stepper::Step::Seed { .. })) => "seed",
                (_, Some(crate::backprop::stepper::Step::Push { .. })) => "backward",
                _ => "result",
            };
            let step = if k == last {
                String::new()
            } else {
                k.to_string()
            };
            let _ = writeln!(s, "{step:>5}  {phase:<8}  {}", printable(line));
        }
        s
    }

    /// The JSON object (`--json`); timings included.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
