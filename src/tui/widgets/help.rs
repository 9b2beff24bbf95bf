//! The help overlay: a centred popup listing every key binding, scrolled with the arrows when
//! the terminal is too short to show them all.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

/// Key bindings as `(keys, description)`, listed in the given order.
#[derive(Debug, Clone, Copy)]
pub struct HelpOverlay<'a> {
    pub keys: &'a [(&'a str, &'a str)],
    /// First entry shown (clamped so the last page is full).
    pub scroll: usize,
}

impl HelpOverlay<'_> {
    /// Entries visible at once in `area`, and the largest useful scroll offset.
    #[must_use]
    pub fn page(keys: usize, area: Rect) -> (usize, usize) {
        let visible = usize::from(area.height.saturating_sub(2)).clamp(1, keys.max(1));
        (visible, keys.saturating_sub(visible))
    }
}

/// A `width × height` rectangle centred in `area`, shrunk to fit.
#[must_use]
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

impl Widget for HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let key_w = self
            .keys
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let desc_w = self
            .keys
            .iter()
            .map(|(_, d)| d.chars().count())
            .max()
            .unwrap_or(0);
        let (visible, max_scroll) = Self::page(self.keys.len(), area);
        let scroll = self.scroll.min(max_scroll);
        let title = if max_scroll > 0 {
            format!(
                " keys {}-{} of {} (up/down scroll) ",
                scroll + 1,
                scroll + visible,
                self.keys.len()
            )
        } else {
            " keys ".to_owned()
        };
        let width = (key_w + desc_w + 6).max(title.chars().count() + 2).max(20) as u16;
        let height = visible as u16 + 2;
        let popup = centered(area, width, height);
        Clear.render(popup, buf);
        let key_style = Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD);
        let lines: Vec<Line<'_>> = self
            .keys
            .iter()
            .skip(scroll)
            .take(visible)
            .map(|(k, d)| {
                Line::from(vec![
                    Span::styled(format!("{k:>key_w$}"), key_style),
                    Span::raw("  "),
                    Span::raw(*d),
                ])
            })
            .collect();
        Paragraph::new(lines)
            .block(Block::bordered().title(title))
            .render(popup, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::test_util::buffer_text;

    const KEYS: [(&str, &str); 4] = [
        ("space", "pause / resume"),
        ("s", "single step"),
        ("?", "toggle this help"),
        ("q", "quit"),
    ];

    #[test]
    fn centred_rect_fits() {
        let area = Rect::new(0, 0, 80, 24);
        assert_eq!(centered(area, 20, 10), Rect::new(30, 7, 20, 10));
        assert_eq!(centered(area, 200, 100), area);
    }

    #[test]
    fn clears_what_is_behind_it() {
        let mut buf = Buffer::filled(Rect::new(0, 0, 40, 10), ratatui::buffer::Cell::new("x"));
        HelpOverlay {
            keys: &KEYS,
            scroll: 0,
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        assert!(text.contains("space  pause / resume"), "{text}");
        // Inside the popup, after the longest description, the filler is gone.
        assert_eq!(buf[(30, 4)].symbol(), " ");
        assert_eq!(buf[(0, 0)].symbol(), "x");
    }

    #[test]
    fn scrolls_when_short() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 60, 4));
        HelpOverlay {
            keys: &KEYS,
            scroll: 9,
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        // Two rows fit; the scroll is clamped to the last page.
        assert!(text.contains("keys 3-4 of 4"), "{text}");
        assert!(
            text.contains("toggle this help") && text.contains("quit"),
            "{text}"
        );
        assert!(!text.contains("single step"), "{text}");
    }

    #[test]
    fn snapshot() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 40, 10));
        HelpOverlay {
            keys: &KEYS,
            scroll: 0,
        }
        .render(buf.area, &mut buf);
        insta::assert_snapshot!(buffer_text(&buf));
    }
}
