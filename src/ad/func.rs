//! The one table of elementary operations shared by the expression language and the tape: the
//! one-argument functions ([`Func`]: name, value, local derivative) and how every operation
//! reads when written out ([`Form`]: `x^2`, `1 - x`, `100·a`, `sin(x)`), for listings and
//! views of either op list.
//!
//! # What is shared and what cannot be
//! - The expression's `Instr::Call1` and the tape's [`Op::Call`](crate::ad::tape::Op::Call)
//!   both carry a [`Func`]; the expression's compiled evaluator and the tape's [`Var`] take its
//!   local derivative from [`Func::derivative`] (PyTorch's formulas, several written in terms
//!   of the result as autograd does), so the two reverse modes cannot drift apart.
//! - The binary operations keep a local partial each, on purpose: the compiled reverse sweep
//!   derives `d(a/b)/db` as `-(v/b)` from the stored quotient `v` (one division, no product),
//!   and the tape as `-a/(b·b)` at recording time (what PyTorch's `div` backward computes).
//!   The two round differently, so one shared formula would change one engine's gradients in
//!   the last bits (every bundled scenario's output would move). `c / x` is the same case.
//! - The op lists themselves stay two: the expression's instructions name registers and carry
//!   their constants, and its evaluator lowers them into fused forms (`(a - b)^2`, `a + b·c`)
//!   that a tape has no node for; the tape's ops are one word with no operands (edges and
//!   block records hold those) and include n-ary nodes and blocks (`sum`, `dot`, a dense
//!   layer) that the language has no syntax for. A node's constant is not part of its op: the
//!   sweep needs only its local partial, and a wider op would grow every recorded node; a
//!   plain (display) tape keeps its constants in a side table instead.
//!   [`Form`] is the common ground: both lists map their operations onto it to be written out.
//! - Forward-mode duals ([`crate::ad::dual`]) apply the same formulas to a generic `T` (a dual
//!   of duals gives second derivatives), so they cannot call this `f64` table; their tests
//!   check them against the same reference values.
//!
//! [`Var`]: crate::ad::tape::Var

use std::fmt;

use super::{Scalar, abs_derivative, relu_derivative, softplus_derivative};

/// The one-argument functions of the expression language, which are also the tape's unary
/// function nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Exp,
    Ln,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sigmoid,
    Softplus,
    Relu,
}

impl Func {
    pub const ALL: [Func; 11] = [
        Func::Exp,
        Func::Ln,
        Func::Sqrt,
        Func::Abs,
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Tanh,
        Func::Sigmoid,
        Func::Softplus,
        Func::Relu,
    ];

    /// The lower-case name, as the expression language spells it and the tape view shows it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Tanh => "tanh",
            Func::Sigmoid => "sigmoid",
            Func::Softplus => "softplus",
            Func::Relu => "relu",
        }
    }

    /// Applies the function to any [`Scalar`]; the fast f64 paths use the same f64 methods, so
    /// every evaluation agrees on values bit for bit.
    pub fn apply<S: Scalar>(self, a: S) -> S {
        match self {
            Func::Exp => a.exp(),
            Func::Ln => a.ln(),
            Func::Sqrt => a.sqrt(),
            Func::Abs => a.abs(),
            Func::Sin => a.sin(),
            Func::Cos => a.cos(),
            Func::Tan => a.tan(),
            Func::Tanh => a.tanh(),
            Func::Sigmoid => a.sigmoid(),
            Func::Softplus => a.softplus(),
            Func::Relu => a.relu(),
        }
    }

    /// `d f(a) / d a` given the argument `a` and the result `v = f(a)`, by PyTorch's formulas
    /// (several are written in terms of the result, as autograd does): `sqrt` is `+inf` at 0,
    /// `abs` and `relu` take `0` at 0, `softplus` is `1` above its threshold of 20.
    ///
    /// Always inlined: with a constant `self` (a tape's `x.tanh()`) the match folds away.
    ///
    /// ```
    /// use gradscope::ad::Func;
    /// let x = 0.3_f64;
    /// assert_eq!(Func::Tanh.derivative(x, x.tanh()), 1.0 - x.tanh() * x.tanh());
    /// assert_eq!(Func::Sqrt.derivative(0.0, 0.0), f64::INFINITY);
    /// ```
    #[inline(always)]
    #[must_use]
    pub fn derivative(self, a: f64, v: f64) -> f64 {
        match self {
            Func::Exp => v,
            Func::Ln => 1.0 / a,
            Func::Sqrt => 1.0 / (2.0 * v),
            Func::Abs => abs_derivative(a),
            Func::Sin => a.cos(),
            Func::Cos => -a.sin(),
            Func::Tan => 1.0 + v * v,
            Func::Tanh => 1.0 - v * v,
            Func::Sigmoid => (1.0 - v) * v,
            Func::Softplus => softplus_derivative(a),
            Func::Relu => relu_derivative(a),
        }
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an operation is written out: the notation both op lists (the expression's instructions
/// and the tape's nodes) map onto for listings and graph views. The operands are given as text
/// (input or let names, numbers, node labels); [`Form::describe`] writes the operation in the
/// expression language's own notation, with `·` for products.
///
/// ```
/// use gradscope::ad::{Form, Func};
/// assert_eq!(Form::Powi(2).describe(&["x"]), "x^2");
/// assert_eq!(Form::Sub.describe(&["1", "x"]), "1 - x");
/// assert_eq!(Form::Mul.describe(&["100", "a"]), "100·a");
/// assert_eq!(Form::Call(Func::Sin).describe(&["x + y"]), "sin(x + y)");
/// assert_eq!(Form::Mul.describe(&["x + y", "2"]), "(x + y)·2");
/// assert_eq!(Form::Sum.describe(&["a", "b", "c"]), "a + b + c");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    /// `a ^ b` with any exponent.
    Pow,
    /// `a ^ n` with a constant integer exponent.
    Powi(i32),
    Min,
    Max,
    Call(Func),
    /// `a + b + ...`, any number of terms.
    Sum,
    /// `a·b + c·d + ...`: the operands are the factors in pairs.
    Dot,
}

impl Form {
    /// The operation written out over `args` (too few operands read as `?`).
    #[must_use]
    pub fn describe(self, args: &[&str]) -> String {
        let arg = |k: usize| args.get(k).copied().unwrap_or("?");
        let op = |k: usize| operand(arg(k));
        match self {
            Form::Add => format!("{} + {}", arg(0), op(1)),
            Form::Sub => format!("{} - {}", arg(0), op(1)),
            Form::Mul => format!("{}·{}", op(0), op(1)),
            Form::Div => format!("{} / {}", op(0), op(1)),
            Form::Neg => format!("-{}", op(0)),
            Form::Pow => format!("{}^{}", op(0), op(1)),
            Form::Powi(n) => format!("{}^{n}", op(0)),
            Form::Min => format!("min({}, {})", arg(0), arg(1)),
            Form::Max => format!("max({}, {})", arg(0), arg(1)),
            Form::Call(f) => format!("{f}({})", arg(0)),
            Form::Sum if args.is_empty() => "0".to_string(),
            Form::Sum => args.join(" + "),
            Form::Dot if args.len() < 2 => "0".to_string(),
            Form::Dot => args
                .chunks_exact(2)
                .map(|p| format!("{}·{}", operand(p[0]), operand(p[1])))
                .collect::<Vec<_>>()
                .join(" + "),
        }
    }
}

/// `s` as an operand of an operator: in parentheses unless it is one name or number.
fn operand(s: &str) -> String {
    let atomic = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '%' | '#' | '[' | ']' | '?'));
    if atomic {
        s.to_string()
    } else {
        format!("({s})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_agree_with_the_scalar_impls_of_f64_and_finite_differences() {
        let x = 0.7_f64;
        for f in Func::ALL {
            let v = f.apply(x);
            let d = f.derivative(x, v);
            let h = 1e-6;
            let fd = (f.apply(x + h) - f.apply(x - h)) / (2.0 * h);
            assert!((d - fd).abs() < 1e-8, "{f}: {d} vs {fd}");
        }
        // PyTorch's conventions at the kinks.
        assert_eq!(Func::Abs.derivative(0.0, 0.0), 0.0);
        assert_eq!(Func::Relu.derivative(0.0, 0.0), 0.0);
        assert_eq!(Func::Softplus.derivative(25.0, 25.0), 1.0);
    }

    #[test]
    fn names_are_the_languages_and_unique() {
        let names: Vec<&str> = Func::ALL.iter().map(|f| f.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(Func::Softplus.to_string(), "softplus");
    }

    #[test]
    fn forms_write_operators_with_the_parentheses_they_need() {
        assert_eq!(Form::Add.describe(&["a", "b - c"]), "a + (b - c)");
        assert_eq!(Form::Sub.describe(&["a + b", "c"]), "a + b - c");
        assert_eq!(Form::Div.describe(&["1", "x·y"]), "1 / (x·y)");
        assert_eq!(Form::Neg.describe(&["x"]), "-x");
        assert_eq!(Form::Neg.describe(&["-2"]), "-(-2)");
        assert_eq!(Form::Pow.describe(&["x", "y + 1"]), "x^(y + 1)");
        assert_eq!(Form::Powi(-1).describe(&["%3"]), "%3^-1");
        assert_eq!(Form::Max.describe(&["a", "b"]), "max(a, b)");
        assert_eq!(Form::Dot.describe(&["w0", "x", "w1", "y"]), "w0·x + w1·y");
        assert_eq!(Form::Sum.describe(&[]), "0");
        assert_eq!(Form::Mul.describe(&["x"]), "x·?");
    }
}
