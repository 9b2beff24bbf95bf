//! The explorer: random scripts of keys (every binding, typed text in the forms and pickers,
//! unbound keys, releases), mouse clicks, drags and wheel turns anywhere (also off the screen),
//! file changes, focus changes and terminal resizes from 0x0 to 400x150, through the real event
//! loop (`tui::run_loop`) on a `TestBackend`, on an expression race (Rosenbrock, with L-BFGS and
//! Newton), two- and three-class models with the decision view (logistic regression, softmax on
//! blobs) and an MLP (XOR).
//!
//! Nothing may panic (the landscape worker's thread included). After every stretch of input
//! the state must hold together: the selected run exists, labels are unique, each run's
//! history ends at its step count and its parameters fit the objective, an open form or list
//! points inside itself, the decision view is only shown with data, and no screen cell holds a
//! control character. Each script ends by stepping and stepping back (`n`, `b`): the other runs
//! must not move, and stepping back twice from the same place must land on the same state, bit
//! for bit.
//!
//! Scripts are written as text (see [`parse`]), so a failing one goes to
//! `tests/fuzz-corpus/tui/` as it is printed. Steps are taken within the loop's time budget, so
//! a script replays the same inputs but not always the same number of steps.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::time::Duration;

use gradscope::landscape::{Plane, ViewSpec};
use gradscope::scenario::{self, Overrides};
use gradscope::session::Session;
use gradscope::tui::app::{App, Mode};
use gradscope::tui::event::{Action, EventSource, Input, ctrl};
use gradscope::tui::{Loaded, Loader, run_loop, ui};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::{Fuzz, acts_on_terminal, corpus, limits, preview};

/// Generated scripts in `cargo test`, spread over [`SCENARIOS`].
const CASES: u64 = 21;

/// An expression race, two- and three-class models with the decision view, and an MLP (whose
/// steps cost the most, the finite engine's above all: one script in seven).
const SCENARIOS: &[&str] = &[
    "scenarios/rosenbrock.yaml",
    "scenarios/logistic_regression.yaml",
    "scenarios/softmax_blobs.yaml",
    "scenarios/rosenbrock.yaml",
    "scenarios/logistic_regression.yaml",
    "scenarios/softmax_blobs.yaml",
    "scenarios/xor_mlp.yaml",
];

/// Keys that act in normal mode, and characters the forms take.
const KEYS: &str = "123456789 nb.BrR+=-[]eadglhvxst?o0.-e()N,;é";

/// Terminal sizes a script resizes to, besides random ones.
const SIZES: &[(u16, u16)] = &[
    (0, 0),
    (1, 1),
    (2, 1),
    (1, 2),
    (3, 3),
    (10, 5),
    (20, 8),
    (40, 12),
    (60, 20),
    (79, 23),
    (80, 24),
    (100, 30),
    (120, 40),
    (200, 60),
    (400, 150),
];

/// One scripted event.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Key(KeyCode),
    Ctrl(char),
    Release(char),
    Mouse(MouseEventKind, u16, u16),
    Resize(u16, u16),
    Frame,
    FileChanged,
    FocusLost,
}

impl Tok {
    fn input(&self) -> Input {
        let key = |code, modifiers| Input::Terminal(Event::Key(KeyEvent::new(code, modifiers)));
        match self {
            Tok::Key(code) => key(*code, KeyModifiers::NONE),
            Tok::Ctrl(c) => ctrl(*c),
            Tok::Release(c) => {
                let mut k = KeyEvent::new(KeyCode::Char(*c), KeyModifiers::NONE);
                k.kind = KeyEventKind::Release;
                Input::Terminal(Event::Key(k))
            }
            Tok::Mouse(kind, column, row) => Input::Terminal(Event::Mouse(MouseEvent {
                kind: *kind,
                column: *column,
                row: *row,
                modifiers: KeyModifiers::NONE,
            })),
            Tok::Resize(w, h) => Input::Terminal(Event::Resize(*w, *h)),
            Tok::Frame => Input::Frame,
            Tok::FileChanged => Input::FileChanged,
            Tok::FocusLost => Input::Terminal(Event::FocusLost),
        }
    }

    /// The token as a script writes it.
    fn text(&self) -> String {
        let named = [
            (KeyCode::Esc, "esc"),
            (KeyCode::Enter, "enter"),
            (KeyCode::Tab, "tab"),
            (KeyCode::BackTab, "backtab"),
            (KeyCode::Backspace, "bs"),
            (KeyCode::Up, "up"),
            (KeyCode::Down, "down"),
            (KeyCode::Left, "left"),
            (KeyCode::Right, "right"),
            (KeyCode::Home, "home"),
            (KeyCode::Delete, "del"),
            (KeyCode::F(5), "f5"),
        ];
        let mouse = [
            (MouseEventKind::Down(MouseButton::Left), "click"),
            (MouseEventKind::Drag(MouseButton::Left), "drag"),
            (MouseEventKind::ScrollUp, "wheelup"),
            (MouseEventKind::ScrollDown, "wheeldown"),
        ];
        match self {
            Tok::Key(KeyCode::Char(c)) => format!("k:{}", char_text(*c)),
            Tok::Key(code) => named
                .iter()
                .find(|(k, _)| k == code)
                .map_or_else(|| format!("{code:?}"), |(_, n)| (*n).into()),
            Tok::Ctrl(c) => format!("ctrl:{}", char_text(*c)),
            Tok::Release(c) => format!("release:{}", char_text(*c)),
            Tok::Mouse(kind, c, r) => {
                let name = mouse
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map_or("mouse", |m| m.1);
                format!("{name}:{c},{r}")
            }
            Tok::Resize(w, h) => format!("resize:{w}x{h}"),
            Tok::Frame => "frame".into(),
            Tok::FileChanged => "file-changed".into(),
            Tok::FocusLost => "focus-lost".into(),
        }
    }

    fn parse(word: &str) -> Result<Tok, String> {
        let pair = |s: &str, sep: char| -> Result<(u16, u16), String> {
            let (a, b) = s.split_once(sep).ok_or(format!("'{word}': no '{sep}'"))?;
            let n = |t: &str| t.parse::<u16>().map_err(|e| format!("'{word}': {e}"));
            Ok((n(a)?, n(b)?))
        };
        let char_of = |s: &str| {
            if s == "space" {
                return Ok(' ');
            }
            if let Some(hex) = s.strip_prefix("U+") {
                return u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or(format!("'{word}': not a character"));
            }
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(format!("'{word}': one character expected")),
            }
        };
        Ok(match word.split_once(':') {
            Some(("k", c)) => Tok::Key(KeyCode::Char(char_of(c)?)),
            Some(("ctrl", c)) => Tok::Ctrl(char_of(c)?),
            Some(("release", c)) => Tok::Release(char_of(c)?),
            Some(("resize", s)) => {
                let (w, h) = pair(s, 'x')?;
                Tok::Resize(w, h)
            }
            Some((kind, s)) => {
                let (c, r) = pair(s, ',')?;
                let kind = match kind {
                    "click" => MouseEventKind::Down(MouseButton::Left),
                    "drag" => MouseEventKind::Drag(MouseButton::Left),
                    "wheelup" => MouseEventKind::ScrollUp,
                    "wheeldown" => MouseEventKind::ScrollDown,
                    _ => return Err(format!("unknown event '{word}'")),
                };
                Tok::Mouse(kind, c, r)
            }
            None => match word {
                "frame" => Tok::Frame,
                "file-changed" => Tok::FileChanged,
                "focus-lost" => Tok::FocusLost,
                _ => {
                    let all = [
                        KeyCode::Esc,
                        KeyCode::Enter,
                        KeyCode::Tab,
                        KeyCode::BackTab,
                        KeyCode::Backspace,
                        KeyCode::Up,
                        KeyCode::Down,
                        KeyCode::Left,
                        KeyCode::Right,
                        KeyCode::Home,
                        KeyCode::Delete,
                        KeyCode::F(5),
                    ];
                    all.into_iter()
                        .map(Tok::Key)
                        .find(|t| t.text() == word)
                        .ok_or(format!("unknown event '{word}'"))?
                }
            },
        })
    }
}

/// A character as a script writes it: itself, or `space`, or `U+XXXX` for white space and
/// characters a terminal acts on (so that scripts stay plain text).
fn char_text(c: char) -> String {
    if c == ' ' {
        "space".into()
    } else if c.is_whitespace() || acts_on_terminal(c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        c.to_string()
    }
}

/// A script: the scenario, the first terminal size, the events.
#[derive(Debug, Clone)]
struct Script {
    scenario: String,
    size: (u16, u16),
    events: Vec<Tok>,
}

impl Script {
    /// `scenario: <path>` and `size: <w>x<h>` lines, then the events separated by white space.
    fn text(&self) -> String {
        let mut out = format!(
            "scenario: {}\nsize: {}x{}\n",
            self.scenario, self.size.0, self.size.1
        );
        for chunk in self.events.chunks(12) {
            let words: Vec<String> = chunk.iter().map(Tok::text).collect();
            out.push_str(&words.join(" "));
            out.push('\n');
        }
        out
    }
}

/// Reads a script written by [`Script::text`].
fn parse(text: &str) -> Result<Script, String> {
    let mut lines = text.lines();
    let scenario = lines
        .next()
        .and_then(|l| l.strip_prefix("scenario: "))
        .ok_or("the first line is not 'scenario: <path>'")?
        .trim()
        .to_string();
    let size = lines
        .next()
        .and_then(|l| l.strip_prefix("size: "))
        .ok_or("the second line is not 'size: <w>x<h>'")?;
    let Tok::Resize(w, h) = Tok::parse(&format!("resize:{}", size.trim()))? else {
        return Err("bad size".into());
    };
    let events = lines
        .flat_map(str::split_whitespace)
        .map(Tok::parse)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Script {
        scenario,
        size: (w, h),
        events,
    })
}

fn size(rng: &mut ChaCha8Rng) -> (u16, u16) {
    if rng.random_range(0..3) == 0 {
        (rng.random_range(1..=300), rng.random_range(1..=100))
    } else {
        SIZES[rng.random_range(0..SIZES.len())]
    }
}

/// `len` random events.
fn events(rng: &mut ChaCha8Rng, len: usize) -> Vec<Tok> {
    let keys: Vec<char> = KEYS.chars().collect();
    let specials = [
        KeyCode::Esc,
        KeyCode::Enter,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Backspace,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Home,
        KeyCode::Delete,
        KeyCode::F(5),
    ];
    let mouse = [
        MouseEventKind::Down(MouseButton::Left),
        MouseEventKind::Drag(MouseButton::Left),
        MouseEventKind::ScrollUp,
        MouseEventKind::ScrollDown,
    ];
    (0..len)
        .map(|_| match rng.random_range(0..100) {
            0..=54 => Tok::Key(KeyCode::Char(keys[rng.random_range(0..keys.len())])),
            55..=69 => Tok::Key(specials[rng.random_range(0..specials.len())]),
            70..=75 => Tok::Mouse(
                mouse[rng.random_range(0..mouse.len())],
                rng.random_range(0..420),
                rng.random_range(0..160),
            ),
            76..=79 => {
                let (w, h) = size(rng);
                Tok::Resize(w, h)
            }
            80..=93 => Tok::Frame,
            94 => Tok::FileChanged,
            95 => Tok::FocusLost,
            96 => Tok::Release(keys[rng.random_range(0..keys.len())]),
            97 => Tok::Key(KeyCode::Char('q')),
            98 => Tok::Ctrl(if rng.random() { 'c' } else { 'l' }),
            _ => Tok::Key(KeyCode::Char(
                ['😀', '\u{202e}', 'Q', '~', '\u{7}'][rng.random_range(0..5)],
            )),
        })
        .collect()
}

/// Feeds a queue of inputs to the loop; `Frame` ends a batch, and an empty queue presses Ctrl-C.
struct Feed<'a>(&'a mut VecDeque<Input>);

impl EventSource for Feed<'_> {
    fn poll(&mut self, _timeout: Duration) -> io::Result<Option<Input>> {
        Ok(match self.0.pop_front() {
            Some(Input::Frame) => None,
            Some(input) => Some(input),
            None => Some(ctrl('c')),
        })
    }
}

/// Loads scenario files for `o` and reloads as the program does, under the suite's limits.
fn loader() -> Loader {
    Box::new(|path: &Path| {
        let overrides = Overrides {
            limits: Some(limits()),
            ..Overrides::default()
        };
        scenario::load_and_build(path, &overrides)
            .map(|b| Loaded {
                session: b.session,
                view: b.view,
                description: b.scenario.description,
                path: Some(path.to_path_buf()),
            })
            .map_err(|e| e.to_string())
    })
}

/// An explorer as the program opens it (not `deterministic`: that is for snapshots, and
/// recomputes the gradient panel on every frame instead of a few times a second).
fn app(loaded: Loaded) -> App {
    App::new(loaded, loader())
}

/// Runs the queued inputs through the loop until none is left (a scripted quit ends one loop;
/// the next picks up after it), checking the state after each loop.
fn flush(
    app: &mut App,
    term: &mut Terminal<TestBackend>,
    pending: &mut VecDeque<Input>,
) -> Result<(), String> {
    while !pending.is_empty() {
        run_loop(term, app, &mut Feed(pending)).map_err(|e| format!("the loop failed: {e}"))?;
        consistent(app, term)?;
    }
    Ok(())
}

/// Runs the script's events through the loop, checking the state after each stretch between
/// resizes and again whenever a scripted quit ended the loop early.
fn drive(app: &mut App, term: &mut Terminal<TestBackend>, events: &[Tok]) -> Result<(), String> {
    let mut pending: VecDeque<Input> = VecDeque::new();
    for tok in events {
        if let Tok::Resize(w, h) = tok {
            flush(app, term, &mut pending)?;
            term.backend_mut().resize(*w, *h);
        }
        pending.push_back(tok.input());
    }
    pending.push_back(Input::Frame);
    flush(app, term, &mut pending)?;
    term.draw(|f| ui::draw(f, app))
        .map_err(|e| format!("the last draw failed: {e}"))?;
    consistent(app, term)
}

/// The state holds together (see the module doc).
fn consistent(app: &App, term: &Terminal<TestBackend>) -> Result<(), String> {
    let runs = app.session.runs();
    if app.selected >= runs.len().max(1) {
        return Err(format!("run {} selected of {}", app.selected, runs.len()));
    }
    let dim = app.session.objective().dim();
    for (i, run) in runs.iter().enumerate() {
        if runs[..i].iter().any(|r| r.label() == run.label()) {
            return Err(format!("two runs are labelled '{}'", run.label()));
        }
        let points = run.history().points();
        let last = points.last().map(|p| p.step);
        if last != Some(run.steps()) || points.windows(2).any(|w| w[0].step >= w[1].step) {
            return Err(format!(
                "run '{}' at step {} has a history ending at {last:?}",
                run.label(),
                run.steps()
            ));
        }
        if run.params().len() != dim || points.iter().any(|p| p.params.len() != dim) {
            return Err(format!(
                "run '{}' has parameters of the wrong length",
                run.label()
            ));
        }
        if run.steps() > run.stop_config().max_steps {
            return Err(format!(
                "run '{}' took {} steps, more than its max_steps {}",
                run.label(),
                run.steps(),
                run.stop_config().max_steps
            ));
        }
    }
    match &app.mode {
        Mode::Edit(form) if form.run >= runs.len() || form.selected >= form.fields.len().max(1) => {
            return Err(format!(
                "the form edits run {} of {}, field {} of {}",
                form.run,
                runs.len(),
                form.selected,
                form.fields.len()
            ));
        }
        Mode::AddRun(p) | Mode::Open(p) if p.selected >= p.items.len().max(1) => {
            return Err(format!("item {} selected of {}", p.selected, p.items.len()));
        }
        _ => {}
    }
    if app.view.plane == Plane::Decision && app.data_points.is_none() {
        return Err("the decision view without data points".into());
    }
    let buffer = term.backend().buffer();
    if let Some(cell) = buffer
        .content()
        .iter()
        .find(|c| c.symbol().chars().any(acts_on_terminal))
    {
        return Err(format!("a cell shows {:?}", cell.symbol()));
    }
    Ok(())
}

/// What identifies a run's state: its step, parameters and loss, bit for bit.
fn states(app: &App) -> Vec<(u64, Vec<u64>, u64)> {
    app.session
        .runs()
        .iter()
        .map(|r| {
            (
                r.steps(),
                r.params().iter().map(|p| p.to_bits()).collect(),
                r.loss().to_bits(),
            )
        })
        .collect()
}

/// A step and a step back of the selected run (see the module doc).
fn step_back(app: &mut App) -> Result<(), String> {
    app.mode = Mode::Normal;
    if app.session.runs().is_empty() {
        return Ok(());
    }
    let r = app.selected;
    app.update(Action::Step);
    let stepped = states(app);
    app.update(Action::Rewind(1));
    let back = states(app);
    for (i, (a, b)) in stepped.iter().zip(&back).enumerate() {
        if i != r && a != b {
            return Err(format!("stepping run {r} back moved run {i}"));
        }
    }
    if back[r].0 != stepped[r].0.saturating_sub(1) {
        return Err(format!(
            "run {r} stepped back from step {} to {}",
            stepped[r].0, back[r].0
        ));
    }
    app.update(Action::Step);
    app.update(Action::Rewind(1));
    let again = states(app);
    if again[r] != back[r] {
        return Err(format!(
            "run {r}: stepping back twice from step {} gave different states",
            stepped[r].0
        ));
    }
    Ok(())
}

fn run_script(script: &Script) -> Result<(), String> {
    let path = Path::new(&script.scenario);
    let overrides = Overrides {
        limits: Some(limits()),
        ..Overrides::default()
    };
    let built = scenario::load_and_build(path, &overrides).map_err(|e| e.to_string())?;
    let mut app = app(Loaded {
        session: built.session,
        view: built.view,
        description: built.scenario.description,
        path: Some(path.to_path_buf()),
    });
    let mut term =
        Terminal::new(TestBackend::new(script.size.0, script.size.1)).map_err(|e| e.to_string())?;
    drive(&mut app, &mut term, &script.events)?;
    step_back(&mut app)
}

/// A short random script on a scenario the scenario fuzzer built (its runs already stepped),
/// for what the scenario brings to the screen (labels, names, views, odd data); without the
/// stepping back, which replays up to a snapshot's worth of steps and is tested above.
pub(super) fn explore(
    session: Session,
    view: ViewSpec,
    rng: &mut ChaCha8Rng,
) -> Result<(), String> {
    let mut app = app(Loaded {
        session,
        view,
        description: String::new(),
        path: None,
    });
    let (w, h) = size(rng);
    let mut term = Terminal::new(TestBackend::new(w, h)).map_err(|e| e.to_string())?;
    let len = rng.random_range(5..15);
    let script = events(rng, len);
    drive(&mut app, &mut term, &script).map_err(|e| {
        let text: Vec<String> = script.iter().map(Tok::text).collect();
        format!("{e}\n  explorer script at {w}x{h}: {}", text.join(" "))
    })
}

#[test]
fn random_keys_mouse_and_resizes_keep_the_explorer_consistent() {
    let mut fuzz = Fuzz::new("tui", CASES);
    for (name, bytes) in corpus("tui") {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        fuzz.case(&format!("corpus {name}"), &bytes, || {
            run_script(&parse(&text)?)
        });
    }
    for i in fuzz.cases() {
        let mut rng = fuzz.rng(i);
        let script = Script {
            scenario: SCENARIOS[(i % SCENARIOS.len() as u64) as usize].to_string(),
            size: size(&mut rng),
            events: {
                let len = rng.random_range(20..120);
                events(&mut rng, len)
            },
        };
        let text = script.text();
        fuzz.case(
            &format!("case {i} {}", preview(&script.scenario, 40)),
            text.as_bytes(),
            || run_script(&script),
        );
    }
    fuzz.finish();
}

#[test]
fn scripts_read_back_as_written() {
    let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
    let script = Script {
        scenario: SCENARIOS[0].into(),
        size: (80, 24),
        events: events(&mut rng, 500),
    };
    let back = parse(&script.text()).expect("a script parses");
    assert_eq!(back.events, script.events);
    assert_eq!((back.scenario, back.size), (script.scenario, script.size));
}
