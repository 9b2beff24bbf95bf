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

use super::app::{App, Mode, Panel, SMOOTHING, XAxis};
use super::event::help_entries;
use super::widgets::help::centered;
use crate::optim::registry;
use crate::text::{printable, printable_lines};

use super::widgets::{
    ASCII_BORDER, EngineStat, ErrorPopup, GradRow, GradTable, HelpOverlay, LandscapeView,
    LossChart, NoiseView, RunDetail, RunRow, RunsTable, SeriesView, StatusBar, TapeRow, TapeView,
    TooSmall, asciify, run_color,
};
use crate::landscape::{Basis, Rgb, Scene, Surface, Trail, scene};

/// Status bar hints in normal mode.
const HINTS: &[(&str, &str)] = &[
    ("space", "pause"),
    ("n", "step"),
    ("b", "back"),
    ("1-9", "run"),
    ("e", "edit"),
    ("a", "add"),
    ("g", "engine"),
    ("v", "view"),
    ("?", "help"),
    ("q", "quit"),
];

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
    let mut b = Block::bordered().title(title);
    if app.ascii {
        b = b.border_set(ASCII_BORDER);
    }
    if app.focus == panel {
        b.border_style(Style::default().fg(Color::Yellow))
    } else {
        b.border_style(Style::default().fg(Color::DarkGray))
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let area = frame.area();
    if TooSmall::applies(area) {
        frame.render_widget(TooSmall::for_area(area), area);
        return;
    }
    let areas = layout(area, app.show_tape);
    draw_landscape(frame, app, areas.landscape);
    draw_loss(frame, app, areas.loss);
    draw_runs(frame, app, areas.runs);
    if let Some(r) = areas.gradients {
        draw_gradients(frame, app, r);
    }
    if let Some(r) = areas.tape {
        if app.show_noise {
            draw_noise(frame, app, r);
        } else {
            draw_tape(frame, app, r);
        }
    }
    draw_status(frame, app, areas.status);
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
    let names: Vec<String> = app
        .session
        .objective()
        .param_names()
        .iter()
        .map(|n| printable(n).into_owned())
        .collect();
    let selected = app
        .session
        .runs()
        .get(app.selected)
        .map_or(Cow::Borrowed(""), |r| printable(r.label()));
    let title = match app.basis() {
        Some(b @ Basis::Features) => format!(" {} ", scene::title(b, &names, &selected)),
        Some(b) => format!(" landscape: {} ", scene::title(b, &names, &selected)),
        None => " landscape ".to_owned(),
    };
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
    if app.show_noise {
        scene.trails.extend(noise_arrows(&app.noise, surface));
    }
    frame.render_widget(LandscapeView::new(surface, &scene).ascii(app.ascii), inner);
    app.landscape_plot = LandscapeView::plot_area(surface, inner);
}

fn draw_loss(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let x_label = match app.x_axis {
        XAxis::Steps => "step",
        XAxis::Epochs => "epoch",
        XAxis::Examples => "examples seen",
        XAxis::Evaluations => "evaluations",
    };
    let n_train = app.session.objective().n_train().unwrap_or(1).max(1) as f64;
    let smoothing = SMOOTHING[app.smoothing % SMOOTHING.len()];
    let title = match smoothing {
        Some(w) => format!(" loss vs {x_label} (smoothed {w}) "),
        None => format!(" loss vs {x_label} "),
    };
    let b = block(app, Panel::Loss, title);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let x_of = |p: &crate::session::Point| match app.x_axis {
        XAxis::Steps => p.step as f64,
        XAxis::Epochs => p.examples as f64 / n_train,
        XAxis::Examples => p.examples as f64,
        XAxis::Evaluations => p.evaluations as f64,
    };
    // Hidden runs keep their colour index, so showing one again recolours nothing.
    let runs: Vec<(usize, &crate::session::Run)> = app
        .session
        .runs()
        .iter()
        .enumerate()
        .filter(|(_, r)| app.is_visible(r.label()))
        .collect();
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
    let labels: Vec<Cow<'_, str>> = runs.iter().map(|(_, r)| printable(r.label())).collect();
    let mut series: Vec<SeriesView<'_>> = runs
        .iter()
        .zip(&labels)
        .zip(&data)
        .map(|(((i, _), label), points)| SeriesView {
            label,
            color: run_color(*i),
            points,
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
        .marks(&marks)
        .ascii(app.ascii);
    frame.render_widget(chart, inner);
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
    });
    let arrows = [(dg, Rgb(255, 255, 255)), (db, Rgb(255, 165, 0))]
        .into_iter()
        .map(|(d, color)| Trail {
            label: String::new(),
            color,
            points: vec![from, tip(d)],
            current: None,
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
                .map(|(n, v)| (n, v.to_string()))
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
    let detail = selected.map(|_| RunDetail {
        hyperparameters: &hypers,
        state: &state,
    });
    let table = RunsTable {
        rows: &rows,
        selected: selected.map(|_| app.selected),
        detail,
    };
    frame.render_widget(table, inner);
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
    frame.render_widget(
        GradTable {
            rows: &rows,
            engines: &engines,
            scroll: app.grad_scroll,
        },
        inner,
    );
}

fn draw_tape(frame: &mut Frame<'_>, app: &App, area: Rect) {
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
    let engine = app.session.engine().name();
    let hints: &[(&str, &str)] = match app.mode {
        Mode::Normal => HINTS,
        Mode::Edit(_) => &[("enter", "apply"), ("up/down", "field"), ("esc", "close")],
        Mode::AddRun(_) | Mode::Open(_) => &[("enter", "choose"), ("esc", "cancel")],
        Mode::Help | Mode::Error(_) => &[("esc", "close"), ("q", "quit")],
    };
    let name = printable(&app.session.name);
    frame.render_widget(
        StatusBar {
            scenario: &name,
            engine,
            steps_per_sec: app.steps_per_sec,
            running: app.running(),
            hints,
        },
        area,
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
                    Span::styled(
                        format!("  {}", f.description),
                        Style::default().fg(Color::Gray),
                    ),
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
            let title = if adding {
                " add an optimizer "
            } else {
                " open a scenario "
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
                title,
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
