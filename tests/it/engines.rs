//! Issue 2: every gradient engine agrees on random expression trees.
//!
//! Random ASTs are generated here, rendered to source text and parsed by `Expression`. At random
//! points the generic engines (reverse on a plain and on a fused `Tape`, chunked forward duals
//! with k in 1..=8), the compiled fast paths (`gradient_reverse`, `gradient_forward`) and
//! central finite differences are compared, and the nested-dual Hessian against differenced
//! reverse gradients.
//!
//! # Where finite differences are trusted
//! AD engines must agree with each other everywhere both are finite (they share PyTorch's
//! conventions at kinks). Finite differences are compared only where the function is smooth
//! around the point, by two rules that must both hold:
//! 1. no kink argument is within `KINK_GAP` of its kink in input units: its distance from the
//!    kink over the fastest it can move, its path magnitude summed over the inputs (at least
//!    1), so an argument racing through its kink (`relu(cos(x^-2))` at `x = 6e-4`) is near even
//!    when its value is not (the test's own evaluator reports the arguments of `abs`, `relu`,
//!    and the difference of `min`/`max` arguments);
//! 2. central differences with two step sizes (`h` and `h / 4`) agree to `1e-7` relative, which
//!    also screens out poles (`tan`, negative powers) and overflow-scale curvature.
//!
//! # How closely engines must agree
//! Engines compute the same values bit for bit, but add a derivative's terms (one product of
//! local partials per path from the input to the output) in different orders: forward along
//! the evaluation, reverse against it, window sums window by window. Where large terms cancel,
//! each order keeps its own rounding residue, a few ulp of the terms rather than of the result.
//! So two engines' values of one derivative must agree to `1e-12` relative to the largest of 1,
//! themselves and the derivative's path magnitude (the sum of the terms' magnitudes, which
//! bounds every partial sum in any order; [`magnitude`] computes it). A wrong local derivative
//! changes a term by its own size, so it is still caught unless that term is below `1e-12` of
//! the others.
//!
//! The test's own evaluator computes what the parser compiles: `pow(a, c)` with a constant
//! integer `c` is `powi` (binary exponentiation) there, which differs from `powf` in the last
//! bits, and an outer `sin` or `exp` of a large argument turns that into any other value.
//!
//! # Seeds
//! The cases come from a fixed seed (`crate::fixed_seed`), so every run checks the same ones.
//! To explore others: `PROPTEST_RNG_SEED=<u64> PROPTEST_CASES=<n> cargo test --release --test
//! it engines::`. A failure found that way belongs below as a plain `#[test]`.

use std::cell::Cell;

use gradscope::ad::dual::{self, Hyper};
use gradscope::ad::tape::{self, Tape};
use gradscope::ad::{Scalar, ScalarFn, WindowTerm, finite};
use gradscope::expr::{Expression, Workspace};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use magnitude::Mag;

mod magnitude;

const KINK_GAP: f64 = 1e-3;
const MAX_VARS: usize = 4;

#[derive(Debug, Clone, Copy)]
enum Unary {
    Exp,
    Ln,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sigmoid,
    Softplus,
    Relu,
}

const UNARIES: [Unary; 11] = [
    Unary::Exp,
    Unary::Ln,
    Unary::Sqrt,
    Unary::Abs,
    Unary::Sin,
    Unary::Cos,
    Unary::Tan,
    Unary::Tanh,
    Unary::Sigmoid,
    Unary::Softplus,
    Unary::Relu,
];

#[derive(Debug, Clone, Copy)]
enum Binary {
    Add,
    Sub,
    Mul,
    /// `a / (softplus(b) + 0.5)`: the divisor stays away from zero.
    Div,
    Min,
    Max,
    /// `pow(softplus(a) + 0.1, b)`: the base stays positive.
    Pow,
}

const BINARIES: [Binary; 7] = [
    Binary::Add,
    Binary::Sub,
    Binary::Mul,
    Binary::Div,
    Binary::Min,
    Binary::Max,
    Binary::Pow,
];

/// An expression tree. `Var(i)` is input `i % n`; `Let(i)` is the earlier let value `i % k`
/// (an input when there is none yet).
#[derive(Debug, Clone)]
enum Node {
    Var(usize),
    Let(usize),
    Const(f64),
    Neg(Box<Node>),
    PowI(Box<Node>, i32),
    Un(Unary, Box<Node>),
    Bin(Binary, Box<Node>, Box<Node>),
}

/// A program: let lines `t0 = ..`, `t1 = ..` (each may use earlier ones), then the output.
#[derive(Debug, Clone)]
struct Program {
    n: usize,
    lets: Vec<Node>,
    out: Node,
}

fn render(node: &Node, n: usize, lets: usize) -> String {
    match node {
        Node::Var(i) => format!("x{}", i % n),
        Node::Let(i) if lets > 0 => format!("t{}", i % lets),
        Node::Let(i) => format!("x{}", i % n),
        Node::Const(c) if *c < 0.0 => format!("({c:?})"),
        Node::Const(c) => format!("{c:?}"),
        Node::Neg(a) => format!("-({})", render(a, n, lets)),
        Node::PowI(a, k) => format!("({})^{k}", render(a, n, lets)),
        Node::Un(f, a) => {
            let a = render(a, n, lets);
            match f {
                Unary::Exp => format!("exp({a})"),
                Unary::Ln => format!("ln(softplus({a}) + 0.1)"),
                Unary::Sqrt => format!("sqrt(abs({a}) + 0.1)"),
                Unary::Abs => format!("abs({a})"),
                Unary::Sin => format!("sin({a})"),
                Unary::Cos => format!("cos({a})"),
                Unary::Tan => format!("tan({a})"),
                Unary::Tanh => format!("tanh({a})"),
                Unary::Sigmoid => format!("sigmoid({a})"),
                Unary::Softplus => format!("softplus({a})"),
                Unary::Relu => format!("relu({a})"),
            }
        }
        Node::Bin(op, a, b) => {
            let (a, b) = (render(a, n, lets), render(b, n, lets));
            match op {
                Binary::Add => format!("({a} + {b})"),
                Binary::Sub => format!("({a} - {b})"),
                Binary::Mul => format!("({a} * {b})"),
                Binary::Div => format!("({a} / (softplus({b}) + 0.5))"),
                Binary::Min => format!("min({a}, {b})"),
                Binary::Max => format!("max({a}, {b})"),
                Binary::Pow => format!("pow(softplus({a}) + 0.1, {b})"),
            }
        }
    }
}

impl Program {
    fn source(&self) -> String {
        let mut src = String::new();
        for (k, node) in self.lets.iter().enumerate() {
            src.push_str(&format!("t{k} = {}\n", render(node, self.n, k)));
        }
        src.push_str(&render(&self.out, self.n, self.lets.len()));
        src
    }

    fn names(&self) -> Vec<String> {
        (0..self.n).map(|i| format!("x{i}")).collect()
    }

    /// An independent evaluation of the tree over any `Scalar`, showing `kink` every kink
    /// argument: `(a, None)` for `abs(a)` and `relu(a)`, `(a, Some(b))` for `a - b` of `min` and
    /// `max`.
    fn eval<S: Scalar>(&self, x: &[S], kink: Kinks<'_, S>) -> S {
        let mut lets = Lets {
            values: Vec::with_capacity(self.lets.len()),
            constants: Vec::with_capacity(self.lets.len()),
        };
        for node in &self.lets {
            let v = eval_node(node, x, &lets, kink);
            let c = constant(node, &lets.constants);
            lets.values.push(v);
            lets.constants.push(c);
        }
        eval_node(&self.out, x, &lets, kink)
    }
}

/// What [`Program::eval`] shows each kink argument to.
type Kinks<'k, S> = &'k mut dyn FnMut(S, Option<S>);

/// The let values computed so far, and which of them read no input (with their value).
struct Lets<S> {
    values: Vec<S>,
    constants: Vec<Option<f64>>,
}

/// The value of `node` if it reads no input, which the parser folds to a constant (`constants`:
/// the earlier let lines', by [`Lets`]).
fn constant(node: &Node, constants: &[Option<f64>]) -> Option<f64> {
    fn reads_input(node: &Node, constants: &[Option<f64>]) -> bool {
        match node {
            Node::Var(_) => true,
            Node::Let(i) => constants.is_empty() || constants[i % constants.len()].is_none(),
            Node::Const(_) => false,
            Node::Neg(a) | Node::PowI(a, _) | Node::Un(_, a) => reads_input(a, constants),
            Node::Bin(_, a, b) => reads_input(a, constants) || reads_input(b, constants),
        }
    }
    if reads_input(node, constants) {
        return None;
    }
    let lets = Lets {
        values: constants.iter().map(|c| c.unwrap_or(f64::NAN)).collect(),
        constants: constants.to_vec(),
    };
    Some(eval_node::<f64>(node, &[], &lets, &mut |_, _| {}))
}

fn eval_node<S: Scalar>(node: &Node, x: &[S], lets: &Lets<S>, kink: Kinks<'_, S>) -> S {
    match node {
        Node::Var(i) => x[i % x.len()],
        Node::Let(i) if !lets.values.is_empty() => lets.values[i % lets.values.len()],
        Node::Let(i) => x[i % x.len()],
        Node::Const(c) => S::constant(*c),
        Node::Neg(a) => -eval_node(a, x, lets, kink),
        Node::PowI(a, k) => eval_node(a, x, lets, kink).powi(*k),
        Node::Un(f, a) => {
            let a = eval_node(a, x, lets, kink);
            match f {
                Unary::Exp => a.exp(),
                Unary::Ln => (a.softplus() + 0.1).ln(),
                Unary::Sqrt => {
                    kink(a, None);
                    (a.abs() + 0.1).sqrt()
                }
                Unary::Abs => {
                    kink(a, None);
                    a.abs()
                }
                Unary::Sin => a.sin(),
                Unary::Cos => a.cos(),
                Unary::Tan => a.tan(),
                Unary::Tanh => a.tanh(),
                Unary::Sigmoid => a.sigmoid(),
                Unary::Softplus => a.softplus(),
                Unary::Relu => {
                    kink(a, None);
                    a.relu()
                }
            }
        }
        Node::Bin(op, a, b_node) => {
            let a = eval_node(a, x, lets, kink);
            let b = eval_node(b_node, x, lets, kink);
            match op {
                Binary::Add => a + b,
                Binary::Sub => a - b,
                Binary::Mul => a * b,
                Binary::Div => a / (b.softplus() + 0.5),
                Binary::Min => {
                    kink(a, Some(b));
                    a.min(b)
                }
                Binary::Max => {
                    kink(a, Some(b));
                    a.max(b)
                }
                // As the parser lowers it (see the module docs).
                Binary::Pow => match constant(b_node, &lets.constants) {
                    Some(c) if c.fract() == 0.0 && c.abs() <= f64::from(i32::MAX) => {
                        (a.softplus() + 0.1).powi(c as i32)
                    }
                    _ => (a.softplus() + 0.1).powf(b),
                },
            }
        }
    }
}

/// The smallest distance of a kink argument of `program` at `x` from its kink, in input units
/// (rule 1 of the module docs).
fn kink_distance(program: &Program, x: &[f64]) -> f64 {
    let mut distance = f64::INFINITY;
    let inputs: Vec<Mag> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| Mag::input(v, i))
        .collect();
    program.eval(&inputs, &mut |a, b| {
        let arg = b.map_or(a, |b| a - b);
        distance = distance.min(arg.value().abs() / arg.rate().max(1.0));
    });
    distance
}

fn node_strategy() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        3 => (0..MAX_VARS).prop_map(Node::Var),
        1 => (0_usize..8).prop_map(Node::Let),
        1 => (-3.0_f64..3.0).prop_map(|c| Node::Const((c * 4.0).round() / 4.0)),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            3 => (prop::sample::select(BINARIES.to_vec()), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| Node::Bin(op, Box::new(a), Box::new(b))),
            3 => (prop::sample::select(UNARIES.to_vec()), inner.clone())
                .prop_map(|(f, a)| Node::Un(f, Box::new(a))),
            1 => (inner.clone(), -3_i32..=4).prop_map(|(a, k)| Node::PowI(Box::new(a), k)),
            1 => inner.prop_map(|a| Node::Neg(Box::new(a))),
        ]
    })
}

fn program_strategy() -> impl Strategy<Value = Program> {
    (
        1..=MAX_VARS,
        prop::collection::vec(node_strategy(), 0..3),
        node_strategy(),
    )
        .prop_map(|(n, lets, out)| Program { n, lets, out })
}

/// `|a - b| <= tol * max(1, |a|, |b|)`.
fn close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * 1.0_f64.max(a.abs()).max(b.abs())
}

/// Whether two engines' values of one derivative, whose path magnitude is `magnitude`, agree
/// (the rule in the module docs). A non-finite magnitude allows nothing beyond `close`.
fn agree(a: f64, b: f64, magnitude: f64) -> bool {
    let scale = if magnitude.is_finite() {
        magnitude
    } else {
        0.0
    };
    close(a, b, 1e-12) || (a - b).abs() <= 1e-12 * scale
}

struct Wrapped<'a>(&'a Program);

impl ScalarFn for Wrapped<'_> {
    fn dim(&self) -> usize {
        self.0.n
    }
    fn eval<S: Scalar>(&self, x: &[S]) -> S {
        self.0.eval(x, &mut |_, _| {})
    }
}

/// Central differences of `f` at `x` in coordinate `i` with step `h`.
fn central(f: &Expression, x: &[f64], i: usize, h: f64) -> f64 {
    let mut p = x.to_vec();
    let (plus, minus) = (x[i] + h, x[i] - h);
    p[i] = plus;
    let fp = f.eval_f64(&p);
    p[i] = minus;
    let fm = f.eval_f64(&p);
    (fp - fm) / (plus - minus)
}

/// Whether central differences with step `h` of a function of value `value` cannot resolve a
/// derivative near `slope`: their rounding noise, `eps |f| / h`, is past a tenth of the
/// comparison's tolerance. A large constant added to a small varying part (`exp(exp(3.0)) +
/// exp(x0)`: value 5e8, slope 3) buries the change under the rounding of the value, and the two
/// step sizes of rule 2 can agree by chance on the same wrong quantized difference.
fn fd_buried(value: f64, h: f64, slope: f64) -> bool {
    f64::EPSILON * value.abs() / h > 1e-7 * 1.0_f64.max(slope.abs())
}

#[derive(Default)]
struct Tally {
    cases: Cell<usize>,
    ad_compared: Cell<usize>,
    fd_compared: Cell<usize>,
    hessians_compared: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

/// One case of `engines_agree_on_random_expression_trees`, counted in `tally`.
fn check_engines(
    tally: &Tally,
    program: &Program,
    point: &[f64; 4],
    k: usize,
) -> Result<(), TestCaseError> {
    bump(&tally.cases);
    let src = program.source();
    let names = program.names();
    let f = Expression::parse_with_vars(&src, &names)
        .map_err(|e| TestCaseError::fail(format!("{src}\n{}", e.render(&src))))?;
    let n = program.n;
    let x = &point[..n];

    // The parsed expression computes what the tree says.
    let mine: f64 = program.eval(x, &mut |_, _| {});
    let value = f.eval_f64(x);
    if !(mine.is_finite() && value.is_finite()) {
        return Ok(());
    }
    prop_assert!(close(mine, value, 1e-12), "{src}\nvalue {mine} vs {value}");

    // The generic engines.
    let mut tape = Tape::new();
    let mut g_tape = vec![0.0; n];
    let v_tape = tape::gradient_with(&mut tape, x, &mut g_tape, |v| f.eval(v));
    // The fused tape (unary chains and two-node forms folded into their consumers).
    let mut fused = Tape::fused();
    let mut g_fused = vec![0.0; n];
    let v_fused = tape::gradient_with(&mut fused, x, &mut g_fused, |v| f.eval(v));
    prop_assert!(fused.len() <= tape.len(), "{src}\nfused tape is longer");
    let mut g_fwd = vec![0.0; n];
    let (v_fwd, passes) = dual::gradient_with(x, k, &mut g_fwd, |v| f.eval(v));
    prop_assert_eq!(passes, n.div_ceil(k));
    // The compiled fast paths.
    let mut work = Workspace::default();
    let mut g_rev_fast = vec![0.0; n];
    let v_rev_fast = f.gradient_reverse(x, &mut work, &mut g_rev_fast);
    let mut g_fwd_fast = vec![0.0; n];
    let (v_fwd_fast, fast_passes) = f.gradient_forward(x, k, &mut work, &mut g_fwd_fast);
    prop_assert_eq!(fast_passes, n.div_ceil(k));
    for v in [v_tape, v_fwd, v_rev_fast, v_fwd_fast, v_fused] {
        prop_assert!(close(v, value, 1e-12), "{src}\nvalue {v} vs {value}");
    }
    let magnitudes = magnitude::of(x, |v| f.eval(v));
    let mut all_finite = true;
    for i in 0..n {
        let gs = [
            g_tape[i],
            g_fwd[i],
            g_rev_fast[i],
            g_fwd_fast[i],
            g_fused[i],
        ];
        if gs.iter().any(|g| !g.is_finite()) {
            all_finite = false;
            continue;
        }
        for (a, b) in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (0, 4), (1, 4)] {
            prop_assert!(
                agree(gs[a], gs[b], magnitudes[i]),
                "{src}\nat {x:?}, k = {k}, d/dx{i}: tape, forward, fast reverse, fast forward, fused tape = {gs:?}, path magnitude {}",
                magnitudes[i]
            );
        }
    }
    if !all_finite {
        return Ok(());
    }
    bump(&tally.ad_compared);

    // Finite differences where the function is smooth (see the module docs).
    if kink_distance(program, x) < KINK_GAP {
        return Ok(());
    }
    let mut g_fd = vec![0.0; n];
    finite::gradient_with(x, &mut g_fd, |p| f.eval_f64(p));
    let smooth = (0..n).all(|i| {
        let h = finite::step(x[i]);
        let (a, b) = (central(&f, x, i, h), central(&f, x, i, h / 4.0));
        a.is_finite()
            && b.is_finite()
            && close(a, b, 1e-7)
            && close(a, g_fd[i], 1e-7)
            && !fd_buried(value, h, a)
    });
    if !smooth {
        return Ok(());
    }
    for i in 0..n {
        prop_assert!(
            close(g_tape[i], g_fd[i], 1e-6),
            "{src}\nat {x:?}, d/dx{i}: reverse {} vs finite {}",
            g_tape[i],
            g_fd[i]
        );
    }
    bump(&tally.fd_compared);

    // Hessian by nested duals: symmetric, and equal to differenced reverse gradients.
    let (hv, hg, h) = dual::hessian_with(x, |v: &[Hyper]| f.eval(v));
    prop_assert!(close(hv, value, 1e-12));
    for i in 0..n {
        prop_assert!(
            agree(hg[i], g_tape[i], magnitudes[i]),
            "{src}\n{hg:?} vs {g_tape:?}"
        );
    }
    if h.iter().any(|v| !v.is_finite()) {
        return Ok(());
    }
    let mut t2 = Tape::new();
    let h_fd = finite::hessian_from_gradient(x, |p, g| {
        tape::gradient_with(&mut t2, p, g, |v| f.eval(v));
    });
    // Second differences need the gradient smooth too: skip if two steps disagree.
    let h_fd_check = hessian_with_step_factor(&f, x, 0.25);
    let hscale = h.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
    for i in 0..n {
        for j in 0..n {
            prop_assert_eq!(h[(i, j)].to_bits(), h[(j, i)].to_bits(), "{}", src);
        }
    }
    if h_fd
        .iter()
        .zip(h_fd_check.iter())
        .any(|(a, b)| (a - b).abs() > 1e-6 * hscale)
    {
        return Ok(());
    }
    for i in 0..n {
        for j in 0..n {
            prop_assert!(
                (h[(i, j)] - h_fd[(i, j)]).abs() <= 1e-5 * hscale,
                "{src}\nat {x:?}: H[{i},{j}] duals {} vs finite {}",
                h[(i, j)],
                h_fd[(i, j)]
            );
        }
    }
    bump(&tally.hessians_compared);
    Ok(())
}

#[test]
fn engines_agree_on_random_expression_trees() {
    let tally = Tally::default();
    let mut runner = TestRunner::new(crate::fixed_seed(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    }));
    let strategy = (
        program_strategy(),
        prop::array::uniform4(-2.0_f64..2.0),
        1_usize..=8,
    );
    let result = runner.run(&strategy, |(program, point, k)| {
        check_engines(&tally, &program, &point, k)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (cases, ad, fd, hess) = (
        tally.cases.get(),
        tally.ad_compared.get(),
        tally.fd_compared.get(),
        tally.hessians_compared.get(),
    );
    eprintln!("{cases} cases: {ad} AD comparisons, {fd} with finite differences, {hess} Hessians");
    // The skip rules must leave most cases compared, or the test proves little.
    assert!(ad * 10 >= cases * 7, "{ad} of {cases} AD comparisons");
    assert!(
        fd * 2 >= cases,
        "{fd} of {cases} finite-difference comparisons"
    );
    assert!(hess * 3 >= cases, "{hess} of {cases} Hessian comparisons");
}

/// Found by seed 21 of the random trees: every engine gives `exp(x0)`, while central
/// differences are off by 3e-3 (rounding of the value 5e8 over a step of 7e-6) yet agree across
/// the two step sizes. The noise rule must screen this point out of the finite-difference check.
#[test]
fn a_large_constant_buries_finite_differences_not_the_engines() {
    let src = "(exp(exp(3.0)) + exp(x0))";
    let f = Expression::parse_with_vars(src, &["x0".to_string()]).expect("parses");
    let x = [1.1373636203573894];
    let want = x[0].exp();
    let mut tape = Tape::new();
    let mut g_tape = [0.0];
    tape::gradient_with(&mut tape, &x, &mut g_tape, |v| f.eval(v));
    let mut g_fwd = [0.0];
    dual::gradient_with(&x, 1, &mut g_fwd, |v| f.eval(v));
    let mut work = Workspace::default();
    let mut g_rev_fast = [0.0];
    f.gradient_reverse(&x, &mut work, &mut g_rev_fast);
    for g in [g_tape[0], g_fwd[0], g_rev_fast[0]] {
        assert!(close(g, want, 1e-12), "{g} vs {want}");
    }
    let h = finite::step(x[0]);
    let fd = central(&f, &x, 0, h);
    assert!(
        !close(fd, want, 1e-6),
        "differences resolve it after all: {fd}"
    );
    assert!(fd_buried(f.eval_f64(&x), h, fd));
}

/// Central differences of reverse gradients with the step scaled by `factor`.
fn hessian_with_step_factor(f: &Expression, x: &[f64], factor: f64) -> nalgebra::DMatrix<f64> {
    let n = x.len();
    let mut tape = Tape::new();
    let mut h = nalgebra::DMatrix::zeros(n, n);
    let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
    let mut p = x.to_vec();
    for j in 0..n {
        let step = finite::step(x[j]) * factor;
        let (plus, minus) = (x[j] + step, x[j] - step);
        p[j] = plus;
        tape::gradient_with(&mut tape, &p, &mut gp, |v| f.eval(v));
        p[j] = minus;
        tape::gradient_with(&mut tape, &p, &mut gm, |v| f.eval(v));
        p[j] = x[j];
        for i in 0..n {
            h[(i, j)] = (gp[i] - gm[i]) / (plus - minus);
        }
    }
    (&h + h.transpose()) * 0.5
}

/// One case of `the_tree_itself_differentiates_like_its_text`.
fn check_tree_and_text(program: &Program, point: &[f64; 4]) -> Result<(), TestCaseError> {
    let x = &point[..program.n];
    let f = Expression::parse_with_vars(&program.source(), &program.names())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let wrapped = Wrapped(program);
    let mut g_tree = vec![0.0; program.n];
    let mut g_text = vec![0.0; program.n];
    tape::gradient(&wrapped, x, &mut g_tree);
    tape::gradient_with(&mut Tape::new(), x, &mut g_text, |v| f.eval(v));
    let magnitudes = magnitude::of(x, |v| f.eval(v));
    for ((a, b), m) in g_tree.iter().zip(&g_text).zip(magnitudes) {
        if a.is_finite() && b.is_finite() {
            prop_assert!(agree(*a, *b, m), "{}: {a} vs {b}", program.source());
        }
    }
    Ok(())
}

/// The tree evaluated by the engines directly (not through `Expression`) gives the same
/// gradient as through the parsed text: guards against the generator and the renderer drifting.
#[test]
fn the_tree_itself_differentiates_like_its_text() {
    let mut runner = TestRunner::new(crate::fixed_seed(Config {
        cases: 100,
        failure_persistence: None,
        ..Config::default()
    }));
    let strategy = (program_strategy(), prop::array::uniform4(-2.0_f64..2.0));
    runner
        .run(&strategy, |(program, point)| {
            check_tree_and_text(&program, &point)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn reused_let_values_accumulate_on_every_engine() {
    let f = Expression::parse("b = a + a\nc = b + b\nc").expect("parses");
    assert_eq!(f.vars(), ["a"]);
    let x = [1.5];
    let mut g = [0.0];
    let v = tape::gradient_with(&mut Tape::new(), &x, &mut g, |v| f.eval(v));
    assert_eq!((v, g), (6.0, [4.0]));
    for k in 1..=8 {
        let mut g = [0.0];
        assert_eq!(dual::gradient_with(&x, k, &mut g, |v| f.eval(v)), (6.0, 1));
        assert_eq!(g, [4.0]);
        let mut g = [0.0];
        assert_eq!(
            f.gradient_forward(&x, k, &mut Workspace::default(), &mut g),
            (6.0, 1)
        );
        assert_eq!(g, [4.0]);
    }
    let mut g = [0.0];
    assert_eq!(
        f.gradient_reverse(&x, &mut Workspace::default(), &mut g),
        6.0
    );
    assert_eq!(g, [4.0]);

    // A value used by two later lines and the output: d/da (b*c + b) with b = a^2, c = b + a.
    let f = Expression::parse("b = a^2\nc = b + a\nb * c + b").expect("parses");
    let a = 0.75_f64;
    let expected = 2.0 * a * (a * a + a) + a * a * (2.0 * a + 1.0) + 2.0 * a;
    let mut g_t = [0.0];
    tape::gradient_with(&mut Tape::new(), &[a], &mut g_t, |v| f.eval(v));
    let mut g_d = [0.0];
    dual::gradient_with(&[a], 8, &mut g_d, |v| f.eval(v));
    assert!(close(g_t[0], expected, 1e-15) && close(g_d[0], expected, 1e-15));
}

#[test]
fn a_million_node_chain_of_let_lines_differentiates_on_every_engine() {
    // Each let line applies `u -> u * 0.5 + y` REPEAT times to the previous line's value, so the
    // graph is one chain about a million nodes deep that both inputs reach.
    const LINES: usize = 25_000;
    const REPEAT: usize = 20;
    let mut src = String::with_capacity(LINES * REPEAT * 12);
    src.push_str("t0 = x\n");
    for k in 1..=LINES {
        src.push_str(&format!("t{k} = {}t{}", "(".repeat(REPEAT), k - 1));
        src.push_str(&" * 0.5 + y)".repeat(REPEAT));
        src.push('\n');
    }
    src.push_str(&format!("t{LINES}"));
    let f = Expression::parse(&src).expect("parses");
    let steps = LINES * REPEAT;
    assert!(
        f.instructions().len() >= 2 * steps,
        "{}",
        f.instructions().len()
    );
    // After N steps u = x / 2^N + y (2 - 2^-(N-1)): d/dx = 2^-N, d/dy = 2 - 2^-(N-1).
    let n = i32::try_from(steps).expect("small");
    let expected = [0.5_f64.powi(n), 2.0 - 0.5_f64.powi(n - 1)];
    let x = [3.0, -1.0];

    let mut tape = Tape::new();
    let mut g = [0.0; 2];
    let v = tape::gradient_with(&mut tape, &x, &mut g, |v| f.eval(v));
    assert!(tape.len() >= 2 * steps, "tape has {} nodes", tape.len());
    assert_eq!(g, expected);
    assert!(close(v, -2.0, 1e-15), "{v}");

    let mut g_fwd = [0.0; 2];
    assert_eq!(dual::gradient_with(&x, 2, &mut g_fwd, |v| f.eval(v)).1, 1);
    let mut work = Workspace::default();
    let mut g_fast = [0.0; 2];
    f.gradient_reverse(&x, &mut work, &mut g_fast);
    let mut g_fast_fwd = [0.0; 2];
    assert_eq!(f.gradient_forward(&x, 1, &mut work, &mut g_fast_fwd).1, 2);
    for other in [g_fwd, g_fast, g_fast_fwd] {
        assert_eq!(other, expected);
    }
}

/// A random tree as the element function of a partially separable sum over windows of three.
struct Windowed<'a>(&'a Program);

impl WindowTerm<3> for Windowed<'_> {
    fn term<S: Scalar>(&self, w: &[S; 3]) -> S {
        self.0.eval(w, &mut |_, _| {})
    }
}

/// The path magnitudes of a window sum's derivatives: each window's, added where the windows
/// overlap (the sum over windows is one more sum of terms).
fn window_magnitudes(term: &Windowed, x: &[f64]) -> Vec<f64> {
    let mut sum = vec![0.0; x.len()];
    for (start, w) in x.windows(3).enumerate() {
        let m = magnitude::of(w, |v: &[Mag]| term.term(&[v[0], v[1], v[2]]));
        for (s, m) in sum[start..].iter_mut().zip(m) {
            *s += m;
        }
    }
    sum
}

/// The smallest distance of a kink argument from its kink over every window of `x`.
fn window_kink(program: &Program, x: &[f64]) -> f64 {
    x.windows(3)
        .map(|w| kink_distance(program, w))
        .fold(f64::INFINITY, f64::min)
}

/// One case of `engines_agree_on_random_window_sums`, counted in `tally`.
fn check_window_sum(
    tally: &Tally,
    program: &Program,
    x: &[f64],
    k: usize,
) -> Result<(), TestCaseError> {
    bump(&tally.cases);
    // The term reads one window's three slots, written x0..x2 here.
    let src = Program {
        n: 3,
        ..program.clone()
    }
    .source();
    let n = x.len();
    let term = Windowed(program);
    let value = f64::sum_windows(x, &term);
    let by_hand = x
        .windows(3)
        .fold(0.0, |acc, w| acc + term.term(&[w[0], w[1], w[2]]));
    prop_assert_eq!(value.to_bits(), by_hand.to_bits(), "{}", src);
    if !value.is_finite() {
        return Ok(());
    }

    let mut plain = Tape::new();
    let mut g_plain = vec![0.0; n];
    let v_plain = tape::gradient_with(&mut plain, x, &mut g_plain, |v| {
        Scalar::sum_windows(v, &term)
    });
    let mut fused = Tape::fused();
    let mut g_fused = vec![0.0; n];
    let v_fused = tape::gradient_with(&mut fused, x, &mut g_fused, |v| {
        Scalar::sum_windows(v, &term)
    });
    prop_assert_eq!(fused.len(), n + 1, "{}: one node beyond the inputs", src);
    prop_assert_eq!(fused.edge_count(), 0);
    // The same inputs as fused values (`v * 1.0 + 0.0`): not nodes of their own, so the
    // sum becomes an edge list after recording one node per input. Same adjoints.
    let mut edged = Tape::fused();
    let mut g_edged = vec![0.0; n];
    let v_edged = tape::gradient_with(&mut edged, x, &mut g_edged, |v| {
        let lazy: Vec<_> = v.iter().map(|&x| x * 1.0 + 0.0).collect();
        Scalar::sum_windows(&lazy, &term)
    });
    prop_assert_eq!(edged.len(), 2 * n + 1);
    prop_assert_eq!(edged.edge_count(), n + 3 * (n - 2));
    for (a, b) in g_edged.iter().zip(&g_fused) {
        prop_assert_eq!(a.to_bits(), b.to_bits(), "{}", src);
    }
    let mut g_fwd = vec![0.0; n];
    let (v_fwd, passes) = dual::gradient_with(x, k, &mut g_fwd, |v| Scalar::sum_windows(v, &term));
    prop_assert_eq!(passes, n.div_ceil(k));
    for v in [v_plain, v_fused, v_edged, v_fwd] {
        prop_assert_eq!(v.to_bits(), value.to_bits(), "{}", src);
    }
    let magnitudes = window_magnitudes(&term, x);
    for i in 0..n {
        let gs = [g_plain[i], g_fused[i], g_fwd[i]];
        if gs.iter().any(|g| !g.is_finite()) {
            return Ok(());
        }
        prop_assert!(
            agree(gs[0], gs[1], magnitudes[i]) && agree(gs[1], gs[2], magnitudes[i]),
            "{src}\nat {x:?}, d/dx{i}: plain tape, fused tape, forward = {gs:?}, path magnitude {}",
            magnitudes[i]
        );
    }
    bump(&tally.ad_compared);

    // Finite differences where every window is smooth (see the module docs).
    if window_kink(program, x) < KINK_GAP {
        return Ok(());
    }
    // Coordinate i is differenced term by term, on each window that contains it: summing
    // first would bury a small term's change under the rounding of a large one.
    // Also returns the rounding noise of the differences, `eps (|f+| + |f-|) / 2h`.
    let central = |i: usize, h: f64| {
        let (mut sum, mut noise) = (0.0, 0.0);
        for start in i.saturating_sub(2)..=i.min(n - 3) {
            let mut w = [x[start], x[start + 1], x[start + 2]];
            let j = i - start;
            let (plus, minus) = (x[i] + h, x[i] - h);
            w[j] = plus;
            let fp = term.term(&w);
            w[j] = minus;
            let fm = term.term(&w);
            sum += (fp - fm) / (plus - minus);
            noise += f64::EPSILON * (fp.abs() + fm.abs()) / (plus - minus);
        }
        (sum, noise)
    };
    let mut g_fd = vec![0.0; n];
    for (i, g) in g_fd.iter_mut().enumerate() {
        let h = finite::step(x[i]);
        let ((a, noise), (b, _)) = (central(i, h), central(i, h / 4.0));
        let clear = noise <= 1e-8 * a.abs().max(1.0);
        if !(a.is_finite() && b.is_finite() && close(a, b, 1e-7) && clear) {
            return Ok(());
        }
        *g = a;
    }
    for i in 0..n {
        prop_assert!(
            close(g_fused[i], g_fd[i], 1e-6),
            "{src}\nat {x:?}, d/dx{i}: fused tape {} vs finite {}",
            g_fused[i],
            g_fd[i]
        );
    }
    bump(&tally.fd_compared);
    Ok(())
}

/// `Scalar::sum_windows`: the fused tape's one-node sum (an `Op::WindowSum` over the driver's
/// inputs, and an edge list when the inputs are fused values or constants) against the plain
/// tape recording every operation, chunked forward duals and finite differences; the value on
/// `f64` against the terms summed by hand.
#[test]
fn engines_agree_on_random_window_sums() {
    let tally = Tally::default();
    let mut runner = TestRunner::new(crate::fixed_seed(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    }));
    let strategy = (
        program_strategy(),
        // Past 16 inputs the driver marks its input slice; from 6 inputs (4 windows of 3) the
        // window sum evaluates full blocks of lanes as well as a tail.
        prop::collection::vec(-2.0_f64..2.0, 3..=40),
        1_usize..=8,
    );
    let result = runner.run(&strategy, |(program, x, k)| {
        check_window_sum(&tally, &program, &x, k)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (cases, ad, fd) = (
        tally.cases.get(),
        tally.ad_compared.get(),
        tally.fd_compared.get(),
    );
    eprintln!("{cases} window sums: {ad} AD comparisons, {fd} with finite differences");
    assert!(ad * 10 >= cases * 6, "{ad} of {cases} AD comparisons");
    assert!(
        fd * 3 >= cases,
        "{fd} of {cases} finite-difference comparisons"
    );
}

fn un(f: Unary, a: Node) -> Node {
    Node::Un(f, Box::new(a))
}

fn bin(op: Binary, a: Node, b: Node) -> Node {
    Node::Bin(op, Box::new(a), Box::new(b))
}

/// Seeds 146 and 917 of `engines_agree_on_random_expression_trees` and 705 of
/// `the_tree_itself_differentiates_like_its_text`: the parser compiles `pow(b, c)` with a
/// constant integer `c` (here -16 and 16) to `powi`, 1 to 4 ulp from `powf` at these bases,
/// and an outer function magnifies it: `exp(t0)` with `t0 = 436` is 2e189, so one ulp of `t0`
/// moves `sin`'s argument by about 1e176 (value -0.0327 against -0.0018); `sin` of 1.9e5 moves
/// 4e-11; `d/dx sin(u)` with `u = 1.3e4` has `cos(u)` 8e-12 off. The test's evaluator takes
/// `powi` where the parser does.
#[test]
fn a_constant_integer_exponent_is_powi_in_the_tree_as_in_the_text() {
    use Binary::{Add, Pow};
    use Unary::{Abs, Exp, Ln, Sin};
    let minus_16 = Node::Neg(Box::new(Node::PowI(Box::new(Node::Const(-2.0)), 4)));
    let sixteen = |c| Node::PowI(Box::new(Node::Const(c)), -2);
    let cases = [
        (
            Program {
                n: 2,
                lets: vec![bin(Pow, un(Ln, Node::Var(1)), minus_16)],
                out: bin(Add, Node::Var(0), un(Sin, un(Exp, Node::Let(0)))),
            },
            [0.0; 4],
            "t0 = pow(softplus(ln(softplus(x1) + 0.1)) + 0.1, -(((-2.0))^4))\n(x0 + sin(exp(t0)))",
        ),
        (
            Program {
                n: 3,
                lets: vec![
                    Node::Neg(Box::new(Node::Var(0))),
                    bin(Add, bin(Pow, Node::Let(0), sixteen(0.25)), Node::Var(0)),
                ],
                out: un(Sin, un(Abs, bin(Add, Node::Let(1), Node::Var(0)))),
            },
            [-1.8982969372709755, 0.0, 0.0, 0.0],
            "t0 = -(x0)\nt1 = (pow(softplus(t0) + 0.1, (0.25)^-2) + x0)\nsin(abs((t1 + x0)))",
        ),
        (
            Program {
                n: 1,
                lets: vec![],
                out: un(Sin, bin(Pow, Node::Var(0), sixteen(-0.25))),
            },
            [1.5076494048378553, 0.0, 0.0, 0.0],
            "sin(pow(softplus(x0) + 0.1, ((-0.25))^-2))",
        ),
    ];
    for (program, point, src) in &cases {
        assert_eq!(program.source(), *src);
        check_engines(&Tally::default(), program, point, 1).unwrap_or_else(|e| panic!("{e}"));
        check_tree_and_text(program, point).unwrap_or_else(|e| panic!("{e}"));
    }
    // The bases the three `pow`s see: there `powi` and `powf` differ, so the cases above
    // depend on the evaluator's choosing `powi` as the parser does.
    let softplus = gradscope::ad::softplus_f64;
    for (base, n) in [
        (softplus((softplus(0.0) + 0.1).ln()) + 0.1, -16),
        (softplus(1.8982969372709755) + 0.1, 16),
        (softplus(1.5076494048378553) + 0.1, 16),
    ] {
        assert_ne!(base.powi(n), base.powf(f64::from(n)), "{base}^{n}");
    }
}

/// Seed 13 of `engines_agree_on_random_window_sums` and 996 of
/// `engines_agree_on_random_expression_trees`: derivatives whose terms cancel, so the plain
/// tape and forward mode differ past `1e-12` of the result, though within `1e-12` of the
/// terms (the path-magnitude rule of the module docs): `d/dw1` is 0.034 from terms of 2.6e4
/// in all (engines 1.3e-12 apart), `d/dx1` is 0.35 from terms of 1.0e6 (2.1e-11 apart; the
/// paths through `x1 - x1` cancel exactly in value, not in rounding).
#[test]
fn cancelling_terms_are_compared_at_the_scale_of_the_terms() {
    use Binary::{Add, Div, Mul, Sub};
    use Unary::{Cos, Exp, Tan};
    // Over the one window (w0, w1, w2): t0 = exp(tan(w1)), exp(w0 / (softplus(t0) + 0.5) * (t0 + t0)).
    let window = Program {
        n: 1,
        lets: vec![un(Exp, un(Tan, Node::Var(1)))],
        out: un(
            Exp,
            bin(
                Mul,
                bin(Div, Node::Var(3), Node::Let(0)),
                bin(Add, Node::Let(0), Node::Let(0)),
            ),
        ),
    };
    let x = [1.6418479055019044, 1.4888734881011587, 0.0];
    check_window_sum(&Tally::default(), &window, &x, 1).unwrap_or_else(|e| panic!("{e}"));
    let term = Windowed(&window);
    let mut g_plain = [0.0; 3];
    tape::gradient_with(&mut Tape::new(), &x, &mut g_plain, |v| {
        Scalar::sum_windows(v, &term)
    });
    let mut g_fwd = [0.0; 3];
    dual::gradient_with(&x, 1, &mut g_fwd, |v| Scalar::sum_windows(v, &term));
    let m = window_magnitudes(&term, &x);
    assert!(
        !close(g_plain[1], g_fwd[1], 1e-12),
        "{g_plain:?} vs {g_fwd:?}"
    );
    assert!(agree(g_plain[1], g_fwd[1], m[1]));

    // t0 = tan(x2)^2 / (softplus(x1 - x1) + 0.5), (x1 + x1) * (x0 + cos(t0)).
    let tree = Program {
        n: 4,
        lets: vec![bin(
            Div,
            Node::PowI(Box::new(un(Tan, Node::Var(2))), 2),
            bin(Sub, Node::Let(5), Node::Var(1)),
        )],
        out: bin(
            Mul,
            bin(Add, Node::Var(1), Node::Var(1)),
            bin(Add, Node::Var(0), un(Cos, Node::Let(0))),
        ),
    };
    let point = [0.0, -1.778543182108996, -1.572350564945142, 0.0];
    check_engines(&Tally::default(), &tree, &point, 1).unwrap_or_else(|e| panic!("{e}"));
    let f = Expression::parse_with_vars(&tree.source(), &tree.names()).expect("parses");
    let mut g_tape = [0.0; 4];
    tape::gradient_with(&mut Tape::new(), &point, &mut g_tape, |v| f.eval(v));
    let mut g_fwd = [0.0; 4];
    dual::gradient_with(&point, 1, &mut g_fwd, |v| f.eval(v));
    let m = magnitude::of(&point, |v| f.eval(v));
    assert!(
        !close(g_tape[1], g_fwd[1], 1e-12),
        "{g_tape:?} vs {g_fwd:?}"
    );
    assert!(agree(g_tape[1], g_fwd[1], m[1]));
}

/// Found by seed 1497 of the random trees and 2959 of the window sums: kink arguments far from
/// their kinks in value that race through them. At `x1 = 6.3e-4`, `cos(x1^-2)` is 0.73 (so
/// `relu` passes it) but moves at 7.8e9 per unit of `x1`, through thousands of periods within
/// a difference step; both step sizes saw `relu` at 0 there and agreed on a zero slope, against
/// the engines' 5.3e9. The same with `max(2.25, -tan(cos(x0)^-3))` near `x0 = π/2`. Rule 1
/// measures the distance in input units, which screens both out.
#[test]
fn a_kink_argument_racing_through_its_kink_screens_out_finite_differences() {
    use Binary::Max;
    use Unary::{Cos, Relu, Tan};
    let value_distance = |program: &Program, x: &[f64]| {
        let mut distance = f64::INFINITY;
        program.eval(x, &mut |a, b| {
            distance = distance.min((a - b.unwrap_or(0.0)).abs());
        });
        distance
    };
    let tree = Program {
        n: 2,
        lets: vec![],
        out: un(Relu, un(Cos, Node::PowI(Box::new(Node::Var(1)), -2))),
    };
    let point = [0.0, 0.0006346005342498486, 0.0, 0.0];
    let x = &point[..2];
    assert!(value_distance(&tree, x) > KINK_GAP);
    assert!(kink_distance(&tree, x) < KINK_GAP);
    let f = Expression::parse_with_vars(&tree.source(), &tree.names()).expect("parses");
    let h = finite::step(x[1]);
    assert_eq!(
        (central(&f, x, 1, h), central(&f, x, 1, h / 4.0)),
        (0.0, 0.0)
    );
    check_engines(&Tally::default(), &tree, &point, 1).unwrap_or_else(|e| panic!("{e}"));

    // Over the one window: t0 = cos(w0)^-3, max(2.25, -tan(t0)).
    let window = Program {
        n: 1,
        lets: vec![Node::PowI(Box::new(un(Cos, Node::Var(0))), -3)],
        out: bin(
            Max,
            Node::Neg(Box::new(Node::Const(-2.25))),
            Node::Neg(Box::new(un(Tan, Node::Let(0)))),
        ),
    };
    let x = [1.5559190752079695, 0.0, 0.0];
    assert!(value_distance(&window, &x) > KINK_GAP);
    assert!(window_kink(&window, &x) < KINK_GAP);
    check_window_sum(&Tally::default(), &window, &x, 1).unwrap_or_else(|e| panic!("{e}"));
}
