//! Numbers as the pictures label them: short, with trailing zeros trimmed, so axis ticks read
//! `1e-3` and `500`, not `0.0009999999999999998` and `500.0`.

/// Compact human formatting of a number for axis labels and tables: plain decimals for
/// moderate magnitudes, scientific notation otherwise, trailing zeros trimmed.
#[must_use]
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    if (1e-2..1e4).contains(&a) {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return s.to_owned();
    }
    let s = format!("{v:.2e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let mantissa = if mantissa.contains('.') {
                mantissa.trim_end_matches('0').trim_end_matches('.')
            } else {
                mantissa
            };
            format!("{mantissa}e{exp}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(-2.0), "-2");
        assert_eq!(format_number(0.125), "0.125");
        assert_eq!(format_number(1234.5678), "1234.568");
        assert_eq!(format_number(0.001), "1e-3");
        assert_eq!(format_number(2.5e4), "2.5e4");
        assert_eq!(format_number(-1.234e-7), "-1.23e-7");
        assert_eq!(format_number(f64::NAN), "NaN");
        assert_eq!(format_number(f64::NEG_INFINITY), "-inf");
    }
    #[test]
    fn float_noise_and_whole_numbers_read_cleanly() {
        assert_eq!(format_number(0.000_999_999_999_999_999_8), "1e-3");
        assert_eq!(format_number(500.0), "500");
        assert_eq!(format_number(1e-12), "1e-12");
        assert_eq!(format_number(100_000.0), "1e5");
    }
}
