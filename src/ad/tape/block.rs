//! Block recording: operations over many values recorded as one block instead of one node per
//! multiply. A dense layer's matrix-vector product ([`Op::MatVecRow`], [`Op::MatVecConstRow`]),
//! a dense layer over a whole batch ([`Op::AffineOut`]) and a partially separable sum over
//! sliding windows ([`Op::WindowSum`]); each falls back to ordinary nodes when its operands are
//! not laid out as a block needs (weights that are not consecutive nodes, inputs on no tape).
//! The backward sweep of each block is in `sweep`.

use super::var::{PLAIN, SINGLE, pack};
use super::{
    Affine, Block, DenseInput, DenseRec, Edge, Inner, Node, Op, Tape, Var, Windows, index_u32,
};
use crate::ad::layer::{Dense, dense_forward, dense_stack_loops};
use crate::ad::window::window_partials;
use crate::ad::{Scalar, WindowTerm};

impl Tape {
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
}

impl Tape {
    /// Records `eval`'s scalar of the `count` consecutive nodes `first ..` as one
    /// [`Op::WindowSum`] with windows of one: `eval(values, partials)` reads their values and
    /// writes `d value / d node` into `partials` (zeroed first), which the node keeps, so the
    /// sweep is one contiguous multiply-add over their adjoints, with no edge per input.
    /// `eval` runs while the tape is borrowed: it must not record on it.
    pub(super) fn push_partials(
        &self,
        first: u32,
        count: usize,
        eval: impl FnOnce(&[f64], &mut [f64]) -> f64,
    ) -> (u32, f64) {
        let inner = &mut *self.inner.borrow_mut();
        let offset = inner.window_len;
        let end = offset + count;
        if inner.window_partials.len() < end {
            inner.window_partials.resize(end, 0.0);
        }
        let partials = &mut inner.window_partials[offset..end];
        partials.fill(0.0);
        let value = eval(&inner.values[first as usize..][..count], partials);
        inner.window_len = end;
        let b = index_u32(inner.windows.len());
        inner.windows.push(Windows {
            first,
            w: 1,
            count: index_u32(count),
            partials: index_u32(offset),
        });
        let start = index_u32(inner.edges.len());
        let index = inner.push_node(value, start, Op::WindowSum(b));
        (index, value)
    }

    /// Records a dense stack whose parameters are the nodes `first ..` (see
    /// [`Var::record_dense_stack`]): per layer one [`Op::Dense`] node, its values computed by
    /// [`dense_forward`] into the tape's layer buffers, and the last layer's outputs as
    /// [`Op::DenseOut`] nodes. Returns the first of those and their values.
    fn push_dense_stack(
        &self,
        layers: &[Dense],
        first: u32,
        x: DenseInput<'_>,
        batch: usize,
    ) -> (u32, std::ops::Range<usize>) {
        let inner = &mut *self.inner.borrow_mut();
        let Inner {
            values,
            nodes,
            edges,
            denses,
            layer_values,
            layer_len,
            dense_inputs,
            ..
        } = inner;
        // Shared rows are read where they are; copied ones go first in the layer buffer.
        let shared = match x {
            DenseInput::Shared(rows) => {
                dense_inputs.push(std::sync::Arc::clone(rows));
                Some(index_u32(dense_inputs.len() - 1))
            }
            DenseInput::Copied(_) => None,
        };
        let x = x.slice();
        // The buffer keeps its length across gradients (see `layer_len`): every slot used here
        // is written before it is read, so growing it is the only fill.
        let inputs = if shared.is_some() {
            0
        } else {
            batch * layers[0].inputs
        };
        let base = *layer_len;
        let end = base + inputs + layers.iter().map(|l| 2 * batch * l.outputs).sum::<usize>();
        if layer_values.len() < end {
            layer_values.resize(end, 0.0);
        }
        *layer_len = end;
        layer_values[base..base + inputs].copy_from_slice(&x[..inputs]);
        let mut input = base;
        let mut h = base + inputs;
        let mut offset = first as usize;
        let mut from_layer = false;
        let start = index_u32(edges.len());
        for layer in layers {
            let (n, m) = (layer.inputs, layer.outputs);
            let (w0, b0) = (offset, offset + m * n);
            offset = b0 + m;
            let (before, here) = layer_values.split_at_mut(h);
            let (out, rest) = here.split_at_mut(batch * m);
            let xs = match shared {
                Some(_) if !from_layer => &x[..batch * n],
                _ => &before[input..input + batch * n],
            };
            dense_forward(
                layer.activation,
                &values[w0..b0],
                &values[b0..offset],
                xs,
                batch,
                out,
                &mut rest[..batch * m],
            );
            let id = index_u32(denses.len());
            denses.push(DenseRec {
                weight_start: index_u32(w0),
                bias_start: index_u32(b0),
                n: index_u32(n),
                m: index_u32(m),
                batch: index_u32(batch),
                activation: layer.activation,
                x: input,
                shared: if from_layer { None } else { shared },
                from_layer,
                h,
                out_nodes: None,
            });
            values.push(0.0);
            nodes.push(Node {
                start,
                op: Op::Dense(id),
            });
            input = h;
            h += 2 * batch * m;
            from_layer = true;
        }
        let last = denses.len() - 1;
        let outputs = input..input + batch * layers[layers.len() - 1].outputs;
        let out_start = index_u32(values.len());
        denses[last].out_nodes = Some(out_start);
        values.extend_from_slice(&layer_values[outputs.clone()]);
        let op = Op::DenseOut(index_u32(last));
        nodes.resize(nodes.len() + outputs.len(), Node { start, op });
        (out_start, outputs)
    }
}

impl<'t> Var<'t> {
    /// [`Scalar::dense_stack`] on a tape. On a [fused](Tape::fused) tape, when the parameters
    /// are consecutive nodes' own values (a model's, recorded by a driver), every layer is one
    /// [`Op::Dense`] node: its values and activation derivatives are computed as vectors
    /// ([`dense_forward`], the same kernel as `f64`'s, so the same bits) into buffers beside
    /// the nodes, no hidden unit gets a node or a handle, and only the last layer's outputs
    /// become nodes, for the loss. Otherwise (a plain tape, whose view lists every operation;
    /// GELU; parameters that are not nodes) the default loops.
    pub(super) fn record_dense_stack(
        layers: &[Dense],
        params: &[Self],
        input: DenseInput<'_>,
        batch: usize,
    ) -> Vec<Self> {
        let x = input.slice();
        let total: usize = layers.iter().map(Dense::n_params).sum();
        let Some(tape) = Self::tape_of(params) else {
            return dense_stack_loops(layers, params, x, batch);
        };
        let fits = tape.fused
            && batch > 0
            && !layers.is_empty()
            && params.len() >= total
            && x.len() >= batch * layers[0].inputs
            && layers.iter().all(|l| l.activation.has_kernel())
            && layers.windows(2).all(|w| w[0].outputs == w[1].inputs);
        let first = if fits {
            Self::consecutive_nodes(tape, &params[..total])
        } else {
            None
        };
        let Some(first) = first else {
            return dense_stack_loops(layers, params, x, batch);
        };
        let (out_start, outputs) = tape.push_dense_stack(layers, first, input, batch);
        let inner = tape.inner.borrow();
        inner.layer_values[outputs]
            .iter()
            .zip(out_start..)
            .map(|(&v, index)| Self::node(tape, index, v))
            .collect()
    }

    /// The first index if `vars` are consecutive nodes' own values on `tape`: known without
    /// reading them when they are part of [`gradient_with`](super::gradient_with)'s inputs (a
    /// model's parameters, 2.6 MB of handles at 66,000 of them), checked one by one otherwise.
    pub(super) fn consecutive_nodes(tape: &'t Tape, vars: &[Self]) -> Option<u32> {
        if let Some(k) = tape.inner.borrow().driver_window(vars) {
            return Some(k);
        }
        let first = vars.first()?;
        vars.iter()
            .zip(first.first()..)
            .all(|(v, k)| {
                v.nodes == pack(k, PLAIN) && v.tape.is_some_and(|t| std::ptr::eq(t, tape))
            })
            .then(|| first.first())
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
    pub(super) fn record_window_sum<const W: usize, T: WindowTerm<W>>(
        x: &[Self],
        term: &T,
    ) -> Self {
        let tape = match Self::tape_of(x) {
            Some(tape) if tape.fused && W > 0 && x.len() >= W => tape,
            _ => return crate::ad::sum_windows_loops(x, term),
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

    /// One block of [`Op::MatVecRow`] rows when the weights are `out.len() * inputs.len()`
    /// consecutive nodes (a model's parameters) and every input is recorded on the same tape;
    /// otherwise one [`Op::Dot`] per row.
    pub(super) fn record_matvec(weights: &[Self], inputs: &[Self], out: &mut [Self]) {
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
    pub(super) fn record_matvec_const(weights: &[Self], inputs: &[f64], out: &mut [Self]) {
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
    pub(super) fn record_affine_batch(
        weights: &[Self],
        biases: &[Self],
        inputs: &[Self],
        n: usize,
        out: &mut [Self],
    ) {
        let Some((tape, w0, b0, batch)) =
            Self::affine_params(weights, biases, n, out.len(), inputs.len())
        else {
            return crate::ad::affine_batch_loops(weights, biases, inputs, n, out);
        };
        let mut inputs = &inputs[..batch * n];
        let mut settle = false;
        for x in inputs {
            match x.tape {
                Some(t) if std::ptr::eq(t, tape) => settle |= x.second() < SINGLE,
                _ => return crate::ad::affine_batch_loops(weights, biases, inputs, n, out),
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
    pub(super) fn record_affine_batch_const(
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
            None => crate::ad::affine_batch_const_loops(weights, biases, inputs, n, out),
        }
    }

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
