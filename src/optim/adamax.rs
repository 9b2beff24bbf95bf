//! Adamax (torch.optim.Adamax): Adam with an exponentially weighted infinity norm.

use super::registry::HyperSet;
use super::{Optimizer, Oracle, StateVector, StepInfo, decayed_grad, eval_gradient, lerp};

/// torch.optim.Adamax, single-tensor path.
#[derive(Clone, Debug)]
pub struct Adamax {
    h: HyperSet,
    step: u64,
    exp_avg: Vec<f64>,
    exp_inf: Vec<f64>,
    grad: Vec<f64>,
}

impl Adamax {
    pub fn new(h: HyperSet) -> Self {
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
        let lr = self.h.f("lr");
        let (beta1, beta2) = self.h.pair("betas");
        let eps = self.h.f("eps");
        let wd = self.h.f("weight_decay");
        let maximize = self.h.b("maximize");
        let n = params.len();
        if self.step == 0 {
            self.exp_avg = vec![0.0; n];
            self.exp_inf = vec![0.0; n];
        }
        self.step += 1;
        let clr = lr / (1.0 - beta1.powf(self.step as f64));
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
        vec![
            StateVector {
                name: "exp_avg",
                values: self.exp_avg.clone(),
            },
            StateVector {
                name: "exp_inf",
                values: self.exp_inf.clone(),
            },
        ]
    }
    fn box_clone(&self) -> Box<dyn Optimizer> {
        Box::new(self.clone())
    }
    fn reset(&mut self) {
        self.step = 0;
    }
    fn hyper_set(&self) -> &HyperSet {
        &self.h
    }
    fn hyper_set_mut(&mut self) -> &mut HyperSet {
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
