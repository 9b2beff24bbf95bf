//! Unit tests of the tape: recording, the sweep, blocks, the drivers and the fused tape.

use super::*;
use crate::ad::{Scalar, ScalarFn, WindowTerm};

fn close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * b.abs().max(1.0)
}

/// Value and derivative of a one-input function at `x`.
fn d1(x: f64, f: impl for<'t> FnOnce(Var<'t>) -> Var<'t>) -> (f64, f64) {
    let mut tape = Tape::new();
    let mut g = [0.0];
    let v = gradient_with(&mut tape, &[x], &mut g, |v| f(v[0]));
    (v, g[0])
}

/// Value and gradient of a two-input function at `(a, b)`.
fn d2(a: f64, b: f64, f: impl for<'t> FnOnce(Var<'t>, Var<'t>) -> Var<'t>) -> (f64, [f64; 2]) {
    let mut tape = Tape::new();
    let mut g = [0.0; 2];
    let v = gradient_with(&mut tape, &[a, b], &mut g, |v| f(v[0], v[1]));
    (v, g)
}

#[test]
fn a_node_used_many_times_accumulates() {
    let tape = Tape::new();
    let a = tape.var(1.5);
    let b = a + a;
    let c = b + b;
    tape.backward(c);
    assert_eq!(tape.adjoint(a), 4.0);
    assert_eq!(tape.adjoint(b), 2.0);

    let (v, d) = d1(1.5, |x| x * x * x);
    assert_eq!(v, 3.375);
    assert_eq!(d, 3.0 * 1.5 * 1.5);
}

#[test]
fn a_million_node_chain_sweeps_without_recursion() {
    const STEPS: usize = 500_000;
    let k = 1.000_000_1;
    let tape = Tape::with_capacity(2 * STEPS + 1, 3 * STEPS);
    let x = tape.var(0.5);
    let mut y = x;
    for _ in 0..STEPS {
        y = y * k + x;
    }
    assert_eq!(tape.len(), 2 * STEPS + 1);
    tape.backward(y);
    // y_n = k^n x + x (k^n - 1) / (k - 1), linear in x.
    let kn = k.powi(STEPS as i32);
    let expected = kn + (kn - 1.0) / (k - 1.0);
    let got = tape.adjoint(x);
    assert!(close(got, expected, 1e-8), "{got} vs {expected}");
    assert!(close(y.value(), 0.5 * expected, 1e-8));
}

fn busy<S: Scalar>(x: &[S]) -> S {
    let s = S::sum(x);
    let d = S::dot(x, x);
    let c = S::dot_const(x, &[1.0, -2.0, 3.0, 0.5]);
    (s * d).sin() + c.exp() / (S::constant(1.0) + d) + x[0].max(x[1]) * x[2].relu()
}

#[test]
fn one_tape_reused_gives_identical_results_without_growing() {
    let mut tape = Tape::new();
    let (a, b) = ([0.3, -0.2, 0.7, 1.1], [-1.0, 2.0, 0.1, -0.4]);
    let mut g1 = [0.0; 4];
    let mut g2 = [0.0; 4];
    let mut g3 = [0.0; 4];
    let v1 = gradient_with(&mut tape, &a, &mut g1, |v| busy(v));
    let cap = tape.capacity();
    let len = tape.len();
    let v2 = gradient_with(&mut tape, &b, &mut g2, |v| busy(v));
    let v3 = gradient_with(&mut tape, &a, &mut g3, |v| busy(v));
    assert_eq!((v1, g1), (v3, g3));
    assert_ne!(g1, g2);
    assert_ne!(v1, v2);
    assert_eq!(tape.capacity(), cap);
    assert_eq!(tape.len(), len);
    assert!(cap.nodes >= len && cap.adjoints >= len);
    // clear forgets adjoints: nothing stale is visible before the next sweep.
    tape.clear();
    let x = tape.var(1.0);
    assert_eq!(tape.adjoint(x), 0.0);
    assert_eq!(tape.nodes()[0].adjoint, 0.0);
}

#[test]
fn constants_are_not_recorded() {
    let tape = Tape::new();
    let x = tape.var(3.0);
    let two = Var::constant(2.0);
    let k = two * Var::constant(5.0) + 1.0 - two.exp();
    assert!(k.is_constant());
    assert_eq!(k.index(), None);
    assert_eq!(k.value(), 11.0 - 2.0_f64.exp());
    assert_eq!(tape.len(), 1);

    let y = x * 2.0;
    assert_eq!((tape.len(), tape.edge_count()), (2, 1));
    let z = x * two; // a constant Var side records like `x * 2.0`
    assert_eq!((tape.len(), tape.edge_count()), (3, 2));
    let w = x.powf(two) + two.powf(x) + x.max(two);
    // powf, powf, add, max, add: five nodes; powf and max against a constant get one edge.
    assert_eq!((tape.len(), tape.edge_count()), (8, 9));
    let ops: Vec<Op> = tape.nodes().iter().map(|n| n.op).collect();
    assert_eq!(ops[1..4], [Op::MulConst, Op::MulConst, Op::Powf]);
    assert_eq!(y.value(), z.value());
    tape.backward(w);
    let expected = 2.0 * 3.0 + 8.0 * 2.0_f64.ln() + 1.0;
    assert!(close(tape.adjoint(x), expected, 1e-12));
    assert_eq!(tape.adjoint(two), 0.0);

    // The output is an input itself: the buffer stops at node 0.
    let mut tape = Tape::new();
    let mut g = [9.0; 2];
    let v = gradient_with(&mut tape, &[1.0, 2.0], &mut g, |v| v[0]);
    assert_eq!((v, g), (1.0, [1.0, 0.0]));

    // A constant output: zero gradient, no panic.
    let mut tape = Tape::new();
    let mut g = [9.0; 2];
    let v = gradient_with(&mut tape, &[1.0, 2.0], &mut g, |_| Var::constant(4.0));
    assert_eq!((v, g), (4.0, [0.0, 0.0]));
}

#[test]
fn n_ary_nodes_are_one_node_each() {
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let k = Var::constant(10.0);

    let s = Var::sum(&[x[0], k, x[1], x[2], x[0]]);
    assert_eq!(s.value(), 17.0);
    assert_eq!((tape.len(), tape.edge_count()), (4, 4));
    tape.backward(s);
    let adj: Vec<f64> = x.iter().map(|&v| tape.adjoint(v)).collect();
    assert_eq!(adj, [2.0, 1.0, 1.0]);

    let d = Var::dot(&[x[0], x[1], k], &[x[2], k, x[1]]);
    assert_eq!(d.value(), 3.0 + 20.0 + 20.0);
    assert_eq!((tape.len(), tape.edge_count()), (5, 8));
    assert_eq!(tape.nodes()[4].op, Op::Dot);
    assert_eq!(tape.nodes()[4].inputs, [0, 2, 1, 1]);
    tape.backward(d);
    let adj: Vec<f64> = x.iter().map(|&v| tape.adjoint(v)).collect();
    assert_eq!(adj, [3.0, 10.0 + 10.0, 1.0]);

    let c = Var::dot_const(&[x[0], k, x[2]], &[0.5, 4.0, -2.0]);
    assert_eq!(c.value(), 0.5 + 40.0 - 6.0);
    assert_eq!((tape.len(), tape.edge_count()), (6, 10));
    assert_eq!(tape.nodes()[5].op, Op::DotConst);
    tape.backward(c);
    let adj: Vec<f64> = x.iter().map(|&v| tape.adjoint(v)).collect();
    assert_eq!(adj, [0.5, 0.0, -2.0]);

    // All constants: a constant, nothing recorded.
    let e = Var::dot_const(&[k, k], &[1.0, 2.0]);
    assert!(e.is_constant() && Var::sum(&[k]).is_constant() && Var::dot(&[k], &[k]).is_constant());
    assert_eq!(e.value(), 30.0);
    assert_eq!(tape.len(), 6);
}

type Unary = for<'t> fn(Var<'t>) -> Var<'t>;

fn c<'t>(x: f64) -> Var<'t> {
    Var::constant(x)
}

#[test]
#[allow(
    clippy::excessive_precision,
    reason = "mpmath reference digits, kept in full"
)]
fn unary_derivatives_match_the_table() {
    // (name, x, f(x), f'(x), f); reference values from mpmath at 30 digits.
    #[rustfmt::skip]
    let table: &[(&str, f64, f64, f64, Unary)] = &[
        ("exp", 0.7, 2.0137527074704765216, 2.0137527074704765216, |x| x.exp()),
        ("ln", 2.5, 0.91629073187415506518, 0.4, |x| x.ln()),
        ("sqrt", 3.0, 1.7320508075688772935, 0.28867513459481288225, |x| x.sqrt()),
        ("sqrt at 0", 0.0, 0.0, f64::INFINITY, |x| x.sqrt()),
        ("sin", 0.3, 0.29552020666133957511, 0.95533648912560601964, |x| x.sin()),
        ("cos", 0.3, 0.95533648912560601964, -0.29552020666133957511, |x| x.cos()),
        ("tan", 0.3, 0.30933624960962323304, 1.0956889153225471298, |x| x.tan()),
        ("tanh", 0.3, 0.29131261245159090582, 0.91513696182662920314, |x| x.tanh()),
        ("sigmoid", 0.4, 0.59868766011245200037, 0.24026074574152915043, |x| x.sigmoid()),
        ("softplus", 1.0, 1.313261687518222834, 0.73105857863000487925, |x| x.softplus()),
        ("softplus", -3.0, 0.048587351573742058759, 0.047425873177566780879, |x| x.softplus()),
        ("softplus at 20", 20.0, 20.00000000206115362, 0.99999999793884638181, |x| x.softplus()),
        ("softplus above 20", 25.0, 25.0, 1.0, |x| x.softplus()),
        ("abs", -1.5, 1.5, -1.0, |x| x.abs()),
        ("abs at 0", 0.0, 0.0, 0.0, |x| x.abs()),
        ("relu", 2.0, 2.0, 1.0, |x| x.relu()),
        ("relu negative", -1.0, 0.0, 0.0, |x| x.relu()),
        ("relu at 0", 0.0, 0.0, 0.0, |x| x.relu()),
        ("powi 3", 1.5, 3.375, 6.75, |x| x.powi(3)),
        ("powi 0", 2.0, 1.0, 0.0, |x| x.powi(0)),
        ("powi -2", 2.0, 0.25, -0.25, |x| x.powi(-2)),
        ("x^2.5", 1.7, 3.768098990207130957, 5.5413220444222514074, |x| x.powf(c(2.5))),
        ("2^x", 0.75, 1.6817928305074290861, 1.1657299587521544469, |x| c(2.0).powf(x)),
        ("x^0 at 0", 0.0, 1.0, 0.0, |x| x.powf(c(0.0))),
        ("neg", 1.25, -1.25, -1.0, |x| -x),
        ("x + c", 1.0, 3.0, 1.0, |x| x + 2.0),
        ("c + x", 1.0, 3.0, 1.0, |x| 2.0 + x),
        ("x - c", 1.0, -1.0, 1.0, |x| x - 2.0),
        ("c - x", 1.0, 1.0, -1.0, |x| 2.0 - x),
        ("x * c", 2.0, 6.0, 3.0, |x| x * 3.0),
        ("c * x", 2.0, 6.0, 3.0, |x| 3.0 * x),
        ("x / c", 2.0, 0.5, 0.25, |x| x / 4.0),
        ("c / x", 4.0, 0.5, -0.125, |x| 2.0 / x),
        ("max(x, x)", 1.0, 1.0, 1.0, |x| x.max(x)),
        ("min(x, c) tie", 1.0, 1.0, 0.5, |x| x.min(c(1.0))),
    ];
    for &(name, x, value, derivative, f) in table {
        let (v, d) = d1(x, f);
        assert!(close(v, value, 1e-12), "{name}({x}) = {v}, want {value}");
        assert!(
            close(d, derivative, 1e-12),
            "{name}'({x}) = {d}, want {derivative}"
        );
    }
}

#[test]
fn binary_derivatives_follow_pytorch() {
    let cases: [(&str, f64, [f64; 2]); 9] = [
        ("x * y", 6.0, [3.0, 2.0]),
        ("x / y", 2.0 / 3.0, [1.0 / 3.0, -2.0 / 9.0]),
        ("x - y", -1.0, [1.0, -1.0]),
        ("x + y", 5.0, [1.0, 1.0]),
        ("max", 3.0, [0.0, 1.0]),
        ("min", 2.0, [1.0, 0.0]),
        ("max tie", 2.0, [0.5, 0.5]),
        ("min tie", 2.0, [0.5, 0.5]),
        ("powf", 8.0, [12.0, 8.0 * std::f64::consts::LN_2]),
    ];
    let results = [
        d2(2.0, 3.0, |x, y| x * y),
        d2(2.0, 3.0, |x, y| x / y),
        d2(2.0, 3.0, |x, y| x - y),
        d2(2.0, 3.0, |x, y| x + y),
        d2(2.0, 3.0, |x, y| x.max(y)),
        d2(2.0, 3.0, |x, y| x.min(y)),
        d2(2.0, 2.0, |x, y| x.max(y)),
        d2(2.0, 2.0, |x, y| x.min(y)),
        d2(2.0, 3.0, |x, y| x.powf(y)),
    ];
    for ((name, value, grad), (v, g)) in cases.iter().zip(results) {
        assert!(close(v, *value, 1e-12), "{name}: {v} vs {value}");
        for (a, b) in g.iter().zip(grad) {
            assert!(close(*a, *b, 1e-12), "{name}: {g:?} vs {grad:?}");
        }
    }
    // 0^b with b >= 0: the exponent's partial is masked to 0, not 0 * -inf = NaN.
    let (v, g) = d2(0.0, 2.0, |x, y| x.powf(y));
    assert_eq!((v, g), (0.0, [0.0, 0.0]));
}

#[test]
fn node_view_lists_the_tape() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let y = tape.var(3.0);
    let f = x * y + x.sin();
    tape.backward(f);
    let view = tape.nodes();
    let (s, c) = (2.0_f64.sin(), 2.0_f64.cos());
    let expected = [
        (Op::Input, vec![], 2.0, 3.0 + c),
        (Op::Input, vec![], 3.0, 2.0),
        (Op::Mul, vec![0, 1], 6.0, 1.0),
        (Op::Call(crate::ad::Func::Sin), vec![0], s, 1.0),
        (Op::Add, vec![2, 3], 6.0 + s, 1.0),
    ];
    assert_eq!(view.len(), expected.len());
    for (node, (op, inputs, value, adjoint)) in view.iter().zip(expected) {
        assert_eq!(
            (node.op, &node.inputs, node.value, node.adjoint),
            (op, &inputs, value, adjoint)
        );
        let operands: Vec<Operand> = inputs.iter().map(|&i| Operand::Node(i)).collect();
        assert_eq!(node.operands, operands);
    }
    // Local partials: d(x·y)/dx = y, d(x·y)/dy = x, d sin(x)/dx = cos(x), d(a + b) = 1, 1.
    let partials: Vec<&[f64]> = view.iter().map(|n| n.partials.as_slice()).collect();
    assert_eq!(partials, [&[][..], &[], &[3.0, 2.0], &[c], &[1.0, 1.0]]);
    let names: Vec<&str> = view.iter().map(|n| n.op.name()).collect();
    assert_eq!(names, ["input", "input", "mul", "sin", "add"]);
    assert_eq!(format!("{f:?}"), format!("Var(#4 = {:?})", 6.0 + s));
    assert_eq!(format!("{:?}", Var::constant(1.5)), "Var(const 1.5)");
}

#[test]
fn backward_from_an_inner_node_ignores_later_nodes() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let y = x * x;
    let z = y * x;
    tape.backward(y);
    assert_eq!((tape.adjoint(x), tape.adjoint(z)), (4.0, 0.0));
    tape.backward(z);
    assert_eq!(tape.adjoint(x), 12.0);
}

/// A deterministic generator for the matvec tests (no `rand` needed for a few numbers).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
    fn below(&mut self, k: usize) -> usize {
        ((self.next() + 1.0) * 0.5 * k as f64) as usize % k
    }
}

/// `sum_i t[i] * tanh(y[i])` over `y = W x` from `matvec` or from one `dot` per row; the
/// inputs are `x = tanh(v[picks])` (nodes after the weights, possibly repeated) and the
/// weights `v[.. m * n]`, or a shuffled copy when `scatter` (not consecutive: fallback).
fn layer<'t>(
    v: &[Var<'t>],
    m: usize,
    n: usize,
    picks: &[usize],
    blocked: bool,
    scatter: bool,
) -> Var<'t> {
    let mut w: Vec<Var<'t>> = v[..m * n].to_vec();
    if scatter {
        w.reverse();
    }
    let xs: Vec<Var<'t>> = picks.iter().map(|&p| v[p].tanh()).collect();
    let mut y = vec![Var::constant(0.0); m];
    if blocked {
        Var::matvec(&w, &xs, &mut y);
    } else {
        for (o, row) in y.iter_mut().zip(w.chunks_exact(n)) {
            *o = Var::dot(row, &xs);
        }
    }
    let t: Vec<f64> = (0..m).map(|i| 0.5 + i as f64 * 0.25).collect();
    let act: Vec<Var<'t>> = y.iter().map(|y| y.tanh()).collect();
    Var::dot_const(&act, &t)
}

#[test]
fn matvec_gradients_equal_per_row_dot_bit_for_bit() {
    let mut rng = Lcg(42);
    for case in 0..40 {
        let (m, n) = (1 + rng.below(9), 1 + rng.below(9));
        let extra = 1 + rng.below(5);
        let x: Vec<f64> = (0..m * n + extra).map(|_| rng.next()).collect();
        // Inputs drawn from the extra variables and the weights themselves, with repeats.
        let picks: Vec<usize> = (0..n).map(|_| rng.below(x.len())).collect();
        let scatter = case % 4 == 3;
        let mut tape = Tape::new();
        let mut g_block = vec![0.0; x.len()];
        let mut g_rows = vec![0.0; x.len()];
        let v1 = gradient_with(&mut tape, &x, &mut g_block, |v| {
            layer(v, m, n, &picks, true, scatter)
        });
        let blocks = tape
            .nodes()
            .iter()
            .filter(|node| matches!(node.op, Op::MatVecRow(_)))
            .count();
        assert_eq!(blocks, if scatter { 0 } else { m }, "case {case}");
        let v2 = gradient_with(&mut tape, &x, &mut g_rows, |v| {
            layer(v, m, n, &picks, false, scatter)
        });
        assert_eq!(v1, v2, "case {case}: {m}x{n}");
        assert_eq!(g_block, g_rows, "case {case}: {m}x{n} picks {picks:?}");
    }
}

#[test]
fn matvec_const_and_fallbacks() {
    let w = [0.5, -1.0, 2.0, 0.25, 3.0, -0.5];
    fn f<'t>(v: &[Var<'t>], blocked: bool) -> Var<'t> {
        let c = [2.0, -3.0];
        let mut y = [Var::constant(0.0); 3];
        if blocked {
            Var::matvec_const(v, &c, &mut y);
        } else {
            for (o, row) in y.iter_mut().zip(v.chunks_exact(2)) {
                *o = Var::dot_const(row, &c);
            }
        }
        Var::sum(&y.map(|y| y * y))
    }
    let mut tape = Tape::new();
    let (mut g1, mut g2) = ([0.0; 6], [0.0; 6]);
    let v1 = gradient_with(&mut tape, &w, &mut g1, |v| f(v, true));
    assert_eq!(tape.nodes()[6].op, Op::MatVecConstRow(0));
    assert_eq!(tape.nodes()[7].inputs, [2, 3]);
    let v2 = gradient_with(&mut tape, &w, &mut g2, |v| f(v, false));
    assert_eq!((v1, g1), (v2, g2));
    // y0 = 0.5*2 + 1*3 = 4: d(y0^2)/dw0 = 2 * 4 * 2.
    assert_eq!(g1[0], 16.0);

    // A constant input or constant weights: per-row nodes, same values.
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let mut y = [Var::constant(0.0); 1];
    Var::matvec(&x[..2], &[x[2], Var::constant(4.0)], &mut y);
    assert_eq!((y[0].value(), tape.nodes()[3].op), (11.0, Op::Dot));
    let k = [Var::constant(1.0), Var::constant(-1.0)];
    Var::matvec(&k, &x[..2], &mut y);
    assert_eq!((y[0].value(), tape.nodes()[4].op), (-1.0, Op::Dot));
    Var::matvec(&k, &k, &mut y);
    assert!(y[0].is_constant() && y[0].value() == 2.0);
    // No inputs: zeros; a weight count that does not fit: rows that fit, by `dot`.
    Var::matvec(&x, &[], &mut y);
    assert!(y[0].is_constant() && y[0].value() == 0.0);
    let mut y2 = [Var::constant(9.0); 2];
    Var::matvec(&x, &x[..2], &mut y2);
    assert_eq!((y2[0].value(), y2[1].value()), (5.0, 9.0));
    assert_eq!(tape.len(), 6);
    // f64 and the default agree with the tape's values.
    let mut f = [0.0; 3];
    f64::matvec(&w, &[2.0, -3.0], &mut f);
    assert_eq!(f, [4.0, 3.25, 7.5]);
}

#[test]
fn node_view_of_matvec_rows_and_reuse_after_clear() {
    let mut tape = Tape::new();
    let mut grads = Vec::new();
    for _ in 0..2 {
        tape.clear();
        let w = tape.vars(&[1.0, 2.0, 3.0, 4.0]);
        let x = tape.vars(&[0.5, -1.0]);
        let mut y = [Var::constant(0.0); 2];
        Var::matvec(&w, &x, &mut y);
        let f = y[0] * y[1];
        tape.backward(f);
        let view = tape.nodes();
        assert_eq!(view.len(), 9);
        let (y0, y1) = (1.0 * 0.5 - 2.0, 3.0 * 0.5 - 4.0);
        let expected = [
            (Op::MatVecRow(0), vec![0, 4, 1, 5], y0, y1),
            (Op::MatVecRow(0), vec![2, 4, 3, 5], y1, y0),
        ];
        for (node, (op, inputs, value, adjoint)) in view[6..8].iter().zip(expected) {
            assert_eq!(
                (node.op, &node.inputs, node.value, node.adjoint),
                (op, &inputs, value, adjoint)
            );
            // Each factor's partial is the other factor's value.
            let other: Vec<f64> = inputs
                .chunks_exact(2)
                .flat_map(|p| [view[p[1]].value, view[p[0]].value])
                .collect();
            assert_eq!(node.partials, other);
        }
        assert_eq!(view[6].op.name(), "matvec_row");
        assert_eq!(tape.edge_count(), 2); // only the final `mul`
        let g: Vec<f64> = w.iter().chain(&x).map(|&v| tape.adjoint(v)).collect();
        // d(y0 y1)/dw00 = x0 * y1; d/dx0 = w00 * y1 + w10 * y0.
        assert_eq!(g[0], 0.5 * y1);
        assert_eq!(g[4], 1.0 * y1 + 3.0 * y0);
        grads.push(g);
    }
    assert_eq!(grads[0], grads[1]);
}

struct Model {
    weights: Vec<f64>,
}

impl Model {
    fn eval_var<'t>(&self, x: &[Var<'t>]) -> Var<'t> {
        Var::dot_const(x, &self.weights).tanh()
    }
}

#[test]
fn drivers_accept_generic_methods_and_many_inputs() {
    let n = 40; // beyond the stack buffer
    let model = Model {
        weights: (0..n).map(|i| f64::from(i) / 100.0).collect(),
    };
    let x: Vec<f64> = (0..n).map(|i| 0.01 * f64::from(i)).collect();
    let mut tape = Tape::new();
    let mut grad = vec![0.0; x.len()];
    let v = gradient_with(&mut tape, &x, &mut grad, |v| model.eval_var(v));
    let s: f64 = x.iter().zip(&model.weights).map(|(a, b)| a * b).sum();
    assert!(close(v, s.tanh(), 1e-12));
    for (g, w) in grad.iter().zip(&model.weights) {
        assert!(close(*g, w * (1.0 - s.tanh().powi(2)), 1e-12));
    }
    assert_eq!(tape.len(), n as usize + 2); // inputs, dot_const, tanh

    struct Rosenbrock;
    impl ScalarFn for Rosenbrock {
        fn dim(&self) -> usize {
            2
        }
        fn eval<S: Scalar>(&self, x: &[S]) -> S {
            (S::constant(1.0) - x[0]).powi(2) + (x[1] - x[0] * x[0]).powi(2) * 100.0
        }
    }
    let mut g1 = [0.0; 2];
    let mut g2 = [0.0; 2];
    let f1 = gradient(&Rosenbrock, &[-1.2, 1.0], &mut g1);
    let f2 = gradient_on(&mut tape, &Rosenbrock, &[-1.2, 1.0], &mut g2);
    assert_eq!((f1, g1), (f2, g2));
    assert!(close(f1, 24.2, 1e-12));
    assert!(close(g1[0], -215.6, 1e-12) && close(g1[1], -88.0, 1e-12));
}

/// `sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2` over `Scalar`.
fn ext_rosenbrock<S: Scalar>(x: &[S]) -> S {
    let terms: Vec<S> = x
        .windows(2)
        .map(|w| (w[1] - w[0] * w[0]).powi(2) * 100.0 + (S::constant(1.0) - w[0]).powi(2))
        .collect();
    S::sum(&terms)
}

#[test]
fn a_fused_tape_records_only_what_depends_on_many_nodes() {
    let x = [-1.2, 1.0, 0.3, -0.7, 2.0];
    let (mut plain, mut fused) = (Tape::new(), Tape::fused());
    assert!(fused.is_fused() && !plain.is_fused());
    let (mut gp, mut gf) = ([0.0; 5], [0.0; 5]);
    let vp = gradient_with(&mut plain, &x, &mut gp, |v| ext_rosenbrock(v));
    let vf = gradient_with(&mut fused, &x, &mut gf, |v| ext_rosenbrock(v));
    assert_eq!(
        vp.to_bits(),
        vf.to_bits(),
        "values are the same f64 operations"
    );
    for i in 0..5 {
        assert!(close(gp[i], gf[i], 1e-14), "{gp:?} vs {gf:?}");
    }
    // Each term depends on two inputs only: no node but the final sum (with two edges per
    // term); the plain tape records every operation.
    assert_eq!(fused.len(), 5 + 1);
    assert_eq!(fused.edge_count(), 2 * 4);
    assert_eq!(plain.len(), 5 + 4 * 7 + 1);
    // By hand, d/dx0 = -400 x0 (x1 - x0^2) - 2 (1 - x0).
    let hand = -400.0 * -1.2 * (1.0 - 1.44) - 2.0 * 2.2;
    assert!(close(gf[0], hand, 1e-14));
}

/// Extended Rosenbrock's element function, for [`Scalar::sum_windows`].
struct RosenTerm;

impl WindowTerm<2> for RosenTerm {
    fn term<S: Scalar>(&self, [a, b]: &[S; 2]) -> S {
        (*b - *a * *a).powi(2) * 100.0 + (S::constant(1.0) - *a).powi(2)
    }
}

#[test]
fn a_window_sum_is_one_node_that_keeps_the_partials() {
    let x = [-1.2, 1.0, 0.3, -0.7, 2.0];
    let mut fused = Tape::fused();
    let (mut gw, mut gt) = ([0.0; 5], [0.0; 5]);
    let vw = gradient_with(&mut fused, &x, &mut gw, |v| Var::sum_windows(v, &RosenTerm));
    assert_eq!((fused.len(), fused.edge_count()), (5 + 1, 0));
    let nodes = fused.nodes();
    let sum = &nodes[5];
    assert_eq!(
        (sum.op.name(), sum.value, sum.adjoint),
        ("window_sum", vw, 1.0)
    );
    // Lane by lane: every term's first input, then every term's second.
    assert_eq!(sum.inputs, [0, 1, 2, 3, 1, 2, 3, 4]);
    assert_eq!(vw.to_bits(), ext_rosenbrock(&x).to_bits());
    let vt = gradient_with(&mut Tape::new(), &x, &mut gt, |v| ext_rosenbrock(v));
    assert_eq!(vt.to_bits(), vw.to_bits());
    for i in 0..5 {
        assert!(close(gw[i], gt[i], 1e-14), "{gw:?} vs {gt:?}");
    }
    // Reused: same results, no growth; and a plain tape records every operation.
    let cap = fused.capacity();
    let mut again = [0.0; 5];
    gradient_with(&mut fused, &x, &mut again, |v| {
        Var::sum_windows(v, &RosenTerm)
    });
    assert_eq!((again, fused.capacity()), (gw, cap));
    let mut plain = Tape::new();
    gradient_with(&mut plain, &x, &mut again, |v| {
        Var::sum_windows(v, &RosenTerm)
    });
    assert_eq!(plain.len(), 5 + 4 * 7 + 1);
    assert!(plain.nodes().iter().all(|n| n.op != Op::WindowSum(0)));
}

/// More inputs than the stack buffer: `gradient_with` marks its input slice, and a window
/// sum over it (or over a part of it) reads the values from the nodes without reading the
/// `Var`s. Same bits as the same sum over a copy of the handles, which has to check that
/// they are consecutive nodes, and as the edge list of the same windows.
#[test]
fn a_window_sum_over_the_driver_inputs_matches_one_over_a_copy_of_them() {
    let x: Vec<f64> = (0..37).map(|i| (f64::from(i) * 0.37).sin() * 1.5).collect();
    let n = x.len();
    for (lo, hi) in [(0, n), (3, n), (5, 30), (n - 2, n)] {
        let mut tape = Tape::fused();
        let mut driver = vec![0.0; n];
        let v_driver = gradient_with(&mut tape, &x, &mut driver, |v| {
            Var::sum_windows(&v[lo..hi], &RosenTerm)
        });
        assert_eq!(
            tape.inner.borrow().driver,
            None,
            "cleared after the evaluation"
        );
        assert_eq!((tape.len(), tape.edge_count()), (n + 1, 0));
        let mut copied = vec![0.0; n];
        let v_copied = gradient_with(&mut tape, &x, &mut copied, |v| {
            let copy: Vec<Var<'_>> = v.to_vec();
            Var::sum_windows(&copy[lo..hi], &RosenTerm)
        });
        assert_eq!(
            tape.edge_count(),
            0,
            "a copy of consecutive nodes is still a window sum"
        );
        let mut edged = vec![0.0; n];
        let v_edged = gradient_with(&mut tape, &x, &mut edged, |v| {
            let lazy: Vec<Var<'_>> = v[lo..hi].iter().map(|&x| x * 1.0).collect();
            Var::sum_windows(&lazy, &RosenTerm)
        });
        assert!(tape.edge_count() > 0, "fused values make it an edge list");
        let by_hand = x[lo..hi]
            .windows(2)
            .fold(0.0, |acc, w| acc + RosenTerm.term(&[w[0], w[1]]));
        for v in [v_driver, v_copied, v_edged] {
            assert_eq!(v.to_bits(), by_hand.to_bits());
        }
        for i in 0..n {
            assert_eq!(driver[i].to_bits(), copied[i].to_bits(), "{lo}..{hi}, x{i}");
            assert_eq!(driver[i].to_bits(), edged[i].to_bits(), "{lo}..{hi}, x{i}");
            let inside = (lo..hi).contains(&i) && hi - lo >= 2;
            assert_eq!(driver[i] != 0.0, inside, "{lo}..{hi}, x{i} = {}", driver[i]);
        }
    }
}

/// The mark on `gradient_with`'s input slice is gone once its evaluation ends, even by a
/// panic: a later slice at the same address must not pass for the driver's inputs.
#[test]
fn the_driver_mark_does_not_outlive_a_panicking_evaluation() {
    let mut tape = Tape::fused();
    let x = [0.5; 20];
    let mut g = [0.0; 20];
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gradient_with(&mut tape, &x, &mut g, |v| {
            assert!(tape_has_mark(v), "marked during the evaluation");
            panic!("an objective that fails");
        })
    }));
    assert!(caught.is_err());
    assert_eq!(tape.inner.borrow().driver, None);
}

fn tape_has_mark(v: &[Var<'_>]) -> bool {
    v[0].tape
        .is_some_and(|t| t.inner.borrow().driver_window(v) == Some(0))
}

#[test]
fn window_sums_over_constants_short_inputs_and_no_windows() {
    let tape = Tape::fused();
    let x = tape.vars(&[0.5, 2.0, -1.0]);
    // A constant in the middle: its terms have no lane for it, the others still count.
    let mixed = [x[0], Var::constant(2.0), x[2]];
    let s = Var::sum_windows(&mixed, &RosenTerm);
    let by_hand = RosenTerm.term(&[0.5, 2.0]) + RosenTerm.term(&[2.0, -1.0]);
    assert_eq!(s.value(), 0.0 + by_hand);
    tape.backward(s);
    assert_eq!(tape.adjoint(x[1]), 0.0);
    assert_eq!(tape.adjoint(x[0]), -400.0 * 0.5 * (2.0 - 0.25) - 2.0 * 0.5);
    assert_eq!(
        tape.adjoint(x[2]),
        200.0 * (-1.0 - 4.0),
        "the last window's second input"
    );
    let sum = tape.nodes().pop().expect("a node");
    assert_eq!((sum.op, sum.inputs), (Op::Sum, vec![0, 2]));
    // Fewer inputs than a window, or windows of nothing: an empty sum.
    for s in [
        Var::sum_windows(&x[..1], &RosenTerm),
        Var::sum_windows::<0, _>(&x, &Nothing),
    ] {
        assert!(s.is_constant() && s.value() == 0.0);
    }
    assert_eq!(f64::sum_windows::<0, _>(&[1.0, 2.0], &Nothing), 0.0);
}

struct Nothing;

impl WindowTerm<0> for Nothing {
    fn term<S: Scalar>(&self, _: &[S; 0]) -> S {
        S::constant(1.0)
    }
}

#[test]
fn inputs_recorded_after_other_nodes_still_get_their_adjoints() {
    // The sweep skips the leading leaves only; a later input is visited like any node.
    for tape in [Tape::new(), Tape::fused()] {
        let x = tape.vars(&[2.0, 3.0]);
        let y = Var::sum(&[x[0] * x[1], x[0], x[1]]);
        let z = tape.var(5.0);
        let f = Var::sum(&[y * z, z]);
        tape.backward(f);
        assert_eq!(tape.adjoint(x[0]), 5.0 * (3.0 + 1.0));
        assert_eq!(tape.adjoint(x[1]), 5.0 * (2.0 + 1.0));
        assert_eq!(tape.adjoint(z), 2.0 * 3.0 + 2.0 + 3.0 + 1.0);
    }
}

#[test]
fn leading_inputs_read_like_any_other_node() {
    // Inputs recorded first keep a value only; those after a node are full nodes. The
    // view, the adjoints and a sweep from an input itself must not tell them apart.
    let mut tape = Tape::new();
    for constant_first in [false, true] {
        tape.clear();
        let c = constant_first.then(|| tape.constant(4.0));
        let a = tape.vars(&[1.0, 2.0]);
        let b = tape.var(3.0);
        let k = tape.constant(4.0);
        let d = tape.vars(&[5.0, 6.0]);
        let f = (a[0] * a[1] + b) * d[1] + k * d[0];
        let shift = usize::from(constant_first);
        assert_eq!(
            tape.inner.borrow().inputs,
            if constant_first { 0 } else { 3 }
        );
        tape.backward(f);
        let view = tape.nodes();
        let ops: Vec<Op> = view.iter().skip(shift).take(6).map(|n| n.op).collect();
        assert_eq!(
            ops,
            [
                Op::Input,
                Op::Input,
                Op::Input,
                Op::Const,
                Op::Input,
                Op::Input
            ]
        );
        let values: Vec<f64> = view.iter().skip(shift).take(6).map(|n| n.value).collect();
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(view.iter().take(shift + 6).all(|n| n.inputs.is_empty()));
        // a0 * a1, + b, * d1, k * d0, + : the first op's edges start the edge list.
        assert_eq!(view[shift + 6].inputs, [shift, shift + 1]);
        let grads = [a[0], a[1], b, k, d[0], d[1]].map(|v| tape.adjoint(v));
        assert_eq!(grads, [12.0, 6.0, 6.0, 5.0, 4.0, 5.0]);
        assert_eq!(c.map(|c| tape.adjoint(c)), constant_first.then_some(0.0));
        for (v, x) in [(a[1], 2.0), (b, 3.0), (d[1], 6.0)] {
            tape.backward(v);
            assert_eq!((tape.adjoint(v), v.value()), (1.0, x));
            assert_eq!(tape.adjoint(a[0]), 0.0);
        }
    }
}

#[test]
fn fused_values_fold_chains_and_record_when_they_depend_on_three_nodes() {
    let tape = Tape::fused();
    let x = tape.vars(&[0.5, -1.5, 2.0]);
    // Unary chains and squares record nothing; `sin(x0) * x0` depends on one node.
    let a = (x[0] * 3.0 + 1.0).exp().ln() * x[0].sin();
    let b = x[1] * x[1];
    assert!(a.is_fused() && b.is_fused() && !x[0].is_fused());
    assert_eq!(tape.len(), 3);
    // Two nodes: still unrecorded; a third node forces one node with three edges.
    let c = a * b;
    assert_eq!(tape.len(), 3);
    let d = c + x[2].tanh();
    assert_eq!((tape.len(), tape.edge_count()), (4, 3));
    assert!(!d.is_fused());
    assert_eq!(tape.nodes()[3].inputs, [0, 1, 2]);
    tape.backward(d);
    let (x0, x1, x2) = (0.5_f64, -1.5_f64, 2.0_f64);
    let da = 3.0 * x0.sin() + (3.0 * x0 + 1.0) * x0.cos();
    let expect = [da * x1 * x1, a.value() * 2.0 * x1, 1.0 - x2.tanh().powi(2)];
    for (v, e) in x.iter().zip(expect) {
        assert!(
            close(tape.adjoint(*v), e, 1e-14),
            "{} vs {e}",
            tape.adjoint(*v)
        );
    }
    // A fused value has no adjoint of its own.
    assert!(tape.adjoint(a).is_nan());
}

#[test]
fn a_fused_output_seeds_the_nodes_it_depends_on() {
    let mut tape = Tape::fused();
    let mut g = [0.0; 3];
    // Depends on two inputs only: nothing recorded beyond the inputs.
    let v = gradient_with(&mut tape, &[2.0, 3.0, 4.0], &mut g, |v| {
        (v[0] * v[2]).sin() * 2.0
    });
    assert_eq!(tape.len(), 3);
    assert_eq!(v, (8.0_f64).sin() * 2.0);
    let c = 2.0 * (8.0_f64).cos();
    assert_eq!(g, [c * 4.0, 0.0, c * 2.0]);
    // The same input twice merges into one term: `x + x * 2` is `3 x`.
    let v = gradient_with(&mut tape, &[1.5], &mut g[..1], |v| v[0] + v[0] * 2.0);
    assert_eq!((v, g[0], tape.len()), (4.5, 3.0, 1));
}

#[test]
fn matvec_settles_fused_inputs_and_matches_the_plain_tape() {
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        let (weights, h) = v.split_at(6);
        let inputs = [h[0].tanh(), h[1] * h[0], (h[1] - 1.0).powi(2)];
        let mut out = [Var::constant(0.0); 2];
        Var::matvec(weights, &inputs, &mut out);
        out[0] * out[1]
    }
    let w = [0.3, -0.2, 0.5, 0.1, -0.4, 0.25, 0.7, -0.6];
    let (mut plain, mut fused) = (Tape::new(), Tape::fused());
    let (mut gp, mut gf) = ([0.0; 8], [0.0; 8]);
    let vp = gradient_with(&mut plain, &w, &mut gp, f);
    let vf = gradient_with(&mut fused, &w, &mut gf, f);
    assert_eq!(vp.to_bits(), vf.to_bits());
    for i in 0..8 {
        assert!(close(gp[i], gf[i], 1e-14), "{gp:?} vs {gf:?}");
    }
    // The three fused inputs were recorded as `fused` nodes before the block's two rows.
    let ops: Vec<Op> = fused.nodes().iter().map(|n| n.op).collect();
    assert_eq!(ops[8..11], [Op::Fused; 3]);
    assert!(matches!(ops[11], Op::MatVecRow(_)));
}

/// `sum_q t[q] * tanh(z[q])` over a batch layer `z = W x_s + b`, recorded as one block
/// (`blocked`) or by the default loops. Weights `v[..m n]`, biases the next `m`, inputs
/// `tanh(v[p])` or, for odd picks, `v[p] * v[p + 1]` (a value of two nodes).
fn batch_layer<'t>(
    v: &[Var<'t>],
    dims: (usize, usize, usize),
    picks: &[usize],
    blocked: bool,
) -> Var<'t> {
    let (batch, m, n) = dims;
    let (w, rest) = v.split_at(m * n);
    let b = &rest[..m];
    let xs: Vec<Var<'t>> = picks
        .iter()
        .map(|&p| {
            if p % 2 == 0 {
                v[p].tanh()
            } else {
                v[p] * v[(p + 1) % v.len()]
            }
        })
        .collect();
    let mut z = vec![Var::constant(0.0); batch * m];
    if blocked {
        Var::affine_batch(w, b, &xs, n, &mut z);
    } else {
        crate::ad::affine_batch_loops(w, b, &xs, n, &mut z);
    }
    let t: Vec<f64> = (0..batch * m).map(|q| 0.5 + q as f64 * 0.125).collect();
    let act: Vec<Var<'t>> = z.iter().map(|z| z.tanh()).collect();
    Var::dot_const(&act, &t)
}

#[test]
fn affine_blocks_match_the_per_output_loops_on_both_tapes() {
    let mut rng = Lcg(7);
    for case in 0..60 {
        // Up to 20 outputs and 12 samples: blocks of eight outputs and the rest, and
        // sizes the backward hands to the matrix kernels (every side above 5) or not.
        let dims = (1 + rng.below(12), 1 + rng.below(20), 1 + rng.below(9));
        let (batch, m, n) = dims;
        let extra = 1 + rng.below(5);
        let x: Vec<f64> = (0..m * n + m + extra).map(|_| rng.next()).collect();
        // Inputs from the extra variables, the biases and the weights, with repeats.
        let picks: Vec<usize> = (0..batch * n).map(|_| rng.below(x.len())).collect();
        let mut tape = if case % 2 == 0 {
            Tape::fused()
        } else {
            Tape::new()
        };
        let (mut g_block, mut g_loops) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let v1 = gradient_with(&mut tape, &x, &mut g_block, |v| {
            batch_layer(v, dims, &picks, true)
        });
        let outs = tape
            .nodes()
            .iter()
            .filter(|node| matches!(node.op, Op::AffineOut(_)))
            .count();
        assert_eq!(outs, batch * m, "case {case}");
        let v2 = gradient_with(&mut tape, &x, &mut g_loops, |v| {
            batch_layer(v, dims, &picks, false)
        });
        assert_eq!(
            v1.to_bits(),
            v2.to_bits(),
            "case {case}: values are dot + b"
        );
        for (a, b) in g_block.iter().zip(&g_loops) {
            assert!(
                close(*a, *b, 1e-13),
                "case {case} {dims:?}: {g_block:?} vs {g_loops:?}"
            );
        }
    }
}

#[test]
fn affine_const_blocks_views_and_a_sweep_from_inside_the_block() {
    // 3 samples × 2 inputs, 2 outputs: z[s][j] = w[j] · x[s] + b[j].
    let data = [1.0, 2.0, -1.0, 0.5, 3.0, -2.0];
    let tape = Tape::new();
    let p = tape.vars(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    let (w, b) = p.split_at(4);
    let mut z = [Var::constant(0.0); 6];
    Var::affine_batch_const(w, b, &data, 2, &mut z);
    let mut expect = [0.0; 6];
    crate::ad::affine_batch_const_loops(&[0.1, 0.2, 0.3, 0.4], &[0.5, 0.6], &data, 2, &mut expect);
    let values: Vec<f64> = z.iter().map(|v| v.value()).collect();
    assert_eq!(values, expect);
    let view = tape.nodes();
    assert_eq!(view.len(), 6 + 6);
    assert_eq!(view[6 + 3].op.name(), "affine");
    // Sample 1, unit 1: weight row 1 (nodes 2, 3), no input nodes, bias 1 (node 5).
    assert_eq!(view[6 + 3].inputs, [2, 3, 5]);
    // A sweep from an output inside the block sees only that output.
    tape.backward(z[3]);
    let adj: Vec<f64> = p.iter().map(|&v| tape.adjoint(v)).collect();
    assert_eq!(adj, [0.0, 0.0, -1.0, 0.5, 0.0, 1.0]);
    tape.backward(z[2]);
    let adj: Vec<f64> = p.iter().map(|&v| tape.adjoint(v)).collect();
    assert_eq!(adj, [-1.0, 0.5, 0.0, 0.0, 1.0, 0.0]);
    // Weights that are not consecutive nodes fall back to the loops: no block.
    let tape = Tape::new();
    let p = tape.vars(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    let w = [p[3], p[2], p[1], p[0]];
    let mut z = [Var::constant(0.0); 6];
    Var::affine_batch_const(&w, &p[4..], &data, 2, &mut z);
    assert!(
        tape.nodes()
            .iter()
            .all(|n| !matches!(n.op, Op::AffineOut(_)))
    );
    assert_eq!(z[0].value(), 0.4 + 0.3 * 2.0 + 0.5);
}

/// A plain tape writes every operation out with its constants in place, from the side table
/// it keeps for display; a fused tape keeps no constants.
#[test]
fn a_plain_tape_writes_its_constants_and_a_fused_one_records_none() {
    fn build(tape: &Tape) -> Var<'_> {
        let x = tape.var(0.5);
        let y = tape.var(2.0);
        let a = 1.0 - x;
        let b = y * 100.0;
        let c = 3.0 * x;
        let d = x.powf(Var::constant(1.5));
        let e = Var::constant(2.0).powf(y);
        let f = x.max(Var::constant(0.0));
        let s = Var::sum(&[a, Var::constant(4.0), b]);
        let t = Var::dot_const(&[x, y], &[1.5, -2.0]);
        let u = Var::dot(&[x, Var::constant(3.0)], &[Var::constant(2.0), y]);
        let rest = [x / 4.0, 8.0 / y, x + 1.0, 2.0 + x, y - 3.0];
        Var::sum(&[s, c, d, e, f, t, u]) + Var::sum(&rest)
    }
    let tape = Tape::new();
    let g = build(&tape);
    tape.backward(g);
    let nodes = tape.nodes();
    let text: Vec<String> = nodes
        .iter()
        .map(|n| n.describe(|i| format!("#{i}"), |c| c.to_string()))
        .collect();
    assert_eq!(
        text[2..16],
        [
            "1 - #0",
            "#1·100",
            "3·#0",
            "#0^1.5",
            "2^#1",
            "max(#0, 0)",
            "#2 + 4 + #3",
            "#0·1.5 + #1·(-2)",
            "#0·2 + 3·#1",
            "#0 / 4",
            "8 / #1",
            "#0 + 1",
            "2 + #0",
            "#1 - 3",
        ]
    );
    assert_eq!(nodes[8].operands[1], Operand::Const(4.0));
    // The constants change nothing the sweep computes: same adjoints as the fused tape.
    let fused = Tape::fused();
    let h = build(&fused);
    fused.backward(h);
    assert_eq!(g.value().to_bits(), h.value().to_bits());
    for (k, (node, other)) in nodes.iter().zip(fused.nodes()).take(2).enumerate() {
        let (p, q) = (node.adjoint, other.adjoint);
        assert!((p - q).abs() <= 1e-12 * p.abs().max(1.0), "{k}: {p} vs {q}");
    }
    let recorded = |t: &Tape| {
        t.nodes()
            .iter()
            .flat_map(|n| n.operands.clone())
            .filter(|o| matches!(o, Operand::Const(_)))
            .count()
    };
    assert_eq!(recorded(&fused), 0);
    assert_eq!(recorded(&tape), 16);
}
