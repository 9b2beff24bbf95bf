//! Gradient flow per layer: one row per weight layer (input side first) with the error
//! signal's size |δ|, a sparkline of one chosen figure over time, |∂L/∂W|, the last step's
//! update ratio |ΔW|/|W| and the share of saturated (or dead) units. The sparklines of all
//! layers share one logarithmic scale, so a gradient that vanishes towards the input shows as
//! lower bars there.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;

use super::put_str;
use crate::backprop::flow::LayerFlow;

const BARS: [&str; 8] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

/// The panel's data: the latest figures and, per layer, one figure over time (oldest first).
#[derive(Debug, Clone, Copy)]
pub struct FlowPanel<'a> {
    pub flows: &'a [LayerFlow],
    pub history: &'a [Vec<f64>],
    /// The name of the figure in `history`.
    pub figure: &'a str,
    pub ascii: bool,
}

fn sci(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.1e}"),
        Some(_) => "NaN".to_owned(),
        None => "-".to_owned(),
    }
}

impl Widget for FlowPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.height == 0 {
            return;
        }
        let d = if self.ascii { "d" } else { "δ" };
        let right = format!("{:>8} {:>8} {:>5}", "|dL/dW|", "|dW|/|W|", "sat");
        let spark_w = usize::from(area.width)
            .saturating_sub(14 + 1 + 8 + 1 + 1 + right.len())
            .clamp(1, 40);
        let history: String = "history".chars().take(spark_w).collect();
        let header = format!(
            "{:<14} {:>8} {history:<spark_w$} {right}",
            "layer",
            format!("|{d}|")
        );
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let end = area.right();
        put_str(buf, area.x, area.y, end, &header, bold);
        // One log scale for every layer's sparkline.
        let logs = self
            .history
            .iter()
            .flatten()
            .filter(|v| v.is_finite() && **v > 0.0)
            .map(|v| v.log10());
        let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let rows = usize::from(area.height.saturating_sub(2));
        for (k, f) in self.flows.iter().take(rows).enumerate() {
            let y = area.y + 1 + k as u16;
            let name = format!("{:<3}{} ×{}", format!("{}", f.layer), f.activation, f.units);
            let x = put_str(
                buf,
                area.x,
                y,
                end,
                &format!("{name:<14} {:>8} ", sci(Some(f.delta_norm))),
                Style::default(),
            );
            let series = self.history.get(k).map_or(&[][..], Vec::as_slice);
            let tail = &series[series.len().saturating_sub(spark_w)..];
            let mut spark = String::new();
            for v in tail {
                let bar = if v.is_finite() && *v > 0.0 && hi > lo {
                    let t = (v.log10() - lo) / (hi - lo);
                    BARS[((t * 7.0).round() as usize).min(7)]
                } else if v.is_finite() && *v > 0.0 {
                    BARS[7]
                } else {
                    " "
                };
                spark.push_str(bar);
            }
            let x = put_str(
                buf,
                x,
                y,
                end,
                &format!("{spark:<spark_w$}"),
                Style::default().fg(Color::Cyan),
            );
            let sat = format!("{:.0}%", 100.0 * f.saturated_fraction);
            let style = if f.saturated_fraction > 0.5 {
                Style::default().fg(Color::Red)
            } else {
                Style::default()
            };
            let x = put_str(
                buf,
                x + 1,
                y,
                end,
                &format!(
                    "{:>8} {:>8} ",
                    sci(Some(f.weight_grad_norm)),
                    sci(f.update_ratio)
                ),
                Style::default(),
            );
            put_str(buf, x, y, end, &format!("{sat:>5}"), style);
        }
        if let Some(last) = area
            .bottom()
            .checked_sub(1)
            .filter(|b| *b > area.y + self.flows.len() as u16)
        {
            put_str(
                buf,
                area.x,
                last,
                end,
                &format!(
                    "history: |{d}| per layer, one log scale; sat: units in the flat part of the activation"
                ),
                Style::default().fg(Color::Gray),
            );
        }
    }
}
