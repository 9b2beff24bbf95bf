//! The headless front end: runs sessions to their stop conditions without a terminal and turns
//! them into reports (table, JSON, CSV), checks the scenario's expectations, and exports
//! trajectories and plots. It reads the session only; it never steps runs differently from the
//! TUI.

pub mod expect;
pub mod parallel;
pub mod plot;
pub mod report;

pub use expect::{Check, Expectation, Outcome};
pub use report::{RunReport, ScenarioReport};

use std::io::Write;
use std::path::Path;

use crate::session::Session;

/// Errors writing exports.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write '{path}': {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

/// Writes every retained history point of every run as CSV:
/// `scenario,label,step,loss,<one column per parameter>`.
///
/// Histories are decimated beyond a few thousand points (first, last and best always kept), so a
/// long run exports the points still held.
pub fn write_trajectory(path: &Path, sessions: &[&Session]) -> Result<(), ExportError> {
    let io = |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut out = String::new();
    let names: Vec<String> = match sessions {
        [first, rest @ ..]
            if rest
                .iter()
                .all(|s| s.objective().param_names() == first.objective().param_names()) =>
        {
            first.objective().param_names()
        }
        _ => {
            let n = sessions
                .iter()
                .map(|s| s.objective().dim())
                .max()
                .unwrap_or(0);
            (0..n).map(|i| format!("p{i}")).collect()
        }
    };
    out.push_str("scenario,label,step,loss");
    for n in &names {
        out.push(',');
        out.push_str(&csv_field(n));
    }
    out.push('\n');
    for session in sessions {
        for run in session.runs() {
            for p in run.history().points() {
                out.push_str(&format!(
                    "{},{},{},{}",
                    csv_field(&session.name),
                    csv_field(run.label()),
                    p.step,
                    p.loss
                ));
                for i in 0..names.len() {
                    out.push(',');
                    if let Some(v) = p.params.get(i) {
                        out.push_str(&v.to_string());
                    }
                }
                out.push('\n');
            }
        }
    }
    let mut file = std::fs::File::create(path).map_err(io)?;
    file.write_all(out.as_bytes()).map_err(io)
}

/// Quotes a CSV field when it needs it (RFC 4180).
#[must_use]
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
