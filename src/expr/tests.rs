//! Tests of the expression language: syntax, let lines, every function, both fast gradient
//! paths against analytic gradients and against each other, and the error messages.

use proptest::prelude::*;

use super::*;

/// The crate's forward-mode dual, one direction at a time, to check the generic `eval`.
type D = crate::ad::dual::Dual<f64>;

fn parse(src: &str) -> Expression {
    Expression::parse(src).unwrap_or_else(|e| panic!("{}", e.render(src)))
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// The gradient by forward mode, one direction at a time through the generic `eval`.
fn dual_gradient(f: &Expression, x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let xs: Vec<D> = x
                .iter()
                .enumerate()
                .map(|(j, &v)| D::new(v, f64::from(u8::from(i == j))))
                .collect();
            f.eval(&xs).eps
        })
        .collect()
}

fn both_gradients(f: &Expression, x: &[f64], chunk: usize) -> (f64, Vec<f64>, f64, Vec<f64>) {
    let mut work = Workspace::default();
    let mut gr = vec![f64::NAN; x.len()];
    let mut gf = vec![f64::NAN; x.len()];
    let vr = f.gradient_reverse(x, &mut work, &mut gr);
    let (vf, _) = f.gradient_forward(x, chunk, &mut work, &mut gf);
    (vr, gr, vf, gf)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

// ---------------------------------------------------------------------------------- syntax

#[test]
fn precedence_and_associativity() {
    let cases = [
        ("-x^2", 3.0, -9.0),
        ("2^3^2", 0.0, 512.0),
        ("(2^3)^2", 0.0, 64.0),
        ("2^-1", 0.0, 0.5),
        ("x^-1", 4.0, 0.25),
        ("-2^2", 0.0, -4.0),
        ("1 - 2 - 3", 0.0, -4.0),
        ("12 / 3 / 2", 0.0, 2.0),
        ("1 + 2 * 3", 0.0, 7.0),
        ("(1 + 2) * 3", 0.0, 9.0),
        ("2 * -x", 3.0, -6.0),
        ("- -x", 3.0, 3.0),
        ("+x", 3.0, 3.0),
        ("2 * x^2", 3.0, 18.0),
        ("-x * 2", 3.0, -6.0),
        ("8 / 2^2", 0.0, 2.0),
        ("2^x^2", 2.0, 16.0),
        ("1e-3 * 2E+4", 0.0, 20.0),
        (".5 + 1.5", 0.0, 2.0),
        ("pi", 0.0, std::f64::consts::PI),
        ("e", 0.0, std::f64::consts::E),
        ("2 * pi * x", 0.5, std::f64::consts::PI),
    ];
    for (src, x, want) in cases {
        let f = parse(src).with_vars(&names(&["x"])).unwrap();
        let got = f.eval_f64(&[x]);
        assert!(close(got, want, 1e-15), "{src}: got {got}, want {want}");
    }
}

#[test]
fn inputs_are_collected_in_order_of_first_appearance() {
    let f = parse("b * a + sin(b) + c; ");
    assert_eq!(f.vars(), ["b", "a", "c"]);
    assert_eq!(f.dim(), 3);
    assert_eq!(parse("a = q; a * w + a").vars(), ["q", "w"]);
    assert_eq!(parse("2 + pi").vars(), Vec::<String>::new());
}

#[test]
fn comments_line_breaks_and_semicolons() {
    let src = "# Rosenbrock\nr = y - x^2   # the valley\n\n(1 - x)^2 +\n  100 * (r\n  ^ 2)\n";
    let f = parse(src);
    assert_eq!(f.vars(), ["y", "x"]);
    assert_eq!(f.eval_f64(&[2.0, -1.5]), 12.5);
    assert_eq!(parse("a = 2; b = a * x; b + a").eval_f64(&[3.0]), 8.0);
    assert_eq!(f.source(), src);
}

#[test]
fn integer_exponents_compile_to_powi() {
    let last = |src: &str| *parse(src).instructions().last().unwrap();
    assert!(matches!(last("x^2"), Instr::Powi(_, 2)));
    assert!(matches!(last("x^-1"), Instr::Powi(_, -1)));
    assert!(matches!(last("pow(x, 3)"), Instr::Powi(_, 3)));
    assert!(matches!(last("x^(1 + 1)"), Instr::Powi(_, 2)));
    assert!(matches!(last("x^2.5"), Instr::Pow(..)));
    assert!(matches!(last("x^y"), Instr::Pow(..)));
    assert!(matches!(last("x^1e10"), Instr::Pow(..)));
    // Exactness: powi(x, 3) is x*x*x, which powf need not be.
    assert_eq!(parse("x^3").eval_f64(&[1.1]), 1.1_f64.powi(3));
}

#[test]
fn constant_subexpressions_fold() {
    let f = parse("x * (2 * pi + sin(0) + 2^3)");
    let consts = f
        .instructions()
        .iter()
        .filter(|i| matches!(i, Instr::Const(_)))
        .count();
    assert_eq!(f.instructions().len(), 3, "{:?}", f.listing());
    assert_eq!(consts, 1);
    assert_eq!(f.eval_f64(&[1.0]), 2.0 * std::f64::consts::PI + 8.0);
}

// ------------------------------------------------------------------------------- let lines

#[test]
fn let_values_are_computed_once() {
    let with_let = parse("s = sin(x) * y\ns * s + s");
    let calls = |f: &Expression, pred: fn(&Instr) -> bool| {
        f.instructions().iter().filter(|i| pred(i)).count()
    };
    assert_eq!(
        calls(&with_let, |i| matches!(i, Instr::Call1(Func::Sin, _))),
        1
    );
    assert_eq!(calls(&with_let, |i| matches!(i, Instr::Mul(..))), 2);
    let (x, y) = (0.7_f64, 1.3);
    let s = x.sin() * y;
    assert_eq!(with_let.eval_f64(&[x, y]), s * s + s);
    // On a tape every register is one node: the let value is recorded once.
    let listing = with_let.listing();
    assert_eq!(listing.len(), 6, "{listing:?}");
    assert!(listing.iter().any(|l| l.ends_with("# s")), "{listing:?}");
    // The gradient sees the shared value through both uses.
    let (_, gr, _, gf) = both_gradients(&with_let, &[x, y], 2);
    let ds = 2.0 * s + 1.0;
    assert!(close(gr[0], ds * x.cos() * y, 1e-14) && close(gf[0], gr[0], 1e-14));
    assert!(close(gr[1], ds * x.sin(), 1e-14) && close(gf[1], gr[1], 1e-14));
}

#[test]
fn later_lets_use_earlier_ones_and_unused_ones_vanish() {
    let f = parse("a = x + 1\nb = a * a\nunused = exp(z)\nb - a");
    assert_eq!(f.vars(), ["x", "z"]);
    assert_eq!(f.eval_f64(&[2.0, 0.0]), 6.0);
    assert!(
        !f.instructions()
            .iter()
            .any(|i| matches!(i, Instr::Call1(Func::Exp, _)))
    );
}

#[test]
fn listing_names_inputs_and_lets() {
    let f = parse("r = y - x^2\n(1 - x)^2 + 100 * r^2");
    assert_eq!(
        f.listing(),
        [
            "%0 = y",
            "%1 = x",
            "%2 = const 1",
            "%3 = const 100",
            "%4 = powi %1, 2",
            "%5 = sub %0, %4    # r",
            "%6 = sub %2, %1",
            "%7 = powi %6, 2",
            "%8 = powi %5, 2",
            "%9 = mul %3, %8",
            "%10 = add %7, %9",
        ]
    );
}

// --------------------------------------------------------------------------- binding inputs

#[test]
fn with_vars_reorders_and_allows_extra_names() {
    let f = parse("x - 2 * y")
        .with_vars(&names(&["w", "y", "x"]))
        .unwrap();
    assert_eq!(f.dim(), 3);
    assert_eq!(f.vars(), ["w", "y", "x"]);
    assert_eq!(f.eval_f64(&[100.0, 1.0, 5.0]), 3.0);
    let mut g = [f64::NAN; 3];
    f.gradient_reverse(&[100.0, 1.0, 5.0], &mut Workspace::default(), &mut g);
    assert_eq!(g, [0.0, -2.0, 1.0]);
    // Binding again starts from the source's own names.
    let f = f.with_vars(&names(&["x", "y"])).unwrap();
    assert_eq!(f.eval_f64(&[5.0, 1.0]), 3.0);
    assert_eq!(
        Expression::parse_with_vars("y", &names(&["x", "y"]))
            .unwrap()
            .eval_f64(&[1.0, 2.0]),
        2.0
    );
}

#[test]
fn with_vars_rejects_unknown_names_at_their_first_use() {
    let src = "x + 2 * yy + yy";
    let err = parse(src).with_vars(&names(&["x", "y"])).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnknownVariable);
    assert_eq!(err.span, 8..10);
    assert_eq!(err.line_col(src), (1, 9));
    assert_eq!(err.message, "unknown variable `yy`");
    assert_eq!(err.expected.as_deref(), Some("one of x, y"));
    assert_eq!(err.suggestion.as_deref(), Some("did you mean `y`?"));
    let err = parse("banana").with_vars(&names(&["x"])).unwrap_err();
    assert_eq!(err.suggestion, None);
}

// -------------------------------------------------------------------------------- functions

#[test]
fn every_function_value_and_derivative() {
    // (source in x, point, value, derivative), derivatives by hand.
    let s = |x: f64| 1.0 / (1.0 + (-x).exp());
    let cases: Vec<(&str, f64, f64, f64)> = vec![
        ("exp(x)", 0.5, 0.5_f64.exp(), 0.5_f64.exp()),
        ("ln(x)", 2.0, 2.0_f64.ln(), 0.5),
        ("log(x)", 4.0, 4.0_f64.ln(), 0.25),
        ("sqrt(x)", 4.0, 2.0, 0.25),
        ("abs(x)", -3.0, 3.0, -1.0),
        ("abs(x)", 0.0, 0.0, 0.0),
        ("sin(x)", 0.3, 0.3_f64.sin(), 0.3_f64.cos()),
        ("cos(x)", 0.3, 0.3_f64.cos(), -0.3_f64.sin()),
        ("tan(x)", 0.3, 0.3_f64.tan(), 1.0 / 0.3_f64.cos().powi(2)),
        ("tanh(x)", 0.3, 0.3_f64.tanh(), 1.0 / 0.3_f64.cosh().powi(2)),
        ("sigmoid(x)", 0.3, s(0.3), s(0.3) * (1.0 - s(0.3))),
        ("softplus(x)", 0.3, 0.3_f64.exp().ln_1p(), s(0.3)),
        ("softplus(x)", 30.0, 30.0, 1.0),
        ("relu(x)", 2.0, 2.0, 1.0),
        ("relu(x)", -2.0, 0.0, 0.0),
        ("relu(x)", 0.0, 0.0, 0.0),
        ("pow(x, 3)", 2.0, 8.0, 12.0),
        ("pow(2, x)", 3.0, 8.0, 8.0 * 2.0_f64.ln()),
        ("pow(x, 0.5)", 4.0, 2.0, 0.25),
        ("x^x", 2.0, 4.0, 4.0 * (2.0_f64.ln() + 1.0)),
        ("min(x, 1)", 0.5, 0.5, 1.0),
        ("min(x, 1)", 2.0, 1.0, 0.0),
        ("min(x, 1)", 1.0, 1.0, 0.5),
        ("max(x, 1)", 2.0, 2.0, 1.0),
        ("max(x, 1)", 0.5, 1.0, 0.0),
        ("max(x, 1)", 1.0, 1.0, 0.5),
        ("x / 4", 2.0, 0.5, 0.25),
        ("4 / x", 2.0, 2.0, -1.0),
        ("x^-2", 2.0, 0.25, -0.25),
        ("x^0", 5.0, 1.0, 0.0),
    ];
    let mut work = Workspace::default();
    for (src, x, value, slope) in cases {
        let f = parse(src).with_vars(&names(&["x"])).unwrap();
        let mut gr = [f64::NAN];
        let mut gf = [f64::NAN];
        let vr = f.gradient_reverse(&[x], &mut work, &mut gr);
        let (vf, passes) = f.gradient_forward(&[x], 8, &mut work, &mut gf);
        let dual = f.eval(&[D::new(x, 1.0)]);
        assert_eq!(passes, 1);
        for (what, got, want) in [
            ("value", f.eval_f64(&[x]), value),
            ("reverse value", vr, value),
            ("forward value", vf, value),
            ("dual value", dual.re, value),
            ("reverse", gr[0], slope),
            ("forward", gf[0], slope),
            ("dual", dual.eps, slope),
        ] {
            assert!(
                close(got, want, 1e-14),
                "{src} at {x}: {what} {got}, want {want}"
            );
        }
    }
}

#[test]
fn pytorch_conventions_at_kinks() {
    let mut work = Workspace::default();
    let mut g = [0.0; 2];
    let f = parse("max(x, y)");
    f.gradient_reverse(&[1.0, 1.0], &mut work, &mut g);
    assert_eq!(g, [0.5, 0.5]);
    f.gradient_forward(&[1.0, 1.0], 1, &mut work, &mut g);
    assert_eq!(g, [0.5, 0.5]);
    let f = parse("sqrt(x) + 0 * y");
    f.gradient_reverse(&[0.0, 1.0], &mut work, &mut g);
    assert_eq!(g[0], f64::INFINITY);
    // d/db of a^b at a = 0, b >= 0 is masked to 0 (ln 0 would give -inf).
    let f = parse("pow(x, y)");
    f.gradient_reverse(&[0.0, 2.0], &mut work, &mut g);
    assert_eq!(g, [0.0, 0.0]);
    f.gradient_forward(&[0.0, 2.0], 2, &mut work, &mut g);
    assert_eq!(g, [0.0, 0.0]);
}

/// An infinite slope met by a zero tangent: every engine keeps it out of the other inputs'
/// derivatives (forward mode by the NaN-safe product, reverse mode because the slope is only
/// ever multiplied into its own input's adjoint). The compiled forward sweep once gave `NaN`
/// for `d/dx` here while the generic duals and reverse mode gave `1`.
#[test]
fn infinite_slopes_stay_in_their_own_direction_on_every_engine() {
    use crate::ad::dual::{self, Chunk};
    let mut work = Workspace::default();
    let cases: [(&str, [f64; 2]); 6] = [
        ("x + sqrt(y)", [1.0, 0.0]),
        ("x * 2 + abs(y)^0.5", [1.5, 0.0]),
        ("x + pow(y, 0.5)", [1.0, 0.0]),
        ("max(x, sqrt(y)) + x", [1.0, 0.0]),
        ("(x + sqrt(y))^2", [1.0, 0.0]),
        ("x^3 + ln(y)", [2.0, 0.0]),
    ];
    for (src, at) in cases {
        let f = parse(src).with_vars(&names(&["x", "y"])).unwrap();
        let (mut gr, mut gf) = ([0.0; 2], [0.0; 2]);
        f.gradient_reverse(&at, &mut work, &mut gr);
        let mut generic = [0.0; 2];
        dual::gradient_with(&at, 2, &mut generic, |v: &[Chunk]| f.eval(v));
        for chunk in [1, 2] {
            f.gradient_forward(&at, chunk, &mut work, &mut gf);
            assert!(gf[0].is_finite(), "{src}: forward d/dx {gf:?}");
            assert!(same(gf[0], gr[0]), "{src}: forward {gf:?}, reverse {gr:?}");
            // Forward mode is the generic duals' in both directions (at `abs(y)^0.5` their
            // d/dy is 0 = abs'(0) * inf with the NaN-safe product, reverse mode's NaN).
            assert!(
                gf.iter().zip(&generic).all(|(&a, &b)| same(a, b)),
                "{src}: {gf:?} vs {generic:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------- gradients

#[test]
fn rosenbrock_gradient_is_analytic() {
    let f = parse("(1-x)^2 + 100*(y-x^2)^2");
    let (x, y) = (-1.5, 2.0);
    let want = [
        -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
        200.0 * (y - x * x),
    ];
    assert_eq!(want, [-155.0, -50.0]);
    for chunk in [0, 1, 2, 8, 100] {
        let (vr, gr, vf, gf) = both_gradients(&f, &[x, y], chunk);
        assert_eq!((vr, vf), (12.5, 12.5));
        for i in 0..2 {
            assert!(close(gr[i], want[i], 1e-12), "reverse {gr:?}");
            assert!(
                close(gf[i], want[i], 1e-12),
                "forward chunk {chunk}: {gf:?}"
            );
        }
    }
    assert_eq!(dual_gradient(&f, &[x, y]), want);
}

#[test]
fn other_gradients_are_analytic() {
    type Grad = fn(&[f64]) -> Vec<f64>;
    let cases: [(&str, [f64; 3], Grad); 5] = [
        ("sin(x) * exp(y) + z", [0.4, -0.3, 9.0], |p| {
            vec![p[0].cos() * p[1].exp(), p[0].sin() * p[1].exp(), 1.0]
        }),
        ("sqrt(x^2 + y^2 + z^2)", [1.0, 2.0, 2.0], |p| {
            let r = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
            p.iter().map(|v| v / r).collect()
        }),
        ("x / (y * z)", [3.0, 2.0, -4.0], |p| {
            let d = p[1] * p[2];
            vec![1.0 / d, -p[0] / (d * p[1]), -p[0] / (d * p[2])]
        }),
        ("a = x*y\nb = tanh(a)\nb*b + z*b", [0.3, 0.8, 1.7], |p| {
            let b = (p[0] * p[1]).tanh();
            let db = 2.0 * b + p[2];
            let da = db * (1.0 - b * b);
            vec![da * p[1], da * p[0], b]
        }),
        ("ln(sigmoid(x*z)) + softplus(y)^2", [0.6, -1.1, 2.0], |p| {
            let s = |t: f64| 1.0 / (1.0 + (-t).exp());
            let sp = (p[1].exp()).ln_1p();
            let dlog = 1.0 - s(p[0] * p[2]);
            vec![dlog * p[2], 2.0 * sp * s(p[1]), dlog * p[0]]
        }),
    ];
    for (src, point, grad) in cases {
        let f = parse(src).with_vars(&names(&["x", "y", "z"])).unwrap();
        let want = grad(&point);
        let (_, gr, _, gf) = both_gradients(&f, &point, 2);
        let gd = dual_gradient(&f, &point);
        for i in 0..3 {
            assert!(
                close(gr[i], want[i], 1e-12),
                "{src}: reverse {gr:?} want {want:?}"
            );
            assert!(
                close(gf[i], want[i], 1e-12),
                "{src}: forward {gf:?} want {want:?}"
            );
            assert!(
                close(gd[i], want[i], 1e-12),
                "{src}: dual {gd:?} want {want:?}"
            );
        }
    }
}

#[test]
fn forward_pass_count_follows_the_chunk() {
    let src = (0..10)
        .map(|i| format!("x{i} * x{i}"))
        .collect::<Vec<_>>()
        .join(" + ");
    let f = parse(&src);
    let x: Vec<f64> = (0..10).map(f64::from).collect();
    let mut work = Workspace::default();
    let mut g = vec![0.0; 10];
    for (chunk, passes) in [(0, 10), (1, 10), (3, 4), (8, 2), (100, 2)] {
        g.fill(f64::NAN);
        let (v, p) = f.gradient_forward(&x, chunk, &mut work, &mut g);
        assert_eq!((v, p), (285.0, passes), "chunk {chunk}");
        assert_eq!(g, x.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
    }
    let constant = parse("2 + 3");
    assert_eq!(
        constant.gradient_forward(&[], 4, &mut work, &mut []),
        (5.0, 0)
    );
    assert_eq!(constant.gradient_reverse(&[], &mut work, &mut []), 5.0);
    assert_eq!(constant.value_with(&[], &mut work), 5.0);
}

// ----------------------------------------------------------------------- random agreement

fn expression_text() -> impl Strategy<Value = String> {
    let tree = expression_tree();
    prop_oneof![
        tree.clone(),
        (tree.clone(), tree).prop_map(|(a, b)| format!("t = {a}\n{b} + t * t - t")),
    ]
}

/// One expression without let lines.
fn expression_tree() -> impl Strategy<Value = String> + Clone {
    let leaf = prop_oneof![
        prop::sample::select(vec!["x", "y", "z"]).prop_map(String::from),
        (1_u32..5).prop_map(|n| n.to_string()),
        (0.1_f64..3.0).prop_map(|c| format!("{c:.3}")),
    ];
    leaf.prop_recursive(5, 32, 2, |inner| {
        let funcs = vec![
            "exp", "ln", "log", "sqrt", "abs", "sin", "cos", "tan", "tanh", "sigmoid", "softplus",
            "relu",
        ];
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (prop::sample::select(funcs), inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), -3_i32..4).prop_map(|(a, n)| format!("({a})^{n}")),
            (
                prop::sample::select(vec!["pow", "min", "max"]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
        ]
    })
}

proptest! {
    #![proptest_config(crate::proptest_seed::fixed_seed(ProptestConfig::default()))]

    #[test]
    fn forward_and_reverse_agree_on_random_expressions(
        src in expression_text(),
        x in prop::array::uniform3(-2.0_f64..2.0),
        chunk in 1_usize..=8,
    ) {
        let f = Expression::parse(&src).unwrap().with_vars(&names(&["x", "y", "z"])).unwrap();
        let (vr, gr, vf, gf) = both_gradients(&f, &x, chunk);
        let v = f.eval_f64(&x);
        prop_assert!(vr.to_bits() == v.to_bits() && vf.to_bits() == v.to_bits() || v.is_nan());
        let gd = dual_gradient(&f, &x);
        let m = path_magnitudes(&f, &x);
        // Where reverse mode and the generic duals both give a number, the compiled forward
        // sweep must give it too (not a NaN from a zero tangent times an infinite slope).
        for i in 0..3 {
            if gr[i].is_finite() && gd[i].is_finite() {
                prop_assert!(agree(gr[i], gf[i], m[i]), "{src} at {x:?}: {gr:?} vs {gf:?}, {m:?}");
                prop_assert!(agree(gd[i], gf[i], m[i]), "{src} at {x:?}: {gd:?} vs {gf:?}, {m:?}");
            }
        }
    }
}

/// Found by seeds 262 and 317 of `forward_and_reverse_agree_on_random_expressions`: `d/dz` of
/// `t = -z / (|z| / c)` is `-c/|z| + c/|z| = 0`, two terms of 92 (times `2t - 1 = -201` for the
/// output), so the generic duals keep exactly 0 and the compiled forward sweep an ulp of the
/// terms, 3e-12.
#[test]
fn cancelling_terms_are_compared_at_the_scale_of_the_terms() {
    let src = "t = (-z / (abs(z) / (((0.100)^-2 - x) + x)))\nx + t * t - t";
    let f = parse(src).with_vars(&names(&["x", "y", "z"])).unwrap();
    let x = [0.0, 0.0, 1.0898864333490104];
    let (_, _, _, gf) = both_gradients(&f, &x, 1);
    let gd = dual_gradient(&f, &x);
    let m = path_magnitudes(&f, &x);
    // Two paths from z to t of c / |z| each, then 2|t| + 1 from t to the output.
    let c = 0.1_f64.powi(-2);
    let want = 2.0 * c / x[2] * (2.0 * c + 1.0);
    assert!(close(m[2], want, 1e-12), "{m:?} vs {want}");
    assert!(!close(gd[2], gf[2], 1e-12), "{gd:?} vs {gf:?}");
    assert!(agree(gd[2], gf[2], m[2]));
}

// ----------------------------------------------------- the lowered program, bit for bit

/// Whether two results are the same number (any NaN matches any NaN: payloads are not kept).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The value and reverse-mode gradient read straight off the instruction list: a value sweep
/// with the generic `step`, then one adjoint update per instruction in reverse order, with the
/// local partials of the fast path (a constant's adjoint is computed and never read). The fast
/// path lowers, fuses and renumbers this list; it must give these numbers bit for bit.
fn reference_reverse(f: &Expression, x: &[f64]) -> (f64, Vec<f64>) {
    adjoint_sweep(f, x, |d| d)
}

/// Per input, the sum over every path to the output of the product of the local partials'
/// magnitudes: the largest partial sum of the derivative's terms that any order of adding
/// them can reach, so the scale of the rounding in which two engines' orders may differ.
fn path_magnitudes(f: &Expression, x: &[f64]) -> Vec<f64> {
    adjoint_sweep(f, x, f64::abs).1
}

/// Whether two engines' values of one derivative agree: to `1e-12` relative to the largest of
/// 1, themselves and the derivative's path magnitude `m` (a non-finite one allows nothing more).
fn agree(a: f64, b: f64, m: f64) -> bool {
    close(a, b, 1e-12) || (m.is_finite() && (a - b).abs() <= 1e-12 * m)
}

/// The reverse sweep of [`reference_reverse`], adding `term(adjoint * partial)` per edge.
fn adjoint_sweep(f: &Expression, x: &[f64], term: impl Fn(f64) -> f64) -> (f64, Vec<f64>) {
    let code = f.instructions();
    let mut vals: Vec<f64> = Vec::with_capacity(code.len());
    for &ins in code {
        let v = compile::step(ins, &vals, x);
        vals.push(v);
    }
    let mut adj = vec![0.0; code.len()];
    adj[code.len() - 1] = 1.0;
    for k in (0..code.len()).rev() {
        let (g, v) = (adj[k], vals[k]);
        let r = |i: Reg| vals[i as usize];
        let terms: [(Reg, f64); 2] = match code[k] {
            Instr::Const(_) | Instr::Var(_) => continue,
            Instr::Add(a, b) => [(a, g), (b, g)],
            Instr::Sub(a, b) => [(a, g), (b, -g)],
            Instr::Mul(a, b) => [(a, g * r(b)), (b, g * r(a))],
            Instr::Div(a, b) => [(a, g * (1.0 / r(b))), (b, g * -(v / r(b)))],
            Instr::Neg(a) => [(a, -g), (a, 0.0)],
            Instr::Powi(a, n) => [(a, g * crate::ad::powi_derivative(r(a), n)), (a, 0.0)],
            Instr::Pow(a, b) => {
                let (da, db) = crate::ad::powf_partials(r(a), r(b));
                [(a, g * da), (b, g * db)]
            }
            Instr::Min(a, b) => {
                let (da, db) = crate::ad::min_partials(r(a), r(b));
                [(a, g * da), (b, g * db)]
            }
            Instr::Max(a, b) => {
                let (da, db) = crate::ad::max_partials(r(a), r(b));
                [(a, g * da), (b, g * db)]
            }
            Instr::Call1(h, a) => [(a, g * h.derivative(r(a), v)), (a, 0.0)],
        };
        // `x - g` and `x + (-g)` are the same number, and adding a zero term to an adjoint
        // (a sum started at +0, so never -0) leaves it unchanged.
        for (i, d) in terms {
            adj[i as usize] += term(d);
        }
    }
    let mut grad = vec![0.0; f.dim()];
    for (k, ins) in code.iter().enumerate() {
        if let Instr::Var(i) = *ins {
            grad[i] = adj[k];
        }
    }
    (vals[code.len() - 1], grad)
}

/// The forward-mode gradient off the instruction list, one direction at a time, with the
/// tangent formulas of the fast path: a constant operand has no tangent term at all (`x + 2`
/// carries `x`'s tangent itself, not `tx + 0`, which differs at `-0`).
fn reference_forward(f: &Expression, x: &[f64]) -> Vec<f64> {
    let code = f.instructions();
    let vals: Vec<f64> = code.iter().fold(Vec::new(), |mut vals, &ins| {
        let v = compile::step(ins, &vals, x);
        vals.push(v);
        vals
    });
    let konst = |r: Reg| match code[r as usize] {
        Instr::Const(c) => Some(c),
        _ => None,
    };
    (0..f.dim())
        .map(|dir| {
            let mut t: Vec<f64> = Vec::with_capacity(code.len());
            for (k, &ins) in code.iter().enumerate() {
                let (r, tv) = (|i: Reg| vals[i as usize], |i: Reg| t[i as usize]);
                let v = vals[k];
                let lin = |a: Reg, da: f64, b: Reg, db: f64| da * tv(a) + db * tv(b);
                // The generic duals' NaN-safe products for functions of the operands.
                let safe = |d: f64, t: f64| {
                    let p = d * t;
                    if p.is_nan() && (d == 0.0 || t == 0.0) {
                        0.0
                    } else {
                        p
                    }
                };
                let combine = |a: Reg, da: f64, b: Reg, db: f64| safe(da, tv(a)) + safe(db, tv(b));
                let ti = match ins {
                    Instr::Const(_) => 0.0,
                    Instr::Var(i) => f64::from(u8::from(i == dir)),
                    Instr::Add(a, b) => match (konst(a), konst(b)) {
                        (_, Some(_)) => tv(a),
                        (Some(_), _) => tv(b),
                        _ => tv(a) + tv(b),
                    },
                    Instr::Sub(a, b) => match (konst(a), konst(b)) {
                        (_, Some(_)) => tv(a),
                        (Some(_), _) => -tv(b),
                        _ => tv(a) - tv(b),
                    },
                    Instr::Mul(a, b) => match (konst(a), konst(b)) {
                        (_, Some(c)) => c * tv(a),
                        (Some(c), _) => c * tv(b),
                        _ => lin(a, r(b), b, r(a)),
                    },
                    Instr::Div(a, b) => match (konst(a), konst(b)) {
                        (_, Some(c)) => (1.0 / c) * tv(a),
                        (Some(_), _) => -(v / r(b)) * tv(b),
                        _ => lin(a, 1.0 / r(b), b, -(v / r(b))),
                    },
                    Instr::Neg(a) => -tv(a),
                    Instr::Powi(a, n) => safe(crate::ad::powi_derivative(r(a), n), tv(a)),
                    Instr::Pow(a, b) => {
                        let (da, db) = crate::ad::powf_partials(r(a), r(b));
                        combine(a, da, b, db)
                    }
                    Instr::Min(a, b) => {
                        let (da, db) = crate::ad::min_partials(r(a), r(b));
                        combine(a, da, b, db)
                    }
                    Instr::Max(a, b) => {
                        let (da, db) = crate::ad::max_partials(r(a), r(b));
                        combine(a, da, b, db)
                    }
                    Instr::Call1(h, a) => safe(h.derivative(r(a), v), tv(a)),
                };
                t.push(ti);
            }
            t[code.len() - 1]
        })
        .collect()
}

/// Checks every fast path (value, reverse, forward with every chunk) against the references,
/// bit for bit, reusing `work` as callers do.
fn check_fast_paths(f: &Expression, x: &[f64], work: &mut Workspace) -> Result<(), String> {
    let src = f.source();
    let (want_v, want_rev) = reference_reverse(f, x);
    let want_fwd = reference_forward(f, x);
    let value = f.value_with(x, work);
    if !same(value, want_v) || !same(f.eval_f64(x), want_v) {
        return Err(format!("{src} at {x:?}: value {value} vs {want_v}"));
    }
    let mut g = vec![f64::NAN; x.len()];
    let v = f.gradient_reverse(x, work, &mut g);
    if !same(v, want_v) || !g.iter().zip(&want_rev).all(|(&a, &b)| same(a, b)) {
        return Err(format!(
            "{src} at {x:?}: reverse {v} {g:?} vs {want_v} {want_rev:?}"
        ));
    }
    for chunk in 1..=8 {
        g.fill(f64::NAN);
        let (v, _) = f.gradient_forward(x, chunk, work, &mut g);
        if !same(v, want_v) || !g.iter().zip(&want_fwd).all(|(&a, &b)| same(a, b)) {
            return Err(format!(
                "{src} at {x:?}: forward chunk {chunk} {v} {g:?} vs {want_v} {want_fwd:?}"
            ));
        }
    }
    Ok(())
}

/// Points that include the edge cases of the specialised operations: signed zeros (`x^2` at
/// `-0`), negative bases, infinities and NaN.
fn edge_point() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -3.0_f64..3.0,
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            -2.5,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]),
    ]
}

/// Random expressions wrapped in the shapes the lowering specialises or fuses.
fn fusion_text() -> impl Strategy<Value = String> {
    let shapes = vec![
        "({a} - {b})^2",
        "({a} + {b})^2",
        "({a} - 1.5)^2",
        "({a} + 2)^2",
        "(0.5 - {a})^2",
        "{a} + {b} * 3",
        "{b} * 3 + {a}",
        "{a} - {b} * 0.25",
        "{a} - 4 * {b}",
        "3 * {b} - {a}",
        "{a} * {a} - {b}",
        "({a})^2 + 100 * ({b} - ({a})^2)^2",
        "t = {a} - {b}\nt^2 + t",
        "u = {a} * 2\n{b} + u + u",
        "({a} * 2) + ({b} - 1)^2",
        "pow({a}, 2) + pow({b}, 2.5) + {a}^-2",
    ];
    (
        prop::sample::select(shapes),
        expression_tree(),
        expression_tree(),
    )
        .prop_map(|(shape, a, b)| shape.replace("{a}", &a).replace("{b}", &b))
}

proptest! {
    #![proptest_config(crate::proptest_seed::fixed_seed(ProptestConfig::default()))]

    #[test]
    fn fast_paths_match_the_instruction_list_bit_for_bit(
        src in prop_oneof![expression_text(), fusion_text()],
        x in prop::array::uniform3(edge_point()),
    ) {
        let f = Expression::parse(&src).unwrap().with_vars(&names(&["x", "y", "z"])).unwrap();
        let mut work = Workspace::default();
        prop_assert!(check_fast_paths(&f, &x, &mut work).is_ok(), "{:?}", check_fast_paths(&f, &x, &mut work));
    }
}

#[test]
fn lowering_specialises_constant_operands_and_fuses_adjacent_pairs() {
    let ops = |src: &str| parse(src).program.describe().1;
    let kinds = |src: &str| -> Vec<String> {
        ops(src)
            .iter()
            .map(|op| op.split('(').next().unwrap_or_default().to_string())
            .collect()
    };
    // Rosenbrock: (1 - x)^2, x^2, (y - x^2)^2, then `a + b * 100`.
    assert_eq!(
        kinds("(1-x)^2 + 100*(y-x^2)^2"),
        ["SqCSub", "Square", "SqSub", "AddMulC"]
    );
    assert_eq!(kinds("(x + y)^2"), ["SqAdd"]);
    assert_eq!(ops("(x + 2)^2"), ["SqAddC(0, 2.0)"]);
    // `x - 2` is `x + (-2)`, the same number.
    assert_eq!(ops("(x - 2)^2"), ["SqAddC(0, -2.0)"]);
    assert_eq!(ops("x - 2"), ["AddC(0, -2.0)"]);
    assert_eq!(ops("3 - x"), ["CSub(3.0, 0)"]);
    assert_eq!(ops("x / 4"), ["DivC(0, 4.0)"]);
    assert_eq!(ops("4 / x"), ["CDiv(4.0, 0)"]);
    assert_eq!(ops("x * 5 + y"), ["AddMulC(1, 0, 5.0)"]);
    // Inputs number in order of first appearance: here y is register 0.
    assert_eq!(ops("y + 5 * x"), ["AddMulC(0, 1, 5.0)"]);
    assert_eq!(ops("y - x * 5"), ["AddMulC(0, 1, -5.0)"]);
    assert_eq!(kinds("x^3 + pow(x, 2)"), ["Powi", "Square", "Add"]);
    // No fusion when the first result has another use, or something runs in between.
    assert_eq!(kinds("t = x - y\nt^2 + t"), ["Sub", "Square", "Add"]);
    assert_eq!(kinds("5 * x - y"), ["MulC", "Sub"]);
    assert_eq!(kinds("x * 2 + sin(y)"), ["MulC", "Call1", "Add"]);
    // Constants are immediates; one stays a register only where an operation reads it so.
    assert_eq!(ops("pow(x, 2.5)"), ["Pow(0, 1)"]);
    assert_eq!(ops("max(x, 1)"), ["Max(0, 1)"]);
}

#[test]
fn specialised_operations_at_their_edge_cases() {
    let mut work = Workspace::default();
    let grad = |f: &Expression, x: &[f64], work: &mut Workspace| {
        let mut gr = vec![f64::NAN; x.len()];
        let mut gf = vec![f64::NAN; x.len()];
        let vr = f.gradient_reverse(x, work, &mut gr);
        let (vf, _) = f.gradient_forward(x, 2, work, &mut gf);
        assert!(same(vr, vf), "{}: {vr} vs {vf}", f.source());
        (vr, gr, gf)
    };
    let square = parse("x^2");
    assert_eq!(
        grad(&square, &[0.0], &mut work),
        (0.0, vec![0.0], vec![0.0])
    );
    assert_eq!(
        grad(&square, &[-3.0], &mut work),
        (9.0, vec![-6.0], vec![-6.0])
    );
    // x^2 is `powi`: exact for a negative base, where `powf` with a fractional exponent is NaN.
    let both = parse("pow(x, 2) + pow(y, 2.5)")
        .with_vars(&names(&["x", "y"]))
        .unwrap();
    let (v, gr, gf) = grad(&both, &[-2.0, -2.0], &mut work);
    assert!(v.is_nan() && gr[0] == -4.0 && gr[1].is_nan(), "{gr:?}");
    // Forward mode agrees: the NaN slope of `powf` meets y's zero tangent in the x direction,
    // and the generic duals' NaN-safe product keeps it out of d/dx.
    assert!(gf[0] == -4.0 && gf[1].is_nan(), "{gf:?}");
    let (v, gr, _) = grad(&both, &[-2.0, 4.0], &mut work);
    assert_eq!((v, gr[0]), (36.0, -4.0));
    // powi's derivative at n = 0 is 0, also at 0 and infinity (PyTorch's `pow(x, 0.)`).
    let zero = parse("x^0 + x");
    for x in [0.0, f64::INFINITY] {
        let (_, gr, gf) = grad(&zero, &[x], &mut work);
        assert_eq!((gr[0], gf[0]), (1.0, 1.0), "at {x}");
    }
    // NaN propagates through the fused operations as through the instructions they replace:
    // into the value always, and into a slope where the slope reads it.
    for src in [
        "(x - y)^2",
        "(x + y)^2",
        "(x - 2)^2 + y",
        "(2 - x)^2 + y",
        "x + y * 3",
        "x - y * 3",
    ] {
        let f = parse(src);
        for x in [[f64::NAN, 1.0], [1.0, f64::NAN]] {
            assert!(grad(&f, &x, &mut work).0.is_nan(), "{src}");
            check_fast_paths(&f, &x, &mut work).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let (_, gr, gf) = grad(&parse("(x - y)^2"), &[f64::NAN, 1.0], &mut work);
    assert!(gr.iter().chain(&gf).all(|g| g.is_nan()));
    let (_, gr, _) = grad(&parse("x + y * 3"), &[f64::NAN, 1.0], &mut work);
    assert_eq!(gr, [1.0, 3.0]);
    // (c - x)^2 and (x - c)^2 are the same function; a zero residual has a zero slope.
    let f = parse("(3 - x)^2 + (x - 3)^2");
    assert_eq!(grad(&f, &[1.0], &mut work), (8.0, vec![-8.0], vec![-8.0]));
    assert_eq!(grad(&f, &[3.0], &mut work), (0.0, vec![0.0], vec![0.0]));
    let f = parse("(3 - x)^2");
    assert_eq!(grad(&f, &[1.0], &mut work), (4.0, vec![-4.0], vec![-4.0]));
    // `x - y * c` differentiates to -c in y.
    let f = parse("x - y * 0.5");
    assert_eq!(
        grad(&f, &[1.0, 2.0], &mut work),
        (0.0, vec![1.0, -0.5], vec![1.0, -0.5])
    );
}

#[test]
fn small_and_large_register_files_agree_across_the_boundary() {
    // A chain of one-operation let lines: 2 inputs + m registers, either side of 256.
    let mut work = Workspace::default();
    for m in 250..262 {
        let mut src = String::from("s0 = x\n");
        for k in 1..m {
            let step = match k % 3 {
                0 => format!("s{k} = sin(s{})", k - 1),
                1 => format!("s{k} = s{} * y", k - 1),
                _ => format!("s{k} = (s{} - 0.5)^2", k - 1),
            };
            src.push_str(&step);
            src.push('\n');
        }
        src.push_str(&format!("s{}", m - 1));
        let f = parse(&src);
        let (small, steps) = f.program.describe();
        let registers = steps.len() + 2;
        assert_eq!(small, registers <= 256, "{registers} registers");
        for x in [[0.3, 0.9], [-1.1, 1.01], [0.0, -0.0]] {
            check_fast_paths(&f, &x, &mut work).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn one_workspace_serves_programs_of_every_size_and_input_order() {
    let programs = [
        parse("(1-x)^2 + 100*(y-x^2)^2"),
        parse("sin(z) * (x - y)^2")
            .with_vars(&names(&["z", "w", "y", "x"]))
            .unwrap(),
        parse(
            &(0..200)
                .map(|k| format!("(x - {k})^2 * y"))
                .collect::<Vec<_>>()
                .join(" + "),
        ),
        parse("2 + 3"),
        parse("y"),
        parse("max(x, 1) + x / 4 - 4 / x + 3 - x")
            .with_vars(&names(&["q", "x"]))
            .unwrap(),
    ];
    let mut shared = Workspace::default();
    for round in 0..2 {
        for f in &programs {
            let x: Vec<f64> = (0..f.dim())
                .map(|i| 0.7 - 0.4 * i as f64 + f64::from(round))
                .collect();
            check_fast_paths(f, &x, &mut shared).unwrap_or_else(|e| panic!("{e}"));
            check_fast_paths(f, &x, &mut Workspace::default()).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    assert!(
        !programs[2].program.describe().0,
        "the long sum runs on the u32 path"
    );
}

// ---------------------------------------------------------------------------------- errors

/// Parses `src` and returns the error's kind, (line, column), message, expected and hint.
fn fail(src: &str) -> (ErrorKind, (usize, usize), ExprError) {
    match Expression::parse(src) {
        Ok(f) => panic!("{src:?} parsed: {:?}", f.listing()),
        Err(e) => (e.kind, e.line_col(src), e),
    }
}

#[test]
fn malformed_expressions_report_kind_and_column() {
    use ErrorKind::*;
    // (source, kind, line, column, a piece of the message)
    let cases = [
        (
            "x + * y",
            MissingOperand,
            1,
            5,
            "expected an operand, found `*`",
        ),
        (
            "* 2",
            MissingOperand,
            1,
            1,
            "`*` is missing its left operand",
        ),
        (
            "2 *",
            MissingOperand,
            1,
            3,
            "`*` is missing its right operand",
        ),
        (
            "2 *\n",
            MissingOperand,
            1,
            3,
            "`*` is missing its right operand",
        ),
        (
            "x ** 2",
            MissingOperand,
            1,
            4,
            "expected an operand, found `*`",
        ),
        ("x y", AdjacentOperands, 1, 3, "two operands in a row"),
        ("2 (x)", AdjacentOperands, 1, 3, "two operands in a row"),
        ("1e + x", BadNumber, 1, 1, "bad number `1e`"),
        ("x * 1.2.3", BadNumber, 1, 5, "more than one decimal point"),
        ("sinn(x)", UnknownFunction, 1, 1, "unknown function `sinn`"),
        (
            "1 + pow(x)",
            WrongArity,
            1,
            5,
            "`pow` takes 2 arguments, found 1",
        ),
        (
            "max(1, 2, 3)",
            WrongArity,
            1,
            1,
            "`max` takes 2 arguments, found 3",
        ),
        ("sin()", WrongArity, 1, 1, "`sin` takes 1 argument, found 0"),
        ("(x + 1", UnclosedParen, 1, 1, "unclosed `(`"),
        ("sin(x", UnclosedParen, 1, 4, "unclosed `(`"),
        ("x + 1)", UnmatchedParen, 1, 6, "unmatched `)`"),
        (")", UnmatchedParen, 1, 1, "unmatched `)`"),
        ("()", MissingOperand, 1, 2, "expected an operand, found `)`"),
        ("x $ y", UnexpectedChar, 1, 3, "unexpected character `$`"),
        ("sin(", UnexpectedEnd, 1, 5, "unexpected end of input"),
        ("", Empty, 1, 1, "empty expression"),
        ("  # only a comment\n", Empty, 1, 1, "empty expression"),
        (
            "a = x^2",
            MissingFinalExpression,
            1,
            1,
            "`a` is not followed by a final expression",
        ),
        (
            "a = b + 1\nb = 2\na",
            UseBeforeDefinition,
            1,
            5,
            "`b` is used before its definition on line 2",
        ),
        (
            "a = a + 1\na",
            UseBeforeDefinition,
            1,
            5,
            "`a` is used in its own definition",
        ),
        (
            "a = 1\na = 2\na",
            Redefinition,
            2,
            1,
            "`a` is already defined on line 1",
        ),
        (
            "pi = 3; pi",
            ReservedName,
            1,
            1,
            "cannot assign to `pi`: it is a constant",
        ),
        (
            "x = 1\nsin = 2; sin",
            ReservedName,
            2,
            1,
            "cannot assign to `sin`: it is a function",
        ),
        (
            "x + 1, 2",
            TrailingInput,
            1,
            6,
            "unexpected `,` after the expression",
        ),
        (
            "x + y = 3",
            TrailingInput,
            1,
            7,
            "unexpected `=` after the expression",
        ),
        (
            "x\ny",
            TrailingInput,
            2,
            1,
            "unexpected input after the final expression",
        ),
        ("sin + 1", MissingCall, 1, 1, "`sin` is a function"),
        ("2 * pi(3)", NotAFunction, 1, 5, "`pi` is not a function"),
        ("(x, y)", UnexpectedToken, 1, 3, "unexpected `,`"),
        (
            "pow(x; y)",
            UnexpectedToken,
            1,
            6,
            "unexpected `;` in the arguments of `pow`",
        ),
    ];
    for (src, kind, line, column, message) in cases {
        let (k, at, err) = fail(src);
        assert_eq!(
            (k, at),
            (kind, (line, column)),
            "{src:?}: {}",
            err.render(src)
        );
        assert!(err.message.contains(message), "{src:?}: {:?}", err.message);
    }
}

#[test]
fn suggestions_name_the_nearest_function() {
    let (_, _, err) = fail("sinn(x)");
    assert_eq!(err.suggestion.as_deref(), Some("did you mean `sin`?"));
    let (_, _, err) = fail("2 * sigmod(x)");
    assert_eq!(err.suggestion.as_deref(), Some("did you mean `sigmoid`?"));
    let (_, _, err) = fail("x(y + 1)");
    assert_eq!(
        err.suggestion.as_deref(),
        Some("to multiply, write `x * (...)`")
    );
    let (_, _, err) = fail("x ** 2");
    assert_eq!(
        err.suggestion.as_deref(),
        Some("write a power as `x^2`, not `x**2`")
    );
}

#[test]
fn render_places_the_caret_under_the_span() {
    let src = "r = y - x^2\n(1 - x)^2 + 100 * sinn(r)";
    let err = Expression::parse(src).unwrap_err();
    assert_eq!(
        err.render(src),
        "error: unknown function `sinn`\n\
         \x20--> expression:2:19\n\
         \x20 |\n\
         2 | (1 - x)^2 + 100 * sinn(r)\n\
         \x20 |                   ^^^^ did you mean `sin`?"
    );
    let src = "pow(x)";
    assert_eq!(
        Expression::parse(src).unwrap_err().render(src),
        "error: `pow` takes 2 arguments, found 1\n --> expression:1:1\n  |\n1 | pow(x)\n  | ^^^^^^ expected `pow(a, b)`"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let ok = format!("{}x{}", "(".repeat(200), ")".repeat(200));
    assert_eq!(parse(&ok).eval_f64(&[2.0]), 2.0);
    let calls = format!("{}x{}", "sin(".repeat(120), ")".repeat(120));
    assert!(parse(&calls).eval_f64(&[0.5]).is_finite());
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(fail(&deep).0, ErrorKind::TooDeep);
    let powers = format!("2{}", "^2".repeat(10_000));
    assert_eq!(fail(&powers).0, ErrorKind::TooDeep);
    // Long flat chains and runs of signs are loops, not recursion.
    let long = vec!["x"; 50_000].join(" + ");
    assert_eq!(parse(&long).eval_f64(&[1.0]), 50_000.0);
    let signs = format!("{}x", "-".repeat(50_001));
    assert_eq!(parse(&signs).eval_f64(&[1.0]), -1.0);
}

/// The expression's instructions and the tape's nodes for the same expression write themselves
/// out through the one shared table: recorded on a plain tape, every operation instruction
/// gives one node, in order, of the same [`Form`](crate::ad::Form) (the tape's constant
/// operands read `c`), and the function nodes carry the expression's own `Func`.
#[test]
fn instructions_and_tape_nodes_share_one_op_table() {
    use crate::ad::Form;
    use crate::ad::tape::{Op, Tape};
    let f = parse("r = y - x^2\n(1 - x)^2 + 100 * r^2 + sin(x) / y + max(x, 2) - tanh(y)^x");
    let tape = Tape::new();
    let x = tape.vars(&[0.5, 1.5]);
    let _ = f.eval(&x);
    let nodes = tape.nodes();
    let ops: Vec<Op> = nodes.iter().skip(2).map(|n| n.op).collect();
    let code = f.instructions();
    let forms: Vec<Option<Form>> = code.iter().filter_map(|i| i.form().map(Some)).collect();
    assert_eq!(ops.len(), forms.len());
    assert_eq!(ops.iter().map(Op::form).collect::<Vec<_>>(), forms);
    assert!(ops.contains(&Op::Call(Func::Sin)) && ops.contains(&Op::Call(Func::Tanh)));
    // Written out: the expression names its constants, the tape says `c` where it keeps none.
    let k = code.iter().position(|i| matches!(i, Instr::Max(..)));
    let described = k.and_then(|k| f.describe(k));
    assert_eq!(described.as_deref(), Some("max(x, 2)"));
    let max = nodes
        .iter()
        .find(|n| n.op == Op::Max)
        .map(|n| n.op.describe(&["x"]));
    assert_eq!(max.as_deref(), Some("max(x, ?)"));
    let sub = nodes
        .iter()
        .find(|n| n.op == Op::ConstSub)
        .map(|n| n.op.describe(&["x"]));
    assert_eq!(sub.as_deref(), Some("c - x"));
}

#[test]
fn every_register_knows_the_source_text_it_computes() {
    let src = "a = -x^2 +\n  sin(y)\nmax(a, 2) / (a - pi)";
    let f = Expression::parse(src).unwrap();
    let pairs: Vec<(String, &str)> = (0..f.instructions().len())
        .map(|k| {
            let span = f.span(k).unwrap();
            (f.describe(k).unwrap(), &src[span])
        })
        .collect();
    let want = [
        ("x", "x"),
        ("y", "y"),
        ("2", "2"),
        (&*std::f64::consts::PI.to_string(), "pi"),
        ("x^2", "x^2"),
        ("-%4", "-x^2"),
        ("sin(y)", "sin(y)"),
        ("%5 + %6", "-x^2 +\n  sin(y)"),
        ("max(a, 2)", "max(a, 2)"),
        ("a - 3.141592653589793", "a - pi"),
        ("%8 / %9", "max(a, 2) / (a - pi)"),
    ];
    let got: Vec<(&str, &str)> = pairs.iter().map(|(d, s)| (d.as_str(), *s)).collect();
    assert_eq!(got, want);
    assert_eq!(f.span(11), None);
    let names: Vec<(&str, Option<usize>)> = f.bindings().collect();
    assert_eq!(names, [("a", Some(7))]);
}
