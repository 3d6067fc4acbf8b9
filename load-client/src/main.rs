//! `load-client`: the blog's load test, grown up. See the crate docs and `--help`.
//!
//! ```text
//! $ cargo run --release -p load-client -- demo                        # the before/after demo
//! $ cargo run --release -p load-client -- --rounds 2 http://127.0.0.1:8001/ROUTE
//! $ cargo run --release -p load-client -- scenarios                   # the routes
//! ```
//!
//! Exit codes: 0 done; 1 a leak with `--fail-on-leak` (or an output file could not be
//! written); 2 bad usage; 3 the target or its `/_count` is unreachable or not a count.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use load_client::app::{self, LoadOptions, http_url, with_path};
use load_client::load::LoadSpec;
use load_client::run::RunSpec;
use load_client::{Error, demo};

/// The blog's load test, grown up: reads the server's live task count (`/_count`) before
/// and after a bounded load, waits for it to settle, and reports leaked tasks per request,
/// latency percentiles, status codes and errors.
#[derive(Debug, Parser)]
#[command(
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start leaky-server and fixed-server on free loopback ports, run every scenario of
    /// the table on both, print them side by side and chart the task count.
    Demo(DemoArgs),
    /// Open clients that never finish a request (half a head, or idle after one request),
    /// hold them, and report how many tasks the server keeps for them (scenario L7).
    Slow(SlowArgs),
    /// Start a server as its own process (the command after `--`; `--addr 127.0.0.1:0` is
    /// added) and soak it: every route, give-ups, resets, slow clients, bad input and
    /// 404s at full speed; then check its task count and memory. Ends with one line,
    /// `soak: ... ok` or `soak: ... FAILED (why)` (exit 1).
    Soak(SoakArgs),
    /// Print the table of leak scenarios (what leaks, how it is fixed, how it is shown).
    Scenarios {
        /// markdown (for people) or tsv (for scripts).
        #[arg(long, default_value = "markdown")]
        format: String,
    },
}

#[derive(Debug, Args)]
struct SoakArgs {
    /// Stop after this many requests [default: 100000 if --duration is not given]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    requests: Option<u64>,
    /// Stop after this long (e.g. 20s, 15m), whichever comes first
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Workers sending the fast mix, one request at a time each
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=1000))]
    concurrency: u32,
    /// Workers holding slow connections (half a head, or idle)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(0..=1000))]
    slow_clients: u32,
    /// Print the report as JSON (the summary line still goes to stderr)
    #[arg(long)]
    json: bool,
    /// The server and its arguments, e.g. `-- target/release/fixed-server --header-timeout 1s`
    #[arg(last = true, required = true)]
    server: Vec<String>,
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// The endpoint under test, e.g. http://127.0.0.1:8001/ROUTE (`load-client scenarios`
    /// lists the routes)
    #[arg(required = true)]
    url: Option<String>,
    /// Requests per round [default: 50, or unlimited up to --duration]
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    requests: Option<u64>,
    /// Requests in flight at once
    #[arg(short = 'c', long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Rounds of load (the blog runs its test twice to show the count never comes down)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Stop sending after this long in each round (e.g. 10s); bounds the round with -n
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Open loop: send at this many requests per second; latency counts from the intended
    /// send time (no coordinated omission)
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Each client gives up (disconnects) after this long, e.g. 50ms
    #[arg(long, value_parser = parse_duration)]
    abandon_after: Option<Duration>,
    /// Longest wait, after each round, for the task count to stop moving
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    settle: Duration,
    /// A request not answered within this is an error
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Where to read the task count [default: /_count on the URL's origin]
    #[arg(long)]
    count_url: Option<String>,
    /// After the run, fetch /_stack and show the top spawn sites (or Go's goroutines
    /// grouped by stack)
    #[arg(long)]
    stack: bool,
    /// Print one JSON object on stdout instead of text
    #[arg(long)]
    json: bool,
    /// Write an SVG chart of the task count (and latency) over the run
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// After the run, write a flame graph (SVG) of the server's live tasks: spawn site at
    /// the root, the lines they wait at on top (from /_tasks, or Go's /_stack)
    #[arg(long, value_name = "FILE.svg")]
    flamegraph: Option<PathBuf>,
    /// Exit 1 if tasks leaked after settling (more than --leak-threshold per request)
    #[arg(long)]
    fail_on_leak: bool,
    /// Leaked tasks per request tolerated by the verdict and --fail-on-leak
    #[arg(long, default_value_t = 0.0, value_parser = parse_threshold)]
    leak_threshold: f64,
}

#[derive(Debug, Args)]
struct SlowArgs {
    /// The server, e.g. http://127.0.0.1:8002 (any path: only its host and port are used)
    url: String,
    /// Slow clients to open
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    clients: u64,
    /// How long to hold them open before reading the count again
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    hold: Duration,
    /// Where to read the task count [default: /_count on the URL's origin]
    #[arg(long)]
    count_url: Option<String>,
    /// Print one JSON object on stdout instead of text
    #[arg(long)]
    json: bool,
    /// Exit 1 if the server kept tasks for the slow clients
    #[arg(long)]
    fail_on_leak: bool,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Requests per round
    #[arg(short = 'n', long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    requests: u64,
    /// Requests in flight at once
    #[arg(short = 'c', long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Rounds per route
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Slow clients per server for the slow-connections scenario
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=2_000))]
    slow_clients: u64,
    /// Where to write the chart
    #[arg(
        long,
        value_name = "FILE.svg",
        default_value = "target/demo/task-count.svg"
    )]
    plot: PathBuf,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (use e.g. 500ms, 2s, 1m)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 1e7 => Ok(r),
        _ => Err("must be a number of requests per second, more than 0".into()),
    }
}

fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err("must be a number of tasks per request, 0 or more".into()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("load-client: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Demo(args)) => {
                app::demo(demo::DemoSpec {
                    requests: args.requests,
                    concurrency: args.concurrency as usize,
                    rounds: args.rounds,
                    slow_clients: args.slow_clients as usize,
                    plot: args.plot,
                })
                .await
            }
            Some(Command::Slow(args)) => match slow_options(args) {
                Ok(opts) => app::slow(opts).await,
                Err(e) => Err(e),
            },
            Some(Command::Soak(args)) => {
                let requests = match (args.requests, args.duration) {
                    (None, None) => Some(100_000),
                    (n, _) => n,
                };
                app::soak(
                    load_client::soak::SoakSpec {
                        command: args.server,
                        requests,
                        duration: args.duration,
                        concurrency: args.concurrency as usize,
                        slow_clients: args.slow_clients as usize,
                    },
                    args.json,
                )
                .await
            }
            Some(Command::Scenarios { format }) => app::scenarios(&format).map(|table| {
                print!("{table}");
                0
            }),
            None => match load_options(cli.load) {
                Ok(opts) => app::load(opts).await,
                Err(e) => Err(e),
            },
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("load-client: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The validated options of a load run.
fn load_options(args: LoadArgs) -> Result<LoadOptions, Error> {
    let url = http_url("URL", args.url.as_deref().unwrap_or_default())?;
    let count_url = match &args.count_url {
        Some(s) => http_url("--count-url", s)?,
        None => with_path(&url, "/_count"),
    };
    let requests = match (args.requests, args.duration) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(50),
    };
    Ok(LoadOptions {
        spec: RunSpec {
            url,
            count_url,
            rounds: args.rounds,
            load: LoadSpec {
                requests,
                concurrency: args.concurrency as usize,
                duration: args.duration,
                rate: args.rate,
                abandon_after: args.abandon_after,
                timeout: args.timeout,
                latency_over_time: args.plot.is_some(),
            },
            settle: args.settle,
            leak_threshold: args.leak_threshold,
        },
        stack: args.stack,
        json: args.json,
        plot: args.plot,
        flamegraph: args.flamegraph,
        fail_on_leak: args.fail_on_leak,
    })
}

/// The validated options of a slow-clients run.
fn slow_options(args: SlowArgs) -> Result<app::SlowOptions, Error> {
    let url = http_url("URL", &args.url)?;
    let count_url = match &args.count_url {
        Some(s) => http_url("--count-url", s)?,
        None => with_path(&url, "/_count"),
    };
    if args.hold > Duration::from_secs(600) {
        return Err(Error::Usage("--hold: at most 10m".into()));
    }
    Ok(app::SlowOptions {
        url,
        count_url,
        clients: args.clients as usize,
        hold: args.hold,
        json: args.json,
        fail_on_leak: args.fail_on_leak,
    })
}
