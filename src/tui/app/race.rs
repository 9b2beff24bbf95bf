//! The app's changes to the race (add, remove and undo, learning rates, loading), each of which
//! says what it did in the message line ([`super::super::feedback`]).

use std::path::Path;

use super::{App, Mode, SPEEDS};
use crate::session::{Command, RunSpec};
use crate::tui::feedback;

impl App {
    /// The chosen speed in words: "30 steps/s", or "max" for as fast as the budget allows.
    #[must_use]
    pub fn speed_text(&self) -> String {
        match SPEEDS[self.speed.min(SPEEDS.len() - 1)] {
            u64::MAX => "max steps/s".to_owned(),
            n => format!("{n} steps/s"),
        }
    }

    /// Adds a run of optimizer `name` and selects it. It starts at step 0 from the scenario's
    /// start, or (`add_from_here`) from the selected run's current point; the message says
    /// which.
    pub(super) fn add_run(&mut self, name: &str) {
        let others_at = self.session.runs().iter().map(|r| r.steps()).max();
        let here = self
            .session
            .runs()
            .get(self.selected)
            .filter(|_| self.add_from_here)
            .map(|r| (self.selected_label(), r.steps(), r.params().to_vec()));
        let count = self.session.runs().len();
        match &here {
            Some((_, _, point)) => {
                self.send(Command::AddRunFrom(RunSpec::new(name), point.clone()));
            }
            None => self.send(Command::AddRun(RunSpec::new(name))),
        }
        if self.session.runs().len() == count {
            return; // refused: the error is on screen
        }
        self.selected = self.session.runs().len().saturating_sub(1);
        self.grad.computed = None;
        self.removed = None;
        let label = self.selected_label();
        let text = match here {
            Some((from, step, _)) => feedback::added_from(&label, &from, step),
            None => feedback::added(&label, others_at.unwrap_or(0)),
        };
        self.say(text);
    }

    /// Removes run `i` (never the last one) and keeps it for `u`.
    pub(super) fn remove_run(&mut self, i: usize) {
        if self.session.runs().len() <= 1 {
            self.say("the last run stays: add another (a) before removing it");
            return;
        }
        match self.session.take_run(i) {
            Ok(run) => {
                let text = feedback::removed(&crate::text::printable(run.label()));
                self.removed = Some((i, run));
                self.clamp_selection();
                self.say(text);
            }
            Err(e) => self.mode = Mode::Error(e.to_string()),
        }
    }

    /// Puts the last removed run back where it was, as it was.
    pub(super) fn undo_remove(&mut self) {
        let Some((i, run)) = self.removed.take() else {
            self.say("nothing to undo");
            return;
        };
        let label = crate::text::printable(run.label()).into_owned();
        match self.session.insert_run(i, run) {
            Ok(()) => {
                self.selected = i.min(self.session.runs().len().saturating_sub(1));
                self.grad.computed = None;
                self.say(format!("restored {label}"));
            }
            Err(e) => self.mode = Mode::Error(e.to_string()),
        }
    }

    /// Multiplies run `run`'s learning rate and says "adam lr 0.05 → 0.1" (or "genetic sigma
    /// ...", the optimizer's own), or that it has none.
    pub(super) fn scale_lr(&mut self, run: usize, factor: f64) {
        let Some(optimizer) = self.session.runs().get(run).map(|r| r.optimizer()) else {
            return;
        };
        let (before, name) = (optimizer.lr(), optimizer.lr_name());
        let Some(name) = name else {
            let text = format!("{} has no learning rate", optimizer.name());
            self.say(text);
            return;
        };
        self.send(Command::ScaleLr { run, factor });
        if let Some(after) = self.session.runs().get(run).map(|r| r.optimizer().lr()) {
            let text = feedback::lr_changed(&self.selected_label(), name, before, after);
            self.say(text);
        }
    }

    /// Loads a scenario file. `fresh` (opened with `o`): it starts paused with its description
    /// up; otherwise (a reload) it keeps the pause state and says "reloaded NAME".
    pub(super) fn load(&mut self, path: &Path, fresh: bool) {
        match (self.loader)(path) {
            Ok(loaded) => {
                self.log.write(&format!("loaded {}", path.display()));
                let paused = self.session.is_paused();
                self.session = loaded.session;
                self.view = loaded.view;
                self.description = loaded.description;
                self.path = loaded.path.or_else(|| Some(path.to_path_buf()));
                self.scenario_state();
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                if fresh {
                    self.opened();
                    self.say(format!("opened {name}"));
                } else {
                    if paused {
                        self.send(Command::Pause);
                    }
                    self.say(format!("reloaded {name}"));
                }
            }
            Err(message) => {
                self.log
                    .write(&format!("load {} failed: {message}", path.display()));
                self.mode = Mode::Error(message);
            }
        }
    }
}
