//! Dense layers over a batch: the [`Activation`]s a layer applies, the [`Dense`] description of
//! one layer, and the `f64` kernels every fast path shares — a layer's affine map as one
//! blocked matrix product (nalgebra's `gemm`, i.e. the `matrixmultiply` kernels) and an
//! activation applied to a whole layer at once, with its derivative, in vector lanes.
//!
//! [`Scalar::dense_stack`] is where a model hands a whole stack of layers to an engine. Its
//! default ([`dense_stack_loops`]) is one [`Scalar::affine_batch`] and one elementwise
//! activation per layer, which every engine can differentiate; `f64` runs it with the kernels
//! here ([`dense_forward`]), and a fused tape records each layer as one node over vectors of
//! values and derivatives (no per-element handle for a hidden unit) and sweeps it backward
//! with the same matrix products. Both call [`dense_forward`], so the tape's values and the
//! plain `f64` loss are the same bits; forward-mode duals take the default loops, whose
//! sequential dot products round differently in the last bits (the engines agree to ~1e-15
//! relative, not bit for bit).

use std::fmt;

use nalgebra::{DMatrixView, DMatrixViewMut};

use super::dual::DualVec;
use super::{Func, Scalar, tanh_f64};

/// The slope of `leaky_relu` for negative inputs (PyTorch's default `negative_slope`).
pub const LEAKY_SLOPE: f64 = 0.01;

/// An elementwise activation applied after a layer's affine map; a scenario names it in
/// snake case (`leaky_relu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename = "activation", rename_all = "snake_case")]
pub enum Activation {
    Identity,
    Tanh,
    Sigmoid,
    /// `max(x, 0)`, derivative `0` at `0` (PyTorch).
    Relu,
    /// `x` for `x > 0`, else `0.01 x`; derivative `0.01` at `0` (PyTorch's
    /// `leaky_relu_backward` passes the full gradient only where `x > 0`).
    LeakyRelu,
    /// `ln(1 + e^x)` with PyTorch's `threshold = 20`.
    Softplus,
    /// GELU by PyTorch's `approximate='tanh'` formula
    /// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`: the exact form needs `erf`, which
    /// [`Scalar`] does not have. The two differ by less than `1e-3` everywhere.
    Gelu,
}

impl Activation {
    /// Every activation, in documentation order.
    pub const ALL: [Activation; 7] = [
        Activation::Identity,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Softplus,
        Activation::Gelu,
    ];

    /// The name used in scenario files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Softplus => "softplus",
            Activation::Gelu => "gelu",
        }
    }

    /// The activation at `x`.
    pub fn apply<S: Scalar>(self, x: S) -> S {
        match self {
            Activation::Identity => x,
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Relu => x.relu(),
            Activation::LeakyRelu => {
                if x.value() > 0.0 {
                    x
                } else {
                    x * LEAKY_SLOPE
                }
            }
            Activation::Softplus => x.softplus(),
            Activation::Gelu => {
                const C: f64 = 0.797_884_560_802_865_4; // √(2/π)
                let inner = (x + x.powi(3) * 0.044_715) * C;
                x * (inner.tanh() + 1.0) * 0.5
            }
        }
    }

    /// [`apply`](Self::apply) to every element, choosing the activation once rather than per
    /// element (a batch's hidden layer is thousands of them).
    pub fn apply_all<S: Scalar>(self, xs: &mut [S]) {
        match self {
            Activation::Identity => {}
            Activation::Tanh => {
                for x in xs {
                    *x = x.tanh();
                }
            }
            _ => {
                for x in xs {
                    *x = self.apply(*x);
                }
            }
        }
    }

    /// Whether a whole layer of this activation has a vector kernel ([`activate`]): every
    /// activation but GELU, whose derivative is not one elementwise formula of `Func`'s.
    #[must_use]
    pub fn has_kernel(self) -> bool {
        self != Activation::Gelu
    }

    /// The activation applied to `z` in place, and its derivative `d f / d z` at each element
    /// into `d` (untouched for the identity, whose derivative is 1). The values are the ones
    /// [`apply`](Self::apply) computes for `f64`, bit for bit, and the derivatives the local
    /// partials the tape records for the same function ([`Func::derivative`]).
    ///
    /// # Panics
    /// For GELU (see [`has_kernel`](Self::has_kernel)), or if `d` is shorter than `z`.
    pub fn activate(self, z: &mut [f64], d: &mut [f64]) {
        let d = &mut d[..z.len()];
        match self {
            Activation::Identity => {}
            Activation::Tanh => tanh_layer(z, d),
            Activation::Sigmoid => map_layer(Func::Sigmoid, z, d),
            Activation::Relu => map_layer(Func::Relu, z, d),
            Activation::Softplus => map_layer(Func::Softplus, z, d),
            Activation::LeakyRelu => {
                for (z, d) in z.iter_mut().zip(d) {
                    // The tape's `x * 0.01` records the partial 0.01; `x` itself passes 1.
                    let (v, g) = if *z > 0.0 {
                        (*z, 1.0)
                    } else {
                        (*z * LEAKY_SLOPE, LEAKY_SLOPE)
                    };
                    *z = v;
                    *d = g;
                }
            }
            Activation::Gelu => panic!("GELU has no layer kernel"),
        }
    }

    /// [`activate`](Self::activate) of `z + b`, `b` added to every row of `z` (`b.len()`
    /// wide) as the pass reads it.
    ///
    /// # Panics
    /// As [`activate`](Self::activate).
    pub fn activate_biased(self, z: &mut [f64], b: &[f64], d: &mut [f64]) {
        match self {
            Activation::Tanh => tanh_layer_biased(z, b, &mut d[..z.len()]),
            _ => {
                for row in z.chunks_exact_mut(b.len().max(1)) {
                    for (z, &b) in row.iter_mut().zip(b) {
                        *z += b;
                    }
                }
                self.activate(z, d);
            }
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `Func`'s value and local derivative per element.
fn map_layer(f: Func, z: &mut [f64], d: &mut [f64]) {
    for (z, d) in z.iter_mut().zip(d) {
        let v = f.apply(*z);
        *d = f.derivative(*z, v);
        *z = v;
    }
}

/// `tanh` of every element in place and `1 - t²` into `d`, compiled for AVX-512 and AVX2 as
/// well as the baseline and chosen at run time. [`tanh_f64`] is plain arithmetic (no libm call,
/// no branch the compiler cannot turn into a select), so the loop runs in vector lanes, and every
/// version computes the same IEEE operations in the same order (Rust never contracts into
/// fused multiply-adds): the same bits as [`tanh_f64`] one element at a time.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq", "x86_64+avx2+fma"))]
fn tanh_layer(z: &mut [f64], d: &mut [f64]) {
    for (z, d) in z.iter_mut().zip(d) {
        let t = tanh_f64(*z);
        *z = t;
        *d = 1.0 - t * t;
    }
}

/// [`tanh_layer`] of `z + b`, row by row (`b.len()` per row), in one pass.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq", "x86_64+avx2+fma"))]
fn tanh_layer_biased(z: &mut [f64], b: &[f64], d: &mut [f64]) {
    let m = b.len().max(1);
    for (z, d) in z.chunks_exact_mut(m).zip(d.chunks_exact_mut(m)) {
        for ((z, d), &b) in z.iter_mut().zip(d).zip(b) {
            let t = tanh_f64(*z + b);
            *z = t;
            *d = 1.0 - t * t;
        }
    }
}

/// One dense layer of a stack: `outputs` units, each `activation(w · x + b)` over `inputs`
/// inputs. Its parameters are `outputs × inputs` weights, row-major (PyTorch's `nn.Linear`
/// layout), then `outputs` biases; the layers of a [`Scalar::dense_stack`] follow each other in
/// one parameter slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub activation: Activation,
}

impl Dense {
    /// Weights plus biases.
    #[must_use]
    pub fn n_params(&self) -> usize {
        (self.inputs + 1) * self.outputs
    }
}

/// [`Scalar::dense_stack`]'s default: per layer one [`Scalar::affine_batch`] (the first with
/// constant inputs) and the activation elementwise. `x` is row-major `[batch][inputs]`; returns
/// the last layer's outputs row-major `[batch][outputs]`.
pub fn dense_stack_loops<S: Scalar>(
    layers: &[Dense],
    params: &[S],
    x: &[f64],
    batch: usize,
) -> Vec<S> {
    let mut h: Vec<S> = Vec::new();
    let mut offset = 0;
    for (l, layer) in layers.iter().enumerate() {
        let (weights, rest) = params[offset..].split_at(layer.inputs * layer.outputs);
        let biases = &rest[..layer.outputs];
        offset += layer.n_params();
        let mut z = vec![S::constant(0.0); batch * layer.outputs];
        if l == 0 {
            S::affine_batch_const(weights, biases, x, layer.inputs, &mut z);
        } else {
            S::affine_batch(weights, biases, &h, layer.inputs, &mut z);
        }
        layer.activation.apply_all(&mut z);
        h = z;
    }
    h
}

/// A dense layer's values: `out[s][j] = activation(Σ_k w[j][k] x[s][k] + b[j])` for the
/// `batch` rows of `x` (row-major `[batch][n]`, `n = x.len() / batch`), weights row-major
/// `[m][n]`, `m = biases.len()`; the activation's derivatives go into `d` (both `batch × m`;
/// neither is read, so they may hold anything, and `d` is left untouched for the identity).
/// The products are one `gemm` (the `matrixmultiply` kernels once every dimension exceeds 5;
/// plain loops below that), so the sums round in the kernel's blocked order, not a plain dot
/// product's. The kernel writes the bare products (`β = 0`) and the activation pass adds the
/// bias as it reads them: the kernel's own epilogue would round `Σ + b` once in the same way
/// (for up to 256 inputs, one `k` block), so no bias copy is needed for the same bits.
///
/// # Panics
/// If the lengths disagree, or for GELU (see [`Activation::has_kernel`]).
pub fn dense_forward(
    act: Activation,
    weights: &[f64],
    biases: &[f64],
    x: &[f64],
    batch: usize,
    out: &mut [f64],
    d: &mut [f64],
) {
    let m = biases.len();
    let n = weights.len() / m.max(1);
    if batch > 0 && blocked(m, n, batch) {
        // Row-major buffers read as column-major matrices are transposes:
        // `outᵀ (m × batch) = W (m × n, row stride n) · xᵀ (n × batch)`.
        let w = DMatrixView::from_slice_with_strides(weights, m, n, n, 1);
        let xt = DMatrixView::from_slice(x, n, batch);
        DMatrixViewMut::from_slice(out, m, batch).gemm(1.0, &w, &xt, 0.0);
        act.activate_biased(out, biases, d);
    } else {
        // The small layers' loops add each product onto the bias, in the order they always had.
        for row in out.chunks_exact_mut(m.max(1)) {
            row.copy_from_slice(biases);
        }
        affine_acc(out, x, weights, batch, n, m);
        act.activate(out, d);
    }
}

/// Whether nalgebra's `gemm` hands a product with these dimensions to the `matrixmultiply`
/// kernels (it does when the result's and the left factor's dimensions all exceed 5); below
/// that it goes column by column through `gemv`, far slower than the plain loops here for a
/// layer of 2 inputs or 1 output.
fn blocked(rows: usize, inner: usize, cols: usize) -> bool {
    rows > 5 && inner > 5 && cols > 5
}

/// `out[s][j] += Σ_k x[s][k] w[j][k]`: `out` row-major `[batch][m]`, `x` `[batch][n]`, `w`
/// `[m][n]` (a layer's forward product).
pub fn affine_acc(out: &mut [f64], x: &[f64], w: &[f64], batch: usize, n: usize, m: usize) {
    if batch == 0 || n == 0 || m == 0 {
        return;
    }
    if blocked(m, n, batch) {
        // Row-major buffers read as column-major matrices are transposes:
        // `outᵀ (m × batch) += W (m × n, row stride n) · xᵀ (n × batch)`.
        let w = DMatrixView::from_slice_with_strides(w, m, n, n, 1);
        let xt = DMatrixView::from_slice(x, n, batch);
        DMatrixViewMut::from_slice(out, m, batch).gemm(1.0, &w, &xt, 1.0);
    } else if n < m {
        // Few inputs (a first layer): each output row is `n` scaled rows of `wᵀ`.
        let mut wt = vec![0.0; n * m];
        for (j, row) in w.chunks_exact(n).enumerate() {
            for (k, &v) in row.iter().enumerate() {
                wt[k * m + j] = v;
            }
        }
        for (o, xs) in out.chunks_exact_mut(m).zip(x.chunks_exact(n)) {
            for (&xk, wk) in xs.iter().zip(wt.chunks_exact(m)) {
                axpy(o, xk, wk);
            }
        }
    } else {
        // Few outputs (a last layer): one dot product per output.
        for (o, xs) in out.chunks_exact_mut(m).zip(x.chunks_exact(n)) {
            for (o, row) in o.iter_mut().zip(w.chunks_exact(n)) {
                *o += dot_lanes(xs, row);
            }
        }
    }
}

/// `dw[j][k] += Σ_s dz[s][j] x[s][k]` (a layer's weight gradient): `dw` `[m][n]`, `dz`
/// `[batch][m]`, `x` `[batch][n]`, all row-major.
pub fn weight_grad_acc(dw: &mut [f64], dz: &[f64], x: &[f64], batch: usize, n: usize, m: usize) {
    if batch == 0 || n == 0 || m == 0 {
        return;
    }
    if blocked(n, batch, m) {
        // `dwᵀ (n × m) += xᵀ (n × batch) · dz (batch × m, row stride m)`.
        let xt = DMatrixView::from_slice(x, n, batch);
        let dz = DMatrixView::from_slice_with_strides(dz, batch, m, m, 1);
        DMatrixViewMut::from_slice(dw, n, m).gemm(1.0, &xt, &dz, 1.0);
    } else if n < m {
        // Few inputs: accumulate `dwᵀ` row by row (contiguous over the outputs), then add it.
        let mut gt = vec![0.0; n * m];
        for (dzs, xs) in dz.chunks_exact(m).zip(x.chunks_exact(n)) {
            for (&xk, g) in xs.iter().zip(gt.chunks_exact_mut(m)) {
                axpy(g, xk, dzs);
            }
        }
        for (j, row) in dw.chunks_exact_mut(n).enumerate() {
            for (k, g) in row.iter_mut().enumerate() {
                *g += gt[k * m + j];
            }
        }
    } else {
        for (dzs, xs) in dz.chunks_exact(m).zip(x.chunks_exact(n)) {
            for (&d, row) in dzs.iter().zip(dw.chunks_exact_mut(n)) {
                axpy(row, d, xs);
            }
        }
    }
}

/// `dx[s][k] = Σ_j dz[s][j] w[j][k]` (the gradient a layer passes to its inputs, which
/// nothing else writes): `dx` `[batch][n]` (its old contents are never read), `dz`
/// `[batch][m]`, `w` `[m][n]`, all row-major.
pub fn input_grad_set(dx: &mut [f64], dz: &[f64], w: &[f64], batch: usize, n: usize, m: usize) {
    if batch > 0 && blocked(n, m, batch) {
        // `dxᵀ (n × batch) = wᵀ (n × m) · dzᵀ (m × batch)`.
        let wt = DMatrixView::from_slice(w, n, m);
        let dzt = DMatrixView::from_slice(dz, m, batch);
        DMatrixViewMut::from_slice(dx, n, batch).gemm(1.0, &wt, &dzt, 0.0);
    } else {
        dx.fill(0.0);
        if n == 0 || m == 0 {
            return;
        }
        for (dxs, dzs) in dx.chunks_exact_mut(n).zip(dz.chunks_exact(m)) {
            for (&d, row) in dzs.iter().zip(w.chunks_exact(n)) {
                axpy(dxs, d, row);
            }
        }
    }
}

/// `y += a x`.
#[inline]
fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `Σ a[i] b[i]` in eight interleaved partial sums, which vectorise (one running sum cannot:
/// its additions may not be reordered).
#[inline]
fn dot_lanes(a: &[f64], b: &[f64]) -> f64 {
    let (ac, ar) = a.as_chunks::<8>();
    let (bc, br) = b.as_chunks::<8>();
    let mut acc = [0.0; 8];
    for (x, y) in ac.iter().zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ar.iter().zip(br) {
        sum += x * y;
    }
    sum
}

/// [`Scalar::dense_stack`] for `f64`: [`dense_forward`] layer after layer.
pub(super) fn dense_stack_f64(
    layers: &[Dense],
    params: &[f64],
    x: &[f64],
    batch: usize,
) -> Vec<f64> {
    if layers.iter().any(|l| !l.activation.has_kernel()) {
        return dense_stack_loops(layers, params, x, batch);
    }
    let mut input = x.to_vec();
    let mut offset = 0;
    let mut d = Vec::new();
    for layer in layers {
        let (weights, rest) = params[offset..].split_at(layer.inputs * layer.outputs);
        offset += layer.n_params();
        let mut out = vec![0.0; batch * layer.outputs];
        d.resize(out.len(), 0.0);
        dense_forward(
            layer.activation,
            weights,
            &rest[..layer.outputs],
            &input,
            batch,
            &mut out,
            &mut d,
        );
        input = out;
    }
    input
}

/// [`Scalar::dense_stack`] for vector duals (forward mode, `N` tangents): the values with
/// [`dense_forward`], the same kernels and so the same bits as `f64`'s, and the tangents lane
/// by lane as matrix products too, `ż = ẋ Wᵀ + x Ẇᵀ + ḃ`, `ḣ = f'(z) ż`. A lane whose
/// tangents are all zero so far (a seeded parameter in a later layer) costs nothing.
pub(super) fn dense_stack_duals<const N: usize>(
    layers: &[Dense],
    params: &[DualVec<N>],
    x: &[f64],
    batch: usize,
) -> Vec<DualVec<N>> {
    let total: usize = layers.iter().map(Dense::n_params).sum();
    if layers.iter().any(|l| !l.activation.has_kernel()) || params.len() < total {
        return dense_stack_loops(layers, params, x, batch);
    }
    let params = &params[..total];
    let values: Vec<f64> = params.iter().map(|p| p.re).collect();
    let tangents: Vec<Vec<f64>> = (0..N)
        .map(|l| params.iter().map(|p| p.eps[l]).collect())
        .collect();
    let mut h = x[..batch * layers.first().map_or(0, |l| l.inputs)].to_vec();
    // Each lane's tangents of the current layer's inputs; `None` while they are all zero.
    let mut h_dot: Vec<Option<Vec<f64>>> = vec![None; N];
    let mut offset = 0;
    for layer in layers {
        let (n, m) = (layer.inputs, layer.outputs);
        let (w, b) = (
            offset..offset + m * n,
            offset + m * n..offset + layer.n_params(),
        );
        offset = b.end;
        let mut out = vec![0.0; batch * m];
        let mut d = vec![0.0; batch * m];
        dense_forward(
            layer.activation,
            &values[w.clone()],
            &values[b.clone()],
            &h,
            batch,
            &mut out,
            &mut d,
        );
        let mut next: Vec<Option<Vec<f64>>> = vec![None; N];
        for (lane, slot) in next.iter_mut().enumerate() {
            let (w_dot, b_dot) = (&tangents[lane][w.clone()], &tangents[lane][b.clone()]);
            let seeded = w_dot.iter().chain(b_dot).any(|&t| t != 0.0);
            if !seeded && h_dot[lane].is_none() {
                continue;
            }
            let mut z_dot = vec![0.0; batch * m];
            if seeded {
                for row in z_dot.chunks_exact_mut(m) {
                    row.copy_from_slice(b_dot);
                }
                affine_acc(&mut z_dot, &h, w_dot, batch, n, m);
            }
            if let Some(x_dot) = &h_dot[lane] {
                affine_acc(&mut z_dot, x_dot, &values[w.clone()], batch, n, m);
            }
            if layer.activation != Activation::Identity {
                for (t, &g) in z_dot.iter_mut().zip(&d) {
                    *t *= g;
                }
            }
            *slot = Some(z_dot);
        }
        h = out;
        h_dot = next;
    }
    h.iter()
        .enumerate()
        .map(|(i, &v)| {
            DualVec::new(
                v,
                std::array::from_fn(|l| h_dot[l].as_ref().map_or(0.0, |t| t[i])),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_kernel_matches_the_elementwise_values_and_the_tape_partials() {
        let z: Vec<f64> = (-40..=40).map(|i| f64::from(i) * 0.173 - 0.05).collect();
        for act in Activation::ALL.into_iter().filter(|a| a.has_kernel()) {
            let mut v = z.clone();
            let mut d = vec![f64::NAN; z.len()];
            act.activate(&mut v, &mut d);
            for ((&z, &v), &d) in z.iter().zip(&v).zip(&d) {
                assert_eq!(v.to_bits(), act.apply(z).to_bits(), "{act}({z})");
                let want = match act {
                    Activation::Identity => continue,
                    Activation::Tanh => Func::Tanh.derivative(z, v),
                    Activation::Sigmoid => Func::Sigmoid.derivative(z, v),
                    Activation::Relu => Func::Relu.derivative(z, v),
                    Activation::Softplus => Func::Softplus.derivative(z, v),
                    Activation::LeakyRelu if z > 0.0 => 1.0,
                    Activation::LeakyRelu => LEAKY_SLOPE,
                    Activation::Gelu => unreachable!(),
                };
                assert_eq!(d.to_bits(), want.to_bits(), "{act}'({z})");
            }
        }
    }

    #[test]
    fn dense_forward_agrees_with_sequential_dots() {
        // Sizes on both sides of nalgebra's switch to the blocked kernels (every dimension > 5).
        for (batch, n, m) in [(3, 2, 4), (7, 9, 1), (20, 16, 16), (33, 64, 10), (8, 6, 6)] {
            let w: Vec<f64> = (0..m * n)
                .map(|i| ((i * 7 % 13) as f64 - 6.0) / 5.0)
                .collect();
            let b: Vec<f64> = (0..m).map(|j| j as f64 * 0.1 - 0.3).collect();
            let x: Vec<f64> = (0..batch * n)
                .map(|i| ((i * 5 % 11) as f64 - 5.0) / 3.0)
                .collect();
            let mut out = vec![0.0; batch * m];
            let mut d = vec![0.0; batch * m];
            dense_forward(Activation::Tanh, &w, &b, &x, batch, &mut out, &mut d);
            for s in 0..batch {
                for j in 0..m {
                    let dot: f64 = (0..n).map(|k| w[j * n + k] * x[s * n + k]).sum();
                    let want = tanh_f64(dot + b[j]);
                    let got = out[s * m + j];
                    assert!(
                        (got - want).abs() <= 1e-14,
                        "{batch}x{n}x{m} [{s}][{j}]: {got} vs {want}"
                    );
                    assert_eq!(d[s * m + j], 1.0 - got * got);
                }
            }
        }
    }

    #[test]
    fn the_f64_stack_takes_the_loops_for_gelu_and_agrees_otherwise() {
        let layers = [
            Dense {
                inputs: 3,
                outputs: 7,
                activation: Activation::Tanh,
            },
            Dense {
                inputs: 7,
                outputs: 2,
                activation: Activation::Identity,
            },
        ];
        let n: usize = layers.iter().map(Dense::n_params).sum();
        let p: Vec<f64> = (0..n).map(|i| ((i * 3 % 17) as f64 - 8.0) / 9.0).collect();
        let x: Vec<f64> = (0..5 * 3).map(|i| f64::from(i as u8) / 7.0 - 1.0).collect();
        let fast = dense_stack_f64(&layers, &p, &x, 5);
        let slow = dense_stack_loops(&layers, &p, &x, 5);
        assert_eq!(fast.len(), 10);
        for (a, b) in fast.iter().zip(&slow) {
            assert!((a - b).abs() < 1e-14);
        }
        let gelu = [
            Dense {
                activation: Activation::Gelu,
                ..layers[0]
            },
            layers[1],
        ];
        assert_eq!(
            dense_stack_f64(&gelu, &p, &x, 5),
            dense_stack_loops(&gelu, &p, &x, 5)
        );
    }
}
