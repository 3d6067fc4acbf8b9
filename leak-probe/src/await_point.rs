//! Await points: "this task waits *here*", recorded as it happens, read without pausing.
//!
//! Go's goroutine dump names the line each goroutine is blocked on
//! (`main.sum(...) main.go:15 [chan send]`). tokio's task dump can too, but it pauses every
//! worker to take it, and on a loaded runtime tokio 1.54's dump can hang for good (see
//! [`crate::report`]). Await points get the same answer with no pause at all: mark an
//! `.await` that may wait for long with [`TraceExt::traced`], and while the task is parked
//! there its registry entry says so.
//!
//! ```
//! use leak_probe::TraceExt as _;
//!
//! async fn worker(mut jobs: tokio::sync::mpsc::Receiver<u32>) {
//!     // While parked here, `/_stack` shows "waiting at src/worker.rs:LINE:COL".
//!     while let Some(job) = jobs.recv().traced().await {
//!         let _ = job;
//!     }
//! }
//! # let _ = worker;
//! ```
//!
//! # How it works, and what it costs
//!
//! `traced()` is `#[track_caller]`: it captures the `file:line:column` of the `.traced()`
//! call (a `&'static Location`, no allocation), and adds 16 bytes to the future. Each poll of the wrapped future counts how
//! many marked awaits deep it is (a thread-local counter, balanced around the poll). The
//! first time the inner future returns `Pending`, the wrapper writes its location into the
//! current task's registry entry, at its depth; when the inner future finishes, or the
//! wrapper is dropped (cancelled), it clears it again. So an await point costs nothing
//! while it does not wait, and one shard lock when it starts and stops waiting.
//!
//! Nested marks give a short logical stack, innermost first, like Go's
//! ([`crate::registry::AWAIT_DEPTH`] levels). Two marked futures polled side by side at the
//! same depth (`join!`) share a slot: the one that started waiting last is shown.
//!
//! Outside an instrumented runtime (or without `--cfg tokio_unstable`) the wrapper only
//! polls the inner future.

use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::task::Poll;

use crate::registry::Site;

thread_local! {
    /// How many marked awaits the current poll is inside of.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Marks an `.await` as a place where a task may wait, so reports can name it.
///
/// Implemented for every future; bring it into scope with `use leak_probe::TraceExt as _;`.
pub trait TraceExt: Future + Sized {
    /// Wraps the future so that, while it is pending, the current task's registry entry
    /// records this call's `file:line:column` as where the task waits.
    #[track_caller]
    fn traced(self) -> Traced<Self> {
        traced_at(self, Location::caller())
    }
}

impl<F: Future> TraceExt for F {}

/// [`TraceExt::traced`] with an explicit location.
pub fn traced_at<F: Future>(future: F, at: Site) -> Traced<F> {
    Traced {
        inner: future,
        mark: Mark { at, recorded: None },
    }
}

pin_project_lite::pin_project! {
    /// A future whose waits are recorded in the task registry (see [`TraceExt::traced`]).
    ///
    /// A plain struct rather than an `async` block: every leaked task carries one, and a
    /// wrapper that adds only a location and a few bytes keeps those tasks small.
    pub struct Traced<F> {
        #[pin]
        inner: F,
        // Cleared on drop, so a cancelled await (a dropped future) leaves no trace behind.
        mark: Mark,
    }
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let depth = Nested::enter();
        match this.inner.poll(cx) {
            Poll::Pending => {
                this.mark.record(depth.0);
                Poll::Pending
            }
            Poll::Ready(output) => {
                this.mark.clear();
                Poll::Ready(output)
            }
        }
    }
}

/// One level deeper for the duration of a poll (restored even if the poll panics).
struct Nested(usize);

impl Nested {
    fn enter() -> Nested {
        Nested(DEPTH.with(|d| d.replace(d.get() + 1)))
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(self.0));
    }
}

/// What a marked await wrote into the registry, so it can take it back.
struct Mark {
    at: Site,
    /// The task id and depth it was recorded at, packed into one word (`id << 8 |
    /// depth`; tokio's ids start at 1 and will not reach 2^56): every leaked task carries
    /// a `Mark`, and eight bytes less can be a smaller task allocation.
    recorded: Option<std::num::NonZeroU64>,
}

impl Mark {
    fn record(&mut self, depth: usize) {
        if self.recorded.is_some() {
            return;
        }
        let Some(id) = tokio::task::try_id() else {
            return; // Not inside a task (e.g. `block_on`): nothing to annotate.
        };
        let id = crate::runtime::task_id(id);
        let Ok(depth) = u8::try_from(depth) else {
            return;
        };
        let at = self.at;
        let recorded = crate::registry::with_current(|registry| {
            registry.set_await(id, usize::from(depth), at)
        });
        if recorded == Some(true) {
            self.recorded = std::num::NonZeroU64::new(id << 8 | u64::from(depth));
        }
    }

    fn clear(&mut self) {
        if let Some(packed) = self.recorded.take() {
            let (id, depth) = (packed.get() >> 8, (packed.get() & 0xff) as u8);
            // The registry of the runtime the task runs on (a task never changes runtime).
            let at = self.at;
            crate::registry::with_current(|registry| {
                registry.clear_await(id, usize::from(depth), at);
            });
        }
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(all(test, tokio_unstable))]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A task parked on a marked await shows that line (innermost first), and the mark
    /// is gone once the await finishes.
    #[test]
    fn a_parked_task_names_its_await_points() {
        let rt = crate::runtime::build(tokio::runtime::Builder::new_multi_thread()).unwrap();
        rt.block_on(async {
            let registry = crate::registry::for_current_runtime().unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let inner_line = line!() + 3;
            let outer_line = line!() + 4;
            async fn wait(rx: tokio::sync::oneshot::Receiver<()>) {
                let _ = rx.traced().await;
            }
            let task = tokio::spawn(async move { wait(rx).traced().await });
            tokio::time::sleep(Duration::from_millis(50)).await;
            let id = crate::runtime::task_id(task.id());
            let lines: Vec<u32> = registry
                .get(id)
                .unwrap()
                .waiting_at()
                .map(|s| s.line())
                .collect();
            assert_eq!(lines, vec![inner_line, outer_line]);
            tx.send(()).unwrap();
            task.await.unwrap();
            // tokio runs the terminate hook just after it wakes the `JoinHandle`.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while registry.get(id).is_some() && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert!(registry.get(id).is_none());
        });
    }

    /// A marked await that is cancelled (its future dropped) takes its mark back.
    #[test]
    fn a_cancelled_await_leaves_no_mark() {
        let rt = crate::runtime::build(tokio::runtime::Builder::new_multi_thread()).unwrap();
        rt.block_on(async {
            let registry = crate::registry::for_current_runtime().unwrap();
            let (started_tx, started) = tokio::sync::oneshot::channel();
            let (go_on_tx, go_on) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                let wait = std::future::pending::<()>().traced();
                let _ = tokio::time::timeout(Duration::from_millis(20), wait).await;
                started_tx.send(()).unwrap();
                let _ = go_on.await;
            });
            started.await.unwrap();
            let id = crate::runtime::task_id(task.id());
            assert_eq!(registry.get(id).unwrap().waiting_at().count(), 0);
            go_on_tx.send(()).unwrap();
            task.await.unwrap();
        });
    }
}
