//! NAdam (torch.optim.NAdam): Adam with Nesterov momentum and a momentum-decay schedule μₜ.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, betas, decoupled_weight_decay, eps, float,
    ge, lr, maximize, weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    Optimizer, Oracle, StateVector, StepInfo, bias_correction, decayed_grad, eval_gradient, lerp,
    named_buffers,
};

/// torch.optim.NAdam's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NAdamHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

impl Hypers for NAdamHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            betas(&mut self.betas),
            eps(&mut self.eps),
            weight_decay(&mut self.weight_decay),
            float(
                "momentum_decay",
                &mut self.momentum_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "momentum decay (psi)",
            ),
            decoupled_weight_decay(&mut self.decoupled_weight_decay),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static NADAM: OptimizerSpec = OptimizerSpec {
    name: "nadam",
    description: "Adam with Nesterov momentum (torch.optim.NAdam)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(NAdam::new(b.hypers(NAdamHypers {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        })))
    },
};

/// torch.optim.NAdam, single-tensor path.
#[derive(Clone, Debug)]
pub struct NAdam {
    h: HyperSet<NAdamHypers>,
    step: u64,
    mu_product: f64,
    exp_avg: Vec<f64>,
    exp_avg_sq: Vec<f64>,
    grad: Vec<f64>,
}

impl NAdam {
    pub fn new(h: HyperSet<NAdamHypers>) -> Self {
        Self {
            h,
            step: 0,
            mu_product: 1.0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            grad: Vec::new(),
        }
    }
}

impl Optimizer for NAdam {
    // t += 1; g = ±∇f + λθ (or θ *= 1−γλ if decoupled); μₜ = β₁(1 − ½·0.96^(tψ)); Πμ *= μₜ;
    // m = lerp(m, g, 1−β₁); v = β₂v + (1−β₂)g²; d = √(v/(1−β₂ᵗ)) + ε;
    // θ −= γ(1−μₜ)/(1−Πμ) · g/d;  θ −= γμₜ₊₁/(1−Πμ·μₜ₊₁) · m/d
    // parallel per-parameter buffers read clearest by index
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let NAdamHypers {
            lr,
            betas: (beta1, beta2),
            eps,
            weight_decay: wd,
            momentum_decay: psi,
            decoupled_weight_decay: decoupled,
            maximize,
        } = *self.h;
        let n = params.len();
        if self.step == 0 {
            self.exp_avg = vec![0.0; n];
            self.exp_avg_sq = vec![0.0; n];
            self.mu_product = 1.0;
        }
        self.step += 1;
        let t = self.step as f64;
        let bias_correction2 = bias_correction(beta2, self.step);
        let mu = beta1 * (1.0 - 0.5 * 0.96_f64.powf(t * psi));
        let mu_next = beta1 * (1.0 - 0.5 * 0.96_f64.powf((t + 1.0) * psi));
        self.mu_product *= mu;
        let mu_product_next = self.mu_product * mu_next;
        let c_grad = -lr * (1.0 - mu) / (1.0 - self.mu_product);
        let c_avg = (-lr * mu_next) / (1.0 - mu_product_next);
        for i in 0..n {
            let g = decayed_grad(
                self.grad[i],
                &mut params[i],
                maximize,
                wd,
                decoupled.then_some(lr),
            );
            self.exp_avg[i] = lerp(self.exp_avg[i], g, 1.0 - beta1);
            self.exp_avg_sq[i] = self.exp_avg_sq[i] * beta2 + (1.0 - beta2) * g * g;
            let denom = (self.exp_avg_sq[i] / bias_correction2).sqrt() + eps;
            params[i] += c_grad * (g / denom);
            params[i] += c_avg * (self.exp_avg[i] / denom);
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
        named_buffers([
            ("exp_avg", &self.exp_avg),
            ("exp_avg_sq", &self.exp_avg_sq),
            ("mu_product", &[self.mu_product]),
        ])
    }
    fn reset(&mut self) {
        self.step = 0;
        self.mu_product = 1.0;
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

    /// Independent transcription of torch's `_single_tensor_nadam`.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        steps: usize,
        lr: f64,
        b1: f64,
        b2: f64,
        eps: f64,
        wd: f64,
        psi: f64,
        decoupled: bool,
    ) -> Vec<[f64; 2]> {
        let mut p = START;
        let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
        let mut prod = 1.0;
        let mut out = vec![];
        for t in 1..=steps {
            let t = t as f64;
            let g0 = quad_grad(&p);
            let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * psi));
            let mu1 = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * psi));
            prod *= mu;
            for i in 0..2 {
                let mut g = g0[i];
                if decoupled {
                    p[i] *= 1.0 - lr * wd;
                } else {
                    g += wd * p[i];
                }
                m[i] = m[i] + (1.0 - b1) * (g - m[i]);
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let d = (v[i] / (1.0 - b2.powf(t))).sqrt() + eps;
                p[i] -= lr * (1.0 - mu) / (1.0 - prod) * (g / d);
                p[i] -= lr * mu1 / (1.0 - prod * mu1) * (m[i] / d);
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn non_default_matches_torch() {
        for decoupled in [false, true] {
            let mut o = build(
                "nadam",
                &[
                    ("lr".into(), 0.05.into()),
                    ("betas".into(), (0.85, 0.9).into()),
                    ("eps".into(), 1e-5.into()),
                    ("weight_decay".into(), 0.1.into()),
                    ("momentum_decay".into(), 0.2.into()),
                    ("decoupled_weight_decay".into(), decoupled.into()),
                ],
                0,
                2,
            )
            .expect("builds");
            let got = trajectory(o.as_mut(), 3);
            let want = reference(3, 0.05, 0.85, 0.9, 1e-5, 0.1, 0.2, decoupled);
            assert_close(&got, &want, 1e-12);
        }
    }

    #[test]
    fn converges() {
        let mut o = build("nadam", &[("lr".into(), 0.05.into())], 0, 2).expect("builds");
        let x = trajectory(o.as_mut(), 3000);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 1e-3 && last[1].abs() < 1e-3, "{last:?}");
    }
}
