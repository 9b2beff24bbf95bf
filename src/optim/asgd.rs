//! Averaged SGD (torch.optim.ASGD, Polyak & Juditsky 1992): SGD with a decaying step size
//! `eta` and a running average `ax` of the iterates from step `t0` on. The average is the
//! point the method's guarantees are about; it is exposed as an [`ExtraPoint`] named
//! `"averaged"` (and in [`Optimizer::state`] as `ax`), while the run steps the plain iterate.
//!
//! torch keeps `eta` and `mu` in tensors of its default scalar dtype, float32 unless
//! `torch.set_default_dtype(torch.float64)`; here they are f64 throughout, which matches torch
//! with a float64 default (the fixtures are generated that way). torch's `foreach`,
//! `differentiable` and `capturable` flags choose kernels, not numbers, and are not offered.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, float, ge, lr, maximize, weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    ExtraPoint, Optimizer, Oracle, StateVector, StepInfo, decayed_grad, eval_gradient,
    named_buffers,
};

/// torch.optim.ASGD's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AsgdHypers {
    pub lr: f64,
    pub lambd: f64,
    pub alpha: f64,
    pub t0: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Hypers for AsgdHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            float(
                "lambd",
                &mut self.lambd,
                ge(0.0),
                INF,
                Scale::Log,
                "decay term: shrinks θ by 1 − lambd·eta and slows eta",
            ),
            float(
                "alpha",
                &mut self.alpha,
                ge(0.0),
                INF,
                Scale::Linear,
                "power of the eta decay",
            ),
            float(
                "t0",
                &mut self.t0,
                INF,
                INF,
                Scale::Linear,
                "step at which averaging starts",
            ),
            weight_decay(&mut self.weight_decay),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static ASGD: OptimizerSpec = OptimizerSpec {
    name: "asgd",
    description: "averaged SGD: decaying steps and an averaged iterate (torch.optim.ASGD)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Asgd::new(b.hypers(AsgdHypers {
            lr: 1e-2,
            lambd: 1e-4,
            alpha: 0.75,
            t0: 1e6,
            weight_decay: 0.0,
            maximize: false,
        })))
    },
};

/// torch.optim.ASGD, single-tensor path.
#[derive(Clone, Debug)]
pub struct Asgd {
    h: HyperSet<AsgdHypers>,
    step: u64,
    /// The step size of the next step (`lr` until the first step has been taken).
    eta: f64,
    /// The averaging weight of the next step (1: `ax` copies the iterate).
    mu: f64,
    ax: Vec<f64>,
    grad: Vec<f64>,
}

impl Asgd {
    pub fn new(h: HyperSet<AsgdHypers>) -> Self {
        Self {
            h,
            step: 0,
            eta: 0.0,
            mu: 1.0,
            ax: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Asgd {
    // t += 1; g = ±∇f + λ_wd θ; θ *= 1 − λη; θ −= η g; ax = θ if μ = 1 else ax + μ(θ − ax);
    // η = γ / (1 + λγt)^α; μ = 1 / max(1, t − t₀)   (η₀ = γ, μ₀ = 1, ax₀ = 0)
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let AsgdHypers {
            lr,
            lambd,
            alpha,
            t0,
            weight_decay,
            maximize,
        } = *self.h;
        if self.step == 0 {
            self.eta = lr;
            self.mu = 1.0;
            self.ax = vec![0.0; params.len()];
        }
        self.step += 1;
        let eta = self.eta;
        for (i, p) in params.iter_mut().enumerate() {
            let g = decayed_grad(self.grad[i], p, maximize, weight_decay, None);
            *p *= 1.0 - lambd * eta;
            *p += -eta * g;
            if self.mu == 1.0 {
                self.ax[i] = *p;
            } else {
                self.ax[i] += (*p - self.ax[i]) * self.mu;
            }
        }
        let t = self.step as f64;
        self.eta = lr / (1.0 + lambd * lr * t).powf(alpha);
        self.mu = 1.0 / 1.0_f64.max(t - t0);
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }

    fn state(&self) -> Vec<StateVector> {
        if self.step == 0 {
            return Vec::new();
        }
        named_buffers([("eta", &[self.eta]), ("mu", &[self.mu]), ("ax", &self.ax)])
    }

    fn extra_points(&self) -> Vec<ExtraPoint<'_>> {
        if self.step == 0 {
            return Vec::new();
        }
        vec![ExtraPoint {
            name: "averaged",
            params: &self.ax,
        }]
    }

    fn reset(&mut self) {
        self.step = 0;
        self.eta = 0.0;
        self.mu = 1.0;
        self.ax.clear();
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
    use super::super::fixtures;
    use super::super::registry::build;
    use super::super::testutil::*;

    /// Independent transcription of torch's `_single_tensor_asgd`: the iterates and the average.
    fn reference(
        steps: usize,
        lr: f64,
        lambd: f64,
        alpha: f64,
        t0: f64,
    ) -> Vec<([f64; 2], [f64; 2])> {
        let (mut p, mut ax) = (START, [0.0; 2]);
        let (mut eta, mut mu) = (lr, 1.0);
        let mut out = vec![];
        for t in 1..=steps {
            let g = quad_grad(&p);
            for i in 0..2 {
                p[i] = p[i] * (1.0 - lambd * eta) - eta * g[i];
                ax[i] = if mu == 1.0 {
                    p[i]
                } else {
                    ax[i] + mu * (p[i] - ax[i])
                };
            }
            let t = t as f64;
            eta = lr / (1.0 + lambd * lr * t).powf(alpha);
            mu = 1.0 / (t - t0).max(1.0);
            out.push((p, ax));
        }
        out
    }

    #[test]
    fn iterate_and_average_match_the_transcription() {
        let h = [
            ("lr".into(), 0.05.into()),
            ("lambd".into(), 0.5.into()),
            ("alpha".into(), 0.6.into()),
            ("t0".into(), 5.0.into()),
        ];
        let mut o = build("asgd", &h, 0, 2).expect("builds");
        assert!(
            o.extra_points().is_empty(),
            "no average before the first step"
        );
        let want = reference(30, 0.05, 0.5, 0.6, 5.0);
        let mut oracle = quadratic();
        let mut x = START.to_vec();
        for (k, (p, ax)) in want.iter().enumerate() {
            o.step(&mut x, &mut oracle);
            let points = o.extra_points();
            assert_eq!(points.len(), 1);
            assert_eq!(points[0].name, "averaged");
            for i in 0..2 {
                assert!((x[i] - p[i]).abs() < 1e-14, "step {k}: {x:?} vs {p:?}");
                assert!((points[0].params[i] - ax[i]).abs() < 1e-14, "step {k}: ax");
            }
            // before t0 the average is the iterate itself; after, it lags behind
            assert_eq!(points[0].params == x.as_slice(), k < 7, "step {k}");
        }
        let state = o.state();
        assert_eq!(state[2].name, "ax");
        assert_eq!(state[2].values, want[29].1);
    }

    #[test]
    fn torch_fixtures() {
        fixtures::check_file(include_str!("../../tests/fixtures/optim/asgd.json"));
    }
}
