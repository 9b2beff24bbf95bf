//! The parser: recursive descent over the tokens, emitting straight into the instruction
//! [`Builder`] (no AST is kept). Let lines bind names to registers, so a reused intermediate is
//! computed once.
//!
//! ```text
//! program := sep* (let sep+)* expr sep*          sep := newline | ';'
//! let     := name '=' expr
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := ('-' | '+')* power                  so -x^2 = -(x^2)
//! power   := primary ('^' unary)?                right-associative: 2^3^2 = 2^9
//! primary := number | name | name '(' args ')' | '(' expr ')'
//! ```
//! A line break ends a statement only outside parentheses and not right after an operator,
//! so long formulas can be wrapped.

use std::collections::HashMap;
use std::ops::Range;

use super::compile::{Builder, Func, Instr, Reg};
use super::error::{ErrorKind, ExprError};
use super::lexer::{Tok, Token, lex};
use super::suggest;

/// Deeper nesting than this is an error, so the recursive parser cannot overflow the stack.
pub const MAX_DEPTH: usize = 256;

/// Every name that can be called, for suggestions and reserved-name checks.
pub const FUNCTIONS: [&str; 15] = [
    "exp", "ln", "log", "sqrt", "abs", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "relu",
    "pow", "min", "max",
];

/// The named constants.
pub const CONSTANTS: [&str; 2] = ["pi", "e"];

fn constant(name: &str) -> Option<f64> {
    match name {
        "pi" => Some(std::f64::consts::PI),
        "e" => Some(std::f64::consts::E),
        _ => None,
    }
}

/// An input of the expression: its name and the span of its first use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FreeVar {
    pub name: String,
    pub span: Range<usize>,
}

#[derive(Debug)]
pub(crate) struct Parsed {
    pub code: Vec<Instr>,
    pub labels: Vec<Option<String>>,
    /// Per register: the source text it computes.
    pub spans: Vec<Range<usize>>,
    /// The first `leaves` instructions are the `Var`s and `Const`s.
    pub leaves: usize,
    /// In order of first appearance; `Instr::Var(i)` refers to `free[i]`.
    pub free: Vec<FreeVar>,
    /// Every let name with its register (`None`: the result does not use it).
    pub bindings: Vec<(String, Option<Reg>)>,
}

struct LetDef {
    reg: Reg,
    span: Range<usize>,
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    /// The last consumed token other than a line break, to tell "`*` has no right operand"
    /// from "unexpected end of input".
    prev: Option<Tok>,
    depth: usize,
    /// Open parentheses around the current position: inside them line breaks are whitespace.
    parens: usize,
    b: Builder,
    free: Vec<FreeVar>,
    lets: HashMap<String, LetDef>,
}

pub(crate) fn parse(src: &str) -> Result<Parsed, ExprError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        prev: None,
        depth: 0,
        parens: 0,
        b: Builder::default(),
        free: Vec::new(),
        lets: HashMap::new(),
    };
    let out = p.program()?;
    let done = p.b.finish(out);
    Ok(Parsed {
        code: done.code,
        labels: done.labels,
        spans: done.spans,
        leaves: done.leaves,
        free: p.free,
        bindings: done.bindings,
    })
}

fn is_binary_op(t: Tok) -> bool {
    matches!(
        t,
        Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Caret
    )
}

fn starts_operand(t: Tok) -> bool {
    matches!(t, Tok::Num { .. } | Tok::Ident | Tok::LParen)
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_tok(&self) -> Tok {
        self.peek().tok
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        if t.tok != Tok::Newline {
            self.prev = Some(t.tok);
        }
        t
    }

    fn text(&self, span: &Range<usize>) -> &str {
        &self.src[span.clone()]
    }

    fn skip_newlines(&mut self) {
        while self.peek_tok() == Tok::Newline {
            self.pos += 1;
        }
    }

    /// The next token where an operator may follow an operand: line breaks only continue the
    /// expression inside parentheses.
    fn peek_op(&mut self) -> Tok {
        if self.parens > 0 {
            self.skip_newlines();
        }
        self.peek_tok()
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let span = self.peek().span.clone();
            return Err(ExprError::new(
                ErrorKind::TooDeep,
                span,
                format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// The source text from the first token at or after token `mark` (line breaks skipped)
    /// to the end of the last consumed token: what the construct begun at `mark` covers.
    fn span_from(&self, mark: usize) -> Range<usize> {
        let start = self.toks[mark.min(self.toks.len() - 1)..]
            .iter()
            .find(|t| t.tok != Tok::Newline)
            .map_or(0, |t| t.span.start);
        let end = self.prev_span().end.max(start);
        start..end
    }

    fn line_of(&self, offset: usize) -> usize {
        self.src[..offset].matches('\n').count() + 1
    }

    fn program(&mut self) -> Result<Reg, ExprError> {
        let mut result: Option<Reg> = None;
        let mut last_let: Option<(String, Range<usize>)> = None;
        loop {
            while matches!(self.peek_tok(), Tok::Newline | Tok::Semi) {
                self.next();
            }
            let t = self.peek().clone();
            if t.tok == Tok::Eof {
                break;
            }
            if result.is_some() {
                return Err(ExprError::new(
                    ErrorKind::TrailingInput,
                    t.span,
                    "unexpected input after the final expression",
                )
                .expected("end of input")
                .suggest(Some(
                    "only the last line is the result: name earlier lines with `name = ...`".into(),
                )));
            }
            let is_let = t.tok == Tok::Ident
                && self
                    .toks
                    .get(self.pos + 1)
                    .is_some_and(|n| n.tok == Tok::Assign);
            if is_let {
                let name = self.text(&t.span).to_string();
                self.let_line()?;
                last_let = Some((name, t.span));
            } else {
                result = Some(self.expr()?);
            }
            self.end_of_statement()?;
        }
        match (result, last_let) {
            (Some(r), _) => Ok(r),
            (None, Some((name, span))) => Err(ExprError::new(
                ErrorKind::MissingFinalExpression,
                span,
                format!("the let line defining `{name}` is not followed by a final expression"),
            )
            .expected("an expression on the last line")
            .suggest(Some(format!(
                "add a last line with the result, e.g. `{name}`"
            )))),
            (None, None) => {
                Err(
                    ExprError::new(ErrorKind::Empty, 0..self.src.len(), "empty expression")
                        .expected("an expression such as `(1 - x)^2 + 100 * (y - x^2)^2`"),
                )
            }
        }
    }

    fn let_line(&mut self) -> Result<(), ExprError> {
        let name_tok = self.next();
        self.next(); // `=`
        let span = name_tok.span;
        let name = self.text(&span).to_string();
        if constant(&name).is_some() {
            return Err(ExprError::new(
                ErrorKind::ReservedName,
                span,
                format!("cannot assign to `{name}`: it is a constant"),
            )
            .suggest(Some("pick another name".into())));
        }
        if FUNCTIONS.contains(&name.as_str()) {
            return Err(ExprError::new(
                ErrorKind::ReservedName,
                span,
                format!("cannot assign to `{name}`: it is a function"),
            )
            .suggest(Some("pick another name".into())));
        }
        if let Some(def) = self.lets.get(&name) {
            let line = self.line_of(def.span.start);
            return Err(ExprError::new(
                ErrorKind::Redefinition,
                span,
                format!("`{name}` is already defined on line {line}"),
            )
            .suggest(Some(
                "each let name is defined once; pick another name".into(),
            )));
        }
        let reg = self.expr()?;
        if let Some(use_) = self.free.iter().find(|v| v.name == name) {
            let line = self.line_of(span.start);
            let message = if use_.span.start > span.start {
                format!("`{name}` is used in its own definition")
            } else {
                format!("`{name}` is used before its definition on line {line}")
            };
            return Err(
                ExprError::new(ErrorKind::UseBeforeDefinition, use_.span.clone(), message).suggest(
                    Some(format!(
                        "move the line defining `{name}` above its first use"
                    )),
                ),
            );
        }
        self.b.label(reg, &name);
        self.lets.insert(name, LetDef { reg, span });
        Ok(())
    }

    /// After a complete statement only a separator or the end may follow.
    fn end_of_statement(&mut self) -> Result<(), ExprError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Newline | Tok::Semi | Tok::Eof => Ok(()),
            Tok::RParen => Err(
                ExprError::new(ErrorKind::UnmatchedParen, t.span, "unmatched `)`")
                    .suggest(Some("remove it or add a matching `(`".into())),
            ),
            tok if starts_operand(tok) => Err(self.adjacent(&t)),
            tok => {
                let err = ExprError::new(
                    ErrorKind::TrailingInput,
                    t.span,
                    format!("unexpected {} after the expression", tok.describe()),
                )
                .expected("an operator or end of line");
                Err(if tok == Tok::Assign {
                    err.suggest(Some(
                        "only a single name can be assigned: `name = expr`".into(),
                    ))
                } else {
                    err
                })
            }
        }
    }

    fn adjacent(&self, t: &Token) -> ExprError {
        ExprError::new(
            ErrorKind::AdjacentOperands,
            t.span.clone(),
            format!(
                "two operands in a row: found {} where an operator was expected",
                t.tok.describe()
            ),
        )
        .expected("an operator")
        .suggest(Some("put an operator such as `*` between them".into()))
    }

    fn expr(&mut self) -> Result<Reg, ExprError> {
        self.enter()?;
        let mark = self.pos;
        let mut lhs = self.term()?;
        loop {
            let op = self.peek_op();
            if !matches!(op, Tok::Plus | Tok::Minus) {
                break;
            }
            self.next();
            let rhs = self.term()?;
            let ins = if op == Tok::Plus {
                Instr::Add(lhs, rhs)
            } else {
                Instr::Sub(lhs, rhs)
            };
            lhs = self.b.emit_at(ins, self.span_from(mark));
        }
        self.leave();
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Reg, ExprError> {
        let mark = self.pos;
        let mut lhs = self.unary()?;
        loop {
            let op = self.peek_op();
            if !matches!(op, Tok::Star | Tok::Slash) {
                break;
            }
            self.next();
            let rhs = self.unary()?;
            let ins = if op == Tok::Star {
                Instr::Mul(lhs, rhs)
            } else {
                Instr::Div(lhs, rhs)
            };
            lhs = self.b.emit_at(ins, self.span_from(mark));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Reg, ExprError> {
        let mark = self.pos;
        let mut negative = false;
        loop {
            self.skip_newlines();
            match self.peek_tok() {
                Tok::Minus => negative = !negative,
                Tok::Plus => {}
                _ => break,
            }
            self.next();
        }
        let r = self.power()?;
        Ok(if negative {
            self.b.emit_at(Instr::Neg(r), self.span_from(mark))
        } else {
            r
        })
    }

    fn power(&mut self) -> Result<Reg, ExprError> {
        let mark = self.pos;
        let base = self.primary()?;
        if self.peek_op() != Tok::Caret {
            return Ok(base);
        }
        self.next();
        self.enter()?;
        let exponent = self.unary()?;
        self.leave();
        Ok(self.pow(base, exponent, self.span_from(mark)))
    }

    /// `powi` for a constant integer exponent (see [`Instr::Powi`]), `powf` otherwise.
    fn pow(&mut self, base: Reg, exponent: Reg, span: Range<usize>) -> Reg {
        match self.b.constant_value(exponent) {
            Some(c) if c.fract() == 0.0 && c.abs() <= f64::from(i32::MAX) => {
                self.b.emit_at(Instr::Powi(base, c as i32), span)
            }
            _ => self.b.emit_at(Instr::Pow(base, exponent), span),
        }
    }

    fn primary(&mut self) -> Result<Reg, ExprError> {
        self.skip_newlines();
        let t = self.peek().clone();
        match t.tok {
            Tok::Num { value, .. } => {
                self.next();
                Ok(self.b.emit_at(Instr::Const(value), t.span))
            }
            Tok::Ident => {
                self.next();
                if self.peek_tok() == Tok::LParen {
                    self.call(t.span)
                } else {
                    self.name(t.span)
                }
            }
            Tok::LParen => {
                self.next();
                self.parens += 1;
                let r = self.expr()?;
                self.close(&t.span)?;
                self.parens -= 1;
                Ok(r)
            }
            _ => Err(self.missing_operand(&t)),
        }
    }

    fn missing_operand(&self, t: &Token) -> ExprError {
        let prev = self.prev.filter(|&p| is_binary_op(p));
        match (t.tok, prev) {
            (Tok::Star | Tok::Slash | Tok::Caret, Some(p)) => {
                let hint = (p == Tok::Star && t.tok == Tok::Star)
                    .then(|| "write a power as `x^2`, not `x**2`".to_string());
                ExprError::new(
                    ErrorKind::MissingOperand,
                    t.span.clone(),
                    format!("expected an operand, found {}", t.tok.describe()),
                )
                .expected("a number, a name or `(`")
                .suggest(hint)
            }
            (Tok::Star | Tok::Slash | Tok::Caret, None) => ExprError::new(
                ErrorKind::MissingOperand,
                t.span.clone(),
                format!("{} is missing its left operand", t.tok.describe()),
            )
            .expected("a number, a name or `(` before it"),
            (_, Some(p)) => {
                // The operator just consumed ends at the start of this token's gap; find it.
                let op_span = self.prev_span();
                ExprError::new(
                    ErrorKind::MissingOperand,
                    op_span,
                    format!("{} is missing its right operand", p.describe()),
                )
                .expected("a number, a name or `(` after it")
            }
            (Tok::Eof, None) => ExprError::new(
                ErrorKind::UnexpectedEnd,
                t.span.clone(),
                "unexpected end of input",
            )
            .expected("an operand"),
            (Tok::RParen, None) if self.parens == 0 => {
                ExprError::new(ErrorKind::UnmatchedParen, t.span.clone(), "unmatched `)`")
            }
            (tok, None) => ExprError::new(
                ErrorKind::MissingOperand,
                t.span.clone(),
                format!("expected an operand, found {}", tok.describe()),
            )
            .expected("a number, a name or `(`"),
        }
    }

    /// The span of the last consumed token other than a line break.
    fn prev_span(&self) -> Range<usize> {
        self.toks[..self.pos]
            .iter()
            .rev()
            .find(|t| t.tok != Tok::Newline)
            .map_or(0..0, |t| t.span.clone())
    }

    /// Consumes the `)` matching the `(` at `open`.
    fn close(&mut self, open: &Range<usize>) -> Result<Token, ExprError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::RParen => Ok(self.next()),
            Tok::Eof => Err(
                ExprError::new(ErrorKind::UnclosedParen, open.clone(), "unclosed `(`")
                    .expected("`)` before the end of input"),
            ),
            tok if starts_operand(tok) => Err(self.adjacent(&t)),
            tok => {
                let (line, col) = self.line_col(open.start);
                Err(ExprError::new(
                    ErrorKind::UnexpectedToken,
                    t.span,
                    format!(
                        "unexpected {}: the `(` at line {line}, column {col} is not closed",
                        tok.describe()
                    ),
                )
                .expected("`)`"))
            }
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        ExprError::new(ErrorKind::Empty, offset..offset, "").line_col(self.src)
    }

    fn name(&mut self, span: Range<usize>) -> Result<Reg, ExprError> {
        let name = self.text(&span).to_string();
        if let Some(c) = constant(&name) {
            return Ok(self.b.emit_at(Instr::Const(c), span));
        }
        if FUNCTIONS.contains(&name.as_str()) {
            return Err(ExprError::new(
                ErrorKind::MissingCall,
                span,
                format!("`{name}` is a function: it needs arguments in parentheses"),
            )
            .expected(format!("`{name}(...)`")));
        }
        if let Some(def) = self.lets.get(&name) {
            return Ok(def.reg);
        }
        let slot = match self.free.iter().position(|v| v.name == name) {
            Some(i) => i,
            None => {
                self.free.push(FreeVar {
                    name,
                    span: span.clone(),
                });
                self.free.len() - 1
            }
        };
        Ok(self.b.emit_at(Instr::Var(slot), span))
    }

    fn call(&mut self, name_span: Range<usize>) -> Result<Reg, ExprError> {
        let name = self.text(&name_span).to_string();
        if !FUNCTIONS.contains(&name.as_str()) {
            let multiply = format!("to multiply, write `{name} * (...)`");
            let err = if constant(&name).is_some() || self.lets.contains_key(&name) {
                ExprError::new(
                    ErrorKind::NotAFunction,
                    name_span,
                    format!("`{name}` is not a function"),
                )
                .suggest(Some(multiply))
            } else {
                let hint =
                    suggest(&name, &FUNCTIONS).map_or(multiply, |s| format!("did you mean `{s}`?"));
                ExprError::new(
                    ErrorKind::UnknownFunction,
                    name_span,
                    format!("unknown function `{name}`"),
                )
                .suggest(Some(hint))
            };
            return Err(err);
        }
        let open = self.next().span;
        self.parens += 1;
        let mut args = Vec::new();
        self.skip_newlines();
        let close = if self.peek_tok() == Tok::RParen {
            self.next()
        } else {
            loop {
                args.push(self.expr()?);
                self.skip_newlines();
                if self.peek_tok() == Tok::Comma {
                    self.next();
                    continue;
                }
                let t = self.peek().clone();
                if t.tok == Tok::RParen || t.tok == Tok::Eof || starts_operand(t.tok) {
                    break self.close(&open)?;
                }
                return Err(ExprError::new(
                    ErrorKind::UnexpectedToken,
                    t.span,
                    format!(
                        "unexpected {} in the arguments of `{name}`",
                        t.tok.describe()
                    ),
                )
                .expected("`,` or `)`"));
            }
        };
        self.parens -= 1;
        let want = match name.as_str() {
            "pow" | "min" | "max" => 2,
            _ => 1,
        };
        if args.len() != want {
            let signature = if want == 2 {
                format!("{name}(a, b)")
            } else {
                format!("{name}(x)")
            };
            let plural = if want == 1 { "" } else { "s" };
            return Err(ExprError::new(
                ErrorKind::WrongArity,
                name_span.start..close.span.end,
                format!(
                    "`{name}` takes {want} argument{plural}, found {}",
                    args.len()
                ),
            )
            .expected(format!("`{signature}`")));
        }
        let span = name_span.start..close.span.end;
        let func = match name.as_str() {
            "pow" => return Ok(self.pow(args[0], args[1], span)),
            "min" => return Ok(self.b.emit_at(Instr::Min(args[0], args[1]), span)),
            "max" => return Ok(self.b.emit_at(Instr::Max(args[0], args[1]), span)),
            "log" => Func::Ln,
            other => Func::ALL
                .into_iter()
                .find(|f| f.name() == other)
                .unwrap_or(Func::Exp),
        };
        Ok(self.b.emit_at(Instr::Call1(func, args[0]), span))
    }
}
