//! The expression language objectives are written in: parsing with caret-rendered errors,
//! compilation to a flat SSA instruction list (a Wengert list), generic evaluation over any
//! [`Scalar`], and two fast `f64` gradient paths (reverse and chunked forward mode).
//!
//! ```text
//! # comments run to the end of the line
//! r = y - x^2          # let lines name intermediates; each is computed once
//! (1 - x)^2 + 100 * r^2
//! ```
//! Numbers (`1`, `1.5`, `.5`, `1e-3`), names, `+ - * / ^` (`^` is right-associative and binds
//! tighter than unary minus: `-x^2 = -(x^2)`), parentheses, the constants `pi` and `e`, and the
//! functions exp, ln, log (= ln), sqrt, abs, sin, cos, tan, tanh, sigmoid, softplus, relu,
//! pow(a, b), min(a, b), max(a, b). A constant integer exponent (`x^2`, `x^-1`, `pow(x, 3)`)
//! compiles to `powi`; any other exponent to `powf`.

mod compile;
mod error;
mod eval;
mod lexer;
mod parser;

use std::fmt::Write as _;
use std::ops::Range;
use std::str::FromStr;

pub use crate::suggest::nearest as suggest;
pub use compile::{Func, Instr, Reg};
pub use error::{ErrorKind, ExprError};
pub use eval::Workspace;
pub use parser::{CONSTANTS, FUNCTIONS, MAX_DEPTH};

use crate::ad::{Scalar, ScalarFn};
use parser::FreeVar;

/// A parsed and compiled expression.
///
/// ```
/// use gradscope::expr::{Expression, Workspace};
/// let f = Expression::parse("(1 - x)^2 + 100 * (y - x^2)^2").unwrap();
/// assert_eq!(f.vars(), ["x", "y"]);
/// let mut work = Workspace::default();
/// let mut grad = [0.0; 2];
/// let value = f.gradient_reverse(&[1.0, 1.0], &mut work, &mut grad);
/// assert_eq!((value, grad), (0.0, [0.0, 0.0]));
/// ```
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    code: Vec<Instr>,
    labels: Vec<Option<String>>,
    /// Per register: the byte range of the source text it computes.
    spans: Vec<Range<usize>>,
    /// Every let name, with its register when the result depends on it.
    bindings: Vec<(String, Option<Reg>)>,
    /// The first `leaves` instructions are the inputs and constants.
    leaves: usize,
    /// The inputs the source uses, in order of first appearance, with their first-use spans.
    free: Vec<FreeVar>,
    /// `slots[i]`: the position of `free[i]` in `vars`, i.e. its `Instr::Var` index.
    slots: Vec<usize>,
    vars: Vec<String>,
    /// The lowered form the fast `f64` paths run (rebuilt when the inputs are rebound).
    program: eval::Program,
}

impl Expression {
    /// Parses and compiles `src`. Its inputs are the names it uses that are neither let names,
    /// constants nor functions, in order of first appearance.
    pub fn parse(src: &str) -> Result<Expression, ExprError> {
        let parsed = parser::parse(src)?;
        let vars: Vec<String> = parsed.free.iter().map(|v| v.name.clone()).collect();
        let program = eval::Program::new(&parsed.code, parsed.leaves);
        Ok(Expression {
            program,
            source: src.to_string(),
            code: parsed.code,
            labels: parsed.labels,
            spans: parsed.spans,
            bindings: parsed.bindings,
            leaves: parsed.leaves,
            slots: (0..vars.len()).collect(),
            free: parsed.free,
            vars,
        })
    }

    /// Parses `src` and binds its inputs to `order` in one step (see [`Expression::with_vars`]).
    pub fn parse_with_vars(src: &str, order: &[String]) -> Result<Expression, ExprError> {
        Expression::parse(src)?.with_vars(order)
    }

    /// Binds the inputs to the positions of `order`: input `i` of `eval` and of the gradients is
    /// `order[i]`. Every name the expression uses must be in `order` (else an error at its first
    /// use, suggesting the nearest allowed name); names it does not use are allowed and get a
    /// zero gradient.
    pub fn with_vars(mut self, order: &[String]) -> Result<Expression, ExprError> {
        let mut remap = vec![0; self.vars.len()];
        let mut slots = Vec::with_capacity(self.free.len());
        for (free, &old) in self.free.iter().zip(&self.slots) {
            let Some(new) = order.iter().position(|n| *n == free.name) else {
                let allowed: Vec<&str> = order.iter().map(String::as_str).collect();
                let expected = if allowed.is_empty() {
                    "no variables at all".to_string()
                } else {
                    format!("one of {}", allowed.join(", "))
                };
                return Err(ExprError::new(
                    ErrorKind::UnknownVariable,
                    free.span.clone(),
                    format!("unknown variable `{}`", free.name),
                )
                .expected(expected)
                .suggest(suggest(&free.name, &allowed).map(|s| format!("did you mean `{s}`?"))));
            };
            remap[old] = new;
            slots.push(new);
        }
        for ins in &mut self.code {
            if let Instr::Var(i) = ins {
                *i = remap[*i];
            }
        }
        self.slots = slots;
        self.vars = order.to_vec();
        self.program = eval::Program::new(&self.code, self.leaves);
        Ok(self)
    }

    /// The input names, in the order `eval` and the gradients take them.
    #[must_use]
    pub fn vars(&self) -> &[String] {
        &self.vars
    }

    /// The source text this expression was parsed from.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The compiled instruction list: register `k` is the result of instruction `k`, and the
    /// last register is the value of the expression.
    #[must_use]
    pub fn instructions(&self) -> &[Instr] {
        &self.code
    }

    /// The let name of each register, where a let line defined it.
    #[must_use]
    pub fn labels(&self) -> &[Option<String>] {
        &self.labels
    }

    /// The byte range of the source text register `k` computes (for a register shared by
    /// several identical subexpressions, the first one's), `None` past the last register.
    ///
    /// ```
    /// use gradscope::expr::Expression;
    /// let src = "r = y - x^2\n(1 - x)^2 + 100 * r^2";
    /// let f = Expression::parse(src).unwrap();
    /// let text: Vec<&str> = (0..f.instructions().len())
    ///     .filter_map(|k| f.span(k).map(|s| &src[s]))
    ///     .collect();
    /// assert_eq!(
    ///     text,
    ///     ["y", "x", "1", "100", "x^2", "y - x^2", "1 - x", "(1 - x)^2", "r^2", "100 * r^2",
    ///      "(1 - x)^2 + 100 * r^2"]
    /// );
    /// ```
    #[must_use]
    pub fn span(&self, k: usize) -> Option<Range<usize>> {
        self.spans.get(k).cloned()
    }

    /// Every let name in the order of the let lines, with the register it names, or `None`
    /// when the result does not depend on it (its code was dropped).
    ///
    /// ```
    /// use gradscope::expr::Expression;
    /// let f = Expression::parse("a = x * y\nb = a\nunused = sin(x)\na + b").unwrap();
    /// let names: Vec<(&str, Option<usize>)> =
    ///     f.bindings().map(|(n, r)| (n, r)).collect();
    /// assert_eq!(names, [("a", Some(2)), ("b", Some(2)), ("unused", None)]);
    /// ```
    pub fn bindings(&self) -> impl Iterator<Item = (&str, Option<usize>)> + '_ {
        self.bindings
            .iter()
            .map(|(name, r)| (name.as_str(), r.map(|r| r as usize)))
    }

    /// The number of leading leaf registers (the inputs, then the constants).
    #[must_use]
    pub fn leaves(&self) -> usize {
        self.leaves
    }

    /// The instruction list as text, one line per register, inputs by name and let names as
    /// comments, e.g. `%3 = powi %2, 2    # r`.
    #[must_use]
    pub fn listing(&self) -> Vec<String> {
        self.code
            .iter()
            .zip(&self.labels)
            .enumerate()
            .map(|(k, (ins, label))| {
                let mut line = match ins {
                    Instr::Var(i) => {
                        format!("%{k} = {}", self.vars.get(*i).map_or("?", String::as_str))
                    }
                    other => format!("%{k} = {other}"),
                };
                if let Some(name) = label {
                    let _ = write!(line, "    # {name}");
                }
                line
            })
            .collect()
    }

    /// Register `k` written out in the language's notation, one operation deep: an input is its
    /// name, a constant its number, an operation its [`Form`](crate::ad::Form) over its operands,
    /// each named by its let name if it has one (else `%r`), its input name or its number. `None`
    /// past the last register.
    ///
    /// ```
    /// use gradscope::expr::Expression;
    /// let f = Expression::parse("r = y - x^2\n(1 - x)^2 + 100 * r^2").unwrap();
    /// let text: Vec<String> = (0..f.instructions().len()).filter_map(|k| f.describe(k)).collect();
    /// assert_eq!(
    ///     text,
    ///     ["y", "x", "1", "100", "x^2", "y - %4", "1 - x", "%6^2", "r^2", "100·%8", "%7 + %9"]
    /// );
    /// assert_eq!(f.describe(11), None);
    /// ```
    #[must_use]
    pub fn describe(&self, k: usize) -> Option<String> {
        let operand = |r: Reg| {
            let r = r as usize;
            match (self.code.get(r), self.labels.get(r)) {
                (Some(Instr::Const(c)), _) => format!("{c}"),
                (Some(Instr::Var(i)), _) => self.vars.get(*i).cloned().unwrap_or_default(),
                (_, Some(Some(name))) => name.clone(),
                _ => format!("%{r}"),
            }
        };
        let ins = *self.code.get(k)?;
        Some(match ins.form() {
            None => operand(Reg::try_from(k).ok()?),
            Some(form) => {
                let (a, b) = ins.operands();
                let args: Vec<String> = [a, b].into_iter().flatten().map(operand).collect();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                form.describe(&args)
            }
        })
    }

    /// The value at `x` (`x.len() == self.dim()`).
    #[must_use]
    pub fn eval_f64(&self, x: &[f64]) -> f64 {
        self.eval::<f64>(x)
    }

    /// The value at `x`, reusing `work` instead of allocating.
    pub fn value_with(&self, x: &[f64], work: &mut Workspace) -> f64 {
        eval::value(&self.program, x, work)
    }

    /// Reverse mode (back-propagation) over the instruction list: one forward sweep storing
    /// every register, one reverse sweep accumulating adjoints. Writes `grad` (length
    /// `self.dim()`) and returns the value.
    pub fn gradient_reverse(&self, x: &[f64], work: &mut Workspace, grad: &mut [f64]) -> f64 {
        eval::reverse(&self.program, x, work, grad)
    }

    /// Forward mode: each register carries its value and up to `chunk` tangents (`chunk` is
    /// clamped to `1..=8`), so a gradient of `n` inputs takes `ceil(n / chunk)` passes. Writes
    /// `grad` and returns the value and the number of passes.
    ///
    /// ```
    /// use gradscope::expr::{Expression, Workspace};
    /// let f = Expression::parse("x * y * z").unwrap();
    /// let mut grad = [0.0; 3];
    /// let (value, passes) = f.gradient_forward(&[2.0, 3.0, 4.0], 2, &mut Workspace::default(), &mut grad);
    /// assert_eq!((value, passes, grad), (24.0, 2, [12.0, 8.0, 6.0]));
    /// ```
    pub fn gradient_forward(
        &self,
        x: &[f64],
        chunk: usize,
        work: &mut Workspace,
        grad: &mut [f64],
    ) -> (f64, usize) {
        eval::forward(&self.program, x, chunk, work, grad)
    }
}

impl Expression {
    /// The value at `x` with register `k`'s value replaced by `replace(value)`: every later
    /// register that reads `k` sees the replacement. With `v ↦ v + h` it perturbs an
    /// intermediate (finite differences of the result with respect to it); with a dual number
    /// whose tangent is set there, it gives the result's derivative with respect to that
    /// intermediate, other paths held fixed: the adjoint a reverse sweep reports for it.
    ///
    /// ```
    /// use gradscope::ad::dual::Dual;
    /// use gradscope::expr::Expression;
    /// // r = x·y is register 2; f = r² + x, so df/dr = 2r = 12 at x = 2, y = 3.
    /// let f = Expression::parse("r = x * y\nr^2 + x").unwrap();
    /// let x = [Dual::new(2.0, 0.0), Dual::new(3.0, 0.0)];
    /// let d = f.eval_replacing(&x, 2, |r| Dual::new(r.re, 1.0));
    /// assert_eq!((d.re, d.eps), (38.0, 12.0));
    /// ```
    pub fn eval_replacing<S: Scalar>(&self, x: &[S], k: usize, replace: impl Fn(S) -> S) -> S {
        let mut regs: Vec<S> = Vec::with_capacity(self.code.len());
        for (i, &ins) in self.code.iter().enumerate() {
            let v = compile::step(ins, &regs, x);
            regs.push(if i == k { replace(v) } else { v });
        }
        regs.last()
            .copied()
            .unwrap_or_else(|| S::constant(f64::NAN))
    }
}

impl ScalarFn for Expression {
    fn dim(&self) -> usize {
        self.vars.len()
    }

    /// Evaluates the flat instruction list in order (never recursing), so on a tape every
    /// register, including each let value, is one node.
    fn eval<S: Scalar>(&self, x: &[S]) -> S {
        let mut regs: Vec<S> = Vec::with_capacity(self.code.len());
        for &ins in &self.code {
            let v = compile::step(ins, &regs, x);
            regs.push(v);
        }
        regs.last()
            .copied()
            .unwrap_or_else(|| S::constant(f64::NAN))
    }
}

impl FromStr for Expression {
    type Err = ExprError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expression::parse(s)
    }
}

#[cfg(test)]
mod tests;
