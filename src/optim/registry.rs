//! The optimizer registry: name → constructor and hyperparameter metadata ([`HyperSpec`]), used by
//! the scenario loader, the CLI and the TUI editor, plus [`HyperSet`], the validated store of
//! hyperparameter values every optimizer keeps.

use std::fmt;

use super::{OptimError, Optimizer};

/// A hyperparameter value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HyperValue {
    Float(f64),
    Bool(bool),
    Int(usize),
    /// `betas`, `etas`, `step_sizes`.
    Pair(f64, f64),
}

impl fmt::Display for HyperValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Float(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Pair(a, b) => write!(f, "({a}, {b})"),
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

/// One end of a [`Range`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    Unbounded,
    Inclusive(f64),
    Exclusive(f64),
}

/// An interval of valid real values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: Bound,
    pub max: Bound,
}

impl Range {
    pub fn contains(&self, v: f64) -> bool {
        if !v.is_finite() {
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

/// The set of valid values of a hyperparameter.
#[derive(Clone, Copy, Debug, PartialEq)]
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
}

/// How an editor should step a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Log,
    Linear,
}

/// Metadata of one hyperparameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HyperSpec {
    pub name: &'static str,
    pub default: HyperValue,
    pub domain: Domain,
    pub scale: Scale,
    pub description: &'static str,
}

/// Metadata of one optimizer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub needs_gradient: bool,
    pub needs_hessian: bool,
    pub needs_residuals: bool,
    pub gradient_free: bool,
    /// The hyperparameter `lr()`/`set_lr()` act on.
    pub lr_name: Option<&'static str>,
    pub hypers: &'static [HyperSpec],
}

// ---- spec building blocks (const so the tables are statics) ----

const fn gt(m: f64) -> Bound {
    Bound::Exclusive(m)
}
const fn ge(m: f64) -> Bound {
    Bound::Inclusive(m)
}
const INF: Bound = Bound::Unbounded;
const fn range(min: Bound, max: Bound) -> Range {
    Range { min, max }
}
const fn float(
    name: &'static str,
    default: f64,
    min: Bound,
    max: Bound,
    scale: Scale,
    description: &'static str,
) -> HyperSpec {
    HyperSpec {
        name,
        default: HyperValue::Float(default),
        domain: Domain::Float(range(min, max)),
        scale,
        description,
    }
}
const fn boolean(name: &'static str, default: bool, description: &'static str) -> HyperSpec {
    HyperSpec {
        name,
        default: HyperValue::Bool(default),
        domain: Domain::Bool,
        scale: Scale::Linear,
        description,
    }
}
const fn int(
    name: &'static str,
    default: usize,
    min: usize,
    max: usize,
    description: &'static str,
) -> HyperSpec {
    HyperSpec {
        name,
        default: HyperValue::Int(default),
        domain: Domain::Int { min, max },
        scale: Scale::Linear,
        description,
    }
}
const fn lr(default: f64) -> HyperSpec {
    float("lr", default, gt(0.0), INF, Scale::Log, "learning rate")
}
const fn weight_decay(default: f64) -> HyperSpec {
    float(
        "weight_decay",
        default,
        ge(0.0),
        INF,
        Scale::Log,
        "weight decay (L2 penalty added to the gradient)",
    )
}
const fn eps(default: f64) -> HyperSpec {
    float(
        "eps",
        default,
        ge(0.0),
        INF,
        Scale::Log,
        "term added to the denominator for numerical stability",
    )
}
const fn betas(b1: f64, b2: f64) -> HyperSpec {
    let unit = range(ge(0.0), Bound::Exclusive(1.0));
    HyperSpec {
        name: "betas",
        default: HyperValue::Pair(b1, b2),
        domain: Domain::Pair(unit, unit),
        scale: Scale::Linear,
        description: "coefficients of the running averages of the gradient and its square",
    }
}
const MAXIMIZE: HyperSpec = boolean("maximize", false, "maximize the objective instead");
const DECOUPLED: HyperSpec = boolean(
    "decoupled_weight_decay",
    false,
    "decay the parameters directly (AdamW-style) instead of adding to the gradient",
);

const fn sgd_hypers(momentum: f64, nesterov: bool) -> [HyperSpec; 6] {
    [
        lr(1e-3),
        float(
            "momentum",
            momentum,
            ge(0.0),
            Bound::Exclusive(1.0),
            Scale::Linear,
            "momentum factor",
        ),
        float(
            "dampening",
            0.0,
            ge(0.0),
            Bound::Inclusive(1.0),
            Scale::Linear,
            "dampening for momentum",
        ),
        weight_decay(0.0),
        boolean("nesterov", nesterov, "use Nesterov momentum"),
        MAXIMIZE,
    ]
}
static SGD_H: [HyperSpec; 6] = sgd_hypers(0.0, false);
static MOMENTUM_H: [HyperSpec; 6] = sgd_hypers(0.9, false);
static NESTEROV_H: [HyperSpec; 6] = sgd_hypers(0.9, true);

static ADAGRAD_H: [HyperSpec; 6] = [
    lr(1e-2),
    float(
        "lr_decay",
        0.0,
        ge(0.0),
        INF,
        Scale::Log,
        "learning rate decay",
    ),
    weight_decay(0.0),
    float(
        "initial_accumulator_value",
        0.0,
        ge(0.0),
        INF,
        Scale::Linear,
        "initial value of the sum of squared gradients",
    ),
    eps(1e-10),
    MAXIMIZE,
];

static ADADELTA_H: [HyperSpec; 5] = [
    lr(1.0),
    float(
        "rho",
        0.9,
        ge(0.0),
        Bound::Inclusive(1.0),
        Scale::Linear,
        "coefficient of the running average of squared gradients",
    ),
    eps(1e-6),
    weight_decay(0.0),
    MAXIMIZE,
];

static RMSPROP_H: [HyperSpec; 7] = [
    lr(1e-2),
    float(
        "alpha",
        0.99,
        ge(0.0),
        Bound::Exclusive(1.0),
        Scale::Linear,
        "smoothing constant",
    ),
    eps(1e-8),
    weight_decay(0.0),
    float(
        "momentum",
        0.0,
        ge(0.0),
        Bound::Exclusive(1.0),
        Scale::Linear,
        "momentum factor",
    ),
    boolean(
        "centered",
        false,
        "normalize by the estimated variance of the gradient",
    ),
    MAXIMIZE,
];

const fn adam_hypers(default_lr: f64, wd: f64) -> [HyperSpec; 6] {
    [
        lr(default_lr),
        betas(0.9, 0.999),
        eps(1e-8),
        weight_decay(wd),
        boolean(
            "amsgrad",
            false,
            "use the maximum of past squared-gradient averages",
        ),
        MAXIMIZE,
    ]
}
static ADAM_H: [HyperSpec; 6] = adam_hypers(1e-3, 0.0);
static ADAMW_H: [HyperSpec; 6] = adam_hypers(1e-3, 1e-2);
static ADAMAX_H: [HyperSpec; 5] = [
    lr(2e-3),
    betas(0.9, 0.999),
    eps(1e-8),
    weight_decay(0.0),
    MAXIMIZE,
];
static NADAM_H: [HyperSpec; 7] = [
    lr(2e-3),
    betas(0.9, 0.999),
    eps(1e-8),
    weight_decay(0.0),
    float(
        "momentum_decay",
        4e-3,
        ge(0.0),
        INF,
        Scale::Log,
        "momentum decay (psi)",
    ),
    DECOUPLED,
    MAXIMIZE,
];
static RADAM_H: [HyperSpec; 6] = [
    lr(1e-3),
    betas(0.9, 0.999),
    eps(1e-8),
    weight_decay(0.0),
    DECOUPLED,
    MAXIMIZE,
];
static RPROP_H: [HyperSpec; 4] = [
    lr(1e-2),
    HyperSpec {
        name: "etas",
        default: HyperValue::Pair(0.5, 1.2),
        domain: Domain::Pair(range(gt(0.0), Bound::Exclusive(1.0)), range(gt(1.0), INF)),
        scale: Scale::Linear,
        description: "(etaminus, etaplus): step-size factors on a sign change / no change",
    },
    HyperSpec {
        name: "step_sizes",
        default: HyperValue::Pair(1e-6, 50.0),
        domain: Domain::IncreasingPair(range(ge(0.0), INF)),
        scale: Scale::Log,
        description: "(min, max) allowed step sizes",
    },
    MAXIMIZE,
];
static LION_H: [HyperSpec; 4] = [
    lr(1e-4),
    HyperSpec {
        name: "betas",
        default: HyperValue::Pair(0.9, 0.99),
        domain: Domain::Pair(
            range(ge(0.0), Bound::Inclusive(1.0)),
            range(ge(0.0), Bound::Inclusive(1.0)),
        ),
        scale: Scale::Linear,
        description: "interpolation factor of the update / decay of the momentum",
    },
    weight_decay(0.0),
    MAXIMIZE,
];
static NEWTON_H: [HyperSpec; 1] = [float(
    "lr",
    1.0,
    gt(0.0),
    INF,
    Scale::Log,
    "damping factor of the Newton step",
)];
static LBFGS_H: [HyperSpec; 6] = [
    lr(1.0),
    int(
        "max_iter",
        1,
        1,
        10_000,
        "L-BFGS iterations per step (torch's default is 20)",
    ),
    float(
        "tolerance_grad",
        1e-7,
        ge(0.0),
        INF,
        Scale::Log,
        "stop when max |grad| is below this",
    ),
    float(
        "tolerance_change",
        1e-9,
        ge(0.0),
        INF,
        Scale::Log,
        "stop when the step or loss change is below this",
    ),
    int(
        "history_size",
        10,
        1,
        10_000,
        "number of curvature pairs kept (torch's default is 100)",
    ),
    boolean(
        "strong_wolfe",
        true,
        "strong-Wolfe line search (torch: line_search_fn='strong_wolfe'); false = fixed step lr",
    ),
];
static LM_H: [HyperSpec; 5] = [
    float("lambda", 1e-3, gt(0.0), INF, Scale::Log, "initial damping"),
    float(
        "lambda_up",
        10.0,
        gt(1.0),
        INF,
        Scale::Log,
        "damping factor on a rejected step",
    ),
    float(
        "lambda_down",
        10.0,
        gt(1.0),
        INF,
        Scale::Log,
        "damping divisor on an accepted step",
    ),
    boolean(
        "marquardt_scaling",
        true,
        "damp with λ·diag(JᵀJ) (Marquardt) instead of λ·I (Levenberg)",
    ),
    int(
        "max_tries",
        10,
        1,
        1000,
        "trial solves per step before giving up",
    ),
];
static GENETIC_H: [HyperSpec; 8] = [
    int("population", 50, 2, 100_000, "individuals per generation"),
    int(
        "tournament_size",
        3,
        1,
        1000,
        "individuals drawn per tournament",
    ),
    float(
        "crossover_rate",
        0.9,
        ge(0.0),
        Bound::Inclusive(1.0),
        Scale::Linear,
        "probability that a child is a blend of two parents",
    ),
    float(
        "blend_alpha",
        0.5,
        ge(0.0),
        INF,
        Scale::Linear,
        "BLX-alpha: how far beyond the parents a blend may reach (0 = arithmetic crossover)",
    ),
    float(
        "mutation_rate",
        0.5,
        ge(0.0),
        Bound::Inclusive(1.0),
        Scale::Linear,
        "probability that a gene gets gaussian noise",
    ),
    float(
        "sigma",
        0.1,
        gt(0.0),
        INF,
        Scale::Log,
        "standard deviation of the gaussian mutation",
    ),
    int(
        "elitism",
        2,
        0,
        100_000,
        "best individuals copied unchanged",
    ),
    float(
        "init_sigma",
        1.0,
        gt(0.0),
        INF,
        Scale::Log,
        "spread of the initial population around the start",
    ),
];
static NELDER_MEAD_H: [HyperSpec; 5] = [
    float(
        "reflection",
        1.0,
        gt(0.0),
        INF,
        Scale::Linear,
        "reflection coefficient (alpha)",
    ),
    float(
        "expansion",
        2.0,
        gt(1.0),
        INF,
        Scale::Linear,
        "expansion coefficient (gamma)",
    ),
    float(
        "contraction",
        0.5,
        gt(0.0),
        Bound::Exclusive(1.0),
        Scale::Linear,
        "contraction coefficient (rho)",
    ),
    float(
        "shrink",
        0.5,
        gt(0.0),
        Bound::Exclusive(1.0),
        Scale::Linear,
        "shrink coefficient (sigma)",
    ),
    float(
        "initial_step",
        0.5,
        gt(0.0),
        INF,
        Scale::Log,
        "edge length of the initial simplex",
    ),
];
static RANDOM_SEARCH_H: [HyperSpec; 3] = [
    float(
        "radius",
        0.5,
        gt(0.0),
        INF,
        Scale::Log,
        "standard deviation of samples around the best point",
    ),
    int("samples", 20, 1, 1_000_000, "samples per step"),
    float(
        "shrink",
        0.9,
        gt(0.0),
        Bound::Inclusive(1.0),
        Scale::Linear,
        "radius factor after a step without improvement",
    ),
];

const fn grad_spec(
    name: &'static str,
    description: &'static str,
    hypers: &'static [HyperSpec],
) -> OptimizerSpec {
    OptimizerSpec {
        name,
        description,
        needs_gradient: true,
        needs_hessian: false,
        needs_residuals: false,
        gradient_free: false,
        lr_name: Some("lr"),
        hypers,
    }
}
const fn free_spec(
    name: &'static str,
    description: &'static str,
    lr_name: Option<&'static str>,
    hypers: &'static [HyperSpec],
) -> OptimizerSpec {
    OptimizerSpec {
        name,
        description,
        needs_gradient: false,
        needs_hessian: false,
        needs_residuals: false,
        gradient_free: true,
        lr_name,
        hypers,
    }
}

static SPECS: [OptimizerSpec; 20] = [
    grad_spec(
        "sgd",
        "stochastic gradient descent (torch.optim.SGD)",
        &SGD_H,
    ),
    grad_spec("gd", "plain gradient descent (sgd)", &SGD_H),
    grad_spec(
        "momentum",
        "heavy-ball momentum (sgd, momentum 0.9)",
        &MOMENTUM_H,
    ),
    grad_spec(
        "nesterov",
        "Nesterov momentum (sgd, momentum 0.9, nesterov)",
        &NESTEROV_H,
    ),
    grad_spec(
        "adagrad",
        "per-parameter steps scaled by accumulated squared gradients (torch.optim.Adagrad)",
        &ADAGRAD_H,
    ),
    grad_spec(
        "adadelta",
        "unit-corrected running averages of squared gradients and updates (torch.optim.Adadelta)",
        &ADADELTA_H,
    ),
    grad_spec(
        "rmsprop",
        "steps scaled by a running average of squared gradients (torch.optim.RMSprop)",
        &RMSPROP_H,
    ),
    grad_spec(
        "adam",
        "bias-corrected first and second moment estimates (torch.optim.Adam)",
        &ADAM_H,
    ),
    grad_spec(
        "adamw",
        "Adam with decoupled weight decay (torch.optim.AdamW)",
        &ADAMW_H,
    ),
    grad_spec(
        "adamax",
        "Adam with the infinity norm (torch.optim.Adamax)",
        &ADAMAX_H,
    ),
    grad_spec(
        "nadam",
        "Adam with Nesterov momentum (torch.optim.NAdam)",
        &NADAM_H,
    ),
    grad_spec(
        "radam",
        "Adam with a rectified adaptive learning rate (torch.optim.RAdam)",
        &RADAM_H,
    ),
    grad_spec(
        "rprop",
        "resilient backpropagation: gradient signs only (torch.optim.Rprop)",
        &RPROP_H,
    ),
    grad_spec(
        "lion",
        "sign of an interpolated momentum (Chen et al. 2023)",
        &LION_H,
    ),
    OptimizerSpec {
        name: "newton",
        description: "damped Newton with the exact Hessian; gradient step where it is not positive definite",
        needs_gradient: true,
        needs_hessian: true,
        needs_residuals: false,
        gradient_free: false,
        lr_name: Some("lr"),
        hypers: &NEWTON_H,
    },
    grad_spec(
        "lbfgs",
        "limited-memory BFGS with strong-Wolfe line search (torch.optim.LBFGS)",
        &LBFGS_H,
    ),
    OptimizerSpec {
        name: "levenberg_marquardt",
        description: "damped Gauss-Newton for least squares; damped Newton if there are no residuals",
        needs_gradient: true,
        needs_hessian: false,
        needs_residuals: true,
        gradient_free: false,
        lr_name: None,
        hypers: &LM_H,
    },
    free_spec(
        "genetic",
        "real-valued genetic algorithm: tournaments, blend crossover, gaussian mutation, elitism",
        Some("sigma"),
        &GENETIC_H,
    ),
    free_spec(
        "nelder_mead",
        "downhill simplex (Nelder-Mead)",
        None,
        &NELDER_MEAD_H,
    ),
    free_spec(
        "random_search",
        "gaussian samples around the best point, shrinking on failure",
        Some("radius"),
        &RANDOM_SEARCH_H,
    ),
];

static NAMES: [&str; 20] = [
    "sgd",
    "gd",
    "momentum",
    "nesterov",
    "adagrad",
    "adadelta",
    "rmsprop",
    "adam",
    "adamw",
    "adamax",
    "nadam",
    "radam",
    "rprop",
    "lion",
    "newton",
    "lbfgs",
    "levenberg_marquardt",
    "genetic",
    "nelder_mead",
    "random_search",
];

/// Every registered optimizer name.
pub fn names() -> &'static [&'static str] {
    &NAMES
}

/// Metadata of a registered optimizer.
pub fn spec(name: &str) -> Option<&'static OptimizerSpec> {
    SPECS.iter().find(|s| s.name == name)
}

/// The nearest candidate by Damerau–Levenshtein distance if it is plausibly a typo (at most one
/// edit per three characters), else a candidate the input is a prefix of (`levenberg`).
pub fn suggest<'a>(bad: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let bad = bad.to_lowercase();
    let candidates: Vec<&str> = candidates.into_iter().collect();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&bad, c), *c))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, c)| *d <= 1.max(c.len().max(bad.len()) / 3))
        .or_else(|| {
            candidates
                .iter()
                .find(|c| bad.len() >= 3 && c.starts_with(bad.as_str()))
                .map(|c| (0, *c))
        })
        .map(|(_, c)| c.to_string())
}

/// Every optimizer with its description and hyperparameters (`gradscope list`).
#[must_use]
pub fn describe_all() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for spec in SPECS.iter() {
        let _ = writeln!(out, "{:<20} {}", spec.name, spec.description);
        for h in spec.hypers {
            let _ = writeln!(
                out,
                "    {:<26} default {:<14} {}",
                h.name,
                h.default.to_string(),
                h.description
            );
        }
    }
    out
}

/// Builds an optimizer from its registry name and hyperparameter overrides (validated).
/// `seed` feeds the RNG of stochastic methods. `_dim` (the number of parameters) is accepted for
/// callers' convenience; every optimizer sizes its state lazily from the first `step`.
pub fn build(
    name: &str,
    params: &[(String, HyperValue)],
    seed: u64,
    _dim: usize,
) -> Result<Box<dyn Optimizer>, OptimError> {
    let Some(spec) = spec(name) else {
        return Err(OptimError::UnknownOptimizer {
            name: name.to_string(),
            suggestion: suggest(name, NAMES.iter().copied()),
            valid: NAMES.join(", "),
        });
    };
    let mut h = HyperSet::new(spec);
    for (k, v) in params {
        h.set(k, *v)?;
    }
    use super::*;
    let opt: Box<dyn Optimizer> = match spec.name {
        "sgd" | "gd" | "momentum" | "nesterov" => Box::new(sgd::Sgd::new(h)),
        "adagrad" => Box::new(adagrad::Adagrad::new(h)),
        "adadelta" => Box::new(adadelta::Adadelta::new(h)),
        "rmsprop" => Box::new(rmsprop::RmsProp::new(h)),
        "adam" | "adamw" => Box::new(adam::Adam::new(h)),
        "adamax" => Box::new(adamax::Adamax::new(h)),
        "nadam" => Box::new(nadam::NAdam::new(h)),
        "radam" => Box::new(radam::RAdam::new(h)),
        "rprop" => Box::new(rprop::Rprop::new(h)),
        "lion" => Box::new(lion::Lion::new(h)),
        "newton" => Box::new(newton::Newton::new(h)),
        "lbfgs" => Box::new(lbfgs::Lbfgs::new(h)),
        "levenberg_marquardt" => Box::new(levenberg_marquardt::LevenbergMarquardt::new(h)),
        "genetic" => Box::new(genetic::Genetic::new(h, seed)),
        "nelder_mead" => Box::new(nelder_mead::NelderMead::new(h)),
        _ => Box::new(random_search::RandomSearch::new(h, seed)),
    };
    Ok(opt)
}

/// Validated hyperparameter values of one optimizer, in registry order.
#[derive(Clone, Debug, PartialEq)]
pub struct HyperSet {
    spec: &'static OptimizerSpec,
    values: Vec<HyperValue>,
}

impl HyperSet {
    /// All defaults.
    pub fn new(spec: &'static OptimizerSpec) -> Self {
        Self {
            spec,
            values: spec.hypers.iter().map(|h| h.default).collect(),
        }
    }

    pub fn spec(&self) -> &'static OptimizerSpec {
        self.spec
    }

    pub fn list(&self) -> Vec<(String, HyperValue)> {
        self.spec
            .hypers
            .iter()
            .zip(&self.values)
            .map(|(h, v)| (h.name.to_string(), *v))
            .collect()
    }

    fn get(&self, name: &str) -> Option<HyperValue> {
        let i = self.spec.hypers.iter().position(|h| h.name == name)?;
        self.values.get(i).copied()
    }

    // Typed getters: names are compile-time constants of the optimizer's own module, checked by
    // its tests, so a miss is a programming error; it yields NaN / false / 0 rather than a panic.
    pub(crate) fn f(&self, name: &str) -> f64 {
        match self.get(name) {
            Some(HyperValue::Float(v)) => v,
            _ => {
                debug_assert!(false, "no float hyperparameter {name}");
                f64::NAN
            }
        }
    }
    pub(crate) fn b(&self, name: &str) -> bool {
        matches!(self.get(name), Some(HyperValue::Bool(true)))
    }
    pub(crate) fn u(&self, name: &str) -> usize {
        match self.get(name) {
            Some(HyperValue::Int(v)) => v,
            _ => {
                debug_assert!(false, "no int hyperparameter {name}");
                0
            }
        }
    }
    pub(crate) fn pair(&self, name: &str) -> (f64, f64) {
        match self.get(name) {
            Some(HyperValue::Pair(a, b)) => (a, b),
            _ => {
                debug_assert!(false, "no pair hyperparameter {name}");
                (f64::NAN, f64::NAN)
            }
        }
    }

    pub(crate) fn lr(&self) -> f64 {
        self.spec.lr_name.map_or(1.0, |n| self.f(n))
    }

    pub(crate) fn set_lr(&mut self, lr: f64) {
        if let Some(n) = self.spec.lr_name {
            // Out-of-range learning rates are documented as ignored.
            let _ = self.set(n, HyperValue::Float(lr));
        }
    }

    /// Sets a value after checking its name, type and range.
    pub fn set(&mut self, name: &str, value: HyperValue) -> Result<(), OptimError> {
        let Some(i) = self.spec.hypers.iter().position(|h| h.name == name) else {
            let names = self.spec.hypers.iter().map(|h| h.name);
            return Err(OptimError::UnknownHyperparameter {
                optimizer: self.spec.name.to_string(),
                name: name.to_string(),
                suggestion: suggest(name, names.clone()),
                valid: names.collect::<Vec<_>>().join(", "),
            });
        };
        let spec = &self.spec.hypers[i];
        let invalid = |expected: String| OptimError::InvalidValue {
            optimizer: self.spec.name.to_string(),
            name: name.to_string(),
            value: value.to_string(),
            expected,
        };
        let checked = match (spec.domain, value) {
            (Domain::Float(r), HyperValue::Float(v)) => {
                r.contains(v).then_some(HyperValue::Float(v))
            }
            (Domain::Float(r), HyperValue::Int(v)) => {
                let v = v as f64;
                r.contains(v).then_some(HyperValue::Float(v))
            }
            (Domain::Int { min, max }, HyperValue::Int(v)) => {
                (min..=max).contains(&v).then_some(value)
            }
            (Domain::Int { min, max }, HyperValue::Float(v))
                if v.fract() == 0.0 && v >= 0.0 && v <= max as f64 =>
            {
                let v = v as usize;
                (min..=max).contains(&v).then_some(HyperValue::Int(v))
            }
            (Domain::Bool, HyperValue::Bool(_)) => Some(value),
            (Domain::Pair(r1, r2), HyperValue::Pair(a, b)) => {
                (r1.contains(a) && r2.contains(b)).then_some(value)
            }
            (Domain::IncreasingPair(r), HyperValue::Pair(a, b)) => {
                (r.contains(a) && r.contains(b) && a <= b).then_some(value)
            }
            _ => None,
        };
        match checked {
            Some(v) => {
                self.values[i] = v;
                Ok(())
            }
            None => Err(invalid(describe(spec))),
        }
    }
}

fn describe(spec: &HyperSpec) -> String {
    let n = spec.name;
    match spec.domain {
        Domain::Float(r) => format!("'{n}' must be a number {r}"),
        Domain::Bool => format!("'{n}' must be true or false"),
        Domain::Int { min, max } => format!("'{n}' must be an integer in [{min}, {max}]"),
        Domain::Pair(a, b) if a == b => format!("'{n}' must be a pair, each {a}"),
        Domain::Pair(a, b) => format!("'{n}' must be a pair, the first {a} and the second {b}"),
        Domain::IncreasingPair(r) => {
            format!("'{n}' must be a pair (min, max), each {r}, min <= max")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_with_defaults_and_round_trips_its_name() {
        for &n in names() {
            let o = build(n, &[], 7, 2).expect("builds");
            assert_eq!(o.name(), n);
            let s = spec(n).expect("spec");
            assert_eq!(o.hyperparameters().len(), s.hypers.len());
        }
        assert_eq!(names().len(), SPECS.len());
    }

    #[test]
    fn torch_defaults() {
        let d = |n: &str, h: &str| {
            spec(n)
                .and_then(|s| s.hypers.iter().find(|x| x.name == h))
                .map(|x| x.default)
        };
        assert_eq!(d("sgd", "lr"), Some(HyperValue::Float(1e-3)));
        assert_eq!(d("momentum", "momentum"), Some(HyperValue::Float(0.9)));
        assert_eq!(d("nesterov", "nesterov"), Some(HyperValue::Bool(true)));
        assert_eq!(d("adagrad", "eps"), Some(HyperValue::Float(1e-10)));
        assert_eq!(d("adadelta", "lr"), Some(HyperValue::Float(1.0)));
        assert_eq!(d("rmsprop", "alpha"), Some(HyperValue::Float(0.99)));
        assert_eq!(d("adam", "betas"), Some(HyperValue::Pair(0.9, 0.999)));
        assert_eq!(d("adamw", "weight_decay"), Some(HyperValue::Float(1e-2)));
        assert_eq!(d("adamax", "lr"), Some(HyperValue::Float(2e-3)));
        assert_eq!(d("nadam", "momentum_decay"), Some(HyperValue::Float(4e-3)));
        assert_eq!(d("rprop", "etas"), Some(HyperValue::Pair(0.5, 1.2)));
        assert_eq!(d("rprop", "step_sizes"), Some(HyperValue::Pair(1e-6, 50.0)));
        assert_eq!(d("lion", "lr"), Some(HyperValue::Float(1e-4)));
    }

    #[test]
    fn unknown_optimizer_suggests_adam() {
        let e = build("adma", &[], 0, 2).err().expect("error");
        let msg = e.to_string();
        assert!(msg.contains("'adma'"), "{msg}");
        assert!(msg.contains("did you mean 'adam'"), "{msg}");
        assert!(msg.contains("sgd, gd"), "{msg}");
        assert_eq!(
            suggest("levenberg", names().iter().copied()).as_deref(),
            Some("levenberg_marquardt")
        );
        assert_eq!(
            suggest("RMSProp", names().iter().copied()).as_deref(),
            Some("rmsprop")
        );
        assert_eq!(suggest("xyz", names().iter().copied()), None);
    }

    #[test]
    fn unknown_hyperparameter_suggests_lr() {
        let e = build("adam", &[("lrr".into(), 0.1.into())], 0, 2)
            .err()
            .expect("error");
        let msg = e.to_string();
        assert!(msg.contains("'lrr'"), "{msg}");
        assert!(msg.contains("did you mean 'lr'"), "{msg}");
        assert!(msg.contains("betas"), "{msg}");
    }

    #[test]
    fn out_of_range_names_the_range() {
        let msg = build("sgd", &[("lr".into(), (-1.0).into())], 0, 2)
            .err()
            .expect("error")
            .to_string();
        assert!(msg.contains("'-1'") && msg.contains("> 0"), "{msg}");
        let msg = build("adam", &[("betas".into(), (0.9, 1.0).into())], 0, 2)
            .err()
            .expect("error")
            .to_string();
        assert!(msg.contains("[0, 1)") && msg.contains("(0.9, 1)"), "{msg}");
        let msg = build("rprop", &[("etas".into(), (1.5, 1.2).into())], 0, 2)
            .err()
            .expect("error")
            .to_string();
        assert!(msg.contains("(0, 1)"), "{msg}");
        assert!(build("adam", &[("amsgrad".into(), 1.0.into())], 0, 2).is_err());
        assert!(build("lbfgs", &[("history_size".into(), 0usize.into())], 0, 2).is_err());
    }

    #[test]
    fn set_hyperparameter_and_lr_validate() {
        let mut o = build("adam", &[("lr".into(), 0.5.into())], 0, 2).expect("builds");
        assert_eq!(o.lr(), 0.5);
        o.set_lr(0.25);
        assert_eq!(o.lr(), 0.25);
        o.set_lr(-1.0);
        assert_eq!(o.lr(), 0.25);
        assert!(
            o.set_hyperparameter("eps", HyperValue::Float(-1.0))
                .is_err()
        );
        o.set_hyperparameter("amsgrad", true.into()).expect("valid");
        assert!(
            o.hyperparameters()
                .contains(&("amsgrad".to_string(), HyperValue::Bool(true)))
        );
        // integers are accepted for floats and integral floats for integers
        let o = build("lbfgs", &[("history_size".into(), 5.0.into())], 0, 2).expect("ok");
        assert!(
            o.hyperparameters()
                .contains(&("history_size".to_string(), HyperValue::Int(5)))
        );
    }

    #[test]
    fn spec_flags() {
        assert!(spec("newton").is_some_and(|s| s.needs_hessian));
        assert!(spec("levenberg_marquardt").is_some_and(|s| s.needs_residuals));
        assert!(spec("genetic").is_some_and(|s| s.gradient_free && !s.needs_gradient));
        assert!(spec("nope").is_none());
    }
}
