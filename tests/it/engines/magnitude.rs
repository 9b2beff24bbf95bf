//! Path magnitudes: the scale two engines' values of one derivative are compared against.
//!
//! A derivative is a sum over the paths from the input to the output of the product of the
//! local partials along each path. Engines add those products in different orders (forward
//! mode along the evaluation, reverse mode against it, a window sum per window), so where
//! large products cancel each one keeps a different rounding residue. [`Mag`] carries, per
//! input, the sum of the products' magnitudes: no partial sum of any order exceeds it, and the
//! engines' rounding is a few ulp of it, not of the (possibly tiny) result.

use std::ops::{Add, Div, Mul, Neg, Sub};

use gradscope::ad::{Func, Scalar, max_partials, min_partials, powf_partials, powi_derivative};

/// Inputs a [`Mag`] follows: the random trees' inputs, or one window of three.
pub const SLOTS: usize = 4;

/// A value (computed with `f64`'s own `Scalar` methods, as every engine does) and, per input,
/// the sum over every path from that input of the product of `|local partial|` along it.
#[derive(Debug, Clone, Copy)]
pub struct Mag {
    v: f64,
    d: [f64; SLOTS],
}

impl Mag {
    /// Input number `slot` with value `v`.
    pub fn input(v: f64, slot: usize) -> Self {
        let mut d = [0.0; SLOTS];
        d[slot] = 1.0;
        Mag { v, d }
    }

    /// The path magnitude of the derivative with respect to input `slot`.
    pub fn of(&self, slot: usize) -> f64 {
        self.d[slot]
    }

    /// The most the value can change per unit move of every input: the path magnitudes summed.
    pub fn rate(&self) -> f64 {
        self.d.iter().sum()
    }

    /// `f(self)` with value `v` and local partial `da`.
    fn unary(self, v: f64, da: f64) -> Self {
        Mag {
            v,
            d: self.d.map(|d| times(d, da)),
        }
    }

    /// `f(self, b)` with value `v` and local partials `(da, db)`.
    fn binary(self, b: Self, v: f64, (da, db): (f64, f64)) -> Self {
        let mut d = self.d;
        for (d, bd) in d.iter_mut().zip(b.d) {
            *d = times(*d, da) + times(bd, db);
        }
        Mag { v, d }
    }
}

/// `|d * partial|`, where a path that does not reach the input (`d == 0`) or is cut (a zero
/// partial) adds nothing, even through an infinite partial.
fn times(d: f64, partial: f64) -> f64 {
    if d == 0.0 || partial == 0.0 {
        0.0
    } else {
        d * partial.abs()
    }
}

/// The path magnitudes of `f`'s derivatives at `x` (at most [`SLOTS`] inputs).
pub fn of(x: &[f64], f: impl FnOnce(&[Mag]) -> Mag) -> Vec<f64> {
    let inputs: Vec<Mag> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| Mag::input(v, i))
        .collect();
    let out = f(&inputs);
    (0..x.len()).map(|i| out.of(i)).collect()
}

impl Add for Mag {
    type Output = Mag;
    fn add(self, b: Mag) -> Mag {
        self.binary(b, self.v + b.v, (1.0, 1.0))
    }
}

impl Sub for Mag {
    type Output = Mag;
    fn sub(self, b: Mag) -> Mag {
        self.binary(b, self.v - b.v, (1.0, 1.0))
    }
}

impl Mul for Mag {
    type Output = Mag;
    fn mul(self, b: Mag) -> Mag {
        self.binary(b, self.v * b.v, (b.v, self.v))
    }
}

impl Div for Mag {
    type Output = Mag;
    fn div(self, b: Mag) -> Mag {
        let v = self.v / b.v;
        self.binary(b, v, (1.0 / b.v, v / b.v))
    }
}

impl Neg for Mag {
    type Output = Mag;
    fn neg(self) -> Mag {
        self.unary(-self.v, 1.0)
    }
}

impl Add<f64> for Mag {
    type Output = Mag;
    fn add(self, c: f64) -> Mag {
        self.unary(self.v + c, 1.0)
    }
}

impl Sub<f64> for Mag {
    type Output = Mag;
    fn sub(self, c: f64) -> Mag {
        self.unary(self.v - c, 1.0)
    }
}

impl Mul<f64> for Mag {
    type Output = Mag;
    fn mul(self, c: f64) -> Mag {
        self.unary(self.v * c, c)
    }
}

impl Div<f64> for Mag {
    type Output = Mag;
    fn div(self, c: f64) -> Mag {
        self.unary(self.v / c, 1.0 / c)
    }
}

impl Mag {
    fn call(self, f: Func) -> Mag {
        let v = f.apply(self.v);
        self.unary(v, f.derivative(self.v, v))
    }
}

impl Scalar for Mag {
    fn constant(c: f64) -> Self {
        Mag {
            v: c,
            d: [0.0; SLOTS],
        }
    }
    fn value(&self) -> f64 {
        self.v
    }
    fn powi(self, n: i32) -> Self {
        self.unary(self.v.powi(n), powi_derivative(self.v, n))
    }
    fn powf(self, p: Self) -> Self {
        self.binary(p, self.v.powf(p.v), powf_partials(self.v, p.v))
    }
    fn exp(self) -> Self {
        self.call(Func::Exp)
    }
    fn ln(self) -> Self {
        self.call(Func::Ln)
    }
    fn sqrt(self) -> Self {
        self.call(Func::Sqrt)
    }
    fn abs(self) -> Self {
        self.call(Func::Abs)
    }
    fn sin(self) -> Self {
        self.call(Func::Sin)
    }
    fn cos(self) -> Self {
        self.call(Func::Cos)
    }
    fn tan(self) -> Self {
        self.call(Func::Tan)
    }
    fn tanh(self) -> Self {
        self.call(Func::Tanh)
    }
    fn sigmoid(self) -> Self {
        self.call(Func::Sigmoid)
    }
    fn softplus(self) -> Self {
        self.call(Func::Softplus)
    }
    fn relu(self) -> Self {
        self.call(Func::Relu)
    }
    fn min(self, b: Self) -> Self {
        self.binary(b, Scalar::min(self.v, b.v), min_partials(self.v, b.v))
    }
    fn max(self, b: Self) -> Self {
        self.binary(b, Scalar::max(self.v, b.v), max_partials(self.v, b.v))
    }
}

#[test]
fn magnitudes_add_the_paths_that_cancel() {
    // d/dx (x * y - x * y) = 0 by two paths of magnitude |y| each.
    let m = of(&[3.0, -2.0], |v| v[0] * v[1] - v[0] * v[1]);
    assert_eq!(m, [4.0, 6.0]);
    // d/dx tan(x - x) + x: one path of 1, two of sec^2(0) = 1.
    let m = of(&[0.5], |v| (v[0] - v[0]).tan() + v[0]);
    assert_eq!(m, [3.0]);
    // A path through a zero partial (relu below 0) adds nothing.
    let m = of(&[-1.0, 2.0], |v| v[0].relu() * v[1].exp());
    assert_eq!(m, [0.0, 0.0]);
}
