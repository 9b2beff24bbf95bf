//! Reverse mode: a Wengert-list [`Tape`] of nodes, each with its local partials stored as edges
//! in one flat array, and the [`Var`] handles objectives compute with. One forward pass records,
//! one backward sweep (a single loop, no recursion) gives the whole gradient.
//!
//! Layout: every node is a small fixed-size record (op, value, first edge); the edges of node `i`
//! are `edges[node[i].start .. node[i + 1].start]`, each `(parent, local partial)`. So n-ary
//! nodes (`sum`, `dot`, `dot_const`) are one node with many edges, and the sweep is
//! `for i in (0..=out).rev() { for (p, w) in edges(i) { adj[p] += adj[i] * w } }`.
//!
//! Constants are not recorded: a [`Var`] without a tape is just a value, so `x * 2.0` records
//! one `MulConst` node with one edge and `constant(2.0) * constant(3.0)` records nothing.
//!
//! ```
//! use gradscope::ad::Scalar;
//! use gradscope::ad::tape::Tape;
//!
//! let tape = Tape::new();
//! let x = tape.var(2.0);
//! let y = tape.var(3.0);
//! let f = x * y + x.sin();
//! tape.backward(f);
//! assert_eq!(f.value(), 6.0 + 2.0_f64.sin());
//! assert_eq!(tape.adjoint(x), 3.0 + 2.0_f64.cos()); // df/dx = y + cos(x)
//! assert_eq!(tape.adjoint(y), 2.0); // df/dy = x
//! ```

use std::cell::RefCell;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::{
    Scalar, ScalarFn, abs_derivative, max_partials, min_partials, powf_partials, powi_derivative,
    relu_derivative, softplus_derivative,
};

/// What a recorded node computes. `Copy` and one word, so a node stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// An independent variable ([`Tape::var`]); no edges.
    Input,
    /// A constant recorded on purpose by [`Tape::constant`]; arithmetic never records one.
    Const,
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    /// `x + c` or `c + x`.
    AddConst,
    /// `x - c`.
    SubConst,
    /// `c - x`.
    ConstSub,
    /// `x * c` or `c * x`.
    MulConst,
    /// `x / c`.
    DivConst,
    /// `c / x`.
    ConstDiv,
    Powi(i32),
    /// `a ^ b`; one edge when either side is a constant.
    Powf,
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
    /// `min(a, b)`; one edge when either side is a constant.
    Min,
    /// `max(a, b)`; one edge when either side is a constant.
    Max,
    /// Sum of many terms: one edge per non-constant term.
    Sum,
    /// `sum_i a[i] * b[i]`: one edge per non-constant factor.
    Dot,
    /// `sum_i a[i] * c[i]` with constant `c`: one edge per non-constant `a[i]`.
    DotConst,
}

impl Op {
    /// The lower-case name shown in the tape view.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Const => "const",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Neg => "neg",
            Op::AddConst => "add_const",
            Op::SubConst => "sub_const",
            Op::ConstSub => "const_sub",
            Op::MulConst => "mul_const",
            Op::DivConst => "div_const",
            Op::ConstDiv => "const_div",
            Op::Powi(_) => "powi",
            Op::Powf => "powf",
            Op::Exp => "exp",
            Op::Ln => "ln",
            Op::Sqrt => "sqrt",
            Op::Abs => "abs",
            Op::Sin => "sin",
            Op::Cos => "cos",
            Op::Tan => "tan",
            Op::Tanh => "tanh",
            Op::Sigmoid => "sigmoid",
            Op::Softplus => "softplus",
            Op::Relu => "relu",
            Op::Min => "min",
            Op::Max => "max",
            Op::Sum => "sum",
            Op::Dot => "dot",
            Op::DotConst => "dot_const",
        }
    }
}

/// One recorded node: 24 bytes. Its edges run from `start` to the next node's `start`.
#[derive(Debug, Clone, Copy)]
struct Node {
    value: f64,
    start: u32,
    op: Op,
}

/// `d node / d parent`, stored on the child.
#[derive(Debug, Clone, Copy)]
struct Edge {
    parent: u32,
    partial: f64,
}

/// Everything behind the one `RefCell`, so recording an op costs a single borrow.
#[derive(Default)]
struct Inner {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// The last backward sweep's adjoints (empty until one ran, cleared with the tape).
    adjoints: Vec<f64>,
}

/// A Wengert list: the nodes recorded while evaluating with [`Var`]s, and the adjoints of the
/// last [`backward`](Tape::backward) sweep.
///
/// Recording takes `&self` (interior mutability), so many `Var<'t>` can share the tape;
/// [`clear`](Tape::clear) takes `&mut self`, so no `Var` can survive it. Clearing keeps every
/// allocation: a tape reused for many gradients allocates only while it grows to its largest
/// evaluation.
///
/// Node indices are `u32`: a tape holds at most `u32::MAX` nodes (about 100 GB of nodes).
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::tape::{Op, Tape};
///
/// let tape = Tape::new();
/// let x = tape.var(0.5);
/// let y = (x * 2.0).exp(); // two nodes after the input: MulConst, Exp
/// tape.backward(y);
/// assert_eq!(tape.len(), 3);
/// assert_eq!(tape.nodes()[1].op, Op::MulConst);
/// assert_eq!(tape.adjoint(x), 2.0 * 1.0_f64.exp());
/// ```
#[derive(Default)]
pub struct Tape {
    inner: RefCell<Inner>,
}

/// Allocated sizes of a tape's buffers (see [`Tape::capacity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub nodes: usize,
    pub edges: usize,
    pub adjoints: usize,
}

/// One node as the tape view shows it: what it computes, from which nodes, its value and its
/// adjoint from the last backward sweep (`0` before one ran, or for nodes it did not reach).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub op: Op,
    /// Parent node indices, one per edge (a parent used twice is listed twice).
    pub inputs: Vec<usize>,
    pub value: f64,
    pub adjoint: f64,
}

impl Tape {
    /// An empty tape.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tape with room for `nodes` nodes and `edges` edges before it allocates.
    #[must_use]
    pub fn with_capacity(nodes: usize, edges: usize) -> Self {
        Self {
            inner: RefCell::new(Inner {
                nodes: Vec::with_capacity(nodes),
                edges: Vec::with_capacity(edges),
                adjoints: Vec::with_capacity(nodes),
            }),
        }
    }

    /// Records an independent variable with value `x`.
    #[inline]
    pub fn var(&self, x: f64) -> Var<'_> {
        self.leaf(Op::Input, x)
    }

    /// Records one independent variable per value.
    pub fn vars(&self, xs: &[f64]) -> Vec<Var<'_>> {
        xs.iter().map(|&x| self.var(x)).collect()
    }

    /// Records a constant node, for displays that want a constant on the tape. Arithmetic does
    /// not need it: [`Var::constant`] carries a value without a node.
    #[inline]
    pub fn constant(&self, c: f64) -> Var<'_> {
        self.leaf(Op::Const, c)
    }

    #[inline]
    fn leaf(&self, op: Op, value: f64) -> Var<'_> {
        let inner = &mut *self.inner.borrow_mut();
        let index = index_u32(inner.nodes.len());
        let start = index_u32(inner.edges.len());
        inner.nodes.push(Node { value, start, op });
        Var { tape: Some(self), index, value }
    }

    /// Number of recorded nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.borrow().nodes.len()
    }

    /// Whether nothing has been recorded since creation or the last [`clear`](Tape::clear).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inner.borrow().nodes.is_empty()
    }

    /// Number of recorded edges (local partials).
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.inner.borrow().edges.len()
    }

    /// Allocated sizes of the node, edge and adjoint buffers; they never shrink.
    #[must_use]
    pub fn capacity(&self) -> Capacity {
        let inner = self.inner.borrow();
        Capacity {
            nodes: inner.nodes.capacity(),
            edges: inner.edges.capacity(),
            adjoints: inner.adjoints.capacity(),
        }
    }

    /// Forgets every node and adjoint, keeping the allocations.
    pub fn clear(&mut self) {
        let inner = self.inner.get_mut();
        inner.nodes.clear();
        inner.edges.clear();
        inner.adjoints.clear();
    }

    #[inline]
    fn push1(&self, op: Op, value: f64, parent: u32, partial: f64) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let index = index_u32(inner.nodes.len());
        let start = index_u32(inner.edges.len());
        inner.nodes.push(Node { value, start, op });
        inner.edges.push(Edge { parent, partial });
        index
    }

    #[inline]
    fn push2(&self, op: Op, value: f64, a: u32, da: f64, b: u32, db: f64) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let index = index_u32(inner.nodes.len());
        let start = index_u32(inner.edges.len());
        inner.nodes.push(Node { value, start, op });
        inner.edges.extend_from_slice(&[
            Edge { parent: a, partial: da },
            Edge { parent: b, partial: db },
        ]);
        index
    }

    /// Records an n-ary node whose edges `edges` yields.
    #[inline]
    fn push_n(&self, op: Op, value: f64, edges: impl Iterator<Item = Edge>) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let index = index_u32(inner.nodes.len());
        let start = index_u32(inner.edges.len());
        inner.nodes.push(Node { value, start, op });
        inner.edges.extend(edges);
        index
    }

    /// The backward sweep from `output`: afterwards [`adjoint`](Tape::adjoint) gives
    /// `d output / d v` for every `v` on the tape. Reuses the adjoint buffer; a constant
    /// `output` (no node) leaves every adjoint at zero.
    ///
    /// Every edge is visited once (no zero-adjoint skipping), so `0 * inf` gives `NaN` exactly
    /// as PyTorch's autograd would.
    pub fn backward(&self, output: Var<'_>) {
        let inner = &mut *self.inner.borrow_mut();
        let n = inner.nodes.len();
        inner.adjoints.clear();
        inner.adjoints.resize(n, 0.0);
        let Some(tape) = output.tape else {
            return;
        };
        debug_assert!(std::ptr::eq(tape, self), "backward on another tape's variable");
        let out = output.index as usize;
        if out >= n {
            return;
        }
        let nodes = &inner.nodes;
        let edges = &inner.edges;
        let adj = &mut inner.adjoints;
        adj[out] = 1.0;
        let mut hi = nodes.get(out + 1).map_or(edges.len(), |next| next.start as usize);
        for i in (0..=out).rev() {
            let lo = nodes[i].start as usize;
            let a = adj[i];
            for e in &edges[lo..hi] {
                adj[e.parent as usize] += a * e.partial;
            }
            hi = lo;
        }
    }

    /// `d output / d v` after the last [`backward`](Tape::backward); `0` for a constant, for a
    /// node recorded after the sweep, or before any sweep.
    #[must_use]
    pub fn adjoint(&self, v: Var<'_>) -> f64 {
        match v.tape {
            Some(tape) => {
                debug_assert!(std::ptr::eq(tape, self), "adjoint of another tape's variable");
                let inner = self.inner.borrow();
                inner.adjoints.get(v.index as usize).copied().unwrap_or(0.0)
            }
            None => 0.0,
        }
    }

    /// The recorded nodes with their inputs, values and adjoints, for display.
    #[must_use]
    pub fn nodes(&self) -> Vec<NodeView> {
        let inner = self.inner.borrow();
        let nodes = &inner.nodes;
        (0..nodes.len())
            .map(|i| {
                let lo = nodes[i].start as usize;
                let hi = nodes.get(i + 1).map_or(inner.edges.len(), |next| next.start as usize);
                NodeView {
                    op: nodes[i].op,
                    inputs: inner.edges[lo..hi].iter().map(|e| e.parent as usize).collect(),
                    value: nodes[i].value,
                    adjoint: inner.adjoints.get(i).copied().unwrap_or(0.0),
                }
            })
            .collect()
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("Tape")
            .field("nodes", &inner.nodes.len())
            .field("edges", &inner.edges.len())
            .finish()
    }
}

/// A node index. More than `u32::MAX` nodes would need ~100 GB of tape, so the check is a
/// debug assertion only.
#[inline]
fn index_u32(i: usize) -> u32 {
    debug_assert!(u32::try_from(i).is_ok(), "tape exceeds u32::MAX nodes");
    i as u32
}

/// A value on a [`Tape`] (or a constant with no tape). `Copy`, 24 bytes; the lifetime ties it to
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
    tape: Option<&'t Tape>,
    index: u32,
    value: f64,
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tape {
            Some(_) => write!(f, "Var(#{} = {:?})", self.index, self.value),
            None => write!(f, "Var(const {:?})", self.value),
        }
    }
}

impl<'t> Var<'t> {
    /// The node index on the tape, or `None` for a constant.
    #[must_use]
    pub fn index(&self) -> Option<usize> {
        self.tape.map(|_| self.index as usize)
    }

    /// Whether this is a constant (no node, derivative zero everywhere).
    #[must_use]
    pub fn is_constant(&self) -> bool {
        self.tape.is_none()
    }

    #[inline]
    fn konst(value: f64) -> Self {
        Var { tape: None, index: 0, value }
    }

    /// `op(self)` with `d op / d self = partial`.
    #[inline]
    fn unary(self, op: Op, value: f64, partial: f64) -> Self {
        match self.tape {
            Some(t) => Var { tape: Some(t), index: t.push1(op, value, self.index, partial), value },
            None => Self::konst(value),
        }
    }

    /// `op(self, other)` with local partials `da`, `db`; one edge if either side is constant.
    #[inline]
    fn binary(self, other: Self, op: Op, value: f64, (da, db): (f64, f64)) -> Self {
        match (self.tape, other.tape) {
            (Some(t), Some(u)) => {
                debug_assert!(std::ptr::eq(t, u), "variables from two tapes combined");
                let index = t.push2(op, value, self.index, da, other.index, db);
                Var { tape: Some(t), index, value }
            }
            (Some(_), None) => self.unary(op, value, da),
            (None, Some(_)) => other.unary(op, value, db),
            (None, None) => Self::konst(value),
        }
    }

    /// The tape any of `terms` lives on, if one does.
    #[inline]
    fn tape_of(terms: &[Self]) -> Option<&'t Tape> {
        terms.iter().find_map(|t| t.tape)
    }
}

impl<'t> Add for Var<'t> {
    type Output = Var<'t>;
    #[inline]
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
    #[inline]
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
    #[inline]
    fn mul(self, rhs: Self) -> Self {
        match (self.tape, rhs.tape) {
            (Some(_), Some(_)) => {
                self.binary(rhs, Op::Mul, self.value * rhs.value, (rhs.value, self.value))
            }
            (Some(_), None) => self * rhs.value,
            (None, _) => self.value * rhs,
        }
    }
}

impl<'t> Div for Var<'t> {
    type Output = Var<'t>;
    #[inline]
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
    #[inline]
    fn neg(self) -> Self {
        self.unary(Op::Neg, -self.value, -1.0)
    }
}

impl<'t> Add<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline]
    fn add(self, c: f64) -> Self {
        self.unary(Op::AddConst, self.value + c, 1.0)
    }
}

impl<'t> Sub<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline]
    fn sub(self, c: f64) -> Self {
        self.unary(Op::SubConst, self.value - c, 1.0)
    }
}

impl<'t> Mul<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline]
    fn mul(self, c: f64) -> Self {
        self.unary(Op::MulConst, self.value * c, c)
    }
}

impl<'t> Div<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline]
    fn div(self, c: f64) -> Self {
        self.unary(Op::DivConst, self.value / c, 1.0 / c)
    }
}

impl<'t> Add<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline]
    fn add(self, x: Var<'t>) -> Var<'t> {
        x.unary(Op::AddConst, self + x.value, 1.0)
    }
}

impl<'t> Sub<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline]
    fn sub(self, x: Var<'t>) -> Var<'t> {
        x.unary(Op::ConstSub, self - x.value, -1.0)
    }
}

impl<'t> Mul<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline]
    fn mul(self, x: Var<'t>) -> Var<'t> {
        x.unary(Op::MulConst, self * x.value, self)
    }
}

impl<'t> Div<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline]
    fn div(self, x: Var<'t>) -> Var<'t> {
        let v = x.value;
        x.unary(Op::ConstDiv, self / v, -self / (v * v))
    }
}

// Values come from `f64`'s own `Scalar` impl so every engine computes bit-identical primal
// values; partials use the shared PyTorch-convention helpers from `ad`.
impl<'t> Scalar for Var<'t> {
    #[inline]
    fn constant(c: f64) -> Self {
        Self::konst(c)
    }
    #[inline]
    fn value(&self) -> f64 {
        self.value
    }
    #[inline]
    fn powi(self, n: i32) -> Self {
        let x = self.value;
        self.unary(Op::Powi(n), Scalar::powi(x, n), powi_derivative(x, n))
    }
    #[inline]
    fn powf(self, p: Self) -> Self {
        let (a, b) = (self.value, p.value);
        self.binary(p, Op::Powf, Scalar::powf(a, b), powf_partials(a, b))
    }
    #[inline]
    fn exp(self) -> Self {
        let e = Scalar::exp(self.value);
        self.unary(Op::Exp, e, e)
    }
    #[inline]
    fn ln(self) -> Self {
        let x = self.value;
        self.unary(Op::Ln, Scalar::ln(x), 1.0 / x)
    }
    #[inline]
    fn sqrt(self) -> Self {
        let s = Scalar::sqrt(self.value);
        // PyTorch: grad / (2 * result), so +inf at 0.
        self.unary(Op::Sqrt, s, 1.0 / (2.0 * s))
    }
    #[inline]
    fn abs(self) -> Self {
        let x = self.value;
        self.unary(Op::Abs, Scalar::abs(x), abs_derivative(x))
    }
    #[inline]
    fn sin(self) -> Self {
        let x = self.value;
        self.unary(Op::Sin, Scalar::sin(x), Scalar::cos(x))
    }
    #[inline]
    fn cos(self) -> Self {
        let x = self.value;
        self.unary(Op::Cos, Scalar::cos(x), -Scalar::sin(x))
    }
    #[inline]
    fn tan(self) -> Self {
        let t = Scalar::tan(self.value);
        // PyTorch: grad * (1 + result^2).
        self.unary(Op::Tan, t, 1.0 + t * t)
    }
    #[inline]
    fn tanh(self) -> Self {
        let t = Scalar::tanh(self.value);
        self.unary(Op::Tanh, t, 1.0 - t * t)
    }
    #[inline]
    fn sigmoid(self) -> Self {
        let s = Scalar::sigmoid(self.value);
        self.unary(Op::Sigmoid, s, s * (1.0 - s))
    }
    #[inline]
    fn softplus(self) -> Self {
        let x = self.value;
        self.unary(Op::Softplus, Scalar::softplus(x), softplus_derivative(x))
    }
    #[inline]
    fn relu(self) -> Self {
        let x = self.value;
        self.unary(Op::Relu, Scalar::relu(x), relu_derivative(x))
    }
    #[inline]
    fn min(self, other: Self) -> Self {
        let (a, b) = (self.value, other.value);
        self.binary(other, Op::Min, Scalar::min(a, b), min_partials(a, b))
    }
    #[inline]
    fn max(self, other: Self) -> Self {
        let (a, b) = (self.value, other.value);
        self.binary(other, Op::Max, Scalar::max(a, b), max_partials(a, b))
    }

    /// One [`Op::Sum`] node with an edge per non-constant term.
    fn sum(terms: &[Self]) -> Self {
        // Same summation order as the default fold, so the value matches `f64` bit for bit.
        let value = terms.iter().fold(0.0, |acc, t| acc + t.value);
        match Self::tape_of(terms) {
            Some(tape) => {
                let edges = terms.iter().filter(|t| t.tape.is_some());
                let edges = edges.map(|t| Edge { parent: t.index, partial: 1.0 });
                Var { tape: Some(tape), index: tape.push_n(Op::Sum, value, edges), value }
            }
            None => Self::konst(value),
        }
    }

    /// One [`Op::Dot`] node: `d/da[i] = b[i]`, `d/db[i] = a[i]`, an edge per non-constant factor.
    fn dot(a: &[Self], b: &[Self]) -> Self {
        let value = a.iter().zip(b).fold(0.0, |acc, (x, y)| acc + x.value * y.value);
        match Self::tape_of(a).or_else(|| Self::tape_of(b)) {
            Some(tape) => {
                let edges = a.iter().zip(b).flat_map(|(x, y)| {
                    let ex = x.tape.map(|_| Edge { parent: x.index, partial: y.value });
                    let ey = y.tape.map(|_| Edge { parent: y.index, partial: x.value });
                    ex.into_iter().chain(ey)
                });
                Var { tape: Some(tape), index: tape.push_n(Op::Dot, value, edges), value }
            }
            None => Self::konst(value),
        }
    }

    /// One [`Op::DotConst`] node: `d/da[i] = c[i]`.
    fn dot_const(a: &[Self], c: &[f64]) -> Self {
        let value = a.iter().zip(c).fold(0.0, |acc, (x, &y)| acc + x.value * y);
        match Self::tape_of(a) {
            Some(tape) => {
                let edges = a.iter().zip(c).filter(|(x, _)| x.tape.is_some());
                let edges = edges.map(|(x, &y)| Edge { parent: x.index, partial: y });
                Var { tape: Some(tape), index: tape.push_n(Op::DotConst, value, edges), value }
            }
            None => Self::konst(value),
        }
    }
}

/// Inputs up to this many live in a stack buffer in [`gradient_with`], so a small gradient does
/// not allocate at all once the tape has grown.
const STACK_INPUTS: usize = 16;

/// The gradient of `eval` at `x` on a reused tape: clears `tape`, records `x` as inputs, runs
/// `eval` once, sweeps backward once, writes `d f / d x[i]` into `grad[i]` and returns `f(x)`.
///
/// `eval` must work for any tape lifetime (`for<'t>`), which a closure calling a generic method
/// satisfies directly: `|v| objective.eval_var(v)` with
/// `fn eval_var<'t>(&self, x: &[Var<'t>]) -> Var<'t>`, or `|v| f.eval(v)` for a [`ScalarFn`].
/// If `grad` and `x` differ in length, only the common prefix of `grad` is written.
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::tape::{Tape, gradient_with};
///
/// let mut tape = Tape::new();
/// let mut grad = [0.0; 2];
/// let f = gradient_with(&mut tape, &[2.0, 3.0], &mut grad, |v| v[0] * v[1] + v[0].sin());
/// assert_eq!(f, 6.0 + 2.0_f64.sin());
/// assert_eq!(grad, [3.0 + 2.0_f64.cos(), 2.0]);
/// ```
pub fn gradient_with(
    tape: &mut Tape,
    x: &[f64],
    grad: &mut [f64],
    eval: impl for<'t> FnOnce(&[Var<'t>]) -> Var<'t>,
) -> f64 {
    tape.clear();
    let tape: &Tape = tape;
    if x.len() <= STACK_INPUTS {
        let mut buf = [Var::konst(0.0); STACK_INPUTS];
        for (slot, &xi) in buf.iter_mut().zip(x) {
            *slot = tape.var(xi);
        }
        sweep(tape, &buf[..x.len()], grad, eval)
    } else {
        let inputs = tape.vars(x);
        sweep(tape, &inputs, grad, eval)
    }
}

#[inline]
fn sweep<'t>(
    tape: &'t Tape,
    inputs: &[Var<'t>],
    grad: &mut [f64],
    eval: impl FnOnce(&[Var<'t>]) -> Var<'t>,
) -> f64 {
    let out = eval(inputs);
    tape.backward(out);
    let inner = tape.inner.borrow();
    // Inputs are nodes 0..n, recorded first, so their adjoints are the buffer's prefix.
    for (g, a) in grad.iter_mut().zip(&inner.adjoints[..inputs.len()]) {
        *g = *a;
    }
    out.value
}

/// The gradient of `f` at `x` with a fresh tape; returns `f(x)`. Reuse a tape with
/// [`gradient_on`] when computing many gradients.
///
/// ```
/// use gradscope::ad::{Scalar, ScalarFn};
/// use gradscope::ad::tape::gradient;
///
/// struct Rosenbrock;
/// impl ScalarFn for Rosenbrock {
///     fn dim(&self) -> usize { 2 }
///     fn eval<S: Scalar>(&self, x: &[S]) -> S {
///         (S::constant(1.0) - x[0]).powi(2) + (x[1] - x[0] * x[0]).powi(2) * 100.0
///     }
/// }
/// let mut grad = [0.0; 2];
/// let f = gradient(&Rosenbrock, &[0.0, 1.0], &mut grad);
/// assert_eq!((f, grad), (101.0, [-2.0, 200.0]));
/// ```
pub fn gradient<F: ScalarFn>(f: &F, x: &[f64], grad: &mut [f64]) -> f64 {
    let mut tape = Tape::with_capacity(4 * x.len() + 16, 8 * x.len() + 32);
    gradient_on(&mut tape, f, x, grad)
}

/// The gradient of `f` at `x` on a reused `tape` (cleared first); returns `f(x)`.
///
/// ```
/// use gradscope::ad::{Scalar, ScalarFn};
/// use gradscope::ad::tape::{Tape, gradient_on};
///
/// struct Norm2;
/// impl ScalarFn for Norm2 {
///     fn dim(&self) -> usize { 3 }
///     fn eval<S: Scalar>(&self, x: &[S]) -> S { S::dot(x, x) }
/// }
/// let mut tape = Tape::new();
/// let mut grad = [0.0; 3];
/// assert_eq!(gradient_on(&mut tape, &Norm2, &[1.0, 2.0, 3.0], &mut grad), 14.0);
/// assert_eq!(grad, [2.0, 4.0, 6.0]);
/// ```
pub fn gradient_on<F: ScalarFn>(tape: &mut Tape, f: &F, x: &[f64], grad: &mut [f64]) -> f64 {
    gradient_with(tape, x, grad, |v| f.eval(v))
}
