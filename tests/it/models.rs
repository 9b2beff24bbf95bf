//! Issue 4: model objectives differentiate the same on every engine, count their passes, and
//! train: logistic regression separates blobs, an MLP learns xor and two moons, five SGD steps
//! match an independent hand-written backprop, and minibatching changes the trajectory.

use gradscope::ad::Engine;
use gradscope::data::{Batcher, Dataset, Task, generate};
use gradscope::model::{
    Activation, CustomModel, Init, Loss, LossKind, Mlp, Model, check_compatible, init_params,
};
use gradscope::objective::{Counts, Evaluator, ModelObjective, Objective, Scratch};
use gradscope::optim::{HyperValue, Oracle};
use gradscope::session::{RunSpec, Session, StopConfig};

fn close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * 1.0_f64.max(a.abs()).max(b.abs())
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("p{i}")).collect()
}

/// A full-batch objective over `data` starting at `start`.
fn objective<P>(
    model: P,
    loss: Loss,
    data: Dataset,
    start: Vec<f64>,
    batch: usize,
) -> ModelObjective<P>
where
    P: gradscope::model::Predictor,
{
    let n = data.len();
    let batcher = Batcher::new(n, batch, 7).expect("valid batcher");
    let dim = start.len();
    ModelObjective::new(model, loss, data, None, start, batcher, names(dim))
}

fn losses() -> Vec<LossKind> {
    vec![
        LossKind::Mse,
        LossKind::Mae,
        LossKind::HUBER,
        LossKind::BceWithLogits,
        LossKind::CrossEntropy,
    ]
}

/// Checks forward (chunk 8 and 3), reverse and finite-difference gradients of `obj` at its start.
fn check_engines(obj: &dyn Objective, what: &str) {
    let x = obj.start();
    let n = x.len();
    let mut scratch = Scratch::default();
    let mut g_rev = vec![0.0; n];
    let (v_rev, passes) = obj.gradient(Engine::Reverse, &x, &mut g_rev, &mut scratch);
    assert_eq!(passes, 1, "{what}");
    assert!(v_rev.is_finite(), "{what}: loss {v_rev}");
    assert!(
        g_rev.iter().any(|g| *g != 0.0),
        "{what}: zero gradient {g_rev:?}"
    );
    for chunk in [8, 3] {
        let mut g_fwd = vec![0.0; n];
        let (v, passes) = obj.gradient(Engine::Forward { chunk }, &x, &mut g_fwd, &mut scratch);
        assert_eq!(passes, n.div_ceil(chunk), "{what}: passes at chunk {chunk}");
        assert!(close(v, v_rev, 1e-12), "{what}: value {v} vs {v_rev}");
        for i in 0..n {
            assert!(
                close(g_fwd[i], g_rev[i], 1e-10),
                "{what}: d/dp{i} forward(k={chunk}) {} vs reverse {}",
                g_fwd[i],
                g_rev[i]
            );
        }
    }
    let mut g_fd = vec![0.0; n];
    let (v, passes) = obj.gradient(Engine::Finite, &x, &mut g_fd, &mut scratch);
    assert_eq!(passes, 2 * n, "{what}");
    assert!(close(v, v_rev, 1e-12), "{what}");
    for i in 0..n {
        assert!(
            close(g_fd[i], g_rev[i], 1e-6),
            "{what}: d/dp{i} finite {} vs reverse {}",
            g_fd[i],
            g_rev[i]
        );
    }
}

/// The mean of the per-example gradients (each example's loss plus the L2 term) is the
/// full-batch gradient, to 1e-12.
fn check_per_example_mean(obj: &dyn Objective, what: &str) {
    let x = obj.start();
    let mut full = vec![0.0; x.len()];
    obj.gradient(Engine::Reverse, &x, &mut full, &mut Scratch::default());
    let per = obj.per_example_gradients(&x).expect("a model has examples");
    assert_eq!(
        (per.n, per.dim),
        (obj.n_train().expect("data"), x.len()),
        "{what}"
    );
    let mean = per.mean();
    for (j, (m, g)) in mean.iter().zip(&full).enumerate() {
        assert!(
            close(*m, *g, 1e-12),
            "{what}: mean of per-example d/dp{j} {m} vs full gradient {g}"
        );
    }
}

/// Small datasets of each task; a model is checked against every loss that fits one of them.
fn datasets() -> Vec<Dataset> {
    vec![
        generate::linear(20, 2, Some(&[1.5, -0.5]), 0.3, 0.1, 1).expect("linear data"),
        generate::moons(20, 0.1, 2).expect("moons"),
        generate::blobs(21, 3, 1.0, 2, 3).expect("blobs"),
        generate::sine(20, 1.5, 2.0, 0.3, 0.05, 4).expect("sine"),
    ]
}

fn random_start<P: gradscope::model::Predictor>(model: &P, seed: u64) -> Vec<f64> {
    init_params(
        model,
        &Init::Normal {
            mean: 0.0,
            std: 0.7,
        },
        seed,
    )
    .expect("init")
}

#[test]
fn every_model_and_loss_has_the_same_gradient_on_every_engine() {
    let mut models: Vec<(String, Model)> = vec![
        (
            "linear".into(),
            Model::Linear {
                n_inputs: 2,
                n_outputs: 1,
            },
        ),
        ("logistic".into(), Model::Logistic { n_inputs: 2 }),
        (
            "softmax".into(),
            Model::Softmax {
                n_inputs: 2,
                n_classes: 3,
            },
        ),
    ];
    for act in Activation::ALL {
        for out in [1, 3] {
            let mlp = Mlp::with_hidden(vec![2, 5, out], act, Activation::Identity).expect("mlp");
            models.push((format!("mlp 2-5-{out} {act}"), Model::Mlp(mlp)));
        }
    }
    let mut checked = 0;
    for (seed, (label, model)) in models.iter().enumerate() {
        let mut model_checked = 0;
        for kind in losses() {
            for l2 in [0.0, 0.01] {
                let loss = Loss::new(kind).with_l2(l2);
                let Some(data) = datasets()
                    .into_iter()
                    .find(|d| check_compatible(model, &loss, d).is_ok())
                else {
                    continue;
                };
                let start = random_start(model, seed as u64);
                let obj = objective(model.clone(), loss, data, start, usize::MAX);
                let what = format!("{label} + {} (l2 {l2})", kind.name());
                check_engines(&obj, &what);
                check_per_example_mean(&obj, &what);
                model_checked += 1;
            }
        }
        assert!(
            model_checked >= 2,
            "{label}: only {model_checked} losses fit"
        );
        checked += model_checked;
    }
    // linear 3 losses, logistic 4 (mse/mae/huber on 0-1 labels and bce), softmax 1, MLPs 4 or 1.
    assert!(checked >= 2 * (3 + 1 + 1 + 7 * 5), "{checked}");

    let custom = CustomModel::new(
        "a*sin(b*x + c) + d",
        names_of(&["a", "b", "c", "d"]),
        names_of(&["x"]),
    )
    .expect("custom model");
    let mut custom_checked = 0;
    for kind in losses() {
        for l2 in [0.0, 0.01] {
            let loss = Loss::new(kind).with_l2(l2);
            let Some(data) = datasets()
                .into_iter()
                .find(|d| check_compatible(&custom, &loss, d).is_ok())
            else {
                continue;
            };
            let obj = objective(custom.clone(), loss, data, vec![1.2, 1.7, -0.4, 0.2], 1000);
            let what = format!("custom + {} (l2 {l2})", kind.name());
            check_engines(&obj, &what);
            check_per_example_mean(&obj, &what);
            custom_checked += 1;
        }
    }
    assert_eq!(custom_checked, 6, "mse, mae, huber with and without l2");
}

fn names_of(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

#[test]
fn forward_takes_ceil_n_over_k_passes_and_reverse_one() {
    let mlp =
        Mlp::with_hidden(vec![2, 16, 16, 1], Activation::Tanh, Activation::Identity).expect("mlp");
    let model = Model::Mlp(mlp);
    let data = generate::moons(8, 0.1, 0).expect("moons");
    let start = init_params(&model, &Init::default(), 1).expect("init");
    assert_eq!(start.len(), 337);
    let obj = objective(
        model,
        Loss::new(LossKind::BceWithLogits),
        data,
        start.clone(),
        8,
    );
    for (engine, passes) in [
        (Engine::Forward { chunk: 8 }, 43),
        (Engine::Forward { chunk: 3 }, 113),
        (Engine::Reverse, 1),
        (Engine::Finite, 674),
    ] {
        let mut scratch = Scratch::default();
        let mut counts = Counts::default();
        let mut grad = vec![0.0; 337];
        {
            let mut oracle = Evaluator {
                objective: &obj,
                engine,
                scratch: &mut scratch,
                counts: &mut counts,
            };
            oracle.value_and_gradient(&start, &mut grad);
            oracle.value_and_gradient(&start, &mut grad);
        }
        assert_eq!(counts.passes, 2 * passes, "{engine:?}");
        assert_eq!((counts.gradient, counts.value), (2, 0), "{engine:?}");
    }
}

fn session_for(obj: Box<dyn Objective>, specs: Vec<RunSpec>, steps: u64, seed: u64) -> Session {
    Session::new(
        "test",
        obj,
        specs,
        Engine::Reverse,
        StopConfig {
            max_steps: steps,
            ..StopConfig::default()
        },
        seed,
    )
    .expect("session builds")
}

fn spec(optimizer: &str, lr: f64) -> RunSpec {
    RunSpec {
        hyperparameters: vec![("lr".into(), HyperValue::Float(lr))],
        ..RunSpec::new(optimizer)
    }
}

#[test]
fn logistic_regression_separates_blobs_with_gd_and_adam() {
    let data = generate::blobs(100, 2, 0.8, 2, 11).expect("blobs");
    assert_eq!(data.task, Task::classes(2));
    let model = Model::Logistic { n_inputs: 2 };
    let loss = Loss::new(LossKind::BceWithLogits);
    check_compatible(&model, &loss, &data).expect("compatible");
    let n = data.len();
    let obj = objective(model, loss, data, vec![0.0; 3], n);
    let mut session = session_for(
        Box::new(obj),
        vec![spec("gd", 0.1), spec("adam", 0.1)],
        300,
        5,
    );
    session.run_to_end();
    for run in session.runs() {
        assert_eq!(run.status().name(), "stopped", "{}", run.label());
        let acc = run.metrics().accuracy.expect("classification");
        assert_eq!(acc, 1.0, "{}: accuracy {acc}", run.label());
    }
}

fn train_mlp(data: Dataset, steps: u64, lr: f64) -> (f64, f64) {
    // [2, 8, 8, 1] rather than [2, 16, 16, 1]: the same accuracy in a third of the debug time.
    let mlp =
        Mlp::with_hidden(vec![2, 8, 8, 1], Activation::Tanh, Activation::Identity).expect("mlp");
    let model = Model::Mlp(mlp);
    let start = init_params(&model, &Init::default(), 3).expect("init");
    let n = data.len();
    let obj = objective(model, Loss::new(LossKind::BceWithLogits), data, start, n);
    let mut session = session_for(Box::new(obj), vec![spec("adam", lr)], steps, 9);
    session.run_to_end();
    let run = &session.runs()[0];
    assert_eq!(run.steps(), steps);
    (run.metrics().accuracy.expect("classification"), run.loss())
}

#[test]
fn mlp_with_adam_learns_xor() {
    let (acc, loss) = train_mlp(generate::xor(100, 0.0, 21).expect("xor"), 400, 0.05);
    assert!(acc >= 0.97, "xor accuracy {acc}, loss {loss}");
}

#[test]
fn mlp_with_adam_learns_two_moons() {
    let (acc, loss) = train_mlp(generate::moons(100, 0.1, 22).expect("moons"), 400, 0.05);
    assert!(acc >= 0.97, "moons accuracy {acc}, loss {loss}");
}

/// A 2-3-1 tanh MLP with MSE, written out by hand: parameters in the crate's layout
/// (`W1` row-major `[3][2]`, `b1[3]`, `W2[1][3]`, `b2[1]`).
mod by_hand {
    pub fn loss_and_gradient(p: &[f64; 13], xs: &[[f64; 2]], ys: &[f64]) -> (f64, [f64; 13]) {
        let (w1, b1, w2, b2) = (&p[0..6], &p[6..9], &p[9..12], p[12]);
        let mut loss = 0.0;
        let mut g = [0.0; 13];
        let m = xs.len() as f64;
        for (x, &y) in xs.iter().zip(ys) {
            let mut h = [0.0; 3];
            for j in 0..3 {
                h[j] = (w1[2 * j] * x[0] + w1[2 * j + 1] * x[1] + b1[j]).tanh();
            }
            let out = w2[0] * h[0] + w2[1] * h[1] + w2[2] * h[2] + b2;
            let r = out - y;
            loss += r * r / m;
            let d_out = 2.0 * r / m;
            for j in 0..3 {
                g[9 + j] += d_out * h[j];
                let d_pre = d_out * w2[j] * (1.0 - h[j] * h[j]);
                g[2 * j] += d_pre * x[0];
                g[2 * j + 1] += d_pre * x[1];
                g[6 + j] += d_pre;
            }
            g[12] += d_out;
        }
        (loss, g)
    }
}

#[test]
fn five_sgd_steps_match_a_hand_written_backprop() {
    let xs = [
        [0.5, -1.0],
        [1.5, 0.25],
        [-0.75, 0.8],
        [0.1, 0.1],
        [-1.2, -0.4],
        [2.0, 1.0],
    ];
    let ys = [0.3, -0.8, 1.1, 0.0, 0.5, -1.5];
    let rows: Vec<Vec<f64>> = xs
        .iter()
        .zip(&ys)
        .map(|(x, &y)| vec![x[0], x[1], y])
        .collect();
    let data = Dataset::from_rows(&rows, 2, Task::Regression).expect("dataset");
    let start = [
        0.3, -0.2, 0.5, 0.1, -0.4, 0.6, 0.05, -0.1, 0.2, 0.7, -0.5, 0.3, 0.1,
    ];
    let mlp = Mlp::with_hidden(vec![2, 3, 1], Activation::Tanh, Activation::Identity).expect("mlp");
    let model = Model::Mlp(mlp);
    let explicit = init_params(&model, &Init::Values(start.to_vec()), 0).expect("init");
    assert_eq!(explicit, start);
    let obj = objective(model, Loss::new(LossKind::Mse), data, explicit, 6);
    let mut session = session_for(Box::new(obj), vec![spec("sgd", 0.1)], 5, 0);
    session.run_to_end();
    let run = &session.runs()[0];
    assert_eq!(run.steps(), 5);

    let mut p = start;
    let mut losses = vec![by_hand::loss_and_gradient(&p, &xs, &ys).0];
    for _ in 0..5 {
        let (_, g) = by_hand::loss_and_gradient(&p, &xs, &ys);
        for (pi, gi) in p.iter_mut().zip(g) {
            *pi -= 0.1 * gi;
        }
        losses.push(by_hand::loss_and_gradient(&p, &xs, &ys).0);
    }
    let history: Vec<f64> = run.history().points().iter().map(|pt| pt.loss).collect();
    assert_eq!(history.len(), 6);
    for (step, (a, b)) in history.iter().zip(&losses).enumerate() {
        assert!(
            close(*a, *b, 1e-12),
            "step {step}: session {a} vs by hand {b}"
        );
    }
    assert!(close(run.loss(), losses[5], 1e-12));
    assert!(
        losses[5] < losses[0],
        "training lowers the loss: {losses:?}"
    );
    for (a, b) in run.params().iter().zip(&p) {
        assert!(close(*a, *b, 1e-12), "{:?} vs {p:?}", run.params());
    }
}

#[test]
fn minibatch_sizes_give_different_trajectories_and_count_epochs() {
    let data = generate::linear(40, 2, Some(&[2.0, -1.0]), 0.5, 0.2, 8).expect("data");
    let model = Model::Linear {
        n_inputs: 2,
        n_outputs: 1,
    };
    let mut finals = Vec::new();
    for batch in [1, 10, 40] {
        let obj = objective(
            model.clone(),
            Loss::new(LossKind::Mse),
            data.clone(),
            vec![0.0; 3],
            batch,
        );
        assert_eq!(obj.is_stochastic(), batch < 40);
        let mut session = session_for(Box::new(obj), vec![spec("sgd", 0.05)], 1000, 1);
        let per_epoch = 40 / batch as u64;
        for step in 1..=20_u64 {
            session.step_all();
            let run = &session.runs()[0];
            assert_eq!(run.steps(), step);
            if batch < 40 {
                // Epochs completed: a new one is counted once every sample has been seen.
                assert_eq!(run.epoch(), step / per_epoch, "batch {batch}, step {step}");
            }
        }
        let run = &session.runs()[0];
        assert!(run.loss().is_finite());
        finals.push(run.params().to_vec());
    }
    assert_ne!(finals[0], finals[1]);
    assert_ne!(finals[1], finals[2]);
    assert_ne!(finals[0], finals[2]);
}
