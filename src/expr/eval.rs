//! The two fast gradient paths on plain `f64` arrays over the compiled instruction list:
//! reverse mode (one forward sweep, one adjoint sweep: back-propagation over the Wengert list)
//! and chunked forward mode (value plus up to [`MAX_CHUNK`] tangents per register). Local
//! partials come from the helpers in [`crate::ad`] so both agree with the engines and PyTorch.

use super::compile::{Func, Instr};
use crate::ad::dual::MAX_CHUNK;
use crate::ad::{
    Scalar, abs_derivative, max_partials, min_partials, powf_partials, relu_derivative,
    softplus_derivative,
};

/// Reusable scratch for the fast paths: after the first call with a given expression, no call
/// allocates.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    vals: Vec<f64>,
    adj: Vec<f64>,
    /// Tangents by lane width: forward mode uses the narrowest that holds a pass.
    t1: Vec<[f64; 1]>,
    t2: Vec<[f64; 2]>,
    t4: Vec<[f64; 4]>,
    tangents: Vec<[f64; MAX_CHUNK]>,
}

/// `d f(a) / d a` given the argument `a` and the result `v = f(a)`, by PyTorch's formulas
/// (several are written in terms of the result, as autograd does).
#[inline]
fn derivative(f: Func, a: f64, v: f64) -> f64 {
    match f {
        Func::Exp => v,
        Func::Ln => 1.0 / a,
        Func::Sqrt => 1.0 / (2.0 * v),
        Func::Abs => abs_derivative(a),
        Func::Sin => a.cos(),
        Func::Cos => -a.sin(),
        Func::Tan => 1.0 + v * v,
        Func::Tanh => 1.0 - v * v,
        Func::Sigmoid => (1.0 - v) * v,
        Func::Softplus => softplus_derivative(a),
        Func::Relu => relu_derivative(a),
    }
}

/// `x^n` by binary exponentiation, the algorithm of compiler-rt's `__powidf2` that
/// `f64::powi` calls, so results are bit-identical to it (a test checks this), but inlined:
/// the library call dominated the cost of a small gradient.
#[inline]
pub(crate) fn powi(mut x: f64, n: i32) -> f64 {
    // What the loop below computes for 1 and 2 (`1 * x`, `1 * (x * x)`), without its branches.
    if n == 1 {
        return x;
    }
    if n == 2 {
        return x * x;
    }
    let mut b = n.unsigned_abs();
    let mut r = 1.0;
    loop {
        if b & 1 == 1 {
            r *= x;
        }
        b >>= 1;
        if b == 0 {
            break;
        }
        x *= x;
    }
    if n < 0 { 1.0 / r } else { r }
}

/// [`crate::ad::powi_derivative`] with the inlined [`powi`].
#[inline]
fn powi_slope(x: f64, n: i32) -> f64 {
    if n == 0 {
        0.0
    } else {
        f64::from(n) * powi(x, n - 1)
    }
}

pub(crate) fn value(prog: &Program, x: &[f64], work: &mut Workspace) -> f64 {
    let n = prog.len();
    if n == 0 {
        return f64::NAN;
    }
    work.vals.resize(n, 0.0);
    run_values(prog, x, &mut work.vals);
    work.vals[n - 1]
}

/// One operation of the lowered program the fast paths run: the operations of the
/// instruction list with a constant operand folded into the operation (`x * 100` reads no
/// constant register and has one operand to differentiate), and `powi 2` as `Square`. Each
/// computes exactly the `f64` operations of the instruction it replaces, so values agree bit
/// for bit with the generic evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Add(u32, u32),
    Sub(u32, u32),
    Mul(u32, u32),
    Div(u32, u32),
    Neg(u32),
    /// `a + c`.
    AddC(u32, f64),
    /// `a - c`.
    SubC(u32, f64),
    /// `c - a`.
    CSub(f64, u32),
    /// `a * c`.
    MulC(u32, f64),
    /// `a / c`.
    DivC(u32, f64),
    /// `c / a`.
    CDiv(f64, u32),
    /// `a * a` (`powi a, 2`).
    Square(u32),
    Powi(u32, i32),
    Pow(u32, u32),
    Min(u32, u32),
    Max(u32, u32),
    Call1(Func, u32),
}

/// The lowered form of a compiled expression: the leaves' initial values (constants filled in,
/// inputs overwritten per call), which leaf reads which input, and one [`Op`] per operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Program {
    init: Vec<f64>,
    inputs: Vec<(usize, usize)>,
    ops: Vec<Op>,
}

impl Program {
    pub(crate) fn new(code: &[Instr], leaves: usize) -> Program {
        let leaves = leaves.min(code.len());
        let konst = |r: u32| match code.get(r as usize) {
            Some(Instr::Const(c)) => Some(*c),
            _ => None,
        };
        let init = code[..leaves].iter().map(|&ins| leaf(ins, &[])).collect();
        let inputs = code[..leaves]
            .iter()
            .enumerate()
            .filter_map(|(k, ins)| match *ins {
                Instr::Var(i) => Some((k, i)),
                _ => None,
            })
            .collect();
        let ops = code[leaves..]
            .iter()
            .map(|&ins| match ins {
                // The compiler folds operations on two constants, so at most one side is one.
                Instr::Add(a, b) => match (konst(a), konst(b)) {
                    (_, Some(c)) => Op::AddC(a, c),
                    (Some(c), _) => Op::AddC(b, c),
                    _ => Op::Add(a, b),
                },
                Instr::Sub(a, b) => match (konst(a), konst(b)) {
                    (_, Some(c)) => Op::SubC(a, c),
                    (Some(c), _) => Op::CSub(c, b),
                    _ => Op::Sub(a, b),
                },
                Instr::Mul(a, b) => match (konst(a), konst(b)) {
                    (_, Some(c)) => Op::MulC(a, c),
                    (Some(c), _) => Op::MulC(b, c),
                    _ => Op::Mul(a, b),
                },
                Instr::Div(a, b) => match (konst(a), konst(b)) {
                    (_, Some(c)) => Op::DivC(a, c),
                    (Some(c), _) => Op::CDiv(c, b),
                    _ => Op::Div(a, b),
                },
                Instr::Neg(a) => Op::Neg(a),
                Instr::Powi(a, 2) => Op::Square(a),
                Instr::Powi(a, n) => Op::Powi(a, n),
                Instr::Pow(a, b) => Op::Pow(a, b),
                Instr::Min(a, b) => Op::Min(a, b),
                Instr::Max(a, b) => Op::Max(a, b),
                Instr::Call1(f, a) => Op::Call1(f, a),
                // Unreachable: the compiler puts every leaf before the operations.
                Instr::Const(_) | Instr::Var(_) => Op::Neg(0),
            })
            .collect();
        Program { init, inputs, ops }
    }

    fn len(&self) -> usize {
        self.init.len() + self.ops.len()
    }

    /// Loads the leaves into `vals[..leaves]`.
    #[inline]
    fn load(&self, x: &[f64], vals: &mut [f64]) {
        // An element loop, not `copy_from_slice`: a handful of leaves is cheaper than a
        // `memcpy` call.
        for (v, &c) in vals.iter_mut().zip(&self.init) {
            *v = c;
        }
        for &(k, i) in &self.inputs {
            vals[k] = x[i];
        }
    }
}

/// The value of one operation on `f64`.
#[inline(always)]
fn op_value(op: Op, vals: &[f64]) -> f64 {
    let r = |k: u32| vals[k as usize];
    match op {
        Op::Add(a, b) => r(a) + r(b),
        Op::Sub(a, b) => r(a) - r(b),
        Op::Mul(a, b) => r(a) * r(b),
        Op::Div(a, b) => r(a) / r(b),
        Op::Neg(a) => -r(a),
        Op::AddC(a, c) => r(a) + c,
        Op::SubC(a, c) => r(a) - c,
        Op::CSub(c, a) => c - r(a),
        Op::MulC(a, c) => r(a) * c,
        Op::DivC(a, c) => r(a) / c,
        Op::CDiv(c, a) => c / r(a),
        Op::Square(a) => r(a) * r(a),
        Op::Powi(a, n) => powi(r(a), n),
        Op::Pow(a, b) => r(a).powf(r(b)),
        Op::Min(a, b) => Scalar::min(r(a), r(b)),
        Op::Max(a, b) => Scalar::max(r(a), r(b)),
        Op::Call1(g, a) => g.apply(r(a)),
    }
}

/// The value sweep of the lowered program; `vals` must hold `prog.len()` entries.
#[inline]
fn run_values(prog: &Program, x: &[f64], vals: &mut [f64]) {
    prog.load(x, vals);
    for (k, &op) in (prog.init.len()..vals.len()).zip(&prog.ops) {
        vals[k] = op_value(op, vals);
    }
}

/// The value of a leaf (input or constant); the compiler puts all leaves first.
#[inline(always)]
fn leaf(ins: Instr, x: &[f64]) -> f64 {
    match ins {
        Instr::Var(i) => x.get(i).copied().unwrap_or(f64::NAN),
        Instr::Const(c) => c,
        _ => f64::NAN,
    }
}

/// Reverse mode: a value sweep, then an adjoint sweep that derives each operation's local
/// partials from the stored values (the partials PyTorch uses, via the helpers in
/// [`crate::ad`]), adding the operand `a` contribution before `b`'s as the tape does.
pub(crate) fn reverse(prog: &Program, x: &[f64], work: &mut Workspace, grad: &mut [f64]) -> f64 {
    let n = prog.len();
    let leaves = prog.init.len();
    let Workspace { vals, adj, .. } = work;
    vals.resize(n, 0.0);
    adj.resize(n, 0.0);
    grad.fill(0.0);
    if n == 0 {
        return f64::NAN;
    }
    run_values(prog, x, vals);
    // Zeroed by an element loop: for small expressions cheaper than a `memset` call.
    for a in adj.iter_mut() {
        *a = 0.0;
    }
    adj[n - 1] = 1.0;
    for (k, &op) in (leaves..n).zip(&prog.ops).rev() {
        let g = adj[k];
        let r = |i: u32| vals[i as usize];
        match op {
            Op::Add(a, b) => {
                adj[a as usize] += g;
                adj[b as usize] += g;
            }
            Op::Sub(a, b) => {
                adj[a as usize] += g;
                adj[b as usize] -= g;
            }
            Op::Mul(a, b) => {
                let (va, vb) = (r(a), r(b));
                adj[a as usize] += g * vb;
                adj[b as usize] += g * va;
            }
            Op::Div(a, b) => {
                let vb = r(b);
                let v = vals[k];
                adj[a as usize] += g * (1.0 / vb);
                adj[b as usize] += g * -(v / vb);
            }
            Op::Neg(a) => adj[a as usize] -= g,
            Op::AddC(a, _) | Op::SubC(a, _) => adj[a as usize] += g,
            Op::CSub(_, a) => adj[a as usize] -= g,
            Op::MulC(a, c) => adj[a as usize] += g * c,
            Op::DivC(a, c) => adj[a as usize] += g * (1.0 / c),
            Op::CDiv(_, a) => {
                let va = r(a);
                adj[a as usize] += g * -(vals[k] / va);
            }
            Op::Square(a) => adj[a as usize] += g * (2.0 * r(a)),
            Op::Powi(a, n) => adj[a as usize] += g * powi_slope(r(a), n),
            Op::Pow(a, b) => {
                let (da, db) = powf_partials(r(a), r(b));
                adj[a as usize] += g * da;
                adj[b as usize] += g * db;
            }
            Op::Min(a, b) => {
                let (da, db) = min_partials(r(a), r(b));
                adj[a as usize] += g * da;
                adj[b as usize] += g * db;
            }
            Op::Max(a, b) => {
                let (da, db) = max_partials(r(a), r(b));
                adj[a as usize] += g * da;
                adj[b as usize] += g * db;
            }
            Op::Call1(f, a) => adj[a as usize] += g * derivative(f, r(a), vals[k]),
        }
    }
    for &(k, i) in &prog.inputs {
        grad[i] += adj[k];
    }
    vals[n - 1]
}

/// Forward mode: `ceil(n / chunk)` passes, each recomputing the values and carrying the
/// tangents of the next `chunk` inputs in arrays of `L` lanes, the smallest of 1, 2, 4, 8 that
/// holds `min(chunk, n)`: a two-input expression carries two lanes, not eight.
pub(crate) fn forward(
    prog: &Program,
    x: &[f64],
    chunk: usize,
    work: &mut Workspace,
    grad: &mut [f64],
) -> (f64, usize) {
    let c = chunk.clamp(1, MAX_CHUNK);
    let n_in = x.len();
    grad.fill(0.0);
    let n = prog.len();
    if n_in == 0 || n == 0 {
        work.vals.resize(n, 0.0);
        if n == 0 {
            return (f64::NAN, 0);
        }
        run_values(prog, x, &mut work.vals);
        return (work.vals[n - 1], 0);
    }
    let Workspace {
        vals,
        t1,
        t2,
        t4,
        tangents,
        ..
    } = work;
    vals.resize(n, 0.0);
    match c.min(n_in) {
        1 => forward_lanes::<1>(prog, x, c, vals, t1, grad),
        2 => forward_lanes::<2>(prog, x, c, vals, t2, grad),
        3 | 4 => forward_lanes::<4>(prog, x, c, vals, t4, grad),
        _ => forward_lanes::<MAX_CHUNK>(prog, x, c, vals, tangents, grad),
    }
}

fn forward_lanes<const L: usize>(
    prog: &Program,
    x: &[f64],
    c: usize,
    vals: &mut [f64],
    tangents: &mut Vec<[f64; L]>,
    grad: &mut [f64],
) -> (f64, usize) {
    let n = prog.len();
    let n_in = x.len();
    let leaves = prog.init.len();
    let passes = n_in.div_ceil(c);
    tangents.resize(n, [0.0; L]);
    prog.load(x, vals);
    for pass in 0..passes {
        let start = pass * c;
        let w = c.min(n_in - start);
        for t in &mut tangents[..leaves] {
            *t = [0.0; L];
        }
        for &(k, i) in &prog.inputs {
            if (start..start + w).contains(&i) {
                tangents[k][i - start] = 1.0;
            }
        }
        for (k, &op) in (leaves..n).zip(&prog.ops) {
            let r = |i: u32| vals[i as usize];
            let (v, t) = {
                let t = |i: u32| tangents[i as usize];
                let scale = |a: u32, d: f64| {
                    let ta = t(a);
                    std::array::from_fn(|j| d * ta[j])
                };
                let lin = |a: u32, da: f64, b: u32, db: f64| {
                    let (ta, tb) = (t(a), t(b));
                    std::array::from_fn(|j| da * ta[j] + db * tb[j])
                };
                match op {
                    Op::Add(a, b) => {
                        let (ta, tb) = (t(a), t(b));
                        (r(a) + r(b), std::array::from_fn(|j| ta[j] + tb[j]))
                    }
                    Op::Sub(a, b) => {
                        let (ta, tb) = (t(a), t(b));
                        (r(a) - r(b), std::array::from_fn(|j| ta[j] - tb[j]))
                    }
                    Op::Mul(a, b) => (r(a) * r(b), lin(a, r(b), b, r(a))),
                    Op::Div(a, b) => {
                        let v = r(a) / r(b);
                        (v, lin(a, 1.0 / r(b), b, -(v / r(b))))
                    }
                    Op::Neg(a) => {
                        let ta = t(a);
                        (-r(a), std::array::from_fn(|j| -ta[j]))
                    }
                    Op::AddC(a, c) => (r(a) + c, t(a)),
                    Op::SubC(a, c) => (r(a) - c, t(a)),
                    Op::CSub(c, a) => {
                        let ta = t(a);
                        (c - r(a), std::array::from_fn(|j| -ta[j]))
                    }
                    Op::MulC(a, c) => (r(a) * c, scale(a, c)),
                    Op::DivC(a, c) => (r(a) / c, scale(a, 1.0 / c)),
                    Op::CDiv(c, a) => {
                        let v = c / r(a);
                        (v, scale(a, -(v / r(a))))
                    }
                    Op::Square(a) => (r(a) * r(a), scale(a, 2.0 * r(a))),
                    Op::Powi(a, n) => (powi(r(a), n), scale(a, powi_slope(r(a), n))),
                    Op::Pow(a, b) => {
                        let (da, db) = powf_partials(r(a), r(b));
                        (r(a).powf(r(b)), lin(a, da, b, db))
                    }
                    Op::Min(a, b) => {
                        let (da, db) = min_partials(r(a), r(b));
                        (Scalar::min(r(a), r(b)), lin(a, da, b, db))
                    }
                    Op::Max(a, b) => {
                        let (da, db) = max_partials(r(a), r(b));
                        (Scalar::max(r(a), r(b)), lin(a, da, b, db))
                    }
                    Op::Call1(f, a) => {
                        let v = f.apply(r(a));
                        (v, scale(a, derivative(f, r(a), v)))
                    }
                }
            };
            vals[k] = v;
            tangents[k] = t;
        }
        grad[start..start + w].copy_from_slice(&tangents[n - 1][..w]);
    }
    (vals[n - 1], passes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_powi_is_bit_identical_to_f64_powi() {
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = (s >> 11) as f64 / (1_u64 << 53) as f64 * 8.0 - 4.0;
            let n = i32::try_from(s >> 58).unwrap() - 32;
            let (want, got) = (
                std::hint::black_box(x).powi(std::hint::black_box(n)),
                powi(x, n),
            );
            assert!(
                want.to_bits() == got.to_bits() || want.is_nan(),
                "{x}^{n}: {want} vs {got}"
            );
        }
        for x in [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e300,
            -1e-300,
        ] {
            for n in [-3, -2, -1, 0, 1, 2, 3, i32::MAX, -i32::MAX] {
                let want = x.powi(n);
                assert!(
                    want.to_bits() == powi(x, n).to_bits() || want.is_nan(),
                    "{x}^{n}"
                );
            }
        }
    }
}
