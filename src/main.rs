//! The binary edge: parse the command line, pick a front end (TUI, headless, `grad`), print
//! diagnostics and map failures to exit codes (0 ok, 1 expectation failed, 2 bad input).

mod cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Grad {
            expr,
            at,
            json,
            chunk,
        }) => grad(&expr, &at, json, chunk),
        Some(Command::List) => {
            println!("{}", gradscope::optim::registry::describe_all());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("the TUI and headless mode are not built yet; try `gradscope grad --help`");
            ExitCode::from(2)
        }
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
