//! Random search: gaussian samples around the best point so far, the radius shrinking after a
//! batch without improvement. Seeded (`ChaCha8Rng`); one step is one batch of samples.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::genetic::normal;
use super::hyper::{Hyper, HyperAccess, HyperSet, Hypers, INF, Role, Scale, float, gt, int, le};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, named_buffers};

/// Random search's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomSearchHypers {
    pub radius: f64,
    pub samples: usize,
    pub shrink: f64,
}

impl Hypers for RandomSearchHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            float(
                "radius",
                &mut self.radius,
                gt(0.0),
                INF,
                Scale::Log,
                "standard deviation of samples around the best point",
            )
            .with_role(Role::Lr),
            int(
                "samples",
                &mut self.samples,
                1,
                1_000_000,
                "samples per step",
            ),
            float(
                "shrink",
                &mut self.shrink,
                gt(0.0),
                le(1.0),
                Scale::Linear,
                "radius factor after a step without improvement",
            ),
        ]
    }
}

pub(crate) static RANDOM_SEARCH: OptimizerSpec = OptimizerSpec {
    name: "random_search",
    description: "gaussian samples around the best point, shrinking on failure",
    needs: Needs::ValuesOnly,
    build: |b| {
        let defaults = RandomSearchHypers {
            radius: 0.5,
            samples: 20,
            shrink: 0.9,
        };
        Box::new(RandomSearch::new(b.hypers(defaults), b.seed))
    },
};

/// Random search around the incumbent.
#[derive(Clone, Debug)]
pub struct RandomSearch {
    h: HyperSet<RandomSearchHypers>,
    seed: u64,
    rng: ChaCha8Rng,
    best: Option<(Vec<f64>, f64)>,
    /// Product of the shrink factors applied so far: the radius in use is `radius · scale`.
    scale: f64,
}

impl RandomSearch {
    pub fn new(h: HyperSet<RandomSearchHypers>, seed: u64) -> Self {
        Self {
            h,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            best: None,
            scale: 1.0,
        }
    }
}

impl Optimizer for RandomSearch {
    // x_k = θ* + (radius·scale)·N(0, I), k = 1..samples; θ* = argmin; scale *= shrink if none won
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let (mut bx, mut bf) = match self.best.take() {
            Some(b) => b,
            None => {
                let f = oracle.value(params);
                (params.to_vec(), if f.is_nan() { f64::INFINITY } else { f })
            }
        };
        let before = bf;
        let r = self.h.radius * self.scale;
        let mut improved = false;
        for _ in 0..self.h.samples {
            let x: Vec<f64> = bx.iter().map(|b| b + r * normal(&mut self.rng)).collect();
            let f = oracle.value(&x);
            if f < bf {
                bx = x;
                bf = f;
                improved = true;
            }
        }
        if !improved {
            self.scale *= self.h.shrink;
        }
        params.copy_from_slice(&bx);
        self.best = Some((bx, bf));
        StepInfo {
            loss: before,
            grad_norm: None,
        }
    }
    fn state(&self) -> Vec<StateVector> {
        named_buffers([("radius", &[self.h.radius * self.scale])])
    }
    fn reset(&mut self) {
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        self.best = None;
        self.scale = 1.0;
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
        let mut opt = build("random_search", &[], 3, 2).expect("builds");
        let mut x = vec![0.0, 0.0];
        for _ in 0..300 {
            opt.step(&mut x, &mut o);
        }
        assert!(near_himmelblau_minimum(&x, 0.1), "{x:?}");
    }

    #[test]
    fn lr_is_the_radius() {
        let mut opt = build("random_search", &[], 3, 2).expect("builds");
        assert_eq!(opt.lr(), 0.5);
        opt.set_lr(0.25);
        assert_eq!(opt.state()[0].values, vec![0.25]);
    }
}
