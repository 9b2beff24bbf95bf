//! A layered model drawn as a network diagram: a column of neurons per layer (inputs left),
//! each layer's units spread evenly over the panel's height and centred, so that narrow layers
//! sit in the middle of wide ones. A neuron is a marker coloured by its activation's sign and
//! size, its value beside it and, once the backward pass has reached its layer, its error
//! signal δ under it. The columns are as narrow as their numbers, and the room between them
//! goes to the weights: every weight is a line (Braille dots) from the unit it reads to the
//! unit it feeds, coloured by sign (red positive, blue negative) with brightness by magnitude,
//! the larger drawn over the smaller; the selected neuron's incoming and outgoing weights are
//! drawn brightest and on top. When the widest layer has not two rows a unit, the compact
//! layout takes over: one row a unit, δ beside the value, and a layer taller than the panel
//! shows a window around the selected neuron with how many are hidden. Layers that do not fit
//! side by side scroll so the selected one is shown.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::widgets::Widget;
use ratatui::widgets::canvas::{Canvas, Line};

use super::put_str;
use crate::backprop::network::Layers;
use crate::backprop::short;

/// The narrowest room for the weights between two columns (below it, fewer layers are shown).
const MIN_GAP: u16 = 8;
/// The widest: past it the diagram is centred rather than stretched.
const MAX_GAP: u16 = 40;

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

/// Where the view puts each layer it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Geometry {
    /// The rows under the layers' titles.
    body: Rect,
    /// Two rows a unit (its value, δ under it) spread over the height; `false` when the
    /// widest layer has not two rows a unit: one row a unit, δ beside the value.
    spread: bool,
    /// Left to right, consecutive layers.
    columns: Vec<Column>,
}

/// One layer's column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    layer: usize,
    x: u16,
    /// The marker, its text and a space before the weights' lines.
    width: u16,
    /// Cells the values take (in the compact layout δ follows them).
    value_w: u16,
    /// The units shown, each with the row of its marker.
    units: Vec<(usize, u16)>,
    /// Units of a layer taller than the panel hidden above and below its window.
    above: usize,
    below: usize,
}

impl Geometry {
    /// The room between column `c` and the next, where the next layer's weights are drawn.
    fn gap(&self, c: usize) -> Option<Rect> {
        let (from, to) = (self.columns.get(c)?, self.columns.get(c + 1)?);
        let x = from.x + from.width;
        Some(Rect::new(
            x,
            self.body.y,
            to.x.saturating_sub(x),
            self.body.height,
        ))
    }
}

/// Terminal cells a label takes (every character the view writes is one cell wide).
fn cells(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
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

    fn value_text(&self, l: usize, j: usize) -> String {
        short(
            self.a
                .get(l)
                .and_then(|a| a.get(j))
                .copied()
                .unwrap_or(f64::NAN),
        )
    }

    /// `δ 0.0123`; the input layer has none.
    fn delta_text(&self, l: usize, j: usize) -> Option<String> {
        let d = if self.ascii { "d" } else { "δ" };
        (l >= 1).then(|| {
            let v = self.delta.get(l).and_then(|d| d.get(j)).copied();
            format!("{d} {}", short(v.unwrap_or(f64::NAN)))
        })
    }

    /// The layout in `area`: which layers, where their units go. Widths are taken from every
    /// number of the units shown, computed or not yet, so stepping does not move the columns.
    fn geometry(&self, area: Rect) -> Geometry {
        let body = Rect::new(
            area.x,
            area.y + 1,
            area.width,
            area.height.saturating_sub(1),
        );
        let h = usize::from(body.height);
        let depth = self.layers.depth();
        let widest = self.layers.sizes.iter().copied().max().unwrap_or(0);
        let spread = 2 * widest <= h;
        let windows: Vec<(usize, usize)> = (0..=depth)
            .map(|l| {
                if spread {
                    (0, self.layers.sizes[l])
                } else {
                    self.window(l, h)
                }
            })
            .collect();
        let (value_ws, widths): (Vec<u16>, Vec<u16>) = windows
            .iter()
            .enumerate()
            .map(|(l, &(start, end))| {
                let value_w = (start..end)
                    .map(|j| cells(&self.value_text(l, j)))
                    .max()
                    .unwrap_or(1);
                let delta_w = (start..end)
                    .filter_map(|j| self.delta_text(l, j))
                    .map(|s| cells(&s))
                    .max();
                let text = match (delta_w, spread) {
                    (None, _) => value_w,
                    (Some(dw), true) => value_w.max(dw),
                    (Some(dw), false) => value_w + 2 + dw,
                };
                (value_w, 2 + text + 1)
            })
            .unzip();
        // The layers shown: as many as fit at the narrowest gap, the selected one among them.
        let span = |a: usize, b: usize| -> u32 {
            widths[a..=b].iter().map(|&w| u32::from(w)).sum::<u32>()
                + u32::from(MIN_GAP) * (b - a) as u32
        };
        let fits = |a: usize, b: usize| span(a, b) <= u32::from(area.width);
        let selected = self.selected.0.min(depth);
        let mut first = 0;
        while first < selected && !fits(first, selected) {
            first += 1;
        }
        let mut last = selected;
        while last < depth && fits(first, last + 1) {
            last += 1;
        }
        let used_w: u16 = widths[first..=last].iter().sum();
        let gaps = u16::try_from(last - first).unwrap_or(u16::MAX);
        let gap = area
            .width
            .saturating_sub(used_w)
            .checked_div(gaps)
            .map_or(0, |g| g.clamp(MIN_GAP, MAX_GAP));
        let total = used_w.saturating_add(gap.saturating_mul(gaps));
        let mut x = area.x + area.width.saturating_sub(total) / 2;
        // One spacing for every layer, set by the tallest, so narrow layers sit in the middle.
        let tallest = windows.iter().map(|(s, e)| e - s).max().unwrap_or(1).max(1);
        let per_unit = if spread { 2.0 } else { 1.0 };
        // Whole rows, so that the units of a layer are evenly spaced on the screen too.
        let spacing = (h as f64 / tallest as f64).floor().max(per_unit);
        let mut columns = Vec::new();
        for l in first..=last {
            let (start, end) = windows[l];
            let n = self.layers.sizes[l];
            let units = if end - start < n {
                // A window of a layer taller than the panel: one row a unit, the notes above
                // and below it.
                let top = body.y + u16::from(start > 0);
                (start..end).zip(top..).collect()
            } else {
                let m = end - start;
                let offset = (h as f64 - m as f64 * spacing) / 2.0;
                let lowest = body.bottom().saturating_sub(per_unit as u16);
                (start..end)
                    .map(|j| {
                        let centre =
                            offset + (j - start) as f64 * spacing + (spacing - per_unit) / 2.0;
                        let row = body.y + centre.round().max(0.0) as u16;
                        (j, row.min(lowest))
                    })
                    .collect()
            };
            columns.push(Column {
                layer: l,
                x,
                width: widths[l],
                value_w: value_ws[l],
                units,
                above: start,
                below: n - end,
            });
            x += widths[l] + gap;
        }
        Geometry {
            body,
            spread,
            columns,
        }
    }
}

impl Widget for NetworkView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.height < 3 {
            return;
        }
        let g = self.geometry(area);
        // The weights first: a label never has a line through it.
        for c in 0..g.columns.len() {
            if let Some(gap) = g.gap(c) {
                let (from, to) = (&g.columns[c], &g.columns[c + 1]);
                self.render_edges(to.layer, &from.units, &to.units, gap, buf);
            }
        }
        let depth = self.layers.depth();
        let note = Style::default().fg(Color::DarkGray);
        for (c, col) in g.columns.iter().enumerate() {
            let l = col.layer;
            let right = g.columns.get(c + 1).map_or(area.right(), |next| next.x - 1);
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
            let bold = Style::default().add_modifier(Modifier::BOLD);
            // A title wider than its column runs on over the gap (no lines on this row); the
            // last one ends at the panel's edge.
            let x = col
                .x
                .min(area.right().saturating_sub(cells(&title)))
                .max(area.x);
            put_str(buf, x, area.y, right, &title, bold);
            if col.above > 0 {
                let text = format!("  … {} above", col.above);
                put_str(buf, col.x, g.body.y, right, &text, note);
            }
            if col.below > 0 {
                let y = col.units.last().map_or(g.body.y, |&(_, y)| y + 1);
                let text = format!("  … {} below", col.below);
                put_str(buf, col.x, y, right, &text, note);
            }
            self.render_units(col, &g, area, buf);
        }
        // Over the titles' row, at its ends: how many layers are off to each side.
        let left = g.columns.first().map_or(0, |c| c.layer);
        let right = depth - g.columns.last().map_or(depth, |c| c.layer);
        let (l_arrow, r_arrow) = if self.ascii {
            ("<", ">")
        } else {
            ("◀", "▶")
        };
        if left > 0 {
            let text = format!("{l_arrow} {left} more ");
            put_str(buf, area.x, area.y, area.right(), &text, note);
        }
        if right > 0 {
            let text = format!(" {right} more {r_arrow}");
            let x = area.right().saturating_sub(cells(&text)).max(area.x);
            put_str(buf, x, area.y, area.right(), &text, note);
        }
    }
}

impl NetworkView<'_> {
    /// The units of the column `col`: marker, value and δ.
    fn render_units(&self, col: &Column, g: &Geometry, area: Rect, buf: &mut Buffer) {
        let l = col.layer;
        let known = l <= self.forward;
        let scale = self.a[l].iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let text_x = col.x + 2;
        let text_end = (col.x + col.width).min(area.right());
        for &(j, y) in &col.units {
            let a = self.a[l].get(j).copied().unwrap_or(f64::NAN);
            let dot = Style::default().fg(if known {
                signed(a, scale)
            } else {
                Color::DarkGray
            });
            let style = if self.selected == (l, j) {
                Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                Style::default()
            };
            put_str(buf, col.x, y, text_end, "●", dot);
            let value = if known {
                self.value_text(l, j)
            } else {
                "?".to_owned()
            };
            let delta = self.delta_text(l, j).filter(|_| l >= self.backward);
            match (delta, g.spread) {
                (None, _) => {
                    put_str(buf, text_x, y, text_end, &value, style);
                }
                (Some(delta), true) => {
                    put_str(buf, text_x, y, text_end, &value, style);
                    put_str(buf, text_x, y + 1, text_end, &delta, style);
                }
                (Some(delta), false) => {
                    let w = usize::from(col.value_w);
                    let text = format!("{value:<w$}  {delta}");
                    put_str(buf, text_x, y, text_end, &text, style);
                }
            }
        }
    }

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
        if gap.is_empty() {
            return;
        }
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
        gap_canvas(gap, |ctx| {
            let mut layer_emphasised = false;
            for &(emphasised, weight, yk, yj) in &edges {
                if emphasised && !layer_emphasised {
                    ctx.layer();
                    layer_emphasised = true;
                }
                ctx.draw(&edge_line(
                    gap,
                    yk,
                    yj,
                    edge_color(weight, scale, emphasised),
                ));
            }
        })
        .render(gap, buf);
    }
}

/// The canvas of a gap: one unit a cell, `y` growing upwards.
fn gap_canvas<F: Fn(&mut ratatui::widgets::canvas::Context<'_>)>(
    gap: Rect,
    paint: F,
) -> Canvas<'static, F> {
    Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([0.0, f64::from(gap.width)])
        .y_bounds([0.0, f64::from(gap.height)])
        .paint(paint)
}

/// A weight's line across `gap`, from the unit at row `from` on its left to the unit at row
/// `to` on its right, through the middle of those rows.
fn edge_line(gap: Rect, from: u16, to: u16, color: Color) -> Line {
    let height = f64::from(gap.height);
    // Canvas y grows upwards.
    let y_of = |row: u16| height - (f64::from(row.saturating_sub(gap.y)) + 0.5);
    Line {
        x1: 0.0,
        y1: y_of(from),
        x2: f64::from(gap.width),
        y2: y_of(to),
        color,
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

    /// A network of `sizes` with distinct weights of both signs (|w| all different, so every
    /// weight has a colour of its own), biases 0, and activations and δ of both signs.
    struct Net {
        layers: Layers,
        params: Vec<f64>,
        a: Vec<Vec<f64>>,
        delta: Vec<Vec<f64>>,
    }

    fn network(sizes: &[usize]) -> Net {
        let layers = Layers {
            sizes: sizes.to_vec(),
            activations: vec![Activation::Tanh; sizes.len() - 1],
        };
        let mut params = Vec::new();
        let mut i = 0.0;
        for l in 1..sizes.len() {
            for _ in 0..sizes[l] * sizes[l - 1] {
                i += 1.0;
                let sign = if (i as u32) % 3 == 0 { -1.0 } else { 1.0 };
                params.push(sign * (0.05 + 0.9 * i / 40.0));
            }
            params.extend(std::iter::repeat_n(0.0, sizes[l]));
        }
        let wave = |n: usize, phase: f64| -> Vec<f64> {
            (0..n).map(|j| (j as f64 + phase).sin() * 0.8).collect()
        };
        let a = sizes.iter().map(|&n| wave(n, 0.3)).collect();
        let mut delta: Vec<Vec<f64>> = sizes.iter().map(|&n| wave(n, 1.1)).collect();
        delta[0].clear();
        Net {
            layers,
            params,
            a,
            delta,
        }
    }

    fn view<'a>(net: &'a Net, selected: (usize, usize), backward: usize) -> NetworkView<'a> {
        NetworkView {
            layers: &net.layers,
            a: &net.a,
            delta: &net.delta,
            forward: net.layers.depth(),
            backward,
            params: &net.params,
            selected,
            ascii: false,
        }
    }

    fn is_red(c: Color) -> bool {
        matches!(c, Color::Rgb(r, _, b) if r > b)
    }

    fn is_blue(c: Color) -> bool {
        matches!(c, Color::Rgb(r, _, b) if b > r)
    }

    /// Every weight between the layers shown is a line from the unit it reads to the unit it
    /// feeds, with the colour of its sign and size: each weight's own colour (they are all
    /// different) is on some cell of the path a lone line between those units takes, and red
    /// means positive, blue negative. The selected neuron's weights are the bright ones. In
    /// the spread layout and the compact one (there, the selected neuron's weights).
    #[test]
    fn every_weight_is_drawn_between_its_units_with_its_sign_colour() {
        let net = network(&[3, 4, 2]);
        for (selected, size) in [((1, 2), (100, 20)), ((2, 0), (80, 16)), ((0, 1), (100, 6))] {
            let v = view(&net, selected, 1);
            let area = Rect::new(0, 0, size.0, size.1);
            let mut buf = Buffer::empty(area);
            v.render(area, &mut buf);
            let text = buffer_text(&buf);
            let g = v.geometry(area);
            assert_eq!(g.spread, size.1 > 6, "{text}");
            assert_eq!(g.columns.len(), 3, "{text}");
            let mut edges = 0;
            for c in 0..2 {
                let gap = g.gap(c).expect("a gap");
                let (from, to) = (&g.columns[c], &g.columns[c + 1]);
                let l = to.layer;
                let w = net.layers.weights(&net.params, l);
                let scale = w.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
                for &(j, yj) in &to.units {
                    for &(k, yk) in &from.units {
                        let weight = net.layers.weight(&net.params, l, j, k);
                        let emphasised = selected == (l, j) || selected == (l - 1, k);
                        let color = edge_color(weight, scale, emphasised);
                        assert!(
                            if weight > 0.0 {
                                is_red(color)
                            } else {
                                is_blue(color)
                            },
                            "{weight}: {color:?}"
                        );
                        if emphasised {
                            assert!(matches!(color, Color::Rgb(r, g, b) if r.max(g).max(b) >= 150));
                        } else {
                            assert!(matches!(color, Color::Rgb(r, g, b) if r.max(g).max(b) < 150));
                        }
                        // The cells a lone line between these two units covers.
                        let mut lone = Buffer::empty(area);
                        gap_canvas(gap, |ctx| ctx.draw(&edge_line(gap, yk, yj, color)))
                            .render(gap, &mut lone);
                        let path: Vec<(u16, u16)> = gap
                            .positions()
                            .filter(|p| braille(&lone, p.x, p.y))
                            .map(|p| (p.x, p.y))
                            .collect();
                        // It joins the two units: it starts beside the one and ends beside
                        // the other.
                        assert!(path.contains(&(gap.x, yk)), "{k}->{j} at {size:?}\n{text}");
                        assert!(
                            path.contains(&(gap.right() - 1, yj)),
                            "{k}->{j} at {size:?}\n{text}"
                        );
                        // Its cells are all inked, by it or by a line drawn over it.
                        assert!(
                            path.iter().all(|&(x, y)| braille(&buf, x, y)),
                            "{k}->{j} at {size:?}\n{text}"
                        );
                        // Its own colour shows somewhere: always for the selected neuron's
                        // weights, drawn on top; for the others where the units are spread
                        // (one row a unit, lines between neighbours hide each other).
                        if g.spread || emphasised {
                            assert!(
                                path.iter().any(|&(x, y)| buf[(x, y)].fg == color),
                                "weight {l}[{j},{k}] = {weight} not drawn in {color:?} at \
                                 {size:?}\n{text}"
                            );
                        }
                        edges += 1;
                    }
                }
            }
            assert_eq!(edges, 3 * 4 + 4 * 2);
        }
    }

    /// Units spread over the height, evenly, each layer centred; the columns narrow and the
    /// room between them wide; δ under the value.
    #[test]
    fn units_are_spread_and_centred_and_the_weights_get_the_width() {
        let net = network(&[2, 8, 8, 1]);
        let v = view(&net, (3, 0), 3);
        let area = Rect::new(0, 0, 118, 19);
        let mut buf = Buffer::empty(area);
        v.render(area, &mut buf);
        let text = buffer_text(&buf);
        let g = v.geometry(area);
        assert!(g.spread, "{text}");
        assert_eq!(g.columns.len(), 4, "{text}");
        let centre = f64::from(g.body.y) + f64::from(g.body.height) / 2.0;
        for col in &g.columns {
            let rows: Vec<f64> = col.units.iter().map(|&(_, y)| f64::from(y)).collect();
            // The marker row and the δ row under it, centred on the body's middle.
            let mid = rows.iter().sum::<f64>() / rows.len() as f64 + 1.0;
            assert!(
                (mid - centre).abs() <= 1.0,
                "layer {}: {mid} {centre}\n{text}",
                col.layer
            );
            let steps: Vec<f64> = rows.windows(2).map(|w| w[1] - w[0]).collect();
            // Whole rows apart, the same for every layer.
            assert!(
                steps.iter().all(|&s| s == 2.0),
                "layer {}: {steps:?}\n{text}",
                col.layer
            );
            assert!(col.width <= 12, "{col:?}");
        }
        // The 8-unit layers take the height, in whole rows: 2 a unit in 18 rows, one spare
        // row above and below.
        let hidden = &g.columns[1].units;
        assert_eq!(hidden[0].1, g.body.y + 1, "{text}");
        assert_eq!(hidden[7].1 + 1, g.body.bottom() - 2, "{text}");
        for c in 0..3 {
            let gap = g.gap(c).expect("a gap");
            assert!(gap.width >= 20, "{gap:?}\n{text}");
        }
        // The output's δ under its value.
        let out = &g.columns[3];
        let (_, y) = out.units[0];
        let row: String = (out.x..out.x + out.width)
            .map(|x| buf[(x, y + 1)].symbol().to_owned())
            .collect();
        assert_eq!(
            row.trim(),
            format!("δ {}", short(net.delta[3][0])),
            "{text}"
        );
        assert!(text.contains("out tanh ×1"), "{text}");
    }

    /// A layer without two rows a unit: the compact layout, one row a unit with δ beside the
    /// value; a layer taller than the panel: a window around the selected unit and notes.
    #[test]
    fn tall_layers_fall_back_to_one_row_a_unit_and_a_window() {
        let net = network(&[2, 12, 1]);
        let v = view(&net, (1, 3), 1);
        let area = Rect::new(0, 0, 78, 18);
        let mut buf = Buffer::empty(area);
        v.render(area, &mut buf);
        let text = buffer_text(&buf);
        let g = v.geometry(area);
        assert!(!g.spread, "{text}");
        let rows: Vec<u16> = g.columns[1].units.iter().map(|&(_, y)| y).collect();
        assert!(rows.windows(2).all(|w| w[1] == w[0] + 1), "{rows:?}");
        assert!(
            text.contains(&format!(
                "{}  δ {}",
                short(net.a[1][3]),
                short(net.delta[1][3])
            )),
            "{text}"
        );
        for c in 0..2 {
            assert!(g.gap(c).expect("a gap").width >= MIN_GAP);
        }

        let net = network(&[2, 40, 1]);
        let v = view(&net, (1, 30), 2);
        let mut buf = Buffer::empty(area);
        v.render(area, &mut buf);
        let text = buffer_text(&buf);
        let g = v.geometry(area);
        let hidden = &g.columns[1];
        assert_eq!(hidden.units.len(), 15, "{text}");
        assert!(hidden.units.iter().any(|&(j, _)| j == 30), "{text}");
        assert_eq!(hidden.above + hidden.units.len() + hidden.below, 40);
        assert!(
            text.contains(&format!("… {} above", hidden.above)),
            "{text}"
        );
        assert!(
            text.contains(&format!("… {} below", hidden.below)),
            "{text}"
        );
    }

    /// Too narrow for every layer: the selected one is among those shown.
    #[test]
    fn narrow_panels_show_the_selected_layer() {
        let net = network(&[2, 4, 4, 4, 4, 1]);
        for l in 0..=5 {
            let v = view(&net, (l, 0), 6);
            let area = Rect::new(0, 0, 50, 12);
            let g = v.geometry(area);
            assert!(g.columns.iter().any(|c| c.layer == l), "{l}: {g:?}");
            assert!(g.columns.len() >= 2, "{g:?}");
            let right = g.columns.last().map(|c| c.x + c.width).unwrap_or(0);
            assert!(right <= area.right(), "{g:?}");
            // The layers off to either side are counted at the ends of the titles' row.
            let first = g.columns.first().map_or(0, |c| c.layer);
            let last = g.columns.last().map_or(0, |c| c.layer);
            let mut buf = Buffer::empty(area);
            v.render(area, &mut buf);
            let titles = buffer_text(&buf).lines().next().unwrap_or("").to_owned();
            let left = format!("◀ {first} more");
            let right = format!("{} more ▶", 5 - last);
            assert_eq!(titles.starts_with(&left), first > 0, "{l}: {titles}");
            assert_eq!(
                titles.trim_end().ends_with(&right),
                last < 5,
                "{l}: {titles}"
            );
        }
        // Some layers are hidden at this width, on each side for some selection.
        let shown = |l| {
            view(&net, (l, 0), 6)
                .geometry(Rect::new(0, 0, 50, 12))
                .columns
        };
        assert!(shown(0).last().is_some_and(|c| c.layer < 5));
        assert!(shown(5).first().is_some_and(|c| c.layer > 0));
    }
}
