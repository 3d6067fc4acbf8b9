//! `GoChan`: Go's unbuffered `chan T` in tokio, the shape leaky-server's sum handler keeps.
//!
//! LEAK(L1) lives here as much as in `sum.rs`: a Go channel is *one* value both sides
//! use, and nothing closes it when one side goes away. A tokio channel has two ends and
//! closes when either is dropped, which is why the literal port of the blog's handler does
//! not leak (`tests/literal_port.rs`). `GoChan` keeps Go's semantics on purpose, so the
//! blog's leak can happen here too. fixed-server has no `GoChan`: its sum handler uses tokio's
//! own `oneshot` channels (FIX(L1)).

use tokio::sync::Notify;

// ANCHOR: go_chan_struct
/// Go's `chan T`: one value for both ends, and a send that waits until it is received.
///
/// Built on a slot and a [`Notify`] rather than on a tokio channel: a tokio channel
/// *closes* when one end is dropped, and Go's channels never do. A `Notify` has no
/// "other side is gone" state either, so a sender nobody receives from waits for ever,
/// exactly as in Go.
pub struct GoChan<T> {
    state: std::sync::Mutex<Slot<T>>,
    /// Notified (all waiters) whenever the slot changes; each waiter looks again.
    changed: Notify,
}
// ANCHOR_END: go_chan_struct

struct Slot<T> {
    value: Option<T>,
    /// How many values were received so far.
    received: u64,
}

impl<T> GoChan<T> {
    /// `make(chan T)`.
    pub fn new() -> Self {
        GoChan {
            state: std::sync::Mutex::new(Slot {
                value: None,
                received: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot<T>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `c <- value`: returns once a receiver has taken the value.
    ///
    /// First it waits for the slot to be free, then for its value to be taken. Each wait's
    /// `Notified` is created *before* looking at the slot: `notify_waiters` wakes it even
    /// though it is not polled yet, so no wake-up slips in between. (A hand-written future
    /// rather than an `async fn`: a leaked sender keeps this future for ever, and the
    /// compiler's version of it is half again as big.)
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send {
            chan: self,
            value: Some(value),
            ticket: 0,
            changed: self.changed.notified(),
        }
    }

    /// `<-c`.
    pub async fn recv(&self) -> T {
        loop {
            let changed = self.changed.notified();
            {
                let mut slot = self.lock();
                if let Some(value) = slot.value.take() {
                    slot.received += 1;
                    self.changed.notify_waiters();
                    return value;
                }
            }
            changed.await;
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`GoChan::send`].
    pub struct Send<'a, T> {
        chan: &'a GoChan<T>,
        // The value, until it is in the slot.
        value: Option<T>,
        // How many values must have been received for ours to be among them.
        ticket: u64,
        #[pin]
        changed: tokio::sync::futures::Notified<'a>,
    }
}

impl<T> std::future::Future for Send<'_, T> {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut this = self.project();
        loop {
            {
                let mut slot = this.chan.lock();
                if let Some(v) = this.value.take() {
                    if slot.value.is_none() {
                        slot.value = Some(v);
                        *this.ticket = slot.received + 1;
                        this.chan.changed.notify_waiters();
                    } else {
                        *this.value = Some(v);
                    }
                } else if slot.received >= *this.ticket {
                    return std::task::Poll::Ready(());
                }
            }
            std::task::ready!(this.changed.as_mut().poll(cx));
            // Woken: a fresh `Notified` before looking at the slot again.
            this.changed.set(this.chan.changed.notified());
        }
    }
}

impl<T> Default for GoChan<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::GoChan;
    use std::sync::Arc;
    use std::time::Duration;

    /// Like Go's unbuffered channel: a send returns only once its value is received, and
    /// values from several senders all arrive.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn go_chan_is_a_rendezvous() {
        let c = Arc::new(GoChan::new());
        let sender = tokio::spawn({
            let c = Arc::clone(&c);
            async move { c.send(1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sender.is_finished(), "a send waits for a receiver");
        assert_eq!(c.recv().await, 1);
        sender.await.unwrap();

        let senders: Vec<_> = (0..10)
            .map(|i| {
                let c = Arc::clone(&c);
                tokio::spawn(async move { c.send(i).await })
            })
            .collect();
        let mut got: Vec<i32> = Vec::new();
        for _ in 0..10 {
            got.push(c.recv().await);
        }
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        for s in senders {
            s.await.unwrap();
        }
    }
}
