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

// The twin this binary runs: LEAK(L1)…LEAK(L8) are its leaks.
use leaky_server::{Config, serve_with};

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: scenarios::cli::ServerArgs,
    // LEAK(L7, L8): no deadlines to set.
}

fn main() -> ExitCode {
    let args = Args::parse();
    let server = Server::from_name(env!("CARGO_PKG_NAME")).expect("the crate is a server");
    scenarios::cli::run(server, &args.server, |listener, debug, shutdown| {
        let config = Config {
            debug,
            // LEAK(L7, L8): nothing else to configure.
        };
        serve_with(listener, shutdown, config)
    })
}
