//! The session: the runs of one scenario, advanced together, seeded and deterministic. It is the
//! single source of truth; the TUI and the headless runner only read it and send it
//! [`Command`]s.

pub mod history;
pub mod run;
pub mod stop;

pub use history::{History, Point};
pub use run::{NoiseJob, NoiseReport, Run, RunSpec};
pub use stop::{Status, StopConfig};

use std::time::{Duration, Instant};

use crate::ad::Engine;
use crate::objective::Objective;
use crate::optim::{HyperValue, OptimError};

/// What a front end can ask of a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Pause,
    Resume,
    TogglePause,
    /// One step of every running run.
    Step,
    StepN(u64),
    /// Rewind one run by k steps.
    Rewind {
        run: usize,
        steps: u64,
    },
    Reset,
    /// Restart every run from this point.
    RestartFrom(Vec<f64>),
    SetHyperparameter {
        run: usize,
        name: String,
        value: HyperValue,
    },
    /// Multiply a run's learning rate (the TUI's halve/double).
    ScaleLr {
        run: usize,
        factor: f64,
    },
    /// Every run's engine (a run's own `engine` is dropped).
    SetEngine(Engine),
    /// One run's engine.
    SetRunEngine {
        run: usize,
        engine: Engine,
    },
    /// One run's schedule (`None`: none); it starts now, at its own step 0, or with
    /// `restart` the run starts again from its start point with it.
    SetSchedule {
        run: usize,
        schedule: Option<crate::optim::schedule::Schedule>,
        restart: bool,
    },
    /// One run's parameter averaging (`None`: none), from now on or, with `restart`, from a
    /// restart of the run.
    SetAverage {
        run: usize,
        average: Option<crate::optim::averaging::Averaging>,
        restart: bool,
    },
    AddRun(RunSpec),
    /// Adds a run that starts from this point instead of the scenario's start.
    AddRunFrom(RunSpec, Vec<f64>),
    RemoveRun(usize),
}

/// Errors a session command can produce (the session itself stays intact).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error("no run number {0}")]
    NoSuchRun(usize),
    #[error("a run labelled '{0}' already exists")]
    DuplicateLabel(String),
    #[error("start point has {got} values, the objective has {expected} parameters")]
    StartLength { expected: usize, got: usize },
}

/// The seed of a run's data order: the scenario seed and the run's label, and nothing else, so
/// adding, removing or reordering other runs never changes the batches a run sees. FNV-1a over
/// the label's bytes then a SplitMix64 finaliser: portable and stable across releases, unlike
/// `std`'s hashers.
#[must_use]
pub fn data_seed(seed: u64, label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The runs of one scenario.
pub struct Session {
    pub name: String,
    objective: Box<dyn Objective>,
    runs: Vec<Run>,
    engine: Engine,
    stop: StopConfig,
    seed: u64,
    start: Vec<f64>,
    paused: bool,
    /// Whether runs record their per-layer gradient flow as they step (the TUI's panel).
    track_flow: bool,
}

impl Session {
    /// Builds a session; every run gets a seed derived from the session seed and its position.
    pub fn new(
        name: impl Into<String>,
        objective: Box<dyn Objective>,
        specs: Vec<RunSpec>,
        engine: Engine,
        stop: StopConfig,
        seed: u64,
    ) -> Result<Self, SessionError> {
        let start = objective.start();
        let mut session = Self {
            name: name.into(),
            objective,
            runs: Vec::new(),
            engine,
            stop,
            seed,
            start,
            paused: false,
            track_flow: false,
        };
        for spec in specs {
            session.add_run(spec)?;
        }
        Ok(session)
    }

    fn run_seed(&self, index: usize) -> u64 {
        // SplitMix-style spreading so neighbouring runs get unrelated streams.
        self.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Adds a run to the race; its label must be unique.
    pub fn add_run(&mut self, spec: RunSpec) -> Result<usize, SessionError> {
        self.add_run_from(spec, self.start.clone())
    }

    /// Adds a run that starts at `start` (another run's current point, say); a clashing label
    /// is numbered (`adam-2`).
    pub fn add_run_from(
        &mut self,
        mut spec: RunSpec,
        start: Vec<f64>,
    ) -> Result<usize, SessionError> {
        if start.len() != self.objective.dim() {
            return Err(SessionError::StartLength {
                expected: self.objective.dim(),
                got: start.len(),
            });
        }
        if self.runs.iter().any(|r| r.label() == spec.label) {
            let base = spec.label.clone();
            let mut k = 2;
            while self.runs.iter().any(|r| r.label() == spec.label) {
                spec.label = format!("{base}-{k}");
                k += 1;
            }
        }
        let seed = self.run_seed(self.runs.len());
        let engine = spec.engine.unwrap_or(self.engine);
        let mut objective = self.objective.box_clone();
        if let Some(default) = objective.batching() {
            objective.set_batching(spec.batching(default), data_seed(self.seed, &spec.label));
        }
        let mut run = Run::new(spec, objective, engine, self.stop.clone(), seed, start)?;
        run.track_flow(self.track_flow);
        self.runs.push(run);
        Ok(self.runs.len() - 1)
    }

    /// Applies a command. Errors leave the session as it was.
    pub fn apply(&mut self, command: Command) -> Result<(), SessionError> {
        match command {
            Command::Pause => self.paused = true,
            Command::Resume => self.paused = false,
            Command::TogglePause => self.paused = !self.paused,
            Command::Step => self.step_all(),
            Command::StepN(n) => {
                for _ in 0..n {
                    self.step_all();
                }
            }
            Command::Rewind { run, steps } => {
                self.run_mut(run)?.rewind(steps);
            }
            Command::Reset => self.restart_from(self.objective.start())?,
            Command::RestartFrom(point) => self.restart_from(point)?,
            Command::SetHyperparameter { run, name, value } => {
                self.run_mut(run)?.set_hyperparameter(&name, value)?;
            }
            Command::ScaleLr { run, factor } => {
                self.run_mut(run)?.scale_lr(factor)?;
            }
            Command::SetEngine(engine) => {
                self.engine = engine;
                for run in &mut self.runs {
                    run.spec.engine = None;
                    run.set_engine(engine);
                }
            }
            Command::SetRunEngine { run, engine } => {
                let run = self.run_mut(run)?;
                run.spec.engine = Some(engine);
                run.set_engine(engine);
            }
            Command::SetSchedule {
                run,
                schedule,
                restart,
            } => {
                let run = self.run_mut(run)?;
                run.set_schedule(schedule)?;
                if restart {
                    run.restart_from(run.start().to_vec());
                }
            }
            Command::SetAverage {
                run,
                average,
                restart,
            } => {
                let run = self.run_mut(run)?;
                run.set_average(average)?;
                if restart {
                    run.restart_from(run.start().to_vec());
                }
            }
            Command::AddRun(spec) => {
                self.add_run(spec)?;
            }
            Command::AddRunFrom(spec, start) => {
                self.add_run_from(spec, start)?;
            }
            Command::RemoveRun(i) => {
                self.take_run(i)?;
            }
        }
        Ok(())
    }

    /// Takes run `i` out of the race (the TUI keeps it to undo the removal).
    pub fn take_run(&mut self, i: usize) -> Result<Run, SessionError> {
        if i >= self.runs.len() {
            return Err(SessionError::NoSuchRun(i));
        }
        Ok(self.runs.remove(i))
    }

    /// Puts a run taken by [`Self::take_run`] back at position `i` (or last), as it was.
    pub fn insert_run(&mut self, i: usize, run: Run) -> Result<(), SessionError> {
        if self.runs.iter().any(|r| r.label() == run.label()) {
            return Err(SessionError::DuplicateLabel(run.label().to_owned()));
        }
        self.runs.insert(i.min(self.runs.len()), run);
        Ok(())
    }

    fn run_mut(&mut self, i: usize) -> Result<&mut Run, SessionError> {
        self.runs.get_mut(i).ok_or(SessionError::NoSuchRun(i))
    }

    fn restart_from(&mut self, point: Vec<f64>) -> Result<(), SessionError> {
        if point.len() != self.objective.dim() {
            return Err(SessionError::StartLength {
                expected: self.objective.dim(),
                got: point.len(),
            });
        }
        self.start.clone_from(&point);
        for run in &mut self.runs {
            run.restart_from(point.clone());
        }
        Ok(())
    }

    /// One step of every running run.
    pub fn step_all(&mut self) {
        for run in &mut self.runs {
            run.step();
        }
    }

    /// Steps all runs round-robin until every run has ended.
    pub fn run_to_end(&mut self) {
        while !self.is_finished() {
            self.step_all();
        }
    }

    /// Steps round-robin until `budget` has elapsed or every run has ended; returns steps taken.
    /// Checks the clock every few steps so cheap objectives are not dominated by `Instant::now`.
    pub fn step_for(&mut self, budget: Duration) -> u64 {
        let started = Instant::now();
        let mut taken = 0;
        while !self.is_finished() {
            for _ in 0..8 {
                for run in &mut self.runs {
                    taken += u64::from(run.step());
                }
            }
            if started.elapsed() >= budget {
                break;
            }
        }
        taken
    }

    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.runs.iter().all(|r| !r.status().is_running())
    }
    /// Makes every run (and every run added later) record its per-layer gradient flow as it
    /// steps, or stop recording it. Off by default: the headless report needs only the final
    /// figures.
    pub fn track_flow(&mut self, on: bool) {
        self.track_flow = on;
        for run in &mut self.runs {
            run.track_flow(on);
        }
    }

    #[must_use]
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }
    /// The runs, to step them independently (each owns its objective, optimizer and state,
    /// so stepping them in any order or on any thread gives the same results).
    pub fn runs_mut(&mut self) -> &mut [Run] {
        &mut self.runs
    }
    #[must_use]
    pub fn objective(&self) -> &dyn Objective {
        self.objective.as_ref()
    }
    #[must_use]
    pub fn engine(&self) -> Engine {
        self.engine
    }
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }
    #[must_use]
    pub fn is_paused(&self) -> bool {
        self.paused
    }
    #[must_use]
    pub fn stop_config(&self) -> &StopConfig {
        &self.stop
    }
    /// Overrides the stop conditions of every run (headless `--steps`).
    pub fn set_stop_config(&mut self, stop: StopConfig) {
        for run in &mut self.runs {
            run.set_stop_config(stop.clone());
        }
        self.stop = stop;
    }
}
