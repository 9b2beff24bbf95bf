//! Issue 3: sessions are deterministic, rewinding replays bit for bit, runs end for the right
//! reasons, and commands change a run without breaking it.

use gradscope::ad::Engine;
use gradscope::data::{Batcher, generate};
use gradscope::expr::Expression;
use gradscope::model::{Loss, LossKind, Model};
use gradscope::objective::{ExpressionObjective, ModelObjective, Objective};
use gradscope::optim::{HyperValue, registry};
use gradscope::session::{Command, Run, RunSpec, Session, StopConfig};

const ROSENBROCK: &str = "(1 - x)^2 + 100 * (y - x^2)^2";
const HIMMELBLAU: &str = "(x^2 + y - 11)^2 + (x + y^2 - 7)^2";

fn expression(src: &str, start: &[f64]) -> Box<dyn Objective> {
    let expr = Expression::parse(src).expect("parses");
    Box::new(ExpressionObjective::new(expr, start.to_vec(), None))
}

fn spec(optimizer: &str, hypers: &[(&str, HyperValue)]) -> RunSpec {
    RunSpec {
        hyperparameters: hypers.iter().map(|(n, v)| ((*n).to_string(), *v)).collect(),
        ..RunSpec::new(optimizer)
    }
}

fn lr(v: f64) -> (&'static str, HyperValue) {
    ("lr", HyperValue::Float(v))
}

fn session(obj: Box<dyn Objective>, specs: Vec<RunSpec>, stop: StopConfig, seed: u64) -> Session {
    Session::new("test", obj, specs, Engine::Reverse, stop, seed).expect("session builds")
}

fn steps(max_steps: u64) -> StopConfig {
    StopConfig {
        max_steps,
        ..StopConfig::default()
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Everything observable about a run, as bits, for exact comparisons.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    params: Vec<u64>,
    /// (step, evaluations, loss, params) of every recorded point.
    history: Vec<(u64, u64, u64, Vec<u64>)>,
    optimizer_state: Vec<(String, Vec<u64>)>,
    steps: u64,
    evaluations: u64,
    status: String,
}

fn fingerprint(run: &Run) -> Fingerprint {
    Fingerprint {
        params: bits(run.params()),
        history: run
            .history()
            .points()
            .iter()
            .map(|p| (p.step, p.evaluations, p.loss.to_bits(), bits(&p.params)))
            .collect(),
        optimizer_state: run
            .optimizer()
            .state()
            .into_iter()
            .map(|s| (s.name.to_string(), bits(&s.values)))
            .collect(),
        steps: run.steps(),
        evaluations: run.evaluations(),
        status: run.status().name().to_string(),
    }
}

#[test]
fn a_diverging_run_ends_as_diverged_while_the_others_go_on() {
    let mut s = session(
        expression(ROSENBROCK, &[-1.5, 2.0]),
        vec![spec("sgd", &[lr(1.0)]), spec("adam", &[lr(0.05)])],
        StopConfig {
            max_steps: 500,
            loss_below: Some(1e-8),
            ..StopConfig::default()
        },
        1,
    );
    for _ in 0..10 {
        s.step_all();
    }
    assert_eq!(
        s.runs()[0].status().name(),
        "diverged",
        "{:?}",
        s.runs()[0].params()
    );
    assert!(s.runs()[0].steps() <= 10);
    assert!(s.runs()[1].status().is_running());
    let sgd_steps = s.runs()[0].steps();
    s.run_to_end();
    assert_eq!(
        s.runs()[0].steps(),
        sgd_steps,
        "a diverged run takes no more steps"
    );
    let adam = &s.runs()[1];
    assert!(
        matches!(adam.status().name(), "stopped" | "converged"),
        "{}",
        adam.status()
    );
    assert!(
        adam.loss().is_finite() && adam.loss() < 1.0,
        "adam loss {}",
        adam.loss()
    );
}

/// Steps `a` 100 times, rewinds it `back` steps and replays them; `b` just steps 100 times.
fn check_rewind(make: &dyn Fn() -> Session, back: u64) {
    let mut a = make();
    let mut b = make();
    a.apply(Command::StepN(100)).expect("steps");
    for run in 0..a.runs().len() {
        a.apply(Command::Rewind { run, steps: back })
            .expect("rewinds");
        assert_eq!(a.runs()[run].steps(), 100 - back);
    }
    a.apply(Command::StepN(back)).expect("steps");
    b.apply(Command::StepN(100)).expect("steps");
    for (ra, rb) in a.runs().iter().zip(b.runs()) {
        assert_eq!(ra.steps(), 100, "{}", ra.label());
        assert_eq!(
            fingerprint(ra),
            fingerprint(rb),
            "{} after rewinding {back}",
            ra.label()
        );
        assert_eq!(ra.counts().passes, rb.counts().passes);
        assert_eq!(ra.epoch(), rb.epoch());
        assert_eq!(ra.best_loss().to_bits(), rb.best_loss().to_bits());
    }
}

#[test]
fn rewind_and_replay_is_exact_for_a_deterministic_objective() {
    let make = || {
        session(
            expression(ROSENBROCK, &[-1.5, 2.0]),
            vec![
                spec("adam", &[lr(0.02)]),
                spec("lbfgs", &[]),
                spec("momentum", &[lr(1e-4)]),
            ],
            steps(10_000),
            3,
        )
    };
    // 37 back crosses the snapshot at step 64; 36 lands on it; 100 goes back to the start.
    for back in [37, 36, 1, 100] {
        check_rewind(&make, back);
    }
}

#[test]
fn rewind_and_replay_is_exact_for_minibatches() {
    let make = || {
        let data = generate::linear(40, 2, Some(&[1.0, -2.0]), 0.5, 0.3, 4).expect("data");
        let batcher = Batcher::new(40, 7, 11).expect("batcher");
        let obj = ModelObjective::new(
            Model::Linear {
                n_inputs: 2,
                n_outputs: 1,
            },
            Loss::new(LossKind::Mse),
            data,
            None,
            vec![0.0; 3],
            batcher,
            vec!["w1".into(), "w2".into(), "b".into()],
        );
        assert!(obj.is_stochastic());
        session(
            Box::new(obj),
            vec![spec("sgd", &[lr(0.05)]), spec("adam", &[lr(0.05)])],
            steps(10_000),
            5,
        )
    };
    for back in [37, 50] {
        check_rewind(&make, back);
    }
}

#[test]
fn rewind_and_replay_is_exact_for_the_genetic_algorithm() {
    let make = || {
        session(
            expression(HIMMELBLAU, &[0.0, 0.0]),
            vec![spec("genetic", &[]), spec("random_search", &[])],
            steps(10_000),
            7,
        )
    };
    check_rewind(&make, 37);
}

#[test]
fn the_same_seed_gives_bit_identical_runs_for_every_optimizer() {
    let all: Vec<RunSpec> = registry::names().iter().map(|n| spec(n, &[])).collect();
    assert!(all.len() >= 15);
    let make = |seed| {
        session(
            expression(HIMMELBLAU, &[0.5, -0.5]),
            all.clone(),
            steps(50),
            seed,
        )
    };
    let mut a = make(42);
    let mut b = make(42);
    a.run_to_end();
    b.run_to_end();
    for (ra, rb) in a.runs().iter().zip(b.runs()) {
        assert!(ra.steps() >= 1, "{}", ra.label());
        assert_eq!(fingerprint(ra), fingerprint(rb), "{}", ra.label());
    }
    // The seed matters to the stochastic methods.
    let mut c = make(43);
    c.run_to_end();
    for name in ["genetic", "random_search"] {
        let i = a
            .runs()
            .iter()
            .position(|r| r.label() == name)
            .expect("present");
        assert_ne!(
            bits(a.runs()[i].params()),
            bits(c.runs()[i].params()),
            "{name}"
        );
    }
}

#[test]
fn loss_below_converges() {
    let mut s = session(
        expression("x^2 + 2 * y^2", &[1.0, 1.0]),
        vec![spec("gd", &[lr(0.1)])],
        StopConfig {
            max_steps: 10_000,
            loss_below: Some(1e-6),
            ..StopConfig::default()
        },
        0,
    );
    s.run_to_end();
    let run = &s.runs()[0];
    assert_eq!(run.status().name(), "converged");
    assert!(run.loss() < 1e-6);
    assert!(run.steps() < 100, "{}", run.steps());
    // The step before was not yet below the target.
    let points = run.history().points();
    assert!(points[points.len() - 2].loss >= 1e-6);
}

#[test]
fn max_evaluations_stops_a_run() {
    let mut s = session(
        expression(HIMMELBLAU, &[0.0, 0.0]),
        vec![spec("nelder_mead", &[]), spec("gd", &[lr(1e-3)])],
        StopConfig {
            max_steps: 10_000,
            max_evaluations: Some(60),
            ..StopConfig::default()
        },
        0,
    );
    s.run_to_end();
    for run in s.runs() {
        assert_eq!(run.status().name(), "stopped", "{}", run.label());
        assert!(
            run.status().reason().contains("max_evaluations"),
            "{}",
            run.status().reason()
        );
        assert!(run.evaluations() >= 60, "{}", run.label());
    }
    // gd spends one gradient a step, so it stops at exactly 60 steps.
    assert_eq!(s.runs()[1].steps(), 60);
    assert!(s.runs()[0].steps() < 60);
}

#[test]
fn patience_stops_a_run_that_stops_improving() {
    // gd with lr 1 on |x| from 0.5 jumps between 0.5 and -0.5: the loss never improves.
    let mut s = session(
        expression("abs(x) + 0 * y", &[0.5, 0.0]),
        vec![spec("gd", &[lr(1.0)])],
        StopConfig {
            max_steps: 1000,
            patience: Some(5),
            ..StopConfig::default()
        },
        0,
    );
    s.run_to_end();
    let run = &s.runs()[0];
    assert_eq!(run.status().name(), "stopped");
    assert!(
        run.status().reason().contains("no improvement"),
        "{}",
        run.status().reason()
    );
    assert_eq!(run.steps(), 5);
}

#[test]
fn line_search_and_derivative_free_methods_evaluate_many_times_a_step() {
    let mut s = session(
        expression(ROSENBROCK, &[-1.5, 2.0]),
        vec![
            spec("lbfgs", &[]),
            spec("genetic", &[]),
            spec("nelder_mead", &[]),
            spec("adam", &[]),
        ],
        steps(10),
        0,
    );
    s.run_to_end();
    for run in &s.runs()[..3] {
        assert_eq!(run.steps(), 10, "{}", run.label());
        assert!(
            run.evaluations() > run.steps(),
            "{}: {:?}",
            run.label(),
            run.counts()
        );
    }
    let adam = &s.runs()[3];
    assert_eq!(adam.evaluations(), adam.steps());
    assert_eq!(adam.counts().gradient, 10);
}

#[test]
fn hyperparameter_changes_take_effect_and_bad_values_leave_the_run_intact() {
    // gd on x²/2 + y²/2: each step multiplies the point by (1 - lr).
    let mut s = session(
        expression("0.5 * x^2 + 0.5 * y^2", &[1.0, -2.0]),
        vec![spec("gd", &[lr(0.1)])],
        steps(1000),
        0,
    );
    s.apply(Command::Step).expect("step");
    assert!((s.runs()[0].params()[0] - 0.9).abs() < 1e-15);
    s.apply(Command::SetHyperparameter {
        run: 0,
        name: "lr".into(),
        value: HyperValue::Float(0.5),
    })
    .expect("valid lr");
    assert_eq!(s.runs()[0].optimizer().lr(), 0.5);
    s.apply(Command::Step).expect("step");
    assert!(
        (s.runs()[0].params()[0] - 0.45).abs() < 1e-15,
        "{:?}",
        s.runs()[0].params()
    );
    s.apply(Command::ScaleLr {
        run: 0,
        factor: 0.5,
    })
    .expect("scale");
    assert_eq!(s.runs()[0].optimizer().lr(), 0.25);
    s.apply(Command::Step).expect("step");
    assert!((s.runs()[0].params()[0] - 0.3375).abs() < 1e-15);

    let before = fingerprint(&s.runs()[0]);
    for bad in [
        Command::SetHyperparameter {
            run: 0,
            name: "lr".into(),
            value: HyperValue::Float(-1.0),
        },
        Command::SetHyperparameter {
            run: 0,
            name: "lr".into(),
            value: HyperValue::Float(f64::NAN),
        },
        Command::SetHyperparameter {
            run: 0,
            name: "learning_rate".into(),
            value: HyperValue::Float(0.1),
        },
        Command::SetHyperparameter {
            run: 0,
            name: "momentum".into(),
            value: HyperValue::Bool(true),
        },
        Command::SetHyperparameter {
            run: 7,
            name: "lr".into(),
            value: HyperValue::Float(0.1),
        },
        Command::ScaleLr {
            run: 0,
            factor: -2.0,
        },
    ] {
        assert!(s.apply(bad.clone()).is_err(), "{bad:?} was accepted");
        assert_eq!(fingerprint(&s.runs()[0]), before, "{bad:?} changed the run");
        assert_eq!(s.runs()[0].optimizer().lr(), 0.25);
    }
    s.apply(Command::Step).expect("still steps");
    assert_eq!(s.runs()[0].steps(), 4);
    assert!((s.runs()[0].params()[0] - 0.253_125).abs() < 1e-15);
}

#[test]
fn switching_engine_mid_run_keeps_going() {
    let make = || {
        session(
            expression(ROSENBROCK, &[-1.5, 2.0]),
            vec![spec("adam", &[lr(0.02)])],
            steps(300),
            0,
        )
    };
    let mut reference = make();
    reference.apply(Command::StepN(300)).expect("steps");
    let mut s = make();
    s.apply(Command::StepN(100)).expect("steps");
    s.apply(Command::SetEngine(Engine::Forward { chunk: 1 }))
        .expect("engine");
    assert_eq!(s.engine(), Engine::Forward { chunk: 1 });
    assert_eq!(s.runs()[0].engine(), Engine::Forward { chunk: 1 });
    s.apply(Command::StepN(100)).expect("steps");
    // Forward and reverse agree to rounding, so the trajectory is (almost) unchanged.
    let (a, b) = (
        s.runs()[0].params(),
        reference.runs()[0].history().points()[200].params.clone(),
    );
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
    }
    assert_eq!(s.runs()[0].counts().passes, 100 + 100 * 2);
    s.apply(Command::SetEngine(Engine::Finite)).expect("engine");
    s.run_to_end();
    let run = &s.runs()[0];
    assert_eq!(run.steps(), 300);
    assert_eq!(run.status().name(), "stopped");
    assert_eq!(run.counts().passes, 100 + 200 + 100 * 4);
    let end = &reference.runs()[0];
    assert!(
        (run.loss() - end.loss()).abs() < 1e-4 * end.loss().max(1e-3),
        "{} vs {}",
        run.loss(),
        end.loss()
    );
}

#[test]
fn history_stays_bounded_over_a_million_steps() {
    let mut s = session(
        expression("0.5 * x^2 + y^2", &[3.0, -1.0]),
        vec![spec("gd", &[lr(1e-5)])],
        steps(1_000_000),
        0,
    );
    s.run_to_end();
    let run = &s.runs()[0];
    assert_eq!(run.steps(), 1_000_000);
    let points = run.history().points();
    assert!(points.len() <= 4097, "{} points", points.len());
    assert!(points.len() >= 1000, "{} points", points.len());
    assert_eq!(points[0].step, 0);
    assert_eq!(points.last().map(|p| p.step), Some(1_000_000));
    assert!(points.windows(2).all(|w| w[0].step < w[1].step));
    // Monotone descent: the best point is the last one.
    assert_eq!(run.history().best().map(|p| p.step), Some(1_000_000));
}

#[test]
fn halving_and_doubling_drive_the_declared_learning_rate_or_say_there_is_none() {
    let mut s = session(
        expression("0.5 * x^2 + 0.5 * y^2", &[1.0, -2.0]),
        vec![
            spec("genetic", &[("sigma", HyperValue::Float(0.2))]),
            spec("random_search", &[]),
            spec("nelder_mead", &[]),
            spec("levenberg_marquardt", &[]),
            spec("muon", &[]),
        ],
        steps(100),
        0,
    );
    // genetic's learning rate is its mutation scale sigma, random_search's its radius
    s.apply(Command::ScaleLr {
        run: 0,
        factor: 2.0,
    })
    .expect("genetic has sigma");
    assert!(
        s.runs()[0]
            .optimizer()
            .hyperparameters()
            .contains(&("sigma".into(), HyperValue::Float(0.4)))
    );
    let radius = s.runs()[1].optimizer().lr();
    s.apply(Command::ScaleLr {
        run: 1,
        factor: 0.5,
    })
    .expect("random_search has radius");
    assert_eq!(s.runs()[1].optimizer().lr(), radius * 0.5);
    for (run, name) in [(2, "nelder_mead"), (3, "levenberg_marquardt")] {
        let before = fingerprint(&s.runs()[run]);
        let e = s
            .apply(Command::ScaleLr { run, factor: 2.0 })
            .expect_err("no learning rate");
        assert_eq!(e.to_string(), format!("{name} has no learning rate"));
        assert_eq!(fingerprint(&s.runs()[run]), before);
    }
    // Muon's AdamW rate follows its lr, as under a schedule
    let adamw_lr = |s: &Session| {
        s.runs()[4]
            .optimizer()
            .hyperparameters()
            .into_iter()
            .find(|(n, _)| n == "adamw_lr")
            .map(|(_, v)| v)
    };
    let (lr0, a0) = (s.runs()[4].optimizer().lr(), adamw_lr(&s));
    s.apply(Command::ScaleLr {
        run: 4,
        factor: 2.0,
    })
    .expect("muon has lr");
    assert_eq!(s.runs()[4].optimizer().lr(), 2.0 * lr0);
    match (a0, adamw_lr(&s)) {
        (Some(HyperValue::Float(a)), Some(HyperValue::Float(b))) => assert_eq!(b, 2.0 * a),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_restart_puts_back_the_learning_rate_swalr_moved() {
    use gradscope::optim::averaging::Averaging;
    use gradscope::optim::schedule::Anneal;
    let run_spec = RunSpec {
        average: Some(Averaging::Swa {
            swa_start: 5,
            swa_lr: Some(0.01),
            anneal_epochs: 3,
            anneal_strategy: Anneal::Linear,
        }),
        ..spec("sgd", &[lr(0.1)])
    };
    let mut s = session(
        expression("0.5 * x^2 + 0.5 * y^2", &[1.0, -2.0]),
        vec![run_spec],
        steps(100),
        0,
    );
    for _ in 0..20 {
        s.apply(Command::Step).expect("step");
    }
    assert!((s.runs()[0].optimizer().lr() - 0.01).abs() < 1e-15);
    let after_20 = s.runs()[0].params().to_vec();
    s.apply(Command::Reset).expect("reset");
    assert_eq!(s.runs()[0].optimizer().lr(), 0.1);
    for _ in 0..20 {
        s.apply(Command::Step).expect("step");
    }
    assert_eq!(s.runs()[0].params(), after_20.as_slice());
}
