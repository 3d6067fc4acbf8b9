//! The flags both binaries share, and their start-up: build an instrumented runtime, bind,
//! serve until Ctrl-C or SIGTERM, print the shutdown line.
//!
//! Each binary's `main.rs` is this plus its own flags (fixed-server's are fixes, tagged).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;

use leak_probe::http::DebugConfig;
use tokio::net::TcpListener;

use crate::{Server, ShutdownReport};

/// The signal that stops a server (Ctrl-C or SIGTERM in the binaries).
pub type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Flags of both servers.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on [default: 127.0.0.1:8001 for leaky-server, 127.0.0.1:8002 for
    /// fixed-server]. Keep it on loopback: the debug routes reveal internals.
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Build the runtime without leak-probe's spawn hooks: /_stack and /metrics then lack
    /// spawn sites. For measuring what the hooks cost.
    #[arg(long)]
    pub no_task_registry: bool,
    /// Serve /_count, /_stack and /_tasks on a non-loopback address too (they reveal
    /// internals; on loopback they are always on). /metrics is always served.
    #[arg(long)]
    pub expose_debug: bool,
    /// Allow /_stack?trace=tokio: tokio's own task dump, taken only while the runtime is
    /// quiet. It pauses every worker, and on a busy runtime tokio 1.54's dump can hang the
    /// process for good, so it is off unless asked for. /_stack without it never pauses.
    #[arg(long)]
    pub tokio_dump: bool,
}

/// Runs `server` as a binary: an instrumented multi-thread runtime, a listener on
/// `--addr`, and `serve(listener, debug, shutdown)` until Ctrl-C or SIGTERM. Prints where
/// it listens and the shutdown line; a start-up failure is one line and exit code 1.
pub fn run<F, Fut>(server: Server, args: &ServerArgs, serve: F) -> ExitCode
where
    F: FnOnce(TcpListener, DebugConfig, ShutdownSignal) -> Fut,
    Fut: Future<Output = io::Result<ShutdownReport>>,
{
    let name = server.name();
    // `--features console`: serve tokio-console on 127.0.0.1:6669. Its aggregator runs on
    // a thread of its own, so it adds no task to /_count.
    #[cfg(feature = "console")]
    console_subscriber::init();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let runtime = if args.no_task_registry {
        builder.enable_all().build()
    } else {
        leak_probe::runtime::build(builder)
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{name}: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = args.addr.unwrap_or(server.default_addr());
    let result = runtime.block_on(async {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let debug = DebugConfig::for_addr(local, args.expose_debug, args.tokio_dump);
        // Sample live tasks per spawn site from the start, so /_leaks and /_ui have the
        // history that names a suspect when someone first looks.
        leak_probe::leaks::watch();
        eprintln!("{name} listening on http://{local} (Ctrl-C to stop)");
        serve(listener, debug, Box::pin(leak_probe::signal::shutdown()))
            .await
            .map_err(|e| format!("server error: {e}"))
    });
    match result {
        Ok(report) => {
            eprintln!("{name}: {report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
