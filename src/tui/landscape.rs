//! The landscape off the render path: a worker thread that computes [`Request`]s (an objective,
//! a plane, ranges) into [`Grid`]s with [`crate::landscape::compute`].
//!
//! The UI sends a request and keeps drawing the last grid it has; the worker always skips to
//! the newest request, so zooming quickly never queues up stale work.

use std::sync::mpsc;
use std::thread;

use crate::landscape::{Grid, Request, compute};

/// Handle to the worker thread; dropping it ends the thread.
pub struct Worker {
    tx: mpsc::Sender<Request>,
    rx: mpsc::Receiver<Grid>,
}

impl Default for Worker {
    fn default() -> Self {
        Self::spawn()
    }
}

impl Worker {
    #[must_use]
    pub fn spawn() -> Self {
        let (tx, req_rx) = mpsc::channel::<Request>();
        let (grid_tx, rx) = mpsc::channel();
        thread::spawn(move || {
            while let Ok(mut req) = req_rx.recv() {
                while let Ok(newer) = req_rx.try_recv() {
                    req = newer;
                }
                if grid_tx.send(compute(&req)).is_err() {
                    break;
                }
            }
        });
        Self { tx, rx }
    }

    /// Queues a request; false if the worker is gone.
    pub fn send(&self, request: Request) -> bool {
        self.tx.send(request).is_ok()
    }

    /// The newest finished grid, if any arrived since the last call.
    pub fn try_latest(&self) -> Option<Grid> {
        let mut latest = None;
        while let Ok(g) = self.rx.try_recv() {
            latest = Some(g);
        }
        latest
    }

    /// Blocks until a grid arrives (tests and benchmarks, which need a settled picture).
    pub fn wait(&self) -> Option<Grid> {
        self.rx.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expression;
    use crate::landscape::{NX, NY, PlaneRequest};
    use crate::objective::ExpressionObjective;

    #[test]
    fn worker_returns_the_grid_of_the_newest_request() -> Result<(), Box<dyn std::error::Error>> {
        let expr = Expression::parse("x^2 + y^2")?;
        let objective = ExpressionObjective::new(expr, vec![1.0, 1.0], None);
        let worker = Worker::spawn();
        assert!(worker.send(Request {
            id: 7,
            objective: Box::new(objective),
            plane: PlaneRequest::Axes {
                i: 0,
                j: 1,
                origin: vec![0.0, 0.0]
            },
            ranges: Some(((-1.0, 1.0), (-2.0, 2.0))),
            fit: Vec::new(),
        }));
        let grid = worker.wait().ok_or("worker gone")?;
        assert_eq!(grid.id, 7);
        assert_eq!(grid.values.len(), NX * NY);
        assert!((grid.values[0] - 5.0).abs() < 1e-12);
        Ok(())
    }
}
