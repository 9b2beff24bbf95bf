//! Adagrad (torch.optim.Adagrad): per-parameter steps shrink with the accumulated squared
//! gradient.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, eps, float, ge, lr, maximize, weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, eval_gradient};

/// torch.optim.Adagrad's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradHypers {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub initial_accumulator_value: f64,
    pub eps: f64,
    pub maximize: bool,
}

impl Hypers for AdagradHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            float(
                "lr_decay",
                &mut self.lr_decay,
                ge(0.0),
                INF,
                Scale::Log,
                "learning rate decay",
            ),
            weight_decay(&mut self.weight_decay),
            float(
                "initial_accumulator_value",
                &mut self.initial_accumulator_value,
                ge(0.0),
                INF,
                Scale::Linear,
                "initial value of the sum of squared gradients",
            ),
            eps(&mut self.eps),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static ADAGRAD: OptimizerSpec = OptimizerSpec {
    name: "adagrad",
    description: "per-parameter steps scaled by accumulated squared gradients (torch.optim.Adagrad)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Adagrad::new(b.hypers(AdagradHypers {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        })))
    },
};

/// torch.optim.Adagrad, single-tensor path.
#[derive(Clone, Debug)]
pub struct Adagrad {
    h: HyperSet<AdagradHypers>,
    step: u64,
    state_sum: Option<Vec<f64>>,
    grad: Vec<f64>,
}

impl Adagrad {
    pub fn new(h: HyperSet<AdagradHypers>) -> Self {
        Self {
            h,
            step: 0,
            state_sum: None,
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Adagrad {
    // t += 1; g = ±∇f + λθ; clr = γ / (1 + (t−1)η); s += g²; θ −= clr · g / (√s + ε)
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let AdagradHypers {
            lr,
            lr_decay,
            weight_decay: wd,
            initial_accumulator_value: init,
            eps,
            maximize,
        } = *self.h;
        let sum = self
            .state_sum
            .get_or_insert_with(|| vec![init; params.len()]);
        self.step += 1;
        let clr = lr / (1.0 + (self.step as f64 - 1.0) * lr_decay);
        for ((p, g), s) in params.iter_mut().zip(&self.grad).zip(sum.iter_mut()) {
            let mut g = if maximize { -g } else { *g };
            if wd != 0.0 {
                g += wd * *p;
            }
            *s += g * g;
            let std = s.sqrt() + eps;
            *p += -clr * (g / std);
        }
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        let Some(sum) = &self.state_sum else {
            return Vec::new();
        };
        let clr = self.h.lr / (1.0 + (self.step.max(1) as f64 - 1.0) * self.h.lr_decay);
        let effective_lr: Vec<f64> = sum.iter().map(|s| clr / (s.sqrt() + self.h.eps)).collect();
        vec![
            StateVector::new("sum", sum),
            StateVector::new("effective_lr", &effective_lr),
        ]
    }
    fn reset(&mut self) {
        self.step = 0;
        self.state_sum = None;
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

    /// Independent transcription of torch's `_single_tensor_adagrad`.
    fn reference(
        steps: usize,
        lr: f64,
        lr_decay: f64,
        wd: f64,
        init: f64,
        eps: f64,
    ) -> Vec<[f64; 2]> {
        let mut p = START;
        let mut sum = [init; 2];
        let mut out = vec![];
        for t in 1..=steps {
            let g0 = quad_grad(&p);
            let clr = lr / (1.0 + (t as f64 - 1.0) * lr_decay);
            for i in 0..2 {
                let g = g0[i] + wd * p[i];
                sum[i] += g * g;
                p[i] -= clr * g / (sum[i].sqrt() + eps);
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn non_default_matches_torch() {
        let mut o = build(
            "adagrad",
            &[
                ("lr".into(), 0.3.into()),
                ("lr_decay".into(), 0.05.into()),
                ("weight_decay".into(), 0.02.into()),
                ("initial_accumulator_value".into(), 0.1.into()),
                ("eps".into(), 1e-3.into()),
            ],
            0,
            2,
        )
        .expect("builds");
        let got = trajectory(o.as_mut(), 3);
        assert_close(&got, &reference(3, 0.3, 0.05, 0.02, 0.1, 1e-3), 1e-12);
    }

    #[test]
    fn converges() {
        let mut o = build("adagrad", &[("lr".into(), 0.5.into())], 0, 2).expect("builds");
        let x = trajectory(o.as_mut(), 2000);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 1e-3 && last[1].abs() < 1e-3, "{last:?}");
    }
}
