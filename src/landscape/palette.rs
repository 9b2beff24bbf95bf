//! The one palette of gradscope, in RGB: run colours, data-class colours and markers, the
//! heatmap ramp, and the colours of contour lines, missing values and outlines. The TUI and the
//! exported plots both take their colours from here.
//!
//! How the colours were chosen, so that runs, classes and the heatmap stay apart:
//! - The heatmap ramp is **cividis** (matplotlib's, sampled at 17 stops): perceptually uniform,
//!   readable with colour-vision deficiencies, and of low chroma (dark blue → grey → yellow), which
//!   leaves the saturated hues free for the runs.
//! - The **run colours** are the 8 colours, from Okabe–Ito, Tableau 10 and Trubetskoy's 20
//!   distinct colours, that maximise the smallest CAM02-UCS distance to each other (26.7) while
//!   staying at least 18 from every colour of the ramp and reading on both a black terminal
//!   (contrast ≥ 3:1) and a white page (≥ 2.2:1). The tests check such margins in CIELAB.
//! - **Data classes** differ from runs by shape first ([`Marker`]: ●, ▲, ■, ◆, ✚, ★) and by
//!   light colours (white, spring green, lavender, cyan) that stand out on the shadow drawn
//!   beneath every marker; the decision view never draws trails, so classes and runs do not meet
//!   in one picture.
//! - **Outlines**: every trail and marker is drawn over a darker shadow of the heatmap (the TUI
//!   halves the cell's background, the plots stroke a black halo), so a run stays visible where
//!   its colour is close to the map's.

/// A colour as 8-bit sRGB channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// This colour scaled towards black by `factor` (0: unchanged, 1: black).
    #[must_use]
    pub fn darkened(self, factor: f64) -> Rgb {
        let k = 1.0 - factor.clamp(0.0, 1.0);
        let f = |c: u8| (f64::from(c) * k).round() as u8;
        Rgb(f(self.0), f(self.1), f(self.2))
    }

    /// The channel-wise mean of two colours.
    #[must_use]
    pub fn mean(self, other: Rgb) -> Rgb {
        let m = |a: u8, b: u8| ((u16::from(a) + u16::from(b)) / 2) as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }
}

/// Matplotlib's cividis at 17 evenly spaced stops.
const CIVIDIS: [Rgb; 17] = [
    Rgb(0, 34, 78),
    Rgb(0, 46, 106),
    Rgb(26, 56, 111),
    Rgb(50, 67, 109),
    Rgb(67, 78, 108),
    Rgb(83, 90, 109),
    Rgb(97, 101, 111),
    Rgb(111, 112, 115),
    Rgb(125, 124, 120),
    Rgb(140, 136, 120),
    Rgb(155, 148, 118),
    Rgb(171, 160, 114),
    Rgb(188, 174, 108),
    Rgb(205, 187, 99),
    Rgb(222, 201, 88),
    Rgb(240, 216, 70),
    Rgb(254, 232, 56),
];

/// Run colours, in the order runs get them (see the module doc for how they were chosen).
pub const RUNS: [Rgb; 8] = [
    Rgb(230, 25, 75),   // red
    Rgb(86, 180, 233),  // sky blue
    Rgb(255, 127, 14),  // orange
    Rgb(44, 160, 44),   // green
    Rgb(227, 119, 194), // pink
    Rgb(145, 30, 180),  // purple
    Rgb(0, 128, 128),   // teal
    Rgb(140, 86, 75),   // brown
];

/// Data-class colours; the class's [`Marker`] tells classes apart as well.
pub const CLASSES: [Rgb; 4] = [
    Rgb(255, 255, 255), // white
    Rgb(0, 255, 127),   // spring green
    Rgb(220, 190, 255), // lavender
    Rgb(70, 240, 240),  // cyan
];

/// Grid points whose value is NaN or infinite: a dark red the ramp never comes near.
pub const MISSING: Rgb = Rgb(64, 0, 0);
/// Contour lines: light grey, apart from every ramp colour.
pub const CONTOUR: Rgb = Rgb(215, 215, 215);
/// The known minimum's mark.
pub const MINIMUM: Rgb = Rgb(255, 255, 255);
/// The halo stroked under trails and markers in the plots.
pub const HALO: Rgb = Rgb(0, 0, 0);
/// How much the TUI darkens the heatmap under a trail or marker (its halo).
pub const SHADOW: f64 = 0.5;

/// The shape a data class is drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
    Star,
}

const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Diamond,
    Marker::Cross,
    Marker::Star,
];

/// The colour of run number `i` (cycles after eight runs).
#[must_use]
pub fn run(i: usize) -> Rgb {
    RUNS[i % RUNS.len()]
}

/// The colour of data class `k`.
#[must_use]
pub fn class(k: usize) -> Rgb {
    CLASSES[k % CLASSES.len()]
}

/// The marker of data class `k`.
#[must_use]
pub fn marker(k: usize) -> Marker {
    MARKERS[k % MARKERS.len()]
}

/// The heatmap ramp at `t ∈ [0, 1]` (clamped), interpolated between cividis stops.
#[must_use]
pub fn ramp(t: f64) -> Rgb {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (CIVIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(CIVIDIS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (CIVIDIS[i], CIVIDIS[i + 1]);
    let mix = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * f).round() as u8;
    Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The heatmap colour of a shading position; `None` (a missing value) is [`MISSING`].
#[must_use]
pub fn shade(t: Option<f64>) -> Rgb {
    t.map_or(MISSING, ramp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CIELAB (D65) of an sRGB colour.
    fn lab(c: Rgb) -> [f64; 3] {
        let lin = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let (r, g, b) = (lin(c.0), lin(c.1), lin(c.2));
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| {
            if t > 0.008856 {
                t.cbrt()
            } else {
                7.787 * t + 16.0 / 116.0
            }
        };
        let (fx, fy, fz) = (f(x), f(y), f(z));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    /// CIE76 colour difference.
    fn delta_e(a: Rgb, b: Rgb) -> f64 {
        let (p, q) = (lab(a), lab(b));
        ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
    }

    fn ramp_samples() -> Vec<Rgb> {
        (0..=64).map(|k| ramp(f64::from(k) / 64.0)).collect()
    }

    #[test]
    fn ramp_endpoints_interpolation_and_missing() {
        assert_eq!(ramp(0.0), Rgb(0, 34, 78));
        assert_eq!(ramp(1.0), Rgb(254, 232, 56));
        assert_eq!(ramp(-3.0), ramp(0.0));
        assert_eq!(ramp(7.0), ramp(1.0));
        assert_eq!(ramp(0.5), Rgb(125, 124, 120));
        assert_eq!(ramp(1.0 / 32.0), Rgb(0, 40, 92));
        assert_eq!(shade(None), MISSING);
        assert_eq!(shade(Some(0.0)), ramp(0.0));
        // Perceptually ordered: lightness grows along the ramp.
        let l: Vec<f64> = ramp_samples().into_iter().map(|c| lab(c)[0]).collect();
        assert!(l.windows(2).all(|w| w[1] > w[0]), "{l:?}");
    }

    #[test]
    fn runs_are_apart_from_each_other_and_from_the_ramp() {
        let samples = ramp_samples();
        for (i, &a) in RUNS.iter().enumerate() {
            for &b in &RUNS[i + 1..] {
                assert!(delta_e(a, b) > 35.0, "{a:?} vs {b:?}: {}", delta_e(a, b));
            }
            let nearest = samples
                .iter()
                .map(|&r| delta_e(a, r))
                .fold(f64::MAX, f64::min);
            assert!(nearest > 25.0, "{a:?} is {nearest} from the ramp");
        }
        assert_eq!(run(0), run(RUNS.len()));
    }

    #[test]
    fn classes_missing_and_contours_stand_out_from_the_ramp() {
        let samples = ramp_samples();
        let nearest = |c: Rgb| {
            samples
                .iter()
                .map(|&r| delta_e(c, r))
                .fold(f64::MAX, f64::min)
        };
        for c in CLASSES.into_iter().chain([MISSING, CONTOUR]) {
            assert!(nearest(c) > 25.0, "{c:?} is {} from the ramp", nearest(c));
        }
        for (i, &a) in CLASSES.iter().enumerate() {
            for &b in &CLASSES[i + 1..] {
                assert!(delta_e(a, b) > 35.0, "{a:?} vs {b:?}");
            }
            // Light enough to read on the halved heatmap under a marker.
            assert!(lab(a)[0] > lab(ramp(1.0).darkened(SHADOW))[0] + 25.0);
        }
        assert_ne!(marker(0), marker(1));
        assert_eq!(marker(6), marker(0));
    }

    #[test]
    fn darkened_and_mean() {
        assert_eq!(Rgb(200, 100, 0).darkened(0.5), Rgb(100, 50, 0));
        assert_eq!(Rgb(200, 100, 0).darkened(0.0), Rgb(200, 100, 0));
        assert_eq!(Rgb(200, 100, 0).darkened(2.0), Rgb(0, 0, 0));
        assert_eq!(Rgb(200, 100, 0).mean(Rgb(0, 50, 255)), Rgb(100, 75, 127));
    }
}
