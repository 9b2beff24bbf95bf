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
//! A dense layer's matrix-vector product ([`Scalar::matvec`](crate::ad::Scalar::matvec)) is the exception to "partials on
//! edges": its `m` outputs are `m` ordinary nodes with no edges, whose op points at one block
//! record (weights' first index, row length, input indices). The sweep, on reaching such a row,
//! reads the weight and input values straight from the nodes. A 16×16 layer thus stores
//! 16 nodes and 16 indices instead of 512 edges of 16 bytes, and the backward sweep reads
//! 16 bytes per multiply instead of 32 (the edges were what bound the time).
//!
//! A dense layer over a whole batch ([`Scalar::affine_batch`](crate::ad::Scalar::affine_batch)) is one block too: `batch × m`
//! edge-free output nodes, the inputs' values and (node, derivative) pairs on the side. The
//! sweep meets the block once (at the first of its outputs it reaches, after every consumer)
//! and does the layer's backward as two matrix products, `dW = dZᵀ X` and `dX = dZ W`, with
//! nalgebra's `gemm`; the sweep then continues below the block. A 2-16-16-1 network on 200
//! samples is three such blocks plus the loss, instead of ~20,000 scalar nodes.
//!
//! A partially separable sum ([`Scalar::sum_windows`](crate::ad::Scalar::sum_windows), e.g. extended Rosenbrock's
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
//! Where things are. This file owns the storage (the [`Tape`], its node, edge and block
//! records) and the primitives that append to it; the rest is split by concern, and everything
//! public is re-exported here (`gradscope::ad::tape::{Tape, Var, Op, NodeView, gradient_with,
//! ...}`):
//! - `op`: [`Op`], what a node computes, its name and how it is written out;
//! - `var`: [`Var`], its operators, the elementary functions and the n-ary `sum`/`dot` nodes;
//! - `block`: block recording (matrix-vector rows, dense layers over a batch, window sums);
//! - `sweep`: the backward sweep, blocks included, and [`Tape::adjoint`];
//! - `view`: [`Tape::nodes`] as [`NodeView`]s, for the tape view;
//! - `driver`: [`gradient_with`], [`gradient`], [`gradient_on`].
//!
//! The split moved code without changing it: everything on the hot path is `#[inline]`,
//! generic, or reached through the same non-inlined functions as before (`Var`'s block
//! methods are `#[inline]` forwarders to them). callgrind counts the same instructions per
//! gradient except in [`Tape::backward`], which no longer inlines the affine and window-sum
//! sweeps and is a little cheaper for it (BENCHMARKS.md, section 7).
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

mod block;
mod driver;
mod op;
mod sweep;
mod var;
mod view;

#[cfg(test)]
mod tests;

use std::cell::RefCell;

pub use driver::{gradient, gradient_on, gradient_with};
pub use op::Op;
pub use var::Var;
pub use view::{NodeView, Operand};

use var::SINGLE;

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

/// A constant operand of a node on a plain tape ([`Tape::new`]), kept for display only: the
/// sweep needs the node's local partial, never the constant itself, so a fused tape (the
/// engines') records none and its hot path does not change. `position` counts the node's
/// operands as written (`c - x`: the constant is operand 0), nodes and constants together.
#[derive(Debug, Clone, Copy)]
struct Constant {
    node: u32,
    position: u32,
    value: f64,
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

/// A recorded dense layer over a batch ([`Scalar::affine_batch`](crate::ad::Scalar::affine_batch)): outputs are the nodes
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

/// A recorded [`Scalar::sum_windows`](crate::ad::Scalar::sum_windows) over the consecutive nodes `first ..`: `count` terms of
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

/// A recorded dense layer of a [`Scalar::dense_stack`](crate::ad::Scalar::dense_stack)
/// ([`Op::Dense`]): weights the nodes `weight_start ..` (`m × n`), biases `bias_start ..`
/// (`m`); its `batch × n` input values are `layer_values[x ..]` (the data for a first layer,
/// the previous layer's outputs otherwise), its outputs `layer_values[h ..]` and their
/// derivatives with respect to the pre-activations right after (`batch × m` each); the
/// outputs' adjoints are `layer_adjoints[h ..]`.
#[derive(Debug, Clone, Copy)]
struct DenseRec {
    weight_start: u32,
    bias_start: u32,
    n: u32,
    m: u32,
    batch: u32,
    activation: crate::ad::layer::Activation,
    x: usize,
    /// The inputs are [`Inner::dense_inputs`]`[k]` from index 0 instead (shared data, not
    /// copied into `layer_values`).
    shared: Option<u32>,
    /// The inputs are the previous layer's outputs, so the backward passes them `dX`.
    from_layer: bool,
    h: usize,
    /// First of the [`Op::DenseOut`] nodes holding the outputs, if the stack ends here.
    out_nodes: Option<u32>,
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
    /// A plain tape's constant operands, in node order (empty on a fused tape).
    constants: Vec<Constant>,
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
    denses: Vec<DenseRec>,
    /// The dense layers' inputs, outputs and derivatives (see [`DenseRec`]); kept across
    /// gradients like every buffer here, so a training step allocates nothing once grown.
    layer_values: Vec<f64>,
    /// How much of `layer_values` the current recording uses. [`Tape::clear`] resets this, not
    /// the buffer's length, so the next gradient overwrites the slots in place instead of
    /// zero-filling them again (every slot is written before it is read).
    layer_len: usize,
    /// The adjoints of `layer_values` (only the outputs' are used, each written whole before it
    /// is read); its length outlives [`Tape::clear`], and nothing zeroes it.
    layer_adjoints: Vec<f64>,
    /// Input rows a dense stack reads by reference ([`DenseInput::Shared`]): a full-batch
    /// objective's data, the same every step, which a copy would move through the cache twice.
    dense_inputs: Vec<std::sync::Arc<[f64]>>,
}

/// A dense stack's input rows: copied into the tape's layer buffer, or shared by reference.
#[derive(Clone, Copy)]
pub(super) enum DenseInput<'a> {
    Copied(&'a [f64]),
    Shared(&'a std::sync::Arc<[f64]>),
}

impl DenseInput<'_> {
    fn slice(&self) -> &[f64] {
        match self {
            DenseInput::Copied(x) => x,
            DenseInput::Shared(x) => x,
        }
    }
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
    /// not need it: [`Var::constant`](crate::ad::Scalar::constant) carries a value without a node.
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
        inner.constants.clear();
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
        inner.denses.clear();
        inner.layer_len = 0;
        inner.dense_inputs.clear();
    }

    #[inline]
    fn push1(&self, op: Op, value: f64, parent: u32, partial: f64) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let start = index_u32(inner.edges.len());
        let index = inner.push_node(value, start, op);
        inner.edges.push(Edge { parent, partial });
        index
    }

    /// [`push1`](Self::push1) on a plain tape for an operation with one constant operand at
    /// `position` (`x + c`: 1, `c - x`: 0), which is recorded for display.
    #[inline]
    fn push1_const(&self, op: Op, value: f64, parent: u32, partial: f64, c: (u32, f64)) -> u32 {
        let inner = &mut *self.inner.borrow_mut();
        let start = index_u32(inner.edges.len());
        let index = inner.push_node(value, start, op);
        inner.edges.push(Edge { parent, partial });
        inner.constants.push(Constant {
            node: index,
            position: c.0,
            value: c.1,
        });
        index
    }

    /// Records the constant operands of node `node` (a plain tape's n-ary `sum` or `dot`), as
    /// `(position, value)` pairs in increasing position.
    fn note_constants(&self, node: u32, constants: impl Iterator<Item = (usize, f64)>) {
        let inner = &mut *self.inner.borrow_mut();
        inner
            .constants
            .extend(constants.map(|(position, value)| Constant {
                node,
                position: index_u32(position),
                value,
            }));
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
}

/// A node index. More than `u32::MAX - 2` nodes (the top two values mark a [`Var`]'s form)
/// would need ~100 GB of tape, so the check is a debug assertion only.
#[inline]
fn index_u32(i: usize) -> u32 {
    debug_assert!(i < SINGLE as usize, "tape exceeds u32::MAX - 2 nodes");
    i as u32
}
