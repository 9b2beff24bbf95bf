//! Seeded parameter initialisers, after `torch.nn.init`, plus explicit values given inline or
//! as a one-column CSV file.
//!
//! Draws are taken parameter by parameter in layout order from one
//! `ChaCha8Rng::seed_from_u64(seed)`, so the same seed always gives the same vector.
//!
//! | init | weights | biases |
//! |---|---|---|
//! | `Zeros` | `0` | `0` |
//! | `Uniform { a, b }` | `U(a, b)` | `U(a, b)` |
//! | `Normal { mean, std }` | `N(mean, std²)` | `N(mean, std²)` |
//! | `XavierUniform` | `U(±√(6 / (fan_in + fan_out)))` (gain 1) | `0` |
//! | `XavierNormal` | `N(0, 2 / (fan_in + fan_out))` (gain 1) | `0` |
//! | `KaimingUniform` | `U(±√2 · √(3 / fan_in))` (relu gain √2, mode fan_in) | `0` |
//! | `KaimingNormal` | `N(0, 2 / fan_in)` | `0` |
//! | `TorchDefault` (the default) | `U(±1/√fan_in)` | `U(±1/√fan_in)` |
//!
//! `TorchDefault` is what `nn.Linear` does on construction: `kaiming_uniform_(a = √5)`, whose
//! gain `√(2 / (1 + 5))` turns the bound into `1/√fan_in`, and the bias from the same range.
//! Xavier and Kaiming leave biases at zero, the usual companion `nn.init.zeros_(bias)`.
//! Parameters without a layer shape (custom models) are drawn as if `fan_in = fan_out = 1`.

use std::path::{Path, PathBuf};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use thiserror::Error;

use super::{ParamKind, Predictor};
use crate::data::generate::gaussian;
use crate::data::read::{DATA_FILE_LIMIT, ReadError, read_text_limited};
use crate::valid::{INF, Problems, Range, Validate, ge};

/// How to choose the starting parameters, with torch.nn.init's names and formulas. A scenario
/// names one (`init: xavier_uniform`), gives its options (`{kind: kaiming_normal, a: 0.1,
/// mode: fan_out}`), lists the values, or names a file (`{file: params.csv}`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename = "init", deny_unknown_fields)]
pub enum Init {
    #[serde(rename = "zeros")]
    Zeros,
    /// `U(a, b)`.
    #[serde(rename = "uniform")]
    Uniform {
        #[serde(default)]
        a: f64,
        #[serde(default = "one")]
        b: f64,
    },
    /// `N(mean, std²)`.
    #[serde(rename = "normal")]
    Normal {
        #[serde(default)]
        mean: f64,
        #[serde(default = "one")]
        std: f64,
    },
    /// `xavier_uniform_`: `U(−b, b)` with `b = gain·√(6 / (fan_in + fan_out))`.
    #[serde(rename = "xavier_uniform")]
    XavierUniform {
        #[serde(default = "one")]
        gain: f64,
    },
    /// `xavier_normal_`: `N(0, std²)` with `std = gain·√(2 / (fan_in + fan_out))`.
    #[serde(rename = "xavier_normal")]
    XavierNormal {
        #[serde(default = "one")]
        gain: f64,
    },
    /// `kaiming_uniform_` (nonlinearity `leaky_relu` with negative slope `a`, so gain
    /// `√(2 / (1 + a²))`): `U(−b, b)` with `b = gain·√(3 / fan)`, `fan` chosen by `mode`.
    #[serde(rename = "kaiming_uniform")]
    KaimingUniform {
        #[serde(default)]
        a: f64,
        #[serde(default)]
        mode: FanMode,
    },
    /// `kaiming_normal_`: `N(0, std²)` with `std = gain / √fan`, gain as above.
    #[serde(rename = "kaiming_normal")]
    KaimingNormal {
        #[serde(default)]
        a: f64,
        #[serde(default)]
        mode: FanMode,
    },
    /// PyTorch's `nn.Linear` default.
    #[default]
    #[serde(rename = "default")]
    TorchDefault,
    /// Exactly these values, in layout order.
    #[serde(skip)]
    Values(Vec<f64>),
    /// Values read from a CSV file of one column (an optional header line is skipped).
    #[serde(skip)]
    File(PathBuf),
}

/// Which fan Kaiming initialisation scales by: `fan_in` keeps the forward pass's variance,
/// `fan_out` the backward pass's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename = "mode", rename_all = "snake_case")]
pub enum FanMode {
    #[default]
    FanIn,
    FanOut,
}

fn one() -> f64 {
    1.0
}

impl Init {
    /// torch's `xavier_uniform_` with gain 1.
    pub const XAVIER_UNIFORM: Init = Init::XavierUniform { gain: 1.0 };
    /// torch's `kaiming_uniform_` for relu (`a = 0`, `fan_in`).
    pub const KAIMING_UNIFORM: Init = Init::KaimingUniform {
        a: 0.0,
        mode: FanMode::FanIn,
    };
}

impl Validate for Init {
    fn validate(&self, p: &mut Problems) {
        match *self {
            Init::Uniform { a, b } => {
                p.range("a", a, Range::FINITE);
                p.range("b", b, Range::FINITE);
                if a.is_finite() && b.is_finite() && a >= b {
                    p.push(
                        "",
                        format!("uniform init needs a < b, found a = {a}, b = {b}"),
                        Some("a < b".into()),
                    );
                }
            }
            Init::Normal { mean, std } => {
                p.range("mean", mean, Range::FINITE);
                p.range("std", std, Range::new(ge(0.0), INF));
            }
            Init::XavierUniform { gain } | Init::XavierNormal { gain } => {
                p.range("gain", gain, Range::FINITE);
            }
            Init::KaimingUniform { a, .. } | Init::KaimingNormal { a, .. } => {
                p.range("a", a, Range::FINITE);
            }
            Init::Zeros | Init::TorchDefault | Init::Values(_) | Init::File(_) => {}
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum InitError {
    #[error("expected {expected} parameters for {model}, got {got}")]
    WrongLength {
        expected: usize,
        got: usize,
        model: String,
    },
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("{file}: file not found")]
    NotFound { file: String },
    #[error("{file}: cannot read the file: {reason}")]
    Unreadable { file: String, reason: String },
    /// Not a regular file, or too large.
    #[error("{0}")]
    Refused(ReadError),
    #[error("{file}:{line}: expected one value a line, got {got} fields")]
    TooManyColumns {
        file: String,
        line: usize,
        got: usize,
    },
    #[error("{file}:{line}: value '{value}' is not a finite number")]
    NotNumeric {
        file: String,
        line: usize,
        value: String,
    },
}

/// The starting parameter vector for `model`.
pub fn init_params<P: Predictor>(model: &P, init: &Init, seed: u64) -> Result<Vec<f64>, InitError> {
    let n = model.n_params();
    let check_len = |values: Vec<f64>| {
        if values.len() == n {
            Ok(values)
        } else {
            Err(InitError::WrongLength {
                expected: n,
                got: values.len(),
                model: model.describe(),
            })
        }
    };
    match init {
        Init::Values(v) => return check_len(v.clone()),
        Init::File(path) => return check_len(read_values(path)?),
        Init::Uniform { a, b } if !(a.is_finite() && b.is_finite() && a <= b) => {
            return Err(InitError::InvalidParameter {
                name: "uniform range",
                reason: format!("need finite a <= b, got a = {a}, b = {b}"),
            });
        }
        Init::Normal { mean, std } if !(mean.is_finite() && std.is_finite() && *std >= 0.0) => {
            return Err(InitError::InvalidParameter {
                name: "normal",
                reason: format!("need a finite mean and std >= 0, got mean = {mean}, std = {std}"),
            });
        }
        _ => {}
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut params = vec![0.0; n];
    for group in model.param_groups() {
        let (fan_in, fan_out, is_bias) = match group.kind {
            ParamKind::Weight { fan_in, fan_out } => (fan_in, fan_out, false),
            ParamKind::Bias { fan_in } => (fan_in, 1, true),
            ParamKind::Other => (1, 1, false),
        };
        let fan_sum = (fan_in + fan_out).max(1) as f64;
        let fan = |mode: FanMode| match mode {
            FanMode::FanIn => fan_in.max(1) as f64,
            FanMode::FanOut => fan_out.max(1) as f64,
        };
        // torch's gain for leaky_relu with slope `a`, squared: 2 / (1 + a²); written so that
        // `a = 0` gives exactly the relu formulas √(6 / fan) and √(2 / fan).
        let kaiming = |a: f64, mode: FanMode| (1.0 + a * a) * fan(mode);
        for p in &mut params[group.range] {
            *p = match *init {
                Init::Zeros => 0.0,
                Init::Uniform { a, b } => a + (b - a) * rng.random::<f64>(),
                Init::Normal { mean, std } => mean + std * gaussian(&mut rng),
                _ if is_bias && *init != Init::TorchDefault => 0.0,
                Init::XavierUniform { gain } => symmetric(&mut rng, gain * (6.0 / fan_sum).sqrt()),
                Init::XavierNormal { gain } => gain * (2.0 / fan_sum).sqrt() * gaussian(&mut rng),
                Init::KaimingUniform { a, mode } => {
                    symmetric(&mut rng, (6.0 / kaiming(a, mode)).sqrt())
                }
                Init::KaimingNormal { a, mode } => {
                    (2.0 / kaiming(a, mode)).sqrt() * gaussian(&mut rng)
                }
                Init::TorchDefault => symmetric(&mut rng, 1.0 / fan(FanMode::FanIn).sqrt()),
                Init::Values(_) | Init::File(_) => 0.0,
            };
        }
    }
    Ok(params)
}

/// A draw from `U(-bound, bound)`.
fn symmetric(rng: &mut ChaCha8Rng, bound: f64) -> f64 {
    bound * (2.0 * rng.random::<f64>() - 1.0)
}

/// One value a line; blank lines are skipped and a first line that is not a number (a header)
/// is ignored. Values may be wrapped in double quotes.
pub fn read_values(path: &Path) -> Result<Vec<f64>, InitError> {
    let file = path.display().to_string();
    let text = read_text_limited(path, DATA_FILE_LIMIT, "").map_err(|e| match e {
        ReadError::NotFound { file } => InitError::NotFound { file },
        ReadError::Unreadable { file, reason } => InitError::Unreadable { file, reason },
        other => InitError::Refused(other),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut values = Vec::new();
    let mut first = true;
    let name = file.clone();
    for record in crate::data::csv::records(text, &name, b',') {
        let (line_no, fields) = record.map_err(|e| InitError::NotNumeric {
            file: file.clone(),
            line: match &e {
                crate::data::csv::CsvError::UnclosedQuote { line, .. } => *line,
                _ => 1,
            },
            value: e.to_string(),
        })?;
        if fields.len() != 1 {
            return Err(InitError::TooManyColumns {
                file,
                line: line_no,
                got: fields.len(),
            });
        }
        let text = &fields[0];
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => values.push(v),
            Err(_) if first => {}
            _ => {
                return Err(InitError::NotNumeric {
                    file,
                    line: line_no,
                    value: text.clone(),
                });
            }
        }
        first = false;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, Mlp, Model};

    fn mlp() -> Model {
        Model::Mlp(
            Mlp::with_hidden(vec![2, 16, 1], Activation::Relu, Activation::Identity).unwrap(),
        )
    }

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    const RANDOM: [Init; 7] = [
        Init::Uniform { a: -0.5, b: 2.0 },
        Init::Normal {
            mean: 1.0,
            std: 0.1,
        },
        Init::XAVIER_UNIFORM,
        Init::XavierNormal { gain: 1.0 },
        Init::KAIMING_UNIFORM,
        Init::KaimingNormal {
            a: 0.0,
            mode: FanMode::FanIn,
        },
        Init::TorchDefault,
    ];

    #[test]
    fn seeds_are_deterministic() {
        let m = mlp();
        for init in RANDOM {
            let a = init_params(&m, &init, 5).unwrap();
            assert_eq!(a.len(), 65);
            assert_eq!(a, init_params(&m, &init, 5).unwrap(), "{init:?}");
            assert_ne!(a, init_params(&m, &init, 6).unwrap(), "{init:?}");
        }
        assert_eq!(init_params(&m, &Init::Zeros, 1).unwrap(), vec![0.0; 65]);
        assert_eq!(Init::default(), Init::TorchDefault);
    }

    #[test]
    fn bounds_and_statistics() {
        // A wide layer so the sample statistics are tight: [100, 400, 1].
        let m = Model::Mlp(
            Mlp::with_hidden(vec![100, 400, 1], Activation::Relu, Activation::Identity).unwrap(),
        );
        let w1 = 0..40_000;
        let b1 = 40_000..40_400;
        let w2 = 40_400..40_800;
        let stats = |v: &[f64]| {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            (
                mean,
                (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt(),
            )
        };
        let max_abs = |v: &[f64]| v.iter().fold(0.0_f64, |a, x| a.max(x.abs()));

        let k = init_params(&m, &Init::KAIMING_UNIFORM, 1).unwrap();
        let bound = (6.0_f64 / 100.0).sqrt();
        assert!(max_abs(&k[w1.clone()]) <= bound && max_abs(&k[w1.clone()]) > 0.99 * bound);
        assert!(max_abs(&k[w2.clone()]) <= (6.0_f64 / 400.0).sqrt());
        assert!(k[b1.clone()].iter().all(|&b| b == 0.0));
        let (mean, std) = stats(&k[w1.clone()]);
        assert!(
            mean.abs() < 0.005 && (std - bound / 3f64.sqrt()).abs() < 0.005,
            "{mean} {std}"
        );

        let kn = init_params(
            &m,
            &Init::KaimingNormal {
                a: 0.0,
                mode: FanMode::FanIn,
            },
            1,
        )
        .unwrap();
        let (mean, std) = stats(&kn[w1.clone()]);
        assert!(mean.abs() < 0.005 && (std - (2.0_f64 / 100.0).sqrt()).abs() < 0.005);

        let xu = init_params(&m, &Init::XAVIER_UNIFORM, 1).unwrap();
        assert!(max_abs(&xu[w1.clone()]) <= (6.0_f64 / 500.0).sqrt());
        let xn = init_params(&m, &Init::XavierNormal { gain: 1.0 }, 1).unwrap();
        let (_, std) = stats(&xn[w1.clone()]);
        assert!((std - (2.0_f64 / 500.0).sqrt()).abs() < 0.002);

        let t = init_params(&m, &Init::TorchDefault, 1).unwrap();
        assert!(max_abs(&t[w1.clone()]) <= 0.1 && max_abs(&t[w1]) > 0.099);
        assert!(max_abs(&t[b1.clone()]) <= 0.1 && max_abs(&t[b1]) > 0.09);
        assert!(max_abs(&t[w2]) <= 0.05);

        let u = init_params(&m, &Init::Uniform { a: 2.0, b: 3.0 }, 1).unwrap();
        assert!(u.iter().all(|&x| (2.0..3.0).contains(&x)));
        let n = init_params(
            &m,
            &Init::Normal {
                mean: 1.0,
                std: 0.5,
            },
            1,
        )
        .unwrap();
        let (mean, std) = stats(&n);
        assert!((mean - 1.0).abs() < 0.01 && (std - 0.5).abs() < 0.01);
    }

    #[test]
    fn explicit_values_and_files() {
        let m = mlp();
        let err = init_params(&m, &Init::Values(vec![1.0, 2.0]), 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected 65 parameters for layers [2, 16, 1], got 2"
        );
        let small = Model::Logistic { n_inputs: 2 };
        let v = init_params(&small, &Init::Values(vec![1.0, 2.0, 3.0]), 0).unwrap();
        assert_eq!(v, vec![1.0, 2.0, 3.0]);
        let f = init_params(&small, &Init::File(fixture("params.csv")), 0).unwrap();
        assert_eq!(f, vec![0.5, -1.25, 2.0]);
        let err = init_params(&mlp(), &Init::File(fixture("params.csv")), 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected 65 parameters for layers [2, 16, 1], got 3"
        );
        let path = fixture("params_bad.csv");
        let err = init_params(&small, &Init::File(path.clone()), 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}:3: value 'x' is not a finite number", path.display())
        );
        let err = init_params(&small, &Init::File(fixture("nope.csv")), 0).unwrap_err();
        assert!(matches!(err, InitError::NotFound { .. }));
        // Devices and folders are refused, not read until memory runs out.
        if cfg!(unix) {
            let err = init_params(&small, &Init::File("/dev/zero".into()), 0).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        let err = init_params(&small, &Init::File(fixture("")), 0).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
        let err = init_params(&small, &Init::Uniform { a: 1.0, b: 0.0 }, 0).unwrap_err();
        assert!(matches!(err, InitError::InvalidParameter { .. }));
    }

    #[test]
    fn gain_slope_and_mode_follow_torch() {
        // [100, 400, 1]: the first weight matrix has fan_in 100, fan_out 400.
        let m = Model::Mlp(
            Mlp::with_hidden(vec![100, 400, 1], Activation::Relu, Activation::Identity).unwrap(),
        );
        let w1 = 0..40_000;
        let max_abs = |v: &[f64]| v.iter().fold(0.0_f64, |a, x| a.max(x.abs()));
        let std = |v: &[f64]| (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
        let bound = |init: &Init| max_abs(&init_params(&m, init, 3).unwrap()[w1.clone()]);
        let near = |got: f64, want: f64| got <= want && got > 0.99 * want;
        // xavier_uniform_: gain·√(6/(fan_in + fan_out))
        let b = bound(&Init::XavierUniform { gain: 2.0 });
        assert!(near(b, 2.0 * (6.0_f64 / 500.0).sqrt()), "{b}");
        // kaiming_uniform_(a, mode): √(6 / ((1 + a²)·fan))
        let b = bound(&Init::KaimingUniform {
            a: 1.0,
            mode: FanMode::FanIn,
        });
        assert!(near(b, (3.0_f64 / 100.0).sqrt()), "{b}");
        let b = bound(&Init::KaimingUniform {
            a: 0.0,
            mode: FanMode::FanOut,
        });
        assert!(near(b, (6.0_f64 / 400.0).sqrt()), "{b}");
        let k = init_params(
            &m,
            &Init::KaimingNormal {
                a: 0.5,
                mode: FanMode::FanOut,
            },
            3,
        )
        .unwrap();
        let s = std(&k[w1.clone()]);
        assert!((s - (2.0_f64 / (1.25 * 400.0)).sqrt()).abs() < 0.002, "{s}");
        let x = init_params(&m, &Init::XavierNormal { gain: 0.5 }, 3).unwrap();
        let s = std(&x[w1]);
        assert!((s - 0.5 * (2.0_f64 / 500.0).sqrt()).abs() < 0.001, "{s}");
        // gain 1 and a = 0 are the relu formulas, bit for bit
        assert_eq!(
            init_params(&m, &Init::XAVIER_UNIFORM, 9).unwrap(),
            init_params(&m, &Init::XavierUniform { gain: 1.0 }, 9).unwrap()
        );
    }
}
