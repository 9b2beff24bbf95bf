//! Frame render time of the explorer at 200x60 on ratatui's `TestBackend`: the default-like
//! 4-run Rosenbrock race and an 8-run race, each mid-run (200 steps) with the landscape settled,
//! and the 8-run race after 100,000 steps per run (histories at their decimated bound).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use gradscope::ad::Engine;
use gradscope::expr::Expression;
use gradscope::landscape::ViewSpec;
use gradscope::objective::ExpressionObjective;
use gradscope::optim::HyperValue;
use gradscope::session::{Command, RunSpec, Session, StopConfig};
use gradscope::tui::app::App;
use gradscope::tui::{Loaded, Loader, ui};

fn app(optimizers: &[(&str, f64)], steps: u64) -> App {
    let expr = Expression::parse("(1-x)^2 + 100*(y-x^2)^2").expect("valid expression");
    let objective = ExpressionObjective::new(expr, vec![-1.5, 2.0], Some(vec![1.0, 1.0]));
    let specs = optimizers
        .iter()
        .map(|(name, lr)| RunSpec {
            hyperparameters: vec![("lr".to_owned(), HyperValue::Float(*lr))],
            ..RunSpec::new(name)
        })
        .collect();
    let mut session = Session::new(
        "rosenbrock",
        Box::new(objective),
        specs,
        Engine::Reverse,
        StopConfig {
            max_steps: u64::MAX,
            loss_below: None,
            ..StopConfig::default()
        },
        42,
    )
    .expect("valid session");
    session.apply(Command::Pause).expect("pause");
    session.apply(Command::StepN(steps)).expect("step");
    let loader: Loader = Box::new(|_| Err("no loader in benchmarks".to_owned()));
    let mut app = App::new(
        Loaded {
            session,
            view: ViewSpec::default(),
            description: String::new(),
            path: None,
        },
        loader,
    );
    app.settle_landscape();
    app.tick_gradients();
    app
}

fn bench(c: &mut Criterion) {
    let four = [
        ("gd", 1e-3),
        ("momentum", 1e-3),
        ("adam", 0.05),
        ("rmsprop", 1e-2),
    ];
    let eight = [
        ("gd", 1e-3),
        ("momentum", 1e-3),
        ("nesterov", 1e-3),
        ("adam", 0.05),
        ("adamw", 0.05),
        ("rmsprop", 1e-2),
        ("adagrad", 0.5),
        ("lion", 1e-2),
    ];
    for (name, runs, steps) in [
        ("render_200x60_4_runs", &four[..], 200),
        ("render_200x60_8_runs", &eight[..], 200),
        ("render_200x60_8_runs_100k_steps", &eight[..], 100_000),
    ] {
        let mut app = app(runs, steps);
        let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
        c.bench_function(name, |b| {
            b.iter(|| {
                terminal.draw(|f| ui::draw(f, &mut app)).expect("draw");
                black_box(terminal.backend().buffer().area);
            });
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
