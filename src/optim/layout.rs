//! The shape of an objective's flat parameter vector as torch would hold it: a list of tensors
//! (weight matrices, bias vectors, plain vectors), each a contiguous run of the vector. Optimizers
//! that treat tensors by shape (Adafactor's factored second moment, Muon's orthogonalised
//! update) or per tensor (Adafactor's RMS scaling) read it from their
//! [`BuildContext`](super::registry::BuildContext); element-wise optimizers ignore it.
//!
//! An expression objective is one vector; a model's layout follows its layers, a weight matrix
//! being torch's `nn.Linear.weight`: `fan_out × fan_in`, row-major.
//!
//! ```
//! use gradscope::optim::{ParamLayout, Shape};
//!
//! // a 2-3-1 network: W1 (3×2), b1 (3), W2 (1×3), b2 (1)
//! let layout = ParamLayout::new(vec![
//!     Shape::Matrix { rows: 3, cols: 2 },
//!     Shape::Vector(3),
//!     Shape::Matrix { rows: 1, cols: 3 },
//!     Shape::Vector(1),
//! ]);
//! assert_eq!(layout.dim(), 13);
//! assert_eq!(layout.blocks()[2].range, 9..12);
//! assert!(layout.has_matrix());
//! assert!(!ParamLayout::vector(2).has_matrix());
//! ```

use std::ops::Range;

/// The shape of one tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A 1-D tensor of this length.
    Vector(usize),
    /// A 2-D tensor, stored row-major.
    Matrix { rows: usize, cols: usize },
}

impl Shape {
    /// Number of entries.
    #[must_use]
    pub fn len(self) -> usize {
        match self {
            Shape::Vector(n) => n,
            Shape::Matrix { rows, cols } => rows * cols,
        }
    }

    #[must_use]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// One tensor of the layout: where it lies in the flat vector and its shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub range: Range<usize>,
    pub shape: Shape,
}

/// The tensors of a parameter vector, in order, contiguous, covering it exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    blocks: Vec<Block>,
    dim: usize,
}

impl ParamLayout {
    /// The tensors in order; each starts where the previous one ends.
    #[must_use]
    pub fn new(shapes: impl IntoIterator<Item = Shape>) -> Self {
        let mut dim = 0;
        let blocks = shapes
            .into_iter()
            .map(|shape| {
                let range = dim..dim + shape.len();
                dim = range.end;
                Block { range, shape }
            })
            .collect();
        Self { blocks, dim }
    }

    /// One vector of `n` parameters (expression objectives, models without layers).
    #[must_use]
    pub fn vector(n: usize) -> Self {
        Self::new([Shape::Vector(n)])
    }

    #[must_use]
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Total number of parameters.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// True when some tensor is 2-D.
    #[must_use]
    pub fn has_matrix(&self) -> bool {
        self.blocks
            .iter()
            .any(|b| matches!(b.shape, Shape::Matrix { .. }))
    }

    /// This layout if it describes `n` parameters, else one vector of `n`: an optimizer built
    /// for one objective and stepped on a vector of another length (a library caller's
    /// `FnOracle`) treats the parameters as one tensor instead of indexing out of bounds.
    #[must_use]
    pub fn fitted(&self, n: usize) -> Self {
        if self.dim == n {
            self.clone()
        } else {
            Self::vector(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_contiguous_and_cover_the_vector() {
        let l = ParamLayout::new([
            Shape::Matrix { rows: 4, cols: 2 },
            Shape::Vector(4),
            Shape::Matrix { rows: 1, cols: 4 },
            Shape::Vector(1),
        ]);
        let ranges: Vec<_> = l.blocks().iter().map(|b| b.range.clone()).collect();
        assert_eq!(ranges, [0..8, 8..12, 12..16, 16..17]);
        assert_eq!(l.dim(), 17);
        assert_eq!(l.fitted(17), l);
        assert_eq!(l.fitted(3), ParamLayout::vector(3));
        assert!(ParamLayout::new([]).blocks().is_empty());
    }
}
