//! Limits that keep one bad client, or one bad handler, from taking a server down.
//!
//! Both servers run every request under them. They are not leak fixes, so they are the
//! same on both sides, and comparing the two servers measures the fixes alone:
//!
//! | limit | answer |
//! |---|---|
//! | a request running longer than [`Limits::request_timeout`] | `408 Request Timeout` (its future is dropped: whatever it owned is cancelled, and its request token with it) |
//! | more than [`Limits::max_concurrent`] requests at once | the rest wait for a slot (and time out like any request) |
//! | a URI (path + query) longer than [`MAX_URI_BYTES`] | `414 URI Too Long` |
//! | a body larger than [`MAX_BODY_BYTES`] | `413 Payload Too Large` |
//! | a handler that panics | `500 Internal Server Error`; the server goes on |
//!
//! (None of the routes reads a body; the limit is there for the day one does.)
//!
//! The outermost layer also counts the requests in flight ([`InFlight`]), for the line
//! each server prints when it shuts down.
//!
//! # What it costs
//!
//! Every request pays for these, so they are composed as concrete tower services around
//! the whole router, boxed once (the router's fallback), and the checks of [`Guard`] are
//! one hand-written service: no allocation for a request answered at once, a slot taken
//! with one compare-and-swap (see [`InFlight`]), and no timer per request: a request
//! that waits is listed for one sweeper thread that times out the overdue ones a tenth of
//! a second at most after their deadline (see `Deadlines`). Layered one by one with
//! `Router::layer` and `from_fn`, the same limits cost dozens of heap allocations per
//! request; the `layers` bench counts them.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

/// Longest URI accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The limits applied to every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a request may run (the longest work a request may ask for, 60 s, fits).
    pub request_timeout: Duration,
    /// Requests handled at once.
    pub max_concurrent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(65),
            max_concurrent: 1024,
        }
    }
}

/// Requests being handled right now (or waiting for a slot), shared by the guard and
/// whoever reports.
///
/// It is also the concurrency limit: a request takes a slot with one compare-and-swap on
/// a counter and gives it back with one subtraction. (tower's `ConcurrencyLimit` would
/// take a tokio semaphore's waiter lock on every release, a lock every request of the
/// server shares, and box a future per service clone.) Only a request that finds every
/// slot taken waits, on a `Notify`, and waiters are served in turn: while any waits, a
/// new request queues behind it, and a slot given back is handed to the first waiter
/// rather than freed for whoever comes next.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Slots>);

/// The slots behind [`InFlight`].
#[derive(Debug, Default)]
pub struct Slots {
    /// Requests holding a slot.
    running: AtomicUsize,
    /// Requests waiting for one.
    waiting: AtomicUsize,
    /// Slots given back while requests waited: still counted in `running`, each one for
    /// the waiter it woke (or the next one) to claim.
    handed: AtomicUsize,
    /// Told when a slot is given back while a request waits.
    freed: tokio::sync::Notify,
    /// Requests waiting on something, and when they time out.
    deadlines: Deadlines,
}

impl InFlight {
    /// Requests in flight now: running, or waiting for a slot.
    pub fn now(&self) -> usize {
        let slots = &self.0;
        let held = slots.running.load(Ordering::SeqCst);
        let handed = slots.handed.load(Ordering::SeqCst);
        held.saturating_sub(handed) + slots.waiting.load(Ordering::SeqCst)
    }
}

impl Slots {
    /// Takes a slot if fewer than `max` are taken.
    fn try_take(&self, max: usize) -> bool {
        // SeqCst here and in `give_back`: a waiter counts itself, then tries; a releaser
        // frees, then looks for waiters. One of the two always sees the other.
        let mut taken = self.running.load(Ordering::SeqCst);
        while taken < max {
            match self.running.compare_exchange_weak(
                taken,
                taken + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => taken = now,
            }
        }
        false
    }

    /// Takes a slot handed to the waiters, if there is one.
    fn claim(&self) -> bool {
        self.handed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn give_back(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            // Someone waits: the slot is theirs, not the next newcomer's.
            self.handed.fetch_add(1, Ordering::SeqCst);
            self.freed.notify_one();
            // Every waiter may have left meanwhile (timed out): then nobody claims it.
            if self.waiting.load(Ordering::SeqCst) == 0 {
                self.reclaim();
            }
        } else {
            self.running.fetch_sub(1, Ordering::SeqCst);
            // A waiter that came after the look above, and tried before the
            // subtraction, is told to try again.
            if self.waiting.load(Ordering::SeqCst) > 0 {
                self.freed.notify_one();
            }
        }
    }

    /// Frees the handed slots nobody claimed (called when no request waits).
    fn reclaim(&self) {
        while self.claim() {
            self.running.fetch_sub(1, Ordering::SeqCst);
            if self.waiting.load(Ordering::SeqCst) > 0 {
                self.freed.notify_one();
            }
        }
    }
}

/// A request's slot; given back when the request's future is dropped (answered, failed,
/// timed out or abandoned by its client).
#[derive(Debug)]
pub struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.give_back();
    }
}

/// Waits until a slot is free and takes it. Counted in [`InFlight::now`] meanwhile.
async fn wait_for_slot(slots: Arc<Slots>, max: usize) -> Slot {
    /// Uncounts the waiter however the wait ends (a slot, or the request timed out).
    struct Waiting<'a>(&'a Slots);
    impl Drop for Waiting<'_> {
        fn drop(&mut self) {
            // The last waiter to leave frees what was handed to nobody.
            if self.0.waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
                self.0.reclaim();
            }
        }
    }
    slots.waiting.fetch_add(1, Ordering::SeqCst);
    {
        let _waiting = Waiting(&slots);
        loop {
            // Registered before trying, so a slot freed in between is not missed. (A
            // notified waiter dropped before it runs passes the notification on.)
            let freed = slots.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            if slots.claim() || slots.try_take(max) {
                break;
            }
            freed.await;
        }
    }
    Slot(slots)
}

/// The request timeout, without a timer per request.
///
/// The sum route (L1) waits on every request (for its two tasks), and a tokio timer per
/// waiting request was the largest cost of these limits in the CPU profile: a
/// timer-wheel insert and removal under the wheel's lock, and a wake-up of the timer
/// driver now and then. A timeout of a minute does not need that precision. So a request
/// that waits adds itself to a list (the list of its thread: no lock the workers share),
/// and one thread, the sweeper, looks at the lists every [`tick`] and times out the
/// requests past their deadline. A request that ends just drops its [`Watch`]; the
/// sweeper forgets it.
///
/// Who owns the sweeper, and what ends it: it is started by the first request that waits
/// when none runs, holds the lists only weakly, and ends at the first tick that finds no
/// request waiting (or the server gone); an idle server has none. It is a thread, not a
/// task, so that it never shows in the server's own task count and dumps.
#[derive(Debug, Default)]
struct Deadlines {
    lists: [List; STRIPES],
    /// Whether a sweeper runs.
    sweeping: AtomicBool,
}

/// Lists of waiting requests, one per thread (by a per-thread index).
const STRIPES: usize = 4;

/// The sweeper thread's name (at most 15 bytes: what Linux keeps of a name).
pub const SWEEPER_THREAD: &str = "req-timeouts";

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

/// One thread's list, on cache lines of its own (two workers pushing to lists on one
/// line would still fight over it).
#[derive(Debug, Default)]
#[repr(align(128))]
struct List(Mutex<Vec<Waiter>>);

#[derive(Debug)]
struct Waiter {
    deadline: Instant,
    watch: Weak<Watch>,
}

/// What a waiting request shares with the sweeper: whether it timed out, and how to wake
/// it when it does.
#[derive(Debug)]
pub struct Watch {
    expired: AtomicBool,
    waker: Mutex<Waker>,
}

/// How often the sweeper looks: a tenth of a second, or a quarter of a shorter timeout.
fn tick(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(1), Duration::from_millis(100))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing here is left half-written by a panic.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Watch {
    fn expired(&self) -> bool {
        self.expired.load(Ordering::Acquire)
    }

    /// Keeps the waker current (a request's task rarely changes it).
    fn update(&self, waker: &Waker) {
        let mut current = lock(&self.waker);
        if !current.will_wake(waker) {
            current.clone_from(waker);
        }
    }
}

impl Deadlines {
    /// Adds a request that waits from now, for `timeout`, woken through `waker`.
    fn watch(slots: &Arc<Slots>, timeout: Duration, waker: &Waker) -> Arc<Watch> {
        let watch = Arc::new(Watch {
            expired: AtomicBool::new(false),
            waker: Mutex::new(waker.clone()),
        });
        let deadlines = &slots.deadlines;
        // A timeout too long to add up (`Duration::MAX` for "none") never expires.
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            return watch;
        };
        lock(&deadlines.lists[STRIPE.with(|s| *s)].0).push(Waiter {
            deadline,
            watch: Arc::downgrade(&watch),
        });
        // Added first, then the sweeper looked for: see `sweep` for why this order. (A
        // read first: under load a sweeper runs, and a read leaves the flag's cache line
        // shared where a swap would take it from the other worker every time.)
        if !deadlines.sweeping.load(Ordering::SeqCst)
            && !deadlines.sweeping.swap(true, Ordering::SeqCst)
        {
            let (slots, tick) = (Arc::downgrade(slots), tick(timeout));
            let started = std::thread::Builder::new()
                .name(SWEEPER_THREAD.into())
                .spawn(move || sweep(&slots, tick));
            if let Err(e) = started {
                // The next request that waits tries again; this one is not timed out.
                eprintln!("harden: cannot start the request-timeout thread: {e}");
                deadlines.sweeping.store(false, Ordering::SeqCst);
            }
        }
        watch
    }

    /// Times out the requests past their deadline at `now` and forgets the ended ones.
    /// Returns how many still wait.
    fn sweep(&self, now: Instant) -> usize {
        let mut waiting = 0;
        for list in &self.lists {
            let mut list = lock(&list.0);
            list.retain(|waiter| match waiter.watch.upgrade() {
                // The request ended.
                None => false,
                Some(watch) if waiter.deadline <= now => {
                    watch.expired.store(true, Ordering::Release);
                    lock(&watch.waker).wake_by_ref();
                    false
                }
                Some(_) => true,
            });
            waiting += list.len();
        }
        waiting
    }

    fn is_empty(&self) -> bool {
        self.lists.iter().all(|list| lock(&list.0).is_empty())
    }
}

/// The sweeper thread (see [`Deadlines`]).
fn sweep(slots: &Weak<Slots>, tick: Duration) {
    loop {
        std::thread::sleep(tick);
        let Some(slots) = slots.upgrade() else {
            return; // The server is gone.
        };
        let deadlines = &slots.deadlines;
        if deadlines.sweep(Instant::now()) == 0 {
            // Nobody waits: end. A request adds itself before it looks at `sweeping`,
            // and this looks at the lists after clearing it (the lists' locks order the
            // two), so one of the two sees the other: either the request starts a new
            // sweeper, or this one goes on.
            deadlines.sweeping.store(false, Ordering::SeqCst);
            if deadlines.is_empty() || deadlines.sweeping.swap(true, Ordering::SeqCst) {
                return;
            }
        }
    }
}

/// Wraps `app` (a router, or a router already wrapped in more layers) in every limit
/// above, counting requests in `in_flight`.
pub fn harden<S>(app: S, limits: Limits, in_flight: &InFlight) -> Router
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    // The guard holds the timeout, so waiting for a slot counts towards it.
    let guarded = GuardLayer {
        in_flight: in_flight.clone(),
        timeout: limits.request_timeout,
        max_concurrent: limits.max_concurrent,
    }
    .layer(app);
    // One boxed route for everything: the limits wrap the whole router, debug routes too.
    Router::new().fallback_service(guarded)
}

/// The per-request checks, in one service: URI and body size, the concurrency limit, the
/// request timeout, the in-flight count, panics.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    in_flight: InFlight,
    timeout: Duration,
    max_concurrent: usize,
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            in_flight: self.in_flight.clone(),
            timeout: self.timeout,
            max_concurrent: self.max_concurrent,
        }
    }
}

/// See [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    in_flight: InFlight,
    timeout: Duration,
    max_concurrent: usize,
}

/// A request's work once it waited for a slot (the rare case, so it may be boxed).
pub type Queued = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request> for Guard<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if let Some(refused) = refuse(&req) {
            return Guarded::Refused {
                response: Some(refused),
            };
        }
        // A body of unknown length is read through a limit; one of known length was
        // checked above. (Requests without a body, all of ours, are passed as they are.)
        let req = match http_body::Body::size_hint(req.body()).exact() {
            Some(_) => req,
            None => req.map(|body| Body::new(http_body_util::Limited::new(body, MAX_BODY_BYTES))),
        };
        let slots = Arc::clone(&self.in_flight.0);
        // While others wait for a slot, a new request queues behind them.
        let queue_empty = slots.waiting.load(Ordering::SeqCst) == 0;
        let (work, held) = if queue_empty && slots.try_take(self.max_concurrent) {
            let work = Work::Now {
                inner: self.inner.call(req),
            };
            (work, Held::Slot(Slot(slots)))
        } else {
            // Every slot is taken: wait for one, then call a clone of the service (this
            // one was made ready for the call we are not making now).
            let (max, inner, waiting) = (self.max_concurrent, self.inner.clone(), slots.clone());
            let work = Work::Queued {
                inner: Box::pin(async move {
                    let _slot = wait_for_slot(waiting, max).await;
                    tower::ServiceExt::oneshot(inner, req).await
                }),
            };
            (work, Held::Queued(slots))
        };
        Guarded::Running {
            work,
            timeout: self.timeout,
            watch: None,
            held,
        }
    }
}

/// A `414` or `413` for a request over the limits, or `None`.
fn refuse(req: &Request) -> Option<Response> {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > MAX_URI_BYTES {
        return Some(
            (
                StatusCode::URI_TOO_LONG,
                format!("the URI is {len} bytes long; at most {MAX_URI_BYTES} are accepted\n"),
            )
                .into_response(),
        );
    }
    let declared = http_body::Body::size_hint(req.body()).exact();
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Some(
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is too large; at most {MAX_BODY_BYTES} bytes are accepted\n"),
            )
                .into_response(),
        );
    }
    None
}

pin_project_lite::pin_project! {
    /// A request under [`Guard`].
    #[project = GuardedProj]
    pub enum Guarded<F> {
        /// Refused before it ran.
        Refused { response: Option<Response> },
        /// Running (or waiting for a slot); a panic while polling it becomes a `500`, and
        /// it times out `timeout` after it first waits (see [`Deadlines`]: a request
        /// answered on its first poll is never listed).
        Running {
            #[pin] work: Work<F>,
            timeout: Duration,
            watch: Option<Arc<Watch>>,
            held: Held,
        },
    }
}

pin_project_lite::pin_project! {
    /// What a running request polls: its handler holding a slot, or the wait for one.
    #[project = WorkProj]
    pub enum Work<F> {
        /// It had a slot at once.
        Now { #[pin] inner: F },
        /// It waits for a slot first.
        Queued { inner: Queued },
    }
}

/// A running request's hold on the server's slots: its slot, or (while it waits for one)
/// the slots themselves, where it lists itself when it waits.
#[derive(Debug)]
pub enum Held {
    /// It has a slot.
    Slot(Slot),
    /// Its work waits for a slot first (and then holds it).
    Queued(Arc<Slots>),
}

impl Held {
    fn slots(&self) -> &Arc<Slots> {
        match self {
            Held::Slot(slot) => &slot.0,
            Held::Queued(slots) => slots,
        }
    }
}

impl<F> Future for Work<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            WorkProj::Now { inner } => inner.poll(cx),
            WorkProj::Queued { inner } => inner.as_mut().poll(cx),
        }
    }
}

impl<F> Future for Guarded<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GuardedProj::Refused { response, .. } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            GuardedProj::Running {
                work: inner,
                timeout,
                watch,
                held,
            } => {
                // The handler's future is dropped with this one after a panic, like
                // tower-http's `CatchPanic`: nothing of it runs again.
                match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(Poll::Ready(output)) => return Poll::Ready(output),
                    Ok(Poll::Pending) => {}
                    Err(_) => {
                        return Poll::Ready(Ok((
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal error: the handler panicked\n",
                        )
                            .into_response()));
                    }
                }
                let expired = match watch {
                    // It waits for the first time: list it.
                    None => {
                        *watch = Some(Deadlines::watch(held.slots(), *timeout, cx.waker()));
                        false
                    }
                    Some(watch) => {
                        watch.update(cx.waker());
                        watch.expired()
                    }
                };
                if expired {
                    // Dropping this future drops the handler's: whatever it owned is
                    // cancelled (its request token with it).
                    return Poll::Ready(Ok(StatusCode::REQUEST_TIMEOUT.into_response()));
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `f` once (nothing here needs a runtime to make progress).
    fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// A slot given back while a request waits is that request's: a newcomer cannot
    /// take it first, and the in-flight count does not count it twice.
    #[test]
    fn a_given_back_slot_goes_to_the_waiter_not_to_a_newcomer() {
        let in_flight = InFlight::default();
        let slots = &in_flight.0;
        assert!(slots.try_take(1));
        let first = Slot(Arc::clone(slots));
        let mut waiter = std::pin::pin!(wait_for_slot(Arc::clone(slots), 1));
        assert!(poll_once(waiter.as_mut()).is_pending());
        assert_eq!(in_flight.now(), 2, "one running, one waiting");

        drop(first);
        assert!(!slots.try_take(1), "a newcomer finds no free slot");
        assert_eq!(slots.waiting.load(Ordering::SeqCst), 1, "so it queues");
        assert_eq!(in_flight.now(), 1, "the handed slot is not counted twice");
        let Poll::Ready(second) = poll_once(waiter.as_mut()) else {
            panic!("the waiter claims the handed slot");
        };
        assert_eq!(in_flight.now(), 1);
        drop(second);
        assert_eq!(in_flight.now(), 0);
        assert!(slots.try_take(1), "free again");
    }

    /// A slot handed to a waiter that then gives up (times out) is freed, not lost.
    #[test]
    fn a_slot_handed_to_a_waiter_that_left_is_freed() {
        let in_flight = InFlight::default();
        let slots = &in_flight.0;
        assert!(slots.try_take(1));
        let first = Slot(Arc::clone(slots));
        let mut waiter = Box::pin(wait_for_slot(Arc::clone(slots), 1));
        assert!(poll_once(waiter.as_mut()).is_pending());
        drop(first);
        drop(waiter);
        assert_eq!(in_flight.now(), 0);
        assert!(slots.try_take(1), "the slot came back");
    }
}
