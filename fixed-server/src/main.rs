//! The binary: flags, a runtime built by leak-probe, and [`serve_with`] until Ctrl-C or
//! SIGTERM, then the shutdown line. `cargo run -p leaky-server -- --help` (or
//! `-p fixed-server`) lists the flags; the ones both servers share are in
//! `scenarios::cli`.

use std::process::ExitCode;

use clap::Parser;
use scenarios::Server;

/// mimalloc, not the system allocator: every request allocates, and glibc's `malloc` was
/// a fifth of the CPU profile under load (see the book's numbers chapter for what it
/// bought). The report's comparison servers use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The twin this binary runs: FIX(L1)…FIX(L8) are its fixes.
use fixed_server::{Config, serve_with};

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: scenarios::cli::ServerArgs,
    /// FIX(L7): close a connection that has not sent a complete request head within
    /// this long (e.g. 500ms, 10s).
    #[arg(long, default_value = "10s", value_parser = deadline)]
    header_timeout: std::time::Duration,
    /// FIX(L7): close a keep-alive connection idle for this long between requests.
    #[arg(long, default_value = "60s", value_parser = deadline)]
    idle_timeout: std::time::Duration,
    /// FIX(L8): on Ctrl-C/SIGTERM, how long requests in flight and the tasks they started
    /// may finish before they are cancelled (e.g. 500ms, 2s, 1m).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    shutdown_timeout: std::time::Duration,
}

/// FIX(L7): a connection deadline: a duration, and not zero (which would close every
/// connection at once; to keep connections longer, give a longer one).
fn deadline(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err(
            "a deadline of 0 would close every connection at once; give one of at least 1ms".into(),
        ),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let server = Server::from_name(env!("CARGO_PKG_NAME")).expect("the crate is a server");
    scenarios::cli::run(server, &args.server, |listener, debug, shutdown| {
        let config = Config {
            debug,
            // FIX(L7, L8): the deadlines.
            deadlines: fixed_server::conn::Deadlines {
                header: args.header_timeout,
                idle: args.idle_timeout,
            },
            shutdown_timeout: fixed_server::server::ShutdownTimeout(args.shutdown_timeout),
        };
        serve_with(listener, shutdown, config)
    })
}
