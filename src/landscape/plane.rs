//! Planes through parameter space: two parameter axes, the trajectories' two principal
//! directions (PCA), or a dataset's two features; projecting parameter vectors onto a plane and
//! lifting plane points back.

use nalgebra::DMatrix;

/// Points used for PCA at most (subsampled evenly), so the SVD stays small.
pub const PCA_POINTS: usize = 400;

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
    // A diverged run's NaN or infinite points would poison the mean and the SVD.
    let finite: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.len() == dim && p.iter().all(|v| v.is_finite()))
        .cloned()
        .collect();
    let points = subsample(&finite, PCA_POINTS);
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
    if dim == 0 {
        return Basis::Pca {
            origin: Vec::new(),
            d1: Vec::new(),
            d2: Vec::new(),
        };
    }
    let fallback = Basis::Pca {
        origin: mean.clone(),
        d1: axis(0),
        d2: axis(1.min(dim - 1)),
    };
    if m < 2 || dim < 2 {
        return fallback;
    }
    let mut centred = DMatrix::from_fn(m, dim, |r, c| points[r][c] - mean[c]);
    // Directions do not depend on scale; unit scale keeps squares of huge coordinates (a run
    // far out at 1e200) from overflowing inside the SVD.
    let scale = centred.amax();
    if !(scale > 0.0 && scale.is_finite()) {
        return fallback;
    }
    centred /= scale;
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn pca_skips_non_finite_points_and_degenerate_input() {
        let mut points: Vec<Vec<f64>> = (0..10).map(|k| vec![k as f64, 0.5 * k as f64]).collect();
        points.push(vec![f64::NAN, 1.0]);
        points.push(vec![f64::INFINITY, f64::NEG_INFINITY]);
        let Basis::Pca { origin, d1, d2 } = pca_basis(&points) else {
            panic!("not a PCA basis");
        };
        assert!(origin.iter().chain(&d1).chain(&d2).all(|v| v.is_finite()));
        assert!((origin[0] - 4.5).abs() < 1e-12);
        let Basis::Pca { origin, d1, .. } = pca_basis(&[vec![f64::NAN; 3]]) else {
            panic!("not a PCA basis");
        };
        assert_eq!(origin.len(), 3);
        assert_eq!(d1, [1.0, 0.0, 0.0]);
        assert!(matches!(pca_basis(&[]), Basis::Pca { .. }));
        // Far-out (diverging) points: squares would overflow without scaling.
        let far: Vec<Vec<f64>> = (0..10)
            .map(|k| vec![1e200 * k as f64, -3e200 * k as f64, 1.0])
            .collect();
        let Basis::Pca { d1, .. } = pca_basis(&far) else {
            panic!("not a PCA basis");
        };
        let n = 10f64.sqrt();
        assert!((d1[0].abs() - 1.0 / n).abs() < 1e-9 && (d1[1].abs() - 3.0 / n).abs() < 1e-9);
    }

    #[test]
    fn subsample_keeps_the_last_point() {
        let points: Vec<Vec<f64>> = (0..10).map(|k| vec![k as f64]).collect();
        let s = subsample(&points, 4);
        assert!(s.len() <= 5 && s.last() == points.last());
        assert_eq!(subsample(&points, 20).len(), 10);
    }
}
