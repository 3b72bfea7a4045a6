//! Standard output and error that a closed pipe cannot break.
//!
//! `rtbench load … | head -1` closes stdout while the command still has
//! results to write and thresholds to check: the reader has what it wanted,
//! so the rest of the output is dropped and the command ends as it would
//! have (results file written, same exit code). `outln!` and `errln!`
//! panic on a closed pipe, so the commands write through these instead.

use std::io::{self, Write};

/// Standard output; writes after the reader went away succeed silently.
pub fn stdout() -> Quiet<io::StdoutLock<'static>> {
    Quiet(io::stdout().lock())
}

/// Standard error, as forgiving as [`stdout`].
pub fn stderr() -> Quiet<io::StderrLock<'static>> {
    Quiet(io::stderr().lock())
}

/// A writer that turns "the reader is gone" into success.
#[derive(Debug)]
pub struct Quiet<W>(W);

/// True for the errors of a pipe or terminal whose reader went away.
fn reader_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

impl<W: Write> Write for Quiet<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if reader_gone(&e) => Ok(buf.len()),
            r => r,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.flush() {
            Err(e) if reader_gone(&e) => Ok(()),
            r => r,
        }
    }
}

/// `outln!` that survives a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::out::stdout(), $($arg)*);
    }};
}

/// `errln!` that survives a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::out::stderr(), $($arg)*);
    }};
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose reader left.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    /// A disk that is full: an error the user must see.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::StorageFull.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_no_error_but_other_failures_are() {
        assert!(writeln!(Quiet(Closed), "lost").is_ok());
        assert!(Quiet(Closed).flush().is_ok());
        assert!(writeln!(Quiet(Full), "lost").is_err());
    }
}
