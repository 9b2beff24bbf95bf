//! Integration tests, linked as one binary (one link instead of one per file):
//! - [`backprop`]: `grad --json` intermediates and tape, `--trace`, `--dot`; per-layer gradient
//!   flow in headless reports.
//! - [`cli`]: the real binary with a closed or full stdout, and command-line slips.
//! - [`docs`]: every YAML example of `docs/scenarios.md` loads and builds.
//! - [`engines`]: every gradient engine agrees on random expression trees.
//! - [`fuzz`]: generated and mutated expressions, scenarios and explorer input; nothing panics,
//!   hangs or is refused without a location.
//! - [`headless`]: the real binary without a terminal: scenarios, errors, exports, `grad`.
//! - [`inputs`]: the real binary against special files, oversized requests and multi-class data.
//! - [`layers`]: the module layering (no terminal or plotting code below the front ends).
//! - [`models`]: model objectives differentiate alike on every engine and train.
//! - [`optimizers`]: torch tuples with `None`, triples and named options in files and reports;
//!   optimizers that are not offered say why.
//! - [`plot`]: exported plots: valid files whatever the losses, every view, clean axes.
//! - [`schedules`]: every learning-rate schedule against torch's, step for step.
//! - [`session`]: sessions are deterministic, rewind exactly and obey commands.
//! - [`sgd`]: per-run batches, fixed-order minibatch training, gradient noise statistics.
//! - [`tui_pty`]: the real binary in a pseudo-terminal.

use std::process::{Command, Output};

/// Runs the real binary from the crate root.
fn gradscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

mod backprop;
mod cli;
mod docs;
mod engines;
mod fuzz;
mod headless;
mod inputs;
mod layers;
mod models;
mod optimizers;
mod plot;
mod schedules;
mod session;
mod sgd;
mod tui_pty;
