//! What a recorded tape node computes: the [`Op`] of each node and its name.

/// What a recorded node computes. `Copy` and one word, so a node stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// An independent variable ([`Tape::var`]); no edges.
    Input,
    /// A constant recorded on purpose by [`Tape::constant`]; arithmetic never records one.
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
    /// `min(a, b)`; one edge when either side is a constant.
    Min,
    /// `max(a, b)`; one edge when either side is a constant.
    Max,
    /// Sum of many terms: one edge per non-constant term (per node a term depends on, for a
    /// fused term or a [`Scalar::sum_windows`] sum over inputs that are not consecutive nodes).
    Sum,
    /// `sum_i a[i] * b[i]`: one edge per non-constant factor.
    Dot,
    /// `sum_i a[i] * c[i]` with constant `c`: one edge per non-constant `a[i]`.
    DotConst,
    /// A chain of unary operations fused on a [`Tape::fused`] tape, recorded as one node with
    /// one edge (the chain's derivative) where a consumer needs its value on a node.
    Fused,
    /// One output of a [`Scalar::affine_batch`] layer block (the block's index): no edges;
    /// the sweep does the whole layer's backward when it reaches the block's last output.
    AffineOut(u32),
    /// A [`Scalar::sum_windows`] sum over consecutive input nodes (the record's index): no
    /// edges, the record keeps each term's partials.
    WindowSum(u32),
    /// One row of a [`Scalar::matvec`] block (the block's index): no edges, the sweep reads
    /// the row's weights and the block's inputs from the nodes.
    MatVecRow(u32),
    /// One row of a [`Scalar::matvec_const`] block (the block's index): no edges.
    MatVecConstRow(u32),
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
            Op::Exp => "exp",
            Op::Ln => "ln",
            Op::Sqrt => "sqrt",
            Op::Abs => "abs",
            Op::Sin => "sin",
            Op::Cos => "cos",
            Op::Tan => "tan",
            Op::Tanh => "tanh",
            Op::Sigmoid => "sigmoid",
            Op::Softplus => "softplus",
            Op::Relu => "relu",
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
        }
    }
}
