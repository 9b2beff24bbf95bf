//! RMSprop (torch.optim.RMSprop), optionally centered and with momentum.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, Scale, boolean, eps, float, ge, lr, lt, maximize,
    momentum, weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, decayed_grad, eval_gradient, lerp};

/// torch.optim.RMSprop's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropHypers {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

impl Hypers for RmsPropHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            float(
                "alpha",
                &mut self.alpha,
                ge(0.0),
                lt(1.0),
                Scale::Linear,
                "smoothing constant",
            ),
            eps(&mut self.eps),
            weight_decay(&mut self.weight_decay),
            momentum(&mut self.momentum),
            boolean(
                "centered",
                &mut self.centered,
                "normalize by the estimated variance of the gradient",
            ),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static RMSPROP: OptimizerSpec = OptimizerSpec {
    name: "rmsprop",
    description: "steps scaled by a running average of squared gradients (torch.optim.RMSprop)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(RmsProp::new(b.hypers(RmsPropHypers {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        })))
    },
};

/// torch.optim.RMSprop, single-tensor path.
#[derive(Clone, Debug)]
pub struct RmsProp {
    h: HyperSet<RmsPropHypers>,
    square_avg: Option<Vec<f64>>,
    grad_avg: Vec<f64>,
    momentum_buffer: Vec<f64>,
    grad: Vec<f64>,
}

impl RmsProp {
    pub fn new(h: HyperSet<RmsPropHypers>) -> Self {
        Self {
            h,
            square_avg: None,
            grad_avg: Vec::new(),
            momentum_buffer: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for RmsProp {
    // g = ±∇f + λθ; v = αv + (1−α)g²; ṽ = v − ḡ² with ḡ = lerp(ḡ, g, 1−α) if centered else v;
    // d = √ṽ + ε; b = μb + g/d, θ −= γb if μ > 0 else θ −= γ g/d
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let RmsPropHypers {
            lr,
            alpha,
            eps,
            weight_decay: wd,
            momentum,
            centered,
            maximize,
        } = *self.h;
        let n = params.len();
        let sq = self.square_avg.get_or_insert_with(|| vec![0.0; n]);
        self.grad_avg.resize(n, 0.0);
        self.momentum_buffer.resize(n, 0.0);
        for i in 0..n {
            let g = decayed_grad(self.grad[i], &mut params[i], maximize, wd, None);
            sq[i] = sq[i] * alpha + (1.0 - alpha) * g * g;
            let avg = if centered {
                let ga = &mut self.grad_avg[i];
                *ga = lerp(*ga, g, 1.0 - alpha);
                (sq[i] - *ga * *ga).sqrt()
            } else {
                sq[i].sqrt()
            } + eps;
            if momentum > 0.0 {
                let b = &mut self.momentum_buffer[i];
                *b = *b * momentum + g / avg;
                params[i] += -lr * *b;
            } else {
                params[i] += -lr * (g / avg);
            }
        }
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        let Some(sq) = &self.square_avg else {
            return Vec::new();
        };
        let mut v = vec![StateVector::new("square_avg", sq)];
        if self.h.centered {
            v.push(StateVector::new("grad_avg", &self.grad_avg));
        }
        if self.h.momentum > 0.0 {
            v.push(StateVector::new("momentum_buffer", &self.momentum_buffer));
        }
        v
    }
    fn reset(&mut self) {
        self.square_avg = None;
        self.grad_avg.clear();
        self.momentum_buffer.clear();
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

    /// Independent transcription of torch's `_single_tensor_rmsprop`.
    fn reference(
        steps: usize,
        lr: f64,
        alpha: f64,
        eps: f64,
        wd: f64,
        mom: f64,
        centered: bool,
    ) -> Vec<[f64; 2]> {
        let mut p = START;
        let (mut sq, mut ga, mut buf) = ([0.0; 2], [0.0; 2], [0.0; 2]);
        let mut out = vec![];
        for _ in 0..steps {
            let g0 = quad_grad(&p);
            for i in 0..2 {
                let g = g0[i] + wd * p[i];
                sq[i] = alpha * sq[i] + (1.0 - alpha) * g * g;
                let mut avg = sq[i];
                if centered {
                    ga[i] = ga[i] + (1.0 - alpha) * (g - ga[i]);
                    avg -= ga[i] * ga[i];
                }
                let avg = avg.sqrt() + eps;
                if mom > 0.0 {
                    buf[i] = mom * buf[i] + g / avg;
                    p[i] -= lr * buf[i];
                } else {
                    p[i] -= lr * g / avg;
                }
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn centered_with_momentum_matches_torch() {
        let mut o = build(
            "rmsprop",
            &[
                ("lr".into(), 0.01.into()),
                ("alpha".into(), 0.9.into()),
                ("eps".into(), 1e-6.into()),
                ("weight_decay".into(), 0.1.into()),
                ("momentum".into(), 0.5.into()),
                ("centered".into(), true.into()),
            ],
            0,
            2,
        )
        .expect("builds");
        let got = trajectory(o.as_mut(), 3);
        assert_close(&got, &reference(3, 0.01, 0.9, 1e-6, 0.1, 0.5, true), 1e-12);
    }

    #[test]
    fn plain_matches_torch() {
        let mut o = build("rmsprop", &[("alpha".into(), 0.95.into())], 0, 2).expect("builds");
        let got = trajectory(o.as_mut(), 3);
        assert_close(
            &got,
            &reference(3, 0.01, 0.95, 1e-8, 0.0, 0.0, false),
            1e-12,
        );
    }

    #[test]
    fn converges() {
        let mut o = build("rmsprop", &[("lr".into(), 0.01.into())], 0, 2).expect("builds");
        let x = trajectory(o.as_mut(), 2000);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 2e-2 && last[1].abs() < 2e-2, "{last:?}");
    }
}
