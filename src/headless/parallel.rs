//! Running the independent runs of headless sessions on several threads (a `rayon` pool):
//! every run owns its objective, optimizer, history and scratch memory and never reads
//! another's, so stepping runs side by side gives each the same steps, bit for bit, as
//! stepping them round-robin on one thread. Reports are built afterwards from the sessions in
//! their order, so `--no-timing` output is byte-identical whatever the thread count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rayon::prelude::*;

use crate::session::Session;

/// How often [`run_to_end`] reports progress while the runs go on.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// How often it looks whether the runs have ended.
const POLL: Duration = Duration::from_millis(2);

/// Steps every run of `sessions` until it ends, the runs spread over `threads` threads (one
/// run per task, largest first as a scenario lists them). `progress(done, total)` is called
/// from this thread every 100 ms or so, and once at the end, with the steps taken so far and
/// the steps asked for (every run's `max_steps`).
///
/// # Errors
/// If the thread pool cannot be built (the system refused a thread).
pub fn run_to_end(
    sessions: &mut [&mut Session],
    threads: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<(), rayon::ThreadPoolBuildError> {
    let total: u64 = sessions
        .iter()
        .map(|s| (s.runs().len() as u64).saturating_mul(s.stop_config().max_steps.max(1)))
        .sum();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    let done = AtomicU64::new(0);
    let mut runs: Vec<_> = sessions
        .iter_mut()
        .flat_map(|s| s.runs_mut().iter_mut())
        .collect();
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            pool.install(|| {
                runs.par_iter_mut().with_max_len(1).for_each(|run| {
                    while run.step() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                });
            });
        });
        // Polled finely so a short session does not wait out a whole progress interval.
        let mut waited = Duration::ZERO;
        while !worker.is_finished() {
            std::thread::sleep(POLL);
            waited += POLL;
            if waited >= PROGRESS_EVERY {
                waited = Duration::ZERO;
                progress(done.load(Ordering::Relaxed), total);
            }
        }
    });
    // The final count, so a caller always sees where the runs ended, however short.
    progress(done.load(Ordering::Relaxed), total);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::Engine;
    use crate::objective::ExpressionObjective;
    use crate::session::{RunSpec, StopConfig};

    fn session() -> Session {
        let expr = crate::expr::Expression::parse("(1 - x)^2 + 100 * (y - x^2)^2").expect("expr");
        let objective = ExpressionObjective::new(expr, vec![-1.5, 2.0], None);
        let specs = ["sgd", "adam", "rmsprop", "adagrad"]
            .into_iter()
            .map(RunSpec::new)
            .collect();
        let stop = StopConfig {
            max_steps: 500,
            ..StopConfig::default()
        };
        Session::new("t", Box::new(objective), specs, Engine::Reverse, stop, 3).expect("session")
    }

    fn trace(s: &Session) -> Vec<(u64, Vec<u64>, Vec<u64>)> {
        s.runs()
            .iter()
            .map(|r| {
                let losses = r.history().points().iter().map(|p| p.loss.to_bits());
                let params = r.params().iter().map(|p| p.to_bits());
                (r.steps(), losses.collect(), params.collect())
            })
            .collect()
    }

    #[test]
    fn runs_on_several_threads_end_exactly_where_round_robin_ends() {
        let mut serial = session();
        serial.run_to_end();
        for threads in [1, 2, 3] {
            let (mut a, mut b) = (session(), session());
            let mut calls = 0;
            run_to_end(&mut [&mut a, &mut b], threads, |done, total| {
                assert!(done <= total);
                calls += 1;
            })
            .expect("pool");
            assert_eq!(trace(&a), trace(&serial), "{threads} threads");
            assert_eq!(trace(&b), trace(&serial), "{threads} threads");
            assert!(calls >= 1, "the last count is always reported");
        }
    }
}
