//! The runs table: one row per optimizer run with its status and counters, and a detail area for
//! the selected run (hyperparameters and optimizer state vectors).
//!
//! Columns are kept in order of what matters when space runs out: run, loss, steps, gradient
//! passes (the engine's real cost), engine, status, optimizer, evaluations. The run column is as
//! wide as the longest label; hyperparameter lines wrap between entries, never inside one.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table, Widget};

use super::format_compact;

/// How many entries of a state vector the detail area shows before eliding.
const STATE_PREVIEW: usize = 4;

/// One run's summary.
#[derive(Debug, Clone, Copy)]
pub struct RunRow<'a> {
    pub color: Color,
    pub label: &'a str,
    pub optimizer: &'a str,
    pub status: &'a str,
    pub loss: f64,
    pub steps: u64,
    /// Objective evaluations: (values, gradients, Hessians).
    pub evaluations: (u64, u64, u64),
    /// Passes over the function the gradients and Hessians took.
    pub passes: u64,
    pub engine: &'a str,
    /// Examples per batch and epochs completed (model objectives); when any row has them the
    /// table adds `B` and `ep` columns.
    pub batch: Option<(usize, u64)>,
}

/// What the detail area shows for the selected run.
#[derive(Debug, Clone, Copy)]
pub struct RunDetail<'a> {
    pub hyperparameters: &'a [(String, String)],
    /// Optimizer state such as `velocity` or `exp_avg`.
    pub state: &'a [(String, Vec<f64>)],
    /// Scalars the run traces over time (Prodigy's `d`, `dlr`), oldest first, each drawn as
    /// a one-line sparkline beside its first and latest value.
    pub traced: &'a [(String, Vec<f64>)],
}

/// Eight bar heights for the one-line sparklines of traced scalars.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `values` as a sparkline `width` characters wide at most (evenly spaced samples, the last
/// included), on a log scale when they are positive and span more than a factor of 100 (a
/// distance estimate grows by orders of magnitude), else linear. Returns the line and whether
/// it is logarithmic.
#[must_use]
pub fn sparkline(values: &[f64], width: usize) -> (String, bool) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() || width == 0 {
        return (String::new(), false);
    }
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let log = lo > 0.0 && hi / lo > 100.0;
    let map = |v: f64| if log { v.log10() } else { v };
    let (lo, hi) = (map(lo), map(hi));
    let n = finite.len();
    let keep = n.min(width);
    let line = (0..keep)
        .map(|k| {
            let v = finite[if keep == 1 {
                n - 1
            } else {
                k * (n - 1) / (keep - 1)
            }];
            let level = if hi > lo {
                ((map(v) - lo) / (hi - lo) * 7.0).round() as usize
            } else {
                0
            };
            BARS[level.min(7)]
        })
        .collect();
    (line, log)
}

/// The runs widget; the detail area appears below the table when `detail` is set and there is
/// room.
#[derive(Debug, Clone, Copy)]
pub struct RunsTable<'a> {
    pub rows: &'a [RunRow<'a>],
    pub selected: Option<usize>,
    pub detail: Option<RunDetail<'a>>,
}

fn status_color(status: &str) -> Color {
    let s = status.to_ascii_lowercase();
    if s.contains("diverg") || s.contains("error") || s.contains("fail") {
        Color::Red
    } else if s.contains("converg") || s.contains("done") || s.contains("finish") {
        Color::Cyan
    } else if s.contains("run") {
        Color::Green
    } else {
        Color::Gray
    }
}

/// `[a, b, c, d, …] (n)`: the first entries of a vector, compactly.
#[must_use]
pub fn preview_vector(v: &[f64]) -> String {
    let mut s = String::from("[");
    for (k, x) in v.iter().take(STATE_PREVIEW).enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        s.push_str(&format_compact(*x));
    }
    if v.len() > STATE_PREVIEW {
        s.push_str(", …");
    }
    s.push(']');
    if v.len() > STATE_PREVIEW {
        s.push_str(&format!(" ({})", v.len()));
    }
    s
}

impl RunsTable<'_> {
    fn render_detail(detail: &RunDetail<'_>, area: Rect, buf: &mut Buffer) {
        let key = Style::default().fg(Color::Gray);
        let mut lines: Vec<Line<'_>> = Vec::new();
        let mut spans = vec![Span::styled("hyperparameters: ", key)];
        if detail.hyperparameters.is_empty() {
            spans.push(Span::raw("none"));
        }
        let mut used = spans[0].width();
        for (k, (name, value)) in detail.hyperparameters.iter().enumerate() {
            let entry = name.chars().count() + 1 + value.chars().count();
            // A new line rather than an entry cut in the middle (`nesterov=f`).
            if k > 0 && used + 2 + entry > usize::from(area.width) {
                lines.push(Line::from(std::mem::take(&mut spans)));
                spans.push(Span::raw("  "));
                used = 2;
            } else if k > 0 {
                spans.push(Span::raw("  "));
                used += 2;
            }
            spans.push(Span::styled(name.as_str(), key));
            spans.push(Span::raw(format!("={value}")));
            used += entry;
        }
        lines.push(Line::from(spans));
        for (name, values) in detail.state {
            lines.push(Line::from(vec![
                Span::styled(format!("{name}: "), key),
                Span::raw(preview_vector(values)),
            ]));
        }
        for (name, values) in detail.traced {
            let (Some(first), Some(last)) = (values.first(), values.last()) else {
                continue;
            };
            let ends = format!(" {} → {}", format_compact(*first), format_compact(*last));
            let head = format!("{name} over time: ");
            let room = usize::from(area.width)
                .saturating_sub(head.chars().count() + ends.chars().count() + 6);
            let (spark, log) = sparkline(values, room);
            lines.push(Line::from(vec![
                Span::styled(head, key),
                Span::styled(spark, Style::default().fg(Color::Cyan)),
                Span::raw(ends),
                Span::styled(if log { " log" } else { "" }, key),
            ]));
        }
        for (k, line) in lines.iter().enumerate().take(usize::from(area.height)) {
            line.render(Rect::new(area.x, area.y + k as u16, area.width, 1), buf);
        }
    }
}

impl Widget for RunsTable<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let wanted = self.rows.len() as u16 + 1;
        let detail_h = self
            .detail
            .map_or(0, |d| 2 + (d.state.len() + d.traced.len()) as u16);
        // The table takes what its rows need; the detail area gets the rest, but never more than
        // half the height when there are many runs.
        let table_h = if self.detail.is_some() {
            wanted.min(area.height - detail_h.min(area.height / 2))
        } else {
            area.height
        };
        let visible = usize::from(table_h.saturating_sub(1)).max(1);
        let offset = self
            .selected
            .map_or(0, |s| (s + 1).saturating_sub(visible))
            .min(self.rows.len().saturating_sub(visible));
        let label_w = self
            .rows
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(3)
            .max(3) as u16;
        let opt_w = self
            .rows
            .iter()
            .map(|r| r.optimizer.chars().count())
            .max()
            .unwrap_or(9)
            .max(9) as u16;
        let data = self.rows.iter().any(|r| r.batch.is_some());
        // (header, width) in the order columns are dropped from the right when narrow; batch
        // size and epoch only for runs on data.
        let columns: Vec<(&str, u16)> = [
            ("", 1),
            ("run", label_w),
            ("loss", 9),
            ("steps", 6),
            ("B", 4),
            ("ep", 4),
            ("passes", 8),
            ("engine", 7),
            ("status", 9),
            ("optimizer", opt_w),
            ("evals v/g/h", 14),
        ]
        .into_iter()
        .filter(|(h, _)| data || !matches!(*h, "B" | "ep"))
        .collect();
        let mut shown = 0;
        let mut used = 0;
        for &(_, w) in &columns {
            if used + w + u16::from(shown > 0) > area.width {
                break;
            }
            used += w + u16::from(shown > 0);
            shown += 1;
        }
        let rows = self
            .rows
            .iter()
            .enumerate()
            .skip(offset)
            .take(visible)
            .map(|(i, r)| {
                let (f, g, h) = r.evaluations;
                let mut cells = vec![
                    Line::from(Span::styled("●", Style::default().fg(r.color))),
                    Line::from(r.label),
                    Line::from(format_compact(r.loss)),
                    Line::from(r.steps.to_string()),
                ];
                if data {
                    let (b, e) = r.batch.map_or(("-".into(), "-".into()), |(b, e)| {
                        (b.to_string(), e.to_string())
                    });
                    cells.push(Line::from(b));
                    cells.push(Line::from(e));
                }
                cells.extend([
                    Line::from(r.passes.to_string()),
                    Line::from(r.engine),
                    Line::from(Span::styled(
                        r.status,
                        Style::default().fg(status_color(r.status)),
                    )),
                    Line::from(r.optimizer),
                    Line::from(format!("{f}/{g}/{h}")),
                ]);
                let row = Row::new(cells.into_iter().take(shown));
                if Some(i) == self.selected {
                    // White on a dark blue-grey: readable whatever the status colour.
                    row.style(
                        Style::default()
                            .bg(Color::Rgb(40, 48, 72))
                            .fg(Color::White)
                            .add_modifier(Modifier::BOLD),
                    )
                } else {
                    row
                }
            });
        let header = Row::new(columns.iter().take(shown).map(|(h, _)| *h))
            .style(Style::default().add_modifier(Modifier::BOLD));
        // Exact lengths: an over-constrained layout has no unique solution and ratatui's solver
        // would then place columns differently from run to run. Spare width goes to the label.
        let extra = area.width.saturating_sub(used);
        let widths: Vec<Constraint> = columns
            .iter()
            .take(shown)
            .enumerate()
            .map(|(k, (_, w))| Constraint::Length(if k == 1 { w + extra } else { *w }))
            .collect();
        Table::new(rows, widths)
            .header(header)
            .render(Rect::new(area.x, area.y, area.width, table_h), buf);
        if let Some(detail) = self.detail {
            let y = area.y + table_h;
            if y + 1 < area.bottom() {
                let label = self
                    .selected
                    .and_then(|s| self.rows.get(s))
                    .map_or("", |r| r.label);
                Line::from(Span::styled(
                    format!("── {label} "),
                    Style::default().fg(Color::Gray),
                ))
                .render(Rect::new(area.x, y, area.width, 1), buf);
                let rest = Rect::new(area.x, y + 1, area.width, area.bottom() - y - 1);
                Self::render_detail(&detail, rest, buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::run_color;
    use crate::tui::widgets::test_util::buffer_text;

    fn rows() -> [RunRow<'static>; 3] {
        [
            RunRow {
                color: run_color(0),
                label: "sgd-0.01",
                optimizer: "SGD",
                status: "running",
                loss: 0.5123,
                steps: 120,
                evaluations: (120, 120, 0),
                passes: 120,
                engine: "reverse",
                batch: None,
            },
            RunRow {
                color: run_color(1),
                label: "adam",
                optimizer: "Adam",
                status: "converged",
                loss: 1.2e-9,
                steps: 800,
                evaluations: (800, 800, 0),
                passes: 3200,
                engine: "finite",
                batch: None,
            },
            RunRow {
                color: run_color(2),
                label: "newton",
                optimizer: "Newton",
                status: "diverged",
                loss: f64::NAN,
                steps: 3,
                evaluations: (4, 3, 3),
                passes: 9,
                engine: "forward",
                batch: None,
            },
        ]
    }

    #[test]
    fn vector_preview_elides() {
        assert_eq!(preview_vector(&[]), "[]");
        assert_eq!(preview_vector(&[1.0, -0.5]), "[1, -0.5]");
        assert_eq!(
            preview_vector(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            "[1, 2, 3, 4, …] (6)"
        );
    }

    #[test]
    fn selected_row_is_highlighted_and_kept_visible() {
        let rows = rows();
        let mut buf = Buffer::empty(Rect::new(0, 0, 70, 3));
        RunsTable {
            rows: &rows,
            selected: Some(2),
            detail: None,
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        assert!(text.contains("newton"), "{text}");
        assert_eq!(buf[(2, 2)].bg, Color::Rgb(40, 48, 72));
        assert_eq!(buf[(2, 2)].fg, Color::White);
        assert_eq!(buf[(0, 2)].fg, run_color(2));
    }

    #[test]
    fn narrow_tables_keep_loss_before_status_and_wrap_hyperparameters() {
        let rows = rows();
        let hyper: Vec<(String, String)> =
            ["lr=0.001", "momentum=0.9", "dampening=0", "nesterov=false"]
                .iter()
                .filter_map(|e| e.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let detail = RunDetail {
            hyperparameters: &hyper,
            state: &[],
            traced: &[],
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 38, 8));
        RunsTable {
            rows: &rows,
            selected: Some(0),
            detail: Some(detail),
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        let header = text.lines().next().unwrap_or_default();
        assert!(
            header.contains("loss") && header.contains("passes"),
            "{text}"
        );
        assert!(!header.contains("status"), "{text}");
        assert!(text.contains("nesterov=false"), "{text}");
        assert!(
            !text.lines().any(|l| l.trim_end().ends_with("nesterov=f")),
            "{text}"
        );
    }

    #[test]
    fn snapshot_with_detail() {
        let rows = rows();
        let hyper = vec![
            ("lr".to_owned(), "0.001".to_owned()),
            ("betas".to_owned(), "(0.9, 0.999)".to_owned()),
        ];
        let state = vec![
            ("exp_avg".to_owned(), vec![0.1, -0.02, 3e-5, 4.0, 5.0]),
            ("exp_avg_sq".to_owned(), vec![0.01, 0.0004]),
        ];
        let detail = RunDetail {
            hyperparameters: &hyper,
            state: &state,
            traced: &[],
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 70, 9));
        RunsTable {
            rows: &rows,
            selected: Some(1),
            detail: Some(detail),
        }
        .render(buf.area, &mut buf);
        insta::assert_snapshot!(buffer_text(&buf));
    }

    #[test]
    fn a_traced_scalar_is_a_sparkline_over_time_with_its_ends() {
        let rows = rows();
        let hyper = vec![("lr".to_owned(), "1".to_owned())];
        // Prodigy's d: from d0 = 1e-6 up by orders of magnitude, then flat
        let d: Vec<f64> = (0..40).map(|k| 1e-6 * 10f64.powi(k.min(20) / 4)).collect();
        let traced = vec![("d".to_owned(), d)];
        let detail = RunDetail {
            hyperparameters: &hyper,
            state: &[],
            traced: &traced,
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 60, 7));
        RunsTable {
            rows: &rows,
            selected: Some(1),
            detail: Some(detail),
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        let line = text
            .lines()
            .find(|l| l.starts_with("d over time: "))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            line.contains("1e-6 → 0.1") && line.trim_end().ends_with("log"),
            "{line}"
        );
        // rising on the log scale from the lowest bar to the highest, then flat at the top
        let bars: String = line.chars().filter(|c| BARS.contains(c)).collect();
        assert!(bars.starts_with('▁') && bars.ends_with("██"), "{bars}");
        let heights: Vec<usize> = bars
            .chars()
            .filter_map(|c| BARS.iter().position(|&b| b == c))
            .collect();
        assert!(heights.windows(2).all(|w| w[0] <= w[1]), "{bars}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn sparklines_are_linear_for_a_narrow_range_and_fit_their_width() {
        let (line, log) = sparkline(&[1.0, 2.0, 3.0, 4.0], 10);
        assert_eq!((line.as_str(), log), ("▁▃▆█", false));
        let (line, _) = sparkline(&(0..100).map(f64::from).collect::<Vec<_>>(), 10);
        assert_eq!(line.chars().count(), 10);
        assert!(line.starts_with('▁') && line.ends_with('█'), "{line}");
        assert_eq!(sparkline(&[f64::NAN], 10).0, "");
    }

    #[test]
    fn model_runs_show_batch_and_epoch_after_loss_and_steps() {
        let mut rows = rows();
        rows[0].batch = Some((32, 3));
        rows[1].batch = Some((400, 12));
        // The runs panel's inner width at 120 columns.
        let mut buf = Buffer::empty(Rect::new(0, 0, 52, 4));
        RunsTable {
            rows: &rows,
            selected: None,
            detail: None,
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(&header[..5], ["run", "loss", "steps", "B", "ep"], "{text}");
        let first: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(&first[4..6], ["32", "3"], "{text}");
        let third: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(&third[4..6], ["-", "-"], "{text}");
    }
}
