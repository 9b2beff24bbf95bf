//! Scenario diagnostics: one error per problem, each located at `file:line:column` with the
//! source line and a caret under the offending token, rendered like rustc's messages.

use std::fmt;

use crate::diagnostic::{self, Located};

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ScenarioError {
    /// The file as named to the loader.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// How many characters the caret underlines (at least 1).
    pub width: usize,
    /// What is wrong, lower-case, quoting the bad value.
    pub message: String,
    /// What would have been accepted there.
    pub expected: Option<String>,
    /// The nearest valid name, for typos.
    pub suggestion: Option<String>,
    /// The offending line of the source, without its line break (empty when unknown); a long
    /// line is cut to a window around `column`, with `…` where it is cut (see
    /// [`diagnostic::excerpt`]).
    pub source_line: String,
    /// The 1-based column at which `source_line` starts: 1 unless a long line was cut (a
    /// leading `…` then stands in this column).
    pub source_from: usize,
}

impl ScenarioError {
    /// The error as rendered for a terminal, without a trailing newline.
    #[must_use]
    pub fn render(&self) -> String {
        let suggestion = self
            .suggestion
            .as_ref()
            .map(|s| format!("did you mean '{s}'?"));
        let label = diagnostic::label(self.expected.as_deref(), suggestion.as_deref());
        diagnostic::render(&Located {
            message: &self.message,
            origin: &self.file,
            line: self.line,
            column: self.column,
            width: self.width,
            source_line: &self.source_line,
            source_from: self.source_from,
            label: &label,
        })
    }
}

/// Every problem found in one scenario file, in source order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl ScenarioErrors {
    /// The errors, in source order.
    #[must_use]
    pub fn errors(&self) -> &[ScenarioError] {
        &self.0
    }

    /// Number of errors.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (a loader never returns an empty set).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            f.write_str(&e.render())?;
        }
        if self.0.len() > 1 {
            write!(f, "\n\n{} errors in {}", self.0.len(), self.0[0].file)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let e = ScenarioError {
            file: "scenarios/rosenbrock.yaml".into(),
            line: 12,
            column: 11,
            width: 4,
            message: "unknown optimizer 'adma'".into(),
            expected: Some("one of: sgd, adam".into()),
            suggestion: Some("adam".into()),
            source_line: "  - name: adma".into(),
            source_from: 1,
        };
        let expected = "error: unknown optimizer 'adma'\n  --> scenarios/rosenbrock.yaml:12:11\n   |\n\
                        12 |   - name: adma\n   |           ^^^^ expected one of: sgd, adam; \
                        did you mean 'adam'?";
        assert_eq!(e.to_string(), expected);
    }

    #[test]
    fn long_lines_are_shown_as_a_window_around_the_column() {
        let (source_line, source_from) =
            diagnostic::excerpt(&format!("a: {}", "[".repeat(100_000)), 500);
        assert_eq!(source_from, 439);
        let e = ScenarioError {
            file: "deep.yaml".into(),
            line: 1,
            column: 500,
            width: 1,
            message: "too deep".into(),
            expected: None,
            suggestion: None,
            source_line,
            source_from,
        };
        let text = e.to_string();
        assert!(text.len() < 400, "{} bytes", text.len());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[3], format!("1 | …{}…", "[".repeat(120)));
        // The caret sits under the 500th character: 60 characters into the window.
        assert_eq!(lines[4], format!("  | {}^", " ".repeat(61)));
        // Near either end the window stops at the end, and short lines are kept whole.
        assert_eq!(diagnostic::excerpt(&"x".repeat(200), 1).1, 1);
        assert!(diagnostic::excerpt(&"x".repeat(200), 1).0.ends_with('…'));
        let (end, from) = diagnostic::excerpt(&"x".repeat(200), 200);
        assert_eq!((end.chars().count(), from), (121, 80));
        assert_eq!(diagnostic::excerpt("ab\r", 1), ("ab".to_string(), 1));
    }

    #[test]
    fn renders_without_source() {
        let e = ScenarioError {
            file: "missing.yaml".into(),
            line: 1,
            column: 1,
            width: 1,
            message: "cannot read 'missing.yaml'".into(),
            expected: None,
            suggestion: None,
            source_line: String::new(),
            source_from: 1,
        };
        assert_eq!(
            e.to_string(),
            "error: cannot read 'missing.yaml'\n --> missing.yaml:1:1"
        );
    }
}
