//! `load-client`: the blog's load test, grown up. See the crate docs and `--help`.
//!
//! ```text
//! $ cargo run --release -p load-client -- demo                        # the before/after demo
//! $ cargo run --release -p load-client -- --rounds 2 http://127.0.0.1:8001/sum
//! ```
//!
//! Exit codes: 0 done; 1 a leak with `--fail-on-leak` (or an output file could not be
//! written); 2 bad usage; 3 the target or its `/_count` is unreachable or not a count.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use load_client::count::Counter;
use load_client::load::LoadSpec;
use load_client::run::{self, RunSpec, Sampler};
use load_client::{Error, demo, plot, stack};
use reqwest::Url;

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
    /// Start leaky-server and fixed-server on free loopback ports, run the blog's
    /// experiment on every route of both, print them side by side and chart the task count.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// The endpoint under test, e.g. http://127.0.0.1:8001/sum
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
    /// Exit 1 if tasks leaked after settling (more than --leak-threshold per request)
    #[arg(long)]
    fail_on_leak: bool,
    /// Leaked tasks per request tolerated by the verdict and --fail-on-leak
    #[arg(long, default_value_t = 0.0, value_parser = parse_threshold)]
    leak_threshold: f64,
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

/// An `http://` URL with a host, or a usage error.
fn http_url(what: &str, s: &str) -> Result<Url, Error> {
    let url = Url::parse(s).map_err(|e| Error::Usage(format!("{what} {s:?} is not a URL: {e}")))?;
    if url.scheme() != "http" || url.host().is_none() {
        return Err(Error::Usage(format!(
            "{what} {s:?} must be an http:// URL with a host (this client speaks plain HTTP)"
        )));
    }
    Ok(url)
}

fn with_path(url: &Url, path: &str) -> Url {
    let mut url = url.clone();
    url.set_path(path);
    url.set_query(None);
    url
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
            Some(Command::Demo(args)) => run_demo(args).await,
            None => run_load(cli.load).await,
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

async fn run_load(args: LoadArgs) -> Result<u8, Error> {
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
    let spec = RunSpec {
        url: url.clone(),
        count_url: count_url.clone(),
        rounds: args.rounds,
        load: LoadSpec {
            requests,
            concurrency: args.concurrency as usize,
            duration: args.duration,
            rate: args.rate,
            abandon_after: args.abandon_after,
            timeout: args.timeout,
            keep_samples: args.plot.is_some(),
        },
        settle: args.settle,
        leak_threshold: args.leak_threshold,
    };

    let progress = match requests {
        Some(n) => ProgressBar::with_draw_target(
            Some(n * u64::from(args.rounds)),
            ProgressDrawTarget::stderr(),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} requests {per_sec} {elapsed}")
            .expect("a valid template"),
    );
    if !args.json {
        println!(
            "load-client: {} × {} round(s), concurrency {}{} -> {url}",
            requests.map_or(
                "requests for ".to_owned()
                    + &humantime::format_duration(args.duration.unwrap_or_default()).to_string(),
                |n| format!("{n} requests")
            ),
            args.rounds,
            args.concurrency,
            args.rate
                .map_or(String::new(), |r| format!(", {r} requests/s (open loop)"))
        );
    }
    let counter = Arc::new(Counter::new(count_url.clone()));
    let tick = progress.clone();
    let json = args.json;
    let rounds = args.rounds;
    let report = run::run(
        &spec,
        Arc::clone(&counter),
        Sampler::new(std::time::Instant::now()),
        Arc::new(move || tick.inc(1)),
        |round, figures| {
            if !json {
                progress.suspend(|| {
                    if rounds > 1 {
                        println!("round {round}:");
                    }
                    print!("{}", run::describe(figures));
                });
            }
        },
    )
    .await;
    progress.finish_and_clear();
    let report = report?;

    if !json && args.rounds > 1 {
        println!("whole run ({} rounds):", args.rounds);
        print!("{}", run::describe(&report.total));
    }

    let mut stack_groups = None;
    if args.stack {
        // leak-probe's report as JSON; a server without `/_tasks` (the blog's Go server)
        // has its goroutine dump at `/_stack`.
        let tasks_url = with_path(&count_url, "/_tasks");
        let from_json = match fetch_text(&tasks_url).await {
            Ok(json) => stack::from_tasks_json(&json).map(|g| (tasks_url.clone(), g, json)),
            Err(_) => None,
        };
        let (stack_url, groups, text) = match from_json {
            Some(found) => found,
            None => {
                let stack_url = with_path(&count_url, "/_stack");
                let text = fetch_text(&stack_url).await?;
                (stack_url, stack::summarize(&text), text)
            }
        };
        if !json {
            println!("\ntop of {stack_url}:");
            if groups.is_empty() && !text.contains("\"groups\"") {
                let head: Vec<&str> = text.lines().take(20).collect();
                println!(
                    "(not a format load-client groups; its first lines:)\n{}",
                    head.join("\n")
                );
            } else {
                print!("{}", stack::render(&groups, 5, 4));
            }
        }
        stack_groups = Some(groups);
    }

    if let Some(path) = &args.plot {
        write_plot(path, &report)?;
        if !json {
            println!("chart: {}", path.display());
        }
    }

    if json {
        let mut value = serde_json::to_value(&report).expect("the report serializes");
        if let Some(groups) = stack_groups {
            value["stack"] = groups
                .iter()
                .map(|g| {
                    serde_json::json!({
                        "count": g.count, "origin": g.origin, "state": g.state, "frames": g.frames,
                    })
                })
                .collect();
        }
        println!("{value}");
    }

    Ok(if args.fail_on_leak && report.leaked() {
        1
    } else {
        0
    })
}

async fn fetch_text(url: &Url) -> Result<String, Error> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .expect("a plain HTTP client always builds");
    let response = client.get(url.clone()).send().await.map_err(|e| {
        Error::Unreachable(format!(
            "cannot read {url}: {}",
            load_client::count::describe(&e)
        ))
    })?;
    if !response.status().is_success() {
        return Err(Error::Unreachable(format!(
            "{url} answered {}",
            response.status()
        )));
    }
    response
        .text()
        .await
        .map_err(|e| Error::Unreachable(format!("cannot read {url}: {e}")))
}

fn write_plot(path: &std::path::Path, report: &run::RunReport) -> Result<(), Error> {
    let mut panels = vec![plot::Panel {
        title: "live tasks in the server (/_count)".into(),
        y_label: "tasks".into(),
        series: vec![plot::Series {
            name: "live tasks".into(),
            color: plot::COLORS[0],
            points: report.count_samples.clone(),
        }],
        markers: Vec::new(),
    }];
    if !report.latency_samples.is_empty() {
        panels.push(plot::Panel {
            title: "latency, p99 per 250 ms".into(),
            y_label: "ms".into(),
            series: vec![plot::Series {
                name: "p99 latency".into(),
                color: plot::COLORS[1],
                points: plot::windowed_p99(&report.latency_samples, 0.25),
            }],
            markers: Vec::new(),
        });
    }
    let svg = plot::svg(
        &format!("load-client: {}", report.url),
        "seconds since the run started",
        &panels,
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, svg)
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))
}

async fn run_demo(args: DemoArgs) -> Result<u8, Error> {
    let spec = demo::DemoSpec {
        requests: args.requests,
        concurrency: args.concurrency as usize,
        rounds: args.rounds,
        plot: args.plot,
    };
    println!(
        "load-client demo: the blog's experiment ({} rounds × {} concurrent requests) on every route of both servers\n",
        spec.rounds, spec.requests
    );
    let started = std::time::Instant::now();
    let rows = demo::run(&spec, |line| println!("{line}")).await?;
    println!("\n{}", demo::table(&rows));
    println!(
        "leaky-server keeps one task per request on every route (per request whose client gave up, on /abandon);\nfixed-server keeps none. Done in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    println!("chart of the task count over time: {}", spec.plot.display());
    Ok(0)
}
