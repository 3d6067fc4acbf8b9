//! The task registry: for every live task, *where* it was spawned, *when*, *by whom*, and
//! *where it waits*.
//!
//! A tokio task dump tells you what each task is waiting on, but not where it came from or
//! how long it has been alive, and taking one pauses the runtime. The runtime's spawn and
//! terminate hooks do know where and when, so the registry listens to them and keeps one
//! small entry per live task:
//!
//! ```text
//! task id ──► spawn site (&'static Location), spawn time, parent task id,
//!             await points (innermost first, see crate::await_point)
//! ```
//!
//! Everything that names a spawn site or an await point (`/_stack`, `/_tasks`, the
//! per-site gauge in `/metrics`, the leak check's report) reads it from here, and reading
//! it never pauses the runtime: a snapshot locks one shard at a time, for a copy.
//!
//! # Cost
//!
//! Every `tokio::spawn` pays for one read of the coarse clock and one insert into a
//! sharded map, and every task end for one remove. (The coarse clock,
//! `CLOCK_MONOTONIC_COARSE` on Linux, through the `coarsetime` crate, is a memory read
//! that ticks every few milliseconds, where the precise one reads the CPU's counter: a
//! leak is seconds old, so ages to a few milliseconds are all a report needs.) Shards keep the worker threads off each other's locks.
//! A marked await ([`crate::TraceExt::traced`]) pays one shard lock when it first waits
//! and one when it is done. The benches measure both; they are small enough to leave on
//! in production, which is the point: the leak you are hunting already happened.
//!
//! # Without `--cfg tokio_unstable`
//!
//! The hooks are an unstable tokio API. Without the flag [`for_current_runtime`] always
//! returns `None` and callers fall back to the bare count.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A spawn site or an await point: the `file:line:column` of the `tokio::spawn` call (or
/// of the innermost `#[track_caller]` function above it), or of a `.traced()` await.
pub type Site = &'static Location<'static>;

/// Number of independently locked shards. A power of two, so picking one is a shift.
const SHARDS: usize = 64;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

/// How many nested await points a task remembers (innermost first). Deeper ones are not
/// recorded; three levels name the waiting line and two callers.
pub const AWAIT_DEPTH: usize = 3;

/// One live task as the registry knows it.
#[derive(Debug, Clone, Copy)]
pub struct TaskInfo {
    /// tokio's id for the task, as a number (the same one a task dump shows).
    pub id: u64,
    /// Where it was spawned.
    pub site: Site,
    /// When it was spawned.
    pub spawned_at: Instant,
    /// The task that spawned it (`None`: spawned from outside any task, e.g. `block_on`).
    pub parent: Option<u64>,
    /// Where it waits right now, by nesting depth (`[0]` outermost); see
    /// [`TaskInfo::waiting_at`].
    pub awaits: [Option<Site>; AWAIT_DEPTH],
    /// Its label, inherited from the work that spawned it (see [`crate::labels`]).
    pub label: Option<&'static str>,
}

impl TaskInfo {
    /// How long the task has been alive, at `now`.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.spawned_at)
    }

    /// The await points the task is parked at, innermost first (like a stack trace).
    /// Empty if it waits at no marked await (or is running).
    pub fn waiting_at(&self) -> impl Iterator<Item = Site> + '_ {
        self.awaits.iter().rev().flatten().copied()
    }
}

/// What [`Registry::site_details`] knows of one spawn site.
#[derive(Debug, Clone)]
pub struct SiteDetails {
    /// The spawn site.
    pub site: Site,
    /// Its live tasks.
    pub alive: usize,
    /// When the oldest of them was spawned.
    pub oldest_spawned_at: Instant,
    /// Where most of them wait, innermost first (empty: at no marked await).
    pub waiting_at: Vec<Site>,
    /// The label most of them carry (see [`crate::labels`]).
    pub label: Option<&'static str>,
}

#[derive(Clone, Copy)]
struct Entry {
    site: Site,
    /// Nanoseconds since the registry's `epoch`, on the coarse clock (so to a few
    /// milliseconds; 8 bytes instead of an `Instant`'s 16:
    /// one entry per live task, so leaked tasks pay for every byte).
    spawned_ns: u64,
    /// 0 for none (tokio's task ids start at 1).
    parent: u64,
    awaits: [Option<Site>; AWAIT_DEPTH],
    /// 0 for none; see [`crate::labels`].
    label: crate::labels::LabelId,
}

/// How many operations a thread's buffer holds before it is applied to the shards.
const FLUSH_AT: usize = 64;

/// Live tasks of one runtime, by id.
///
/// Created by [`crate::runtime::instrument`], which wires it to the runtime's hooks; read
/// by everything else through [`for_current_runtime`].
///
/// # Where an entry lives
///
/// Most tasks live for microseconds. So that they cost the spawning thread next to
/// nothing, the hooks write into a small buffer of the calling thread (locked only by
/// that thread, unless a reader or another thread's termination looks into it) rather
/// than into the shared shards:
///
/// - a spawn is appended to the thread's buffer;
/// - a termination first looks for its spawn in the same buffer: a task spawned and ended
///   on one thread between two flushes never touches shared state;
/// - a buffer is applied to the shards when it holds `FLUSH_AT` (64) operations, when its
///   thread ends, and before anything reads the registry.
///
/// Applying a buffer moves its spawns into the shards *while holding the buffer's lock*,
/// so a termination that finds its spawn neither in its shard nor in any buffer, looking
/// at the shard again afterwards, either finds it there or knows the id was never spawned
/// through `on_spawn` (`spawn_blocking` work and worker threads end through the terminate
/// hook too).
pub struct Registry {
    shared: Arc<Shared>,
    /// Set while a report of this runtime is being built (see `report::current`): one at
    /// a time, so a burst of `/_stack` requests cannot pile up work.
    pub(crate) reporting: AtomicBool,
    /// Set while a tokio task dump of this runtime runs.
    #[cfg_attr(not(tokio_unstable), allow(dead_code))]
    pub(crate) dumping: AtomicBool,
    /// The per-site history that names leak suspects (see [`crate::leaks`]).
    pub(crate) leaks: crate::leaks::Watcher,
}

struct Shared {
    /// Tells this registry's buffers apart in a thread's list.
    id: u64,
    shards: Box<[Mutex<Shard>]>,
    epoch: Instant,
    /// `epoch` on the coarse clock that stamps spawns.
    coarse_epoch: coarsetime::Instant,
    /// Every thread's buffer (weak: a buffer belongs to its thread).
    buffers: Mutex<Vec<std::sync::Weak<Buffer>>>,
    /// Spawns counted by buffers that are gone.
    spawned_by_gone_buffers: AtomicU64,
}

#[derive(Default)]
struct Shard {
    live: HashMap<u64, Entry, IdHash>,
}

/// One thread's pending operations on one registry.
#[derive(Default)]
struct Buffer {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    spawns: Vec<(u64, Entry)>,
    terminated: Vec<u64>,
    /// Spawns this buffer has seen, in all.
    spawned: u64,
}

static NEXT_REGISTRY_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's buffers, one per registry it spawned into or saw a task end of.
    static BUFFERS: std::cell::RefCell<Vec<LocalBuffer>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A thread's handle on its buffer; applies what is left when the thread ends.
struct LocalBuffer {
    registry: std::sync::Weak<Shared>,
    registry_id: u64,
    buffer: Arc<Buffer>,
}

impl Drop for LocalBuffer {
    fn drop(&mut self) {
        if let Some(shared) = self.registry.upgrade() {
            shared.flush(&self.buffer);
            let spawned = lock(&self.buffer.pending).spawned;
            shared
                .spawned_by_gone_buffers
                .fetch_add(spawned, Ordering::Relaxed);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave a half-written entry behind,
    // so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn shard(&self, id: u64) -> MutexGuard<'_, Shard> {
        // Task ids are sequential; a multiplicative hash spreads neighbours over shards,
        // and its top SHARD_BITS bits pick one.
        let index = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARD_BITS)) as usize;
        lock(&self.shards[index])
    }

    /// Runs `f` on this thread's buffer for this registry (made on first use).
    fn with_buffer<R>(self: &Arc<Self>, f: impl FnOnce(&Arc<Buffer>) -> R) -> R {
        let mut f = Some(f);
        let found = BUFFERS.try_with(|buffers| {
            let mut buffers = buffers.borrow_mut();
            if let Some(local) = buffers.iter().find(|b| b.registry_id == self.id) {
                return (f.take().expect("once"))(&local.buffer);
            }
            // Entries of registries that are gone make room.
            buffers.retain(|b| b.registry.strong_count() > 0);
            let buffer = Arc::new(Buffer::default());
            lock(&self.buffers).push(Arc::downgrade(&buffer));
            buffers.push(LocalBuffer {
                registry: Arc::downgrade(self),
                registry_id: self.id,
                buffer: Arc::clone(&buffer),
            });
            (f.take().expect("once"))(&buffer)
        });
        match found {
            Ok(result) => result,
            // The thread is ending and its locals are gone: use a one-off buffer.
            Err(_) => {
                let buffer = Arc::new(Buffer::default());
                let result = (f.take().expect("once"))(&buffer);
                self.flush(&buffer);
                result
            }
        }
    }

    /// Applies `buffer` to the shards.
    fn flush(&self, buffer: &Buffer) {
        let terminated = {
            let mut pending = lock(&buffer.pending);
            // Spawns move into the shards under the buffer's lock (see the type's docs).
            for (id, entry) in pending.spawns.drain(..) {
                self.shard(id).live.insert(id, entry);
            }
            std::mem::take(&mut pending.terminated)
        };
        for id in terminated {
            self.forget(id, Some(buffer));
        }
    }

    /// Removes task `id` wherever its entry is: its shard, or a buffer not yet applied.
    fn forget(&self, id: u64, except: Option<&Buffer>) {
        if self.shard(id).live.remove(&id).is_some() {
            return;
        }
        for buffer in self.live_buffers() {
            if except.is_some_and(|e| std::ptr::eq(e, &*buffer)) {
                continue;
            }
            let mut pending = lock(&buffer.pending);
            if let Some(at) = pending.spawns.iter().position(|(s, _)| *s == id) {
                pending.spawns.swap_remove(at);
                return;
            }
        }
        // Applied to the shard meanwhile? (Else: never spawned through the spawn hook.)
        self.shard(id).live.remove(&id);
    }

    fn live_buffers(&self) -> Vec<Arc<Buffer>> {
        let mut buffers = lock(&self.buffers);
        buffers.retain(|b| b.strong_count() > 0);
        buffers
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect()
    }

    /// Applies every thread's buffer: afterwards the shards hold every live task.
    fn flush_all(&self) {
        for buffer in self.live_buffers() {
            self.flush(&buffer);
        }
    }

    /// Runs `f` on task `id`'s entry, wherever it is; `None` if the task is unknown.
    fn with_entry<R>(&self, id: u64, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        let mut f = Some(f);
        if let Some(entry) = self.shard(id).live.get_mut(&id) {
            return Some((f.take().expect("once"))(entry));
        }
        for buffer in self.live_buffers() {
            let mut pending = lock(&buffer.pending);
            if let Some((_, entry)) = pending.spawns.iter_mut().find(|(s, _)| *s == id) {
                return Some((f.take().expect("once"))(entry));
            }
        }
        // Applied meanwhile?
        self.shard(id)
            .live
            .get_mut(&id)
            .map(|entry| (f.take().expect("once"))(entry))
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("live", &self.len())
            .field("spawned", &self.spawned_total())
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry, not yet attached to any runtime.
    pub fn new() -> Self {
        Registry {
            shared: Arc::new(Shared {
                id: NEXT_REGISTRY_ID.fetch_add(1, Ordering::Relaxed),
                shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
                epoch: Instant::now(),
                coarse_epoch: coarsetime::Instant::now_without_cache_update(),
                buffers: Mutex::default(),
                spawned_by_gone_buffers: AtomicU64::new(0),
            }),
            reporting: AtomicBool::new(false),
            dumping: AtomicBool::new(false),
            leaks: crate::leaks::Watcher::default(),
        }
    }

    fn info(&self, id: u64, e: &Entry) -> TaskInfo {
        TaskInfo {
            id,
            site: e.site,
            spawned_at: self.shared.epoch + Duration::from_nanos(e.spawned_ns),
            parent: (e.parent != 0).then_some(e.parent),
            awaits: e.awaits,
            label: crate::labels::name(e.label),
        }
    }

    /// Called by the spawn hook: remember where and when task `id` started, which task
    /// (if any) spawned it, and its label: the one of the labeled future being polled,
    /// else its parent's (see [`crate::labels`]).
    pub fn on_spawn(&self, id: u64, site: Site, parent: Option<u64>) {
        let mut label = crate::labels::current();
        if label == 0
            && let Some(parent) = parent
            && crate::labels::any()
        {
            // Only for tasks spawned outside any labeled future by a task that has a
            // parent (a request's grandchildren): rare next to the spawns it labels.
            label = self.shared.with_entry(parent, |e| e.label).unwrap_or(0);
        }
        let entry = Entry {
            site,
            // `now_without_cache_update`: `now` would also write a global the threads
            // share.
            spawned_ns: (coarsetime::Instant::now_without_cache_update()
                - self.shared.coarse_epoch)
                .as_nanos(),
            parent: parent.unwrap_or(0),
            awaits: [None; AWAIT_DEPTH],
            label,
        };
        let full = self.shared.with_buffer(|buffer| {
            let mut pending = lock(&buffer.pending);
            pending.spawns.push((id, entry));
            pending.spawned += 1;
            pending.spawns.len() + pending.terminated.len() >= FLUSH_AT
        });
        if full {
            self.shared.with_buffer(|buffer| self.shared.flush(buffer));
        }
    }

    /// Called by the terminate hook: forget task `id`.
    ///
    /// The hook also fires for `spawn_blocking` work and worker threads, which never went
    /// through `on_spawn`; removing an unknown id does nothing.
    pub fn on_terminate(&self, id: u64) {
        let full = self.shared.with_buffer(|buffer| {
            let mut pending = lock(&buffer.pending);
            // Spawned on this thread since its last flush: both cancel out here.
            if let Some(at) = pending.spawns.iter().rposition(|(s, _)| *s == id) {
                pending.spawns.swap_remove(at);
                return false;
            }
            pending.terminated.push(id);
            pending.spawns.len() + pending.terminated.len() >= FLUSH_AT
        });
        if full {
            self.shared.with_buffer(|buffer| self.shared.flush(buffer));
        }
    }

    /// Records that task `id` waits at `point`, `depth` awaits deep. Returns whether the
    /// task is known (and the depth recordable).
    pub fn set_await(&self, id: u64, depth: usize, point: Site) -> bool {
        if depth >= AWAIT_DEPTH {
            return false;
        }
        self.shared
            .with_entry(id, |entry| entry.awaits[depth] = Some(point))
            .is_some()
    }

    /// Forgets that task `id` waits at `point` at `depth` (if that is still what is
    /// recorded there).
    pub fn clear_await(&self, id: u64, depth: usize, point: Site) {
        self.shared.with_entry(id, |entry| {
            if let Some(slot) = entry.awaits.get_mut(depth)
                && slot.is_some_and(|p| std::ptr::eq(p, point))
            {
                *slot = None;
            }
        });
    }

    /// Number of live tasks the registry knows about.
    pub fn len(&self) -> usize {
        self.shared.flush_all();
        self.shared.shards.iter().map(|s| lock(s).live.len()).sum()
    }

    /// Whether no task is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks spawned since the registry was attached (a counter; never goes down).
    pub fn spawned_total(&self) -> u64 {
        let buffered: u64 = self
            .shared
            .live_buffers()
            .iter()
            .map(|b| lock(&b.pending).spawned)
            .sum();
        buffered + self.shared.spawned_by_gone_buffers.load(Ordering::Relaxed)
    }

    /// What the registry knows of one task, if it is alive. (Applies every thread's
    /// buffer first, like every read: call [`Registry::snapshot`] once for many tasks.)
    pub fn get(&self, id: u64) -> Option<TaskInfo> {
        self.shared.flush_all();
        let entry = *self.shared.shard(id).live.get(&id)?;
        Some(self.info(id, &entry))
    }

    /// A copy of every live entry. Applies the threads' buffers, then locks one shard at
    /// a time, so spawning goes on meanwhile; no runtime pause is involved.
    pub fn snapshot(&self) -> Vec<TaskInfo> {
        self.shared.flush_all();
        let mut out = Vec::new();
        for shard in self.shared.shards.iter() {
            let shard = lock(shard);
            out.extend(shard.live.iter().map(|(&id, e)| self.info(id, e)));
        }
        out
    }

    /// Per spawn site: live tasks, the oldest one's spawn time, and where most of them
    /// wait (the most common await points). One pass over the shards, no copy of them.
    pub fn site_details(&self) -> Vec<SiteDetails> {
        self.shared.flush_all();
        struct Acc {
            alive: usize,
            oldest_ns: u64,
            awaits: HashMap<[Option<Site>; AWAIT_DEPTH], usize>,
            labels: HashMap<crate::labels::LabelId, usize>,
        }
        let mut by_site: HashMap<Site, Acc> = HashMap::new();
        for shard in self.shared.shards.iter() {
            for e in lock(shard).live.values() {
                let acc = by_site.entry(e.site).or_insert(Acc {
                    alive: 0,
                    oldest_ns: e.spawned_ns,
                    awaits: HashMap::new(),
                    labels: HashMap::new(),
                });
                acc.alive += 1;
                acc.oldest_ns = acc.oldest_ns.min(e.spawned_ns);
                // Distinct await tuples per site are few (they are lines of code).
                *acc.awaits.entry(e.awaits).or_default() += 1;
                *acc.labels.entry(e.label).or_default() += 1;
            }
        }
        let mut out: Vec<SiteDetails> = by_site
            .into_iter()
            .map(|(site, acc)| {
                let waiting_at = acc
                    .awaits
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                    .map(|(awaits, _)| awaits.iter().rev().flatten().copied().collect())
                    .unwrap_or_default();
                let label = acc
                    .labels
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                    .and_then(|(id, _)| crate::labels::name(id));
                SiteDetails {
                    site,
                    label,
                    alive: acc.alive,
                    oldest_spawned_at: self.shared.epoch + Duration::from_nanos(acc.oldest_ns),
                    waiting_at,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.alive
                .cmp(&a.alive)
                .then_with(|| site_key(a.site).cmp(&site_key(b.site)))
        });
        out
    }

    /// Live tasks per spawn site, most tasks first: `(site, count)`.
    pub fn count_by_site(&self) -> Vec<(Site, usize)> {
        self.shared.flush_all();
        let mut by_site: HashMap<Site, usize> = HashMap::new();
        for shard in self.shared.shards.iter() {
            for e in lock(shard).live.values() {
                *by_site.entry(e.site).or_default() += 1;
            }
        }
        let mut sites: Vec<_> = by_site.into_iter().collect();
        sites.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| site_key(a.0).cmp(&site_key(b.0)))
        });
        sites
    }
}

/// `file:line:column`, the way every report prints a site (paths shortened by
/// [`short_path`]).
pub fn site_string(site: Site) -> String {
    format!(
        "{}:{}:{}",
        short_path(site.file()),
        site.line(),
        site.column()
    )
}

/// Shortens a source path for humans: a dependency's path starts at its crate
/// (`tokio-1.54.1/src/...`), the standard library's at `rust/library/...`, and this
/// workspace's files are relative to its root (`leaky-server/src/sum.rs`).
pub fn short_path(path: &str) -> &str {
    for marker in ["/.cargo/registry/src/", "/.cargo/git/checkouts/"] {
        if let Some(at) = path.find(marker) {
            let rest = &path[at + marker.len()..];
            // Skip the registry's own folder (`index.crates.io-<hash>/`).
            return rest.split_once('/').map_or(rest, |(_, krate)| krate);
        }
    }
    if let Some(rest) = path.strip_prefix("/rustc/") {
        return rest.find("/library/").map_or(path, |at| &rest[at + 1..]);
    }
    // The workspace this crate was built in: the parent of leak-probe's own folder.
    let workspace = env!("CARGO_MANIFEST_DIR")
        .rsplit_once('/')
        .map_or("", |(parent, _)| parent);
    if !workspace.is_empty()
        && let Some(rest) = path.strip_prefix(workspace)
    {
        return rest.trim_start_matches('/');
    }
    path
}

fn site_key(site: Site) -> (&'static str, u32, u32) {
    (site.file(), site.line(), site.column())
}

/// Task ids are already unique numbers: hashing them again is wasted work on the spawn path.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdHash = BuildHasherDefault<IdHasher>;

thread_local! {
    /// The registry of the runtime whose worker (or blocking) thread this is: set by the
    /// runtime's `on_thread_start` hook ([`crate::runtime::instrument`]). Such a thread
    /// belongs to that runtime for its whole life, and cannot enter another one.
    static THREAD_REGISTRY: std::cell::RefCell<Option<Arc<Registry>>> =
        const { std::cell::RefCell::new(None) };
}

/// Marks the current thread as one of `registry`'s runtime (`on_thread_start`).
#[cfg_attr(not(tokio_unstable), allow(dead_code))]
pub(crate) fn set_thread_registry(registry: Option<Arc<Registry>>) {
    THREAD_REGISTRY.with(|r| *r.borrow_mut() = registry);
}

/// Runs `f` on the registry of the runtime this code runs on, without cloning it: on
/// the runtime's own threads one thread-local read, and no shared counter touched (the
/// hot path: every marked await that waits). `None` if there is no registry.
pub fn with_current<R>(f: impl FnOnce(&Registry) -> R) -> Option<R> {
    let mut f = Some(f);
    let on_worker = THREAD_REGISTRY.with(|r| {
        r.borrow()
            .as_deref()
            .map(|registry| (f.take().expect("called once"))(registry))
    });
    match on_worker {
        Some(result) => Some(result),
        None => for_current_runtime().map(|registry| (f.take().expect("called once"))(&registry)),
    }
}

/// The registry of the runtime this code runs on, if that runtime was built with
/// [`crate::runtime::instrument`] (and the build has `--cfg tokio_unstable`).
pub fn for_current_runtime() -> Option<Arc<Registry>> {
    #[cfg(tokio_unstable)]
    {
        use std::cell::RefCell;
        use std::sync::Weak;
        thread_local! {
            static CACHED: RefCell<Option<(tokio::runtime::Id, Weak<Registry>)>> =
                const { RefCell::new(None) };
        }
        let id = tokio::runtime::Handle::try_current().ok()?.id();
        CACHED.with(|cached| {
            if let Some((cached_id, registry)) = &*cached.borrow()
                && *cached_id == id
                && let Some(registry) = registry.upgrade()
            {
                return Some(registry);
            }
            let registry = by_runtime::get(id)?;
            *cached.borrow_mut() = Some((id, Arc::downgrade(&registry)));
            Some(registry)
        })
    }
    #[cfg(not(tokio_unstable))]
    {
        None
    }
}

/// Registries by runtime id. Each runtime has its own hooks, so parallel tests (each on its
/// own runtime) never see each other's tasks.
#[cfg(tokio_unstable)]
pub(crate) mod by_runtime {
    use super::Registry;
    use std::sync::{Arc, Mutex, PoisonError, Weak};
    use tokio::runtime::Id;

    static REGISTRIES: Mutex<Vec<(Id, Weak<Registry>)>> = Mutex::new(Vec::new());

    pub(crate) fn insert(id: Id, registry: &Arc<Registry>) {
        let mut all = REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner);
        // Runtimes come and go (one per test): drop the entries of dead ones.
        all.retain(|(_, weak)| weak.strong_count() > 0);
        all.push((id, Arc::downgrade(registry)));
    }

    pub(crate) fn get(id: Id) -> Option<Arc<Registry>> {
        let all = REGISTRIES.lock().unwrap_or_else(PoisonError::into_inner);
        all.iter()
            .rev()
            .find(|(rt, _)| *rt == id)
            .and_then(|(_, weak)| weak.upgrade())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_and_go_with_their_tasks() {
        let registry = Registry::new();
        let here = Location::caller();
        for id in 1..=1000 {
            registry.on_spawn(id, here, None);
        }
        assert_eq!(registry.len(), 1000);
        assert_eq!(registry.spawned_total(), 1000);
        for id in 1..=999 {
            registry.on_terminate(id);
        }
        // An id the registry never saw (a spawn_blocking task) is ignored.
        registry.on_terminate(123_456);
        assert_eq!(registry.len(), 1);
        assert_eq!(registry.get(1000).map(|t| t.site), Some(here));
        assert_eq!(registry.count_by_site(), vec![(here, 1)]);
        assert_eq!(registry.spawned_total(), 1000);
    }

    #[test]
    fn every_shard_is_used() {
        // The shard index takes the hash's top bits: with ids 1..=10 000 every shard gets
        // some, whatever SHARDS is.
        let registry = Registry::new();
        let here = Location::caller();
        for id in 1..=10_000 {
            registry.on_spawn(id, here, Some(1));
        }
        registry.shared.flush_all();
        let used = registry
            .shared
            .shards
            .iter()
            .filter(|s| !s.lock().unwrap().live.is_empty())
            .count();
        assert_eq!(used, SHARDS);
        assert_eq!(registry.get(5).and_then(|t| t.parent), Some(1));
    }

    #[test]
    fn await_points_are_listed_innermost_first_and_cleared_by_their_owner() {
        let registry = Registry::new();
        let (spawn, outer, inner) = (Location::caller(), Location::caller(), Location::caller());
        registry.on_spawn(7, spawn, None);
        assert!(registry.set_await(7, 1, inner));
        assert!(registry.set_await(7, 0, outer));
        assert!(!registry.set_await(7, AWAIT_DEPTH, inner), "too deep");
        assert!(!registry.set_await(8, 0, inner), "unknown task");
        let info = registry.get(7).unwrap();
        assert_eq!(info.waiting_at().collect::<Vec<_>>(), vec![inner, outer]);
        // Only the point recorded at a depth clears it.
        registry.clear_await(7, 1, outer);
        assert_eq!(registry.get(7).unwrap().waiting_at().count(), 2);
        registry.clear_await(7, 1, inner);
        assert_eq!(
            registry.get(7).unwrap().waiting_at().collect::<Vec<_>>(),
            vec![outer]
        );
    }

    #[test]
    fn paths_are_shortened_for_humans() {
        assert_eq!(
            short_path(
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/sync/notify.rs"
            ),
            "tokio-1.54.1/src/sync/notify.rs"
        );
        assert_eq!(
            short_path(
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/future/mod.rs"
            ),
            "library/core/src/future/mod.rs"
        );
        let here = concat!(env!("CARGO_MANIFEST_DIR"), "/src/registry.rs");
        assert_eq!(short_path(here), "leak-probe/src/registry.rs");
        assert_eq!(
            short_path("leaky-server/src/sum.rs"),
            "leaky-server/src/sum.rs"
        );
    }
}

#[cfg(test)]
mod buffered {
    use super::*;

    /// Threads that spawn, end each other's tasks, and end tasks never spawned through
    /// the hook (spawn_blocking) leave exactly the tasks still alive in the registry.
    #[test]
    fn cross_thread_spawns_and_ends_leave_exactly_the_live_tasks() {
        let registry = Arc::new(Registry::new());
        let site = Location::caller();
        let threads = 4u64;
        let per_thread = 5_000u64;
        // Thread t spawns ids t, t+threads, ...; it ends half of its own right away and
        // leaves the other half for the next thread to end.
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u64>>();
        let mut handles = Vec::new();
        for t in 0..threads {
            let registry = Arc::clone(&registry);
            let tx = tx.clone();
            handles.push(std::thread::spawn(move || {
                let mut handed_over = Vec::new();
                for i in 0..per_thread {
                    let id = 1 + t + i * threads;
                    registry.on_spawn(id, site, None);
                    if i % 2 == 0 {
                        registry.on_terminate(id);
                    } else {
                        handed_over.push(id);
                    }
                    // An id nobody spawned (a spawn_blocking task ending).
                    registry.on_terminate(10_000_000 + id);
                }
                tx.send(handed_over).unwrap();
            }));
        }
        drop(tx);
        let handed: Vec<Vec<u64>> = rx.iter().collect();
        for h in handles {
            h.join().unwrap();
        }
        // End all but the last 10 of each hand-over, on threads of their own.
        let mut enders = Vec::new();
        let mut alive = Vec::new();
        for ids in handed {
            let (end, keep) = ids.split_at(ids.len() - 10);
            alive.extend_from_slice(keep);
            let (registry, end) = (Arc::clone(&registry), end.to_vec());
            enders.push(std::thread::spawn(move || {
                for id in end {
                    registry.on_terminate(id);
                }
            }));
        }
        for e in enders {
            e.join().unwrap();
        }
        let mut live: Vec<u64> = registry.snapshot().iter().map(|t| t.id).collect();
        live.sort_unstable();
        alive.sort_unstable();
        assert_eq!(live, alive);
        assert_eq!(registry.spawned_total(), threads * per_thread);
    }

    /// A task spawned on one thread and still in that thread's buffer can be marked as
    /// waiting, and ended, from another thread.
    #[test]
    fn a_task_pending_in_another_threads_buffer_is_found() {
        let registry = Arc::new(Registry::new());
        let (site, point) = (Location::caller(), Location::caller());
        let spawner = std::thread::spawn({
            let registry = Arc::clone(&registry);
            move || {
                registry.on_spawn(42, site, None);
                // Keep the thread (and its buffer) alive until told.
                std::thread::park();
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(registry.set_await(42, 0, point));
        assert_eq!(registry.get(42).unwrap().waiting_at().count(), 1);
        registry.on_terminate(42);
        assert!(registry.snapshot().is_empty());
        spawner.thread().unpark();
        spawner.join().unwrap();
        assert!(registry.snapshot().is_empty());
    }
}
