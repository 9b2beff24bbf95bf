//! Terminal front end (placeholder on the `tui` branch: the lead owns this file).
pub mod widgets;
