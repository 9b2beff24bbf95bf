//! gradscope: back-propagation computes gradients; an optimizer uses them.
//!
//! Crate map (dependencies point down only):
//! - [`ad`]: the `Scalar` trait and the two engines of our own (forward duals, reverse tape),
//!   plus finite differences as the reference.
//! - [`expr`]: the expression language objectives are written in.
//! - [`data`], [`model`]: datasets, models and losses, written once over `Scalar`.
//! - [`optim`]: the optimizers (torch.optim family and beyond), schedules, the registry.
pub mod ad;
pub mod data;
pub mod expr;
pub mod model;
pub mod optim;
pub mod tui;
