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
use thiserror::Error;

use super::{ParamKind, Predictor};
use crate::data::generate::gaussian;
use crate::data::read::{DATA_FILE_LIMIT, ReadError, read_text_limited};

/// How to choose the starting parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Init {
    Zeros,
    Uniform {
        a: f64,
        b: f64,
    },
    Normal {
        mean: f64,
        std: f64,
    },
    XavierUniform,
    XavierNormal,
    KaimingUniform,
    KaimingNormal,
    /// PyTorch's `nn.Linear` default.
    #[default]
    TorchDefault,
    /// Exactly these values, in layout order.
    Values(Vec<f64>),
    /// Values read from a CSV file of one column (an optional header line is skipped).
    File(PathBuf),
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
        let (fan_in, fan_sum) = (fan_in.max(1) as f64, (fan_in + fan_out).max(1) as f64);
        for p in &mut params[group.range] {
            *p = match *init {
                Init::Zeros => 0.0,
                Init::Uniform { a, b } => a + (b - a) * rng.random::<f64>(),
                Init::Normal { mean, std } => mean + std * gaussian(&mut rng),
                _ if is_bias && *init != Init::TorchDefault => 0.0,
                Init::XavierUniform => symmetric(&mut rng, (6.0 / fan_sum).sqrt()),
                Init::XavierNormal => (2.0 / fan_sum).sqrt() * gaussian(&mut rng),
                Init::KaimingUniform => symmetric(&mut rng, (6.0 / fan_in).sqrt()),
                Init::KaimingNormal => (2.0 / fan_in).sqrt() * gaussian(&mut rng),
                Init::TorchDefault => symmetric(&mut rng, 1.0 / fan_in.sqrt()),
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
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let fields = crate::data::csv::split_fields(line.trim_end_matches('\r'), &file, line_no)
            .map_err(|e| InitError::NotNumeric {
                file: file.clone(),
                line: line_no,
                value: e.to_string(),
            })?;
        if fields.len() == 1 && fields[0].text.is_empty() {
            continue;
        }
        if fields.len() != 1 {
            return Err(InitError::TooManyColumns {
                file,
                line: line_no,
                got: fields.len(),
            });
        }
        let text = &fields[0].text;
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
        Init::XavierUniform,
        Init::XavierNormal,
        Init::KaimingUniform,
        Init::KaimingNormal,
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

        let k = init_params(&m, &Init::KaimingUniform, 1).unwrap();
        let bound = (6.0_f64 / 100.0).sqrt();
        assert!(max_abs(&k[w1.clone()]) <= bound && max_abs(&k[w1.clone()]) > 0.99 * bound);
        assert!(max_abs(&k[w2.clone()]) <= (6.0_f64 / 400.0).sqrt());
        assert!(k[b1.clone()].iter().all(|&b| b == 0.0));
        let (mean, std) = stats(&k[w1.clone()]);
        assert!(
            mean.abs() < 0.005 && (std - bound / 3f64.sqrt()).abs() < 0.005,
            "{mean} {std}"
        );

        let kn = init_params(&m, &Init::KaimingNormal, 1).unwrap();
        let (mean, std) = stats(&kn[w1.clone()]);
        assert!(mean.abs() < 0.005 && (std - (2.0_f64 / 100.0).sqrt()).abs() < 0.005);

        let xu = init_params(&m, &Init::XavierUniform, 1).unwrap();
        assert!(max_abs(&xu[w1.clone()]) <= (6.0_f64 / 500.0).sqrt());
        let xn = init_params(&m, &Init::XavierNormal, 1).unwrap();
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
}
