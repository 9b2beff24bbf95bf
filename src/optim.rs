//! optim (placeholder until its issue lands).
