//! Hyperparameters: their values, domains and ranges (plain, serde-friendly data), the typed
//! hyperparameter struct every optimizer keeps ([`Hypers`]: one table of its fields with their
//! torch names, ranges and descriptions), and [`HyperSet`], which validates every change made by
//! name (scenario files, the TUI editor, the session) against that table.
//!
//! Inside an optimizer hyperparameters are plain typed fields (`self.h.lr`, `self.h.betas.0`), so
//! a misspelt name does not compile; at the edges a misspelt name is an [`OptimError`] with a
//! suggestion.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use super::OptimError;
use super::registry::OptimizerSpec;
use crate::suggest::nearest as suggest;
pub use crate::valid::{Bound, INF, Range, ge, gt, le, lt};

/// A hyperparameter value. Serialized untagged: `0.1`, `true`, `20`, `[0.9, 0.999]`,
/// `[3.4445, -4.775, 2.0315]`, `[null, 0.001]`, `"original"`; a number reads as `Float` and is
/// converted when the hyperparameter is an integer, a pair reads as `Pair` and is accepted where
/// the first element may be `None`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HyperValue {
    Float(f64),
    Bool(bool),
    Int(usize),
    /// `betas`, `etas`, `step_sizes`.
    Pair(f64, f64),
    /// Muon's `ns_coefficients`.
    Triple(f64, f64, f64),
    /// A pair whose first element may be torch's `None` (Adafactor's `eps=(None, 1e-3)`):
    /// `[null, 0.001]` in files, `(None, 0.001)` on screen and in the editor.
    OptionalPair(Option<f64>, f64),
    /// One of a fixed set of names (Muon's `adjust_lr_fn`). Read from text through
    /// [`Domain::parse`], which knows the names, not by serde.
    #[serde(skip_deserializing)]
    Choice(&'static str),
}

/// The shapes a value is read in: every [`HyperValue`] but `Choice`, whose `&'static str` a
/// reader cannot borrow from its input.
#[derive(Deserialize)]
#[serde(untagged)]
enum Read {
    Float(f64),
    Bool(bool),
    Pair(f64, f64),
    Triple(f64, f64, f64),
    OptionalPair(Option<f64>, f64),
}

impl<'de> Deserialize<'de> for HyperValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Read::deserialize(d)? {
            Read::Float(v) => HyperValue::Float(v),
            Read::Bool(v) => HyperValue::Bool(v),
            Read::Pair(a, b) => HyperValue::Pair(a, b),
            Read::Triple(a, b, c) => HyperValue::Triple(a, b, c),
            Read::OptionalPair(a, b) => HyperValue::OptionalPair(a, b),
        })
    }
}

impl fmt::Display for HyperValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Float(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Pair(a, b) | Self::OptionalPair(Some(a), b) => write!(f, "({a}, {b})"),
            Self::Triple(a, b, c) => write!(f, "({a}, {b}, {c})"),
            Self::OptionalPair(None, b) => write!(f, "(None, {b})"),
            Self::Choice(name) => f.write_str(name),
        }
    }
}

impl From<f64> for HyperValue {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}
impl From<bool> for HyperValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<usize> for HyperValue {
    fn from(v: usize) -> Self {
        Self::Int(v)
    }
}
impl From<(f64, f64)> for HyperValue {
    fn from((a, b): (f64, f64)) -> Self {
        Self::Pair(a, b)
    }
}
impl From<(f64, f64, f64)> for HyperValue {
    fn from((a, b, c): (f64, f64, f64)) -> Self {
        Self::Triple(a, b, c)
    }
}
impl From<(Option<f64>, f64)> for HyperValue {
    fn from((a, b): (Option<f64>, f64)) -> Self {
        Self::OptionalPair(a, b)
    }
}

/// The set of valid values of a hyperparameter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    Float(Range),
    Bool,
    Int {
        min: usize,
        max: usize,
    },
    /// Each component in its own range.
    Pair(Range, Range),
    /// Both components in the range and `first <= second`.
    IncreasingPair(Range),
    /// Three components, each in the range.
    Triple(Range),
    /// A pair whose first component is `None` or in the first range.
    OptionalPair(Range, Range),
    /// One of these names.
    #[serde(skip_deserializing)]
    Choice(&'static [&'static str]),
}

/// What a value must be: `a number > 0`, `a pair, each in [0, 1)`, `one of a, b`.
impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Float(r) => write!(f, "{}", r.expected()),
            Domain::Bool => write!(f, "true or false"),
            Domain::Int { min, max } => write!(f, "an integer in [{min}, {max}]"),
            Domain::Pair(a, b) if a == b => write!(f, "a pair, each {a}"),
            Domain::Pair(a, b) => write!(f, "a pair, the first {a} and the second {b}"),
            Domain::IncreasingPair(r) => write!(f, "a pair (min, max), each {r}, min <= max"),
            Domain::Triple(r) => write!(f, "three numbers, each {r}"),
            Domain::OptionalPair(a, b) => {
                write!(f, "a pair, the first None or {a} and the second {b}")
            }
            Domain::Choice(names) => write!(f, "one of {}", names.join(", ")),
        }
    }
}

impl Domain {
    /// Reads a value as the editor shows it (`0.1`, `true`, `(0.9, 0.999)`, `(None, 0.001)`,
    /// `(3.4445, -4.775, 2.0315)`, `original`); the range is checked when the value is set.
    pub fn parse(self, text: &str) -> Result<HyperValue, String> {
        let t = text.trim();
        let float = |s: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| format!("'{}' is not a number", s.trim()))
        };
        let parts = || -> Vec<&str> {
            t.trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .collect()
        };
        match self {
            Domain::Float(_) => float(t).map(HyperValue::Float),
            Domain::Int { .. } => t
                .parse::<usize>()
                .map(HyperValue::Int)
                .map_err(|_| format!("'{t}' is not a whole number")),
            Domain::Bool => match t {
                "true" | "yes" | "on" | "1" => Ok(HyperValue::Bool(true)),
                "false" | "no" | "off" | "0" => Ok(HyperValue::Bool(false)),
                _ => Err(format!("'{t}' is not true or false")),
            },
            Domain::Pair(..) | Domain::IncreasingPair(_) => match parts()[..] {
                [a, b] => Ok(HyperValue::Pair(float(a)?, float(b)?)),
                _ => Err(format!("'{t}' is not a pair (a, b)")),
            },
            Domain::OptionalPair(..) => match parts()[..] {
                [a, b] if is_none(a) => Ok(HyperValue::OptionalPair(None, float(b)?)),
                [a, b] => Ok(HyperValue::OptionalPair(Some(float(a)?), float(b)?)),
                _ => Err(format!("'{t}' is not a pair (a, b) or (None, b)")),
            },
            Domain::Triple(_) => match parts()[..] {
                [a, b, c] => Ok(HyperValue::Triple(float(a)?, float(b)?, float(c)?)),
                _ => Err(format!("'{t}' is not three numbers (a, b, c)")),
            },
            Domain::Choice(names) => names
                .iter()
                .find(|n| **n == t)
                .map(|n| HyperValue::Choice(n))
                .ok_or_else(|| {
                    let hint = suggest(t, names.iter().copied())
                        .map(|s| format!(" (did you mean '{s}'?)"))
                        .unwrap_or_default();
                    format!("'{t}' is not one of {}{hint}", names.join(", "))
                }),
        }
    }
}

/// torch's `None` as the editor accepts it (`None`, `none`, `null`, `~`, or nothing).
fn is_none(s: &str) -> bool {
    matches!(s.trim(), "None" | "none" | "null" | "~" | "")
}

/// How an editor should step a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Log,
    Linear,
}

/// Metadata of one hyperparameter of a registered optimizer, with its default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HyperSpec {
    pub name: &'static str,
    pub default: HyperValue,
    pub domain: Domain,
    pub scale: Scale,
    pub description: &'static str,
}

/// What a hyperparameter is to the machinery around the optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// What [`HyperAccess::lr`] reads and [`HyperAccess::set_lr`] (schedules, the TUI's
    /// halve/double) writes: `lr`, or the step scale of a gradient-free method. Other roles a
    /// schedule may drive (the momentum that one-cycle schedules cycle: sgd's `momentum`, Adam's
    /// `betas.0`) belong here too.
    Lr,
}

/// Where a field lives and which values it takes; the constructors below pair each domain with a
/// reference of the matching type, so the two cannot disagree.
enum Slot<'a> {
    Float(&'a mut f64, Range),
    Int(&'a mut usize, usize, usize),
    Bool(&'a mut bool),
    Pair(&'a mut (f64, f64), Range, Range),
    IncreasingPair(&'a mut (f64, f64), Range),
    Triple(&'a mut (f64, f64, f64), Range),
    OptionalPair(&'a mut (Option<f64>, f64), Range, Range),
    Choice(&'a mut dyn ChoiceSlot, &'static [&'static str]),
}

/// A hyperparameter that is one of a few named options: a fieldless enum listing its values
/// and their names in the same order (Muon's `adjust_lr_fn`).
pub trait Choice: Copy + PartialEq + Send + Sync + 'static {
    const ALL: &'static [Self];
    /// `NAMES[i]` names `ALL[i]`.
    const NAMES: &'static [&'static str];
}

/// A [`Choice`] field seen through its position in `NAMES`, so [`Slot`] needs no type
/// parameter.
trait ChoiceSlot {
    fn index(&self) -> usize;
    fn set_index(&mut self, i: usize);
}

impl<T: Choice> ChoiceSlot for T {
    fn index(&self) -> usize {
        T::ALL.iter().position(|v| v == self).unwrap_or(0)
    }
    fn set_index(&mut self, i: usize) {
        if let Some(v) = T::ALL.get(i) {
            *self = *v;
        }
    }
}

/// One row of a [`Hypers`] table: a field of the typed struct with its torch name, domain,
/// scale and description.
pub struct Hyper<'a> {
    name: &'static str,
    scale: Scale,
    description: &'static str,
    role: Option<Role>,
    slot: Slot<'a>,
}

impl Hyper<'_> {
    /// Marks the field as the one with this role (see [`Role`]).
    #[must_use]
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn domain(&self) -> Domain {
        match &self.slot {
            Slot::Float(_, r) => Domain::Float(*r),
            Slot::Int(_, min, max) => Domain::Int {
                min: *min,
                max: *max,
            },
            Slot::Bool(_) => Domain::Bool,
            Slot::Pair(_, a, b) => Domain::Pair(*a, *b),
            Slot::IncreasingPair(_, r) => Domain::IncreasingPair(*r),
            Slot::Triple(_, r) => Domain::Triple(*r),
            Slot::OptionalPair(_, a, b) => Domain::OptionalPair(*a, *b),
            Slot::Choice(_, names) => Domain::Choice(names),
        }
    }

    pub fn value(&self) -> HyperValue {
        match &self.slot {
            Slot::Float(v, _) => HyperValue::Float(**v),
            Slot::Int(v, ..) => HyperValue::Int(**v),
            Slot::Bool(v) => HyperValue::Bool(**v),
            Slot::Pair(v, ..) | Slot::IncreasingPair(v, _) => HyperValue::Pair(v.0, v.1),
            Slot::Triple(v, _) => HyperValue::Triple(v.0, v.1, v.2),
            Slot::OptionalPair(v, ..) => HyperValue::OptionalPair(v.0, v.1),
            Slot::Choice(v, names) => HyperValue::Choice(names.get(v.index()).unwrap_or(&"")),
        }
    }

    /// The metadata, with the field's current value as the default.
    fn spec(&self) -> HyperSpec {
        HyperSpec {
            name: self.name,
            default: self.value(),
            domain: self.domain(),
            scale: self.scale,
            description: self.description,
        }
    }

    /// Writes `value` if it has the right type and lies in the domain (an integer is accepted
    /// for a real and an integral real for an integer); else says what was expected.
    fn set(&mut self, value: HyperValue) -> Result<(), String> {
        match (&mut self.slot, value) {
            (Slot::Float(x, r), HyperValue::Float(v)) if r.contains(v) => **x = v,
            (Slot::Float(x, r), HyperValue::Int(v)) if r.contains(v as f64) => **x = v as f64,
            (Slot::Int(x, min, max), HyperValue::Int(v)) if (*min..=*max).contains(&v) => **x = v,
            (Slot::Int(x, min, max), HyperValue::Float(v))
                if v.fract() == 0.0
                    && v >= 0.0
                    && v <= *max as f64
                    && (*min..=*max).contains(&(v as usize)) =>
            {
                **x = v as usize;
            }
            (Slot::Bool(x), HyperValue::Bool(v)) => **x = v,
            (Slot::Pair(x, r1, r2), HyperValue::Pair(a, b)) if r1.contains(a) && r2.contains(b) => {
                **x = (a, b);
            }
            (Slot::IncreasingPair(x, r), HyperValue::Pair(a, b))
                if r.contains(a) && r.contains(b) && a <= b =>
            {
                **x = (a, b);
            }
            (Slot::Triple(x, r), HyperValue::Triple(a, b, c))
                if r.contains(a) && r.contains(b) && r.contains(c) =>
            {
                **x = (a, b, c);
            }
            (Slot::OptionalPair(x, r1, r2), HyperValue::OptionalPair(a, b))
                if a.is_none_or(|a| r1.contains(a)) && r2.contains(b) =>
            {
                **x = (a, b);
            }
            (Slot::OptionalPair(x, r1, r2), HyperValue::Pair(a, b))
                if r1.contains(a) && r2.contains(b) =>
            {
                **x = (Some(a), b);
            }
            (Slot::Choice(x, names), HyperValue::Choice(name)) if names.contains(&name) => {
                if let Some(i) = names.iter().position(|n| *n == name) {
                    x.set_index(i);
                }
            }
            _ => return Err(self.expected()),
        }
        Ok(())
    }

    fn expected(&self) -> String {
        format!("'{}' must be {}", self.name, self.domain())
    }
}

// ---- table rows: the general constructors, then torch's recurring hyperparameters ----

/// A real-valued hyperparameter in `[min, max]` (each bound inclusive, exclusive or absent).
pub fn float<'a>(
    name: &'static str,
    value: &'a mut f64,
    min: Bound,
    max: Bound,
    scale: Scale,
    description: &'static str,
) -> Hyper<'a> {
    row(
        name,
        scale,
        description,
        Slot::Float(value, Range::new(min, max)),
    )
}

/// An integer hyperparameter in `min..=max`.
pub fn int<'a>(
    name: &'static str,
    value: &'a mut usize,
    min: usize,
    max: usize,
    description: &'static str,
) -> Hyper<'a> {
    row(name, Scale::Linear, description, Slot::Int(value, min, max))
}

pub fn boolean<'a>(
    name: &'static str,
    value: &'a mut bool,
    description: &'static str,
) -> Hyper<'a> {
    row(name, Scale::Linear, description, Slot::Bool(value))
}

/// A pair whose components have their own ranges (`betas`, rprop's `etas`).
pub fn pair<'a>(
    name: &'static str,
    value: &'a mut (f64, f64),
    first: Range,
    second: Range,
    scale: Scale,
    description: &'static str,
) -> Hyper<'a> {
    row(name, scale, description, Slot::Pair(value, first, second))
}

/// A `(min, max)` pair, both in `range` (rprop's `step_sizes`).
pub fn increasing_pair<'a>(
    name: &'static str,
    value: &'a mut (f64, f64),
    range: Range,
    scale: Scale,
    description: &'static str,
) -> Hyper<'a> {
    row(name, scale, description, Slot::IncreasingPair(value, range))
}

/// Three numbers, each in `range` (Muon's `ns_coefficients`).
pub fn triple<'a>(
    name: &'static str,
    value: &'a mut (f64, f64, f64),
    range: Range,
    description: &'static str,
) -> Hyper<'a> {
    row(name, Scale::Linear, description, Slot::Triple(value, range))
}

/// A pair whose first component may be `None` (Adafactor's `eps`).
pub fn optional_pair<'a>(
    name: &'static str,
    value: &'a mut (Option<f64>, f64),
    first: Range,
    second: Range,
    scale: Scale,
    description: &'static str,
) -> Hyper<'a> {
    row(
        name,
        scale,
        description,
        Slot::OptionalPair(value, first, second),
    )
}

/// One of a [`Choice`]'s named options.
pub fn choice<'a, T: Choice>(
    name: &'static str,
    value: &'a mut T,
    description: &'static str,
) -> Hyper<'a> {
    row(
        name,
        Scale::Linear,
        description,
        Slot::Choice(value, T::NAMES),
    )
}

fn row<'a>(
    name: &'static str,
    scale: Scale,
    description: &'static str,
    slot: Slot<'a>,
) -> Hyper<'a> {
    Hyper {
        name,
        scale,
        description,
        role: None,
        slot,
    }
}

/// torch's `lr` (> 0), the field [`Role::Lr`] drives.
pub fn lr(value: &mut f64) -> Hyper<'_> {
    float("lr", value, gt(0.0), INF, Scale::Log, "learning rate").with_role(Role::Lr)
}

/// torch's `weight_decay` (>= 0).
pub fn weight_decay(value: &mut f64) -> Hyper<'_> {
    float(
        "weight_decay",
        value,
        ge(0.0),
        INF,
        Scale::Log,
        "weight decay (L2 penalty added to the gradient)",
    )
}

/// torch's `eps` (>= 0).
pub fn eps(value: &mut f64) -> Hyper<'_> {
    float(
        "eps",
        value,
        ge(0.0),
        INF,
        Scale::Log,
        "term added to the denominator for numerical stability",
    )
}

/// The heavy-ball `momentum` factor of SGD and RMSprop, in `[0, 1)`.
pub fn momentum(value: &mut f64) -> Hyper<'_> {
    float(
        "momentum",
        value,
        ge(0.0),
        lt(1.0),
        Scale::Linear,
        "momentum factor",
    )
}

/// Adam-family `betas`, each in `[0, 1)`.
pub fn betas(value: &mut (f64, f64)) -> Hyper<'_> {
    let unit = Range::new(ge(0.0), lt(1.0));
    pair(
        "betas",
        value,
        unit,
        unit,
        Scale::Linear,
        "coefficients of the running averages of the gradient and its square",
    )
}

pub fn maximize(value: &mut bool) -> Hyper<'_> {
    boolean("maximize", value, "maximize the objective instead")
}

pub fn decoupled_weight_decay(value: &mut bool) -> Hyper<'_> {
    boolean(
        "decoupled_weight_decay",
        value,
        "decay the parameters directly (AdamW-style) instead of adding to the gradient",
    )
}

/// A typed hyperparameter struct (`AdamHypers { lr, betas, ... }`): its table of fields in
/// torch's order, one row per field, e.g. `[lr(&mut self.lr), betas(&mut self.betas), ...]`.
///
/// The table is the only place a field's torch name, range and description are written. Reading
/// goes through a copy of the struct, so one table serves reading and writing.
pub trait Hypers: Copy + fmt::Debug + Send + Sync + 'static {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>>;
}

/// Name-based access to an optimizer's hyperparameters: what the session, the TUI editor and the
/// registry use. Every [`HyperSet`] is one.
pub trait HyperAccess: Send + Sync {
    /// The registry entry the optimizer was built as.
    fn spec(&self) -> &'static OptimizerSpec;
    /// Every hyperparameter with its default, domain and description, in torch's order.
    fn specs(&self) -> Vec<HyperSpec>;
    /// Current values, in torch's order.
    fn list(&self) -> Vec<(String, HyperValue)>;
    /// Sets a value after checking its name, type and range.
    fn set(&mut self, name: &str, value: HyperValue) -> Result<(), OptimError>;
    /// The name of the [`Role::Lr`] field (`lr`, `sigma`, `radius`), `None` for optimizers
    /// without a learning rate (`nelder_mead`, `levenberg_marquardt`).
    fn lr_name(&self) -> Option<&'static str>;
    /// The [`Role::Lr`] field's value, `1.0` if there is none.
    fn lr(&self) -> f64;
    /// Sets the [`Role::Lr`] field; a value outside its range is ignored (schedules and the
    /// TUI's halve/double never produce one from a valid start).
    fn set_lr(&mut self, lr: f64);
}

/// The typed hyperparameters of one built optimizer, with the registry entry it was built as.
/// Reads are plain field accesses through `Deref` (`self.h.lr`); writes go through
/// [`HyperAccess::set`], which validates them.
#[derive(Clone, Debug)]
pub struct HyperSet<T> {
    spec: &'static OptimizerSpec,
    defaults: T,
    values: T,
}

impl<T: Hypers> HyperSet<T> {
    #[must_use]
    pub fn new(spec: &'static OptimizerSpec, defaults: T) -> Self {
        Self {
            spec,
            defaults,
            values: defaults,
        }
    }
}

impl<T> Deref for HyperSet<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.values
    }
}

impl<T: Hypers> HyperAccess for HyperSet<T> {
    fn spec(&self) -> &'static OptimizerSpec {
        self.spec
    }

    fn specs(&self) -> Vec<HyperSpec> {
        let mut defaults = self.defaults;
        defaults.fields().into_iter().map(|h| h.spec()).collect()
    }

    fn list(&self) -> Vec<(String, HyperValue)> {
        let mut values = self.values;
        values
            .fields()
            .into_iter()
            .map(|h| (h.name.to_string(), h.value()))
            .collect()
    }

    fn set(&mut self, name: &str, value: HyperValue) -> Result<(), OptimError> {
        let optimizer = self.spec.name;
        let mut names = Vec::new();
        for mut h in self.values.fields() {
            if h.name == name {
                return h.set(value).map_err(|expected| OptimError::InvalidValue {
                    optimizer: optimizer.to_string(),
                    name: name.to_string(),
                    value: value.to_string(),
                    expected,
                });
            }
            names.push(h.name);
        }
        Err(OptimError::UnknownHyperparameter {
            optimizer: optimizer.to_string(),
            name: name.to_string(),
            suggestion: suggest(name, names.iter().copied()),
            valid: names.join(", "),
        })
    }

    fn lr_name(&self) -> Option<&'static str> {
        let mut values = self.values;
        values
            .fields()
            .into_iter()
            .find(|h| h.role == Some(Role::Lr))
            .map(|h| h.name)
    }

    fn lr(&self) -> f64 {
        let mut values = self.values;
        values
            .fields()
            .into_iter()
            .find(|h| h.role == Some(Role::Lr))
            .and_then(|h| match h.value() {
                HyperValue::Float(v) => Some(v),
                _ => None,
            })
            .unwrap_or(1.0)
    }

    fn set_lr(&mut self, lr: f64) {
        if let Some(mut h) = self
            .values
            .fields()
            .into_iter()
            .find(|h| h.role == Some(Role::Lr))
        {
            // out-of-range learning rates are documented as ignored
            let _ = h.set(HyperValue::Float(lr));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Demo {
        lr: f64,
        steps: usize,
        on: bool,
        betas: (f64, f64),
        sizes: (f64, f64),
    }

    impl Hypers for Demo {
        fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
            [
                lr(&mut self.lr),
                int("steps", &mut self.steps, 1, 10, "steps"),
                boolean("on", &mut self.on, "switch"),
                betas(&mut self.betas),
                increasing_pair(
                    "sizes",
                    &mut self.sizes,
                    Range::new(ge(0.0), INF),
                    Scale::Log,
                    "sizes",
                ),
            ]
        }
    }

    fn demo() -> HyperSet<Demo> {
        let spec = super::super::registry::spec("sgd").expect("sgd is registered");
        HyperSet::new(
            spec,
            Demo {
                lr: 0.1,
                steps: 3,
                on: false,
                betas: (0.9, 0.99),
                sizes: (1.0, 2.0),
            },
        )
    }

    #[test]
    fn set_writes_the_typed_field_and_list_reads_it() {
        let mut h = demo();
        h.set("steps", HyperValue::Float(4.0))
            .expect("integral float");
        h.set("lr", HyperValue::Int(2)).expect("integer for a real");
        h.set("on", true.into()).expect("bool");
        h.set("sizes", (0.5, 0.5).into()).expect("min == max");
        assert_eq!((h.steps, h.lr, h.on, h.sizes), (4, 2.0, true, (0.5, 0.5)));
        assert_eq!(
            h.list(),
            vec![
                ("lr".to_string(), HyperValue::Float(2.0)),
                ("steps".to_string(), HyperValue::Int(4)),
                ("on".to_string(), HyperValue::Bool(true)),
                ("betas".to_string(), HyperValue::Pair(0.9, 0.99)),
                ("sizes".to_string(), HyperValue::Pair(0.5, 0.5)),
            ]
        );
        // the defaults stay what the set was built with
        assert_eq!(h.specs()[1].default, HyperValue::Int(3));
        assert_eq!(h.specs()[1].domain, Domain::Int { min: 1, max: 10 });
    }

    #[test]
    fn invalid_values_leave_the_field_unchanged() {
        let mut h = demo();
        for (name, v) in [
            ("steps", HyperValue::Float(2.5)),
            ("steps", HyperValue::Int(11)),
            ("lr", HyperValue::Float(f64::INFINITY)),
            ("lr", HyperValue::Bool(true)),
            ("betas", HyperValue::Pair(0.9, 1.0)),
            ("sizes", HyperValue::Pair(2.0, 1.0)),
            ("on", HyperValue::Float(1.0)),
        ] {
            let e = h.set(name, v).expect_err(name);
            assert!(matches!(e, OptimError::InvalidValue { .. }), "{name}: {e}");
        }
        assert_eq!(*h, *demo());
        let e = h.set("stpes", HyperValue::Int(2)).expect_err("typo");
        assert!(e.to_string().contains("did you mean 'steps'"), "{e}");
    }

    #[test]
    fn infinity_is_in_a_range_only_where_a_bound_includes_it() {
        let open = Range::new(ge(1.0), INF);
        assert!(open.contains(1e300) && !open.contains(f64::INFINITY));
        let capped = Range::new(ge(1.0), le(f64::INFINITY));
        assert!(capped.contains(1.02) && capped.contains(f64::INFINITY));
        assert!(!capped.contains(f64::NEG_INFINITY) && !capped.contains(f64::NAN));
        assert!(!capped.contains(0.5));
        assert_eq!(capped.to_string(), "in [1, inf]");
    }

    #[test]
    fn the_lr_role_is_what_lr_and_set_lr_see() {
        let mut h = demo();
        assert_eq!(h.lr(), 0.1);
        h.set_lr(0.3);
        assert_eq!(h.lr, 0.3);
        h.set_lr(-1.0);
        assert_eq!(h.lr(), 0.3);
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Mode {
        Fast,
        Exact,
    }

    impl Choice for Mode {
        const ALL: &'static [Self] = &[Mode::Fast, Mode::Exact];
        const NAMES: &'static [&'static str] = &["fast", "exact"];
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Tuples {
        coefficients: (f64, f64, f64),
        eps: (Option<f64>, f64),
        mode: Mode,
    }

    impl Hypers for Tuples {
        fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
            let nonneg = Range::new(ge(0.0), INF);
            [
                triple(
                    "coefficients",
                    &mut self.coefficients,
                    Range::new(INF, INF),
                    "c",
                ),
                optional_pair("eps", &mut self.eps, nonneg, nonneg, Scale::Log, "eps"),
                choice("mode", &mut self.mode, "mode"),
            ]
        }
    }

    fn tuples() -> HyperSet<Tuples> {
        let spec = super::super::registry::spec("sgd").expect("sgd is registered");
        HyperSet::new(
            spec,
            Tuples {
                coefficients: (3.0, -4.0, 2.0),
                eps: (None, 1e-3),
                mode: Mode::Fast,
            },
        )
    }

    #[test]
    fn triples_optional_pairs_and_choices_set_and_show() {
        let mut h = tuples();
        assert_eq!(
            h.list()
                .iter()
                .map(|(_, v)| v.to_string())
                .collect::<Vec<_>>(),
            ["(3, -4, 2)", "(None, 0.001)", "fast"]
        );
        h.set("eps", (0.5, 0.25).into())
            .expect("a plain pair fills Some");
        assert_eq!(h.eps, (Some(0.5), 0.25));
        h.set("eps", (None, 0.5).into()).expect("None");
        assert_eq!(h.eps, (None, 0.5));
        h.set("mode", HyperValue::Choice("exact")).expect("a name");
        assert_eq!(h.mode, Mode::Exact);
        for (name, v) in [
            ("eps", HyperValue::OptionalPair(Some(-1.0), 0.1)),
            ("eps", HyperValue::OptionalPair(None, f64::NAN)),
            ("coefficients", HyperValue::Pair(1.0, 2.0)),
            ("coefficients", HyperValue::Triple(1.0, f64::INFINITY, 2.0)),
            ("mode", HyperValue::Choice("slow")),
        ] {
            let e = h.set(name, v).expect_err(name).to_string();
            assert!(e.contains(&format!("'{name}' must be")), "{e}");
        }
        let e = h.set("mode", HyperValue::Choice("slow")).expect_err("bad");
        assert!(e.to_string().contains("one of fast, exact"), "{e}");
        assert_eq!(
            (h.eps, h.mode),
            ((None, 0.5), Mode::Exact),
            "unchanged by errors"
        );
    }

    #[test]
    fn the_editor_reads_what_display_writes() {
        let mut h = tuples();
        h.set("eps", (Some(1e-30), 2.0).into()).expect("valid");
        for (spec, (_, value)) in h.specs().iter().zip(h.list()) {
            assert_eq!(spec.domain.parse(&value.to_string()), Ok(value));
        }
        let eps = Domain::OptionalPair(Range::new(INF, INF), Range::new(INF, INF));
        for none in ["(None, 1)", "(none, 1)", "(null, 1)", "(~, 1)", "(, 1)"] {
            assert_eq!(
                eps.parse(none),
                Ok(HyperValue::OptionalPair(None, 1.0)),
                "{none}"
            );
        }
        assert!(eps.parse("(1, 2, 3)").is_err());
        let mode = h.specs()[2].domain;
        let e = mode.parse("exakt").expect_err("typo");
        assert!(e.contains("did you mean 'exact'"), "{e}");
        let triple = h.specs()[0].domain;
        assert_eq!(
            triple.parse("1, 2, 3"),
            Ok(HyperValue::Triple(1.0, 2.0, 3.0))
        );
        assert!(
            triple
                .parse("(1, 2)")
                .unwrap_err()
                .contains("three numbers")
        );
    }

    #[test]
    fn values_and_domains_have_plain_serde_shapes() {
        let v: Vec<HyperValue> = serde_json::from_str("[[1, 2, 3], [null, 0.5]]").expect("tuples");
        assert_eq!(
            v,
            [
                HyperValue::Triple(1.0, 2.0, 3.0),
                HyperValue::OptionalPair(None, 0.5)
            ]
        );
        assert_eq!(
            serde_json::to_string(&[HyperValue::OptionalPair(None, 0.5), HyperValue::Choice("a")])
                .expect("serializes"),
            r#"[[null,0.5],"a"]"#
        );
        let v: Vec<HyperValue> = serde_json::from_str("[0.1, true, [0.9, 0.999]]").expect("json");
        assert_eq!(
            v,
            [
                HyperValue::Float(0.1),
                HyperValue::Bool(true),
                HyperValue::Pair(0.9, 0.999)
            ]
        );
        let d = Domain::Pair(Range::new(ge(0.0), lt(1.0)), Range::new(gt(1.0), INF));
        let json = serde_json::to_string(&d).expect("serializes");
        assert_eq!(
            json,
            r#"{"pair":[{"min":{"inclusive":0.0},"max":{"exclusive":1.0}},{"min":{"exclusive":1.0},"max":"unbounded"}]}"#
        );
        assert_eq!(
            serde_json::from_str::<Domain>(&json).expect("round trip"),
            d
        );
    }
}
