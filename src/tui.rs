//! The terminal explorer: terminal setup and restore, and the event loop (draw → wait for input
//! until the next frame → drain input → update → advance the session within a time budget).
//!
//! The loop is generic over the ratatui backend and the [`event::EventSource`], so tests run the
//! real loop on a `TestBackend` with a scripted list of events. Scenario loading is not done
//! here: the caller passes the first [`Loaded`] scenario and a [`Loader`] for reloads and `o`.
//!
//! The terminal is restored on quit, on an error, and on a panic in any thread (the hook
//! restores it and ends the process); [`supervise`] restores it when the process dies without
//! running any code of its own (an abort, a signal).

pub mod app;
pub mod backprop;
pub mod event;
pub mod feedback;
pub mod landscape;
pub mod noise;
pub mod supervise;
pub mod ui;
pub mod widgets;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::{cursor, execute};

use crate::landscape::ViewSpec;
use crate::session::Session;
use app::{App, FPS};
use event::{EventSource, TerminalEvents};

/// A scenario ready to explore.
pub struct Loaded {
    pub session: Session,
    pub view: ViewSpec,
    /// What to look for (the scenario's `description`), shown when it opens and on `i`.
    pub description: String,
    /// The file it came from (watched for changes and reloaded by `R`); `None` when built-in.
    pub path: Option<PathBuf>,
}

/// Loads a scenario file; the error is the loader's rendered message with `file:line:column`.
pub type Loader = Box<dyn Fn(&Path) -> Result<Loaded, String>>;

/// Command-line options of the TUI.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Plain ASCII drawing for terminals or fonts without box drawing and braille.
    pub ascii: bool,
    /// Append diagnostics to this file (nothing is ever printed while the TUI is up).
    pub log: Option<PathBuf>,
}

/// Time each frame may spend stepping the session, so input stays responsive.
pub const STEP_BUDGET: Duration = Duration::from_millis(10);

/// Runs the explorer until the user quits; restores the terminal on quit, Ctrl-C and panic.
pub fn run(initial: Loaded, loader: Loader, options: Options) -> io::Result<()> {
    let crash = supervise::TestCrash::requested();
    let mut app = App::new(initial, loader);
    app.ascii = options.ascii;
    app.log = app::Log::new(options.log);
    app.log.write("gradscope tui started");
    let mut events = TerminalEvents::default();

    // ratatui's hook restores raw mode and the alternate screen and prints the panic; ours,
    // chained in front of it, also releases the mouse and shows the cursor, and then ends the
    // process: after a panic in a background thread (the landscape worker) the main loop must
    // not go on drawing over the restored terminal.
    let mut terminal = ratatui::try_init()?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(io::stdout(), DisableMouseCapture, cursor::Show);
        previous(info);
        std::process::exit(101);
    }));
    let result = execute!(io::stdout(), EnableMouseCapture).and_then(|()| {
        if let Some(crash) = crash {
            terminal
                .draw(|f| ui::draw(f, &mut app))
                .map_err(backend_error)?;
            crash.trigger();
        }
        run_loop(&mut terminal, &mut app, &mut events)
    });
    let _ = execute!(io::stdout(), DisableMouseCapture);
    let _ = terminal.show_cursor();
    ratatui::restore();
    if let Some(e) = &events.watch_error {
        app.log.write(e);
    }
    if let Err(e) = &result {
        app.log.write(&format!("tui error: {e}"));
    }
    result
}

fn backend_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// The longest an unchanged screen goes without a redraw.
const REDRAW_AT_LEAST: Duration = Duration::from_secs(1);

/// The event loop, until `app.quit`.
pub fn run_loop<B: Backend, E: EventSource>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut E,
) -> io::Result<()> {
    let frame = Duration::from_millis(1000 / FPS);
    let mut last = Instant::now();
    app.quit = false;
    app.tick_landscape();
    app.tick_gradients();
    app.tick_backprop();
    let mut drawn: Option<Instant> = None;
    while !app.quit {
        events.watch(app.path.as_deref());
        // Draw only when something may have changed, and once a second regardless (a safety
        // net for anything time-dependent): an idle screen is not redrawn 30 times a second.
        if app.redraw || drawn.is_none_or(|t| t.elapsed() >= REDRAW_AT_LEAST) {
            terminal.draw(|f| ui::draw(f, app)).map_err(backend_error)?;
            app.redraw = false;
            drawn = Some(Instant::now());
        }
        let deadline = last + frame;
        // Wait for the first input until the frame is due, then take whatever else is queued.
        let mut timeout = deadline.saturating_duration_since(Instant::now());
        while let Some(input) = events.poll(timeout)? {
            if let Some(action) = event::translate(&input, app.text_input()) {
                app.update(action);
            }
            if app.quit {
                return Ok(());
            }
            timeout = Duration::ZERO;
        }
        let now = Instant::now();
        app.frame(STEP_BUDGET, now - last);
        last = now;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
