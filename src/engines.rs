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
    fn a_zero_budget_calls_once_and_a_budget_repeats() {
        let mut calls = 0;
        let _ = time_per_call(Duration::ZERO, || calls += 1);
        assert_eq!(calls, 1);
        let mut calls = 0;
        let _ = time_per_call(Duration::from_micros(200), || calls += 1);
        assert!(calls > 1);
    }
}
