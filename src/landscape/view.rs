//! How a scenario asks its landscape to be shown ([`ViewSpec`], read from the file's `view`
//! mapping) and which planes an objective can show ([`Plane`]). Both front ends read the same
//! `ViewSpec`; the TUI lets the user change it afterwards (zoom, `v`, `l`, hiding runs).

use serde::Deserialize;

use super::range::Ranges;
use crate::valid::{Problems, Validate};

/// Contour lines drawn when a scenario does not say (`view.levels`).
pub const DEFAULT_LEVELS: usize = 12;

/// Most contour lines a scenario may ask for: more than a terminal or a plot can tell apart,
/// and each is a pass over the whole grid (a million of them took `--plot` minutes and
/// gigabytes, and the explorer as long).
pub const MAX_LEVELS: usize = 100;

/// Which plane the landscape shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// Two parameters by index.
    Params(usize, usize),
    /// The plane through the trajectories' two principal directions.
    Pca,
    /// The decision boundary of the selected run over a two-feature dataset.
    Decision,
}

impl Default for Plane {
    fn default() -> Self {
        Plane::Params(0, 1)
    }
}

impl Plane {
    /// A plane an objective of `dim` parameters can show: parameter indices in range, PCA only
    /// above two parameters, the decision view only with two-feature classification data
    /// (`decision`). Anything else falls back to PCA (above two parameters) or the first two.
    #[must_use]
    pub fn normalized(self, dim: usize, decision: bool) -> Plane {
        match self {
            Plane::Decision if decision => Plane::Decision,
            Plane::Params(i, j) if i < dim && j < dim && i != j => Plane::Params(i, j),
            Plane::Pca if dim > 2 => Plane::Pca,
            _ if dim > 2 && !matches!(self, Plane::Params(..)) => Plane::Pca,
            _ => Plane::Params(0, 1.min(dim.saturating_sub(1))),
        }
    }

    /// The plane after this one in the TUI's `v` cycle: parameters → PCA (above two
    /// parameters) → decision boundary (two-feature classifiers) → parameters.
    #[must_use]
    pub fn next(self, dim: usize, decision: bool) -> Plane {
        let next = match self {
            Plane::Params(..) if dim > 2 => Plane::Pca,
            Plane::Params(..) | Plane::Pca if decision => Plane::Decision,
            Plane::Params(..) | Plane::Pca | Plane::Decision => Plane::Params(0, 1),
        };
        next.normalized(dim, decision)
    }
}

/// How a scenario asks to be shown (its `view` mapping); front ends may let the user change
/// it. The file names the plane's axes by index or by variable name, which the scenario loader
/// resolves, so `plane` is not read here.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewSpec {
    /// Horizontal window; used only together with `y_range` (else fitted to the trajectories).
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Log shading and log-spaced contour levels (and a log loss axis in the TUI).
    pub log_scale: bool,
    #[serde(skip)]
    pub plane: Plane,
    /// Contour lines over the heatmap.
    pub levels: usize,
    /// Trajectory points drawn per run (the newest); `None` draws all the history holds.
    pub trail: Option<usize>,
    /// Labels of the runs visible at start; `None` shows every run.
    pub show: Option<Vec<String>>,
}

impl Default for ViewSpec {
    fn default() -> Self {
        Self {
            x_range: None,
            y_range: None,
            log_scale: false,
            plane: Plane::default(),
            levels: DEFAULT_LEVELS,
            trail: None,
            show: None,
        }
    }
}

impl Validate for ViewSpec {
    fn validate(&self, p: &mut Problems) {
        for (key, range) in [("x_range", self.x_range), ("y_range", self.y_range)] {
            // `a < b` is false for NaN too; infinite ends are refused where the file is read
            if let Some((a, b)) = range.filter(|(a, b)| {
                a.partial_cmp(b) != Some(std::cmp::Ordering::Less) && a.is_finite() && b.is_finite()
            }) {
                p.push(
                    key,
                    format!("'{key}' [{a}, {b}] is empty"),
                    Some("[low, high] with low < high".into()),
                );
            }
        }
        p.at_least_one("levels", self.levels as u64);
        if self.levels > MAX_LEVELS {
            p.push(
                "levels",
                format!("'levels' is out of range: {}", self.levels),
                Some(format!(
                    "a whole number from 1 to {MAX_LEVELS} (each level is a contour line over \
                     the whole landscape)"
                )),
            );
        }
        if let Some(t) = self.trail {
            p.at_least_one("trail", t as u64);
        }
    }
}

impl ViewSpec {
    /// The window the scenario fixes, when it gives both ranges.
    #[must_use]
    pub fn ranges(&self) -> Option<Ranges> {
        match (self.x_range, self.y_range) {
            (Some(x), Some(y)) => Some((x, y)),
            _ => None,
        }
    }

    /// Whether the run labelled `label` is visible at start.
    #[must_use]
    pub fn shows(&self, label: &str) -> bool {
        self.show
            .as_ref()
            .is_none_or(|labels| labels.iter().any(|l| l == label))
    }

    /// The part of a trajectory that is drawn: its newest `trail` points.
    #[must_use]
    pub fn trail_of<'a, T>(&self, points: &'a [T]) -> &'a [T] {
        match self.trail {
            Some(n) => &points[points.len().saturating_sub(n)..],
            None => points,
        }
    }

    /// The run a front end starts on: the first visible one (0 when none is).
    #[must_use]
    pub fn first_shown<'a>(&self, labels: impl IntoIterator<Item = &'a str>) -> usize {
        labels.into_iter().position(|l| self.shows(l)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_normalize_to_what_the_objective_can_show() {
        assert_eq!(
            Plane::Params(0, 5).normalized(2, false),
            Plane::Params(0, 1)
        );
        assert_eq!(
            Plane::Params(2, 1).normalized(3, false),
            Plane::Params(2, 1)
        );
        assert_eq!(Plane::Pca.normalized(2, false), Plane::Params(0, 1));
        assert_eq!(Plane::Pca.normalized(9, false), Plane::Pca);
        assert_eq!(Plane::Decision.normalized(9, false), Plane::Pca);
        assert_eq!(Plane::Decision.normalized(9, true), Plane::Decision);
        assert_eq!(
            Plane::Params(0, 1).normalized(1, false),
            Plane::Params(0, 0)
        );
    }

    #[test]
    fn v_cycles_through_every_plane_the_objective_has() {
        let cycle = |dim, decision| {
            let mut p = Plane::default();
            (0..4)
                .map(|_| {
                    p = p.next(dim, decision);
                    p
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            cycle(9, true),
            [Plane::Pca, Plane::Decision, Plane::Params(0, 1), Plane::Pca]
        );
        assert_eq!(cycle(2, false), [Plane::Params(0, 1); 4]);
        assert!(!cycle(9, false).contains(&Plane::Decision));
    }

    #[test]
    fn show_trail_and_ranges() {
        let view = ViewSpec {
            show: Some(vec!["adam".into()]),
            trail: Some(2),
            x_range: Some((0.0, 1.0)),
            ..ViewSpec::default()
        };
        assert!(view.shows("adam") && !view.shows("sgd"));
        assert!(ViewSpec::default().shows("anything"));
        assert_eq!(view.trail_of(&[1, 2, 3, 4]), &[3, 4]);
        assert_eq!(view.trail_of(&[1]), &[1]);
        assert_eq!(ViewSpec::default().trail_of(&[1, 2, 3]), &[1, 2, 3]);
        assert_eq!(view.first_shown(["sgd", "adam"]), 1);
        assert_eq!(view.first_shown(["sgd"]), 0);
        assert_eq!(view.ranges(), None);
        let both = ViewSpec {
            y_range: Some((2.0, 3.0)),
            ..view
        };
        assert_eq!(both.ranges(), Some(((0.0, 1.0), (2.0, 3.0))));
        assert_eq!(ViewSpec::default().levels, DEFAULT_LEVELS);
    }
}
