//! What the tape view shows: each recorded node as a [`NodeView`] (its op, its parents with
//! their local partials, its operands as written with the constants a plain tape records, its
//! value and adjoint), how a node is written out, and the tape's `Debug` summary.

use std::fmt;

use super::{Constant, Inner, Op, Tape};
use crate::ad::Form;

/// One operand of a node as written: a parent node, or a constant. A plain tape
/// ([`Tape::new`]) records its constants; a fused tape does not, and its constant operands
/// read as [`Operand::Unrecorded`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operand {
    Node(usize),
    Const(f64),
    Unrecorded,
}

/// One node as the tape view shows it: what it computes, from which nodes, its value and its
/// adjoint from the last backward sweep (`0` before one ran, or for nodes it did not reach).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub op: Op,
    /// Parent node indices, one per edge (a parent used twice is listed twice).
    pub inputs: Vec<usize>,
    /// `d node / d input` for each of [`inputs`](NodeView::inputs), in the same order: what
    /// the backward sweep multiplies this node's adjoint by.
    pub partials: Vec<f64>,
    /// The operands in written order (`c - x` is `[Const(c), Node(x)]`), constants included.
    pub operands: Vec<Operand>,
    pub value: f64,
    pub adjoint: f64,
}

impl NodeView {
    /// The node written out in the expression language's notation, its parents named by
    /// `name` and its constants written by `number`: `x^2`, `1 - x`, `100·a`, `w0·1.5 + w1·2`.
    /// A constant the tape did not record (a fused tape's) reads `c`.
    ///
    /// ```
    /// use gradscope::ad::Scalar;
    /// use gradscope::ad::tape::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.var(0.5);
    /// let f = (1.0 - x) * 100.0;
    /// tape.backward(f);
    /// let nodes = tape.nodes();
    /// let name = |i: usize| ["x", "t1"][i].to_string();
    /// let text: Vec<String> = nodes.iter().map(|n| n.describe(name, |c| c.to_string())).collect();
    /// assert_eq!(text, ["input", "1 - x", "t1·100"]);
    /// ```
    #[must_use]
    pub fn describe(
        &self,
        name: impl Fn(usize) -> String,
        number: impl Fn(f64) -> String,
    ) -> String {
        let args: Vec<String> = self
            .operands
            .iter()
            .map(|o| match *o {
                Operand::Node(i) => name(i),
                Operand::Const(c) => number(c),
                Operand::Unrecorded => "c".to_owned(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.op {
            Op::DotConst | Op::MatVecRow(_) | Op::MatVecConstRow(_) => Form::Dot.describe(&args),
            Op::AffineOut(_) => match args.split_last() {
                Some((bias, pairs)) => format!("{} + {bias}", Form::Dot.describe(pairs)),
                None => self.op.name().to_owned(),
            },
            op => match op.form() {
                Some(form) => form.describe(&args),
                None if args.is_empty() => op.name().to_owned(),
                None => format!("{}({})", op.name(), args.join(", ")),
            },
        }
    }
}

impl Inner {
    /// The edge range of node `i`.
    fn edge_range(&self, i: usize) -> std::ops::Range<usize> {
        let lo = self.node(i).start as usize;
        let hi = if i + 1 < self.len() {
            self.node(i + 1).start as usize
        } else {
            self.edges.len()
        };
        lo..hi
    }

    /// Node `i`'s recorded constants (a plain tape's), in position order.
    fn constants_of(&self, i: usize) -> &[Constant] {
        let node = i as u32;
        let lo = self.constants.partition_point(|c| c.node < node);
        let hi = self.constants.partition_point(|c| c.node <= node);
        &self.constants[lo..hi]
    }

    /// Node `i` as a [`NodeView`].
    fn view(&self, i: usize) -> NodeView {
        let node = self.node(i);
        let value = |k: usize| self.values[k];
        let (inputs, partials, operands): (Vec<usize>, Vec<f64>, Vec<Operand>) = match node.op {
            // Written as `w0·x0 + w1·x1 + ...`: the sweep's partials are the other factor.
            Op::MatVecRow(b) => {
                let blk = self.blocks[b as usize];
                let (n, first) = (blk.n as usize, blk.inputs as usize);
                let w0 = blk.weight_start as usize + (i - blk.out_start as usize) * n;
                let xs = &self.block_inputs[first..first + n];
                let inputs: Vec<usize> = (w0..w0 + n)
                    .zip(xs)
                    .flat_map(|(w, &x)| [w, x as usize])
                    .collect();
                let partials = inputs
                    .chunks_exact(2)
                    .flat_map(|p| [value(p[1]), value(p[0])])
                    .collect();
                let operands = inputs.iter().map(|&k| Operand::Node(k)).collect();
                (inputs, partials, operands)
            }
            Op::MatVecConstRow(b) => {
                let blk = self.blocks[b as usize];
                let (n, first) = (blk.n as usize, blk.inputs as usize);
                let w0 = blk.weight_start as usize + (i - blk.out_start as usize) * n;
                let cs = &self.block_consts[first..first + n];
                let operands = (w0..w0 + n)
                    .zip(cs)
                    .flat_map(|(w, &c)| [Operand::Node(w), Operand::Const(c)])
                    .collect();
                ((w0..w0 + n).collect(), cs.to_vec(), operands)
            }
            // Sample s, unit j: weight row j, then the sample's input nodes, then bias j.
            Op::AffineOut(b) => {
                let blk = self.affines[b as usize];
                let (n, m) = (blk.n as usize, blk.m as usize);
                let q = i - blk.out_start as usize;
                let (s, j) = (q / m, q % m);
                let w0 = blk.weight_start as usize + j * n;
                let first = blk.values as usize + s * n;
                let xv = &self.affine_values[first..first + n];
                let mut inputs: Vec<usize> = (w0..w0 + n).collect();
                let mut partials = xv.to_vec();
                let mut operands = Vec::with_capacity(2 * n + 1);
                if blk.consts {
                    for (w, &x) in (w0..w0 + n).zip(xv) {
                        operands.extend([Operand::Node(w), Operand::Const(x)]);
                    }
                } else {
                    let xs = &self.affine_inputs[first..first + n];
                    inputs.extend(xs.iter().map(|e| e.parent as usize));
                    partials.extend((w0..w0 + n).zip(xs).map(|(w, e)| value(w) * e.partial));
                    for (w, e) in (w0..w0 + n).zip(xs) {
                        operands.extend([Operand::Node(w), Operand::Node(e.parent as usize)]);
                    }
                }
                let bias = blk.bias_start as usize + j;
                inputs.push(bias);
                partials.push(1.0);
                operands.push(Operand::Node(bias));
                (inputs, partials, operands)
            }
            // Lane by lane, as the sweep (and a `Sum` of the same windows) adds them.
            Op::WindowSum(b) => {
                let win = self.windows[b as usize];
                let (first, count) = (win.first as usize, win.count as usize);
                let inputs: Vec<usize> = (0..win.w as usize)
                    .flat_map(|j| first + j..first + j + count)
                    .collect();
                let lo = win.partials as usize;
                let partials = self.window_partials[lo..lo + inputs.len()].to_vec();
                let operands = inputs.iter().map(|&k| Operand::Node(k)).collect();
                (inputs, partials, operands)
            }
            op => {
                let edges = &self.edges[self.edge_range(i)];
                let inputs: Vec<usize> = edges.iter().map(|e| e.parent as usize).collect();
                let partials = edges.iter().map(|e| e.partial).collect();
                let constants = self.constants_of(i);
                let total = edges.len() + constants.len();
                let mut operands: Vec<Operand> = Vec::with_capacity(total);
                let mut parents = inputs.iter();
                let mut constants = constants.iter().peekable();
                while operands.len() < total {
                    let at = operands.len() as u32;
                    match constants.peek() {
                        Some(c) if c.position == at => {
                            operands.push(Operand::Const(c.value));
                            constants.next();
                        }
                        _ => match parents.next() {
                            Some(&p) => operands.push(Operand::Node(p)),
                            None => break,
                        },
                    }
                }
                // A fused tape's one-edge node of a two-operand op had a constant it did
                // not record: show where it went.
                if self.constants_of(i).is_empty() && edges.len() == 1 {
                    match op {
                        Op::AddConst | Op::SubConst | Op::DivConst => {
                            operands.push(Operand::Unrecorded);
                        }
                        Op::ConstSub | Op::ConstDiv | Op::MulConst => {
                            operands.insert(0, Operand::Unrecorded);
                        }
                        _ => {}
                    }
                }
                (inputs, partials, operands)
            }
        };
        NodeView {
            op: node.op,
            inputs,
            partials,
            operands,
            value: self.values[i],
            adjoint: self.adjoints.get(i).copied().unwrap_or(0.0),
        }
    }
}

impl Tape {
    /// The recorded nodes with their inputs, local partials, operands, values and adjoints,
    /// for display.
    #[must_use]
    pub fn nodes(&self) -> Vec<NodeView> {
        let inner = self.inner.borrow();
        (0..inner.len()).map(|i| inner.view(i)).collect()
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
