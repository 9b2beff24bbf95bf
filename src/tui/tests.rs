//! Tests of the explorer driven through the real event loop on a `TestBackend` with scripted
//! input, plus whole-screen snapshots.

use std::path::Path;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;

use super::app::{App, Mode, Panel};
use super::event::{Input, ScriptedEvents, press};
use super::widgets::test_util::buffer_text;
use super::{Loaded, Loader, run_loop};
use crate::ad::Engine;
use crate::expr::Expression;
use crate::landscape::ViewSpec;
use crate::objective::ExpressionObjective;
use crate::optim::HyperValue;
use crate::session::{RunSpec, Session, StopConfig};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn rosenbrock(name: &str) -> Result<Loaded, String> {
    let expr = Expression::parse("(1-x)^2 + 100*(y-x^2)^2").map_err(|e| e.to_string())?;
    let objective = ExpressionObjective::new(expr, vec![-1.5, 2.0], Some(vec![1.0, 1.0]));
    let lr = |v: f64| vec![("lr".to_owned(), HyperValue::Float(v))];
    let specs = vec![
        RunSpec {
            hyperparameters: lr(1e-3),
            ..RunSpec::new("gd")
        },
        RunSpec {
            hyperparameters: lr(1e-3),
            ..RunSpec::new("momentum")
        },
        RunSpec {
            hyperparameters: lr(0.05),
            ..RunSpec::new("adam")
        },
        RunSpec::new("lbfgs"),
    ];
    let session = Session::new(
        name,
        Box::new(objective),
        specs,
        Engine::Reverse,
        StopConfig::default(),
        42,
    )
    .map_err(|e| e.to_string())?;
    Ok(Loaded {
        session,
        view: ViewSpec::default(),
        description: String::new(),
        path: Some("rosenbrock.yaml".into()),
    })
}

/// A loader that fails for paths containing "bad" the way the scenario loader reports errors.
fn loader() -> Loader {
    Box::new(|path: &Path| {
        if path.to_string_lossy().contains("bad") {
            Err(format!(
                "{}:3:7: unknown optimizer 'adma' (did you mean 'adam'?)",
                path.display()
            ))
        } else {
            rosenbrock("reloaded")
        }
    })
}

fn app() -> Result<App, String> {
    let mut app = App::new(rosenbrock("rosenbrock")?, loader());
    app.deterministic = true;
    Ok(app)
}

fn terminal(w: u16, h: u16) -> Result<Terminal<TestBackend>, Box<dyn std::error::Error>> {
    Ok(Terminal::new(TestBackend::new(w, h))?)
}

/// Runs the real loop over a script of key characters (it ends with Ctrl-C if no `q`).
fn drive(app: &mut App, keys: &str) -> TestResult {
    let mut term = terminal(120, 40)?;
    run_loop(&mut term, app, &mut ScriptedEvents::keys(keys))?;
    Ok(())
}

#[test]
fn select_pause_step_rewind_log_help_quit() -> TestResult {
    let mut app = app()?;
    // Pause first so no time-budgeted steps happen between scripted frames.
    drive(&mut app, "2nnn")?;
    assert!(app.session.is_paused());
    assert_eq!(app.selected, 1);
    assert!(app.session.runs().iter().all(|r| r.steps() == 3));
    drive(&mut app, "b")?;
    assert_eq!(app.session.runs()[1].steps(), 2);
    assert_eq!(app.session.runs()[0].steps(), 3);
    let log_before = app.log_scale;
    drive(&mut app, "l")?;
    assert_ne!(app.log_scale, log_before);
    drive(&mut app, "?")?;
    assert_eq!(app.mode, Mode::Help);
    let mut app = self::app()?;
    drive(&mut app, "?\x1b")?;
    assert_eq!(app.mode, Mode::Normal);
    drive(&mut app, "q")?;
    assert!(app.quit);
    Ok(())
}

#[test]
fn escape_closes_overlays_and_never_quits() -> TestResult {
    let mut app = app()?;
    let mut term = terminal(120, 40)?;
    // A double tap on Esc over the help, then Esc on the bare screen: the explorer stays.
    let script = [
        press(KeyCode::Char('?')),
        press(KeyCode::Esc),
        press(KeyCode::Esc),
        Input::Frame,
        press(KeyCode::Esc),
        Input::Frame,
    ];
    let mut events = ScriptedEvents::new(script);
    run_loop(&mut term, &mut app, &mut events)?;
    assert_eq!(app.mode, Mode::Normal);
    let mut app = self::app()?;
    app.update(super::event::Action::Back);
    assert!(!app.quit, "Esc with no overlay does not quit");
    app.update(super::event::Action::Quit);
    assert!(app.quit, "q and Ctrl-C quit");
    Ok(())
}

#[test]
fn state_changing_keys_say_what_they_did() -> TestResult {
    let mut app = app()?;
    let said = |app: &App| {
        app.toast
            .as_ref()
            .map(|t| t.text.clone())
            .unwrap_or_default()
    };
    drive(&mut app, "3]")?;
    assert_eq!(said(&app), "adam lr 0.05 → 0.1");
    drive(&mut app, "nnnb")?;
    assert_eq!(said(&app), "adam stepped back to step 2");
    drive(&mut app, "g")?;
    assert_eq!(said(&app), "every run now uses finite differences");
    drive(&mut app, "R")?;
    assert_eq!(said(&app), "reloaded rosenbrock.yaml");
    drive(&mut app, "nnn")?;
    let mut term = terminal(120, 40)?;
    let script = [
        press(KeyCode::Char('a')),
        press(KeyCode::Enter),
        Input::Frame,
    ];
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    assert!(
        said(&app).contains("starts at step 0 (the others are at step 3)"),
        "{}",
        said(&app)
    );
    // The message is on screen.
    term.draw(|f| super::ui::draw(f, &mut app))?;
    assert!(buffer_text(term.backend().buffer()).contains("starts at step 0"));
    Ok(())
}

#[test]
fn removing_a_run_can_be_undone_exactly() -> TestResult {
    let mut app = app()?;
    drive(&mut app, "nnnnn2d")?;
    assert_eq!(app.session.runs().len(), 3);
    assert_eq!(
        app.toast.as_ref().map(|t| t.text.as_str()),
        Some("removed momentum — u to undo")
    );
    drive(&mut app, "u")?;
    let runs = app.session.runs();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[1].label(), "momentum");
    assert_eq!(runs[1].steps(), 5, "the run comes back where it was");
    assert_eq!(app.selected, 1);
    drive(&mut app, "u")?;
    assert_eq!(app.session.runs().len(), 4, "one removal, one undo");
    Ok(())
}

#[test]
fn runs_can_have_engines_of_their_own() -> TestResult {
    let mut app = app()?;
    drive(&mut app, "3G")?;
    assert_eq!(app.session.runs()[2].engine(), Engine::Finite);
    assert_eq!(app.session.runs()[0].engine(), Engine::Reverse);
    drive(&mut app, "nn")?;
    let passes: Vec<u64> = app
        .session
        .runs()
        .iter()
        .map(|r| r.counts().passes)
        .collect();
    // adam on two variables: finite differences take 2n = 4 passes a gradient, reverse 1.
    assert_eq!(app.session.runs()[2].counts().gradient, 2);
    assert_eq!(passes[2], 8, "{passes:?}");
    assert_eq!(passes[1], app.session.runs()[1].counts().gradient);
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    assert!(buffer_text(term.backend().buffer()).contains("mixed engines"));
    // g sets every run's engine again.
    drive(&mut app, "g")?;
    assert!(
        app.session
            .runs()
            .iter()
            .all(|r| r.engine() == Engine::Finite)
    );
    Ok(())
}

#[test]
fn a_scenario_opens_paused_with_its_description() -> TestResult {
    let mut app = built_app(Path::new("scenarios/rosenbrock.yaml"))?;
    assert!(app.session.is_paused());
    assert_eq!(app.mode, Mode::About);
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("banana valley"), "{text}");
    // Esc dismisses it; i brings it back.
    drive(&mut app, "\x1bn")?;
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.session.runs().iter().all(|r| r.steps() == 1));
    drive(&mut app, "i")?;
    assert_eq!(app.mode, Mode::About);
    Ok(())
}

#[test]
fn engine_cycles_and_lr_halves_and_doubles() -> TestResult {
    let mut app = app()?;
    assert_eq!(app.session.engine(), Engine::Reverse);
    drive(&mut app, "g")?;
    assert_eq!(app.session.engine(), Engine::Finite);
    drive(&mut app, "g")?;
    assert!(matches!(app.session.engine(), Engine::Forward { .. }));
    drive(&mut app, "3[")?;
    let lr = app.session.runs()[2].optimizer().lr();
    assert!((lr - 0.025).abs() < 1e-15, "lr {lr}");
    drive(&mut app, "]]")?;
    assert!((app.session.runs()[2].optimizer().lr() - 0.1).abs() < 1e-15);
    Ok(())
}

#[test]
fn halving_an_optimizer_without_a_learning_rate_says_so() -> TestResult {
    let mut app = app()?;
    app.session
        .apply(crate::session::Command::AddRun(RunSpec::new("nelder_mead")))?;
    app.session
        .apply(crate::session::Command::AddRun(RunSpec::new("genetic")))?;
    let before = app.session.runs()[4].optimizer().hyperparameters();
    drive(&mut app, "5[")?;
    assert_eq!(app.mode, Mode::Normal, "no error popup");
    assert_eq!(
        app.toast.as_ref().map(|t| t.text.as_str()),
        Some("nelder_mead has no learning rate")
    );
    assert_eq!(app.session.runs()[4].optimizer().hyperparameters(), before);
    // genetic's learning rate is the mutation scale sigma, and the message names it
    let sigma = app.session.runs()[5].optimizer().lr();
    drive(&mut app, "6]")?;
    assert_eq!(app.session.runs()[5].optimizer().lr(), 2.0 * sigma);
    let said = app
        .toast
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(said.starts_with("genetic sigma "), "{said}");
    Ok(())
}

#[test]
fn bad_reload_keeps_the_session_and_shows_the_error() -> TestResult {
    let mut app = app()?;
    drive(&mut app, "nn")?;
    app.path = Some("scenarios/bad.yaml".into());
    drive(&mut app, "R")?;
    let Mode::Error(message) = &app.mode else {
        return Err(format!("expected an error popup, got {:?}", app.mode).into());
    };
    assert!(message.contains("bad.yaml:3:7"), "{message}");
    assert_eq!(app.session.name, "rosenbrock");
    assert!(app.session.runs().iter().all(|r| r.steps() == 2));
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    assert!(buffer_text(term.backend().buffer()).contains("bad.yaml:3:7"));
    // A good reload (also what a file change triggers) replaces the session.
    app.path = Some("scenarios/good.yaml".into());
    run_loop(
        &mut term,
        &mut app,
        &mut ScriptedEvents::new([press(KeyCode::Esc), Input::FileChanged]),
    )?;
    assert_eq!(app.session.name, "reloaded");
    assert_eq!(app.mode, Mode::Normal);
    Ok(())
}

#[test]
fn edit_form_validates_and_applies() -> TestResult {
    let mut app = app()?;
    drive(&mut app, "3e")?;
    let Mode::Edit(form) = &app.mode else {
        return Err("the form did not open".into());
    };
    assert_eq!(form.fields[0].name, "lr");
    // Clear the field, type a negative lr: rejected inline, the run keeps its lr.
    let mut script: Vec<Input> = (0..12).map(|_| press(KeyCode::Backspace)).collect();
    script.extend("-1".chars().map(|c| press(KeyCode::Char(c))));
    script.push(press(KeyCode::Enter));
    script.push(Input::Frame);
    let mut term = terminal(120, 40)?;
    run_loop(
        &mut term,
        &mut app,
        &mut ScriptedEvents::new(script.clone()),
    )?;
    let Mode::Edit(form) = &app.mode else {
        return Err("the form closed".into());
    };
    assert!(form.fields[0].error.is_some());
    assert!((app.session.runs()[2].optimizer().lr() - 0.05).abs() < 1e-15);
    let mut script: Vec<Input> = (0..4).map(|_| press(KeyCode::Backspace)).collect();
    script.extend("0.01".chars().map(|c| press(KeyCode::Char(c))));
    script.push(press(KeyCode::Enter));
    script.push(press(KeyCode::Esc));
    script.push(Input::Frame);
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    assert_eq!(app.mode, Mode::Normal);
    assert!((app.session.runs()[2].optimizer().lr() - 0.01).abs() < 1e-15);
    Ok(())
}

#[test]
fn the_add_list_describes_every_optimizer_in_one_line() -> TestResult {
    let mut app = app()?;
    drive(&mut app, "a")?;
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    for &name in crate::optim::registry::names() {
        let spec = crate::optim::registry::spec(name).ok_or(name)?;
        let line = format!("{name:<20} {}", spec.description);
        assert!(text.contains(&line), "{line} missing from\n{text}");
    }
    Ok(())
}

#[test]
fn add_and_remove_runs_and_focus() -> TestResult {
    let mut app = app()?;
    drive(&mut app, "a")?;
    assert!(matches!(app.mode, Mode::AddRun(_)));
    let mut term = terminal(120, 40)?;
    let script = [press(KeyCode::Down), press(KeyCode::Enter), Input::Frame];
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    assert_eq!(app.session.runs().len(), 5);
    assert_eq!(app.selected, 4);
    drive(&mut app, "d")?;
    assert_eq!(app.session.runs().len(), 4);
    assert_eq!(app.selected, 3);
    drive(&mut app, "\t\t")?;
    assert_eq!(app.focus, Panel::Runs);
    Ok(())
}

#[test]
fn too_small_terminal_shows_the_message() -> TestResult {
    let mut app = app()?;
    let mut term = terminal(79, 24)?;
    run_loop(&mut term, &mut app, &mut ScriptedEvents::keys(" "))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("terminal too small"), "{text}");
    let mut term = terminal(80, 24)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    assert!(!buffer_text(term.backend().buffer()).contains("too small"));
    Ok(())
}

#[test]
fn click_restarts_from_the_point_and_wheel_zooms() -> TestResult {
    let mut app = app()?;
    app.settle_landscape();
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let plot = app.landscape_plot.ok_or("no plot area")?;
    let (col, row) = (plot.x + plot.width / 2, plot.y + plot.height / 2);
    let target = app.cell_to_plane(col, row).ok_or("cell outside the plot")?;
    app.update(super::event::Action::Click { column: col, row });
    let start = app.session.runs()[0].params().to_vec();
    assert!((start[0] - target.0).abs() < 1e-12 && (start[1] - target.1).abs() < 1e-12);
    let before = app.grid().map(|g| g.x_range).ok_or("no grid")?;
    app.update(super::event::Action::Zoom {
        column: col,
        row,
        zoom_in: true,
    });
    app.settle_landscape();
    let after = app.grid().map(|g| g.x_range).ok_or("no grid")?;
    assert!((after.1 - after.0) < (before.1 - before.0) * 0.81);
    Ok(())
}

/// A settled, deterministic screen: paused, stepped a fixed number of times, landscape in.
fn settled_screen(keys: &str, ascii: bool) -> Result<String, Box<dyn std::error::Error>> {
    let mut app = app()?;
    app.ascii = ascii;
    drive(&mut app, keys)?;
    app.settle_landscape();
    app.tick_gradients();
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    Ok(buffer_text(term.backend().buffer()))
}

#[test]
fn snapshot_whole_screen() -> TestResult {
    let screen = settled_screen("nnnnnnnnnn2", false)?;
    insta::assert_snapshot!("whole_screen_120x40", screen);
    Ok(())
}

#[test]
fn snapshot_whole_screen_ascii() -> TestResult {
    let screen = settled_screen("nnnnnnnnnn2", true)?;
    assert!(screen.is_ascii());
    insta::assert_snapshot!("whole_screen_ascii_120x40", screen);
    Ok(())
}

#[test]
fn snapshot_help_overlay() -> TestResult {
    let screen = settled_screen("?", false)?;
    insta::assert_snapshot!("help_overlay_120x40", screen);
    Ok(())
}

/// A deterministic explorer on a scenario file, loaded and built as the program does.
fn built_app(path: &Path) -> Result<App, Box<dyn std::error::Error>> {
    let built = crate::scenario::load_and_build(path, &crate::scenario::Overrides::default())
        .map_err(|e| e.to_string())?;
    let loaded = Loaded {
        session: built.session,
        view: built.view,
        description: built.scenario.description,
        path: Some(path.to_path_buf()),
    };
    let mut app = App::new(loaded, loader());
    app.deterministic = true;
    Ok(app)
}

fn two_moons_app() -> Result<App, Box<dyn std::error::Error>> {
    built_app(Path::new("scenarios/two_moons_mlp.yaml"))
}

#[test]
fn the_decision_view_is_titled_with_the_data_s_feature_names() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rows: String = (0..40)
        .map(|i| {
            let (h, w) = (150.0 + f64::from(i), 50.0 + f64::from(i % 7) * 3.0);
            format!("{h},{w},{}\n", i % 2)
        })
        .collect();
    std::fs::write(
        dir.path().join("people.csv"),
        format!("height,weight,label\n{rows}"),
    )?;
    let path = dir.path().join("people.yaml");
    std::fs::write(
        &path,
        "name: people\nobjective:\n  model: {kind: logistic}\n  loss: bce_logits\n  data: {kind: csv, path: people.csv, features: [height, weight], target: label}\noptimizers:\n  - {name: adam, lr: 0.1}\n",
    )?;
    let mut app = built_app(&path)?;
    drive(&mut app, "\u{1b}nnv")?;
    assert_eq!(app.view.plane, crate::landscape::Plane::Decision);
    app.settle_landscape();
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(
        text.contains("decision boundary of adam (height, weight)"),
        "{text}"
    );
    Ok(())
}

#[test]
fn v_reaches_the_decision_view_of_a_two_feature_classifier() -> TestResult {
    let mut app = two_moons_app()?;
    let points = app
        .data_points
        .clone()
        .ok_or("two moons has no 2-d data points")?;
    assert!(points.len() >= 100 && points.iter().all(|p| p.2 <= 1));
    // A model scenario opens on the trajectories' principal plane.
    assert_eq!(app.view.plane, crate::landscape::Plane::Pca);
    drive(&mut app, "nnnnv")?;
    assert_eq!(app.view.plane, crate::landscape::Plane::Decision);
    app.settle_landscape();
    let grid = app.grid().ok_or("no grid")?;
    assert_eq!(grid.basis, crate::landscape::Basis::Features);
    // Probabilities of class 1, and the fitted ranges hold every data point.
    assert!(grid.values.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(
        points
            .iter()
            .all(|p| crate::landscape::contains((grid.x_range, grid.y_range), (p.0, p.1)))
    );
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("decision boundary of"), "{text}");
    assert!(
        text.contains('●') && text.contains('▲'),
        "no data points drawn:\n{text}"
    );
    // Stepping the selected run changes its parameters, so the map is recomputed for them.
    let before = app.grid().map(|g| g.values.clone()).ok_or("no grid")?;
    drive(&mut app, "nnnnnnnnnn")?;
    app.settle_landscape();
    assert_ne!(app.grid().map(|g| &g.values), Some(&before));
    // And on round the cycle params -> PCA -> decision -> params.
    drive(&mut app, "v")?;
    assert_eq!(app.view.plane, crate::landscape::Plane::Params(0, 1));
    drive(&mut app, "v")?;
    assert_eq!(app.view.plane, crate::landscape::Plane::Pca);
    // Expressions have no data: `v` never offers the decision view there.
    let mut app = self::app()?;
    drive(&mut app, "vvv")?;
    assert_ne!(app.view.plane, crate::landscape::Plane::Decision);
    Ok(())
}

#[test]
fn snapshot_decision_view_ascii() -> TestResult {
    let mut app = two_moons_app()?;
    app.ascii = true;
    drive(&mut app, "nnnnnnnnnnnnnnnnnnnnv")?;
    app.settle_landscape();
    app.tick_gradients();
    app.tick_backprop();
    app.tick_noise();
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let screen = buffer_text(term.backend().buffer());
    assert!(screen.is_ascii());
    insta::assert_snapshot!("decision_view_ascii_120x40", rounding_masked(&screen));
    Ok(())
}

/// `screen` with the rounding-level figures of the gradient panel checked and replaced by `~0`,
/// so the snapshot pins the view, not the summation order: forward against reverse mode
/// (`|fwd-rev|`, such as `1.21e-17`, below `1e-14`), and the finite-difference disagreements
/// (`|fwd-fd|`, `|rev-fd|` and each row's `max |d|`, such as `9.13e-12`, below `1e-8`), which
/// move whenever an engine's rounding moves the trajectory.
fn rounding_masked(screen: &str) -> String {
    let mask = |text: &mut String, start: usize, limit: f64, what: &str| {
        let len = text[start..].find(' ').unwrap_or(0);
        let figure = &text[start..start + len];
        let diff: f64 = figure
            .parse()
            .unwrap_or_else(|e| panic!("{figure:?} as {what}: {e}"));
        assert!(diff < limit, "{what}: {diff} (limit {limit})");
        text.replace_range(start..start + len, &format!("{:<len$.len$}", "~0"));
    };
    let mut out = String::with_capacity(screen.len());
    let mut rows = 0;
    for line in screen.split_inclusive('\n') {
        let mut line = line.to_owned();
        // A parameter row: `|name  forward  reverse  finite  max|d|  ||...`.
        let panel = line
            .split("||")
            .next()
            .unwrap_or("")
            .trim_start_matches('|');
        let fields: Vec<&str> = panel.split_whitespace().collect();
        if fields.len() == 5 && fields[1..].iter().all(|f| f.parse::<f64>().is_ok()) {
            let (at, name) = (panel.rfind(fields[4]).map(|i| i + 1), fields[0].to_owned());
            if let Some(at) = at {
                mask(&mut line, at, 1e-8, &format!("max |d| of {name}"));
                rows += 1;
            }
        }
        for (label, limit) in [
            ("|fwd-rev| ", 1e-14),
            ("|fwd-fd| ", 1e-8),
            ("|rev-fd| ", 1e-8),
        ] {
            if let Some(at) = line.find(label) {
                mask(&mut line, at + label.len(), limit, label);
            }
        }
        out.push_str(&line);
    }
    assert!(
        rows > 0 && out.contains("|fwd-rev| ~0"),
        "no gradient rows in\n{screen}"
    );
    out
}

#[test]
fn help_scrolls_to_every_key_at_80x24() -> TestResult {
    let mut app = app()?;
    let entries = super::event::help_entries();
    let mut term = terminal(80, 24)?;
    run_loop(&mut term, &mut app, &mut ScriptedEvents::keys("?"))?;
    assert_eq!(app.mode, Mode::Help);
    let mut seen = std::collections::HashSet::new();
    let mut first = String::new();
    for page in 0..entries.len() {
        term.draw(|f| super::ui::draw(f, &mut app))?;
        let text = buffer_text(term.backend().buffer());
        if page == 0 {
            first = text.clone();
        }
        for (k, (keys, description)) in entries.iter().enumerate() {
            if text.contains(description) && text.contains(keys) {
                seen.insert(k);
            }
        }
        app.update(super::event::Action::Down);
        assert_eq!(
            app.mode,
            Mode::Help,
            "down scrolls, it does not close the help"
        );
    }
    assert_eq!(seen.len(), entries.len(), "keys never shown at 80x24");
    // Scrolled past the end it stays on the last page; up comes back.
    assert!(app.help_scroll < entries.len());
    assert!(first.contains("(up/down scroll)"), "{first}");
    insta::assert_snapshot!("help_overlay_80x24", first);
    Ok(())
}

#[test]
fn speed_is_steps_per_second_whatever_the_frame_rate() -> TestResult {
    use std::time::Duration;
    let mut app = app()?;
    // It opens paused, at a pace a learner can follow: a 3000-step race takes minutes.
    assert!(app.session.is_paused());
    assert_eq!(
        app.advance(Duration::from_secs(60), Duration::from_millis(50)),
        0
    );
    let seconds = 3000.0 / app.steps_per_second() as f64;
    assert!((60.0..=300.0).contains(&seconds), "{seconds} s");
    app.update(super::event::Action::TogglePause);
    app.speed = 5;
    assert_eq!(app.steps_per_second(), 200);
    let generous = Duration::from_secs(60);
    // 50 ms at 200 steps/s is 10 steps; the same time in two frames is the same 10.
    assert_eq!(app.advance(generous, Duration::from_millis(50)), 10);
    assert_eq!(app.advance(generous, Duration::from_millis(25)), 5);
    assert_eq!(app.advance(generous, Duration::from_millis(25)), 5);
    // A long stall does not turn into a burst: at most three frames' worth.
    assert_eq!(app.advance(generous, Duration::from_secs(5)), 20);
    // Slowest: one step per second, fractions carried between frames.
    app.speed = 0;
    let steps: u64 = (0..30)
        .map(|_| app.advance(generous, Duration::from_millis(100)))
        .sum();
    assert_eq!(steps, 3);
    drive(&mut app, "+")?;
    assert_eq!(app.steps_per_second(), 3);
    assert_eq!(
        app.toast.as_ref().map(|t| t.text.as_str()),
        Some("speed 3 steps/s")
    );
    Ok(())
}

/// No cell may hold a character a terminal would act on: controls, bidirectional overrides.
fn cells_are_inert(buf: &ratatui::buffer::Buffer) -> bool {
    buf.content().iter().all(|cell| {
        !cell
            .symbol()
            .chars()
            .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || c == '\u{2066}')
    })
}

#[test]
fn control_characters_from_files_are_shown_escaped() -> TestResult {
    let expr = Expression::parse("x^2 + y^2").map_err(|e| e.to_string())?;
    let objective = ExpressionObjective::new(expr, vec![1.0, 1.0], None);
    let specs = vec![RunSpec {
        label: "red\u{1b}[31m\u{202e}gd".to_owned(),
        ..RunSpec::new("gd")
    }];
    let session = Session::new(
        "title\u{1b}]0;pwned\u{7}",
        Box::new(objective),
        specs,
        Engine::Reverse,
        StopConfig::default(),
        1,
    )?;
    let loaded = Loaded {
        session,
        view: ViewSpec::default(),
        description: String::new(),
        path: None,
    };
    let mut app = App::new(loaded, loader());
    app.deterministic = true;
    drive(&mut app, "n")?;
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("red\\u{1b}[31m\\u{202e}gd"), "{text}");
    assert!(text.contains("title\\u{1b}]0;pwned\\u{7}"), "{text}");
    assert!(cells_are_inert(term.backend().buffer()), "{text}");

    // Error messages keep their lines but not their escapes; file names in the picker too.
    app.mode = Mode::Error("bad.yaml:1:1: \u{1b}[2Jcleared\nsecond line".to_owned());
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("\\u{1b}[2Jcleared"), "{text}");
    assert!(text.contains("second line"), "{text}");
    assert!(cells_are_inert(term.backend().buffer()), "{text}");
    app.mode = Mode::Open(super::app::Picker {
        items: vec!["evil\u{1b}[8m.yaml".to_owned()],
        selected: 0,
    });
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("evil\\u{1b}[8m.yaml"), "{text}");
    assert!(cells_are_inert(term.backend().buffer()), "{text}");
    Ok(())
}

/// The loader the binary uses, on real files.
fn file_loader() -> Loader {
    Box::new(|path: &Path| {
        crate::scenario::load_and_build(path, &crate::scenario::Overrides::default())
            .map(|b| Loaded {
                session: b.session,
                view: b.view,
                description: b.scenario.description,
                path: Some(path.to_path_buf()),
            })
            .map_err(|e| e.to_string())
    })
}

#[test]
fn a_scenario_that_fails_to_load_keeps_the_last_good_one() -> TestResult {
    const GOOD: &str = "name: good\nobjective:\n  expr: \"x^2 + 3*y^2\"\n  start: [1, 1]\n\
                        optimizers:\n  - adam\n";
    const BAD: &str = "name: broken\nobjective:\n  expr: \"x^2 + 3*y^2\"\n  start: [1, 1]\n\
                       optimizers:\n  - adma\n";
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, GOOD)?;
    let loader = file_loader();
    let initial = loader(&path)?;
    let mut app = App::new(initial, loader);
    app.deterministic = true;
    drive(&mut app, "nn")?;

    // Hot reload of a file saved broken: the error is shown, the running session stays.
    std::fs::write(&path, BAD)?;
    let mut term = terminal(120, 40)?;
    run_loop(
        &mut term,
        &mut app,
        &mut ScriptedEvents::new([Input::FileChanged]),
    )?;
    let Mode::Error(message) = &app.mode else {
        return Err(format!("expected an error popup, got {:?}", app.mode).into());
    };
    assert!(message.contains("s.yaml:6:5"), "{message}");
    assert!(message.contains("adam"), "suggestion expected: {message}");
    assert_eq!(app.session.name, "good");
    assert_eq!(app.session.runs()[0].steps(), 2);
    term.draw(|f| super::ui::draw(f, &mut app))?;
    assert!(buffer_text(term.backend().buffer()).contains("s.yaml:6:5"));

    // Opening it with `o` fails the same way and keeps the session too.
    app.mode = Mode::Normal;
    app.update(super::event::Action::Open);
    app.mode = Mode::Open(super::app::Picker {
        items: vec![path.display().to_string()],
        selected: 0,
    });
    app.update(super::event::Action::Enter);
    assert!(matches!(&app.mode, Mode::Error(m) if m.contains("s.yaml:6:5")));
    assert_eq!(app.session.name, "good");
    assert_eq!(app.session.runs()[0].steps(), 2);

    // Saved fixed, the next reload replaces the session.
    std::fs::write(&path, GOOD.replace("name: good", "name: fixed"))?;
    app.mode = Mode::Normal;
    app.update(super::event::Action::FileChanged);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.session.name, "fixed");
    Ok(())
}

/// The bundled Rosenbrock race with `extra` added to its `view`, loaded through the scenario
/// loader (so the test covers the way from the file to the screen), paused after `steps`.
fn rosenbrock_with_view(extra: &str, steps: usize) -> Result<App, Box<dyn std::error::Error>> {
    let source = std::fs::read_to_string("scenarios/rosenbrock.yaml")?;
    let source = source.replace(
        "  log_scale: true\n",
        &format!("  log_scale: true\n{extra}"),
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rosenbrock.yaml");
    std::fs::write(&path, source)?;
    let mut app = built_app(&path)?;
    drive(&mut app, &format!(" {}", "n".repeat(steps)))?;
    app.settle_landscape();
    app.tick_gradients();
    Ok(app)
}

fn screen(app: &mut App) -> Result<Terminal<TestBackend>, Box<dyn std::error::Error>> {
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, app))?;
    Ok(term)
}

#[test]
fn view_levels_reach_the_screen() -> TestResult {
    let mut default = rosenbrock_with_view("", 5)?;
    let mut twenty = rosenbrock_with_view("  levels: 20\n", 5)?;
    assert_eq!(default.view.levels, 12, "the documented default");
    assert_eq!(twenty.view.levels, 20);
    let count = |app: &App| app.surface().map_or(0, |s| s.contours.len());
    assert_eq!((count(&default), count(&twenty)), (12, 20));
    let a = buffer_text(screen(&mut default)?.backend().buffer());
    let b = buffer_text(screen(&mut twenty)?.backend().buffer());
    assert_ne!(a, b, "20 levels draw the same screen as 12");
    // The landscape panel only: the rest of the screen does not depend on the levels.
    let panel = |text: &str| -> String {
        text.lines()
            .take(27)
            .map(|l| l.chars().take(66).collect::<String>() + "\n")
            .collect()
    };
    assert_ne!(panel(&a), panel(&b));
    insta::assert_snapshot!("rosenbrock_landscape_levels_20", panel(&b));
    // Toggling the log scale re-traces the same number of levels.
    twenty.update(super::event::Action::ToggleLog);
    assert_eq!(count(&twenty), 20);
    assert!(twenty.surface().is_some_and(|s| !s.log_scale));
    Ok(())
}

/// Cells of the landscape plot drawn in run `i`'s colour as braille (its trajectory).
fn trail_cells(app: &App, term: &Terminal<TestBackend>, i: usize) -> usize {
    let Some(plot) = app.landscape_plot else {
        return 0;
    };
    let buf = term.backend().buffer();
    plot.positions()
        .map(|p| &buf[p])
        .filter(|c| c.fg == super::widgets::run_color(i))
        .filter(|c| {
            c.symbol()
                .chars()
                .all(|ch| ('\u{2801}'..='\u{28FF}').contains(&ch))
        })
        .count()
}

#[test]
fn view_trail_limits_the_trajectory_drawn() -> TestResult {
    // L-BFGS (run 5) crosses the valley to the minimum in 40 steps: its whole path covers
    // many cells, its last 2 points a few.
    let mut all = rosenbrock_with_view("", 40)?;
    let mut short = rosenbrock_with_view("  trail: 2\n", 40)?;
    assert_eq!(short.view.trail, Some(2));
    assert_eq!(all.session.runs()[5].label(), "lbfgs");
    let term = screen(&mut all)?;
    let long_cells = trail_cells(&all, &term, 5);
    let term = screen(&mut short)?;
    let short_cells = trail_cells(&short, &term, 5);
    assert!(
        long_cells > 10 && short_cells <= 3,
        "trail cells: all {long_cells}, trail 2 {short_cells}"
    );
    Ok(())
}

#[test]
fn view_show_hides_the_other_runs_at_start_and_h_shows_them() -> TestResult {
    let mut app = rosenbrock_with_view("  show: [adam, newton]\n", 10)?;
    let labels: Vec<String> = app
        .session
        .runs()
        .iter()
        .map(|r| r.label().to_owned())
        .collect();
    let adam = labels.iter().position(|l| l == "adam").ok_or("no adam")?;
    assert_eq!(app.selected, adam, "starts on the first visible run");
    assert_eq!(app.hidden.len(), labels.len() - 2);
    let term = screen(&mut app)?;
    // gd (run 0) is hidden: no cell anywhere in its colour (the runs table greys it out).
    let gd_cells = term
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| c.fg == super::widgets::run_color(0))
        .count();
    assert_eq!(gd_cells, 0);
    assert!(trail_cells(&app, &term, adam) > 0);
    // Select L-BFGS (run 5, hidden) and show it: its path is drawn; `h` again hides it.
    assert_eq!(labels[5], "lbfgs");
    assert_eq!(trail_cells(&app, &term, 5), 0);
    drive(&mut app, "6h")?;
    assert!(app.is_visible("lbfgs"));
    let term = screen(&mut app)?;
    assert!(trail_cells(&app, &term, 5) > 0);
    drive(&mut app, "h")?;
    assert!(!app.is_visible("lbfgs"));
    Ok(())
}

#[test]
fn the_tui_and_the_export_compute_the_same_landscape() -> TestResult {
    // The parameter plane of an expression, a model's PCA plane, then (`v`) its decision map.
    for (path, keys) in [
        ("scenarios/rosenbrock.yaml", " "),
        ("scenarios/two_moons_mlp.yaml", " "),
        ("scenarios/two_moons_mlp.yaml", " v"),
    ] {
        let mut app = built_app(Path::new(path))?;
        let view = app.view.clone();
        drive(&mut app, keys)?;
        app.settle_landscape();
        let tui = app.surface().ok_or("no surface")?;
        let export = crate::headless::plot::landscape_surface(&app.session, &view, app.view.plane);
        let what = format!("{path} {:?}", app.view.plane);
        assert_eq!(tui.grid.x_range, export.grid.x_range, "{what}");
        assert_eq!(tui.grid.y_range, export.grid.y_range, "{what}");
        assert_eq!(tui.grid.basis, export.grid.basis, "{what}");
        let same_values = tui
            .grid
            .values
            .iter()
            .zip(&export.grid.values)
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        assert!(same_values, "{what}: grids differ");
        assert_eq!(tui.log_scale, export.log_scale, "{what}");
        assert_eq!(tui.contours, export.contours, "{what}");
        assert!(!tui.contours.is_empty(), "{what}");
    }
    Ok(())
}

/// Every optimizer's form shows values that apply unchanged (pairs, `(None, b)`, triples and
/// choice names included), and the add-run list shows each optimizer's description.
#[test]
fn every_optimizers_form_round_trips_and_the_add_list_describes_them() -> TestResult {
    use crate::optim::registry;
    use crate::session::Command;
    let mut app = app()?;
    drive(&mut app, "a")?;
    let names = registry::names();
    let muon = names.iter().position(|n| *n == "muon").ok_or("muon")?;
    let mut script: Vec<Input> = (0..muon).map(|_| press(KeyCode::Down)).collect();
    script.push(Input::Frame);
    let mut term = terminal(120, 40)?;
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("> muon"), "{text}");
    assert!(
        text.contains("orthogonalised momentum for weight matrices"),
        "{text}"
    );
    drive(&mut app, "\u{1b}")?;
    for &name in names {
        app.session
            .apply(Command::AddRun(RunSpec::new(name)))
            .map_err(|e| e.to_string())?;
        let run = app.session.runs().len() - 1;
        app.selected = run;
        drive(&mut app, "e")?;
        let Mode::Edit(form) = &app.mode else {
            return Err(format!("{name}: the form did not open").into());
        };
        let n = form.fields.len();
        let before = app.session.runs()[run].optimizer().hyperparameters();
        let script: Vec<Input> = (0..n).map(|_| press(KeyCode::Enter)).collect();
        run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
        let Mode::Edit(form) = &app.mode else {
            return Err(format!("{name}: the form closed").into());
        };
        let errors: Vec<_> = form.fields.iter().filter_map(|f| f.error.clone()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(
            app.session.runs()[run].optimizer().hyperparameters(),
            before,
            "{name}"
        );
        drive(&mut app, "\u{1b}")?;
    }
    // a choice typed in the form
    let run = app.session.runs().len() - names.len() + muon;
    app.selected = run;
    drive(&mut app, "e")?;
    let mut script: Vec<Input> = (0..7).map(|_| press(KeyCode::Down)).collect();
    script.extend((0..10).map(|_| press(KeyCode::Backspace)));
    script.extend("match_rms_adamw".chars().map(|c| press(KeyCode::Char(c))));
    script.push(press(KeyCode::Enter));
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    assert!(
        app.session.runs()[run]
            .optimizer()
            .hyperparameters()
            .contains(&("adjust_lr_fn".into(), HyperValue::Choice("match_rms_adamw")))
    );
    Ok(())
}

#[test]
fn a_paused_unchanged_screen_asks_for_no_redraw_and_a_change_does() -> TestResult {
    use std::time::Duration;
    let mut app = app()?;
    assert!(app.session.is_paused(), "the explorer opens paused");
    app.settle_landscape();
    app.tick_gradients();
    app.redraw = false;
    // Thirty frames of a paused session with no input: nothing to draw.
    for _ in 0..30 {
        app.frame(Duration::from_millis(10), Duration::from_millis(33));
        assert!(!app.redraw, "a paused frame asked for a redraw");
    }
    // Any input may change the screen; so do steps.
    app.update(super::event::Action::Resize);
    assert!(app.redraw);
    app.redraw = false;
    drive(&mut app, " ")?;
    assert!(!app.session.is_paused());
    app.redraw = false;
    app.frame(Duration::from_secs(1), Duration::from_millis(100));
    assert!(app.redraw, "steps were taken");
    Ok(())
}

// ---- back-propagation view ----

/// The screen after `keys` on a scenario file, at `w`x`h`.
fn backprop_screen(
    file: &str,
    keys: &str,
    w: u16,
    h: u16,
) -> Result<(App, String), Box<dyn std::error::Error>> {
    let mut app = built_app(Path::new(file))?;
    let mut term = terminal(w, h)?;
    run_loop(&mut term, &mut app, &mut ScriptedEvents::keys(keys))?;
    app.tick_gradients();
    app.tick_backprop();
    term.draw(|f| super::ui::draw(f, &mut app))?;
    Ok((app, buffer_text(term.backend().buffer())))
}

/// `p` opens the graph of the by-hand network paused at the start; `n` steps the stepper, not
/// the runs; the captions read the chain rule with numbers; the selected node's sub-expression
/// is highlighted in the expression text; stepping to the end gives the engines' gradient.
#[test]
fn the_stepper_walks_the_graph_and_ends_at_the_engines_gradient() -> TestResult {
    let file = "scenarios/backprop_by_hand.yaml";
    let (app, screen) = backprop_screen(file, "\u{1b}p", 120, 35)?;
    assert!(app.backprop.open);
    assert!(
        screen.contains("back-propagation graph: arrows select"),
        "{screen}"
    );
    assert!(screen.contains("step 0 of"), "{screen}");
    insta::assert_snapshot!("backprop_graph_start_120x35", screen);
    // The forward pass: 25 nodes beyond the 8 inputs... one at a time.
    let (app, screen) = backprop_screen(file, "\u{1b}pnnn", 120, 35)?;
    assert!(
        app.session.runs().iter().all(|r| r.steps() == 0),
        "n steps the stepper only"
    );
    let e = app.backprop.expr.as_ref().expect("an expression view");
    assert_eq!(e.stepper.position(), 3);
    assert!(screen.contains("step 3 of"), "{screen}");
    assert!(screen.contains("(forward pass)"), "{screen}");
    insta::assert_snapshot!("backprop_graph_forward_120x35", screen);
    // To the end of the sweep (more steps than there are are clamped).
    let many = format!("\u{1b}p{}", "n".repeat(200));
    let (app, screen) = backprop_screen(file, &many, 120, 35)?;
    let e = app.backprop.expr.as_ref().expect("an expression view");
    assert!(e.stepper.at_end());
    let state = e.stepper.state();
    let run = &app.session.runs()[0];
    let mut grad = vec![0.0; 8];
    let mut scratch = crate::objective::Scratch::default();
    run.objective()
        .gradient(Engine::Reverse, run.params(), &mut grad, &mut scratch);
    for (i, g) in grad.iter().enumerate() {
        let a = state.adjoint[i].expect("an adjoint");
        assert!(
            (a - g).abs() <= 1e-15 * g.abs().max(1.0),
            "w{}: {a} vs {g}",
            i + 1
        );
    }
    assert!(screen.contains("all 8 partial derivatives"), "{screen}");
    insta::assert_snapshot!("backprop_graph_end_120x35", screen);
    // Back one step, and forward mode says what it costs.
    let (app, screen) = backprop_screen(file, &format!("{many}bm"), 80, 24)?;
    let e = app.backprop.expr.as_ref().expect("an expression view");
    assert_eq!(e.stepper.mode(), crate::backprop::Mode::Forward { seed: 0 });
    assert!(
        screen.contains("forward mode, tangent seeded on w1"),
        "{screen}"
    );
    insta::assert_snapshot!("backprop_graph_forward_mode_80x24", screen);
    Ok(())
}

/// Selecting a node highlights the source text it computes.
#[test]
fn selecting_a_node_highlights_its_sub_expression() -> TestResult {
    let file = "scenarios/backprop_by_hand.yaml";
    let mut app = built_app(Path::new(file))?;
    let mut term = terminal(120, 35)?;
    run_loop(&mut term, &mut app, &mut ScriptedEvents::keys("\u{1b}p"))?;
    let e = app.backprop.expr.as_ref().expect("an expression view");
    let target = e
        .stepper
        .graph()
        .nodes
        .iter()
        .position(|n| n.name == "h1")
        .expect("a node named h1");
    for _ in 0..target {
        app.update(super::event::Action::Down);
    }
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let buf = term.backend().buffer();
    // The highlighted cells spell the right-hand side of `h1 = sigmoid(net_h1)`.
    let mut lit = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            if cell.bg == ratatui::style::Color::Yellow {
                lit.push_str(cell.symbol());
            }
        }
    }
    assert_eq!(lit, "sigmoid(net_h1)");
    Ok(())
}

/// The network view of an MLP: activations forward, δ backward layer by layer, captions with
/// the formula and numbers; the gradient-flow panel replaces the empty tape panel.
#[test]
fn the_network_view_steps_layer_by_layer_and_the_flow_panel_shows() -> TestResult {
    let file = "scenarios/xor_mlp.yaml";
    // Models open with the noise panel in that place; `m` shows the flow panel.
    let (_, screen) = backprop_screen(file, "\u{1b}nnm", 120, 35)?;
    assert!(
        screen.contains("gradient flow per layer, |δ| over time"),
        "{screen}"
    );
    assert!(!screen.contains("the tape is shown for"), "{screen}");
    insta::assert_snapshot!("flow_panel_120x35", screen);
    // Focused, left/right choose the figure drawn over time.
    let mut app = built_app(Path::new(file))?;
    let mut term = terminal(120, 35)?;
    run_loop(&mut term, &mut app, &mut ScriptedEvents::keys("\u{1b}nnm"))?;
    app.tick_backprop();
    app.focus = Panel::Tape;
    app.update(super::event::Action::Right);
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("|dL/dW| over time"), "{text}");
    app.update(super::event::Action::Left);
    app.update(super::event::Action::Left);
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("saturated over time"), "{text}");
    // 2-8-8-1: three forward stages, then δ from the output back.
    let (app, screen) = backprop_screen(file, "\u{1b}pnnnn", 120, 35)?;
    let n = app.backprop.net.as_ref().expect("a network view");
    assert_eq!((n.forward(), n.backward()), (3, 3));
    assert!(screen.contains("example 1 of 200"), "{screen}");
    assert!(screen.contains("∂ℓ/∂a"), "{screen}");
    insta::assert_snapshot!("network_view_120x35", screen);
    let (app, screen) = backprop_screen(file, "\u{1b}pnnnnnnC", 80, 24)?;
    let n = app.backprop.net.as_ref().expect("a network view");
    assert_eq!((n.example, n.backward()), (None, 1));
    assert!(screen.contains("batch mean"), "{screen}");
    insta::assert_snapshot!("network_view_mean_80x24", screen);
    Ok(())
}

/// With `--ascii` the back-propagation views draw plain ASCII, captions included.
#[test]
fn the_backprop_views_are_plain_ascii_with_ascii() -> TestResult {
    for (file, keys, wanted) in [
        (
            "scenarios/backprop_by_hand.yaml",
            "\u{1b}pnnnnnnnnnnnn",
            "h1 = sigmoid(net_h1)",
        ),
        (
            "scenarios/xor_mlp.yaml",
            "\u{1b}pnnnn",
            "d(3)[0] = dl/da * s'(z)",
        ),
    ] {
        let mut app = built_app(Path::new(file))?;
        app.ascii = true;
        let mut term = terminal(120, 35)?;
        run_loop(&mut term, &mut app, &mut ScriptedEvents::keys(keys))?;
        app.tick_backprop();
        term.draw(|f| super::ui::draw(f, &mut app))?;
        let screen = buffer_text(term.backend().buffer());
        assert!(screen.is_ascii(), "{screen}");
        assert!(screen.contains(wanted), "{wanted} missing in\n{screen}");
        // `=?` is a value not computed yet, and so is an edge's ` ? `; any other `?` is a
        // symbol without an ASCII form.
        // (`? help` in the status bar is the help key.)
        // An edge's partial before its node is computed is written ` ? ` on the edge.
        let symbols = screen
            .replace("=?", "")
            .replace("? help", "")
            .replace(" ? -", "");
        assert!(!symbols.contains('?'), "{screen}");
    }
    Ok(())
}

/// The screen's rows inside the borders, joined with spaces, runs of spaces squeezed: text
/// wrapped over several rows reads as one line here.
fn squeezed(screen: &str) -> String {
    let rows: Vec<&str> = screen
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c == '|' || c.is_whitespace()))
        .collect();
    squeeze(&rows.join(" "))
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Long captions are wrapped, not cut, at 80x24: every caption line is on screen whole, in
/// the forward pass, the backward sweep, forward mode's cost summary and the network view;
/// the edges of the graph carry their partials at both sizes.
#[test]
fn captions_are_wrapped_whole_and_edges_carry_partials_at_80x24() -> TestResult {
    let by_hand = "scenarios/backprop_by_hand.yaml";
    let end = format!("\u{1b}p{}", "n".repeat(200));
    let backward = format!("\u{1b}p{}", "n".repeat(40));
    let cases = [
        (by_hand, "\u{1b}pnnn".to_owned()),
        (by_hand, backward.clone()),
        (by_hand, end.clone()),
        (by_hand, format!("{end}bm")),
        ("scenarios/xor_mlp.yaml", "\u{1b}pnnnn".to_owned()),
        ("scenarios/xor_mlp.yaml", "\u{1b}pnnnnnnC".to_owned()),
    ];
    for (file, keys) in &cases {
        let (app, screen) = backprop_screen(file, keys, 80, 24)?;
        let text = squeezed(&screen);
        let captions = app.backprop.captions(false, crate::ad::DEFAULT_CHUNK);
        assert!(!captions.is_empty());
        for c in &captions {
            assert!(
                text.contains(&squeeze(c)),
                "{file} {keys:?}: caption cut:\n{c}\n{screen}"
            );
        }
    }
    // In the backward sweep the edges carry their partials, at 80x24 and 120x35.
    let (app, screen) = backprop_screen(by_hand, &backward, 80, 24)?;
    let e = app.backprop.expr.as_ref().expect("an expression view");
    assert!(matches!(
        e.stepper.current(),
        Some(crate::backprop::stepper::Step::Push { .. })
    ));
    assert!(!screen.contains("too narrow"), "{screen}");
    insta::assert_snapshot!("backprop_graph_backward_80x24", screen);
    let (_, screen) = backprop_screen(by_hand, &backward, 120, 35)?;
    insta::assert_snapshot!("backprop_graph_backward_120x35", screen);
    Ok(())
}

/// One figure of layer `l` over time, as bits (NaN where undefined compares equal).
fn flow_bits(
    h: &crate::backprop::flow::FlowHistory,
    l: usize,
    read: super::backprop::Figure,
) -> Vec<u64> {
    h.series(l, read).iter().map(|v| v.to_bits()).collect()
}

/// The gradient-flow history is the runs' own, recorded as they step: after the same steps it
/// is the same, bit for bit, whether the screen was drawn after every step or once.
#[test]
fn the_flow_history_does_not_depend_on_how_often_the_screen_is_drawn() -> TestResult {
    let file = Path::new("scenarios/xor_mlp.yaml");
    let steps: u64 = 40;
    let mut often = built_app(file)?;
    let mut term = terminal(120, 35)?;
    run_loop(&mut term, &mut often, &mut ScriptedEvents::keys("\u{1b}m"))?;
    for _ in 0..steps {
        often.update(super::event::Action::Step);
        often.tick_backprop();
        term.draw(|f| super::ui::draw(f, &mut often))?;
    }
    let mut once = built_app(file)?;
    once.session.apply(crate::session::Command::StepN(steps))?;
    let mut term = terminal(120, 35)?;
    term.draw(|f| super::ui::draw(f, &mut once))?;
    assert!(!often.session.runs().is_empty());
    for (a, b) in often.session.runs().iter().zip(once.session.runs()) {
        assert_eq!(a.steps(), steps);
        let (fa, fb) = (a.flow().expect("recorded"), b.flow().expect("recorded"));
        assert_eq!(fa.steps(), (0..=steps).collect::<Vec<_>>());
        assert_eq!(fa.steps(), fb.steps());
        let layers = fa.latest().map_or(0, <[_]>::len);
        assert!(layers > 0);
        for l in 1..=layers {
            for (name, read) in super::backprop::FIGURES {
                assert_eq!(
                    flow_bits(fa, l, read),
                    flow_bits(fb, l, read),
                    "layer {l}, {name}"
                );
            }
        }
    }
    // Rewinding forgets the points past the step rewound to, and the replay records them
    // again exactly: the same as a run that only ever went that far.
    let mut short = built_app(file)?;
    short
        .session
        .apply(crate::session::Command::StepN(steps - 10))?;
    once.session
        .apply(crate::session::Command::Rewind { run: 0, steps: 10 })?;
    let (a, b) = (&once.session.runs()[0], &short.session.runs()[0]);
    let (fa, fb) = (a.flow().expect("recorded"), b.flow().expect("recorded"));
    assert_eq!(fa.steps(), (0..=steps - 10).collect::<Vec<_>>());
    assert_eq!(fa.steps(), fb.steps());
    for (_, read) in super::backprop::FIGURES {
        assert_eq!(flow_bits(fa, 1, read), flow_bits(fb, 1, read));
    }
    Ok(())
}

/// Inside the back-propagation view the help opens at that view's keys, which list every key
/// the view takes over, and the status bar says what the arrows do there.
#[test]
fn the_help_lists_the_backprop_views_keys_and_the_hint_says_what_arrows_do() -> TestResult {
    use super::event::{BACKPROP_HEADING, BACKPROP_KEYS, BINDINGS};
    use ratatui::crossterm::event::KeyCode as K;
    let file = "scenarios/backprop_by_hand.yaml";
    let (mut app, screen) = backprop_screen(file, "\u{1b}p", 120, 35)?;
    let status = screen.lines().last().unwrap_or("");
    assert!(status.contains("arrows select node"), "{status}");
    assert!(!status.contains("pan"), "{status}");
    // `n` steps the view here, so the state does not offer it for the runs
    assert!(!status.contains("n: one step"), "{status}");
    assert!(status.contains("Runs paused · Space: run"), "{status}");
    // Every key the view takes over is listed under its heading.
    let listed: Vec<&str> = BACKPROP_KEYS
        .iter()
        .flat_map(|(k, _)| k.split_whitespace())
        .collect();
    for b in BINDINGS {
        if b.ctrl || !app.update_backprop(b.action) {
            continue;
        }
        app.backprop.open = true;
        let key = match b.code {
            K::Char(c) => c.to_string(),
            K::Esc => "Esc".to_owned(),
            K::Up => "↑".to_owned(),
            K::Down => "↓".to_owned(),
            K::Left => "←".to_owned(),
            K::Right => "→".to_owned(),
            other => format!("{other:?}"),
        };
        assert!(
            listed
                .iter()
                .any(|k| *k == key || (k.chars().count() == 2 && k.contains(&key))),
            "{key} ({:?}) is not in the view's help",
            b.action
        );
    }
    let (_, screen) = backprop_screen(file, "\u{1b}p?", 120, 35)?;
    assert!(screen.contains(BACKPROP_HEADING), "{screen}");
    for (k, d) in BACKPROP_KEYS {
        assert!(
            screen.contains(d) && screen.contains(k),
            "{k} {d}\n{screen}"
        );
    }
    // The network view says what its arrows do.
    let (_, screen) = backprop_screen("scenarios/xor_mlp.yaml", "\u{1b}p", 120, 35)?;
    let status = screen.lines().last().unwrap_or("");
    assert!(status.contains("unit/layer"), "{status}");
    Ok(())
}

/// The whole screen of `app` after `keys`, settled, at `w`x`h`.
fn screen_at(
    app: &mut App,
    keys: &str,
    w: u16,
    h: u16,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut term = terminal(w, h)?;
    run_loop(&mut term, app, &mut ScriptedEvents::keys(keys))?;
    app.settle_landscape();
    app.tick_gradients();
    term.draw(|f| super::ui::draw(f, app))?;
    Ok(buffer_text(term.backend().buffer()))
}

/// The default race, a model scenario and the help at the three sizes people use: the loss
/// column, the state, `? help` and `q quit` must be on screen at each.
#[test]
fn snapshots_at_three_sizes() -> TestResult {
    for (w, h) in [(80, 24), (120, 35), (180, 50)] {
        let mut app = built_app(Path::new("scenarios/rosenbrock.yaml"))?;
        // Both cursors on: the landscape's crosshair with its readout, and the loss chart's a
        // few steps back, each run's point at that step marked on the landscape.
        screen_at(&mut app, "\u{1b}nnnnnnnnnnnn3", w, h)?;
        let race = screen_at(&mut app, "\r\t←←←←←←←←", w, h)?;
        let status = race.lines().last().unwrap_or_default();
        assert!(status.ends_with("? help  q quit"), "{w}x{h}: {status}");
        assert!(status.contains("Paused"), "{w}x{h}: {status}");
        assert!(race.contains("loss"), "{w}x{h}");
        insta::assert_snapshot!(format!("rosenbrock_{w}x{h}"), race);

        let mut app = two_moons_app()?;
        let model = screen_at(&mut app, "\u{1b}nnnnn", w, h)?;
        assert!(
            model
                .lines()
                .last()
                .unwrap_or_default()
                .ends_with("? help  q quit")
        );
        insta::assert_snapshot!(format!("two_moons_{w}x{h}"), model);

        let mut app = self::app()?;
        let help = screen_at(&mut app, "?", w, h)?;
        insta::assert_snapshot!(format!("help_{w}x{h}"), help);
    }
    Ok(())
}

#[test]
fn the_loss_cursor_reads_every_visible_run() -> TestResult {
    let mut app = app()?;
    drive(&mut app, "nnnnnnnnnn\t")?;
    assert_eq!(app.focus, Panel::Loss);
    let mut term = terminal(120, 40)?;
    run_loop(
        &mut term,
        &mut app,
        &mut ScriptedEvents::new([press(KeyCode::Left), press(KeyCode::Left), Input::Frame]),
    )?;
    // The first press puts the cursor on the latest point, the second moves it left.
    assert!(app.loss_cursor.is_some_and(|c| c < 1.0));
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    let readout = text
        .lines()
        .find(|l| l.contains("step ") && l.contains("lbfgs"))
        .ok_or(format!("no readout in\n{text}"))?;
    for label in ["gd", "momentum", "adam"] {
        assert!(readout.contains(label), "{readout}");
    }
    drive(&mut app, "\u{1b}")?;
    assert_eq!(app.loss_cursor, None, "Esc removes the cursor");
    Ok(())
}

#[test]
fn the_noise_panel_follows_the_selected_run_and_f_draws_the_full_loss() -> TestResult {
    let mut app = two_moons_app()?;
    assert!(
        app.show_noise,
        "a model objective opens with the noise panel"
    );
    drive(&mut app, "\u{1b}2")?;
    // A refresh after each step gives a cosine a step (the loop refreshes once a frame).
    for _ in 0..5 {
        drive(&mut app, "n")?;
        app.tick_noise();
    }
    let stats = app.noise.stats.ok_or("no figures")?;
    assert_eq!((app.noise.run, app.noise.step), (1, 5));
    // The panel's job computes what the run itself reports, with the last step's batch.
    assert_eq!(Some(stats), app.session.runs()[1].gradient_noise());
    assert_eq!(stats.batch_size, 32);
    assert!(
        app.noise.cosines.len() >= 5 && app.noise.cosines.iter().all(|c| c.abs() <= 1.0),
        "one cosine per step: {:?}",
        app.noise.cosines
    );
    let mut term = screen(&mut app)?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("gradient noise of momentum"), "{text}");
    assert!(text.contains("B_simple"), "{text}");
    // The landscape is still computing, so every braille cell is the loss chart's: `f` adds
    // the full-loss and test-loss curves.
    let dots = |t: &str| {
        t.chars()
            .filter(|c| ('\u{2801}'..='\u{28FF}').contains(c))
            .count()
    };
    let before = dots(&text);
    drive(&mut app, "F")?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(dots(&text) > before, "{text}");
    drive(&mut app, "m")?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    // The panel it shares its place with: the gradient flow, for a layered model.
    assert!(text.contains("gradient flow per layer"), "{text}");
    // Selecting another run starts its own history.
    drive(&mut app, "m1n")?;
    app.tick_noise();
    assert_eq!((app.noise.run, app.noise.step), (0, 6));
    assert!(app.noise.cosines.len() <= 2, "{:?}", app.noise.cosines);
    Ok(())
}

#[test]
fn the_landscape_arrows_point_along_minus_g_and_minus_g_b_from_the_figures_point() -> TestResult {
    let mut app = two_moons_app()?;
    drive(&mut app, "\u{1b}2nnn")?;
    app.settle_landscape();
    app.tick_noise();
    let surface = app.surface().ok_or("no landscape")?;
    let mut arrows = super::ui::noise_arrows(&app.noise, surface);
    // The cloud: one dot per other minibatch of 32 of the 160 training points.
    let cloud: Vec<_> = arrows.drain(..arrows.len() - 2).collect();
    assert_eq!(cloud.len(), app.noise.cloud.len());
    assert!(!cloud.is_empty() && cloud.iter().all(|t| t.points.len() == 1));
    assert_eq!(arrows.len(), 2);
    let basis = &surface.grid.basis;
    let from = basis.project(&app.noise.point);
    let gradients = [&app.noise.full_gradient, &app.noise.minibatch_gradient];
    for (arrow, g) in arrows.iter().zip(gradients) {
        assert!(arrow.label.is_empty(), "arrows stay out of the legend");
        assert_eq!(arrow.points[0], from);
        let to: Vec<f64> = app.noise.point.iter().zip(g).map(|(p, d)| p - d).collect();
        let end = basis.project(&to);
        let want = (end.0 - from.0, end.1 - from.1);
        let got = (arrow.points[1].0 - from.0, arrow.points[1].1 - from.1);
        let cross = got.0 * want.1 - got.1 * want.0;
        let scale = got.0.hypot(got.1) * want.0.hypot(want.1);
        assert!(
            scale > 0.0 && cross.abs() <= 1e-9 * scale,
            "{got:?} vs {want:?}"
        );
        assert!(got.0 * want.0 + got.1 * want.1 > 0.0, "{got:?} vs {want:?}");
    }
    Ok(())
}

#[test]
fn capital_a_adds_a_run_at_the_selected_runs_point() -> TestResult {
    let mut app = app()?;
    drive(&mut app, "nnnnn3")?;
    let here = app.session.runs()[2].params().to_vec();
    assert_ne!(here.as_slice(), [-1.5, 2.0], "adam has moved");
    drive(&mut app, "A\r")?;
    assert_eq!(app.session.runs().len(), 5);
    let added = &app.session.runs()[4];
    assert_eq!(added.params(), here.as_slice());
    assert_eq!(added.steps(), 0);
    assert_eq!(app.selected, 4);
    let said = app
        .toast
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(said.contains("at adam's point (its step 5)"), "{said}");
    // `a` starts at the scenario's start, and says the others are further on.
    drive(&mut app, "a\r")?;
    assert_eq!(app.session.runs()[5].params(), [-1.5, 2.0]);
    let said = app
        .toast
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(said.contains("starts at step 0"), "{said}");
    // In the dialog the arrows switch where the new run starts, and the title says which.
    drive(&mut app, "3a→")?;
    assert!(app.add_from_here);
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("starting at adam's point (step 5)"), "{text}");
    drive(&mut app, "\r")?;
    assert_eq!(app.session.runs()[6].params(), here.as_slice());
    Ok(())
}

#[test]
fn panning_keeps_the_heatmap_colours_until_z_refits_them() -> TestResult {
    let mut app = app()?;
    app.settle_landscape();
    let before = app.surface().ok_or("no surface")?.clone();
    assert_eq!(before.scale, before.bounds);
    drive(&mut app, "→→→↑")?;
    app.settle_landscape();
    let after = app.surface().ok_or("no surface")?.clone();
    assert_ne!(after.grid.x_range, before.grid.x_range, "the window moved");
    assert_ne!(after.bounds, before.bounds, "other values are in view");
    // The same colour range, so a place shown in both windows keeps its colour.
    assert_eq!(after.scale, before.scale);
    assert_eq!(after.shading(), before.shading());
    // Its colour bar shows the kept range.
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("████"), "{text}");
    drive(&mut app, "z")?;
    let refit = app.surface().ok_or("no surface")?;
    assert_eq!(refit.scale, refit.bounds);
    assert_ne!(refit.scale, before.scale);
    let said = app
        .toast
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(said.starts_with("colours refitted"), "{said}");
    Ok(())
}

#[test]
fn the_landscape_cursor_reads_the_loss_under_it() -> TestResult {
    let mut app = app()?;
    app.settle_landscape();
    assert_eq!(app.focus, Panel::Landscape);
    drive(&mut app, "\r")?;
    let c = app.landscape_cursor.ok_or("Enter shows no cursor")?;
    // It starts on the selected run (gd, at the start): f(-1.5, 2) = 2.5² + 100·0.25² = 12.5.
    assert_eq!(c.at, (-1.5, 2.0));
    assert!((c.value - 12.5).abs() < 1e-12, "{}", c.value);
    let x0 = app.grid().map(|g| g.x_range).ok_or("no grid")?;
    // The arrows move it (not the window) by a fortieth of the window.
    drive(&mut app, "→")?;
    let c = app.landscape_cursor.ok_or("cursor gone")?;
    assert_eq!(app.grid().map(|g| g.x_range), Some(x0), "the window stayed");
    let (x, y) = c.at;
    assert!((x - (-1.5 + (x0.1 - x0.0) / 40.0)).abs() < 1e-12);
    let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
    assert!((c.value - f).abs() < 1e-12);
    let mut term = terminal(120, 40)?;
    term.draw(|f| super::ui::draw(f, &mut app))?;
    let text = buffer_text(term.backend().buffer());
    assert!(
        text.contains(" x -1.4") && text.contains("  y 2  loss "),
        "{text}"
    );
    assert!(
        text.contains("move cursor"),
        "the hint says what the arrows do: {text}"
    );
    drive(&mut app, "\u{1b}")?;
    assert_eq!(app.landscape_cursor, None, "Esc hides it");
    Ok(())
}

#[test]
fn a_diverging_run_leaves_the_scenario_window_and_is_marked_at_its_edge() -> TestResult {
    // gd with a large step leaves Rosenbrock's bounds and diverges; the window stays the
    // scenario's and the run is named at the edge it left by.
    let source = std::fs::read_to_string("scenarios/rosenbrock.yaml")?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rosenbrock.yaml");
    let source = source.replacen("lr: 0.0005", "lr: 0.01", 1);
    std::fs::write(&path, source)?;
    let mut app = built_app(&path)?;
    let window = app.view.ranges().ok_or("the scenario has a window")?;
    drive(&mut app, &format!("\u{1b}{}", "n".repeat(12)))?;
    app.settle_landscape();
    let gd = &app.session.runs()[0];
    let p = gd.params();
    assert!(
        !crate::landscape::contains(window, (p[0], p[1])),
        "gd stayed inside: {p:?}"
    );
    let grid = app.grid().ok_or("no grid")?;
    assert_eq!((grid.x_range, grid.y_range), window);
    let text = screen_at(&mut app, "", 80, 24)?;
    assert!(
        [
            "gd →", "← gd", "↑ gd", "↓ gd", "↗ gd", "↖ gd", "↘ gd", "↙ gd", "gd ↗", "gd ↘"
        ]
        .iter()
        .any(|m| text.contains(m)),
        "{text}"
    );
    insta::assert_snapshot!("rosenbrock_diverged_80x24", text);
    Ok(())
}

/// The error the open form shows.
fn form_error(app: &App) -> Result<String, String> {
    let Mode::Edit(form) = &app.mode else {
        return Err("the form closed".into());
    };
    form.fields
        .iter()
        .find_map(|f| f.error.clone())
        .ok_or_else(|| "no error".into())
}

/// Types `text` into the selected form field after clearing it.
fn retype(text: &str, clear: usize) -> Vec<Input> {
    let mut script: Vec<Input> = (0..clear).map(|_| press(KeyCode::Backspace)).collect();
    script.extend(text.chars().map(|c| press(KeyCode::Char(c))));
    script.push(press(KeyCode::Enter));
    script.push(Input::Frame);
    script
}

#[test]
fn the_add_dialog_and_the_editor_set_a_schedule_and_averaging() -> TestResult {
    use crate::optim::averaging::Averaging;
    use crate::optim::schedule::Schedule;
    let mut app = app()?;
    assert!(
        app.session.is_paused(),
        "the new run takes only the steps we take"
    );
    let adam = crate::optim::registry::names()
        .iter()
        .position(|n| *n == "adam")
        .ok_or("adam")?;
    let mut script: Vec<Input> = vec![press(KeyCode::Char('a'))];
    script.extend((0..adam).map(|_| press(KeyCode::Down)));
    script.push(press(KeyCode::Char('e')));
    script.push(Input::Frame);
    let mut term = terminal(120, 40)?;
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    let Mode::Edit(form) = &app.mode else {
        return Err(format!("the form did not open: {:?}", app.mode).into());
    };
    assert!(form.fresh);
    let run = form.run;
    assert_eq!(app.session.runs()[run].optimizer().name(), "adam");
    let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names[names.len() - 2..], ["schedule", "average"]);
    // up from the first field wraps to the last: average, then schedule
    let mut script = vec![press(KeyCode::Up), press(KeyCode::Up)];
    script.extend(retype("{kind: step, step_size: 3, gamma: 0.5}", 4));
    script.extend(retype("{kind: ema, decay: 0.9}", 4));
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    let Mode::Edit(form) = &app.mode else {
        return Err("the form closed".into());
    };
    let errors: Vec<_> = form.fields.iter().filter_map(|f| f.error.clone()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // the kind typed is described in one line
    let schedule = form
        .fields
        .iter()
        .find(|f| f.name == "schedule")
        .ok_or("field")?;
    assert!(
        schedule.help().starts_with("step: StepLR"),
        "{}",
        schedule.help()
    );
    term.draw(|f| super::ui::draw(f, &mut app))?;
    // the form alone: the landscape behind it is drawn by a thread of its own
    let screen = buffer_text(term.backend().buffer());
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let top = lines
        .iter()
        .position(|l| l.iter().collect::<String>().contains("edit adam-2"))
        .ok_or("no form")?;
    let left = lines[top]
        .iter()
        .position(|&c| c == '┌')
        .ok_or("no corner")?;
    let right = left
        + lines[top][left..]
            .iter()
            .position(|&c| c == '┐')
            .ok_or("no corner")?;
    let form: Vec<String> = lines[top..]
        .iter()
        .map(|l| l[left..=right.min(l.len() - 1)].iter().collect::<String>())
        .take_while(|l| !l.starts_with('└'))
        .collect();
    insta::assert_snapshot!("edit_schedule_and_average_120x40", form.join("\n"));
    let r = &app.session.runs()[run];
    assert_eq!(
        r.spec.schedule,
        Some(Schedule::Step {
            step_size: 3,
            gamma: 0.5
        })
    );
    assert_eq!(r.spec.average, Some(Averaging::Ema { decay: 0.9 }));
    assert_eq!(r.steps(), 0);
    // a bad kind is refused in the form, with the loader's words
    let script = [
        vec![press(KeyCode::Up)],
        retype("{kind: cosin, T_max: 9}", 40),
    ]
    .concat();
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    let error = form_error(&app)?;
    assert!(error.contains("cosin"), "{error}");
    drive(&mut app, "\u{1b}nnnn")?;
    let r = &app.session.runs()[run];
    assert_eq!(r.steps(), 4);
    // StepLR(step_size 3, gamma 0.5) on adam's 0.001: the 4th step's lr is halved
    assert_eq!(r.optimizer().lr(), 0.0005);
    assert_eq!(r.extra_points().first().map(|p| p.name), Some("ema"));
    // an optimizer without a learning rate cannot take a schedule
    app.session
        .apply(crate::session::Command::AddRun(RunSpec::new("nelder_mead")))?;
    app.selected = app.session.runs().len() - 1;
    drive(&mut app, "e")?;
    let script = [
        vec![press(KeyCode::Up), press(KeyCode::Up)],
        retype("{kind: exponential, gamma: 0.9}", 4),
    ]
    .concat();
    run_loop(&mut term, &mut app, &mut ScriptedEvents::new(script))?;
    let error = form_error(&app)?;
    assert!(
        error.contains("nelder_mead has no learning rate"),
        "{error}"
    );
    assert_eq!(app.session.runs()[app.selected].spec.schedule, None);
    Ok(())
}
