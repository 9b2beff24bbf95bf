//! Back-propagation made visible, as plain data both front ends read: the computation graph of
//! an expression at a point ([`graph`]: one node per recorded operation, its value, adjoint and
//! local partials, and the source text it computes), its layered [`layout`], the [`stepper`]
//! that replays the forward pass and the backward sweep (or a forward-mode tangent pass) one
//! chain-rule step at a time with captions, Graphviz [`dot`] output, and for layered models the
//! per-layer [`network`] pass (activations, error signals δ, weight gradients) and the
//! per-layer gradient [`flow`] figures over time.
//!
//! Nothing here draws: the TUI's graph and network views and `gradscope grad --trace/--dot`
//! turn these into cells and text.

pub mod dot;
pub mod flow;
pub mod graph;
pub mod layout;
pub mod network;
pub mod stepper;

pub use graph::Graph;
pub use stepper::{Mode, Stepper};

/// `v` with 4 significant digits, trailing zeros trimmed, in scientific notation outside
/// `[1e-3, 1e6)`: what captions and boxes show (`1.56`, `-2.4`, `1.235e-7`, `12350`).
///
/// ```
/// use gradscope::backprop::short;
/// assert_eq!(short(1.5600000000000003), "1.56");
/// assert_eq!(short(-2.4), "-2.4");
/// assert_eq!(short(12345.6), "12346");
/// assert_eq!(short(0.000_123_456), "1.235e-4");
/// assert_eq!(short(0.0), "0");
/// ```
#[must_use]
pub fn short(v: f64) -> String {
    if !v.is_finite() {
        return exact(v);
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let magnitude = v.abs().log10().floor();
    if (-3.0..6.0).contains(&magnitude) {
        let decimals = (3.0 - magnitude).max(0.0) as usize;
        trim(&format!("{v:.decimals$}"))
    } else {
        let s = format!("{v:.3e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{exp}", trim(mantissa)),
            None => s,
        }
    }
}

/// `v` exactly: the shortest decimal that reads back as the same `f64` (`0.1`, `100`,
/// `1.5600000000000003`, `1e-20`), `NaN`, `inf`, `-inf`.
///
/// ```
/// use gradscope::backprop::exact;
/// assert_eq!(exact(100.0), "100");
/// assert_eq!(exact(0.1 + 0.2), "0.30000000000000004");
/// assert_eq!(exact(1e-20), "1e-20");
/// assert_eq!(exact(f64::NEG_INFINITY), "-inf");
/// ```
#[must_use]
pub fn exact(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let s = format!("{v:?}");
    s.strip_suffix(".0")
        .map_or_else(|| s.clone(), str::to_owned)
}

/// Trailing zeros of a decimal (and a bare point) trimmed.
fn trim(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}
