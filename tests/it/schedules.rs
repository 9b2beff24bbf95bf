//! Every learning-rate schedule against torch.optim.lr_scheduler: the fixtures written by
//! `tests/fixtures/optim/gen_sched.py` hold, per step of torch's canonical loop, the lr (and the
//! momentum or `beta1` a cycling schedule drives) of each scheduler and composition, plateau on
//! a given loss sequence included. The schedule is read from its scenario text, so the test
//! also checks that a file's keys mean torch's arguments. Parameter averaging (EMA, SWA with
//! SWALR) is compared on whole runs against torch.optim.swa_utils.

use gradscope::optim::registry;
use gradscope::optim::schedule::Scheduler;
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
    averages: Vec<AverageCase>,
}

/// SGD (momentum 0.9) on a rotated quadratic with parameter averaging, per step.
#[derive(Deserialize)]
struct AverageCase {
    name: String,
    average: String,
    schedule: Option<String>,
    steps: Vec<AverageStep>,
}

#[derive(Deserialize)]
struct AverageStep {
    params: Vec<f64>,
    average: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    schedule: String,
    optimizer: String,
    lr: f64,
    losses: Vec<f64>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    lr: f64,
    momentum: Option<f64>,
}

/// Relative to the larger of the value and the case's lr, so lrs annealed to zero compare by
/// their scale.
fn close(got: f64, want: f64, scale: f64) -> bool {
    (got - want).abs() <= 1e-12 * want.abs().max(scale)
}

fn scheduler(case: &Case) -> Scheduler {
    let source = format!(
        "objective: {{expr: \"x^2\", start: [1]}}\noptimizers:\n  - name: {}\n    lr: {}\n    \
         schedule: {}\nstop: {{max_steps: {}}}\n",
        case.optimizer,
        case.lr,
        case.schedule,
        case.steps.len()
    );
    let scenario = gradscope::scenario::load_str(&source, "fixture.yaml")
        .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
    let schedule = scenario.optimizers[0].schedule.clone().expect("a schedule");
    let opt = registry::build(&case.optimizer, &[], 0, 1).expect("builds");
    Scheduler::for_optimizer(schedule, case.lr, opt.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", case.name))
}

#[test]
fn every_schedule_matches_torch_step_for_step() {
    let file: File = serde_json::from_str(include_str!("../fixtures/optim/schedules.json"))
        .expect("the fixture parses");
    assert!(file.cases.len() >= 33);
    for case in &file.cases {
        let mut s = scheduler(case);
        assert!(case.steps.len() >= 40, "{}", case.name);
        for (t, want) in case.steps.iter().enumerate() {
            assert!(
                close(s.lr(), want.lr, case.lr),
                "{} step {t}: lr {} but torch {}",
                case.name,
                s.lr(),
                want.lr
            );
            match want.momentum {
                Some(m) => {
                    let got = s.momentum().unwrap_or(f64::NAN);
                    assert!(
                        close(got, m, 1.0),
                        "{} step {t}: momentum {got} but torch {m}",
                        case.name
                    );
                }
                None => assert_eq!(s.momentum(), None, "{} step {t}", case.name),
            }
            s.step(case.losses.get(t).copied().unwrap_or(f64::NAN));
        }
    }
}

#[test]
fn a_wrong_schedule_fails_the_comparison() {
    // The check can fail: the step fixture replayed with another gamma diverges at step 7.
    let file: File = serde_json::from_str(include_str!("../fixtures/optim/schedules.json"))
        .expect("the fixture parses");
    let mut case = file
        .cases
        .into_iter()
        .find(|c| c.name == "step")
        .expect("the step case");
    case.schedule = case.schedule.replace("gamma: 0.5", "gamma: 0.4");
    let mut s = scheduler(&case);
    let first_miss = case.steps.iter().position(|want| {
        let miss = !close(s.lr(), want.lr, case.lr);
        s.step(f64::NAN);
        miss
    });
    assert_eq!(first_miss, Some(7));
}

fn near(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| (g - w).abs() <= 1e-10 * w.abs().max(1.0))
}

#[test]
fn parameter_averaging_matches_torch_swa_utils() {
    let file: File = serde_json::from_str(include_str!("../fixtures/optim/schedules.json"))
        .expect("the fixture parses");
    assert_eq!(file.averages.len(), 5);
    for case in &file.averages {
        let schedule = case
            .schedule
            .as_ref()
            .map_or_else(String::new, |s| format!("    schedule: {s}\n"));
        let source = format!(
            "objective:\n  expr: \"0.5*((0.8*x + 0.6*y)*(0.8*x + 0.6*y) + \
             50*((-0.6*x + 0.8*y)*(-0.6*x + 0.8*y)))\"\n  vars: [x, y]\n  start: [1.5, -1]\n\
             optimizers:\n  - name: sgd\n    lr: 0.01\n    momentum: 0.9\n    average: {}\n{schedule}\
             stop: {{max_steps: 100}}\n",
            case.average
        );
        let mut built = gradscope::scenario::load_str_and_build(
            &source,
            "average.yaml",
            &gradscope::scenario::Overrides::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        for (k, want) in case.steps.iter().enumerate() {
            built.session.step_all();
            let run = &built.session.runs()[0];
            assert!(
                near(run.params(), &want.params),
                "{} step {}: params {:?} but torch {:?}",
                case.name,
                k + 1,
                run.params(),
                want.params
            );
            let points = run.extra_points();
            let got = points.iter().find(|p| p.name == "ema" || p.name == "swa");
            match (&want.average, got) {
                (Some(w), Some(g)) => assert!(
                    near(g.params, w),
                    "{} step {}: average {:?} but torch {w:?}",
                    case.name,
                    k + 1,
                    g.params
                ),
                (None, None) => assert_eq!(run.average_loss(), None),
                (w, g) => panic!("{} step {}: average {g:?}, torch {w:?}", case.name, k + 1),
            }
        }
        let run = &built.session.runs()[0];
        let avg = run
            .extra_points()
            .pop()
            .expect("an average")
            .params
            .to_vec();
        let loss = run.average_loss().expect("a loss at the average");
        assert_eq!(loss, run.objective().value(&avg));
    }
}
