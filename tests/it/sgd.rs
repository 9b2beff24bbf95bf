//! Issue 16: stochastic gradient descent for real. Each run draws its own batches (size,
//! shuffle, drop_last) from a stream of its own; a fixed order trains exactly as an independent
//! loop over consecutive batches does.

use gradscope::ad::Engine;
use gradscope::data::{Batcher, Dataset, Task};
use gradscope::model::{Loss, LossKind, Model};
use gradscope::objective::{ModelObjective, Objective};
use gradscope::optim::HyperValue;
use gradscope::session::{RunSpec, Session, StopConfig};

/// A logistic-regression problem on 11 points in 2-D with an L2 penalty, full batch by default.
fn logistic(l2: f64) -> ModelObjective<Model> {
    let rows: Vec<Vec<f64>> = (0..11)
        .map(|i| {
            let t = f64::from(i);
            let x1 = (t * 0.7).sin() * 2.0;
            let x2 = (t * 1.3).cos() - 0.2 * t;
            let y = if x1 + 0.5 * x2 + 0.1 * t > 0.3 {
                1.0
            } else {
                0.0
            };
            vec![x1, x2, y]
        })
        .collect();
    let data = Dataset::from_rows(&rows, 2, Task::Binary).expect("rows");
    let n = data.len();
    ModelObjective::new(
        Model::Logistic { n_inputs: 2 },
        Loss::new(LossKind::BceWithLogits).with_l2(l2),
        data,
        None,
        vec![0.3, -0.2, 0.1],
        Batcher::new(n, n, 99).expect("batcher"),
        vec!["w1".into(), "w2".into(), "b".into()],
    )
}

fn sgd(label: &str, lr: f64, batch: Option<usize>, shuffle: Option<bool>) -> RunSpec {
    RunSpec {
        label: label.into(),
        hyperparameters: vec![("lr".into(), HyperValue::Float(lr))],
        batch_size: batch,
        shuffle,
        ..RunSpec::new("sgd")
    }
}

fn session(obj: Box<dyn Objective>, specs: Vec<RunSpec>, seed: u64) -> Session {
    let stop = StopConfig {
        max_steps: 1000,
        ..StopConfig::default()
    };
    Session::new("test", obj, specs, Engine::Reverse, stop, seed).expect("session")
}

/// Parameters of every step of run `label`, over `steps` steps.
fn trajectory(s: &mut Session, label: &str, steps: usize) -> Vec<Vec<f64>> {
    let i = s
        .runs()
        .iter()
        .position(|r| r.label() == label)
        .expect("run");
    (0..steps)
        .map(|_| {
            s.step_all();
            s.runs()[i].params().to_vec()
        })
        .collect()
}

#[test]
fn each_run_draws_its_own_stream_whatever_the_other_runs() {
    let obj = logistic(0.0);
    let alone = trajectory(
        &mut session(Box::new(obj.clone()), vec![sgd("b", 0.1, Some(3), None)], 5),
        "b",
        30,
    );
    let specs = vec![
        sgd("a", 0.1, Some(3), None),
        RunSpec::new("gd"),
        sgd("b", 0.1, Some(3), None),
    ];
    let mut crowded = session(Box::new(obj.clone()), specs, 5);
    let with_others = trajectory(&mut crowded, "b", 30);
    assert_eq!(alone, with_others, "other runs changed b's batches");
    // Same settings, another label: another order, another trajectory.
    let a = trajectory(
        &mut session(Box::new(obj.clone()), vec![sgd("a", 0.1, Some(3), None)], 5),
        "a",
        30,
    );
    assert_ne!(a, alone);
    // Another scenario seed: another order too.
    let reseeded = trajectory(
        &mut session(Box::new(obj), vec![sgd("b", 0.1, Some(3), None)], 6),
        "b",
        30,
    );
    assert_ne!(reseeded, alone);
}

#[test]
fn runs_override_the_objectives_batching_and_gd_stays_full_batch() {
    // The objective's default is minibatches of 4.
    let mut obj = logistic(0.0);
    obj.set_batching(
        gradscope::data::Batching {
            batch_size: Some(4),
            ..Default::default()
        },
        1,
    );
    let specs = vec![
        RunSpec::new("gd"),
        sgd("default", 0.1, None, None),
        sgd("one", 0.1, Some(1), None),
        sgd("all", 0.1, Some(11), None),
    ];
    let mut s = session(Box::new(obj), specs, 2);
    for _ in 0..3 {
        s.step_all();
    }
    let len: Vec<usize> = s.runs().iter().map(|r| r.objective().batch_len()).collect();
    // The third batch of 4 is the partial last one of the epoch: 11 = 4 + 4 + 3.
    assert_eq!(len, vec![11, 3, 1, 11]);
    let stochastic: Vec<bool> = s
        .runs()
        .iter()
        .map(|r| r.objective().is_stochastic())
        .collect();
    assert_eq!(stochastic, vec![false, true, true, false]);
    // Examples seen: one gradient a step, each on its batch.
    let examples: Vec<u64> = s.runs().iter().map(|r| r.counts().examples).collect();
    assert_eq!(examples, vec![33, 11, 3, 33]);
}

/// The L2-penalised logistic loss of `p = [w1, w2, b]` on rows `batch` and its gradient, by hand.
fn loss_and_grad(p: &[f64; 3], rows: &[(f64, f64, f64)], batch: &[usize], l2: f64) -> [f64; 3] {
    let mut g = [0.0; 3];
    let m = batch.len() as f64;
    for &i in batch {
        let (x1, x2, y) = rows[i];
        let z = p[0] * x1 + p[1] * x2 + p[2];
        let d = (1.0 / (1.0 + (-z).exp()) - y) / m;
        g[0] += d * x1;
        g[1] += d * x2;
        g[2] += d;
    }
    // The penalty l2 * |w|² covers the weights, not the bias.
    g[0] += 2.0 * l2 * p[0];
    g[1] += 2.0 * l2 * p[1];
    g
}

#[test]
fn fixed_order_minibatch_sgd_matches_an_independent_loop() {
    let l2 = 0.01;
    let obj = logistic(l2);
    let rows: Vec<(f64, f64, f64)> = (0..11)
        .map(|i| {
            let d = obj.train();
            (d.row(i)[0], d.row(i)[1], d.target(i)[0])
        })
        .collect();
    for (batch, drop_last) in [(3, false), (3, true), (1, false), (11, false)] {
        let spec = RunSpec {
            drop_last: Some(drop_last),
            ..sgd("fixed", 0.5, Some(batch), Some(false))
        };
        let mut s = session(Box::new(obj.clone()), vec![spec], 3);
        // The DataLoader(shuffle=False) order, written out.
        let per_epoch = if drop_last {
            11 / batch
        } else {
            11_usize.div_ceil(batch)
        };
        let mut p = [0.3, -0.2, 0.1];
        for step in 0..25 {
            let k = step % per_epoch;
            let idx: Vec<usize> = (k * batch..((k + 1) * batch).min(11)).collect();
            let g = loss_and_grad(&p, &rows, &idx, l2);
            for j in 0..3 {
                p[j] -= 0.5 * g[j];
            }
            s.step_all();
            let run = &s.runs()[0];
            assert_eq!(run.objective().batch_indices(), idx.as_slice());
            for (&a, &b) in run.params().iter().zip(&p) {
                assert!(
                    (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                    "batch {batch} drop_last {drop_last} step {step}: {a} vs {b}"
                );
            }
        }
    }
}

/// Per-example gradients of the logistic problem by hand (no penalty).
fn by_hand_per_example(p: &[f64; 3], rows: &[(f64, f64, f64)]) -> Vec<[f64; 3]> {
    rows.iter()
        .enumerate()
        .map(|(i, _)| loss_and_grad(p, rows, &[i], 0.0))
        .collect()
}

fn rows_of(obj: &ModelObjective<Model>) -> Vec<(f64, f64, f64)> {
    let d = obj.train();
    (0..d.len())
        .map(|i| (d.row(i)[0], d.row(i)[1], d.target(i)[0]))
        .collect()
}

#[test]
fn noise_figures_match_an_independent_computation() {
    let obj = logistic(0.0);
    let rows = rows_of(&obj);
    let mut s = session(Box::new(obj), vec![sgd("mb", 0.3, Some(4), None)], 11);
    for _ in 0..6 {
        s.step_all();
    }
    let run = &s.runs()[0];
    let stats = run
        .gradient_noise()
        .expect("a model objective has noise figures");
    let p = [run.params()[0], run.params()[1], run.params()[2]];
    let g = by_hand_per_example(&p, &rows);
    let n = g.len() as f64;
    let full: Vec<f64> = (0..3)
        .map(|j| g.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let batch = run.objective().batch_indices().to_vec();
    assert_eq!(
        batch.len(),
        3,
        "step 6 is the partial last batch of epoch 2 (4 + 4 + 3)"
    );
    let b = batch.len() as f64;
    let g_b: Vec<f64> = (0..3)
        .map(|j| batch.iter().map(|&i| g[i][j]).sum::<f64>() / b)
        .collect();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let trace: f64 = g
        .iter()
        .map(|r| (0..3).map(|j| (r[j] - full[j]).powi(2)).sum::<f64>())
        .sum::<f64>()
        / (n - 1.0);
    let diff: Vec<f64> = (0..3).map(|j| g_b[j] - full[j]).collect();
    let cos = (0..3).map(|j| g_b[j] * full[j]).sum::<f64>() / (norm(&g_b) * norm(&full));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300);
    assert!(close(stats.full_gradient_norm, norm(&full)));
    assert!(close(stats.minibatch_gradient_norm, norm(&g_b)));
    assert!(
        close(stats.trace_cov, trace),
        "{} vs {trace}",
        stats.trace_cov
    );
    assert!(close(
        stats.noise_scale.expect("G ≠ 0"),
        trace / norm(&full).powi(2)
    ));
    assert!(close(stats.cosine.expect("nonzero"), cos));
    assert!(close(
        stats.relative_error.expect("G ≠ 0"),
        norm(&diff) / norm(&full)
    ));
    assert!(close(stats.observed_sq_error, norm(&diff).powi(2)));
    assert!(close(stats.expected_sq_error, trace / b * (n - b) / n));
    // At the start the figures take the first batch the run will see, and differ from now.
    let initial = run.initial_noise().expect("computed at the start");
    assert_eq!(initial.batch_size, 4);
    assert_ne!(initial.full_gradient_norm, stats.full_gradient_norm);
}

/// Every `k`-subset of `0..n`, in lexicographic order.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    if n < k {
        return Vec::new();
    }
    // Those without n-1, then those with it.
    let mut out = subsets(n - 1, k);
    for mut s in subsets(n - 1, k - 1) {
        s.push(n - 1);
        out.push(s);
    }
    out
}

#[test]
fn expected_minibatch_error_is_exact_over_every_batch_and_close_over_drawn_ones() {
    use gradscope::objective::noise;
    let obj = logistic(0.02);
    let per = obj
        .per_example_gradients(&[0.4, -0.7, 0.2])
        .expect("per-example gradients");
    let n = per.n;
    assert_eq!(n, 11);
    for b in 1..=n {
        let all = subsets(n, b);
        let mean_sq: f64 = all
            .iter()
            .map(|s| noise::stats(&per, s).observed_sq_error)
            .sum::<f64>()
            / all.len() as f64;
        let expected = noise::stats(&per, &all[0]).expected_sq_error;
        assert!(
            (mean_sq - expected).abs() <= 1e-12 * expected.max(1e-12),
            "B = {b}: mean over {} batches {mean_sq} vs tr(Σ)/B (n−B)/n {expected}",
            all.len()
        );
    }

    // 200 examples: too many batches to list, so draw 4000 and allow four standard errors.
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    let data = gradscope::data::generate::moons(200, 0.2, 3).expect("moons");
    let big = ModelObjective::new(
        Model::Logistic { n_inputs: 2 },
        Loss::new(LossKind::BceWithLogits),
        data,
        None,
        vec![0.5, -0.3, 0.1],
        Batcher::new(200, 200, 0).expect("batcher"),
        vec!["w1".into(), "w2".into(), "b".into()],
    );
    let per = big
        .per_example_gradients(&[0.5, -0.3, 0.1])
        .expect("per-example");
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let b = 10;
    let draws = 4000;
    let mut order: Vec<usize> = (0..200).collect();
    let mut samples = Vec::with_capacity(draws);
    for _ in 0..draws {
        gradscope::data::generate::shuffle(&mut order, &mut rng);
        samples.push(noise::stats(&per, &order[..b]).observed_sq_error);
    }
    let mean = samples.iter().sum::<f64>() / draws as f64;
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (draws - 1) as f64;
    let se = (var / draws as f64).sqrt();
    let expected = noise::stats(&per, &order[..b]).expected_sq_error;
    assert!(
        (mean - expected).abs() <= 4.0 * se,
        "mean {mean} vs expected {expected} (standard error {se})"
    );
}

/// `tests/fixtures/optim/minibatch.json`, written by `gen_minibatch.py` from a PyTorch loop over
/// `DataLoader(shuffle=False, drop_last=False)`.
#[derive(serde::Deserialize)]
struct TorchFile {
    layers: Vec<usize>,
    activation: String,
    inputs: Vec<Vec<f64>>,
    targets: Vec<Vec<f64>>,
    initial: Vec<f64>,
    cases: Vec<TorchCase>,
}

#[derive(serde::Deserialize)]
struct TorchCase {
    name: String,
    optimizer: String,
    hyperparameters: std::collections::BTreeMap<String, serde_json::Value>,
    batch_size: usize,
    steps: Vec<TorchStep>,
}

#[derive(serde::Deserialize)]
struct TorchStep {
    batch: Vec<usize>,
    loss: f64,
    params: Vec<f64>,
}

#[test]
fn fixed_order_minibatches_train_exactly_as_a_pytorch_dataloader_loop() {
    use gradscope::model::{Activation, Mlp};
    let file: TorchFile =
        serde_json::from_str(include_str!("../fixtures/optim/minibatch.json")).expect("fixture");
    let rows: Vec<Vec<f64>> = file
        .inputs
        .iter()
        .zip(&file.targets)
        .map(|(x, t)| x.iter().chain(t).copied().collect())
        .collect();
    let data = Dataset::from_rows(&rows, file.inputs[0].len(), Task::Regression).expect("data");
    let n = data.len();
    let hidden = Activation::from_name(&file.activation).expect("activation");
    let model = Mlp::with_hidden(file.layers.clone(), hidden, Activation::Identity).expect("mlp");
    let names = (0..file.initial.len()).map(|i| format!("p{i}")).collect();
    let obj = ModelObjective::new(
        model,
        Loss::new(LossKind::Mse),
        data,
        None,
        file.initial.clone(),
        Batcher::new(n, n, 0).expect("batcher"),
        names,
    );
    let mut partial_batches = 0;
    for case in &file.cases {
        assert!(case.steps.len() >= 40, "{}: tens of steps", case.name);
        let hyperparameters = case
            .hyperparameters
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::Array(a) => HyperValue::Pair(
                        a[0].as_f64().expect("number"),
                        a[1].as_f64().expect("number"),
                    ),
                    other => HyperValue::Float(other.as_f64().expect("number")),
                };
                (k.clone(), value)
            })
            .collect();
        let spec = RunSpec {
            label: case.name.clone(),
            hyperparameters,
            batch_size: Some(case.batch_size),
            shuffle: Some(false),
            drop_last: Some(false),
            ..RunSpec::new(&case.optimizer)
        };
        let mut s = session(Box::new(obj.clone()), vec![spec], 1);
        for (k, step) in case.steps.iter().enumerate() {
            s.step_all();
            let run = &s.runs()[0];
            let what = format!("{} step {}", case.name, k + 1);
            assert_eq!(
                run.objective().batch_indices(),
                step.batch.as_slice(),
                "{what}"
            );
            partial_batches += usize::from(step.batch.len() < case.batch_size);
            let scale = step.params.iter().fold(0.0_f64, |m, p| m.max(p.abs()));
            for (j, (a, b)) in run.params().iter().zip(&step.params).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-10 * scale,
                    "{what}, parameter {j}: {a} vs torch {b}"
                );
            }
            let (a, b) = (run.loss(), step.loss);
            assert!(
                (a - b).abs() <= 1e-10 * b.abs(),
                "{what}: minibatch loss {a} vs torch {b}"
            );
        }
    }
    assert!(
        partial_batches > 0,
        "the fixture covers a partial last batch"
    );
}
