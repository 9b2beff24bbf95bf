//! Gradient clipping as torch.nn.utils does it (`clip_grad_norm_`, `clip_grad_value_`), applied
//! through an [`Oracle`] wrapper: any optimizer stepped with a [`ClippedOracle`] sees clipped
//! gradients without knowing about clipping.
//!
//! Only `value_and_gradient` is clipped. `hessian` and `residuals` pass through unchanged:
//! clipping is a first-order device, and second-order methods (Newton, L–M) rely on consistent
//! curvature and residual information.

use nalgebra::{DMatrix, DVector};

use serde::Deserialize;

use super::Oracle;
use crate::valid::{INF, Problems, Range, Validate, gt, le};

/// The keys a scenario's `clip` mapping may hold, before they are checked to name one method.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClipKeys {
    max_norm: Option<f64>,
    norm_type: Option<f64>,
    value: Option<f64>,
}

impl TryFrom<ClipKeys> for GradClip {
    type Error = &'static str;

    fn try_from(k: ClipKeys) -> Result<Self, Self::Error> {
        match (k.max_norm, k.norm_type, k.value) {
            (Some(max_norm), norm_type, None) => Ok(Self::Norm {
                max_norm,
                norm_type: norm_type.unwrap_or(2.0),
            }),
            (None, None, Some(clip_value)) => Ok(Self::Value { clip_value }),
            (None, Some(_), Some(_)) => Err("'norm_type' goes with 'max_norm', not 'value'"),
            _ => Err("clip takes exactly one of 'max_norm' and 'value'"),
        }
    }
}

impl Validate for GradClip {
    fn validate(&self, p: &mut Problems) {
        match *self {
            Self::Norm {
                max_norm,
                norm_type,
            } => {
                p.range("max_norm", max_norm, Range::new(gt(0.0), INF));
                // `inf` is torch's max norm
                p.range(
                    "norm_type",
                    norm_type,
                    Range::new(gt(0.0), le(f64::INFINITY)),
                );
            }
            Self::Value { clip_value } => p.range("value", clip_value, Range::new(gt(0.0), INF)),
        }
    }
}

/// How gradients are clipped. A scenario writes `{max_norm: 1.0}` (with an optional
/// `norm_type`, 2 by default) or `{value: 0.5}`: exactly one of the two.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "ClipKeys")]
pub enum GradClip {
    /// Rescale so the `norm_type`-norm is at most `max_norm` (`f64::INFINITY` = max norm).
    Norm { max_norm: f64, norm_type: f64 },
    /// Clamp every component into `[-clip_value, clip_value]`.
    Value { clip_value: f64 },
}

impl GradClip {
    /// torch's defaults: `norm_type = 2`.
    pub fn norm(max_norm: f64) -> Self {
        Self::Norm {
            max_norm,
            norm_type: 2.0,
        }
    }

    /// Clips in place; returns the total norm before clipping for `Norm`, `None` for `Value`.
    pub fn apply(&self, grad: &mut [f64]) -> Option<f64> {
        match *self {
            Self::Norm {
                max_norm,
                norm_type,
            } => Some(clip_grad_norm(grad, max_norm, norm_type)),
            Self::Value { clip_value } => {
                clip_grad_value(grad, clip_value);
                None
            }
        }
    }
}

/// `torch.nn.utils.clip_grad_norm_`: `g *= min(1, max_norm / (‖g‖ₚ + 1e-6))`; returns `‖g‖ₚ`.
pub fn clip_grad_norm(grad: &mut [f64], max_norm: f64, norm_type: f64) -> f64 {
    let total_norm = if norm_type.is_infinite() {
        grad.iter().fold(0.0_f64, |m, g| m.max(g.abs()))
    } else {
        grad.iter()
            .map(|g| g.abs().powf(norm_type))
            .sum::<f64>()
            .powf(1.0 / norm_type)
    };
    let clip_coef = max_norm / (total_norm + 1e-6);
    let clamped = clip_coef.min(1.0);
    for g in grad.iter_mut() {
        *g *= clamped;
    }
    total_norm
}

/// `torch.nn.utils.clip_grad_value_`: clamp each component into `[-clip_value, clip_value]`.
pub fn clip_grad_value(grad: &mut [f64], clip_value: f64) {
    for g in grad.iter_mut() {
        *g = g.clamp(-clip_value, clip_value);
    }
}

/// An oracle whose gradients are clipped.
pub struct ClippedOracle<'a> {
    inner: &'a mut dyn Oracle,
    clip: GradClip,
    /// Total gradient norm before clipping at the last `value_and_gradient` (norm clipping only).
    pub last_total_norm: Option<f64>,
}

impl<'a> ClippedOracle<'a> {
    pub fn new(inner: &'a mut dyn Oracle, clip: GradClip) -> Self {
        Self {
            inner,
            clip,
            last_total_norm: None,
        }
    }
}

impl Oracle for ClippedOracle<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn value(&mut self, x: &[f64]) -> f64 {
        self.inner.value(x)
    }
    fn value_and_gradient(&mut self, x: &[f64], grad: &mut [f64]) -> f64 {
        let f = self.inner.value_and_gradient(x, grad);
        self.last_total_norm = self.clip.apply(grad);
        f
    }
    fn hessian(&mut self, x: &[f64]) -> (f64, Vec<f64>, DMatrix<f64>) {
        self.inner.hessian(x)
    }
    fn residuals(&mut self, x: &[f64]) -> Option<(DVector<f64>, DMatrix<f64>)> {
        self.inner.residuals(x)
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::build;
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn norm_clipping_matches_torch() {
        let mut g = vec![3.0, 4.0];
        let n = clip_grad_norm(&mut g, 1.0, 2.0);
        assert_eq!(n, 5.0);
        let c = 1.0 / (5.0 + 1e-6);
        assert_eq!(g, vec![3.0 * c, 4.0 * c]);
        // below the threshold nothing changes (coef clamped to 1)
        let mut g = vec![0.3, 0.4];
        clip_grad_norm(&mut g, 1.0, 2.0);
        assert_eq!(g, vec![0.3, 0.4]);
        let mut g = vec![-3.0, 1.0];
        assert_eq!(clip_grad_norm(&mut g, 1.5, f64::INFINITY), 3.0);
        assert!((g[0] + 1.5).abs() < 1e-6);
        let mut g = vec![-3.0, 1.0];
        assert_eq!(clip_grad_norm(&mut g, 100.0, 1.0), 4.0);
    }

    #[test]
    fn value_clipping() {
        let mut g = vec![-3.0, 0.2, 7.0];
        clip_grad_value(&mut g, 0.5);
        assert_eq!(g, vec![-0.5, 0.2, 0.5]);
    }

    #[test]
    fn sgd_through_a_clipped_oracle_takes_clipped_steps() {
        let mut q = quadratic();
        let mut o = ClippedOracle::new(&mut q, GradClip::norm(1.0));
        let mut sgd = build("sgd", &[("lr".into(), 0.1.into())], 0, 2).expect("builds");
        let mut x = START.to_vec();
        sgd.step(&mut x, &mut o);
        let g = quad_grad(&START);
        let n = (g[0] * g[0] + g[1] * g[1]).sqrt();
        assert_eq!(o.last_total_norm, Some(n));
        let c = 1.0 / (n + 1e-6);
        assert!((x[0] - (START[0] - 0.1 * g[0] * c)).abs() < 1e-15);
        assert!((x[1] - (START[1] - 0.1 * g[1] * c)).abs() < 1e-15);
    }
}
