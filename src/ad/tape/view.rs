//! What the tape view shows: each recorded node as a [`NodeView`] (its op, its parents, its
//! value and adjoint), and the tape's `Debug` summary.

use std::fmt;

use super::{Op, Tape};

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

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("Tape")
            .field("nodes", &inner.len())
            .field("edges", &inner.edges.len())
            .finish()
    }
}
