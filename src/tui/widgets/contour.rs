//! The landscape view: paints a [`Surface`] (heatmap and contour lines) and a [`Scene`]
//! (trajectories, current points and the runs' extra points, the known minimum, classified data points) into cells. All
//! the maths (grid, shading, levels, marching squares, colours) is the landscape module's; this
//! widget only decides which cell shows what.
//!
//! Runs whose current point left the window are named at its edge with an arrow pointing the
//! way they went; a colour bar under the plot gives the loss scale; an optional cursor shows
//! the plane coordinates and the value under it.
//!
//! Unicode mode packs two pixels into each cell with `▀` (fg = upper pixel, bg = lower) and draws
//! lines in braille (2×4 dots a cell); ASCII mode shades with a character ramp, one pixel a cell.
//! Under trails and markers the heatmap is darkened (the palette's shadow), so runs stay visible
//! wherever their colour is close to the map's.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::Widget;

use super::{format_compact, put_str, rgb};
use crate::landscape::palette::{self, Marker, Rgb};
use crate::landscape::range::clip_segment;
use crate::landscape::{Direction, Scene, Surface, exit_point, format_ticks};
use crate::text::printable;

/// ASCII shading from low to high loss.
const ASCII_RAMP: &[u8] = b" .:-=+*#%@";
const ASCII_NAN: char = '?';
const HALF_BLOCK: &str = "▀";
/// Braille dot bits indexed by [row][column] inside a 2×4 cell.
const BRAILLE_BITS: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];

/// The glyph of a data-class marker.
fn marker_glyph(m: Marker) -> char {
    match m {
        Marker::Circle => '●',
        Marker::Triangle => '▲',
        Marker::Square => '■',
        Marker::Diamond => '◆',
        Marker::Cross => '✚',
        Marker::Star => '★',
    }
}

/// The arrow pointing the way a point left the window.
fn arrow_glyph((dx, dy): Direction, ascii: bool) -> char {
    match (dx, dy, ascii) {
        (1, 0, false) => '→',
        (-1, 0, false) => '←',
        (0, 1, false) => '↑',
        (0, -1, false) => '↓',
        (1, 1, false) => '↗',
        (-1, 1, false) => '↖',
        (1, -1, false) => '↘',
        (-1, -1, false) => '↙',
        (1, _, true) => '>',
        (-1, _, true) => '<',
        (_, 1, true) => '^',
        _ => 'v',
    }
}

/// A crosshair on the landscape: plane coordinates and the value there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crosshair {
    pub at: (f64, f64),
    pub value: f64,
}

/// The landscape widget: a surface and what is drawn over it.
#[derive(Debug, Clone, Copy)]
pub struct LandscapeView<'a> {
    pub surface: &'a Surface,
    pub scene: &'a Scene<'a>,
    pub ascii: bool,
    pub cursor: Option<Crosshair>,
}

impl<'a> LandscapeView<'a> {
    #[must_use]
    pub fn new(surface: &'a Surface, scene: &'a Scene<'a>) -> Self {
        Self {
            surface,
            scene,
            ascii: false,
            cursor: None,
        }
    }

    #[must_use]
    pub fn ascii(mut self, ascii: bool) -> Self {
        self.ascii = ascii;
        self
    }

    #[must_use]
    pub fn cursor(mut self, cursor: Option<Crosshair>) -> Self {
        self.cursor = cursor;
        self
    }

    /// Where the plot goes inside `area` (y labels on the left, the x axis line at the bottom);
    /// `None` when the area is too small to draw anything.
    #[must_use]
    pub fn plot_area(surface: &Surface, area: Rect) -> Option<Rect> {
        let (y0, y1) = surface.grid.y_range;
        let label_w = format_ticks(&[y0, y1])
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(1)
            .max(3) as u16
            + 1;
        (area.width >= label_w + 4 && area.height >= 3).then(|| {
            Rect::new(
                area.x + label_w,
                area.y,
                area.width - label_w,
                area.height - 1,
            )
        })
    }
}

/// A layer of sub-cell dots (braille 2×4, or one dot a cell in ASCII mode) with a colour a cell.
struct DotLayer {
    cols: usize,
    rows: usize,
    sub_x: usize,
    sub_y: usize,
    bits: Vec<u8>,
    colors: Vec<Color>,
}

impl DotLayer {
    fn new(cols: usize, rows: usize, braille: bool) -> Self {
        let (sub_x, sub_y) = if braille { (2, 4) } else { (1, 1) };
        Self {
            cols,
            rows,
            sub_x,
            sub_y,
            bits: vec![0; cols * rows],
            colors: vec![Color::Reset; cols * rows],
        }
    }

    fn width(&self) -> f64 {
        (self.cols * self.sub_x) as f64
    }

    fn height(&self) -> f64 {
        (self.rows * self.sub_y) as f64
    }

    fn set(&mut self, px: f64, py: f64, color: Color) {
        if !(px >= 0.0 && py >= 0.0 && px <= self.width() && py <= self.height()) {
            return;
        }
        let px = (px as usize).min(self.cols * self.sub_x - 1);
        let py = (py as usize).min(self.rows * self.sub_y - 1);
        let cell = (py / self.sub_y) * self.cols + px / self.sub_x;
        let bit = if self.sub_x == 1 {
            1
        } else {
            BRAILLE_BITS[py % self.sub_y][px % self.sub_x]
        };
        self.bits[cell] |= bit;
        self.colors[cell] = color;
    }

    /// Draws a segment in pixel coordinates, clipped to the layer first so that a diverged run
    /// far outside the view costs nothing.
    fn line(&mut self, a: (f64, f64), b: (f64, f64), color: Color) {
        let Some((a, b)) = clip_segment(a, b, ((0.0, self.width()), (0.0, self.height()))) else {
            return;
        };
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0);
        let n = steps as usize;
        for s in 0..=n {
            let f = s as f64 / steps;
            self.set(a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, color);
        }
    }

    fn braille_char(bits: u8) -> char {
        char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' ')
    }
}

/// The background a trail or marker is drawn on: the cell's heatmap colour (the mean of its two
/// pixels), darkened by the palette's shadow.
fn shadow_of(cell: &ratatui::buffer::Cell) -> Color {
    let base = if cell.symbol() == HALF_BLOCK {
        mean(cell.fg, cell.bg)
    } else {
        cell.bg
    };
    match base {
        Color::Rgb(r, g, b) => rgb(Rgb(r, g, b).darkened(palette::SHADOW)),
        other => other,
    }
}

fn mean(a: Color, b: Color) -> Color {
    match (a, b) {
        (Color::Rgb(r1, g1, b1), Color::Rgb(r2, g2, b2)) => {
            rgb(Rgb(r1, g1, b1).mean(Rgb(r2, g2, b2)))
        }
        _ => a,
    }
}

/// Maps data coordinates to layer pixels.
#[derive(Debug, Clone, Copy)]
struct Viewport {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    width: f64,
    height: f64,
}

impl Viewport {
    fn to_px(self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            (x - self.x0) / (self.x1 - self.x0) * self.width,
            (self.y1 - y) / (self.y1 - self.y0) * self.height,
        )
    }

    /// The cell (column, row) inside the plot holding a data point, if it is visible.
    fn cell(self, p: (f64, f64), cols: u16, rows: u16) -> Option<(u16, u16)> {
        let fx = (p.0 - self.x0) / (self.x1 - self.x0);
        let fy = (self.y1 - p.1) / (self.y1 - self.y0);
        // `contains` is false for NaN, so non-finite points drop out here too.
        if !(0.0..=1.0).contains(&fx) || !(0.0..=1.0).contains(&fy) {
            return None;
        }
        let c = ((fx * f64::from(cols)) as u16).min(cols.saturating_sub(1));
        let r = ((fy * f64::from(rows)) as u16).min(rows.saturating_sub(1));
        Some((c, r))
    }
}

impl LandscapeView<'_> {
    fn viewport(&self, plot: Rect) -> Viewport {
        let g = &self.surface.grid;
        Viewport {
            x0: g.x_range.0,
            x1: g.x_range.1,
            y0: g.y_range.0,
            y1: g.y_range.1,
            width: f64::from(plot.width),
            height: f64::from(plot.height),
        }
    }

    fn render_heatmap(&self, plot: Rect, buf: &mut Buffer) {
        let cols = usize::from(plot.width);
        let pixel_rows = usize::from(plot.height) * if self.ascii { 1 } else { 2 };
        let raster = self.surface.raster(cols, pixel_rows);
        for row in 0..plot.height {
            for col in 0..plot.width {
                let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) else {
                    continue;
                };
                let (i, r) = (usize::from(col), usize::from(row));
                if self.ascii {
                    let c = match raster[r * cols + i] {
                        Some(t) => {
                            let k = (t * (ASCII_RAMP.len() - 1) as f64).round() as usize;
                            char::from(ASCII_RAMP[k.min(ASCII_RAMP.len() - 1)])
                        }
                        None => ASCII_NAN,
                    };
                    cell.set_char(c).set_style(Style::reset());
                } else {
                    let upper = palette::shade(raster[2 * r * cols + i]);
                    let lower = palette::shade(raster[(2 * r + 1) * cols + i]);
                    cell.set_symbol(HALF_BLOCK)
                        .set_fg(rgb(upper))
                        .set_bg(rgb(lower));
                }
            }
        }
    }

    /// Writes a layer's dots into the plot. In Unicode mode a contour keeps the cell's heatmap
    /// colour as background; a trail (`shadow`) darkens it.
    fn apply_layer(
        &self,
        layer: &DotLayer,
        plot: Rect,
        buf: &mut Buffer,
        ascii_char: char,
        shadow: bool,
    ) {
        for row in 0..layer.rows {
            for col in 0..layer.cols {
                let k = row * layer.cols + col;
                if layer.bits[k] == 0 {
                    continue;
                }
                let pos = (plot.x + col as u16, plot.y + row as u16);
                let Some(cell) = buf.cell_mut(pos) else {
                    continue;
                };
                if self.ascii {
                    cell.set_char(ascii_char).set_fg(layer.colors[k]);
                } else {
                    let bg = if shadow {
                        shadow_of(cell)
                    } else if cell.symbol() == HALF_BLOCK {
                        mean(cell.fg, cell.bg)
                    } else {
                        cell.bg
                    };
                    cell.set_char(DotLayer::braille_char(layer.bits[k]))
                        .set_fg(layer.colors[k])
                        .set_bg(bg);
                }
            }
        }
    }

    /// Puts one glyph on the cell holding `p`, over a shadow of whatever is there.
    fn mark(&self, view: Viewport, plot: Rect, buf: &mut Buffer, p: (f64, f64), c: char, fg: Rgb) {
        let Some((col, row)) = view.cell(p, plot.width, plot.height) else {
            return;
        };
        if let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) {
            let bg = shadow_of(cell);
            cell.set_char(c).set_fg(rgb(fg));
            if !self.ascii {
                cell.set_bg(bg);
            }
        }
    }

    fn render_contours(&self, plot: Rect, buf: &mut Buffer) {
        if self.surface.contours.is_empty() {
            return;
        }
        let mut layer = DotLayer::new(usize::from(plot.width), usize::from(plot.height), true);
        let view = Viewport {
            width: layer.width(),
            height: layer.height(),
            ..self.viewport(plot)
        };
        let color = rgb(palette::CONTOUR);
        for contour in &self.surface.contours {
            for line in &contour.lines {
                for pair in line.windows(2) {
                    layer.line(view.to_px(pair[0]), view.to_px(pair[1]), color);
                }
            }
        }
        self.apply_layer(&layer, plot, buf, '.', false);
    }

    fn render_trails(&self, plot: Rect, buf: &mut Buffer) {
        let mut layer = DotLayer::new(
            usize::from(plot.width),
            usize::from(plot.height),
            !self.ascii,
        );
        let view = Viewport {
            width: layer.width(),
            height: layer.height(),
            ..self.viewport(plot)
        };
        for trail in &self.scene.trails {
            let color = rgb(trail.color);
            for pair in trail.points.windows(2) {
                layer.line(view.to_px(pair[0]), view.to_px(pair[1]), color);
            }
            if let [only] = trail.points.as_slice() {
                let p = view.to_px(*only);
                layer.set(p.0, p.1, color);
            }
        }
        self.apply_layer(&layer, plot, buf, '*', true);
    }

    fn render_marks(&self, plot: Rect, buf: &mut Buffer) {
        let view = self.viewport(plot);
        for &(x, y, class) in self.scene.data_points {
            let glyph = if self.ascii {
                char::from_digit((class % 10) as u32, 10).unwrap_or('?')
            } else {
                marker_glyph(palette::marker(class))
            };
            self.mark(view, plot, buf, (x, y), glyph, palette::class(class));
        }
        if let Some(m) = self.scene.minimum {
            let glyph = if self.ascii { 'x' } else { '×' };
            self.mark(view, plot, buf, m, glyph, palette::MINIMUM);
        }
        // extra points (averages, Schedule-Free's y and z) under the current points
        let extra = if self.ascii { '+' } else { '◇' };
        for trail in &self.scene.trails {
            for &(_, p) in &trail.extras {
                self.mark(view, plot, buf, p, extra, trail.color);
            }
        }
        let current = if self.ascii { 'o' } else { '●' };
        for trail in &self.scene.trails {
            if let Some(p) = trail.current {
                self.mark(view, plot, buf, p, current, trail.color);
            }
        }
        // Where each run was at the loss chart's cursor.
        let then = if self.ascii { '@' } else { '◉' };
        for trail in &self.scene.trails {
            if let Some(p) = trail.at_cursor {
                self.mark(view, plot, buf, p, then, trail.color);
            }
        }
    }

    /// Names each labelled run whose current point is outside the window at the edge where it
    /// left, with an arrow pointing its way ("gd →" on the right edge, "↑ adam" on the top).
    fn render_exits(&self, plot: Rect, buf: &mut Buffer) {
        let g = &self.surface.grid;
        let view = self.viewport(plot);
        let window = (g.x_range, g.y_range);
        for trail in self.scene.trails.iter().filter(|t| !t.label.is_empty()) {
            // A current point of NaN (diverged) shows where the trail was last seen.
            let last = trail
                .current
                .filter(|p| !(p.0.is_nan() || p.1.is_nan()))
                .or_else(|| {
                    trail
                        .points
                        .iter()
                        .rev()
                        .find(|p| !(p.0.is_nan() || p.1.is_nan()))
                        .copied()
                });
            let Some((edge, direction)) = last.and_then(|p| exit_point(window, p)) else {
                continue;
            };
            let Some((col, row)) = view.cell(edge, plot.width, plot.height) else {
                continue;
            };
            let arrow = arrow_glyph(direction, self.ascii);
            let name = printable(&trail.label);
            let text = if direction.0 == 1 {
                format!("{name} {arrow}")
            } else {
                format!("{arrow} {name}")
            };
            let len = text.chars().count() as u16;
            // Right-edge labels end at the edge; the others start at the arrow, kept inside;
            // none covers the legend.
            let mut x = if direction.0 == 1 {
                (plot.x + col + 1).saturating_sub(len).max(plot.x)
            } else {
                (plot.x + col)
                    .min(plot.right().saturating_sub(len))
                    .max(plot.x)
            };
            if let Some(legend) = self.legend_area(plot)
                && plot.y + row < legend.bottom()
                && x + len > legend.x
            {
                x = legend.x.saturating_sub(len).max(plot.x);
            }
            let style = if self.ascii {
                Style::reset().fg(rgb(trail.color))
            } else {
                Style::reset().fg(rgb(trail.color)).bg(Color::Black)
            };
            put_str(buf, x, plot.y + row, plot.right(), &text, style);
        }
    }

    /// The crosshair and, on the plot's last row, its readout: "x 0.52  y -0.3  loss 24.5".
    fn render_cursor(&self, plot: Rect, buf: &mut Buffer) {
        let Some(c) = self.cursor else {
            return;
        };
        let view = self.viewport(plot);
        if let Some((col, row)) = view.cell(c.at, plot.width, plot.height) {
            let (h, v, x) = if self.ascii {
                ('-', '|', '+')
            } else {
                ('─', '│', '┼')
            };
            let style = Style::reset().fg(Color::White);
            for k in 0..plot.width {
                if let Some(cell) = buf.cell_mut((plot.x + k, plot.y + row))
                    && k != col
                    && (k as i32 - col as i32).abs() <= 2
                {
                    cell.set_char(h).set_style(style);
                }
            }
            for k in 0..plot.height {
                if let Some(cell) = buf.cell_mut((plot.x + col, plot.y + k))
                    && k != row
                    && (k as i32 - row as i32).abs() <= 1
                {
                    cell.set_char(v).set_style(style);
                }
            }
            if let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) {
                cell.set_char(x).set_style(style);
            }
        }
        let (xn, yn) = &self.scene.axis_names;
        let [a, b] = format_ticks(&[c.at.0, c.at.1])
            .try_into()
            .unwrap_or_default();
        let text = format!(
            " {xn} {a}  {yn} {b}  {} {} ",
            self.scene.value_name,
            format_compact(c.value)
        );
        // On the plot's last row: the legend has the first.
        let style = Style::reset().fg(Color::White).bg(Color::Black);
        put_str(
            buf,
            plot.x,
            plot.bottom() - 1,
            plot.right(),
            &printable(&text),
            style,
        );
    }

    /// Where the legend goes (top right): `None` when it does not fit.
    fn legend_area(&self, plot: Rect) -> Option<Rect> {
        let labelled = self.scene.trails.iter().filter(|t| !t.label.is_empty());
        let widest = labelled
            .clone()
            .map(|t| printable(&t.label).chars().count())
            .max()
            .unwrap_or(0);
        let rows = labelled.count();
        let width = (widest + 2).min(usize::from(plot.width) / 2) as u16;
        if rows == 0 || width < 4 || rows + 1 > usize::from(plot.height) {
            return None;
        }
        Some(Rect::new(plot.right() - width, plot.y, width, rows as u16))
    }

    fn render_legend(&self, plot: Rect, buf: &mut Buffer) {
        let labelled = self.scene.trails.iter().filter(|t| !t.label.is_empty());
        let Some(legend) = self.legend_area(plot) else {
            return;
        };
        let x = legend.x;
        let bullet = if self.ascii { "o " } else { "● " };
        for (row, trail) in labelled.enumerate() {
            let y = plot.y + row as u16;
            let style = if self.ascii {
                Style::reset().fg(rgb(trail.color))
            } else {
                Style::reset().fg(rgb(trail.color)).bg(Color::Black)
            };
            for cx in x..plot.right() {
                if let Some(cell) = buf.cell_mut((cx, y)) {
                    cell.set_symbol(" ").set_style(style);
                }
            }
            let end = put_str(buf, x, y, plot.right(), bullet, style);
            put_str(buf, end, y, plot.right(), &printable(&trail.label), style);
        }
    }

    fn render_axes(&self, area: Rect, plot: Rect, buf: &mut Buffer) {
        let dim = Style::reset().fg(Color::Gray);
        let g = &self.surface.grid;
        let label_w = plot.x - area.x;
        let right_align = |buf: &mut Buffer, y: u16, text: &str| {
            let len = text.chars().count() as u16;
            let x = area.x + label_w.saturating_sub(len + 1);
            put_str(buf, x, y, plot.x, text, dim);
        };
        let [y_lo, y_hi] = format_ticks(&[g.y_range.0, g.y_range.1])
            .try_into()
            .unwrap_or_default();
        right_align(buf, plot.y, &y_hi);
        right_align(buf, plot.bottom() - 1, &y_lo);
        let (x_name, y_name) = &self.scene.axis_names;
        if plot.height >= 3 {
            // The name as wide as the label column allows.
            let room = usize::from(label_w.saturating_sub(1)).max(1);
            let name: String = printable(y_name).chars().take(room).collect();
            right_align(buf, plot.y + plot.height / 2, &name);
        }
        let axis_y = area.bottom() - 1;
        let [left, right] = format_ticks(&[g.x_range.0, g.x_range.1])
            .try_into()
            .unwrap_or_default();
        let after_left = put_str(buf, plot.x, axis_y, area.right(), &left, dim);
        let right_x = area.right().saturating_sub(right.chars().count() as u16);
        if right_x > after_left {
            put_str(buf, right_x, axis_y, area.right(), &right, dim);
        }
        self.render_colour_bar(
            buf,
            axis_y,
            after_left + 1,
            right_x.saturating_sub(1),
            &printable(x_name),
        );
    }

    /// The x axis name and the colour bar between the x range's end labels: "x  loss 8e-3
    /// ████████ 2510 log", each bar cell in the colour of its share of the range, so a colour
    /// on the map reads as a loss. The bar shrinks, then goes, on narrow plots; the name stays.
    fn render_colour_bar(&self, buf: &mut Buffer, y: u16, from: u16, to: u16, x_name: &str) {
        let dim = Style::reset().fg(Color::Gray);
        let room = usize::from(to.saturating_sub(from));
        let name = self.scene.value_name;
        let log = if self.surface.log_scale { " log" } else { "" };
        let (Some((lo, hi)), Some(shading)) = (self.surface.scale, self.surface.shading()) else {
            let text = format!("{x_name}   {name}: no finite values");
            let x = from + (room.saturating_sub(text.chars().count()) / 2) as u16;
            put_str(buf, x, y, to, &text, dim);
            return;
        };
        let [lo_text, hi_text] = format_ticks(&[lo, hi]).try_into().unwrap_or_default();
        let head = format!("{x_name}   {name} {lo_text} ");
        let tail = format!(" {hi_text}{log}");
        let fixed = head.chars().count() + tail.chars().count();
        let bar = room.saturating_sub(fixed + 2).min(16);
        if bar < 4 {
            let x = from + (room.saturating_sub(x_name.chars().count()) / 2) as u16;
            put_str(buf, x, y, to, x_name, dim);
            return;
        }
        let total = (fixed + bar) as u16;
        let mut x = from + (room as u16).saturating_sub(total) / 2;
        x = put_str(buf, x, y, to, &head, dim);
        for k in 0..bar {
            let t = (k as f64 + 0.5) / bar as f64;
            if let Some(cell) = buf.cell_mut((x, y)) {
                if self.ascii {
                    let i = (t * (ASCII_RAMP.len() - 1) as f64).round() as usize;
                    cell.set_char(char::from(ASCII_RAMP[i.min(ASCII_RAMP.len() - 1)]))
                        .set_style(Style::reset());
                } else {
                    cell.set_char('█')
                        .set_style(Style::reset().fg(rgb(palette::shade(Some(t)))));
                }
            }
            x += 1;
        }
        // `shading` maps the ends of the bar to `lo` and `hi` exactly, linear or log.
        debug_assert!(shading.t(hi).is_some());
        put_str(buf, x, y, to, &tail, dim);
    }
}

impl Widget for LandscapeView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let Some(plot) = Self::plot_area(self.surface, area) else {
            return;
        };
        if !self.surface.is_drawable() {
            put_str(
                buf,
                plot.x,
                plot.y,
                plot.right(),
                "no landscape to show (empty grid or range)",
                Style::reset(),
            );
            return;
        }
        self.render_heatmap(plot, buf);
        if !self.ascii {
            self.render_contours(plot, buf);
        }
        self.render_trails(plot, buf);
        self.render_marks(plot, buf);
        self.render_legend(plot, buf);
        self.render_exits(plot, buf);
        self.render_cursor(plot, buf);
        self.render_axes(area, plot, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::grid::rosenbrock_grid;
    use crate::landscape::{Basis, Grid, Trail};
    use crate::tui::widgets::run_color;
    use crate::tui::widgets::test_util::buffer_text;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn grid_of(values: Vec<f64>, nx: usize, ny: usize, ranges: ((f64, f64), (f64, f64))) -> Grid {
        Grid {
            id: 0,
            values,
            nx,
            ny,
            x_range: ranges.0,
            y_range: ranges.1,
            basis: Basis::Axes {
                i: 0,
                j: 1,
                origin: vec![0.0, 0.0],
            },
        }
    }

    fn rosenbrock(nx: usize, ny: usize) -> Grid {
        rosenbrock_grid(nx, ny)
    }

    fn render(view: LandscapeView<'_>, w: u16, h: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        terminal
            .draw(|f| f.render_widget(view, f.area()))
            .expect("draw");
        terminal.backend().buffer().clone()
    }

    const RUN_A: [(f64, f64); 6] = [
        (-1.5, 2.5),
        (-1.0, 1.2),
        (-0.5, 0.3),
        (0.2, 0.0),
        (0.7, 0.45),
        (0.95, 0.9),
    ];
    const RUN_B: [(f64, f64); 4] = [(1.8, -0.8), (1.5, 1.5), (1.2, 1.4), (1.05, 1.1)];

    fn scene() -> Scene<'static> {
        let trail = |k: usize, label: &str, points: &[(f64, f64)]| Trail {
            label: label.to_owned(),
            color: palette::run(k),
            points: points.to_vec(),
            current: points.last().copied(),
            extras: Vec::new(),
            at_cursor: None,
        };
        Scene {
            trails: vec![trail(0, "sgd", &RUN_A), trail(1, "adam", &RUN_B)],
            data_points: &[],
            minimum: None,
            value_name: "loss",
            axis_names: ("x".into(), "y".into()),
        }
    }

    fn empty_scene() -> Scene<'static> {
        Scene {
            trails: Vec::new(),
            ..scene()
        }
    }

    /// The surface the TUI drew before view settings reached it: log shading, six levels.
    fn surface(grid: Grid) -> Surface {
        Surface::new(grid, true, 6)
    }

    #[test]
    fn non_finite_grid_values_render_as_the_missing_colour() {
        let mut grid = rosenbrock(10, 10);
        for v in &mut grid.values[..30] {
            *v = f64::NAN;
        }
        grid.values[50] = f64::INFINITY;
        let s = surface(grid);
        let diverged = Scene {
            trails: vec![Trail {
                label: "diverged".into(),
                color: palette::run(2),
                points: vec![(0.0, 0.0), (1e300, -1e300), (f64::NAN, 1.0), (0.5, 0.5)],
                current: Some((f64::INFINITY, 0.0)),
                extras: vec![("ema", (f64::NAN, 0.0))],
                at_cursor: None,
            }],
            ..empty_scene()
        };
        let view = LandscapeView::new(&s, &diverged);
        let buf = render(view, 30, 12);
        // Bottom rows of the grid (y near -1) are NaN: the bottom plot row shows the colour.
        assert_eq!(buf[(15, 10)].bg, rgb(palette::MISSING));
        let ascii = render(view.ascii(true), 30, 12);
        assert!(buffer_text(&ascii).contains(ASCII_NAN));
        // An all-NaN grid and a malformed grid must not panic either.
        let nan = surface(grid_of(vec![f64::NAN; 4], 2, 2, ((0.0, 1.0), (0.0, 1.0))));
        let none = empty_scene();
        let text = buffer_text(&render(LandscapeView::new(&nan, &none), 50, 6));
        assert!(text.contains("no finite values"));
        let bad = surface(grid_of(vec![f64::NAN; 4], 3, 2, ((0.0, 1.0), (0.0, 1.0))));
        let text = buffer_text(&render(LandscapeView::new(&bad, &none), 30, 6));
        assert!(text.contains("no landscape"));
    }

    #[test]
    fn heatmap_is_dark_in_the_valley_and_bright_at_the_corners() {
        let s = Surface::new(rosenbrock(60, 40), true, 0);
        let none = empty_scene();
        let buf = render(LandscapeView::new(&s, &none), 40, 21);
        let luminance = |c: Color| match c {
            Color::Rgb(r, g, b) => u32::from(r) + u32::from(g) + u32::from(b),
            _ => 0,
        };
        // (1, 1) is at 3/4 of x and 1/2 of y; the top-left corner (-2, 3) is far from the valley.
        let plot = LandscapeView::plot_area(&s, buf.area).unwrap_or_default();
        let valley = &buf[(plot.x + plot.width * 3 / 4, 10)];
        let corner = &buf[(plot.x, 0)];
        assert!(luminance(valley.fg) < luminance(corner.fg));
        assert_eq!(corner.symbol(), HALF_BLOCK);
        // The cells carry the landscape's own raster colours.
        let w = usize::from(plot.width);
        let raster = s.raster(w, 40);
        assert_eq!(corner.fg, rgb(palette::shade(raster[0])));
        assert_eq!(corner.bg, rgb(palette::shade(raster[w])));
    }

    #[test]
    fn current_points_are_marked_in_run_colour_over_a_shadow() {
        let s = surface(rosenbrock(60, 40));
        let scene = scene();
        let buf = render(LandscapeView::new(&s, &scene), 60, 22);
        let marked: Vec<&ratatui::buffer::Cell> =
            buf.content().iter().filter(|c| c.symbol() == "●").collect();
        let colours: Vec<Color> = marked.iter().map(|c| c.fg).collect();
        assert!(colours.contains(&run_color(0)) && colours.contains(&run_color(1)));
        let braille: Vec<&ratatui::buffer::Cell> = buf
            .content()
            .iter()
            .filter(|c| c.fg == run_color(0))
            .filter(|c| {
                c.symbol()
                    .chars()
                    .all(|ch| ('\u{2801}'..='\u{28FF}').contains(&ch))
            })
            .collect();
        assert!(
            braille.len() > 5,
            "trajectory should be drawn in braille: {}",
            braille.len()
        );
        // Trails sit on a darkened heatmap: no trail cell is brighter than the ramp's middle.
        let bright = |c: Color| match c {
            Color::Rgb(r, g, b) => u32::from(r) + u32::from(g) + u32::from(b),
            _ => u32::MAX,
        };
        let half = palette::ramp(1.0).darkened(palette::SHADOW);
        let limit = u32::from(half.0) + u32::from(half.1) + u32::from(half.2);
        assert!(braille.iter().all(|c| bright(c.bg) <= limit));
    }

    #[test]
    fn extra_points_are_second_markers_in_run_colour() {
        let s = surface(rosenbrock(60, 40));
        let mut scene = scene();
        scene.trails[1].extras = vec![("ema", (0.0, 0.0)), ("y", (-1.0, 1.2))];
        let buf = render(LandscapeView::new(&s, &scene), 60, 22);
        let extras: Vec<Color> = buf
            .content()
            .iter()
            .filter(|c| c.symbol() == "◇")
            .map(|c| c.fg)
            .collect();
        assert_eq!(extras, [run_color(1), run_color(1)]);
        let plain = render(LandscapeView::new(&s, &self::scene()), 60, 22);
        assert!(plain.content().iter().all(|c| c.symbol() != "◇"));
    }

    #[test]
    fn more_levels_draw_more_contour_lines() {
        let grid = rosenbrock(60, 40);
        let none = empty_scene();
        let dots = |levels| {
            let s = Surface::new(grid.clone(), true, levels);
            let buf = render(LandscapeView::new(&s, &none), 64, 22);
            buf.content()
                .iter()
                .filter(|c| c.fg == rgb(palette::CONTOUR))
                .count()
        };
        assert_eq!(dots(0), 0);
        assert!(
            dots(20) > dots(6) && dots(6) > 0,
            "{} {}",
            dots(20),
            dots(6)
        );
    }

    #[test]
    fn the_minimum_and_data_markers_are_drawn() {
        let s = Surface::new(
            grid_of(vec![0.0, 1.0, 0.0, 1.0], 2, 2, ((0.0, 1.0), (0.0, 1.0))),
            false,
            3,
        );
        let points = [(0.1, 0.8, 0), (0.9, 0.2, 1), (0.5, 0.5, 2)];
        let scene = Scene {
            data_points: &points,
            minimum: Some((0.3, 0.3)),
            ..empty_scene()
        };
        let text = buffer_text(&render(LandscapeView::new(&s, &scene), 30, 10));
        for glyph in ['●', '▲', '■', '×'] {
            assert!(text.contains(glyph), "{glyph} missing:\n{text}");
        }
    }

    #[test]
    fn runs_that_left_the_window_are_named_at_its_edge() {
        let s = surface(rosenbrock(40, 40));
        let mut scene = scene();
        // sgd went off to the right, adam far up (diverging); the window stays [-2, 2]×[-1, 3].
        scene.trails[0].current = Some((50.0, 1.0));
        scene.trails[1].current = Some((0.0, 1e12));
        let text = buffer_text(&render(LandscapeView::new(&s, &scene), 64, 22));
        let lines: Vec<&str> = text.lines().collect();
        let right = lines
            .iter()
            .find(|l| l.trim_end().ends_with("sgd →"))
            .unwrap_or_else(|| panic!("no 'sgd →' at the right edge:\n{text}"));
        // Straight right from the centre: about halfway down.
        let row = lines.iter().position(|l| l == right).unwrap_or(0);
        assert!((8..=12).contains(&row), "row {row}:\n{text}");
        assert!(lines[0].contains("↑ adam"), "{text}");
        let ascii = buffer_text(&render(LandscapeView::new(&s, &scene).ascii(true), 64, 22));
        assert!(
            ascii.contains("sgd >") && ascii.contains("^ adam"),
            "{ascii}"
        );
        // Inside the window: no arrow.
        let text = buffer_text(&render(LandscapeView::new(&s, &self::scene()), 64, 22));
        assert!(!text.contains('→') && !text.contains('↑'), "{text}");
    }

    #[test]
    fn axes_carry_their_names_a_colour_bar_and_the_cursor_readout() {
        let s = surface(rosenbrock(40, 40));
        let mut scene = scene();
        scene.axis_names = ("PC1".into(), "PC2".into());
        scene.trails[0].at_cursor = Some((-1.0, 1.2));
        let view = LandscapeView::new(&s, &scene).cursor(Some(Crosshair {
            at: (1.0, 1.0),
            value: 0.0,
        }));
        let buf = render(view, 64, 22);
        let text = buffer_text(&buf);
        let lines: Vec<&str> = text.lines().collect();
        let bottom = lines[21];
        assert!(
            bottom.contains("PC1") && bottom.contains("loss") && bottom.contains("████"),
            "{text}"
        );
        assert!(lines[10].trim_start().starts_with("PC2"), "{text}");
        // The bar runs from the map's lowest colour to its highest.
        let bar: Vec<&ratatui::buffer::Cell> = (0..64)
            .map(|x| &buf[(x, 21)])
            .filter(|c| c.symbol() == "█")
            .collect();
        assert_eq!(bar[0].fg, rgb(palette::shade(Some(0.5 / bar.len() as f64))));
        assert!(lines[20].contains("PC1 1  PC2 1  loss 0"), "{text}");
        assert!(text.contains('┼') && text.contains('◉'), "{text}");
    }

    #[test]
    fn snapshot_unicode() {
        let s = surface(rosenbrock(60, 40));
        let scene = scene();
        insta::assert_snapshot!(buffer_text(&render(LandscapeView::new(&s, &scene), 64, 22)));
    }

    #[test]
    fn snapshot_ascii() {
        let s = surface(rosenbrock(60, 40));
        let scene = scene();
        let text = buffer_text(&render(LandscapeView::new(&s, &scene).ascii(true), 64, 22));
        assert!(text.is_ascii());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn snapshot_decision_boundary_ascii() {
        // A map over two features, plus labelled points.
        let (nx, ny) = (20, 12);
        let values: Vec<f64> = (0..nx * ny)
            .map(|k| {
                let (x, y) = ((k % nx) as f64 / 19.0, (k / nx) as f64 / 11.0);
                (x - y).abs()
            })
            .collect();
        let mut grid = grid_of(values, nx, ny, ((0.0, 1.0), (0.0, 1.0)));
        grid.basis = Basis::Features;
        let s = Surface::new(grid, false, 6);
        let points = [(0.1, 0.8, 0), (0.3, 0.9, 0), (0.8, 0.2, 1), (0.9, 0.4, 1)];
        let scene = Scene {
            data_points: &points,
            value_name: "p(class 1)",
            ..empty_scene()
        };
        let text = buffer_text(&render(LandscapeView::new(&s, &scene).ascii(true), 40, 12));
        assert!(text.contains('0') && text.contains('1'));
        insta::assert_snapshot!(text);
    }
}
