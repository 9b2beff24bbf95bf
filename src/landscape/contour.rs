//! Contour lines by marching squares over a grid, joined into polylines.
//!
//! Coordinates here are grid coordinates: `x` is the (fractional) column index, `y` the row
//! index, row 0 at the bottom. [`crate::landscape::Surface`] maps them onto the plane.

use std::collections::HashMap;

/// One contour segment in grid coordinates.
pub type Segment = [(f64, f64); 2];

/// The lines of one level.
#[derive(Debug, Clone, PartialEq)]
pub struct Contour {
    pub level: f64,
    /// Polylines (each at least two points); a closed line repeats its first point at the end.
    pub lines: Vec<Vec<(f64, f64)>>,
}

/// The edge of the grid a crossing lies on: `2 · (row · nx + column) + (0 horizontal, 1
/// vertical)`, for the edge starting at that grid point. Shared by the two cells beside it, so
/// segments meet exactly where their keys match.
type EdgeKey = usize;

/// Marching squares over a row-major `nx × ny` grid: the segments where the surface crosses
/// `level`, in grid coordinates. Cells with a non-finite corner are skipped; saddles are resolved
/// by the cell's mean value. A grid whose length is not `nx · ny` gives no segments.
#[must_use]
pub fn marching_squares(grid: &[f64], nx: usize, ny: usize, level: f64) -> Vec<Segment> {
    let mut out = Vec::new();
    for_each_segment(grid, nx, ny, level, |s, _| out.push(s));
    out
}

/// Calls `emit` with every segment and the edges its two ends lie on.
fn for_each_segment(
    grid: &[f64],
    nx: usize,
    ny: usize,
    level: f64,
    mut emit: impl FnMut(Segment, [EdgeKey; 2]),
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
            // Edge crossing points and keys: bottom, right, top, left.
            let edge = |e: u8| match e {
                0 => ((x + frac(bl, br), y), 2 * (j * nx + i)),
                1 => ((x + 1.0, y + frac(br, tr)), 2 * (j * nx + i + 1) + 1),
                2 => ((x + frac(tl, tr), y + 1.0), 2 * ((j + 1) * nx + i)),
                _ => ((x, y + frac(bl, tl)), 2 * (j * nx + i) + 1),
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
                let ((pa, ka), (pb, kb)) = (edge(a), edge(b));
                emit([pa, pb], [ka, kb]);
            }
        }
    }
}

/// The contour lines of `level`, joined into polylines where segments share an edge crossing.
#[must_use]
pub fn contour_lines(grid: &[f64], nx: usize, ny: usize, level: f64) -> Vec<Vec<(f64, f64)>> {
    let mut segments: Vec<(Segment, [EdgeKey; 2])> = Vec::new();
    for_each_segment(grid, nx, ny, level, |s, k| segments.push((s, k)));
    // Every edge crossing is shared by at most two segments (one per cell beside the edge).
    let mut at: HashMap<EdgeKey, [usize; 2]> = HashMap::with_capacity(segments.len() * 2);
    for (n, (_, keys)) in segments.iter().enumerate() {
        for k in keys {
            at.entry(*k)
                .and_modify(|e| e[1] = n)
                .or_insert([n, usize::MAX]);
        }
    }
    let other = |k: EdgeKey, n: usize| {
        at.get(&k)
            .map(|e| if e[0] == n { e[1] } else { e[0] })
            .filter(|&m| m != usize::MAX && m != n)
    };
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    // Open lines first, from their loose ends, so each comes out whole; then the closed loops.
    let loose = |n: usize| segments[n].1.iter().any(|&k| other(k, n).is_none());
    let starts: Vec<usize> = (0..segments.len())
        .filter(|&n| loose(n))
        .chain(0..segments.len())
        .collect();
    for start in starts {
        if used[start] {
            continue;
        }
        used[start] = true;
        let (pts, keys) = segments[start];
        // A loose end starts the line; round a loop either way will do.
        let (mut line, mut end_key) = if other(keys[0], start).is_none() {
            (vec![pts[0], pts[1]], keys[1])
        } else if other(keys[1], start).is_none() {
            (vec![pts[1], pts[0]], keys[0])
        } else {
            (vec![pts[0], pts[1]], keys[1])
        };
        let mut current = start;
        while let Some(next) = other(end_key, current) {
            if used[next] {
                // Back at the start of a loop, whose first point the last segment just added.
                break;
            }
            used[next] = true;
            let (p, k) = segments[next];
            if k[0] == end_key {
                line.push(p[1]);
                end_key = k[1];
            } else {
                line.push(p[0]);
                end_key = k[0];
            }
            current = next;
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64)) -> bool {
        (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12
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
                    expected.iter().any(|e| close(*e, *p)),
                    "unexpected point {p:?}"
                );
            }
            assert!(
                (seg[0].0 - seg[1].0).abs() > 0.1,
                "degenerate segment {seg:?}"
            );
        }
        // Joined, the four segments are one closed diamond.
        let lines = contour_lines(&grid, 3, 3, 0.5);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].len(), 5);
        assert!(close(lines[0][0], lines[0][4]));
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
        assert!(contour_lines(&grid, 4, 2, 0.5).is_empty());
    }

    #[test]
    fn polylines_are_whole_and_use_every_segment_once() {
        // x - y over a 6×6 grid: the level 0.5 is one straight open line across the grid.
        let (nx, ny) = (6, 6);
        let grid: Vec<f64> = (0..nx * ny)
            .map(|k| (k % nx) as f64 - (k / nx) as f64)
            .collect();
        let segs = marching_squares(&grid, nx, ny, 0.5);
        let lines = contour_lines(&grid, nx, ny, 0.5);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].len(), segs.len() + 1);
        // Consecutive points are neighbours (no jumps across the grid).
        for w in lines[0].windows(2) {
            assert!((w[0].0 - w[1].0).abs() <= 1.0 && (w[0].1 - w[1].1).abs() <= 1.0);
        }
        // Two separate peaks give two closed rings.
        let mut two = vec![0.0; 49];
        two[7 + 1] = 1.0;
        two[5 * 7 + 5] = 1.0;
        let rings = contour_lines(&two, 7, 7, 0.5);
        assert_eq!(rings.len(), 2);
        assert!(
            rings
                .iter()
                .all(|r| close(r[0], r[r.len() - 1]) && r.len() == 5)
        );
    }
}
