//! The loss curves: one line per run against steps, evaluations, gradient passes or wall time,
//! optionally log-scaled, smoothed, fitted to the last part of the race, with a cursor that reads
//! every run's value at one x (TensorBoard's tooltip).
//!
//! ratatui's `Chart` has no log axis, so in log mode the data are mapped to log10 and the axis
//! labels are written back in loss units. Points that are not finite (or not positive in log mode)
//! are dropped rather than drawn at the edge of the chart. Diverged runs do not set the scale:
//! the automatic range comes from the others, and a diverged run is named at the top edge.
//! Series are drawn in order, so the caller puts the selected run last (on top).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Widget};

use super::{asciify, format_compact};
use crate::landscape::format_ticks;

/// One run's curve.
#[derive(Debug, Clone, Copy)]
pub struct SeriesView<'a> {
    pub label: &'a str,
    pub color: Color,
    /// `(x, loss)` with x the step or evaluation count.
    pub points: &'a [(f64, f64)],
    /// The run diverged: it is left out of the automatic range and marked at the edge.
    pub diverged: bool,
}

/// Loss curves of several runs.
#[derive(Debug, Clone, Copy)]
pub struct LossChart<'a> {
    pub series: &'a [SeriesView<'a>],
    pub log_y: bool,
    /// "step" or "evaluations".
    pub x_label: &'a str,
    /// TensorBoard-style smoothing weight in `[0, 1)`; `None` or `0` plots raw values.
    pub smoothing: Option<f64>,
    pub ascii: bool,
    /// Show only the last this-much of the x axis (and fit the loss range to it).
    pub x_window: Option<f64>,
    /// The cursor as a fraction of the x range (0 left, 1 right), with its readout line.
    pub cursor: Option<f64>,
    /// X counts whole things (steps, evaluations, passes): labels are whole numbers.
    pub whole_x: bool,
    /// x positions marked by a faint vertical line (epoch boundaries).
    pub marks: &'a [f64],
}

impl<'a> LossChart<'a> {
    #[must_use]
    pub fn new(series: &'a [SeriesView<'a>]) -> Self {
        Self {
            series,
            log_y: true,
            x_label: "step",
            smoothing: None,
            ascii: false,
            x_window: None,
            cursor: None,
            whole_x: true,
            marks: &[],
        }
    }

    #[must_use]
    pub fn x_window(mut self, window: Option<f64>) -> Self {
        self.x_window = window;
        self
    }

    #[must_use]
    pub fn cursor(mut self, cursor: Option<f64>) -> Self {
        self.cursor = cursor;
        self
    }

    #[must_use]
    pub fn whole_x(mut self, whole: bool) -> Self {
        self.whole_x = whole;
        self
    }

    #[must_use]
    pub fn marks(mut self, marks: &'a [f64]) -> Self {
        self.marks = marks;
        self
    }

    #[must_use]
    pub fn log_y(mut self, log_y: bool) -> Self {
        self.log_y = log_y;
        self
    }

    #[must_use]
    pub fn x_label(mut self, x_label: &'a str) -> Self {
        self.x_label = x_label;
        self
    }

    #[must_use]
    pub fn smoothing(mut self, weight: Option<f64>) -> Self {
        self.smoothing = weight;
        self
    }

    #[must_use]
    pub fn ascii(mut self, ascii: bool) -> Self {
        self.ascii = ascii;
        self
    }
}

/// Bias-corrected exponential moving average, as TensorBoard's scalar smoothing: the running
/// average starts at zero and is divided by `1 - weight^n`, so early values are not dragged
/// towards zero. Points with a non-finite coordinate are dropped; `weight` is clamped to
/// `[0, 0.999]`.
#[must_use]
pub fn smooth(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    let w = if weight.is_finite() {
        weight.clamp(0.0, 0.999)
    } else {
        0.0
    };
    let mut last = 0.0;
    let mut debias = 1.0;
    let mut out = Vec::with_capacity(points.len());
    for &(x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        last = last * w + (1.0 - w) * y;
        debias *= w;
        out.push((x, last / (1.0 - debias)));
    }
    out
}

/// Padded `[lo, hi]` of the values, with a unit (or one decade) window around a constant.
fn padded_bounds(values: impl Iterator<Item = f64>, pad: f64, flat: f64) -> Option<[f64; 2]> {
    let (lo, hi) = values.fold(None, |acc: Option<(f64, f64)>, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })?;
    if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
        let half = if lo == 0.0 {
            flat
        } else {
            (lo.abs() * 0.1).max(flat * 1e-6)
        };
        return Some([lo - half, hi + half]);
    }
    // Halves keep the span finite for losses near ±f64::MAX, and the clamp keeps `hi - lo`
    // finite for the chart's own scaling: no infinite bound reaches the axis.
    let margin = (hi / 2.0 - lo / 2.0) * 2.0 * pad;
    Some([
        (lo - margin).clamp(-1e300, 1e300),
        (hi + margin).clamp(-1e300, 1e300),
    ])
}

/// A range of whole things (steps, passes) widened to whole ends an even number apart, so all
/// three ticks (ends and middle) fall on whole numbers: `0..131` becomes `0..132`, never a
/// `65.5` in the middle. Ranges too wide for whole numbers to matter are left alone.
fn whole_bounds([lo, hi]: [f64; 2]) -> [f64; 2] {
    if !(hi - lo).is_finite() || hi - lo > 1e15 {
        return [lo, hi];
    }
    let (lo, mut hi) = (lo.floor(), hi.ceil());
    if (hi - lo) % 2.0 != 0.0 {
        hi += 1.0;
    }
    [lo, hi]
}

impl LossChart<'_> {
    /// The plotted points of one series: finite, log10 in log mode, then smoothed.
    fn plotted(&self, series: &SeriesView<'_>) -> Vec<(f64, f64)> {
        let mapped = series.points.iter().filter_map(|&(x, y)| {
            let y = if self.log_y && y > 0.0 {
                y.log10()
            } else if self.log_y {
                f64::NAN
            } else {
                y
            };
            (x.is_finite() && y.is_finite()).then_some((x, y))
        });
        match self.smoothing {
            Some(w) if w > 0.0 => smooth(&mapped.collect::<Vec<_>>(), w),
            _ => mapped.collect(),
        }
    }

    fn y_label(&self, v: f64) -> String {
        if self.log_y {
            format_compact(10f64.powf(v))
        } else {
            format_compact(v)
        }
    }
}

impl LossChart<'_> {
    /// Names the runs with points above the range (diverged ones, mostly) at the top edge:
    /// "▲ gd diverged", so a run off the chart is not silently missing.
    fn mark_off_scale(&self, data: &[Vec<(f64, f64)>], y: [f64; 2], area: Rect, buf: &mut Buffer) {
        let mut x = area.right();
        for (s, points) in self.series.iter().zip(data).rev() {
            if !(s.diverged || points.iter().any(|p| p.1 > y[1])) {
                continue;
            }
            let what = if s.diverged { "diverged" } else { "off scale" };
            let text = format!("▲ {} {what} ", s.label);
            let w = text.chars().count() as u16;
            if x < area.x + w {
                break;
            }
            x -= w;
            super::put_str(
                buf,
                x,
                area.y,
                area.right(),
                &text,
                Style::default().fg(s.color),
            );
        }
    }

    fn x_text(&self, x: f64) -> String {
        if self.whole_x {
            format_compact(x.round())
        } else {
            format_compact(x)
        }
    }

    /// "step 120: gd 1.2e-3  adam 4e-5": every series' last value at or before `x`.
    fn readout(&self, data: &[Vec<(f64, f64)>], x: f64) -> Line<'_> {
        let mut spans = vec![Span::styled(
            format!("{} {}:", self.x_label, self.x_text(x)),
            Style::default().fg(Color::White),
        )];
        for (s, points) in self.series.iter().zip(data) {
            let Some(&(_, y)) = points.iter().take_while(|p| p.0 <= x).last() else {
                continue;
            };
            spans.push(Span::styled(
                format!(" {} {}", s.label, self.y_label(y)),
                Style::default().fg(s.color),
            ));
        }
        Line::from(spans)
    }
}

impl LossChart<'_> {
    /// Every series' plotted points, cut to the x window.
    fn data(&self) -> Vec<Vec<(f64, f64)>> {
        let mut data: Vec<Vec<(f64, f64)>> = self.series.iter().map(|s| self.plotted(s)).collect();
        if let Some(window) = self.x_window {
            let last = data.iter().flatten().map(|p| p.0).fold(f64::NAN, f64::max);
            for points in &mut data {
                points.retain(|p| p.0 >= last - window);
            }
        }
        data
    }

    /// The x axis' range for these points (whole ends on a whole axis).
    fn x_bounds(&self, data: &[Vec<(f64, f64)>]) -> Option<[f64; 2]> {
        let b = padded_bounds(data.iter().flatten().map(|p| p.0), 0.0, 1.0)?;
        Some(if self.whole_x { whole_bounds(b) } else { b })
    }

    /// Where the cursor falls on the x axis (a whole number on a whole axis), if it is on.
    fn cursor_in(&self, x_bounds: [f64; 2]) -> Option<f64> {
        self.cursor.map(|f| {
            let x = x_bounds[0] + f.clamp(0.0, 1.0) * (x_bounds[1] - x_bounds[0]);
            if self.whole_x { x.round() } else { x }
        })
    }

    /// The x the cursor stands at, as the chart will draw it (for linking other views).
    #[must_use]
    pub fn cursor_x(&self) -> Option<f64> {
        self.cursor?;
        self.cursor_in(self.x_bounds(&self.data())?)
    }
}

impl Widget for LossChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let data = self.data();
        let all = || data.iter().flatten();
        // The scale comes from the runs that did not diverge, when there are any.
        let healthy: Vec<f64> = self
            .series
            .iter()
            .zip(&data)
            .filter(|(s, _)| !s.diverged)
            .flat_map(|(_, d)| d.iter().map(|p| p.1))
            .collect();
        let y_values: Vec<f64> = if healthy.is_empty() {
            all().map(|p| p.1).collect()
        } else {
            healthy.clone()
        };
        let flat_y = if self.log_y { 0.5 } else { 1.0 };
        let (Some(x_bounds), Some(mut y_bounds)) = (
            self.x_bounds(&data),
            padded_bounds(y_values.iter().copied(), 0.05, flat_y),
        ) else {
            Paragraph::new("no loss values yet")
                .style(Style::default().fg(Color::Gray))
                .render(area, buf);
            return;
        };
        // Losses are rarely negative: do not let the padding push a linear axis below zero.
        let min_y = y_values.iter().copied().fold(f64::INFINITY, f64::min);
        if !self.log_y && min_y >= 0.0 {
            y_bounds[0] = y_bounds[0].max(0.0);
        }
        let marker = if self.ascii {
            Marker::Dot
        } else {
            Marker::Braille
        };
        let mut area = area;
        let cursor_x = self.cursor_in(x_bounds);
        if let Some(x) = cursor_x
            && area.height > 3
        {
            self.readout(&data, x)
                .render(Rect::new(area.x, area.y, area.width, 1), buf);
            area = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
        }
        let cursor_line = cursor_x.map(|x| [(x, y_bounds[0]), (x, y_bounds[1])]);
        // Marks first, so the curves are drawn over them; unnamed, so not in the legend.
        let inside = |x: f64| x >= x_bounds[0] && x <= x_bounds[1];
        let mark_lines: Vec<[(f64, f64); 2]> = self
            .marks
            .iter()
            .filter(|x| inside(**x))
            .map(|&x| [(x, y_bounds[0]), (x, y_bounds[1])])
            .collect();
        let marks = mark_lines.iter().map(|line| {
            Dataset::default()
                .marker(marker)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(Color::DarkGray))
                .data(line)
        });
        let mut datasets: Vec<Dataset<'_>> = marks
            .chain(self.series.iter().zip(&data).map(|(s, points)| {
                Dataset::default()
                    .name(s.label)
                    .marker(marker)
                    .graph_type(GraphType::Line)
                    .style(Style::default().fg(s.color))
                    .data(points)
            }))
            .collect();
        if let Some(line) = &cursor_line {
            datasets.push(
                Dataset::default()
                    .marker(marker)
                    .graph_type(GraphType::Line)
                    .style(Style::default().fg(Color::White))
                    .data(line),
            );
        }
        let mid = |b: [f64; 2]| (b[0] + b[1]) / 2.0;
        let axis_style = Style::default().fg(Color::Gray);
        let x_axis = Axis::default()
            .title(Span::styled(self.x_label, axis_style))
            .style(axis_style)
            .bounds(x_bounds)
            .labels(format_ticks(&[x_bounds[0], mid(x_bounds), x_bounds[1]]));
        let y_title = if self.log_y { "loss (log)" } else { "loss" };
        let y_axis = Axis::default()
            .title(Span::styled(y_title, axis_style))
            .style(axis_style)
            .bounds(y_bounds)
            .labels(format_ticks(
                &[y_bounds[0], mid(y_bounds), y_bounds[1]]
                    .map(|v| if self.log_y { 10f64.powf(v) } else { v }),
            ));
        Chart::new(datasets)
            .x_axis(x_axis)
            .y_axis(y_axis)
            .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
            .render(area, buf);
        self.mark_off_scale(&data, y_bounds, area, buf);
        if self.ascii {
            asciify(buf, area);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::run_color;
    use crate::tui::widgets::test_util::buffer_text;

    fn render(chart: LossChart<'_>, w: u16, h: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        chart.render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn smoothing_is_bias_corrected() {
        let out = smooth(&[(0.0, 1.0), (1.0, 0.0)], 0.5);
        assert_eq!(out.len(), 2);
        // First value is returned unchanged thanks to the 1 - w^n correction.
        assert!((out[0].1 - 1.0).abs() < 1e-12);
        // (0.25) / (1 - 0.25)
        assert!((out[1].1 - 1.0 / 3.0).abs() < 1e-12);
        let constant = smooth(&[(0.0, 5.0), (1.0, 5.0), (2.0, 5.0)], 0.9);
        assert!(constant.iter().all(|p| (p.1 - 5.0).abs() < 1e-12));
    }

    #[test]
    fn smoothing_edge_cases() {
        let raw = [
            (0.0, 3.0),
            (1.0, f64::NAN),
            (2.0, 1.0),
            (f64::INFINITY, 2.0),
        ];
        let out = smooth(&raw, 0.0);
        assert_eq!(out, vec![(0.0, 3.0), (2.0, 1.0)]);
        // A weight of one or more is clamped, so the curve still moves.
        let clamped = smooth(&[(0.0, 1.0), (1.0, 2.0)], 1.5);
        assert!(clamped[1].1 > 1.0 && clamped[1].1 < 2.0);
        assert!(smooth(&[], 0.5).is_empty());
    }

    #[test]
    fn bounds_are_sane_for_flat_and_spread_data() {
        assert_eq!(
            padded_bounds([2.0, 2.0].into_iter(), 0.05, 1.0),
            Some([1.8, 2.2])
        );
        assert_eq!(
            padded_bounds([0.0].into_iter(), 0.05, 1.0),
            Some([-1.0, 1.0])
        );
        assert_eq!(
            padded_bounds([0.0, 10.0].into_iter(), 0.1, 1.0),
            Some([-1.0, 11.0])
        );
        assert_eq!(padded_bounds(std::iter::empty(), 0.1, 1.0), None);
        let [lo, hi] =
            padded_bounds([-f64::MAX, f64::MAX].into_iter(), 0.05, 1.0).unwrap_or([f64::NAN; 2]);
        assert!(lo < hi && (hi - lo).is_finite(), "{lo} {hi}");
    }

    /// One run's curve, as the label tests draw it.
    fn single(points: &[(f64, f64)]) -> [SeriesView<'_>; 1] {
        [SeriesView {
            diverged: false,
            label: "sgd",
            color: run_color(0),
            points,
        }]
    }

    #[test]
    fn whole_axes_have_whole_ticks() {
        assert_eq!(whole_bounds([0.0, 131.0]), [0.0, 132.0]);
        assert_eq!(whole_bounds([-1.0, 1.0]), [-1.0, 1.0]);
        assert_eq!(whole_bounds([0.4, 6.2]), [0.0, 8.0]);
        assert_eq!(whole_bounds([0.0, 1e300]), [0.0, 1e300]);
        let points: Vec<(f64, f64)> = (0..=131)
            .map(|i| (f64::from(i), 1.0 + f64::from(i)))
            .collect();
        let series = single(&points);
        let text = buffer_text(&render(LossChart::new(&series).log_y(false), 60, 12));
        assert!(text.contains("66") && !text.contains("65.5"), "{text}");
    }

    #[test]
    fn log_axis_labels_share_one_format() {
        let points = [(0.0, 4129.673), (10.0, 1.0), (20.0, 2.18e-13)];
        let series = single(&points);
        let text = buffer_text(&render(LossChart::new(&series), 50, 12));
        assert!(
            !text.contains("4129.673") && !text.contains("1e4."),
            "{text}"
        );
        let labels: Vec<&str> = text
            .lines()
            .filter(|l| l.contains('│'))
            .filter_map(|l| l.split('│').next())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        // Three significant digits at most on every label.
        for label in &labels {
            let mantissa = label.split('e').next().unwrap_or(label);
            let digits = mantissa.chars().filter(char::is_ascii_digit).count();
            assert!(digits <= 4, "{label} in {text}");
        }
    }

    #[test]
    fn log_axis_labels_are_in_loss_units() {
        let points = [(0.0, 100.0), (10.0, 1.0), (20.0, 0.01)];
        let series = single(&points);
        let text = buffer_text(&render(LossChart::new(&series), 50, 12));
        // log10 range [-2, 2] padded by 5 %: the top label is 10^2.2 ≈ 158.5.
        assert!(text.contains("158"), "{text}");
        assert!(text.contains('1'), "{text}");
    }

    #[test]
    fn non_finite_and_empty_data_do_not_panic() {
        let points = [
            (0.0, f64::NAN),
            (1.0, f64::INFINITY),
            (2.0, 0.0),
            (3.0, -1.0),
        ];
        let series = [SeriesView {
            diverged: false,
            label: "nan",
            color: run_color(0),
            points: &points,
        }];
        let text = buffer_text(&render(LossChart::new(&series), 30, 5));
        assert!(text.contains("no loss values yet"));
        // Linear mode keeps the zero and the negative value.
        let text = buffer_text(&render(LossChart::new(&series).log_y(false), 30, 8));
        assert!(!text.contains("no loss values yet"));
        let _ = render(LossChart::new(&[]), 0, 0);
    }

    type Curve = Vec<(f64, f64)>;

    fn two_runs() -> (Curve, Curve) {
        let a = (0..60)
            .map(|i| (f64::from(i), 50.0 * (-0.08 * f64::from(i)).exp() + 0.01))
            .collect();
        let b = (0..60)
            .map(|i| {
                let noise = if i % 2 == 0 { 1.3 } else { 0.8 };
                (f64::from(i), 30.0 * noise / (1.0 + f64::from(i)))
            })
            .collect();
        (a, b)
    }

    #[test]
    fn snapshot_unicode_log() {
        let (a, b) = two_runs();
        let series = [
            SeriesView {
                diverged: false,
                label: "sgd",
                color: run_color(0),
                points: &a,
            },
            SeriesView {
                diverged: false,
                label: "adam",
                color: run_color(1),
                points: &b,
            },
        ];
        let chart = LossChart::new(&series).smoothing(Some(0.6));
        insta::assert_snapshot!(buffer_text(&render(chart, 60, 16)));
    }

    #[test]
    fn snapshot_ascii_linear() {
        let (a, b) = two_runs();
        let series = [
            SeriesView {
                diverged: false,
                label: "sgd",
                color: run_color(0),
                points: &a,
            },
            SeriesView {
                diverged: false,
                label: "adam",
                color: run_color(1),
                points: &b,
            },
        ];
        let chart = LossChart::new(&series)
            .log_y(false)
            .x_label("evaluations")
            .ascii(true);
        let text = buffer_text(&render(chart, 60, 16));
        assert!(text.is_ascii());
        insta::assert_snapshot!(text);
    }
}
