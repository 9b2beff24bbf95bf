//! Minibatches: a [`Batcher`] hands out index slices of `batch_size` in PyTorch's
//! `DataLoader` order. With `shuffle` the order is reshuffled at the start of every epoch from
//! the batcher's own seeded generator; without it batches are consecutive runs of the dataset in
//! its order. The last batch of an epoch is partial unless `drop_last` drops it.

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

/// How a run draws its minibatches: what a scenario's objective sets as the default and an
/// optimizer entry may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Examples per batch; `None` is the whole training set (full-batch gradient descent).
    pub batch_size: Option<usize>,
    /// Reshuffle the order every epoch (`DataLoader(shuffle=True)`), else dataset order.
    pub shuffle: bool,
    /// Drop the last, partial batch of every epoch.
    pub drop_last: bool,
}

impl Default for Batching {
    /// Full batch, shuffled, keeping the last batch: `DataLoader`'s defaults but for the size.
    fn default() -> Self {
        Self {
            batch_size: None,
            shuffle: true,
            drop_last: false,
        }
    }
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
    shuffle: bool,
    drop_last: bool,
    epoch: usize,
    step_in_epoch: usize,
    step: usize,
    /// Position of the next batch within `order`.
    cursor: usize,
    started: bool,
}

impl Batcher {
    /// Shuffled batches of `batch_size`, the last one partial.
    pub fn new(n: usize, batch_size: usize, seed: u64) -> Result<Batcher, DataError> {
        Self::with(
            n,
            Batching {
                batch_size: Some(batch_size),
                ..Batching::default()
            },
            seed,
        )
    }

    /// Batches of `n` examples as `batching` says, shuffled (if at all) from `seed`.
    pub fn with(n: usize, batching: Batching, seed: u64) -> Result<Batcher, DataError> {
        let batch_size = batching.batch_size.unwrap_or(n);
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
            shuffle: batching.shuffle,
            drop_last: batching.drop_last,
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

    /// Examples in the dataset.
    #[must_use]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Never true: a batcher refuses an empty dataset.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The settings this batcher was built with (the size as given, capped at `n`).
    #[must_use]
    pub fn batching(&self) -> Batching {
        Batching {
            batch_size: Some(self.batch_size),
            shuffle: self.shuffle,
            drop_last: self.drop_last,
        }
    }

    /// Batches per epoch: `ceil(n / batch_size)`, or `floor` with `drop_last`.
    #[must_use]
    pub fn batches_per_epoch(&self) -> usize {
        if self.drop_last {
            self.order.len() / self.batch_size
        } else {
            self.order.len().div_ceil(self.batch_size)
        }
    }

    /// True when every batch is the whole dataset.
    #[must_use]
    pub fn is_full_batch(&self) -> bool {
        self.batch_size >= self.order.len()
    }

    /// Reshuffles the order for a new epoch (a full batch needs no shuffle: its mean is the
    /// same set of terms, and keeping dataset order keeps it bit for bit the full loss).
    fn start_epoch(&mut self) {
        if self.shuffle && !self.is_full_batch() {
            shuffle(&mut self.order, &mut self.rng);
        }
    }

    /// The next minibatch; a new epoch begins (with a fresh shuffle when shuffling) once every
    /// batch of the epoch has been handed out.
    pub fn next_batch(&mut self) -> Batch<'_> {
        if !self.started {
            self.started = true;
            self.start_epoch();
        } else if self.step_in_epoch >= self.batches_per_epoch() {
            self.epoch += 1;
            self.step_in_epoch = 0;
            self.cursor = 0;
            self.start_epoch();
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

    fn fixed(n: usize, b: usize, drop_last: bool) -> Batcher {
        let batching = Batching {
            batch_size: Some(b),
            shuffle: false,
            drop_last,
        };
        Batcher::with(n, batching, 7).unwrap()
    }

    #[test]
    fn without_shuffle_batches_are_consecutive_like_a_dataloader() {
        // DataLoader(range(7), batch_size=3, shuffle=False): [0,1,2], [3,4,5], [6], then again.
        let mut b = fixed(7, 3, false);
        let got: Vec<Vec<usize>> = (0..5).map(|_| b.next_batch().indices.to_vec()).collect();
        assert_eq!(
            got,
            vec![
                vec![0, 1, 2],
                vec![3, 4, 5],
                vec![6],
                vec![0, 1, 2],
                vec![3, 4, 5]
            ]
        );
        // drop_last=True: [0,1,2], [3,4,5], and the partial [6] never appears.
        let mut d = fixed(7, 3, true);
        assert_eq!(d.batches_per_epoch(), 2);
        let got: Vec<(Vec<usize>, usize)> = (0..4)
            .map(|_| {
                let batch = d.next_batch();
                (batch.indices.to_vec(), batch.epoch)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (vec![0, 1, 2], 0),
                (vec![3, 4, 5], 0),
                (vec![0, 1, 2], 1),
                (vec![3, 4, 5], 1)
            ]
        );
    }

    #[test]
    fn drop_last_with_shuffle_hands_out_full_batches_only() {
        let batching = Batching {
            batch_size: Some(4),
            shuffle: true,
            drop_last: true,
        };
        let mut b = Batcher::with(10, batching, 3).unwrap();
        let mut seen = Vec::new();
        for _ in 0..2 {
            let batch = b.next_batch();
            assert_eq!(batch.indices.len(), 4);
            seen.extend_from_slice(batch.indices);
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 8, "no index twice within an epoch");
        assert_eq!(b.next_batch().epoch, 1);
    }
}
