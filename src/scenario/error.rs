//! Scenario diagnostics: one error per problem, each located at `file:line:column` with the
//! source line and a caret under the offending token, rendered like rustc's messages.

use std::fmt;

/// Longest stretch of a source line shown under an error, in characters.
pub const MAX_SHOWN: usize = 120;

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
    /// line is cut to a window around `column`, with `…` where it is cut (see [`excerpt`]).
    ///
    /// [`excerpt`]: ScenarioError::excerpt
    pub source_line: String,
    /// The 1-based column at which `source_line` starts: 1 unless a long line was cut (a
    /// leading `…` then stands in this column).
    pub source_from: usize,
}

impl ScenarioError {
    /// What of `line` an error at `column` shows, and the column where that starts: the whole
    /// line when it is short, else [`MAX_SHOWN`] characters around the column, so that one
    /// error on a generated one-line file holds and prints a few hundred bytes, not megabytes.
    #[must_use]
    pub fn excerpt(line: &str, column: usize) -> (String, usize) {
        let line = line.trim_end_matches('\r');
        let len = line.chars().count();
        if len <= MAX_SHOWN {
            return (line.to_string(), 1);
        }
        let col = column.saturating_sub(1).min(len);
        let from = col.saturating_sub(MAX_SHOWN / 2).min(len - MAX_SHOWN);
        let to = from + MAX_SHOWN;
        let mut text = String::new();
        if from > 0 {
            text.push('…');
        }
        text.extend(line.chars().skip(from).take(MAX_SHOWN));
        if to < len {
            text.push('…');
        }
        // The window's first character is in column `from + 1`; a leading `…` in column `from`.
        (text, from.max(1))
    }

    /// The error as rendered for a terminal, without a trailing newline.
    #[must_use]
    pub fn render(&self) -> String {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let mut out = format!(
            "error: {}\n{pad}--> {}:{}:{}",
            self.message, self.file, self.line, self.column
        );
        let mut label = Vec::new();
        if let Some(expected) = &self.expected {
            label.push(format!("expected {expected}"));
        }
        if let Some(suggestion) = &self.suggestion {
            label.push(format!("did you mean '{suggestion}'?"));
        }
        let label = label.join("; ");
        if self.source_line.is_empty() {
            if !label.is_empty() {
                out.push_str(&format!("\n{pad} = {label}"));
            }
            return out;
        }
        let before = self.column.saturating_sub(self.source_from.max(1));
        let shown = self.source_line.chars().count();
        // Mirror tabs in the caret's indent so it lines up however the terminal expands them.
        let indent: String = self
            .source_line
            .chars()
            .take(before)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(self.width.min(shown.saturating_sub(before)).max(1));
        out.push_str(&format!(
            "\n{pad} |\n{number} | {}\n{pad} | {indent}{carets}",
            self.source_line
        ));
        if !label.is_empty() {
            out.push(' ');
            out.push_str(&label);
        }
        out
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
            ScenarioError::excerpt(&format!("a: {}", "[".repeat(100_000)), 500);
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
        assert_eq!(ScenarioError::excerpt(&"x".repeat(200), 1).1, 1);
        assert!(ScenarioError::excerpt(&"x".repeat(200), 1).0.ends_with('…'));
        let (end, from) = ScenarioError::excerpt(&"x".repeat(200), 200);
        assert_eq!((end.chars().count(), from), (121, 80));
        assert_eq!(ScenarioError::excerpt("ab\r", 1), ("ab".to_string(), 1));
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
