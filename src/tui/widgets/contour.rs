//! The loss landscape view: a log-shaded heatmap with contour lines, optimizer trajectories,
//! each run's current point and optional classified data points (decision-boundary view).
//!
//! The grid is computed by the caller off the render path; rendering only samples it.
//! Unicode mode packs two pixels into each cell with `▀` (fg = upper pixel, bg = lower) and draws
//! lines in braille (2×4 dots a cell); ASCII mode shades with a character ramp, one pixel a cell.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::Widget;

use super::{format_compact, put_str, run_color};

/// Colour of grid cells whose loss is NaN or infinite: a neutral grey the ramp never produces.
pub const NAN_COLOR: Color = Color::Rgb(96, 96, 96);
/// Contour lines: light grey, visible over all but the brightest end of the ramp.
const CONTOUR_COLOR: Color = Color::Rgb(215, 215, 215);
/// Shading uses `ln(v - min + eps)` with `eps = LOG_EPS_FRACTION · (max - min)`, so the map spans
/// three decades below the range and a minimum of exactly zero is still finite.
pub const LOG_EPS_FRACTION: f64 = 1e-3;
/// Default number of contour lines.
pub const DEFAULT_CONTOUR_LEVELS: usize = 6;

/// Viridis sampled at nine evenly spaced stops (perceptually uniform, colour-blind safe).
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];
/// ASCII shading from low to high loss.
const ASCII_RAMP: &[u8] = b" .:-=+*#%@";
const ASCII_NAN: char = '?';
const CLASS_GLYPHS: [char; 6] = ['●', '▲', '■', '◆', '✚', '★'];
const HALF_BLOCK: &str = "▀";
/// Braille dot bits indexed by [row][column] inside a 2×4 cell.
const BRAILLE_BITS: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];

/// One optimizer run drawn over the landscape.
#[derive(Debug, Clone, Copy)]
pub struct TrajectoryView<'a> {
    /// Visited parameters (x, y) in order; non-finite points break the line.
    pub points: &'a [(f64, f64)],
    pub color: Color,
    /// Where the run is now, marked with `●` (ASCII `o`).
    pub current: Option<(f64, f64)>,
    pub label: &'a str,
}

/// The landscape widget. Build with [`LandscapeView::new`] and the `with_*`/setter methods.
#[derive(Debug, Clone, Copy)]
pub struct LandscapeView<'a> {
    /// Loss values, `nx · ny`, row-major, row 0 at the bottom (`y_range.0`), column 0 at
    /// `x_range.0`; grid points sit exactly on the range ends.
    pub grid: &'a [f64],
    pub nx: usize,
    pub ny: usize,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub ascii: bool,
    /// Shade by `log(loss - min + eps)` (and log-space contour levels) rather than linearly.
    pub log_scale: bool,
    /// Number of contour lines (Unicode mode only: in ASCII the ramp already bands the map).
    pub contour_levels: usize,
    pub trajectories: &'a [TrajectoryView<'a>],
    /// Data points `(x, y, class)` for a decision-boundary view.
    pub data_points: &'a [(f64, f64, usize)],
    /// What the grid holds, for the axis legend ("loss", or "p(class 1)" for a decision map).
    pub value_name: &'a str,
}

impl<'a> LandscapeView<'a> {
    #[must_use]
    pub fn new(
        grid: &'a [f64],
        nx: usize,
        ny: usize,
        x_range: (f64, f64),
        y_range: (f64, f64),
    ) -> Self {
        Self {
            grid,
            nx,
            ny,
            x_range,
            y_range,
            ascii: false,
            log_scale: true,
            contour_levels: DEFAULT_CONTOUR_LEVELS,
            trajectories: &[],
            data_points: &[],
            value_name: "loss",
        }
    }

    #[must_use]
    pub fn ascii(mut self, ascii: bool) -> Self {
        self.ascii = ascii;
        self
    }

    #[must_use]
    pub fn log_scale(mut self, log_scale: bool) -> Self {
        self.log_scale = log_scale;
        self
    }

    #[must_use]
    pub fn contour_levels(mut self, count: usize) -> Self {
        self.contour_levels = count;
        self
    }

    #[must_use]
    pub fn trajectories(mut self, trajectories: &'a [TrajectoryView<'a>]) -> Self {
        self.trajectories = trajectories;
        self
    }

    #[must_use]
    pub fn data_points(mut self, points: &'a [(f64, f64, usize)]) -> Self {
        self.data_points = points;
        self
    }

    #[must_use]
    pub fn value_name(mut self, name: &'a str) -> Self {
        self.value_name = name;
        self
    }
}

/// The viridis-like ramp at `t ∈ [0, 1]` (clamped); NaN gives [`NAN_COLOR`].
#[must_use]
pub fn ramp_color(t: f64) -> Color {
    if t.is_nan() {
        return NAN_COLOR;
    }
    let t = t.clamp(0.0, 1.0);
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * f).round() as u8;
    Color::Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Maps loss values to shading positions in `[0, 1]`, linearly or by `ln(v - min + eps)`.
#[derive(Debug, Clone, Copy)]
struct Shading {
    min: f64,
    range: f64,
    eps: f64,
    log: bool,
    lo: f64,
    hi: f64,
}

impl Shading {
    fn new(min: f64, max: f64, log: bool) -> Self {
        let range = (max - min).max(0.0);
        let eps = (range * LOG_EPS_FRACTION).max(f64::MIN_POSITIVE);
        Self {
            min,
            range,
            eps,
            log,
            lo: eps.ln(),
            hi: (range + eps).ln(),
        }
    }

    fn t(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        if self.range <= 0.0 || !self.range.is_finite() {
            return Some(0.0);
        }
        let d = (v - self.min).max(0.0);
        let t = if self.log {
            ((d + self.eps).ln() - self.lo) / (self.hi - self.lo)
        } else {
            d / self.range
        };
        Some(t.clamp(0.0, 1.0))
    }

    fn value(&self, t: f64) -> f64 {
        if self.log {
            self.min + (self.lo + t * (self.hi - self.lo)).exp() - self.eps
        } else {
            self.min + t * self.range
        }
    }
}

/// `count` contour levels strictly between `min` and `max`, evenly spaced in
/// `ln(v - min + eps)` with `eps = LOG_EPS_FRACTION · (max - min)` (the heatmap's own scale, so
/// lines fall on equal colour steps and dense near the minimum). Empty if the range is empty or
/// not finite.
#[must_use]
pub fn log_levels(min: f64, max: f64, count: usize) -> Vec<f64> {
    levels(min, max, count, true)
}

fn levels(min: f64, max: f64, count: usize, log: bool) -> Vec<f64> {
    if count == 0 || !min.is_finite() || !max.is_finite() || max <= min {
        return Vec::new();
    }
    let shading = Shading::new(min, max, log);
    (1..=count)
        .map(|k| shading.value(k as f64 / (count + 1) as f64))
        .collect()
}

/// A contour segment in grid coordinates: `x` is the column index, `y` the row index (row 0 at the
/// bottom), both fractional.
pub type Segment = [(f64, f64); 2];

/// Marching squares over a row-major `nx × ny` grid: the segments where the surface crosses
/// `level`, in grid coordinates. Cells with a non-finite corner are skipped; saddles are resolved
/// by the cell's mean value. A grid whose length is not `nx · ny` gives no segments.
#[must_use]
pub fn marching_squares(grid: &[f64], nx: usize, ny: usize, level: f64) -> Vec<Segment> {
    let mut out = Vec::new();
    for_each_contour_segment(grid, nx, ny, level, |s| out.push(s));
    out
}

/// The allocation-free form of [`marching_squares`], used while rendering.
fn for_each_contour_segment(
    grid: &[f64],
    nx: usize,
    ny: usize,
    level: f64,
    mut emit: impl FnMut(Segment),
) {
    if nx < 2 || ny < 2 || grid.len() != nx * ny || !level.is_finite() {
        return;
    }
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let bl = grid[j * nx + i];
            let br = grid[j * nx + i + 1];
            let tl = grid[(j + 1) * nx + i];
            let tr = grid[(j + 1) * nx + i + 1];
            if !(bl.is_finite() && br.is_finite() && tl.is_finite() && tr.is_finite()) {
                continue;
            }
            let case = usize::from(bl > level)
                | usize::from(br > level) << 1
                | usize::from(tr > level) << 2
                | usize::from(tl > level) << 3;
            let (x, y) = (i as f64, j as f64);
            let frac = |a: f64, b: f64| {
                let d = b - a;
                if d == 0.0 { 0.5 } else { (level - a) / d }
            };
            // Edge crossing points: bottom, right, top, left.
            let edge = |e: u8| match e {
                0 => (x + frac(bl, br), y),
                1 => (x + 1.0, y + frac(br, tr)),
                2 => (x + frac(tl, tr), y + 1.0),
                _ => (x, y + frac(bl, tl)),
            };
            let center_above = (bl + br + tl + tr) / 4.0 > level;
            let (bottom, right, top, left) = (0, 1, 2, 3);
            let pairs: &[(u8, u8)] = match case {
                1 | 14 => &[(left, bottom)],
                2 | 13 => &[(bottom, right)],
                3 | 12 => &[(left, right)],
                4 | 11 => &[(right, top)],
                6 | 9 => &[(bottom, top)],
                7 | 8 => &[(left, top)],
                // Saddles: above corners bl and tr (5) or br and tl (10). When the centre is above,
                // the above corners join and the below ones are cut off, and vice versa.
                5 if center_above => &[(bottom, right), (left, top)],
                5 => &[(left, bottom), (right, top)],
                10 if center_above => &[(left, bottom), (right, top)],
                10 => &[(bottom, right), (left, top)],
                _ => &[],
            };
            for &(a, b) in pairs {
                emit([edge(a), edge(b)]);
            }
        }
    }
}

/// Finite minimum and maximum of the grid, if any value is finite.
fn finite_bounds(grid: &[f64]) -> Option<(f64, f64)> {
    grid.iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Bilinear sample at fractional grid coordinates, falling back to the nearest corner when any
/// corner is not finite (so NaN regions keep sharp edges instead of spreading).
fn sample(grid: &[f64], nx: usize, ny: usize, gx: f64, gy: f64) -> f64 {
    let gx = gx.clamp(0.0, (nx - 1) as f64);
    let gy = gy.clamp(0.0, (ny - 1) as f64);
    let i = (gx.floor() as usize).min(nx - 2);
    let j = (gy.floor() as usize).min(ny - 2);
    let (fx, fy) = (gx - i as f64, gy - j as f64);
    let v00 = grid[j * nx + i];
    let v10 = grid[j * nx + i + 1];
    let v01 = grid[(j + 1) * nx + i];
    let v11 = grid[(j + 1) * nx + i + 1];
    if v00.is_finite() && v10.is_finite() && v01.is_finite() && v11.is_finite() {
        let bottom = v00 + (v10 - v00) * fx;
        let top = v01 + (v11 - v01) * fx;
        bottom + (top - bottom) * fy
    } else {
        match (fx >= 0.5, fy >= 0.5) {
            (false, false) => v00,
            (true, false) => v10,
            (false, true) => v01,
            (true, true) => v11,
        }
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
        let Some((a, b)) = clip(a, b, self.width(), self.height()) else {
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

/// Liang–Barsky clipping of a segment to `[0, w] × [0, h]`.
fn clip(a: (f64, f64), b: (f64, f64), w: f64, h: f64) -> Option<((f64, f64), (f64, f64))> {
    if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [(-dx, a.0), (dx, w - a.0), (-dy, a.1), (dy, h - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    Some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

fn average(a: Color, b: Color) -> Color {
    match (a, b) {
        (Color::Rgb(r1, g1, b1), Color::Rgb(r2, g2, b2)) => Color::Rgb(
            ((u16::from(r1) + u16::from(r2)) / 2) as u8,
            ((u16::from(g1) + u16::from(g2)) / 2) as u8,
            ((u16::from(b1) + u16::from(b2)) / 2) as u8,
        ),
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

fn valid_range((a, b): (f64, f64)) -> bool {
    a.is_finite() && b.is_finite() && b > a
}

impl LandscapeView<'_> {
    fn render_heatmap(&self, plot: Rect, buf: &mut Buffer, shading: Option<Shading>) {
        let cols = usize::from(plot.width);
        let pixel_rows = usize::from(plot.height) * if self.ascii { 1 } else { 2 };
        let t_at = |i: usize, j: usize| -> Option<f64> {
            let gx = (i as f64 + 0.5) / cols as f64 * (self.nx - 1) as f64;
            let gy = (1.0 - (j as f64 + 0.5) / pixel_rows as f64) * (self.ny - 1) as f64;
            shading.and_then(|s| s.t(sample(self.grid, self.nx, self.ny, gx, gy)))
        };
        for row in 0..plot.height {
            for col in 0..plot.width {
                let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) else {
                    continue;
                };
                let (i, r) = (usize::from(col), usize::from(row));
                if self.ascii {
                    let c = match t_at(i, r) {
                        Some(t) => {
                            let k = (t * (ASCII_RAMP.len() - 1) as f64).round() as usize;
                            char::from(ASCII_RAMP[k.min(ASCII_RAMP.len() - 1)])
                        }
                        None => ASCII_NAN,
                    };
                    cell.set_char(c).set_style(Style::reset());
                } else {
                    let upper = t_at(i, 2 * r).map_or(NAN_COLOR, ramp_color);
                    let lower = t_at(i, 2 * r + 1).map_or(NAN_COLOR, ramp_color);
                    cell.set_symbol(HALF_BLOCK).set_fg(upper).set_bg(lower);
                }
            }
        }
    }

    /// Writes a layer's dots into the plot; in Unicode mode the cell keeps the mean of its two
    /// heatmap pixels as background so the line reads as drawn over the map.
    fn apply_layer(&self, layer: &DotLayer, plot: Rect, buf: &mut Buffer, ascii_char: char) {
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
                    let bg = if cell.symbol() == HALF_BLOCK {
                        average(cell.fg, cell.bg)
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

    /// Puts one glyph on the cell holding `p`, over whatever is there.
    fn mark(
        &self,
        view: Viewport,
        plot: Rect,
        buf: &mut Buffer,
        p: (f64, f64),
        c: char,
        fg: Color,
    ) {
        let Some((col, row)) = view.cell(p, plot.width, plot.height) else {
            return;
        };
        if let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) {
            let bg = if cell.symbol() == HALF_BLOCK {
                average(cell.fg, cell.bg)
            } else {
                cell.bg
            };
            cell.set_char(c).set_fg(fg);
            if !self.ascii {
                cell.set_bg(bg);
            }
        }
    }

    fn render_contours(&self, plot: Rect, buf: &mut Buffer, bounds: (f64, f64)) {
        let levels = levels(bounds.0, bounds.1, self.contour_levels, self.log_scale);
        if levels.is_empty() {
            return;
        }
        let mut layer = DotLayer::new(usize::from(plot.width), usize::from(plot.height), true);
        let sx = layer.width() / (self.nx - 1) as f64;
        let sy = layer.height() / (self.ny - 1) as f64;
        let top = (self.ny - 1) as f64;
        for level in levels {
            for_each_contour_segment(self.grid, self.nx, self.ny, level, |[a, b]| {
                layer.line(
                    (a.0 * sx, (top - a.1) * sy),
                    (b.0 * sx, (top - b.1) * sy),
                    CONTOUR_COLOR,
                );
            });
        }
        self.apply_layer(&layer, plot, buf, '.');
    }

    fn render_trajectories(&self, plot: Rect, buf: &mut Buffer, view: Viewport) {
        let mut layer = DotLayer::new(
            usize::from(plot.width),
            usize::from(plot.height),
            !self.ascii,
        );
        let view = Viewport {
            width: layer.width(),
            height: layer.height(),
            ..view
        };
        for traj in self.trajectories {
            for pair in traj.points.windows(2) {
                let (a, b) = (view.to_px(pair[0]), view.to_px(pair[1]));
                layer.line(a, b, traj.color);
            }
            if let [only] = traj.points {
                let p = view.to_px(*only);
                layer.set(p.0, p.1, traj.color);
            }
        }
        self.apply_layer(&layer, plot, buf, '*');
    }

    fn render_legend(&self, plot: Rect, buf: &mut Buffer) {
        let labelled = self.trajectories.iter().filter(|t| !t.label.is_empty());
        let widest = labelled
            .clone()
            .map(|t| t.label.chars().count())
            .max()
            .unwrap_or(0);
        let rows = labelled.clone().count();
        let width = (widest + 2).min(usize::from(plot.width) / 2) as u16;
        if rows == 0 || width < 4 || rows + 1 > usize::from(plot.height) {
            return;
        }
        let x = plot.right() - width;
        let bullet = if self.ascii { "o " } else { "● " };
        for (row, traj) in labelled.enumerate() {
            let y = plot.y + row as u16;
            let style = if self.ascii {
                Style::reset().fg(traj.color)
            } else {
                Style::reset().fg(traj.color).bg(Color::Black)
            };
            for cx in x..plot.right() {
                if let Some(cell) = buf.cell_mut((cx, y)) {
                    cell.set_symbol(" ").set_style(style);
                }
            }
            let end = put_str(buf, x, y, plot.right(), bullet, style);
            put_str(buf, end, y, plot.right(), traj.label, style);
        }
    }

    fn render_axes(&self, area: Rect, plot: Rect, buf: &mut Buffer, bounds: Option<(f64, f64)>) {
        let dim = Style::reset().fg(Color::Gray);
        let label_w = plot.x - area.x;
        let right_align = |buf: &mut Buffer, y: u16, text: &str| {
            let len = text.chars().count() as u16;
            let x = area.x + label_w.saturating_sub(len + 1);
            put_str(buf, x, y, plot.x, text, dim);
        };
        right_align(buf, plot.y, &format_compact(self.y_range.1));
        right_align(buf, plot.bottom() - 1, &format_compact(self.y_range.0));
        if plot.height >= 3 {
            right_align(buf, plot.y + plot.height / 2, "y");
        }
        let axis_y = area.bottom() - 1;
        let left = format_compact(self.x_range.0);
        let right = format_compact(self.x_range.1);
        let after_left = put_str(buf, plot.x, axis_y, area.right(), &left, dim);
        let right_x = area.right().saturating_sub(right.chars().count() as u16);
        if right_x > after_left {
            put_str(buf, right_x, axis_y, area.right(), &right, dim);
        }
        let scale = if self.log_scale { " (log)" } else { "" };
        let middle = match bounds {
            Some((lo, hi)) => format!(
                "x   {} {}..{}{scale}",
                self.value_name,
                format_compact(lo),
                format_compact(hi)
            ),
            None => format!("x   {}: no finite values", self.value_name),
        };
        let len = middle.chars().count() as u16;
        let mid_x = plot.x + plot.width.saturating_sub(len) / 2;
        if mid_x > after_left && mid_x + len < right_x {
            put_str(buf, mid_x, axis_y, right_x, &middle, dim);
        }
    }
}

impl Widget for LandscapeView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let label_w = format_compact(self.y_range.0)
            .chars()
            .count()
            .max(format_compact(self.y_range.1).chars().count())
            .max(1) as u16
            + 1;
        if area.width < label_w + 4 || area.height < 3 {
            return;
        }
        let plot = Rect::new(
            area.x + label_w,
            area.y,
            area.width - label_w,
            area.height - 1,
        );
        let grid_ok = self.nx >= 2 && self.ny >= 2 && self.grid.len() == self.nx * self.ny;
        if !grid_ok || !valid_range(self.x_range) || !valid_range(self.y_range) {
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
        let bounds = finite_bounds(self.grid);
        let shading = bounds.map(|(lo, hi)| Shading::new(lo, hi, self.log_scale));
        self.render_heatmap(plot, buf, shading);
        if let Some(b) = bounds {
            if !self.ascii && self.contour_levels > 0 {
                self.render_contours(plot, buf, b);
            }
        }
        let view = Viewport {
            x0: self.x_range.0,
            x1: self.x_range.1,
            y0: self.y_range.0,
            y1: self.y_range.1,
            width: f64::from(plot.width),
            height: f64::from(plot.height),
        };
        for &(x, y, class) in self.data_points {
            let glyph = if self.ascii {
                char::from_digit((class % 10) as u32, 10).unwrap_or('?')
            } else {
                CLASS_GLYPHS[class % CLASS_GLYPHS.len()]
            };
            let fg = run_color(class);
            self.mark(view, plot, buf, (x, y), glyph, fg);
        }
        self.render_trajectories(plot, buf, view);
        let current = if self.ascii { 'o' } else { '●' };
        for traj in self.trajectories {
            if let Some(p) = traj.current {
                self.mark(view, plot, buf, p, current, traj.color);
            }
        }
        self.render_legend(plot, buf);
        self.render_axes(area, plot, buf, bounds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::test_util::buffer_text;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn rosenbrock_grid(nx: usize, ny: usize) -> Vec<f64> {
        let mut g = Vec::with_capacity(nx * ny);
        for j in 0..ny {
            let y = -1.0 + 4.0 * j as f64 / (ny - 1) as f64;
            for i in 0..nx {
                let x = -2.0 + 4.0 * i as f64 / (nx - 1) as f64;
                g.push((1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2));
            }
        }
        g
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

    fn trajectories() -> [TrajectoryView<'static>; 2] {
        [
            TrajectoryView {
                points: &RUN_A,
                color: run_color(0),
                current: Some((0.95, 0.9)),
                label: "sgd",
            },
            TrajectoryView {
                points: &RUN_B,
                color: run_color(1),
                current: Some((1.05, 1.1)),
                label: "adam",
            },
        ]
    }

    #[test]
    fn log_levels_are_evenly_spaced_in_shifted_log() {
        let levels = log_levels(0.0, 1000.0, 5);
        assert_eq!(levels.len(), 5);
        assert!(levels.windows(2).all(|w| w[0] < w[1]));
        assert!(levels.iter().all(|&v| v > 0.0 && v < 1000.0));
        let eps = 1000.0 * LOG_EPS_FRACTION;
        let logs: Vec<f64> = levels.iter().map(|v| (v + eps).ln()).collect();
        let step = logs[1] - logs[0];
        for w in logs.windows(2) {
            assert!((w[1] - w[0] - step).abs() < 1e-9);
        }
        // Log spacing crowds levels towards the minimum.
        assert!(levels[0] < 10.0);
    }

    #[test]
    fn log_levels_shift_with_min_and_handle_degenerate_input() {
        let a = log_levels(0.0, 10.0, 3);
        let b = log_levels(-5.0, 5.0, 3);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - 5.0 - y).abs() < 1e-9);
        }
        assert!(log_levels(1.0, 1.0, 3).is_empty());
        assert!(log_levels(2.0, 1.0, 3).is_empty());
        assert!(log_levels(0.0, f64::NAN, 3).is_empty());
        assert!(log_levels(0.0, 1.0, 0).is_empty());
    }

    #[test]
    fn marching_squares_draws_a_diamond_around_a_peak() {
        let grid = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let segs = marching_squares(&grid, 3, 3, 0.5);
        assert_eq!(segs.len(), 4);
        let expected = [(0.5, 1.0), (1.0, 0.5), (1.5, 1.0), (1.0, 1.5)];
        for seg in &segs {
            for p in seg {
                assert!(
                    expected
                        .iter()
                        .any(|e| (e.0 - p.0).abs() < 1e-12 && (e.1 - p.1).abs() < 1e-12),
                    "unexpected point {p:?}"
                );
            }
            assert!(
                (seg[0].0 - seg[1].0).abs() > 0.1,
                "degenerate segment {seg:?}"
            );
        }
    }

    #[test]
    fn marching_squares_interpolates_along_edges() {
        // One cell, left column 0, right column 4: the 1.0 level crosses at x = 0.25.
        let grid = [0.0, 4.0, 0.0, 4.0];
        let segs = marching_squares(&grid, 2, 2, 1.0);
        assert_eq!(segs.len(), 1);
        let [a, b] = segs[0];
        assert!((a.0 - 0.25).abs() < 1e-12 && (b.0 - 0.25).abs() < 1e-12);
        assert!((a.1 - b.1).abs() == 1.0);
    }

    #[test]
    fn marching_squares_saddle_follows_the_centre() {
        // bl and tr above the level; the mean decides whether they join.
        let high_centre = [1.0, 0.0, 0.0, 1.0];
        let segs = marching_squares(&high_centre, 2, 2, 0.4);
        assert_eq!(segs.len(), 2);
        // Centre above: below corners br (1, 0) and tl (0, 1) are cut off.
        let cuts_br = segs
            .iter()
            .any(|s| s.iter().all(|p| p.0 >= 0.5 && p.1 <= 0.5));
        assert!(cuts_br, "{segs:?}");
        let segs = marching_squares(&high_centre, 2, 2, 0.6);
        let cuts_bl = segs
            .iter()
            .any(|s| s.iter().all(|p| p.0 <= 0.5 && p.1 <= 0.5));
        assert!(cuts_bl, "{segs:?}");
    }

    #[test]
    fn marching_squares_skips_non_finite_cells_and_bad_shapes() {
        let grid = [0.0, 1.0, f64::NAN, 0.0, 1.0, 0.0];
        // The NaN sits at column 2 of row 0, so only the cell between columns 0 and 1 draws.
        let segs = marching_squares(&grid, 3, 2, 0.5);
        assert!(!segs.is_empty());
        assert!(segs.iter().flatten().all(|p| p.0 <= 1.0));
        assert!(marching_squares(&grid, 4, 2, 0.5).is_empty());
        assert!(marching_squares(&[1.0; 4], 2, 2, 0.5).is_empty());
    }

    #[test]
    fn ramp_endpoints_and_nan() {
        assert_eq!(ramp_color(0.0), Color::Rgb(68, 1, 84));
        assert_eq!(ramp_color(1.0), Color::Rgb(253, 231, 37));
        assert_eq!(ramp_color(-3.0), ramp_color(0.0));
        assert_eq!(ramp_color(7.0), ramp_color(1.0));
        assert_eq!(ramp_color(0.5), Color::Rgb(33, 144, 141));
        assert_eq!(ramp_color(f64::NAN), NAN_COLOR);
    }

    #[test]
    fn clip_keeps_inside_and_cuts_far_segments() {
        let inside = clip((1.0, 1.0), (2.0, 3.0), 10.0, 10.0);
        assert_eq!(inside, Some(((1.0, 1.0), (2.0, 3.0))));
        let far = clip((5.0, 5.0), (1e30, 5.0), 10.0, 10.0);
        assert_eq!(far, Some(((5.0, 5.0), (10.0, 5.0))));
        assert_eq!(clip((-5.0, -5.0), (-1.0, 20.0), 10.0, 10.0), None);
        assert_eq!(clip((0.0, f64::NAN), (1.0, 1.0), 10.0, 10.0), None);
    }

    #[test]
    fn non_finite_grid_values_render_as_nan_colour() {
        let mut grid = rosenbrock_grid(10, 10);
        for v in &mut grid[..30] {
            *v = f64::NAN;
        }
        grid[50] = f64::INFINITY;
        let diverged = [(0.0, 0.0), (1e300, -1e300), (f64::NAN, 1.0), (0.5, 0.5)];
        let trajs = [TrajectoryView {
            points: &diverged,
            color: run_color(2),
            current: Some((f64::INFINITY, 0.0)),
            label: "diverged",
        }];
        let view = LandscapeView::new(&grid, 10, 10, (-2.0, 2.0), (-1.0, 3.0)).trajectories(&trajs);
        let buf = render(view, 30, 12);
        // Bottom rows of the grid (y near -1) are NaN: bottom plot row shows the NaN colour.
        let bottom = buf[(15, 10)].clone();
        assert_eq!(bottom.bg, NAN_COLOR);
        let ascii = render(view.ascii(true), 30, 12);
        assert!(buffer_text(&ascii).contains(ASCII_NAN));
        // An all-NaN grid and a malformed grid must not panic either.
        let nan = [f64::NAN; 4];
        let text = buffer_text(&render(
            LandscapeView::new(&nan, 2, 2, (0.0, 1.0), (0.0, 1.0)),
            50,
            6,
        ));
        assert!(text.contains("no finite values"));
        let bad = render(
            LandscapeView::new(&nan, 3, 2, (0.0, 1.0), (0.0, 1.0)),
            30,
            6,
        );
        assert!(buffer_text(&bad).contains("no landscape"));
    }

    #[test]
    fn heatmap_is_dark_in_the_valley_and_bright_at_the_corners() {
        let grid = rosenbrock_grid(60, 40);
        let buf = render(
            LandscapeView::new(&grid, 60, 40, (-2.0, 2.0), (-1.0, 3.0)).contour_levels(0),
            40,
            21,
        );
        let luminance = |c: Color| match c {
            Color::Rgb(r, g, b) => u32::from(r) + u32::from(g) + u32::from(b),
            _ => 0,
        };
        // Plot starts at column 3 ("-2", "3" labels are 2 wide + a space); (1, 1) is at 3/4 of x
        // and 1/2 of y; the top-left corner (-2, 3) is far from the valley.
        let valley = &buf[(3 + 37 * 3 / 4, 10)];
        let corner = &buf[(3, 0)];
        assert!(luminance(valley.fg) < luminance(corner.fg));
        assert_eq!(corner.symbol(), HALF_BLOCK);
    }

    #[test]
    fn current_points_are_marked_in_run_colour() {
        let grid = rosenbrock_grid(60, 40);
        let trajs = trajectories();
        let view = LandscapeView::new(&grid, 60, 40, (-2.0, 2.0), (-1.0, 3.0)).trajectories(&trajs);
        let buf = render(view, 60, 22);
        let marked: Vec<Color> = buf
            .content()
            .iter()
            .filter(|c| c.symbol() == "●")
            .map(|c| c.fg)
            .collect();
        assert!(marked.contains(&run_color(0)));
        assert!(marked.contains(&run_color(1)));
        let braille = buf
            .content()
            .iter()
            .filter(|c| c.fg == run_color(0))
            .filter(|c| {
                c.symbol()
                    .chars()
                    .all(|ch| ('\u{2801}'..='\u{28FF}').contains(&ch))
            })
            .count();
        assert!(
            braille > 5,
            "trajectory should be drawn in braille: {braille}"
        );
    }

    #[test]
    fn snapshot_unicode() {
        let grid = rosenbrock_grid(60, 40);
        let trajs = trajectories();
        let view = LandscapeView::new(&grid, 60, 40, (-2.0, 2.0), (-1.0, 3.0)).trajectories(&trajs);
        insta::assert_snapshot!(buffer_text(&render(view, 64, 22)));
    }

    #[test]
    fn snapshot_ascii() {
        let grid = rosenbrock_grid(60, 40);
        let trajs = trajectories();
        let view = LandscapeView::new(&grid, 60, 40, (-2.0, 2.0), (-1.0, 3.0))
            .trajectories(&trajs)
            .ascii(true);
        let text = buffer_text(&render(view, 64, 22));
        assert!(text.is_ascii());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn snapshot_decision_boundary_ascii() {
        // A linear classifier's loss over its two weights, plus labelled points in data space.
        let (nx, ny) = (20, 12);
        let grid: Vec<f64> = (0..nx * ny)
            .map(|k| {
                let (x, y) = ((k % nx) as f64 / 19.0, (k / nx) as f64 / 11.0);
                (x - y).abs()
            })
            .collect();
        let points = [(0.1, 0.8, 0), (0.3, 0.9, 0), (0.8, 0.2, 1), (0.9, 0.4, 1)];
        let view = LandscapeView::new(&grid, nx, ny, (0.0, 1.0), (0.0, 1.0))
            .data_points(&points)
            .log_scale(false)
            .ascii(true);
        let text = buffer_text(&render(view, 40, 12));
        assert!(text.contains('0') && text.contains('1'));
        insta::assert_snapshot!(text);
    }
}
