//! The element functions of a [`Scalar::sum_windows`] sum, differentiated by forward mode
//! over each window: [`window_partials`] gives every term's `W` partials and the terms' sum.
//!
//! A window's partials are what [`DualVec<W>`] gives for the term with input `j` seeded in lane
//! `j`. Evaluating one window at a time spends most of its instructions on scalar bookkeeping
//! (a term is a dozen operations on three numbers each), so the terms are evaluated
//! [`LANES`] windows at a time instead: [`WindowDuals<W>`] holds `LANES` such duals in
//! structure-of-arrays form, and every operation is the `DualVec` operation applied lane by lane,
//! in the same order, so each lane's bits are exactly those of the one-window `DualVec`. The
//! loops over lanes are straight-line code the compiler turns into vector instructions: two
//! SSE2 instructions per operation on any x86-64, one AVX2 instruction where the CPU has it
//! (`window_partials` is compiled for both and picks at run time).
//!
//! The one thing lanes cannot do is answer [`Scalar::value`] honestly: a term that reads a
//! value (to branch on it, say) would see lane 0's for every lane. So `value` on
//! `WindowDuals` counts its calls, and if a term made any, its windows are evaluated again one
//! at a time with `DualVec` (the result is then exactly the one-window result too). Terms
//! written with `Scalar` operations only (`min`, `max`, `abs`, `relu` included: those choose
//! lane by lane) never read a value.

use std::cell::Cell;
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::dual::DualVec;
use super::{
    Scalar, WindowTerm, abs_derivative, max_partials, min_partials, powf_partials, powi_derivative,
    relu_derivative, softplus_derivative,
};

/// Windows evaluated at once.
pub const LANES: usize = 4;

type Lane = [f64; LANES];

thread_local! {
    /// Calls of [`WindowDuals::value`] so far on this thread (wrapping): a change across an
    /// evaluation means the term read a value.
    static VALUE_READS: Cell<u64> = const { Cell::new(0) };
}

fn value_reads() -> u64 {
    VALUE_READS.with(Cell::get)
}

/// [`LANES`] forward-mode duals with `W` tangents each, one per window: lane `l` of every field
/// belongs to window `l`. Arithmetic is [`DualVec<W>`]'s, lane by lane.
///
/// With `SAFE`, a tangent meets a local derivative in `DualVec`'s NaN-safe product (see
/// [`dual`](super::dual)); without, in a plain product. The two differ only where the plain
/// product is `NaN`, and a `NaN` tangent stays `NaN` through every later tangent operation
/// (sums, products and quotients; tangents never meet `min` or `max`), so a result without
/// any `NaN` tangent is bit for bit the `SAFE` one. [`window_partials`] evaluates plainly and
/// redoes only the blocks that came out with a `NaN`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowDuals<const W: usize, const SAFE: bool> {
    /// The primal values, one per window.
    pub re: Lane,
    /// `eps[k][l]`: window `l`'s tangent `k`.
    pub eps: [Lane; W],
}

// The lane loops are plain `for` loops: `array::from_fn` and `array::map` left their closures
// out of line, one call per operation.

#[inline(always)]
fn map(a: &Lane, f: impl Fn(f64) -> f64) -> Lane {
    let mut out = [0.0; LANES];
    for l in 0..LANES {
        out[l] = f(a[l]);
    }
    out
}

#[inline(always)]
fn zip(a: &Lane, b: &Lane, f: impl Fn(f64, f64) -> f64) -> Lane {
    let mut out = [0.0; LANES];
    for l in 0..LANES {
        out[l] = f(a[l], b[l]);
    }
    out
}

/// With `SAFE`, `dual::scale_f64` (the NaN-safe product) with the same results, written without
/// a branch so that a loop over lanes becomes compare-and-mask vector instructions; otherwise
/// the plain product.
#[inline(always)]
fn scale<const SAFE: bool>(t: f64, d: f64) -> f64 {
    let p = t * d;
    if SAFE & p.is_nan() & ((t == 0.0) | (d == 0.0)) {
        0.0
    } else {
        p
    }
}

/// Every tangent `e` of `a` and the matching one `r` of `b` (if any) replaced by `f(e, r)`.
#[inline(always)]
fn zip_eps<const W: usize>(
    mut a: [Lane; W],
    b: &[Lane; W],
    f: impl Fn(usize, f64, f64) -> f64,
) -> [Lane; W] {
    for k in 0..W {
        for l in 0..LANES {
            a[k][l] = f(l, a[k][l], b[k][l]);
        }
    }
    a
}

impl<const W: usize, const SAFE: bool> WindowDuals<W, SAFE> {
    /// `DualVec::chain` lane by lane: value `f`, local derivative `df`.
    #[inline(always)]
    fn chain(self, f: Lane, df: Lane) -> Self {
        WindowDuals {
            re: f,
            eps: zip_eps(self.eps, &self.eps, |l, e, _| scale::<SAFE>(e, df[l])),
        }
    }

    /// `DualVec::combine` lane by lane.
    #[inline(always)]
    fn combine(a: &Self, b: &Self, re: Lane, partials: impl Fn(f64, f64) -> (f64, f64)) -> Self {
        let (mut da, mut db) = ([0.0; LANES], [0.0; LANES]);
        for l in 0..LANES {
            (da[l], db[l]) = partials(a.re[l], b.re[l]);
        }
        WindowDuals {
            re,
            eps: zip_eps(a.eps, &b.eps, |l, x, y| {
                scale::<SAFE>(x, da[l]) + scale::<SAFE>(y, db[l])
            }),
        }
    }

    /// Every tangent of every lane with `f` applied.
    #[inline(always)]
    fn map_eps(mut self, f: impl Fn(f64) -> f64) -> Self {
        self.eps = zip_eps(self.eps, &self.eps, |_, e, _| f(e));
        self
    }
}

impl<const W: usize, const SAFE: bool> Add for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        WindowDuals {
            re: zip(&self.re, &rhs.re, |a, b| a + b),
            eps: zip_eps(self.eps, &rhs.eps, |_, a, b| a + b),
        }
    }
}

impl<const W: usize, const SAFE: bool> Sub for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        WindowDuals {
            re: zip(&self.re, &rhs.re, |a, b| a - b),
            eps: zip_eps(self.eps, &rhs.eps, |_, a, b| a - b),
        }
    }
}

impl<const W: usize, const SAFE: bool> Mul for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        WindowDuals {
            re: zip(&self.re, &rhs.re, |a, b| a * b),
            eps: zip_eps(self.eps, &rhs.eps, |l, e, r| e * rhs.re[l] + self.re[l] * r),
        }
    }
}

impl<const W: usize, const SAFE: bool> Div for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn div(self, rhs: Self) -> Self {
        let re = zip(&self.re, &rhs.re, |a, b| a / b);
        WindowDuals {
            re,
            eps: zip_eps(self.eps, &rhs.eps, |l, e, r| (e - re[l] * r) / rhs.re[l]),
        }
    }
}

impl<const W: usize, const SAFE: bool> Neg for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        WindowDuals {
            re: map(&self.re, |a| -a),
            ..self.map_eps(|e| -e)
        }
    }
}

impl<const W: usize, const SAFE: bool> Add<f64> for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn add(mut self, c: f64) -> Self {
        self.re = map(&self.re, |a| a + c);
        self
    }
}

impl<const W: usize, const SAFE: bool> Sub<f64> for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn sub(mut self, c: f64) -> Self {
        self.re = map(&self.re, |a| a - c);
        self
    }
}

impl<const W: usize, const SAFE: bool> Mul<f64> for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, c: f64) -> Self {
        WindowDuals {
            re: map(&self.re, |a| a * c),
            ..self.map_eps(|e| e * c)
        }
    }
}

impl<const W: usize, const SAFE: bool> Div<f64> for WindowDuals<W, SAFE> {
    type Output = Self;
    #[inline(always)]
    fn div(self, c: f64) -> Self {
        WindowDuals {
            re: map(&self.re, |a| a / c),
            ..self.map_eps(|e| e / c)
        }
    }
}

// The n-ary methods keep `Scalar`'s defaults: folds of the operations above, which perform the
// same operations in the same order as `DualVec`'s own `sum`, `dot` and `dot_const`.
impl<const W: usize, const SAFE: bool> Scalar for WindowDuals<W, SAFE> {
    #[inline(always)]
    fn constant(c: f64) -> Self {
        WindowDuals {
            re: [c; LANES],
            eps: [[0.0; LANES]; W],
        }
    }

    /// Lane 0's value, and a note that the term read one (see the module docs): its windows
    /// are then evaluated again one at a time.
    fn value(&self) -> f64 {
        VALUE_READS.with(|n| n.set(n.get().wrapping_add(1)));
        self.re[0]
    }

    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        let (f, df) = (
            map(&self.re, |x| x.powi(n)),
            map(&self.re, |x| powi_derivative(x, n)),
        );
        self.chain(f, df)
    }

    #[inline(always)]
    fn powf(self, p: Self) -> Self {
        let re = zip(&self.re, &p.re, f64::powf);
        Self::combine(&self, &p, re, powf_partials)
    }

    #[inline(always)]
    fn exp(self) -> Self {
        let e = map(&self.re, f64::exp);
        self.chain(e, e)
    }

    #[inline(always)]
    fn ln(self) -> Self {
        let (f, df) = (map(&self.re, f64::ln), map(&self.re, |x| 1.0 / x));
        self.chain(f, df)
    }

    #[inline(always)]
    fn sqrt(self) -> Self {
        let s = map(&self.re, f64::sqrt);
        self.chain(s, map(&s, |s| 0.5 / s))
    }

    #[inline(always)]
    fn abs(self) -> Self {
        let (f, df) = (map(&self.re, f64::abs), map(&self.re, abs_derivative));
        self.chain(f, df)
    }

    #[inline(always)]
    fn sin(self) -> Self {
        let sc = map2(&self.re, f64::sin_cos);
        self.chain(sc.0, sc.1)
    }

    #[inline(always)]
    fn cos(self) -> Self {
        let sc = map2(&self.re, f64::sin_cos);
        self.chain(sc.1, map(&sc.0, |s| -s))
    }

    #[inline(always)]
    fn tan(self) -> Self {
        let t = map(&self.re, f64::tan);
        self.chain(t, map(&t, |t| t * t + 1.0))
    }

    #[inline(always)]
    fn tanh(self) -> Self {
        let t = map(&self.re, Scalar::tanh);
        self.chain(t, map(&t, |t| -(t * t) + 1.0))
    }

    #[inline(always)]
    fn sigmoid(self) -> Self {
        let s = map(&self.re, Scalar::sigmoid);
        self.chain(s, map(&s, |s| s * (-s + 1.0)))
    }

    #[inline(always)]
    fn softplus(self) -> Self {
        let f = map(&self.re, Scalar::softplus);
        self.chain(f, map(&self.re, softplus_derivative))
    }

    #[inline(always)]
    fn relu(self) -> Self {
        let (f, df) = (map(&self.re, Scalar::relu), map(&self.re, relu_derivative));
        self.chain(f, df)
    }

    #[inline(always)]
    fn min(self, other: Self) -> Self {
        let re = zip(&self.re, &other.re, Scalar::min);
        Self::combine(&self, &other, re, min_partials)
    }

    #[inline(always)]
    fn max(self, other: Self) -> Self {
        let re = zip(&self.re, &other.re, Scalar::max);
        Self::combine(&self, &other, re, max_partials)
    }
}

/// A function returning two numbers, lane by lane.
#[inline(always)]
fn map2(a: &Lane, f: impl Fn(f64) -> (f64, f64)) -> (Lane, Lane) {
    let (mut x, mut y) = ([0.0; LANES], [0.0; LANES]);
    for l in 0..LANES {
        (x[l], y[l]) = f(a[l]);
    }
    (x, y)
}

/// The terms of a [`Scalar::sum_windows`] over `values`, by forward mode over each window:
/// writes `d term_i / d x[i + j]` to `out[j * count + i]` (tangent by tangent, `count` terms
/// each) and returns the terms' sum, left to right from `0` like `f64`'s. Input `i`'s tangent
/// is seeded with `seed(i)`: `1` for an input, `0` for a constant.
///
/// Every partial is the one-window [`DualVec<W>`]'s, bit for bit (see the module docs).
///
/// Compiled twice by the `multiversion` crate, and chosen at run time: for x86-64 CPUs with
/// AVX2, where a lane loop is one instruction on four windows instead of two on two, and for
/// any CPU. Both are [`in_lanes`]: the same IEEE operations in the same order, so the same
/// bits (no fused multiply-add: Rust never contracts `a * b + c`).
///
/// # Panics
/// If `values.len() < W`, `W = 0` or `out.len() != W * (values.len() + 1 - W)`.
// Never inlined: inlined into the tape's evaluation (as `-C target-cpu=native` did), the
// lanes ran out of registers, kept the value sum on the stack and took 48-59 us instead of
// 30 us per extended-Rosenbrock gradient at n = 10,000.
#[inline(never)]
pub(crate) fn window_partials<const W: usize, T: WindowTerm<W>, V>(
    values: &[V],
    value_of: impl Fn(&V) -> f64,
    seed: impl Fn(usize) -> f64,
    term: &T,
    out: &mut [f64],
) -> f64 {
    versions(values, value_of, seed, term, out)
}

/// [`window_partials`], compiled for AVX2 and for the baseline.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn versions<const W: usize, T: WindowTerm<W>, V>(
    values: &[V],
    value_of: impl Fn(&V) -> f64,
    seed: impl Fn(usize) -> f64,
    term: &T,
    out: &mut [f64],
) -> f64 {
    in_lanes(values, value_of, seed, term, out)
}

/// [`window_partials`]' body, inlined into each of its versions.
#[inline(always)]
fn in_lanes<const W: usize, T: WindowTerm<W>, V>(
    values: &[V],
    value_of: impl Fn(&V) -> f64,
    seed: impl Fn(usize) -> f64,
    term: &T,
    out: &mut [f64],
) -> f64 {
    let n = values.len();
    assert!(W > 0 && n >= W, "a window sum needs W >= 1 inputs");
    let count = n + 1 - W;
    assert_eq!(out.len(), W * count, "one partial per window input");
    let reads = value_reads();
    let mut value = 0.0;
    let full = count - count % LANES;
    for base in (0..full).step_by(LANES) {
        // Input `j` of each window is seeded in tangent `j`.
        let mut window = [WindowDuals::<W, false>::constant(0.0); W];
        // One slice per block, so that the reads below need no bounds checks.
        let block = &values[base..base + LANES + W - 1];
        for (j, input) in window.iter_mut().enumerate() {
            let first = base + j;
            for (l, r) in input.re.iter_mut().enumerate() {
                *r = value_of(&block[j + l]);
            }
            for (l, e) in input.eps[j].iter_mut().enumerate() {
                *e = seed(first + l);
            }
        }
        let mut t = term.term(&window);
        if t.eps.as_flattened().iter().any(|e| e.is_nan()) {
            // A plain product may have been `NaN` where the NaN-safe one is not.
            t = nan_safe(&window, term);
        }
        for v in t.re {
            value += v;
        }
        for (j, eps) in t.eps.iter().enumerate() {
            out[j * count + base..][..LANES].copy_from_slice(eps);
        }
        if base == 0 && value_reads() != reads {
            // The term reads values: lanes would all see lane 0's (see the module docs).
            return one_at_a_time(values, &value_of, &seed, term, out, 0, 0.0);
        }
    }
    value = one_at_a_time(values, &value_of, &seed, term, out, full, value);
    if value_reads() != reads {
        return one_at_a_time(values, &value_of, &seed, term, out, 0, 0.0);
    }
    value
}

/// `term` on `window` with NaN-safe products. Out of line: the common path should not keep
/// its intermediate values alive for it. (Rebuilding the windows here instead, so that the
/// common path need not store them, measured slower: the compiler then spread the constant
/// seeds through the term and scalarised parts of it.)
#[cold]
#[inline(never)]
fn nan_safe<const W: usize, T: WindowTerm<W>>(
    window: &[WindowDuals<W, false>; W],
    term: &T,
) -> WindowDuals<W, false> {
    let safe = window.map(|d| WindowDuals::<W, true> {
        re: d.re,
        eps: d.eps,
    });
    let t = term.term(&safe);
    WindowDuals {
        re: t.re,
        eps: t.eps,
    }
}

/// [`window_partials`] from window `from` on, one window at a time with [`DualVec<W>`], the sum
/// continuing from `value`.
fn one_at_a_time<const W: usize, T: WindowTerm<W>, V>(
    values: &[V],
    value_of: &impl Fn(&V) -> f64,
    seed: &impl Fn(usize) -> f64,
    term: &T,
    out: &mut [f64],
    from: usize,
    mut value: f64,
) -> f64 {
    let count = values.len() + 1 - W;
    for i in from..count {
        let window: [DualVec<W>; W] = std::array::from_fn(|j| {
            let eps = std::array::from_fn(|k| if k == j { seed(i + j) } else { 0.0 });
            DualVec::new(value_of(&values[i + j]), eps)
        });
        let t = term.term(&window);
        value += t.re;
        for (j, &e) in t.eps.iter().enumerate() {
            out[j * count + i] = e;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One step of a random term, run on a stack that starts with the window's first input.
    #[derive(Debug, Clone)]
    enum Step {
        Input(usize),
        Const(f64),
        Unary(u8),
        Binary(u8),
        WithConst(u8, f64),
        Powi(i32),
        /// `sum` of the whole stack.
        Sum,
        /// `dot` of two pairs, or `dot_const` of the stack with constants.
        Dot(bool),
    }

    /// A term built from every `Scalar` operation, so each has a lane version to agree with.
    #[derive(Debug, Clone)]
    struct Random(Vec<Step>);

    impl<const W: usize> WindowTerm<W> for Random {
        fn term<S: Scalar>(&self, window: &[S; W]) -> S {
            let mut stack = vec![window[0]];
            for step in &self.0 {
                let top = stack.len() - 1;
                match *step {
                    Step::Input(j) => stack.push(window[j % W]),
                    Step::Const(c) => stack.push(S::constant(c)),
                    Step::Unary(k) => {
                        let a = stack[top];
                        stack[top] = match k % 13 {
                            0 => a.exp(),
                            1 => a.ln(),
                            2 => a.sqrt(),
                            3 => a.abs(),
                            4 => a.sin(),
                            5 => a.cos(),
                            6 => a.tan(),
                            7 => a.tanh(),
                            8 => a.sigmoid(),
                            9 => a.softplus(),
                            10 => a.relu(),
                            11 => -a,
                            _ => a.powi(2),
                        };
                    }
                    Step::Binary(k) if top >= 1 => {
                        let (a, b) = (stack[top - 1], stack[top]);
                        stack.pop();
                        stack[top - 1] = match k % 7 {
                            0 => a + b,
                            1 => a - b,
                            2 => a * b,
                            3 => a / b,
                            4 => a.min(b),
                            5 => a.max(b),
                            _ => a.powf(b),
                        };
                    }
                    Step::Binary(_) => {}
                    Step::WithConst(k, c) => {
                        let a = stack[top];
                        stack[top] = match k % 4 {
                            0 => a + c,
                            1 => a - c,
                            2 => a * c,
                            _ => a / c,
                        };
                    }
                    Step::Powi(n) => stack[top] = stack[top].powi(n),
                    Step::Sum => stack = vec![S::sum(&stack)],
                    Step::Dot(true) if stack.len() >= 4 => {
                        let d = S::dot(&stack[top - 3..top - 1], &stack[top - 1..]);
                        stack.truncate(top - 3);
                        stack.push(d);
                    }
                    Step::Dot(_) => {
                        let c: Vec<f64> = (0..stack.len()).map(|i| i as f64 - 1.5).collect();
                        stack = vec![S::dot_const(&stack, &c)];
                    }
                }
            }
            S::sum(&stack)
        }
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0_usize..4).prop_map(Step::Input),
            (-3.0_f64..3.0).prop_map(Step::Const),
            any::<u8>().prop_map(Step::Unary),
            any::<u8>().prop_map(Step::Binary),
            (any::<u8>(), -3.0_f64..3.0).prop_map(|(k, c)| Step::WithConst(k, c)),
            (-3_i32..4).prop_map(Step::Powi),
            Just(Step::Sum),
            any::<bool>().prop_map(Step::Dot),
        ]
    }

    /// Ordinary values, and the ones where a plain product of a zero tangent is `NaN`.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -3.0_f64..3.0,
            1 => prop::sample::select(vec![0.0, -0.0, 1e200, -1e300, f64::INFINITY, f64::NAN]),
        ]
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// The lanes against one `DualVec` window at a time: the same value and partials, bit for
    /// bit, for every window of `values` (seeded where `seeds` is 1). Both versions of the
    /// lanes: the one `window_partials` picks for this CPU (AVX2 on most x86-64) and the
    /// baseline one, inlined here.
    fn check<const W: usize, T: WindowTerm<W>>(term: &T, values: &[f64], seeds: &[f64]) {
        let count = values.len() + 1 - W;
        let mut single = vec![0.0; W * count];
        let value = |v: &f64| *v;
        let seed = |i: usize| seeds[i];
        let v_single = one_at_a_time(values, &value, &seed, term, &mut single, 0, 0.0);
        let mut lanes = vec![0.0; W * count];
        let v_picked = window_partials(values, value, seed, term, &mut lanes);
        let mut baseline = vec![0.0; W * count];
        let v_baseline = in_lanes(values, value, seed, term, &mut baseline);
        for (name, v, lanes) in [
            ("picked", v_picked, lanes),
            ("baseline", v_baseline, baseline),
        ] {
            assert!(same(v, v_single), "{name}: {v} vs {v_single}");
            for (k, (a, b)) in lanes.iter().zip(&single).enumerate() {
                assert!(same(*a, *b), "{name}, partial {k}: {a} vs {b}");
            }
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_seed::fixed_seed(ProptestConfig {
            cases: 400, failure_persistence: None, ..ProptestConfig::default() }))]

        #[test]
        fn lanes_give_the_one_window_duals_bits(
            steps in prop::collection::vec(step(), 1..12),
            values in prop::collection::vec(value(), 3..20),
            seeds in prop::collection::vec(prop::bool::weighted(0.8), 20),
        ) {
            let term = Random(steps);
            let seeds: Vec<f64> = seeds.iter().map(|&s| f64::from(s)).collect();
            let reads = value_reads();
            check::<2, _>(&term, &values, &seeds);
            check::<3, _>(&term, &values, &seeds);
            // No value was read, so every full block went through the lanes.
            prop_assert_eq!(value_reads(), reads);
        }
    }

    /// A zero tangent meeting an infinite local derivative: the plain product is `NaN`, so the
    /// block is redone with the NaN-safe product and `d/da` is 1, as `DualVec` gives.
    #[test]
    fn a_nan_from_a_zero_tangent_is_redone_nan_safely() {
        struct RootOfB;
        impl WindowTerm<2> for RootOfB {
            fn term<S: Scalar>(&self, [a, b]: &[S; 2]) -> S {
                *a + b.sqrt()
            }
        }
        let values = [1.0, 0.0, 4.0, 9.0, 16.0];
        check::<2, _>(&RootOfB, &values, &[1.0; 5]);
        let mut out = [0.0; 8];
        window_partials(&values, |v| *v, |_| 1.0, &RootOfB, &mut out);
        assert_eq!(out[..4], [1.0; 4], "d/da of every window");
        assert_eq!(out[4], f64::INFINITY, "d/db at b = 0");
        // Plain lanes alone would have given NaN for the first window's d/da.
        let plain = [0, 1].map(|j| WindowDuals::<2, false> {
            re: [values[j], values[j + 1], values[j + 2], values[j + 3]],
            eps: std::array::from_fn(|k| [f64::from(k == j); LANES]),
        });
        assert!(RootOfB.term(&plain).eps[0][0].is_nan());
    }

    /// A term that branches on a value cannot run in lanes (each lane would see lane 0's
    /// value); its windows are redone one at a time and come out exactly as `DualVec`'s.
    #[test]
    fn a_term_that_reads_values_is_evaluated_one_window_at_a_time() {
        struct Branchy;
        impl WindowTerm<2> for Branchy {
            fn term<S: Scalar>(&self, [a, b]: &[S; 2]) -> S {
                if a.value() > 0.0 { *a * *b } else { *b - *a }
            }
        }
        let values = [1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0, 5.0, -5.0];
        check::<2, _>(&Branchy, &values, &[1.0; 10]);
        let lanes = [0, 1].map(|j| WindowDuals::<2, false> {
            re: std::array::from_fn(|l| values[j + l]),
            eps: std::array::from_fn(|k| [f64::from(k == j); LANES]),
        });
        let wrong = Branchy.term(&lanes);
        assert_ne!(
            wrong.re[1],
            values[1] - values[2],
            "lane 1 took lane 0's branch"
        );
    }
}
