//! Popups that replace or cover the screen: an error message (e.g. a scenario that failed to
//! reload) and the "terminal too small" notice.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::help::centered;

/// The smallest terminal the full layout is drawn in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// A centred error popup with a title and a multi-line message, wrapped to fit.
#[derive(Debug, Clone, Copy)]
pub struct ErrorPopup<'a> {
    pub title: &'a str,
    pub message: &'a str,
    /// Border and title colour: red for errors, another for notices (the description).
    pub color: Color,
}

impl Widget for ErrorPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let longest = self
            .message
            .lines()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        let title_w = self.title.chars().count() + 4;
        let width = (longest.max(title_w) + 4).clamp(20, 100) as u16;
        let width = width.min(area.width);
        let inner_w = usize::from(width.saturating_sub(4)).max(1);
        let wrapped: usize = self
            .message
            .lines()
            .map(|l| l.chars().count().div_ceil(inner_w).max(1))
            .sum();
        let height = (wrapped.max(1) + 2) as u16;
        let popup = centered(area, width, height);
        Clear.render(popup, buf);
        let block = Block::bordered()
            .border_style(Style::default().fg(self.color))
            .title(format!(" {} ", self.title))
            .title_style(Style::default().fg(self.color).add_modifier(Modifier::BOLD));
        Paragraph::new(self.message)
            .wrap(Wrap { trim: false })
            .block(block.padding(ratatui::widgets::Padding::horizontal(1)))
            .render(popup, buf);
    }
}

/// Shown instead of the layout when the terminal is smaller than [`MIN_WIDTH`]×[`MIN_HEIGHT`].
#[derive(Debug, Clone, Copy)]
pub struct TooSmall {
    pub width: u16,
    pub height: u16,
}

impl TooSmall {
    /// Whether `area` is too small for the full layout.
    #[must_use]
    pub fn applies(area: Rect) -> bool {
        area.width < MIN_WIDTH || area.height < MIN_HEIGHT
    }

    /// The notice for a terminal of `area`'s size.
    #[must_use]
    pub fn for_area(area: Rect) -> Self {
        Self {
            width: area.width,
            height: area.height,
        }
    }

    #[must_use]
    pub fn message(&self) -> String {
        format!(
            "terminal too small: need at least {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}",
            self.width, self.height
        )
    }
}

impl Widget for TooSmall {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let text = self.message();
        let lines = text
            .chars()
            .count()
            .div_ceil(usize::from(area.width.max(1)));
        let lines = (lines as u16).min(area.height);
        let y = area.y + (area.height - lines) / 2;
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .render(Rect::new(area.x, y, area.width, lines), buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::test_util::buffer_text;

    #[test]
    fn too_small_is_centred() {
        let area = Rect::new(0, 0, 60, 3);
        assert!(TooSmall::applies(area));
        assert!(!TooSmall::applies(Rect::new(0, 0, 80, 24)));
        let mut buf = Buffer::empty(area);
        TooSmall::for_area(area).render(area, &mut buf);
        assert_eq!(
            buf,
            Buffer::with_lines([
                " ".repeat(60),
                format!(
                    "{:<60}",
                    "     terminal too small: need at least 80x24, have 60x3"
                ),
                " ".repeat(60),
            ])
        );
    }

    #[test]
    fn too_small_wraps_in_a_narrow_terminal() {
        let area = Rect::new(0, 0, 20, 5);
        let mut buf = Buffer::empty(area);
        TooSmall::for_area(area).render(area, &mut buf);
        let text = buffer_text(&buf);
        assert!(text.contains("terminal too small:"), "{text}");
        assert!(text.contains("have 20x5"), "{text}");
    }

    #[test]
    fn error_popup_snapshot() {
        let mut buf = Buffer::filled(Rect::new(0, 0, 60, 9), ratatui::buffer::Cell::new("."));
        ErrorPopup {
            color: Color::Red,
            title: "reload failed",
            message: "scenario.yaml:3:7: unknown optimizer 'adamm'\ndid you mean 'adam'?",
        }
        .render(buf.area, &mut buf);
        insta::assert_snapshot!(buffer_text(&buf));
    }

    #[test]
    fn error_popup_wraps_long_lines_in_small_areas() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 24, 8));
        ErrorPopup {
            color: Color::Red,
            title: "e",
            message: &"word ".repeat(30),
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        assert!(
            text.lines().filter(|l| l.contains("word")).count() >= 3,
            "{text}"
        );
    }
}
