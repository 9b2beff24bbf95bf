//! The gradient check table: forward-mode, reverse-mode and finite-difference gradients side by
//! side, the largest disagreement between each pair of engines, and what each engine costs.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Row, Table, Widget};

use super::{format_compact, format_duration_ns};
use crate::ad::disagreement;
use crate::text::plural;

/// One parameter's gradient component from each engine.
#[derive(Debug, Clone, Copy)]
pub struct GradRow<'a> {
    pub name: &'a str,
    pub forward: f64,
    pub reverse: f64,
    pub finite: f64,
}

/// How much work an engine did: passes over the objective and mean time per full gradient.
#[derive(Debug, Clone, Copy)]
pub struct EngineStat<'a> {
    pub engine: &'a str,
    pub passes: u64,
    pub ns_per_gradient: f64,
}

/// The gradient comparison widget; `scroll` is the first parameter row shown.
#[derive(Debug, Clone, Copy)]
pub struct GradTable<'a> {
    pub rows: &'a [GradRow<'a>],
    pub engines: &'a [EngineStat<'a>],
    pub scroll: usize,
    /// Lines under the table, most important first (why finite differences disagree when
    /// they do for a known reason, the engines' cost ratio in words); on a short panel the
    /// last ones give way to the parameter rows.
    pub notes: &'a [&'a str],
}

/// Parameter rows a short panel keeps (with the header) before the footer gives way.
const MIN_ROWS: usize = 2;

impl GradRow<'_> {
    /// The largest pairwise disagreement of this row.
    #[must_use]
    pub fn disagreement(&self) -> f64 {
        disagreement(self.forward, self.reverse)
            .max(disagreement(self.forward, self.finite))
            .max(disagreement(self.reverse, self.finite))
    }
}

/// Maximum over rows of |forward − reverse|, |forward − finite|, |reverse − finite|.
#[must_use]
pub fn max_differences(rows: &[GradRow<'_>]) -> [f64; 3] {
    rows.iter().fold([0.0; 3], |m, r| {
        [
            m[0].max(disagreement(r.forward, r.reverse)),
            m[1].max(disagreement(r.forward, r.finite)),
            m[2].max(disagreement(r.reverse, r.finite)),
        ]
    })
}

/// Index of the row with the largest disagreement (first on ties); `None` when all agree exactly.
fn worst_row(rows: &[GradRow<'_>]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, r) in rows.iter().enumerate() {
        let d = r.disagreement();
        if d > 0.0 && best.is_none_or(|(_, b)| d > b) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

fn sci(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6e}")
    } else {
        format_compact(v)
    }
}

impl GradTable<'_> {
    /// One line per engine: "forward   4 passes   812ns/gradient".
    fn engine_lines(&self) -> Vec<String> {
        self.engines
            .iter()
            .map(|e| {
                format!(
                    "{:<10} {:>8} {:<6}   {}/gradient",
                    e.engine,
                    e.passes,
                    plural(e.passes, "pass", "passes"),
                    format_duration_ns(e.ns_per_gradient)
                )
            })
            .collect()
    }

    /// Every engine on one line, for short panels: "passes a gradient: forward 4 · reverse 1 ·
    /// finite 8", with the times when they were measured.
    fn engine_line(&self, width: u16) -> String {
        let line = |timed: bool| {
            let parts: Vec<String> = self
                .engines
                .iter()
                .map(|e| {
                    if timed && e.ns_per_gradient.is_finite() {
                        format!(
                            "{} {} ({})",
                            e.engine,
                            e.passes,
                            format_duration_ns(e.ns_per_gradient)
                        )
                    } else {
                        format!("{} {}", e.engine, e.passes)
                    }
                })
                .collect();
            format!("passes a gradient: {}", parts.join(" · "))
        };
        let timed = line(true);
        // The times give way before the passes do.
        if timed.chars().count() <= usize::from(width) {
            timed
        } else {
            line(false)
        }
    }

    /// The lines under the table for a panel of `width` × `height`: the summary, the notes and the
    /// engines, shortened (engines on one line, then the last notes dropped) until the header
    /// and the first parameter rows fit.
    fn footer(&self, width: u16, height: u16) -> Vec<(String, Color)> {
        let wanted = 1 + self.rows.len().min(MIN_ROWS);
        let room = usize::from(height).saturating_sub(wanted);
        let summary = {
            let [fr, fd, rd] = max_differences(self.rows);
            format!(
                "max |fwd-rev| {}   |fwd-fd| {}   |rev-fd| {}",
                format_compact(fr),
                format_compact(fd),
                format_compact(rd)
            )
        };
        let mut notes: Vec<&str> = self.notes.to_vec();
        let mut engines = self.engine_lines();
        if 1 + notes.len() + engines.len() > room && engines.len() > 1 {
            engines = vec![self.engine_line(width)];
        }
        while 1 + notes.len() + engines.len() > room && !notes.is_empty() {
            notes.pop();
        }
        std::iter::once((summary, Color::Reset))
            .chain(notes.into_iter().map(|n| (n.to_owned(), Color::Yellow)))
            .chain(engines.into_iter().map(|e| (e, Color::Gray)))
            .collect()
    }
}

impl Widget for GradTable<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let footer = self.footer(area.width, area.height);
        let footer_rows = footer.len() as u16;
        let table_h = area.height.saturating_sub(footer_rows);
        let visible = usize::from(table_h.saturating_sub(1));
        let scroll = self
            .scroll
            .min(self.rows.len().saturating_sub(visible.max(1)));
        let worst = worst_row(self.rows);
        let rows = self
            .rows
            .iter()
            .enumerate()
            .skip(scroll)
            .take(visible)
            .map(|(i, r)| {
                let style = if Some(i) == worst {
                    Style::default()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                };
                Row::new([
                    r.name.to_owned(),
                    sci(r.forward),
                    sci(r.reverse),
                    sci(r.finite),
                    format_compact(r.disagreement()),
                ])
                .style(style)
            });
        let header = Row::new(["param", "forward", "reverse", "finite diff", "max |Δ|"])
            .style(Style::default().add_modifier(Modifier::BOLD));
        let widths = [
            Constraint::Min(6),
            Constraint::Length(14),
            Constraint::Length(14),
            Constraint::Length(14),
            Constraint::Length(9),
        ];
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .render(Rect::new(area.x, area.y, area.width, table_h), buf);

        for (k, (text, color)) in footer.into_iter().enumerate() {
            let y = area.y + table_h + k as u16;
            if y >= area.bottom() {
                break;
            }
            Line::from(text)
                .style(Style::default().fg(color))
                .render(Rect::new(area.x, y, area.width, 1), buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::test_util::buffer_text;

    const ROWS: [GradRow<'static>; 4] = [
        GradRow {
            name: "w0",
            forward: 1.5,
            reverse: 1.5,
            finite: 1.500_000_001,
        },
        GradRow {
            name: "w1",
            forward: -0.25,
            reverse: -0.25,
            finite: -0.250_000_2,
        },
        GradRow {
            name: "b",
            forward: 3.0,
            reverse: 3.0,
            finite: 3.0,
        },
        GradRow {
            name: "w2",
            forward: 1e-9,
            reverse: 1e-9,
            finite: 0.0,
        },
    ];
    const ENGINES: [EngineStat<'static>; 3] = [
        EngineStat {
            engine: "forward",
            passes: 4,
            ns_per_gradient: 812.0,
        },
        EngineStat {
            engine: "reverse",
            passes: 1,
            ns_per_gradient: 1530.0,
        },
        EngineStat {
            engine: "finite",
            passes: 8,
            ns_per_gradient: 2.4e6,
        },
    ];

    #[test]
    fn finds_worst_row_and_max_differences() {
        assert_eq!(worst_row(&ROWS), Some(1));
        let [fr, fd, rd] = max_differences(&ROWS);
        assert_eq!(fr, 0.0);
        assert!((fd - 2e-7).abs() < 1e-12);
        assert!((rd - 2e-7).abs() < 1e-12);
        let nan = [GradRow {
            name: "x",
            forward: f64::NAN,
            reverse: 1.0,
            finite: 1.0,
        }];
        assert_eq!(max_differences(&nan)[0], f64::INFINITY);
        assert_eq!(worst_row(&ROWS[2..3]), None);
    }

    #[test]
    fn highlights_the_largest_disagreement() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 72, 9));
        GradTable {
            rows: &ROWS,
            engines: &ENGINES,
            scroll: 0,
            notes: &[],
        }
        .render(buf.area, &mut buf);
        // Row of w1 is the second data row (y = 2).
        assert_eq!(buf[(0, 2)].symbol(), "w");
        assert_eq!(buf[(0, 2)].fg, Color::Yellow);
        assert_ne!(buf[(0, 1)].fg, Color::Yellow);
    }

    #[test]
    fn scroll_is_clamped() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 72, 7));
        GradTable {
            rows: &ROWS,
            engines: &ENGINES[..1],
            scroll: 99,
            notes: &[],
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        // Five table lines: header + 4 rows fit, so nothing scrolls away.
        assert!(text.contains("w0") && text.contains("w2"), "{text}");
    }

    #[test]
    fn a_short_panel_keeps_the_parameter_rows() {
        // Five rows, as at 80x24: the header and two parameters stay, the engines share a line
        // (without their times, which would not fit) and the ratio note gives way.
        let draw = |height: u16| {
            let mut buf = Buffer::empty(Rect::new(0, 0, 78, height));
            GradTable {
                rows: &ROWS[..2],
                engines: &ENGINES,
                scroll: 0,
                notes: &["reverse is 4× cheaper than forward here in passes"],
            }
            .render(buf.area, &mut buf);
            buffer_text(&buf)
        };
        let text = draw(5);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].starts_with("w0") && lines[2].starts_with("w1"),
            "{text}"
        );
        assert!(lines[3].starts_with("max |fwd-rev|"), "{text}");
        assert!(
            lines[4].starts_with("passes a gradient: forward 4 · reverse 1 · finite 8"),
            "{text}"
        );
        assert!(!text.contains("cheaper"), "{text}");
        // With room, one line per engine, singular for one pass.
        let text = draw(9);
        assert!(text.contains("cheaper"), "{text}");
        assert!(text.contains("       1 pass  "), "{text}");
        assert!(!text.contains("1 passes"), "{text}");
    }

    #[test]
    fn snapshot() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 72, 8));
        GradTable {
            rows: &ROWS,
            engines: &ENGINES,
            scroll: 1,
            notes: &[],
        }
        .render(buf.area, &mut buf);
        insta::assert_snapshot!(buffer_text(&buf));
    }
}
