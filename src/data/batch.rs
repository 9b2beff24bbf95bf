//! Minibatches: a [`Batcher`] hands out index slices of `batch_size`, reshuffling the order at
//! the start of every epoch from its own seeded generator (PyTorch's `DataLoader(shuffle=True,
//! drop_last=False)`: the last batch of an epoch may be smaller).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::DataError;
use super::generate::shuffle;

/// One minibatch: which samples, and where in training it falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch<'a> {
    /// Indices into the dataset.
    pub indices: &'a [usize],
    /// Epoch this batch belongs to, from 0.
    pub epoch: usize,
    /// Batch number within the epoch, from 0.
    pub step_in_epoch: usize,
    /// Batches handed out before this one, over all epochs.
    pub step: usize,
}

/// Yields minibatch index slices over `0..n`, forever, epoch after epoch.
///
/// With `batch_size >= n` every batch is the whole dataset in order (full-batch gradient
/// descent: no shuffle is needed); with `batch_size == 1` it is pure SGD.
#[derive(Debug, Clone)]
pub struct Batcher {
    order: Vec<usize>,
    batch_size: usize,
    rng: ChaCha8Rng,
    epoch: usize,
    step_in_epoch: usize,
    step: usize,
    /// Position of the next batch within `order`.
    cursor: usize,
    started: bool,
}

impl Batcher {
    pub fn new(n: usize, batch_size: usize, seed: u64) -> Result<Batcher, DataError> {
        if n == 0 {
            return Err(DataError::Empty);
        }
        if batch_size == 0 {
            return Err(DataError::InvalidParameter {
                name: "batch_size",
                reason: "must be at least 1".to_owned(),
            });
        }
        Ok(Batcher {
            order: (0..n).collect(),
            batch_size: batch_size.min(n),
            rng: ChaCha8Rng::seed_from_u64(seed),
            epoch: 0,
            step_in_epoch: 0,
            step: 0,
            cursor: 0,
            started: false,
        })
    }

    /// Batch size in effect (at most `n`).
    #[must_use]
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch (`ceil(n / batch_size)`).
    #[must_use]
    pub fn batches_per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    fn is_full_batch(&self) -> bool {
        self.batch_size >= self.order.len()
    }

    /// The next minibatch; a new epoch begins (with a fresh shuffle) once every index has been
    /// handed out.
    pub fn next_batch(&mut self) -> Batch<'_> {
        if !self.started {
            self.started = true;
            if !self.is_full_batch() {
                shuffle(&mut self.order, &mut self.rng);
            }
        } else if self.cursor >= self.order.len() {
            self.epoch += 1;
            self.step_in_epoch = 0;
            self.cursor = 0;
            if !self.is_full_batch() {
                shuffle(&mut self.order, &mut self.rng);
            }
        }
        let start = self.cursor;
        let end = (start + self.batch_size).min(self.order.len());
        self.cursor = end;
        let batch = Batch {
            indices: &self.order[start..end],
            epoch: self.epoch,
            step_in_epoch: self.step_in_epoch,
            step: self.step,
        };
        self.step_in_epoch += 1;
        self.step += 1;
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(b: &mut Batcher) -> (Vec<usize>, Vec<usize>) {
        let mut all = Vec::new();
        let mut sizes = Vec::new();
        for _ in 0..b.batches_per_epoch() {
            let batch = b.next_batch();
            sizes.push(batch.indices.len());
            all.extend_from_slice(batch.indices);
        }
        (all, sizes)
    }

    #[test]
    fn every_index_once_per_epoch_and_reshuffled() {
        let mut b = Batcher::new(10, 3, 9).unwrap();
        assert_eq!(b.batches_per_epoch(), 4);
        let (first, sizes) = epoch(&mut b);
        assert_eq!(sizes, vec![3, 3, 3, 1]);
        let (second, _) = epoch(&mut b);
        for order in [&first, &second] {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        }
        assert_ne!(first, second);
        assert_ne!(first, (0..10).collect::<Vec<_>>());
        let next = b.next_batch();
        assert_eq!((next.epoch, next.step_in_epoch, next.step), (2, 0, 8));
    }

    #[test]
    fn same_seed_same_batches() {
        let mut a = Batcher::new(20, 4, 1).unwrap();
        let mut b = Batcher::new(20, 4, 1).unwrap();
        let mut c = Batcher::new(20, 4, 2).unwrap();
        let ea = epoch(&mut a).0;
        assert_eq!(ea, epoch(&mut b).0);
        assert_ne!(ea, epoch(&mut c).0);
    }

    #[test]
    fn full_batch_and_sgd() {
        let mut full = Batcher::new(5, 100, 0).unwrap();
        for e in 0..3 {
            let batch = full.next_batch();
            assert_eq!(batch.indices, &[0, 1, 2, 3, 4]);
            assert_eq!((batch.epoch, batch.step_in_epoch, batch.step), (e, 0, e));
        }
        let mut sgd = Batcher::new(4, 1, 0).unwrap();
        let (order, sizes) = epoch(&mut sgd);
        assert_eq!(sizes, vec![1; 4]);
        assert_eq!(order.len(), 4);
        assert_eq!(sgd.next_batch().epoch, 1);
        assert!(Batcher::new(0, 1, 0).is_err());
        assert!(Batcher::new(3, 0, 0).is_err());
    }
}
