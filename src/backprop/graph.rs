//! The computation graph of an expression at a point: the expression evaluated once on a plain
//! tape (which records every operation, with its constants), one [`Node`] per recorded node,
//! named after the input or let line it computes (else `t<k>`, its position on the tape), with
//! the source text it computes, its value, its local partials and, after the tape's backward
//! sweep, its adjoint. Also what `gradscope grad --json` reports of it: the let-bound
//! intermediates and the tape rows.
//!
//! The expression's instructions and the tape's nodes correspond one to one, which is what
//! lets a node know its source text: the inputs are recorded first (register `Var(i)` is node
//! `i`), constants record nothing (a `Var` without a tape), and every other instruction records
//! exactly one node, in order (the compiler folds operations on constants alone, so each
//! operation has a node operand). [`Graph::new`] checks the count and falls back to tape names
//! without source text if it ever differs.

use std::ops::Range;

use serde::Serialize;

use super::exact;
use crate::ad::ScalarFn;
use crate::ad::tape::{self, NodeView, Operand, Tape};
use crate::expr::{Expression, Instr};

/// One node of the graph: a tape node with its name and the source text it computes.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The input's name, the let name of the register, or `t<k>` (`k` its tape index).
    pub name: String,
    /// Whether a let line names it.
    pub let_bound: bool,
    /// What the tape recorded: op, parents, local partials, operands, value, adjoint.
    pub view: NodeView,
    /// The byte range of the source text this node computes.
    pub span: Option<Range<usize>>,
}

impl Node {
    /// Whether this is an input (a leaf with nothing to propagate to).
    #[must_use]
    pub fn is_input(&self) -> bool {
        self.view.inputs.is_empty()
    }
}

/// An expression's computation graph at one point, after one forward pass and one backward
/// sweep on a plain tape.
#[derive(Debug, Clone)]
pub struct Graph {
    pub source: String,
    /// The inputs' names; nodes `0 .. vars.len()` are the inputs.
    pub vars: Vec<String>,
    pub point: Vec<f64>,
    pub nodes: Vec<Node>,
    /// The node whose value is the expression's, `None` for a constant expression.
    pub output: Option<usize>,
    /// The expression's value (also for a constant expression).
    pub value: f64,
    /// Every let name with its register's node (`None`: a constant, or unused), value and
    /// adjoint.
    pub intermediates: Vec<Intermediate>,
}

/// A let-bound name: its value and the total derivative of the result with respect to it
/// (what PyTorch's `retain_grad()` reports for a tensor).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intermediate {
    pub name: String,
    /// Its node on the tape; `None` when it is a constant or the result does not use it.
    pub node: Option<usize>,
    /// `None` when the result does not use it (its code was dropped, nothing computes it).
    pub value: Option<f64>,
    /// `d result / d name`: `0` when the result does not use it; `None` for a constant, which
    /// has no node to propagate to.
    pub adjoint: Option<f64>,
}

/// One tape node as `gradscope grad --json` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TapeRow {
    pub index: usize,
    pub name: String,
    /// The tape's op name (`input`, `mul_const`, `powi`, `tanh`, ...).
    pub op: String,
    /// The operation written out (`1 - x`, `r^2`, `100·t8`).
    pub expression: String,
    pub inputs: Vec<usize>,
    /// `d node / d input` per input.
    pub partials: Vec<f64>,
    /// The constant operands, in written order.
    pub constants: Vec<f64>,
    pub value: f64,
    pub adjoint: f64,
}

impl Graph {
    /// Evaluates `expr` at `point` (one value per [`Expression::vars`] entry) on a plain tape,
    /// sweeps backward once, and names every node.
    ///
    /// ```
    /// use gradscope::backprop::Graph;
    /// use gradscope::expr::Expression;
    /// let f = Expression::parse("r = y - x^2\n(1 - x)^2 + 100 * r^2").unwrap();
    /// // The inputs in order of first use: y, then x.
    /// let g = Graph::new(&f, &[2.0, 0.5]);
    /// let text: Vec<String> = (0..g.nodes.len()).map(|i| g.written(i)).collect();
    /// assert_eq!(text, ["input", "input", "x^2", "y - t2", "1 - x", "t4^2", "r^2", "100·t6", "t5 + t7"]);
    /// assert_eq!(g.nodes[8].name, "f");
    /// assert_eq!(g.nodes[3].name, "r");
    /// assert_eq!(g.intermediates[0].adjoint, Some(200.0 * 1.75)); // d/dr of 100 r^2
    /// ```
    #[must_use]
    pub fn new(expr: &Expression, point: &[f64]) -> Graph {
        let mut tape = Tape::new();
        let mut grad = vec![0.0; point.len()];
        let value = tape::gradient_with(&mut tape, point, &mut grad, |v| expr.eval(v));
        let views = tape.nodes();
        let vars = expr.vars().to_vec();
        let n = vars.len().min(point.len());
        let code = expr.instructions();
        let leaves = expr.leaves();
        // Register -> node, if the tape has one node per input and per operation.
        let matches = views.len() == n + code.len().saturating_sub(leaves);
        let node_of = |k: usize| -> Option<usize> {
            match code.get(k)? {
                Instr::Var(i) => Some(*i),
                Instr::Const(_) => None,
                _ if matches && k >= leaves => Some(n + k - leaves),
                _ => None,
            }
        };
        let mut names: Vec<Option<String>> = vec![None; views.len()];
        let mut spans: Vec<Option<Range<usize>>> = vec![None; views.len()];
        for (k, label) in expr.labels().iter().enumerate() {
            if let Some(i) = node_of(k) {
                if i >= n {
                    names[i].clone_from(label);
                }
                if spans[i].is_none() {
                    spans[i] = expr.span(k);
                }
            }
        }
        let nodes = views
            .into_iter()
            .enumerate()
            .map(|(i, view)| {
                let let_bound = names[i].is_some();
                let name = match (i < n, names[i].take()) {
                    (true, _) => vars[i].clone(),
                    (false, Some(label)) => label,
                    (false, None) => format!("t{i}"),
                };
                Node {
                    name,
                    let_bound,
                    view,
                    span: spans[i].clone(),
                }
            })
            .collect::<Vec<_>>();
        let output = match code.len().checked_sub(1).map(|k| (k, code[k])) {
            Some((_, Instr::Const(_))) | None => None,
            Some((k, _)) => node_of(k).or_else(|| nodes.len().checked_sub(1)),
        };
        // An unnamed result reads as `f` (as in `∂f/∂x`), unless an input or a let has it.
        let mut nodes = nodes;
        if let Some(o) = output {
            let taken = nodes.iter().any(|n| n.name == "f");
            if !taken && !nodes[o].let_bound && !nodes[o].is_input() {
                nodes[o].name = "f".to_owned();
            }
        }
        let intermediates = expr
            .bindings()
            .map(|(name, register)| {
                let node = register.and_then(node_of);
                let constant = register.and_then(|k| match code.get(k) {
                    Some(Instr::Const(c)) => Some(*c),
                    _ => None,
                });
                Intermediate {
                    name: name.to_owned(),
                    node,
                    value: node.map(|i| nodes[i].view.value).or(constant),
                    adjoint: match (register, node) {
                        (None, _) => Some(0.0),
                        (Some(_), Some(i)) => Some(nodes[i].view.adjoint),
                        (Some(_), None) => None,
                    },
                }
            })
            .collect();
        Graph {
            source: expr.source().to_owned(),
            vars,
            point: point.to_vec(),
            nodes,
            output,
            value,
            intermediates,
        }
    }

    /// Node `i`'s operation written out over its operands' names (`input` for an input).
    #[must_use]
    pub fn written(&self, i: usize) -> String {
        self.nodes[i]
            .view
            .describe(|p| self.name(p).to_owned(), exact)
    }

    /// Node `i`'s operation with its operands' values in place of their names, each written
    /// by `number`: `(-1.5)^2`, `1 - 0.5`.
    #[must_use]
    pub fn substituted(&self, i: usize, number: impl Fn(f64) -> String) -> String {
        self.nodes[i]
            .view
            .describe(|p| number(self.nodes[p].view.value), &number)
    }

    /// The name of node `i` (`?` past the end).
    #[must_use]
    pub fn name(&self, i: usize) -> &str {
        self.nodes.get(i).map_or("?", |n| n.name.as_str())
    }

    /// The gradient: the inputs' adjoints.
    #[must_use]
    pub fn gradient(&self) -> Vec<f64> {
        self.nodes[..self.vars.len().min(self.nodes.len())]
            .iter()
            .map(|n| n.view.adjoint)
            .collect()
    }

    /// The tape rows, in recording order.
    #[must_use]
    pub fn tape_rows(&self) -> Vec<TapeRow> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(index, node)| TapeRow {
                index,
                name: node.name.clone(),
                op: node.view.op.name().to_owned(),
                expression: self.written(index),
                inputs: node.view.inputs.clone(),
                partials: node.view.partials.clone(),
                constants: node
                    .view
                    .operands
                    .iter()
                    .filter_map(|o| match o {
                        Operand::Const(c) => Some(*c),
                        _ => None,
                    })
                    .collect(),
                value: node.view.value,
                adjoint: node.view.adjoint,
            })
            .collect()
    }

    /// The nodes node `i` reads, transitively, itself included: the sub-expression it
    /// computes, as a mask over the nodes.
    #[must_use]
    pub fn ancestors(&self, i: usize) -> Vec<bool> {
        let mut mark = vec![false; self.nodes.len()];
        let mut stack = vec![i];
        while let Some(k) = stack.pop() {
            if k < mark.len() && !mark[k] {
                mark[k] = true;
                stack.extend(&self.nodes[k].view.inputs);
            }
        }
        mark
    }

    /// The nodes that read node `i`, with the position of `i` among their inputs.
    pub fn consumers(&self, i: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.nodes.iter().enumerate().flat_map(move |(k, n)| {
            n.view
                .inputs
                .iter()
                .enumerate()
                .filter(move |(_, p)| **p == i)
                .map(move |(e, _)| (k, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::dual::Dual;

    const HAND: &str = "z1 = 0.5*w1 - w2 + b1\nh1 = tanh(z1)\nz2 = 2*w3 + h1*w4\nh2 = sigmoid(z2)\nout = v1*h1 + v2*h2 + c\n(out - 1)^2";

    fn hand() -> (Expression, Vec<f64>) {
        let e = Expression::parse(HAND).unwrap();
        let point: Vec<f64> = (0..e.vars().len())
            .map(|i| 0.3 * (i as f64) - 0.7)
            .collect();
        (e, point)
    }

    #[test]
    fn nodes_are_named_and_know_their_source() {
        let (e, point) = hand();
        let g = Graph::new(&e, &point);
        for node in &g.nodes[g.vars.len()..] {
            let span = node
                .span
                .clone()
                .expect("every operation has its source text");
            assert!(!HAND[span].trim().is_empty());
        }
        let named: Vec<&str> = g
            .nodes
            .iter()
            .filter(|n| n.let_bound)
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(named, ["z1", "h1", "z2", "h2", "out"]);
        let h1 = g.nodes.iter().position(|n| n.name == "h1").unwrap();
        assert_eq!(g.written(h1), "tanh(z1)");
        assert_eq!(&HAND[g.nodes[h1].span.clone().unwrap()], "tanh(z1)");
        let out = g.output.unwrap();
        assert_eq!(
            g.nodes[out].view.value.to_bits(),
            e.eval_f64(&point).to_bits()
        );
        assert_eq!(g.value.to_bits(), e.eval_f64(&point).to_bits());
        // The sub-expression of z1 is z1 and its three inputs.
        let z1 = g.nodes.iter().position(|n| n.name == "z1").unwrap();
        let names: Vec<&str> = g
            .ancestors(z1)
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(k, _)| g.name(k))
            .collect();
        assert!(names.contains(&"w1") && names.contains(&"b1") && !names.contains(&"w3"));
    }

    /// The intermediates' adjoints against two independent computations: forward mode with
    /// the tangent seeded at that intermediate (other paths held fixed), and central finite
    /// differences of the result with the intermediate perturbed.
    #[test]
    fn intermediate_adjoints_match_a_seeded_tangent_and_finite_differences() {
        let (e, point) = hand();
        let g = Graph::new(&e, &point);
        let registers: Vec<(&str, Option<usize>)> = e.bindings().collect();
        assert_eq!(registers.len(), g.intermediates.len());
        for (inter, (name, register)) in g.intermediates.iter().zip(registers) {
            assert_eq!(inter.name, name);
            let k = register.unwrap();
            let x: Vec<Dual<f64>> = point.iter().map(|&v| Dual::new(v, 0.0)).collect();
            let seeded = e.eval_replacing(&x, k, |v| Dual::new(v.re, 1.0)).eps;
            let h = 1e-6;
            let up = e.eval_replacing(&point, k, |v| v + h);
            let down = e.eval_replacing(&point, k, |v| v - h);
            let fd = (up - down) / (2.0 * h);
            let adjoint = inter.adjoint.unwrap();
            assert!(
                (adjoint - seeded).abs() <= 1e-12 * seeded.abs().max(1.0),
                "{name}: {adjoint} vs seeded {seeded}"
            );
            assert!(
                (adjoint - fd).abs() <= 1e-6 * fd.abs().max(1.0),
                "{name}: {adjoint} vs fd {fd}"
            );
        }
    }

    #[test]
    fn constants_unused_names_and_aliases_are_reported_honestly() {
        let e = Expression::parse("k = 3\na = x * y\nb = a\nunused = sin(x)\nk * a + b").unwrap();
        let g = Graph::new(&e, &[2.0, 5.0]);
        let by_name = |n: &str| g.intermediates.iter().find(|i| i.name == n).unwrap();
        assert_eq!(by_name("k").value, Some(3.0));
        assert_eq!(by_name("k").adjoint, None);
        assert_eq!(by_name("a").adjoint, Some(4.0)); // d(3a + a)/da
        assert_eq!(
            by_name("b"),
            &Intermediate {
                name: "b".into(),
                ..by_name("a").clone()
            }
        );
        assert_eq!(by_name("unused").value, None);
        assert_eq!(by_name("unused").adjoint, Some(0.0));
        let rows = g.tape_rows();
        let mul = rows.iter().find(|r| r.op == "mul_const").unwrap();
        assert_eq!(
            (mul.expression.as_str(), mul.constants.as_slice()),
            ("3·a", &[3.0][..])
        );
        let constant = Graph::new(&Expression::parse("2 + 3").unwrap(), &[]);
        assert_eq!((constant.output, constant.value), (None, 5.0));
    }
}
