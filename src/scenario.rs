//! Scenario files: the YAML format (see `docs/scenarios.md`), read straight into the runtime's
//! types by a strict loader whose every diagnostic names `file:line:column` with a caret and a
//! suggestion, and the build step that turns a loaded scenario into a running session.
//!
//! `serde_yaml` gives the syntax errors; `saphyr-parser`'s events build a tree that remembers
//! where each node is, and a serde deserializer over that tree puts type and unknown-key errors
//! on the offending token. The document is decoded section by section and entry by entry, so
//! one file's errors are reported together.

pub mod budget;
pub mod build;
pub mod bundled;
pub mod de;
pub mod decode;
pub mod error;
pub mod load;
pub mod schema;
pub mod tree;

pub use budget::Limits;
pub use build::{Built, load_and_build, load_str_and_build};
pub use error::{ScenarioError, ScenarioErrors};
pub use load::{
    Loaded, Overrides, load_bytes, load_file, load_file_for_run, load_str, load_str_for_run,
    run_options,
};
pub use schema::*;

#[cfg(test)]
mod fixtures;
