//! The binary edge: parse the command line, pick a front end (TUI, headless, `grad`), print
//! diagnostics and map failures to exit codes (0 ok, 1 an expectation failed, 2 bad input).

mod cli;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use cli::{Cli, Command, EngineArg, Format};
use gradscope::ad::{DEFAULT_CHUNK, Engine};
use gradscope::headless::{self, ScenarioReport};
use gradscope::scenario::{self, Built, Overrides};

/// The built-in scenario, so `gradscope` works from any directory.
const DEFAULT_SCENARIO: &str = include_str!("../scenarios/rosenbrock.yaml");
const DEFAULT_NAME: &str = "rosenbrock.yaml (built in)";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Grad {
            expr,
            at,
            json,
            chunk,
        }) => grad(expr, at, *json, *chunk),
        Some(Command::List) => {
            list_scenarios();
            println!("\noptimizers (hyperparameters use torch.optim's names and defaults):\n");
            println!("{}", gradscope::optim::registry::describe_all());
            ExitCode::SUCCESS
        }
        None if cli.headless => run_headless(&cli),
        None => run_tui(&cli),
    }
}

/// The scenarios in `./scenarios/` with their names; the built-in default first.
fn list_scenarios() {
    println!("scenarios:\n");
    println!("  {:<40} Rosenbrock race", "(built in, no argument)");
    let Ok(entries) = std::fs::read_dir("scenarios") else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    for path in paths {
        let name = match scenario::load_file(&path) {
            Ok(s) => s.name,
            Err(_) => "(invalid: run it with --headless to see why)".to_string(),
        };
        println!("  {:<40} {name}", path.display());
    }
}

fn overrides(cli: &Cli) -> Overrides {
    Overrides {
        seed: cli.seed,
        engine: cli.engine.map(|e| match e {
            EngineArg::Forward => Engine::Forward {
                chunk: DEFAULT_CHUNK,
            },
            EngineArg::Reverse => Engine::Reverse,
            EngineArg::Finite => Engine::Finite,
        }),
        max_steps: cli.steps,
    }
}

fn grad(expr: &str, at: &str, json: bool, chunk: usize) -> ExitCode {
    let report = gradscope::gradcheck::parse_point(at).and_then(|point| {
        gradscope::gradcheck::compute(expr, &point, chunk, Duration::from_millis(50))
    });
    match report {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.render_text());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Loads every file first: any invalid input ends the program with code 2 before anything runs
/// or is written.
fn load_all(files: &[PathBuf], overrides: &Overrides) -> Result<Vec<Built>, ExitCode> {
    let mut built = Vec::new();
    let mut failed = false;
    for path in files {
        match scenario::load_and_build(path, overrides) {
            Ok(b) => built.push(b),
            Err(errors) => {
                eprintln!("{errors}");
                failed = true;
            }
        }
    }
    if failed {
        Err(ExitCode::from(2))
    } else {
        Ok(built)
    }
}

fn run_headless(cli: &Cli) -> ExitCode {
    if cli.files.is_empty() {
        eprintln!("error: --headless needs at least one scenario file");
        return ExitCode::from(2);
    }
    if let Some(plot) = &cli.plot {
        let ext = plot
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("svg" | "png")) {
            eprintln!(
                "error: --plot '{}': expected a file name ending in .svg or .png",
                plot.display()
            );
            return ExitCode::from(2);
        }
    }
    let mut built = match load_all(&cli.files, &overrides(cli)) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let progress = std::io::stderr().is_terminal();
    let timing = !cli.no_timing;
    let mut reports = Vec::new();
    for b in &mut built {
        run_with_progress(b, progress);
        let expectations = headless::expect::from_scenario(&b.scenario);
        reports.push(ScenarioReport::new(&b.session, &expectations, timing));
    }
    let sessions: Vec<&gradscope::session::Session> = built.iter().map(|b| &b.session).collect();
    if let Some(path) = &cli.trajectory
        && let Err(e) = headless::write_trajectory(path, &sessions)
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Some(path) = &cli.plot {
        let views: Vec<_> = built.iter().map(|b| (&b.session, &b.view)).collect();
        match headless::plot::write_plot(path, &views) {
            Ok(notes) => notes.iter().for_each(|n| eprintln!("note: {n}")),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let printed = match cli.format {
        Format::Table => reports
            .iter()
            .try_for_each(|r| writeln!(out, "{}", r.render_table())),
        Format::Csv => {
            let mut s = String::from(ScenarioReport::csv_header(timing));
            s.push('\n');
            for r in &reports {
                s.push_str(&r.render_csv_rows());
            }
            write!(out, "{s}")
        }
        Format::Json => {
            let json = if reports.len() == 1 {
                serde_json::to_string_pretty(&reports[0])
            } else {
                serde_json::to_string_pretty(&reports)
            };
            writeln!(
                out,
                "{}",
                json.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
            )
        }
    };
    if printed.is_err() {
        return ExitCode::from(2);
    }
    let failures: Vec<String> = reports.iter().flat_map(ScenarioReport::failures).collect();
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{} expectation(s) failed:", failures.len());
        for f in failures {
            eprintln!("  {f}");
        }
        ExitCode::from(1)
    }
}

/// Runs a session to its end, drawing a one-line progress bar on stderr when it is a terminal
/// and the run takes long enough to need one.
fn run_with_progress(b: &mut Built, progress: bool) {
    let started = Instant::now();
    let total: u64 = b.session.runs().len() as u64 * b.session.stop_config().max_steps.max(1);
    let mut drawn = false;
    while !b.session.is_finished() {
        b.session.step_for(Duration::from_millis(100));
        if progress && started.elapsed() > Duration::from_millis(500) {
            let done: u64 = b.session.runs().iter().map(|r| r.steps()).sum();
            let frac = (done as f64 / total as f64).clamp(0.0, 1.0);
            let filled = (frac * 30.0) as usize;
            eprint!(
                "\r{} [{}{}] {:>3.0}%",
                b.session.name,
                "#".repeat(filled),
                "-".repeat(30 - filled),
                frac * 100.0
            );
            drawn = true;
        }
    }
    if drawn {
        eprint!("\r{}\r", " ".repeat(b.session.name.len() + 40));
    }
}

fn run_tui(cli: &Cli) -> ExitCode {
    let overrides = overrides(cli);
    let initial = match cli.files.first() {
        Some(path) => scenario::load_and_build(path, &overrides),
        None => scenario::load_str_and_build(DEFAULT_SCENARIO, DEFAULT_NAME, &overrides),
    };
    let initial = match initial {
        Ok(b) => b,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let loaded = |b: Built, path: Option<PathBuf>| gradscope::tui::Loaded {
        session: b.session,
        view: b.view,
        path,
    };
    let initial = loaded(initial, cli.files.first().cloned());
    let loader: gradscope::tui::Loader = Box::new(move |path| {
        scenario::load_and_build(path, &overrides)
            .map(|b| loaded(b, Some(path.to_path_buf())))
            .map_err(|e| e.to_string())
    });
    let options = gradscope::tui::Options {
        ascii: cli.ascii,
        log: cli.log.clone(),
    };
    match gradscope::tui::run(initial, loader, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
