//! The computation graph of an expression as boxes in columns (inputs left, the output right):
//! each box shows the node's name, its operation written out, its value once the stepper has
//! computed it and its adjoint (reverse mode) or tangent (forward mode); edges run between
//! the columns. The current step's node and edge are highlighted, the selected node is bold,
//! and the view scrolls to keep the selected node on screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;

use crate::backprop::graph::Graph;
use crate::backprop::layout::{Layout, Slot};
use crate::backprop::short;
use crate::backprop::stepper::{Mode, State, Step};

/// A box's width and height (borders included), and the space between columns and rows.
const BOX_W: u16 = 18;
const BOX_H: u16 = 4;
const GAP_W: u16 = 5;
const GAP_H: u16 = 1;

/// The graph at the stepper's position.
#[derive(Debug, Clone, Copy)]
pub struct GraphView<'a> {
    pub graph: &'a Graph,
    pub layout: &'a Layout,
    pub state: &'a State,
    pub mode: Mode,
    /// The step just taken.
    pub current: Option<Step>,
    pub selected: usize,
    /// Adjoints and tangents written `adj`/`tan` for ASCII terminals.
    pub ascii: bool,
}

/// Where slot `pos` of column `c` starts, in cells from the graph's origin.
fn origin(c: usize, pos: usize) -> (i64, i64) {
    (
        c as i64 * i64::from(BOX_W + GAP_W),
        pos as i64 * i64::from(BOX_H + GAP_H),
    )
}

/// A cell writer clipped to an area, with the graph scrolled by `(dx, dy)`.
struct Canvas<'b> {
    buf: &'b mut Buffer,
    area: Rect,
    dx: i64,
    dy: i64,
}

impl Canvas<'_> {
    fn cell(&mut self, x: i64, y: i64) -> Option<&mut ratatui::buffer::Cell> {
        let (x, y) = (x - self.dx, y - self.dy);
        if x < 0 || y < 0 || x >= i64::from(self.area.width) || y >= i64::from(self.area.height) {
            return None;
        }
        let (x, y) = (self.area.x + x as u16, self.area.y + y as u16);
        self.buf.cell_mut((x, y))
    }

    fn put(&mut self, x: i64, y: i64, symbol: &str, style: Style) {
        if let Some(cell) = self.cell(x, y) {
            cell.set_symbol(symbol).set_style(style);
        }
    }

    /// Text from `x`, at most `width` characters.
    fn text(&mut self, x: i64, y: i64, text: &str, width: usize, style: Style) {
        for (k, ch) in text.chars().take(width).enumerate() {
            let mut tmp = [0u8; 4];
            self.put(x + k as i64, y, ch.encode_utf8(&mut tmp), style);
        }
    }
}

impl GraphView<'_> {
    /// The cells the whole graph needs.
    fn extent(&self) -> (i64, i64) {
        let rows = self.layout.columns.iter().map(Vec::len).max().unwrap_or(0);
        let (w, h) = origin(self.layout.columns.len(), rows);
        (w - i64::from(GAP_W), h - i64::from(GAP_H))
    }

    fn slot_pos(&self, c: usize, slot: Slot) -> Option<usize> {
        self.layout.columns.get(c)?.iter().position(|s| *s == slot)
    }

    /// The edge the current step pushes along: (parent, node).
    fn active_edge(&self) -> Option<(usize, usize)> {
        match self.current? {
            Step::Push { node, edge } => {
                let parent = *self.graph.nodes.get(node)?.view.inputs.get(edge)?;
                Some((parent, node))
            }
            Step::Evaluate { .. } | Step::Seed { .. } => None,
        }
    }

    fn draw_edges(&self, canvas: &mut Canvas<'_>) {
        let active = self.active_edge();
        let line = Style::default().fg(Color::DarkGray);
        let hot = Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD);
        for (k, e) in self.layout.edges.iter().enumerate() {
            let style = if active == Some((e.parent, e.node)) {
                hot
            } else {
                line
            };
            let path = self.layout.path(k);
            let row = |c: usize, slot: Slot| self.slot_pos(c, slot).map(|p| origin(c, p));
            for pair in path.windows(2) {
                let (Some(a), Some(b)) = (row(pair[0].0, pair[0].1), row(pair[1].0, pair[1].1))
                else {
                    continue;
                };
                let (x0, y0) = (a.0 + i64::from(BOX_W), a.1 + 1);
                let (x1, y1) = (b.0 - 1, b.1 + 1);
                let mid = x0 + i64::from(GAP_W) / 2;
                for x in x0..mid {
                    canvas.put(x, y0, "─", style);
                }
                let (top, bottom) = (y0.min(y1), y0.max(y1));
                for y in top..=bottom {
                    canvas.put(mid, y, "│", style);
                }
                if y0 != y1 {
                    let (first, last) = if y0 < y1 {
                        ("╮", "╰")
                    } else {
                        ("╯", "╭")
                    };
                    canvas.put(mid, y0, first, style);
                    canvas.put(mid, y1, last, style);
                } else {
                    canvas.put(mid, y0, "─", style);
                }
                for x in mid + 1..x1 {
                    canvas.put(x, y1, "─", style);
                }
                canvas.put(x1, y1, "▶", style);
                // A pass-through slot: the line crosses its column.
                if let Slot::Through(_) = pair[1].1 {
                    for x in b.0..b.0 + i64::from(BOX_W) {
                        canvas.put(x, y1, "─", style);
                    }
                }
            }
        }
    }

    fn draw_box(&self, canvas: &mut Canvas<'_>, i: usize, x: i64, y: i64) {
        let node = &self.graph.nodes[i];
        let known = self.state.known.get(i).copied().unwrap_or(false);
        let current = self.current.map(Step::node) == Some(i);
        let parent_of_push = self.active_edge().is_some_and(|(p, _)| p == i);
        let border = if current {
            Style::default().fg(Color::Yellow)
        } else if parent_of_push {
            Style::default().fg(Color::Magenta)
        } else if self.graph.output == Some(i) {
            Style::default().fg(Color::Cyan)
        } else {
            Style::default().fg(Color::Gray)
        };
        let border = if i == self.selected {
            border.add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            border
        };
        let w = i64::from(BOX_W);
        let inner = usize::from(BOX_W - 2);
        canvas.put(x, y, "┌", border);
        canvas.put(x + w - 1, y, "┐", border);
        canvas.put(x, y + 3, "└", border);
        canvas.put(x + w - 1, y + 3, "┘", border);
        for dx in 1..w - 1 {
            canvas.put(x + dx, y, "─", border);
            canvas.put(x + dx, y + 3, "─", border);
        }
        for dy in 1..3 {
            canvas.put(x, y + dy, "│", border);
            canvas.put(x + w - 1, y + dy, "│", border);
            canvas.text(x + 1, y + dy, &" ".repeat(inner), inner, Style::default());
        }
        let title = format!(" {} ", node.name);
        canvas.text(x + 1, y, &title, inner, border);
        let text = Style::default();
        let dim = Style::default().fg(Color::DarkGray);
        let op = if node.is_input() {
            "input".to_owned()
        } else {
            self.graph.written(i)
        };
        let value = if known {
            format!("={}", short(node.view.value))
        } else {
            "=?".to_owned()
        };
        // Operation and value share the first line when they fit.
        let first = format!("{op} {value}");
        if first.chars().count() <= inner {
            canvas.text(x + 1, y + 1, &first, inner, if known { text } else { dim });
        } else {
            canvas.text(x + 1, y + 1, &value, inner, if known { text } else { dim });
        }
        let (symbol, d) = match (self.mode, self.ascii) {
            (Mode::Reverse, false) => ("ā", self.state.adjoint.get(i).copied().flatten()),
            (Mode::Reverse, true) => ("adj", self.state.adjoint.get(i).copied().flatten()),
            (Mode::Forward { .. }, false) => ("ṫ", self.state.tangent.get(i).copied().flatten()),
            (Mode::Forward { .. }, true) => ("tan", self.state.tangent.get(i).copied().flatten()),
        };
        let grad = d.map_or_else(
            || format!("{symbol} ·"),
            |d| format!("{symbol} {}", short(d)),
        );
        let style = if d.is_some() {
            Style::default().fg(Color::LightGreen)
        } else {
            dim
        };
        canvas.text(x + 1, y + 2, &grad, inner, style);
    }
}

impl Widget for GraphView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        // Scroll so the selected node's box is whole on screen (and the origin otherwise).
        let (width, height) = self.extent();
        let (dx, dy) = match self.layout.position(self.selected) {
            Some((c, p)) => {
                let (x, y) = origin(c, p);
                let fit = |pos: i64, size: i64, view: i64, total: i64| {
                    let want = (pos + size - view).max(0).min(pos);
                    want.min((total - view).max(0))
                };
                (
                    fit(x, i64::from(BOX_W), i64::from(area.width), width),
                    fit(y, i64::from(BOX_H), i64::from(area.height), height),
                )
            }
            None => (0, 0),
        };
        let mut canvas = Canvas { buf, area, dx, dy };
        self.draw_edges(&mut canvas);
        for (c, column) in self.layout.columns.iter().enumerate() {
            for (p, slot) in column.iter().enumerate() {
                if let Slot::Node(i) = *slot {
                    let (x, y) = origin(c, p);
                    self.draw_box(&mut canvas, i, x, y);
                }
            }
        }
    }
}
