//! A run's history in bounded memory: points are appended at a stride that doubles whenever the
//! buffer fills, and each decimation keeps the first, the last and the best point, so a million
//! steps cost no more memory than a thousand and the curve keeps its shape.
//!
//! The loss curve is cheap (a few words per point); the parameters are not (a 2-256-256-1
//! network has 66,305). So the points that carry their parameters, which the landscape's PCA
//! plane and trajectories need, are a sparser subset with a budget in bytes: they fall on a
//! second stride, doubled whenever they would exceed [`PARAM_BUDGET`], and every other point
//! keeps only its step, evaluations and loss. A model of any size thus keeps at most
//! `PARAM_BUDGET` of parameters per run (none at all if one copy is larger than that).
//! Another per-point series (a full-data loss beside a minibatch loss, an optimizer's traced
//! scalars such as Prodigy's `d`) is one more field of [`Point`], decimated with it.

/// One recorded point of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub step: u64,
    /// Oracle evaluations (value + gradient + Hessian) spent up to this point.
    pub evaluations: u64,
    /// Gradient passes over the function spent up to this point (see `Counts::passes`).
    pub passes: u64,
    /// Wall time spent stepping up to this point, seconds (pictures only, never reports).
    pub wall_seconds: f64,
    pub loss: f64,
    /// The parameters at this step, or empty where the history did not keep them (see the
    /// module docs): consumers skip such points.
    pub params: Vec<f64>,
    /// Per-example gradients spent up to this point (model objectives; 0 for expressions).
    pub examples: u64,
    /// Epochs completed at this point (0 for expressions).
    pub epoch: u64,
    /// The full training loss (plus L2) at this point, where it was evaluated: every point of
    /// a deterministic run (it is `loss`), and a minibatch run's every step when that is cheap,
    /// else at a fixed stride.
    pub full_loss: Option<f64>,
    /// The loss on the held-out test split, where the full loss was evaluated and there is one.
    pub test_loss: Option<f64>,
    /// The optimizer's traced scalars after this step, in the order of
    /// [`Optimizer::traced`](crate::optim::Optimizer::traced) (Prodigy's `d` and `dlr`); empty
    /// for most optimizers and at the start.
    pub traced: Vec<f64>,
}

impl Point {
    /// A point with no passes, time or parameters yet (filled in by whoever knows them).
    #[must_use]
    pub fn at(step: u64, evaluations: u64, loss: f64) -> Self {
        Self {
            step,
            evaluations,
            passes: 0,
            wall_seconds: 0.0,
            loss,
            params: Vec::new(),
            examples: 0,
            epoch: 0,
            full_loss: None,
            test_loss: None,
            traced: Vec::new(),
        }
    }
}

/// Decimated history of a run.
#[derive(Debug, Clone)]
pub struct History {
    points: Vec<Point>,
    capacity: usize,
    stride: u64,
    best: Option<usize>,
    /// At most this many points keep their parameters.
    param_capacity: usize,
    /// Points whose step is a multiple of this keep their parameters.
    param_stride: u64,
    /// How many points hold parameters now.
    param_points: usize,
}

/// Default number of points a history holds before it decimates.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Bytes of parameter copies a history keeps at most (32 MiB): 4,096 points of up to 1,024
/// parameters, 63 of a 2-256-256-1 network.
pub const PARAM_BUDGET: usize = 32 << 20;

impl History {
    /// A history that holds at most `capacity` points (at least 4).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(4);
        Self {
            points: Vec::new(),
            capacity,
            stride: 1,
            best: None,
            param_capacity: capacity,
            param_stride: 1,
            param_points: 0,
        }
    }

    /// A history of at most `capacity` points whose parameter copies (of `n_params` each) stay
    /// within `budget` bytes.
    #[must_use]
    pub fn with_budget(capacity: usize, n_params: usize, budget: usize) -> Self {
        let mut history = Self::new(capacity);
        let copy = 8 * n_params.max(1);
        history.param_capacity = (budget / copy).min(history.capacity);
        history
    }

    /// Whether a point at `step` would keep its parameters: callers can skip copying them
    /// otherwise.
    #[must_use]
    pub fn wants_params(&self, step: u64) -> bool {
        self.param_capacity > 0 && step % self.param_stride == 0
    }

    /// Records a point, copying `params` only if the history keeps them for this step.
    pub fn record(&mut self, mut point: Point, params: &[f64]) {
        if self.wants_params(point.step) {
            point.params = params.to_vec();
        }
        self.push(point);
    }

    /// Records a point if its step falls on the current stride (the first point always does).
    /// The latest point is always kept, replacing the previous off-stride one, so the curve
    /// always ends at the run's present.
    pub fn push(&mut self, mut point: Point) {
        if !self.wants_params(point.step) {
            point.params = Vec::new();
        }
        let is_best = self
            .best_loss()
            .is_none_or(|b| point.loss < b || b.is_nan());
        let tail = self.points.len().wrapping_sub(1);
        if let Some(last) = self.points.last()
            && last.step % self.stride != 0
            && self.points.len() > 1
            && (is_best || self.best != Some(tail))
        {
            // The previous tail was kept only because it was the latest (or the best, and the new
            // point beats it): replace it.
            if let Some(p) = self.points.pop() {
                self.param_points -= usize::from(!p.params.is_empty());
            }
            if self.best == Some(tail) {
                self.best = None;
            }
        }
        self.param_points += usize::from(!point.params.is_empty());
        self.points.push(point);
        if is_best {
            self.best = Some(self.points.len() - 1);
        }
        if self.points.len() > self.capacity {
            self.decimate();
        }
        while self.param_points > self.param_capacity {
            self.decimate_params();
        }
    }

    /// Doubles the parameter stride and drops the parameters of the points off it.
    fn decimate_params(&mut self) {
        self.param_stride *= 2;
        for p in &mut self.points {
            if !p.params.is_empty() && p.step % self.param_stride != 0 {
                p.params = Vec::new();
                self.param_points -= 1;
            }
        }
    }

    fn decimate(&mut self) {
        self.stride *= 2;
        let last = self.points.len() - 1;
        let best = self.best;
        let mut kept = Vec::with_capacity(self.capacity / 2 + 3);
        let mut new_best = None;
        for (i, p) in self.points.drain(..).enumerate() {
            if i == 0 || i == last || Some(i) == best || p.step % self.stride == 0 {
                if Some(i) == best {
                    new_best = Some(kept.len());
                }
                kept.push(p);
            }
        }
        self.points = kept;
        self.best = new_best;
        self.param_points = self.count_params();
    }

    fn count_params(&self) -> usize {
        self.points.iter().filter(|p| !p.params.is_empty()).count()
    }

    /// Drops every point after `step` (used by rewind).
    pub fn truncate_after(&mut self, step: u64) {
        self.points.retain(|p| p.step <= step);
        self.param_points = self.count_params();
        self.best = self
            .points
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.loss.is_nan())
            .min_by(|a, b| a.1.loss.total_cmp(&b.1.loss))
            .map(|(i, _)| i);
    }

    #[must_use]
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    #[must_use]
    pub fn last(&self) -> Option<&Point> {
        self.points.last()
    }

    #[must_use]
    pub fn best(&self) -> Option<&Point> {
        self.best.map(|i| &self.points[i])
    }

    #[must_use]
    pub fn best_loss(&self) -> Option<f64> {
        self.best().map(|p| p.loss)
    }

    /// Steps between retained points now.
    #[must_use]
    pub fn stride(&self) -> u64 {
        self.stride
    }

    /// Steps between points that keep their parameters now.
    #[must_use]
    pub fn param_stride(&self) -> u64 {
        self.param_stride
    }

    /// Bytes held by the points' parameter copies.
    #[must_use]
    pub fn param_bytes(&self) -> usize {
        self.points.iter().map(|p| 8 * p.params.len()).sum()
    }

    pub fn clear(&mut self) {
        self.points.clear();
        self.stride = 1;
        self.best = None;
        self.param_stride = 1;
        self.param_points = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: u64, loss: f64) -> Point {
        Point {
            step,
            evaluations: step,
            passes: step,
            wall_seconds: 0.0,
            loss,
            params: vec![step as f64],
            examples: step,
            epoch: 0,
            full_loss: None,
            test_loss: None,
            traced: Vec::new(),
        }
    }

    #[test]
    fn memory_stays_bounded_over_a_million_steps_and_keeps_first_last_best() {
        let mut h = History::new(256);
        for step in 0..1_000_000_u64 {
            // Best point at an odd step that decimation would otherwise drop.
            let loss = if step == 333_333 {
                -1.0
            } else {
                1.0 / (1.0 + step as f64)
            };
            h.push(point(step, loss));
            assert!(h.points().len() <= 257);
        }
        assert_eq!(h.points()[0].step, 0);
        assert_eq!(h.last().map(|p| p.step), Some(999_999));
        assert_eq!(h.best().map(|p| p.step), Some(333_333));
        assert!(h.points().windows(2).all(|w| w[0].step < w[1].step));
        assert!(h.stride() >= 4096);
    }

    #[test]
    fn parameter_copies_stay_within_the_byte_budget_and_keep_the_first_and_a_stride() {
        // 1,000 parameters of 8 bytes, a budget of 50 copies.
        let n = 1000;
        let mut h = History::with_budget(4096, n, 50 * 8 * n);
        let params = vec![0.5; n];
        for step in 0..20_000_u64 {
            h.record(Point::at(step, step, 1.0 / (1.0 + step as f64)), &params);
            assert!(h.param_bytes() <= 50 * 8 * n, "step {step}");
        }
        let kept: Vec<u64> = h
            .points()
            .iter()
            .filter(|p| !p.params.is_empty())
            .map(|p| p.step)
            .collect();
        assert_eq!(kept[0], 0);
        assert!(kept.len() > 25, "{} copies kept", kept.len());
        assert!(kept.iter().all(|s| s % h.param_stride() == 0));
        // The loss curve keeps its own, denser stride.
        assert!(h.points().len() > 2000 && h.stride() < h.param_stride());
        // A copy larger than the budget: no parameters at all, the curve still recorded.
        let mut none = History::with_budget(4096, 1 << 20, 1 << 20);
        none.record(Point::at(0, 0, 1.0), &vec![0.0; 1 << 20]);
        assert!(none.points()[0].params.is_empty() && !none.wants_params(0));
    }

    #[test]
    fn short_runs_keep_every_point() {
        let mut h = History::new(100);
        for step in 0..50 {
            h.push(point(step, 1.0));
        }
        assert_eq!(h.points().len(), 50);
    }

    #[test]
    fn truncate_recomputes_best() {
        let mut h = History::new(100);
        for (s, l) in [(0, 5.0), (1, 1.0), (2, 3.0), (3, 0.5)] {
            h.push(point(s, l));
        }
        h.truncate_after(2);
        assert_eq!(h.best().map(|p| p.step), Some(1));
        assert_eq!(h.last().map(|p| p.step), Some(2));
    }
}
