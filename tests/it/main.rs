//! Integration tests, linked as one binary (one link instead of one per file):
//! - [`engines`]: every gradient engine agrees on random expression trees.
//! - [`headless`]: the real binary without a terminal: scenarios, errors, exports, `grad`.
//! - [`inputs`]: the real binary against special files, oversized requests and multi-class data.
//! - [`models`]: model objectives differentiate alike on every engine and train.
//! - [`session`]: sessions are deterministic, rewind exactly and obey commands.
//! - [`tui_pty`]: the real binary in a pseudo-terminal.

mod engines;
mod headless;
mod inputs;
mod models;
mod session;
mod tui_pty;
