//! The one-line status bar: scenario, engine, chosen speed and what the race is doing (with
//! the key that changes it), then key hints; `? help` and `q quit` always stay at its right end.
//! When the line is short, the scenario name goes first, then the engine, then the speed; the
//! state and the two fixed keys are never dropped.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// What the race is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaceState {
    Running,
    /// Paused before any step: the learner has not started it yet.
    Ready,
    Paused,
    /// Paused with the back-propagation view open, where `n` steps the view, not the runs.
    PausedInView,
    Finished,
}

impl RaceState {
    /// The state with the key that changes it.
    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            RaceState::Running => "Running · Space pause",
            RaceState::Ready => "Paused · Space: run, n: one step",
            RaceState::Paused => "Paused · Space resume",
            RaceState::PausedInView => "Runs paused · Space: run",
            RaceState::Finished => "Finished · r restart",
        }
    }

    fn color(self) -> Color {
        match self {
            RaceState::Running => Color::Green,
            RaceState::Ready | RaceState::Paused | RaceState::PausedInView => Color::Yellow,
            RaceState::Finished => Color::Cyan,
        }
    }
}

/// The keys the status bar never drops.
pub const FIXED_HINTS: [(&str, &str); 2] = [("?", "help"), ("q", "quit")];

#[derive(Debug, Clone, Copy)]
pub struct StatusBar<'a> {
    pub scenario: &'a str,
    pub engine: &'a str,
    /// The chosen speed ("30 steps/s"), not the measured rate.
    pub speed: &'a str,
    pub state: RaceState,
    /// `(key, action)` pairs shown after the status, dropped whole from the right when short.
    pub hints: &'a [(&'a str, &'a str)],
}

fn hint_spans<'a>(key: &'a str, action: &'a str, gap: &'static str) -> [Span<'a>; 3] {
    [
        Span::raw(gap),
        Span::styled(key, Style::default().fg(Color::Cyan)),
        Span::raw(format!(" {action}")),
    ]
}

fn width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(Span::width).sum()
}

impl Widget for StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.height == 0 {
            return;
        }
        let total = usize::from(area.width);
        let sep = || Span::styled(" | ", Style::default().fg(Color::DarkGray));
        let fixed: Vec<Span<'_>> = FIXED_HINTS
            .iter()
            .flat_map(|(k, a)| hint_spans(k, a, "  "))
            .collect();
        let state = Span::styled(
            self.state.text(),
            Style::default()
                .fg(self.state.color())
                .add_modifier(Modifier::BOLD),
        );
        // The optional fields in the order they are dropped when space runs out.
        let optional = [
            Span::styled(self.scenario, Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(self.engine),
            Span::raw(self.speed),
        ];
        let mut room = total.saturating_sub(width(&fixed) + state.width());
        let mut kept = [false; 3];
        for k in (0..3).rev() {
            let w = optional[k].width() + 3;
            if w > room {
                break;
            }
            room -= w;
            kept[k] = true;
        }
        let mut spans: Vec<Span<'_>> = Vec::new();
        for (span, keep) in optional.into_iter().zip(kept) {
            if keep {
                spans.push(span);
                spans.push(sep());
            }
        }
        spans.push(state);
        for (k, (key, action)) in self.hints.iter().enumerate() {
            let hint = hint_spans(key, action, if k == 0 { " | " } else { "  " });
            if width(&hint) > room {
                break;
            }
            room -= width(&hint);
            spans.extend(hint);
        }
        let used = width(&spans) + width(&fixed);
        spans.push(Span::raw(" ".repeat(total.saturating_sub(used))));
        spans.extend(fixed);
        Line::from(spans).render(Rect::new(area.x, area.y, area.width, 1), buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    const HINTS: [(&str, &str); 2] = [("n", "step"), ("b", "back")];

    fn text(bar: StatusBar<'_>, w: u16) -> String {
        let area = Rect::new(0, 0, w, 1);
        let mut buf = Buffer::empty(area);
        bar.render(area, &mut buf);
        buf.set_style(area, Style::reset());
        (0..w).map(|x| buf[(x, 0)].symbol().to_owned()).collect()
    }

    fn bar(state: RaceState) -> StatusBar<'static> {
        StatusBar {
            scenario: "rosenbrock",
            engine: "reverse",
            speed: "30 steps/s",
            state,
            hints: &HINTS,
        }
    }

    #[test]
    fn wide_bar_shows_everything_with_help_and_quit_at_the_end() {
        let line = text(bar(RaceState::Running), 100);
        assert_eq!(
            line.trim_end(),
            "rosenbrock | reverse | 30 steps/s | Running · Space pause | n step  b back            ? help  q quit"
        );
    }

    #[test]
    fn narrow_bar_drops_hints_then_the_name_but_keeps_state_help_and_quit() {
        let line = text(bar(RaceState::Ready), 64);
        assert!(line.contains("Paused · Space: run, n: one step"), "{line}");
        assert!(line.ends_with("? help  q quit"), "{line}");
        assert!(!line.contains("rosenbrock"), "{line}");
        assert!(line.contains("30 steps/s"), "{line}");
        assert!(
            !line.contains("reverse"),
            "the engine goes before the speed: {line}"
        );
        let line = text(bar(RaceState::Finished), 40);
        assert!(line.contains("Finished · r restart"), "{line}");
        assert!(line.ends_with("? help  q quit"), "{line}");
    }
}
