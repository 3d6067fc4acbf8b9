//! Building a runtime that knows where its tasks come from.
//!
//! `#[tokio::main]` cannot install runtime hooks, so the servers build their runtime by
//! hand:
//!
//! ```
//! let runtime = leak_probe::runtime::build(tokio::runtime::Builder::new_multi_thread())?;
//! runtime.block_on(async {
//!     tokio::spawn(async {}).await.unwrap();
//!     // `/_count`, `/_stack`, ... now work on this runtime.
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Without `--cfg tokio_unstable` the hooks do not exist; [`build`] then builds a plain
//! runtime and everything falls back to the bare task count.

use std::hash::{Hash, Hasher};
use std::io;
use std::sync::Arc;

use tokio::runtime::{Builder, Runtime};

use crate::registry::Registry;

/// Enables I/O and time on `builder`, installs the registry hooks (when the build allows
/// them) and builds the runtime.
pub fn build(mut builder: Builder) -> io::Result<Runtime> {
    builder.enable_all();
    let registry = instrument(&mut builder);
    let runtime = builder.build()?;
    attach(&runtime, registry);
    Ok(runtime)
}

/// Installs the hooks that feed a fresh [`Registry`] on `builder`: task spawn and
/// terminate, and thread start and stop (so each of the runtime's threads can find the
/// registry without a lookup).
///
/// Call [`attach`] on the built runtime so [`crate::registry::for_current_runtime`] finds
/// the registry from other threads too. (A runtime has one hook of each kind: this
/// replaces any earlier `on_task_spawn`, `on_task_terminate`, `on_thread_start` or
/// `on_thread_stop`.)
pub fn instrument(builder: &mut Builder) -> Option<Arc<Registry>> {
    #[cfg(tokio_unstable)]
    {
        let registry = Arc::new(Registry::new());
        let on_spawn = Arc::clone(&registry);
        let on_terminate = Arc::clone(&registry);
        let on_thread = Arc::clone(&registry);
        builder
            // Each of the runtime's threads knows its registry, so the hot paths find it
            // with a thread-local read (see `registry::with_current`).
            .on_thread_start(move || {
                crate::registry::set_thread_registry(Some(Arc::clone(&on_thread)));
            })
            .on_thread_stop(|| crate::registry::set_thread_registry(None))
            .on_task_spawn(move |meta| {
                // The hook runs inside `spawn`, so the current task (if any) is the parent.
                let parent = tokio::task::try_id().map(task_id);
                on_spawn.on_spawn(task_id(meta.id()), meta.spawned_at(), parent);
            })
            .on_task_terminate(move |meta| on_terminate.on_terminate(task_id(meta.id())));
        Some(registry)
    }
    #[cfg(not(tokio_unstable))]
    {
        let _ = builder;
        None
    }
}

/// Makes `registry` the one [`crate::registry::for_current_runtime`] returns on `runtime`.
pub fn attach(runtime: &Runtime, registry: Option<Arc<Registry>>) {
    #[cfg(tokio_unstable)]
    if let Some(registry) = registry {
        crate::registry::by_runtime::insert(runtime.handle().id(), &registry);
    }
    #[cfg(not(tokio_unstable))]
    let _ = (runtime, registry);
}

/// tokio's task id as a plain number (the one `Display` prints and dumps show).
///
/// `Id` has no public accessor, but it hashes as exactly one `u64`.
pub fn task_id(id: tokio::task::Id) -> u64 {
    #[derive(Default)]
    struct Capture(u64);
    impl Hasher for Capture {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, _: &[u8]) {}
        fn write_u64(&mut self, n: u64) {
            self.0 = n;
        }
    }
    let mut capture = Capture::default();
    id.hash(&mut capture);
    capture.0
}

/// Whether this build can record spawn sites (it has `--cfg tokio_unstable`).
pub const HAS_REGISTRY: bool = cfg!(tokio_unstable);

/// Whether this build can take task dumps (`tokio_unstable`, Linux, tokio's `taskdump`).
pub const HAS_TASK_DUMPS: bool = cfg!(taskdump);

/// What to tell a user whose build lacks the unstable features.
pub const HOW_TO_ENABLE: &str = "build with RUSTFLAGS=\"--cfg tokio_unstable\" (the workspace's \
.cargo/config.toml sets it, but a RUSTFLAGS environment variable replaces that setting) and \
tokio's `taskdump` feature on Linux";

#[cfg(test)]
mod tests {
    #[test]
    fn task_id_matches_display() {
        let rt = super::build(tokio::runtime::Builder::new_current_thread()).unwrap();
        rt.block_on(async {
            let handle = tokio::spawn(async {});
            let id = handle.id();
            assert_eq!(super::task_id(id).to_string(), id.to_string());
            handle.await.unwrap();
        });
    }
}
