//! Pictures of finished sessions with `plotters`: loss curves on a log axis and, for objectives
//! of two parameters, the trajectories over a shaded loss landscape with its contour bands.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::session::Session;

/// Plot errors carry plotters' message (its error types are generic over the backend).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw '{path}': {message}")]
pub struct PlotError {
    pub path: String,
    pub message: String,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(230, 25, 75),
    RGBColor(60, 180, 75),
    RGBColor(0, 130, 200),
    RGBColor(245, 130, 48),
    RGBColor(145, 30, 180),
    RGBColor(70, 200, 200),
    RGBColor(240, 50, 230),
    RGBColor(128, 128, 0),
];

/// The colour of run `i` in pictures.
#[must_use]
pub fn run_rgb(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Writes one row per session to `path` (`.svg` or `.png`, chosen by extension).
pub fn write_plot(path: &Path, sessions: &[&Session]) -> Result<(), PlotError> {
    let err = |m: String| PlotError {
        path: path.display().to_string(),
        message: m,
    };
    let rows = u32::try_from(sessions.len().max(1)).unwrap_or(1);
    let size = (1200, 450 * rows);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw(&root, sessions).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))
        }
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw(&root, sessions).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))
        }
        _ => Err(err("expected a file name ending in .svg or .png".into())),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    sessions: &[&Session],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let rows = root.split_evenly((sessions.len().max(1), 1));
    for (area, session) in rows.iter().zip(sessions) {
        if session.objective().dim() == 2 {
            let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
            draw_losses(&left, session)?;
            draw_landscape(&right, session)?;
        } else {
            draw_losses(area, session)?;
        }
    }
    Ok(())
}

fn draw_losses<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    session: &Session,
) -> Result<(), String> {
    let finite = |l: &f64| l.is_finite();
    let all: Vec<f64> = session
        .runs()
        .iter()
        .flat_map(|r| r.history().points().iter().map(|p| p.loss))
        .filter(finite)
        .collect();
    let min = all.iter().copied().fold(f64::INFINITY, f64::min);
    // A log axis needs positive values: shift when the objective goes to zero or below.
    let shift = if min > 0.0 { 0.0 } else { -min + 1e-12 };
    let label = if shift == 0.0 {
        "loss (log)"
    } else {
        "loss - min + 1e-12 (log)"
    };
    let lo = all
        .iter()
        .map(|l| l + shift)
        .fold(f64::INFINITY, f64::min)
        .max(1e-300);
    let hi = all
        .iter()
        .map(|l| l + shift)
        .fold(0.0, f64::max)
        .max(lo * 10.0);
    let max_step = session
        .runs()
        .iter()
        .map(|r| r.steps())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: loss", session.name), ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0_f64..max_step as f64, (lo..hi).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(label)
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, run) in session.runs().iter().enumerate() {
        let color = run_rgb(i);
        let points: Vec<(f64, f64)> = run
            .history()
            .points()
            .iter()
            .filter(|p| p.loss.is_finite())
            .map(|p| (p.step as f64, (p.loss + shift).max(lo)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(run.label().to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// The plot window: the scenario's view ranges if given, else the box around every trajectory
/// with a margin.
fn window(session: &Session) -> ((f64, f64), (f64, f64)) {
    let mut xs = (f64::INFINITY, f64::NEG_INFINITY);
    let mut ys = xs;
    for run in session.runs() {
        for p in run.history().points() {
            if p.params.len() == 2 && p.params.iter().all(|v| v.is_finite()) {
                xs = (xs.0.min(p.params[0]), xs.1.max(p.params[0]));
                ys = (ys.0.min(p.params[1]), ys.1.max(p.params[1]));
            }
        }
    }
    let pad = |(lo, hi): (f64, f64)| {
        if !lo.is_finite() {
            return (-1.0, 1.0);
        }
        let m = ((hi - lo) * 0.15).max(0.5);
        (lo - m, hi + m)
    };
    (pad(xs), pad(ys))
}

fn ramp(t: f64) -> RGBColor {
    // A viridis-like ramp: dark blue → green → yellow.
    let stops = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (t.floor() as usize).min(stops.len() - 2);
    let f = t - i as f64;
    let lerp = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    RGBColor(
        lerp(stops[i].0, stops[i + 1].0),
        lerp(stops[i].1, stops[i + 1].1),
        lerp(stops[i].2, stops[i + 1].2),
    )
}

fn draw_landscape<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    session: &Session,
) -> Result<(), String> {
    let ((x0, x1), (y0, y1)) = window(session);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{}: trajectories", session.name),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    let names = session.objective().param_names();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(names.first().cloned().unwrap_or_default())
        .y_desc(names.get(1).cloned().unwrap_or_default())
        .draw()
        .map_err(|e| e.to_string())?;
    const N: usize = 100;
    let (dx, dy) = ((x1 - x0) / N as f64, (y1 - y0) / N as f64);
    let objective = session.objective();
    let mut grid = Vec::with_capacity(N * N);
    for j in 0..N {
        for i in 0..N {
            let p = [x0 + (i as f64 + 0.5) * dx, y0 + (j as f64 + 0.5) * dy];
            grid.push(objective.value(&p));
        }
    }
    let lo = grid
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = grid
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let level = |v: f64| ((v - lo) + 1e-9).ln();
    let (llo, lhi) = (level(lo), level(hi).max(level(lo) + 1e-12));
    chart
        .draw_series(grid.iter().enumerate().map(|(k, &v)| {
            let (i, j) = (k % N, k / N);
            let x = x0 + i as f64 * dx;
            let y = y0 + j as f64 * dy;
            // Quantised bands read as contour lines at log-spaced levels.
            let t = if v.is_finite() {
                ((level(v) - llo) / (lhi - llo) * 16.0).floor() / 16.0
            } else {
                1.0
            };
            Rectangle::new([(x, y), (x + dx, y + dy)], ramp(t).filled())
        }))
        .map_err(|e| e.to_string())?;
    for (i, run) in session.runs().iter().enumerate() {
        let color = run_rgb(i);
        let pts: Vec<(f64, f64)> = run
            .history()
            .points()
            .iter()
            .filter(|p| p.params.len() == 2 && p.params.iter().all(|v| v.is_finite()))
            .map(|p| (p.params[0], p.params[1]))
            .collect();
        if let Some(&last) = pts.last() {
            chart
                .draw_series(std::iter::once(Circle::new(last, 5, color.filled())))
                .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| e.to_string())?;
    }
    if let Some(min) = objective.minimum().filter(|m| m.len() == 2) {
        chart
            .draw_series(std::iter::once(Cross::new(
                (min[0], min[1]),
                7,
                WHITE.stroke_width(2),
            )))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
