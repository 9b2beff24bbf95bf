//! Valid values of settings: intervals of real numbers ([`Range`], [`Bound`]) and the problems
//! a check of settings finds ([`Problems`]), each named by the key that holds the bad value.
//!
//! The runtime types own their rules (a schedule knows that its `gamma` must be positive, an
//! initialiser that `a < b`) through [`Validate`]; the scenario loader runs those checks on
//! what it read and puts each problem at its key in the file, so a rule is written once and a
//! file that breaks it is refused where it says so.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One end of a [`Range`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Unbounded,
    Inclusive(f64),
    Exclusive(f64),
}

/// The lower bound `> m`.
#[must_use]
pub const fn gt(m: f64) -> Bound {
    Bound::Exclusive(m)
}
/// The lower bound `>= m`.
#[must_use]
pub const fn ge(m: f64) -> Bound {
    Bound::Inclusive(m)
}
/// The upper bound `< m`.
#[must_use]
pub const fn lt(m: f64) -> Bound {
    Bound::Exclusive(m)
}
/// The upper bound `<= m`.
#[must_use]
pub const fn le(m: f64) -> Bound {
    Bound::Inclusive(m)
}
/// No bound on this side.
pub const INF: Bound = Bound::Unbounded;

/// An interval of valid real values (never NaN; infinite only where a bound says so).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min: Bound,
    pub max: Bound,
}

impl Range {
    #[must_use]
    pub const fn new(min: Bound, max: Bound) -> Self {
        Self { min, max }
    }

    /// Whether `v` lies in the range. NaN never does, and an infinity only where a bound
    /// includes it explicitly (`le(f64::INFINITY)`: Prodigy's `growth_rate`, whose reference
    /// default is `inf`); an unbounded side admits every finite value and no infinity.
    #[must_use]
    pub fn contains(&self, v: f64) -> bool {
        if v.is_nan()
            || (v.is_infinite()
                && self.min != Bound::Inclusive(v)
                && self.max != Bound::Inclusive(v))
        {
            return false;
        }
        let lo = match self.min {
            Bound::Unbounded => true,
            Bound::Inclusive(m) => v >= m,
            Bound::Exclusive(m) => v > m,
        };
        let hi = match self.max {
            Bound::Unbounded => true,
            Bound::Inclusive(m) => v <= m,
            Bound::Exclusive(m) => v < m,
        };
        lo && hi
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Bound::Unbounded, Bound::Unbounded) => write!(f, "finite"),
            (Bound::Inclusive(m), Bound::Unbounded) => write!(f, ">= {m}"),
            (Bound::Exclusive(m), Bound::Unbounded) => write!(f, "> {m}"),
            (Bound::Unbounded, Bound::Inclusive(m)) => write!(f, "<= {m}"),
            (Bound::Unbounded, Bound::Exclusive(m)) => write!(f, "< {m}"),
            (lo, hi) => {
                let (l, a) = match lo {
                    Bound::Inclusive(m) => ('[', m),
                    Bound::Exclusive(m) => ('(', m),
                    Bound::Unbounded => ('(', f64::NEG_INFINITY),
                };
                let (r, b) = match hi {
                    Bound::Inclusive(m) => (']', m),
                    Bound::Exclusive(m) => (')', m),
                    Bound::Unbounded => (')', f64::INFINITY),
                };
                write!(f, "in {l}{a}, {b}{r}")
            }
        }
    }
}

impl Range {
    /// Any finite number.
    pub const FINITE: Range = Range::new(INF, INF);

    /// What a message says is expected: `a number > 0`, `a number in [0, 1)`, `a finite number`.
    #[must_use]
    pub fn expected(&self) -> String {
        match (self.min, self.max) {
            (Bound::Unbounded, Bound::Unbounded) => "a finite number".into(),
            _ => format!("a number {self}"),
        }
    }
}

/// One bad setting: the key that holds it (a path below the value checked, such as
/// `then.gamma`), what is wrong, and what would be accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: String,
    pub message: String,
    pub expected: Option<String>,
}

/// The problems a [`Validate::validate`] finds, in the order found.
#[derive(Debug, Default)]
pub struct Problems {
    prefix: String,
    list: Vec<Problem>,
}

impl Problems {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn into_vec(self) -> Vec<Problem> {
        self.list
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// A problem with the value at `key`.
    pub fn push(&mut self, key: &str, message: impl Into<String>, expected: Option<String>) {
        let key = if self.prefix.is_empty() {
            key.to_string()
        } else if key.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}.{key}", self.prefix)
        };
        self.list.push(Problem {
            key,
            message: message.into(),
            expected,
        });
    }

    /// `value`, at `key`, must lie in `range`.
    pub fn range(&mut self, key: &str, value: f64, range: Range) {
        if !range.contains(value) {
            self.push(
                key,
                format!("'{key}' is out of range: {value}"),
                Some(range.expected()),
            );
        }
    }

    /// A count at `key` that must be at least 1.
    pub fn at_least_one(&mut self, key: &str, value: u64) {
        if value == 0 {
            self.push(
                key,
                format!("'{key}' must be at least 1, found 0"),
                Some("a whole number >= 1".into()),
            );
        }
    }

    /// The checks of a value nested at `key`, their keys below it.
    pub fn within(&mut self, key: &str, check: impl FnOnce(&mut Problems)) {
        let outer = std::mem::take(&mut self.prefix);
        self.prefix = if outer.is_empty() {
            key.to_string()
        } else {
            format!("{outer}.{key}")
        };
        check(self);
        self.prefix = outer;
    }
}

/// Settings that check themselves beyond what their types say: ranges, orderings, lengths.
pub trait Validate {
    /// Adds a [`Problem`] for every bad value, named by its key.
    fn validate(&self, problems: &mut Problems);

    /// The problems of `self` alone.
    fn problems(&self) -> Vec<Problem> {
        let mut p = Problems::new();
        self.validate(&mut p);
        p.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_named_by_their_path() {
        let mut p = Problems::new();
        p.range("gamma", 0.0, Range::new(gt(0.0), INF));
        p.within("then", |p| {
            p.at_least_one("T_max", 0);
            p.range("eta_min", 1.0, Range::new(ge(0.0), INF));
        });
        p.range("factor", f64::NAN, Range::FINITE);
        let got: Vec<(String, String, Option<String>)> = p
            .into_vec()
            .into_iter()
            .map(|p| (p.key, p.message, p.expected))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "gamma".into(),
                    "'gamma' is out of range: 0".into(),
                    Some("a number > 0".into())
                ),
                (
                    "then.T_max".into(),
                    "'T_max' must be at least 1, found 0".into(),
                    Some("a whole number >= 1".into())
                ),
                (
                    "factor".into(),
                    "'factor' is out of range: NaN".into(),
                    Some("a finite number".into())
                ),
            ]
        );
    }
}
