//! Rprop (torch.optim.Rprop): per-parameter step sizes adapted from gradient sign agreement.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Range, Scale, ge, gt, increasing_pair, lr, lt,
    maximize, pair,
};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, eval_gradient, named_buffers};

/// torch.optim.Rprop's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RpropHypers {
    pub lr: f64,
    pub etas: (f64, f64),
    pub step_sizes: (f64, f64),
    pub maximize: bool,
}

impl Hypers for RpropHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            pair(
                "etas",
                &mut self.etas,
                Range::new(gt(0.0), lt(1.0)),
                Range::new(gt(1.0), INF),
                Scale::Linear,
                "(etaminus, etaplus): step-size factors on a sign change / no change",
            ),
            increasing_pair(
                "step_sizes",
                &mut self.step_sizes,
                Range::new(ge(0.0), INF),
                Scale::Log,
                "(min, max) allowed step sizes",
            ),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static RPROP: OptimizerSpec = OptimizerSpec {
    name: "rprop",
    description: "resilient backpropagation: gradient signs only (torch.optim.Rprop)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Rprop::new(b.hypers(RpropHypers {
            lr: 1e-2,
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0),
            maximize: false,
        })))
    },
};

/// torch.optim.Rprop, single-tensor path.
#[derive(Clone, Debug)]
pub struct Rprop {
    h: HyperSet<RpropHypers>,
    prev: Option<Vec<f64>>,
    step_size: Vec<f64>,
    grad: Vec<f64>,
}

impl Rprop {
    pub fn new(h: HyperSet<RpropHypers>) -> Self {
        Self {
            h,
            prev: None,
            step_size: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Rprop {
    // s = g·g_prev; η = η₊ if s > 0, η₋ if s < 0, 1 otherwise; Δ = clamp(Δη, Δmin, Δmax);
    // g = 0 where η = η₋; θ −= sign(g)·Δ; g_prev = g   (Δ starts at lr, g_prev at 0)
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let RpropHypers {
            lr,
            etas: (etaminus, etaplus),
            step_sizes: (step_min, step_max),
            maximize,
        } = *self.h;
        let n = params.len();
        if self.prev.is_none() {
            self.step_size = vec![lr; n];
        }
        let prev = self.prev.get_or_insert_with(|| vec![0.0; n]);
        for i in 0..n {
            let mut g = if maximize {
                -self.grad[i]
            } else {
                self.grad[i]
            };
            let s = g * prev[i];
            let factor = if s > 0.0 {
                etaplus
            } else if s < 0.0 {
                etaminus
            } else {
                1.0
            };
            self.step_size[i] = (self.step_size[i] * factor).clamp(step_min, step_max);
            if factor == etaminus {
                g = 0.0;
            }
            let sign = if g > 0.0 {
                1.0
            } else if g < 0.0 {
                -1.0
            } else {
                0.0
            };
            params[i] += -(sign * self.step_size[i]);
            prev[i] = g;
        }
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        let Some(prev) = &self.prev else {
            return Vec::new();
        };
        named_buffers([("prev", prev), ("step_size", &self.step_size)])
    }
    fn reset(&mut self) {
        self.prev = None;
        self.step_size.clear();
    }
    fn hyper_set(&self) -> &dyn HyperAccess {
        &self.h
    }
    fn hyper_set_mut(&mut self) -> &mut dyn HyperAccess {
        &mut self.h
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::build;
    use super::super::testutil::*;

    /// Independent transcription of torch's `_single_tensor_rprop`.
    fn reference(steps: usize, lr: f64, em: f64, ep: f64, smin: f64, smax: f64) -> Vec<[f64; 2]> {
        let mut p = START;
        let mut prev = [0.0; 2];
        let mut step = [lr; 2];
        let mut out = vec![];
        for _ in 0..steps {
            let g0 = quad_grad(&p);
            for i in 0..2 {
                let mut g = g0[i];
                let sgn = (g * prev[i]).signum() * if g * prev[i] == 0.0 { 0.0 } else { 1.0 };
                let eta = if sgn > 0.0 {
                    ep
                } else if sgn < 0.0 {
                    em
                } else {
                    1.0
                };
                step[i] = (step[i] * eta).max(smin).min(smax);
                if sgn < 0.0 {
                    g = 0.0;
                }
                let gs = if g == 0.0 { 0.0 } else { g.signum() };
                p[i] -= gs * step[i];
                prev[i] = g;
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn non_default_matches_torch_including_a_sign_change() {
        let mut o = build(
            "rprop",
            &[
                ("lr".into(), 0.5.into()),
                ("etas".into(), (0.4, 1.5).into()),
                ("step_sizes".into(), (1e-3, 0.7).into()),
            ],
            0,
            2,
        )
        .expect("builds");
        let got = trajectory(o.as_mut(), 4);
        let want = reference(4, 0.5, 0.4, 1.5, 1e-3, 0.7);
        assert_close(&got, &want, 1e-12);
        // literal: y starts at -0.8, steps +0.5 → -0.3, then +0.7 (1.5·0.5 clamped) → 0.4,
        // then the sign flips: step shrinks to 0.28 and the gradient is zeroed (no move)
        assert!((got[0][1] + 0.3).abs() < 1e-15);
        assert!((got[1][1] - 0.4).abs() < 1e-15);
        assert!((got[2][1] - 0.4).abs() < 1e-15);
        assert!((got[3][1] - 0.12).abs() < 1e-15);
    }

    #[test]
    fn converges() {
        let mut o = build("rprop", &[], 0, 2).expect("builds");
        let x = trajectory(o.as_mut(), 500);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 1e-4 && last[1].abs() < 1e-4, "{last:?}");
    }
}
