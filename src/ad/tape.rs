//! Reverse mode: a Wengert-list tape (placeholder until the reverse engine lands).
