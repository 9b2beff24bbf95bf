//! The gradient-noise panel: at the selected run's point, the full gradient G against the
//! minibatch gradient g_B (norms, cosine, relative error), the per-example covariance's trace,
//! the noise scale B_simple, the expected and observed |g_B − G|², what the per-example
//! gradients cost, and a sparkline of cos(g_B, G) over the run's steps.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::bar;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Widget, Wrap};

use super::{format_compact, format_duration_ns};
use crate::objective::NoiseStats;

/// Sparkline levels of plain ASCII characters, for `--ascii`.
const ASCII_BARS: bar::Set<'static> = bar::Set {
    full: "#",
    seven_eighths: "#",
    three_quarters: "=",
    five_eighths: "=",
    half: "-",
    three_eighths: "-",
    one_quarter: "_",
    one_eighth: "_",
    empty: " ",
};

/// What the panel shows.
#[derive(Debug, Clone, Copy)]
pub struct NoiseView<'a> {
    /// The figures, once computed; `None` shows `message` instead.
    pub stats: Option<&'a NoiseStats>,
    /// The step the figures were computed at.
    pub step: u64,
    /// Wall time of the per-example gradients, nanoseconds (`None` hides it, as in snapshots).
    pub nanos: Option<f64>,
    /// cos(g_B, G) at the steps the figures were computed, oldest first.
    pub cosines: &'a [f64],
    pub message: &'a str,
    pub ascii: bool,
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), format_compact)
}

impl NoiseView<'_> {
    fn lines(&self, s: &NoiseStats) -> Vec<Line<'static>> {
        let key = Style::default().fg(Color::Gray);
        let pair = |k: &str, v: String| {
            vec![
                Span::styled(format!("{k} "), key),
                Span::raw(v),
                Span::raw("  "),
            ]
        };
        let cost = match self.nanos {
            Some(ns) => format!(
                "{} per-example gradients in {} (off the step path)",
                s.examples,
                format_duration_ns(ns)
            ),
            None => format!(
                "{} per-example gradients (one reverse pass each)",
                s.examples
            ),
        };
        vec![
            Line::from(
                [
                    pair("step", self.step.to_string()),
                    pair("n", s.examples.to_string()),
                    pair("B", s.batch_size.to_string()),
                ]
                .concat(),
            ),
            Line::from(
                [
                    pair("|G|", format_compact(s.full_gradient_norm)),
                    pair("|g_B|", format_compact(s.minibatch_gradient_norm)),
                ]
                .concat(),
            ),
            Line::from(
                [
                    pair("cos(g_B,G)", opt(s.cosine)),
                    pair("|g_B-G|/|G|", opt(s.relative_error)),
                ]
                .concat(),
            ),
            Line::from(
                [
                    pair("tr(S)", format_compact(s.trace_cov)),
                    pair("B_simple=tr(S)/|G|^2", opt(s.noise_scale)),
                ]
                .concat(),
            ),
            Line::from(
                [
                    pair("|g_B-G|^2 seen", format_compact(s.observed_sq_error)),
                    pair(
                        "expected tr(S)/B(n-B)/n",
                        format_compact(s.expected_sq_error),
                    ),
                ]
                .concat(),
            ),
            Line::from(Span::styled(cost, key)),
        ]
    }
}

impl Widget for NoiseView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.height == 0 || area.width == 0 {
            return;
        }
        let Some(stats) = self.stats else {
            Paragraph::new(self.message)
                .style(Style::default().fg(Color::Gray))
                .wrap(Wrap { trim: true })
                .render(area, buf);
            return;
        };
        let lines = self.lines(stats);
        // The figures first; the sparkline gets what is left (two rows at least, or none).
        let text_h = (lines.len() as u16).min(area.height);
        Paragraph::new(lines).render(Rect::new(area.x, area.y, area.width, text_h), buf);
        let left = area.height - text_h;
        if left < 2 || self.cosines.is_empty() {
            return;
        }
        let title = Rect::new(area.x, area.y + text_h, area.width, 1);
        Line::from(Span::styled(
            "cos(g_B, G) over time (bottom -1, top 1)",
            Style::default()
                .fg(Color::Gray)
                .add_modifier(Modifier::ITALIC),
        ))
        .render(title, buf);
        let spark = Rect::new(area.x, area.y + text_h + 1, area.width, left - 1);
        // The newest values that fit, as 0..=200 for cos in [-1, 1].
        let start = self.cosines.len().saturating_sub(usize::from(spark.width));
        let data: Vec<u64> = self.cosines[start..]
            .iter()
            .map(|c| ((c.clamp(-1.0, 1.0) + 1.0) * 100.0).round() as u64)
            .collect();
        let bars = if self.ascii {
            ASCII_BARS
        } else {
            bar::NINE_LEVELS
        };
        Sparkline::default()
            .data(&data)
            .max(200)
            .bar_set(bars)
            .style(Style::default().fg(Color::Cyan))
            .render(spark, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::test_util::buffer_text;

    fn stats() -> NoiseStats {
        NoiseStats {
            examples: 400,
            batch_size: 32,
            full_gradient_norm: 0.25,
            minibatch_gradient_norm: 0.31,
            cosine: Some(0.875),
            relative_error: Some(0.5),
            trace_cov: 0.6,
            noise_scale: Some(9.6),
            expected_sq_error: 0.0172,
            observed_sq_error: 0.0156,
        }
    }

    fn render(view: NoiseView<'_>, w: u16, h: u16) -> String {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        view.render(buf.area, &mut buf);
        buffer_text(&buf)
    }

    #[test]
    fn snapshot_noise_panel() {
        let s = stats();
        let cosines = [1.0, 0.9, 0.5, -0.2, 0.0, 0.7, -1.0, 0.95];
        let view = NoiseView {
            stats: Some(&s),
            step: 120,
            nanos: None,
            cosines: &cosines,
            message: "",
            ascii: false,
        };
        insta::assert_snapshot!("noise_panel_60x10", render(view, 60, 10));
        let ascii = NoiseView {
            ascii: true,
            nanos: Some(1.5e6),
            ..view
        };
        insta::assert_snapshot!("noise_panel_ascii_60x10", render(ascii, 60, 10));
    }

    #[test]
    fn missing_figures_show_the_message_and_cosines_map_to_the_height() {
        let view = NoiseView {
            stats: None,
            step: 0,
            nanos: None,
            cosines: &[],
            message: "no data: expressions have no per-example gradients",
            ascii: false,
        };
        assert!(render(view, 60, 4).contains("no data"));
        // cos = 1 is a full bar, cos = -1 an empty one.
        let s = stats();
        let full = NoiseView {
            stats: Some(&s),
            cosines: &[1.0, -1.0],
            ascii: true,
            ..view
        };
        let text = render(full, 40, 9);
        let last = text.lines().last().expect("a row");
        assert!(last.starts_with("# "), "{last:?}");
    }
}
