//! A run's history in bounded memory: points are appended at a stride that doubles whenever the
//! buffer fills, and each decimation keeps the first, the last and the best point, so a million
//! steps cost no more memory than a thousand and the curve keeps its shape.

/// One recorded point of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub step: u64,
    /// Oracle evaluations (value + gradient + Hessian) spent up to this point.
    pub evaluations: u64,
    pub loss: f64,
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
}

/// Decimated history of a run.
#[derive(Debug, Clone)]
pub struct History {
    points: Vec<Point>,
    capacity: usize,
    stride: u64,
    best: Option<usize>,
}

/// Default number of points a history holds before it decimates.
pub const DEFAULT_CAPACITY: usize = 4096;

impl History {
    /// A history that holds at most `capacity` points (at least 4).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            points: Vec::new(),
            capacity: capacity.max(4),
            stride: 1,
            best: None,
        }
    }

    /// Records a point if its step falls on the current stride (the first point always does).
    /// The latest point is always kept, replacing the previous off-stride one, so the curve
    /// always ends at the run's present.
    pub fn push(&mut self, point: Point) {
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
            self.points.pop();
            if self.best == Some(tail) {
                self.best = None;
            }
        }
        self.points.push(point);
        if is_best {
            self.best = Some(self.points.len() - 1);
        }
        if self.points.len() > self.capacity {
            self.decimate();
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
    }

    /// Drops every point after `step` (used by rewind).
    pub fn truncate_after(&mut self, step: u64) {
        self.points.retain(|p| p.step <= step);
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

    pub fn clear(&mut self) {
        self.points.clear();
        self.stride = 1;
        self.best = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: u64, loss: f64) -> Point {
        Point {
            step,
            evaluations: step,
            loss,
            params: vec![step as f64],
            examples: step,
            epoch: 0,
            full_loss: None,
            test_loss: None,
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
