//! Labels: a name for a piece of work that the tasks it spawns inherit, like Go's
//! `pprof.Do(ctx, pprof.Labels("route", "/checkout"), ...)`.
//!
//! A spawn site says which line spawned a task; in a real service that line is often a
//! generic helper (`spawn_with_retry`, a worker pool) shared by every route. A label says
//! *on whose behalf*: leak-probe's request middleware ([`crate::http::instrument`]) labels
//! each request with its route, so every task the `/checkout` handler spawns, and every
//! task those spawn, carries `/checkout`, and `/_stack`, `/_tasks`, `/_leaks` and the pprof export show
//! it. (Not across `spawn_blocking`: blocking work is not a task.) Label your own work
//! with [`LabelExt::labeled`]:
//!
//! ```
//! use leak_probe::labels::LabelExt as _;
//!
//! async fn nightly_batch() { /* spawns workers */ }
//! # async fn run() {
//! nightly_batch().labeled("batch: nightly").await;
//! # }
//! ```
//!
//! # How it works, and what it costs
//!
//! While a labeled future is polled, a thread-local holds its label; the spawn hook reads
//! it, so a task spawned from inside gets the label for free. A task spawned by an
//! unlabeled task inherits its parent's label from the registry (one lookup of the
//! parent's entry, only once any label exists in the process; in a server that labels
//! requests, only a request's grandchildren need it). Labels are interned:
//! an entry holds a 4-byte id, and at most [`MAX_LABELS`] distinct labels exist (route
//! patterns are few; more are counted as `(other labels)`).

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};
use std::task::Poll;

/// The most distinct labels kept; later ones share the label `(other labels)`.
pub const MAX_LABELS: usize = 1024;

/// A label's id: 0 is "no label".
pub type LabelId = u32;

struct Table {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, LabelId>,
}

static TABLE: RwLock<Option<Table>> = RwLock::new(None);
static ANY: AtomicBool = AtomicBool::new(false);

thread_local! {
    static CURRENT: Cell<LabelId> = const { Cell::new(0) };
}

/// The id of `name`, interned on first use.
///
/// Called per request by the middleware, so the common case touches no shared state: each
/// thread keeps the ids it has looked up (the table only grows, so they stay right).
pub fn intern(name: &str) -> LabelId {
    thread_local! {
        static SEEN: std::cell::RefCell<HashMap<Box<str>, LabelId>> =
            std::cell::RefCell::new(HashMap::new());
    }
    if let Ok(Some(id)) = SEEN.try_with(|seen| seen.borrow().get(name).copied()) {
        return id;
    }
    let id = intern_shared(name);
    let _ = SEEN.try_with(|seen| {
        let mut seen = seen.borrow_mut();
        if seen.len() <= MAX_LABELS {
            seen.insert(name.into(), id);
        }
    });
    id
}

/// The id of `name` if it was interned (a read: makes no label).
pub fn lookup(name: &str) -> Option<LabelId> {
    let table = TABLE.read().unwrap_or_else(PoisonError::into_inner);
    table.as_ref()?.ids.get(name).copied()
}

fn intern_shared(name: &str) -> LabelId {
    if let Some(table) = TABLE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        && let Some(&id) = table.ids.get(name)
    {
        return id;
    }
    let mut guard = TABLE.write().unwrap_or_else(PoisonError::into_inner);
    let table = guard.get_or_insert_with(|| Table {
        names: vec![""],
        ids: HashMap::new(),
    });
    if let Some(&id) = table.ids.get(name) {
        return id;
    }
    let name = if table.names.len() > MAX_LABELS {
        "(other labels)"
    } else {
        name
    };
    if let Some(&id) = table.ids.get(name) {
        return id;
    }
    // Leaked on purpose: at most MAX_LABELS + 1 short strings, for the process's life,
    // so that an entry can name its label with 4 bytes.
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let id = LabelId::try_from(table.names.len()).unwrap_or(LabelId::MAX);
    table.names.push(name);
    table.ids.insert(name, id);
    ANY.store(true, Ordering::Release);
    id
}

/// The label `id` stands for (`None` for 0 or an unknown id).
pub fn name(id: LabelId) -> Option<&'static str> {
    if id == 0 {
        return None;
    }
    let guard = TABLE.read().unwrap_or_else(PoisonError::into_inner);
    guard.as_ref()?.names.get(id as usize).copied()
}

/// The label of the future being polled on this thread (0: none).
pub fn current() -> LabelId {
    CURRENT.with(Cell::get)
}

/// Whether any label was ever made (until then, spawns skip the parent lookup).
pub fn any() -> bool {
    ANY.load(Ordering::Acquire)
}

/// Gives a future a label that the tasks it spawns inherit.
pub trait LabelExt: Future + Sized {
    /// Wraps the future: while it is polled, tasks it spawns get `label` (and pass it on
    /// to theirs).
    fn labeled(self, label: &str) -> Labeled<Self> {
        with_label(self, intern(label))
    }
}

impl<F: Future> LabelExt for F {}

/// [`LabelExt::labeled`] with an interned label.
pub fn with_label<F: Future>(future: F, label: LabelId) -> Labeled<F> {
    Labeled {
        inner: future,
        label,
    }
}

pin_project_lite::pin_project! {
    /// A future whose spawned tasks carry its label (see [`LabelExt::labeled`]).
    pub struct Labeled<F> {
        #[pin]
        inner: F,
        label: LabelId,
    }
}

impl<F: Future> Future for Labeled<F> {
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _label = enter(*this.label);
        this.inner.poll(cx)
    }
}

/// Makes `label` this thread's current label until the guard is dropped (nothing for 0).
pub(crate) fn enter(label: LabelId) -> Option<Restore> {
    (label != 0).then(|| Restore(CURRENT.with(|c| c.replace(label))))
}

/// Restores the previous label however the poll ends (a panic included), so a label
/// never leaks to whatever this thread polls next.
pub(crate) struct Restore(LabelId);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_interned_and_scoped_to_the_poll() {
        let a = intern("route /a");
        assert_eq!(intern("route /a"), a);
        assert_ne!(intern("route /b"), a);
        assert_eq!(name(a), Some("route /a"));
        assert_eq!(name(0), None);
        let seen = futures_lite_block_on(async { current() }.labeled("route /a"));
        assert_eq!(seen, a);
        assert_eq!(current(), 0, "the label ends with the poll");
    }

    /// A labeled future's tasks carry its label, and so do the tasks those spawn (from
    /// the registry: they are not polled inside the labeled future); tasks spawned
    /// elsewhere carry none.
    #[cfg(tokio_unstable)]
    #[test]
    fn spawned_tasks_and_their_children_inherit_the_label() {
        let rt = crate::runtime::build(tokio::runtime::Builder::new_multi_thread()).unwrap();
        rt.block_on(async {
            let registry = crate::registry::for_current_runtime().unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let parked = std::sync::Arc::new(tokio::sync::Notify::new());
            let (child_parked, grandchild_parked) = (parked.clone(), parked.clone());
            async move {
                tokio::spawn(async move {
                    let grandchild =
                        tokio::spawn(async move { grandchild_parked.notified().await });
                    tx.send(tokio::task::try_id().map(crate::runtime::task_id))
                        .unwrap();
                    child_parked.notified().await;
                    grandchild.await.unwrap();
                });
            }
            .labeled("job: inherit")
            .await;
            let unlabeled = tokio::spawn(std::future::pending::<()>());
            let child = rx.await.unwrap().unwrap();
            let tasks = registry.snapshot();
            let labeled: Vec<_> = tasks
                .iter()
                .filter(|t| t.label == Some("job: inherit"))
                .collect();
            assert_eq!(labeled.len(), 2, "{tasks:?}");
            assert!(labeled.iter().any(|t| t.id == child));
            assert!(
                labeled.iter().any(|t| t.parent == Some(child)),
                "the grandchild"
            );
            let other = registry
                .get(crate::runtime::task_id(unlabeled.id()))
                .unwrap();
            assert_eq!(other.label, None);
            unlabeled.abort();
            parked.notify_waiters();
        });
    }

    /// Polls a ready-at-once future (no runtime needed).
    fn futures_lite_block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("not ready"),
        }
    }
}
