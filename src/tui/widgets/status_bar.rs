//! The one-line status bar: scenario, engine, speed, running state and key hints.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::format_compact;

#[derive(Debug, Clone, Copy)]
pub struct StatusBar<'a> {
    pub scenario: &'a str,
    pub engine: &'a str,
    pub steps_per_sec: f64,
    pub running: bool,
    /// `(key, action)` pairs shown after the status, cut off at the right edge.
    pub hints: &'a [(&'a str, &'a str)],
}

/// Steps per second with at most one decimal, compact when large.
#[must_use]
pub fn format_speed(steps_per_sec: f64) -> String {
    if !steps_per_sec.is_finite() || steps_per_sec < 0.0 {
        "-".to_owned()
    } else if steps_per_sec < 1e4 {
        format!("{steps_per_sec:.1}")
    } else {
        format_compact(steps_per_sec)
    }
}

impl Widget for StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.height == 0 {
            return;
        }
        let sep = || Span::styled(" | ", Style::default().fg(Color::DarkGray));
        let (state, state_color) = if self.running {
            ("Running", Color::Green)
        } else {
            ("Paused", Color::Yellow)
        };
        let mut spans = vec![
            Span::styled(self.scenario, Style::default().add_modifier(Modifier::BOLD)),
            sep(),
            Span::raw(self.engine),
            sep(),
            Span::raw(format!("{} steps/s", format_speed(self.steps_per_sec))),
            sep(),
            Span::styled(
                state,
                Style::default()
                    .fg(state_color)
                    .add_modifier(Modifier::BOLD),
            ),
        ];
        // Hints are dropped whole rather than cut in the middle of a word.
        let mut used: usize = spans.iter().map(Span::width).sum();
        for (k, (key, action)) in self.hints.iter().enumerate() {
            let gap = if k == 0 { sep() } else { Span::raw("  ") };
            let action = format!(" {action}");
            let width = gap.width() + key.chars().count() + action.chars().count();
            if used + width > usize::from(area.width) {
                break;
            }
            used += width;
            spans.push(gap);
            spans.push(Span::styled(*key, Style::default().fg(Color::Cyan)));
            spans.push(Span::raw(action));
        }
        Line::from(spans).render(Rect::new(area.x, area.y, area.width, 1), buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    const HINTS: [(&str, &str); 3] = [("space", "pause"), ("?", "help"), ("q", "quit")];

    #[test]
    fn speed_formatting() {
        assert_eq!(format_speed(0.0), "0.0");
        assert_eq!(format_speed(123.456), "123.5");
        assert_eq!(format_speed(2.5e6), "2.5e6");
        assert_eq!(format_speed(f64::NAN), "-");
    }

    #[test]
    fn renders_one_line_at_fixed_width() {
        let area = Rect::new(0, 0, 70, 1);
        let mut buf = Buffer::empty(area);
        let bar = StatusBar {
            scenario: "rosenbrock",
            engine: "reverse",
            steps_per_sec: 240.0,
            running: true,
            hints: &HINTS,
        };
        bar.render(area, &mut buf);
        assert_eq!(buf[(39, 0)].symbol(), "R");
        assert_eq!(buf[(39, 0)].fg, Color::Green);
        buf.set_style(area, Style::reset());
        assert_eq!(
            buf,
            Buffer::with_lines([format!(
                "{:<70}",
                "rosenbrock | reverse | 240.0 steps/s | Running | space pause  ? help"
            )])
        );
    }

    #[test]
    fn paused_state() {
        let area = Rect::new(0, 0, 40, 1);
        let mut buf = Buffer::empty(area);
        StatusBar {
            scenario: "xor",
            engine: "forward",
            steps_per_sec: 0.0,
            running: false,
            hints: &[],
        }
        .render(area, &mut buf);
        buf.set_style(area, Style::reset());
        assert_eq!(
            buf,
            Buffer::with_lines([format!("{:<40}", "xor | forward | 0.0 steps/s | Paused")])
        );
    }
}
