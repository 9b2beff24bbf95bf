//! A layered model as columns of neurons, one column per layer (inputs left): each neuron's
//! activation, coloured by sign and size, and once the backward pass has reached its layer its
//! error signal δ. Between two columns, the selected neuron's incoming weights are drawn as
//! stubs coloured by sign (red positive, blue negative) and weight (bold above the layer's mean
//! magnitude). Wide layers show a window around the selected neuron with how many are hidden.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;

use super::put_str;
use crate::backprop::network::Layers;
use crate::backprop::short;

const COL_W: u16 = 22;
const GAP_W: u16 = 5;

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
        let fit = usize::from(area.width / (COL_W + GAP_W)).max(1);
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
        // The selected neuron's incoming weights, as stubs beside its inputs.
        let (sl, sj) = self.selected;
        if sl >= 1 && sl > first {
            let col = (sl - 1 - first) as u16;
            let x = area.x + col * (COL_W + GAP_W) + COL_W;
            if x + GAP_W <= area.right() {
                let n = self.layers.sizes[sl - 1];
                let w: Vec<f64> = (0..n)
                    .map(|k| self.layers.weight(self.params, sl, sj, k))
                    .collect();
                let mean = w.iter().map(|v| v.abs()).sum::<f64>() / n.max(1) as f64;
                let scale = w.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
                for &(k, y) in &unit_rows[sl - 1] {
                    let mut style = Style::default().fg(signed(w[k], scale));
                    if w[k].abs() > mean {
                        style = style.add_modifier(Modifier::BOLD);
                    }
                    let stub = if w[k].abs() > mean {
                        "━━━▶"
                    } else {
                        "───▶"
                    };
                    put_str(buf, x, y, x + GAP_W, stub, style);
                }
            }
        }
    }
}
