//! Reverse mode: a Wengert-list [`Tape`] of nodes, each with its local partials stored as edges
//! in one flat array, and the [`Var`] handles objectives compute with. One forward pass records,
//! one backward sweep (a single loop, no recursion) gives the whole gradient.
//!
//! Layout: every node is a value (in one `f64` array) and a small fixed-size record (op, first
//! edge); the edges of node `i` are `edges[node[i].start .. node[i + 1].start]`, each
//! `(parent, local partial)`. Inputs recorded before anything else (a driver's) keep only their
//! value: their record would say "input, no edges" every time. So n-ary
//! nodes (`sum`, `dot`, `dot_const`) are one node with many edges, and the sweep is
//! `for i in (0..=out).rev() { for (p, w) in edges(i) { adj[p] += adj[i] * w } }`.
//!
//! A dense layer's matrix-vector product ([`Scalar::matvec`]) is the exception to "partials on
//! edges": its `m` outputs are `m` ordinary nodes with no edges, whose op points at one block
//! record (weights' first index, row length, input indices). The sweep, on reaching such a row,
//! reads the weight and input values straight from the nodes. A 16×16 layer thus stores
//! 16 nodes and 16 indices instead of 512 edges of 16 bytes, and the backward sweep reads
//! 16 bytes per multiply instead of 32 (the edges were what bound the time).
//!
//! A dense layer over a whole batch ([`Scalar::affine_batch`]) is one block too: `batch × m`
//! edge-free output nodes, the inputs' values and (node, derivative) pairs on the side. The
//! sweep meets the block once (at the first of its outputs it reaches, after every consumer)
//! and does the layer's backward as two matrix products, `dW = dZᵀ X` and `dX = dZ W`, with
//! nalgebra's `gemm`; the sweep then continues below the block. A 2-16-16-1 network on 200
//! samples is three such blocks plus the loss, instead of ~20,000 scalar nodes.
//!
//! A partially separable sum ([`Scalar::sum_windows`], e.g. extended Rosenbrock's
//! `sum_i f(x[i], x[i+1])`) is one node too: each term is differentiated by forward mode over
//! its window of `W` inputs, four windows at a time ([`window`](super::window)), and the node
//! ([`Op::WindowSum`]) keeps the `W` partials per term, tangent by tangent; its sweep is one
//! pass over the inputs' adjoints. No term records anything. When the sum runs over
//! [`gradient_with`]'s own input slice (or a part of it), recognised by its address, the tape
//! knows the inputs are consecutive nodes and reads their values from the node values, without
//! reading the 40-byte handles again. The sweep also stops above the tape's leading leaves
//! (the inputs), which have nothing to propagate.
//!
//! Constants are not recorded: a [`Var`] without a tape is just a value, so `x * 2.0` records
//! one `MulConst` node with one edge and `constant(2.0) * constant(3.0)` records nothing.
//!
//! Two kinds of tape. A plain tape ([`Tape::new`]) records every operation: it is the Wengert
//! list the tape view shows. A [fused](Tape::fused) tape, which the gradient engines use,
//! records a node only where a value comes to depend on more than two nodes: until then a
//! [`Var`] carries its value and its derivative with respect to the (at most two) nodes it
//! depends on, and each operation applies the chain rule to those two numbers (statement-level
//! preaccumulation, as in Adept or CoDiPack). `100 (y - x²)² + (1 - x)²` records nothing at all
//! beyond `x` and `y`; a consumer that needs a node (a `sum`, a block, a third node) gets the
//! two edges. Same gradients: the same local partials, multiplied along each path in forward
//! rather than reverse order (equal to rounding; tested against the plain tape and the other
//! engines on random expressions).
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

use nalgebra::{DMatrixView, DMatrixViewMut};
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::window::window_partials;
use super::{
    Scalar, ScalarFn, WindowTerm, abs_derivative, max_partials, min_partials, powf_partials,
    powi_derivative, relu_derivative, softplus_derivative,
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
    /// Sum of many terms: one edge per non-constant term (per node a term depends on, for a
    /// fused term or a [`Scalar::sum_windows`] sum over inputs that are not consecutive nodes).
    Sum,
    /// `sum_i a[i] * b[i]`: one edge per non-constant factor.
    Dot,
    /// `sum_i a[i] * c[i]` with constant `c`: one edge per non-constant `a[i]`.
    DotConst,
    /// A chain of unary operations fused on a [`Tape::fused`] tape, recorded as one node with
    /// one edge (the chain's derivative) where a consumer needs its value on a node.
    Fused,
    /// One output of a [`Scalar::affine_batch`] layer block (the block's index): no edges;
    /// the sweep does the whole layer's backward when it reaches the block's last output.
    AffineOut(u32),
    /// A [`Scalar::sum_windows`] sum over consecutive input nodes (the record's index): no
    /// edges, the record keeps each term's partials.
    WindowSum(u32),
    /// One row of a [`Scalar::matvec`] block (the block's index): no edges, the sweep reads
    /// the row's weights and the block's inputs from the nodes.
    MatVecRow(u32),
    /// One row of a [`Scalar::matvec_const`] block (the block's index): no edges.
    MatVecConstRow(u32),
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
            Op::Fused => "fused",
            Op::AffineOut(_) => "affine",
            Op::WindowSum(_) => "window_sum",
            Op::MatVecRow(_) => "matvec_row",
            Op::MatVecConstRow(_) => "matvec_const_row",
        }
    }
}

/// What one recorded node computes: 12 bytes (its value is in [`Inner::values`]). Its edges
/// run from `start` to the next node's `start`.
#[derive(Debug, Clone, Copy)]
struct Node {
    start: u32,
    op: Op,
}

/// What the leading inputs' [`Node`]s would say: an input, no edges (nothing precedes them).
const LEADING_INPUT: Node = Node {
    start: 0,
    op: Op::Input,
};

/// `d node / d parent`, stored on the child.
#[derive(Debug, Clone, Copy, Default)]
struct Edge {
    parent: u32,
    partial: f64,
}

/// A recorded matrix-vector product: rows are the nodes `out_start .. out_start + m`, row `i`'s
/// weights the nodes `weight_start + i * n ..` (consecutive, as a model's parameters are), its
/// inputs `block_inputs[inputs .. inputs + n]` (node indices, or constants in `block_consts` for
/// [`Op::MatVecConstRow`]).
#[derive(Debug, Clone, Copy)]
struct Block {
    out_start: u32,
    n: u32,
    weight_start: u32,
    inputs: u32,
    /// No input is one of the block's weights, so the sweep may update a row's weights and
    /// its inputs in two plain passes (each slot still sees the same additions in order).
    disjoint: bool,
}

/// A recorded dense layer over a batch ([`Scalar::affine_batch`]): outputs are the nodes
/// `out_start ..` (`batch × m`, row-major), weights the nodes `weight_start ..` (`m × n`), biases
/// `bias_start ..` (`m`); the inputs' values are `affine_values[values ..]` (`batch × n`) and,
/// unless they are constants, their (node, derivative) pairs `affine_inputs[values ..]`.
#[derive(Debug, Clone, Copy)]
struct Affine {
    out_start: u32,
    batch: u32,
    n: u32,
    m: u32,
    weight_start: u32,
    bias_start: u32,
    values: u32,
    consts: bool,
}

/// A recorded [`Scalar::sum_windows`] over the consecutive nodes `first ..`: `count` terms of
/// `w` inputs each, term `i` reading nodes `first + i .. first + i + w`; its partials are
/// `window_partials[partials ..]`, tangent by tangent (`[j * count + i]` is
/// `d term_i / d x[i + j]`).
#[derive(Debug, Clone, Copy)]
struct Windows {
    first: u32,
    w: u32,
    count: u32,
    partials: u32,
}

/// Everything behind the one `RefCell`, so recording an op costs a single borrow.
#[derive(Default)]
struct Inner {
    /// Every node's value, by node index.
    values: Vec<f64>,
    /// What the nodes from [`inputs`](Inner::inputs) on compute: node `k`'s is
    /// `nodes[k - inputs]`.
    nodes: Vec<Node>,
    /// How many inputs were recorded before anything else. They are nodes `0 .. inputs` with
    /// a value only ([`LEADING_INPUT`]), so a driver's 10,000 inputs cost 80 KB of values and no
    /// records: writing 240 KB of nodes was about a seventh of an extended-Rosenbrock gradient.
    inputs: usize,
    edges: Vec<Edge>,
    blocks: Vec<Block>,
    block_inputs: Vec<u32>,
    block_consts: Vec<f64>,
    affines: Vec<Affine>,
    /// Per affine input: its node and the derivative of the input with respect to that node
    /// (a fused input such as `tanh` of a node), at the same offsets as `affine_values`.
    affine_inputs: Vec<Edge>,
    affine_values: Vec<f64>,
    /// How many nodes at the start of the tape are leaves (inputs, recorded constants): the
    /// sweep stops above them, they have nothing to propagate.
    leaves: usize,
    windows: Vec<Windows>,
    /// The window sums' partials: `window_partials[.. window_len]` is in use. The buffer only
    /// grows, so a reused tape writes its partials without zero-filling them first.
    window_partials: Vec<f64>,
    window_len: usize,
    /// Working memory of [`Tape::push_windows`]: the window sum's input values, contiguous.
    window_values: Vec<f64>,
    /// While [`gradient_with`] evaluates: the address and length of its slice of input `Var`s
    /// (nodes `0 ..`). A window sum over part of that very slice knows its inputs are
    /// consecutive nodes without reading them (see [`Inner::driver_window`]), and reads their
    /// values from [`values`](Inner::values).
    driver: Option<(usize, usize)>,
    /// The last backward sweep's adjoints (empty until one ran, cleared with the tape).
    adjoints: Vec<f64>,
    /// Working memory of the affine blocks' backward (weights, bias sums, `dX`), kept across
    /// sweeps so a reused tape does not allocate it per block.
    affine_scratch: Vec<f64>,
}

impl Inner {
    /// Number of recorded nodes.
    #[inline(always)]
    fn len(&self) -> usize {
        self.values.len()
    }

    /// Records a node; returns its index.
    #[inline(always)]
    fn push_node(&mut self, value: f64, start: u32, op: Op) -> u32 {
        let index = index_u32(self.values.len());
        self.values.push(value);
        self.nodes.push(Node { start, op });
        index
    }

    /// What node `k` computes.
    #[inline]
    fn node(&self, k: usize) -> Node {
        match k.checked_sub(self.inputs) {
            Some(i) => self.nodes[i],
            None => LEADING_INPUT,
        }
    }

    /// If `x` is a part of [`gradient_with`]'s input slice, its first node. Comparing addresses
    /// is enough: that slice is borrowed unchanged for the whole evaluation, so `x[i]` is then
    /// input node `k + i`'s own value, and no `Var` needs to be read to know it.
    fn driver_window(&self, x: &[Var<'_>]) -> Option<u32> {
        let (start, len) = self.driver?;
        let offset = (x.as_ptr() as usize).checked_sub(start)?;
        let size = std::mem::size_of::<Var<'_>>();
        let k = offset / size;
        let found = offset % size == 0 && k + x.len() <= len;
        debug_assert!(
            !found
                || x.iter()
                    .zip(k..)
                    .all(|(v, i)| v.nodes == pack(i as u32, PLAIN))
        );
        found.then(|| index_u32(k))
    }
}

/// Clears [`Inner::driver`] when [`gradient_with`]'s evaluation ends, unwinding included, so
/// an address never outlives the slice it names.
struct DriverGuard<'t>(&'t Tape);

impl Drop for DriverGuard<'_> {
    fn drop(&mut self) {
        // Nothing else holds the tape's borrow here (an unwinding recorder has released its
        // own by now); `try_` only so that a drop during a panic can never panic again.
        if let Ok(mut inner) = self.0.inner.try_borrow_mut() {
            inner.driver = None;
        }
    }
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
    /// Unary operations are folded into their consumers' edges instead of recorded.
    fused: bool,
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
                values: Vec::with_capacity(nodes),
                nodes: Vec::with_capacity(nodes),
                edges: Vec::with_capacity(edges),
                adjoints: Vec::with_capacity(nodes),
                ..Inner::default()
            }),
            fused: false,
        }
    }

    /// An empty tape that records a node only where a value comes to depend on more than two
    /// nodes (see the module docs): `(y - x*x).powi(2) * 100 + (1 - x).powi(2)` records nothing
    /// beyond `x` and `y`, the derivative travels with the value. Same gradients (the same
    /// local partials, multiplied in forward order, as forward mode does), a fraction of the
    /// nodes; the price is that a fused value has no node, so no adjoint of its own
    /// ([`adjoint`](Tape::adjoint) gives `NaN` for it). The gradient engines use this tape; the
    /// tape view uses a plain one ([`Tape::new`]), which records every operation.
    ///
    /// ```
    /// use gradscope::ad::Scalar;
    /// use gradscope::ad::tape::Tape;
    ///
    /// let tape = Tape::fused();
    /// let x = tape.var(0.5);
    /// let y = tape.var(2.0);
    /// let f = (y - x * x).powi(2) * 100.0 + (1.0 - x).powi(2);
    /// assert!(f.is_fused());
    /// tape.backward(f);
    /// assert_eq!(tape.len(), 2); // x and y only
    /// let (a, b) = (1.0 - 0.5, 2.0 - 0.25);
    /// assert!((tape.adjoint(x) - (-2.0 * a - 400.0 * 0.5 * b)).abs() < 1e-12);
    /// assert_eq!(tape.adjoint(y), 200.0 * b);
    /// ```
    #[must_use]
    pub fn fused() -> Self {
        Self {
            fused: true,
            ..Self::default()
        }
    }

    /// Whether this tape fuses unary operations ([`Tape::fused`]).
    #[must_use]
    pub fn is_fused(&self) -> bool {
        self.fused
    }

    /// Records an independent variable with value `x`.
    #[inline]
    pub fn var(&self, x: f64) -> Var<'_> {
        Var::node(self, self.record_inputs(&[x]), x)
    }

    /// Records one independent variable per value.
    pub fn vars(&self, xs: &[f64]) -> Vec<Var<'_>> {
        let first = self.record_inputs(xs);
        xs.iter()
            .zip(first..)
            .map(|(&x, index)| Var::node(self, index, x))
            .collect()
    }

    /// Records one input node per value, all in one borrow; returns the first one's index.
    fn record_inputs(&self, xs: &[f64]) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let first = index_u32(inner.len());
        let start = index_u32(inner.edges.len());
        if inner.leaves == inner.len() {
            inner.leaves += xs.len();
        }
        if inner.nodes.is_empty() {
            inner.inputs += xs.len();
        } else {
            let input = Node {
                start,
                op: Op::Input,
            };
            inner.nodes.resize(inner.nodes.len() + xs.len(), input);
        }
        inner.values.extend_from_slice(xs);
        first
    }

    /// Records a constant node, for displays that want a constant on the tape. Arithmetic does
    /// not need it: [`Var::constant`] carries a value without a node.
    #[inline]
    pub fn constant(&self, c: f64) -> Var<'_> {
        let inner = &mut *self.inner.borrow_mut();
        if inner.leaves == inner.len() {
            inner.leaves += 1;
        }
        let start = index_u32(inner.edges.len());
        let index = inner.push_node(c, start, Op::Const);
        Var::node(self, index, c)
    }

    /// Number of recorded nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.borrow().len()
    }

    /// Whether nothing has been recorded since creation or the last [`clear`](Tape::clear).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inner.borrow().values.is_empty()
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
            nodes: inner.values.capacity(),
            edges: inner.edges.capacity(),
            adjoints: inner.adjoints.capacity(),
        }
    }

    /// Forgets every node and adjoint, keeping the allocations.
    pub fn clear(&mut self) {
        let inner = self.inner.get_mut();
        inner.values.clear();
        inner.nodes.clear();
        inner.inputs = 0;
        inner.edges.clear();
        inner.blocks.clear();
        inner.block_inputs.clear();
        inner.block_consts.clear();
        inner.affines.clear();
        inner.affine_inputs.clear();
        inner.affine_values.clear();
        inner.windows.clear();
        inner.window_len = 0;
        inner.driver = None;
        inner.leaves = 0;
        inner.adjoints.clear();
    }

    /// Records the `m` rows of a matrix-vector block with values `values`; `inputs` are node
    /// indices ([`Op::MatVecRow`]) or, with `consts`, constants ([`Op::MatVecConstRow`]).
    /// Returns the first row's index.
    fn push_block(
        &self,
        weight_start: u32,
        n: usize,
        inputs: BlockInputs<'_, '_>,
        values: impl ExactSizeIterator<Item = f64>,
    ) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let b = index_u32(inner.blocks.len());
        let out_start = index_u32(inner.len());
        let start = index_u32(inner.edges.len());
        let weights = weight_start..weight_start + index_u32(n * values.len());
        let (op, first, disjoint) = match inputs {
            BlockInputs::Vars(xs) => {
                let first = inner.block_inputs.len();
                inner.block_inputs.extend(xs.iter().map(Var::first));
                let disjoint = xs.iter().all(|x| !weights.contains(&x.first()));
                (Op::MatVecRow(b), first, disjoint)
            }
            BlockInputs::Consts(cs) => {
                let first = inner.block_consts.len();
                inner.block_consts.extend_from_slice(cs);
                (Op::MatVecConstRow(b), first, true)
            }
        };
        inner.blocks.push(Block {
            out_start,
            n: index_u32(n),
            weight_start,
            inputs: index_u32(first),
            disjoint,
        });
        let rows = values.len();
        inner.values.extend(values);
        inner
            .nodes
            .resize(inner.nodes.len() + rows, Node { start, op });
        out_start
    }

    #[inline]
    fn push1(&self, op: Op, value: f64, parent: u32, partial: f64) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let start = index_u32(inner.edges.len());
        let index = inner.push_node(value, start, op);
        inner.edges.push(Edge { parent, partial });
        index
    }

    #[inline]
    fn push2(&self, op: Op, value: f64, a: u32, da: f64, b: u32, db: f64) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let start = index_u32(inner.edges.len());
        let index = inner.push_node(value, start, op);
        inner.edges.extend_from_slice(&[
            Edge {
                parent: a,
                partial: da,
            },
            Edge {
                parent: b,
                partial: db,
            },
        ]);
        index
    }

    /// Records an n-ary node with exactly `count` edges, which `fill` writes in place.
    #[inline]
    fn push_filled(&self, op: Op, value: f64, count: usize, fill: impl FnOnce(&mut [Edge])) -> u32 {
        let (index, _) = self.push_extended(op, |edges| {
            let start = edges.len();
            edges.resize(start + count, Edge::default());
            fill(&mut edges[start..]);
            value
        });
        index
    }

    /// Records an n-ary node of kind `op` whose edges `fill` appends (returning the node's
    /// value), for a node whose edge count is not known in advance. `fill` must not touch
    /// the tape.
    #[inline]
    fn push_extended(&self, op: Op, fill: impl FnOnce(&mut Vec<Edge>) -> f64) -> (u32, f64) {
        let inner = &mut *self.inner.borrow_mut();
        let start = index_u32(inner.edges.len());
        let value = fill(&mut inner.edges);
        (inner.push_node(value, start, op), value)
    }

    /// Computes the terms of [`Scalar::sum_windows`] (see [`window_partials`]) and, if `x` are
    /// consecutive nodes of this tape, records the sum as an [`Op::WindowSum`]: returns its
    /// index and value. Otherwise records nothing and returns the value and the partials
    /// (tangent by tangent) for an edge list.
    #[allow(clippy::type_complexity)]
    fn push_windows<const W: usize, T: WindowTerm<W>>(
        &self,
        x: &[Var<'_>],
        term: &T,
    ) -> Result<(u32, f64), (f64, Vec<f64>)> {
        let inner = &mut *self.inner.borrow_mut();
        let (first, consecutive, driver) = match inner.driver_window(x) {
            Some(k) => (k, true, true),
            None => {
                let first = x[0].first();
                let mut consecutive = true;
                inner.window_values.clear();
                inner
                    .window_values
                    .extend(x.iter().zip(first..).map(|(v, k)| {
                        consecutive &= v.tape.is_some_and(|t| std::ptr::eq(t, self))
                            && v.nodes == pack(k, PLAIN);
                        v.value
                    }));
                (first, consecutive, false)
            }
        };
        let count = x.len() + 1 - W;
        let offset = inner.window_len;
        let end = offset + W * count;
        if inner.window_partials.len() < end {
            inner.window_partials.resize(end, 0.0);
        }
        let out = &mut inner.window_partials[offset..end];
        let value = if driver {
            let values = &inner.values[first as usize..][..x.len()];
            window_partials(values, |v| *v, |_| 1.0, term, out)
        } else if consecutive {
            window_partials(&inner.window_values, |v| *v, |_| 1.0, term, out)
        } else {
            let seed = |i: usize| f64::from(x[i].tape.is_some());
            window_partials(&inner.window_values, |v| *v, seed, term, out)
        };
        if !consecutive {
            return Err((value, inner.window_partials[offset..end].to_vec()));
        }
        inner.window_len = end;
        let b = index_u32(inner.windows.len());
        inner.windows.push(Windows {
            first,
            w: index_u32(W),
            count: index_u32(count),
            partials: index_u32(offset),
        });
        let start = index_u32(inner.edges.len());
        let index = inner.push_node(value, start, Op::WindowSum(b));
        Ok((index, value))
    }

    /// The backward sweep from `output`: afterwards [`adjoint`](Tape::adjoint) gives
    /// `d output / d v` for every `v` on the tape. Reuses the adjoint buffer; a constant
    /// `output` (no node) leaves every adjoint at zero.
    ///
    /// Every edge is visited once (no zero-adjoint skipping), so `0 * inf` gives `NaN` exactly
    /// as PyTorch's autograd would.
    pub fn backward(&self, output: Var<'_>) {
        let Inner {
            values,
            nodes,
            inputs,
            edges,
            blocks,
            block_inputs,
            block_consts,
            affines,
            affine_inputs,
            affine_values,
            leaves,
            windows,
            window_partials,
            window_len: _,
            window_values: _,
            driver: _,
            adjoints,
            affine_scratch,
        } = &mut *self.inner.borrow_mut();
        adjoints.clear();
        let Some(tape) = output.tape else {
            return;
        };
        debug_assert!(
            std::ptr::eq(tape, self),
            "backward on another tape's variable"
        );
        let mut seeds = [Edge {
            parent: 0,
            partial: 0.0,
        }; FORM];
        for (slot, e) in seeds.iter_mut().zip(output.edges(1.0)) {
            *slot = e;
        }
        let seeds = &seeds[..output.terms()];
        let out = seeds.iter().map(|e| e.parent).max().unwrap_or(0) as usize;
        if out >= values.len() {
            return;
        }
        let (values, inputs) = (&values[..], *inputs);
        // Only nodes up to `out` can reach it; later ones read as 0 through `adjoint`.
        adjoints.resize(out + 1, 0.0);
        // Where node `out + 1`'s edges would start: the leading inputs have none.
        let end = match (out + 1).checked_sub(inputs) {
            Some(k) => nodes.get(k).map_or(edges.len(), |n| n.start as usize),
            None => 0,
        };
        let nodes = &nodes[..(out + 1).saturating_sub(inputs)];
        // Local slices, not the `Vec`s, so the loop keeps pointers and lengths in registers.
        let edges = &edges[..end];
        let adj = &mut adjoints[..];
        // A fused output seeds every node it depends on with its derivative (one node with
        // scale 1 for a recorded output).
        for e in seeds {
            adj[e.parent as usize] += e.partial;
        }
        let mut hi = edges.len();
        let mut i = out + 1;
        // The leading inputs are leaves, so every node the sweep visits has a `Node`.
        let leaves = *leaves;
        debug_assert!(leaves >= inputs);
        while i > leaves {
            i -= 1;
            let node = &nodes[i - inputs];
            let lo = node.start as usize;
            if let Op::AffineOut(b) = node.op {
                // The whole layer at the first of its outputs the sweep meets (its last, or the
                // output itself): every consumer of every output has been swept by then. The
                // block's outputs have no edges, so the sweep goes on below the block.
                let blk = affines[b as usize];
                let (xs, x_values) = (&affine_inputs[..], &affine_values[..]);
                affine_backward(&blk, values, adj, xs, x_values, i, affine_scratch);
                i = blk.out_start as usize;
                hi = lo;
                continue;
            }
            let (below, here) = adj.split_at_mut(i);
            let a = here[0];
            match node.op {
                // The same updates, in the same order, as a `dot` node's edges (weight, then
                // input, for j = 0..n), so results match the per-row `dot` bit for bit.
                Op::MatVecRow(b) => {
                    let blk = blocks[b as usize];
                    let n = blk.n as usize;
                    let w0 = blk.weight_start as usize + (i - blk.out_start as usize) * n;
                    let first = blk.inputs as usize;
                    let xs = &block_inputs[first..first + n];
                    if blk.disjoint {
                        for (g, &x) in below[w0..w0 + n].iter_mut().zip(xs) {
                            *g += a * values[x as usize];
                        }
                        for (&x, w) in xs.iter().zip(&values[w0..w0 + n]) {
                            below[x as usize] += a * w;
                        }
                    } else {
                        for (w, &x) in (w0..w0 + n).zip(xs) {
                            let x = x as usize;
                            below[w] += a * values[x];
                            below[x] += a * values[w];
                        }
                    }
                }
                // Lane by lane, like the `Sum` edges of the same windows.
                Op::WindowSum(b) => {
                    let win = windows[b as usize];
                    let (first, count, w) =
                        (win.first as usize, win.count as usize, win.w as usize);
                    let offset = win.partials as usize;
                    let partials = &window_partials[offset..offset + w * count];
                    sweep_windows(&mut below[first..first + count + w - 1], partials, a, w);
                }
                Op::MatVecConstRow(b) => {
                    let blk = blocks[b as usize];
                    let n = blk.n as usize;
                    let w0 = blk.weight_start as usize + (i - blk.out_start as usize) * n;
                    let first = blk.inputs as usize;
                    let cs = &block_consts[first..first + n];
                    for (g, &c) in below[w0..w0 + n].iter_mut().zip(cs) {
                        *g += a * c;
                    }
                }
                // Parents precede their child, so every edge writes into `below`.
                _ => {
                    for e in &edges[lo..hi] {
                        below[e.parent as usize] += a * e.partial;
                    }
                }
            }
            hi = lo;
        }
    }

    /// `d output / d v` after the last [`backward`](Tape::backward); `0` for a constant, for a
    /// node recorded after the sweep, or before any sweep; `NaN` for a fused value, which has
    /// no node of its own (see [`Tape::fused`]).
    #[must_use]
    pub fn adjoint(&self, v: Var<'_>) -> f64 {
        match v.tape {
            Some(_) if v.lazy() => f64::NAN,
            Some(tape) => {
                debug_assert!(
                    std::ptr::eq(tape, self),
                    "adjoint of another tape's variable"
                );
                let inner = self.inner.borrow();
                inner
                    .adjoints
                    .get(v.first() as usize)
                    .copied()
                    .unwrap_or(0.0)
            }
            None => 0.0,
        }
    }

    /// The recorded nodes with their inputs, values and adjoints, for display.
    #[must_use]
    pub fn nodes(&self) -> Vec<NodeView> {
        let inner = self.inner.borrow();
        let len = inner.len();
        (0..len)
            .map(|i| {
                let node = inner.node(i);
                let lo = node.start as usize;
                let hi = if i + 1 < len {
                    inner.node(i + 1).start as usize
                } else {
                    inner.edges.len()
                };
                let inputs = match node.op {
                    Op::MatVecRow(b) => {
                        let blk = inner.blocks[b as usize];
                        let (n, first) = (blk.n as usize, blk.inputs as usize);
                        let w0 = blk.weight_start as usize + (i - blk.out_start as usize) * n;
                        let xs = &inner.block_inputs[first..first + n];
                        (w0..w0 + n)
                            .zip(xs)
                            .flat_map(|(w, &x)| [w, x as usize])
                            .collect()
                    }
                    Op::MatVecConstRow(b) => {
                        let blk = inner.blocks[b as usize];
                        let n = blk.n as usize;
                        let w0 = blk.weight_start as usize + (i - blk.out_start as usize) * n;
                        (w0..w0 + n).collect()
                    }
                    // Sample s, unit j: weight row j, then the sample's input nodes, then bias j.
                    Op::AffineOut(b) => {
                        let blk = inner.affines[b as usize];
                        let (n, m) = (blk.n as usize, blk.m as usize);
                        let q = i - blk.out_start as usize;
                        let (s, j) = (q / m, q % m);
                        let w0 = blk.weight_start as usize + j * n;
                        let mut inputs: Vec<usize> = (w0..w0 + n).collect();
                        if !blk.consts {
                            let first = blk.values as usize + s * n;
                            let xs = &inner.affine_inputs[first..first + n];
                            inputs.extend(xs.iter().map(|e| e.parent as usize));
                        }
                        inputs.push(blk.bias_start as usize + j);
                        inputs
                    }
                    // Lane by lane, as the sweep (and a `Sum` of the same windows) adds them.
                    Op::WindowSum(b) => {
                        let win = inner.windows[b as usize];
                        let (first, count) = (win.first as usize, win.count as usize);
                        (0..win.w as usize)
                            .flat_map(|j| first + j..first + j + count)
                            .collect()
                    }
                    _ => inner.edges[lo..hi]
                        .iter()
                        .map(|e| e.parent as usize)
                        .collect(),
                };
                NodeView {
                    op: node.op,
                    inputs,
                    value: inner.values[i],
                    adjoint: inner.adjoints.get(i).copied().unwrap_or(0.0),
                }
            })
            .collect()
    }
}

/// The backward sweep of one affine block, given the adjoints of its outputs up to node
/// `upto` (later outputs were not reached: zero). With `dz` the outputs' adjoints:
/// `dW[j][k] += Σ_s dz[s][j] x[s][k]`, `db[j] += Σ_s dz[s][j]`, and each input node gets
/// `derivative × Σ_j dz[s][j] W[j][k]`. Weights, biases and inputs precede the block, so
/// every update lands below `out_start`.
fn affine_backward(
    blk: &Affine,
    node_values: &[f64],
    adj: &mut [f64],
    inputs: &[Edge],
    values: &[f64],
    upto: usize,
    scratch: &mut Vec<f64>,
) {
    let (n, m, batch) = (blk.n as usize, blk.m as usize, blk.batch as usize);
    let (w0, b0) = (blk.weight_start as usize, blk.bias_start as usize);
    let out_start = blk.out_start as usize;
    let (low, high) = adj.split_at_mut(out_start);
    let reached = &high[..=upto - out_start];
    // A sweep from inside the block: the outputs it did not reach count as 0.
    let padded: Vec<f64>;
    let dz = if reached.len() == batch * m {
        reached
    } else {
        padded = reached
            .iter()
            .copied()
            .chain(std::iter::repeat(0.0))
            .take(batch * m)
            .collect();
        &padded
    };
    let first = blk.values as usize;
    let xs = &values[first..first + batch * n];
    // The products go through nalgebra's `gemm` (the `matrixmultiply` kernels at these sizes)
    // on views of the row-major buffers, no copies: a row-major `[rows][cols]` buffer is the
    // column-major `cols × rows` matrix, i.e. its transpose. So `dWᵀ += Xᵀ dZ` lands in the
    // weights' adjoints (row-major `m × n`) in place, and `dXᵀ = Wᵀ dZᵀ`.
    let dz_t = DMatrixView::from_slice(dz, m, batch);
    let dz_rows = DMatrixView::from_slice_with_strides(dz, batch, m, m, 1);
    let x_t = DMatrixView::from_slice(xs, n, batch);
    let mut gw_t = DMatrixViewMut::from_slice(&mut low[w0..w0 + m * n], n, m);
    gw_t.gemm(1.0, &x_t, &dz_rows, 1.0);
    let need = m + if blk.consts { 0 } else { m * n + batch * n };
    if scratch.len() < need {
        scratch.resize(need, 0.0);
    }
    let (db, rest) = scratch.split_at_mut(m);
    db.fill(0.0);
    for row in dz.chunks_exact(m) {
        for (s, &d) in db.iter_mut().zip(row) {
            *s += d;
        }
    }
    for (a, &s) in low[b0..b0 + m].iter_mut().zip(&*db) {
        *a += s;
    }
    if !blk.consts {
        let (w, rest) = rest.split_at_mut(m * n);
        w.copy_from_slice(&node_values[w0..w0 + m * n]);
        let dx = &mut rest[..batch * n];
        let w_t = DMatrixView::from_slice(w, n, m);
        DMatrixViewMut::from_slice(&mut *dx, n, batch).gemm(1.0, &w_t, &dz_t, 0.0);
        for (e, &d) in inputs[first..first + batch * n].iter().zip(&*dx) {
            low[e.parent as usize] += e.partial * d;
        }
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("Tape")
            .field("nodes", &inner.len())
            .field("edges", &inner.edges.len())
            .finish()
    }
}

/// A node index. More than `u32::MAX - 2` nodes (the top two values mark a [`Var`]'s form)
/// would need ~100 GB of tape, so the check is a debug assertion only.
#[inline]
fn index_u32(i: usize) -> u32 {
    debug_assert!(i < SINGLE as usize, "tape exceeds u32::MAX - 2 nodes");
    i as u32
}

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
    tape: Option<&'t Tape>,
    value: f64,
    /// `d value = scale[0] d node[first] + scale[1] d node[second]`, the two node indices packed
    /// in one word (`first` low, `second` high) so a `Var` is written whole, never byte by byte.
    /// `second` is [`PLAIN`] for a node's own value (scale 1) and [`SINGLE`] for a fused value
    /// of one node; on a [fused](Tape::fused) tape a value not yet recorded depends on up to
    /// [`FORM`] distinct nodes. Constants (no tape) depend on none.
    nodes: u64,
    scale: [f64; FORM],
}

/// How many nodes a fused value may depend on before it is recorded as a node.
const FORM: usize = 2;
/// `second` of a node's own value.
const PLAIN: u32 = u32::MAX;
/// `second` of a fused value of one node.
const SINGLE: u32 = u32::MAX - 1;

#[inline(always)]
fn pack(first: u32, second: u32) -> u64 {
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
    fn first(&self) -> u32 {
        self.nodes as u32
    }

    #[inline(always)]
    fn second(&self) -> u32 {
        (self.nodes >> 32) as u32
    }

    /// How many nodes the value depends on: 0 (constant), 1 or 2.
    #[inline(always)]
    fn terms(&self) -> usize {
        match (self.tape, self.second()) {
            (None, _) => 0,
            (Some(_), PLAIN | SINGLE) => 1,
            (Some(_), _) => 2,
        }
    }

    /// Whether the value is not its first node's own (a fused result).
    #[inline(always)]
    fn lazy(&self) -> bool {
        self.tape.is_some() && self.second() != PLAIN
    }

    #[inline(always)]
    fn konst(value: f64) -> Self {
        Var {
            tape: None,
            value,
            nodes: pack(0, PLAIN),
            scale: [0.0; FORM],
        }
    }

    /// The value of node `index` itself.
    #[inline(always)]
    fn node(tape: &'t Tape, index: u32, value: f64) -> Self {
        Var {
            tape: Some(tape),
            value,
            nodes: pack(index, PLAIN),
            scale: [1.0, 0.0],
        }
    }

    /// The (node, partial) pairs of this value's derivative, each partial times `factor`.
    #[inline]
    fn edges(&self, factor: f64) -> impl Iterator<Item = Edge> + '_ {
        let parents = [self.first(), self.second()];
        (0..self.terms()).map(move |k| Edge {
            parent: parents[k],
            partial: self.scale[k] * factor,
        })
    }

    /// This value as a node of its own: a fused value is recorded as one [`Op::Fused`] node
    /// (for consumers that read values from the nodes, such as matrix-vector blocks).
    #[inline]
    fn settled(self) -> Self {
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
            (Some(_), None) => self.unary(op, value, da),
            (None, Some(_)) => other.unary(op, value, db),
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
    fn tape_of(terms: &[Self]) -> Option<&'t Tape> {
        terms.iter().find_map(|t| t.tape)
    }

    /// Records an n-ary node whose edges are the terms of each `(var, factor)` pair.
    #[inline]
    fn record_n<'a>(
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
        self.unary(Op::AddConst, self.value + c, 1.0)
    }
}

impl<'t> Sub<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn sub(self, c: f64) -> Self {
        self.unary(Op::SubConst, self.value - c, 1.0)
    }
}

impl<'t> Mul<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn mul(self, c: f64) -> Self {
        self.unary(Op::MulConst, self.value * c, c)
    }
}

impl<'t> Div<f64> for Var<'t> {
    type Output = Var<'t>;
    #[inline(always)]
    fn div(self, c: f64) -> Self {
        self.unary(Op::DivConst, self.value / c, 1.0 / c)
    }
}

impl<'t> Add<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline(always)]
    fn add(self, x: Var<'t>) -> Var<'t> {
        x.unary(Op::AddConst, self + x.value, 1.0)
    }
}

impl<'t> Sub<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline(always)]
    fn sub(self, x: Var<'t>) -> Var<'t> {
        x.unary(Op::ConstSub, self - x.value, -1.0)
    }
}

impl<'t> Mul<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline(always)]
    fn mul(self, x: Var<'t>) -> Var<'t> {
        x.unary(Op::MulConst, self * x.value, self)
    }
}

impl<'t> Div<Var<'t>> for f64 {
    type Output = Var<'t>;
    #[inline(always)]
    fn div(self, x: Var<'t>) -> Var<'t> {
        let v = x.value;
        x.unary(Op::ConstDiv, self / v, -self / (v * v))
    }
}

// Values come from `f64`'s own `Scalar` impl so every engine computes bit-identical primal
// values; partials use the shared PyTorch-convention helpers from `ad`.
impl<'t> Scalar for Var<'t> {
    #[inline(always)]
    fn constant(c: f64) -> Self {
        Self::konst(c)
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
        let e = Scalar::exp(self.value);
        self.unary(Op::Exp, e, e)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        let x = self.value;
        self.unary(Op::Ln, Scalar::ln(x), 1.0 / x)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        let s = Scalar::sqrt(self.value);
        // PyTorch: grad / (2 * result), so +inf at 0.
        self.unary(Op::Sqrt, s, 1.0 / (2.0 * s))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        let x = self.value;
        self.unary(Op::Abs, Scalar::abs(x), abs_derivative(x))
    }
    #[inline(always)]
    fn sin(self) -> Self {
        let x = self.value;
        self.unary(Op::Sin, Scalar::sin(x), Scalar::cos(x))
    }
    #[inline(always)]
    fn cos(self) -> Self {
        let x = self.value;
        self.unary(Op::Cos, Scalar::cos(x), -Scalar::sin(x))
    }
    #[inline(always)]
    fn tan(self) -> Self {
        let t = Scalar::tan(self.value);
        // PyTorch: grad * (1 + result^2).
        self.unary(Op::Tan, t, 1.0 + t * t)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        let t = Scalar::tanh(self.value);
        self.unary(Op::Tanh, t, 1.0 - t * t)
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        let s = Scalar::sigmoid(self.value);
        self.unary(Op::Sigmoid, s, s * (1.0 - s))
    }
    #[inline(always)]
    fn softplus(self) -> Self {
        let x = self.value;
        self.unary(Op::Softplus, Scalar::softplus(x), softplus_derivative(x))
    }
    #[inline(always)]
    fn relu(self) -> Self {
        let x = self.value;
        self.unary(Op::Relu, Scalar::relu(x), relu_derivative(x))
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
            Some(tape) => Self::record_n(tape, Op::Sum, value, terms.iter().map(|t| (t, 1.0))),
            None => Self::konst(value),
        }
    }

    /// On a [fused](Tape::fused) tape, one node for the whole sum: each term's partials come
    /// from forward mode over its window (a [`DualVec`] with one lane per window input), so no
    /// term records anything. When `x` are consecutive nodes (a driver's inputs), the node is
    /// an [`Op::WindowSum`] that keeps only the partials (`W` per term) and whose sweep is `W`
    /// contiguous multiply-adds over the inputs' adjoints; otherwise an [`Op::Sum`] with one
    /// edge per (term, non-constant input), fused inputs getting a node first. Both list the
    /// partials lane by lane (every term's first input, then every second input, ...), so the
    /// two give the same adjoints bit for bit.
    ///
    /// Same value as the default (the terms summed left to right). The partials are forward
    /// mode's, including its convention that a zero tangent times a non-finite local
    /// derivative is zero. A plain tape records every operation (the default), so the tape
    /// view shows them.
    fn sum_windows<const W: usize, T: WindowTerm<W>>(x: &[Self], term: &T) -> Self {
        let tape = match Self::tape_of(x) {
            Some(tape) if tape.fused && W > 0 && x.len() >= W => tape,
            _ => return super::sum_windows_loops(x, term),
        };
        let count = x.len() - W + 1;
        let (index, value) = match tape.push_windows(x, term) {
            Ok(recorded) => recorded,
            Err((value, partials)) => {
                // Not consecutive nodes: one edge per (term, non-constant input), lane by lane.
                let settled: Vec<Self>;
                let x = if x.iter().any(Var::lazy) {
                    settled = x.iter().map(|v| v.settled()).collect();
                    &settled
                } else {
                    x
                };
                tape.push_extended(Op::Sum, |edges| {
                    edges.reserve(W * count);
                    for (j, lane) in partials.chunks_exact(count).enumerate() {
                        for (&g, v) in lane.iter().zip(&x[j..]) {
                            if v.tape.is_some() {
                                edges.push(Edge {
                                    parent: v.first(),
                                    partial: g,
                                });
                            }
                        }
                    }
                    value
                })
            }
        };
        Self::node(tape, index, value)
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
                Self::record_n(tape, Op::Dot, value, pairs)
            }
            None => Self::konst(value),
        }
    }

    /// One [`Op::DotConst`] node: `d/da[i] = c[i]`.
    fn dot_const(a: &[Self], c: &[f64]) -> Self {
        let value = a.iter().zip(c).fold(0.0, |acc, (x, &y)| acc + x.value * y);
        match Self::tape_of(a) {
            Some(tape) => {
                Self::record_n(tape, Op::DotConst, value, a.iter().zip(c.iter().copied()))
            }
            None => Self::konst(value),
        }
    }

    /// One block of [`Op::MatVecRow`] rows when the weights are `out.len() * inputs.len()`
    /// consecutive nodes (a model's parameters) and every input is recorded on the same tape;
    /// otherwise one [`Op::Dot`] per row.
    fn matvec(weights: &[Self], inputs: &[Self], out: &mut [Self]) {
        let n = inputs.len();
        match Self::block_weights(weights, out.len(), n) {
            Some((tape, w0))
                if inputs
                    .iter()
                    .all(|x| x.tape.is_some_and(|t| std::ptr::eq(t, tape))) =>
            {
                // The sweep reads the inputs' values from their nodes: fused inputs get one.
                let settled: Vec<Self>;
                let inputs = if inputs.iter().any(Var::lazy) {
                    settled = inputs.iter().map(|x| x.settled()).collect();
                    &settled
                } else {
                    inputs
                };
                Self::block_values(tape, weights, inputs, out, |x: Var<'t>| x.value);
                let values = out.iter().map(|o| o.value);
                let first = tape.push_block(w0, n, BlockInputs::Vars(inputs), values);
                Self::finish_block(first, out);
            }
            _ if n == 0 => out.fill(Self::konst(0.0)),
            _ => {
                for (o, row) in out.iter_mut().zip(weights.chunks_exact(n)) {
                    *o = Self::dot(row, inputs);
                }
            }
        }
    }

    /// One block of [`Op::MatVecConstRow`] rows when the weights are consecutive nodes;
    /// otherwise one [`Op::DotConst`] per row.
    fn matvec_const(weights: &[Self], inputs: &[f64], out: &mut [Self]) {
        let n = inputs.len();
        match Self::block_weights(weights, out.len(), n) {
            Some((tape, w0)) => {
                Self::block_values(tape, weights, inputs, out, |c: f64| c);
                let values = out.iter().map(|o| o.value);
                let first = tape.push_block(w0, n, BlockInputs::Consts(inputs), values);
                Self::finish_block(first, out);
            }
            None if n == 0 => out.fill(Self::konst(0.0)),
            None => {
                for (o, row) in out.iter_mut().zip(weights.chunks_exact(n)) {
                    *o = Self::dot_const(row, inputs);
                }
            }
        }
    }
    /// One [`Op::AffineOut`] block when the weights and the biases are each consecutive nodes
    /// (a model's parameters) and every input is on the same tape; otherwise the default.
    fn affine_batch(
        weights: &[Self],
        biases: &[Self],
        inputs: &[Self],
        n: usize,
        out: &mut [Self],
    ) {
        let Some((tape, w0, b0, batch)) =
            Self::affine_params(weights, biases, n, out.len(), inputs.len())
        else {
            return super::affine_batch_loops(weights, biases, inputs, n, out);
        };
        let mut inputs = &inputs[..batch * n];
        let mut settle = false;
        for x in inputs {
            match x.tape {
                Some(t) if std::ptr::eq(t, tape) => settle |= x.second() < SINGLE,
                _ => return super::affine_batch_loops(weights, biases, inputs, n, out),
            }
        }
        // An input that depends on two nodes gets a node of its own; one that depends on one
        // (a node, or `tanh` of one) enters as that node with its derivative.
        let settled: Vec<Self>;
        if settle {
            settled = inputs
                .iter()
                .map(|x| if x.terms() > 1 { x.settled() } else { *x })
                .collect();
            inputs = &settled;
        }
        let out = &mut out[..batch * biases.len()];
        Self::record_affine(
            tape,
            weights,
            biases,
            (w0, b0, n),
            AffineInputs::Vars(inputs),
            out,
        );
    }

    /// One [`Op::AffineOut`] block with constant inputs when the weights and the biases are
    /// each consecutive nodes; otherwise the default.
    fn affine_batch_const(
        weights: &[Self],
        biases: &[Self],
        inputs: &[f64],
        n: usize,
        out: &mut [Self],
    ) {
        match Self::affine_params(weights, biases, n, out.len(), inputs.len()) {
            Some((tape, w0, b0, batch)) => {
                let (values, out) = (&inputs[..batch * n], &mut out[..batch * biases.len()]);
                let values = AffineInputs::Consts(values);
                Self::record_affine(tape, weights, biases, (w0, b0, n), values, out);
            }
            None => super::affine_batch_const_loops(weights, biases, inputs, n, out),
        }
    }
}

impl<'t> Var<'t> {
    /// Where an affine block over `out_len` outputs and `inputs_len` input values would go:
    /// the tape, the first weight and bias indices and the batch size, if the weights
    /// (`m × n`) and biases (`m`) are each consecutive nodes' own values on one tape and the
    /// inputs cover at least one whole batch.
    fn affine_params(
        weights: &[Self],
        biases: &[Self],
        n: usize,
        out_len: usize,
        inputs_len: usize,
    ) -> Option<(&'t Tape, u32, u32, usize)> {
        let m = biases.len();
        let batch = out_len.checked_div(m).unwrap_or(0);
        if batch == 0 || inputs_len < batch * n {
            return None;
        }
        let (tape, w0) = Self::block_weights(weights, m, n)?;
        let (bias_tape, b0) = Self::block_weights(biases, m, 1)?;
        std::ptr::eq(tape, bias_tape).then_some((tape, w0, b0, batch))
    }

    /// Computes an affine block's outputs from the input values, records the block and points
    /// `out` at its nodes. Each output sums left to right over its row like `dot`, then adds
    /// the bias, so the values equal `f64`'s `dot(row, x) + b` bit for bit. The inputs' values
    /// and (node, derivative) pairs go straight into the tape's block buffers, the outputs
    /// straight into its nodes: nothing is allocated once the tape has grown.
    fn record_affine(
        tape: &'t Tape,
        weights: &[Self],
        biases: &[Self],
        (w0, b0, n): (u32, u32, usize),
        inputs: AffineInputs<'_, 't>,
        out: &mut [Self],
    ) {
        let m = biases.len();
        let inner = &mut *tape.inner.borrow_mut();
        let Inner {
            values: node_values,
            nodes,
            edges,
            affines,
            affine_inputs,
            affine_values,
            affine_scratch,
            ..
        } = inner;
        let b = index_u32(affines.len());
        let out_start = index_u32(node_values.len());
        let start = index_u32(edges.len());
        let offset = affine_values.len();
        let consts = match inputs {
            AffineInputs::Consts(values) => {
                affine_values.extend_from_slice(values);
                true
            }
            AffineInputs::Vars(xs) => {
                affine_values.extend(xs.iter().map(|x| x.value));
                affine_inputs.resize(offset, Edge::default());
                affine_inputs.extend(xs.iter().map(|x| Edge {
                    parent: x.first(),
                    partial: x.scale[0],
                }));
                false
            }
        };
        let batch = out.len() / m;
        affines.push(Affine {
            out_start,
            batch: index_u32(batch),
            n: index_u32(n),
            m: index_u32(m),
            weight_start: w0,
            bias_start: b0,
            values: index_u32(offset),
            consts,
        });
        // The weights packed for the lanes: outputs in groups of `LANES`, each group's weights
        // input-major, so that a group's `LANES` sums advance side by side in registers
        // (vectorisable) while each still adds its terms in `dot`'s order.
        let wide = m - m % LANES;
        affine_scratch.clear();
        for group in weights[..wide * n].chunks_exact(LANES * n) {
            for k in 0..n {
                affine_scratch.extend((0..LANES).map(|l| group[l * n + k].value));
            }
        }
        affine_scratch.extend(weights[wide * n..].iter().map(|w| w.value));
        affine_scratch.extend(biases.iter().map(|b| b.value));
        let (packed, bias) = affine_scratch.split_at(m * n);
        let (groups, rest) = packed.split_at(wide * n);
        let op = Op::AffineOut(b);
        let mut index = out_start;
        // Each group of outputs onto the tape and into `out` in one go (one capacity check).
        let mut emit = |o: &mut [Self], z: &[f64]| {
            node_values.extend_from_slice(z);
            nodes.resize(nodes.len() + z.len(), Node { start, op });
            for (o, &value) in o.iter_mut().zip(z) {
                *o = Self::node(tape, index, value);
                index += 1;
            }
        };
        let values = &affine_values[offset..offset + batch * n];
        for (x, o) in values.chunks_exact(n).zip(out.chunks_exact_mut(m)) {
            let (o_wide, o_rest) = o.split_at_mut(wide);
            let lanes = groups.chunks_exact(LANES * n).zip(bias.chunks_exact(LANES));
            for ((group, b), o) in lanes.zip(o_wide.chunks_exact_mut(LANES)) {
                let mut acc = [0.0; LANES];
                for (w, &xk) in group.chunks_exact(LANES).zip(x) {
                    for (a, &w) in acc.iter_mut().zip(w) {
                        *a += w * xk;
                    }
                }
                for (a, &b) in acc.iter_mut().zip(b) {
                    *a += b;
                }
                emit(o, &acc);
            }
            for ((o, row), &b) in o_rest
                .iter_mut()
                .zip(rest.chunks_exact(n))
                .zip(&bias[wide..])
            {
                let z = row.iter().zip(x).fold(0.0, |sum, (w, xk)| sum + w * xk);
                emit(std::slice::from_mut(o), &[z + b]);
            }
        }
    }
}

/// Outputs an affine block computes side by side (two SSE2 registers' worth, twice).
const LANES: usize = 8;

/// What an affine block multiplies its weights by.
enum AffineInputs<'a, 't> {
    Vars(&'a [Var<'t>]),
    Consts(&'a [f64]),
}

/// What a matrix-vector block multiplies its weights by.
enum BlockInputs<'a, 't> {
    Vars(&'a [Var<'t>]),
    Consts(&'a [f64]),
}

impl<'t> Var<'t> {
    /// The tape and first index of `weights` if they can head an `m × n` block: exactly `m * n`
    /// of them, all on one tape, with consecutive indices, each a node's own value.
    fn block_weights(weights: &[Self], m: usize, n: usize) -> Option<(&'t Tape, u32)> {
        let first = weights.first()?;
        let tape = first.tape?;
        let fits = m > 0
            && n > 0
            && weights.len() == m * n
            && weights.iter().zip(first.first()..).all(|(w, k)| {
                w.first() == k && !w.lazy() && w.tape.is_some_and(|t| std::ptr::eq(t, tape))
            });
        fits.then_some((tape, first.first()))
    }

    /// Values of the block rows into `out` (indices set by [`Var::finish_block`]), summed left
    /// to right like `dot`.
    fn block_values<T: Copy>(
        tape: &'t Tape,
        weights: &[Self],
        inputs: &[T],
        out: &mut [Self],
        value: impl Fn(T) -> f64,
    ) {
        for (o, row) in out.iter_mut().zip(weights.chunks_exact(inputs.len())) {
            let v = row
                .iter()
                .zip(inputs)
                .fold(0.0, |acc, (w, &x)| acc + w.value * value(x));
            *o = Var::node(tape, 0, v);
        }
    }

    fn finish_block(first: u32, out: &mut [Self]) {
        for (o, index) in out.iter_mut().zip(first..) {
            o.nodes = pack(index, PLAIN);
        }
    }
}

/// An [`Op::WindowSum`]'s sweep: `adj[i + j] += a * partials[j * count + i]` for every term `i`
/// and tangent `j`, each input receiving its additions in the order of `j` (as a `Sum` node's
/// edges listed lane by lane add them). `adj` spans the sum's inputs, `count + w - 1` of them.
fn sweep_windows(adj: &mut [f64], partials: &[f64], a: f64, w: usize) {
    let count = partials.len() / w;
    if w == 2 {
        // One pass over the inputs instead of two (extended Rosenbrock's case): measured 3-6 us
        // of a ~50 us gradient at n = 10,000. Each input still adds tangent 0's partial first.
        let (p0, p1) = partials.split_at(count);
        adj[0] += a * p0[0];
        for ((d, &g0), &g1) in adj[1..count].iter_mut().zip(&p0[1..]).zip(p1) {
            *d = (*d + a * g0) + a * g1;
        }
        adj[count] += a * p1[count - 1];
        return;
    }
    // One contiguous multiply-add pass per tangent: a single pass with `w` not known at
    // compile time does not vectorise: for W = 2 it made the whole gradient ~20 us slower.
    for (j, lane) in partials.chunks_exact(count).enumerate() {
        for (d, g) in adj[j..j + count].iter_mut().zip(lane) {
            *d += a * g;
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
/// Pass a closure rather than a method path: `Scalar::max`-style paths name one fixed lifetime
/// and are rejected as "not general enough". If `grad` and `x` differ in length, only the
/// common prefix of `grad` is written.
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
        let first = tape.record_inputs(x);
        for ((slot, &xi), index) in buf.iter_mut().zip(x).zip(first..) {
            *slot = Var::node(tape, index, xi);
        }
        sweep(tape, &buf[..x.len()], grad, eval)
    } else {
        let inputs = tape.vars(x);
        let _guard = DriverGuard(tape);
        {
            let inner = &mut *tape.inner.borrow_mut();
            inner.driver = Some((inputs.as_ptr() as usize, inputs.len()));
        }
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
    // Inputs are nodes 0..n, recorded first, so their adjoints are the buffer's prefix; the
    // buffer stops at the output's node (empty for a constant output), the rest is 0.
    let n = inputs.len().min(grad.len());
    let k = inner.adjoints.len().min(n);
    grad[..k].copy_from_slice(&inner.adjoints[..k]);
    grad[k..n].fill(0.0);
    out.value
}

/// The gradient of `f` at `x` with a fresh [fused](Tape::fused) tape; returns `f(x)`. Reuse a tape with
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
    let mut tape = Tape {
        fused: true,
        ..Tape::with_capacity(4 * x.len() + 16, 8 * x.len() + 32)
    };
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            e.is_constant() && Var::sum(&[k]).is_constant() && Var::dot(&[k], &[k]).is_constant()
        );
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
            (Op::Sin, vec![0], s, 1.0),
            (Op::Add, vec![2, 3], 6.0 + s, 1.0),
        ];
        assert_eq!(view.len(), expected.len());
        for (node, (op, inputs, value, adjoint)) in view.iter().zip(expected) {
            assert_eq!(
                node,
                &NodeView {
                    op,
                    inputs,
                    value,
                    adjoint
                }
            );
        }
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
                    node,
                    &NodeView {
                        op,
                        inputs,
                        value,
                        adjoint
                    }
                );
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
        crate::ad::affine_batch_const_loops(
            &[0.1, 0.2, 0.3, 0.4],
            &[0.5, 0.6],
            &data,
            2,
            &mut expect,
        );
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
}
