//! `load-client demo`: the blog's experiment on every route of both servers, side by side.
//!
//! Starts leaky-server and fixed-server itself, each on its own instrumented tokio runtime
//! (so each `/_count` counts only its own tasks) and its own free loopback port. Then, for
//! every route, runs the blog's load test (2 rounds × 50 concurrent requests) against
//! both, prints one table, writes a chart of both servers' task count over time, and
//! stops the servers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::Error;
use crate::count::Counter;
use crate::load::LoadSpec;
use crate::plot::{self, Panel, Series};
use crate::run::{self, RunReport, RunSpec, Sampler};

/// The demo's settings.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    /// Requests per round.
    pub requests: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Rounds per route.
    pub rounds: u32,
    /// Where the chart goes.
    pub plot: PathBuf,
}

/// The routes the demo loads, and how. `/abandon` clients give up after 50 ms of
/// 300 ms of work: that is the case where the work outlives its client.
pub const ROUTES: [(&str, Option<Duration>); 6] = [
    ("/sum", None),
    ("/select", None),
    ("/range", None),
    ("/heartbeat", None),
    ("/upstream", None),
    ("/abandon?ms=300", Some(Duration::from_millis(50))),
];

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// leaky-server.
    Leaky,
    /// fixed-server.
    Fixed,
}

impl Server {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Server::Leaky => "leaky-server",
            Server::Fixed => "fixed-server",
        }
    }
}

/// A server running on its own runtime and thread.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Starts `server` on `127.0.0.1:0` on a fresh instrumented 2-worker runtime.
    pub fn start(server: Server) -> Result<Running, Error> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(server.name().into())
            .spawn(move || -> std::io::Result<()> {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(2);
                let runtime = leak_probe::runtime::build(builder)?;
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    let _ = addr_tx.send(listener.local_addr());
                    let stopped = async {
                        let _ = stopped.await;
                    };
                    match server {
                        Server::Leaky => leaky_server::serve(listener, stopped).await,
                        Server::Fixed => fixed_server::serve(listener, stopped).await,
                    }
                })?;
                // Leaked tasks are dropped here, with the runtime.
                runtime.shutdown_timeout(Duration::from_secs(1));
                Ok(())
            })
            .map_err(|e| Error::Io(format!("cannot start {}: {e}", server.name())))?;
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| Error::Io(format!("{} did not start", server.name())))?
            .map_err(|e| Error::Io(format!("{} cannot listen: {e}", server.name())))?;
        Ok(Running {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("a valid URL")
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) -> Result<(), Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(Err(e))) => Err(Error::Io(format!("server error: {e}"))),
            Some(Err(_)) => Err(Error::Io("a server thread panicked".into())),
            _ => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// One row of the demo table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which server.
    pub server: Server,
    /// Which route.
    pub route: &'static str,
    /// The run.
    pub report: RunReport,
}

/// Runs the demo; prints progress lines through `say`. Returns the rows; the chart is
/// written to `spec.plot`.
///
/// Routes are interleaved (leaky `/sum`, fixed `/sum`, leaky `/select`, ...) and both
/// servers' counts are sampled all the time, so the chart shows both lines side by side.
pub async fn run(spec: &DemoSpec, mut say: impl FnMut(&str)) -> Result<Vec<Row>, Error> {
    let start = Instant::now();
    let servers = [
        (Server::Leaky, Running::start(Server::Leaky)?),
        (Server::Fixed, Running::start(Server::Fixed)?),
    ];
    say(&format!(
        "started {} on {} and {} on {}",
        Server::Leaky.name(),
        servers[0].1.addr,
        Server::Fixed.name(),
        servers[1].1.addr
    ));
    // Per server: the counter the runs use, and a sampler fed all through the demo.
    let mut watched = Vec::new();
    for (server, running) in &servers {
        let counter = Arc::new(Counter::new(running.url("/_count")));
        let sampler = Sampler::new(start);
        let background = {
            let counter = Arc::new(Counter::new(running.url("/_count")));
            let sampler = sampler.clone();
            tokio::spawn(async move {
                loop {
                    if let Ok(n) = counter.read().await {
                        sampler.push(n);
                    }
                    tokio::time::sleep(run::POLL_EVERY).await;
                }
            })
        };
        watched.push((*server, counter, sampler, background));
    }

    let mut rows = Vec::new();
    let mut markers = Vec::new();
    let result: Result<(), Error> = async {
        for (route, give_up) in ROUTES {
            markers.push((start.elapsed().as_secs_f64(), route.to_owned()));
            for ((server, running), (_, counter, sampler, _)) in servers.iter().zip(&watched) {
                let spec = RunSpec {
                    url: running.url(route),
                    count_url: counter.url().clone(),
                    rounds: spec.rounds,
                    load: LoadSpec {
                        requests: Some(spec.requests),
                        concurrency: spec.concurrency,
                        duration: None,
                        rate: None,
                        abandon_after: give_up,
                        timeout: Duration::from_secs(10),
                        keep_samples: false,
                    },
                    settle: Duration::from_secs(5),
                    leak_threshold: 0.0,
                };
                let report = run::run(
                    &spec,
                    Arc::clone(counter),
                    sampler.clone(),
                    Arc::new(|| {}),
                    |_, _| {},
                )
                .await?;
                say(&format!(
                    "{:<17} {:<13} {:>4} -> {:>4} tasks: {}",
                    route,
                    server.name(),
                    report.total.tasks_before,
                    report.total.tasks_after_settled,
                    run::verdict_line(&report.total)
                ));
                rows.push(Row {
                    server: *server,
                    route,
                    report,
                });
            }
        }
        Ok(())
    }
    .await;
    for (_, _, _, background) in &watched {
        background.abort();
    }
    result?;
    for (_, running) in servers {
        running.stop()?;
    }
    let samplers: Vec<(Server, Sampler)> = watched
        .into_iter()
        .map(|(s, _, sampler, _)| (s, sampler))
        .collect();
    write_chart(&spec.plot, &samplers, markers)?;
    Ok(rows)
}

/// The side-by-side table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<17} {:<13} {:>7} {:>7} {:>8} {:>9} {:>9} {:>9}  {}\n",
        "route",
        "server",
        "before",
        "after",
        "settled",
        "leaked/req",
        "p50 ms",
        "p99 ms",
        "verdict"
    );
    let mut routes: Vec<&str> = rows.iter().map(|r| r.route).collect();
    routes.dedup();
    routes.sort_by_key(|r| ROUTES.iter().position(|(route, _)| route == r));
    routes.dedup();
    for route in routes {
        for row in rows.iter().filter(|r| r.route == route) {
            let f = &row.report.total;
            let ms = |v: f64| {
                if f.answered > 0 {
                    format!("{v:.2}")
                } else {
                    "gave up".to_owned()
                }
            };
            out.push_str(&format!(
                "{:<17} {:<13} {:>7} {:>7} {:>8} {:>10.2} {:>9} {:>9}  {}\n",
                route,
                row.server.name(),
                f.tasks_before,
                f.tasks_after,
                f.tasks_after_settled,
                f.leaked_per_request,
                ms(f.latency_ms.p50),
                ms(f.latency_ms.p99),
                run::verdict_line(f)
            ));
        }
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
        title: "live tasks while every route takes 2 × 50 concurrent requests".into(),
        y_label: "live tasks (/_count)".into(),
        series,
        markers,
    };
    let svg = plot::svg(
        "leaky-server vs fixed-server: tokio task count over time",
        "seconds since the demo started (each route: leaky-server, then fixed-server)",
        &[panel],
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, svg)
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))
}
