//! One caret renderer for every located error the program prints: scenario files and
//! expressions both read `error: …`, `--> origin:line:column`, the source line and a caret
//! under the offending text, with what was expected beside it, as rustc's messages do.
//!
//! Written here rather than through `annotate-snippets` (rustc's renderer, which was tried):
//! its `-->` position is computed from the text it is given, and a scenario error keeps only a
//! window of a long line (so a generated one-line file cannot make each error hold megabytes),
//! which would then be reported at the window's column, not the file's.

/// Longest stretch of a source line shown under an error, in characters.
pub const MAX_SHOWN: usize = 120;

/// One located error, ready to print.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    /// What is wrong (the line after `error: `).
    pub message: &'a str,
    /// The file, or what else the text came from (`expression`).
    pub origin: &'a str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// How many characters the caret underlines (at least 1 is drawn).
    pub width: usize,
    /// The offending line, or a window of it (see [`excerpt`]); empty when unknown.
    pub source_line: &'a str,
    /// The 1-based column at which `source_line` starts.
    pub source_from: usize,
    /// What was expected and what may have been meant, beside the caret.
    pub label: &'a str,
}

/// What of `line` an error at `column` shows, and the column where that starts: the whole
/// line when it is short, else [`MAX_SHOWN`] characters around the column, `…` where cut.
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

/// The error as printed, without a trailing newline.
#[must_use]
pub fn render(e: &Located<'_>) -> String {
    let number = e.line.to_string();
    let pad = " ".repeat(number.len());
    let mut out = format!(
        "error: {}\n{pad}--> {}:{}:{}",
        e.message, e.origin, e.line, e.column
    );
    if e.source_line.is_empty() {
        if !e.label.is_empty() {
            out.push_str(&format!("\n{pad} = {}", e.label));
        }
        return out;
    }
    let before = e.column.saturating_sub(e.source_from.max(1));
    let shown = e.source_line.chars().count();
    // Mirror tabs in the caret's indent so it lines up however the terminal expands them.
    let indent: String = e
        .source_line
        .chars()
        .take(before)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let carets = "^".repeat(e.width.min(shown.saturating_sub(before)).max(1));
    out.push_str(&format!(
        "\n{pad} |\n{number} | {}\n{pad} | {indent}{carets}",
        e.source_line
    ));
    if !e.label.is_empty() {
        out.push(' ');
        out.push_str(e.label);
    }
    out
}

/// `expected …; did you mean '…'?`, from the parts an error has.
#[must_use]
pub fn label(expected: Option<&str>, suggestion: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(expected) = expected {
        parts.push(format!("expected {expected}"));
    }
    if let Some(suggestion) = suggestion {
        parts.push(suggestion.to_string());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: &str, column: usize, width: usize) -> String {
        render(&Located {
            message: "bad",
            origin: "f.yaml",
            line: 12,
            column,
            width,
            source_line: line,
            source_from: 1,
            label: "expected good",
        })
    }

    #[test]
    fn the_caret_sits_under_the_span_and_the_gutter_fits_the_line_number() {
        assert_eq!(
            at("key: value", 6, 5),
            "error: bad\n  --> f.yaml:12:6\n   |\n12 | key: value\n   |      ^^^^^ expected good"
        );
    }

    #[test]
    fn tabs_in_the_indent_are_kept_and_the_caret_never_runs_past_the_line() {
        assert!(at("\tk: v", 5, 9).ends_with("\n   | \t   ^ expected good"));
    }

    #[test]
    fn a_long_line_is_cut_to_a_window_around_the_column() {
        let line = "x".repeat(10_000);
        let (shown, from) = excerpt(&line, 5_000);
        assert_eq!(shown.chars().count(), MAX_SHOWN + 2);
        assert_eq!(from, 5_000 - 1 - MAX_SHOWN / 2);
        assert_eq!(excerpt("short", 3), ("short".to_string(), 1));
    }
}
