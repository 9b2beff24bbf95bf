//! The noise panel's state: the newest gradient-noise figures of the selected run, computed off
//! the step path. Per-example gradients cost one reverse pass per training example, so they run
//! on a thread of their own, at most one job at a time and at most every [`NOISE_INTERVAL`];
//! the frame loop only collects finished jobs. Snapshot tests (deterministic) compute in place.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::generate::shuffle;
use crate::objective::{NoiseStats, PerExample};
use crate::session::{NoiseReport, Session};

/// How often the figures may be recomputed while the run moves.
pub const NOISE_INTERVAL: Duration = Duration::from_millis(300);
/// Largest training examples × parameters worth computing (a few hundred milliseconds).
pub const NOISE_BUDGET: usize = 20_000_000;
/// Cosines kept for the sparkline.
const HISTORY: usize = 512;
/// Other minibatches of the same size whose gradients the landscape shows as a cloud.
const CLOUD: usize = 24;

/// A job in flight: which run, at which step, and where its answer arrives.
struct Pending {
    run: usize,
    step: u64,
    params: Vec<f64>,
    answer: Receiver<Option<NoiseReport>>,
}

/// The figures shown and the cosine history of the run they belong to.
#[derive(Default)]
pub struct NoisePanel {
    pub run: usize,
    /// The step the figures were computed at.
    pub step: u64,
    pub stats: Option<NoiseStats>,
    /// Wall time of the last job's per-example gradients.
    pub nanos: f64,
    /// cos(g_B, G) at each step computed (oldest first); restarts with another run or a reset.
    pub cosines: Vec<f64>,
    /// The point the figures belong to, and G and g_B there (for the landscape's arrows).
    pub point: Vec<f64>,
    pub full_gradient: Vec<f64>,
    pub minibatch_gradient: Vec<f64>,
    /// Gradients of [`CLOUD`] other batches of the same size at the same point, drawn
    /// without replacement from a stream seeded by the step (the possible g_B around G).
    pub cloud: Vec<Vec<f64>>,
    /// Why there are no figures, when there are none.
    pub message: &'static str,
    /// Parameters of the last request, so a paused run is not recomputed.
    requested_at: Vec<f64>,
    requested: Option<Instant>,
    pending: Option<Pending>,
}

impl NoisePanel {
    /// Collects a finished job and starts a new one when the selected run moved (throttled;
    /// synchronous when `deterministic`).
    pub fn tick(&mut self, session: &Session, selected: usize, deterministic: bool) {
        if let Some(p) = &self.pending {
            match p.answer.try_recv() {
                Ok(report) => {
                    let (run, step, params) = (p.run, p.step, p.params.clone());
                    self.pending = None;
                    self.accept(run, step, params, report);
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => self.pending = None,
            }
        }
        let Some(run) = session.runs().get(selected) else {
            return;
        };
        if self.run != selected || run.steps() < self.step {
            // Another run, or this one was reset or rewound: its history starts again.
            *self = Self {
                run: selected,
                ..Self::default()
            };
        }
        if self.requested.is_some() && self.requested_at == run.params() {
            return;
        }
        let throttled = self.requested.is_some_and(|t| t.elapsed() < NOISE_INTERVAL);
        if throttled && !deterministic {
            return;
        }
        let Some(job) = run.noise_job(NOISE_BUDGET) else {
            self.stats = None;
            self.message = if session.objective().n_train().is_some() {
                "too many examples x parameters to compute per-example gradients here"
            } else {
                "expressions have no training examples: the noise panel is for models"
            };
            return;
        };
        self.message = "computing per-example gradients...";
        self.requested_at = run.params().to_vec();
        self.requested = Some(Instant::now());
        let step = run.steps();
        if deterministic {
            self.accept(selected, step, run.params().to_vec(), job.compute());
            return;
        }
        let (tx, answer) = mpsc::channel();
        std::thread::spawn(move || {
            // The receiver may be gone (another scenario loaded): nothing to do then.
            let _ = tx.send(job.compute());
        });
        self.pending = Some(Pending {
            run: selected,
            step,
            params: run.params().to_vec(),
            answer,
        });
    }

    fn accept(&mut self, run: usize, step: u64, point: Vec<f64>, report: Option<NoiseReport>) {
        if run != self.run {
            return;
        }
        let Some(r) = report else {
            self.stats = None;
            self.point.clear();
            self.message = "no per-example gradients for this objective";
            return;
        };
        if self.cosines.is_empty() || step > self.step {
            self.cosines.push(r.stats.cosine.unwrap_or(0.0));
            if self.cosines.len() > HISTORY {
                self.cosines.drain(..self.cosines.len() - HISTORY);
            }
        }
        self.step = step;
        self.stats = Some(r.stats);
        self.nanos = r.nanos as f64;
        self.point = point;
        self.full_gradient = r.full_gradient;
        self.minibatch_gradient = r.minibatch_gradient;
        self.cloud = cloud(&r.per_example, r.batch.len(), step);
    }
}

/// Gradients of [`CLOUD`] random batches of `b` examples (none for a full batch: every draw
/// would be G itself).
fn cloud(per: &PerExample, b: usize, seed: u64) -> Vec<Vec<f64>> {
    if b == 0 || b >= per.n {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..per.n).collect();
    (0..CLOUD)
        .map(|_| {
            shuffle(&mut order, &mut rng);
            per.mean_of(order[..b].iter().copied())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_holds_means_of_distinct_examples_and_is_seeded() {
        let per = PerExample {
            n: 5,
            dim: 1,
            grads: vec![0.0, 1.0, 2.0, 3.0, 4.0],
        };
        let c = cloud(&per, 2, 9);
        assert_eq!(c.len(), CLOUD);
        // The mean of two distinct values of 0..=4: a half-integer multiple in 0.5..=3.5.
        for g in &c {
            let twice = g[0] * 2.0;
            assert!(
                twice.fract() == 0.0 && (1.0..=7.0).contains(&twice),
                "{g:?}"
            );
        }
        assert_eq!(c, cloud(&per, 2, 9));
        assert_ne!(c, cloud(&per, 2, 10));
        assert!(cloud(&per, 5, 9).is_empty(), "a full batch is G itself");
    }
}
