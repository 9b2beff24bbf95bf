//! What a recorded tape node computes: the [`Op`] of each node, its name, and how it is
//! written out. Its one-argument functions are the [`Func`]s of the table the expression
//! language shares, and both op lists write themselves out through the same [`Form`] (see
//! [`crate::ad::func`] for what the two share and why the rest stays separate).

use crate::ad::{Form, Func};

/// What a recorded node computes. `Copy` and one word, so a node stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// An independent variable ([`Tape::var`](super::Tape::var)); no edges.
    Input,
    /// A constant recorded on purpose by [`Tape::constant`](super::Tape::constant); arithmetic never records one.
    Const,
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    /// `x + c` or `c + x`.
    AddConst,
    /// `x - c`.
    SubConst,
    /// `c - x`.
    ConstSub,
    /// `x * c` or `c * x`.
    MulConst,
    /// `x / c`.
    DivConst,
    /// `c / x`.
    ConstDiv,
    Powi(i32),
    /// `a ^ b`; one edge when either side is a constant.
    Powf,
    /// A one-argument function (`exp`, `tanh`, ...), from the table the expression language
    /// shares.
    Call(Func),
    /// `min(a, b)`; one edge when either side is a constant.
    Min,
    /// `max(a, b)`; one edge when either side is a constant.
    Max,
    /// Sum of many terms: one edge per non-constant term (per node a term depends on, for a
    /// fused term or a [`Scalar::sum_windows`](crate::ad::Scalar::sum_windows) sum over inputs that are not consecutive nodes).
    Sum,
    /// `sum_i a[i] * b[i]`: one edge per non-constant factor.
    Dot,
    /// `sum_i a[i] * c[i]` with constant `c`: one edge per non-constant `a[i]`.
    DotConst,
    /// A chain of unary operations fused on a [`Tape::fused`](super::Tape::fused) tape, recorded as one node with
    /// one edge (the chain's derivative) where a consumer needs its value on a node.
    Fused,
    /// One output of a [`Scalar::affine_batch`](crate::ad::Scalar::affine_batch) layer block (the block's index): no edges;
    /// the sweep does the whole layer's backward when it reaches the block's last output.
    AffineOut(u32),
    /// A [`Scalar::sum_windows`](crate::ad::Scalar::sum_windows) sum over consecutive input nodes (the record's index): no
    /// edges, the record keeps each term's partials.
    WindowSum(u32),
    /// One row of a [`Scalar::matvec`](crate::ad::Scalar::matvec) block (the block's index): no edges, the sweep reads
    /// the row's weights and the block's inputs from the nodes.
    MatVecRow(u32),
    /// One row of a [`Scalar::matvec_const`](crate::ad::Scalar::matvec_const) block (the block's index): no edges.
    MatVecConstRow(u32),
    /// A whole dense layer of a [`Scalar::dense_stack`](crate::ad::Scalar::dense_stack) on a
    /// fused tape (the layer's record): no edges; its outputs and their derivatives are
    /// vectors beside the nodes, and the sweep does the layer's backward here.
    Dense(u32),
    /// One output of the last layer of a [`Scalar::dense_stack`](crate::ad::Scalar::dense_stack)
    /// (the layer's record), as a node the loss can use: no edges; the layer's node gathers
    /// its adjoint.
    DenseOut(u32),
}

impl Op {
    /// The lower-case name shown in the tape view.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Const => "const",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Neg => "neg",
            Op::AddConst => "add_const",
            Op::SubConst => "sub_const",
            Op::ConstSub => "const_sub",
            Op::MulConst => "mul_const",
            Op::DivConst => "div_const",
            Op::ConstDiv => "const_div",
            Op::Powi(_) => "powi",
            Op::Powf => "powf",
            Op::Call(f) => f.name(),
            Op::Min => "min",
            Op::Max => "max",
            Op::Sum => "sum",
            Op::Dot => "dot",
            Op::DotConst => "dot_const",
            Op::Fused => "fused",
            Op::AffineOut(_) => "affine",
            Op::WindowSum(_) => "window_sum",
            Op::MatVecRow(_) => "matvec_row",
            Op::MatVecConstRow(_) => "matvec_const_row",
            Op::Dense(_) => "dense",
            Op::DenseOut(_) => "dense_out",
        }
    }

    /// How this node's operation is written out, or `None` for a leaf, a fused chain or a
    /// block row. A constant operand (`x + c`, `c·x`) is not part of the op: the sweep needs
    /// only its local partial; a plain tape keeps the constants on the side for display
    /// ([`NodeView::describe`](super::NodeView::describe)).
    #[must_use]
    pub fn form(&self) -> Option<Form> {
        Some(match *self {
            Op::Add | Op::AddConst => Form::Add,
            Op::Sub | Op::SubConst | Op::ConstSub => Form::Sub,
            Op::Mul | Op::MulConst => Form::Mul,
            Op::Div | Op::DivConst | Op::ConstDiv => Form::Div,
            Op::Neg => Form::Neg,
            Op::Powi(n) => Form::Powi(n),
            Op::Powf => Form::Pow,
            Op::Min => Form::Min,
            Op::Max => Form::Max,
            Op::Call(f) => Form::Call(f),
            Op::Sum => Form::Sum,
            Op::Dot => Form::Dot,
            Op::Input
            | Op::Const
            | Op::DotConst
            | Op::Fused
            | Op::AffineOut(_)
            | Op::WindowSum(_)
            | Op::MatVecRow(_)
            | Op::MatVecConstRow(_)
            | Op::Dense(_)
            | Op::DenseOut(_) => return None,
        })
    }

    /// The node written out over its parents' labels (a [`NodeView`](super::NodeView)'s
    /// `inputs`, named as the caller likes), with `c` for a constant operand; an op with no
    /// [`form`](Op::form) is its [`name`](Op::name) applied to the parents. A plain tape's
    /// nodes write their constants in with [`NodeView::describe`](super::NodeView::describe).
    ///
    /// ```
    /// use gradscope::ad::tape::Op;
    /// assert_eq!(Op::Powi(2).describe(&["x"]), "x^2");
    /// assert_eq!(Op::ConstSub.describe(&["x"]), "c - x");
    /// assert_eq!(Op::MulConst.describe(&["a"]), "c·a");
    /// assert_eq!(Op::Mul.describe(&["x", "y + z"]), "x·(y + z)");
    /// assert_eq!(Op::Fused.describe(&["x", "y"]), "fused(x, y)");
    /// ```
    #[must_use]
    pub fn describe(&self, parents: &[&str]) -> String {
        let first = parents.first().copied().unwrap_or("?");
        match (self, self.form()) {
            (Op::AddConst | Op::SubConst | Op::DivConst, Some(form)) => {
                form.describe(&[first, "c"])
            }
            (Op::ConstSub | Op::ConstDiv | Op::MulConst, Some(form)) => {
                form.describe(&["c", first])
            }
            (_, Some(form)) => form.describe(parents),
            (_, None) if parents.is_empty() => self.name().to_string(),
            (_, None) => format!("{}({})", self.name(), parents.join(", ")),
        }
    }
}
