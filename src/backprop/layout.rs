//! A layered layout of a computation graph, the usual way to draw a data-flow graph readably
//! (Sugiyama's): each node in the column of its depth (inputs in column 0, every other node one
//! column right of its deepest input), an edge that spans several columns routed through a
//! pass-through slot in each column between, and the slots of each column ordered to reduce
//! crossings (a few sweeps of the barycentre heuristic). Plain data: the terminal view turns
//! columns and rows into cells.

use super::graph::Graph;

/// One slot of a column: a node, or a long edge passing through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Node(usize),
    /// Edge number `k` of [`Layout::edges`] passing through this column.
    Through(usize),
}

/// One edge of the graph: `input`-th input of `node` (the parent `parent`), and the slots
/// it passes through on its way, one per column strictly between the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub parent: usize,
    pub node: usize,
    pub input: usize,
}

/// Columns of slots, left (inputs) to right (the output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub columns: Vec<Vec<Slot>>,
    pub edges: Vec<Edge>,
    /// Each node's column.
    pub column_of: Vec<usize>,
}

/// Barycentre sweeps (down and up count as one each).
const SWEEPS: usize = 8;

impl Layout {
    /// Lays `graph` out in columns.
    ///
    /// ```
    /// use gradscope::backprop::{Graph, layout::{Layout, Slot}};
    /// use gradscope::expr::Expression;
    /// let g = Graph::new(&Expression::parse("x * sin(x)").unwrap(), &[1.0]);
    /// let l = Layout::new(&g);
    /// // x, sin(x), then the product; the edge x -> product passes column 1.
    /// assert_eq!(l.columns[0], [Slot::Node(0)]);
    /// assert_eq!(l.columns[1].len(), 2);
    /// assert_eq!(l.columns[2], [Slot::Node(2)]);
    /// ```
    #[must_use]
    pub fn new(graph: &Graph) -> Layout {
        let n = graph.nodes.len();
        let mut column_of = vec![0usize; n];
        for (i, node) in graph.nodes.iter().enumerate() {
            // Parents come first on a tape, so one pass in order suffices.
            column_of[i] = node
                .view
                .inputs
                .iter()
                .map(|&p| column_of.get(p).map_or(0, |c| c + 1))
                .max()
                .unwrap_or(0);
        }
        let depth = column_of.iter().copied().max().map_or(0, |d| d + 1);
        let mut columns: Vec<Vec<Slot>> = vec![Vec::new(); depth];
        for (i, &c) in column_of.iter().enumerate() {
            columns[c].push(Slot::Node(i));
        }
        let mut edges = Vec::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            for (input, &parent) in node.view.inputs.iter().enumerate() {
                let k = edges.len();
                edges.push(Edge {
                    parent,
                    node: i,
                    input,
                });
                for column in columns
                    .iter_mut()
                    .take(column_of[i])
                    .skip(column_of[parent] + 1)
                {
                    column.push(Slot::Through(k));
                }
            }
        }
        let mut layout = Layout {
            columns,
            edges,
            column_of,
        };
        layout.order();
        layout
    }

    /// The slots a slot connects to in the column on its left (`left`) or right.
    fn neighbours(&self, slot: Slot, column: usize, left: bool) -> Vec<Slot> {
        let through_or = |k: usize, end: Slot, end_column: usize| {
            let target = if left { column - 1 } else { column + 1 };
            if target == end_column {
                end
            } else {
                Slot::Through(k)
            }
        };
        match slot {
            Slot::Through(k) => {
                let e = &self.edges[k];
                if left {
                    vec![through_or(
                        k,
                        Slot::Node(e.parent),
                        self.column_of[e.parent],
                    )]
                } else {
                    vec![through_or(k, Slot::Node(e.node), self.column_of[e.node])]
                }
            }
            Slot::Node(i) => self
                .edges
                .iter()
                .enumerate()
                .filter_map(|(k, e)| {
                    if left && e.node == i {
                        Some(through_or(
                            k,
                            Slot::Node(e.parent),
                            self.column_of[e.parent],
                        ))
                    } else if !left && e.parent == i {
                        Some(through_or(k, Slot::Node(e.node), self.column_of[e.node]))
                    } else {
                        None
                    }
                })
                .collect(),
        }
    }

    /// Reorders each column by the mean position of its slots' neighbours in the column just
    /// swept (left to right, then right to left), keeping the order of ties; keeps the order
    /// with the fewest crossings seen (the heuristic can make a sweep worse).
    fn order(&mut self) {
        let mut best = (self.crossings(), self.columns.clone());
        for sweep in 0..SWEEPS {
            let rightward = sweep % 2 == 0;
            let range: Vec<usize> = if rightward {
                (1..self.columns.len()).collect()
            } else {
                (0..self.columns.len().saturating_sub(1)).rev().collect()
            };
            for c in range {
                let fixed = if rightward { c - 1 } else { c + 1 };
                let position = |s: &Slot| self.columns[fixed].iter().position(|t| t == s);
                let mut keyed: Vec<(f64, usize, Slot)> = self.columns[c]
                    .iter()
                    .enumerate()
                    .map(|(k, &slot)| {
                        let near = self.neighbours(slot, c, rightward);
                        let found: Vec<f64> =
                            near.iter().filter_map(position).map(|p| p as f64).collect();
                        let key = if found.is_empty() {
                            k as f64
                        } else {
                            found.iter().sum::<f64>() / found.len() as f64
                        };
                        (key, k, slot)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                self.columns[c] = keyed.into_iter().map(|(_, _, s)| s).collect();
            }
            let crossings = self.crossings();
            if crossings < best.0 {
                best = (crossings, self.columns.clone());
            }
            if best.0 == 0 {
                break;
            }
        }
        self.columns = best.1;
    }

    /// Where node `i` is: (column, position in the column).
    #[must_use]
    pub fn position(&self, i: usize) -> Option<(usize, usize)> {
        let c = *self.column_of.get(i)?;
        let r = self.columns[c].iter().position(|s| *s == Slot::Node(i))?;
        Some((c, r))
    }

    /// The slots edge `k` occupies, parent to node: its two nodes and the pass-throughs
    /// between them, one per column.
    #[must_use]
    pub fn path(&self, k: usize) -> Vec<(usize, Slot)> {
        let e = &self.edges[k];
        let (from, to) = (self.column_of[e.parent], self.column_of[e.node]);
        let mut path = vec![(from, Slot::Node(e.parent))];
        path.extend((from + 1..to).map(|c| (c, Slot::Through(k))));
        path.push((to, Slot::Node(e.node)));
        path
    }

    /// The number of edge segments between adjacent columns that cross, a measure of how
    /// readable the layout is.
    #[must_use]
    pub fn crossings(&self) -> usize {
        let mut count = 0;
        for c in 0..self.columns.len().saturating_sub(1) {
            let segments: Vec<(usize, usize)> = (0..self.edges.len())
                .filter_map(|k| {
                    let path = self.path(k);
                    let w = path.windows(2).find(|w| w[0].0 == c)?;
                    let a = self.columns[c].iter().position(|s| *s == w[0].1)?;
                    let b = self.columns[c + 1].iter().position(|s| *s == w[1].1)?;
                    Some((a, b))
                })
                .collect();
            for (i, s) in segments.iter().enumerate() {
                for t in &segments[i + 1..] {
                    if (s.0 < t.0 && s.1 > t.1) || (s.0 > t.0 && s.1 < t.1) {
                        count += 1;
                    }
                }
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expression;

    #[test]
    fn every_edge_steps_one_column_at_a_time_and_ordering_helps() {
        let src = "z1 = 0.5*w1 - w2 + b1\nh1 = tanh(z1)\nz2 = 2*w3 + h1*w4\nh2 = sigmoid(z2)\nout = v1*h1 + v2*h2 + c\n(out - 1)^2";
        let e = Expression::parse(src).unwrap();
        let g = Graph::new(&e, &vec![0.1; e.vars().len()]);
        let l = Layout::new(&g);
        for k in 0..l.edges.len() {
            let path = l.path(k);
            assert!(path.windows(2).all(|w| w[1].0 == w[0].0 + 1), "{path:?}");
            for (c, slot) in &path {
                assert!(l.columns[*c].contains(slot));
            }
        }
        // Every node once, in a column right of all its inputs.
        let placed: usize = l
            .columns
            .iter()
            .flatten()
            .filter(|s| matches!(s, Slot::Node(_)))
            .count();
        assert_eq!(placed, g.nodes.len());
        let output = g.output.unwrap();
        assert_eq!(l.position(output).map(|p| p.0), Some(l.columns.len() - 1));
        // The sweeps never make things worse than the order nodes were recorded in.
        let unordered = Layout {
            columns: {
                let mut cols = l.columns.clone();
                for col in &mut cols {
                    col.sort_by_key(|s| match s {
                        Slot::Node(i) => (0, *i),
                        Slot::Through(k) => (1, *k),
                    });
                }
                cols
            },
            ..l.clone()
        };
        assert!(
            l.crossings() <= unordered.crossings(),
            "{} > {}",
            l.crossings(),
            unordered.crossings()
        );
    }
}
