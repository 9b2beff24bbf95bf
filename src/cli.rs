//! Command-line interface: clap derive structs, and the value checks that keep each flag to
//! the range (and the wording) of its scenario-file counterpart.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Explore how models are fitted: back-propagation computes gradients, optimizers use them.
#[derive(Debug, Parser)]
#[command(
    name = "gradscope",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Scenario files (YAML). Without one the TUI opens the built-in Rosenbrock race.
    pub files: Vec<PathBuf>,

    /// Run the scenarios without a terminal UI and print a report.
    #[arg(long)]
    pub headless: bool,

    /// Report format (headless).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Override every run's max_steps (at least 1, as in a scenario file).
    #[arg(long, value_name = "N", value_parser = parse_steps)]
    pub steps: Option<u64>,

    /// Override the gradient engine.
    #[arg(long, value_enum)]
    pub engine: Option<EngineArg>,

    /// Override the scenario seed.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Write every run's trajectory to this CSV file (headless).
    #[arg(long, value_name = "FILE.csv")]
    pub trajectory: Option<PathBuf>,

    /// Draw loss curves (and trajectories over contours for 2-D objectives) to an SVG or PNG.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub plot: Option<PathBuf>,

    /// Lift the resource limits: scenarios may use all of the machine's memory (not half),
    /// steps may take any time, and larger files are read (see docs/scenarios.md, "Limits").
    #[arg(long)]
    pub allow_large: bool,

    /// Step the scenarios' runs on N threads (headless; default: one per core). The report
    /// is the same whatever N, bit for bit with --no-timing.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Leave timings out of the report so identical runs give identical bytes.
    #[arg(long)]
    pub no_timing: bool,

    /// Draw the TUI with plain ASCII characters (no braille, no block elements).
    #[arg(long)]
    pub ascii: bool,

    /// Write TUI diagnostics to this file (nothing is printed while the TUI is up).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare forward mode, reverse mode and finite differences on an expression.
    Grad {
        /// The expression, e.g. "(1-x)^2 + 100*(y-x^2)^2" (it may start with '-').
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The point, e.g. --at x=-1.5,y=2
        #[arg(long, allow_hyphen_values = true, default_value = "")]
        at: String,
        /// Print one JSON object instead of the table (with every let-bound intermediate's
        /// value and adjoint, and the tape's nodes).
        #[arg(long)]
        json: bool,
        /// Print the forward pass and the backward sweep step by step, one chain-rule step a
        /// line, instead of the engine table.
        #[arg(long, conflicts_with = "json")]
        trace: bool,
        /// Also write the computation graph, with every node's value and gradient, as Graphviz
        /// DOT (render it with `dot -Tsvg FILE.dot`).
        #[arg(long, value_name = "FILE.dot")]
        dot: Option<PathBuf>,
        /// Forward mode's chunk width (tangents per pass), 1 to 8 as in a scenario file.
        #[arg(long, default_value_t = gradscope::ad::DEFAULT_CHUNK, value_parser = parse_chunk)]
        chunk: usize,
        /// Compute the Hessian whatever the number of variables (by default only up to 200:
        /// its cost grows with the cube of the variables).
        #[arg(long, overrides_with = "no_hessian")]
        hessian: bool,
        /// Skip the Hessian.
        #[arg(long, overrides_with = "hessian")]
        no_hessian: bool,
    },
    /// List the bundled scenarios and the optimizers with their hyperparameters (gd is
    /// full-batch gradient descent; sgd takes minibatches of a run's batch_size).
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Forward,
    Reverse,
    Finite,
}

/// `--steps`: a whole number >= 1, worded as the loader words `max_steps: 0`.
fn parse_steps(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => {
            Err("'max_steps' must be at least 1, found 0 (expected a whole number >= 1)".into())
        }
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a whole number >= 1, found '{text}'")),
    }
}

/// `--chunk`: forward mode's chunk width, worded as the loader words `engine.chunk`.
fn parse_chunk(text: &str) -> Result<usize, String> {
    let max = gradscope::ad::dual::MAX_CHUNK;
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!(
            "'chunk' is out of range: {n} (expected a whole number in [1, {max}])"
        )),
        Err(_) => Err(format!(
            "expected a whole number in [1, {max}], found '{text}'"
        )),
    }
}
