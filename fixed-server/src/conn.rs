//! FIX(L7): connections with deadlines, accepted by our own loop.
//!
//! `axum::serve` spawns one task per connection and gives it no deadline: a client that
//! opens a connection and sends half a request head, or finishes one request and then
//! sits there, holds that task and its file descriptor for as long as it likes
//! (leaky-server's LEAK(L7); a few hundred such clients are a slowloris attack). This
//! module accepts connections itself and serves each with hyper's HTTP/1 server, watched
//! by two deadlines, the ones Go's `http.Server` calls `ReadHeaderTimeout` and
//! `IdleTimeout`:
//!
//! | the connection is | it is closed after |
//! |---|---|
//! | reading a request head (from its first byte, or from accept) | [`Deadlines::header`] (`--header-timeout`) |
//! | idle between requests (from the handler's response: writing its body counts) | [`Deadlines::idle`] (`--idle-timeout`) |
//! | in a request | never by this module: the request timeout of `scenarios::harden` bounds it |
//!
//! The idle phase begins when the handler returns its response, so the time hyper takes to
//! write the body counts in it: a client that stops reading is cut off at the idle
//! deadline, and so is a response that takes longer than that to stream. (Go has a
//! separate `WriteTimeout`; a service that streams long downloads needs one.)
//!
//! A connection also holds a buffer for its request head, and hyper lets it grow to about
//! 400 KB by default before it answers `431`: a client sending a huge head (or half of one,
//! slowly) pins that much per connection. Here a head longer than [`MAX_HEAD_BYTES`] is
//! refused (hyper checks after each read, so it may have read up to about twice that).
//!
//! Who owns what: each connection's task is spawned on the server's connection
//! [`TaskTracker`], so shutdown can wait for them; the task owns the socket and a small
//! [`Clock`] that the socket wrapper ([`Watched`]) and the service share, to say which of
//! the three phases the connection is in and since when. A watchdog in the same task
//! wakes at the next deadline and, if the connection is still in that phase, drops the
//! connection: the socket closes and the task ends.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// How long a connection may take for a request head, and sit idle between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From accept, or from the first byte of a later request, to a complete head.
    pub header: Duration,
    /// From the handler's response (its body still to write) to the first byte of the
    /// next request.
    pub idle: Duration,
}

impl Deadlines {
    /// The shorter of the two, at least 1 ms (a zero deadline would make the watchdog
    /// spin; `main` refuses one).
    fn shortest(self) -> Duration {
        self.header.min(self.idle).max(Duration::from_millis(1))
    }
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            header: Duration::from_secs(10),
            idle: Duration::from_secs(60),
        }
    }
}

/// The longest request head (request line and headers) a connection accepts: a longer one
/// is answered `431 Request Header Fields Too Large` and the connection closed (hyper
/// checks after each read, so the buffer may have grown to about twice this). Measured in
/// the soak (debug build): with hyper's default, two clients sending 1 MiB headers one
/// after another swung the server's RSS by 10 MB either way; with this, it stayed within
/// 3 MB (and drifted down).
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Accepts connections until `stop` is cancelled, serving each on a task of
/// `connections`. When `stop` is cancelled, every connection is told to finish its
/// request in flight (if any) and close; when `shutdown` is, every request in flight is
/// cancelled (see [`crate::scope`]) and every connection without one closes.
pub async fn accept(
    listener: TcpListener,
    app: Router,
    deadlines: Deadlines,
    connections: TaskTracker,
    stop: CancellationToken,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            // The client gave up between connecting and our accept: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            // Out of file descriptors (EMFILE), or worse: wait for some to close rather
            // than spin, like axum's and hyper's own loops.
            Err(e) => {
                eprintln!("fixed-server: accept failed: {e}; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // The connection's requests learn of shutdown from it, through `CONNECTION`
        // (see `scope`): one watch of the token per connection, not one per request.
        let serving = serve(
            stream,
            app.clone(),
            deadlines,
            stop.clone(),
            shutdown.clone(),
        );
        connections.spawn(crate::scope::CONNECTION.scope(Cell::new(false), serving));
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

// ANCHOR: serve_connection
/// Serves one connection until the client closes it, a deadline passes, or shutdown
/// (`stop`) has let its request in flight finish. When `shutdown` is cancelled (the
/// drain's deadline), tells the request in flight through `CONNECTION` (it answers 503,
/// see `scope`), or closes the connection at once if no request is in flight.
async fn serve(
    stream: TcpStream,
    app: Router,
    deadlines: Deadlines,
    stop: CancellationToken,
    shutdown: CancellationToken,
) {
    let clock = Arc::new(Clock::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        clock: Arc::clone(&clock),
    });
    let service = {
        let clock = Arc::clone(&clock);
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            // hyper calls this once the request head is complete.
            clock.set(Phase::InRequest);
            let response = app.clone().oneshot(request.map(axum::body::Body::new));
            let clock = Arc::clone(&clock);
            async move {
                let response = response.await;
                clock.set(Phase::Idle);
                response
            }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .max_header_size(MAX_HEAD_BYTES)
        .serve_connection(io, service);
    let mut connection = pin!(connection);
    // Watched across the loop's turns, and polled only when they wake us (see `OnWake`).
    let (mut stop, mut shutdown) = (
        OnWake::new(stop.cancelled_owned()),
        OnWake::new(shutdown.cancelled_owned()),
    );
    let (mut stopping, mut shutting_down) = (false, false);
    loop {
        let wake_at = clock.next_check(deadlines);
        tokio::select! {
            // The client closed it, or an error: either way the connection is over.
            _ = connection.as_mut() => return,
            () = OnWake::new(tokio::time::sleep_until(wake_at)) => {
                if clock.expired(deadlines) {
                    // Dropping the connection closes the socket; this task then ends.
                    return;
                }
            }
            () = &mut stop, if !stopping => {
                // Finish the request in flight (if any), then close.
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = &mut shutdown, if !shutting_down => {
                // The drain's deadline. No request in flight (half a head, or bytes
                // after the last response): nothing accepted is lost, close now.
                if clock.phase() != Phase::InRequest {
                    return;
                }
                // The request in flight sees this the next time hyper polls it, right
                // away: the loop polls the connection again. It answers 503.
                crate::scope::CONNECTION.with(|flag| flag.set(true));
                shutting_down = true;
            }
        }
    }
}

/// A future polled only on its first poll and when its own waker fires.
///
/// The connection's task is polled several times per request (the socket, the sum
/// tasks, ...), and `tokio::select!` polls every branch each time. Polling a
/// `CancellationToken`'s wait takes the token's mutex, and these tokens are the server's,
/// shared by every connection: a lock every request would take, several times. Polling a
/// `Sleep` registers the waker again. Wrapped, each is polled only when it wakes us; the
/// other polls cost one atomic read.
struct OnWake<F> {
    future: Pin<Box<F>>,
    flag: Arc<WakeFlag>,
    /// The task's waker as last given to `flag`.
    task: Option<Waker>,
}

/// Set by the wrapped future's waker, which then wakes the task.
struct WakeFlag {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = &*task {
            task.wake_by_ref();
        }
    }
}

impl<F: Future> OnWake<F> {
    fn new(future: F) -> Self {
        OnWake {
            future: Box::pin(future),
            flag: Arc::new(WakeFlag {
                // The first poll polls it.
                woken: AtomicBool::new(true),
                task: Mutex::new(None),
            }),
            task: None,
        }
    }
}

impl<F: Future> Future for OnWake<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if !this.task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
            // A new task waker (the first poll): hand it over, and poll once with it.
            *this
                .flag
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            this.task = Some(cx.waker().clone());
            this.flag.woken.store(true, Ordering::SeqCst);
        }
        // A read first: the common case (not woken) then writes nothing.
        if !this.flag.woken.load(Ordering::SeqCst) || !this.flag.woken.swap(false, Ordering::SeqCst)
        {
            return Poll::Pending;
        }
        // A wake between the swap and this poll is not lost: the poll sees it (a
        // cancelled token is ready), or it sets the flag again.
        let waker = Waker::from(Arc::clone(&this.flag));
        this.future.as_mut().poll(&mut Context::from_waker(&waker))
    }
}
// ANCHOR_END: serve_connection

/// Which phase a connection is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Waiting for (the rest of) a request head.
    ReadingHead = 0,
    /// A request is being handled.
    InRequest = 1,
    /// Between requests, nothing received yet.
    Idle = 2,
}

/// A connection's phase and since when, shared by its socket wrapper, its service and
/// its watchdog (all in the connection's own task; atomics because hyper's service must
/// be `Send`).
#[derive(Debug)]
struct Clock {
    origin: Instant,
    phase: AtomicU8,
    /// Milliseconds since `origin` when `phase` began (not kept for `InRequest`, which
    /// has no deadline).
    since_ms: AtomicU64,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            origin: Instant::now(),
            phase: AtomicU8::new(Phase::ReadingHead as u8),
            since_ms: AtomicU64::new(0),
        }
    }

    fn set(&self, phase: Phase) {
        // A request has no deadline here, so its start needs no clock read (one fewer
        // per request).
        if phase != Phase::InRequest {
            let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.since_ms.store(now, Ordering::Relaxed);
        }
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::ReadingHead,
            1 => Phase::InRequest,
            _ => Phase::Idle,
        }
    }

    /// When the current phase's deadline passes (`None` while in a request).
    fn deadline(&self, deadlines: Deadlines) -> Option<Instant> {
        let since = self.origin + Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        match self.phase() {
            Phase::ReadingHead => Some(since + deadlines.header),
            Phase::Idle => Some(since + deadlines.idle),
            Phase::InRequest => None,
        }
    }

    /// When the watchdog should look again. The phase can change while it sleeps and
    /// nothing wakes it then, so it looks at least every `min(header, idle)`, the
    /// shortest deadline a phase that begins can have, and at the current phase's
    /// deadline if that comes first: a phase that begins while it sleeps is seen before
    /// its own deadline (a head begun on an idle connection, an idle phase after a
    /// request, one after a quick request when `idle` is the shorter of the two).
    fn next_check(&self, deadlines: Deadlines) -> Instant {
        let soon = Instant::now() + deadlines.shortest();
        self.deadline(deadlines)
            .map_or(soon, |deadline| deadline.min(soon))
    }

    fn expired(&self, deadlines: Deadlines) -> bool {
        self.deadline(deadlines)
            .is_some_and(|deadline| Instant::now() >= deadline)
    }
}

/// The socket, telling the clock when an idle connection starts a new request head.
struct Watched {
    inner: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before && self.clock.phase() == Phase::Idle {
            self.clock.set(Phase::ReadingHead);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
