//! Reference trajectories (tests only): the JSON fixtures that
//! `tests/fixtures/optim/gen_modern.py` writes from the authors' reference implementations in
//! float64, the test functions they were run on (defined here and in the script by the same
//! formulas, evaluated in the same order), and the comparison at 1e-10 relative.
//!
//! A fixture is `{optimizer, reference, function, constants, hyperparameters, x0, params,
//! losses, points?, state?}`: `params[k]` and `losses[k]` are the parameters after step `k + 1`
//! and the loss there; `points` holds the extra sequences of [`Optimizer::points`] per step
//! and `state` scalar state (Prodigy's `d`) per step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use nalgebra::DMatrix;
use serde::Deserialize;

use super::{FnOracle, HyperValue, Optimizer, registry};

/// Agreement asked of every compared number, relative to the size of what it is compared with.
pub const RTOL: f64 = 1e-10;
/// Fewest steps a fixture's trajectory must have.
const MIN_STEPS: usize = 40;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub optimizer: String,
    /// The reference implementation and its version, for messages.
    pub reference: String,
    pub function: String,
    #[serde(default)]
    pub constants: Constants,
    /// Numbers, bools and pairs (see [`Fixture::hyperparameters`]).
    hyperparameters: BTreeMap<String, serde_json::Value>,
    pub x0: Vec<f64>,
    pub params: Vec<Vec<f64>>,
    pub losses: Vec<f64>,
    #[serde(default)]
    pub points: BTreeMap<String, Vec<Vec<f64>>>,
    #[serde(default)]
    pub state: BTreeMap<String, Vec<f64>>,
}

/// The test function's constants: Rosenbrock's `a`, `b`; the quadratic's matrix and centre.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constants {
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub matrix: Option<Vec<Vec<f64>>>,
    pub center: Option<Vec<f64>>,
}

/// `f = (a − x)² + b(y − x²)²`.
fn rosenbrock(a: f64, b: f64) -> FnOracle {
    FnOracle::new(2, move |p| {
        let (t1, t2) = (a - p[0], p[1] - p[0] * p[0]);
        t1 * t1 + b * t2 * t2
    })
    .with_gradient(move |p, g| {
        let (t1, t2) = (a - p[0], p[1] - p[0] * p[0]);
        g[0] = -2.0 * t1 - 4.0 * b * p[0] * t2;
        g[1] = 2.0 * b * t2;
    })
    .with_hessian(move |p| {
        let t2 = p[1] - p[0] * p[0];
        let h00 = 2.0 - 4.0 * b * t2 + 8.0 * b * p[0] * p[0];
        let h01 = -4.0 * b * p[0];
        DMatrix::from_row_slice(2, 2, &[h00, h01, h01, 2.0 * b])
    })
}

/// `f = ½ (x − c)ᵀ A (x − c)`, `∇f = A (x − c)`, sums taken in index order.
fn quadratic(a: Vec<Vec<f64>>, c: Vec<f64>) -> FnOracle {
    let n = c.len();
    let a_grad = a.clone();
    let c_grad = c.clone();
    let a_hess = DMatrix::from_fn(n, n, |i, j| a[i][j]);
    let apply = |a: &[Vec<f64>], c: &[f64], p: &[f64], out: &mut [f64]| {
        for (i, row) in a.iter().enumerate() {
            let mut s = 0.0;
            for (j, aij) in row.iter().enumerate() {
                s += aij * (p[j] - c[j]);
            }
            out[i] = s;
        }
    };
    FnOracle::new(n, move |p| {
        let mut ad = vec![0.0; p.len()];
        apply(&a, &c, p, &mut ad);
        let mut f = 0.0;
        for i in 0..p.len() {
            f += 0.5 * (p[i] - c[i]) * ad[i];
        }
        f
    })
    .with_gradient(move |p, g| apply(&a_grad, &c_grad, p, g))
    .with_hessian(move |_| a_hess.clone())
}

impl Fixture {
    /// The hyperparameters as registry values: numbers, bools, and pairs of numbers.
    fn hyperparameters(&self) -> Vec<(String, HyperValue)> {
        let number = |v: &serde_json::Value| v.as_f64().expect("a number");
        self.hyperparameters
            .iter()
            .map(|(name, v)| {
                let value = match v {
                    serde_json::Value::Bool(b) => HyperValue::Bool(*b),
                    serde_json::Value::Array(pair) if pair.len() == 2 => {
                        HyperValue::Pair(number(&pair[0]), number(&pair[1]))
                    }
                    other => HyperValue::Float(number(other)),
                };
                (name.clone(), value)
            })
            .collect()
    }

    fn oracle(&self) -> FnOracle {
        let k = &self.constants;
        match self.function.as_str() {
            "rosenbrock" => rosenbrock(k.a.unwrap_or(1.0), k.b.unwrap_or(100.0)),
            "rotated_quadratic" => quadratic(
                k.matrix.clone().expect("the quadratic's matrix"),
                k.center.clone().expect("the quadratic's center"),
            ),
            other => panic!("unknown test function '{other}'"),
        }
    }

    fn label(&self) -> String {
        format!(
            "{} on {} ({})",
            self.optimizer, self.function, self.reference
        )
    }
}

/// Every fixture of `optimizer` in the fixture folder.
pub fn load(optimizer: &str) -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optim/modern");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_stem()
                    .and_then(|s| s.to_str())
                    .is_some_and(|s| s.split("__").next() == Some(optimizer))
        })
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0_f64, |m, w| m.max(w.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= RTOL * scale,
            "{what}[{i}]: got {g:e}, reference {w:e} (relative {:e})",
            (g - w).abs() / scale
        );
    }
}

/// Runs every fixture of `optimizer` through the registry's optimizer and compares parameters,
/// losses, extra points and scalar state after every step. Requires fixtures on at least two
/// functions, each of at least 40 steps with some hyperparameter away from its default.
pub fn check(optimizer: &str) {
    let fixtures = load(optimizer);
    let functions: BTreeSet<&str> = fixtures.iter().map(|f| f.function.as_str()).collect();
    assert!(
        functions.len() >= 2,
        "{optimizer}: fixtures on at least two functions, found {functions:?}"
    );
    let spec = registry::spec(optimizer).expect("registered");
    let defaults = spec.hypers();
    for f in &fixtures {
        let label = f.label();
        assert_eq!(f.optimizer, optimizer);
        assert!(f.params.len() >= MIN_STEPS, "{label}: too short");
        assert_eq!(f.params.len(), f.losses.len(), "{label}");
        assert!(
            f.hyperparameters()
                .iter()
                .any(|(name, v)| defaults.iter().any(|d| d.name == name && d.default != *v)),
            "{label}: every hyperparameter at its default"
        );
        run(f);
    }
}

/// Steps the registry's optimizer through one fixture, comparing after every step.
fn run(f: &Fixture) {
    let label = f.label();
    let hypers = f.hyperparameters();
    let mut opt = registry::build(&f.optimizer, &hypers, 0, f.x0.len())
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let mut oracle = f.oracle();
    let mut x = f.x0.clone();
    for (k, want) in f.params.iter().enumerate() {
        let step = k + 1;
        opt.step(&mut x, &mut oracle);
        assert_close(&format!("{label} step {step} params"), &x, want);
        let loss = super::Oracle::value(&mut oracle, &x);
        assert_close(
            &format!("{label} step {step} loss"),
            &[loss],
            &[f.losses[k]],
        );
        compare_extras(opt.as_ref(), f, k, &label);
    }
}

fn compare_extras(opt: &dyn Optimizer, f: &Fixture, k: usize, label: &str) {
    let step = k + 1;
    let points = opt.extra_points();
    for (name, seq) in &f.points {
        let got = points
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{label}: no point '{name}'"));
        assert_close(&format!("{label} step {step} {name}"), got.params, &seq[k]);
    }
    let state = opt.state();
    for (name, seq) in &f.state {
        let got = state
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{label}: no state '{name}'"));
        assert_close(
            &format!("{label} step {step} {name}"),
            &got.values,
            &[seq[k]],
        );
    }
}

mod tests {
    use super::{load, run};

    #[test]
    #[should_panic(expected = "step 2 params")]
    fn a_fixture_run_with_another_hyperparameter_fails_at_once() {
        // ADOPT's first step moves nothing, so the second is the first that can differ.
        let mut f = load("adopt").remove(0);
        let lr = f.hyperparameters.get_mut("lr").expect("lr is set");
        let bumped = lr.as_f64().expect("a number") * (1.0 + 1e-6);
        *lr = bumped.into();
        run(&f);
    }
}
