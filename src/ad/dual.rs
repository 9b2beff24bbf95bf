//! Forward mode: dual numbers. [`Dual<T>`] carries one tangent and nests (`Dual<Dual<f64>>`
//! gives second derivatives); [`DualVec<N>`] carries `N` tangents at once (ForwardDiff.jl's chunk
//! mode), so a gradient of `n` inputs costs `ceil(n / N)` passes. The drivers ([`gradient_with`],
//! [`jacobian_with`], [`hessian_with`], [`hvp_with`]) take closures so callers can differentiate
//! trait objects too.
//!
//! # Constants never poison a derivative
//! A tangent of exactly zero times a non-finite local derivative is taken as zero (ForwardDiff's
//! "NaN-safe" product), and so is a masked local derivative of exactly zero times a non-finite
//! tangent. Otherwise `x.powf(S::constant(2.0))` at `x < 0` would be `NaN` (the exponent's term is
//! `0 * 4 * ln(x)`) where PyTorch and the tape, which never propagate into constants, give `2x`.
//! For nested duals the test looks at the primal value of each factor only, so a second-order
//! term that is itself `0 * inf` comes out as `0` rather than non-finite.
//!
//! The rule applies where a function's local derivative meets a tangent (`chain`, `combine`:
//! powers, `min`/`max`, the elementary functions). A product or quotient of two duals stays
//! plain IEEE arithmetic, the hot path of every model: at an infinite value (an overflow) a
//! constant factor's zero tangent still gives `NaN` there, which the sessions' engine check
//! does not sample (it skips steps whose loss is not finite).

use std::ops::{Add, Div, Mul, Neg, Sub};

use nalgebra::DMatrix;

use super::{
    Scalar, ScalarFn, abs_derivative, max_partials, min_partials, powf_partials, powi_derivative,
    relu_derivative, softplus_derivative,
};

/// Widest chunk one forward pass carries.
pub const MAX_CHUNK: usize = 8;

/// The multi-direction dual forward-mode gradients use.
pub type Chunk = DualVec<MAX_CHUNK>;

/// A dual of duals: one pass gives a value, two directional first derivatives and one mixed
/// second derivative.
pub type Hyper = Dual<Dual<f64>>;

/// `t * d`, except that a product which is `NaN` only because one factor is exactly zero is zero
/// (see the module docs).
#[inline]
fn scale<T: Scalar>(t: T, d: T) -> T {
    let p = t * d;
    if p.value().is_nan() && (t.value() == 0.0 || d.value() == 0.0) {
        T::constant(0.0)
    } else {
        p
    }
}

/// [`scale`] on plain numbers, for [`DualVec`]'s lanes (and the compiled forward sweep, which
/// follows the same convention).
#[inline]
pub(crate) fn scale_f64(t: f64, d: f64) -> f64 {
    let p = t * d;
    if p.is_nan() && (t == 0.0 || d == 0.0) {
        0.0
    } else {
        p
    }
}

/// A dual number `re + eps·ε` with `ε² = 0`: `f(Dual::variable(x))` carries `f(x)` and `f'(x)`.
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::dual::Dual;
/// let y = Dual::variable(2.0_f64).powi(3);
/// assert_eq!((y.re, y.eps), (8.0, 12.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<T> {
    /// The primal value.
    pub re: T,
    /// The tangent: the derivative along the seeded direction.
    pub eps: T,
}

impl<T: Scalar> Dual<T> {
    /// A dual with the given value and tangent.
    #[must_use]
    pub fn new(re: T, eps: T) -> Self {
        Dual { re, eps }
    }

    /// The independent variable: tangent `1`.
    #[must_use]
    pub fn variable(x: T) -> Self {
        Dual {
            re: x,
            eps: T::constant(1.0),
        }
    }

    /// A constant: tangent `0`. This inherent function takes a `T` and so shadows
    /// [`Scalar::constant`] (which takes an `f64`) when called as `Dual::constant`; for
    /// `Dual<f64>` the two agree, for nested duals write `<Hyper as Scalar>::constant(c)`.
    #[must_use]
    pub fn constant(x: T) -> Self {
        Dual {
            re: x,
            eps: T::constant(0.0),
        }
    }

    /// The chain rule: value `f`, local derivative `df`.
    #[inline]
    fn chain(self, f: T, df: T) -> Self {
        Dual {
            re: f,
            eps: scale(self.eps, df),
        }
    }
}

impl<T: Scalar> Add for Dual<T> {
    type Output = Self;
    #[inline]
    fn add(self, rhs: Self) -> Self {
        Dual {
            re: self.re + rhs.re,
            eps: self.eps + rhs.eps,
        }
    }
}

impl<T: Scalar> Sub for Dual<T> {
    type Output = Self;
    #[inline]
    fn sub(self, rhs: Self) -> Self {
        Dual {
            re: self.re - rhs.re,
            eps: self.eps - rhs.eps,
        }
    }
}

impl<T: Scalar> Mul for Dual<T> {
    type Output = Self;
    #[inline]
    fn mul(self, rhs: Self) -> Self {
        Dual {
            re: self.re * rhs.re,
            eps: self.eps * rhs.re + self.re * rhs.eps,
        }
    }
}

impl<T: Scalar> Div for Dual<T> {
    type Output = Self;
    #[inline]
    fn div(self, rhs: Self) -> Self {
        let re = self.re / rhs.re;
        Dual {
            re,
            eps: (self.eps - re * rhs.eps) / rhs.re,
        }
    }
}

impl<T: Scalar> Neg for Dual<T> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        Dual {
            re: -self.re,
            eps: -self.eps,
        }
    }
}

impl<T: Scalar> Add<f64> for Dual<T> {
    type Output = Self;
    #[inline]
    fn add(self, c: f64) -> Self {
        Dual {
            re: self.re + c,
            eps: self.eps,
        }
    }
}

impl<T: Scalar> Sub<f64> for Dual<T> {
    type Output = Self;
    #[inline]
    fn sub(self, c: f64) -> Self {
        Dual {
            re: self.re - c,
            eps: self.eps,
        }
    }
}

impl<T: Scalar> Mul<f64> for Dual<T> {
    type Output = Self;
    #[inline]
    fn mul(self, c: f64) -> Self {
        Dual {
            re: self.re * c,
            eps: self.eps * c,
        }
    }
}

impl<T: Scalar> Div<f64> for Dual<T> {
    type Output = Self;
    #[inline]
    fn div(self, c: f64) -> Self {
        Dual {
            re: self.re / c,
            eps: self.eps / c,
        }
    }
}

impl<T: Scalar> Add<Dual<T>> for f64 {
    type Output = Dual<T>;
    #[inline]
    fn add(self, x: Dual<T>) -> Dual<T> {
        x + self
    }
}

impl<T: Scalar> Sub<Dual<T>> for f64 {
    type Output = Dual<T>;
    #[inline]
    fn sub(self, x: Dual<T>) -> Dual<T> {
        // `-r + c` rounds exactly as `c - r`: negation is exact and addition commutes.
        Dual {
            re: -x.re + self,
            eps: -x.eps,
        }
    }
}

impl<T: Scalar> Mul<Dual<T>> for f64 {
    type Output = Dual<T>;
    #[inline]
    fn mul(self, x: Dual<T>) -> Dual<T> {
        x * self
    }
}

impl<T: Scalar> Div<Dual<T>> for f64 {
    type Output = Dual<T>;
    #[inline]
    fn div(self, x: Dual<T>) -> Dual<T> {
        Dual::constant(T::constant(self)) / x
    }
}

impl<T: Scalar> Scalar for Dual<T> {
    #[inline]
    fn constant(c: f64) -> Self {
        Dual {
            re: T::constant(c),
            eps: T::constant(0.0),
        }
    }

    #[inline]
    fn value(&self) -> f64 {
        self.re.value()
    }

    #[inline]
    fn powi(self, n: i32) -> Self {
        let df = if n == 0 {
            T::constant(0.0)
        } else {
            self.re.powi(n - 1) * f64::from(n)
        };
        self.chain(self.re.powi(n), df)
    }

    #[inline]
    fn powf(self, p: Self) -> Self {
        let (a, b) = (self.re, p.re);
        let v = a.powf(b);
        // PyTorch's masks, decided on the primal values (`powf_partials`).
        let da = if b.value() == 0.0 {
            T::constant(0.0)
        } else {
            b * a.powf(b - 1.0)
        };
        let db = if a.value() == 0.0 && b.value() >= 0.0 {
            T::constant(0.0)
        } else {
            v * a.ln()
        };
        Dual {
            re: v,
            eps: scale(self.eps, da) + scale(p.eps, db),
        }
    }

    #[inline]
    fn exp(self) -> Self {
        let e = self.re.exp();
        self.chain(e, e)
    }

    #[inline]
    fn ln(self) -> Self {
        self.chain(self.re.ln(), T::constant(1.0) / self.re)
    }

    #[inline]
    fn sqrt(self) -> Self {
        let s = self.re.sqrt();
        self.chain(s, T::constant(0.5) / s)
    }

    #[inline]
    fn abs(self) -> Self {
        self.chain(self.re.abs(), T::constant(abs_derivative(self.re.value())))
    }

    #[inline]
    fn sin(self) -> Self {
        self.chain(self.re.sin(), self.re.cos())
    }

    #[inline]
    fn cos(self) -> Self {
        self.chain(self.re.cos(), -self.re.sin())
    }

    #[inline]
    fn tan(self) -> Self {
        let t = self.re.tan();
        self.chain(t, t * t + 1.0)
    }

    #[inline]
    fn tanh(self) -> Self {
        let t = self.re.tanh();
        self.chain(t, -(t * t) + 1.0)
    }

    #[inline]
    fn sigmoid(self) -> Self {
        let s = self.re.sigmoid();
        self.chain(s, s * (-s + 1.0))
    }

    #[inline]
    fn softplus(self) -> Self {
        if self.re.value() > 20.0 {
            // PyTorch's threshold: the identity, derivative 1, at every level of nesting.
            self
        } else {
            self.chain(self.re.softplus(), self.re.sigmoid())
        }
    }

    #[inline]
    fn relu(self) -> Self {
        self.chain(
            self.re.relu(),
            T::constant(relu_derivative(self.re.value())),
        )
    }

    #[inline]
    fn min(self, other: Self) -> Self {
        let (da, db) = min_partials(self.re.value(), other.re.value());
        Dual {
            re: self.re.min(other.re),
            eps: scale(self.eps, T::constant(da)) + scale(other.eps, T::constant(db)),
        }
    }

    #[inline]
    fn max(self, other: Self) -> Self {
        let (da, db) = max_partials(self.re.value(), other.re.value());
        Dual {
            re: self.re.max(other.re),
            eps: scale(self.eps, T::constant(da)) + scale(other.eps, T::constant(db)),
        }
    }
}

/// A dual number with `N` tangents: one pass differentiates along `N` directions at once.
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::dual::DualVec;
/// let x = DualVec::<2>::variable(3.0, 0);
/// let y = DualVec::<2>::variable(2.0, 1);
/// let f = x * y + x;
/// assert_eq!((f.re, f.eps), (9.0, [3.0, 3.0]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DualVec<const N: usize> {
    /// The primal value.
    pub re: f64,
    /// The tangents, one per seeded direction.
    pub eps: [f64; N],
}

impl<const N: usize> DualVec<N> {
    /// A dual with the given value and tangents.
    #[must_use]
    pub fn new(re: f64, eps: [f64; N]) -> Self {
        DualVec { re, eps }
    }

    /// The `lane`-th independent variable: tangent `1` in that lane, `0` elsewhere (no lane is
    /// seeded if `lane >= N`).
    #[must_use]
    pub fn variable(x: f64, lane: usize) -> Self {
        let mut eps = [0.0; N];
        if let Some(e) = eps.get_mut(lane) {
            *e = 1.0;
        }
        DualVec { re: x, eps }
    }

    /// The chain rule: value `f`, local derivative `df`, applied to every lane.
    #[inline]
    fn chain(self, f: f64, df: f64) -> Self {
        // `scale_f64` on every lane: a plain product unless it is NaN (rare, predicted), which
        // is cheaper than first testing `df` for finite and non-zero.
        let mut eps = self.eps;
        for e in &mut eps {
            *e = scale_f64(*e, df);
        }
        DualVec { re: f, eps }
    }

    /// `da * a.eps + db * b.eps` lane by lane, for the two-argument functions.
    #[inline]
    fn combine(a: &Self, da: f64, b: &Self, db: f64, re: f64) -> Self {
        let mut eps = [0.0; N];
        for ((e, &x), &y) in eps.iter_mut().zip(&a.eps).zip(&b.eps) {
            *e = scale_f64(x, da) + scale_f64(y, db);
        }
        DualVec { re, eps }
    }
}

impl<const N: usize> Add for DualVec<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, rhs: Self) -> Self {
        self.re += rhs.re;
        for (e, &r) in self.eps.iter_mut().zip(&rhs.eps) {
            *e += r;
        }
        self
    }
}

impl<const N: usize> Sub for DualVec<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, rhs: Self) -> Self {
        self.re -= rhs.re;
        for (e, &r) in self.eps.iter_mut().zip(&rhs.eps) {
            *e -= r;
        }
        self
    }
}

impl<const N: usize> Mul for DualVec<N> {
    type Output = Self;
    #[inline]
    fn mul(mut self, rhs: Self) -> Self {
        for (e, &r) in self.eps.iter_mut().zip(&rhs.eps) {
            *e = *e * rhs.re + self.re * r;
        }
        self.re *= rhs.re;
        self
    }
}

impl<const N: usize> Div for DualVec<N> {
    type Output = Self;
    #[inline]
    fn div(mut self, rhs: Self) -> Self {
        let re = self.re / rhs.re;
        for (e, &r) in self.eps.iter_mut().zip(&rhs.eps) {
            *e = (*e - re * r) / rhs.re;
        }
        self.re = re;
        self
    }
}

impl<const N: usize> Neg for DualVec<N> {
    type Output = Self;
    #[inline]
    fn neg(mut self) -> Self {
        self.re = -self.re;
        for e in &mut self.eps {
            *e = -*e;
        }
        self
    }
}

impl<const N: usize> Add<f64> for DualVec<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, c: f64) -> Self {
        self.re += c;
        self
    }
}

impl<const N: usize> Sub<f64> for DualVec<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, c: f64) -> Self {
        self.re -= c;
        self
    }
}

impl<const N: usize> Mul<f64> for DualVec<N> {
    type Output = Self;
    #[inline]
    fn mul(mut self, c: f64) -> Self {
        self.re *= c;
        for e in &mut self.eps {
            *e *= c;
        }
        self
    }
}

impl<const N: usize> Div<f64> for DualVec<N> {
    type Output = Self;
    #[inline]
    fn div(mut self, c: f64) -> Self {
        self.re /= c;
        for e in &mut self.eps {
            *e /= c;
        }
        self
    }
}

impl<const N: usize> Add<DualVec<N>> for f64 {
    type Output = DualVec<N>;
    #[inline]
    fn add(self, x: DualVec<N>) -> DualVec<N> {
        x + self
    }
}

impl<const N: usize> Sub<DualVec<N>> for f64 {
    type Output = DualVec<N>;
    #[inline]
    fn sub(self, x: DualVec<N>) -> DualVec<N> {
        -x + self
    }
}

impl<const N: usize> Mul<DualVec<N>> for f64 {
    type Output = DualVec<N>;
    #[inline]
    fn mul(self, x: DualVec<N>) -> DualVec<N> {
        x * self
    }
}

impl<const N: usize> Div<DualVec<N>> for f64 {
    type Output = DualVec<N>;
    #[inline]
    fn div(self, x: DualVec<N>) -> DualVec<N> {
        DualVec::constant(self) / x
    }
}

impl<const N: usize> Scalar for DualVec<N> {
    #[inline]
    fn constant(c: f64) -> Self {
        DualVec {
            re: c,
            eps: [0.0; N],
        }
    }

    /// Values by `f64`'s layer kernels (the same bits), tangents as matrix products.
    fn dense_stack(
        layers: &[crate::ad::layer::Dense],
        params: &[Self],
        x: &[f64],
        batch: usize,
    ) -> Vec<Self> {
        crate::ad::layer::dense_stack_duals(layers, params, x, batch)
    }

    #[inline]
    fn value(&self) -> f64 {
        self.re
    }

    #[inline]
    fn powi(self, n: i32) -> Self {
        self.chain(self.re.powi(n), powi_derivative(self.re, n))
    }

    #[inline]
    fn powf(self, p: Self) -> Self {
        let (da, db) = powf_partials(self.re, p.re);
        Self::combine(&self, da, &p, db, self.re.powf(p.re))
    }

    #[inline]
    fn exp(self) -> Self {
        let e = self.re.exp();
        self.chain(e, e)
    }

    #[inline]
    fn ln(self) -> Self {
        self.chain(self.re.ln(), 1.0 / self.re)
    }

    #[inline]
    fn sqrt(self) -> Self {
        let s = self.re.sqrt();
        self.chain(s, 0.5 / s)
    }

    #[inline]
    fn abs(self) -> Self {
        self.chain(self.re.abs(), abs_derivative(self.re))
    }

    #[inline]
    fn sin(self) -> Self {
        let (s, c) = self.re.sin_cos();
        self.chain(s, c)
    }

    #[inline]
    fn cos(self) -> Self {
        let (s, c) = self.re.sin_cos();
        self.chain(c, -s)
    }

    #[inline]
    fn tan(self) -> Self {
        let t = self.re.tan();
        self.chain(t, t * t + 1.0)
    }

    #[inline]
    fn tanh(self) -> Self {
        let t = Scalar::tanh(self.re);
        self.chain(t, -(t * t) + 1.0)
    }

    #[inline]
    fn sigmoid(self) -> Self {
        let s = Scalar::sigmoid(self.re);
        self.chain(s, s * (-s + 1.0))
    }

    #[inline]
    fn softplus(self) -> Self {
        self.chain(Scalar::softplus(self.re), softplus_derivative(self.re))
    }

    #[inline]
    fn relu(self) -> Self {
        self.chain(Scalar::relu(self.re), relu_derivative(self.re))
    }

    #[inline]
    fn min(self, other: Self) -> Self {
        let (da, db) = min_partials(self.re, other.re);
        Self::combine(&self, da, &other, db, Scalar::min(self.re, other.re))
    }

    #[inline]
    fn max(self, other: Self) -> Self {
        let (da, db) = max_partials(self.re, other.re);
        Self::combine(&self, da, &other, db, Scalar::max(self.re, other.re))
    }

    // The n-ary forms accumulate in the same order as the default folds (`acc + term`), so a
    // chunked gradient agrees bit for bit with one direction at a time.
    #[inline]
    fn sum(terms: &[Self]) -> Self {
        let mut acc = Self::constant(0.0);
        for t in terms {
            acc.re += t.re;
            for (e, &x) in acc.eps.iter_mut().zip(&t.eps) {
                *e += x;
            }
        }
        acc
    }

    #[inline]
    fn dot(a: &[Self], b: &[Self]) -> Self {
        let mut acc = Self::constant(0.0);
        for (x, y) in a.iter().zip(b) {
            acc.re += x.re * y.re;
            for ((e, &xe), &ye) in acc.eps.iter_mut().zip(&x.eps).zip(&y.eps) {
                *e += xe * y.re + x.re * ye;
            }
        }
        acc
    }

    #[inline]
    fn dot_const(a: &[Self], c: &[f64]) -> Self {
        let mut acc = Self::constant(0.0);
        for (x, &k) in a.iter().zip(c) {
            acc.re += x.re * k;
            for (e, &xe) in acc.eps.iter_mut().zip(&x.eps) {
                *e += xe * k;
            }
        }
        acc
    }
}

/// The value and derivative of a function of one variable.
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::dual::derivative;
/// assert_eq!(derivative(|x| x.powi(3), 2.0), (8.0, 12.0));
/// ```
pub fn derivative(f: impl Fn(Dual<f64>) -> Dual<f64>, x: f64) -> (f64, f64) {
    let y = f(Dual::variable(x));
    (y.re, y.eps)
}

/// The chunk width actually used for a requested one.
fn clamp_chunk(chunk: usize) -> usize {
    chunk.clamp(1, MAX_CHUNK)
}

/// The gradient of `eval` at `x` by forward mode, `chunk` directions a pass (clamped to
/// `1..=MAX_CHUNK`); writes it into `grad` and returns the value and the number of passes,
/// `ceil(n / chunk)` (one even for `n = 0`).
///
/// # Panics
/// If `grad.len() != x.len()`.
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::dual::gradient_with;
/// let mut g = [0.0; 3];
/// let (v, passes) = gradient_with(&[1.0, 2.0, 3.0], 2, &mut g, |x| x[0] * x[1] * x[2]);
/// assert_eq!((v, passes, g), (6.0, 2, [6.0, 3.0, 2.0]));
/// ```
pub fn gradient_with(
    x: &[f64],
    chunk: usize,
    grad: &mut [f64],
    mut eval: impl FnMut(&[Chunk]) -> Chunk,
) -> (f64, usize) {
    assert_eq!(
        grad.len(),
        x.len(),
        "gradient buffer length must equal the input length"
    );
    let chunk = clamp_chunk(chunk);
    let mut input: Vec<Chunk> = x.iter().map(|&xi| Chunk::constant(xi)).collect();
    if x.is_empty() {
        return (eval(&input).re, 1);
    }
    let mut value = f64::NAN;
    let mut passes = 0;
    for start in (0..x.len()).step_by(chunk) {
        let end = (start + chunk).min(x.len());
        for (lane, xi) in input[start..end].iter_mut().enumerate() {
            xi.eps[lane] = 1.0;
        }
        let out = eval(&input);
        value = out.re;
        grad[start..end].copy_from_slice(&out.eps[..end - start]);
        for (lane, xi) in input[start..end].iter_mut().enumerate() {
            xi.eps[lane] = 0.0;
        }
        passes += 1;
    }
    (value, passes)
}

/// [`gradient_with`] for a [`ScalarFn`].
///
/// # Panics
/// If `grad.len() != x.len()`.
///
/// ```
/// use gradscope::ad::{Scalar, ScalarFn};
/// use gradscope::ad::dual::gradient;
/// struct Square;
/// impl ScalarFn for Square {
///     fn dim(&self) -> usize { 2 }
///     fn eval<S: Scalar>(&self, x: &[S]) -> S { x[0] * x[0] + x[1] * x[1] }
/// }
/// let mut g = [0.0; 2];
/// assert_eq!(gradient(&Square, &[1.0, -2.0], 8, &mut g), (5.0, 1));
/// assert_eq!(g, [2.0, -4.0]);
/// ```
pub fn gradient<F: ScalarFn>(f: &F, x: &[f64], chunk: usize, grad: &mut [f64]) -> (f64, usize) {
    gradient_with(x, chunk, grad, |xs| f.eval(xs))
}

/// The values and `m × n` Jacobian of a vector function (residuals) at `x`, `chunk` directions a
/// pass, and the number of passes. `eval` pushes its `m` outputs onto the (cleared) vector.
///
/// # Panics
/// If `eval` returns a different number of outputs on different passes.
///
/// ```
/// use gradscope::ad::dual::jacobian_with;
/// let (r, jac, passes) = jacobian_with(&[2.0, 3.0], 8, |x, out| {
///     out.push(x[0] * x[1]);
///     out.push(x[0] - x[1]);
/// });
/// assert_eq!((r, passes), (vec![6.0, -1.0], 1));
/// assert_eq!(jac, nalgebra::DMatrix::from_row_slice(2, 2, &[3.0, 2.0, 1.0, -1.0]));
/// ```
pub fn jacobian_with(
    x: &[f64],
    chunk: usize,
    mut eval: impl FnMut(&[Chunk], &mut Vec<Chunk>),
) -> (Vec<f64>, DMatrix<f64>, usize) {
    let n = x.len();
    let chunk = clamp_chunk(chunk);
    let mut input: Vec<Chunk> = x.iter().map(|&xi| Chunk::constant(xi)).collect();
    let mut out: Vec<Chunk> = Vec::new();
    let mut values: Option<Vec<f64>> = None;
    let mut jac = DMatrix::zeros(0, n);
    let mut passes = 0;
    let mut start = 0;
    loop {
        let end = (start + chunk).min(n);
        for (lane, xi) in input[start..end].iter_mut().enumerate() {
            xi.eps[lane] = 1.0;
        }
        out.clear();
        eval(&input, &mut out);
        passes += 1;
        let m = values.get_or_insert_with(|| {
            jac = DMatrix::zeros(out.len(), n);
            out.iter().map(|r| r.re).collect()
        });
        assert_eq!(
            out.len(),
            m.len(),
            "the residual count changed between passes"
        );
        for (i, r) in out.iter().enumerate() {
            for (lane, j) in (start..end).enumerate() {
                jac[(i, j)] = r.eps[lane];
            }
        }
        for (lane, xi) in input[start..end].iter_mut().enumerate() {
            xi.eps[lane] = 0.0;
        }
        start = end;
        if start >= n {
            break;
        }
    }
    (values.unwrap_or_default(), jac, passes)
}

/// Value, gradient and Hessian of `eval` at `x` by nested duals: one pass per pair `i <= j`,
/// seeding `e_i` on the outer level and `e_j` on the inner one (`n (n + 1) / 2` passes, one for
/// `n = 0`).
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::dual::hessian_with;
/// let (v, g, h) = hessian_with(&[1.0, 2.0], |x| x[0] * x[0] * x[1]);
/// assert_eq!((v, g), (2.0, vec![4.0, 1.0]));
/// assert_eq!(h, nalgebra::DMatrix::from_row_slice(2, 2, &[4.0, 2.0, 2.0, 0.0]));
/// ```
pub fn hessian_with(
    x: &[f64],
    mut eval: impl FnMut(&[Hyper]) -> Hyper,
) -> (f64, Vec<f64>, DMatrix<f64>) {
    let n = x.len();
    let mut input: Vec<Hyper> = x
        .iter()
        .map(|&xi| <Hyper as Scalar>::constant(xi))
        .collect();
    let mut grad = vec![0.0; n];
    let mut hess = DMatrix::zeros(n, n);
    if n == 0 {
        return (eval(&input).value(), grad, hess);
    }
    let mut value = f64::NAN;
    for i in 0..n {
        input[i].eps.re = 1.0;
        for j in i..n {
            input[j].re.eps = 1.0;
            let out = eval(&input);
            input[j].re.eps = 0.0;
            value = out.re.re;
            if i == j {
                grad[i] = out.eps.re;
            }
            hess[(i, j)] = out.eps.eps;
            hess[(j, i)] = out.eps.eps;
        }
        input[i].eps.re = 0.0;
    }
    (value, grad, hess)
}

/// [`hessian_with`] for a [`ScalarFn`].
///
/// ```
/// use gradscope::ad::{Scalar, ScalarFn};
/// use gradscope::ad::dual::hessian;
/// struct Cube;
/// impl ScalarFn for Cube {
///     fn dim(&self) -> usize { 1 }
///     fn eval<S: Scalar>(&self, x: &[S]) -> S { x[0].powi(3) }
/// }
/// let (v, g, h) = hessian(&Cube, &[2.0]);
/// assert_eq!((v, g[0], h[(0, 0)]), (8.0, 12.0, 12.0));
/// ```
pub fn hessian<F: ScalarFn>(f: &F, x: &[f64]) -> (f64, Vec<f64>, DMatrix<f64>) {
    hessian_with(x, |xs| f.eval(xs))
}

/// The Hessian-vector product `H(x) · v` in `n` passes without forming `H`: the outer level is
/// seeded with `v`, the inner with `e_j`, so the pass's mixed term is `(H v)_j`.
///
/// # Panics
/// If `v.len() != x.len()`.
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::dual::hvp_with;
/// // f = x0^2 x1: H = [[2 x1, 2 x0], [2 x0, 0]] = [[4, 2], [2, 0]] at (1, 2).
/// let hv = hvp_with(&[1.0, 2.0], &[1.0, -1.0], |x| x[0] * x[0] * x[1]);
/// assert_eq!(hv, vec![2.0, 2.0]);
/// ```
pub fn hvp_with(x: &[f64], v: &[f64], mut eval: impl FnMut(&[Hyper]) -> Hyper) -> Vec<f64> {
    assert_eq!(
        v.len(),
        x.len(),
        "direction length must equal the input length"
    );
    let mut input: Vec<Hyper> = x
        .iter()
        .zip(v)
        .map(|(&xi, &vi)| Dual::new(Dual::constant(xi), Dual::constant(vi)))
        .collect();
    let mut hv = vec![0.0; x.len()];
    for (j, out_j) in hv.iter_mut().enumerate() {
        input[j].re.eps = 1.0;
        *out_j = eval(&input).eps.eps;
        input[j].re.eps = 0.0;
    }
    hv
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOL: f64 = 1e-12;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= TOL * (1.0 + b.abs())
    }

    fn assert_close(what: &str, got: (f64, f64), want: (f64, f64)) {
        assert!(
            close(got.0, want.0) && close(got.1, want.1),
            "{what}: got {got:?}, want {want:?}"
        );
    }

    #[test]
    fn known_derivatives() {
        type D = Dual<f64>;
        // (name, function, x, value, derivative)
        type Row = (&'static str, fn(D) -> D, f64, f64, f64);
        let table: Vec<Row> = vec![
            ("exp", |x| x.exp(), 0.7, 0.7_f64.exp(), 0.7_f64.exp()),
            ("ln", |x| x.ln(), 2.5, 2.5_f64.ln(), 0.4),
            ("sqrt", |x| x.sqrt(), 4.0, 2.0, 0.25),
            ("sin", |x| x.sin(), 0.3, 0.3_f64.sin(), 0.3_f64.cos()),
            ("cos", |x| x.cos(), 0.3, 0.3_f64.cos(), -0.3_f64.sin()),
            (
                "tan",
                |x| x.tan(),
                0.4,
                0.4_f64.tan(),
                1.0 / 0.4_f64.cos().powi(2),
            ),
            (
                "tanh",
                |x| x.tanh(),
                0.5,
                0.5_f64.tanh(),
                1.0 / 0.5_f64.cosh().powi(2),
            ),
            ("sigmoid 0", |x| x.sigmoid(), 0.0, 0.5, 0.25),
            (
                "sigmoid 1.5",
                |x| x.sigmoid(),
                1.5,
                0.817_574_476_193_643_7,
                0.149_146_452_070_332_86,
            ),
            (
                "softplus 1",
                |x| x.softplus(),
                1.0,
                1.0_f64.exp().ln_1p(),
                1.0 / (1.0 + (-1.0_f64).exp()),
            ),
            ("softplus 30", |x| x.softplus(), 30.0, 30.0, 1.0),
            (
                "softplus -30",
                |x| x.softplus(),
                -30.0,
                (-30.0_f64).exp().ln_1p(),
                (-30.0_f64).exp() / (1.0 + (-30.0_f64).exp()),
            ),
            ("relu -1", |x| x.relu(), -1.0, 0.0, 0.0),
            ("relu 0", |x| x.relu(), 0.0, 0.0, 0.0),
            ("relu 2", |x| x.relu(), 2.0, 2.0, 1.0),
            ("abs 0", |x| x.abs(), 0.0, 0.0, 0.0),
            ("abs -3", |x| x.abs(), -3.0, 3.0, -1.0),
            ("max x 1 at 2", |x| x.max(D::constant(1.0)), 2.0, 2.0, 1.0),
            ("max x 1 at 0", |x| x.max(D::constant(1.0)), 0.0, 1.0, 0.0),
            ("max tie", |x| x.max(D::constant(1.0)), 1.0, 1.0, 0.5),
            ("max x x", |x| x.max(x), 1.0, 1.0, 1.0),
            ("min x 1 at 2", |x| x.min(D::constant(1.0)), 2.0, 1.0, 0.0),
            ("min x 1 at 0", |x| x.min(D::constant(1.0)), 0.0, 0.0, 1.0),
            ("min tie", |x| D::constant(1.0).min(x), 1.0, 1.0, 0.5),
            ("min x 2x", |x| x.min(x * 2.0), 0.0, 0.0, 1.5),
            ("powi 3", |x| x.powi(3), 2.0, 8.0, 12.0),
            ("powi -2", |x| x.powi(-2), 2.0, 0.25, -0.25),
            ("powi 0", |x| x.powi(0), 2.0, 1.0, 0.0),
            ("powf base", |x| x.powf(D::constant(2.5)), 4.0, 32.0, 20.0),
            ("powf base<0", |x| x.powf(D::constant(2.0)), -3.0, 9.0, -6.0),
            (
                "powf exponent",
                |x| D::constant(2.0).powf(x),
                3.0,
                8.0,
                8.0 * 2.0_f64.ln(),
            ),
            ("powf 0^x", |x| D::constant(0.0).powf(x), 2.0, 0.0, 0.0),
            ("powf x^0", |x| x.powf(D::constant(0.0)), 0.0, 1.0, 0.0),
            (
                "powf x^x",
                |x| x.powf(x),
                2.0,
                4.0,
                4.0 * (2.0_f64.ln() + 1.0),
            ),
            ("div", |x| x / (x + 1.0), 1.0, 0.5, 0.25),
            ("div f64", |x| x / 4.0, 1.0, 0.25, 0.25),
            ("f64 / x", |x| 2.0 / x, 4.0, 0.5, -0.125),
            ("f64 - x", |x| 2.0 - x, 4.0, -2.0, -1.0),
            ("f64 + x", |x| 2.0 + x, 4.0, 6.0, 1.0),
            ("f64 * x", |x| 2.0 * x, 4.0, 8.0, 2.0),
            ("x - f64", |x| x - 2.0, 4.0, 2.0, 1.0),
            ("neg", |x| -x, 4.0, -4.0, -1.0),
            (
                "sqrt const 0",
                |x| x + D::constant(0.0).sqrt(),
                1.0,
                1.0,
                1.0,
            ),
        ];
        for (name, f, x, v, d) in table {
            assert_close(name, derivative(f, x), (v, d));
        }
    }

    #[test]
    fn dual_vec_functions_match_dual() {
        fn all<S: Scalar>(x: S, y: S) -> Vec<S> {
            vec![
                x.exp(),
                x.ln(),
                x.sqrt(),
                x.sin(),
                x.cos(),
                x.tan(),
                x.tanh(),
                x.sigmoid(),
                x.softplus(),
                (x * 40.0).softplus(),
                (x - 40.0).softplus(),
                x.relu(),
                (-x).relu(),
                (x - y).abs(),
                x.max(y),
                x.min(y),
                x.max(x),
                x.powi(3),
                x.powf(y),
                (-x).powf(S::constant(2.0)),
                x / y,
                S::constant(2.0) / y,
                S::sum(&[x, y, x * y]),
                S::dot(&[x, y], &[y, x * 3.0]),
                S::dot_const(&[x, y], &[2.0, -1.0]),
            ]
        }
        let (x0, y0) = (0.8, 1.3);
        let xs = [Chunk::variable(x0, 0), Chunk::variable(y0, 1)];
        let vec_out = all(xs[0], xs[1]);
        for dir in 0..2 {
            let seed = |k: usize, v: f64| Dual::new(v, if k == dir { 1.0 } else { 0.0 });
            let one = all(seed(0, x0), seed(1, y0));
            for (k, (a, b)) in vec_out.iter().zip(&one).enumerate() {
                assert_eq!(a.re, b.re, "function {k}");
                assert_eq!(a.eps[dir], b.eps, "function {k}, direction {dir}");
            }
        }
    }

    #[test]
    fn ties_split_evenly_in_chunks() {
        let a = Chunk::variable(1.0, 0);
        let b = Chunk::variable(1.0, 1);
        assert_eq!(a.max(b).eps[..2], [0.5, 0.5]);
        assert_eq!(a.min(b).eps[..2], [0.5, 0.5]);
        assert_eq!(Chunk::variable(0.0, 2).relu().eps[2], 0.0);
        assert_eq!(Chunk::variable(0.0, 2).abs().eps[2], 0.0);
    }

    #[test]
    fn constants_do_not_poison_tangents() {
        // A negative base with a constant exponent: the exponent's term is 0 * ln(x) = 0 * NaN.
        let (_, d) = derivative(|x| x.powf(Dual::constant(2.0)), -2.0);
        assert_eq!(d, -4.0);
        let h = Dual::variable(Dual::variable(-2.0));
        let y = h.powf(Dual::constant(Dual::constant(3.0)));
        assert_eq!((y.eps.re, y.eps.eps), (12.0, -12.0));
        // A variable exponent on a negative base is genuinely undefined, as in PyTorch.
        assert!(derivative(|x| Dual::constant(-2.0).powf(x), 2.0).1.is_nan());
        // Infinite derivatives at a variable still show.
        assert_eq!(derivative(|x| x.sqrt(), 0.0).1, f64::INFINITY);
    }

    #[test]
    fn second_derivatives_by_nesting() {
        let x = 0.7_f64;
        let h = Hyper::variable(Dual::variable(x)).sin();
        assert!(close(h.re.re, x.sin()));
        assert!(close(h.re.eps, x.cos()) && close(h.eps.re, x.cos()));
        assert!(close(h.eps.eps, -x.sin()));

        let h = Hyper::variable(Dual::variable(x)).powi(4);
        assert!(close(h.eps.eps, 12.0 * x * x));

        let h = Hyper::variable(Dual::variable(x)).tanh();
        let t = x.tanh();
        assert!(close(h.eps.eps, -2.0 * t * (1.0 - t * t)));

        let h = Hyper::variable(Dual::variable(x)).sigmoid();
        let s = 1.0 / (1.0 + (-x).exp());
        assert!(close(h.eps.eps, s * (1.0 - s) * (1.0 - 2.0 * s)));

        let h = Hyper::variable(Dual::variable(x)).softplus();
        assert!(close(h.eps.eps, s * (1.0 - s)));

        let h = Hyper::variable(Dual::variable(x)).ln();
        assert!(close(h.eps.eps, -1.0 / (x * x)));

        let h = (1.0 / Hyper::variable(Dual::variable(x))).sqrt();
        assert!(close(h.eps.eps, 0.75 * x.powf(-2.5)));

        // d²/dx dy of x^y = x^(y-1) (1 + y ln x).
        let (x, y) = (1.7_f64, 2.3_f64);
        let (_, _, h) = hessian_with(&[x, y], |v| v[0].powf(v[1]));
        let want = x.powf(y - 1.0) * (1.0 + y * x.ln());
        assert!(close(h[(0, 1)], want) && close(h[(1, 0)], want));
        assert!(close(h[(0, 0)], y * (y - 1.0) * x.powf(y - 2.0)));
        assert!(close(h[(1, 1)], x.powf(y) * x.ln() * x.ln()));
    }

    fn rosenbrock<S: Scalar>(v: &[S]) -> S {
        (S::constant(1.0) - v[0]).powi(2) + (v[1] - v[0] * v[0]).powi(2) * 100.0
    }

    fn rosenbrock_grad(x: f64, y: f64) -> [f64; 2] {
        [
            -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
            200.0 * (y - x * x),
        ]
    }

    #[test]
    fn rosenbrock_hessian_matches_analytic() {
        let (x, y) = (-1.5, 2.0);
        let (v, g, h) = hessian_with(&[x, y], rosenbrock);
        assert!(close(v, 6.25 + 100.0 * 0.0625));
        let want_g = rosenbrock_grad(x, y);
        assert!(close(g[0], want_g[0]) && close(g[1], want_g[1]));
        let want = DMatrix::from_row_slice(
            2,
            2,
            &[
                1200.0 * x * x - 400.0 * y + 2.0,
                -400.0 * x,
                -400.0 * x,
                200.0,
            ],
        );
        assert!((h - want).abs().max() < 1e-9);
    }

    /// A function of many inputs touching every Scalar operation.
    fn busy<S: Scalar>(x: &[S]) -> S {
        let mut acc = S::constant(0.0);
        for (i, &xi) in x.iter().enumerate() {
            let next = x[(i + 1) % x.len()];
            acc = acc
                + xi.sin() * next
                + (xi * next).tanh()
                + xi.sigmoid() * 0.5
                + (xi - 0.2).softplus()
                + (xi * xi + 1.0).ln()
                + (xi * xi + 0.5).sqrt()
                + xi.max(next)
                + xi.min(S::constant(0.1)).relu()
                + xi.abs().powf(S::constant(1.5))
                + (xi * 0.3).exp() / (next * next + 2.0)
                + xi.cos().powi(3);
        }
        acc + S::dot(x, x) + S::sum(x) * 0.25 + S::dot_const(x, &vec![0.5; x.len()])
    }

    struct Busy(usize);
    impl ScalarFn for Busy {
        fn dim(&self) -> usize {
            self.0
        }
        fn eval<S: Scalar>(&self, x: &[S]) -> S {
            busy(x)
        }
    }

    fn one_at_a_time(x: &[f64]) -> Vec<f64> {
        (0..x.len())
            .map(|i| {
                let xs: Vec<Dual<f64>> = x
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| Dual::new(v, if k == i { 1.0 } else { 0.0 }))
                    .collect();
                busy(&xs).eps
            })
            .collect()
    }

    #[test]
    fn chunked_gradient_matches_one_direction_at_a_time() {
        for n in [1, 7, 17] {
            let x: Vec<f64> = (0..n)
                .map(|i| (i as f64 * 0.37).sin() * 1.3 - 0.2)
                .collect();
            let want = one_at_a_time(&x);
            for chunk in [1, 3, 8] {
                let mut g = vec![0.0; n];
                let (v, passes) = gradient(&Busy(n), &x, chunk, &mut g);
                assert_eq!(passes, n.div_ceil(chunk), "n = {n}, chunk = {chunk}");
                assert_eq!(v, busy(&x));
                assert_eq!(g, want, "n = {n}, chunk = {chunk}");
            }
        }
    }

    #[test]
    fn chunk_is_clamped_and_empty_input_takes_one_pass() {
        let mut g = vec![0.0; 9];
        let x = vec![1.0; 9];
        assert_eq!(gradient_with(&x, 0, &mut g, Chunk::sum), (9.0, 9));
        assert_eq!(g, vec![1.0; 9]);
        assert_eq!(gradient_with(&x, 100, &mut g, Chunk::sum), (9.0, 2));
        assert_eq!(
            gradient_with(&[], 8, &mut [], |_| Chunk::constant(4.0)),
            (4.0, 1)
        );
    }

    #[test]
    fn hessian_is_symmetric_and_hvp_matches() {
        let n = 5;
        let x: Vec<f64> = (0..n).map(|i| 0.3 * i as f64 - 0.5).collect();
        let (v, g, h) = hessian(&Busy(n), &x);
        assert_eq!(v, busy(&x));
        let mut g_fwd = vec![0.0; n];
        gradient(&Busy(n), &x, 8, &mut g_fwd);
        for (a, b) in g.iter().zip(&g_fwd) {
            assert!(close(*a, *b));
        }
        assert_eq!(h, h.transpose());
        let dir: Vec<f64> = (0..n).map(|i| 1.0 - 0.4 * i as f64).collect();
        let hv = hvp_with(&x, &dir, busy);
        let want = &h * nalgebra::DVector::from_vec(dir);
        for (a, b) in hv.iter().zip(want.iter()) {
            assert!(close(*a, *b), "{a} vs {b}");
        }
    }

    #[test]
    fn jacobian_of_residuals() {
        // r(a, b) = (a b, sin a, a - b^2): J = [[b, a], [cos a, 0], [1, -2 b]].
        let (a, b) = (0.4, -1.2);
        for chunk in [1, 2, 8] {
            let (r, j, passes) = jacobian_with(&[a, b], chunk, |x, out| {
                out.push(x[0] * x[1]);
                out.push(x[0].sin());
                out.push(x[0] - x[1] * x[1]);
            });
            assert_eq!(passes, 2_usize.div_ceil(chunk));
            assert_eq!(r, vec![a * b, a.sin(), a - b * b]);
            let want = DMatrix::from_row_slice(3, 2, &[b, a, a.cos(), 0.0, 1.0, -2.0 * b]);
            assert_eq!(j, want);
        }
        let (r, j, passes) = jacobian_with(&[], 8, |_, out| out.push(Chunk::constant(1.0)));
        assert_eq!((r, j.shape(), passes), (vec![1.0], (1, 0), 1));
    }

    proptest! {
        #![proptest_config(crate::proptest_seed::fixed_seed(ProptestConfig::default()))]

        #[test]
        fn prop_rosenbrock_gradient_and_hessian(x in -3.0..3.0_f64, y in -3.0..3.0_f64) {
            let mut g = [0.0; 2];
            let (v, _) = gradient_with(&[x, y], 8, &mut g, rosenbrock);
            let want = rosenbrock_grad(x, y);
            prop_assert!(close(v, rosenbrock(&[x, y])));
            prop_assert!(close(g[0], want[0]) && close(g[1], want[1]));
            let (_, _, h) = hessian_with(&[x, y], rosenbrock);
            prop_assert!(close(h[(0, 0)], 1200.0 * x * x - 400.0 * y + 2.0));
            prop_assert!(close(h[(0, 1)], -400.0 * x));
            prop_assert!(close(h[(1, 1)], 200.0));
        }

        #[test]
        fn prop_chunks_agree(xs in proptest::collection::vec(-2.0..2.0_f64, 1..20), chunk in 1..=8_usize) {
            let want = one_at_a_time(&xs);
            let mut g = vec![0.0; xs.len()];
            let (_, passes) = gradient(&Busy(xs.len()), &xs, chunk, &mut g);
            prop_assert_eq!(passes, xs.len().div_ceil(chunk));
            prop_assert_eq!(g, want);
        }
    }
}
