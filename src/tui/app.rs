//! UI state of the explorer (focus, selection, mode, speed, view settings, caches) and
//! [`App::update`], the single place where an [`Action`] changes anything. The session stays
//! the source of truth for runs; the app only reads it and sends it commands.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::layout::Rect;

use super::backprop::BackpropView;
use super::event::Action;
use super::feedback::{self, Toast};
use super::landscape::Worker;
use super::widgets::Crosshair;

mod race;
use super::noise::NoisePanel;
use super::{Loaded, Loader};
use crate::engines;
use crate::landscape::{self, Basis, Grid, Plane, Ranges, Surface, ViewSpec};
use crate::optim::HyperValue;
use crate::optim::{Domain, registry};
use crate::session::{Command, Run, Session};

/// Steps per run per second at each speed level (the last one is "as fast as the budget
/// allows"). Per second rather than per frame, so a slow terminal does not slow the race.
pub const SPEEDS: [u64; 10] = [1, 3, 10, 30, 100, 200, 500, 1000, 3000, u64::MAX];
/// 30 steps/s: slow enough to watch each run move (the explorer starts paused; `+` speeds up).
const DEFAULT_SPEED: usize = 3;
/// Frames per second the loop aims for.
pub const FPS: u64 = 30;
/// Smoothing weights `s` cycles through.
pub const SMOOTHING: [Option<f64>; 4] = [None, Some(0.6), Some(0.9), Some(0.99)];
/// The gradient panel recomputes at most this often while runs move.
const GRAD_INTERVAL: Duration = Duration::from_millis(250);
/// Wheel zoom factor per notch.
const ZOOM: f64 = 0.8;

/// The panels, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Landscape,
    Loss,
    Runs,
    Gradients,
    Tape,
}

impl Panel {
    const ALL: [Panel; 5] = [
        Panel::Landscape,
        Panel::Loss,
        Panel::Runs,
        Panel::Gradients,
        Panel::Tape,
    ];
    fn index(self) -> usize {
        Self::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// The loss chart's x axis: what the race is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    Steps,
    /// Examples seen over the training set's size (model objectives): fractional epochs.
    Epochs,
    /// Per-example gradients spent (model objectives).
    Examples,
    Evaluations,
    /// Passes over the function: what an engine's gradients (and Hessians) really cost.
    Passes,
    WallTime,
}

impl XAxis {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            XAxis::Steps => "step",
            XAxis::Epochs => "epoch",
            XAxis::Examples => "examples seen",
            XAxis::Evaluations => "evaluations",
            XAxis::Passes => "gradient passes",
            XAxis::WallTime => "seconds",
        }
    }

    /// The axis after this one; epochs and examples only where there is data (`data`).
    #[must_use]
    pub fn next(self, data: bool) -> Self {
        match self {
            XAxis::Steps if data => XAxis::Epochs,
            XAxis::Epochs => XAxis::Examples,
            XAxis::Steps | XAxis::Examples => XAxis::Evaluations,
            XAxis::Evaluations => XAxis::Passes,
            XAxis::Passes => XAxis::WallTime,
            XAxis::WallTime => XAxis::Steps,
        }
    }

    /// The point's x on this axis, for a training set of `n_train` examples.
    #[must_use]
    pub fn of(self, p: &crate::session::Point, n_train: f64) -> f64 {
        match self {
            XAxis::Steps => p.step as f64,
            XAxis::Epochs => p.examples as f64 / n_train,
            XAxis::Examples => p.examples as f64,
            XAxis::Evaluations => p.evaluations as f64,
            XAxis::Passes => p.passes as f64,
            XAxis::WallTime => p.wall_seconds,
        }
    }
}

/// "Fit to the last part": the share of the x axis `f` cycles through (`None`: all of it).
pub const FIT_LAST: [Option<f64>; 3] = [None, Some(0.5), Some(0.1)];
/// How far one arrow press moves the loss chart's cursor, as a share of the x axis.
const CURSOR_STEP: f64 = 0.02;

/// What a form field sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    /// A hyperparameter of this domain.
    Hyper(Domain),
    /// The run's `schedule`, written as a scenario writes it.
    Schedule,
    /// The run's `average` (EMA or SWA), written as a scenario writes it.
    Average,
}

/// One field of the hyperparameter form.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub text: String,
    pub description: String,
    pub kind: FieldKind,
    pub error: Option<String>,
    /// The text the form opened with: Enter on an unchanged schedule or average keeps it.
    pub initial: String,
}

impl Field {
    /// The line shown beside the field: a hyperparameter's description; for a schedule or an
    /// average, the one-line description of the kind typed, else the kinds to choose from.
    #[must_use]
    pub fn help(&self) -> String {
        let kinds: &[(&str, &str)] = match self.kind {
            FieldKind::Hyper(_) => return self.description.clone(),
            FieldKind::Schedule => crate::optim::schedule::KINDS,
            FieldKind::Average => crate::optim::averaging::KINDS,
        };
        let typed = self
            .text
            .split("kind:")
            .nth(1)
            .map(|rest| {
                rest.trim_start()
                    .split(|c: char| c == ',' || c == '}' || c.is_whitespace())
                    .next()
                    .unwrap_or("")
            })
            .unwrap_or("");
        match kinds.iter().find(|(k, _)| *k == typed) {
            Some((kind, what)) => format!("{kind}: {what}"),
            None => format!(
                "none, or {{kind: K, ...}} as in a scenario; K one of {}",
                kinds.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// The hyperparameter editor of one run (its schedule and averaging too).
#[derive(Debug, Clone, PartialEq)]
pub struct EditForm {
    pub run: usize,
    pub fields: Vec<Field>,
    pub selected: usize,
    /// Opened for a run just added (`a`): a schedule or average set here restarts it, so it
    /// runs from its first step with them.
    pub fresh: bool,
}

/// A list to choose from (optimizers, scenario files).
#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub items: Vec<String>,
    pub selected: usize,
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    Edit(EditForm),
    AddRun(Picker),
    Open(Picker),
    /// The scenario's description (what to look for).
    About,
    Error(String),
}

/// One tape node for display: operation, inputs, value, adjoint.
pub type TapeNode = (String, Vec<usize>, f64, f64);

/// Gradients of the selected run by every engine, at one point.
#[derive(Debug, Clone, Default)]
pub struct GradPanel {
    pub run: usize,
    pub params: Vec<f64>,
    pub names: Vec<String>,
    /// Per parameter: forward, reverse, finite.
    pub values: Vec<[f64; 3]>,
    /// Per engine (forward, reverse, finite): passes and nanoseconds per gradient.
    pub stats: [(u64, f64); 3],
    pub tape: Option<Vec<TapeNode>>,
    /// Why finite differences disagree here, when a known cause shows.
    pub finite_note: Option<&'static str>,
    computed: Option<Instant>,
}

/// Appends diagnostics to the `--log` file; silent without one (stdout belongs to the TUI).
#[derive(Debug, Default)]
pub struct Log {
    path: Option<PathBuf>,
}

impl Log {
    #[must_use]
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path }
    }
    pub fn write(&self, message: &str) {
        let Some(path) = &self.path else {
            return;
        };
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let _ = writeln!(f, "[{secs}] {message}");
        }
    }
}

/// Landscape state: the last grid (as a shaded surface), the request in flight and the zoom.
struct LandscapeState {
    worker: Worker,
    surface: Option<Surface>,
    next_id: u64,
    /// Id of the newest request sent.
    wanted: u64,
    /// Ranges chosen by the user (zoom/pan) or the scenario; `None` follows the trajectories.
    manual: Option<Ranges>,
    last_pca: Option<Instant>,
    /// Run and parameters the decision map was last requested for, and when.
    decision_for: Option<(usize, Vec<f64>)>,
    last_decision: Option<Instant>,
    /// Steps taken by all runs when the PCA plane was last asked for.
    pca_steps: u64,
    /// The heatmap's colour range, kept while the window pans, zooms or follows the runs over
    /// the same plane (so a place keeps its colour); `z` refits it.
    colours: Option<(f64, f64)>,
}

/// The explorer's state.
pub struct App {
    pub session: Session,
    pub view: ViewSpec,
    pub path: Option<PathBuf>,
    loader: Loader,
    pub mode: Mode,
    pub focus: Panel,
    pub selected: usize,
    pub speed: usize,
    pub log_scale: bool,
    pub x_axis: XAxis,
    pub smoothing: usize,
    /// Scroll offsets of the runs, gradient and tape panels.
    pub grad_scroll: usize,
    /// First entry of the help overlay shown (short terminals scroll it).
    pub help_scroll: usize,
    pub tape_scroll: usize,
    /// Narrow layouts show the tape instead of the gradients when set.
    pub show_tape: bool,
    pub ascii: bool,
    /// Hides wall-clock timings so snapshots are stable.
    pub deterministic: bool,
    pub quit: bool,
    pub steps_per_sec: f64,
    /// Fractional steps earned but not yet taken (slow speeds take less than one per frame).
    step_credit: f64,
    pub grad: GradPanel,
    /// Gradient-noise figures of the selected run (model objectives).
    pub noise: NoisePanel,
    /// The tape's place shows the noise panel (the default for model objectives).
    pub show_noise: bool,
    /// The loss chart also draws each run's full training loss and test loss.
    pub show_full_loss: bool,
    /// Where the landscape's plot area was last drawn (for mouse mapping).
    pub landscape_plot: Option<Rect>,
    pub log: Log,
    /// The training set's two features and classes, when a decision view is possible.
    pub data_points: Option<Vec<(f64, f64, usize)>>,
    /// Labels of the runs not drawn (landscape and loss chart); starts from `view.show`.
    pub hidden: Vec<String>,
    /// The back-propagation view (`p`) and the gradient-flow history.
    pub backprop: BackpropView,
    /// The loss chart's cursor as a share of the x axis; `None` when off.
    pub loss_cursor: Option<f64>,
    /// Where the loss chart's cursor fell on its x axis at the last draw (the landscape marks
    /// each run's point there).
    pub loss_cursor_x: Option<f64>,
    /// The landscape's crosshair (plane coordinates and the value there); `None` when off.
    pub landscape_cursor: Option<Crosshair>,
    /// The add dialog starts the new run at the selected run's point instead of the start.
    pub add_from_here: bool,
    /// Index into [`FIT_LAST`].
    pub fit_last: usize,
    /// The scenario's description, shown when it opens and on `i`.
    pub description: String,
    /// The last message of a key that changed state.
    pub toast: Option<Toast>,
    /// The last removed run and where it was, for `u`.
    removed: Option<(usize, Run)>,
    /// Whether every run had ended at the last frame (to say so once when they do).
    was_finished: bool,
    landscape: LandscapeState,
    /// Session and view changed (load/reload): the landscape must be recomputed.
    dirty_view: bool,
    /// Something the screen shows may have changed since the last draw (input, steps, a new
    /// grid or gradient panel): the loop draws only then, so a paused or finished session
    /// costs next to nothing.
    pub redraw: bool,
}

impl App {
    #[must_use]
    pub fn new(initial: Loaded, loader: Loader) -> Self {
        // The per-scenario fields start neutral here: `scenario_state` sets them below.
        let mut app = Self {
            log_scale: false,
            session: initial.session,
            view: initial.view,
            path: initial.path,
            loader,
            mode: Mode::Normal,
            focus: Panel::Landscape,
            selected: 0,
            speed: DEFAULT_SPEED,
            x_axis: XAxis::Steps,
            smoothing: 0,
            grad_scroll: 0,
            help_scroll: 0,
            tape_scroll: 0,
            show_tape: false,
            ascii: false,
            deterministic: false,
            quit: false,
            steps_per_sec: 0.0,
            step_credit: 0.0,
            grad: GradPanel::default(),
            noise: NoisePanel::default(),
            show_noise: false,
            show_full_loss: false,
            landscape_plot: None,
            log: Log::default(),
            landscape: LandscapeState {
                worker: Worker::spawn(),
                surface: None,
                next_id: 1,
                wanted: 0,
                manual: None,
                last_pca: None,
                decision_for: None,
                last_decision: None,
                colours: None,
                pca_steps: 0,
            },
            data_points: None,
            hidden: Vec::new(),
            backprop: BackpropView::default(),
            loss_cursor: None,
            loss_cursor_x: None,
            landscape_cursor: None,
            add_from_here: false,
            fit_last: 0,
            description: initial.description,
            toast: None,
            removed: None,
            was_finished: false,
            dirty_view: true,
            redraw: true,
        };
        app.scenario_state();
        app.opened();
        app
    }

    /// Sets the state that belongs to the scenario in `session` and `view`, when it opens and
    /// when one is loaded or reloaded: the landscape's ranges and scale, the panels computed
    /// for the old runs, the selection, the undo slot, the data points and the plane.
    fn scenario_state(&mut self) {
        self.landscape.manual = self.view.ranges();
        self.landscape.colours = None;
        self.landscape_cursor = None;
        self.log_scale = self.view.log_scale;
        // The gradient-flow panel's history is recorded by the runs as they step.
        self.session.track_flow(true);
        self.clamp_selection();
        self.grad = GradPanel::default();
        self.noise = NoisePanel::default();
        self.show_noise = self.session.objective().n_train().is_some();
        self.backprop.reset();
        self.mode = Mode::Normal;
        self.removed = None;
        self.data_points = self.session.objective().data_points_2d();
        self.normalize_plane();
        self.show_from_view();
        self.dirty_view = true;
    }

    /// A scenario just opened: it waits paused for the learner, with its description up.
    fn opened(&mut self) {
        self.send(Command::Pause);
        self.was_finished = self.session.is_finished();
        if !self.description.trim().is_empty() {
            self.mode = Mode::About;
        }
    }

    /// Shows a message in the message line.
    pub fn say(&mut self, text: impl Into<String>) {
        self.toast = Some(Toast::new(text));
        self.redraw = true;
    }

    /// The selected run's label, for messages.
    fn selected_label(&self) -> String {
        self.session
            .runs()
            .get(self.selected)
            .map(|r| crate::text::printable(r.label()).into_owned())
            .unwrap_or_default()
    }

    /// True while the keyboard goes to a form or a list.
    #[must_use]
    pub fn text_input(&self) -> bool {
        matches!(self.mode, Mode::Edit(_) | Mode::AddRun(_) | Mode::Open(_))
    }

    /// Whether the session is advancing on its own.
    #[must_use]
    pub fn running(&self) -> bool {
        !self.session.is_paused() && !self.session.is_finished()
    }

    /// Steps per run per second at the current speed (`u64::MAX`: as fast as possible).
    #[must_use]
    pub fn steps_per_second(&self) -> u64 {
        SPEEDS[self.speed.min(SPEEDS.len() - 1)]
    }

    fn send(&mut self, command: Command) {
        let text = format!("{command:?}");
        if let Err(e) = self.session.apply(command) {
            self.log.write(&format!("{text}: {e}"));
            self.mode = Mode::Error(e.to_string());
        }
    }

    fn clamp_selection(&mut self) {
        self.selected = self
            .selected
            .min(self.session.runs().len().saturating_sub(1));
    }

    /// Applies one action in the current mode.
    pub fn update(&mut self, action: Action) {
        self.redraw = true;
        match action {
            Action::Quit => self.quit = true,
            Action::Resize => {}
            Action::FileChanged => self.reload(),
            _ => match self.mode.clone() {
                Mode::Normal => self.update_normal(action),
                Mode::Help if matches!(action, Action::Up | Action::Down) => {
                    // ui::draw clamps the offset to the last page it can show.
                    self.help_scroll = if action == Action::Up {
                        self.help_scroll.saturating_sub(1)
                    } else {
                        self.help_scroll + 1
                    };
                }
                Mode::Help | Mode::About | Mode::Error(_) => {
                    if matches!(action, Action::Back | Action::Help | Action::Enter) {
                        self.mode = Mode::Normal;
                    } else if !matches!(action, Action::Help) {
                        // Any other key closes the overlay and acts, so nothing feels stuck.
                        self.mode = Mode::Normal;
                        self.update_normal(action);
                    }
                }
                Mode::Edit(form) => self.update_edit(form, action),
                Mode::AddRun(picker) if matches!(action, Action::Left | Action::Right) => {
                    // Where the new run starts: the scenario's start or the selected run's point.
                    self.add_from_here = !self.add_from_here;
                    self.mode = Mode::AddRun(picker);
                }
                // `e`: add the highlighted optimizer and open its form, to give it a schedule
                // or averaging (and hyperparameters) before it runs
                Mode::AddRun(picker) if action == Action::Char('e') => {
                    if let Some(name) = picker.items.get(picker.selected).cloned() {
                        self.mode = Mode::Normal;
                        self.add_run(&name);
                        if let Some(form) = self.edit_form(self.selected) {
                            self.mode = Mode::Edit(EditForm {
                                fresh: true,
                                ..form
                            });
                        }
                    }
                }
                Mode::AddRun(picker) => {
                    if let Some(name) = self.update_picker(picker, action, Mode::AddRun) {
                        self.add_run(&name);
                    }
                }
                Mode::Open(picker) => {
                    if let Some(path) = self.update_picker(picker, action, Mode::Open) {
                        self.load(Path::new(&path), true);
                    }
                }
            },
        }
    }

    fn update_normal(&mut self, action: Action) {
        if self.backprop.open && self.update_backprop(action) {
            return;
        }
        let run = self.selected;
        match action {
            Action::Backprop => {
                // The view shows one point: the race pauses while it is open.
                self.send(Command::Pause);
                self.backprop.open = true;
                self.tick_backprop();
            }
            Action::CycleExample(_) => {}
            // Esc only ever closes things: with no overlay it clears the message line.
            Action::Back => {
                self.toast = None;
                self.loss_cursor = None;
                self.landscape_cursor = None;
            }
            Action::Enter if self.focus == Panel::Landscape => self.toggle_landscape_cursor(),
            Action::RefitColours => self.refit_colours(),
            Action::SelectRun(i) => {
                if i < self.session.runs().len() {
                    self.selected = i;
                }
            }
            Action::FocusNext => self.focus = Panel::ALL[(self.focus.index() + 1) % 5],
            Action::FocusPrev => self.focus = Panel::ALL[(self.focus.index() + 4) % 5],
            Action::Up | Action::Down | Action::Left | Action::Right => self.scroll(action),
            Action::TogglePause => self.send(Command::TogglePause),
            Action::Step => {
                self.send(Command::Pause);
                self.send(Command::Step);
            }
            Action::Rewind(steps) => {
                self.send(Command::Pause);
                self.send(Command::Rewind { run, steps });
                if let Some(r) = self.session.runs().get(run) {
                    let text = feedback::stepped_back(&self.selected_label(), r.steps());
                    self.say(text);
                }
            }
            Action::Reset => {
                self.send(Command::Reset);
                self.say("every run restarted from the start");
            }
            Action::Faster | Action::Slower => {
                self.speed = if action == Action::Faster {
                    (self.speed + 1).min(SPEEDS.len() - 1)
                } else {
                    self.speed.saturating_sub(1)
                };
                self.say(format!("speed {}", self.speed_text()));
            }
            Action::HalveLr | Action::DoubleLr => {
                let factor = if action == Action::HalveLr { 0.5 } else { 2.0 };
                self.scale_lr(run, factor);
            }
            Action::Edit => {
                if let Some(form) = self.edit_form(run) {
                    self.mode = Mode::Edit(form);
                }
            }
            Action::AddRun | Action::AddRunHere => {
                let items = registry::names().iter().map(|s| (*s).to_owned()).collect();
                self.add_from_here = action == Action::AddRunHere;
                self.mode = Mode::AddRun(Picker { items, selected: 0 });
            }
            Action::RemoveRun => self.remove_run(run),
            Action::Undo => self.undo_remove(),
            Action::CycleEngine => {
                let engine = self.session.engine().cycle();
                self.send(Command::SetEngine(engine));
                self.say(format!(
                    "every run now uses {}",
                    feedback::engine_words(engine)
                ));
            }
            Action::CycleRunEngine => {
                if let Some(r) = self.session.runs().get(run) {
                    let engine = r.engine().cycle();
                    self.send(Command::SetRunEngine { run, engine });
                    let text = format!(
                        "{} now uses {}",
                        self.selected_label(),
                        feedback::engine_words(engine)
                    );
                    self.say(text);
                }
            }
            Action::About => self.mode = Mode::About,
            Action::ToggleLog => {
                self.log_scale = !self.log_scale;
                self.reshade();
            }
            Action::ToggleVisible => self.toggle_visible(),
            Action::ShowAll => {
                self.hidden.clear();
                self.say("every run shown");
            }
            Action::CycleView => self.cycle_view(),
            Action::ToggleXAxis => {
                // Epochs and examples mean something only with data.
                let data = self.session.objective().n_train().is_some();
                self.x_axis = self.x_axis.next(data);
                self.say(format!("loss against {}", self.x_axis.label()));
            }
            Action::FitLast => {
                self.fit_last = (self.fit_last + 1) % FIT_LAST.len();
                self.say(match FIT_LAST[self.fit_last] {
                    Some(share) => format!("loss fitted to the last {:.0}%", share * 100.0),
                    None => "loss over the whole race".to_owned(),
                });
            }
            Action::CycleSmoothing => self.smoothing = (self.smoothing + 1) % SMOOTHING.len(),
            Action::ToggleGradTape => self.show_tape = !self.show_tape,
            Action::ToggleNoise => self.show_noise = !self.show_noise,
            Action::ToggleFullLoss => self.show_full_loss = !self.show_full_loss,
            Action::Open => {
                self.mode = Mode::Open(Picker {
                    items: scenario_files(),
                    selected: 0,
                });
            }
            Action::Reload => self.reload(),
            Action::Help => {
                self.mode = Mode::Help;
                // From the back-propagation view, the help opens at that view's keys.
                self.help_scroll = if self.backprop.open {
                    super::event::help_entries()
                        .iter()
                        .position(|(_, d)| *d == super::event::BACKPROP_HEADING)
                        .unwrap_or(0)
                } else {
                    0
                };
            }
            Action::Click { column, row } => self.click(column, row),
            Action::Zoom {
                column,
                row,
                zoom_in,
            } => self.zoom(column, row, zoom_in),
            Action::Quit
            | Action::Enter
            | Action::Backspace
            | Action::Char(_)
            | Action::FileChanged
            | Action::Resize => {}
        }
    }

    fn scroll(&mut self, action: Action) {
        let up = matches!(action, Action::Up | Action::Left);
        let bump = |v: &mut usize| *v = if up { v.saturating_sub(1) } else { *v + 1 };
        match self.focus {
            Panel::Landscape if self.landscape_cursor.is_some() => self.move_cursor(action),
            Panel::Landscape => self.pan(action),
            Panel::Loss => {
                if matches!(action, Action::Left | Action::Right) {
                    // The cursor appears at the latest point, then moves; Esc removes it.
                    let step = if up { -CURSOR_STEP } else { CURSOR_STEP };
                    self.loss_cursor =
                        Some(self.loss_cursor.map_or(1.0, |c| (c + step).clamp(0.0, 1.0)));
                } else {
                    self.update_normal(Action::CycleSmoothing);
                }
            }
            Panel::Runs => {
                let n = self.session.runs().len();
                if up {
                    self.selected = self.selected.saturating_sub(1);
                } else if self.selected + 1 < n {
                    self.selected += 1;
                }
            }
            Panel::Gradients => {
                bump(&mut self.grad_scroll);
                self.grad_scroll = self
                    .grad_scroll
                    .min(self.grad.values.len().saturating_sub(1));
            }
            Panel::Tape if self.grad.tape.is_none() && self.flow().is_some() => {
                // The gradient-flow panel: left/right choose the figure drawn over time.
                if matches!(action, Action::Left | Action::Right) {
                    self.backprop.cycle_figure(action == Action::Right);
                }
            }
            Panel::Tape => {
                bump(&mut self.tape_scroll);
                let n = self.grad.tape.as_ref().map_or(0, Vec::len);
                self.tape_scroll = self.tape_scroll.min(n.saturating_sub(1));
            }
        }
    }

    // ---- hyperparameter form ----

    fn edit_form(&self, run: usize) -> Option<EditForm> {
        let r = self.session.runs().get(run)?;
        let spec = registry::spec(r.optimizer().name())?;
        let values = r.optimizer().hyperparameters();
        let mut fields: Vec<Field> = spec
            .hypers()
            .iter()
            .map(|h| {
                let text = values
                    .iter()
                    .find(|(n, _)| n == h.name)
                    .map_or_else(|| h.default.to_string(), |(_, v)| v.to_string());
                Field {
                    name: h.name.to_owned(),
                    initial: text.clone(),
                    text,
                    description: h.description.to_owned(),
                    kind: FieldKind::Hyper(h.domain),
                    error: None,
                }
            })
            .collect();
        // what the run has, by kind (a file's full settings are not written back)
        let option = |name: &str, kind: FieldKind, current: Option<&str>| {
            let text =
                current.map_or_else(|| "none".to_owned(), |k| format!("{{kind: {k}}} as loaded"));
            Field {
                name: name.to_owned(),
                initial: text.clone(),
                text,
                description: String::new(),
                kind,
                error: None,
            }
        };
        fields.push(option(
            "schedule",
            FieldKind::Schedule,
            r.spec
                .schedule
                .as_ref()
                .map(crate::optim::schedule::Schedule::kind),
        ));
        fields.push(option(
            "average",
            FieldKind::Average,
            r.spec
                .average
                .as_ref()
                .map(crate::optim::averaging::Averaging::name),
        ));
        Some(EditForm {
            run,
            fields,
            selected: 0,
            fresh: false,
        })
    }

    /// Applies a form field: a hyperparameter, or the run's schedule or averaging.
    fn apply_field(&mut self, run: usize, fresh: bool, f: &Field) -> Result<(), String> {
        let value = match f.kind {
            FieldKind::Hyper(domain) => parse_hyper(&f.text, domain)?,
            FieldKind::Schedule | FieldKind::Average if f.text == f.initial => return Ok(()),
            kind => {
                let r = self.session.runs().get(run).ok_or("no such run")?;
                let max_steps = r.stop_config().max_steps;
                let (schedule, average) = match kind {
                    FieldKind::Schedule => (f.text.as_str(), "none"),
                    _ => ("none", f.text.as_str()),
                };
                let spec = crate::scenario::run_options(
                    r.optimizer().name(),
                    schedule,
                    average,
                    max_steps,
                )?;
                let command = match kind {
                    FieldKind::Schedule => Command::SetSchedule {
                        run,
                        schedule: spec.schedule,
                        restart: fresh,
                    },
                    _ => Command::SetAverage {
                        run,
                        average: spec.average,
                        restart: fresh,
                    },
                };
                return self.session.apply(command).map_err(|e| e.to_string());
            }
        };
        self.session
            .apply(Command::SetHyperparameter {
                run,
                name: f.name.clone(),
                value,
            })
            .map_err(|e| e.to_string())
    }

    fn update_edit(&mut self, mut form: EditForm, action: Action) {
        let n = form.fields.len();
        match action {
            Action::Back => {
                self.mode = Mode::Normal;
                return;
            }
            Action::Up => form.selected = (form.selected + n.max(1) - 1) % n.max(1),
            Action::Down => form.selected = (form.selected + 1) % n.max(1),
            Action::Char(c) => {
                if let Some(f) = form.fields.get_mut(form.selected) {
                    f.text.push(c);
                }
            }
            Action::Backspace => {
                if let Some(f) = form.fields.get_mut(form.selected) {
                    f.text.pop();
                }
            }
            Action::Enter => {
                if let Some(field) = form.fields.get(form.selected) {
                    let result = self.apply_field(form.run, form.fresh, field);
                    if let Some(f) = form.fields.get_mut(form.selected) {
                        if result.is_ok() && !matches!(f.kind, FieldKind::Hyper(_)) {
                            // applied: Enter again keeps it
                            f.initial.clone_from(&f.text);
                        }
                        f.error = result.err();
                        if f.error.is_none() && form.selected + 1 < n {
                            form.selected += 1;
                        }
                    }
                }
            }
            _ => {}
        }
        self.mode = Mode::Edit(form);
    }

    /// Moves a picker; returns the chosen item on Enter.
    fn update_picker(
        &mut self,
        mut picker: Picker,
        action: Action,
        wrap: fn(Picker) -> Mode,
    ) -> Option<String> {
        let n = picker.items.len();
        match action {
            Action::Back => {
                self.mode = Mode::Normal;
                return None;
            }
            Action::Up => picker.selected = picker.selected.saturating_sub(1),
            Action::Down => picker.selected = (picker.selected + 1).min(n.saturating_sub(1)),
            Action::Enter => {
                self.mode = Mode::Normal;
                return picker.items.get(picker.selected).cloned();
            }
            _ => {}
        }
        self.mode = wrap(picker);
        None
    }

    // ---- loading ----

    /// Reloads the current file; an error keeps the running session and shows the message.
    pub fn reload(&mut self) {
        if let Some(path) = self.path.clone() {
            self.load(&path, false);
        }
    }

    // ---- landscape ----

    /// A plane the objective can show (see [`Plane::normalized`]).
    fn normalize_plane(&mut self) {
        let dim = self.session.objective().dim();
        self.view.plane = self.view.plane.normalized(dim, self.data_points.is_some());
    }

    fn cycle_view(&mut self) {
        let dim = self.session.objective().dim();
        self.view.plane = self.view.plane.next(dim, self.data_points.is_some());
        self.landscape.manual = None;
        self.landscape.colours = None;
        self.landscape_cursor = None;
        self.dirty_view = true;
    }

    /// Hides the runs `view.show` leaves out; a hidden selection moves to the first visible run.
    fn show_from_view(&mut self) {
        let runs = self.session.runs();
        self.hidden = runs
            .iter()
            .map(|r| r.label().to_owned())
            .filter(|l| !self.view.shows(l))
            .collect();
        if runs
            .get(self.selected)
            .is_some_and(|r| !self.view.shows(r.label()))
        {
            self.selected = self.view.first_shown(runs.iter().map(|r| r.label()));
        }
    }

    /// Shows or hides the selected run.
    fn toggle_visible(&mut self) {
        let Some(label) = self.session.runs().get(self.selected).map(|r| r.label()) else {
            return;
        };
        let shown = crate::text::printable(label).into_owned();
        if let Some(k) = self.hidden.iter().position(|l| l == label) {
            self.hidden.remove(k);
            self.say(format!("{shown} shown"));
        } else {
            self.hidden.push(label.to_owned());
            self.say(format!("{shown} hidden — h shows it, H shows all"));
        }
    }

    /// Whether the run labelled `label` is drawn.
    #[must_use]
    pub fn is_visible(&self, label: &str) -> bool {
        !self.hidden.iter().any(|l| l == label)
    }

    /// Re-shades the surface on screen (log scale toggled); the grid stays.
    fn reshade(&mut self) {
        if let Some(s) = self.landscape.surface.take() {
            self.landscape.surface = Some(Surface::with_scale(
                s.grid,
                self.log_scale,
                self.view.levels,
                s.scale,
            ));
        }
    }

    /// `z`: the heatmap's colours refitted to the values in the window now shown.
    fn refit_colours(&mut self) {
        if let Some(s) = self.landscape.surface.take() {
            let s = Surface::new(s.grid, self.log_scale, self.view.levels);
            self.landscape.colours = s.scale;
            if let Some((lo, hi)) = s.scale {
                let [lo, hi] = landscape::format_ticks(&[lo, hi])
                    .try_into()
                    .unwrap_or_default();
                self.say(format!("colours refitted to this window: {lo} to {hi}"));
            }
            self.landscape.surface = Some(s);
        }
    }

    /// Enter on the landscape: the crosshair appears at the selected run's point (or the
    /// window's centre when that is outside), or goes.
    fn toggle_landscape_cursor(&mut self) {
        if self.landscape_cursor.take().is_some() {
            return;
        }
        let Some(grid) = self.grid() else {
            return;
        };
        let window = (grid.x_range, grid.y_range);
        let centre = (
            (grid.x_range.0 + grid.x_range.1) / 2.0,
            (grid.y_range.0 + grid.y_range.1) / 2.0,
        );
        let at = self
            .session
            .runs()
            .get(self.selected)
            .map(|r| grid.basis.project(r.params()))
            .filter(|p| landscape::contains(window, *p))
            .unwrap_or(centre);
        self.set_cursor(at);
    }

    /// Arrows with the crosshair on: it moves a fortieth of the window, and stays inside.
    fn move_cursor(&mut self, action: Action) {
        let (Some(c), Some(grid)) = (self.landscape_cursor, self.grid()) else {
            return;
        };
        let ((x0, x1), (y0, y1)) = (grid.x_range, grid.y_range);
        let (dx, dy) = ((x1 - x0) / 40.0, (y1 - y0) / 40.0);
        let (mut a, mut b) = c.at;
        match action {
            Action::Left => a -= dx,
            Action::Right => a += dx,
            Action::Up => b += dy,
            _ => b -= dy,
        }
        self.set_cursor((a.clamp(x0, x1), b.clamp(y0, y1)));
    }

    /// Puts the crosshair at plane point `at` with the exact value there: the loss at the
    /// lifted parameters, or on a decision map the selected run's model at that feature point.
    fn set_cursor(&mut self, at: (f64, f64)) {
        let Some(basis) = self.grid().map(|g| g.basis.clone()) else {
            return;
        };
        let objective = self.session.objective();
        let value = match basis {
            Basis::Features => self
                .session
                .runs()
                .get(self.selected)
                .and_then(|r| objective.decision_value(r.params(), &[at.0, at.1]))
                .unwrap_or(f64::NAN),
            b => objective.value(&b.lift(at.0, at.1)),
        };
        self.landscape_cursor = Some(Crosshair { at, value });
    }

    /// The grid on screen, if one has arrived.
    #[must_use]
    pub fn grid(&self) -> Option<&Grid> {
        self.landscape.surface.as_ref().map(|s| &s.grid)
    }

    /// The shaded surface on screen, if a grid has arrived.
    #[must_use]
    pub fn surface(&self) -> Option<&Surface> {
        self.landscape.surface.as_ref()
    }

    /// Sends a landscape request when the view needs one; picks up finished grids. Cheap when
    /// nothing changed.
    pub fn tick_landscape(&mut self) {
        if let Some(g) = self.landscape.worker.try_latest() {
            self.accept_grid(g);
        }
        let needed = self.dirty_view || self.landscape_outdated();
        if needed {
            self.request_landscape();
        }
    }

    fn accept_grid(&mut self, g: Grid) {
        self.redraw = true;
        // An older grid still beats none; a newer request will replace it.
        if self.grid().is_none_or(|old| g.id >= old.id) {
            // Over the same plane the colours stay: panning or following the runs does not
            // recolour a place. A new plane gets its own range.
            let keep = self.landscape.colours.filter(|_| {
                self.grid()
                    .is_some_and(|old| old.basis.same_plane(&g.basis))
            });
            let surface = Surface::with_scale(g, self.log_scale, self.view.levels, keep);
            self.landscape.colours = surface.scale;
            self.landscape.surface = Some(surface);
            if let Some(c) = self.landscape_cursor {
                self.set_cursor(c.at);
            }
        }
    }

    fn landscape_outdated(&self) -> bool {
        let Some(grid) = self.grid() else {
            return false;
        };
        if self.landscape.wanted != grid.id {
            return false; // a request is in flight
        }
        if self.view.plane == Plane::Decision {
            let Some(run) = self.session.runs().get(self.selected) else {
                return false;
            };
            let moved = self
                .landscape
                .decision_for
                .as_ref()
                .is_none_or(|(i, p)| *i != self.selected || p.as_slice() != run.params());
            let throttled = self
                .landscape
                .last_decision
                .is_some_and(|t| t.elapsed() < GRAD_INTERVAL);
            let switched = self
                .landscape
                .decision_for
                .as_ref()
                .is_some_and(|(i, _)| *i != self.selected);
            return moved && (switched || self.deterministic || !throttled);
        }
        if self.view.plane == Plane::Pca {
            let stale = self
                .landscape
                .last_pca
                .is_none_or(|t| t.elapsed() > Duration::from_secs(2));
            // A random plane stands in until the paths spread: look again after steps taken
            // by hand too, not only while running.
            let waiting = matches!(grid.basis, Basis::Random { .. })
                && self.total_steps() != self.landscape.pca_steps;
            if (stale && self.running()) || (waiting && (stale || self.deterministic)) {
                return true;
            }
        }
        if self.landscape.manual.is_some() {
            return false;
        }
        // Only runs that have not diverged move the window; a diverged one is marked at the
        // edge it left by.
        let ranges = (grid.x_range, grid.y_range);
        self.session.runs().iter().any(|r| {
            !matches!(r.status(), crate::session::Status::Diverged(_))
                && !landscape::contains(ranges, grid.basis.project(r.params()))
        })
    }

    fn request_landscape(&mut self) {
        let id = self.landscape.next_id;
        self.landscape.next_id += 1;
        match self.view.plane {
            Plane::Decision => {
                let params = self
                    .session
                    .runs()
                    .get(self.selected)
                    .map_or_else(|| self.session.objective().start(), |r| r.params().to_vec());
                self.landscape.decision_for = Some((self.selected, params));
                self.landscape.last_decision = Some(Instant::now());
            }
            Plane::Pca => {
                self.landscape.last_pca = Some(Instant::now());
                self.landscape.pca_steps = self.total_steps();
            }
            Plane::Params(..) => {}
        }
        let request = landscape::Request {
            id,
            ..landscape::request(
                &self.session,
                self.view.plane,
                self.selected,
                self.landscape.manual,
                self.data_points.as_deref(),
            )
        };
        self.dirty_view = false;
        if self.landscape.worker.send(request) {
            self.landscape.wanted = id;
        } else {
            self.log.write("landscape worker stopped");
        }
    }

    /// Steps taken by every run together (what a recomputed plane would see of them).
    fn total_steps(&self) -> u64 {
        self.session.runs().iter().map(Run::steps).sum()
    }

    /// Blocks until the newest requested grid is in (tests and benchmarks only).
    pub fn settle_landscape(&mut self) {
        self.tick_landscape();
        while self.grid().is_none_or(|g| g.id != self.landscape.wanted) {
            match self.landscape.worker.wait() {
                Some(g) => self.accept_grid(g),
                None => break,
            }
        }
    }

    /// Plane coordinates of a terminal cell inside the landscape plot.
    #[must_use]
    pub fn cell_to_plane(&self, column: u16, row: u16) -> Option<(f64, f64)> {
        let plot = self.landscape_plot?;
        let grid = self.grid()?;
        if !plot.contains(ratatui::layout::Position { x: column, y: row }) {
            return None;
        }
        let fx = (f64::from(column - plot.x) + 0.5) / f64::from(plot.width);
        let fy = (f64::from(row - plot.y) + 0.5) / f64::from(plot.height);
        let (x0, x1) = grid.x_range;
        let (y0, y1) = grid.y_range;
        Some((x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)))
    }

    fn click(&mut self, column: u16, row: u16) {
        let Some((a, b)) = self.cell_to_plane(column, row) else {
            return;
        };
        let Some(basis) = self.grid().map(|g| g.basis.clone()) else {
            return;
        };
        if basis == Basis::Features {
            return; // a point of feature space is not a parameter vector
        }
        let point = basis.lift(a, b);
        self.log.write(&format!("restart from {point:?}"));
        self.send(Command::RestartFrom(point));
    }

    fn zoom(&mut self, column: u16, row: u16, zoom_in: bool) {
        let (Some((a, b)), Some(grid)) = (self.cell_to_plane(column, row), self.grid()) else {
            return;
        };
        let f = if zoom_in { ZOOM } else { 1.0 / ZOOM };
        let scale = |(lo, hi): (f64, f64), c: f64| (c + (lo - c) * f, c + (hi - c) * f);
        self.landscape.manual = Some((scale(grid.x_range, a), scale(grid.y_range, b)));
        self.dirty_view = true;
    }

    fn pan(&mut self, action: Action) {
        // From the window asked for last, not the grid on screen: presses quicker than the
        // worker add up instead of each starting again from the old picture.
        let Some((mut xr, mut yr)) = self
            .landscape
            .manual
            .or_else(|| self.grid().map(|g| (g.x_range, g.y_range)))
        else {
            return;
        };
        let dx = (xr.1 - xr.0) * 0.1;
        let dy = (yr.1 - yr.0) * 0.1;
        let shift = |r: &mut (f64, f64), d: f64| *r = (r.0 + d, r.1 + d);
        match action {
            Action::Left => shift(&mut xr, -dx),
            Action::Right => shift(&mut xr, dx),
            Action::Up => shift(&mut yr, dy),
            _ => shift(&mut yr, -dy),
        }
        self.landscape.manual = Some((xr, yr));
        self.dirty_view = true;
    }

    // ---- gradient panel ----

    /// Recomputes the gradient panel when the selected run moved (throttled while running).
    pub fn tick_gradients(&mut self) {
        let Some(run) = self.session.runs().get(self.selected) else {
            return;
        };
        let same = self.grad.run == self.selected && self.grad.params == run.params();
        if same && self.grad.computed.is_some() {
            return;
        }
        let throttled = self
            .grad
            .computed
            .is_some_and(|t| t.elapsed() < GRAD_INTERVAL);
        if throttled && !self.deterministic && self.grad.run == self.selected {
            return;
        }
        let objective = run.objective();
        let x = run.params().to_vec();
        // Cheap gradients are repeated for about a millisecond, so the time is not just the
        // clock's resolution; snapshots (deterministic) time nothing.
        let budget = if self.deterministic {
            Duration::ZERO
        } else {
            Duration::from_millis(1)
        };
        let comparison = engines::compare(objective, &x, budget);
        let stats = std::array::from_fn(|e| {
            let ns = if self.deterministic {
                f64::NAN
            } else {
                comparison.nanos[e]
            };
            (comparison.passes[e] as u64, ns)
        });
        let tape = objective.tape_nodes(&x).map(|nodes| {
            // Each operation written out over its operands (`x^2`, `1 - x`, `100·t6`), with
            // the expression's names for inputs and let lines where there is an expression.
            let names: Vec<String> = objective
                .expression()
                .map(|e| crate::backprop::Graph::new(e, &x))
                .filter(|g| g.nodes.len() == nodes.len())
                .map(|g| g.nodes.into_iter().map(|n| n.name).collect())
                .unwrap_or_default();
            let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| format!("t{i}"));
            nodes
                .into_iter()
                .enumerate()
                .map(|(k, node)| {
                    let text = if node.inputs.is_empty() {
                        format!("{} (input)", name(k))
                    } else {
                        format!(
                            "{} = {}",
                            name(k),
                            node.describe(name, crate::backprop::short)
                        )
                    };
                    (text, node.inputs, node.value, node.adjoint)
                })
                .collect()
        });
        self.redraw = true;
        self.grad = GradPanel {
            run: self.selected,
            params: x,
            names: objective.param_names(),
            values: comparison.values,
            stats,
            tape,
            finite_note: comparison.finite_note,
            computed: Some(Instant::now()),
        };
    }

    /// Advances the session for one frame that lasted `elapsed`: the steps the speed allows in
    /// that time (fractions carry over), within the time budget. Returns the steps each run took.
    pub fn advance(&mut self, budget: Duration, elapsed: Duration) -> u64 {
        if !self.running() {
            self.step_credit = 0.0;
            return 0;
        }
        let rate = self.steps_per_second();
        let limit = if rate == u64::MAX {
            u64::MAX
        } else {
            // At most three frames' worth at once, so a stall does not end in a burst.
            let cap = (rate as f64 * 3.0 / FPS as f64).max(1.0);
            self.step_credit = (self.step_credit + rate as f64 * elapsed.as_secs_f64()).min(cap);
            // The epsilon keeps ten frames of 0.1 steps from summing to 0.999... and no step.
            (self.step_credit + 1e-9).floor() as u64
        };
        let started = Instant::now();
        let mut taken = 0;
        while taken < limit && !self.session.is_finished() {
            self.session.step_all();
            taken += 1;
            // Checked after every round: one round of a forward-mode model step can take tens
            // of milliseconds, and input must stay responsive.
            if started.elapsed() >= budget {
                break;
            }
        }
        if rate != u64::MAX {
            // Steps the budget cut off are dropped, not owed.
            self.step_credit = (self.step_credit - taken as f64).clamp(0.0, 1.0);
        }
        taken
    }

    /// The loop's per-frame bookkeeping after input: step, then refresh caches.
    pub fn frame(&mut self, budget: Duration, frame_time: Duration) {
        let taken = self.advance(budget, frame_time);
        let rate = taken as f64 / frame_time.as_secs_f64().max(1e-3);
        let before = self.steps_per_sec;
        self.steps_per_sec = if !self.running() {
            0.0
        } else if self.deterministic {
            self.steps_per_second().min(1_000_000) as f64
        } else {
            0.8 * self.steps_per_sec + 0.2 * rate
        };
        let finished = self.session.is_finished();
        if finished && !self.was_finished {
            self.say("every run has finished — r restarts, b steps back");
        }
        if !self.deterministic
            && self
                .toast
                .as_ref()
                .is_some_and(|t| t.expired(Instant::now()))
        {
            self.toast = None;
            self.redraw = true;
        }
        self.redraw |= taken > 0 || self.steps_per_sec != before || finished != self.was_finished;
        self.was_finished = finished;
        self.tick_landscape();
        self.tick_gradients();
        self.tick_backprop();
        self.tick_noise();
    }

    /// The selected run's recorded gradient flow (layered models).
    #[must_use]
    pub fn flow(&self) -> Option<&crate::backprop::flow::FlowHistory> {
        self.session.runs().get(self.selected)?.flow()
    }

    /// Refreshes the back-propagation view.
    pub fn tick_backprop(&mut self) {
        self.backprop
            .tick(&self.session, self.selected, self.deterministic);
    }

    /// Keys that drive the back-propagation view while it is open; false for the others.
    pub(super) fn update_backprop(&mut self, action: Action) -> bool {
        let view = &mut self.backprop;
        match action {
            Action::Back | Action::Backprop => view.open = false,
            Action::Step => view.step(1),
            Action::Rewind(k) => view.step(-isize::try_from(k).unwrap_or(isize::MAX)),
            Action::Reset => view.restart(),
            Action::Up => view.select(-1, 0),
            Action::Down => view.select(1, 0),
            Action::Left => view.select(0, -1),
            Action::Right => view.select(0, 1),
            // `m` is the noise panel's key outside the view, the stepper's mode inside it.
            Action::ToggleNoise => view.cycle_mode(),
            Action::CycleExample(next) => view.cycle_example(next),
            _ => return false,
        }
        self.tick_backprop();
        true
    }

    /// Collects or starts the noise panel's per-example gradients while the panel is shown.
    pub fn tick_noise(&mut self) {
        if self.show_noise {
            self.noise
                .tick(&self.session, self.selected, self.deterministic);
        }
    }

    /// The basis of the grid on screen.
    #[must_use]
    pub fn basis(&self) -> Option<&Basis> {
        self.grid().map(|g| &g.basis)
    }
}

/// Parses a form field by the hyperparameter's domain ([`Domain::parse`]: numbers, `true`,
/// `(a, b)`, `(None, b)`, `(a, b, c)`, a choice's name); the registry then checks the range.
pub fn parse_hyper(text: &str, domain: Domain) -> Result<HyperValue, String> {
    domain.parse(text)
}

/// `*.yaml` and `*.yml` files in `scenarios/` and the current directory, sorted, then the
/// bundled scenarios no file shadows (by name: the loader finds them from any directory).
#[must_use]
pub fn scenario_files() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["scenarios", "."] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let yaml = p.extension().is_some_and(|x| x == "yaml" || x == "yml");
            if yaml && p.is_file() {
                out.push(p.to_string_lossy().trim_start_matches("./").to_owned());
            }
        }
    }
    out.sort();
    let on_disk = out.clone();
    for name in crate::scenario::bundled::names() {
        let shadowed = on_disk
            .iter()
            .any(|f| Path::new(f).file_stem().is_some_and(|stem| stem == name));
        if !shadowed {
            out.push(name.to_owned());
        }
    }
    out
}
