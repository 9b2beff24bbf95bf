//! A model objective: a predictor, a loss and a dataset, evaluated on the current minibatch.
//! `batch_size` 1 is pure SGD, the dataset size is full-batch gradient descent, anything between
//! is minibatch. Each run holds its own copy, whose batches a session sets from the run's spec
//! and its own seeded stream.

use std::sync::Arc;

use super::{Metrics, Objective, PerExample};
use crate::ad::Scalar;
use crate::ad::dual::{Chunk, Hyper};
use crate::ad::tape::Var;
use crate::data::{Batcher, Batching, Dataset};
use crate::model::loss::full_batch_loss;
use crate::model::{Loss, LossKind, Model, ParamKind, Predictor, batch_loss, evaluate};
use crate::optim::{ParamLayout, Shape};

/// Loss of a model over a dataset, presented minibatch by minibatch.
pub struct ModelObjective<P> {
    model: Arc<P>,
    loss: Loss,
    train: Arc<Dataset>,
    /// The training features once more, behind an `Arc` a tape can keep: a full batch is the
    /// same rows every step, so the tape reads them here instead of copying them each time.
    rows: Arc<[f64]>,
    test: Option<Arc<Dataset>>,
    start: Vec<f64>,
    names: Arc<Vec<String>>,
    batcher: Batcher,
    initial_batcher: Batcher,
    /// Indices of the minibatch the oracle currently sees.
    batch: Vec<usize>,
    epoch: u64,
}

// Manual impl: the model sits behind an `Arc`, so `P` itself need not be `Clone`.
impl<P> Clone for ModelObjective<P> {
    fn clone(&self) -> Self {
        Self {
            model: Arc::clone(&self.model),
            loss: self.loss,
            train: Arc::clone(&self.train),
            rows: Arc::clone(&self.rows),
            test: self.test.clone(),
            start: self.start.clone(),
            names: Arc::clone(&self.names),
            batcher: self.batcher.clone(),
            initial_batcher: self.initial_batcher.clone(),
            batch: self.batch.clone(),
            epoch: self.epoch,
        }
    }
}

impl<P: Predictor> ModelObjective<P> {
    /// `start` must have `model.n_params()` entries (the scenario loader checks it).
    pub fn new(
        model: P,
        loss: Loss,
        train: Dataset,
        test: Option<Dataset>,
        start: Vec<f64>,
        batcher: Batcher,
        names: Vec<String>,
    ) -> Self {
        let batch = (0..train.len()).collect();
        Self {
            model: Arc::new(model),
            loss,
            rows: train.features.as_slice().into(),
            train: Arc::new(train),
            test: test.filter(|t| !t.is_empty()).map(Arc::new),
            start,
            names: Arc::new(names),
            initial_batcher: batcher.clone(),
            batcher,
            batch,
            epoch: 0,
        }
    }

    #[must_use]
    pub fn model(&self) -> &P {
        &self.model
    }
    #[must_use]
    pub fn train(&self) -> &Dataset {
        &self.train
    }
    #[must_use]
    pub fn loss(&self) -> &Loss {
        &self.loss
    }

    fn loss_on_batch<S: Scalar>(&self, x: &[S]) -> S {
        let model = self.model.as_ref();
        if self.is_whole_training_set() {
            full_batch_loss(model, &self.loss, x, &self.train, &self.rows)
        } else {
            batch_loss(model, &self.loss, x, &self.train, &self.batch)
        }
    }

    /// Whether the current batch is the training set in order (a full-batch run), whose
    /// rows [`full_batch_loss`] reads without gathering them.
    fn is_whole_training_set(&self) -> bool {
        self.batch.len() == self.train.len() && self.batch.iter().enumerate().all(|(k, &i)| k == i)
    }

    /// Least squares applies to MSE without a penalty: `r_i = (pred_i - y_i) / sqrt(m)` so that
    /// `|r|² = mean((pred - y)²)`, the loss itself.
    fn residuals_generic<S: Scalar>(&self, x: &[S], out: &mut Vec<S>) -> bool {
        if self.loss.kind != LossKind::Mse || self.loss.l2 != 0.0 {
            return false;
        }
        let m = self.model.n_outputs();
        let scale = 1.0 / ((self.batch.len() * m) as f64).sqrt();
        let mut pred = Vec::with_capacity(m);
        for &i in &self.batch {
            self.model.forward(x, self.train.row(i), &mut pred);
            for (&p, &y) in pred.iter().zip(self.train.target(i)) {
                out.push((p - y) * scale);
            }
        }
        true
    }
}

impl<P: Predictor + Send + Sync + 'static> Objective for ModelObjective<P> {
    fn dim(&self) -> usize {
        self.model.n_params()
    }
    /// A weight matrix per layer (`fan_out × fan_in`, as `nn.Linear.weight`), a vector per
    /// bias and per run of other parameters.
    fn param_layout(&self) -> ParamLayout {
        ParamLayout::new(self.model.param_groups().into_iter().map(|g| match g.kind {
            ParamKind::Weight { fan_in, fan_out } => Shape::Matrix {
                rows: fan_out,
                cols: fan_in,
            },
            ParamKind::Bias { .. } | ParamKind::Other => Shape::Vector(g.range.len()),
        }))
    }
    fn param_names(&self) -> Vec<String> {
        self.names.as_ref().clone()
    }
    fn start(&self) -> Vec<f64> {
        self.start.clone()
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.loss_on_batch(x)
    }
    fn eval_chunk(&self, x: &[Chunk]) -> Chunk {
        self.loss_on_batch(x)
    }
    fn eval_var<'t>(&self, x: &[Var<'t>]) -> Var<'t> {
        self.loss_on_batch(x)
    }
    fn eval_hyper(&self, x: &[Hyper]) -> Hyper {
        self.loss_on_batch(x)
    }
    fn residuals(&self, x: &[f64]) -> Option<Vec<f64>> {
        let mut out = Vec::new();
        self.residuals_generic(x, &mut out).then_some(out)
    }
    fn residuals_chunk(&self, x: &[Chunk], out: &mut Vec<Chunk>) -> bool {
        self.residuals_generic(x, out)
    }
    fn batching(&self) -> Option<Batching> {
        let mut b = self.batcher.batching();
        if self.batcher.is_full_batch() {
            b.batch_size = None;
        }
        Some(b)
    }
    fn set_batching(&mut self, batching: Batching, seed: u64) {
        // The session resolves sizes against the training split, which the loader checked:
        // a batcher is only refused for an empty split or a zero size, neither possible here.
        if let Ok(b) = Batcher::with(self.train.len(), batching, seed) {
            self.initial_batcher = b;
            self.reset_batches();
        }
    }
    fn batch_len(&self) -> usize {
        self.batch.len()
    }
    fn batch_indices(&self) -> &[usize] {
        &self.batch
    }
    fn n_train(&self) -> Option<usize> {
        Some(self.train.len())
    }
    fn n_test(&self) -> usize {
        self.test.as_ref().map_or(0, |t| t.len())
    }
    fn per_example_gradients_of(&self, x: &[f64], indices: &[usize]) -> Option<PerExample> {
        let (n, dim) = (indices.len(), x.len());
        if dim == 0 || dim != self.dim() || indices.iter().any(|&i| i >= self.train.len()) {
            return None;
        }
        let mut grads = vec![0.0; n * dim];
        let mut tape = crate::ad::tape::Tape::fused();
        for (&i, row) in indices.iter().zip(grads.chunks_exact_mut(dim)) {
            crate::ad::tape::gradient_with(&mut tape, x, row, |v| {
                batch_loss(self.model.as_ref(), &self.loss, v, &self.train, &[i])
            });
        }
        Some(PerExample { n, dim, grads })
    }
    fn next_batch(&mut self) {
        if !self.is_stochastic() {
            // A full batch is a whole epoch.
            self.epoch += 1;
            return;
        }
        let per_epoch = self.batcher.batches_per_epoch();
        let batch = self.batcher.next_batch();
        // Epochs completed: the last batch of an epoch completes it.
        self.epoch = (batch.epoch + usize::from(batch.step_in_epoch + 1 == per_epoch)) as u64;
        self.batch.clear();
        self.batch.extend_from_slice(batch.indices);
    }
    fn reset_batches(&mut self) {
        self.batcher = self.initial_batcher.clone();
        self.batch = (0..self.train.len()).collect();
        self.epoch = 0;
    }
    fn epoch(&self) -> u64 {
        self.epoch
    }
    fn is_stochastic(&self) -> bool {
        self.batcher.batch_size() < self.train.len()
    }
    fn metrics(&self, x: &[f64]) -> Metrics {
        let m = evaluate(
            self.model.as_ref(),
            &self.loss,
            x,
            &self.train,
            self.test.as_deref(),
        );
        Metrics {
            train_loss: m.objective(),
            test_loss: m.test_loss,
            accuracy: m.train_accuracy,
            test_accuracy: m.test_accuracy,
        }
    }
    fn tape_nodes(&self, x: &[f64]) -> Option<Vec<crate::ad::tape::NodeView>> {
        // Small models only: a tape of a few hundred rows is readable, thousands are not.
        if self.dim() > 64 || self.batch.len() > 16 {
            return None;
        }
        let mut tape = crate::ad::tape::Tape::new();
        let mut grad = vec![0.0; x.len()];
        crate::ad::tape::gradient_with(&mut tape, x, &mut grad, |v| self.eval_var(v));
        Some(tape.nodes())
    }
    fn feature_names(&self) -> Option<Vec<String>> {
        Some(self.train.feature_names.clone())
    }
    fn data_points_2d(&self) -> Option<Vec<(f64, f64, usize)>> {
        let d = &self.train;
        if d.n_features != 2 || d.task.n_classes().is_none() {
            return None;
        }
        Some(
            (0..d.len())
                .map(|i| {
                    let x = d.row(i);
                    // Labels were validated as whole numbers in range when the data was built.
                    let class = d.target(i).first().map_or(0, |&y| y.max(0.0) as usize);
                    (x[0], x[1], class)
                })
                .collect(),
        )
    }
    fn decision_value(&self, params: &[f64], features: &[f64]) -> Option<f64> {
        let model = self.model.as_ref();
        let classifier = self.train.task.n_classes().is_some();
        if !classifier || params.len() != model.n_params() || features.len() != model.n_inputs() {
            return None;
        }
        let mut out = Vec::with_capacity(model.n_outputs());
        model.forward(params, features, &mut out);
        match out.as_slice() {
            [] => None,
            [logit] => Some(crate::ad::sigmoid_f64(*logit)),
            many => {
                // The first maximum on ties, as the accuracy metric counts it.
                let mut best = 0;
                for (k, v) in many.iter().enumerate() {
                    if *v > many[best] {
                        best = k;
                    }
                }
                Some(best as f64)
            }
        }
    }
    fn batch_examples(&self) -> Option<usize> {
        Some(self.batch.len())
    }
    fn check_subset(&self, examples: usize) -> Option<Box<dyn Objective>> {
        let mut sample = self.clone();
        sample.batch.truncate(examples);
        Some(Box::new(sample))
    }
    fn layered(&self) -> Option<super::LayeredModel<'_>> {
        let model = (self.model.as_ref() as &dyn std::any::Any).downcast_ref::<Model>()?;
        Some(super::LayeredModel {
            model,
            loss: self.loss,
            train: &self.train,
            batch: &self.batch,
        })
    }
    fn box_clone(&self) -> Box<dyn Objective> {
        Box::new(self.clone())
    }
}
