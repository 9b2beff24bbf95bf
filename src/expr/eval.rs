//! The two fast gradient paths on plain `f64` arrays over the compiled instruction list:
//! reverse mode (one forward sweep, one adjoint sweep: back-propagation over the Wengert list)
//! and chunked forward mode (value plus up to [`MAX_CHUNK`] tangents per register). Local
//! partials come from the helpers in [`crate::ad`] so both agree with the engines and PyTorch.

use super::compile::{Func, Instr, step};
use crate::ad::dual::MAX_CHUNK;
use crate::ad::{
    abs_derivative, max_partials, min_partials, powf_partials, powi_derivative, relu_derivative,
    softplus_derivative,
};

/// Reusable scratch for the fast paths: after the first call with a given expression, no call
/// allocates.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    vals: Vec<f64>,
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

/// The local partials `(d/da, d/db)` of a binary instruction with operands `a`, `b` and
/// result `v`.
#[inline]
fn partials2(ins: Instr, a: f64, b: f64, v: f64) -> (f64, f64) {
    match ins {
        Instr::Add(..) => (1.0, 1.0),
        Instr::Sub(..) => (1.0, -1.0),
        Instr::Mul(..) => (b, a),
        // PyTorch: other gets -grad * ((self / other) / other).
        Instr::Div(..) => (1.0 / b, -(v / b)),
        Instr::Pow(..) => powf_partials(a, b),
        Instr::Min(..) => min_partials(a, b),
        Instr::Max(..) => max_partials(a, b),
        _ => (0.0, 0.0),
    }
}

/// The value of every register, in order.
fn sweep(code: &[Instr], x: &[f64], vals: &mut Vec<f64>) -> f64 {
    vals.clear();
    for &ins in code {
        let v = step(ins, vals, x);
        vals.push(v);
    }
    vals.last().copied().unwrap_or(f64::NAN)
}

pub(crate) fn value(code: &[Instr], x: &[f64], work: &mut Workspace) -> f64 {
    sweep(code, x, &mut work.vals)
}

pub(crate) fn reverse(code: &[Instr], x: &[f64], work: &mut Workspace, grad: &mut [f64]) -> f64 {
    let value = sweep(code, x, &mut work.vals);
    let vals = &work.vals;
    let adj = &mut work.adj;
    adj.clear();
    adj.resize(code.len(), 0.0);
    grad.fill(0.0);
    if let Some(last) = adj.last_mut() {
        *last = 1.0;
    }
    for (k, &ins) in code.iter().enumerate().rev() {
        let g = adj[k];
        match ins {
            Instr::Const(_) => {}
            Instr::Var(i) => grad[i] += g,
            Instr::Neg(a) => adj[a as usize] -= g,
            Instr::Add(a, b) => {
                adj[a as usize] += g;
                adj[b as usize] += g;
            }
            Instr::Sub(a, b) => {
                adj[a as usize] += g;
                adj[b as usize] -= g;
            }
            Instr::Powi(a, n) => adj[a as usize] += g * powi_derivative(vals[a as usize], n),
            Instr::Call1(f, a) => adj[a as usize] += g * derivative(f, vals[a as usize], vals[k]),
            Instr::Mul(a, b)
            | Instr::Div(a, b)
            | Instr::Pow(a, b)
            | Instr::Min(a, b)
            | Instr::Max(a, b) => {
                let (da, db) = partials2(ins, vals[a as usize], vals[b as usize], vals[k]);
                adj[a as usize] += g * da;
                adj[b as usize] += g * db;
            }
        }
    }
    value
}

pub(crate) fn forward(
    code: &[Instr],
    x: &[f64],
    chunk: usize,
    work: &mut Workspace,
    grad: &mut [f64],
) -> (f64, usize) {
    let c = chunk.clamp(1, MAX_CHUNK);
    let n = x.len();
    grad.fill(0.0);
    if n == 0 || code.is_empty() {
        return (sweep(code, x, &mut work.vals), 0);
    }
    let passes = n.div_ceil(c);
    let vals = &mut work.vals;
    let tangents = &mut work.tangents;
    vals.clear();
    vals.resize(code.len(), 0.0);
    tangents.clear();
    tangents.resize(code.len(), [0.0; MAX_CHUNK]);
    let mut value = f64::NAN;
    for pass in 0..passes {
        let start = pass * c;
        let w = c.min(n - start);
        for (k, &ins) in code.iter().enumerate() {
            let v = step(ins, vals, x);
            let (done, rest) = tangents.split_at_mut(k);
            let t = &mut rest[0];
            match ins {
                Instr::Const(_) => *t = [0.0; MAX_CHUNK],
                Instr::Var(i) => {
                    *t = [0.0; MAX_CHUNK];
                    if (start..start + w).contains(&i) {
                        t[i - start] = 1.0;
                    }
                }
                Instr::Neg(a) => {
                    let ta = &done[a as usize];
                    for j in 0..w {
                        t[j] = -ta[j];
                    }
                }
                Instr::Add(a, b) => {
                    let (ta, tb) = (&done[a as usize], &done[b as usize]);
                    for j in 0..w {
                        t[j] = ta[j] + tb[j];
                    }
                }
                Instr::Sub(a, b) => {
                    let (ta, tb) = (&done[a as usize], &done[b as usize]);
                    for j in 0..w {
                        t[j] = ta[j] - tb[j];
                    }
                }
                Instr::Powi(a, p) => {
                    let d = powi_derivative(vals[a as usize], p);
                    let ta = &done[a as usize];
                    for j in 0..w {
                        t[j] = d * ta[j];
                    }
                }
                Instr::Call1(f, a) => {
                    let d = derivative(f, vals[a as usize], v);
                    let ta = &done[a as usize];
                    for j in 0..w {
                        t[j] = d * ta[j];
                    }
                }
                Instr::Mul(a, b)
                | Instr::Div(a, b)
                | Instr::Pow(a, b)
                | Instr::Min(a, b)
                | Instr::Max(a, b) => {
                    let (da, db) = partials2(ins, vals[a as usize], vals[b as usize], v);
                    let (ta, tb) = (&done[a as usize], &done[b as usize]);
                    for j in 0..w {
                        t[j] = da * ta[j] + db * tb[j];
                    }
                }
            }
            vals[k] = v;
        }
        let out = code.len() - 1;
        value = vals[out];
        grad[start..start + w].copy_from_slice(&tangents[out][..w]);
    }
    (value, passes)
}
