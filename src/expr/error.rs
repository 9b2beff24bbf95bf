//! Errors of the expression language: what went wrong, where (a byte span into the source),
//! what was expected, a hint, and a caret rendering of the offending line.

use std::ops::Range;

/// The kind of mistake, so callers and tests can match on it without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A character the language has no use for (`$`, `@`, `θ`).
    UnexpectedChar,
    /// A token that cannot appear where it does (`,` outside a call, `=` after an expression).
    UnexpectedToken,
    /// The input stops where something else was required (`sin(`).
    UnexpectedEnd,
    /// A `(` that is never closed.
    UnclosedParen,
    /// A `)` with no `(` to match.
    UnmatchedParen,
    /// An operator with a side missing (`2 *`, `* 2`, `x + * y`).
    MissingOperand,
    /// Two operands with no operator between them (`x y`, `2 (x)`).
    AdjacentOperands,
    /// A malformed number literal (`1e`, `1.2.3`).
    BadNumber,
    /// A call to a function the language does not know (`sinn(x)`).
    UnknownFunction,
    /// A call with the wrong number of arguments (`pow(x)`).
    WrongArity,
    /// A name that is neither a let name nor one of the allowed variables.
    UnknownVariable,
    /// A let name defined twice.
    Redefinition,
    /// A name used as an input, then defined by a later let line.
    UseBeforeDefinition,
    /// Nothing but whitespace and comments.
    Empty,
    /// Input left over after a complete expression.
    TrailingInput,
    /// Let lines with no final expression after them.
    MissingFinalExpression,
    /// A let line assigning to a constant (`pi`, `e`) or a function name.
    ReservedName,
    /// A call of something that is not a function (`pi(2)`, a let name).
    NotAFunction,
    /// A function name used without a call (`sin + 1`).
    MissingCall,
    /// Nesting deeper than the parser allows.
    TooDeep,
}

/// A parse or binding error in an expression.
///
/// `span` is a byte range into the source the expression was parsed from; [`ExprError::render`]
/// turns it into a line, a 1-based column counted in characters, and a caret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct ExprError {
    pub kind: ErrorKind,
    /// Byte offsets into the source.
    pub span: Range<usize>,
    pub message: String,
    /// What the parser would have accepted there, if it can say.
    pub expected: Option<String>,
    /// A full-sentence hint, e.g. "did you mean `sin`?".
    pub suggestion: Option<String>,
}

impl ExprError {
    pub(crate) fn new(kind: ErrorKind, span: Range<usize>, message: impl Into<String>) -> Self {
        ExprError {
            kind,
            span,
            message: message.into(),
            expected: None,
            suggestion: None,
        }
    }

    #[must_use]
    pub(crate) fn expected(mut self, what: impl Into<String>) -> Self {
        self.expected = Some(what.into());
        self
    }

    #[must_use]
    pub(crate) fn suggest(mut self, hint: Option<String>) -> Self {
        self.suggestion = hint;
        self
    }

    /// `message (expected ...)`, without position or hint.
    fn summary(&self) -> String {
        match &self.expected {
            Some(e) => format!("{} (expected {e})", self.message),
            None => self.message.clone(),
        }
    }

    /// The 1-based line and 1-based column (in characters) where the span starts.
    #[must_use]
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        let start = clamp_to_boundary(source, self.span.start);
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..start].chars().count() + 1;
        (line, column)
    }

    /// The error as printed, located in `origin` (a file, or `expression` for text given on
    /// the command line) and rendered by the one caret renderer every located error uses:
    ///
    /// ```text
    /// error: expected an operand, found `*`
    ///  --> expression:1:5
    ///   |
    /// 1 | x + * y
    ///   |     ^
    /// ```
    #[must_use]
    pub fn render_in(&self, source: &str, origin: &str) -> String {
        let (line, column) = self.line_col(source);
        let start = clamp_to_boundary(source, self.span.start);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[line_start..]
            .find('\n')
            .map_or(source.len(), |i| line_start + i);
        let end = clamp_to_boundary(source, self.span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let (shown, from) = crate::diagnostic::excerpt(&source[line_start..line_end], column);
        let label = crate::diagnostic::label(self.expected.as_deref(), self.suggestion.as_deref());
        crate::diagnostic::render(&crate::diagnostic::Located {
            message: &self.message,
            origin,
            line,
            column,
            width,
            source_line: &shown,
            source_from: from,
            label: &label,
        })
    }

    /// [`render_in`](Self::render_in) for an expression given on its own.
    #[must_use]
    pub fn render(&self, source: &str) -> String {
        self.render_in(source, "expression")
    }
}

/// Spans always come from the lexer and sit on character boundaries; this guards `render`
/// against a span from elsewhere (e.g. a different source) rather than panicking.
fn clamp_to_boundary(source: &str, mut i: usize) -> usize {
    i = i.min(source.len());
    while !source.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_lines_count_newlines() {
        let src = "a = 1\n  éé + $";
        let err = ExprError::new(
            ErrorKind::UnexpectedChar,
            15..16,
            "unexpected character `$`",
        );
        assert_eq!(err.line_col(src), (2, 8));
        let text = err.render(src);
        assert_eq!(
            text,
            "error: unexpected character `$`\n --> expression:2:8\n  |\n2 |   éé + $\n  |        ^"
        );
    }

    #[test]
    fn render_at_end_of_input_puts_the_caret_after_the_last_character() {
        let err = ExprError::new(ErrorKind::UnexpectedEnd, 4..4, "unexpected end of input")
            .expected("an operand");
        assert_eq!(
            err.render("sin("),
            "error: unexpected end of input\n --> expression:1:5\n  |\n1 | sin(\n  |     ^ expected an operand"
        );
        assert_eq!(
            err.to_string(),
            "unexpected end of input (expected an operand)"
        );
    }

    #[test]
    fn a_foreign_span_does_not_panic() {
        let err = ExprError::new(ErrorKind::Empty, 3..90, "x");
        assert_eq!(err.line_col("é"), (1, 2));
        assert!(err.render("é").contains('^'));
    }
}
