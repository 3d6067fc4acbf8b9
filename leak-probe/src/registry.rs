//! The task registry: for every live task, *where* it was spawned and *when*.
//!
//! A tokio task dump tells you what each task is waiting on, but not where it came from or
//! how long it has been alive. The runtime's spawn and terminate hooks do know that, so the
//! registry listens to them and keeps one small entry per live task:
//!
//! ```text
//! task id ──► (spawn site: &'static Location, spawn time: Instant)
//! ```
//!
//! Everything that names a spawn site (`/_stack`, `/_tasks`, the per-site gauge in
//! `/metrics`, the leak check's report) reads it from here.
//!
//! # Cost
//!
//! Every `tokio::spawn` pays for one `Instant::now()` and one insert into a sharded map, and
//! every task end for one remove. Shards keep the two worker threads off each other's locks.
//! The figure is measured by the `registry_cost` test and the benches; it is small enough to
//! leave on in production, which is the point: the leak you are hunting already happened.
//!
//! # Without `--cfg tokio_unstable`
//!
//! The hooks are an unstable tokio API. Without the flag [`for_current_runtime`] always
//! returns `None` and callers fall back to the bare count.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A spawn site: the `file:line:column` of the `tokio::spawn` call (or of the innermost
/// `#[track_caller]` function above it).
pub type Site = &'static Location<'static>;

/// Number of independently locked shards. A power of two, so picking one is a shift.
const SHARDS: usize = 64;

/// One live task as the registry knows it.
#[derive(Debug, Clone, Copy)]
pub struct TaskInfo {
    /// tokio's id for the task, as a number (the same one a task dump shows).
    pub id: u64,
    /// Where it was spawned.
    pub site: Site,
    /// When it was spawned.
    pub spawned_at: Instant,
}

impl TaskInfo {
    /// How long the task has been alive, at `now`.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.spawned_at)
    }
}

#[derive(Clone, Copy)]
struct Entry {
    site: Site,
    spawned_at: Instant,
}

/// Live tasks of one runtime, by id.
///
/// Created by [`crate::runtime::instrument`], which wires it to the runtime's hooks; read
/// by everything else through [`for_current_runtime`].
pub struct Registry {
    shards: Box<[Mutex<HashMap<u64, Entry, IdHash>>]>,
    spawned: AtomicU64,
    /// Set while a task dump of this runtime runs (see `report::capture_traces`).
    pub(crate) dumping: std::sync::atomic::AtomicBool,
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
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            spawned: AtomicU64::new(0),
            dumping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn shard(&self, id: u64) -> MutexGuard<'_, HashMap<u64, Entry, IdHash>> {
        // Task ids are sequential; a multiplicative hash spreads neighbours over shards.
        let index = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SHARDS;
        // A panic while holding a shard lock cannot leave a half-written entry behind, so
        // a poisoned lock is still safe to use.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by the spawn hook: remember where and when task `id` started.
    pub fn on_spawn(&self, id: u64, site: Site) {
        let entry = Entry {
            site,
            spawned_at: Instant::now(),
        };
        self.shard(id).insert(id, entry);
        self.spawned.fetch_add(1, Ordering::Relaxed);
    }

    /// Called by the terminate hook: forget task `id`.
    ///
    /// The hook also fires for `spawn_blocking` work and worker threads, which never went
    /// through `on_spawn`; removing an unknown id does nothing.
    pub fn on_terminate(&self, id: u64) {
        self.shard(id).remove(&id);
    }

    /// Number of live tasks the registry knows about.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether no task is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks spawned since the registry was attached (a counter; never goes down).
    pub fn spawned_total(&self) -> u64 {
        self.spawned.load(Ordering::Relaxed)
    }

    /// The spawn site and spawn time of one task, if it is alive.
    pub fn get(&self, id: u64) -> Option<TaskInfo> {
        self.shard(id).get(&id).map(|e| TaskInfo {
            id,
            site: e.site,
            spawned_at: e.spawned_at,
        })
    }

    /// A copy of every live entry. Locks one shard at a time, so spawning goes on
    /// meanwhile; no runtime pause is involved.
    pub fn snapshot(&self) -> Vec<TaskInfo> {
        let mut out = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            out.extend(shard.iter().map(|(&id, e)| TaskInfo {
                id,
                site: e.site,
                spawned_at: e.spawned_at,
            }));
        }
        out
    }

    /// Live tasks per spawn site, most tasks first: `(site, count)`.
    pub fn count_by_site(&self) -> Vec<(Site, usize)> {
        let mut by_site: HashMap<Site, usize> = HashMap::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            for e in shard.values() {
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
    if !workspace.is_empty() {
        if let Some(rest) = path.strip_prefix(workspace) {
            return rest.trim_start_matches('/');
        }
    }
    path
}

/// Applies [`short_path`] to every `at /path/file.rs:line:col` of a trace.
pub fn shorten_trace(trace: &str) -> String {
    let mut out = String::with_capacity(trace.len());
    for line in trace.lines() {
        match line.rsplit_once(" at ") {
            Some((head, path)) => {
                out.push_str(head);
                out.push_str(" at ");
                out.push_str(short_path(path));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
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

/// The registry of the runtime this code runs on, if that runtime was built with
/// [`crate::runtime::instrument`] (and the build has `--cfg tokio_unstable`).
pub fn for_current_runtime() -> Option<Arc<Registry>> {
    #[cfg(tokio_unstable)]
    {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        by_runtime::get(handle.id())
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
            registry.on_spawn(id, here);
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
        assert_eq!(
            shorten_trace("╼ f at /rustc/abc/library/core/x.rs:1:2\n  └╼ g at y.rs:3:4"),
            "╼ f at library/core/x.rs:1:2\n  └╼ g at y.rs:3:4\n"
        );
    }
}
