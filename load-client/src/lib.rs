//! # load-client: the blog's load test, grown up
//!
//! The blog's `load.go` reads `/_count`, fires 50 concurrent requests, and reads `/_count`
//! again. This does the same, and then what a real investigation needs:
//!
//! * the count *settled* after the load, not one snapshot that still holds closing
//!   connections ([`run`]);
//! * leaked tasks per request and a verdict, per round and for the whole run;
//! * latency percentiles (HDR histogram), requests/s, status codes and errors by kind,
//!   open-loop rates without coordinated omission, clients that give up ([`load`]);
//! * `--json`, `--plot` (an SVG chart, [`plot`]), `--stack` (the top spawn sites, or Go's
//!   goroutine dump grouped by stack, [`stack`]);
//! * `demo`: both servers, every scenario, side by side ([`demo`]);
//! * `soak`: a server in its own process under a long mixed load, then what is left
//!   ([`soak`]);
//! * a run stops, exit 3, when its target stops answering ([`load`]).
//!
//! The binary is a thin layer over this library; the tests and the demo drive the same
//! functions.

pub mod app;
pub mod count;
pub mod demo;
pub mod flame;
pub mod load;
pub mod plot;
pub mod process;
pub mod run;
pub mod sites;
pub mod slow;
pub mod soak;
pub mod stack;
pub mod windows;

use std::fmt;

/// Why a run could not be done. Each maps to an exit code.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Bad flags or arguments (exit 2).
    Usage(String),
    /// The target or its `/_count` does not answer (exit 3).
    Unreachable(String),
    /// `/_count` answers something that is not a task count (exit 3).
    BadCount(String),
    /// Writing an output file, starting a demo server... (exit 1).
    Io(String),
    /// The target stopped answering during the run (exit 3). Holds the figures so far,
    /// which `--json` still prints.
    TargetLost(Box<run::LostReport>),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Unreachable(_) | Error::BadCount(_) | Error::TargetLost(_) => 3,
            Error::Io(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Unreachable(m) | Error::BadCount(m) | Error::Io(m) => {
                f.write_str(m)
            }
            Error::TargetLost(lost) => f.write_str(&lost.stopped),
        }
    }
}

impl std::error::Error for Error {}
