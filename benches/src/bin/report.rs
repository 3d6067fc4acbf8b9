//! The side-by-side report: what each layer costs, Rust leaky vs fixed vs the blog's Go
//! server, measured in one run on this machine, printed as Markdown (the book's numbers
//! chapter includes it).
//!
//! ```text
//! cargo build --release -p leaky-server -p fixed-server -p benches
//! cargo run --release -p benches --bin report -- [--out FILE.md] [--quick] [--throughput-only]
//! ```
//!
//! Every server runs as its own process on a free loopback port, so RSS and CPU time are
//! the server's alone. `go` (the blog's Go server: `apt-get install golang-go`) and `oha`
//! (`cargo install oha --locked`) are used when installed; without them the report says
//! what it left out, and throughput is measured with load-client instead of oha.
//!
//! What it measures, and how:
//!
//! 1. **Throughput, layer by layer**: the sum route (L1) of `layers --stage …` (bare axum,
//!    then leak-probe's hooks, its metrics, the hardening limits, the cancellation scope),
//!    fixed-server, leaky-server and Go, the way a user measures a server: a closed loop
//!    of 50 connections (`oha -c 50`). Each round starts a fresh process of every server
//!    and warms it up; then the servers take turns in short bursts, so that they all see
//!    the same swings of this noisy machine, and ratios are taken within a round. Each
//!    figure is the median over rounds; the server's CPU time per request is read from
//!    `/proc` around each burst. (`--throughput-only` stops after this table.)
//! 2. **Memory per leaked task**: RSS growth over 10k and 100k leaked sum requests.
//! 3. **The dump**: `/_stack` at 100k leaked tasks (Go's goroutine dump; leak-probe's
//!    registry report, and tokio's own dump with `?trace=tokio`), and the worst `/_count`
//!    latency seen while it runs (read every millisecond on a connection of its own).
//! 4. **Naming the waiting line**: no mark, leak-probe's `.traced()` and async-backtrace's
//!    `frame!`, per task and per dump, in one process ([`benches::marks`]); and the leak
//!    sampler's cost per sample at the same number of live tasks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use load_client::count::Counter;
use load_client::load::{self, LoadSpec};
use reqwest::Url;
use scenarios::Tag;

/// The side-by-side report (Markdown).
#[derive(Debug, Parser)]
struct Args {
    /// Write the report here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Smaller sizes (a minute instead of several).
    #[arg(long)]
    quick: bool,
    /// Rounds of the throughput table (each server once per round, in turns).
    #[arg(long, default_value_t = 16)]
    rounds: usize,
    /// Requests per server and round of the throughput table, in bursts of a fifth.
    #[arg(long, default_value_t = 50_000)]
    requests: u64,
    /// Only the throughput table (section 1) and its targets.
    #[arg(long)]
    throughput_only: bool,
}

/// A server to start: a program, its flags, and how it is told its address.
#[derive(Debug, Clone)]
struct ServerSpec {
    name: &'static str,
    program: PathBuf,
    args: Vec<&'static str>,
    addr_flag: &'static str,
}

/// A running server process, killed when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    addr: std::net::SocketAddr,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    async fn start(spec: &ServerSpec) -> Result<Proc, String> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?;
        let child = Command::new(&spec.program)
            .args(&spec.args)
            .args([spec.addr_flag, &addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", spec.program.display()))?;
        let proc = Proc {
            name: spec.name,
            child,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline {
                return Err(format!("{} did not start listening on {addr}", spec.name));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(proc)
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("a URL")
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id())).unwrap_or_default()
    }

    fn rss_bytes(&self) -> u64 {
        self.proc_file("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// CPU time the server's threads have run so far, in nanoseconds: the
    /// sum of the first field of every `/proc/PID/task/*/schedstat` (the
    /// scheduler's own accounting, finer than the 10 ms ticks of `stat`).
    fn cpu_ns(&self) -> u64 {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.child.id())) else {
            return 0;
        };
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }
}

/// One throughput run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
}

/// The median of every field of `samples`.
fn median(samples: &[Sample]) -> Sample {
    let med = |f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    Sample {
        rps: med(|s| s.rps),
        p50_ms: med(|s| s.p50_ms),
        p99_ms: med(|s| s.p99_ms),
        cpu_us_per_request: med(|s| s.cpu_us_per_request),
    }
}

/// The load generator: oha if installed (what a user would run), else load-client.
enum Loader {
    Oha(PathBuf),
    LoadClient,
}

impl Loader {
    fn find() -> Loader {
        let candidates = [PathBuf::from("oha")]
            .into_iter()
            .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/oha")));
        for oha in candidates {
            if Command::new(&oha)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return Loader::Oha(oha);
            }
        }
        Loader::LoadClient
    }

    fn name(&self) -> &'static str {
        match self {
            Loader::Oha(_) => "oha",
            Loader::LoadClient => "load-client",
        }
    }

    /// `n` requests to `url` over 50 keep-alive connections: (requests/s, p50, p99 ms).
    async fn run(&self, url: &Url, n: u64) -> Result<(f64, f64, f64), String> {
        match self {
            Loader::Oha(oha) => {
                let out = tokio::process::Command::new(oha)
                    .args([
                        "-n",
                        &n.to_string(),
                        "-c",
                        "50",
                        "--no-tui",
                        "--output-format",
                        "json",
                    ])
                    .arg(url.as_str())
                    .output()
                    .await
                    .map_err(|e| format!("oha: {e}"))?;
                let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .map_err(|e| format!("oha's output is not JSON: {e}"))?;
                let at = |p: &str| v["latencyPercentiles"][p].as_f64().unwrap_or(0.0) * 1e3;
                let rps = v["summary"]["requestsPerSec"]
                    .as_f64()
                    .ok_or("oha gave no requestsPerSec")?;
                Ok((rps, at("p50"), at("p99")))
            }
            Loader::LoadClient => {
                let stats = load::round(url, &spec(n), Instant::now(), Arc::new(|| {})).await;
                Ok((
                    stats.requests_per_sec(),
                    stats.latency_ms(50.0),
                    stats.latency_ms(99.0),
                ))
            }
        }
    }
}

fn spec(n: u64) -> LoadSpec {
    LoadSpec {
        requests: Some(n),
        concurrency: 50,
        duration: None,
        rate: None,
        abandon_after: None,
        timeout: Duration::from_secs(30),
        latency_over_time: false,
    }
}

/// Memory per leaked task and dump timings of one leaking server.
#[derive(Debug, Clone)]
struct MemoryRow {
    name: &'static str,
    per_task_small: f64,
    per_task_large: f64,
    rss_large_mb: f64,
    /// `(path, time, bytes, worst /_count latency meanwhile)` of each dump taken.
    dumps: Vec<(&'static str, Duration, usize, Duration)>,
}

/// Sends `n` sum requests (concurrency 50), then waits for the count to settle.
async fn leak(proc: &Proc, counter: &Counter, n: u64) -> usize {
    if n > 0 {
        load::round(
            &proc.url(Tag::L1.route()),
            &spec(n),
            Instant::now(),
            Arc::new(|| {}),
        )
        .await;
    }
    let mut last = counter.read().await.unwrap_or(0);
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counter.read().await.unwrap_or(0);
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// Times one GET of `path` while `/_count` is read every millisecond on a connection of
/// its own: (time, bytes, worst `/_count` latency).
async fn timed_with_count_probe(proc: &Proc, path: &str) -> (Duration, usize, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let (stop, url) = (Arc::clone(&stop), proc.url("/_count"));
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("a client");
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let Ok(answer) = client.get(url.clone()).send().await else {
                    break;
                };
                let _ = answer.bytes().await;
                worst = worst.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            worst
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client");
    let started = Instant::now();
    let bytes = match client.get(proc.url(path)).send().await {
        Ok(answer) => answer.bytes().await.map_or(0, |b| b.len()),
        Err(_) => 0,
    };
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(20)).await;
    stop.store(true, Ordering::Relaxed);
    (took, bytes, probe.await.unwrap_or_default())
}

async fn memory_and_dumps(
    proc: &Proc,
    small: u64,
    large: u64,
    dumps: &[&'static str],
) -> MemoryRow {
    let counter = Counter::new(proc.url("/_count"));
    // Warm up (allocator arenas, connection buffers), then take the baseline.
    let base_count = leak(proc, &counter, 1000).await;
    let base_rss = proc.rss_bytes();
    let count_small = leak(proc, &counter, small - 1000).await;
    let rss_small = proc.rss_bytes();
    let count_large = leak(proc, &counter, large - small).await;
    let rss_large = proc.rss_bytes();
    let per = |rss: u64, count: usize| {
        rss.saturating_sub(base_rss) as f64 / count.saturating_sub(base_count).max(1) as f64
    };
    let mut taken = Vec::new();
    for path in dumps {
        let (took, bytes, worst) = timed_with_count_probe(proc, path).await;
        taken.push((*path, took, bytes, worst));
    }
    MemoryRow {
        name: proc.name,
        per_task_small: per(rss_small, count_small),
        per_task_large: per(rss_large, count_large),
        rss_large_mb: rss_large as f64 / 1e6,
        dumps: taken,
    }
}

/// Builds the blog's Go server (leaky-server/go/main.go) into a temporary folder.
fn build_go(root: &Path) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("leak-report-go-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::copy(root.join("leaky-server/go/main.go"), dir.join("main.go"))
        .map_err(|e| e.to_string())?;
    let out = Command::new("go")
        .args(["build", "-o", "leaky-go", "main.go"])
        .current_dir(&dir)
        .env("GO111MODULE", "off")
        .env("GOCACHE", dir.join("cache"))
        .output()
        .map_err(|e| format!("go is not installed (apt-get install golang-go): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(dir.join("leaky-go"))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({cpu})")
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn size(bytes: usize) -> String {
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} KB", bytes as f64 / 1e3)
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "holds" } else { "**missed**" }
}

/// The rows of the throughput table, in order, and their order in each round.
/// Section 4: the three ways of [`benches::marks`], `rounds` times each in turns, and
/// the leak sampler's cost at `n` live tasks.
fn marks_section(n: usize, rounds: usize) -> String {
    use benches::marks::{self, Way};
    let run = move || {
        let runtime = leak_probe::runtime::build({
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        })
        .expect("a runtime");
        runtime.block_on(async {
            let mut all: BTreeMap<usize, Vec<marks::Measured>> = BTreeMap::new();
            for round in 0..rounds {
                for i in 0..Way::ALL.len() {
                    let index = (i + round) % Way::ALL.len();
                    all.entry(index)
                        .or_default()
                        .push(marks::measure(Way::ALL[index], n).await);
                }
            }
            // The sampler's work: live tasks per spawn site, with n parked.
            let token = tokio_util::sync::CancellationToken::new();
            let parked: Vec<_> = (0..n)
                .map(|_| {
                    let t = token.clone();
                    tokio::spawn(async move { t.cancelled().await })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let registry = leak_probe::registry::for_current_runtime().expect("instrumented");
            let mut samples: Vec<Duration> = (0..9)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(registry.count_by_site());
                    t.elapsed()
                })
                .collect();
            samples.sort();
            token.cancel();
            for p in parked {
                p.await.expect("ends");
            }
            (all, samples[samples.len() / 2])
        })
    };
    let (all, sample) = std::thread::spawn(run)
        .join()
        .expect("the measurement thread");
    let ms1 = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let median = |v: &[marks::Measured], f: &dyn Fn(&marks::Measured) -> Option<Duration>| {
        let mut d: Vec<Duration> = v.iter().filter_map(f).collect();
        d.sort();
        d.get(d.len() / 2).copied()
    };
    let none = median(&all[&0], &|m| Some(m.per_task)).unwrap_or_default();
    let mut md = format!(
        "\n### Naming the line a task waits at\n\n{n} tasks spawned, parked on one await, woken and joined, in one process (2 workers); the ways take turns, {rounds} rounds, medians. The dump is taken with all {n} parked.\n\n| way | per task (spawn, park, wake, join) | vs no mark | dump of {n} parked tasks | dump names a line of the user's code |\n|---|---|---|---|---|\n"
    );
    for (i, way) in Way::ALL.iter().enumerate() {
        let per_task = median(&all[&i], &|m| Some(m.per_task)).unwrap_or_default();
        let dump = median(&all[&i], &|m| m.dump);
        let named = all[&i].iter().all(|m| m.names_user_code);
        md.push_str(&format!(
            "| {} | {:.2} µs | {:.2} | {} | {} |\n",
            way.name(),
            per_task.as_secs_f64() * 1e6,
            per_task.as_secs_f64() / none.as_secs_f64().max(1e-12),
            dump.map_or("(spawn sites only)".to_owned(), ms1),
            match (way, named) {
                (Way::None, _) => "no",
                (Way::Traced, true) => "yes: the await's file:line:column",
                (Way::Framed, true) => "yes: the framed block's file:line:column",
                (_, false) => "NO (checked: missing)",
            }
        ));
    }
    let share = sample.as_secs_f64()
        / leak_probe::leaks::SAMPLE_EVERY
            .max(sample * leak_probe::leaks::BUSY_FACTOR)
            .as_secs_f64();
    md.push_str(&format!(
        "\nThe leak sampler (`/_leaks`) counts live tasks per spawn site every {} ms at most: one sample at {n} live tasks took {}, so it uses {:.1} % of a core.\n",
        leak_probe::leaks::SAMPLE_EVERY.as_millis(),
        ms1(sample),
        share * 100.0
    ));
    md
}

fn servers(bin: &Path, go: Option<&PathBuf>) -> Vec<ServerSpec> {
    let layers = |name, stage| ServerSpec {
        name,
        program: bin.join("layers"),
        args: vec!["--stage", stage],
        addr_flag: "--addr",
    };
    let mut all = vec![
        layers("bare axum", "bare"),
        layers("+ leak-probe runtime hooks", "hooks"),
        layers("+ leak-probe request metrics", "metrics"),
        layers("+ hardening limits", "harden"),
        layers("+ cancellation scope", "scope"),
        ServerSpec {
            name: "fixed-server",
            program: bin.join("fixed-server"),
            args: vec![],
            addr_flag: "--addr",
        },
        ServerSpec {
            name: "leaky-server",
            program: bin.join("leaky-server"),
            args: vec![],
            addr_flag: "--addr",
        },
    ];
    if let Some(go) = go {
        all.push(ServerSpec {
            name: "Go (the blog's)",
            program: go.clone(),
            args: vec![],
            addr_flag: "-addr",
        });
    }
    all
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ sits in the workspace")
        .to_path_buf();
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    for needed in ["leaky-server", "fixed-server", "layers"] {
        if !bin.join(needed).is_file() {
            eprintln!(
                "report: build the servers first: cargo build --release -p leaky-server -p fixed-server -p benches (no {needed} in {})",
                bin.display()
            );
            return ExitCode::from(2);
        }
    }
    let loader = Loader::find();
    let go = build_go(&root);
    let mut notes = Vec::new();
    if let Err(why) = &go {
        notes.push(format!("Go server left out: {why}."));
    }
    if let Loader::LoadClient = loader {
        notes.push("oha is not installed (`cargo install oha --locked`): throughput measured with load-client.".into());
    }
    let n: u64 = if args.quick {
        args.requests.min(20_000)
    } else {
        args.requests
    };
    let (small, large): (u64, u64) = if args.quick {
        (1_000, 5_000)
    } else {
        (10_000, 100_000)
    };
    let rounds = if args.quick {
        args.rounds.min(3)
    } else {
        args.rounds
    }
    .max(1);

    let mut md = format!(
        "Measured {} on {} by `cargo run --release -p benches --bin report`{}; loopback, one process per server. Every Rust server here uses the mimalloc allocator (Go its own).\n\n",
        humantime::format_rfc3339_seconds(SystemTime::now()),
        machine(),
        if args.quick {
            " (--quick: smaller sizes)"
        } else {
            ""
        }
    );

    // 1: throughput, layer by layer, servers taking turns.
    let servers = servers(&bin, go.as_ref().ok());
    // This machine's speed swings by tens of percent within seconds (other tenants), so
    // runs minutes apart cannot be compared. Each round starts a fresh process of every
    // server and warms each up; then the servers take turns in short bursts (BURSTS
    // per round, n / BURSTS requests each), so every server sees the same swings. A
    // round's figure for a server sums its bursts; a ratio is taken within a round, and
    // the table gives the median over rounds. samples[name][round]: `None` if it failed.
    let mut samples: BTreeMap<&'static str, Vec<Option<Sample>>> = BTreeMap::new();
    for round in 0..rounds {
        eprintln!("report: throughput, round {} of {rounds}...", round + 1);
        let mut running = Vec::new();
        for server in &servers {
            let started = match Proc::start(server).await {
                Ok(proc) => {
                    let url = proc.url(Tag::L1.route());
                    loader.run(&url, 2_000).await.map(|_| (proc, url))
                }
                Err(e) => Err(e),
            };
            match started {
                Ok((proc, url)) => running.push((server.name, proc, url, Bursts::default())),
                Err(e) => notes.push(format!("{}: {e}", server.name)),
            }
        }
        let per_burst = (n / BURSTS).max(1);
        for burst in 0..BURSTS as usize {
            for i in 0..running.len() {
                let at = (i + burst + round) % running.len();
                let (name, proc, url, bursts) = &mut running[at];
                let before = proc.cpu_ns();
                match loader.run(url, per_burst).await {
                    Ok(sample) => {
                        bursts.add(per_burst, sample, proc.cpu_ns().saturating_sub(before))
                    }
                    Err(e) => {
                        notes.push(format!("{name}: {e}"));
                        bursts.failed = true;
                    }
                }
            }
        }
        for (name, _proc, _url, bursts) in running {
            samples.entry(name).or_insert_with(|| vec![None; rounds])[round] = bursts.sample();
        }
    }
    let medians: BTreeMap<&str, Sample> = samples
        .iter()
        .map(|(name, s)| {
            (
                *name,
                median(&s.iter().flatten().copied().collect::<Vec<_>>()),
            )
        })
        .filter(|(_, s)| s.rps > 0.0)
        .collect();
    let ratio = |a: &str, b: &str| paired_ratio(samples.get(a), samples.get(b));
    md.push_str(&format!(
        "### What each layer costs: the sum route (L1)\n\n{} -n {} -c 50 (a closed loop of 50 connections), {rounds} rounds; in each, a fresh process of every server, warmed up, then the servers take turns in {BURSTS} bursts of {} requests each (this machine's speed swings by tens of percent within seconds, and taking turns in short bursts gives every server the same swings). Requests/s, latencies and CPU are medians over the rounds; \"vs bare axum\" and the targets below are medians of each round's ratio.\n\n| server | requests/s | vs bare axum | p50 | p99 | server CPU per request |\n|---|---|---|---|---|---|\n",
        loader.name(),
        (n / BURSTS).max(1),
        (n / BURSTS).max(1),
    ));
    for server in &servers {
        if let Some(s) = medians.get(server.name) {
            md.push_str(&format!(
                "| {} | {:.0} | {:.2} | {:.2} ms | {:.2} ms | {:.1} µs |\n",
                server.name,
                s.rps,
                ratio(server.name, "bare axum"),
                s.p50_ms,
                s.p99_ms,
                s.cpu_us_per_request
            ));
        }
    }
    if args.throughput_only {
        md.push_str("\n### Targets\n\n| target | measured | |\n|---|---|---|\n");
        throughput_targets(&mut md, &ratio, medians.contains_key("Go (the blog's)"));
        return finish(&args, &md, &notes);
    }

    // 2 and 3: memory per leaked task, and the dumps.
    let mut rows = Vec::new();
    let leakers = {
        let mut v = vec![
            (
                ServerSpec {
                    name: "leaky-server",
                    program: bin.join("leaky-server"),
                    args: vec!["--tokio-dump"],
                    addr_flag: "--addr",
                },
                vec!["/_stack", "/_stack?trace=tokio"],
            ),
            (
                ServerSpec {
                    name: "leaky-server --no-task-registry",
                    program: bin.join("leaky-server"),
                    args: vec!["--no-task-registry"],
                    addr_flag: "--addr",
                },
                vec![],
            ),
        ];
        if let Ok(go) = &go {
            v.push((
                ServerSpec {
                    name: "Go (the blog's)",
                    program: go.clone(),
                    args: vec![],
                    addr_flag: "-addr",
                },
                vec!["/_stack"],
            ));
        }
        v
    };
    for (server, dumps) in &leakers {
        eprintln!("report: memory and dumps ({})...", server.name);
        match Proc::start(server).await {
            Ok(proc) => rows.push(memory_and_dumps(&proc, small, large, dumps).await),
            Err(e) => notes.push(e),
        }
    }
    let (small_k, large_k) = (small / 1000, large / 1000);
    md.push_str(&format!(
        "\n### Memory per leaked task, and the dump\n\n| server | RSS per leaked task after {small_k}k | after {large_k}k | RSS at {large_k}k |\n|---|---|---|---|\n"
    ));
    for r in &rows {
        md.push_str(&format!(
            "| {} | {:.0} B | {:.0} B | {:.0} MB |\n",
            r.name, r.per_task_small, r.per_task_large, r.rss_large_mb
        ));
    }
    md.push_str(&format!(
        "\n| dump at {large_k}k leaked tasks | time | size | worst `/_count` meanwhile |\n|---|---|---|---|\n"
    ));
    for r in &rows {
        for (path, took, bytes, worst) in &r.dumps {
            md.push_str(&format!(
                "| {} `{path}` | {} | {} | {} |\n",
                r.name,
                ms(*took),
                size(*bytes),
                ms(*worst)
            ));
        }
    }

    // 4: ways to name the waiting line, in a runtime of their own (on its own thread: this
    // one is async).
    eprintln!("report: naming the waiting line...");
    md.push_str(&marks_section(
        if args.quick { 10_000 } else { 100_000 },
        rounds.min(5),
    ));

    // Targets.
    let row = |name: &str| rows.iter().find(|r| r.name == name);
    let dump = |name: &str, path: &str| {
        row(name).and_then(|r| r.dumps.iter().find(|d| d.0 == path).copied())
    };
    md.push_str("\n### Targets\n\n| target | measured | |\n|---|---|---|\n");
    throughput_targets(&mut md, &ratio, medians.contains_key("Go (the blog's)"));
    if let (Some(r), Some(g)) = (row("leaky-server"), row("Go (the blog's)")) {
        let mem = r.per_task_large / g.per_task_large.max(1.0);
        md.push_str(&format!(
            "| RSS per leaked task ≤ ¼ of a leaked goroutine | {:.0} B vs {:.0} B = {mem:.2} | {} |\n",
            r.per_task_large,
            g.per_task_large,
            verdict(mem <= 0.25)
        ));
    }
    if let (Some(ours), Some(go)) = (
        dump("leaky-server", "/_stack"),
        dump("Go (the blog's)", "/_stack"),
    ) {
        let time = ours.1.as_secs_f64() / go.1.as_secs_f64().max(1e-9);
        md.push_str(&format!(
            "| `/_stack` at {large_k}k ≤ ½ of Go's time | {} vs {} = {time:.2} | {} |\n",
            ms(ours.1),
            ms(go.1),
            verdict(time <= 0.5)
        ));
        let stall = ours.3.as_secs_f64() / go.3.as_secs_f64().max(1e-9);
        md.push_str(&format!(
            "| worst `/_count` during it ≤ ½ of Go's stall | {} vs {} = {stall:.2} | {} |\n",
            ms(ours.3),
            ms(go.3),
            verdict(stall <= 0.5)
        ));
    }
    finish(&args, &md, &notes)
}

/// The targets the throughput table answers: `ratio(a, b)` is a's requests/s over b's.
fn throughput_targets(md: &mut String, ratio: &dyn Fn(&str, &str) -> f64, with_go: bool) {
    let probe = ratio("+ leak-probe request metrics", "bare axum");
    md.push_str(&format!(
        "| leak-probe (hooks + metrics) ≥ 0.95 × bare axum | {probe:.2} × | {} |\n",
        verdict(probe >= 0.95)
    ));
    let fixed = ratio("fixed-server", "bare axum");
    md.push_str(&format!(
        "| fixed-server ≥ 0.8 × bare axum | {fixed:.2} × | {} |\n",
        verdict(fixed >= 0.8)
    ));
    let vs_leaky = ratio("fixed-server", "leaky-server");
    md.push_str(&format!(
        "| fixed-server ≥ 0.95 × leaky-server (the fixes' own cost) | {vs_leaky:.2} × | {} |\n",
        verdict(vs_leaky >= 0.95)
    ));
    if with_go {
        let vs_go = ratio("fixed-server", "Go (the blog's)");
        md.push_str(&format!(
            "| fixed-server ≥ 1.3 × the Go server | {vs_go:.2} × | {} |\n",
            verdict(vs_go >= 1.3)
        ));
    }
}

/// The median over rounds of `a`'s requests/s over `b`'s in the same round (0 if they
/// never both ran).
fn paired_ratio(a: Option<&Vec<Option<Sample>>>, b: Option<&Vec<Option<Sample>>>) -> f64 {
    let (Some(a), Some(b)) = (a, b) else {
        return 0.0;
    };
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter_map(|(a, b)| Some(a.as_ref()?.rps / b.as_ref()?.rps.max(1.0)))
        .collect();
    ratios.sort_by(f64::total_cmp);
    match ratios.len() {
        0 => 0.0,
        n if n % 2 == 1 => ratios[n / 2],
        n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
    }
}

/// Bursts per round of the throughput table.
const BURSTS: u64 = 5;

/// One server's bursts in one round.
#[derive(Debug, Default)]
struct Bursts {
    requests: u64,
    seconds: f64,
    cpu_ns: u64,
    p50_ms: Vec<f64>,
    p99_ms: Vec<f64>,
    failed: bool,
}

impl Bursts {
    fn add(&mut self, requests: u64, (rps, p50, p99): (f64, f64, f64), cpu_ns: u64) {
        self.requests += requests;
        self.seconds += requests as f64 / rps.max(1e-9);
        self.cpu_ns += cpu_ns;
        self.p50_ms.push(p50);
        self.p99_ms.push(p99);
    }

    /// The round's figures: requests/s over all bursts, the median burst's latencies.
    fn sample(self) -> Option<Sample> {
        if self.failed || self.requests == 0 {
            return None;
        }
        let med = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        Some(Sample {
            rps: self.requests as f64 / self.seconds,
            p50_ms: med(self.p50_ms),
            p99_ms: med(self.p99_ms),
            cpu_us_per_request: self.cpu_ns as f64 / 1000.0 / self.requests as f64,
        })
    }
}

/// Appends the notes and writes the report where it was asked for.
fn finish(args: &Args, md: &str, notes: &[String]) -> ExitCode {
    let mut md = md.to_owned();
    if !notes.is_empty() {
        md.push_str("\nNotes:\n\n");
        for n in notes {
            md.push_str(&format!("- {n}\n"));
        }
    }
    match &args.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &md) {
                eprintln!("report: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("report: written to {}", path.display());
        }
        None => print!("{md}"),
    }
    ExitCode::SUCCESS
}
