//! Issue 14's fuzz suite: generated and mutated input through the entry points a user reaches,
//! none of which may panic, abort or hang, and every rejection of which must say where.
//! - [`expr`]: random, deep and mutated expressions through `Expression::parse`, every engine
//!   (compiled fast paths, generic tape and duals, finite differences, the objective's engines)
//!   and `gradcheck::compute` (`gradscope grad`).
//! - [`scenario`]: mutated bundled scenarios and fixtures through `scenario::load_and_build` /
//!   `load_str_and_build`, then a few headless steps, the report, and for some an explorer or
//!   a plot.
//! - [`tui`]: random keys, mouse, file changes and resizes (0x0 to 400x150) through the
//!   explorer's real loop (`tui::run_loop`) on ratatui's `TestBackend`.
//!
//! # Budget
//! Each generator runs a fixed number of cases from a fixed seed, and every file under
//! `tests/fuzz-corpus/{expr,scenario,tui}` (inputs earlier campaigns found interesting) is
//! replayed on every run. Scenarios are built under small explicit [`Limits`] (256 MiB, 1e8
//! operations a step) instead of the machine's, so the loader's own budget check refuses
//! anything that would take long; their runs are capped at [`STEPS`] steps.
//!
//! # Why a seeded ChaCha generator and not proptest
//! Most inputs are mutations of real files (byte flips, swapped values, YAML features spliced
//! in), which are easier to write as plain functions over bytes than as strategies, and which
//! proptest's shrinking cannot make readable: a failure here is kept as a file in the corpus,
//! minimised by hand. `ChaCha8Rng` is portable, so every machine runs the same cases; each case
//! gets its own generator seeded from `(seed, suite, case)`, so a failure is re-run alone.
//!
//! # Longer campaigns (outside `cargo test`'s budget)
//! - `GRADSCOPE_FUZZ_CASES=N`: N cases per generator instead of the default.
//! - `GRADSCOPE_FUZZ_SEED=S`: another seed (the default is fixed).
//! - `GRADSCOPE_FUZZ_CASE=K`: only case K (to re-run a failure).
//! - `GRADSCOPE_FUZZ_HANG_SECS=T`: a case running longer than T seconds (default 300) ends the
//!   test binary with its input; each case's input is also written, before it runs, to
//!   `<target>/tmp/fuzz/<suite>.current`, so an abort leaves it behind too.
//!
//! e.g. `GRADSCOPE_FUZZ_CASES=20000 GRADSCOPE_FUZZ_SEED=7 cargo test --test it fuzz -- --nocapture`.
//! Failing inputs are written to `<target>/tmp/fuzz/failures/`.

mod expr;
mod scenario;
mod tui;

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use gradscope::scenario::Limits;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The seed every generator starts from unless `GRADSCOPE_FUZZ_SEED` says otherwise.
const SEED: u64 = 0x6772_6164_7363_6f70;

/// Most optimizer steps a fuzzed session takes.
const STEPS: u64 = 3;

/// The resource limits fuzzed scenarios are built under: small enough that whatever the loader
/// admits builds and steps in milliseconds, so a mutation that asks for a million examples or
/// a 3,000-wide layer is refused (and its refusal checked) instead of run.
fn limits() -> Limits {
    Limits {
        memory: 256 << 20,
        work: 1e8,
        scenario_file: 1 << 20,
        data_file: 1 << 20,
        ..Limits::new(Some(512 << 20), false)
    }
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(n) => Some(n),
        Err(e) => panic!("{name}={text:?}: {e}"),
    }
}

/// Where the suite leaves inputs: the current case of each suite and the failures.
fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz")
}

/// `text` with control characters escaped, cut to `max` characters, for failure messages.
fn preview(text: &str, max: usize) -> String {
    let shown: String = text.chars().take(max).collect();
    let mut out = format!("{shown:?}");
    if text.chars().count() > max {
        let _ = write!(out, " … ({} characters)", text.chars().count());
    }
    out
}

/// Panics in threads the suite does not run itself (the explorer's landscape worker): a
/// `catch_unwind` on the test thread cannot see them, and the real program ends on them.
static BACKGROUND_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn watch_background_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            if thread.name().is_none() {
                let mut panics = BACKGROUND_PANICS
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                panics.push(info.to_string());
            }
            previous(info);
        }));
    });
}

fn background_panics() -> Vec<String> {
    BACKGROUND_PANICS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// The case now running, for the hang watchdog.
type Current = Arc<Mutex<Option<(Instant, String)>>>;

/// One generator's run: its cases, its failures, and a watchdog that ends the process with the
/// input when a case hangs (a hung test would otherwise only end at CI's timeout, unexplained).
struct Fuzz {
    suite: &'static str,
    seed: u64,
    cases: u64,
    only: Option<u64>,
    failures: Vec<String>,
    ran: u64,
    current: Current,
    done: Arc<AtomicBool>,
    started: Instant,
}

impl Fuzz {
    fn new(suite: &'static str, default_cases: u64) -> Fuzz {
        watch_background_panics();
        let hang = Duration::from_secs(env_number("GRADSCOPE_FUZZ_HANG_SECS").unwrap_or(300));
        let current: Current = Arc::new(Mutex::new(None));
        let done = Arc::new(AtomicBool::new(false));
        let (watched, finished) = (Arc::clone(&current), Arc::clone(&done));
        std::thread::Builder::new()
            .name(format!("fuzz watchdog {suite}"))
            .spawn(move || {
                while !finished.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let guard = watched
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Some((since, what)) = guard.as_ref()
                        && since.elapsed() > hang
                    {
                        eprintln!(
                            "fuzz {suite}: {what} has run for over {}s; the input is in {}",
                            hang.as_secs(),
                            work_dir().join(format!("{suite}.current")).display()
                        );
                        std::process::exit(70);
                    }
                }
            })
            .expect("the watchdog starts");
        let _ = std::fs::create_dir_all(work_dir().join("failures"));
        Fuzz {
            suite,
            seed: env_number("GRADSCOPE_FUZZ_SEED").unwrap_or(SEED),
            cases: env_number("GRADSCOPE_FUZZ_CASES").unwrap_or(default_cases),
            only: env_number("GRADSCOPE_FUZZ_CASE"),
            failures: Vec::new(),
            ran: 0,
            current,
            done,
            started: Instant::now(),
        }
    }

    /// The generated cases to run.
    fn cases(&self) -> impl Iterator<Item = u64> + use<> {
        let only = self.only;
        (0..self.cases).filter(move |i| only.is_none_or(|k| k == *i))
    }

    /// Case `i`'s own generator.
    fn rng(&self, i: u64) -> ChaCha8Rng {
        let suite = self.suite.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        ChaCha8Rng::seed_from_u64(
            self.seed ^ suite ^ i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        )
    }

    /// Runs one case: `input` (bytes, as a file would hold them) is saved first, then `check`
    /// runs with panics caught; a panic or an `Err` is a failure, recorded with the input.
    fn case(&mut self, name: &str, input: &[u8], check: impl FnOnce() -> Result<(), String>) {
        let saved = work_dir().join(format!("{}.current", self.suite));
        let _ = std::fs::write(&saved, input);
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), name.into()));
        let outcome = match catch_unwind(AssertUnwindSafe(check)) {
            Ok(result) => result,
            Err(panic) => Err(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
            )),
        };
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.ran += 1;
        if let Err(why) = outcome {
            let file = work_dir().join("failures").join(format!(
                "{}-{}-{}",
                self.suite,
                self.seed,
                self.failures.len()
            ));
            let _ = std::fs::write(&file, input);
            self.failures.push(format!(
                "{name}: {why}\n  input {} (saved as {})",
                preview(&String::from_utf8_lossy(input), 400),
                file.display()
            ));
        }
    }

    /// Fails the test with every failure, or reports what ran.
    fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        let panics = background_panics();
        eprintln!(
            "fuzz {}: {} cases (seed {:#x}) in {:.1}s",
            self.suite,
            self.ran,
            self.seed,
            self.started.elapsed().as_secs_f64()
        );
        assert!(
            self.failures.is_empty() && panics.is_empty(),
            "fuzz {}: {} of {} cases failed (seed {:#x}; re-run one with GRADSCOPE_FUZZ_CASE):\n\n{}\n\npanics in background threads: {panics:#?}",
            self.suite,
            self.failures.len(),
            self.ran,
            self.seed,
            self.failures.join("\n\n")
        );
    }
}

/// The files of one corpus folder (`tests/fuzz-corpus/<kind>`), sorted.
fn corpus(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(kind);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, bytes)
        })
        .filter(|(name, _)| name != "README.md")
        .collect();
    files.sort();
    files
}

/// A character a terminal acts on instead of showing (the same set as `gradscope::text`).
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// True when `a` and `b` are the same number bit for bit, or both NaN.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}
