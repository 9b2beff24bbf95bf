//! SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD), and the aliases
//! `gd`, `momentum` and `nesterov` that differ only in their defaults.

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, Scale, boolean, float, ge, le, lr, maximize, momentum,
    weight_decay,
};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, eval_gradient, named_buffers};

/// torch.optim.SGD's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdHypers {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

impl Hypers for SgdHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            momentum(&mut self.momentum),
            float(
                "dampening",
                &mut self.dampening,
                ge(0.0),
                le(1.0),
                Scale::Linear,
                "dampening for momentum",
            ),
            weight_decay(&mut self.weight_decay),
            boolean("nesterov", &mut self.nesterov, "use Nesterov momentum"),
            maximize(&mut self.maximize),
        ]
    }
}

/// torch.optim.SGD's defaults.
const TORCH: SgdHypers = SgdHypers {
    lr: 1e-3,
    momentum: 0.0,
    dampening: 0.0,
    weight_decay: 0.0,
    nesterov: false,
    maximize: false,
};
const HEAVY_BALL: SgdHypers = SgdHypers {
    momentum: 0.9,
    ..TORCH
};

pub(crate) static SGD: OptimizerSpec = OptimizerSpec {
    name: "sgd",
    description: "stochastic gradient descent (torch.optim.SGD), minibatches of batch_size",
    needs: Needs::Gradient,
    build: |b| Box::new(Sgd::new(b.hypers(TORCH))),
};
pub(crate) static GD: OptimizerSpec = OptimizerSpec {
    name: "gd",
    description: "full-batch gradient descent (sgd on every example; minibatches: sgd)",
    needs: Needs::Gradient,
    build: |b| Box::new(Sgd::new(b.hypers(TORCH))),
};
pub(crate) static MOMENTUM: OptimizerSpec = OptimizerSpec {
    name: "momentum",
    description: "heavy-ball momentum (sgd, momentum 0.9)",
    needs: Needs::Gradient,
    build: |b| Box::new(Sgd::new(b.hypers(HEAVY_BALL))),
};
pub(crate) static NESTEROV: OptimizerSpec = OptimizerSpec {
    name: "nesterov",
    description: "Nesterov momentum (sgd, momentum 0.9, nesterov)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Sgd::new(b.hypers(SgdHypers {
            nesterov: true,
            ..HEAVY_BALL
        })))
    },
};

/// torch.optim.SGD, single-tensor path.
#[derive(Clone, Debug)]
pub struct Sgd {
    h: HyperSet<SgdHypers>,
    momentum_buffer: Option<Vec<f64>>,
    grad: Vec<f64>,
}

impl Sgd {
    pub fn new(h: HyperSet<SgdHypers>) -> Self {
        Self {
            h,
            momentum_buffer: None,
            grad: Vec::new(),
        }
    }
}

impl Optimizer for Sgd {
    // g = ±∇f + λθ;  b = g (first step) else μb + (1−τ)g;  g = g + μb (nesterov) else b;  θ −= γg
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (loss, norm) = eval_gradient(oracle, params, &mut self.grad);
        let SgdHypers {
            lr,
            momentum,
            dampening,
            weight_decay: wd,
            nesterov,
            maximize,
        } = *self.h;
        let mut g = std::mem::take(&mut self.grad);
        for (gi, p) in g.iter_mut().zip(params.iter()) {
            if maximize {
                *gi = -*gi;
            }
            if wd != 0.0 {
                *gi += wd * p;
            }
        }
        if momentum != 0.0 {
            match &mut self.momentum_buffer {
                None => self.momentum_buffer = Some(g.clone()),
                Some(buf) => {
                    for (b, gi) in buf.iter_mut().zip(&g) {
                        *b = *b * momentum + (1.0 - dampening) * gi;
                    }
                }
            }
            if let Some(buf) = &self.momentum_buffer {
                for (gi, b) in g.iter_mut().zip(buf) {
                    *gi = if nesterov { *gi + momentum * b } else { *b };
                }
            }
        }
        for (p, gi) in params.iter_mut().zip(&g) {
            *p += -lr * gi;
        }
        self.grad = g;
        StepInfo {
            loss,
            grad_norm: Some(norm),
        }
    }
    fn state(&self) -> Vec<StateVector> {
        match &self.momentum_buffer {
            Some(b) => named_buffers([("momentum_buffer", b)]),
            None => Vec::new(),
        }
    }
    fn reset(&mut self) {
        self.momentum_buffer = None;
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

    /// Independent transcription of torch's `_single_tensor_sgd` for a 2-vector.
    fn reference(
        steps: usize,
        lr: f64,
        momentum: f64,
        dampening: f64,
        wd: f64,
        nesterov: bool,
        maximize: bool,
    ) -> Vec<[f64; 2]> {
        let mut p = START;
        let mut buf: Option<[f64; 2]> = None;
        let mut out = vec![];
        for _ in 0..steps {
            let g0 = quad_grad(&p);
            let mut d = [0.0; 2];
            let mut newbuf = [0.0; 2];
            for i in 0..2 {
                let mut g = if maximize { -g0[i] } else { g0[i] };
                g += wd * p[i];
                if momentum != 0.0 {
                    let b = match buf {
                        None => g,
                        Some(bb) => bb[i] * momentum + (1.0 - dampening) * g,
                    };
                    newbuf[i] = b;
                    g = if nesterov { g + momentum * b } else { b };
                }
                d[i] = g;
            }
            if momentum != 0.0 {
                buf = Some(newbuf);
            }
            for i in 0..2 {
                p[i] += -lr * d[i];
            }
            out.push(p);
        }
        out
    }

    fn run(params: &[(&str, super::super::HyperValue)]) -> Vec<[f64; 2]> {
        let p: Vec<_> = params.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let mut o = build("sgd", &p, 0, 2).expect("builds");
        trajectory(o.as_mut(), 3)
    }

    #[test]
    fn momentum_dampening_weight_decay_matches_torch() {
        let got = run(&[
            ("lr", 0.05.into()),
            ("momentum", 0.9.into()),
            ("dampening", 0.1.into()),
            ("weight_decay", 0.01.into()),
        ]);
        assert_close(
            &got,
            &reference(3, 0.05, 0.9, 0.1, 0.01, false, false),
            1e-12,
        );
    }

    #[test]
    fn nesterov_matches_torch() {
        let got = run(&[
            ("lr", 0.03.into()),
            ("momentum", 0.8.into()),
            ("nesterov", true.into()),
            ("weight_decay", 0.1.into()),
        ]);
        assert_close(&got, &reference(3, 0.03, 0.8, 0.0, 0.1, true, false), 1e-12);
    }

    #[test]
    fn plain_and_maximize_match_torch() {
        let got = run(&[("lr", 0.1.into())]);
        assert_close(&got, &reference(3, 0.1, 0.0, 0.0, 0.0, false, false), 1e-12);
        // literal: x ← x(1 − 0.1·1), y ← y(1 − 0.1·10) = 0
        assert!((got[0][0] - 1.35).abs() < 1e-15 && got[0][1] == 0.0);
        let got = run(&[("lr", 0.01.into()), ("maximize", true.into())]);
        assert_close(&got, &reference(3, 0.01, 0.0, 0.0, 0.0, false, true), 1e-12);
    }

    #[test]
    fn aliases_converge() {
        for name in ["gd", "momentum", "nesterov"] {
            let mut o = build(name, &[("lr".into(), 0.05.into())], 0, 2).expect("builds");
            let x = trajectory(o.as_mut(), 400);
            let last = x[x.len() - 1];
            assert!(
                last[0].abs() < 1e-4 && last[1].abs() < 1e-4,
                "{name}: {last:?}"
            );
        }
    }
}
