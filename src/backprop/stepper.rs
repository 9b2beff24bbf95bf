//! The stepper: the computation of a [`Graph`] replayed one step at a time, each step with a
//! caption that shows the arithmetic with its numbers.
//!
//! - [`Mode::Reverse`] (back-propagation): the forward pass (one node's value a step, in
//!   recording order), the seed `ā[f] = 1`, then the backward sweep, one edge a step, in the
//!   order the tape's sweep takes them (nodes from the output down, each node's edges in
//!   order): `ā[x] += ā[t3] · ∂t3/∂x = 1.56 × (-2.4) = -3.744  (ā[x] is now -4.12)`. Each step
//!   does the sweep's own `f64` operation (`adj[p] += adj[i] * partial`), so the adjoints at the
//!   end are the tape's bit for bit, and the engines' gradient.
//! - [`Mode::Forward`]: forward mode with the tangent seeded on one input: each node's value
//!   and tangent a step, `ṫ[t3] = ∂t3/∂x·ṫ[x] = 2 × 1 = 2`. One pass gives one partial
//!   derivative; the stepper's summary says how many passes the whole gradient takes.

use std::fmt::Write as _;

use super::graph::Graph;
use super::short;

/// Which computation the stepper replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The forward pass, then the backward sweep (reverse mode, back-propagation).
    Reverse,
    /// Forward mode with the tangent of input `seed` set to 1 (the others 0).
    Forward { seed: usize },
}

/// One step of the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Node `node`'s value is computed (and in forward mode its tangent).
    Evaluate { node: usize },
    /// The output's adjoint is seeded with 1.
    Seed { node: usize },
    /// `ā[p] += ā[node] · ∂node/∂p` along edge `edge` of `node` (`p` its `edge`-th input).
    Push { node: usize, edge: usize },
}

impl Step {
    /// The node this step computes at (the one to highlight).
    #[must_use]
    pub fn node(self) -> usize {
        match self {
            Step::Evaluate { node } | Step::Seed { node } | Step::Push { node, .. } => node,
        }
    }
}

/// What is known after some steps: which values, and the adjoints or tangents so far.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub known: Vec<bool>,
    /// Reverse mode: every adjoint once the output is seeded (all start at 0, as the sweep's
    /// buffer does), `None` before.
    pub adjoint: Vec<Option<f64>>,
    /// Forward mode: each node's tangent once computed (inputs from the start).
    pub tangent: Vec<Option<f64>>,
}

/// The symbols captions are written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notation {
    pub adjoint: &'static str,
    pub tangent: &'static str,
    pub partial: &'static str,
    pub times: &'static str,
    pub dot: &'static str,
    pub nabla: &'static str,
}

impl Notation {
    pub const UNICODE: Notation = Notation {
        adjoint: "ā",
        tangent: "ṫ",
        partial: "∂",
        times: "×",
        dot: "·",
        nabla: "∇",
    };
    /// For terminals without Unicode: `adj[x] += adj[t3] * dt3/dx = ...`.
    pub const ASCII: Notation = Notation {
        adjoint: "adj",
        tangent: "tan",
        partial: "d",
        times: "*",
        dot: "*",
        nabla: "grad ",
    };
}

/// A graph and a position in its replay.
#[derive(Debug, Clone)]
pub struct Stepper {
    graph: Graph,
    mode: Mode,
    steps: Vec<Step>,
    position: usize,
}

impl Stepper {
    /// A stepper at the start (inputs known, nothing computed).
    ///
    /// ```
    /// use gradscope::backprop::{Graph, Mode, Stepper};
    /// use gradscope::expr::Expression;
    /// let f = Expression::parse("x * y + x").unwrap();
    /// let mut s = Stepper::new(Graph::new(&f, &[2.0, 3.0]), Mode::Reverse);
    /// s.to_end();
    /// let grad: Vec<f64> = s.state().adjoint[..2].iter().map(|a| a.unwrap()).collect();
    /// assert_eq!(grad, [4.0, 2.0]);
    /// ```
    #[must_use]
    pub fn new(graph: Graph, mode: Mode) -> Stepper {
        let steps = steps(&graph, mode);
        Stepper {
            graph,
            mode,
            steps,
            position: 0,
        }
    }

    #[must_use]
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Steps taken so far.
    #[must_use]
    pub fn position(&self) -> usize {
        self.position
    }

    /// Every step of the replay.
    #[must_use]
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The step just taken, if any.
    #[must_use]
    pub fn current(&self) -> Option<Step> {
        self.position.checked_sub(1).map(|k| self.steps[k])
    }

    #[must_use]
    pub fn at_end(&self) -> bool {
        self.position == self.steps.len()
    }

    /// Moves `k` steps forward (clamped at the end).
    pub fn forward(&mut self, k: usize) {
        self.position = (self.position + k).min(self.steps.len());
    }

    /// Moves `k` steps back (clamped at the start).
    pub fn back(&mut self, k: usize) {
        self.position = self.position.saturating_sub(k);
    }

    pub fn to_end(&mut self) {
        self.position = self.steps.len();
    }

    pub fn to_start(&mut self) {
        self.position = 0;
    }

    /// Replaces the mode (and goes back to the start).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        self.steps = steps(&self.graph, mode);
        self.position = 0;
    }

    /// What is known at the current position.
    #[must_use]
    pub fn state(&self) -> State {
        self.state_at(self.position)
    }

    /// What is known after the first `position` steps, by replaying them.
    #[must_use]
    pub fn state_at(&self, position: usize) -> State {
        let g = &self.graph;
        let n = g.nodes.len();
        let mut state = State {
            known: g.nodes.iter().map(super::graph::Node::is_input).collect(),
            adjoint: vec![None; n],
            tangent: vec![None; n],
        };
        if let Mode::Forward { seed } = self.mode {
            for (i, node) in g.nodes.iter().enumerate() {
                if node.is_input() {
                    state.tangent[i] = Some(if i == seed { 1.0 } else { 0.0 });
                }
            }
        }
        for &step in &self.steps[..position.min(self.steps.len())] {
            apply(g, step, &mut state);
        }
        state
    }

    /// The caption of the current position: the step just taken with its numbers, or at the
    /// start what is given.
    #[must_use]
    pub fn caption(&self, notation: Notation, number: &dyn Fn(f64) -> String) -> String {
        match self.position {
            0 => self.start_caption(notation, number),
            p => self.step_caption(p, notation, number),
        }
    }

    /// The caption of the `p`-th step (1-based), read with the state after it.
    #[must_use]
    pub fn step_caption(&self, p: usize, n: Notation, number: &dyn Fn(f64) -> String) -> String {
        let Some(&step) = p.checked_sub(1).and_then(|k| self.steps.get(k)) else {
            return String::new();
        };
        let g = &self.graph;
        let state = self.state_at(p);
        let factor = |v: f64| {
            let s = number(v);
            if s.starts_with('-') {
                format!("({s})")
            } else {
                s
            }
        };
        match step {
            Step::Evaluate { node } => {
                let view = &g.nodes[node].view;
                let name = g.name(node);
                let mut s = format!(
                    "{name} = {} = {} = {}",
                    g.written(node).replace('·', n.dot),
                    g.substituted(node, number).replace('·', n.dot),
                    number(view.value)
                );
                if let Mode::Forward { .. } = self.mode {
                    let terms: Vec<(usize, f64, f64)> = view
                        .inputs
                        .iter()
                        .zip(&view.partials)
                        .map(|(&p, &w)| (p, w, state.tangent[p].unwrap_or(0.0)))
                        .collect();
                    let symbolic: Vec<String> = terms
                        .iter()
                        .map(|(p, _, _)| {
                            format!(
                                "{d}{name}/{d}{q}{dot}{t}[{q}]",
                                d = n.partial,
                                q = g.name(*p),
                                dot = n.dot,
                                t = n.tangent
                            )
                        })
                        .collect();
                    let numeric: Vec<String> = terms
                        .iter()
                        .map(|(_, w, t)| format!("{} {} {}", factor(*w), n.times, factor(*t)))
                        .collect();
                    let tangent = state.tangent[node].unwrap_or(f64::NAN);
                    let _ = write!(
                        s,
                        ";  {t}[{name}] = {} = {} = {}",
                        symbolic.join(" + "),
                        numeric.join(" + "),
                        number(tangent),
                        t = n.tangent
                    );
                }
                s
            }
            Step::Seed { node } => format!(
                "{a}[{f}] = 1  (seed: {d}{f}/{d}{f} = 1; every other {a} starts at 0)",
                a = n.adjoint,
                f = g.name(node),
                d = n.partial
            ),
            Step::Push { node, edge } => {
                let view = &g.nodes[node].view;
                let parent = view.inputs[edge];
                let (a, w) = (state.adjoint[node].unwrap_or(0.0), view.partials[edge]);
                let (child, p) = (g.name(node), g.name(parent));
                format!(
                    "{adj}[{p}] += {adj}[{child}] {dot} {d}{child}/{d}{p} = {} {times} {} = {}  \
                     ({adj}[{p}] is now {})",
                    factor(a),
                    factor(w),
                    number(a * w),
                    number(state.adjoint[parent].unwrap_or(0.0)),
                    adj = n.adjoint,
                    dot = n.dot,
                    d = n.partial,
                    times = n.times
                )
            }
        }
    }

    fn start_caption(&self, n: Notation, number: &dyn Fn(f64) -> String) -> String {
        let g = &self.graph;
        let inputs: Vec<String> = g
            .vars
            .iter()
            .zip(&g.point)
            .map(|(v, x)| format!("{v} = {}", number(*x)))
            .collect();
        let mut s = format!("inputs: {}", inputs.join(", "));
        if let Mode::Forward { seed } = self.mode {
            let _ = write!(
                s,
                "; tangents seeded: {t}[{}] = 1, every other input's {t} = 0",
                g.vars.get(seed).map_or("?", String::as_str),
                t = n.tangent
            );
        }
        s
    }

    /// What the whole replay computed, and what it cost: the gradient from one backward sweep,
    /// or one partial derivative from one forward pass and the passes a whole gradient needs
    /// with `chunk` tangents per pass.
    #[must_use]
    pub fn summary(&self, n: Notation, number: &dyn Fn(f64) -> String, chunk: usize) -> String {
        let g = &self.graph;
        let state = self.state_at(self.steps.len());
        let inputs = g.vars.len();
        let f = g.output.map_or("f", |o| g.name(o));
        match self.mode {
            Mode::Reverse => {
                let names: Vec<String> = g
                    .vars
                    .iter()
                    .map(|v| format!("{}[{v}]", n.adjoint))
                    .collect();
                let values: Vec<String> = (0..inputs)
                    .map(|i| number(state.adjoint.get(i).copied().flatten().unwrap_or(0.0)))
                    .collect();
                format!(
                    "{}{f} = ({}) = ({}): all {inputs} partial derivatives from one forward pass \
                     and one backward sweep",
                    n.nabla,
                    names.join(", "),
                    values.join(", ")
                )
            }
            Mode::Forward { seed } => {
                let x = g.vars.get(seed).map_or("?", String::as_str);
                let t = g.output.and_then(|o| state.tangent[o]).unwrap_or(0.0);
                let chunk = chunk.max(1);
                format!(
                    "{tan}[{f}] = {d}{f}/{d}{x} = {}: one forward pass gives one partial derivative; \
                     the whole gradient of {inputs} inputs takes {inputs} passes (one per input), \
                     or {} with {chunk} tangents per pass, where reverse mode takes one backward \
                     sweep",
                    number(t),
                    inputs.div_ceil(chunk),
                    tan = n.tangent,
                    d = n.partial
                )
            }
        }
    }

    /// Every caption of the replay, one line a step (what `gradscope grad --trace` prints),
    /// then the summary.
    #[must_use]
    pub fn trace(&self, n: Notation, number: &dyn Fn(f64) -> String, chunk: usize) -> Vec<String> {
        let mut out = vec![self.start_caption(n, number)];
        out.extend((1..=self.steps.len()).map(|p| self.step_caption(p, n, number)));
        out.push(self.summary(n, number, chunk));
        out
    }
}

/// The steps of `mode` over `graph`.
fn steps(graph: &Graph, mode: Mode) -> Vec<Step> {
    let evaluate = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.is_input())
        .map(|(node, _)| Step::Evaluate { node });
    let mut steps: Vec<Step> = evaluate.collect();
    if let (Mode::Reverse, Some(out)) = (mode, graph.output) {
        steps.push(Step::Seed { node: out });
        // The tape's sweep: nodes from the output down, each node's edges in order.
        for node in (0..=out).rev() {
            for edge in 0..graph.nodes[node].view.inputs.len() {
                steps.push(Step::Push { node, edge });
            }
        }
    }
    steps
}

/// Applies one step to `state`, with the `f64` operations the engines do.
fn apply(g: &Graph, step: Step, state: &mut State) {
    match step {
        Step::Evaluate { node } => {
            state.known[node] = true;
            if state.tangent.iter().any(Option::is_some) {
                let view = &g.nodes[node].view;
                // Forward mode's chain rule, term by term in input order.
                let t = view
                    .inputs
                    .iter()
                    .zip(&view.partials)
                    .fold(0.0, |acc, (&p, &w)| {
                        acc + w * state.tangent[p].unwrap_or(0.0)
                    });
                state.tangent[node] = Some(t);
            }
        }
        Step::Seed { node } => {
            for a in &mut state.adjoint {
                *a = Some(0.0);
            }
            state.adjoint[node] = Some(1.0);
        }
        Step::Push { node, edge } => {
            let view = &g.nodes[node].view;
            let a = state.adjoint[node].unwrap_or(0.0);
            let parent = view.inputs[edge];
            let sum = state.adjoint[parent].unwrap_or(0.0) + a * view.partials[edge];
            state.adjoint[parent] = Some(sum);
        }
    }
}

/// The caption number format: [`short`].
#[must_use]
pub fn caption_number(v: f64) -> String {
    short(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backprop::exact;
    use crate::expr::{Expression, Workspace};

    fn rosenbrock() -> Graph {
        let f = Expression::parse("r = y - x^2\n(1 - x)^2 + 100 * r^2").unwrap();
        Graph::new(&f, &[2.0, -1.5])
    }

    /// The stepper's final adjoints are the tape's bit for bit, and the gradient both engines
    /// report (the compiled reverse sweep and forward mode) to rounding.
    #[test]
    fn the_backward_sweep_ends_at_the_engines_gradient() {
        let sources = [
            "r = y - x^2\n(1 - x)^2 + 100 * r^2",
            "z1 = 0.5*w1 - w2 + b1\nh1 = tanh(z1)\nz2 = 2*w3 + h1*w4\nh2 = sigmoid(z2)\nout = v1*h1 + v2*h2 + c\n(out - 1)^2",
            "x * x * exp(-y) + max(x, y) / (1 + abs(y)) - ln(x^2 + 1)",
        ];
        for src in sources {
            let f = Expression::parse(src).unwrap();
            let point: Vec<f64> = (0..f.vars().len()).map(|i| 0.4 * i as f64 - 0.9).collect();
            let mut s = Stepper::new(Graph::new(&f, &point), Mode::Reverse);
            s.to_end();
            let state = s.state();
            for (i, node) in s.graph().nodes.iter().enumerate() {
                assert_eq!(
                    state.adjoint[i].map(f64::to_bits),
                    Some(node.view.adjoint.to_bits()),
                    "{src}: node {i}"
                );
            }
            let n = point.len();
            let mut work = Workspace::default();
            let (mut reverse, mut forward) = (vec![0.0; n], vec![0.0; n]);
            f.gradient_reverse(&point, &mut work, &mut reverse);
            f.gradient_forward(&point, 8, &mut work, &mut forward);
            for i in 0..n {
                let got = state.adjoint[i].unwrap();
                for engine in [reverse[i], forward[i]] {
                    assert!(
                        (got - engine).abs() <= 1e-14 * engine.abs().max(1.0),
                        "{src}: input {i}: stepper {got} vs engine {engine}"
                    );
                }
            }
            // Forward mode seeded on each input gives that partial derivative.
            for (seed, want) in forward.iter().enumerate().take(n) {
                let mut fwd = Stepper::new(s.graph().clone(), Mode::Forward { seed });
                fwd.to_end();
                let out = s.graph().output.unwrap();
                let t = fwd.state().tangent[out].unwrap();
                assert!((t - want).abs() <= 1e-14 * want.abs().max(1.0));
            }
        }
    }

    #[test]
    fn captions_read_the_chain_rule_with_numbers() {
        let mut s = Stepper::new(rosenbrock(), Mode::Reverse);
        let n = Notation::UNICODE;
        assert_eq!(s.caption(n, &exact), "inputs: y = 2, x = -1.5");
        s.forward(1);
        assert_eq!(s.caption(n, &exact), "t2 = x^2 = (-1.5)^2 = 2.25");
        s.forward(2);
        assert_eq!(s.caption(n, &exact), "t4 = 1 - x = 1 - (-1.5) = 2.5");
        // Forward pass (7 nodes), the seed, then the first push from the output.
        s.to_start();
        s.forward(8);
        assert_eq!(
            s.caption(n, &exact),
            "ā[f] = 1  (seed: ∂f/∂f = 1; every other ā starts at 0)"
        );
        s.forward(1);
        assert_eq!(
            s.caption(n, &exact),
            "ā[t5] += ā[f] · ∂f/∂t5 = 1 × 1 = 1  (ā[t5] is now 1)"
        );
        s.to_end();
        let last = s.caption(Notation::ASCII, &short);
        assert!(last.starts_with("adj[x] += adj[t2] * dt2/dx = "), "{last}");
        let summary = s.summary(n, &short, 8);
        assert!(
            summary.starts_with("∇f = (ā[y], ā[x]) = (-50, -155)"),
            "{summary}"
        );
        let mut fwd = Stepper::new(rosenbrock(), Mode::Forward { seed: 1 });
        assert_eq!(
            fwd.caption(n, &exact),
            "inputs: y = 2, x = -1.5; tangents seeded: ṫ[x] = 1, every other input's ṫ = 0"
        );
        fwd.forward(2);
        assert_eq!(
            fwd.caption(n, &exact),
            "r = y - t2 = 2 - 2.25 = -0.25;  ṫ[r] = ∂r/∂y·ṫ[y] + ∂r/∂t2·ṫ[t2] = 1 × 0 + (-1) × (-3) = 3"
        );
        assert!(
            fwd.summary(n, &short, 8)
                .contains("takes 2 passes (one per input), or 1 with 8")
        );
    }

    #[test]
    fn stepping_is_clamped_and_reversible() {
        let mut s = Stepper::new(rosenbrock(), Mode::Reverse);
        let total = s.steps().len();
        // 7 evaluations, the seed, and one push per edge (9 edges).
        assert_eq!(total, 7 + 1 + 9);
        s.forward(total + 5);
        assert!(s.at_end());
        let end = s.state();
        s.back(3);
        s.forward(3);
        assert_eq!(s.state(), end);
        s.back(total + 1);
        assert_eq!(s.position(), 0);
        assert_eq!(s.current(), None);
        assert!(s.state().adjoint.iter().all(Option::is_none));
        s.set_mode(Mode::Forward { seed: 0 });
        assert_eq!(s.steps().len(), 7);
    }
}
