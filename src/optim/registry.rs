//! The optimizer registry: the list of every optimizer's [`OptimizerSpec`] (each one written in
//! its optimizer's file, beside the update rule it builds), lookup by name with a suggestion for
//! typos (the crate's one policy, [`crate::suggest`]), construction with validated hyperparameter overrides, and `gradscope list`.
//!
//! Adding an optimizer: write its file (update rule, typed hyperparameters, spec with builder),
//! declare the module in `optim.rs` and add the spec to [`OPTIMIZERS`]. A spec left out of the
//! list is dead code, which the lints reject.

use std::fmt;
use std::sync::LazyLock;

use super::hyper::{HyperSet, HyperSpec, HyperValue, Hypers};
use super::layout::ParamLayout;
use super::{OptimError, Optimizer};

/// Every registered optimizer, in the order `gradscope list` and the TUI's add-optimizer list
/// show them.
static OPTIMIZERS: &[&OptimizerSpec] = &[
    &super::sgd::SGD,
    &super::sgd::GD,
    &super::sgd::MOMENTUM,
    &super::sgd::NESTEROV,
    &super::adagrad::ADAGRAD,
    &super::adadelta::ADADELTA,
    &super::rmsprop::RMSPROP,
    &super::adam::ADAM,
    &super::adam::ADAMW,
    &super::adamax::ADAMAX,
    &super::nadam::NADAM,
    &super::radam::RADAM,
    &super::rprop::RPROP,
    &super::lion::LION,
    &super::schedule_free::SCHEDULE_FREE_SGD,
    &super::schedule_free::SCHEDULE_FREE_ADAMW,
    &super::prodigy::PRODIGY,
    &super::adabelief::ADABELIEF,
    &super::adopt::ADOPT,
    &super::ademamix::ADEMAMIX,
    &super::adan::ADAN,
    &super::newton::NEWTON,
    &super::lbfgs::LBFGS,
    &super::levenberg_marquardt::LEVENBERG_MARQUARDT,
    &super::genetic::GENETIC,
    &super::nelder_mead::NELDER_MEAD,
    &super::random_search::RANDOM_SEARCH,
    &super::adafactor::ADAFACTOR,
    &super::asgd::ASGD,
    &super::muon::MUON,
];

/// torch.optim optimizers gradscope does not offer, with the reason `gradscope list` and the
/// errors give.
static NOT_OFFERED: &[(&str, &str)] = &[(
    "sparse_adam",
    "torch.optim.SparseAdam accepts only sparse gradients (from nn.Embedding(sparse=True)); \
     every gradient here is dense: use adam or adamw",
)];

/// What an optimizer asks the oracle for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Values and gradients.
    Gradient,
    /// The exact Hessian as well.
    Hessian,
    /// Residuals and their Jacobian where the objective is least-squares (it copes without).
    Residuals,
    /// Values only: a gradient-free method.
    ValuesOnly,
}

/// A registered optimizer, written in the optimizer's own file next to its update rule.
pub struct OptimizerSpec {
    /// The registry name (`"adamw"`, or an alias such as `"momentum"`).
    pub name: &'static str,
    /// One line for `gradscope list` and the TUI's add-optimizer list.
    pub description: &'static str,
    pub needs: Needs,
    /// Builds the optimizer with its default hyperparameters; [`build`] then applies overrides.
    pub build: fn(&BuildContext<'_>) -> Box<dyn Optimizer>,
}

impl OptimizerSpec {
    /// The hyperparameters with their defaults, domains and descriptions, in torch's order, as
    /// the optimizer's own table gives them.
    #[must_use]
    pub fn hypers(&'static self) -> Vec<HyperSpec> {
        self.with_defaults().hyper_set().specs()
    }

    /// The optimizer with its defaults on no parameters, to read its tables.
    fn with_defaults(&'static self) -> Box<dyn Optimizer> {
        let layout = ParamLayout::vector(0);
        let ctx = BuildContext {
            spec: self,
            seed: 0,
            dim: 0,
            layout: &layout,
        };
        (self.build)(&ctx)
    }

    /// The name of its learning rate (see [`Optimizer::lr_name`]), `None` if it has none.
    #[must_use]
    pub fn lr_name(&'static self) -> Option<&'static str> {
        self.with_defaults().lr_name()
    }

    #[must_use]
    pub fn gradient_free(&self) -> bool {
        self.needs == Needs::ValuesOnly
    }
}

impl fmt::Debug for OptimizerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptimizerSpec")
            .field("name", &self.name)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// What a builder gets besides its defaults: the entry being built, the run's seed (for
/// stochastic methods), the number of parameters and their [`ParamLayout`] (the tensors torch
/// would hold: what Adafactor factors and Muon orthogonalises; `dim == layout.dim()`).
#[derive(Clone, Copy, Debug)]
pub struct BuildContext<'a> {
    pub spec: &'static OptimizerSpec,
    pub seed: u64,
    pub dim: usize,
    pub layout: &'a ParamLayout,
}

impl BuildContext<'_> {
    /// The hyperparameter set of the optimizer being built, starting at `defaults`.
    #[must_use]
    pub fn hypers<T: Hypers>(&self, defaults: T) -> HyperSet<T> {
        HyperSet::new(self.spec, defaults)
    }
}

/// Every registered optimizer name.
pub fn names() -> &'static [&'static str] {
    static NAMES: LazyLock<Vec<&'static str>> =
        LazyLock::new(|| OPTIMIZERS.iter().map(|s| s.name).collect());
    &NAMES
}

/// Metadata of a registered optimizer.
pub fn spec(name: &str) -> Option<&'static OptimizerSpec> {
    OPTIMIZERS.iter().copied().find(|s| s.name == name)
}

/// Why a torch.optim optimizer is not offered, if it is one of those.
#[must_use]
pub fn not_offered(name: &str) -> Option<&'static str> {
    NOT_OFFERED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, reason)| *reason)
}

/// Every optimizer with its description and hyperparameters (`gradscope list`), then the ones
/// not offered and why.
#[must_use]
pub fn describe_all() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for spec in OPTIMIZERS {
        let _ = writeln!(out, "{:<20} {}", spec.name, spec.description);
        for h in spec.hypers() {
            let _ = writeln!(
                out,
                "    {:<26} default {:<14} {}",
                h.name,
                h.default.to_string(),
                h.description
            );
        }
    }
    for (name, reason) in NOT_OFFERED {
        let _ = writeln!(out, "{name:<20} not offered: {reason}");
    }
    let _ = writeln!(
        out,
        "\nEvery optimizer entry of a model objective may also set batch_size, shuffle and \
         drop_last (the objective's are the defaults); gd is always full batch."
    );
    out
}

/// Builds an optimizer from its registry name and hyperparameter overrides (validated, in
/// order; the first bad one is the error) for `dim` parameters held as one vector (as an
/// expression objective's are). `seed` feeds the RNG of stochastic methods.
pub fn build(
    name: &str,
    params: &[(String, HyperValue)],
    seed: u64,
    dim: usize,
) -> Result<Box<dyn Optimizer>, OptimError> {
    build_for(name, params, seed, &ParamLayout::vector(dim))
}

/// [`build`] for parameters held as the tensors of `layout` (a model's weight matrices and
/// biases), which Adafactor and Muon treat by shape.
pub fn build_for(
    name: &str,
    params: &[(String, HyperValue)],
    seed: u64,
    layout: &ParamLayout,
) -> Result<Box<dyn Optimizer>, OptimError> {
    let Some(spec) = spec(name) else {
        if let Some(reason) = not_offered(name) {
            return Err(OptimError::NotOffered {
                name: name.to_string(),
                reason,
            });
        }
        return Err(OptimError::UnknownOptimizer {
            name: name.to_string(),
            suggestion: crate::suggest::nearest(name, names()),
            valid: names().join(", "),
        });
    };
    let ctx = BuildContext {
        spec,
        seed,
        dim: layout.dim(),
        layout,
    };
    let mut opt = (spec.build)(&ctx);
    for (k, v) in params {
        opt.set_hyperparameter(k, *v)?;
    }
    Ok(opt)
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
            assert_eq!(o.hyperparameters().len(), s.hypers().len());
        }
        assert_eq!(names().len(), OPTIMIZERS.len());
    }

    #[test]
    fn names_are_unique_and_so_are_each_optimizers_hyperparameters() {
        for (i, a) in OPTIMIZERS.iter().enumerate() {
            assert!(
                OPTIMIZERS[i + 1..].iter().all(|b| b.name != a.name),
                "{} is registered twice",
                a.name
            );
            let hypers = a.hypers();
            for (j, h) in hypers.iter().enumerate() {
                assert!(
                    hypers[j + 1..].iter().all(|k| k.name != h.name),
                    "{}.{} is listed twice",
                    a.name,
                    h.name
                );
            }
        }
    }

    #[test]
    fn torch_defaults() {
        let d = |n: &str, h: &str| {
            spec(n)
                .and_then(|s| s.hypers().into_iter().find(|x| x.name == h))
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
        assert_eq!(d("adafactor", "lr"), Some(HyperValue::Float(1e-2)));
        assert_eq!(d("adafactor", "beta2_decay"), Some(HyperValue::Float(-0.8)));
        assert_eq!(
            d("adafactor", "eps"),
            Some(HyperValue::OptionalPair(None, 1e-3))
        );
        assert_eq!(d("adafactor", "d"), Some(HyperValue::Float(1.0)));
        assert_eq!(d("adafactor", "weight_decay"), Some(HyperValue::Float(0.0)));
        assert_eq!(d("asgd", "lr"), Some(HyperValue::Float(1e-2)));
        assert_eq!(d("asgd", "lambd"), Some(HyperValue::Float(1e-4)));
        assert_eq!(d("asgd", "alpha"), Some(HyperValue::Float(0.75)));
        assert_eq!(d("asgd", "t0"), Some(HyperValue::Float(1e6)));
    }

    #[test]
    fn sparse_adam_is_not_offered_and_says_why() {
        assert!(!names().contains(&"sparse_adam"));
        let e = build("sparse_adam", &[], 0, 2).err().expect("error");
        assert!(matches!(e, OptimError::NotOffered { .. }), "{e}");
        assert!(e.to_string().contains("sparse gradients"), "{e}");
        let listing = describe_all();
        let line = listing
            .lines()
            .find(|l| l.starts_with("sparse_adam"))
            .expect("listed");
        assert!(
            line.contains("not offered") && line.contains("sparse"),
            "{line}"
        );
        assert!(not_offered("adam").is_none());
    }

    #[test]
    fn unknown_optimizer_suggests_adam() {
        let e = build("adma", &[], 0, 2).err().expect("error");
        let msg = e.to_string();
        assert!(msg.contains("'adma'"), "{msg}");
        assert!(msg.contains("did you mean 'adam'"), "{msg}");
        assert!(msg.contains("sgd, gd"), "{msg}");
        assert_eq!(
            crate::suggest::nearest("levenberg", names()).as_deref(),
            Some("levenberg_marquardt")
        );
        assert_eq!(
            crate::suggest::nearest("RMSProp", names()).as_deref(),
            Some("rmsprop")
        );
        assert_eq!(crate::suggest::nearest("xyz", names()), None);
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
        assert!(spec("newton").is_some_and(|s| s.needs == Needs::Hessian));
        assert!(spec("levenberg_marquardt").is_some_and(|s| s.needs == Needs::Residuals));
        assert!(spec("genetic").is_some_and(OptimizerSpec::gradient_free));
        assert!(spec("adam").is_some_and(|s| !s.gradient_free()));
        assert!(spec("nope").is_none());
    }
}
