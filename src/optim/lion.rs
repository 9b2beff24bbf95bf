//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of an
//! interpolation between momentum and gradient, with decoupled weight decay.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, Range, Scale, ge, le, lr, maximize, pair, weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, eval_gradient, named_buffers};

/// Lion's hyperparameters (the paper's names, as in its reference implementation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LionHypers {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Hypers for LionHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        let unit = Range::new(ge(0.0), le(1.0));
        [
            lr(&mut self.lr),
            pair(
                "betas",
                &mut self.betas,
                unit,
                unit,
                Scale::Linear,
                "interpolation factor of the update / decay of the momentum",
            ),
            weight_decay(&mut self.weight_decay),
            maximize(&mut self.maximize),
        ]
    }
}

pub(crate) static LION: OptimizerSpec = OptimizerSpec {
    name: "lion",
    description: "sign of an interpolated momentum (Chen et al. 2023)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Lion::new(b.hypers(LionHypers {
            lr: 1e-4,
            betas: (0.9, 0.99),
            weight_decay: 0.0,
            maximize: false,
        })))
    },
};

/// Lion as in the paper's Algorithm 2.
#[derive(Clone, Debug)]
pub struct Lion {
    h: HyperSet<LionHypers>,
    exp_avg: Option<Vec<f64>>,
    grad: Vec<f64>,
}

impl Lion {
    pub fn new(h: HyperSet<LionHypers>) -> Self {
        Self {
            h,
            exp_avg: None,
            grad: Vec::new(),
        }
    }
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl Optimizer for Lion {
    // c = β₁m + (1−β₁)g; θ = θ(1 − γλ) − γ·sign(c); m = β₂m + (1−β₂)g
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let LionHypers {
            lr,
            betas: (beta1, beta2),
            weight_decay: wd,
            maximize,
        } = *self.h;
        let m = self.exp_avg.get_or_insert_with(|| vec![0.0; params.len()]);
        for i in 0..params.len() {
            let g = if maximize {
                -self.grad[i]
            } else {
                self.grad[i]
            };
            let c = m[i] * beta1 + (1.0 - beta1) * g;
            params[i] *= 1.0 - lr * wd;
            params[i] += -lr * sign(c);
            m[i] = m[i] * beta2 + (1.0 - beta2) * g;
        }
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        match &self.exp_avg {
            Some(m) => named_buffers([("exp_avg", m)]),
            None => Vec::new(),
        }
    }
    fn reset(&mut self) {
        self.exp_avg = None;
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

    #[test]
    fn first_steps_literal() {
        let mut o = build(
            "lion",
            &[
                ("lr".into(), 0.1.into()),
                ("betas".into(), (0.5, 0.9).into()),
                ("weight_decay".into(), 0.5.into()),
            ],
            0,
            2,
        )
        .expect("builds");
        let got = trajectory(o.as_mut(), 2);
        // step 1: m = 0 so c = 0.5 g: x = 1.5·0.95 − 0.1 = 1.325, y = −0.8·0.95 + 0.1 = −0.66
        assert!((got[0][0] - 1.325).abs() < 1e-14 && (got[0][1] + 0.66).abs() < 1e-14);
        // step 2: m = 0.1·g₁ = (0.15, −0.8); c_y = 0.5(−0.8) + 0.5(−6.6) < 0
        assert!((got[1][0] - (1.325 * 0.95 - 0.1)).abs() < 1e-14);
        assert!((got[1][1] - (-0.66 * 0.95 + 0.1)).abs() < 1e-14);
    }

    #[test]
    fn converges_within_lr() {
        let mut o = build("lion", &[("lr".into(), 1e-3.into())], 0, 2).expect("builds");
        let x = trajectory(o.as_mut(), 3000);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 5e-3 && last[1].abs() < 5e-3, "{last:?}");
    }
}
