//! Layout and drawing: turns the app state into the widgets' view structs every frame.
//!
//! ```text
//! +------------------------------+--------------------------+
//! | landscape (heatmap, contours,| loss curves              |
//! | trajectories)                |                          |
//! |                              +--------------------------+
//! |                              | runs + selected detail   |
//! |                              | (hyperparameters, state) |
//! +---------------+--------------+--------------------------+
//! | gradients (fwd/rev/fd, cost)  | tape (op, inputs, ...)  |   <- one panel + `t` when narrow
//! +---------------------------------------------------------+
//! status bar: scenario | engine | speed | state | keys
//! ```
//! Layered models get the gradient-flow panel in the tape's place. The back-propagation view
//! (`p`) takes the place of the landscape, loss and runs panels: the expression text, the
//! computation graph and the stepper's captions (wrapped here, so they are never cut), or the
//! network and its caption; on terminals under 30 rows it takes the bottom panels' rows too.
//! Below 80x24 only the "terminal too small" notice is drawn. Overlays (help, error, form,
//! pickers) are drawn last; `--ascii` rewrites the finished buffer with plain characters.
//! Text from files (scenario name, run labels, parameter names, file names, error messages)
//! is passed through [`printable`] here, so the widgets never see a control character.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::app::{App, FIT_LAST, Mode, Panel, SMOOTHING, XAxis};
use super::backprop::{FIGURES, wrap};
use super::event::help_entries;
use super::widgets::help::centered;
use crate::optim::registry;
use crate::text::{printable, printable_lines};

use super::widgets::{
    ASCII_BORDER, EngineStat, ErrorPopup, FlowPanel, GradRow, GradTable, GraphView, HelpOverlay,
    LandscapeView, LossChart, NetworkView, NoiseView, RaceState, RunDetail, RunRow, RunsTable,
    SeriesView, StatusBar, TapeRow, TapeView, TooSmall, asciify, format_compact, rgb, run_color,
};
use crate::landscape::palette;
use crate::landscape::{Basis, Rgb, Scene, Surface, Trail, scene};

/// Status bar hints in normal mode, after the focused panel's arrows (`? help` and `q quit`
/// are always shown by the bar itself).
const HINTS: &[(&str, &str)] = &[
    ("Tab", "focus"),
    ("1-9", "run"),
    ("e", "edit"),
    ("+-", "speed"),
    ("g", "engine"),
    ("i", "about"),
];

/// What the arrows do in each panel, first among the hints.
fn arrow_hint(panel: Panel, cursor: bool) -> (&'static str, &'static str) {
    match panel {
        Panel::Landscape if cursor => ("arrows", "move cursor  Esc hide"),
        Panel::Landscape => ("arrows", "pan  Enter cursor"),
        Panel::Loss => ("←→", "cursor ↑↓ smoothing"),
        Panel::Runs => ("↑↓", "select run"),
        Panel::Gradients => ("↑↓", "scroll gradients"),
        Panel::Tape => ("↑↓", "scroll tape"),
    }
}

/// Where each panel went; `None` when a panel is hidden at this size.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    pub landscape: Rect,
    pub loss: Rect,
    pub runs: Rect,
    pub gradients: Option<Rect>,
    pub tape: Option<Rect>,
    pub status: Rect,
}

/// Splits the screen; wide terminals show gradients and tape side by side.
#[must_use]
pub fn layout(area: Rect, show_tape: bool) -> Areas {
    let bottom_h = (area.height * 3 / 10).clamp(7, 14);
    let [main, bottom, status] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(bottom_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let [landscape, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main);
    let [loss, runs] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
    let (gradients, tape) = if area.width >= 110 {
        let [g, t] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
            .areas(bottom);
        (Some(g), Some(t))
    } else if show_tape {
        (None, Some(bottom))
    } else {
        (Some(bottom), None)
    };
    Areas {
        landscape,
        loss,
        runs,
        gradients,
        tape,
        status,
    }
}

/// Every run's label, printable, in run order.
fn labels(app: &App) -> Vec<Cow<'_, str>> {
    app.session
        .runs()
        .iter()
        .map(|r| printable(r.label()))
        .collect()
}

fn block<'a>(app: &App, panel: Panel, title: impl Into<Line<'a>>) -> Block<'a> {
    let mut title: Line<'a> = title.into();
    let focused = app.focus == panel;
    if focused {
        // Focus shows three ways: a thick yellow border, a marker and a bold title.
        title.spans.insert(0, Span::raw(" ▶"));
        title = title.style(Style::default().add_modifier(Modifier::BOLD));
    }
    let mut b = Block::bordered().title(title);
    if focused {
        b = b
            .border_type(ratatui::widgets::BorderType::Thick)
            .border_style(Style::default().fg(Color::Yellow));
    } else {
        b = b.border_style(Style::default().fg(Color::DarkGray));
    }
    if app.ascii {
        b = b.border_set(ASCII_BORDER);
    }
    b
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let area = frame.area();
    if TooSmall::applies(area) {
        frame.render_widget(TooSmall::for_area(area), area);
        return;
    }
    let areas = layout(area, app.show_tape);
    let short = area.height < BACKPROP_TALL;
    if app.backprop.open {
        let mut main = areas.landscape.union(areas.loss).union(areas.runs);
        // On a short terminal the view also takes the bottom panels' rows: the graph and
        // whole captions need them more.
        if short {
            for r in [areas.gradients, areas.tape].into_iter().flatten() {
                main = main.union(r);
            }
        }
        draw_backprop(frame, app, main);
    } else {
        // The loss chart first: the landscape marks where its cursor falls.
        app.loss_cursor_x = draw_loss(frame, app, areas.loss);
        draw_landscape(frame, app, areas.landscape);
        draw_runs(frame, app, areas.runs);
    }
    let covered = app.backprop.open && short;
    if let Some(r) = areas.gradients.filter(|_| !covered) {
        draw_gradients(frame, app, r);
    }
    if let Some(r) = areas.tape.filter(|_| !covered) {
        if app.show_noise {
            draw_noise(frame, app, r);
        } else {
            draw_tape(frame, app, r);
        }
    }
    draw_status(frame, app, areas.status);
    draw_toast(frame, app, areas.status);
    if app.mode == Mode::Help {
        let (_, max_scroll) = HelpOverlay::page(help_entries().len(), area);
        app.help_scroll = app.help_scroll.min(max_scroll);
    }
    draw_overlay(frame, app, area);
    if app.ascii {
        asciify(frame.buffer_mut(), area);
    }
}

fn draw_landscape(frame: &mut Frame<'_>, app: &mut App, area: Rect) {
    let selected = app
        .session
        .runs()
        .get(app.selected)
        .map_or(Cow::Borrowed(""), |r| printable(r.label()));
    let title = app.basis().map_or_else(
        || " landscape ".to_owned(),
        |b| {
            let (x, y) = scene::axis_names(b, &app.session);
            let axes = (&*printable(&x), &*printable(&y));
            match b {
                Basis::Features => format!(" {} ", scene::title(b, axes, &selected)),
                _ => format!(" landscape: {} ", scene::title(b, axes, &selected)),
            }
        },
    );
    let b = block(app, Panel::Landscape, title);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let Some(surface) = app.surface() else {
        frame.render_widget(Paragraph::new("computing the landscape..."), inner);
        app.landscape_plot = None;
        return;
    };
    let visible = |label: &str| app.is_visible(label);
    let mut scene = Scene::new(
        &app.session,
        &surface.grid.basis,
        &app.view,
        &visible,
        app.data_points.as_deref().unwrap_or(&[]),
    );
    if let Some(x) = app.loss_cursor_x {
        mark_loss_cursor(app, &mut scene, &surface.grid.basis, x);
    }
    if app.show_noise {
        scene.trails.extend(noise_arrows(&app.noise, surface));
    }
    frame.render_widget(
        LandscapeView::new(surface, &scene)
            .ascii(app.ascii)
            .cursor(app.landscape_cursor),
        inner,
    );
    app.landscape_plot = LandscapeView::plot_area(surface, inner);
}

/// Marks on each trail where its run was at `x` on the loss chart's axis (its last recorded
/// point at or before `x`), so the loss cursor's step can be found on the landscape.
fn mark_loss_cursor(app: &App, scene: &mut Scene<'_>, basis: &Basis, x: f64) {
    let n_train = app.session.objective().n_train().unwrap_or(1).max(1) as f64;
    for trail in &mut scene.trails {
        let Some(run) = app.session.runs().iter().find(|r| r.label() == trail.label) else {
            continue;
        };
        trail.at_cursor = run
            .history()
            .points()
            .iter()
            .take_while(|p| app.x_axis.of(p, n_train) <= x)
            .filter(|p| !p.params.is_empty())
            .last()
            .map(|p| basis.project(&p.params));
    }
}

/// Draws the loss chart; returns where its cursor stands on the x axis, if it is on.
fn draw_loss(frame: &mut Frame<'_>, app: &App, area: Rect) -> Option<f64> {
    let x_label = app.x_axis.label();
    let n_train = app.session.objective().n_train().unwrap_or(1).max(1) as f64;
    let smoothing = SMOOTHING[app.smoothing % SMOOTHING.len()];
    let window = FIT_LAST[app.fit_last % FIT_LAST.len()];
    let mut title = format!(" loss vs {x_label} ");
    if let Some(w) = smoothing {
        title.push_str(&format!("(smoothed {w}) "));
    }
    if let Some(share) = window {
        title.push_str(&format!("(last {:.0}%) ", share * 100.0));
    }
    let b = block(app, Panel::Loss, title);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let x_of = |p: &crate::session::Point| app.x_axis.of(p, n_train);
    // Hidden runs keep their colour index, so showing one again recolours nothing. The selected
    // run goes last, so it is drawn over the others, which are dimmed.
    let mut runs: Vec<(usize, &crate::session::Run)> = app
        .session
        .runs()
        .iter()
        .enumerate()
        .filter(|(_, r)| app.is_visible(r.label()))
        .collect();
    runs.sort_by_key(|(i, _)| *i == app.selected);
    let dim = runs.len() > 1;
    let data: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|(_, r)| {
            r.history()
                .points()
                .iter()
                .map(|p| (x_of(p), p.loss))
                .collect()
        })
        .collect();
    let span = data.iter().flatten().map(|p| p.0).fold(0.0_f64, f64::max);
    let labels: Vec<Cow<'_, str>> = runs.iter().map(|(_, r)| printable(r.label())).collect();
    let mut series: Vec<SeriesView<'_>> = runs
        .iter()
        .zip(&labels)
        .zip(&data)
        .map(|(((i, r), label), points)| SeriesView {
            label,
            color: if dim && *i != app.selected {
                rgb(palette::run(*i).darkened(0.45))
            } else {
                run_color(*i)
            },
            points,
            diverged: matches!(r.status(), crate::session::Status::Diverged(_)),
        })
        .collect();
    // With `f`: each minibatch run's full training loss (its minibatch curve is noisy) and every
    // run's test loss, in lighter and darker shades of the run's colour.
    let extra: Vec<ExtraCurve> = if app.show_full_loss {
        extra_losses(&runs, &labels, &x_of)
    } else {
        Vec::new()
    };
    series.extend(extra.iter().map(|(label, color, points)| SeriesView {
        label,
        color: *color,
        points,
        diverged: false,
    }));
    // Epoch boundaries of the selected run, where there are few enough to see.
    let marks: Vec<f64> = match app.session.runs().get(app.selected) {
        Some(r) if r.batch_size().is_some() => {
            let points = r.history().points();
            let marks: Vec<f64> = points
                .windows(2)
                .filter(|w| w[1].epoch > w[0].epoch)
                .map(|w| x_of(&w[1]))
                .collect();
            if marks.len() <= 40 { marks } else { Vec::new() }
        }
        _ => Vec::new(),
    };
    let chart = LossChart::new(&series)
        .log_y(app.log_scale)
        .x_label(x_label)
        .smoothing(smoothing)
        .x_window(window.map(|share| share * span))
        .cursor(app.loss_cursor)
        .whole_x(!matches!(app.x_axis, XAxis::WallTime | XAxis::Epochs))
        .marks(&marks)
        .ascii(app.ascii);
    let cursor_x = chart.cursor_x();
    frame.render_widget(chart, inner);
    cursor_x
}

/// −G (white) and −g_B (orange) from the point of the noise panel's figures, as unlabelled
/// two-point trails on the landscape's plane, scaled together so the longer is a fifth of the
/// view (their lengths compare; their scale is not the learning rate's), and the tips of −g
/// for other batches of the same size as a faint cloud of dots.
pub(crate) fn noise_arrows(noise: &crate::tui::noise::NoisePanel, surface: &Surface) -> Vec<Trail> {
    let basis = &surface.grid.basis;
    let dim = noise.point.len();
    if *basis == Basis::Features
        || noise.stats.is_none()
        || noise.full_gradient.len() != dim
        || noise.minibatch_gradient.len() != dim
    {
        return Vec::new();
    }
    let (x0, x1) = surface.grid.x_range;
    let (y0, y1) = surface.grid.y_range;
    let (w, h) = ((x1 - x0).abs(), (y1 - y0).abs());
    let from = basis.project(&noise.point);
    // The basis is affine, so a direction's image is the difference of two projections.
    let direction = |g: &[f64]| {
        let to: Vec<f64> = noise.point.iter().zip(g).map(|(p, d)| p - d).collect();
        let end = basis.project(&to);
        (end.0 - from.0, end.1 - from.1)
    };
    let (dg, db) = (
        direction(&noise.full_gradient),
        direction(&noise.minibatch_gradient),
    );
    // Lengths in fractions of the view, so a flat view does not hide one axis.
    let size = |d: (f64, f64)| (d.0 / w).hypot(d.1 / h);
    let longest = size(dg).max(size(db));
    if !(longest.is_finite() && longest > 0.0 && w > 0.0 && h > 0.0) {
        return Vec::new();
    }
    let k = 0.2 / longest;
    let tip = |d: (f64, f64)| (from.0 + k * d.0, from.1 + k * d.1);
    // The cloud first, so the arrows are drawn over it.
    let cloud = noise.cloud.iter().map(|g| Trail {
        label: String::new(),
        color: Rgb(150, 95, 30),
        points: vec![tip(direction(g))],
        current: None,
        extras: Vec::new(),
        at_cursor: None,
    });
    let arrows = [(dg, Rgb(255, 255, 255)), (db, Rgb(255, 165, 0))]
        .into_iter()
        .map(|(d, color)| Trail {
            label: String::new(),
            color,
            points: vec![from, tip(d)],
            current: None,
            extras: Vec::new(),
            at_cursor: None,
        });
    cloud.chain(arrows).collect()
}

/// A curve beside a run's own: its label, colour and points.
type ExtraCurve = (String, Color, Vec<(f64, f64)>);

/// The full-loss curves of the minibatch runs and the test-loss curves of every run.
fn extra_losses(
    runs: &[(usize, &crate::session::Run)],
    labels: &[Cow<'_, str>],
    x_of: &dyn Fn(&crate::session::Point) -> f64,
) -> Vec<ExtraCurve> {
    let mut out = Vec::new();
    for ((i, r), label) in runs.iter().zip(labels) {
        let points = r.history().points();
        let color = crate::landscape::palette::run(*i);
        if r.objective().is_stochastic() {
            let full: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|p| p.full_loss.map(|l| (x_of(p), l)))
                .collect();
            out.push((format!("{label} full"), shade(color, 1.6), full));
        }
        let test: Vec<(f64, f64)> = points
            .iter()
            .filter_map(|p| p.test_loss.map(|l| (x_of(p), l)))
            .collect();
        if !test.is_empty() {
            out.push((format!("{label} test"), shade(color, 0.55), test));
        }
    }
    out
}

/// A run's colour made lighter (`factor > 1`) or darker.
fn shade(c: crate::landscape::palette::Rgb, factor: f64) -> Color {
    let f = |v: u8| (f64::from(v) * factor).round().clamp(0.0, 255.0) as u8;
    Color::Rgb(f(c.0), f(c.1), f(c.2))
}

fn draw_noise(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let n = &app.noise;
    let title = match app.session.runs().get(n.run) {
        Some(r) if n.stats.is_some() => format!(" gradient noise of {} ", printable(r.label())),
        _ => " gradient noise ".to_owned(),
    };
    let b = block(app, Panel::Tape, title);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    frame.render_widget(
        NoiseView {
            stats: n.stats.as_ref(),
            step: n.step,
            nanos: (!app.deterministic).then_some(n.nanos),
            cosines: &n.cosines,
            message: n.message,
            ascii: app.ascii,
        },
        inner,
    );
}

fn draw_runs(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let b = block(app, Panel::Runs, " runs ");
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let runs = app.session.runs();
    let statuses: Vec<&str> = runs.iter().map(|r| r.status().name()).collect();
    let labels = labels(app);
    let rows: Vec<RunRow<'_>> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let c = r.counts();
            RunRow {
                // A hidden run is greyed out here, and drawn nowhere else.
                color: if app.is_visible(r.label()) {
                    run_color(i)
                } else {
                    Color::DarkGray
                },
                label: &labels[i],
                optimizer: r.optimizer().name(),
                status: statuses[i],
                loss: r.loss(),
                steps: r.steps(),
                evaluations: (c.value, c.gradient, c.hessian),
                passes: c.passes,
                engine: r.engine().name(),
                batch: r.batch_size().map(|b| (b, r.epoch())),
            }
        })
        .collect();
    let selected = runs.get(app.selected);
    let hypers: Vec<(String, String)> = selected
        .map(|r| {
            r.optimizer()
                .hyperparameters()
                .into_iter()
                .map(|(n, v)| (n, hyper_text(&v)))
                .collect()
        })
        .unwrap_or_default();
    let state: Vec<(String, Vec<f64>)> = selected
        .map(|r| {
            r.optimizer()
                .state()
                .into_iter()
                .map(|s| (s.name.to_owned(), s.values))
                .collect()
        })
        .unwrap_or_default();
    let traced: Vec<(String, Vec<f64>)> = selected
        .map(|r| {
            r.traced()
                .into_iter()
                .map(|(name, series)| {
                    (
                        name.to_owned(),
                        series.into_iter().map(|(_, v)| v).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let detail = selected.map(|_| RunDetail {
        hyperparameters: &hypers,
        state: &state,
        traced: &traced,
    });
    let table = RunsTable {
        rows: &rows,
        selected: selected.map(|_| app.selected),
        detail,
    };
    frame.render_widget(table, inner);
}

/// A hyperparameter as the detail area shows it: numbers in the one compact format
/// (`eps=1e-8`, not `eps=0.00000001`), everything else as the form writes it.
fn hyper_text(v: &crate::optim::HyperValue) -> String {
    match v {
        crate::optim::HyperValue::Float(x) => format_compact(*x),
        other => other.to_string(),
    }
}

fn draw_gradients(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let g = &app.grad;
    let title = match app.session.runs().get(g.run) {
        Some(r) => format!(
            " gradients of {} at step {} ",
            printable(r.label()),
            r.steps()
        ),
        None => " gradients ".to_owned(),
    };
    let b = block(app, Panel::Gradients, title);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let names: Vec<Cow<'_, str>> = g.names.iter().map(|n| printable(n)).collect();
    let rows: Vec<GradRow<'_>> = g
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| GradRow {
            name: names.get(i).map_or("?", |n| n),
            forward: v[0],
            reverse: v[1],
            finite: v[2],
        })
        .collect();
    let engines: Vec<EngineStat<'_>> = ["forward", "reverse", "finite"]
        .iter()
        .zip(&g.stats)
        .map(|(name, (passes, ns))| EngineStat {
            engine: name,
            passes: *passes,
            ns_per_gradient: *ns,
        })
        .collect();
    let passes = g
        .stats
        .map(|(p, _)| usize::try_from(p).unwrap_or(usize::MAX));
    let ratio = crate::engines::ratio_words(passes, g.stats.map(|(_, ns)| ns));
    // Most important first: a short panel drops the last notes.
    let notes: Vec<&str> = g.finite_note.into_iter().chain(ratio.as_deref()).collect();
    frame.render_widget(
        GradTable {
            rows: &rows,
            engines: &engines,
            scroll: app.grad_scroll,
            notes: &notes,
        },
        inner,
    );
}

/// Terminals shorter than this give the back-propagation view the bottom panels' rows too.
const BACKPROP_TALL: u16 = 30;
/// Rows the graph or network keeps however long the captions are: one row of boxes.
const BACKPROP_MIN_BODY: u16 = 5;

/// The back-propagation view in place of the landscape, loss and runs panels.
fn draw_backprop(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let view = &app.backprop;
    // The keys first, short enough for 80 columns, where the status bar has no room for them.
    let title = if view.expr.is_some() {
        " back-propagation graph: arrows select, n/b step, r restart, m mode, p close ".to_owned()
    } else if let Some(n) = &view.net {
        let shown = n.example.map_or_else(
            || "batch mean".to_owned(),
            |i| format!("example {} of {}", i + 1, n.examples),
        );
        format!(" network, {shown}: arrows select, n/b step, c/C example, p close ")
    } else {
        " back-propagation ".to_owned()
    };
    let mut b = Block::bordered()
        .title(title)
        .border_style(Style::default().fg(Color::Yellow));
    if app.ascii {
        b = b.border_set(ASCII_BORDER);
    }
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let chunk = match app.session.engine() {
        crate::ad::Engine::Forward { chunk } => chunk,
        _ => crate::ad::DEFAULT_CHUNK,
    };
    // Wrapped here, not by the paragraph, so that the captions get every row they need.
    let captions: Vec<Line<'_>> = view
        .captions(app.ascii, chunk)
        .iter()
        .flat_map(|c| wrap(&printable(c), usize::from(inner.width)))
        .map(Line::raw)
        .collect();
    let wrapped_h = u16::try_from(captions.len()).unwrap_or(u16::MAX);
    let caption_h = wrapped_h.min(inner.height.saturating_sub(BACKPROP_MIN_BODY));
    if let Some(e) = &view.expr {
        let source = e.stepper.graph().source.as_str();
        let span = e
            .stepper
            .graph()
            .nodes
            .get(e.selected)
            .and_then(|n| n.span.clone());
        let text = highlighted(source, span.clone());
        // The expression gives its rows up to the captions first (down to one line).
        let room = inner
            .height
            .saturating_sub(BACKPROP_MIN_BODY + wrapped_h)
            .max(1);
        let text_h = (text.len() as u16).min(inner.height / 4).min(room).max(1);
        let caption_h = caption_h.min(inner.height.saturating_sub(BACKPROP_MIN_BODY + text_h));
        // Scroll the text so the highlighted line is shown.
        let hot_line = span.map_or(0, |r| {
            source.get(..r.start).unwrap_or("").matches('\n').count()
        });
        let skip = (hot_line + 1).saturating_sub(usize::from(text_h));
        let text: Vec<Line<'_>> = text.into_iter().skip(skip).collect();
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Length(text_h),
            Constraint::Fill(1),
            Constraint::Length(caption_h),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(text), top);
        let state = e.stepper.state();
        frame.render_widget(
            GraphView {
                graph: e.stepper.graph(),
                layout: &e.layout,
                state: &state,
                mode: e.stepper.mode(),
                current: e.stepper.current(),
                selected: e.selected,
                ascii: app.ascii,
            },
            middle,
        );
        frame.render_widget(Paragraph::new(captions), bottom);
    } else if let Some(n) = &view.net {
        let [middle, bottom] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(caption_h)]).areas(inner);
        let (a, delta) = n.values();
        if !a.is_empty() {
            frame.render_widget(
                NetworkView {
                    layers: &n.layers,
                    a,
                    delta,
                    forward: n.forward(),
                    backward: n.backward(),
                    params: &n.params,
                    selected: n.selected,
                    ascii: app.ascii,
                },
                middle,
            );
        }
        frame.render_widget(Paragraph::new(captions), bottom);
    } else {
        frame.render_widget(
            Paragraph::new(
                "the back-propagation view steps through expressions and layered models \
                 (MLP, linear, logistic, softmax regression); this objective is neither",
            )
            .wrap(Wrap { trim: true }),
            inner,
        );
    }
}

/// The expression's text, one line per source line, with the byte range `span` highlighted.
fn highlighted(source: &str, span: Option<std::ops::Range<usize>>) -> Vec<Line<'static>> {
    let hot = Style::default()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in source.split('\n') {
        let (start, end) = (offset, offset + line.len());
        offset = end + 1;
        let cut = |i: usize| {
            let i = i.clamp(start, end) - start;
            // Spans are byte ranges of the source; keep the cut on a character boundary.
            (0..=i)
                .rev()
                .find(|&k| line.is_char_boundary(k))
                .unwrap_or(0)
        };
        let spans = match &span {
            Some(r) if r.start < end && r.end > start => {
                let (a, b) = (cut(r.start), cut(r.end));
                vec![
                    Span::raw(printable(&line[..a]).into_owned()),
                    Span::styled(printable(&line[a..b]).into_owned(), hot),
                    Span::raw(printable(&line[b..]).into_owned()),
                ]
            }
            _ => vec![Span::raw(printable(line).into_owned())],
        };
        lines.push(Line::from(spans));
    }
    lines
}

fn draw_tape(frame: &mut Frame<'_>, app: &App, area: Rect) {
    if app.grad.tape.is_none()
        && let Some(flow) = app.flow()
    {
        let (figure, read) = FIGURES[app.backprop.figure % FIGURES.len()];
        let title = format!(" gradient flow per layer, {figure} over time (left/right) ");
        let b = block(app, Panel::Tape, title);
        let inner = b.inner(area);
        frame.render_widget(b, area);
        let flows = flow.latest().unwrap_or(&[]);
        let history: Vec<Vec<f64>> = (1..=flows.len()).map(|l| flow.series(l, read)).collect();
        frame.render_widget(
            FlowPanel {
                flows,
                history: &history,
                figure,
                ascii: app.ascii,
            },
            inner,
        );
        return;
    }
    let b = block(app, Panel::Tape, " reverse-mode tape ");
    let inner = b.inner(area);
    frame.render_widget(b, area);
    match &app.grad.tape {
        Some(nodes) => {
            let rows: Vec<TapeRow<'_>> = nodes
                .iter()
                .enumerate()
                .map(|(index, (op, inputs, value, adjoint))| TapeRow {
                    index,
                    op,
                    inputs,
                    value: *value,
                    adjoint: *adjoint,
                })
                .collect();
            frame.render_widget(
                TapeView {
                    rows: &rows,
                    scroll: app.tape_scroll,
                },
                inner,
            );
        }
        None => frame.render_widget(
            Paragraph::new("the tape is shown for expressions and small models only")
                .wrap(Wrap { trim: true }),
            inner,
        ),
    }
}

fn draw_status(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let runs = app.session.runs();
    // Runs may have engines of their own (`G`, or `engine:` in a file).
    let engine = match runs.first().map(|r| r.engine()) {
        Some(first) if runs.iter().any(|r| r.engine() != first) => "mixed engines",
        Some(first) => first.name(),
        None => app.session.engine().name(),
    };
    let mut normal = vec![arrow_hint(app.focus, app.landscape_cursor.is_some())];
    normal.extend_from_slice(HINTS);
    if app.backprop.open {
        // Inside the view the arrows select and n/b drive the stepper.
        normal = if app.backprop.net.is_some() {
            vec![
                ("↑↓←→", "unit/layer"),
                ("n b", "step"),
                ("c C", "example"),
                ("p", "close"),
            ]
        } else {
            vec![
                ("arrows", "select node"),
                ("n b", "step"),
                ("m", "mode"),
                ("r", "restart"),
                ("p", "close"),
            ]
        };
    }
    let hints: &[(&str, &str)] = match app.mode {
        Mode::Normal => &normal,
        Mode::Edit(_) => &[("enter", "apply"), ("up/down", "field"), ("esc", "close")],
        Mode::AddRun(_) => &[
            ("enter", "add"),
            ("e", "add, then set schedule/average/hyperparameters"),
            ("esc", "cancel"),
        ],
        Mode::Open(_) => &[("enter", "choose"), ("esc", "cancel")],
        Mode::Help | Mode::About | Mode::Error(_) => &[("esc", "close")],
    };
    let state = if app.session.is_finished() {
        RaceState::Finished
    } else if !app.session.is_paused() {
        RaceState::Running
    } else if runs.iter().all(|r| r.steps() == 0) && !app.backprop.open {
        RaceState::Ready
    } else if app.backprop.open {
        // `n` steps the back-propagation stepper here, not the runs
        RaceState::PausedInView
    } else {
        RaceState::Paused
    };
    let name = printable(&app.session.name);
    let speed = app.speed_text();
    frame.render_widget(
        StatusBar {
            scenario: &name,
            engine,
            speed: &speed,
            state,
            hints,
        },
        area,
    );
}

/// The message line: the last state change a key made, over the row above the status bar.
fn draw_toast(frame: &mut Frame<'_>, app: &App, status: Rect) {
    let Some(toast) = &app.toast else {
        return;
    };
    if status.y == 0 || app.mode != Mode::Normal {
        return;
    }
    let text = format!(" {} ", printable(&toast.text));
    let width = (text.chars().count() as u16).min(status.width.saturating_sub(2));
    let rect = Rect::new(status.x + 1, status.y - 1, width, 1);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(text).style(Style::default().fg(Color::Black).bg(Color::Yellow)),
        rect,
    );
}

fn draw_overlay(frame: &mut Frame<'_>, app: &App, area: Rect) {
    match &app.mode {
        Mode::Normal => {}
        Mode::Help => {
            let keys = help_entries();
            frame.render_widget(
                HelpOverlay {
                    keys: &keys,
                    scroll: app.help_scroll,
                },
                area,
            );
        }
        Mode::Error(message) => {
            frame.render_widget(
                ErrorPopup {
                    title: "error",
                    message: &printable_lines(message),
                    color: Color::Red,
                },
                area,
            );
        }
        Mode::About => {
            let message = format!(
                "{}\n\nSpace runs the race, n takes one step, ? lists every key.\nEsc closes this; i shows it again.",
                printable_lines(app.description.trim())
            );
            frame.render_widget(
                ErrorPopup {
                    title: &format!("{}: what to look for", printable(&app.session.name)),
                    message: &message,
                    color: Color::Cyan,
                },
                area,
            );
        }
        Mode::Edit(form) => {
            let label = app
                .session
                .runs()
                .get(form.run)
                .map_or(Cow::Borrowed(""), |r| printable(r.label()));
            let mut lines = Vec::new();
            for (k, f) in form.fields.iter().enumerate() {
                let marker = if k == form.selected { "> " } else { "  " };
                let style = if k == form.selected {
                    Style::default().add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                };
                lines.push(Line::from(vec![
                    Span::raw(marker),
                    Span::styled(format!("{:<14}", f.name), style.fg(Color::Cyan)),
                    Span::styled(f.text.clone(), style),
                    Span::styled(if k == form.selected { "_" } else { "" }, style),
                    Span::styled(format!("  {}", f.help()), Style::default().fg(Color::Gray)),
                ]));
                if let Some(e) = &f.error {
                    lines.push(Line::styled(
                        format!("    {e}"),
                        Style::default().fg(Color::Red),
                    ));
                }
            }
            popup(
                frame,
                app,
                area,
                &format!(" edit {label} (enter applies) "),
                lines,
                100,
            );
        }
        Mode::AddRun(p) | Mode::Open(p) => {
            let adding = matches!(app.mode, Mode::AddRun(_));
            let from = app
                .session
                .runs()
                .get(app.selected)
                .map_or_else(String::new, |r| {
                    format!("{}'s point (step {})", printable(r.label()), r.steps())
                });
            let title = match (adding, app.add_from_here) {
                (true, true) => format!(" add an optimizer starting at {from} (←→ start) "),
                (true, false) => " add an optimizer starting at the start (←→ here) ".to_owned(),
                (false, _) => " open a scenario ".to_owned(),
            };
            // an optimizer with its one-line description from the registry
            let item = |s: &str| match registry::spec(s).filter(|_| adding) {
                Some(spec) => format!("{:<20} {}", printable(s), spec.description),
                None => printable(s).into_owned(),
            };
            let lines: Vec<Line<'_>> = if p.items.is_empty() {
                vec![Line::raw(
                    "no *.yaml files in scenarios/ or the current directory",
                )]
            } else {
                p.items
                    .iter()
                    .enumerate()
                    .map(|(k, s)| {
                        if k == p.selected {
                            Line::styled(
                                format!("> {}", item(s)),
                                Style::default().add_modifier(Modifier::REVERSED),
                            )
                        } else {
                            Line::raw(format!("  {}", item(s)))
                        }
                    })
                    .collect()
            };
            // Keep the selection visible in long lists.
            let visible = usize::from(area.height.saturating_sub(6)).max(1);
            let skip = (p.selected + 1).saturating_sub(visible);
            let lines = lines.into_iter().skip(skip).collect();
            popup(
                frame,
                app,
                area,
                &title,
                lines,
                if adding { 112 } else { 60 },
            );
        }
    }
}

fn popup(frame: &mut Frame<'_>, app: &App, area: Rect, title: &str, lines: Vec<Line<'_>>, w: u16) {
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(4));
    let rect = centered(area, w, height);
    frame.render_widget(Clear, rect);
    let mut b = Block::bordered()
        .title(title.to_owned())
        .border_style(Style::default().fg(Color::Yellow));
    if app.ascii {
        b = b.border_set(ASCII_BORDER);
    }
    Paragraph::new(lines)
        .block(b)
        .render(rect, frame.buffer_mut());
}
