//! The fixed bus: a subscription owns its forwarder and aborts it when dropped.

use tokio::sync::{broadcast, mpsc};
use tokio_util::task::AbortOnDropHandle;

/// A message bus.
#[derive(Debug)]
pub struct Bus {
    tx: broadcast::Sender<String>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    /// A bus with no subscribers.
    pub fn new() -> Bus {
        Bus {
            tx: broadcast::Sender::new(64),
        }
    }

    /// Sends `message` to every subscription whose prefix matches.
    pub fn publish(&self, message: &str) {
        let _ = self.tx.send(message.to_owned());
    }

    /// Messages starting with `prefix`, from now on.
    pub fn subscribe(&self, prefix: &str) -> Subscription {
        let mut bus = self.tx.subscribe();
        let (tx, rx) = mpsc::channel(16);
        let prefix = prefix.to_owned();
        let forwarder = tokio::spawn(async move {
            loop {
                match bus.recv().await {
                    Ok(message) if message.starts_with(&prefix) => {
                        if tx.send(message).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Subscription {
            rx,
            _forwarder: AbortOnDropHandle::new(forwarder),
        }
    }
}

/// Messages of one subscription. Dropping it stops its forwarder.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<String>,
    _forwarder: AbortOnDropHandle<()>,
}

impl Subscription {
    /// The next matching message.
    pub async fn next(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}
