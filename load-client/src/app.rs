//! What the binary does, as functions: a load run ([`load`]), the demo ([`demo`]) and the
//! scenario list ([`scenarios`]). `main.rs` only parses the command line into these.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Url;

use crate::count::Counter;
use crate::run::{self, RunSpec, Sampler};
use crate::{Error, demo, plot, stack};

/// A load run, as the command line asked for it.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The endpoint under test, the count's URL, rounds, load, settle window, threshold.
    pub spec: RunSpec,
    /// After the run, show where the live tasks come from.
    pub stack: bool,
    /// One JSON object on stdout instead of text.
    pub json: bool,
    /// Write a chart here.
    pub plot: Option<PathBuf>,
    /// Write a flame graph of the live tasks here, after the run.
    pub flamegraph: Option<PathBuf>,
    /// Exit 1 on a leak.
    pub fail_on_leak: bool,
}

/// An `http://` URL with a host, or a usage error.
pub fn http_url(what: &str, s: &str) -> Result<Url, Error> {
    let url = Url::parse(s).map_err(|e| Error::Usage(format!("{what} {s:?} is not a URL: {e}")))?;
    if url.scheme() != "http" || url.host().is_none() {
        return Err(Error::Usage(format!(
            "{what} {s:?} must be an http:// URL with a host (this client speaks plain HTTP)"
        )));
    }
    Ok(url)
}

/// `url` with its path replaced (and no query).
pub fn with_path(url: &Url, path: &str) -> Url {
    let mut url = url.clone();
    url.set_path(path);
    url.set_query(None);
    url
}

/// Runs the load test of `opts`, printing as it goes; the exit code.
pub async fn load(opts: LoadOptions) -> Result<u8, Error> {
    let spec = &opts.spec;
    let (url, count_url, requests) = (&spec.url, &spec.count_url, spec.load.requests);
    let progress = match requests {
        Some(n) => ProgressBar::with_draw_target(
            Some(n * u64::from(spec.rounds)),
            ProgressDrawTarget::stderr(),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} requests {per_sec} {elapsed}")
            .expect("a valid template"),
    );
    if !opts.json {
        println!(
            "load-client: {} × {} round(s), concurrency {}{} -> {url}",
            requests.map_or(
                "requests for ".to_owned()
                    + &humantime::format_duration(spec.load.duration.unwrap_or_default())
                        .to_string(),
                |n| format!("{n} requests")
            ),
            spec.rounds,
            spec.load.concurrency,
            spec.load
                .rate
                .map_or(String::new(), |r| format!(", {r} requests/s (open loop)"))
        );
    }
    let counter = Arc::new(Counter::new(count_url.clone()));
    let tick = progress.clone();
    let json = opts.json;
    let rounds = spec.rounds;
    let report = run::run(
        spec,
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
    let report = match report {
        Ok(report) => report,
        Err(Error::TargetLost(lost)) => {
            // The figures so far still go out; the reason goes to stderr (main) and the
            // exit code is 3.
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&lost).expect("the report serializes")
                );
            } else {
                println!(
                    "round {} stopped after {} requests ({} answered); {} round(s) finished before",
                    lost.round,
                    lost.requests,
                    lost.answered,
                    lost.rounds.len()
                );
            }
            return Err(Error::TargetLost(lost));
        }
        Err(e) => return Err(e),
    };

    if !json && spec.rounds > 1 {
        println!("whole run ({} rounds):", spec.rounds);
        print!("{}", run::describe(&report.total));
    }

    let mut stack_groups = None;
    if opts.stack {
        // leak-probe's report as JSON; a server without `/_tasks` (the blog's Go server)
        // has its goroutine dump at `/_stack`.
        let tasks_url = with_path(count_url, "/_tasks");
        let from_json = match fetch_text(&tasks_url).await {
            Ok(json) => stack::from_tasks_json(&json).map(|g| (tasks_url.clone(), g, json)),
            Err(_) => None,
        };
        let (stack_url, groups, text) = match from_json {
            Some(found) => found,
            None => {
                let stack_url = with_path(count_url, "/_stack");
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

    if let Some(path) = &opts.plot {
        write_plot(path, &report)?;
        if !json {
            println!("chart: {}", path.display());
        }
    }
    if let Some(path) = &opts.flamegraph {
        let tasks = write_flamegraph(path, count_url, &report).await?;
        if !json {
            println!("flame graph of {tasks} live task(s): {}", path.display());
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

    Ok(if opts.fail_on_leak && report.leaked() {
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
        Error::Unreachable(format!("cannot read {url}: {}", crate::count::describe(&e)))
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

/// Fetches the server's live tasks (`/_tasks`, or Go's `/_stack`) and writes their flame
/// graph to `path`; the number of tasks drawn.
async fn write_flamegraph(
    path: &std::path::Path,
    count_url: &Url,
    report: &run::RunReport,
) -> Result<u64, Error> {
    let tasks_url = with_path(count_url, "/_tasks");
    let folded = match fetch_text(&tasks_url).await {
        Ok(json) => crate::flame::folded_from_tasks_json(&json),
        Err(_) => None,
    };
    let folded = match folded {
        Some(folded) => folded,
        None => {
            let stack_url = with_path(count_url, "/_stack");
            let groups = stack::summarize(&fetch_text(&stack_url).await?);
            if groups.is_empty() {
                return Err(Error::Io(format!(
                    "no flame graph: neither {tasks_url} nor {stack_url} answered a task report load-client reads"
                )));
            }
            crate::flame::folded_from_go(&groups)
        }
    };
    let tasks = folded
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    let title = format!(
        "live tasks of {} after {} request(s)",
        report.url, report.total.requests
    );
    let svg = crate::flame::svg(&folded, &title).map_err(Error::Io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, svg)
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(tasks)
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
    if !report.latency_over_time.is_empty() {
        let width = report.latency_over_time.width().as_millis();
        panels.push(plot::Panel {
            title: format!("latency, p99 per {width} ms"),
            y_label: "ms".into(),
            series: vec![plot::Series {
                name: "p99 latency".into(),
                color: plot::COLORS[1],
                points: report.latency_over_time.p99_line(),
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

/// Runs the demo with `spec`, printing as it goes; the exit code (1 if a row did not come
/// out as the scenario table says: every leaky row leaks, no fixed row does).
pub async fn demo(spec: demo::DemoSpec) -> Result<u8, Error> {
    println!(
        "load-client demo: every leak of the scenario table on both servers ({} rounds × {} concurrent requests per route)\n",
        spec.rounds, spec.requests
    );
    let started = std::time::Instant::now();
    let rows = demo::run(&spec, |line| println!("{line}")).await?;
    println!("\n{}", demo::table(&rows));
    let leaky: Vec<_> = rows
        .iter()
        .filter(|r| r.server == scenarios::Server::Leaky)
        .collect();
    let fixed: Vec<_> = rows
        .iter()
        .filter(|r| r.server == scenarios::Server::Fixed)
        .collect();
    let leaky_leaks = leaky.iter().filter(|r| r.leaked()).count();
    let fixed_leaks = fixed.iter().filter(|r| r.leaked()).count();
    println!(
        "leaky-server leaked in {leaky_leaks} of {} scenarios, fixed-server in {fixed_leaks} of {}. Done in {:.1} s.",
        leaky.len(),
        fixed.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "How to read it: \"before\" is each server's idle count (its own tasks plus the one connection load-client reads /_count on). \
leaky-server is the same process for every route, so its count climbs from row to row: each route's leaks stay. \
The shutdown rows (L8) use fresh servers: saves accepted, then the stop signal at once."
    );
    println!("chart of the task count over time: {}", spec.plot.display());
    Ok(if leaky_leaks == leaky.len() && fixed_leaks == 0 {
        0
    } else {
        1
    })
}

/// A slow-clients run (L7), as the command line asked for it.
#[derive(Debug, Clone)]
pub struct SlowOptions {
    /// The server (only host and port are used).
    pub url: Url,
    /// Where the count is read.
    pub count_url: Url,
    /// Slow clients to open.
    pub clients: usize,
    /// How long to hold them.
    pub hold: Duration,
    /// One JSON object on stdout instead of text.
    pub json: bool,
    /// Exit 1 on a leak.
    pub fail_on_leak: bool,
}

/// Runs a slow-clients test (L7), printing the figures; the exit code.
pub async fn slow(opts: SlowOptions) -> Result<u8, Error> {
    let addr = crate::slow::socket_addr(&opts.url)?;
    let counter = Counter::new(opts.count_url.clone());
    if !opts.json {
        println!(
            "load-client slow: {} clients that never finish a request -> {addr}, held {}",
            opts.clients,
            humantime::format_duration(opts.hold)
        );
    }
    let figures = crate::slow::run(addr, &counter, opts.clients, opts.hold).await?;
    if opts.json {
        println!(
            "{}",
            serde_json::json!({
                "url": opts.url.as_str(),
                "count_url": opts.count_url.as_str(),
                "clients": figures.clients,
                "tasks_before": figures.tasks_before,
                "tasks_connected": figures.tasks_connected,
                "tasks_held": figures.tasks_held,
                "closed_by_server": figures.closed_by_server,
                "hold_ms": figures.hold_ms,
                "leaked_per_connection": figures.per_client(),
                "verdict": if figures.leaked() { "leak" } else { "no leak" },
            })
        );
    } else {
        println!(
            " {} tasks before the slow clients connected.",
            figures.tasks_before
        );
        println!(
            " {} tasks once they were connected.",
            figures.tasks_connected
        );
        println!(
            " {} tasks after holding them {} ms; the server closed {} of {} connection(s).",
            figures.tasks_held, figures.hold_ms, figures.closed_by_server, figures.clients
        );
        println!(" -> {}", figures.verdict());
    }
    Ok(u8::from(opts.fail_on_leak && figures.leaked()))
}

/// The scenario table, for people (`markdown`) and scripts (`tsv`).
pub fn scenarios(format: &str) -> Result<String, Error> {
    let mut out = String::new();
    match format {
        "markdown" => out.push_str(&scenarios::markdown_table()),
        "tsv" => {
            out.push_str("tag\troute\tdemo_path\tgive_up_ms\ttitle\n");
            for s in &scenarios::SCENARIOS {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\n",
                    s.tag,
                    s.route.unwrap_or("-"),
                    s.path_and_query(),
                    s.give_up()
                        .map_or("-".to_owned(), |d| d.as_millis().to_string()),
                    s.title
                ));
            }
        }
        other => {
            return Err(Error::Usage(format!(
                "--format {other:?}: use markdown or tsv"
            )));
        }
    }
    Ok(out)
}

/// Runs a soak, prints its details (or JSON) on stdout and its one-line verdict last, on
/// stdout too; exit code 1 if it failed.
pub async fn soak(spec: crate::soak::SoakSpec, json: bool) -> Result<u8, Error> {
    if !json {
        println!(
            "soak: {} with {} workers, {} slow clients and {} sending oversized heads, for {}{}",
            spec.command.join(" "),
            spec.concurrency,
            spec.slow_clients,
            crate::soak::OVERSIZED_CLIENTS,
            spec.requests
                .map_or(String::new(), |n| format!("{n} requests")),
            spec.duration.map_or(String::new(), |d| format!(
                "{}{}",
                if spec.requests.is_some() { " or " } else { "" },
                humantime::format_duration(d)
            )),
        );
    }
    let report = crate::soak::run(&spec).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serializes")
        );
    } else {
        print!("{}", report.details());
    }
    // The verdict is the last line, wherever the rest went.
    if json {
        eprintln!("{}", report.line());
    } else {
        println!("{}", report.line());
    }
    Ok(if report.ok() { 0 } else { 1 })
}
