//! A [`Scene`]: what is drawn over a surface for one session — each visible run's trail,
//! current point and extra points (averages, Schedule-Free's sequences) projected onto the plane, the known minimum, and on a decision map the data
//! points — plus the names the picture is labelled with. Both front ends build it the same way.

use super::palette::{self, Rgb};
use super::plane::Basis;
use super::view::ViewSpec;
use crate::session::Session;

/// One run drawn over the landscape.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    pub label: String,
    /// The run's colour (by its position in the session, so hiding a run recolours nothing).
    pub color: Rgb,
    /// Visited points in order, newest last; a non-finite point breaks the line.
    pub points: Vec<(f64, f64)>,
    /// Where the run is now.
    pub current: Option<(f64, f64)>,
    /// Points the run keeps besides its parameters, by name (ASGD's `averaged`, Schedule-Free's
    /// `y` and `z`, an `ema` or `swa` average), drawn as second markers.
    pub extras: Vec<(&'static str, (f64, f64))>,
    /// Where the run was at the loss chart's cursor, when a front end links the two.
    pub at_cursor: Option<(f64, f64)>,
}

/// Everything drawn over a [`super::Surface`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scene<'a> {
    pub trails: Vec<Trail>,
    /// Data points `(x1, x2, class)` of a decision map.
    pub data_points: &'a [(f64, f64, usize)],
    /// The objective's known minimum on the plane, if it has one and the plane holds parameters.
    pub minimum: Option<(f64, f64)>,
    /// What the grid holds, for legends: "loss", or "p(class 1)" / "class" on a decision map.
    pub value_name: &'static str,
    /// The plane's axis names (`x`/`y`, `PC1`/`PC2`, the data's feature names).
    pub axis_names: (String, String),
}

impl<'a> Scene<'a> {
    /// The scene of `session` on the plane `basis`: trails of the runs `visible` accepts (by
    /// label), cut to `view.trail` points. A decision map shows `data` instead of trails, since
    /// parameter vectors have no place in feature space.
    #[must_use]
    pub fn new(
        session: &Session,
        basis: &Basis,
        view: &ViewSpec,
        visible: &dyn Fn(&str) -> bool,
        data: &'a [(f64, f64, usize)],
    ) -> Self {
        let axis_names = axis_names(basis, session);
        if *basis == Basis::Features {
            let binary = data.iter().all(|p| p.2 <= 1);
            return Self {
                trails: Vec::new(),
                data_points: data,
                minimum: None,
                value_name: if binary { "p(class 1)" } else { "class" },
                axis_names,
            };
        }
        let trails = session
            .runs()
            .iter()
            .enumerate()
            .filter(|(_, r)| visible(r.label()))
            .map(|(i, r)| Trail {
                label: r.label().to_owned(),
                color: palette::run(i),
                points: view
                    .trail_of(r.history().points())
                    .iter()
                    .filter(|p| !p.params.is_empty())
                    .map(|p| basis.project(&p.params))
                    .collect(),
                current: Some(basis.project(r.params())),
                extras: r
                    .extra_points()
                    .iter()
                    .map(|p| (p.name, basis.project(p.params)))
                    .collect(),
                at_cursor: None,
            })
            .collect();
        Self {
            trails,
            data_points: &[],
            minimum: session
                .objective()
                .minimum()
                .map(|m| basis.project(&m))
                .filter(|p| p.0.is_finite() && p.1.is_finite()),
            value_name: "loss",
            axis_names,
        }
    }
}

/// The axis names of a plane of `session`'s objective: its variables' names, `PC1`/`PC2`, or
/// the data's two feature names on a decision map (`x1`/`x2` when the data has none).
#[must_use]
pub fn axis_names(basis: &Basis, session: &Session) -> (String, String) {
    let objective = session.objective();
    match (basis, objective.feature_names()) {
        (Basis::Features, Some(f)) if f.len() == 2 => (f[0].clone(), f[1].clone()),
        _ => basis.axis_names(&objective.param_names()),
    }
}

/// What a plane shows, for titles: "parameters (x, y)", "PCA plane (PC1, PC2)", or
/// "decision boundary of adam (radius, texture)" (`selected` names the run whose map it is;
/// `(x, y)` are the axes' names, from [`axis_names`]).
#[must_use]
pub fn title(basis: &Basis, (x, y): (&str, &str), selected: &str) -> String {
    match basis {
        Basis::Features => format!("decision boundary of {selected} ({x}, {y})"),
        Basis::Pca { .. } => format!("PCA plane ({x}, {y})"),
        Basis::Random { .. } => {
            format!("random plane ({x}, {y}) until the paths spread")
        }
        Basis::Axes { .. } => format!("parameters ({x}, {y})"),
    }
}
