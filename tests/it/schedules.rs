//! Every learning-rate schedule against torch.optim.lr_scheduler: the fixtures written by
//! `tests/fixtures/optim/gen_sched.py` hold, per step of torch's canonical loop, the lr (and the
//! momentum or `beta1` a cycling schedule drives) of each scheduler and composition, plateau on
//! a given loss sequence included. The schedule is read from its scenario text, so the test
//! also checks that a file's keys mean torch's arguments.

use gradscope::optim::registry;
use gradscope::optim::schedule::Scheduler;
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
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
         schedule: {}\n",
        case.optimizer, case.lr, case.schedule
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
    assert!(file.cases.len() >= 28);
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
