//! Gradient engines: Rosenbrock 2-D from the parsed expression (forward, reverse, finite
//! differences, hand-written analytic floor) and extended Rosenbrock for n = 10 ... 10000 written
//! once over `Scalar` as a partially separable sum (`Scalar::sum_windows`): f, the reverse
//! gradient on the fused tape, the same function written term by term (`reverse_by_op`), and the
//! chunked forward gradient.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradscope::ad::tape::{self, Tape};
use gradscope::ad::{Scalar, ScalarFn, WindowTerm, dual, finite};
use gradscope::expr::{Expression, Workspace};

// The extended-Rosenbrock closures allocate a term vector of up to 10,000 entries per call
// (80 KB of `f64`, 400 KB of `Var`): glibc serves the larger one with a fresh `mmap` each time
// (~200 page faults per gradient), which would measure the kernel, not the tape. Both `f` and
// the gradients run under the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROSENBROCK: &str = "(1-x)^2 + 100*(y-x^2)^2";

fn rosenbrock_analytic(x: f64, y: f64, g: &mut [f64; 2]) -> f64 {
    let a = 1.0 - x;
    let b = y - x * x;
    g[0] = -2.0 * a - 400.0 * x * b;
    g[1] = 200.0 * b;
    a * a + 100.0 * b * b
}

fn rosenbrock_2d(c: &mut Criterion) {
    let expr = Expression::parse(ROSENBROCK).expect("valid expression");
    let p = [-1.5, 2.0];
    let mut work = Workspace::default();
    let mut g = [0.0; 2];
    let mut group = c.benchmark_group("rosenbrock_2d_gradient");
    group.throughput(Throughput::Elements(1));
    group.bench_function("reverse", |b| {
        b.iter(|| expr.gradient_reverse(black_box(&p), &mut work, &mut g));
    });
    group.bench_function("forward", |b| {
        b.iter(|| expr.gradient_forward(black_box(&p), 2, &mut work, &mut g));
    });
    group.bench_function("forward_chunk8", |b| {
        b.iter(|| expr.gradient_forward(black_box(&p), dual::MAX_CHUNK, &mut work, &mut g));
    });
    group.bench_function("finite", |b| {
        b.iter(|| finite::gradient_with(black_box(&p), &mut g, |q| expr.eval_f64(q)));
    });
    group.bench_function("analytic", |b| {
        b.iter(|| rosenbrock_analytic(black_box(p[0]), black_box(p[1]), &mut g));
    });
    let mut tape = Tape::fused();
    group.bench_function("reverse_generic_tape", |b| {
        b.iter(|| tape::gradient_with(&mut tape, black_box(&p), &mut g, |v| expr.eval(v)));
    });
    group.finish();
}

/// `sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2`, written once over `Scalar` as a
/// partially separable sum ([`Scalar::sum_windows`]): the fused tape records one node.
struct ExtendedRosenbrock(usize);

/// The element function on the window `(x[i], x[i+1])`.
struct RosenbrockTerm;

impl WindowTerm<2> for RosenbrockTerm {
    #[inline]
    fn term<S: Scalar>(&self, [a, b]: &[S; 2]) -> S {
        (*b - *a * *a).powi(2) * 100.0 + (S::constant(1.0) - *a).powi(2)
    }
}

impl ScalarFn for ExtendedRosenbrock {
    fn dim(&self) -> usize {
        self.0
    }
    fn eval<S: Scalar>(&self, x: &[S]) -> S {
        S::sum_windows(x, &RosenbrockTerm)
    }
}

/// The same function written term by term (`terms` then `sum`): on the fused tape every
/// operation of every term goes through `Var` arithmetic. For comparison.
struct ExtendedRosenbrockByOp(usize);

impl ScalarFn for ExtendedRosenbrockByOp {
    fn dim(&self) -> usize {
        self.0
    }
    fn eval<S: Scalar>(&self, x: &[S]) -> S {
        let terms: Vec<S> = x
            .windows(2)
            .map(|w| (w[1] - w[0] * w[0]).powi(2) * 100.0 + (S::constant(1.0) - w[0]).powi(2))
            .collect();
        S::sum(&terms)
    }
}

fn extended_rosenbrock(c: &mut Criterion) {
    let mut group = c.benchmark_group("extended_rosenbrock");
    group.sample_size(20);
    for n in [10_usize, 100, 1000, 10_000] {
        let f = ExtendedRosenbrock(n);
        let x: Vec<f64> = (0..n)
            .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
            .collect();
        let mut g = vec![0.0; n];
        let mut tape = Tape::fused();
        group.bench_with_input(BenchmarkId::new("f", n), &n, |b, _| {
            b.iter(|| f.eval(black_box(x.as_slice())));
        });
        group.bench_with_input(BenchmarkId::new("reverse", n), &n, |b, _| {
            b.iter(|| tape::gradient_with(&mut tape, black_box(&x), &mut g, |v| f.eval(v)));
        });
        let by_op = ExtendedRosenbrockByOp(n);
        group.bench_with_input(BenchmarkId::new("reverse_by_op", n), &n, |b, _| {
            b.iter(|| tape::gradient_with(&mut tape, black_box(&x), &mut g, |v| by_op.eval(v)));
        });
        if n <= 1000 {
            group.bench_with_input(BenchmarkId::new("forward_chunk8", n), &n, |b, _| {
                b.iter(|| dual::gradient(&f, black_box(&x), dual::MAX_CHUNK, &mut g));
            });
        }
    }
    // n = 10000 forward takes 1250 passes of 10000 terms; measured with fewer samples.
    group.sample_size(10);
    let f = ExtendedRosenbrock(10_000);
    let x: Vec<f64> = (0..10_000)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let mut g = vec![0.0; 10_000];
    group.bench_function(BenchmarkId::new("forward_chunk8", 10_000), |b| {
        b.iter(|| dual::gradient(&f, black_box(&x), dual::MAX_CHUNK, &mut g));
    });
    group.finish();
}

criterion_group!(benches, rosenbrock_2d, extended_rosenbrock);
criterion_main!(benches);
