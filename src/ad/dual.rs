//! Forward mode: dual numbers (placeholder until the forward engine lands).

/// Widest chunk one forward pass carries.
pub const MAX_CHUNK: usize = 8;
