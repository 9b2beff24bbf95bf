//! Adamax (torch.optim.Adamax): Adam with an exponentially weighted infinity norm.

use super::hyper::{Hyper, HyperAccess, HyperSet, Hypers, betas, eps, lr, maximize, weight_decay};
use super::registry::{Needs, OptimizerSpec};
use super::{
    Optimizer, Oracle, StateVector, StepInfo, bias_correction, decayed_grad, eval_gradient, lerp,
    named_buffers,
};

/// torch.optim.Adamax's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamaxHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Hypers for AdamaxHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            betas(&mut self.betas),
            eps(&mut self.eps),
            weight_decay(&mut self.weight_decay),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static ADAMAX: OptimizerSpec = OptimizerSpec {
    name: "adamax",
    description: "Adam with the infinity norm (torch.optim.Adamax)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Adamax::new(b.hypers(AdamaxHypers {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            maximize: false,
        })))
    },
};

/// torch.optim.Adamax, single-tensor path.
#[derive(Clone, Debug)]
pub struct Adamax {
    h: HyperSet<AdamaxHypers>,
    step: u64,
    exp_avg: Vec<f64>,
    exp_inf: Vec<f64>,
    grad: Vec<f64>,
}

impl Adamax {
    pub fn new(h: HyperSet<AdamaxHypers>) -> Self {
        Self {
            h,
            step: 0,
            exp_avg: Vec::new(),
            exp_inf: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Adamax {
    // t += 1; g = ±∇f + λθ; m = lerp(m, g, 1−β₁); u = max(β₂u, |g| + ε); θ −= (γ/(1−β₁ᵗ)) · m/u
    // parallel per-parameter buffers read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let AdamaxHypers {
            lr,
            betas: (beta1, beta2),
            eps,
            weight_decay: wd,
            maximize,
        } = *self.h;
        let n = params.len();
        if self.step == 0 {
            self.exp_avg = vec![0.0; n];
            self.exp_inf = vec![0.0; n];
        }
        self.step += 1;
        let clr = lr / bias_correction(beta1, self.step);
        for i in 0..n {
            let g = decayed_grad(self.grad[i], &mut params[i], maximize, wd, None);
            self.exp_avg[i] = lerp(self.exp_avg[i], g, 1.0 - beta1);
            self.exp_inf[i] = (self.exp_inf[i] * beta2).max(g.abs() + eps);
            params[i] += -clr * (self.exp_avg[i] / self.exp_inf[i]);
        }
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        if self.step == 0 {
            return Vec::new();
        }
        named_buffers([("exp_avg", &self.exp_avg), ("exp_inf", &self.exp_inf)])
    }
    fn reset(&mut self) {
        self.step = 0;
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

    /// Independent transcription of torch's `_single_tensor_adamax`.
    fn reference(steps: usize, lr: f64, b1: f64, b2: f64, eps: f64, wd: f64) -> Vec<[f64; 2]> {
        let mut p = START;
        let (mut m, mut u) = ([0.0; 2], [0.0; 2]);
        let mut out = vec![];
        for t in 1..=steps {
            let g0 = quad_grad(&p);
            for i in 0..2 {
                let g = g0[i] + wd * p[i];
                m[i] = m[i] + (1.0 - b1) * (g - m[i]);
                let a = b2 * u[i];
                let b = g.abs() + eps;
                u[i] = if a > b { a } else { b };
                p[i] -= lr / (1.0 - b1.powi(t as i32)) * (m[i] / u[i]);
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn non_default_matches_torch() {
        let mut o = build(
            "adamax",
            &[
                ("lr".into(), 0.2.into()),
                ("betas".into(), (0.5, 0.6).into()),
                ("eps".into(), 1e-4.into()),
                ("weight_decay".into(), 0.1.into()),
            ],
            0,
            2,
        )
        .expect("builds");
        let got = trajectory(o.as_mut(), 3);
        assert_close(&got, &reference(3, 0.2, 0.5, 0.6, 1e-4, 0.1), 1e-12);
    }

    #[test]
    fn converges() {
        let mut o = build("adamax", &[("lr".into(), 0.05.into())], 0, 2).expect("builds");
        let x = trajectory(o.as_mut(), 3000);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 1e-3 && last[1].abs() < 1e-3, "{last:?}");
    }
}
