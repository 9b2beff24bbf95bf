//! State of the back-propagation view (`p`): for an expression objective the computation
//! graph at the selected run's point with the [`Stepper`] replaying the forward pass and the
//! backward sweep (or a forward-mode pass seeded on one input); for a layered model the
//! network at that point with a layer-by-layer stepper over one training example or the batch
//! mean. (The per-layer gradient-flow history the flow panel draws is the runs' own, recorded
//! as they step: [`crate::session::Run::flow`].)
//!
//! Everything is rebuilt from the session when the selected run's parameters change; nothing
//! here feeds back into a run.

use std::time::{Duration, Instant};

use crate::backprop::flow::LayerFlow;
use crate::backprop::layout::Layout;
use crate::backprop::network::{Layers, Network, Pass, Summary};
use crate::backprop::stepper::{Mode, Notation, Step};
use crate::backprop::{Graph, Stepper, short};
use crate::session::Session;

/// The open view is rebuilt at most this often while runs move.
const REBUILD_INTERVAL: Duration = Duration::from_millis(250);

/// The expression stepper at one run's point.
pub struct ExprView {
    pub stepper: Stepper,
    pub layout: Layout,
    /// The node whose sub-expression is highlighted; follows the stepper.
    pub selected: usize,
}

/// A layered model at one run's point.
pub struct NetView {
    pub layers: Layers,
    pub params: Vec<f64>,
    /// `None`: the batch mean; else the training example shown.
    pub example: Option<usize>,
    pub examples: usize,
    /// `0..=2L`: layers `0..=min(stage, L)` forward; past `L`, δ from the output back.
    pub stage: usize,
    pub selected: (usize, usize),
    pub pass: Option<Pass>,
    pub summary: Option<Summary>,
}

impl NetView {
    /// Layers whose activations are shown.
    #[must_use]
    pub fn forward(&self) -> usize {
        self.stage.min(self.layers.depth())
    }

    /// The first layer whose δ is shown (`L + 1`: none).
    #[must_use]
    pub fn backward(&self) -> usize {
        let depth = self.layers.depth();
        (depth + 1).saturating_sub(self.stage.saturating_sub(depth))
    }

    /// Activations and δ shown: the example's, or the batch means.
    #[must_use]
    pub fn values(&self) -> (&[Vec<f64>], &[Vec<f64>]) {
        match (&self.pass, &self.summary) {
            (Some(p), _) => (&p.a, &p.delta),
            (None, Some(s)) => (&s.mean_activation, &s.mean_delta),
            (None, None) => (&[], &[]),
        }
    }

    /// The caption for the selected neuron at this stage, with the formula and its numbers
    /// (in plain ASCII for terminals without Unicode).
    #[must_use]
    pub fn caption(&self, ascii: bool) -> String {
        let text = self.caption_text(ascii);
        if !ascii {
            return text;
        }
        [
            ("∂", "d"),
            ("ℓ", "l"),
            ("Σ", "sum "),
            ("ᵀ", "^T"),
            ("·", "*"),
            ("×", "x"),
            ("…", "..."),
        ]
        .iter()
        .fold(text, |t, (from, to)| t.replace(from, to))
    }

    fn caption_text(&self, ascii: bool) -> String {
        let (l, j) = self.selected;
        let depth = self.layers.depth();
        let (d, sigma) = if ascii { ("d", "s'") } else { ("δ", "σ′") };
        let sup = |l: usize| {
            if ascii {
                format!("({l})")
            } else {
                format!("⁽{}⁾", superscript(l))
            }
        };
        let stage = if self.stage == 0 {
            "inputs given".to_owned()
        } else if self.stage <= depth {
            format!("forward: layer {} computed", self.stage)
        } else {
            format!("backward: {d} of layer {} computed", self.backward())
        };
        let Some(pass) = &self.pass else {
            let Some(s) = &self.summary else {
                return stage;
            };
            if l == 0 {
                return format!(
                    "{stage} | batch mean over {} examples: mean x[{j}] = {}",
                    s.examples,
                    short(s.mean_activation[0][j])
                );
            }
            let n = self.layers.sizes[l - 1];
            let row = &s.weight_grad[l][j * n..(j + 1) * n];
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            return format!(
                "{stage} | batch mean over {} examples: mean a{}[{j}] = {}, mean {d}{}[{j}] = ∂L/∂b = {}, |∂L/∂W{}[{j},:]| = {}",
                s.examples,
                sup(l),
                short(s.mean_activation[l][j]),
                sup(l),
                short(s.mean_delta[l][j]),
                sup(l),
                short(norm)
            );
        };
        if l == 0 {
            return format!("{stage} | x[{j}] = {}", short(pass.a[0][j]));
        }
        let act = self.layers.activations[l - 1];
        let (z, a, slope) = (pass.z[l][j], pass.a[l][j], pass.slope[l][j]);
        if l > self.forward() {
            return format!("{stage} | a{}[{j}] not computed yet", sup(l));
        }
        let forward = format!(
            "z{s}[{j}] = Σ W{s}[{j},k]·a{p}[k] + b{s}[{j}] = {}, a{s}[{j}] = {act}(z) = {}",
            short(z),
            short(a),
            s = sup(l),
            p = sup(l - 1)
        );
        if l < self.backward() {
            return format!("{stage} | {forward}");
        }
        let delta = pass.delta[l][j];
        let back = if l == depth {
            format!(
                "{d}{s}[{j}] = ∂ℓ/∂a · {sigma}(z) = {} × {} = {}",
                short(pass.output_grad[j]),
                short(slope),
                short(delta),
                s = sup(l)
            )
        } else {
            let next = self.layers.sizes[l + 1];
            let sum: f64 = (0..next)
                .map(|k| self.layers.weight(&self.params, l + 1, k, j) * pass.delta[l + 1][k])
                .sum();
            format!(
                "{d}{s}[{j}] = (Σ W{n}[k,{j}]·{d}{n}[k]) · {sigma}(z) = {} × {} = {}",
                short(sum),
                short(slope),
                short(delta),
                s = sup(l),
                n = sup(l + 1)
            )
        };
        let n = self.layers.sizes[l - 1];
        let grads: Vec<String> = (0..n.min(4))
            .map(|k| short(pass.weight_grad(l, j, k)))
            .collect();
        let more = if n > 4 { ", …" } else { "" };
        format!(
            "{stage} | {back}; ∂ℓ/∂W{s}[{j},:] = {d}·a{p}ᵀ = ({}{more})",
            grads.join(", "),
            s = sup(l),
            p = sup(l - 1)
        )
    }
}

fn superscript(n: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .chars()
        .map(|c| c.to_digit(10).map_or(c, |d| DIGITS[d as usize]))
        .collect()
}

/// The view's state.
#[derive(Default)]
pub struct BackpropView {
    pub open: bool,
    /// The run and parameters the views below were built for.
    key: Option<(usize, Vec<f64>)>,
    built: Option<Instant>,
    pub expr: Option<ExprView>,
    pub net: Option<NetView>,
    /// Which figure the flow panel's sparklines show (an index into [`FIGURES`]).
    pub figure: usize,
}

/// Reads one figure of a layer's flow (`None` where it is not defined).
pub type Figure = fn(&LayerFlow) -> Option<f64>;

/// The figures the flow panel can draw over time: name and how to read it.
pub const FIGURES: [(&str, Figure); 4] = [
    ("|δ|", |f| Some(f.delta_norm)),
    ("|dL/dW|", |f| Some(f.weight_grad_norm)),
    ("|dW|/|W|", |f| f.update_ratio),
    ("saturated", |f| Some(f.saturated_fraction)),
];

impl BackpropView {
    /// Forgets everything (a new session).
    pub fn reset(&mut self) {
        let (open, figure) = (self.open, self.figure);
        *self = BackpropView::default();
        self.open = open;
        self.figure = figure;
    }

    /// The flow panel's next (or previous) figure over time.
    pub fn cycle_figure(&mut self, forward: bool) {
        let n = FIGURES.len();
        self.figure = (self.figure + if forward { 1 } else { n - 1 }) % n;
    }

    /// Rebuilds the open view when the selected run moved; the stepper keeps its position and
    /// mode, the network view its stage, example and selection.
    pub fn tick(&mut self, session: &Session, run: usize, deterministic: bool) {
        let Some(r) = session.runs().get(run) else {
            return;
        };
        if !self.open {
            return;
        }
        if self
            .key
            .as_ref()
            .is_some_and(|(k, p)| *k == run && p == r.params())
        {
            return;
        }
        // While the race runs with the view open, rebuild a few times a second, not every
        // frame (a batch mean reads the whole training set).
        let same_run = self.key.as_ref().is_some_and(|(k, _)| *k == run);
        let throttled = self.built.is_some_and(|t| t.elapsed() < REBUILD_INTERVAL);
        if same_run && throttled && !deterministic {
            return;
        }
        self.built = Some(Instant::now());
        self.key = Some((run, r.params().to_vec()));
        let objective = r.objective();
        if let Some(expr) = objective.expression() {
            let graph = Graph::new(expr, r.params());
            let layout = Layout::new(&graph);
            let (mode, position, selected) =
                self.expr.as_ref().map_or((Mode::Reverse, 0, 0), |e| {
                    (e.stepper.mode(), e.stepper.position(), e.selected)
                });
            let mut stepper = Stepper::new(graph, mode);
            stepper.forward(position);
            let selected = selected.min(stepper.graph().nodes.len().saturating_sub(1));
            self.expr = Some(ExprView {
                stepper,
                layout,
                selected,
            });
        } else if let Some(parts) = objective.layered() {
            let net = Network::new(parts);
            let layers = net.layers();
            let (example, stage, selected) = self
                .net
                .as_ref()
                .map_or((Some(0), 0, (0, 0)), |n| (n.example, n.stage, n.selected));
            let examples = net.data.len();
            let example = example.filter(|i| *i < examples);
            let (pass, summary) = match example {
                Some(i) => (Some(net.pass(r.params(), i)), None),
                None => (None, Some(net.summary(r.params(), &net.examples()))),
            };
            let stage = stage.min(2 * layers.depth());
            self.net = Some(NetView {
                selected: clamp_unit(&layers, selected),
                layers,
                params: r.params().to_vec(),
                example,
                examples,
                stage,
                pass,
                summary,
            });
        }
    }

    /// Forces a rebuild at the next tick (the user changed what is shown).
    fn invalidate(&mut self) {
        self.key = None;
        self.built = None;
    }

    /// One step forward (`k > 0`) or back.
    pub fn step(&mut self, k: isize) {
        if let Some(e) = &mut self.expr {
            if k >= 0 {
                e.stepper.forward(k.unsigned_abs());
            } else {
                e.stepper.back(k.unsigned_abs());
            }
            if let Some(step) = e.stepper.current() {
                e.selected = step.node();
            }
        } else if let Some(n) = &mut self.net {
            let last = 2 * n.layers.depth();
            n.stage = n.stage.saturating_add_signed(k).min(last);
            // Follow the layer just computed.
            let layer = if n.stage <= n.layers.depth() {
                n.forward()
            } else {
                n.backward()
            };
            if layer != n.selected.0 {
                n.selected = clamp_unit(&n.layers, (layer, n.selected.1));
            }
        }
    }

    /// Back to the start of the replay.
    pub fn restart(&mut self) {
        if let Some(e) = &mut self.expr {
            e.stepper.to_start();
        } else if let Some(n) = &mut self.net {
            n.stage = 0;
        }
    }

    /// Up/down: the previous/next node (or unit); left/right: the previous/next layer of a
    /// network.
    pub fn select(&mut self, dy: isize, dx: isize) {
        if let Some(e) = &mut self.expr {
            let n = e.stepper.graph().nodes.len();
            e.selected = e
                .selected
                .saturating_add_signed(dy + dx)
                .min(n.saturating_sub(1));
        } else if let Some(n) = &mut self.net {
            let (l, j) = n.selected;
            let l = l.saturating_add_signed(dx).min(n.layers.depth());
            n.selected = clamp_unit(&n.layers, (l, j.saturating_add_signed(dy)));
        }
    }

    /// The stepper's mode: reverse, then forward seeded on each input in turn.
    pub fn cycle_mode(&mut self) {
        if let Some(e) = &mut self.expr {
            let inputs = e.stepper.graph().vars.len();
            let next = match e.stepper.mode() {
                Mode::Reverse if inputs > 0 => Mode::Forward { seed: 0 },
                Mode::Forward { seed } if seed + 1 < inputs => Mode::Forward { seed: seed + 1 },
                _ => Mode::Reverse,
            };
            e.stepper.set_mode(next);
        }
    }

    /// The network's next training example, and after the last one the batch mean.
    pub fn cycle_example(&mut self, forward: bool) {
        if let Some(n) = &mut self.net {
            let count = n.examples;
            n.example = match (n.example, forward) {
                (None, true) => Some(0),
                (None, false) => count.checked_sub(1),
                (Some(i), true) if i + 1 < count => Some(i + 1),
                (Some(i), false) if i > 0 => Some(i - 1),
                _ => None,
            };
            self.invalidate();
        }
    }

    /// The expression stepper's caption lines: the step just taken, and at the end (or in
    /// forward mode) the summary saying what one pass gives.
    #[must_use]
    pub fn captions(&self, ascii: bool, chunk: usize) -> Vec<String> {
        let Some(e) = &self.expr else {
            return self
                .net
                .as_ref()
                .map(|n| vec![n.caption(ascii)])
                .unwrap_or_default();
        };
        let notation = if ascii {
            Notation::ASCII
        } else {
            Notation::UNICODE
        };
        let s = &e.stepper;
        let mode = match s.mode() {
            Mode::Reverse => "reverse mode (back-propagation)".to_owned(),
            Mode::Forward { seed } => format!(
                "forward mode, tangent seeded on {}",
                s.graph().vars.get(seed).map_or("?", String::as_str)
            ),
        };
        let phase = match s.current() {
            None => "start",
            Some(Step::Evaluate { .. }) => "forward pass",
            Some(Step::Seed { .. }) => "seed",
            Some(Step::Push { .. }) => "backward sweep",
        };
        let mut out = vec![
            format!(
                "{mode}: step {} of {} ({phase})",
                s.position(),
                s.steps().len()
            ),
            s.caption(notation, &short),
        ];
        out.push(selected_edges(s.graph(), e.selected, notation));
        if s.at_end() || matches!(s.mode(), Mode::Forward { .. }) {
            out.push(s.summary(notation, &short, chunk));
        }
        out
    }
}

/// The selected node and the local partials its edges carry: `selected t10 = t8 + t9 = 0.0275;
/// edges ∂t10/∂t8 = 1, ∂t10/∂t9 = 1`.
fn selected_edges(g: &Graph, i: usize, n: Notation) -> String {
    let Some(node) = g.nodes.get(i) else {
        return String::new();
    };
    let name = g.name(i);
    let mut s = format!("selected {name}");
    if !node.is_input() {
        s.push_str(&format!(" = {}", g.written(i).replace('·', n.dot)));
    }
    s.push_str(&format!(" = {}", short(node.view.value)));
    let edges: Vec<String> = node
        .view
        .inputs
        .iter()
        .zip(&node.view.partials)
        .map(|(&p, &w)| format!("{d}{name}/{d}{} = {}", g.name(p), short(w), d = n.partial))
        .collect();
    if !edges.is_empty() {
        s.push_str(&format!("; edges {}", edges.join(", ")));
    }
    s
}

/// `text` broken into lines of at most `width` cells, at spaces where it can be (a word
/// longer than a line is cut across lines): every character is kept, so a caption is wrapped,
/// never cut. Spaces at a break are dropped.
#[must_use]
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let cells = |s: &str| ratatui::text::Span::raw(s).width();
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let gap = usize::from(!line.is_empty());
        if !line.is_empty() && cells(&line) + gap + cells(word) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        for ch in word.chars() {
            let mut tmp = [0u8; 4];
            if cells(&line) + cells(ch.encode_utf8(&mut tmp)) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(ch);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn clamp_unit(layers: &Layers, (l, j): (usize, usize)) -> (usize, usize) {
    let l = l.min(layers.depth());
    (l, j.min(layers.sizes[l].saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_breaks_at_spaces_keeps_every_character_and_fits() {
        let text =
            "ā[h1] += ā[net_o1] · ∂net_o1/∂h1 = 0.1385 × 0.4 = 0.0554  (ā[h1] is now 0.0554)";
        for width in [10, 20, 33, 80] {
            let lines = wrap(text, width);
            for l in &lines {
                assert!(l.chars().count() <= width, "{l:?} at {width}");
            }
            // Every character kept, in order (a break drops only the space it replaces).
            let ink = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            assert_eq!(ink(&lines.concat()), ink(text), "at {width}");
            if width >= 20 {
                // Words no longer than a line are never cut.
                let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
                assert_eq!(squeeze(&lines.join(" ")), squeeze(text), "at {width}");
            }
        }
        assert_eq!(wrap(text, 200), [text]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
    }
}
