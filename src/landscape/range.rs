//! Windows onto a plane: fitting ranges around points, and the finite bounds of values. Nothing
//! non-finite ever becomes a bound, and no range is empty or overflows: a diverged run far away
//! or a grid of NaN gives a usable window, never `inf..inf`.

/// `(x_range, y_range)`, each `(low, high)` with `low < high`.
pub type Ranges = ((f64, f64), (f64, f64));

/// Relative margin around the points when ranges are fitted.
const MARGIN: f64 = 0.15;
/// Coordinates are clamped to ±this before fitting, so that a span (and the arithmetic of
/// mapping points into it) stays finite.
const LIMIT: f64 = 1e300;
/// The window when there is nothing finite to fit.
const FALLBACK: (f64, f64) = (-1.0, 1.0);

/// Ranges holding every finite point with a margin; never empty, never infinite. Points with a
/// non-finite coordinate are skipped.
#[must_use]
pub fn fit_ranges(points: impl IntoIterator<Item = (f64, f64)>) -> Ranges {
    let mut lo = (f64::INFINITY, f64::INFINITY);
    let mut hi = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for (a, b) in points {
        if a.is_finite() && b.is_finite() {
            let (a, b) = (a.clamp(-LIMIT, LIMIT), b.clamp(-LIMIT, LIMIT));
            lo = (lo.0.min(a), lo.1.min(b));
            hi = (hi.0.max(a), hi.1.max(b));
        }
    }
    (pad(lo.0, hi.0), pad(lo.1, hi.1))
}

/// `[lo, hi]` widened to a minimum span (relative to its magnitude) plus the margin.
fn pad(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return FALLBACK;
    }
    let span = (hi - lo).max(1e-3 * lo.abs().max(hi.abs())).max(1e-6);
    let (lo, hi) = if hi - lo < span {
        ((lo + hi - span) / 2.0, (lo + hi + span) / 2.0)
    } else {
        (lo, hi)
    };
    let m = span * MARGIN;
    (lo - m, hi + m)
}

/// Whether a point lies inside ranges (false for NaN).
#[must_use]
pub fn contains(ranges: Ranges, (a, b): (f64, f64)) -> bool {
    a >= ranges.0.0 && a <= ranges.0.1 && b >= ranges.1.0 && b <= ranges.1.1
}

/// Which way a point outside a window lies: `(-1, 0, 1)` for left of, within, right of the
/// x range, and the same for below, within, above the y range.
pub type Direction = (i8, i8);

/// Where a point outside a window is marked on its edge: the point where the line from the
/// window's centre towards it leaves the window, and the sides it lies beyond. `None` for a
/// point inside, or with a NaN coordinate (no direction to show); infinite coordinates count
/// as very far that way.
#[must_use]
pub fn exit_point(window: Ranges, p: (f64, f64)) -> Option<((f64, f64), Direction)> {
    if p.0.is_nan() || p.1.is_nan() || contains(window, p) {
        return None;
    }
    let ((x0, x1), (y0, y1)) = window;
    let side = |v: f64, lo: f64, hi: f64| -> i8 {
        if v < lo {
            -1
        } else if v > hi {
            1
        } else {
            0
        }
    };
    let direction = (side(p.0, x0, x1), side(p.1, y0, y1));
    let (cx, cy) = (x0 / 2.0 + x1 / 2.0, y0 / 2.0 + y1 / 2.0);
    let (hx, hy) = (x1 / 2.0 - x0 / 2.0, y1 / 2.0 - y0 / 2.0);
    // In units of the half-widths, so huge coordinates cannot overflow.
    let dx = (p.0.clamp(-LIMIT, LIMIT) / 2.0 - cx / 2.0) / hx * 2.0;
    let dy = (p.1.clamp(-LIMIT, LIMIT) / 2.0 - cy / 2.0) / hy * 2.0;
    let t = 1.0 / dx.abs().max(dy.abs());
    let edge = (
        (cx + t * dx * hx).clamp(x0, x1),
        (cy + t * dy * hy).clamp(y0, y1),
    );
    Some((edge, direction))
}

/// A range a picture can be drawn over: finite ends, `low < high`, finite span.
#[must_use]
pub fn valid_range((a, b): (f64, f64)) -> bool {
    a.is_finite() && b.is_finite() && b > a && (b - a).is_finite()
}

/// Minimum and maximum of the finite values, if any value is finite.
#[must_use]
pub fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Liang–Barsky clipping of the segment `a`–`b` to a window; `None` when it misses the window
/// or an end is not finite.
#[must_use]
pub fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    ((x0, x1), (y0, y1)): Ranges,
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    if !(a.0.is_finite() && a.1.is_finite() && dx.is_finite() && dy.is_finite()) {
        return None;
    }
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
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

/// The visible pieces of a polyline inside a window: broken where a point is not finite and
/// where the line leaves the window, each piece at least two points.
#[must_use]
pub fn clip_polyline(points: &[(f64, f64)], window: Ranges) -> Vec<Vec<(f64, f64)>> {
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for pair in points.windows(2) {
        match clip_segment(pair[0], pair[1], window) {
            Some((a, b)) => {
                // Continue the current piece when this segment starts where it ended.
                if let (true, Some(piece)) = (open && a == pair[0], pieces.last_mut()) {
                    piece.push(b);
                } else {
                    pieces.push(vec![a, b]);
                }
                open = b == pair[1];
            }
            None => open = false,
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_ranges_contain_the_points_with_margin() {
        let r = fit_ranges([(0.0, 1.0), (2.0, 1.0)]);
        assert!(contains(r, (0.0, 1.0)) && contains(r, (2.0, 1.0)));
        assert!(r.0.0 < 0.0 && r.0.1 > 2.0 && r.1.0 < 1.0 && r.1.1 > 1.0);
    }

    #[test]
    fn non_finite_points_never_become_bounds() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let r = fit_ranges([(nan, 0.0), (inf, 1.0), (0.0, -inf)]);
        assert_eq!(r, (FALLBACK, FALLBACK));
        let r = fit_ranges([(nan, nan), (1.0, 2.0)]);
        assert!(contains(r, (1.0, 2.0)) && valid_range(r.0) && valid_range(r.1));
        assert_eq!(fit_ranges(std::iter::empty()), (FALLBACK, FALLBACK));
    }

    #[test]
    fn extreme_points_give_finite_ranges() {
        let r = fit_ranges([(-f64::MAX, f64::MAX), (f64::MAX, -f64::MAX)]);
        assert!(valid_range(r.0) && valid_range(r.1), "{r:?}");
        let r = fit_ranges([(1e-300, 5.0)]);
        assert!(valid_range(r.0) && valid_range(r.1), "{r:?}");
    }

    #[test]
    fn clip_keeps_inside_and_cuts_far_segments() {
        let w = ((0.0, 10.0), (0.0, 10.0));
        let inside = clip_segment((1.0, 1.0), (2.0, 3.0), w);
        assert_eq!(inside, Some(((1.0, 1.0), (2.0, 3.0))));
        let far = clip_segment((5.0, 5.0), (1e30, 5.0), w);
        assert_eq!(far, Some(((5.0, 5.0), (10.0, 5.0))));
        assert_eq!(clip_segment((-5.0, -5.0), (-1.0, 20.0), w), None);
        assert_eq!(clip_segment((0.0, f64::NAN), (1.0, 1.0), w), None);
        assert_eq!(clip_segment((-f64::MAX, 0.0), (f64::MAX, 1.0), w), None);
        let off = ((-1.0, 1.0), (2.0, 4.0));
        assert_eq!(
            clip_segment((0.0, 0.0), (0.0, 5.0), off),
            Some(((0.0, 2.0), (0.0, 4.0)))
        );
    }

    #[test]
    fn polylines_break_at_gaps_and_window_exits() {
        let w = ((0.0, 10.0), (0.0, 10.0));
        let nan = f64::NAN;
        let line = [
            (1.0, 1.0),
            (2.0, 2.0),
            (3.0, 3.0),
            (nan, 1.0),
            (4.0, 4.0),
            (5.0, 5.0),
        ];
        assert_eq!(
            clip_polyline(&line, w),
            [
                vec![(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)],
                vec![(4.0, 4.0), (5.0, 5.0)]
            ]
        );
        // Out through the right edge and back in.
        let line = [(8.0, 1.0), (12.0, 1.0), (12.0, 2.0), (8.0, 2.0), (7.0, 2.0)];
        assert_eq!(
            clip_polyline(&line, w),
            [
                vec![(8.0, 1.0), (10.0, 1.0)],
                vec![(10.0, 2.0), (8.0, 2.0), (7.0, 2.0)]
            ]
        );
        assert!(clip_polyline(&[(1.0, 1.0)], w).is_empty());
    }

    #[test]
    fn points_outside_are_marked_where_they_left() {
        let w = ((0.0, 10.0), (0.0, 10.0));
        assert_eq!(exit_point(w, (5.0, 5.0)), None);
        assert_eq!(exit_point(w, (f64::NAN, 50.0)), None);
        // Straight out to the right: on the right edge at the same height.
        assert_eq!(exit_point(w, (20.0, 5.0)), Some(((10.0, 5.0), (1, 0))));
        // Far up and left: on the top edge, towards the point.
        let (edge, dir) = exit_point(w, (-5.0, 1e9)).unwrap_or_default();
        assert_eq!(dir, (-1, 1));
        assert!(
            (edge.1 - 10.0).abs() < 1e-9 && (edge.0 - 5.0).abs() < 1e-6,
            "{edge:?}"
        );
        // A diverged run at infinity still gets a place on the edge.
        let (edge, dir) = exit_point(w, (f64::NEG_INFINITY, 5.0)).unwrap_or_default();
        assert_eq!(dir, (-1, 0));
        assert!(contains(w, edge) && edge.0 == 0.0, "{edge:?}");
        let (edge, _) = exit_point(w, (f64::MAX, -f64::MAX)).unwrap_or_default();
        assert!(contains(w, edge), "{edge:?}");
    }

    #[test]
    fn bounds_skip_non_finite_values() {
        assert_eq!(
            finite_bounds([f64::NAN, 3.0, -1.0, f64::INFINITY]),
            Some((-1.0, 3.0))
        );
        assert_eq!(finite_bounds([f64::NAN, f64::NEG_INFINITY]), None);
        assert!(!valid_range((0.0, f64::INFINITY)) && !valid_range((1.0, 1.0)));
        assert!(!valid_range((-f64::MAX, f64::MAX)));
    }
}
