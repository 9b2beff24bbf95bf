//! The landscape off the render path: a worker thread that turns requests (an objective, a
//! plane, ranges) into loss grids or decision maps, and the plane geometry (two parameters, the
//! trajectories' two principal directions, or a dataset's two features) shared by the worker,
//! the renderer and mouse mapping.
//!
//! The UI sends a request and keeps drawing the last grid it has; the worker always skips to
//! the newest request, so zooming quickly never queues up stale work.

use std::sync::mpsc;
use std::thread;

use nalgebra::DMatrix;

use crate::objective::Objective;

/// Grid resolution: bounded work per request whatever the model.
pub const NX: usize = 96;
pub const NY: usize = 64;
/// Points used for PCA at most (subsampled evenly), so the SVD stays small.
const PCA_POINTS: usize = 400;
/// Relative margin around the trajectories when ranges are chosen automatically.
const MARGIN: f64 = 0.15;

/// A plane in parameter space: `origin + a·d1 + b·d2`.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// Two parameters by index; the others stay at `origin`'s values.
    Axes {
        i: usize,
        j: usize,
        origin: Vec<f64>,
    },
    /// Orthonormal directions through `origin` (the trajectories' mean).
    Pca {
        origin: Vec<f64>,
        d1: Vec<f64>,
        d2: Vec<f64>,
    },
    /// A dataset's two features: the grid holds a model's decision values, not losses, and
    /// parameter vectors have no place on it.
    Features,
}

impl Basis {
    /// The plane coordinates of a parameter vector (orthogonal projection).
    #[must_use]
    pub fn project(&self, p: &[f64]) -> (f64, f64) {
        match self {
            Basis::Axes { i, j, .. } => (
                p.get(*i).copied().unwrap_or(f64::NAN),
                p.get(*j).copied().unwrap_or(f64::NAN),
            ),
            Basis::Pca { origin, d1, d2 } => {
                let (mut a, mut b) = (0.0, 0.0);
                for k in 0..p.len().min(origin.len()) {
                    let c = p[k] - origin[k];
                    a += c * d1[k];
                    b += c * d2[k];
                }
                (a, b)
            }
            Basis::Features => (f64::NAN, f64::NAN),
        }
    }

    /// The parameter vector at plane coordinates `(a, b)`.
    #[must_use]
    pub fn lift(&self, a: f64, b: f64) -> Vec<f64> {
        match self {
            Basis::Axes { i, j, origin } => {
                let mut p = origin.clone();
                if let Some(x) = p.get_mut(*i) {
                    *x = a;
                }
                if let Some(y) = p.get_mut(*j) {
                    *y = b;
                }
                p
            }
            Basis::Pca { origin, d1, d2 } => origin
                .iter()
                .zip(d1)
                .zip(d2)
                .map(|((o, u), v)| o + a * u + b * v)
                .collect(),
            Basis::Features => vec![a, b],
        }
    }

    /// Axis names for the legend.
    #[must_use]
    pub fn axis_names(&self, names: &[String]) -> (String, String) {
        match self {
            Basis::Axes { i, j, .. } => (
                names.get(*i).cloned().unwrap_or_else(|| format!("p{i}")),
                names.get(*j).cloned().unwrap_or_else(|| format!("p{j}")),
            ),
            Basis::Pca { .. } => ("pc1".into(), "pc2".into()),
            Basis::Features => ("x1".into(), "x2".into()),
        }
    }
}

/// What plane a request asks for.
pub enum PlaneRequest {
    Axes {
        i: usize,
        j: usize,
        origin: Vec<f64>,
    },
    /// PCA of these points (already subsampled by [`subsample`]).
    Pca { points: Vec<Vec<f64>> },
    /// Decision values of the model at `params` over the plane of the data's two features;
    /// automatic ranges fit `points`.
    Decision {
        params: Vec<f64>,
        points: Vec<(f64, f64)>,
    },
}

/// One grid to compute.
pub struct Request {
    pub id: u64,
    pub objective: Box<dyn Objective>,
    pub plane: PlaneRequest,
    /// Explicit ranges; `None` chooses them from `fit` (points to keep in view).
    pub ranges: Option<((f64, f64), (f64, f64))>,
    pub fit: Vec<Vec<f64>>,
}

/// A computed grid, in [`crate::tui::widgets::LandscapeView`]'s layout.
#[derive(Debug, Clone)]
pub struct Grid {
    pub id: u64,
    pub values: Vec<f64>,
    pub nx: usize,
    pub ny: usize,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub basis: Basis,
}

/// Handle to the worker thread; dropping it ends the thread.
pub struct Worker {
    tx: mpsc::Sender<Request>,
    rx: mpsc::Receiver<Grid>,
}

impl Default for Worker {
    fn default() -> Self {
        Self::spawn()
    }
}

impl Worker {
    #[must_use]
    pub fn spawn() -> Self {
        let (tx, req_rx) = mpsc::channel::<Request>();
        let (grid_tx, rx) = mpsc::channel();
        thread::spawn(move || {
            while let Ok(mut req) = req_rx.recv() {
                while let Ok(newer) = req_rx.try_recv() {
                    req = newer;
                }
                if grid_tx.send(compute(&req)).is_err() {
                    break;
                }
            }
        });
        Self { tx, rx }
    }

    /// Queues a request; false if the worker is gone.
    pub fn send(&self, request: Request) -> bool {
        self.tx.send(request).is_ok()
    }

    /// The newest finished grid, if any arrived since the last call.
    pub fn try_latest(&self) -> Option<Grid> {
        let mut latest = None;
        while let Ok(g) = self.rx.try_recv() {
            latest = Some(g);
        }
        latest
    }

    /// Blocks until a grid arrives (tests and benchmarks, which need a settled picture).
    pub fn wait(&self) -> Option<Grid> {
        self.rx.recv().ok()
    }
}

/// At most `max` points, evenly spaced, always keeping the last.
#[must_use]
pub fn subsample(points: &[Vec<f64>], max: usize) -> Vec<Vec<f64>> {
    if points.len() <= max {
        return points.to_vec();
    }
    let step = points.len().div_ceil(max);
    let mut out: Vec<Vec<f64>> = points.iter().step_by(step).cloned().collect();
    if let Some(last) = points.last()
        && out.last() != Some(last)
    {
        out.push(last.clone());
    }
    out
}

/// Principal directions of the points (centred at their mean). Falls back to the first two
/// coordinate axes when the points do not span two directions.
#[must_use]
pub fn pca_basis(points: &[Vec<f64>]) -> Basis {
    let dim = points.first().map_or(0, Vec::len);
    let points = subsample(points, PCA_POINTS);
    let m = points.len();
    let mut mean = vec![0.0; dim];
    for p in &points {
        for (s, x) in mean.iter_mut().zip(p) {
            *s += x / m as f64;
        }
    }
    let axis = |k: usize| {
        (0..dim)
            .map(|i| if i == k { 1.0 } else { 0.0 })
            .collect::<Vec<_>>()
    };
    let fallback = Basis::Pca {
        origin: mean.clone(),
        d1: axis(0),
        d2: axis(1.min(dim - 1)),
    };
    if m < 2 || dim < 2 {
        return fallback;
    }
    let centred = DMatrix::from_fn(m, dim, |r, c| points[r][c] - mean[c]);
    let svd = centred.svd(false, true);
    let Some(vt) = svd.v_t else {
        return fallback;
    };
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|a, b| svd.singular_values[*b].total_cmp(&svd.singular_values[*a]));
    let top = svd.singular_values[order[0]];
    if top <= 0.0 || !top.is_finite() {
        return fallback;
    }
    let d1: Vec<f64> = vt.row(order[0]).iter().copied().collect();
    let d2 = if order.len() > 1 && svd.singular_values[order[1]] > 1e-12 * top {
        vt.row(order[1]).iter().copied().collect()
    } else {
        orthogonal_to(&d1)
    };
    Basis::Pca {
        origin: mean,
        d1,
        d2,
    }
}

/// A unit vector orthogonal to unit `d` (Gram–Schmidt on the coordinate axis least aligned).
fn orthogonal_to(d: &[f64]) -> Vec<f64> {
    let k = (0..d.len())
        .min_by(|a, b| d[*a].abs().total_cmp(&d[*b].abs()))
        .unwrap_or(0);
    let mut e: Vec<f64> = (0..d.len())
        .map(|i| if i == k { 1.0 } else { 0.0 })
        .collect();
    let dot: f64 = e.iter().zip(d).map(|(a, b)| a * b).sum();
    for (x, u) in e.iter_mut().zip(d) {
        *x -= dot * u;
    }
    let norm = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        e.iter_mut().for_each(|x| *x /= norm);
    }
    e
}

/// Ranges holding every point with a margin; never degenerate.
#[must_use]
pub fn fit_ranges(points: impl IntoIterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let mut lo = (f64::INFINITY, f64::INFINITY);
    let mut hi = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for (a, b) in points {
        if a.is_finite() && b.is_finite() {
            lo = (lo.0.min(a), lo.1.min(b));
            hi = (hi.0.max(a), hi.1.max(b));
        }
    }
    let pad = |lo: f64, hi: f64| {
        if !lo.is_finite() {
            return (-1.0, 1.0);
        }
        let span = (hi - lo).max(1e-3 * lo.abs().max(hi.abs())).max(1e-6);
        let m = span * MARGIN;
        let (lo, hi) = if hi - lo < span {
            ((lo + hi - span) / 2.0, (lo + hi + span) / 2.0)
        } else {
            (lo, hi)
        };
        (lo - m, hi + m)
    };
    (pad(lo.0, hi.0), pad(lo.1, hi.1))
}

/// Whether a point lies inside ranges.
#[must_use]
pub fn contains(ranges: ((f64, f64), (f64, f64)), (a, b): (f64, f64)) -> bool {
    a >= ranges.0.0 && a <= ranges.0.1 && b >= ranges.1.0 && b <= ranges.1.1
}

/// The worker's job: the basis, the ranges, then `NX × NY` loss values.
#[must_use]
pub fn compute(req: &Request) -> Grid {
    let basis = match &req.plane {
        PlaneRequest::Axes { i, j, origin } => Basis::Axes {
            i: *i,
            j: *j,
            origin: origin.clone(),
        },
        PlaneRequest::Pca { points } => pca_basis(points),
        PlaneRequest::Decision { .. } => Basis::Features,
    };
    let (x_range, y_range) = req.ranges.unwrap_or_else(|| match &req.plane {
        PlaneRequest::Decision { points, .. } => fit_ranges(points.iter().copied()),
        _ => fit_ranges(req.fit.iter().map(|p| basis.project(p))),
    });
    let mut values = Vec::with_capacity(NX * NY);
    for r in 0..NY {
        let b = y_range.0 + (y_range.1 - y_range.0) * r as f64 / (NY - 1) as f64;
        for c in 0..NX {
            let a = x_range.0 + (x_range.1 - x_range.0) * c as f64 / (NX - 1) as f64;
            values.push(match &req.plane {
                PlaneRequest::Decision { params, .. } => req
                    .objective
                    .decision_value(params, &[a, b])
                    .unwrap_or(f64::NAN),
                _ => req.objective.value(&basis.lift(a, b)),
            });
        }
    }
    Grid {
        id: req.id,
        values,
        nx: NX,
        ny: NY,
        x_range,
        y_range,
        basis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expression;
    use crate::objective::ExpressionObjective;

    #[test]
    fn pca_finds_the_line_the_points_lie_on() {
        let points: Vec<Vec<f64>> = (0..20)
            .map(|k| vec![k as f64, 2.0 * k as f64, 1.0 + 0.01 * (k % 2) as f64])
            .collect();
        let Basis::Pca { d1, d2, .. } = pca_basis(&points) else {
            panic!("not a PCA basis");
        };
        let n = 5f64.sqrt();
        assert!((d1[0].abs() - 1.0 / n).abs() < 1e-6 && (d1[1].abs() - 2.0 / n).abs() < 1e-6);
        let dot: f64 = d1.iter().zip(&d2).map(|(a, b)| a * b).sum();
        assert!(dot.abs() < 1e-9);
        let basis = pca_basis(&points);
        let back = basis.lift(basis.project(&points[3]).0, basis.project(&points[3]).1);
        assert!((back[0] - 3.0).abs() < 0.02 && (back[1] - 6.0).abs() < 0.02);
    }

    #[test]
    fn worker_returns_the_grid_of_the_objective() -> Result<(), Box<dyn std::error::Error>> {
        let expr = Expression::parse("x^2 + y^2")?;
        let objective = ExpressionObjective::new(expr, vec![1.0, 1.0], None);
        let worker = Worker::spawn();
        assert!(worker.send(Request {
            id: 7,
            objective: Box::new(objective),
            plane: PlaneRequest::Axes {
                i: 0,
                j: 1,
                origin: vec![0.0, 0.0]
            },
            ranges: Some(((-1.0, 1.0), (-2.0, 2.0))),
            fit: Vec::new(),
        }));
        let grid = worker.wait().ok_or("worker gone")?;
        assert_eq!(grid.id, 7);
        assert_eq!(grid.values.len(), NX * NY);
        assert!((grid.values[0] - 5.0).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn fitted_ranges_contain_the_points_with_margin() {
        let r = fit_ranges([(0.0, 1.0), (2.0, 1.0)]);
        assert!(contains(r, (0.0, 1.0)) && contains(r, (2.0, 1.0)));
        assert!(r.0.0 < 0.0 && r.0.1 > 2.0 && r.1.0 < 1.0 && r.1.1 > 1.0);
    }
}
