//! Expressions: grammar-built programs with odd numbers and names, token soup, nesting around
//! the parser's depth limit and far beyond it, quadratic forms with awkward Hessians, and
//! character-level mutations of all of these and of the bundled scenarios' expressions.
//!
//! A rejected expression must carry a span on character boundaries inside the text, whose
//! line and column (as `gradscope grad` prints them) fall inside the text, and `grad` must
//! reject it with the same error. An accepted one runs on every engine without panicking;
//! NaN and infinite results are fine. Agreement between engines on well-formed trees is
//! `engines.rs`'s business; asserted here, for any input, is only what holds by construction:
//! - the value is the same bit for bit on every path (`eval_f64`, the compiled value, reverse
//!   and forward sweeps, the generic tape and duals, and the objective's three engines: the
//!   session serves its loss from a prefetched gradient on the strength of this);
//! - gradients have one entry per variable, forward mode takes `ceil(n / chunk)` passes;
//! - a reused `Workspace` gives bit-identical results to a fresh one (no state leaks from one
//!   expression's shape to the next's);
//! - `grad`'s report has the expression's variables, and a Hessian exactly when not skipped.

use std::time::Duration;

use gradscope::ad::dual::{self, Hyper};
use gradscope::ad::tape::{self, Tape};
use gradscope::ad::{Engine, ScalarFn, finite};
use gradscope::expr::{CONSTANTS, Expression, FUNCTIONS, MAX_DEPTH, Workspace};
use gradscope::gradcheck::{self, GradError, GradOptions, HessianChoice};
use gradscope::objective::{ExpressionObjective, Objective, Scratch};
use gradscope::optim::registry;
use gradscope::session::{RunSpec, Session, StopConfig};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::{Fuzz, STEPS, corpus, preview, same};

/// Generated cases in `cargo test`.
const CASES: u64 = 1000;

const NAMES: &[&str] = &[
    "x", "y", "z", "w", "x1", "x_2", "alpha", "xx", "sinx", "pi2", "e1", "_", "_a", "A", "t0",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "0.5",
    ".5",
    "1.",
    "10",
    "100",
    "1e3",
    "2.5e-3",
    "1e308",
    "1e-308",
    "5e-324",
    "1e400",
    "1e-400",
    "1.7976931348623157e308",
    "123456789012345678901234567890",
    "9007199254740993",
    "0000",
    "1E5",
    "0.1",
];

/// Pieces of token soup: the language's tokens and a few it has no use for.
const SOUP: &[&str] = &[
    "+",
    "-",
    "*",
    "/",
    "^",
    "(",
    ")",
    ",",
    "=",
    "\n",
    " ",
    "\t",
    "# note\n",
    "**",
    "!",
    "$",
    "@",
    "θ",
    "é",
    "\u{202e}",
    "\u{0}",
    "\r",
    "\u{1b}[2J",
    "1e",
    "1.2.3",
    ".",
    "..",
    "e-",
    "%",
    "[",
    "]",
    "{",
    "\u{feff}",
    "\u{a0}",
    "１",
];

/// Values the variables are evaluated at.
const POINTS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    -3.0,
    1e-308,
    5e-324,
    1e308,
    -1e308,
    std::f64::consts::FRAC_PI_2,
    710.0,
    -745.0,
    1e16,
];

fn pick<'a, T: ?Sized>(rng: &mut ChaCha8Rng, items: &[&'a T]) -> &'a T {
    items[rng.random_range(0..items.len())]
}

/// A well-formed expression (names may still be unknown or reserved where a let line uses
/// them), `depth` levels deep at most.
fn well_formed(rng: &mut ChaCha8Rng, depth: usize, lets: &[String]) -> String {
    let leaf = depth == 0 || rng.random_range(0..4) == 0;
    if leaf {
        return match rng.random_range(0..10) {
            0..=3 => pick(rng, NAMES).to_string(),
            4..=6 => pick(rng, NUMBERS).to_string(),
            7 => pick(rng, &CONSTANTS).to_string(),
            _ if !lets.is_empty() => lets[rng.random_range(0..lets.len())].clone(),
            _ => "x".to_string(),
        };
    }
    let sub = |rng: &mut ChaCha8Rng| well_formed(rng, depth - 1, lets);
    match rng.random_range(0..9) {
        0 => format!("-{}", sub(rng)),
        1 => format!("({})", sub(rng)),
        2 | 3 => {
            let op = pick(rng, &["+", "-", "*", "/", "^"]);
            let space = pick(rng, &["", " ", "  ", "\t"]);
            format!("{}{space}{op}{space}{}", sub(rng), sub(rng))
        }
        4 => format!(
            "{}^{}",
            sub(rng),
            pick(rng, &["2", "-1", "0", "3", "0.5", "-2", "1e9"])
        ),
        5 | 6 => {
            let f = pick(rng, &FUNCTIONS);
            if matches!(f, "pow" | "min" | "max") {
                format!("{f}({}, {})", sub(rng), sub(rng))
            } else {
                format!("{f}({})", sub(rng))
            }
        }
        7 => format!("({}) * ({})", sub(rng), sub(rng)),
        _ => format!("{} + {}", sub(rng), sub(rng)),
    }
}

/// Let lines (sometimes redefining, shadowing a constant or using a name before it is
/// defined) and a final expression, with comments and blank lines between.
fn program(rng: &mut ChaCha8Rng) -> String {
    let mut lets: Vec<String> = Vec::new();
    let mut src = String::new();
    for _ in 0..rng.random_range(0..4) {
        let name = match rng.random_range(0..8) {
            0 => pick(rng, NAMES).to_string(),
            1 => pick(rng, &["pi", "e", "sin", "pow"]).to_string(),
            _ => format!("t{}", lets.len()),
        };
        let depth = rng.random_range(0..5);
        let value = well_formed(rng, depth, &lets);
        src.push_str(&format!("{name} = {value}"));
        if rng.random_range(0..3) == 0 {
            src.push_str("  # a comment");
        }
        src.push_str(pick(rng, &["\n", "\n\n", "\r\n"]));
        lets.push(name);
    }
    let depth = rng.random_range(0..7);
    src.push_str(&well_formed(rng, depth, &lets));
    src
}

/// A quadratic form whose Hessian is a chosen symmetric matrix, for `grad`'s spectrum: zero,
/// sparse 0/1 patterns with repeated rows, tridiagonal with a zero diagonal, diagonals of tiny
/// and huge entries, random small entries: the kinds of matrix eigenvalue iterations are known
/// to stall on (nalgebra issues 1025, 1291, 1528).
fn quadratic(rng: &mut ChaCha8Rng) -> String {
    let n = rng.random_range(2..=12);
    let mut h = vec![vec![0.0_f64; n]; n];
    let mut set = |i: usize, j: usize, v: f64| {
        h[i][j] = v;
        h[j][i] = v;
    };
    match rng.random_range(0..5) {
        0 => {}
        1 => {
            let base = rng.random_range(1..=n);
            let rows: Vec<Vec<bool>> = (0..base)
                .map(|_| (0..n).map(|_| rng.random_range(0..10) < 3).collect())
                .collect();
            for i in 0..n {
                for (j, &one) in rows[i % base].iter().enumerate() {
                    if one {
                        set(i, j, 1.0);
                    }
                }
            }
        }
        2 => {
            for i in 0..n - 1 {
                set(i, i + 1, rng.random_range(0.4..0.6));
            }
        }
        3 => {
            let values = [1e-300, 1e300, 5e-324, -1e300, 0.0, 1.0, f64::MIN_POSITIVE];
            for i in 0..n {
                set(i, i, values[rng.random_range(0..values.len())]);
            }
        }
        _ => {
            let values = [0.0, 1.0, -1.0, 0.5, 1e-8, 1e8];
            for i in 0..n {
                for j in i..n {
                    set(i, j, values[rng.random_range(0..values.len())]);
                }
            }
        }
    }
    let mut terms: Vec<String> = (0..n).map(|i| format!("0*x{i}")).collect();
    for (i, row) in h.iter().enumerate() {
        for (j, &v) in row.iter().enumerate().skip(i) {
            if v != 0.0 {
                terms.push(if i == j {
                    format!("({:?})*x{i}^2", v / 2.0)
                } else {
                    format!("({v:?})*x{i}*x{j}")
                });
            }
        }
    }
    terms.join(" + ")
}

fn soup(rng: &mut ChaCha8Rng) -> String {
    let mut pieces: Vec<&str> = SOUP.to_vec();
    pieces.extend(NAMES);
    pieces.extend(NUMBERS);
    pieces.extend(FUNCTIONS);
    pieces.extend(CONSTANTS);
    (0..rng.random_range(1..24))
        .map(|_| pick(rng, &pieces))
        .collect()
}

/// Nesting near the parser's depth limit and far past it (refused without recursing), and long
/// flat chains (accepted: kept to a few thousand terms, which take milliseconds on every
/// engine).
fn deep(rng: &mut ChaCha8Rng) -> String {
    let depths = [
        1,
        MAX_DEPTH - 1,
        MAX_DEPTH,
        MAX_DEPTH + 1,
        2 * MAX_DEPTH,
        5_000,
        100_000,
    ];
    let depth = depths[rng.random_range(0..depths.len())];
    let chain = depth.min(3_000);
    match rng.random_range(0..9) {
        0 => format!("{}x{}", "(".repeat(depth), ")".repeat(depth)),
        1 => format!("{}x", "-".repeat(depth)),
        2 => vec!["x"; depth].join("^"),
        3 => format!("{}x{}", "sin(".repeat(depth), ")".repeat(depth)),
        4 => format!("{}x{}", "pow(".repeat(depth), ", 2)".repeat(depth)),
        5 => vec!["x"; chain].join(" + "),
        6 => (0..chain)
            .map(|i| {
                if i == 0 {
                    "t0 = x\n".to_string()
                } else {
                    format!("t{i} = t{} * 1.0001\n", i - 1)
                }
            })
            .chain(std::iter::once(format!("t{}", chain - 1)))
            .collect(),
        7 => format!("{}x", "(".repeat(depth)),
        _ => format!("{}x{}", "-(".repeat(depth), ")".repeat(depth)),
    }
}

/// The expressions of the bundled scenarios, as seeds for mutation.
fn bundled() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue; // the data folder
        }
        let text = std::fs::read_to_string(&path).expect("readable scenario");
        let value: serde_yaml::Value = serde_yaml::from_str(&text).expect("bundled YAML parses");
        collect_expressions(&value, &mut out);
    }
    out.sort();
    assert!(out.len() >= 10, "only {} bundled expressions", out.len());
    out
}

fn collect_expressions(v: &serde_yaml::Value, out: &mut Vec<String>) {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                if matches!(k.as_str(), Some("expr" | "expression"))
                    && let Some(s) = v.as_str()
                {
                    out.push(s.to_string());
                }
                collect_expressions(v, out);
            }
        }
        serde_yaml::Value::Sequence(s) => s.iter().for_each(|v| collect_expressions(v, out)),
        _ => {}
    }
}

/// One to four character-level edits.
fn mutate(rng: &mut ChaCha8Rng, src: &str) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for _ in 0..rng.random_range(1..5) {
        let at = rng.random_range(0..=chars.len());
        match rng.random_range(0..8) {
            0 if !chars.is_empty() => {
                let end = (at + rng.random_range(1..4)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            1 => {
                let piece = pick(rng, SOUP);
                chars.splice(at..at, piece.chars());
            }
            2 => {
                let piece = pick(rng, NUMBERS);
                chars.splice(at..at, piece.chars());
            }
            3 if !chars.is_empty() => {
                let i = at.min(chars.len() - 1);
                let j = rng.random_range(0..chars.len());
                chars.swap(i, j);
            }
            4 if !chars.is_empty() => {
                let start = at.min(chars.len() - 1);
                let end = (start + rng.random_range(1..12)).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(at..at, copy);
            }
            5 => chars.truncate(at),
            6 => {
                let f = pick(rng, &FUNCTIONS);
                let inner: String = chars.iter().collect();
                chars = format!("{f}({inner})").chars().collect();
            }
            _ => {
                let name = pick(rng, NAMES);
                chars.splice(at..at, name.chars());
            }
        }
    }
    chars.into_iter().collect()
}

/// Checks one expression source as the parser, the engines and `grad` see it.
fn check(src: &str, rng: &mut ChaCha8Rng) -> Result<(), String> {
    let options = GradOptions {
        chunk: rng.random_range(0..12),
        timing: Duration::ZERO,
        hessian: HessianChoice::Auto,
    };
    let f = match Expression::parse(src) {
        Ok(f) => f,
        Err(e) => {
            check_location(src, &e)?;
            return match gradcheck::compute(src, &[], options) {
                Err(GradError::Expression { error, .. }) if error == e => Ok(()),
                other => Err(format!(
                    "grad does not reject it with the parser's error {e:?}: {}",
                    match other {
                        Ok(_) => "it computes a report".to_string(),
                        Err(other) => format!("{other:?}"),
                    }
                )),
            };
        }
    };
    let n = f.vars().len();
    let x: Vec<f64> = (0..n)
        .map(|_| POINTS[rng.random_range(0..POINTS.len())])
        .collect();
    engines(&f, &x, rng)?;
    grad(src, &f, &x, options, rng)?;
    if n > 0 && n <= 16 {
        session(f, x, rng)?;
    }
    Ok(())
}

fn check_location(src: &str, e: &gradscope::expr::ExprError) -> Result<(), String> {
    let context = || format!("error {e:?}");
    if e.span.start > e.span.end || e.span.end > src.len() {
        return Err(format!(
            "span outside the text ({} bytes): {}",
            src.len(),
            context()
        ));
    }
    if !src.is_char_boundary(e.span.start) || !src.is_char_boundary(e.span.end) {
        return Err(format!("span inside a character: {}", context()));
    }
    if e.message.is_empty() {
        return Err(format!("empty message: {}", context()));
    }
    let (line, column) = e.line_col(src);
    let lines: Vec<&str> = src.split('\n').collect();
    let Some(text) = lines.get(line.wrapping_sub(1)) else {
        return Err(format!("line {line} of {}: {}", lines.len(), context()));
    };
    if column == 0 || column > text.chars().count() + 1 {
        return Err(format!(
            "column {column} of line {line} {text:?}: {}",
            context()
        ));
    }
    let rendered = e.render(src);
    if !rendered.starts_with("error: ")
        || !rendered.contains(&format!("--> expression:{line}:{column}\n"))
        || !rendered.contains('^')
    {
        return Err(format!("rendered as {rendered:?}"));
    }
    Ok(())
}

/// Every engine on `f` at `x`.
fn engines(f: &Expression, x: &[f64], rng: &mut ChaCha8Rng) -> Result<(), String> {
    let n = x.len();
    let value = f.eval_f64(x);
    let chunk = rng.random_range(0..12);
    let mut values: Vec<(&str, f64)> = Vec::new();
    // Fast paths, each on a fresh workspace and on one that has served other shapes.
    let mut stale = Workspace::default();
    let mut g = vec![0.0; n];
    let other = Expression::parse("a*b + sin(c) - d^2 + e1*f*g*h").expect("parses");
    let mut g_other = vec![0.0; other.vars().len()];
    other.gradient_reverse(&[1.5; 8], &mut stale, &mut g_other);
    other.gradient_forward(&[1.5; 8], 8, &mut stale, &mut g_other);
    let _ = other.value_with(&[1.5; 8], &mut stale);
    let fresh = Workspace::default;
    values.push(("compiled value", f.value_with(x, &mut fresh())));
    values.push((
        "compiled value, reused workspace",
        f.value_with(x, &mut stale),
    ));
    let v = f.gradient_reverse(x, &mut fresh(), &mut g);
    let mut g2 = vec![0.0; n];
    let v2 = f.gradient_reverse(x, &mut stale, &mut g2);
    values.push(("fast reverse", v));
    values.push(("fast reverse, reused workspace", v2));
    same_vectors("fast reverse, fresh and reused workspace", &g, &g2)?;
    let (v, passes) = f.gradient_forward(x, chunk, &mut fresh(), &mut g);
    let (v2, passes2) = f.gradient_forward(x, chunk, &mut stale, &mut g2);
    values.push(("fast forward", v));
    values.push(("fast forward, reused workspace", v2));
    same_vectors("fast forward, fresh and reused workspace", &g, &g2)?;
    // Without variables the fast path counts no pass, the generic duals the one value pass.
    let expected = n.div_ceil(chunk.clamp(1, dual::MAX_CHUNK));
    if passes != expected || passes2 != expected {
        return Err(format!(
            "fast forward with chunk {chunk} over {n} variables took {passes} passes, expected {expected}"
        ));
    }
    // The generic engines.
    let mut g = vec![0.0; n];
    values.push((
        "tape",
        tape::gradient_with(&mut Tape::new(), x, &mut g, |v| f.eval(v)),
    ));
    values.push((
        "fused tape",
        tape::gradient_with(&mut Tape::fused(), x, &mut g, |v| f.eval(v)),
    ));
    let (v, passes) =
        dual::gradient_with(x, chunk.clamp(1, dual::MAX_CHUNK), &mut g, |v| f.eval(v));
    values.push(("duals", v));
    if passes != expected.max(1) {
        return Err(format!(
            "duals took {passes} passes, expected {}",
            expected.max(1)
        ));
    }
    values.push((
        "finite",
        finite::gradient_with(x, &mut g, |p| f.eval_f64(p)),
    ));
    if n <= 8 {
        let (v, g, h) = dual::hessian_with(x, |v: &[Hyper]| f.eval(v));
        values.push(("hessian duals", v));
        if g.len() != n || h.nrows() != n || h.ncols() != n {
            return Err(format!("hessian of {n} variables: {g:?}, {h}"));
        }
    }
    // The objective the sessions use, on each engine.
    let objective = ExpressionObjective::new(f.clone(), x.to_vec(), None);
    values.push(("objective value", objective.value(x)));
    let mut scratch = Scratch::default();
    for engine in [
        Engine::Reverse,
        Engine::Forward {
            chunk: chunk.clamp(1, dual::MAX_CHUNK),
        },
        Engine::Finite,
    ] {
        let mut g = vec![0.0; n];
        let (v, _) = objective.gradient(engine, x, &mut g, &mut scratch);
        values.push((engine.name(), v));
    }
    if n <= 64 {
        let _ = objective.tape_nodes(x);
    }
    let _ = f.listing();
    let registers = f.instructions().len();
    if (0..registers).any(|k| f.describe(k).is_none()) || f.describe(registers).is_some() {
        return Err(format!(
            "describe() does not cover the {registers} registers"
        ));
    }
    for (what, v) in values {
        if !same(v, value) {
            return Err(format!(
                "{what} gives the value {v:e}, eval_f64 {value:e} at {x:?}"
            ));
        }
    }
    Ok(())
}

fn same_vectors(what: &str, a: &[f64], b: &[f64]) -> Result<(), String> {
    if a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(*x, *y)) {
        Ok(())
    } else {
        Err(format!("{what} differ: {a:?} vs {b:?}"))
    }
}

/// `gradscope grad`'s entry point, with the point it needs and with one name missing or extra.
fn grad(
    src: &str,
    f: &Expression,
    x: &[f64],
    mut options: GradOptions,
    rng: &mut ChaCha8Rng,
) -> Result<(), String> {
    let n = x.len();
    options.hessian = match rng.random_range(0..3) {
        0 if n <= 12 => HessianChoice::Always,
        1 => HessianChoice::Never,
        _ => HessianChoice::Auto,
    };
    let at: Vec<(String, f64)> = f.vars().iter().cloned().zip(x.iter().copied()).collect();
    let report = gradcheck::compute(src, &at, options).map_err(|e| format!("grad refuses: {e}"))?;
    if report.vars != f.vars() || report.gradient.forward.len() != n {
        return Err(format!("grad reports {:?}", report.vars));
    }
    if report.hessian.is_some() == report.hessian_skipped.is_some() {
        return Err(format!(
            "hessian {:?} but skipped {:?}",
            report.hessian.as_ref().map(Vec::len),
            report.hessian_skipped
        ));
    }
    if let Some(h) = &report.hessian
        && (h.len() != n || h.iter().any(|row| row.len() != n))
    {
        return Err(format!("a Hessian of {} rows for {n} variables", h.len()));
    }
    let _ = report.render_text();
    serde_json::from_str::<serde_json::Value>(&report.to_json())
        .map_err(|e| format!("grad's JSON does not parse: {e}"))?;
    if let Some((first, rest)) = at.split_first() {
        match gradcheck::compute(src, rest, options) {
            Err(GradError::MissingVars { missing, .. }) if missing == [first.0.clone()] => {}
            other => return Err(format!("without {}: {:?}", first.0, other.map(|_| ()))),
        }
    }
    let mut extra = at.clone();
    extra.push(("not_a_variable".to_string(), 1.0));
    match gradcheck::compute(src, &extra, options) {
        Err(GradError::UnknownVar { name, .. }) if name == "not_a_variable" => Ok(()),
        other => Err(format!("an extra name: {:?}", other.map(|_| ()))),
    }
}

/// A few steps of a session racing one random optimizer on the expression.
fn session(f: Expression, x: Vec<f64>, rng: &mut ChaCha8Rng) -> Result<(), String> {
    let names = registry::names();
    let optimizer = names[rng.random_range(0..names.len())];
    let engine = *pick(
        rng,
        &[
            &Engine::Reverse,
            &Engine::Finite,
            &Engine::Forward { chunk: 1 },
            &Engine::Forward { chunk: 8 },
        ],
    );
    let stop = StopConfig {
        max_steps: STEPS,
        ..StopConfig::default()
    };
    let objective = ExpressionObjective::new(f, x, None);
    let Ok(mut session) = Session::new(
        "fuzz",
        Box::new(objective),
        vec![RunSpec::new(optimizer)],
        engine,
        stop,
        7,
    ) else {
        // Some optimizers need what an expression cannot give (residuals): refused, fine.
        return Ok(());
    };
    session.run_to_end();
    let run = &session.runs()[0];
    if run.steps() > STEPS || run.history().last().map(|p| p.step) != Some(run.steps()) {
        return Err(format!(
            "{optimizer}: {} steps, history ends at {:?}",
            run.steps(),
            run.history().last().map(|p| p.step)
        ));
    }
    Ok(())
}

#[test]
fn expressions_parse_or_point_at_the_problem_and_run_on_every_engine() {
    let seeds = bundled();
    let mut fuzz = Fuzz::new("expr", CASES);
    for (name, bytes) in corpus("expr") {
        let src = String::from_utf8_lossy(&bytes).into_owned();
        let mut rng = fuzz.rng(u64::MAX);
        fuzz.case(&format!("corpus {name}"), &bytes, || check(&src, &mut rng));
    }
    for i in fuzz.cases() {
        let mut rng = fuzz.rng(i);
        let src = match rng.random_range(0..11) {
            0..=2 => program(&mut rng),
            3 => soup(&mut rng),
            10 => quadratic(&mut rng),
            4 => deep(&mut rng),
            5 | 6 => {
                let src = program(&mut rng);
                mutate(&mut rng, &src)
            }
            _ => {
                let seed = &seeds[rng.random_range(0..seeds.len())];
                mutate(&mut rng, seed)
            }
        };
        fuzz.case(
            &format!("case {i} {}", preview(&src, 60)),
            src.as_bytes(),
            || check(&src, &mut rng),
        );
    }
    fuzz.finish();
}
