//! `load-client soak`: a server, in its own process, under a long mixed load.
//!
//! The question a soak answers: after a million requests of every kind, is anything left
//! behind? So the server runs as its own process (its memory is its own, not shared with
//! the client's), and the load is what a server in front of real traffic sees, at full
//! speed:
//!
//! * every route of the scenario table, as the demo loads it (clients that give up on
//!   L6's route, upstream timeouts on L5's, saves on L8's);
//! * bad input (`400`), unknown routes (`404`), garbage bytes, a 1 MiB header (`431`) and a
//!   16 KiB URI (`414`);
//! * clients that reset their connection mid-request (`SO_LINGER` 0: an RST, not a FIN);
//! * slow clients (L7): half a request head, or an idle keep-alive connection, held until
//!   the server closes it or [`SLOW_HOLD`] runs out.
//!
//! The verdict ([`SoakReport::failures`]): no unexpected answer (an "error" is a status or
//! a transport failure that the request's kind does not allow), the live task count back to
//! its baseline (±[`TASK_SLACK`]), the server's RSS in the second half of the run within
//! [`RSS_GROWTH`] of the first half (median against median), and a clean shutdown
//! (SIGTERM, exit 0, no save lost).
//!
//! Linux only: RSS comes from `/proc/PID/status`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Url;
use scenarios::{SCENARIOS, Tag};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;
use crate::count::Counter;
use crate::process::ServerProcess;

/// How far the live task count may end from its baseline (a connection still closing,
/// the count reader's own).
pub const TASK_SLACK: usize = 2;
/// The second half's median RSS may exceed the first half's by this fraction.
pub const RSS_GROWTH: f64 = 0.20;
/// A slow client holds its connection at most this long (fixed-server closes it sooner:
/// the soak starts it with `--header-timeout 1s --idle-timeout 2s`).
pub const SLOW_HOLD: Duration = Duration::from_secs(3);
/// Every answer must come within this (the slowest route answers in 300 ms).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Before the baseline: at least this long of the same mix, so pools, buffers and the
/// allocator have reached their working size...
pub const WARM_UP: Duration = Duration::from_secs(3);
/// ...and then on, a second at a time, until the server's RSS grew by less than
/// [`WARM_UP_SETTLED`] in each of two seconds in a row (a server still growing into its
/// working size is not leaking), at most this long in all.
pub const WARM_UP_MAX: Duration = Duration::from_secs(20);
/// See [`WARM_UP_MAX`].
pub const WARM_UP_SETTLED: f64 = 0.02;
/// How many RSS figures the details print at most (see [`SoakReport::rss_per_second`]).
pub const RSS_POINTS: usize = 30;
/// How often the server's RSS is read.
pub const RSS_EVERY: Duration = Duration::from_millis(200);

/// A soak's settings.
#[derive(Debug, Clone)]
pub struct SoakSpec {
    /// The server to start, and its arguments (`--addr 127.0.0.1:0` is added).
    pub command: Vec<String>,
    /// Stop after this many requests...
    pub requests: Option<u64>,
    /// ... or after this long, whichever comes first (at least one must be set).
    pub duration: Option<Duration>,
    /// Workers sending the fast mix, each one request at a time.
    pub concurrency: usize,
    /// Workers holding slow connections.
    pub slow_clients: usize,
}

/// The kinds of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A scenario route, as the demo loads it (including give-ups).
    Route,
    /// A well-formed request with bad input: 400.
    BadInput,
    /// An unknown route: 404.
    NotFound,
    /// A request whose client resets the connection before the answer.
    Reset,
    /// Bytes that are not HTTP: 400 or a closed connection.
    Garbage,
    /// A 1 MiB header: 431. A 16 KiB URI: 414.
    Oversized,
    /// Half a request head, held: the server should close it (L7).
    SlowHead,
    /// One request, then an idle keep-alive connection, held (L7).
    Idle,
}

/// What one kind of request saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindStats {
    /// Requests of this kind.
    pub sent: u64,
    /// Answers or outcomes the kind allows.
    pub ok: u64,
    /// Everything else.
    pub errors: u64,
}

/// A soak's figures and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    /// The server command.
    pub server: String,
    /// Requests sent (every kind; the warm-up not included).
    pub requests: u64,
    /// Unexpected outcomes (see [`Kind`]).
    pub errors: u64,
    /// How long the load ran, in seconds.
    pub seconds: f64,
    /// Per kind.
    pub kinds: BTreeMap<Kind, KindStats>,
    /// Status code → answers, every kind.
    pub status: BTreeMap<u16, u64>,
    /// A few of the unexpected outcomes, for the reader.
    pub error_samples: Vec<String>,
    /// Live tasks after the warm-up.
    pub tasks_before: usize,
    /// Live tasks once the count settled after the load.
    pub tasks_after: usize,
    /// Server RSS after the warm-up, in bytes.
    pub rss_start: u64,
    /// Median RSS in the first half of the load (read every [`RSS_EVERY`]).
    pub rss_first_half: u64,
    /// Median RSS in the second half of the load.
    pub rss_second_half: u64,
    /// Server RSS when the load stopped.
    pub rss_end: u64,
    /// The server's RSS second by second during the load: the highest reading in each
    /// second, in bytes.
    pub rss_per_second: Vec<u64>,
    /// The server's last line on stderr (its shutdown line).
    pub shutdown: String,
    /// Why the soak failed; empty if it passed.
    pub failures: Vec<String>,
}

impl SoakReport {
    /// Whether every check held.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// The one-line summary: `soak: N requests, E errors, tasks B -> E, RSS X MB -> Y MB:
    /// ok` (RSS: the first half's median, then the second's).
    pub fn line(&self) -> String {
        let verdict = if self.ok() {
            "ok".to_owned()
        } else {
            format!("FAILED ({})", self.failures.join("; "))
        };
        format!(
            "soak: {} requests, {} errors, tasks {} -> {}, RSS {:.1} MB -> {:.1} MB: {verdict}",
            self.requests,
            self.errors,
            self.tasks_before,
            self.tasks_after,
            mb(self.rss_first_half),
            mb(self.rss_second_half),
        )
    }

    /// The lines before the summary: rate, kinds, statuses, samples of errors.
    pub fn details(&self) -> String {
        let mut out = format!(
            "{}: {} requests in {:.1} s ({:.0}/s); RSS {:.1} MB after warm-up, {:.1} MB at the end\n",
            self.server,
            self.requests,
            self.seconds,
            self.requests as f64 / self.seconds.max(1e-9),
            mb(self.rss_start),
            mb(self.rss_end),
        );
        for (kind, k) in &self.kinds {
            out += &format!(
                "  {:<10} {:>9} sent {:>9} ok {:>6} errors\n",
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                k.sent,
                k.ok,
                k.errors
            );
        }
        out += &format!("  status: {:?}\n", self.status);
        // At most RSS_POINTS figures on the line: the highest in each stretch of seconds.
        let every = self.rss_per_second.len().div_ceil(RSS_POINTS).max(1);
        out += &match every {
            1 => "  RSS per second (MB):".to_owned(),
            n => format!("  RSS every {n} s (MB):"),
        };
        for stretch in self.rss_per_second.chunks(every) {
            let highest = stretch.iter().copied().max().unwrap_or(0);
            out += &format!(" {:.1}", mb(highest));
        }
        out += "\n";
        for e in &self.error_samples {
            out += &format!("  error: {e}\n");
        }
        out += &format!("  server: {}\n", self.shutdown);
        out
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Counters shared by the workers.
#[derive(Default)]
struct Tally {
    kinds: Mutex<BTreeMap<Kind, KindStats>>,
    status: Mutex<BTreeMap<u16, u64>>,
    samples: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, kind: Kind, outcome: Result<Option<u16>, String>) {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let k = kinds.entry(kind).or_default();
        k.sent += 1;
        match outcome {
            Ok(status) => {
                k.ok += 1;
                drop(kinds);
                if let Some(code) = status {
                    *self
                        .status
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(code)
                        .or_default() += 1;
                }
            }
            Err(why) => {
                k.errors += 1;
                drop(kinds);
                let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
                if samples.len() < 10 {
                    samples.push(format!("{kind:?}: {why}"));
                }
            }
        }
    }

    fn take(&self) -> (BTreeMap<Kind, KindStats>, BTreeMap<u16, u64>, Vec<String>) {
        (
            std::mem::take(&mut *self.kinds.lock().unwrap_or_else(PoisonError::into_inner)),
            std::mem::take(&mut *self.status.lock().unwrap_or_else(PoisonError::into_inner)),
            std::mem::take(&mut *self.samples.lock().unwrap_or_else(PoisonError::into_inner)),
        )
    }
}

/// One request of the fast mix: a route (with the status it may answer and whether the
/// client gives up), or a raw-socket request.
#[derive(Debug, Clone)]
enum Step {
    Get {
        kind: Kind,
        path: String,
        give_up: Option<Duration>,
        allowed: &'static [u16],
    },
    Raw {
        kind: Kind,
        bytes: Arc<Vec<u8>>,
        /// Reset the connection this long after sending (instead of reading the answer).
        reset_after: Option<Duration>,
        /// The status the answer must carry (when it is read); `None`: any, or a close.
        expect: Option<u16>,
    },
}

/// A request a server must refuse, and how (`None`: a 400 or a closed connection).
#[derive(Debug, Clone)]
pub struct Malformed {
    /// What is wrong with it.
    pub what: &'static str,
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// The status it must get.
    pub status: Option<u16>,
}

/// The malformed and oversized requests both servers refuse (their hardening is shared):
/// bytes that are not HTTP, a request line with no version (400), a 1 MiB header (431),
/// a 16 KiB URI (414) and a 2 MiB body (413), each aimed at `path`.
pub fn malformed_requests(path: &str) -> Vec<Malformed> {
    let bad = |what, bytes: Vec<u8>, status| Malformed {
        what,
        bytes,
        status,
    };
    vec![
        bad(
            "garbage",
            b"\x16\x03\x01\x02\x00 not http\r\n\r\n".to_vec(),
            None,
        ),
        bad(
            "no version",
            format!("GET {path}\r\n\r\n").into_bytes(),
            Some(400),
        ),
        bad(
            "1 MiB header",
            format!(
                "GET {path} HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
                "a".repeat(1 << 20)
            )
            .into_bytes(),
            Some(431),
        ),
        bad(
            "16 KiB URI",
            format!(
                "GET {path}?nums={} HTTP/1.1\r\nhost: x\r\n\r\n",
                "1,".repeat(8 * 1024)
            )
            .into_bytes(),
            Some(414),
        ),
        bad(
            "2 MiB body",
            format!(
                "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{}",
                2 << 20,
                "x".repeat(2 << 20)
            )
            .into_bytes(),
            Some(413),
        ),
    ]
}

/// The oversized heads: a 1 MiB header (`431`) and a 16 KiB URI (`414`). Sending one takes
/// far longer than a cheap request, so in the fast mix they came to fill most workers at
/// once; they have their own [`OVERSIZED_CLIENTS`] workers instead: the same requests all
/// along, at most that many at a time. (The server buffers each head up to its limit
/// before it refuses it: with hyper's default, about 400 KB, its RSS swung by 10 MB either
/// way even two at a time; fixed-server reads at most 32 KiB.)
fn oversized() -> Vec<Step> {
    malformed_requests(Tag::L1.route())
        .into_iter()
        .filter(|bad| bad.what == "1 MiB header" || bad.what == "16 KiB URI")
        .map(|bad| Step::Raw {
            kind: Kind::Oversized,
            bytes: Arc::new(bad.bytes),
            reset_after: None,
            expect: bad.status,
        })
        .collect()
}

/// What the workers send: the fast mix ([`mix`]) and the oversized heads ([`oversized`]),
/// built once for the warm-up and the load.
struct Mix {
    fast: Arc<Vec<Step>>,
    heavy: Arc<Vec<Step>>,
}

/// Workers sending the oversized heads, one at a time each.
pub const OVERSIZED_CLIENTS: usize = 2;

/// The fast mix, in the order a worker cycles through it: every route as the demo loads
/// it, bad input, a 404, resets and garbage.
fn mix() -> Vec<Step> {
    let mut steps = Vec::new();
    for s in SCENARIOS.iter().filter(|s| s.route.is_some()) {
        // The upstream never answers: its route answers 504 by design.
        let allowed: &'static [u16] = if s.tag == Tag::L5 {
            &[504]
        } else {
            &[200, 202]
        };
        let step = Step::Get {
            kind: Kind::Route,
            path: s.path_and_query(),
            give_up: s.give_up(),
            allowed,
        };
        // The blog's route most often: it is the one real traffic would hit.
        let times = if s.tag == Tag::L1 { 8 } else { 1 };
        steps.extend(std::iter::repeat_n(step, times));
    }
    let (sum, work) = (Tag::L1.route(), Tag::L6.route());
    for path in [
        format!("{sum}?nums=1,,x"),
        format!("{sum}?nums=99999999999999999999,1"),
        format!("{work}?ms=abc"),
    ] {
        steps.push(Step::Get {
            kind: Kind::BadInput,
            path,
            give_up: None,
            allowed: &[400],
        });
    }
    steps.push(Step::Get {
        kind: Kind::NotFound,
        path: "/nowhere".into(),
        give_up: None,
        allowed: &[404],
    });
    // Resets: on the slowest route (the server is mid-request) and on the blog's.
    for (path, after) in [(format!("{work}?ms=300"), 20), (sum.to_owned(), 0)] {
        steps.push(Step::Raw {
            kind: Kind::Reset,
            bytes: Arc::new(format!("GET {path} HTTP/1.1\r\nhost: soak\r\n\r\n").into_bytes()),
            reset_after: Some(Duration::from_millis(after)),
            expect: None,
        });
    }
    steps.push(Step::Raw {
        kind: Kind::Garbage,
        bytes: Arc::new(b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n".to_vec()),
        reset_after: None,
        expect: None,
    });
    steps
}

/// Sends one GET; `Ok(status)` if the status is allowed (or the client gave up).
async fn get(
    client: &reqwest::Client,
    url: Url,
    give_up: Option<Duration>,
    allowed: &[u16],
) -> Result<Option<u16>, String> {
    let request = async {
        let response = client.get(url).send().await?;
        let status = response.status().as_u16();
        response.bytes().await?;
        Ok::<u16, reqwest::Error>(status)
    };
    let outcome = match give_up {
        Some(limit) => match tokio::time::timeout(limit, request).await {
            Ok(outcome) => outcome,
            // Gave up: dropping the request closed its connection. Expected.
            Err(_) => return Ok(None),
        },
        None => request.await,
    };
    match outcome {
        Ok(status) if allowed.contains(&status) => Ok(Some(status)),
        Ok(status) => Err(format!("status {status}, expected one of {allowed:?}")),
        Err(e) => Err(crate::count::describe(&e)),
    }
}

/// Sends raw bytes on a fresh connection to `addr`; with `reset_after`, resets the
/// connection (an RST) that long after sending, else reads the answer's status: `Ok` if it
/// is `expect` (or, with `expect: None`, anything but a 5xx, or a close).
pub async fn send_raw(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    reset_after: Option<Duration>,
    expect: Option<u16>,
) -> Result<Option<u16>, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // The server may answer (431, 400) and close before reading everything: a write
    // error after that is fine, the answer below is what counts.
    let _ = stream.write_all(bytes).await;
    if let Some(after) = reset_after {
        tokio::time::sleep(after).await;
        // An RST, not a FIN: the client vanished mid-request.
        stream
            .set_zero_linger()
            .map_err(|e| format!("SO_LINGER: {e}"))?;
        drop(stream);
        return Ok(None);
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    // The status line is all we need.
                    if answer.len() >= 12 {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(ANSWER_TIMEOUT, read)
        .await
        .map_err(|_| format!("no answer and no close within {ANSWER_TIMEOUT:?}"))?;
    let status = std::str::from_utf8(&answer)
        .ok()
        .and_then(|t| t.strip_prefix("HTTP/1.1 "))
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse::<u16>().ok());
    match (expect, status) {
        (Some(want), Some(got)) if want == got => Ok(Some(got)),
        (Some(want), got) => Err(format!("expected {want}, got {got:?}")),
        // Garbage: a 4xx, or the connection closed.
        (None, Some(got)) if got >= 500 => Err(format!("status {got} for garbage")),
        (None, got) => Ok(got),
    }
}

/// One slow client: half a request head, or an idle keep-alive connection after one
/// request. Held until the server closes it or [`SLOW_HOLD`] runs out; either is fine
/// (the task count says whether the server let go).
async fn slow(addr: std::net::SocketAddr, idle: bool) -> Result<Option<u16>, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let sum = Tag::L1.route();
    let head = if idle {
        format!("GET {sum}?nums=1,2 HTTP/1.1\r\nhost: soak\r\n\r\n")
    } else {
        format!("GET {sum}?nums=1,2 HTTP/1.1\r\nhost: so")
    };
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = [0u8; 1024];
    let mut status = None;
    let held = tokio::time::timeout(SLOW_HOLD, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if status.is_none() {
                        status = std::str::from_utf8(&buf[..n])
                            .ok()
                            .and_then(|t| t.strip_prefix("HTTP/1.1 "))
                            .and_then(|t| t.get(..3))
                            .and_then(|c| c.parse::<u16>().ok());
                    }
                }
            }
        }
    })
    .await;
    let _ = held;
    match status {
        Some(code) if idle && code != 200 => Err(format!("status {code} before idling")),
        _ => Ok(status),
    }
}

/// Runs the soak: starts the server, warms up, takes the baselines, sends the load, and
/// checks what is left. The server is stopped (SIGTERM) at the end.
pub async fn run(spec: &SoakSpec) -> Result<SoakReport, Error> {
    if spec.requests.is_none() && spec.duration.is_none() {
        return Err(Error::Usage(
            "soak: give --requests or --duration (or both)".into(),
        ));
    }
    let mut server = ServerProcess::start(&spec.command)?;
    let counter = Counter::new(server.url("/_count"));
    let steps = Mix {
        fast: Arc::new(mix()),
        heavy: Arc::new(oversized()),
    };

    // Warm up with the same mix until the server's memory has reached its working size,
    // then the baselines.
    let tally = Arc::new(Tally::default());
    let warming = Instant::now();
    load(&server, spec, &steps, &tally, None, Some(WARM_UP)).await;
    // Settled means two seconds in a row of growth within WARM_UP_SETTLED: one quiet
    // second can come while the allocator is still growing to its working size.
    let mut rss_before = server.rss();
    let mut settled_seconds = 0;
    while warming.elapsed() < WARM_UP_MAX {
        load(
            &server,
            spec,
            &steps,
            &tally,
            None,
            Some(Duration::from_secs(1)),
        )
        .await;
        let rss_now = server.rss();
        if rss_now as f64 <= rss_before as f64 * (1.0 + WARM_UP_SETTLED) {
            settled_seconds += 1;
            if settled_seconds == 2 {
                break;
            }
        } else {
            settled_seconds = 0;
        }
        rss_before = rss_now;
    }
    tally.take();
    let tasks_before = settled_count(&counter).await?;
    let rss_start = server.rss();

    // The load, with the server's RSS read all along.
    let started = Instant::now();
    let rss = Arc::new(Mutex::new(Vec::<(Duration, u64)>::new()));
    let server_pid = server.pid();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (rss, sampling) = (Arc::clone(&rss), Arc::clone(&sampling));
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let status = std::fs::read_to_string(format!("/proc/{server_pid}/status"));
                let Ok(status) = status else { break };
                let bytes = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    .map_or(0, |kb| kb * 1024);
                rss.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((started.elapsed(), bytes));
                tokio::time::sleep(RSS_EVERY).await;
            }
        })
    };
    load(&server, spec, &steps, &tally, spec.requests, spec.duration).await;
    let seconds = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let rss_end = server.rss();

    let mut failures = Vec::new();
    if let Some(status) = server.exited() {
        failures.push(format!("the server exited during the soak ({status})"));
    }

    // Back to baseline? Read once nothing is left to finish by itself.
    let tasks_after = settled_count(&counter).await.unwrap_or(usize::MAX);

    // Halves of the run, median against median: a leak grows RSS all along, so the
    // second half's median is above the first's; the moments when more is in flight than
    // usual are spikes either half can have, and a median ignores them.
    let samples = rss.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let half = seconds / 2;
    let median = |first: bool| {
        let mut half: Vec<u64> = samples
            .iter()
            .filter(|(at, _)| (*at < half) == first)
            .map(|&(_, b)| b)
            .collect();
        half.sort_unstable();
        half.get(half.len() / 2).copied().unwrap_or(0)
    };
    let (rss_first_half, rss_second_half) = (median(true), median(false));
    let mut rss_per_second = Vec::new();
    for &(at, bytes) in &samples {
        let second = at.as_secs() as usize;
        if rss_per_second.len() <= second {
            rss_per_second.resize(second + 1, 0);
        }
        rss_per_second[second] = rss_per_second[second].max(bytes);
    }

    let (kinds, status, error_samples) = tally.take();
    let sent: u64 = kinds.values().map(|k| k.sent).sum();
    let errors: u64 = kinds.values().map(|k| k.errors).sum();
    if errors > 0 {
        failures.push(format!("{errors} unexpected outcome(s)"));
    }
    if tasks_after == usize::MAX {
        failures.push("/_count did not answer after the load".into());
    } else if tasks_after.abs_diff(tasks_before) > TASK_SLACK {
        failures.push(format!(
            "{} live tasks after the load settled, {tasks_before} before",
            tasks_after
        ));
    }
    if rss_first_half == 0 || rss_second_half == 0 {
        failures.push("too short to compare the halves' memory".into());
    } else if rss_second_half as f64 > rss_first_half as f64 * (1.0 + RSS_GROWTH) {
        failures.push(format!(
            "RSS grew {:.0} % from the first half to the second",
            (rss_second_half as f64 / rss_first_half as f64 - 1.0) * 100.0
        ));
    }
    if let Some(n) = spec.requests
        && sent < n
    {
        failures.push(format!(
            "only {sent} of {n} requests within {:?}",
            spec.duration.unwrap_or_default()
        ));
    }

    // A clean stop: SIGTERM, exit 0, nothing lost.
    match server.terminate(Duration::from_secs(15)) {
        Ok(status) if status.success() => {}
        Ok(status) => failures.push(format!("the server exited with {status} on SIGTERM")),
        Err(why) => failures.push(format!("the server {why}")),
    }
    let shutdown = server.last_line();
    if shutdown.contains(" lost;") && !shutdown.contains(" 0 lost;") {
        failures.push(format!("saves lost at shutdown: {shutdown}"));
    }

    Ok(SoakReport {
        server: spec.command.join(" "),
        requests: sent,
        errors,
        seconds: seconds.as_secs_f64(),
        kinds,
        status,
        error_samples,
        tasks_before,
        tasks_after: if tasks_after == usize::MAX {
            0
        } else {
            tasks_after
        },
        rss_start,
        rss_first_half,
        rss_second_half,
        rss_end,
        rss_per_second,
        shutdown,
        failures,
    })
}

/// How long the count must not move to be read as settled: longer than anything the
/// mix leaves to finish by itself (a save is written after 1 s, a given-up request's work
/// ends within 300 ms, fixed-server closes idle connections within its deadlines).
pub const SETTLED_FOR: Duration = Duration::from_millis(1500);
/// The longest wait for the count to settle.
pub const SETTLE_AT_MOST: Duration = Duration::from_secs(20);

/// The count once it has not moved for [`SETTLED_FOR`] (or the last reading after
/// [`SETTLE_AT_MOST`]: a count that keeps moving is then compared as it is).
async fn settled_count(counter: &Counter) -> Result<usize, Error> {
    let started = Instant::now();
    let mut last = counter.read().await?;
    let mut since = Instant::now();
    while since.elapsed() < SETTLED_FOR && started.elapsed() < SETTLE_AT_MOST {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counter.read().await?;
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    Ok(last)
}

/// Sends the mix until `requests` are sent or `duration` is up, or the server exits.
async fn load(
    server: &ServerProcess,
    spec: &SoakSpec,
    steps: &Mix,
    tally: &Arc<Tally>,
    requests: Option<u64>,
    duration: Option<Duration>,
) {
    let limit = requests.unwrap_or(u64::MAX);
    let stop_at = Instant::now() + duration.unwrap_or(Duration::from_secs(24 * 3600));
    let next = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(spec.concurrency)
        .timeout(ANSWER_TIMEOUT)
        .tcp_nodelay(true)
        .no_proxy()
        .build()
        .expect("a plain HTTP client always builds");
    let addr = server.addr;
    let base = server.url("/");
    let pid = server.pid();
    // The server still running? (/proc/PID is there until it is reaped.)
    let alive = move || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    };

    let mut workers = tokio::task::JoinSet::new();
    // The fast mix on `concurrency` workers, the oversized heads on their own few.
    let cycles = (0..spec.concurrency.max(1))
        .map(|worker| (Arc::clone(&steps.fast), worker * 7))
        .chain((0..OVERSIZED_CLIENTS).map(|worker| (Arc::clone(&steps.heavy), worker)));
    for (steps, start) in cycles {
        let (client, tally, next, base) = (
            client.clone(),
            Arc::clone(tally),
            Arc::clone(&next),
            base.clone(),
        );
        workers.spawn(async move {
            // Workers start at different places in their cycle.
            let mut at = start;
            loop {
                if Instant::now() >= stop_at {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                if i % 4096 == 0 && !alive() {
                    break;
                }
                let step = &steps[at % steps.len()];
                at += 1;
                match step {
                    Step::Get {
                        kind,
                        path,
                        give_up,
                        allowed,
                    } => {
                        let url = base.join(path).expect("a valid path");
                        tally.record(*kind, get(&client, url, *give_up, allowed).await);
                    }
                    Step::Raw {
                        kind,
                        bytes,
                        reset_after,
                        expect,
                    } => tally.record(*kind, send_raw(addr, bytes, *reset_after, *expect).await),
                }
            }
        });
    }
    for worker in 0..spec.slow_clients {
        let (tally, next) = (Arc::clone(tally), Arc::clone(&next));
        workers.spawn(async move {
            let idle = worker % 2 == 1;
            loop {
                if Instant::now() >= stop_at {
                    break;
                }
                if next.fetch_add(1, Ordering::Relaxed) >= limit {
                    break;
                }
                let kind = if idle { Kind::Idle } else { Kind::SlowHead };
                tally.record(kind, slow(addr, idle).await);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    // Dropping the client closes its keep-alive connections.
    drop(client);
}
