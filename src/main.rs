//! The binary edge: parse the command line, pick a front end (TUI, headless, `grad`), print
//! diagnostics and map failures to exit codes (0 ok, 1 an expectation failed, 2 bad input or an
//! output that cannot be written). Everything it prints goes through [`output`], which never
//! panics: a closed pipe ends the output quietly, any other write error is one line on stderr.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod output;
mod output_files;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use cli::{Cli, Command, EngineArg, Format};
use gradscope::ad::{DEFAULT_CHUNK, Engine};
use gradscope::gradcheck::{GradOptions, HessianChoice};
use gradscope::headless::{self, ScenarioReport};
use gradscope::scenario::{self, Built, Overrides};
use gradscope::text::printable;
use gradscope::tui::supervise::{self, Ending};
use output::Stdout;
use output_files::{Input, Output};

/// The built-in scenario, so `gradscope` works from any directory.
const DEFAULT_SCENARIO: &str = include_str!("../scenarios/rosenbrock.yaml");
const DEFAULT_NAME: &str = "rosenbrock.yaml (built in)";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    match &cli.command {
        Some(Command::Grad {
            expr,
            at,
            json,
            trace,
            dot,
            chunk,
            hessian,
            no_hessian,
        }) => {
            let hessian = match (hessian, no_hessian) {
                (true, _) => HessianChoice::Always,
                (_, true) => HessianChoice::Never,
                _ => HessianChoice::Auto,
            };
            let options = GradOptions {
                chunk: *chunk,
                timing: Duration::from_millis(50),
                hessian,
            };
            let dot = dot.as_deref().map(|path| Output {
                flag: "--dot",
                path,
                extensions: &["dot"],
            });
            if let Some(Err(e)) = dot.as_ref().map(output_files::check_name) {
                output::error(e);
                return ExitCode::from(2);
            }
            let print = if *json {
                GradPrint::Json
            } else if *trace {
                GradPrint::Trace
            } else {
                GradPrint::Table
            };
            let mut out = Stdout::new();
            let outcome = grad(&mut out, expr, at, print, dot.map(|d| d.path), options);
            output::finish(out, outcome)
        }
        Some(Command::List) => {
            let mut out = Stdout::new();
            let outcome = list(&mut out).map(|()| ExitCode::SUCCESS);
            output::finish(out, outcome)
        }
        None if cli.headless => run_headless(&cli),
        None => run_tui(&cli),
    }
}

/// Help, version and usage errors from clap, printed without panicking.
fn usage(e: &clap::Error) -> ExitCode {
    let printed = e.print().and_then(|()| io::stdout().flush());
    match printed {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
            output::error(format_args!("error: cannot write the usage text: {err}"));
            ExitCode::from(2)
        }
        _ => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)),
    }
}

/// The bundled scenarios (compiled in, so listed from any directory) with their names, then
/// the optimizers. Each scenario is loaded and built (its data generated, its runs set up) but
/// not run, so a scenario is listed valid only if it would start.
fn list(out: &mut Stdout) -> io::Result<()> {
    writeln!(
        out,
        "scenarios (open one with `gradscope NAME`; files on disk work too):\n"
    )?;
    writeln!(out, "  {:<28} Rosenbrock race", "(no argument)")?;
    for (name, source) in scenario::bundled::BUNDLED {
        let title = match scenario::load_str_and_build(source, name, &Overrides::default()) {
            Ok(b) => b.scenario.name,
            Err(_) => "(invalid: run it with --headless to see why)".to_string(),
        };
        writeln!(out, "  {name:<28} {}", printable(&title))?;
    }
    writeln!(
        out,
        "\noptimizers (hyperparameters use torch.optim's names and defaults):\n"
    )?;
    writeln!(out, "{}", gradscope::optim::registry::describe_all())?;
    writeln!(
        out,
        "\nschedules (an optimizer's `schedule: {{kind: ...}}`, torch.optim.lr_scheduler's \
         names and defaults):\n"
    )?;
    writeln!(out, "{}", gradscope::optim::schedule::describe_all())?;
    writeln!(
        out,
        "\naverages (an optimizer's `average: {{kind: ...}}`, torch.optim.swa_utils):\n"
    )?;
    for (kind, what) in gradscope::optim::averaging::KINDS {
        writeln!(out, "{kind:<20} {what}")?;
    }
    Ok(())
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
        allow_large: cli.allow_large,
        limits: None,
    }
}

/// What `grad` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GradPrint {
    Table,
    Json,
    Trace,
}

fn grad(
    out: &mut Stdout,
    expr: &str,
    at: &str,
    print: GradPrint,
    dot: Option<&Path>,
    options: GradOptions,
) -> io::Result<ExitCode> {
    let report = gradscope::gradcheck::parse_point(at)
        .and_then(|point| gradscope::gradcheck::compute(expr, &point, options));
    let report = match report {
        Ok(report) => report,
        // A parse error is already rendered with its caret, `error:` included.
        Err(e @ gradscope::gradcheck::GradError::Expression { .. }) => {
            output::error(e);
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            output::error(format_args!("error: {e}"));
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(path) = dot {
        let text = gradscope::backprop::dot::to_dot(&report.graph);
        if let Err(e) = std::fs::write(path, text) {
            output::error(format_args!(
                "error: --dot '{}': cannot write it: {e}",
                path.display()
            ));
            return Ok(ExitCode::from(2));
        }
    }
    match print {
        GradPrint::Json => writeln!(out, "{}", report.to_json()),
        GradPrint::Trace => write!(out, "{}", report.render_trace()),
        GradPrint::Table => write!(out, "{}", report.render_text()),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Loads every file first: any invalid input ends the program with code 2 before anything runs
/// or is written.
fn load_all(files: &[PathBuf], overrides: &Overrides) -> Result<Vec<Built>, ExitCode> {
    let mut built = Vec::new();
    let mut failed = false;
    for path in files {
        match scenario::bundled::load_and_build(path, overrides) {
            Ok(b) => built.push(b),
            Err(errors) => {
                output::error(errors);
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

/// The headless exports named on the command line.
fn headless_outputs(cli: &Cli) -> Vec<Output<'_>> {
    let trajectory = cli.trajectory.as_deref().map(|path| Output {
        flag: "--trajectory",
        path,
        extensions: &["csv"],
    });
    let plot = cli.plot.as_deref().map(|path| Output {
        flag: "--plot",
        path,
        extensions: &["svg", "png"],
    });
    trajectory.into_iter().chain(plot).collect()
}

/// Refuses outputs that are inputs; each refusal is printed.
fn check_outputs(written: &[Output<'_>], inputs: &[Input]) -> Result<(), ExitCode> {
    let refused: Vec<String> = written
        .iter()
        .filter_map(|o| output_files::check_not_input(o, inputs).err())
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    refused.iter().for_each(output::error);
    Err(ExitCode::from(2))
}

fn run_headless(cli: &Cli) -> ExitCode {
    if cli.files.is_empty() {
        output::error("error: --headless needs at least one scenario file");
        return ExitCode::from(2);
    }
    let written = headless_outputs(cli);
    if let Some(e) = written
        .iter()
        .find_map(|o| output_files::check_name(o).err())
    {
        output::error(e);
        return ExitCode::from(2);
    }
    let mut built = match load_all(&cli.files, &overrides(cli)) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let inputs: Vec<Input> = cli
        .files
        .iter()
        .zip(&built)
        .flat_map(|(file, b)| output_files::inputs_of(file, &b.scenario))
        .collect();
    if let Err(code) = check_outputs(&written, &inputs) {
        return code;
    }
    let progress = io::stderr().is_terminal();
    let timing = !cli.no_timing;
    let threads = cli.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    if threads == 1 {
        for b in &mut built {
            run_with_progress(b, progress);
        }
    } else if let Err(e) = run_parallel(&mut built, threads, progress) {
        output::error(format_args!("error: cannot start {threads} threads: {e}"));
        return ExitCode::from(2);
    }
    let mut reports = Vec::new();
    for b in &built {
        reports.push(ScenarioReport::new(&b.session, &b.scenario.expect, timing));
    }
    let sessions: Vec<&gradscope::session::Session> = built.iter().map(|b| &b.session).collect();
    if let Some(path) = &cli.trajectory
        && let Err(e) = headless::write_trajectory(path, &sessions)
    {
        output::error(format_args!("error: {e}"));
        return ExitCode::from(2);
    }
    if let Some(path) = &cli.plot {
        let views: Vec<_> = built.iter().map(|b| (&b.session, &b.view)).collect();
        match headless::plot::write_plot(path, &views) {
            Ok(notes) => notes
                .iter()
                .for_each(|n| output::error(format_args!("note: {n}"))),
            Err(e) => {
                output::error(format_args!("error: {e}"));
                return ExitCode::from(2);
            }
        }
    }
    let mut out = Stdout::new();
    if let Err(e) = write_reports(&mut out, &reports, cli.format, timing).and_then(|()| out.flush())
    {
        return output::finish(out, Err(e));
    }
    let failures: Vec<String> = reports.iter().flat_map(ScenarioReport::failures).collect();
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    let mut message = format!("{} expectation(s) failed:", failures.len());
    for f in failures {
        message.push_str("\n  ");
        message.push_str(&f);
    }
    output::error(message);
    ExitCode::from(1)
}

fn write_reports(
    out: &mut Stdout,
    reports: &[ScenarioReport],
    format: Format,
    timing: bool,
) -> io::Result<()> {
    match format {
        Format::Table => reports
            .iter()
            .try_for_each(|r| writeln!(out, "{}", r.render_table())),
        Format::Csv => {
            let mut s = String::from(ScenarioReport::csv_header(timing));
            s.push('\n');
            for r in reports {
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
    }
}

/// Runs a session to its end, drawing a one-line progress bar on stderr when it is a terminal
/// and the run takes long enough to need one.
fn run_with_progress(b: &mut Built, progress: bool) {
    let total: u64 =
        (b.session.runs().len() as u64).saturating_mul(b.session.stop_config().max_steps.max(1));
    let mut bar = ProgressBar::new(printable(&b.session.name).into_owned(), progress);
    while !b.session.is_finished() {
        b.session.step_for(Duration::from_millis(100));
        let done: u64 = b.session.runs().iter().map(|r| r.steps()).sum();
        bar.show(done, total);
    }
    bar.clear();
}

/// Runs every scenario's runs to their end on `threads` threads, with one progress bar for all.
fn run_parallel(
    built: &mut [Built],
    threads: usize,
    progress: bool,
) -> Result<(), rayon::ThreadPoolBuildError> {
    let name = match &*built {
        [one] => printable(&one.session.name).into_owned(),
        many => format!("{} scenarios", many.len()),
    };
    let mut bar = ProgressBar::new(name, progress);
    let mut sessions: Vec<_> = built.iter_mut().map(|b| &mut b.session).collect();
    let ran = headless::parallel::run_to_end(&mut sessions, threads, |done, total| {
        bar.show(done, total);
    });
    bar.clear();
    ran
}

/// A one-line progress bar on stderr, drawn once the work has taken half a second.
struct ProgressBar {
    name: String,
    enabled: bool,
    started: Instant,
    drawn: bool,
}

impl ProgressBar {
    fn new(name: String, enabled: bool) -> Self {
        Self {
            name,
            enabled,
            started: Instant::now(),
            drawn: false,
        }
    }

    fn show(&mut self, done: u64, total: u64) {
        if !self.enabled || self.started.elapsed() <= Duration::from_millis(500) {
            return;
        }
        let frac = (done as f64 / total as f64).clamp(0.0, 1.0);
        let filled = (frac * 30.0) as usize;
        output::progress(&format!(
            "\r{} [{}{}] {:>3.0}%",
            self.name,
            "#".repeat(filled),
            "-".repeat(30 - filled),
            frac * 100.0
        ));
        self.drawn = true;
    }

    fn clear(&self) {
        if self.drawn {
            let width = self.name.chars().count() + 40;
            output::progress(&format!("\r{}\r", " ".repeat(width)));
        }
    }
}

fn run_tui(cli: &Cli) -> ExitCode {
    if !supervise::is_child() {
        match supervise::supervise() {
            Ok(Ending::Exited(code)) => return ExitCode::from(code),
            Ok(Ending::Crashed { code, what }) => {
                output::error(format_args!(
                    "gradscope: the terminal explorer {what}; the terminal has been restored"
                ));
                return ExitCode::from(code);
            }
            // Without a child process the explorer runs here; panics are still covered.
            Err(e) => output::error(format_args!(
                "gradscope: cannot start the explorer as a supervised process ({e}); running \
                 it unsupervised"
            )),
        }
    }
    let log = cli.log.as_deref().map(|path| Output {
        flag: "--log",
        path,
        extensions: &[],
    });
    if let Some(Err(e)) = log.as_ref().map(output_files::check_name) {
        output::error(e);
        return ExitCode::from(2);
    }
    let overrides = overrides(cli);
    let initial = match cli.files.first() {
        Some(path) => scenario::bundled::load_and_build(path, &overrides),
        None => scenario::load_str_and_build(DEFAULT_SCENARIO, DEFAULT_NAME, &overrides),
    };
    let initial = match initial {
        Ok(b) => b,
        Err(errors) => {
            output::error(errors);
            return ExitCode::from(2);
        }
    };
    if let (Some(log), Some(file)) = (&log, cli.files.first()) {
        let inputs = output_files::inputs_of(file, &initial.scenario);
        if let Err(code) = check_outputs(std::slice::from_ref(log), &inputs) {
            return code;
        }
    }
    let loaded = |b: Built, path: Option<PathBuf>| gradscope::tui::Loaded {
        session: b.session,
        view: b.view,
        description: b.scenario.description,
        path,
    };
    let initial = loaded(initial, cli.files.first().cloned());
    let loader: gradscope::tui::Loader = Box::new(move |path: &Path| {
        scenario::bundled::load_and_build(path, &overrides)
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
            output::error(format_args!("error: {e}"));
            ExitCode::from(1)
        }
    }
}
