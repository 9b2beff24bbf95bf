//! expr (placeholder until its issue lands).
