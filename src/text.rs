//! Text from files and the command line (scenario names, run labels, parameter names, file
//! names, error messages) made safe to show on a terminal. Both front ends pass such text
//! through [`printable`] when they display it, so a label cannot move the cursor, recolour or
//! clear the screen, or reorder what follows it. Data formats (JSON, CSV) keep the text as it is.

use std::borrow::Cow;

/// Characters a terminal would act on instead of showing: C0 and C1 controls and DEL
/// (`char::is_control`), and the Unicode bidirectional marks, embeddings, overrides and
/// isolates, which reorder the text shown after them.
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with every such character written as its Rust escape (`\u{1b}`, `\t`, `\n`,
/// `\u{202e}`); borrowed when there is nothing to escape.
///
/// ```
/// use gradscope::text::printable;
/// assert_eq!(printable("adam"), "adam");
/// assert_eq!(printable("\u{1b}[2Jadam\n"), "\\u{1b}[2Jadam\\n");
/// ```
#[must_use]
pub fn printable(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Like [`printable`], but line breaks stay: for messages of several lines.
#[must_use]
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let escaped = |c: char| acts_on_terminal(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The word for `n` things: `one` for exactly one, `many` otherwise ("1 pass", "0 passes",
/// "4 passes").
///
/// ```
/// use gradscope::text::plural;
/// assert_eq!(format!("1 {}", plural(1, "pass", "passes")), "1 pass");
/// assert_eq!(plural(4, "pass", "passes"), "passes");
/// ```
#[must_use]
pub fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["adam-0.01", "Rosenbrock race", "λ = 0.5 ✓", ""] {
            assert!(matches!(printable(s), Cow::Borrowed(b) if b == s));
        }
    }

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(printable("a\tb\r\n"), "a\\tb\\r\\n");
        assert_eq!(printable("\u{7f}\u{9b}"), "\\u{7f}\\u{9b}");
        assert_eq!(printable("ab\u{202e}cd"), "ab\\u{202e}cd");
        assert_eq!(printable("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        // Joiners inside emoji are not controls: they stay.
        assert_eq!(printable("👩\u{200d}🔬"), "👩\u{200d}🔬");
    }

    #[test]
    fn printable_lines_keeps_only_line_breaks() {
        assert_eq!(
            printable_lines("line 1\nline\u{1b}[2J 2\r\n"),
            "line 1\nline\\u{1b}[2J 2\\r\n"
        );
        assert!(!printable_lines("x\u{7}y\n").contains('\u{7}'));
    }
}
