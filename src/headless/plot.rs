//! Pictures of finished sessions with `plotters`: per scenario one row with the loss curves on a
//! log axis and every landscape view the TUI has for it — the plane the scenario asks for (two
//! parameters, or the PCA plane of a model's trajectories) and, for a two-feature classifier,
//! the decision boundary of the first visible run with the data points.
//!
//! The landscape panels are the landscape module's data handed to plotters: the same request,
//! grid, shading, contour lines, trails and palette as the TUI, so for the same view both show
//! the same picture. Text uses DejaVu Sans, embedded in the binary, so nothing here needs the
//! system's fonts. Non-finite values are skipped and said so (in the panel and in the notes
//! [`write_plot`] returns), never turned into axis bounds.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::BitMapElement;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::landscape::palette::{self, Marker, Rgb};
use crate::landscape::scene::{axis_names, title};
use crate::landscape::{
    Plane, Ranges, Scene, Surface, ViewSpec, clip_polyline, compute, format_number, format_tick,
    request,
};
use crate::session::Session;

/// Plot errors carry plotters' message (its error types are generic over the backend).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw '{path}': {message}")]
pub struct PlotError {
    pub path: String,
    pub message: String,
}

/// Pixels of one panel.
const PANEL: (u32, u32) = (600, 450);
const CAPTION: u32 = 17;
const LABEL: u32 = 14;

/// The colour of run `i` in pictures (the landscape palette's, as in the TUI).
#[must_use]
pub fn run_rgb(i: usize) -> RGBColor {
    color(palette::run(i))
}

fn color(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Registers the embedded DejaVu Sans as plotters' "sans-serif", once.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded font could not be loaded".into())
    }
}

/// Writes one row per session to `path` (`.svg` or `.png`, chosen by extension), drawn as
/// `view` asks. Returns notes for the user (skipped non-finite values), one line each.
pub fn write_plot(
    path: &Path,
    sessions: &[(&Session, &ViewSpec)],
) -> Result<Vec<String>, PlotError> {
    let err = |m: String| PlotError {
        path: path.display().to_string(),
        message: m,
    };
    register_font().map_err(err)?;
    let rows: Vec<Row<'_>> = sessions.iter().map(|&(s, v)| Row::new(s, v)).collect();
    let cols = rows.iter().map(Row::panels).max().unwrap_or(1).max(1);
    let size = (
        PANEL.0 * u32::try_from(cols).unwrap_or(1),
        PANEL.1 * u32::try_from(rows.len().max(1)).unwrap_or(1),
    );
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let mut notes = Vec::new();
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw(&root, &rows, cols, &mut notes).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))?;
        }
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw(&root, &rows, cols, &mut notes).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))?;
        }
        _ => return Err(err("expected a file name ending in .svg or .png".into())),
    }
    Ok(notes)
}

/// One session's row: its loss panel and its landscape planes.
struct Row<'a> {
    session: &'a Session,
    view: &'a ViewSpec,
    planes: Vec<Plane>,
    data: Vec<(f64, f64, usize)>,
}

impl<'a> Row<'a> {
    fn new(session: &'a Session, view: &'a ViewSpec) -> Self {
        let data = session.objective().data_points_2d();
        let dim = session.objective().dim();
        let mut planes = Vec::new();
        if dim >= 2 {
            let main = view.plane.normalized(dim, data.is_some());
            planes.push(main);
            if data.is_some() && main != Plane::Decision {
                planes.push(Plane::Decision);
            }
        }
        Self {
            session,
            view,
            planes,
            data: data.unwrap_or_default(),
        }
    }

    fn panels(&self) -> usize {
        1 + self.planes.len()
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[Row<'_>],
    cols: usize,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((rows.len().max(1), cols));
    for (r, row) in rows.iter().enumerate() {
        let cells = &areas[r * cols..(r + 1) * cols];
        draw_losses(&cells[0], row, notes)?;
        for (cell, plane) in cells[1..].iter().zip(&row.planes) {
            draw_landscape(cell, row, *plane, notes)?;
        }
    }
    Ok(())
}

/// The y window of a log axis holding `values` (positive, finite): whole decades, at least
/// one, widened by a hair so that plotters, which finds its first tick by rounding
/// `log10(low)` up, does not round `log10(0.1) = -0.9999999999999998` past the lowest decade.
fn decades(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo_exp = lo.log10().floor().clamp(-300.0, 300.0);
    let hi_exp = hi.log10().ceil().clamp(-300.0, 300.0).max(lo_exp + 1.0);
    (
        10f64.powf(lo_exp) * (1.0 - 1e-9),
        10f64.powf(hi_exp) * (1.0 + 1e-9),
    )
}

/// The caption font size (at most `size`) at which `text` fits the area's width.
fn caption_size<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str, size: u32) -> u32 {
    let room = area.dim_in_pixel().0.saturating_sub(16);
    (10..=size)
        .rev()
        .find(|&s| {
            let style = TextStyle::from(("sans-serif", s).into_font());
            area.estimate_text_size(text, &style)
                .is_ok_and(|(w, _)| w <= room)
        })
        .unwrap_or(10)
}

/// Pixels the y labels of a log axis over `range` need at the label font.
fn y_label_width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, range: (f64, f64)) -> u32 {
    let font = TextStyle::from(("sans-serif", LABEL).into_font());
    let (lo, hi) = (
        range.0.log10().round() as i32,
        range.1.log10().round() as i32,
    );
    (lo..=hi)
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
        .map(|v| {
            area.estimate_text_size(&format_number(v), &font)
                .map_or(60, |(w, _)| w)
        })
        .max()
        .unwrap_or(60)
}

fn draw_losses<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    row: &Row<'_>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let session = row.session;
    let runs: Vec<(usize, &crate::session::Run)> = session
        .runs()
        .iter()
        .enumerate()
        .filter(|(_, r)| row.view.shows(r.label()))
        .collect();
    let losses = || {
        runs.iter()
            .flat_map(|(_, r)| r.history().points().iter().map(|p| p.loss))
    };
    let skipped = losses().filter(|l| !l.is_finite()).count();
    let finite: Vec<f64> = losses().filter(|l| l.is_finite()).collect();
    let mut caption = format!("{}: loss", session.name);
    if skipped > 0 {
        caption.push_str(&format!(" ({skipped} non-finite skipped)"));
        notes.push(format!(
            "{}: {skipped} non-finite loss value(s) left out of the plot",
            session.name
        ));
    }
    let Some(min) = finite.iter().copied().reduce(f64::min) else {
        notes.push(format!("{}: no finite loss to plot", session.name));
        let size = caption_size(area, &caption, CAPTION);
        let area = area
            .titled(&caption, ("sans-serif", size))
            .map_err(|e| e.to_string())?;
        let (w, h) = area.dim_in_pixel();
        let text = "no finite loss to plot";
        area.draw(&Text::new(
            text,
            (w as i32 / 2 - 80, h as i32 / 2),
            ("sans-serif", 16).into_font(),
        ))
        .map_err(|e| e.to_string())?;
        return Ok(());
    };
    // A log axis needs positive values: shift when the objective goes to zero or below.
    let shift = if min > 0.0 { 0.0 } else { -min + 1e-12 };
    let label = if shift == 0.0 {
        "loss (log)"
    } else {
        "loss - min + 1e-12 (log)"
    };
    let shifted: Vec<f64> = finite
        .iter()
        .map(|l| l + shift)
        .filter(|l| *l > 0.0 && l.is_finite())
        .collect();
    let (lo, hi) = decades(&shifted);
    let max_step = runs
        .iter()
        .map(|(_, r)| r.steps())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(
            &caption,
            ("sans-serif", caption_size(area, &caption, CAPTION)),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(y_label_width(area, (lo, hi)) + 34)
        .build_cartesian_2d(0_u64..max_step, (lo..hi).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(label)
        .label_style(("sans-serif", LABEL))
        .x_label_formatter(&|v| v.to_string())
        .y_label_formatter(&|v| format_number(*v))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, run) in &runs {
        let color = run_rgb(*i);
        // A non-finite loss breaks the line.
        let mut pieces: Vec<Vec<(u64, f64)>> = vec![Vec::new()];
        for p in run.history().points() {
            let y = p.loss + shift;
            if y.is_finite() {
                if let Some(piece) = pieces.last_mut() {
                    piece.push((p.step, y.max(lo)));
                }
            } else if pieces.last().is_some_and(|p| !p.is_empty()) {
                pieces.push(Vec::new());
            }
        }
        chart
            .draw_series(
                pieces
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| PathElement::new(p, color.stroke_width(2))),
            )
            .map_err(|e| e.to_string())?
            .label(run.label().to_string())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", LABEL))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// The landscape of `session` on `plane` as a front end opening `view` shows it: the scenario's
/// window (the decision map fits its data instead), its levels and log scale, the first visible
/// run's parameters (plane origin, decision map). The TUI's first picture is this one.
#[must_use]
pub fn landscape_surface(session: &Session, view: &ViewSpec, plane: Plane) -> Surface {
    let selected = view.first_shown(session.runs().iter().map(|r| r.label()));
    let ranges = if plane == Plane::Decision {
        None
    } else {
        view.ranges()
    };
    let data = session.objective().data_points_2d();
    let grid = compute(&request(session, plane, selected, ranges, data.as_deref()));
    Surface::new(grid, view.log_scale, view.levels)
}

fn draw_landscape<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    row: &Row<'_>,
    plane: Plane,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let (session, view) = (row.session, row.view);
    let labels = || session.runs().iter().map(|r| r.label());
    let selected = view.first_shown(labels());
    let surface = landscape_surface(session, view, plane);
    let visible = |label: &str| view.shows(label);
    let scene = Scene::new(session, &surface.grid.basis, view, &visible, &row.data);
    let selected_label = labels().nth(selected).unwrap_or("");
    let basis = &surface.grid.basis;
    let (x_name, y_name) = axis_names(basis, session);
    // The session's name heads its loss panel; here the plane and the values say enough.
    let mut caption = title(basis, (&x_name, &y_name), selected_label);
    match surface.bounds {
        None => {
            caption.push_str(&format!(" — {}: no finite values", scene.value_name));
            notes.push(format!(
                "{}: the landscape has no finite {} on this plane",
                session.name, scene.value_name
            ));
        }
        Some((lo, hi)) => {
            let scale = if surface.log_scale { " (log)" } else { "" };
            caption.push_str(&format!(
                " — {} {}..{}{scale}",
                scene.value_name,
                format_number(lo),
                format_number(hi)
            ));
        }
    }
    let (xr, yr) = (surface.grid.x_range, surface.grid.y_range);
    let mut chart = ChartBuilder::on(area)
        .caption(
            &caption,
            ("sans-serif", caption_size(area, &caption, CAPTION - 2)),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(x_name)
        .y_desc(y_name)
        .label_style(("sans-serif", LABEL))
        .x_label_formatter(&|v| format_tick(*v, (xr.1 - xr.0) / 10.0))
        .y_label_formatter(&|v| format_tick(*v, (yr.1 - yr.0) / 10.0))
        .draw()
        .map_err(|e| e.to_string())?;
    if !surface.is_drawable() {
        return Ok(());
    }
    // The heatmap: the landscape's raster at the plot's pixel size.
    let (w, h) = chart.plotting_area().dim_in_pixel();
    let pixels: Vec<u8> = surface
        .raster_rgb(w as usize, h as usize)
        .into_iter()
        .flat_map(|c| [c.0, c.1, c.2])
        .collect();
    if let Some(image) = BitMapElement::with_owned_buffer((xr.0, yr.1), (w, h), pixels) {
        chart
            .draw_series(std::iter::once(image))
            .map_err(|e| e.to_string())?;
    }
    let window = (xr, yr);
    let contour = color(palette::CONTOUR);
    chart
        .draw_series(
            surface
                .contours
                .iter()
                .flat_map(|c| &c.lines)
                .flat_map(|line| clip_polyline(line, window))
                .map(|piece| PathElement::new(piece, contour.stroke_width(1))),
        )
        .map_err(|e| e.to_string())?;
    // Every halo first, then every line: a later run's halo must not cover an earlier run.
    let pieces: Vec<Vec<Vec<(f64, f64)>>> = scene
        .trails
        .iter()
        .map(|t| {
            clip_polyline(&t.points, window)
                .iter()
                .flat_map(|p| split_at_sharp_turns(p, window))
                .collect()
        })
        .collect();
    let halo = color(palette::HALO);
    chart
        .draw_series(
            pieces
                .iter()
                .flatten()
                .map(|p| PathElement::new(p.clone(), halo.stroke_width(4))),
        )
        .map_err(|e| e.to_string())?;
    for (trail, pieces) in scene.trails.iter().zip(pieces) {
        let c = color(trail.color);
        chart
            .draw_series(
                pieces
                    .into_iter()
                    .map(|p| PathElement::new(p, c.stroke_width(2))),
            )
            .map_err(|e| e.to_string())?
            .label(trail.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    let inside = |p: (f64, f64)| crate::landscape::contains(window, p);
    let area = chart.plotting_area();
    for &(x, y, class) in scene.data_points {
        if inside((x, y)) {
            draw_marker(
                area,
                (x, y),
                palette::marker(class),
                5,
                palette::class(class),
            )?;
        }
    }
    if let Some(m) = scene.minimum.filter(|m| inside(*m)) {
        for (stroke, c) in [(4, palette::HALO), (2, palette::MINIMUM)] {
            for d in [[(-6, -6), (6, 6)], [(-6, 6), (6, -6)]] {
                area.draw(
                    &(EmptyElement::at(m) + PathElement::new(d, color(c).stroke_width(stroke))),
                )
                .map_err(|e| e.to_string())?;
            }
        }
    }
    for trail in &scene.trails {
        for &(_, p) in trail.extras.iter().filter(|(_, p)| inside(*p)) {
            draw_marker(area, p, Marker::Diamond, 5, trail.color)?;
        }
        if let Some(p) = trail.current.filter(|p| inside(*p)) {
            draw_marker(area, p, Marker::Circle, 6, trail.color)?;
        }
    }
    if !scene.trails.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", LABEL))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A polyline cut where it turns back by more than about 100°. Plotters joins thick lines with
/// unlimited miters, so an optimizer zig-zagging across a valley would otherwise grow long
/// spikes; angles are measured with both axes scaled to the window.
fn split_at_sharp_turns(line: &[(f64, f64)], ((x0, x1), (y0, y1)): Ranges) -> Vec<Vec<(f64, f64)>> {
    let (sx, sy) = (1.0 / (x1 - x0), 1.0 / (y1 - y0));
    let mut pieces = vec![Vec::new()];
    let mut last_dir: Option<(f64, f64)> = None;
    for (k, &p) in line.iter().enumerate() {
        if let Some(&q) = line.get(k + 1) {
            let d = ((q.0 - p.0) * sx, (q.1 - p.1) * sy);
            let len = d.0.hypot(d.1);
            if len > 0.0 {
                let d = (d.0 / len, d.1 / len);
                if let Some(prev) = last_dir
                    && prev.0 * d.0 + prev.1 * d.1 < -0.17
                    && let Some(piece) = pieces.last_mut()
                {
                    piece.push(p);
                    pieces.push(Vec::new());
                }
                last_dir = Some(d);
            }
        }
        if let Some(piece) = pieces.last_mut() {
            piece.push(p);
        }
    }
    pieces.retain(|p| p.len() >= 2);
    pieces
}

/// The outline of a marker of radius `r` around the origin, in pixels (y down).
fn marker_outline(marker: Marker, r: i32) -> Vec<(i32, i32)> {
    let polar = |k: usize, n: usize, radius: f64, phase: f64| {
        let a = phase + std::f64::consts::TAU * k as f64 / n as f64;
        (
            (radius * a.cos()).round() as i32,
            (radius * a.sin()).round() as i32,
        )
    };
    let rf = f64::from(r);
    let up = -std::f64::consts::FRAC_PI_2;
    match marker {
        Marker::Circle => (0..16).map(|k| polar(k, 16, rf, 0.0)).collect(),
        Marker::Triangle => (0..3).map(|k| polar(k, 3, rf * 1.2, up)).collect(),
        Marker::Square => vec![(-r, -r), (r, -r), (r, r), (-r, r)],
        Marker::Diamond => (0..4).map(|k| polar(k, 4, rf * 1.3, up)).collect(),
        Marker::Cross => {
            let t = (r / 3).max(1);
            vec![
                (-t, -r),
                (t, -r),
                (t, -t),
                (r, -t),
                (r, t),
                (t, t),
                (t, r),
                (-t, r),
                (-t, t),
                (-r, t),
                (-r, -t),
                (-t, -t),
            ]
        }
        Marker::Star => (0..10)
            .map(|k| polar(k, 10, if k % 2 == 0 { rf * 1.3 } else { rf * 0.55 }, up))
            .collect(),
    }
}

/// A filled marker with a dark halo, centred on a plane point.
fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<
        DB,
        plotters::coord::cartesian::Cartesian2d<
            plotters::coord::types::RangedCoordf64,
            plotters::coord::types::RangedCoordf64,
        >,
    >,
    at: (f64, f64),
    marker: Marker,
    r: i32,
    fill: Rgb,
) -> Result<(), String> {
    let outline = marker_outline(marker, r);
    let mut closed = outline.clone();
    closed.extend(outline.first().copied());
    area.draw(&(EmptyElement::at(at) + Polygon::new(outline, color(fill).filled())))
        .map_err(|e| e.to_string())?;
    area.draw(
        &(EmptyElement::at(at) + PathElement::new(closed, color(palette::HALO).stroke_width(1))),
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decades_hold_the_values_and_never_collapse() {
        let near = |(a, b): (f64, f64), (c, d): (f64, f64)| {
            (a / c - 1.0).abs() < 1e-8 && (b / d - 1.0).abs() < 1e-8 && a < c && b > d
        };
        assert!(near(decades(&[0.002, 30.0]), (1e-3, 100.0)));
        assert!(near(decades(&[1.0]), (1.0, 10.0)));
        // plotters' first tick: 10^ceil(log10(low)) must be the lowest decade itself.
        let (lo, _) = decades(&[0.5]);
        assert_eq!(10f64.powf((lo.ln() / 10f64.ln()).ceil()), 0.1);
        let (lo, hi) = decades(&[1e-320, 1e308]);
        assert!(lo > 0.0 && hi.is_finite() && lo < hi);
    }

    #[test]
    fn zig_zags_are_cut_at_their_turns() {
        let w = ((0.0, 10.0), (0.0, 10.0));
        let zig = [(0.0, 0.0), (5.0, 1.0), (0.0, 2.0), (5.0, 3.0)];
        let pieces = split_at_sharp_turns(&zig, w);
        assert_eq!(pieces.len(), 3, "{pieces:?}");
        assert!(pieces.iter().all(|p| p.len() == 2));
        // Gentle bends and repeated points stay one line.
        let bend = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.0), (2.0, 0.5), (3.0, 1.5)];
        assert_eq!(split_at_sharp_turns(&bend, w), [bend.to_vec()]);
    }

    #[test]
    fn markers_have_distinct_outlines() {
        let outlines: Vec<Vec<(i32, i32)>> = (0..6)
            .map(|k| marker_outline(palette::marker(k), 5))
            .collect();
        for (i, a) in outlines.iter().enumerate() {
            assert!(a.len() >= 3);
            assert!(a.iter().all(|p| p.0.abs() <= 7 && p.1.abs() <= 7));
            for b in &outlines[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
