//! Full-batch Adam training steps per second through the real path (`ModelObjective` in a
//! `Session` with one `adam` run): two moons, 200 points, MLPs 2-16-16-1 and 2-64-64-1 (tanh
//! hidden, one logit, BCE on logits), reverse engine and forward engine (chunk 8).
//!
//! `train_scale`: the other training rows of the peer comparison (BENCHMARKS.md, section 10),
//! built from scenario text exactly as `gradscope --headless` builds them: moons 200 with
//! 2-256-256-1; 64-32-10 softmax cross-entropy on 1,797 blobs; moons 10,000 with 2-64-64-1 on
//! minibatches of 64. One iteration is one Adam step of the reverse engine.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradscope::ad::{DEFAULT_CHUNK, Engine};
use gradscope::scenario::Overrides;
use gradscope::session::{RunSpec, Session, StopConfig};

mod common;

use common::SEED;

fn session(hidden: usize, engine: Engine) -> Session {
    let (objective, _) = common::moons_mlp(hidden);
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

/// The scenario behind each `train_scale` case: name, model, loss and data lines.
const SCALE: [(&str, &str); 3] = [
    (
        "moons200_2-256-256-1",
        "model: {kind: mlp, layers: [2, 256, 256, 1], activation: tanh}
  loss: bce_logits
  data: {kind: moons, n: 200, noise: 0.1}",
    ),
    (
        "blobs1797_64-32-10_ce",
        "model: {kind: mlp, layers: [64, 32, 10], activation: tanh}
  loss: cross_entropy
  data: {kind: blobs, n: 1797, centers: 10, features: 64, cluster_std: 4}",
    ),
    (
        "moons10000_2-64-64-1_batch64",
        "model: {kind: mlp, layers: [2, 64, 64, 1], activation: tanh}
  loss: bce_logits
  data: {kind: moons, n: 10000, noise: 0.1}
  batch_size: 64",
    ),
];

fn scale_session(name: &str, objective: &str) -> Session {
    let yaml = format!(
        "name: {name}
seed: 7
objective:
  {objective}
  init: {{kind: xavier_uniform, gain: 1}}
engine: reverse
optimizers:
  - name: adam
    lr: 0.01
stop: {{max_steps: 100000000}}
"
    );
    gradscope::scenario::load_str_and_build(&yaml, name, &Overrides::default())
        .expect("valid scenario")
        .session
}

fn train_scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_scale");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for (name, objective) in SCALE {
        let mut s = scale_session(name, objective);
        group.bench_function(name, |b| b.iter(|| black_box(&mut s).step_all()));
    }
    group.finish();
}

criterion_group!(benches, train, train_scale);
criterion_main!(benches);
