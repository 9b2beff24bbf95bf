//! Full-batch Adam training steps per second through the real path (`ModelObjective` in a
//! `Session` with one `adam` run): two moons, 200 points, MLPs 2-16-16-1 and 2-64-64-1 (tanh
//! hidden, one logit, BCE on logits), reverse engine and forward engine (chunk 8).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradscope::ad::{DEFAULT_CHUNK, Engine};
use gradscope::data::{Batcher, Generator};
use gradscope::model::{Activation, Init, Loss, LossKind, Mlp, Model, init_params};
use gradscope::objective::ModelObjective;
use gradscope::session::{RunSpec, Session, StopConfig};

const SEED: u64 = 7;
const POINTS: usize = 200;

fn session(hidden: usize, engine: Engine) -> Session {
    let train = Generator::Moons {
        n: POINTS,
        noise: 0.1,
    }
    .generate(SEED)
    .expect("moons");
    let n = train.len();
    let mlp = Mlp::with_hidden(
        vec![2, hidden, hidden, 1],
        Activation::Tanh,
        Activation::Identity,
    )
    .expect("valid MLP");
    let model = Model::Mlp(mlp);
    let start = init_params(&model, &Init::XAVIER_UNIFORM, SEED).expect("init");
    let names = (0..start.len()).map(|i| format!("p{i}")).collect();
    let objective = ModelObjective::new(
        model,
        Loss::new(LossKind::BceWithLogits),
        train,
        None,
        start,
        Batcher::new(n, n, SEED).expect("batcher"),
        names,
    );
    Session::new(
        "train",
        Box::new(objective),
        vec![RunSpec::new("adam")],
        engine,
        StopConfig {
            max_steps: u64::MAX,
            ..Default::default()
        },
        SEED,
    )
    .expect("session")
}

fn train(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_moons200_adam");
    group.throughput(Throughput::Elements(1));
    for hidden in [16_usize, 64] {
        let engines = [
            ("reverse", Engine::Reverse),
            (
                "forward_chunk8",
                Engine::Forward {
                    chunk: DEFAULT_CHUNK,
                },
            ),
        ];
        for (name, engine) in engines {
            // Forward mode on 2-64-64-1 (4,417 parameters) takes 553 passes a step: few samples.
            if hidden == 64 && name != "reverse" {
                group.sample_size(10);
            } else {
                group.sample_size(30);
            }
            let mut s = session(hidden, engine);
            let id = BenchmarkId::new(name, format!("2-{hidden}-{hidden}-1"));
            group.bench_function(id, |b| b.iter(|| black_box(&mut s).step_all()));
        }
    }
    group.finish();
}

criterion_group!(benches, train);
criterion_main!(benches);
