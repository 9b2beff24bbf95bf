//! Scenario files: the YAML format, a strict loader with located diagnostics, and the hooks
//! through which the optimizer registry, expressions and models validate a scenario.
pub mod de;
pub mod error;
pub mod suggest;
pub mod tree;
