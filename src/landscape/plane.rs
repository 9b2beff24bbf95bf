//! Planes through parameter space: two parameter axes, the trajectories' two principal
//! directions (PCA), two seeded random directions while the trajectories have not spread yet,
//! or a dataset's two features; projecting parameter vectors onto a plane and lifting plane
//! points back.

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The trajectories have spread (their principal plane means something) once their extent
/// along the first principal direction is this share of the parameters' size
/// ([`radius`]); before, the PCA request shows a random plane instead.
pub const SPREAD: f64 = 1e-3;

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
    /// Two seeded random orthonormal directions through `origin`: what a PCA request shows
    /// while the trajectories are still too close together for their principal directions to
    /// mean anything (at the start, or a few tiny steps in).
    Random {
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
            Basis::Pca { origin, d1, d2 } | Basis::Random { origin, d1, d2 } => {
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
            Basis::Pca { origin, d1, d2 } | Basis::Random { origin, d1, d2 } => origin
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
            Basis::Pca { .. } => ("PC1".into(), "PC2".into()),
            Basis::Random { .. } => ("d1".into(), "d2".into()),
            Basis::Features => ("x1".into(), "x2".into()),
        }
    }

    /// Whether two bases are the same plane, so a picture of one compares with the other's
    /// (the heatmap keeps its colours): the same axes through points that differ only along
    /// them, or the very same directions. Never for decision maps, whose values change with the
    /// model.
    #[must_use]
    pub fn same_plane(&self, other: &Basis) -> bool {
        match (self, other) {
            (
                Basis::Axes { i, j, origin },
                Basis::Axes {
                    i: i2,
                    j: j2,
                    origin: o2,
                },
            ) => {
                i == i2
                    && j == j2
                    && origin.len() == o2.len()
                    && (0..origin.len()).all(|k| k == *i || k == *j || origin[k] == o2[k])
            }
            (Basis::Pca { .. }, Basis::Pca { .. })
            | (Basis::Random { .. }, Basis::Random { .. }) => self == other,
            _ => false,
        }
    }
}

/// The size of a parameter vector for scaling planes: its Euclidean norm, or 1 when that is
/// zero or not finite (a model initialised at zero).
#[must_use]
pub fn radius(p: &[f64]) -> f64 {
    let n = p.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 0.0 && n.is_finite() { n } else { 1.0 }
}

/// Two random orthonormal directions through `origin`, from `seed` (Gram–Schmidt on standard
/// normal draws), for a plane to show before the trajectories have spread.
#[must_use]
pub fn random_basis(origin: Vec<f64>, seed: u64) -> Basis {
    let dim = origin.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut unit = |avoid: Option<&[f64]>| {
        for _ in 0..8 {
            let mut d: Vec<f64> = (0..dim)
                .map(|_| crate::optim::genetic::normal(&mut rng))
                .collect();
            if let Some(u) = avoid {
                let dot: f64 = d.iter().zip(u).map(|(a, b)| a * b).sum();
                d.iter_mut().zip(u).for_each(|(x, u)| *x -= dot * u);
            }
            let norm = d.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-9 {
                d.iter_mut().for_each(|x| *x /= norm);
                return d;
            }
        }
        (0..dim).map(|k| if k == 0 { 1.0 } else { 0.0 }).collect()
    };
    let d1 = unit(None);
    let d2 = if dim > 1 { unit(Some(&d1)) } else { d1.clone() };
    Basis::Random { origin, d1, d2 }
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

/// Principal directions of the points (centred at their mean). Until the points have spread
/// (their extent along the first direction is at least [`SPREAD`] of the mean's [`radius`]),
/// two random directions from `seed` through the mean instead ([`random_basis`]): the
/// principal directions of points a hair apart are noise, and their plane a flat window of
/// ±1e-7. A second direction the points do not span is any direction orthogonal to the first.
#[must_use]
pub fn pca_basis(points: &[Vec<f64>], seed: u64) -> Basis {
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
    let fallback = random_basis(mean.clone(), seed);
    if dim < 2 {
        return Basis::Pca {
            origin: mean,
            d1: axis(0),
            d2: axis(0),
        };
    }
    if m < 2 {
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
    let along = |p: &Vec<f64>| -> f64 {
        p.iter()
            .zip(&mean)
            .zip(&d1)
            .map(|((x, o), u)| (x - o) * u)
            .sum()
    };
    let (lo, hi) = points
        .iter()
        .map(along)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), a| {
            (lo.min(a), hi.max(a))
        });
    // NaN (no finite extent) counts as not spread.
    let spread = hi - lo >= SPREAD * radius(&mean);
    if !spread {
        return fallback;
    }
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
        let Basis::Pca { d1, d2, .. } = pca_basis(&points, 0) else {
            panic!("not a PCA basis");
        };
        let n = 5f64.sqrt();
        assert!((d1[0].abs() - 1.0 / n).abs() < 1e-6 && (d1[1].abs() - 2.0 / n).abs() < 1e-6);
        let dot: f64 = d1.iter().zip(&d2).map(|(a, b)| a * b).sum();
        assert!(dot.abs() < 1e-9);
        let basis = pca_basis(&points, 0);
        let back = basis.lift(basis.project(&points[3]).0, basis.project(&points[3]).1);
        assert!((back[0] - 3.0).abs() < 0.02 && (back[1] - 6.0).abs() < 0.02);
    }

    #[test]
    fn pca_skips_non_finite_points_and_degenerate_input() {
        let mut points: Vec<Vec<f64>> = (0..10).map(|k| vec![k as f64, 0.5 * k as f64]).collect();
        points.push(vec![f64::NAN, 1.0]);
        points.push(vec![f64::INFINITY, f64::NEG_INFINITY]);
        let Basis::Pca { origin, d1, d2 } = pca_basis(&points, 0) else {
            panic!("not a PCA basis");
        };
        assert!(origin.iter().chain(&d1).chain(&d2).all(|v| v.is_finite()));
        assert!((origin[0] - 4.5).abs() < 1e-12);
        let Basis::Random { origin, d1, .. } = pca_basis(&[vec![f64::NAN; 3]], 0) else {
            panic!("not a random basis");
        };
        assert_eq!(origin.len(), 3);
        assert!(d1.iter().all(|v| v.is_finite()));
        assert!(matches!(pca_basis(&[], 0), Basis::Pca { .. }));
        // Far-out (diverging) points: squares would overflow without scaling.
        let far: Vec<Vec<f64>> = (0..10)
            .map(|k| vec![1e200 * k as f64, -3e200 * k as f64, 1.0])
            .collect();
        let Basis::Pca { d1, .. } = pca_basis(&far, 0) else {
            panic!("not a PCA basis");
        };
        let n = 10f64.sqrt();
        assert!((d1[0].abs() - 1.0 / n).abs() < 1e-9 && (d1[1].abs() - 3.0 / n).abs() < 1e-9);
    }

    #[test]
    fn a_degenerate_trajectory_gets_a_seeded_random_plane_until_it_spreads() {
        // Early in a run: 337 parameters of size ~0.5 that moved by 1e-7.
        let start: Vec<f64> = (0..337).map(|k| 0.5 * ((k as f64) * 0.7).sin()).collect();
        let early: Vec<Vec<f64>> = (0..6)
            .map(|t| {
                start
                    .iter()
                    .enumerate()
                    .map(|(k, x)| x + 1e-7 * (t * (k % 3)) as f64)
                    .collect()
            })
            .collect();
        let Basis::Random { origin, d1, d2 } = pca_basis(&early, 7) else {
            panic!("a degenerate trajectory kept its PCA plane");
        };
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        assert!((dot(&d1, &d1) - 1.0).abs() < 1e-12 && (dot(&d2, &d2) - 1.0).abs() < 1e-12);
        assert!(dot(&d1, &d2).abs() < 1e-12);
        // Seeded: the same plane for the same seed, another for another.
        assert_eq!(pca_basis(&early, 7), pca_basis(&early, 7));
        assert_ne!(pca_basis(&early, 7), pca_basis(&early, 8));
        assert!((radius(&origin) - radius(&start)).abs() < 1e-3);
        assert_eq!(radius(&[0.0, 0.0]), 1.0);
        // Once the points have spread, their principal plane.
        let spread: Vec<Vec<f64>> = (0..6)
            .map(|t| {
                start
                    .iter()
                    .enumerate()
                    .map(|(k, x)| x + 0.1 * (t * (k % 3)) as f64)
                    .collect()
            })
            .collect();
        assert!(matches!(pca_basis(&spread, 7), Basis::Pca { .. }));
        // A single point (step 0) has no principal directions either.
        assert!(matches!(pca_basis(&early[..1], 7), Basis::Random { .. }));
    }

    #[test]
    fn planes_compare_by_what_they_show() {
        let axes = |origin: Vec<f64>| Basis::Axes { i: 0, j: 1, origin };
        // Only the coordinates off the plane matter.
        assert!(axes(vec![1.0, 2.0, 3.0]).same_plane(&axes(vec![5.0, 6.0, 3.0])));
        assert!(!axes(vec![1.0, 2.0, 3.0]).same_plane(&axes(vec![1.0, 2.0, 4.0])));
        assert!(!Basis::Features.same_plane(&Basis::Features));
        let r = random_basis(vec![1.0, 2.0, 3.0], 1);
        assert!(r.same_plane(&r.clone()) && !r.same_plane(&random_basis(vec![1.0, 2.0, 3.0], 2)));
    }

    #[test]
    fn subsample_keeps_the_last_point() {
        let points: Vec<Vec<f64>> = (0..10).map(|k| vec![k as f64]).collect();
        let s = subsample(&points, 4);
        assert!(s.len() <= 5 && s.last() == points.last());
        assert_eq!(subsample(&points, 20).len(), 10);
    }
}
