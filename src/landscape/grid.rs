//! Grid evaluation: what a landscape request asks for (a plane, ranges, the points to keep in
//! view), how a session's state becomes one ([`request`]), and the [`Grid`] of loss or decision
//! values computing it gives. The TUI computes requests on a worker thread; the plot exporter
//! computes the same request in place.

use super::plane::{Basis, PCA_POINTS, pca_basis, radius, subsample};
use super::range::{Ranges, fit_ranges};
use super::view::Plane;
use crate::objective::Objective;
use crate::session::{Session, Status};

/// Grid resolution: bounded work per request whatever the model.
pub const NX: usize = 96;
pub const NY: usize = 64;

/// What plane a request asks for.
pub enum PlaneRequest {
    Axes {
        i: usize,
        j: usize,
        origin: Vec<f64>,
    },
    /// PCA of these points (already subsampled); a random plane from `seed` while they have
    /// not spread ([`super::plane::pca_basis`]).
    Pca { points: Vec<Vec<f64>>, seed: u64 },
    /// Decision values of the model at `params` over the plane of the data's two features;
    /// automatic ranges fit `points`.
    Decision {
        params: Vec<f64>,
        points: Vec<(f64, f64)>,
    },
}

/// One grid to compute.
pub struct Request {
    /// The caller's tag, returned in the grid (the TUI drops grids of stale requests).
    pub id: u64,
    pub objective: Box<dyn Objective>,
    pub plane: PlaneRequest,
    /// Explicit ranges; `None` chooses them from `fit` (points to keep in view).
    pub ranges: Option<Ranges>,
    pub fit: Vec<Vec<f64>>,
}

/// A computed grid of values over a plane.
#[derive(Debug, Clone)]
pub struct Grid {
    pub id: u64,
    /// `nx · ny` values, row-major, row 0 at the bottom (`y_range.0`), column 0 at `x_range.0`;
    /// grid points sit exactly on the range ends.
    pub values: Vec<f64>,
    pub nx: usize,
    pub ny: usize,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub basis: Basis,
}

/// Every run's recorded parameters in order, then its current ones (for PCA and fitting).
/// Diverged runs are left out while any run has not diverged: the window and the plane follow
/// the runs that mean something, and a diverged one is marked where it left the window.
#[must_use]
pub fn trajectory_points(session: &Session) -> Vec<Vec<f64>> {
    let diverged = |r: &crate::session::Run| matches!(r.status(), Status::Diverged(_));
    let all_diverged = session.runs().iter().all(diverged);
    let mut pts = Vec::new();
    for r in session
        .runs()
        .iter()
        .filter(|r| all_diverged || !diverged(r))
    {
        // Points whose parameters the history did not keep (a large model's) carry none.
        pts.extend(
            r.history()
                .points()
                .iter()
                .filter(|p| !p.params.is_empty())
                .map(|p| p.params.clone()),
        );
        pts.push(r.params().to_vec());
    }
    pts
}

/// The request for `plane` of a session's landscape as it stands: the parameter plane through
/// run `selected`'s point, the PCA plane of every trajectory, or the decision map of run
/// `selected` over the data's two features. `ranges` fixes the window; without it the window
/// fits every trajectory and the known minimum (or the data points, for a decision map).
#[must_use]
pub fn request(
    session: &Session,
    plane: Plane,
    selected: usize,
    ranges: Option<Ranges>,
    data: Option<&[(f64, f64, usize)]>,
) -> Request {
    let objective = session.objective();
    let here = || {
        session
            .runs()
            .get(selected)
            .map_or_else(|| objective.start(), |r| r.params().to_vec())
    };
    let mut fit = trajectory_points(session);
    let plane = match plane {
        Plane::Params(i, j) => PlaneRequest::Axes {
            i,
            j,
            origin: here(),
        },
        Plane::Decision => PlaneRequest::Decision {
            params: here(),
            points: data
                .unwrap_or(&[])
                .iter()
                .map(|&(x, y, _)| (x, y))
                .collect(),
        },
        Plane::Pca => PlaneRequest::Pca {
            points: subsample(&fit, PCA_POINTS),
            seed: session.seed(),
        },
    };
    if let Some(m) = objective.minimum() {
        fit.push(m);
    }
    Request {
        id: 0,
        objective: objective.box_clone(),
        plane,
        ranges,
        fit,
    }
}

/// Computes a request: the basis, the ranges, then `NX × NY` values.
#[must_use]
pub fn compute(req: &Request) -> Grid {
    let basis = match &req.plane {
        PlaneRequest::Axes { i, j, origin } => Basis::Axes {
            i: *i,
            j: *j,
            origin: origin.clone(),
        },
        PlaneRequest::Pca { points, seed } => pca_basis(points, *seed),
        PlaneRequest::Decision { .. } => Basis::Features,
    };
    let (x_range, y_range) = req
        .ranges
        .filter(|(x, y)| super::range::valid_range(*x) && super::range::valid_range(*y))
        .unwrap_or_else(|| match (&req.plane, &basis) {
            (PlaneRequest::Decision { points, .. }, _) => fit_ranges(points.iter().copied()),
            // Random directions through the parameters, as far out as the parameters are
            // large: the paths are a dot in the middle, the window shows the landscape.
            (_, Basis::Random { origin, .. }) => {
                let r = radius(origin);
                ((-r, r), (-r, r))
            }
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

/// The point a fraction `f` of the way through a range.
fn lerp((lo, hi): (f64, f64), f: f64) -> f64 {
    lo + (hi - lo) * f
}

impl Grid {
    /// The value at plane point `(x, y)`, bilinear between grid points; where a corner is not
    /// finite, the nearest corner's value (so missing regions keep sharp edges instead of
    /// spreading). Outside the ranges the edge value; NaN for a malformed grid.
    #[must_use]
    pub fn value_at(&self, x: f64, y: f64) -> f64 {
        let (nx, ny) = (self.nx, self.ny);
        if nx < 2 || ny < 2 || self.values.len() != nx * ny {
            return f64::NAN;
        }
        let gx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0) * (nx - 1) as f64;
        let gy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0) * (ny - 1) as f64;
        self.sample(gx, gy)
    }

    /// [`Grid::value_at`] in grid coordinates (column, row; fractional).
    #[must_use]
    pub fn sample(&self, gx: f64, gy: f64) -> f64 {
        let (nx, ny, grid) = (self.nx, self.ny, &self.values);
        if nx < 2 || ny < 2 || grid.len() != nx * ny || gx.is_nan() || gy.is_nan() {
            return f64::NAN;
        }
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

    /// Plane coordinates of a grid coordinate.
    #[must_use]
    pub fn to_plane(&self, (gx, gy): (f64, f64)) -> (f64, f64) {
        (
            lerp(self.x_range, gx / (self.nx - 1).max(1) as f64),
            lerp(self.y_range, gy / (self.ny - 1).max(1) as f64),
        )
    }
}

/// Rosenbrock's function on an `nx × ny` grid over `[-2, 2] × [-1, 3]` (the parameter plane),
/// for tests of what is drawn from grids.
#[cfg(test)]
pub(crate) fn rosenbrock_grid(nx: usize, ny: usize) -> Grid {
    let mut values = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        let y = -1.0 + 4.0 * j as f64 / (ny - 1) as f64;
        for i in 0..nx {
            let x = -2.0 + 4.0 * i as f64 / (nx - 1) as f64;
            values.push((1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2));
        }
    }
    Grid {
        id: 0,
        values,
        nx,
        ny,
        x_range: (-2.0, 2.0),
        y_range: (-1.0, 3.0),
        basis: Basis::Axes {
            i: 0,
            j: 1,
            origin: vec![0.0, 0.0],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expression;
    use crate::objective::ExpressionObjective;

    fn bowl() -> Result<Box<dyn Objective>, Box<dyn std::error::Error>> {
        let expr = Expression::parse("x^2 + y^2")?;
        Ok(Box::new(ExpressionObjective::new(
            expr,
            vec![1.0, 1.0],
            None,
        )))
    }

    #[test]
    fn the_grid_holds_the_objective_on_the_plane() -> Result<(), Box<dyn std::error::Error>> {
        let grid = compute(&Request {
            id: 7,
            objective: bowl()?,
            plane: PlaneRequest::Axes {
                i: 0,
                j: 1,
                origin: vec![0.0, 0.0],
            },
            ranges: Some(((-1.0, 1.0), (-2.0, 2.0))),
            fit: Vec::new(),
        });
        assert_eq!(grid.id, 7);
        assert_eq!(grid.values.len(), NX * NY);
        assert!((grid.values[0] - 5.0).abs() < 1e-12);
        assert!((grid.values[NX * NY - 1] - 5.0).abs() < 1e-12);
        // Bilinear between grid points, exact on them.
        assert!((grid.value_at(-1.0, -2.0) - 5.0).abs() < 1e-12);
        assert!(grid.value_at(0.0, 0.0) < 0.01);
        assert_eq!(grid.to_plane((0.0, (NY - 1) as f64)), (-1.0, 2.0));
        Ok(())
    }

    #[test]
    fn fitted_ranges_skip_non_finite_trajectory_points() -> Result<(), Box<dyn std::error::Error>> {
        let grid = compute(&Request {
            id: 0,
            objective: bowl()?,
            plane: PlaneRequest::Axes {
                i: 0,
                j: 1,
                origin: vec![0.0, 0.0],
            },
            ranges: Some(((0.0, f64::INFINITY), (0.0, 1.0))),
            fit: vec![
                vec![f64::NAN, 1.0],
                vec![f64::INFINITY, 2.0],
                vec![0.5, 0.5],
            ],
        });
        assert!(grid.x_range.0.is_finite() && grid.x_range.1.is_finite());
        assert!(super::super::range::contains(
            (grid.x_range, grid.y_range),
            (0.5, 0.5)
        ));
        assert!(grid.values.iter().all(|v| v.is_finite()));
        Ok(())
    }

    #[test]
    fn sampling_keeps_missing_regions_sharp() {
        let grid = Grid {
            id: 0,
            values: vec![1.0, f64::NAN, 3.0, 4.0],
            nx: 2,
            ny: 2,
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
            basis: Basis::Features,
        };
        assert_eq!(grid.sample(0.2, 0.2), 1.0);
        assert!(grid.sample(0.8, 0.2).is_nan());
        assert_eq!(grid.sample(0.2, 0.9), 3.0);
        assert!(grid.sample(f64::NAN, 0.0).is_nan());
        let bad = Grid {
            nx: 3,
            ..grid.clone()
        };
        assert!(bad.value_at(0.5, 0.5).is_nan());
    }
}
