//! One run: one optimizer on one objective, with its parameters, optimizer state, history,
//! status and evaluation counts, and snapshots that make rewinding exact.

use serde::Deserialize;

use crate::ad::Engine;
use crate::data::Batching;
use crate::objective::{
    CachedEvaluator, Counts, Evaluator, Metrics, NoiseStats, Objective, PerExample, Prefetch,
    Scratch, noise,
};
use crate::optim::{self, HyperValue, Optimizer, Oracle};
use crate::valid::{Problems, Validate};

use super::history::{History, Point};
use super::stop::{Progress, Status, StopConfig};
use crate::backprop::flow::{FlowHistory, FlowRecorder, RECORD_POINTS};
use crate::backprop::network::Network;

/// How a run is built: what a scenario's optimizer entry says. Its keys are the fields below
/// (`name` for the optimizer); every other key of the entry is a hyperparameter, read by the
/// scenario loader against the registry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The run's name (a file's default: the optimizer's, then `adam-2`, `adam-3`, ...).
    #[serde(default)]
    pub label: String,
    /// Registry name of the optimizer.
    #[serde(rename = "name")]
    pub optimizer: String,
    #[serde(skip)]
    pub hyperparameters: Vec<(String, HyperValue)>,
    #[serde(default)]
    pub schedule: Option<optim::schedule::Schedule>,
    #[serde(default)]
    pub clip: Option<optim::clip::GradClip>,
    /// Parameter averaging (EMA or SWA), drawn and reported beside the run's parameters.
    #[serde(default)]
    pub average: Option<optim::averaging::Averaging>,
    /// The run's own gradient engine (`engine:` in its entry); `None` uses the scenario's.
    #[serde(skip)]
    pub engine: Option<Engine>,
    /// Examples per minibatch for this run (model objectives), overriding the objective's.
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Reshuffle every epoch (default: the objective's, itself `true`).
    #[serde(default)]
    pub shuffle: Option<bool>,
    /// Drop each epoch's last, partial batch (default: the objective's, itself `false`).
    #[serde(default)]
    pub drop_last: Option<bool>,
}

impl Validate for RunSpec {
    fn validate(&self, p: &mut Problems) {
        if let Some(s) = &self.schedule {
            p.within("schedule", |p| s.validate(p));
            // torch refuses momentum cycling on an optimizer with neither momentum nor betas
            if s.cycles_momentum()
                && let Some(spec) = optim::registry::spec(&self.optimizer)
                && !spec
                    .hypers()
                    .iter()
                    .any(|h| h.name == "momentum" || h.name == "betas")
            {
                let e = optim::schedule::ScheduleError::NoMomentum {
                    kind: s.kind(),
                    optimizer: spec.name,
                };
                p.within("schedule", |p| {
                    p.push(
                        "",
                        e.to_string(),
                        Some(
                            "cycle_momentum: false, or an optimizer with momentum or betas".into(),
                        ),
                    );
                });
            }
        }
        if let Some(c) = &self.clip {
            p.within("clip", |p| c.validate(p));
        }
        if let Some(a) = &self.average {
            p.within("average", |p| a.validate(p));
        }
        // schedules and SWALR drive the learning rate, which some optimizers do not have
        let without_lr = optim::registry::spec(&self.optimizer)
            .filter(|spec| spec.lr_name().is_none())
            .map(|spec| spec.name);
        if let Some(optimizer) = without_lr {
            let e = optim::OptimError::NoLearningRate { optimizer };
            let hint = "an optimizer with a learning rate (lr, or sigma/radius for the \
                        gradient-free methods)";
            if let Some(s) = &self.schedule {
                p.push(
                    "schedule",
                    format!("schedule '{}' drives the learning rate, and {e}", s.kind()),
                    Some(hint.into()),
                );
            }
            if self
                .average
                .as_ref()
                .is_some_and(optim::averaging::Averaging::drives_lr)
            {
                p.push(
                    "average.swa_lr",
                    format!("SWALR sets the learning rate, and {e}"),
                    Some(format!("swa without swa_lr, or {hint}")),
                );
            }
        }
    }
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
            average: None,
            engine: None,
            batch_size: None,
            shuffle: None,
            drop_last: None,
        }
    }

    /// True for the optimizer that means full-batch gradient descent (`gd`): it never takes the
    /// objective's minibatch size, and a file may not give it a smaller one.
    #[must_use]
    pub fn is_full_batch(&self) -> bool {
        self.optimizer == FULL_BATCH_OPTIMIZER
    }

    /// This run's batching: its own keys over the objective's `default`s (`gd` is full batch
    /// unless it says otherwise).
    #[must_use]
    pub fn batching(&self, default: Batching) -> Batching {
        let inherited = if self.is_full_batch() {
            None
        } else {
            default.batch_size
        };
        Batching {
            batch_size: self.batch_size.or(inherited),
            shuffle: self.shuffle.unwrap_or(default.shuffle),
            drop_last: self.drop_last.unwrap_or(default.drop_last),
        }
    }
}

/// The registry name that means full-batch gradient descent.
pub const FULL_BATCH_OPTIMIZER: &str = "gd";

/// Everything needed to resume a run from a given step bit for bit.
struct Snapshot {
    steps: u64,
    params: Vec<f64>,
    optimizer: Box<dyn Optimizer>,
    objective: Box<dyn Objective>,
    schedule: Option<optim::schedule::Scheduler>,
    average: Option<optim::averaging::Averager>,
    counts: Counts,
    status: Status,
    best_loss: f64,
    steps_since_best: u64,
    last_loss: f64,
    last_grad_norm: Option<f64>,
    max_engine_diff: f64,
    engine_samples: u64,
    check_budget: CheckBudget,
}

/// What the engine check of a model objective, and the full and test losses recorded with the
/// points, have cost so far against what the steps have, in examples of a reverse-mode step
/// (see [`Run::sample_engine_difference`] and [`Run::full_and_test_loss`]).
#[derive(Debug, Clone, Copy, Default)]
struct CheckBudget {
    stepped: u64,
    spent: u64,
    reported: u64,
}

/// Examples of the current batch a model's engine check evaluates.
const CHECK_EXAMPLES: usize = 4;
/// What one example of the check costs, in examples of a reverse-mode training step: the check
/// carries eight tangents through the model in forward mode and takes a reverse gradient, both
/// on a handful of examples, so per-call work (packing the weights for the products) weighs
/// more than in a step. Profiled at about 70 on 2-64-64-1 and 100 on 2-256-256-1
/// (BENCHMARKS.md, section 10.4); taken higher so that the 5 % budget holds.
const CHECK_EXAMPLE_COST: u64 = 128;
/// The share of a run's work the engine check may take: one part in 20 (5 %).
const CHECK_SHARE: u64 = 20;

/// A minibatch run evaluates its full training loss every step while the dataset times the
/// parameters stays below this (a few hundred microseconds a step, what the teaching
/// scenarios need for a smooth curve), else within [`FULL_LOSS_SHARE`] of the run's work.
const FULL_LOSS_EVERY_STEP: usize = 200_000;
/// What one example of a full or test loss costs, in examples of a reverse-mode training step:
/// the metrics run the plain `f64` forward pass one example at a time, measured at about 1.5
/// training examples on 2-64-64-1 (BENCHMARKS.md, section 10.8); taken at 2 so the share
/// holds.
const FULL_LOSS_EXAMPLE_COST: u64 = 2;
/// The share of a run's work the recorded full and test losses may take on a large problem:
/// one part in 20 (5 %). Budgeted in examples, not in time, so the points that carry them are
/// the same in every run of a scenario.
const FULL_LOSS_SHARE: u64 = 20;
/// Per-example gradients cost `n` reverse passes: [`Run::initial_noise`] and
/// [`Run::gradient_noise`] compute them only while examples times parameters stays below this.
const NOISE_BUDGET: usize = 20_000_000;

/// Per-example gradients at a run's point with the batch its figures compare against: owned,
/// so a front end can compute them on another thread, off the step path.
pub struct NoiseJob {
    objective: Box<dyn Objective>,
    params: Vec<f64>,
    batch: Vec<usize>,
}

/// What a [`NoiseJob`] found, and the wall time it took.
pub struct NoiseReport {
    pub stats: NoiseStats,
    pub per_example: PerExample,
    pub full_gradient: Vec<f64>,
    pub minibatch_gradient: Vec<f64>,
    pub batch: Vec<usize>,
    pub nanos: u64,
}

/// Bytes of per-example gradients [`NoiseJob::stats`] holds at once (16 MiB): beyond that it
/// computes them a chunk at a time.
const NOISE_CHUNK_BYTES: usize = 16 << 20;

impl NoiseJob {
    /// The figures alone, holding at most [`NOISE_CHUNK_BYTES`] of per-example gradients
    /// ([`noise::stats_streamed`]: the same figures bit for bit as [`compute`](Self::compute)'s,
    /// for at most twice the gradients). For the headless report, which needs nothing else: a
    /// 2-256-256-1 network on 200 examples otherwise held 106 MB of them at the end of a run.
    #[must_use]
    pub fn stats(self) -> Option<NoiseStats> {
        let n = self.objective.n_train()?;
        let chunk = NOISE_CHUNK_BYTES / 8 / self.params.len().max(1);
        if n <= chunk {
            return self.compute().map(|r| r.stats);
        }
        let Self {
            objective,
            params,
            batch,
        } = self;
        noise::stats_streamed(n, &batch, chunk, |indices| {
            objective.per_example_gradients_of(&params, indices)
        })
    }

    /// The per-example gradients and their figures; `None` without data.
    #[must_use]
    pub fn compute(self) -> Option<NoiseReport> {
        let started = std::time::Instant::now();
        let per_example = self.objective.per_example_gradients(&self.params)?;
        let stats = noise::stats(&per_example, &self.batch);
        let full_gradient = per_example.mean();
        let minibatch_gradient = per_example.mean_of(self.batch.iter().copied());
        Some(NoiseReport {
            stats,
            full_gradient,
            minibatch_gradient,
            per_example,
            batch: self.batch,
            nanos: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
        })
    }
}

/// Steps between snapshots kept for rewinding.
const SNAPSHOT_EVERY: u64 = 32;
/// Snapshots kept at most; beyond this (or [`SNAPSHOT_BUDGET`]) they are thinned to every
/// other one, so rewinding replays from further back but stays exact.
const MAX_SNAPSHOTS: usize = 64;
/// Bytes of snapshots (parameters and optimizer state) a run keeps at most, 32 MiB; with the
/// history's [`PARAM_BUDGET`](super::history::PARAM_BUDGET) a run holds at most 64 MiB of
/// copies whatever its parameter count, up to 524,288 parameters with Adam (32 bytes each a
/// snapshot): beyond
/// that two snapshots (the start and the latest, needed for exact rewind) are kept anyway,
/// and the history keeps no parameter copy once one is larger than its budget.
const SNAPSHOT_BUDGET: usize = 32 << 20;

/// One optimizer on one objective.
pub struct Run {
    pub spec: RunSpec,
    optimizer: Box<dyn Optimizer>,
    objective: Box<dyn Objective>,
    schedule: Option<optim::schedule::Scheduler>,
    average: Option<optim::averaging::Averager>,
    /// The learning rate the run was built with or last given (η₀ of its schedule), which a
    /// restart puts back after a schedule or SWALR moved it. 1 for optimizers without one.
    base_lr: f64,
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
    /// Forward-vs-reverse checks made so far (picks the next window of coordinates).
    engine_samples: u64,
    check_budget: CheckBudget,
    /// Value and gradient at the current parameters of a deterministic objective, computed for
    /// the reported loss and kept for the next step's first gradient request. Depends on the
    /// parameters, the engine and the batch: cleared whenever one of them changes.
    prefetch: Prefetch,
    /// False once a prefetched gradient went unused (Newton, the gradient-free methods,
    /// Levenberg–Marquardt): from then on the run reports losses by a plain value evaluation,
    /// which costs less than a gradient.
    prefetching: bool,
    /// The parameters before the latest step (`None` at the start), for the update ratio
    /// `|ΔW| / |W|` of the gradient-flow figures.
    previous_params: Option<Vec<f64>>,
    /// Per-layer gradient-flow figures over the steps, recorded as the run steps when asked
    /// for ([`Run::track_flow`]) and the objective is a layered model.
    flow: Option<FlowRecorder>,
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
        let optimizer = optim::registry::build_for(
            &spec.optimizer,
            &spec.hyperparameters,
            seed,
            &objective.param_layout(),
        )?;
        let schedule = spec
            .schedule
            .clone()
            .map(|s| {
                if let Some((_, total, steps)) = s.past_total_steps(stop.max_steps) {
                    return Err(optim::schedule::ScheduleError::PastTotalSteps { total, steps });
                }
                optim::schedule::Scheduler::for_optimizer(s, optimizer.lr(), &*optimizer)
            })
            .transpose()?;
        if spec
            .average
            .as_ref()
            .is_some_and(optim::averaging::Averaging::drives_lr)
            && optimizer.lr_name().is_none()
        {
            return Err(optim::OptimError::NoLearningRate {
                optimizer: optimizer.name(),
            });
        }
        let base_lr = optimizer.lr();
        let history = History::with_budget(
            super::history::DEFAULT_CAPACITY,
            start.len(),
            super::history::PARAM_BUDGET,
        );
        let mut run = Self {
            spec,
            optimizer,
            objective,
            schedule,
            average: None,
            base_lr,
            engine,
            stop,
            seed,
            params: start.clone(),
            start,
            counts: Counts::default(),
            scratch: Scratch::default(),
            history,
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
            engine_samples: 0,
            check_budget: CheckBudget::default(),
            prefetch: Prefetch::default(),
            prefetching: true,
            previous_params: None,
            flow: None,
        };
        run.restart_from(run.start.clone());
        Ok(run)
    }

    /// The scheduler for the spec's schedule, based at the run's learning rate.
    fn build_scheduler(&self) -> Option<optim::schedule::Scheduler> {
        let base = self.spec.schedule.clone()?;
        // `Run::new` built this schedule on this optimizer, so it builds again
        optim::schedule::Scheduler::for_optimizer(base, self.base_lr, self.optimizer.as_ref()).ok()
    }

    /// Forgets everything and starts again from `start` (keeps the optimizer's hyperparameters).
    pub fn restart_from(&mut self, start: Vec<f64>) {
        self.optimizer.reset();
        if self.optimizer.lr_name().is_some() {
            // a schedule or SWALR may have moved it
            self.optimizer.set_lr(self.base_lr);
        }
        self.objective.reset_batches();
        self.schedule = self.build_scheduler();
        self.average = self
            .spec
            .average
            .clone()
            .map(optim::averaging::Averager::new);
        // SWALR, built after the schedule, may set the lr in its constructor
        if let Some(lr) = self.average.as_ref().and_then(|a| a.initial_lr()) {
            match &mut self.schedule {
                Some(schedule) => schedule.set_lr(lr),
                None => self.optimizer.set_lr(lr),
            }
        }
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
        self.engine_samples = 0;
        self.check_budget = CheckBudget::default();
        self.prefetch.clear();
        self.previous_params = None;
        let loss = self.loss_at_params();
        self.last_loss = loss;
        self.best_loss = if loss.is_nan() { f64::INFINITY } else { loss };
        if loss.is_finite() && self.objective.batch_examples().is_none() {
            self.sample_engine_difference();
        }
        let test_loss = self.test_loss_if_any();
        let start = Point {
            // The start is evaluated on the whole training set whatever the batch size.
            full_loss: Some(loss),
            test_loss,
            ..Point::at(0, 0, loss)
        };
        self.history.record(start, &self.params);
        if !loss.is_finite() || self.params.iter().any(|p| !p.is_finite()) {
            self.status = Status::Diverged("loss not finite at the start".into());
        }
        self.snapshot();
        if self.flow.is_some() {
            self.flow = None;
            self.track_flow(true);
        }
    }

    /// Starts (or stops) recording the per-layer gradient flow at every sampled step, from
    /// the current point on. Only layered models have one; for others this does nothing.
    pub fn track_flow(&mut self, on: bool) {
        if !on {
            self.flow = None;
            return;
        }
        if self.flow.is_some() {
            return;
        }
        let Some(parts) = self.objective.layered() else {
            return;
        };
        let net = Network::new(parts);
        let mut recorder = FlowRecorder::new(&net, RECORD_POINTS);
        recorder.record(
            &net,
            self.steps,
            &self.params,
            self.previous_params.as_deref(),
        );
        self.flow = Some(recorder);
    }

    /// The recorded per-layer gradient flow, when tracked.
    #[must_use]
    pub fn flow(&self) -> Option<&FlowHistory> {
        self.flow.as_ref().map(FlowRecorder::history)
    }

    /// Records this step's gradient flow when it is tracked and the step is sampled.
    fn record_flow(&mut self) {
        let (Some(recorder), Some(parts)) = (&mut self.flow, self.objective.layered()) else {
            return;
        };
        recorder.record(
            &Network::new(parts),
            self.steps,
            &self.params,
            self.previous_params.as_deref(),
        );
    }

    /// Performs one optimizer step unless the run has ended. Returns true if a step was taken.
    pub fn step(&mut self) -> bool {
        if !self.status.is_running() {
            return false;
        }
        let started = std::time::Instant::now();
        self.step_inner();
        self.wall_nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // Outside the timed part: the flow figures are an observation, not the method's cost.
        self.record_flow();
        true
    }

    fn step_inner(&mut self) {
        self.objective.next_batch();
        // once SWALR has taken over, the lr it set stays in force
        let swalr = self
            .average
            .as_ref()
            .is_some_and(|a| a.swa_lr_active(self.steps));
        if let (Some(schedule), false) = (&self.schedule, swalr) {
            schedule.apply(self.optimizer.as_mut());
        }
        if self.objective.is_stochastic() {
            // Each step sees a new minibatch, so nothing computed before it may be served
            // (`loss_at_params` never prefetches for these; this keeps it that way).
            self.prefetch.clear();
        }
        match &mut self.previous_params {
            Some(previous) => previous.clone_from(&self.params),
            None => self.previous_params = Some(self.params.clone()),
        }
        let info = {
            let mut evaluator = CachedEvaluator {
                evaluator: Evaluator {
                    objective: self.objective.as_ref(),
                    engine: self.engine,
                    scratch: &mut self.scratch,
                    counts: &mut self.counts,
                },
                cache: &mut self.prefetch,
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
        if self.prefetch.is_filled() && self.prefetch.served() == 0 {
            self.prefetching = false;
        }
        self.prefetch.clear();
        self.steps += 1;
        self.check_budget.stepped += self.objective.batch_examples().unwrap_or(0) as u64;
        // Stochastic objectives report the minibatch loss the optimizer saw (what PyTorch users
        // log); deterministic ones the loss at the new parameters.
        let loss = if self.objective.is_stochastic() {
            info.loss
        } else {
            self.loss_at_params()
        };
        // torch's SWA loop: after the optimizer step, update the average, then step SWALR
        // instead of the schedule once averaging has begun
        let swa_lr = match &mut self.average {
            Some(average) => {
                average.update(&self.params, self.steps);
                average.swa_lr_step(self.optimizer.lr(), self.steps)
            }
            None => None,
        };
        let mut past_end = None;
        match (swa_lr, &mut self.schedule) {
            (Some(lr), _) => self.optimizer.set_lr(lr),
            (None, Some(schedule)) => {
                // torch's OneCycleLR raises in this `scheduler.step()`: the run ends here
                past_end = schedule.would_raise();
                if past_end.is_none() {
                    schedule.step(loss);
                }
            }
            (None, None) => {}
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
        // Where the loss overflowed, the engines' gradients differ by their conventions for
        // infinities (a constant's zero tangent times an infinite value), not by a bug.
        if self.steps.is_power_of_two() && loss.is_finite() && self.check_affordable() {
            self.sample_engine_difference();
        }
        let (full_loss, test_loss) = self.full_and_test_loss(loss);
        let traced = self
            .optimizer
            .traced()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let point = Point {
            traced,
            passes: self.counts.passes,
            wall_seconds: self.wall_seconds(),
            examples: self.counts.examples,
            epoch: self.objective.epoch(),
            full_loss,
            test_loss,
            ..Point::at(self.steps, self.evaluations(), loss)
        };
        self.history.record(point, &self.params);
        self.status = self.stop.check(&Progress {
            steps: self.steps,
            evaluations: self.evaluations(),
            loss,
            grad_norm: info.grad_norm,
            params_finite: self.params.iter().all(|p| p.is_finite()),
            steps_since_best: self.steps_since_best,
        });
        if let (Some(total), true) = (past_end, self.status.is_running()) {
            self.status = Status::Stopped(format!(
                "onecycle schedule reached its total_steps ({total}); torch's OneCycleLR \
                 raises past it"
            ));
        }
        if self.steps % SNAPSHOT_EVERY == 0 {
            self.snapshot();
        }
    }

    /// The loss at the current parameters of a deterministic objective (uncounted, as a report).
    /// While prefetched gradients get used it is the engine's value, computed together with the
    /// gradient the next step will ask for; the engines compute the value with the same `f64`
    /// operations as `Objective::value`, so the loss is the same bit for bit.
    fn loss_at_params(&mut self) -> f64 {
        if !self.prefetching || self.objective.is_stochastic() {
            return self.objective.value(&self.params);
        }
        let mut evaluator = Evaluator {
            objective: self.objective.as_ref(),
            engine: self.engine,
            scratch: &mut self.scratch,
            counts: &mut self.counts,
        };
        evaluator.prefetch(&self.params, &mut self.prefetch)
    }

    /// The test loss at the current parameters when the objective holds a test split.
    fn test_loss_if_any(&self) -> Option<f64> {
        if self.objective.n_test() == 0 {
            return None;
        }
        self.objective.metrics(&self.params).test_loss
    }

    /// The full training loss and test loss to record with this step's point: a
    /// deterministic run's loss is already the full loss; a minibatch run (and a test set)
    /// is evaluated every step when that is cheap, else whenever the evaluation fits in
    /// [`FULL_LOSS_SHARE`] of the examples stepped so far (a 2-64-64-1 network on 10,000
    /// examples in batches of 64: every 6,250 steps).
    fn full_and_test_loss(&mut self, loss: f64) -> (Option<f64>, Option<f64>) {
        let Some(n) = self.objective.n_train() else {
            return (Some(loss), None);
        };
        let stochastic = self.objective.is_stochastic();
        let deterministic = Some(loss).filter(|_| !stochastic);
        let n_test = self.objective.n_test();
        if !stochastic && n_test == 0 {
            return (deterministic, None);
        }
        let cheap = (n + n_test).saturating_mul(self.params.len()) <= FULL_LOSS_EVERY_STEP;
        if !cheap {
            let cost = (n + n_test) as u64 * FULL_LOSS_EXAMPLE_COST;
            let budget = &mut self.check_budget;
            if (budget.reported + cost) * FULL_LOSS_SHARE > budget.stepped {
                return (deterministic, None);
            }
            budget.reported += cost;
        }
        let m = self.objective.metrics(&self.params);
        let full = if stochastic { m.train_loss } else { loss };
        (Some(full), m.test_loss)
    }

    /// Per-example gradients at the current parameters, to compute off the step path, with the
    /// batch of the last step (at the start, the batch the first step will take); `None`
    /// without data or when `n × dim` exceeds `budget`.
    #[must_use]
    pub fn noise_job(&self, budget: usize) -> Option<NoiseJob> {
        let n = self.objective.n_train()?;
        if n.saturating_mul(self.params.len()) > budget {
            return None;
        }
        let mut objective = self.objective.box_clone();
        if self.steps == 0 {
            objective.next_batch();
        }
        let batch = objective.batch_indices().to_vec();
        Some(NoiseJob {
            objective,
            params: self.params.clone(),
            batch,
        })
    }

    /// The gradient-noise figures at the start (model objectives of a size worth computing).
    #[must_use]
    pub fn initial_noise(&self) -> Option<NoiseStats> {
        // Computed when asked (the headless report), not at every (re)start: a click on the
        // TUI's landscape restarts every run, and this costs one reverse pass per example.
        let n = self.objective.n_train()?;
        if n.saturating_mul(self.start.len()) > NOISE_BUDGET {
            return None;
        }
        let mut objective = self.objective.box_clone();
        objective.reset_batches();
        objective.next_batch();
        let batch = objective.batch_indices().to_vec();
        NoiseJob {
            objective,
            params: self.start.clone(),
            batch,
        }
        .stats()
    }

    /// The gradient-noise figures now, computed on this thread.
    #[must_use]
    pub fn gradient_noise(&self) -> Option<NoiseStats> {
        self.noise_job(NOISE_BUDGET).and_then(NoiseJob::stats)
    }

    /// Wall time spent stepping this run, in seconds.
    #[must_use]
    pub fn wall_seconds(&self) -> f64 {
        self.wall_nanos as f64 * 1e-9
    }

    /// Largest |forward - reverse| at the current point, sampled at steps 0, 1, 2, 4, 8, ...
    /// (where the loss is finite) so the check costs O(log steps). Each sample compares the
    /// reverse gradient with ONE forward pass over a window of up to `MAX_CHUNK`
    /// coordinates that rotates from sample to sample: a model with thousands of parameters
    /// pays one pass, not thousands, while an objective of up to eight parameters is compared
    /// in full every time. Not counted as evaluations.
    ///
    /// A model objective is checked on the loss over the first [`CHECK_EXAMPLES`] examples of
    /// the current batch (both engines on the same examples, so a disagreement is still an
    /// engine's fault), and only at those steps where the check's cost so far stays within
    /// 1/[`CHECK_SHARE`] of the training's, counted in examples ([`Run::check_affordable`]);
    /// not at step 0, where nothing has been paid for yet. Both rules depend on step counts
    /// only, so a replay checks at the same steps. Guarantee: every check that is made
    /// compares all eight coordinates of its window, and the engines' largest disagreement
    /// over the checks made is what the run reports.
    fn sample_engine_difference(&mut self) {
        use crate::ad::dual::{Chunk, DualVec, MAX_CHUNK};
        let n = self.params.len();
        if n == 0 {
            return;
        }
        self.grad_buf.resize(n, 0.0);
        let sample = self.objective.check_subset(CHECK_EXAMPLES);
        let objective = sample.as_deref().unwrap_or(self.objective.as_ref());
        if let Some(examples) = objective.batch_examples() {
            self.check_budget.spent += examples as u64 * CHECK_EXAMPLE_COST;
        }
        objective.gradient(
            Engine::Reverse,
            &self.params,
            &mut self.grad_buf,
            &mut self.scratch,
        );
        let lanes = n.min(MAX_CHUNK);
        let first = (self.engine_samples as usize * MAX_CHUNK) % n;
        let mut xs: Vec<Chunk> = self
            .params
            .iter()
            .map(|&p| DualVec::new(p, [0.0; MAX_CHUNK]))
            .collect();
        for lane in 0..lanes {
            xs[(first + lane) % n].eps[lane] = 1.0;
        }
        let out = objective.eval_chunk(&xs);
        let diff = (0..lanes)
            .map(|lane| (out.eps[lane], self.grad_buf[(first + lane) % n]))
            // Both non-finite (a diverged run): nothing to compare. One finite, the other not:
            // an engine failed where the other did not, an infinite disagreement.
            .filter(|(a, b)| a.is_finite() || b.is_finite())
            .map(|(a, b)| crate::ad::disagreement(a, b))
            .fold(0.0, f64::max);
        self.max_engine_diff = self.max_engine_diff.max(diff);
        self.engine_samples += 1;
    }

    /// Whether a model objective's check fits the budget: its cost so far plus this one's
    /// within 1/[`CHECK_SHARE`] of the examples stepped. Other objectives are checked at every
    /// power of two (one forward pass, about a step's cost).
    fn check_affordable(&self) -> bool {
        let Some(batch) = self.objective.batch_examples() else {
            return true;
        };
        let next = batch.min(CHECK_EXAMPLES) as u64 * CHECK_EXAMPLE_COST;
        (self.check_budget.spent + next) * CHECK_SHARE <= self.check_budget.stepped
    }

    fn snapshot(&mut self) {
        if self.snapshots.last().is_some_and(|s| s.steps == self.steps) {
            return;
        }
        self.snapshots.push(Snapshot {
            steps: self.steps,
            params: self.params.clone(),
            optimizer: self.optimizer.clone(),
            objective: self.objective.box_clone(),
            schedule: self.schedule.clone(),
            average: self.average.clone(),
            counts: self.counts,
            status: self.status.clone(),
            best_loss: self.best_loss,
            steps_since_best: self.steps_since_best,
            last_loss: self.last_loss,
            last_grad_norm: self.last_grad_norm,
            max_engine_diff: self.max_engine_diff,
            engine_samples: self.engine_samples,
            check_budget: self.check_budget,
        });
        let most = (SNAPSHOT_BUDGET / self.snapshot_bytes().max(1)).clamp(2, MAX_SNAPSHOTS);
        while self.snapshots.len() > most {
            // Keep the first (the start), the latest and every other one counted back from
            // the latest.
            let last = self.snapshots.len() - 1;
            let mut i = 0;
            self.snapshots.retain(|_| {
                i += 1;
                i == 1 || (last + 1 - i) % 2 == 0
            });
        }
    }

    /// What one snapshot holds that grows with the parameter count, in bytes: the parameters,
    /// every optimizer state buffer and the objective's own copy of the start point.
    fn snapshot_bytes(&self) -> usize {
        let state: usize = self.optimizer.state().iter().map(|v| v.values.len()).sum();
        8 * (2 * self.params.len() + state)
    }

    /// Bytes the run keeps for its past: the history's parameter copies and the rewind
    /// snapshots (parameter-sized buffers only; the loss curve is a few words per point). At
    /// most [`PARAM_BUDGET`](super::history::PARAM_BUDGET) + [`SNAPSHOT_BUDGET`] (64 MiB)
    /// whenever two snapshots fit in the latter.
    #[must_use]
    pub fn retained_bytes(&self) -> usize {
        self.history.param_bytes() + self.snapshots.len() * self.snapshot_bytes()
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
        self.optimizer = s.optimizer.clone();
        self.objective = s.objective.box_clone();
        self.schedule.clone_from(&s.schedule);
        self.average.clone_from(&s.average);
        self.counts = s.counts;
        self.status = s.status.clone();
        self.best_loss = s.best_loss;
        self.steps_since_best = s.steps_since_best;
        self.last_loss = s.last_loss;
        self.last_grad_norm = s.last_grad_norm;
        self.max_engine_diff = s.max_engine_diff;
        self.engine_samples = s.engine_samples;
        self.check_budget = s.check_budget;
        self.prefetch.clear();
        // Unknown for a snapshot; the replay below sets it again if it takes a step.
        self.previous_params = None;
        self.history.truncate_after(self.steps);
        if let Some(flow) = &mut self.flow {
            flow.truncate_after(self.steps);
        }
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
        self.remember(name, value);
        if self.optimizer.lr_name() == Some(name) {
            self.lr_changed();
        }
        // Old snapshots hold the old value; rewinding past this point replays with it, which is
        // exactly what happened, so they stay valid.
        Ok(())
    }

    /// Replaces the run's schedule (`None`: none), which starts now at its own step 0 on the
    /// run's learning rate; checked as the loader checks a file's. Without one the lr goes back
    /// to the run's own.
    pub fn set_schedule(
        &mut self,
        schedule: Option<optim::schedule::Schedule>,
    ) -> Result<(), optim::OptimError> {
        let built = match &schedule {
            Some(s) => {
                if let Some((_, total, steps)) = s.past_total_steps(self.stop.max_steps) {
                    return Err(
                        optim::schedule::ScheduleError::PastTotalSteps { total, steps }.into(),
                    );
                }
                Some(optim::schedule::Scheduler::for_optimizer(
                    s.clone(),
                    self.base_lr,
                    self.optimizer.as_ref(),
                )?)
            }
            None => None,
        };
        self.spec.schedule = schedule;
        self.schedule = built;
        if self.schedule.is_none() && self.optimizer.lr_name().is_some() {
            self.optimizer.set_lr(self.base_lr);
        }
        Ok(())
    }

    /// Replaces the run's parameter averaging (`None`: none), averaging from the next step on
    /// (SWA's `swa_start` counts the run's steps).
    pub fn set_average(
        &mut self,
        average: Option<optim::averaging::Averaging>,
    ) -> Result<(), optim::OptimError> {
        if average
            .as_ref()
            .is_some_and(optim::averaging::Averaging::drives_lr)
            && self.optimizer.lr_name().is_none()
        {
            return Err(optim::OptimError::NoLearningRate {
                optimizer: self.optimizer.name(),
            });
        }
        self.spec.average.clone_from(&average);
        self.average = average.map(optim::averaging::Averager::new);
        Ok(())
    }

    /// The optimizer's traced scalars over the run (Prodigy's `d` and `dlr`), each as
    /// `(step, value)` at the history's points: bounded and decimated with it.
    #[must_use]
    pub fn traced(&self) -> Vec<(&'static str, Vec<(u64, f64)>)> {
        self.optimizer
            .traced()
            .into_iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let series = self
                    .history
                    .points()
                    .iter()
                    .filter_map(|p| p.traced.get(i).map(|&v| (p.step, v)))
                    .collect();
                (name, series)
            })
            .collect()
    }

    /// Multiplies the learning rate (the optimizer's [`lr_name`](Optimizer::lr_name): `lr`,
    /// `sigma`, `radius`) by `factor`, as the TUI's halve/double does, through
    /// [`Optimizer::set_lr`] so rates coupled to it follow (Muon's `adamw_lr`). Refuses an
    /// optimizer without one, and a result outside its range. Returns the new rate.
    pub fn scale_lr(&mut self, factor: f64) -> Result<f64, optim::OptimError> {
        let Some(name) = self.optimizer.lr_name() else {
            return Err(optim::OptimError::NoLearningRate {
                optimizer: self.optimizer.name(),
            });
        };
        let lr = self.optimizer.lr() * factor;
        // checked against its range first: `set_lr` alone would ignore a bad value
        let domain = self
            .optimizer
            .hyper_set()
            .specs()
            .into_iter()
            .find(|h| h.name == name);
        if let Some(optim::Domain::Float(range)) = domain.map(|h| h.domain)
            && !range.contains(lr)
        {
            return Err(optim::OptimError::InvalidValue {
                optimizer: self.optimizer.name().to_string(),
                name: name.to_string(),
                value: HyperValue::Float(lr).to_string(),
                expected: range.expected(),
            });
        }
        let before = self.optimizer.hyperparameters();
        self.optimizer.set_lr(lr);
        for (n, v) in self.optimizer.hyperparameters() {
            if before.iter().any(|(b, old)| *b == n && *old != v) {
                self.remember(&n, v);
            }
        }
        self.lr_changed();
        Ok(lr)
    }

    /// Keeps a changed hyperparameter in the spec (what a restart and a copy of the run use).
    fn remember(&mut self, name: &str, value: HyperValue) {
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
    }

    /// The learning rate was set by hand: it is the new base of the run and its schedule.
    fn lr_changed(&mut self) {
        self.base_lr = self.optimizer.lr();
        if let Some(schedule) = &mut self.schedule {
            schedule.set_base_lr(self.base_lr);
        }
    }

    pub fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
        // The prefetched gradient is the old engine's: the next step must see the new one's.
        self.prefetch.clear();
    }

    #[must_use]
    pub fn label(&self) -> &str {
        &self.spec.label
    }
    #[must_use]
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }
    /// The points to draw besides the parameters: the optimizer's own
    /// ([`Optimizer::extra_points`]: ASGD's average, Schedule-Free's `y` and `z`) and the run's
    /// parameter average (`ema` or `swa`) once it has one.
    #[must_use]
    pub fn extra_points(&self) -> Vec<optim::ExtraPoint<'_>> {
        let mut points = self.optimizer.extra_points();
        if let Some(a) = &self.average
            && let Some(params) = a.params()
        {
            points.push(optim::ExtraPoint {
                name: a.config().name(),
                params,
            });
        }
        points
    }
    /// The loss at the run's parameter average (`ema` or `swa`), once it has one; an
    /// uncounted evaluation, as a report.
    #[must_use]
    pub fn average_loss(&self) -> Option<f64> {
        let params = self.average.as_ref()?.params()?;
        Some(self.objective.value(params))
    }
    #[must_use]
    pub fn objective(&self) -> &dyn Objective {
        self.objective.as_ref()
    }
    #[must_use]
    pub fn params(&self) -> &[f64] {
        &self.params
    }
    /// The parameters before the latest step; `None` before the first step and right after a
    /// rewind onto a snapshot.
    #[must_use]
    pub fn previous_params(&self) -> Option<&[f64]> {
        self.previous_params.as_deref()
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
    /// Examples per batch (the training set's size for full batch); `None` without data.
    #[must_use]
    pub fn batch_size(&self) -> Option<usize> {
        let b = self.objective.batching()?;
        b.batch_size.or(self.objective.n_train())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::Scalar;
    use crate::ad::dual::{Chunk, Hyper};
    use crate::ad::tape::Var;

    /// `sum x_i^2` over `n` parameters; with `skew`, forward mode sees `(1 + skew) x_0^2` as
    /// the first term, as a buggy engine would.
    #[derive(Clone)]
    struct Squares {
        n: usize,
        skew: f64,
    }

    impl Squares {
        fn f<S: Scalar>(&self, x: &[S], skewed: bool) -> S {
            let terms: Vec<S> = x.iter().map(|&v| v * v).collect();
            let first = if skewed {
                terms[0] * self.skew
            } else {
                S::constant(0.0)
            };
            S::sum(&terms) + first
        }
    }

    impl Objective for Squares {
        fn dim(&self) -> usize {
            self.n
        }
        fn param_names(&self) -> Vec<String> {
            (0..self.n).map(|i| format!("x{i}")).collect()
        }
        fn start(&self) -> Vec<f64> {
            (0..self.n).map(|i| 1.0 + i as f64).collect()
        }
        fn value(&self, x: &[f64]) -> f64 {
            self.f(x, false)
        }
        fn eval_chunk(&self, x: &[Chunk]) -> Chunk {
            self.f(x, true)
        }
        fn eval_var<'t>(&self, x: &[Var<'t>]) -> Var<'t> {
            self.f(x, false)
        }
        fn eval_hyper(&self, x: &[Hyper]) -> Hyper {
            self.f(x, false)
        }
        fn box_clone(&self) -> Box<dyn Objective> {
            Box::new(self.clone())
        }
    }

    fn run(n: usize, skew: f64) -> Run {
        let objective = Squares { n, skew };
        let start = objective.start();
        Run::new(
            RunSpec::new("gd"),
            Box::new(objective),
            Engine::Reverse,
            StopConfig::default(),
            1,
            start,
        )
        .unwrap()
    }

    #[test]
    fn engine_check_sees_a_disagreement_and_stays_zero_without_one() {
        let mut honest = run(3, 0.0);
        let mut buggy = run(3, 1e-3);
        for _ in 0..4 {
            honest.step();
            buggy.step();
        }
        assert_eq!(honest.max_engine_diff(), 0.0);
        assert!(
            buggy.max_engine_diff() > 1e-4,
            "{}",
            buggy.max_engine_diff()
        );
    }

    #[test]
    fn engine_check_counts_an_engine_that_fails_alone_as_infinitely_apart() {
        // Forward mode's gradient is NaN (skew NaN), reverse mode's finite: not hidden as 0.
        let r = run(3, f64::NAN);
        assert_eq!(r.max_engine_diff(), f64::INFINITY);
        // Where the loss itself overflowed there is nothing to compare: no sample is taken.
        let overflowed = Run::new(
            RunSpec::new("gd"),
            Box::new(Squares {
                n: 3,
                skew: f64::NAN,
            }),
            Engine::Reverse,
            StopConfig::default(),
            1,
            vec![1e200, 1.0, 1.0],
        )
        .unwrap();
        assert_eq!(
            (overflowed.engine_samples, overflowed.max_engine_diff()),
            (0, 0.0)
        );
    }

    #[test]
    fn schedule_free_reports_the_loss_at_its_average_and_publishes_y_and_z() {
        let mut r = build(
            RunSpec {
                hyperparameters: vec![("lr".into(), HyperValue::Float(0.1))],
                ..RunSpec::new("schedule_free_adamw")
            },
            Box::new(Squares { n: 3, skew: 0.0 }),
            Engine::Reverse,
            true,
        );
        for _ in 0..10 {
            r.step();
        }
        // The run's parameters are x, the loss reported is f(x), and the gradient point y and
        // the base iterate z are elsewhere.
        assert_eq!(r.loss(), r.objective().value(r.params()));
        let points = r.optimizer().extra_points();
        let names: Vec<&str> = points.iter().map(|p| p.name).collect();
        assert_eq!(names, ["y", "z"]);
        for p in &points {
            assert_eq!(p.params.len(), 3);
            assert_ne!(p.params, r.params(), "{}", p.name);
        }
    }

    #[test]
    fn an_swa_run_rewinds_and_restarts_to_the_same_average_and_lr() {
        let spec = RunSpec {
            hyperparameters: vec![("lr".into(), HyperValue::Float(0.05))],
            schedule: Some(optim::schedule::Schedule::cosine(100)),
            average: Some(optim::averaging::Averaging::Swa {
                swa_start: 40,
                swa_lr: Some(0.01),
                anneal_epochs: 5,
                anneal_strategy: optim::schedule::Anneal::Cos,
            }),
            ..RunSpec::new("sgd")
        };
        let mut r = build(
            spec,
            Box::new(Squares { n: 3, skew: 0.5 }),
            Engine::Reverse,
            true,
        );
        for _ in 0..40 {
            r.step();
        }
        assert!(r.extra_points().is_empty(), "no average before swa_start");
        assert_eq!(r.average_loss(), None);
        for _ in 0..60 {
            r.step();
        }
        // SWALR has taken the lr from the cosine's to swa_lr
        assert!(
            (r.optimizer().lr() - 0.01).abs() < 1e-15,
            "{}",
            r.optimizer().lr()
        );
        let average = r.extra_points()[0].params.to_vec();
        assert_eq!(r.extra_points()[0].name, "swa");
        assert_ne!(average, r.params());
        let loss = r.average_loss().expect("averaged");
        r.rewind(37);
        for _ in 0..37 {
            r.step();
        }
        assert_eq!(r.extra_points()[0].params, average.as_slice());
        assert_eq!(r.average_loss(), Some(loss));
        r.restart_from(r.start.clone());
        assert!(r.extra_points().is_empty());
        for _ in 0..100 {
            r.step();
        }
        assert_eq!(r.extra_points()[0].params, average.as_slice());
    }

    #[test]
    fn engine_check_window_rotates_over_many_parameters() {
        // The skewed coordinate is x0: the first sample's window holds it.
        let r = run(40, 1e-3);
        assert!(r.max_engine_diff() > 1e-4);
        // Coordinate 0 falls in the window of sample 0 only (then 8..16, 16..24, ...), so a
        // run whose first window misses it would report zero: check the window moves.
        let mut r = run(40, 0.0);
        for _ in 0..8 {
            r.step();
        }
        assert_eq!(r.engine_samples, 5, "samples at steps 0, 1, 2, 4, 8");
    }

    /// Counts the calls an objective gets (shared by its clones), to see what a run computes.
    #[derive(Clone)]
    struct Counting {
        inner: Squares,
        values: std::sync::Arc<std::sync::atomic::AtomicU64>,
        gradients: std::sync::Arc<std::sync::atomic::AtomicU64>,
    }

    impl Objective for Counting {
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn param_names(&self) -> Vec<String> {
            self.inner.param_names()
        }
        fn start(&self) -> Vec<f64> {
            self.inner.start()
        }
        fn value(&self, x: &[f64]) -> f64 {
            self.values
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.value(x)
        }
        fn eval_chunk(&self, x: &[Chunk]) -> Chunk {
            self.inner.eval_chunk(x)
        }
        fn eval_var<'t>(&self, x: &[Var<'t>]) -> Var<'t> {
            self.inner.eval_var(x)
        }
        fn eval_hyper(&self, x: &[Hyper]) -> Hyper {
            self.inner.eval_hyper(x)
        }
        fn gradient(
            &self,
            engine: Engine,
            x: &[f64],
            grad: &mut [f64],
            scratch: &mut Scratch,
        ) -> (f64, usize) {
            self.gradients
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.gradient(engine, x, grad, scratch)
        }
        fn box_clone(&self) -> Box<dyn Objective> {
            Box::new(self.clone())
        }
    }

    /// Runs `spec` on the counting objective for `steps` steps; returns the objective's
    /// (value, gradient) calls and the run's counts.
    fn count_calls(optimizer: &str, prefetch: bool, steps: usize) -> (u64, u64, Counts) {
        use std::sync::atomic::Ordering::Relaxed;
        let objective = Counting {
            inner: Squares { n: 3, skew: 0.0 },
            values: Default::default(),
            gradients: Default::default(),
        };
        let (values, gradients) = (objective.values.clone(), objective.gradients.clone());
        let mut r = build(
            RunSpec::new(optimizer),
            Box::new(objective),
            Engine::Reverse,
            prefetch,
        );
        values.store(0, Relaxed);
        gradients.store(0, Relaxed);
        r.restart_from(r.start().to_vec());
        for _ in 0..steps {
            assert!(r.step());
        }
        // Wall time is not reproducible.
        let counts = Counts {
            gradient_nanos: 0,
            ..r.counts
        };
        (values.load(Relaxed), gradients.load(Relaxed), counts)
    }

    #[test]
    fn a_gradient_step_costs_one_engine_evaluation_instead_of_a_gradient_and_a_value() {
        // 10 steps; the engine check adds a reverse gradient at steps 0, 1, 2, 4 and 8.
        let checks = 5;
        let (values, gradients, counts) = count_calls("adam", false, 10);
        assert_eq!((values, gradients), (1 + 10, 10 + checks));
        let (values, gradients, cached) = count_calls("adam", true, 10);
        assert_eq!(
            (values, gradients),
            (0, 1 + 10 + checks),
            "the start's and every step's loss come with the next step's gradient"
        );
        assert_eq!(
            cached, counts,
            "a served gradient is counted as the call it replaces"
        );
        assert_eq!(counts.gradient, 10);
        // Newton asks for a Hessian: the prefetch at the start goes unused, then the run
        // reports losses by plain values again.
        let (values, gradients, plain) = count_calls("newton", false, 10);
        assert_eq!((values, gradients), (1 + 10, checks));
        let (values, gradients, cached) = count_calls("newton", true, 10);
        assert_eq!((values, gradients), (10, 1 + checks));
        assert_eq!(cached, plain);
    }

    /// A run with the given engine; without `prefetch` every reported loss is a plain value
    /// evaluation and no gradient is ever served from the cache (the behaviour before it).
    fn build(spec: RunSpec, objective: Box<dyn Objective>, engine: Engine, prefetch: bool) -> Run {
        let start = objective.start();
        let stop = StopConfig {
            max_steps: u64::MAX,
            ..StopConfig::default()
        };
        let mut r = Run::new(spec, objective, engine, stop, 3, start.clone()).unwrap();
        if !prefetch {
            r.prefetching = false;
            r.restart_from(start);
            assert!(!r.prefetch.is_filled());
        }
        r
    }

    /// Everything a step leaves behind that prefetching must not change, as bits.
    fn trace(r: &Run) -> Vec<u64> {
        let c = r.counts();
        let mut t: Vec<u64> = r.params().iter().map(|p| p.to_bits()).collect();
        t.extend([
            r.steps(),
            r.loss().to_bits(),
            r.best_loss().to_bits(),
            r.grad_norm().map_or(1, f64::to_bits),
            r.optimizer().lr().to_bits(),
            c.value,
            c.gradient,
            c.hessian,
            c.passes,
            r.history().points().len() as u64,
            u64::from(r.status().is_running()),
        ]);
        t
    }

    /// Steps `spec` with and without prefetching and requires identical traces at every
    /// step; returns whether the prefetching run still prefetches at the end (its gradients
    /// were all used).
    fn same_with_and_without(
        spec: &RunSpec,
        objective: &dyn Objective,
        engine: Engine,
        steps: usize,
    ) -> bool {
        let mut plain = build(spec.clone(), objective.box_clone(), engine, false);
        let mut cached = build(spec.clone(), objective.box_clone(), engine, true);
        let what = format!("{} ({:?})", spec.label, engine);
        assert_eq!(trace(&cached), trace(&plain), "{what} at the start");
        for step in 1..=steps {
            let (a, b) = (plain.step(), cached.step());
            assert_eq!(a, b, "{what}");
            assert_eq!(trace(&cached), trace(&plain), "{what} at step {step}");
        }
        assert!(!plain.prefetching);
        cached.prefetching
    }

    /// Whether an optimizer starts every step with a gradient at its current parameters: only
    /// those keep prefetching. Schedule-Free's parameters are the average x while its gradient
    /// is taken at y.
    fn asks_gradient_first(optimizer: &str) -> bool {
        !matches!(
            optimizer,
            "newton"
                | "nelder_mead"
                | "genetic"
                | "random_search"
                | "levenberg_marquardt"
                | "schedule_free_sgd"
                | "schedule_free_adamw"
        )
    }

    fn specs() -> Vec<RunSpec> {
        let mut specs: Vec<RunSpec> = optim::registry::names()
            .iter()
            .map(|n| RunSpec::new(n))
            .collect();
        // Schedule-Free SGD's default lr (1.0) diverges on the first step here, before its
        // gradient point leaves the parameters.
        for s in &mut specs {
            if s.optimizer == "schedule_free_sgd" {
                s.hyperparameters = vec![("lr".into(), HyperValue::Float(1e-3))];
            }
        }
        specs.push(RunSpec {
            label: "adam clipped".into(),
            clip: Some(optim::clip::GradClip::norm(0.5)),
            ..RunSpec::new("adam")
        });
        specs.push(RunSpec {
            label: "adam on a plateau schedule".into(),
            schedule: Some(optim::schedule::Schedule::plateau()),
            ..RunSpec::new("adam")
        });
        specs.push(RunSpec {
            label: "lbfgs fixed step".into(),
            hyperparameters: vec![
                ("strong_wolfe".into(), HyperValue::Bool(false)),
                ("lr".into(), HyperValue::Float(1e-3)),
            ],
            ..RunSpec::new("lbfgs")
        });
        specs
    }

    const ENGINES: [Engine; 4] = [
        Engine::Reverse,
        Engine::Forward { chunk: 1 },
        Engine::Forward { chunk: 8 },
        Engine::Finite,
    ];

    #[test]
    fn prefetching_changes_nothing_on_an_expression_for_any_optimizer_or_engine() {
        let expr =
            crate::expr::Expression::parse("(1 - x)^2 + 100 * (y - x^2)^2 + sin(x * y)").unwrap();
        let objective = crate::objective::ExpressionObjective::new(expr, vec![-1.5, 2.0], None);
        for spec in specs() {
            for engine in ENGINES {
                let still = same_with_and_without(&spec, &objective, engine, 40);
                assert_eq!(
                    still,
                    asks_gradient_first(&spec.optimizer),
                    "{} ({engine:?}) keeps prefetching",
                    spec.label
                );
            }
        }
    }

    /// Binary classification of 40 moons with a 2-4-4-1 tanh MLP (33 parameters).
    fn mlp(batch_size: usize) -> crate::objective::ModelObjective<crate::model::Model> {
        mlp_sized(40, 4, batch_size)
    }

    /// Binary classification of `n` moons with a 2-`h`-`h`-1 tanh MLP.
    fn mlp_sized(
        n: usize,
        h: usize,
        batch_size: usize,
    ) -> crate::objective::ModelObjective<crate::model::Model> {
        use crate::data::{Batcher, Generator};
        use crate::model::{Activation, Init, Loss, LossKind, Mlp, Model, init_params};
        let train = Generator::Moons { n, noise: 0.1 }.generate(5).unwrap();
        let n = train.len();
        let mlp =
            Mlp::with_hidden(vec![2, h, h, 1], Activation::Tanh, Activation::Identity).unwrap();
        let model = Model::Mlp(mlp);
        let start = init_params(&model, &Init::XAVIER_UNIFORM, 5).unwrap();
        let names = (0..start.len()).map(|i| format!("p{i}")).collect();
        crate::objective::ModelObjective::new(
            model,
            Loss::new(LossKind::BceWithLogits),
            train,
            None,
            start,
            Batcher::new(n, batch_size, 5).unwrap(),
            names,
        )
    }

    /// The headless report's figures, computed a chunk of examples at a time once the
    /// per-example gradients would pass 16 MiB, are those of the whole matrix bit for bit.
    #[test]
    fn noise_figures_streamed_in_chunks_equal_the_whole_matrix_s() {
        // 300 examples × 16,897 parameters (2-128-128-1): 40 MB of gradients, 124 a chunk.
        let objective = mlp_sized(300, 128, 32);
        let mut r = build(
            RunSpec::new("sgd"),
            Box::new(objective),
            Engine::Reverse,
            true,
        );
        for _ in 0..3 {
            r.step();
        }
        let chunk = NOISE_CHUNK_BYTES / 8 / r.params().len();
        assert!(chunk < 300 && 300 % chunk != 0, "{chunk}");
        let job = || r.noise_job(usize::MAX).unwrap();
        let whole = job().compute().unwrap().stats;
        let streamed = job().stats().unwrap();
        assert_eq!(streamed, whole);
        assert_eq!((whole.examples, whole.batch_size), (300, 32));
        assert!(whole.trace_cov > 0.0 && whole.observed_sq_error > 0.0);
    }

    #[test]
    fn prefetching_changes_nothing_when_training_a_model() {
        let objective = mlp(40);
        assert!(!objective.is_stochastic());
        let mut specs = specs();
        specs.retain(|s| {
            matches!(
                s.label.as_str(),
                "adam"
                    | "adam clipped"
                    | "adam on a plateau schedule"
                    | "sgd"
                    | "lbfgs"
                    | "lbfgs fixed step"
                    | "newton"
                    | "nelder_mead"
                    | "rprop"
            )
        });
        assert_eq!(specs.len(), 9);
        for spec in &specs {
            for engine in ENGINES {
                let still = same_with_and_without(spec, &objective, engine, 12);
                assert_eq!(
                    still,
                    asks_gradient_first(&spec.optimizer),
                    "{}",
                    spec.label
                );
            }
        }
    }

    #[test]
    fn the_full_loss_is_recorded_every_step_when_cheap_and_within_its_share_when_not() {
        // 40 examples × 33 parameters: every point carries the full loss.
        let mut r = build(RunSpec::new("sgd"), Box::new(mlp(8)), Engine::Reverse, true);
        for _ in 0..20 {
            r.step();
        }
        let points = r.history().points();
        assert!(points.len() > 20 && points.iter().all(|p| p.full_loss.is_some()));
        // 4,000 examples × 337 parameters: one evaluation costs 8,000 examples of steps, so
        // at 100 examples a step the budget allows one every 1,600 steps.
        let objective = mlp_sized(4_000, 16, 100);
        let mut r = build(
            RunSpec::new("sgd"),
            Box::new(objective),
            Engine::Reverse,
            true,
        );
        for _ in 0..3_300 {
            r.step();
        }
        let b = r.check_budget;
        assert_eq!(b.stepped, 330_000);
        assert_eq!(b.reported, 2 * 4_000 * FULL_LOSS_EXAMPLE_COST);
        assert!(b.reported * FULL_LOSS_SHARE <= b.stepped);
        let with_full: Vec<u64> = r
            .history()
            .points()
            .iter()
            .filter(|p| p.full_loss.is_some())
            .map(|p| p.step)
            .collect();
        // the start's point carries the full loss the run computes when it begins
        assert_eq!(with_full, [0, 1_600, 3_200]);
    }

    #[test]
    fn minibatches_never_prefetch() {
        let objective = mlp(8);
        assert!(objective.is_stochastic());
        let mut r = build(
            RunSpec::new("adam"),
            Box::new(objective),
            Engine::Reverse,
            true,
        );
        for _ in 0..10 {
            r.step();
            assert!(!r.prefetch.is_filled());
        }
    }

    #[test]
    fn history_and_snapshots_stay_within_the_byte_budget_and_rewinding_stays_exact() {
        // 50,000 parameters: a copy is 400 kB, a snapshot with Adam's two moments 1.6 MB.
        let n = 50_000;
        let objective = Squares { n, skew: 0.0 };
        let mut r = build(
            RunSpec::new("adam"),
            Box::new(objective.clone()),
            Engine::Reverse,
            true,
        );
        // Small enough a loss not to count as diverged.
        r.restart_from(vec![0.5; n]);
        let budget = super::super::history::PARAM_BUDGET + SNAPSHOT_BUDGET;
        let mut at_300 = Vec::new();
        for step in 1..=700 {
            r.step();
            assert!(
                r.retained_bytes() <= budget,
                "step {step}: {}",
                r.retained_bytes()
            );
            if step == 300 {
                at_300 = trace(&r);
            }
        }
        // Both stores filled up and were thinned, not just left short.
        assert!(
            r.retained_bytes() > budget / 2,
            "{} bytes, {} snapshots, {} steps, history stride {}, {}, {:?}",
            r.retained_bytes(),
            r.snapshots.len(),
            r.steps(),
            r.history().param_stride(),
            r.history().param_bytes(),
            r.status()
        );
        assert!(r.history().param_stride() > 1);
        let kept = r.history().points().iter().filter(|p| !p.params.is_empty());
        assert!(kept.count() >= 20);
        // Rewinding replays from a thinned snapshot to the very same bits.
        assert_eq!(r.rewind(400), 300);
        assert_eq!(trace(&r), at_300);
    }

    #[test]
    fn rewinds_engine_switches_and_restarts_leave_the_trajectory_unchanged() {
        let expr = crate::expr::Expression::parse("(1 - x)^2 + 100 * (y - x^2)^2").unwrap();
        let objective = crate::objective::ExpressionObjective::new(expr, vec![-1.5, 2.0], None);
        let spec = RunSpec {
            clip: Some(optim::clip::GradClip::norm(1.0)),
            ..RunSpec::new("adam")
        };
        let script = |r: &mut Run| {
            let mut traces = Vec::new();
            for _ in 0..50 {
                r.step();
            }
            traces.push(trace(r));
            r.set_engine(Engine::Forward { chunk: 1 });
            for _ in 0..30 {
                r.step();
            }
            traces.push(trace(r));
            // Back across the engine switch and the snapshot at step 64, then replayed with
            // the forward engine.
            assert_eq!(r.rewind(37), 43);
            traces.push(trace(r));
            r.set_hyperparameter("lr", HyperValue::Float(0.01)).unwrap();
            for _ in 0..37 {
                r.step();
            }
            traces.push(trace(r));
            r.set_engine(Engine::Reverse);
            r.step();
            traces.push(trace(r));
            r.restart_from(vec![0.5, 0.5]);
            for _ in 0..5 {
                r.step();
            }
            traces.push(trace(r));
            traces
        };
        let mut plain = build(spec.clone(), objective.box_clone(), Engine::Reverse, false);
        let mut cached = build(spec, objective.box_clone(), Engine::Reverse, true);
        assert_eq!(script(&mut cached), script(&mut plain));
        assert!(cached.prefetching);
        // A cache kept across the engine switch would have served a reverse gradient to the
        // first forward step: counted with one pass instead of two.
        assert_eq!(cached.counts().passes, 5);
    }
}
