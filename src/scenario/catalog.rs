//! The hooks through which the optimizer registry and the expression language validate a
//! scenario, without the scenario module depending on them: [`Catalog`] and its vocabulary.

use std::fmt;

use super::schema::HyperValue;

/// A closed, open or half-open interval of allowed values; `None` ends are unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower end.
    pub min: Option<f64>,
    /// Whether `min` itself is allowed.
    pub min_inclusive: bool,
    /// Upper end.
    pub max: Option<f64>,
    /// Whether `max` itself is allowed.
    pub max_inclusive: bool,
}

impl Range {
    /// Any finite number.
    pub const ANY: Range = Range {
        min: None,
        min_inclusive: false,
        max: None,
        max_inclusive: false,
    };

    /// `[min, ∞)`.
    #[must_use]
    pub fn at_least(min: f64) -> Range {
        Range {
            min: Some(min),
            min_inclusive: true,
            ..Range::ANY
        }
    }

    /// `(min, ∞)`.
    #[must_use]
    pub fn above(min: f64) -> Range {
        Range {
            min: Some(min),
            min_inclusive: false,
            ..Range::ANY
        }
    }

    /// `[min, max]`.
    #[must_use]
    pub fn closed(min: f64, max: f64) -> Range {
        Range {
            min: Some(min),
            min_inclusive: true,
            max: Some(max),
            max_inclusive: true,
        }
    }

    /// `(min, max)`.
    #[must_use]
    pub fn open(min: f64, max: f64) -> Range {
        Range {
            min: Some(min),
            min_inclusive: false,
            max: Some(max),
            max_inclusive: false,
        }
    }

    /// `[min, max)`.
    #[must_use]
    pub fn closed_open(min: f64, max: f64) -> Range {
        Range {
            max_inclusive: false,
            ..Range::closed(min, max)
        }
    }

    /// `(min, max]`.
    #[must_use]
    pub fn open_closed(min: f64, max: f64) -> Range {
        Range {
            min_inclusive: false,
            ..Range::closed(min, max)
        }
    }

    /// True when `x` is finite and inside.
    #[must_use]
    pub fn contains(&self, x: f64) -> bool {
        if !x.is_finite() {
            return false;
        }
        let lo = self
            .min
            .is_none_or(|m| if self.min_inclusive { x >= m } else { x > m });
        let hi = self
            .max
            .is_none_or(|m| if self.max_inclusive { x <= m } else { x < m });
        lo && hi
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (None, None) => f.write_str("a finite number"),
            (Some(m), None) => write!(f, "{} {m}", if self.min_inclusive { ">=" } else { ">" }),
            (None, Some(m)) => write!(f, "{} {m}", if self.max_inclusive { "<=" } else { "<" }),
            (Some(a), Some(b)) => write!(
                f,
                "in {}{a}, {b}{}",
                if self.min_inclusive { '[' } else { '(' },
                if self.max_inclusive { ']' } else { ')' }
            ),
        }
    }
}

/// The type of a hyperparameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HyperKind {
    /// A real number.
    Float,
    /// A whole number.
    Int,
    /// `true`/`false`.
    Bool,
    /// Two numbers `[a, b]` (torch tuples such as `betas`, `etas`, `step_sizes`).
    Pair,
    /// Two numbers, the first of which may be `null` (torch's `None`: Adafactor's `eps`).
    OptionalPair,
    /// Three numbers `[a, b, c]` (Muon's `ns_coefficients`).
    Triple,
    /// One of these names (Muon's `adjust_lr_fn`).
    Choice(&'static [&'static str]),
}

impl fmt::Display for HyperKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HyperKind::Float => "a number",
            HyperKind::Int => "a whole number",
            HyperKind::Bool => "true or false",
            HyperKind::Pair => "a pair [a, b]",
            HyperKind::OptionalPair => "a pair [a, b] (a may be null)",
            HyperKind::Triple => "three numbers [a, b, c]",
            HyperKind::Choice(names) => return write!(f, "one of {}", names.join(", ")),
        })
    }
}

/// What the registry says about one hyperparameter of one optimizer.
#[derive(Debug, Clone, PartialEq)]
pub struct HyperInfo {
    /// Torch name, e.g. `lr`.
    pub name: String,
    /// Its type.
    pub kind: HyperKind,
    /// Allowed values (for a pair: of its first element, and of the second unless
    /// `second_range` says otherwise).
    pub range: Range,
    /// Allowed values of a pair's second element when they differ (rprop's `etas`).
    pub second_range: Option<Range>,
}

impl HyperInfo {
    /// A hyperparameter with one range.
    #[must_use]
    pub fn new(name: &str, kind: HyperKind, range: Range) -> Self {
        HyperInfo {
            name: name.to_string(),
            kind,
            range,
            second_range: None,
        }
    }
}

/// A syntax error in an expression, at a character offset into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprIssue {
    /// What is wrong.
    pub message: String,
    /// 0-based character offset into the expression text.
    pub offset: usize,
}

/// What one run of an optimizer keeps in memory and computes per step, in the terms the
/// resource estimate ([`budget`](super::budget)) needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    /// Vectors as long as the parameters that the optimizer keeps (moments, last step, ...).
    pub state_vectors: f64,
    /// What one step computes.
    pub step: StepKind,
}

impl Default for Footprint {
    /// A first-order optimizer: a gradient a step and a few moment vectors.
    fn default() -> Self {
        Footprint {
            state_vectors: 4.0,
            step: StepKind::Gradient,
        }
    }
}

/// The dominant work of one optimizer step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepKind {
    /// One gradient (and a value or two).
    Gradient,
    /// Up to `iterations` gradients, and `history` pairs of parameter-length vectors (L-BFGS).
    QuasiNewton { iterations: f64, history: f64 },
    /// The full Hessian (an n × n matrix, factorised).
    Hessian,
    /// The residuals' Jacobian, `tries` damped solves of the n × n normal equations; the full
    /// Hessian when the objective has no residuals (Levenberg-Marquardt).
    Jacobian { tries: f64 },
    /// `size` candidate points evaluated (and, if `kept`, stored) per step; `hyper` names the
    /// hyperparameter that sets the size.
    Population {
        size: f64,
        kept: bool,
        hyper: &'static str,
    },
    /// A simplex of n + 1 points (Nelder-Mead).
    Simplex,
}

/// What the rest of the program knows that a scenario is checked against. The loader works
/// without one (names and hyperparameters then go unchecked); the application passes the real
/// registry.
pub trait Catalog {
    /// Every optimizer name the registry knows.
    fn optimizer_names(&self) -> Vec<String>;

    /// The hyperparameters of `optimizer`, or `None` if the name is unknown.
    fn hyperparameters(&self, optimizer: &str) -> Option<Vec<HyperInfo>>;

    /// Why `optimizer`, a name the registry knows of but does not offer, is not offered.
    fn not_offered(&self, _optimizer: &str) -> Option<String> {
        None
    }

    /// The variables an expression uses, in first-use order, or the syntax error; `None` when
    /// expressions cannot be checked.
    fn expression_variables(&self, _expr: &str) -> Option<Result<Vec<String>, ExprIssue>> {
        None
    }

    /// What a run of `optimizer` with these hyperparameters costs; `None` when unknown (the
    /// estimate then assumes a first-order optimizer).
    fn footprint(&self, _optimizer: &str, _hyper: &[(String, HyperValue)]) -> Option<Footprint> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(Range::above(0.0).contains(1e-9));
        assert!(!Range::above(0.0).contains(0.0));
        assert!(Range::closed_open(0.0, 1.0).contains(0.0));
        assert!(!Range::closed_open(0.0, 1.0).contains(1.0));
        assert!(!Range::ANY.contains(f64::NAN));
        assert_eq!(Range::closed_open(0.0, 1.0).to_string(), "in [0, 1)");
        assert_eq!(Range::above(0.0).to_string(), "> 0");
    }
}
