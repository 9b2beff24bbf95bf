//! Shading: where a value falls on the heatmap ramp (`t ∈ [0, 1]`), linearly or on a shifted log
//! scale, and the contour levels that fall on equal steps of the same scale.

/// Log shading uses `ln(v - min + eps)` with `eps = LOG_EPS_FRACTION · (max - min)`, so the map
/// spans three decades below the range and a minimum of exactly zero is still finite.
pub const LOG_EPS_FRACTION: f64 = 1e-3;

/// Maps values to shading positions in `[0, 1]`, linearly or by `ln(v - min + eps)`.
///
/// Differences are taken in halves (`v/2 - min/2`): both scales are invariant to scaling, and
/// halves cannot overflow, so `min = -1e308, max = 1e308` still shades.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shading {
    min: f64,
    /// `(max - min) / 2`.
    half_range: f64,
    /// `eps / 2`.
    half_eps: f64,
    log: bool,
    lo: f64,
    hi: f64,
}

impl Shading {
    /// The shading of values in `[min, max]` (finite; `min <= max`).
    #[must_use]
    pub fn new(min: f64, max: f64, log: bool) -> Self {
        let half_range = (max / 2.0 - min / 2.0).max(0.0);
        let half_eps = (half_range * LOG_EPS_FRACTION).max(f64::MIN_POSITIVE);
        Self {
            min,
            half_range,
            half_eps,
            log,
            lo: half_eps.ln(),
            hi: ln_sum(half_range, half_eps),
        }
    }

    /// Whether this shading is logarithmic.
    #[must_use]
    pub fn is_log(&self) -> bool {
        self.log
    }

    /// The ramp position of a value; `None` when it is not finite (a missing value).
    #[must_use]
    pub fn t(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        if !(self.half_range > 0.0 && self.half_range.is_finite()) {
            return Some(0.0);
        }
        let d = (v / 2.0 - self.min / 2.0).max(0.0);
        let t = if self.log {
            (ln_sum(d, self.half_eps) - self.lo) / (self.hi - self.lo)
        } else {
            d / self.half_range
        };
        Some(t.clamp(0.0, 1.0))
    }

    /// The value at ramp position `t` (the inverse of [`Shading::t`] inside the range).
    #[must_use]
    pub fn value(&self, t: f64) -> f64 {
        let half = if self.log {
            (self.lo + t * (self.hi - self.lo)).exp() - self.half_eps
        } else {
            t * self.half_range
        };
        self.min + 2.0 * half
    }
}

/// `ln(a + b)` for `a, b ≥ 0` (not both zero), without overflow when `a + b` would.
fn ln_sum(a: f64, b: f64) -> f64 {
    let (big, small) = if a >= b { (a, b) } else { (b, a) };
    big.ln() + (small / big).ln_1p()
}

/// `count` contour levels strictly between `min` and `max`, on equal steps of the shading's
/// scale (`log`: evenly spaced in `ln(v - min + eps)`, so lines fall on equal colour steps and
/// crowd near the minimum). Empty if the range is empty or not finite.
#[must_use]
pub fn levels(min: f64, max: f64, count: usize, log: bool) -> Vec<f64> {
    if count == 0 || !min.is_finite() || !max.is_finite() || max <= min {
        return Vec::new();
    }
    let shading = Shading::new(min, max, log);
    (1..=count)
        .map(|k| shading.value(k as f64 / (count + 1) as f64))
        .filter(|v| v.is_finite() && *v > min && *v < max)
        .collect()
}

/// [`levels`] on the log scale.
#[must_use]
pub fn log_levels(min: f64, max: f64, count: usize) -> Vec<f64> {
    levels(min, max, count, true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn linear_levels_split_the_range_evenly() {
        let l = levels(0.0, 1.0, 3, false);
        assert_eq!(l.len(), 3);
        for (v, want) in l.iter().zip([0.25, 0.5, 0.75]) {
            assert!((v - want).abs() < 1e-15);
        }
    }

    #[test]
    fn shading_maps_the_range_onto_the_unit_interval() {
        for log in [false, true] {
            let s = Shading::new(2.0, 12.0, log);
            assert_eq!(s.t(2.0), Some(0.0));
            assert_eq!(s.t(12.0), Some(1.0));
            assert_eq!(s.t(-5.0), Some(0.0));
            assert_eq!(s.t(f64::NAN), None);
            assert_eq!(s.t(f64::INFINITY), None);
            let mid = s.t(7.0).unwrap_or(f64::NAN);
            assert!((s.value(mid) - 7.0).abs() < 1e-9, "log {log}");
        }
        // Log shading puts the middle of the range far up the ramp.
        assert!(Shading::new(0.0, 100.0, true).t(10.0) > Some(0.6));
        // A flat map is all at the bottom.
        assert_eq!(Shading::new(3.0, 3.0, true).t(3.0), Some(0.0));
    }

    #[test]
    fn extreme_ranges_still_shade() {
        let s = Shading::new(-f64::MAX, f64::MAX, false);
        let t = s.t(0.0).unwrap_or(f64::NAN);
        assert!((t - 0.5).abs() < 1e-12, "{t}");
        let s = Shading::new(-f64::MAX, f64::MAX, true);
        assert!(s.t(0.0).is_some_and(|t| t > 0.5 && t < 1.0));
        let l = levels(-f64::MAX, f64::MAX, 4, true);
        assert_eq!(l.len(), 4, "{l:?}");
    }
}
