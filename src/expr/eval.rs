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
    tape: Vec<Local>,
    adj: Vec<f64>,
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

/// One instruction on `f64`: the same operations as the generic evaluation's `step::<f64>`.
#[inline]
fn value_of(ins: Instr, vals: &[f64], x: &[f64]) -> f64 {
    let r = |k: u32| vals[k as usize];
    match ins {
        Instr::Const(c) => c,
        Instr::Var(i) => x[i],
        Instr::Add(a, b) => r(a) + r(b),
        Instr::Sub(a, b) => r(a) - r(b),
        Instr::Mul(a, b) => r(a) * r(b),
        Instr::Div(a, b) => r(a) / r(b),
        Instr::Neg(a) => -r(a),
        Instr::Powi(a, n) => powi(r(a), n),
        Instr::Pow(a, b) => r(a).powf(r(b)),
        Instr::Min(a, b) => Scalar::min(r(a), r(b)),
        Instr::Max(a, b) => Scalar::max(r(a), r(b)),
        Instr::Call1(g, a) => g.apply(r(a)),
    }
}

/// The value of every register, in order.
fn sweep(code: &[Instr], x: &[f64], vals: &mut Vec<f64>) -> f64 {
    vals.clear();
    vals.resize(code.len(), 0.0);
    for (k, &ins) in code.iter().enumerate() {
        vals[k] = value_of(ins, vals, x);
    }
    vals.last().copied().unwrap_or(f64::NAN)
}

pub(crate) fn value(code: &[Instr], x: &[f64], work: &mut Workspace) -> f64 {
    sweep(code, x, &mut work.vals)
}

/// One operation's value and its local partials with respect to (at most) two operands, given
/// as rows of the adjoint/tangent arrays. Operations with one operand point the other at the
/// dump row with a zero partial, so the sweeps need no branches.
#[derive(Debug, Clone, Copy, Default)]
struct Local {
    v: f64,
    a: usize,
    da: f64,
    b: usize,
    db: f64,
}

/// Row 0 of the adjoint and tangent arrays is the dump; register `k` is row `k + 1`, so every
/// operand row precedes the row it feeds.
const DUMP: usize = 0;

#[inline(always)]
fn local(ins: Instr, vals: &[f64], x: &[f64]) -> Local {
    let val = |r: u32| vals[r as usize];
    let row = |r: u32| r as usize + 1;
    let one = |v: f64, a: u32, da: f64| Local {
        v,
        a: row(a),
        da,
        b: DUMP,
        db: 0.0,
    };
    let two = |v: f64, a: u32, da: f64, b: u32, db: f64| Local {
        v,
        a: row(a),
        da,
        b: row(b),
        db,
    };
    match ins {
        // Leaves are loaded by `leaf`; these arms only keep the match total.
        Instr::Const(c) => Local {
            v: c,
            ..Local::default()
        },
        Instr::Var(i) => Local {
            v: x[i],
            ..Local::default()
        },
        Instr::Add(a, b) => two(val(a) + val(b), a, 1.0, b, 1.0),
        Instr::Sub(a, b) => two(val(a) - val(b), a, 1.0, b, -1.0),
        Instr::Mul(a, b) => two(val(a) * val(b), a, val(b), b, val(a)),
        Instr::Div(a, b) => {
            let v = val(a) / val(b);
            // PyTorch: other gets -grad * ((self / other) / other).
            two(v, a, 1.0 / val(b), b, -(v / val(b)))
        }
        Instr::Neg(a) => one(-val(a), a, -1.0),
        Instr::Powi(a, n) => one(powi(val(a), n), a, powi_slope(val(a), n)),
        Instr::Pow(a, b) => {
            let (da, db) = powf_partials(val(a), val(b));
            two(val(a).powf(val(b)), a, da, b, db)
        }
        Instr::Min(a, b) => {
            let (da, db) = min_partials(val(a), val(b));
            two(Scalar::min(val(a), val(b)), a, da, b, db)
        }
        Instr::Max(a, b) => {
            let (da, db) = max_partials(val(a), val(b));
            two(Scalar::max(val(a), val(b)), a, da, b, db)
        }
        Instr::Call1(f, a) => {
            let v = f.apply(val(a));
            one(v, a, derivative(f, val(a), v))
        }
    }
}

/// The value of a leaf (input or constant); the compiler puts all leaves first.
#[inline(always)]
fn leaf(ins: Instr, x: &[f64]) -> f64 {
    match ins {
        Instr::Var(i) => x[i],
        Instr::Const(c) => c,
        _ => f64::NAN,
    }
}

/// Reverse mode: the forward sweep records each register's value and local partials (the
/// tape), the reverse sweep pushes adjoints from each register to its operands.
pub(crate) fn reverse(
    code: &[Instr],
    leaves: usize,
    x: &[f64],
    work: &mut Workspace,
    grad: &mut [f64],
) -> f64 {
    let n = code.len();
    let Workspace {
        vals, adj, tape, ..
    } = work;
    // Every entry of `vals` and `tape` is overwritten before it is read; only a size change
    // reallocates.
    vals.resize(n, 0.0);
    tape.resize(n, Local::default());
    adj.resize(n + 1, 0.0);
    // Adjoints are zeroed alongside the values: cheaper than a separate memset call.
    adj[DUMP] = 0.0;
    for k in 0..leaves {
        vals[k] = leaf(code[k], x);
        adj[k + 1] = 0.0;
    }
    for k in leaves..n {
        let mut l = local(code[k], vals, x);
        vals[k] = l.v;
        adj[k + 1] = 0.0;
        // A unary operation's unused partial goes to its own (already consumed) row instead of
        // the shared dump, so the sweep has no false dependency chain through one cell.
        if l.b == DUMP {
            l.b = k + 1;
        }
        tape[k] = l;
    }
    adj[n] = 1.0;
    for k in (leaves..n).rev() {
        let l = tape[k];
        let g = adj[k + 1];
        adj[l.a] += g * l.da;
        adj[l.b] += g * l.db;
    }
    grad.fill(0.0);
    for (k, ins) in code[..leaves].iter().enumerate() {
        if let Instr::Var(i) = *ins {
            grad[i] += adj[k + 1];
        }
    }
    vals.last().copied().unwrap_or(f64::NAN)
}

/// Forward mode: every pass recomputes the values and carries up to `MAX_CHUNK` tangents,
/// seeded with the unit directions of the next chunk of inputs.
pub(crate) fn forward(
    code: &[Instr],
    leaves: usize,
    x: &[f64],
    chunk: usize,
    work: &mut Workspace,
    grad: &mut [f64],
) -> (f64, usize) {
    let c = chunk.clamp(1, MAX_CHUNK);
    let n_in = x.len();
    grad.fill(0.0);
    if n_in == 0 || code.is_empty() {
        return (sweep(code, x, &mut work.vals), 0);
    }
    let n = code.len();
    let passes = n_in.div_ceil(c);
    let Workspace { vals, tangents, .. } = work;
    vals.resize(n, 0.0);
    tangents.resize(n + 1, [0.0; MAX_CHUNK]);
    tangents[DUMP] = [0.0; MAX_CHUNK];
    for pass in 0..passes {
        let start = pass * c;
        let w = c.min(n_in - start);
        for k in 0..leaves {
            vals[k] = leaf(code[k], x);
            let t = &mut tangents[k + 1];
            *t = [0.0; MAX_CHUNK];
            if let Instr::Var(i) = code[k]
                && (start..start + w).contains(&i)
            {
                t[i - start] = 1.0;
            }
        }
        for k in leaves..n {
            let l = local(code[k], vals, x);
            vals[k] = l.v;
            let (done, rest) = tangents.split_at_mut(k + 1);
            let (ta, tb, t) = (&done[l.a], &done[l.b], &mut rest[0]);
            for j in 0..w {
                t[j] = l.da * ta[j] + l.db * tb[j];
            }
        }
        grad[start..start + w].copy_from_slice(&tangents[n][..w]);
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
