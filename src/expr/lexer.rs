//! The lexer: source text to tokens with byte spans; number literals are validated here.

use std::ops::Range;

use super::error::{ErrorKind, ExprError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tok {
    /// `integer` when the literal has no `.` and no exponent, so `x^2` can use `powi`.
    Num {
        value: f64,
        integer: bool,
    },
    Ident,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    Comma,
    Assign,
    /// A line break: ends a let line unless inside parentheses or after an operator.
    Newline,
    Semi,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

impl Tok {
    /// How the token reads in a message.
    pub fn describe(self) -> &'static str {
        match self {
            Tok::Num { .. } => "a number",
            Tok::Ident => "a name",
            Tok::Plus => "`+`",
            Tok::Minus => "`-`",
            Tok::Star => "`*`",
            Tok::Slash => "`/`",
            Tok::Caret => "`^`",
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::Comma => "`,`",
            Tok::Assign => "`=`",
            Tok::Newline => "end of line",
            Tok::Semi => "`;`",
            Tok::Eof => "end of input",
        }
    }
}

/// Splits `src` into tokens, ending with one [`Tok::Eof`]. `#` starts a comment to end of line.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let single = match c {
            b'+' => Some(Tok::Plus),
            b'-' => Some(Tok::Minus),
            b'*' => Some(Tok::Star),
            b'/' => Some(Tok::Slash),
            b'^' => Some(Tok::Caret),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b',' => Some(Tok::Comma),
            b'=' => Some(Tok::Assign),
            b';' => Some(Tok::Semi),
            b'\n' => Some(Tok::Newline),
            _ => None,
        };
        if let Some(tok) = single {
            tokens.push(Token {
                tok,
                span: i..i + 1,
            });
            i += 1;
        } else if c == b' ' || c == b'\t' || c == b'\r' {
            i += 1;
        } else if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_digit()
            || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (tok, end) = number(src, i)?;
            tokens.push(Token { tok, span: i..end });
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push(Token {
                tok: Tok::Ident,
                span: start..i,
            });
        } else {
            // Report the whole character, not its first byte, so the caret and the quote agree.
            let ch = src[i..].chars().next().unwrap_or('?');
            let end = i + ch.len_utf8();
            let mut err = ExprError::new(
                ErrorKind::UnexpectedChar,
                i..end,
                format!("unexpected character `{ch}`"),
            );
            err = match ch {
                '.' => err.suggest(Some("write a number as `0.5` or `.5`".into())),
                '[' | '{' => err.suggest(Some("use `(` for grouping".into())),
                ']' | '}' => err.suggest(Some("use `)` for grouping".into())),
                '%' => err.suggest(Some("there is no `%` operator".into())),
                _ => err,
            };
            return Err(err);
        }
    }
    tokens.push(Token {
        tok: Tok::Eof,
        span: src.len()..src.len(),
    });
    Ok(tokens)
}

/// Scans the literal starting at `start`: digits, at most one `.`, an optional exponent with an
/// optional sign. A second `.` or an exponent without digits is a [`ErrorKind::BadNumber`]
/// spanning the whole malformed literal.
fn number(src: &str, start: usize) -> Result<(Tok, usize), ExprError> {
    let bytes = src.as_bytes();
    let mut i = start;
    let mut dots = 0;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        dots += usize::from(bytes[i] == b'.');
        i += 1;
    }
    let mut exponent = false;
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        exponent = true;
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let digits_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits_start {
            let text = &src[start..i];
            return Err(ExprError::new(
                ErrorKind::BadNumber,
                start..i,
                format!("bad number `{text}`: the exponent has no digits"),
            )
            .expected("digits after the exponent, as in `1e-3`"));
        }
    }
    // Letters glued to a number (`2x`) are left to the parser, which reports two operands in a
    // row; a `.` glued after the exponent is part of the malformed literal.
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        dots += usize::from(bytes[i] == b'.');
        i += 1;
    }
    let text = &src[start..i];
    if dots > 1 {
        return Err(ExprError::new(
            ErrorKind::BadNumber,
            start..i,
            format!("bad number `{text}`: more than one decimal point"),
        ));
    }
    match text.parse::<f64>() {
        Ok(value) => Ok((
            Tok::Num {
                value,
                integer: dots == 0 && !exponent,
            },
            i,
        )),
        Err(_) => Err(ExprError::new(
            ErrorKind::BadNumber,
            start..i,
            format!("bad number `{text}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn number_forms() {
        let cases = [
            ("1", 1.0, true),
            ("1.5", 1.5, false),
            (".5", 0.5, false),
            ("1e-3", 1e-3, false),
            ("2E+4", 2e4, false),
            ("3.", 3.0, false),
            ("10", 10.0, true),
        ];
        for (src, value, integer) in cases {
            assert_eq!(
                kinds(src),
                vec![Tok::Num { value, integer }, Tok::Eof],
                "{src}"
            );
        }
    }

    #[test]
    fn comments_and_separators() {
        assert_eq!(
            kinds("a = x # the input\n a;"),
            vec![
                Tok::Ident,
                Tok::Assign,
                Tok::Ident,
                Tok::Newline,
                Tok::Ident,
                Tok::Semi,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn bad_numbers_span_the_literal() {
        let err = lex("x + 1.2.3").unwrap_err();
        assert_eq!((err.kind, err.span), (ErrorKind::BadNumber, 4..9));
        let err = lex("1e").unwrap_err();
        assert_eq!((err.kind, err.span), (ErrorKind::BadNumber, 0..2));
        let err = lex("1e+").unwrap_err();
        assert_eq!((err.kind, err.span), (ErrorKind::BadNumber, 0..3));
        let err = lex("1e5.5").unwrap_err();
        assert_eq!((err.kind, err.span), (ErrorKind::BadNumber, 0..5));
    }

    #[test]
    fn unexpected_multibyte_character_spans_the_character() {
        let err = lex("x + θ").unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnexpectedChar);
        assert_eq!(err.span, 4..6);
        assert_eq!(err.message, "unexpected character `θ`");
    }
}
