//! A layered model as columns of neurons, one column per layer (inputs left): each neuron's
//! activation, coloured by sign and size, and once the backward pass has reached its layer its
//! error signal δ. Between two columns every weight is drawn as a line (Braille dots) from the
//! unit it reads to the unit it feeds, coloured by sign (red positive, blue negative) with
//! brightness by magnitude, the larger drawn over the smaller; the selected neuron's incoming
//! and outgoing weights are drawn brightest and on top. Wide layers show a window around the
//! selected neuron with how many are hidden; the lines join the units shown.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::widgets::Widget;
use ratatui::widgets::canvas::{Canvas, Line};

use super::put_str;
use crate::backprop::network::Layers;
use crate::backprop::short;

const COL_W: u16 = 22;
/// Between two columns: room for the weights' lines to fan out.
const GAP_W: u16 = 9;

/// The network at one stage of the layer-by-layer stepper.
#[derive(Debug, Clone, Copy)]
pub struct NetworkView<'a> {
    pub layers: &'a Layers,
    /// Activations per layer (`0` the inputs).
    pub a: &'a [Vec<f64>],
    /// Error signals per layer (`0` empty).
    pub delta: &'a [Vec<f64>],
    /// Layers `0..=forward` have their activations computed.
    pub forward: usize,
    /// Layers `backward..=L` have their δ computed (`L + 1`: none yet).
    pub backward: usize,
    pub params: &'a [f64],
    /// Selected (layer, unit).
    pub selected: (usize, usize),
    /// `δ` written as `d` for ASCII terminals.
    pub ascii: bool,
}

/// A colour for a number in `[-1, 1]`-ish: red positive, blue negative, grey near zero.
fn signed(v: f64, scale: f64) -> Color {
    let t = if scale > 0.0 {
        (v.abs() / scale).min(1.0)
    } else {
        0.0
    };
    let level = (90.0 + 165.0 * t) as u8;
    if !v.is_finite() {
        Color::Magenta
    } else if v >= 0.0 {
        Color::Rgb(level, 90, 90)
    } else {
        Color::Rgb(90, 90, level)
    }
}

/// An edge's colour: red for a positive weight, blue for a negative one, brighter the larger
/// its magnitude against the layer's largest; `emphasised` edges (the selected neuron's) span
/// the brighter half of the range, the others the dimmer.
fn edge_color(w: f64, scale: f64, emphasised: bool) -> Color {
    let t = if scale > 0.0 && w.is_finite() {
        (w.abs() / scale).min(1.0)
    } else {
        0.0
    };
    let (base, span) = if emphasised {
        (150.0, 105.0)
    } else {
        (45.0, 100.0)
    };
    let level = (base + span * t) as u8;
    let low = (f64::from(level) * 0.3) as u8;
    if !w.is_finite() {
        Color::Magenta
    } else if w >= 0.0 {
        Color::Rgb(level, low, low)
    } else {
        Color::Rgb(low, low.saturating_add(level / 4), level)
    }
}

impl NetworkView<'_> {
    /// The units of layer `l` shown in `rows` rows: a window around the selection.
    fn window(&self, l: usize, rows: usize) -> (usize, usize) {
        let n = self.layers.sizes[l];
        if n <= rows {
            return (0, n);
        }
        let keep = rows.saturating_sub(2).max(1);
        let focus = if self.selected.0 == l {
            self.selected.1
        } else {
            0
        };
        let start = focus.saturating_sub(keep / 2).min(n - keep);
        (start, start + keep)
    }
}

impl Widget for NetworkView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.height < 3 {
            return;
        }
        let depth = self.layers.depth();
        // Scroll columns so the selected layer is on screen.
        let fit = usize::from((area.width + GAP_W) / (COL_W + GAP_W)).max(1);
        let first = self.selected.0.saturating_sub(fit - 1);
        let rows = usize::from(area.height - 1);
        let d = if self.ascii { "d" } else { "δ" };
        let mut unit_rows: Vec<Vec<(usize, u16)>> = vec![Vec::new(); depth + 1];
        for (col, l) in (first..=depth).enumerate() {
            let x = area.x + col as u16 * (COL_W + GAP_W);
            if x + COL_W > area.right() {
                break;
            }
            let title = match l {
                0 => format!("inputs ({})", self.layers.sizes[0]),
                _ if l == depth => format!(
                    "out {} ×{}",
                    self.layers.activations[l - 1],
                    self.layers.sizes[l]
                ),
                _ => format!(
                    "h{l} {} ×{}",
                    self.layers.activations[l - 1],
                    self.layers.sizes[l]
                ),
            };
            put_str(
                buf,
                x,
                area.y,
                x + COL_W,
                &title,
                Style::default().add_modifier(Modifier::BOLD),
            );
            let (start, end) = self.window(l, rows);
            let mut y = area.y + 1;
            if start > 0 {
                put_str(
                    buf,
                    x,
                    y,
                    x + COL_W,
                    &format!("  … {start} above"),
                    Style::default().fg(Color::DarkGray),
                );
                y += 1;
            }
            let scale = self.a[l].iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            for j in start..end {
                let known = l <= self.forward;
                let a = self.a[l].get(j).copied().unwrap_or(f64::NAN);
                let dot = Style::default().fg(if known {
                    signed(a, scale)
                } else {
                    Color::DarkGray
                });
                let selected = self.selected == (l, j);
                let text_style = if selected {
                    Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
                } else {
                    Style::default()
                };
                let x1 = put_str(buf, x, y, x + COL_W, "● ", dot);
                let value = if known { short(a) } else { "?".to_owned() };
                let mut text = format!("{value:<8}");
                if l >= 1 && l >= self.backward {
                    let dv = self.delta[l].get(j).copied().unwrap_or(f64::NAN);
                    text.push_str(&format!(" {d} {}", short(dv)));
                }
                put_str(buf, x1, y, x + COL_W, &text, text_style);
                unit_rows[l].push((j, y));
                y += 1;
            }
            let n = self.layers.sizes[l];
            if end < n {
                put_str(
                    buf,
                    x,
                    y,
                    x + COL_W,
                    &format!("  … {} below", n - end),
                    Style::default().fg(Color::DarkGray),
                );
            }
        }
        // Every weight between two columns on screen, as a line in the gap between them.
        for l in first + 1..=depth {
            let col = (l - first) as u16;
            let x = area.x + col * (COL_W + GAP_W) - GAP_W;
            if x + GAP_W > area.right() || unit_rows[l].is_empty() {
                break;
            }
            let gap = Rect::new(x, area.y + 1, GAP_W, area.height - 1);
            self.render_edges(l, &unit_rows[l - 1], &unit_rows[l], gap, buf);
        }
    }
}

impl NetworkView<'_> {
    /// The weights of layer `l` between the units shown at rows `from` (layer `l - 1`) and
    /// `to` (layer `l`), drawn in `gap`.
    fn render_edges(
        &self,
        l: usize,
        from: &[(usize, u16)],
        to: &[(usize, u16)],
        gap: Rect,
        buf: &mut Buffer,
    ) {
        let w = self.layers.weights(self.params, l);
        let n = self.layers.sizes[l - 1];
        let scale = w.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let (sl, sj) = self.selected;
        let mut edges: Vec<(bool, f64, u16, u16)> = Vec::new();
        for &(j, yj) in to {
            for &(k, yk) in from {
                let weight = w.get(j * n + k).copied().unwrap_or(f64::NAN);
                let emphasised = (sl == l && sj == j) || (sl + 1 == l && sj == k);
                edges.push((emphasised, weight, yk, yj));
            }
        }
        // The dim edges first, small to large, then the selected neuron's over them.
        edges.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.abs().total_cmp(&b.1.abs())));
        let (width, height) = (f64::from(gap.width), f64::from(gap.height));
        // Row r of the terminal is canvas height at its middle (the canvas' y grows upwards).
        let y_of = |row: u16| height - (f64::from(row - gap.y) + 0.5);
        Canvas::default()
            .marker(Marker::Braille)
            .x_bounds([0.0, width])
            .y_bounds([0.0, height])
            .paint(|ctx| {
                let mut layer_emphasised = false;
                for &(emphasised, weight, yk, yj) in &edges {
                    if emphasised && !layer_emphasised {
                        ctx.layer();
                        layer_emphasised = true;
                    }
                    ctx.draw(&Line {
                        x1: 0.0,
                        y1: y_of(yk),
                        x2: width,
                        y2: y_of(yj),
                        color: edge_color(weight, scale, emphasised),
                    });
                }
            })
            .render(gap, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Activation;
    use crate::tui::widgets::test_util::buffer_text;

    fn braille(buf: &Buffer, x: u16, y: u16) -> bool {
        buf[(x, y)]
            .symbol()
            .chars()
            .next()
            .is_some_and(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
    }

    /// A 2-2-1 network: every weight is a line between the units it joins, coloured by its
    /// sign; the selected output neuron's incoming weights are the bright ones.
    #[test]
    fn every_weight_is_drawn_coloured_by_sign_and_the_selected_neurons_stand_out() {
        let layers = Layers {
            sizes: vec![2, 2, 1],
            activations: vec![Activation::Tanh, Activation::Identity],
        };
        // W1 (2x2), b1, W2 (1x2) = [0.8, -0.5], b2.
        let params = [0.3, -0.2, 0.1, 0.4, 0.0, 0.0, 0.8, -0.5, 0.0];
        let a = vec![vec![1.0, -1.0], vec![0.2, -0.3], vec![0.5]];
        let delta = vec![Vec::new(), vec![0.1, 0.2], vec![0.3]];
        let view = NetworkView {
            layers: &layers,
            a: &a,
            delta: &delta,
            forward: 2,
            backward: 3,
            params: &params,
            selected: (2, 0),
            ascii: false,
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 100, 6));
        view.render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        // Gaps: cells 22..31 (layer 1's weights) and 53..62 (layer 2's); units on rows 1, 2.
        for (x0, x1) in [(22, 30), (53, 61)] {
            for y in [1, 2] {
                assert!(braille(&buf, x0, y), "({x0},{y})\n{text}");
            }
            assert!(braille(&buf, x1, 1), "({x1},1)\n{text}");
        }
        assert!(
            braille(&buf, 30, 2),
            "layer 1 reaches hidden unit 1\n{text}"
        );
        // Layer 2 has one unit: nothing arrives at row 2 there.
        assert!(!braille(&buf, 61, 2), "{text}");
        // Leaving hidden unit 0 and 1: W2 = 0.8 (red) and -0.5 (blue), both bright.
        assert_eq!(buf[(53, 1)].fg, edge_color(0.8, 0.8, true));
        assert_eq!(buf[(53, 2)].fg, edge_color(-0.5, 0.8, true));
        let Color::Rgb(r, _, b) = buf[(53, 1)].fg else {
            panic!("an RGB colour");
        };
        assert!(r > b);
        let Color::Rgb(r, _, b) = buf[(53, 2)].fg else {
            panic!("an RGB colour");
        };
        assert!(b > r);
        // Layer 1's weights are not the selected neuron's: dimmer.
        let Color::Rgb(r, g, b) = buf[(22, 1)].fg else {
            panic!("an RGB colour");
        };
        assert!(r.max(g).max(b) < 150, "{:?}", buf[(22, 1)].fg);
    }
}
