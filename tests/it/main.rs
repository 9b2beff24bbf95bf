//! Integration tests, linked as one binary (one link instead of one per file):
//! - [`engines`]: every gradient engine agrees on random expression trees.
//! - [`headless`]: the real binary without a terminal: scenarios, errors, exports, `grad`.
//! - [`layers`]: the module layering (no terminal or plotting code below the front ends).
//! - [`models`]: model objectives differentiate alike on every engine and train.
//! - [`plot`]: exported plots: valid files whatever the losses, every view, clean axes.
//! - [`session`]: sessions are deterministic, rewind exactly and obey commands.
//! - [`tui_pty`]: the real binary in a pseudo-terminal.

mod engines;
mod headless;
mod layers;
mod models;
mod plot;
mod session;
mod tui_pty;
