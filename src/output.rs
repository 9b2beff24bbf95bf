//! The binary's two output streams, the only way it prints (the crate root denies `println!`
//! and `eprintln!`, which panic when a write fails).
//!
//! - [`Stdout`] carries the results. A closed pipe (`gradscope list | head -1`) is not an
//!   error: the writer stops writing, without a message, and the program ends with the status
//!   it would have had anyway (so `| head` does not hide a failed expectation). Any other write
//!   error (a full disk, an I/O error) is returned, and [`finish`] turns it into one line on
//!   stderr and exit code 2.
//! - [`error`] and [`progress`] write to stderr and ignore failures: there is nowhere left to
//!   report them. Messages pass through [`printable_lines`], so text from a file cannot drive
//!   the terminal.

use std::fmt::Display;
use std::io::{self, ErrorKind, StdoutLock, Write};
use std::process::ExitCode;

use gradscope::text::printable_lines;

/// Standard output that treats a closed reader as the end of the output.
pub struct Stdout {
    inner: StdoutLock<'static>,
    closed: bool,
}

impl Stdout {
    pub fn new() -> Self {
        Self {
            inner: io::stdout().lock(),
            closed: false,
        }
    }

    /// Swallows a broken pipe (and marks the stream closed); passes other errors on.
    fn guard<T>(&mut self, result: io::Result<T>, closed_value: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(closed_value)
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.guard(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.guard(result, ())
    }
}

/// Flushes stdout and maps a command's outcome to the exit code: a write error becomes one
/// line on stderr and code 2.
pub fn finish(mut out: Stdout, outcome: io::Result<ExitCode>) -> ExitCode {
    match outcome.and_then(|code| out.flush().map(|()| code)) {
        Ok(code) => code,
        Err(e) => {
            error(format_args!("error: cannot write to standard output: {e}"));
            ExitCode::from(2)
        }
    }
}

/// One message (of one or more lines) on stderr.
pub fn error(message: impl Display) {
    let text = message.to_string();
    let _ = writeln!(io::stderr().lock(), "{}", printable_lines(&text));
}

/// Progress text on stderr, written as it is (it carries its own `\r`).
pub fn progress(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}
