//! Serves the sum route (L1) at one stage of `benches::layers`, for the report's cost
//! table.
//!
//! ```text
//! cargo run --release -p benches --bin layers -- --stage bare --addr 127.0.0.1:8010
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use benches::layers::{Stage, app};
use clap::Parser;

/// The same allocator as the servers', so the stages compare layers, not allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The sum route with leak-probe's and fixed-server's layers added one at a time.
#[derive(Debug, Parser)]
struct Args {
    /// How many layers: each stage adds one to the previous.
    #[arg(long, value_enum)]
    stage: Stage,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8010")]
    addr: SocketAddr,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let builder = tokio::runtime::Builder::new_multi_thread();
    let runtime = if args.stage.hooks() {
        leak_probe::runtime::build(builder)
    } else {
        let mut builder = builder;
        builder.enable_all().build()
    };
    let Ok(runtime) = runtime else {
        eprintln!("layers: cannot start a runtime");
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        eprintln!(
            "layers ({:?}) listening on http://{}",
            args.stage,
            listener.local_addr()?
        );
        axum::serve(listener, app(args.stage)).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("layers: {e}");
            ExitCode::FAILURE
        }
    }
}
