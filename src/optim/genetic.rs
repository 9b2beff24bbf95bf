//! A real-valued genetic algorithm: tournament selection, BLX-α blend crossover, gaussian
//! mutation and elitism, seeded (`ChaCha8Rng`) so runs and snapshots are reproducible.
//! One step is one generation; the parameters are set to the best individual found.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::hyper::{
    Hyper, HyperAccess, HyperSet, Hypers, INF, Role, Scale, float, ge, gt, int, le,
};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, named_buffers};

/// The genetic algorithm's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeneticHypers {
    pub population: usize,
    pub tournament_size: usize,
    pub crossover_rate: f64,
    pub blend_alpha: f64,
    pub mutation_rate: f64,
    pub sigma: f64,
    pub elitism: usize,
    pub init_sigma: f64,
}

impl Hypers for GeneticHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            int(
                "population",
                &mut self.population,
                2,
                100_000,
                "individuals per generation",
            ),
            int(
                "tournament_size",
                &mut self.tournament_size,
                1,
                1000,
                "individuals drawn per tournament",
            ),
            float(
                "crossover_rate",
                &mut self.crossover_rate,
                ge(0.0),
                le(1.0),
                Scale::Linear,
                "probability that a child is a blend of two parents",
            ),
            float(
                "blend_alpha",
                &mut self.blend_alpha,
                ge(0.0),
                INF,
                Scale::Linear,
                "BLX-alpha: how far beyond the parents a blend may reach (0 = arithmetic crossover)",
            ),
            float(
                "mutation_rate",
                &mut self.mutation_rate,
                ge(0.0),
                le(1.0),
                Scale::Linear,
                "probability that a gene gets gaussian noise",
            ),
            float(
                "sigma",
                &mut self.sigma,
                gt(0.0),
                INF,
                Scale::Log,
                "standard deviation of the gaussian mutation",
            )
            .with_role(Role::Lr),
            int(
                "elitism",
                &mut self.elitism,
                0,
                100_000,
                "best individuals copied unchanged",
            ),
            float(
                "init_sigma",
                &mut self.init_sigma,
                gt(0.0),
                INF,
                Scale::Log,
                "spread of the initial population around the start",
            ),
        ]
    }
}

pub(crate) static GENETIC: OptimizerSpec = OptimizerSpec {
    name: "genetic",
    description: "real-valued genetic algorithm: tournaments, blend crossover, gaussian mutation, elitism",
    needs: Needs::ValuesOnly,
    build: |b| {
        let defaults = GeneticHypers {
            population: 50,
            tournament_size: 3,
            crossover_rate: 0.9,
            blend_alpha: 0.5,
            mutation_rate: 0.5,
            sigma: 0.1,
            elitism: 2,
            init_sigma: 1.0,
        };
        Box::new(Genetic::new(b.hypers(defaults), b.seed))
    },
};

/// Genetic algorithm over real vectors.
#[derive(Clone, Debug)]
pub struct Genetic {
    h: HyperSet<GeneticHypers>,
    seed: u64,
    rng: ChaCha8Rng,
    population: Vec<Vec<f64>>,
    fitness: Vec<f64>,
    generation: u64,
}

impl Genetic {
    pub fn new(h: HyperSet<GeneticHypers>, seed: u64) -> Self {
        Self {
            h,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            population: Vec::new(),
            fitness: Vec::new(),
            generation: 0,
        }
    }

    fn best(&self) -> Option<usize> {
        (0..self.fitness.len()).min_by(|&a, &b| self.fitness[a].total_cmp(&self.fitness[b]))
    }

    fn tournament(&mut self) -> usize {
        let k = self.h.tournament_size.max(1);
        let n = self.population.len();
        let mut best = self.rng.random_range(0..n);
        for _ in 1..k {
            let c = self.rng.random_range(0..n);
            if self.fitness[c].total_cmp(&self.fitness[best]).is_lt() {
                best = c;
            }
        }
        best
    }
}

/// A standard normal draw by Box–Muller (rand_distr is not a dependency).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn fitness_of(oracle: &mut dyn Oracle, x: &[f64]) -> f64 {
    let f = oracle.value(x);
    // NaN individuals sort last instead of poisoning comparisons
    if f.is_nan() { f64::INFINITY } else { f }
}

impl Optimizer for Genetic {
    // next = elites ∪ { mutate(blend(tournament(), tournament())) }; θ = argmin over all
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let GeneticHypers {
            population,
            tournament_size: _,
            crossover_rate,
            blend_alpha: alpha,
            mutation_rate,
            sigma,
            elitism,
            init_sigma,
        } = *self.h;
        let size = population.max(2);
        let n = params.len();
        if self.population.is_empty() {
            self.population.push(params.to_vec());
            for _ in 1..size {
                let ind: Vec<f64> = params
                    .iter()
                    .map(|p| p + init_sigma * normal(&mut self.rng))
                    .collect();
                self.population.push(ind);
            }
            self.fitness = self
                .population
                .iter()
                .map(|x| fitness_of(oracle, x))
                .collect();
        }
        let before = self.best().map_or(f64::INFINITY, |i| self.fitness[i]);

        let mut order: Vec<usize> = (0..self.population.len()).collect();
        order.sort_by(|&a, &b| self.fitness[a].total_cmp(&self.fitness[b]));
        let elites = elitism.min(size);
        let mut next: Vec<Vec<f64>> = order[..elites.min(order.len())]
            .iter()
            .map(|&i| self.population[i].clone())
            .collect();
        let mut next_fit: Vec<f64> = order[..next.len()]
            .iter()
            .map(|&i| self.fitness[i])
            .collect();
        while next.len() < size {
            let a = self.tournament();
            let b = self.tournament();
            let mut child = self.population[a].clone();
            if self.rng.random::<f64>() < crossover_rate {
                for (j, c) in child.iter_mut().enumerate().take(n) {
                    let (pa, pb) = (self.population[a][j], self.population[b][j]);
                    let u = -alpha + (1.0 + 2.0 * alpha) * self.rng.random::<f64>();
                    *c = pa + u * (pb - pa);
                }
            }
            for c in &mut child {
                if self.rng.random::<f64>() < mutation_rate {
                    *c += sigma * normal(&mut self.rng);
                }
            }
            next_fit.push(fitness_of(oracle, &child));
            next.push(child);
        }
        self.population = next;
        self.fitness = next_fit;
        self.generation += 1;
        if let Some(i) = self.best() {
            params.copy_from_slice(&self.population[i]);
        }
        StepInfo {
            loss: before,
            grad_norm: None,
        }
    }
    fn state(&self) -> Vec<StateVector> {
        let mut v = named_buffers([
            ("fitness", &self.fitness),
            ("generation", &[self.generation as f64]),
        ]);
        // per-gene spread of the population: how far the search still reaches
        if let Some(first) = self.population.first() {
            let m = self.population.len() as f64;
            let spread: Vec<f64> = (0..first.len())
                .map(|j| {
                    let mean = self.population.iter().map(|x| x[j]).sum::<f64>() / m;
                    (self
                        .population
                        .iter()
                        .map(|x| (x[j] - mean).powi(2))
                        .sum::<f64>()
                        / m)
                        .sqrt()
                })
                .collect();
            v.push(StateVector::new("population_std", &spread));
        }
        v
    }
    fn reset(&mut self) {
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        self.population.clear();
        self.fitness.clear();
        self.generation = 0;
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
        let mut opt = build("genetic", &[], 42, 2).expect("builds");
        let mut x = vec![0.0, 0.0];
        let mut last = f64::INFINITY;
        for _ in 0..200 {
            let info = opt.step(&mut x, &mut o);
            assert!(info.loss <= last, "elitism keeps the best");
            last = info.loss;
        }
        assert!(near_himmelblau_minimum(&x, 0.1), "{x:?}");
        assert!(o.calls >= 200 * 48);
    }

    #[test]
    fn same_seed_same_run_different_seed_different_run() {
        let run = |seed| {
            let mut o = himmelblau();
            let mut opt = build("genetic", &[], seed, 2).expect("builds");
            let mut x = vec![0.0, 0.0];
            for _ in 0..5 {
                opt.step(&mut x, &mut o);
            }
            x
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
