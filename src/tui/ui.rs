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
    LossChart, RunDetail, RunRow, RunsTable, SeriesView, StatusBar, TapeRow, TapeView, TooSmall,
    asciify, run_color,
};
use crate::landscape::{Basis, Scene, scene};

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
        draw_tape(frame, app, r);
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
    let scene = Scene::new(
        &app.session,
        &surface.grid.basis,
        &app.view,
        &visible,
        app.data_points.as_deref().unwrap_or(&[]),
    );
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
                .map(|p| {
                    let x = match app.x_axis {
                        XAxis::Steps => p.step as f64,
                        XAxis::Epochs => p.examples as f64 / n_train,
                        XAxis::Examples => p.examples as f64,
                        XAxis::Evaluations => p.evaluations as f64,
                    };
                    (x, p.loss)
                })
                .collect()
        })
        .collect();
    let labels: Vec<Cow<'_, str>> = runs.iter().map(|(_, r)| printable(r.label())).collect();
    let series: Vec<SeriesView<'_>> = runs
        .iter()
        .zip(&labels)
        .zip(&data)
        .map(|(((i, _), label), points)| SeriesView {
            label,
            color: run_color(*i),
            points,
        })
        .collect();
    let chart = LossChart::new(&series)
        .log_y(app.log_scale)
        .x_label(x_label)
        .smoothing(smoothing)
        .ascii(app.ascii);
    frame.render_widget(chart, inner);
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
