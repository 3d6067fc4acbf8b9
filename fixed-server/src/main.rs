//! `fixed-server`: the same server with every leak fixed.
//!
//! ```text
//! $ cargo run -p fixed-server                      # listens on 127.0.0.1:8002
//! $ curl 127.0.0.1:8002/_count                     # in a second terminal
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The blog's concurrent-sum server with every leak fixed: the same routes as
/// leaky-server (/sum, /select, /range, /heartbeat, /upstream, /abandon) and the same
/// debug routes (/_count, /_stack, /_tasks, /metrics), and no task outlives its request.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Keep it on loopback: the debug routes reveal internals.
    #[arg(long, default_value = "127.0.0.1:8002")]
    addr: SocketAddr,
    /// Build the runtime without leak-probe's spawn hooks: /_stack and /metrics then lack
    /// spawn sites. For measuring what the hooks cost.
    #[arg(long)]
    no_task_registry: bool,
    /// Serve /_count, /_stack and /_tasks on a non-loopback address too (they reveal
    /// internals; on loopback they are always on). /metrics is always served.
    #[arg(long)]
    expose_debug: bool,
    /// Allow /_stack?trace=tokio: tokio's own task dump, taken only while the runtime is
    /// quiet. It pauses every worker, and on a busy runtime tokio 1.54's dump can hang the
    /// process for good, so it is off unless asked for. /_stack without it never pauses.
    #[arg(long)]
    tokio_dump: bool,
    /// On Ctrl-C/SIGTERM, how long in-flight requests may finish before they are
    /// cancelled (e.g. 500ms, 2s, 1m).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // `--features console`: serve tokio-console on 127.0.0.1:6669. Its aggregator runs on
    // a thread of its own, so it adds no task to /_count.
    #[cfg(feature = "console")]
    console_subscriber::init();
    let builder = tokio::runtime::Builder::new_multi_thread();
    let runtime = if args.no_task_registry {
        let mut builder = builder;
        builder.enable_all().build()
    } else {
        leak_probe::runtime::build(builder)
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fixed-server: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = fixed_server::Config {
        shutdown_timeout: args.shutdown_timeout,
        expose_debug: args.expose_debug,
        tokio_dump: args.tokio_dump,
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!("fixed-server listening on http://{addr} (Ctrl-C to stop)");
        fixed_server::serve_with(listener, leak_probe::signal::shutdown(), config)
            .await
            .map_err(|e| format!("server error: {e}"))
    });
    match result {
        Ok(_) => {
            eprintln!("fixed-server stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fixed-server: {e}");
            ExitCode::FAILURE
        }
    }
}
