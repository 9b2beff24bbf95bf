//! Random search: gaussian samples around the best point so far, the radius shrinking after a
//! batch without improvement. Seeded (`ChaCha8Rng`); one step is one batch of samples.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::genetic::normal;
use super::registry::HyperSet;
use super::{Optimizer, Oracle, StateVector, StepInfo};

/// Random search around the incumbent.
#[derive(Clone, Debug)]
pub struct RandomSearch {
    h: HyperSet,
    seed: u64,
    rng: ChaCha8Rng,
    best: Option<(Vec<f64>, f64)>,
    /// Product of the shrink factors applied so far: the radius in use is `radius · scale`.
    scale: f64,
}

impl RandomSearch {
    pub fn new(h: HyperSet, seed: u64) -> Self {
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
        let r = self.h.f("radius") * self.scale;
        let mut improved = false;
        for _ in 0..self.h.u("samples") {
            let x: Vec<f64> = bx.iter().map(|b| b + r * normal(&mut self.rng)).collect();
            let f = oracle.value(&x);
            if f < bf {
                bx = x;
                bf = f;
                improved = true;
            }
        }
        if !improved {
            self.scale *= self.h.f("shrink");
        }
        params.copy_from_slice(&bx);
        self.best = Some((bx, bf));
        StepInfo {
            loss: before,
            grad_norm: None,
        }
    }
    fn state(&self) -> Vec<StateVector> {
        vec![StateVector {
            name: "radius",
            values: vec![self.h.f("radius") * self.scale],
        }]
    }
    fn box_clone(&self) -> Box<dyn Optimizer> {
        Box::new(self.clone())
    }
    fn reset(&mut self) {
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        self.best = None;
        self.scale = 1.0;
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
