//! Per-layer gradient flow of a layered model: how large the error signal and the weight
//! gradient are at each layer, how far the last step moved the weights relative to their size,
//! and how many units sit in the flat part of their activation; and a bounded history of these
//! figures over the steps of a run (the TUI's sparklines).
//!
//! Vanishing gradients read here as `delta_norm` and `weight_grad_norm` shrinking layer by
//! layer towards the input, with `saturated_fraction` high where sigmoid or tanh units sit at
//! their asymptotes.

use std::collections::VecDeque;

use serde::Serialize;

use super::network::{Layers, Network, Summary, frobenius};

/// One weight layer's figures at one point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerFlow {
    /// `l`, 1 for the first weight layer (the one reading the inputs).
    pub layer: usize,
    /// The layer's activation, by its scenario name.
    pub activation: &'static str,
    /// Units in the layer.
    pub units: usize,
    /// `‖∂L/∂W⁽ˡ⁾‖_F` over the examples summarised (penalty included): the weight block of
    /// the gradient the optimizer receives.
    pub weight_grad_norm: f64,
    /// `√(mean ‖δ⁽ˡ⁾‖²)`: the size of the error signal reaching the layer, per example.
    pub delta_norm: f64,
    /// `‖W⁽ˡ⁾ₜ − W⁽ˡ⁾ₜ₋₁‖_F / ‖W⁽ˡ⁾ₜ₋₁‖_F` for the last step; `None` before the first step
    /// (or where the weights were all zero).
    pub update_ratio: Option<f64>,
    /// The fraction of (unit, example) pairs in the flat region of the activation (saturated
    /// sigmoid/tanh, ReLU at 0; see [`super::network::is_flat`]).
    pub saturated_fraction: f64,
    /// The fraction of units flat on every example (dead ReLUs).
    pub dead_fraction: f64,
}

/// The figures of every weight layer, from a summary at `params`; `previous` are the
/// parameters before the last step.
#[must_use]
pub fn from_summary(
    layers: &Layers,
    summary: &Summary,
    params: &[f64],
    previous: Option<&[f64]>,
) -> Vec<LayerFlow> {
    (1..=layers.depth())
        .map(|l| {
            let update_ratio = previous.and_then(|prev| {
                let before = layers.weights(prev, l);
                let now = layers.weights(params, l);
                let size = frobenius(before);
                let moved = before
                    .iter()
                    .zip(now)
                    .map(|(a, b)| (b - a) * (b - a))
                    .sum::<f64>()
                    .sqrt();
                (size > 0.0).then(|| moved / size)
            });
            LayerFlow {
                layer: l,
                activation: layers.activations[l - 1].name(),
                units: layers.sizes[l],
                weight_grad_norm: frobenius(&summary.weight_grad[l]),
                delta_norm: summary.delta_rms[l],
                update_ratio,
                saturated_fraction: summary.saturated[l],
                dead_fraction: summary.dead[l],
            }
        })
        .collect()
}

/// The figures of every weight layer of `net` at `params` over its (sampled) training set.
#[must_use]
pub fn layer_flow(net: &Network<'_>, params: &[f64], previous: Option<&[f64]>) -> Vec<LayerFlow> {
    let summary = net.summary(params, &net.examples());
    from_summary(&net.layers(), &summary, params, previous)
}

/// The figures over the steps of one run, at most `capacity` points: when full, every other
/// point is dropped (as a run's history decimates), so the series spans the whole run.
#[derive(Debug, Clone)]
pub struct FlowHistory {
    capacity: usize,
    points: VecDeque<(u64, Vec<LayerFlow>)>,
}

impl FlowHistory {
    /// An empty history of at most `capacity` points (at least 2).
    #[must_use]
    pub fn new(capacity: usize) -> FlowHistory {
        FlowHistory {
            capacity: capacity.max(2),
            points: VecDeque::new(),
        }
    }

    /// Records the figures at `step`. A step not after the last one recorded (a rewind or a
    /// restart) first forgets the points from that step on. Returns whether the history was
    /// full and dropped every other point.
    pub fn push(&mut self, step: u64, flow: Vec<LayerFlow>) -> bool {
        while self.points.back().is_some_and(|(s, _)| *s >= step) {
            self.points.pop_back();
        }
        self.points.push_back((step, flow));
        if self.points.len() > self.capacity {
            let mut i = 0;
            // Keep the first, the last and every other point between.
            let last = self.points.len() - 1;
            self.points.retain(|_| {
                let keep = i == 0 || i == last || i % 2 == 0;
                i += 1;
                keep
            });
            return true;
        }
        false
    }

    /// The step of the latest point.
    #[must_use]
    pub fn last_step(&self) -> Option<u64> {
        self.points.back().map(|(s, _)| *s)
    }

    /// The steps of the points kept, oldest first.
    #[must_use]
    pub fn steps(&self) -> Vec<u64> {
        self.points.iter().map(|(s, _)| *s).collect()
    }

    /// The latest figures.
    #[must_use]
    pub fn latest(&self) -> Option<&[LayerFlow]> {
        self.points.back().map(|(_, f)| f.as_slice())
    }

    /// One figure of layer `l` (1-based) over time, oldest first (`NaN` where it was not
    /// defined, e.g. the update ratio before the first step).
    #[must_use]
    pub fn series(&self, l: usize, figure: impl Fn(&LayerFlow) -> Option<f64>) -> Vec<f64> {
        self.points
            .iter()
            .map(|(_, f)| {
                f.get(l.wrapping_sub(1))
                    .and_then(&figure)
                    .unwrap_or(f64::NAN)
            })
            .collect()
    }

    pub fn clear(&mut self) {
        self.points.clear();
    }

    /// Forgets the points after `step`.
    pub fn truncate_after(&mut self, step: u64) {
        while self.points.back().is_some_and(|(s, _)| *s > step) {
            self.points.pop_back();
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.points.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// The figures of a run recorded as it steps, at steps `0, k, 2k, ...`: `k` starts at 1 and
/// doubles whenever the history fills up and drops every other point, so memory stays bounded
/// (at most `capacity` points) and the points taken depend only on the steps, never on when
/// anyone looks at them. Each point summarises at most [`RECORD_EXAMPLES`] training examples,
/// evenly sampled, fewer for a large model ([`RECORD_BUDGET`]), which bounds its cost whatever
/// the data and the model.
#[derive(Debug, Clone)]
pub struct FlowRecorder {
    history: FlowHistory,
    stride: u64,
    examples: Vec<usize>,
}

/// Training examples one recorded point summarises at most (the headless report's final
/// figures use up to [`super::network::MAX_SUMMARY_EXAMPLES`]).
pub const RECORD_EXAMPLES: usize = 256;
/// Parameters × examples one recorded point reads at most (about a millisecond of work), so
/// a large model records on fewer examples: never fewer than [`RECORD_MIN_EXAMPLES`].
pub const RECORD_BUDGET: usize = 1 << 20;
/// The fewest examples a recorded point summarises (all of them in a smaller data set).
pub const RECORD_MIN_EXAMPLES: usize = 16;
/// Points a recorder keeps at most.
pub const RECORD_POINTS: usize = 256;

impl FlowRecorder {
    /// A recorder for `net`, empty.
    #[must_use]
    pub fn new(net: &Network<'_>, capacity: usize) -> FlowRecorder {
        let n = net.data.len();
        let layers = net.layers();
        let params = layers.offset(layers.depth() + 1).max(1);
        let count = (RECORD_BUDGET / params).clamp(RECORD_MIN_EXAMPLES, RECORD_EXAMPLES);
        let stride = n.div_ceil(count).max(1);
        FlowRecorder {
            history: FlowHistory::new(capacity),
            stride: 1,
            examples: (0..n).step_by(stride).collect(),
        }
    }

    /// Records the figures at `step` if it is on the grid of sampled steps; `previous` are
    /// the parameters before the step. Returns whether it recorded.
    pub fn record(
        &mut self,
        net: &Network<'_>,
        step: u64,
        params: &[f64],
        previous: Option<&[f64]>,
    ) -> bool {
        if step % self.stride != 0 {
            return false;
        }
        let summary = net.summary(params, &self.examples);
        let figures = from_summary(&net.layers(), &summary, params, previous);
        if self.history.push(step, figures) {
            // Every other point went: sample half as often from now on.
            self.stride = self.stride.saturating_mul(2);
        }
        true
    }

    /// Forgets the points after `step` (a rewind; the replay records them again).
    pub fn truncate_after(&mut self, step: u64) {
        self.history.truncate_after(step);
    }

    /// Steps between recorded points now.
    #[must_use]
    pub fn stride(&self) -> u64 {
        self.stride
    }

    #[must_use]
    pub fn history(&self) -> &FlowHistory {
        &self.history
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Task};
    use crate::model::{Activation, Loss, LossKind, Mlp, Model, Predictor};

    fn data() -> Dataset {
        let mut features = Vec::new();
        let mut targets = Vec::new();
        for i in 0..8 {
            let t = f64::from(i);
            features.extend([(0.7 * t).sin(), (0.3 * t).cos()]);
            targets.push(f64::from(i % 2));
        }
        Dataset {
            features,
            n_features: 2,
            targets,
            n_targets: 1,
            task: Task::Binary,
            feature_names: Vec::new(),
            target_names: Vec::new(),
        }
    }

    /// The figures are the norms of the gradient's weight blocks and of the step's weight
    /// change, layer by layer, read from the parameter vector's documented layout.
    #[test]
    fn figures_are_the_norms_of_the_gradient_blocks_and_of_the_update() {
        let model = Model::Mlp(
            Mlp::new(
                vec![2, 3, 2, 1],
                vec![Activation::Sigmoid, Activation::Tanh, Activation::Identity],
            )
            .unwrap(),
        );
        let data = data();
        let net = Network {
            model: &model,
            loss: Loss::new(LossKind::BceWithLogits),
            data: &data,
        };
        let p: Vec<f64> = (0..model.n_params())
            .map(|i| (1.3 * i as f64).cos())
            .collect();
        let before: Vec<f64> = p.iter().map(|v| v * 0.9).collect();
        let flow = layer_flow(&net, &p, Some(&before));
        assert_eq!(flow.len(), 3);
        let mut g = vec![0.0; p.len()];
        let all: Vec<usize> = (0..data.len()).collect();
        crate::ad::tape::gradient_with(&mut crate::ad::tape::Tape::new(), &p, &mut g, |v| {
            crate::model::batch_loss(&model, &net.loss, v, &data, &all)
        });
        // W1 is 3x2 at 0..6, b1 at 6..9; W2 2x3 at 9..15; W3 1x2 at 17..19.
        for (l, range) in [(1, 0..6), (2, 9..15), (3, 17..19)] {
            let f = &flow[l - 1];
            let want = frobenius(&g[range.clone()]);
            assert!(
                (f.weight_grad_norm - want).abs() < 1e-12 * want.max(1.0),
                "layer {l}"
            );
            // W - 0.9 W = 0.1 W: a tenth of the size, over 0.9 of it.
            let ratio = f.update_ratio.expect("a previous point");
            assert!((ratio - 0.1 / 0.9).abs() < 1e-12, "layer {l}: {ratio}");
            assert!(f.delta_norm > 0.0);
        }
        assert_eq!(flow[0].activation, "sigmoid");
        assert_eq!(flow[1].units, 2);
        assert_eq!(layer_flow(&net, &p, None)[0].update_ratio, None);
    }

    /// The recorder samples steps 0, k, 2k, ... with k doubling as the history fills: the
    /// points kept are bounded and depend only on the steps.
    #[test]
    fn recorder_samples_a_doubling_grid_of_steps_within_its_capacity() {
        let model = Model::Mlp(
            Mlp::new(vec![2, 2, 1], vec![Activation::Tanh, Activation::Identity]).unwrap(),
        );
        let data = data();
        let net = Network {
            model: &model,
            loss: Loss::new(LossKind::BceWithLogits),
            data: &data,
        };
        let p: Vec<f64> = (0..model.n_params()).map(|i| 0.1 * i as f64).collect();
        let mut r = FlowRecorder::new(&net, 8);
        let mut recorded = Vec::new();
        for step in 0..100 {
            if r.record(&net, step, &p, None) {
                recorded.push(step);
            }
        }
        assert!(r.history().len() <= 8);
        assert_eq!(r.stride(), 16);
        // Every recorded step is on the grid of the stride in force when it came.
        assert_eq!(&recorded[..9], &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(recorded.iter().all(|s| s % 2 == 0 || *s < 9));
        assert_eq!(r.history().last_step(), Some(96));
        // The figures are the summary's at that point.
        let want = layer_flow(&net, &p, None);
        assert_eq!(r.history().latest(), Some(want.as_slice()));
        r.truncate_after(40);
        assert!(r.history().last_step().is_some_and(|s| s <= 40));
    }

    #[test]
    fn history_forgets_on_rewind_and_decimates() {
        let point = |v: f64| {
            vec![LayerFlow {
                layer: 1,
                activation: "tanh",
                units: 1,
                weight_grad_norm: v,
                delta_norm: v,
                update_ratio: None,
                saturated_fraction: 0.0,
                dead_fraction: 0.0,
            }]
        };
        let mut h = FlowHistory::new(4);
        for s in 0..4 {
            h.push(s, point(s as f64));
        }
        h.push(2, point(20.0));
        assert_eq!(h.series(1, |f| Some(f.delta_norm)), [0.0, 1.0, 20.0]);
        assert_eq!(h.series(1, |f| f.update_ratio).len(), 3);
        for s in 3..10 {
            h.push(s, point(s as f64));
        }
        assert!(h.len() <= 4);
        let series = h.series(1, |f| Some(f.delta_norm));
        assert_eq!((series[0], *series.last().unwrap()), (0.0, 9.0));
        assert_eq!(h.last_step(), Some(9));
    }
}
