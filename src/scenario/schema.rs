//! The typed scenario: what a scenario file means once loaded, defaults filled in.
//!
//! Its leaves are the runtime's own types, read straight from the file (see
//! [`de`](super::de)): the runs are [`RunSpec`]s with the registry's hyperparameter values and
//! the optimizers' [`Schedule`](crate::optim::schedule::Schedule)s and
//! [`GradClip`](crate::optim::clip::GradClip)s, the loss a [`LossKind`], the initialiser an
//! [`Init`], a synthetic dataset a [`Generator`], a CSV one a [`CsvSpec`], the stop
//! conditions a [`StopConfig`], the view a [`ViewSpec`] and the assertions the headless mode's
//! [`Expectation`]s. What remains here is what only a file says: the objective (an expression
//! over named variables, or a model that takes its input width from the data), values per
//! variable, inline rows, and a plane's axes by name.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use crate::ad::Engine;
use crate::data::Task;
use crate::data::csv::CsvSpec;
use crate::data::generate::Generator;
use crate::headless::Expectation;
use crate::landscape::ViewSpec;
use crate::model::{Activation, Init, LossKind};
use crate::session::{RunSpec, StopConfig};

/// A loaded scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Title (defaults to the file's stem).
    pub name: String,
    /// Free text, may span lines.
    pub description: String,
    /// Seed for every random choice (data, initialisation, stochastic optimizers).
    pub seed: u64,
    /// What is minimised.
    pub objective: Objective,
    /// How gradients are computed (default reverse mode).
    pub engine: Engine,
    /// The runs, each one optimizer with its hyperparameters; labels are unique.
    pub optimizers: Vec<RunSpec>,
    /// When a run stops.
    pub stop: StopConfig,
    /// How the front ends show it: the plane resolved to parameter indices, the window
    /// defaulting to `bounds`.
    pub view: ViewSpec,
    /// Assertions checked by the headless mode, in file order.
    pub expect: Vec<Expectation>,
}

/// An expression to minimise, or a model to fit.
#[derive(Debug, Clone, PartialEq)]
pub enum Objective {
    /// `expr: "..."`.
    Expr(ExprObjective),
    /// `model: {...}`.
    Model(Box<ModelObjective>),
}

/// A function of named variables written in the expression language.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExprObjective {
    /// The expression, e.g. `(1-x)^2 + 100*(y-x^2)^2`.
    pub expr: String,
    /// Variable order; defaults to the order of `start`'s keys, else of the expression.
    #[serde(default)]
    pub vars: Option<Vec<String>>,
    /// Starting point.
    pub start: PerVar<f64>,
    /// The known minimiser, for `distance_to_minimum_below`.
    #[serde(default)]
    pub minimum: Option<PerVar<f64>>,
    /// A box `[low, high]` per variable: the default plot window (not a constraint on the
    /// runs).
    #[serde(default, alias = "range")]
    pub bounds: Option<PerVar<[f64; 2]>>,
}

/// Values given either by variable name (`{x: 1, y: 2}`) or in variable order (`[1, 2]`).
#[derive(Debug, Clone, PartialEq)]
pub enum PerVar<T> {
    /// By name, in file order.
    Named(Vec<(String, T)>),
    /// In `vars` order.
    List(Vec<T>),
}

impl<T> PerVar<T> {
    /// Number of values given.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            PerVar::Named(v) => v.len(),
            PerVar::List(v) => v.len(),
        }
    }

    /// True when no value is given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Clone> PerVar<T> {
    /// The values in the order of `vars`; `None` when a name is missing.
    #[must_use]
    pub fn ordered(&self, vars: &[String]) -> Option<Vec<T>> {
        match self {
            PerVar::List(v) => Some(v.clone()),
            PerVar::Named(pairs) => {
                // By name through a map: a scenario may name a great many variables.
                let by_name: std::collections::HashMap<&str, &T> =
                    pairs.iter().map(|(n, x)| (n.as_str(), x)).collect();
                vars.iter()
                    .map(|var| by_name.get(var.as_str()).map(|&x| x.clone()))
                    .collect()
            }
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for PerVar<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = PerVar<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list in variable order [a, b] or a mapping by name {x: a, y: b}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element()? {
                    out.push(x);
                }
                Ok(PerVar::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    out.push((k, v));
                }
                Ok(PerVar::Named(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A model fitted to a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelObjective {
    /// The model.
    pub model: ModelSpec,
    /// The loss.
    pub loss: LossKind,
    /// L2 penalty `l2 * |θ|²` added to the loss (default 0).
    pub l2: f64,
    /// The dataset.
    pub data: DataSpec,
    /// Mini-batch size; `None` is full batch. Each optimizer entry may override it.
    pub batch_size: Option<usize>,
    /// Reshuffle the training order every epoch (default true); else consecutive batches.
    pub shuffle: bool,
    /// Drop every epoch's last, partial batch (default false).
    pub drop_last: bool,
    /// Initial parameters.
    pub init: Init,
    /// Share of the data held out for testing, in `[0, 1)` (default 0).
    pub test_fraction: f64,
    /// Standardise features to zero mean, unit variance (default true).
    pub standardize: bool,
}

/// Model architectures, as a file names them; the input width comes from the data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename = "model", deny_unknown_fields)]
pub enum ModelSpec {
    /// Multi-layer perceptron.
    #[serde(rename = "mlp")]
    Mlp(MlpSpec),
    /// `w·x + b`, one output.
    #[serde(rename = "linear")]
    Linear,
    /// `sigmoid(w·x + b)` as logits, one output.
    #[serde(rename = "logistic")]
    Logistic,
    /// Multinomial logistic regression.
    #[serde(rename = "softmax")]
    Softmax(SoftmaxSpec),
    /// A model written in the expression language.
    #[serde(rename = "custom")]
    Custom(CustomSpec),
}

/// `kind: mlp`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpSpec {
    /// Widths from inputs to outputs, e.g. `[2, 16, 16, 1]`.
    pub layers: Vec<usize>,
    /// One activation for every hidden layer (output stays identity), or one per layer.
    #[serde(default)]
    pub activation: Activations,
}

/// `kind: softmax`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftmaxSpec {
    /// Number of classes.
    pub classes: usize,
}

/// `kind: custom`: `expr` over `inputs` (features) and `params` (fitted).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSpec {
    /// The model's output, e.g. `a*sin(b*x + c) + d`.
    pub expr: String,
    /// Names bound to the features, in column order.
    pub inputs: Vec<String>,
    /// Names of the fitted parameters, in parameter order.
    pub params: Vec<String>,
}

/// `activation: tanh` or `activation: [tanh, tanh, identity]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Activations {
    /// Every hidden layer; the output layer is identity.
    Hidden(Activation),
    /// One per layer transition (`layers.len() - 1` of them).
    PerLayer(Vec<Activation>),
}

impl Default for Activations {
    fn default() -> Self {
        Activations::Hidden(Activation::Tanh)
    }
}

impl<'de> Deserialize<'de> for Activations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Activations;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an activation name or a list of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Activation::deserialize(s.into_deserializer()).map(Activations::Hidden)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(a) = seq.next_element()? {
                    out.push(a);
                }
                Ok(Activations::PerLayer(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Datasets: `kind` names a generator, `csv` or `inline`.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSpec {
    /// A synthetic dataset.
    Generated(Generator),
    /// Columns of a CSV file.
    Csv(CsvSpec),
    /// Rows written in the scenario; the last column is the target.
    Inline(InlineData),
}

impl DataSpec {
    /// Feature count, when the spec alone decides it (a CSV file's columns are named).
    #[must_use]
    pub fn features(&self) -> usize {
        match self {
            DataSpec::Generated(g) => g.shape().0,
            DataSpec::Csv(c) => c.features.len(),
            DataSpec::Inline(i) => i.rows.first().map_or(0, |r| r.len().saturating_sub(1)),
        }
    }

    /// The task, when the spec alone decides it (`None`: it depends on the values).
    #[must_use]
    pub fn task(&self) -> Option<Task> {
        match self {
            DataSpec::Generated(g) => Some(g.shape().1),
            DataSpec::Csv(_) | DataSpec::Inline(_) => None,
        }
    }

    /// Number of examples, when the spec alone decides it.
    #[must_use]
    pub fn examples(&self) -> Option<usize> {
        match self {
            DataSpec::Generated(g) => Some(g.examples()),
            DataSpec::Csv(_) => None,
            DataSpec::Inline(i) => Some(i.rows.len()),
        }
    }
}

/// `inline`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineData {
    /// Rows `[features..., target]`, all the same length.
    pub rows: Vec<Vec<f64>>,
}

/// The plane as a file writes it: `pca`, or two axes by index or by variable name.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaneSpec {
    /// Two parameter axes.
    Params(Axis, Axis),
    /// The top two principal directions of the trajectories.
    Pca,
}

/// One axis of a [`PlaneSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Axis {
    /// Parameter index, 0-based.
    Index(usize),
    /// Variable name (expression objectives).
    Name(String),
}

impl<'de> Deserialize<'de> for Axis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Axis;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a parameter index or a variable name")
            }
            fn visit_u64<E: de::Error>(self, x: u64) -> Result<Self::Value, E> {
                usize::try_from(x)
                    .map(Axis::Index)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(x), &self))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Axis::Name(s.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for PlaneSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PlaneSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("pca, [i, j] or {params: [i, j]}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                if s == "pca" {
                    Ok(PlaneSpec::Pca)
                } else {
                    Err(E::unknown_variant(s, &["pca"]))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let a: Option<Axis> = seq.next_element()?;
                let b: Option<Axis> = seq.next_element()?;
                match (a, b) {
                    (Some(a), Some(b)) => Ok(PlaneSpec::Params(a, b)),
                    _ => Err(de::Error::invalid_length(1, &"two axes [i, j]")),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::missing_field("params"));
                };
                if key != "params" {
                    return Err(de::Error::unknown_field(&key, &["params"]));
                }
                let (a, b): (Axis, Axis) = map.next_value()?;
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("plane takes only `params`"));
                }
                Ok(PlaneSpec::Params(a, b))
            }
        }
        d.deserialize_any(V)
    }
}
