//! The engine comparison: one objective's gradient at one point by forward mode, reverse mode
//! and finite differences, with the passes and the time each engine needs. The TUI's gradient
//! panel shows it; `gradscope grad` times its engines with the same [`time_per_call`].
//!
//! It lives on its own, above `objective` and beside `gradcheck`, because it is neither UI
//! state nor part of an engine: it runs all three engines the same way so their costs compare.

use std::time::{Duration, Instant};

use crate::ad::{DEFAULT_CHUNK, Engine};
use crate::objective::{Objective, Scratch};

/// The engines in the order comparisons list them.
pub const ENGINES: [Engine; 3] = [
    Engine::Forward {
        chunk: DEFAULT_CHUNK,
    },
    Engine::Reverse,
    Engine::Finite,
];

/// Nanoseconds per call of `f`, timed for about `budget`.
///
/// The first call warms caches and buffers and is not counted, unless it alone outlasts the
/// budget: then it is the measurement, so an expensive gradient is computed once, not twice.
/// After it, calls run in doubling batches (so cheap calls are not dominated by reading the
/// clock) until the budget is spent. A zero budget times the single first call.
pub fn time_per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    f();
    let first = started.elapsed();
    if first >= budget {
        return first.as_nanos() as f64;
    }
    let mut calls = 0_u64;
    let mut batch = 1_u64;
    let started = Instant::now();
    loop {
        for _ in 0..batch {
            f();
        }
        calls += batch;
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return elapsed.as_nanos() as f64 / calls as f64;
        }
        batch = (batch * 2).min(1 << 20);
    }
}

/// The three engines' gradients at one point and what each cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// Per parameter: forward, reverse, finite.
    pub values: Vec<[f64; 3]>,
    /// Per engine (forward, reverse, finite): passes over the objective per gradient.
    pub passes: [usize; 3],
    /// Per engine: nanoseconds per gradient.
    pub nanos: [f64; 3],
    /// Why finite differences disagree here, when they do for a known reason.
    pub finite_note: Option<&'static str>,
}

/// Finite differences at a kink: the central difference is the mean of two different slopes.
pub const KINK: &str = "kink: finite differences average the one-sided slopes";
/// Finite differences of a large value: `f(x+h) - f(x-h)` cancels most of its digits.
pub const LARGE_VALUE: &str = "|f| large: finite differences lose digits";

/// Why finite differences disagree with the exact gradient `exact` at `x` (`finite` is theirs),
/// in words, or `None` when they agree or no known cause shows.
///
/// - Large |f|: rounding in `f(x±h)` alone errs by about `|f|·ε/h`; when that is a tenth of the
///   disagreement or more, the digits were lost to cancellation.
/// - Kink: the one-sided slopes `(f(x+h)-f(x))/h` and `(f(x)-f(x-h))/h` differ, and still
///   differ with a 16 times smaller step (near a smooth point their gap shrinks with `h`).
#[must_use]
pub fn finite_difference_note(
    value: &dyn Fn(&[f64]) -> f64,
    x: &[f64],
    exact: &[f64],
    finite: &[f64],
) -> Option<&'static str> {
    let f0 = value(x);
    if !f0.is_finite() {
        return None;
    }
    let mut p = x.to_vec();
    let mut slopes = |i: usize, h: f64| {
        p[i] = x[i] + h;
        let right = (value(&p) - f0) / h;
        p[i] = x[i] - h;
        let left = (f0 - value(&p)) / h;
        p[i] = x[i];
        (right - left).abs()
    };
    let mut large = false;
    for (i, (&e, &fd)) in exact.iter().zip(finite).enumerate() {
        let gap = (e - fd).abs();
        if gap.is_nan() || gap <= 1e-6 * e.abs().max(1.0) {
            continue;
        }
        let h = crate::ad::finite::step(x[i]);
        let rounding = f0.abs() * f64::EPSILON / h;
        if rounding >= 0.1 * gap {
            large = true;
            continue;
        }
        let (coarse, fine) = (slopes(i, h), slopes(i, h / 16.0));
        if coarse > 10.0 * rounding && fine > 0.5 * coarse {
            return Some(KINK);
        }
    }
    large.then_some(LARGE_VALUE)
}

/// "reverse is 9.6× cheaper here": the cheapest engine against the next one, by time when
/// timed (`nanos` finite), else by passes. `None` when there is nothing to compare.
#[must_use]
pub fn ratio_words(passes: [usize; 3], nanos: [f64; 3]) -> Option<String> {
    let names = ["forward", "reverse", "finite differences"];
    let timed = nanos.iter().all(|t| t.is_finite() && *t > 0.0);
    let cost: [f64; 3] = if timed {
        nanos
    } else {
        passes.map(|p| p as f64)
    };
    if cost.iter().any(|c| c.is_nan() || *c <= 0.0) {
        return None;
    }
    let mut order = [0, 1, 2];
    order.sort_by(|a, b| cost[*a].total_cmp(&cost[*b]));
    let (best, next) = (order[0], order[1]);
    let ratio = cost[next] / cost[best];
    let unit = if timed { "" } else { " in passes" };
    Some(if ratio < 1.05 {
        format!(
            "{} and {} cost the same here{unit}",
            names[best], names[next]
        )
    } else {
        format!(
            "{} is {}× cheaper than {} here{unit}",
            names[best],
            crate::landscape::format_number((ratio * 10.0).round() / 10.0),
            names[next]
        )
    })
}

/// Gradients of `objective` at `x` by every engine in [`ENGINES`], each timed for `budget`.
#[must_use]
pub fn compare(objective: &dyn Objective, x: &[f64], budget: Duration) -> Comparison {
    let mut scratch = Scratch::default();
    let mut grad = vec![0.0; x.len()];
    let mut out = Comparison {
        values: vec![[0.0; 3]; x.len()],
        passes: [0; 3],
        nanos: [f64::NAN; 3],
        finite_note: None,
    };
    for (e, engine) in ENGINES.iter().enumerate() {
        let mut passes = 0;
        out.nanos[e] = time_per_call(budget, || {
            passes = objective.gradient(*engine, x, &mut grad, &mut scratch).1;
        });
        out.passes[e] = passes;
        for (row, g) in out.values.iter_mut().zip(&grad) {
            row[e] = *g;
        }
    }
    let reverse: Vec<f64> = out.values.iter().map(|r| r[1]).collect();
    let finite: Vec<f64> = out.values.iter().map(|r| r[2]).collect();
    out.finite_note = finite_difference_note(&|p| objective.value(p), x, &reverse, &finite);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expression;
    use crate::objective::ExpressionObjective;

    #[test]
    fn every_engine_gives_the_gradient_and_its_passes() -> Result<(), Box<dyn std::error::Error>> {
        let expr = Expression::parse("(1-x)^2 + 100*(y-x^2)^2")?;
        let objective = ExpressionObjective::new(expr, vec![-1.5, 2.0], None);
        let c = compare(&objective, &[-1.5, 2.0], Duration::ZERO);
        // d/dx = -2(1-x) - 400x(y-x^2) = -5 + 600·(-0.25) = -155; d/dy = 200(y-x^2) = -50.
        for (row, want) in c.values.iter().zip([-155.0, -50.0]) {
            assert!((row[0] - want).abs() < 1e-12 && (row[1] - want).abs() < 1e-12);
            assert!((row[2] - want).abs() < 1e-5, "{row:?}");
        }
        assert_eq!(c.passes, [1, 1, 4]);
        assert!(c.nanos.iter().all(|t| t.is_finite() && *t >= 0.0));
        Ok(())
    }

    #[test]
    fn finite_difference_disagreements_are_explained() -> Result<(), Box<dyn std::error::Error>> {
        let note = |src: &str, at: Vec<f64>| -> Result<_, Box<dyn std::error::Error>> {
            let objective = ExpressionObjective::new(Expression::parse(src)?, at.clone(), None);
            Ok(compare(&objective, &at, Duration::ZERO).finite_note)
        };
        // Beside the kink of |x| (closer than the step): exact 1, finite differences x/h.
        assert_eq!(note("abs(x) + y^2", vec![1e-7, 1.0])?, Some(KINK));
        assert_eq!(note("relu(x) + y", vec![0.0, 1.0])?, Some(KINK));
        assert_eq!(note("1e12 + x^2 + y^2", vec![0.3, 0.2])?, Some(LARGE_VALUE));
        assert_eq!(note("(1-x)^2 + 100*(y-x^2)^2", vec![-1.5, 2.0])?, None);
        Ok(())
    }

    #[test]
    fn the_engine_ratio_reads_as_words() {
        assert_eq!(
            ratio_words([8, 1, 120], [f64::NAN; 3]).as_deref(),
            Some("reverse is 8× cheaper than forward here in passes")
        );
        assert_eq!(
            ratio_words([1, 1, 4], [96.0, 10.0, 50.0]).as_deref(),
            Some("reverse is 5× cheaper than finite differences here")
        );
        assert_eq!(ratio_words([0, 0, 0], [f64::NAN; 3]), None);
    }

    #[test]
    fn a_zero_budget_calls_once_and_a_budget_repeats() {
        let mut calls = 0;
        let _ = time_per_call(Duration::ZERO, || calls += 1);
        assert_eq!(calls, 1);
        let mut calls = 0;
        let _ = time_per_call(Duration::from_micros(200), || calls += 1);
        assert!(calls > 1);
    }
}
