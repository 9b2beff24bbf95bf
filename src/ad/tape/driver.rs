//! The drivers: [`gradient_with`] (a gradient on a reused tape from a closure), [`gradient`]
//! and [`gradient_on`] (for a [`ScalarFn`]). They record the inputs first, so their adjoints
//! are the adjoint buffer's prefix, and mark a large input slice so that a window sum over it
//! knows its inputs are consecutive nodes without reading them.

use super::var::{PLAIN, pack};
use super::{Inner, Tape, Var, index_u32};
use crate::ad::ScalarFn;

impl Inner {
    /// If `x` is a part of [`gradient_with`]'s input slice, its first node. Comparing addresses
    /// is enough: that slice is borrowed unchanged for the whole evaluation, so `x[i]` is then
    /// input node `k + i`'s own value, and no `Var` needs to be read to know it.
    pub(super) fn driver_window(&self, x: &[Var<'_>]) -> Option<u32> {
        let (start, len) = self.driver?;
        let offset = (x.as_ptr() as usize).checked_sub(start)?;
        let size = std::mem::size_of::<Var<'_>>();
        let k = offset / size;
        let found = offset % size == 0 && k + x.len() <= len;
        debug_assert!(
            !found
                || x.iter()
                    .zip(k..)
                    .all(|(v, i)| v.nodes == pack(i as u32, PLAIN))
        );
        found.then(|| index_u32(k))
    }
}

/// Clears [`Inner::driver`] when [`gradient_with`]'s evaluation ends, unwinding included, so
/// an address never outlives the slice it names.
struct DriverGuard<'t>(&'t Tape);

impl Drop for DriverGuard<'_> {
    fn drop(&mut self) {
        // Nothing else holds the tape's borrow here (an unwinding recorder has released its
        // own by now); `try_` only so that a drop during a panic can never panic again.
        if let Ok(mut inner) = self.0.inner.try_borrow_mut() {
            inner.driver = None;
        }
    }
}

/// Inputs up to this many live in a stack buffer in [`gradient_with`], so a small gradient does
/// not allocate at all once the tape has grown.
const STACK_INPUTS: usize = 16;

/// The gradient of `eval` at `x` on a reused tape: clears `tape`, records `x` as inputs, runs
/// `eval` once, sweeps backward once, writes `d f / d x[i]` into `grad[i]` and returns `f(x)`.
///
/// `eval` must work for any tape lifetime (`for<'t>`), which a closure calling a generic method
/// satisfies directly: `|v| objective.eval_var(v)` with
/// `fn eval_var<'t>(&self, x: &[Var<'t>]) -> Var<'t>`, or `|v| f.eval(v)` for a [`ScalarFn`].
/// Pass a closure rather than a method path: `Scalar::max`-style paths name one fixed lifetime
/// and are rejected as "not general enough". If `grad` and `x` differ in length, only the
/// common prefix of `grad` is written.
///
/// ```
/// use gradscope::ad::Scalar;
/// use gradscope::ad::tape::{Tape, gradient_with};
///
/// let mut tape = Tape::new();
/// let mut grad = [0.0; 2];
/// let f = gradient_with(&mut tape, &[2.0, 3.0], &mut grad, |v| v[0] * v[1] + v[0].sin());
/// assert_eq!(f, 6.0 + 2.0_f64.sin());
/// assert_eq!(grad, [3.0 + 2.0_f64.cos(), 2.0]);
/// ```
pub fn gradient_with(
    tape: &mut Tape,
    x: &[f64],
    grad: &mut [f64],
    eval: impl for<'t> FnOnce(&[Var<'t>]) -> Var<'t>,
) -> f64 {
    tape.clear();
    let tape: &Tape = tape;
    if x.len() <= STACK_INPUTS {
        let mut buf = [Var::konst(0.0); STACK_INPUTS];
        let first = tape.record_inputs(x);
        for ((slot, &xi), index) in buf.iter_mut().zip(x).zip(first..) {
            *slot = Var::node(tape, index, xi);
        }
        sweep(tape, &buf[..x.len()], grad, eval)
    } else {
        let inputs = tape.vars(x);
        let _guard = DriverGuard(tape);
        {
            let inner = &mut *tape.inner.borrow_mut();
            inner.driver = Some((inputs.as_ptr() as usize, inputs.len()));
        }
        sweep(tape, &inputs, grad, eval)
    }
}

#[inline]
fn sweep<'t>(
    tape: &'t Tape,
    inputs: &[Var<'t>],
    grad: &mut [f64],
    eval: impl FnOnce(&[Var<'t>]) -> Var<'t>,
) -> f64 {
    let out = eval(inputs);
    tape.backward(out);
    let inner = tape.inner.borrow();
    // Inputs are nodes 0..n, recorded first, so their adjoints are the buffer's prefix; the
    // buffer stops at the output's node (empty for a constant output), the rest is 0.
    let n = inputs.len().min(grad.len());
    let k = inner.adjoints.len().min(n);
    grad[..k].copy_from_slice(&inner.adjoints[..k]);
    grad[k..n].fill(0.0);
    out.value
}

/// The gradient of `f` at `x` with a fresh [fused](Tape::fused) tape; returns `f(x)`. Reuse a tape with
/// [`gradient_on`] when computing many gradients.
///
/// ```
/// use gradscope::ad::{Scalar, ScalarFn};
/// use gradscope::ad::tape::gradient;
///
/// struct Rosenbrock;
/// impl ScalarFn for Rosenbrock {
///     fn dim(&self) -> usize { 2 }
///     fn eval<S: Scalar>(&self, x: &[S]) -> S {
///         (S::constant(1.0) - x[0]).powi(2) + (x[1] - x[0] * x[0]).powi(2) * 100.0
///     }
/// }
/// let mut grad = [0.0; 2];
/// let f = gradient(&Rosenbrock, &[0.0, 1.0], &mut grad);
/// assert_eq!((f, grad), (101.0, [-2.0, 200.0]));
/// ```
pub fn gradient<F: ScalarFn>(f: &F, x: &[f64], grad: &mut [f64]) -> f64 {
    let mut tape = Tape {
        fused: true,
        ..Tape::with_capacity(4 * x.len() + 16, 8 * x.len() + 32)
    };
    gradient_on(&mut tape, f, x, grad)
}

/// The gradient of `f` at `x` on a reused `tape` (cleared first); returns `f(x)`.
///
/// ```
/// use gradscope::ad::{Scalar, ScalarFn};
/// use gradscope::ad::tape::{Tape, gradient_on};
///
/// struct Norm2;
/// impl ScalarFn for Norm2 {
///     fn dim(&self) -> usize { 3 }
///     fn eval<S: Scalar>(&self, x: &[S]) -> S { S::dot(x, x) }
/// }
/// let mut tape = Tape::new();
/// let mut grad = [0.0; 3];
/// assert_eq!(gradient_on(&mut tape, &Norm2, &[1.0, 2.0, 3.0], &mut grad), 14.0);
/// assert_eq!(grad, [2.0, 4.0, 6.0]);
/// ```
pub fn gradient_on<F: ScalarFn>(tape: &mut Tape, f: &F, x: &[f64], grad: &mut [f64]) -> f64 {
    gradient_with(tape, x, grad, |v| f.eval(v))
}
