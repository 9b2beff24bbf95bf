//! Per-example gradients per second (what the gradient-noise figures cost): two moons, 200
//! points, the 2-16-16-1 tanh MLP with one logit and BCE on logits, one reverse pass per
//! example, then the noise figures from them.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gradscope::data::{Batcher, Generator};
use gradscope::model::{Activation, Init, Loss, LossKind, Mlp, Model, init_params};
use gradscope::objective::{ModelObjective, Objective, noise};

const SEED: u64 = 7;
const POINTS: usize = 200;

fn noise(c: &mut Criterion) {
    let train = Generator::Moons {
        n: POINTS,
        noise: 0.1,
    }
    .generate(SEED)
    .expect("moons");
    let mlp = Mlp::with_hidden(vec![2, 16, 16, 1], Activation::Tanh, Activation::Identity)
        .expect("valid MLP");
    let model = Model::Mlp(mlp);
    let start = init_params(&model, &Init::XAVIER_UNIFORM, SEED).expect("init");
    let names = (0..start.len()).map(|i| format!("p{i}")).collect();
    let objective = ModelObjective::new(
        model,
        Loss::new(LossKind::BceWithLogits),
        train,
        None,
        start.clone(),
        Batcher::new(POINTS, POINTS, SEED).expect("batcher"),
        names,
    );
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
