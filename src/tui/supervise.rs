//! Keeps the terminal usable whatever happens to the explorer. The process the user started
//! saves the terminal's modes, runs the explorer in a child process (the same binary with the
//! same arguments and [`CHILD_ENV`] set), waits for it, and when the child ends abnormally
//! (killed by a signal such as SIGABRT from an allocation failure or SIGKILL from the
//! out-of-memory killer, or a panic) puts the modes back, leaves the alternate screen, shows the
//! cursor, releases the mouse and discards pending input, then names the crash in one line.
//!
//! Why a second process: an abort or a SIGKILL runs no code of the dying process, so nothing in
//! it can restore the terminal (a SIGABRT handler would need `unsafe`, and still could not catch
//! SIGKILL). The panic hook in [`super::run`] covers panics in-process; this covers the rest.
//! Signals sent to the supervisor alone (`kill PID`) are forwarded to the explorer, so it never
//! outlives its supervisor on a terminal the shell has taken back.

use std::io;
use std::process::{Command, ExitStatus};

use ratatui::crossterm::event::DisableMouseCapture;
use ratatui::crossterm::terminal::LeaveAlternateScreen;
use ratatui::crossterm::{cursor, execute};

/// Set in the explorer's environment: the process runs the explorer itself.
pub const CHILD_ENV: &str = "GRADSCOPE_TUI_CHILD";

/// Test hook: `abort`, `panic` or `thread-panic` makes the explorer crash that way right after
/// its first frame, so tests can check the terminal is restored.
pub const CRASH_ENV: &str = "GRADSCOPE_TEST_CRASH";

/// How the explorer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// With one of the documented exit codes (0, 1, 2); it restored the terminal itself.
    Exited(u8),
    /// Any other way; the terminal has been restored here. `code` is the exit code to pass on
    /// (128 + the signal for a signal, as shells report it).
    Crashed { code: u8, what: String },
}

/// True in the explorer process started by [`supervise`].
#[must_use]
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// The crash a test asked for with [`CRASH_ENV`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCrash {
    Abort,
    Panic,
    ThreadPanic,
}

impl TestCrash {
    /// Reads [`CRASH_ENV`].
    #[must_use]
    pub fn requested() -> Option<Self> {
        match std::env::var(CRASH_ENV).ok()?.as_str() {
            "abort" => Some(Self::Abort),
            "panic" => Some(Self::Panic),
            "thread-panic" => Some(Self::ThreadPanic),
            _ => None,
        }
    }

    /// Crashes (a thread panic returns at once; the panic hook ends the process).
    pub fn trigger(self) {
        match self {
            Self::Abort => std::process::abort(),
            Self::Panic => panic!("{CRASH_ENV}=panic"),
            Self::ThreadPanic => {
                std::thread::spawn(|| panic!("{CRASH_ENV}=thread-panic"));
            }
        }
    }
}

/// Runs the explorer in a child process and restores the terminal if it crashes.
pub fn supervise() -> io::Result<Ending> {
    let saved = SavedModes::capture();
    let mut child = Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env(CHILD_ENV, "1")
        .spawn()?;
    let forwarding = forward_signals(&child);
    let status = child.wait();
    drop(forwarding);
    let ending = ending(status?);
    if let Ending::Crashed { .. } = ending {
        restore(&saved);
    }
    Ok(ending)
}

fn ending(status: ExitStatus) -> Ending {
    match status.code() {
        Some(code @ 0..=2) => Ending::Exited(code as u8),
        Some(code) => Ending::Crashed {
            code: u8::try_from(code).unwrap_or(1).max(1),
            what: if code == 101 {
                "panicked (exit status 101)".to_owned()
            } else {
                format!("exited with status {code}")
            },
        },
        None => killed(status),
    }
}

#[cfg(unix)]
fn killed(status: ExitStatus) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal().unwrap_or(0);
    let name = signal_hook::low_level::signal_name(signal).unwrap_or("unknown");
    let hint = match name {
        "SIGABRT" => ", for instance an allocation that failed",
        "SIGKILL" => ", for instance by the out-of-memory killer",
        _ => "",
    };
    Ending::Crashed {
        code: u8::try_from(128 + signal).unwrap_or(1),
        what: format!("was killed by signal {signal} ({name}{hint})"),
    }
}

#[cfg(not(unix))]
fn killed(_status: ExitStatus) -> Ending {
    Ending::Crashed {
        code: 1,
        what: "ended abnormally".to_owned(),
    }
}

/// Leaves the alternate screen, shows the cursor, releases the mouse, then puts the saved
/// modes back (raw mode off) and drops the input the dead explorer left unread.
fn restore(saved: &SavedModes) {
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
    saved.restore();
}

/// The terminal's modes before the explorer started (unix; elsewhere nothing is saved).
struct SavedModes {
    #[cfg(unix)]
    saved: Option<(Tty, rustix::termios::Termios)>,
}

/// The terminal crossterm puts in raw mode: stdin when it is one, else `/dev/tty`.
#[cfg(unix)]
enum Tty {
    Stdin,
    File(std::fs::File),
}

#[cfg(unix)]
impl Tty {
    fn open() -> Option<Self> {
        use std::io::IsTerminal;
        if io::stdin().is_terminal() {
            return Some(Self::Stdin);
        }
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        Some(Self::File(file))
    }

    fn with_fd<T>(&self, f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> T) -> T {
        use std::os::fd::AsFd;
        match self {
            Self::Stdin => f(io::stdin().as_fd()),
            Self::File(file) => f(file.as_fd()),
        }
    }
}

impl SavedModes {
    #[cfg(unix)]
    fn capture() -> Self {
        let saved = Tty::open().and_then(|tty| {
            let modes = tty.with_fd(|fd| rustix::termios::tcgetattr(fd)).ok()?;
            Some((tty, modes))
        });
        Self { saved }
    }

    #[cfg(not(unix))]
    fn capture() -> Self {
        Self {}
    }

    #[cfg(unix)]
    fn restore(&self) {
        use rustix::termios::{OptionalActions, QueueSelector, tcflush, tcsetattr};
        if let Some((tty, modes)) = &self.saved {
            tty.with_fd(|fd| {
                let _ = tcsetattr(fd, OptionalActions::Now, modes);
                let _ = tcflush(fd, QueueSelector::IFlush);
            });
        }
    }

    #[cfg(not(unix))]
    fn restore(&self) {}
}

/// Forwards SIGHUP, SIGINT, SIGQUIT and SIGTERM to the explorer until dropped.
#[cfg(unix)]
struct Forwarding(Option<signal_hook::iterator::Handle>);

#[cfg(unix)]
impl Drop for Forwarding {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.close();
        }
    }
}

#[cfg(unix)]
fn forward_signals(child: &std::process::Child) -> Forwarding {
    use rustix::process::{Pid, Signal, kill_process};
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let pid = Pid::from_child(child);
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGQUIT, SIGTERM])
    else {
        return Forwarding(None);
    };
    let handle = signals.handle();
    std::thread::spawn(move || {
        for raw in signals.forever() {
            let signal = match raw {
                SIGHUP => Signal::HUP,
                SIGINT => Signal::INT,
                SIGQUIT => Signal::QUIT,
                _ => Signal::TERM,
            };
            let _ = kill_process(pid, signal);
        }
    });
    Forwarding(Some(handle))
}

#[cfg(not(unix))]
fn forward_signals(_child: &std::process::Child) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn documented_exit_codes_pass_through_and_the_rest_are_crashes() {
        for code in 0..=2 {
            assert_eq!(
                ending(ExitStatus::from_raw(code << 8)),
                Ending::Exited(code as u8)
            );
        }
        let Ending::Crashed { code, what } = ending(ExitStatus::from_raw(101 << 8)) else {
            panic!("101 is a crash");
        };
        assert_eq!((code, what.as_str()), (101, "panicked (exit status 101)"));
        // Killed by SIGABRT (6): the raw wait status is the signal number.
        let Ending::Crashed { code, what } = ending(ExitStatus::from_raw(6)) else {
            panic!("a signal is a crash");
        };
        assert_eq!(code, 134);
        assert!(what.contains("signal 6 (SIGABRT"), "{what}");
    }
}
