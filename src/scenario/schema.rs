//! The typed scenario: what a scenario file means once loaded, defaults filled in. Leaf
//! structs derive `Deserialize` with `deny_unknown_fields`; the tagged parts (`kind: ...`) are
//! dispatched by the decoder so every error keeps its source position.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use crate::ad::Engine;

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
    pub optimizers: Vec<OptimizerSpec>,
    /// When a run stops.
    pub stop: StopSpec,
    /// How the TUI shows it.
    pub view: ViewSpec,
    /// Assertions checked by the headless mode, by run label, in file order.
    pub expect: Vec<(String, Expectation)>,
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
    /// Box constraints `[low, high]` per variable (also the default plot window).
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
    pub loss: Loss,
    /// L2 penalty `l2 * |θ|²` added to the loss (default 0).
    pub l2: f64,
    /// The dataset.
    pub data: DataSpec,
    /// Mini-batch size; `None` is full batch.
    pub batch_size: Option<usize>,
    /// Initial parameters.
    pub init: InitSpec,
    /// Share of the data held out for testing, in `[0, 1)` (default 0).
    pub test_fraction: f64,
    /// Standardise features to zero mean, unit variance (default true).
    pub standardize: bool,
}

/// Model architectures.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// Multi-layer perceptron.
    Mlp(MlpSpec),
    /// `w·x + b`, one output.
    Linear,
    /// `sigmoid(w·x + b)` as logits, one output.
    Logistic,
    /// Multinomial logistic regression.
    Softmax(SoftmaxSpec),
    /// A model written in the expression language.
    Custom(CustomSpec),
}

impl ModelSpec {
    /// The `kind` names, in documentation order.
    pub const KINDS: &'static [&'static str] = &["mlp", "linear", "logistic", "softmax", "custom"];
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

/// Activation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Identity,
    Relu,
    Tanh,
    Sigmoid,
    Softplus,
    /// `max(x, 0.01 x)` (PyTorch's default negative slope).
    LeakyRelu,
    /// GELU, PyTorch's `approximate='tanh'` form.
    Gelu,
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

/// Loss functions (torch names without the `Loss` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Mean squared error.
    Mse,
    /// Mean absolute error.
    Mae,
    /// Huber with `delta = 1`.
    Huber,
    /// Binary cross-entropy on logits.
    BceLogits,
    /// Softmax cross-entropy on logits.
    CrossEntropy,
}

impl Loss {
    /// True for the classification losses.
    #[must_use]
    pub fn is_classification(self) -> bool {
        matches!(self, Loss::BceLogits | Loss::CrossEntropy)
    }
}

fn default_n() -> usize {
    200
}
fn default_noise() -> f64 {
    0.1
}
fn default_two() -> usize {
    2
}
fn default_one() -> usize {
    1
}
fn one_f() -> f64 {
    1.0
}

/// Datasets.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSpec {
    /// Two interleaving half circles (sklearn `make_moons`).
    Moons(Synthetic),
    /// A circle inside a circle (sklearn `make_circles`).
    Circles(CirclesData),
    /// Four clusters labelled by XOR of the signs.
    Xor(Synthetic),
    /// Interleaved spirals.
    Spirals(SpiralsData),
    /// Gaussian clusters (sklearn `make_blobs`).
    Blobs(BlobsData),
    /// `y = w·x + b + noise`.
    Linear(LinearData),
    /// `y = sin(frequency·x) + noise`.
    Sine(SineData),
    /// Columns of a CSV file.
    Csv(CsvData),
    /// Rows written in the scenario; the last column is the target.
    Inline(InlineData),
}

impl DataSpec {
    /// The `kind` names, in documentation order.
    pub const KINDS: &'static [&'static str] = &[
        "moons", "circles", "xor", "spirals", "blobs", "linear", "sine", "csv", "inline",
    ];

    /// Feature count and task, when the spec alone decides them.
    #[must_use]
    pub fn shape(&self) -> DataShape {
        let (features, task) = match self {
            DataSpec::Moons(_) | DataSpec::Xor(_) | DataSpec::Circles(_) => {
                (2, Task::Classification(2))
            }
            DataSpec::Spirals(s) => (2, Task::Classification(s.classes)),
            DataSpec::Blobs(b) => (b.features, Task::Classification(b.centers)),
            DataSpec::Linear(l) => (l.features, Task::Regression),
            DataSpec::Sine(_) => (1, Task::Regression),
            DataSpec::Csv(c) => (c.features.len(), Task::Unknown),
            DataSpec::Inline(i) => (
                i.rows.first().map_or(0, |r| r.len().saturating_sub(1)),
                Task::Unknown,
            ),
        };
        DataShape { features, task }
    }

    /// Number of examples, when the spec alone decides it.
    #[must_use]
    pub fn examples(&self) -> Option<usize> {
        match self {
            DataSpec::Moons(s) | DataSpec::Xor(s) => Some(s.n),
            DataSpec::Circles(c) => Some(c.n),
            DataSpec::Spirals(s) => Some(s.n),
            DataSpec::Blobs(b) => Some(b.n),
            DataSpec::Linear(l) => Some(l.n),
            DataSpec::Sine(s) => Some(s.n),
            DataSpec::Csv(_) => None,
            DataSpec::Inline(i) => Some(i.rows.len()),
        }
    }
}

/// Features and task of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataShape {
    /// Inputs per example.
    pub features: usize,
    /// What the target is.
    pub task: Task,
}

/// What a dataset's target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Real-valued.
    Regression,
    /// Class labels `0..classes`.
    Classification(usize),
    /// Depends on the file's contents.
    Unknown,
}

/// `moons`, `xor`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Synthetic {
    /// Examples (default 200).
    #[serde(default = "default_n")]
    pub n: usize,
    /// Gaussian noise std (default 0.1).
    #[serde(default = "default_noise")]
    pub noise: f64,
}

/// `circles`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CirclesData {
    #[serde(default = "default_n")]
    pub n: usize,
    #[serde(default = "default_noise")]
    pub noise: f64,
    /// Inner radius over outer, in (0, 1) (default 0.5).
    #[serde(default = "half")]
    pub factor: f64,
}
fn half() -> f64 {
    0.5
}

/// `spirals`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpiralsData {
    #[serde(default = "default_n")]
    pub n: usize,
    #[serde(default = "default_noise")]
    pub noise: f64,
    /// Number of arms (default 2).
    #[serde(default = "default_two")]
    pub classes: usize,
    /// Turns of each arm (default 1).
    #[serde(default = "one_f")]
    pub turns: f64,
}

/// `blobs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsData {
    #[serde(default = "default_n")]
    pub n: usize,
    /// Number of clusters, each a class (default 3).
    #[serde(default = "three")]
    pub centers: usize,
    /// Dimensions (default 2).
    #[serde(default = "default_two")]
    pub features: usize,
    /// Std of each cluster (default 1).
    #[serde(default = "one_f")]
    pub cluster_std: f64,
}
fn three() -> usize {
    3
}

/// `linear`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearData {
    #[serde(default = "default_n")]
    pub n: usize,
    #[serde(default = "default_noise")]
    pub noise: f64,
    /// Inputs (default 1).
    #[serde(default = "default_one")]
    pub features: usize,
    /// True weights (default drawn from the seed); length `features`.
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
    /// True bias (default 0).
    #[serde(default)]
    pub bias: f64,
}

/// `sine`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SineData {
    #[serde(default = "default_n")]
    pub n: usize,
    #[serde(default = "default_noise")]
    pub noise: f64,
    /// Angular frequency (default 1).
    #[serde(default = "one_f")]
    pub frequency: f64,
    /// Interval x is drawn from (default [-3.14159, 3.14159]).
    #[serde(default = "pi_range")]
    pub x_range: [f64; 2],
}
fn pi_range() -> [f64; 2] {
    [-std::f64::consts::PI, std::f64::consts::PI]
}

/// `csv`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvData {
    /// File, relative to the scenario file.
    pub path: PathBuf,
    /// Feature column names, in order.
    pub features: Vec<String>,
    /// Target column name.
    pub target: String,
    /// Field separator (default `,`).
    #[serde(default = "comma")]
    pub delimiter: char,
}
fn comma() -> char {
    ','
}

/// `inline`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineData {
    /// Rows `[features..., target]`, all the same length.
    pub rows: Vec<Vec<f64>>,
}

/// Initial parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum InitSpec {
    /// The model's own default (torch's `reset_parameters`).
    Default,
    /// All zeros.
    Zeros,
    /// `U(a, b)`.
    Uniform { a: f64, b: f64 },
    /// `N(mean, std²)`.
    Normal { mean: f64, std: f64 },
    /// Glorot uniform with `gain`.
    XavierUniform { gain: f64 },
    /// Glorot normal with `gain`.
    XavierNormal { gain: f64 },
    /// He uniform; `a` is the leaky-relu slope.
    KaimingUniform { a: f64, mode: FanMode },
    /// He normal; `a` is the leaky-relu slope.
    KaimingNormal { a: f64, mode: FanMode },
    /// Explicit parameter vector.
    Values(Vec<f64>),
    /// Parameters read from a file (one number per line or comma-separated).
    File(PathBuf),
}

impl InitSpec {
    /// The `kind` names, in documentation order.
    pub const KINDS: &'static [&'static str] = &[
        "default",
        "zeros",
        "uniform",
        "normal",
        "xavier_uniform",
        "xavier_normal",
        "kaiming_uniform",
        "kaiming_normal",
    ];
}

/// Kaiming fan mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    #[default]
    FanIn,
    FanOut,
}

/// One run: an optimizer and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerSpec {
    /// Registry name, e.g. `adam`.
    pub name: String,
    /// Unique label (default the name, then `adam-2`, `adam-3`, ...).
    pub label: String,
    /// Hyperparameters in file order, torch names.
    pub hyper: Vec<(String, HyperValue)>,
    /// Learning-rate schedule.
    pub schedule: Option<Schedule>,
    /// Gradient clipping.
    pub clip: Option<Clip>,
}

impl OptimizerSpec {
    /// The value of hyperparameter `name`, if given.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&HyperValue> {
        self.hyper.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A hyperparameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum HyperValue {
    /// A number (integers included).
    Number(f64),
    /// A flag.
    Bool(bool),
    /// A pair such as `betas: [0.9, 0.999]`.
    Pair(f64, f64),
    /// A pair with `null` first, torch's `None`: `eps: [null, 0.001]`.
    NullPair(f64),
    /// Three numbers: `ns_coefficients: [3.4445, -4.775, 2.0315]`.
    Triple(f64, f64, f64),
    /// A name: `adjust_lr_fn: match_rms_adamw`.
    Name(String),
}

impl fmt::Display for HyperValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HyperValue::Number(x) => write!(f, "{x}"),
            HyperValue::Bool(b) => write!(f, "{b}"),
            HyperValue::Pair(a, b) => write!(f, "[{a}, {b}]"),
            HyperValue::NullPair(b) => write!(f, "[null, {b}]"),
            HyperValue::Triple(a, b, c) => write!(f, "[{a}, {b}, {c}]"),
            HyperValue::Name(s) => f.write_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for HyperValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HyperValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, true/false, a name, or a list [a, b] or [a, b, c]")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(HyperValue::Bool(b))
            }
            fn visit_u64<E: de::Error>(self, x: u64) -> Result<Self::Value, E> {
                Ok(HyperValue::Number(x as f64))
            }
            fn visit_i64<E: de::Error>(self, x: i64) -> Result<Self::Value, E> {
                Ok(HyperValue::Number(x as f64))
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Self::Value, E> {
                Ok(HyperValue::Number(x))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(HyperValue::Name(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // `null` only first (torch's `None` in Adafactor's `eps`)
                let a: Option<Option<f64>> = seq.next_element()?;
                let b: Option<f64> = seq.next_element()?;
                let c: Option<f64> = seq.next_element()?;
                let expected = &"a pair [a, b] or three numbers [a, b, c]";
                if c.is_some() && seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(4, expected));
                }
                match (a, b, c) {
                    (Some(Some(a)), Some(b), None) => Ok(HyperValue::Pair(a, b)),
                    (Some(None), Some(b), None) => Ok(HyperValue::NullPair(b)),
                    (Some(Some(a)), Some(b), Some(c)) => Ok(HyperValue::Triple(a, b, c)),
                    (Some(None), Some(_), Some(_)) => Err(de::Error::custom(
                        "null (torch's None) fits only first in a pair, as eps: [null, 0.001]",
                    )),
                    (Some(_), None, _) => Err(de::Error::invalid_length(1, expected)),
                    _ => Err(de::Error::invalid_length(0, expected)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Learning-rate schedules (torch `lr_scheduler` names and parameters).
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// `StepLR`.
    Step(StepLr),
    /// `MultiStepLR`.
    MultiStep(MultiStepLr),
    /// `ExponentialLR`.
    Exponential(ExponentialLr),
    /// `CosineAnnealingLR`.
    Cosine(CosineLr),
    /// `LinearLR` from `start_factor` to 1 over `warmup_steps`, then `then`.
    Warmup(WarmupLr, Option<Box<Schedule>>),
    /// `OneCycleLR`.
    OneCycle(OneCycleLr),
    /// `ReduceLROnPlateau` (mode min).
    Plateau(PlateauLr),
    /// `ConstantLR`.
    Constant(ConstantLr),
}

impl Schedule {
    /// The `kind` names, in documentation order.
    pub const KINDS: &'static [&'static str] = &[
        "step",
        "multistep",
        "exponential",
        "cosine",
        "warmup",
        "onecycle",
        "plateau",
        "constant",
    ];
}

fn gamma_default() -> f64 {
    0.1
}

/// `kind: step`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepLr {
    /// Steps between decays.
    pub step_size: u64,
    /// Factor per decay (default 0.1).
    #[serde(default = "gamma_default")]
    pub gamma: f64,
}

/// `kind: multistep`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiStepLr {
    /// Increasing steps at which to decay.
    pub milestones: Vec<u64>,
    #[serde(default = "gamma_default")]
    pub gamma: f64,
}

/// `kind: exponential`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExponentialLr {
    /// Factor per step.
    pub gamma: f64,
}

/// `kind: cosine`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosineLr {
    /// Half period in steps.
    #[serde(rename = "T_max")]
    pub t_max: u64,
    /// Floor (default 0).
    #[serde(default)]
    pub eta_min: f64,
}

/// `kind: warmup` (its `then` is decoded separately).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmupLr {
    /// Length of the ramp.
    pub warmup_steps: u64,
    /// Factor at step 0, in (0, 1] (default 1/3 as torch's `LinearLR`).
    #[serde(default = "third")]
    pub start_factor: f64,
}
fn third() -> f64 {
    1.0 / 3.0
}

/// `kind: onecycle`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneCycleLr {
    /// Peak learning rate.
    pub max_lr: f64,
    /// Cycle length (default `stop.max_steps`).
    #[serde(default)]
    pub total_steps: Option<u64>,
    /// Share of the cycle spent rising (default 0.3).
    #[serde(default = "pct")]
    pub pct_start: f64,
    /// `initial_lr = max_lr / div_factor` (default 25).
    #[serde(default = "div")]
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (default 1e4).
    #[serde(default = "fdiv")]
    pub final_div_factor: f64,
    /// `cos` or `linear` (default cos).
    #[serde(default)]
    pub anneal_strategy: Anneal,
}
fn pct() -> f64 {
    0.3
}
fn div() -> f64 {
    25.0
}
fn fdiv() -> f64 {
    1e4
}

/// One-cycle annealing shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Anneal {
    #[default]
    Cos,
    Linear,
}

/// `kind: plateau`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlateauLr {
    /// Factor per reduction, in (0, 1) (default 0.1).
    #[serde(default = "gamma_default")]
    pub factor: f64,
    /// Steps without improvement before reducing (default 10).
    #[serde(default = "ten")]
    pub patience: u64,
    /// Relative improvement that counts (default 1e-4).
    #[serde(default = "thresh")]
    pub threshold: f64,
    /// Floor (default 0).
    #[serde(default)]
    pub min_lr: f64,
    /// Steps to wait after a reduction (default 0).
    #[serde(default)]
    pub cooldown: u64,
}
fn ten() -> u64 {
    10
}
fn thresh() -> f64 {
    1e-4
}

/// `kind: constant`: lr times `factor` for `total_iters` steps (default forever), then lr.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstantLr {
    /// Multiplier (default 1).
    #[serde(default = "one_f")]
    pub factor: f64,
    /// Steps the factor applies (default: all).
    #[serde(default)]
    pub total_iters: Option<u64>,
}

/// Gradient clipping, applied before the optimizer step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    /// `clip_grad_norm_(max_norm, norm_type)`.
    Norm { max_norm: f64, norm_type: f64 },
    /// `clip_grad_value_(value)`.
    Value(f64),
}

/// The raw clip mapping; exactly one of `max_norm`, `value`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClip {
    pub max_norm: Option<f64>,
    pub norm_type: Option<f64>,
    pub value: Option<f64>,
}

fn max_steps() -> u64 {
    1000
}
fn diverge() -> f64 {
    1e12
}

/// When a run stops.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopSpec {
    /// Optimizer steps (default 1000).
    #[serde(default = "max_steps")]
    pub max_steps: u64,
    /// Objective evaluations, line searches and finite differences included.
    #[serde(default)]
    pub max_evaluations: Option<u64>,
    /// Converged once the loss is below this.
    #[serde(default)]
    pub loss_below: Option<f64>,
    /// Converged once the gradient norm is below this.
    #[serde(default)]
    pub grad_norm_below: Option<f64>,
    /// Stopped after this many steps without a new best loss.
    #[serde(default)]
    pub patience: Option<u64>,
    /// Improvement needed to reset `patience` (default 0).
    #[serde(default)]
    pub min_delta: f64,
    /// Diverged once the loss is above this or not finite (default 1e12).
    #[serde(default = "diverge")]
    pub diverge_above: f64,
}

impl Default for StopSpec {
    fn default() -> Self {
        StopSpec {
            max_steps: max_steps(),
            max_evaluations: None,
            loss_below: None,
            grad_norm_below: None,
            patience: None,
            min_delta: 0.0,
            diverge_above: diverge(),
        }
    }
}

/// How the TUI shows the scenario.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSpec {
    /// Horizontal window of the contour plot (default from `bounds` or the trajectories).
    #[serde(default)]
    pub x_range: Option<[f64; 2]>,
    /// Vertical window.
    #[serde(default)]
    pub y_range: Option<[f64; 2]>,
    /// Log10 loss axis and contour levels (default false).
    #[serde(default)]
    pub log_scale: bool,
    /// Which 2-D slice of parameter space the contour shows (default params [0, 1]).
    #[serde(default)]
    pub plane: Plane,
    /// Contour levels (default 12).
    #[serde(default = "levels")]
    pub levels: usize,
    /// Trajectory points kept on screen; `None` keeps all.
    #[serde(default)]
    pub trail: Option<usize>,
    /// Runs shown at start, by label (default all).
    #[serde(default)]
    pub show: Option<Vec<String>>,
}
fn levels() -> usize {
    12
}

impl Default for ViewSpec {
    fn default() -> Self {
        ViewSpec {
            x_range: None,
            y_range: None,
            log_scale: false,
            plane: Plane::default(),
            levels: levels(),
            trail: None,
            show: None,
        }
    }
}

/// The contour plot's plane.
#[derive(Debug, Clone, PartialEq)]
pub enum Plane {
    /// Two parameter axes, by index or by variable name.
    Params(Axis, Axis),
    /// The top two principal directions of the trajectories.
    Pca,
}

impl Default for Plane {
    fn default() -> Self {
        Plane::Params(Axis::Index(0), Axis::Index(1))
    }
}

/// One axis of a [`Plane`].
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

impl<'de> Deserialize<'de> for Plane {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Plane;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("pca, [i, j] or {params: [i, j]}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                if s == "pca" {
                    Ok(Plane::Pca)
                } else {
                    Err(E::unknown_variant(s, &["pca"]))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let a: Option<Axis> = seq.next_element()?;
                let b: Option<Axis> = seq.next_element()?;
                match (a, b) {
                    (Some(a), Some(b)) => Ok(Plane::Params(a, b)),
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
                Ok(Plane::Params(a, b))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a run reports when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A convergence criterion was met.
    Converged,
    /// A budget ran out (steps, evaluations, patience).
    Stopped,
    /// Loss became non-finite or exceeded `diverge_above`.
    Diverged,
    /// Still going.
    Running,
}

/// Assertions about one run, checked by the headless mode.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Last loss below this.
    #[serde(default)]
    pub final_loss_below: Option<f64>,
    /// Best loss seen below this.
    #[serde(default)]
    pub best_loss_below: Option<f64>,
    /// Classification accuracy (test split if any) above this, in [0, 1].
    #[serde(default)]
    pub accuracy_above: Option<f64>,
    /// The run's final status.
    #[serde(default)]
    pub status: Option<RunStatus>,
    /// Euclidean distance from the final point to `objective.minimum` below this.
    #[serde(default)]
    pub distance_to_minimum_below: Option<f64>,
    /// Status converged at or before this step.
    #[serde(default)]
    pub converged_within_steps: Option<u64>,
}
