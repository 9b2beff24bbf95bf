//! Nelder–Mead downhill simplex (reflection 1, expansion 2, contraction ½, shrink ½).
//! One step is one iteration; the parameters are set to the best vertex.

use super::hyper::{Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, float, gt, lt};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo};

/// Nelder–Mead's coefficients.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NelderMeadHypers {
    pub reflection: f64,
    pub expansion: f64,
    pub contraction: f64,
    pub shrink: f64,
    pub initial_step: f64,
}

impl Hypers for NelderMeadHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            float(
                "reflection",
                &mut self.reflection,
                gt(0.0),
                INF,
                Scale::Linear,
                "reflection coefficient (alpha)",
            ),
            float(
                "expansion",
                &mut self.expansion,
                gt(1.0),
                INF,
                Scale::Linear,
                "expansion coefficient (gamma)",
            ),
            float(
                "contraction",
                &mut self.contraction,
                gt(0.0),
                lt(1.0),
                Scale::Linear,
                "contraction coefficient (rho)",
            ),
            float(
                "shrink",
                &mut self.shrink,
                gt(0.0),
                lt(1.0),
                Scale::Linear,
                "shrink coefficient (sigma)",
            ),
            float(
                "initial_step",
                &mut self.initial_step,
                gt(0.0),
                INF,
                Scale::Log,
                "edge length of the initial simplex",
            ),
        ]
    }
}

pub(crate) static NELDER_MEAD: OptimizerSpec = OptimizerSpec {
    name: "nelder_mead",
    description: "downhill simplex (Nelder-Mead)",
    needs: Needs::ValuesOnly,
    build: |b| {
        Box::new(NelderMead::new(b.hypers(NelderMeadHypers {
            reflection: 1.0,
            expansion: 2.0,
            contraction: 0.5,
            shrink: 0.5,
            initial_step: 0.5,
        })))
    },
};

/// The Nelder–Mead simplex method.
#[derive(Clone, Debug)]
pub struct NelderMead {
    h: HyperSet<NelderMeadHypers>,
    simplex: Vec<Vec<f64>>,
    values: Vec<f64>,
    last_move: &'static str,
}

impl NelderMead {
    pub fn new(h: HyperSet<NelderMeadHypers>) -> Self {
        Self {
            h,
            simplex: Vec::new(),
            values: Vec::new(),
            last_move: "",
        }
    }
}

fn eval(oracle: &mut dyn Oracle, x: &[f64]) -> f64 {
    let f = oracle.value(x);
    if f.is_nan() { f64::INFINITY } else { f }
}

/// `a + t·(b − a)`
fn along(a: &[f64], b: &[f64], t: f64) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a + t * (b - a)).collect()
}

impl Optimizer for NelderMead {
    // sort; c = centroid without worst; x_r = c + α(c − x_w); expand x_e = c + γ(x_r − c);
    // contract outside c + ρ(x_r − c) / inside c + ρ(x_w − c); else shrink x_i = x_0 + σ(x_i − x_0)
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let n = params.len();
        if self.simplex.len() != n + 1 {
            let h0 = self.h.initial_step;
            self.simplex = vec![params.to_vec()];
            for i in 0..n {
                let mut v = params.to_vec();
                v[i] += h0;
                self.simplex.push(v);
            }
            self.values = self.simplex.iter().map(|x| eval(oracle, x)).collect();
        }
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| self.values[a].total_cmp(&self.values[b]));
        self.simplex = order.iter().map(|&i| self.simplex[i].clone()).collect();
        self.values = order.iter().map(|&i| self.values[i]).collect();
        let before = self.values[0];
        if n == 0 {
            return StepInfo {
                loss: before,
                grad_norm: None,
            };
        }

        let NelderMeadHypers {
            reflection: alpha,
            expansion: gamma,
            contraction: rho,
            shrink: sigma,
            initial_step: _,
        } = *self.h;
        let mut c = vec![0.0; n];
        for v in &self.simplex[..n] {
            for (cj, vj) in c.iter_mut().zip(v) {
                *cj += vj / n as f64;
            }
        }
        let worst = self.simplex[n].clone();
        let (f_best, f_second, f_worst) = (self.values[0], self.values[n - 1], self.values[n]);
        let xr = along(&c, &worst, -alpha);
        let fr = eval(oracle, &xr);
        let mut accepted: Option<(Vec<f64>, f64, &'static str)> = None;
        if fr < f_best {
            let xe = along(&c, &xr, gamma);
            let fe = eval(oracle, &xe);
            accepted = Some(if fe < fr {
                (xe, fe, "expand")
            } else {
                (xr, fr, "reflect")
            });
        } else if fr < f_second {
            accepted = Some((xr, fr, "reflect"));
        } else if fr < f_worst {
            let xc = along(&c, &xr, rho);
            let fc = eval(oracle, &xc);
            if fc <= fr {
                accepted = Some((xc, fc, "contract_outside"));
            }
        } else {
            let xc = along(&c, &worst, rho);
            let fc = eval(oracle, &xc);
            if fc < f_worst {
                accepted = Some((xc, fc, "contract_inside"));
            }
        }
        match accepted {
            Some((x, f, m)) => {
                self.simplex[n] = x;
                self.values[n] = f;
                self.last_move = m;
            }
            None => {
                let best = self.simplex[0].clone();
                for i in 1..=n {
                    self.simplex[i] = along(&best, &self.simplex[i], sigma);
                    self.values[i] = eval(oracle, &self.simplex[i]);
                }
                self.last_move = "shrink";
            }
        }
        let best = (0..=n)
            .min_by(|&a, &b| self.values[a].total_cmp(&self.values[b]))
            .unwrap_or(0);
        params.copy_from_slice(&self.simplex[best]);
        StepInfo {
            loss: before,
            grad_norm: None,
        }
    }
    fn state(&self) -> Vec<StateVector> {
        // simplex vertices flattened, vertex after vertex
        vec![
            StateVector::new("values", &self.values),
            StateVector::new("simplex", &self.simplex.concat()),
        ]
    }
    fn reset(&mut self) {
        self.simplex.clear();
        self.values.clear();
        self.last_move = "";
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
    fn reaches_a_himmelblau_minimum() {
        let mut o = himmelblau();
        let mut opt = build("nelder_mead", &[], 0, 2).expect("builds");
        let mut x = vec![0.0, 0.0];
        let mut last = f64::INFINITY;
        for _ in 0..200 {
            let info = opt.step(&mut x, &mut o);
            assert!(info.loss <= last);
            last = info.loss;
        }
        assert!(near_himmelblau_minimum(&x, 1e-4), "{x:?}");
    }

    #[test]
    fn minimizes_the_quadratic() {
        let mut opt = build("nelder_mead", &[], 0, 2).expect("builds");
        let x = trajectory(opt.as_mut(), 300);
        let last = x[x.len() - 1];
        assert!(last[0].abs() < 1e-6 && last[1].abs() < 1e-6, "{last:?}");
    }
}
