//! [`Var`], the handle objectives compute with, and its operations: the arithmetic operators,
//! the elementary functions of [`Scalar`] (each a value and its local partial, from `f64`'s own
//! implementation and the shared PyTorch-convention helpers in [`crate::ad`]), and the n-ary
//! `sum`, `dot` and `dot_const` nodes. On a [fused](Tape::fused) tape a `Var` also carries the
//! derivative of a value not yet recorded (with respect to the at most two nodes it depends
//! on). Blocks (matrix-vector products, dense layers, window sums) are recorded by
//! `block`.

use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::{DenseInput, Edge, Op, Tape};
use crate::ad::{
    Func, Scalar, WindowTerm, max_partials, min_partials, powf_partials, powi_derivative,
};

/// A value on a [`Tape`] (or a constant with no tape). `Copy`, 40 bytes; the lifetime ties it to
/// the tape, so it cannot outlive it nor survive [`Tape::clear`].
///
/// Combining a constant with a taped variable records on the variable's tape; two constants give
/// a constant and record nothing.
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::tape::{Tape, Var};
///
/// let tape = Tape::new();
/// let x = tape.var(3.0);
/// let y = Var::constant(2.0) * x + 1.0; // MulConst, AddConst
/// tape.backward(y);
/// assert_eq!((y.value(), tape.adjoint(x), tape.len()), (7.0, 2.0, 3));
/// ```
#[derive(Clone, Copy)]
pub struct Var<'t> {
    pub(super) tape: Option<&'t Tape>,
    pub(super) value: f64,
    /// `d value = scale[0] d node[first] + scale[1] d node[second]`, the two node indices packed
    /// in one word (`first` low, `second` high) so a `Var` is written whole, never byte by byte.
    /// `second` is [`PLAIN`] for a node's own value (scale 1) and [`SINGLE`] for a fused value
    /// of one node; on a [fused](Tape::fused) tape a value not yet recorded depends on up to
    /// [`FORM`] distinct nodes. Constants (no tape) depend on none.
    pub(super) nodes: u64,
    pub(super) scale: [f64; FORM],
}

/// How many nodes a fused value may depend on before it is recorded as a node.
pub(super) const FORM: usize = 2;
/// `second` of a node's own value.
pub(super) const PLAIN: u32 = u32::MAX;
/// `second` of a fused value of one node.
pub(super) const SINGLE: u32 = u32::MAX - 1;

#[inline(always)]
pub(super) fn pack(first: u32, second: u32) -> u64 {
    u64::from(first) | (u64::from(second) << 32)
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tape {
            Some(_) if self.lazy() => {
                write!(f, "Var(fused {:?} =", self.value)?;
                for e in self.edges(1.0) {
                    write!(f, " + {:?} d#{}", e.partial, e.parent)?;
                }
                write!(f, ")")
            }
            Some(_) => write!(f, "Var(#{} = {:?})", self.first(), self.value),
            None => write!(f, "Var(const {:?})", self.value),
        }
    }
}

impl<'t> Var<'t> {
    /// The node index on the tape, or `None` for a constant. A fused value (see
    /// [`Tape::fused`]) has no node of its own: this is the first node it depends on.
    #[must_use]
    pub fn index(&self) -> Option<usize> {
        self.tape.map(|_| self.first() as usize)
    }

    /// Whether this is a constant (no node, derivative zero everywhere).
    #[must_use]
    pub fn is_constant(&self) -> bool {
        self.tape.is_none()
    }

    /// Whether this is a fused value that was not recorded (only on a [`fused`](Tape::fused)
    /// tape).
    #[must_use]
    pub fn is_fused(&self) -> bool {
        self.lazy()
    }

    #[inline(always)]
    pub(super) fn first(&self) -> u32 {
        self.nodes as u32
    }

    #[inline(always)]
    pub(super) fn second(&self) -> u32 {
        (self.nodes >> 32) as u32
    }

    /// How many nodes the value depends on: 0 (constant), 1 or 2.
    #[inline(always)]
    pub(super) fn terms(&self) -> usize {
        match (self.tape, self.second()) {
            (None, _) => 0,
            (Some(_), PLAIN | SINGLE) => 1,
            (Some(_), _) => 2,
        }
    }

    /// Whether the value is not its first node's own (a fused result).
    #[inline(always)]
    pub(super) fn lazy(&self) -> bool {
        self.tape.is_some() && self.second() != PLAIN
    }

    #[inline(always)]
    pub(super) fn konst(value: f64) -> Self {
        Var {
            tape: None,
            value,
            nodes: pack(0, PLAIN),
            scale: [0.0; FORM],
        }
    }

    /// The value of node `index` itself.
    #[inline(always)]
    pub(super) fn node(tape: &'t Tape, index: u32, value: f64) -> Self {
        Var {
            tape: Some(tape),
            value,
            nodes: pack(index, PLAIN),
            scale: [1.0, 0.0],
        }
    }

    /// The (node, partial) pairs of this value's derivative, each partial times `factor`.
    #[inline]
    pub(super) fn edges(&self, factor: f64) -> impl Iterator<Item = Edge> + '_ {
        let parents = [self.first(), self.second()];
        (0..self.terms()).map(move |k| Edge {
            parent: parents[k],
            partial: self.scale[k] * factor,
        })
    }

    /// This value as a node of its own: a fused value is recorded as one [`Op::Fused`] node
    /// (for consumers that read values from the nodes, such as matrix-vector blocks).
    #[inline]
    pub(super) fn settled(self) -> Self {
        match self.tape {
            Some(t) if self.lazy() => {
                let index = t.push_filled(Op::Fused, self.value, self.terms(), |out| {
                    for (e, edge) in out.iter_mut().zip(self.edges(1.0)) {
                        *e = edge;
                    }
                });
                Self::node(t, index, self.value)
            }
            _ => self,
        }
    }

    /// `op(self)` with `d op / d self = partial`: a node on a plain tape; on a fused tape
    /// nothing is recorded, the chain rule is applied to the value's terms instead.
    #[inline(always)]
    fn unary(self, op: Op, value: f64, partial: f64) -> Self {
        match self.tape {
            Some(t) if t.fused => Var {
                tape: self.tape,
                value,
                nodes: if self.second() == PLAIN {
                    pack(self.first(), SINGLE)
                } else {
                    self.nodes
                },
                scale: [self.scale[0] * partial, self.scale[1] * partial],
            },
            Some(t) => Self::node(t, t.push1(op, value, self.first(), partial), value),
            None => Self::konst(value),
        }
    }

    /// [`unary`](Self::unary) for an operation with a constant operand `c` at operand
    /// `position` (`x + c`: 1, `c - x`: 0): a plain tape also records the constant, for
    /// display; a fused tape (and a constant `self`) does exactly what `unary` does.
    #[inline(always)]
    fn unary_const(self, op: Op, value: f64, partial: f64, position: u32, c: f64) -> Self {
        match self.tape {
            Some(t) if !t.fused => {
                let index = t.push1_const(op, value, self.first(), partial, (position, c));
                Self::node(t, index, value)
            }
            _ => self.unary(op, value, partial),
        }
    }

    /// `f(self)` given its value (from `f64`'s own implementation, so every engine computes the
    /// same bits), with the local derivative from the table the expression language shares.
    #[inline(always)]
    fn call(self, f: Func, value: f64) -> Self {
        self.unary(Op::Call(f), value, f.derivative(self.value, value))
    }

    /// `op(self, other)` with local partials `da`, `db`; one edge if either side is constant.
    /// On a fused tape the result stays unrecorded while it depends on at most [`FORM`]
    /// nodes; otherwise it becomes a node with one edge per node it depends on.
    #[inline(always)]
    fn binary(self, other: Self, op: Op, value: f64, (da, db): (f64, f64)) -> Self {
        match (self.tape, other.tape) {
            (Some(t), Some(u)) => {
                debug_assert!(std::ptr::eq(t, u), "variables from two tapes combined");
                if t.fused {
                    return Self::combine(t, self, other, op, value, da, db);
                }
                let index = t.push2(op, value, self.first(), da, other.first(), db);
                Self::node(t, index, value)
            }
            (Some(_), None) => self.unary_const(op, value, da, 1, other.value),
            (None, Some(_)) => other.unary_const(op, value, db, 0, self.value),
            (None, None) => Self::konst(value),
        }
    }

    /// The fused `op(a, b)`: the terms of `a` times `da` and of `b` times `db`, merged by node.
    /// Written out case by case (no loops over the terms) so that, inlined, a `Var` stays in
    /// registers.
    #[inline(always)]
    fn combine(t: &'t Tape, a: Self, b: Self, op: Op, value: f64, da: f64, db: f64) -> Self {
        let (a0, a1) = (a.first(), a.second());
        let (b0, b1) = (b.first(), b.second());
        let (sa0, sa1) = (a.scale[0] * da, a.scale[1] * da);
        let (sb0, sb1) = (b.scale[0] * db, b.scale[1] * db);
        let form = |first: u32, second: u32, scale: [f64; FORM]| Var {
            tape: Some(t),
            value,
            nodes: pack(first, second),
            scale,
        };
        let one_a = a1 >= SINGLE;
        let one_b = b1 >= SINGLE;
        match (one_a, one_b) {
            (true, true) if a0 == b0 => form(a0, SINGLE, [sa0 + sb0, 0.0]),
            (true, true) => form(a0, b0, [sa0, sb0]),
            (false, true) if b0 == a0 => form(a0, a1, [sa0 + sb0, sa1]),
            (false, true) if b0 == a1 => form(a0, a1, [sa0, sa1 + sb0]),
            (true, false) if a0 == b0 => form(b0, b1, [sa0 + sb0, sb1]),
            (true, false) if a0 == b1 => form(b0, b1, [sb0, sa0 + sb1]),
            (false, false) if a0 == b0 && a1 == b1 => form(a0, a1, [sa0 + sb0, sa1 + sb1]),
            (false, false) if a0 == b1 && a1 == b0 => form(a0, a1, [sa0 + sb1, sa1 + sb0]),
            _ => Self::record_combined(t, a, b, op, value, da, db),
        }
    }

    /// [`combine`](Self::combine) when the result depends on more than [`FORM`] nodes: one
    /// node with an edge per term (a node shared by both sides gets two edges).
    #[cold]
    #[inline(never)]
    fn record_combined(
        t: &'t Tape,
        a: Self,
        b: Self,
        op: Op,
        value: f64,
        da: f64,
        db: f64,
    ) -> Self {
        Self::record_n(t, op, value, [(&a, da), (&b, db)].into_iter())
    }

    /// Whether `self` and `other` are the same value (same node, same chain), so that
    /// `self * other` is a square.
    #[inline(always)]
    fn same_as(&self, other: &Self) -> bool {
        match (self.tape, other.tape) {
            (Some(t), Some(u)) => {
                std::ptr::eq(t, u)
                    && self.nodes == other.nodes
                    && self.value.to_bits() == other.value.to_bits()
                    && self.scale[0].to_bits() == other.scale[0].to_bits()
                    && self.scale[1].to_bits() == other.scale[1].to_bits()
            }
            _ => false,
        }
    }

    /// The tape any of `terms` lives on, if one does.
    #[inline]
    pub(super) fn tape_of(terms: &[Self]) -> Option<&'t Tape> {
        terms.iter().find_map(|t| t.tape)
    }

    /// Records an n-ary node whose edges are the terms of each `(var, factor)` pair.
    #[inline]
    pub(super) fn record_n<'a>(
        tape: &'t Tape,
        op: Op,
        value: f64,
        pairs: impl Iterator<Item = (&'a Self, f64)> + Clone,
    ) -> Self
    where
        't: 'a,
    {
        let count = pairs.clone().map(|(v, _)| v.terms()).sum();
        let index = tape.push_filled(op, value, count, |out| {
            let edges = pairs.flat_map(|(v, f)| v.edges(f));
            for (e, edge) in out.iter_mut().zip(edges) {
                *e = edge;
            }
        });
        Self::node(tape, index, value)
    }
}

impl<'t> Add for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        match (self.tape, rhs.tape) {
            (Some(_), Some(_)) => self.binary(rhs, Op::Add, self.value + rhs.value, (1.0, 1.0)),
            (Some(_), None) => self + rhs.value,
            (None, _) => self.value + rhs,
        }
    }
}

impl<'t> Sub for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        match (self.tape, rhs.tape) {
            (Some(_), Some(_)) => self.binary(rhs, Op::Sub, self.value - rhs.value, (1.0, -1.0)),
            (Some(_), None) => self - rhs.value,
            (None, _) => self.value - rhs,
        }
    }
}

impl<'t> Mul for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        match (self.tape, rhs.tape) {
            // `x * x` on a fused tape is a unary square: no node, `2 x` into the chain.
            (Some(t), Some(_)) if t.fused && self.same_as(&rhs) => {
                let v = self.value;
                self.unary(Op::Mul, v * v, 2.0 * v)
            }
            (Some(_), Some(_)) => self.binary(
                rhs,
                Op::Mul,
                self.value * rhs.value,
                (rhs.value, self.value),
            ),
            (Some(_), None) => self * rhs.value,
            (None, _) => self.value * rhs,
        }
    }
}

impl<'t> Div for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn div(self, rhs: Self) -> Self {
        match (self.tape, rhs.tape) {
            (Some(_), Some(_)) => {
                let (a, b) = (self.value, rhs.value);
                // PyTorch's div backward: grad / other, -grad * self / (other * other).
                self.binary(rhs, Op::Div, a / b, (1.0 / b, -a / (b * b)))
            }
            (Some(_), None) => self / rhs.value,
            (None, _) => self.value / rhs,
        }
    }
}

impl<'t> Neg for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn neg(self) -> Self {
        self.unary(Op::Neg, -self.value, -1.0)
    }
}

impl<'t> Add<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn add(self, c: f64) -> Self {
        self.unary_const(Op::AddConst, self.value + c, 1.0, 1, c)
    }
}

impl<'t> Sub<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn sub(self, c: f64) -> Self {
        self.unary_const(Op::SubConst, self.value - c, 1.0, 1, c)
    }
}

impl<'t> Mul<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn mul(self, c: f64) -> Self {
        self.unary_const(Op::MulConst, self.value * c, c, 1, c)
    }
}

impl<'t> Div<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn div(self, c: f64) -> Self {
        self.unary_const(Op::DivConst, self.value / c, 1.0 / c, 1, c)
    }
}

impl<'t> Add<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline(always)]
    fn add(self, x: Var<'t>) -> Var<'t> {
        x.unary_const(Op::AddConst, self + x.value, 1.0, 0, self)
    }
}

impl<'t> Sub<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline(always)]
    fn sub(self, x: Var<'t>) -> Var<'t> {
        x.unary_const(Op::ConstSub, self - x.value, -1.0, 0, self)
    }
}

impl<'t> Mul<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline(always)]
    fn mul(self, x: Var<'t>) -> Var<'t> {
        x.unary_const(Op::MulConst, self * x.value, self, 0, self)
    }
}

impl<'t> Div<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline(always)]
    fn div(self, x: Var<'t>) -> Var<'t> {
        let v = x.value;
        x.unary_const(Op::ConstDiv, self / v, -self / (v * v), 0, self)
    }
}

// Values come from `f64`'s own `Scalar` impl so every engine computes bit-identical primal
// values; partials use the shared PyTorch-convention helpers from `ad` and its `Func` table.
impl<'t> Scalar for Var<'t> {
    #[inline(always)]
    fn constant(c: f64) -> Self {
        Self::konst(c)
    }
    /// On a [fused](Tape::fused) tape one node carrying the gradient `eval` computed: over
    /// consecutive nodes (a dense stack's outputs) a vector of partials swept in one pass,
    /// otherwise an [`Op::Sum`] with an edge per input. A plain tape lists every operation, so
    /// it takes the caller's formula.
    fn with_gradient(
        inputs: &[Self],
        eval: impl FnOnce(&[f64], &mut [f64]) -> f64,
    ) -> Option<Self> {
        let tape = Self::tape_of(inputs).filter(|t| t.fused)?;
        if let Some(first) = Self::consecutive_nodes(tape, inputs) {
            let (index, value) = tape.push_partials(first, inputs.len(), eval);
            return Some(Self::node(tape, index, value));
        }
        let values: Vec<f64> = inputs.iter().map(|v| v.value).collect();
        let mut gradient = vec![0.0; inputs.len()];
        let value = eval(&values, &mut gradient);
        Some(Self::record_n(
            tape,
            Op::Sum,
            value,
            inputs.iter().zip(gradient.iter().copied()),
        ))
    }
    fn dense_stack(
        layers: &[crate::ad::layer::Dense],
        params: &[Self],
        x: &[f64],
        batch: usize,
    ) -> Vec<Self> {
        Self::record_dense_stack(layers, params, DenseInput::Copied(x), batch)
    }
    fn dense_stack_shared(
        layers: &[crate::ad::layer::Dense],
        params: &[Self],
        x: &std::sync::Arc<[f64]>,
        batch: usize,
    ) -> Vec<Self> {
        Self::record_dense_stack(layers, params, DenseInput::Shared(x), batch)
    }
    #[inline(always)]
    fn value(&self) -> f64 {
        self.value
    }
    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        let x = self.value;
        self.unary(Op::Powi(n), Scalar::powi(x, n), powi_derivative(x, n))
    }
    #[inline(always)]
    fn powf(self, p: Self) -> Self {
        let (a, b) = (self.value, p.value);
        self.binary(p, Op::Powf, Scalar::powf(a, b), powf_partials(a, b))
    }
    #[inline(always)]
    fn exp(self) -> Self {
        self.call(Func::Exp, Scalar::exp(self.value))
    }
    #[inline(always)]
    fn ln(self) -> Self {
        self.call(Func::Ln, Scalar::ln(self.value))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        self.call(Func::Sqrt, Scalar::sqrt(self.value))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self.call(Func::Abs, Scalar::abs(self.value))
    }
    #[inline(always)]
    fn sin(self) -> Self {
        self.call(Func::Sin, Scalar::sin(self.value))
    }
    #[inline(always)]
    fn cos(self) -> Self {
        self.call(Func::Cos, Scalar::cos(self.value))
    }
    #[inline(always)]
    fn tan(self) -> Self {
        self.call(Func::Tan, Scalar::tan(self.value))
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        self.call(Func::Tanh, Scalar::tanh(self.value))
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        self.call(Func::Sigmoid, Scalar::sigmoid(self.value))
    }
    #[inline(always)]
    fn softplus(self) -> Self {
        self.call(Func::Softplus, Scalar::softplus(self.value))
    }
    #[inline(always)]
    fn relu(self) -> Self {
        self.call(Func::Relu, Scalar::relu(self.value))
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        let (a, b) = (self.value, other.value);
        self.binary(other, Op::Min, Scalar::min(a, b), min_partials(a, b))
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        let (a, b) = (self.value, other.value);
        self.binary(other, Op::Max, Scalar::max(a, b), max_partials(a, b))
    }

    /// One [`Op::Sum`] node with an edge per node the terms depend on.
    fn sum(terms: &[Self]) -> Self {
        // Same summation order as the default fold, so the value matches `f64` bit for bit.
        let value = terms.iter().fold(0.0, |acc, t| acc + t.value);
        match Self::tape_of(terms) {
            Some(tape) => {
                let sum = Self::record_n(tape, Op::Sum, value, terms.iter().map(|t| (t, 1.0)));
                if !tape.fused {
                    let constants = terms.iter().enumerate().filter(|(_, t)| t.tape.is_none());
                    tape.note_constants(sum.first(), constants.map(|(k, t)| (k, t.value)));
                }
                sum
            }
            None => Self::konst(value),
        }
    }

    /// On a [fused](Tape::fused) tape, one node for the whole sum, each term differentiated by
    /// forward mode over its window (an [`Op::WindowSum`] over consecutive nodes, else an
    /// [`Op::Sum`]); on a plain tape the default, so the tape view shows every operation.
    #[inline]
    fn sum_windows<const W: usize, T: WindowTerm<W>>(x: &[Self], term: &T) -> Self {
        Self::record_window_sum(x, term)
    }

    /// One [`Op::Dot`] node: `d/da[i] = b[i]`, `d/db[i] = a[i]`, an edge per non-constant factor.
    fn dot(a: &[Self], b: &[Self]) -> Self {
        let value = a
            .iter()
            .zip(b)
            .fold(0.0, |acc, (x, y)| acc + x.value * y.value);
        match Self::tape_of(a).or_else(|| Self::tape_of(b)) {
            Some(tape) => {
                let pairs = a
                    .iter()
                    .zip(b)
                    .flat_map(|(x, y)| [(x, y.value), (y, x.value)]);
                let dot = Self::record_n(tape, Op::Dot, value, pairs);
                if !tape.fused {
                    let factors = a.iter().zip(b).flat_map(|(x, y)| [x, y]).enumerate();
                    let constants = factors.filter(|(_, f)| f.tape.is_none());
                    tape.note_constants(dot.first(), constants.map(|(k, f)| (k, f.value)));
                }
                dot
            }
            None => Self::konst(value),
        }
    }

    /// One [`Op::DotConst`] node: `d/da[i] = c[i]`.
    fn dot_const(a: &[Self], c: &[f64]) -> Self {
        let value = a.iter().zip(c).fold(0.0, |acc, (x, &y)| acc + x.value * y);
        match Self::tape_of(a) {
            Some(tape) => {
                let dot =
                    Self::record_n(tape, Op::DotConst, value, a.iter().zip(c.iter().copied()));
                if !tape.fused {
                    // Written as `a0·c0 + a1·c1 + ...`: factor 2i is a[i], 2i + 1 is c[i].
                    let factors = a.iter().zip(c).enumerate().flat_map(|(i, (x, &ci))| {
                        let x = x.tape.is_none().then_some((2 * i, x.value));
                        x.into_iter().chain([(2 * i + 1, ci)])
                    });
                    tape.note_constants(dot.first(), factors);
                }
                dot
            }
            None => Self::konst(value),
        }
    }

    /// One block of [`Op::MatVecRow`] rows when the weights are `out.len() * inputs.len()`
    /// consecutive nodes (a model's parameters) and every input is recorded on the same tape;
    /// otherwise one [`Op::Dot`] per row.
    #[inline]
    fn matvec(weights: &[Self], inputs: &[Self], out: &mut [Self]) {
        Self::record_matvec(weights, inputs, out);
    }

    /// One block of [`Op::MatVecConstRow`] rows when the weights are consecutive nodes;
    /// otherwise one [`Op::DotConst`] per row.
    #[inline]
    fn matvec_const(weights: &[Self], inputs: &[f64], out: &mut [Self]) {
        Self::record_matvec_const(weights, inputs, out);
    }

    /// One [`Op::AffineOut`] block when the weights and the biases are each consecutive nodes
    /// (a model's parameters) and every input is on the same tape; otherwise the default.
    #[inline]
    fn affine_batch(
        weights: &[Self],
        biases: &[Self],
        inputs: &[Self],
        n: usize,
        out: &mut [Self],
    ) {
        Self::record_affine_batch(weights, biases, inputs, n, out);
    }

    /// One [`Op::AffineOut`] block with constant inputs when the weights and the biases are
    /// each consecutive nodes; otherwise the default.
    #[inline]
    fn affine_batch_const(
        weights: &[Self],
        biases: &[Self],
        inputs: &[f64],
        n: usize,
        out: &mut [Self],
    ) {
        Self::record_affine_batch_const(weights, biases, inputs, n, out);
    }
}
