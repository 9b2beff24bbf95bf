//! L-BFGS (torch.optim.LBFGS) with torch's strong-Wolfe line search (`_strong_wolfe`,
//! `_cubic_interpolate`), ported line for line.
//!
//! One `step` runs up to `max_iter` L-BFGS iterations as torch does; our default is 1 (torch's
//! is 20) so that one step of the session is one iteration, and `history_size` defaults to 10
//! (torch: 100). `max_eval` is torch's default `max_iter * 5 / 4` and not a hyperparameter.
//! The line search itself evaluates the objective several times through the oracle.

use super::hyper::{Hyper, HyperAccess, HyperSet, Hypers, INF, Scale, boolean, float, ge, int, lr};
use super::registry::{Needs, OptimizerSpec};
use super::{Optimizer, Oracle, StateVector, StepInfo, named_buffers, norm2};

/// torch.optim.LBFGS's hyperparameters (`line_search_fn` as the boolean `strong_wolfe`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsHypers {
    pub lr: f64,
    pub max_iter: usize,
    pub tolerance_grad: f64,
    pub tolerance_change: f64,
    pub history_size: usize,
    pub strong_wolfe: bool,
}

impl Hypers for LbfgsHypers {
    fn fields(&mut self) -> impl IntoIterator<Item = Hyper<'_>> {
        [
            lr(&mut self.lr),
            int(
                "max_iter",
                &mut self.max_iter,
                1,
                10_000,
                "L-BFGS iterations per step (torch's default is 20)",
            ),
            float(
                "tolerance_grad",
                &mut self.tolerance_grad,
                ge(0.0),
                INF,
                Scale::Log,
                "stop when max |grad| is below this",
            ),
            float(
                "tolerance_change",
                &mut self.tolerance_change,
                ge(0.0),
                INF,
                Scale::Log,
                "stop when the step or loss change is below this",
            ),
            int(
                "history_size",
                &mut self.history_size,
                1,
                10_000,
                "number of curvature pairs kept (torch's default is 100)",
            ),
            boolean(
                "strong_wolfe",
                &mut self.strong_wolfe,
                "strong-Wolfe line search (torch: line_search_fn='strong_wolfe'); false = fixed step lr",
            ),
        ]
    }
}

pub(crate) static LBFGS: OptimizerSpec = OptimizerSpec {
    name: "lbfgs",
    description: "limited-memory BFGS with strong-Wolfe line search (torch.optim.LBFGS)",
    needs: Needs::Gradient,
    build: |b| {
        Box::new(Lbfgs::new(b.hypers(LbfgsHypers {
            lr: 1.0,
            max_iter: 1,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 10,
            strong_wolfe: true,
        })))
    },
};

/// torch.optim.LBFGS.
#[derive(Clone, Debug)]
pub struct Lbfgs {
    h: HyperSet<LbfgsHypers>,
    n_iter: u64,
    func_evals: u64,
    d: Vec<f64>,
    t: f64,
    old_dirs: Vec<Vec<f64>>,
    old_stps: Vec<Vec<f64>>,
    ro: Vec<f64>,
    h_diag: f64,
    prev_flat_grad: Vec<f64>,
    prev_loss: f64,
}

impl Lbfgs {
    pub fn new(h: HyperSet<LbfgsHypers>) -> Self {
        Self {
            h,
            n_iter: 0,
            func_evals: 0,
            d: Vec::new(),
            t: 0.0,
            old_dirs: Vec::new(),
            old_stps: Vec::new(),
            ro: Vec::new(),
            h_diag: 1.0,
            prev_flat_grad: Vec::new(),
            prev_loss: 0.0,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

/// Minimizer of the cubic through two points with values and derivatives, clamped to bounds.
pub(crate) fn cubic_interpolate(
    (x1, f1, g1): (f64, f64, f64),
    (x2, f2, g2): (f64, f64, f64),
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (xmin_bound, xmax_bound) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(xmin_bound).min(xmax_bound)
    } else {
        (xmin_bound + xmax_bound) / 2.0
    }
}

/// Result of a line search: loss, gradient and step at the accepted point, and evaluations used.
pub(crate) struct LineSearch {
    pub f: f64,
    pub g: Vec<f64>,
    pub t: f64,
    pub evals: usize,
}

/// torch's `_strong_wolfe`: `obj(t)` evaluates loss and gradient at `x + t·d`.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
pub(crate) fn strong_wolfe(
    obj: &mut dyn FnMut(f64) -> (f64, Vec<f64>),
    mut t: f64,
    d: &[f64],
    f: f64,
    g: &[f64],
    gtd: f64,
    c1: f64,
    c2: f64,
    tolerance_change: f64,
    max_ls: usize,
) -> LineSearch {
    let d_norm = max_abs(d);
    let (mut f_new, mut g_new) = obj(t);
    let mut evals = 1;
    let mut gtd_new = dot(&g_new, d);

    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f, g.to_vec(), gtd);
    let mut done = false;
    let mut ls_iter = 0;
    // bracket of step sizes; with a single point both entries are equal
    let mut bracket = [0.0; 2];
    let mut bracket_f = [0.0; 2];
    let mut bracket_g: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut bracket_gtd = [0.0; 2];
    while ls_iter < max_ls {
        if f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
            bracket = [t_prev, t];
            bracket_f = [f_prev, f_new];
            bracket_g = [g_prev.clone(), g_new.clone()];
            bracket_gtd = [gtd_prev, gtd_new];
            break;
        }
        if gtd_new.abs() <= -c2 * gtd {
            bracket = [t, t];
            bracket_f = [f_new, f_new];
            bracket_g = [g_new.clone(), g_new.clone()];
            bracket_gtd = [gtd_new, gtd_new];
            done = true;
            break;
        }
        if gtd_new >= 0.0 {
            bracket = [t_prev, t];
            bracket_f = [f_prev, f_new];
            bracket_g = [g_prev.clone(), g_new.clone()];
            bracket_gtd = [gtd_prev, gtd_new];
            break;
        }
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(
            (t_prev, f_prev, gtd_prev),
            (t, f_new, gtd_new),
            Some((min_step, max_step)),
        );
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new.clone();
        gtd_prev = gtd_new;
        (f_new, g_new) = obj(t);
        evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        bracket = [0.0, t];
        bracket_f = [f, f_new];
        bracket_g = [g.to_vec(), g_new.clone()];
        bracket_gtd = [gtd, gtd_new];
    }

    let mut insuf_progress = false;
    let (mut low, mut high) = if bracket_f[0] <= bracket_f[1] {
        (0, 1)
    } else {
        (1, 0)
    };
    while !done && ls_iter < max_ls {
        if (bracket[1] - bracket[0]).abs() * d_norm < tolerance_change {
            break;
        }
        t = cubic_interpolate(
            (bracket[0], bracket_f[0], bracket_gtd[0]),
            (bracket[1], bracket_f[1], bracket_gtd[1]),
            None,
        );
        let (bmax, bmin) = (bracket[0].max(bracket[1]), bracket[0].min(bracket[1]));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        (f_new, g_new) = obj(t);
        evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;

        if f_new > f + c1 * t * gtd || f_new >= bracket_f[low] {
            bracket[high] = t;
            bracket_f[high] = f_new;
            bracket_g[high] = g_new.clone();
            bracket_gtd[high] = gtd_new;
            (low, high) = if bracket_f[0] <= bracket_f[1] {
                (0, 1)
            } else {
                (1, 0)
            };
        } else {
            if gtd_new.abs() <= -c2 * gtd {
                done = true;
            } else if gtd_new * (bracket[high] - bracket[low]) >= 0.0 {
                bracket[high] = bracket[low];
                bracket_f[high] = bracket_f[low];
                bracket_g[high] = bracket_g[low].clone();
                bracket_gtd[high] = bracket_gtd[low];
            }
            bracket[low] = t;
            bracket_f[low] = f_new;
            bracket_g[low] = g_new.clone();
            bracket_gtd[low] = gtd_new;
        }
    }
    LineSearch {
        f: bracket_f[low],
        g: std::mem::take(&mut bracket_g[low]),
        t: bracket[low],
        evals,
    }
}

impl Optimizer for Lbfgs {
    // d = −H̃g (two-loop recursion over the last m pairs (s, y), H̃₀ = sᵀy/yᵀy);
    // t = strong-Wolfe step from γ (γ·min(1, 1/|g|₁) on the first iteration); θ += t·d
    #[allow(clippy::too_many_lines, clippy::needless_range_loop)]
    fn step(&mut self, params: &mut [f64], oracle: &mut dyn Oracle) -> StepInfo {
        let LbfgsHypers {
            lr,
            max_iter,
            tolerance_grad,
            tolerance_change,
            history_size,
            strong_wolfe: line_search,
        } = *self.h;
        let max_eval = max_iter * 5 / 4;
        let n = params.len();

        let mut flat_grad = vec![0.0; n];
        let orig_loss = oracle.value_and_gradient(params, &mut flat_grad);
        let grad_norm = norm2(&flat_grad);
        let mut loss = orig_loss;
        let mut current_evals = 1;
        self.func_evals += 1;
        let info = StepInfo {
            loss: orig_loss,
            grad_norm: Some(grad_norm),
        };
        if max_abs(&flat_grad) <= tolerance_grad {
            return info;
        }

        let mut n_iter = 0;
        while n_iter < max_iter {
            n_iter += 1;
            self.n_iter += 1;
            if self.n_iter == 1 {
                self.d = flat_grad.iter().map(|g| -g).collect();
                self.old_dirs.clear();
                self.old_stps.clear();
                self.ro.clear();
                self.h_diag = 1.0;
            } else {
                let y: Vec<f64> = flat_grad
                    .iter()
                    .zip(&self.prev_flat_grad)
                    .map(|(a, b)| a - b)
                    .collect();
                let s: Vec<f64> = self.d.iter().map(|v| v * self.t).collect();
                let ys = dot(&y, &s);
                if ys > 1e-10 {
                    if self.old_dirs.len() >= history_size {
                        let drop = self.old_dirs.len() + 1 - history_size;
                        self.old_dirs.drain(..drop);
                        self.old_stps.drain(..drop);
                        self.ro.drain(..drop);
                    }
                    self.h_diag = ys / dot(&y, &y);
                    self.old_dirs.push(y);
                    self.old_stps.push(s);
                    self.ro.push(1.0 / ys);
                }
                let num_old = self.old_dirs.len();
                let mut al = vec![0.0; num_old];
                let mut q: Vec<f64> = flat_grad.iter().map(|g| -g).collect();
                for i in (0..num_old).rev() {
                    al[i] = dot(&self.old_stps[i], &q) * self.ro[i];
                    for (qj, yj) in q.iter_mut().zip(&self.old_dirs[i]) {
                        *qj += -al[i] * yj;
                    }
                }
                let mut r: Vec<f64> = q.iter().map(|v| v * self.h_diag).collect();
                for i in 0..num_old {
                    let be_i = dot(&self.old_dirs[i], &r) * self.ro[i];
                    for (rj, sj) in r.iter_mut().zip(&self.old_stps[i]) {
                        *rj += (al[i] - be_i) * sj;
                    }
                }
                self.d = r;
            }
            self.prev_flat_grad.clone_from(&flat_grad);
            self.prev_loss = loss;

            self.t = if self.n_iter == 1 {
                (1.0 / flat_grad.iter().map(|g| g.abs()).sum::<f64>()).min(1.0) * lr
            } else {
                lr
            };
            let gtd = dot(&flat_grad, &self.d);
            if gtd > -tolerance_change {
                break;
            }

            let ls_func_evals;
            let opt_cond;
            if line_search {
                let x_init = params.to_vec();
                let d = self.d.clone();
                let mut obj = |t: f64| {
                    let x: Vec<f64> = x_init.iter().zip(&d).map(|(x, d)| x + t * d).collect();
                    let mut g = vec![0.0; n];
                    let f = oracle.value_and_gradient(&x, &mut g);
                    (f, g)
                };
                let ls = strong_wolfe(
                    &mut obj,
                    self.t,
                    &d,
                    loss,
                    &flat_grad,
                    gtd,
                    1e-4,
                    0.9,
                    tolerance_change,
                    25,
                );
                loss = ls.f;
                flat_grad = ls.g;
                self.t = ls.t;
                ls_func_evals = ls.evals;
                for (p, di) in params.iter_mut().zip(&self.d) {
                    *p += self.t * di;
                }
                opt_cond = max_abs(&flat_grad) <= tolerance_grad;
            } else {
                for (p, di) in params.iter_mut().zip(&self.d) {
                    *p += self.t * di;
                }
                if n_iter == max_iter {
                    ls_func_evals = 0;
                    opt_cond = false;
                } else {
                    loss = oracle.value_and_gradient(params, &mut flat_grad);
                    opt_cond = max_abs(&flat_grad) <= tolerance_grad;
                    ls_func_evals = 1;
                }
            }
            current_evals += ls_func_evals;
            self.func_evals += ls_func_evals as u64;

            if n_iter == max_iter || current_evals >= max_eval || opt_cond {
                break;
            }
            if max_abs(&self.d) * self.t.abs() <= tolerance_change {
                break;
            }
            if (loss - self.prev_loss).abs() < tolerance_change {
                break;
            }
        }
        info
    }
    fn state(&self) -> Vec<StateVector> {
        named_buffers([
            ("direction", &self.d),
            ("t", &[self.t]),
            ("H_diag", &[self.h_diag]),
            ("history", &[self.old_dirs.len() as f64]),
        ])
    }
    fn reset(&mut self) {
        let h = self.h.clone();
        *self = Self::new(h);
    }
    fn hyper_set(&self) -> &dyn HyperAccess {
        &self.h
    }
    fn hyper_set_mut(&mut self) -> &mut dyn HyperAccess {
        &mut self.h
    }
}

#[cfg(test)]
mod tests {
    use super::super::FnOracle;
    use super::super::registry::build;
    use super::super::testutil::*;
    use super::cubic_interpolate;

    #[test]
    fn cubic_interpolation_finds_the_minimum_of_a_cubic() {
        // φ(t) = (t − 1)²: the cubic fit through t = 0 and t = 3 is exact
        let phi = |t: f64| ((t - 1.0) * (t - 1.0), 2.0 * (t - 1.0));
        let (f0, g0) = phi(0.0);
        let (f3, g3) = phi(3.0);
        let t = cubic_interpolate((0.0, f0, g0), (3.0, f3, g3), None);
        assert!((t - 1.0).abs() < 1e-12, "{t}");
        // clamped to bounds
        let t = cubic_interpolate((0.0, f0, g0), (3.0, f3, g3), Some((2.0, 5.0)));
        assert_eq!(t, 2.0);
    }

    #[test]
    fn strong_wolfe_returns_a_point_satisfying_both_conditions() {
        // f = 0.5(x² + 10y²) from START along −∇f, first trial step 1 (far too long)
        let x0 = START;
        let g0 = quad_grad(&x0);
        let f0 = 0.5 * (x0[0] * x0[0] + 10.0 * x0[1] * x0[1]);
        let d: Vec<f64> = g0.iter().map(|g| -g).collect();
        let gtd = -(g0[0] * g0[0] + g0[1] * g0[1]);
        let mut calls = 0;
        let mut obj = |t: f64| {
            calls += 1;
            let x = [x0[0] + t * d[0], x0[1] + t * d[1]];
            (0.5 * (x[0] * x[0] + 10.0 * x[1] * x[1]), quad_grad(&x))
        };
        let ls = super::strong_wolfe(&mut obj, 1.0, &d, f0, &g0, gtd, 1e-4, 0.9, 1e-9, 25);
        assert_eq!(ls.evals, calls);
        assert!(ls.evals > 1, "the first trial step must be rejected");
        let gtd_new = ls.g[0] * d[0] + ls.g[1] * d[1];
        assert!(ls.f <= f0 + 1e-4 * ls.t * gtd, "Armijo");
        assert!(gtd_new.abs() <= 0.9 * gtd.abs(), "curvature");
    }

    #[test]
    fn converges_on_the_quadratic() {
        let mut o = build("lbfgs", &[], 0, 2).expect("builds");
        let x = trajectory(o.as_mut(), 20);
        let last = x[x.len() - 1];
        // torch's tolerances (tolerance_grad 1e-7, curvature pairs need sᵀy > 1e-10) stop
        // progress at about this level
        assert!(last[0].abs() < 1e-6 && last[1].abs() < 1e-6, "{last:?}");
    }

    #[test]
    fn converges_on_rosenbrock() {
        let mut oracle = FnOracle::new(2, |x| {
            (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
        })
        .with_gradient(|x, g| {
            g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200.0 * (x[1] - x[0] * x[0]);
        });
        let mut o = build("lbfgs", &[], 0, 2).expect("builds");
        let mut x = vec![-1.2, 1.0];
        for _ in 0..200 {
            o.step(&mut x, &mut oracle);
        }
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?}"
        );
        assert!(
            oracle.calls > 200,
            "the line search evaluates through the oracle"
        );
    }

    #[test]
    fn fixed_step_variant_runs_several_iterations_per_step() {
        let mut o = build(
            "lbfgs",
            &[
                ("strong_wolfe".into(), false.into()),
                ("max_iter".into(), 20usize.into()),
                ("lr".into(), 0.1.into()),
            ],
            0,
            2,
        )
        .expect("builds");
        let x = trajectory(o.as_mut(), 30);
        let last = x[x.len() - 1];
        // each step's inner loop stops once the loss changes by < tolerance_change = 1e-9
        assert!(last[0].abs() < 1e-4 && last[1].abs() < 1e-4, "{last:?}");
    }
}
