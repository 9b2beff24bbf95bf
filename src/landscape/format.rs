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
    if (1e-2..1e4).contains(&v.abs()) {
        fixed(v, 3)
    } else {
        scientific(v, 2)
    }
}

/// A tick label on an axis whose ticks are about `step` apart: like [`format_number`], but with
/// the digits the step needs, so neighbouring ticks on a narrow window (0.9998, 1, 1.0002) do
/// not all read `1`.
#[must_use]
pub fn format_tick(v: f64, step: f64) -> String {
    if !(step.is_finite() && step > 0.0 && v.is_finite()) {
        return format_number(v);
    }
    if v.abs() < step * 1e-6 {
        return "0".to_owned();
    }
    let plain = format_number(v);
    // Enough when the label still tells ticks apart at this step.
    if plain
        .parse::<f64>()
        .is_ok_and(|p| (p - v).abs() < step * 0.05)
    {
        return plain;
    }
    let significant = ((v.abs() / step).log10().ceil() as usize + 1).clamp(1, 16);
    let magnitude = v.abs().log10().floor();
    if (-4.0..6.0).contains(&magnitude) {
        fixed(v, (significant as f64 - 1.0 - magnitude).max(0.0) as usize)
    } else {
        scientific(v, significant - 1)
    }
}

/// Significant digits tick labels start from ([`format_ticks`]).
const TICK_DIGITS: usize = 3;

/// Labels for ticks shown side by side on one axis, in one compact format: each with the same
/// number of significant digits (three, or more when fewer would make two different ticks read
/// alike), plain decimals for magnitudes in `[1e-2, 1e4)` and scientific notation otherwise
/// (as [`format_number`] chooses), trailing zeros trimmed. So a log axis reads `2.18e-13`,
/// `3e-5`, `4130`, never `4129.673` beside `3e-5`.
#[must_use]
pub fn format_ticks(values: &[f64]) -> Vec<String> {
    let mut labels = Vec::new();
    for digits in TICK_DIGITS..=17 {
        labels = values.iter().map(|&v| significant(v, digits)).collect();
        let clash = values.iter().enumerate().any(|(i, a)| {
            values[i + 1..]
                .iter()
                .enumerate()
                .any(|(k, b)| a != b && labels[i] == labels[i + 1 + k])
        });
        if !clash {
            break;
        }
    }
    labels
}

/// `v` with `digits` significant digits, in the notation [`format_number`] picks for it.
fn significant(v: f64, digits: usize) -> String {
    if !v.is_finite() || v == 0.0 {
        return format_number(v);
    }
    let magnitude = v.abs().log10().floor();
    if (1e-2..1e4).contains(&v.abs()) {
        fixed(v, (digits as f64 - 1.0 - magnitude).max(0.0) as usize)
    } else {
        scientific(v, digits - 1)
    }
}

/// `v` with `decimals` decimals, trailing zeros (and a bare point) trimmed.
fn fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// `v` as `mantissa e exponent` with `decimals` mantissa decimals, trailing zeros trimmed.
fn scientific(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$e}");
    match s.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => format!(
            "{}e{exp}",
            mantissa.trim_end_matches('0').trim_end_matches('.')
        ),
        _ => s,
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
    fn ticks_get_the_digits_their_step_needs() {
        assert_eq!(format_tick(1.0002, 0.0002), "1.0002");
        assert_eq!(format_tick(0.9998, 0.0002), "0.9998");
        assert_eq!(format_tick(1.0, 0.0002), "1");
        assert_eq!(format_tick(2.5, 0.5), "2.5");
        assert_eq!(format_tick(1.000_000_000_000_000_2e-16, 1e-17), "1e-16");
        assert_eq!(format_tick(1.000_02e7, 100.0), "1.00002e7");
        assert_eq!(format_tick(-4e-7, 2e-7), "-4e-7");
        assert_eq!(format_tick(1e-20, 0.5), "0");
        assert_eq!(format_tick(3.0, f64::NAN), "3");
    }

    #[test]
    fn ticks_share_one_compact_format() {
        // A log loss axis from 2.18e-13 to 4129.673: three significant digits each.
        assert_eq!(
            format_ticks(&[2.183e-13, 3.0004e-5, 4129.673]),
            ["2.18e-13", "3e-5", "4130"]
        );
        assert_eq!(format_ticks(&[0.0, 65.0, 131.0]), ["0", "65", "131"]);
        assert_eq!(
            format_ticks(&[6.31e-3, 1.0, 158.489]),
            ["6.31e-3", "1", "158"]
        );
        assert_eq!(format_ticks(&[0.5, 1.25, 2.0]), ["0.5", "1.25", "2"]);
        assert_eq!(format_ticks(&[2.5e4, 5e4, 1e5]), ["2.5e4", "5e4", "1e5"]);
        // Ticks that three digits would not tell apart get more.
        assert_eq!(
            format_ticks(&[0.692_01, 0.692_05, 0.692_09]),
            ["0.69201", "0.69205", "0.69209"]
        );
        // Equal values may read alike; non-finite ones read as format_number says.
        assert_eq!(format_ticks(&[1.0, 1.0]), ["1", "1"]);
        assert_eq!(format_ticks(&[f64::NAN, f64::INFINITY]), ["NaN", "inf"]);
        assert!(format_ticks(&[]).is_empty());
    }

    #[test]
    fn float_noise_and_whole_numbers_read_cleanly() {
        assert_eq!(format_number(0.000_999_999_999_999_999_8), "1e-3");
        assert_eq!(format_number(500.0), "500");
        assert_eq!(format_number(1e-12), "1e-12");
        assert_eq!(format_number(100_000.0), "1e5");
    }
}
