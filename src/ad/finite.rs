//! Central finite differences, the independent reference (placeholder).
