//! The two fast gradient paths on plain `f64` register files over a lowered form of the
//! compiled instruction list: reverse mode (one value sweep, one adjoint sweep: back-propagation
//! over the Wengert list) and chunked forward mode (value plus up to [`MAX_CHUNK`] tangents per
//! register). Local partials come from the helpers in [`crate::ad`] (a function's from the
//! [`Func`] table the tape shares), so both agree with the engines and PyTorch.
//!
//! The lowering exists because a small gradient is all interpreter overhead: constant operands
//! become immediates (no constant registers), `x^2` becomes `Square`, and a few common adjacent
//! pairs (a squared difference, a scaled addend) become one operation. Programs of at most
//! [`SMALL`] registers index fixed 256-entry register files with `u8`s, which needs no bounds
//! checks; larger ones use `u32` indices into slices.

use std::fmt::Debug;

use super::compile::Instr;
use crate::ad::dual::{MAX_CHUNK, scale_f64};
use crate::ad::{Func, Scalar, max_partials, min_partials, powf_partials};

/// The most registers a program may have to run on the fixed-size, `u8`-indexed register files.
pub(crate) const SMALL: usize = 256;

/// Reusable scratch for the fast paths: after the first call with a given expression, no call
/// allocates.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    vals: Store<f64>,
    adj: Store<f64>,
    /// Tangents by lane width: forward mode uses the narrowest that holds a pass.
    t1: Store<[f64; 1]>,
    t2: Store<[f64; 2]>,
    t4: Store<[f64; 4]>,
    t8: Store<[f64; MAX_CHUNK]>,
}

/// One register file, in the form each index width needs.
#[derive(Debug, Clone)]
pub(crate) struct Store<T> {
    small: Option<Box<[T; SMALL]>>,
    large: Vec<T>,
}

impl<T> Default for Store<T> {
    fn default() -> Store<T> {
        Store {
            small: None,
            large: Vec::new(),
        }
    }
}

/// What a register file is filled with before first use.
pub(crate) trait Zero: Copy {
    const ZERO: Self;
}

impl Zero for f64 {
    const ZERO: f64 = 0.0;
}

impl<const L: usize> Zero for [f64; L] {
    const ZERO: [f64; L] = [0.0; L];
}

/// A register index of a lowered program, and the register files it indexes.
pub(crate) trait Slot: Copy + Debug {
    /// A register file of `T`s that holds every register of the program.
    type File<T: Zero>: ?Sized;
    /// Register `k`; the lowering picks the index type so that every register fits.
    fn new(k: usize) -> Self;
    /// The register file for a program of `n` registers, allocated on first use.
    fn file<T: Zero>(store: &mut Store<T>, n: usize) -> &mut Self::File<T>;
    fn get<T: Zero>(file: &Self::File<T>, r: Self) -> T;
    fn at<T: Zero>(file: &mut Self::File<T>, r: Self) -> &mut T;
}

impl Slot for u8 {
    /// Every `u8` is in range of a 256-entry array, so no access carries a bounds check.
    type File<T: Zero> = [T; SMALL];
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    fn new(k: usize) -> u8 {
        k as u8
    }
    #[inline]
    fn file<T: Zero>(store: &mut Store<T>, _n: usize) -> &mut [T; SMALL] {
        store
            .small
            .get_or_insert_with(|| Box::new([T::ZERO; SMALL]))
    }
    #[inline(always)]
    fn get<T: Zero>(file: &[T; SMALL], r: u8) -> T {
        file[usize::from(r)]
    }
    #[inline(always)]
    fn at<T: Zero>(file: &mut [T; SMALL], r: u8) -> &mut T {
        &mut file[usize::from(r)]
    }
}

impl Slot for u32 {
    type File<T: Zero> = [T];
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    fn new(k: usize) -> u32 {
        k as u32
    }
    #[inline]
    fn file<T: Zero>(store: &mut Store<T>, n: usize) -> &mut [T] {
        store.large.resize(n, T::ZERO);
        &mut store.large
    }
    #[inline(always)]
    fn get<T: Zero>(file: &[T], r: u32) -> T {
        file[r as usize]
    }
    #[inline(always)]
    fn at<T: Zero>(file: &mut [T], r: u32) -> &mut T {
        &mut file[r as usize]
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

/// One operation of the lowered program, reading registers of type `R`. Each computes exactly
/// the `f64` operations of the instructions it replaces, in the same order, so values agree bit
/// for bit with the generic evaluation; the fused ones replace an operation whose only use is
/// the next operation, so the adjoint sweep also adds the same terms in the same order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op<R> {
    Add(R, R),
    Sub(R, R),
    Mul(R, R),
    Div(R, R),
    Neg(R),
    /// `a + c`; also `a - c` as `a + (-c)`, which IEEE 754 defines to be the same number.
    AddC(R, f64),
    /// `c - a`.
    CSub(f64, R),
    /// `a * c`.
    MulC(R, f64),
    /// `a / c`.
    DivC(R, f64),
    /// `c / a`.
    CDiv(f64, R),
    /// `a * a` (`powi a, 2`).
    Square(R),
    Powi(R, i32),
    Pow(R, R),
    Min(R, R),
    Max(R, R),
    Call1(Func, R),
    /// `(a + b)^2`.
    SqAdd(R, R),
    /// `(a - b)^2`.
    SqSub(R, R),
    /// `(a + c)^2` (and `(a - c)^2`).
    SqAddC(R, f64),
    /// `(c - a)^2`.
    SqCSub(f64, R),
    /// `a + b * c` (and `a - b * c` as `a + b * (-c)`, the same number).
    AddMulC(R, R, f64),
}

impl<R: Copy> Op<R> {
    /// The registers this operation reads.
    fn operands(self) -> [Option<R>; 2] {
        match self {
            Op::Neg(a)
            | Op::AddC(a, _)
            | Op::CSub(_, a)
            | Op::MulC(a, _)
            | Op::DivC(a, _)
            | Op::CDiv(_, a)
            | Op::Square(a)
            | Op::Powi(a, _)
            | Op::Call1(_, a)
            | Op::SqAddC(a, _)
            | Op::SqCSub(_, a) => [Some(a), None],
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::Pow(a, b)
            | Op::Min(a, b)
            | Op::Max(a, b)
            | Op::SqAdd(a, b)
            | Op::SqSub(a, b)
            | Op::AddMulC(a, b, _) => [Some(a), Some(b)],
        }
    }

    fn map<Q>(self, f: impl Fn(R) -> Q) -> Op<Q> {
        match self {
            Op::Add(a, b) => Op::Add(f(a), f(b)),
            Op::Sub(a, b) => Op::Sub(f(a), f(b)),
            Op::Mul(a, b) => Op::Mul(f(a), f(b)),
            Op::Div(a, b) => Op::Div(f(a), f(b)),
            Op::Neg(a) => Op::Neg(f(a)),
            Op::AddC(a, c) => Op::AddC(f(a), c),
            Op::CSub(c, a) => Op::CSub(c, f(a)),
            Op::MulC(a, c) => Op::MulC(f(a), c),
            Op::DivC(a, c) => Op::DivC(f(a), c),
            Op::CDiv(c, a) => Op::CDiv(c, f(a)),
            Op::Square(a) => Op::Square(f(a)),
            Op::Powi(a, n) => Op::Powi(f(a), n),
            Op::Pow(a, b) => Op::Pow(f(a), f(b)),
            Op::Min(a, b) => Op::Min(f(a), f(b)),
            Op::Max(a, b) => Op::Max(f(a), f(b)),
            Op::Call1(g, a) => Op::Call1(g, f(a)),
            Op::SqAdd(a, b) => Op::SqAdd(f(a), f(b)),
            Op::SqSub(a, b) => Op::SqSub(f(a), f(b)),
            Op::SqAddC(a, c) => Op::SqAddC(f(a), c),
            Op::SqCSub(c, a) => Op::SqCSub(c, f(a)),
            Op::AddMulC(a, b, c) => Op::AddMulC(f(a), f(b), c),
        }
    }
}

/// The operation for one instruction of the compiled list, with a constant operand (`konst`
/// gives a register's constant value, if it is one) folded in.
fn lower(ins: Instr, konst: impl Fn(u32) -> Option<f64>) -> Op<u32> {
    match ins {
        // The compiler folds operations on two constants, so at most one side is one.
        Instr::Add(a, b) => match (konst(a), konst(b)) {
            (_, Some(c)) => Op::AddC(a, c),
            (Some(c), _) => Op::AddC(b, c),
            _ => Op::Add(a, b),
        },
        Instr::Sub(a, b) => match (konst(a), konst(b)) {
            (_, Some(c)) => Op::AddC(a, -c),
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
    }
}

/// `op` with `prev` folded in, where `prev` defines register `p`, is used only by `op`, and is
/// the operation just before it; `None` if the pair has no fused form.
fn fuse(p: u32, prev: Op<u32>, op: Op<u32>) -> Option<Op<u32>> {
    Some(match (prev, op) {
        (Op::Add(a, b), Op::Square(t)) if t == p => Op::SqAdd(a, b),
        (Op::Sub(a, b), Op::Square(t)) if t == p => Op::SqSub(a, b),
        (Op::AddC(a, c), Op::Square(t)) if t == p => Op::SqAddC(a, c),
        (Op::CSub(c, a), Op::Square(t)) if t == p => Op::SqCSub(c, a),
        (Op::MulC(b, c), Op::Add(x, y)) if y == p && x != p => Op::AddMulC(x, b, c),
        (Op::MulC(b, c), Op::Add(x, y)) if x == p && y != p => Op::AddMulC(y, b, c),
        (Op::MulC(b, c), Op::Sub(x, y)) if y == p && x != p => Op::AddMulC(x, b, -c),
        _ => return None,
    })
}

/// An operation and the register it writes: stored, not derived from the position, since
/// that costs the sweeps a few instructions per operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<R> {
    d: R,
    op: Op<R>,
}

/// The operations of a lowered program, with the narrowest index type that fits.
#[derive(Debug, Clone)]
enum Ops {
    Small(Vec<Step<u8>>),
    Large(Vec<Step<u32>>),
}

impl Default for Ops {
    fn default() -> Ops {
        Ops::Large(Vec::new())
    }
}

/// The lowered form of a compiled expression. Registers are numbered inputs first (by input
/// index), then the constants some operation still reads as a register (or that are the
/// output), then one per operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Program {
    /// The number of registers (0 only for an empty instruction list).
    n: usize,
    /// The output register.
    out: usize,
    /// `(register, input index)` of every input the expression reads, in order of both.
    inputs: Vec<(usize, usize)>,
    /// Whether `inputs` is `(0, 0), (1, 1), ...`: the expression reads every input and register
    /// `i` holds input `i`, so a gradient of that length is a copy of the first adjoints.
    dense: bool,
    /// `(register, value)` of the constants kept in registers.
    consts: Vec<(usize, f64)>,
    ops: Ops,
}

impl Program {
    pub(crate) fn new(code: &[Instr], leaves: usize) -> Program {
        if code.is_empty() {
            return Program::default();
        }
        let leaves = leaves.min(code.len());
        let konst = |r: u32| match code.get(r as usize) {
            Some(Instr::Const(c)) => Some(*c),
            _ => None,
        };
        let mut uses = vec![0_u32; code.len()];
        let mut ops: Vec<(usize, Op<u32>)> = Vec::with_capacity(code.len() - leaves);
        for (k, &ins) in code.iter().enumerate().skip(leaves) {
            let op = lower(ins, konst);
            for r in op.operands().into_iter().flatten() {
                uses[r as usize] += 1;
            }
            ops.push((k, op));
        }
        // Fusing only an operation with its single use right after it keeps the adjoint sweep's
        // order of additions: nothing else is swept between the two.
        let mut fused: Vec<(usize, Op<u32>)> = Vec::with_capacity(ops.len());
        for (k, op) in ops {
            let merged = match fused.last() {
                Some(&(p, prev)) if uses[p] == 1 => fuse(u32::new(p), prev, op),
                _ => None,
            };
            match (merged, fused.last_mut()) {
                (Some(m), Some(last)) => *last = (k, m),
                _ => fused.push((k, op)),
            }
        }
        // Renumber: inputs, the constants still read from a register, operations.
        let mut renumber = vec![0_usize; code.len()];
        let mut read = vec![false; leaves];
        for (_, op) in &fused {
            for r in op.operands().into_iter().flatten() {
                if let Some(flag) = read.get_mut(r as usize) {
                    *flag = true;
                }
            }
        }
        let out = code.len() - 1;
        if let Some(flag) = read.get_mut(out) {
            // The output is a leaf.
            *flag = true;
        }
        let mut vars: Vec<(usize, usize)> = code[..leaves]
            .iter()
            .enumerate()
            .filter_map(|(k, ins)| match *ins {
                Instr::Var(i) => Some((i, k)),
                _ => None,
            })
            .collect();
        // Rebinding the inputs renames them without reordering the leaves.
        vars.sort_unstable();
        let mut n = 0;
        let mut inputs = Vec::with_capacity(vars.len());
        for (i, k) in vars {
            renumber[k] = n;
            inputs.push((n, i));
            n += 1;
        }
        let dense = inputs.iter().all(|&(k, i)| k == i);
        let mut consts = Vec::new();
        for (k, ins) in code[..leaves].iter().enumerate() {
            if let Instr::Const(c) = *ins {
                if read[k] {
                    renumber[k] = n;
                    consts.push((n, c));
                    n += 1;
                }
            }
        }
        for &(k, _) in &fused {
            renumber[k] = n;
            n += 1;
        }
        let steps = fused
            .into_iter()
            .map(|(k, op)| (renumber[k], op.map(|r| renumber[r as usize])));
        fn narrow<S: Slot>(steps: impl Iterator<Item = (usize, Op<usize>)>) -> Vec<Step<S>> {
            steps
                .map(|(d, op)| Step {
                    d: S::new(d),
                    op: op.map(S::new),
                })
                .collect()
        }
        let ops = if n <= SMALL {
            Ops::Small(narrow(steps))
        } else {
            Ops::Large(narrow(steps))
        };
        Program {
            n,
            out: renumber[out],
            inputs,
            dense,
            consts,
            ops,
        }
    }

    /// Loads the leaves into the register file.
    #[inline]
    fn load<S: Slot>(&self, x: &[f64], vals: &mut S::File<f64>) {
        self.load_with::<S>(x, vals, |_| {});
    }

    /// Loads the leaves, calling `also` with each leaf register.
    #[inline(always)]
    fn load_with<S: Slot>(&self, x: &[f64], vals: &mut S::File<f64>, mut also: impl FnMut(S)) {
        for &(k, i) in &self.inputs {
            let k = S::new(k);
            *S::at(vals, k) = x[i];
            also(k);
        }
        for &(k, c) in &self.consts {
            let k = S::new(k);
            *S::at(vals, k) = c;
            also(k);
        }
    }

    /// Writes `grad[i] = read(register of input i)`, and 0 for the inputs the expression does
    /// not read.
    #[inline(always)]
    fn gather<S: Slot>(&self, grad: &mut [f64], read: impl Fn(S) -> f64) {
        if self.dense && grad.len() == self.inputs.len() {
            // The common case, without the `memset` call of a fill.
            for (k, g) in grad.iter_mut().enumerate() {
                *g = read(S::new(k));
            }
        } else {
            grad.fill(0.0);
            for &(k, i) in &self.inputs {
                grad[i] = read(S::new(k));
            }
        }
    }
}

#[cfg(test)]
impl Program {
    /// Whether the `u8`-indexed register files run this program, and its operations as `Debug`
    /// text, for tests of the lowering.
    pub(crate) fn describe(&self) -> (bool, Vec<String>) {
        match &self.ops {
            Ops::Small(steps) => (true, steps.iter().map(|s| format!("{:?}", s.op)).collect()),
            Ops::Large(steps) => (false, steps.iter().map(|s| format!("{:?}", s.op)).collect()),
        }
    }
}

/// The value of one operation.
#[inline(always)]
fn op_value<S: Slot>(op: Op<S>, vals: &S::File<f64>) -> f64 {
    let r = |k: S| S::get(vals, k);
    match op {
        Op::Add(a, b) => r(a) + r(b),
        Op::Sub(a, b) => r(a) - r(b),
        Op::Mul(a, b) => r(a) * r(b),
        Op::Div(a, b) => r(a) / r(b),
        Op::Neg(a) => -r(a),
        Op::AddC(a, c) => r(a) + c,
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
        Op::SqAdd(a, b) => {
            let t = r(a) + r(b);
            t * t
        }
        Op::SqSub(a, b) => {
            let t = r(a) - r(b);
            t * t
        }
        Op::SqAddC(a, c) => {
            let t = r(a) + c;
            t * t
        }
        Op::SqCSub(c, a) => {
            let t = c - r(a);
            t * t
        }
        Op::AddMulC(a, b, c) => r(a) + r(b) * c,
    }
}

/// The value sweep over the operations (the leaves loaded).
#[inline(always)]
fn run_values<S: Slot>(steps: &[Step<S>], vals: &mut S::File<f64>) {
    for &Step { d, op } in steps {
        *S::at(vals, d) = op_value(op, vals);
    }
}

pub(crate) fn value(prog: &Program, x: &[f64], work: &mut Workspace) -> f64 {
    fn run<S: Slot>(prog: &Program, steps: &[Step<S>], x: &[f64], vals: &mut S::File<f64>) -> f64 {
        prog.load::<S>(x, vals);
        run_values(steps, vals);
        S::get(vals, S::new(prog.out))
    }
    if prog.n == 0 {
        return f64::NAN;
    }
    match &prog.ops {
        Ops::Small(steps) => run(prog, steps, x, u8::file(&mut work.vals, prog.n)),
        Ops::Large(steps) => run(prog, steps, x, u32::file(&mut work.vals, prog.n)),
    }
}

/// Reverse mode: a value sweep (zeroing the adjoints as it goes), then an adjoint sweep that
/// derives each operation's local partials from the stored values (the partials PyTorch uses,
/// via the helpers in [`crate::ad`]), adding the operand `a` contribution before `b`'s as the
/// tape does.
pub(crate) fn reverse(prog: &Program, x: &[f64], work: &mut Workspace, grad: &mut [f64]) -> f64 {
    if prog.n == 0 {
        grad.fill(0.0);
        return f64::NAN;
    }
    let Workspace { vals, adj, .. } = work;
    match &prog.ops {
        Ops::Small(steps) => reverse_in(
            prog,
            steps,
            x,
            u8::file(vals, prog.n),
            u8::file(adj, prog.n),
            grad,
        ),
        Ops::Large(steps) => reverse_in(
            prog,
            steps,
            x,
            u32::file(vals, prog.n),
            u32::file(adj, prog.n),
            grad,
        ),
    }
}

fn reverse_in<S: Slot>(
    prog: &Program,
    steps: &[Step<S>],
    x: &[f64],
    vals: &mut S::File<f64>,
    adj: &mut S::File<f64>,
    grad: &mut [f64],
) -> f64 {
    prog.load_with::<S>(x, vals, |k| *S::at(adj, k) = 0.0);
    for &Step { d, op } in steps {
        *S::at(vals, d) = op_value(op, vals);
        *S::at(adj, d) = 0.0;
    }
    let out = S::new(prog.out);
    *S::at(adj, out) = 1.0;
    for &Step { d, op } in steps.iter().rev() {
        let g = S::get(adj, d);
        let r = |i: S| S::get(vals, i);
        let mut add = |i: S, term: f64| *S::at(adj, i) += term;
        match op {
            Op::Add(a, b) => {
                add(a, g);
                add(b, g);
            }
            Op::Sub(a, b) => {
                add(a, g);
                *S::at(adj, b) -= g;
            }
            Op::Mul(a, b) => {
                let (va, vb) = (r(a), r(b));
                add(a, g * vb);
                add(b, g * va);
            }
            Op::Div(a, b) => {
                let vb = r(b);
                let v = r(d);
                add(a, g * (1.0 / vb));
                add(b, g * -(v / vb));
            }
            Op::Neg(a) | Op::CSub(_, a) => *S::at(adj, a) -= g,
            Op::AddC(a, _) => add(a, g),
            Op::MulC(a, c) => add(a, g * c),
            Op::DivC(a, c) => add(a, g * (1.0 / c)),
            Op::CDiv(_, a) => {
                let v = r(d);
                add(a, g * -(v / r(a)));
            }
            Op::Square(a) => add(a, g * (2.0 * r(a))),
            Op::Powi(a, n) => add(a, g * powi_slope(r(a), n)),
            Op::Pow(a, b) => {
                let (da, db) = powf_partials(r(a), r(b));
                add(a, g * da);
                add(b, g * db);
            }
            Op::Min(a, b) => {
                let (da, db) = min_partials(r(a), r(b));
                add(a, g * da);
                add(b, g * db);
            }
            Op::Max(a, b) => {
                let (da, db) = max_partials(r(a), r(b));
                add(a, g * da);
                add(b, g * db);
            }
            Op::Call1(f, a) => {
                add(a, g * f.derivative(r(a), r(d)));
            }
            Op::SqAdd(a, b) => {
                let gt = g * (2.0 * (r(a) + r(b)));
                add(a, gt);
                add(b, gt);
            }
            Op::SqSub(a, b) => {
                let gt = g * (2.0 * (r(a) - r(b)));
                add(a, gt);
                *S::at(adj, b) -= gt;
            }
            Op::SqAddC(a, c) => add(a, g * (2.0 * (r(a) + c))),
            Op::SqCSub(c, a) => *S::at(adj, a) -= g * (2.0 * (c - r(a))),
            Op::AddMulC(a, b, c) => {
                add(a, g);
                add(b, g * c);
            }
        }
    }
    prog.gather::<S>(grad, |k| S::get(adj, k));
    S::get(vals, out)
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
    if prog.n == 0 || x.is_empty() {
        grad.fill(0.0);
        let v = if prog.n == 0 {
            f64::NAN
        } else {
            value(prog, x, work)
        };
        return (v, 0);
    }
    // The passes write `grad[..x.len()]`.
    if let Some(rest) = grad.get_mut(x.len()..) {
        if !rest.is_empty() {
            rest.fill(0.0);
        }
    }
    match &prog.ops {
        Ops::Small(steps) => forward_in(prog, steps, x, c, work, grad),
        Ops::Large(steps) => forward_in(prog, steps, x, c, work, grad),
    }
}

/// Picks the lane width. Everything down to the sweep is inlined into [`forward`]: eight
/// copies of the sweep, but one function prologue per call instead of three.
#[inline(always)]
fn forward_in<S: Slot>(
    prog: &Program,
    steps: &[Step<S>],
    x: &[f64],
    c: usize,
    work: &mut Workspace,
    grad: &mut [f64],
) -> (f64, usize) {
    let n = prog.n;
    let Workspace {
        vals,
        t1,
        t2,
        t4,
        t8,
        ..
    } = work;
    let vals = S::file(vals, n);
    match c.min(x.len()) {
        1 => forward_lanes::<S, 1>(prog, steps, x, c, vals, S::file(t1, n), grad),
        2 => forward_lanes::<S, 2>(prog, steps, x, c, vals, S::file(t2, n), grad),
        3 | 4 => forward_lanes::<S, 4>(prog, steps, x, c, vals, S::file(t4, n), grad),
        _ => forward_lanes::<S, MAX_CHUNK>(prog, steps, x, c, vals, S::file(t8, n), grad),
    }
}

/// The seed tangents of the inputs: row `j < L` is the `j`-th unit vector, the others zero.
/// Copied whole from a table: an array written lane by lane and then read back as a vector
/// stalls on store forwarding.
struct Seeds<const L: usize>;

impl<const L: usize> Seeds<L> {
    const ROWS: [[f64; L]; MAX_CHUNK + 1] = {
        let mut rows = [[0.0; L]; MAX_CHUNK + 1];
        let mut j = 0;
        while j < L {
            rows[j][j] = 1.0;
            j += 1;
        }
        rows
    };
}

/// The value and tangents of one operation.
#[inline(always)]
fn op_tangent<S: Slot, const L: usize>(
    op: Op<S>,
    vals: &S::File<f64>,
    tangents: &S::File<[f64; L]>,
) -> (f64, [f64; L]) {
    let r = |i: S| S::get(vals, i);
    let t = |i: S| S::get(tangents, i);
    let times = |d: f64, ta: [f64; L]| std::array::from_fn(|j| d * ta[j]);
    let scale = |a: S, d: f64| times(d, t(a));
    let lin = |a: S, da: f64, b: S, db: f64| {
        let (ta, tb) = (t(a), t(b));
        std::array::from_fn(|j| da * ta[j] + db * tb[j])
    };
    // Functions of their operands (powers, min/max, calls) take the generic duals' NaN-safe
    // products (`chain`/`combine`): a zero tangent times a non-finite local derivative is
    // zero, so `x + sqrt(y)` at `y = 0` has `d/dx = 1` here too, as in reverse mode.
    let chain = |d: f64, ta: [f64; L]| std::array::from_fn(|j| scale_f64(ta[j], d));
    let combine = |a: S, da: f64, b: S, db: f64| {
        let (ta, tb) = (t(a), t(b));
        std::array::from_fn(|j| scale_f64(ta[j], da) + scale_f64(tb[j], db))
    };
    let sum = |a: S, b: S| {
        let (ta, tb) = (t(a), t(b));
        std::array::from_fn(|j| ta[j] + tb[j])
    };
    let diff = |a: S, b: S| {
        let (ta, tb) = (t(a), t(b));
        std::array::from_fn(|j| ta[j] - tb[j])
    };
    let neg = |a: S| {
        let ta = t(a);
        std::array::from_fn(|j| -ta[j])
    };
    match op {
        Op::Add(a, b) => (r(a) + r(b), sum(a, b)),
        Op::Sub(a, b) => (r(a) - r(b), diff(a, b)),
        Op::Mul(a, b) => (r(a) * r(b), lin(a, r(b), b, r(a))),
        Op::Div(a, b) => {
            let v = r(a) / r(b);
            (v, lin(a, 1.0 / r(b), b, -(v / r(b))))
        }
        Op::Neg(a) => (-r(a), neg(a)),
        Op::AddC(a, c) => (r(a) + c, t(a)),
        Op::CSub(c, a) => (c - r(a), neg(a)),
        Op::MulC(a, c) => (r(a) * c, scale(a, c)),
        Op::DivC(a, c) => (r(a) / c, scale(a, 1.0 / c)),
        Op::CDiv(c, a) => {
            let v = c / r(a);
            (v, scale(a, -(v / r(a))))
        }
        Op::Square(a) => (r(a) * r(a), chain(2.0 * r(a), t(a))),
        Op::Powi(a, n) => (powi(r(a), n), chain(powi_slope(r(a), n), t(a))),
        Op::Pow(a, b) => {
            let (da, db) = powf_partials(r(a), r(b));
            (r(a).powf(r(b)), combine(a, da, b, db))
        }
        Op::Min(a, b) => {
            let (da, db) = min_partials(r(a), r(b));
            (Scalar::min(r(a), r(b)), combine(a, da, b, db))
        }
        Op::Max(a, b) => {
            let (da, db) = max_partials(r(a), r(b));
            (Scalar::max(r(a), r(b)), combine(a, da, b, db))
        }
        Op::Call1(f, a) => {
            let v = f.apply(r(a));
            (v, chain(f.derivative(r(a), v), t(a)))
        }
        Op::SqAdd(a, b) => {
            let v = r(a) + r(b);
            (v * v, chain(2.0 * v, sum(a, b)))
        }
        Op::SqSub(a, b) => {
            let v = r(a) - r(b);
            (v * v, chain(2.0 * v, diff(a, b)))
        }
        Op::SqAddC(a, c) => {
            let v = r(a) + c;
            (v * v, chain(2.0 * v, t(a)))
        }
        Op::SqCSub(c, a) => {
            let v = c - r(a);
            (v * v, chain(2.0 * v, neg(a)))
        }
        Op::AddMulC(a, b, c) => {
            let (ta, tb) = (t(a), t(b));
            (r(a) + r(b) * c, std::array::from_fn(|j| ta[j] + c * tb[j]))
        }
    }
}

#[inline(always)]
fn forward_lanes<S: Slot, const L: usize>(
    prog: &Program,
    steps: &[Step<S>],
    x: &[f64],
    c: usize,
    vals: &mut S::File<f64>,
    tangents: &mut S::File<[f64; L]>,
    grad: &mut [f64],
) -> (f64, usize) {
    let n_in = x.len();
    let out = S::new(prog.out);
    for &(k, c) in &prog.consts {
        let k = S::new(k);
        *S::at(vals, k) = c;
        *S::at(tangents, k) = [0.0; L];
    }
    let mut passes = 0;
    let mut start = 0;
    while start < n_in {
        passes += 1;
        let w = c.min(n_in - start);
        for &(k, i) in &prog.inputs {
            // The values are loaded again on every pass: cheaper than a loop of their own.
            let k = S::new(k);
            *S::at(vals, k) = x[i];
            // Inputs before `start` wrap around to a large lane: all get the zero row.
            let lane = i.wrapping_sub(start);
            let lane = if lane < w { lane } else { MAX_CHUNK };
            *S::at(tangents, k) = Seeds::<L>::ROWS[lane.min(MAX_CHUNK)];
        }
        for &Step { d, op } in steps {
            let (v, t) = op_tangent::<S, L>(op, vals, tangents);
            *S::at(vals, d) = v;
            *S::at(tangents, d) = t;
        }
        let t = S::get(tangents, out);
        let dst = &mut grad[start..start + w];
        // A whole array is copied inline; a `copy_from_slice` of `w` lanes calls `memcpy`.
        match <&mut [f64; L]>::try_from(&mut *dst) {
            Ok(all) => *all = t,
            Err(_) => {
                for (g, &v) in dst.iter_mut().zip(&t) {
                    *g = v;
                }
            }
        }
        start += w;
    }
    (S::get(vals, out), passes)
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
