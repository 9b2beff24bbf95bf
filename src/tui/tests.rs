//! Tests of the explorer driven through the real event loop on a `TestBackend`.
