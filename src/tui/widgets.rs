//! Pure ratatui widgets: each renders one view of the session from plain data it borrows.
//!
//! Nothing here knows about sessions or runs as types: callers build small view structs from their
//! state every frame (cheap: they only borrow) and hand them to `Frame::render_widget`.
//! Shared helpers live here: palette colours as terminal colours, number and duration
//! formatting, and [`asciify`], which rewrites a rendered area to plain ASCII for terminals
//! without Unicode.

pub mod contour;
pub mod flow_panel;
pub mod grad_table;
pub mod graph_view;
pub mod help;
pub mod loss_chart;
pub mod network_view;
pub mod noise;
pub mod popup;
pub mod runs;
pub mod status_bar;
pub mod tape_view;

pub use contour::{Crosshair, LandscapeView};
pub use flow_panel::FlowPanel;
pub use grad_table::{EngineStat, GradRow, GradTable};
pub use graph_view::GraphView;
pub use help::HelpOverlay;
pub use loss_chart::{LossChart, SeriesView};
pub use network_view::NetworkView;
pub use noise::NoiseView;
pub use popup::{ErrorPopup, TooSmall};
pub use runs::{RunDetail, RunRow, RunsTable};
pub use status_bar::{RaceState, StatusBar};
pub use tape_view::{TapeRow, TapeView};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::border;

use crate::landscape::palette::{self, Rgb};

/// A palette colour as a terminal colour.
#[must_use]
pub fn rgb(c: Rgb) -> Color {
    Color::Rgb(c.0, c.1, c.2)
}

/// The colour of run number `i`: the landscape palette's, which the exported plots use too.
#[must_use]
pub fn run_color(i: usize) -> Color {
    rgb(palette::run(i))
}

/// A border set of plain ASCII characters, for `Block::border_set` in ASCII mode.
pub const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// Compact number formatting for labels (the landscape's, shared with the exported plots).
pub use crate::landscape::format_number as format_compact;

/// Formats a duration given in nanoseconds with three significant digits and a unit
/// (`ns`, `µs`, `ms`, `s`); non-finite or negative durations print as `-`.
#[must_use]
pub fn format_duration_ns(ns: f64) -> String {
    if !ns.is_finite() || ns < 0.0 {
        return "-".to_owned();
    }
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    // Rounding can carry 999.6 up to "1000"; that is still correct, just one digit longer.
    if value < 10.0 {
        format!("{value:.2} {unit}")
    } else if value < 100.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// The ASCII stand-in for a non-ASCII cell symbol drawn by these widgets or by ratatui's own
/// (borders, chart axes, markers, braille, blocks).
fn ascii_stand_in(symbol: &str) -> &'static str {
    let Some(c) = symbol.chars().next() else {
        return " ";
    };
    match c {
        '─' | '━' | '═' | '╌' | '┄' => "-",
        '│' | '┃' | '║' | '╎' | '┆' => "|",
        '┌' | '┐' | '└' | '┘' | '╭' | '╮' | '╰' | '╯' | '├' | '┤' | '┬' | '┴' | '┼' | '╔' | '╗'
        | '╚' | '╝' | '┏' | '┓' | '┗' | '┛' => "+",
        '•' | '●' | '◆' | '■' | '▲' | '★' | '✚' => "*",
        '×' => "x",
        '·' => "*",
        '○' => "o",
        '…' => "~",
        'µ' => "u",
        'Δ' => "d",
        '−' | '—' | '–' => "-",
        '→' => ">",
        '←' => "<",
        '↑' => "^",
        '↓' => "v",
        '▶' | '►' => ">",
        '◀' | '◄' => "<",
        '▀' | '▄' | '█' | '▌' | '▐' | '▘' | '▝' | '▖' | '▗' | '▅' | '▆' | '▇' => {
            "#"
        }
        '▁' | '▂' | '▃' => "_",
        'δ' => "d",
        'ā' => "a",
        'ṫ' => "t",
        '\u{2800}' => " ",
        '\u{2801}'..='\u{28FF}' => ".",
        _ => "?",
    }
}

/// Rewrites every non-ASCII symbol in `area` to an ASCII stand-in, so that a whole frame can be
/// drawn once with the usual widgets and then made safe for an ASCII-only terminal.
pub fn asciify(buf: &mut Buffer, area: Rect) {
    let area = area.intersection(buf.area);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            if let Some(cell) = buf.cell_mut((x, y)) {
                if !cell.symbol().is_ascii() {
                    let s = ascii_stand_in(cell.symbol());
                    cell.set_symbol(s);
                }
            }
        }
    }
}

/// Writes `text` at (`x`, `y`) clipped to `max_x`, returning the column after it.
pub(crate) fn put_str(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    max_x: u16,
    text: &str,
    style: ratatui::style::Style,
) -> u16 {
    if x >= max_x {
        return x;
    }
    let (end, _) = buf.set_stringn(x, y, text, usize::from(max_x - x), style);
    end
}

#[cfg(test)]
pub(crate) mod test_util {
    use ratatui::buffer::Buffer;

    /// The buffer's symbols row by row (no styles), for snapshots.
    pub fn buffer_text(buf: &Buffer) -> String {
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(format_duration_ns(0.0), "0.00 ns");
        assert_eq!(format_duration_ns(512.0), "512 ns");
        assert_eq!(format_duration_ns(1234.0), "1.23 µs");
        assert_eq!(format_duration_ns(45_600.0), "45.6 µs");
        assert_eq!(format_duration_ns(7.5e6), "7.50 ms");
        assert_eq!(format_duration_ns(2.0e9), "2.00 s");
        assert_eq!(format_duration_ns(f64::NAN), "-");
        assert_eq!(format_duration_ns(-1.0), "-");
    }

    #[test]
    fn asciify_replaces_box_drawing_and_braille() {
        let mut buf = Buffer::with_lines(["┌─•⣿⠀µ┐", "│abc  │"]);
        let area = buf.area;
        asciify(&mut buf, area);
        assert_eq!(buf, Buffer::with_lines(["+-*. u+", "|abc  |"]));
    }
}
