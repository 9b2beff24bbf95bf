//! One run: one optimizer on one objective, with its parameters, optimizer state, history,
//! status and evaluation counts, and snapshots that make rewinding exact.

use crate::ad::Engine;
use crate::objective::{Counts, Evaluator, Metrics, Objective, Scratch};
use crate::optim::{self, HyperValue, Optimizer, Oracle};

use super::history::{History, Point};
use super::stop::{Progress, Status, StopConfig};

/// How a run is built: what a scenario's optimizer entry says.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub label: String,
    /// Registry name of the optimizer.
    pub optimizer: String,
    pub hyperparameters: Vec<(String, HyperValue)>,
    pub schedule: Option<optim::schedule::Schedule>,
    pub clip: Option<optim::clip::GradClip>,
}

impl RunSpec {
    /// A spec with the optimizer's defaults, labelled by its name.
    #[must_use]
    pub fn new(optimizer: &str) -> Self {
        Self {
            label: optimizer.to_string(),
            optimizer: optimizer.to_string(),
            hyperparameters: Vec::new(),
            schedule: None,
            clip: None,
        }
    }
}

/// Everything needed to resume a run from a given step bit for bit.
struct Snapshot {
    steps: u64,
    params: Vec<f64>,
    optimizer: Box<dyn Optimizer>,
    objective: Box<dyn Objective>,
    schedule: Option<optim::schedule::Scheduler>,
    counts: Counts,
    status: Status,
    best_loss: f64,
    steps_since_best: u64,
    last_loss: f64,
    last_grad_norm: Option<f64>,
    max_engine_diff: f64,
}

/// Steps between snapshots kept for rewinding.
const SNAPSHOT_EVERY: u64 = 32;
/// Snapshots kept; beyond this the older half is thinned.
const MAX_SNAPSHOTS: usize = 64;

/// One optimizer on one objective.
pub struct Run {
    pub spec: RunSpec,
    optimizer: Box<dyn Optimizer>,
    objective: Box<dyn Objective>,
    schedule: Option<optim::schedule::Scheduler>,
    engine: Engine,
    stop: StopConfig,
    seed: u64,
    start: Vec<f64>,
    params: Vec<f64>,
    counts: Counts,
    scratch: Scratch,
    history: History,
    status: Status,
    steps: u64,
    best_loss: f64,
    steps_since_best: u64,
    last_loss: f64,
    last_grad_norm: Option<f64>,
    max_engine_diff: f64,
    snapshots: Vec<Snapshot>,
    grad_buf: Vec<f64>,
    /// Wall time spent stepping, nanoseconds (reports only; never feeds back into the run).
    wall_nanos: u64,
}

impl Run {
    /// Builds a run from its spec; fails on an unknown optimizer or a bad hyperparameter.
    pub fn new(
        spec: RunSpec,
        objective: Box<dyn Objective>,
        engine: Engine,
        stop: StopConfig,
        seed: u64,
        start: Vec<f64>,
    ) -> Result<Self, optim::OptimError> {
        let optimizer = optim::registry::build(
            &spec.optimizer,
            &spec.hyperparameters,
            seed,
            objective.dim(),
        )?;
        let schedule = spec
            .schedule
            .clone()
            .map(|s| optim::schedule::Scheduler::new(s, optimizer.lr()));
        let mut run = Self {
            spec,
            optimizer,
            objective,
            schedule,
            engine,
            stop,
            seed,
            params: start.clone(),
            start,
            counts: Counts::default(),
            scratch: Scratch::default(),
            history: History::new(super::history::DEFAULT_CAPACITY),
            status: Status::Running,
            steps: 0,
            best_loss: f64::INFINITY,
            steps_since_best: 0,
            last_loss: f64::NAN,
            last_grad_norm: None,
            max_engine_diff: 0.0,
            snapshots: Vec::new(),
            grad_buf: Vec::new(),
            wall_nanos: 0,
        };
        run.restart_from(run.start.clone());
        Ok(run)
    }

    /// The scheduler for the spec's schedule, based at the optimizer's current lr.
    fn build_scheduler(&self) -> Option<optim::schedule::Scheduler> {
        let base = self.spec.schedule.clone()?;
        let base_lr = self
            .spec
            .hyperparameters
            .iter()
            .find(|(n, _)| n == "lr")
            .and_then(|(_, v)| match v {
                HyperValue::Float(x) => Some(*x),
                _ => None,
            })
            .unwrap_or_else(|| self.optimizer.lr());
        Some(optim::schedule::Scheduler::new(base, base_lr))
    }

    /// Forgets everything and starts again from `start` (keeps the optimizer's hyperparameters).
    pub fn restart_from(&mut self, start: Vec<f64>) {
        self.optimizer.reset();
        self.objective.reset_batches();
        self.schedule = self.build_scheduler();
        self.start = start.clone();
        self.params = start;
        self.counts = Counts::default();
        self.history.clear();
        self.status = Status::Running;
        self.steps = 0;
        self.steps_since_best = 0;
        self.last_grad_norm = None;
        self.max_engine_diff = 0.0;
        self.snapshots.clear();
        self.wall_nanos = 0;
        let loss = self.objective.value(&self.params);
        self.last_loss = loss;
        self.best_loss = if loss.is_nan() { f64::INFINITY } else { loss };
        self.sample_engine_difference();
        self.history.push(Point {
            step: 0,
            evaluations: 0,
            loss,
            params: self.params.clone(),
        });
        if !loss.is_finite() || self.params.iter().any(|p| !p.is_finite()) {
            self.status = Status::Diverged("loss not finite at the start".into());
        }
        self.snapshot();
    }

    /// Performs one optimizer step unless the run has ended. Returns true if a step was taken.
    pub fn step(&mut self) -> bool {
        if !self.status.is_running() {
            return false;
        }
        let started = std::time::Instant::now();
        self.step_inner();
        self.wall_nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        true
    }

    fn step_inner(&mut self) {
        self.objective.next_batch();
        if let Some(schedule) = &self.schedule {
            schedule.apply(self.optimizer.as_mut());
        }
        let info = {
            let mut evaluator = Evaluator {
                objective: self.objective.as_ref(),
                engine: self.engine,
                scratch: &mut self.scratch,
                counts: &mut self.counts,
            };
            match &self.spec.clip {
                Some(clip) => {
                    let mut clipped = optim::clip::ClippedOracle::new(&mut evaluator, *clip);
                    self.optimizer.step(&mut self.params, &mut clipped)
                }
                None => self
                    .optimizer
                    .step(&mut self.params, &mut evaluator as &mut dyn Oracle),
            }
        };
        self.steps += 1;
        // Stochastic objectives report the minibatch loss the optimizer saw (what PyTorch users
        // log); deterministic ones the loss at the new parameters.
        let loss = if self.objective.is_stochastic() {
            info.loss
        } else {
            self.objective.value(&self.params)
        };
        if let Some(schedule) = &mut self.schedule {
            schedule.step(loss);
        }
        self.last_loss = loss;
        self.last_grad_norm = info.grad_norm;
        if loss < self.best_loss - self.stop.min_delta {
            self.steps_since_best = 0;
        } else {
            self.steps_since_best += 1;
        }
        if loss < self.best_loss {
            self.best_loss = loss;
        }
        if self.steps.is_power_of_two() {
            self.sample_engine_difference();
        }
        self.history.push(Point {
            step: self.steps,
            evaluations: self.evaluations(),
            loss,
            params: self.params.clone(),
        });
        self.status = self.stop.check(&Progress {
            steps: self.steps,
            evaluations: self.evaluations(),
            loss,
            grad_norm: info.grad_norm,
            params_finite: self.params.iter().all(|p| p.is_finite()),
            steps_since_best: self.steps_since_best,
        });
        if self.steps % SNAPSHOT_EVERY == 0 {
            self.snapshot();
        }
    }

    /// Wall time spent stepping this run, in seconds.
    #[must_use]
    pub fn wall_seconds(&self) -> f64 {
        self.wall_nanos as f64 * 1e-9
    }

    /// Largest |forward - reverse| over the gradient at the current point; sampled at steps
    /// 0, 1, 2, 4, 8, ... so the check costs O(log steps). Not counted as evaluations.
    fn sample_engine_difference(&mut self) {
        let n = self.params.len();
        let mut fwd = vec![0.0; n];
        self.grad_buf.resize(n, 0.0);
        self.objective.gradient(
            Engine::Forward {
                chunk: crate::ad::DEFAULT_CHUNK,
            },
            &self.params,
            &mut fwd,
            &mut self.scratch,
        );
        self.objective.gradient(
            Engine::Reverse,
            &self.params,
            &mut self.grad_buf,
            &mut self.scratch,
        );
        let diff = fwd
            .iter()
            .zip(&self.grad_buf)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        self.max_engine_diff = self.max_engine_diff.max(diff);
    }

    fn snapshot(&mut self) {
        if self.snapshots.last().is_some_and(|s| s.steps == self.steps) {
            return;
        }
        self.snapshots.push(Snapshot {
            steps: self.steps,
            params: self.params.clone(),
            optimizer: self.optimizer.box_clone(),
            objective: self.objective.box_clone(),
            schedule: self.schedule.clone(),
            counts: self.counts,
            status: self.status.clone(),
            best_loss: self.best_loss,
            steps_since_best: self.steps_since_best,
            last_loss: self.last_loss,
            last_grad_norm: self.last_grad_norm,
            max_engine_diff: self.max_engine_diff,
        });
        if self.snapshots.len() > MAX_SNAPSHOTS {
            // Keep the first (the start) and every other one after it.
            let mut i = 0;
            self.snapshots.retain(|_| {
                i += 1;
                i == 1 || i % 2 == 0
            });
        }
    }

    /// Rewinds `k` steps: restores the nearest snapshot at or before the target step and replays
    /// from it, so the trajectory is reproduced bit for bit. Returns the step now current.
    pub fn rewind(&mut self, k: u64) -> u64 {
        let target = self.steps.saturating_sub(k);
        let Some(index) = self.snapshots.iter().rposition(|s| s.steps <= target) else {
            return self.steps;
        };
        self.snapshots.truncate(index + 1);
        let s = &self.snapshots[index];
        self.steps = s.steps;
        self.params.clone_from(&s.params);
        self.optimizer = s.optimizer.box_clone();
        self.objective = s.objective.box_clone();
        self.schedule.clone_from(&s.schedule);
        self.counts = s.counts;
        self.status = s.status.clone();
        self.best_loss = s.best_loss;
        self.steps_since_best = s.steps_since_best;
        self.last_loss = s.last_loss;
        self.last_grad_norm = s.last_grad_norm;
        self.max_engine_diff = s.max_engine_diff;
        self.history.truncate_after(self.steps);
        // Replaying must not stop early on a condition that was met later: stop conditions only
        // depend on state at each step, so replaying reaches `target` exactly as before.
        while self.steps < target && self.step() {}
        self.steps
    }

    /// Changes a hyperparameter mid-run (validated by the optimizer's registry ranges).
    pub fn set_hyperparameter(
        &mut self,
        name: &str,
        value: HyperValue,
    ) -> Result<(), optim::OptimError> {
        self.optimizer.set_hyperparameter(name, value)?;
        if let Some(entry) = self
            .spec
            .hyperparameters
            .iter_mut()
            .find(|(n, _)| n == name)
        {
            entry.1 = value;
        } else {
            self.spec.hyperparameters.push((name.to_string(), value));
        }
        if name == "lr"
            && let (Some(schedule), HyperValue::Float(lr)) = (&mut self.schedule, value)
        {
            schedule.set_base_lr(lr);
        }
        // Old snapshots hold the old value; rewinding past this point replays with it, which is
        // exactly what happened, so they stay valid.
        Ok(())
    }

    pub fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
    }

    #[must_use]
    pub fn label(&self) -> &str {
        &self.spec.label
    }
    #[must_use]
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }
    #[must_use]
    pub fn objective(&self) -> &dyn Objective {
        self.objective.as_ref()
    }
    #[must_use]
    pub fn params(&self) -> &[f64] {
        &self.params
    }
    #[must_use]
    pub fn start(&self) -> &[f64] {
        &self.start
    }
    #[must_use]
    pub fn status(&self) -> &Status {
        &self.status
    }
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.steps
    }
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.objective.epoch()
    }
    #[must_use]
    pub fn counts(&self) -> &Counts {
        &self.counts
    }
    /// Oracle evaluations of every kind.
    #[must_use]
    pub fn evaluations(&self) -> u64 {
        self.counts.value + self.counts.gradient + self.counts.hessian
    }
    #[must_use]
    pub fn history(&self) -> &History {
        &self.history
    }
    #[must_use]
    pub fn loss(&self) -> f64 {
        self.last_loss
    }
    #[must_use]
    pub fn best_loss(&self) -> f64 {
        self.best_loss
    }
    #[must_use]
    pub fn grad_norm(&self) -> Option<f64> {
        self.last_grad_norm
    }
    #[must_use]
    pub fn engine(&self) -> Engine {
        self.engine
    }
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Largest forward-vs-reverse gradient difference seen at the sampled steps.
    #[must_use]
    pub fn max_engine_diff(&self) -> f64 {
        self.max_engine_diff
    }
    /// Full-data metrics at the current parameters (not counted as evaluations).
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.objective.metrics(&self.params)
    }
    #[must_use]
    pub fn stop_config(&self) -> &StopConfig {
        &self.stop
    }
    pub fn set_stop_config(&mut self, stop: StopConfig) {
        self.stop = stop;
    }
}
