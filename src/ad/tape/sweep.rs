//! The backward sweep: one loop from the output down to the tape's leading leaves, each node
//! pushing its adjoint to its parents along its edges, and each block doing its own backward
//! (a matrix-vector row from the node values, a dense layer's `dW = dZᵀ X`, `dX = dZ W` as two
//! matrix products, a window sum's partials lane by lane). Also [`Tape::adjoint`], which reads
//! the result.

use nalgebra::{DMatrixView, DMatrixViewMut};

use super::var::FORM;
use super::{Affine, DenseRec, Edge, Inner, Op, Tape, Var};
use crate::ad::layer::{Activation, input_grad_set, weight_grad_acc};

impl Tape {
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
            constants: _,
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
            denses,
            layer_values,
            layer_len: _,
            layer_adjoints,
            dense_inputs,
        } = &mut *self.inner.borrow_mut();
        adjoints.clear();
        // Only the outputs' adjoints are read, and each is written whole before it is read (the
        // last layer's from its output nodes, the others by the next layer's `dX`), so the
        // buffer keeps its length across gradients and is never zeroed.
        if !denses.is_empty() && layer_adjoints.len() < layer_values.len() {
            layer_adjoints.resize(layer_values.len(), 0.0);
        }
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
            if let Op::DenseOut(b) = node.op {
                // Output nodes have no edges: straight to the layer's node, just below the
                // first of them, which reads all their adjoints at once.
                if let Some(first) = denses[b as usize].out_nodes {
                    i = i.min(first as usize);
                }
                hi = lo;
                continue;
            }
            let (below, here) = adj.split_at_mut(i);
            let a = here[0];
            match node.op {
                Op::Dense(b) => {
                    let layer = &denses[b as usize];
                    let x = match layer.shared {
                        Some(k) => &dense_inputs[k as usize][..],
                        None => &layer_values[layer.x..],
                    };
                    let bm = layer.batch as usize * layer.m as usize;
                    let outputs = layer.out_nodes.map(|o| &here[o as usize - i..][..bm]);
                    dense_backward(
                        layer,
                        values,
                        below,
                        outputs,
                        x,
                        layer_values,
                        layer_adjoints,
                    );
                }
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

/// The backward of one [`Op::Dense`] layer whose inputs are `x`: `below` are the adjoints of
/// the nodes before it (the parameters among them), `outputs` those of the last layer's output
/// nodes if the stack ends here. With `dz = dh ⊙ f'(z)`: `dW += dzᵀ X`, `db += Σ_s dz[s]`, and the
/// previous layer's output adjoints `= dz W` (this layer is their only reader).
fn dense_backward(
    layer: &DenseRec,
    node_values: &[f64],
    below: &mut [f64],
    outputs: Option<&[f64]>,
    x: &[f64],
    layer_values: &[f64],
    layer_adjoints: &mut [f64],
) {
    let (n, m, batch) = (layer.n as usize, layer.m as usize, layer.batch as usize);
    let bm = batch * m;
    let (w0, b0) = (layer.weight_start as usize, layer.bias_start as usize);
    let (lower, upper) = layer_adjoints.split_at_mut(layer.h);
    let dz = &mut upper[..bm];
    if let Some(outputs) = outputs {
        dz.copy_from_slice(outputs);
    }
    if layer.activation != Activation::Identity {
        let derivatives = &layer_values[layer.h + bm..layer.h + 2 * bm];
        for (d, &g) in dz.iter_mut().zip(derivatives) {
            *d *= g;
        }
    }
    let dz = &*dz;
    let x = &x[..batch * n];
    weight_grad_acc(&mut below[w0..w0 + m * n], dz, x, batch, n, m);
    let db = &mut below[b0..b0 + m];
    for row in dz.chunks_exact(m) {
        for (g, &d) in db.iter_mut().zip(row) {
            *g += d;
        }
    }
    if layer.from_layer {
        let dx = &mut lower[layer.x..layer.x + batch * n];
        input_grad_set(dx, dz, &node_values[w0..w0 + m * n], batch, n, m);
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
