//! Central finite differences, the independent reference the AD engines are checked against:
//! gradients from `2n + 1` evaluations of plain `f64` code and Hessians from differenced
//! gradients.

use nalgebra::DMatrix;

use super::ScalarFn;

/// The central-difference step for a coordinate at `x`: `cbrt(ε) · max(|x|, 1)`.
///
/// A central difference has truncation error `~ h² |f'''| / 6` and rounding error
/// `~ ε |f| / h`; their sum is smallest at `h ~ ε^(1/3)` (about `6e-6`), giving an error of
/// order `ε^(2/3) ≈ 4e-11` relative. Scaling by `|x|` keeps the perturbation above the spacing
/// of the floating-point numbers around a large `x`; the floor of `1` keeps it from vanishing at
/// `x = 0`.
///
/// ```
/// use gradscope::ad::finite::step;
/// assert_eq!(step(0.0), f64::EPSILON.cbrt());
/// assert_eq!(step(-100.0), 100.0 * f64::EPSILON.cbrt());
/// ```
#[must_use]
pub fn step(x: f64) -> f64 {
    f64::EPSILON.cbrt() * x.abs().max(1.0)
}

/// The value at `x` and the central-difference gradient of `eval`, written into `grad`
/// (`2n + 1` evaluations). Each coordinate is restored exactly after its perturbation, and the
/// denominator is the step actually represented, `(x + h) - (x - h)`, not `2h`.
///
/// # Panics
/// If `grad.len() != x.len()`.
///
/// ```
/// use gradscope::ad::finite::gradient_with;
/// let mut g = [0.0; 2];
/// let v = gradient_with(&[1.0, 2.0], &mut g, |x| x[0] * x[0] + 3.0 * x[1]);
/// assert_eq!(v, 7.0);
/// assert!((g[0] - 2.0).abs() < 1e-9 && (g[1] - 3.0).abs() < 1e-9);
/// ```
pub fn gradient_with(x: &[f64], grad: &mut [f64], mut eval: impl FnMut(&[f64]) -> f64) -> f64 {
    assert_eq!(
        grad.len(),
        x.len(),
        "gradient buffer length must equal the input length"
    );
    let mut buf = x.to_vec();
    let value = eval(&buf);
    for (i, g) in grad.iter_mut().enumerate() {
        let xi = x[i];
        let h = step(xi);
        let (plus, minus) = (xi + h, xi - h);
        buf[i] = plus;
        let f_plus = eval(&buf);
        buf[i] = minus;
        let f_minus = eval(&buf);
        buf[i] = xi;
        *g = (f_plus - f_minus) / (plus - minus);
    }
    value
}

/// [`gradient_with`] for a [`ScalarFn`], evaluated on plain `f64`.
///
/// # Panics
/// If `grad.len() != x.len()`.
///
/// ```
/// use gradscope::ad::{Scalar, ScalarFn};
/// use gradscope::ad::finite::gradient;
/// struct Sin;
/// impl ScalarFn for Sin {
///     fn dim(&self) -> usize { 1 }
///     fn eval<S: Scalar>(&self, x: &[S]) -> S { x[0].sin() }
/// }
/// let mut g = [0.0];
/// gradient(&Sin, &[0.0], &mut g);
/// assert!((g[0] - 1.0).abs() < 1e-10);
/// ```
pub fn gradient<F: ScalarFn>(f: &F, x: &[f64], grad: &mut [f64]) -> f64 {
    gradient_with(x, grad, |xs| f.eval(xs))
}

/// The Hessian at `x` as central differences of a gradient (`2n` gradient calls), symmetrised
/// as `(H + Hᵀ) / 2` since the two halves carry independent rounding errors.
///
/// ```
/// use gradscope::ad::finite::hessian_from_gradient;
/// // f = x0^2 x1, gradient (2 x0 x1, x0^2).
/// let h = hessian_from_gradient(&[1.0, 2.0], |x, g| {
///     g[0] = 2.0 * x[0] * x[1];
///     g[1] = x[0] * x[0];
/// });
/// assert!((h[(0, 0)] - 4.0).abs() < 1e-8 && (h[(0, 1)] - 2.0).abs() < 1e-8);
/// assert!(h[(1, 1)].abs() < 1e-8);
/// ```
pub fn hessian_from_gradient(x: &[f64], mut grad: impl FnMut(&[f64], &mut [f64])) -> DMatrix<f64> {
    let n = x.len();
    let mut buf = x.to_vec();
    let (mut g_plus, mut g_minus) = (vec![0.0; n], vec![0.0; n]);
    let mut h = DMatrix::zeros(n, n);
    for j in 0..n {
        let xj = x[j];
        let step_j = step(xj);
        let (plus, minus) = (xj + step_j, xj - step_j);
        buf[j] = plus;
        grad(&buf, &mut g_plus);
        buf[j] = minus;
        grad(&buf, &mut g_minus);
        buf[j] = xj;
        let width = plus - minus;
        for i in 0..n {
            h[(i, j)] = (g_plus[i] - g_minus[i]) / width;
        }
    }
    (&h + h.transpose()) * 0.5
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::Scalar;
    use proptest::prelude::*;

    struct Rosenbrock;
    impl ScalarFn for Rosenbrock {
        fn dim(&self) -> usize {
            2
        }
        fn eval<S: Scalar>(&self, v: &[S]) -> S {
            (S::constant(1.0) - v[0]).powi(2) + (v[1] - v[0] * v[0]).powi(2) * 100.0
        }
    }

    fn rosenbrock_grad(x: &[f64], g: &mut [f64]) {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
    }

    fn check_gradient(x: f64, y: f64) -> Result<(), String> {
        let mut g = [0.0; 2];
        let v = gradient(&Rosenbrock, &[x, y], &mut g);
        if v != Rosenbrock.eval(&[x, y]) {
            return Err(format!("value {v}"));
        }
        let mut want = [0.0; 2];
        rosenbrock_grad(&[x, y], &mut want);
        // Central differences carry an O(h²·f''') truncation error: ~1e-7 near the valley floor
        // at |x| ≈ 2 where the gradient itself is small, so the bound is 1e-6 of the scale.
        let scale = want[0].abs().max(want[1].abs()).max(1.0);
        for k in 0..2 {
            if (g[k] - want[k]).abs() > 1e-6 * scale {
                return Err(format!("component {k}: {} vs {}", g[k], want[k]));
            }
        }
        Ok(())
    }

    #[test]
    fn rosenbrock_gradient_is_accurate() {
        for (x, y) in [
            (-1.5, 2.0),
            (0.0, 0.0),
            (1.0, 1.0),
            (2.5, -3.0),
            (-4.0, 17.0),
        ] {
            check_gradient(x, y).unwrap();
        }
    }

    #[test]
    fn gradient_counts_evaluations_and_restores_inputs() {
        let x = [0.1, 1e3, -3.7];
        let mut g = [0.0; 3];
        let mut calls = 0;
        let v = gradient_with(&x, &mut g, |v| {
            calls += 1;
            // Every evaluation differs from x in at most one coordinate.
            assert!(v.iter().zip(&x).filter(|(a, b)| a != b).count() <= 1);
            v[0] + 2.0 * v[1] - v[2]
        });
        assert_eq!(calls, 7);
        assert_eq!(v, 0.1 + 2e3 + 3.7);
        // Linear functions are differenced exactly up to the rounding of the sums.
        assert!((g[0] - 1.0).abs() < 1e-6 && (g[1] - 2.0).abs() < 1e-6);
        assert!((g[2] + 1.0).abs() < 1e-6);
    }

    #[test]
    fn step_scales_with_magnitude() {
        let h0 = f64::EPSILON.cbrt();
        assert_eq!(step(0.5), h0);
        assert_eq!(step(-4.0), 4.0 * h0);
        assert!(step(1e300).is_finite());
    }

    #[test]
    fn rosenbrock_hessian_from_analytic_gradient() {
        let (x, y) = (-1.5, 2.0);
        let h = hessian_from_gradient(&[x, y], rosenbrock_grad);
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
        assert_eq!(h, h.transpose());
        assert!((h - &want).abs().max() < 1e-6 * want.abs().max(), "{want}");
    }

    #[test]
    fn hessian_from_finite_gradients_of_a_scalar_fn() {
        let h = hessian_from_gradient(&[0.3, 0.4], |x, g| {
            gradient(&Rosenbrock, x, g);
        });
        let want =
            DMatrix::from_row_slice(2, 2, &[1200.0 * 0.09 - 160.0 + 2.0, -120.0, -120.0, 200.0]);
        assert!((h - want).abs().max() < 1e-2);
    }

    proptest! {
        #![proptest_config(crate::proptest_seed::fixed_seed(ProptestConfig::default()))]

        #[test]
        fn prop_rosenbrock_gradient(x in -5.0..5.0_f64, y in -5.0..5.0_f64) {
            prop_assert_eq!(check_gradient(x, y), Ok(()));
        }
    }
}
