//! The side-by-side report: Rust leaky vs fixed vs the blog's Go server, measured in one
//! run on this machine, printed as Markdown (the book's numbers chapter includes it).
//!
//! ```text
//! cargo build --release -p leaky-server -p fixed-server
//! cargo run --release -p benches --bin report -- [--out FILE.md] [--quick]
//! ```
//!
//! Every server runs as its own process on a free loopback port, so RSS is the server's
//! alone. `go` (for the Go server: `apt-get install golang-go`) and `oha` (`cargo install
//! oha --locked`) are used when installed; without them the report says what it left
//! out, and throughput is measured with load-client instead of oha.
//!
//! What it measures:
//!
//! 1. RSS per leaked task after 10k and 100k leaked sum requests (L1) (leaky-server, Go).
//! 2. the dump time at 100k leaked tasks (Go's `/_stack`, tokio's `/_stack?trace=tokio`),
//!    and the worst `/_count` latency while it runs (read every millisecond on its own
//!    connection); for Rust also the default `/_stack` (registry, no pause),
//!    the view that pauses nothing.
//! 3. sum (L1) requests/s of fixed, fixed without the spawn registry, leaky, and Go, each
//!    on a fresh process, in alternating order, three times; medians.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use load_client::count::Counter;
use load_client::load::{self, LoadSpec};
use reqwest::Url;

/// A server process, killed when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("a URL")
    }

    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address")
}

/// Starts `program args --addr/-addr ADDR` and waits until it accepts connections.
fn start(
    name: &'static str,
    program: &Path,
    args: &[&str],
    addr_flag: &str,
) -> Result<Proc, String> {
    let addr = free_addr();
    let child = Command::new(program)
        .args(args)
        .args([addr_flag, &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let proc = Proc { name, child, addr };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{name} did not start listening on {addr}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(proc)
}

/// One GET on a keep-alive connection; answers the body. Minimal HTTP/1.1.
fn get_on(
    stream: &mut BufReader<TcpStream>,
    addr: SocketAddr,
    path: &str,
) -> std::io::Result<Vec<u8>> {
    write!(
        stream.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )?;
    let mut length = 0;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            if name.eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    if !chunked {
        let mut body = vec![0; length];
        stream.read_exact(&mut body)?;
        return Ok(body);
    }
    // Go streams its goroutine dump: `size\r\n data\r\n`, ending with a 0-size chunk.
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
        let mut chunk = vec![0; size + 2];
        stream.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Reads `/_count` every millisecond on its own connection until `stop`; answers the
/// worst latency seen.
fn poll_count(addr: SocketAddr, stop: Arc<AtomicBool>) -> Duration {
    let Ok(stream) = TcpStream::connect(addr) else {
        return Duration::ZERO;
    };
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    let mut worst = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        if get_on(&mut stream, addr, "/_count").is_err() {
            break;
        }
        worst = worst.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(1));
    }
    worst
}

/// Times one GET of `path` while `/_count` is polled; (time, bytes, worst count latency).
fn timed_with_count_probe(proc: &Proc, path: &str) -> (Duration, usize, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let stop = Arc::clone(&stop);
        let addr = proc.addr;
        std::thread::spawn(move || poll_count(addr, stop))
    };
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let body = TcpStream::connect(proc.addr)
        .map(BufReader::new)
        .and_then(|mut s| get_on(&mut s, proc.addr, path))
        .unwrap_or_default();
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    (took, body.len(), poller.join().unwrap_or_default())
}

/// Sends `n` sum requests (L1, concurrency 50), then waits for the count to settle.
async fn leak(proc: &Proc, counter: &Counter, n: u64) -> usize {
    let spec = LoadSpec {
        requests: Some(n),
        concurrency: 50,
        duration: None,
        rate: None,
        abandon_after: None,
        timeout: Duration::from_secs(30),
        keep_samples: false,
    };
    load::round(
        &proc.url(scenarios::Tag::L1.route()),
        &spec,
        Instant::now(),
        Arc::new(|| {}),
    )
    .await;
    let mut last = counter.read().await.unwrap_or(0);
    let mut stable_since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stable_since.elapsed() < Duration::from_millis(500) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counter.read().await.unwrap_or(last);
        if now != last {
            last = now;
            stable_since = Instant::now();
        }
    }
    last
}

struct MemoryRow {
    name: &'static str,
    per_task_10k: f64,
    per_task_100k: f64,
    rss_100k_mb: f64,
    stack: Option<(Duration, usize, Duration)>,
    stack_registry: Option<(Duration, usize, Duration)>,
}

async fn memory_and_dump(proc: &Proc, quick: bool) -> MemoryRow {
    let counter = Counter::new(proc.url("/_count"));
    let (small, large) = if quick {
        (1_000, 5_000)
    } else {
        (10_000, 100_000)
    };
    // Warm up (allocator arenas, connection buffers), then take the baseline.
    let base_count = leak(proc, &counter, 1000).await;
    let base_rss = proc.rss_bytes();
    let count_small = leak(proc, &counter, small - 1000).await;
    let rss_small = proc.rss_bytes();
    let count_large = leak(proc, &counter, large - small).await;
    let rss_large = proc.rss_bytes();
    let per = |rss: u64, count: usize| {
        (rss.saturating_sub(base_rss)) as f64 / (count.saturating_sub(base_count)).max(1) as f64
    };
    // Without the registry, /_stack has neither spawn sites nor a dump to time.
    let with_dump = !proc.name.contains("no-task-registry");
    let is_go = proc.name == "Go";
    let dump_path = if is_go {
        "/_stack"
    } else {
        "/_stack?trace=tokio"
    };
    let stack = with_dump.then(|| timed_with_count_probe(proc, dump_path));
    let stack_registry = (with_dump && !is_go).then(|| timed_with_count_probe(proc, "/_stack"));
    MemoryRow {
        name: proc.name,
        per_task_10k: per(rss_small, count_small),
        per_task_100k: per(rss_large, count_large),
        rss_100k_mb: rss_large as f64 / 1e6,
        stack,
        stack_registry,
    }
}

/// Requests/s of the sum route with oha if installed, else with load-client.
async fn throughput(proc: &Proc, oha: Option<&Path>, n: u64) -> f64 {
    let url = proc.url(scenarios::Tag::L1.route());
    if let Some(oha) = oha {
        let out = Command::new(oha)
            .args([
                "-n",
                &n.to_string(),
                "-c",
                "50",
                "--no-tui",
                "--output-format",
                "json",
                url.as_str(),
            ])
            .output();
        if let Ok(out) = out {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                if let Some(rps) = v["summary"]["requestsPerSec"].as_f64() {
                    return rps;
                }
            }
        }
    }
    let spec = LoadSpec {
        requests: Some(n),
        concurrency: 50,
        duration: None,
        rate: None,
        abandon_after: None,
        timeout: Duration::from_secs(30),
        keep_samples: false,
    };
    load::round(&url, &spec, Instant::now(), Arc::new(|| {}))
        .await
        .requests_per_sec()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn which(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Builds the blog's Go server (leaky-server/go/main.go) into a temporary folder.
fn build_go(root: &Path) -> Result<PathBuf, String> {
    let go = which("go").ok_or("go is not installed (apt-get install golang-go)")?;
    let dir = std::env::temp_dir().join(format!("leak-report-go-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::copy(root.join("leaky-server/go/main.go"), dir.join("main.go"))
        .map_err(|e| e.to_string())?;
    let out = Command::new(go)
        .args(["build", "-o", "leaky-go", "main.go"])
        .current_dir(&dir)
        .env("GO111MODULE", "off")
        .env("GOCACHE", dir.join("cache"))
        .output()
        .map_err(|e| e.to_string())?;
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
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .map_or(0.0, |kb| kb as f64 / 1024.0 / 1024.0);
    format!("{cores} cores ({cpu}), {mem:.0} GiB")
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "holds" } else { "**missed**" }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf();
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let leaky = bin_dir.join("leaky-server");
    let fixed = bin_dir.join("fixed-server");
    if !leaky.is_file() || !fixed.is_file() {
        eprintln!(
            "report: build the servers first: cargo build --release -p leaky-server -p fixed-server (looked in {})",
            bin_dir.display()
        );
        return std::process::ExitCode::from(2);
    }
    let oha = which("oha");
    let go = build_go(&root);
    let mut notes = Vec::new();
    if let Err(why) = &go {
        notes.push(format!("Go server left out: {why}."));
    }
    if oha.is_none() {
        notes.push("oha is not installed (`cargo install oha --locked`): throughput measured with load-client.".into());
    }
    let tool = if oha.is_some() { "oha" } else { "load-client" };
    let mut md = String::new();
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    md.push_str(&format!(
        "Measured {date} on {} by `cargo run --release -p benches --bin report`{}; loopback, one process per server.\n\n",
        machine(),
        if quick { " (--quick: smaller sizes)" } else { "" }
    ));

    // 1 and 2: memory and dumps.
    eprintln!("report: memory and dumps (leaky-server)...");
    let mut rows = Vec::new();
    match start("leaky-server (Rust)", &leaky, &["--tokio-dump"], "--addr") {
        Ok(p) => rows.push(memory_and_dump(&p, quick).await),
        Err(e) => notes.push(e),
    }
    eprintln!("report: memory (leaky-server --no-task-registry)...");
    match start(
        "leaky-server --no-task-registry",
        &leaky,
        &["--no-task-registry"],
        "--addr",
    ) {
        Ok(p) => rows.push(memory_and_dump(&p, quick).await),
        Err(e) => notes.push(e),
    }
    if let Ok(go) = &go {
        eprintln!("report: memory and dumps (Go)...");
        match start("Go", go, &[], "-addr") {
            Ok(p) => rows.push(memory_and_dump(&p, quick).await),
            Err(e) => notes.push(e),
        }
    }
    let (small, large) = if quick { ("1k", "5k") } else { ("10k", "100k") };
    md.push_str(&format!(
        "### Memory per leaked task, and the dump\n\n| server | RSS per leaked task after {small} | after {large} | RSS at {large} | the dump at {large} | its size | worst `/_count` meanwhile | `/_stack` (no pause) | worst `/_count` meanwhile |\n|---|---|---|---|---|---|---|---|---|\n"
    ));
    for r in &rows {
        let na = || ("n/a".to_owned(), "n/a".to_owned(), "n/a".to_owned());
        let (time, size, worst) = r.stack.map_or_else(na, |(t, bytes, w)| {
            (ms(t), format!("{:.1} MB", bytes as f64 / 1e6), ms(w))
        });
        let (reg_time, _, reg_worst) = r
            .stack_registry
            .map_or_else(na, |(t, _, w)| (ms(t), String::new(), ms(w)));
        md.push_str(&format!(
            "| {} | {:.0} B | {:.0} B | {:.0} MB | {time} | {size} | {worst} | {reg_time} | {reg_worst} |\n",
            r.name, r.per_task_10k, r.per_task_100k, r.rss_100k_mb,
        ));
    }

    // 3: throughput, fresh processes, alternating, three rounds.
    let n = if quick { 20_000 } else { 200_000 };
    let mut servers: Vec<(&'static str, PathBuf, Vec<&str>, &str)> = vec![
        ("fixed-server", fixed.clone(), vec![], "--addr"),
        (
            "fixed-server --no-task-registry",
            fixed.clone(),
            vec!["--no-task-registry"],
            "--addr",
        ),
        ("leaky-server", leaky.clone(), vec![], "--addr"),
    ];
    if let Ok(go) = &go {
        servers.push(("Go (the blog's)", go.clone(), vec![], "-addr"));
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    for round in 0..3 {
        eprintln!("report: throughput round {}...", round + 1);
        for i in 0..servers.len() {
            let i = (i + round) % servers.len();
            let (name, program, args, flag) = &servers[i];
            match start(name, program, args, flag) {
                Ok(p) => {
                    throughput(&p, oha.as_deref(), 2_000).await;
                    results[i].push(throughput(&p, oha.as_deref(), n).await);
                }
                Err(e) => notes.push(e),
            }
        }
    }
    let medians: Vec<f64> = results.into_iter().map(median).collect();
    md.push_str(&format!(
        "\n### Sum (L1) throughput ({tool}, {n} requests, 50 connections; median of 3, fresh process each)\n\n| server | requests/s | vs fixed-server |\n|---|---|---|\n"
    ));
    for ((name, ..), rps) in servers.iter().zip(&medians) {
        md.push_str(&format!(
            "| {name} | {rps:.0} | {:.2} |\n",
            rps / medians[0].max(1.0)
        ));
    }

    // Targets.
    let rust = rows.iter().find(|r| r.name == "leaky-server (Rust)");
    let gor = rows.iter().find(|r| r.name == "Go");
    md.push_str("\n### Targets\n\n| target | measured | |\n|---|---|---|\n");
    let fixed_vs_leaky = medians[0] / medians[2].max(1.0);
    md.push_str(&format!(
        "| fixed ≥ 0.9 × leaky (L1) | {fixed_vs_leaky:.2} × | {} |\n",
        verdict(fixed_vs_leaky >= 0.9)
    ));
    let registry = medians[0] / medians[1].max(1.0);
    md.push_str(&format!(
        "| spawn registry costs ≤ 5 % of L1 throughput | with / without = {registry:.3} ({:+.1} %) | {} |\n",
        (registry - 1.0) * 100.0,
        verdict(registry >= 0.95)
    ));
    if servers.len() > 3 {
        let vs_go = medians[0] / medians[3].max(1.0);
        md.push_str(&format!(
            "| fixed (L1) ≥ 1.3 × Go's | {vs_go:.2} × | {} |\n",
            verdict(vs_go >= 1.3)
        ));
    }
    if let (Some(r), Some(g), Some(rs), Some(gs)) = (
        rust,
        gor,
        rust.and_then(|r| r.stack),
        gor.and_then(|g| g.stack),
    ) {
        let mem = r.per_task_100k / g.per_task_100k.max(1.0);
        md.push_str(&format!(
            "| memory per leaked task ≤ ¼ of Go's | {:.0} B vs {:.0} B = {mem:.2} | {} |\n",
            r.per_task_100k,
            g.per_task_100k,
            verdict(mem <= 0.25)
        ));
        let dump = rs.0.as_secs_f64() / gs.0.as_secs_f64().max(1e-9);
        md.push_str(&format!(
            "| `/_stack` at {large} ≤ ½ of Go's time | {} vs {} = {dump:.2} | {} |\n",
            ms(rs.0),
            ms(gs.0),
            verdict(dump <= 0.5)
        ));
        let stall = rs.2.as_secs_f64() / gs.2.as_secs_f64().max(1e-9);
        md.push_str(&format!(
            "| worst `/_count` during the dump ≤ ½ of Go's | {} vs {} = {stall:.2} | {} |\n",
            ms(rs.2),
            ms(gs.2),
            verdict(stall <= 0.5)
        ));
    }
    if let Some(r) = rust {
        if let Some((_, _, worst)) = r.stack_registry {
            md.push_str(&format!("| `/_count` < 50 ms while `/_stack` (no pause) is served at {large} | worst {} | {} |\n", ms(worst), verdict(worst < Duration::from_millis(50))));
        }
    }
    if !notes.is_empty() {
        md.push_str("\nNotes:\n\n");
        for n in &notes {
            md.push_str(&format!("- {n}\n"));
        }
    }
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, &md) {
                eprintln!("report: cannot write {}: {e}", path.display());
                return std::process::ExitCode::FAILURE;
            }
            eprintln!("report: written to {}", path.display());
        }
        None => print!("{md}"),
    }
    std::process::ExitCode::SUCCESS
}
