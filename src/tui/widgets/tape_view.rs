//! The reverse-mode tape as a scrollable table: each node's operation written out, its inputs,
//! value and adjoint.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Row, Table, Widget};

use super::format_compact;

/// One node of the tape.
#[derive(Debug, Clone, Copy)]
pub struct TapeRow<'a> {
    pub index: usize,
    pub op: &'a str,
    pub inputs: &'a [usize],
    pub value: f64,
    pub adjoint: f64,
}

/// The tape table; `scroll` is the first row shown (clamped so the last page stays full).
#[derive(Debug, Clone, Copy)]
pub struct TapeView<'a> {
    pub rows: &'a [TapeRow<'a>],
    pub scroll: usize,
}

fn join_inputs(inputs: &[usize]) -> String {
    let mut s = String::new();
    for (k, i) in inputs.iter().enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        s.push_str(&i.to_string());
    }
    s
}

impl Widget for TapeView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.height == 0 {
            return;
        }
        let visible = usize::from(area.height.saturating_sub(2));
        let n = self.rows.len();
        let start = self.scroll.min(n.saturating_sub(visible));
        let end = (start + visible).min(n);
        let rows = self.rows[start..end].iter().map(|r| {
            Row::new([
                r.index.to_string(),
                r.op.to_owned(),
                join_inputs(r.inputs),
                format_compact(r.value),
                format_compact(r.adjoint),
            ])
        });
        let header = Row::new(["#", "op", "inputs", "value", "adjoint"])
            .style(Style::default().add_modifier(Modifier::BOLD));
        // The operation is written out (`t2 = x^2`): it gets the room.
        let widths = [
            Constraint::Length(4),
            Constraint::Min(12),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(10),
        ];
        let table_h = area.height.saturating_sub(1);
        Table::new(rows, widths)
            .header(header)
            .render(Rect::new(area.x, area.y, area.width, table_h), buf);
        let footer = format!("{n} nodes; showing {start}..{end}");
        Line::from(footer)
            .style(Style::default().fg(Color::Gray))
            .render(Rect::new(area.x, area.bottom() - 1, area.width, 1), buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::test_util::buffer_text;

    /// f(x, y) = sin(x) * y + x at x = 0, y = 2.
    fn rows() -> Vec<TapeRow<'static>> {
        const NO: &[usize] = &[];
        vec![
            TapeRow {
                index: 0,
                op: "input",
                inputs: NO,
                value: 0.0,
                adjoint: 3.0,
            },
            TapeRow {
                index: 1,
                op: "input",
                inputs: NO,
                value: 2.0,
                adjoint: 0.0,
            },
            TapeRow {
                index: 2,
                op: "sin",
                inputs: &[0],
                value: 0.0,
                adjoint: 2.0,
            },
            TapeRow {
                index: 3,
                op: "mul",
                inputs: &[2, 1],
                value: 0.0,
                adjoint: 1.0,
            },
            TapeRow {
                index: 4,
                op: "add",
                inputs: &[3, 0],
                value: 0.0,
                adjoint: 1.0,
            },
        ]
    }

    #[test]
    fn footer_reports_the_window() {
        let rows = rows();
        let mut buf = Buffer::empty(Rect::new(0, 0, 50, 5));
        TapeView {
            rows: &rows,
            scroll: 1,
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        assert!(text.contains("5 nodes; showing 1..4"), "{text}");
        assert!(text.contains("mul") && !text.contains("add"), "{text}");
        // Scrolling past the end keeps the last page full.
        let mut buf = Buffer::empty(Rect::new(0, 0, 50, 5));
        TapeView {
            rows: &rows,
            scroll: 40,
        }
        .render(buf.area, &mut buf);
        assert!(buffer_text(&buf).contains("showing 2..5"));
    }

    #[test]
    fn empty_tape() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 30, 3));
        TapeView {
            rows: &[],
            scroll: 3,
        }
        .render(buf.area, &mut buf);
        assert!(buffer_text(&buf).contains("0 nodes; showing 0..0"));
    }

    #[test]
    fn snapshot() {
        let rows = rows();
        let mut buf = Buffer::empty(Rect::new(0, 0, 50, 8));
        TapeView {
            rows: &rows,
            scroll: 0,
        }
        .render(buf.area, &mut buf);
        insta::assert_snapshot!(buffer_text(&buf));
    }
}
