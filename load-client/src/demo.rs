//! `load-client demo`: every scenario of `scenarios::SCENARIOS` on both servers, side by
//! side.
//!
//! Starts leaky-server and fixed-server itself, each on its own instrumented tokio runtime
//! (so each `/_count` counts only its own tasks) and its own free loopback port. Then, row
//! by row of the scenario table:
//!
//! * a route (L1–L6): the blog's load test (2 rounds × 50 concurrent requests, clients
//!   giving up where the scenario says) against both;
//! * slow connections (L7): clients that send half a request head, or finish one request
//!   and sit idle, held open past fixed-server's deadlines (the demo starts it with
//!   `--header-timeout 1s --idle-timeout 2s`, so this takes seconds, not minutes);
//! * shutdown (L8): a fresh pair of servers, saves accepted, then the stop signal.
//!
//! It prints one table, writes a chart of both servers' task count over time, and stops
//! the servers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use scenarios::{Load, SCENARIOS, Scenario, Server, ShutdownReport};

use crate::Error;
use crate::count::Counter;
use crate::plot::{self, Panel, Series};
use crate::run::{self, RunReport, RunSpec, Sampler, Watch};
use crate::slow::{self, SlowFigures};

/// The demo's settings.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    /// Requests per round.
    pub requests: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Rounds per route.
    pub rounds: u32,
    /// Slow clients per server for L7.
    pub slow_clients: usize,
    /// Where the chart goes.
    pub plot: PathBuf,
}

/// fixed-server's connection deadlines in the demo (short, so L7 shows in seconds).
pub const DEMO_DEADLINES: fixed_server::conn::Deadlines = fixed_server::conn::Deadlines {
    header: Duration::from_secs(1),
    idle: Duration::from_secs(2),
};

/// A server running on its own runtime and thread.
pub struct Running {
    /// Which one.
    pub server: Server,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its runtime, to read its live task count directly.
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<ShutdownReport>>>,
}

impl Running {
    /// Starts `server` on `127.0.0.1:0` on a fresh instrumented 2-worker runtime, with
    /// its default settings (fixed-server's connection deadlines: [`DEMO_DEADLINES`]).
    pub fn start(server: Server) -> Result<Running, Error> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(server.name().into())
            .spawn(move || -> std::io::Result<ShutdownReport> {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(2);
                let runtime = leak_probe::runtime::build(builder)?;
                let report = runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    let ready = listener
                        .local_addr()
                        .map(|addr| (addr, tokio::runtime::Handle::current()));
                    let _ = ready_tx.send(ready);
                    let stopped = async {
                        let _ = stopped.await;
                    };
                    match server {
                        Server::Leaky => leaky_server::serve(listener, stopped).await,
                        Server::Fixed => {
                            let config = fixed_server::Config {
                                deadlines: DEMO_DEADLINES,
                                ..Default::default()
                            };
                            fixed_server::serve_with(listener, stopped, config).await
                        }
                    }
                })?;
                // Leaked tasks are dropped here, with the runtime.
                runtime.shutdown_timeout(Duration::from_secs(1));
                Ok(report)
            })
            .map_err(|e| Error::Io(format!("cannot start {server}: {e}")))?;
        let (addr, handle) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| Error::Io(format!("{server} did not start")))?
            .map_err(|e| Error::Io(format!("{server} cannot listen: {e}")))?;
        Ok(Running {
            server,
            addr,
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("a valid URL")
    }

    /// The server's live tasks, read from its runtime (not over HTTP, so reading adds no
    /// connection of its own).
    pub fn live_tasks(&self) -> usize {
        self.handle.metrics().num_alive_tasks()
    }

    /// Stops the server and waits for its thread; what its shutdown did.
    pub fn stop(mut self) -> Result<ShutdownReport, Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<ShutdownReport, Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(Ok(report))) => Ok(report),
            Some(Ok(Err(e))) => Err(Error::Io(format!("server error: {e}"))),
            Some(Err(_)) => Err(Error::Io("a server thread panicked".into())),
            None => Err(Error::Io("the server was already stopped".into())),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shutdown();
        }
    }
}

/// What one row of the demo measured.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A route under the blog's load test.
    Load(Box<RunReport>),
    /// Slow connections held open.
    Slow(SlowFigures),
    /// Saves accepted, then shutdown.
    Shutdown(ShutdownReport),
}

/// One row of the demo table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which scenario.
    pub scenario: &'static Scenario,
    /// Which server.
    pub server: Server,
    /// What it measured.
    pub outcome: Outcome,
}

impl Row {
    /// Whether the row shows a leak.
    pub fn leaked(&self) -> bool {
        match &self.outcome {
            Outcome::Load(report) => report.leaked(),
            Outcome::Slow(slow) => slow.leaked(),
            Outcome::Shutdown(report) => report.saves_lost() > 0,
        }
    }
}

/// Runs the demo; prints progress lines through `say`. Returns the rows; the chart is
/// written to `spec.plot`.
///
/// Both servers' counts are sampled all through the route and connection rows, so the
/// chart shows both lines side by side.
pub async fn run(spec: &DemoSpec, mut say: impl FnMut(&str)) -> Result<Vec<Row>, Error> {
    let start = Instant::now();
    let servers = [
        Running::start(Server::Leaky)?,
        Running::start(Server::Fixed)?,
    ];
    say(&format!(
        "started {} on {} and {} on {}",
        servers[0].server, servers[0].addr, servers[1].server, servers[1].addr
    ));
    // Per server: the counter the runs use, and a sampler fed all through the demo.
    let mut watched = Vec::new();
    for running in &servers {
        let counter = Arc::new(Counter::new(running.url("/_count")));
        let sampler = Sampler::new(start);
        let watch = Watch::start(
            Arc::new(Counter::new(running.url("/_count"))),
            sampler.clone(),
            run::POLL_EVERY,
        );
        watched.push((counter, sampler, watch));
    }

    let mut rows = Vec::new();
    let mut markers = Vec::new();
    for scenario in &SCENARIOS {
        if !matches!(scenario.load, Load::Shutdown { .. }) {
            markers.push((start.elapsed().as_secs_f64(), scenario.tag.to_string()));
        }
        match scenario.load {
            Load::Requests { .. } => {
                for (running, (counter, sampler, _)) in servers.iter().zip(&watched) {
                    let report = load_route(spec, scenario, running, counter, sampler).await?;
                    let row = Row {
                        scenario,
                        server: running.server,
                        outcome: Outcome::Load(Box::new(report)),
                    };
                    say(&progress_line(&row));
                    rows.push(row);
                }
            }
            Load::SlowConnections => {
                // Held past both of fixed-server's deadlines, the clients still connected.
                let hold =
                    DEMO_DEADLINES.header.max(DEMO_DEADLINES.idle) + Duration::from_millis(700);
                let (leaky, fixed) = tokio::join!(
                    slow::run(servers[0].addr, &watched[0].0, spec.slow_clients, hold),
                    slow::run(servers[1].addr, &watched[1].0, spec.slow_clients, hold),
                );
                for (running, figures) in servers.iter().zip([leaky?, fixed?]) {
                    let row = Row {
                        scenario,
                        server: running.server,
                        outcome: Outcome::Slow(figures),
                    };
                    say(&progress_line(&row));
                    rows.push(row);
                }
            }
            Load::Shutdown { .. } => {
                for server in Server::BOTH {
                    let report = saves_then_shutdown(spec, scenario, server).await?;
                    let row = Row {
                        scenario,
                        server,
                        outcome: Outcome::Shutdown(report),
                    };
                    say(&progress_line(&row));
                    rows.push(row);
                }
            }
        }
    }
    let samplers: Vec<(Server, Sampler)> = servers
        .iter()
        .zip(watched)
        .map(|(running, (_, sampler, _watch))| (running.server, sampler))
        .collect();
    for running in servers {
        running.stop()?;
    }
    write_chart(&spec.plot, &samplers, markers)?;
    Ok(rows)
}

/// The blog's load test on one route of one server.
async fn load_route(
    spec: &DemoSpec,
    scenario: &Scenario,
    running: &Running,
    counter: &Arc<Counter>,
    sampler: &Sampler,
) -> Result<RunReport, Error> {
    let mut spec = RunSpec::rounds(
        running.url(&scenario.path_and_query()),
        counter.url().clone(),
        spec.rounds,
        spec.requests,
        spec.concurrency,
    );
    spec.load.abandon_after = scenario.give_up();
    run::run(
        &spec,
        Arc::clone(counter),
        sampler.clone(),
        Arc::new(|| {}),
        |_, _| {},
    )
    .await
}

/// L8 on a fresh server: `requests` saves accepted, then the stop signal at once.
async fn saves_then_shutdown(
    spec: &DemoSpec,
    scenario: &Scenario,
    server: Server,
) -> Result<ShutdownReport, Error> {
    let running = Running::start(server)?;
    let url = running.url(&scenario.path_and_query());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .build()
        .expect("a plain HTTP client always builds");
    let mut saves = tokio::task::JoinSet::new();
    for _ in 0..spec.requests {
        saves.spawn(client.get(url.clone()).send());
    }
    while let Some(done) = saves.join_next().await {
        match done {
            Ok(Ok(answer)) if answer.status() == 202 => {}
            other => return Err(Error::Io(format!("{server}: a save failed: {other:?}"))),
        }
    }
    drop(client);
    tokio::task::spawn_blocking(move || running.stop())
        .await
        .map_err(|e| Error::Io(format!("{server} did not stop: {e}")))?
}

/// `L1 <route>  leaky-server  3 -> 103 tasks: LEAK, 1.00 per request`
fn progress_line(row: &Row) -> String {
    let label = label(row.scenario);
    let what = match &row.outcome {
        Outcome::Load(report) => format!(
            "{:>4} -> {:>4} tasks: {}",
            report.total.tasks_before,
            report.total.tasks_after_settled,
            run::verdict_line(&report.total)
        ),
        Outcome::Slow(slow) => format!(
            "{:>4} -> {:>4} tasks with {} slow clients connected: {}",
            slow.tasks_before,
            slow.tasks_held,
            slow.clients,
            slow.verdict()
        ),
        Outcome::Shutdown(report) => shutdown_verdict(report),
    };
    format!("{label:<22} {:<13} {what}", row.server.name())
}

/// `L1 <route and query>`, `L7 slow connections`.
fn label(scenario: &Scenario) -> String {
    match scenario.load {
        Load::SlowConnections => format!("{} slow connections", scenario.tag),
        _ => format!("{} {}", scenario.tag, scenario.path_and_query()),
    }
}

fn shutdown_verdict(report: &ShutdownReport) -> String {
    let lost = report.saves_lost();
    format!(
        "{} saves accepted, {} written, shutdown {} ms: {}",
        report.saves_accepted,
        report.saves_written,
        report.took.as_millis(),
        if lost > 0 {
            format!("LEAK, {lost} lost")
        } else {
            "no leak".into()
        }
    )
}

/// The side-by-side table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<22} {:<13} {:>7} {:>7} {:>8} {:>10} {:>9} {:>9}  {}\n",
        "scenario",
        "server",
        "before",
        "after",
        "settled",
        "leaked/req",
        "p50 ms",
        "p99 ms",
        "verdict"
    );
    for row in rows {
        let label = label(row.scenario);
        let server = row.server.name();
        let line = match &row.outcome {
            Outcome::Load(report) => {
                let f = &report.total;
                let ms = |v: f64| {
                    if f.answered > 0 {
                        format!("{v:.2}")
                    } else {
                        "gave up".to_owned()
                    }
                };
                format!(
                    "{label:<22} {server:<13} {:>7} {:>7} {:>8} {:>10.2} {:>9} {:>9}  {}",
                    f.tasks_before,
                    f.tasks_after,
                    f.tasks_after_settled,
                    f.leaked_per_request,
                    ms(f.latency_ms.p50),
                    ms(f.latency_ms.p99),
                    run::verdict_line(f)
                )
            }
            Outcome::Slow(slow) => format!(
                "{label:<22} {server:<13} {:>7} {:>7} {:>8} {:>10.2} {:>9} {:>9}  {}",
                slow.tasks_before,
                slow.tasks_connected,
                slow.tasks_held,
                slow.per_client(),
                "-",
                "-",
                slow.verdict()
            ),
            Outcome::Shutdown(report) => {
                format!("{label:<22} {server:<13} {}", shutdown_verdict(report))
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn write_chart(
    path: &Path,
    samplers: &[(Server, Sampler)],
    markers: Vec<(f64, String)>,
) -> Result<(), Error> {
    let series = samplers
        .iter()
        .enumerate()
        .map(|(i, (server, sampler))| Series {
            name: server.name().into(),
            color: plot::COLORS[i % plot::COLORS.len()],
            points: sampler.points(),
        })
        .collect();
    let panel = Panel {
        title: "live tasks while each scenario runs (L1–L6: 2 × 50 requests; L7: slow clients)"
            .into(),
        y_label: "live tasks (/_count)".into(),
        series,
        markers,
    };
    let svg = plot::svg(
        "leaky-server vs fixed-server: tokio task count over time",
        "seconds since the demo started (each scenario: leaky-server, then fixed-server)",
        &[panel],
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, svg)
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))
}
