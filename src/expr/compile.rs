//! The compiled form: a flat SSA instruction list (a Wengert list) and the builder the parser
//! emits into, which folds constants, shares identical subexpressions and drops dead code.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

pub use crate::ad::Func;
use crate::ad::{Form, Scalar};

/// A register: the index of the instruction that defines it.
pub type Reg = u32;

/// One instruction; its result is the register numbered by its position in the list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instr {
    Const(f64),
    /// Input number `i` (in the order of [`super::Expression::vars`]).
    Var(usize),
    Add(Reg, Reg),
    Sub(Reg, Reg),
    Mul(Reg, Reg),
    Div(Reg, Reg),
    Neg(Reg),
    /// A power with a constant integer exponent: cheaper than `Pow`, though not exact: binary
    /// exponentiation rounds once per multiply, so it can differ from `powf` in the last bits.
    Powi(Reg, i32),
    Pow(Reg, Reg),
    Min(Reg, Reg),
    Max(Reg, Reg),
    Call1(Func, Reg),
}

impl Instr {
    /// The registers this instruction reads.
    #[must_use]
    pub fn operands(&self) -> (Option<Reg>, Option<Reg>) {
        match *self {
            Instr::Const(_) | Instr::Var(_) => (None, None),
            Instr::Neg(a) | Instr::Powi(a, _) | Instr::Call1(_, a) => (Some(a), None),
            Instr::Add(a, b)
            | Instr::Sub(a, b)
            | Instr::Mul(a, b)
            | Instr::Div(a, b)
            | Instr::Pow(a, b)
            | Instr::Min(a, b)
            | Instr::Max(a, b) => (Some(a), Some(b)),
        }
    }

    /// How this operation is written out (see [`Form`]), or `None` for a leaf.
    #[must_use]
    pub fn form(&self) -> Option<Form> {
        Some(match *self {
            Instr::Const(_) | Instr::Var(_) => return None,
            Instr::Add(..) => Form::Add,
            Instr::Sub(..) => Form::Sub,
            Instr::Mul(..) => Form::Mul,
            Instr::Div(..) => Form::Div,
            Instr::Neg(_) => Form::Neg,
            Instr::Powi(_, n) => Form::Powi(n),
            Instr::Pow(..) => Form::Pow,
            Instr::Min(..) => Form::Min,
            Instr::Max(..) => Form::Max,
            Instr::Call1(f, _) => Form::Call(f),
        })
    }

    fn map_operands(self, f: impl Fn(Reg) -> Reg) -> Instr {
        match self {
            Instr::Const(_) | Instr::Var(_) => self,
            Instr::Neg(a) => Instr::Neg(f(a)),
            Instr::Powi(a, n) => Instr::Powi(f(a), n),
            Instr::Call1(g, a) => Instr::Call1(g, f(a)),
            Instr::Add(a, b) => Instr::Add(f(a), f(b)),
            Instr::Sub(a, b) => Instr::Sub(f(a), f(b)),
            Instr::Mul(a, b) => Instr::Mul(f(a), f(b)),
            Instr::Div(a, b) => Instr::Div(f(a), f(b)),
            Instr::Pow(a, b) => Instr::Pow(f(a), f(b)),
            Instr::Min(a, b) => Instr::Min(f(a), f(b)),
            Instr::Max(a, b) => Instr::Max(f(a), f(b)),
        }
    }

    /// A hashable identity for sharing identical instructions. `Add` and `Mul` are commutative
    /// bit for bit in IEEE arithmetic, so their operands are ordered; `min`/`max` are not
    /// (the sign of a zero tie depends on the order), so theirs are kept.
    fn key(&self) -> (u8, u64, u64) {
        let r = u64::from;
        match *self {
            Instr::Const(c) => (0, c.to_bits(), 0),
            Instr::Var(i) => (1, i as u64, 0),
            Instr::Add(a, b) => (2, r(a.min(b)), r(a.max(b))),
            Instr::Sub(a, b) => (3, r(a), r(b)),
            Instr::Mul(a, b) => (4, r(a.min(b)), r(a.max(b))),
            Instr::Div(a, b) => (5, r(a), r(b)),
            Instr::Neg(a) => (6, r(a), 0),
            Instr::Powi(a, n) => (7, r(a), i64::from(n) as u64),
            Instr::Pow(a, b) => (8, r(a), r(b)),
            Instr::Min(a, b) => (9, r(a), r(b)),
            Instr::Max(a, b) => (10, r(a), r(b)),
            Instr::Call1(g, a) => (11, r(a), g as u64),
        }
    }
}

impl fmt::Display for Instr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Instr::Const(c) => write!(f, "const {c}"),
            Instr::Var(i) => write!(f, "input {i}"),
            Instr::Add(a, b) => write!(f, "add %{a}, %{b}"),
            Instr::Sub(a, b) => write!(f, "sub %{a}, %{b}"),
            Instr::Mul(a, b) => write!(f, "mul %{a}, %{b}"),
            Instr::Div(a, b) => write!(f, "div %{a}, %{b}"),
            Instr::Neg(a) => write!(f, "neg %{a}"),
            Instr::Powi(a, n) => write!(f, "powi %{a}, {n}"),
            Instr::Pow(a, b) => write!(f, "pow %{a}, %{b}"),
            Instr::Min(a, b) => write!(f, "min %{a}, %{b}"),
            Instr::Max(a, b) => write!(f, "max %{a}, %{b}"),
            Instr::Call1(g, a) => write!(f, "{} %{a}", g.name()),
        }
    }
}

/// Evaluates one instruction given a register file of already computed values.
#[inline]
pub(crate) fn step<S: Scalar>(ins: Instr, regs: &[S], x: &[S]) -> S {
    let r = |k: Reg| regs[k as usize];
    match ins {
        Instr::Const(c) => S::constant(c),
        Instr::Var(i) => x[i],
        Instr::Add(a, b) => r(a) + r(b),
        Instr::Sub(a, b) => r(a) - r(b),
        Instr::Mul(a, b) => r(a) * r(b),
        Instr::Div(a, b) => r(a) / r(b),
        Instr::Neg(a) => -r(a),
        Instr::Powi(a, n) => r(a).powi(n),
        Instr::Pow(a, b) => r(a).powf(r(b)),
        Instr::Min(a, b) => r(a).min(r(b)),
        Instr::Max(a, b) => r(a).max(r(b)),
        Instr::Call1(g, a) => g.apply(r(a)),
    }
}

/// Collects instructions during parsing. Every emitted instruction whose operands are all
/// constants is folded; an instruction identical to an earlier one returns the earlier register.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    code: Vec<Instr>,
    shared: HashMap<(u8, u64, u64), Reg>,
    labels: Vec<Option<String>>,
    /// Per instruction: the source text it computes (its first occurrence's, when shared).
    spans: Vec<Range<usize>>,
    /// Every let name with its register, in the order the let lines come.
    bindings: Vec<(String, Reg)>,
}

/// What [`Builder::finish`] returns: the live code and, per register, its let name and span;
/// the number of leaves; and every let name with its register (`None` when the output does
/// not depend on it, so its code was dropped).
pub(crate) struct Finished {
    pub code: Vec<Instr>,
    pub labels: Vec<Option<String>>,
    pub spans: Vec<Range<usize>>,
    pub leaves: usize,
    pub bindings: Vec<(String, Option<Reg>)>,
}

impl Builder {
    pub fn constant_value(&self, r: Reg) -> Option<f64> {
        match self.code[r as usize] {
            Instr::Const(c) => Some(c),
            _ => None,
        }
    }

    /// [`emit_at`](Self::emit_at) with no source text.
    #[cfg(test)]
    pub fn emit(&mut self, ins: Instr) -> Reg {
        self.emit_at(ins, 0..0)
    }

    /// Emits `ins`, which computes the source text `span`; returns its register.
    pub fn emit_at(&mut self, ins: Instr, span: Range<usize>) -> Reg {
        let ins = self.fold(ins);
        let key = ins.key();
        if let Some(&r) = self.shared.get(&key) {
            return r;
        }
        let r = Reg::try_from(self.code.len()).unwrap_or(Reg::MAX);
        self.code.push(ins);
        self.labels.push(None);
        self.spans.push(span);
        self.shared.insert(key, r);
        r
    }

    fn fold(&self, ins: Instr) -> Instr {
        let (a, b) = ins.operands();
        let Some(a) = a else { return ins };
        let (Some(va), vb) = (self.constant_value(a), b.map(|b| self.constant_value(b))) else {
            return ins;
        };
        let vb = match vb {
            None => 0.0,
            Some(Some(v)) => v,
            Some(None) => return ins,
        };
        // Same f64 arithmetic as run time, on a two-register file.
        let local = ins.map_operands(|r| Reg::from(r != a));
        Instr::Const(step::<f64>(local, &[va, vb], &[]))
    }

    /// Names a register after the let line that defined it (first name wins), for listings,
    /// and remembers the binding.
    pub fn label(&mut self, r: Reg, name: &str) {
        let slot = &mut self.labels[r as usize];
        if slot.is_none() {
            *slot = Some(name.to_string());
        }
        self.bindings.push((name.to_string(), r));
    }

    /// Drops everything the output does not depend on and renumbers: the leaves first (inputs
    /// by index, then constants), then the operations in order. So the output is the last
    /// register, every instruction contributes to it, and the fast paths can load the leaves
    /// without dispatching on them.
    pub fn finish(self, out: Reg) -> Finished {
        let out = out as usize;
        let mut live = vec![false; out + 1];
        live[out] = true;
        for k in (0..=out).rev() {
            if live[k] {
                let (a, b) = self.code[k].operands();
                for r in [a, b].into_iter().flatten() {
                    live[r as usize] = true;
                }
            }
        }
        let code_in = &self.code;
        let live_where = |pred: fn(&Instr) -> bool| {
            (0..=out)
                .filter(|&k| live[k] && pred(&code_in[k]))
                .collect::<Vec<_>>()
        };
        let mut vars = live_where(|i| matches!(i, Instr::Var(_)));
        vars.sort_by_key(|&k| match code_in[k] {
            Instr::Var(i) => i,
            _ => 0,
        });
        let consts = live_where(|i| matches!(i, Instr::Const(_)));
        let ops = live_where(|i| !matches!(i, Instr::Var(_) | Instr::Const(_)));
        let leaves = vars.len() + consts.len();
        let mut renumber = vec![0; out + 1];
        let mut code = Vec::new();
        let mut labels = Vec::new();
        let mut spans = Vec::new();
        for k in vars.into_iter().chain(consts).chain(ops) {
            renumber[k] = Reg::try_from(code.len()).unwrap_or(Reg::MAX);
            code.push(self.code[k].map_operands(|r| renumber[r as usize]));
            labels.push(self.labels[k].clone());
            spans.push(self.spans[k].clone());
        }
        let bindings = self
            .bindings
            .into_iter()
            .map(|(name, r)| {
                let r = r as usize;
                (name, (r <= out && live[r]).then(|| renumber[r]))
            })
            .collect();
        Finished {
            code,
            labels,
            spans,
            leaves,
            bindings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_shares_and_drops_dead_code() {
        let mut b = Builder::default();
        let two = b.emit(Instr::Const(2.0));
        let three = b.emit(Instr::Const(3.0));
        let six = b.emit(Instr::Mul(two, three));
        assert_eq!(b.constant_value(six), Some(6.0));
        let x = b.emit(Instr::Var(0));
        let x_again = b.emit(Instr::Var(0));
        assert_eq!(x, x_again);
        let p = b.emit(Instr::Mul(x, six));
        let q = b.emit(Instr::Mul(six, x));
        assert_eq!(p, q);
        let _dead = b.emit(Instr::Call1(Func::Sin, x));
        let out = b.emit(Instr::Add(p, x));
        let Finished { code, leaves, .. } = b.finish(out);
        assert_eq!(
            code,
            vec![
                Instr::Var(0),
                Instr::Const(6.0),
                Instr::Mul(0, 1),
                Instr::Add(2, 0)
            ]
        );
        assert_eq!(leaves, 2);
    }

    #[test]
    fn min_max_operand_order_is_kept() {
        let mut b = Builder::default();
        let x = b.emit(Instr::Var(0));
        let y = b.emit(Instr::Var(1));
        assert_ne!(b.emit(Instr::Max(x, y)), b.emit(Instr::Max(y, x)));
    }
}
