//! The computation graph of an expression as boxes in columns (inputs left, the output right):
//! each box shows the node's name, its operation written out, its value once the stepper has
//! computed it and its adjoint (reverse mode) or tangent (forward mode). Edges run between the
//! columns, each into its own row of the box it feeds (first input on the first row, second on
//! the second), and each carries its local partial derivative `∂node/∂input` written on its last
//! stretch, once the node's value is known. The current step's node and edges are highlighted
//! (the edge a backward step pushes along, or the edges a forward step reads), the selected node
//! is bold, and the view scrolls to keep the selected node on screen. Too narrow for two columns
//! with their partials, the gaps shrink, the partials go, and the view says where to read them
//! (the caption lists the selected node's).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;

use crate::backprop::graph::Graph;
use crate::backprop::layout::{Layout, Slot};
use crate::backprop::short;
use crate::backprop::stepper::{Mode, State, Step};

/// A box's width and height (borders included), and the space between rows.
const BOX_W: u16 = 18;
const BOX_H: u16 = 4;
const GAP_H: u16 = 1;
/// The space between columns without partials on the edges: the bend and the arrow.
const GAP_W: u16 = 5;
/// The space between columns with partials: one cell to the bend, then a space, up to
/// [`LABEL_W`] characters of the partial, a space and at least the arrow.
const LABEL_GAP_W: u16 = 12;
/// The longest partial written on an edge.
pub const LABEL_W: usize = 7;

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

/// Whether an area `width` cells wide draws the partials on the edges: when two columns fit
/// with them.
#[must_use]
pub fn labels_fit(width: u16) -> bool {
    width >= 2 * BOX_W + LABEL_GAP_W
}

/// `v` in at most [`LABEL_W`] characters: as the boxes write it when that fits, else with
/// fewer significant digits in scientific notation (`-1.2e-4`).
#[must_use]
pub fn label(v: f64) -> String {
    let s = short(v);
    if s.chars().count() <= LABEL_W {
        return s;
    }
    for digits in (0..3).rev() {
        let e = format!("{v:.digits$e}");
        if e.chars().count() <= LABEL_W {
            return e;
        }
    }
    s.chars().take(LABEL_W).collect()
}

/// Cell positions of the graph for one gap between columns.
#[derive(Debug, Clone, Copy)]
struct Grid {
    gap: u16,
}

impl Grid {
    fn for_width(width: u16) -> Grid {
        Grid {
            gap: if labels_fit(width) {
                LABEL_GAP_W
            } else {
                GAP_W
            },
        }
    }

    fn labelled(self) -> bool {
        self.gap >= LABEL_GAP_W
    }

    /// Where slot `pos` of column `c` starts, in cells from the graph's origin.
    fn origin(self, c: usize, pos: usize) -> (i64, i64) {
        (
            c as i64 * i64::from(BOX_W + self.gap),
            pos as i64 * i64::from(BOX_H + GAP_H),
        )
    }

    /// The column of the bend of an edge leaving a slot whose right border ends before `x0`:
    /// near the start when the rest of the gap carries the partial, else in its middle.
    fn bend(self, x0: i64) -> i64 {
        if self.labelled() {
            x0 + 1
        } else {
            x0 + i64::from(self.gap) / 2
        }
    }
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

/// Where an edge's partial is written: the first cell of its text, in graph cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelAt {
    pub x: i64,
    pub y: i64,
}

impl GraphView<'_> {
    /// The cells the whole graph needs.
    fn extent(&self, grid: Grid) -> (i64, i64) {
        let rows = self.layout.columns.iter().map(Vec::len).max().unwrap_or(0);
        let (w, h) = grid.origin(self.layout.columns.len(), rows);
        (w - i64::from(grid.gap), h - i64::from(GAP_H))
    }

    fn slot_pos(&self, c: usize, slot: Slot) -> Option<usize> {
        self.layout.columns.get(c)?.iter().position(|s| *s == slot)
    }

    /// The edges the current step uses, as (node, input): the one a backward step pushes
    /// along, or the ones a forward step reads its operands (and tangents) from.
    fn active_edges(&self) -> Vec<(usize, usize)> {
        match self.current {
            Some(Step::Push { node, edge }) => vec![(node, edge)],
            Some(Step::Evaluate { node }) => {
                let inputs = self
                    .graph
                    .nodes
                    .get(node)
                    .map_or(0, |n| n.view.inputs.len());
                (0..inputs).map(|e| (node, e)).collect()
            }
            Some(Step::Seed { .. }) | None => Vec::new(),
        }
    }

    /// The row of a box edge `input` of node `node` enters, counted from the box's top.
    fn entry_row(&self, node: usize, input: usize) -> i64 {
        let inputs = self
            .graph
            .nodes
            .get(node)
            .map_or(1, |n| n.view.inputs.len());
        if inputs > 1 {
            1 + input.min(usize::from(BOX_H) - 3) as i64
        } else {
            1
        }
    }

    /// Where edge `k`'s partial is written, with the widest text that fits there, when the
    /// grid draws partials.
    fn label_at(&self, grid: Grid, k: usize) -> Option<(LabelAt, usize)> {
        if !grid.labelled() {
            return None;
        }
        let path = self.layout.path(k);
        let [from, to] = path.get(path.len().checked_sub(2)?..)? else {
            return None;
        };
        let e = &self.layout.edges[k];
        let a = grid.origin(from.0, self.slot_pos(from.0, from.1)?);
        let b = grid.origin(to.0, self.slot_pos(to.0, to.1)?);
        let bend = grid.bend(a.0 + i64::from(BOX_W));
        // A space after the bend, the text, a space before the arrow.
        let room = (b.0 - 1) - (bend + 2) - 1;
        Some((
            LabelAt {
                x: bend + 2,
                y: b.1 + self.entry_row(e.node, e.input),
            },
            usize::try_from(room).unwrap_or(0).min(LABEL_W),
        ))
    }

    /// Where edge `(node, input)`'s partial is written for an area `width` cells wide (graph
    /// cells, unscrolled), if it is.
    #[must_use]
    pub fn partial_at(&self, width: u16, node: usize, input: usize) -> Option<LabelAt> {
        let k = self
            .layout
            .edges
            .iter()
            .position(|e| e.node == node && e.input == input)?;
        self.label_at(Grid::for_width(width), k).map(|(at, _)| at)
    }

    fn draw_edges(&self, canvas: &mut Canvas<'_>, grid: Grid) {
        let active = self.active_edges();
        let line = Style::default().fg(Color::DarkGray);
        let hot = Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD);
        let is_active = |k: usize| {
            let e = &self.layout.edges[k];
            active.contains(&(e.node, e.input))
        };
        // The active edges last, so that where lines share cells theirs show.
        let mut order: Vec<usize> = (0..self.layout.edges.len()).collect();
        order.sort_by_key(|&k| is_active(k));
        for &k in &order {
            let e = &self.layout.edges[k];
            let style = if is_active(k) { hot } else { line };
            let path = self.layout.path(k);
            let row = |c: usize, slot: Slot| self.slot_pos(c, slot).map(|p| grid.origin(c, p));
            for pair in path.windows(2) {
                let (Some(a), Some(b)) = (row(pair[0].0, pair[0].1), row(pair[1].0, pair[1].1))
                else {
                    continue;
                };
                let entry = match pair[1].1 {
                    Slot::Node(_) => self.entry_row(e.node, e.input),
                    Slot::Through(_) => 1,
                };
                let (x0, y0) = (a.0 + i64::from(BOX_W), a.1 + 1);
                let (x1, y1) = (b.0 - 1, b.1 + entry);
                let mid = grid.bend(x0);
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
        // The partials over the lines, so that no line crosses them.
        for &k in &order {
            let Some((at, width)) = self.label_at(grid, k) else {
                continue;
            };
            let e = &self.layout.edges[k];
            let known = self.state.known.get(e.node).copied().unwrap_or(false);
            let partial = self
                .graph
                .nodes
                .get(e.node)
                .and_then(|n| n.view.partials.get(e.input))
                .copied();
            let (text, style) = match partial {
                Some(p) if known => (
                    label(p),
                    if is_active(k) {
                        hot
                    } else {
                        Style::default().fg(Color::Gray)
                    },
                ),
                _ => ("?".to_owned(), line),
            };
            canvas.put(at.x - 1, at.y, " ", style);
            canvas.text(at.x, at.y, &text, width, style);
            canvas.put(
                at.x + text.chars().count().min(width) as i64,
                at.y,
                " ",
                style,
            );
        }
    }

    fn draw_box(&self, canvas: &mut Canvas<'_>, i: usize, x: i64, y: i64) {
        let node = &self.graph.nodes[i];
        let known = self.state.known.get(i).copied().unwrap_or(false);
        let current = self.current.map(Step::node) == Some(i);
        // The node a backward step pushes to.
        let parent_of_push = match self.current {
            Some(Step::Push { node, edge }) => {
                self.graph
                    .nodes
                    .get(node)
                    .and_then(|n| n.view.inputs.get(edge))
                    == Some(&i)
            }
            _ => false,
        };
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
        let grid = Grid::for_width(area.width);
        // Scroll so the selected node's box is whole on screen (and the origin otherwise).
        let (width, height) = self.extent(grid);
        let (dx, dy) = match self.layout.position(self.selected) {
            Some((c, p)) => {
                let (x, y) = grid.origin(c, p);
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
        self.draw_edges(&mut canvas, grid);
        for (c, column) in self.layout.columns.iter().enumerate() {
            for (p, slot) in column.iter().enumerate() {
                if let Slot::Node(i) = *slot {
                    let (x, y) = grid.origin(c, p);
                    self.draw_box(&mut canvas, i, x, y);
                }
            }
        }
        if !grid.labelled() && !self.layout.edges.is_empty() {
            let note = "(too narrow for ∂ on the edges: the caption lists the selected node's)";
            let y = area.bottom() - 1;
            let width = u16::try_from(note.chars().count()).unwrap_or(u16::MAX);
            let x = area.right().saturating_sub(width).max(area.x);
            buf.set_stringn(
                x,
                y,
                note,
                usize::from(area.width),
                Style::default().fg(Color::Gray),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backprop::Stepper;
    use crate::expr::Expression;
    use crate::tui::widgets::test_util::buffer_text;

    /// Two inputs, a product read twice, a unary op and an edge that skips a column.
    const SRC: &str = "z = x * y\nu = sin(z)\nu * z + 3 * x";

    fn stepper() -> (Stepper, Layout) {
        let e = Expression::parse(SRC).unwrap();
        let graph = crate::backprop::Graph::new(&e, &[0.7, -1.3]);
        let layout = Layout::new(&graph);
        (Stepper::new(graph, Mode::Reverse), layout)
    }

    fn view<'a>(s: &'a Stepper, layout: &'a Layout, state: &'a State) -> GraphView<'a> {
        GraphView {
            graph: s.graph(),
            layout,
            state,
            mode: s.mode(),
            current: s.current(),
            selected: 0,
            ascii: false,
        }
    }

    fn render(s: &Stepper, layout: &Layout, w: u16, h: u16) -> Buffer {
        let state = s.state();
        let view = view(s, layout, &state);
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        view.render(buf.area, &mut buf);
        buf
    }

    /// The text written from `at` up to the space after it.
    fn text_at(buf: &Buffer, at: LabelAt) -> String {
        (0..LABEL_W as u16)
            .map(|dx| buf[(at.x as u16 + dx, at.y as u16)].symbol().to_owned())
            .take_while(|c| c != " ")
            .collect()
    }

    /// Every edge carries, on the drawing, the tape's local partial `∂node/∂input` of that
    /// edge; a few are checked against the derivative worked out by hand as well.
    #[test]
    fn each_edge_shows_the_tapes_local_partial() {
        let (mut s, layout) = stepper();
        s.to_end();
        let buf = render(&s, &layout, 200, 40);
        let state = s.state();
        let view = view(&s, &layout, &state);
        let g = s.graph();
        let mut checked = 0;
        for e in &layout.edges {
            let at = view
                .partial_at(200, e.node, e.input)
                .expect("a wide area writes every partial");
            let partial = g.nodes[e.node].view.partials[e.input];
            let shown = text_at(&buf, at);
            assert_eq!(shown, label(partial), "edge {e:?}\n{}", buffer_text(&buf));
            let read: f64 = shown.parse().expect("a number");
            assert!(
                (read - partial).abs() <= 5e-4 * partial.abs().max(1e-300),
                "{read} vs {partial}"
            );
            checked += 1;
        }
        assert_eq!(checked, layout.edges.len());
        // By hand: ∂z/∂x = y, ∂z/∂y = x, ∂u/∂z = cos(z).
        let (x, y) = (0.7_f64, -1.3_f64);
        let z = g.nodes.iter().position(|n| n.name == "z").unwrap();
        let u = g.nodes.iter().position(|n| n.name == "u").unwrap();
        let xi = g.vars.iter().position(|v| v == "x").unwrap();
        let input_of = |node: usize, parent: usize| {
            g.nodes[node]
                .view
                .inputs
                .iter()
                .position(|&p| p == parent)
                .unwrap()
        };
        let at = view.partial_at(200, z, input_of(z, xi)).unwrap();
        assert_eq!(text_at(&buf, at), label(y));
        let at = view.partial_at(200, u, 0).unwrap();
        assert_eq!(text_at(&buf, at), label((x * y).cos()));
    }

    /// Before a node's value is computed its edges say `?`, not a number.
    #[test]
    fn partials_wait_for_the_forward_pass() {
        let (s, layout) = stepper();
        let buf = render(&s, &layout, 200, 40);
        let state = s.state();
        let view = view(&s, &layout, &state);
        for e in &layout.edges {
            let at = view.partial_at(200, e.node, e.input).unwrap();
            assert_eq!(text_at(&buf, at), "?", "{e:?}\n{}", buffer_text(&buf));
        }
    }

    /// The edge a backward step pushes along is drawn highlighted, its partial included, and
    /// no other edge is.
    #[test]
    fn the_current_backward_edge_is_highlighted() {
        let (mut s, layout) = stepper();
        let push = s
            .steps()
            .iter()
            .position(|st| matches!(st, Step::Push { node, .. } if s.graph().name(*node) == "z"))
            .unwrap();
        s.forward(push + 1);
        let Some(Step::Push { node, edge }) = s.current() else {
            panic!("a push step");
        };
        let buf = render(&s, &layout, 200, 40);
        let state = s.state();
        let view = view(&s, &layout, &state);
        for e in &layout.edges {
            let at = view.partial_at(200, e.node, e.input).unwrap();
            let hot = buf[(at.x as u16, at.y as u16)].fg == Color::Yellow;
            assert_eq!(hot, (e.node, e.input) == (node, edge), "{e:?}");
        }
    }

    /// Too narrow for two columns with partials: narrow gaps, no partials, and a note saying
    /// where to read them.
    #[test]
    fn narrow_areas_drop_the_partials_and_say_so() {
        let (mut s, layout) = stepper();
        s.to_end();
        assert!(labels_fit(48) && !labels_fit(47));
        let buf = render(&s, &layout, 46, 12);
        let text = buffer_text(&buf);
        assert!(text.contains("too narrow for ∂"), "{text}");
        let state = s.state();
        let view = view(&s, &layout, &state);
        assert_eq!(view.partial_at(46, 2, 0), None);
    }

    #[test]
    fn labels_fit_in_seven_characters() {
        for v in [
            1.0,
            -2.4,
            0.0275,
            -0.000_723_5,
            1.234_567e-12,
            -9.87e15,
            12345.6,
            0.0,
        ] {
            let l = label(v);
            assert!(l.chars().count() <= LABEL_W, "{l}");
            let back: f64 = l.parse().unwrap();
            assert!((back - v).abs() <= 0.06 * v.abs(), "{v} -> {l}");
        }
        assert_eq!(label(-0.000_723_5), "-7.2e-4");
        assert_eq!(label(0.0275), "0.0275");
    }
}
