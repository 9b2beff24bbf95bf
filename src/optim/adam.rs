//! Adam and AdamW (torch.optim.Adam / AdamW), with AMSGrad; one type, the registry entry decides
//! whether weight decay is L2 (adam) or decoupled (adamw).

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, betas, boolean, eps, lr, maximize, weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{
    Optimizer, Oracle, StateVector, StepInfo, bias_correction, decayed_grad, eval_gradient, lerp,
    named_buffers,
};

/// torch.optim.Adam's and AdamW's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
}

impl Hypers for AdamHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            betas(&mut self.betas),
            eps(&mut self.eps),
            weight_decay(&mut self.weight_decay),
            boolean(
                "amsgrad",
                &mut self.amsgrad,
                "use the maximum of past squared-gradient averages",
            ),
            maximize(&mut self.maximize),
        ]
    }
}

const TORCH: AdamHypers = AdamHypers {
    lr: 1e-3,
    betas: (0.9, 0.999),
    eps: 1e-8,
    weight_decay: 0.0,
    amsgrad: false,
    maximize: false,
};

pub(crate) static ADAM: OptimizerSpec = OptimizerSpec {
    name: "adam",
    description: "bias-corrected first and second moment estimates (torch.optim.Adam)",
    needs: Needs::Gradient,
    build: |b| Box::new(Adam::new(b.hypers(TORCH), false)),
};
pub(crate) static ADAMW: OptimizerSpec = OptimizerSpec {
    name: "adamw",
    description: "Adam with decoupled weight decay (torch.optim.AdamW)",
    needs: Needs::Gradient,
    build: |b| {
        let defaults = AdamHypers {
            weight_decay: 1e-2,
            ..TORCH
        };
        Box::new(Adam::new(b.hypers(defaults), true))
    },
};

/// torch.optim.Adam / AdamW, single-tensor path.
#[derive(Clone, Debug)]
pub struct Adam {
    h: HyperSet<AdamHypers>,
    decoupled: bool,
    step: u64,
    exp_avg: Vec<f64>,
    exp_avg_sq: Vec<f64>,
    max_exp_avg_sq: Vec<f64>,
    grad: Vec<f64>,
}

impl Adam {
    /// `decoupled`: AdamW's weight decay `θ *= 1 − γλ` instead of Adam's `g += λθ`.
    pub fn new(h: HyperSet<AdamHypers>, decoupled: bool) -> Self {
        Self {
            h,
            decoupled,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            max_exp_avg_sq: Vec::new(),
            grad: Vec::new(),
        }
    }

    fn denom(&self, i: usize, bias_correction2_sqrt: f64, eps: f64) -> f64 {
        let v = if self.h.amsgrad {
            self.max_exp_avg_sq[i]
        } else {
            self.exp_avg_sq[i]
        };
        v.sqrt() / bias_correction2_sqrt + eps
    }
}

/// torch's `_single_tensor_adam` (AdamW with `decoupled`) on one tensor at step `step` (already
/// incremented): `params`, `grad` and the moments `[exp_avg, exp_avg_sq, max_exp_avg_sq]` hold
/// the tensor's entries. Muon's AdamW part runs it on the tensors Muon does not take.
// parallel per-parameter buffers read clearest by index
#[allow(clippy::needless_range_loop)]
pub(crate) fn adam_tensor(
    h: &AdamHypers,
    decoupled: bool,
    step: u64,
    params: &mut [f64],
    grad: &[f64],
    [exp_avg, exp_avg_sq, max_exp_avg_sq]: [&mut [f64]; 3],
) {
    let AdamHypers {
        lr,
        betas: (beta1, beta2),
        eps,
        weight_decay: wd,
        amsgrad,
        maximize,
    } = *h;
    let bias_correction1 = bias_correction(beta1, step);
    let bias_correction2 = bias_correction(beta2, step);
    let step_size = lr / bias_correction1;
    let bias_correction2_sqrt = bias_correction2.sqrt();
    if !amsgrad && !maximize && wd == 0.0 && (1.0 - beta1).abs() < 0.5 {
        // The common case without a branch in the loop, so it runs in vector lanes: the same
        // operations in the same order as the general loop below (`lerp`'s first branch).
        let constants = AdamStep {
            weight: 1.0 - beta1,
            beta2,
            one_minus_beta2: 1.0 - beta2,
            step_size,
            bias_correction2_sqrt,
            eps,
        };
        adam_plain(&constants, params, grad, exp_avg, exp_avg_sq);
        return;
    }
    for i in 0..params.len() {
        let g = decayed_grad(
            grad[i],
            &mut params[i],
            maximize,
            wd,
            decoupled.then_some(lr),
        );
        exp_avg[i] = lerp(exp_avg[i], g, 1.0 - beta1);
        exp_avg_sq[i] = exp_avg_sq[i] * beta2 + (1.0 - beta2) * g * g;
        let v = if amsgrad {
            max_exp_avg_sq[i] = max_exp_avg_sq[i].max(exp_avg_sq[i]);
            max_exp_avg_sq[i]
        } else {
            exp_avg_sq[i]
        };
        let denom = v.sqrt() / bias_correction2_sqrt + eps;
        params[i] += -step_size * (exp_avg[i] / denom);
    }
}

/// The per-step constants of [`adam_plain`].
struct AdamStep {
    weight: f64,
    beta2: f64,
    one_minus_beta2: f64,
    step_size: f64,
    bias_correction2_sqrt: f64,
    eps: f64,
}

/// [`adam_tensor`] without amsgrad, maximize or weight decay, compiled for AVX-512 and AVX2 as
/// well as the baseline (chosen at run time; the same IEEE operations in every version).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq", "x86_64+avx2+fma"))]
fn adam_plain(
    c: &AdamStep,
    params: &mut [f64],
    grad: &[f64],
    exp_avg: &mut [f64],
    exp_avg_sq: &mut [f64],
) {
    let moments = exp_avg.iter_mut().zip(exp_avg_sq.iter_mut());
    for ((p, &g), (m, v)) in params.iter_mut().zip(grad).zip(moments) {
        *m = *m + c.weight * (g - *m);
        *v = *v * c.beta2 + c.one_minus_beta2 * g * g;
        let denom = v.sqrt() / c.bias_correction2_sqrt + c.eps;
        *p += -c.step_size * (*m / denom);
    }
}

impl Optimizer for Adam {
    // t += 1; g = ±∇f (+ λθ for adam; θ *= 1 − γλ first for adamw); m = lerp(m, g, 1−β₁);
    // v = β₂v + (1−β₂)g²; v̂ = max(v̂, v) if amsgrad; θ −= (γ/(1−β₁ᵗ)) · m / (√v̂/√(1−β₂ᵗ) + ε)
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let n = params.len();
        if self.step == 0 {
            self.exp_avg = vec![0.0; n];
            self.exp_avg_sq = vec![0.0; n];
            self.max_exp_avg_sq = vec![0.0; n];
        }
        self.step += 1;
        adam_tensor(
            &self.h,
            self.decoupled,
            self.step,
            params,
            &self.grad,
            [
                &mut self.exp_avg,
                &mut self.exp_avg_sq,
                &mut self.max_exp_avg_sq,
            ],
        );
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        if self.step == 0 {
            return Vec::new();
        }
        let (beta1, beta2) = self.h.betas;
        let step_size = self.h.lr / bias_correction(beta1, self.step);
        let bc2 = bias_correction(beta2, self.step).sqrt();
        let mut v = named_buffers([("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)]);
        if self.h.amsgrad {
            v.push(StateVector::new("max_exp_avg_sq", &self.max_exp_avg_sq));
        }
        let effective_lr: Vec<f64> = (0..self.exp_avg.len())
            .map(|i| step_size / self.denom(i, bc2, self.h.eps))
            .collect();
        v.push(StateVector::new("effective_lr", &effective_lr));
        v
    }
    fn reset(&mut self) {
        self.step = 0;
        self.exp_avg.clear();
        self.exp_avg_sq.clear();
        self.max_exp_avg_sq.clear();
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

    /// Independent transcription of torch's `_single_tensor_adam` (and adamw).
    #[allow(clippy::too_many_arguments)]
    fn reference(
        steps: usize,
        lr: f64,
        b1: f64,
        b2: f64,
        eps: f64,
        wd: f64,
        amsgrad: bool,
        decoupled: bool,
    ) -> Vec<[f64; 2]> {
        let mut p = START;
        let (mut m, mut v, mut vmax) = ([0.0; 2], [0.0; 2], [0.0_f64; 2]);
        let mut out = vec![];
        for t in 1..=steps {
            let g0 = quad_grad(&p);
            for i in 0..2 {
                let mut g = g0[i];
                if decoupled {
                    p[i] *= 1.0 - lr * wd;
                } else {
                    g += wd * p[i];
                }
                m[i] = m[i] + (1.0 - b1) * (g - m[i]);
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                vmax[i] = vmax[i].max(v[i]);
                let bc1 = 1.0 - b1.powi(t as i32);
                let bc2 = 1.0 - b2.powi(t as i32);
                let vv = if amsgrad { vmax[i] } else { v[i] };
                let denom = vv.sqrt() / bc2.sqrt() + eps;
                p[i] -= (lr / bc1) * (m[i] / denom);
            }
            out.push(p);
        }
        out
    }

    fn run(name: &str, h: &[(&str, super::super::HyperValue)], steps: usize) -> Vec<[f64; 2]> {
        let p: Vec<_> = h.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let mut o = build(name, &p, 0, 2).expect("builds");
        trajectory(o.as_mut(), steps)
    }

    #[test]
    fn amsgrad_with_weight_decay_matches_torch() {
        let got = run(
            "adam",
            &[
                ("lr", 0.1.into()),
                ("betas", (0.8, 0.9).into()),
                ("eps", 1e-6.into()),
                ("weight_decay", 0.05.into()),
                ("amsgrad", true.into()),
            ],
            3,
        );
        let want = reference(3, 0.1, 0.8, 0.9, 1e-6, 0.05, true, false);
        assert_close(&got, &want, 1e-12);
        // amsgrad must matter on this fixture after a few steps (the test can fail)
        let plain = reference(6, 0.1, 0.8, 0.9, 1e-6, 0.05, false, false);
        let ams = reference(6, 0.1, 0.8, 0.9, 1e-6, 0.05, true, false);
        assert_ne!(plain[5], ams[5]);
    }

    #[test]
    fn first_step_literal() {
        // step 1 of Adam moves each coordinate by lr·g/(|g| + eps) ≈ lr·sign(g)
        let got = run("adam", &[("lr", 0.1.into())], 1);
        let want_x = 1.5 - 0.1 * 1.5 / (1.5 + 1e-8);
        let want_y = -0.8 + 0.1 * 8.0 / (8.0 + 1e-8);
        assert!((got[0][0] - want_x).abs() < 1e-15 && (got[0][1] - want_y).abs() < 1e-15);
    }

    #[test]
    fn adamw_matches_torch() {
        let got = run(
            "adamw",
            &[
                ("lr", 0.05.into()),
                ("betas", (0.7, 0.95).into()),
                ("weight_decay", 0.3.into()),
            ],
            3,
        );
        assert_close(
            &got,
            &reference(3, 0.05, 0.7, 0.95, 1e-8, 0.3, false, true),
            1e-12,
        );
    }

    #[test]
    fn converges() {
        for name in ["adam", "adamw"] {
            let x = run(name, &[("lr", 0.05.into())], 3000);
            let last = x[x.len() - 1];
            assert!(
                last[0].abs() < 1e-3 && last[1].abs() < 1e-3,
                "{name} {last:?}"
            );
        }
    }
}
