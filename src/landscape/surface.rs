//! A [`Surface`]: a computed grid with everything about it that does not depend on the runs —
//! its finite bounds, its shading (linear or log), its contour levels and their lines in plane
//! coordinates, and the heatmap colour of any point. Built once per grid (and again when the
//! log scale is toggled), so painting a frame does no marching squares.

use super::contour::{Contour, contour_lines};
use super::grid::Grid;
use super::palette::{self, Rgb};
use super::plane::Basis;
use super::range::{finite_bounds, valid_range};
use super::shading::{Shading, levels};

/// A grid ready to paint.
#[derive(Debug, Clone)]
pub struct Surface {
    pub grid: Grid,
    /// Log shading and log-spaced levels (never for a decision map, whose values are
    /// probabilities or classes).
    pub log_scale: bool,
    /// Finite minimum and maximum of the grid; `None` when no value is finite.
    pub bounds: Option<(f64, f64)>,
    /// The colour range: values shade (and contour levels fall) over it. The grid's bounds,
    /// unless the caller fixed it ([`Surface::with_scale`]) so that panning and zooming do not
    /// recolour places already seen; values beyond it take the end colours.
    pub scale: Option<(f64, f64)>,
    /// The contour lines, in plane coordinates, lowest level first.
    pub contours: Vec<Contour>,
}

impl Surface {
    /// Shades `grid` and traces `levels` contour lines.
    #[must_use]
    pub fn new(grid: Grid, log_scale: bool, levels: usize) -> Self {
        Self::with_scale(grid, log_scale, levels, None)
    }

    /// [`Surface::new`] with the colour range `scale` (finite, `low <= high`) instead of the
    /// grid's own bounds.
    #[must_use]
    pub fn with_scale(
        grid: Grid,
        log_scale: bool,
        levels: usize,
        scale: Option<(f64, f64)>,
    ) -> Self {
        let log_scale = log_scale && grid.basis != Basis::Features;
        let bounds = finite_bounds(grid.values.iter().copied());
        let scale = scale
            .filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo <= hi)
            .or(bounds);
        let mut surface = Self {
            grid,
            log_scale,
            bounds,
            scale,
            contours: Vec::new(),
        };
        if surface.is_drawable() {
            surface.contours = surface.trace(levels);
        }
        surface
    }

    fn trace(&self, count: usize) -> Vec<Contour> {
        let Some((lo, hi)) = self.scale else {
            return Vec::new();
        };
        let g = &self.grid;
        levels(lo, hi, count, self.log_scale)
            .into_iter()
            .map(|level| Contour {
                level,
                lines: contour_lines(&g.values, g.nx, g.ny, level)
                    .into_iter()
                    .map(|line| line.into_iter().map(|p| g.to_plane(p)).collect())
                    .collect(),
            })
            .collect()
    }

    /// Whether there is a picture at all: a well-formed grid over non-empty finite ranges.
    #[must_use]
    pub fn is_drawable(&self) -> bool {
        let g = &self.grid;
        g.nx >= 2
            && g.ny >= 2
            && g.values.len() == g.nx * g.ny
            && valid_range(g.x_range)
            && valid_range(g.y_range)
    }

    /// The shading of this grid's values; `None` when no value is finite.
    #[must_use]
    pub fn shading(&self) -> Option<Shading> {
        self.scale
            .map(|(lo, hi)| Shading::new(lo, hi, self.log_scale))
    }

    /// Shading positions of a `cols × rows` raster covering the ranges, row-major with row 0 at
    /// the top (`y_range.1`), sampled at pixel centres; `None` where the value is missing. Both
    /// front ends shade through this, at their own resolution.
    #[must_use]
    pub fn raster(&self, cols: usize, rows: usize) -> Vec<Option<f64>> {
        let g = &self.grid;
        let shading = self.shading();
        let mut out = Vec::with_capacity(cols * rows);
        if !self.is_drawable() {
            out.resize(cols * rows, None);
            return out;
        }
        for j in 0..rows {
            let gy = (1.0 - (j as f64 + 0.5) / rows as f64) * (g.ny - 1) as f64;
            for i in 0..cols {
                let gx = (i as f64 + 0.5) / cols as f64 * (g.nx - 1) as f64;
                out.push(shading.and_then(|s| s.t(g.sample(gx, gy))));
            }
        }
        out
    }

    /// [`Surface::raster`] as colours of the palette's ramp.
    #[must_use]
    pub fn raster_rgb(&self, cols: usize, rows: usize) -> Vec<Rgb> {
        self.raster(cols, rows)
            .into_iter()
            .map(palette::shade)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_colour_range_shades_a_moved_window_alike() {
        let g = rosenbrock_grid(40, 40);
        let whole = Surface::new(g.clone(), false, 6);
        // The same landscape over the right half of the window: its own bounds are narrower.
        let mut half = g.clone();
        half.x_range = (0.0, 2.0);
        half.values = (0..40)
            .flat_map(|j| {
                (0..40).map(move |i| {
                    let x = 2.0 * i as f64 / 39.0;
                    let y = -1.0 + 4.0 * j as f64 / 39.0;
                    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
                })
            })
            .collect();
        let refitted = Surface::new(half.clone(), false, 6);
        let fixed = Surface::with_scale(half, false, 6, whole.scale);
        assert_eq!(fixed.scale, whole.scale);
        assert_ne!(refitted.scale, whole.scale);
        // A point both windows hold has the same colour with the range kept, not refitted.
        let v = whole.grid.value_at(1.0, 1.5);
        let t = |s: &Surface| s.shading().and_then(|sh| sh.t(v));
        assert_eq!(t(&fixed), t(&whole));
        assert_ne!(t(&refitted), t(&whole));
        // Contour levels stay too.
        let levels = |s: &Surface| s.contours.iter().map(|c| c.level).collect::<Vec<_>>();
        assert_eq!(levels(&fixed), levels(&whole));
        // A malformed range is ignored.
        let bad = Surface::with_scale(g, false, 6, Some((1.0, f64::NAN)));
        assert_eq!(bad.scale, bad.bounds);
    }
    use crate::landscape::grid::rosenbrock_grid;

    fn grid(values: Vec<f64>, nx: usize, ny: usize, basis: Basis) -> Grid {
        Grid {
            id: 0,
            values,
            nx,
            ny,
            x_range: (-2.0, 2.0),
            y_range: (-1.0, 3.0),
            basis,
        }
    }

    #[test]
    fn levels_count_and_lines_lie_in_the_window() {
        let g = rosenbrock_grid(40, 30);
        let s = Surface::new(g.clone(), true, 12);
        assert_eq!(s.contours.len(), 12);
        assert!(s.contours.windows(2).all(|w| w[0].level < w[1].level));
        for c in &s.contours {
            assert!(!c.lines.is_empty());
            for p in c.lines.iter().flatten() {
                assert!(
                    (-2.0..=2.0).contains(&p.0) && (-1.0..=3.0).contains(&p.1),
                    "{p:?}"
                );
            }
        }
        assert_eq!(Surface::new(g.clone(), true, 20).contours.len(), 20);
        assert!(Surface::new(g, true, 0).contours.is_empty());
    }

    #[test]
    fn decision_maps_are_never_log_shaded() {
        let mut g = rosenbrock_grid(10, 10);
        g.basis = Basis::Features;
        let s = Surface::new(g, true, 3);
        assert!(!s.log_scale);
    }

    #[test]
    fn raster_is_dark_in_the_valley_and_missing_where_values_are() {
        let mut g = rosenbrock_grid(60, 40);
        for k in [0, 1, 60, 61] {
            g.values[k] = f64::NAN;
        }
        let s = Surface::new(g, true, 6);
        let (cols, rows) = (40, 40);
        let r = s.raster(cols, rows);
        assert_eq!(r.len(), cols * rows);
        // (1, 1) is at 3/4 of x and half-way up; the corners are far up the ramp, the
        // bottom-right one (2, -1) is the maximum.
        let valley = r[rows / 2 * cols + cols * 3 / 4].unwrap_or(1.0);
        let top_left = r[0].unwrap_or(0.0);
        let bottom_right = r[rows * cols - 1].unwrap_or(0.0);
        assert!(valley < 0.2 && top_left > 0.4, "{valley} {top_left}");
        assert!(bottom_right > 0.95, "{bottom_right}");
        // The NaN grid points are the bottom-left corner: the bottom-left pixel is missing.
        assert_eq!(r[(rows - 1) * cols], None);
        assert_eq!(
            s.raster_rgb(cols, rows)[(rows - 1) * cols],
            palette::MISSING
        );
    }

    #[test]
    fn nothing_finite_or_malformed_gives_no_levels_and_missing_pixels() {
        let s = Surface::new(grid(vec![f64::NAN; 4], 2, 2, Basis::Features), false, 6);
        assert!(s.bounds.is_none() && s.contours.is_empty() && s.shading().is_none());
        assert!(s.raster(3, 2).iter().all(Option::is_none));
        let bad = Surface::new(grid(vec![1.0; 4], 3, 2, Basis::Features), false, 6);
        assert!(!bad.is_drawable() && bad.contours.is_empty());
        assert!(bad.raster(2, 2).iter().all(Option::is_none));
    }
}
