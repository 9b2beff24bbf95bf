//! Per-example gradients per second (what the gradient-noise figures cost): two moons, 200
//! points, the 2-16-16-1 tanh MLP with one logit and BCE on logits, one reverse pass per
//! example, then the noise figures from them.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gradscope::objective::{Objective, noise};

mod common;

use common::POINTS;

fn noise(c: &mut Criterion) {
    let (objective, start) = common::moons_mlp(16);
    let batch: Vec<usize> = (0..32).collect();
    let mut group = c.benchmark_group("per_example_gradients_moons200_mlp_2_16_16_1");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function("gradients", |b| {
        b.iter(|| black_box(objective.per_example_gradients(black_box(&start))));
    });
    group.bench_function("gradients_and_figures", |b| {
        b.iter(|| {
            let per = objective
                .per_example_gradients(black_box(&start))
                .expect("a model has examples");
            black_box(noise::stats(&per, &batch))
        });
    });
    group.finish();
}

criterion_group!(benches, noise);
criterion_main!(benches);
