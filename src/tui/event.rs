//! Input: the one key-binding table (key → [`Action`], with the text the help overlay shows),
//! the translation of terminal events into actions, and the [`EventSource`] the loop reads from
//! (the real terminal, or a script in tests).

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use ratatui::crossterm::event::{
    self as ct, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};

/// What the user asked for; [`crate::tui::app::App::update`] interprets it in the current mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Quit,
    /// Closes the open overlay (never quits).
    Back,
    SelectRun(usize),
    FocusNext,
    FocusPrev,
    Up,
    Down,
    Left,
    Right,
    Enter,
    Backspace,
    /// A typed character while a text field has the focus.
    Char(char),
    TogglePause,
    Step,
    Rewind(u64),
    Reset,
    Faster,
    Slower,
    HalveLr,
    DoubleLr,
    Edit,
    AddRun,
    /// Opens the add dialog with the new run starting at the selected run's point.
    AddRunHere,
    /// Refits the heatmap's colours to the window shown.
    RefitColours,
    RemoveRun,
    /// Puts the last removed run back.
    Undo,
    CycleEngine,
    /// Cycles the selected run's own engine.
    CycleRunEngine,
    /// Shows the scenario's description.
    About,
    /// Shows every hidden run.
    ShowAll,
    ToggleLog,
    /// Show or hide the selected run (landscape and loss chart).
    ToggleVisible,
    CycleView,
    ToggleXAxis,
    /// Fits the loss chart to the last part of the race.
    FitLast,
    CycleSmoothing,
    ToggleGradTape,
    /// Open or close the back-propagation view (graph and stepper, or the network).
    Backprop,
    /// The network view's next (true) or previous training example; past the ends, the mean.
    CycleExample(bool),
    /// The noise panel or the tape in the tape's place; in the back-propagation view, the
    /// stepper's mode (reverse, or forward seeded on each input in turn).
    ToggleNoise,
    /// Also draw each run's full training loss and test loss.
    ToggleFullLoss,
    Open,
    Reload,
    Help,
    /// Left click at a terminal cell.
    Click {
        column: u16,
        row: u16,
    },
    /// Scroll wheel at a terminal cell: `zoom_in` true for wheel up.
    Zoom {
        column: u16,
        row: u16,
        zoom_in: bool,
    },
    /// The watched scenario file changed on disk.
    FileChanged,
    Resize,
}

/// One entry of the key table. Entries sharing `keys` are listed once in the help.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    /// Only Ctrl-bindings look at modifiers; Shift is part of the character itself.
    pub ctrl: bool,
    pub action: Action,
    /// How the help writes the key(s).
    pub keys: &'static str,
    pub description: &'static str,
}

const fn key(c: char, action: Action, keys: &'static str, description: &'static str) -> Binding {
    Binding {
        code: KeyCode::Char(c),
        ctrl: false,
        action,
        keys,
        description,
    }
}

const fn special(
    code: KeyCode,
    action: Action,
    keys: &'static str,
    description: &'static str,
) -> Binding {
    Binding {
        code,
        ctrl: false,
        action,
        keys,
        description,
    }
}

const SELECT: &str = "select run";

/// Every key of the program in normal mode. The help overlay is generated from this table.
pub const BINDINGS: &[Binding] = &[
    key('1', Action::SelectRun(0), "1-9", SELECT),
    key('2', Action::SelectRun(1), "1-9", SELECT),
    key('3', Action::SelectRun(2), "1-9", SELECT),
    key('4', Action::SelectRun(3), "1-9", SELECT),
    key('5', Action::SelectRun(4), "1-9", SELECT),
    key('6', Action::SelectRun(5), "1-9", SELECT),
    key('7', Action::SelectRun(6), "1-9", SELECT),
    key('8', Action::SelectRun(7), "1-9", SELECT),
    key('9', Action::SelectRun(8), "1-9", SELECT),
    special(
        KeyCode::Tab,
        Action::FocusNext,
        "Tab/S-Tab",
        "focus next/previous panel",
    ),
    special(
        KeyCode::BackTab,
        Action::FocusPrev,
        "Tab/S-Tab",
        "focus next/previous panel",
    ),
    special(
        KeyCode::Up,
        Action::Up,
        "arrows",
        "scroll the focused panel (landscape: pan or move the cursor)",
    ),
    special(
        KeyCode::Down,
        Action::Down,
        "arrows",
        "scroll the focused panel (landscape: pan or move the cursor)",
    ),
    special(
        KeyCode::Left,
        Action::Left,
        "arrows",
        "scroll the focused panel (landscape: pan or move the cursor)",
    ),
    special(
        KeyCode::Right,
        Action::Right,
        "arrows",
        "scroll the focused panel (landscape: pan or move the cursor)",
    ),
    key(' ', Action::TogglePause, "Space", "pause / resume"),
    key('n', Action::Step, "n .", "one step"),
    key('.', Action::Step, "n .", "one step"),
    key(
        'b',
        Action::Rewind(1),
        "b",
        "step the selected run back 1 step",
    ),
    key(
        'B',
        Action::Rewind(10),
        "B",
        "step the selected run back 10 steps",
    ),
    key('r', Action::Reset, "r", "reset all runs"),
    key('+', Action::Faster, "+ -", "faster / slower"),
    key('=', Action::Faster, "+ -", "faster / slower"),
    key('-', Action::Slower, "+ -", "faster / slower"),
    key(
        '[',
        Action::HalveLr,
        "[ ]",
        "halve / double the selected run's lr",
    ),
    key(
        ']',
        Action::DoubleLr,
        "[ ]",
        "halve / double the selected run's lr",
    ),
    key(
        'e',
        Action::Edit,
        "e",
        "edit the selected run's hyperparameters",
    ),
    key('a', Action::AddRun, "a", "add an optimizer to the race"),
    key(
        'A',
        Action::AddRunHere,
        "A",
        "add one starting at the selected run's point",
    ),
    key('d', Action::RemoveRun, "d", "remove the selected run"),
    key('u', Action::Undo, "u", "undo the last removal"),
    key(
        'g',
        Action::CycleEngine,
        "g",
        "cycle every run's engine (forward, reverse, finite)",
    ),
    key(
        'G',
        Action::CycleRunEngine,
        "G",
        "cycle the selected run's engine",
    ),
    key('l', Action::ToggleLog, "l", "log scale"),
    key(
        'z',
        Action::RefitColours,
        "z",
        "refit the heatmap's colours to the window",
    ),
    special(
        KeyCode::Enter,
        Action::Enter,
        "Enter",
        "landscape: cursor on/off (arrows move it)",
    ),
    key(
        'h',
        Action::ToggleVisible,
        "h",
        "hide / show the selected run",
    ),
    key('H', Action::ShowAll, "H", "show every run"),
    key(
        'v',
        Action::CycleView,
        "v",
        "view: params, PCA, decision boundary",
    ),
    key(
        'x',
        Action::ToggleXAxis,
        "x",
        "loss x axis: steps/epochs/examples/evals/passes/seconds",
    ),
    key(
        'f',
        Action::FitLast,
        "f",
        "fit the loss chart to the last 50% / 10%",
    ),
    key('s', Action::CycleSmoothing, "s", "cycle loss smoothing"),
    key(
        't',
        Action::ToggleGradTape,
        "t",
        "gradients / tape (narrow terminals)",
    ),
    key(
        'p',
        Action::Backprop,
        "p",
        "back-propagation view (n b step it)",
    ),
    key(
        'c',
        Action::CycleExample(true),
        "c C",
        "network: next / previous example",
    ),
    key(
        'C',
        Action::CycleExample(false),
        "c C",
        "network: next / previous example",
    ),
    key(
        'm',
        Action::ToggleNoise,
        "m",
        "noise panel / tape; stepper mode",
    ),
    key(
        'F',
        Action::ToggleFullLoss,
        "F",
        "full loss (light), test loss (dark) too",
    ),
    key('o', Action::Open, "o", "open another scenario"),
    key('R', Action::Reload, "R", "reload the scenario file"),
    key(
        'i',
        Action::About,
        "i",
        "what this scenario shows (its description)",
    ),
    key('?', Action::Help, "?", "this help"),
    key('q', Action::Quit, "q", "quit"),
    special(KeyCode::Esc, Action::Back, "Esc", "close the overlay"),
    Binding {
        code: KeyCode::Char('c'),
        ctrl: true,
        action: Action::Quit,
        keys: "Ctrl-C",
        description: "quit",
    },
];

/// `(keys, description)` for the help overlay: one line per distinct `keys`, in table order,
/// plus the mouse.
#[must_use]
pub fn help_entries() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for b in BINDINGS {
        if !out.iter().any(|(k, _)| *k == b.keys) {
            out.push((b.keys, b.description));
        }
    }
    out.push(("click", "restart all runs from that point of the landscape"));
    out.push(("wheel", "zoom the landscape around the cursor"));
    out.extend_from_slice(BACKPROP_KEYS);
    out
}

/// The heading of the back-propagation view's keys in the help.
pub const BACKPROP_HEADING: &str = "in the back-propagation view (p):";

/// What the keys do while the back-propagation view is open (see `App::update_backprop`),
/// listed in the help after the heading; the other keys keep their meaning.
pub const BACKPROP_KEYS: &[(&str, &str)] = &[
    ("", BACKPROP_HEADING),
    ("n .", "next step: a value, then a chain-rule step"),
    ("b B", "step back 1 / 10 steps"),
    ("r", "back to the start of the replay"),
    ("↑↓", "graph: previous / next node; network: unit"),
    ("←→", "graph: previous / next node; network: layer"),
    ("m", "graph: reverse, or forward seeded on each input"),
    ("c C", "network: next / previous example, then the mean"),
    ("p Esc", "close the view"),
];

/// The action of a key in normal mode, from [`BINDINGS`].
#[must_use]
pub fn normal_action(k: &KeyEvent) -> Option<Action> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    BINDINGS
        .iter()
        .find(|b| b.ctrl == ctrl && b.code == k.code)
        .map(|b| b.action)
}

/// The action of a key while a text field or list has the focus: characters are typed.
#[must_use]
pub fn text_action(k: &KeyEvent) -> Option<Action> {
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        return (k.code == KeyCode::Char('c')).then_some(Action::Quit);
    }
    Some(match k.code {
        KeyCode::Char(c) => Action::Char(c),
        KeyCode::Enter => Action::Enter,
        KeyCode::Esc => Action::Back,
        KeyCode::Backspace => Action::Backspace,
        KeyCode::Up | KeyCode::BackTab => Action::Up,
        KeyCode::Down | KeyCode::Tab => Action::Down,
        KeyCode::Left => Action::Left,
        KeyCode::Right => Action::Right,
        _ => return None,
    })
}

/// What the loop receives: a terminal event or a change of the watched file.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Terminal(Event),
    FileChanged,
    /// Scripted sources only: end the current batch so a frame is drawn before the next event.
    Frame,
}

/// Translates an input into an action; `text` is true when a form or picker has the focus.
/// Only key presses count (not repeats or releases, which some terminals report).
#[must_use]
pub fn translate(input: &Input, text: bool) -> Option<Action> {
    match input {
        Input::FileChanged => Some(Action::FileChanged),
        Input::Frame => None,
        Input::Terminal(Event::Key(k)) => {
            if k.kind != KeyEventKind::Press {
                return None;
            }
            if text {
                text_action(k)
            } else {
                normal_action(k)
            }
        }
        Input::Terminal(Event::Mouse(m)) => match m.kind {
            MouseEventKind::Down(ct::MouseButton::Left) => Some(Action::Click {
                column: m.column,
                row: m.row,
            }),
            MouseEventKind::ScrollUp => Some(Action::Zoom {
                column: m.column,
                row: m.row,
                zoom_in: true,
            }),
            MouseEventKind::ScrollDown => Some(Action::Zoom {
                column: m.column,
                row: m.row,
                zoom_in: false,
            }),
            _ => None,
        },
        Input::Terminal(Event::Resize(..)) => Some(Action::Resize),
        Input::Terminal(_) => None,
    }
}

/// Where the loop gets its input from.
pub trait EventSource {
    /// Waits at most `timeout` for the next input; `Ok(None)` when none came.
    fn poll(&mut self, timeout: Duration) -> io::Result<Option<Input>>;
    /// Watch this scenario file for changes from now on (`None`: watch nothing).
    fn watch(&mut self, _path: Option<&Path>) {}
}

/// The real terminal plus a `notify` watcher on the scenario file.
#[derive(Default)]
pub struct TerminalEvents {
    watcher: Option<(PathBuf, notify::RecommendedWatcher, mpsc::Receiver<()>)>,
    /// Errors of the watcher, for the log.
    pub watch_error: Option<String>,
}

impl TerminalEvents {
    fn file_changed(&mut self) -> bool {
        let Some((_, _, rx)) = &self.watcher else {
            return false;
        };
        let mut changed = false;
        while rx.try_recv().is_ok() {
            changed = true;
        }
        changed
    }
}

impl EventSource for TerminalEvents {
    fn poll(&mut self, timeout: Duration) -> io::Result<Option<Input>> {
        if self.file_changed() {
            return Ok(Some(Input::FileChanged));
        }
        if ct::poll(timeout)? {
            return Ok(Some(Input::Terminal(ct::read()?)));
        }
        Ok(self.file_changed().then_some(Input::FileChanged))
    }

    fn watch(&mut self, path: Option<&Path>) {
        if self.watcher.as_ref().map(|w| w.0.as_path()) == path {
            return;
        }
        self.watcher = None;
        let Some(path) = path else {
            return;
        };
        match watch_file(path) {
            Ok((w, rx)) => self.watcher = Some((path.to_path_buf(), w, rx)),
            Err(e) => self.watch_error = Some(format!("cannot watch {}: {e}", path.display())),
        }
    }
}

/// Watches the file's directory rather than the file: editors often save by writing a new file
/// and renaming it over the old one, which ends a watch on the old inode.
fn watch_file(path: &Path) -> notify::Result<(notify::RecommendedWatcher, mpsc::Receiver<()>)> {
    use notify::Watcher as _;
    let (tx, rx) = mpsc::channel();
    let name = path.file_name().map(|n| n.to_os_string());
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            let ours = event
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == name);
            let content = event.kind.is_modify() || event.kind.is_create();
            if ours && content {
                let _ = tx.send(());
            }
        }
    })?;
    watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
    Ok((watcher, rx))
}

/// A scripted input sequence for tests; when it runs out it presses Ctrl-C so a loop always ends.
#[derive(Debug, Default)]
pub struct ScriptedEvents {
    inputs: VecDeque<Input>,
}

impl ScriptedEvents {
    #[must_use]
    pub fn new(inputs: impl IntoIterator<Item = Input>) -> Self {
        Self {
            inputs: inputs.into_iter().collect(),
        }
    }

    /// A script of key presses given as characters (`' '` is Space); `\x1b` is Esc, `\r`
    /// Enter and `←→↑↓` the arrows.
    #[must_use]
    pub fn keys(keys: &str) -> Self {
        Self::new(keys.chars().map(|c| match c {
            '\x1b' => press(KeyCode::Esc),
            '\t' => press(KeyCode::Tab),
            '\r' => press(KeyCode::Enter),
            '←' => press(KeyCode::Left),
            '→' => press(KeyCode::Right),
            '↑' => press(KeyCode::Up),
            '↓' => press(KeyCode::Down),
            c => press(KeyCode::Char(c)),
        }))
    }
}

/// A key press input.
#[must_use]
pub fn press(code: KeyCode) -> Input {
    Input::Terminal(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Ctrl + a character.
#[must_use]
pub fn ctrl(c: char) -> Input {
    Input::Terminal(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

impl EventSource for ScriptedEvents {
    fn poll(&mut self, _timeout: Duration) -> io::Result<Option<Input>> {
        match self.inputs.pop_front() {
            Some(Input::Frame) => Ok(None),
            Some(input) => Ok(Some(input)),
            None => Ok(Some(ctrl('c'))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_is_reachable_and_listed() {
        for b in BINDINGS {
            let mods = if b.ctrl {
                KeyModifiers::CONTROL
            } else {
                KeyModifiers::NONE
            };
            let k = KeyEvent::new(b.code, mods);
            assert_eq!(normal_action(&k), Some(b.action), "{}", b.keys);
        }
        let help = help_entries();
        assert!(help.iter().any(|(k, _)| *k == "1-9"));
        assert_eq!(help.iter().filter(|(k, _)| *k == "1-9").count(), 1);
        assert!(help.iter().any(|(k, d)| *k == "?" && d.contains("help")));
    }

    #[test]
    fn releases_are_ignored_and_shift_letters_differ() {
        let mut k = KeyEvent::new(KeyCode::Char('b'), KeyModifiers::NONE);
        k.kind = KeyEventKind::Release;
        assert_eq!(translate(&Input::Terminal(Event::Key(k)), false), None);
        let big_b = KeyEvent::new(KeyCode::Char('B'), KeyModifiers::SHIFT);
        assert_eq!(normal_action(&big_b), Some(Action::Rewind(10)));
        assert_eq!(translate(&ctrl('c'), true), Some(Action::Quit));
        assert_eq!(
            translate(&press(KeyCode::Char('q')), true),
            Some(Action::Char('q'))
        );
    }
}
