//! torch's `_zeropower_via_newtonschulz` in two precisions: float64, and bfloat16 emulated bit
//! for bit as torch 2.15 computes it on CPU.
//!
//! What torch does in bfloat16 (checked against torch on an AVX-512 x86 CPU): every tensor is
//! stored in bfloat16, and every kernel computes in float32 and rounds its result to bfloat16
//! once, round-to-nearest-even:
//! - `grad.to(bfloat16)` converts float64 to float32, then float32 to bfloat16 (two roundings,
//!   which differ from one direct rounding in about 1 value of 10⁵);
//! - `norm()` sums the squares in float32 and rounds the square root; `clamp(min=eps)` and the
//!   division compute in float32 and round;
//! - `A @ B` multiplies bfloat16 entries exactly in float32, accumulates in float32 and rounds
//!   the sum; `addmm(C, A, B, beta=β, alpha=α)` rounds `α·(A@B) + β·C`, computed in float32
//!   from the float32 accumulator (no intermediate bfloat16 rounding of `A@B`; rounding it
//!   first disagrees with torch in ~20% of entries).
//!
//! The accumulation here is sequential over the inner index. torch's kernels block and
//! vectorise the sums, which only matters when a float32 rounding of a partial sum decides a
//! bfloat16 rounding: no disagreement in 400 random matrices up to 5×5 (every fixture and the
//! bundled scenario are within that), about 1 entry in 10⁴ for matrices up to 32×32.

use std::ops::{Add, Div, Mul};

/// Arithmetic of one precision: the number type the kernels compute in, and how a result is
/// stored.
pub(super) trait Precision:
    Copy + PartialOrd + Add<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    const ZERO: Self;
    /// A float64 tensor converted to this precision's storage (`Tensor.to(dtype)`).
    fn convert(x: f64) -> Self;
    /// A Python scalar as the kernels use it (`alpha`, `beta`, `eps`).
    fn scalar(x: f64) -> Self;
    /// A kernel's result written to a tensor of this precision.
    fn store(self) -> Self;
    fn sqrt(self) -> Self;
    fn to_f64(self) -> f64;
}

impl Precision for f64 {
    const ZERO: Self = 0.0;
    fn convert(x: f64) -> Self {
        x
    }
    fn scalar(x: f64) -> Self {
        x
    }
    fn store(self) -> Self {
        self
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// bfloat16 values held in `f32` (which represents each exactly); arithmetic in float32.
impl Precision for f32 {
    const ZERO: Self = 0.0;
    fn convert(x: f64) -> Self {
        round_bf16(x as f32)
    }
    fn scalar(x: f64) -> Self {
        x as f32
    }
    fn store(self) -> Self {
        round_bf16(self)
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

/// float32 to the nearest bfloat16 (ties to even), as c10's `round_to_nearest_even`: NaN stays
/// a NaN, overflow becomes infinity.
pub(super) fn round_bf16(x: f32) -> f32 {
    if x.is_nan() {
        return f32::NAN;
    }
    let bits = x.to_bits();
    let lsb = (bits >> 16) & 1;
    f32::from_bits(bits.wrapping_add(0x7fff + lsb) & 0xffff_0000)
}

/// `alpha·(A @ B) + beta·C` for row-major `A` (n×k) and `B` (k×m), each entry stored once; no
/// `C` is a plain `A @ B`.
fn addmm<P: Precision>(
    c: Option<(&[P], P)>,
    a: &[P],
    b: &[P],
    (n, k, m): (usize, usize, usize),
    alpha: P,
) -> Vec<P> {
    let mut out = Vec::with_capacity(n * m);
    for i in 0..n {
        for j in 0..m {
            let acc = (0..k).fold(P::ZERO, |s, t| s + a[i * k + t] * b[t * m + j]);
            out.push(match c {
                Some((c, beta)) => (alpha * acc + beta * c[i * m + j]).store(),
                None => acc.store(),
            });
        }
    }
    out
}

fn transpose<T: Copy>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..rows * cols)
        .map(|k| x[(k % rows) * cols + k / rows])
        .collect()
}

/// `_zeropower_via_newtonschulz(G, (a, b, c), steps, eps)` for the row-major `rows × cols`
/// matrix `g`, in precision `P`; the result as float64, same shape.
// X Xᵀ, and the two addmm below, by torch's names
#[allow(clippy::many_single_char_names)]
pub(super) fn orthogonalize<P: Precision>(
    g: &[f64],
    (rows, cols): (usize, usize),
    (a, b, c): (f64, f64, f64),
    steps: usize,
    eps: f64,
) -> Vec<f64> {
    let mut x: Vec<P> = g.iter().map(|&v| P::convert(v)).collect();
    // work on the wide orientation, so the Gram matrix is the small one
    let tall = rows > cols;
    let (r, k) = if tall {
        x = transpose(&x, rows, cols);
        (cols, rows)
    } else {
        (rows, cols)
    };
    let norm = x.iter().fold(P::ZERO, |s, &v| s + v * v).sqrt().store();
    let eps = P::scalar(eps);
    let norm = if norm < eps { eps.store() } else { norm };
    x.iter_mut().for_each(|v| *v = (*v / norm).store());
    let (a, b, c) = (P::scalar(a), P::scalar(b), P::scalar(c));
    let one = P::scalar(1.0);
    for _ in 0..steps {
        let gram = addmm(None, &x, &transpose(&x, r, k), (r, k, r), one);
        let update = addmm(Some((&gram, b)), &gram, &gram, (r, r, r), c);
        x = addmm(Some((&x, a)), &update, &x, (r, r, k), one);
    }
    if tall {
        x = transpose(&x, r, k);
    }
    x.into_iter().map(P::to_f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounding_is_to_nearest_even() {
        // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷: even mantissa wins
        assert_eq!(round_bf16(1.0 + 2f32.powi(-8)), 1.0);
        assert_eq!(round_bf16(1.0 + 3.0 * 2f32.powi(-8)), 1.0 + 2f32.powi(-6));
        assert_eq!(
            round_bf16(1.0 + 2f32.powi(-8) + 2f32.powi(-20)),
            1.0 + 2f32.powi(-7)
        );
        assert_eq!(round_bf16(-2.0), -2.0);
        assert!(round_bf16(f32::NAN).is_nan());
        assert_eq!(round_bf16(f32::MAX), f32::INFINITY);
        // torch: torch.tensor(0.1, dtype=torch.float64).to(torch.bfloat16).item()
        assert_eq!(f32::convert(0.1).to_f64(), 0.10009765625);
    }

    #[test]
    fn transposes_round_trip() {
        let x = [1, 2, 3, 4, 5, 6];
        assert_eq!(transpose(&x, 2, 3), [1, 4, 2, 5, 3, 6]);
        assert_eq!(transpose(&transpose(&x, 2, 3), 3, 2), x);
    }

    #[test]
    fn a_row_vector_is_normalised_and_scaled() {
        // for 1×n, X Xᵀ = ‖X‖², so X ← (a + b s + c s²) X: u/‖u‖ times the scalar iteration
        let (a, b, c) = (3.4445, -4.7750, 2.0315);
        let mut s: f64 = 1.0;
        for _ in 0..5 {
            s = a * s + b * s.powi(3) + c * s.powi(5);
        }
        let o = orthogonalize::<f64>(&[3.0, -4.0], (1, 2), (a, b, c), 5, 1e-7);
        assert!(
            (o[0] - s * 0.6).abs() < 1e-12 && (o[1] + s * 0.8).abs() < 1e-12,
            "{o:?}"
        );
        assert!((s - 0.696_436_409_469_752).abs() < 1e-12);
    }

    #[test]
    fn many_steps_approach_an_orthogonal_matrix() {
        // the classic cubic iteration (1.5, -0.5, 0) converges to U Vᵀ
        let g = [2.0, 0.5, -0.3, 1.0, 1.5, 0.2];
        let o = orthogonalize::<f64>(&g, (3, 2), (1.5, -0.5, 0.0), 60, 1e-7);
        for (p, q) in [(0, 0), (0, 1), (1, 1)] {
            let dot: f64 = (0..3).map(|i| o[i * 2 + p] * o[i * 2 + q]).sum();
            let want = if p == q { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-9, "OᵀO[{p}{q}] = {dot}");
        }
    }
}
